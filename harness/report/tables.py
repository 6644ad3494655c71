"""The seed document's comparison tables (seeds/001, "Executive Summary" and
"Comparative Analysis"), each reproduced with the measured column beside the
claimed one. Claimed cells are the document's words; measured cells come from
the results through the ledger's metric functions."""

from math import floor, log2
from statistics import median

from metrics import Missing, _workloads, fmt as _fmt, m_class_mean, m_ns_per_op, m_overhead, overhead_fit

SEED = "seeds/001_10661c74ba267df0.txt"


def _alloc_us(data, backend):
    try:
        m = m_class_mean(data, {"backend": backend, "class": "alloc", "scale": 0.001})
    except Missing:
        return None, "not run"
    lo, hi = min(m.per_workload.values()), max(m.per_workload.values())
    return m.value, f"{_fmt(m.value)} µs ({_fmt(lo)}–{_fmt(hi)})"


def _overhead(data, backend, _ratio=None):
    try:
        m = m_overhead(data, {"backend": backend})
    except Missing:
        return None, "not run"
    return m.value, f"{_fmt(m.value)}%"


def _ranks(values):
    """1 for the smallest; None values get no rank."""
    present = sorted((v, k) for k, v in values.items() if v is not None)
    return {k: i + 1 for i, (_, k) in enumerate(present)}


def executive_summary(data):
    rows = [("Bump Allocators", "bump@glibc", "0.05-0.1 µs", "0% waste", "reserved"),
            ("Pool Allocators", "pool@glibc", "0.5-1.5 µs", "5-10% waste", "reserved"),
            ("tcmalloc", "tcmalloc", "2-5 µs on hit", "20-30% overhead", "heap"),
            ("jemalloc", "jemalloc", "5-10 µs", "5-10% overhead", "heap"),
            ("System malloc", "glibc", "100+ µs with syscall", "50%+ fragmentation", "heap")]
    body = []
    for name, b, speed, mem, ratio in rows:
        body.append([name, b, speed, _alloc_us(data, b)[1], mem, _overhead(data, b, ratio)[1]])
    return {"title": "Executive Summary: strategies",
            "source": f"{SEED}, Executive Summary",
            "columns": ["Strategy", "Backend", "Speed (claimed)", "Alloc mean (measured)", "Memory (claimed)",
                        "Overhead (measured)"],
            "rows": body,
            "note": "Measured: net mean time per allocation (batch-timed, 1 thread, the null backend's time on the "
                    "same workload subtracted), median over the five HTTP models with the range; overhead: the "
                    "proportional part of RSS overhead (RSS growth at peak live − live, the null backend's growth "
                    "subtracted) fitted over three live-heap sizes of http1-static (see Memory by live-heap size)."}


def speed_rankings(data):
    rows = [("Bump Allocator", "bump@glibc", "0.05-0.1 µs"), ("Pool Allocator", "pool@glibc", "0.5-1.5 µs"),
            ("mimalloc", "mimalloc", "1-3 µs"), ("tcmalloc (hit)", "tcmalloc", "2-5 µs"),
            ("jemalloc", "jemalloc", "5-10 µs"), ("System malloc", "glibc", "100+ µs")]
    measured = {name: _alloc_us(data, b) for name, b, _ in rows}
    ranks = _ranks({k: v[0] for k, v in measured.items()})
    body = [[name, b, claim, str(i + 1), measured[name][1], str(ranks.get(name, "–"))]
            for i, (name, b, claim) in enumerate(rows)]
    return {"title": "Allocation Speed Rankings (microseconds)", "source": f"{SEED}, Allocation Speed Rankings",
            "columns": ["Allocator", "Backend", "Claimed", "Claimed rank", "Measured alloc mean", "Measured rank"],
            "rows": body, "note": "Rank 1 is the fastest."}


def fragmentation_rankings(data):
    rows = [("Bump Allocator", "bump@glibc", "0% waste", "reserved"), ("jemalloc", "jemalloc", "5-10%", "heap"),
            ("mimalloc", "mimalloc", "2-5%", "heap"), ("Pool Allocator", "pool@glibc", "5-15%", "reserved"),
            ("Slab Allocator", "slab@glibc", "10-15%", "reserved"), ("tcmalloc", "tcmalloc", "20-30%", "heap"),
            ("System malloc", "glibc", "50%+", "heap")]
    measured = {name: _overhead(data, b, r) for name, b, _, r in rows}
    ranks = _ranks({k: v[0] for k, v in measured.items()})
    body = [[name, b, claim, str(i + 1), measured[name][1], str(ranks.get(name, "–"))]
            for i, (name, b, claim, _) in enumerate(rows)]
    return {"title": "Memory Fragmentation Rankings", "source": f"{SEED}, Memory Fragmentation Rankings",
            "columns": ["Allocator", "Backend", "Claimed", "Claimed rank", "Measured overhead", "Measured rank"],
            "rows": body, "note": "Rank 1 wastes least. The document's chart lists jemalloc before mimalloc although "
                                  "its own figures put mimalloc lower; the claimed rank is the chart's order."}


