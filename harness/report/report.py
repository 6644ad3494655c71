"""alloclab report: turns a results file into DIR/report.md, a self-contained
DIR/report.html (charts embedded), DIR/charts/*.png|svg and DIR/verdicts.json
(the claims ledger with every verdict computed from the results).

Usage: report.py RESULTS.json -o DIR [--scaling MANYCORE.json] [--serve SERVE.json] [--claims claims.json]

The scaling claims, the scaling chart and the scaling tables read one
machine's thread sweep: --scaling's file when given (the machine in it with
the most cores; a file with fewer cores than the scaling claims' min_cores,
or with no thread sweep, is bad input: it was named to test them and
cannot), else the results file's machine with the most cores that has a
sweep. Every other figure reads the results file's first machine
(`context`); cells of other machines in a merged file are never pooled with
it. Each verdict names the machine and file its figure came from.
--serve names an `alloclab serve` document (real servers under each general
allocator): the report gains a "Real servers" section, a Node.js GC chart
and the real-server columns of the tradeoff matrix, and the server claims
read it (without it they are inconclusive); a malformed one is bad input.
Exit status: 0 written; 1 an internal error (ALLOCLAB_DEBUG=1 prints the
traceback); 2 bad input (unreadable or malformed results or claims) or DIR
cannot take the report (not a directory, not writable, full); 4 a missing
dependency (matplotlib); 130 interrupted. Every failure is one line on
standard error.

The report appears whole or not at all: every file is written and flushed
into a fresh folder DIR/.report.tmp.PID.XXXXXX, then renamed into place
(charts/, verdicts.json, report.md, report.html last). A failure removes that
folder and leaves DIR as it was; a folder left by a killed report (its PID
no longer runs) is removed by the next report into DIR.

The same input gives byte-identical output: nothing here reads the clock,
and charts.py fixes matplotlib's SVG ids and metadata."""

import argparse
import base64
import errno
import html
import json
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from data import Data, ResultsError, check_format, machine_contexts, machine_identity  # noqa: E402
from ledger import LEVEL, RESAMPLES, evaluate_all, is_scaling  # noqa: E402
from scaling_metrics import series  # noqa: E402
from serve_data import ServeData  # noqa: E402
from serve_tables import serve_section  # noqa: E402
from tables import all_tables  # noqa: E402

EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_MISSING_DEPENDENCY = 4
EXIT_INTERRUPTED = 130


