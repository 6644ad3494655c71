#!/usr/bin/env bash
# The main job: set up, build, list every backend with the library versions
# really loaded, then run the default suite (every backend x the five models x
# threads 1,2 x 5 repetitions) into reports/latest/results.json, and write the
# report (charts, the seed document's tables, the claims ledger) beside it.
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
# Report on a complete run, even one with failed cells (3); not on bad input
# or an interrupted run.
if ((status != 0 && status != 3)); then exit "$status"; fi
./build/alloclab export reports/latest/results.json --format csv -o reports/latest/results.csv
echo
echo "== alloclab report reports/latest/results.json"
./build/alloclab report reports/latest/results.json -o reports/latest
echo "Report: $(pwd)/reports/latest/report.html (and report.md, charts/, verdicts.json)"
# 3: some cells failed; the results file records which and why.
exit "$status"
