"""The report's "Real servers" section, from an `alloclab serve` document
(a ServeData view, serve_data.py): the servers' measurements per allocator,
the file's comparisons against the baseline allocator, whether the replay of
a server's captured allocations predicts its allocator order, and Node.js
garbage collection. Every figure is read from the file's ok cells (medians
over repetitions) or its comparisons and predictions; nothing is typed in.

serve_section() returns blocks as report.py's build() renders them:
("h", level, text), ("p", text), ("table", columns, rows), ("chart", chart)."""

from math import comb
from statistics import median

from measure import fmt
from serve_data import (GC_KINDS, collections, cpu_ns, fixed_latency, is_node, kind_of, minor_faults_per_request,
                        num, peak_rps, rss_fall, rss_growth, rss_over_load, vm_hwm_mib)
from serve_metrics import exact_one_sided_p, spearman

# The document's Memory-Speed Tradeoff Matrix rows and the serve labels that measure them.
MATRIX_SERVERS = {"nginx": "nginx", "h2o": "h2o", "HAProxy": "haproxy", "Apache": "apache", "Node.js": "node",
                  "Axum": "rust"}
COMPARED = (("peak_rps", "Peak req/s"), ("cpu_ns_per_request", "CPU per request"),
            ("fixed_p99_us", "Fixed-rate p99"), ("vm_hwm_kib", "VmHWM"))


def _f(v, unit=""):
    return fmt(v, unit) if v is not None else "–"


def _cpus(cpus):
    if not isinstance(cpus, list) or not cpus:
        return "?"
    s = "s" if len(cpus) > 1 else ""
    return f"CPU{s} {', '.join(str(c) for c in cpus)} ({len(cpus)} core{s})"


def _reps(n):
    return f"{n} repetition{'' if n == 1 else 's'}"


def setup_lines(serve):
    c, cfg = serve.context, serve.config
    body = cfg.get("body_bytes")
    page = (f"a {fmt(body / 1024)} KiB page ({body} bytes)" if isinstance(body, (int, float))
            else "a page of unknown size")
    rate = cfg.get("rate")
    rate_words = (f"{fmt(rate)} req/s" if isinstance(rate, (int, float)) and rate > 0 else
                  f"{fmt(100 * (cfg.get('rate_fraction') or 0))}% of each server's first measured peak")
    lines = [
        f"From {serve.source or 'the server results'}: measured {c.get('date', '?')} on {c.get('cpu_model', '?')}, "
        f"{c.get('kernel', '?')}, transparent huge pages `{c.get('thp', '?')}`, alloclab {c.get('git_revision', '?')}. "
        f"The servers ran on {_cpus(c.get('server_cpus'))}, the load generators on {_cpus(c.get('load_cpus'))}.",
        f"Every request fetches {page}. Load: {cfg.get('load_generator', '?')}; peak: {cfg.get('connections', '?')} "
        f"keep-alive connections, closed loop, {fmt(cfg.get('peak_s'))} s after {fmt(cfg.get('warmup_s'))} s of "
        f"warm-up; fixed rate: open loop at {rate_words} for {fmt(cfg.get('fixed_s'))} s, latency from each "
        f"request's due time (queueing counts). {_reps(cfg.get('reps'))} per server x allocator; "
        f"baseline allocator {serve.baseline}. Figures are medians over ok repetitions.",
    ]
    pk = c.get("server_packages")
    if isinstance(pk, str) and pk.strip():
        lines.append("Server packages: " + "; ".join(x.strip() for x in pk.strip().splitlines()) + ".")
    if serve.doc.get("complete") is not True:
        lines.append("The file is incomplete (`complete` is not true): the suite was stopped or still running; "
                     "only its finished cells are here.")
    return lines


def _kept_up(cells):
    flags = [c["fixed"].get("kept_up") for c in cells]
    yes = sum(1 for f in flags if f is True)
    return "yes" if yes == len(flags) else f"no ({yes} of {len(flags)} kept up)"


def measurements(serve):
    rows = []
    for s, a in serve.groups():
        cells = serve.cells(s, a)
        m = lambda fn: serve.median(s, a, fn)  # noqa: E731
        cpu = m(cpu_ns)
        offered = m(lambda c: num(c["fixed"].get("offered_rps")))
        rows.append([s, a, str(len(cells)), _f(m(peak_rps)), _f(cpu and cpu / 1000),
                     f"{_f(offered)}; {_kept_up(cells)}",
                     _f(m(lambda c: fixed_latency(c, "p50"))), _f(m(lambda c: fixed_latency(c, "p99"))),
                     _f(m(lambda c: fixed_latency(c, "p999"))), _f(m(vm_hwm_mib)),
                     _f(m(minor_faults_per_request))])
    return ["Server", "Allocator", "Reps ok", "Peak req/s (wrk)", "Server CPU µs per request (peak, user+sys)",
            "Fixed rate: offered req/s; kept up", "Fixed p50 µs", "Fixed p99 µs", "Fixed p99.9 µs", "VmHWM MiB",
            "Minor faults per request (peak)"], rows


