"""The report's charts, drawn from a results file (results/SCHEMA.md).

render(results, outdir) writes seven charts as PNG and SVG under outdir/charts and returns, in a fixed order, what
the report says about each: title, caption, files, or the reason a chart was skipped. Every number comes from ok
cells of the file. The series_* functions turn the file into plain numbers; the draw_* functions only draw them, so a
test can check what a chart shows without looking at pixels.

The output is byte-reproducible for the same file and matplotlib: the Agg backend, a fixed SVG hash salt, no dates
or software names in the metadata, fixed figure sizes, sorted or configured orders everywhere, no randomness.
"""

import math
import os
import pathlib
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from data import Data  # noqa: E402
from scaling_metrics import figures  # noqa: E402

CHARTS_DIR = "charts"
DPI = 100
MIB = 1024.0 * 1024.0
RC = {
    "svg.hashsalt": "alloclab",
    "font.size": 9,
    "axes.titlesize": 10,
    "figure.titlesize": 12,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
METADATA = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None}}

# The allocators a process can preload (plus null, the harness's own floor), as the RSS timeline shows them.
TIMELINE_BACKENDS = ("glibc", "jemalloc", "mimalloc", "tcmalloc", "null")


def on_timeline(backend):
    """One of TIMELINE_BACKENDS, with or without its library's settings (jemalloc[thp=always] is jemalloc)."""
    return backend.split("[", 1)[0] in TIMELINE_BACKENDS
PERCENTILES = (("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p999", "p99.9"), ("max", "max"))
GEOMEAN = "geomean"


# ---------------------------------------------------------------------------------------------------------------
# Numbers


@dataclass(frozen=True)
class Spread:
    """Median and quartiles (linear interpolation, as in the file's summaries) of n values."""
    median: float
    q1: float
    q3: float
    n: int


def quantile(sorted_values, q):
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def spread(values):
    v = sorted(values)
    return Spread(quantile(v, 0.5), quantile(v, 0.25), quantile(v, 0.75), len(v))


def geomean(values):
    """Geometric mean of positive values; None when there are none."""
    logs = [math.log(v) for v in values if v > 0]
    return math.exp(sum(logs) / len(logs)) if logs else None


def backend_order(results):
    """Backends in config order (their colour is their place here), then any others the cells name, sorted."""
    listed = list((results.get("config") or {}).get("backends") or [])
    others = sorted({c["backend"] for c in results.get("cells", [])} - set(listed))
    return listed + others


def workload_order(results):
    """The workloads every backend ran, in the run's order: claim experiments
    (a subset of backends, or a model with options such as scale=64) are
    read by the ledger and the tables, not drawn beside the HTTP models."""
    config = (results.get("config") or {}).get("workloads") or []
    listed = [w["name"] for w in config]
    main = [w["name"] for w in config if not w.get("backends") and not w.get("params") and not w.get("age_bytes")
            and not w.get("idle_seconds")]
    others = sorted({c["workload"] for c in results.get("cells", [])} - set(listed))
    return main + others


def ok_cells(results, threads=None):
    for c in results.get("cells", []):
        if c.get("status") == "ok" and isinstance(c.get("replay"), dict):
            if threads is None or c.get("threads") == threads:
                yield c


def per_cell(results, value, threads=1):
    """{workload: {backend: [value per ok cell, by rep]}} for the cells where value(cell) is not None."""
    out = {}
    for c in sorted(ok_cells(results, threads), key=lambda c: (c["workload"], c["backend"], c["rep"])):
        v = value(c)
        if v is not None:
            out.setdefault(c["workload"], {}).setdefault(c["backend"], []).append(v)
    return out


def ordered(results, groups):
    """groups ({workload: {backend: x}}) as a list of (workload, [(backend, x)]) in workload and backend order."""
    backends = backend_order(results)
    out = []
    for w in workload_order(results):
        if w in groups:
            out.append((w, [(b, groups[w][b]) for b in backends if b in groups[w]]))
    return out


