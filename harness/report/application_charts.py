"""The charts of the report's section on the application (application_tables.py): allocator and access time per
request, page faults with system time beside allocator time, and RSS while idle. The series_* functions turn a Data
view into plain numbers (a test can check them without pixels); the draw_* functions only draw; render() writes
them beside charts.py's, as reproducibly (its RC, its save)."""

import pathlib

from application_metrics import (MIB, NULL, access_ns_per_request, allocator_ms, backends, faults_per_kop,
                                 idle_figures, idle_workloads, main_workloads, med, net_per_request, os_ms)
from charts import CHARTS_DIR, RC, Styles, legend_right, plt, save

# The workloads the per-request chart shows, when the run has them.
ACCESS_WORKLOADS = ("http1-static", "http-api")
FAULTS_WORKLOAD = "http1-static"


def series_access(data):
    """[(workload, null's access ns per request or None, [(backend, net allocator ns, access ns)])] per request,
    medians over repetitions, one thread; backends without both figures left out."""
    out = []
    for w in [w for w in ACCESS_WORKLOADS if w in main_workloads(data)]:
        rows = []
        for b in backends(data):
            if b == NULL or not data.reps(b, w):
                continue
            net, acc = net_per_request(data, b, w)
            if net is not None and acc is not None:
                rows.append((b, net, acc))
        if rows:
            out.append((w, med(data, NULL, w, access_ns_per_request), rows))
    return out


def series_faults(data, workload=FAULTS_WORKLOAD):
    """[(backend, minor faults per 1,000 ops, system ms, allocator ms)], medians over repetitions, one thread."""
    out = []
    for b in backends(data):
        f = med(data, b, workload, faults_per_kop)
        if f is not None:
            out.append((b, f, med(data, b, workload, os_ms("system_seconds")), med(data, b, workload, allocator_ms)))
    return out


def series_idle(data):
    """[(workload, [(backend, seconds, MiB above the cell's floor)])], medians over repetitions."""
    out = []
    for w in idle_workloads(data):
        lines = []
        for b in backends(data):
            f = idle_figures(data, b, w)
            if f is not None:
                lines.append((b, [i * f["interval"] for i in range(len(f["curve"]))], [v / MIB for v in f["curve"]]))
        if lines:
            out.append((w, lines))
    return out


ALLOC_COLOUR, ACCESS_COLOUR = "#4c72b0", "#dd8452"


def draw_access(series, styles):
    count = max(len(rows) for _, _, rows in series)
    fig, axes = plt.subplots(1, len(series), figsize=(6.0 * len(series) + 1.5, 0.32 * count + 1.8), squeeze=False)
    below = 0
    for ax, (w, floor, rows) in zip(axes[0], series):
        y = list(range(len(rows)))
        alloc = [max(net, 0.0) for _, net, _ in rows]
        below += sum(1 for _, net, _ in rows if net < 0)
        ax.barh(y, alloc, color=ALLOC_COLOUR, label="allocator (net)")
        ax.barh(y, [acc for _, _, acc in rows], left=alloc, color=ACCESS_COLOUR, label="access")
        if floor is not None:
            ax.axvline(floor, color="black", linestyle="--", linewidth=1)
        ax.set_yticks(y)
        ax.set_yticklabels([b for b, _, _ in rows])
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_xlabel("ns per request")
        ax.set_title(w)
        ax.grid(False, axis="y")
    handles = [plt.Rectangle((0, 0), 1, 1, color=ALLOC_COLOUR, label="allocator (net)"),
               plt.Rectangle((0, 0), 1, 1, color=ACCESS_COLOUR, label="access"),
               plt.Line2D([], [], color="black", linestyle="--", label="null backend's access (the floor)")]
    legend_right(fig, handles, 0.80)
    fig.subplots_adjust(left=0.16, bottom=0.9 / fig.get_figheight(), wspace=0.45)
    note = f" {below} net allocator figure{'s' if below != 1 else ''} below 0 drawn as 0." if below else ""
    return fig, ("Per request, one thread, medians over repetitions: the time inside the allocator "
                 "(replay.allocator_seconds, the null backend's subtracted) and, stacked on it, the application's "
                 "access (replay.access.seconds: the fill after allocation and the read before free, first-touch "
                 "faults included). The dashed line is the null backend's access, the best locality." + note)


