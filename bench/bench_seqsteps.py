#!/usr/bin/env python3
"""bench_seqsteps.py -- simplify_sequence and create_custom_sequences at 10^5
and 10^6 points (10^3 and 10^4 sequences of 100 images): time, the child's own
peak RSS (bench/maxrss.c), and how both grow for 10x the input.

    python3 bench/bench_seqsteps.py --binary build-bench/mapillary [--quick] [--runs 3]
        [--steps simplify_sequence,create_custom_sequences]

--steps runs only the steps named (comma-separated; default both).

Inputs are generated under bench/data/seqsteps/ (git-ignored): sequences
are random walks of 100 images 10 m apart, placed at a constant density
(about 25 sequences per km^2, so that 10x the sequences cover 10x the
ground, and each buffer meets a like number of others at both sizes);
points as get_mapillary_points writes them, sequences as LineStrings.
create_custom_sequences asks tests/integration/server.py (loopback, real
HTTP, the Graph API's batch form and its signed links) for the review
images. Prints a Markdown table; figures only, nothing is asserted."""

import argparse
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (run(): wall, CPU and the child's peak RSS)

OUT = os.path.join(bench.DATA, "seqsteps")
TOKEN = "MLY|bench|token"
STEPS = ("simplify_sequence", "create_custom_sequences")


def make_inputs(nseq, per_seq, seed=1):
    """points.geojson and seqs.geojson for nseq walks of per_seq images"""
    d = os.path.join(OUT, "%dx%d" % (nseq, per_seq))
    pts_path, seq_path = os.path.join(d, "points.geojson"), os.path.join(d, "seqs.geojson")
    if os.path.exists(seq_path):
        return pts_path, seq_path
    os.makedirs(d, exist_ok=True)
    rnd = random.Random(seed)
    side_km = math.sqrt(nseq / 25.0)
    lat0, lon0 = 40.0, -74.0
    dlat = 1 / 111.0
    dlon = 1 / (111.0 * math.cos(math.radians(lat0)))
    next_id = 10 ** 15
    with open(pts_path + ".tmp", "w") as fp, open(seq_path + ".tmp", "w") as fs:
        fp.write('{"type":"FeatureCollection","features":[\n')
        fs.write('{"type":"FeatureCollection","features":[\n')
        first = True
        for s in range(nseq):
            x, y = rnd.uniform(0, side_km), rnd.uniform(0, side_km)
            heading = rnd.uniform(0, 2 * math.pi)
            t = 1600000000000 + rnd.randrange(10 ** 9)
            sid = "seq%07d" % s
            coords = []
            for i in range(per_seq):
                heading += rnd.gauss(0, 0.15)
                x += 0.01 * math.cos(heading)
                y += 0.01 * math.sin(heading)
                lon, lat = round(lon0 + x * dlon, 7), round(lat0 + y * dlat, 7)
                coords.append([lon, lat])
                feat = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                        "properties": {"id": str(next_id), "sequence_id": sid, "captured_at": t + 2000 * i,
                                       "compass_angle": round(math.degrees(heading) % 360, 2),
                                       "is_pano": False, "organization_id": "1805883732926354"}}
                next_id += 1
                fp.write(("" if first else ",\n") + json.dumps(feat, separators=(",", ":")))
                first = False
            line = {"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords},
                    "properties": {"sequence_id": sid, "is_pano": False, "total_points": per_seq}}
            fs.write(("" if s == 0 else ",\n") + json.dumps(line, separators=(",", ":")))
        fp.write("\n]}\n")
        fs.write("\n]}\n")
    os.replace(pts_path + ".tmp", pts_path)
    os.replace(seq_path + ".tmp", seq_path)
    return pts_path, seq_path


class Server:
    """tests/integration/server.py serving the Graph API's image endpoints"""

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="mly-bench-graph-")
        port_file = os.path.join(self.dir, "port")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(bench.REPO, "tests", "integration", "server.py"), "--root", self.dir,
             "--port-file", port_file, "--token", TOKEN, "--max-seconds", "3600"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if os.path.exists(port_file):
                break
            time.sleep(0.05)
        self.url = "http://127.0.0.1:%s/graph" % open(port_file).read().strip()
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def measure(argv, runs, env=None):
    res = [bench.run(argv, env=env) for _ in range(runs)]
    return (statistics.median(r.wall for r in res), statistics.median(r.user + r.sys for r in res),
            max(r.rss_kb for r in res) / 1024.0, res[-1].stderr)



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(bench.REPO, "build-bench", "mapillary"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="10^3 and 10^4 points")
    ap.add_argument("--steps", default=",".join(STEPS),
                    help="comma-separated steps to run (default: %s)" % ",".join(STEPS))
    a = ap.parse_args()
    steps = [s for s in a.steps.split(",") if s]
    unknown = [s for s in steps if s not in STEPS]
    if unknown or not steps:
        ap.error("--steps: unknown step %r (known: %s)" % (unknown[0] if unknown else a.steps, ", ".join(STEPS)))
    binary = os.path.abspath(a.binary)
    sizes = [(100, 10), (1000, 10)] if a.quick else [(1000, 100), (10000, 100)]
    rows = []
    for nseq, per in sizes:
        pts, seqs = make_inputs(nseq, per)
        out = os.path.join(OUT, "%dx%d" % (nseq, per), "out")
        os.makedirs(out, exist_ok=True)
        for buf in ("0.0001", "12m") if "simplify_sequence" in steps else ():
            argv = [binary, "simplify_sequence", "--geojson_input", seqs, "--buffer", buf,
                    "--geojson_out", os.path.join(out, "simple.geojson")]
            wall, cpu, rss, err = measure(argv, a.runs)
            rows.append(("simplify_sequence --buffer " + buf, nseq * per, nseq, wall, cpu, rss, argv, None))
        if "create_custom_sequences" not in steps:
            continue
        with Server() as srv:
            argv = [binary, "create_custom_sequences", "--geojson_points", pts, "--output_file_sequence",
                    os.path.join(out, "custom.geojson"), "--graph_url", srv.url]
            env = {"MAPILLARY_ACCESS_TOKEN": TOKEN}
            wall, cpu, rss, err = measure(argv, a.runs, env)
            shown = [x.replace(srv.url, "http://127.0.0.1:$PORT/graph") for x in argv]
            rows.append(("create_custom_sequences", nseq * per, nseq, wall, cpu, rss, shown,
                         {"MAPILLARY_ACCESS_TOKEN": "'%s'" % TOKEN}))
    print("| step | points | sequences | wall (median of %d) | CPU user+sys | peak RSS | command |" % a.runs)
    print("|---|---|---|---|---|---|---|")
    for step, npts, nseq, wall, cpu, rss, argv, env in rows:
        print("| %s | %d | %d | %.2f s | %.2f s | %.1f MB | `%s` |" % (
            step, npts, nseq, wall, cpu, rss, bench.show(argv, env, time_it=False)))
    if "create_custom_sequences" in steps:
        print()
        print("$PORT: a `tests/integration/server.py --root <empty dir> --token '%s' --port-file <f>`." % TOKEN)
    print()
    print("Growth for 10x the input (larger / smaller):")
    print()
    print("| step | wall ratio | CPU ratio | RSS ratio |")
    print("|---|---|---|---|")
    half = len(rows) // 2
    for small, large in zip(rows[:half], rows[half:]):
        print("| %s | %.1fx | %.1fx | %.1fx |" % (small[0], large[3] / small[3], large[4] / small[4],
                                                  large[5] / small[5]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
