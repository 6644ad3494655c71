"""The claims ledger: each claim (claims.json) names a metric, the basis it is
measured on and a rule; the verdict is computed here from a results file.
Nothing is typed in by hand: a claim whose metric cannot be computed from
the data is "inconclusive" and says why.

Uncertainty. Every figure carries a 95% percentile-bootstrap interval: the
metric is recomputed on RESAMPLES views of the results, each drawing every
backend x workload x threads group's repetitions with replacement
(Data.resample), so the interval covers the spread between repetitions of
every cell the figure reads (workloads are combined inside the metric, as
its basis says, in every resample alike). A figure that reads no cells (a
property of the trace) is exact. A figure read from groups with a single
repetition has no interval, and its claim is inconclusive.

A verdict holds only when the whole interval satisfies the rule, is refuted
only when the whole interval violates it, and is inconclusive otherwise
("the interval spans the bound"). An ordering holds when every pair of the
claimed order keeps its order in at least 97.5% of resamples, and is
refuted when some pair is reversed in at least 97.5% of them.

The server claims (serve_metrics.SERVE_KINDS) read the `alloclab serve`
document given with --serve (a ServeData view, whose resamples draw each
server x allocator group's repetitions alike); without one they are
inconclusive and say so."""

import random
import zlib
from dataclasses import dataclass

from metrics import METRICS, Missing, fmt
from scaling_metrics import SCALING_KINDS
from serve_metrics import SERVE_KINDS

RESAMPLES = 400
LEVEL = 0.95


