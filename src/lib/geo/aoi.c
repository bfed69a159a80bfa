/* aoi.c -- area-of-interest sets: loading (file, stdin, bbox), accessors, point tests */
#include "aoi_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* GEOS reports errors through the context's handler; keep the last one in
 * the set (not in a global, unlike PostGIS) so two sets never mix them up */
static void aoi_geos_error(const char *message, void *userdata)
{
  struct aoi_set *set = userdata;
  snprintf(set->geos_msg, sizeof(set->geos_msg), "%s", message ? message : "");
}

/* GEOS notices (e.g. "Self-intersection at ...") are expected for the
 * invalid input we repair; the library never prints, so drop them */
static void aoi_geos_notice(const char *message, void *userdata)
{
  (void)message;
  (void)userdata;
}

void mly__aoi_printable(const char *s, char *out, size_t cap)
{
  size_t n = strlen(s), o = 0;
  if(cap < 8) {
    if(cap)
      out[0] = '\0';
    return;
  }
  /* a long path keeps its end, where the file name is */
  if(n > cap - 1) {
    memcpy(out, "...", 3);
    o = 3;
    s += n - (cap - 1 - 3);
  }
  for(; *s && o + 1 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    out[o++] = (c >= 0x20 && c != 0x7f) ? (char)c : '?';
  }
  out[o] = '\0';
}

const char *mly__aoi_geos_msg(struct aoi_set *set)
{
  return set->geos_msg[0] ? set->geos_msg : "unknown GEOS error";
}

enum mly_rc mly__aoi_set_new(struct aoi_set **out, struct mly_err *err)
{
  *out = NULL;
  struct aoi_set *set = calloc(1, sizeof(*set));
  if(!set)
    return mly_err_set(err, MLY_ENOMEM, "out of memory for the area of interest");
  set->ctx = GEOS_init_r();
  if(!set->ctx) {
    free(set);
    return mly_err_set(err, MLY_ENOMEM, "cannot create a GEOS context");
  }
  GEOSContext_setErrorMessageHandler_r(set->ctx, aoi_geos_error, set);
  GEOSContext_setNoticeMessageHandler_r(set->ctx, aoi_geos_notice, set);
  *out = set;
  return MLY_OK;
}

enum mly_rc mly__aoi_set_add(struct aoi_set *set, char *name, GEOSGeometry *geom,
                             struct aoi **out, struct mly_err *err)
{
  struct aoi *a = NULL;
  if(set->n == set->cap) {
    size_t cap = set->cap ? set->cap * 2 : 4;
    struct aoi **v = realloc(set->areas, cap * sizeof(*v));
    if(!v)
      goto nomem;
    set->areas = v;
    set->cap = cap;
  }
  a = calloc(1, sizeof(*a));
  if(!a)
    goto nomem;
  a->set = set;
  a->name = name;
  a->geom = geom;
  if(geom) {
    /* the polygons' envelope lets aoi_covers() reject most points
     * without calling into GEOS */
    if(!GEOSGeom_getExtent_r(set->ctx, geom, &a->box[0], &a->box[1], &a->box[2],
                             &a->box[3])) {
      free(a);
      free(name);
      GEOSGeom_destroy_r(set->ctx, geom);
      return mly_err_set(err, MLY_EGEOS, "cannot compute the area's extent: %s",
                         mly__aoi_geos_msg(set));
    }
    a->prep = GEOSPrepare_r(set->ctx, geom);
    if(!a->prep) {
      free(a);
      free(name);
      GEOSGeom_destroy_r(set->ctx, geom);
      return mly_err_set(err, MLY_EGEOS, "cannot prepare the area: %s", mly__aoi_geos_msg(set));
    }
  }
  set->areas[set->n++] = a;
  if(out)
    *out = a;
  return MLY_OK;

nomem:
  free(name);
  if(geom)
    GEOSGeom_destroy_r(set->ctx, geom);
  return mly_err_set(err, MLY_ENOMEM, "out of memory for the area of interest");
}

void aoi_set_free(struct aoi_set **pset)
{
  if(!pset || !*pset)
    return;
  struct aoi_set *set = *pset;
  for(size_t i = 0; i < set->n; i++) {
    struct aoi *a = set->areas[i];
    /* GEOS: destroy the prepared geometry before its base */
    if(a->prep)
      GEOSPreparedGeom_destroy_r(set->ctx, a->prep);
    if(a->geom)
      GEOSGeom_destroy_r(set->ctx, a->geom);
    free(a->name);
    free(a);
  }
  free(set->areas);
  GEOS_finish_r(set->ctx);
  free(set);
  *pset = NULL;
}