def ns_per_op(cell):
    r = cell["replay"]
    return r["allocator_seconds"] * 1e9 / r["ops"] if r.get("ops") and "allocator_seconds" in r else None


def fragmentation(cell, key):
    f = cell["replay"].get("fragmentation")
    return f.get(key) if f else None


def peak_rss_growth(cell):
    m = cell["replay"].get("memory") or {}
    # A peak of 0 means the kernel refused to reset VmHWM: there is no peak to show.
    return m["peak_rss_bytes"] - m["baseline_rss_bytes"] if m.get("peak_rss_bytes") else None


def series_latency(results):
    """[(workload, [(backend, Spread of allocator ns per op)])], one thread."""
    groups = per_cell(results, ns_per_op)
    return ordered(results, {w: {b: spread(v) for b, v in bs.items()} for w, bs in groups.items()})


def series_percentiles(results):
    """[(workload, timer resolution ns (median over its cells), [(backend, [median p50, p90, p99, p99.9, max])])]."""
    def alloc_latency(c):
        lat = (c["replay"].get("latency_ns") or {}).get("alloc")
        return lat if lat and lat.get("count") else None

    groups = per_cell(results, alloc_latency)
    res = per_cell(results, lambda c: (c["replay"].get("clock") or {}).get("resolution_ns"))
    out = []
    for w, rows in ordered(results, groups):
        curves = [(b, [spread([h[key] for h in hs]).median for key, _ in PERCENTILES]) for b, hs in rows]
        resolution = spread([r for b in sorted(res.get(w, {})) for r in res[w][b]]).median if res.get(w) else None
        out.append((w, resolution, curves))
    return out


def series_relative(results):
    """[(group, [(backend, allocator seconds / glibc's)])]: one group per workload, then GEOMEAN over the workloads
    each backend has; None when glibc has no ok single-thread cell."""
    med = {w: {b: spread(v).median for b, v in bs.items()}
           for w, bs in per_cell(results, lambda c: c["replay"].get("allocator_seconds")).items()}
    ratios = {w: {b: s / bs["glibc"] for b, s in bs.items()} for w, bs in med.items() if bs.get("glibc", 0) > 0}
    if not ratios:
        return None
    out = ordered(results, ratios)
    per_backend = {}
    for _, rows in out:
        for b, r in rows:
            per_backend.setdefault(b, []).append(r)
    means = [(b, geomean(per_backend[b])) for b in backend_order(results) if b in per_backend]
    return out + [(GEOMEAN, [(b, g) for b, g in means if g is not None])]


def series_memory(results):
    """[(workload, ideal footprint bytes or None, [(backend, Spread peak RSS growth or None, Spread heap at peak
    live or None)])], one thread."""
    rss = per_cell(results, peak_rss_growth)
    heap = per_cell(results, lambda c: fragmentation(c, "heap_at_peak_live_bytes"))
    out = []
    for w in workload_order(results):
        backends = [b for b in backend_order(results) if b in rss.get(w, {}) or b in heap.get(w, {})]
        if not backends:
            continue
        ideal = (results.get("workloads", {}).get(f"{w}/t1") or {}).get("peak_live_bytes")
        rows = [(b, spread(rss[w][b]) if b in rss.get(w, {}) else None,
                 spread(heap[w][b]) if b in heap.get(w, {}) else None) for b in backends]
        out.append((w, ideal, rows))
    return out


def long_running_workload(results):
    for w in (results.get("config") or {}).get("workloads") or []:
        if w.get("model") == "long-running":
            return w["name"]
    return None


