"""Read-only views of an alloclab results file (results/SCHEMA.md) for the
report: medians per backend, workload and thread count, computed from the
cells themselves; nothing here measures anything.

A view can be a bootstrap resample (Data.resample): every backend x
workload x threads group draws its ok repetitions with replacement, once per
view, so the ledger can put a 95% interval on any figure it derives.

A view holds the cells of one machine. A file merged from several machines
(`alloclab merge --allow-machines`) lists their contexts (`context`, then
`context.other_machines`) and every cell names its own (`"machine": k`,
results/SCHEMA.md); cells are pooled only with cells of the same machine
identity (MACHINE_KEYS), never across machines."""

from statistics import median


class ResultsError(Exception):
    pass


# The context keys that tell one machine from another (harness/run/merge.cpp's identity).
MACHINE_KEYS = ("cpu_model", "cores", "memory_bytes", "kernel", "machine")


def machine_contexts(results):
    """The file's contexts in its machine numbering: 0 is `context`, k is `context.other_machines[k-1]`."""
    first = {k: v for k, v in results["context"].items() if k != "other_machines"}
    others = results["context"].get("other_machines") or []
    if not isinstance(others, list) or not all(isinstance(c, dict) for c in others):
        raise ResultsError("context.other_machines is not an array of objects")
    return [first] + list(others)


def machine_identity(context):
    return tuple(context.get(k) for k in MACHINE_KEYS)


def machine_words(context, source=None):
    """"Intel Xeon, 16 cores, 2026-11-29 (weak.json)": which machine a figure came from."""
    date = str(context.get("date") or "?")[:10]
    text = f"{context.get('cpu_model', '?')}, {context.get('cores', '?')} cores, {date}"
    return f"{text} ({source})" if source else text


def cell_machines(results):
    """Each cell's index into machine_contexts. A cell without "machine" is the context's, unless the file's
    contexts are several machines: then nothing says which measured it, and the file is refused."""
    contexts = machine_contexts(results)
    mixed = len({machine_identity(c) for c in contexts}) > 1
    out = []
    for i, c in enumerate(results["cells"]):
        m = c.get("machine") if isinstance(c, dict) else None
        if m is None:
            if mixed:
                raise ResultsError(f"cells[{i}] does not say which of the file's {len(contexts)} machines measured "
                                   "it (merged before cells recorded their machine: merge again with "
                                   "--allow-machines)")
            m = 0
        if not isinstance(m, int) or isinstance(m, bool) or not 0 <= m < len(contexts):
            raise ResultsError(f"cells[{i}].machine is {m!r}, not an index of the file's {len(contexts)} contexts")
        out.append(m)
    return out


def check_format(results):
    if not isinstance(results, dict) or results.get("format") != "alloclab-results":
        raise ResultsError("not an alloclab results file (format is not \"alloclab-results\")")
    if results.get("version") != 1:
        raise ResultsError(f"results version {results.get('version')!r} is not supported (expected 1)")
    for key in ("config", "context", "summaries", "cells", "workloads"):
        if key not in results:
            raise ResultsError(f"results file lacks \"{key}\"")


def _put(m, key, v):
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        m[key] = float(v)


