"""The claims ledger's verdicts on hand-built results whose answers are known."""

import json
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data import Data, ResultsError  # noqa: E402
from ledger import METRICS, apply_rule, evaluate  # noqa: E402

CLAIMS = Path(__file__).resolve().parents[1] / "claims.json"


def metrics(**kv):
    return {k: {"n": 3, "median": v, "q1": v, "q3": v, "iqr": 0, "min": v, "max": v} for k, v in kv.items()}


def results(summaries, cores=2, workloads=("w1", "w2"), scaling=(), cells=(), winfo=None):
    backends = sorted({s["backend"] for s in summaries})
    return {
        "format": "alloclab-results", "version": 1,
        "context": {"cores": cores},
        "config": {"backends": backends, "workloads": [{"name": w, "model": "http1-static", "requests": 10}
                                                       for w in workloads], "threads": [1, 2]},
        "summaries": [{"backend": s["backend"], "workload": s["workload"], "threads": s.get("threads", 1),
                       "cells": {"ok": 3, "unsupported": 0, "failed": 0}, "metrics": s["metrics"]}
                      for s in summaries],
        "scaling": list(scaling), "cells": list(cells),
        "workloads": winfo or {f"{w}/t1": {"requests": 10} for w in workloads},
    }


def claim(metric, rule):
    return {"id": "t", "source": "s", "section": "x", "claim": "c", "metric": metric, "rule": rule}


class Rules(unittest.TestCase):
    def test_range_and_bounds(self):
        self.assertEqual(apply_rule({"range": [1, 2]}, 1.5)[0], "holds")
        self.assertEqual(apply_rule({"range": [1, 2]}, 0.5)[0], "refuted")
        self.assertEqual(apply_rule({"at_least": 100}, 0.04)[0], "refuted")
        self.assertEqual(apply_rule({"at_most": 1}, 0)[0], "holds")
        self.assertEqual(apply_rule({"about": 22, "tolerance": 0.5}, 30)[0], "holds")
        self.assertEqual(apply_rule({"about": 22, "tolerance": 0.5}, -5)[0], "refuted")
        self.assertEqual(apply_rule({"order": ["a", "b"]}, ["b", "a"])[0], "refuted")


class Verdicts(unittest.TestCase):
    def test_latency_in_microseconds_from_the_median_over_workloads(self):
        r = results([{"backend": "bump@glibc", "workload": "w1", "metrics": metrics(alloc_mean_ns=60)},
                     {"backend": "bump@glibc", "workload": "w2", "metrics": metrics(alloc_mean_ns=80)}])
        v = evaluate(claim({"kind": "class_mean", "backend": "bump@glibc", "class": "alloc", "scale": 0.001,
                            "unit": "µs"}, {"range": [0.05, 0.1]}), Data(r))
        self.assertEqual(v.verdict, "holds")
        self.assertAlmostEqual(v.value, 0.07)
        v = evaluate(claim({"kind": "class_mean", "backend": "bump@glibc", "class": "alloc", "scale": 0.001},
                           {"at_least": 100}), Data(r))
        self.assertEqual(v.verdict, "refuted")

    def test_missing_backend_is_inconclusive_with_a_reason(self):
        r = results([{"backend": "glibc", "workload": "w1", "metrics": metrics(alloc_mean_ns=30)}])
        v = evaluate(claim({"kind": "class_mean", "backend": "jemalloc"}, {"range": [5, 10]}), Data(r))
        self.assertEqual(v.verdict, "inconclusive")
        self.assertIn("jemalloc", v.reason)

    def test_ranking_follows_the_measured_order(self):
        r = results([{"backend": b, "workload": "w1", "metrics": metrics(alloc_mean_ns=ns)}
                     for b, ns in (("a", 5), ("b", 3), ("c", 9))], workloads=("w1",))
        v = evaluate(claim({"kind": "ranking", "labels": ["A", "B", "C"], "backends": ["a", "b", "c"],
                            "metric": "alloc_mean_ns"}, {"order": ["A", "B", "C"]}), Data(r))
        self.assertEqual(v.value, ["B", "A", "C"])
        self.assertEqual(v.verdict, "refuted")

    def test_overhead_subtracts_the_null_floor(self):
        r = results([{"backend": "glibc", "workload": "w1", "metrics": metrics(heap_at_peak_live_over_live=1.70)},
                     {"backend": "null", "workload": "w1", "metrics": metrics(heap_at_peak_live_over_live=0.15)}],
                    workloads=("w1",))
        v = evaluate(claim({"kind": "overhead", "backend": "glibc", "ratio": "heap"}, {"at_least": 50}), Data(r))
        self.assertAlmostEqual(v.value, 55.0)
        self.assertEqual(v.verdict, "holds")

    def test_scaling_needs_enough_cores(self):
        pts = [{"threads": 1, "speedup": 1.0, "efficiency": 1.0, "oversubscribed": False},
               {"threads": 2, "speedup": 1.9, "efficiency": 0.95, "oversubscribed": False}]
        base = [{"backend": "mimalloc", "workload": "w1", "metrics": metrics(ops=1)}]
        c = claim({"kind": "scaling", "backend": "mimalloc"}, {"at_least": 0.8, "min_cores": 8})
        few = evaluate(c, Data(results(base, cores=2, workloads=("w1",),
                                       scaling=[{"backend": "mimalloc", "workload": "w1", "points": pts}])))
        self.assertEqual(few.verdict, "inconclusive")
        self.assertIn("8 cores", few.reason)
        self.assertEqual(few.measured, "0.95")
        many = evaluate(c, Data(results(base, cores=16, workloads=("w1",),
                                        scaling=[{"backend": "mimalloc", "workload": "w1", "points": pts}])))
        self.assertEqual(many.verdict, "holds")

    def test_request_speedup_takes_the_weakest_pair(self):
        r = results([{"backend": "glibc", "workload": "w1", "metrics": metrics(request_p50_ns=1000)},
                     {"backend": "nginx@glibc", "workload": "w1", "metrics": metrics(request_p50_ns=5)},
                     {"backend": "h2o@glibc", "workload": "w1", "metrics": metrics(request_p50_ns=500)}],
                    workloads=("w1",))
        v = evaluate(claim({"kind": "request_speedup", "fast": ["nginx@glibc", "h2o@glibc"], "slow": ["glibc"]},
                           {"range": [100, 1000]}), Data(r))
        self.assertAlmostEqual(v.value, 2.0)
        self.assertEqual(v.verdict, "refuted")

    def test_bad_format_is_refused(self):
        with self.assertRaises(ResultsError):
            Data({"format": "something-else", "version": 1})


class Ledger(unittest.TestCase):
    def test_every_claim_names_a_known_metric_and_a_rule(self):
        doc = json.loads(CLAIMS.read_text(encoding="utf-8"))
        ids = [c["id"] for c in doc["claims"]]
        self.assertEqual(len(ids), len(set(ids)), "claim ids must be unique")
        self.assertGreaterEqual(len(ids), 40)
        for c in doc["claims"]:
            for key in ("source", "section", "claim", "metric", "rule"):
                self.assertIn(key, c, c["id"])
            self.assertIn(c["metric"]["kind"], METRICS, c["id"])
            rule_keys = {"range", "at_least", "at_most", "about", "order"}
            self.assertTrue(rule_keys & set(c["rule"]), c["id"])


if __name__ == "__main__":
    unittest.main()
