#!/usr/bin/env bash
# Runs every fuzz target (src/fuzz/, docs/fuzzing.md) for SECONDS_PER_TARGET
# seconds (default 60), one after another on one thread, in an optimized
# build that keeps debug assertions and overflow checks (the `fuzz`
# profile); prints the inputs tried per target and in all. Exits non-zero
# when a target fails, after printing its shrunk input.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
#
# `cargo test` runs the same targets for a fixed, small number of cases.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
log="target/fuzz.log"
cargo test --profile fuzz --lib --no-run
mkdir -p target
status=0
PRELOADD_FUZZ_SECONDS="$seconds" cargo test --profile fuzz --lib fuzz:: \
  -- --test-threads=1 --nocapture >"$log" 2>&1 || status=$?
# The harness prints a target's count after its "test ... " prefix.
counts="$(grep -oE 'fuzz [a-z_]+: [0-9]+ inputs in [0-9.]+ s' "$log" || true)"
printf '%s\n' "$counts"
grep -E '^fuzz target|^minimal input|^test result' "$log" || true
printf '%s\n' "$counts" | awk -v s="$seconds" -v lf="$log" '/inputs/ { n += $3; t++ }
  END { printf "total: %d inputs, %d targets, %s s each (log: %s)\n", n, t, s, lf }'
exit "$status"
