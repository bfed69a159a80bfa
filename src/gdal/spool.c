/* spool.c -- the GeoJSONL spool read back: schema pass and features (spool.h) */
#include "spool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- schema --------------------------------------------------------------- */

static const struct field points_known[] = {
  {"id", FT_STRING},        {"sequence_id", FT_STRING}, {"captured_at", FT_INT},
  {"compass_angle", FT_REAL}, {"is_pano", FT_BOOL},     {"organization_id", FT_STRING},
};
static const struct field sequences_known[] = {
  {"sequence_id", FT_STRING}, {"is_pano", FT_BOOL},       {"organization_id", FT_STRING},
  {"total_points", FT_INT},   {"captured_at_start", FT_INT}, {"captured_at_end", FT_INT},
  {"images_id", FT_STRING},
};

void schema_free(struct schema *s)
{
  for(size_t i = 0; i < s->n; i++)
    free(s->f[i].name);
  free(s->f);
  memset(s, 0, sizeof(*s));
}

/* Index of name (case-insensitive, as GeoPackage columns are), -1 if none;
 * hint: where the previous feature had it */
long schema_find(const struct schema *s, const char *name, size_t hint)
{
  if(hint < s->n && strcasecmp(s->f[hint].name, name) == 0)
    return (long)hint;
  for(size_t i = 0; i < s->n; i++)
    if(strcasecmp(s->f[i].name, name) == 0)
      return (long)i;
  return -1;
}

static long schema_add(struct schema *s, const char *name, enum ftype t)
{
  if(s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    struct field *f = realloc(s->f, cap * sizeof(*f));
    if(!f)
      return -1;
    s->f = f;
    s->cap = cap;
  }
  s->f[s->n].name = strdup(name);
  if(!s->f[s->n].name)
    return -1;
  s->f[s->n].t = t;
  return (long)s->n++;
}

static enum ftype type_of(const json_t *v)
{
  switch(json_typeof(v)) {
  case JSON_TRUE:
  case JSON_FALSE: return FT_BOOL;
  case JSON_INTEGER: return FT_INT;
  case JSON_REAL: return FT_REAL;
  case JSON_STRING: return FT_STRING;
  case JSON_OBJECT:
  case JSON_ARRAY: return FT_JSON;
  case JSON_NULL: break;
  }
  return FT_NONE;
}

/* One type for values of types a and b */
static enum ftype merge(enum ftype a, enum ftype b)
{
  if(a == b || b == FT_NONE)
    return a;
  if(a == FT_NONE)
    return b;
  if((a == FT_INT && b == FT_REAL) || (a == FT_REAL && b == FT_INT))
    return FT_REAL;
  if((a == FT_INT && b == FT_BOOL) || (a == FT_BOOL && b == FT_INT))
    return FT_INT;
  return FT_STRING; /* numbers, booleans, objects as their JSON text */
}

