# Shared by scripts/hit_instructions.sh and scripts/pass_instructions.sh:
# run_lib.sh (the temp dir and pid bookkeeping, free ports), and one daemon
# run under `valgrind --tool=callgrind`. Sourced, not run.
#
# After sourcing: $dir (removed at exit, with every pid in $pids stopped).
# daemon_start BIN PHASE UPSTREAM_PORT starts BIN on a fresh config (with
# $SERVER_EXTRA in [server], $CACHE_EXTRA in [cache]) and waits for its
# health; it sets $port, $admin, $pid and $out. daemon_stop stops it and
# sets $ir, the run's total instructions (in this shell: `wait` needs the
# daemon to be its child, so not in a command substitution). keep_runs BIN copies the callgrind files
# to $KEEP when set.

# shellcheck source=scripts/run_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/run_lib.sh"

daemon_start() {
  local bin=$1 phase=$2 upstream=$3
  port=$(free_port)
  admin=$(free_port)
  out="$dir/cg.$phase.out"
  rm -rf "$dir/cache" "$out"
  cat > "$dir/p.toml" <<CONFIG
[server]
listen = "127.0.0.1:$port"
admin_listen = "127.0.0.1:$admin"
${SERVER_EXTRA:-}
[upstream]
url = "http://127.0.0.1:$upstream"
[cache]
dir = "$dir/cache"
${CACHE_EXTRA:-}
CONFIG
  RUST_LOG=${RUST_LOG:-warn} valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$bin" --config "$dir/p.toml" 2>"$dir/daemon.log" &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 600); do
    curl -sf -o /dev/null "http://127.0.0.1:$admin/_preloadd/health" && break
    sleep 0.1
  done
}

daemon_stop() {
  kill -TERM "$pid"
  wait "$pid" || true
  ir=$(awk '/^summary:/ {print $2}' "$out")
}

keep_runs() {
  [ -n "${KEEP:-}" ] || return 0
  mkdir -p "$KEEP"
  cp "$dir/cg.load.out" "$KEEP/$(basename "$1").load.out"
  cp "$dir/cg.idle.out" "$KEEP/$(basename "$1").idle.out"
}
