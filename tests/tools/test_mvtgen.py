#!/usr/bin/env python3
"""test_mvtgen.py -- checks tools/mvtgen.py by decoding what it writes with a reader of its own.

Run: python3 tests/tools/test_mvtgen.py   (stdlib unittest, verbose runner)

The protobuf/MVT reader below shares no code with the encoder on purpose: a
bug in mvtgen's varint or zigzag helpers must not be able to cancel itself out.
"""

import contextlib
import gzip
import io
import json
import math
import os
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TOOL = os.path.join(ROOT, "tools", "mvtgen.py")
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.dont_write_bytecode = True   # leave no __pycache__ in the source tree
import mvtgen  # noqa: E402

REAL = os.path.join(ROOT, "tests", "fixtures", "mapillary-real")
TWO53 = 1 << 53

# ---------------------------------------------------------------------------
# independent minimal protobuf + MVT reader


def rd_varint(b, i):
    shift = 0
    out = 0
    while True:
        if i >= len(b):
            raise ValueError("truncated varint")
        c = b[i]
        i += 1
        out |= (c & 0x7F) << shift
        if c < 0x80:
            return out, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def rd_fields(b):
    """(field number, wire type, value): an int for varints, bytes otherwise."""
    i = 0
    out = []
    while i < len(b):
        key, i = rd_varint(b, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = rd_varint(b, i)
        elif wire == 1:
            v = bytes(b[i:i + 8])
            i += 8
        elif wire == 2:
            n, i = rd_varint(b, i)
            v = bytes(b[i:i + n])
            i += n
        elif wire == 5:
            v = bytes(b[i:i + 4])
            i += 4
        else:
            raise ValueError("bad wire type %d" % wire)
        if i > len(b):
            raise ValueError("truncated field")
        out.append((field, wire, v))
    return out


def rd_packed(b):
    out = []
    i = 0
    while i < len(b):
        v, i = rd_varint(b, i)
        out.append(v)
    return out


def unzigzag(n):
    return (n >> 1) ^ -(n & 1)


def rd_value(b):
    """(kind, python value) of a tile.Value message."""
    f = rd_fields(b)
    assert len(f) == 1, "a Value holds exactly one field"
    field, wire, v = f[0]
    if field == 1:
        assert wire == 2
        return "string", v.decode("utf-8")
    if field == 2:
        assert wire == 5
        return "float", struct.unpack("<f", v)[0]
    if field == 3:
        assert wire == 1
        return "double", struct.unpack("<d", v)[0]
    assert wire == 0
    if field == 4:
        return "int", v - (1 << 64) if v >= (1 << 63) else v
    if field == 5:
        return "uint", v
    if field == 6:
        return "sint", unzigzag(v)
    if field == 7:
        return "bool", bool(v)
    raise AssertionError("unknown Value field %d" % field)


def rd_geometry(ints):
    """Parts of absolute (x, y) vertices; each MoveTo starts a part."""
    parts = []
    x = y = 0
    i = 0
    while i < len(ints):
        cmd, count = ints[i] & 7, ints[i] >> 3
        i += 1
        if cmd == 7:
            continue
        assert cmd in (1, 2), "bad command %d" % cmd
        for _ in range(count):
            x += unzigzag(ints[i])
            y += unzigzag(ints[i + 1])
            i += 2
            if cmd == 1:
                parts.append([(x, y)])
            else:
                parts[-1].append((x, y))
    return parts


def rd_layer(b):
    layer = {"features": [], "keys": [], "values": [], "extent": 4096, "version": 1}
    for field, _, v in rd_fields(b):
        if field == 1:
            layer["name"] = v.decode("utf-8")
        elif field == 2:
            feat = {"id": None, "tags": [], "type": 0, "geometry": []}
            for ff, _, fv in rd_fields(v):
                if ff == 1:
                    feat["id"] = fv
                elif ff == 2:
                    feat["tags"] = rd_packed(fv)
                elif ff == 3:
                    feat["type"] = fv
                elif ff == 4:
                    feat["geometry"] = rd_packed(fv)
            layer["features"].append(feat)
        elif field == 3:
            layer["keys"].append(v.decode("utf-8"))
        elif field == 4:
            layer["values"].append(rd_value(v))
        elif field == 5:
            layer["extent"] = v
        elif field == 15:
            layer["version"] = v
    return layer


def rd_tile(b):
    if b[:2] == b"\x1f\x8b":
        b = gzip.decompress(b)
    layers = {}
    for field, _, v in rd_fields(b):
        assert field == 3, "a tile holds layers only"
        layer = rd_layer(v)
        layers[layer["name"]] = layer
    return layers


def props(layer, feat):
    """{key: (kind, value)} of a feature."""
    t = feat["tags"]
    assert len(t) % 2 == 0
    return {layer["keys"][t[i]]: layer["values"][t[i + 1]] for i in range(0, len(t), 2)}


def to_lonlat(z, x, y, px, py, extent):
    n = 2.0 ** z
    lon = (x + px / extent) / n * 360.0 - 180.0
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + py / extent) / n))))
    return lon, lat


