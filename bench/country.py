#!/usr/bin/env python3
"""country.py -- benchmark of country-sized jobs: a sparse 10^5-tile area with and without --prune_empty, a resumed run, and peak memory at 10^7 images.

    python3 bench/country.py [--quick] [--build DIR] [country] [memory]

Build first (Release):
    cmake -S . -B build-country -G Ninja -DCMAKE_BUILD_TYPE=Release
    ninja -C build-country mapillary

Figures only, nothing is asserted. Inputs are made under
bench/data/country/ (git-ignored) and reused when their parameters did not
change (a .stamp file records them). Every table row carries the command
that reproduces it, to be run from the repository root.

1. country: an irregular polygon (with a lake) over about 10^5 z14 tiles
   of which about 1.8% hold images (towns, and roads between them, written
   by tools/mvtgen.py over small tile-aligned bboxes), plus zoom-5 tiles
   whose `overview` layer has one point at the centre of every z13 cell
   holding images. Served by bench/fastserver.py when it exists (else
   tests/integration/server.py) at latency 0; the tool runs with --cache
   (empty at the start) and --concurrency 64: (a) without --prune_empty,
   (b) with it, (a) again with the cache on tmpfs and without --cache (what
   the cache's per-tile commits cost), (c) without --prune_empty,
   --max_requests repeatedly until it exits 0 (cache on tmpfs, to keep the
   benchmark short).
2. memory: the 30,000-image dense tile (bench/mkdata.py) as 334 copies with
   their own ids, 10^7 images, read through file://; peak RSS, wall and CPU
   time; outputs (~3.4 GB) removed afterwards.
"""

import argparse
import bisect
import hashlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import bench  # noqa: E402  (run, show, table: the same measuring as bench.py)
import mkdata  # noqa: E402
from mkdata import mvtgen  # noqa: E402

DATA = os.path.join(HERE, "data", "country")  # --quick: its own subfolder, quick/
DUMMY_TOKEN = "bench-dummy"  # checked by the local server only; no secret
# no Graph API: a file:// root the tool never asks (no ids above 2^53 here)
ENV = {"MAPILLARY_ACCESS_TOKEN": DUMMY_TOKEN, "MAPILLARY_GRAPH_URL": "file:///none"}
Z = 14
CONCURRENCY = 64
GEN_VERSION = "country/3"  # bump when the generator changes what it writes


# ---- the country --------------------------------------------------------------

class Country:
    """Sizes of one country layout. The centre sits on a corner of four
    zoom-5 tiles, so that the prune step has several overview tiles to read
    (and one of them may hold no point)."""

    def __init__(self, quick):
        self.tiles = 5000 if quick else 100000   # wanted z14 tiles in the AOI
        w, _, _, n = mvtgen.tile_bounds(5, 17, 11)
        self.lon, self.lat = w, n                # the z5 corner of x 16/17, y 10/11
        self.seed = 2024
        # towns: (count, side in tiles); roads join the first town to others
        scale = 0.05 if quick else 1.0
        self.towns = [(1, 10), (max(1, int(6 * scale)), 5), (max(2, int(25 * scale)), 3),
                      (max(2, int(40 * scale)), 2)]
        self.roads = max(2, int(6 * scale))
        self.budget = 1000 if quick else 20000   # --max_requests of the resumed run

    def params(self):
        return "%s tiles=%d centre=%.4f,%.4f seed=%d towns=%s roads=%d" % (
            GEN_VERSION, self.tiles, self.lon, self.lat, self.seed, self.towns, self.roads)


