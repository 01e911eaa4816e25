#!/usr/bin/env bash
# The project's test command (README.md, and .ci/run calls it): installs
# what the tests need when it is missing and it can (root with apt), then
# runs the whole suite.
#
# The durability tests mount file systems that fail (a full tmpfs, an ext4
# image turned read-only): they need root, mount, losetup, mkfs.ext4,
# e2fsck and chattr. Without root they say SKIPPED and pass; with
# PRELOADD_REQUIRE_MOUNTS=1 (CI) a skip is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
# The completions test checks the zsh and fish scripts with those shells;
# tests/systemd.rs checks the unit with systemd-analyze.
for tool in mount:mount losetup:mount mkfs.ext4:e2fsprogs e2fsck:e2fsprogs chattr:e2fsprogs zsh:zsh fish:fish systemd-analyze:systemd; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool##*:}")
done
if ((${#need[@]})); then
  if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "== installing: ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
  else
    echo "note: ${need[*]} missing; the durability tests will be skipped" >&2
  fi
fi

exec cargo test "$@"
