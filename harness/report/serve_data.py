"""A read-only view of an `alloclab serve` document (results/SCHEMA.md,
"Server results"): real servers measured under each general allocator.

check_serve() is the shape check report.py runs before anything reads the
file. ServeData groups the ok cells by server label x allocator and offers
what the ledger needs of a view (ledger.py): `touched`, `reps`, `resample`,
`cores`, `context`, `source`, `machine_words`. A resample draws every group's
ok repetitions with replacement, once per view, so a verdict's interval
covers the spread between repetitions of every cell its figure reads."""

from statistics import median

from data import ResultsError, become_resample, machine_words

FORMAT = "alloclab-serve"
GC_KINDS = ("scavenge", "mark-compact", "other")


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _obj(parent, key, where, optional=False):
    v = parent.get(key)
    if v is None and optional and key not in parent:
        return None
    if not isinstance(v, dict):
        raise ResultsError(f"{where}.{key} is missing or not an object" if key not in parent
                           else f"{where}.{key} is not an object")
    return v


def check_serve(doc):
    """Raises ResultsError naming the first part of doc that is not as results/SCHEMA.md gives it."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ResultsError(f"not an alloclab serve file (format is not \"{FORMAT}\")")
    if doc.get("version") != 1:
        raise ResultsError(f"serve version {doc.get('version')!r} is not supported (expected 1)")
    for key in ("context", "config"):
        if not isinstance(doc.get(key), dict):
            raise ResultsError(f"\"{key}\" is missing or not an object")
    allocators = doc["config"].get("allocators")
    if not isinstance(allocators, list) or not allocators or not all(isinstance(a, str) for a in allocators):
        raise ResultsError("config.allocators is not a non-empty array of strings")
    if not isinstance(doc.get("cells"), list):
        raise ResultsError("\"cells\" is missing or not an array")
    for i, c in enumerate(doc["cells"]):
        where = f"cells[{i}]"
        if not isinstance(c, dict):
            raise ResultsError(f"{where} is not an object")
        for key in ("server", "allocator", "status"):
            if not isinstance(c.get(key), str):
                raise ResultsError(f"{where}.{key} is missing or not a string")
        if c["status"] != "ok":
            continue
        for key in ("peak", "fixed"):
            phase = _obj(c, key, where)
            if not isinstance(phase.get("server"), dict):
                raise ResultsError(f"{where}.{key}.server is missing or not an object")
            if not isinstance(phase.get("latency_us"), dict):
                raise ResultsError(f"{where}.{key}.latency_us is missing or not an object")
        _obj(c, "memory", where)
        rss = c["memory"].get("rss_series", [])
        if not isinstance(rss, list) or not all(isinstance(p, list) and len(p) == 2 and all(map(_is_num, p))
                                                for p in rss):
            raise ResultsError(f"{where}.memory.rss_series is not an array of [ms, KiB] pairs")
        gc = _obj(c, "gc", where, optional=True)
        if gc is not None:
            cols = gc.get("collections", [])
            if not isinstance(cols, list) or not all(
                    isinstance(x, list) and len(x) == 5 and isinstance(x[1], str)
                    and all(_is_num(x[k]) for k in (0, 2, 3, 4)) for x in cols):
                raise ResultsError(f"{where}.gc.collections is not an array of [ms, kind, MB before, MB after, "
                                   "pause ms]")
    for key in ("comparisons", "predictions"):
        v = doc.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
            raise ResultsError(f"\"{key}\" is not an array of objects")
    for i, p in enumerate(doc.get("predictions") or []):
        if not isinstance(p.get("server"), str):
            raise ResultsError(f"predictions[{i}].server is missing or not a string")
        allocs = p.get("allocators", [])
        if not isinstance(allocs, list) or not all(isinstance(a, dict) for a in allocs):
            raise ResultsError(f"predictions[{i}].allocators is not an array of objects")


def kind_of(cell):
    """The server kind: the cell's `kind`, else the label before any ':'."""
    return cell.get("kind") or cell["server"].split(":")[0]


def is_node(cell):
    return kind_of(cell) == "node"


def retain_mib(cell):
    return int(cell.get("node_retain_mib") or 0)


def num(v):
    return float(v) if _is_num(v) else None


def peak_rps(c):
    return num(c["peak"].get("rps"))


def cpu_ns(c, phase="peak"):
    return num(c[phase]["server"].get("ns_per_request"))


def minor_faults_per_request(c):
    faults, n = num(c["peak"]["server"].get("minor_faults")), num(c["peak"].get("requests"))
    return faults / n if faults is not None and n else None


