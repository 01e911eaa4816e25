# Shared by the scripts that start servers of their own (callgrind_lib.sh,
# herd_floor.sh): `needs TOOL...` (exit 2 naming the first one missing),
# $dir (a temp dir removed at exit, when every pid in $pids is stopped),
# and `free_port`. Sourced, not run.

needs() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$0: $tool is missing" >&2; exit 2; }
  done
}

dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # Each stopped before the dir goes (a daemon still writes into its
  # cache dir while it stops): up to 10 s, then SIGKILL.
  for p in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$dir"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
