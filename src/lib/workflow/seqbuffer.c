/* seqbuffer.c -- buffer sequence lines, drop the contained, clip the overlaps */
#include "mly/seqbuffer.h"

#include <geos_c.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mly/featread.h"
#include "mly/jsonw.h"
#include "mly/localproj.h"

/* shapely's default resolution, which geokit's buffers had */
#define SB_QUADSEGS 16
/* A buffer with less than this part of its area outside another lies
 * within it, and a clipped piece smaller than this part of its buffer is
 * dropped: buffers of one road made in different projections (metres, on
 * both sides of a cell's edge: 0.3 mm apart on a 24 m wide buffer 30 km
 * from the centres) or overlays' rounding differ by less, a real piece
 * by far more (1e-4 of a 24 m wide buffer is 2.4 mm of its width) */
#define SB_SLIVER 1e-4
/* progress is reported once per this many buffers */
#define SB_PROGRESS_EVERY 256
/* Prepared geometries kept at once: each holds indexes of its buffer's
 * edges (some times the buffer's own size), so they are made on first use
 * and the oldest goes when more would be kept. Step 1 visits the buffers
 * along a Hilbert curve, so the few it meets are mostly still here. */
#define SB_PREP_KEEP 256

struct sb_item {
  json_t *props;      /* a shallow copy of the feature's properties: ours */
  char *seq_id;       /* sequence_id as text for ranking ties; "" when none */
  GEOSGeometry *buf;  /* the buffer, lon/lat */
  const GEOSPreparedGeometry *prep; /* made on first use, kept while cached */
  double env[4];      /* buffer's bbox: minx, miny, maxx, maxy */
  double length;      /* ranking key: `length` property or metres */
  double area;        /* of the buffer, in its lon/lat units */
  double lon0, lat0;  /* centre of the metric projection */
  uint64_t index;     /* position in the input */
  bool dropped;
};

struct seqbuffer {
  GEOSContextHandle_t ctx;
  char geos_msg[200];
  struct seqbuffer_width width;
  struct sb_item *items;
  size_t n, cap;
  size_t prep_ring[SB_PREP_KEEP]; /* items given a prepared geometry, in turn */
  size_t nprep, prep_next;      /* ring entries used; the next to use (the oldest when full) */
  size_t *cand;         /* candidates of one STRtree query (item ranks) */
  size_t ncand, capcand;
  bool cand_nomem;
  double *xy;           /* scratch: one line's positions */
  size_t capxy;         /* in doubles */
  bool ran;
  struct seqbuffer_stats st;
};

static void sb_geos_error(const char *message, void *user)
{
  struct seqbuffer *b = user;
  snprintf(b->geos_msg, sizeof(b->geos_msg), "%s", message ? message : "");
}

static void sb_geos_notice(const char *message, void *user)
{
  (void)message;
  (void)user;
}

static enum mly_rc sb_geos_fail(struct seqbuffer *b, struct mly_err *err, const char *what)
{
  return mly_err_set(err, MLY_EGEOS, "%s: %s", what,
                     b->geos_msg[0] ? b->geos_msg : "unknown GEOS error");
}

enum mly_rc seqbuffer_parse_width(const char *text, struct seqbuffer_width *out,
                                  struct mly_err *err)
{
  size_t n = text ? strlen(text) : 0;
  size_t len = text ? mly_decimal_len(text, n) : 0;
  double v = len ? strtod(text, NULL) : 0.0;
  const char *end = text ? text + len : NULL;
  bool metres = false;
  if(len) {
    while(*end == ' ')
      end++;
    if(*end == 'm' || *end == 'M') {
      metres = true;
      end++;
    }
  }
  if(!len || *end || !isfinite(v) || !(v > 0.0))
    return mly_err_set(err, MLY_EINVAL, "--buffer '%.40s' is not a positive number of degrees "
                       "or of metres (e.g. 0.0001 or 12m)", text ? text : "");
  /* beyond these GEOS fails after the work (a width of 1e-300 degrees, a
   * buffer round half the earth), or the result means nothing */
  if(metres ? v < SEQBUFFER_MIN_M || v > SEQBUFFER_MAX_M
            : v < SEQBUFFER_MIN_DEG || v > SEQBUFFER_MAX_DEG)
    return mly_err_set(err, MLY_EINVAL, "--buffer '%.40s' is out of range: degrees from %g to %g, "
                       "metres from %g to %g", text, SEQBUFFER_MIN_DEG, SEQBUFFER_MAX_DEG,
                       SEQBUFFER_MIN_M, SEQBUFFER_MAX_M);
  out->value = v;
  out->metres = metres;
  return MLY_OK;
}

struct seqbuffer *seqbuffer_new(const struct seqbuffer_width *w)
{
  struct seqbuffer *b = calloc(1, sizeof(*b));
  if(!b)
    return NULL;
  b->ctx = GEOS_init_r();
  if(!b->ctx) {
    free(b);
    return NULL;
  }
  GEOSContext_setErrorMessageHandler_r(b->ctx, sb_geos_error, b);
  GEOSContext_setNoticeMessageHandler_r(b->ctx, sb_geos_notice, b);
  b->width = *w;
  return b;
}

