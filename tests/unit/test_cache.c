/* test_cache.c -- unit tests of the MBTiles tile cache (cache.c): storage, expiry, merge, GDAL, crash safety */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#include <zlib.h>

#include "mly/cache.h"

#define REAL_TILE MLY_SOURCE_DIR "/tests/fixtures/mapillary-real/14/3251/6258.mvt"

/* Each test gets a fresh directory; teardown removes it with everything
 * SQLite left there (-wal, -shm) */
struct fx {
  char dir[64];
  char path[128];  /* dir/cache.mbtiles */
  char path2[128]; /* dir/other.mbtiles */
};

static int fx_setup(void **state)
{
  struct fx *f = calloc(1, sizeof(*f));
  if(!f)
    return -1;
  const char *tmp = getenv("TMPDIR");
  snprintf(f->dir, sizeof(f->dir), "%s/mly-cache-XXXXXX", tmp && strlen(tmp) < 40 ? tmp : "/tmp");
  if(!mkdtemp(f->dir)) {
    free(f);
    return -1;
  }
  snprintf(f->path, sizeof(f->path), "%s/cache.mbtiles", f->dir);
  snprintf(f->path2, sizeof(f->path2), "%s/other.mbtiles", f->dir);
  *state = f;
  return 0;
}

static int fx_teardown(void **state)
{
  struct fx *f = *state;
  DIR *d = opendir(f->dir);
  if(d) {
    struct dirent *e;
    while((e = readdir(d))) {
      if(strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
        unlink(p);
      }
    }
    closedir(d);
  }
  rmdir(f->dir);
  free(f);
  return 0;
}

/* ---- helpers ---- */

static struct cache *open_ok(const char *path)
{
  struct cache *c = NULL;
  struct mly_err err = {0};
  enum mly_rc rc = cache_open(path, &c, &err);
  if(rc)
    print_error("cache_open: %s\n", err.msg);
  assert_int_equal(rc, MLY_OK);
  assert_non_null(c);
  return c;
}

static void put_ok(struct cache *c, struct tile t, const void *body, size_t n)
{
  struct mly_err err = {0};
  enum mly_rc rc = cache_put(c, t, body, n, &err);
  if(rc)
    print_error("cache_put: %s\n", err.msg);
  assert_int_equal(rc, MLY_OK);
}

/* cache_get that must succeed; returns the state, body in *body */
static enum cache_state get_ok(struct cache *c, struct tile t, int64_t max_age, uint8_t **body,
                               size_t *n)
{
  struct mly_err err = {0};
  enum cache_state st = CACHE_DATA;
  uint8_t *b = (uint8_t *)&st; /* must be reset by cache_get */
  size_t bn = 99;
  enum mly_rc rc = cache_get(c, t, max_age, &st, &b, &bn, &err);
  if(rc)
    print_error("cache_get: %s\n", err.msg);
  assert_int_equal(rc, MLY_OK);
  if(st != CACHE_DATA) {
    assert_null(b);
    assert_int_equal(bn, 0);
  }
  if(body) {
    *body = b;
    *n = bn;
  }
  else
    free(b);
  return st;
}

static void assert_get_data(struct cache *c, struct tile t, const void *want, size_t wn)
{
  uint8_t *b;
  size_t n;
  assert_int_equal(get_ok(c, t, -1, &b, &n), CACHE_DATA);
  assert_int_equal(n, wn);
  assert_memory_equal(b, want, wn);
  free(b);
}

static sqlite3 *sql_open(const char *path)
{
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  sqlite3_busy_timeout(db, 10000);
  return db;
}

static void sql_exec(sqlite3 *db, const char *sql)
{
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  if(rc != SQLITE_OK)
    print_error("sql '%s': %s\n", sql, msg ? msg : "?");
  sqlite3_free(msg);
  assert_int_equal(rc, SQLITE_OK);
}

/* First column of the first row as an integer; -1 when there is no row */
static int64_t sql_int(sqlite3 *db, const char *sql)
{
  sqlite3_stmt *s = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
  int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
  sqlite3_finalize(s);
  return v;
}

/* First column of the first row as text, copied into buf ("" when none) */
static const char *sql_text(sqlite3 *db, const char *sql, char *buf, size_t cap)
{
  sqlite3_stmt *s = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
  buf[0] = '\0';
  if(sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
    snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  return buf;
}

/* Independent gunzip (zlib directly, gzip only): true when blob inflates
 * to exactly `want` (or, with want NULL, to anything) */
static bool gunzip_matches(const void *blob, size_t n, const void *want, size_t wn)
{
  size_t cap = wn + 1024 + 4 * n;
  uint8_t *out = malloc(cap);
  z_stream zs;
  memset(&zs, 0, sizeof(zs));
  if(!out || inflateInit2(&zs, 15 + 16) != Z_OK) {
    free(out);
    return false;
  }
  zs.next_in = (Bytef *)blob;
  zs.avail_in = (uInt)n;
  zs.next_out = out;
  zs.avail_out = (uInt)cap;
  int zrc = inflate(&zs, Z_FINISH);
  bool ok = zrc == Z_STREAM_END && zs.avail_in == 0 &&
            (!want || (zs.total_out == wn && memcmp(out, want, wn) == 0));
  inflateEnd(&zs);
  free(out);
  return ok;
}

static uint8_t *read_file(const char *path, size_t *n)
{
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  assert_int_equal(fseek(fp, 0, SEEK_END), 0);
  long len = ftell(fp);
  assert_true(len > 0);
  rewind(fp);
  uint8_t *b = malloc((size_t)len);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)len, fp), (size_t)len);
  fclose(fp);
  *n = (size_t)len;
  return b;
}

