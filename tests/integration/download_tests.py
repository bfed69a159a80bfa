#!/usr/bin/env python3
"""download_tests.py -- integration tests of download_mapillary_imgs: the real
binary against server.py's Graph API image endpoints and its CDN (a second
listener that logs what it receives), with faults, expiring links, deleted
images, kills and bad inputs. Uses run_tests.py's helpers; prints one line per
case and 'N passed, N failed'."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_tests as rt  # noqa: E402

rt.CASES.clear()  # run_tests' own cases run in their own test
case = rt.case   # these register with run_tests' runner (rt.main)
CMD = "download_mapillary_imgs"


class Srv:
    pass


def start(*extra, images=None, root=None):
    """server.py with a CDN listener of its own; images.json from images"""
    root = root or tempfile.mkdtemp(prefix="mly-dl-root-", dir=rt.ARGS.tmp)
    os.makedirs(os.path.join(root, "graph"), exist_ok=True)
    with open(os.path.join(root, "graph", "images.json"), "w") as f:
        json.dump(images or {}, f)
    d = tempfile.mkdtemp(prefix="mly-dl-srv-", dir=rt.ARGS.tmp)
    s = Srv()
    s.log = os.path.join(d, "log.jsonl")
    port_file, cdn_file = os.path.join(d, "port"), os.path.join(d, "cport")
    cmd = [sys.executable, os.path.join(rt.HERE, "server.py"), "--root", root, "--port-file", port_file,
           "--cdn-port-file", cdn_file, "--token", rt.TOKEN, "--log", s.log, "--max-seconds", "600",
           "--jpeg-cache", os.path.join(rt.ARGS.tmp, "jpeg-cache")] + list(extra)
    s.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(600):
        if os.path.exists(port_file):
            break
        if s.proc.poll() is not None:
            raise RuntimeError("server died: %s" % s.proc.stderr.read().decode())
        time.sleep(0.05)
    s.port = int(open(port_file).read())
    s.cdn_port = int(open(cdn_file).read())
    s.graph = "http://127.0.0.1:%d/graph" % s.port
    s.tiles = "http://127.0.0.1:%d/tiles/{z}/{x}/{y}" % s.port
    return s


def stop(s):
    s.proc.terminate()
    try:
        s.proc.wait(5)
    except subprocess.TimeoutExpired:
        s.proc.kill()


def log(s):
    return rt.log_entries(s.log)


def points_file(path, n, first=1000, seqs=3, extra=()):
    feats = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [-108.5 + i / 1e4, 39.05]},
              "properties": {"id": str(first + i), "sequence_id": "seq%d" % (i % seqs),
                             "captured_at": 1651366800000 + i}} for i in range(n)]
    feats += list(extra)
    with open(path, "w") as f:
        json.dump({"type": "FeatureCollection", "features": feats}, f)
    return feats


def dl(s, d, *more, inp=None, env=None, token=True, timeout=300):
    args = [CMD, "--input_file_points", inp or os.path.join(d, "points.geojson"),
            "--output_images_path", os.path.join(d, "images"),
            "--output_file_points", os.path.join(d, "out", "points_imgs.geojson"),
            "--graph_url", s.graph, "--concurrency", "8", "--retries", "6"] + list(more)
    return rt.run(args, env=env, token=token, timeout=timeout)


def jpeg_ok(path, image_id=None, size=None):
    b = rt.read(path)
    assert b[:2] == b"\xff\xd8" and b[-2:] == b"\xff\xd9", path
    if image_id is not None:
        tag = ("mly-test id=%s size=%s" % (image_id, size)).encode()
        assert tag in b[:200], (path, b[:80])
    return len(b)


def cdn_requests(s):
    return [e for e in log(s) if e.get("host") == "cdn"]


def graph_requests(s):
    return [e for e in log(s) if e.get("host") == "api" and e["path"].startswith("/graph")]


def assert_token_never_at_cdn(s):
    cdn = cdn_requests(s)
    assert cdn, "no cdn request"
    for e in cdn:
        assert not e["auth_header"], e
        assert not e["token_seen"], e
        assert not e["access_token_param"], e
    for e in graph_requests(s):
        assert e["auth_header"], e


def out_features(d):
    return rt.geojson(os.path.join(d, "out", "points_imgs.geojson"))


# ------------------------------------------------------------------ cases

@case
def images_and_points_written_in_input_order():
    d = rt.workdir()
    odd = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 0]},
            "properties": {"id": "77", "sequence_id": "../../../escape"}},
           {"type": "Feature", "geometry": None, "properties": {"name": "no id"}},
           {"type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 0]},
            "properties": {"id": "../5", "sequence_id": "s"}},
           {"type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 0]},
            "properties": {"id": 78, "sequence_id": ".hidden"}}]
    feats = points_file(os.path.join(d, "points.geojson"), 120, extra=odd)
    s = start(images={"deleted": [1005, 1017]})
    try:
        r = dl(s, d, "--fields", "make,camera_type")
        assert r.rc == 0, r
        assert "2 unavailable" in r.err and "1005" in r.err and "1017" in r.err, r.err
        assert "2 features without a usable id or sequence_id" in r.err, r.err
        assert_token_never_at_cdn(s)
        g = graph_requests(s)
        assert len(g) == 3 and all("ids=" in e["query"] for e in g), [e["query"][:40] for e in g]
        assert len(cdn_requests(s)) == 120
    finally:
        stop(s)
    got = out_features(d)
    assert [f["properties"].get("id") for f in got] == [f["properties"].get("id") for f in feats]
    for f in got:
        p = f["properties"]
        if p.get("id") in ("1005", "1017", "../5") or "name" in p:
            assert "image_path" not in p and "image_url" not in p, p
            continue
        assert p["image_url"].startswith("http://127.0.0.1:%d/cdn/" % s.cdn_port), p
        assert p["make"] == "TestCam" and p["camera_type"] in ("perspective", "spherical"), p
        path = os.path.normpath(os.path.join(d, "out", p["image_path"]))
        assert path.startswith(os.path.join(d, "images") + os.sep), path
        jpeg_ok(path, p["id"], "1024")
    names = rt.listing(os.path.join(d, "images"))
    assert "_._.._.._escape/77.jpg" in names and "_hidden/78.jpg" in names, names
    assert all(n.endswith(".jpg") and n.count("/") == 1 for n in names), names
    assert len(names) == 120 - 2 + 2
    assert rt.listing(d) == sorted(["points.geojson", "out/points_imgs.geojson"] +
                                   ["images/" + n for n in names])


@case
def rerun_skips_everything_on_disk_without_a_request():
    d = rt.workdir()
    points_file(os.path.join(d, "points.geojson"), 60)
    s = start()
    try:
        r = dl(s, d)
        assert r.rc == 0, r
        first = out_features(d)
        before = len(log(s))
        r = dl(s, d)
        assert r.rc == 0, r
        assert len(log(s)) == before, "a rerun made requests"
        assert "60 already on disk" in r.err, r.err
        again = out_features(d)
        assert [f["properties"]["image_path"] for f in again] == \
            [f["properties"]["image_path"] for f in first]
        r = dl(s, d, "--dry_run")
        assert r.rc == 0 and "images to fetch: 0" in r.out and "already on disk: 60" in r.out, r
        # an image cut short on disk (a crash before it reached the disk) is fetched again
        victim = os.path.join(d, "images", "seq1", "1001.jpg")
        with open(victim, "r+b") as f:
            f.truncate(1000)
        r = dl(s, d, "--dry_run")
        assert "images to fetch: 1" in r.out, r
        r = dl(s, d)
        assert r.rc == 0 and len(log(s)) == before + 2, (r, len(log(s)) - before)
        jpeg_ok(victim, "1001", "1024")
    finally:
        stop(s)


@case
def faults_are_retried_and_every_image_is_whole():
    d = rt.workdir()
    points_file(os.path.join(d, "points.geojson"), 150)
    # a fault strikes 28% of attempts; the links' signatures change from run
    # to run, so the draws do too: 14 attempts make a lasting failure of one
    # of the ~155 requests a chance of a few in 10^6
    s = start("--fail-rate", "0.1", "--rate429", "0.05", "--retry-after", "0", "--truncate-rate", "0.1",
              "--reset-rate", "0.03", "--slow-rate", "0.02", "--slow-ms", "200", "--fault-seed", "5")
    try:
        r = dl(s, d, "--retries", "14", "--image_size", "2048", "--concurrency", "16")
        assert r.rc == 0, r
        faults = [e["fault"] for e in log(s) if e.get("fault")]
        assert {"fail", "429", "truncate", "reset"} <= set(faults), set(faults)
        assert any(e["fault"] == "truncate" for e in cdn_requests(s))
    finally:
        stop(s)
    sizes = []
    for f in out_features(d):
        p = f["properties"]
        sizes.append(jpeg_ok(os.path.join(d, "out", p["image_path"]), p["id"], "2048"))
    assert min(sizes) > 200000, min(sizes)  # hundreds of KB each


@case
def expired_links_are_asked_for_again_once():
    d = rt.workdir()
    points_file(os.path.join(d, "points.geojson"), 40)
    s = start("--expire-first")
    try:
        r = dl(s, d)
        assert r.rc == 0, r
        assert "40 links asked for again" in r.err, r.err
        cdn = cdn_requests(s)
        assert len(cdn) == 80 and sum(e["status"] == 403 for e in cdn) == 40, len(cdn)
        assert len(graph_requests(s)) >= 2
    finally:
        stop(s)
    assert len(rt.listing(os.path.join(d, "images"))) == 40


@case
def deleted_gone_and_missing_sizes_are_not_errors():
    d = rt.workdir()
    points_file(os.path.join(d, "points.geojson"), 30)
    s = start(images={"deleted": [1003], "gone": [1004], "no_size": {"original": [1005]}})
    try:
        r = dl(s, d, "--image_size", "original")
        assert r.rc == 0, r
        assert "3 unavailable" in r.err, r.err
        for i in ("1003", "1004", "1005"):
            assert i in r.err, r.err
        assert "no thumb_original_url" in r.err and "gone from the cdn" in r.err, r.err
    finally:
        stop(s)
    got = {f["properties"]["id"]: f["properties"] for f in out_features(d)}
    for i in ("1003", "1004", "1005"):
        assert "image_path" not in got[i]
    assert len(rt.listing(os.path.join(d, "images"))) == 27


@case
def lasting_failure_is_status_1_then_a_rerun_finishes():
    d = rt.workdir()
    points_file(os.path.join(d, "points.geojson"), 50)
    s = start("--fail-rate", "0.5", "--fault-where", "cdn", "--fault-seed", "3")
    try:
        r = dl(s, d, "--retries", "1")
        assert r.rc == 1, r
        assert "images failed" in r.err and "HTTP 500" in r.err, r.err
        assert not os.path.exists(os.path.join(d, "out", "points_imgs.geojson"))
        kept = rt.listing(os.path.join(d, "images"))
        assert 0 < len(kept) < 50, len(kept)
        for n in kept:
            jpeg_ok(os.path.join(d, "images", n))
    finally:
        stop(s)
    s = start()
    try:
        r = dl(s, d)
        assert r.rc == 0, r
        assert len(cdn_requests(s)) == 50 - len(kept), len(cdn_requests(s))
    finally:
        stop(s)
    assert len(out_features(d)) == 50


@case
def rate_limit_and_budget_are_status_3_and_resumable():
    d = rt.workdir()
    points_file(os.path.join(d, "points.geojson"), 40)
    s = start("--rate429", "1", "--retry-after", "0", "--fault-where", "cdn")
    try:
        r = dl(s, d, "--retries", "2")
        assert r.rc == 3, r
        assert not os.path.exists(os.path.join(d, "out"))  or \
            not os.path.exists(os.path.join(d, "out", "points_imgs.geojson"))
    finally:
        stop(s)
    s = start()
    try:
        r = dl(s, d, "--max_requests", "12", "--concurrency", "2")
        assert r.rc == 3 and "--max_requests 12" in r.err and "rerun to resume" in r.err, r
        assert len(log(s)) == 12, len(log(s))
        assert not os.path.exists(os.path.join(d, "out", "points_imgs.geojson"))
        have = len(rt.listing(os.path.join(d, "images")))
        assert have >= 8, have
        c0 = len(cdn_requests(s))
        r = dl(s, d)
        assert r.rc == 0, r
        assert len(cdn_requests(s)) - c0 == 40 - have, (len(cdn_requests(s)) - c0, have)
        assert len(rt.listing(os.path.join(d, "images"))) == 40
    finally:
        stop(s)


@case
def killed_run_resumes_and_leaves_no_partial_file():
    d = rt.workdir()
    points_file(os.path.join(d, "points.geojson"), 200)
    s = start("--latency-ms", "40")
    try:
        e = dict(os.environ, MAPILLARY_ACCESS_TOKEN=rt.TOKEN, MAPILLARY_BACKOFF_MS="20")
        args = [rt.ARGS.binary, CMD, "--input_file_points", os.path.join(d, "points.geojson"),
                "--output_images_path", os.path.join(d, "images"), "--output_file_points",
                os.path.join(d, "out", "points_imgs.geojson"), "--graph_url", s.graph,
                "--concurrency", "4", "--image_size", "2048", "--quiet"]
        p = subprocess.Popen(args, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(cdn_requests(s)) < 30:
            time.sleep(0.05)
        p.send_signal(signal.SIGKILL)
        p.wait()
        names = rt.listing(os.path.join(d, "images"))
        assert 0 < len(names) < 200, len(names)
        for n in names:  # every name is a whole image; no temporary file is left
            assert n.endswith(".jpg"), n
            jpeg_ok(os.path.join(d, "images", n))
        assert not os.path.exists(os.path.join(d, "out", "points_imgs.geojson"))
    finally:
        stop(s)
    # a fresh server for the rerun: the killed run's answers still on their
    # way, logged late, cannot be counted as the rerun's
    s = start("--latency-ms", "40")
    try:
        r = dl(s, d, "--image_size", "2048")
        assert r.rc == 0, r
        assert len(cdn_requests(s)) == 200 - len(names), (len(cdn_requests(s)), len(names))
    finally:
        stop(s)
    assert len(out_features(d)) == 200


@case
def graph_forms_fall_back_when_refused():
    d = rt.workdir()
    points_file(os.path.join(d, "points.geojson"), 80)
    s = start("--graph-ids", "refuse", images={"deleted": [1010]})
    try:
        r = dl(s, d)
        assert r.rc == 0, r
        assert "1 unavailable" in r.err, r.err
        assert any(e["path"] == "/graph/images" for e in graph_requests(s))
    finally:
        stop(s)
    d = rt.workdir()
    points_file(os.path.join(d, "points.geojson"), 80)
    s = start("--graph-ids", "strict", images={"deleted": [1010]})
    try:
        r = dl(s, d)
        assert r.rc == 0 and "1 unavailable" in r.err, r
        assert not any(e["path"] == "/graph/images" for e in graph_requests(s))
    finally:
        stop(s)


@case
def bad_inputs_are_status_2_and_nothing_is_made():
    d = rt.workdir()
    points_file(os.path.join(d, "points.geojson"), 5)
    s = start()
    try:
        cases = [
            (["--input_file_points", os.path.join(d, "missing.geojson")], "missing.geojson"),
            (["--image_size", "512"], "--image_size"),
            (["--fields", "make&access_token=x"], "--fields"),
            (["--concurrency", "0"], "concurrency"),
            (["--output_file_points", os.path.join(d, "points.geojson")], "input"),
            (["--bogus"], "bogus"),
            (["--output_images_path="], "--output_images_path"),
            (["--output_images_path=", "--dry_run"], "--output_images_path"),
        ]
        for extra, word in cases:
            args = [CMD, "--input_file_points", os.path.join(d, "points.geojson"),
                    "--output_images_path", os.path.join(d, "images"), "--output_file_points",
                    os.path.join(d, "out", "p.geojson"), "--graph_url", s.graph] + extra
            r = rt.run(args)
            assert r.rc == 2, (extra, r)
            assert len(r.err.strip().splitlines()) == 1 and word in r.err, (extra, r.err)
        r = dl(s, d, token=False)
        assert r.rc == 2 and "MAPILLARY_ACCESS_TOKEN" in r.err, r
        with open(os.path.join(d, "broken.geojson"), "w") as f:
            f.write('{"type":"FeatureCollection","features":[{"type":"Feature",')
        r = dl(s, d, inp=os.path.join(d, "broken.geojson"))
        assert r.rc == 2 and len(r.err.strip().splitlines()) == 1, r
        assert log(s) == [], "a request was made"
    finally:
        stop(s)
    assert rt.listing(d) == ["broken.geojson", "points.geojson"], rt.listing(d)
    assert sorted(os.listdir(d)) == ["broken.geojson", "points.geojson"], os.listdir(d)  # no folder either


@case
def symlinks_planted_in_the_images_folder_are_never_followed():
    # DIR is the user's; a sequence folder or an image name in it that is a
    # symlink (planted by someone else) must not take a write, or the check of
    # "already on disk", to the place it points at
    d = rt.workdir()
    points_file(os.path.join(d, "points.geojson"), 6)  # ids 1000..1005 in seq0..seq2
    elsewhere = os.path.join(d, "elsewhere")
    os.makedirs(elsewhere)
    with open(os.path.join(elsewhere, "1000.jpg"), "wb") as f:
        f.write(b"the victim's file, not an image")
    with open(os.path.join(elsewhere, "1003.jpg"), "wb") as f:
        f.write(b"\xff\xd8 a victim's jpeg \xff\xd9")
    victim = os.path.join(d, "victim.txt")
    with open(victim, "wb") as f:
        f.write(b"secret")
    os.makedirs(os.path.join(d, "images", "seq1"))
    os.symlink(elsewhere, os.path.join(d, "images", "seq0"))
    os.symlink(victim, os.path.join(d, "images", "seq1", "1001.jpg"))
    before = {n: rt.read(os.path.join(elsewhere, n)) for n in os.listdir(elsewhere)}
    s = start()
    try:
        r = dl(s, d, "--dry_run")
        assert r.rc == 0 and "already on disk: 0" in r.out, r
        r = dl(s, d)
        assert r.rc == 1, r
        last = r.err.strip().splitlines()[-1]  # after the summary line
        assert "in the way" in last and ("seq0" in last or "1001.jpg" in last), r.err
    finally:
        stop(s)
    assert {n: rt.read(os.path.join(elsewhere, n)) for n in os.listdir(elsewhere)} == before
    assert rt.read(victim) == b"secret"
    assert os.path.islink(os.path.join(d, "images", "seq0"))
    assert os.path.islink(os.path.join(d, "images", "seq1", "1001.jpg"))
    assert not os.path.exists(os.path.join(d, "out", "points_imgs.geojson"))


@case
def chained_after_get_mapillary_points():
    d = rt.workdir()
    root = os.path.join(d, "tiles")
    shutil.copytree(rt.TILESET, root)
    s = start(root=root)
    try:
        pts = os.path.join(d, "pts.geojson")
        r = rt.run(["get_mapillary_points", "--input_aoi", rt.SUB, "--tiles_url",
                    "http://127.0.0.1:%d/tiles/{z}/{x}/{y}" % s.port, "--output_file_point", pts,
                    "--output_file_sequence", os.path.join(d, "seqs.geojson"), "--graph_url", s.graph,
                    "--no_id_repair"])
        assert r.rc == 0, r
    finally:
        stop(s)
    want = rt.geojson(pts)
    assert len(want) > 50
    s = start()
    try:
        r = dl(s, d, "--concurrency", "16", inp=pts)
        assert r.rc == 0, r
        assert_token_never_at_cdn(s)
    finally:
        stop(s)
    got = out_features(d)
    assert [f["properties"].get("id") for f in got] == [f["properties"].get("id") for f in want]
    with_id = 0
    for f in got:
        p = f["properties"]
        if "id" not in p:
            assert "image_path" not in p
            continue
        with_id += 1
        jpeg_ok(os.path.join(d, "out", p["image_path"]), p["id"], "1024")
        assert p["image_path"] == "../images/%s/%s.jpg" % (p["sequence_id"], p["id"]), p
    assert with_id > 50 and len(rt.listing(os.path.join(d, "images"))) == with_id


if __name__ == "__main__":
    sys.exit(rt.main())
