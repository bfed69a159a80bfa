#!/usr/bin/env python3
"""mvtgen.py -- writes Mapillary-like Mapbox Vector Tiles (MVT 2.1) for examples, tests and benches.

Stdlib only. The protobuf encoding is done by hand here (varints, zigzag,
packed fields) so that the project depends on nothing it did not write.

Usage as a module:

    from mvtgen import Layer, Value, encode_tile, geom_points, POINT
    layer = Layer("image")
    layer.add_feature(POINT, geom_points([(10, 20)]), [("id", Value.double(1.0))], fid=0)
    data = encode_tile([layer])

Usage as a command (see --help of each subcommand):

    mvtgen.py area  --out DIR --bbox W,S,E,N [--seed N] [--sequences K] [--points-per-seq M] [--truth] ...
    mvtgen.py dense --out FILE [--count 30000] [--seed N] [--tile Z/X/Y] [--truth PATH] ...
    mvtgen.py empty --out FILE [--layers image,sequence]

Everything is deterministic by seed: the same command writes the same bytes.
"""

import argparse
import gzip
import json
import math
import os
import random
import struct
import sys

__all__ = [
    "POINT", "LINESTRING", "POLYGON", "Value", "Layer", "encode_tile",
    "put_varint", "varint", "zigzag", "geom_points", "geom_lines",
    "lonlat_to_global", "pixel_to_lonlat", "tile_bounds", "GenOptions",
    "generate", "generate_area", "generate_dense", "empty_tile", "main",
]

# Feature.GeomType (MVT spec 4.3.4)
POINT = 1
LINESTRING = 2
POLYGON = 3

# Geometry command ids (MVT spec 4.3.3)
CMD_MOVE_TO = 1
CMD_LINE_TO = 2

_U64 = (1 << 64) - 1

# ---------------------------------------------------------------------------
# protobuf primitives


def put_varint(buf, n):
    """Append n (0 <= n < 2^64) to bytearray buf as a base-128 varint."""
    if n < 0 or n > _U64:
        raise ValueError("varint out of range: %r" % (n,))
    while n >= 0x80:
        buf.append((n & 0x7F) | 0x80)
        n >>= 7
    buf.append(n)


def varint(n):
    """n as varint bytes."""
    buf = bytearray()
    put_varint(buf, n)
    return bytes(buf)


def zigzag(n):
    """ZigZag-map a signed integer (-1 -> 1, 1 -> 2, ...), as sint32/sint64 and
    MVT geometry parameters (spec 4.3.2) require."""
    return (n << 1) if n >= 0 else ((-n) << 1) - 1


def _put_key(buf, field, wire):
    put_varint(buf, (field << 3) | wire)


def _put_bytes(buf, field, data):
    _put_key(buf, field, 2)
    put_varint(buf, len(data))
    buf += data


def _put_packed(buf, field, ints):
    # packed repeated uint32: one length-delimited field holding the varints
    body = bytearray()
    for v in ints:
        put_varint(body, v)
    _put_bytes(buf, field, body)


# ---------------------------------------------------------------------------
# MVT values