void seqbuffer_free(struct seqbuffer **pb)
{
  struct seqbuffer *b = pb ? *pb : NULL;
  if(!b)
    return;
  for(size_t i = 0; i < b->n; i++) {
    struct sb_item *it = &b->items[i];
    /* GEOS: the prepared geometry goes before its base */
    if(it->prep)
      GEOSPreparedGeom_destroy_r(b->ctx, it->prep);
    if(it->buf)
      GEOSGeom_destroy_r(b->ctx, it->buf);
    json_decref(it->props);
    free(it->seq_id);
  }
  free(b->items);
  free(b->cand);
  free(b->xy);
  GEOS_finish_r(b->ctx);
  free(b);
  *pb = NULL;
}

/* ---- reading a line ----------------------------------------------------- */

/* The positions of one LineString's coordinates into b->xy (lon, lat
 * pairs); *n (OUT) positions */
static enum mly_rc sb_positions(struct seqbuffer *b, const json_t *coords, uint64_t index,
                                size_t *n, struct mly_err *err)
{
  if(!json_is_array(coords))
    return mly_err_set(err, MLY_EFORMAT, "feature %llu: line coordinates are not an array",
                       (unsigned long long)index);
  size_t k = json_array_size(coords);
  if(2 * k > b->capxy) {
    double *xy = realloc(b->xy, 2 * k * sizeof(*xy));
    if(!xy)
      return mly_err_set(err, MLY_ENOMEM, "out of memory for feature %llu",
                         (unsigned long long)index);
    b->xy = xy;
    b->capxy = 2 * k;
  }
  for(size_t i = 0; i < k; i++) {
    double x, y;
    if(!feature_position(json_array_get(coords, i), &x, &y))
      return mly_err_set(err, MLY_EFORMAT, "feature %llu: position %zu is not a longitude and a "
                         "latitude", (unsigned long long)index, i);
    b->xy[2 * i] = x;
    b->xy[2 * i + 1] = y;
  }
  *n = k;
  return MLY_OK;
}

/* true when the n positions in xy are not all one point */
static bool sb_has_extent(const double *xy, size_t n)
{
  for(size_t i = 1; i < n; i++)
    if(xy[2 * i] != xy[0] || xy[2 * i + 1] != xy[1])
      return true;
  return false;
}

/* Line i of a LineString (only 0) or MultiLineString (its members), as a
 * JSON coordinate array */
static const json_t *sb_line_at(const json_t *geometry, bool multi, size_t i)
{
  const json_t *coords = json_object_get(geometry, "coordinates");
  return multi ? json_array_get(coords, i) : coords;
}

/* Which kind of line geometry is: 1 LineString, 2 MultiLineString, 0
 * neither; *nlines (OUT) its lines, 0 when it is not a line */
static int sb_line_kind(const json_t *geometry, size_t *nlines)
{
  const char *type = json_string_value(json_object_get(geometry, "type"));
  const json_t *coords = json_object_get(geometry, "coordinates");
  *nlines = 0;
  if(!type || !json_is_array(coords))
    return 0;
  if(!strcmp(type, "LineString")) {
    *nlines = 1;
    return 1;
  }
  if(!strcmp(type, "MultiLineString")) {
    *nlines = json_array_size(coords);
    return 2;
  }
  return 0;
}

/* The bbox centre of every position of the line (first pass) */
static enum mly_rc sb_centre(struct seqbuffer *b, const json_t *geometry, bool multi,
                             size_t nlines, uint64_t index, double *lon0, double *lat0,
                             struct mly_err *err)
{
  double minx = INFINITY, miny = INFINITY, maxx = -INFINITY, maxy = -INFINITY;
  for(size_t l = 0; l < nlines; l++) {
    size_t k;
    enum mly_rc rc = sb_positions(b, sb_line_at(geometry, multi, l), index, &k, err);
    if(rc)
      return rc;
    for(size_t i = 0; i < k; i++) {
      minx = fmin(minx, b->xy[2 * i]);
      maxx = fmax(maxx, b->xy[2 * i]);
      miny = fmin(miny, b->xy[2 * i + 1]);
      maxy = fmax(maxy, b->xy[2 * i + 1]);
    }
  }
  *lon0 = (minx + maxx) / 2;
  *lat0 = (miny + maxy) / 2;
  return MLY_OK;
}

/* Build the GEOS (multi)line, in lon/lat or projected to metres around
 * (lon0, lat0); *length (OUT) in metres. *out NULL when no member has two
 * distinct positions. */