static void write_file(const char *path, const void *p, size_t n)
{
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(p, 1, n, fp), n);
  assert_int_equal(fclose(fp), 0);
}

/* Deterministic, poorly compressible bytes */
static void fill_bytes(uint8_t *p, size_t n, uint32_t seed)
{
  uint32_t s = seed * 2654435761u + 12345u;
  for(size_t i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    p[i] = (uint8_t)s;
  }
}

/* ---- round trips ---- */

static void test_cache_put_get_round_trip_data(void **state)
{
  struct fx *f = *state;
  struct cache *c = open_ok(f->path);
  struct tile t = {14, 3251, 6258};
  static uint8_t body[70000];
  fill_bytes(body, sizeof(body), 1);
  assert_int_equal(get_ok(c, t, -1, NULL, NULL), CACHE_MISSING);
  put_ok(c, t, body, sizeof(body));
  assert_get_data(c, t, body, sizeof(body));
  /* a neighbour stays missing */
  assert_int_equal(get_ok(c, (struct tile){14, 3251, 6259}, -1, NULL, NULL), CACHE_MISSING);
  /* a newer put replaces the body, and leaves one row */
  put_ok(c, t, "abc", 3);
  assert_get_data(c, t, "abc", 3);
  cache_close(&c);
  assert_null(c);
  cache_close(&c); /* closing twice is a no-op */
  cache_close(NULL);

  sqlite3 *db = sql_open(f->path);
  assert_int_equal(sql_int(db, "SELECT count(*) FROM tiles"), 1);
  assert_int_equal(sql_int(db, "SELECT count(*) FROM mly_fetched"), 1);
  sqlite3_close(db);
}

/* Empty tiles live only in the bookkeeping table, and data <-> empty
 * replacements keep the two tables in step */
static void test_cache_put_get_empty_tile(void **state)
{
  struct fx *f = *state;
  struct cache *c = open_ok(f->path);
  struct tile t = {14, 100, 200};
  put_ok(c, t, NULL, 0);
  assert_int_equal(get_ok(c, t, -1, NULL, NULL), CACHE_EMPTY);

  sqlite3 *db = sql_open(f->path);
  assert_int_equal(sql_int(db, "SELECT count(*) FROM tiles"), 0);
  assert_int_equal(sql_int(db, "SELECT empty FROM mly_fetched WHERE zoom_level = 14"
                               " AND tile_column = 100"),
                   1);
  /* empty -> data */
  put_ok(c, t, "xyz", 3);
  assert_get_data(c, t, "xyz", 3);
  assert_int_equal(sql_int(db, "SELECT count(*) FROM tiles"), 1);
  assert_int_equal(sql_int(db, "SELECT empty FROM mly_fetched"), 0);
  /* data -> empty removes the tile row */
  put_ok(c, t, "ignored", 0);
  assert_int_equal(get_ok(c, t, -1, NULL, NULL), CACHE_EMPTY);
  assert_int_equal(sql_int(db, "SELECT count(*) FROM tiles"), 0);
  assert_int_equal(sql_int(db, "SELECT count(*) FROM mly_fetched"), 1);
  sqlite3_close(db);
  cache_close(&c);
}

/* MBTiles rows count from the south (TMS); our y counts from the north */
static void test_cache_tms_row_flipping(void **state)
{
  struct fx *f = *state;
  struct cache *c = open_ok(f->path);
  put_ok(c, (struct tile){3, 1, 2}, "z3", 2);
  put_ok(c, (struct tile){14, 3251, 6258}, "z14", 3);
  put_ok(c, (struct tile){0, 0, 0}, "z0", 2);
  put_ok(c, (struct tile){14, 7, 16383}, NULL, 0);
  cache_close(&c);

  sqlite3 *db = sql_open(f->path);
  assert_int_equal(sql_int(db, "SELECT tile_row FROM tiles WHERE zoom_level = 3"), 8 - 1 - 2);
  assert_int_equal(sql_int(db, "SELECT tile_column FROM tiles WHERE zoom_level = 3"), 1);
  assert_int_equal(sql_int(db, "SELECT tile_row FROM tiles WHERE zoom_level = 14"),
                   16384 - 1 - 6258);
  assert_int_equal(sql_int(db, "SELECT tile_row FROM tiles WHERE zoom_level = 0"), 0);
  assert_int_equal(sql_int(db, "SELECT tile_row FROM mly_fetched WHERE zoom_level = 14"
                               " AND tile_column = 7"),
                   0);
  /* the blob is gzip, as MBTiles readers of pbf expect */
  sqlite3_stmt *s = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT tile_data FROM tiles WHERE zoom_level = 14",
                                      -1, &s, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  const uint8_t *blob = sqlite3_column_blob(s, 0);
  int bn = sqlite3_column_bytes(s, 0);
  assert_true(bn > 2);
  assert_int_equal(blob[0], 0x1f);
  assert_int_equal(blob[1], 0x8b);
  assert_true(gunzip_matches(blob, (size_t)bn, "z14", 3));
  sqlite3_finalize(s);
  sqlite3_close(db);

  /* and a row written by another tool in TMS reads back at the XYZ y */
  c = open_ok(f->path);
  assert_get_data(c, (struct tile){3, 1, 2}, "z3", 2);
  assert_int_equal(get_ok(c, (struct tile){3, 1, 5}, -1, NULL, NULL), CACHE_MISSING);
  cache_close(&c);
}

