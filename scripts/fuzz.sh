#!/usr/bin/env bash
# Fuzzes the trace reader with libFuzzer (clang's -fsanitize=fuzzer, with
# ASan and UBSan). Seeds: the committed bad-file corpus and small valid
# traces from every model. Findings go to workloads/tests/corpus/fuzz/, where
# trace_corpus_test replays them.
#
#   scripts/fuzz.sh [SECONDS]       default 600
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
command -v clang++ >/dev/null || {
  echo "fuzz: installing clang" >&2
  ${SUDO:-} apt-get install -y -q clang >/dev/null
}
out=build-fuzz
mkdir -p "$out/corpus" "$out/artifacts"
srcs=(workloads/fuzz/trace_fuzz.cpp workloads/trace.cpp workloads/trace_binary.cpp workloads/trace_text.cpp
      workloads/trace_info.cpp workloads/atomic_file.cpp)
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I. \
  "${srcs[@]}" -o "$out/trace_fuzz"

# Seeds: every bad file, the text seed in both forms, and small valid traces
# from each model (when alloclab is built).
cp workloads/tests/corpus/bad/*.trace workloads/fuzz/seed.txt "$out/corpus/"
if [[ -x build/alloclab ]]; then
  build/alloclab trace binary workloads/fuzz/seed.txt -o "$out/corpus/seed.trace"
  for m in $(build/alloclab trace gen --help | sed -n 's/.*Model: //p' | tr -d ','); do
    build/alloclab trace gen "$m" --requests 3 --connections 2 --threads 2 -o "$out/corpus/seed-$m.trace" 2>/dev/null || true
  done
fi

echo "fuzz: $seconds s" >&2
"$out/trace_fuzz" "$out/corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
  -artifact_prefix="$out/artifacts/" -print_final_stats=1 2>&1 | tail -25 || true
found=$(ls "$out/artifacts" | wc -l)
if ((found > 0)); then
  mkdir -p workloads/tests/corpus/fuzz
  cp "$out"/artifacts/* workloads/tests/corpus/fuzz/
  echo "fuzz: $found finding(s) copied to workloads/tests/corpus/fuzz/" >&2
  exit 1
fi
echo "fuzz: no findings" >&2
