#!/usr/bin/env bash
# What the harness itself costs, as ratios measured in one run each: the null
# backend (every part of the replay but an allocator) against glibc on
# http1-static, busy time (the replay threads' wall time less timeline
# sampling), median of the repetitions:
#   default             touch pages, 1 op in 16 timed alone (what a run does)
#   touch none          without writing the blocks (the server's own work)
#   no samples          without ops timed alone (the latency tails)
#   neither             the loop, the timer and the allocator calls only
# and, beside each, the ratio of busy time less the application's access
# (replay.access.seconds: the fill after each chain and the read before its
# frees, the server's own work, which every backend pays; an estimate from
# the 1 chain in 8 timed): what the harness and the allocator take; then
# what the timer's reads alone cost (replay.timer_reads x the calibrated
# cost of a read); then the untimed floor: the same replay with no timer
# read inside it (scripts/untimed-floor.sh), default and touch none,
# null and glibc alternating in fresh workers: null / glibc there is the
# lowest ratio any per-op timing of the trace could reach, and the timed
# busy time less it is what the timing adds;
# and the weak-scaling figures of null over the thread counts this machine
# has, each thread pinned (--pin: unpinned, a replay of some milliseconds
# measures how soon the scheduler spreads the threads), efficiency and
# per-op cost against one thread: the harness's own curve, under every
# allocator's; with how far its threads differ (the report's slowest thread
# over fastest, scaling_metrics.spread): interference between the threads.
# Null's per-op growth is its time inside the calls per op at T over at 1
# (the loop's own work between two timer reads).
#   scripts/bench-harness.sh [REPS]       default 9; writes build/bench-harness/
#   scripts/bench-harness.sh --summarize DIR
#                                         runs nothing: the figures of the
#                                         files in DIR (scripts/many-core.sh's
#                                         from another machine, or an earlier
#                                         run's); a configuration without its
#                                         file is left out
# ALLOCLAB_BIN names another alloclab (an older build, to compare; its
# alloclab-worker beside it runs the untimed floor, scripts/untimed-floor.sh,
# or ALLOCLAB_WORKER), and
# ALLOCLAB_BENCH_DIR another output folder.
# Needs a Release build in build/ (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
py=/usr/bin/python3
[[ -x $py ]] || py=python3
summarize=0
if [[ "${1:-}" == --summarize ]]; then
  out=${2:?"--summarize needs a folder"}
  [[ -f "$out/default.json" || -f "$out/scaling.json" ]] ||
    { echo "bench-harness.sh: $out holds neither default.json nor scaling.json" >&2; exit 2; }
  summarize=1
fi
reps=${1:-9}
bin=${ALLOCLAB_BIN:-build/alloclab}
if [[ $summarize == 0 ]]; then
out=${ALLOCLAB_BENCH_DIR:-build/bench-harness}
mkdir -p "$out"

run() {  # NAME ARGS...
  local name=$1
  shift
  "$bin" run --backends null,glibc --workloads http1-static --threads 1 --reps "$reps" -q --force \
    -o "$out/$name.json" "$@"
}
run default
run touch-none --touch none
run no-samples --sample 1048576
run neither --touch none --sample 1048576
ALLOCLAB_BIN=$bin scripts/untimed-floor.sh "$out" "$reps"
cores=$(nproc)
threads=1
for t in 2 4 8 16 32; do ((t <= cores)) && threads+=",$t"; done
"$bin" run --backends null --workloads http1-static,http-api --threads "$threads" --pin --reps "$reps" -q --force \
  -o "$out/scaling.json"
fi

"$py" - "$out" <<'EOF'
import json, os, statistics, sys
out = sys.argv[1]

def have(name):
    return os.path.exists(f"{out}/{name}.json")

def cells(name):
    return [c for c in json.load(open(f"{out}/{name}.json"))["cells"] if c["status"] == "ok"]

def busy(cs, backend):
    return statistics.median(c["replay"]["busy_seconds"] for c in cs if c["backend"] == backend)

def less_access(cs, backend):
    return statistics.median(c["replay"]["busy_seconds"] - ((c["replay"].get("access") or {}).get("seconds") or 0)
                             for c in cs if c["backend"] == backend)

def timed(cs, backend):
    return statistics.median(c["replay"]["allocator_seconds"] for c in cs if c["backend"] == backend)

