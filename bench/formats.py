#!/usr/bin/env python3
"""formats.py -- output formats against GeoJSON, and what GDAL costs the runs that do not use it.

    bench/formats.sh [--baseline BINARY] [--pg]

(formats.sh builds the Release tree, then runs this.) Prints Markdown tables:

1. Writing 10^6 points (the dense tile at 34 positions, 17x2, 1.02 M
   distinct images, bench/mkdata.py) through file:// to each format:
   GeoJSON, GeoJSONL, CSV, GeoPackage, FlatGeobuf (and a PostGIS table with
   --pg: a private server started in a temporary folder, as the test does).
   Sequences go to /dev/null (written through as GeoJSON), so the figures
   are the points' format. Median of RUNS runs: wall, user+sys, features
   per wall second, file size, and the ratio to GeoJSON.
2. Start-up: `--version` and the example run (scripts/example.sh's
   command), median of 21 runs each, for this binary and, with
   --baseline, an older one (e.g. main's before the GDAL formats).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (run, show, fmt helpers)
import mkdata  # noqa: E402

REPO = bench.REPO
COLS, ROWS = 17, 2
RUNS = 3
STARTUP_RUNS = 21


def block_url():
    return "file://" + os.path.join(mkdata.DATA, "block", "{z}", "{x}", "{y}.mvt")


def points_run(tool, out, env=None):
    argv = [tool, "get_mapillary_points", "--input_aoi=" + mkdata.bbox_arg("block", COLS, ROWS),
            "--tiles_url=" + block_url(), "--no_id_repair", "--quiet",
            "--output_file_point=" + out, "--output_file_sequence=/dev/null"]
    return argv


def example_argv(tool, outdir):
    return [tool, "get_mapillary_points", "--input_aoi=examples/aoi.geojson", "--field_name=area",
            "--timestamp_from=2016-01-01", "--no_id_repair", "--quiet",
            "--tiles_url=file://" + os.path.join(REPO, "examples/tiles/{z}/{x}/{y}.mvt"),
            "--output_file_point=" + outdir + "/mapillary_points.geojson",
            "--output_file_sequence=" + outdir + "/mapillary_sequences.geojson"]


def ms(x):
    return "%.1f" % (x * 1000)


def start_pg(work):
    """A private PostgreSQL + PostGIS on a Unix socket in work; returns
    (conninfo, stop function)"""
    sys.path.insert(0, os.path.join(REPO, "tests", "gdal"))
    import pgserver  # noqa: E402
    srv = pgserver.Server(work)
    srv.start()
    return srv.conninfo(), srv.stop


def bench_formats(tool, pg, only=None):
    mkdata.make_block(COLS, ROWS)
    mkdata.warm(os.path.join(mkdata.DATA, "block"))
    outdir = os.path.join(mkdata.DATA, "formats")
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    rows, base = [], None
    formats = [("GeoJSON", "p.geojson"), ("GeoJSONL", "p.geojsonl"), ("CSV", "p.csv"),
               ("GeoPackage", "p.gpkg"), ("FlatGeobuf", "p.fgb")]
    stop = None
    if pg:
        work = tempfile.mkdtemp(prefix="mly-bench-pg-")
        conninfo, stop = start_pg(work)
        formats.append(("PostGIS", "PG:" + conninfo))
    if only:
        formats = [f for f in formats if f[0] in only]
    try:
        for name, target in formats:
            out = target if target.startswith("PG:") else os.path.join(outdir, target)
            runs = []
            for _ in range(RUNS):
                if not target.startswith("PG:") and os.path.exists(out):
                    os.unlink(out)
                runs.append(bench.run(points_run(tool, out)))
            wall = bench.median_of(runs, "wall")
            cpu = bench.median_of(runs, "cpu")
            size = os.path.getsize(out) if not target.startswith("PG:") else None
            r = {"name": name, "wall": wall, "cpu": cpu, "size": size,
                 "cmd": bench.show(points_run(os.path.relpath(tool, REPO), out if not target.startswith("PG:") else "PG:<conninfo>"))}
            rows.append(r)
            if base is None:
                base = r
    finally:
        if stop:
            stop()
    n = 30000 * COLS * ROWS
    print("## 1. Writing %s points to each format\n" % bench.fmt_int(n))
    print("The dense tile at %d positions (%dx%d), distinct ids, through file://; sequences to "
          "/dev/null. Median of %d runs; features/s over the whole run's wall time (reading "
          "and decoding the tiles included, about the same in every row).\n" % (COLS * ROWS, COLS, ROWS, RUNS))
    print("| format | wall s | CPU s | features/s | vs GeoJSON (time) | size MB | vs GeoJSON (size) | command |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %.2f | %.2f | %s | %.2fx | %s | %s | `%s` |" % (
            r["name"], r["wall"], r["cpu"], bench.fmt_int(n / r["wall"]), r["wall"] / base["wall"],
            "%.1f" % (r["size"] / 1e6) if r["size"] else "—",
            "%.2fx" % (r["size"] / base["size"]) if r["size"] else "—", r["cmd"]))
    print()


def startup(tools):
    print("## 2. Start-up: runs that do not ask for GDAL\n")
    print("Median of %d runs each; CPU is user+sys from the child's rusage (wait4), which "
          "the machine's load disturbs less than wall time. `ldd` counts the shared "
          "libraries the binary links.\n" % STARTUP_RUNS)
    print("| binary | shared libs | --version wall ms | --version CPU ms | example run wall ms | example CPU ms |")
    print("|---|---|---|---|---|---|")
    work = tempfile.mkdtemp(prefix="mly-bench-start-")
    try:
        # the binaries' runs alternate, so both see the same machine
        res = {label: ([], []) for label, _ in tools}
        for _ in range(STARTUP_RUNS):
            for label, tool in tools:
                res[label][0].append(bench.run([tool, "--version"]))
                shutil.rmtree(work + "/out", ignore_errors=True)
                res[label][1].append(bench.run(example_argv(tool, work + "/out")))
        for label, tool in tools:
            libs = len([l for l in subprocess.run(["ldd", tool], capture_output=True, text=True)
                        .stdout.splitlines() if l.strip()])
            v, ex = res[label]
            print("| %s | %d | %s | %s | %s | %s |" % (label, libs, ms(bench.median_of(v, "wall")),
                                                       ms(bench.median_of(v, "cpu")),
                                                       ms(bench.median_of(ex, "wall")),
                                                       ms(bench.median_of(ex, "cpu"))))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print("Commands: `./BINARY --version`; the example run is scripts/example.sh's command "
          "(`--quiet`, outputs to a temporary folder).\n")


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build-bench")
    ap.add_argument("--baseline", help="an older binary to compare start-up with")
    ap.add_argument("--pg", action="store_true", help="also load a PostGIS table")
    ap.add_argument("--only", action="append", help="format rows to run (by name), repeatable")
    ap.add_argument("what", nargs="*", default=["formats", "startup"])
    a = ap.parse_args(argv)
    tool = os.path.join(REPO, a.build, "mapillary")
    if "formats" in a.what:
        bench_formats(tool, a.pg, a.only)
    if "startup" in a.what:
        tools = [("this tree (" + a.build + "/mapillary)", tool)]
        if a.baseline:
            tools.insert(0, ("baseline (" + a.baseline + ")", os.path.abspath(a.baseline)))
        startup(tools)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
