#!/usr/bin/env python3
"""bench_geokit.py -- geokit's workflow commands side by side with ours:
CPU time (user+sys, with the processes each run waited for: geokit's joblib
workers), the peak RSS of its largest process, how both grow with the
input, and what each wrote.

    python3 bench/bench_geokit.py --geokit-dir DIR [--python PY] \\
        [--binary build-bench/mapillary] [--sizes 100,300,1000] [--runs 3] \\
        [--steps merge_sequences,simplify_sequence,simplify_points] [--cap 600] \\
        [--overlap]

DIR is a checkout of geokit that you provide (its `python-scripts`
directory, or the repository holding it); this script neither fetches nor
installs anything. PY is a Python that imports geokit's dependencies for
these commands (shapely, joblib, geojson, tqdm, pyproj, smart_open, click,
requests). geokit's command line module also imports mercantile and
vt2geojson, which these commands never call: when PY lacks them, the run
registers empty modules under those names before importing geokit. Without
geokit (no DIR, or PY cannot import it) the script says so and exits 0.

Inputs are bench_seqsteps.py's random walks (N sequences of 100 images,
10 m apart, 25 sequences per km^2), under bench/data/seqsteps/ (git-ignored):
- merge_sequences: seqs.geojson (one LineString per sequence), both tools;
- simplify_sequence --buffer 0.0001 (degrees): our merge_sequences' output
  (it carries the `id` and `length` that geokit's command needs), both tools;
- simplify_points --points_distance 12: points.geojson, both tools.
A geokit run still going after --cap seconds of wall time is killed and that
step is not run at larger sizes. Runs are repeated (--runs, median) when the
first took under 30 s of CPU. With --overlap, PY's shapely also measures
both simplify_sequence outputs against the buffers: the area each covers,
covers twice, leaves out. Prints Markdown tables; nothing is asserted."""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (run(): CPU times and peak RSS through maxrss.c)
import bench_seqsteps  # noqa: E402  (make_inputs())

SHORT_CPU_S = 30.0

# geokit's own command line (its click group), run as `PY -c DRIVER DIR cmd opts`
DRIVER = r"""
import importlib, sys, types
sys.path.insert(0, sys.argv[1])
for name in ("mercantile", "vt2geojson", "vt2geojson.tools"):
    try:
        importlib.import_module(name)
    except ImportError:
        stand_in = types.ModuleType(name)
        stand_in.vt_bytes_to_geojson = None
        sys.modules[name] = stand_in
if sys.argv[2] == "--check":
    import geokit_py.mapillary.main, geokit_py.mapillary.simplify_sequence
    import geokit_py.mapillary.simplify_points, geokit_py.mapillary.merge_sequences
    sys.exit(0)
from geokit_py.mapillary.main import cli
cli(sys.argv[2:])
"""


# with --overlap: both simplify_sequence outputs measured with shapely (geokit's
# own dependency, so in PY): `PY -c OVERLAP geokit_out ours_out merged_input`
OVERLAP = r"""
import json, sys
from shapely.geometry import shape
from shapely.ops import unary_union
def load(p):
    return json.load(open(p))["features"]
g, o, m = load(sys.argv[1]), load(sys.argv[2]), load(sys.argv[3])
buffers = unary_union([shape(f["geometry"]).buffer(0.0001) for f in m])
res = {}
for name, feats in (("geokit", g), ("ours", o)):
    shapes = [shape(f["geometry"]) for f in feats]
    union = unary_union(shapes)
    per_seq = {}
    for f in feats:
        per_seq[f["properties"]["sequence_id"]] = per_seq.get(f["properties"]["sequence_id"], 0) + 1
    res[name] = {"union": union.area, "overlap": sum(s.area for s in shapes) - union.area,
                 "missing": buffers.difference(union).area, "extra": union.difference(buffers).area,
                 "split": sum(1 for v in per_seq.values() if v > 1),
                 "flagged": len({f["properties"]["sequence_id"] for f in feats if f["properties"].get("is_exclude")})}
res["buffers"] = buffers.area
print(json.dumps(res))
"""


def find_geokit(d):
    """the directory holding geokit_py, or None"""
    for cand in (d, os.path.join(d, "python-scripts")):
        if os.path.isfile(os.path.join(cand, "geokit_py", "mapillary", "simplify_sequence.py")):
            return os.path.abspath(cand)
    return None


def git_commit(d):
    r = subprocess.run(["git", "-C", d, "rev-parse", "HEAD"], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else "unknown (not a git checkout)"


def ring_area(ring):
    s = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:]):
        s += x0 * y1 - x1 * y0
    return abs(s) / 2.0


def polygon_area(rings):
    return ring_area(rings[0]) - sum(ring_area(r) for r in rings[1:]) if rings else 0.0


