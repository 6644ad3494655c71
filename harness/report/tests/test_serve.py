"""The real-server part of the report on hand-built `alloclab serve`
documents whose answers are known: the server claims' verdicts, the replay
sentences, the Real servers section and GC chart, and malformed files."""

import contextlib
import io
import json
import shutil
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import report  # noqa: E402
from data import ResultsError  # noqa: E402
from ledger import evaluate, evaluate_all  # noqa: E402
from serve_data import ServeData, rss_fall, rss_growth, rss_over_load  # noqa: E402
from serve_metrics import exact_one_sided_p, spearman  # noqa: E402
from serve_tables import prediction_sentence, serve_section  # noqa: E402

CLAIMS = {c["id"]: c for c in json.loads((Path(__file__).resolve().parents[1] / "claims.json")
                                          .read_text(encoding="utf-8"))["claims"]}
ALLOCATORS = ["glibc", "jemalloc", "mimalloc", "tcmalloc"]


def cell(server, allocator, rep, cpu_ns=10000.0, p50=30.0, hwm_kib=12288, rss_end_kib=12288, gc=None):
    c = {"id": f"{server}|{allocator}|r{rep}", "server": server, "kind": server.split(":")[0],
         "allocator": allocator, "rep": rep, "status": "ok",
         "peak": {"requests": 100000, "seconds": 1.0, "rps": 1e9 / cpu_ns, "errors": 0,
                  "latency_us": {"p50": 250, "p99": 450, "p999": 1000},
                  "server": {"ns_per_request": cpu_ns, "minor_faults": 100, "user_s": 0.5, "sys_s": 0.5}},
         "fixed": {"offered_rps": 50000.0, "due": 50000, "requests": 50000, "kept_up": True,
                   "latency_us": {"p50": p50, "p99": 140.0, "p999": 800.0}, "server": {"ns_per_request": cpu_ns}},
         "memory": {"vm_hwm_kib": hwm_kib, "rss_end_kib": rss_end_kib, "rss_series": [[0, 1000], [250, hwm_kib]]}}
    if gc is not None:
        c["gc"] = gc
        c["node_retain_mib"] = int(server.split("=")[1]) if "=" in server else 0
    return c


