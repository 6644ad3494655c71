#!/usr/bin/env bash
# Puts the real servers `alloclab serve` measures into .deps/servers/root,
# unpacked from Debian 12's packages without installing them: installing
# nginx, apache2, haproxy or h2o the usual way runs their maintainer scripts,
# which start a system service on port 80 and write under /etc. Unpacking
# with dpkg-deb -x starts nothing and touches no system file; each server then
# runs from a temporary prefix with its own configuration.
#
# Packages the system lacks among their dependencies are unpacked beside
# them (their libraries reach the servers through LD_LIBRARY_PATH). The Rust
# server (servers/rust-hyper: hyper 0.14 on tokio) is built offline from
# Debian's packaged crates (librust-hyper-dev, librust-tokio-dev, installed
# by install-deps.sh) into root/usr/bin/alloclab-rust-server. Quick when the
# stamp file names the same package versions and Rust sources.
#   scripts/install-servers.sh          install what is missing
#   scripts/install-servers.sh --print  print the root folder and exit
set -euo pipefail
cd "$(dirname "$0")/.."

dest=$(pwd)/.deps/servers
root=$dest/root
if [[ "${1:-}" == "--print" ]]; then echo "$root"; exit 0; fi

# nginx-light: nginx with the core modules only (static files, proxy).
# apache2-bin: httpd and its modules (the event MPM among them) without the
# apache2 package's service scripts. h2o and haproxy have no service-free
# split; their unpacked binaries are used directly.
servers=(nginx-light h2o haproxy apache2-bin)

versions() {
  apt-cache policy "${servers[@]}" 2>/dev/null | awk '/^[^ ]/ {p=$1} /Candidate:/ {print p, $2}'
}

rust_src=$(pwd)/servers/rust-hyper
rust_sum() { cat "$rust_src/Cargo.toml" "$rust_src/src/"*.rs | sha256sum | cut -d' ' -f1; }

want="$(versions)
rust-server: $(rust_sum)"
if [[ -f "$dest/stamp" && "$(cat "$dest/stamp")" == "$want" && "$want" != *"(none)"* ]]; then
  exit 0
fi
if [[ -z "$want" || "$want" == *"(none)"* ]]; then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  want="$(versions)
rust-server: $(rust_sum)"
fi

echo "install-servers: unpacking ${servers[*]} into $root" >&2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/alloclab-servers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/archives/partial"
# The packages and whichever of their dependencies this system lacks.
apt-get install -y -qq --download-only --no-install-recommends \
  -o Dir::Cache::archives="$tmp/archives" -o Debug::NoLocking=1 -o APT::Sandbox::User="$(id -un)" "${servers[@]}" >/dev/null
# The servers themselves, even when some are installed system-wide.
(cd "$tmp/archives" && apt-get download -qq "${servers[@]}" >/dev/null)

rm -rf "$dest.new"
mkdir -p "$dest.new/root"
for deb in "$tmp"/archives/*.deb; do
  dpkg-deb -x "$deb" "$dest.new/root"
done

# The Rust server: cargo from PATH (or rustup's), else Debian's.
cargo=$(command -v cargo || true)
[[ -z "$cargo" && -x "$HOME/.cargo/bin/cargo" ]] && cargo=$HOME/.cargo/bin/cargo
if [[ -z "$cargo" ]]; then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends cargo >/dev/null
  cargo=/usr/bin/cargo
fi
echo "install-servers: building the Rust server with $("$cargo" --version) from /usr/share/cargo/registry" >&2
cargo_home=$(pwd)/.deps/cargo-home
mkdir -p "$cargo_home"
cat >"$cargo_home/config.toml" <<'TOML'
[source.crates-io]
replace-with = "debian-packages"
[source.debian-packages]
directory = "/usr/share/cargo/registry"
[net]
offline = true
TOML
CARGO_HOME=$cargo_home "$cargo" build --quiet --release --offline \
  --manifest-path "$rust_src/Cargo.toml" --target-dir "$(pwd)/.deps/rust-target"
mkdir -p "$dest.new/root/usr/bin"
cp "$(pwd)/.deps/rust-target/release/alloclab-rust-server" "$dest.new/root/usr/bin/"

echo "$want" >"$dest.new/stamp"
rm -rf "$dest"
mv "$dest.new" "$dest"
