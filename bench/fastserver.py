#!/usr/bin/env python3
"""fastserver.py -- asyncio tile server for the fetch benchmark: tiles preloaded, fixed latency, keep-alive.

    python3 bench/fastserver.py --root DIR [--port-file F] [--token T]
                                [--latency-ms MS] [--max-seconds S] [--count-file F]

With --images DIR (DIR/<size>.jpg, e.g. 1024.jpg), also the image side of
download_mapillary_imgs: the Graph API's batch form GET /graph?ids=A,B&
fields=id,thumb_<size>_url (ids below --available-below have a link, the
rest are unknown: left out of the answer), and the CDN, GET
/cdn/<id>/<size>.jpg (no token asked for), whose body is DIR/<size>.jpg.

Serves ROOT/{z}/{x}/{y}.mvt for GET (and HEAD) /tiles/{z}/{x}/{y} over
HTTP/1.1 with keep-alive, bound to 127.0.0.1 only; a missing tile or any
other path answers 404 with an empty body. With --token, a request must
carry access_token=<token> in its query (or `Authorization: OAuth <token>`,
as the Graph API is asked) or it gets 403 with the Graph API's error 190.
Every answer waits --latency-ms first.

Why not tests/integration/server.py: that one is a thread per connection
with time.sleep and per-request file reads, JSON logging and fault draws;
on 2 shared cores it caps near 70% of 64 connections / 50 ms, so the
benchmark measured the server. Here the latency is an asyncio timer
(loop.call_later, what asyncio.sleep uses underneath, without its task
and future: hundreds of requests wait at once for no CPU), every tile's whole
answer is built once at start, and nothing is logged per request. Only a
count of requests is kept: printed to stderr on stop and written to
--count-file. Stops on SIGTERM or SIGINT, or after --max-seconds.

Python 3 standard library only.
"""

import argparse
import asyncio
import collections
import json
import os
import signal
import sys
import urllib.parse

ERR190 = json.dumps({"error": {"message": "Invalid OAuth access token.",
                               "type": "OAuthException", "code": 190}}).encode()
MAX_HEAD = 64 * 1024        # request line + headers; more is refused (431)
MAX_QUEUED = 256            # answers waiting on one connection before it is read no further


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--root", required=True, help="tile tree: ROOT/{z}/{x}/{y}.mvt")
    p.add_argument("--port", type=int, default=0, help="0: any free port")
    p.add_argument("--port-file", help="the port is written here once listening")
    p.add_argument("--token", help="access_token every request must carry")
    p.add_argument("--latency-ms", type=float, default=0.0, help="delay before every answer")
    p.add_argument("--max-seconds", type=float, default=600.0, help="stop after this long")
    p.add_argument("--count-file", help="the number of requests is written here on stop")
    p.add_argument("--images", help="DIR/<size>.jpg: serve the Graph image links and the CDN")
    p.add_argument("--available-below", type=int, default=1 << 62,
                   help="image ids at or above this are unknown to the Graph API")
    return p.parse_args(argv)


def head(status, reason, ctype, length, close=False):
    return ("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n" %
            (status, reason, ctype, length, "Connection: close\r\n" if close else "")).encode()


class Answer:
    """One answer built once: the head alone (HEAD) and head plus body
    (GET), each with and without `Connection: close`."""

    def __init__(self, status, reason, ctype, body):
        self.get = {c: head(status, reason, ctype, len(body), c) + body for c in (False, True)}
        self.head = {c: head(status, reason, ctype, len(body), c) for c in (False, True)}

    def bytes(self, method, close):
        return (self.head if method == b"HEAD" else self.get)[close]


NOT_FOUND = Answer(404, "Not Found", "text/plain", b"")
FORBIDDEN = Answer(403, "Forbidden", "application/json", ERR190)
BAD_REQUEST = Answer(400, "Bad Request", "text/plain", b"")
TOO_LARGE = Answer(431, "Request Header Fields Too Large", "text/plain", b"")
NOT_ALLOWED = Answer(405, "Method Not Allowed", "text/plain", b"")


