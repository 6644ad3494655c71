"""The ledger's metric functions. Each takes a Data view (data.py) and the
claim's metric parameters, and returns a Measure or raises Missing(reason).
The ledger calls each one on the whole results and again on bootstrap
resamples, so a metric must read everything through the view.

One basis per quantity:
  - time is net: the null backend's figure on the same workload and thread
    count (the harness's own cost per op, measured in the same run) is
    subtracted from every backend's;
  - memory is RSS growth over the worker's baseline, less the null backend's
    growth (the harness's own); the allocators' own counters stay in the
    results as diagnostics and no verdict reads them."""

from dataclasses import dataclass, field
from statistics import median

NULL = "null"


class Missing(Exception):
    """The data cannot test the claim; the message says why."""


@dataclass
class Measure:
    value: object                 # a number, or a list for rankings
    unit: str = ""
    detail: str = ""              # how it was computed from what
    per_workload: dict = field(default_factory=dict)
    span_seconds: float = None    # for time-based policies: replay seconds the policy had to act


def fmt(v, unit=""):
    if isinstance(v, (list, tuple)):
        return " < ".join(str(x) for x in v)
    if v is None:
        return "n/a"
    a = abs(v)
    s = f"{v:.3g}" if a < 1000 else f"{v:,.0f}"
    return f"{s} {unit}".strip()


def _spread(per):
    if not per:
        return ""
    lo, hi = min(per.values()), max(per.values())
    return f"{fmt(lo)}–{fmt(hi)} over {len(per)} workloads"


def _need(data, *backends):
    for b in backends:
        if not data.has_backend(b):
            raise Missing(f"the results hold no cells for backend {b}")


def _aggregate(per, what):
    if not per:
        raise Missing(f"no workload has {what}")
    return median(per.values())


def _workloads(data, p):
    """The workloads a metric reads: those of the models p names (all models'
    default-size workloads when it names none)."""
    if p.get("workloads"):
        return [w for w in p["workloads"] if w in data.workload_names]
    models = p.get("models")
    out = []
    for w in data.workload_names:
        cfg = data.workload_config(w)
        if models is not None:
            if cfg.get("model") in models and not cfg.get("params"):
                out.append(w)
        elif cfg.get("model") in data.DEFAULT_MODELS and not cfg.get("params"):
            out.append(w)
    return out


# ---- time ------------------------------------------------------------------

def net_metric(data, b, w, name, threads=1):
    """A timing figure less the null backend's on the same workload and threads."""
    v = data.metric(b, w, threads, name)
    if v is None:
        return None
    floor = data.metric(NULL, w, threads, name)
    if floor is None:
        raise Missing(f"no null-backend {name} on {w}: the harness floor cannot be subtracted")
    return v - floor


def net_ns_per_op(data, b, w, threads=1):
    v = data.ns_per_op(b, w, threads)
    if v is None:
        return None
    floor = data.ns_per_op(NULL, w, threads)
    if floor is None:
        raise Missing(f"no null-backend cells on {w}: the harness floor cannot be subtracted")
    return v - floor


def _net_per_workload(data, b, name, p):
    out = {}
    for w in _workloads(data, p):
        v = net_ns_per_op(data, b, w) if name == "ns_per_op" else net_metric(data, b, w, name)
        if v is not None:
            out[w] = v
    return out


def m_class_mean(data, p):
    """Net mean time of one op class (batch-timed, threads=1), median over workloads."""
    b, cls = p["backend"], p.get("class", "alloc")
    _need(data, b, NULL)
    per = {w: v * p.get("scale", 1.0) for w, v in _net_per_workload(data, b, f"{cls}_mean_ns", p).items()}
    v = _aggregate(per, f"{cls} ops for {b}")
    return Measure(v, p.get("unit", "ns"), f"{b}: net mean {cls} time, median over workloads ({_spread(per)})", per)


def m_ns_per_op(data, p):
    """Net allocator time per op (every op class), median over workloads."""
    b = p["backend"]
    _need(data, b, NULL)
    per = _net_per_workload(data, b, "ns_per_op", p)
    return Measure(_aggregate(per, f"ops for {b}"), "ns",
                   f"{b}: net allocator ns per op, median over workloads ({_spread(per)})", per)