static void test_cache_invalid_tile_is_einval(void **state)
{
  struct fx *f = *state;
  struct cache *c = open_ok(f->path);
  struct mly_err err = {0};
  enum cache_state st;
  uint8_t *b;
  size_t n;
  assert_int_equal(cache_put(c, (struct tile){3, 8, 0}, (const uint8_t *)"a", 1, &err), MLY_EINVAL);
  assert_int_equal(err.rc, MLY_EINVAL);
  assert_int_equal(cache_put(c, (struct tile){3, 0, 8}, (const uint8_t *)"a", 1, &err), MLY_EINVAL);
  assert_int_equal(cache_put(c, (struct tile){31, 0, 0}, (const uint8_t *)"a", 1, &err), MLY_EINVAL);
  assert_int_equal(cache_get(c, (struct tile){1, 2, 0}, -1, &st, &b, &n, &err), MLY_EINVAL);
  assert_int_equal(st, CACHE_MISSING);
  assert_null(b);
  assert_int_equal(cache_put(c, (struct tile){1, 0, 0}, NULL, 5, &err), MLY_EINVAL);
  assert_int_equal(cache_note_bounds(c, 10, 0, 5, 1, &err), MLY_EINVAL);
  assert_int_equal(cache_note_bounds(c, 0, 0, 1, 91, &err), MLY_EINVAL);
  assert_int_equal(cache_note_bounds(c, 0, 0, 1, NAN, &err), MLY_EINVAL);
  /* nothing reached the file */
  cache_close(&c);
  sqlite3 *db = sql_open(f->path);
  assert_int_equal(sql_int(db, "SELECT count(*) FROM mly_fetched"), 0);
  sqlite3_close(db);
}

/* ---- expiry, persistence, counting ---- */

static void test_cache_max_age_expiry(void **state)
{
  struct fx *f = *state;
  struct cache *c = open_ok(f->path);
  struct tile old = {14, 1, 1}, oldempty = {14, 2, 2}, fresh = {14, 3, 3};
  put_ok(c, old, "old", 3);
  put_ok(c, oldempty, NULL, 0);
  put_ok(c, fresh, "new", 3);

  /* age two tiles by an hour behind the cache's back */
  sqlite3 *db = sql_open(f->path);
  char sql[256];
  snprintf(sql, sizeof(sql),
           "UPDATE mly_fetched SET fetched_at = %lld WHERE tile_column IN (1, 2)",
           (long long)time(NULL) - 3600);
  sql_exec(db, sql);
  sqlite3_close(db);

  assert_int_equal(get_ok(c, old, 60, NULL, NULL), CACHE_MISSING);
  assert_int_equal(get_ok(c, oldempty, 60, NULL, NULL), CACHE_MISSING);
  assert_int_equal(get_ok(c, fresh, 60, NULL, NULL), CACHE_DATA);
  /* no expiry, or a long enough one, still sees them */
  assert_get_data(c, old, "old", 3);
  assert_int_equal(get_ok(c, oldempty, -1, NULL, NULL), CACHE_EMPTY);
  assert_int_equal(get_ok(c, old, 7200, NULL, NULL), CACHE_DATA);
  assert_int_equal(get_ok(c, oldempty, 7200, NULL, NULL), CACHE_EMPTY);

  size_t nfresh = 99;
  struct tile all[3] = {old, oldempty, fresh};
  assert_int_equal(cache_count_fresh(c, all, 3, 60, &nfresh, NULL), MLY_OK);
  assert_int_equal(nfresh, 1);
  assert_int_equal(cache_count_fresh(c, all, 3, -1, &nfresh, NULL), MLY_OK);
  assert_int_equal(nfresh, 3);

  /* putting it again refreshes it */
  put_ok(c, old, "again", 5);
  assert_int_equal(get_ok(c, old, 60, NULL, NULL), CACHE_DATA);
  cache_close(&c);
}

static void test_cache_reopen_persists(void **state)
{
  struct fx *f = *state;
  static uint8_t body[5000];
  fill_bytes(body, sizeof(body), 7);
  struct cache *c = open_ok(f->path);
  put_ok(c, (struct tile){14, 10, 20}, body, sizeof(body));
  put_ok(c, (struct tile){14, 10, 21}, NULL, 0);
  assert_int_equal(cache_note_bounds(c, 1, 2, 3, 4, NULL), MLY_OK);
  cache_close(&c);

  c = open_ok(f->path);
  assert_get_data(c, (struct tile){14, 10, 20}, body, sizeof(body));
  assert_int_equal(get_ok(c, (struct tile){14, 10, 21}, -1, NULL, NULL), CACHE_EMPTY);
  assert_int_equal(get_ok(c, (struct tile){14, 10, 22}, -1, NULL, NULL), CACHE_MISSING);
  cache_close(&c);

  /* a read-only handle sees the same and refuses to write */
  struct mly_err err = {0};
  assert_int_equal(cache_open_readonly(f->path, &c, &err), MLY_OK);
  assert_get_data(c, (struct tile){14, 10, 20}, body, sizeof(body));
  assert_int_equal(cache_put(c, (struct tile){14, 1, 1}, (const uint8_t *)"a", 1, &err), MLY_EINVAL);
  assert_int_equal(cache_note_bounds(c, 0, 0, 1, 1, &err), MLY_EINVAL);
  assert_int_equal(cache_merge_from(c, f->path, NULL, &err), MLY_EINVAL);
  cache_close(&c);
}