def series_rss_timeline(results):
    """{"workload", "rep", "live": (seconds, MiB), "lines": [(backend, seconds, RSS growth MiB, floor growth MiB)]}
    for the long-running workload, one thread, the lowest ok rep (0 normally); None without such cells."""
    w = long_running_workload(results)
    if w is None:
        return None
    cells = {}
    for c in ok_cells(results, 1):
        has_timeline = bool((c["replay"].get("memory") or {}).get("timeline"))
        if c["workload"] == w and on_timeline(c["backend"]) and has_timeline:
            if c["backend"] not in cells or c["rep"] < cells[c["backend"]]["rep"]:
                cells[c["backend"]] = c
    if not cells:
        return None
    lines, live = [], None
    for b in [b for b in backend_order(results) if b in cells]:
        m = cells[b]["replay"]["memory"]
        cols = m.get("timeline_columns") or ["ops", "live_bytes", "rss_bytes", "seconds", "heap_bytes"]
        t, rss, lb = cols.index("seconds"), cols.index("rss_bytes"), cols.index("live_bytes")
        seconds = [row[t] for row in m["timeline"]]
        base = m["baseline_rss_bytes"]
        floor = (m["floor_rss_bytes"] - base) / MIB if m.get("floor_rss_bytes") else None
        lines.append((b, seconds, [(row[rss] - base) / MIB for row in m["timeline"]], floor))
        if live is None or b == "glibc":
            live = (b, seconds, [row[lb] / MIB for row in m["timeline"]])
    return {"workload": w, "reps": sorted({c["rep"] for c in cells.values()}), "live": live, "lines": lines}


def series_scaling(data):
    """[(series name, kind, [(backend, [(threads, Mops/s, efficiency, contention factor)])])] from a Data view
    (scaling_metrics.figures): null first, its contention its own per-op growth."""
    out = []
    for s, rows in figures(data):
        lines = [(b, [(t, p["throughput"] / 1e6, p["efficiency"], p["contention"]) for t, p in sorted(pts.items())])
                 for b, pts in rows.items()]
        out.append((s.name, s.kind, lines))
    return out


def series_tradeoff(results):
    """[(backend, geomean ns per op, geomean heap at peak live / live, workloads in both)], one thread; a backend's
    means are over the workloads where it has both figures, so that its two means describe the same runs."""
    speed = {w: {b: spread(v).median for b, v in bs.items()} for w, bs in per_cell(results, ns_per_op).items()}
    frag = {w: {b: spread(v).median for b, v in bs.items()}
            for w, bs in per_cell(results, lambda c: fragmentation(c, "heap_at_peak_live_over_live")).items()}
    out = []
    for b in backend_order(results):
        ws = [w for w in workload_order(results) if b in speed.get(w, {}) and b in frag.get(w, {})]
        x = geomean([speed[w][b] for w in ws])
        y = geomean([frag[w][b] for w in ws])
        if x is not None and y is not None:
            out.append((b, x, y, len(ws)))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Drawing


class Styles:
    """A backend's colour, marker and line style by its place in the config's backend list: 18 colours and 7
    markers, so the first 126 backends differ in colour or marker; lines of the 11th and later are dashed."""
    COLOURS = list(matplotlib.colormaps["tab10"].colors) + list(matplotlib.colormaps["Dark2"].colors)
    MARKERS = ("o", "s", "^", "D", "v", "P", "X")

    def __init__(self, results):
        self.index = {b: i for i, b in enumerate(backend_order(results))}

    def __call__(self, backend):
        i = self.index.get(backend, 0)
        return {"color": self.COLOURS[i % len(self.COLOURS)], "marker": self.MARKERS[i % len(self.MARKERS)],
                "linestyle": "-" if (i // 10) % 2 == 0 else "--"}

    def handles(self, backends, line=True):
        return [Line2D([], [], label=b, markersize=6, **{**self(b), **({} if line else {"linestyle": "none"})})
                for b in backends]


class Clip:
    """Values at or below zero cannot sit on a log axis: they are drawn at a floor and counted for the caption."""

    def __init__(self, values, floor=None):
        positive = [v for v in values if v is not None and v > 0]
        self.floor = floor if floor is not None else (min(positive) / 2 if positive else 1.0)
        self.count = 0

    def __call__(self, v):
        if v > 0:
            return v
        self.count += 1
        return self.floor

    def note(self, unit=""):
        if not self.count:
            return ""
        where = f"{self.floor:.3g} {unit}".strip()
        return f" {self.count} value{'s' if self.count != 1 else ''} at or below 0 drawn at {where}."


def span_text(values):
    lo, hi = min(values), max(values)
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def n_text(ns):
    return f"n = {span_text(ns)}" if ns else "n = 0"


def log_scale(ax, which):
    """A log scale labelled with plain numbers at 1, 2 and 5 of each power of ten."""
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def legend_right(fig, handles, right):
    fig.subplots_adjust(right=right)
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(right + 0.005, 0.5), frameon=False,
               ncol=1 if len(handles) <= 24 else 2)


def grid(count, ncols, width, row_height, **kw):
    ncols = min(ncols, count)
    nrows = math.ceil(count / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, row_height * nrows + 1.0), squeeze=False, **kw)
    flat = [a for row in axes for a in row]
    for a in flat[count:]:
        a.set_visible(False)
    return fig, flat[:count]


