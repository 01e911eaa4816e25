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
# shellcheck source=scripts/callgrind_lib.sh
. "$(dirname "$0")/callgrind_lib.sh"
needs valgrind wrk python3 curl

mkdir -p "$dir/www"
head -c $(( ${PAGE_KIB:-2} * 1024 )) /dev/zero | tr '\0' 'x' > "$dir/www/page.html"
up=$(free_port)
python3 -m http.server "$up" --bind 127.0.0.1 -d "$dir/www" >/dev/null 2>&1 &
pids+=($!)

# Total Ir of one daemon run; with "load", wrk's request count after it.
run() {
  daemon_start "$1" "$2" "$up"
  curl -sf -o /dev/null "http://127.0.0.1:$port/_preload/page.html"
  curl -sf -o /dev/null "http://127.0.0.1:$port/_preload/page.html"
  local requests=0
  if [ "$2" = load ]; then
    local ae=()
    [ -n "${ACCEPT_ENCODING:-}" ] && ae=(-H "Accept-Encoding: $ACCEPT_ENCODING")
    requests=$(wrk -t1 -c4 -d10s "${ae[@]}" "http://127.0.0.1:$port/_preload/page.html" |
      awk '/requests in/ {print $1}')
  fi
  daemon_stop
  echo "$ir $requests"
}

for bin in "$@"; do
  read -r idle _ < <(run "$bin" idle)
  read -r load requests < <(run "$bin" load)
  echo "$bin: $(( (load - idle) / requests )) instructions per HIT ($requests requests)"
  keep_runs "$bin"
done
