#!/usr/bin/env python3
"""Writes the hostile-input corpus for results readers: bad/NAME.json, each
base.json with one defect, and expected.txt, the start of the error alloclab
must give for it (after "FILE: "). results_corpus_test feeds every file to
every command that reads results and expects exit 2 with that one line.

base.json is a small valid results file (`alloclab run --backends null,glibc
--workloads http1-static:connections=2 --threads 1 --reps 2 --requests 10`,
its timelines and histograms cut to three rows,
its summaries left out: readers recompute them). Run this script again after changing it:

    python3 harness/tests/corpus/results/make_bad_results.py
"""

import copy
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASE = json.loads((HERE / "base.json").read_text())

CASES = []  # (name, bytes, expected)


def case(name, expected):
    def wrap(mutate):
        doc = copy.deepcopy(BASE)
        out = mutate(doc)
        data = out if isinstance(out, bytes) else json.dumps(doc if out is None else out).encode()
        CASES.append((name, data, expected))
        return mutate
    return wrap


def drop(obj, key):
    del obj[key]


def cell(doc, i=0):
    return doc["cells"][i]


def replay(doc, i=0):
    return doc["cells"][i]["replay"]


# -- not a results file at all
case("empty", "not JSON")(lambda d: b"")
case("truncated", "not JSON")(lambda d: json.dumps(d).encode()[:700])
case("binary", "not JSON")(lambda d: bytes(range(256)) * 4)
case("top_level_array", "not an alloclab results file")(lambda d: [d])
case("format_number", "not an alloclab results file")(lambda d: d.update(format=1))
case("format_other", "not an alloclab results file")(lambda d: d.update(format="google-benchmark"))
case("deeply_nested", "context: expected an object, found an array")(
    lambda d: json.dumps(d).replace('"context": {', '"context": ' + "[" * 20000 + "]" * 20000 + ', "x": {', 1).encode())

# -- the document's top level
case("version_string", 'version: results version "1"; this alloclab reads version 1')(lambda d: d.update(version="1"))
case("version_2", "version: results version 2; this alloclab reads version 1")(lambda d: d.update(version=2))
case("version_missing", "version: missing")(lambda d: drop(d, "version"))
case("context_array", "context: expected an object, found an array")(lambda d: d.update(context=[]))
case("context_cores_negative", "context.cores: -4 is out of range")(lambda d: d["context"].update(cores=-4))
case("context_allocators_list", "context.allocators: expected an object")(
    lambda d: d["context"].update(allocators=["glibc"]))
case("config_null", "config: expected an object, found null")(lambda d: d.update(config=None))
case("config_workloads_string", "config.workloads: expected an array, found a string")(
    lambda d: d["config"].update(workloads="http1-static"))
case("config_workload_twice", 'config.workloads[1].name: workload "http1-static" appears twice')(
    lambda d: d["config"]["workloads"].append(d["config"]["workloads"][0]))
case("config_reps_zero", "config.reps: 0 is out of range (1 to 1000)")(lambda d: d["config"].update(reps=0))
case("config_threads_negative", "config.threads[0]: -1 is out of range")(lambda d: d["config"].update(threads=[-1]))
case("config_timeout_string", "config.timeout_seconds: expected a number, found a string")(
    lambda d: d["config"].update(timeout_seconds="120"))
case("config_count_other", 'config.count: "cycles" is neither')(lambda d: d["config"].update(count="cycles"))
case("config_backends_number", "config.backends: expected an array, found an integer")(
    lambda d: d["config"].update(backends=3))
case("workloads_array", "workloads: expected an object, found an array")(lambda d: d.update(workloads=[]))
case("workload_info_string", 'workloads.http1-static/t1.ops: expected a number, found a string "many"')(
    lambda d: d["workloads"]["http1-static/t1"].update(ops="many"))
case("shard_index_zero", "shard.index: 0 is out of range (1 to 1)")(lambda d: d["shard"].update(index=0))
case("shard_index_past_count", "shard.index: 3 is out of range (1 to 2)")(
    lambda d: d["shard"].update(index=3, count=2))