def m_ratio(data, p):
    """num ÷ den of a net timing figure per workload (threads=1), median over workloads."""
    nb, db, metric = p["num"], p["den"], p["metric"]
    _need(data, nb, db, NULL)
    n, d = _net_per_workload(data, nb, metric, p), _net_per_workload(data, db, metric, p)
    per = {w: n[w] / d[w] for w in n if w in d and d[w] > 0}
    if not per and d:
        raise Missing(f"{db}'s net {metric} is not above the harness's floor ("
                      + ", ".join(f"{w}: {fmt(x)} ns" for w, x in d.items())
                      + "): the null backend's own time is as large, so a ratio is not resolved")
    v = _aggregate(per, f"net {metric} for both {nb} and {db}")
    if p.get("as") == "percent_faster":
        per = {w: (r - 1.0) * 100.0 for w, r in per.items()}
        return Measure((v - 1.0) * 100.0, "%", f"{nb} ÷ {db} net {metric} − 1 (how much faster {db} is), median "
                                               f"over workloads ({_spread(per)})", per)
    return Measure(v, "×", f"{nb} ÷ {db} net {metric}, median over workloads ({_spread(per)})", per)


def m_request_speedup(data, p):
    """How many times less net allocator time per request the request-scoped
    backends take than the general allocators: the smallest pairwise ratio."""
    fast, slow, metric = p["fast"], p["slow"], p.get("metric", "request_p50_ns")
    _need(data, *fast, *slow, NULL)
    pairs = {}
    for f in fast:
        nf = _net_per_workload(data, f, metric, p)
        for s in slow:
            ns = _net_per_workload(data, s, metric, p)
            per = {w: ns[w] / nf[w] for w in ns if w in nf and nf[w] > 0}
            if per:
                pairs[f"{s}/{f}"] = median(per.values())
    if not pairs:
        raise Missing(f"no workload has net {metric} above zero for these backends")
    worst, best = min(pairs, key=pairs.get), max(pairs, key=pairs.get)
    return Measure(pairs[worst], "×",
                   f"general ÷ request-scoped net {metric}, median over workloads; smallest pair {worst} "
                   f"{fmt(pairs[worst])}×, largest {best} {fmt(pairs[best])}×", pairs)


def _sweep(data, p, b):
    """{param value: net figure} over the sweep workloads of one model."""
    model, key, cls = p["model"], p["param"], p["class"]
    pts = {}
    for w in data.workload_names:
        cfg = data.workload_config(w)
        params = cfg.get("params") or {}
        if cfg.get("model") != model or key not in params:
            continue
        fixed = {k: str(v) for k, v in p.get("fixed", {}).items()}
        if set(params) != {key} | set(fixed) or any(params.get(k) != v for k, v in fixed.items()):
            continue
        v = net_metric(data, b, w, f"{cls}_mean_ns")
        if v is not None:
            pts[float(params[key])] = v
    return pts


def m_sweep_growth(data, p):
    """O(1) as a slope: the least-squares slope of net cost per op against the
    swept parameter, times the sweep's span: how many ns the cost of one op
    grows from the smallest to the largest value (0 for a constant cost)."""
    b = p["backend"]
    _need(data, b, NULL)
    pts = _sweep(data, p, b)
    if len(pts) < 3:
        raise Missing(f"fewer than three {p['model']} workloads sweeping {p['param']} for {b}")
    xs = sorted(pts)
    mx, my = sum(xs) / len(xs), sum(pts.values()) / len(xs)
    slope = sum((x - mx) * (pts[x] - my) for x in xs) / sum((x - mx) ** 2 for x in xs)
    curve = ", ".join(f"{x:g}: {fmt(pts[x])}" for x in xs)
    return Measure(slope * (xs[-1] - xs[0]), "ns",
                   f"{b}: net {p['class']} ns per op against {p['param']} ({curve}); slope {fmt(slope)} ns per "
                   f"unit, so {fmt(slope * (xs[-1] - xs[0]))} ns from {p['param']}={xs[0]:g} to {xs[-1]:g}",
                   {str(x): pts[x] for x in xs})


# ---- memory ----------------------------------------------------------------

