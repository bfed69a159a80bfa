/* featread_csv.c -- features from CSV: get_mapillary_points' points and
 * sequences columns, and any CSV with lon/lat or wkt columns
 *
 * RFC 4180 records (quoted fields may hold commas, quotes and line breaks;
 * LF or CRLF line ends; a UTF-8 byte order mark is skipped). The first
 * record names the columns. Each column is read by its name:
 *   id, sequence_id, organization_id, images_id      strings (ids stay text)
 *   captured_at, captured_at_start, captured_at_end,
 *   total_points                                      whole numbers
 *   compass_angle                                     a number
 *   is_pano                                           true or false
 *   properties                                        a JSON object, merged in
 *   lon/lat (also longitude/latitude, lng)            a Point
 *   wkt                                               a geometry in WKT
 *   anything else                                     a string
 * An empty cell is a property the feature does not have (as in
 * get_mapillary_points, which leaves unknown values empty). */
#include "featread_internal.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
  const char *name;
  enum featread_col kind;
} known_cols[] = {
  {"id", FEATREAD_COL_STRING},           {"sequence_id", FEATREAD_COL_STRING},
  {"organization_id", FEATREAD_COL_STRING}, {"images_id", FEATREAD_COL_STRING},
  {"captured_at", FEATREAD_COL_INT},     {"captured_at_start", FEATREAD_COL_INT},
  {"captured_at_end", FEATREAD_COL_INT}, {"total_points", FEATREAD_COL_INT},
  {"compass_angle", FEATREAD_COL_NUMBER}, {"is_pano", FEATREAD_COL_BOOL},
  {"properties", FEATREAD_COL_PROPS},    {"lon", FEATREAD_COL_LON},
  {"longitude", FEATREAD_COL_LON},       {"lng", FEATREAD_COL_LON},
  {"lat", FEATREAD_COL_LAT},             {"latitude", FEATREAD_COL_LAT},
  {"wkt", FEATREAD_COL_WKT},
};

enum featread_col featread_csv_column(const char *name)
{
  for(size_t k = 0; k < sizeof(known_cols) / sizeof(known_cols[0]); k++)
    if(strcasecmp(name, known_cols[k].name) == 0)
      return known_cols[k].kind;
  return FEATREAD_COL_STRING;
}

struct csvr {
  struct dbuf rec;   /* the record's fields, each NUL-terminated */
  size_t *off;       /* field starts in rec */
  size_t nf, capf;
  char **cols;       /* the header */
  enum featread_col *kind;
  size_t ncols;
  size_t lon, lat, wkt; /* geometry columns, or SIZE_MAX */
};

static enum mly_rc add_field(struct csvr *c, size_t start)
{
  if(c->nf == c->capf) {
    size_t cap = c->capf ? c->capf * 2 : 16;
    size_t *o = realloc(c->off, cap * sizeof(*o));
    if(!o)
      return MLY_ENOMEM;
    c->off = o;
    c->capf = cap;
  }
  c->off[c->nf++] = start;
  return dbuf_add(&c->rec, "", 1);
}

static enum mly_rc rec_too_big(struct featread *r, uint64_t line, enum mly_rc rc, struct mly_err *err)
{
  if(rc == MLY_ETOOBIG)
    return mly_err_set(err, rc, "%s: the record at line %llu is larger than %u MB", r->shown,
                       (unsigned long long)line, FEATREAD_FEATURE_MAX >> 20);
  return mly_err_set(err, MLY_ENOMEM, "out of memory");
}