class Value:
    """A typed tile.Value (MVT spec 4.1). kind is one of KINDS; the Python
    value is str, float, int or bool accordingly."""

    __slots__ = ("kind", "v")
    KINDS = ("string", "float", "double", "int", "uint", "sint", "bool")
    # kind -> Value field number in vector_tile.proto
    FIELD = {"string": 1, "float": 2, "double": 3, "int": 4, "uint": 5,
             "sint": 6, "bool": 7}

    def __init__(self, kind, v):
        if kind not in self.FIELD:
            raise ValueError("unknown value kind: %r" % (kind,))
        if kind == "string" and not isinstance(v, str):
            raise TypeError("string value needs str")
        if kind in ("float", "double"):
            v = float(v)
        if kind in ("int", "sint") and not -(1 << 63) <= v < (1 << 63):
            raise ValueError("int64 out of range: %r" % (v,))
        if kind == "uint" and not 0 <= v <= _U64:
            raise ValueError("uint64 out of range: %r" % (v,))
        if kind == "bool":
            v = bool(v)
        self.kind = kind
        self.v = v

    @classmethod
    def string(cls, s):
        return cls("string", s)

    @classmethod
    def float32(cls, x):
        return cls("float", x)

    @classmethod
    def double(cls, x):
        return cls("double", x)

    @classmethod
    def int64(cls, n):
        return cls("int", n)

    @classmethod
    def uint64(cls, n):
        return cls("uint", n)

    @classmethod
    def sint64(cls, n):
        return cls("sint", n)

    @classmethod
    def boolean(cls, b):
        return cls("bool", b)

    @classmethod
    def of(cls, x):
        """Guess a kind the way most encoders do: str, bool, int (uint when
        non-negative, else sint), float as double. A Value passes through."""
        if isinstance(x, Value):
            return x
        if isinstance(x, str):
            return cls("string", x)
        if isinstance(x, bool):
            return cls("bool", x)
        if isinstance(x, int):
            return cls("uint", x) if x >= 0 else cls("sint", x)
        if isinstance(x, float):
            return cls("double", x)
        raise TypeError("no MVT value for %r" % (type(x),))

    def dedup_key(self):
        """Identity for per-layer deduplication: floats by their bits, so that
        0.0 and -0.0 (and NaNs) stay distinct, and the kind always counts, so
        int 1 and uint 1 are two values like in real encoders."""
        if self.kind == "float":
            return (self.kind, struct.pack("<f", self.v))
        if self.kind == "double":
            return (self.kind, struct.pack("<d", self.v))
        return (self.kind, self.v)

    def decoded(self):
        """The value a decoder reads back (float rounds to single precision)."""
        if self.kind == "float":
            return struct.unpack("<f", struct.pack("<f", self.v))[0]
        return self.v

    def encode(self):
        """The tile.Value message bytes."""
        buf = bytearray()
        f = self.FIELD[self.kind]
        k = self.kind
        if k == "string":
            _put_bytes(buf, f, self.v.encode("utf-8"))
        elif k == "float":
            _put_key(buf, f, 5)
            buf += struct.pack("<f", self.v)
        elif k == "double":
            _put_key(buf, f, 1)
            buf += struct.pack("<d", self.v)
        elif k == "int":
            # int64 negative values are two's complement: ten varint bytes
            _put_key(buf, f, 0)
            put_varint(buf, self.v & _U64)
        elif k == "uint":
            _put_key(buf, f, 0)
            put_varint(buf, self.v)
        elif k == "sint":
            _put_key(buf, f, 0)
            put_varint(buf, zigzag(self.v))
        else:
            _put_key(buf, f, 0)
            put_varint(buf, 1 if self.v else 0)
        return bytes(buf)

    def __eq__(self, other):
        return isinstance(other, Value) and self.dedup_key() == other.dedup_key()

    def __hash__(self):
        return hash(self.dedup_key())

    def __repr__(self):
        return "Value(%r, %r)" % (self.kind, self.v)


# ---------------------------------------------------------------------------
# geometry (MVT spec 4.3)


def _command(cmd, count):
    return (cmd & 0x7) | (count << 3)


def geom_points(points):
    """Geometry integers for a (multi)point: one MoveTo with all points,
    zigzag deltas from the cursor, which starts at (0, 0)."""
    if not points:
        raise ValueError("a point geometry needs at least one point")
    out = [_command(CMD_MOVE_TO, len(points))]
    cx = cy = 0
    for x, y in points:
        out.append(zigzag(x - cx))
        out.append(zigzag(y - cy))
        cx, cy = x, y
    return out


def geom_lines(lines):
    """Geometry integers for a (multi)linestring. Consecutive repeated
    vertices are dropped (a zero-length LineTo says nothing); a part left with
    fewer than two vertices is skipped. The cursor carries over between parts,
    as the spec says. Returns [] when nothing is left."""
    out = []
    cx = cy = 0
    for line in lines:
        pts = []
        for p in line:
            p = (int(p[0]), int(p[1]))
            if not pts or pts[-1] != p:
                pts.append(p)
        if len(pts) < 2:
            continue
        x, y = pts[0]
        out += [_command(CMD_MOVE_TO, 1), zigzag(x - cx), zigzag(y - cy)]
        cx, cy = x, y
        out.append(_command(CMD_LINE_TO, len(pts) - 1))
        for x, y in pts[1:]:
            out.append(zigzag(x - cx))
            out.append(zigzag(y - cy))
            cx, cy = x, y
    return out


# ---------------------------------------------------------------------------
# layers and tiles


