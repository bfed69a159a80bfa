/* featread_gdal.c -- GeoPackage and FlatGeobuf inputs: the first layer read
 * through the GDAL module (gdalmod.h), loaded only when such a file is read */
#include "featread_internal.h"
#include "mly/gdalmod.h"

#include <stdio.h>

static enum mly_rc gdal_open(struct featread *r, struct mly_err *err)
{
  const struct gdalmod *m = gdalmod_load(err);
  if(!m)
    return MLY_EINVAL;
  struct mly_err e = {0};
  if(m->read_open(r->path, &r->state, &e))
    return mly_err_set(err, e.rc == MLY_EIO ? MLY_EIO : MLY_EFORMAT, "'%s': %s", r->shown, e.msg);
  return MLY_OK;
}

static enum mly_rc gdal_next(struct featread *r, bool *got, struct mly_err *err)
{
  const struct gdalmod *m = gdalmod_load(err);
  if(!m)
    return MLY_EINVAL;
  json_t *props = NULL, *geom = NULL;
  struct mly_err e = {0};
  if(m->read_next(r->state, &props, &geom, got, &e))
    return mly_err_set(err, e.rc, "'%s': feature %llu: %s", r->shown,
                       (unsigned long long)r->index, e.msg);
  if(!*got)
    return MLY_OK;
  json_t *f = json_pack("{s:s, s:o, s:o}", "type", "Feature", "properties", props, "geometry",
                        geom ? geom : json_null());
  if(!f)
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  char where[32];
  snprintf(where, sizeof(where), "feature %llu", (unsigned long long)r->index);
  return mly__featread_accept(r, f, where, err);
}

static void gdal_close(struct featread *r)
{
  if(!r->state)
    return;
  const struct gdalmod *m = gdalmod_load(NULL);
  if(m)
    m->read_close(r->state);
  r->state = NULL;
}

static const char *const gpkg_exts[] = {".gpkg", NULL};
static const char *const fgb_exts[] = {".fgb", NULL};

const struct featread_backend mly__featread_gpkg = {"GeoPackage", gpkg_exts, true, gdal_open,
                                                    gdal_next, gdal_close};
const struct featread_backend mly__featread_fgb = {"FlatGeobuf", fgb_exts, true, gdal_open,
                                                   gdal_next, gdal_close};