case("total_cells_float", "total_cells: expected a whole number, found a number 4.5")(
    lambda d: d.update(total_cells=4.5))
case("merged_from_number", "merged_from: expected an array, found an integer")(lambda d: d.update(merged_from=7))
case("cells_object", "cells: expected an array, found an object")(lambda d: d.update(cells={}))
case("cells_missing", "cells: missing")(lambda d: drop(d, "cells"))

# -- impossible cells
case("cell_not_object", "cells[0]: expected an object, found a string")(lambda d: d["cells"].__setitem__(0, "ok"))
case("threads_negative", "cells[0].threads: -1 is out of range (1 to 1024)")(lambda d: cell(d).update(threads=-1))
case("threads_1e308", "cells[0].threads: 1e+308 is out of range (1 to 1024)")(
    lambda d: json.dumps(d).replace('"threads": 1, "worker_seconds"', '"threads": 1e308, "worker_seconds"', 1).encode())
case("threads_zero", "cells[0].threads: 0 is out of range (1 to 1024)")(lambda d: cell(d).update(threads=0))
case("rep_negative", "cells[0].rep: -1 is out of range (0 to 1)")(lambda d: cell(d).update(rep=-1))
case("rep_past_reps", "cells[0].rep: 7 is out of range (0 to 1)")(lambda d: cell(d).update(rep=7))
case("status_weird", 'cells[0].status: "weird" is not "ok", "unsupported" or "failed"')(
    lambda d: cell(d).update(status="weird"))
case("ok_without_replay", "cells[0].replay: missing")(lambda d: drop(cell(d), "replay"))
case("replay_array", "cells[0].replay: expected an object, found an array")(lambda d: cell(d).update(replay=[]))
case("failed_without_failure", "cells[0].failure: missing")(lambda d: cell(d).update(status="failed"))
case("unsupported_without_reason", "cells[0].reason: missing")(lambda d: cell(d).update(status="unsupported"))
case("id_not_coordinates", "cells[0].id: \"null|http1-static|t1|r9\" is not the cell's coordinates")(
    lambda d: cell(d).update(id=cell(d)["backend"] + "|http1-static|t1|r9"))
case("same_cell_twice", "cells[1].id: cell ")(lambda d: d["cells"].__setitem__(1, copy.deepcopy(cell(d))))
case("workload_not_in_config", 'cells[0].workload: "proxy" is not a workload of the run\'s config')(
    lambda d: cell(d).update(workload="proxy", id=f"{cell(d)['backend']}|proxy|t1|r{cell(d)['rep']}"))
case("backend_empty", "cells[0].backend: is empty")(
    lambda d: cell(d).update(backend="", id=f"|http1-static|t1|r{cell(d)['rep']}"))
case("backend_escape_codes", "cells[0].backend: holds a control character")(
    lambda d: cell(d).update(backend="\x1b[31mred\x1b[0m", id=f"\x1b[31mred\x1b[0m|http1-static|t1|r{cell(d)['rep']}"))
case("machine_unknown", "cells[0].machine: 1 is out of range (0 to 0)")(lambda d: cell(d).update(machine=1))
case("id_number", "cells[0].id: expected a string, found an integer")(lambda d: cell(d).update(id=5))

# -- figures of the wrong type or sign
case("ops_null", "cells[0].replay.ops: expected a whole number, found null")(lambda d: replay(d).update(ops=None))
case("wall_seconds_string", 'cells[0].replay.wall_seconds: expected a number, found a string "fast"')(
    lambda d: replay(d).update(wall_seconds="fast"))
case("busy_seconds_negative", "cells[0].replay.busy_seconds: -1 is out of range (at least 0)")(
    lambda d: replay(d).update(busy_seconds=-1))
case("ops_by_class_string", "cells[0].replay.ops_by_class: expected an object, found a string")(
    lambda d: replay(d).update(ops_by_class="alloc"))