class Layer:
    """A tile.Layer being built: features with their tags, plus the layer's
    key and value tables, deduplicated on the fly as real encoders do."""

    def __init__(self, name, extent=4096, version=2):
        self.name = name
        self.extent = extent
        self.version = version
        self.keys = []
        self.values = []
        self._key_index = {}
        self._value_index = {}
        self._features = []   # encoded Feature messages

    def key_index(self, key):
        i = self._key_index.get(key)
        if i is None:
            i = self._key_index[key] = len(self.keys)
            self.keys.append(key)
        return i

    def value_index(self, value):
        value = Value.of(value)
        k = value.dedup_key()
        i = self._value_index.get(k)
        if i is None:
            i = self._value_index[k] = len(self.values)
            self.values.append(value)
        return i

    def add_feature(self, geom_type, geometry, properties=(), fid=None):
        """Add a feature. geometry: the command integers (geom_points,
        geom_lines); properties: (key, value) pairs in order, value a Value or
        a plain str/bool/int/float; fid: the feature id or None for none."""
        tags = []
        for key, value in properties:
            tags.append(self.key_index(key))
            tags.append(self.value_index(value))
        buf = bytearray()
        if fid is not None:
            _put_key(buf, 1, 0)
            put_varint(buf, fid)
        if tags:
            _put_packed(buf, 2, tags)
        _put_key(buf, 3, 0)
        put_varint(buf, geom_type)
        _put_packed(buf, 4, geometry)
        self._features.append(bytes(buf))

    def __len__(self):
        return len(self._features)

    def encode(self):
        """The tile.Layer message bytes, fields in the order real tiles use:
        name, features, keys, values, extent, version."""
        buf = bytearray()
        _put_bytes(buf, 1, self.name.encode("utf-8"))
        for f in self._features:
            _put_bytes(buf, 2, f)
        for k in self.keys:
            _put_bytes(buf, 3, k.encode("utf-8"))
        for v in self.values:
            _put_bytes(buf, 4, v.encode())
        _put_key(buf, 5, 0)
        put_varint(buf, self.extent)
        _put_key(buf, 15, 0)
        put_varint(buf, self.version)
        return bytes(buf)


def encode_tile(layers):
    """The tile message: every layer as field 3. No layers gives b''."""
    buf = bytearray()
    for layer in layers:
        _put_bytes(buf, 3, layer.encode())
    return bytes(buf)


def empty_tile(layers=("image",), extent=4096):
    """A valid tile whose named layers hold no features."""
    return encode_tile([Layer(n, extent) for n in layers if n])


# ---------------------------------------------------------------------------
# Web Mercator


def lonlat_to_global(z, lon, lat, extent):
    """lon/lat in degrees to global pixel coordinates (floats) at zoom z:
    tile x = floor(gx / extent), pixel = floor(gx) mod extent."""
    n = float(1 << z)
    fx = (lon + 180.0) / 360.0 * n
    rad = math.radians(lat)
    fy = (1.0 - math.asinh(math.tan(rad)) / math.pi) / 2.0 * n
    return fx * extent, fy * extent


def pixel_to_lonlat(z, tx, ty, px, py, extent):
    """lon/lat of pixel (px, py) of tile z/tx/ty, the corner of the pixel,
    with the operations in the order of the C tile module (tile_to_lonlat),
    so that truth.json and the tool agree to the last bit."""
    n = float(1 << z)
    fx = (float(tx) * extent + px) / extent
    fy = (float(ty) * extent + py) / extent
    lon = fx / n * 360.0 - 180.0
    lat = math.degrees(math.atan(math.sinh(math.pi * (1.0 - 2.0 * fy / n))))
    return lon, lat


def tile_bounds(z, x, y):
    """(west, south, east, north) of a tile in degrees."""
    w, n = pixel_to_lonlat(z, x, y, 0, 0, 1)
    e, s = pixel_to_lonlat(z, x + 1, y + 1, 0, 0, 1)
    return w, s, e, n


# ---------------------------------------------------------------------------
# generator

ID_KINDS = ("double", "uint", "int", "sint", "string")
TIME_KINDS = ("int", "uint", "double", "string", "sint")
ORG_KINDS = ("uint", "int", "double", "string")
SEQ_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
METRES_PER_DEGREE = 6371008.8 * math.pi / 180.0
TWO53 = 1 << 53