def metres(a, b):
    # equirectangular distance, plenty for points metres apart
    k = 6371008.8 * math.pi / 180.0
    dx = (b[0] - a[0]) * k * math.cos(math.radians(a[1]))
    dy = (b[1] - a[1]) * k
    return math.hypot(dx, dy)


def number(kv):
    """A numeric property as a reader would take it: int or None (unknown)."""
    kind, v = kv
    if kind == "string":
        return int(v) if v else None
    if kind in ("float", "double"):
        return int(v)
    return v


def run_main(args):
    """mvtgen.main in-process; returns (exit code, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            rc = mvtgen.main(args)
        except SystemExit as e:
            rc = e.code
    return rc, err.getvalue()


def tile_files(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith(".mvt"):
                p = os.path.join(d, f)
                rel = os.path.relpath(p, root)[:-4].split(os.sep)
                out["/".join(rel)] = p
    return out


# ---------------------------------------------------------------------------


class TestPrimitives(unittest.TestCase):
    def test_varint_known_bytes(self):
        self.assertEqual(mvtgen.varint(0), b"\x00")
        self.assertEqual(mvtgen.varint(1), b"\x01")
        self.assertEqual(mvtgen.varint(127), b"\x7f")
        self.assertEqual(mvtgen.varint(128), b"\x80\x01")
        self.assertEqual(mvtgen.varint(300), b"\xac\x02")
        self.assertEqual(mvtgen.varint((1 << 64) - 1), b"\xff" * 9 + b"\x01")

    def test_varint_round_trip(self):
        for n in (0, 1, 0x7F, 0x80, 0x3FFF, 0x4000, 2 ** 32 - 1, 2 ** 53 + 1, 2 ** 63, 2 ** 64 - 1):
            b = mvtgen.varint(n)
            self.assertEqual(rd_varint(b, 0), (n, len(b)))

    def test_varint_range(self):
        with self.assertRaises(ValueError):
            mvtgen.varint(-1)
        with self.assertRaises(ValueError):
            mvtgen.varint(1 << 64)

    def test_zigzag(self):
        expect = {0: 0, -1: 1, 1: 2, -2: 3, 2: 4, 2147483647: 4294967294,
                  -2147483648: 4294967295, -(1 << 63): (1 << 64) - 1}
        for n, z in expect.items():
            self.assertEqual(mvtgen.zigzag(n), z)
            self.assertEqual(unzigzag(z), n)


class TestValues(unittest.TestCase):
    def check(self, value, kind, expect):
        got = rd_value(value.encode())
        self.assertEqual(got[0], kind)
        self.assertEqual(got[1], expect)
        self.assertEqual(type(got[1]), type(expect))

    def test_every_kind(self):
        V = mvtgen.Value
        self.check(V.string("reewegrhgd8dmunb5as41c"), "string", "reewegrhgd8dmunb5as41c")
        self.check(V.string(""), "string", "")
        self.check(V.string("Zürich"), "string", "Zürich")
        self.check(V.float32(0.5), "float", 0.5)
        self.check(V.double(123.456), "double", 123.456)
        self.check(V.int64(1651366800000), "int", 1651366800000)
        self.check(V.int64(-5), "int", -5)
        self.check(V.uint64((1 << 64) - 1), "uint", (1 << 64) - 1)
        self.check(V.sint64(-1651366800000), "sint", -1651366800000)
        self.check(V.boolean(True), "bool", True)
        self.check(V.boolean(False), "bool", False)

    def test_float_rounds_to_single(self):
        got = rd_value(mvtgen.Value.float32(0.1).encode())[1]
        self.assertNotEqual(got, 0.1)
        self.assertAlmostEqual(got, 0.1, places=7)
        self.assertEqual(mvtgen.Value.float32(0.1).decoded(), got)

    def test_negative_int64_is_ten_bytes(self):
        b = mvtgen.Value.int64(-1).encode()
        self.assertEqual(b, b"\x20" + b"\xff" * 9 + b"\x01")
        self.assertEqual(mvtgen.Value.sint64(-1).encode(), b"\x30\x01")

    def test_double_above_2_53_rounds(self):
        n = TWO53 + 1
        kind, v = rd_value(mvtgen.Value.double(n).encode())
        self.assertEqual(kind, "double")
        self.assertEqual(int(v), TWO53)
        self.assertNotEqual(int(v), n)

    def test_ranges(self):
        with self.assertRaises(ValueError):
            mvtgen.Value.uint64(-1)
        with self.assertRaises(ValueError):
            mvtgen.Value.int64(1 << 63)
        with self.assertRaises(ValueError):
            mvtgen.Value("decimal", 1)

    def test_guessed_kinds(self):
        V = mvtgen.Value
        self.assertEqual(V.of("a").kind, "string")
        self.assertEqual(V.of(True).kind, "bool")
        self.assertEqual(V.of(3).kind, "uint")
        self.assertEqual(V.of(-3).kind, "sint")
        self.assertEqual(V.of(1.5).kind, "double")


class TestLayer(unittest.TestCase):
    def test_keys_and_values_deduplicated(self):
        V = mvtgen.Value
        layer = mvtgen.Layer("image")
        for i in range(3):
            layer.add_feature(mvtgen.POINT, mvtgen.geom_points([(i, i)]),
                              [("a", V.uint64(1)), ("b", V.string("x")), ("c", V.int64(1))],
                              fid=i)
        layer.add_feature(mvtgen.POINT, mvtgen.geom_points([(5, 5)]),
                          [("a", V.double(0.0)), ("b", V.double(-0.0)), ("c", V.string("x"))])
        d = rd_tile(mvtgen.encode_tile([layer]))["image"]
        self.assertEqual(d["keys"], ["a", "b", "c"])
        # uint 1 and int 1 differ by kind; 0.0 and -0.0 by bits
        self.assertEqual(len(d["values"]), 5)
        self.assertEqual(d["values"][:3], [("uint", 1), ("string", "x"), ("int", 1)])
        self.assertEqual(d["features"][0]["tags"], [0, 0, 1, 1, 2, 2])
        self.assertEqual(d["features"][2]["tags"], [0, 0, 1, 1, 2, 2])
        self.assertEqual(d["features"][3]["tags"], [0, 3, 1, 4, 2, 1])
        self.assertEqual(math.copysign(1.0, d["values"][4][1]), -1.0)

    def test_layer_fields(self):
        layer = mvtgen.Layer("sequence", extent=512)
        layer.add_feature(mvtgen.LINESTRING, mvtgen.geom_lines([[(0, 0), (3, 4)]]), [], fid=7)
        d = rd_tile(mvtgen.encode_tile([layer]))["sequence"]
        self.assertEqual(d["version"], 2)
        self.assertEqual(d["extent"], 512)
        f = d["features"][0]
        self.assertEqual(f["id"], 7)
        self.assertEqual(f["type"], 2)
        self.assertEqual(f["tags"], [])

    def test_feature_without_id(self):
        layer = mvtgen.Layer("image")
        layer.add_feature(mvtgen.POINT, mvtgen.geom_points([(1, 1)]))
        d = rd_tile(mvtgen.encode_tile([layer]))["image"]
        self.assertIsNone(d["features"][0]["id"])

    def test_empty_tile(self):
        d = rd_tile(mvtgen.empty_tile())
        self.assertEqual(list(d), ["image"])
        self.assertEqual(d["image"]["features"], [])
        self.assertEqual(d["image"]["version"], 2)
        self.assertEqual(mvtgen.empty_tile(()), b"")


class TestGeometry(unittest.TestCase):
    def test_point_commands(self):
        # spec 4.3.5.1 example: a point at (25, 17) is [9, 50, 34]
        self.assertEqual(mvtgen.geom_points([(25, 17)]), [9, 50, 34])

    def test_multipoint_deltas(self):
        g = mvtgen.geom_points([(5, 7), (3, 2)])
        self.assertEqual(g, [17, 10, 14, 3, 9])
        self.assertEqual(rd_geometry(g), [[(5, 7)], [(3, 2)]])

    def test_lines_cursor_carries_over(self):
        # spec 4.3.5.3 example: a multilinestring
        g = mvtgen.geom_lines([[(2, 2), (2, 10), (10, 10)], [(1, 1), (3, 5)]])
        self.assertEqual(g, [9, 4, 4, 18, 0, 16, 16, 0, 9, 17, 17, 10, 4, 8])
        self.assertEqual(rd_geometry(g), [[(2, 2), (2, 10), (10, 10)], [(1, 1), (3, 5)]])

    def test_lines_drop_repeats_and_stubs(self):
        g = mvtgen.geom_lines([[(1, 1), (1, 1), (4, 1)], [(9, 9), (9, 9)]])
        self.assertEqual(rd_geometry(g), [[(1, 1), (4, 1)]])
        self.assertEqual(mvtgen.geom_lines([[(3, 3)]]), [])

    def test_mercator_round_trip(self):
        # a point maps to the pixel whose corner is within one pixel of it
        for lon, lat in ((-108.55, 39.06), (0.0, 0.0), (179.9, -60.0), (-179.99, 80.0)):
            gx, gy = mvtgen.lonlat_to_global(14, lon, lat, 4096)
            px, py = math.floor(gx), math.floor(gy)
            back = to_lonlat(14, px // 4096, py // 4096, px % 4096, py % 4096, 4096)
            self.assertLess(metres((lon, lat), back), 2.0)

    def test_real_fixture_spot_values(self):
        # the reader and the formulas agree with the fixture README
        with open(os.path.join(REAL, "14", "3251", "6258.mvt"), "rb") as f:
            d = rd_tile(f.read())
        self.assertEqual(len(d["image"]["features"]), 7890)
        f0 = d["image"]["features"][0]
        self.assertEqual(f0["id"], 96)
        self.assertEqual(rd_geometry(f0["geometry"]), [[(3997, 2643)]])
        self.assertEqual(props(d["image"], f0)["sequence_id"], ("string", "reewegrhgd8dmunb5as41c"))
        lon, lat = mvtgen.pixel_to_lonlat(14, 3251, 6258, 3997, 2643, 4096)
        self.assertAlmostEqual(lon, -108.54545295238495, places=12)
        self.assertAlmostEqual(lat, 39.050839416744786, places=12)


class TestArea(unittest.TestCase):
    """One area with every knob in use, checked image by image against truth.json."""

    BBOX = "-108.58,39.04,-108.52,39.08"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mvtgen-test-")
        rc, err = run_main(["area", "--out", cls.tmp, "--bbox", cls.BBOX, "--seed", "11",
                            "--sequences", "12", "--points-per-seq", "400", "--empty-rate", "0.03",
                            "--pano-rate", "0.3", "--creator-rate", "0.5", "--big-id-rate", "0.5",
                            "--time-from", "1600000000000", "--time-to", "1650000000000",
                            "--truth"])
        assert rc == 0, err
        with open(os.path.join(cls.tmp, "truth.json")) as f:
            cls.truth = json.load(f)
        cls.tiles = {}
        for name, path in tile_files(cls.tmp).items():
            with open(path, "rb") as f:
                cls.tiles[name] = rd_tile(f.read())

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def test_files_are_the_tiles_with_images(self):
        self.assertEqual(sorted(self.tiles), sorted(t["tile"] for t in self.truth["tiles"]))
        self.assertGreater(len(self.tiles), 3)
        for name, layers in self.tiles.items():
            self.assertGreater(len(layers["image"]["features"]), 0, name)
        self.assertEqual(len(self.truth["images"]), 12 * 400)

    def test_layers_well_formed(self):
        for name, layers in self.tiles.items():
            self.assertEqual(sorted(layers), ["image", "sequence"])
            fids = []
            for layer in layers.values():
                self.assertEqual(layer["version"], 2)
                self.assertEqual(layer["extent"], 4096)
                self.assertEqual(len(layer["keys"]), len(set(layer["keys"])))
                self.assertEqual(len(layer["values"]), len(set(
                    (k, struct.pack("<d", v) if isinstance(v, float) else v)
                    for k, v in layer["values"])))
                fids += [f["id"] for f in layer["features"]]
            self.assertEqual(len(fids), len(set(fids)), name)

    def test_truth_matches_tiles(self):
        by_tile = {}
        for rec in self.truth["images"]:
            by_tile.setdefault(rec["tile"], []).append(rec)
        for name, recs in by_tile.items():
            z, x, y = (int(p) for p in name.split("/"))
            layer = self.tiles[name]["image"]
            self.assertEqual(len(layer["features"]), len(recs))
            for rec in recs:
                f = layer["features"][rec["index"]]
                self.assertEqual(f["type"], 1)
                self.assertEqual(f["id"], rec["feature_id"])
                (pt,), = rd_geometry(f["geometry"])
                self.assertEqual(pt, (rec["px"], rec["py"]))
                self.assertTrue(0 <= pt[0] < 4096 and 0 <= pt[1] < 4096)
                lon, lat = to_lonlat(z, x, y, pt[0], pt[1], 4096)
                self.assertAlmostEqual(lon, rec["lon"], places=11)
                self.assertAlmostEqual(lat, rec["lat"], places=11)
                p = props(layer, f)
                self.assertEqual({k: v[0] for k, v in p.items()}, rec["types"])
                self.assertEqual(p["sequence_id"], ("string", rec["sequence_id"]))
                idv = number(p["id"])
                self.assertEqual(None if idv is None else str(idv), rec["id"])
                self.assertEqual(number(p["captured_at"]), rec["captured_at"])
                if rec["blank"]:
                    for k, v in p.items():
                        if k != "sequence_id":
                            self.assertEqual(v, ("string", ""))
                    continue
                self.assertEqual(p["compass_angle"][1], rec["compass_angle"])
                self.assertEqual(p["is_pano"], ("bool", rec["is_pano"]))
                if rec["organization_id"] is None:
                    self.assertNotIn("organization_id", p)
                else:
                    self.assertEqual(str(number(p["organization_id"])), rec["organization_id"])
                if "creator_id" in rec:
                    self.assertEqual(p["creator_id"], ("uint", rec["creator_id"]))

    def test_ids_as_double_round_above_2_53(self):
        rounded = [r for r in self.truth["images"]
                   if r["types"]["id"] == "double" and not r["blank"]
                   and r["id"] != r["source_id"]]
        self.assertGreater(len(rounded), 0)
        for r in rounded:
            src = int(r["source_id"])
            self.assertGreater(src, TWO53)
            self.assertEqual(int(r["id"]), int(float(src)))
        exact = [r for r in self.truth["images"]
                 if r["types"]["id"] != "double" and not r["blank"]]
        self.assertTrue(all(r["id"] == r["source_id"] for r in exact))
        self.assertTrue(any(int(r["id"]) > TWO53 for r in exact))

    def test_ids_unique_even_after_rounding(self):
        ids = [r["id"] for r in self.truth["images"] if r["id"] is not None]
        self.assertEqual(len(ids), len(set(ids)))

    def test_value_kinds_vary(self):
        kinds = {r["types"]["id"] for r in self.truth["images"]}
        self.assertTrue({"double", "uint", "string"} <= kinds, kinds)
        tkinds = {r["types"]["captured_at"] for r in self.truth["images"] if not r["blank"]}
        self.assertGreaterEqual(len(tkinds), 3)
        self.assertTrue(any(r["blank"] for r in self.truth["images"]))
        self.assertTrue(any(r["is_pano"] for r in self.truth["images"]))
        orgs = {r["organization_id"] for r in self.truth["images"]}
        self.assertEqual(orgs, {None, "1805883732926354", "222222222222222"})
        self.assertTrue(any("creator_id" in r for r in self.truth["images"]))
        self.assertTrue(any("creator_id" not in r for r in self.truth["images"]))

    def test_fields_in_range(self):
        for r in self.truth["images"]:
            self.assertEqual(len(r["sequence_id"]), 22)
            self.assertTrue(r["sequence_id"].isalnum() and r["sequence_id"].islower()
                            or r["sequence_id"].isdigit())
            if r["captured_at"] is not None:
                self.assertTrue(1600000000000 <= r["captured_at"] <= 1650000000000)
            if r["compass_angle"] is not None:
                self.assertTrue(0.0 <= r["compass_angle"] < 360.0)

    def test_walks_step_metres_and_cross_tiles(self):
        seqs = {}
        for r in self.truth["images"]:
            seqs.setdefault(r["sequence_id"], []).append(r)
        self.assertEqual(len(seqs), 12)
        crossing = 0
        for recs in seqs.values():
            self.assertEqual(len(recs), 400)
            if len({r["tile"] for r in recs}) > 1:
                crossing += 1
            timed = sorted((r for r in recs if r["captured_at"] is not None),
                           key=lambda r: r["captured_at"])
            for a, b in zip(timed, timed[1:]):
                self.assertLess(metres((a["lon"], a["lat"]), (b["lon"], b["lat"])), 30.0)
        self.assertGreater(crossing, 0)

    def test_images_inside_bbox(self):
        w, s, e, n = (float(v) for v in self.BBOX.split(","))
        for r in self.truth["images"]:
            # pixel corners: within a pixel (< 1 m) of the bbox
            self.assertTrue(w - 1e-5 <= r["lon"] <= e and s <= r["lat"] <= n + 1e-5)

    def test_sequence_layer_lines(self):
        known = {r["sequence_id"] for r in self.truth["images"]}
        for name, layers in self.tiles.items():
            layer = layers["sequence"]
            ids = set()
            for f in layer["features"]:
                self.assertEqual(f["type"], 2)
                parts = rd_geometry(f["geometry"])
                self.assertGreater(len(parts), 0)
                for part in parts:
                    self.assertGreaterEqual(len(part), 2)
                    for x, y in part:
                        self.assertTrue(0 <= x <= 4096 and 0 <= y <= 4096, (name, x, y))
                p = props(layer, f)
                self.assertEqual(p["id"][0], "string")
                self.assertIn(p["id"][1], known)
                ids.add(p["id"][1])
            counts = {}
            for f in layers["image"]["features"]:
                sid = props(layers["image"], f)["sequence_id"][1]
                counts[sid] = counts.get(sid, 0) + 1
            self.assertTrue({s for s, c in counts.items() if c >= 3} <= ids, name)

    def test_gdal_reads_the_tiles(self):
        if not shutil.which("ogrinfo"):
            self.skipTest("no ogrinfo")
        rec = self.truth["tiles"][0]
        z, x, y = rec["tile"].split("/")
        path = os.path.join(self.tmp, z, x, y + ".mvt")
        out = subprocess.run(["ogrinfo", "-ro", "-so", "-oo", "X=" + x, "-oo", "Y=" + y,
                              "-oo", "Z=" + z, "MVT:" + path, "image"],
                             capture_output=True, text=True, check=True).stdout
        self.assertIn("Feature Count: %d" % rec["images"], out)


class TestModes(unittest.TestCase):
    def gen(self, **kw):
        settings = dict(bbox=(-108.56, 39.05, -108.53, 39.07), sequences=3, points_per_seq=60)
        settings.update(kw)
        opts = mvtgen.GenOptions(**settings)
        return mvtgen.generate_area(opts)

    def test_fixed_id_modes(self):
        for kind in mvtgen.ID_KINDS:
            tiles, truth = self.gen(id_mode=kind, time_mode="string")
            kinds = set()
            for data in tiles.values():
                layer = rd_tile(data)["image"]
                for f in layer["features"]:
                    p = props(layer, f)
                    kinds.add(p["id"][0])
                    self.assertEqual(p["captured_at"][0], "string")
                    self.assertTrue(p["captured_at"][1].isdigit())
            self.assertEqual(kinds, {kind})
            self.assertTrue(all(r["types"]["id"] == kind for r in truth))

    def test_each_mode_mixes_within_a_tile(self):
        tiles, _ = self.gen(id_mode="each", sequences=2, points_per_seq=200)
        checked = 0
        for data in tiles.values():
            layer = rd_tile(data)["image"]
            if len(layer["features"]) >= 50:
                kinds = {props(layer, f)["id"][0] for f in layer["features"]}
                self.assertEqual(kinds, set(mvtgen.ID_KINDS))
                checked += 1
        self.assertGreater(checked, 0)

    def test_all_blank_like_the_real_fixtures(self):
        tiles, truth = self.gen(empty_rate=1.0)
        self.assertTrue(all(r["blank"] and r["id"] is None for r in truth))
        for data in tiles.values():
            layer = rd_tile(data)["image"]
            kinds = {v for v in layer["values"] if v != ("string", "")}
            self.assertTrue(all(k == "string" and len(v) == 22 for k, v in kinds))

    def test_no_orgs_and_no_sequence_layer(self):
        tiles, truth = self.gen(org_ids=[], sequence_layer=False)
        self.assertTrue(all(r["organization_id"] is None for r in truth))
        for data in tiles.values():
            d = rd_tile(data)
            self.assertEqual(list(d), ["image"])
            self.assertNotIn("organization_id", d["image"]["keys"])


class TestDeterminism(unittest.TestCase):
    def run_area(self, out, seed, *extra):
        rc, err = run_main(["area", "--out", out, "--bbox", "-108.56,39.05,-108.53,39.07",
                            "--seed", str(seed), "--sequences", "4", "--points-per-seq", "150",
                            "--truth"] + list(extra))
        self.assertEqual(rc, 0, err)
        out_files = {}
        for d, _, files in os.walk(out):
            for f in files:
                with open(os.path.join(d, f), "rb") as fh:
                    out_files[os.path.relpath(os.path.join(d, f), out)] = fh.read()
        return out_files

    def test_same_seed_same_bytes(self):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b, \
                tempfile.TemporaryDirectory() as c:
            fa = self.run_area(a, 5)
            fb = self.run_area(b, 5)
            fc = self.run_area(c, 6)
            # truth.json records the command, which names the output dir
            fa.pop("truth.json")
            fb.pop("truth.json")
            fc.pop("truth.json")
            self.assertEqual(fa, fb)
            self.assertNotEqual(fa, fc)

    def test_gzip_is_deterministic_and_same_tile(self):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            plain = self.run_area(a, 5)
            gz = self.run_area(b, 5, "--gzip")
            for k, v in plain.items():
                if k.endswith(".mvt"):
                    self.assertEqual(gz[k][:2], b"\x1f\x8b")
                    self.assertEqual(gzip.decompress(gz[k]), v)


class TestDenseAndEmpty(unittest.TestCase):
    def test_dense_tile(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "dense.mvt")
            truth = os.path.join(d, "dense.json")
            rc, err = run_main(["dense", "--out", out, "--count", "5000", "--seed", "3",
                                "--tile", "14/3251/6258", "--truth", truth])
            self.assertEqual(rc, 0, err)
            with open(out, "rb") as f:
                layers = rd_tile(f.read())
            with open(truth) as f:
                t = json.load(f)
        feats = layers["image"]["features"]
        self.assertEqual(len(feats), 5000)
        self.assertEqual({r["tile"] for r in t["images"]}, {"14/3251/6258"})
        for f in feats:
            (pt,), = rd_geometry(f["geometry"])
            self.assertTrue(0 <= pt[0] < 4096 and 0 <= pt[1] < 4096)
        self.assertGreater(len(layers["sequence"]["features"]), 10)

    def test_empty_cli(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "e.mvt")
            self.assertEqual(run_main(["empty", "--out", out])[0], 0)
            with open(out, "rb") as f:
                layers = rd_tile(f.read())
            self.assertEqual(list(layers), ["image"])
            self.assertEqual(layers["image"]["features"], [])
            out2 = os.path.join(d, "zero.mvt")
            self.assertEqual(run_main(["empty", "--out", out2, "--layers", ""])[0], 0)
            self.assertEqual(os.path.getsize(out2), 0)


class TestCli(unittest.TestCase):
    def test_bad_arguments_exit_2(self):
        with tempfile.TemporaryDirectory() as d:
            for args in (["area", "--out", d, "--bbox", "1,2,3"],
                         ["area", "--out", d, "--bbox", "10,0,5,1"],
                         ["area", "--out", d, "--bbox", "0,0,1,1", "--pano-rate", "2"],
                         ["dense", "--out", os.path.join(d, "x"), "--tile", "14/99999/1"],
                         ["bogus"]):
                self.assertEqual(run_main(args)[0], 2, args)
            self.assertEqual(os.listdir(d), [])

    def test_subprocess_negative_bbox_space_form(self):
        with tempfile.TemporaryDirectory() as d:
            r = subprocess.run([sys.executable, TOOL, "area", "--out", d, "--bbox",
                                "-108.56,39.05,-108.55,39.06", "--sequences", "1",
                                "--points-per-seq", "20"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, "")
            self.assertGreater(len(tile_files(d)), 0)


class TestExamples(unittest.TestCase):
    """examples/ must be what examples/README.md says made it."""

    EX = os.path.join(ROOT, "examples")

    def readme_command(self):
        with open(os.path.join(self.EX, "README.md")) as f:
            for line in f:
                if line.strip().startswith("python3 tools/mvtgen.py area"):
                    return shlex.split(line.strip())[2:]
        self.fail("no mvtgen command in examples/README.md")

    def test_regenerates_byte_for_byte(self):
        args = self.readme_command()
        i = args.index("--out")
        self.assertEqual(args[i + 1], "examples/tiles")
        with tempfile.TemporaryDirectory() as d:
            args[i + 1] = d
            rc, err = run_main(args + ["--truth"])
            self.assertEqual(rc, 0, err)
            fresh = tile_files(d)
            kept = tile_files(os.path.join(self.EX, "tiles"))
            self.assertEqual(sorted(fresh), sorted(kept))
            for k in fresh:
                with open(fresh[k], "rb") as a, open(kept[k], "rb") as b:
                    self.assertEqual(a.read(), b.read(), k)
            with open(os.path.join(d, "truth.json")) as f:
                truth = json.load(f)
        total = sum(os.path.getsize(p) for p in kept.values())
        total += os.path.getsize(os.path.join(self.EX, "aoi.geojson"))
        self.assertLess(total, 500 * 1024)
        self.assertTrue(1500 <= len(truth["images"]) <= 2500)
        self.check_aoi(truth["images"])

    def check_aoi(self, images):
        with open(os.path.join(self.EX, "aoi.geojson")) as f:
            aoi = json.load(f)
        self.assertEqual(aoi["type"], "FeatureCollection")
        feats = aoi["features"]
        self.assertEqual(sorted(f["properties"]["area"] for f in feats), ["north", "south"])
        self.assertTrue(any(len(f["geometry"]["coordinates"]) > 1 for f in feats))
        for f in feats:
            rings = f["geometry"]["coordinates"]
            self.assertEqual(f["geometry"]["type"], "Polygon")
            inside = [r for r in images if pip(rings[0], r["lon"], r["lat"])
                      and not any(pip(h, r["lon"], r["lat"]) for h in rings[1:])]
            self.assertGreater(len(inside), 50, f["properties"]["area"])
            for hole in rings[1:]:
                self.assertGreater(sum(pip(hole, r["lon"], r["lat"]) for r in images), 0)


def pip(ring, x, y):
    """Even-odd point in ring."""
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


if __name__ == "__main__":
    unittest.main(verbosity=2)
