"""Thread scaling: the series a results file holds, the figures per backend
and thread count, and the ledger's scaling metrics.

A series is one workload measured at several thread counts:
  - a model workload (`http1-static`) run with --threads 1,2,...: one
    workload name, a trace per thread count (workloads["MODEL/tT"]);
  - trace files named STEM-tT, each with T threads (`trace:http1-static-t16`,
    made with `trace gen MODEL --threads T`): the workloads sharing STEM.
Its kind says what the traces hold (from workloads[...].requests): `weak`
when T threads have T times the requests of one thread (each thread the
same work), `strong` when they have the same requests split over T,
`mixed` otherwise; without trace figures, config.scaling (absent: strong).

Figures, each per backend, series and thread count T, from medians over
repetitions (Data.metric, so the ledger's resamples apply):
  throughput   ops ÷ busy_seconds (replay.ops_per_second);
  efficiency   throughput(T) ÷ (T × throughput(1)): 1 is linear scaling for
               weak and strong alike;
  per-op cost  replay.allocator_seconds ÷ replay.ops, in ns (Data.ns_per_op);
  contention   net per-op cost at T ÷ at 1, net = less the null backend's
               per-op cost on the same workload and T (time_metrics.net_ns_per_op):
               how much dearer each of the allocator's own ops gets with T
               threads; 1 is no contention. Undefined where the net cost at
               1 thread is not above zero.
  spread       the slowest thread's busy ns per op (its wall time less its
               waits, over its ops) ÷ the fastest's, where the threads are
               of one kind (the trace frees no block on another thread than
               the one that allocated it; without trace figures, op counts
               within 10%): 1 is none; above it, something slows some
               threads and not others (placement, shared cache lines, a busy
               core). None for threads of unlike kinds (proxy's producers
               and consumers).
The null backend's own efficiency and per-op growth (its cost at T ÷ at 1,
not net) stand beside every figure: they are the harness's share."""

import re
from dataclasses import dataclass, field
from statistics import median

from measure import NULL, Measure, Missing, _need, _spread, fmt
from time_metrics import net_ns_per_op

STEM = re.compile(r"^(?P<stem>.+)-t(?P<threads>\d+)$")
KIND_WORDS = {"weak": "weak scaling: T threads have T times the work, each thread the same",
              "strong": "strong scaling: the same work split over T threads",
              "mixed": "the traces' work neither grows with T nor stays the same"}


@dataclass
class Series:
    name: str
    kind: str                                       # weak | strong | mixed
    workloads: dict = field(default_factory=dict)   # threads -> workload name

    @property
    def threads(self):
        return sorted(self.workloads)


def _kind(data, pts):
    """weak / strong / mixed from the traces' requests; config.scaling where the file lacks them."""
    work = {}
    for t, w in pts.items():
        info = data.workload_info(w, t) or {}
        n = info.get("requests") or info.get("ops")
        if n:
            work[t] = n
    if 1 not in work or len(work) < 2:
        declared = data.config.get("scaling")
        return declared if declared in ("weak", "strong") else "strong"
    ratios = {t: n / work[1] for t, n in work.items() if t != 1}
    if all(abs(r / t - 1) <= 0.1 for t, r in ratios.items()):
        return "weak"
    if all(abs(r - 1) <= 0.1 for r in ratios.values()):
        return "strong"
    return "mixed"


def series(data):
    """Every series with a one-thread point and at least one more, in the run's workload order."""
    seen = {}
    for (_, w, t) in data._groups:
        seen.setdefault(w, set()).add(t)
    out, stems = [], {}
    for w in data.workload_names:
        cfg = data.workload_config(w)
        if "model" in cfg:
            if cfg.get("params") or cfg.get("backends"):
                continue  # claim experiments: one thread, a subset of backends
            pts = {t: w for t in sorted(seen.get(w, ()))}
            if 1 in pts and len(pts) >= 2:
                out.append(Series(w, _kind(data, pts), pts))
        else:
            m = STEM.match(w)
            if m and cfg.get("threads") == int(m.group("threads")):
                stem = m.group("stem")
                if stem not in stems:
                    stems[stem] = {}
                    out.append(Series(stem, "", stems[stem]))
                stems[stem][int(m.group("threads"))] = w
    out = [s for s in out if 1 in s.workloads and len(s.workloads) >= 2]
    for s in out:
        if not s.kind:
            s.workloads = dict(sorted(s.workloads.items()))
            s.kind = _kind(data, s.workloads)
    return out