def outline(c, rng):
    """The AOI in z14 tile units (floats): an outer ring whose radius wobbles
    with a few harmonics plus jitter (a coastline of sorts), and one lake.
    Scaled so that the outer ring's area is c.tiles (less the lake)."""
    cx, cy = mvtgen.lonlat_to_global(Z, c.lon, c.lat, 1)
    n = 360
    phases = [rng.uniform(0, 2 * math.pi) for _ in range(4)]
    radii = []
    for i in range(n):
        t = 2 * math.pi * i / n
        r = (1.0 + 0.20 * math.sin(3 * t + phases[0]) + 0.12 * math.cos(5 * t + phases[1])
             + 0.06 * math.sin(9 * t + phases[2]) + 0.03 * math.sin(17 * t + phases[3])
             + rng.uniform(-0.015, 0.015))
        radii.append(r)
    # area of the unit shape (shoelace), then the radius that gives c.tiles
    unit = [(r * math.cos(2 * math.pi * i / n), r * math.sin(2 * math.pi * i / n))
            for i, r in enumerate(radii)]
    area = 0.5 * abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1)
                         in zip(unit, unit[1:] + unit[:1])))
    lake_frac = 0.01
    R = math.sqrt(c.tiles / (area * (1 - lake_frac)))
    outer = [(cx + R * x, cy + R * y) for x, y in unit]
    # the lake: a small ellipse off centre, clockwise
    lr = R * math.sqrt(lake_frac * area / math.pi)
    lx, ly = cx - 0.35 * R, cy + 0.2 * R
    lake = [(lx + 1.4 * lr * math.cos(-2 * math.pi * i / 40),
             ly + 0.7 * lr * math.sin(-2 * math.pi * i / 40)) for i in range(40)]
    return [outer, lake]


def ring_lonlat(ring):
    out = []
    for gx, gy in ring:
        lon, lat = mvtgen.pixel_to_lonlat(Z, 0, 0, gx, gy, 1)
        out.append((lon, lat))
    return out


def write_aoi(path, rings):
    # y grows southwards in tile units, so each ring turns the other way on
    # the map: reversed, the outer ring is counter-clockwise and the lake
    # clockwise, as RFC 7946 wants
    lls = [ring_lonlat(r)[::-1] for r in rings]
    coords = [[[round(lon, 7), round(lat, 7)] for lon, lat in r + r[:1]] for r in lls]
    doc = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": "sparse country"},
        "geometry": {"type": "Polygon", "coordinates": coords}}]}
    mkdata.write_atomic(path, (json.dumps(doc) + "\n").encode("ascii"))


class Inside:
    """Which z14 tiles have their centre inside the rings (even-odd): per
    tile row, the sorted x crossings of the row's centre line."""

    def __init__(self, rings):
        edges = []
        for ring in rings:
            edges += list(zip(ring, ring[1:] + ring[:1]))
        ys = [p[1] for ring in rings for p in ring]
        self.y0, self.y1 = int(math.floor(min(ys))), int(math.ceil(max(ys)))
        self.rows = {}
        for ty in range(self.y0, self.y1 + 1):
            yc = ty + 0.5
            xs = []
            for (x0, y0), (x1, y1) in edges:
                if (y0 <= yc) != (y1 <= yc):
                    xs.append(x0 + (yc - y0) * (x1 - x0) / (y1 - y0))
            self.rows[ty] = sorted(xs)

    def __call__(self, tx, ty):
        xs = self.rows.get(ty)
        return bool(xs) and bisect.bisect_left(xs, tx + 0.5) % 2 == 1

    def count(self):
        n = 0
        for xs in self.rows.values():
            for a, b in zip(xs[0::2], xs[1::2]):
                n += max(0, math.floor(b - 0.5) - math.ceil(a - 0.5) + 1)
        return n


def tile_bbox(x0, y0, x1, y1):
    """The bbox of tiles x0..x1, y0..y1, two z14 pixels inside their outer
    edges, so that mvtgen's walks write no tile outside the block."""
    w, _, _, n = mvtgen.tile_bounds(Z, x0, y0)
    _, s, e, _ = mvtgen.tile_bounds(Z, x1, y1)
    mx = (e - w) / (x1 - x0 + 1) / 4096 * 2
    my = (n - s) / (y1 - y0 + 1) / 4096 * 2
    return (w + mx, s + my, e - mx, n - my)


def generate(opts_kw, bbox, seed):
    opts = mvtgen.GenOptions(bbox=bbox, seed=seed, big_id_rate=0.0, **opts_kw)
    tiles, truth = mvtgen.generate_area(opts)
    return tiles, len(truth)