def _rss_overhead_bytes(data, b, w):
    """(RSS growth at peak live − the live bytes) less the null backend's RSS
    growth at its peak live (the harness's own), and the live bytes."""
    rss = data.metric(b, w, 1, "rss_at_peak_live_bytes")
    live = data.metric(b, w, 1, "peak_live_bytes")
    if rss is None or not live:
        return None, None
    floor = data.metric(NULL, w, 1, "rss_at_peak_live_bytes")
    if floor is None:
        raise Missing(f"no null-backend memory figures on {w}: the harness's own RSS cannot be subtracted")
    return rss - floor - live, live


def overhead_fit(data, b, model):
    """Least-squares fit overhead = fixed + proportional × live over the
    workloads of one model at several sizes. Returns (fixed bytes,
    proportional, points {workload: (live, overhead)})."""
    pts = {}
    for w in data.workload_names:
        if data.workload_config(w).get("model") != model:
            continue
        o, live = _rss_overhead_bytes(data, b, w)
        if o is not None:
            pts[w] = (live, o)
    if len(pts) < 3:
        raise Missing(f"{b} has memory figures on {len(pts)} sizes of {model}; the fit needs three or more "
                      f"(the default suite runs three sizes of {model}: more connections and requests)")
    xs = [x for x, _ in pts.values()]
    ys = [y for _, y in pts.values()]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx <= 0:
        raise Missing(f"the {model} sizes do not differ in live bytes")
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return my - slope * mx, slope, pts


def _mib(x):
    return x / 2 ** 20


def m_overhead(data, p):
    """Memory overhead in percent of the live bytes, on RSS: the proportional
    part of a fit over several live-heap sizes."""
    b, model = p["backend"], p.get("model", "http1-static")
    _need(data, b, NULL)
    fixed, slope, pts = overhead_fit(data, b, model)
    big = max(pts, key=lambda w: pts[w][0])
    live, o = pts[big]
    sizes = ", ".join(f"{fmt(_mib(x))} MiB: {fmt(100 * y / x)}%" for x, y in sorted(pts.values()))
    return Measure(slope * 100.0, "%",
                   f"{b} on {model}: overhead = {fmt(_mib(fixed))} MiB fixed + {fmt(slope * 100)}% of live "
                   f"(fit over {len(pts)} sizes); at the largest, {fmt(_mib(live))} MiB live, the whole overhead is "
                   f"{fmt(100 * o / live)}% (by size: {sizes})",
                   {w: 100 * y / x for w, (x, y) in pts.items()})


def m_memory_ratio(data, p):
    """num ÷ den of RSS growth at peak live (the harness's own subtracted) on
    the largest workload of a model."""
    nb, db, model = p["num"], p["den"], p.get("model", "http1-static")
    _need(data, nb, db, NULL)
    ws = [w for w in data.workload_names if data.workload_config(w).get("model") == model]
    sized = []
    for w in ws:
        live = data.metric(nb, w, 1, "peak_live_bytes")
        if live:
            sized.append((live, w))
    if not sized:
        raise Missing(f"no {model} workload has memory figures for {nb}")
    live, w = max(sized)
    use = {}
    for b in (nb, db):
        o, lv = _rss_overhead_bytes(data, b, w)
        if o is None:
            raise Missing(f"no memory figures for {b} on {w}")
        use[b] = o + lv
    if use[db] <= 0:
        raise Missing(f"{db}'s RSS growth on {w} is not above the harness's own")
    return Measure(use[nb] / use[db], "×",
                   f"{nb} ÷ {db} RSS growth at peak live (the null backend's subtracted) on {w}, the largest "
                   f"size ({fmt(_mib(live))} MiB live): {fmt(_mib(use[nb]))} ÷ {fmt(_mib(use[db]))} MiB", {w: 0})


def _timeline(cell):
    mem = cell["replay"]["memory"]
    cols = mem["timeline_columns"]
    rows = [dict(zip(cols, row)) for row in mem["timeline"]]
    # The last point is taken after the replay threads finished: not "while the replay runs".
    ops = cell["replay"].get("ops")
    if rows and ops is not None and rows[-1]["ops"] >= ops:
        rows = rows[:-1]
    return rows, mem["baseline_rss_bytes"]


