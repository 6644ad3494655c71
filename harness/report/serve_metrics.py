"""The ledger's metrics on real servers: they read a ServeData view
(serve_data.py) of an `alloclab serve` document instead of a replay results
file, through the same Measure / Missing contract (measure.py). ledger.py
sends every claim whose metric kind is in SERVE_KINDS here, and judges it
inconclusive when the report was given no --serve file.

Node.js garbage collection comes from V8's --trace-gc as the serve file
records it: `gc.max_pause_ms` and the per-kind figures count collections
after the server's first answer (under load); `gc.collections` lists every
collection, start-up included, as [ms, kind, MB used before, MB used after,
pause ms]. "Heap" below is V8's heap used before the collection, not the
process's RSS."""

from itertools import permutations
from math import factorial
from statistics import median

from measure import Measure, Missing, fmt
from serve_data import collections, cpu_ns, fixed_latency, is_node, retain_mib, rss_fall, rss_growth, rss_over_load


def _ranks(values):
    """Ranks from 1, ties sharing the mean of their places."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(xs, ys):
    """Spearman's rho (Pearson on ranks, ties averaged); None when either side has no spread or n < 2."""
    if len(xs) < 2 or len(xs) != len(ys):
        return None
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return sxy / (sxx * syy) ** 0.5


def exact_one_sided_p(rho, n):
    """The share of the n! orders of n untied items whose rho is at least as extreme, in rho's direction
    (None for n > 8 or n < 2)."""
    if rho is None or n < 2 or n > 8:
        return None
    base = list(range(n))
    hits = 0
    for perm in permutations(base):
        r = spearman(base, list(perm))
        if (rho >= 0 and r >= rho - 1e-9) or (rho < 0 and r <= rho + 1e-9):
            hits += 1
    return hits / factorial(n)


def _node_groups(data, plain_only=False):
    groups = data.groups(lambda c: is_node(c) and (not plain_only or retain_mib(c) == 0))
    if not groups:
        raise Missing("the server results hold no ok Node.js cells" if not plain_only
                      else "the server results hold no ok plain Node.js cells (node without retain)")
    return groups


def _labels(groups):
    return ", ".join(sorted({s for s, _ in groups}))


def m_gc_max_pause(data, p):
    """The largest V8 pause under load (after the first answer) over every Node.js cell, in ms."""
    groups = _node_groups(data)
    best, at, startup = None, None, None
    cells = 0
    for s, a in groups:
        for c in data.cells(s, a):
            cells += 1
            gc = c.get("gc") or {}
            v = gc.get("max_pause_ms")
            if isinstance(v, (int, float)) and (best is None or v > best):
                best, at = float(v), f"{s} under {a}"
            for x in collections(c):
                if x[1] == "forced":  # asked for by the suite, not V8's own
                    continue
                if startup is None or x[4] > startup[0]:
                    startup = (x[4], x[1], x[2], s)
    if best is None:
        raise Missing("no Node.js cell has gc.max_pause_ms (V8's --trace-gc gave nothing)")
    plural = "s" if cells != 1 else ""
    detail = f"largest pause under load {fmt(best)} ms ({at}), over {cells} cell{plural} of {_labels(groups)}"
    if startup is not None:
        detail += (f"; the largest at any time, start-up included: {fmt(startup[0])} ms ({startup[1]} at "
                   f"{fmt(startup[2])} MB heap used, {startup[3]})")
    return Measure(best, "ms", detail)


FULL_KINDS = ("mark-compact", "forced")


def _mark_compacts(data, groups):
    """[(mb_before, pause_ms, label, kind)] of every full collection of the groups' cells: V8's own mark-compacts
    (start-up and under load) and the one the suite forces after the load (kind "forced": global.gc(), not
    incremental)."""
    out = []
    for s, a in groups:
        for c in data.cells(s, a):
            out += [(x[2], x[4], s, x[1]) for x in collections(c) if x[1] in FULL_KINDS]
    return out


