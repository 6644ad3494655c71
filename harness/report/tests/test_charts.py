"""Tests for the report's charts: the files exist and are valid, rendering is byte-reproducible, absent data gives a
reason instead of a chart, and the series a chart draws are the figures in the results file."""

import copy
import math
import pathlib
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ElementTree

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import charts  # noqa: E402

MIB = 1024 * 1024
BACKENDS = ["null", "glibc", "jemalloc", "bump@glibc"]
WORKLOADS = [{"name": "api", "model": "http-api", "requests": 10},
             {"name": "lr", "model": "long-running", "requests": 10}]
REPS = 3
OPS = 1000
NAMES = ["latency", "percentiles", "relative", "memory", "rss_timeline", "scaling", "tradeoff"]


def ns(b, w, threads, rep):
    """The allocator ns per op of a synthetic cell: distinct per backend, workload and thread count; reps spread."""
    return (b + 1) * (w + 1) * 10.0 * threads * (1 + 0.1 * rep)


def cell(b, w, threads, rep):
    backend, workload = BACKENDS[b], WORKLOADS[w]["name"]
    base = 1_000_000
    timeline = [[i * 100, i * 1000 * (b + 1), base + i * 4096 * (b + 1), i * 0.001 * (b + 1), 0, 0] for i in range(5)]
    return {
        "id": f"{backend}|{workload}|t{threads}|r{rep}", "backend": backend, "workload": workload,
        "threads": threads, "rep": rep, "order": 0, "status": "ok",
        "replay": {
            "ops": OPS,
            "ops_per_second": 1e6 * (b + 1) * threads * (1 + 0.1 * rep),
            "allocator_seconds": ns(b, w, threads, rep) * OPS / 1e9,
            "clock": {"resolution_ns": 10.0 + rep},
            "latency_ns": {"alloc": {"count": 100, "p50": 0 if rep == 0 else 5 * rep, "p90": 20.0 * (b + 1),
                                     "p99": 100.0 * (b + 1) + rep, "p999": 1000.0, "max": 5000.0 + rep}},
            "memory": {"baseline_rss_bytes": base, "peak_rss_bytes": base + (b + 1) * MIB * (1 + rep),
                       "floor_rss_bytes": base + b * 8192,
                       "timeline_columns": ["ops", "live_bytes", "rss_bytes", "seconds", "heap_bytes",
                                            "reserved_bytes"],
                       "timeline": timeline},
            "fragmentation": {"heap_at_peak_live_bytes": (b + 1) * 2 * MIB + rep,
                              "heap_at_peak_live_over_live": 0.5 * (b + 1) * (w + 1) * (1 + rep)},
        },
    }


def results(threads=(1, 2), backends=None, workloads=None):
    backends = BACKENDS if backends is None else backends
    workloads = WORKLOADS if workloads is None else workloads
    cells = [cell(BACKENDS.index(b), WORKLOADS.index(w), t, r)
             for b in backends for w in workloads for t in threads for r in range(REPS)]
    # Cells that are not ok carry absurd figures: a chart that used them would show them.
    broken = cell(1, 0, 1, 0)
    broken.update(id="glibc|api|t1|r9", rep=9, status="failed", failure={"kind": "crashed"})
    broken["replay"]["allocator_seconds"] = 1e6
    unsupported = cell(3, 0, 1, 0)
    unsupported.update(id="bump@glibc|api|t1|r8", rep=8, status="unsupported", reason="not thread-safe")
    unsupported["replay"]["fragmentation"]["heap_at_peak_live_over_live"] = 1e6
    if "glibc" in backends and WORKLOADS[0] in workloads:
        cells.append(broken)
    cells.append(unsupported)
    scaling = [{"backend": b, "workload": w["name"],
                "points": [{"threads": t, "ops_per_second": 1e6 * (BACKENDS.index(b) + 1) * t} for t in threads]}
               for b in backends for w in workloads]
    return {
        "format": "alloclab-results", "version": 1,
        "context": {"cores": 2},
        "config": {"backends": list(backends), "workloads": list(workloads), "threads": list(threads), "reps": REPS},
        "workloads": {f"{w['name']}/t{t}": {"peak_live_bytes": 3 * MIB, "threads": t} for w in workloads
                      for t in threads},
        "scaling": scaling,
        "cells": cells,
        "summaries": [],
    }


def rows(series, group):
    return dict(next(r for g, r in series if g == group))


