"""The claims ledger: each claim (claims.json) names a metric and a rule; the
verdict is computed here from a results file. Nothing is typed in by hand:
a claim whose metric cannot be computed from the data is "inconclusive" and
says why.

A metric function returns a Measure (value, unit, per-workload detail) or
raises Missing(reason). A rule turns the value into holds / refuted."""

from dataclasses import dataclass, field
from math import exp, log
from statistics import median

GENERALS = ["glibc", "jemalloc", "mimalloc", "tcmalloc"]


class Missing(Exception):
    """The data cannot test the claim; the message says why."""


@dataclass
class Measure:
    value: object                 # a number, or a list for rankings
    unit: str = ""
    detail: str = ""              # how it was computed from what
    per_workload: dict = field(default_factory=dict)


def _fmt(v, unit=""):
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
    return f"{_fmt(lo)}–{_fmt(hi)} over {len(per)} workloads"


def _need(data, *backends):
    for b in backends:
        if not data.has_backend(b):
            raise Missing(f"the results hold no cells for backend {b}")


def _aggregate(per, what):
    if not per:
        raise Missing(f"no workload has {what}")
    return median(per.values())


# ---- metrics ---------------------------------------------------------------

def m_class_mean(data, p):
    """Mean time of one op class (batch-timed, threads=1), median over workloads."""
    b, cls = p["backend"], p.get("class", "alloc")
    _need(data, b)
    per = data.per_workload(b, f"{cls}_mean_ns")
    scale = p.get("scale", 1.0)
    per = {w: v * scale for w, v in per.items()}
    unit = p.get("unit", "ns")
    v = _aggregate(per, f"{cls} ops for {b}")
    return Measure(v, unit, f"{b}: mean {cls} time per op, median over workloads ({_spread(per)})", per)


def m_ns_per_op(data, p):
    """Allocator time per op (every op class), median over workloads."""
    b = p["backend"]
    _need(data, b)
    per = data.ns_per_op_by_workload(b)
    return Measure(_aggregate(per, f"ops for {b}"), "ns",
                   f"{b}: allocator ns per op, median over workloads ({_spread(per)})", per)


def m_ranking(data, p):
    """Backends ordered by a per-workload-median metric (ascending)."""
    labels = p["labels"]
    values = {}
    for label, b in zip(labels, p["backends"]):
        _need(data, b)
        if p["metric"] == "overhead":
            values[label] = m_overhead(data, {"backend": b, "ratio": p["ratio"][b]}).value
        else:
            per = data.per_workload(b, p["metric"])
            values[label] = _aggregate(per, f"{p['metric']} for {b}")
    order = sorted(labels, key=lambda x: values[x])
    detail = ", ".join(f"{x} {_fmt(values[x])}" for x in order)
    return Measure(order, "", f"ordered by {p.get('what', p['metric'])}: {detail}")


def m_overhead(data, p):
    """Memory overhead above the live bytes, in percent, median over workloads.

    ratio "heap": the allocator's heap at peak live / live, less the null
    backend's ratio (the harness's own allocations during the replay: the
    floor under every backend). ratio "reserved": a strategy's own reserved /
    used at peak live."""
    b = p["backend"]
    _need(data, b)
    per = {}
    if p.get("ratio", "heap") == "heap":
        _need(data, "null")
        for w, r in data.per_workload(b, "heap_at_peak_live_over_live").items():
            floor = data.metric("null", w, 1, "heap_at_peak_live_over_live")
            if floor is not None:
                per[w] = (r - floor - 1.0) * 100.0
        how = "allocator heap at peak live ÷ live − 1, less the null backend's floor"
    else:
        for w, r in data.per_workload(b, "reserved_at_peak_live_over_live").items():
            per[w] = (r - 1.0) * 100.0
        how = "strategy's reserved ÷ live at peak live − 1"
    v = _aggregate(per, f"footprint ratios for {b}")
    return Measure(v, "%", f"{b}: {how}, median over workloads ({_spread(per)})", per)


def m_ratio(data, p):
    """num / den of one summary metric per workload (threads=1), median over workloads."""
    nb, db, metric = p["num"], p["den"], p["metric"]
    _need(data, nb, db)
    per = {}
    for w in data.workload_names:
        if metric == "ns_per_op":
            n, d = data.ns_per_op(nb, w), data.ns_per_op(db, w)
        else:
            n, d = data.metric(nb, w, 1, metric), data.metric(db, w, 1, metric)
        if n is not None and d:
            per[w] = n / d
    v = _aggregate(per, f"{metric} for both {nb} and {db}")
    if p.get("as") == "percent_faster":
        per = {w: (r - 1.0) * 100.0 for w, r in per.items()}
        v = (v - 1.0) * 100.0
        return Measure(v, "%", f"{nb} ÷ {db} {metric} − 1 (how much faster {db} is), median over workloads "
                                f"({_spread(per)})", per)
    return Measure(v, "×", f"{nb} ÷ {db} {metric}, median over workloads ({_spread(per)})", per)


