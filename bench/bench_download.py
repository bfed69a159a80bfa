#!/usr/bin/env python3
"""bench_download.py -- download_mapillary_imgs figures (not tests), side by side in one run.

    python3 bench/bench_download.py --binary build/mapillary [--images 2000] [--runs 3]
                                    [--big-points 1000000]

Against bench/fastserver.py --images (Graph batch form and a CDN of real JPEGs
made by cjpeg, as tests/integration/server.py makes them), over loopback:
  1. N images (1024, ~120 KB) at 50 ms latency: images/s of the tool at C=16
     and C=64 beside C/L, and curl --parallel fetching the same links (the
     links the Graph API hands out, written to a curl config file)
  2. N images of size 2048 (~490 KB) at no latency: MB/s, tool and curl
  3. CPU per image (user+sys of the child) from the runs of 1
  4. 10^5 and 10^6 input points whose images the Graph API does not have
     (every point read, asked for in batches of 50, written to OUT): the
     child's peak RSS (bench/maxrss.c) and its growth per point
Medians of --runs runs; each run starts with an empty output folder.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
sys.path.insert(0, HERE)
import server as testserver  # noqa: E402  (make_jpeg: the same JPEGs as the tests)
import bench as benchlib  # noqa: E402  (run: each child under bench/maxrss.c)

TOKEN = "MLY|bench|token"


def start_server(tmp, latency_ms, images_dir, available_below=None):
    root = os.path.join(tmp, "empty-root")
    os.makedirs(root, exist_ok=True)
    pf = os.path.join(tmp, "port")
    if os.path.exists(pf):
        os.remove(pf)
    cmd = [sys.executable, os.path.join(HERE, "fastserver.py"), "--root", root, "--port-file", pf,
           "--token", TOKEN, "--latency-ms", str(latency_ms), "--images", images_dir,
           "--max-seconds", "3600"]
    if available_below is not None:
        cmd += ["--available-below", str(available_below)]
    p = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    for _ in range(400):
        if os.path.exists(pf):
            return p, int(open(pf).read())
        time.sleep(0.05)
    raise RuntimeError("fastserver did not start")


def stop_server(p):
    p.terminate()
    p.wait(10)


def points(path, n, first=10 ** 9):
    """n points as GeoJSONL (what get_mapillary_points writes), 100 per sequence"""
    with open(path, "w") as f:
        for i in range(n):
            f.write('{"type":"Feature","geometry":{"type":"Point","coordinates":[%.7f,%.7f]},'
                    '"properties":{"id":"%d","sequence_id":"seq%06d","captured_at":%d}}\n'
                    % (-108.5 + (i % 1000) * 1e-5, 39.05 + (i // 1000) * 1e-5, first + i, i // 100,
                       1651366800000 + i))


def run_child(argv, env=None):
    """(wall s, user+sys s, peak RSS KiB) of one child, its own figures:
    bench.py's run forks it from bench/maxrss.c, not from this Python
    process (whose high-water mark a child forked here would report)"""
    r = benchlib.run(argv, env=env)
    return r.wall, r.user + r.sys, r.rss_kb


def tool_run(args, tmp, port, pts, c, size):
    out = os.path.join(tmp, "out")
    shutil.rmtree(out, ignore_errors=True)
    argv = [args.binary, "download_mapillary_imgs", "--input_file_points", pts,
            "--output_images_path", os.path.join(out, "images"), "--output_file_points",
            os.path.join(out, "points.geojsonl"), "--graph_url", "http://127.0.0.1:%d/graph" % port,
            "--concurrency", str(c), "--image_size", size, "--quiet"]
    return run_child(argv, {"MAPILLARY_ACCESS_TOKEN": TOKEN})


def curl_config(tmp, port, n, size, first=10 ** 9):
    """the links the Graph API hands out, as a curl config file"""
    cfg = os.path.join(tmp, "curl-%s.cfg" % size)
    with open(cfg, "w") as f:
        for i in range(n):
            f.write('url = "http://127.0.0.1:%d/cdn/%d/%s.jpg"\noutput = "%s/c/%d.jpg"\n'
                    % (port, first + i, size, tmp, i))
    return cfg


def curl_run(tmp, cfg, c):
    shutil.rmtree(os.path.join(tmp, "c"), ignore_errors=True)
    os.makedirs(os.path.join(tmp, "c"))
    return run_child(["curl", "-s", "--parallel", "--parallel-immediate", "--parallel-max", str(c),
                      "-K", cfg])


def median(xs):
    return statistics.median(xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--big-points", type=int, default=1000000)
    args = ap.parse_args()
    args.binary = os.path.abspath(args.binary)
    tmp = tempfile.mkdtemp(prefix="mly-bench-dl-")
    try:
        jdir = os.path.join(tmp, "jpeg")
        os.makedirs(jdir)
        for size in ("1024", "2048"):
            with open(os.path.join(jdir, size + ".jpg"), "wb") as f:
                f.write(testserver.make_jpeg(size, None))
        kb = {s: os.path.getsize(os.path.join(jdir, s + ".jpg")) / 1024 for s in ("1024", "2048")}
        pts = os.path.join(tmp, "points.geojsonl")
        points(pts, args.images)
        n = args.images
        print("## download_mapillary_imgs (%d images; medians of %d runs)\n" % (n, args.runs))

        # 1. latency-bound: images/s vs C/L and curl
        lat = 50
        srv, port = start_server(tmp, lat, jdir)
        cfg = curl_config(tmp, port, n, "1024")
        print("%d images of %.0f KB, %d ms latency per request (Graph batch of 50 + one per image):\n"
              % (n, kb["1024"], lat))
        print("| client | C | images/s | vs C/L | wall s | CPU ms/image |")
        print("|---|---|---|---|---|---|")
        cpu_per = {}
        for c in (16, 64):
            tool, curl = [], []
            for _ in range(args.runs):  # alternate: the same conditions for both
                tool.append(tool_run(args, tmp, port, pts, c, "1024"))
                curl.append(curl_run(tmp, cfg, c))
            for name, runs in (("mapillary", tool), ("curl --parallel", curl)):
                w = median([r[0] for r in runs])
                cpu = median([r[1] for r in runs])
                ips = n / w
                cl = c / (lat / 1000.0)
                print("| %s | %d | %.0f | %.0f%% | %.2f | %.3f |" % (name, c, ips, 100 * ips / cl, w,
                                                                 1000 * cpu / n))
                if name == "mapillary":
                    cpu_per[c] = 1000 * cpu / n
        stop_server(srv)

        # 2. bandwidth: 2048 images from loopback, no latency
        srv, port = start_server(tmp, 0, jdir)
        cfg = curl_config(tmp, port, n, "2048")
        print("\n%d images of %.0f KB (2048), no latency (loopback):\n" % (n, kb["2048"]))
        print("| client | C | MB/s | images/s | wall s | CPU ms/image |")
        print("|---|---|---|---|---|---|")
        for c in (16,):
            tool, curl = [], []
            for _ in range(args.runs):
                tool.append(tool_run(args, tmp, port, pts, c, "2048"))
                curl.append(curl_run(tmp, cfg, c))
            for name, runs in (("mapillary", tool), ("curl --parallel", curl)):
                w = median([r[0] for r in runs])
                cpu = median([r[1] for r in runs])
                mb = n * kb["2048"] * 1024 / 1e6
                print("| %s | %d | %.0f | %.0f | %.2f | %.3f |" % (name, c, mb / w, n / w, w,
                                                               1000 * cpu / n))
        stop_server(srv)

        # 4. memory: many points, none of whose images the Graph API has
        print("\nPeak RSS of the child with many input points (Graph batches of 50, OUT written, "
              "no image: the Graph API knows none; C=16, no latency):\n")
        print("| points | wall s | peak RSS MB |")
        print("|---|---|---|")
        srv, port = start_server(tmp, 0, jdir, available_below=0)
        rss = {}
        for m in (args.big_points // 10, args.big_points):
            big = os.path.join(tmp, "big.geojsonl")
            points(big, m)
            w, cpu, kib = tool_run(args, tmp, port, big, 16, "1024")
            rss[m] = kib
            print("| %d | %.1f | %.1f |" % (m, w, kib / 1024))
        stop_server(srv)
        lo, hi = args.big_points // 10, args.big_points
        print("\nGrowth: %.1f bytes per point between %d and %d points."
              % ((rss[hi] - rss[lo]) * 1024 / (hi - lo), lo, hi))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
