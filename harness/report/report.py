"""alloclab report: turns a results file into DIR/report.md, a self-contained
DIR/report.html (charts embedded), DIR/charts/*.png|svg and DIR/verdicts.json
(the claims ledger with every verdict computed from the results).

Usage: report.py RESULTS.json -o DIR [--claims claims.json]
Exit status: 0 written; 2 bad input (unreadable or malformed results or
claims); 4 a missing dependency (matplotlib). Every file is written to a
temporary name and renamed into place, so a failed run leaves no half file.

The same input gives byte-identical output: nothing here reads the clock,
and charts.py fixes matplotlib's SVG ids and metadata."""

import argparse
import base64
import html
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from data import Data, ResultsError  # noqa: E402
from ledger import LEVEL, RESAMPLES, evaluate_all  # noqa: E402
from tables import all_tables  # noqa: E402

EXIT_BAD_INPUT = 2
EXIT_MISSING_DEPENDENCY = 4


def fail(status, message):
    print(f"alloclab report: {message}", file=sys.stderr)
    sys.exit(status)


def write_atomically(path: Path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".tmp.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


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
    vals = sorted(c["replay"]["clock"]["resolution_ns"] for c in data.results["cells"]
                  if c["status"] == "ok" and "clock" in c.get("replay", {}))
    return vals[len(vals) // 2] if vals else None


def build(data, verdicts, tables, charts):
    blocks = [("h", 1, "alloclab report")]
    blocks += [("p", line) for line in context_lines(data)]
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
                        "harness's own cost) is subtracted. Memory is RSS growth, the null backend's subtracted."))
    rows = []
    for v in verdicts:
        c = v.claim
        why = v.rule + (f"; inconclusive: {v.reason}" if v.reason else "")
        rows.append([c["id"], c["claim"], f"{c['source']} § {c['section']}", v.measured, v.verdict.upper(),
                     why, v.basis, v.detail])
    blocks.append(("table", ["Claim", "Words", "Source", "Measured [95% interval]", "Verdict", "Rule / reason",
                             "Basis: what the figure counts", "This run"], rows))

    blocks.append(("h", 2, "The document's comparisons, measured"))
    for t in tables:
        blocks.append(("h", 3, t["title"]))
        blocks.append(("p", f"Source: {t['source']}."))
        blocks.append(("table", t["columns"], t["rows"]))
        blocks.append(("p", t["note"]))

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


def render_html(blocks, outdir: Path):
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
            png = base64.b64encode((outdir / ch["png"]).read_bytes()).decode("ascii")
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
                          "how": v.detail, "reason": v.reason}
                         for v in verdicts]}


def load_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        fail(EXIT_BAD_INPUT, f"cannot read {what} {path}: {e.strerror}")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        fail(EXIT_BAD_INPUT, f"{path} is not valid JSON: {e}")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="alloclab report", description=__doc__.split("\n\n")[0])
    ap.add_argument("results")
    ap.add_argument("-o", "--output", required=True, help="output folder")
    ap.add_argument("--claims", default=str(HERE / "claims.json"))
    args = ap.parse_args(argv)

    results = load_json(args.results, "results file")
    try:
        data = Data(results)
    except ResultsError as e:
        fail(EXIT_BAD_INPUT, f"{args.results}: {e}")
    claims_doc = load_json(args.claims, "claims ledger")
    if claims_doc.get("format") != "alloclab-claims":
        fail(EXIT_BAD_INPUT, f"{args.claims} is not an alloclab claims ledger")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        fail(EXIT_MISSING_DEPENDENCY, f"matplotlib is missing for {sys.executable} "
                                      "(Debian: apt-get install python3-matplotlib)")
    from charts import render

    outdir = Path(args.output)
    outdir.mkdir(parents=True, exist_ok=True)
    verdicts = evaluate_all(claims_doc["claims"], data)
    tables = all_tables(data)
    charts = render(results, outdir)
    blocks = build(data, verdicts, tables, charts)
    write_atomically(outdir / "verdicts.json",
                     (json.dumps(verdicts_json(verdicts), indent=1, ensure_ascii=False) + "\n").encode())
    write_atomically(outdir / "report.md", render_md(blocks).encode())
    write_atomically(outdir / "report.html", render_html(blocks, outdir).encode())
    counts = Counter(v.verdict for v in verdicts)
    print(f"{outdir / 'report.html'}: {len(verdicts)} claims ({counts.get('holds', 0)} hold, "
          f"{counts.get('refuted', 0)} refuted, {counts.get('inconclusive', 0)} inconclusive), "
          f"{sum(1 for c in charts if not c.get('skipped'))} charts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