class Refusal(Exception):
    """The one line that says why no report was written, and the exit status that goes with it."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


# ---- reading the input: any failure is bad input -----------------------------
# The C++ side checks the results file before it runs this script; these checks
# are the second line: a file that gets past them and still breaks a table or a
# chart is an internal error (exit 1), not a traceback.

def _kind(value):
    if isinstance(value, bool):
        return "true or false"
    for kinds, words in ((dict, "an object"), (list, "an array"), (str, "a string"), ((int, float), "a number")):
        if isinstance(value, kinds):
            return words
    return "null"


_IS = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "null": lambda v: v is None,
}


_A = {"object": "an object", "array": "an array", "string": "a string", "integer": "an integer",
      "number": "a number", "null": "null"}


def _need(value, where, *kinds):
    if not any(_IS[k](value) for k in kinds):
        raise ResultsError(f"{where} is {_kind(value)}, not {' or '.join(_A[k] for k in kinds)}")
    return value


def _need_key(obj, key, where, *kinds):
    """obj[key] of one of kinds; an absent key is an error unless "absent" is among kinds. where is "" at the top."""
    if key not in obj:
        if "absent" in kinds:
            return None
        raise ResultsError(f"{where or 'the file'} lacks \"{key}\"")
    return _need(obj[key], f"{where}.{key}" if where else key, *(k for k in kinds if k != "absent"))


def check_shape(results):
    """The containers the report walks have the types results/SCHEMA.md gives them (after check_format)."""
    context = _need_key(results, "context", "", "object")
    _need_key(context, "cores", "context", "integer", "null", "absent")
    for name, a in (_need_key(context, "allocators", "context", "object", "null", "absent") or {}).items():
        _need(a, f"context.allocators.{name}", "object")
    config = _need_key(results, "config", "", "object")
    for i, b in enumerate(_need_key(config, "backends", "config", "array", "null", "absent") or []):
        _need(b, f"config.backends[{i}]", "string")
    for i, t in enumerate(_need_key(config, "threads", "config", "array", "absent") or []):
        _need(t, f"config.threads[{i}]", "integer")
    for i, w in enumerate(_need_key(config, "workloads", "config", "array", "absent") or []):
        _need(w, f"config.workloads[{i}]", "object")
        _need_key(w, "name", f"config.workloads[{i}]", "string")
    for name, w in _need_key(results, "workloads", "", "object").items():
        _need(w, f"workloads.{name}", "object")
    for section in ("summaries", "scaling"):
        for i, s in enumerate(_need_key(results, section, "", "array", "absent") or []):
            _need(s, f"{section}[{i}]", "object")
    for i, s in enumerate(results.get("scaling") or []):
        _need_key(s, "backend", f"scaling[{i}]", "string")
        _need_key(s, "workload", f"scaling[{i}]", "string")
        for j, p in enumerate(_need_key(s, "points", f"scaling[{i}]", "array")):
            _need(p, f"scaling[{i}].points[{j}]", "object")
    for i, f in enumerate(_need_key(results, "failures", "", "array", "absent") or []):
        _need(f, f"failures[{i}]", "object")
        _need_key(f, "id", f"failures[{i}]", "string")
        _need_key(f, "failure", f"failures[{i}]", "object")
    for i, c in enumerate(_need_key(results, "cells", "", "array")):
        where = f"cells[{i}]"
        _need(c, where, "object")
        for key in ("backend", "workload", "status"):
            _need_key(c, key, where, "string")
        _need_key(c, "threads", where, "integer")
        _need_key(c, "rep", where, "integer")
        if c["status"] == "ok":
            _check_replay(_need_key(c, "replay", where, "object"), f"{where}.replay")


def _check_replay(r, where):
    for key in ("ops_by_class", "mean_ns", "seconds_by_class", "latency_ns", "request_ns", "clock",
                "backend_stats", "memory", "fragmentation", "allocator"):
        _need_key(r, key, where, "object", "null", "absent")
    for cls, h in (r.get("latency_ns") or {}).items():
        _need(h, f"{where}.latency_ns.{cls}", "object", "null")
    for cls, n in (r.get("ops_by_class") or {}).items():
        _need(n, f"{where}.ops_by_class.{cls}", "number", "null")
    mem = r.get("memory") or {}
    for key in ("timeline", "timeline_columns"):
        for j, row in enumerate(_need_key(mem, key, f"{where}.memory", "array", "null", "absent") or []):
            _need(row, f"{where}.memory.{key}[{j}]", "array" if key == "timeline" else "string")


def _reject_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def describe(e):
    """A short, one-line account of why a file could not be read."""
    if isinstance(e, ResultsError):
        text = str(e)
    elif isinstance(e, json.JSONDecodeError):
        text = f"not JSON: {e.msg} (line {e.lineno} column {e.colno})"
    elif isinstance(e, UnicodeDecodeError):
        text = f"not UTF-8 text (byte {e.start})"
    elif isinstance(e, RecursionError):
        text = "nested too deeply"
    elif isinstance(e, KeyError):
        text = f"lacks key {e.args[0]!r}" if e.args else "lacks a key"
    else:
        text = f"{type(e).__name__}: {e}"
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:197] + "..."


def read_json(path, what):
    """The document at path; a file that cannot be read or parsed is a Refusal."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise Refusal(EXIT_BAD_INPUT, f"{path}: cannot read the {what}: {e.strerror}")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except Exception as e:  # noqa: BLE001  (anything the parser raises is a malformed file)
        raise Refusal(EXIT_BAD_INPUT, f"{path}: malformed {what}: {describe(e)}")


