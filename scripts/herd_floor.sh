#!/usr/bin/env bash
# The herd probe's floor beside preloadd: `bench/cold.py herd` (200
# concurrent GETs of one cold page) against `limit-server --mode herd` (a
# hyper server that answers every request of a herd 200 ms after the herd's
# first one: a cache with an instant app and no work of its own), and
# against preloadd in front of bench/upstream.py (200 ms delay), taking
# turns, ROUNDS times, each on a new page. Servers on CPU 0, the probe and
# the app on CPU 1, as in bench/run.sh.
#
# Usage: scripts/herd_floor.sh [target/release/preloadd]   (ROUNDS=8)
#   APP_CPU=0    the app on the daemon's CPU instead of the probe's
#   TIMELINE=1   each preloadd herd under `perf record` (system call
#                tracepoints of the daemon and the app), printed by
#                scripts/herd_timeline.py: when the request left the daemon,
#                when the app read it and answered, when the answers left
# Prints one line per probe: server, p50 − 200 ms, slowest − 200 ms, app
# requests, statuses, and for preloadd how long its one app fetch took
# (from its log: the app shares CPU 1 with the probe's 200 threads, and is
# late by however long it waits for that CPU); then the medians.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/target/release/preloadd}
rounds=${ROUNDS:-8}
app_cpu=${APP_CPU:-1}
timeline=${TIMELINE:-}
limit=$here/bench/limit-server/target/release/limit-server
(cd "$here/bench/limit-server" && cargo build --release -q)
# shellcheck source=scripts/run_lib.sh
. "$here/scripts/run_lib.sh"
needs taskset python3 curl
if [ -n "$timeline" ]; then needs perf; fi
wait_up() {
  for _ in $(seq 100); do curl -s -o /dev/null "$1" && return; sleep 0.05; done
  echo "$0: $1 does not answer" >&2; exit 1
}

mkdir -p "$dir/pages"
python3 -c "open('$dir/pages/page.html','w').write('<p>' + 'x' * 2044)"
floor=$(free_port) app=$(free_port) main=$(free_port) admin=$(free_port)
taskset -c 0 "$limit" "127.0.0.1:$floor" "$dir/pages" multi --mode herd --herd-ms 200 &
pids+=($!)
taskset -c "$app_cpu" python3 "$here/bench/upstream.py" "$app" "$dir/pages" --delay-ms 200 \
  --log "$dir/app.log" &
app_pid=$!
pids+=($app_pid)
cat > "$dir/p.toml" <<CONFIG
[server]
listen = "127.0.0.1:$main"
admin_listen = "127.0.0.1:$admin"
[upstream]
url = "http://127.0.0.1:$app"
[cache]
dir = "$dir/cache"
CONFIG
RUST_LOG=info taskset -c 0 "$bin" --config "$dir/p.toml" --log-format json 2>"$dir/daemon.log" &
daemon_pid=$!
pids+=($daemon_pid)
wait_up "http://127.0.0.1:$floor/"
wait_up "http://127.0.0.1:$admin/_preloadd/health"

probe() { # NAME URL HERD
  local before after result fetch=- perf_pid=
  before=$(wc -l <"$dir/app.log")
  if [ -n "$timeline" ] && [ "$1" = preloadd ]; then
    perf record -q -o "$dir/perf.data" -p "$daemon_pid,$app_pid" \
      -e syscalls:sys_exit_accept4,syscalls:sys_exit_recvfrom \
      -e syscalls:sys_enter_sendmsg,syscalls:sys_enter_writev,syscalls:sys_enter_sendto 2>/dev/null &
    perf_pid=$!
    sleep 1 # perf attaches
  fi
  result=$(timeout 120 taskset -c 1 python3 "$here/bench/cold.py" herd "$2" 200)
  after=$(wc -l <"$dir/app.log")
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid"
    wait "$perf_pid" || true
    perf script -i "$dir/perf.data" -F pid,tid,time,event,trace 2>/dev/null |
      python3 "$here/scripts/herd_timeline.py" "$daemon_pid" "$app_pid" | tee -a "$dir/timeline" >&2
  fi
  if [ "$1" = preloadd ]; then
    fetch=$(python3 -c 'import json, sys
for line in open(sys.argv[1]):
    f = json.loads(line).get("fields", {}) if line.startswith("{") else {}
    if f.get("message") == "upstream fetch" and f.get("target", "").endswith("herd=" + sys.argv[2]):
        print("%.0f" % float(f["ms"]))' "$dir/daemon.log" "$3")
  fi
  echo "$result" | awk -v n="$1" -v app=$((after - before)) -v fetch="$fetch" -F'\t' \
    '{ printf "%-9s %+6.0f %+6.0f  app %-3d %-8s fetch_ms %s\n", n, ($1 - 0.2) * 1000, ($2 - 0.2) * 1000, app, $3, fetch }'
}
{
  for i in $(seq "$rounds"); do
    probe floor "http://127.0.0.1:$floor/page.html?herd=$i" "$i"
    sleep 1
    probe preloadd "http://127.0.0.1:$main/_preload/page.html?herd=$i" "$i"
    sleep 1
  done
} | tee "$dir/rows"
touch "$dir/timeline"
python3 - "$dir/rows" "$dir/timeline" <<'SUMMARY'
import re, statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
for name in ("floor", "preloadd"):
    mine = [r for r in rows if r[0] == name]
    p50 = statistics.median(float(r[1]) for r in mine)
    slowest = statistics.median(float(r[2]) for r in mine)
    print(f"median of {len(mine)}: {name:9s} p50 {p50:+.0f} ms, slowest {slowest:+.0f} ms")
fetches = [float(r[-1]) for r in rows if r[0] == "preloadd" and r[-1] != "-"]
if fetches:
    print(f"preloadd's app fetch: median {statistics.median(fetches):.0f} ms, "
          f"{min(fetches):.0f} to {max(fetches):.0f} (the app answers after 200)")
lines = [dict(re.findall(r"(app_in|median) ([-+][\d.]+)", t)) for t in open(sys.argv[2])]
lines = [t for t in lines if len(t) == 2]
if lines:
    print(f"timeline, median of {len(lines)}: the app read the request "
          f"{statistics.median(float(t['app_in']) for t in lines):+.1f} ms after the herd's first accept; "
          f"the answers' median left {statistics.median(float(t['median']) for t in lines):+.1f} ms after the app's")
SUMMARY
