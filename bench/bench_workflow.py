#!/usr/bin/env python3
"""bench_workflow.py -- time and memory of the workflow commands

    python3 bench/bench_workflow.py [--binary build/mapillary] [--points 100000,1000000]
                                    [--sequences 10000] [--runs 3]

For each size, makes (once, under bench/data/workflow/) a points file as
get_mapillary_points writes it (N points in S sequences, in a shuffled
order), a sequences file (every sequence split over two LineString features,
so that merge_sequences merges every one) and a polygons file (each
sequence's bounding box, for match_point_sequences), then runs

    simplify_points --points_distance=5
    merge_sequences
    match_point_sequences

`--runs` times each and prints the medians: wall seconds, user+system CPU
seconds and the peak RSS of the child alone (wait4's ru_maxrss, what
/usr/bin/time -f %M reports), then the growth of each figure from the
smallest size to the largest. Figures, not tests: nothing is asserted.
"""
import argparse
import os
import random
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(REPO, "bench", "data", "workflow")


def make_data(n, nseq, seed=1):
    """points.geojson, seqs.geojsonl, polys.geojson for n points in nseq sequences"""
    d = os.path.join(DATA, "%d_%d" % (n, nseq))
    done = os.path.join(d, "done")
    if os.path.exists(done):
        return d
    os.makedirs(d, exist_ok=True)
    rnd = random.Random(seed)
    per = n // nseq
    seqs = []
    points = []
    for s in range(nseq):
        lon = -110 + rnd.random() * 20
        lat = 30 + rnd.random() * 15
        sid = "%d" % (10 ** 14 + s * 7919)
        line = []
        t = 1651366800000 + rnd.randrange(10 ** 8)
        for i in range(per):
            lon += rnd.uniform(0.5, 4) / 86000
            lat += rnd.uniform(-1, 2) / 111000
            t += 1000
            line.append((lon, lat))
            points.append('{"type":"Feature","geometry":{"type":"Point","coordinates":[%.7f,%.7f]},'
                          '"properties":{"id":"%d","sequence_id":"%s","captured_at":%d,'
                          '"compass_angle":%.2f,"is_pano":false,"organization_id":"1805883732926354"}}'
                          % (lon, lat, 10 ** 15 + s * 100000 + i, sid, t, rnd.random() * 360))
        seqs.append((sid, line))
    rnd.shuffle(points)
    with open(os.path.join(d, "points.geojson"), "w") as f:
        f.write('{"type":"FeatureCollection","features":[\n')
        f.write(",\n".join(points))
        f.write("\n]}\n")
    del points
    with open(os.path.join(d, "seqs.geojsonl"), "w") as f:
        for half in (0, 1):
            for sid, line in seqs:
                part = line[: len(line) // 2 + 1] if half == 0 else line[len(line) // 2:]
                f.write('{"type":"Feature","geometry":{"type":"LineString","coordinates":[%s]},'
                        '"properties":{"sequence_id":"%s","total_points":%d}}\n'
                        % (",".join("[%.7f,%.7f]" % p for p in part), sid, len(line)))
    with open(os.path.join(d, "polys.geojson"), "w") as f:
        f.write('{"type":"FeatureCollection","features":[\n')
        rows = []
        for sid, line in seqs:
            xs = [p[0] for p in line]
            ys = [p[1] for p in line]
            # half the box: about half the points match
            x0, x1 = min(xs), (min(xs) + max(xs)) / 2
            y0, y1 = min(ys), max(ys)
            rows.append('{"type":"Feature","properties":{"sequence_id":"%s"},"geometry":{"type":"Polygon",'
                        '"coordinates":[[[%.7f,%.7f],[%.7f,%.7f],[%.7f,%.7f],[%.7f,%.7f],[%.7f,%.7f]]]}}'
                        % (sid, x0, y0, x1, y0, x1, y1, x0, y1, x0, y0))
        f.write(",\n".join(rows))
        f.write("\n]}\n")
    open(done, "w").close()
    return d


def run(argv):
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    err = p.stderr.read().decode("utf-8", "replace")
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("bench_workflow: %s failed:\n%s" % (" ".join(argv), err[-2000:]))
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(REPO, "build", "mapillary"))
    ap.add_argument("--points", default="100000,1000000")
    ap.add_argument("--sequences", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--make", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.make:
        make_data(a.make, a.sequences)
        return
    sizes = [int(float(x)) for x in a.points.split(",")]
    rows, figures = [], {}
    for n in sizes:
        t0 = time.monotonic()
        # in a child process: a big parent would count in the children's peak
        # RSS (a forked child holds the parent's pages until it execs)
        subprocess.run([sys.executable, os.path.abspath(__file__), "--make", str(n), "--sequences",
                        str(a.sequences)], check=True)
        d = os.path.join(DATA, "%d_%d" % (n, a.sequences))
        print("data for %d points ready (%.0f s)" % (n, time.monotonic() - t0), file=sys.stderr, flush=True)
        out = os.path.join(d, "out")
        rel = os.path.relpath(d, REPO)
        cmds = {
            "simplify_points": ["simplify_points", "--input_points", rel + "/points.geojson",
                                "--points_distance", "5", "--output_points", rel + "/out/thin.geojson"],
            "merge_sequences": ["merge_sequences", "--geojson_input", rel + "/seqs.geojsonl",
                                "--geojson_output", rel + "/out/merged.geojson"],
            "match_point_sequences": ["match_point_sequences", "--geojson_polygons", rel + "/polys.geojson",
                                      "--geojson_points", rel + "/points.geojson",
                                      "--geojson_output", rel + "/out/matched.geojson"],
        }
        os.makedirs(out, exist_ok=True)
        for name, args in cmds.items():
            res = [run([a.binary] + args + ["--quiet"]) for _ in range(a.runs)]
            wall = statistics.median(r[0] for r in res)
            cpu = statistics.median(r[1] for r in res)
            rss = statistics.median(r[2] for r in res)
            figures[(name, n)] = (wall, cpu, rss)
            cmd = "/usr/bin/time -f '%e s, %U+%S s CPU, %M KB' ./" + os.path.relpath(a.binary, REPO) + \
                " " + " ".join(args) + " --quiet"
            rows.append("| %s | %d | %.2f | %.2f | %.1f | `%s` |" % (name, n, wall, cpu, rss, cmd))
            print(rows[-1], file=sys.stderr, flush=True)
    print("| command | points | wall s (median of %d) | CPU s | peak RSS MB | reproduce |" % a.runs)
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(r)
    if len(sizes) >= 2:
        lo, hi = sizes[0], sizes[-1]
        print()
        print("| command | points x%g: wall x | CPU x | peak RSS x |" % (hi / lo))
        print("|---|---|---|---|")
        for name in ("simplify_points", "merge_sequences", "match_point_sequences"):
            a0, a1 = figures[(name, lo)], figures[(name, hi)]
            print("| %s | %.1f | %.1f | %.2f |" % (name, a1[0] / a0[0], a1[1] / a0[1], a1[2] / a0[2]))


if __name__ == "__main__":
    main()