def comparisons(serve):
    rows, smallest = [], []
    for s, a in serve.groups():
        if a == serve.baseline:
            continue
        row = [s, a]
        ns = None
        for metric, _ in COMPARED:
            x = serve.comparison(s, a, metric)
            if not x or not isinstance(x.get("ratio"), (int, float)):
                row.append("–")
                continue
            p = x.get("p")
            row.append(f"{fmt(x['ratio'])}× (p = {_f(p)})")
            ns = (x.get("n"), x.get("baseline_n"))
            if isinstance(x.get("smallest_possible_p"), (int, float)):
                smallest.append(x["smallest_possible_p"])
                ns = ns + (x["smallest_possible_p"],)
        row.append(f"{ns[0]} vs {ns[1]}" if ns else "–")
        row.append(_f(ns[2]) if ns and len(ns) > 2 else "–")
        rows.append(row)
    cols = ["Server", "Allocator"] + [f"{w} ÷ {serve.baseline}" for _, w in COMPARED] + ["Reps (vs baseline)",
                                                                                            "Smallest possible p"]
    return cols, rows, smallest


def _smallest_p(n):
    """The least two-sided Mann-Whitney p of n against n repetitions: the two orders with no overlap."""
    return 2 / comb(2 * n, n)


def p_note(serve, smallest):
    if not smallest:
        return "The file holds no comparisons."
    lo = min(smallest)
    sig = [x for x in serve.doc.get("comparisons") or []
           if isinstance(x.get("p"), (int, float)) and x["p"] < 0.05]
    text = (f"Ratios are this allocator's median ÷ the baseline's ({serve.baseline}); p is the two-sided "
            "Mann-Whitney p over the repetitions, from the file. ")
    if lo >= 0.05:
        n = next(k for k in range(1, 50) if _smallest_p(k) < 0.05)
        text += (f"With these repetitions the smallest p the test can give is {fmt(lo)}: no difference here can "
                 f"reach p < 0.05, however large; the ratios are descriptive. {n} repetitions a side (smallest p "
                 f"{fmt(_smallest_p(n))}) can test them.")
    else:
        text += (f"The smallest p these repetitions can give is {fmt(lo)}; {len(sig)} of "
                 f"{len(serve.doc.get('comparisons') or [])} comparisons have p < 0.05.")
    return text


def failed_rows(serve):
    return [[c.get("id", f"{c['server']}|{c['allocator']}"), str(c.get("failure", ""))[:300]] for c in serve.failed]


# ---- the replay against the server ----------------------------------------------------------------------------

def _rho_p_words(rho, n):
    p = exact_one_sided_p(rho, n)
    return p, (f"rho = {fmt(rho)}, n = {n}" + (f"; exact one-sided p = {fmt(p)}" if p is not None else ""))


def prediction_sentence(serve, pr):
    s = pr.get("server", "?")
    if pr.get("status") != "ok":
        return f"{s}: the prediction failed ({str(pr.get('failure', 'no reason given'))[:200]})."
    rho, n = pr.get("spearman"), pr.get("spearman_n") or 0
    allocs = [a for a in pr.get("allocators") or [] if isinstance(a, dict)]
    cpu = [a.get("server_cpu_ns_per_request") for a in allocs
           if isinstance(a.get("server_cpu_ns_per_request"), (int, float)) and a["server_cpu_ns_per_request"] > 0]
    base = next((a for a in allocs if a.get("allocator") == serve.baseline), allocs[0] if allocs else {})
    share = base.get("replay_share_of_server_cpu")
    share_words = (f"malloc and free are {fmt(100 * share)}% of its CPU per request under {base.get('allocator')}"
                   if isinstance(share, (int, float)) else "")
    spread = f"its CPU per request differs by {fmt(max(cpu) / min(cpu))}× across allocators" if len(cpu) >= 2 else ""
    if rho is None:
        return f"{s}: the replay cannot rank the allocators (one side has no spread; n = {n})."
    p, words = _rho_p_words(rho, n)
    if rho >= 1 - 1e-9:
        text = f"{s}: the replay orders the allocators as the server does ({words})"
    elif rho > 0 and p is not None and p < 0.05:
        text = f"{s}: the replay's order agrees with the server's ({words})"
    elif rho > 0:
        text = f"{s}: the replay's order agrees with the server's only in part ({words}, not below 0.05)"
    elif rho <= -1 + 1e-9:
        text = f"{s}: the replay orders the allocators in reverse of the server's order ({words})"
    else:
        text = f"{s}: the replay does not predict the server's order ({words})"
    tail = [w for w in (share_words, spread) if w]
    if tail:
        text += "; " + ", and ".join(tail)
    if rho < 1 - 1e-9 and isinstance(share, (int, float)) and share < 0.1:
        text += ", so differences in the server's CPU come from elsewhere"
    return text + "."