def m_request_speedup(data, p):
    """How many times less allocator time per request the fast backends take
    than the general allocators: the smallest pairwise ratio of medians."""
    fast, slow, metric = p["fast"], p["slow"], p.get("metric", "request_p50_ns")
    _need(data, *fast, *slow)
    pairs = {}
    for f in fast:
        for s in slow:
            per = {}
            for w in data.workload_names:
                a, b = data.metric(s, w, 1, metric), data.metric(f, w, 1, metric)
                if a is not None and b:
                    per[w] = a / b
            if per:
                pairs[f"{s}/{f}"] = median(per.values())
    if not pairs:
        raise Missing(f"no workload has {metric} above zero for these backends (below the timer's resolution?)")
    worst = min(pairs, key=pairs.get)
    best = max(pairs, key=pairs.get)
    return Measure(pairs[worst], "×",
                   f"general ÷ request-scoped {metric}, median over workloads; smallest pair {worst} "
                   f"{_fmt(pairs[worst])}×, largest {best} {_fmt(pairs[best])}×", pairs)


def _scaling_points(data, b):
    out = {}
    for w in data.workload_names:
        pts = [x for x in data.scaling(b, w) if x.get("speedup") is not None and not x.get("oversubscribed")]
        if pts:
            out[w] = max(pts, key=lambda x: x["threads"])
    return out


def m_scaling(data, p):
    """Parallel efficiency (speedup ÷ threads) at the most threads that fit the cores."""
    b = p["backend"]
    _need(data, b)
    top = _scaling_points(data, b)
    top = {w: x for w, x in top.items() if x["threads"] > 1}
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


def m_thread_growth(data, p):
    """Extra bytes per added thread: (metric at T threads − at 1) ÷ (T − 1)."""
    b, metric = p["backend"], p.get("metric", "peak_heap_bytes")
    _need(data, b)
    ts = [t for t in data.thread_counts if t > 1]
    if not ts:
        raise Missing("the run has a single thread count")
    t = max(ts)
    per = {}
    for w in data.workload_names:
        one, many = data.metric(b, w, 1, metric), data.metric(b, w, t, metric)
        if one is not None and many is not None:
            per[w] = (many - one) / (t - 1) / 1024.0
    v = _aggregate(per, f"{metric} at 1 and {t} threads for {b}")
    return Measure(v, "KiB", f"{b}: ({metric} at {t} threads − at 1) ÷ {t - 1}, median over workloads "
                             f"({_spread(per)})", per)


def m_workload(data, p):
    """A figure of the trace itself (what it asks for, not how a backend served it)."""
    key, model = p["key"], p["model"]
    per = {}
    for w in data.workload_names:
        if data.workload_model(w) == model or (model == "*"):
            info = data.workload_info(w)
            if info and info.get(key) is not None:
                per[w] = info[key] * p.get("scale", 1.0)
    which = "every trace" if model == "*" else f"the {model} trace"
    if not per:
        raise Missing(f"no workload in the results records {key} (results written before it existed?)"
                      if model == "*" else f"no {model} workload in the results records {key}")
    return Measure(median(per.values()), p.get("unit", ""),
                   f"{key} of {which}, median over workloads ({_spread(per)}): what the trace asks for, "
                   "not how a backend served it", per)


def _timeline(cell):
    mem = cell["replay"]["memory"]
    cols = mem["timeline_columns"]
    return [dict(zip(cols, row)) for row in mem["timeline"]], mem["baseline_rss_bytes"]


def m_retention(data, p):
    """RSS kept after the load falls: RSS growth at the last timeline point
    after the live bytes fell below half their peak, ÷ the peak RSS growth."""
    b, model = p["backend"], p.get("model", "long-running")
    _need(data, b)
    ws = [w for w in data.workload_names if data.workload_model(w) == model]
    if not ws:
        raise Missing(f"no {model} workload in the results")
    per = {}
    for w in ws:
        def kept(cell):
            rows, base = _timeline(cell)
            if not rows:
                return None
            peak_i = max(range(len(rows)), key=lambda i: rows[i]["live_bytes"])
            peak_live = rows[peak_i]["live_bytes"]
            peak_rss = max(r["rss_bytes"] for r in rows) - base
            after = [r for r in rows[peak_i:] if r["live_bytes"] <= peak_live / 2]
            if not after or peak_rss <= 0:
                return None
            return (after[-1]["rss_bytes"] - base) / peak_rss
        v = data.median_of_cells(b, w, 1, kept)
        if v is not None:
            per[w] = v
    if not per:
        raise Missing(f"the live bytes of the {model} trace never fall below half their peak")
    return Measure(median(per.values()), "", f"{b}: RSS growth after the load fell ÷ peak RSS growth ({model})",
                   per)


