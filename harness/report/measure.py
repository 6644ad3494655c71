"""What every ledger metric shares: a Measure (the figure and how it was
computed), Missing (the data cannot test the claim), formatting, and the
workloads a metric reads.

A metric function takes a Data view (data.py) and the claim's metric
parameters, and returns a Measure or raises Missing(reason). The ledger
calls it on the whole results and again on bootstrap resamples, so a metric
reads everything through the view.

One basis per quantity:
  - time is net: the null backend's figure on the same workload and thread
    count (the harness's own cost per op, measured in the same run) is
    subtracted from every backend's (time_metrics.py);
  - memory is RSS growth over the worker's baseline, less the null backend's
    growth (the harness's own); the allocators' own counters stay in the
    results as diagnostics and no verdict reads them (memory_metrics.py);
  - figures of the trace and strategies' own counters say so in their basis
    (count_metrics.py)."""

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
            if cfg.get("model") in models and data.is_plain(w):
                out.append(w)
        elif cfg.get("model") in data.DEFAULT_MODELS and data.is_plain(w):
            out.append(w)
    return out


def _mib(x):
    return x / 2 ** 20


def _timeline(cell):
    """The timeline's rows taken while the replay ran, as dicts, and the baseline RSS.
    No rows for a cell without a timeline (a counted cell has no memory figures)."""
    mem = cell["replay"].get("memory") or {}
    if "timeline" not in mem or "baseline_rss_bytes" not in mem:
        return [], 0
    cols = mem["timeline_columns"]
    rows = [dict(zip(cols, row)) for row in mem["timeline"]]
    # The last point is taken after the replay threads finished: not "while the replay runs".
    ops = cell["replay"].get("ops")
    if rows and ops is not None and rows[-1]["ops"] >= ops:
        rows = rows[:-1]
    return rows, mem["baseline_rss_bytes"]