size_t aoi_set_count(const struct aoi_set *set)
{
  return set ? set->n : 0;
}

struct aoi *aoi_set_get(const struct aoi_set *set, size_t i)
{
  return (set && i < set->n) ? set->areas[i] : NULL;
}

const char *aoi_name(const struct aoi *a)
{
  return a->name;
}

void aoi_bounds(const struct aoi *a, double *west, double *south, double *east, double *north)
{
  *west = a->box[0];
  *south = a->box[1];
  *east = a->box[2];
  *north = a->box[3];
}

/* Point test against the prepared polygons. For a point, "covers" and
 * "intersects" are the same predicate; GEOS 3.12 tests coordinates without
 * building a point, older versions need a (cheap, short-lived) point. A
 * GEOS exception (2) counts as "not covered": it cannot happen for a valid
 * polygon and a finite point. */
static bool aoi_geom_covers_xy(struct aoi *a, double lon, double lat)
{
  GEOSContextHandle_t ctx = a->set->ctx;
#if GEOS_VERSION_MAJOR > 3 || (GEOS_VERSION_MAJOR == 3 && GEOS_VERSION_MINOR >= 12)
  return GEOSPreparedIntersectsXY_r(ctx, a->prep, lon, lat) == 1;
#else
  GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(ctx, lon, lat);
  if(!pt)
    return false;
  char r = GEOSPreparedCovers_r(ctx, a->prep, pt);
  GEOSGeom_destroy_r(ctx, pt);
  return r == 1;
#endif
}

bool aoi_covers(struct aoi *a, double lon, double lat)
{
  /* written so that NaN fails every comparison and is never covered */
  if(!(lat >= a->box[1] && lat <= a->box[3]))
    return false;
  if(a->is_bbox && a->box[0] > a->box[2])
    return lon >= a->box[0] || lon <= a->box[2]; /* across the antimeridian */
  if(!(lon >= a->box[0] && lon <= a->box[2]))
    return false;
  if(a->is_bbox)
    return true;
  return aoi_geom_covers_xy(a, lon, lat);
}

enum mly_rc mly__aoi_set_from_bbox(const double box[4], struct aoi_set **out,
                                   struct mly_err *err)
{
  struct aoi_set *set = NULL;
  struct aoi *a = NULL;
  enum mly_rc rc = mly__aoi_set_new(&set, err);
  if(!rc)
    rc = mly__aoi_set_add(set, NULL, NULL, &a, err);
  if(rc) {
    aoi_set_free(&set);
    return rc;
  }
  a->is_bbox = true;
  memcpy(a->box, box, sizeof(a->box));
  *out = set;
  return MLY_OK;
}

