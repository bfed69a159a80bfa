/* cache.c -- resumable tile cache in an MBTiles file: gzip'd tiles plus a fetch log, one transaction per tile */
#include "mly/cache.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>
#include <zlib.h>

#define SCHEMA_VERSION 1
#define MBTILES_APP_ID 0x4d504258 /* "MPBX", MBTiles 1.3 */
#define BUSY_TIMEOUT_MS 10000
/* Puts run on the fetch loop's thread, so compression time is throughput:
 * on the 237 kB real tile level 1 takes ~6 ms for 97 kB, level 6 ~20 ms for
 * 89 kB. 10% more disk is the better deal. */
#define GZIP_LEVEL 1
/* zoom written into center before any data tile sets maxzoom: the level
 * the tool fetches */
#define DEFAULT_CENTER_ZOOM 14

/* Statements prepared once per handle and reused by every call */
enum stmt_id {
  S_BEGIN_WRITE,
  S_BEGIN_READ,
  S_COMMIT,
  S_ROLLBACK,
  S_GET,
  S_FRESH,
  S_PUT_TILE,
  S_DEL_TILE,
  S_PUT_FETCHED,
  S_META_GET,
  S_META_PUT,
  S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
  /* IMMEDIATE takes the write lock up front, so a busy database makes us
   * wait (busy_timeout) at BEGIN rather than fail halfway */
  [S_BEGIN_WRITE] = "BEGIN IMMEDIATE",
  [S_BEGIN_READ] = "BEGIN",
  [S_COMMIT] = "COMMIT",
  [S_ROLLBACK] = "ROLLBACK",
  [S_GET] = "SELECT f.fetched_at, f.empty, t.tile_data FROM mly_fetched AS f"
            " LEFT JOIN tiles AS t ON t.zoom_level = f.zoom_level"
            " AND t.tile_column = f.tile_column AND t.tile_row = f.tile_row"
            " WHERE f.zoom_level = ?1 AND f.tile_column = ?2 AND f.tile_row = ?3",
  /* same lookup without the blob: tile_index covers it, no data page read */
  [S_FRESH] = "SELECT f.fetched_at, f.empty, t.zoom_level IS NOT NULL FROM mly_fetched AS f"
              " LEFT JOIN tiles AS t ON t.zoom_level = f.zoom_level"
              " AND t.tile_column = f.tile_column AND t.tile_row = f.tile_row"
              " WHERE f.zoom_level = ?1 AND f.tile_column = ?2 AND f.tile_row = ?3",
  [S_PUT_TILE] = "INSERT OR REPLACE INTO tiles (zoom_level, tile_column, tile_row, tile_data)"
                 " VALUES (?1, ?2, ?3, ?4)",
  [S_DEL_TILE] = "DELETE FROM tiles WHERE zoom_level = ?1 AND tile_column = ?2 AND tile_row = ?3",
  [S_PUT_FETCHED] = "INSERT OR REPLACE INTO mly_fetched"
                    " (zoom_level, tile_column, tile_row, fetched_at, empty)"
                    " VALUES (?1, ?2, ?3, ?4, ?5)",
  [S_META_GET] = "SELECT value FROM metadata WHERE name = ?1",
  [S_META_PUT] = "INSERT OR REPLACE INTO metadata (name, value) VALUES (?1, ?2)",
};

/* MBTiles 1.3 tables; tile_index and the metadata index make the
 * INSERT OR REPLACE statements replace instead of duplicating rows. The
 * pragmas are part of the transaction, so a half-created file can not be. */
static const char schema_sql[] =
  "CREATE TABLE metadata (name TEXT, value TEXT);"
  "CREATE UNIQUE INDEX metadata_name ON metadata (name);"
  "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER,"
  " tile_data BLOB);"
  "CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);"
  "CREATE TABLE mly_fetched (zoom_level INTEGER NOT NULL, tile_column INTEGER NOT NULL,"
  " tile_row INTEGER NOT NULL, fetched_at INTEGER NOT NULL, empty INTEGER NOT NULL,"
  " PRIMARY KEY (zoom_level, tile_column, tile_row)) WITHOUT ROWID;"
  "INSERT INTO metadata (name, value) VALUES"
  " ('name', 'Mapillary coverage'),"
  " ('format', 'pbf'),"
  " ('type', 'overlay'),"
  " ('version', '1'),"
  " ('description', 'Mapillary mly1_public coverage tiles kept by the mapillary tool'),"
  " ('attribution', 'Mapillary contributors, CC BY-SA 4.0'),"
  /* MBTiles 1.3 vector_layers; GDAL takes the field types from here */
  " ('json', '{\"vector_layers\":["
  "{\"id\":\"image\",\"description\":\"one point per image\",\"fields\":{"
  "\"captured_at\":\"Number\",\"compass_angle\":\"Number\",\"id\":\"Number\","
  "\"is_pano\":\"Boolean\",\"organization_id\":\"Number\",\"sequence_id\":\"String\"}},"
  "{\"id\":\"sequence\",\"description\":\"one line per sequence\",\"fields\":{"
  "\"captured_at\":\"Number\",\"id\":\"String\",\"image_id\":\"Number\","
  "\"is_pano\":\"Boolean\",\"organization_id\":\"Number\"}}]}');"
  "PRAGMA application_id = 1297105496;" /* MBTILES_APP_ID */
  "PRAGMA user_version = 1;";           /* SCHEMA_VERSION */