def throughput(data, b, s, t):
    return data.metric(b, s.workloads[t], t, "ops_per_second") if t in s.workloads else None


def efficiency(data, b, s, t):
    one, at = throughput(data, b, s, 1), throughput(data, b, s, t)
    return at / (t * one) if one and at is not None else None


def growth(data, b, s, t):
    """Per-op cost at t ÷ at 1, not net (for null: the harness's own growth)."""
    one = data.ns_per_op(b, s.workloads[1], 1)
    at = data.ns_per_op(b, s.workloads[t], t) if t in s.workloads else None
    return at / one if one and at is not None else None


def contention(data, b, s, t):
    """Net per-op cost at t ÷ at 1; None where it is undefined (net cost at 1 thread not above zero)."""
    if b == NULL:
        return growth(data, b, s, t)
    if t not in s.workloads:
        return None
    one = net_ns_per_op(data, b, s.workloads[1], 1)
    at = net_ns_per_op(data, b, s.workloads[t], t)
    return at / one if one is not None and at is not None and one > 0 else None


def _cell_spread(cell, same_ops):
    pt = [p for p in ((cell.get("replay") or {}).get("per_thread") or []) if p.get("ops")]
    if len(pt) < 2:
        return None
    ops = [p["ops"] for p in pt]
    if same_ops and max(ops) > 1.1 * min(ops):
        return None
    ns = [(p.get("wall_seconds", 0) - p.get("wait_seconds", 0)) / p["ops"] for p in pt]
    return max(ns) / min(ns) if min(ns) > 0 else None


def spread(data, b, s, t):
    """Slowest over fastest thread's busy ns per op at t threads, median over repetitions (module docstring)."""
    if t not in s.workloads or t < 2:
        return None
    info = data.workload_info(s.workloads[t], t) or {}
    if "cross_thread_frees" in info:
        if info["cross_thread_frees"]:
            return None  # threads of unlike kinds (producers and consumers)
        same_ops = False
    else:
        same_ops = True  # no trace figures: alike only if their op counts are
    return data.median_of_cells(b, s.workloads[t], t, lambda c: _cell_spread(c, same_ops))


def top_threads(data, s):
    """The most threads of the series within the machine's cores (above 1), or None."""
    fit = [t for t in s.threads if t > 1 and (not data.cores or t <= data.cores)]
    return max(fit) if fit else None


def figures(data, backends=None):
    """[(Series, {backend: {threads: {throughput, efficiency, contention, spread}}})] with null first where present:
    every figure the scaling chart and tables show."""
    order = [NULL] + [b for b in (backends or data.backends) if b != NULL]
    out = []
    for s in series(data):
        rows = {}
        for b in order:
            if not data.has_backend(b):
                continue
            pts = {}
            for t in s.threads:
                tp = throughput(data, b, s, t)
                if tp is None:
                    continue
                try:
                    cf = contention(data, b, s, t)
                except Missing:
                    cf = None
                pts[t] = {"throughput": tp, "efficiency": efficiency(data, b, s, t), "contention": cf,
                          "spread": spread(data, b, s, t)}
            if pts:
                rows[b] = pts
        if rows:
            out.append((s, rows))
    return out


def describe_source(data, ss):
    kinds = sorted({s.kind for s in ss})
    return (f"{'; '.join(KIND_WORDS[k] for k in kinds)}; measured on {data.machine_words()}")


# ---- the ledger's metrics ---------------------------------------------------------------------------------------

def _claim_series(data):
    ss = [s for s in series(data) if top_threads(data, s)]
    if not ss:
        raise Missing(f"no thread count above 1 within the machine's {data.cores} cores")
    return ss


