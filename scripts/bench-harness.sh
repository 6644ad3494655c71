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
# cost of a read).
# and the weak-scaling figures of null over the thread counts this machine
# has (efficiency and per-op cost against one thread): the harness's own
# curve, under every allocator's; with how far its threads, which have the
# same work, differ (slowest over fastest thread's ns per op) and how its
# time inside the calls grows with T: interference between the threads.
#   scripts/bench-harness.sh [REPS]       default 9; writes build/bench-harness/
# ALLOCLAB_BIN names another alloclab (an older build, to compare), and
# ALLOCLAB_BENCH_DIR another output folder.
# Needs a Release build in build/ (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-9}
bin=${ALLOCLAB_BIN:-build/alloclab}
out=${ALLOCLAB_BENCH_DIR:-build/bench-harness}
mkdir -p "$out"
py=/usr/bin/python3

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
cores=$(nproc)
threads=1
for t in 2 4 8 16 32; do ((t <= cores)) && threads+=",$t"; done
"$bin" run --backends null --workloads http1-static,http-api --threads "$threads" --reps "$reps" -q --force \
  -o "$out/scaling.json"

"$py" - "$out" <<'EOF'
import json, statistics, sys
out = sys.argv[1]

def cells(name):
    return [c for c in json.load(open(f"{out}/{name}.json"))["cells"] if c["status"] == "ok"]

def busy(cs, backend):
    return statistics.median(c["replay"]["busy_seconds"] for c in cs if c["backend"] == backend)

def less_access(cs, backend):
    return statistics.median(c["replay"]["busy_seconds"] - ((c["replay"].get("access") or {}).get("seconds") or 0)
                             for c in cs if c["backend"] == backend)

def timed(cs, backend):
    return statistics.median(c["replay"]["allocator_seconds"] for c in cs if c["backend"] == backend)

print("null / glibc on http1-static, busy time (median of repetitions; timed = inside the backend's calls)")
print(f"{'configuration':14s} {'null ms':>8s} {'timed':>6s} {'glibc ms':>9s} {'timed':>6s} {'ratio':>6s}"
      f" {'less access':>12s}")
for name in ("default", "touch-none", "no-samples", "neither"):
    cs = cells(name)
    n, g = busy(cs, "null"), busy(cs, "glibc")
    na, ga = less_access(cs, "null"), less_access(cs, "glibc")
    print(f"{name:14s} {n*1e3:8.2f} {timed(cs, 'null')*1e3:6.2f} {g*1e3:9.2f} {timed(cs, 'glibc')*1e3:6.2f} {n/g:6.3f}"
          f" {na/ga:12.3f}")

# The timer's own share: the replay's measuring timer reads times the cost
# of one read (the calibration's start+stop pair, about one read's latency).
cs = cells("default")
for b in ("null", "glibc"):
    reads = statistics.median(c["replay"].get("timer_reads", 0) for c in cs if c["backend"] == b)
    ns = statistics.median(c["replay"]["clock"]["overhead_ns"] for c in cs if c["backend"] == b)
    print(f"timer, default, {b}: {reads:,.0f} reads x {ns:.1f} ns = {reads * ns / 1e6:.2f} ms "
          f"({reads * ns / 1e9 / busy(cs, 'glibc'):.3f} of glibc's busy time)")

doc = json.load(open(f"{out}/scaling.json"))
print(f"\nnull under weak scaling on {doc['context'].get('cores')} cores "
      "(efficiency = throughput(T) / (T x throughput(1)); per-op growth = ns per op at T / at 1)")
for s in doc["scaling"]:
    pts = ", ".join(f"T={p['threads']}: {p['efficiency']:.2f} / {p.get('ns_per_op_growth') or float('nan'):.2f}x"
                    + (" (oversubscribed)" if p["oversubscribed"] else "") for p in s["points"])
    print(f"  {s['workload']:14s} {pts}")

# Interference between threads: every thread of a weak trace has the same
# work, so the slowest thread's ns per op over the fastest's would be 1 on a
# quiet machine; and null's time inside its calls per op (the loop's own
# work between two timer reads) should not grow with T. Medians over the
# repetitions.
print("\nnull's threads (weak): slowest / fastest thread's ns per op; ns per op inside the calls, at T / at 1")
ok = [c for c in doc["cells"] if c["status"] == "ok" and c["backend"] == "null"]
for wl in sorted({c["workload"] for c in ok}):
    mine = [c for c in ok if c["workload"] == wl]
    def inside(t):
        v = [c["replay"]["allocator_seconds"] * 1e9 / c["replay"]["ops"] for c in mine if c["threads"] == t]
        return statistics.median(v) if v else float("nan")
    parts = []
    for t in sorted({c["threads"] for c in mine}):
        if t == 1:
            continue
        spread = []
        for c in mine:
            if c["threads"] != t:
                continue
            ns = [p["wall_seconds"] / p["ops"] for p in c["replay"]["per_thread"] if p["ops"]]
            spread.append(max(ns) / min(ns))
        parts.append(f"T={t}: {statistics.median(spread):.2f}x, {inside(1):.1f} -> {inside(t):.1f} ns "
                     f"({inside(t) / inside(1):.2f}x)")
    print(f"  {wl:14s} " + "; ".join(parts))
EOF