def load_tiles(root):
    """{"z/x/y": Answer} for every ROOT/z/x/y.mvt with numeric parts: the
    files are read once here so no request touches the disk."""
    tiles = {}
    for z in os.listdir(root):
        zdir = os.path.join(root, z)
        if not z.isdigit() or not os.path.isdir(zdir):
            continue
        for x in os.listdir(zdir):
            xdir = os.path.join(zdir, x)
            if not x.isdigit() or not os.path.isdir(xdir):
                continue
            for name in os.listdir(xdir):
                y, ext = os.path.splitext(name)
                if ext != ".mvt" or not y.isdigit():
                    continue
                with open(os.path.join(xdir, name), "rb") as f:
                    body = f.read()
                key = "%d/%d/%d" % (int(z), int(x), int(y))
                tiles[key] = Answer(200, "OK", "application/x-protobuf", body)
    return tiles


class Conn(asyncio.Protocol):
    """One client connection. A Protocol, not streams: no task or future
    per request, only a parse and a timer (call_later), which takes about a
    third off the server's CPU per request, and so off the time the
    answers of one round wait for each other."""

    def __init__(self, srv):
        self.srv = srv
        self.buf = b""
        self.due = collections.deque()   # (bytes, close after) in request order
        self.closing = False             # a close is queued: read no further
        self.write_paused = False        # the client reads its answers too slowly
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.srv.conns.add(self)

    def connection_lost(self, exc):
        self.srv.conns.discard(self)
        self.due.clear()

    def data_received(self, data):
        if self.closing:
            return
        self.buf += data
        while not self.closing:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD:
                    self.queue(TOO_LARGE.bytes(b"GET", True), True)
                break
            head_bytes, self.buf = self.buf[:end], self.buf[end + 4:]
            if end > MAX_HEAD:
                self.queue(TOO_LARGE.bytes(b"GET", True), True)
                break
            self.request(head_bytes)
        # a client that keeps sending while its answers wait is held back
        if len(self.due) > MAX_QUEUED:
            self.transport.pause_reading()

    def request(self, raw):
        """Answer (after the latency) one request head, body-less."""
        srv = self.srv
        srv.requests += 1
        lines = raw.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            return self.queue(BAD_REQUEST.bytes(b"GET", True), True)
        method, target, version = parts
        # HTTP/1.0 clients get one answer per connection: simpler than
        # echoing their keep-alive header, and no tool here speaks 1.0
        close = version == b"HTTP/1.0"
        auth = None
        for ln in lines[1:]:
            name, sep, value = ln.partition(b":")
            if not sep:
                continue
            name = name.strip().lower()
            if name == b"connection":
                if b"close" in [t.strip().lower() for t in value.split(b",")]:
                    close = True
            elif name == b"authorization":
                auth = value.strip().decode("latin-1")
            elif name in (b"content-length", b"transfer-encoding") and \
                    value.strip() != b"0":
                # no tile request has a body; rather than read one, refuse
                return self.queue(BAD_REQUEST.bytes(b"GET", True), True)
        if method not in (b"GET", b"HEAD"):
            return self.queue(NOT_ALLOWED.bytes(b"GET", True), True)
        answer = srv.route(target.decode("latin-1"), auth)
        self.queue(answer.bytes(method, close), close)

    def queue(self, data, close):
        """Send data after the latency, in request order, then close if asked."""
        self.due.append((data, close))
        if close:
            self.closing = True
        if self.srv.latency > 0:
            self.srv.loop.call_later(self.srv.latency, self.flush_one)
        else:
            self.flush_one()

    def flush_one(self):
        # Every answer waits the same delay and its timer was set when it
        # was queued, so whichever timer fires, the oldest answer is due:
        # popping the head keeps request order even if timers of equal
        # deadline fire out of order.
        if not self.due or self.transport.is_closing():
            return
        data, close = self.due.popleft()
        self.transport.write(data)
        if close:
            self.transport.close()
        elif len(self.due) <= MAX_QUEUED // 2 and not self.write_paused:
            self.transport.resume_reading()

    def pause_writing(self):
        # the client is not reading its answers: stop reading its requests
        self.write_paused = True
        self.transport.pause_reading()

    def resume_writing(self):
        self.write_paused = False
        if len(self.due) <= MAX_QUEUED and not self.closing:
            self.transport.resume_reading()


