#!/usr/bin/env python3
"""test_bench_maxrss.py -- bench.py's peak RSS figure is the measured child's own.

bench.py generates data in-process, so this Python process grows large; a
child it forks and reaps with wait4 reported that size as its own peak RSS
(Linux keeps the forked copy's high-water mark at exec). bench.run goes
through bench/maxrss.c instead. Here the parent holds 200 MB and the child
(/bin/true) must come out near its real size."""

import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.dont_write_bytecode = True   # leave no __pycache__ in the source tree
import bench  # noqa: E402


class MaxRss(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mly-maxrss-")
        bench.DATA = self.tmp   # the wrapper is compiled here, not in bench/data
        bench._MAXRSS = None

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_child_peak_is_its_own(self):
        big = bytearray(200 << 20)
        for i in range(0, len(big), 4096):
            big[i] = 1   # resident, not just reserved
        r = bench.run(["/bin/true"])
        self.assertEqual(r.rc, 0)
        self.assertLess(r.rss_kb, 50 * 1024, "the parent's 200 MB counted as the child's")
        self.assertGreater(r.rss_kb, 0)
        del big

    def test_status_and_times_come_through(self):
        r = bench.run(["/bin/sh", "-c", "echo oops >&2; exit 3"], check=False)
        self.assertEqual(r.rc, 3)
        self.assertIn("oops", r.stderr)
        self.assertGreaterEqual(r.cpu, 0.0)


if __name__ == "__main__":
    unittest.main()