def m_retention(data, p):
    """RSS kept after the load falls, read while the replay runs: RSS growth
    at the trough of live bytes between the first and the last peak ÷ the
    peak RSS growth before it."""
    b = p["backend"]
    _need(data, b)
    ws = _workloads(data, p) if p.get("workloads") else \
        [w for w in data.workload_names if data.workload_model(w) == p.get("model", "long-running")
         and not data.workload_config(w).get("params")]
    if not ws:
        raise Missing(f"no {' or '.join(p.get('workloads') or [p.get('model', 'long-running')])} workload in the "
                      "results")
    per, spans = {}, []
    for w in ws:
        def kept(cell):
            rows, base = _timeline(cell)
            if len(rows) < 3:
                return None
            top = max(r["live_bytes"] for r in rows)
            high = [i for i, r in enumerate(rows) if r["live_bytes"] >= 0.9 * top]
            first, last = high[0], high[-1]
            if last - first < 2:
                return None
            trough = min(rows[first:last + 1], key=lambda r: r["live_bytes"])
            if trough["live_bytes"] > top / 2:
                return None
            peak_rss = max(r["rss_bytes"] for r in rows[:first + 1]) - base
            if peak_rss <= 0:
                return None
            spans.append(trough["seconds"] - rows[first]["seconds"])
            return (trough["rss_bytes"] - base) / peak_rss
        v = data.median_of_cells(b, w, 1, kept)
        if v is not None:
            per[w] = v
    if not per:
        raise Missing(f"the live bytes of {', '.join(ws)} never fall below half their peak between two peaks")
    span = median(spans) if spans else None
    return Measure(median(per.values()), "",
                   f"{b}: RSS growth at the trough of live bytes between two peaks ÷ peak RSS growth before it "
                   f"({', '.join(per)}, read during the replay; {fmt(span)} s from peak to trough)", per,
                   span_seconds=span)


def m_flat_footprint(data, p):
    """Peak ÷ mean RSS growth over the replay's timeline (points taken while it runs)."""
    b = p["backend"]
    _need(data, b)
    per = {}
    for w in _workloads(data, p):
        def ratio(cell):
            rows, base = _timeline(cell)
            vals = [r["rss_bytes"] - base for r in rows[1:]]
            if not vals or sum(vals) <= 0:
                return None
            return max(vals) / (sum(vals) / len(vals))
        v = data.median_of_cells(b, w, 1, ratio)
        if v is not None:
            per[w] = v
    v = _aggregate(per, f"an RSS timeline for {b}")
    return Measure(v, "×", f"{b}: peak ÷ mean RSS growth over the timeline, median over workloads ({_spread(per)})",
                   per)


def m_end_retention(data, p):
    """What cannot be given back once every scope closed: RSS growth after the
    forced release at the end, less the bytes the trace leaves live, ÷ peak
    RSS growth. The same figure for the base allocator alone is in the detail."""
    b, base_alloc = p["backend"], p.get("base", "glibc")

    def per_backend(backend):
        per = {}
        for w in _workloads(data, p):
            left = (data.workload_info(w) or {}).get("end_live_bytes", 0) or 0

            def kept(cell):
                mem = cell["replay"]["memory"]
                base, peak = mem["baseline_rss_bytes"], mem["peak_rss_bytes"]
                if peak <= base:
                    return None
                return max(0, mem["floor_rss_bytes"] - base - left) / (peak - base)
            v = data.median_of_cells(backend, w, 1, kept)
            if v is not None:
                per[w] = v
        return per
    _need(data, b)
    per = per_backend(b)
    v = _aggregate(per, f"memory figures for {b}")
    alone = per_backend(base_alloc) if data.has_backend(base_alloc) else {}
    return Measure(v, "", f"{b}: (RSS growth after the forced release at the end − bytes the trace leaves live) ÷ "
                          f"peak RSS growth, median over workloads ({_spread(per)}); {base_alloc} alone: "
                          f"{fmt(median(alone.values()) if alone else None)}", per)


# ---- rankings, scaling, threads ------------------------------------------

def m_ranking(data, p):
    """Backends ordered by a figure (ascending): net time or memory overhead."""
    labels, values = p["labels"], {}
    for label, b in zip(labels, p["backends"]):
        if p["metric"] == "overhead":
            values[label] = m_overhead(data, {"backend": b, "model": p.get("model", "http1-static")}).value
        else:
            _need(data, b, NULL)
            per = _net_per_workload(data, b, p["metric"], p)
            values[label] = _aggregate(per, f"{p['metric']} for {b}")
    order = sorted(labels, key=lambda x: values[x])
    detail = ", ".join(f"{x} {fmt(values[x])}" for x in order)
    return Measure(order, "", f"ordered by {p.get('what', p['metric'])}: {detail}")


