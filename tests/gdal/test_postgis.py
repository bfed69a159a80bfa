#!/usr/bin/env python3
"""test_postgis.py -- PostGIS destinations against a real PostgreSQL 15 + PostGIS 3.

Starts a private server (pgserver.py: initdb in a temporary folder, Unix
socket only, run as the postgres user when we are root), runs the real
binary on the bundled example (file:// tiles) with PG: destinations, and
checks with psql and ogr2ogr: the rows equal the GeoJSON output of the same
run feature by feature, column types (text ids, bigint captured_at, boolean
is_pano), SRID 4326 and a GiST index; a rerun replaces the table; and a run
that fails leaves the old table as it was, with no load table behind:
  - a tile that cannot be decoded (the run fails before loading);
  - a view on the old table (the swap's DROP fails, all is rolled back);
  - the run killed (SIGKILL) during the swap, held there by a reader's lock.
The server is stopped and its folder removed at the end, even on failure.

usage: test_postgis.py --binary <mapillary> --source <repo>
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import pgserver  # noqa: E402
import test_formats as tf  # noqa: E402  (check, run, compare)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--source", required=True)
    a = ap.parse_args()
    binary, src = os.path.abspath(a.binary), os.path.abspath(a.source)
    check = tf.check
    work = tempfile.mkdtemp(prefix="mly-pg-test-")
    srv = pgserver.Server()
    try:
        srv.start()
        pg = "PG:" + srv.conninfo()
        psql = srv.psql

        def rows(table):
            return psql('SELECT md5(string_agg(t::text, \',\' ORDER BY ogc_fid)), count(*) FROM "%s" t'
                        % table)[0]

        def load_tables():
            return psql("SELECT tablename FROM pg_tables WHERE tablename LIKE '%\\_\\_mly\\_new'")

        gj = os.path.join(work, "gj")
        r = tf.run(binary, src, gj + "/p.geojson", gj + "/s.geojson")
        check(r.returncode == 0, "GeoJSON run: status 0")

        r = tf.run(binary, src, pg, pg, extra=["--table_point=pts", "--table_sequence", "seqs"])
        check(r.returncode == 0, "PostGIS run: status 0 (%s)" % r.stderr.strip())
        tables = sorted(t[0] for t in psql("SELECT tablename FROM pg_tables WHERE schemaname='public'"))
        check(tables == ["north_pts", "north_seqs", "south_pts", "south_seqs", "spatial_ref_sys"],
              "tables <area>_pts and <area>_seqs (%s)" % tables)
        for area in ("north", "south"):
            for kind, table in (("p", "pts"), ("s", "seqs")):
                t = "%s_%s" % (area, table)
                with open("%s/%s_%s.geojson" % (gj, area, kind)) as fh:
                    n = len(tf.json.load(fh)["features"])
                check(psql('SELECT count(*) FROM "%s"' % t) == [[str(n)]],
                      "psql: %s has %d rows" % (t, n))
                tf.compare("PostGIS " + t, "%s/%s_%s.geojson" % (gj, area, kind),
                           "PG:%s tables=%s" % (srv.conninfo(), t), ordered=True)
        types = dict((c, d) for c, d in psql(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name='north_pts'"))
        check(types.get("id") == "text" and types.get("captured_at") == "bigint" and
              types.get("is_pano") == "boolean" and types.get("compass_angle") == "double precision",
              "column types: id text, captured_at bigint, is_pano boolean (%s)" % types)
        check(psql("SELECT DISTINCT ST_SRID(geom), GeometryType(geom) FROM north_pts") == [["4326", "POINT"]],
              "points: SRID 4326, POINT")
        idx = psql("SELECT indexname, indexdef FROM pg_indexes WHERE tablename='north_pts'")
        check(any("gist" in d for _, d in idx), "points have a GiST index (%s)" % idx)
        check(any(n == "north_pts_geom_geom_idx" for n, _ in idx), "index renamed with the table")
        check(load_tables() == [], "no load table left")

        # a rerun replaces the table (fewer images: a later start)
        before = rows("north_pts")
        r = tf.run(binary, src, pg, pg, extra=["--table_point=pts", "--table_sequence=seqs",
                                               "--timestamp_from=2020-01-01"])
        after = rows("north_pts")
        check(r.returncode == 0 and after != before and 0 < int(after[1]) < int(before[1]),
              "rerun replaced north_pts (%s -> %s rows)" % (before[1], after[1]))

        # a tile that cannot be decoded: the run fails, the table stays
        bad = os.path.join(work, "tiles")
        shutil.copytree(os.path.join(src, "examples/tiles"), bad)
        victim = None
        for base, _, names in os.walk(bad):
            for n in sorted(names):
                if n.endswith(".mvt") and victim is None:
                    victim = os.path.join(base, n)
        with open(victim, "wb") as fh:
            fh.write(b"\x1a\xff\xff\xff\xff\x0fnot a tile")
        before = rows("north_pts")
        cmd = [binary, "get_mapillary_points", "--input_aoi=" + os.path.join(src, "examples/aoi.geojson"),
               "--field_name=area", "--no_id_repair", "--quiet", "--retries=1",
               "--tiles_url=file://" + bad + "/{z}/{x}/{y}.mvt",
               "--output_file_point=" + pg, "--output_file_sequence=" + pg,
               "--table_point=pts", "--table_sequence=seqs"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        check(r.returncode == 1, "broken tile: status 1 (%s)" % r.stderr.strip())
        check(rows("north_pts") == before and load_tables() == [],
              "broken tile: old table as it was, no load table")

        # a view on the old table: DROP fails, everything rolls back
        psql("CREATE VIEW north_view AS SELECT id FROM north_pts")
        r = tf.run(binary, src, pg, pg, extra=["--table_point=pts", "--table_sequence=seqs"])
        check(r.returncode == 1 and "cannot replace table 'north_pts'" in r.stderr
              and r.stderr.count("\n") == 1,
              "view on the table: status 1, one line naming it (%s)" % r.stderr.strip())
        check(rows("north_pts") == before and load_tables() == [],
              "view on the table: old table as it was, no load table")
        psql("DROP VIEW north_view")

        # killed in the swap: a reader holds the old table, the run waits on
        # its DROP with the new table loaded; SIGKILL; the server rolls back
        holder = srv.session()
        holder.stdin.write("BEGIN; LOCK TABLE north_pts IN ACCESS SHARE MODE;\n")
        holder.stdin.flush()
        p = subprocess.Popen([binary, "get_mapillary_points",
                              "--input_aoi=" + os.path.join(src, "examples/aoi.geojson"),
                              "--field_name=area", "--no_id_repair", "--quiet",
                              "--tiles_url=file://" + os.path.join(src, "examples/tiles/{z}/{x}/{y}.mvt"),
                              "--output_file_point=" + pg, "--output_file_sequence=" + pg,
                              "--table_point=pts", "--table_sequence=seqs"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        waiting = False
        for _ in range(300):
            if psql("SELECT 1 FROM pg_stat_activity WHERE wait_event_type='Lock' AND query LIKE 'DROP TABLE%'"):
                waiting = True
                break
            time.sleep(0.05)
        check(waiting, "the run reached the swap and waits on the reader's lock")
        p.send_signal(signal.SIGKILL)
        p.wait()
        holder.stdin.write("COMMIT;\n\\q\n")
        holder.stdin.close()
        holder.wait()
        for _ in range(100):  # the server notices the dropped connection
            if not psql("SELECT 1 FROM pg_stat_activity WHERE query LIKE 'DROP TABLE%'"):
                break
            time.sleep(0.05)
        check(rows("north_pts") == before and load_tables() == [],
              "killed in the swap: old table as it was, no load table")
        check(rows("south_pts")[1] != "0", "killed in the swap: south_pts still there")

        # bad destinations: one line, status 2, nothing created
        r = tf.run(binary, src, "PG:dbname=postgres host=%s/nothere user=postgres" % work, gj + "/x.geojson")
        check(r.returncode == 2 and r.stderr.count("\n") == 1 and "PostGIS destination" in r.stderr
              and not os.path.exists(gj + "/north_x.geojson"),
              "no server: status 2, one line, nothing written (%s)" % r.stderr.strip())
        r = tf.run(binary, src, pg, gj + "/x.geojson", extra=["--table_point=bad-name"])
        check(r.returncode == 2 and "--table_point" in r.stderr, "bad table name: status 2")
    finally:
        srv.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("%d failed" % len(tf.FAILS))
    return 1 if tf.FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
