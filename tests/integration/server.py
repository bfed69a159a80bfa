#!/usr/bin/env python3
"""server.py -- local stand-in for the Mapillary tile and Graph API servers, with fault injection.

Serves ROOT/{z}/{x}/{y}.mvt for any path whose last three segments are z/x/y
(a suffix such as .mvt on y is fine), and a few Graph API endpoints from
ROOT/graph/. Binds 127.0.0.1 only. Python 3 standard library only (and
Debian's cjpeg for the images).

Images (the Graph API's image entities and a CDN): every decimal id is an
image unless ROOT/graph/images.json says otherwise:
    {"deleted": [ids],            unknown to the Graph API (deleted/private)
     "no_size": {"2048": [ids]},  no thumb_2048_url field
     "gone": [ids],               the Graph API has a link, the CDN says 410
     "sequence": {"id": "seq"}}   the entity's sequence (else "s<id mod 7>")
Three forms: the batch GET /graph?ids=A,B&fields=... (an object keyed by
id; --graph-ids ok | strict: refused when one id is unknown, as Facebook's
Graph does | refuse: the form is not supported), GET /graph/images?
image_ids=A,B&fields=... ({"data": [...]}; --graph-images ok | refuse) and
GET /graph/ID?fields=... (404 code 100 when unknown; --graph-missing-status
400 answers as Facebook's Graph does). More than
--graph-max-ids ids in one request is a 400.
The thumbnail links point to the CDN, a second listener (--cdn-port-file),
/cdn/ID/SIZE.jpg?exp=UNIX&sig=HMAC: a link past its expiry (--url-ttl;
--expire-first makes each image's first link already expired) or with a
bad signature is 403, a "gone" image 410. Each body is a real JPEG made by
cjpeg for that size (noise, so that 2048 is some 500 KB) with a COM segment
"mly-test id=ID size=SIZE" after SOI. Faults strike the CDN too
(--fault-where picks tile, graph, cdn, or all).

With --redirect-to PREFIX every request whose path does not start with
/moved/ is answered 302 with Location PREFIX/moved<path>?<query> (the query,
token included, kept as browsers and servers do); PREFIX "self" is this
server. A second server at PREFIX logs what reaches it.

A tile may carry a permanent override ROOT/{z}/{x}/{y}.status:
    line 1:  STATUS [BODYFILE]      e.g. "500", "204", "403 err190.json"
    line 2+: optional "Header: value" lines sent with the answer
BODYFILE is looked up next to the .status file, then in ROOT.

Faults are drawn from a hash of (seed, request key, attempt number of that
key), so a run is reproducible and a retry of a failed request can succeed.
At most one of fail/429/truncate/reset strikes a request (they share one
draw); slow and gzip have draws of their own.

The JSON-lines log (--log) has one object per request, written before the
answer goes out, so a client that has its answer can count on the line
being there. The access token is never written: the query's access_token
value is replaced by REDACTED, and of the Authorization header only its
presence is logged.
"""

import argparse
import gzip
import hashlib
import hmac
import http.server
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse

ERR190 = {"error": {"message": "Invalid OAuth access token.",
                    "type": "OAuthException", "code": 190}}


