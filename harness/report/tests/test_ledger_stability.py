"""The ledger's verdicts do not move between holds and refuted across two
runs that differ only in their seed (traces and cell order): the `ledger`
suite (the default suite's backends and claim experiments at a quarter of
the requests, three repetitions) twice, every claim evaluated on each.

A claim may be inconclusive in one run and decided in the other: an
interval that touches a bound is what inconclusive is for. Needs
ALLOCLAB_BIN (ctest sets it)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from data import Data  # noqa: E402
from ledger import evaluate_all  # noqa: E402

BIN = os.environ.get("ALLOCLAB_BIN")


@unittest.skipUnless(BIN, "ALLOCLAB_BIN is not set (run through ctest)")
class TwoSeeds(unittest.TestCase):
    def test_no_verdict_moves_between_holds_and_refuted(self):
        tmp = Path(tempfile.mkdtemp(prefix="alloclab-stability-"))
        try:
            claims = json.loads((HERE / "claims.json").read_text(encoding="utf-8"))["claims"]
            verdicts = []
            for seed in (1, 2):
                out = tmp / f"seed{seed}.json"
                run = subprocess.run([BIN, "run", "-q", "--suite", "ledger", "--seed", str(seed), "-o", str(out)],
                                     capture_output=True, text=True)
                self.assertIn(run.returncode, (0, 3), run.stderr)
                data = Data(json.loads(out.read_text(encoding="utf-8")))
                verdicts.append({v.claim["id"]: v for v in evaluate_all(claims, data)})
            decided = 0
            for cid, a in verdicts[0].items():
                b = verdicts[1][cid]
                if {a.verdict, b.verdict} == {"holds", "refuted"}:
                    self.fail(f"{cid}: {a.verdict} {a.measured} with seed 1, {b.verdict} {b.measured} with seed 2")
                decided += a.verdict != "inconclusive" and b.verdict != "inconclusive"
            # The test means something only if most claims are decided in both runs.
            self.assertGreaterEqual(decided, len(claims) // 2)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
