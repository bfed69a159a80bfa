#!/usr/bin/env python3
"""mkdata.py -- makes the benchmark inputs under bench/data/: tiles, distinct-id tile copies, AOIs.

Every step is skipped when its output already exists with the same
parameters (a .stamp file beside it records them), so a rerun costs nothing.

    mkdata.py dense              bench/data/dense.mvt, the 30,000-image tile
    mkdata.py block COLS ROWS    bench/data/block/14/X/Y.mvt: the dense tile in
                                 a COLS x ROWS block, each copy with its own
                                 image ids and sequence ids; and
                                 bench/data/block-same/...: hard links to the
                                 very same tile (same ids everywhere)
    mkdata.py area COLS ROWS     bench/data/area-COLSxROWS/14/X/Y.mvt: moderate density
                                 coverage (mvtgen area) for the fetch bench
    mkdata.py polygon COLS ROWS VERTICES
                                 bench/data/aoi_poly_COLSxROWS.geojson: a zigzag
                                 polygon with holes over the block
    mkdata.py bbox block|area COLS ROWS
                                 print the bbox that covers exactly those tiles
    mkdata.py warm DIR           read every file once (page cache)

Why copies with distinct ids: the tool keeps each image id once (SPEC:
"each image once"), so 200 hard links to one tile would yield 30,000 kept
images and 5.97 M duplicates, not the 6 M kept images a pipeline or memory
figure is about. A copy differs from the dense tile only in the values of
the `image` layer's `id` and `sequence_id` properties, each kept in the
encoding the tile used (double, uint, int, sint or string).
"""

import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(HERE, "data")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import mvtgen  # noqa: E402  (the project's own tile writer)

Z = 14
# Block of dense copies: x0, y0 and the widest layout, so that the copy at
# a position is the same file whatever block size a run asks for
BLOCK_X0, BLOCK_Y0, BLOCK_MAX_COLS = 3241, 6253, 20
# Fetch-bench area: 20 x 20 z14 tiles north of the block
AREA_X0, AREA_Y0 = 3241, 6230
# One pixel at z14, extent 4096, is 5.4e-6 degrees of longitude: an inset of
# 1e-6 keeps every image of the edge tiles (mvtgen keeps them a pixel away
# from tile borders) but no longer touches the neighbouring tiles
INSET = 1e-6
ID_DELTA = 1 << 20  # copy k subtracts k * ID_DELTA from every image id


def stamp_ok(path, params):
    try:
        with open(path + ".stamp", encoding="utf-8") as f:
            return f.read() == params
    except OSError:
        return False


def stamp_write(path, params):
    with open(path + ".stamp", "w", encoding="utf-8") as f:
        f.write(params)