def make_country(c):
    """Writes DATA/tiles/{z}/{x}/{y}.mvt and DATA/aoi.geojson; returns the
    facts about them (also kept in DATA/country.json)."""
    tiles_dir = os.path.join(DATA, "tiles")
    facts_path = os.path.join(DATA, "country.json")
    params = c.params()
    if os.path.isdir(tiles_dir) and mkdata.stamp_ok(tiles_dir, params) and \
            os.path.exists(facts_path):
        with open(facts_path) as f:
            return json.load(f)
    t0 = time.monotonic()
    if os.path.isdir(tiles_dir):
        shutil.rmtree(tiles_dir)
    rng = random.Random(c.seed)
    rings = outline(c, rng)
    aoi = os.path.join(DATA, "aoi.geojson")
    write_aoi(aoi, rings)
    inside = Inside(rings)
    xs = [p[0] for p in rings[0]]
    xlo, xhi = int(min(xs)), int(max(xs))

    used = set()     # tiles taken by a town or a road
    written = {}     # (x, y) -> bytes
    images = 0
    seed = c.seed * 1000

    def block_free(x0, y0, side, margin):
        for x in range(x0 - margin, x0 + side + margin):
            for y in range(y0 - margin, y0 + side + margin):
                if (x, y) in used or not inside(x, y):
                    return False
        return True

    def put(tiles):
        for (z, x, y), data in tiles.items():
            if (x, y) in written:
                raise AssertionError("tile %d/%d/%d written twice" % (z, x, y))
            written[(x, y)] = data

    # towns: square blocks of tiles, images from walks inside each block
    towns = []
    for count, side in c.towns:
        for _ in range(count):
            for _attempt in range(10000):
                x0 = rng.randint(xlo, xhi - side)
                y0 = rng.randint(inside.y0, inside.y1 - side)
                if block_free(x0, y0, side, 2):
                    break
            else:
                raise RuntimeError("no room for a town of %d tiles" % side)
            for x in range(x0, x0 + side):
                for y in range(y0, y0 + side):
                    used.add((x, y))
            towns.append((x0 + side / 2.0, y0 + side / 2.0))
            seed += 1
            # about 2 sequences of 60 images 15 m apart per tile of the block
            tiles, n = generate({"sequences": 2 * side * side, "points_per_seq": 60,
                                 "step": 15.0}, tile_bbox(x0, y0, x0 + side - 1, y0 + side - 1),
                                seed)
            put(tiles)
            images += n
    # roads: the capital to other towns, tile by tile along the straight
    # line; one sequence per tile, in the tile (a 1-tile bbox)
    road_tiles = 0
    for k in range(c.roads):
        (ax, ay), (bx, by) = towns[0], towns[1 + k % (len(towns) - 1)]
        if k >= len(towns) - 1:
            ax, ay = towns[k % len(towns)]
        # one tile per step along the longer axis: an 8-connected line
        steps = int(max(abs(bx - ax), abs(by - ay))) + 1
        for i in range(steps + 1):
            tx = int(math.floor(ax + (bx - ax) * i / steps))
            ty = int(math.floor(ay + (by - ay) * i / steps))
            if (tx, ty) in used or not inside(tx, ty):
                continue
            used.add((tx, ty))
            seed += 1
            tiles, n = generate({"sequences": 1, "points_per_seq": 40, "step": 25.0},
                                tile_bbox(tx, ty, tx, ty), seed)
            put(tiles)
            images += n
            road_tiles += 1
    nbytes = 0
    for (x, y), data in written.items():
        mkdata.write_atomic(os.path.join(tiles_dir, str(Z), str(x), "%d.mvt" % y), data)
        nbytes += len(data)
    # overview: one point per z13 cell with images, at the cell's centre in
    # the pixels of its z5 tile (a z13 cell is 16 pixels there, extent 4096)
    cells = sorted({(x >> 1, y >> 1) for x, y in written}, key=lambda t: (t[1], t[0]))
    by_z5 = {}
    for cx, cy in cells:
        by_z5.setdefault((cx >> 8, cy >> 8), []).append(((cx & 255) * 16 + 8, (cy & 255) * 16 + 8))
    for (x5, y5), pts in sorted(by_z5.items()):
        layer = mvtgen.Layer("overview", 4096)
        for i, p in enumerate(pts):
            layer.add_feature(1, mvtgen.geom_points([p]), fid=i + 1)
        mkdata.write_atomic(os.path.join(tiles_dir, "5", str(x5), "%d.mvt" % y5),
                            mvtgen.encode_tile([layer]))
    z5_span = ((xhi >> 9) - (xlo >> 9) + 1) * ((inside.y1 >> 9) - (inside.y0 >> 9) + 1)
    facts = {"aoi": os.path.relpath(aoi, REPO), "tiles_inside": inside.count(),
             "data_tiles": len(written), "town_tiles": sum(n * s * s for n, s in c.towns),
             "towns": len(towns), "roads": c.roads, "road_tiles": road_tiles,
             "images": images, "bytes": nbytes, "cells": len(cells),
             "z5_with_points": len(by_z5), "z5_span": z5_span,
             "seconds": round(time.monotonic() - t0, 1)}
    mkdata.write_atomic(facts_path, (json.dumps(facts, indent=1) + "\n").encode())
    mkdata.stamp_write(tiles_dir, params)
    return facts


