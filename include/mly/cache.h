/* cache.h -- resumable tile cache in an MBTiles 1.3 file (SQLite) that GDAL and QGIS open
 *
 * Layout of the file (schema version 1, PRAGMA user_version = 1,
 * application_id 0x4d504258 "MPBX" as MBTiles 1.3 suggests):
 *
 *   metadata(name TEXT, value TEXT)   unique index on name. Rows: name,
 *       format=pbf, type=overlay, version, description, attribution, json
 *       (vector_layers "image" and "sequence" with their fields), and, once
 *       known, minzoom/maxzoom (zoom range of the rows in `tiles`), bounds
 *       ("west,south,east,north", widened by cache_note_bounds) and center
 *       ("lon,lat,zoom").
 *   tiles(zoom_level, tile_column, tile_row, tile_data)   unique index
 *       tile_index on (zoom_level, tile_column, tile_row). tile_row is TMS
 *       (y up): tile_row = 2^z - 1 - y for our XYZ y. tile_data is the MVT
 *       body gzip-compressed (the MBTiles convention for pbf). Only tiles
 *       with data live here: an empty blob would make readers such as GDAL
 *       fail.
 *   mly_fetched(zoom_level, tile_column, tile_row, fetched_at, empty)
 *       our bookkeeping, primary key (zoom_level, tile_column, tile_row),
 *       same TMS tile_row. One row per tile ever fetched: fetched_at is the
 *       fetch time in Unix seconds, empty is 1 for a tile known to hold no
 *       data (it then has no row in `tiles`). A tile counts as cached only
 *       through this table, which is written in the same transaction as
 *       `tiles`, so the two never disagree after a crash.
 *
 * Durability: WAL journal (readers never block the writer nor each other,
 * so a --dry_run can read while a run writes) with synchronous=NORMAL: each
 * cache_put is its own transaction, committed to the WAL before it returns,
 * so a SIGKILL or a crash of the process loses no tile that was put, and the
 * file is never corrupt. A power cut may lose the last commits since the
 * previous checkpoint (those tiles are fetched again). FULL would fsync every
 * tile on the thread that drives all transfers: measured on this project's
 * shared disk, 0.2 to 3.4 ms per tile, 31 to 354 s for a 10^5-tile area that
 * takes 6 s without a cache (bench/country.py).
 * busy_timeout is 10 s, so concurrent writers (two runs on one cache) wait
 * for each other instead of failing at once. WAL needs a local filesystem.
 *
 * Errors: SQLite failures are MLY_EIO (MLY_ENOMEM when SQLite runs out of
 * memory) with a message naming the file. A handle is used by one thread at
 * a time. Nothing here ever sees the access token. */
#ifndef MLY_CACHE_H
#define MLY_CACHE_H

#include "mly/common.h"
#include "mly/tile.h"

struct cache;

/* Largest tile body cache_put accepts and cache_get decompresses: 256 MiB */
#define CACHE_MAX_TILE_BYTES ((size_t)256 << 20)
/* Largest zoom level accepted (tile_row must fit the 2^z arithmetic) */
#define CACHE_MAX_ZOOM 30

/* Open the cache at path, creating the file and its schema when the file
 * does not exist or is empty. Sets WAL mode and synchronous=NORMAL.
 * A file that is not SQLite, or an SQLite file without our schema (for
 * instance a foreign MBTiles file, a tileset of another format, or a newer
 * schema version): MLY_EFORMAT with a message saying why; such a file is
 * left unchanged. Other failures (no such directory, permissions): MLY_EIO.
 * On success *out (OUT) owns the handle; free it with cache_close. */
enum mly_rc cache_open(const char *path, struct cache **out, struct mly_err *err)
    MLY_WARN_UNUSED;

/* Open an existing cache read-only (nothing is created or changed, e.g. for
 * --dry_run): a missing file is MLY_EIO, a foreign one MLY_EFORMAT as above.
 * cache_put, cache_note_bounds and cache_merge_from on such a handle fail
 * with MLY_EINVAL. */