/* The next record into c (nf fields); *got false at the end */
static enum mly_rc read_record(struct featread *r, struct csvr *c, bool *got, struct mly_err *err)
{
  dbuf_reset(&c->rec);
  c->nf = 0;
  *got = false;
  uint64_t line = r->line;
  int ch = mly__featread_peek(r);
  if(ch < 0)
    return mly__featread_ioerr(r, err) ? MLY_EIO : MLY_OK;
  enum mly_rc rc;
  size_t start = 0;
  bool quoted = false, after_quote = false;
  for(;;) {
    ch = mly__featread_peek(r);
    if(quoted) {
      if(ch < 0) {
        if(mly__featread_ioerr(r, err))
          return MLY_EIO;
        return mly_err_set(err, MLY_EFORMAT, "%s: line %llu: a quoted field is not closed",
                           r->shown, (unsigned long long)line);
      }
      mly__featread_skip(r);
      if(ch == '"') {
        if(mly__featread_peek(r) == '"') {
          mly__featread_skip(r);
          if((rc = dbuf_add(&c->rec, "\"", 1)))
            return rec_too_big(r, line, rc, err);
        }
        else {
          quoted = false;
          after_quote = true;
        }
        continue;
      }
      char b = (char)ch;
      if((rc = dbuf_add(&c->rec, &b, 1)))
        return rec_too_big(r, line, rc, err);
      continue;
    }
    if(ch < 0 || ch == ',' || ch == '\n') {
      /* the end of a field: drop a CR before the LF */
      if(ch == '\n' && !after_quote && c->rec.n > start && c->rec.p[c->rec.n - 1] == '\r')
        c->rec.n--;
      if((rc = add_field(c, start)))
        return rec_too_big(r, line, rc, err);
      after_quote = false;
      if(ch < 0) {
        if(mly__featread_ioerr(r, err))
          return MLY_EIO;
        break;
      }
      mly__featread_skip(r);
      if(ch == '\n')
        break;
      start = c->rec.n;
      continue;
    }
    if(after_quote) {
      if(ch == '\r') {
        mly__featread_skip(r);
        if(mly__featread_peek(r) == '\n')
          continue;
      }
      return mly_err_set(err, MLY_EFORMAT, "%s: line %llu: text after a quoted field's closing "
                         "quote", r->shown, (unsigned long long)r->line);
    }
    mly__featread_skip(r);
    if(ch == '"' && c->rec.n == start) {
      quoted = true;
      continue;
    }
    char b = (char)ch;
    if((rc = dbuf_add(&c->rec, &b, 1)))
      return rec_too_big(r, line, rc, err);
  }
  *got = true;
  return MLY_OK;
}

static const char *field(const struct csvr *c, size_t i)
{
  return c->rec.p + c->off[i];
}

static void csv_close(struct featread *r)
{
  struct csvr *c = r->state;
  if(!c)
    return;
  for(size_t i = 0; i < c->ncols; i++)
    free(c->cols[i]);
  free(c->cols);
  free(c->kind);
  free(c->off);
  dbuf_cleanup(&c->rec);
  free(c);
  r->state = NULL;
}

static enum mly_rc csv_open(struct featread *r, struct mly_err *err)
{
  struct csvr *c = calloc(1, sizeof(*c));
  if(!c)
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  r->state = c;
  dbuf_init(&c->rec, FEATREAD_FEATURE_MAX);
  c->lon = c->lat = c->wkt = SIZE_MAX;
  bool got;
  enum mly_rc rc = read_record(r, c, &got, err);
  if(rc)
    return rc;
  if(!got)
    return mly_err_set(err, MLY_EFORMAT, "%s: empty file: no CSV header", r->shown);
  c->cols = calloc(c->nf, sizeof(*c->cols));
  c->kind = calloc(c->nf, sizeof(*c->kind));
  if(!c->cols || !c->kind)
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  c->ncols = c->nf;
  for(size_t i = 0; i < c->nf; i++) {
    const char *name = field(c, i);
    if(i == 0 && strncmp(name, "\xEF\xBB\xBF", 3) == 0)
      name += 3; /* byte order mark */
    if(!(c->cols[i] = strdup(name)))
      return mly_err_set(err, MLY_ENOMEM, "out of memory");
    if(!*name)
      return mly_err_set(err, MLY_EFORMAT, "%s: CSV header: column %zu has no name", r->shown, i + 1);
    for(size_t k = 0; k < i; k++)
      if(strcmp(c->cols[k], name) == 0)
        return mly_err_set(err, MLY_EFORMAT, "%s: CSV header: column '%.40s' twice", r->shown, name);
    c->kind[i] = featread_csv_column(name);
    size_t *slot = c->kind[i] == FEATREAD_COL_LON ? &c->lon : c->kind[i] == FEATREAD_COL_LAT ? &c->lat
                 : c->kind[i] == FEATREAD_COL_WKT ? &c->wkt : NULL;
    if(slot) {
      if(*slot != SIZE_MAX)
        return mly_err_set(err, MLY_EFORMAT, "%s: CSV header: two %s columns", r->shown,
                           c->kind[i] == FEATREAD_COL_WKT ? "wkt" : c->kind[i] == FEATREAD_COL_LON ? "longitude" : "latitude");
      *slot = i;
    }
  }
  if(c->wkt == SIZE_MAX && (c->lon == SIZE_MAX || c->lat == SIZE_MAX))
    return mly_err_set(err, MLY_EFORMAT, "%s: CSV header has no wkt column and no lon and lat "
                       "columns", r->shown);
  return MLY_OK;
}