class SeriesTest(unittest.TestCase):
    def setUp(self):
        self.results = results()

    def test_latency_is_allocator_ns_per_op_median_and_quartiles_over_ok_single_thread_cells(self):
        s = charts.series_latency(self.results)
        self.assertEqual([w for w, _ in s], ["api", "lr"])
        self.assertEqual([b for b, _ in s[0][1]], BACKENDS)
        glibc = rows(s, "api")["glibc"]
        # reps 0, 1, 2 give 20, 22, 24 ns: the failed cell's 1e12 ns is not among them.
        self.assertAlmostEqual(glibc.median, ns(1, 0, 1, 1))
        self.assertAlmostEqual(glibc.q1, (ns(1, 0, 1, 0) + ns(1, 0, 1, 1)) / 2)
        self.assertAlmostEqual(glibc.q3, (ns(1, 0, 1, 1) + ns(1, 0, 1, 2)) / 2)
        self.assertEqual(glibc.n, REPS)

    def test_relative_divides_by_glibc_and_ends_with_the_geometric_mean(self):
        s = charts.series_relative(self.results)
        self.assertEqual([g for g, _ in s], ["api", "lr", charts.GEOMEAN])
        self.assertAlmostEqual(rows(s, "api")["glibc"], 1.0)
        self.assertAlmostEqual(rows(s, "api")["jemalloc"], ns(2, 0, 1, 1) / ns(1, 0, 1, 1))
        self.assertAlmostEqual(rows(s, "lr")["null"], 0.5)
        self.assertAlmostEqual(rows(s, charts.GEOMEAN)["bump@glibc"], 2.0)
        self.assertIsNone(charts.series_relative(results(backends=["null", "jemalloc"])))

    def test_percentiles_are_medians_of_the_alloc_histogram_and_the_resolution_median(self):
        s = charts.series_percentiles(self.results)
        workload, resolution, curves = s[0]
        self.assertEqual(workload, "api")
        self.assertAlmostEqual(resolution, 11.0)
        self.assertEqual(dict(curves)["jemalloc"], [5, 60.0, 301.0, 1000.0, 5001.0])

    def test_memory_is_peak_rss_growth_and_heap_at_peak_live_against_the_ideal(self):
        s = charts.series_memory(self.results)
        workload, ideal, memory = s[0]
        self.assertEqual((workload, ideal), ("api", 3 * MIB))
        name, rss, heap = memory[2]
        self.assertEqual(name, "jemalloc")
        self.assertEqual((rss.median, rss.q1, rss.q3), (3 * 2 * MIB, 3 * 1.5 * MIB, 3 * 2.5 * MIB))
        self.assertEqual(heap.median, 6 * MIB + 1)

    def test_memory_leaves_out_a_peak_the_kernel_did_not_reset(self):
        r = results(threads=(1,))
        for c in r["cells"]:
            if c["backend"] == "glibc":
                c["replay"]["memory"]["peak_rss_bytes"] = 0
        memory = {b: (rss, heap) for b, rss, heap in charts.series_memory(r)[0][2]}
        self.assertIsNone(memory["glibc"][0])
        self.assertIsNotNone(memory["glibc"][1])
        self.assertIsNotNone(memory["jemalloc"][0])

    def test_rss_timeline_is_rep_zero_of_the_long_running_workload_above_the_baseline(self):
        s = charts.series_rss_timeline(self.results)
        self.assertEqual(s["workload"], "lr")
        self.assertEqual(s["reps"], [0])
        # bump@glibc is not a general allocator: it is not on this chart.
        self.assertEqual([b for b, *_ in s["lines"]], ["null", "glibc", "jemalloc"])
        b, seconds, rss, floor = s["lines"][2]
        self.assertEqual(seconds, [i * 0.001 * 3 for i in range(5)])
        self.assertEqual(rss, [i * 4096 * 3 / MIB for i in range(5)])
        self.assertEqual(floor, 2 * 8192 / MIB)
        self.assertEqual(s["live"][0], "glibc")
        self.assertEqual(s["live"][2], [i * 2000 / MIB for i in range(5)])

    def test_scaling_is_throughput_efficiency_and_contention_from_the_cells_with_null_first(self):
        s = charts.series_scaling(charts.Data(self.results))
        name, kind, lines = next(x for x in s if x[0] == "lr")
        self.assertEqual(kind, "strong")  # the traces' figures do not say; config.scaling is absent
        self.assertEqual(lines[0][0], "null")
        jemalloc = dict(lines)["jemalloc"]
        # Throughput: the median ops per second over reps (rep 1's); efficiency: at 2 ÷ (2 × at 1).
        self.assertAlmostEqual(jemalloc[0][1], 3 * 1.1)
        self.assertAlmostEqual(jemalloc[1][2], 1.0)
        # Contention: net ns per op at 2 ÷ at 1 (null's subtracted); null's own is its per-op growth.
        net = [ns(2, 1, t, 1) - ns(0, 1, t, 1) for t in (1, 2)]
        self.assertAlmostEqual(jemalloc[1][3], net[1] / net[0])
        self.assertAlmostEqual(dict(lines)["null"][1][3], ns(0, 1, 2, 1) / ns(0, 1, 1, 1))

    def test_tradeoff_is_the_geometric_mean_over_workloads(self):
        s = {b: (x, y, n) for b, x, y, n in charts.series_tradeoff(self.results)}
        x, y, n = s["jemalloc"]
        self.assertAlmostEqual(x, math.sqrt(ns(2, 0, 1, 1) * ns(2, 1, 1, 1)))
        self.assertAlmostEqual(y, math.sqrt(0.5 * 3 * 1 * 2 * 0.5 * 3 * 2 * 2))
        self.assertEqual(n, 2)
        self.assertNotIn(1e6, [v for v, *_ in s.values()])

    def test_clip_counts_values_a_log_axis_cannot_show(self):
        clip = charts.Clip([-1.0, 0.0, 4.0, 8.0])
        self.assertEqual([clip(v) for v in (-1.0, 0.0, 4.0)], [2.0, 2.0, 4.0])
        self.assertEqual(clip.count, 2)
        self.assertIn("2 values at or below 0 drawn at 2 ns", clip.note("ns"))
        self.assertEqual(charts.Clip([1.0]).note("ns"), "")


