#!/usr/bin/env python3
"""compare_gdal.py -- check our MVT decoder against GDAL's independent MVT driver.

For every tile <fixtures>/<z>/<x>/<y>.mvt, runs
    mvt_dump <file> <z> <x> <y> image
    ogrinfo -ro -al -oo X=<x> -oo Y=<y> -oo Z=<z> MVT:<file> image
and asserts, feature by feature (matched by index), that lon/lat agree
within --tolerance degrees and the sequence_id values are equal, and that
both report the same number of features. GDAL gives EPSG:3857 metres; they
are turned into degrees here. Prints "N passed, M failed" (one check per
feature plus one per tile count) and exits 1 on any mismatch, or if
ogrinfo is missing or there is no tile to compare.

usage: compare_gdal.py --dump <mvt_dump> --fixtures <dir> [--ogrinfo <ogrinfo>]
"""
import argparse
import math
import os
import re
import shutil
import subprocess
import sys

EARTH_RADIUS = 6378137.0  # WGS 84 semi-major axis, the EPSG:3857 sphere
LAYER = "image"


def mercator_to_lonlat(mx, my):
    lon = math.degrees(mx / EARTH_RADIUS)
    lat = math.degrees(2.0 * math.atan(math.exp(my / EARTH_RADIUS)) - math.pi / 2.0)
    return lon, lat


def find_tiles(root):
    """Yield (path, z, x, y) for every <z>/<x>/<y>.mvt below root, sorted."""
    out = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            m = re.search(r"(\d+)/(\d+)/(\d+)\.mvt$", path.replace(os.sep, "/"))
            if m:
                out.append((path, int(m.group(1)), int(m.group(2)), int(m.group(3))))
    return sorted(out)


def run(cmd):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (cmd[0], proc.returncode, proc.stderr.strip()))
    return proc.stdout


def ours(dump, path, z, x, y):
    """index -> (lon, lat, sequence_id or None) from mvt_dump."""
    feats = {}
    for line in run([dump, path, str(z), str(x), str(y), LAYER]).splitlines():
        idx, lon, lat, seq = line.split("\t", 3)
        feats[int(idx)] = (float(lon), float(lat), None if seq == "(null)" else seq)
    return feats


FEATURE_RE = re.compile(r"^OGRFeature\(([^)]*)\):(\d+)$")
FIELD_RE = re.compile(r"^  (\w+) \(([^)]*)\) = ?(.*)$")
POINT_RE = re.compile(r"^  POINT \((\S+) (\S+)\)$")


def gdal(ogrinfo, path, z, x, y):
    """index -> (lon, lat, sequence_id or None) from ogrinfo's text report."""
    text = run([ogrinfo, "-ro", "-al", "-oo", "X=%d" % x, "-oo", "Y=%d" % y, "-oo", "Z=%d" % z,
                "MVT:" + path, LAYER])
    feats = {}
    cur = None
    for line in text.splitlines():
        m = FEATURE_RE.match(line)
        if m:
            cur = int(m.group(2)) if m.group(1) == LAYER else None
            if cur is not None:
                feats[cur] = [None, None, None]
            continue
        if cur is None:
            continue
        m = FIELD_RE.match(line)
        if m and m.group(1) == "sequence_id":
            feats[cur][2] = m.group(3)
            continue
        m = POINT_RE.match(line)
        if m:
            feats[cur][0], feats[cur][1] = mercator_to_lonlat(float(m.group(1)), float(m.group(2)))
        elif line.startswith("  MULTIPOINT") or line.startswith("  POINT EMPTY"):
            feats[cur][0] = feats[cur][1] = float("nan")
    return {k: tuple(v) for k, v in feats.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dump", required=True, help="path of the mvt_dump program")
    ap.add_argument("--fixtures", required=True, help="folder holding <z>/<x>/<y>.mvt tiles")
    ap.add_argument("--ogrinfo", default="ogrinfo", help="ogrinfo program (from gdal-bin)")
    ap.add_argument("--tolerance", type=float, default=1e-9, help="degrees")
    args = ap.parse_args()

    ogrinfo = shutil.which(args.ogrinfo)
    if not ogrinfo:
        print("compare_gdal: ogrinfo not found (install gdal-bin)", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    tiles = find_tiles(args.fixtures)
    if not tiles:
        print("compare_gdal: no <z>/<x>/<y>.mvt tile under %s" % args.fixtures, file=sys.stderr)
        print("0 passed, 1 failed")
        return 1

    passed = failed = 0
    for path, z, x, y in tiles:
        name = "%d/%d/%d" % (z, x, y)
        try:
            a = ours(args.dump, path, z, x, y)
            b = gdal(ogrinfo, path, z, x, y)
        except (RuntimeError, ValueError, OSError) as e:
            print("FAIL %s: %s" % (name, e))
            failed += 1
            continue
        tile_failed = 0
        worst = 0.0
        if len(a) == len(b) and len(a) > 0:
            passed += 1
        else:
            print("FAIL %s: %d features, GDAL has %d" % (name, len(a), len(b)))
            failed += 1
        for i in sorted(set(a) | set(b)):
            if i not in a or i not in b:
                print("FAIL %s feature %d: only in %s" % (name, i, "ours" if i in a else "GDAL"))
                tile_failed += 1
                continue
            lon_a, lat_a, seq_a = a[i]
            lon_b, lat_b, seq_b = b[i]
            d = max(abs(lon_a - lon_b), abs(lat_a - lat_b))
            if not d <= args.tolerance:  # also catches NaN
                print("FAIL %s feature %d: ours %.17g %.17g, GDAL %.17g %.17g (diff %g deg)"
                      % (name, i, lon_a, lat_a, lon_b, lat_b, d))
                tile_failed += 1
            elif seq_a != seq_b:
                print("FAIL %s feature %d: sequence_id %r, GDAL %r" % (name, i, seq_a, seq_b))
                tile_failed += 1
            else:
                worst = max(worst, d)
        ok = len(set(a) | set(b)) - tile_failed
        passed += ok
        failed += tile_failed
        print("%s: %d features, %d agree, %d differ, largest difference %.3g deg"
              % (name, len(a), ok, tile_failed, worst))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