def write_atomic(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


# ---- dense tile -------------------------------------------------------------

DENSE_ARGS = ["dense", "--count", "30000", "--seed", "1"]


def make_dense():
    path = os.path.join(DATA, "dense.mvt")
    args = DENSE_ARGS + ["--out", path]
    params = " ".join(args)
    if os.path.exists(path) and stamp_ok(path, params):
        return path
    os.makedirs(DATA, exist_ok=True)
    rc = mvtgen.main(args)
    if rc:
        sys.exit("mkdata: mvtgen dense failed")
    stamp_write(path, params)
    return path


# ---- protobuf reading (just enough to patch values) --------------------------

def read_varint(buf, i):
    n = shift = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, i
        shift += 7


def fields(buf, start=0, end=None):
    """(field number, wire type, value or (begin, end) of a LEN payload,
    (begin, end) of the whole field) for each field of a message."""
    end = len(buf) if end is None else end
    i = start
    while i < end:
        f0 = i
        key, i = read_varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = read_varint(buf, i)
        elif wire == 1:
            v, i = buf[i:i + 8], i + 8
        elif wire == 5:
            v, i = buf[i:i + 4], i + 4
        elif wire == 2:
            n, i = read_varint(buf, i)
            v, i = (i, i + n), i + n
        else:
            raise ValueError("unexpected wire type %d" % wire)
        yield num, wire, v, (f0, i)


def len_field(num, payload):
    out = bytearray()
    mvtgen.put_varint(out, (num << 3) | 2)
    mvtgen.put_varint(out, len(payload))
    return bytes(out) + payload


class ImageLayer:
    """The dense tile split so that copies can be assembled fast: raw bytes
    of everything, with the image layer's patchable values decoded."""

    def __init__(self, tile):
        self.tile = tile
        self.before, self.after = b"", b""
        self.parts = []       # image layer fields: bytes, or ("value", index)
        self.values = []      # (kind, python value) per value index
        layer_span = None
        for num, wire, v, span in fields(tile):
            if num == 3 and wire == 2 and self._layer_name(v) == "image":
                layer_span = v
                self.before = tile[:span[0]]
                self.after = tile[span[1]:]
        if layer_span is None:
            raise ValueError("no image layer")
        keys = []
        value_raw = []
        features = []
        for num, wire, v, span in fields(tile, *layer_span):
            if num == 3:
                keys.append(tile[v[0]:v[1]].decode("utf-8"))
            if num == 4:
                self.parts.append(("value", len(value_raw)))
                value_raw.append(v)
                continue
            if num == 2:
                features.append(v)
            self.parts.append(tile[span[0]:span[1]])
        for v in value_raw:
            self.values.append(self._decode_value(v))
        # which keys refer to each value: patch only values that nothing
        # but `id` (or `sequence_id`) points at
        users = [set() for _ in value_raw]
        for fb, fe in features:
            for num, wire, v, span in fields(tile, fb, fe):
                if num == 2 and wire == 2:
                    tags, i = [], v[0]
                    while i < v[1]:
                        t, i = read_varint(tile, i)
                        tags.append(t)
                    for k, val in zip(tags[0::2], tags[1::2]):
                        users[val].add(keys[k])
        self.id_values = [i for i, u in enumerate(users)
                          if u == {"id"} and self.values[i] != ("string", "")]
        self.seq_values = [i for i, u in enumerate(users)
                           if u == {"sequence_id"} and self.values[i] != ("string", "")]
        self.encoded = [tile[b - self._prefix_len(b, e):e] for b, e in value_raw]

    def _layer_name(self, span):
        for num, wire, v, _ in fields(self.tile, *span):
            if num == 1:
                return self.tile[v[0]:v[1]].decode("utf-8")
        return None

    @staticmethod
    def _prefix_len(b, e):
        # key byte (field 4, LEN) plus the length varint
        return 1 + len(mvtgen.varint(e - b))

    def _decode_value(self, span):
        import struct
        for num, wire, v, _ in fields(self.tile, *span):
            if num == 1:
                return ("string", self.tile[v[0]:v[1]].decode("utf-8"))
            if num == 2:
                return ("float", struct.unpack("<f", v)[0])
            if num == 3:
                return ("double", struct.unpack("<d", v)[0])
            if num == 4:
                return ("int", v if v < 1 << 63 else v - (1 << 64))
            if num == 5:
                return ("uint", v)
            if num == 6:
                return ("sint", (v >> 1) ^ -(v & 1))
            if num == 7:
                return ("bool", bool(v))
        return ("none", None)

    @staticmethod
    def _encode_value(kind, v):
        return len_field(4, mvtgen.Value(kind, v).encode())

    def copy(self, k):
        """The tile with image ids lowered by k * ID_DELTA and sequence ids
        suffixed with k (k = 0: the tile itself)."""
        if k == 0:
            return self.tile
        enc = list(self.encoded)
        for i in self.id_values:
            kind, v = self.values[i]
            if kind == "string":
                nv = str(int(v) - k * ID_DELTA)
            elif kind in ("double", "float"):
                # exact: an integral double minus a multiple of 2^20 stays
                # representable below 2^54
                nv = float(int(v) - k * ID_DELTA)
            else:
                nv = v - k * ID_DELTA
            enc[i] = self._encode_value(kind, nv)
        for i in self.seq_values:
            kind, v = self.values[i]
            enc[i] = self._encode_value(kind, v[:-4] + "%04d" % k)
        body = b"".join(enc[p[1]] if isinstance(p, tuple) else p for p in self.parts)
        return self.before + len_field(3, body) + self.after


def block_path(kind, x, y):
    return os.path.join(DATA, kind, str(Z), str(x), "%d.mvt" % y)


def make_block(cols, rows):
    dense = make_dense()
    params = "%s ID_DELTA=%d" % (open(dense + ".stamp").read(), ID_DELTA)
    todo = []
    for r in range(rows):
        for c in range(cols):
            x, y = BLOCK_X0 + c, BLOCK_Y0 + r
            p = block_path("block", x, y)
            if not (os.path.exists(p) and stamp_ok(p, params)):
                todo.append((c + r * BLOCK_MAX_COLS, p))
            same = block_path("block-same", x, y)
            if not os.path.exists(same):
                os.makedirs(os.path.dirname(same), exist_ok=True)
                os.link(dense, same)
    if todo:
        with open(dense, "rb") as f:
            layer = ImageLayer(f.read())
        for k, p in todo:
            write_atomic(p, layer.copy(k))
            stamp_write(p, params)
        print("mkdata: %d distinct-id copies of the dense tile written" % len(todo),
              file=sys.stderr)


# ---- fetch-bench area --------------------------------------------------------

def area_args(cols, rows):
    w, s, e, n = tiles_bbox(AREA_X0, AREA_Y0, cols, rows)
    # walks stay inside the bbox; 1000 walks of 100 images 20 m apart
    # reach nearly every one of 400 tiles, ~250 images (~17 KB) each. No
    # ids above 2^53: those would send the tool to the Graph API to repair
    # them, and this bench is about tile requests
    return ["area", "--bbox", "%.7f,%.7f,%.7f,%.7f" % (w, s, e, n),
            "--sequences", str(max(1, cols * rows * 5 // 2)), "--points-per-seq", "100",
            "--step", "20", "--seed", "7", "--big-id-rate", "0"]


def area_dir(cols, rows):
    return os.path.join(DATA, "area-%dx%d" % (cols, rows))


def make_area(cols, rows):
    out = area_dir(cols, rows)
    args = area_args(cols, rows) + ["--out", out]
    params = " ".join(args)
    if os.path.isdir(out) and stamp_ok(out, params):
        return out
    if os.path.isdir(out):
        import shutil
        shutil.rmtree(out)
    if mvtgen.main(args):
        sys.exit("mkdata: mvtgen area failed")
    stamp_write(out, params)
    return out


def area_summary(root):
    """(tiles with data, their bytes) of an area directory."""
    n = size = 0
    for base, _, names in os.walk(root):
        for name in names:
            if name.endswith(".mvt"):
                n += 1
                size += os.path.getsize(os.path.join(base, name))
    return n, size


# ---- AOIs --------------------------------------------------------------------

def tiles_bbox(x0, y0, cols, rows, inset=INSET):
    w, _, _, n = mvtgen.tile_bounds(Z, x0, y0)
    _, s, e, _ = mvtgen.tile_bounds(Z, x0 + cols - 1, y0 + rows - 1)
    return (w + inset, s + inset, e - inset, n - inset)


def bbox_arg(which, cols, rows):
    x0, y0 = (BLOCK_X0, BLOCK_Y0) if which == "block" else (AREA_X0, AREA_Y0)
    return "%.7f,%.7f,%.7f,%.7f" % tiles_bbox(x0, y0, cols, rows)


def ring_superellipse(cx, cy, a, b, n, teeth_amp, power=4.0):
    """n vertices of a zigzag around a superellipse |x/a|^p + |y/b|^p = 1:
    every other vertex pulled in by teeth_amp (a fraction), so each edge is
    short and the outline has n/2 teeth. Counter-clockwise."""
    pts = []
    for i in range(n):
        t = 2.0 * math.pi * i / n
        c, s = math.cos(t), math.sin(t)
        r = 1.0 - (teeth_amp if i % 2 else 0.0)
        x = a * r * math.copysign(abs(c) ** (2.0 / power), c)
        y = b * r * math.copysign(abs(s) ** (2.0 / power), s)
        pts.append((cx + x, cy + y))
    pts.append(pts[0])
    return pts


def make_polygon(cols, rows, vertices):
    path = os.path.join(DATA, "aoi_poly_%dx%d.geojson" % (cols, rows))
    params = "%d %d %d" % (cols, rows, vertices)
    if os.path.exists(path) and stamp_ok(path, params):
        return path
    w, s, e, n = tiles_bbox(BLOCK_X0, BLOCK_Y0, cols, rows)
    cx, cy = (w + e) / 2, (s + n) / 2
    tw = (e - w) / cols  # one tile's width in degrees
    th = (n - s) / rows
    nholes = 3
    hole_n = max(8, vertices // 100)
    outer_n = vertices - nholes * hole_n
    outer_n -= outer_n % 2
    # the outline stays just inside the block, so that the polygon needs the
    # same tiles as the bbox minus the corners it cuts off
    rings = [ring_superellipse(cx, cy, (e - w) / 2 * 0.995, (n - s) / 2 * 0.99, outer_n, 0.01)]
    for i in range(nholes):
        hx = cx + (i - 1) * min(2.0, cols / 4) * tw
        hy = cy + (0.25 if i % 2 else -0.25) * th
        ring = ring_superellipse(hx, hy, 0.3 * tw, 0.3 * th, hole_n, 0.05, power=2.0)
        rings.append(ring[::-1])  # holes clockwise (RFC 7946)
    coords = ",".join(
        "[" + ",".join("[%.9f,%.9f]" % p for p in ring) + "]" for ring in rings)
    doc = ('{"type":"FeatureCollection","features":[{"type":"Feature",'
           '"properties":{"name":"zigzag"},"geometry":{"type":"Polygon","coordinates":['
           + coords + "]}}]}\n")
    write_atomic(path, doc.encode("ascii"))
    stamp_write(path, params)
    return path


def warm(d):
    total = 0
    for base, _, names in os.walk(d):
        for name in names:
            with open(os.path.join(base, name), "rb") as f:
                while True:
                    b = f.read(1 << 20)
                    if not b:
                        break
                    total += len(b)
    return total


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "dense":
        print(make_dense())
    elif cmd == "block":
        make_block(int(rest[0]), int(rest[1]))
    elif cmd == "area":
        make_area(int(rest[0]), int(rest[1]))
    elif cmd == "polygon":
        print(make_polygon(int(rest[0]), int(rest[1]), int(rest[2])))
    elif cmd == "bbox":
        print(bbox_arg(rest[0], int(rest[1]), int(rest[2])))
    elif cmd == "warm":
        warm(rest[0])
    else:
        print("mkdata: unknown step %s" % cmd, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
