# shellcheck shell=bash
# Helpers for run.sh: process bookkeeping, the contenders' start functions and
# one wrk measurement. Sourced by run.sh, which sets the variables named in
# README.md (WORK, HERE, SERVER_CPU, LOAD_CPU, ...).

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }
need() { command -v "$1" >/dev/null || die "$1 is missing (Debian: apt-get install -y $2)"; }

# --- processes -------------------------------------------------------------
# Every process the harness starts is recorded by pid and stopped by pid:
# SIGTERM, up to 10 s of grace, then SIGKILL for it and its direct children.
PIDS=()
NAMES=()

spawn() { # NAME CMD... : start CMD in the background, output to $WORK/NAME.log
  local name=$1; shift
  "$@" >>"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  NAMES+=("$name")
  LAST_PID=$!
}

stop_pid() { # PID
  local pid=$1 kids i
  kill -0 "$pid" 2>/dev/null || return 0
  kids=$(pgrep -P "$pid" 2>/dev/null || true)
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid ignored SIGTERM for 10 s; killing it"
    # shellcheck disable=SC2086 # kids is a list of pids
    kill -KILL "$pid" $kids 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

stop_all() {
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[$i]}"; done
  PIDS=()
  NAMES=()
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() { # PORT NAME : until something accepts on 127.0.0.1:PORT (30 s at most)
  local i
  for i in $(seq 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    if ! kill -0 "$LAST_PID" 2>/dev/null; then
      tail -n 20 "$WORK/$2.log" >&2 || true
      die "$2 exited before listening on port $1"
    fi
    sleep 0.1
  done
  tail -n 20 "$WORK/$2.log" >&2 || true
  die "$2 does not listen on port $1 after 30 s"
}

# --- pages and the upstream app ------------------------------------------------

make_pages() { # DIR SIZES_KIB...
  local dir=$1; shift
  mkdir -p "$dir"
  python3 - "$dir" "$@" <<'PY'
import sys
# HTML that compresses like a real page, cut to exactly N KiB.
row = "<p>Preloaded page body, row {:06d}: the quick brown fox jumps over the lazy dog.</p>\n"
for kb in map(int, sys.argv[2:]):
    size = kb * 1024
    head = "<!doctype html><html><head><title>bench</title></head><body>\n"
    tail = "</body></html>\n"
    body, i = [head], 0
    while sum(map(len, body)) < size:
        body.append(row.format(i))
        i += 1
    text = "".join(body)[: size - len(tail)] + tail
    open(f"{sys.argv[1]}/page-{kb}k.html", "w").write(text)
PY
}

start_upstream() { # NAME PORT DELAY_MS : request paths logged to $WORK/NAME.hits
  : >"$WORK/$1.hits"
  spawn "$1" taskset -c "$LOAD_CPU" python3 "$HERE/upstream.py" "$2" "$WORK/pages" \
    --delay-ms "$3" --log "$WORK/$1.hits"
  wait_port "$2" "$1"
}

# --- nginx -------------------------------------------------------------------

start_nginx() { # NAME PORT SERVER_BLOCK [HTTP_BLOCK_EXTRA] : one worker, on SERVER_CPU
  local name=$1 port=$2 dir="$WORK/$1"
  mkdir -p "$dir/tmp"
  cat >"$dir/nginx.conf" <<NGINX
$([ "$(id -u)" = 0 ] && echo "user root;")
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 10000000;
  default_type text/html;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  ${4:-}
  server {
    listen 127.0.0.1:$port;
    $3
  }
}
NGINX
  spawn "$name" taskset -c "$SERVER_CPU" nginx -c "$dir/nginx.conf" -p "$dir" -e "$dir/error.log"
  wait_port "$port" "$name"
}

start_nginx_static() { # NAME PORT [SERVER_BLOCK_EXTRA]
  start_nginx "$1" "$2" "root $WORK/pages;
    open_file_cache max=1000 inactive=1h;
    open_file_cache_valid 1h;
    ${3:-}"
}

start_nginx_proxy_cache() { # NAME PORT UPSTREAM_PORT LOCK(on|off)
  # proxy_cache_lock_timeout is long so that the herd test sees the lock work
  # rather than time out; open_file_cache also caches the cache files' fds.
  start_nginx "$1" "$2" "location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_cache pc;
      proxy_cache_valid 200 1h;
      proxy_cache_lock $4;
      proxy_cache_lock_timeout 30s;
      open_file_cache max=1000 inactive=1h;
      open_file_cache_valid 1h;
      add_header X-Cache \$upstream_cache_status;
    }" "upstream up { server 127.0.0.1:$3; keepalive 32; }
  proxy_cache_path $WORK/$1/cache levels=1:2 keys_zone=pc:10m max_size=1g inactive=1h use_temp_path=off;"
}

