"""Rankings and counts: figures of the traces themselves and
strategies' own counters, each claim's basis saying which."""

from statistics import median

from measure import NULL, Measure, Missing, _aggregate, _need, _spread, _workloads, fmt
from application_metrics import obtain_and_fill_ns
from memory_metrics import m_overhead
from time_metrics import _net_per_workload


def _rank_values(data, p, where):
    values = {}
    for label, b in zip(p["labels"], p["backends"]):
        if p["metric"] == "overhead":
            values[label] = m_overhead(data, {"backend": b, "model": p.get("model", "http1-static")}).value
        else:
            _need(data, b, NULL)
            per = _net_per_workload(data, b, p["metric"], where)
            values[label] = _aggregate(per, f"{p['metric']} for {b}")
    return values


def m_ranking(data, p):
    """Backends ordered by a figure (ascending): net time or memory overhead.
    With `also`, the detail gives the order on those workloads too (for
    example the HTTP models beside a purpose-built trace)."""
    values = _rank_values(data, p, p)
    order = sorted(p["labels"], key=lambda x: values[x])
    detail = f"ordered by {p.get('what', p['metric'])}: " + ", ".join(f"{x} {fmt(values[x])}" for x in order)
    if "also" in p:
        try:
            other = _rank_values(data, p, p["also"])
            detail += f"; on {p['also'].get('what', 'other workloads')}: " + ", ".join(
                f"{x} {fmt(other[x])}" for x in sorted(p["labels"], key=lambda x: other[x]))
        except Missing as e:
            detail += f"; on {p['also'].get('what', 'other workloads')}: {e}"
    return Measure(order, "", detail)


def m_workload(data, p):
    """A figure of the trace itself (what it asks for, not how a backend served it)."""
    key, model = p["key"], p["model"]
    per = {}
    for w in data.workload_names:
        cfg = data.workload_config(w)
        if not data.is_plain(w) or cfg.get("backends") or cfg.get("model") not in data.DEFAULT_MODELS:
            continue  # the HTTP models at their default size: not the claim experiments
        if model != "*" and cfg.get("model") != model:
            continue
        info = data.workload_info(w)
        if info and info.get(key) is not None:
            per[w] = info[key] * p.get("scale", 1.0)
    which = "the five HTTP models' traces" if model == "*" else f"the {model} trace"
    if not per:
        raise Missing(f"no workload in the results records {key}")
    return Measure(median(per.values()), p.get("unit", ""),
                   f"{key} of {which}, median over workloads ({_spread(per)}): what the trace asks for, "
                   "not how a backend served it", per)


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


def m_reuse_order(data, p):
    """FIFO ÷ LIFO reuse of what obtaining an object and writing it first costs: ns per allocation + fill ns per
    filled block (replay.access), gross, medians over repetitions, at one thread, on the workloads both backends ran
    whose trace's peak live bytes reach `min_peak_live_bytes` (where the free lists outgrow the cache, so their
    order can matter); the median over those workloads."""
    lifo, fifo, big = p["lifo"], p["fifo"], p.get("min_peak_live_bytes", 0)
    _need(data, lifo, fifo)
    both = [w for w in data.workload_names if data.reps(lifo, w) and data.reps(fifo, w)]
    if not both:
        raise Missing(f"no workload where both {lifo} and {fifo} ran at one thread")
    live = {w: (data.workload_info(w) or {}).get("peak_live_bytes") or 0 for w in both}
    large = [w for w in both if live[w] >= big]
    if not large:
        raise Missing(f"{lifo} and {fifo} ran only on traces whose peak live bytes stay under "
                      f"{fmt(big / 2**20)} MiB (" + ", ".join(f"{w}: {fmt(live[w] / 2**20)} MiB" for w in both)
                      + "): their free lists fit in the cache, so reuse order cannot show")
    per, parts = {}, []
    for w in large:
        a, b = obtain_and_fill_ns(data, fifo, w), obtain_and_fill_ns(data, lifo, w)
        if a is not None and b:
            per[w] = a / b
            floor = obtain_and_fill_ns(data, NULL, w) if data.reps(NULL, w) else None
            parts.append(f"{w} ({fmt(live[w] / 2**20)} MiB peak live): FIFO {fmt(a)} ns, LIFO {fmt(b)} ns"
                         + (f" (null backend {fmt(floor)} ns)" if floor is not None else ""))
    if not per:
        raise Missing("the results hold no access figures (replay.access) for both backends: a file from before "
                      "the application's access was timed")
    left = [w for w in both if w not in large]
    return Measure(median(per.values()), "×",
                   f"{fifo} ÷ {lifo}, alloc ns per allocation + fill ns per filled block, median over workloads "
                   f"({_spread(per)}): " + "; ".join(parts)
                   + (f"; not read (peak live under {fmt(big / 2**20)} MiB): {', '.join(left)}" if left else ""), per)