def predictions(serve):
    rows, sentences, ns = [], [], set()
    for pr in serve.predictions():
        s = pr.get("server", "?")
        first = True
        for a in pr.get("allocators") or []:
            share = a.get("replay_share_of_server_cpu")
            rho, n = pr.get("spearman"), pr.get("spearman_n")
            rows.append([s if first else "", a.get("allocator", "?"), _f(num(a.get("replay_ns_per_request"))),
                         _f(num(a.get("ops_per_request"))), _f(num(a.get("server_cpu_ns_per_request"))),
                         f"{fmt(100 * share)}%" if isinstance(share, (int, float)) else "–",
                         (f"{_f(rho)} (n = {n})" if first else "")])
            first = False
        if isinstance(pr.get("spearman_n"), int):
            ns.add(pr["spearman_n"])
        sentences.append(prediction_sentence(serve, pr))
    notes = []
    for n in sorted(ns):
        if 2 <= n <= 8:
            need = min((abs(r) for r in _attainable(n) if exact_one_sided_p(r, n) < 0.05), default=None)
            notes.append(f"With n = {n} allocators the exact one-sided p of rho is the share of the {_fact(n)} "
                         f"orders that agree at least as well: rho = 1 gives {fmt(1 / _fact(n))}"
                         + (f"; p < 0.05 needs |rho| ≥ {fmt(need)}." if need is not None
                            else "; no rho reaches p < 0.05."))
    return rows, sentences, notes


def _fact(n):
    out = 1
    for k in range(2, n + 1):
        out *= k
    return out


def _attainable(n):
    from itertools import permutations
    base = list(range(n))
    return sorted({round(spearman(base, list(p)), 9) for p in permutations(base)})


# ---- RSS over the load ----------------------------------------------------------------------------------------

def rss_rows(serve, kind="rust"):
    """Per allocator of the servers of one kind: RSS at the end of the warm-up and at the end of the load, the
    growth between them, and how far the series ends below its maximum, medians over repetitions."""
    rows = []
    for s, a in serve.groups(lambda c: kind_of(c) == kind):
        m = lambda fn: serve.median(s, a, fn)  # noqa: E731
        at = lambda i: m(lambda c: (rss_over_load(c) or (None, None, None))[i])  # noqa: E731
        growth, fall = m(rss_growth), m(rss_fall)
        rows.append([s, a, str(serve.reps(s, a)), _f(at(0)), _f(at(1)), _f(at(2)),
                     f"{'+' if growth > 0 else ''}{fmt(100 * growth)}%" if growth is not None else "–",
                     f"{fmt(100 * fall)}%" if fall is not None else "–"])
    return ["Server", "Allocator", "Reps ok", "RSS KiB at the end of the warm-up", "RSS KiB at the end of the load",
            "Seconds between", "Growth", "Last sample below the maximum"], rows


# ---- Node.js garbage collection -------------------------------------------------------------------------------

def gc_rows(serve):
    labels = [s for s in serve.servers if any(is_node(c) for a in serve.allocators for c in serve.cells(s, a))]
    rows = []
    for s in labels:
        cells, allocs = [], []
        for a in serve.allocators:
            got = serve.cells(s, a)
            if got:
                cells += got
                allocs.append(f"{a} ({len(got)})")
        gcs = [c.get("gc") or {} for c in cells]
        heap = [g["heap_used_max_mb"] for g in gcs if isinstance(g.get("heap_used_max_mb"), (int, float))]
        row = [s, ", ".join(allocs), f"{_f(median(heap) if heap else None)} (max {_f(max(heap) if heap else None)})"]
        for kind in GC_KINDS:
            per = [g.get(kind) for g in gcs if isinstance(g.get(kind), dict)]
            if not per:
                row.append("none")
                continue
            count = median([k.get("count") or 0 for k in per])
            mx = max((k.get("max_ms") or 0) for k in per)
            p50 = [k["p50_ms"] for k in per if isinstance(k.get("p50_ms"), (int, float))]
            row.append(f"{fmt(count)}; max {fmt(mx)} ms; p50 {_f(median(p50) if p50 else None)} ms")
        mc = [(x[4], x[2]) for c in cells for x in collections(c) if x[1] == "mark-compact"]
        row.append(f"{fmt(max(mc)[0])} ms at {fmt(max(mc)[1])} MB" if mc else "none seen")
        forced = [g["forced"] for g in gcs if isinstance(g.get("forced"), dict)]
        if forced:
            pauses = [f["pause_ms"] for f in forced]
            heaps = [f["heap_before_mb"] for f in forced]
            row.append(f"{fmt(median(pauses))} ms (max {fmt(max(pauses))}) at {fmt(median(heaps))} MB")
        else:
            row.append("not run")
        start = [g["startup_collections"] for g in gcs if isinstance(g.get("startup_collections"), (int, float))]
        row.append(_f(median(start) if start else None))
        rows.append(row)
    cols = ["Label", "Allocators (cells)", "Heap used max under load, MB: median (max)"]
    cols += [f"{k.capitalize()}s under load: count per cell; max; p50" for k in GC_KINDS]
    cols += ["Largest mark-compact at any time: pause at heap used before",
             "Forced full collection after the load (global.gc(), not incremental): median pause at heap used before",
             "Start-up collections per cell"]
    return cols, rows


