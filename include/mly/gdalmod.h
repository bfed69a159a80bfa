/* gdalmod.h -- the GDAL-backed formats, in a module loaded only when asked for
 *
 * GeoPackage (.gpkg) and FlatGeobuf (.fgb) are written through GDAL's C
 * API, PostGIS ("PG:<libpq conninfo>") through libpq's COPY (pgload.c says
 * why). GDAL brings ~150 shared libraries and
 * ~90 ms of start-up, which runs that write GeoJSON or CSV must not pay, so
 * the code that calls GDAL lives in a separate shared module,
 * libmly_gdal.so, which the binary does not link: gdalmod_load() dlopen()s
 * it the first time a GDAL format is opened. It is looked for, in order:
 *   - $MLY_GDAL_MODULE (a path to the module), when set;
 *   - beside the running binary (/proc/self/exe's folder: the build tree);
 *   - <binary folder>/../lib/mapillary/libmly_gdal.so (the installed tree).
 *
 * How a GDAL output is written (outfile.c drives it; see outfile.h):
 *   - the features are spooled, as the GeoJSONL Feature text every format
 *     gets, to a temporary file beside the target (PostGIS: in $TMPDIR,
 *     unlinked at once);
 *   - at close, the module reads the spool twice: first the schema (the
 *     kind's known properties in their order, then every pass-through
 *     property in order of first appearance, with one type each), then the
 *     features, written with typed fields (strings, 64-bit integers, reals,
 *     booleans as OFSTBoolean, objects and arrays as JSON strings) and a
 *     spatial index, into a second temporary file (FlatGeobuf must know
 *     its fields before its first feature, hence two passes);
 *   - publish renames that file into place, as for every format.
 * PostGIS: the close loads the features into a new table
 * "<table>__mly_new" inside one transaction that publish ends by dropping
 * the old table, renaming the new one and committing; abort (or a killed
 * run, whose connection drops) rolls it all back, so the old table stays
 * as it was until the commit.
 *
 * The module is built from src/gdal/ with the same headers; the binary and
 * the module agree on GDALMOD_ABI. */
#ifndef MLY_GDALMOD_H
#define MLY_GDALMOD_H

#include <jansson.h>
#include "mly/common.h"

#define GDALMOD_ABI 1
#define GDALMOD_FILE "libmly_gdal.so"
#define GDALMOD_SYMBOL "mly_gdalmod"

/* What a file holds, as outfile_kind (outfile.h): the known columns */
enum gdalmod_kind { GDALMOD_POINTS = 0, GDALMOD_SEQUENCES = 1, GDALMOD_FEATURES = 2 };

/* The GDAL formats */
enum gdalmod_fmt { GDALMOD_GPKG = 0, GDALMOD_FGB, GDALMOD_PG };

/* A PostGIS load between close and publish (opaque) */
struct gdalmod_pg;

struct gdalmod {
  int abi; /* GDALMOD_ABI */
  /* The GDAL version, for messages and --version ("3.6.2") */
  const char *(*version)(void);
  /* Write the GeoJSONL features of spool_fd (read from offset 0; the fd is
   * not closed) as a GPKG or FGB file at path, which must not exist; the
   * layer is named layer. The file is synced, and *lock_fd is a descriptor
   * of it holding an flock (outfile.h: the mark of a live run's temp
   * file), taken as soon as the file exists. On failure nothing is left at
   * path. */
  enum mly_rc (*write_file)(int spool_fd, enum gdalmod_fmt fmt, const char *path,
                            const char *layer, enum gdalmod_kind kind, int *lock_fd,
                            struct mly_err *err);
  /* Check that conninfo reaches a PostGIS database where table can be
   * created (before any request of the run) */
  enum mly_rc (*pg_check)(const char *conninfo, const char *table, struct mly_err *err);
  /* Open a transaction, create "<table>__mly_new" and load the features
   * of spool_fd into it. *out is the open load for pg_publish/pg_abort. */
  enum mly_rc (*pg_load)(int spool_fd, const char *conninfo, const char *table,
                         enum gdalmod_kind kind, struct gdalmod_pg **out, struct mly_err *err);
  /* In that transaction: drop the old table (not CASCADE: a view on it
   * makes this fail and leaves it), rename the new one (and its index,
   * key and sequence), commit. Frees pg either way. */
  enum mly_rc (*pg_publish)(struct gdalmod_pg *pg, struct mly_err *err);
  /* Roll back and free. NULL is a no-op. */
  void (*pg_abort)(struct gdalmod_pg *pg);
  /* Read a GPKG or FGB file's first layer: open, then one feature at a
   * time as GeoJSON-like jansson values (properties object; geometry
   * object or NULL), owned by the caller. */
  enum mly_rc (*read_open)(const char *path, void **out, struct mly_err *err);
  enum mly_rc (*read_next)(void *r, json_t **properties, json_t **geometry, bool *got,
                           struct mly_err *err);
  void (*read_close)(void *r);
};

/* The module's table, loaded on first use (later calls return the same).
 * MLY_EINVAL with a message saying what is missing when it cannot be
 * loaded (not built: libgdal-dev absent; not found; another ABI). */
const struct gdalmod *gdalmod_load(struct mly_err *err);

/* The module's entry point (in libmly_gdal.so) */
typedef const struct gdalmod *(*gdalmod_entry_fn)(void);

#endif