def parse_args(argv):
    p = argparse.ArgumentParser(description="test tile / graph server with faults")
    p.add_argument("--root", required=True, help="directory of z/x/y.mvt tiles")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--port-file", help="write the port here (atomically) once listening")
    p.add_argument("--token", help="required access token")
    p.add_argument("--latency-ms", type=float, default=0.0, help="delay before every answer")
    p.add_argument("--fault-seed", default="0")
    p.add_argument("--fail-rate", type=float, default=0.0, help="answer 500")
    p.add_argument("--rate429", type=float, default=0.0, help="answer 429 with Retry-After")
    p.add_argument("--retry-after", type=int, default=0, help="seconds sent in Retry-After")
    p.add_argument("--truncate-rate", type=float, default=0.0,
                   help="send half the body, then close")
    p.add_argument("--reset-rate", type=float, default=0.0, help="close without an answer (RST)")
    p.add_argument("--slow-rate", type=float, default=0.0, help="sleep --slow-ms first")
    p.add_argument("--slow-ms", type=float, default=1000.0)
    p.add_argument("--auth-fail-after", type=int, default=-1,
                   help="after N successful tile answers, answer 403 code 190 to everything")
    p.add_argument("--gzip-rate", type=float, default=0.0,
                   help="gzip bodies (half with Content-Encoding, half raw)")
    p.add_argument("--garble-rate", type=float, default=0.0,
                   help="answer a garbled status line, then close")
    p.add_argument("--redirect-to", help="302 every request not under /moved/ to PREFIX/moved/...;"
                   " 'self' for this server")
    p.add_argument("--log", help="JSON-lines request log")
    p.add_argument("--cdn-port-file", help="also serve the image CDN; write its port here")
    p.add_argument("--graph-ids", choices=("ok", "strict", "refuse"), default="ok",
                   help="the batch form ?ids=: answers, refuses on an unknown id, or refuses")
    p.add_argument("--graph-images", choices=("ok", "refuse"), default="ok",
                   help="the /images?image_ids= form")
    p.add_argument("--graph-max-ids", type=int, default=50, help="ids one request may ask for")
    p.add_argument("--graph-missing-status", type=int, default=404,
                   help="HTTP status of the error answer for an object that does not exist"
                        " (Facebook's Graph answers 400)")
    p.add_argument("--url-ttl", type=float, default=3600.0, help="seconds a CDN link lives")
    p.add_argument("--expire-first", action="store_true",
                   help="the first link handed out for each image is already expired")
    p.add_argument("--fault-where", default="all",
                   help="comma list of tile,graph,cdn where faults strike (default all)")
    p.add_argument("--jpeg-cache", help="directory for the generated JPEGs (default a temp dir)")
    p.add_argument("--max-seconds", type=float, default=600.0, help="stop after this long")
    return p.parse_args(argv)


def draw(seed, key, attempt, what):
    """A number in [0, 1) that depends only on its arguments."""
    h = hashlib.sha256(f"{seed}\0{key}\0{attempt}\0{what}".encode()).digest()
    return struct.unpack(">Q", h[:8])[0] / 2.0 ** 64


def redact_query(query):
    """The query string with any access_token value replaced by REDACTED."""
    out = []
    for part in query.split("&") if query else []:
        name = part.split("=", 1)[0]
        out.append(name + "=REDACTED" if name == "access_token" else part)
    return "&".join(out)


class State:
    """Everything the handler threads share; counters under one lock."""

    def __init__(self, args):
        self.args = args
        self.root = os.path.abspath(args.root)
        self.lock = threading.Lock()
        self.attempts = {}
        self.tiles_ok = 0
        self.logf = open(args.log, "a", encoding="utf-8") if args.log else None
        self.t0 = time.monotonic()
        self.cdn_base = None  # set once the CDN listens
        self.cdn_on_api = False  # no CDN listener: /cdn/ on this one
        self.links = {}       # image id -> links handed out
        self.secret = os.urandom(16)
        self.jpegs = {}       # size -> JPEG bytes (made on first use)
        self.images_cfg = None

    def images(self):
        """ROOT/graph/images.json as sets (read once)."""
        with self.lock:
            if self.images_cfg is None:
                try:
                    with open(os.path.join(self.root, "graph", "images.json"),
                              encoding="utf-8") as f:
                        cfg = json.load(f)
                except (OSError, ValueError):
                    cfg = {}
                self.images_cfg = {
                    "deleted": set(str(i) for i in cfg.get("deleted", [])),
                    "gone": set(str(i) for i in cfg.get("gone", [])),
                    "no_size": {k: set(str(i) for i in v)
                                for k, v in cfg.get("no_size", {}).items()},
                    "sequence": {str(k): str(v) for k, v in cfg.get("sequence", {}).items()}}
            return self.images_cfg

    def next_link(self, image_id):
        with self.lock:
            n = self.links.get(image_id, 0) + 1
            self.links[image_id] = n
            return n

    def jpeg(self, size):
        with self.lock:
            if size not in self.jpegs:
                self.jpegs[size] = make_jpeg(size, self.args.jpeg_cache)
            return self.jpegs[size]

    def next_attempt(self, key):
        with self.lock:
            n = self.attempts.get(key, 0) + 1
            self.attempts[key] = n
            return n

    def claim_tile_ok(self):
        """Count one successful tile answer; False once --auth-fail-after is reached."""
        n = self.args.auth_fail_after
        with self.lock:
            if 0 <= n <= self.tiles_ok:
                return False
            self.tiles_ok += 1
            return True

    def auth_broken(self):
        n = self.args.auth_fail_after
        with self.lock:
            return n >= 0 and self.tiles_ok >= n

    def log(self, rec):
        rec["t"] = round(time.monotonic() - self.t0, 6)
        line = json.dumps(rec, sort_keys=True) + "\n"
        with self.lock:
            if not self.logf:
                return
            self.logf.write(line)
            self.logf.flush()


