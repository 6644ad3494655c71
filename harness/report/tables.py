"""The seed document's comparison tables (seeds/001, "Executive Summary" and
"Comparative Analysis"), each reproduced with the measured column beside the
claimed one. Claimed cells are the document's words; measured cells come from
the results through the ledger's metric functions."""

from math import floor, log2
from statistics import median

from metrics import Missing, fmt as _fmt, m_class_mean, m_ns_per_op, m_overhead, overhead_fit
from scaling_metrics import KIND_WORDS, figures
from serve_tables import matrix_figures

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


def _median_over_series(figs, b, t, key):
    vals = [rows[b][t][key] for _, rows in figs if b in rows and t in rows[b] and rows[b][t][key] is not None]
    return median(vals) if vals else None


def _beside_null(v, null, unit=""):
    """"0.612 (null 0.627)": a figure with the harness's own beside it."""
    if v is None:
        return "–"
    return f"{_fmt(v)}{unit}" + (f" (null {_fmt(null)}{unit})" if null is not None else "")


def _scaling_note(data, figs):
    kinds = sorted({s.kind for s, _ in figs})
    return (f"Measured on {data.machine_words()} ({'; '.join(KIND_WORDS[k] for k in kinds) or 'no thread sweep'}). "
            "Efficiency: throughput (ops ÷ busy seconds) at T threads ÷ (T × at 1 thread); 1 is linear. Contention "
            "factor: net allocator ns per op at T ÷ at 1 (net: the null backend's per-op cost on the same workload "
            "and threads subtracted); 1 is none. Beside each, in brackets, the null backend's own figure (for "
            "contention its per-op growth, not net): the harness's share. Thread counts above the machine's "
            f"{data.cores} cores are oversubscribed.")


def scalability(data):
    """The document's scaling table; `data` is the view the scaling claims read (maybe a many-core file)."""
    rows = [("System malloc", "glibc", "contention bottleneck"), ("tcmalloc", "tcmalloc", "scales, then flattens"),
            ("jemalloc", "jemalloc", "scales, then flattens earlier"), ("mimalloc", "mimalloc", "near-linear")]
    figs = figures(data, [b for _, b, _ in rows])
    counts = sorted({t for s, _ in figs for t in s.threads if t > 1})
    body = []
    for name, b, claim in rows:
        cells = []
        for t in counts:
            over = " (over cores)" if data.cores and t > data.cores else ""
            e = _beside_null(_median_over_series(figs, b, t, "efficiency"),
                             _median_over_series(figs, "null", t, "efficiency"))
            c = _beside_null(_median_over_series(figs, b, t, "contention"),
                             _median_over_series(figs, "null", t, "contention"), "×")
            cells += [e + (over if e != "–" else ""), c]
        body.append([name, b, claim] + cells)
    columns = ["Allocator", "Backend", "Claimed (1 to 32 threads)"]
    for t in counts:
        columns += [f"Efficiency at {t}", f"Contention at {t}"]
    return {"title": "Scalability with Thread Count", "source": f"{SEED}, Scalability with Thread Count",
            "columns": columns, "rows": body,
            "note": "Median over series (" + ", ".join(s.name for s, _ in figs) + "). " + _scaling_note(data, figs)
                    + " The document's curves reach 32 threads."}