def fixed_latency(c, q):
    return num(c["fixed"]["latency_us"].get(q))


def vm_hwm_mib(c):
    v = num(c["memory"].get("vm_hwm_kib"))
    return v / 1024.0 if v is not None else None


def rss_series(c):
    """[(ms, KiB)] of the cell's RSS samples in time order (ms after the first answer)."""
    return sorted((float(ms), float(kib)) for ms, kib in c["memory"].get("rss_series") or [])


def rss_over_load(c):
    """(KiB at the end of the warm-up, KiB at the end of the load, seconds between the two samples) from the RSS
    series: the first sample at or after phases_ms.peak_start and the last at or before phases_ms.fixed_end; None
    when the cell has no phases or no two such samples in that order."""
    ph = c.get("phases_ms") or {}
    t0, t1 = num(ph.get("peak_start")), num(ph.get("fixed_end"))
    if t0 is None or t1 is None:
        return None
    series = rss_series(c)
    start = next((x for x in series if x[0] >= t0), None)
    end = next((x for x in reversed(series) if x[0] <= t1), None)
    if start is None or end is None or end[0] <= start[0] or start[1] <= 0:
        return None
    return start[1], end[1], (end[0] - start[0]) / 1000.0


def rss_growth(c):
    """RSS at the end of the load less RSS at the end of the warm-up, as a share of the latter (rss_over_load)."""
    w = rss_over_load(c)
    return (w[1] - w[0]) / w[0] if w else None


def rss_fall(c):
    """How far the last RSS sample lies below the series' maximum, as a share of the maximum (0: it ends at its
    highest)."""
    series = rss_series(c)
    top = max((k for _, k in series), default=0.0)
    return (top - series[-1][1]) / top if top > 0 else None


def collections(c):
    """[(ms, kind, mb_before, mb_after, pause_ms)] of a Node.js cell, start-up included."""
    return [tuple(x) for x in ((c.get("gc") or {}).get("collections") or [])]


class ServeData:
    def __init__(self, doc, source=None, _parent=None, _rng=None):
        if _parent is not None:
            become_resample(self, _parent, _rng)
            return
        check_serve(doc)
        self.doc = doc
        self.source = source
        self.context = doc["context"]
        self.config = doc["config"]
        self.cores = int(self.context.get("cores") or 0)
        self.allocators = list(self.config["allocators"])
        self.baseline = self.allocators[0]
        self.failed = [c for c in doc["cells"] if c["status"] != "ok"]
        self._groups = {}
        for c in doc["cells"]:
            if c["status"] == "ok":
                self._groups.setdefault((c["server"], c["allocator"]), []).append(c)
        for g in self._groups.values():
            g.sort(key=lambda c: c.get("rep", 0))
        listed = [s for s in self.config.get("servers") or [] if isinstance(s, str)]
        seen = {s for s, _ in self._groups}
        self.servers = [s for s in listed if s in seen] + sorted(seen - set(listed))
        extra = sorted({a for _, a in self._groups} - set(self.allocators))
        self.allocators += extra
        self._rng = None
        self._picks = {}
        self.touched = set()

    def machine_words(self):
        return machine_words(self.context, self.source)

    def resample(self, rng):
        return ServeData(None, _parent=self, _rng=rng)

    def reps(self, server, allocator):
        return len(self._groups.get((server, allocator), ()))

    def cells(self, server, allocator):
        """The ok cells of one server x allocator (a bootstrap draw of them in a resample)."""
        g = self._groups.get((server, allocator))
        if not g:
            return []
        key = (server, allocator)
        self.touched.add(key)
        if self._rng is None:
            return list(g)
        idx = self._picks.get(key)
        if idx is None:
            idx = [self._rng.randrange(len(g)) for _ in range(len(g))]
            self._picks[key] = idx
        return [g[i] for i in idx]

    def groups(self, pick=None):
        """[(server, allocator)] with ok cells, in server then allocator order; pick(cell) filters by the first."""
        out = []
        for s in self.servers:
            for a in self.allocators:
                g = self._groups.get((s, a))
                if g and (pick is None or pick(g[0])):
                    out.append((s, a))
        return out

    def median(self, server, allocator, fn):
        vals = [v for v in (fn(c) for c in self.cells(server, allocator)) if v is not None]
        return median(vals) if vals else None

    def comparison(self, server, allocator, metric):
        for x in self.doc.get("comparisons") or []:
            if x.get("server") == server and x.get("allocator") == allocator and x.get("metric") == metric:
                return x
        return None

    def predictions(self):
        return list(self.doc.get("predictions") or [])
