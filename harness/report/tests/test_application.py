"""The section on what the allocator does to the application (application_*.py) and the claim pool.lifo_cache, on
hand-built results whose answers are known."""

import json
import pathlib
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import application_charts  # noqa: E402
import application_tables as at  # noqa: E402
from application_metrics import aged_pairs, settings_base  # noqa: E402
from data import Data  # noqa: E402
from ledger import evaluate  # noqa: E402
from tables import faults_and_system_time  # noqa: E402

CLAIMS = pathlib.Path(__file__).resolve().parents[1] / "claims.json"
MIB = 2 ** 20


def replay(ops=1000, allocator_seconds=1e-3, alloc_mean_ns=10.0, access=None, os=None, memory=None, age=None):
    r = {"ops": ops, "allocator_seconds": allocator_seconds, "mean_ns": {"alloc": alloc_mean_ns},
         "ops_by_class": {"alloc": ops // 2}, "memory": memory or {"baseline_rss_bytes": 10 * MIB,
                                                                   "peak_rss_bytes": 12 * MIB,
                                                                   "floor_rss_bytes": 11 * MIB}}
    for key, part in (("access", access), ("os", os), ("age", age)):
        if part is not None:
            r[key] = part
    return r


def access(seconds, requests=10, fill_blocks=100, fill_seconds=None):
    return {"requests": requests, "seconds": seconds, "fill_blocks": fill_blocks,
            "fill_seconds": seconds / 2 if fill_seconds is None else fill_seconds,
            "read_blocks": fill_blocks, "read_seconds": seconds / 2}


def results(groups, workloads, winfo=None, backends=None):
    """groups: {(backend, workload): [replay, ...]} (one cell per repetition); workloads: the config's entries."""
    cells = []
    for (b, w), reps in groups.items():
        for i, r in enumerate(reps):
            cells.append({"id": f"{b}|{w}|t1|r{i}", "backend": b, "workload": w, "threads": 1, "rep": i,
                          "status": "ok", "replay": r})
    names = backends or list(dict.fromkeys(b for b, _ in groups))
    return {"format": "alloclab-results", "version": 1, "context": {"cores": 2, "thp": {"enabled": "madvise"}},
            "config": {"backends": names, "workloads": workloads, "threads": [1], "reps": 3},
            "summaries": [], "scaling": [], "cells": cells,
            "workloads": winfo or {f"{w['name']}/t1": {"requests": 10} for w in workloads}}


def model(name, **extra):
    return {"name": name, "model": name.partition(":")[0], "requests": 10, **extra}


class AccessPerRequest(unittest.TestCase):
    def test_net_allocator_and_access_per_request_are_medians_with_null_beside(self):
        # Per request (10 requests): null's allocator 100, 100, 100 ns, its access 50, 40, 60 ns (median 50);
        # glibc's allocator 400, 300, 500 (median 400, net 300), its access 80, 90, 100 (median 90).
        g = {("null", "http1-static"): [replay(allocator_seconds=1e-6, access=access(a * 1e-7)) for a in (5, 4, 6)],
             ("glibc", "http1-static"): [replay(allocator_seconds=s * 1e-8, access=access(a * 1e-7))
                                         for s, a in ((400, 8), (300, 9), (500, 10))]}
        d = Data(results(g, [model("http1-static")]))
        [t] = at.access_tables(d)
        self.assertEqual(t["rows"], [["null (the floor)", "0", "50", "0", "50"], ["glibc", "300", "90", "40", "390"]])
        self.assertIn("Least allocator + access per request: glibc (390 ns)", t["note"])

        s = application_charts.series_access(d)
        self.assertEqual(len(s), 1)
        w, floor, rows = s[0]
        self.assertEqual(w, "http1-static")
        self.assertAlmostEqual(floor, 50)
        self.assertEqual([b for b, *_ in rows], ["glibc"])
        self.assertAlmostEqual(rows[0][1], 300)
        self.assertAlmostEqual(rows[0][2], 90)

    def test_a_trace_without_requests_has_no_table(self):
        g = {("null", "http1-static"): [replay(access=access(1e-6, requests=0))] * 3,
             ("glibc", "http1-static"): [replay(access=access(1e-6, requests=0))] * 3}
        self.assertEqual(at.access_tables(Data(results(g, [model("http1-static")]))), [])

    def test_a_backend_under_the_null_floor_is_named_as_noise(self):
        g = {("null", "http1-static"): [replay(allocator_seconds=1e-6, access=access(a * 1e-7)) for a in (5, 4, 6)],
             ("jemalloc", "http1-static"): [replay(allocator_seconds=2e-6, access=access(3e-7))] * 3}
        [t] = at.access_tables(Data(results(g, [model("http1-static")])))
        self.assertIn("above that of 1 backend here (jemalloc)", t["note"])
        self.assertIn("40–60 ns per request", t["note"])