def flat_metrics(r):
    """A cell's figures by flat name: the same names as the file's summaries
    (harness/run/results.cpp), plus `net`-ready per-class means."""
    m = {}
    for k in ("ops", "ops_per_second", "wall_seconds", "busy_seconds", "allocator_seconds", "failed_allocations",
              "refused_scope_allocations", "instructions", "instructions_per_op"):
        _put(m, k, r.get(k))
    if "ops_by_class" in r and "mean_ns" in r:
        for cls, n in r["ops_by_class"].items():
            if not n:
                continue
            _put(m, f"{cls}_mean_ns", r["mean_ns"].get(cls))
            _put(m, f"{cls}_ops", n)
            h = (r.get("latency_ns") or {}).get(cls) or {}
            if h.get("count"):
                for q in ("p50", "p90", "p99", "p999", "max"):
                    _put(m, f"{cls}_{q}_ns", h.get(q))
    rq = r.get("request_ns") or {}
    if rq.get("count"):
        for q in ("p50", "p90", "p99", "p999", "max", "mean"):
            _put(m, f"request_{q}_ns", rq.get(q))
    mem = r.get("memory")
    if isinstance(mem, dict):
        for k in ("peak_rss_bytes", "floor_rss_bytes", "end_rss_bytes", "baseline_rss_bytes",
                  "peak_thread_cache_bytes"):
            _put(m, k, mem.get(k))
        base, peak = mem.get("baseline_rss_bytes", 0) or 0, mem.get("peak_rss_bytes", 0) or 0
        if peak > 0:
            m["peak_rss_growth_bytes"] = float(max(0, peak - base))
    frag = r.get("fragmentation")
    if isinstance(frag, dict):
        for k, v in frag.items():
            _put(m, k, v)
    clock = r.get("clock")
    if isinstance(clock, dict):
        _put(m, "timer_overhead_ns", clock.get("overhead_ns"))
        _put(m, "timer_resolution_ns", clock.get("resolution_ns"))
    for k, v in (r.get("backend_stats") or {}).items():
        _put(m, f"stats.{k}", v)
    return m


class _Group:
    """The ok cells of one backend x workload x threads, in repetition order."""
    __slots__ = ("cells", "flat")

    def __init__(self):
        self.cells = []
        self.flat = []


def become_resample(view, parent, rng):
    """Makes `view` a resample of `parent` (Data or ServeData): the same cells and settings, its own random draw of
    each group's repetitions (drawn on first use), and its own record of the groups it read."""
    view.__dict__.update(parent.__dict__)
    view._rng = rng
    view._picks = {}
    view.touched = set()