def read_results(path):
    results = read_json(path, "results")
    try:
        check_format(results)
        check_shape(results)
        return results, Data(results, source=Path(path).name)
    except Exception as e:  # noqa: BLE001
        raise Refusal(EXIT_BAD_INPUT, f"{path}: malformed results: {describe(e)}")


def machine_views(results, path):
    """A Data view per machine identity in the file, in machine order."""
    seen, out = set(), []
    for k, c in enumerate(machine_contexts(results)):
        if machine_identity(c) not in seen:
            seen.add(machine_identity(c))
            out.append(Data(results, machine=k, source=Path(path).name))
    return out


def sweeps(views):
    """The views with a thread sweep, the most cores first (ties: machine order)."""
    with_sweep = [v for v in views if series(v)]
    return sorted(with_sweep, key=lambda v: -v.cores)


def scaling_view(results, path, claims, scaling_path=None):
    """The Data view the scaling claims, chart and tables read (report.py's docstring says which)."""
    if scaling_path is None:
        found = sweeps(machine_views(results, path))
        # None: the results file's own first machine, the one every other figure reads.
        return found[0] if found and found[0].machine != 0 else None
    other, _ = read_results(scaling_path)
    try:
        found = sweeps(machine_views(other, scaling_path))
    except ResultsError as e:
        raise Refusal(EXIT_BAD_INPUT, f"{scaling_path}: malformed results: {describe(e)}")
    if not found:
        raise Refusal(EXIT_BAD_INPUT, f"{scaling_path}: no thread sweep (a workload at 1 thread and at more) to "
                                      "take the scaling claims from")
    need = max((c["rule"].get("min_cores") or 0 for c in claims if is_scaling(c) and isinstance(c.get("rule"), dict)),
               default=0)
    if found[0].cores < need:
        raise Refusal(EXIT_BAD_INPUT, f"{scaling_path}: measured on {found[0].cores} cores; the scaling claims need "
                                      f"at least {need}")
    return found[0]


def read_serve(path):
    """A ServeData view of the `alloclab serve` document at path; anything malformed is a Refusal."""
    doc = read_json(path, "server results")
    try:
        return ServeData(doc, source=Path(path).name)
    except Exception as e:  # noqa: BLE001
        raise Refusal(EXIT_BAD_INPUT, f"{path}: malformed server results: {describe(e)}")


def read_claims(path):
    doc = read_json(path, "claims ledger")
    if not isinstance(doc, dict) or doc.get("format") != "alloclab-claims":
        raise Refusal(EXIT_BAD_INPUT, f"{path}: not an alloclab claims ledger")
    claims = doc.get("claims")
    if not isinstance(claims, list) or not all(isinstance(c, dict) for c in claims):
        raise Refusal(EXIT_BAD_INPUT, f"{path}: malformed claims ledger: \"claims\" is not an array of objects")
    return claims


# ---- writing DIR whole or not at all ------------------------------------------

# OSErrors that mean DIR cannot take the report (as opposed to a bug here).
WRITE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO,
                errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR, errno.ELOOP, errno.EEXIST,
                errno.EMLINK, errno.EBUSY, errno.ENOTEMPTY}
TMP_PREFIX = ".report.tmp."
TMP_NAME = re.compile(r"\.report\.tmp\.(\d+)\.")
# What a report puts in DIR, in the order it is renamed into place: report.html last,
# so a report.html newer than the rest never exists.
OUTPUTS = ("charts", "verdicts.json", "report.md", "report.html")