def _scaling_points(data, b):
    out = {}
    for w in _workloads(data, {}):
        pts = [x for x in data.scaling(b, w) if x.get("speedup") is not None and not x.get("oversubscribed")]
        if pts:
            out[w] = max(pts, key=lambda x: x["threads"])
    return out


def m_scaling(data, p):
    """Parallel efficiency (speedup ÷ threads) at the most threads that fit the cores."""
    b = p["backend"]
    _need(data, b)
    top = {w: x for w, x in _scaling_points(data, b).items() if x["threads"] > 1}
    if not top:
        raise Missing("no thread count above 1 within the machine's cores")
    per = {w: x["efficiency"] for w, x in top.items()}
    t = max(x["threads"] for x in top.values())
    return Measure(median(per.values()), "", f"{b}: efficiency at {t} threads, median over workloads "
                                             f"({_spread(per)})", per)


def m_scaling_compare(data, p):
    """Speedup of a over b at the most threads that fit, in percent."""
    a, b = p["a"], p["b"]
    _need(data, a, b)
    ta, tb = _scaling_points(data, a), _scaling_points(data, b)
    per = {w: (ta[w]["speedup"] / tb[w]["speedup"] - 1.0) * 100.0
           for w in ta if w in tb and tb[w]["speedup"] and ta[w]["threads"] > 1}
    v = _aggregate(per, f"scaling points for both {a} and {b}")
    return Measure(v, "%", f"{a} speedup ÷ {b} speedup − 1, median over workloads ({_spread(per)})", per)


def m_thread_cache(data, p):
    """Bytes the allocator holds in per-thread caches, per thread, at the most
    threads run: the largest reading while the replay threads ran ÷ threads."""
    b = p["backend"]
    _need(data, b)
    t = max(data.thread_counts)
    per, one = {}, {}
    for w in _workloads(data, p):
        v = data.metric(b, w, t, "peak_thread_cache_bytes")
        if v is not None:
            per[w] = v / t / 1024.0
        v1 = data.metric(b, w, 1, "peak_thread_cache_bytes")
        if v1 is not None:
            one[w] = v1 / 1024.0
    if not per:
        raise Missing(f"the results do not record {b}'s thread-cache bytes while its threads run (the allocator "
                      "does not report them, or the results predate the reading)")
    return Measure(median(per.values()), "KiB",
                   f"{b}: the most bytes in thread caches while {t} replay threads ran ÷ {t}, median over workloads "
                   f"({_spread(per)}); at 1 thread {fmt(median(one.values()) if one else None)} KiB", per)


# ---- figures of the trace and of strategies' own counters ------------------

def m_workload(data, p):
    """A figure of the trace itself (what it asks for, not how a backend served it)."""
    key, model = p["key"], p["model"]
    per = {}
    for w in data.workload_names:
        cfg = data.workload_config(w)
        if cfg.get("params") or (model != "*" and cfg.get("model") != model):
            continue
        info = data.workload_info(w)
        if info and info.get(key) is not None:
            per[w] = info[key] * p.get("scale", 1.0)
    which = "every model's trace" if model == "*" else f"the {model} trace"
    if not per:
        raise Missing(f"no workload in the results records {key}")
    return Measure(median(per.values()), p.get("unit", ""),
                   f"{key} of {which}, median over workloads ({_spread(per)}): what the trace asks for, "
                   "not how a backend served it", per)


def m_backend_stat(data, p):
    """A strategy's own counter at the end of the replay, per request, median over workloads."""
    b, key = p["backend"], p["key"]
    _need(data, b)
    per = {}
    for w in _workloads(data, p):
        info = data.workload_info(w)
        if not info:
            continue
        v = data.metric(b, w, 1, f"stats.{key}")
        if v is not None:
            per[w] = v / info["requests"] if p.get("per_request") else v
    v = _aggregate(per, f"backend_stats.{key} for {b}")
    return Measure(v, p.get("unit", ""), f"{b}: backend_stats.{key}{' per request' if p.get('per_request') else ''}"
                                         f", median over workloads ({_spread(per)})", per)


