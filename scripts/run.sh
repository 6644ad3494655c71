#!/usr/bin/env bash
# The main job: set up, build, list every backend with the library versions
# really loaded, then run the default suite (every backend x the five models x
# threads 1,2 x 5 repetitions) into reports/latest/results.json.
#   scripts/run.sh            the default suite
#   scripts/run.sh --quick    the quick suite (under a minute)
# Extra arguments go to `alloclab run`.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/build.sh >/dev/null
echo "== alloclab list"
./build/alloclab list
echo
mkdir -p reports/latest
echo "== alloclab run $* -> reports/latest/results.json"
status=0
./build/alloclab run --force -o reports/latest/results.json "$@" || status=$?
./build/alloclab export reports/latest/results.json --format csv -o reports/latest/results.csv
# 3: some cells failed; the results file records which and why.
exit "$status"
