/* featwrite.c -- features (jansson values) as GeoJSON or CSV records */
#include "mly/featwrite.h"
#include "mly/csvw.h"
#include "mly/featread.h"
#include "mly/jsonw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ADD_LIT(b, s) dbuf_add(b, s, sizeof(s) - 1)

static enum mly_rc write_number(struct dbuf *b, const json_t *v, bool coord)
{
  char num[JSONW_NUM_MAX];
  size_t n;
  if(json_is_integer(v))
    n = coord ? jsonw_coord(num, (double)json_integer_value(v))
              : jsonw_i64(num, (int64_t)json_integer_value(v));
  else {
    double d = json_real_value(v);
    if(!isfinite(d))
      return ADD_LIT(b, "null"); /* jansson never holds one; JSON has none */
    n = coord ? jsonw_coord(num, d) : jsonw_double(num, d);
  }
  return dbuf_add(b, num, n);
}

/* Any JSON value; numbers inside coordinates (coord) as coordinates */
static enum mly_rc write_value(struct dbuf *b, const json_t *v, bool coord)
{
  enum mly_rc rc;
  switch(json_typeof(v)) {
  case JSON_OBJECT: {
    const char *key;
    json_t *m;
    bool first = true;
    if((rc = ADD_LIT(b, "{")))
      return rc;
    json_object_foreach((json_t *)v, key, m) {
      if((!first && (rc = ADD_LIT(b, ","))) || (rc = jsonw_string(b, key, strlen(key))) ||
         (rc = ADD_LIT(b, ":")) || (rc = write_value(b, m, false)))
        return rc;
      first = false;
    }
    return ADD_LIT(b, "}");
  }
  case JSON_ARRAY:
    if((rc = ADD_LIT(b, "[")))
      return rc;
    for(size_t i = 0; i < json_array_size(v); i++)
      if((i && (rc = ADD_LIT(b, ","))) || (rc = write_value(b, json_array_get(v, i), coord)))
        return rc;
    return ADD_LIT(b, "]");
  case JSON_STRING: return jsonw_string(b, json_string_value(v), json_string_length(v));
  case JSON_INTEGER:
  case JSON_REAL: return write_number(b, v, coord);
  case JSON_TRUE: return ADD_LIT(b, "true");
  case JSON_FALSE: return ADD_LIT(b, "false");
  case JSON_NULL: break;
  }
  return ADD_LIT(b, "null");
}

enum mly_rc feature_write_geometry(struct dbuf *b, const json_t *g)
{
  if(!json_is_object(g))
    return ADD_LIT(b, "null");
  enum mly_rc rc;
  const char *key;
  json_t *m;
  bool first = true;
  if((rc = ADD_LIT(b, "{")))
    return rc;
  json_object_foreach((json_t *)g, key, m) {
    if((!first && (rc = ADD_LIT(b, ","))) || (rc = jsonw_string(b, key, strlen(key))) ||
       (rc = ADD_LIT(b, ":")))
      return rc;
    first = false;
    if(strcmp(key, "coordinates") == 0)
      rc = write_value(b, m, true);
    else if(strcmp(key, "geometries") == 0 && json_is_array(m)) {
      if((rc = ADD_LIT(b, "[")))
        return rc;
      for(size_t i = 0; i < json_array_size(m) && !rc; i++)
        if(!(i && (rc = ADD_LIT(b, ","))))
          rc = feature_write_geometry(b, json_array_get(m, i));
      if(!rc)
        rc = ADD_LIT(b, "]");
    }
    else
      rc = write_value(b, m, false);
    if(rc)
      return rc;
  }
  return ADD_LIT(b, "}");
}

enum mly_rc feature_write_geojson(struct dbuf *b, const json_t *properties, const json_t *geometry)
{
  enum mly_rc rc;
  if((rc = ADD_LIT(b, "{\"type\":\"Feature\",\"geometry\":")) ||
     (rc = feature_write_geometry(b, geometry)) || (rc = ADD_LIT(b, ",\"properties\":")))
    return rc;
  if(json_is_object(properties))
    rc = write_value(b, properties, false);
  else
    rc = ADD_LIT(b, "{}");
  return rc ? rc : ADD_LIT(b, "}");
}

/* ---- WKT ---------------------------------------------------------------------- */

/* A position's numbers separated by spaces */
static enum mly_rc wkt_position(struct dbuf *b, const json_t *pos)
{
  enum mly_rc rc;
  for(size_t i = 0; i < json_array_size(pos); i++)
    if((i && (rc = ADD_LIT(b, " "))) || (rc = write_number(b, json_array_get(pos, i), true)))
      return rc;
  return MLY_OK;
}