/* Read all of f into a malloc'd buffer, refusing more than the cap */
static enum mly_rc aoi_read_stream(FILE *f, const char *source, char **out, size_t *outlen,
                                   struct mly_err *err)
{
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  if(!buf)
    return mly_err_set(err, MLY_ENOMEM, "out of memory reading %s", source);
  for(;;) {
    if(n == cap) {
      if(cap > MLY__AOI_MAX_INPUT) {
        free(buf);
        return mly_err_set(err, MLY_ETOOBIG, "%s is larger than the limit of %zu MiB", source,
                           MLY__AOI_MAX_INPUT >> 20);
      }
      /* one byte past the cap tells "exactly the cap" from "more" */
      size_t ncap = cap * 2 > MLY__AOI_MAX_INPUT ? MLY__AOI_MAX_INPUT + 1 : cap * 2;
      char *nb = realloc(buf, ncap);
      if(!nb) {
        free(buf);
        return mly_err_set(err, MLY_ENOMEM, "out of memory reading %s", source);
      }
      buf = nb;
      cap = ncap;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if(got == 0) {
      if(ferror(f)) {
        free(buf);
        return mly_err_set(err, MLY_EIO, "cannot read %s: %s", source, strerror(errno));
      }
      break;
    }
  }
  if(n > MLY__AOI_MAX_INPUT) {
    free(buf);
    return mly_err_set(err, MLY_ETOOBIG, "%s is larger than the limit of %zu MiB", source,
                       MLY__AOI_MAX_INPUT >> 20);
  }
  *out = buf;
  *outlen = n;
  return MLY_OK;
}

static enum mly_rc aoi_load_geojson(const char *buf, size_t len, const char *source,
                                    const char *field_name, struct aoi_set **out,
                                    struct mly_err *err)
{
  struct aoi_set *set = NULL;
  enum mly_rc rc = mly__aoi_set_new(&set, err);
  if(!rc)
    rc = mly__aoi_geojson_load(set, buf, len, source, field_name, err);
  if(rc) {
    aoi_set_free(&set);
    return rc;
  }
  *out = set;
  return MLY_OK;
}

enum mly_rc aoi_set_load_buffer(const char *buf, size_t len, const char *field_name,
                                struct aoi_set **out, struct mly_err *err)
{
  if(!out)
    return mly_err_set(err, MLY_EINVAL, "no place for the area of interest");
  *out = NULL;
  if(field_name && !field_name[0])
    return mly_err_set(err, MLY_EINVAL, "the field name is empty");
  if(len > MLY__AOI_MAX_INPUT)
    return mly_err_set(err, MLY_ETOOBIG, "the GeoJSON input is larger than the limit of %zu MiB",
                       MLY__AOI_MAX_INPUT >> 20);
  return aoi_load_geojson(buf, len, "input", field_name, out, err);
}

static enum mly_rc aoi_load_file(FILE *f, const char *source, const char *field_name,
                                 struct aoi_set **out, struct mly_err *err)
{
  char *buf = NULL;
  size_t len = 0;
  enum mly_rc rc = aoi_read_stream(f, source, &buf, &len, err);
  if(rc)
    return rc;
  rc = aoi_load_geojson(buf, len, source, field_name, out, err);
  free(buf);
  return rc;
}

static enum mly_rc aoi_load_bbox(const char *input, const char *field_name,
                                 struct aoi_set **out, struct mly_err *err)
{
  double box[4];
  enum mly_rc rc = aoi_parse_bbox(input, box, err);
  if(rc) {
    /* without a comma it was hardly meant as a bbox: most likely a
     * mistyped file name, so say that instead of "expected 4 numbers" */
    if(!strchr(input, ',')) {
      char name[100];
      mly__aoi_printable(input, name, sizeof(name));
      return mly_err_set(err, MLY_EINVAL,
                         "'%s' is neither an existing file nor a bbox xMin,yMin,xMax,yMax", name);
    }
    return rc;
  }
  if(field_name)
    return mly_err_set(err, MLY_EINVAL,
                       "a field name groups GeoJSON features; it cannot be used with a bbox");
  return mly__aoi_set_from_bbox(box, out, err);
}

enum mly_rc aoi_set_load(const char *input, const char *field_name, struct aoi_set **out,
                         struct mly_err *err)
{
  if(!out)
    return mly_err_set(err, MLY_EINVAL, "no place for the area of interest");
  *out = NULL;
  if(!input || !input[0])
    return mly_err_set(err, MLY_EINVAL, "no area of interest given");
  if(field_name && !field_name[0])
    return mly_err_set(err, MLY_EINVAL, "the field name is empty");

  if(strcmp(input, "-") == 0)
    return aoi_load_file(stdin, "stdin", field_name, out, err);

  char name[100];
  mly__aoi_printable(input, name, sizeof(name));
  struct stat st;
  if(stat(input, &st) != 0) {
    if(errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG)
      return aoi_load_bbox(input, field_name, out, err);
    return mly_err_set(err, MLY_EINVAL, "cannot access '%s': %s", name, strerror(errno));
  }
  if(S_ISDIR(st.st_mode))
    return mly_err_set(err, MLY_EINVAL, "'%s' is a directory, not a GeoJSON file", name);
  if(S_ISREG(st.st_mode) && (uint64_t)st.st_size > MLY__AOI_MAX_INPUT)
    return mly_err_set(err, MLY_ETOOBIG, "%s is larger than the limit of %zu MiB", name,
                       MLY__AOI_MAX_INPUT >> 20);
  FILE *f = fopen(input, "rb");
  if(!f)
    return mly_err_set(err, MLY_EINVAL, "cannot open '%s': %s", name, strerror(errno));
  enum mly_rc rc = aoi_load_file(f, name, field_name, out, err);
  fclose(f);
  return rc;
}
