#!/usr/bin/env bash
# The whole test suite: set up, build, run every test through ctest, gate the
# strategies' instructions per op on results/baseline-ci.json (scripts/gate.sh);
# then the same tests in an ASan+UBSan build (which covers our own code: the sanitizers
# replace malloc, so tests that need a preloaded general allocator skip there).
# allocator_may_return_null: the contract says an impossible request returns
# nullptr, and the suite checks that it does.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc 2>/dev/null || echo 2)

echo "== build (Release)"
./scripts/build.sh
echo "== tests (Release)"
ctest --test-dir build --output-on-failure -j"$jobs"
echo "== gate: strategies' instructions per op against results/baseline-ci.json"
./scripts/gate.sh

echo "== build (ASan+UBSan)"
./scripts/build.sh --asan
echo "== tests (ASan+UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"