class Data:
    # The HTTP models: a metric that names no model reads these, at their
    # default size (claim experiments and scaled copies are read by name).
    DEFAULT_MODELS = ("http1-static", "http-api", "http-upload", "proxy", "long-running")

    def __init__(self, results, _parent=None, _rng=None, machine=0, source=None):
        """The cells of machine `machine` (an index of machine_contexts) and of every context with its identity;
        `source` names the file in machine_words."""
        if _parent is not None:
            become_resample(self, _parent, _rng)
            return
        check_format(results)
        self.results = results
        contexts = machine_contexts(results)
        if not 0 <= machine < len(contexts):
            raise ResultsError(f"no machine {machine} in the file")
        self.machine = machine
        self.source = source
        self.context = contexts[machine]
        identity = machine_identity(self.context)
        mine = {k for k, c in enumerate(contexts) if machine_identity(c) == identity}
        of = cell_machines(results)
        self.cells = [c for c, m in zip(results["cells"], of) if m in mine]
        self.other_machine_cells = len(results["cells"]) - len(self.cells)
        self.config = results["config"]
        self.backends = list(self.config.get("backends") or [])
        self.cores = int(self.context.get("cores") or 0)
        self._groups = {}
        for c in self.cells:
            if c.get("status") != "ok" or not isinstance(c.get("replay"), dict):
                continue
            g = self._groups.setdefault((c["backend"], c["workload"], c["threads"]), _Group())
            g.cells.append(c)
        for g in self._groups.values():
            g.cells.sort(key=lambda c: c.get("rep", 0))
            g.flat = [flat_metrics(c["replay"]) for c in g.cells]
        self._backend_names = {k[0] for k in self._groups}
        # Workload names in the order the run was configured with.
        self.workload_names = [w["name"] for w in self.config.get("workloads", [])]
        self.thread_counts = sorted({k[2] for k in self._groups}) or sorted(self.config.get("threads", []))
        self._rng = None
        self._picks = {}
        self.touched = set()     # groups a metric read (for the ledger: how many repetitions each had)

    def machine_words(self):
        return machine_words(self.context, self.source)

    def own_results(self):
        """The file as if it held only this machine's cells (for the charts, which read a results document)."""
        if not self.other_machine_cells:
            return self.results
        out = dict(self.results)
        out["context"], out["cells"] = self.context, self.cells
        ids = {c.get("id") for c in self.cells}
        out["failures"] = [f for f in self.results.get("failures") or [] if f.get("id") in ids]
        return out

    # ---- resampling ---------------------------------------------------------

    def resample(self, rng):
        """A view whose every group is a bootstrap draw of its repetitions."""
        return Data(None, _parent=self, _rng=rng)

    def _indices(self, key):
        g = self._groups.get(key)
        if g is None:
            return None, []
        self.touched.add(key)
        if self._rng is None:
            return g, range(len(g.cells))
        idx = self._picks.get(key)
        if idx is None:
            n = len(g.cells)
            idx = [self._rng.randrange(n) for _ in range(n)]
            self._picks[key] = idx
        return g, idx

    def reps(self, backend, workload, threads=1):
        g = self._groups.get((backend, workload, threads))
        return len(g.cells) if g else 0

    # ---- figures ------------------------------------------------------------

    def has_backend(self, backend):
        return backend in self._backend_names

    def values(self, backend, workload, threads, name):
        g, idx = self._indices((backend, workload, threads))
        if g is None:
            return []
        return [g.flat[i][name] for i in idx if name in g.flat[i]]

    def metric(self, backend, workload, threads, name):
        """The median over ok repetitions, or None where the group or metric is absent."""
        vals = self.values(backend, workload, threads, name)
        return median(vals) if vals else None

    def per_workload(self, backend, name, threads=1, workloads=None):
        """{workload: median} for the workloads where the metric exists."""
        out = {}
        for w in workloads or self.workload_names:
            v = self.metric(backend, w, threads, name)
            if v is not None:
                out[w] = v
        return out

    def ns_per_op(self, backend, workload, threads=1):
        g, idx = self._indices((backend, workload, threads))
        if g is None:
            return None
        vals = [g.flat[i]["allocator_seconds"] * 1e9 / g.flat[i]["ops"] for i in idx
                if g.flat[i].get("ops") and "allocator_seconds" in g.flat[i]]
        return median(vals) if vals else None

    def ns_per_op_by_workload(self, backend, threads=1):
        out = {}
        for w in self.workload_names:
            v = self.ns_per_op(backend, w, threads)
            if v is not None:
                out[w] = v
        return out

    def workload_info(self, workload, threads=1):
        return self.results["workloads"].get(f"{workload}/t{threads}")

    def workload_config(self, workload):
        """The run's entry for a workload: {name, model, requests, params} or {name, path, threads}."""
        for w in self.config.get("workloads", []):
            if w["name"] == workload:
                return w
        return {}

    def has_replay_options(self, workload):
        """Whether the workload's cells ran on an aged heap or sat idle after the replay (age=, idle=): the
        model's trace, but not a fresh cell's memory figures."""
        cfg = self.workload_config(workload)
        return bool(cfg.get("age_bytes") or cfg.get("idle_seconds"))

    def is_plain(self, workload):
        """A model's workload at its own options only: no KEY=VALUE of the model's (params) and none of the
        replay's (an aged heap, an idle tail), so its figures are the model's as such."""
        cfg = self.workload_config(workload)
        return bool(cfg.get("model")) and not cfg.get("params") and not self.has_replay_options(workload)

    def workload_model(self, workload):
        for w in self.config.get("workloads", []):
            if w["name"] == workload:
                return w.get("model")
        return None

    def ok_cells(self, backend, workload, threads):
        g, idx = self._indices((backend, workload, threads))
        return [g.cells[i] for i in idx] if g else []

    def median_of_cells(self, backend, workload, threads, fn):
        vals = [v for v in (fn(c) for c in self.ok_cells(backend, workload, threads)) if v is not None]
        return median(vals) if vals else None
