#!/usr/bin/env bash
# The main job: set up, build, list every backend with the library versions
# really loaded, and run each backend in a verified worker.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/build.sh >/dev/null
echo "== alloclab list"
./build/alloclab list
echo
echo "== alloclab smoke (every general allocator, every strategy over each)"
./build/alloclab smoke