def _per_series(data, b, fn):
    """{series: fn(data, b, s, T)} at the series' most threads within the cores, where defined."""
    out, at = {}, {}
    for s in _claim_series(data):
        t = top_threads(data, s)
        v = fn(data, b, s, t)
        if v is not None:
            out[s.name], at[s.name] = v, t
    return out, at


def _null_words(data, fn, words):
    per, _ = _per_series(data, NULL, fn) if data.has_backend(NULL) else ({}, {})
    return f"; null's own {words}: {_spread(per)}" if per else "; no null backend to show the harness's share"


def _threads_words(at):
    ts = sorted(set(at.values()))
    return f"{ts[0]}" if len(ts) == 1 else f"{ts[0]}–{ts[-1]}"


def m_scaling(data, p):
    """Parallel efficiency (throughput at T ÷ T × at 1) at the most threads that fit the cores, median over series."""
    b = p["backend"]
    _need(data, b)
    per, at = _per_series(data, b, efficiency)
    if not per:
        raise Missing(f"no series has {b}'s throughput at 1 thread and at more")
    return Measure(median(per.values()), "",
                   f"{b}: efficiency at {_threads_words(at)} threads, median over series ({_spread(per)})"
                   + _null_words(data, efficiency, "efficiency") + f"; {describe_source(data, _claim_series(data))}",
                   per)


def m_scaling_compare(data, p):
    """Speedup of a over b at the most threads that fit, in percent."""
    a, b = p["a"], p["b"]
    _need(data, a, b)
    ea, _ = _per_series(data, a, efficiency)
    eb, at = _per_series(data, b, efficiency)
    per = {w: (ea[w] / eb[w] - 1.0) * 100.0 for w in ea if w in eb and eb[w]}
    if not per:
        raise Missing(f"no series has throughput at 1 thread and at more for both {a} and {b}")
    return Measure(median(per.values()), "%",
                   f"{a} speedup ÷ {b} speedup − 1 at {_threads_words(at)} threads, median over series "
                   f"({_spread(per)}); {describe_source(data, _claim_series(data))}", per)


def _contention_per_series(data, b):
    _need(data, b, NULL)
    per, at = _per_series(data, b, contention)
    if not per:
        raise Missing(f"no series has {b}'s net per-op cost above zero at 1 thread and a figure at more threads")
    return per, at


def m_contention(data, p):
    """Contention factor: net per-op cost at the most threads that fit ÷ at 1 thread, median over series."""
    b = p["backend"]
    per, at = _contention_per_series(data, b)
    eff, _ = _per_series(data, b, efficiency)
    return Measure(median(per.values()), "×",
                   f"{b}: net allocator ns per op at {_threads_words(at)} threads ÷ at 1, median over series "
                   f"({_spread(per)})" + _null_words(data, growth, "per-op growth (not net)")
                   + (f"; {b}'s throughput efficiency {_spread(eff)}" if eff else "")
                   + _null_words(data, efficiency, "efficiency")
                   + f"; {describe_source(data, _claim_series(data))}", per)


def m_contention_compare(data, p):
    """How much better a's own allocator time scales than b's, in percent: a's allocator speedup (T ÷ its
    contention factor) ÷ b's − 1 = b's contention factor ÷ a's − 1."""
    a, b = p["a"], p["b"]
    ca, at = _contention_per_series(data, a)
    cb, _ = _contention_per_series(data, b)
    per = {w: (cb[w] / ca[w] - 1.0) * 100.0 for w in ca if w in cb and ca[w] > 0}
    if not per:
        raise Missing(f"no series has contention factors for both {a} and {b}")
    return Measure(median(per.values()), "%",
                   f"{b} contention factor ÷ {a} contention factor − 1 at {_threads_words(at)} threads, median over "
                   f"series ({_spread(per)}); contention factors {a} {_spread(ca)}, {b} {_spread(cb)}"
                   + _null_words(data, growth, "per-op growth (not net)")
                   + f"; {describe_source(data, _claim_series(data))}", per)


SCALING_KINDS = ("scaling", "scaling_compare", "contention", "contention_compare")