JPEG_DIMS = {"256": (256, 192), "1024": (1024, 768), "2048": (2048, 1536),
             "original": (3000, 2250)}
IMAGE_SIZES = ("256", "1024", "2048", "original")


def make_jpeg(size, cache_dir):
    """A real baseline JPEG of the size's dimensions: cjpeg over noise."""
    w, h = JPEG_DIMS[size]
    path = os.path.join(cache_dir, "mly-test-%s.jpg" % size) if cache_dir else None
    if path and os.path.exists(path):
        with open(path, "rb") as f:
            return f.read()
    amp = 32  # noise amplitude: a 2048 image is some 500 KB, like a real one
    table = bytes(128 - amp // 2 + (i * amp) // 256 for i in range(256))
    rnd = hashlib.sha256(size.encode()).digest()
    body = bytearray()
    while len(body) < w * h * 3:  # deterministic noise, fast enough (SHAKE)
        body += hashlib.shake_256(rnd + len(body).to_bytes(8, "big")).digest(1 << 20)
    import subprocess  # only servers that hand out images need it
    ppm = b"P6\n%d %d\n255\n" % (w, h) + bytes(body[:w * h * 3]).translate(table)
    out = subprocess.run(["cjpeg", "-quality", "80"], input=ppm, capture_output=True,
                         check=True).stdout
    if path:
        os.makedirs(cache_dir, exist_ok=True)
        tmp = "%s.tmp.%d" % (path, os.getpid())
        with open(tmp, "wb") as f:
            f.write(out)
        os.replace(tmp, path)
    return out


def jpeg_for(base, image_id, size):
    """The size's JPEG with a COM segment naming the image, right after SOI."""
    text = ("mly-test id=%s size=%s" % (image_id, size)).encode()
    com = b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text
    return base[:2] + com + base[2:]


def tile_of(path):
    """(z, x, y) from the last three path segments, or None."""
    segs = [s for s in path.split("/") if s]
    if len(segs) < 3:
        return None
    last = segs[-1].split(".", 1)[0]
    zxy = segs[-3:-1] + [last]
    if not all(s.isdigit() for s in zxy):
        return None
    return tuple(int(s) for s in zxy)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mly-test-server/1"
    # Headers and body go out in separate writes: without TCP_NODELAY,
    # Nagle plus delayed ACKs would add ~40 ms to every answer.
    disable_nagle_algorithm = True
    timeout = 120  # drop a connection idle this long (seconds)

    def log_message(self, fmt, *args):
        pass  # the JSON log replaces the default stderr chatter

    # -- routing ---------------------------------------------------------

    def do_GET(self):
        st = self.server.state
        a = st.args
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        tile = tile_of(url.path)
        key_q = redact_query(url.query)
        # Retries of one request share a key: the token is not part of it
        rest = "&".join(p for p in key_q.split("&") if p and not p.startswith("access_token="))
        key = url.path + ("?" + rest if rest else "")
        attempt = st.next_attempt(key)
        cdn = getattr(self.server, "is_cdn", False) or (
            self.server.state.cdn_on_api and url.path.startswith("/cdn/"))
        where = "cdn" if cdn else "tile" if tile is not None else "graph"
        rec = {"method": "GET", "path": url.path, "query": key_q, "attempt": attempt,
               "fault": None, "gzip": None, "host": "cdn" if cdn else "api",
               "tile": "%d/%d/%d" % tile if tile is not None else None,
               "user_agent": self.headers.get("User-Agent"),
               "accept_encoding": self.headers.get("Accept-Encoding"),
               "auth_header": "Authorization" in self.headers}
        if cdn:
            # what the CDN must never see: the token anywhere in the request
            raw = self.requestline + "\n" + str(self.headers)
            rec["token_seen"] = bool(a.token) and (
                a.token in raw or urllib.parse.quote(a.token, safe="") in raw)
            rec["access_token_param"] = "access_token" in q

        if a.latency_ms > 0:
            time.sleep(a.latency_ms / 1000.0)
        if a.slow_rate > 0 and draw(a.fault_seed, key, attempt, "slow") < a.slow_rate:
            rec["slow"] = True
            time.sleep(a.slow_ms / 1000.0)

        if a.redirect_to and not url.path.startswith("/moved/"):
            prefix = a.redirect_to
            if prefix == "self":
                prefix = "http://127.0.0.1:%d" % self.server.server_address[1]
            loc = prefix + "/moved" + url.path + ("?" + url.query if url.query else "")
            return self.answer(rec, 302, b"", "text/plain", fault="redirect",
                               headers=[("Location", loc)])
        if not cdn and a.token is not None and not self.token_ok(tile is not None, q):
            return self.answer(rec, 403, json.dumps(ERR190).encode(), "application/json",
                               fault="bad-token")
        if st.auth_broken():
            return self.answer(rec, 403, json.dumps(ERR190).encode(), "application/json",
                               fault="auth-fail-after")

        u = draw(a.fault_seed, key, attempt, "fault")
        if a.fault_where != "all" and where not in a.fault_where.split(","):
            u = 1.0  # no fault here
        edges = [("fail", a.fail_rate), ("429", a.rate429),
                 ("truncate", a.truncate_rate), ("reset", a.reset_rate),
                 ("garble", a.garble_rate)]
        fault, acc = None, 0.0
        for name, rate in edges:
            acc += rate
            if u < acc:
                fault = name
                break
        if fault == "reset":
            return self.reset(rec)
        if fault == "garble":
            return self.garble(rec)
        if fault == "fail":
            return self.answer(rec, 500, b"internal error\n", "text/plain", fault="fail")
        if fault == "429":
            return self.answer(rec, 429, b"", "text/plain", fault="429",
                               headers=[("Retry-After", str(a.retry_after))])

        if cdn:
            status, body, ctype, headers = self.cdn_answer(url.path, q)
        elif tile is not None:
            status, body, ctype, headers = self.tile_answer(tile)
        else:
            status, body, ctype, headers = self.graph_answer(url.path, q)
        if status == 200 and tile is not None and fault != "truncate" and \
                not st.claim_tile_ok():
            return self.answer(rec, 403, json.dumps(ERR190).encode(), "application/json",
                               fault="auth-fail-after")
        self.answer(rec, status, body, ctype, headers=headers,
                    truncate=(fault == "truncate"), fault=fault,
                    gz=(a.gzip_rate > 0 and bool(body) and status != 204 and
                        draw(a.fault_seed, key, attempt, "gzip") < a.gzip_rate),
                    gz_raw=draw(a.fault_seed, key, attempt, "gzip-raw") < 0.5)

    def token_ok(self, is_tile, q):
        tok = self.server.state.args.token
        if is_tile:
            return q.get("access_token", [None])[0] == tok
        return self.headers.get("Authorization", "") == "OAuth " + tok

    # -- content ---------------------------------------------------------

    def tile_answer(self, tile):
        st = self.server.state
        z, x, y = tile
        base = os.path.join(st.root, str(z), str(x), str(y))
        if os.path.exists(base + ".huge"):
            # a body of N bytes (or endless with "endless"), generated as sent
            with open(base + ".huge") as f:
                spec = f.read().strip()
            return 200, None, "application/x-protobuf", [("X-Huge", spec)]
        if os.path.exists(base + ".status"):
            return self.override(base + ".status")
        try:
            with open(base + ".mvt", "rb") as f:
                body = f.read()
        except (FileNotFoundError, NotADirectoryError):
            return 404, b"", "text/plain", []
        return 200, body, "application/x-protobuf", []

    def override(self, spec_path):
        st = self.server.state
        with open(spec_path, encoding="utf-8") as f:
            lines = [ln.strip() for ln in f.read().splitlines() if ln.strip()]
        first = lines[0].split(None, 1) if lines else ["500"]
        status = int(first[0])
        body, ctype = b"", "text/plain"
        if len(first) > 1:
            name = first[1].strip()
            for d in (os.path.dirname(spec_path), st.root):
                p = os.path.join(d, name)
                if os.path.exists(p):
                    with open(p, "rb") as f:
                        body = f.read()
                    break
            if name.endswith(".json"):
                ctype = "application/json"
        headers = []
        for ln in lines[1:]:
            if ":" in ln:
                k, v = ln.split(":", 1)
                headers.append((k.strip(), v.strip()))
        return status, body, ctype, headers

    def graph_answer(self, path, q):
        st = self.server.state
        segs = [s for s in path.split("/") if s]
        if segs and segs[0] == "moved":
            segs = segs[1:]
        if segs and segs[0] == "graph":
            segs = segs[1:]
        gdir = os.path.join(st.root, "graph")
        if not segs and "ids" in q:
            return self.images_batch(q)
        if segs == ["images"]:
            return self.images_list(q)
        if len(segs) == 1 and segs[0].isdigit() and \
                q.get("fields", [""])[0] not in ("", "name"):
            return self.image_one(segs[0], q)
        if segs == ["image_ids"]:
            seq = q.get("sequence_id", [""])[0]
            p = os.path.join(gdir, "image_ids", seq + ".json")
            safe = seq and "/" not in seq and not seq.startswith(".")
            if safe and os.path.isfile(p[:-5] + ".status"):
                return self.override(p[:-5] + ".status")
            if safe and os.path.isfile(p):
                with open(p, "rb") as f:
                    return 200, f.read(), "application/json", []
            return self.graph_missing(seq)
        if len(segs) == 1 and segs[0].isdigit():
            try:
                with open(os.path.join(gdir, "orgs.json"), encoding="utf-8") as f:
                    orgs = json.load(f)
            except (OSError, ValueError):
                orgs = {}
            if segs[0] in orgs:
                doc = {"name": orgs[segs[0]], "id": segs[0]}
                return 200, json.dumps(doc).encode(), "application/json", []
            return self.graph_missing(segs[0])
        return 404, b"", "text/plain", []

    # -- image entities and the CDN -------------------------------------

    @staticmethod
    def graph_refused(message, status=400):
        doc = {"error": {"message": message, "type": "GraphMethodException", "code": 100}}
        return status, json.dumps(doc).encode(), "application/json", []

    @staticmethod
    def id_list(text):
        return [i for i in text.split(",") if i]

    def image_entity(self, image_id, fields):
        """The entity's requested fields, or None for an unknown image."""
        st = self.server.state
        cfg = st.images()
        if not image_id.isdigit() or image_id in cfg["deleted"]:
            return None
        out = {"id": image_id}
        n = int(image_id)
        for fld in fields:
            if fld.startswith("thumb_") and fld.endswith("_url"):
                size = fld[len("thumb_"):-len("_url")]
                if size in IMAGE_SIZES and image_id not in cfg["no_size"].get(size, ()):
                    out[fld] = self.signed_link(image_id, size)
            elif fld == "sequence":
                out[fld] = cfg["sequence"].get(image_id, "s%d" % (n % 7))
            elif fld == "camera_type":
                out[fld] = "spherical" if n % 5 == 0 else "perspective"
            elif fld == "make":
                out[fld] = "TestCam"
            elif fld == "model":
                out[fld] = "M%d" % (n % 3)
            elif fld == "computed_compass_angle":
                out[fld] = (n * 37 % 3600) / 10.0
            elif fld == "computed_geometry":
                out[fld] = {"type": "Point",
                            "coordinates": [-108.5 + (n % 1000) / 1e5, 39.0 + (n % 997) / 1e5]}
            elif fld == "creator":
                out[fld] = {"username": "tester", "id": "100"}
            elif fld == "captured_at":
                out[fld] = 1651366800000 + n % 100000
        return out

    def signed_link(self, image_id, size):
        st = self.server.state
        nth = st.next_link(image_id)
        exp = int(time.time() + st.args.url_ttl)
        if st.args.expire_first and nth == 1:
            exp = int(time.time()) - 60
        msg = ("%s/%s/%d" % (image_id, size, exp)).encode()
        sig = hmac.new(st.secret, msg, hashlib.sha256).hexdigest()[:32]
        return "%s/cdn/%s/%s.jpg?exp=%d&sig=%s" % (st.cdn_base, image_id, size, exp, sig)

    def fields_of(self, q):
        return [f for f in q.get("fields", [""])[0].split(",") if f]

    def too_many(self, ids):
        return len(ids) > self.server.state.args.graph_max_ids

    def images_batch(self, q):
        a = self.server.state.args
        ids = self.id_list(q.get("ids", [""])[0])
        if a.graph_ids == "refuse":
            return self.graph_refused("Unsupported get request. Please read the Graph API "
                                      "documentation")
        if not ids or self.too_many(ids):
            return self.graph_refused("Too many IDs. Maximum: %d" % a.graph_max_ids)
        fields = self.fields_of(q)
        out = {}
        for i in ids:
            ent = self.image_entity(i, fields)
            if ent is None:
                if a.graph_ids == "strict":
                    return self.graph_refused("Some of the aliases you requested do not "
                                              "exist: %s" % i, 404)
                continue
            out[i] = ent
        return 200, json.dumps(out).encode(), "application/json", []

    def images_list(self, q):
        a = self.server.state.args
        if a.graph_images == "refuse":
            return self.graph_refused("Unsupported get request")
        ids = self.id_list(q.get("image_ids", [""])[0])
        if not ids or self.too_many(ids):
            return self.graph_refused("Too many IDs. Maximum: %d" % a.graph_max_ids)
        fields = self.fields_of(q)
        data = [e for e in (self.image_entity(i, fields) for i in ids) if e is not None]
        return 200, json.dumps({"data": data}).encode(), "application/json", []

    def image_one(self, image_id, q):
        ent = self.image_entity(image_id, self.fields_of(q))
        if ent is None:
            return self.graph_missing(image_id)
        return 200, json.dumps(ent).encode(), "application/json", []

    def cdn_answer(self, path, q):
        st = self.server.state
        segs = [s for s in path.split("/") if s]
        if len(segs) != 3 or segs[0] != "cdn" or not segs[2].endswith(".jpg"):
            return 404, b"not found\n", "text/plain", []
        image_id, size = segs[1], segs[2][:-4]
        exp = q.get("exp", [""])[0]
        sig = q.get("sig", [""])[0]
        if size not in IMAGE_SIZES or not exp.isdigit():
            return 403, b"<Error><Code>AccessDenied</Code></Error>", "application/xml", []
        msg = ("%s/%s/%s" % (image_id, size, exp)).encode()
        want = hmac.new(st.secret, msg, hashlib.sha256).hexdigest()[:32]
        if not hmac.compare_digest(want, sig):
            return 403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>", "application/xml", []
        if int(exp) < time.time():
            return 403, b"URL signature expired", "text/plain", []
        if image_id in st.images()["gone"]:
            return 410, b"gone\n", "text/plain", []
        return 200, jpeg_for(st.jpeg(size), image_id, size), "image/jpeg", []

    def graph_missing(self, what):
        doc = {"error": {"message": f"Unsupported get request. Object with ID '{what}' "
                                    "does not exist", "type": "GraphMethodException",
                         "code": 100}}
        return self.server.state.args.graph_missing_status, json.dumps(doc).encode(), \
            "application/json", []

    # -- writing ---------------------------------------------------------

    def huge(self, rec, spec):
        """Stream a huge (or endless, chunked) body without holding it."""
        endless = spec == "endless"
        total = 0 if endless else int(spec)
        rec.update(status=200, fault="huge", bytes=total)
        self.server.state.log(rec)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        if endless:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(total))
        self.send_header("Connection", "close")
        self.end_headers()
        block = b"\x1a" * (1 << 20)
        sent = 0
        try:
            while endless or sent < total:
                n = len(block) if endless else min(len(block), total - sent)
                if endless:
                    self.wfile.write(b"%x\r\n" % n + block[:n] + b"\r\n")
                else:
                    self.wfile.write(block[:n])
                sent += n
                if sent > (8 << 30):
                    break  # a bound for the test server itself
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up: that is the point
        self.close_connection = True

    def answer(self, rec, status, body, ctype, headers=(), truncate=False, fault=None,
               gz=False, gz_raw=False):
        if body is None:
            return self.huge(rec, dict(headers)["X-Huge"])
        if gz:
            body = gzip.compress(body, mtime=0)
            rec["gzip"] = "raw" if gz_raw else "header"
        if status == 204:
            body = b""
        send = body
        if truncate:
            send = body[:len(body) // 2]
            if len(send) == len(body):
                fault = None  # nothing to cut from an empty body
        rec.update(status=status, fault=fault, bytes=len(body))
        self.server.state.log(rec)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if gz and not gz_raw:
            self.send_header("Content-Encoding", "gzip")
        for k, v in headers:
            self.send_header(k, v)
        if status != 204:
            self.send_header("Content-Length", str(len(body)))
        if fault == "truncate":
            self.send_header("Connection", "close")
        self.end_headers()
        if send:
            self.wfile.write(send)
        if fault == "truncate":
            self.wfile.flush()
            self.close_connection = True

    def garble(self, rec):
        """A status line no HTTP client can read, then close."""
        rec.update(status=0, fault="garble", bytes=0)
        self.server.state.log(rec)
        self.wfile.write(b"HTPT/1.1 2OO 0K\r\nContent-Length: 0\r\n\r\n")
        self.wfile.flush()
        self.close_connection = True

    def reset(self, rec):
        rec.update(status=0, fault="reset", bytes=0)
        self.server.state.log(rec)
        # Linger 0 makes the close send RST instead of FIN; the real close
        # happens once the handler's file objects are closed in finish().
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stopping must not wait for idle keep-alive connections
    request_queue_size = 512  # many clients connect at once
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # clients vanishing mid-answer is normal under fault tests


def write_port_file(path, port):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)


def main(argv):
    args = parse_args(argv)
    server = Server(("127.0.0.1", args.port), Handler)
    server.state = State(args)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    cdn = None
    if args.cdn_port_file:
        cdn = Server(("127.0.0.1", 0), Handler)
        cdn.state = server.state
        cdn.is_cdn = True
        server.state.cdn_base = "http://127.0.0.1:%d" % cdn.server_address[1]
        threading.Thread(target=cdn.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True).start()
        write_port_file(args.cdn_port_file, cdn.server_address[1])
    else:
        server.state.cdn_base = "http://127.0.0.1:%d" % server.server_address[1]
        server.state.cdn_on_api = True
    if args.port_file:
        write_port_file(args.port_file, server.server_address[1])
    stop.wait(args.max_seconds)
    server.shutdown()
    server.server_close()
    if cdn:
        cdn.shutdown()
        cdn.server_close()
    if server.state.logf:
        with server.state.lock:
            server.state.logf.close()
            server.state.logf = None
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