def m_stat_share(data, p):
    """One of a strategy's counters ÷ another (or ÷ a trace figure), median over workloads."""
    b, num, den = p["backend"], p["num"], p["den"]
    _need(data, b)
    per = {}
    for w in _workloads(data, p):
        n = data.metric(b, w, 1, f"stats.{num}")
        if den.startswith("trace."):
            d = (data.workload_info(w) or {}).get(den[6:])
        else:
            d = data.metric(b, w, 1, f"stats.{den}")
        if n is not None and d:
            per[w] = n / d * p.get("scale", 1.0)
    v = _aggregate(per, f"backend_stats.{num} and {den} for {b}")
    return Measure(v, p.get("unit", ""), f"{b}: {num} ÷ {den}, median over workloads ({_spread(per)})", per)


def m_isolation(data, p):
    """Among requests under their memory limit, the share that failed anyway
    (turned away for back-pressure): a request over its limit should fail
    alone. Needs requests that exceed the limit."""
    b = p["backend"]
    _need(data, b)
    per, over = {}, 0
    for w in _workloads(data, p):
        info = data.workload_info(w) or {}
        n_over = data.metric(b, w, 1, "stats.cancelled_requests")
        n_away = data.metric(b, w, 1, "stats.turned_away_requests")
        if n_over is None or n_away is None or not info.get("requests"):
            continue
        over += n_over
        under = info["requests"] - n_over
        if under > 0:
            per[w] = n_away / under
    if not per:
        raise Missing(f"the results do not split {b}'s refusals into requests over their limit and others")
    if over == 0:
        raise Missing(f"no request in these workloads exceeded {b}'s limit, so isolation was not exercised")
    return Measure(max(per.values()), "", f"{b}: requests under their limit that failed ÷ requests under it, the "
                                          f"largest over workloads ({_spread(per)}); requests over it: "
                                          f"{fmt(over)}", per)


def m_bump_waste(data, p):
    """A bump arena's waste in parts; the figure is padding ÷ bytes requested, in percent."""
    b = p["backend"]
    _need(data, b)
    parts = {}
    for w in _workloads(data, p):
        st = {k: data.metric(b, w, 1, f"stats.{k}") for k in
              ("scoped_bytes", "padding_bytes", "wasted_bytes", "freed_in_scope_bytes", "reserved_bytes")}
        if st["scoped_bytes"]:
            parts[w] = st
    if not parts:
        raise Missing(f"the results do not record {b}'s padding (a build from before the waste was told apart)")
    per = {w: 100 * st["padding_bytes"] / st["scoped_bytes"] for w, st in parts.items()}

    def share(key):
        return median(100 * st[key] / st["scoped_bytes"] for st in parts.values() if st[key] is not None)
    retained = median(st["reserved_bytes"] for st in parts.values() if st["reserved_bytes"] is not None)
    return Measure(median(per.values()), "%",
                   f"{b}: padding ÷ bytes requested in scopes, median over workloads ({_spread(per)}); slack, "
                   f"not counted in the figure: chunk tails left at spills {fmt(share('wasted_bytes'))}%, blocks "
                   f"freed inside a scope and not reusable {fmt(share('freed_in_scope_bytes'))}% of the bytes "
                   f"requested; chunks retained after the last scope closed {fmt(retained / 1024)} KiB (medians "
                   "over workloads)", per)


def m_per_scope(data, p):
    """Memory a scope holds beyond its live bytes: (RSS growth at peak live −
    the null backend's − live) ÷ the scopes open at that peak, in KiB."""
    b = p["backend"]
    _need(data, b, NULL)
    per = {}
    for w in _workloads(data, p):
        info = data.workload_info(w) or {}
        o, _ = _rss_overhead_bytes(data, b, w)
        if o is not None and info.get("peak_open_requests"):
            per[w] = o / info["peak_open_requests"] / 1024.0
    v = _aggregate(per, f"memory figures for {b} on {', '.join(p.get('workloads', []))}")
    return Measure(v, "KiB", f"{b}: (RSS growth at peak live − the null backend's − live) ÷ the request scopes "
                             f"open at once ({_spread(per)})", per)


