"""The claims ledger's verdicts on hand-built results whose answers are known."""

import json
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data import Data, ResultsError  # noqa: E402
from ledger import apply_rule, evaluate  # noqa: E402
from metrics import METRICS  # noqa: E402

CLAIMS = Path(__file__).resolve().parents[1] / "claims.json"
FRAGMENTATION = {"peak_live_bytes", "rss_at_peak_live_bytes", "heap_at_peak_live_over_live",
                 "reserved_at_peak_live_bytes", "peak_reserved_bytes", "peak_rss_over_peak_live"}


MEMORY = {"peak_thread_cache_bytes", "peak_rss_bytes", "end_rss_bytes", "baseline_rss_bytes", "floor_rss_bytes"}


def replay(**flat):
    """A cell's replay object holding the given figures under their flat names (data.flat_metrics)."""
    r = {"mean_ns": {}, "ops_by_class": {}, "fragmentation": {}, "backend_stats": {}}
    for k, v in flat.items():
        if k.endswith("_mean_ns"):
            cls = k[:-len("_mean_ns")]
            r["mean_ns"][cls] = v
            r["ops_by_class"][cls] = 1000
        elif k.startswith("request_") and k.endswith("_ns"):
            r.setdefault("request_ns", {"count": 100})[k[len("request_"):-len("_ns")]] = v
        elif k in FRAGMENTATION:
            r["fragmentation"][k] = v
        elif k in MEMORY:
            r.setdefault("memory", {})[k] = v
        elif k.startswith("stats."):
            r["backend_stats"][k[6:]] = v
        else:
            r[k] = v
    return r


def results(groups, cores=2, workloads=("w1", "w2"), winfo=None, config_workloads=None):
    """groups: [{backend, workload, threads?, reps: [ {flat figures}, ... ] or metrics: {flat} (3 equal reps)}]."""
    cells = []
    for g in groups:
        reps = g.get("reps") or [g["metrics"]] * 3
        for i, flat in enumerate(reps):
            t = g.get("threads", 1)
            cells.append({"id": f"{g['backend']}|{g['workload']}|t{t}|r{i}", "backend": g["backend"],
                          "workload": g["workload"], "threads": t, "rep": i, "status": "ok", "replay": replay(**flat)})
    return {
        "format": "alloclab-results", "version": 1,
        "context": {"cores": cores},
        "config": {"backends": sorted({g["backend"] for g in groups}),
                   "workloads": config_workloads or [{"name": w, "model": "http1-static", "requests": 10}
                                                     for w in workloads],
                   "threads": [1, 2]},
        "summaries": [], "scaling": [], "cells": cells,
        "workloads": winfo or {f"{w}/t1": {"requests": 10} for w in workloads},
    }


def claim(metric, rule, cid="t"):
    return {"id": cid, "source": "s", "section": "x", "claim": "c", "metric": metric, "rule": rule}


def with_null(groups, workloads=("w1", "w2"), **null_figures):
    return groups + [{"backend": "null", "workload": w, "metrics": dict(null_figures)} for w in workloads]


class Rules(unittest.TestCase):
    def test_a_point_is_judged_by_the_rule(self):
        self.assertEqual(apply_rule({"range": [1, 2]}, 1.5)[0], "holds")
        self.assertEqual(apply_rule({"range": [1, 2]}, 0.5)[0], "refuted")
        self.assertEqual(apply_rule({"at_least": 100}, 0.04)[0], "refuted")
        self.assertEqual(apply_rule({"at_most": 1}, 0)[0], "holds")
        self.assertEqual(apply_rule({"about": 22, "tolerance": 0.5}, 30)[0], "holds")
        self.assertEqual(apply_rule({"about": 22, "tolerance": 0.5}, -5)[0], "refuted")

    def test_an_interval_holds_only_inside_and_is_refuted_only_outside(self):
        self.assertEqual(apply_rule({"range": [1, 2]}, 1.1, 1.9)[0], "holds")
        self.assertEqual(apply_rule({"range": [1, 2]}, 0.9, 1.5)[0], "inconclusive")
        self.assertEqual(apply_rule({"range": [1, 2]}, 2.1, 3)[0], "refuted")
        self.assertEqual(apply_rule({"at_least": 100}, 90, 110)[0], "inconclusive")
        self.assertEqual(apply_rule({"at_most": 1.5}, 1.6, 9)[0], "refuted")