static enum mly_rc sb_build_line(struct seqbuffer *b, const json_t *geometry, bool multi,
                                 size_t nlines, const struct localproj *proj, uint64_t index,
                                 GEOSGeometry **out, double *length, struct mly_err *err)
{
  GEOSGeometry **parts = calloc(nlines ? nlines : 1, sizeof(*parts));
  size_t nparts = 0;
  enum mly_rc rc = MLY_OK;
  *out = NULL;
  *length = 0.0;
  if(!parts)
    return mly_err_set(err, MLY_ENOMEM, "out of memory for feature %llu",
                       (unsigned long long)index);
  for(size_t l = 0; l < nlines && !rc; l++) {
    size_t k;
    rc = sb_positions(b, sb_line_at(geometry, multi, l), index, &k, err);
    if(rc || !sb_has_extent(b->xy, k))
      continue;
    double px = 0, py = 0;
    for(size_t i = 0; i < k; i++) {
      double x, y;
      localproj_forward(proj, b->xy[2 * i], b->xy[2 * i + 1], &x, &y);
      if(i)
        *length += hypot(x - px, y - py);
      px = x;
      py = y;
      if(b->width.metres) {
        b->xy[2 * i] = x;
        b->xy[2 * i + 1] = y;
      }
    }
    GEOSCoordSequence *seq = GEOSCoordSeq_copyFromBuffer_r(b->ctx, b->xy, (unsigned)k, 0, 0);
    parts[nparts] = seq ? GEOSGeom_createLineString_r(b->ctx, seq) : NULL;
    if(!parts[nparts])
      rc = sb_geos_fail(b, err, "cannot build a line");
    else
      nparts++;
  }
  if(!rc && nparts == 1) {
    *out = parts[0];
    nparts = 0;
  } else if(!rc && nparts > 1) {
    *out = GEOSGeom_createCollection_r(b->ctx, GEOS_MULTILINESTRING, parts, (unsigned)nparts);
    if(!*out)
      rc = sb_geos_fail(b, err, "cannot build a multiline");
    else
      nparts = 0; /* the collection took them */
  }
  for(size_t i = 0; i < nparts; i++)
    GEOSGeom_destroy_r(b->ctx, parts[i]);
  free(parts);
  return rc;
}

/* Unproject callback for GEOSGeom_transformXY_r */
static int sb_unproject(double *x, double *y, void *user)
{
  localproj_inverse(user, *x, *y, x, y);
  return 1;
}

static int sb_project(double *x, double *y, void *user)
{
  localproj_forward(user, *x, *y, x, y);
  return 1;
}

/* sequence_id as text, as the other workflow commands read it, for ties */
static char *sb_seq_text(const json_t *props)
{
  char buf[JSONW_NUM_MAX];
  size_t n;
  const char *t = wf_prop_text(props, "sequence_id", buf, sizeof(buf), &n);
  return t ? strndup(t, n) : strdup("");
}

static enum mly_rc sb_push(struct seqbuffer *b, struct sb_item *it, struct mly_err *err)
{
  if(b->n == b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 64;
    struct sb_item *v = realloc(b->items, cap * sizeof(*v));
    if(!v)
      return mly_err_set(err, MLY_ENOMEM, "out of memory for %zu sequences", b->n + 1);
    b->items = v;
    b->cap = cap;
  }
  b->items[b->n++] = *it;
  return MLY_OK;
}

enum mly_rc seqbuffer_add(struct seqbuffer *b, const struct feature *f, struct mly_err *err)
{
  if(b->ran)
    return mly_err_set(err, MLY_EINVAL, "seqbuffer_add after seqbuffer_run");
  b->st.read++;
  size_t nlines;
  int kind = f->geometry ? sb_line_kind(f->geometry, &nlines) : 0;
  if(!kind || nlines == 0) {
    b->st.not_line++;
    return MLY_OK;
  }
  struct sb_item it = {.index = f->index};
  enum mly_rc rc = sb_centre(b, f->geometry, kind == 2, nlines, f->index, &it.lon0, &it.lat0,
                             err);
  if(rc)
    return rc;
  /* the projection of the 1 x 1 degree cell of the line's centre: lines
   * of one cell are buffered in one projection, so that a part of a road
   * is buffered exactly as the whole is, and lies within its buffer */
  it.lon0 = fmin(floor(it.lon0) + 0.5, 179.5);
  it.lat0 = fmax(fmin(floor(it.lat0) + 0.5, 89.5), -89.5);
  struct localproj proj;
  localproj_init(&proj, it.lon0, it.lat0);
  GEOSGeometry *line = NULL;
  rc = sb_build_line(b, f->geometry, kind == 2, nlines, &proj, f->index, &line, &it.length, err);
  if(rc)
    return rc;
  if(!line) {
    b->st.degenerate++;
    return MLY_OK;
  }
  const json_t *len = json_object_get(f->properties, "length");
  if(json_is_number(len) && isfinite(json_number_value(len)))
    it.length = json_number_value(len);
  b->geos_msg[0] = '\0';
  it.buf = GEOSBuffer_r(b->ctx, line, b->width.value, SB_QUADSEGS);
  GEOSGeom_destroy_r(b->ctx, line);
  if(it.buf && b->width.metres) {
    GEOSGeometry *ll = GEOSGeom_transformXY_r(b->ctx, it.buf, sb_unproject, &proj);
    GEOSGeom_destroy_r(b->ctx, it.buf);
    it.buf = ll;
  }
  if(!it.buf || !GEOSGeom_getExtent_r(b->ctx, it.buf, &it.env[0], &it.env[1], &it.env[2],
                                      &it.env[3])) {
    if(it.buf)
      GEOSGeom_destroy_r(b->ctx, it.buf);
    char what[64];
    snprintf(what, sizeof(what), "cannot buffer feature %llu", (unsigned long long)f->index);
    return sb_geos_fail(b, err, what);
  }
  if(!GEOSArea_r(b->ctx, it.buf, &it.area)) {
    GEOSGeom_destroy_r(b->ctx, it.buf);
    return sb_geos_fail(b, err, "cannot measure a buffer");
  }
  it.props = json_copy(f->properties);
  it.seq_id = sb_seq_text(f->properties);
  if(!it.props || !it.seq_id || (rc = sb_push(b, &it, err)) != MLY_OK) {
    GEOSGeom_destroy_r(b->ctx, it.buf);
    json_decref(it.props);
    free(it.seq_id);
    return rc ? rc : mly_err_set(err, MLY_ENOMEM, "out of memory for feature %llu",
                                 (unsigned long long)f->index);
  }
  return MLY_OK;
}