def group_positions(groups):
    """x of each (group, backend) point: one slot per backend that appears anywhere, the same in every group."""
    backends = []
    for _, rows in groups:
        backends += [b for b, *_ in rows if b not in backends]
    width = 0.8 / max(len(backends), 1)
    slot = {b: (i - (len(backends) - 1) / 2) * width for i, b in enumerate(backends)}
    return backends, slot


def draw_latency(series, styles):
    values = [s.median for _, rows in series for _, s in rows] + [s.q1 for _, rows in series for _, s in rows]
    clip = Clip(values)
    fig, ax = plt.subplots(figsize=(12, 5.5))
    backends, slot = group_positions(series)
    for g, (_, rows) in enumerate(series):
        for b, s in rows:
            y = clip(s.median)
            ax.errorbar([g + slot[b]], [y], yerr=[[y - clip(s.q1)], [max(clip(s.q3) - y, 0)]], capsize=2,
                        markersize=5, linestyle="none", color=styles(b)["color"], marker=styles(b)["marker"])
    separate_groups(ax, [w for w, _ in series])
    log_scale(ax, "y")
    ax.set_ylabel("allocator time per op (ns)")
    legend_right(fig, styles.handles(backends, line=False), 0.82)
    ns = [s.n for _, rows in series for _, s in rows]
    return fig, ("Median allocator time per operation (replay.allocator_seconds x 1e9 / replay.ops) per backend and "
                 f"workload, one thread; error bars span the quartiles over repetitions ({n_text(ns)} per point). "
                 "Log scale." + clip.note("ns"))


def separate_groups(ax, labels):
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels)
    ax.set_xlim(-0.5, len(labels) - 0.5)
    ax.grid(False, axis="x")
    for x in range(1, len(labels)):
        ax.axvline(x - 0.5, color="0.8", linewidth=0.8)


def draw_percentiles(series, styles):
    fig, axes = grid(len(series), 3, 13, 3.4, sharey=True)
    backends = []
    all_values = [v for _, _, curves in series for _, c in curves for v in c]
    resolutions = [r for _, r, _ in series if r]
    # Zeros are below the timer's resolution: draw them under the lowest resolution line, inside the grey band.
    clip = Clip(all_values, floor=min(resolutions) / 2 if resolutions else None)
    for ax, (w, resolution, curves) in zip(axes, series):
        for b, c in curves:
            backends += [b] if b not in backends else []
            ax.plot(range(len(PERCENTILES)), [clip(v) for v in c], markersize=4, linewidth=1, **styles(b))
        if resolution:
            ax.axhspan(clip.floor / 2, resolution, color="0.85", zorder=0)
            ax.axhline(resolution, color="black", linewidth=0.8, linestyle=":")
        ax.set_title(w)
        log_scale(ax, "y")
        ax.set_xticks(range(len(PERCENTILES)))
        ax.set_xticklabels([label for _, label in PERCENTILES])
    for ax in axes[::min(3, len(axes))]:
        ax.set_ylabel("malloc latency (ns)")
    handles = styles.handles(backends) + [Line2D([], [], color="black", linestyle=":", label="timer resolution")]
    legend_right(fig, handles, 0.84)
    fig.subplots_adjust(hspace=0.35)
    found = sorted({f"{r:.3g} ns" for _, r, _ in series if r})
    res = found[0] if len(found) == 1 else ", ".join(f"{w} {r:.3g} ns" for w, r, _ in series if r)
    return fig, ("Allocation latency percentiles (replay.latency_ns.alloc: one allocation in sample_one_in timed "
                 "alone), median over repetitions per backend, one thread; log scale. The dotted line and grey band "
                 f"mark the timer resolution (median replay.clock.resolution_ns: {res or 'not recorded'}): values "
                 "below it are not measurements." + clip.note("ns"))