def os_part(faults, sys_s, huge_peak=0, rss_then=0):
    return {"minor_faults": faults, "major_faults": 0, "user_seconds": 0.01, "system_seconds": sys_s,
            "anon_huge_bytes_end": 0, "anon_huge_bytes_peak": huge_peak, "rss_at_anon_huge_peak_bytes": rss_then}


class Faults(unittest.TestCase):
    def test_the_table_has_anon_huge_pages_at_the_peak_and_the_chart_system_beside_allocator_time(self):
        g = {("glibc", "http1-static"): [replay(ops=10000, allocator_seconds=0.002,
                                                os=os_part(f, s, 4 * MIB, 40 * MIB))
                                         for f, s in ((50, 0.001), (70, 0.003), (60, 0.002))]}
        d = Data(results(g, [model("http1-static")]))
        t = faults_and_system_time(d)
        self.assertEqual(t["columns"][-1], "AnonHugePages at the RSS peak, MiB")
        self.assertEqual(t["rows"][0][1], "6")
        self.assertEqual(t["rows"][0][-1], "4 of 40 RSS")
        [(b, per_kop, sys_ms, alloc_ms)] = application_charts.series_faults(d)
        self.assertEqual(b, "glibc")
        self.assertAlmostEqual(per_kop, 6)
        self.assertAlmostEqual(sys_ms, 2)
        self.assertAlmostEqual(alloc_ms, 2)


LIFO, FIFO = "pool@glibc", "pool:order=fifo@glibc"
BIG = "long-running:scale=16,connections=8192"


def reuse_results(fifo_fill_ns, lifo_fill_ns=20.0, peak_live=100 * MIB, with_access=True, spread=(0, 1, 2)):
    """LIFO and FIFO on one large trace, three repetitions each (alloc mean 10 ns + k, fill + k, k from spread)."""
    def rep(fill_ns, k):
        part = access(1e-5, fill_blocks=1000, fill_seconds=(fill_ns + k) * 1000 * 1e-9) if with_access else None
        return replay(alloc_mean_ns=10.0 + k, access=part)
    g = {(LIFO, BIG): [rep(lifo_fill_ns, k) for k in spread],
         (FIFO, BIG): [rep(fifo_fill_ns, k) for k in spread],
         ("null", BIG): [rep(5.0, k) for k in spread]}
    return results(g, [model(BIG, params={"scale": "16", "connections": "8192"}, backends=["null", LIFO, FIFO])],
                   winfo={f"{BIG}/t1": {"requests": 10, "peak_live_bytes": peak_live}})


def lifo_claim():
    return next(c for c in json.loads(CLAIMS.read_text(encoding="utf-8"))["claims"] if c["id"] == "pool.lifo_cache")


