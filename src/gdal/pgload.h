/* pgload.h -- PostGIS destinations through libpq's COPY (gdalmod.h's pg_*):
 * a new table "<table>__mly_new" created and loaded in a transaction that
 * pgload_publish ends by dropping the old table, renaming the new one (and
 * its key, sequence and index) and committing */
#ifndef MLY_GDAL_PGLOAD_H
#define MLY_GDAL_PGLOAD_H

#include "mly/gdalmod.h"

enum mly_rc pgload_check(const char *conninfo, const char *table, struct mly_err *err);
enum mly_rc pgload_load(int spool_fd, const char *conninfo, const char *table,
                        enum gdalmod_kind kind, struct gdalmod_pg **out, struct mly_err *err);
enum mly_rc pgload_publish(struct gdalmod_pg *pg, struct mly_err *err);
void pgload_abort(struct gdalmod_pg *pg);

#endif