# ---- the server ------------------------------------------------------------------

def server_script():
    """bench/fastserver.py if it exists (another benchmark's faster server),
    else tests/integration/server.py."""
    fast = os.path.join(HERE, "fastserver.py")
    if os.path.exists(fast):
        return fast
    return os.path.join(REPO, "tests", "integration", "server.py")


class Server:
    """server_script() on a free port at latency 0. Requests are counted by
    the server: fastserver.py's --count-file, or the lines of server.py's
    --log; stop() returns {"total": n}."""

    def __init__(self, root, tag):
        self.argv = self.argv_for(root, tag)
        self.fast = self.argv[1].endswith("fastserver.py")
        self.port_file, self.log = self.argv[5], self.argv[-1]
        for p in (self.port_file, self.log):
            if os.path.exists(p):
                os.unlink(p)
        self.proc = subprocess.Popen(self.argv, cwd=REPO, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60  # fastserver.py reads every tile first
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                sys.exit("country: %s did not start" % rel(self.argv[1]))
            time.sleep(0.05)
        with open(self.port_file) as f:
            self.port = int(f.read())
        self.url = "http://127.0.0.1:%d/tiles/{z}/{x}/{y}" % self.port
        self.subst = {"127.0.0.1:%d" % self.port: "127.0.0.1:$(cat %s)" % rel(self.port_file)}

    @staticmethod
    def argv_for(root, tag):
        script = server_script()
        fast = script.endswith("fastserver.py")
        log = os.path.join(DATA, "server-%s.%s" % (tag, "count" if fast else "jsonl"))
        return [sys.executable, script, "--root", root, "--port-file",
                os.path.join(DATA, "server.port"), "--token", DUMMY_TOKEN, "--latency-ms", "0",
                "--max-seconds", "3600", "--count-file" if fast else "--log", log]

    @staticmethod
    def shown_for(root, tag):
        a = ["python3"] + [rel(x) if x.startswith(REPO + "/") else x
                           for x in Server.argv_for(root, tag)[1:]]
        return " ".join(a) + " &"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        total = None
        if os.path.exists(self.log):
            with open(self.log) as f:
                if self.fast:
                    total = int(f.read().strip() or 0)
                else:
                    total = sum(1 for ln in f if json.loads(ln).get("tile"))
        return {"total": total}


# ---- runs --------------------------------------------------------------------------

def tool_argv(binary, aoi, url, tag, cache, extra=()):
    out = os.path.join(DATA, "out")
    os.makedirs(out, exist_ok=True)
    argv = [binary, "get_mapillary_points", "--input_aoi=" + aoi, "--tiles_url=" + url,
            "--output_file_point=" + os.path.join(out, tag + "_points.geojson"),
            "--output_file_sequence=" + os.path.join(out, tag + "_sequences.geojson")]
    if cache:
        argv.append("--cache=" + cache)
    return argv + list(extra)


def outputs(tag):
    out = os.path.join(DATA, "out")
    return [os.path.join(out, tag + s) for s in ("_points.geojson", "_sequences.geojson")]


def remove(paths):
    for p in paths:
        for q in (p, p + "-wal", p + "-shm", p + "-journal"):
            if os.path.exists(q):
                os.unlink(q)


def digest(paths):
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                h.update(b)
        h.update(b"\0")
    return h.hexdigest()


def rel(p):
    return os.path.relpath(p, REPO)


REQ_RE = re.compile(r"(\d+) tiles requested \((\d+) with data")
SPENT_RE = re.compile(r"--max_requests (\d+) spent, (\d+) of (\d+) tiles remain")


def fetched(r):
    """(z14 tiles requested, with data) from the summary, or (None, None)."""
    m = REQ_RE.search(r.stderr)
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)