def m_per_connection(data, p):
    """Memory an idle connection costs: RSS growth at the moment of peak live
    (every connection idle at once) less the null backend's, ÷ connections."""
    b = p["backend"]
    _need(data, b, NULL)
    per, held = {}, {}
    for w in _workloads(data, p):
        info = data.workload_info(w) or {}
        rss = data.metric(b, w, 1, "rss_at_peak_live_bytes")
        floor = data.metric(NULL, w, 1, "rss_at_peak_live_bytes")
        if rss is not None and floor is not None and info.get("connections"):
            per[w] = (rss - floor) / info["connections"]
            held[w] = info.get("idle_connection_bytes_p50")
    v = _aggregate(per, f"memory figures for {b} on {', '.join(p.get('workloads', []))}")
    objects = ", ".join(f"{fmt(x)} B" for x in held.values() if x is not None)
    return Measure(v, "B", f"{b}: (RSS growth at peak live − the null backend's) ÷ idle connections "
                           f"({_spread(per)}); the connection's own objects, from the trace: {objects}", per)


def m_reuse_order(data, p):
    """Time to touch a just-allocated object with FIFO reuse ÷ with LIFO reuse."""
    lifo, fifo = p["lifo"], p["fifo"]
    _need(data, lifo, fifo)
    per = {}
    for w in _workloads(data, p):
        a, b = data.metric(fifo, w, 1, "touch_mean_ns"), data.metric(lifo, w, 1, "touch_mean_ns")
        if a is not None and b:
            per[w] = a / b
    if not per:
        raise Missing("the results hold no touch_mean_ns: the replay never times touching memory")
    return Measure(median(per.values()), "×", f"{fifo} ÷ {lifo} touch ns per object, median over workloads "
                                              f"({_spread(per)})", per)


def m_per_scope_overhead(data, p):
    """(strategy's reserved bytes − live bytes) at peak live ÷ the requests open at once, in KiB."""
    b = p["backend"]
    _need(data, b)
    per = {}
    for w in _workloads(data, p):
        info = data.workload_info(w) or {}
        open_peak = info.get("peak_open_requests")
        res = data.metric(b, w, 1, "reserved_at_peak_live_bytes")
        live = data.metric(b, w, 1, "peak_live_bytes")
        if open_peak and res is not None and live is not None:
            per[w] = (res - live) / open_peak / 1024.0
    v = _aggregate(per, f"reserved bytes at peak live for {b} and the trace's peak_open_requests")
    return Measure(v, "KiB", f"{b}: (reserved − live) at peak live ÷ the trace's peak open requests, median over "
                             f"workloads ({_spread(per)})", per)


def m_pool_bound(data, p):
    """Peak reserved ÷ peak open requests should not vary with the trace: max ÷ min over workloads."""
    b = p["backend"]
    _need(data, b)
    per = {}
    for w in _workloads(data, p):
        info = data.workload_info(w) or {}
        open_peak = info.get("peak_open_requests")
        res = data.metric(b, w, 1, "peak_reserved_bytes")
        if open_peak and res:
            per[w] = res / open_peak
    if len(per) < 2:
        raise Missing(f"fewer than two workloads record peak_open_requests and reserved bytes for {b}")
    return Measure(max(per.values()) / min(per.values()), "×",
                   f"{b}: max ÷ min over workloads of peak reserved bytes per peak open request "
                   f"({_spread(per)} bytes)", per)


METRICS = {
    "class_mean": m_class_mean, "ns_per_op": m_ns_per_op, "ranking": m_ranking, "overhead": m_overhead,
    "memory_ratio": m_memory_ratio, "ratio": m_ratio, "request_speedup": m_request_speedup,
    "sweep_growth": m_sweep_growth, "scaling": m_scaling, "scaling_compare": m_scaling_compare,
    "thread_cache": m_thread_cache, "workload": m_workload, "retention": m_retention,
    "flat_footprint": m_flat_footprint, "end_retention": m_end_retention, "backend_stat": m_backend_stat,
    "stat_share": m_stat_share, "isolation": m_isolation, "bump_waste": m_bump_waste, "per_scope": m_per_scope,
    "per_connection": m_per_connection,
    "reuse_order": m_reuse_order,
    "per_scope_overhead": m_per_scope_overhead, "pool_bound": m_pool_bound,
}