def make_folder(outdir: Path):
    """Creates outdir and any missing parents; returns the folders it created, outermost first."""
    if outdir.exists() and not outdir.is_dir():
        raise Refusal(EXIT_BAD_INPUT, f"{outdir} is not a directory")
    missing = []
    p = outdir
    while not os.path.lexists(p) and p != p.parent:
        missing.append(p)
        p = p.parent
    created = []
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            if not d.is_dir():
                raise Refusal(EXIT_BAD_INPUT, f"{d} is not a directory")
            continue
        created.append(d)
    if not stat.S_ISDIR(os.stat(outdir).st_mode):  # a symlink loop raises ELOOP here
        raise Refusal(EXIT_BAD_INPUT, f"{outdir} is not a directory")
    return created


def pid_alive(pid):
    if pid <= 0:
        return True  # not a pid this script writes: not ours to remove
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True  # PermissionError: it runs as another user
    return True


def remove_stale(outdir: Path):
    """Removes the temporary folders of reports into outdir that were killed before they could."""
    for entry in os.scandir(outdir):
        m = TMP_NAME.match(entry.name)
        if m and entry.is_dir(follow_symlinks=False) and not pid_alive(int(m.group(1))):
            shutil.rmtree(entry.path, ignore_errors=True)


def write_file(path: Path, data: bytes):
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def sync_tree(folder: Path):
    """fsync every file under folder (charts.py writes them): a rename must not publish data still in the cache."""
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def publish(tmp: Path, outdir: Path):
    """Renames tmp/NAME over outdir/NAME for every NAME in OUTPUTS, in order. The old ones are kept in tmp/old
    (a file by a hard link, so it never goes missing; charts/ by a rename) until all are in place; a failed
    rename puts every old one back. SIGINT and SIGTERM wait until it is done."""
    old, undone = tmp / "old", tmp / "undone"
    old.mkdir()
    undone.mkdir()
    started = []
    mask = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, mask)
    try:
        for name in OUTPUTS:
            target, backup = outdir / name, old / name
            if os.path.lexists(target):
                if target.is_dir() and not target.is_symlink() and name != "charts":
                    raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(target))
                if name == "charts":
                    os.rename(target, backup)
                else:
                    try:
                        os.link(target, backup, follow_symlinks=False)
                    except OSError:
                        os.rename(target, backup)  # no hard links here: absent for a moment
            started.append(name)
            os.replace(tmp / name, target)
    except BaseException:
        for name in reversed(started):
            target, backup = outdir / name, old / name
            try:
                if os.path.lexists(target):
                    os.rename(target, undone / name)
                if os.path.lexists(backup):
                    os.rename(backup, target)
            except OSError:
                pass
        raise
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def write_report(outdir: Path, draw):
    """Calls draw(folder), which writes every output into folder, then publishes them into outdir; on any failure
    outdir is left as it was (folders this call created are removed again)."""
    created = make_folder(outdir)
    tmp = None
    try:
        remove_stale(outdir)
        tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}.", dir=outdir))
        result = draw(tmp)
        sync_tree(tmp)
        publish(tmp, outdir)
        return result
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp = None
        for d in reversed(created):
            try:
                d.rmdir()
            except OSError:
                pass
        raise
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


# ---- the document, as blocks both writers render ---------------------------
# ("h", level, text) ("p", text) ("table", columns, rows) ("chart", chart) ("list", items)


def context_lines(data):
    c, cfg = data.context, data.config
    allocs = ", ".join(f"{k} {v.get('version', '?')}" for k, v in sorted(c.get("allocators", {}).items()))
    return [
        f"Measured {c.get('date', '?')} on {c.get('cpu_model', '?')} ({c.get('cores', '?')} usable cores, "
        f"{c.get('memory_bytes', 0) / 2**30:.0f} GiB), {c.get('kernel', '?')}, {c.get('compiler', '?')} "
        f"{c.get('build', '?')} build{' (sanitized: timings not comparable)' if c.get('sanitized') else ''}, "
        f"alloclab {c.get('git_revision', '?')}.",
        f"Allocators: {allocs or 'none reported'}.",
        f"Suite `{cfg.get('suite')}`: {len(data.backends)} backends × {len(data.workload_names)} workloads × "
        f"threads {', '.join(map(str, cfg.get('threads', [])))} × {cfg.get('reps')} repetitions; "
        f"touch `{cfg.get('touch')}`, 1 op in {cfg.get('sample_one_in')} timed alone, seed {cfg.get('seed')}. "
        f"{data.results.get('cells_ok', 0)} cells ok, {data.results.get('cells_unsupported', 0)} unsupported, "
        f"{data.results.get('cells_failed', 0)} failed.",
    ]