def requests_made(r):
    """Requests of one run: the summary's "N requests", or for a run the
    budget stopped (no summary) the budget it says it spent."""
    if r.requests is not None:
        return r.requests
    m = SPENT_RE.search(r.stderr)
    return int(m.group(1)) if m else None


def n(x):
    return bench.fmt_int(x) if x is not None else "?"


def dry_run(binary, aoi, url):
    """The tool's --dry_run: tiles the AOI needs."""
    argv = [binary, "get_mapillary_points", "--input_aoi=" + aoi, "--tiles_url=" + url,
            "--dry_run"]
    p = subprocess.run(argv, cwd=REPO, capture_output=True, text=True,
                       env=dict(os.environ, **ENV))
    m = re.search(r"tiles needed: (\d+)", p.stdout)
    return (int(m.group(1)) if m else None), argv


def tmpfs_dir():
    """A directory on tmpfs for caches whose fsyncs should cost nothing, or
    None when the machine has no /dev/shm."""
    d = "/dev/shm"
    if not os.path.isdir(d) or not os.access(d, os.W_OK):
        return None
    d = os.path.join(d, "mly-country")
    os.makedirs(d, exist_ok=True)
    return d


def bench_country(binary, quick):
    c = Country(quick)
    bench.heading("Country-sized jobs: a sparse country, --prune_empty and resuming")
    facts = make_country(c)
    root = os.path.join(DATA, "tiles")
    aoi = os.path.join(REPO, facts["aoi"])
    needed, dry_argv = dry_run(binary, aoi, "file://" + os.path.join(root, "{z}/{x}/{y}.mvt"))
    shm = tmpfs_dir()
    print("The country: %s, an irregular polygon with a lake; the tool's dry run (`%s`) says "
          "it needs %s z14 tiles. %d towns and %d roads: %s tiles hold %s images (%.2f%% of the "
          "tiles, %.1f MB); the other tiles are missing, so the server answers 404, an empty "
          "tile. Zoom 5: %d overview tiles (of the %d the country's bbox spans) with one point "
          "per z13 cell holding images (%s cells). Generated by `python3 bench/country.py%s` "
          "into %s in %.0f s (skipped when there). Server: `%s` (fresh for each row) at latency "
          "0; the tool with --cache (empty at the start of each row) and --concurrency %d, env "
          "MAPILLARY_ACCESS_TOKEN=%s (a dummy the local server checks) and "
          "MAPILLARY_GRAPH_URL=file:///none (no Graph API). Times and peak RSS are the tool's "
          "(wait4 rusage); requests are the tool's summary (\"N requests\", or \"--max_requests "
          "N spent\") and the server's own count." %
          (facts["aoi"], bench.show(dry_argv, ENV, time_it=False).replace("|", "\\|"),
           n(needed), facts["towns"], facts["roads"], n(facts["data_tiles"]),
           n(facts["images"]), 100.0 * facts["data_tiles"] / max(1, needed or 1),
           facts["bytes"] / 1e6, facts["z5_with_points"], facts["z5_span"], n(facts["cells"]),
           " --quick" if quick else "", rel(root), facts["seconds"],
           Server.shown_for(root, "a"), CONCURRENCY, DUMMY_TOKEN))
    print()
    rows = []
    digests = {}
    results = {}

    def cache_path(tag, on_tmpfs):
        return os.path.join(shm if on_tmpfs else DATA, "%s.mbtiles" % tag)

    def row(tag, label, runs, counts, cache, argv, srv, loop=False):
        digests[tag] = digest(outputs(tag))
        remove(outputs(tag))
        reqs = [requests_made(r) for r in runs]
        total = sum(reqs) if None not in reqs else None
        tiles, with_data = fetched(runs[-1]) if len(runs) == 1 else (None, None)
        if len(runs) > 1:
            # each run's summary counts what it fetched; the budget-stopped
            # ones fetched their budget
            tiles = total
            with_data = fetched(runs[-1])[1]
        z5 = total - tiles if total is not None and tiles is not None else None
        results[tag] = {"requests": total, "wall": sum(r.wall for r in runs), "runs": runs}
        shown = bench.show(argv, ENV, time_it=not loop, subst=srv.subst)
        cmd = "until %s; do :; done" % shown if loop else shown
        if cache:
            shown_cache = rel(cache) if cache.startswith(REPO + "/") else cache
            cmd = ("" if cache.startswith(DATA) else "mkdir -p %s; " % os.path.dirname(cache)) + \
                "rm -f %s*; " % shown_cache + cmd
        rows.append([label, len(runs), n(total), n(counts.get("total")), n(z5),
                     "%s (%s with data)" % (n(tiles), n(with_data)),
                     n(runs[-1].kept), bench.fmt(sum(r.wall for r in runs)),
                     bench.fmt(sum(r.cpu for r in runs)),
                     bench.fmt(max(r.rss_kb for r in runs) / 1024, 1), digests[tag][:12],
                     bench.code(cmd)])

    def one(tag, label, extra, on_tmpfs=False, no_cache=False):
        cache = None if no_cache else cache_path(tag, on_tmpfs)
        remove(([cache] if cache else []) + outputs(tag))
        srv = Server(root, tag)
        try:
            argv = tool_argv(binary, aoi, srv.url, tag, cache,
                             ["--concurrency=%d" % CONCURRENCY] + extra)
            r = bench.run(argv, ENV)
        finally:
            counts = srv.stop()
            if cache:
                remove([cache])
        row(tag, label, [r], counts, cache, argv, srv)

    one("a", "(a) without --prune_empty", [])
    one("b", "(b) with --prune_empty", ["--prune_empty"])
    if shm:
        one("a_shm", "(a) again, cache on tmpfs", [], on_tmpfs=True)
    one("a_none", "(a) again, no --cache", [], no_cache=True)

    # (c) resumed: the same command with a budget, again until it exits 0
    tag = "c"
    cache = cache_path(tag, bool(shm))
    remove([cache] + outputs(tag))
    srv = Server(root, tag)
    runs = []
    try:
        argv = tool_argv(binary, aoi, srv.url, tag, cache,
                         ["--concurrency=%d" % CONCURRENCY, "--max_requests=%d" % c.budget])
        while True:
            r = bench.run(argv, ENV, check=False)
            runs.append(r)
            if r.rc == 0:
                break
            if r.rc != 3 or len(runs) > 50:
                sys.exit("country: resumed run %d exited %d:\n%s" %
                         (len(runs), r.rc, r.stderr.strip()[-2000:]))
    finally:
        counts = srv.stop()
        remove([cache])
    row(tag, "(c) resumed: --max_requests=%d until exit 0%s" %
        (c.budget, ", cache on tmpfs" if shm else ""), runs, counts, cache, argv, srv, loop=True)
    if shm:
        shutil.rmtree(shm, ignore_errors=True)

    bench.table(["run", "runs", "requests (tool)", "requests (server)", "z5 requests",
                 "z14 tiles fetched", "images kept", "wall s", "CPU s (user+sys)",
                 "peak RSS MB", "outputs sha256", "command"], rows)
    same = sorted(t for t in digests if digests[t] == digests["a"])
    a, b = results["a"], results["b"]
    print("Outputs (points and sequences files): %s." % (
        "all %d runs byte-identical" % len(digests) if len(same) == len(digests) else
        "DIFFER: %s" % ", ".join("%s %s" % (t, d[:12]) for t, d in sorted(digests.items()))))
    print()
    kept = fetched(b["runs"][0])[0]
    print("--prune_empty: %s requests instead of %s (%.1f%%), wall time %s s instead of %s s "
          "(%.0fx less). It keeps whole z13 cells: it fetched %s z14 tiles; the %s z13 cells "
          "with an overview point hold 4 each (%s), and %s z14 tiles hold images." %
          (n(b["requests"]), n(a["requests"]),
           100.0 * (b["requests"] or 0) / max(1, a["requests"] or 1),
           bench.fmt(b["wall"]), bench.fmt(a["wall"]), a["wall"] / max(1e-9, b["wall"]),
           n(kept), n(facts["cells"]), n(4 * facts["cells"]), n(facts["data_tiles"])))
    print()
    cr = results["c"]
    per_run = ", ".join("%s (exit %d)" % (n(requests_made(r)), r.rc) for r in runs)
    print("Resumed: %d runs, %s requests in all (%s), %s (a)'s %s. Requests per run: %s." %
          (len(runs), n(cr["requests"]), "tool; server %s" % n(counts.get("total")),
           "equal to" if cr["requests"] == a["requests"] else "NOT equal to",
           n(a["requests"]), per_run))
    print()
    if shm:
        print("Where the time goes: the cache commits every tile, empty ones too, in its own "
              "transaction (WAL, synchronous=NORMAL: a commit returns once the WAL holds the "
              "tile, and the WAL is synced at checkpoints; README \"Big jobs\"): (a) took %s s "
              "on disk, %s s with the cache on tmpfs "
              "(/dev/shm, where fsync costs nothing) and %s s without --cache; %.1f ms per tile "
              "more on disk than on tmpfs. The resumed run (c) uses tmpfs too, so that this "
              "benchmark stays within ~15 minutes; on disk it would cost what (a) costs." %
              (bench.fmt(a["wall"]), bench.fmt(results["a_shm"]["wall"]),
               bench.fmt(results["a_none"]["wall"]),
               1000.0 * (a["wall"] - results["a_shm"]["wall"]) / max(1, a["requests"] or 1)))
        print()