if have("default"):
    ctx = json.load(open(f"{out}/default.json"))["context"]
    print(f"null / glibc on http1-static, busy time (median of repetitions; timed = inside the backend's calls)"
          f" on {ctx.get('cpu_model')}, {ctx.get('cores')} cores")
    print(f"{'configuration':14s} {'null ms':>8s} {'timed':>6s} {'glibc ms':>9s} {'timed':>6s} {'ratio':>6s}"
          f" {'less access':>12s}")
    for name in ("default", "touch-none", "no-samples", "neither"):
        if not have(name):
            continue
        cs = cells(name)
        n, g = busy(cs, "null"), busy(cs, "glibc")
        na, ga = less_access(cs, "null"), less_access(cs, "glibc")
        print(f"{name:14s} {n*1e3:8.2f} {timed(cs, 'null')*1e3:6.2f} {g*1e3:9.2f} {timed(cs, 'glibc')*1e3:6.2f}"
              f" {n/g:6.3f} {na/ga:12.3f}")

    # The timer's own share: the replay's measuring timer reads times the cost
    # of one read (the calibration's start+stop pair, about one read's latency).
    cs = cells("default")
    for b in ("null", "glibc"):
        reads = statistics.median(c["replay"].get("timer_reads", 0) for c in cs if c["backend"] == b)
        ns = statistics.median(c["replay"]["clock"]["overhead_ns"] for c in cs if c["backend"] == b)
        print(f"timer, default, {b}: {reads:,.0f} reads x {ns:.1f} ns = {reads * ns / 1e6:.2f} ms "
              f"({reads * ns / 1e9 / busy(cs, 'glibc'):.3f} of glibc's busy time)")

if os.path.exists(f"{out}/untimed.jsonl"):
    # The same replay with no timer read inside it: what replaying the trace
    # costs before anything is measured. Null's over glibc's is the lowest
    # ratio any per-op timing of this trace could give; the timed busy time
    # less this is what the timing adds.
    rows = [json.loads(line) for line in open(f"{out}/untimed.jsonl")]
    def same_trace(name):  # what the timing adds needs the timed replay's trace
        return {r["worker"]["replay"]["ops"] for r in rows} == {c["replay"]["ops"] for c in cells(name)}
    def wall(touch, backend):
        v = [r["worker"]["replay"]["busy_seconds"] for r in rows if r["touch"] == touch and r["backend"] == backend]
        return statistics.median(v) if v else None
    print("\nuntimed (alloclab-worker --count wall: no timer read inside the replay; the same steps, fill and read),"
          f" median of {len(rows) // 4}")
    print(f"{'configuration':14s} {'null ms':>8s} {'glibc ms':>9s} {'ratio':>6s} {'timing adds, null / glibc ms':>30s}")
    for touch, timed_name in (("pages", "default"), ("none", "touch-none")):
        n, g = wall(touch, "null"), wall(touch, "glibc")
        if n is None or g is None:
            continue
        adds = ""
        if have(timed_name) and same_trace(timed_name):
            cs = cells(timed_name)
            adds = f"{(busy(cs, 'null') - n) * 1e3:.2f} / {(busy(cs, 'glibc') - g) * 1e3:.2f}"
        print(f"{timed_name:14s} {n*1e3:8.2f} {g*1e3:9.2f} {n/g:6.3f} {adds:>30s}")

if not have("scaling"):
    sys.exit(0)
doc = json.load(open(f"{out}/scaling.json"))
print(f"\nweak scaling on {doc['context'].get('cores')} cores (efficiency = throughput(T) / (T x throughput(1));"
      " per-op growth = ns per op at T / at 1); null is the harness's own curve")
order = {b: i for i, b in enumerate(["null", "glibc", "jemalloc", "mimalloc", "tcmalloc"])}
for s in sorted(doc["scaling"], key=lambda s: (s["workload"], order.get(s["backend"], 99), s["backend"])):
    pts = ", ".join(f"T={p['threads']}: {p['efficiency']:.2f} / {p.get('ns_per_op_growth') or float('nan'):.2f}x"
                    + (" (oversubscribed)" if p["oversubscribed"] else "") for p in s["points"])
    print(f"  {s['workload']:14s} {s['backend']:9s} {pts}")

# Interference between threads: null's slowest thread's busy ns per op over
# its fastest's, as the report computes it (scaling_metrics.spread: threads
# of one kind only, median over repetitions); 1 on a quiet machine.
sys.path.insert(0, "harness/report")
from data import Data  # noqa: E402
import scaling_metrics as sm  # noqa: E402
d = Data(doc)
print("\nnull's threads (weak): slowest / fastest thread's busy ns per op")
for s in sm.series(d):
    parts = []
    for t in s.threads[1:]:
        v = sm.spread(d, "null", s, t)
        parts.append(f"T={t}: " + (f"{v:.2f}x" if v is not None else "none (threads of unlike kinds, or one at work)"))
    print(f"  {s.name:14s} " + ", ".join(parts))
EOF