_Static_assert(MBTILES_APP_ID == 1297105496, "application_id in schema_sql");
_Static_assert(SCHEMA_VERSION == 1, "user_version in schema_sql");

struct cache {
  sqlite3 *db;
  char *path;
  bool readonly;
  /* zoom range of data tiles known to be in metadata; only ever narrower
   * than or equal to the file's (ranges only widen), so a tile inside it
   * needs no metadata write */
  bool have_zoom;
  int minzoom, maxzoom;
  sqlite3_stmt *st[S_COUNT];
};

/* ---- errors ---- */

/* A full disk or a failing read or write is an I/O failure (MLY_EIO); a
 * file that is not a database is MLY_EFORMAT; a path that cannot be
 * opened or written (no such folder, no permission, read-only) is
 * MLY_EINVAL: the caller gave a place the cache cannot be */
static enum mly_rc rc_of_sqlite(int src)
{
  switch(src & 0xff) {
  case SQLITE_NOMEM: return MLY_ENOMEM;
  case SQLITE_NOTADB:
  case SQLITE_CORRUPT: return MLY_EFORMAT;
  case SQLITE_CANTOPEN:
  case SQLITE_PERM:
  case SQLITE_READONLY:
  case SQLITE_AUTH: return MLY_EINVAL;
  default: return MLY_EIO; /* SQLITE_FULL, SQLITE_IOERR, ... */
  }
}

/* Fill err from the connection's last error: "<what> in <file>: <sqlite>" */
static enum mly_rc db_fail(struct cache *c, int src, const char *what, struct mly_err *err)
{
  return mly_err_set(err, rc_of_sqlite(src), "%s in %s: %s", what, c->path,
                     sqlite3_errmsg(c->db));
}

static bool is_format_error(int src)
{
  src &= 0xff;
  return src == SQLITE_NOTADB || src == SQLITE_CORRUPT;
}

/* ---- small statement helpers ---- */

/* Run a parameterless reused statement to completion */
static int run_stmt(struct cache *c, enum stmt_id id)
{
  int src = sqlite3_step(c->st[id]);
  sqlite3_reset(c->st[id]);
  return src == SQLITE_DONE || src == SQLITE_ROW ? SQLITE_OK : src;
}

static void rollback(struct cache *c)
{
  /* a failed COMMIT or statement may already have ended the transaction */
  if(!sqlite3_get_autocommit(c->db))
    (void)run_stmt(c, S_ROLLBACK);
}

static int bind_key(sqlite3_stmt *s, uint32_t z, uint32_t x, int64_t row)
{
  int src = sqlite3_bind_int64(s, 1, z);
  if(src == SQLITE_OK)
    src = sqlite3_bind_int64(s, 2, x);
  if(src == SQLITE_OK)
    src = sqlite3_bind_int64(s, 3, row);
  return src;
}

/* Check t and give its TMS row (MBTiles counts rows from the south) */
static enum mly_rc tile_key(struct cache *c, struct tile t, int64_t *row, struct mly_err *err)
{
  if(t.z > CACHE_MAX_ZOOM || t.x >= (UINT64_C(1) << t.z) || t.y >= (UINT64_C(1) << t.z))
    return mly_err_set(err, MLY_EINVAL, "invalid tile %u/%u/%u for cache %s", t.z, t.x, t.y,
                       c->path);
  *row = ((INT64_C(1) << t.z) - 1) - (int64_t)t.y;
  return MLY_OK;
}

static bool is_fresh(int64_t fetched_at, int64_t max_age_s, int64_t now)
{
  return max_age_s < 0 || now - fetched_at <= max_age_s;
}

/* ---- metadata ---- */

/* Copy metadata value `name` into buf; *found false when there is none */
static enum mly_rc meta_get(struct cache *c, const char *name, char *buf, size_t cap, bool *found,
                            struct mly_err *err)
{
  sqlite3_stmt *s = c->st[S_META_GET];
  int src = sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
  *found = false;
  buf[0] = '\0';
  if(src == SQLITE_OK) {
    src = sqlite3_step(s);
    if(src == SQLITE_ROW) {
      const unsigned char *v = sqlite3_column_text(s, 0);
      if(v) {
        snprintf(buf, cap, "%s", (const char *)v);
        *found = true;
      }
      src = SQLITE_OK;
    }
    else if(src == SQLITE_DONE)
      src = SQLITE_OK;
  }
  if(src != SQLITE_OK) {
    enum mly_rc rc = db_fail(c, src, "cannot read metadata", err);
    sqlite3_reset(s);
    return rc;
  }
  sqlite3_reset(s);
  return MLY_OK;
}

static enum mly_rc meta_put(struct cache *c, const char *name, const char *value,
                            struct mly_err *err)
{
  sqlite3_stmt *s = c->st[S_META_PUT];
  int src = sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
  if(src == SQLITE_OK)
    src = sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
  if(src == SQLITE_OK)
    src = run_stmt(c, S_META_PUT);
  else
    sqlite3_reset(s);
  if(src != SQLITE_OK)
    return db_fail(c, src, "cannot write metadata", err);
  return MLY_OK;
}

/* An integer metadata value; *found false when absent or not an integer */
static enum mly_rc meta_get_int(struct cache *c, const char *name, int *v, bool *found,
                                struct mly_err *err)
{
  char buf[64], *end;
  enum mly_rc rc = meta_get(c, name, buf, sizeof(buf), found, err);
  if(rc || !*found)
    return rc;
  long l = strtol(buf, &end, 10);
  *found = end != buf && *end == '\0' && l >= 0 && l <= CACHE_MAX_ZOOM;
  *v = (int)l;
  return MLY_OK;
}