class GenOptions:
    """Knobs of the generator; the defaults give a realistic mixture."""

    def __init__(self, **kw):
        self.seed = 1
        self.zoom = 14
        self.extent = 4096
        self.bbox = None               # (W, S, E, N) the walks stay inside
        self.sequences = 10
        self.points_per_seq = 200
        self.count = None              # cap on images in total (dense)
        self.id_mode = "mixed"         # mixed | each | one of ID_KINDS
        self.time_mode = "mixed"       # mixed | each | one of TIME_KINDS
        self.pano_rate = 0.1           # share of panoramic sequences
        self.org_ids = ["1805883732926354", "222222222222222"]
        self.org_rate = 0.7            # share of sequences with an organization
        self.empty_rate = 0.0          # share of images with values blanked to ""
        self.big_id_rate = 0.2         # share of ids at or above 2^53
        self.creator_rate = 0.3        # share of sequences with extra creator_id
        self.time_from = 1451606400000  # 2016-01-01
        self.time_to = 1704067200000    # 2024-01-01
        self.step = 3.0                # metres between images, on average
        self.sequence_layer = True
        for k, v in kw.items():
            if not hasattr(self, k):
                raise TypeError("unknown option: %s" % k)
            setattr(self, k, v)


class _Image:
    __slots__ = ("seq", "source_id", "captured_at", "compass", "gx", "gy",
                 "tile", "px", "py")


class _Sequence:
    __slots__ = ("index", "seq_id", "is_pano", "org", "creator", "images", "path")


def _unique(rng, seen, make):
    while True:
        v = make(rng)
        if v not in seen:
            seen.add(v)
            return v


def _make_id(rng, big_rate, seen):
    """A fresh image id that neither equals nor rounds (as a double) onto any
    other id: a tool that deduplicates by id must not see a false duplicate."""
    while True:
        if rng.random() < big_rate:
            n = TWO53 + rng.randrange(TWO53)
        else:
            n = 10 ** 14 + rng.randrange(TWO53 - 10 ** 14)
        r = int(float(n))
        if n in seen or r in seen:
            continue
        seen.add(n)
        seen.add(r)
        return n


def _walk(rng, opts, n_points, start_time):
    """A sequence's path: n_points positions a few metres apart, heading
    drifting, bouncing off the bbox edges; times ascending (now and then two
    images share a millisecond, to exercise tie-breaking by id)."""
    w, s, e, nn = opts.bbox
    lon = w + rng.random() * (e - w)
    lat = s + rng.random() * (nn - s)
    heading = rng.random() * 360.0
    step = opts.step * (0.6 + 0.8 * rng.random())
    t = start_time
    out = []
    for i in range(n_points):
        out.append((lon, lat, t, heading))
        if rng.random() < 0.01:
            heading += rng.choice((-90.0, 90.0))
        heading = (heading + rng.gauss(0.0, 2.5)) % 360.0
        d = step * (0.8 + 0.4 * rng.random())
        for _ in range(4):
            h = math.radians(heading)
            dlat = d * math.cos(h) / METRES_PER_DEGREE
            dlon = d * math.sin(h) / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
            nlon, nlat = lon + dlon, lat + dlat
            if nlon < w or nlon > e:
                heading = (-heading) % 360.0
                continue
            if nlat < s or nlat > nn:
                heading = (180.0 - heading) % 360.0
                continue
            lon, lat = nlon, nlat
            break
        if rng.random() >= 0.02:
            t += 800 + rng.randrange(2400)
    return out