class ReuseOrder(unittest.TestCase):
    def test_fifo_slower_to_obtain_and_fill_holds(self):
        # LIFO: alloc 10-12 + fill 20-22 = 30, 32, 34 ns (median 32); FIFO: 10-12 + 38-40 = 48, 50, 52 (median 50).
        v = evaluate(lifo_claim(), Data(reuse_results(fifo_fill_ns=38.0)))
        self.assertEqual(v.verdict, "holds", v.reason)
        self.assertAlmostEqual(v.value, 50 / 32)
        lo, hi = v.interval
        self.assertGreater(lo, 1.05)
        self.assertIn("FIFO 50 ns, LIFO 32 ns", v.detail)

    def test_equal_cost_does_not_hold(self):
        # The same spread under both orders: the interval reaches both sides of 1.05, so it cannot hold.
        v = evaluate(lifo_claim(), Data(reuse_results(fifo_fill_ns=20.0)))
        self.assertEqual(v.verdict, "inconclusive")
        self.assertAlmostEqual(v.value, 1.0)
        self.assertLess(v.interval[0], 1.0)
        # Without spread between repetitions the whole interval is 1: refuted.
        v = evaluate(lifo_claim(), Data(reuse_results(fifo_fill_ns=20.0, spread=(1, 1, 1))))
        self.assertEqual(v.verdict, "refuted")
        self.assertEqual(v.interval, (1.0, 1.0))

    def test_free_lists_that_fit_in_the_cache_cannot_test_it(self):
        v = evaluate(lifo_claim(), Data(reuse_results(fifo_fill_ns=38.0, peak_live=2 * MIB)))
        self.assertEqual(v.verdict, "inconclusive")
        self.assertIn("fit in the cache", v.reason)

    def test_results_without_access_figures_say_so(self):
        v = evaluate(lifo_claim(), Data(reuse_results(fifo_fill_ns=38.0, with_access=False)))
        self.assertEqual(v.verdict, "inconclusive")
        self.assertIn("replay.access", v.reason)

    def test_the_table_pairs_fifo_with_its_lifo_twin(self):
        t = at.reuse_table(Data(reuse_results(fifo_fill_ns=38.0)))
        self.assertEqual(t["rows"], [[BIG, "100", f"{LIFO} / {FIFO}", "11 / 11", "21 / 39", "32 / 50", "1.56×"]])


def mem(baseline, peak=None, floor=None, idle=None):
    m = {"baseline_rss_bytes": baseline, "peak_rss_bytes": peak or baseline + MIB, "floor_rss_bytes": floor or baseline}
    if idle is not None:
        m["idle"] = {"interval_seconds": 0.1, "rss_bytes": idle}
    return m


AGE = {"requested_bytes": 64 * MIB, "bytes": 64 * MIB, "allocations": 1000, "allocated_bytes": 256 * MIB,
       "retained_blocks": 60, "retained_bytes": 4 * MIB, "seconds": 0.1}


class Aged(unittest.TestCase):
    def test_what_the_aged_heap_keeps_beyond_the_retained_blocks(self):
        aged = "http1-static:age=64"
        g = {}
        for b, fresh_base, aged_base in (("null", 10, 18), ("glibc", 10, 19), ("jemalloc", 12, 30)):
            g[(b, "http1-static")] = [replay(memory=mem(fresh_base * MIB), access=access(1e-6))] * 3
            g[(b, aged)] = [replay(memory=mem(aged_base * MIB, aged_base * MIB + 2 * MIB), access=access(2e-6),
                                   age=AGE)] * 3
        d = Data(results(g, [model("http1-static"), model(aged, age_bytes=64 * MIB)]))
        self.assertEqual(aged_pairs(d), [(aged, "http1-static")])
        t = at.aged_table(d, aged, "http1-static")
        rows = {r[0]: r for r in t["rows"]}
        # glibc: 19 - 10 = 9 MiB held, 4 retained, 5 beyond; jemalloc: 30 - 12 = 18, 14 beyond.
        self.assertEqual(rows["glibc"][1:4], ["9", "4", "5"])
        self.assertEqual(rows["jemalloc"][1:4], ["18", "4", "14"])
        self.assertEqual(rows["glibc"][4], "1 → 2")
        self.assertEqual(rows["glibc"][6], "100 → 200")
        self.assertIn("jemalloc keeps most: 14 MiB", t["note"])
        self.assertIn("least: glibc, 5 MiB", t["note"])


