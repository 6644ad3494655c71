#!/usr/bin/env bash
# The many-core measurements in one command, for a machine with more cores
# than the 2-core one the reference results come from. Runs from an unpacked
# bundle (scripts/bundle.sh puts it in bin/) or from a source tree with a
# Release build in build/; needs nothing else installed (no python):
#   many-core.sh [-o DIR] [--reps N] [--quick] [--resume]
# It writes, in DIR (default many-core-HOST):
#   machine.txt    nproc, lscpu, the kernel, glibc, THP, alloclab list
#   scaling.json   weak scaling with each replay thread pinned to a CPU of its
#                  own: null and the four general allocators on http1-static,
#                  http-api and proxy at 1, 2, 4, ... threads up to the usable
#                  CPUs (and that count), N repetitions (default 3)
#   default.json   null and glibc on http1-static at one thread, 9 repetitions
#                  (--quick: 3): the harness's own cost on that machine
#   untimed.jsonl  the same without a timer read inside the replay, as many
#                  repetitions (untimed-floor.sh): the floor under that cost
# Then, wherever python3 is (this machine or the one DIR is copied to):
#   scripts/bench-harness.sh --summarize DIR     the harness ratio, null's
#                                                weak scaling and interference
#   alloclab report results.json --scaling DIR/scaling.json -o report/
#                                                the ledger's scaling claims
# --quick: threads 1 and 2 only, a quarter of the requests, 1 repetition (a
# check that it runs, in seconds). The short run goes first; each results
# file is rewritten after every cell, so a run cut short (a machine lent
# for minutes) keeps every cell it finished, and --resume runs only the
# cells DIR's files lack. On the 2-core VM the whole of it takes 28 s.
# Exit status: the first failed run's (alloclab run: 2 bad input, 3 some
# cells failed, 130 interrupted; untimed-floor.sh: 1 a replay failed), 0
# when all are ok.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [[ -x "$here/alloclab" ]]; then
  bin="$here/alloclab"          # bin/ of a bundle
else
  bin="$here/../build/alloclab"  # scripts/ of a source tree
fi
[[ -x "$bin" ]] || { echo "many-core.sh: no alloclab beside it or in build/ (run scripts/build.sh)" >&2; exit 2; }

out=""
keep=--force
reps=3
quick=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    -o | --output) out=${2:?"-o needs a folder"}; shift 2 ;;
    --reps)
      reps=${2:?"--reps needs a number"}
      [[ "$reps" =~ ^[1-9][0-9]*$ ]] || { echo "many-core.sh: --reps must be a whole number from 1: $reps" >&2; exit 2; }
      shift 2 ;;
    --quick) quick=1; shift ;;
    --resume) keep=--resume; shift ;;
    -h | --help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "many-core.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ -n "$out" ]] || out="many-core-$(hostname -s 2>/dev/null || echo host)"
mkdir -p "$out"

cpus=$(nproc)
threads=1
suite=()
bench_reps=9
if [[ $quick == 1 ]]; then
  ((cpus >= 2)) && threads=1,2
  suite=(--suite quick)
  reps=1
  bench_reps=3
else
  for t in 2 4 8 16 32 64 128 256; do ((t <= cpus)) && threads+=",$t"; done
  [[ ",$threads," == *",$cpus,"* ]] || threads+=",$cpus"
fi

{
  echo "# many-core.sh $(date -u +%Y-%m-%dT%H:%M:%SZ): threads $threads, $reps repetitions"
  echo "nproc: $cpus"
  lscpu 2>/dev/null || cat /proc/cpuinfo
  uname -a
  ldd --version 2>/dev/null | sed -n 1p || true
  echo "THP: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)"
  "$bin" list
} >"$out/machine.txt" 2>&1

status=0
run() {  # FILE ARGS...
  local file=$1
  shift
  echo "many-core.sh: $file" >&2
  local how=$keep
  [[ $how == --resume && ! -f "$out/$file" ]] && how=--force
  "$bin" run "${suite[@]}" "$how" -o "$out/$file" "$@" || { local rc=$?; ((status == 0)) && status=$rc; }
}
run default.json --backends null,glibc --workloads http1-static --threads 1 --reps "$bench_reps"
if [[ $keep != --resume || ! -f "$out/untimed.jsonl" ]]; then
  echo "many-core.sh: untimed.jsonl" >&2
  ALLOCLAB_BIN=$bin "$here/untimed-floor.sh" "$out" "$bench_reps" || { rc=$?; ((status == 0)) && status=$rc; }
fi
run scaling.json --backends null,glibc,jemalloc,mimalloc,tcmalloc --workloads http1-static,http-api,proxy \
  --threads "$threads" --scaling weak --pin --reps "$reps"
echo "many-core.sh: wrote $out/ (machine.txt, scaling.json, default.json, untimed.jsonl)" >&2
exit $status