class RenderTest(unittest.TestCase):
    def render(self, r):
        folder = pathlib.Path(self.enterContext(tempfile.TemporaryDirectory()))
        return folder, charts.render(r, folder)

    def enterContext(self, cm):  # unittest has it from Python 3.11 only
        value = cm.__enter__()
        self.addCleanup(cm.__exit__, None, None, None)
        return value

    def assert_valid(self, folder, entry):
        png = (folder / entry["png"]).read_bytes()
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        self.assertNotIn(b"Software", png)
        self.assertNotIn(b"tIME", png)
        svg = folder / entry["svg"]
        self.assertEqual(ElementTree.parse(svg).getroot().tag, "{http://www.w3.org/2000/svg}svg")
        self.assertNotIn(b"dc:date", svg.read_bytes())

    def test_every_chart_is_drawn_twice_byte_for_byte_the_same(self):
        first_dir, first = self.render(results())
        second_dir, second = self.render(results())
        self.assertEqual([c["name"] for c in first], NAMES)
        self.assertEqual(first, second)
        for entry in first:
            self.assertNotIn("skipped", entry)
            self.assertTrue(entry["title"] and entry["caption"])
            self.assert_valid(first_dir, entry)
            for ext in ("png", "svg"):
                self.assertEqual((first_dir / entry[ext]).read_bytes(), (second_dir / entry[ext]).read_bytes(),
                                 entry[ext])
        # Nothing but the charts is left in the folder: no temporary files.
        self.assertEqual(sorted(p.name for p in (first_dir / "charts").iterdir()),
                         sorted(f"{n}.{e}" for n in NAMES for e in ("png", "svg")))

    def test_charts_without_their_data_are_skipped_with_a_reason(self):
        r = results(threads=(1,), backends=["null", "jemalloc"], workloads=[WORKLOADS[0]])
        folder, out = self.render(r)
        (folder / "charts" / "relative.png").write_bytes(b"left by an earlier render")
        self.assertEqual(charts.render(r, folder), out)
        skipped = {c["name"]: c["skipped"] for c in out if "skipped" in c}
        self.assertEqual(sorted(skipped), ["relative", "rss_timeline", "scaling"])
        self.assertIn("glibc", skipped["relative"])
        self.assertIn("long-running", skipped["rss_timeline"])
        self.assertIn("thread count", skipped["scaling"])
        for c in out:
            if "skipped" not in c:
                self.assert_valid(folder, c)
        self.assertFalse((folder / "charts" / "relative.png").exists())

    def test_a_run_without_ok_cells_skips_every_chart(self):
        r = results(threads=(1,))
        for c in r["cells"]:
            c["status"] = "failed"
        r["scaling"] = []
        _, out = self.render(r)
        self.assertEqual([c["name"] for c in out], NAMES)
        for c in out:
            self.assertTrue(c.get("skipped"), c["name"])

    def test_a_value_below_zero_is_noted_in_the_caption(self):
        r = copy.deepcopy(results(threads=(1,), workloads=[WORKLOADS[0]]))
        for c in r["cells"]:
            if c["backend"] == "null" and c["status"] == "ok":
                c["replay"]["allocator_seconds"] = -1e-6
        latency = charts.draw_latency(charts.series_latency(r), charts.Styles(r))
        charts.plt.close(latency[0])
        self.assertIn("3 values at or below 0", latency[1])


if __name__ == "__main__":
    unittest.main()