/* A reader (a --dry_run) works while another handle writes */
static void test_cache_reader_alongside_writer(void **state)
{
  struct fx *f = *state;
  struct cache *w = open_ok(f->path), *r = NULL;
  put_ok(w, (struct tile){14, 1, 1}, "one", 3);
  assert_int_equal(cache_open_readonly(f->path, &r, NULL), MLY_OK);
  put_ok(w, (struct tile){14, 1, 2}, "two", 3);
  assert_get_data(r, (struct tile){14, 1, 2}, "two", 3);
  struct tile ts[2] = {{14, 1, 1}, {14, 1, 2}};
  size_t n;
  assert_int_equal(cache_count_fresh(r, ts, 2, -1, &n, NULL), MLY_OK);
  assert_int_equal(n, 2);
  put_ok(w, (struct tile){14, 1, 3}, NULL, 0);
  assert_int_equal(get_ok(r, (struct tile){14, 1, 3}, -1, NULL, NULL), CACHE_EMPTY);
  cache_close(&r);
  cache_close(&w);
}

static void test_cache_count_fresh(void **state)
{
  struct fx *f = *state;
  struct cache *c = open_ok(f->path);
  struct tile ts[6] = {{14, 5, 5}, {14, 5, 6}, {14, 5, 7}, {14, 5, 8}, {14, 5, 5}, {14, 9, 9}};
  size_t n = 99;
  assert_int_equal(cache_count_fresh(c, ts, 6, -1, &n, NULL), MLY_OK);
  assert_int_equal(n, 0);
  assert_int_equal(cache_count_fresh(c, ts, 0, -1, &n, NULL), MLY_OK);
  assert_int_equal(n, 0);
  put_ok(c, ts[0], "a", 1);
  put_ok(c, ts[1], NULL, 0);
  put_ok(c, ts[3], "d", 1);
  /* a tile listed twice counts twice */
  assert_int_equal(cache_count_fresh(c, ts, 6, -1, &n, NULL), MLY_OK);
  assert_int_equal(n, 4);
  assert_int_equal(cache_count_fresh(c, ts, 4, 1000, &n, NULL), MLY_OK);
  assert_int_equal(n, 3);

  /* a log row whose tile row vanished is not fresh (get says missing too) */
  sqlite3 *db = sql_open(f->path);
  sql_exec(db, "DELETE FROM tiles WHERE tile_row = 16383 - 8");
  sqlite3_close(db);
  assert_int_equal(cache_count_fresh(c, ts, 4, -1, &n, NULL), MLY_OK);
  assert_int_equal(n, 2);
  assert_int_equal(get_ok(c, ts[3], -1, NULL, NULL), CACHE_MISSING);

  /* an invalid tile fails the count, leaving *fresh 0 */
  struct tile bad[2] = {{14, 5, 5}, {2, 4, 0}};
  struct mly_err err = {0};
  assert_int_equal(cache_count_fresh(c, bad, 2, -1, &n, &err), MLY_EINVAL);
  assert_int_equal(n, 0);
  /* and the handle is still usable (the read transaction ended) */
  put_ok(c, ts[2], "c", 1);
  assert_int_equal(cache_count_fresh(c, ts, 4, -1, &n, NULL), MLY_OK);
  assert_int_equal(n, 3);
  cache_close(&c);
}

/* A damaged body is reported missing, so the tile is fetched again and the
 * put repairs it */
static void test_cache_damaged_body_reads_missing(void **state)
{
  struct fx *f = *state;
  struct cache *c = open_ok(f->path);
  struct tile t = {14, 8, 8};
  static uint8_t body[20000];
  fill_bytes(body, sizeof(body), 3);
  put_ok(c, t, body, sizeof(body));
  sqlite3 *db = sql_open(f->path);
  /* truncated gzip */
  sql_exec(db, "UPDATE tiles SET tile_data = substr(tile_data, 1, 100)");
  assert_int_equal(get_ok(c, t, -1, NULL, NULL), CACHE_MISSING);
  /* not gzip at all */
  sql_exec(db, "UPDATE tiles SET tile_data = x'0102030405060708090a'");
  assert_int_equal(get_ok(c, t, -1, NULL, NULL), CACHE_MISSING);
  sql_exec(db, "UPDATE tiles SET tile_data = NULL");
  assert_int_equal(get_ok(c, t, -1, NULL, NULL), CACHE_MISSING);
  sqlite3_close(db);
  put_ok(c, t, body, sizeof(body));
  assert_get_data(c, t, body, sizeof(body));
  cache_close(&c);
}

/* ---- metadata ---- */