def m_gc_pause_at_heap(data, p):
    """Median pause of the mark-compact collections whose heap used before lies in p["heap_mb"] = [lo, hi]."""
    lo, hi = p["heap_mb"]
    groups = _node_groups(data)
    mc = _mark_compacts(data, groups)
    near = sorted(x for x in mc if lo <= x[0] <= hi)
    if not near:
        largest = max((x[0] for x in mc), default=None)
        seen = (f"the mark-compacts seen were at {fmt(min(x[0] for x in mc))}–{fmt(largest)} MB"
                if mc else "no mark-compact collection at all")
        raise Missing(f"no mark-compact collection with {fmt(lo)}–{fmt(hi)} MB heap used before in any Node.js "
                      f"cell ({seen})")
    pauses = [x[1] for x in near]
    labels = ", ".join(sorted({x[2] for x in near}))
    forced = sum(1 for x in near if x[3] == "forced")
    return Measure(median(pauses), "ms",
                   f"median of {len(pauses)} full-collection pauses ({forced} forced after the load, "
                   f"{len(pauses) - forced} V8's own) at {fmt(near[0][0])}–{fmt(near[-1][0])} MB heap "
                   f"used before ({fmt(min(pauses))}–{fmt(max(pauses))} ms), from {labels}; "
                   f"{len(mc)} full collections in all over {_labels(groups)}")


def m_gc_pause_growth(data, p):
    """Spearman's rho between heap used before and pause over every mark-compact collection of the Node.js cells."""
    groups = _node_groups(data)
    mc = _mark_compacts(data, groups)
    rho = spearman([x[0] for x in mc], [x[1] for x in mc])
    if rho is None or len(mc) < 3:
        raise Missing(f"{len(mc)} full collections, too few or without spread to rank")
    heaps = [x[0] for x in mc]
    by_label = {}
    for h, pause, s, _ in mc:
        by_label[s] = max(by_label.get(s, 0.0), pause)
    forced = sum(1 for x in mc if x[3] == "forced")
    return Measure(rho, "",
                   f"rho over {len(mc)} full collections ({forced} forced after the load) at "
                   f"{fmt(min(heaps))}–{fmt(max(heaps))} MB heap used before; largest per label: "
                   + ", ".join(f"{s} {fmt(v)} ms" for s, v in sorted(by_label.items())))


def _retained(c):
    m = c["memory"]
    end, hwm = m.get("rss_end_kib"), m.get("vm_hwm_kib")
    return end / hwm if isinstance(end, (int, float)) and isinstance(hwm, (int, float)) and hwm > 0 else None


def m_node_retention(data, p):
    """RSS at the end of the fixed-rate phase ÷ the high-water mark (VmHWM), median per allocator, median over
    allocators, for plain Node.js (no retained objects of its own)."""
    groups = _node_groups(data, plain_only=True)
    per = {}
    for s, a in groups:
        v = data.median(s, a, _retained)
        if v is not None:
            per[a] = v
    if not per:
        raise Missing("no plain Node.js cell has rss_end_kib and vm_hwm_kib")
    others = []
    for s, a in data.groups(lambda c: not is_node(c)):
        if a == data.baseline:
            v = data.median(s, a, _retained)
            if v is not None:
                others.append(f"{s} {fmt(v)}")
    return Measure(median(per.values()), "",
                   "node: RSS at the end of load ÷ VmHWM per allocator: "
                   + ", ".join(f"{a} {fmt(v)}" for a, v in per.items())
                   + (f"; the other servers under {data.baseline}: {', '.join(others)}" if others else ""), per)