/* level 0: a position; level k: "(" level k-1 ", " ... ")" */
static enum mly_rc wkt_level(struct dbuf *b, const json_t *a, int level)
{
  enum mly_rc rc;
  if(level == 0)
    return wkt_position(b, a);
  if((rc = ADD_LIT(b, "(")))
    return rc;
  for(size_t i = 0; i < json_array_size(a); i++)
    if((i && (rc = ADD_LIT(b, ", "))) || (rc = wkt_level(b, json_array_get(a, i), level - 1)))
      return rc;
  return ADD_LIT(b, ")");
}

enum mly_rc feature_write_wkt(struct dbuf *b, const json_t *g)
{
  static const struct {
    const char *geojson, *wkt;
    int level;
  } types[] = {
    {"Point", "POINT", 0},           {"LineString", "LINESTRING", 1},
    {"Polygon", "POLYGON", 2},       {"MultiPoint", "MULTIPOINT", 1},
    {"MultiLineString", "MULTILINESTRING", 2}, {"MultiPolygon", "MULTIPOLYGON", 3},
  };
  const char *t = json_string_value(json_object_get(g, "type"));
  if(!t)
    return MLY_OK;
  enum mly_rc rc;
  if(strcmp(t, "GeometryCollection") == 0) {
    const json_t *gs = json_object_get(g, "geometries");
    if((rc = ADD_LIT(b, "GEOMETRYCOLLECTION ")))
      return rc;
    if(json_array_size(gs) == 0)
      return ADD_LIT(b, "EMPTY");
    if((rc = ADD_LIT(b, "(")))
      return rc;
    for(size_t i = 0; i < json_array_size(gs); i++)
      if((i && (rc = ADD_LIT(b, ", "))) || (rc = feature_write_wkt(b, json_array_get(gs, i))))
        return rc;
    return ADD_LIT(b, ")");
  }
  for(size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++)
    if(strcmp(t, types[k].geojson) == 0) {
      const json_t *c = json_object_get(g, "coordinates");
      if((rc = dbuf_adds(b, types[k].wkt)) || (rc = ADD_LIT(b, " ")))
        return rc;
      if(!json_is_array(c) || json_array_size(c) == 0)
        return ADD_LIT(b, "EMPTY");
      if(types[k].level == 0) {
        if((rc = ADD_LIT(b, "(")) || (rc = wkt_position(b, c)))
          return rc;
        return ADD_LIT(b, ")");
      }
      return wkt_level(b, c, types[k].level);
    }
  return MLY_OK;
}

/* ---- CSV ------------------------------------------------------------------------ */

void featcsv_cleanup(struct featcsv *c)
{
  for(size_t i = 0; i < c->ncols; i++)
    free(c->cols[i]);
  free(c->cols);
  memset(c, 0, sizeof(*c));
}

/* One cell: a string as is, a number as in GeoJSON, JSON text otherwise */
static enum mly_rc csv_cell(struct dbuf *b, const json_t *v)
{
  if(!v || json_is_null(v))
    return MLY_OK;
  if(json_is_string(v))
    return csvw_field(b, json_string_value(v), json_string_length(v));
  size_t start = b->n;
  enum mly_rc rc = write_value(b, v, false);
  if(rc || !(json_is_object(v) || json_is_array(v)))
    return rc;
  return csvw_quote_from(b, start);
}

static const char *const points_cols[] = {"id", "sequence_id", "captured_at", "compass_angle",
                                          "is_pano", "organization_id"};
#define NPOINTS_COLS (sizeof(points_cols) / sizeof(points_cols[0]))

static bool in_list(const char *key, const char *const *list, size_t n)
{
  for(size_t i = 0; i < n; i++)
    if(strcmp(key, list[i]) == 0)
      return true;
  return false;
}

/* Whether a property may have a column of its own: not a name the reader
 * takes for the geometry or the `properties` cell (any case: "WKT" too),
 * not a name a header cannot carry back (empty, or starting with the byte
 * order mark the reader skips). Such a property goes in the `properties`
 * cell, so no header names a column twice. */
static bool column_name_ok(const char *key)
{
  enum featread_col k = featread_csv_column(key);
  return *key && strncmp(key, "\xEF\xBB\xBF", 3) != 0 &&
         (k == FEATREAD_COL_STRING || k == FEATREAD_COL_INT || k == FEATREAD_COL_NUMBER ||
          k == FEATREAD_COL_BOOL);
}

/* Whether the reader reads v back from a cell of column `name` (a number
 * in a string column comes back as its text: documented, kept in the
 * column for the spreadsheet's sake); else v goes in the `properties` cell
 * and its column's cell stays empty */
