#!/usr/bin/env bash
# Installs missing Debian packages, then configures and builds alloclab.
#   scripts/build.sh            Release build in build/
#   scripts/build.sh --asan     ASan+UBSan build in build-asan/
# run.sh and test.sh call this; it is safe to run again (incremental).
set -euo pipefail
cd "$(dirname "$0")/.."

"$PWD/scripts/install-deps.sh"

jobs=$(nproc 2>/dev/null || echo 2)
if [[ "${1:-}" == "--asan" ]]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DALLOCLAB_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$jobs"
else
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j"$jobs"
fi
