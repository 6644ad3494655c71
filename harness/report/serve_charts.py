"""The real-server chart: Node.js garbage-collection pause against the heap
used before each collection, from every Node.js cell's `gc.collections` in an
`alloclab serve` document. It follows charts.py's conventions (the Agg
backend, charts.RC, fixed sizes and orders, charts.save for PNG and SVG
without dates), so the same file gives the same bytes."""

import pathlib

from charts import CHARTS_DIR, RC, log_scale, save  # first: it selects the Agg backend
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from serve_data import GC_KINDS, collections, is_node  # noqa: E402

NAME = "node_gc"
TITLE = "Node.js garbage collection: pause against heap used"
COLOURS = {"scavenge": "#1f77b4", "mark-compact": "#d62728", "other": "#7f7f7f", "forced": "#000000"}
MARKERS = {"scavenge": "o", "mark-compact": "s", "other": "^", "forced": "D"}
# The full collection the suite forces after the load (global.gc()), drawn apart.
KINDS = GC_KINDS + ("forced",)


def series_gc(serve):
    """{kind: {"load": [(mb_before, pause_ms)], "startup": [...]}} over every Node.js cell, in server, allocator and
    repetition order. A collection counts as under load from the cell's gc.after_ms (the first answer, on V8's
    clock) where the file gives it; without it every point is drawn as under load."""
    out = {}
    for s, a in serve.groups(is_node):
        for c in serve.cells(s, a):
            after = (c.get("gc") or {}).get("after_ms")
            for ms, kind, before, _, pause in collections(c):
                k = kind if kind in KINDS else "other"
                phase = "startup" if isinstance(after, (int, float)) and ms < after else "load"
                out.setdefault(k, {"load": [], "startup": []})[phase].append((before, pause))
    return out


def draw_gc(series):
    fig, ax = plt.subplots(figsize=(9, 5.5))
    handles = []
    for kind in KINDS:
        if kind not in series:
            continue
        colour, marker = COLOURS[kind], MARKERS[kind]
        load, startup = series[kind]["load"], series[kind]["startup"]
        if startup:
            ax.plot([max(x, 1e-3) for x, _ in startup], [max(y, 1e-3) for _, y in startup], linestyle="none",
                    marker=marker, markersize=5, markerfacecolor="none", markeredgecolor=colour, alpha=0.8)
        if load:
            ax.plot([max(x, 1e-3) for x, _ in load], [max(y, 1e-3) for _, y in load], linestyle="none",
                    marker=marker, markersize=5, color=colour, alpha=0.8)
        label = (f"forced full collection after the load ({len(load)})" if kind == "forced"
                 else f"{kind} ({len(load)} under load, {len(startup)} at start-up)")
        handles.append(Line2D([], [], linestyle="none", marker=marker, color=colour, label=label))
    handles.append(Line2D([], [], linestyle="none", marker="o", markerfacecolor="none", markeredgecolor="black",
                          label="hollow: at start-up"))
    log_scale(ax, "x")
    log_scale(ax, "y")
    ax.axhline(50.0, color="black", linewidth=0.8, linestyle=":")
    ax.set_xlabel("V8 heap used before the collection (MB)")
    ax.set_ylabel("pause (ms)")
    ax.legend(handles=handles, loc="best", frameon=False)
    ax.margins(0.08)
    n = sum(len(v["load"]) + len(v["startup"]) for v in series.values())
    return fig, (f"Every V8 collection of every Node.js cell ({n} in all; plain node under each allocator and "
                 "node:retain=MIB), from --trace-gc: pause against the heap used before it, both axes logarithmic; "
                 "one colour per kind; filled points came under load, hollow ones at start-up (before the first "
                 "answer). The dotted line is 50 ms, the least of the document's \"GC pauses can be 50-200 ms\".")


def render_gc(serve, outdir):
    """Draws outdir/charts/node_gc.{png,svg}; returns {name, title, caption, png, svg} or {name, title, skipped}."""
    folder = pathlib.Path(outdir) / CHARTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    s = series_gc(serve)
    if not s:
        for ext in ("png", "svg"):
            (folder / f"{NAME}.{ext}").unlink(missing_ok=True)
        return {"name": NAME, "title": TITLE, "skipped": "no Node.js cell with V8 collections in the server results"}
    with plt.rc_context(RC):
        fig, caption = draw_gc(s)
        try:
            fig.suptitle(TITLE)
            save(fig, folder, NAME)
        finally:
            plt.close(fig)
    return {"name": NAME, "title": TITLE, "caption": caption, "png": f"{CHARTS_DIR}/{NAME}.png",
            "svg": f"{CHARTS_DIR}/{NAME}.svg"}
