#!/usr/bin/env python3
"""bench.py -- runs the mapillary benchmarks and prints one Markdown table each (figures, never tests).

    python3 bench/bench.py [--quick] [--build DIR] [fetch] [cpu] [polygon] [memory]

Usually started by bench/run.sh, which builds first. Inputs are made by
bench/mkdata.py under bench/data/ (skipped when already there). Every
table row carries the command that reproduces it, to be run from the
repository root. Times and peak RSS of the tool are taken from the child's
rusage (wait4), the same numbers /usr/bin/time prints, through
bench/maxrss.c: a small process forks each measured child, so its peak RSS
is its own, not the high-water mark of this Python process (which generates
data in-process: a child it forked itself reported 200 MB for every size).

The targets (SPEC "Where it must go" and the benchmark issue) are printed
as PASS/MISS beside each figure: they are there to compare against, and a
MISS fails nothing.
"""

import argparse
import math
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DATA = os.path.join(HERE, "data")
sys.path.insert(0, HERE)
import mkdata  # noqa: E402

RUNS = 3                 # median of this many runs
LATENCY_S = 0.05         # server latency of the fetch bench
# A dummy token for the local test server: the tool wants one for http
# sources; it is no secret and reaches nothing but 127.0.0.1
DUMMY_TOKEN = "bench-dummy"

SUMMARY_RE = re.compile(r"(\d+) tiles \((\d+) with data\), (\d+) images seen, (\d+) kept")
REQUESTS_RE = re.compile(r"(\d+) requests, (\d+) retries")
TIME_FMT = "%e s wall, %U+%S s CPU, %M KB max RSS"


# ---- running and measuring ---------------------------------------------------

class Result:
    """One run of a child: wall and CPU seconds, peak RSS, exit status,
    stderr, and the tool's summary counts when it printed them."""

    def __init__(self, wall, user, sys_, rss_kb, rc, stderr):
        self.wall, self.user, self.sys, self.rss_kb = wall, user, sys_, rss_kb
        self.cpu = user + sys_
        self.rc, self.stderr = rc, stderr
        m = SUMMARY_RE.search(stderr)
        self.tiles = int(m.group(1)) if m else None
        self.seen = int(m.group(3)) if m else None
        self.kept = int(m.group(4)) if m else None
        m = REQUESTS_RE.search(stderr)
        self.requests = int(m.group(1)) if m else None


_MAXRSS = None


def maxrss_tool():
    """bench/maxrss.c, compiled once into bench/data"""
    global _MAXRSS
    if _MAXRSS is None:
        os.makedirs(DATA, exist_ok=True)
        exe = os.path.join(DATA, "maxrss")
        src = os.path.join(HERE, "maxrss.c")
        if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
            subprocess.run([os.environ.get("CC", "cc"), "-O2", "-o", exe, src], check=True)
        _MAXRSS = exe
    return _MAXRSS


