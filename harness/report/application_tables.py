"""The report's section "What the allocator does to the application": the
application's own time beside the allocator's, the kernel's work (faults,
system time, huge pages), LIFO against FIFO reuse, aged heaps, what an idle
process gives back, and general allocators under settings of their own.
Each table says what its figures count and what they leave out; a section
whose figures the results lack says so (files from before replay.access,
replay.os, replay.age and replay.memory.idle)."""

import re

from application_metrics import (MIB, NULL, access_ns_per_request, age_figure, aged_pairs, alloc_mean_ns, backends,
                                 faults_per_kop, fill_ns_per_block, idle_curve, idle_figures, idle_workloads,
                                 main_workloads, med, memory_figure, net_ns_op, net_per_request, obtain_and_fill_ns,
                                 os_figure, peak_rss_growth, requests, results_have, settings_base)
from measure import fmt
from tables import faults_and_system_time

# A strategy with FIFO reuse (`pool:order=fifo@glibc`) and its LIFO twin (`pool@glibc`).
FIFO = re.compile(r"^(?P<strategy>[^:@\[]+):(?P<opts>[^@]*)@(?P<base>.+)$")
FIFO_OPTION = re.compile(r"(^|,)order=fifo(?=,|$)")


def _mib(v):
    return "–" if v is None else fmt(v / MIB)


def _ns(v):
    return "–" if v is None else fmt(v)


def _beside(fresh, aged, show):
    return f"{show(fresh)} → {show(aged)}"


def table(title, source, columns, rows, note):
    return {"title": title, "source": source, "columns": columns, "rows": rows, "note": note}


# ---- 1. allocator and access per request ----------------------------------------

ACCESS_NOTE = ("Allocator: time inside the backend (replay.allocator_seconds, every op class, batch-timed) per request "
               "of the trace (replay.access.requests), less the null backend's on the same workload (the harness's "
               "own loop and timer). Access: the application's use of the memory, timed apart from the allocator "
               "(replay.access.seconds per request): after each chain of allocations its new blocks are written "
               "(header, then one byte per further page, so first-touch page faults are in it) and before each chain "
               "that frees, the blocks it frees are read once more. The null backend's access is the floor: it hands "
               "out pieces of one small prefaulted ring that stays in cache, the best locality any allocator could "
               "give; access beyond it is what an allocator's placement costs the code around it (cache and TLB "
               "misses, faults). Left out: blocks allocated and freed inside one chain (about 1% of http-api's), "
               "every use of a block between its fill and its last read, and the server's own work. Medians over "
               "repetitions, one thread.")


def access_rows(data, w):
    """[[backend, net allocator, access, access beyond null's, sum]] and {backend: (net, access)}."""
    null_access = med(data, NULL, w, access_ns_per_request)
    rows, figures = [], {}
    for b in backends(data):
        if not data.reps(b, w):
            continue
        net, acc = net_per_request(data, b, w)
        if acc is None:
            continue
        if b == NULL:
            rows.append([f"{b} (the floor)", "0", _ns(acc), "0", _ns(acc)])
            continue
        beyond = acc - null_access if null_access is not None else None
        total = net + acc if net is not None else None
        figures[b] = (net, acc, total)
        rows.append([b, _ns(net), _ns(acc), _ns(beyond), _ns(total)])
    return rows, figures


def access_tables(data):
    out = []
    for w in main_workloads(data):
        if not any(requests(c) for b in backends(data) for c in data.ok_cells(b, w, 1)):
            continue  # no requests in the trace (or no access figures): nothing per request
        rows, figures = access_rows(data, w)
        if not rows:
            continue
        note = ""
        totals = {b: f[2] for b, f in figures.items() if f[2] is not None}
        if totals:
            lo, hi = min(totals, key=totals.get), max(totals, key=totals.get)
            accs = {b: f[1] for b, f in figures.items()}
            most = max(accs, key=accs.get)
            note = (f"Least allocator + access per request: {lo} ({fmt(totals[lo])} ns)"
                    + (f"; most: {hi} ({fmt(totals[hi])} ns). The most access time: {most} ({fmt(accs[most])} ns "
                       "per request)." if hi != lo else "."))
        null_access = med(data, NULL, w, access_ns_per_request)
        under = sorted(b for b, f in figures.items() if null_access is not None and f[1] < null_access)
        if under:
            reps = [access_ns_per_request(c) for c in data.ok_cells(NULL, w, 1)]
            reps = sorted(v for v in reps if v is not None)
            note += (f" The null backend's access is above that of {len(under)} "
                     f"backend{'s' if len(under) > 1 else ''} here ({', '.join(under)}): its ring stays in cache, "
                     "so access below it is more likely the "
                     f"spread between repetitions than better placement (null's own: {fmt(reps[0])}–{fmt(reps[-1])} "
                     "ns per request).")
        out.append(table(f"Allocator and access time per request ({w}, 1 thread)", "replay.allocator_seconds and "
                         "replay.access", ["Backend", "Allocator ns per request (net)", "Access ns per request",
                                           "Access beyond the null backend's", "Allocator + access"], rows, note))
    return out