class Verdicts(unittest.TestCase):
    def test_latency_is_net_of_the_null_backend_in_microseconds(self):
        r = results(with_null([{"backend": "bump@glibc", "workload": "w1", "metrics": {"alloc_mean_ns": 65}},
                               {"backend": "bump@glibc", "workload": "w2", "metrics": {"alloc_mean_ns": 85}}],
                              alloc_mean_ns=5))
        v = evaluate(claim({"kind": "class_mean", "backend": "bump@glibc", "class": "alloc", "scale": 0.001,
                            "unit": "µs"}, {"range": [0.05, 0.1]}), Data(r))
        self.assertEqual(v.verdict, "holds")
        self.assertAlmostEqual(v.value, 0.07)
        self.assertEqual(v.interval, (0.07, 0.07))

    def test_without_the_null_backend_time_cannot_be_net(self):
        r = results([{"backend": "glibc", "workload": "w1", "metrics": {"alloc_mean_ns": 30}}])
        v = evaluate(claim({"kind": "class_mean", "backend": "glibc"}, {"range": [5, 10]}), Data(r))
        self.assertEqual(v.verdict, "inconclusive")
        self.assertIn("null", v.reason)

    def test_spread_between_repetitions_makes_a_verdict_inconclusive(self):
        reps = [{"alloc_mean_ns": x} for x in (60, 80, 100, 120, 140)]
        r = results(with_null([{"backend": "glibc", "workload": "w1", "reps": reps}], workloads=("w1",),
                              alloc_mean_ns=0), workloads=("w1",))
        v = evaluate(claim({"kind": "class_mean", "backend": "glibc"}, {"at_least": 90}), Data(r))
        self.assertEqual(v.verdict, "inconclusive")
        self.assertIn("interval spans", v.reason)
        lo, hi = v.interval
        self.assertLess(lo, 90)
        self.assertGreater(hi, 90)
        tight = evaluate(claim({"kind": "class_mean", "backend": "glibc"}, {"at_least": 50}), Data(r))
        self.assertEqual(tight.verdict, "holds")

    def test_one_repetition_gives_no_interval(self):
        r = results(with_null([{"backend": "glibc", "workload": "w1", "reps": [{"alloc_mean_ns": 40}]}],
                              workloads=("w1",), alloc_mean_ns=5), workloads=("w1",))
        v = evaluate(claim({"kind": "class_mean", "backend": "glibc"}, {"at_least": 1}), Data(r))
        self.assertEqual(v.verdict, "inconclusive")
        self.assertIn("one repetition", v.reason)

    def test_ranking_follows_the_net_order_and_counts_resamples(self):
        r = results(with_null([{"backend": b, "workload": "w1", "metrics": {"alloc_mean_ns": ns}}
                               for b, ns in (("a", 9), ("b", 7), ("c", 13))], workloads=("w1",), alloc_mean_ns=4),
                    workloads=("w1",))
        v = evaluate(claim({"kind": "ranking", "labels": ["A", "B", "C"], "backends": ["a", "b", "c"],
                            "metric": "alloc_mean_ns"}, {"order": ["A", "B", "C"]}), Data(r))
        self.assertEqual(v.value, ["B", "A", "C"])
        self.assertEqual(v.verdict, "refuted")
        self.assertIn("reversed in ≥97.5% of them: B before A", v.measured)

    def test_an_order_among_figures_within_noise_is_inconclusive_not_refuted(self):
        # a and b overlap from one repetition to the next; c is clearly last.
        groups = [{"backend": "a", "workload": "w1", "reps": [{"alloc_mean_ns": x} for x in (9, 11, 9, 11, 10)]},
                  {"backend": "b", "workload": "w1", "reps": [{"alloc_mean_ns": x} for x in (10, 9, 11, 10, 11)]},
                  {"backend": "c", "workload": "w1", "reps": [{"alloc_mean_ns": x} for x in (30, 31, 29, 30, 30)]},
                  {"backend": "null", "workload": "w1", "metrics": {"alloc_mean_ns": 1}}]
        d = Data(results(groups, workloads=("w1",)))
        rule = {"order": ["A", "B", "C"]}
        m = {"kind": "ranking", "labels": ["A", "B", "C"], "backends": ["a", "b", "c"], "metric": "alloc_mean_ns"}
        self.assertEqual(evaluate(claim(m, rule), d).verdict, "inconclusive")
        self.assertEqual(evaluate(claim(m, {"order": ["C", "A", "B"]}), d).verdict, "refuted")

    MIB = 2 ** 20
    SIZES = {"s": 2 * MIB, "m": 16 * MIB, "l": 128 * MIB}

    def _fit_sizes(self):
        """glibc's overhead = 1 MiB fixed + 10% of live, plus the harness's own 0.5 MiB that the null backend
        shows, at three sizes of http1-static: (groups, config workloads)."""
        mib, groups = self.MIB, []
        for w, live in self.SIZES.items():
            groups.append({"backend": "glibc", "workload": w,
                           "metrics": {"peak_live_bytes": live, "rss_at_peak_live_bytes": live * 1.1 + 1.5 * mib}})
            groups.append({"backend": "null", "workload": w,
                           "metrics": {"peak_live_bytes": live, "rss_at_peak_live_bytes": 0.5 * mib}})
        cw = [{"name": w, "model": "http1-static", "requests": 10, **({"params": {"scale": "8"}} if w != "s" else {})}
              for w in self.SIZES]
        return groups, cw

    def test_overhead_is_the_proportional_part_of_a_fit_over_sizes_on_rss(self):
        groups, cw = self._fit_sizes()
        r = results(groups, workloads=tuple(self.SIZES), config_workloads=cw)
        v = evaluate(claim({"kind": "overhead", "backend": "glibc", "model": "http1-static"}, {"range": [5, 15]}),
                     Data(r))
        self.assertAlmostEqual(v.value, 10.0, places=6)
        self.assertEqual(v.verdict, "holds")
        self.assertIn("1 MiB fixed", v.detail)

    def test_aged_and_idle_workloads_stay_out_of_the_memory_fit(self):
        # The sizes above, plus an aged heap (a baseline far above a fresh one: a decoy whose overhead would bend
        # the fit) and an idle tail that the null backend never ran (which would leave nothing to net out):
        # neither is a size of the model, so the fit is the fresh one's.
        mib = self.MIB
        groups, cw = self._fit_sizes()
        groups.append({"backend": "glibc", "workload": "s:age=256",
                       "metrics": {"peak_live_bytes": 2 * mib, "rss_at_peak_live_bytes": 90 * mib}})
        groups.append({"backend": "null", "workload": "s:age=256",
                       "metrics": {"peak_live_bytes": 2 * mib, "rss_at_peak_live_bytes": 0.5 * mib}})
        groups.append({"backend": "glibc", "workload": "s:idle=2",
                       "metrics": {"peak_live_bytes": 2 * mib, "rss_at_peak_live_bytes": 40 * mib}})
        cw += [{"name": "s:age=256", "model": "http1-static", "requests": 10, "age_bytes": 256 * mib,
                "backends": ["null", "glibc"], "threads": [1]},
               {"name": "s:idle=2", "model": "http1-static", "requests": 10, "idle_seconds": 2.0,
                "backends": ["glibc"], "threads": [1]}]
        r = results(groups, workloads=tuple(self.SIZES) + ("s:age=256", "s:idle=2"), config_workloads=cw)
        v = evaluate(claim({"kind": "overhead", "backend": "glibc", "model": "http1-static"}, {"range": [5, 15]}),
                     Data(r))
        self.assertAlmostEqual(v.value, 10.0, places=6)
        self.assertEqual(v.verdict, "holds")

    def test_overhead_needs_three_sizes(self):
        r = results(with_null([{"backend": "glibc", "workload": "w1",
                                "metrics": {"peak_live_bytes": 100, "rss_at_peak_live_bytes": 300}}],
                              workloads=("w1",), peak_live_bytes=100, rss_at_peak_live_bytes=10), workloads=("w1",))
        v = evaluate(claim({"kind": "overhead", "backend": "glibc"}, {"at_least": 50}), Data(r))
        self.assertEqual(v.verdict, "inconclusive")
        self.assertIn("three or more", v.reason)

    def test_sweep_growth_is_the_fitted_increase_across_the_sweep(self):
        ns = {4: 10.0, 64: 12.0, 1024: 20.0, 16384: 45.0}
        groups, cw = [], []
        for n, close in ns.items():
            w = f"scope-sweep:n={n}"
            cw.append({"name": w, "model": "scope-sweep", "requests": 0, "params": {"n": str(n)}})
            groups.append({"backend": "scoped@glibc", "workload": w, "metrics": {"close_mean_ns": close + 5}})
            groups.append({"backend": "null", "workload": w, "metrics": {"close_mean_ns": 5}})
        r = results(groups, workloads=[c["name"] for c in cw], config_workloads=cw)
        v = evaluate(claim({"kind": "sweep_growth", "backend": "scoped@glibc", "model": "scope-sweep", "param": "n",
                            "class": "close"}, {"at_most": 10}), Data(r))
        xs = list(ns)
        mx, my = sum(xs) / 4, sum(ns.values()) / 4
        slope = sum((x - mx) * (ns[x] - my) for x in xs) / sum((x - mx) ** 2 for x in xs)
        self.assertAlmostEqual(v.value, slope * (16384 - 4))  # about 35 ns: the null's 5 ns subtracted
        self.assertGreater(v.value, 30)
        self.assertEqual(v.verdict, "refuted")
        flat = results([{"backend": g["backend"], "workload": g["workload"], "metrics": {"close_mean_ns": 12}}
                        for g in groups], workloads=[c["name"] for c in cw], config_workloads=cw)
        v = evaluate(claim({"kind": "sweep_growth", "backend": "scoped@glibc", "model": "scope-sweep", "param": "n",
                            "class": "close"}, {"at_most": 10}), Data(flat))
        self.assertAlmostEqual(v.value, 0)
        self.assertEqual(v.verdict, "holds")

    def test_retention_reads_the_trough_between_two_peaks_while_the_replay_runs(self):
        cols = ["ops", "live_bytes", "rss_bytes", "seconds", "heap_bytes", "reserved_bytes"]
        rows = [[0, 0, 100, 0.0, 0, 0], [10, 1000, 1100, 1.0, 0, 0], [20, 100, 1000, 12.0, 0, 0],
                [30, 1000, 1150, 20.0, 0, 0],
                [40, 1000, 100, 21.0, 0, 0]]  # at ops == total: after the threads exited, not read
        cell = {"ops": 40, "memory": {"timeline_columns": cols, "timeline": rows, "baseline_rss_bytes": 100}}
        groups = [{"backend": "jemalloc", "workload": "lr", "reps": [cell] * 3}]
        cw = [{"name": "lr", "model": "long-running", "requests": 10, "params": {"day_seconds": "24"}}]
        d = Data(results(groups, workloads=("lr",), config_workloads=cw))
        metric = {"kind": "retention", "backend": "jemalloc", "workloads": ["lr"], "requires_seconds": 10}
        v = evaluate(claim(metric, {"at_most": 0.5}), d)
        self.assertAlmostEqual(v.value, 0.9)  # (1000 - 100) / (1100 - 100)
        self.assertEqual(v.verdict, "refuted")
        self.assertIn("11 s from peak to trough", v.detail)
        v = evaluate(claim(dict(metric, requires_seconds=30), {"at_most": 0.5}), d)
        self.assertEqual(v.verdict, "inconclusive")
        self.assertIn("paced replay", v.reason)

    def test_request_speedup_takes_the_weakest_pair_net(self):
        r = results(with_null([{"backend": "glibc", "workload": "w1", "metrics": {"request_p50_ns": 1010}},
                               {"backend": "nginx@glibc", "workload": "w1", "metrics": {"request_p50_ns": 15}},
                               {"backend": "h2o@glibc", "workload": "w1", "metrics": {"request_p50_ns": 510}}],
                              workloads=("w1",), request_p50_ns=10), workloads=("w1",))
        v = evaluate(claim({"kind": "request_speedup", "fast": ["nginx@glibc", "h2o@glibc"], "slow": ["glibc"]},
                           {"range": [100, 1000]}), Data(r))
        self.assertAlmostEqual(v.value, 2.0)
        self.assertEqual(v.verdict, "refuted")

    def test_a_trace_figure_is_exact_and_reads_the_http_models_only(self):
        cw = [{"name": "w1", "model": "http1-static", "requests": 10},
              {"name": "exp", "model": "idle-connections", "requests": 10, "backends": ["null"]},
              {"name": "big", "model": "http1-static", "requests": 10, "params": {"scale": "8"}}]
        r = results([{"backend": "null", "workload": "w1", "metrics": {"ops": 1}}], workloads=("w1", "exp", "big"),
                    config_workloads=cw,
                    winfo={"w1/t1": {"requests": 10, "idle_connection_bytes_p50": 500},
                           "exp/t1": {"requests": 10, "idle_connection_bytes_p50": 0},
                           "big/t1": {"requests": 10, "idle_connection_bytes_p50": 0}})
        v = evaluate(claim({"kind": "workload", "model": "*", "key": "idle_connection_bytes_p50"},
                           {"about": 512, "tolerance": 0.5}), Data(r))
        self.assertEqual(v.verdict, "holds")
        self.assertIn("exact", v.measured)

    def test_memory_ratio_reads_rss_on_the_largest_size_not_the_heap_counters(self):
        mib = 2 ** 20
        groups, cw = [], []
        for w, live in (("small", 2 * mib), ("big", 100 * mib)):
            cw.append({"name": w, "model": "http1-static", "requests": 10})
            groups += [{"backend": "mimalloc", "workload": w, "metrics": {
                           "peak_live_bytes": live, "rss_at_peak_live_bytes": live * 1.2 + mib,
                           "heap_at_peak_live_over_live": 9.0}},  # a decoy on another basis
                       {"backend": "tcmalloc", "workload": w, "metrics": {
                           "peak_live_bytes": live, "rss_at_peak_live_bytes": live * 1.0 + mib}},
                       {"backend": "null", "workload": w, "metrics": {
                           "peak_live_bytes": live, "rss_at_peak_live_bytes": mib}}]
        d = Data(results(groups, workloads=("small", "big"), config_workloads=cw))
        v = evaluate(claim({"kind": "memory_ratio", "num": "mimalloc", "den": "tcmalloc"},
                           {"about": 0.5, "tolerance": 0.2}), d)
        self.assertAlmostEqual(v.value, 1.2)
        self.assertEqual(v.verdict, "refuted")

    def test_bump_waste_is_padding_only_with_the_slack_beside_it(self):
        stats = {"stats.scoped_bytes": 100000, "stats.padding_bytes": 300, "stats.wasted_bytes": 40000,
                 "stats.freed_in_scope_bytes": 5000, "stats.reserved_bytes": 65536}
        r = results([{"backend": "bump@glibc", "workload": w, "metrics": stats} for w in ("w1", "w2")])
        v = evaluate(claim({"kind": "bump_waste", "backend": "bump@glibc"}, {"at_most": 1}), Data(r))
        self.assertAlmostEqual(v.value, 0.3)
        self.assertEqual(v.verdict, "holds")
        self.assertIn("chunk tails left at spills 40%", v.detail)

    def test_per_connection_is_rss_over_connections_less_the_harness(self):
        groups = [{"backend": "nginx@glibc", "workload": "idle", "metrics": {
                      "peak_live_bytes": 271 * 1000, "rss_at_peak_live_bytes": 600_000}},
                  {"backend": "null", "workload": "idle", "metrics": {
                      "peak_live_bytes": 271 * 1000, "rss_at_peak_live_bytes": 50_000}}]
        cw = [{"name": "idle", "model": "idle-connections", "requests": 1000, "backends": ["null", "nginx@glibc"]}]
        r = results(groups, workloads=("idle",), config_workloads=cw,
                    winfo={"idle/t1": {"requests": 1000, "connections": 1000, "peak_live_bytes": 271_000}})
        v = evaluate(claim({"kind": "per_connection", "backend": "nginx@glibc", "workloads": ["idle"]},
                           {"about": 512, "tolerance": 0.5}), Data(r))
        self.assertAlmostEqual(v.value, 550)
        self.assertEqual(v.verdict, "holds")
        self.assertIn("271 B", v.detail)

    def test_isolation_counts_only_failures_of_requests_under_their_limit(self):
        def one(away):
            return {"stats.cancelled_requests": 10, "stats.turned_away_requests": away, "stats.rejections": 10 + away}
        cw = [{"name": "iso", "model": "scope-sweep", "requests": 0, "params": {"big_every": "16"}}]
        info = {"iso/t1": {"requests": 160}}
        ok = results([{"backend": "fixed-regions@glibc", "workload": "iso", "metrics": one(0)}], workloads=("iso",),
                     config_workloads=cw, winfo=info)
        c = claim({"kind": "isolation", "backend": "fixed-regions@glibc", "workloads": ["iso"]}, {"at_most": 0})
        self.assertEqual(evaluate(c, Data(ok)).verdict, "holds")
        bad = results([{"backend": "fixed-regions@glibc", "workload": "iso", "metrics": one(15)}],
                      workloads=("iso",), config_workloads=cw, winfo=info)
        v = evaluate(c, Data(bad))
        self.assertAlmostEqual(v.value, 0.1)  # 15 of the 150 under their limit
        self.assertEqual(v.verdict, "refuted")
        none_over = results([{"backend": "fixed-regions@glibc", "workload": "iso", "metrics": {
            "stats.cancelled_requests": 0, "stats.turned_away_requests": 3}}], workloads=("iso",),
            config_workloads=cw, winfo=info)
        self.assertIn("not exercised", evaluate(c, Data(none_over)).reason)

    def test_thread_cache_reads_the_most_threads_per_thread(self):
        groups = [{"backend": "tcmalloc", "workload": "w1", "threads": 1, "metrics": {"peak_thread_cache_bytes": 8192}},
                  {"backend": "tcmalloc", "workload": "w1", "threads": 2,
                   "metrics": {"peak_thread_cache_bytes": 2 * 16384}}]
        v = evaluate(claim({"kind": "thread_cache", "backend": "tcmalloc"}, {"about": 16, "tolerance": 0.5}),
                     Data(results(groups, workloads=("w1",))))
        self.assertAlmostEqual(v.value, 16.0)
        self.assertEqual(v.verdict, "holds")

    def test_pool_misses_per_request_read_the_strategy_counter_over_the_trace(self):
        r = results([{"backend": "recycle@glibc", "workload": "w1",
                      "metrics": {"stats.pool_misses": 50, "stats.upstream_allocations": 80000}}],
                    workloads=("w1",), winfo={"w1/t1": {"requests": 10000}})
        v = evaluate(claim({"kind": "stat_share", "backend": "recycle@glibc", "num": "pool_misses",
                            "den": "trace.requests"}, {"at_most": 0.05}), Data(r))
        self.assertAlmostEqual(v.value, 0.005)
        self.assertEqual(v.verdict, "holds")

    def test_flat_footprint_and_end_retention_read_rss_not_reserved_bytes(self):
        cols = ["ops", "live_bytes", "rss_bytes", "seconds", "heap_bytes", "reserved_bytes"]
        rows = [[0, 0, 100, 0, 0, 500], [1, 10, 300, 1, 0, 500], [2, 10, 100 + 100, 2, 0, 500],
                [3, 0, 100, 3, 0, 500]]  # the last: after the threads exited
        cell = {"ops": 3, "memory": {"timeline_columns": cols, "timeline": rows, "baseline_rss_bytes": 100,
                                      "peak_rss_bytes": 300, "end_rss_bytes": 150, "floor_rss_bytes": 120}}
        r = results([{"backend": "fixed-regions@glibc", "workload": "w1", "reps": [cell] * 3}], workloads=("w1",),
                    winfo={"w1/t1": {"requests": 10, "end_live_bytes": 0}})
        v = evaluate(claim({"kind": "flat_footprint", "backend": "fixed-regions@glibc"}, {"at_most": 1.05}), Data(r))
        self.assertAlmostEqual(v.value, 200 / 150)  # peak 200 over the mean of 200 and 100
        self.assertEqual(v.verdict, "refuted")
        v = evaluate(claim({"kind": "end_retention", "backend": "fixed-regions@glibc"}, {"at_most": 0.05}), Data(r))
        self.assertAlmostEqual(v.value, 0.1)  # (floor 120 - 100) / (300 - 100): the end RSS, 150, is not read

    def test_per_scope_is_rss_beyond_live_over_the_scopes_open_at_once(self):
        groups = [{"backend": "scoped@glibc", "workload": "open", "metrics": {
                      "peak_live_bytes": 256 * 1024, "rss_at_peak_live_bytes": 256 * 1024 + 1024 * 4096 + 100_000,
                      "reserved_at_peak_live_bytes": 1024 * 8192}},  # a decoy on the strategy's own basis
                  {"backend": "null", "workload": "open", "metrics": {
                      "peak_live_bytes": 256 * 1024, "rss_at_peak_live_bytes": 100_000}}]
        cw = [{"name": "open", "model": "scope-sweep", "requests": 0, "params": {"n": "4", "open": "1024"}}]
        r = results(groups, workloads=("open",), config_workloads=cw,
                    winfo={"open/t1": {"requests": 65536, "peak_open_requests": 1024}})
        v = evaluate(claim({"kind": "per_scope", "backend": "scoped@glibc", "workloads": ["open"]},
                           {"about": 1, "tolerance": 0.5}), Data(r))
        self.assertAlmostEqual(v.value, 4.0)  # KiB: one page per open scope
        self.assertEqual(v.verdict, "refuted")

    def test_a_ratio_about_small_allocations_reads_only_the_small_objects_trace(self):
        groups = []
        for w, je, tc in (("small-objects", 15.0, 13.0), ("http1-static", 100.0, 10.0)):
            groups += [{"backend": "jemalloc", "workload": w, "metrics": {"alloc_mean_ns": je}},
                       {"backend": "tcmalloc", "workload": w, "metrics": {"alloc_mean_ns": tc}},
                       {"backend": "null", "workload": w, "metrics": {"alloc_mean_ns": 4.0}}]
        cw = [{"name": "small-objects", "model": "small-objects", "requests": 10, "backends": ["null"]},
              {"name": "http1-static", "model": "http1-static", "requests": 10}]
        r = results(groups, workloads=("small-objects", "http1-static"), config_workloads=cw)
        v = evaluate(claim({"kind": "ratio", "num": "jemalloc", "den": "tcmalloc", "metric": "alloc_mean_ns",
                            "as": "percent_faster", "models": ["small-objects"]}, {"about": 22, "tolerance": 0.5}),
                     Data(r))
        self.assertAlmostEqual(v.value, (11 / 9 - 1) * 100)  # net: 15 - 4 over 13 - 4; http1-static not read
        self.assertEqual(v.verdict, "holds")

    def test_bad_format_is_refused(self):
        with self.assertRaises(ResultsError):
            Data({"format": "something-else", "version": 1})


