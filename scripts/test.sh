#!/usr/bin/env bash
# The project's test command (README.md, and .ci/run calls it): installs
# what the tests need when it is missing and it can (root with apt), then
# runs the whole suite.
#
# The durability tests mount file systems that fail (a full tmpfs, an ext4
# image turned read-only): they need root, mount, losetup, mkfs.ext4,
# e2fsck and chattr. Without root they say SKIPPED and pass; with
# PRELOADD_REQUIRE_MOUNTS=1 (CI) a skip is a failure.
#
# The cluster tests (tests/cluster.rs) start their own redis-server and
# use redis-cli; without them they say SKIPPED and pass, and with
# PRELOADD_REQUIRE_REDIS=1 (CI) a skip is a failure.
#
# The Django app's tests run on Django 4.2 and 5.x, each in a venv of its
# own under target/django-venvs/ (packaging/django/run-tests.sh, which
# installs Django from the package registry the first time); the 5.x venv
# and nginx then serve the end-to-end test (tests/django_e2e.rs). Without
# python3 or nginx that test says SKIPPED and passes; with
# PRELOADD_REQUIRE_DJANGO=1 (CI) a skip is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
# The completions test checks the zsh and fish scripts with those shells;
# tests/systemd.rs checks the unit with systemd-analyze; tests/cluster.rs
# runs its own redis-server; tests/status_page.rs loads the status page in
# headless Chromium.
for tool in mount:mount losetup:mount mkfs.ext4:e2fsprogs e2fsck:e2fsprogs chattr:e2fsprogs zsh:zsh fish:fish nginx:nginx-light systemd-analyze:systemd redis-server:redis-server redis-cli:redis-tools chromium:chromium; do
  command -v "${tool%%:*}" >/dev/null || [[ -x "/usr/sbin/${tool%%:*}" ]] || need+=("${tool##*:}")
done
# Debian's python3 makes venvs only with python3-venv.
if command -v python3 >/dev/null && ! python3 -c "import ensurepip, venv" 2>/dev/null; then
  need+=(python3-venv)
fi
if ((${#need[@]})); then
  if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "== installing: ${need[*]}"
    apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null; }
    # A fresh machine may have no package lists yet.
    apt_install || { apt-get update -q >/dev/null && apt_install; }
  else
    echo "note: ${need[*]} missing; the tests that need them will be skipped" >&2
  fi
fi

django=0
if command -v "${PYTHON:-python3}" >/dev/null; then
  packaging/django/run-tests.sh || django=$?
else
  echo "note: no python3; the Django tests will be skipped" >&2
fi
cargo test "$@"
exit "$django"