def draw_relative(series, styles):
    clip = Clip([r for _, rows in series for _, r in rows])
    fig, ax = plt.subplots(figsize=(12, 5.5))
    backends, slot = group_positions(series)
    for g, (group, rows) in enumerate(series):
        for b, r in rows:
            st = styles(b)
            big = group == GEOMEAN
            ax.plot([g + slot[b]], [clip(r)], linestyle="none", color=st["color"], marker=st["marker"],
                    markersize=8 if big else 5, markeredgecolor="black" if big else st["color"])
    separate_groups(ax, [g for g, _ in series])
    ax.axhline(1.0, color="black", linewidth=0.8)
    log_scale(ax, "y")
    ax.set_ylabel("allocator time / glibc's")
    legend_right(fig, styles.handles(backends, line=False), 0.82)
    counts = {}
    for g, rows in series[:-1]:
        for b, _ in rows:
            counts[b] = counts.get(b, 0) + 1
    partial = sorted(b for b, k in counts.items() if k < len(series) - 1)
    note = f" The geometric means of {', '.join(partial)} cover fewer workloads." if partial else ""
    return fig, ("Allocator time (median replay.allocator_seconds over repetitions, one thread) divided by glibc's on "
                 f"the same workload, and the geometric mean over the {len(series) - 1} workloads (large markers); "
                 "below 1 is faster than glibc. Log scale." + note + clip.note())


def draw_memory(series, styles):
    values = [s.median / MIB for _, _, rows in series for _, *ss in rows for s in ss if s]
    values += [s.q1 / MIB for _, _, rows in series for _, *ss in rows for s in ss if s]
    clip = Clip(values)
    backends = []
    for _, _, rows in series:
        backends += [b for b, *_ in rows if b not in backends]
    ncols = min(len(series), 5)
    fig, axes = grid(len(series), ncols, 3.0 * ncols + 2.5, 0.28 * len(backends) + 1.0, sharey=True)
    y = {b: i for i, b in enumerate(backends)}
    ns = []
    for ax, (w, ideal, rows) in zip(axes, series):
        for b, rss, heap in rows:
            st = styles(b)
            for s, dy, filled in ((rss, -0.15, True), (heap, 0.15, False)):
                if s is None:
                    continue
                ns.append(s.n)
                x = clip(s.median / MIB)
                ax.errorbar([x], [y[b] + dy], xerr=[[x - clip(s.q1 / MIB)], [max(clip(s.q3 / MIB) - x, 0)]],
                            marker="o" if filled else "D", markersize=5, color=st["color"], capsize=2,
                            markerfacecolor=st["color"] if filled else "white", linestyle="none")
        if ideal:
            ax.axvline(ideal / MIB, color="black", linestyle="--", linewidth=1)
        log_scale(ax, "x")
        ax.set_title(w)
        ax.set_xlabel("MiB")
        ax.grid(False, axis="y")
    axes[0].set_yticks(range(len(backends)))
    axes[0].set_yticklabels(backends)
    axes[0].set_ylim(len(backends) - 0.5, -0.5)
    handles = [Line2D([], [], marker="o", color="0.3", linestyle="none", label="peak RSS growth"),
               Line2D([], [], marker="D", color="0.3", markerfacecolor="white", linestyle="none",
                      label="heap at peak live"),
               Line2D([], [], color="black", linestyle="--", label="ideal: peak live bytes")]
    height, label_inches = fig.get_figheight(), 0.3 + 0.075 * max(len(b) for b in backends)
    fig.subplots_adjust(left=label_inches / fig.get_figwidth(), right=0.98, bottom=1.0 / height, top=1 - 0.8 / height,
                        hspace=0.4)
    fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False)
    return fig, ("Peak RSS growth (replay.memory peak_rss_bytes - baseline_rss_bytes, filled) and the allocator's "
                 "heap at the moment of peak live bytes (replay.fragmentation.heap_at_peak_live_bytes, open) per "
                 "backend, median over repetitions with quartile bars, one thread; the dashed line is the trace's "
                 f"ideal footprint (its peak live bytes). Log scale, {n_text(ns)} per point." + clip.note("MiB"))


