#!/usr/bin/env python3
"""repair.py -- what exact-id repair costs: a dense tile whose ids all arrive
as doubles above 2^53, served with its Graph API answers by the test server.
Prints requests per affected sequence and the time with and without repair.
Usage (from the repository root): python3 bench/repair.py [build-dir]"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
BIN = os.path.join(ROOT, BUILD, "mapillary")
TOKEN = "bench-token"


def main():
    d = tempfile.mkdtemp(prefix="mly-repair-", dir=os.path.join(ROOT, "bench", "data"))
    tiles = os.path.join(d, "tiles")
    tile = (14, 3251, 6258)
    path = os.path.join(tiles, "14", "3251", "6258.mvt")
    os.makedirs(os.path.dirname(path))
    truth = os.path.join(d, "truth.json")
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "mvtgen.py"), "dense", "--out", path,
                    "--count", "30000", "--tile", "%d/%d/%d" % tile, "--id-mode", "double",
                    "--big-id-rate", "1.0", "--truth", truth], check=True, capture_output=True)
    with open(truth) as f:
        images = json.load(f)["images"]
    seqs = {}
    for r in sorted(images, key=lambda r: (r["captured_at"] or 0, r["index"])):
        seqs.setdefault(r["sequence_id"], []).append(r["source_id"])
    os.makedirs(os.path.join(tiles, "graph", "image_ids"))
    for sid, ids in seqs.items():
        with open(os.path.join(tiles, "graph", "image_ids", sid + ".json"), "w") as f:
            json.dump({"data": [{"id": i} for i in ids]}, f)
    rounded = sum(1 for r in images if r["id"] != r["source_id"])
    port_file, log = os.path.join(d, "port"), os.path.join(d, "log.jsonl")
    srv = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "integration", "server.py"),
                            "--root", tiles, "--port-file", port_file, "--token", TOKEN, "--log", log,
                            "--latency-ms", "50"])
    try:
        while not os.path.exists(port_file):
            time.sleep(0.05)
        port = int(open(port_file).read())
        base = "http://127.0.0.1:%d" % port
        env = dict(os.environ, MAPILLARY_ACCESS_TOKEN=TOKEN)
        sys.path.insert(0, os.path.join(ROOT, "tools"))
        import mvtgen
        w, s, e, n = mvtgen.tile_bounds(*tile)
        # a hair inside the tile, so only it is requested
        w, s, e, n = w + 1e-6, s + 1e-6, e - 1e-6, n - 1e-6
        args = [BIN, "get_mapillary_points", "--input_aoi", "%r,%r,%r,%r" % (w, s, e, n),
                "--tiles_url", base + "/tiles/{z}/{x}/{y}", "--graph_url", base + "/graph",
                "--output_file_point", os.path.join(d, "p.geojson"),
                "--output_file_sequence", os.path.join(d, "s.geojson"), "--quiet"]
        times = {}
        for name, extra in (("repair", []), ("no repair", ["--no_id_repair"])):
            runs = []
            for _ in range(3):
                open(log, "w").close()
                t0 = time.monotonic()
                subprocess.run(args + extra, env=env, check=True)
                runs.append(time.monotonic() - t0)
            reqs = [json.loads(l) for l in open(log)]
            graph = sum(1 for r in reqs if "image_ids" in r.get("path", ""))
            times[name] = (statistics.median(runs), graph)
        print("| images | sequences | ids rounded by the double | mode | Graph requests | "
              "requests per affected sequence | wall s (median of 3, 50 ms latency) |")
        print("|---|---|---|---|---|---|---|")
        for name, (t, graph) in times.items():
            print("| %d | %d | %d | %s | %d | %s | %.2f |" % (
                len(images), len(seqs), rounded, name, graph,
                "%.2f" % (graph / len(seqs)) if graph else "0", t))
        print("command: python3 bench/repair.py %s" % BUILD)
    finally:
        srv.terminate()
        srv.wait()


if __name__ == "__main__":
    main()