# ---- 3. LIFO against FIFO -----------------------------------------------------

def reuse_pairs(data):
    """[(fifo backend, its lifo twin)] for backends named with order=fifo whose twin (the option removed) ran."""
    out = []
    for b in backends(data):
        m = FIFO.match(b)
        if not m or not FIFO_OPTION.search(m["opts"]):
            continue
        rest = FIFO_OPTION.sub("", m["opts"]).strip(",")
        twin = f"{m['strategy']}{':' + rest if rest else ''}@{m['base']}"
        if data.has_backend(twin):
            out.append((b, twin))
    return out


def reuse_table(data):
    pairs = reuse_pairs(data)
    if not pairs:
        return None
    rows = []
    for fifo, lifo in pairs:
        for w in data.workload_names:
            if not (data.reps(fifo, w) and data.reps(lifo, w)):
                continue
            figs = {}
            for b in (lifo, fifo):
                a = med(data, b, w, alloc_mean_ns)
                f = med(data, b, w, fill_ns_per_block)
                figs[b] = (a, f, obtain_and_fill_ns(data, b, w))
            if figs[lifo][2] is None or figs[fifo][2] is None:
                continue
            live = (data.workload_info(w) or {}).get("peak_live_bytes")
            ratio = figs[fifo][2] / figs[lifo][2] if figs[lifo][2] else None
            rows.append([w, _mib(live), f"{lifo} / {fifo}", f"{_ns(figs[lifo][0])} / {_ns(figs[fifo][0])}",
                         f"{_ns(figs[lifo][1])} / {_ns(figs[fifo][1])}", f"{_ns(figs[lifo][2])} / {_ns(figs[fifo][2])}",
                         f"{fmt(ratio)}×" if ratio is not None else "–"])
    if not rows:
        return None
    return table("LIFO against FIFO reuse (1 thread)", "replay.mean_ns.alloc and replay.access (the claim "
                 "pool.lifo_cache)", ["Workload", "Peak live, MiB", "LIFO / FIFO backend", "Alloc ns (LIFO / FIFO)",
                                      "Fill ns per block (LIFO / FIFO)", "Alloc + fill ns (LIFO / FIFO)",
                                      "FIFO ÷ LIFO"], rows,
                 "Alloc: the batch-timed mean of one allocation; fill: ns per block of the write that follows "
                 "allocation (replay.access.fill_seconds ÷ fill_blocks, first-touch faults included); both gross "
                 "(the harness's own share is in both backends alike). Their sum is what obtaining an object and "
                 "writing it first costs: the pool's free list is threaded through the free objects, so reusing one "
                 "reads its link inside allocate, and the fill then finds it cached; counting both captures that "
                 "first touch wherever it lands. The order can matter only where the free lists outgrow the cache "
                 "(peak live well above the 4 MiB L2); the claim pool.lifo_cache reads the rows of 4 MiB or more. Left out: the "
                 "read before free and every later use of the object. Medians over repetitions.")


# ---- 4. fresh against aged ------------------------------------------------------

