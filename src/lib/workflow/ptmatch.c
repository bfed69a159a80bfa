/* ptmatch.c -- match_point_sequences (see ptmatch.h) */
#include "mly/ptmatch.h"
#include "mly/jsonw.h"
#include "mly/strtab.h"

#include <geos_c.h>
#include <stdlib.h>
#include <string.h>

/* The prepared polygons of one sequence */
struct seqpolys {
  const GEOSPreparedGeometry **prep;
  size_t n, cap;
};

struct match {
  const struct ptmatch_opts *o;
  struct ptmatch_stats *st;
  GEOSContextHandle_t ctx;
  GEOSGeoJSONReader *reader;
  struct strtab *ids;   /* polygons' sequence ids first: index < npolyseq */
  struct seqpolys *seqs;
  size_t nseqs;
  GEOSGeometry **geoms; /* every polygon, owned */
  size_t ngeoms, geoms_cap;
  struct dbuf text;
  struct wf_out *out;
};

static void geos_quiet(const char *fmt, ...)
{
  (void)fmt;
}

static enum mly_rc grow(void **p, size_t *cap, size_t need, size_t size)
{
  if(need <= *cap)
    return MLY_OK;
  size_t c = *cap ? *cap * 2 : 64;
  while(c < need)
    c *= 2;
  void *np = realloc(*p, c * size);
  if(!np)
    return MLY_ENOMEM;
  memset((char *)np + *cap * size, 0, (c - *cap) * size);
  *p = np;
  *cap = c;
  return MLY_OK;
}

/* wf_feature_fn: one polygon feature into its sequence's list */
static enum mly_rc add_polygon(void *user, const struct feature *f, struct mly_err *err)
{
  struct match *m = user;
  m->st->polygons++;
  char buf[JSONW_NUM_MAX];
  size_t n;
  const char *sid = wf_prop_text(f->properties, "sequence_id", buf, sizeof(buf), &n);
  const char *t = json_string_value(json_object_get(f->geometry, "type"));
  if(!sid || !n || !t || (strcmp(t, "Polygon") != 0 && strcmp(t, "MultiPolygon") != 0)) {
    m->st->polygons_skipped++;
    return MLY_OK;
  }
  dbuf_reset(&m->text);
  enum mly_rc rc = feature_write_geometry(&m->text, f->geometry);
  if(rc || !dbuf_cstr(&m->text))
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  GEOSGeometry *g = GEOSGeoJSONReader_readGeometry_r(m->ctx, m->reader, m->text.p);
  if(!g) {
    m->st->polygons_skipped++; /* coordinates GEOS cannot take */
    return MLY_OK;
  }
  if(GEOSisValid_r(m->ctx, g) != 1) {
    GEOSGeometry *v = GEOSMakeValid_r(m->ctx, g);
    GEOSGeom_destroy_r(m->ctx, g);
    g = v;
    if(!g)
      return mly_err_set(err, MLY_EGEOS, "%s: feature %llu: cannot make the polygon valid",
                         m->o->polygons, (unsigned long long)f->index);
  }
  uint32_t idx;
  if((rc = strtab_intern(m->ids, sid, n, &idx)) ||
     (rc = grow((void **)&m->seqs, &m->nseqs, (size_t)idx + 1, sizeof(*m->seqs))) ||
     (rc = grow((void **)&m->geoms, &m->geoms_cap, m->ngeoms + 1, sizeof(*m->geoms)))) {
    GEOSGeom_destroy_r(m->ctx, g);
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  }
  m->geoms[m->ngeoms++] = g;
  struct seqpolys *s = &m->seqs[idx];
  if((rc = grow((void **)&s->prep, &s->cap, s->n + 1, sizeof(*s->prep))))
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  if(!(s->prep[s->n] = GEOSPrepare_r(m->ctx, g)))
    return mly_err_set(err, MLY_EGEOS, "%s: feature %llu: cannot prepare the polygon",
                       m->o->polygons, (unsigned long long)f->index);
  s->n++;
  return MLY_OK;
}