static void test_cache_metadata_is_mbtiles(void **state)
{
  struct fx *f = *state;
  struct cache *c = open_ok(f->path);
  put_ok(c, (struct tile){14, 3251, 6258}, "x", 1);
  put_ok(c, (struct tile){12, 812, 1564}, "y", 1);
  put_ok(c, (struct tile){5, 6, 12}, NULL, 0); /* empty: no say in the zoom range */
  double w, s, e, n;
  tile_bounds((struct tile){14, 3251, 6258}, &w, &s, &e, &n);
  assert_int_equal(cache_note_bounds(c, w, s, e, n, NULL), MLY_OK);
  assert_int_equal(cache_note_bounds(c, -108.6, 39.1, -108.55, 39.2, NULL), MLY_OK);

  sqlite3 *db = sql_open(f->path);
  char buf[1024];
  assert_string_equal(sql_text(db, "SELECT value FROM metadata WHERE name = 'format'", buf,
                               sizeof(buf)),
                      "pbf");
  assert_string_equal(sql_text(db, "SELECT value FROM metadata WHERE name = 'type'", buf,
                               sizeof(buf)),
                      "overlay");
  static const char *const required[] = {"name", "version", "description", "json", "bounds",
                                         "center", "minzoom", "maxzoom"};
  for(size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM metadata WHERE name = '%s'", required[i]);
    assert_int_equal(sql_int(db, sql), 1);
  }
  assert_string_equal(sql_text(db, "SELECT value FROM metadata WHERE name = 'minzoom'", buf,
                               sizeof(buf)),
                      "12");
  assert_string_equal(sql_text(db, "SELECT value FROM metadata WHERE name = 'maxzoom'", buf,
                               sizeof(buf)),
                      "14");
  sql_text(db, "SELECT value FROM metadata WHERE name = 'json'", buf, sizeof(buf));
  assert_non_null(strstr(buf, "\"vector_layers\""));
  assert_non_null(strstr(buf, "{\"id\":\"image\""));
  assert_non_null(strstr(buf, "{\"id\":\"sequence\""));
  assert_non_null(strstr(buf, "\"sequence_id\":\"String\""));
  /* bounds is the union of both boxes, exactly */
  sql_text(db, "SELECT value FROM metadata WHERE name = 'bounds'", buf, sizeof(buf));
  double b[4];
  assert_int_equal(sscanf(buf, "%lf,%lf,%lf,%lf", &b[0], &b[1], &b[2], &b[3]), 4);
  assert_true(b[0] == -108.6);
  assert_true(b[1] == s);
  assert_true(b[2] == e);
  assert_true(b[3] == 39.2);
  sql_text(db, "SELECT value FROM metadata WHERE name = 'center'", buf, sizeof(buf));
  double clon, clat;
  int cz;
  assert_int_equal(sscanf(buf, "%lf,%lf,%d", &clon, &clat, &cz), 3);
  assert_true(clon > b[0] && clon < b[2] && clat > b[1] && clat < b[3]);
  assert_int_equal(cz, 14);
  /* file-level markers */
  assert_int_equal(sql_int(db, "PRAGMA application_id"), 0x4d504258);
  assert_int_equal(sql_int(db, "PRAGMA user_version"), 1);
  assert_string_equal(sql_text(db, "PRAGMA journal_mode", buf, sizeof(buf)), "wal");
  assert_int_equal(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
                               " AND tbl_name = 'tiles' AND sql LIKE '%UNIQUE%'"),
                   1);
  assert_string_equal(sql_text(db, "PRAGMA integrity_check", buf, sizeof(buf)), "ok");
  sqlite3_close(db);
  cache_close(&c);
}

/* ---- bad files ---- */

static void test_cache_non_sqlite_file_is_eformat(void **state)
{
  struct fx *f = *state;
  char text[2048];
  for(size_t i = 0; i < sizeof(text); i++)
    text[i] = "not a database, just text\n"[i % 26];
  write_file(f->path, text, sizeof(text));
  struct cache *c = (struct cache *)1;
  struct mly_err err = {0};
  assert_int_equal(cache_open(f->path, &c, &err), MLY_EFORMAT);
  assert_null(c);
  assert_int_equal(err.rc, MLY_EFORMAT);
  assert_non_null(strstr(err.msg, f->path));
  assert_int_equal(cache_open_readonly(f->path, &c, &err), MLY_EFORMAT);
  /* the file is left as it was */
  size_t n;
  uint8_t *back = read_file(f->path, &n);
  assert_int_equal(n, sizeof(text));
  assert_memory_equal(back, text, n);
  free(back);

  /* a short one too */
  write_file(f->path2, "hello", 5);
  assert_int_equal(cache_open(f->path2, &c, &err), MLY_EFORMAT);
}

/* SQLite, but not our schema: another app's database, a raster MBTiles, a
 * newer version of ours */