def timer_floor(data):
    vals = sorted(c["replay"]["clock"]["resolution_ns"] for c in data.cells
                  if c["status"] == "ok" and "clock" in c.get("replay", {}))
    return vals[len(vals) // 2] if vals else None


def scaling_lines(data, scaling):
    lines = []
    if data.other_machine_cells:
        lines.append(f"{data.other_machine_cells} cells of this file were measured on other machines "
                     f"({len(machine_contexts(data.results)) - 1} other contexts); they are not pooled with this "
                     "machine's, and only the scaling figures may read one of them (below).")
    if scaling is not None and scaling is not data:
        kinds = sorted({s.kind for s in series(scaling)})
        lines.append(f"Scaling figures (the scaling claims, the scaling chart and tables) come from "
                     f"{scaling.machine_words()}: {scaling.context.get('cores', '?')} usable cores, "
                     f"{' and '.join(kinds)} scaling, {len(scaling.cells)} cells.")
    # Where the sweep's threads ran: unpinned, a replay of milliseconds
    # measures how soon the scheduler spreads them as much as the allocator.
    source = scaling if scaling is not None else data
    if len(source.thread_counts) > 1:
        if source.config.get("pin"):
            lines.append("Thread sweeps ran pinned: each replay thread on a CPU of its own (`run --pin`).")
        else:
            lines.append("Thread sweeps ran unpinned: a replay lasts milliseconds, and unpinned threads start where "
                         "the scheduler puts them, which lowers every backend's efficiency, null's included "
                         "(README, thread sweeps); `run --pin` binds each to a CPU of its own.")
    return lines


def build(data, verdicts, tables, charts, scaling=None, serve_blocks=(), application_blocks=()):
    blocks = [("h", 1, "alloclab report")]
    blocks += [("p", line) for line in context_lines(data) + scaling_lines(data, scaling)]
    floor = timer_floor(data)
    if floor is not None:
        blocks.append(("p", f"Timer: a single timed op reads as 0 below {floor:.1f} ns (the clock's resolution); "
                            "means come from batches and are unbiased below it."))

    counts = Counter(v.verdict for v in verdicts)
    blocks.append(("h", 2, "Claims ledger"))
    blocks.append(("p", f"{len(verdicts)} claims: {counts.get('holds', 0)} hold, {counts.get('refuted', 0)} refuted, "
                        f"{counts.get('inconclusive', 0)} inconclusive. Each verdict is computed from this run's "
                        "results by the rule shown (harness/report/claims.json, harness/report/ledger.py). "
                        f"Measured: the figure and its {LEVEL:.0%} interval in brackets (percentile bootstrap over "
                        f"repetitions, {RESAMPLES} resamples; workloads are combined as the basis says). A verdict "
                        "holds only when the whole interval satisfies the rule and is refuted only when the whole "
                        "interval violates it. Times are net: the null backend's time on the same workload (the "
                        "harness's own cost) is subtracted. Memory is RSS growth, the null backend's subtracted. "
                        "The real-server claims (node.*, serve.*) read the file given with --serve (alloclab serve), "
                        "bootstrapping each server × allocator's repetitions; without one they are inconclusive."))
    rows = []
    for v in verdicts:
        c = v.claim
        why = v.rule + (f"; inconclusive: {v.reason}" if v.reason else "")
        rows.append([c["id"], c["claim"], f"{c['source']} § {c['section']}", v.measured, v.verdict.upper(),
                     why, v.basis, v.detail, v.machine.machine_words() if v.machine is not None else ""])
    blocks.append(("table", ["Claim", "Words", "Source", "Measured [95% interval]", "Verdict", "Rule / reason",
                             "Basis: what the figure counts", "This run", "Machine"], rows))

    blocks.append(("h", 2, "The document's comparisons, measured"))
    for t in tables:
        blocks.append(("h", 3, t["title"]))
        blocks.append(("p", f"Source: {t['source']}."))
        blocks.append(("table", t["columns"], t["rows"]))
        blocks.append(("p", t["note"]))

    blocks += list(application_blocks)
    blocks += list(serve_blocks)

    blocks.append(("h", 2, "Charts"))
    for ch in charts:
        blocks.append(("h", 3, ch["title"]))
        if ch.get("skipped"):
            blocks.append(("p", f"Not drawn: {ch['skipped']}"))
        else:
            blocks.append(("chart", ch))

    fails = data.results.get("failures", [])
    if fails:
        blocks.append(("h", 2, "Failed cells"))
        blocks.append(("table", ["Cell", "Kind", "Reason"],
                       [[f["id"], f["failure"].get("kind", "?"), f["failure"].get("reason", "")] for f in fails]))
    return blocks


def md_escape(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_md(blocks):
    out = []
    for b in blocks:
        if b[0] == "h":
            out.append("#" * b[1] + " " + b[2])
        elif b[0] == "p":
            out.append(b[1])
        elif b[0] == "table":
            cols, rows = b[1], b[2]
            out.append("| " + " | ".join(md_escape(c) for c in cols) + " |")
            out.append("|" + "---|" * len(cols))
            out += ["| " + " | ".join(md_escape(x) for x in r) + " |" for r in rows]
        elif b[0] == "chart":
            ch = b[1]
            out.append(f"![{ch['title']}]({ch['png']})")
            out.append(f"{ch['caption']} ([SVG]({ch['svg']}))")
        out.append("")
    return "\n".join(out)


CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:13px}th,td{border:1px solid #ccc;padding:3px 6px;
vertical-align:top;text-align:left}th{background:#f2f2f2}img{max-width:100%;border:1px solid #eee}
.holds{background:#e3f4e1}.refuted{background:#fbe3e1}.inconclusive{background:#f4f1dc}figcaption{color:#555}"""


def render_html(blocks, folder: Path):
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', "<title>alloclab report</title>",
           f"<style>{CSS}</style></head><body>"]
    e = html.escape
    for b in blocks:
        if b[0] == "h":
            out.append(f"<h{b[1]}>{e(b[2])}</h{b[1]}>")
        elif b[0] == "p":
            out.append(f"<p>{e(b[1])}</p>")
        elif b[0] == "table":
            out.append("<table><thead><tr>" + "".join(f"<th>{e(str(c))}</th>" for c in b[1]) + "</tr></thead><tbody>")
            for r in b[2]:
                verdict = next((x.lower() for x in r if str(x) in ("HOLDS", "REFUTED", "INCONCLUSIVE")), "")
                cls = f' class="{verdict}"' if verdict else ""
                out.append(f"<tr{cls}>" + "".join(f"<td>{e(str(x))}</td>" for x in r) + "</tr>")
            out.append("</tbody></table>")
        elif b[0] == "chart":
            ch = b[1]
            png = base64.b64encode((folder / ch["png"]).read_bytes()).decode("ascii")
            out.append(f'<figure><img alt="{e(ch["title"])}" src="data:image/png;base64,{png}">'
                       f"<figcaption>{e(ch['caption'])}</figcaption></figure>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def verdicts_json(verdicts):
    return {"format": "alloclab-verdicts", "version": 1,
            "verdicts": [{"id": v.claim["id"], "source": v.claim["source"], "section": v.claim["section"],
                          "claim": v.claim["claim"], "verdict": v.verdict, "measured": v.measured,
                          "value": v.value, "interval": list(v.interval) if v.interval else None,
                          "level": LEVEL, "fewest_reps": v.reps, "rule": v.rule, "basis": v.basis,
                          "how": v.detail, "reason": v.reason, "machine": machine_json(v.machine)}
                         for v in verdicts]}


def machine_json(data):
    """Which machine and file a verdict's figure came from."""
    if data is None:
        return None
    c = data.context
    return {"file": data.source, "cpu_model": c.get("cpu_model"), "cores": c.get("cores"), "date": c.get("date"),
            "kernel": c.get("kernel"), "memory_bytes": c.get("memory_bytes")}


def draw_report(folder: Path, results, data, claims, scaling=None, serve=None):
    """Writes every output into folder; returns (verdicts, charts) for the summary line."""
    from application_charts import render as render_application
    from application_tables import application_section
    from charts import render

    verdicts = evaluate_all(claims, data, scaling, serve)
    tables = all_tables(data, scaling, serve)
    charts = render(data.own_results(), folder, scaling if scaling is not None else data)
    application_charts = render_application(data, folder, data.own_results())  # shown in their own section
    application_blocks = application_section(data, application_charts)
    serve_blocks, serve_charts = [], []
    if serve is not None:
        from serve_charts import render_gc

        serve_charts = [render_gc(serve, folder)]  # shown in the Real servers section, not under Charts
        serve_blocks = serve_section(serve, serve_charts[0])
    blocks = build(data, verdicts, tables, charts, scaling, serve_blocks, application_blocks)
    write_file(folder / "verdicts.json",
               (json.dumps(verdicts_json(verdicts), indent=1, ensure_ascii=False) + "\n").encode())
    write_file(folder / "report.md", render_md(blocks).encode())
    write_file(folder / "report.html", render_html(blocks, folder).encode())
    return verdicts, charts + list(application_charts.values()) + serve_charts


def run(args):
    results, data = read_results(args.results)
    claims = read_claims(args.claims)
    scaling = scaling_view(results, args.results, claims, args.scaling)
    serve = read_serve(args.serve) if args.serve else None
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise Refusal(EXIT_MISSING_DEPENDENCY, f"matplotlib is missing for {sys.executable} "
                                               "(Debian: apt-get install python3-matplotlib)")
    outdir = Path(args.output)
    try:
        verdicts, charts = write_report(outdir, lambda folder: draw_report(folder, results, data, claims, scaling,
                                                                                serve))
    except OSError as e:
        if e.errno not in WRITE_ERRNOS:
            raise
        raise Refusal(EXIT_BAD_INPUT, f"cannot write {args.output}: {e.strerror}")
    counts = Counter(v.verdict for v in verdicts)
    print(f"{outdir / 'report.html'}: {len(verdicts)} claims ({counts.get('holds', 0)} hold, "
          f"{counts.get('refuted', 0)} refuted, {counts.get('inconclusive', 0)} inconclusive), "
          f"{sum(1 for c in charts if not c.get('skipped'))} charts")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="alloclab report", description=__doc__.split("\n\n")[0])
    ap.add_argument("results")
    ap.add_argument("-o", "--output", required=True, help="output folder")
    ap.add_argument("--scaling", help="results file the scaling claims, chart and tables read (a many-core machine)")
    ap.add_argument("--serve", help="alloclab serve document: the real-server section, GC chart and claims read it")
    ap.add_argument("--claims", default=str(HERE / "claims.json"))
    args = ap.parse_args(argv)
    try:
        run(args)
    except Refusal as e:
        print(f"alloclab report: {e}", file=sys.stderr)
        return e.status
    except KeyboardInterrupt:
        print(f"alloclab report: interrupted; {args.output} is as it was", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:  # noqa: BLE001  (a bug here: one line, the traceback on request)
        if os.environ.get("ALLOCLAB_DEBUG") == "1":
            traceback.print_exc()
        text = " ".join(str(e).split())
        print(f"alloclab report: internal error: {type(e).__name__}{': ' + text if text else ''} "
              "(ALLOCLAB_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_INTERNAL
    return 0


if __name__ == "__main__":
    sys.exit(main())
