#!/usr/bin/env bash
# Instructions per pass-through request, counted by callgrind: the figure of
# scripts/hit_instructions.sh for a request the daemon forwards to the app
# (not a preload request: no key, no store).
#
#   scripts/pass_instructions.sh BINARY [BINARY...]
#
# The app is nginx serving one page from a file (1 worker, keep-alive, no
# access log), as the harness's pass-through app is. For each binary: one
# daemon under `valgrind --tool=callgrind` that only starts, forwards one
# request and stops, and one that does the same plus `wrk -t1 -c4 -d10s` on
# `/page.html`. (load Ir - idle Ir) / wrk's requests is the daemon's cost of
# one forwarded request, kernel excluded. The app's accepted connections
# (stub_status) are printed too: a pooled proxy opens few. Needs valgrind,
# wrk, nginx, python3, curl. Everything listens on 127.0.0.1 and is stopped
# by pid. KEEP=DIR keeps the callgrind files; SERVER_EXTRA adds lines to
# [server]; RUST_LOG is the daemon's filter (default warn); PAGE_KIB the
# page's size (default 2); CONNS wrk's connections (default 4).
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 BINARY [BINARY...]" >&2; exit 2; }
# shellcheck source=scripts/callgrind_lib.sh
. "$(dirname "$0")/callgrind_lib.sh"
needs valgrind wrk nginx python3 curl

mkdir -p "$dir/www" "$dir/nginx/tmp"
head -c $(( ${PAGE_KIB:-2} * 1024 )) /dev/zero | tr '\0' 'x' > "$dir/www/page.html"
up=$(free_port)
cat > "$dir/nginx/nginx.conf" <<EOF2
$([ "$(id -u)" = 0 ] && echo "user root;")
worker_processes 1;
daemon off;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 10000000;
  default_type text/html;
  client_body_temp_path $dir/nginx/tmp/body;
  proxy_temp_path $dir/nginx/tmp/proxy;
  fastcgi_temp_path $dir/nginx/tmp/fastcgi;
  uwsgi_temp_path $dir/nginx/tmp/uwsgi;
  scgi_temp_path $dir/nginx/tmp/scgi;
  server {
    listen 127.0.0.1:$up;
    root $dir/www;
    location = /_app_status { stub_status; }
  }
}
EOF2
nginx -c "$dir/nginx/nginx.conf" -p "$dir/nginx" -e "$dir/nginx/error.log" &
pids+=($!)
for _ in $(seq 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$up/page.html" && break
  sleep 0.1
done

# The app's accepted connections so far (stub_status's first counter).
accepts() {
  curl -sf "http://127.0.0.1:$up/_app_status" | awk 'NR == 3 {print $1}'
}

# Total Ir of one daemon run; with "load", wrk's request count and the
# app connections the daemon opened.
run() {
  daemon_start "$1" "$2" "$up"
  if curl -sf -D - -o /dev/null "http://127.0.0.1:$port/page.html" | grep -qi '^x-preload-cache'; then
    echo "$0: /page.html was not passed through" >&2
    exit 1
  fi
  local requests=0 before after
  before=$(accepts)
  if [ "$2" = load ]; then
    requests=$(wrk -t1 -c"${CONNS:-4}" -d10s "http://127.0.0.1:$port/page.html" |
      awk '/requests in/ {print $1}')
  fi
  after=$(accepts)
  daemon_stop
  echo "$ir $requests $(( after - before ))"
}

for bin in "$@"; do
  read -r idle _ _ < <(run "$bin" idle)
  read -r load requests conns < <(run "$bin" load)
  echo "$bin: $(( (load - idle) / requests )) instructions per pass-through request ($requests requests, $conns new app connections)"
  keep_runs "$bin"
done