def _build_sequences(opts):
    rng = random.Random(opts.seed)
    seen_ids = set()
    seen_seq = set()
    seqs = []
    total = 0
    for si in range(opts.sequences):
        n_points = opts.points_per_seq
        if opts.count is not None:
            n_points = min(n_points, opts.count - total)
            if n_points <= 0:
                break
        sq = _Sequence()
        sq.index = si
        sq.seq_id = _unique(rng, seen_seq, lambda r: "".join(
            r.choice(SEQ_ALPHABET) for _ in range(22)))
        sq.is_pano = rng.random() < opts.pano_rate
        sq.org = None
        if opts.org_ids and rng.random() < opts.org_rate:
            sq.org = rng.choice(opts.org_ids)
        sq.creator = None
        if rng.random() < opts.creator_rate:
            sq.creator = 100000000000000 + rng.randrange(10 ** 15)
        span = n_points * 2200
        latest = max(opts.time_from, opts.time_to - span)
        start = opts.time_from + rng.randrange(latest - opts.time_from + 1)
        walk = _walk(rng, opts, n_points, start)
        sq.images = []
        sq.path = []
        for lon, lat, t, heading in walk:
            im = _Image()
            im.seq = sq
            im.source_id = _make_id(rng, opts.big_id_rate, seen_ids)
            im.captured_at = min(t, opts.time_to)
            if sq.is_pano:
                im.compass = rng.random() * 360.0
            else:
                im.compass = (heading + rng.gauss(0.0, 2.0)) % 360.0
            im.gx, im.gy = lonlat_to_global(opts.zoom, lon, lat, opts.extent)
            sq.path.append((im.gx, im.gy))
            gpx, gpy = math.floor(im.gx), math.floor(im.gy)
            im.tile = (opts.zoom, gpx // opts.extent, gpy // opts.extent)
            im.px, im.py = gpx % opts.extent, gpy % opts.extent
            sq.images.append(im)
        total += n_points
        seqs.append(sq)
    return seqs


def _clip_segment(ax, ay, bx, by, x0, y0, x1, y1):
    """Liang-Barsky: the part of segment a-b inside [x0,x1]x[y0,y1], or None."""
    t0, t1 = 0.0, 1.0
    dx, dy = bx - ax, by - ay
    for p, q in ((-dx, ax - x0), (dx, x1 - ax), (-dy, ay - y0), (dy, y1 - ay)):
        if p == 0:
            if q < 0:
                return None
            continue
        r = q / p
        if p < 0:
            if r > t1:
                return None
            t0 = max(t0, r)
        else:
            if r < t0:
                return None
            t1 = min(t1, r)
    if t0 > t1:
        return None
    return (ax + t0 * dx, ay + t0 * dy, ax + t1 * dx, ay + t1 * dy)


def _clip_paths(seqs, tiles, z, extent):
    """Sequence lines cut at tile borders, as the `sequence` layer holds them:
    {(tile, seq index): [part, ...]} with parts in tile pixels in
    [0, extent], only for tiles in `tiles`."""
    parts = {}
    last = {}   # (tile, seq) -> segment index that extended the last part
    for sq in seqs:
        p = sq.path
        for i in range(len(p) - 1):
            (ax, ay), (bx, by) = p[i], p[i + 1]
            for tx in range(int(min(ax, bx) // extent), int(max(ax, bx) // extent) + 1):
                for ty in range(int(min(ay, by) // extent), int(max(ay, by) // extent) + 1):
                    t = (z, tx, ty)
                    if t not in tiles:
                        continue
                    ox, oy = tx * extent, ty * extent
                    c = _clip_segment(ax, ay, bx, by, ox, oy, ox + extent, oy + extent)
                    if c is None:
                        continue
                    a = (round(c[0] - ox), round(c[1] - oy))
                    b = (round(c[2] - ox), round(c[3] - oy))
                    key = (t, sq.index)
                    lst = parts.setdefault(key, [])
                    if lst and last.get(key) == i - 1 and lst[-1][-1] == a:
                        lst[-1].append(b)
                    else:
                        lst.append([a, b])
                    last[key] = i
    return parts


def _num_value(kind, n):
    if kind == "string":
        return Value.string(str(n))
    if kind == "double":
        return Value.double(float(n))
    if kind == "int":
        return Value.int64(n)
    if kind == "sint":
        return Value.sint64(n)
    return Value.uint64(n)


def _pick(mode, kinds, rng):
    """A tile's choice: a fixed kind, 'each' (decided per image) or, for
    'mixed', a random kind or 'each'."""
    if mode == "mixed":
        return rng.choice(kinds + ("each",))
    return mode


def _decoded_number(value):
    """What a reader gets from a numeric property: an int, or None when the
    tile leaves it unknown (empty string)."""
    if value.kind == "string":
        return int(value.v) if value.v else None
    if value.kind in ("float", "double"):
        return int(value.v)
    return value.v


def _tile_layers(opts, tile, images, seqs, paths):
    """Encode one tile; returns (bytes, truth records of its images)."""
    z, tx, ty = tile
    rng = random.Random("mvtgen:%d:%d/%d/%d" % (opts.seed, z, tx, ty))
    id_kind = _pick(opts.id_mode, ID_KINDS, rng)
    time_kind = _pick(opts.time_mode, TIME_KINDS, rng)
    if opts.id_mode == "mixed":
        org_kind = rng.choice(ORG_KINDS)
        compass_kind = rng.choice(("double", "double", "double", "float"))
    else:
        org_kind = opts.id_mode if opts.id_mode in ORG_KINDS else "uint"
        compass_kind = "double"
    images = list(images)
    rng.shuffle(images)   # tiles hold images in no useful order
    fid = 0
    layers = []

    if opts.sequence_layer:
        sl = Layer("sequence", opts.extent)
        for sq in seqs:
            lines = paths.get((tile, sq.index))
            if not lines:
                continue
            geom = geom_lines(lines)
            if not geom:
                continue
            first = sq.images[0]
            props = [("captured_at", _num_value(time_kind if time_kind != "each" else "int",
                                                first.captured_at)),
                     ("id", Value.string(sq.seq_id)),
                     ("image_id", _num_value(id_kind if id_kind != "each" else "uint",
                                             first.source_id)),
                     ("is_pano", Value.boolean(sq.is_pano))]
            if sq.org is not None:
                props.append(("organization_id", _num_value(org_kind, int(sq.org))))
            sl.add_feature(LINESTRING, geom, props, fid)
            fid += 1
        layers.append(sl)

    il = Layer("image", opts.extent)
    truth = []
    blank = Value.string("")
    for index, im in enumerate(images):
        sq = im.seq
        ik = rng.choice(ID_KINDS) if id_kind == "each" else id_kind
        tk = rng.choice(TIME_KINDS) if time_kind == "each" else time_kind
        empty = opts.empty_rate > 0 and rng.random() < opts.empty_rate
        props = [("captured_at", _num_value(tk, im.captured_at)),
                 ("compass_angle", Value(compass_kind, im.compass)),
                 ("id", _num_value(ik, im.source_id)),
                 ("is_pano", Value.boolean(sq.is_pano))]
        if sq.org is not None:
            props.append(("organization_id", _num_value(org_kind, int(sq.org))))
        props.append(("sequence_id", Value.string(sq.seq_id)))
        if sq.creator is not None:
            props.append(("creator_id", Value.uint64(sq.creator)))
        if empty:
            # like the published real tiles: all but sequence_id blanked
            props = [(k, v if k == "sequence_id" else blank) for k, v in props]
        il.add_feature(POINT, [9, zigzag(im.px), zigzag(im.py)], props, fid)
        fid += 1

        pv = dict(props)
        lon, lat = pixel_to_lonlat(z, tx, ty, im.px, im.py, opts.extent)
        idv = _decoded_number(pv["id"])
        rec = {
            "tile": "%d/%d/%d" % tile,
            "index": index,
            "feature_id": fid - 1,
            "px": im.px,
            "py": im.py,
            "lon": lon,
            "lat": lat,
            "id": None if idv is None else str(idv),
            "source_id": str(im.source_id),
            "sequence_id": sq.seq_id,
            "captured_at": _decoded_number(pv["captured_at"]),
            "compass_angle": None if empty else pv["compass_angle"].decoded(),
            "is_pano": None if empty else sq.is_pano,
            "organization_id": None,
            "blank": empty,
            "types": {k: v.kind for k, v in props},
        }
        if "organization_id" in pv and not empty:
            rec["organization_id"] = str(_decoded_number(pv["organization_id"]))
        if "creator_id" in pv:
            rec["creator_id"] = None if empty else sq.creator
        truth.append(rec)
    layers.append(il)
    return encode_tile(layers), truth


def generate(opts):
    """Generate tiles for opts. Returns (tiles, truth): tiles maps (z, x, y)
    to tile bytes for every tile that holds at least one image, truth lists
    every image in tile order (x, y, feature index)."""
    if opts.bbox is None:
        raise ValueError("generate needs a bbox")
    seqs = _build_sequences(opts)
    by_tile = {}
    for sq in seqs:
        for im in sq.images:
            by_tile.setdefault(im.tile, []).append(im)
    paths = _clip_paths(seqs, by_tile, opts.zoom, opts.extent) if opts.sequence_layer else {}
    tiles = {}
    truth = []
    for t in sorted(by_tile, key=lambda t: (t[1], t[2])):
        data, recs = _tile_layers(opts, t, by_tile[t], seqs, paths)
        tiles[t] = data
        truth += recs
    return tiles, truth


def generate_area(opts):
    """generate() for an area: the walks stay inside opts.bbox."""
    w, s, e, n = opts.bbox
    if not (-180.0 <= w < e <= 180.0 and -85.0 <= s < n <= 85.0):
        raise ValueError("bbox must be W,S,E,N with W < E and S < N within the Mercator range")
    return generate(opts)


def generate_dense(opts, tile, count):
    """One tile with exactly `count` images: walks confined to the tile."""
    z, x, y = tile
    opts.zoom = z
    w, s, e, n = tile_bounds(z, x, y)
    # keep one pixel away from the borders so that no image lands next door
    mx = (e - w) / opts.extent
    my = (n - s) / opts.extent
    opts.bbox = (w + mx, s + my, e - mx, n - my)
    opts.count = count
    opts.sequences = -(-count // max(1, opts.points_per_seq))
    tiles, truth = generate(opts)
    if list(tiles) != [tuple(tile)]:
        raise AssertionError("dense images left the tile")
    return tiles[tuple(tile)], truth


def truth_document(opts, tiles, truth, command):
    """The truth.json object: settings, tiles with their counts, images."""
    counts = {}
    for r in truth:
        counts[r["tile"]] = counts.get(r["tile"], 0) + 1
    return {
        "format": "mvtgen-truth/1",
        "command": command,
        "seed": opts.seed,
        "zoom": opts.zoom,
        "extent": opts.extent,
        "tiles": [{"tile": "%d/%d/%d" % t, "images": counts["%d/%d/%d" % t],
                   "bytes": len(d)} for t, d in tiles.items()],
        "images": truth,
    }


# ---------------------------------------------------------------------------
# command line


def _write(path, data, gz=False):
    if gz:
        data = gzip.compress(data, mtime=0)   # mtime 0: same bytes every run
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _write_json(path, doc):
    _write(path, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode("utf-8"))


def _rate(s):
    v = float(s)
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError("a rate is between 0 and 1: %s" % s)
    return v


def _bbox(s):
    try:
        v = [float(p) for p in s.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("bbox is W,S,E,N: %s" % s)
    if len(v) != 4 or not all(math.isfinite(p) for p in v):
        raise argparse.ArgumentTypeError("bbox is W,S,E,N: %s" % s)
    if not (-180.0 <= v[0] < v[2] <= 180.0 and -85.0 <= v[1] < v[3] <= 85.0):
        raise argparse.ArgumentTypeError("bbox needs W < E, S < N within the Mercator range: %s" % s)
    return tuple(v)


def _tile(s):
    try:
        z, x, y = (int(p) for p in s.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError("tile is Z/X/Y: %s" % s)
    if not (0 <= z <= 24 and 0 <= x < (1 << z) and 0 <= y < (1 << z)):
        raise argparse.ArgumentTypeError("tile out of range: %s" % s)
    return (z, x, y)


def _positive(s):
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError("must be at least 1: %s" % s)
    return v


def _zoom(s):
    v = int(s)
    if not 0 <= v <= 24:
        raise argparse.ArgumentTypeError("zoom is 0 to 24: %s" % s)
    return v


def _count(s):
    v = int(s)
    if v < 0:
        raise argparse.ArgumentTypeError("must not be negative: %s" % s)
    return v


def _add_value_options(p):
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--id-mode", default="mixed", choices=("mixed", "each") + ID_KINDS,
                   help="how image ids are encoded: one kind for all, 'each' image its own, "
                        "or 'mixed': each tile picks a kind or 'each' (default)")
    p.add_argument("--time-mode", default="mixed", choices=("mixed", "each") + TIME_KINDS,
                   help="how captured_at is encoded (same choices as --id-mode)")
    p.add_argument("--pano-rate", type=_rate, default=0.1, help="share of panoramic sequences")
    p.add_argument("--org-ids", default="1805883732926354,222222222222222",
                   help="comma-separated organization ids ('' for none)")
    p.add_argument("--org-rate", type=_rate, default=0.7,
                   help="share of sequences that have an organization_id")
    p.add_argument("--empty-rate", type=_rate, default=0.0,
                   help="share of images whose values are all \"\" but sequence_id")
    p.add_argument("--big-id-rate", type=_rate, default=0.2,
                   help="share of image ids >= 2^53 (these round when sent as double)")
    p.add_argument("--creator-rate", type=_rate, default=0.3,
                   help="share of sequences with an extra creator_id (uint) property")
    p.add_argument("--time-from", type=int, default=1451606400000, help="earliest captured_at (ms)")
    p.add_argument("--time-to", type=int, default=1704067200000, help="latest captured_at (ms)")
    p.add_argument("--step", type=float, default=3.0, help="metres between images (default 3)")
    p.add_argument("--extent", type=_positive, default=4096, help="tile extent (default 4096)")
    p.add_argument("--no-sequence-layer", action="store_true", help="write the image layer only")
    p.add_argument("--gzip", action="store_true", help="gzip the tile bodies")


def _options(a):
    if a.time_from > a.time_to:
        raise SystemExit("mvtgen: --time-from is after --time-to")
    return GenOptions(
        seed=a.seed, extent=a.extent, id_mode=a.id_mode, time_mode=a.time_mode,
        pano_rate=a.pano_rate, org_ids=[o for o in a.org_ids.split(",") if o.strip()],
        org_rate=a.org_rate, empty_rate=a.empty_rate, big_id_rate=a.big_id_rate,
        creator_rate=a.creator_rate, time_from=a.time_from, time_to=a.time_to,
        step=a.step, sequence_layer=not a.no_sequence_layer)


def _parser():
    ap = argparse.ArgumentParser(prog="mvtgen.py",
                                 description="Write Mapillary-like vector tiles (MVT 2.1).")
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("area", help="tiles for an area: DIR/Z/X/Y.mvt for every tile with images")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--bbox", required=True, type=_bbox, help="W,S,E,N in degrees")
    p.add_argument("--sequences", type=_count, default=10, help="number of sequences (default 10)")
    p.add_argument("--points-per-seq", type=_positive, default=200,
                   help="images per sequence (default 200)")
    p.add_argument("--zoom", type=_zoom, default=14, help="tile zoom (default 14)")
    p.add_argument("--truth", action="store_true", help="also write DIR/truth.json")
    _add_value_options(p)

    p = sub.add_parser("dense", help="one dense tile, for benches")
    p.add_argument("--out", required=True, help="output file")
    p.add_argument("--count", type=_positive, default=30000, help="images (default 30000)")
    p.add_argument("--tile", type=_tile, default=(14, 3251, 6258), help="Z/X/Y (default 14/3251/6258)")
    p.add_argument("--points-per-seq", type=_positive, default=300,
                   help="images per sequence (default 300)")
    p.add_argument("--truth", metavar="PATH", help="also write the truth JSON here")
    _add_value_options(p)

    p = sub.add_parser("empty", help="a valid tile without features")
    p.add_argument("--out", required=True, help="output file")
    p.add_argument("--layers", default="image",
                   help="comma-separated empty layers (default image; '' for a zero-byte tile)")
    p.add_argument("--extent", type=_positive, default=4096)
    p.add_argument("--gzip", action="store_true")
    return ap


def _join_negative(argv):
    # "--bbox -108.6,..." would read as an option to argparse: glue it
    out = []
    i = 0
    while i < len(argv):
        if argv[i] in ("--bbox", "--time-from", "--time-to", "--seed") and i + 1 < len(argv):
            out.append(argv[i] + "=" + argv[i + 1])
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    a = _parser().parse_args(_join_negative(argv))
    command = ["mvtgen.py"] + argv
    if a.cmd == "empty":
        layers = [n for n in a.layers.split(",") if n]
        _write(a.out, empty_tile(layers, a.extent), a.gzip)
        return 0
    opts = _options(a)
    if a.cmd == "area":
        opts.bbox = a.bbox
        opts.zoom = a.zoom
        opts.sequences = a.sequences
        opts.points_per_seq = a.points_per_seq
        tiles, truth = generate_area(opts)
        for (z, x, y), data in tiles.items():
            _write(os.path.join(a.out, str(z), str(x), "%d.mvt" % y), data, a.gzip)
        if a.truth:
            _write_json(os.path.join(a.out, "truth.json"),
                        truth_document(opts, tiles, truth, command))
        print("mvtgen: %d images in %d tiles under %s" % (len(truth), len(tiles), a.out),
              file=sys.stderr)
        return 0
    opts.points_per_seq = a.points_per_seq
    data, truth = generate_dense(opts, a.tile, a.count)
    _write(a.out, data, a.gzip)
    if a.truth:
        _write_json(a.truth, truth_document(opts, {a.tile: data}, truth, command))
    print("mvtgen: %d images, %d bytes in %s" % (len(truth), len(data), a.out), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
