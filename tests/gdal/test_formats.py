#!/usr/bin/env python3
"""test_formats.py -- GeoPackage and FlatGeobuf outputs, read back with GDAL.

The real binary runs the bundled example (file:// tiles) once per format;
every .gpkg/.fgb is read back with ogr2ogr (GDAL's own reader, a separate
program) as GeoJSON and compared feature by feature, with value types, to
the GeoJSON output of the same run. Also: field types and the spatial index
(ogrinfo), that GeoJSON runs never load GDAL, a missing module refused
before anything is written, --split_pano keeping the format, and a run
whose conversion fails (file size limit) leaving the old file as it was and
no temporary file behind.

usage: test_formats.py --binary <mapillary> --source <repo>
"""
import argparse
import json
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile

FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILS.append(what)


def run(binary, src, out_p, out_s, extra=(), env=None, preexec=None):
    cmd = [binary, "get_mapillary_points", "--input_aoi=" + os.path.join(src, "examples/aoi.geojson"),
           "--field_name=area", "--timestamp_from=2016-01-01", "--no_id_repair", "--quiet",
           "--tiles_url=file://" + os.path.join(src, "examples/tiles/{z}/{x}/{y}.mvt"),
           "--output_file_point=" + out_p, "--output_file_sequence=" + out_s] + list(extra)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, preexec_fn=preexec)