static void test_cache_incompatible_schema_is_eformat(void **state)
{
  struct fx *f = *state;
  struct cache *c = NULL;
  struct mly_err err = {0};
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
  sql_exec(db, "CREATE TABLE foo (a INTEGER)");
  sqlite3_close(db);
  assert_int_equal(cache_open(f->path, &c, &err), MLY_EFORMAT);
  assert_non_null(strstr(err.msg, "not a mapillary tile cache"));
  db = sql_open(f->path);
  char buf[32];
  /* not switched to WAL behind the owner's back */
  assert_string_equal(sql_text(db, "PRAGMA journal_mode", buf, sizeof(buf)), "delete");
  sqlite3_close(db);

  /* a raster MBTiles made by another tool */
  assert_int_equal(sqlite3_open(f->path2, &db), SQLITE_OK);
  sql_exec(db, "CREATE TABLE metadata (name TEXT, value TEXT);"
               "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER,"
               " tile_row INTEGER, tile_data BLOB);"
               "INSERT INTO metadata VALUES ('format', 'png')");
  sqlite3_close(db);
  assert_int_equal(cache_open(f->path2, &c, &err), MLY_EFORMAT);
  assert_null(c);

  /* our own schema, a future version */
  unlink(f->path);
  c = open_ok(f->path);
  cache_close(&c);
  db = sql_open(f->path);
  sql_exec(db, "PRAGMA user_version = 2");
  sqlite3_close(db);
  assert_int_equal(cache_open(f->path, &c, &err), MLY_EFORMAT);
  assert_non_null(strstr(err.msg, "version 2"));

  /* our schema, but the format row changed */
  db = sql_open(f->path);
  sql_exec(db, "PRAGMA user_version = 1; UPDATE metadata SET value = 'jpg'"
               " WHERE name = 'format'");
  sqlite3_close(db);
  assert_int_equal(cache_open(f->path, &c, &err), MLY_EFORMAT);
  assert_non_null(strstr(err.msg, "jpg"));
}

static void test_cache_open_errors(void **state)
{
  struct fx *f = *state;
  struct cache *c = NULL;
  struct mly_err err = {0};
  char p[256];
  snprintf(p, sizeof(p), "%s/no/such/dir/c.mbtiles", f->dir);
  /* a place the cache cannot be is the caller's mistake, not an I/O failure */
  assert_int_equal(cache_open(p, &c, &err), MLY_EINVAL);
  assert_non_null(strstr(err.msg, p));
  /* read-only never creates the file */
  assert_int_equal(cache_open_readonly(f->path, &c, &err), MLY_EINVAL);
  assert_int_equal(access(f->path, F_OK), -1);
  assert_int_equal(cache_open("", &c, &err), MLY_EINVAL);
  /* an empty file is a new cache */
  write_file(f->path, "", 0);
  c = open_ok(f->path);
  put_ok(c, (struct tile){1, 1, 1}, "a", 1);
  cache_close(&c);
}

/* ---- merge ---- */

static void set_fetched_at(sqlite3 *db, uint32_t x, long long at)
{
  char sql[160];
  snprintf(sql, sizeof(sql), "UPDATE mly_fetched SET fetched_at = %lld WHERE tile_column = %u",
           at, x);
  sql_exec(db, sql);
}

static void test_cache_merge_newer_wins(void **state)
{
  struct fx *f = *state;
  struct tile t1 = {14, 1, 10}, t2 = {14, 2, 10}, t3 = {14, 3, 10}, t4 = {14, 4, 10},
              t5 = {14, 5, 10}, t6 = {14, 6, 10}, t7 = {14, 7, 10}, t8 = {13, 8, 10};
  struct cache *a = open_ok(f->path), *b = open_ok(f->path2);
  put_ok(a, t1, "a1", 2);
  put_ok(a, t2, "a2", 2);
  put_ok(a, t3, NULL, 0);
  put_ok(a, t6, "a6", 2);
  put_ok(a, t7, "a7", 2);
  assert_int_equal(cache_note_bounds(a, 10, 10, 11, 11, NULL), MLY_OK);
  put_ok(b, t1, "b1", 2);
  put_ok(b, t2, "b2", 2);
  put_ok(b, t3, "b3", 2);
  put_ok(b, t4, "b4", 2);
  put_ok(b, t5, NULL, 0);
  put_ok(b, t6, NULL, 0);
  put_ok(b, t7, "b7", 2);
  put_ok(b, t8, "b8", 2);
  assert_int_equal(cache_note_bounds(b, 20, -5, 21, 5, NULL), MLY_OK);
  cache_close(&b);

  sqlite3 *da = sql_open(f->path), *db = sql_open(f->path2);
  set_fetched_at(da, 1, 1000);
  set_fetched_at(db, 1, 2000); /* b newer: b wins */
  set_fetched_at(da, 2, 3000);
  set_fetched_at(db, 2, 2000); /* a newer: a keeps */
  set_fetched_at(da, 3, 1000);
  set_fetched_at(db, 3, 5000); /* b's data replaces a's empty */
  set_fetched_at(da, 6, 1000);
  set_fetched_at(db, 6, 5000); /* b's empty replaces a's data */
  set_fetched_at(da, 7, 4000);
  set_fetched_at(db, 7, 4000); /* tie: a keeps */
  sqlite3_close(db);

  size_t copied = 99;
  struct mly_err err = {0};
  enum mly_rc rc = cache_merge_from(a, f->path2, &copied, &err);
  if(rc)
    print_error("merge: %s\n", err.msg);
  assert_int_equal(rc, MLY_OK);
  assert_int_equal(copied, 6); /* t1 t3 t4 t5 t6 t8 */
  assert_get_data(a, t1, "b1", 2);
  assert_get_data(a, t2, "a2", 2);
  assert_get_data(a, t3, "b3", 2);
  assert_get_data(a, t4, "b4", 2);
  assert_int_equal(get_ok(a, t5, -1, NULL, NULL), CACHE_EMPTY);
  assert_int_equal(get_ok(a, t6, -1, NULL, NULL), CACHE_EMPTY);
  assert_get_data(a, t7, "a7", 2);
  assert_get_data(a, t8, "b8", 2);
  assert_int_equal(sql_int(da, "SELECT count(*) FROM tiles"), 6);
  assert_int_equal(sql_int(da, "SELECT fetched_at FROM mly_fetched WHERE tile_column = 1"),
                   2000);
  char buf[256];
  assert_string_equal(sql_text(da, "SELECT value FROM metadata WHERE name = 'bounds'", buf,
                               sizeof(buf)),
                      "10,-5,21,11");
  assert_string_equal(sql_text(da, "SELECT value FROM metadata WHERE name = 'minzoom'", buf,
                               sizeof(buf)),
                      "13");
  sqlite3_close(da);

  /* merging again changes nothing */
  assert_int_equal(cache_merge_from(a, f->path2, &copied, &err), MLY_OK);
  assert_int_equal(copied, 0);
  /* merging a cache into itself neither */
  assert_int_equal(cache_merge_from(a, f->path, &copied, &err), MLY_OK);
  assert_int_equal(copied, 0);
  /* the handle still works after the detach */
  put_ok(a, t2, "a2'", 3);
  assert_get_data(a, t2, "a2'", 3);
  cache_close(&a);
}

