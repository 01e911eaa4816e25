#!/usr/bin/env bash
# How preloadd's cost grows with the number of snapshots it holds.
#
#   bench/scale.sh --preloadd CMD [--snapshots N] [--sample K] [--crash] [--out FILE] [--keep]
#
# Fills an empty cache with N one-line pages (GET /_preload/p/0 .. p/N-1, 32
# connections, from an nginx upstream that logs every request), then measures:
# memory (RSS) empty and full, the restart (SIGTERM, start again, time until a
# random old page answers 200), memory after the restart, a sample of K random
# old pages right after it (every one must be a HIT, with 0 upstream requests),
# and the bytes on disk per snapshot. [cache] memory = "0" so that RSS counts
# the index, not bodies. Defaults: N = 100000, K = 2000. --crash stops the
# daemon with kill -9 instead of SIGTERM: the start after a crash, when no
# clean-shutdown state was written.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
N=${SNAPSHOTS:-100000}
K=${SAMPLE:-2000}
PRELOADD_CMD=${PRELOADD_CMD:-${PRELOADD_BIN:-}}
OUT=""
KEEP=0
CRASH=0
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}

usage() { sed -n '2,12s/^# \{0,1\}//p' "$0"; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case $1 in
    --preloadd) PRELOADD_CMD=$2; shift 2 ;;
    --snapshots) N=$2; shift 2 ;;
    --sample) K=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --crash) CRASH=1; shift ;;
    -h | --help) usage 0 ;;
    *) echo "scale.sh: unknown argument $1" >&2; usage 2 ;;
  esac
done
[ -n "$PRELOADD_CMD" ] || { echo "scale.sh: give --preloadd CMD (run as: CMD --config FILE)" >&2; exit 2; }

# shellcheck source=lib.sh
. "$HERE/lib.sh"
need nginx nginx; need python3 python3; need taskset util-linux; need pgrep procps

WORK=$(mktemp -d "${TMPDIR:-/tmp}/preloadd-scale.XXXXXX")
cleanup() {
  stop_all
  if [ "$KEEP" = 1 ]; then log "state kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
upstream_requests() { wc -l <"$WORK/upstream/access.log"; }

# --- the upstream: nginx answering every path with a one-line page, each request logged
up=$(free_port)
mkdir -p "$WORK/upstream"
SERVER_CPU=$LOAD_CPU start_nginx upstream "$up" "access_log $WORK/upstream/access.log;
    location / { default_type text/html; return 200 \"<p>page \$uri</p>\\n\"; }"

# --- preloadd
port=$(free_port)
admin=$(free_port)
mkdir -p "$WORK/preloadd/cache"
write_preloadd_config "$WORK/preloadd/preload.toml" "$port" "$admin" "$up" "$WORK/preloadd/cache"
cat >>"$WORK/preloadd/preload.toml" <<TOML
max_size = "1000GiB"
memory = "0"
compress = false
TOML
start_scale_preloadd() { # NAME
  spawn "$1" env RUST_LOG="${RUST_LOG:-warn}" taskset -c "$SERVER_CPU" \
    bash -c "exec $PRELOADD_CMD --config \"\$0\"" "$WORK/preloadd/preload.toml"
  DAEMON_PID=$LAST_PID
}

start_scale_preloadd preloadd-1
wait_port "$port" preloadd-1
first=$(python3 "$HERE/fill.py" first 127.0.0.1 "$port" /_preload/warmup 30) || die "preloadd does not answer: $first"
rss_empty=$(rss_kib "$DAEMON_PID")

log "filling $N snapshots"
fill=$(taskset -c "$LOAD_CPU" python3 "$HERE/fill.py" fill 127.0.0.1 "$port" /_preload/p/ "$N" 32)
log "fill: $fill"
fill_s=${fill%% *}
fill_errors=$(grep -o 'errors=[0-9]*' <<<"$fill" | cut -d= -f2)
kept=$(grep -o '200/MISS=[0-9]*' <<<"$fill" | cut -d= -f2)
sleep 1
rss_full=$(rss_kib "$DAEMON_PID")
disk_bytes=$(du -sb "$WORK/preloadd/cache" | cut -f1)
disk_alloc=$(du -s --block-size=1 "$WORK/preloadd/cache" | cut -f1)
files=$(find "$WORK/preloadd/cache" -type f | wc -l)

t_stop=$(date +%s.%N)
if [ "$CRASH" = 1 ]; then
  log "restarting after kill -9"
  kill -9 "$DAEMON_PID"
  while kill -0 "$DAEMON_PID" 2>/dev/null; do sleep 0.05; done
  stop_how="kill -9"
else
  log "restarting"
  stop_pid "$DAEMON_PID"
  stop_how="SIGTERM"
fi
stop_s=$(python3 -c "import time; print(f'{time.time() - $t_stop:.3f}')")
probe=p/$((N / 2 + 7))
t_start=$(date +%s.%N)
start_scale_preloadd preloadd-2
start=$(python3 "$HERE/fill.py" first 127.0.0.1 "$port" "/_preload/$probe" 600 "$t_start")
start_s=${start%% *}
start_result=${start##* }
before=$(upstream_requests)
sample=$(taskset -c "$LOAD_CPU" python3 "$HERE/fill.py" sample 127.0.0.1 "$port" /_preload/p/ "$N" "$K" 7)
sample_upstream=$(($(upstream_requests) - before))
sample_hits=$(grep -o '200/HIT=[0-9]*' <<<"$sample" | cut -d= -f2)
sleep 1
rss_restart=$(rss_kib "$DAEMON_PID")

per() { python3 -c "n = $2; print(f'{$1 / n:.0f}' if n else '-')"; }
table=$(cat <<EOF
## preloadd scale, $(date -u '+%Y-%m-%d %H:%M UTC'), $N snapshots

| figure | value |
|---|---|
| fill: snapshots kept (MISS) / requests without answer | ${kept:-0} / ${fill_errors:-?} |
| fill rate (snapshots per second, 32 connections) | $(python3 -c "print(f'{${kept:-0} / $fill_s:.0f}')") |
| RSS empty / full / after restart and sample | $((rss_empty / 1024)) / $((rss_full / 1024)) / $((rss_restart / 1024)) MiB |
| index bytes per snapshot, full (RSS full - empty) / N | $(per "($rss_full - $rss_empty) * 1024" "$N") |
| index bytes per snapshot, after restart (RSS - empty) / N | $(per "($rss_restart - $rss_empty) * 1024" "$N") |
| stop on $stop_how | ${stop_s} s |
| start (after $stop_how) until an old page answers 200 | ${start_s} s (${start_result}) |
| sample of $K old pages after restart: HIT / upstream requests | ${sample_hits:-0} / $sample_upstream |
| disk per snapshot: bytes written / bytes allocated / files | $(per "$disk_bytes" "$N") / $(per "$disk_alloc" "$N") / $files |

Machine: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(uname -r). preloadd on CPU $SERVER_CPU, upstream and client on CPU $LOAD_CPU.
fill: $fill
sample: $sample
EOF
)
echo "$table"
[ -n "$OUT" ] && echo "$table" >"$OUT"
exit 0