def m_allocator_spread(data, p):
    """Per named server, the dearest allocator's median server CPU per request ÷ the cheapest's; the figure is the
    largest over the servers (the one most favourable to a large effect of allocation). The server and its pair of
    allocators are chosen once, on the whole data; a resample recomputes that pair's ratio from its draw of the
    repetitions (choosing the largest again in every resample would bias the interval upwards)."""
    key = ("allocator_spread", tuple(p["servers"]))
    if data._rng is not None:
        choice = data._picks_fixed.get(key) if hasattr(data, "_picks_fixed") else None
        if choice is None:
            raise Missing("no choice of server and allocators on the whole data")
        s, hi, lo = choice
        a, b = data.median(s, hi, cpu_ns), data.median(s, lo, cpu_ns)
        if not a or not b:
            raise Missing(f"{s} lacks {hi} or {lo} in this resample")
        return Measure(a / b, "×", "", {s: a / b})
    per, pairs, words = {}, {}, []
    for s in p["servers"]:
        med = {a: data.median(s, a, cpu_ns) for a in data.allocators}
        med = {a: v for a, v in med.items() if v}
        if len(med) < 2:
            continue
        hi, lo = max(med, key=med.get), min(med, key=med.get)
        per[s] = med[hi] / med[lo]
        pairs[s] = (hi, lo)
        p50 = {a: data.median(s, a, lambda c: fixed_latency(c, "p50")) for a in med}
        p50 = {a: v for a, v in p50.items() if v}
        lat = f", fixed-rate p50 {fmt(max(p50.values()) / min(p50.values()))}×" if len(p50) >= 2 else ""
        words.append(f"{s} {fmt(per[s])}× ({hi} {fmt(med[hi] / 1000)} µs ÷ {lo} {fmt(med[lo] / 1000)} µs{lat})")
    if not per:
        raise Missing(f"none of {', '.join(p['servers'])} has ok cells under two allocators")
    top = max(per, key=per.get)
    if not hasattr(data, "_picks_fixed"):
        data._picks_fixed = {}
    data._picks_fixed[key] = (top, *pairs[top])
    bound = []
    for pr in data.predictions():
        if pr.get("server") in per and pr.get("status") == "ok":
            base = next((a for a in pr.get("allocators") or [] if a.get("allocator") == data.baseline), None)
            share = base and base.get("replay_share_of_server_cpu")
            if isinstance(share, (int, float)) and 0 <= share < 1:
                bound.append(f"{pr['server']} {fmt(100 * share)}% (at most {fmt(1 / (1 - share))}× if allocation "
                             "cost nothing)")
    detail = "server CPU per request (peak phase, user + sys), dearest ÷ cheapest allocator: " + "; ".join(words)
    detail += f"; the interval resamples {top}'s {pairs[top][0]} and {pairs[top][1]} repetitions"
    if bound:
        detail += f"; the replay's malloc and free under {data.baseline} as a share of server CPU: " + ", ".join(bound)
    return Measure(per[top], "×", detail, per)


def _pct(share):
    return f"{'+' if share > 0 else ''}{fmt(100 * share)}%"


def m_rss_growth_gap(data, p):
    """One server's RSS growth over its load (rss_growth: end of warm-up to end of load, as a share), median over
    repetitions per allocator; the figure, in percent, is the smaller of the `grows` allocator's growth and its
    margin over the largest growth among the `steady` allocators present. Positive only when the one grows and
    grows more than every other."""
    s, grows, steady = p["server"], p["grows"], p["steady"]
    present = [a for a in data.allocators if data.reps(s, a)]
    if not present:
        raise Missing(f"the server results hold no ok {s} cells")
    if grows not in present:
        raise Missing(f"the server results hold no ok {s} cells under {grows}")
    if not any(a in present for a in steady):
        raise Missing(f"the server results hold no ok {s} cells under {' or '.join(steady)}")
    med = {a: data.median(s, a, rss_growth) for a in present}
    med = {a: v for a, v in med.items() if v is not None}
    if grows not in med or not any(a in med for a in steady):
        raise Missing(f"the {s} cells under {grows} or under {' and '.join(steady)} have no RSS series spanning "
                      "their load (phases_ms.peak_start to fixed_end)")
    others = {a: med[a] for a in steady if a in med}
    top = max(others, key=others.get)
    value = min(med[grows], med[grows] - others[top])

    def over_load(a, i):
        return data.median(s, a, lambda c: (rss_over_load(c) or (None, None, None))[i])

    words = []
    for a, v in med.items():
        fall = data.median(s, a, rss_fall)
        words.append(f"{a} {_pct(v)} ({fmt(over_load(a, 0))} → {fmt(over_load(a, 1))} KiB over "
                     f"{fmt(over_load(a, 2))} s; last sample "
                     f"{fmt(100 * fall) if fall is not None else '?'}% below the series' maximum)")
    missing = [a for a in steady if a not in med]
    return Measure(100 * value, "%",
                   f"{s}: RSS growth from the end of the warm-up to the end of the load, median over repetitions: "
                   + "; ".join(words)
                   + f". Figure: the smaller of {grows}'s growth ({_pct(med[grows])}) and its margin over {top}'s "
                     f"({fmt(100 * (med[grows] - others[top]))} points)"
                   + (f"; no {' or '.join(missing)} cells to compare" if missing else ""),
                   {a: 100 * v for a, v in med.items()})


SERVE_METRICS = {
    "gc_max_pause": m_gc_max_pause, "gc_pause_at_heap": m_gc_pause_at_heap, "gc_pause_growth": m_gc_pause_growth,
    "node_retention": m_node_retention, "allocator_spread": m_allocator_spread, "rss_growth_gap": m_rss_growth_gap,
}
SERVE_KINDS = tuple(SERVE_METRICS)