def node_gc(collections, after_ms=100.0):
    load = [x for x in collections if x[0] >= after_ms]
    kinds = {}
    for kind in ("scavenge", "mark-compact"):
        pauses = sorted(x[4] for x in load if x[1] == kind)
        if pauses:
            kinds[kind] = {"count": len(pauses), "total_ms": sum(pauses), "max_ms": max(pauses),
                           "p50_ms": pauses[len(pauses) // 2]}
    return {"after_ms": after_ms, "count": len(load), "max_pause_ms": max((x[4] for x in load), default=0.0),
            "heap_used_max_mb": max((x[2] for x in load), default=0.0),
            "startup_collections": len(collections) - len(load), "collections": collections, **kinds}


SMALL_GC = [[50.0, "scavenge", 4.0, 3.0, 0.5], [150.0, "scavenge", 5.0, 4.0, 1.5], [200.0, "scavenge", 5.0, 4.0, 4.0]]
RETAIN_GC = [[20.0, "mark-compact", 15.0, 14.0, 4.0], [40.0, "mark-compact", 100.0, 98.0, 15.0],
             [80.0, "mark-compact", 1000.0, 990.0, 150.0], [150.0, "scavenge", 1000.0, 999.0, 3.0]]


PHASES = {"peak_start": 1000, "fixed_start": 3000, "fixed_end": 5000}


def rust_cell(allocator, rep, kib):
    """A rust cell whose RSS series is kib[i] at i x 250 ms (PHASES: the load runs from 1 s to 5 s)."""
    c = cell("rust", allocator, rep)
    c["phases_ms"] = dict(PHASES)
    c["memory"]["rss_series"] = [[250 * i, k] for i, k in enumerate(kib)]
    c["memory"]["vm_hwm_kib"] = max(kib)
    c["memory"]["rss_end_kib"] = kib[-1]
    return c


def climbing(rep):
    """Up through the warm-up and on through the load: 3,400 KiB at 1 s, 5,000 at 5 s (+47%)."""
    return [3000 + 100 * i + rep for i in range(21)]


def rising_and_falling(rep):
    """Up to 4,500 KiB at the peak, back to 3,800 by the end of the load (-5% from the end of the warm-up)."""
    up = [3000 + 250 * i for i in range(5)]                        # 0-1 s: 3,000 -> 4,000
    peak = [4000 + 100 * i for i in range(1, 6)] + [4500] * 3      # 1.25-3 s: up to 4,500
    down = [4500 - 100 * i for i in range(1, 8)]                   # 3.25-4.75 s: down to 3,800
    return up + peak + down + [3800 + rep]


def flat(rep):
    return [3000 + rep] * 21


def serve_doc(cpu=None, retain=True, reps=3, predictions=None, rust=None):
    """cpu: {server: {allocator: ns per request}} (10 µs everywhere when absent); rust: {allocator: f(rep) giving
    the RSS series} adds rust cells under those allocators."""
    cpu = cpu or {}
    cells = []
    for s in ("nginx", "h2o", "apache"):
        for a in ALLOCATORS:
            cells += [cell(s, a, r, cpu_ns=cpu.get(s, {}).get(a, 10000.0)) for r in range(reps)]
    for a in ALLOCATORS:
        cells += [cell("node", a, r, hwm_kib=60000, rss_end_kib=59000, gc=node_gc(SMALL_GC)) for r in range(reps)]
    servers = ["nginx", "h2o", "apache", "node"]
    if retain:
        cells += [cell("node:retain=1000", "glibc", r, hwm_kib=1100000, rss_end_kib=1100000, gc=node_gc(RETAIN_GC))
                  for r in range(reps)]
        servers.append("node:retain=1000")
    if rust:
        cells += [rust_cell(a, r, series(r)) for a, series in rust.items() for r in range(reps)]
        servers.append("rust")
    return {"format": "alloclab-serve", "version": 1, "complete": True,
            "context": {"cpu_model": "Test CPU", "cores": 1, "date": "2026-01-01T00:00:00Z", "server_cpus": [0],
                        "load_cpus": [1]},
            "config": {"servers": servers, "allocators": ALLOCATORS, "reps": reps, "body_bytes": 18432,
                       "connections": 32, "peak_s": 1, "warmup_s": 1, "fixed_s": 1, "rate": 0, "rate_fraction": 0.5},
            "cells": cells,
            "comparisons": [{"server": "nginx", "allocator": a, "baseline": "glibc", "metric": "cpu_ns_per_request",
                             "ratio": 1.0, "p": 1.0, "n": reps, "baseline_n": reps, "smallest_possible_p": 0.1}
                            for a in ALLOCATORS[1:]],
            "predictions": predictions or []}


def verdict(claim_id, doc):
    return evaluate(CLAIMS[claim_id], ServeData(doc, source="test.json"))


class ServeClaims(unittest.TestCase):
    def test_a_150_ms_mark_compact_at_1000_mb_holds_the_1_gb_claim(self):
        v = verdict("node.gc_1gb", serve_doc())
        self.assertEqual(v.verdict, "holds", v.reason)
        self.assertEqual(v.value, 150.0)
        v = verdict("node.gc_100mb", serve_doc())
        self.assertEqual((v.verdict, v.value), ("holds", 15.0))

    def test_the_forced_full_collection_counts_at_its_heap_size_but_not_as_a_pause_under_load(self):
        doc = serve_doc(retain=False)
        forced = SMALL_GC + [[900.0, "forced", 1050.0, 1020.0, 180.0]]
        for c in doc["cells"]:
            if c["server"] == "node":
                c["gc"] = node_gc(SMALL_GC)
                c["gc"]["collections"] = forced
                c["gc"]["forced"] = {"pause_ms": 180.0, "heap_before_mb": 1050.0, "heap_after_mb": 1020.0}
        v = verdict("node.gc_1gb", doc)
        self.assertEqual((v.verdict, v.value), ("holds", 180.0), v.reason)
        v = verdict("node.gc_pauses", doc)
        self.assertEqual(v.verdict, "refuted")
        self.assertLess(v.value, 5.0)

    def test_no_mark_compact_near_the_size_is_inconclusive(self):
        v = verdict("node.gc_1gb", serve_doc(retain=False))
        self.assertEqual(v.verdict, "inconclusive")
        self.assertIn("no mark-compact", v.reason)

    def test_pauses_all_under_5_ms_refute_the_50_ms_claim(self):
        v = verdict("node.gc_pauses", serve_doc(retain=False))
        self.assertEqual(v.verdict, "refuted")
        self.assertEqual(v.value, 4.0)

    def test_pauses_grow_with_heap(self):
        v = verdict("node.gc_grows_with_heap", serve_doc())
        self.assertEqual(v.verdict, "holds")
        self.assertAlmostEqual(v.value, 1.0)

    def test_node_keeps_its_pages(self):
        v = verdict("node.retains_memory", serve_doc())
        self.assertEqual(v.verdict, "holds")
        self.assertAlmostEqual(v.value, 59000 / 60000)

    def test_identical_server_cpu_refutes_100_to_1000x(self):
        v = verdict("serve.arena_vs_general", serve_doc())
        self.assertEqual((v.verdict, v.value), ("refuted", 1.0))

    def test_the_spread_is_the_dearest_over_the_cheapest_allocator(self):
        doc = serve_doc(cpu={"nginx": {"glibc": 12000.0, "tcmalloc": 8000.0}})
        v = verdict("serve.arena_vs_general", doc)
        self.assertAlmostEqual(v.value, 1.5)
        self.assertEqual(v.verdict, "refuted")

    def test_one_repetition_gives_no_interval(self):
        v = verdict("serve.arena_vs_general", serve_doc(reps=1))
        self.assertEqual(v.verdict, "inconclusive")
        self.assertIn("one repetition", v.reason)

    def test_without_a_serve_file_every_server_claim_is_inconclusive(self):
        claims = [c for c in CLAIMS.values() if c["id"].startswith(("node.", "serve."))]
        self.assertEqual(len(claims), 7)
        for v in evaluate_all(claims, None):
            self.assertEqual(v.verdict, "inconclusive", v.claim["id"])
            self.assertIn("--serve", v.reason)


class RustMemory(unittest.TestCase):
    CLAIM = "serve.rust_default_allocator_grows"

    def test_glibc_climbing_while_jemalloc_rises_and_falls_holds(self):
        doc = serve_doc(rust={"glibc": climbing, "jemalloc": rising_and_falling, "mimalloc": flat, "tcmalloc": flat})
        v = verdict(self.CLAIM, doc)
        self.assertEqual(v.verdict, "holds", v.reason)
        # glibc: 3,401 -> 5,001 KiB (median rep); jemalloc: 4,000 -> 3,801; mimalloc flat.
        self.assertAlmostEqual(v.value, 100 * 1600 / 3401, places=3)
        self.assertIn("jemalloc -4.98% (4,000 → 3,801 KiB", v.detail)
        self.assertIn("mimalloc 0%", v.detail)
        self.assertGreater(v.interval[0], 40)

    def test_every_allocator_flat_refutes(self):
        doc = serve_doc(rust={a: flat for a in ALLOCATORS})
        v = verdict(self.CLAIM, doc)
        self.assertEqual((v.verdict, v.value), ("refuted", 0.0))

    def test_glibc_growing_no_more_than_mimalloc_refutes(self):
        doc = serve_doc(rust={"glibc": climbing, "jemalloc": flat, "mimalloc": climbing})
        v = verdict(self.CLAIM, doc)
        self.assertEqual(v.verdict, "refuted")
        self.assertAlmostEqual(v.value, 0.0)
        self.assertIn("margin over mimalloc's", v.detail)

    def test_no_rust_cells_is_inconclusive(self):
        v = verdict(self.CLAIM, serve_doc())
        self.assertEqual(v.verdict, "inconclusive")
        self.assertIn("no ok rust cells", v.reason)

    def test_no_glibc_or_no_jemalloc_and_mimalloc_is_inconclusive(self):
        v = verdict(self.CLAIM, serve_doc(rust={"jemalloc": flat, "mimalloc": flat}))
        self.assertEqual(v.verdict, "inconclusive")
        self.assertIn("under glibc", v.reason)
        v = verdict(self.CLAIM, serve_doc(rust={"glibc": climbing, "tcmalloc": flat}))
        self.assertEqual(v.verdict, "inconclusive")
        self.assertIn("under jemalloc or mimalloc", v.reason)

    def test_cells_without_phases_are_inconclusive(self):
        doc = serve_doc(rust={"glibc": climbing, "jemalloc": flat})
        for c in doc["cells"]:
            c.pop("phases_ms", None)
        v = verdict(self.CLAIM, doc)
        self.assertEqual(v.verdict, "inconclusive")
        self.assertIn("no RSS series spanning", v.reason)

    def test_one_repetition_gives_no_interval(self):
        doc = serve_doc(reps=1, rust={"glibc": climbing, "jemalloc": rising_and_falling, "mimalloc": flat})
        v = verdict(self.CLAIM, doc)
        self.assertEqual(v.verdict, "inconclusive")
        self.assertIn("one repetition", v.reason)

    def test_the_window_is_the_first_sample_from_the_peak_to_the_last_before_the_end(self):
        c = rust_cell("glibc", 0, [1000, 1100, 1200, 1300, 1400, 1500, 1600, 1700, 1800, 1900, 2000, 2100, 2200,
                                   2300, 2400, 2500, 2600, 2700, 2800, 2900, 3000, 9000])
        c["phases_ms"] = {"peak_start": 1010, "fixed_start": 3000, "fixed_end": 4990}
        start, end, seconds = rss_over_load(c)
        self.assertEqual((start, end, seconds), (1500, 2900, 3.5))  # 1,250 ms and 4,750 ms; 5,000 ms is after
        self.assertAlmostEqual(rss_growth(c), 1400 / 1500)
        self.assertAlmostEqual(rss_fall(c), 0.0)
        c["memory"]["rss_series"][-1] = [5250, 2700]
        self.assertAlmostEqual(rss_fall(c), 300 / 3000)
        c["phases_ms"]["fixed_end"] = 1100
        self.assertIsNone(rss_over_load(c))

    def test_the_section_shows_the_rust_growth_per_allocator(self):
        doc = serve_doc(rust={"glibc": climbing, "jemalloc": rising_and_falling, "mimalloc": flat})
        blocks = serve_section(ServeData(doc))
        heads = [b[2] for b in blocks if b[0] == "h"]
        self.assertIn("Rust server memory over the load", heads)
        table = next(b for i, b in enumerate(blocks) if b[0] == "table"
                     and blocks[i - 1][0] == "h" and blocks[i - 1][2] == "Rust server memory over the load")
        rows = {r[1]: r for r in table[2]}
        self.assertEqual(sorted(rows), ["glibc", "jemalloc", "mimalloc"])
        self.assertEqual(rows["glibc"][3:7], ["3,401", "5,001", "4", "+47%"])
        self.assertEqual(rows["jemalloc"][6:], ["-4.98%", "15.5%"])
        self.assertEqual(rows["mimalloc"][6:], ["0%", "0%"])
        self.assertNotIn("Rust server memory over the load",
                         [b[2] for b in serve_section(ServeData(serve_doc())) if b[0] == "h"])


class Predictions(unittest.TestCase):
    def prediction(self, replay, server_cpu, rho):
        return {"server": "nginx", "status": "ok", "spearman": rho, "spearman_n": len(replay),
                "allocators": [{"allocator": a, "replay_ns_per_request": r, "ops_per_request": 6.0,
                                "server_cpu_ns_per_request": c, "replay_share_of_server_cpu": r / c}
                               for a, r, c in zip(ALLOCATORS, replay, server_cpu)]}

    def test_spearman_and_its_exact_p(self):
        self.assertEqual(spearman([1, 2, 3, 4], [10, 20, 30, 40]), 1.0)
        self.assertAlmostEqual(spearman([1, 2, 3, 4], [40, 30, 20, 10]), -1.0)
        self.assertAlmostEqual(exact_one_sided_p(1.0, 4), 1 / 24)
        self.assertIsNone(spearman([1, 2, 3], [5, 5, 5]))

    def test_rho_1_says_the_replay_orders_the_allocators_as_the_server(self):
        serve = ServeData(serve_doc())
        text = prediction_sentence(serve, self.prediction([100, 80, 90, 60], [10000, 9000, 9500, 8000], 1.0))
        self.assertIn("orders the allocators as the server does (rho = 1, n = 4; exact one-sided p = 0.0417)",
                      text)

    def test_a_negative_rho_says_the_replay_does_not_predict(self):
        serve = ServeData(serve_doc())
        text = prediction_sentence(serve, self.prediction([100, 80, 90, 60], [9000, 10000, 9500, 9800], -0.4))
        self.assertIn("does not predict the server's order (rho = -0.4, n = 4", text)
        self.assertIn("malloc and free are 1.11% of its CPU per request under glibc", text)
        self.assertIn("come from elsewhere", text)


class ReportWithServe(unittest.TestCase):
    MINIMAL = {"format": "alloclab-results", "version": 1, "context": {}, "config": {}, "summaries": [],
               "workloads": {}, "cells": []}

    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="alloclab-report-serve-"))
        self.results = self.dir / "results.json"
        self.results.write_text(json.dumps(self.MINIMAL))
        self.serve = self.dir / "serve.json"
        self.serve.write_text(json.dumps(serve_doc()))
        self.out = self.dir / "out"

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def main(self, *extra):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = report.main([str(self.results), "-o", str(self.out), *extra])
        return status, err.getvalue()

    def test_the_report_gains_the_real_servers_section_and_the_gc_chart(self):
        status, err = self.main("--serve", str(self.serve))
        self.assertEqual(status, 0, err)
        md = (self.out / "report.md").read_text(encoding="utf-8")
        for heading in ("## Real servers", "### Servers under each allocator", "### Node.js garbage collection",
                        "### Against the baseline allocator (glibc)"):
            self.assertIn(heading, md)
        self.assertIn("CPU 0 (1 core)", md)
        self.assertIn("18 KiB page", md)
        self.assertIn("| Node.js | no backend |", md)
        for ext in ("png", "svg"):
            self.assertTrue((self.out / "charts" / f"node_gc.{ext}").stat().st_size > 0)
        verdicts = {v["id"]: v for v in json.loads((self.out / "verdicts.json").read_text())["verdicts"]}
        self.assertEqual(verdicts["node.gc_1gb"]["verdict"], "holds")
        self.assertEqual(verdicts["serve.arena_vs_general"]["verdict"], "refuted")
        self.assertEqual(verdicts["node.gc_1gb"]["machine"]["file"], "serve.json")
        first = {p.name: p.read_bytes() for p in (self.out / "charts").iterdir()}
        status, err = self.main("--serve", str(self.serve))
        self.assertEqual(status, 0, err)
        self.assertEqual({p.name: p.read_bytes() for p in (self.out / "charts").iterdir()}, first)

    def test_without_serve_there_is_no_section_and_the_claims_are_inconclusive(self):
        status, err = self.main()
        self.assertEqual(status, 0, err)
        md = (self.out / "report.md").read_text(encoding="utf-8")
        self.assertNotIn("Real servers", md)
        self.assertFalse((self.out / "charts" / "node_gc.png").exists())
        verdicts = {v["id"]: v for v in json.loads((self.out / "verdicts.json").read_text())["verdicts"]}
        for cid in ("node.gc_pauses", "node.gc_1gb", "serve.arena_vs_general"):
            self.assertEqual(verdicts[cid]["verdict"], "inconclusive")

    def test_a_malformed_serve_file_is_one_line_and_exit_2(self):
        good = serve_doc(reps=1)

        def changed(edit):
            doc = json.loads(json.dumps(good))
            edit(doc)
            return json.dumps(doc).encode()

        cases = {
            "not JSON": (b"{not json", "not JSON"),
            "wrong format": (changed(lambda d: d.update(format="alloclab-results")), "not an alloclab serve file"),
            "cells not a list": (changed(lambda d: d.update(cells={})), "\"cells\" is missing or not an array"),
            "a cell missing peak": (changed(lambda d: d["cells"][0].pop("peak")), "cells[0].peak is missing"),
            "collections not rows": (changed(lambda d: d["cells"][-1]["gc"].update(collections=[1])),
                                     "gc.collections"),
        }
        for name, (text, words) in cases.items():
            with self.subTest(name):
                self.serve.write_bytes(text)
                status, err = self.main("--serve", str(self.serve))
                self.assertEqual(status, 2, err)
                lines = err.splitlines()
                self.assertEqual(len(lines), 1, err)
                self.assertTrue(lines[0].startswith(f"alloclab report: {self.serve}: malformed server results: "),
                                lines[0])
                self.assertIn(words, lines[0])
                self.assertFalse(self.out.exists())
        status, err = self.main("--serve", str(self.dir / "absent.json"))
        self.assertEqual(status, 2)
        self.assertIn("cannot read the server results", err)

    def test_check_raises_results_error(self):
        with self.assertRaises(ResultsError):
            ServeData({"format": "alloclab-serve", "version": 2})

    def test_the_section_reads_the_smallest_possible_p(self):
        blocks = serve_section(ServeData(serve_doc()))
        text = " ".join(b[1] for b in blocks if b[0] == "p")
        self.assertIn("the smallest p the test can give is 0.1", text)


if __name__ == "__main__":
    unittest.main()