def run(argv, env=None, check=True, timeout=None):
    """Run argv to completion; its stdout is discarded. Peak RSS and CPU
    times are the child's own, with those of the processes it waited for
    (bench/maxrss.c forks it). With timeout (seconds of wall time), a run
    still going then is killed with all its processes and None returned."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    report = os.path.join(DATA, "maxrss.%d.txt" % os.getpid())
    t0 = time.monotonic()
    p = subprocess.Popen([maxrss_tool(), report] + list(argv), env=full_env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO,
                         start_new_session=timeout is not None)
    try:
        err = p.communicate(timeout=timeout)[1].decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        if os.path.exists(report):
            os.unlink(report)
        return None
    wall = time.monotonic() - t0
    with open(report) as f:
        rss_kb, user, sys_ = f.read().split()
    os.unlink(report)
    res = Result(wall, float(user), float(sys_), int(rss_kb), p.returncode, err)
    if check and res.rc != 0:
        sys.exit("bench: %s exited %d:\n%s" % (argv[0], res.rc, err.strip()[-2000:]))
    return res


def median_of(runs, attr):
    return statistics.median(getattr(r, attr) for r in runs)


def show(argv, env=None, time_it=True, subst=None):
    """The command as a user types it from the repository root: paths
    under the repo made relative ($PWD/ where an absolute path is needed,
    in file:// templates), env vars in front, `subst` replacing exact
    argument texts (e.g. a port by $(cat port-file))."""
    parts = ["%s=%s" % kv for kv in (env or {}).items()]
    if time_it:
        parts += ["/usr/bin/time", "-f", "'%s'" % TIME_FMT]
    for a in argv:
        for old, new in (subst or {}).items():
            a = a.replace(old, new)
        a = a.replace("file://" + REPO + "/", "file://$PWD/").replace(REPO + "/", "")
        if a == "mapillary" or a.startswith("build"):
            a = "./" + a
        parts.append('"%s"' % a if "$" in a else shlex.quote(a))
    return " ".join(parts)


def rel(path):
    return os.path.relpath(path, REPO)


def fmt_int(n):
    return "{:,}".format(int(round(n)))


def fmt(x, digits=2):
    return "{:,.{}f}".format(x, digits)


def verdict(ok):
    return "PASS" if ok else "MISS"


def table(header, rows):
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for r in rows:
        print("| " + " | ".join(str(c) for c in r) + " |")
    print()


def code(cmd):
    return "`" + cmd.replace("|", "\\|") + "`"


def load():
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def heading(title):
    print("## " + title)
    print()
    print("Started %s, %s." % (time.strftime("%H:%M:%S"), load()))
    print()
    sys.stdout.flush()


# ---- the tool ------------------------------------------------------------------

class Tool:
    def __init__(self, build):
        self.bin = os.path.join(build, "mapillary")
        self.decode = os.path.join(build, "bench", "bench_decode")
        for p in (self.bin, self.decode):
            if not os.access(p, os.X_OK):
                sys.exit("bench: %s is missing: run bench/run.sh, which builds it" % rel(p))

    def argv(self, aoi, tiles_url, out_tag, extra=()):
        outdir = os.path.join(DATA, "out")
        os.makedirs(outdir, exist_ok=True)
        return [self.bin, "get_mapillary_points", "--input_aoi=" + aoi,
                "--tiles_url=" + tiles_url,
                "--output_file_point=" + os.path.join(outdir, out_tag + "_points.geojson"),
                "--output_file_sequence=" + os.path.join(outdir, out_tag + "_sequences.geojson"),
                ] + list(extra)


def outputs(out_tag):
    d = os.path.join(DATA, "out")
    return [os.path.join(d, out_tag + s) for s in ("_points.geojson", "_sequences.geojson")]


def remove_outputs(out_tag):
    for p in outputs(out_tag):
        if os.path.exists(p):
            os.unlink(p)


def block_url():
    return "file://" + os.path.join(DATA, "block", "{z}", "{x}", "{y}.mvt")


# ---- 1. latency-bound fetching -----------------------------------------------

FAST = "bench/fastserver.py"               # the benchmark's server
THREADED = "tests/integration/server.py"   # the integration tests' server, for comparison


class Server:
    """A tile server script (FAST or THREADED) on a free port, stopped on exit."""

    def __init__(self, script, root, latency_ms):
        self.script = script
        self.name = os.path.basename(script)
        self.port_file = os.path.join(DATA, "server.port")
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        self.argv = [sys.executable, os.path.join(REPO, script),
                     "--root", root, "--port-file", self.port_file, "--token", DUMMY_TOKEN,
                     "--latency-ms", str(latency_ms), "--max-seconds", "900"]
        self.count_file = None
        if script == FAST:
            # its request count, written on stop: checks the clients' counts
            self.count_file = os.path.join(DATA, "server.count")
            if os.path.exists(self.count_file):
                os.unlink(self.count_file)
            self.argv += ["--count-file", self.count_file]
        self.proc = subprocess.Popen(self.argv, cwd=REPO, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                sys.exit("bench: %s did not start" % self.name)
            time.sleep(0.05)
        with open(self.port_file) as f:
            self.port = int(f.read())

    def shown(self):
        a = [x.replace(REPO + "/", "") for x in self.argv]
        a[0] = "python3"
        return " ".join(shlex.quote(x) for x in a) + " &"

    def stop(self):
        """Stop it; the number of requests it counted, when it counts them."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        try:
            with open(self.count_file) as f:
                return int(f.read())
        except (TypeError, OSError, ValueError):
            return None


def rounds_bound(ntiles, c):
    """The best tiles/s of an instant client: N requests at C in flight need
    ceil(N/C) latency rounds (400 at C=64: 7 rounds, 1,143 tiles/s)."""
    return ntiles / (-(-ntiles // c) * LATENCY_S)


def pct_down(x):
    """x as a percentage with one decimal, rounded down: a figure just
    under a target never reads as meeting it"""
    return "%.1f%%" % (math.floor(1000 * x) / 10)


def runs_at(c):
    """Runs per row: 3 where a run takes seconds (C <= 4), 9 where it takes
    a fraction of one and a few milliseconds of the machine's noise would
    otherwise decide the median."""
    return RUNS if c <= 4 else 3 * RUNS


def fetch_rows(tool, server, root, ntiles, cols, rows, tool_cs, curl_cs, file_row):
    """Rows of the fetch table for one server: the tool at each of tool_cs,
    optionally the tool through file://, curl --parallel at each of curl_cs.
    Where the tool and curl run at the same C, their runs alternate, so
    that both see the same state of the machine. Every run of the tool
    starts with no outputs, as the pipeline runs do (a first run); one more
    row at the largest C replaces the outputs of the run before (a rerun).
    Returns (rows, {(client, C): tiles/s}, requests the clients made,
    client CPU s per C of the tool)."""
    bbox = mkdata.bbox_arg("area", cols, rows)
    url_t = "http://127.0.0.1:%d/tiles/{z}/{x}/{y}" % server.port
    port_sub = {"127.0.0.1:%d" % server.port: "127.0.0.1:$(cat %s)" % rel(server.port_file)}
    env = {"MAPILLARY_ACCESS_TOKEN": DUMMY_TOKEN}
    out, tps_of, cpu_of = [], {}, {}
    made = 0
    extra_requests = 0
    base = None

    def row(client, c, runs, cmd, seq=None):
        wall = median_of(runs, "wall")
        tps = ntiles / wall
        bound, best = c / LATENCY_S, rounds_bound(ntiles, c)
        key = "rerun" if "replacing" in client else client.split(" ")[0].rstrip(",")
        tps_of[(key, c)] = tps
        out.append([server.name, client, c, fmt(wall, 3), fmt(tps, 1), fmt(bound, 0),
                    pct_down(tps / bound), verdict(tps >= 0.8 * bound),
                    fmt(best, 0), pct_down(tps / best),
                    "%.1fx" % (tps / seq) if seq else "—", fmt(median_of(runs, "cpu"), 2),
                    code(cmd)])
        return tps

    # the server alone, with curl as a client that costs next to nothing:
    # tells whether the figures above are the tool's or the server's
    urls = os.path.join(DATA, "fetch-urls.txt")
    with open(urls, "w") as f:
        for r in range(rows):
            for cc in range(cols):
                f.write('url = "http://127.0.0.1:%d/tiles/14/%d/%d?access_token=%s"\n'
                        'output = "/dev/null"\n' %
                        (server.port, mkdata.AREA_X0 + cc, mkdata.AREA_Y0 + r, DUMMY_TOKEN))

    def curl_argv(c):
        return ["curl", "-s", "--parallel", "--parallel-immediate", "--parallel-max", str(c),
                "-K", urls]

    def tool_run(argv, fresh):
        nonlocal made, extra_requests
        if fresh:
            remove_outputs("fetch")
        r = run(argv, env)
        if r.tiles != ntiles:
            sys.exit("bench: expected %d tiles, the tool says %s" % (ntiles, r.tiles))
        made += r.requests if r.requests is not None else ntiles
        if r.requests is not None and r.requests != ntiles:
            extra_requests = max(extra_requests, r.requests - ntiles)
        return r

    curl_runs = {}
    for c in tool_cs:
        # the Graph API root too is the local server: nothing leaves the
        # machine, whatever the tool asks
        argv = tool.argv(bbox, url_t, "fetch", [
            "--concurrency=%d" % c, "--graph_url=http://127.0.0.1:%d/graph" % server.port])
        runs = []
        for _ in range(runs_at(c)):
            runs.append(tool_run(argv, True))
            if c in curl_cs:
                curl_runs.setdefault(c, []).append(run(curl_argv(c), check=False))
                made += ntiles
        label = "mapillary, sequential (as geokit fetches)" if c == 1 else "mapillary"
        if c == 1:
            base = ntiles / median_of(runs, "wall")
        tps = row(label, c, runs, show(argv, env, time_it=False, subst=port_sub), seq=base)
        cpu_of[c] = median_of(runs, "cpu")
        if server.script == FAST:
            bound = c / LATENCY_S
            SUMMARY.append(["1. fetching, C=%d" % c, "%s tiles/s, %s of C/L" %
                            (fmt(tps, 1), pct_down(tps / bound)), ">= 80% of C/L",
                            verdict(tps >= 0.8 * bound)])
        if c == max(tool_cs):
            # a rerun into the same paths: each run replaces the last one's
            # outputs, and the kernel frees the old files' blocks as it ends
            tool_run(argv, True)
            again = [tool_run(argv, False) for _ in range(runs_at(c))]
            tps = row("mapillary, replacing the outputs of the run before", c, again,
                      show(argv, env, time_it=False, subst=port_sub), seq=base)
            if server.script == FAST:
                SUMMARY.append(["1. fetching, C=%d, replacing the outputs" % c,
                                "%s tiles/s, %s of C/L" % (fmt(tps, 1), pct_down(tps / bound)),
                                ">= 80% of C/L", verdict(tps >= 0.8 * bound)])
    if file_row:
        # the tool without a network: its own fixed and per-tile costs
        argv = tool.argv(bbox, "file://" + os.path.join(root, "{z}", "{x}", "{y}.mvt"), "fetch")
        runs = []
        for _ in range(runs_at(64)):
            remove_outputs("fetch")
            runs.append(run(argv))
        wall = median_of(runs, "wall")
        out.append(["none", "mapillary, file:// (same tiles)", "—", fmt(wall, 3),
                    fmt(ntiles / wall, 1), "—", "—", "—", "—", "—", "—",
                    fmt(median_of(runs, "cpu"), 2), code(show(argv, time_it=False))])
    for c in curl_cs:
        runs = curl_runs.get(c)
        if runs is None:
            runs = [run(curl_argv(c), check=False) for _ in range(runs_at(c))]
            made += len(runs) * ntiles
        tps = row("server alone (curl --parallel)" +
                  (", all at once" if c == ntiles else ""), c, runs,
                  show(curl_argv(c), time_it=False))
        if c == 64:
            SUMMARY.append(["1. %s alone, C=64" % server.name, "%s tiles/s, %s of C/L"
                            % (fmt(tps, 1), pct_down(tps / (c / LATENCY_S))),
                            "(what the server gives)", "—"])
        elif c == ntiles:
            SUMMARY.append(["1. %s alone, all %d at once" % (server.name, c),
                            "%s tiles/s (ceiling)" % fmt(tps, 1), "(what the server gives)",
                            "—"])
    if extra_requests:
        out_note = ("the tool made up to %d requests beyond the %d tiles (retries or Graph API "
                    "requests), which count in its times" % (extra_requests, ntiles))
    else:
        out_note = None
    return out, tps_of, made, cpu_of, out_note


FETCH_HEADER = ["server", "client", "C", "wall s", "tiles/s", "bound C/L", "of C/L",
                "target >= 80% of C/L", "bound ceil(N/C) rounds", "of that", "vs sequential",
                "client CPU s", "command"]


def bench_fetch(tool, quick):
    cols = rows = 5 if quick else 20
    heading("1. Latency-bound fetching")
    root = mkdata.make_area(cols, rows)
    ntiles = cols * rows
    with_data, nbytes = mkdata.area_summary(root)
    print("%d z14 tiles (%dx%d; %d hold images, %s KB on average%s), from `python3 "
          "bench/mkdata.py area %d %d`. Median of %d runs (%d where C >= 16: a run takes a "
          "fraction of a second there, and the machine's noise a few milliseconds); where "
          "mapillary and curl run at the same C, their runs alternate. Every run of mapillary "
          "starts with no outputs, as in the pipeline runs below; the row \"replacing the "
          "outputs of the run before\" is a rerun into the same paths. tiles/s = tiles / wall "
          "time of the whole run, start to exit; bound C/L = C / %.2f s; bound ceil(N/C) rounds = what an "
          "instant client can reach when all %d requests wait %.0f ms and C are in flight "
          "(at C=64: %d round%s, %s tiles/s). The token is a dummy that the local server "
          "checks." %
          (ntiles, cols, rows, with_data, fmt(nbytes / max(1, with_data) / 1024, 1),
           "; the others answer 404, an empty tile" if with_data < ntiles else "",
           cols, rows, RUNS, runs_at(64), LATENCY_S, ntiles, LATENCY_S * 1000, -(-ntiles // 64),
           "s" if ntiles > 64 else "",
           fmt(rounds_bound(ntiles, 64), 0)))
    print()
    results = {}
    # curl with all N requests at once (one latency round) shows each
    # server's ceiling, beyond the C=64 bound
    for script, tool_cs, curl_cs in ((FAST, (1, 4, 16, 64), sorted({4, 16, 64, ntiles})),
                                     (THREADED, (16, 64), sorted({16, 64, ntiles}))):
        server = Server(script, root, LATENCY_S * 1000)
        shown = server.shown()
        try:
            out, tps_of, made, cpu_of, note = fetch_rows(
                tool, server, root, ntiles, cols, rows, tool_cs, curl_cs, script == FAST)
        finally:
            counted = server.stop()
            remove_outputs("fetch")
        results[script] = (tps_of, cpu_of)
        if script == FAST:
            print("### With bench/fastserver.py (the figures)")
            print()
            print("Served by `%s` (start it first): asyncio, tiles held in memory, the latency "
                  "a timer, so it is not what limits the clients (see the curl rows)." % shown)
        else:
            print("### With tests/integration/server.py (for comparison)")
            print()
            print("The integration tests' server, `%s`: a thread per connection, time.sleep, "
                  "a file read and a JSON record made per request, several times "
                  "fastserver.py's CPU per request (on the 2 cores the tool uses too); its "
                  "threads spread the answers of one round out in time." % shown)
        print()
        table(FETCH_HEADER, out)
        if note:
            print("Note: %s." % note)
            print()
        if counted is not None:
            print("%s counted %s requests; the clients made %s%s." %
                  (server.name, fmt_int(counted), fmt_int(made),
                   "" if counted == made else " (they differ: some runs did not go as "
                   "planned)"))
            print()
    print("bench/data/fetch-urls.txt lists the %d tile URLs for curl (`url = ...` and "
          "`output = \"/dev/null\"` lines, port of the last server and dummy token filled in)."
          % ntiles)
    print()
    (f_tps, f_cpu), (t_tps, _) = results[FAST], results[THREADED]
    s64, m64 = f_tps.get(("server", 64)), f_tps.get(("mapillary", 64))
    r64 = f_tps.get(("rerun", 64))
    ceil = f_tps.get(("server", ntiles))
    if s64 and m64 and ceil:
        best = rounds_bound(ntiles, 64)
        print("At C=64 fastserver.py alone gives %s tiles/s (%.0f%% of C/L, %.0f%% of the "
              "ceil(N/C)-rounds bound), and %s tiles/s with all %d requests at once (%.1fx "
              "the C=64 bound%s). mapillary at C=64 gets %s tiles/s, %.0f%% of what the server "
              "alone gives at C=64 (%s tiles/s when it replaces the outputs of the run before); "
              "the tool's CPU for the run is %s s, %.2f ms per tile. "
              "server.py alone: %s tiles/s at C=64, %s all at once." %
              (fmt(s64, 0), 100 * s64 * LATENCY_S / 64, 100 * s64 / best, fmt(ceil, 0), ntiles,
               ceil * LATENCY_S / 64,
               ": the server is not what limits C=64" if ceil > 1.2 * 64 / LATENCY_S else "",
               fmt(m64, 0), 100 * m64 / s64, fmt(r64 or 0, 0), fmt(f_cpu[64], 2),
               1000 * f_cpu[64] / ntiles,
               fmt(t_tps.get(("server", 64), 0), 0), fmt(t_tps.get(("server", ntiles), 0), 0)))
        print()


# ---- 2. CPU per image -----------------------------------------------------------

def pipeline_rows(tool, cols, rows, label, url, tag, runs_n=RUNS):
    bbox = mkdata.bbox_arg("block", cols, rows)
    argv = tool.argv(bbox, url, tag)
    runs = []
    for _ in range(runs_n):
        remove_outputs(tag)
        runs.append(run(argv))
    sizes = [os.path.getsize(p) for p in outputs(tag)]
    remove_outputs(tag)
    r = runs[0]
    return {"label": label, "tiles": r.tiles, "seen": r.seen, "kept": r.kept,
            "wall": median_of(runs, "wall"), "cpu": median_of(runs, "cpu"),
            "user": median_of(runs, "user"), "sys": median_of(runs, "sys"),
            "rss_kb": median_of(runs, "rss_kb"), "sizes": sizes, "cmd": show(argv),
            "runs": len(runs)}


def pipeline_table(results):
    out = []
    for m in results:
        per_core = m["seen"] / m["cpu"]
        SUMMARY.append(["2. pipeline, %s" % m["label"], "%s images/s per core (user+sys); "
                        "%s in user space" % (fmt_int(per_core), fmt_int(m["seen"] / m["user"])),
                        ">= 1,000,000", verdict(per_core >= 1e6)])
        out.append([m["label"], m["tiles"], fmt_int(m["seen"]), fmt_int(m["kept"]),
                    fmt(m["wall"]), "%s (%s+%s)" % (fmt(m["cpu"]), fmt(m["user"]), fmt(m["sys"])),
                    fmt_int(m["seen"] / m["wall"]), fmt_int(per_core),
                    verdict(per_core >= 1e6), fmt_int(m["seen"] / m["user"]),
                    fmt(m["rss_kb"] / 1024, 0), code(m["cmd"])])
    table(["input", "tiles", "images seen", "kept", "wall s", "CPU s (user+sys)",
           "images/s wall", "images/s per core (user+sys)", "target >= 1 M/core",
           "images/s per core, user space only", "peak RSS MB", "command"], out)


def kernel_write_control(nbytes, seconds, runs_n=RUNS):
    """What the kernel charges for writing nbytes to a new file in the
    output folder at the pace of a run of `seconds`, whoever writes them:
    bench/pacedwrite.py, the previous file removed first (as the tool's runs
    are), median of runs_n; and the same as fast as it goes (seconds 0)."""
    path = os.path.join(DATA, "out", "kernel_write_control.bin")
    mib = max(1, int(round(nbytes / 1048576.0)))
    rows = []
    for pace in (seconds, 0.0):
        argv = [sys.executable, os.path.join(HERE, "pacedwrite.py"), path, str(mib),
                "%.2f" % pace]
        runs = []
        for _ in range(runs_n):
            if os.path.exists(path):
                os.unlink(path)
            runs.append(run(argv))
        os.unlink(path)
        rows.append({"mib": mib, "pace": pace, "sys": median_of(runs, "sys"),
                     "wall": median_of(runs, "wall"), "cmd": show(argv).replace(sys.executable, "python3")})
    return rows


def bench_decode(tool, quick):
    dense = mkdata.make_dense()
    iters = 5 if quick else 20
    out = []
    for stage, what in (("mvt", "decoder alone: layers, key/value index, features, tags, points"),
                        ("image", "+ image_read (typed properties)"),
                        ("geojson", "+ image_write_geojson (output text)")):
        argv = [tool.decode, dense, str(iters), str(RUNS), stage]
        p = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=True)
        m = dict(kv.split("=", 1) for kv in p.stdout.strip().splitlines()[-1].split()[1:])
        mbs = float(m["mb_s"])
        if stage == "mvt":
            SUMMARY.append(["2. decoder alone", "%s MB/s, %s features/s" %
                            (fmt(mbs, 0), fmt_int(float(m["features_s"]))),
                            "hundreds of MB/s (>= 200)", verdict(mbs >= 200)])
        out.append([stage, what, fmt(mbs, 0), fmt_int(float(m["features_s"])),
                    m["ns_feature"], verdict(mbs >= 200) if stage == "mvt" else "—",
                    code(show(argv, time_it=False))])
    print("bench_decode over %s (%s bytes, 30,000 images + 100 sequence lines) in memory: "
          "CPU time, median of %d repeats of %d passes." %
          (rel(dense), fmt_int(os.path.getsize(dense)), RUNS, iters))
    print()
    table(["stage", "work per feature", "MB/s", "features/s", "ns/feature",
           "target: hundreds of MB/s (>= 200)", "command"], out)


def annotate(cg_out, inclusive, images, n=10):
    p = subprocess.run(["callgrind_annotate", "--inclusive=" + ("yes" if inclusive else "no"),
                        cg_out], capture_output=True, text=True, check=True)
    rows = []
    line_re = re.compile(r"^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(\S.*?)(?:\s+\[(.*)\])?\s*$")
    started = False
    for ln in p.stdout.splitlines():
        if "file:function" in ln:
            started = True
            continue
        if not started:
            continue
        m = line_re.match(ln)
        if not m:
            if rows and not ln.strip():
                break
            continue
        ir, pct, fn, obj = int(m.group(1).replace(",", "")), m.group(2), m.group(3), m.group(4)
        if inclusive and ("(below main)" in fn or "__libc_start" in fn or
                          re.match(r"\?\?\?:0x", fn)):
            continue  # startup frames that hold everything
        if inclusive and re.search(r"'\d+$", fn):
            continue  # a recursion cycle: callgrind counts it once per level
        fn = re.sub(r"^\?\?\?:", "", fn)
        fn = re.sub(r"^.*/", "", fn)  # keep file.c:function of libc frames short
        rows.append([len(rows) + 1, fn, os.path.basename(obj or ""), fmt_int(ir),
                     pct + "%", fmt(ir / images, 0)])
        if len(rows) == n:
            break
    return rows


def bench_callgrind(tool, quick):
    cols = 1 if quick else 10
    bbox = mkdata.bbox_arg("block", cols, 1)
    cg_out = os.path.join(DATA, "callgrind.out")
    tag = "callgrind"
    argv = tool.argv(bbox, block_url(), tag)
    remove_outputs(tag)
    r = run(argv)  # the counts of the run without valgrind
    vg = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + cg_out] + argv
    remove_outputs(tag)
    t0 = time.monotonic()
    run(vg)
    took = time.monotonic() - t0
    remove_outputs(tag)
    total = None
    with open(cg_out) as f:
        for ln in f:
            m = re.match(r"^(?:summary|totals):\s+(\d+)", ln)
            if m:
                total = int(m.group(1))
    print("Instruction count (callgrind, %.0f s under valgrind): %d tile%s of the block, %s "
          "images seen, %s kept. Instructions include start-up (dynamic linking, libcurl and "
          "GEOS set-up) and writing." % (took, cols, "s" if cols > 1 else "", fmt_int(r.seen),
                                         fmt_int(r.kept)))
    print()
    SUMMARY.append(["2. instructions", "%s per kept image (%d tile%s)" %
                    (fmt_int(total / r.kept), cols, "s" if cols > 1 else ""),
                    "(stable reference)", "—"])
    table(["tiles", "images kept", "instructions", "instructions per kept image", "command"],
          [[cols, fmt_int(r.kept), fmt_int(total), fmt_int(total / r.kept),
            code(show(vg, time_it=False))]])
    print("Top 10 by inclusive cost (`callgrind_annotate --inclusive=yes %s`; startup frames "
          "and recursion cycles such as qsort's `msort_with_tmp'2`, whose inclusive cost "
          "callgrind counts once per level, left out; `callgrind_annotate --tree=calling` "
          "gives each caller's true share):" % rel(cg_out))
    print()
    table(["#", "function", "object", "instructions", "share", "per kept image"],
          annotate(cg_out, True, r.kept))
    print("Top 10 by self cost (`callgrind_annotate %s`):" % rel(cg_out))
    print()
    table(["#", "function", "object", "instructions", "share", "per kept image"],
          annotate(cg_out, False, r.kept))


CACHE = {}
SUMMARY = []  # [benchmark, figure, target, verdict] for the closing table


def bench_cpu(tool, quick):
    cols, rows = (4, 2) if quick else (20, 10)
    heading("2. CPU per image")
    mkdata.make_block(cols, rows)
    mkdata.warm(os.path.join(DATA, "block"))
    print("The dense tile (30,000 images) at %d tile positions (%dx%d), read through file://, "
          "bbox AOI covering exactly those tiles, outputs written to bench/data/out/. Each copy "
          "has its own image and sequence ids (bench/mkdata.py): the tool keeps an image id "
          "once, so hard links to one tile (second row) keep 30,000 images and drop the rest "
          "as duplicates before writing. Median of %d runs; CPU = user+sys of the child." %
          (cols * rows, cols, rows, RUNS))
    print()
    distinct = pipeline_rows(tool, cols, rows, "distinct ids", block_url(), "cpu")
    CACHE["bbox"] = distinct
    same = pipeline_rows(tool, cols, rows, "hard links (same ids)",
                         "file://" + os.path.join(DATA, "block-same", "{z}", "{x}", "{y}.mvt"),
                         "cpu_same")
    pipeline_table([distinct, same])
    # the kernel's share: the bytes the distinct-id run writes (its outputs;
    # sequence spill files come on top), written by a program doing nothing else
    paced, fast = kernel_write_control(sum(distinct["sizes"]), distinct["wall"])
    print("Most of the kernel's part of the distinct-id run is copying %s MiB of output into "
          "the page cache. The tool drops what is already on disk from the page cache as it "
          "writes, so it copies into a few MB of pages over and over. The control writes the "
          "same bytes the plain way, letting the page cache grow: `bench/pacedwrite.py` (1 MiB "
          "writes and nothing else) to a new file in the same folder, the previous one removed "
          "first, median of %d: spread over the run's %s s, %s s of system CPU; as fast as it "
          "goes, %s s (the tool's run: %s s in all, which also reads %d tiles). On this KVM "
          "guest fresh page-cache pages cost more the longer a writer takes (pages freed a few "
          "seconds before are handed back to the host and fault in again) and vary with what "
          "the machine did before (0.3 s to 5 s for 2 GB seen on 2026-12-01)." %
          (fmt_int(paced["mib"]), RUNS, fmt(distinct["wall"]), fmt(paced["sys"]),
           fmt(fast["sys"]), fmt(distinct["sys"]), distinct["tiles"]))
    print()
    table(["control", "MiB", "spread over s", "system CPU s", "wall s", "command"],
          [["pacedwrite.py, the outputs' bytes", fmt_int(r["mib"]), fmt(r["pace"]),
            fmt(r["sys"]), fmt(r["wall"]), code(r["cmd"])] for r in (paced, fast)])
    SUMMARY.append(["2. kernel writing the same bytes at the run's pace", "%s s system CPU "
                    "for %s MiB (the run: %s s)" % (fmt(paced["sys"]), fmt_int(paced["mib"]),
                                                    fmt(distinct["sys"])),
                    "(machine's cost)", "—"])
    bench_decode(tool, quick)
    bench_callgrind(tool, quick)


# ---- 3. polygon cost ------------------------------------------------------------

def bench_polygon(tool, quick):
    cols, rows = (4, 2) if quick else (20, 10)
    vertices = 100000
    heading("3. Polygon cost")
    mkdata.make_block(cols, rows)
    poly = mkdata.make_polygon(cols, rows, vertices)
    print("The %d tiles of benchmark 2; AOI a bbox, or %s: one Polygon of %s vertices (a "
          "zigzag superellipse just inside the block, 3 zigzag holes near its centre). "
          "images/s per core counts images seen (decoded) per CPU second. Median of %d runs." %
          (cols * rows, rel(poly), fmt_int(vertices), RUNS))
    print()
    bbox_m = CACHE.get("bbox")
    if bbox_m is None:
        bbox_m = pipeline_rows(tool, cols, rows, "bbox", block_url(), "cpu")
    poly_argv = tool.argv(rel(poly), block_url(), "poly")
    runs = []
    for _ in range(RUNS):
        remove_outputs("poly")
        runs.append(run(poly_argv))
    remove_outputs("poly")
    pm = {"tiles": runs[0].tiles, "seen": runs[0].seen, "kept": runs[0].kept,
          "wall": median_of(runs, "wall"), "cpu": median_of(runs, "cpu"), "cmd": show(poly_argv)}
    b_cost = bbox_m["cpu"] / bbox_m["seen"]
    p_cost = pm["cpu"] / pm["seen"]
    out = []
    for label, m, cost in (("bbox" + (" (benchmark 2's runs)" if "bbox" in CACHE else ""),
                            bbox_m, b_cost),
                           ("polygon, %s vertices" % fmt_int(vertices), pm, p_cost)):
        ratio = cost / b_cost
        out.append([label, m["tiles"], fmt_int(m["seen"]), fmt_int(m["kept"]), fmt(m["wall"]),
                    fmt(m["cpu"]), fmt_int(m["seen"] / m["cpu"]), "%.2fx" % ratio,
                    verdict(ratio <= 2.0) if m is pm else "—", code(m["cmd"])])
    SUMMARY.append(["3. polygon vs bbox", "%.2fx CPU per image seen" % (p_cost / b_cost),
                    "<= 2x", verdict(p_cost / b_cost <= 2.0)])
    table(["AOI", "tiles", "images seen", "kept", "wall s", "CPU s", "images/s per core",
           "CPU per image vs bbox", "target <= 2x", "command"], out)
    print("Whole-run CPU: polygon %s s vs bbox %s s (%.2fx)%s." %
          (fmt(pm["cpu"]), fmt(bbox_m["cpu"]), pm["cpu"] / bbox_m["cpu"],
           "; the polygon needs %d tiles instead of %d (the block's corners outside it are "
           "not requested)" % (pm["tiles"], bbox_m["tiles"])
           if pm["tiles"] != bbox_m["tiles"] else ""))
    print()


# ---- 4. memory ------------------------------------------------------------------

def bench_memory(tool, quick):
    # rectangles of the block: 17 columns by 1, 2, 4 and 10 rows
    shapes = [(1, 1), (2, 1), (4, 1), (4, 2)] if quick else [(17, 1), (17, 2), (17, 4), (17, 10)]
    heading("4. Memory")
    mkdata.make_block(max(c for c, _ in shapes), max(r for _, r in shapes))
    print("Peak RSS (ru_maxrss, as `/usr/bin/time -f %M`) for bbox AOIs over distinct-id dense "
          "tiles; one run each (peak RSS varies little between runs). Output files are removed "
          "after each run.")
    print()
    out, pts = [], []
    for cols, rows in shapes:
        tag = "mem"
        bbox = mkdata.bbox_arg("block", cols, rows)
        argv = tool.argv(bbox, block_url(), tag)
        remove_outputs(tag)
        r = run(argv)
        sizes = [os.path.getsize(p) for p in outputs(tag)]
        remove_outputs(tag)
        step = "—"
        if pts:
            step = fmt((r.rss_kb * 1024 - pts[-1][1]) / (r.kept - pts[-1][0]), 0)
        pts.append((r.kept, r.rss_kb * 1024))
        out.append(["%dx%d" % (cols, rows), r.tiles, fmt_int(r.kept), fmt(r.rss_kb / 1024, 1),
                    fmt(r.rss_kb * 1024 / r.kept, 0), step, fmt(r.wall), fmt(r.cpu),
                    fmt(sizes[0] / 1e6, 1), fmt(sizes[1] / 1e6, 1),
                    fmt(sum(sizes) / r.kept, 0), code(show(argv))])
    table(["block", "tiles", "images kept", "peak RSS MB", "RSS bytes/kept image", "RSS growth/added kept image",
           "wall s", "CPU s", "points file MB", "sequences file MB", "disk bytes/kept image",
           "command"], out)
    (k0, m0), (k1, m1) = pts[0], pts[-1]
    growth = (m1 - m0) / (k1 - k0)
    base = m0 - growth * k0
    SUMMARY.append(["4. memory growth", "%s bytes per kept image" % fmt(growth, 1), "<= 64",
                    verdict(growth <= 64)])
    SUMMARY.append(["4. memory base", "%s MB" % fmt(base / 2**20, 1), "< 64 MB",
                    verdict(base < 64 * 2**20)])
    print("Growth between %s and %s kept images: %s bytes per kept image (target <= 64: %s); "
          "base (RSS extrapolated to 0 kept images) %s MB (target < 64 MB: %s)." %
          (fmt_int(k0), fmt_int(k1), fmt(growth, 1), verdict(growth <= 64),
           fmt(base / 2**20, 1), verdict(base < 64 * 2**20)))
    print()


# ---- main -----------------------------------------------------------------------

BENCHES = {"fetch": bench_fetch, "cpu": bench_cpu, "polygon": bench_polygon,
           "memory": bench_memory}


def main(argv):
    ap = argparse.ArgumentParser(description="mapillary benchmarks (figures, not tests)")
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run under a minute")
    ap.add_argument("--build", default=os.path.join(REPO, "build-bench"),
                    help="build directory with mapillary and bench/bench_decode")
    ap.add_argument("which", nargs="*", help="any of %s (default: all, in order)" %
                    ", ".join(BENCHES))
    a = ap.parse_args(argv)
    for w in a.which:
        if w not in BENCHES:
            ap.error("unknown benchmark %s" % w)
    tool = Tool(os.path.abspath(a.build))
    for t in ("valgrind", "callgrind_annotate", "curl"):
        if not shutil.which(t):
            sys.exit("bench: %s is needed (apt-get install %s)" %
                     (t, "valgrind" if "grind" in t else t))
    which = [b for b in BENCHES if b in a.which] or list(BENCHES)  # always in order
    t0 = time.monotonic()
    print("# mapillary benchmarks%s" % (" (quick)" if a.quick else ""))
    print()
    print("%s; nproc %d; %s; %s. Commands run from the repository root." %
          (time.strftime("%Y-%m-%d %H:%M:%S %Z"), os.cpu_count(), cpu_model(), load()))
    print()
    for name in which:
        BENCHES[name](tool, a.quick)
        sys.stdout.flush()
    print("## Summary")
    print()
    table(["benchmark", "figure", "target", "verdict"], SUMMARY)
    print("Finished in %.0f s, %s." % (time.monotonic() - t0, load()))
    return 0


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