/* ---- dropping and clipping ---------------------------------------------- */

/* Rank: longer first, then sequence_id, then input order (a total order,
 * so the ranks never depend on the sort) */
static int sb_rank_cmp(const void *pa, const void *pb)
{
  const struct sb_item *a = pa, *b = pb;
  if(a->length != b->length)
    return a->length > b->length ? -1 : 1;
  int c = strcmp(a->seq_id, b->seq_id);
  if(c)
    return c;
  return a->index < b->index ? -1 : a->index > b->index;
}

static void sb_query_cb(void *item, void *user)
{
  struct seqbuffer *b = user;
  if(b->ncand == b->capcand) {
    size_t cap = b->capcand ? 2 * b->capcand : 64;
    size_t *v = realloc(b->cand, cap * sizeof(*v));
    if(!v) {
      b->cand_nomem = true;
      return;
    }
    b->cand = v;
    b->capcand = cap;
  }
  b->cand[b->ncand++] = (size_t)((struct sb_item *)item - b->items);
}

static int sb_size_cmp(const void *pa, const void *pb)
{
  size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
  return a < b ? -1 : a > b;
}

/* The ranks of the buffers whose bbox meets item i's, ascending, without i */
static enum mly_rc sb_candidates(struct seqbuffer *b, GEOSSTRtree *tree, size_t i,
                                 struct mly_err *err)
{
  b->ncand = 0;
  b->cand_nomem = false;
  GEOSSTRtree_query_r(b->ctx, tree, b->items[i].buf, sb_query_cb, b);
  if(b->cand_nomem)
    return mly_err_set(err, MLY_ENOMEM, "out of memory while comparing buffers");
  qsort(b->cand, b->ncand, sizeof(*b->cand), sb_size_cmp);
  size_t o = 0;
  for(size_t k = 0; k < b->ncand; k++)
    if(b->cand[k] != i)
      b->cand[o++] = b->cand[k];
  b->ncand = o;
  return MLY_OK;
}

static enum mly_rc sb_prepared(struct seqbuffer *b, size_t i, const GEOSPreparedGeometry **out,
                               struct mly_err *err)
{
  struct sb_item *it = &b->items[i];
  if(!it->prep) {
    /* the oldest kept goes (no caller holds one across this call) */
    if(b->nprep == SB_PREP_KEEP) {
      struct sb_item *old = &b->items[b->prep_ring[b->prep_next]];
      if(old->prep)
        GEOSPreparedGeom_destroy_r(b->ctx, old->prep);
      old->prep = NULL;
    } else {
      b->nprep++;
    }
    b->prep_ring[b->prep_next] = i;
    b->prep_next = (b->prep_next + 1) % SB_PREP_KEEP;
    it->prep = GEOSPrepare_r(b->ctx, it->buf);
    if(!it->prep)
      return sb_geos_fail(b, err, "cannot prepare a buffer");
  }
  *out = it->prep;
  return MLY_OK;
}

/* Whether bbox in lies within bbox out, give or take a millionth of in's size */
static bool sb_env_within(const double *in, const double *out)
{
  double tol = SB_SLIVER * fmax(in[2] - in[0], in[3] - in[1]);
  return in[0] >= out[0] - tol && in[1] >= out[1] - tol && in[2] <= out[2] + tol &&
         in[3] <= out[3] + tol;
}

/* *within (OUT): whether item i's buffer lies within item j's: contained,
 * or all but a sliver of it (SB_SLIVER) */