case("mean_ns_null", "cells[0].replay.mean_ns.alloc: expected a number, found null")(
    lambda d: replay(d)["mean_ns"].update(alloc=None))
case("latency_not_object", "cells[0].replay.latency_ns.alloc: expected an object, found an integer")(
    lambda d: replay(d)["latency_ns"].update(alloc=12))
case("histogram_count_negative", "cells[0].replay.request_ns.count: -3 is out of range")(
    lambda d: replay(d)["request_ns"].update(count=-3))
case("bucket_triple", "cells[0].replay.latency_ns.alloc.buckets[0]: a bucket is [lower_ns, count]")(
    lambda d: replay(d)["latency_ns"]["alloc"].update(buckets=[[1, 2, 3]]))
case("clock_without_resolution", "cells[0].replay.clock.resolution_ns: missing")(
    lambda d: drop(replay(d)["clock"], "resolution_ns"))
case("memory_negative", "cells[0].replay.memory.peak_rss_bytes: -5 is out of range (at least 0)")(
    lambda d: replay(d)["memory"].update(peak_rss_bytes=-5))
case("timeline_row_short", "cells[0].replay.memory.timeline[1]: has 2 values for 6 columns")(
    lambda d: replay(d)["memory"]["timeline"].__setitem__(1, [1, 2]))
case("timeline_value_string", 'cells[0].replay.memory.timeline[0][2]: expected a number, found a string "big"')(
    lambda d: replay(d)["memory"]["timeline"][0].__setitem__(2, "big"))
case("timeline_without_rss", 'cells[0].replay.memory.timeline_columns: has no "rss_bytes" column')(
    lambda d: replay(d)["memory"].update(timeline_columns=["ops", "live_bytes", "x", "seconds", "heap_bytes",
                                                            "reserved_bytes"]))
case("fragmentation_string", "cells[0].replay.fragmentation: expected an object, found a string")(
    lambda d: replay(d).update(fragmentation="low"))
case("allocator_raw_string", "cells[0].replay.allocator.after_replay.raw: expected an object, found a string")(
    lambda d: replay(d)["allocator"]["after_replay"].update(raw="x"))
case("per_thread_numbers", "cells[0].replay.per_thread[0]: expected an object, found an integer")(
    lambda d: replay(d).update(per_thread=[1, 2]))
case("backend_stats_string", 'cells[0].replay.backend_stats.spills: expected a number, found a string "3"')(
    lambda d: replay(d).update(backend_stats={"spills": "3"}))

# -- allocator settings (a cell's malloc.settings; cells[1] is glibc, without settings)
case("settings_array", "cells[1].malloc.settings: expected an object, found an array")(
    lambda d: cell(d, 1)["malloc"].update(settings=[]))
case("settings_not_the_backends", 'cells[1].malloc.settings: holds "arena_max", which backend "glibc" does not set')(
    lambda d: cell(d, 1)["malloc"].update(settings={"arena_max": {"requested": "1", "verified": "1", "how": "x"}}))
case("settings_requested_number", "cells[1].malloc.settings.arena_max.requested: expected a string, found an integer")(
    lambda d: cell(d, 1)["malloc"].update(settings={"arena_max": {"requested": 1, "how": "x"}}))
case("settings_key_with_escape", "cells[1].malloc.settings: holds a key that is no setting name")(
    lambda d: cell(d, 1)["malloc"].update(settings={"a\u001b[31m": {"requested": "1", "how": "x"}}))


def main():
    bad = HERE / "bad"
    bad.mkdir(exist_ok=True)
    for old in bad.glob("*.json"):
        old.unlink()
    lines = ["# NAME<TAB>the start of the error alloclab must give after \"FILE: \" (written by make_bad_results.py)"]
    for name, data, expected in CASES:
        (bad / f"{name}.json").write_bytes(data)
        lines.append(f"{name}\t{expected}")
    (HERE / "expected.txt").write_text("\n".join(lines) + "\n")
    print(f"{len(CASES)} bad results files in {bad}")


if __name__ == "__main__":
    main()