static void test_cache_merge_from_bad_source(void **state)
{
  struct fx *f = *state;
  struct cache *c = open_ok(f->path);
  put_ok(c, (struct tile){14, 1, 1}, "keep", 4);
  size_t copied = 99;
  struct mly_err err = {0};
  assert_int_equal(cache_merge_from(c, f->path2, &copied, &err), MLY_EINVAL);
  assert_int_equal(access(f->path2, F_OK), -1); /* not created */
  assert_int_equal(copied, 0);
  write_file(f->path2, "garbage garbage garbage garbage", 31);
  assert_int_equal(cache_merge_from(c, f->path2, &copied, &err), MLY_EFORMAT);
  assert_get_data(c, (struct tile){14, 1, 1}, "keep", 4);
  cache_close(&c);
}

/* ---- GDAL ---- */

/* Run a command, capture its output (stdout and stderr) into buf; returns
 * the exit status, or -1 when it did not exit normally */
static int run_capture(const char *cmd, char *buf, size_t cap)
{
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t n = 0, got;
  while(n + 1 < cap && (got = fread(buf + n, 1, cap - 1 - n, p)) > 0)
    n += got;
  buf[n] = '\0';
  char sink[4096];
  while(fread(sink, 1, sizeof(sink), p) > 0)
    ;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* GDAL, an independent reader, opens the file as MBTiles and finds our
 * layers and the real tile's points */
static void test_cache_ogrinfo_reads_it_as_mbtiles(void **state)
{
  struct fx *f = *state;
  static char out[1 << 16];
  if(run_capture("command -v ogrinfo", out, sizeof(out)) != 0)
    fail_msg("ogrinfo (gdal-bin) is not installed: cannot check the MBTiles file");

  size_t n;
  uint8_t *mvt = read_file(REAL_TILE, &n);
  struct cache *c = open_ok(f->path);
  struct tile t = {14, 3251, 6258};
  put_ok(c, t, mvt, n);
  put_ok(c, (struct tile){14, 3252, 6258}, NULL, 0); /* empty: must not trouble GDAL */
  double w, s, e, no;
  tile_bounds(t, &w, &s, &e, &no);
  assert_int_equal(cache_note_bounds(c, w, s, e, no, NULL), MLY_OK);
  assert_get_data(c, t, mvt, n);
  cache_close(&c);
  free(mvt);

  char cmd[512];
  snprintf(cmd, sizeof(cmd), "ogrinfo -ro -so '%s' 2>&1", f->path);
  int st = run_capture(cmd, out, sizeof(out));
  if(st != 0)
    print_error("%s\n", out);
  assert_int_equal(st, 0);
  assert_non_null(strstr(out, "using driver `MBTiles' successful"));
  assert_non_null(strstr(out, "1: image"));
  assert_non_null(strstr(out, "2: sequence"));
  assert_null(strstr(out, "ERROR"));

  /* the layer holds the tile's 7890 image points */
  snprintf(cmd, sizeof(cmd), "ogrinfo -ro -so '%s' image 2>&1", f->path);
  st = run_capture(cmd, out, sizeof(out));
  if(st != 0)
    print_error("%s\n", out);
  assert_int_equal(st, 0);
  assert_non_null(strstr(out, "Feature Count: 7890"));
  assert_non_null(strstr(out, "sequence_id: String")); /* field types from our json */
  assert_null(strstr(out, "ERROR"));
}

/* ---- crash safety ---- */

#define CRASH_SLOTS 60

/* Body of put number i: a header naming the put, then bytes derived from
 * it, so any body read back can be checked on its own */
static size_t crash_body(uint32_t i, uint8_t *buf)
{
  size_t n = 16 + (size_t)(i * 7919u % 40000u);
  memcpy(buf, "MLYCRASH", 8);
  memcpy(buf + 8, &i, 4);
  memset(buf + 12, 0, 4);
  fill_bytes(buf + 16, n - 16, i + 1);
  return n;
}

static struct tile crash_tile(uint32_t i)
{
  return (struct tile){14, 4000 + i % CRASH_SLOTS, 5000};
}

/* every 7th put records an empty tile, so slots flip between kinds */
static bool crash_empty(uint32_t i)
{
  return i % 7 == 3;
}

static void crash_child(const char *path, int wfd)
{
  static uint8_t buf[16 + 40000];
  struct cache *c = NULL;
  if(cache_open(path, &c, NULL))
    _exit(10);
  for(uint32_t i = 0;; i++) {
    size_t n = crash_empty(i) ? 0 : crash_body(i, buf);
    if(cache_put(c, crash_tile(i), buf, n, NULL))
      _exit(11);
    /* acknowledge only once the put returned: it must then be durable */
    if(write(wfd, &i, sizeof(i)) != (ssize_t)sizeof(i))
      _exit(12);
  }
}

/* Puts i that may legitimately be what slot k holds: its last acknowledged
 * put, or the put in flight when the kill came (acked .. acked+1: the
 * child may finish a put and die before acknowledging it) */
static bool crash_candidate(uint32_t i, uint32_t k, uint32_t acked)
{
  if(i % CRASH_SLOTS != k)
    return false;
  if(i >= acked)
    return i <= acked; /* only the one in flight */
  return i + CRASH_SLOTS >= acked;  /* the newest acked for this slot */
}

static void crash_round(const char *path, uint32_t kill_after)
{
  int pfd[2];
  assert_int_equal(pipe(pfd), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if(pid == 0) {
    close(pfd[0]);
    crash_child(path, pfd[1]);
    _exit(13);
  }
  close(pfd[1]);
  uint32_t acked = 0, i;
  while(acked < kill_after && read(pfd[0], &i, sizeof(i)) == (ssize_t)sizeof(i)) {
    assert_int_equal(i, acked);
    acked++;
  }
  assert_int_equal(acked, kill_after); /* the child did not fail early */
  assert_int_equal(kill(pid, SIGKILL), 0);
  /* acknowledgements still in the pipe count too */
  while(read(pfd[0], &i, sizeof(i)) == (ssize_t)sizeof(i)) {
    assert_int_equal(i, acked);
    acked++;
  }
  close(pfd[0]);
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFSIGNALED(st));
  assert_int_equal(WTERMSIG(st), SIGKILL);

  /* the file is sound */
  sqlite3 *db = sql_open(path);
  char buf[64];
  assert_string_equal(sql_text(db, "PRAGMA integrity_check", buf, sizeof(buf)), "ok");
  /* every stored blob gunzips (checked with zlib directly) */
  sqlite3_stmt *s = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT tile_data FROM tiles", -1, &s, NULL),
                   SQLITE_OK);
  int rows = 0;
  while(sqlite3_step(s) == SQLITE_ROW) {
    assert_true(gunzip_matches(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0),
                               NULL, 40016));
    rows++;
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  assert_true(rows > 0);

  /* and every slot holds what was acknowledged (or the put in flight) */
  static uint8_t want[16 + 40000];
  struct cache *c = open_ok(path);
  for(uint32_t k = 0; k < CRASH_SLOTS; k++) {
    uint8_t *body;
    size_t n;
    enum cache_state cs = get_ok(c, crash_tile(k), -1, &body, &n);
    bool any_acked = k < acked;
    if(cs == CACHE_MISSING) {
      assert_false(any_acked);
      continue;
    }
    if(cs == CACHE_EMPTY) {
      bool ok = false;
      for(uint32_t j = k; j <= acked; j += CRASH_SLOTS)
        ok |= crash_candidate(j, k, acked) && crash_empty(j);
      assert_true(ok);
      continue;
    }
    assert_true(n >= 16);
    uint32_t put_no;
    memcpy(&put_no, body + 8, 4);
    assert_true(crash_candidate(put_no, k, acked));
    assert_false(crash_empty(put_no));
    size_t wn = crash_body(put_no, want);
    assert_int_equal(n, wn);
    assert_memory_equal(body, want, wn);
    free(body);
  }
  cache_close(&c);
}