static enum mly_rc sb_within(struct seqbuffer *b, size_t i, size_t j, bool *within,
                             struct mly_err *err)
{
  struct sb_item *it = &b->items[i], *other = &b->items[j];
  const GEOSPreparedGeometry *pj = NULL;
  *within = false;
  if(!sb_env_within(it->env, other->env))
    return MLY_OK;
  enum mly_rc rc = sb_prepared(b, j, &pj, err);
  if(rc)
    return rc;
  char c = GEOSPreparedContains_r(b->ctx, pj, it->buf);
  if(c == 2)
    return sb_geos_fail(b, err, "cannot compare two buffers");
  if(c) {
    *within = true;
    return MLY_OK;
  }
  /* not quite: how much of it is outside? (rare enough to afford an overlay:
   * its bbox lies within the other's) */
  c = GEOSPreparedIntersects_r(b->ctx, pj, it->buf);
  if(c == 2)
    return sb_geos_fail(b, err, "cannot compare two buffers");
  if(!c)
    return MLY_OK;
  GEOSGeometry *d = GEOSDifference_r(b->ctx, it->buf, other->buf);
  double area = 0;
  int ok = d && GEOSArea_r(b->ctx, d, &area);
  if(d)
    GEOSGeom_destroy_r(b->ctx, d);
  if(!ok)
    return sb_geos_fail(b, err, "cannot compare two buffers");
  *within = area <= SB_SLIVER * it->area;
  return MLY_OK;
}

/* Step 1 for item i: dropped when another buffer contains it, unless the
 * two are equal and i ranks higher */
static enum mly_rc sb_drop_if_contained(struct seqbuffer *b, GEOSSTRtree *tree, size_t i,
                                        struct mly_err *err)
{
  struct sb_item *it = &b->items[i];
  enum mly_rc rc = sb_candidates(b, tree, i, err);
  for(size_t k = 0; !rc && k < b->ncand && !it->dropped; k++) {
    size_t j = b->cand[k];
    bool in = false, back = false;
    if((rc = sb_within(b, i, j, &in, err)) != MLY_OK || !in)
      continue;
    /* within a higher-ranked one; or a lower-ranked one that is not equal */
    if(j < i || (rc = sb_within(b, j, i, &back, err)) != MLY_OK || !back)
      it->dropped = !rc;
  }
  if(!rc && it->dropped)
    b->st.contained++;
  return rc;
}

/* The polygons of g (taken over) of min_area or more, as one Polygon or
 * MultiPolygon, NULL when it has none (an overlay may add lines or points
 * where edges touch) */
static GEOSGeometry *sb_polygonal(struct seqbuffer *b, GEOSGeometry *g, double min_area,
                                  bool *fail)
{
  *fail = false;
  int type = GEOSGeomTypeId_r(b->ctx, g);
  double area;
  if(type == GEOS_POLYGON && GEOSArea_r(b->ctx, g, &area) && area >= min_area)
    return g;
  int n = (type == GEOS_GEOMETRYCOLLECTION || type == GEOS_MULTIPOLYGON)
              ? GEOSGetNumGeometries_r(b->ctx, g)
          : type == GEOS_POLYGON ? 1
                                 : 0;
  GEOSGeometry **polys = calloc(n > 0 ? (size_t)n : 1, sizeof(*polys));
  unsigned np = 0;
  GEOSGeometry *out = NULL;
  if(!polys) {
    *fail = true;
    GEOSGeom_destroy_r(b->ctx, g);
    return NULL;
  }
  for(int k = 0; k < n; k++) {
    const GEOSGeometry *part = type == GEOS_POLYGON ? g : GEOSGetGeometryN_r(b->ctx, g, k);
    int pt = part ? GEOSGeomTypeId_r(b->ctx, part) : -1;
    /* slivers (SB_SLIVER) and the lines or points an overlay may leave go */
    if(pt == GEOS_POLYGON && GEOSArea_r(b->ctx, part, &area) && area >= min_area &&
       GEOSisEmpty_r(b->ctx, part) == 0) {
      polys[np] = GEOSGeom_clone_r(b->ctx, part);
      if(!polys[np]) {
        *fail = true;
        break;
      }
      np++;
    }
  }
  if(!*fail && np == 1) {
    out = polys[0];
    np = 0;
  } else if(!*fail && np > 1) {
    out = GEOSGeom_createCollection_r(b->ctx, GEOS_MULTIPOLYGON, polys, np);
    if(!out)
      *fail = true;
    else
      np = 0;
  }
  for(unsigned k = 0; k < np; k++)
    GEOSGeom_destroy_r(b->ctx, polys[k]);
  free(polys);
  GEOSGeom_destroy_r(b->ctx, g);
  return out;
}

/* Union of the buffers of the candidates kept in b->cand[0..m) */
static GEOSGeometry *sb_union_of(struct seqbuffer *b, size_t m)
{
  if(m == 1)
    return GEOSGeom_clone_r(b->ctx, b->items[b->cand[0]].buf);
  GEOSGeometry **gs = calloc(m, sizeof(*gs));
  if(!gs)
    return NULL;
  for(size_t k = 0; k < m; k++) {
    gs[k] = GEOSGeom_clone_r(b->ctx, b->items[b->cand[k]].buf);
    if(!gs[k]) {
      for(size_t q = 0; q < k; q++)
        GEOSGeom_destroy_r(b->ctx, gs[q]);
      free(gs);
      return NULL;
    }
  }
  GEOSGeometry *coll = GEOSGeom_createCollection_r(b->ctx, GEOS_GEOMETRYCOLLECTION, gs,
                                                   (unsigned)m);
  if(!coll) {
    for(size_t k = 0; k < m; k++)
      GEOSGeom_destroy_r(b->ctx, gs[k]);
    free(gs);
    return NULL;
  }
  free(gs);
  GEOSGeometry *u = GEOSUnaryUnion_r(b->ctx, coll);
  GEOSGeom_destroy_r(b->ctx, coll);
  return u;
}