def aged_table(data, aged, fresh):
    rows, kept = [], {}
    for b in backends(data):
        if not data.reps(b, aged) or med(data, b, aged, lambda c: age_figure(c, "bytes")) is None:
            continue
        base_a = med(data, b, aged, lambda c: memory_figure(c, "baseline_rss_bytes"))
        base_f = med(data, b, fresh, lambda c: memory_figure(c, "baseline_rss_bytes")) if fresh else None
        retained = med(data, b, aged, lambda c: age_figure(c, "retained_bytes"))
        held = base_a - base_f if base_a is not None and base_f is not None else None
        beyond = held - retained if held is not None and retained is not None else None
        if beyond is not None and b != NULL:
            kept[b] = beyond

        def both(fn, show):
            return _beside(med(data, b, fresh, fn) if fresh else None, med(data, b, aged, fn), show)
        ns_f = net_ns_op(data, b, fresh) if fresh else None
        ns_a = net_ns_op(data, b, aged)
        rows.append([b, _mib(held), _mib(retained), _mib(beyond), both(peak_rss_growth, _mib),
                     _beside(ns_f, ns_a, _ns), both(access_ns_per_request, _ns)])
    if not rows:
        return None
    age = data.workload_config(aged).get("age_bytes")
    sentence = ""
    if kept:
        top = max(kept, key=kept.get)
        sentence = (f" Of the general allocators here, {top} keeps most: {fmt(kept[top] / MIB)} MiB of the aged heap "
                    "stays resident after the forced release beyond the blocks still live"
                    + (f" (least: {min(kept, key=kept.get)}, {fmt(min(kept.values()) / MIB)} MiB)." if len(kept) > 1
                       else "."))
    fresh_words = f"the same trace on a fresh heap ({fresh})" if fresh else "no fresh twin in these results"
    return table(f"Fresh against aged heap ({aged}, 1 thread)", "replay.age and replay.memory",
                 ["Backend", "Baseline RSS aged − fresh, MiB", "Retained blocks, MiB",
                  "Beyond the retained blocks, MiB", "RSS growth over the replay, MiB (fresh → aged)",
                  "Allocator ns per op, net (fresh → aged)", "Access ns per request (fresh → aged)"], rows,
                 f"Before the replay, a churn of mixed sizes (16 B to 32 KiB) kept about "
                 f"{fmt((age or 0) / MIB)} MiB live until four times that was allocated, then freed all but one block "
                 "in 16, which stays live through the cell (retained). The baseline RSS is read after it and after "
                 "the forced release; aged − fresh is what the aged heap keeps resident that a fresh one does not, "
                 "and less the retained blocks, what the allocator keeps beyond the live data: the aged heap's "
                 "fragmentation (pages pinned by the scattered survivors, and caches the release does not empty). "
                 f"Fresh: {fresh_words}. The other columns compare the replay itself: its RSS growth, its net "
                 "allocator time (the null backend's on the same workload subtracted; – where null did not run it) "
                 "and the application's access time on the aged heap. The null backend runs the churn through the "
                 "process's own malloc (glibc), so its row is glibc's aged heap under the harness alone. Medians "
                 "over repetitions." + sentence)


# ---- 5. idle ------------------------------------------------------------------

def idle_table(data, w):
    rows = []
    for b in backends(data):
        f = idle_figures(data, b, w)
        if f is None:
            continue
        rows.append([b, _mib(f["start"]), _mib(f["end"]), _mib(f["floor"]), _mib(f["start"] - f["end"]),
                     _mib(f["end"] - f["floor"]), str(f["reps"])])
    if not rows:
        return None
    seconds = data.workload_config(w).get("idle_seconds")
    return table(f"Idle release ({w}, 1 thread)", "replay.memory.idle and replay.memory.floor_rss_bytes",
                 ["Backend", "RSS at idle start, MiB", "RSS at idle end, MiB", "Floor after forced release, MiB",
                  "Returned while idle, MiB", "Returned only by force, MiB", "Repetitions"], rows,
                 f"After the replay and the frees of the blocks still live, the worker sits idle for "
                 f"{fmt(seconds) if seconds else 'a while'} s (no allocator call) and reads RSS every 0.1 s; then the "
                 "allocator is asked to return its free memory (malloc_trim, jemalloc's arena purge, tcmalloc's "
                 "ReleaseFreeMemory, mi_collect) and the floor is read. Returned while idle: what the allocator gave "
                 "back on its own (a time-based decay, a background thread); returned only by force: what a process "
                 "that never calls the release keeps for as long as it stays idle. RSS counts the whole process (the "
                 "trace and the harness included), the same for every backend. Medians over repetitions.")


# ---- 6. settings ----------------------------------------------------------------

