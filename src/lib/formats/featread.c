/* featread.c -- the features of a workflow input, one at a time: the core,
 * the streamed GeoJSON FeatureCollection and the line formats */
#include "featread_internal.h"
#include "mly/outfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define READ_CHUNK (64u * 1024)

/* ---- the table of formats ----------------------------------------------------
 * By the path's extension; the first row is also the default. A format
 * added here (GDAL's .gpkg/.fgb) is read by every command. */
static const struct featread_backend *const backends[] = {
  &mly__featread_geojson,
  &mly__featread_geojsonl,
  &mly__featread_geojsonseq,
  &mly__featread_csv,
  &mly__featread_gpkg,
  &mly__featread_fgb,
};

#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

static const struct featread_backend *backend_for(const char *path)
{
  const char *slash = strrchr(path, '/');
  const char *name = slash ? slash + 1 : path;
  const char *dot = strrchr(name, '.');
  if(dot && dot != name)
    for(size_t i = 0; i < NBACKENDS; i++)
      for(const char *const *e = backends[i]->exts; *e; e++)
        if(strcasecmp(dot, *e) == 0)
          return backends[i];
  return backends[0];
}

/* ---- the byte stream -------------------------------------------------------- */

static bool fill(struct featread *r)
{
  if(r->eof || !r->fp)
    return false;
  if(r->pos == r->len)
    r->pos = r->len = 0;
  if(r->len == r->cap) {
    if(r->pos == 0)
      return true; /* full: the caller consumes first */
    memmove(r->buf, r->buf + r->pos, r->len - r->pos);
    r->len -= r->pos;
    r->pos = 0;
  }
  size_t got = fread(r->buf + r->len, 1, r->cap - r->len, r->fp);
  r->len += got;
  if(got == 0)
    r->eof = true;
  return got > 0;
}

int mly__featread_peek(struct featread *r)
{
  if(r->pos == r->len && !fill(r))
    return -1;
  return r->buf[r->pos];
}

void mly__featread_skip(struct featread *r)
{
  if(r->pos < r->len && r->buf[r->pos++] == '\n')
    r->line++;
}

bool mly__featread_ioerr(struct featread *r, struct mly_err *err)
{
  if(r->fp && ferror(r->fp)) {
    mly_err_set(err, MLY_EIO, "%s: cannot read: %s", r->shown, strerror(errno ? errno : EIO));
    return true;
  }
  return false;
}

/* ---- features --------------------------------------------------------------- */

