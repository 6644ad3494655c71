#!/usr/bin/env python3
"""Writes the corpus of malformed traces (bad/*.trace) and expected.txt.

Each file breaks one rule of workloads/FORMAT.md; expected.txt gives the
error the reader must report for it: "NAME<TAB>byte OFFSET: PROBLEM". The
regression test (trace_corpus_test.cpp) reads every file in bad/ and checks
the reader's message starts with that text. Rerun after a format change:
    python3 workloads/tests/corpus/make_bad_traces.py
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "bad")

ALLOC, FREE, RELEASE, REALLOC, OPEN, CLOSE, SIGNAL, WAIT, THINK = range(1, 10)
CONNECTION, REQUEST, CHILD = 0, 1, 2


def op(kind, a=0, b=0, c=0, align=0, aux=0):
    return struct.pack("<BBHIII", kind, align, aux, a, b, c)


def trace(threads, slots=None, scopes=0, edges=0, meta=b"{}", version=1, magic=b"ALCTRACE",
          op_count=None, counts=None, reserved=0):
    """threads: list of lists of packed ops."""
    n = sum(len(t) for t in threads)
    if slots is None:
        slots = 4
    head = magic + struct.pack("<IIIIIIQQ", version, len(threads), slots, scopes, edges, len(meta),
                               n if op_count is None else op_count, reserved)
    table = b"".join(struct.pack("<Q", len(t) if counts is None else counts[i]) for i, t in enumerate(threads))
    return head + table + meta + b"".join(b"".join(t) for t in threads)


def body_offset(threads, meta=b"{}"):
    return 48 + 8 * threads + len(meta)


cases = {}


def case(name, data, offset, problem):
    cases[name] = (data, f"byte {offset}: {problem}")


ok_ops = [op(ALLOC, 0, 64), op(FREE, 0), op(ALLOC, 1, 8), op(FREE, 1)]
b1 = body_offset(1)

case("empty", b"", 0, "file ends inside the 48-byte header")
case("truncated_header", trace([ok_ops])[:30], 30, "file ends inside the 48-byte header")
case("wrong_magic", trace([ok_ops], magic=b"ALCTRACX"), 0, "not an alloclab trace (wrong magic)")
case("unknown_version", trace([ok_ops], version=7), 8, "unknown version 7")
case("zero_threads", trace([], slots=0), 12, "thread count 0 outside 1..1024")
case("too_many_threads", trace([ok_ops])[:12] + struct.pack("<I", 5000) + trace([ok_ops])[16:], 12,
     "thread count 5000 outside 1..1024")
case("reserved_nonzero", trace([ok_ops], reserved=1), 40, "reserved field is not zero")
case("huge_metadata", trace([ok_ops])[:28] + struct.pack("<I", 1 << 30) + trace([ok_ops])[32:], 28,
     "metadata of 1073741824 bytes, above the limit of 1 MiB")
case("claims_1e12_ops", trace([ok_ops], op_count=10**12), 32,
     "header claims 1000000000000 ops but the file holds room for 4")
case("truncated_body", trace([ok_ops])[:-5], 32, "header claims 4 ops but the file holds room for 3")
case("trailing_bytes", trace([ok_ops]) + b"xx", b1 + 64, "file is")
case("thread_counts_disagree", trace([ok_ops, [op(ALLOC, 2, 8)]], counts=[4, 0]), 48,
     "per-thread op counts sum to 4, the header says 5")
case("thread_counts_overflow", trace([ok_ops, [op(ALLOC, 2, 8)]], counts=[2**64 - 1, 6]), 48,
     "per-thread op counts sum past the header's 5 ops")
case("slot_count_exceeds_ops", trace([ok_ops], slots=1000), 16, "slot count 1000 exceeds the op count 4")
case("edge_count_exceeds_ops", trace([ok_ops], edges=3), 24, "edge count 3 exceeds half the op count 4")
case("metadata_not_json", trace([ok_ops], meta=b"{nope}"), 48 + 8, "metadata is not a JSON object")
case("metadata_newline", trace([ok_ops], meta=b'{\n"a":1}'), 48 + 8, "metadata holds a control character")
meta_arr = b"[1,2]"
case("metadata_array", trace([ok_ops], meta=meta_arr), 48 + 8, "metadata is not a JSON object")

case("slot_out_of_range", trace([[op(ALLOC, 9, 8), op(FREE, 9), op(ALLOC, 0, 1), op(FREE, 0)]]), b1,
     "slot 9 out of range (the header declares 4 slots)")
case("free_never_allocated", trace([[op(ALLOC, 0, 8), op(FREE, 1), op(FREE, 0), op(THINK, b=1)]]), b1 + 16,
     "free of slot 1, which was never allocated")
case("double_free", trace([[op(ALLOC, 0, 8), op(FREE, 0), op(FREE, 0), op(THINK, b=1)]]), b1 + 32,
     "free of slot 0, which is already freed")
case("alloc_live_slot", trace([[op(ALLOC, 0, 8), op(ALLOC, 0, 8), op(FREE, 0), op(THINK, b=1)]]), b1 + 16,
     "alloc of slot 0, which is already live")
case("absurd_size", trace([[op(ALLOC, 0, 2**31), op(FREE, 0), op(THINK), op(THINK)]]), b1,
     "alloc of 2147483648 bytes, above the limit of 1 GiB")
case("absurd_realloc", trace([[op(ALLOC, 0, 8), op(REALLOC, 0, 2**32 - 1), op(FREE, 0), op(THINK)]]), b1 + 16,
     "realloc to 4294967295 bytes, above the limit of 1 GiB")
case("absurd_alignment", trace([[op(ALLOC, 0, 8, align=40), op(FREE, 0), op(THINK), op(THINK)]]), b1,
     "alignment 2^40 above the limit of 2^16")
case("unknown_op_kind", trace([[op(ALLOC, 0, 8), op(77, 0), op(FREE, 0), op(THINK)]]), b1 + 16,
     "unknown op kind 77")
case("nonzero_unused_field", trace([[op(ALLOC, 0, 8), op(FREE, 0, b=5), op(THINK), op(THINK)]]), b1 + 16,
     "free op has a nonzero unused field")
case("absurd_think", trace([[op(THINK, b=2 * 10**9), op(THINK), op(THINK), op(THINK)]]), b1,
     "think time of 2000000000 ns, above the limit of 1 s")

scoped = [op(OPEN, 0, aux=CONNECTION), op(ALLOC, 0, 32, c=1), op(CLOSE, 0), op(THINK)]
case("close_with_live_blocks", trace([scoped], scopes=1), b1 + 32,
     "close of scope 0 with 1 live blocks not released")
case("alloc_in_unopened_scope", trace([[op(ALLOC, 0, 32, c=2), op(FREE, 0), op(THINK), op(THINK)]], scopes=2), b1,
     "alloc in scope 1, which is not open")
case("scope_opened_twice", trace([[op(OPEN, 0), op(OPEN, 0), op(CLOSE, 0), op(THINK)]], scopes=1), b1 + 16,
     "scope 0 opened twice")
case("scope_never_closed", trace([[op(OPEN, 0), op(THINK), op(THINK), op(THINK)]], scopes=1), b1 + 64,
     "scope 0 never closed")
case("child_without_parent", trace([[op(OPEN, 0, aux=CHILD), op(CLOSE, 0), op(THINK), op(THINK)]], scopes=1), b1,
     "child scope 0 has no parent")
case("close_parent_before_child",
     trace([[op(OPEN, 0), op(OPEN, 1, aux=REQUEST, c=1), op(CLOSE, 0), op(CLOSE, 1)]], scopes=2), b1 + 32,
     "close of scope 0 while a child scope is open")
case("release_unscoped", trace([[op(ALLOC, 0, 8), op(RELEASE, 0), op(THINK), op(THINK)]]), b1 + 16,
     "release of slot 0, which belongs to no scope")
case("release_without_close",
     trace([[op(OPEN, 0), op(ALLOC, 0, 8, c=1), op(RELEASE, 0), op(THINK), op(CLOSE, 0), op(THINK)]], scopes=1),
     b1 + 48, "releases of scope 0 must be followed by its close")
case("scope_used_from_other_thread",
     trace([[op(OPEN, 0), op(SIGNAL, 0), op(WAIT, 1), op(CLOSE, 0)],
            [op(WAIT, 0), op(ALLOC, 0, 8, c=1), op(FREE, 0), op(SIGNAL, 1)]], scopes=1, edges=2),
     body_offset(2) + 64 + 16, "alloc in scope 0 of thread 0 from thread 1")

case("cross_thread_free_without_edge",
     trace([[op(ALLOC, 0, 8), op(THINK), op(THINK), op(THINK)], [op(THINK), op(FREE, 0), op(THINK), op(THINK)]]),
     body_offset(2) + 64 + 16, "slot 0 was last touched on thread 0 and no edge orders that before this op on thread 1")
case("deadlock",
     trace([[op(WAIT, 1), op(SIGNAL, 0), op(THINK), op(THINK)], [op(WAIT, 0), op(SIGNAL, 1), op(THINK), op(THINK)]],
           edges=2),
     body_offset(2), "deadlock: wait on edge 1, which no thread can signal any more")
case("signalled_twice", trace([[op(SIGNAL, 0), op(SIGNAL, 0), op(THINK), op(THINK)]], edges=1), b1 + 16,
     "edge 0 signalled twice")
case("edge_never_waited", trace([[op(SIGNAL, 0), op(THINK), op(THINK), op(THINK)]], edges=1), b1 + 64,
     "edge 0 never waited")

os.makedirs(OUT, exist_ok=True)
for old in os.listdir(OUT):
    os.remove(os.path.join(OUT, old))
with open(os.path.join(HERE, "expected.txt"), "w") as manifest:
    manifest.write("# NAME<TAB>the start of the error the reader must report (written by make_bad_traces.py)\n")
    for name, (data, expected) in sorted(cases.items()):
        with open(os.path.join(OUT, name + ".trace"), "wb") as f:
            f.write(data)
        manifest.write(f"{name}\t{expected}\n")
print(f"{len(cases)} bad traces in {OUT}")
