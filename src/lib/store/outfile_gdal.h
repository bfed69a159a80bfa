/* outfile_gdal.h -- outfile.c's hooks for the GDAL formats (GeoPackage,
 * FlatGeobuf, PostGIS): internal to outfile.c, see outfile.h and gdalmod.h */
#ifndef MLY_OUTFILE_GDAL_H
#define MLY_OUTFILE_GDAL_H

#include "mly/outfile.h"

/* At open, before the spool: load the module (and, for PostGIS, keep the
 * table and check the database), so neither fails after the first request */
enum mly_rc outfile_gdal_open(struct outfile *o, const char *table, struct mly_err *err)
    MLY_WARN_UNUSED;
/* At close, the spool complete: convert it into a second temporary file
 * beside the target, which becomes tmp_path (the spool is removed); for
 * PostGIS, load it into the new table (o->pg) */
enum mly_rc outfile_gdal_close(struct outfile *o, struct mly_err *err) MLY_WARN_UNUSED;
/* PostGIS publish: swap the tables and commit */
enum mly_rc outfile_gdal_publish(struct outfile *o, struct mly_err *err) MLY_WARN_UNUSED;
/* Roll back a load not published; free the table name */
void outfile_gdal_abort(struct outfile *o);

#endif