static bool is_geometry_type(const char *t)
{
  static const char *const types[] = {"Point", "MultiPoint", "LineString", "MultiLineString",
                                      "Polygon", "MultiPolygon", "GeometryCollection"};
  for(size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
    if(strcmp(t, types[i]) == 0)
      return true;
  return false;
}

static enum mly_rc check_geometry(struct featread *r, const json_t *g, const char *where,
                                  struct mly_err *err)
{
  if(!json_is_object(g))
    return mly_err_set(err, MLY_EFORMAT, "%s: %s: geometry is not an object or null", r->shown,
                       where);
  const char *t = json_string_value(json_object_get(g, "type"));
  if(!t || !is_geometry_type(t))
    return mly_err_set(err, MLY_EFORMAT, "%s: %s: geometry has no GeoJSON geometry type",
                       r->shown, where);
  return MLY_OK;
}

enum mly_rc mly__featread_accept(struct featread *r, json_t *v, const char *where,
                                 struct mly_err *err)
{
  enum mly_rc rc = MLY_OK;
  const char *t = json_string_value(json_object_get(v, "type"));
  if(!json_is_object(v))
    rc = mly_err_set(err, MLY_EFORMAT, "%s: %s: not a JSON object", r->shown, where);
  else if(!t)
    rc = mly_err_set(err, MLY_EFORMAT, "%s: %s: no \"type\" member", r->shown, where);
  else if(strcmp(t, "Feature") == 0) {
    json_t *p = json_object_get(v, "properties");
    json_t *g = json_object_get(v, "geometry");
    if(p && !json_is_object(p) && !json_is_null(p))
      rc = mly_err_set(err, MLY_EFORMAT, "%s: %s: properties is not an object or null", r->shown,
                       where);
    else if(g && !json_is_null(g))
      rc = check_geometry(r, g, where, err);
    if(!rc && !json_is_object(p) && json_object_set_new(v, "properties", json_object()))
      rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
  }
  else if(is_geometry_type(t)) {
    /* a bare geometry: one feature without properties */
    json_t *f = json_pack("{s:s, s:o, s:O}", "type", "Feature", "properties", json_object(),
                          "geometry", v);
    json_decref(v);
    if(!f)
      return mly_err_set(err, MLY_ENOMEM, "out of memory");
    v = f;
  }
  else
    rc = mly_err_set(err, MLY_EFORMAT, "%s: %s: type '%.40s' is not a Feature or a geometry",
                     r->shown, where, t);
  if(rc) {
    json_decref(v);
    return rc;
  }
  json_decref(r->cur);
  r->cur = v;
  return MLY_OK;
}

/* Decode text[0..n) (a Feature or a geometry) into r->cur. first_line is
 * the input line of text[0], for jansson's position. */
static enum mly_rc decode(struct featread *r, const char *text, size_t n, uint64_t first_line,
                          const char *where, struct mly_err *err)
{
  json_error_t jerr;
  json_t *v = json_loadb(text, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
  if(!v)
    return mly_err_set(err, MLY_EFORMAT, "%s: %s: invalid JSON at line %llu: %.120s", r->shown,
                       where, (unsigned long long)(first_line + (jerr.line > 0 ? jerr.line - 1 : 0)),
                       jerr.text);
  return mly__featread_accept(r, v, where, err);
}

/* ---- GeoJSON: a FeatureCollection streamed, or one Feature or geometry -------
 * A small scanner walks the top-level object. The "features" array is cut
 * into one element text at a time (strings, escapes and bracket depth
 * tracked), each decoded on its own; every other member is kept as text
 * (small) and decoded at the end, so the whole object goes through jansson
 * and a top level without "features" (a Feature, a geometry) is read whole. */

enum gj_phase { GJ_START, GJ_MEMBERS, GJ_IN_FEATURES, GJ_DONE };

struct gj {
  enum gj_phase phase;
  struct dbuf rest;     /* the top-level object without its features array */
  struct dbuf elem;     /* the element being cut */
  bool had_features, single_done;
};

static void skip_ws(struct featread *r)
{
  int c;
  while((c = mly__featread_peek(r)) == ' ' || c == '\t' || c == '\n' || c == '\r')
    mly__featread_skip(r);
}

static enum mly_rc gj_open(struct featread *r, struct mly_err *err)
{
  struct gj *g = calloc(1, sizeof(*g));
  if(!g)
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  dbuf_init(&g->rest, FEATREAD_FEATURE_MAX);
  dbuf_init(&g->elem, FEATREAD_FEATURE_MAX);
  r->state = g;
  /* a UTF-8 byte order mark is not JSON, but editors write it */
  if(mly__featread_peek(r) == 0xEF) {
    mly__featread_skip(r);
    if(mly__featread_peek(r) == 0xBB) {
      mly__featread_skip(r);
      if(mly__featread_peek(r) == 0xBF) {
        mly__featread_skip(r);
        return MLY_OK;
      }
    }
    return mly_err_set(err, MLY_EFORMAT, "%s: not GeoJSON (invalid first byte)", r->shown);
  }
  return MLY_OK;
}

static void gj_close(struct featread *r)
{
  struct gj *g = r->state;
  if(!g)
    return;
  dbuf_cleanup(&g->rest);
  dbuf_cleanup(&g->elem);
  free(g);
  r->state = NULL;
}

static enum mly_rc too_big(struct featread *r, const char *what, struct mly_err *err)
{
  return mly_err_set(err, MLY_ETOOBIG, "%s: %s is larger than %u MB", r->shown, what,
                     FEATREAD_FEATURE_MAX >> 20);
}

static enum mly_rc truncated(struct featread *r, struct mly_err *err)
{
  if(mly__featread_ioerr(r, err))
    return MLY_EIO;
  return mly_err_set(err, MLY_EFORMAT, "%s: invalid JSON: the text ends at line %llu inside the "
                     "top-level object", r->shown, (unsigned long long)r->line);
}

/* Append one JSON value's text (whatever its kind) to out. A container is
 * cut by depth, strings and escapes tracked; its validity is jansson's to
 * judge. *ended is set when the input ended inside the value. */
static enum mly_rc cut_value(struct featread *r, struct dbuf *out, const char *what, bool *ended,
                             struct mly_err *err)
{
  int depth = 0;
  bool in_str = false, esc = false;
  *ended = false;
  for(;;) {
    /* copy a run of plain bytes at once */
    if(r->pos == r->len && !fill(r)) {
      *ended = true;
      return MLY_OK;
    }
    size_t start = r->pos;
    bool stop = false;
    while(r->pos < r->len && !stop) {
      unsigned char c = r->buf[r->pos];
      if(in_str) {
        if(esc)
          esc = false;
        else if(c == '\\')
          esc = true;
        else if(c == '"') {
          in_str = false;
          if(depth == 0)
            stop = true; /* a string value ends here */
        }
        else if(c == '\n')
          r->line++; /* invalid in a string: jansson says so */
      }
      else if(c == '"')
        in_str = true;
      else if(c == '{' || c == '[')
        depth++;
      else if(c == '}' || c == ']') {
        if(depth == 0)
          break; /* the end of the enclosing container: not ours */
        if(--depth == 0)
          stop = true;
      }
      else if(depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n'))
        break; /* the end of a scalar */
      else if(c == '\n')
        r->line++;
      r->pos++;
    }
    enum mly_rc rc = dbuf_add(out, r->buf + start, r->pos - start);
    if(rc)
      return rc == MLY_ETOOBIG ? too_big(r, what, err) : mly_err_set(err, rc, "out of memory");
    if(stop || r->pos < r->len)
      return MLY_OK;
  }
}

/* Expect byte c (after blanks); false when something else comes */
static bool expect(struct featread *r, int c)
{
  skip_ws(r);
  if(mly__featread_peek(r) != c)
    return false;
  mly__featread_skip(r);
  return true;
}

static enum mly_rc gj_syntax(struct featread *r, const char *what, struct mly_err *err)
{
  int c = mly__featread_peek(r);
  if(c < 0)
    return truncated(r, err);
  if(c >= 0x20 && c < 0x7f)
    return mly_err_set(err, MLY_EFORMAT, "%s: invalid JSON at line %llu: %s, found '%c'",
                       r->shown, (unsigned long long)r->line, what, c);
  return mly_err_set(err, MLY_EFORMAT, "%s: invalid JSON at line %llu: %s", r->shown,
                     (unsigned long long)r->line, what);
}

/* The rest of the top-level object once its features were handed out, or
 * the whole object (a Feature, a geometry) when it had none */
static enum mly_rc gj_finish(struct featread *r, bool *got, struct mly_err *err)
{
  struct gj *g = r->state;
  skip_ws(r);
  if(mly__featread_peek(r) >= 0)
    return mly_err_set(err, MLY_EFORMAT, "%s: invalid JSON at line %llu: text after the top-level "
                       "object", r->shown, (unsigned long long)r->line);
  if(mly__featread_ioerr(r, err))
    return MLY_EIO;
  g->phase = GJ_DONE;
  if(g->had_features) {
    json_error_t jerr;
    json_t *v = json_loadb(g->rest.p, g->rest.n, JSON_REJECT_DUPLICATES, &jerr);
    if(!v)
      return mly_err_set(err, MLY_EFORMAT, "%s: invalid JSON in the FeatureCollection's members: %.120s",
                         r->shown, jerr.text);
    const char *t = json_string_value(json_object_get(v, "type"));
    bool ok = t && strcmp(t, "FeatureCollection") == 0;
    json_decref(v);
    if(!ok)
      return mly_err_set(err, MLY_EFORMAT, "%s: an object with \"features\" that is not a "
                         "FeatureCollection", r->shown);
    *got = false;
    return MLY_OK;
  }
  enum mly_rc rc = decode(r, g->rest.p, g->rest.n, 1, "top-level object", err);
  if(!rc) {
    const char *t = json_string_value(json_object_get(r->cur, "type"));
    *got = t != NULL;
  }
  return rc;
}

static enum mly_rc gj_next(struct featread *r, bool *got, struct mly_err *err)
{
  struct gj *g = r->state;
  enum mly_rc rc;
  bool ended;
  *got = false;
  if(g->phase == GJ_DONE)
    return MLY_OK;
  if(g->phase == GJ_START) {
    skip_ws(r);
    if(mly__featread_peek(r) < 0) {
      if(mly__featread_ioerr(r, err))
        return MLY_EIO;
      return mly_err_set(err, MLY_EFORMAT, "%s: empty input: no GeoJSON", r->shown);
    }
    if(!expect(r, '{'))
      return gj_syntax(r, "a GeoJSON object must start with '{'", err);
    if(dbuf_add(&g->rest, "{", 1))
      return mly_err_set(err, MLY_ENOMEM, "out of memory");
    g->phase = GJ_MEMBERS;
    skip_ws(r);
    if(mly__featread_peek(r) == '}') {
      mly__featread_skip(r);
      if((rc = dbuf_add(&g->rest, "}", 1)))
        return mly_err_set(err, rc, "out of memory");
      return gj_finish(r, got, err);
    }
  }
  for(;;) {
    if(g->phase == GJ_IN_FEATURES) {
      skip_ws(r);
      int c = mly__featread_peek(r);
      if(c == ']') {
        mly__featread_skip(r);
        g->phase = GJ_MEMBERS;
        /* after the array: ',' and more members, or '}' */
        skip_ws(r);
        c = mly__featread_peek(r);
        if(c == ',') {
          mly__featread_skip(r);
          continue;
        }
        if(c == '}') {
          mly__featread_skip(r);
          if(g->rest.n > 1 && g->rest.p[g->rest.n - 1] == ',')
            g->rest.n--; /* the comma written before "features" */
          if(dbuf_add(&g->rest, "}", 1))
            return mly_err_set(err, MLY_ENOMEM, "out of memory");
          return gj_finish(r, got, err);
        }
        return gj_syntax(r, "',' or '}' expected after the features array", err);
      }
      if(r->index > 0) {
        if(c != ',')
          return gj_syntax(r, "',' or ']' expected between features", err);
        mly__featread_skip(r);
        skip_ws(r);
      }
      char where[48];
      snprintf(where, sizeof(where), "feature %llu", (unsigned long long)r->index);
      uint64_t line = r->line;
      dbuf_reset(&g->elem);
      if((rc = cut_value(r, &g->elem, where, &ended, err)))
        return rc;
      if(ended) {
        if(mly__featread_ioerr(r, err))
          return MLY_EIO;
        return mly_err_set(err, MLY_EFORMAT, "%s: %s: invalid JSON: the text ends at line %llu "
                           "inside it", r->shown, where, (unsigned long long)r->line);
      }
      if(g->elem.n == 0)
        return gj_syntax(r, "a feature expected", err);
      if((rc = decode(r, g->elem.p, g->elem.n, line, where, err)))
        return rc;
      *got = true;
      return MLY_OK;
    }
    /* a member of the top-level object: "key" : value */
    skip_ws(r);
    if(mly__featread_peek(r) != '"')
      return gj_syntax(r, "a member name expected in the top-level object", err);
    size_t key_at = g->rest.n;
    if((rc = cut_value(r, &g->rest, "the top-level object", &ended, err)))
      return rc;
    if(ended)
      return truncated(r, err);
    bool is_features = g->rest.n - key_at == 10 && memcmp(g->rest.p + key_at, "\"features\"", 10) == 0;
    if(!expect(r, ':'))
      return gj_syntax(r, "':' expected after a member name", err);
    skip_ws(r);
    if(is_features) {
      if(g->had_features)
        return mly_err_set(err, MLY_EFORMAT, "%s: duplicate \"features\" member", r->shown);
      if(mly__featread_peek(r) != '[')
        return mly_err_set(err, MLY_EFORMAT, "%s: \"features\" is not an array", r->shown);
      mly__featread_skip(r);
      g->had_features = true;
      g->rest.n = key_at; /* the array is not kept: cut the name too */
      g->phase = GJ_IN_FEATURES;
      continue;
    }
    if((rc = dbuf_add(&g->rest, ":", 1)))
      return mly_err_set(err, rc, "out of memory");
    if((rc = cut_value(r, &g->rest, "the top-level object", &ended, err)))
      return rc;
    if(ended)
      return truncated(r, err);
    skip_ws(r);
    int c = mly__featread_peek(r);
    if(c == ',' || c == '}') {
      mly__featread_skip(r);
      if(dbuf_add(&g->rest, c == ',' ? "," : "}", 1))
        return mly_err_set(err, MLY_ENOMEM, "out of memory");
      if(c == '}')
        return gj_finish(r, got, err);
      continue;
    }
    return gj_syntax(r, "',' or '}' expected after a member", err);
  }
}

static const char *const gj_exts[] = {".geojson", ".json", NULL};
const struct featread_backend mly__featread_geojson = {"GeoJSON", gj_exts, false, gj_open,
                                                       gj_next, gj_close};

/* ---- line formats: GeoJSONL (one per line) and RFC 8142 (RS before each) --- */

struct lines {
  struct dbuf rec;
  unsigned char sep; /* '\n' or RS */
};

static enum mly_rc lines_open_sep(struct featread *r, unsigned char sep, struct mly_err *err)
{
  struct lines *l = calloc(1, sizeof(*l));
  if(!l)
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  dbuf_init(&l->rec, FEATREAD_FEATURE_MAX);
  l->sep = sep;
  r->state = l;
  return MLY_OK;
}

static enum mly_rc lines_open(struct featread *r, struct mly_err *err)
{
  return lines_open_sep(r, '\n', err);
}

static enum mly_rc seq_open(struct featread *r, struct mly_err *err)
{
  return lines_open_sep(r, 0x1e, err);
}

static void lines_close(struct featread *r)
{
  struct lines *l = r->state;
  if(!l)
    return;
  dbuf_cleanup(&l->rec);
  free(l);
  r->state = NULL;
}

static bool blank(const char *p, size_t n)
{
  for(size_t i = 0; i < n; i++)
    if(p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n' && p[i] != 0x1e)
      return false;
  return true;
}

static enum mly_rc lines_next(struct featread *r, bool *got, struct mly_err *err)
{
  struct lines *l = r->state;
  *got = false;
  for(;;) {
    dbuf_reset(&l->rec);
    uint64_t line = r->line;
    bool any = false;
    /* one record: up to the separator (GeoJSONL: a leading RS is allowed) */
    for(;;) {
      if(r->pos == r->len && !fill(r))
        break;
      any = true;
      unsigned char *p = r->buf + r->pos, *end = r->buf + r->len;
      unsigned char *s = memchr(p, l->sep, (size_t)(end - p));
      if(l->sep == 0x1e && s == p && l->rec.n == 0) {
        r->pos++; /* the RS that starts this record */
        continue;
      }
      size_t n = (size_t)((s ? s : end) - p);
      for(size_t i = 0; i < n; i++)
        if(p[i] == '\n')
          r->line++;
      if(dbuf_add(&l->rec, p, n)) {
        char what[48];
        snprintf(what, sizeof(what), "the record at line %llu", (unsigned long long)line);
        return too_big(r, what, err);
      }
      r->pos += n;
      if(s) {
        if(l->sep == '\n') {
          r->pos++;
          r->line++;
        }
        break;
      }
    }
    if(mly__featread_ioerr(r, err))
      return MLY_EIO;
    if(!any && l->rec.n == 0)
      return MLY_OK; /* the end */
    if(blank(l->rec.p, l->rec.n))
      continue;
    /* skip the blanks and a GeoJSONL record's RS before the text */
    size_t skip = 0;
    while(skip < l->rec.n && (l->rec.p[skip] == 0x1e || l->rec.p[skip] == ' ' ||
                              l->rec.p[skip] == '\t' || l->rec.p[skip] == '\r' ||
                              l->rec.p[skip] == '\n')) {
      if(l->rec.p[skip] == '\n')
        line++;
      skip++;
    }
    char where[48];
    snprintf(where, sizeof(where), "line %llu", (unsigned long long)line);
    enum mly_rc rc = decode(r, l->rec.p + skip, l->rec.n - skip, line, where, err);
    if(rc)
      return rc;
    *got = true;
    return MLY_OK;
  }
}

static const char *const lines_exts[] = {".geojsonl", ".ndjson", ".jsonl", NULL};
const struct featread_backend mly__featread_geojsonl = {"GeoJSONL", lines_exts, false, lines_open,
                                                        lines_next, lines_close};
static const char *const seq_exts[] = {".geojsons", NULL};
const struct featread_backend mly__featread_geojsonseq = {"GeoJSON text sequence", seq_exts, false,
                                                          seq_open, lines_next, lines_close};

/* ---- the interface ---------------------------------------------------------- */

static enum mly_rc open_common(struct featread *r, struct mly_err *err)
{
  r->line = 1;
  if(!r->be->by_path) {
    r->cap = READ_CHUNK;
    r->buf = malloc(r->cap);
    if(!r->buf)
      return mly_err_set(err, MLY_ENOMEM, "out of memory");
  }
  return r->be->open(r, err);
}

enum mly_rc featread_open(const char *path, struct featread **out, struct mly_err *err)
{
  *out = NULL;
  struct featread *r = calloc(1, sizeof(*r));
  if(!r || !(r->path = strdup(path))) {
    free(r);
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  }
  bool is_stdin = strcmp(path, "-") == 0;
  r->shown = is_stdin ? "standard input" : r->path;
  r->be = is_stdin ? backends[0] : backend_for(path);
  if(!r->be->by_path) {
    if(is_stdin)
      r->fp = stdin;
    else {
      r->fp = fopen(path, "rb");
      if(!r->fp) {
        int e = errno;
        featread_close(&r);
        return mly_err_set(err, MLY_EIO, "cannot open '%s': %s", path, strerror(e));
      }
      r->own_fp = true;
    }
  }
  enum mly_rc rc = open_common(r, err);
  if(rc) {
    featread_close(&r);
    return rc;
  }
  *out = r;
  return MLY_OK;
}

enum mly_rc featread_open_stream(FILE *fp, const char *name, struct featread **out,
                                 struct mly_err *err)
{
  *out = NULL;
  struct featread *r = calloc(1, sizeof(*r));
  if(!r || !(r->path = strdup(name))) {
    free(r);
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  }
  r->shown = r->path;
  r->be = backend_for(name);
  if(r->be->by_path) {
    featread_close(&r);
    return mly_err_set(err, MLY_EINVAL, "%s: this format is read from a file only", name);
  }
  r->fp = fp;
  enum mly_rc rc = open_common(r, err);
  if(rc) {
    featread_close(&r);
    return rc;
  }
  *out = r;
  return MLY_OK;
}

enum mly_rc featread_open_outfile(struct outfile *o, struct featread **out, struct mly_err *err)
{
  *out = NULL;
  if(!o->closed || o->placed || o->fmt == OUTFMT_RAW || o->fmt == OUTFMT_PG)
    return mly_err_set(err, MLY_EINVAL, "'%s' cannot be read back",
                       o->fmt == OUTFMT_PG ? o->table : o->final_path); /* no conninfo */
  if(o->spooled) /* GDAL: the converted file, which keeps its extension */
    return featread_open(o->tmp_path, out, err);
  FILE *fp = o->copied ? o->fp : fopen(o->tmp_path, "rb");
  if(!fp || (o->copied && fseek(fp, 0, SEEK_SET) != 0))
    return mly_err_set(err, MLY_EIO, "cannot read back '%s': %s", o->final_path,
                       strerror(errno));
  enum mly_rc rc =
      featread_open_stream(fp, o->to_stdout ? "standard output" : o->final_path, out, err);
  if(rc && !o->copied)
    fclose(fp);
  else if(!rc)
    (*out)->own_fp = !o->copied;
  return rc;
}

const char *featread_format_name(const struct featread *r)
{
  return r->be->name;
}

enum mly_rc featread_next(struct featread *r, struct feature *f, bool *got, struct mly_err *err)
{
  *got = false;
  memset(f, 0, sizeof(*f));
  if(r->failed)
    return mly_err_set(err, MLY_EINVAL, "%s: reading stopped at an earlier error", r->shown);
  enum mly_rc rc = r->be->next(r, got, err);
  if(rc) {
    r->failed = true;
    *got = false;
    return rc;
  }
  if(!*got)
    return MLY_OK;
  f->properties = json_object_get(r->cur, "properties");
  f->geometry = json_object_get(r->cur, "geometry");
  if(json_is_null(f->geometry))
    f->geometry = NULL;
  f->index = r->index++;
  return MLY_OK;
}

void featread_close(struct featread **rp)
{
  struct featread *r = rp ? *rp : NULL;
  if(!r)
    return;
  if(r->be && r->be->close)
    r->be->close(r);
  if(r->own_fp && r->fp)
    fclose(r->fp);
  json_decref(r->cur);
  free(r->buf);
  free(r->path);
  free(r);
  *rp = NULL;
}

/* ---- positions -------------------------------------------------------------- */

bool feature_position(const json_t *pos, double *lon, double *lat)
{
  if(!json_is_array(pos) || json_array_size(pos) < 2)
    return false;
  json_t *x = json_array_get(pos, 0), *y = json_array_get(pos, 1);
  if(!json_is_number(x) || !json_is_number(y))
    return false;
  double a = json_number_value(x), b = json_number_value(y);
  if(!(a >= -180 && a <= 180 && b >= -90 && b <= 90))
    return false;
  *lon = a;
  *lat = b;
  return true;
}

bool feature_point(const struct feature *f, double *lon, double *lat)
{
  const char *t = json_string_value(json_object_get(f->geometry, "type"));
  return t && strcmp(t, "Point") == 0 &&
         feature_position(json_object_get(f->geometry, "coordinates"), lon, lat);
}