def m_spread(data, p):
    """max ÷ min of a metric across workloads (constant cost gives ~1),
    alongside how much a driver of the cost varies across the same workloads."""
    b, metric, driver = p["backend"], p["metric"], p.get("driver")
    _need(data, b)
    per = {w: v for w, v in data.per_workload(b, metric).items() if v > 0}
    if len(per) < 2:
        raise Missing(f"fewer than two workloads have {metric} for {b}")
    v = max(per.values()) / min(per.values())
    detail = f"{b}: max ÷ min of {metric} over {len(per)} workloads"
    if driver:
        d = {w: data.workload_info(w)[driver] for w in per if data.workload_info(w)}
        d = {w: x for w, x in d.items() if x}
        if d:
            dv = max(d.values()) / min(d.values())
            detail += f", while {driver} varies {_fmt(dv)}×"
            if dv < p.get("min_driver_spread", 2.0):
                raise Missing(f"{driver} varies only {_fmt(dv)}× across the workloads: too little to test scaling")
    return Measure(v, "×", detail, per)


def m_backend_stat(data, p):
    """A strategy's own counter at the end of the replay, per request, median over workloads."""
    b, key = p["backend"], p["key"]
    _need(data, b)
    per = {}
    for w in data.workload_names:
        info = data.workload_info(w)
        def per_req(cell):
            st = cell["replay"].get("backend_stats")
            if not st or key not in st:
                return None
            return st[key] / info["requests"] if p.get("per_request") else st[key]
        v = data.median_of_cells(b, w, 1, per_req) if info else None
        if v is not None:
            per[w] = v
    v = _aggregate(per, f"backend_stats.{key} for {b}")
    return Measure(v, p.get("unit", ""), f"{b}: backend_stats.{key}{' per request' if p.get('per_request') else ''}"
                                         f", median over workloads ({_spread(per)})", per)


def m_flat_footprint(data, p):
    """Peak ÷ mean of a strategy's reserved bytes over the replay's timeline."""
    b = p["backend"]
    _need(data, b)
    per = {}
    for w in data.workload_names:
        def ratio(cell):
            rows, _ = _timeline(cell)
            vals = [r["reserved_bytes"] for r in rows[1:]]
            if not vals or sum(vals) == 0:
                return None
            return max(vals) / (sum(vals) / len(vals))
        v = data.median_of_cells(b, w, 1, ratio)
        if v is not None:
            per[w] = v
    v = _aggregate(per, f"reserved bytes on the timeline of {b}")
    return Measure(v, "×", f"{b}: peak ÷ mean reserved bytes over the timeline, median over workloads "
                           f"({_spread(per)})", per)


def m_isolated_failures(data, p):
    """Share of requests turned away or cancelled by a per-request limit."""
    b = p["backend"]
    _need(data, b)
    per = {}
    for w in data.workload_names:
        info = data.workload_info(w)
        def share(cell):
            st = cell["replay"].get("backend_stats") or {}
            return st.get("rejections", 0) / info["requests"] if info and info.get("requests") else None
        v = data.median_of_cells(b, w, 1, share)
        if v is not None:
            per[w] = v
    hit = {w: v for w, v in per.items() if v > 0}
    if not hit:
        raise Missing(f"no request in these workloads exceeded {b}'s limit, so isolation was not exercised")
    return Measure(max(hit.values()), "", f"{b}: requests refused ÷ requests, in the {len(hit)} workloads with "
                                          f"refusals ({_spread(hit)}); the other requests were served", per)


METRICS = {
    "class_mean": m_class_mean, "ns_per_op": m_ns_per_op, "ranking": m_ranking, "overhead": m_overhead,
    "ratio": m_ratio, "request_speedup": m_request_speedup, "scaling": m_scaling,
    "scaling_compare": m_scaling_compare, "thread_growth": m_thread_growth, "workload": m_workload,
    "retention": m_retention, "spread": m_spread, "backend_stat": m_backend_stat,
    "flat_footprint": m_flat_footprint, "isolated_failures": m_isolated_failures,
}


# ---- rules -----------------------------------------------------------------