def _quantile(sorted_vals, q):
    """Linear interpolation between closest ranks."""
    if not sorted_vals:
        return None
    pos = q * (len(sorted_vals) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (pos - lo)


def rule_words(rule, unit=""):
    if "range" in rule:
        lo, hi = rule["range"]
        return f"holds if within {fmt(lo)}–{fmt(hi, unit)}"
    if "at_least" in rule:
        return f"holds if ≥ {fmt(rule['at_least'], unit)}"
    if "at_most" in rule:
        return f"holds if ≤ {fmt(rule['at_most'], unit)}"
    if "about" in rule:
        return f"holds if within ±{rule.get('tolerance', 0.25):.0%} of {fmt(rule['about'], unit)}"
    if "order" in rule:
        return "holds if the measured order is the claimed one"
    raise ValueError(f"unknown rule {rule}")


def _bounds(rule):
    """The rule as an interval [a, b] of values that satisfy it."""
    if "range" in rule:
        return tuple(rule["range"])
    if "at_least" in rule:
        return rule["at_least"], float("inf")
    if "at_most" in rule:
        return float("-inf"), rule["at_most"]
    if "about" in rule:
        x, tol = rule["about"], rule.get("tolerance", 0.25)
        a, b = x * (1 - tol), x * (1 + tol)
        return min(a, b), max(a, b)
    raise ValueError(f"unknown rule {rule}")


def apply_rule(rule, lo, hi=None, unit=""):
    """holds / refuted / inconclusive for a figure whose interval is [lo, hi]
    (a single value when hi is None), and the rule in words."""
    hi = lo if hi is None else hi
    words = rule_words(rule, unit)
    if "order" in rule:
        raise ValueError("an ordering is judged by apply_order")
    a, b = _bounds(rule)
    if a <= lo and hi <= b:
        return "holds", words
    if hi < a or lo > b:
        return "refuted", words
    return "inconclusive", words


def pair_shares(claimed, samples):
    """For every pair (a, b) with a before b in the claimed order, the
    fraction of the sampled orders that put a before b."""
    shares = {}
    for i, a in enumerate(claimed):
        for b in claimed[i + 1:]:
            shares[(a, b)] = sum(1 for s in samples if s.index(a) < s.index(b)) / len(samples)
    return shares


def apply_order(rule, shares):
    """An ordering holds when every claimed pair is in the claimed order in
    at least 97.5% of resamples, and is refuted when some pair is reversed in
    at least 97.5% of them (a difference the data resolves, not noise among
    near-equal figures)."""
    words = rule_words(rule)
    hi = 1 - (1 - LEVEL) / 2
    if min(shares.values()) >= hi:
        return "holds", words
    if min(shares.values()) <= 1 - hi:
        return "refuted", words
    return "inconclusive", words


@dataclass
class Verdict:
    claim: dict
    verdict: str                  # holds | refuted | inconclusive
    measured: str                 # the figure with its interval, formatted
    value: object
    rule: str
    detail: str                   # how this run's figure was computed from what
    basis: str = ""               # what the metric counts and leaves out (claims.json)
    reason: str = ""              # for inconclusive
    interval: tuple = None        # (lo, hi) at LEVEL, or None
    reps: int = 0                 # the fewest repetitions among the groups the figure read
    machine: object = None        # the Data view the figure was read from (its context, its file)


def _rng(claim):
    return random.Random(zlib.crc32(claim["id"].encode()))


def _resample(fn, metric, data, claim):
    out, missing = [], 0
    rng = _rng(claim)
    for _ in range(RESAMPLES):
        try:
            out.append(fn(data.resample(rng), metric).value)
        except Missing:
            missing += 1
    return out, missing


def evaluate(claim, data):
    metric, rule = claim["metric"], claim["rule"]
    basis = metric.get("basis", "")
    scale = rule.get("scale", 1.0)
    fn = METRICS[metric["kind"]]
    data.touched = set()
    try:
        m = fn(data, metric)
    except Missing as e:
        v = Verdict(claim, "inconclusive", "n/a", None, rule_words(rule, rule.get("unit", "")), "", basis, str(e))
        v.machine = data
        return v
    unit = rule.get("unit", m.unit)
    reps = min((data.reps(*k) for k in data.touched), default=0)
    v = Verdict(claim, "inconclusive", "", m.value, "", m.detail, basis, reps=reps, machine=data)

    if "order" in rule:
        v.rule = rule_words(rule)
        v.measured = fmt(m.value)
        if not data.touched:
            v.verdict = "holds" if list(m.value) == list(rule["order"]) else "refuted"
            return v
        if reps < 2:
            v.reason = "one repetition per cell: no interval (run with --reps 3 or more)"
            return v
        samples, missing = _resample(fn, metric, data, claim)
        if missing > RESAMPLES * (1 - LEVEL):
            v.reason = f"the order could not be computed in {missing} of {RESAMPLES} resamples"
            return v
        shares = pair_shares(list(rule["order"]), samples)
        reversed_pairs = [f"{b} before {a}" for (a, b), s in shares.items() if s <= (1 - LEVEL) / 2]
        whole = sum(1 for s in samples if list(s) == list(rule["order"])) / len(samples)
        v.interval = (min(shares.values()), whole)
        v.measured += f" (the claimed order in {whole:.0%} of {len(samples)} resamples"
        more = f" and {len(reversed_pairs) - 3} more pairs" if len(reversed_pairs) > 3 else ""
        v.measured += f"; reversed in ≥97.5% of them: {', '.join(reversed_pairs[:3])}{more})" if reversed_pairs else ")"
        v.verdict, v.rule = apply_order(rule, shares)
        if v.verdict == "inconclusive":
            v.reason = "no claimed pair is reliably reversed, but not every pair reliably holds either"
        return v

    value = m.value * scale
    v.value = value
    if not data.touched:
        v.measured = f"{fmt(value, unit)} (exact)"
        v.verdict, v.rule = apply_rule(rule, value, None, unit)
    elif reps < 2:
        v.measured = fmt(value, unit)
        v.rule = rule_words(rule, unit)
        v.reason = "one repetition per cell: no interval (run with --reps 3 or more)"
        return v
    else:
        samples, missing = _resample(fn, metric, data, claim)
        if missing > RESAMPLES * (1 - LEVEL):
            v.measured = fmt(value, unit)
            v.rule = rule_words(rule, unit)
            v.reason = f"the figure could not be computed in {missing} of {RESAMPLES} resamples"
            return v
        samples = sorted(s * scale for s in samples)
        lo, hi = _quantile(samples, (1 - LEVEL) / 2), _quantile(samples, 1 - (1 - LEVEL) / 2)
        v.interval = (lo, hi)
        v.measured = f"{fmt(value, unit)} [{fmt(lo)}, {fmt(hi)}]"
        v.verdict, v.rule = apply_rule(rule, lo, hi, unit)
        if v.verdict == "inconclusive":
            v.reason = "the interval spans the bound"

    min_cores = rule.get("min_cores")
    if min_cores and data.cores < min_cores:
        v.verdict = "inconclusive"
        v.reason = (f"needs at least {min_cores} cores to test; this machine has {data.cores} "
                    "(the figure shown is at the thread counts that fit)")
    need = metric.get("requires_seconds")
    if need and v.verdict != "inconclusive" and m.span_seconds is not None and m.span_seconds < need:
        v.verdict = "inconclusive"
        v.reason = (f"the replay spent {fmt(m.span_seconds)} s between the peak and the trough; the policy acts "
                    f"on a {fmt(need)} s clock, so it could not act (needs a paced replay)")
    return v


def is_scaling(claim):
    return (claim.get("metric") or {}).get("kind") in SCALING_KINDS


def is_serve(claim):
    return (claim.get("metric") or {}).get("kind") in SERVE_KINDS


NO_SERVE = "no server results to test it: run alloclab serve -o FILE, then report --serve FILE"


def without_serve(claim):
    rule = claim["rule"]
    return Verdict(claim, "inconclusive", "n/a", None, rule_words(rule, rule.get("unit", "")), "",
                   claim["metric"].get("basis", ""), NO_SERVE)


def evaluate_all(claims, data, scaling=None, serve=None):
    """Every claim's verdict; the scaling claims read `scaling` (a view of a machine with enough cores, maybe
    another file's) when given, the server claims `serve` (a ServeData view; inconclusive without one), every
    other claim `data`."""
    out = []
    for c in claims:
        if is_serve(c):
            out.append(evaluate(c, serve) if serve is not None else without_serve(c))
        else:
            out.append(evaluate(c, scaling if scaling is not None and is_scaling(c) else data))
    return out