/* SIGKILL at an arbitrary point of a put loop: the cache opens, is intact,
 * and holds every acknowledged put */
static void test_cache_survives_sigkill_mid_put(void **state)
{
  struct fx *f = *state;
  static const uint32_t kill_after[] = {1, 37, 150};
  for(size_t r = 0; r < sizeof(kill_after) / sizeof(kill_after[0]); r++) {
    char path[160];
    snprintf(path, sizeof(path), "%s/crash%zu.mbtiles", f->dir, r);
    crash_round(path, kill_after[r]);
  }
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
  const struct CMUnitTest tests[] = {
    T(test_cache_put_get_round_trip_data),
    T(test_cache_put_get_empty_tile),
    T(test_cache_tms_row_flipping),
    T(test_cache_invalid_tile_is_einval),
    T(test_cache_max_age_expiry),
    T(test_cache_reopen_persists),
    T(test_cache_reader_alongside_writer),
    T(test_cache_count_fresh),
    T(test_cache_damaged_body_reads_missing),
    T(test_cache_metadata_is_mbtiles),
    T(test_cache_non_sqlite_file_is_eformat),
    T(test_cache_incompatible_schema_is_eformat),
    T(test_cache_open_errors),
    T(test_cache_merge_newer_wins),
    T(test_cache_merge_from_bad_source),
    T(test_cache_ogrinfo_reads_it_as_mbtiles),
    T(test_cache_survives_sigkill_mid_put),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