start_nginx_pass() { # NAME PORT APP_PORT
  # No cache: every request goes to the app, over kept-alive connections as an
  # operator proxies to an app. Buffers tuned so that a 200 KiB answer stays in
  # memory: with the defaults (8 x 4k) nginx spills it to a temp file, which
  # would make the anchor look worse than a tuned nginx is.
  start_nginx "$1" "$2" "location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_buffer_size 16k;
      proxy_buffers 64 8k;
      proxy_busy_buffers_size 64k;
      proxy_max_temp_file_size 0;
    }" "upstream app { server 127.0.0.1:$3; keepalive 32; }"
}

# --- the pass-through app ----------------------------------------------------
# nginx serving the pages from files: cheap, so that the proxy in front of it
# is what is measured, and the same app for every contender. Its stub_status
# counter says how many requests reached it, so a run can show that every
# response came from the app and not from a cache; nginx keeps that counter
# whether or not it is read, where an access log would cost the app a write
# per request.
APP_STATUS_PATH=/_app_status

start_app() { # NAME PORT
  start_nginx_static "$1" "$2" "location = $APP_STATUS_PATH { stub_status; }"
}

# --- Varnish -----------------------------------------------------------------
# varnishd's defaults are thread_pools=2, thread_pool_min=100,
# thread_pool_max=5000; its docs advise at most one pool per CPU, and the
# server has one CPU here. VARNISH_PARAMS overrides.
VARNISH_PARAMS=${VARNISH_PARAMS:-"-p thread_pools=1 -p thread_pool_min=100 -p thread_pool_max=1000"}

start_varnish() { # NAME PORT UPSTREAM_PORT [pass]
  local backend=(-b "127.0.0.1:$3")
  mkdir -p "$WORK/$1/n"
  if [ "${4:-}" = pass ]; then
    # The built-in VCL (-b) caches; this one sends every request to the app
    # uncached, which is how a Varnish site passes what it must not cache.
    cat >"$WORK/$1/pass.vcl" <<VCL
vcl 4.1;
backend app { .host = "127.0.0.1"; .port = "$3"; }
sub vcl_recv { return (pass); }
VCL
    backend=(-f "$WORK/$1/pass.vcl")
  fi
  # shellcheck disable=SC2086 # VARNISH_PARAMS is a list of options
  spawn "$1" taskset -c "$SERVER_CPU" varnishd -F -j none -n "$WORK/$1/n" \
    -a "127.0.0.1:$2" "${backend[@]}" -s malloc,256m $VARNISH_PARAMS
  wait_port "$2" "$1"
}

# --- limit: bare hyper + tokio --------------------------------------------------

LIMIT_BIN="$HERE/limit-server/target/release/limit-server"

build_limit() {
  if command -v cargo >/dev/null; then
    log "building limit-server (cargo build --release)"
    cargo build --release -q --manifest-path "$HERE/limit-server/Cargo.toml" \
      --target-dir "$HERE/limit-server/target" >&2 || die "limit-server did not build"
  fi
  [ -x "$LIMIT_BIN" ] || die "limit-server is not built and cargo is missing"
}

start_limit() { # NAME PORT RUNTIME(current|multi) [MODE]
  spawn "$1" taskset -c "$SERVER_CPU" "$LIMIT_BIN" "127.0.0.1:$2" "$WORK/pages" "$3" --mode "${4:-hyper}"
  wait_port "$2" "$1"
}