def scaling_by_series(data):
    """Every backend's throughput, efficiency and contention factor per series and thread count, null's beside."""
    figs = figures(data)
    counts = sorted({t for s, _ in figs for t in s.threads})
    body = []
    for s, rows in figs:
        null = rows.get("null", {})
        for b, pts in rows.items():
            row = [s.name, s.kind, b]
            for t in counts:
                p, n = pts.get(t), null.get(t, {}) if b != "null" else {}
                if p is None:
                    row.append("–")
                    continue
                text = _beside_null(p["throughput"] / 1e6, n.get("throughput") and n["throughput"] / 1e6, " Mops/s")
                if t > 1:
                    text += "; efficiency " + _beside_null(p["efficiency"], n.get("efficiency"))
                    word = "per-op growth" if b == "null" else "contention"
                    text += f"; {word} " + _beside_null(p["contention"], n.get("contention"), "×")
                    if p.get("spread") is not None:
                        text += "; slowest thread " + _beside_null(p["spread"], n.get("spread"), "×")
                row.append(text)
            body.append(row)
    return {"title": "Scaling per workload and thread count", "source": "the thread sweep the scaling claims read",
            "columns": ["Series", "Kind", "Backend"] + [f"{t} thread{'s' if t > 1 else ''}" for t in counts],
            "rows": body,
            "note": "Throughput in million ops per second (median over repetitions). The null backend's rows are "
                    "the harness alone: its contention column is its own per-op growth. Slowest thread: the slowest "
                    "thread's busy ns per op (wall time less waits, over its ops) ÷ the fastest's, where the "
                    "threads are of one kind (no block freed on another thread; absent otherwise, as for proxy's "
                    "producers and consumers); 1 is none, and above it something slows some threads and not others (placement, "
                    "shared cache lines, a busy core). " + _scaling_note(data, figs)}


def _stars(value, best):
    """5 for the best; one star less per doubling of the figure; at least 1."""
    if value is None or best is None or value <= 0 or best <= 0:
        return "–"
    return "★" * max(1, min(5, 5 - floor(log2(value / best) + 1e-9)))


def tradeoff_matrix(data, serve=None):
    """The document's matrix with the model-based figures; with serve (a ServeData view), the real servers'
    measured columns beside them and a Node.js row."""
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
            if data.workload_config(w).get("model") not in data.DEFAULT_MODELS or not data.is_plain(w):
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
    table = {"title": "Memory-Speed Tradeoff Matrix (server styles)",
             "source": f"{SEED}, Memory-Speed Tradeoff Matrix",
             "columns": ["Server", "Backend", "Speed (claimed)", "Speed (measured)", "Allocator ns per op",
                         "Memory (claimed)", "Memory (measured)", "Peak RSS"],
             "rows": body,
             "note": "Measured stars: 5 for the best of these servers, one fewer per doubling (net allocator ns per op, "
                     "the null backend's subtracted, median over workloads; peak RSS growth ÷ peak live bytes less the null backend's, which is the harness's own). Envoy is tcmalloc "
                     "with object pools (pool@tcmalloc). Axum, Actix and Node.js have no backend here; with --serve, Axum "
                     "(as the hyper-on-tokio server) and Node.js are measured as real servers."}
    return table if serve is None else _with_real_servers(table, serve)


def _with_real_servers(table, serve):
    """Adds the real servers' measured speed and memory (serve_tables.matrix_figures) to the matrix, and Axum and
    Node.js rows; the stars count doublings from the best real server, as the model-based ones do."""
    figs = matrix_figures(serve)
    best_s = min((c for c, _ in figs.values() if c), default=None)
    best_m = min((m for _, m in figs.values() if m), default=None)

    def real(name):
        cpu, mib = figs.get(name, (None, None))
        if cpu is None and mib is None:
            return ["–", "not measured", "–", "not measured"]
        return [_stars(cpu, best_s), _fmt(cpu / 1000, "µs") if cpu else "–", _stars(mib, best_m),
                _fmt(mib, "MiB") if mib else "–"]

    rows = [r + real(r[0]) for r in table["rows"]]
    # The document's rows without a strategy backend, measured only as real
    # servers: Axum (the hyper-on-tokio server stands for it) and Node.js.
    for name, speed, memory in (("Axum", "★★★★", "★★★"), ("Node.js", "★★", "★★")):
        if name in figs:
            rows.append([name, "no backend", speed, "–", "–", memory, "–", "–"] + real(name))
    base = serve.baseline
    return dict(table, rows=rows,
                columns=table["columns"] + ["Speed (real server)", f"Server CPU per request ({base})",
                                            "Memory (real server)", f"VmHWM ({base})"],
                note=table["note"] + f" Real-server stars count, the same way, doublings of the server's measured "
                                     f"CPU per request (peak phase) and of its VmHWM (processes summed), medians "
                                     f"over repetitions under {base}, the system allocator these servers ship "
                                     f"with, from the best real server here; {serve.machine_words()}.")