# ---- memory at 10^7 images -------------------------------------------------------

MEM_X0, MEM_Y0 = 3241, 6253  # the block of bench/mkdata.py, laid out differently


def make_mem_block(cols, rows):
    """DATA/block/14/X/Y.mvt: the dense tile at cols x rows positions, copy k
    (k = c + r * cols) with ids lowered by k * 2^20 and sequence ids
    suffixed with k (mkdata.ImageLayer)."""
    dense = mkdata.make_dense()
    params = "%s ID_DELTA=%d layout=%dx%d" % (open(dense + ".stamp").read(), mkdata.ID_DELTA,
                                              cols, rows)
    root = os.path.join(DATA, "block")
    if os.path.isdir(root) and mkdata.stamp_ok(root, params):
        return root
    if os.path.isdir(root):
        shutil.rmtree(root)
    with open(dense, "rb") as f:
        layer = mkdata.ImageLayer(f.read())
    for r in range(rows):
        for c in range(cols):
            k = c + r * cols
            mkdata.write_atomic(os.path.join(root, str(Z), str(MEM_X0 + c),
                                             "%d.mvt" % (MEM_Y0 + r)), layer.copy(k))
    mkdata.stamp_write(root, params)
    return root


def bench_memory(binary, quick):
    cols, rows = (5, 2) if quick else (167, 2)
    bench.heading("Peak memory at 10^7 images")
    t0 = time.monotonic()
    root = make_mem_block(cols, rows)
    made = time.monotonic() - t0
    mkdata.warm(root)
    bbox = "%.7f,%.7f,%.7f,%.7f" % mkdata.tiles_bbox(MEM_X0, MEM_Y0, cols, rows)
    url = "file://" + os.path.join(root, "{z}", "{x}", "{y}.mvt")
    tag = "mem"
    remove(outputs(tag))
    argv = tool_argv(binary, bbox, url, tag, None)
    try:
        r = bench.run(argv)
        sizes = [os.path.getsize(p) for p in outputs(tag)]
    finally:
        remove(outputs(tag))
    print("The 30,000-image dense tile (`python3 bench/mkdata.py dense`) at %d positions "
          "(%dx%d) under %s, each copy with its own image and sequence ids (mkdata.ImageLayer; "
          "%s, %s), read through file:// (page cache warmed), "
          "bbox covering exactly those tiles; outputs under %s, removed after the run." %
          (cols * rows, cols, rows, rel(root), "%.0f MB" % (sum(
              os.path.getsize(os.path.join(b, f)) for b, _, fs in os.walk(root)
              for f in fs if f.endswith(".mvt")) / 1e6),
           "made in %.0f s" % made if made > 1 else "made by an earlier run", rel(os.path.join(DATA, "out"))))
    print()
    bench.table(["tiles", "images seen", "kept", "peak RSS MB", "RSS bytes/kept image",
                 "wall s", "CPU s (user+sys)", "kept images/s (wall)", "points file MB",
                 "sequences file MB", "command"],
                [[r.tiles, bench.fmt_int(r.seen), bench.fmt_int(r.kept),
                  bench.fmt(r.rss_kb / 1024, 1), bench.fmt(r.rss_kb * 1024 / r.kept, 0),
                  bench.fmt(r.wall), "%s (%s+%s)" % (bench.fmt(r.cpu), bench.fmt(r.user),
                                                     bench.fmt(r.sys)),
                  bench.fmt_int(r.kept / r.wall), bench.fmt(sizes[0] / 1e6, 1),
                  bench.fmt(sizes[1] / 1e6, 1), bench.code(bench.show(argv))]])


