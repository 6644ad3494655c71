"""Read-only views of an alloclab results file (results/SCHEMA.md) for the
report: medians per backend, workload and thread count, taken from the
file's own summaries; nothing here measures or estimates anything."""

from statistics import median


class ResultsError(Exception):
    pass


def check_format(results):
    if not isinstance(results, dict) or results.get("format") != "alloclab-results":
        raise ResultsError("not an alloclab results file (format is not \"alloclab-results\")")
    if results.get("version") != 1:
        raise ResultsError(f"results version {results.get('version')!r} is not supported (expected 1)")
    for key in ("config", "context", "summaries", "cells", "workloads"):
        if key not in results:
            raise ResultsError(f"results file lacks \"{key}\"")


class Data:
    def __init__(self, results):
        check_format(results)
        self.results = results
        self.context = results["context"]
        self.config = results["config"]
        self.backends = list(self.config.get("backends") or [])
        self.cores = int(self.context.get("cores") or 0)
        self._summaries = {}
        for s in results["summaries"]:
            self._summaries[(s["backend"], s["workload"], s["threads"])] = s
        self._scaling = {(s["backend"], s["workload"]): s["points"] for s in results.get("scaling", [])}
        # Workload names in the order the run was configured with.
        self.workload_names = [w["name"] for w in self.config.get("workloads", [])]
        self.thread_counts = sorted({s["threads"] for s in results["summaries"]})

    def has_backend(self, backend):
        return any(k[0] == backend for k in self._summaries)

    def metric(self, backend, workload, threads, name, stat="median"):
        """A summary statistic, or None where the cell group or metric is absent."""
        s = self._summaries.get((backend, workload, threads))
        if not s or s["cells"]["ok"] == 0:
            return None
        m = s["metrics"].get(name)
        if m is None or m.get(stat) is None:
            return None
        return m[stat]

    def per_workload(self, backend, name, threads=1, workloads=None):
        """{workload: median} for the workloads where the metric exists."""
        out = {}
        for w in workloads or self.workload_names:
            v = self.metric(backend, w, threads, name)
            if v is not None:
                out[w] = v
        return out

    def ns_per_op(self, backend, workload, threads=1):
        secs = self.metric(backend, workload, threads, "allocator_seconds")
        ops = self.metric(backend, workload, threads, "ops")
        if secs is None or not ops:
            return None
        return secs * 1e9 / ops

    def ns_per_op_by_workload(self, backend, threads=1):
        out = {}
        for w in self.workload_names:
            v = self.ns_per_op(backend, w, threads)
            if v is not None:
                out[w] = v
        return out

    def scaling(self, backend, workload):
        return self._scaling.get((backend, workload), [])

    def workload_info(self, workload, threads=1):
        return self.results["workloads"].get(f"{workload}/t{threads}")

    def workload_model(self, workload):
        for w in self.config.get("workloads", []):
            if w["name"] == workload:
                return w.get("model")
        return None

    def ok_cells(self, backend, workload, threads):
        return [c for c in self.results["cells"]
                if c["backend"] == backend and c["workload"] == workload and c["threads"] == threads
                and c["status"] == "ok"]

    def median_of_cells(self, backend, workload, threads, fn):
        vals = [v for v in (fn(c) for c in self.ok_cells(backend, workload, threads)) if v is not None]
        return median(vals) if vals else None