def draw_rss_timeline(series, styles):
    fig, ax = plt.subplots(figsize=(11, 5.5))
    for b, seconds, rss, floor in series["lines"]:
        st = styles(b)
        ax.plot(seconds, rss, color=st["color"], linewidth=1.2, label=b)
        if floor is not None:
            ax.axhline(floor, color=st["color"], linestyle="--", linewidth=0.9)
    live_backend, seconds, live = series["live"]
    ax.plot(seconds, live, color="black", linewidth=1.5, label=f"live bytes (on {live_backend}'s clock)")
    ax.set_xlabel("seconds since the replay began")
    ax.set_ylabel("MiB above the baseline RSS")
    ax.set_title(series["workload"])
    handles = ax.get_legend_handles_labels()[0] + [Line2D([], [], color="0.4", linestyle="--",
                                                          label="forced-release floor")]
    legend_right(fig, handles, 0.78)
    reps = ", ".join(str(r) for r in series["reps"])
    return fig, (f"RSS above the baseline over time while replaying {series['workload']} (one thread, repetition "
                 f"{reps}; replay.memory.timeline) for the general allocators and null, with the exact live bytes; "
                 "each dashed line is that allocator's RSS after every block was freed and it was asked to return "
                 "memory (floor_rss_bytes - baseline_rss_bytes). n = 1 run per line.")


NULL_LINE = {"color": "black", "linestyle": "--", "linewidth": 1.6, "marker": "x", "markersize": 5}
SCALING_ROWS = (("throughput", "million ops per second", 1), ("efficiency", "efficiency (1 = linear)", 2),
                ("contention", "contention factor (1 = none)", 3))