/* ---- WKT ---------------------------------------------------------------------- */

struct wkt {
  const char *p;
  const char *why;
};

static void wkt_ws(struct wkt *w)
{
  while(*w->p == ' ' || *w->p == '\t' || *w->p == '\r' || *w->p == '\n')
    w->p++;
}

static bool wkt_char(struct wkt *w, char c)
{
  wkt_ws(w);
  if(*w->p != c)
    return false;
  w->p++;
  return true;
}

/* Length of the decimal number the NUL-terminated s starts with
 * (mly_decimal_len), 0 if none. No strlen: a WKT cell is read one
 * coordinate at a time, and the NUL ends a number like any other byte. */
static size_t decimal_len(const char *s)
{
  return mly_decimal_len(s, SIZE_MAX);
}

/* A position: two to four numbers separated by blanks */
static json_t *wkt_position(struct wkt *w)
{
  json_t *pos = json_array();
  for(int k = 0; pos && k < 4; k++) {
    wkt_ws(w);
    if(*w->p == ',' || *w->p == ')' || !*w->p)
      break;
    size_t len = decimal_len(w->p);
    const char *end = w->p + len;
    double v = len ? strtod(w->p, NULL) : 0;
    if(!len || !isfinite(v) || (*end && *end != ' ' && *end != ',' && *end != ')' &&
                                *end != '\t')) {
      w->why = "a coordinate is not a number";
      json_decref(pos);
      return NULL;
    }
    w->p = end;
    if(json_array_append_new(pos, json_real(v))) {
      json_decref(pos);
      return NULL;
    }
  }
  if(pos && json_array_size(pos) < 2) {
    w->why = "a position needs two numbers";
    json_decref(pos);
    return NULL;
  }
  return pos;
}

/* level 1: ( position, ... ); level k: ( level k-1, ... ). With loose_points
 * (MULTIPOINT), a position at level 1 may be in parentheses. */
static json_t *wkt_level(struct wkt *w, int level, bool loose_points)
{
  if(!wkt_char(w, '(')) {
    w->why = "'(' expected";
    return NULL;
  }
  json_t *a = json_array();
  if(!a)
    return NULL;
  do {
    json_t *item;
    if(level == 1) {
      bool paren = loose_points && wkt_char(w, '(');
      item = wkt_position(w);
      if(item && paren && !wkt_char(w, ')')) {
        w->why = "')' expected";
        json_decref(item);
        item = NULL;
      }
    }
    else
      item = wkt_level(w, level - 1, false);
    if(!item || json_array_append_new(a, item)) {
      json_decref(a);
      return NULL;
    }
  } while(wkt_char(w, ','));
  if(!wkt_char(w, ')')) {
    w->why = "')' or ',' expected";
    json_decref(a);
    return NULL;
  }
  return a;
}

