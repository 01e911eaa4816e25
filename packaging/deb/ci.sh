#!/usr/bin/env bash
# The Debian package, checked as CI does it (.ci/run calls this after the
# tests; root needed): build it, check that it holds what it must, install
# it on this machine, run the installed daemon's `check` on the installed
# config as the package's user, verify the installed unit, then purge it
# and check that nothing is left but the user.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ $EUID -ne 0 ]]; then
  echo "packaging/deb/ci.sh: needs root (dpkg -i)" >&2
  exit 2
fi
fail() { echo "packaging/deb/ci.sh: $*" >&2; exit 1; }
# man finds the installed page; systemd-analyze verifies the installed unit.
need=()
for tool in man:man-db systemd-analyze:systemd; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool##*:}")
done
if ((${#need[@]})); then
  echo "== installing: ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
fi

begun=$SECONDS
deb=$(packaging/deb/build.sh | tail -n 1)
[[ -f $deb ]] || fail "build.sh printed no package path"
echo "== built $deb ($(du -k "$deb" | cut -f1) KiB) in $((SECONDS - begun)) s"

echo "== contents (dpkg-deb -c)"
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
missing=0
for path in \
  ./usr/bin/preloadd \
  ./lib/systemd/system/preloadd.service \
  ./usr/lib/sysusers.d/preloadd.conf \
  ./etc/preloadd/preload.toml \
  ./usr/share/man/man1/preloadd.1.gz \
  ./usr/share/man/man1/preloadd-run.1.gz \
  ./usr/share/man/man1/preloadd-warm.1.gz \
  ./usr/share/bash-completion/completions/preloadd \
  ./usr/share/zsh/vendor-completions/_preloadd \
  ./usr/share/fish/vendor_completions.d/preloadd.fish \
  ./usr/share/doc/preloadd/copyright \
  ./usr/share/doc/preloadd/docs/operations.md; do
  grep -qxF "$path" <<<"$contents" || { echo "missing: $path" >&2; missing=1; }
done
((missing == 0)) || fail "the package lacks the paths above"
[[ $(dpkg-deb -f "$deb" Package) == preloadd ]] || fail "package name"
dpkg-deb -I "$deb" conffiles | grep -qxF /etc/preloadd/preload.toml ||
  fail "/etc/preloadd/preload.toml is not a conffile"
echo "ok: $(wc -l <<<"$contents") entries, every expected path present"

echo "== dpkg -i"
# A previous run's package would hide a missing step of this one.
dpkg --purge preloadd >/dev/null 2>&1 || true
dpkg -i "$deb"
trap 'dpkg --purge preloadd >/dev/null 2>&1 || true' EXIT

getent passwd preloadd >/dev/null || fail "no preloadd user after install"
[[ $(stat -c %U:%G /var/cache/preloadd) == preloadd:preloadd ]] ||
  fail "/var/cache/preloadd is not the preloadd user's"

echo "== preloadd check on the installed config, as the preloadd user"
runuser -u preloadd -- /usr/bin/preloadd check --config /etc/preloadd/preload.toml >/tmp/preloadd-check.out
grep -qxF 'dir = "/var/cache/preloadd"' /tmp/preloadd-check.out ||
  fail "the installed config does not keep snapshots in /var/cache/preloadd"
/usr/bin/preloadd completions bash | cmp -s - /usr/share/bash-completion/completions/preloadd ||
  fail "the installed bash completions differ from preloadd completions bash"
man -w preloadd >/dev/null || fail "man cannot find preloadd(1)"

echo "== systemd-analyze verify on the installed unit (man page included)"
verify=$(systemd-analyze verify /lib/systemd/system/preloadd.service 2>&1) ||
  fail "systemd-analyze verify: $verify"
[[ -z $verify ]] || fail "systemd-analyze verify: $verify"

echo "== dpkg --purge"
dpkg --purge preloadd
trap - EXIT
for path in /usr/bin/preloadd /etc/preloadd /var/cache/preloadd /lib/systemd/system/preloadd.service; do
  [[ ! -e $path ]] || fail "$path is left after the purge"
done
echo "ok: package built, checked, installed, checked and purged in $((SECONDS - begun)) s"