def gdal_features(path):
    """The features of path's first layer, as GeoJSON, through ogr2ogr"""
    r = subprocess.run(["ogr2ogr", "-f", "GeoJSON", "-lco", "SIGNIFICANT_FIGURES=17",
                        "-lco", "COORDINATE_PRECISION=17", "-lco", "WRITE_NAME=NO",
                        "/vsistdout/", path], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("ogr2ogr %s: %s" % (path, r.stderr))
    return json.loads(r.stdout)["features"]


def typed(v):
    """A value with its JSON type made explicit (True must not equal 1)"""
    if isinstance(v, dict):
        return {k: typed(x) for k, x in v.items()}
    if isinstance(v, list):
        return [typed(x) for x in v]
    return [type(v).__name__, v]


def canon(f):
    props = {k: v for k, v in (f.get("properties") or {}).items() if v is not None}
    return json.dumps({"p": typed(props), "g": typed(f.get("geometry"))}, sort_keys=True)


def compare(label, gj_path, gdal_path, ordered):
    with open(gj_path) as fh:
        want = json.load(fh)["features"]
    got = gdal_features(gdal_path)
    check(len(want) == len(got) and len(want) > 0,
          "%s: %d features, GeoJSON has %d" % (label, len(got), len(want)))
    a, b = [canon(f) for f in want], [canon(f) for f in got]
    if not ordered:  # FlatGeobuf's index orders features along a Hilbert curve
        a.sort()
        b.sort()
    bad = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    check(not bad, "%s: every feature equal to the GeoJSON one, with types%s"
          % (label, "" if not bad else " (first difference at %d: %s vs %s)" % (bad[0], a[bad[0]], b[bad[0]])))


def ogrinfo(*args):
    return subprocess.run(["ogrinfo", "-ro"] + list(args), capture_output=True, text=True).stdout


def fgb_index_node_size(path):
    """FlatGeobuf header field index_node_size (0: no spatial index), read
    from the header's FlatBuffer table by hand: magic (8), header size (4),
    then the root table; field 9 of the Header table, a ushort defaulting
    to 16 when the vtable omits it"""
    with open(path, "rb") as fh:
        b = fh.read(1 << 16)
    if b[:3] != b"fgb":
        return None
    base = 12
    table = base + struct.unpack_from("<I", b, base)[0]
    vtable = table - struct.unpack_from("<i", b, table)[0]
    vlen = struct.unpack_from("<H", b, vtable)[0]
    slot = 4 + 2 * 9
    if slot + 2 > vlen:
        return 16
    off = struct.unpack_from("<H", b, vtable + slot)[0]
    return 16 if off == 0 else struct.unpack_from("<H", b, table + off)[0]


def tmp_leftovers(d):
    return [n for n in os.listdir(d) if ".mly-tmp-" in n]


def csv_properties_named_like_columns(binary, work):
    """A workflow CSV whose features have properties named like its own
    columns (wkt, properties, lon/lat in any case): GDAL's CSV reader sees
    each field once, the geometry from the wkt column, and those properties
    in the `properties` field"""
    d = os.path.join(work, "csv")
    os.makedirs(d)
    props = {"sequence_id": "s1", "wkt": "mine", "properties": "also mine", "LON": 1, "lat": 2}
    with open(os.path.join(d, "in.geojson"), "w") as fh:
        json.dump({"type": "Feature", "properties": props, "geometry": {
            "type": "LineString", "coordinates": [[10, 50], [10.5, 50.5]]}}, fh)
    r = subprocess.run([binary, "merge_sequences", "--geojson_input", os.path.join(d, "in.geojson"),
                        "--geojson_output", os.path.join(d, "out.csv"), "--quiet"],
                       capture_output=True, text=True)
    check(r.returncode == 0, "csv: merge_sequences writes it (%s)" % r.stderr.strip())
    feats = gdal_features(os.path.join(d, "out.csv"))
    info = ogrinfo("-so", "-al", os.path.join(d, "out.csv"))
    fields = [line.split(":")[0].strip() for line in info.splitlines() if ": String" in line]
    check(len(fields) == len(set(f.lower() for f in fields)), "csv: every field name once (%s)" % fields)
    f = feats[0] if len(feats) == 1 else {}
    check(f.get("geometry", {}).get("coordinates") == [[10, 50], [10.5, 50.5]],
          "csv: GDAL's geometry is the wkt column's (%s)" % f.get("geometry"))
    cell = f.get("properties", {}).get("properties") or "{}"
    cell = json.loads(cell) if isinstance(cell, str) else cell  # ogr2ogr writes JSON text as JSON
    check(all(cell.get(k) == props[k] for k in ("wkt", "properties", "LON", "lat")),
          "csv: the properties named like columns are in the properties field (%s)" % cell)


def oversized_gpkg_feature_is_refused(binary, work):
    """A GeoPackage feature larger than a GeoJSON one may be (64 MB) is refused
    as the reader finds it, naming the file and the feature: status 2, no
    output (it was copied whole, then refused by the writer in a message that
    said neither, after some 600 MB and half a minute)"""
    d = os.path.join(work, "big")
    os.makedirs(d)
    with open(os.path.join(d, "small.geojson"), "w") as fh:
        json.dump({"type": "Feature", "properties": {"id": "1", "sequence_id": "s", "x": "a"},
                   "geometry": {"type": "Point", "coordinates": [1, 2]}}, fh)
    big = os.path.join(d, "big.gpkg")
    subprocess.run(["ogr2ogr", "-f", "GPKG", big, os.path.join(d, "small.geojson"), "-nln", "pts"],
                   check=True, capture_output=True)
    subprocess.run(["ogrinfo", big, "-sql", "UPDATE pts SET x = printf('%.*c', 70000000, 'a')"],
                   check=True, capture_output=True)
    out = os.path.join(d, "o", "out.geojson")
    r = subprocess.run([binary, "simplify_points", "--input_points", big, "--points_distance", "1",
                        "--output_points", out, "--quiet"], capture_output=True, text=True)
    err = r.stderr.strip()
    check(r.returncode == 2 and len(err.splitlines()) == 1 and "big.gpkg" in err and
          "feature 0" in err and "larger than 64 MB" in err,
          "oversized gpkg feature: status 2 naming file and feature (%d, %s)" % (r.returncode, err))
    check(not os.path.exists(os.path.dirname(out)), "oversized gpkg feature: no output, no folder")


def symlinked_gis_outputs_are_followed(binary, work):
    """A symlink named as a .gpkg/.fgb output is followed, as for GeoJSON:
    its target gets the new file, the link stays (it was refused as "no
    longer a regular file" at the end, after all the work)"""
    d = os.path.join(work, "links")
    os.makedirs(d)
    src = os.path.join(d, "p.geojson")
    with open(src, "w") as fh:
        json.dump({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"id": str(i), "sequence_id": "s", "captured_at": 1000 + i},
             "geometry": {"type": "Point", "coordinates": [0.001 * i, 0.0]}} for i in range(5)]}, fh)
    for ext in ("gpkg", "fgb"):
        target, link = os.path.join(d, "real." + ext), os.path.join(d, "link." + ext)
        with open(target, "w") as fh:
            fh.write("old")
        os.symlink("real." + ext, link)
        r = subprocess.run([binary, "simplify_points", "--input_points", src, "--points_distance", "1",
                            "--output_points", link, "--quiet"], capture_output=True, text=True)
        check(r.returncode == 0, "symlinked .%s output: status 0 (%s)" % (ext, r.stderr.strip()))
        check(os.path.islink(link) and len(gdal_features(target)) == 5,
              "symlinked .%s output: the link stays, its target has the 5 points" % ext)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--source", required=True)
    a = ap.parse_args()
    binary, src = os.path.abspath(a.binary), os.path.abspath(a.source)
    work = tempfile.mkdtemp(prefix="mly-gdal-test-")
    try:
        gj = os.path.join(work, "gj")
        r = run(binary, src, gj + "/p.geojson", gj + "/s.geojson")
        check(r.returncode == 0, "GeoJSON run: status 0 (%s)" % r.stderr.strip())
        for ext in ("gpkg", "fgb"):
            d = os.path.join(work, ext)
            r = run(binary, src, "%s/p.%s" % (d, ext), "%s/s.%s" % (d, ext))
            check(r.returncode == 0, "%s run: status 0 (%s)" % (ext, r.stderr.strip()))
            for area in ("north", "south"):
                for kind in ("p", "s"):
                    compare("%s %s_%s" % (ext, area, kind), "%s/%s_%s.geojson" % (gj, area, kind),
                            "%s/%s_%s.%s" % (d, area, kind, ext), ordered=ext == "gpkg")
            check(not tmp_leftovers(d), "%s: no temporary file left" % ext)
            info = ogrinfo("-so", "-al", "%s/north_p.%s" % (d, ext))
            for field in ("id: String", "sequence_id: String", "captured_at: Integer64",
                          "compass_angle: Real", "is_pano: Integer(Boolean)", "creator_id: Integer64"):
                check(field in info, "%s points field %s" % (ext, field))
            check("EPSG\",4326" in info, "%s points in EPSG:4326" % ext)
            info = ogrinfo("-so", "-al", "%s/north_s.%s" % (d, ext))
            for field in ("total_points: Integer64", "captured_at_start: Integer64",
                          "images_id: String", "is_pano: Integer(Boolean)"):
                check(field in info, "%s sequences field %s" % (ext, field))
            check("Geometry: Line String" in info, "%s sequences are line strings" % ext)

        # spatial index: GeoPackage's R-tree holds every feature; FlatGeobuf's
        # search reports it uses the packed R-tree
        with open(gj + "/north_p.geojson") as fh:
            n = len(json.load(fh)["features"])
        out = ogrinfo(work + "/gpkg/north_p.gpkg", "-sql", "SELECT COUNT(*) AS n FROM rtree_north_p_geom")
        check(("n (Integer) = %d" % n) in out, "gpkg R-tree holds the %d points" % n)
        node = fgb_index_node_size(work + "/fgb/north_p.fgb")
        check(node is not None and node > 0, "fgb has a packed R-tree (index_node_size %s)" % node)

        # GeoJSON and CSV runs never load GDAL: the binary does not link it,
        # and a run with the module made unfindable still works
        ldd = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
        check("gdal" not in ldd, "the binary does not link GDAL")
        env = dict(os.environ, MLY_GDAL_MODULE="/nonexistent/libmly_gdal.so")
        d = os.path.join(work, "nogdal")
        r = run(binary, src, d + "/p.geojson", d + "/s.csv", env=env)
        check(r.returncode == 0, "GeoJSON + CSV run without the module: status 0")
        env_dbg = dict(os.environ, LD_DEBUG="files")
        r = run(binary, src, d + "/p2.geojson", d + "/s2.csv", env=env_dbg)
        check("libgdal" not in r.stderr, "GeoJSON + CSV run: libgdal never loaded")
        r = run(binary, src, d + "/p3.gpkg", d + "/s3.geojson", env=env_dbg)
        check("libgdal" in r.stderr, "gpkg run: libgdal loaded")
        r = run(binary, src, d + "/p4.gpkg", d + "/s4.geojson", env=env)
        check(r.returncode == 2 and "GDAL module" in r.stderr and r.stderr.count("\n") == 1,
              "gpkg without the module: status 2, one line (%s)" % r.stderr.strip())
        check(not any(n.startswith(("north_p4", "south_p4", "north_s4", "south_s4")) for n in os.listdir(d)),
              "gpkg without the module: nothing written")

        # a converted file a killed run left (its name pattern, no live
        # owner's lock) is removed by the next run writing there
        d = os.path.join(work, "stale")
        os.makedirs(d)
        stale = os.path.join(d, ".north_p.gpkg.mly-tmp-AbC123.gpkg")
        shutil.copy(os.path.join(work, "gpkg", "north_p.gpkg"), stale)
        r = run(binary, src, d + "/p.gpkg", d + "/s.gpkg")
        check(r.returncode == 0 and not os.path.exists(stale) and not tmp_leftovers(d),
              "a dead run's converted file is swept (%s)" % sorted(os.listdir(d)))

        # --split_pano keeps the format
        d = os.path.join(work, "split")
        r = run(binary, src, d + "/p.gpkg", d + "/s.fgb", extra=["--split_pano"])
        names = sorted(os.listdir(d))
        check(r.returncode == 0 and "north_p__pano.gpkg" in names and "south_s__no__pano.fgb" in names,
              "--split_pano keeps .gpkg/.fgb (%s)" % names)
        out = ogrinfo("-so", d + "/north_p__no__pano.gpkg")
        check("GPKG" in out or "north_p__no__pano" in out, "split output is a GeoPackage")

        # a conversion that fails (the file size limit makes GDAL's writes
        # fail) leaves the old file as it was and nothing else
        d = os.path.join(work, "fail")
        os.makedirs(d)
        old = os.path.join(d, "north_p.gpkg")
        shutil.copy(os.path.join(work, "gpkg", "north_p.gpkg"), old)
        with open(old, "rb") as fh:
            before = fh.read()
        spool = os.path.getsize(os.path.join(gj, "north_p.geojson"))

        def limit():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (spool + 4096, spool + 4096))

        r = run(binary, src, d + "/p.gpkg", d + "/s.geojson", preexec=limit)
        check(r.returncode == 1 and "cannot write" in r.stderr and "p.gpkg" in r.stderr,
              "failed conversion: status 1, says which file (%s)" % r.stderr.strip())
        with open(old, "rb") as fh:
            check(fh.read() == before, "failed conversion: the old file is unchanged")
        check(sorted(os.listdir(d)) == ["north_p.gpkg"],
              "failed conversion: nothing else on disk (%s)" % sorted(os.listdir(d)))
        csv_properties_named_like_columns(binary, work)
        oversized_gpkg_feature_is_refused(binary, work)
        symlinked_gis_outputs_are_followed(binary, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d failed" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