/* The area of a result of item it, in the width's unit squared, set as
 * its `area` */
static enum mly_rc sb_set_area(struct seqbuffer *b, struct sb_item *it, const GEOSGeometry *result,
                               struct mly_err *err)
{
  double area = 0.0;
  int ok;
  if(b->width.metres) {
    struct localproj proj;
    localproj_init(&proj, it->lon0, it->lat0);
    GEOSGeometry *m = GEOSGeom_transformXY_r(b->ctx, result, sb_project, &proj);
    ok = m && GEOSArea_r(b->ctx, m, &area);
    if(m)
      GEOSGeom_destroy_r(b->ctx, m);
  } else {
    ok = GEOSArea_r(b->ctx, result, &area);
  }
  if(!ok)
    return sb_geos_fail(b, err, "cannot measure an area");
  if(json_object_set_new(it->props, "area", json_real(area)))
    return mly_err_set(err, MLY_ENOMEM, "out of memory for an area");
  return MLY_OK;
}

static json_t *sb_geometry_json(struct seqbuffer *b, const GEOSGeometry *g);

/* Hand a result to the caller, then let it go with the item's properties
 * (the item's buffer stays: lower-ranked ones are clipped by it) */
static enum mly_rc sb_emit(struct seqbuffer *b, struct sb_item *it, const GEOSGeometry *result,
                           seqbuffer_result_fn emit, void *user, struct mly_err *err)
{
  enum mly_rc rc = sb_set_area(b, it, result, err);
  if(rc)
    return rc;
  json_t *geometry = sb_geometry_json(b, result);
  if(!geometry)
    return mly_err_set(err, MLY_ENOMEM, "out of memory for a polygon's GeoJSON");
  b->st.results++;
  rc = emit ? emit(user, it->props, geometry, err) : MLY_OK;
  json_decref(geometry);
  json_decref(it->props);
  it->props = NULL;
  return rc;
}

/* Step 2 for item i: its buffer minus the higher-ranked buffers left.
 * Their clipped results together cover exactly their buffers, so taking
 * away the buffers takes away the results. */
static enum mly_rc sb_clip(struct seqbuffer *b, GEOSSTRtree *tree, size_t i,
                           seqbuffer_result_fn emit, void *user, struct mly_err *err)
{
  struct sb_item *it = &b->items[i];
  enum mly_rc rc = sb_candidates(b, tree, i, err);
  if(rc)
    return rc;
  /* prepared for this one test only: never met again in this step */
  const GEOSPreparedGeometry *pi = GEOSPrepare_r(b->ctx, it->buf);
  if(!pi)
    return sb_geos_fail(b, err, "cannot prepare a buffer");
  size_t m = 0;
  for(size_t k = 0; k < b->ncand && b->cand[k] < i; k++) {
    size_t j = b->cand[k];
    if(b->items[j].dropped)
      continue;
    char c = GEOSPreparedIntersects_r(b->ctx, pi, b->items[j].buf);
    if(c == 2) {
      GEOSPreparedGeom_destroy_r(b->ctx, pi);
      return sb_geos_fail(b, err, "cannot compare two buffers");
    }
    if(c)
      b->cand[m++] = j;
  }
  GEOSPreparedGeom_destroy_r(b->ctx, pi);
  GEOSGeometry *g;
  if(m == 0) {
    g = GEOSGeom_clone_r(b->ctx, it->buf);
  } else {
    GEOSGeometry *u = sb_union_of(b, m);
    g = u ? GEOSDifference_r(b->ctx, it->buf, u) : NULL;
    if(u)
      GEOSGeom_destroy_r(b->ctx, u);
  }
  if(!g)
    return sb_geos_fail(b, err, "cannot clip a buffer");
  bool fail;
  GEOSGeometry *result = sb_polygonal(b, g, SB_SLIVER * it->area, &fail);
  if(fail)
    return mly_err_set(err, MLY_ENOMEM, "out of memory while clipping");
  if(!result) {
    it->dropped = true;
    b->st.covered++;
    return MLY_OK;
  }
  if(m)
    b->st.clipped++;
  rc = sb_emit(b, it, result, emit, user, err);
  GEOSGeom_destroy_r(b->ctx, result);
  return rc;
}

/* Position of (x, y), each in [0, 2^16), along a Hilbert curve filling
 * that square: buffers near each other on the ground come near each other
 * in this order, so step 1 finds the prepared geometries it needs kept */
static uint64_t sb_hilbert(uint32_t x, uint32_t y)
{
  const uint32_t n = 1u << 16;
  uint64_t d = 0;
  for(uint32_t s = n / 2; s > 0; s /= 2) {
    uint32_t rx = (x & s) ? 1 : 0, ry = (y & s) ? 1 : 0;
    d += (uint64_t)s * s * ((3 * rx) ^ ry);
    if(!ry) { /* turn the quadrant so the curve inside it runs the right way */
      if(rx) {
        x = n - 1 - x;
        y = n - 1 - y;
      }
      uint32_t t = x;
      x = y;
      y = t;
    }
  }
  return d;
}

