#!/usr/bin/env bash
# The Django app's tests, with Django's own test runner, on each Django
# series the app supports: 4.2 LTS and 5.x. Each series gets a venv of its
# own under target/django-venvs/ (kept between runs, like cargo's target/),
# with Django from the package registry and the app installed from this
# directory (`pip install -e`). The 5.x venv is also the one the
# end-to-end test (tests/django_e2e.rs) runs the example project with.
#
# Prints one line per series, `django-4.2: N passed, N failed`, which
# .ci/run adds to its total. Exits non-zero if any series fails.
#
#   packaging/django/run-tests.sh            # both series
#   packaging/django/run-tests.sh 5.x        # one of them
#   PYTHON=python3.12 packaging/django/run-tests.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venvs="${PRELOADD_DJANGO_VENVS:-$root/target/django-venvs}"
python="${PYTHON:-python3}"

declare -A spec=([4.2]="Django>=4.2,<4.3" [5.x]="Django>=5,<6")
series=("$@")
((${#series[@]})) || series=(4.2 5.x)

status=0
for s in "${series[@]}"; do
  req="${spec[$s]:-}"
  [[ -n "$req" ]] || { echo "run-tests.sh: unknown series $s (4.2 or 5.x)" >&2; exit 2; }
  venv="$venvs/$s"
  # A venv is reused when it holds what this script last installed in it
  # (the marker) and that still imports; anything else starts it afresh.
  marker="$venv/.preloadd-installed"
  want="$req -e $here"
  if [[ ! -f "$marker" || "$(cat "$marker")" != "$want" ]] \
    || ! "$venv/bin/python" -c "import django, django_preloadd" 2>/dev/null; then
    echo "== django-$s: $venv: pip install \"$req\" -e packaging/django"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "$req"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e "$here"
    echo "$want" >"$marker"
  fi
  echo "== django-$s: Django $("$venv/bin/python" -m django --version), $("$venv/bin/python" --version)"
  log="$(mktemp)"
  set +e
  (cd "$here" && "$venv/bin/python" -W error::DeprecationWarning -m django test tests \
    --settings=tests.settings --noinput -v 2) 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  # Django's runner ends with "Ran N tests in T" and "OK" or
  # "FAILED (failures=F, errors=E)".
  awk -v series="$s" -v rc="$rc" '
    /^Ran [0-9]+ tests? in / { ran = $2 }
    /^FAILED \(/ { n = split($0, parts, /[=,)]/); for (i = 1; i < n; i++) if (parts[i] ~ /(failures|errors)$/) failed += parts[i + 1] }
    END {
      # Exit status is the judge; a run of no test is a failure too.
      if ((rc != 0 || ran == 0) && failed == 0) failed = 1
      passed = ran - failed; if (passed < 0) passed = 0
      printf "django-%s: %d passed, %d failed\n", series, passed, failed
    }' "$log"
  grep -qE '^Ran [1-9][0-9]* tests? in ' "$log" || rc=1
  rm -f "$log"
  ((rc == 0)) || status=1
done
exit "$status"