def draw_scaling(series, styles, cores, where):
    """Three rows per series: throughput, efficiency and contention factor against threads, null dashed black."""
    ncols = len(series)
    fig, axes = plt.subplots(3, ncols, figsize=(max(6.0, 3.3 * ncols + 2.0), 9.0), squeeze=False)
    backends = []
    threads = sorted({t for _, _, rows in series for _, pts in rows for t, *_ in pts})
    ticks = sorted(set(threads) | ({cores} if cores and cores <= max(threads) * 2 else set()))
    for col, (name, kind, rows) in enumerate(series):
        for row, (key, label, index) in enumerate(SCALING_ROWS):
            ax = axes[row][col]
            for b, pts in rows:
                xy = [(p[0], p[index]) for p in pts if p[index] is not None]
                if not xy:
                    continue
                if b != "null" and b not in backends:
                    backends.append(b)
                style = NULL_LINE if b == "null" else {"markersize": 4, "linewidth": 1, **styles(b)}
                ax.plot([x for x, _ in xy], [y for _, y in xy], **style)
            ax.set_xscale("log", base=2)
            ax.set_xticks(ticks)
            ax.set_xticklabels([str(t) for t in ticks])
            ax.minorticks_off()
            ax.set_xlim(min(ticks) / 1.3, max(ticks) * 1.3)
            if key == "throughput":
                ax.set_ylim(bottom=0)
                ax.set_title(f"{name} ({kind})")
            else:
                ax.axhline(1.0, color="0.5", linewidth=0.8)
            if key == "efficiency":
                ax.set_ylim(0, max(1.1, ax.get_ylim()[1]))
            if cores:
                ax.axvline(cores, color="black", linestyle=":", linewidth=1)
            if row == 2:
                ax.set_xlabel("threads")
            if col == 0:
                ax.set_ylabel(label)
    if cores:
        axes[0][0].text(cores, 0.02, f" {cores} cores", transform=axes[0][0].get_xaxis_transform(), fontsize=8,
                        va="bottom")
    handles = [Line2D([], [], label="null (the harness)", **NULL_LINE)] + styles.handles(backends)
    legend_right(fig, handles, 1 - 2.0 / fig.get_figwidth())
    fig.subplots_adjust(hspace=0.35, wspace=0.3)
    kinds = sorted({k for _, k, _ in series})
    words = {"weak": "weak scaling (T threads replay T times the requests: each thread the same work)",
             "strong": "strong scaling (the same requests split over T threads)",
             "mixed": "traces whose work neither grows with T nor stays the same"}
    return fig, (f"Measured on {where}; {', '.join(words[k] for k in kinds)}. Per backend and workload, median over "
                 "repetitions: throughput (replay.ops ÷ busy_seconds), efficiency (throughput at T ÷ T × at 1 "
                 "thread) and contention factor (net allocator ns per op at T ÷ at 1, the null backend's per-op cost "
                 "subtracted). The dashed black line is the null backend, the harness alone: its efficiency, and "
                 f"its own per-op growth in the bottom row. The dotted line marks the {cores} usable cores.")


def draw_tradeoff(series, styles):
    fig, ax = plt.subplots(figsize=(10, 6.5))
    for b, x, y, _ in series:
        st = styles(b)
        ax.plot([x], [y], linestyle="none", marker=st["marker"], color=st["color"], markersize=7)
    log_scale(ax, "x")
    log_scale(ax, "y")
    ax.set_xlabel("allocator time per op, geometric mean over workloads (ns)")
    ax.set_ylabel("heap at peak live / live, geometric mean")
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle=":")
    ax.margins(0.08)
    fig.subplots_adjust(left=0.1, right=0.96)
    place_labels(fig, ax, series)
    counts = sorted({k for *_, k in series})
    return fig, ("Memory against speed per backend, one thread: x is the geometric mean over workloads of the median "
                 "allocator ns per op, y the geometric mean of the median heap at peak live divided by peak live "
                 "(replay.fragmentation.heap_at_peak_live_over_live; the dotted line is no overhead); lower left is "
                 f"better. Each point is over {span_text(counts)} workloads.")


def place_labels(fig, ax, series):
    """Names beside the points, each at the first of a few offsets where it stays inside the figure and overlaps
    no point or label placed before (the last offset when none does)."""
    fig.canvas.draw()  # settles the axis limits, so data coordinates map to their final place
    renderer = fig.canvas.get_renderer()
    taken = []
    offsets = ((6, 0, "left"), (6, 9, "left"), (6, -9, "left"), (-6, 0, "right"), (-6, 9, "right"),
               (-6, -9, "right"), (6, 18, "left"), (6, -18, "left"))
    points = [ax.transData.transform((x, y)) for _, x, y, _ in series]
    for px, py in points:
        taken.append(matplotlib.transforms.Bbox.from_extents(px - 4, py - 4, px + 4, py + 4))
    for b, x, y, _ in sorted(series, key=lambda s: (s[2], s[1], s[0])):
        for dx, dy, ha in offsets:
            t = ax.annotate(b, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va="center", fontsize=8)
            box = t.get_window_extent(renderer)
            inside = fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1
            if (inside and not any(box.overlaps(o) for o in taken)) or (dx, dy, ha) == offsets[-1]:
                taken.append(box)
                break
            t.remove()


