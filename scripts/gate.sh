#!/usr/bin/env bash
# The project gates itself on allocation cost: every strategy backend (over
# glibc) replays the `ci` suite's five models under Callgrind, and its
# instructions per op are compared with results/baseline-ci.json. More than
# 2% above the baseline in any cell fails (exit 1). Counts are exact, so no
# repetitions are needed and a tight threshold raises no false alarms.
#   scripts/gate.sh             check (scripts/test.sh runs this)
#   scripts/gate.sh --refresh   re-measure and rewrite results/baseline-ci.json
#                               (on purpose: commit it with the change that
#                               explains the new costs)
# Needs a Release build in build/ (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=build/alloclab
baseline=results/baseline-ci.json
strategies=$("$bin" list --json | /usr/bin/python3 -c '
import json, sys
print(",".join(b["name"] + "@glibc" for b in json.load(sys.stdin)["backends"] if b["kind"] == "strategy"))')

mkdir -p build/gate
"$bin" run --suite ci --count instructions --backends "$strategies" -q --force -o build/gate/instructions.json
if [[ "${1:-}" == "--refresh" ]]; then
  cp build/gate/instructions.json "$baseline"
  echo "gate: wrote $baseline"
  exit 0
fi
"$bin" compare "$baseline" build/gate/instructions.json --metric instructions --threshold 2