struct sb_visit {
  uint64_t key;
  size_t rank;
};

static int sb_visit_cmp(const void *pa, const void *pb)
{
  const struct sb_visit *a = pa, *b = pb;
  if(a->key != b->key)
    return a->key < b->key ? -1 : 1;
  return a->rank < b->rank ? -1 : a->rank > b->rank;
}

/* The items' ranks along a Hilbert curve over their bboxes' centres.
 * Step 1's outcome does not depend on the order (each buffer is tested
 * against every other it meets, dropped or not); its memory does. */
static size_t *sb_spatial_order(struct seqbuffer *b)
{
  struct sb_visit *v = malloc((b->n ? b->n : 1) * sizeof(*v));
  size_t *order = malloc((b->n ? b->n : 1) * sizeof(*order));
  if(!v || !order) {
    free(v);
    free(order);
    return NULL;
  }
  double minx = INFINITY, miny = INFINITY, maxx = -INFINITY, maxy = -INFINITY;
  for(size_t i = 0; i < b->n; i++) {
    const double *e = b->items[i].env;
    minx = fmin(minx, (e[0] + e[2]) / 2);
    maxx = fmax(maxx, (e[0] + e[2]) / 2);
    miny = fmin(miny, (e[1] + e[3]) / 2);
    maxy = fmax(maxy, (e[1] + e[3]) / 2);
  }
  double span = fmax(maxx - minx, maxy - miny);
  double scale = span > 0 ? 65535.0 / span : 0.0;
  for(size_t i = 0; i < b->n; i++) {
    const double *e = b->items[i].env;
    uint32_t x = (uint32_t)(((e[0] + e[2]) / 2 - minx) * scale);
    uint32_t y = (uint32_t)(((e[1] + e[3]) / 2 - miny) * scale);
    v[i] = (struct sb_visit){sb_hilbert(x > 65535 ? 65535 : x, y > 65535 ? 65535 : y), i};
  }
  qsort(v, b->n, sizeof(*v), sb_visit_cmp);
  for(size_t i = 0; i < b->n; i++)
    order[i] = v[i].rank;
  free(v);
  return order;
}

/* Between the steps: the prepared geometries go, and so do the buffers and
 * properties of the dropped (step 2 never looks at them; the STRtree keeps
 * its own copy of each bbox) */
static void sb_release_after_step1(struct seqbuffer *b)
{
  for(size_t i = 0; i < b->n; i++) {
    struct sb_item *it = &b->items[i];
    if(it->prep)
      GEOSPreparedGeom_destroy_r(b->ctx, it->prep);
    it->prep = NULL;
    if(it->dropped) {
      GEOSGeom_destroy_r(b->ctx, it->buf);
      it->buf = NULL;
      json_decref(it->props);
      it->props = NULL;
    }
  }
  b->nprep = b->prep_next = 0;
}

enum mly_rc seqbuffer_run(struct seqbuffer *b, seqbuffer_progress_fn progress,
                          seqbuffer_result_fn emit, void *user, struct mly_err *err)
{
  if(b->ran)
    return mly_err_set(err, MLY_EINVAL, "seqbuffer_run called twice");
  b->ran = true;
  if(b->n)
    qsort(b->items, b->n, sizeof(*b->items), sb_rank_cmp);
  size_t *order = sb_spatial_order(b);
  GEOSSTRtree *tree = GEOSSTRtree_create_r(b->ctx, 10);
  if(!order || !tree) {
    if(tree)
      GEOSSTRtree_destroy_r(b->ctx, tree);
    free(order);
    return mly_err_set(err, MLY_ENOMEM, "out of memory for %zu buffers", b->n);
  }
  for(size_t i = 0; i < b->n; i++)
    GEOSSTRtree_insert_r(b->ctx, tree, b->items[i].buf, &b->items[i]);
  enum mly_rc rc = MLY_OK;
  for(int step = 1; step <= 2 && !rc; step++) {
    for(size_t k = 0; k < b->n && !rc; k++) {
      if(progress && k % SB_PROGRESS_EVERY == 0 && !progress(user, step, k, b->n))
        rc = mly_err_set(err, MLY_ESTOP, "stopped");
      if(rc)
        break;
      if(step == 1)
        rc = sb_drop_if_contained(b, tree, order[k], err);
      else if(!b->items[k].dropped) /* in rank order: the results' order */
        rc = sb_clip(b, tree, k, emit, user, err);
    }
    if(!rc && progress && !progress(user, step, b->n, b->n))
      rc = mly_err_set(err, MLY_ESTOP, "stopped");
    if(step == 1)
      sb_release_after_step1(b);
  }
  GEOSSTRtree_destroy_r(b->ctx, tree);
  free(order);
  return rc;
}

void seqbuffer_get_stats(const struct seqbuffer *b, struct seqbuffer_stats *out)
{
  *out = b->st;
}

/* ---- results as GeoJSON ------------------------------------------------- */