def apply_rule(rule, value, unit=""):
    """holds / refuted, and the rule in words."""
    if "range" in rule:
        lo, hi = rule["range"]
        return ("holds" if lo <= value <= hi else "refuted"), f"holds if within {_fmt(lo)}–{_fmt(hi, unit)}"
    if "at_least" in rule:
        x = rule["at_least"]
        return ("holds" if value >= x else "refuted"), f"holds if ≥ {_fmt(x, unit)}"
    if "at_most" in rule:
        x = rule["at_most"]
        return ("holds" if value <= x else "refuted"), f"holds if ≤ {_fmt(x, unit)}"
    if "about" in rule:
        x, tol = rule["about"], rule.get("tolerance", 0.25)
        lo, hi = x * (1 - tol), x * (1 + tol)
        if lo > hi:
            lo, hi = hi, lo
        return ("holds" if lo <= value <= hi else "refuted"), f"holds if within ±{tol:.0%} of {_fmt(x, unit)}"
    if "order" in rule:
        want = rule["order"]
        return ("holds" if list(value) == list(want) else "refuted"), "holds if the measured order is the claimed one"
    raise ValueError(f"unknown rule {rule}")


@dataclass
class Verdict:
    claim: dict
    verdict: str                  # holds | refuted | inconclusive
    measured: str                 # the figure, formatted
    value: object
    rule: str
    detail: str
    reason: str = ""              # for inconclusive


def evaluate(claim, data):
    metric = claim["metric"]
    rule = claim["rule"]
    unit_scale = rule.get("scale", 1.0)
    try:
        min_cores = rule.get("min_cores")
        fn = METRICS[metric["kind"]]
        m = fn(data, metric)
        value = m.value
        if isinstance(value, (int, float)):
            value = value * unit_scale
        unit = rule.get("unit", m.unit)
        measured = _fmt(value, unit)
        if min_cores and data.cores < min_cores:
            return Verdict(claim, "inconclusive", measured, value, "", m.detail,
                           f"needs at least {min_cores} cores to test; this machine has {data.cores} "
                           f"(the figure shown is at the thread counts that fit)")
        verdict, words = apply_rule(rule, value, unit)
        return Verdict(claim, verdict, measured, value, words, m.detail)
    except Missing as e:
        return Verdict(claim, "inconclusive", "n/a", None, "", "", str(e))


def evaluate_all(claims, data):
    return [evaluate(c, data) for c in claims]


def geomean(values):
    vals = [v for v in values if v and v > 0]
    return exp(sum(log(v) for v in vals) / len(vals)) if vals else None


def m_reuse_order(data, p):
    """Time to touch a just-allocated object with FIFO reuse ÷ with LIFO reuse.
    Needs a timed touch (summary metric touch_mean_ns) for both backends."""
    lifo, fifo = p["lifo"], p["fifo"]
    _need(data, lifo, fifo)
    per = {}
    for w in data.workload_names:
        a, b = data.metric(fifo, w, 1, "touch_mean_ns"), data.metric(lifo, w, 1, "touch_mean_ns")
        if a is not None and b:
            per[w] = a / b
    if not per:
        raise Missing("the results hold no touch_mean_ns: the replay never times touching memory")
    v = median(per.values())
    return Measure(v, "×", f"{fifo} ÷ {lifo} touch ns per object, median over workloads ({_spread(per)})", per)


def m_per_scope_overhead(data, p):
    """(strategy's reserved bytes − live bytes) at peak live ÷ the requests open at once, in KiB."""
    b = p["backend"]
    _need(data, b)
    per = {}
    for w in data.workload_names:
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
    """A pool bounded by the requests in flight holds a fixed amount per open
    request: peak reserved ÷ peak open requests should not vary with how many
    requests the trace holds. Value: max ÷ min of that figure over workloads."""
    b = p["backend"]
    _need(data, b)
    per = {}
    for w in data.workload_names:
        info = data.workload_info(w) or {}
        open_peak = info.get("peak_open_requests")
        res = data.metric(b, w, 1, "peak_reserved_bytes")
        if open_peak and res:
            per[w] = res / open_peak
    if len(per) < 2:
        raise Missing(f"fewer than two workloads record peak_open_requests and reserved bytes for {b}")
    v = max(per.values()) / min(per.values())
    return Measure(v, "×", f"{b}: max ÷ min over workloads of peak reserved bytes per peak open request "
                           f"({_spread(per)} bytes)", per)


METRICS.update({"reuse_order": m_reuse_order, "per_scope_overhead": m_per_scope_overhead,
                "pool_bound": m_pool_bound})