MEMORY_BACKENDS = ["glibc", "jemalloc", "mimalloc", "tcmalloc", "pool@glibc", "slab@glibc", "bump@glibc"]


def memory_by_size(data, model="http1-static"):
    """Overhead = fixed + proportional × live, fitted per backend over the sizes of one model."""
    sizes = []
    for w in data.workload_names:
        if data.workload_config(w).get("model") == model and not data.has_replay_options(w):
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


def _os(cell, key):
    os = (cell.get("replay") or {}).get("os") or {}
    v = os.get(key)
    return v if isinstance(v, (int, float)) else None


def faults_and_system_time(data, workload="http1-static"):
    """Per backend on one workload at one thread: page faults per 1,000 ops and the replay's system and user CPU time
    (getrusage around the replay), beside the time inside the allocator; medians over repetitions."""
    rows = []
    for b in data.backends:
        cells = data.ok_cells(b, workload, 1)
        if not cells or _os(cells[0], "minor_faults") is None:
            continue

        def med(fn):
            vals = [v for v in (fn(c) for c in cells) if v is not None]
            return median(vals) if vals else None

        def per_kop(c):
            ops = (c.get("replay") or {}).get("ops") or 0
            f = _os(c, "minor_faults")
            return f * 1000 / ops if ops and f is not None else None

        def ms(key):
            return lambda c: _os(c, key) * 1000 if _os(c, key) is not None else None

        alloc_ms = med(lambda c: (c.get("replay") or {}).get("allocator_seconds", 0) * 1000)
        huge = med(lambda c: _os(c, "anon_huge_bytes_end"))
        huge_peak = med(lambda c: _os(c, "anon_huge_bytes_peak"))
        rss_then = med(lambda c: _os(c, "rss_at_anon_huge_peak_bytes"))
        rows.append([b, _fmt(med(per_kop)), _fmt(med(lambda c: _os(c, "major_faults"))), _fmt(med(ms("system_seconds"))),
                     _fmt(med(ms("user_seconds"))), _fmt(alloc_ms),
                     _fmt(huge / 2**20) if huge is not None else "–",
                     "–" if huge_peak is None else _fmt(huge_peak / 2**20)
                     + (f" of {_fmt(rss_then / 2**20)} RSS" if rss_then else "")])
    thp = (data.context.get("thp") or {}) if isinstance(getattr(data, "context", None), dict) else {}
    mode = f"transparent huge pages `{thp.get('enabled', 'unknown')}` (defrag `{thp.get('defrag', 'unknown')}`)"
    return {"title": f"Page faults and system time ({workload}, 1 thread)",
            "source": "getrusage(RUSAGE_SELF) around each replay; AnonHugePages from /proc/self/smaps_rollup",
            "columns": ["Backend", "Minor faults per 1,000 ops", "Major faults", "System ms", "User ms",
                        "Allocator ms", "AnonHugePages at the end, MiB", "AnonHugePages at the RSS peak, MiB"],
            "rows": rows,
            "note": "The kernel's counts over the replay itself, every thread of the worker: its page faults and CPU "
                    "time (user + system includes the timing loop, the touches of each block and the RSS timeline, "
                    "not the trace's loading or the release after); allocator ms is the time inside the backend. "
                    "AnonHugePages (anonymous memory the kernel backs with transparent huge pages) is read at the "
                    "end of the replay, before the blocks still live are freed, and at the timeline point of highest "
                    "RSS (read whenever RSS passed its previous reading by 2 MiB; the last such reading, beside the "
                    "RSS it was read at); "
                    f"{mode}. Medians over repetitions."}


def all_tables(data, scaling=None, serve=None):
    """The tables; the scaling ones read `scaling` (the view the scaling claims read) when given, the tradeoff
    matrix's real-server columns `serve` (a ServeData view) when given. The page-fault table is shown in the
    section on the application (application_tables.py)."""
    scaling = data if scaling is None else scaling
    return [executive_summary(data), speed_rankings(data), fragmentation_rankings(data), memory_by_size(data),
            scalability(scaling), scaling_by_series(scaling), tradeoff_matrix(data, serve)]
