#!/usr/bin/env bash
# Instructions per HIT, counted by callgrind: a figure the machine's noise
# does not move, for comparing two builds of the hit path.
#
#   scripts/hit_instructions.sh BINARY [BINARY...]
#
# For each binary: one daemon under `valgrind --tool=callgrind` that only
# starts, warms a 2 KiB page and stops, and one that does the same plus
# `wrk -t1 -c4 -d10s` on that page. (load Ir - idle Ir) / wrk's requests
# is the cost of one HIT, kernel excluded. Needs valgrind, wrk, python3.
# Everything listens on 127.0.0.1 and is stopped by pid. With KEEP=DIR the
# callgrind files are kept there (for callgrind_annotate), one per binary;
# SERVER_EXTRA adds lines to [server] (e.g. 'access_log = true'),
# CACHE_EXTRA to [cache] (e.g. 'compress = false'); ACCEPT_ENCODING is sent
# by wrk (e.g. 'gzip, deflate, br' for the brotli variant); RUST_LOG is the
# daemon's filter (default warn); PAGE_KIB the page's size (default 2).
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 BINARY [BINARY...]" >&2; exit 2; }
for tool in valgrind wrk python3 curl; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is missing" >&2; exit 2; }
done

dir=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

mkdir -p "$dir/www"
head -c $(( ${PAGE_KIB:-2} * 1024 )) /dev/zero | tr '\0' 'x' > "$dir/www/page.html"
up=$(free_port)
python3 -m http.server "$up" --bind 127.0.0.1 -d "$dir/www" >/dev/null 2>&1 &
pids+=($!)

# Total Ir of one daemon run; with "load", wrk's request count after it.
run() {
  local bin=$1 phase=$2 port admin out
  port=$(free_port)
  admin=$(free_port)
  out="$dir/cg.$phase.out"
  rm -rf "$dir/cache" "$out"
  cat > "$dir/p.toml" <<EOF
[server]
listen = "127.0.0.1:$port"
admin_listen = "127.0.0.1:$admin"
${SERVER_EXTRA:-}
[upstream]
url = "http://127.0.0.1:$up"
[cache]
dir = "$dir/cache"
${CACHE_EXTRA:-}
EOF
  RUST_LOG=${RUST_LOG:-warn} valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$bin" --config "$dir/p.toml" 2>"$dir/daemon.log" &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 600); do
    curl -sf -o /dev/null "http://127.0.0.1:$admin/_preloadd/health" && break
    sleep 0.1
  done
  curl -sf -o /dev/null "http://127.0.0.1:$port/_preload/page.html"
  curl -sf -o /dev/null "http://127.0.0.1:$port/_preload/page.html"
  local requests=0
  if [ "$phase" = load ]; then
    local ae=()
    [ -n "${ACCEPT_ENCODING:-}" ] && ae=(-H "Accept-Encoding: $ACCEPT_ENCODING")
    requests=$(wrk -t1 -c4 -d10s "${ae[@]}" "http://127.0.0.1:$port/_preload/page.html" |
      awk '/requests in/ {print $1}')
  fi
  kill -TERM "$pid"
  wait "$pid" || true
  local ir
  ir=$(awk '/^summary:/ {print $2}' "$out")
  echo "$ir $requests"
}

for bin in "$@"; do
  read -r idle _ < <(run "$bin" idle)
  read -r load requests < <(run "$bin" load)
  echo "$bin: $(( (load - idle) / requests )) instructions per HIT ($requests requests)"
  if [ -n "${KEEP:-}" ]; then
    mkdir -p "$KEEP"
    cp "$dir/cg.load.out" "$KEEP/$(basename "$bin").load.out"
    cp "$dir/cg.idle.out" "$KEEP/$(basename "$bin").idle.out"
  fi
done