class Idle(unittest.TestCase):
    def test_returned_while_idle_and_only_by_force(self):
        w = "http1-static:idle=1"
        # jemalloc returns 3 MiB while idle (30 -> 27) and 2 more only by force (floor 25).
        curve = [30 * MIB, 29 * MIB, 27 * MIB]
        g = {("jemalloc", w): [replay(memory=mem(20 * MIB, floor=25 * MIB, idle=curve))] * 3,
             ("glibc", w): [replay(memory=mem(20 * MIB, floor=21 * MIB, idle=[22 * MIB] * 3))] * 3}
        d = Data(results(g, [model(w, idle_seconds=1.0)]))
        t = at.idle_table(d, w)
        self.assertEqual(t["rows"], [["jemalloc", "30", "27", "25", "3", "2", "3"],
                                     ["glibc", "22", "22", "21", "0", "1", "3"]])
        [(name, lines)] = application_charts.series_idle(d)
        self.assertEqual(name, w)
        b, seconds, above = lines[0]
        self.assertEqual(b, "jemalloc")
        self.assertEqual([round(s, 6) for s in seconds], [0, 0.1, 0.2])
        self.assertEqual(above, [5, 4, 2])


class Settings(unittest.TestCase):
    def test_the_base_library_is_the_text_before_the_bracket(self):
        self.assertEqual(settings_base("jemalloc[background_thread=true,dirty_decay_ms=0]"), "jemalloc")
        self.assertEqual(settings_base("glibc[arena_max=2]"), "glibc")
        self.assertIsNone(settings_base("pool@glibc"))
        self.assertIsNone(settings_base("jemalloc"))

    def test_a_setting_is_compared_beside_its_base_on_the_workloads_both_ran(self):
        tuned = "jemalloc[dirty_decay_ms=0]"
        g = {("null", "http1-static"): [replay(allocator_seconds=1e-6, access=access(1e-7))] * 3,
             ("jemalloc", "http1-static"): [replay(allocator_seconds=3e-6, access=access(2e-7),
                                                   os=os_part(5, 0.001, 2 * MIB, 30 * MIB))] * 3,
             (tuned, "http1-static"): [replay(allocator_seconds=5e-6, access=access(3e-7),
                                              os=os_part(9, 0.002, 0, 30 * MIB),
                                              memory=mem(10 * MIB, 14 * MIB, 10 * MIB))] * 3,
             (tuned, "http-api"): [replay()] * 3}
        d = Data(results(g, [model("http1-static"), model("http-api")]))
        t = at.settings_table(d)
        self.assertEqual(t["rows"], [["http1-static", "jemalloc", "2", "20", "5", "2", "11", "2"],
                                     ["http1-static", tuned, "4", "30", "9", "4", "10", "0"]])

    def test_omitted_without_settings_backends(self):
        g = {("jemalloc", "http1-static"): [replay()] * 3}
        d = Data(results(g, [model("http1-static")]))
        self.assertIsNone(at.settings_table(d))
        self.assertNotIn("Settings compared", [b[2] for b in at.application_section(d) if b[0] == "h"])


class Section(unittest.TestCase):
    def test_results_from_before_the_figures_say_they_lack_them(self):
        g = {("null", "http1-static"): [replay()] * 3, ("glibc", "http1-static"): [replay()] * 3}
        blocks = at.application_section(Data(results(g, [model("http1-static")])))
        self.assertEqual(blocks[0], ("h", 2, "What the allocator does to the application"))
        self.assertEqual(blocks[-1], ("p", at.LACKS))

    def test_charts_are_byte_identical_twice_and_skipped_with_a_reason(self):
        g = {("null", "http1-static"): [replay(access=access(1e-6), os=os_part(1, 0.0))] * 3,
             ("glibc", "http1-static"): [replay(allocator_seconds=2e-3, access=access(2e-6), os=os_part(9, 0.001))] * 3}
        d = Data(results(g, [model("http1-static")]))
        out = []
        for _ in range(2):
            folder = pathlib.Path(tempfile.mkdtemp(prefix="alloclab-app-"))
            self.addCleanup(__import__("shutil").rmtree, folder, True)
            out.append((folder, application_charts.render(d, folder)))
        (a, first), (b, second) = out
        self.assertEqual(first, second)
        self.assertEqual(sorted(first), ["access", "faults", "idle"])
        self.assertIn("replay.memory.idle", first["idle"]["skipped"])
        for name in ("access", "faults"):
            for ext in ("png", "svg"):
                self.assertEqual((a / first[name][ext]).read_bytes(), (b / second[name][ext]).read_bytes())
        blocks = at.application_section(d, first)
        self.assertIn(("chart", first["access"]), blocks)
        self.assertIn(("chart", first["faults"]), blocks)


if __name__ == "__main__":
    unittest.main()