def scalability(data):
    rows = [("System malloc", "glibc", "contention bottleneck"), ("tcmalloc", "tcmalloc", "scales, then flattens"),
            ("jemalloc", "jemalloc", "scales, then flattens earlier"), ("mimalloc", "mimalloc", "near-linear")]
    counts = [t for t in data.thread_counts]
    body = []
    for name, b, claim in rows:
        cells = []
        for t in counts:
            sp = [p["speedup"] for w in _workloads(data, {}) for p in data.scaling(b, w)
                  if p["threads"] == t and p.get("speedup") is not None]
            over = t > data.cores
            cells.append(("–" if not sp else f"{_fmt(median(sp))}×") + (" (over cores)" if over and sp else ""))
        body.append([name, b, claim] + cells)
    return {"title": "Scalability with Thread Count", "source": f"{SEED}, Scalability with Thread Count",
            "columns": ["Allocator", "Backend", "Claimed (1 to 32 threads)"] + [f"Speedup at {t}" for t in counts],
            "rows": body,
            "note": f"Speedup: throughput at T threads ÷ at 1 thread, median over workloads. This machine has "
                    f"{data.cores} usable cores; the document's curves reach 32 threads."}


def _stars(value, best):
    """5 for the best; one star less per doubling of the figure; at least 1."""
    if value is None or best is None or value <= 0 or best <= 0:
        return "–"
    return "★" * max(1, min(5, 5 - floor(log2(value / best) + 1e-9)))


def tradeoff_matrix(data):
    apache = "apr-real@glibc" if data.has_backend("apr-real@glibc") else "apr@glibc"
    rows = [("nginx", "nginx@glibc", "★★★★★", "★★★★"), ("h2o", "h2o@glibc", "★★★★★", "★★★★★"),
            ("HAProxy", "haproxy@glibc", "★★★★★", "★★★★"), ("Envoy", "pool@tcmalloc", "★★★★", "★★★"),
            ("Apache", apache, "★★★", "★★★")]
    speed, mem = {}, {}
    for name, b, _, _ in rows:
        try:
            speed[name] = m_ns_per_op(data, {"backend": b}).value
        except Missing:
            speed[name] = None
        ratios = []
        for w in data.workload_names:
            if data.workload_config(w).get("model") not in data.DEFAULT_MODELS or data.workload_config(w).get("params"):
                continue
            r = data.metric(b, w, 1, "peak_rss_over_peak_live")
            if r is not None:
                ratios.append(r - (data.metric("null", w, 1, "peak_rss_over_peak_live") or 0.0))
        mem[name] = median(ratios) if ratios else None
    best_s = min((v for v in speed.values() if v), default=None)
    best_m = min((v for v in mem.values() if v and v > 0), default=None)
    body = [[name, b, cs, _stars(speed[name], best_s), _fmt(speed[name], "ns/op") if speed[name] else "not run",
             cm, _stars(mem[name], best_m), f"{_fmt(mem[name])}× live" if mem[name] else "not run"]
            for name, b, cs, cm in rows]
    return {"title": "Memory-Speed Tradeoff Matrix (server styles)", "source": f"{SEED}, Memory-Speed Tradeoff Matrix",
            "columns": ["Server", "Backend", "Speed (claimed)", "Speed (measured)", "Allocator ns per op",
                        "Memory (claimed)", "Memory (measured)", "Peak RSS"],
            "rows": body,
            "note": "Measured stars: 5 for the best of these servers, one fewer per doubling (net allocator ns per op, "
                    "the null backend's subtracted, median over workloads; peak RSS growth ÷ peak live bytes less the null backend's, which is the harness's own). Envoy is tcmalloc "
                    "with object pools (pool@tcmalloc). Axum, Actix and Node.js have no backend here."}


MEMORY_BACKENDS = ["glibc", "jemalloc", "mimalloc", "tcmalloc", "pool@glibc", "slab@glibc", "bump@glibc"]


def memory_by_size(data, model="http1-static"):
    """Overhead = fixed + proportional × live, fitted per backend over the sizes of one model."""
    sizes = []
    for w in data.workload_names:
        if data.workload_config(w).get("model") == model:
            live = (data.workload_info(w) or {}).get("peak_live_bytes")
            if live:
                sizes.append((live, w))
    sizes.sort()
    body = []
    for b in MEMORY_BACKENDS:
        if not data.has_backend(b):
            continue
        try:
            fixed, slope, pts = overhead_fit(data, b, model)
        except Missing:
            continue
        row = [b]
        for _, w in sizes:
            live, o = pts.get(w, (None, None))
            row.append(f"{_fmt(100 * o / live)}%" if live else "–")
        row += [f"{_fmt(fixed / 2**20)} MiB", f"{_fmt(slope * 100)}%"]
        body.append(row)
    return {"title": "Memory by live-heap size", "source": "the run's memory-scale workloads",
            "columns": ["Backend"] + [f"Overhead at {_fmt(live / 2**20)} MiB live ({w})" for live, w in sizes]
                       + ["Fixed part", "Proportional part"],
            "rows": body,
            "note": "Overhead: RSS growth at the moment of peak live bytes − the live bytes, less the null backend's "
                    "RSS growth on the same workload (the harness's own), as a share of live bytes; median over "
                    "repetitions. Fixed and proportional parts: a least-squares line through the sizes. A fixed "
                    "per-process cost dominates small heaps; the memory verdicts read the proportional part. RSS "
                    "counts resident pages, so memory reserved but never touched is not overhead here; the "
                    "allocators' own counters stay in the results as diagnostics."}


def all_tables(data):
    return [executive_summary(data), speed_rankings(data), fragmentation_rankings(data), memory_by_size(data),
            scalability(data), tradeoff_matrix(data)]
