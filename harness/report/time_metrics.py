"""Time metrics: every figure is net, the null backend's on the same workload
and threads subtracted (measure.py)."""

from statistics import median

from measure import NULL, Measure, Missing, _aggregate, _need, _spread, _workloads, fmt


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