# --- preloadd ------------------------------------------------------------------
# Started as `$PRELOADD_CMD --config FILE`; it listens where the config says.
# Hits are requested as $PRELOADD_PREFIX/<page>, the preload URL of the page;
# pass-through as /<page>, which no preload route matches.
PRELOADD_PREFIX=${PRELOADD_PREFIX:-/_preload}

# ============================================================================
# >>> PRELOADD CONFIG: the one place that knows preloadd's config format <<<
# The config format is defined in docs/configuration.md; when a key is
# renamed or added there, change it here. Everything not written here keeps preloadd's defaults, as an operator
# would run it.
write_preloadd_config() { # FILE LISTEN_PORT ADMIN_PORT UPSTREAM_PORT CACHE_DIR
  # PRELOADD_CACHE_EXTRA: lines added to [cache], e.g. 'memory = "0"' to measure HITs from disk.
  cat >"$1" <<TOML
[server]
listen = "127.0.0.1:$2"
admin_listen = "127.0.0.1:$3"

[upstream]
url = "http://127.0.0.1:$4"

[cache]
dir = "$5"
${PRELOADD_CACHE_EXTRA:-}
TOML
}
# ============================================================================

start_preloadd() { # NAME PORT UPSTREAM_PORT
  local dir="$WORK/$1"
  mkdir -p "$dir/cache"
  write_preloadd_config "$dir/preload.toml" "$2" "$(free_port)" "$3" "$dir/cache"
  # bash -c so that PRELOADD_CMD may carry arguments ("cargo run --release --").
  # RUST_LOG=warn unless set: per-request logging is not what is measured.
  spawn "$1" env RUST_LOG="${RUST_LOG:-warn}" taskset -c "$SERVER_CPU" \
    bash -c "exec $PRELOADD_CMD --config \"\$0\"" "$dir/preload.toml"
  wait_port "$2" "$1"
}

# --- one measurement -----------------------------------------------------------
QUIET_MAX=${QUIET_MAX:-10}   # % busy of the busiest CPU that counts as quiet before a run
QUIET_WAIT=${QUIET_WAIT:-30} # seconds to wait for quiet at most

# Requests the app has answered so far: the lines of upstream.py's log FILE,
# or the request counter of an nginx stub_status URL (the pass-through app).
upstream_count() { # FILE|URL
  case $1 in
    http://*) curl -fsS --max-time 10 "$1" | awk 'NR == 3 { print $3 }' ;;
    *) wc -l <"$1" ;;
  esac
}

# wrk once against URL; prints one tab-separated line:
# rps p50_ms p99_ms non2xx socket_errors server_cpu% load_cpu% steal% foreign% background% upstream_hits
# and then, for each PID given, the CPU of that process and its children as %
# of one CPU ("-" for a PID given as "-"): one process's share of a core that
# several of ours share.
wrk_once() { # URL SECONDS UPSTREAM_HITS_FILE|STATUS_URL [PID...]
  local out="$WORK/wrk.out" bg u0 u1 cpu
  bg=$(python3 "$HERE/cpu.py" quiet "$QUIET_WAIT" "$QUIET_MAX")
  u0=$(upstream_count "$3")
  python3 "$HERE/cpu.py" snap "$WORK/cpu.before"
  timeout $(($2 + 30)) taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$2s" --latency "$1" >"$out" 2>&1 || true
  python3 "$HERE/cpu.py" snap "$WORK/cpu.after"
  u1=$(upstream_count "$3")
  cpu=$(python3 "$HERE/cpu.py" diff "$WORK/cpu.before" "$WORK/cpu.after" "$SERVER_CPU" "$LOAD_CPU" $$ "${@:4}")
  awk -v cpu="$cpu" -v bg="$bg" -v ups=$((u1 - u0)) '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return -1 }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    /Non-2xx or 3xx responses:/ { bad = $NF }
    /Socket errors:/ { for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) sock += $i }
    END { n = split(cpu, c, " ")
      printf "%.0f\t%.3f\t%.3f\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%d", rps, p50, p99, bad, sock, c[1], c[2], c[3], c[4], bg, ups
      for (i = 5; i <= n; i++) printf "\t%s", c[i]
      printf "\n" }' "$out"
}