# ---------------------------------------------------------------------------------------------------------------
# The charts and their files


def chart_latency(results, styles):
    s = series_latency(results)
    return draw_latency(s, styles) if s else "no ok single-thread cells"


def chart_percentiles(results, styles):
    s = series_percentiles(results)
    return draw_percentiles(s, styles) if s else "no ok single-thread cells with sampled allocation latencies"


def chart_relative(results, styles):
    if "glibc" not in backend_order(results):
        return "no glibc backend in this run"
    s = series_relative(results)
    return draw_relative(s, styles) if s else "glibc has no ok single-thread cell"


def chart_memory(results, styles):
    s = series_memory(results)
    return draw_memory(s, styles) if s else "no ok single-thread cells with memory figures"


def chart_rss_timeline(results, styles):
    if long_running_workload(results) is None:
        return "no long-running workload in this run"
    s = series_rss_timeline(results)
    if s is None:
        return f"no ok single-thread cell of {', '.join(TIMELINE_BACKENDS)} on the long-running workload"
    return draw_rss_timeline(s, styles)


def chart_scaling(results, styles, scaling=None):
    data = scaling if scaling is not None else Data(results)
    known = backend_order(results)
    styles = Styles({"config": {"backends": known + [b for b in data.backends if b not in known]}, "cells": []})
    s = series_scaling(data)
    if not s:
        return "only one thread count in this run"
    return draw_scaling(s, styles, data.cores, data.machine_words())


def chart_tradeoff(results, styles):
    s = series_tradeoff(results)
    return draw_tradeoff(s, styles) if s else "no backend has both speed and heap figures"


CHARTS = (
    ("latency", "Allocator time per operation", chart_latency),
    ("percentiles", "Allocation latency percentiles", chart_percentiles),
    ("relative", "Allocator time relative to glibc", chart_relative),
    ("memory", "Memory footprint against the ideal", chart_memory),
    ("rss_timeline", "RSS over time on the long-running workload", chart_rss_timeline),
    ("scaling", "Scaling with threads: throughput, efficiency, contention", chart_scaling),
    ("tradeoff", "Memory against speed", chart_tradeoff),
)


def save(fig, folder, name):
    """Writes name.png and name.svg, each to a temporary name in folder first, so no half-written file is left."""
    for ext in ("png", "svg"):
        target = folder / f"{name}.{ext}"
        tmp = folder / f".{name}.{ext}.{os.getpid()}.tmp"
        try:
            fig.savefig(tmp, format=ext, dpi=DPI, metadata=METADATA[ext])
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()


def render(results, outdir, scaling=None):
    """Draws every chart into outdir/charts; returns [{name, title, caption, png, svg} or {name, title, skipped}].
    The scaling chart reads `scaling` (a Data view: the machine the scaling claims read) when given."""
    folder = pathlib.Path(outdir) / CHARTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    styles = Styles(results)
    out = []
    with plt.rc_context(RC):
        for name, title, chart in CHARTS:
            drawn = chart(results, styles, scaling) if name == "scaling" else chart(results, styles)
            if isinstance(drawn, str):
                # A chart an earlier render left here would contradict the report: remove it.
                for ext in ("png", "svg"):
                    (folder / f"{name}.{ext}").unlink(missing_ok=True)
                out.append({"name": name, "title": title, "skipped": drawn})
                continue
            fig, caption = drawn
            try:
                fig.suptitle(title)
                save(fig, folder, name)
            finally:
                plt.close(fig)
            out.append({"name": name, "title": title, "caption": caption,
                        "png": f"{CHARTS_DIR}/{name}.png", "svg": f"{CHARTS_DIR}/{name}.svg"})
    return out