/* Whether the point feature f lies in a polygon of its own sequence */
static bool matches(struct match *m, const struct feature *f, enum mly_rc *rc)
{
  char buf[JSONW_NUM_MAX];
  size_t n;
  double lon, lat;
  *rc = MLY_OK;
  const char *sid = wf_prop_text(f->properties, "sequence_id", buf, sizeof(buf), &n);
  if(!sid || !n || !feature_point(f, &lon, &lat)) {
    m->st->points_skipped++;
    return false;
  }
  uint32_t idx;
  /* the points' own sequences are interned after the polygons': an index
   * past the polygons' is a sequence without one */
  if((*rc = strtab_intern(m->ids, sid, n, &idx)) || idx >= m->nseqs || !m->seqs[idx].n)
    return false;
  m->st->in_sequence++;
  const struct seqpolys *s = &m->seqs[idx];
  bool in = false;
#if GEOS_VERSION_MAJOR > 3 || (GEOS_VERSION_MAJOR == 3 && GEOS_VERSION_MINOR >= 12)
  for(size_t i = 0; i < s->n && !in; i++)
    in = GEOSPreparedIntersectsXY_r(m->ctx, s->prep[i], lon, lat) == 1;
#else
  GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(m->ctx, lon, lat);
  for(size_t i = 0; pt && i < s->n && !in; i++)
    in = GEOSPreparedIntersects_r(m->ctx, s->prep[i], pt) == 1;
  if(pt)
    GEOSGeom_destroy_r(m->ctx, pt);
  else
    *rc = MLY_ENOMEM;
#endif
  return in;
}

/* wf_feature_fn: a point out when it matches */
static enum mly_rc point_one(void *user, const struct feature *f, struct mly_err *err)
{
  struct match *m = user;
  enum mly_rc rc;
  m->st->points++;
  if(matches(m, f, &rc)) {
    m->st->matched++;
    return wf_out_feature(m->out, f->properties, f->geometry, err);
  }
  return rc ? mly_err_set(err, rc, "out of memory") : MLY_OK;
}

enum mly_rc ptmatch_run(const struct ptmatch_opts *o, struct ptmatch_stats *st,
                        struct mly_err *err)
{
  memset(st, 0, sizeof(*st));
  struct match m;
  memset(&m, 0, sizeof(m));
  m.o = o;
  m.st = st;
  struct wf_input polys, points;
  struct wf_out out;
  m.out = &out;
  memset(&out, 0, sizeof(out));
  memset(&points, 0, sizeof(points));
  memset(&polys, 0, sizeof(polys));
  enum mly_rc rc = MLY_OK;
  if(strcmp(o->polygons, "-") == 0 && strcmp(o->points, "-") == 0)
    rc = mly_err_set(err, MLY_EINVAL, "the polygons and the points cannot both be standard input");
  if(!rc)
    rc = wf_input_init(&polys, o->polygons, err);
  if(!rc)
    rc = wf_begin(&points, o->points, o->output, err);
  if(rc) {
    wf_input_cleanup(&polys);
    wf_input_cleanup(&points);
    return rc;
  }
  st->started = true;
  dbuf_init(&m.text, (size_t)FEATREAD_FEATURE_MAX * 2);
  m.ctx = GEOS_init_r();
  m.ids = strtab_new();
  if(m.ctx) {
    GEOSContext_setNoticeHandler_r(m.ctx, geos_quiet);
    GEOSContext_setErrorHandler_r(m.ctx, geos_quiet);
    m.reader = GEOSGeoJSONReader_create_r(m.ctx);
  }
  if(!m.ctx || !m.ids || !m.reader)
    rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
  if(!rc)
    rc = wf_each(&polys, add_polygon, &m, NULL, NULL, err);
  if(!rc)
    m.nseqs = strtab_count(m.ids) < m.nseqs ? strtab_count(m.ids) : m.nseqs;
  if(!rc)
    rc = wf_out_open(&out, o->output, err);
  if(!rc)
    rc = wf_each(&points, point_one, &m, o->progress, "points", err);
  if(!rc)
    rc = wf_out_publish(&out, err);
  wf_out_cleanup(&out);
  for(size_t i = 0; i < m.nseqs; i++) {
    for(size_t k = 0; k < m.seqs[i].n; k++)
      GEOSPreparedGeom_destroy_r(m.ctx, m.seqs[i].prep[k]);
    free(m.seqs[i].prep);
  }
  for(size_t i = 0; i < m.ngeoms; i++)
    GEOSGeom_destroy_r(m.ctx, m.geoms[i]);
  free(m.geoms);
  free(m.seqs);
  if(m.reader)
    GEOSGeoJSONReader_destroy_r(m.ctx, m.reader);
  if(m.ctx)
    GEOS_finish_r(m.ctx);
  strtab_free(&m.ids);
  dbuf_cleanup(&m.text);
  wf_input_cleanup(&polys);
  wf_input_cleanup(&points);
  return rc;
}