static bool fits_column(const char *name, const json_t *v)
{
  if(json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
    return false; /* an empty cell is an absent property */
  switch(featread_csv_column(name)) {
  case FEATREAD_COL_INT: return json_is_integer(v);
  case FEATREAD_COL_NUMBER: return json_is_number(v);
  case FEATREAD_COL_BOOL: return json_is_boolean(v);
  default: return true;
  }
}

/* One column's cell: the property when it fits the column, else empty */
static enum mly_rc csv_column_cell(struct dbuf *b, const json_t *props, const char *name)
{
  const json_t *v = json_object_get(props, name);
  return v && fits_column(name, v) ? csv_cell(b, v) : MLY_OK;
}

/* The `properties` cell: every property not written in one of the n
 * named columns */
static enum mly_rc csv_rest(struct dbuf *b, const json_t *props, const char *const *named, size_t n)
{
  enum mly_rc rc;
  size_t start = b->n;
  const char *key;
  json_t *m;
  json_object_foreach((json_t *)props, key, m) {
    if(in_list(key, named, n) && fits_column(key, m))
      continue;
    if((rc = ADD_LIT(b, ",")) || (rc = jsonw_string(b, key, strlen(key))) ||
       (rc = ADD_LIT(b, ":")) || (rc = write_value(b, m, false)))
      return rc;
  }
  if(b->n == start)
    return MLY_OK;
  b->p[start] = '{'; /* the first member's comma opens the object */
  if((rc = ADD_LIT(b, "}")))
    return rc;
  return csvw_quote_from(b, start);
}

static enum mly_rc csv_start(struct dbuf *b, struct featcsv *c, const json_t *props,
                             const json_t *geom)
{
  enum mly_rc rc;
  c->started = true;
  const char *t = json_string_value(json_object_get(geom, "type"));
  if(t && strcmp(t, "Point") == 0 && json_object_get(props, "id")) {
    c->points = true;
    if((rc = ADD_LIT(b, OUTFILE_CSV_POINTS_HEADER "\r\n")))
      return rc;
    return MLY_OK;
  }
  size_t n = json_object_size(props);
  c->cols = calloc(n ? n : 1, sizeof(*c->cols));
  if(!c->cols)
    return MLY_ENOMEM;
  const char *key;
  json_t *m;
  json_object_foreach((json_t *)props, key, m) {
    if(!column_name_ok(key))
      continue;
    if(!(c->cols[c->ncols] = strdup(key)))
      return MLY_ENOMEM;
    c->ncols++;
    if((rc = csvw_field(b, key, strlen(key))) || (rc = ADD_LIT(b, ",")))
      return rc;
  }
  return ADD_LIT(b, "properties,wkt\r\n");
}

enum mly_rc feature_write(struct dbuf *b, enum outfmt fmt, struct featcsv *c,
                          const json_t *props, const json_t *geom, struct mly_err *err)
{
  enum mly_rc rc;
  if(fmt != OUTFMT_CSV) {
    if((rc = feature_write_geojson(b, props, geom)))
      return mly_err_set(err, rc, "%s", rc == MLY_ETOOBIG ? "a feature is too large" : "out of memory");
    return MLY_OK;
  }
  if(!c->started && (rc = csv_start(b, c, props, geom)))
    return mly_err_set(err, rc, "out of memory");
  if(c->points) {
    const char *t = json_string_value(json_object_get(geom, "type"));
    const json_t *pos = json_object_get(geom, "coordinates");
    if(geom && !json_is_null(geom) && (!t || strcmp(t, "Point") != 0 || json_array_size(pos) < 2))
      return mly_err_set(err, MLY_EINVAL, "a points CSV holds Point features only, not a %.40s "
                         "(write GeoJSON instead)", t ? t : "geometry without a type");
    rc = csv_column_cell(b, props, "id");
    for(int k = 0; k < 2 && !rc; k++)
      if(!(rc = ADD_LIT(b, ",")) && json_array_size(pos) >= 2)
        rc = write_number(b, json_array_get(pos, (size_t)k), true);
    for(size_t k = 1; k < NPOINTS_COLS && !rc; k++)
      if(!(rc = ADD_LIT(b, ",")))
        rc = csv_column_cell(b, props, points_cols[k]);
    if(!rc && !(rc = ADD_LIT(b, ",")))
      rc = csv_rest(b, props, points_cols, NPOINTS_COLS);
  }
  else {
    rc = MLY_OK;
    for(size_t k = 0; k < c->ncols && !rc; k++)
      if(!(rc = csv_column_cell(b, props, c->cols[k])))
        rc = ADD_LIT(b, ",");
    if(!rc && !(rc = csv_rest(b, props, (const char *const *)c->cols, c->ncols)) &&
       !(rc = ADD_LIT(b, ","))) {
      size_t start = b->n;
      if(!(rc = feature_write_wkt(b, geom)) && b->n > start)
        rc = csvw_quote_from(b, start);
    }
  }
  if(rc)
    return mly_err_set(err, rc, "%s", rc == MLY_ETOOBIG ? "a feature is too large" : "out of memory");
  return MLY_OK;
}
