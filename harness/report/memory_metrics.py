"""Memory metrics: RSS growth over the worker's baseline, the null backend's
subtracted (measure.py); read while the replay runs where the claim is about
a moment of it."""

from statistics import median

from measure import NULL, Measure, Missing, _aggregate, _mib, _need, _spread, _timeline, _workloads, fmt


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
        if data.workload_config(w).get("model") != model or data.has_replay_options(w):
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
    ws = [w for w in data.workload_names
          if data.workload_config(w).get("model") == model and not data.has_replay_options(w)]
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


def m_retention(data, p):
    """RSS kept after the load falls, read while the replay runs: RSS growth
    at the trough of live bytes between the first and the last peak ÷ the
    peak RSS growth before it."""
    b = p["backend"]
    _need(data, b)
    ws = _workloads(data, p) if p.get("workloads") else \
        [w for w in data.workload_names if data.workload_model(w) == p.get("model", "long-running")
         and data.is_plain(w)]
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
                mem = cell["replay"].get("memory") or {}
                if not all(k in mem for k in ("baseline_rss_bytes", "peak_rss_bytes", "floor_rss_bytes")):
                    return None
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
            if info.get("peak_live_bytes"):
                held[w] = info["peak_live_bytes"] / info["connections"]
    v = _aggregate(per, f"memory figures for {b} on {', '.join(p.get('workloads', []))}")
    objects = ", ".join(f"{fmt(x)} B" for x in held.values())
    return Measure(v, "B", f"{b}: (RSS growth at peak live − the null backend's) ÷ idle connections "
                           f"({_spread(per)}); the trace's own live bytes at the peak ÷ connections: {objects}", per)


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