/* *geom: the geometry of text, NULL for an EMPTY one. false with w.why. */
static bool wkt_parse(const char *text, json_t **geom, const char **why)
{
  static const struct {
    const char *wkt, *geojson;
    int level;
  } types[] = {
    {"POINT", "Point", 1},           {"LINESTRING", "LineString", 1},
    {"POLYGON", "Polygon", 2},       {"MULTIPOINT", "MultiPoint", 1},
    {"MULTILINESTRING", "MultiLineString", 2}, {"MULTIPOLYGON", "MultiPolygon", 3},
  };
  struct wkt w = {text, NULL};
  *geom = NULL;
  wkt_ws(&w);
  const char *word = w.p;
  while((*w.p >= 'A' && *w.p <= 'Z') || (*w.p >= 'a' && *w.p <= 'z'))
    w.p++;
  size_t n = (size_t)(w.p - word);
  size_t t = 0;
  while(t < sizeof(types) / sizeof(types[0]) &&
        !(strlen(types[t].wkt) == n && strncasecmp(word, types[t].wkt, n) == 0))
    t++;
  if(t == sizeof(types) / sizeof(types[0])) {
    *why = "not a WKT POINT, LINESTRING, POLYGON or MULTI- of them";
    return false;
  }
  wkt_ws(&w);
  /* dimensions: Z (kept), M and ZM (taken as given) */
  if(strncasecmp(w.p, "ZM", 2) == 0)
    w.p += 2;
  else if(*w.p == 'Z' || *w.p == 'z' || *w.p == 'M' || *w.p == 'm')
    w.p++;
  wkt_ws(&w);
  if(strncasecmp(w.p, "EMPTY", 5) == 0) {
    w.p += 5;
    wkt_ws(&w);
    if(*w.p) {
      *why = "text after the geometry";
      return false;
    }
    return true;
  }
  json_t *coords = wkt_level(&w, types[t].level, t == 3);
  if(!coords) {
    *why = w.why ? w.why : "out of memory";
    return false;
  }
  wkt_ws(&w);
  if(*w.p) {
    json_decref(coords);
    *why = "text after the geometry";
    return false;
  }
  if(t == 0) { /* POINT: the one position */
    json_t *pos = json_incref(json_array_get(coords, 0));
    size_t np = json_array_size(coords);
    json_decref(coords);
    if(np != 1) {
      json_decref(pos);
      *why = "a POINT has one position";
      return false;
    }
    coords = pos;
  }
  *geom = json_pack("{s:s, s:o}", "type", types[t].geojson, "coordinates", coords);
  if(!*geom) {
    *why = "out of memory";
    return false;
  }
  return true;
}

/* ---- records to features ------------------------------------------------------ */

static enum mly_rc cell_error(struct featread *r, uint64_t line, const char *col, const char *v,
                              const char *what, struct mly_err *err)
{
  return mly_err_set(err, MLY_EFORMAT, "%s: line %llu: column '%.40s': '%.40s' is not %s", r->shown,
                     (unsigned long long)line, col, v, what);
}

static bool parse_i64(const char *s, json_int_t *out)
{
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if(errno || end == s || *end || s[0] == ' ' || s[0] == '+')
    return false;
  *out = (json_int_t)v;
  return true;
}

static bool parse_num(const char *s, double *out)
{
  size_t n = decimal_len(s);
  if(!n || s[n])
    return false;
  double v = strtod(s, NULL);
  if(!isfinite(v))
    return false;
  *out = v;
  return true;
}