def describe(path):
    """features, distinct sequence_ids, features flagged is_exclude, and the
    sum of the polygons' planar areas (degrees^2) in a GeoJSON output"""
    with open(path) as f:
        feats = json.load(f)["features"]
    area = 0.0
    for ft in feats:
        g = ft.get("geometry") or {}
        if g.get("type") == "Polygon":
            area += polygon_area(g["coordinates"])
        elif g.get("type") == "MultiPolygon":
            area += sum(polygon_area(p) for p in g["coordinates"])
    props = [ft.get("properties") or {} for ft in feats]
    return {"features": len(feats), "sequences": len({p.get("sequence_id") for p in props}),
            "excluded": sum(1 for p in props if p.get("is_exclude")), "area": area}


def measure(argv, runs, cap):
    """(median CPU s, max peak RSS MB, runs made) or None when stopped at cap"""
    first = bench.run(argv, timeout=cap)
    if first is None:
        return None
    res = [first]
    if first.cpu < SHORT_CPU_S:
        res += [bench.run(argv) for _ in range(runs - 1)]
    return statistics.median(r.cpu for r in res), max(r.rss_kb for r in res) / 1024.0, len(res)


def step_argv(step, tool, geokit, nseq, paths):
    """(argv, output path) of one step for 'geokit' or 'ours'"""
    pts, seqs, out = paths
    o = lambda name: os.path.join(out, "%s_%s.geojson" % (tool, name))  # noqa: E731
    if step == "merge_sequences":
        args = ["merge_sequences", "--geojson_input", seqs, "--geojson_output", o("merged")]
        res = o("merged")
    elif step == "simplify_sequence":
        args = ["simplify_sequence", "--geojson_input", os.path.join(out, "ours_merged.geojson"),
                "--buffer", "0.0001", "--geojson_out", o("simplified")]
        res = o("simplified")
    else:
        args = ["simplify_points", "--input_points", pts, "--points_distance", "12",
                "--output_points", o("points12")]
        res = o("points12")
    if tool == "geokit":
        return [geokit["python"], "-c", DRIVER, geokit["dir"]] + args, res
    return [geokit["binary"]] + args + ["--quiet"], res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--geokit-dir", help="geokit checkout (python-scripts or the repository)")
    ap.add_argument("--python", default=sys.executable, help="Python that imports geokit's dependencies")
    ap.add_argument("--binary", default=os.path.join(bench.REPO, "build-bench", "mapillary"))
    ap.add_argument("--sizes", default="100,300,1000", help="sequences of 100 images, comma-separated")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--steps", default="merge_sequences,simplify_sequence,simplify_points")
    ap.add_argument("--overlap", action="store_true",
                    help="also measure simplify_sequence's outputs with shapely in PY (overlaps, coverage)")
    ap.add_argument("--cap", type=float, default=600.0, help="seconds of wall time before a geokit run is stopped")
    a = ap.parse_args()
    gdir = find_geokit(a.geokit_dir) if a.geokit_dir else None
    if gdir is None:
        print("bench_geokit: no geokit checkout (give --geokit-dir DIR, DIR holding "
              "geokit_py/mapillary): nothing to compare")
        return 0
    chk = subprocess.run([a.python, "-c", DRIVER, gdir, "--check"], capture_output=True, text=True)
    if chk.returncode != 0:
        last = (chk.stderr.strip().splitlines() or ["?"])[-1]
        print("bench_geokit: %s cannot import geokit from %s (%s): nothing to compare" % (a.python, gdir, last))
        return 0
    steps = [s for s in a.steps.split(",") if s]
    for s in steps:
        if s not in ("merge_sequences", "simplify_sequence", "simplify_points"):
            sys.exit("bench_geokit: unknown step '%s'" % s)
    if "simplify_sequence" in steps and "merge_sequences" not in steps:
        steps.insert(0, "merge_sequences")
    geokit = {"python": a.python, "dir": gdir, "binary": os.path.abspath(a.binary)}
    sizes = [int(x) for x in a.sizes.split(",")]
    stopped = set()
    rows, outs = [], []
    for nseq in sizes:
        pts, seqs = bench_seqsteps.make_inputs(nseq, 100)
        out = os.path.join(os.path.dirname(seqs), "geokit_cmp")
        os.makedirs(out, exist_ok=True)
        for step in steps:
            got = {}
            for tool in ("ours", "geokit"):
                argv, res = step_argv(step, tool, geokit, nseq, (pts, seqs, out))
                if os.path.exists(res):
                    os.unlink(res)
                if tool == "geokit" and step in stopped:
                    got[tool] = ("not run", None)
                    continue
                m = measure(argv, a.runs, a.cap if tool == "geokit" else None)
                if m is None:
                    stopped.add(step)
                    got[tool] = ("stopped after %.0f s wall" % a.cap, None)
                else:
                    got[tool] = (m, describe(res))
            if a.overlap and step == "simplify_sequence" and got["geokit"][1]:
                r = subprocess.run([a.python, "-c", OVERLAP, os.path.join(out, "geokit_simplified.geojson"),
                                    os.path.join(out, "ours_simplified.geojson"),
                                    os.path.join(out, "ours_merged.geojson")],
                                   capture_output=True, text=True, check=True)
                got["overlap"] = json.loads(r.stdout)
            rows.append((step, nseq, got))
            print("bench_geokit: %s at %d sequences done" % (step, nseq), file=sys.stderr)
    print("geokit: %s at commit %s, run by %s" % (gdir, git_commit(gdir), a.python))
    print()
    print("| command | sequences | points | geokit CPU s | geokit peak RSS MB | ours CPU s | ours peak RSS MB "
          "| CPU geokit/ours | features written: geokit / ours |")
    print("|---|---|---|---|---|---|---|---|---|")
    for step, nseq, got in rows:
        om, od = got["ours"]
        gm, gd = got["geokit"]
        gcpu = "%.2f (%d run%s)" % (gm[0], gm[2], "s" if gm[2] > 1 else "") if gd else gm
        print("| %s | %d | %d | %s | %s | %.2f | %.1f | %s | %s / %d |" % (
            step, nseq, nseq * 100, gcpu, "%.1f" % gm[1] if gd else "—", om[0], om[1],
            "%.0fx" % (gm[0] / om[0]) if gd else "—", gd["features"] if gd else "—", od["features"]))
    print()
    print("Growth from one size to the next (CPU ratio; input ratio in brackets):")
    print()
    print("| command | sizes | input ratio | geokit CPU ratio | ours CPU ratio |")
    print("|---|---|---|---|---|")
    for step in steps:
        mine = [(n, got) for s, n, got in rows if s == step]
        for (n0, g0), (n1, g1) in zip(mine, mine[1:]):
            gr = "%.1fx" % (g1["geokit"][0][0] / g0["geokit"][0][0]) if g1["geokit"][1] and g0["geokit"][1] else "—"
            print("| %s | %d -> %d | %.1fx | %s | %.1fx |" % (step, n0, n1, n1 / n0, gr,
                                                           g1["ours"][0][0] / g0["ours"][0][0]))
    if "simplify_sequence" in steps:
        print()
        print("simplify_sequence outputs (area: sum of the polygons' planar areas, degrees^2; ours do not overlap):")
        print()
        print("| sequences | geokit features / sequences / features flagged is_exclude / area | ours features / sequences / area |")
        print("|---|---|---|")
        for step, nseq, got in rows:
            if step != "simplify_sequence":
                continue
            gd, od = got["geokit"][1], got["ours"][1]
            g = "%d / %d / %d / %.4g" % (gd["features"], gd["sequences"], gd["excluded"], gd["area"]) if gd else "—"
            print("| %d | %s | %d / %d / %.4g |" % (nseq, g, od["features"], od["sequences"], od["area"]))
    if a.overlap:
        print()
        print("simplify_sequence outputs measured with shapely (degrees^2; the buffers: the union of every "
              "input line buffered by 0.0001):")
        print()
        print("| sequences | buffers' area | tool | area covered | covered twice or more | of the buffers, "
              "not covered | outside the buffers | sequences written as several features | sequences "
              "flagged is_exclude |")
        print("|---|---|---|---|---|---|---|---|---|")
        for step, nseq, got in rows:
            ov = got.get("overlap")
            if step != "simplify_sequence" or not ov:
                continue
            for tool in ("geokit", "ours"):
                t = ov[tool]
                t["overlap"] = max(0.0, t["overlap"])  # rounding: ours is disjoint
                print("| %d | %.4e | %s | %.4e | %.3e (%.2f%%) | %.3e (%.4f%%) | %.3e | %d | %d |" % (
                    nseq, ov["buffers"], tool, t["union"], t["overlap"], 100 * t["overlap"] / t["union"],
                    t["missing"], 100 * t["missing"] / ov["buffers"], t["extra"], t["split"], t["flagged"]))
    print()
    print("Commands (from the repository root; D = bench/data/seqsteps/<N>x100):")
    print()
    for step in steps:
        for tool in ("ours", "geokit"):
            argv, _ = step_argv(step, tool, geokit, 0, ("$D/points.geojson", "$D/seqs.geojson", "$D/geokit_cmp"))
            if tool == "geokit":
                argv = [a.python, "-c", "\"$DRIVER\"", gdir] + argv[4:]
            print("    %s" % " ".join(x.replace(bench.REPO + "/", "") for x in argv))
    print()
    print("$DRIVER: bench/bench_geokit.py's DRIVER (geokit's click group, `cli(sys.argv[2:])`).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