class Server:
    """The preloaded tiles, the settings and the request count."""

    def __init__(self, args, loop):
        self.loop = loop
        self.tiles = load_tiles(args.root)
        self.token = args.token
        self.latency = args.latency_ms / 1000.0
        self.requests = 0
        self.conns = set()
        self.port = 0
        self.available_below = args.available_below
        self.jpegs = {}
        if args.images:
            for name in os.listdir(args.images):
                size, ext = os.path.splitext(name)
                if ext == ".jpg":
                    with open(os.path.join(args.images, name), "rb") as f:
                        self.jpegs[size] = Answer(200, "OK", "image/jpeg", f.read())

    def graph_images(self, query):
        """The batch form's answer: built per request (it is small)"""
        q = urllib.parse.parse_qs(query)
        ids = [i for i in q.get("ids", [""])[0].split(",") if i.isdigit()]
        fields = q.get("fields", [""])[0].split(",")
        sizes = [f[6:-4] for f in fields if f.startswith("thumb_") and f.endswith("_url")]
        out = {}
        for i in ids:
            if int(i) >= self.available_below:
                continue
            ent = {"id": i}
            for size in sizes:
                if size in self.jpegs:
                    ent["thumb_%s_url" % size] = "http://127.0.0.1:%d/cdn/%s/%s.jpg" % (
                        self.port, i, size)
            out[i] = ent
        return Answer(200, "OK", "application/json", json.dumps(out).encode())

    def route(self, target, auth):
        """The Answer for a request target (path?query)."""
        path, _, query = target.partition("?")
        if self.jpegs and path.startswith("/cdn/"):
            segs = path.split("/")  # "", "cdn", id, "<size>.jpg"
            if len(segs) == 4 and segs[2].isdigit() and segs[3].endswith(".jpg"):
                return self.jpegs.get(segs[3][:-4], NOT_FOUND)
            return NOT_FOUND
        if self.token is not None and auth != "OAuth " + self.token:
            got = urllib.parse.parse_qs(query, keep_blank_values=True).get("access_token")
            if got != [self.token]:
                return FORBIDDEN
        if self.jpegs and path == "/graph":
            return self.graph_images(query)
        segs = path.split("/")
        # "", "tiles", z, x, y
        if len(segs) != 5 or segs[0] or segs[1] != "tiles":
            return NOT_FOUND
        z, x, y = segs[2:]
        if not (z.isdigit() and x.isdigit() and y.isdigit()):
            return NOT_FOUND
        return self.tiles.get("%d/%d/%d" % (int(z), int(x), int(y)), NOT_FOUND)


def write_atomic(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="ascii") as f:
        f.write(text)
    os.replace(tmp, path)


async def run(args):
    loop = asyncio.get_running_loop()
    srv = Server(args, loop)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # a large backlog: 64 clients or more connect at the same instant
    server = await loop.create_server(lambda: Conn(srv), "127.0.0.1", args.port,
                                      backlog=1024, reuse_address=True)
    # (asyncio sets TCP_NODELAY on every accepted socket: no Nagle delay)
    port = server.sockets[0].getsockname()[1]
    srv.port = port
    if args.port_file:
        write_atomic(args.port_file, "%d\n" % port)
    print("fastserver: %d tiles in memory, port %d" % (len(srv.tiles), port), file=sys.stderr,
          flush=True)
    try:
        await asyncio.wait_for(stop.wait(), args.max_seconds)
    except asyncio.TimeoutError:
        pass
    server.close()
    # idle keep-alive connections would otherwise hold wait_closed()
    for c in list(srv.conns):
        c.transport.close()
    await server.wait_closed()
    if args.count_file:
        write_atomic(args.count_file, "%d\n" % srv.requests)
    print("fastserver: %d requests" % srv.requests, file=sys.stderr, flush=True)


def main(argv):
    args = parse_args(argv)
    if not os.path.isdir(args.root):
        print("fastserver: no such directory: %s" % args.root, file=sys.stderr)
        return 2
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