/* One ring's positions, counterclockwise when ccw (RFC 7946 3.1.6) */
static json_t *sb_ring_json(struct seqbuffer *b, const GEOSGeometry *ring, bool ccw)
{
  const GEOSCoordSequence *seq = GEOSGeom_getCoordSeq_r(b->ctx, ring);
  unsigned n = 0;
  char is_ccw = 0;
  if(!seq || !GEOSCoordSeq_getSize_r(b->ctx, seq, &n) ||
     !GEOSCoordSeq_isCCW_r(b->ctx, seq, &is_ccw))
    return NULL;
  bool reverse = (is_ccw != 0) != ccw;
  json_t *arr = json_array();
  for(unsigned k = 0; arr && k < n; k++) {
    double x, y;
    unsigned at = reverse ? n - 1 - k : k;
    json_t *pos = GEOSCoordSeq_getXY_r(b->ctx, seq, at, &x, &y) ? json_array() : NULL;
    if(!pos || json_array_append_new(pos, json_real(x)) ||
       json_array_append_new(pos, json_real(y)) || json_array_append_new(arr, pos)) {
      json_decref(arr);
      return NULL;
    }
  }
  return arr;
}

static json_t *sb_polygon_json(struct seqbuffer *b, const GEOSGeometry *poly)
{
  int nholes = GEOSGetNumInteriorRings_r(b->ctx, poly);
  const GEOSGeometry *shell = GEOSGetExteriorRing_r(b->ctx, poly);
  json_t *rings = json_array();
  if(!rings || nholes < 0 || !shell ||
     json_array_append_new(rings, sb_ring_json(b, shell, true))) {
    json_decref(rings);
    return NULL;
  }
  for(int h = 0; h < nholes; h++) {
    const GEOSGeometry *hole = GEOSGetInteriorRingN_r(b->ctx, poly, h);
    if(!hole || json_array_append_new(rings, sb_ring_json(b, hole, false))) {
      json_decref(rings);
      return NULL;
    }
  }
  return rings;
}

static json_t *sb_geometry_json(struct seqbuffer *b, const GEOSGeometry *g)
{
  bool multi = GEOSGeomTypeId_r(b->ctx, g) == GEOS_MULTIPOLYGON;
  json_t *coords;
  if(!multi) {
    coords = sb_polygon_json(b, g);
  } else {
    int n = GEOSGetNumGeometries_r(b->ctx, g);
    coords = json_array();
    for(int k = 0; coords && k < n; k++) {
      const GEOSGeometry *part = GEOSGetGeometryN_r(b->ctx, g, k);
      if(!part || json_array_append_new(coords, sb_polygon_json(b, part))) {
        json_decref(coords);
        coords = NULL;
      }
    }
  }
  if(!coords)
    return NULL;
  json_t *geom = json_object();
  if(!geom || json_object_set_new(geom, "type", json_string(multi ? "MultiPolygon" : "Polygon")) ||
     json_object_set_new(geom, "coordinates", coords)) {
    json_decref(geom);
    return NULL;
  }
  return geom;
}

/* ---- a file to a file ----------------------------------------------------- */

struct sb_file {
  struct seqbuffer *b;
  const struct seqbuffer_opts *o;
  struct wf_out out;
};

static enum mly_rc sb_file_add(void *user, const struct feature *f, struct mly_err *err)
{
  struct sb_file *run = user;
  return seqbuffer_add(run->b, f, err);
}

static bool sb_file_progress(void *user, int step, size_t done, size_t total)
{
  struct sb_file *run = user;
  (void)total;
  wf_report(run->o->progress, step == 1 ? "dropping buffers within another" : "clipping overlaps",
            done);
  return !wf_stopped(run->o->progress);
}

static enum mly_rc sb_file_write(void *user, json_t *properties, json_t *geometry,
                                 struct mly_err *err)
{
  struct sb_file *run = user;
  return wf_out_feature(&run->out, properties, geometry, err);
}

enum mly_rc seqbuffer_simplify(const struct seqbuffer_opts *o, struct seqbuffer_stats *st,
                               struct mly_err *err)
{
  struct sb_file run = {.o = o};
  struct wf_input in;
  memset(st, 0, sizeof(*st));
  /* the input is read whole, once, before any output: standard input is
   * not copied, and a broken input is found by that pass */
  enum mly_rc rc = outfile_prepare_dir(o->output, err);
  if(rc)
    return rc;
  wf_input_once(&in, o->input);
  run.b = seqbuffer_new(&o->width);
  if(!run.b)
    rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
  if(!rc)
    rc = wf_each(&in, sb_file_add, &run, o->progress, "buffering", err);
  wf_input_cleanup(&in);
  if(!rc)
    st->started = true;
  if(!rc)
    rc = wf_out_open(&run.out, o->output, err);
  if(!rc)
    rc = seqbuffer_run(run.b, sb_file_progress, sb_file_write, &run, err);
  if(!rc)
    rc = wf_out_publish(&run.out, err);
  wf_out_cleanup(&run.out);
  if(run.b) {
    bool started = st->started;
    seqbuffer_get_stats(run.b, st);
    st->started = started;
  }
  seqbuffer_free(&run.b);
  return rc;
}