/* The bounds "w,s,e,n"; *found false when absent or unparsable */
static enum mly_rc meta_get_bounds(struct cache *c, double b[4], bool *found, struct mly_err *err)
{
  char buf[256];
  enum mly_rc rc = meta_get(c, "bounds", buf, sizeof(buf), found, err);
  if(rc || !*found)
    return rc;
  const char *p = buf;
  for(int i = 0; i < 4; i++) {
    char *end;
    b[i] = strtod(p, &end);
    if(end == p || !isfinite(b[i]) || *end != (i < 3 ? ',' : '\0')) {
      *found = false;
      return MLY_OK;
    }
    p = end + 1;
  }
  return MLY_OK;
}

/* Shortest "%.Ng" that reads back as the same double, so bounds written and
 * read again never shrink */
static void fmt_double(char *buf, size_t cap, double v)
{
  for(int prec = 15; prec <= 17; prec++) {
    snprintf(buf, cap, "%.*g", prec, v);
    if(strtod(buf, NULL) == v)
      return;
  }
}

/* Rewrite center from the stored bounds and maxzoom (MBTiles 1.3:
 * "longitude,latitude,zoom"). No bounds yet: nothing to centre on. */
static enum mly_rc write_center(struct cache *c, struct mly_err *err)
{
  double b[4];
  bool found;
  int zoom = DEFAULT_CENTER_ZOOM;
  enum mly_rc rc = meta_get_bounds(c, b, &found, err);
  if(rc || !found)
    return rc;
  bool zfound;
  int z;
  rc = meta_get_int(c, "maxzoom", &z, &zfound, err);
  if(rc)
    return rc;
  if(zfound)
    zoom = z;
  char lon[32], lat[32], buf[128];
  fmt_double(lon, sizeof(lon), (b[0] + b[2]) / 2);
  fmt_double(lat, sizeof(lat), (b[1] + b[3]) / 2);
  snprintf(buf, sizeof(buf), "%s,%s,%d", lon, lat, zoom);
  return meta_put(c, "center", buf, err);
}

/* Inside a write transaction: widen metadata minzoom/maxzoom to cover
 * [lo, hi]; newlo and newhi (OUT) get the resulting range */
static enum mly_rc widen_zoom(struct cache *c, int lo, int hi, int *newlo, int *newhi,
                              struct mly_err *err)
{
  int mn, mx;
  bool fmn, fmx;
  enum mly_rc rc = meta_get_int(c, "minzoom", &mn, &fmn, err);
  if(!rc)
    rc = meta_get_int(c, "maxzoom", &mx, &fmx, err);
  if(rc)
    return rc;
  int nmn = fmn && mn < lo ? mn : lo;
  int nmx = fmx && mx > hi ? mx : hi;
  char buf[16];
  if(!fmn || nmn != mn) {
    snprintf(buf, sizeof(buf), "%d", nmn);
    rc = meta_put(c, "minzoom", buf, err);
  }
  if(!rc && (!fmx || nmx != mx)) {
    snprintf(buf, sizeof(buf), "%d", nmx);
    rc = meta_put(c, "maxzoom", buf, err);
    if(!rc)
      rc = write_center(c, err); /* center's zoom follows maxzoom */
  }
  *newlo = nmn;
  *newhi = nmx;
  return rc;
}

/* ---- gzip ---- */

