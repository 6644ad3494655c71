#!/usr/bin/env bash
# The replay of http1-static with no timer read inside it (alloclab-worker
# --count wall, harness/replay/replay.hpp "Untimed"): null and glibc,
# alternating, each repetition in fresh workers, at the default touch and
# at --touch none. Null's busy time over glibc's is the lowest harness ratio
# any per-op timing of the trace could give; scripts/bench-harness.sh
# prints it beside the timed ratios.
#   untimed-floor.sh DIR REPS     writes DIR/untimed.jsonl, one line a replay:
#                                 {"touch", "backend", "worker": the worker's JSON}
# ALLOCLAB_BIN names the alloclab that generates the trace (default: the
# one beside this script, else build/alloclab), ALLOCLAB_WORKER the worker
# (default: beside it). Needs no python (it runs in scripts/bundle.sh's
# bundle, as bin/untimed-floor.sh). Exit 2 on bad arguments, 1 when a
# replay fails; nothing is left half-written.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [[ $# -ne 2 || ! "$2" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: untimed-floor.sh DIR REPS (REPS a positive count)" >&2
  exit 2
fi
out=$1
reps=$2
bin=${ALLOCLAB_BIN:-}
if [[ -z "$bin" ]]; then
  bin=$here/alloclab
  [[ -x "$bin" ]] || bin=$here/../build/alloclab
fi
worker=${ALLOCLAB_WORKER:-$(dirname "$bin")/alloclab-worker}
[[ -x "$bin" && -x "$worker" ]] || { echo "untimed-floor.sh: no alloclab and alloclab-worker at $bin" >&2; exit 2; }
mkdir -p "$out"
trace=$out/untimed-http1-static.trace
part=$out/untimed.jsonl.part
trap 'rm -f "$trace" "$part"' EXIT
gen=$("$bin" trace gen http1-static -o "$trace" 2>&1) || { echo "$gen" >&2; exit 1; }
: >"$part"
for ((r = 0; r < reps; r++)); do
  for touch in pages none; do
    for spec in null glibc; do
      doc=$("$worker" --spec "$spec" --task replay --trace "$trace" --count wall --touch "$touch") ||
        { echo "untimed-floor.sh: the untimed replay of $spec (--touch $touch) failed" >&2; exit 1; }
      echo "{\"touch\": \"$touch\", \"backend\": \"$spec\", \"worker\": $doc}" >>"$part"
    done
  done
done
mv "$part" "$out/untimed.jsonl"
