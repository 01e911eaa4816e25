#!/usr/bin/env bash
# Builds the Debian package: target/debian/preloadd_VERSION-1_ARCH.deb.
#
# The release binary, then what the package ships beside it, made from the
# same sources: the shell completions (`preloadd completions SHELL`), the
# man pages (examples/manpage.rs, clap_mangen), and the config, which is
# preload.example.toml with the cache dir the unit makes
# (/var/cache/preloadd). Then `cargo deb --no-build` packs them as
# [package.metadata.deb] in Cargo.toml lists them.
#
# Needs cargo-deb (`cargo install cargo-deb --locked`); installs it when
# missing. Prints the package's path as its last line.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v cargo-deb >/dev/null; then
  echo "== installing cargo-deb"
  cargo install cargo-deb --locked --quiet
fi

echo "== release build"
cargo build --release --quiet

assets=target/deb-assets
rm -rf "$assets"
mkdir -p "$assets/completions" "$assets/man"

bin=target/release/preloadd
"$bin" completions bash >"$assets/completions/preloadd.bash"
"$bin" completions zsh >"$assets/completions/_preloadd"
"$bin" completions fish >"$assets/completions/preloadd.fish"

# The pages do not depend on the profile: the debug build of the example
# is the one `cargo test` already made.
cargo run --quiet --example manpage -- "$assets/man"

# One source of truth: the example config, its cache dir changed.
example='dir = "./preload-cache"'
packaged='dir = "/var/cache/preloadd"'
if [[ $(grep -cxF "$example" preload.example.toml) != 1 ]]; then
  echo "build.sh: preload.example.toml has no single line $example" >&2
  exit 1
fi
sed "s|^$example\$|$packaged|" preload.example.toml >"$assets/preload.toml"

echo "== cargo deb"
cargo deb --no-build --quiet