static enum mly_rc gzip_compress(const uint8_t *src, size_t n, uint8_t **out, size_t *outn,
                                 struct mly_err *err)
{
  z_stream zs;
  memset(&zs, 0, sizeof(zs));
  /* windowBits 15 + 16: a gzip header and trailer instead of zlib's */
  if(deflateInit2(&zs, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return mly_err_set(err, MLY_ENOMEM, "cannot start gzip compression");
  uLong bound = deflateBound(&zs, (uLong)n);
  uint8_t *buf = malloc(bound);
  if(!buf) {
    deflateEnd(&zs);
    return mly_err_set(err, MLY_ENOMEM, "out of memory compressing a %zu byte tile", n);
  }
  zs.next_in = (Bytef *)src;
  zs.avail_in = (uInt)n;
  zs.next_out = buf;
  zs.avail_out = (uInt)bound;
  /* deflateBound leaves room for everything, so one call finishes */
  int zrc = deflate(&zs, Z_FINISH);
  size_t got = zs.total_out;
  deflateEnd(&zs);
  if(zrc != Z_STREAM_END) {
    free(buf);
    return mly_err_set(err, MLY_ENOMEM, "gzip compression failed (%d)", zrc);
  }
  *out = buf;
  *outn = got;
  return MLY_OK;
}

/* Inflate a stored body (gzip; zlib also accepted) into a malloc'd buffer
 * of at most CACHE_MAX_TILE_BYTES. A damaged or oversized body sets *bad
 * and returns MLY_OK; only running out of memory is an error. */
static enum mly_rc gunzip(const uint8_t *src, size_t n, uint8_t **out, size_t *outn, bool *bad)
{
  *out = NULL;
  *outn = 0;
  *bad = false;
  if(n == 0 || n > UINT_MAX) {
    *bad = true;
    return MLY_OK;
  }
  /* the gzip trailer holds the length mod 2^32: a good first guess */
  size_t cap = 64 << 10;
  if(n >= 18 && src[0] == 0x1f && src[1] == 0x8b) {
    uint32_t isize = (uint32_t)src[n - 4] | (uint32_t)src[n - 3] << 8 |
                     (uint32_t)src[n - 2] << 16 | (uint32_t)src[n - 1] << 24;
    cap = isize < CACHE_MAX_TILE_BYTES ? (size_t)isize + 1 : CACHE_MAX_TILE_BYTES + 1;
  }
  z_stream zs;
  memset(&zs, 0, sizeof(zs));
  if(inflateInit2(&zs, 15 + 32) != Z_OK) /* + 32: detect gzip or zlib */
    return MLY_ENOMEM;
  uint8_t *buf = malloc(cap);
  if(!buf) {
    inflateEnd(&zs);
    return MLY_ENOMEM;
  }
  zs.next_in = (Bytef *)src;
  zs.avail_in = (uInt)n;
  zs.next_out = buf;
  zs.avail_out = (uInt)cap;
  enum mly_rc rc = MLY_OK;
  for(;;) {
    int zrc = inflate(&zs, Z_NO_FLUSH);
    if(zrc == Z_STREAM_END) {
      /* trailing bytes after the stream mean a damaged row */
      if(zs.avail_in != 0 || zs.total_out > CACHE_MAX_TILE_BYTES)
        *bad = true;
      break;
    }
    if(zrc == Z_MEM_ERROR) {
      rc = MLY_ENOMEM;
      break;
    }
    if(zrc != Z_OK && zrc != Z_BUF_ERROR) {
      *bad = true;
      break;
    }
    if(zs.avail_out == 0) {
      /* one byte past the cap is allowed in, to detect going over it */
      if(cap > CACHE_MAX_TILE_BYTES) {
        *bad = true;
        break;
      }
      size_t ncap = cap * 2 > CACHE_MAX_TILE_BYTES ? CACHE_MAX_TILE_BYTES + 1 : cap * 2;
      uint8_t *nb = realloc(buf, ncap);
      if(!nb) {
        rc = MLY_ENOMEM;
        break;
      }
      buf = nb;
      zs.next_out = buf + cap;
      zs.avail_out = (uInt)(ncap - cap);
      cap = ncap;
    }
    else if(zs.avail_in == 0) {
      *bad = true; /* input ended before the stream did: truncated */
      break;
    }
  }
  size_t got = zs.total_out;
  inflateEnd(&zs);
  if(rc || *bad) {
    free(buf);
    return rc;
  }
  *out = buf;
  *outn = got;
  return MLY_OK;
}

/* ---- open / close ---- */

/* Run a bit of SQL that returns at most one integer; format errors (not a
 * database, corrupt) become MLY_EFORMAT */
static enum mly_rc query_int(struct cache *c, const char *sql, int64_t *v, const char *what,
                             struct mly_err *err)
{
  sqlite3_stmt *s = NULL;
  int src = sqlite3_prepare_v2(c->db, sql, -1, &s, NULL);
  *v = 0;
  if(src == SQLITE_OK) {
    src = sqlite3_step(s);
    if(src == SQLITE_ROW) {
      *v = sqlite3_column_int64(s, 0);
      src = SQLITE_OK;
    }
    else if(src == SQLITE_DONE)
      src = SQLITE_OK;
  }
  enum mly_rc rc = MLY_OK;
  if(src != SQLITE_OK) {
    if(is_format_error(src))
      rc = mly_err_set(err, MLY_EFORMAT, "%s is not a tile cache: %s", c->path,
                       sqlite3_errmsg(c->db));
    else
      rc = db_fail(c, src, what, err);
  }
  sqlite3_finalize(s);
  return rc;
}

static enum mly_rc exec_sql(struct cache *c, const char *sql, const char *what,
                            struct mly_err *err)
{
  int src = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
  return src == SQLITE_OK ? MLY_OK : db_fail(c, src, what, err);
}

/* Create the schema unless someone (maybe a concurrent opener) did */
static enum mly_rc create_schema(struct cache *c, struct mly_err *err)
{
  int64_t ntables;
  enum mly_rc rc = exec_sql(c, "BEGIN IMMEDIATE", "cannot create the cache schema", err);
  if(rc)
    return rc;
  rc = query_int(c, "SELECT count(*) FROM sqlite_master", &ntables,
                 "cannot create the cache schema", err);
  if(!rc && ntables == 0)
    rc = exec_sql(c, schema_sql, "cannot create the cache schema", err);
  if(!rc)
    rc = exec_sql(c, "COMMIT", "cannot create the cache schema", err);
  if(rc && !sqlite3_get_autocommit(c->db))
    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

/* Make sure the file holds our schema: tables and columns (by preparing a
 * query on each), schema version, tile format */
static enum mly_rc check_schema(struct cache *c, struct mly_err *err)
{
  static const char *const probes[] = {
    "SELECT name, value FROM metadata LIMIT 0",
    "SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles LIMIT 0",
    "SELECT zoom_level, tile_column, tile_row, fetched_at, empty FROM mly_fetched LIMIT 0",
  };
  for(size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
    sqlite3_stmt *s = NULL;
    int src = sqlite3_prepare_v2(c->db, probes[i], -1, &s, NULL);
    sqlite3_finalize(s);
    if(src == SQLITE_ERROR)
      return mly_err_set(err, MLY_EFORMAT, "%s is not a mapillary tile cache: %s", c->path,
                         sqlite3_errmsg(c->db));
    if(src != SQLITE_OK)
      return is_format_error(src)
                 ? mly_err_set(err, MLY_EFORMAT, "%s is not a tile cache: %s", c->path,
                               sqlite3_errmsg(c->db))
                 : db_fail(c, src, "cannot read the cache schema", err);
  }
  int64_t version;
  enum mly_rc rc = query_int(c, "PRAGMA user_version", &version,
                             "cannot read the cache schema", err);
  if(rc)
    return rc;
  if(version != SCHEMA_VERSION)
    return mly_err_set(err, MLY_EFORMAT,
                       "%s has cache schema version %lld, this program reads version %d",
                       c->path, (long long)version, SCHEMA_VERSION);
  return MLY_OK;
}

static enum mly_rc check_format(struct cache *c, struct mly_err *err)
{
  char fmt[64];
  bool found;
  enum mly_rc rc = meta_get(c, "format", fmt, sizeof(fmt), &found, err);
  if(rc)
    return rc;
  if(!found || strcmp(fmt, "pbf") != 0)
    return mly_err_set(err, MLY_EFORMAT, "%s holds tiles of format '%s', not pbf", c->path,
                       found ? fmt : "");
  return MLY_OK;
}

/* Per-connection settings: see cache.h for why WAL and NORMAL */
static enum mly_rc set_pragmas(struct cache *c, struct mly_err *err)
{
  sqlite3_stmt *s = NULL;
  int src = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
  bool wal = false;
  if(src == SQLITE_OK && (src = sqlite3_step(s)) == SQLITE_ROW) {
    const unsigned char *mode = sqlite3_column_text(s, 0);
    wal = mode && strcmp((const char *)mode, "wal") == 0;
    src = SQLITE_OK;
  }
  enum mly_rc rc = MLY_OK;
  if(src != SQLITE_OK && src != SQLITE_DONE)
    rc = db_fail(c, src, "cannot set WAL journal mode", err);
  else if(!wal)
    rc = mly_err_set(err, MLY_EINVAL, "cannot set WAL journal mode in %s (not a local filesystem?)",
                     c->path);
  sqlite3_finalize(s);
  if(rc)
    return rc;
  /* keep the WAL file from staying huge after a checkpoint */
  return exec_sql(c, "PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = 67108864",
                  "cannot set durability pragmas", err);
}

static enum mly_rc prepare_all(struct cache *c, struct mly_err *err)
{
  for(int i = 0; i < S_COUNT; i++) {
    int src = sqlite3_prepare_v3(c->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &c->st[i],
                                 NULL);
    if(src != SQLITE_OK)
      return db_fail(c, src, "cannot prepare cache statements", err);
  }
  return MLY_OK;
}

static enum mly_rc open_common(const char *path, bool readonly, struct cache **out,
                               struct mly_err *err)
{
  *out = NULL;
  if(!path || !*path)
    return mly_err_set(err, MLY_EINVAL, "empty cache path");
  struct cache *c = calloc(1, sizeof(*c));
  if(!c || !(c->path = strdup(path))) {
    free(c);
    return mly_err_set(err, MLY_ENOMEM, "out of memory opening cache %s", path);
  }
  c->readonly = readonly;
  /* a cache this open creates is removed again if the open fails */
  bool created = !readonly && access(path, F_OK) != 0;
  enum mly_rc rc;
  int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  int src = sqlite3_open_v2(path, &c->db, flags, NULL);
  if(src != SQLITE_OK) {
    rc = c->db ? mly_err_set(err, rc_of_sqlite(src), "cannot open cache %s: %s", path,
                             sqlite3_errmsg(c->db))
               : mly_err_set(err, MLY_ENOMEM, "out of memory opening cache %s", path);
    goto out;
  }
  sqlite3_extended_result_codes(c->db, 1);
  sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);

  /* The first read of the schema is where a file that is not SQLite shows;
   * check before any pragma writes to it, so such a file stays untouched */
  int64_t ntables;
  rc = query_int(c, "SELECT count(*) FROM sqlite_master", &ntables, "cannot read the cache", err);
  if(rc)
    goto out;
  if(ntables == 0 && readonly) {
    rc = mly_err_set(err, MLY_EFORMAT, "%s is not a tile cache: empty database", path);
    goto out;
  }
  if(ntables != 0) {
    /* a foreign database must not be switched to WAL */
    rc = check_schema(c, err);
    if(rc)
      goto out;
  }
  if(!readonly) {
    rc = set_pragmas(c, err);
    if(!rc && ntables == 0)
      rc = create_schema(c, err);
    if(!rc && ntables == 0)
      rc = check_schema(c, err);
    if(rc)
      goto out;
  }
  rc = prepare_all(c, err);
  if(!rc)
    rc = check_format(c, err);
  if(!rc) {
    bool fmn = false, fmx = false;
    rc = meta_get_int(c, "minzoom", &c->minzoom, &fmn, err);
    if(!rc)
      rc = meta_get_int(c, "maxzoom", &c->maxzoom, &fmx, err);
    c->have_zoom = !rc && fmn && fmx;
  }
out:
  if(rc) {
    cache_close(&c);
    if(created && path[0]) {
      const char *ext[] = {"", "-wal", "-shm", "-journal"};
      size_t n = strlen(path) + 16;
      char *name = malloc(n);
      for(size_t i = 0; name && i < sizeof(ext) / sizeof(ext[0]); i++) {
        snprintf(name, n, "%s%s", path, ext[i]);
        (void)unlink(name);
      }
      free(name);
    }
    return rc;
  }
  *out = c;
  return MLY_OK;
}

enum mly_rc cache_open(const char *path, struct cache **out, struct mly_err *err)
{
  return open_common(path, false, out, err);
}

enum mly_rc cache_open_readonly(const char *path, struct cache **out, struct mly_err *err)
{
  return open_common(path, true, out, err);
}

void cache_close(struct cache **cp)
{
  if(!cp || !*cp)
    return;
  struct cache *c = *cp;
  for(int i = 0; i < S_COUNT; i++)
    sqlite3_finalize(c->st[i]);
  /* the last connection to close checkpoints the WAL into the file */
  sqlite3_close(c->db);
  free(c->path);
  free(c);
  *cp = NULL;
}

/* ---- get / put ---- */

enum mly_rc cache_get(struct cache *c, struct tile t, int64_t max_age_s, enum cache_state *st,
                      uint8_t **body, size_t *n, struct mly_err *err)
{
  int64_t row = 0;
  *st = CACHE_MISSING;
  *body = NULL;
  *n = 0;
  enum mly_rc rc = tile_key(c, t, &row, err);
  if(rc)
    return rc;
  sqlite3_stmt *s = c->st[S_GET];
  int src = bind_key(s, t.z, t.x, row);
  if(src == SQLITE_OK)
    src = sqlite3_step(s);
  if(src == SQLITE_ROW) {
    src = SQLITE_OK;
    int64_t fetched_at = sqlite3_column_int64(s, 0);
    bool empty = sqlite3_column_int(s, 1) != 0;
    if(!is_fresh(fetched_at, max_age_s, (int64_t)time(NULL)))
      ; /* expired: missing */
    else if(empty)
      *st = CACHE_EMPTY;
    else if(sqlite3_column_type(s, 2) == SQLITE_BLOB) {
      /* the blob lives until the reset below: inflate it now */
      const uint8_t *blob = sqlite3_column_blob(s, 2);
      size_t blen = (size_t)sqlite3_column_bytes(s, 2);
      bool bad;
      rc = gunzip(blob, blen, body, n, &bad);
      if(rc)
        mly_err_set(err, rc, "out of memory reading tile %u/%u/%u from %s", t.z, t.x, t.y,
                    c->path);
      else if(!bad)
        *st = *n ? CACHE_DATA : CACHE_EMPTY;
      if(*st != CACHE_DATA) {
        free(*body);
        *body = NULL;
        *n = 0;
      }
    }
    /* else: logged as data but the row is gone: missing, fetch again */
  }
  else if(src == SQLITE_DONE)
    src = SQLITE_OK;
  if(src != SQLITE_OK) {
    char what[96];
    snprintf(what, sizeof(what), "cannot read tile %u/%u/%u", t.z, t.x, t.y);
    rc = db_fail(c, src, what, err);
  }
  sqlite3_reset(s);
  return rc;
}

/* Inside the write transaction: the tile row (or its removal) and its log
 * entry together */
static int put_rows(struct cache *c, struct tile t, int64_t row, const uint8_t *gz, size_t gzn,
                    int64_t now)
{
  sqlite3_stmt *s = c->st[gzn ? S_PUT_TILE : S_DEL_TILE];
  int src = bind_key(s, t.z, t.x, row);
  if(src == SQLITE_OK && gzn)
    src = sqlite3_bind_blob64(s, 4, gz, gzn, SQLITE_STATIC);
  if(src == SQLITE_OK)
    src = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(c->db);
  sqlite3_clear_bindings(s); /* drop the pointer to gz, freed by the caller */
  sqlite3_reset(s);
  if(src != SQLITE_OK)
    return src;
  s = c->st[S_PUT_FETCHED];
  src = bind_key(s, t.z, t.x, row);
  if(src == SQLITE_OK)
    src = sqlite3_bind_int64(s, 4, now);
  if(src == SQLITE_OK)
    src = sqlite3_bind_int(s, 5, gzn ? 0 : 1);
  if(src == SQLITE_OK)
    src = run_stmt(c, S_PUT_FETCHED);
  else
    sqlite3_reset(s);
  return src;
}

enum mly_rc cache_put(struct cache *c, struct tile t, const uint8_t *body, size_t n,
                      struct mly_err *err)
{
  int64_t row = 0;
  char what[96];
  if(c->readonly)
    return mly_err_set(err, MLY_EINVAL, "cache %s is open read-only", c->path);
  enum mly_rc rc = tile_key(c, t, &row, err);
  if(rc)
    return rc;
  if(n > CACHE_MAX_TILE_BYTES)
    return mly_err_set(err, MLY_ETOOBIG, "tile %u/%u/%u: %zu bytes is over the cache's limit",
                       t.z, t.x, t.y, n);
  if(n && !body)
    return mly_err_set(err, MLY_EINVAL, "tile %u/%u/%u: no body", t.z, t.x, t.y);
  snprintf(what, sizeof(what), "cannot store tile %u/%u/%u", t.z, t.x, t.y);

  /* compress before taking the write lock, to hold it briefly */
  uint8_t *gz = NULL;
  size_t gzn = 0;
  if(n) {
    rc = gzip_compress(body, n, &gz, &gzn, err);
    if(rc)
      return rc;
  }
  int newlo = c->minzoom, newhi = c->maxzoom;
  bool widen = n && (!c->have_zoom || (int)t.z < c->minzoom || (int)t.z > c->maxzoom);
  int src = run_stmt(c, S_BEGIN_WRITE);
  if(src == SQLITE_OK)
    src = put_rows(c, t, row, gz, gzn, (int64_t)time(NULL));
  if(src != SQLITE_OK) {
    rc = db_fail(c, src, what, err);
    goto out;
  }
  if(widen) {
    rc = widen_zoom(c, (int)t.z, (int)t.z, &newlo, &newhi, err);
    if(rc)
      goto out;
  }
  /* the commit returns once the WAL holds the tile (synchronous=NORMAL) */
  src = run_stmt(c, S_COMMIT);
  if(src != SQLITE_OK) {
    rc = db_fail(c, src, what, err);
    goto out;
  }
  if(widen) {
    c->have_zoom = true;
    c->minzoom = newlo;
    c->maxzoom = newhi;
  }
out:
  if(rc)
    rollback(c);
  free(gz);
  return rc;
}

enum mly_rc cache_count_fresh(struct cache *c, const struct tile *tiles, size_t n,
                              int64_t max_age_s, size_t *fresh, struct mly_err *err)
{
  enum mly_rc rc = MLY_OK;
  size_t count = 0;
  *fresh = 0;
  if(n == 0)
    return MLY_OK;
  int64_t now = (int64_t)time(NULL);
  sqlite3_stmt *s = c->st[S_FRESH];
  int src = run_stmt(c, S_BEGIN_READ);
  for(size_t i = 0; src == SQLITE_OK && i < n; i++) {
    int64_t row = 0;
    rc = tile_key(c, tiles[i], &row, err);
    if(rc)
      break;
    src = bind_key(s, tiles[i].z, tiles[i].x, row);
    if(src == SQLITE_OK)
      src = sqlite3_step(s);
    if(src == SQLITE_ROW) {
      bool empty = sqlite3_column_int(s, 1) != 0, has_row = sqlite3_column_int(s, 2) != 0;
      if(is_fresh(sqlite3_column_int64(s, 0), max_age_s, now) && (empty || has_row))
        count++;
      src = SQLITE_OK;
    }
    else if(src == SQLITE_DONE)
      src = SQLITE_OK;
    sqlite3_reset(s);
  }
  if(!rc && src == SQLITE_OK)
    src = run_stmt(c, S_COMMIT);
  if(!rc && src != SQLITE_OK)
    rc = db_fail(c, src, "cannot count cached tiles", err);
  if(rc)
    rollback(c);
  else
    *fresh = count;
  return rc;
}

/* ---- bounds ---- */

/* Inside a write transaction: union of the stored bounds and b */
static enum mly_rc widen_bounds(struct cache *c, const double b[4], struct mly_err *err)
{
  double cur[4];
  bool found;
  enum mly_rc rc = meta_get_bounds(c, cur, &found, err);
  if(rc)
    return rc;
  double nb[4] = {b[0], b[1], b[2], b[3]};
  if(found) {
    nb[0] = fmin(nb[0], cur[0]);
    nb[1] = fmin(nb[1], cur[1]);
    nb[2] = fmax(nb[2], cur[2]);
    nb[3] = fmax(nb[3], cur[3]);
  }
  char v[4][32], buf[160];
  for(int i = 0; i < 4; i++)
    fmt_double(v[i], sizeof(v[i]), nb[i]);
  snprintf(buf, sizeof(buf), "%s,%s,%s,%s", v[0], v[1], v[2], v[3]);
  rc = meta_put(c, "bounds", buf, err);
  if(!rc)
    rc = write_center(c, err);
  return rc;
}

enum mly_rc cache_note_bounds(struct cache *c, double w, double s, double e, double n,
                              struct mly_err *err)
{
  if(c->readonly)
    return mly_err_set(err, MLY_EINVAL, "cache %s is open read-only", c->path);
  if(!isfinite(w) || !isfinite(s) || !isfinite(e) || !isfinite(n) || w < -180 || e > 180 ||
     w > e || s < -90 || n > 90 || s > n)
    return mly_err_set(err, MLY_EINVAL, "invalid bounds %g,%g,%g,%g for cache %s", w, s, e, n,
                       c->path);
  const double b[4] = {w, s, e, n};
  int src = run_stmt(c, S_BEGIN_WRITE);
  if(src != SQLITE_OK)
    return db_fail(c, src, "cannot write bounds", err);
  enum mly_rc rc = widen_bounds(c, b, err);
  if(!rc && (src = run_stmt(c, S_COMMIT)) != SQLITE_OK)
    rc = db_fail(c, src, "cannot write bounds", err);
  if(rc)
    rollback(c);
  return rc;
}

/* ---- merge ---- */

/* The src log rows that win over ours: absent here or strictly newer, and
 * consistent in src (a data row needs its tile) */
#define MERGE_NEWER                                                                       \
  "SELECT s.zoom_level, s.tile_column, s.tile_row, s.fetched_at, s.empty"                 \
  " FROM mly_src.mly_fetched AS s LEFT JOIN main.mly_fetched AS d"                        \
  " ON d.zoom_level = s.zoom_level AND d.tile_column = s.tile_column"                     \
  " AND d.tile_row = s.tile_row"                                                          \
  " WHERE (d.fetched_at IS NULL OR s.fetched_at > d.fetched_at)"                          \
  " AND (s.empty <> 0 OR EXISTS (SELECT 1 FROM mly_src.tiles AS t"                        \
  " WHERE t.zoom_level = s.zoom_level AND t.tile_column = s.tile_column"                  \
  " AND t.tile_row = s.tile_row))"

/* Inside the write transaction, with src attached as mly_src */
static enum mly_rc merge_rows(struct cache *c, size_t *copied, struct mly_err *err)
{
  static const char *const steps[] = {
    /* drop our rows that src replaces (a newer empty tile too) */
    "DELETE FROM main.tiles WHERE (zoom_level, tile_column, tile_row) IN"
    " (SELECT zoom_level, tile_column, tile_row FROM (" MERGE_NEWER "))",
    "INSERT OR REPLACE INTO main.tiles (zoom_level, tile_column, tile_row, tile_data)"
    " SELECT t.zoom_level, t.tile_column, t.tile_row, t.tile_data"
    " FROM (" MERGE_NEWER ") AS n JOIN mly_src.tiles AS t"
    " ON t.zoom_level = n.zoom_level AND t.tile_column = n.tile_column"
    " AND t.tile_row = n.tile_row WHERE n.empty = 0",
    /* last, as it changes what MERGE_NEWER selects */
    "INSERT OR REPLACE INTO main.mly_fetched"
    " (zoom_level, tile_column, tile_row, fetched_at, empty) " MERGE_NEWER,
  };
  for(size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
    enum mly_rc rc = exec_sql(c, steps[i], "cannot merge tiles", err);
    if(rc)
      return rc;
  }
  *copied = (size_t)sqlite3_changes(c->db);
  return MLY_OK;
}

/* Inside the write transaction: widen zoom range and bounds to cover what
 * the tiles table now holds and src's bounds */
static enum mly_rc merge_meta(struct cache *c, const double *src_bounds, int *newlo, int *newhi,
                              bool *have_zoom, struct mly_err *err)
{
  int64_t lo, hi, any;
  enum mly_rc rc = query_int(c, "SELECT count(*) FROM (SELECT 1 FROM main.tiles LIMIT 1)", &any,
                             "cannot merge metadata", err);
  *have_zoom = false;
  if(!rc && any) {
    rc = query_int(c, "SELECT min(zoom_level) FROM main.tiles", &lo, "cannot merge metadata",
                   err);
    if(!rc)
      rc = query_int(c, "SELECT max(zoom_level) FROM main.tiles", &hi, "cannot merge metadata",
                     err);
    if(!rc && lo >= 0 && hi <= CACHE_MAX_ZOOM) {
      rc = widen_zoom(c, (int)lo, (int)hi, newlo, newhi, err);
      *have_zoom = !rc;
    }
  }
  if(!rc && src_bounds)
    rc = widen_bounds(c, src_bounds, err);
  return rc;
}

/* Same file as ours? Then there is nothing to merge (and attaching it would
 * fight our own locks) */
static bool same_file(const char *a, const char *b)
{
  char *ra = realpath(a, NULL), *rb = realpath(b, NULL);
  bool same = ra && rb && strcmp(ra, rb) == 0;
  free(ra);
  free(rb);
  return same;
}

enum mly_rc cache_merge_from(struct cache *c, const char *src_path, size_t *copied,
                             struct mly_err *err)
{
  size_t count = 0;
  if(copied)
    *copied = 0;
  if(c->readonly)
    return mly_err_set(err, MLY_EINVAL, "cache %s is open read-only", c->path);
  /* check src like any cache, and read its bounds, before attaching it */
  struct cache *src_cache;
  enum mly_rc rc = cache_open_readonly(src_path, &src_cache, err);
  if(rc)
    return rc;
  double sb[4];
  bool have_sb;
  rc = meta_get_bounds(src_cache, sb, &have_sb, err);
  cache_close(&src_cache);
  if(rc || same_file(src_path, c->path))
    return rc;

  sqlite3_stmt *att = NULL;
  int src = sqlite3_prepare_v2(c->db, "ATTACH DATABASE ?1 AS mly_src", -1, &att, NULL);
  if(src == SQLITE_OK)
    src = sqlite3_bind_text(att, 1, src_path, -1, SQLITE_STATIC);
  if(src == SQLITE_OK)
    src = sqlite3_step(att) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(c->db);
  sqlite3_finalize(att);
  if(src != SQLITE_OK)
    return mly_err_set(err, rc_of_sqlite(src), "cannot attach %s to %s: %s", src_path, c->path,
                       sqlite3_errmsg(c->db));

  int newlo = c->minzoom, newhi = c->maxzoom;
  bool have_zoom = false;
  src = run_stmt(c, S_BEGIN_WRITE);
  if(src != SQLITE_OK)
    rc = db_fail(c, src, "cannot merge tiles", err);
  if(!rc)
    rc = merge_rows(c, &count, err);
  if(!rc)
    rc = merge_meta(c, have_sb ? sb : NULL, &newlo, &newhi, &have_zoom, err);
  if(!rc && (src = run_stmt(c, S_COMMIT)) != SQLITE_OK)
    rc = db_fail(c, src, "cannot merge tiles", err);
  if(rc)
    rollback(c);
  else if(have_zoom) {
    c->have_zoom = true;
    c->minzoom = newlo;
    c->maxzoom = newhi;
  }
  sqlite3_exec(c->db, "DETACH DATABASE mly_src", NULL, NULL, NULL);
  if(!rc && copied)
    *copied = count;
  return rc;
}
