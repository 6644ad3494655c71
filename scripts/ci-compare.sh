#!/usr/bin/env bash
# Gate a change on allocation cost: build the base revision and the head (the
# working tree, or a revision), run the `ci` suite with both in this one job,
# and compare. Exit status: 0 no regression, 1 some cell regressed, 2 bad
# input; a failed build or run stops with its own status.
# Thresholds: 10% for time (shared CI machines are noisy; ALLOCLAB_CI_THRESHOLD
# overrides), 1% for instruction counts.
#
#   scripts/ci-compare.sh BASE_REV                    time per op (5 reps each, Mann-Whitney U)
#   scripts/ci-compare.sh BASE_REV --count instructions   exact instruction counts under Callgrind
#   scripts/ci-compare.sh BASE_REV --head HEAD_REV ...
#
# Other arguments go to `alloclab run` for both sides (e.g. --backends,
# --workloads). Results and the comparison are written to $ALLOCLAB_CI_OUT
# (default build/ci-compare/): base.json, head.json, compare.json.
set -euo pipefail
cd "$(dirname "$0")/.."

if (($# < 1)) || [[ "$1" == -* ]]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
base_rev=$1
shift
head_rev=""
count=time
run_args=()
while (($#)); do
  case "$1" in
    --head) head_rev=$2; shift 2 ;;
    --count) count=$2; run_args+=(--count "$2"); shift 2 ;;
    *) run_args+=("$1"); shift ;;
  esac
done

out=${ALLOCLAB_CI_OUT:-build/ci-compare}
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/alloclab-ci-XXXXXX")
cleanup() {
  git worktree remove --force "$work/base" >/dev/null 2>&1 || true
  git worktree remove --force "$work/head" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

./scripts/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)

build_at() {  # build_at SRC BUILD
  cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$2" -j"$jobs" --target alloclab alloclab-worker >/dev/null
}

echo "== build base $base_rev"
git worktree add --detach "$work/base" "$base_rev" >/dev/null
build_at "$work/base" "$work/base-build"
if [[ -n "$head_rev" ]]; then
  echo "== build head $head_rev"
  git worktree add --detach "$work/head" "$head_rev" >/dev/null
  build_at "$work/head" "$work/head-build"
  head_bin=$work/head-build/alloclab
else
  echo "== build head (working tree)"
  build_at . build
  head_bin=build/alloclab
fi

# Time is measured in slices taken in turn (base 1/N, head 1/N, base 2/N, ...)
# so a drift of a shared machine falls on both sides alike. Instruction
# counts are exact: one slice each.
slices=5
metric=ns_per_op
threshold=${ALLOCLAB_CI_THRESHOLD:-10}
if [[ "$count" == instructions ]]; then
  slices=1
  metric=instructions
  threshold=${ALLOCLAB_CI_THRESHOLD:-1}
fi
for ((k = 1; k <= slices; k++)); do
  echo "== run slice $k/$slices: base, then head"
  "$work/base-build/alloclab" run --suite ci -q --force --shard "$k/$slices" "${run_args[@]}" -o "$work/base-$k.json"
  "$head_bin" run --suite ci -q --force --shard "$k/$slices" "${run_args[@]}" -o "$work/head-$k.json"
done
"$head_bin" merge -o "$out/base.json" "$work"/base-*.json
"$head_bin" merge -o "$out/head.json" "$work"/head-*.json

echo "== compare ($metric, threshold $threshold%)"
status=0
"$head_bin" compare "$out/base.json" "$out/head.json" --metric "$metric" --threshold "$threshold" || status=$?
"$head_bin" compare "$out/base.json" "$out/head.json" --metric "$metric" --threshold "$threshold" --json \
  >"$out/compare.json" || true
exit "$status"