/* The type name of a GeoJSON geometry, interned; NULL when unknown */
static const char *geom_type_of(const char *t)
{
  static const char *const types[] = {"Point", "LineString", "Polygon", "MultiPoint",
                                      "MultiLineString", "MultiPolygon", "GeometryCollection"};
  for(size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
    if(t && strcmp(t, types[i]) == 0)
      return types[i];
  return NULL;
}

void schema_values(const struct schema *s, json_t *feature, json_t **vals)
{
  memset(vals, 0, s->n * sizeof(*vals));
  const char *k;
  json_t *v;
  size_t hint = 0;
  json_object_foreach(json_object_get(feature, "properties"), k, v) {
    long i = schema_find(s, k, hint);
    if(i >= 0) {
      vals[i] = v;
      hint = (size_t)i + 1;
    }
  }
}

/* ---- reading the spool ---------------------------------------------------- */

enum mly_rc spool_open(struct spool *sp, int fd, struct mly_err *err)
{
  memset(sp, 0, sizeof(*sp));
  int d = dup(fd);
  if(d < 0 || lseek(d, 0, SEEK_SET) != 0 || !(sp->fp = fdopen(d, "r"))) {
    int e = errno;
    if(d >= 0)
      close(d);
    return mly_err_set(err, MLY_EIO, "cannot read back the features: %s", strerror(e));
  }
  return MLY_OK;
}

/* The next feature's object into *out (NULL at the end) */
enum mly_rc spool_next(struct spool *sp, json_t **out, struct mly_err *err)
{
  *out = NULL;
  ssize_t n;
  while((n = getline(&sp->line, &sp->cap, sp->fp)) >= 0) {
    sp->lineno++;
    if(n <= 1)
      continue;
    json_error_t je;
    json_t *f = json_loadb(sp->line, (size_t)n, 0, &je);
    if(!f || !json_is_object(f)) {
      json_decref(f);
      return mly_err_set(err, MLY_EFORMAT, "feature %llu cannot be read back: %s",
                         (unsigned long long)sp->lineno, f ? "not an object" : je.text);
    }
    *out = f;
    return MLY_OK;
  }
  if(ferror(sp->fp))
    return mly_err_set(err, MLY_EIO, "cannot read back the features: %s", strerror(errno));
  return MLY_OK;
}

void spool_close(struct spool *sp)
{
  if(sp->fp)
    fclose(sp->fp);
  free(sp->line);
  memset(sp, 0, sizeof(*sp));
}

/* Pass one: the fields and the geometry type */
enum mly_rc spool_scan(int fd, enum gdalmod_kind kind, struct schema *s, struct mly_err *err)
{
  const struct field *known = kind == GDALMOD_SEQUENCES ? sequences_known : points_known;
  size_t nknown = kind == GDALMOD_SEQUENCES ? sizeof(sequences_known) / sizeof(*known)
                   : kind == GDALMOD_POINTS ? sizeof(points_known) / sizeof(*known)
                                            : 0; /* a workflow command's: all from the file */
  for(size_t i = 0; i < nknown; i++)
    if(schema_add(s, known[i].name, known[i].t) < 0)
      return mly_err_set(err, MLY_ENOMEM, "out of memory");
  struct spool sp;
  enum mly_rc rc = spool_open(&sp, fd, err);
  json_t *f;
  bool gseen = false;
  while(!rc && !(rc = spool_next(&sp, &f, err)) && f) {
    json_t *props = json_object_get(f, "properties");
    const char *k;
    json_t *v;
    size_t hint = 0;
    json_object_foreach(props, k, v) {
      long i = schema_find(s, k, hint);
      if(i < 0)
        i = schema_add(s, k, FT_NONE);
      if(i < 0) {
        rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
        break;
      }
      s->f[i].t = merge(s->f[i].t, type_of(v));
      hint = (size_t)i + 1;
    }
    json_t *g = json_object_get(f, "geometry");
    if(json_is_object(g)) {
      const char *t = geom_type_of(json_string_value(json_object_get(g, "type")));
      if(!gseen)
        s->gtype = t;
      else if(s->gtype != t)
        s->gtype = NULL;
      gseen = true;
    }
    json_decref(f);
  }
  spool_close(&sp);
  if(!gseen)
    s->gtype = kind == GDALMOD_SEQUENCES ? "LineString"
               : kind == GDALMOD_POINTS  ? "Point"
                                         : NULL; /* a generic geometry column */
  return rc;
}

void spool_quote_ident(char *buf, size_t n, const char *name, const char *suffix)
{
  size_t o = 0;
  if(o + 1 < n)
    buf[o++] = '"';
  for(const char *p = name; *p && o + 3 < n; p++) {
    if(*p == '"')
      buf[o++] = '"';
    buf[o++] = *p;
  }
  for(const char *p = suffix; *p && o + 2 < n; p++)
    buf[o++] = *p;
  if(o + 1 < n)
    buf[o++] = '"';
  buf[o] = '\0';
}