static enum mly_rc csv_next(struct featread *r, bool *got, struct mly_err *err)
{
  struct csvr *c = r->state;
  enum mly_rc rc;
  uint64_t line;
  for(;;) {
    line = r->line;
    if((rc = read_record(r, c, got, err)) || !*got)
      return rc;
    if(!(c->nf == 1 && field(c, 0)[0] == '\0'))
      break; /* a blank line is no record */
  }
  *got = false;
  if(c->nf != c->ncols)
    return mly_err_set(err, MLY_EFORMAT, "%s: line %llu: %zu fields, the header has %zu", r->shown,
                       (unsigned long long)line, c->nf, c->ncols);
  json_t *props = json_object();
  json_t *geom = NULL;
  if(!props)
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  rc = MLY_OK;
  for(size_t i = 0; i < c->nf && !rc; i++) {
    const char *v = field(c, i);
    size_t n = strlen(v);
    json_t *val = NULL;
    if(n == 0 || c->kind[i] == FEATREAD_COL_LON || c->kind[i] == FEATREAD_COL_LAT || c->kind[i] == FEATREAD_COL_WKT)
      continue;
    if(n != (i + 1 < c->nf ? c->off[i + 1] : c->rec.n) - c->off[i] - 1) {
      rc = mly_err_set(err, MLY_EFORMAT, "%s: line %llu: column '%.40s' holds a NUL byte", r->shown,
                       (unsigned long long)line, c->cols[i]);
      break;
    }
    json_int_t iv;
    double dv;
    switch(c->kind[i]) {
    case FEATREAD_COL_STRING:
      if(!(val = json_stringn(v, n)))
        rc = mly_err_set(err, MLY_EFORMAT, "%s: line %llu: column '%.40s' is not valid UTF-8",
                         r->shown, (unsigned long long)line, c->cols[i]);
      break;
    case FEATREAD_COL_INT:
      if(parse_i64(v, &iv))
        val = json_integer(iv);
      else
        rc = cell_error(r, line, c->cols[i], v, "a whole number", err);
      break;
    case FEATREAD_COL_NUMBER:
      if(parse_num(v, &dv))
        val = json_real(dv);
      else
        rc = cell_error(r, line, c->cols[i], v, "a number", err);
      break;
    case FEATREAD_COL_BOOL:
      if(strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
        val = json_boolean(v[0] == 't');
      else
        rc = cell_error(r, line, c->cols[i], v, "true or false", err);
      break;
    case FEATREAD_COL_PROPS: {
      json_error_t jerr;
      json_t *o = json_loadb(v, n, JSON_REJECT_DUPLICATES, &jerr);
      if(!json_is_object(o))
        rc = cell_error(r, line, c->cols[i], v, "a JSON object", err);
      else if(json_object_update(props, o))
        rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
      json_decref(o);
      continue;
    }
    default: break;
    }
    if(!rc && (!val || json_object_set_new(props, c->cols[i], val)))
      rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
  }
  if(!rc && c->wkt != SIZE_MAX && field(c, c->wkt)[0]) {
    const char *why;
    if(!wkt_parse(field(c, c->wkt), &geom, &why))
      rc = mly_err_set(err, MLY_EFORMAT, "%s: line %llu: column '%.40s': %s", r->shown,
                       (unsigned long long)line, c->cols[c->wkt], why);
  }
  else if(!rc && c->wkt == SIZE_MAX) {
    const char *x = field(c, c->lon), *y = field(c, c->lat);
    double lon, lat;
    if(!*x && !*y)
      ; /* no position: a null geometry */
    else if(!parse_num(x, &lon))
      rc = cell_error(r, line, c->cols[c->lon], x, "a longitude", err);
    else if(!parse_num(y, &lat))
      rc = cell_error(r, line, c->cols[c->lat], y, "a latitude", err);
    else if(!(geom = json_pack("{s:s, s:[f,f]}", "type", "Point", "coordinates", lon, lat)))
      rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
  }
  json_t *f = rc ? NULL : json_pack("{s:s, s:o, s:o?}", "type", "Feature", "properties", props,
                                    "geometry", geom);
  if(!f) {
    if(!rc) {
      rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
      return rc; /* json_pack consumed (and freed) props and geom */
    }
    json_decref(props);
    json_decref(geom);
    return rc;
  }
  json_decref(r->cur);
  r->cur = f;
  *got = true;
  return MLY_OK;
}

static const char *const csv_exts[] = {".csv", NULL};
const struct featread_backend mly__featread_csv = {"CSV", csv_exts, false, csv_open, csv_next,
                                                   csv_close};
