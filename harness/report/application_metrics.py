"""What the allocator does to the application: the figures of a cell's
`replay.access`, `replay.os`, `replay.age` and `replay.memory.idle`
(results/SCHEMA.md), read through a Data view so that the ledger can
resample them. Nothing here draws or formats; application_tables.py and
application_charts.py do.

Every per-cell figure below is None where the cell lacks what it needs (a
file from before these keys, a counted cell, `touch none`); medians are over
the ok repetitions of one backend x workload at one thread.

Backends named `LIB[SETTINGS]` (`jemalloc[background_thread=true]`) are a
general allocator under settings of its own; the text before `[` is the
library they are compared with (SETTINGS below)."""

import re
from statistics import median

from measure import NULL, Missing
from time_metrics import net_ns_per_op

MIB = float(2 ** 20)

# `LIB[SETTINGS]`: a base library and its settings, nothing after the bracket.
SETTINGS = re.compile(r"^(?P<base>[A-Za-z0-9_.+-]+)\[(?P<settings>[^\[\]]*)\]$")

# The replay options of a workload's name that change how the cell runs, not the trace.
AGE_OPTION = re.compile(r"(^|,)age=[^,]*")
IDLE_OPTION = re.compile(r"(^|,)idle=[^,]*")


def settings_base(backend):
    """The base library of a `LIB[SETTINGS]` backend, or None for any other name."""
    m = SETTINGS.match(backend)
    return m["base"] if m else None


# ---- one cell -------------------------------------------------------------------

def _number(d, key):
    v = d.get(key) if isinstance(d, dict) else None
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _part(cell, key):
    part = (cell.get("replay") or {}).get(key)
    return part if isinstance(part, dict) else {}


def access_figure(cell, key):
    return _number(_part(cell, "access"), key)


def os_figure(cell, key):
    return _number(_part(cell, "os"), key)


def age_figure(cell, key):
    return _number(_part(cell, "age"), key)


def memory_figure(cell, key):
    return _number(_part(cell, "memory"), key)


def requests(cell):
    """The trace's requests as the access figures count them; None for none (a trace without requests)."""
    n = access_figure(cell, "requests")
    return n if n else None


def alloc_ns_per_request(cell):
    """Time inside the backend (every op class) per request, gross."""
    n, s = requests(cell), _number(cell.get("replay"), "allocator_seconds")
    return s * 1e9 / n if n and s is not None else None


def access_ns_per_request(cell):
    """The application's use of the memory (fill after allocation + read before free) per request."""
    n, s = requests(cell), access_figure(cell, "seconds")
    return s * 1e9 / n if n and s is not None else None


def fill_ns_per_block(cell):
    n, s = access_figure(cell, "fill_blocks"), access_figure(cell, "fill_seconds")
    return s * 1e9 / n if n and s is not None else None


def alloc_mean_ns(cell):
    """The batch-timed mean of one allocation (replay.mean_ns.alloc), gross."""
    return _number((cell.get("replay") or {}).get("mean_ns"), "alloc")


def faults_per_kop(cell):
    ops, f = _number(cell.get("replay"), "ops"), os_figure(cell, "minor_faults")
    return f * 1000 / ops if ops and f is not None else None


def os_ms(key):
    return lambda cell: None if os_figure(cell, key) is None else os_figure(cell, key) * 1000


def allocator_ms(cell):
    s = _number(cell.get("replay"), "allocator_seconds")
    return None if s is None else s * 1000


def peak_rss_growth(cell):
    base, peak = memory_figure(cell, "baseline_rss_bytes"), memory_figure(cell, "peak_rss_bytes")
    # A peak of 0: the kernel refused to reset VmHWM, so there is no peak to read.
    return max(0.0, peak - base) if peak and base is not None else None


def idle_curve(cell):
    """RSS while idle after the replay, bytes, one reading per interval (the first at once); None without it."""
    idle = _part(cell, "memory").get("idle")
    if not isinstance(idle, dict) or not isinstance(idle.get("rss_bytes"), list) or not idle["rss_bytes"]:
        return None
    vals = idle["rss_bytes"]
    return [float(v) for v in vals] if all(isinstance(v, (int, float)) for v in vals) else None


# ---- a group's medians --------------------------------------------------------

