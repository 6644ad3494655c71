"""report.py against hostile input and hostile output folders: every failure is
one line on stderr with exit 2 (1 for a bug, 130 for an interrupt), never a
traceback, and DIR gets the whole report or keeps what it had.

ReportOutput needs ALLOCLAB_BIN (ctest sets it) for one small real run; the
full and read-only filesystems are tmpfs mounts (root; skipped where mount
is refused). ReportInProcess needs nothing."""

import contextlib
import io
import json
import os
import signal
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path
from unittest import mock

HERE = Path(__file__).resolve().parents[1]
REPORT = HERE / "report.py"
BIN = os.environ.get("ALLOCLAB_BIN")
OUTPUTS = ("report.md", "report.html", "verdicts.json")

sys.path.insert(0, str(HERE))

import report  # noqa: E402


def snapshot(folder: Path):
    """{relative path: bytes} of every file under folder, and the folders as None."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def temporaries(folder: Path):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".report.tmp."))


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


@unittest.skipUnless(BIN, "ALLOCLAB_BIN is not set (run through ctest)")
class ReportOutput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="alloclab-report-output-"))
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)  # also when the run below fails
        cls.results = cls.tmp / "results.json"
        run = subprocess.run([BIN, "run", "-q", "--backends", "null,glibc", "--workloads", "http1-static",
                              "--threads", "1", "--reps", "2", "--requests", "200", "-o", str(cls.results)],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr

    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(dir=self.tmp))
        self.mounts = []

    def tearDown(self):
        for m in reversed(self.mounts):
            if subprocess.run(["umount", str(m)], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", str(m)], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def report(self, out, results=None, env=None):
        return subprocess.run([sys.executable, str(REPORT), str(results or self.results), "-o", str(out)],
                              capture_output=True, text=True, env=env)

    def assertOneLine(self, s, status, *words):
        self.assertEqual(s.returncode, status, s.stderr)
        self.assertNotIn("Traceback", s.stderr)
        lines = s.stderr.splitlines()
        self.assertEqual(len(lines), 1, s.stderr)
        self.assertTrue(lines[0].startswith("alloclab report: "), lines[0])
        for w in words:
            self.assertIn(w, lines[0])

    def tmpfs(self, size, *options):
        """A fresh tmpfs of size bytes; skips the test where mount is refused (not root, no CAP_SYS_ADMIN)."""
        m = Path(tempfile.mkdtemp(dir=self.dir))
        opts = ",".join((f"size={size}",) + options)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(m)], capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs: {r.stderr.strip()}")
        self.mounts.append(m)
        return m

    def fill(self, folder, leave):
        """Fills folder's filesystem up to leave bytes free."""
        st = os.statvfs(folder)
        with open(folder / "filler", "wb") as f:
            f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))
        return folder / "filler"

    def test_output_that_is_a_file_is_refused(self):
        target = self.dir / "afile"
        target.write_bytes(b"not a folder\n")
        s = self.report(target)
        self.assertOneLine(s, 2, f"{target} is not a directory")
        self.assertEqual(target.read_bytes(), b"not a folder\n")
        # The same through the command, which passes the status on.
        s = subprocess.run([BIN, "report", str(self.results), "-o", str(target)], capture_output=True, text=True)
        self.assertOneLine(s, 2, "is not a directory")
        self.assertEqual(target.read_bytes(), b"not a folder\n")

    def test_output_below_a_file_is_refused(self):
        (self.dir / "afile").write_bytes(b"x")
        for out in (self.dir / "afile" / "sub", self.dir / "afile" / "sub" / "deeper"):
            s = self.report(out)
            self.assertOneLine(s, 2, f"cannot write {out}: Not a directory")
        self.assertEqual(sorted(p.name for p in self.dir.iterdir()), ["afile"])

    def test_full_filesystem_leaves_nothing(self):
        m = self.tmpfs(64 * 1024)
        for out in (m, m / "new" / "folder"):
            s = self.report(out)
            self.assertOneLine(s, 2, f"cannot write {out}: No space left on device")
            self.assertEqual(list(m.iterdir()), [], "a folder the report created or a temporary one is left")

    def test_read_only_filesystem_is_refused(self):
        m = self.tmpfs(64 * 1024, "ro")
        for out in (m, m / "new"):
            s = self.report(out)
            self.assertOneLine(s, 2, f"cannot write {out}: Read-only file system")

    def test_failed_report_keeps_the_previous_one(self):
        m = self.tmpfs(4 * 1024 * 1024)
        s = self.report(m)
        self.assertEqual(s.returncode, 0, s.stderr)
        before = snapshot(m)
        self.assertIn("charts/latency.png", before)
        # Room for a few charts but not for the whole report.
        filler = self.fill(m, 64 * 1024)
        s = self.report(m)
        self.assertOneLine(s, 2, "No space left on device")
        filler.unlink()
        self.assertEqual(snapshot(m), before)
        # A malformed results file.
        bad = self.dir / "bad.json"
        bad.write_text('{"format": "alloclab-results", "version": 1, "context": {}, "config": {}, "summaries": [], '
                       '"workloads": {}, "cells": "none"}')
        s = self.report(m, results=bad)
        self.assertOneLine(s, 2, "malformed results")
        self.assertEqual(snapshot(m), before)
        # Read-only by then.
        r = subprocess.run(["mount", "-o", "remount,ro", str(m)], capture_output=True, text=True)
        if r.returncode == 0:
            s = self.report(m)
            self.assertOneLine(s, 2, "Read-only file system")
            self.assertEqual(snapshot(m), before)

    def test_stale_temporary_folders(self):
        dead = self.dir / f".report.tmp.{dead_pid()}.abc123"
        live = self.dir / f".report.tmp.{os.getpid()}.def456"
        for d in (dead, live):
            d.mkdir()
            (d / "charts").mkdir()
            (d / "charts" / "latency.png").write_bytes(b"half")
        s = self.report(self.dir)
        self.assertEqual(s.returncode, 0, s.stderr)
        self.assertEqual(temporaries(self.dir), [live.name])

    def test_killed_report_is_cleaned_up_by_the_next(self):
        p = subprocess.Popen([sys.executable, str(REPORT), str(self.results), "-o", str(self.dir)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not temporaries(self.dir) and p.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            self.assertTrue(temporaries(self.dir), "the report never made its temporary folder")
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait()
        self.assertEqual(len(temporaries(self.dir)), 1)
        self.assertFalse((self.dir / "report.html").exists())
        s = self.report(self.dir)
        self.assertEqual(s.returncode, 0, s.stderr)
        self.assertEqual(temporaries(self.dir), [])

    def test_malformed_results_are_one_line(self):
        good = json.loads(self.results.read_text(encoding="utf-8"))

        def changed(edit):
            doc = json.loads(json.dumps(good))
            edit(doc)
            return json.dumps(doc).encode()

        cases = {
            "cells a string": changed(lambda d: d.update(cells="x")),
            "a cell's replay a list": changed(lambda d: d["cells"][0].update(replay=[1, 2])),
            "a cell a number": changed(lambda d: d["cells"].__setitem__(0, 7)),
            "a cell without backend": changed(lambda d: d["cells"][0].pop("backend")),
            "threads a list": changed(lambda d: d["cells"][0].update(threads=[1])),
            "context a list": changed(lambda d: d.update(context=[])),
            "config a string": changed(lambda d: d.update(config="x")),
            "workloads a list": changed(lambda d: d.update(workloads=[])),
            "failures a string": changed(lambda d: d.update(failures="x")),
            "cores NaN": changed(lambda d: d["context"].update(cores=float("nan"))),
            "truncated": json.dumps(good).encode()[:1000],
            "an array": b"[1, 2, 3]",
            "binary": bytes(range(256)),
            "empty": b"",
            "nested too deeply": b"[" * 100000 + b"]" * 100000,
        }
        for name, text in cases.items():
            with self.subTest(name):
                bad = self.dir / "bad.json"
                bad.write_bytes(text)
                out = self.dir / "out"
                s = self.report(out, results=bad)
                self.assertOneLine(s, 2, f"{bad}: malformed results: ")
                self.assertFalse(out.exists())
        s = self.report(self.dir / "out", results=self.dir / "absent.json")
        self.assertOneLine(s, 2, "absent.json: cannot read the results: No such file or directory")

    def test_success_writes_everything_and_no_temporary(self):
        s = self.report(self.dir)
        self.assertEqual(s.returncode, 0, s.stderr)
        first = snapshot(self.dir)
        for name in OUTPUTS:
            self.assertTrue(first.get(name), name)
        self.assertIn("charts/latency.png", first)
        self.assertIn("charts/latency.svg", first)
        # charts/ is replaced whole: no chart from an earlier report (an older version's, or one this run
        # skips) is left beside the new ones.
        (self.dir / "charts" / "retired.png").write_bytes(b"old")
        (self.dir / "charts" / "scaling.png").write_bytes(b"old")
        s = self.report(self.dir)
        self.assertEqual(s.returncode, 0, s.stderr)
        self.assertEqual(snapshot(self.dir), first)
        self.assertEqual(temporaries(self.dir), [])


class ReportInProcess(unittest.TestCase):
    MINIMAL = {"format": "alloclab-results", "version": 1, "context": {}, "config": {}, "summaries": [],
               "workloads": {}, "cells": []}

    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="alloclab-report-output-"))
        self.results = self.dir / "results.json"
        self.results.write_text(json.dumps(self.MINIMAL))
        self.out = self.dir / "out"

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def main(self, env=None):
        err = io.StringIO()
        with mock.patch.dict(os.environ, env or {}), contextlib.redirect_stderr(err), \
                contextlib.redirect_stdout(io.StringIO()):
            try:
                status = report.main([str(self.results), "-o", str(self.out)])
            except SystemExit as e:
                status = e.code
            except KeyboardInterrupt:
                self.fail("KeyboardInterrupt escaped main()")
        return status, err.getvalue()

    def test_internal_error_is_one_line(self):
        with mock.patch.object(report, "evaluate_all", side_effect=RuntimeError("boom\nagain")):
            status, err = self.main({"ALLOCLAB_DEBUG": "0"})
            self.assertEqual(status, 1)
            self.assertEqual(err, "alloclab report: internal error: RuntimeError: boom again "
                                  "(ALLOCLAB_DEBUG=1 shows the traceback)\n")
            self.assertFalse(self.out.exists())
            status, err = self.main({"ALLOCLAB_DEBUG": "1"})
            self.assertEqual(status, 1)
            self.assertIn("Traceback", err)
            self.assertTrue(err.endswith("(ALLOCLAB_DEBUG=1 shows the traceback)\n"), err)
        self.out.mkdir()
        with mock.patch.object(report, "evaluate_all", side_effect=RuntimeError("boom")):
            self.assertEqual(self.main()[0], 1)
        self.assertEqual(list(self.out.iterdir()), [])

    def test_interrupt_leaves_nothing(self):
        self.out.mkdir()
        with mock.patch.object(report, "evaluate_all", side_effect=KeyboardInterrupt):
            status, err = self.main()
        self.assertEqual(status, 130)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertEqual(list(self.out.iterdir()), [])

    def test_failed_rename_puts_the_old_report_back(self):
        self.out.mkdir()
        (self.out / "charts").mkdir()
        (self.out / "charts" / "latency.png").write_bytes(b"old png")
        for name in OUTPUTS:
            (self.out / name).write_bytes(b"old " + name.encode())
        before = snapshot(self.out)
        tmp = self.out / ".report.tmp.1.x"
        tmp.mkdir()
        (tmp / "charts").mkdir()
        (tmp / "charts" / "latency.png").write_bytes(b"new png")
        for name in OUTPUTS:
            (tmp / name).write_bytes(b"new " + name.encode())
        real = os.replace

        def replace(src, dst):
            if Path(dst).name == "report.html":
                raise OSError(28, os.strerror(28))
            return real(src, dst)

        with mock.patch.object(os, "replace", side_effect=replace):
            with self.assertRaises(OSError):
                report.publish(tmp, self.out)
        shutil.rmtree(tmp)
        self.assertEqual(snapshot(self.out), before)


if __name__ == "__main__":
    unittest.main()
