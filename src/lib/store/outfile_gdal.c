/* outfile_gdal.c -- the GDAL formats behind outfile.h: a GeoJSONL spool
 * converted at close by the module gdalmod.h loads */
#include "outfile_gdal.h"
#include "mly/gdalmod.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum gdalmod_kind kind_of(const struct outfile *o)
{
  switch(o->kind) {
  case OUTFILE_SEQUENCES:
  case OUTFILE_REVIEW_SEQUENCES: return GDALMOD_SEQUENCES; /* the review columns follow */
  case OUTFILE_FEATURES: return GDALMOD_FEATURES;
  case OUTFILE_POINTS: break;
  }
  return GDALMOD_POINTS;
}

enum mly_rc outfile_gdal_open(struct outfile *o, const char *table, struct mly_err *err)
{
  const struct gdalmod *m = gdalmod_load(err);
  if(!m)
    return MLY_EINVAL;
  if(o->fmt != OUTFMT_PG)
    return MLY_OK;
  if(!table)
    table = o->kind == OUTFILE_SEQUENCES ? OUTFILE_PG_SEQUENCES_TABLE : OUTFILE_PG_POINTS_TABLE;
  if(!outfile_pg_table_ok(table))
    return mly_err_set(err, MLY_EINVAL,
                       "table name '%.60s' is not a plain name (letters, digits, '_', at most %d)",
                       table, OUTFILE_PG_TABLE_MAX);
  o->table = strdup(table);
  if(!o->table)
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  struct mly_err e = {0};
  if(m->pg_check(o->final_path + strlen(OUTFILE_PG_PREFIX), table, &e))
    return mly_err_set(err, MLY_EIO, "PostGIS destination for table '%s': %s", table, e.msg);
  return MLY_OK;
}

/* "<dir>/.<base>.mly-tmp-XXXXXX<ext>", created and removed again: a free
 * name in our pattern for GDAL to create (it refuses existing files) */
static char *converted_name(const struct outfile *o)
{
  char *d = strdup(o->final_path), *b = strdup(o->final_path);
  const char *ext = outfile_format_ext(o->fmt);
  size_t n = (d ? strlen(d) : 0) * 2 + strlen(ext) + 32;
  char *tmpl = d && b ? malloc(n) : NULL;
  if(tmpl) {
    snprintf(tmpl, n, "%s/.%s" OUTFILE_TMP_TAG "XXXXXX%s", dirname(d), basename(b), ext);
    int fd = mkstemps(tmpl, (int)strlen(ext));
    if(fd >= 0) {
      close(fd);
      unlink(tmpl);
    }
    else {
      free(tmpl);
      tmpl = NULL;
    }
  }
  free(d);
  free(b);
  return tmpl;
}

/* The layer: the file name without its extension */
static char *layer_name(const char *path)
{
  const char *slash = strrchr(path, '/');
  char *name = strdup(slash ? slash + 1 : path);
  char *dot = name ? strrchr(name, '.') : NULL;
  if(dot && dot != name)
    *dot = '\0';
  return name;
}

enum mly_rc outfile_gdal_close(struct outfile *o, struct mly_err *err)
{
  const struct gdalmod *m = gdalmod_load(err);
  if(!m)
    return MLY_EINVAL;
  struct mly_err e = {0};
  if(o->fmt == OUTFMT_PG) {
    if(m->pg_load(fileno(o->fp), o->final_path + strlen(OUTFILE_PG_PREFIX), o->table,
                  kind_of(o), &o->pg, &e))
      return mly_err_set(err, e.rc, "cannot load table '%s': %s", o->table, e.msg);
  }
  else {
    char *conv = converted_name(o), *layer = layer_name(o->final_path);
    if(!conv || !layer) {
      free(conv);
      free(layer);
      return mly_err_set(err, MLY_EIO, "cannot create a file beside '%s': %s", o->final_path,
                         strerror(errno));
    }
    int lock_fd = -1;
    enum mly_rc rc = m->write_file(fileno(o->fp), o->fmt == OUTFMT_FGB ? GDALMOD_FGB : GDALMOD_GPKG,
                                   conv, layer, kind_of(o), &lock_fd, &e);
    free(layer);
    if(rc) {
      free(conv);
      return mly_err_set(err, rc, "cannot write '%s': %s", o->final_path, e.msg);
    }
    unlink(o->tmp_path); /* the spool */
    free(o->tmp_path);
    o->tmp_path = conv;
    /* the converted file's lock now says "ours, alive" (outfile_sweep_stale) */
    if(o->locked)
      close(o->lock_fd);
    o->lock_fd = lock_fd;
    o->locked = lock_fd >= 0;
  }
  fclose(o->fp);
  o->fp = NULL;
  free(o->iobuf);
  o->iobuf = NULL;
  return MLY_OK;
}

enum mly_rc outfile_gdal_publish(struct outfile *o, struct mly_err *err)
{
  const struct gdalmod *m = gdalmod_load(err);
  if(!m || !o->pg)
    return mly_err_set(err, MLY_EINVAL, "table '%s' was not loaded", o->table);
  struct mly_err e = {0};
  enum mly_rc rc = m->pg_publish(o->pg, &e);
  o->pg = NULL;
  if(rc)
    return mly_err_set(err, rc, "cannot replace table '%s': %s", o->table, e.msg);
  return MLY_OK;
}

void outfile_gdal_abort(struct outfile *o)
{
  if(o->pg) {
    const struct gdalmod *m = gdalmod_load(NULL);
    if(m)
      m->pg_abort(o->pg);
    o->pg = NULL;
  }
  free(o->table);
  o->table = NULL;
}