enum mly_rc cache_open_readonly(const char *path, struct cache **out, struct mly_err *err)
    MLY_WARN_UNUSED;

/* Close the handle and set *c to NULL; NULL or *c == NULL is a no-op.
 * Everything put is already durable, so closing can not lose data. */
void cache_close(struct cache **c);

enum cache_state {
  CACHE_MISSING = 0, /* never fetched, older than max_age, or unreadable */
  CACHE_EMPTY,       /* fetched and known to hold no data */
  CACHE_DATA         /* fetched with data: *body holds it */
};

/* Look tile t (XYZ scheme, y down) up. max_age_s < 0: no expiry; otherwise
 * a tile fetched more than max_age_s seconds ago counts as CACHE_MISSING
 * (one fetched in the future, after a clock change, counts as fresh).
 * On CACHE_DATA, *body (OUT) is a malloc'd copy of the raw, decompressed MVT
 * bytes, *n (OUT) its length; the caller frees it. Otherwise *body = NULL
 * and *n = 0 (a stored body that inflates to nothing reads as CACHE_EMPTY).
 * A stored body that fails to gunzip or exceeds
 * CACHE_MAX_TILE_BYTES is reported as CACHE_MISSING, so the tile is fetched
 * again and cache_put replaces the bad row (only tampering or disk damage
 * produces one; SQLite transactions never do). Invalid t: MLY_EINVAL. */
enum mly_rc cache_get(struct cache *c, struct tile t, int64_t max_age_s,
                      enum cache_state *st, uint8_t **body, size_t *n,
                      struct mly_err *err) MLY_WARN_UNUSED;

/* Store tile t as fetched now: body/n are the raw MVT bytes, n == 0 records
 * a known empty tile (body may then be NULL). Replaces any older entry,
 * data or empty. Runs its own transaction and is durable on return, so a
 * SIGKILL or power cut at any moment loses at most tiles not yet put.
 * Also widens metadata minzoom/maxzoom when a data tile lies outside them.
 * n > CACHE_MAX_TILE_BYTES: MLY_ETOOBIG; invalid t: MLY_EINVAL. */
enum mly_rc cache_put(struct cache *c, struct tile t, const uint8_t *body, size_t n,
                      struct mly_err *err) MLY_WARN_UNUSED;

/* Count how many of tiles[0..n) are present and fresh in the sense of
 * cache_get (CACHE_DATA or CACHE_EMPTY, without decompressing bodies), for
 * --dry_run and resume messages. A tile listed twice counts twice.
 * *fresh (OUT) is the count. One read transaction: a consistent snapshot. */
enum mly_rc cache_count_fresh(struct cache *c, const struct tile *tiles, size_t n,
                              int64_t max_age_s, size_t *fresh, struct mly_err *err)
    MLY_WARN_UNUSED;

/* Widen the metadata bounds (degrees: west, south, east, north) to include
 * this box, and rewrite center (middle of the bounds at maxzoom, or 14
 * before any data tile) to match. Needs finite values with
 * -180 <= w <= e <= 180 and -90 <= s <= n <= 90, else MLY_EINVAL. */
enum mly_rc cache_note_bounds(struct cache *c, double w, double s, double e, double n,
                              struct mly_err *err) MLY_WARN_UNUSED;

/* Copy every tile of the cache at src_path into c, for `merge_cache` of
 * sharded runs: a src tile is taken when c lacks it or holds an older fetch
 * (strictly smaller fetched_at); ties keep c's. Data and empty tiles alike,
 * compressed bodies copied as they are. Bounds and minzoom/maxzoom widen to
 * cover src's. One transaction: all or nothing. src_path is opened
 * read-only and checked like cache_open_readonly (MLY_EFORMAT, MLY_EIO).
 * *copied (OUT, may be NULL) is the number of tiles taken from src. */
enum mly_rc cache_merge_from(struct cache *c, const char *src_path, size_t *copied,
                             struct mly_err *err) MLY_WARN_UNUSED;

#endif
