#!/usr/bin/env bash
# Fuzzes a reader with libFuzzer (clang's -fsanitize=fuzzer, with ASan and
# UBSan).
#   scripts/fuzz.sh [trace|results] [SECONDS]     default: trace, 600 s
#
# trace: the trace reader. Seeds: the committed bad-file corpus and small
#   valid traces from every model. Findings go to workloads/tests/corpus/fuzz/,
#   where trace_corpus_test replays them.
# results: the results reader and what reads a valid file (summaries,
#   exports, compare, a serialize/read round trip). Seeds: the results corpus
#   (harness/tests/corpus/results) and small runs. Findings go to
#   harness/tests/corpus/results/fuzz/, where hostile_input_test replays them.
#
# Prints libFuzzer's final statistics (executions, coverage); exits 1 when
# there are findings.
set -euo pipefail
cd "$(dirname "$0")/.."
target=trace
if [[ "${1:-}" == trace || "${1:-}" == results ]]; then
  target=$1
  shift
fi
seconds=${1:-600}
command -v clang++ >/dev/null || {
  echo "fuzz: installing clang" >&2
  ${SUDO:-} apt-get install -y -q clang >/dev/null
}
out=build-fuzz/$target
rm -rf "$out/artifacts"
mkdir -p "$out/corpus" "$out/artifacts"
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I.)

if [[ $target == trace ]]; then
  srcs=(workloads/fuzz/trace_fuzz.cpp workloads/trace.cpp workloads/trace_binary.cpp workloads/trace_text.cpp
        workloads/trace_info.cpp workloads/atomic_file.cpp workloads/regular_file.cpp)
  findings=workloads/tests/corpus/fuzz
  max_len=65536
  cp workloads/tests/corpus/bad/*.trace workloads/fuzz/seed.txt "$out/corpus/"
  if [[ -x build/alloclab ]]; then
    build/alloclab trace binary workloads/fuzz/seed.txt -o "$out/corpus/seed.trace"
    for m in $(build/alloclab trace gen --help | sed -n 's/.*Model: //p' | tr -d ','); do
      build/alloclab trace gen "$m" --requests 3 --connections 2 --threads 2 -o "$out/corpus/seed-$m.trace" 2>/dev/null || true
    done
  fi
else
  srcs=(harness/fuzz/results_fuzz.cpp harness/run/results.cpp harness/run/results_check.cpp harness/run/export.cpp
        harness/run/compare.cpp workloads/atomic_file.cpp workloads/regular_file.cpp)
  findings=harness/tests/corpus/results/fuzz
  max_len=131072
  cp harness/tests/corpus/results/base.json harness/tests/corpus/results/bad/*.json "$out/corpus/"
  if [[ -x build/alloclab ]]; then
    # Small valid files of other shapes: a failed cell, a counted run, threads.
    build/alloclab run --backends null,bump --workloads proxy --threads 1,2 --reps 2 --requests 8 -q \
      -o "$out/corpus/seed-threads.json" --force >/dev/null 2>&1 || true
    build/alloclab run --backends null --workloads http-api --reps 1 --requests 8 --timeout 0.000001 -q \
      -o "$out/corpus/seed-failed.json" --force >/dev/null 2>&1 || true
  fi
fi
clang++ "${flags[@]}" "${srcs[@]}" -o "$out/fuzz"

echo "fuzz $target: $seconds s" >&2
"$out/fuzz" "$out/corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=$max_len \
  -artifact_prefix="$out/artifacts/" -print_final_stats=1 2>&1 | tail -25 || true
found=$(ls "$out/artifacts" | wc -l)
if ((found > 0)); then
  mkdir -p "$findings"
  cp "$out"/artifacts/* "$findings/"
  echo "fuzz $target: $found finding(s) copied to $findings/" >&2
  exit 1
fi
echo "fuzz $target: no findings" >&2