def draw_faults(series, styles, workload=FAULTS_WORKLOAD):
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 0.3 * len(series) + 1.8), sharey=True)
    y = list(range(len(series)))
    left.barh(y, [f for _, f, _, _ in series], color=[styles(b)["color"] for b, *_ in series])
    left.set_xlabel("minor page faults per 1,000 ops")
    h = 0.38
    right.barh([i - h / 2 for i in y], [a or 0 for *_, a in series], height=h, color=ALLOC_COLOUR,
               label="allocator ms")
    right.barh([i + h / 2 for i in y], [s or 0 for _, _, s, _ in series], height=h, color="#c44e52",
               label="system ms")
    right.set_xlabel("ms over the replay")
    right.legend(loc="lower right", frameon=False)
    left.set_yticks(y)
    left.set_yticklabels([b for b, *_ in series])
    left.set_ylim(len(series) - 0.5, -0.5)
    for ax in (left, right):
        ax.grid(False, axis="y")
    fig.subplots_adjust(left=0.18, wspace=0.08, bottom=0.9 / fig.get_figheight())
    return fig, (f"{workload}, one thread, medians over repetitions. Left: minor page faults over the replay "
                 "(getrusage, every thread of the worker) per 1,000 ops. Right: the kernel's system time over the "
                 "replay beside the time inside the allocator (replay.allocator_seconds). System time is the kernel "
                 "working for the worker: page faults (first touches in the application's fill and inside the "
                 "allocator) and the allocator's mmap, madvise and munmap; the part spent inside the allocator's calls "
                 "is in allocator time too, the faults of the fill are in the access time instead.")


def draw_idle(series, styles):
    fig, axes = plt.subplots(1, len(series), figsize=(6.5 * len(series) + 2.0, 4.5), squeeze=False)
    backends_seen = []
    for ax, (w, lines) in zip(axes[0], series):
        for b, seconds, mib in lines:
            backends_seen += [b] if b not in backends_seen else []
            ax.plot(seconds, mib, markersize=3, linewidth=1.2, **styles(b))
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xlabel("seconds idle after the replay")
        ax.set_ylabel("RSS above the forced-release floor, MiB")
        ax.set_title(w)
        ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    if max(map(len, backends_seen), default=0) <= 24:
        legend_right(fig, styles.handles(backends_seen), 0.80)
    else:
        # Settings make long names (jemalloc[background_thread=true,...]): below the plot, whole.
        rows = (len(backends_seen) + 1) // 2
        fig.subplots_adjust(bottom=0.16 + 0.05 * rows)
        fig.legend(handles=styles.handles(backends_seen), loc="lower center", ncol=2, frameon=False, fontsize=8)
    return fig, ("RSS while the process sits idle after the replay and the frees (replay.memory.idle, a reading every "
                 "0.1 s), above the same cell's RSS after the forced release (floor_rss_bytes, the line at 0): a "
                 "falling line is memory the allocator returns on its own; what is left at the end it returns only "
                 "when asked. Medians over repetitions, reading by reading.")


CHARTS = (
    ("access", "Allocator and access time per request", series_access, draw_access,
     "no ok single-thread cells of http1-static or http-api with replay.access and a null backend to subtract"),
    ("faults", "Page faults and system time beside allocator time", series_faults, draw_faults,
     f"no ok single-thread cell of {FAULTS_WORKLOAD} with replay.os"),
    ("idle", "RSS while idle", series_idle, draw_idle, "no cell with replay.memory.idle (a workload named idle=S)"),
)


def render(data, outdir, results=None):
    """Draws the section's charts into outdir/charts; returns {name: {name, title, caption, png, svg} or {name,
    title, skipped}}. Colours follow charts.py's (the config's backend order)."""
    folder = pathlib.Path(outdir) / CHARTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    styles = Styles(results if results is not None else data.own_results())
    out = {}
    with plt.rc_context(RC):
        for name, title, series, draw, why in CHARTS:
            s = series(data)
            if not s:
                for ext in ("png", "svg"):
                    (folder / f"{name}.{ext}").unlink(missing_ok=True)
                out[name] = {"name": name, "title": title, "skipped": why}
                continue
            fig, caption = draw(s, styles)
            try:
                fig.suptitle(title)
                save(fig, folder, name)
            finally:
                plt.close(fig)
            out[name] = {"name": name, "title": title, "caption": caption,
                         "png": f"{CHARTS_DIR}/{name}.png", "svg": f"{CHARTS_DIR}/{name}.svg"}
    return out