def med(data, backend, workload, fn, threads=1):
    """The median of fn over the group's ok repetitions (the view's resample, if it is one); None without any."""
    return data.median_of_cells(backend, workload, threads, fn)


def _ok(data):
    return [c for c in data.cells if c.get("status") == "ok" and isinstance(c.get("replay"), dict)]


def backends(data):
    """The backends with ok cells, in the run's order, then any others the cells name, sorted."""
    present = {c["backend"] for c in _ok(data)}
    listed = [b for b in data.backends if b in present]
    return listed + sorted(present - set(listed))


def results_have(data, fn):
    """Whether any ok cell of the view has the figure."""
    return any(fn(c) is not None for c in _ok(data))


# ---- which workloads ----------------------------------------------------------

def main_workloads(data):
    """The HTTP models at their default size: not claim experiments (their own backends), not scaled copies
    (params), not the replay options (age=, idle=)."""
    out = []
    for w in data.workload_names:
        cfg = data.workload_config(w)
        if cfg.get("model") in data.DEFAULT_MODELS and data.is_plain(w) and not cfg.get("backends"):
            out.append(w)
    return out


def _strip(name, option):
    model, _, opts = name.partition(":")
    rest = option.sub("", opts).strip(",")
    return f"{model}:{rest}" if rest else model


def aged_pairs(data):
    """[(aged workload, its fresh twin or None)]: a workload run on an aged heap (`age=MIB`), and the workload of
    the same name without the option."""
    out = []
    for w in data.workload_names:
        cfg = data.workload_config(w)
        if cfg.get("age_bytes") or AGE_OPTION.search(w.partition(":")[2]):
            fresh = _strip(w, AGE_OPTION)
            out.append((w, fresh if fresh in data.workload_names else None))
    return out


def idle_workloads(data):
    return [w for w in data.workload_names
            if data.workload_config(w).get("idle_seconds") or IDLE_OPTION.search(w.partition(":")[2])]


# ---- figures of a backend on a workload ---------------------------------------

def net_per_request(data, backend, workload):
    """(net allocator ns per request, access ns per request): medians over repetitions; the allocator figure less
    the null backend's on the same workload (None when null did not run it)."""
    alloc = med(data, backend, workload, alloc_ns_per_request)
    floor = med(data, NULL, workload, alloc_ns_per_request)
    net = alloc - floor if alloc is not None and floor is not None else None
    return net, med(data, backend, workload, access_ns_per_request)


def net_ns_op(data, backend, workload):
    """Net allocator ns per op, or None (no cells, or no null cells to subtract)."""
    try:
        return net_ns_per_op(data, backend, workload)
    except Missing:  # no null-backend cells on this workload
        return None


def obtain_and_fill_ns(data, backend, workload):
    """What obtaining an object and writing it first costs, gross: the mean allocation (batch-timed) + the fill ns
    per filled block, per cell, median over repetitions; None without the figures. Gross, so that a ratio of two
    backends' figures never divides by a difference near zero: the harness's own share (the null backend's figure)
    is in both and pulls such a ratio toward 1."""
    return med(data, backend, workload,
               lambda c: None if alloc_mean_ns(c) is None or fill_ns_per_block(c) is None
               else alloc_mean_ns(c) + fill_ns_per_block(c))


def idle_figures(data, backend, workload):
    """{start, end, floor, curve}: RSS at the first and last idle reading and after the forced release (bytes), and
    the curve of RSS above the cell's own floor (bytes per reading): medians over repetitions, the curve reading by
    reading over the repetitions that reached it. None without an idle curve."""
    cells = [c for c in data.ok_cells(backend, workload, 1)
             if idle_curve(c) is not None and memory_figure(c, "floor_rss_bytes") is not None]
    if not cells:
        return None
    curves = [[v - memory_figure(c, "floor_rss_bytes") for v in idle_curve(c)] for c in cells]
    length = max(len(x) for x in curves)
    curve = [median([x[i] for x in curves if i < len(x)]) for i in range(length)]
    interval = _number(_part(cells[0], "memory").get("idle"), "interval_seconds") or 0.1
    return {"start": median(idle_curve(c)[0] for c in cells), "end": median(idle_curve(c)[-1] for c in cells),
            "floor": median(memory_figure(c, "floor_rss_bytes") for c in cells), "curve": curve,
            "interval": interval, "reps": len(cells)}