class Ledger(unittest.TestCase):
    def test_every_claim_names_a_known_metric_a_basis_and_a_rule(self):
        doc = json.loads(CLAIMS.read_text(encoding="utf-8"))
        ids = [c["id"] for c in doc["claims"]]
        self.assertEqual(len(ids), len(set(ids)), "claim ids must be unique")
        self.assertGreaterEqual(len(ids), 40)
        for c in doc["claims"]:
            for key in ("source", "section", "claim", "metric", "rule"):
                self.assertIn(key, c, c["id"])
            self.assertIn(c["metric"]["kind"], METRICS, c["id"])
            self.assertGreater(len(c["metric"].get("basis", "")), 20, c["id"])
            rule_keys = {"range", "at_least", "at_most", "about", "order"}
            self.assertTrue(rule_keys & set(c["rule"]), c["id"])


if __name__ == "__main__":
    unittest.main()


class FaultsTable(unittest.TestCase):
    """The page-fault and system-time table reads replay.os per backend on http1-static at one thread."""

    def test_faults_per_thousand_ops_and_times_are_the_medians_of_the_repetitions(self):
        from tables import faults_and_system_time

        def os_rep(faults, sys_s):
            return {"ops": 10000, "allocator_seconds": 0.002,
                    "os": {"minor_faults": faults, "major_faults": 0, "user_seconds": 0.01, "system_seconds": sys_s,
                           "anon_huge_bytes_end": 2 << 20}}
        r = results([{"backend": "glibc", "workload": "http1-static",
                      "reps": [os_rep(50, 0.001), os_rep(70, 0.003), os_rep(60, 0.002)]},
                     {"backend": "old", "workload": "http1-static", "metrics": {"ops": 10000}}],
                    workloads=("http1-static",))
        r["context"]["thp"] = {"enabled": "madvise", "defrag": "never"}
        t = faults_and_system_time(Data(r))
        self.assertEqual(len(t["rows"]), 1, "a backend whose cells have no os figures has no row")
        self.assertEqual(t["rows"][0][:6], ["glibc", "6", "0", "2", "10", "2"])
        self.assertEqual(t["rows"][0][6], "2")
        self.assertIn("`madvise` (defrag `never`)", t["note"])