# ---- main --------------------------------------------------------------------------

def main(argv):
    ap = argparse.ArgumentParser(description="country-sized jobs benchmark (figures, not tests)")
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    ap.add_argument("--build", default=os.path.join(REPO, "build-country"),
                    help="build directory holding mapillary (default build-country)")
    ap.add_argument("which", nargs="*", help="country, memory (default both)")
    a = ap.parse_args(argv)
    for w in a.which:
        if w not in ("country", "memory"):
            ap.error("unknown benchmark %s" % w)
    binary = os.path.join(os.path.abspath(a.build), "mapillary")
    if not os.access(binary, os.X_OK):
        sys.exit("country: %s is missing: cmake -S . -B %s -G Ninja -DCMAKE_BUILD_TYPE=Release "
                 "&& ninja -C %s mapillary" % (rel(binary), rel(a.build), rel(a.build)))
    global DATA
    if a.quick:
        # apart from the full-size inputs, which take a while to make again
        DATA = os.path.join(DATA, "quick")
    os.makedirs(DATA, exist_ok=True)
    t0 = time.monotonic()
    print("# Country-sized jobs%s" % (" (quick)" if a.quick else ""))
    print()
    print("%s; nproc %d; %s; %s. Commands run from the repository root." %
          (time.strftime("%Y-%m-%d %H:%M:%S %Z"), os.cpu_count(), bench.cpu_model(),
           bench.load()))
    print()
    if not a.which or "country" in a.which:
        bench_country(binary, a.quick)
    sys.stdout.flush()
    if not a.which or "memory" in a.which:
        bench_memory(binary, a.quick)
    print("Finished in %.0f s, %s." % (time.monotonic() - t0, bench.load()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
