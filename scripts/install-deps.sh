#!/usr/bin/env bash
# Installs the Debian 12 packages alloclab needs, and only those that are
# missing. Idempotent and quick (one dpkg query) when everything is present.
# Needs root (or sudo) only when something has to be installed.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake make pkg-config
  # declared dependencies
  libjemalloc-dev libjemalloc2
  libmimalloc-dev libmimalloc2.0
  libgoogle-perftools-dev libtcmalloc-minimal4
  libbenchmark-dev
  nlohmann-json3-dev
  # CLI11: a maintained argument parser with generated --help, instead of a
  # hand-written one
  libcli11-dev
  # tests
  libgtest-dev libgmock-dev googletest
  # the real APR pools (apr-real backend), and boost::pool as a reference
  # point for the pool strategy's microbenchmark
  libapr1-dev libboost-dev
  # Google Benchmark's compare.py (libbenchmark-tools) reads `alloclab export
  # --format gbench`; it needs numpy and scipy for its Mann-Whitney U test
  libbenchmark-tools python3-numpy python3-scipy
  # `alloclab report` draws its charts with matplotlib (a well-kept plotting
  # library; hand-drawn SVG would be worse and longer); the report test
  # opens report.html in headless Chromium to check every image loads
  python3-matplotlib chromium
  # `alloclab run --count instructions` counts instructions under Callgrind
  valgrind
  # `alloclab serve` drives real servers with wrk (a maintained load
  # generator; its Lua done() hook reports its own latency histogram) and
  # measures a Node.js server (the servers themselves are unpacked by
  # scripts/install-servers.sh, below)
  wrk nodejs
  # the Rust server (servers/rust-hyper) is built offline from Debian's
  # packaged crates: hyper 0.14 and tokio 1 with their dependencies
  librust-hyper-dev librust-tokio-dev
  # scripts/bundle.sh points the bundled binaries at their own lib/ folder
  # (RUNPATH $ORIGIN/../lib) on the staged copies
  patchelf
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  exec "$(dirname "$0")/install-servers.sh"
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists once if they are empty or the install fails on a
# stale list.
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
"$(dirname "$0")/install-servers.sh"