def settings_table(data):
    names = backends(data)
    tuned = [b for b in names if settings_base(b) and data.has_backend(settings_base(b))]
    if not tuned:
        return None
    rows = []
    for base in [b for b in names if b in {settings_base(t) for t in tuned}]:
        mine = [t for t in tuned if settings_base(t) == base]
        for w in data.workload_names:
            ran = [t for t in mine if data.reps(t, w)]
            if not data.reps(base, w) or not ran:
                continue
            for b in [base] + ran:
                rows.append([w, b, _ns(net_ns_op(data, b, w)), _ns(med(data, b, w, access_ns_per_request)),
                             _ns(med(data, b, w, faults_per_kop)), _mib(med(data, b, w, peak_rss_growth)),
                             _mib(med(data, b, w, lambda c: memory_figure(c, "floor_rss_bytes"))),
                             _mib(med(data, b, w, lambda c: os_figure(c, "anon_huge_bytes_peak")))])
    if not rows:
        return None
    return table("General allocators under their own settings (1 thread)", "backends named LIB[SETTINGS], beside LIB",
                 ["Workload", "Backend", "Allocator ns per op (net)", "Access ns per request",
                  "Minor faults per 1,000 ops", "Peak RSS growth, MiB", "Floor RSS, MiB",
                  "AnonHugePages at the RSS peak, MiB"], rows,
                 "Each allocator under settings of its own (LIB[SETTINGS]) beside the same library as it ships (LIB), "
                 "on the workloads both ran. Allocator time is net (the null backend's on the same workload "
                 "subtracted; – where null did not run it); access as in the table per request; faults and huge "
                 "pages from the kernel over the replay (replay.os); peak RSS growth over the baseline; floor after "
                 "the forced release. A setting that acts on a clock (a decay, a background thread) acts within the "
                 "replay's few seconds only. Medians over repetitions.")


# ---- the section ----------------------------------------------------------------

INTRO = ("The replay times what the allocator does to the code around it apart from the allocator itself: the "
         "application's writes and reads of the memory (replay.access), the kernel's page faults and CPU time over "
         "the replay (replay.os), a heap aged by earlier traffic (replay.age) and what an idle process gives back "
         "(replay.memory.idle). An allocator can be fast inside malloc and still cost the application more.")

LACKS = ("These results lack the figures (replay.access, replay.os, replay.age, replay.memory.idle): a file written "
         "before the replay timed the application's access.")


def _chart(blocks, charts, name):
    ch = (charts or {}).get(name)
    if ch is None:
        return
    blocks.append(("p", f"Not drawn: {ch['skipped']}") if ch.get("skipped") else ("chart", ch))


def _table(blocks, t, level=4):
    blocks.append(("h", level, t["title"]))
    blocks.append(("table", t["columns"], t["rows"]))
    if t["note"]:
        blocks.append(("p", t["note"]))


def application_section(data, charts=None):
    """The section's blocks (report.py's block kinds); charts: {name: chart entry} from application_charts.render."""
    blocks = [("h", 2, "What the allocator does to the application"), ("p", INTRO)]
    have_access = results_have(data, access_ns_per_request)
    have_os = results_have(data, faults_per_kop)
    if not have_access and not have_os and not results_have(data, idle_curve) \
            and not any(data.reps(b, w) for w, _ in aged_pairs(data) for b in backends(data)):
        blocks.append(("p", LACKS))
        return blocks

    blocks.append(("h", 3, "Allocator and access time per request"))
    tables = access_tables(data) if have_access else []
    if tables:
        blocks.append(("p", ACCESS_NOTE))
        _chart(blocks, charts, "access")
        for t in tables:
            _table(blocks, t)
    else:
        blocks.append(("p", "These results lack replay.access on the HTTP models (a file from before the access was "
                            "timed, or a run with touch none)."))

    blocks.append(("h", 3, "Page faults and system time beside allocator time"))
    if have_os:
        _chart(blocks, charts, "faults")
        t = faults_and_system_time(data)
        _table(blocks, t)
    else:
        blocks.append(("p", "These results lack replay.os (a file from before the kernel's counts were read)."))

    t = reuse_table(data)
    if t is not None:
        blocks.append(("h", 3, "LIFO against FIFO reuse"))
        _table(blocks, t)

    aged = aged_pairs(data)
    aged_tables = [t for t in (aged_table(data, a, f) for a, f in aged) if t is not None]
    if aged:
        blocks.append(("h", 3, "Fresh against aged heaps"))
        if aged_tables:
            for t in aged_tables:
                _table(blocks, t)
        else:
            blocks.append(("p", "These results lack replay.age (a file from before aged heaps)."))

    idle = [t for t in (idle_table(data, w) for w in idle_workloads(data)) if t is not None]
    if idle_workloads(data):
        blocks.append(("h", 3, "Idle release"))
        if idle:
            _chart(blocks, charts, "idle")
            for t in idle:
                _table(blocks, t)
        else:
            blocks.append(("p", "These results lack replay.memory.idle (a file from before the idle curve)."))

    t = settings_table(data)
    if t is not None:
        blocks.append(("h", 3, "Settings compared"))
        _table(blocks, t)
    return blocks
