#!/usr/bin/env bash
# The main job: set up, build, list every backend with the library versions
# really loaded, then run the default suite (every backend x the five models x
# threads 1,2 x 5 repetitions) into reports/latest/results.json; then the
# server suite (nginx, h2o, HAProxy, Apache httpd, Node.js, hyper under each general
# allocator, the replay's prediction of each, Node.js at three heap sizes)
# into reports/latest/serve.json; and the report (charts, the seed document's
# tables, the claims ledger, the real-server tables) beside them.
#   scripts/run.sh            the default suites
#   scripts/run.sh --quick    the quick suite and a one-server smoke (about a minute)
# Extra arguments go to `alloclab run`.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/build.sh >/dev/null
echo "== alloclab list"
./build/alloclab list
echo
mkdir -p reports/latest
quick=0
for a in "$@"; do [[ "$a" == "--quick" || "$a" == "--suite=quick" ]] && quick=1; done
echo "== alloclab run $* -> reports/latest/results.json"
status=0
./build/alloclab run --force -o reports/latest/results.json "$@" || status=$?
# Report on a complete run, even one with failed cells (3); not on bad input
# or an interrupted run.
if ((status != 0 && status != 3)); then exit "$status"; fi
./build/alloclab export reports/latest/results.json --format csv -o reports/latest/results.csv
echo
if ((quick)); then
  serve=(--servers nginx --backends glibc,jemalloc --reps 1 --warmup 1 --peak 1 --fixed 1)
else
  serve=(--servers nginx,h2o,haproxy,apache,node,rust,node:retain=100,node:retain=1000
         --reps 3 --warmup 1 --peak 1 --fixed 1 --predict --predict-reps 2)
fi
echo "== alloclab serve ${serve[*]} -> reports/latest/serve.json"
serve_status=0
./build/alloclab serve --force -o reports/latest/serve.json "${serve[@]}" || serve_status=$?
if ((serve_status != 0 && serve_status != 3)); then exit "$serve_status"; fi
((serve_status == 3)) && status=3
echo
echo "== alloclab report reports/latest/results.json --serve reports/latest/serve.json"
./build/alloclab report reports/latest/results.json --serve reports/latest/serve.json -o reports/latest
echo "Report: $(pwd)/reports/latest/report.html (and report.md, charts/, verdicts.json)"
# 3: some cells failed; the results files record which and why.
exit "$status"