def matrix_figures(serve):
    """{matrix row name: (server CPU ns per request, VmHWM MiB)} under the baseline allocator, for the document's
    Memory-Speed Tradeoff Matrix rows that a serve label measures."""
    out = {}
    for name, label in MATRIX_SERVERS.items():
        if serve.reps(label, serve.baseline):
            out[name] = (serve.median(label, serve.baseline, cpu_ns), serve.median(label, serve.baseline, vm_hwm_mib))
    return out


def serve_section(serve, gc_chart=None):
    blocks = [("h", 2, "Real servers")]
    blocks += [("p", line) for line in setup_lines(serve)]
    cols, rows = measurements(serve)
    blocks += [("h", 3, "Servers under each allocator"), ("table", cols, rows),
               ("p", "Peak: wrk's requests per second over the peak phase; server CPU: the server's process group's "
                     "user + system time over the peak phase ÷ its requests (/proc/PID/stat); fixed rate: the "
                     "open-loop generator's latency percentiles from each request's due time at the offered rate "
                     "(kept up: at least 95% of the due requests answered); VmHWM: each process's high-water RSS "
                     "summed at the end of the fixed phase; minor faults per request over the peak phase.")]
    cols, rows, smallest = comparisons(serve)
    if rows:
        blocks += [("h", 3, f"Against the baseline allocator ({serve.baseline})"), ("table", cols, rows),
                   ("p", p_note(serve, smallest))]
    prows, sentences, notes = predictions(serve)
    if prows or sentences:
        blocks += [("h", 3, "Does the replay predict the server?"),
                   ("p", "Each server's allocations were captured under the same load and replayed under every "
                         "allocator; the replay times only malloc and free, so it cannot see what an allocator does "
                         "to the rest of the server's time (cache and TLB misses in the server's own code, page "
                         "faults, system calls). Spearman's rho ranks the allocators by replay cost and by the "
                         "server's CPU per request."),
                   ("table", ["Server", "Allocator", "Replay ns per request", "Ops per request",
                              "Server CPU ns per request", "Replay share of server CPU", "Spearman rho (n)"], prows)]
        blocks += [("p", t) for t in sentences]
        blocks += [("p", n) for n in notes]
    rcols, rrows = rss_rows(serve)
    if rrows:
        blocks += [("h", 3, "Rust server memory over the load"), ("table", rcols, rrows),
                   ("p", "The server's RSS (VmRSS, sampled every 250 ms) at the first sample of the peak phase and "
                         "the last of the fixed-rate phase; growth is the second less the first as a share of the "
                         "first; the last column compares the series' last sample with its maximum over the whole "
                         "series (the warm-up included). Medians over repetitions. The load lasts seconds, so this is "
                         "the start of the curve the document draws for a long-running service (the claims ledger's "
                         "serve.rust_default_allocator_grows reads it).")]
    gcols, grows = gc_rows(serve)
    if grows:
        blocks += [("h", 3, "Node.js garbage collection"), ("table", gcols, grows),
                   ("p", "From V8's --trace-gc. Under load: collections after the server's first answer; "
                         "node:retain=MIB holds MIB of ~1 KiB objects for its life, built at start-up, so its large "
                         "mark-compacts may come before the load. Heap used is V8's, not RSS.")]
        if gc_chart is not None:
            blocks += [("p", f"Not drawn: {gc_chart['skipped']}")] if gc_chart.get("skipped") else [("chart", gc_chart)]
    failed = failed_rows(serve)
    if failed:
        blocks += [("h", 3, "Failed server cells"), ("table", ["Cell", "Failure"], failed)]
    return blocks
