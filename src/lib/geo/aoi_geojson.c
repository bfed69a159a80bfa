/* aoi_geojson.c -- GeoJSON (RFC 7946) polygons into GEOS areas, grouped by a property */
#include "aoi_internal.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Polygons collected for one area (owned GEOS geometries) */
struct gj_polys {
  GEOSGeometry **v;
  size_t n, cap;
};

struct gj_group {
  char *name; /* safe name, or NULL without a field name */
  struct gj_polys polys;
};

struct gj {
  struct aoi_set *set;
  GEOSContextHandle_t ctx;
  const char *source;   /* the input, for messages: at most 60 bytes */
  const char *field;    /* the property to group by, or NULL */
  struct mly_err *err;
  char where[112];      /* "feature 3 (id \"x\")", "geometry" or "" */
  char path[72];        /* inside a geometry: "member 1 polygon 2 " */
  struct gj_group *groups;
  size_t ngroups, capgroups;
  size_t *slots;        /* hash of group names: group index + 1, 0 = free */
  size_t nslots;
  double *xy;           /* scratch: one ring's coordinates */
  size_t xycap;         /* in doubles */
  size_t npolys;        /* polygons found in the whole input */
};

/* Fail with "<source>: <where> <detail>" so every message says where */
static enum mly_rc gj_fail(struct gj *g, enum mly_rc rc, const char *fmt, ...) MLY_PRINTF(3, 4);
static enum mly_rc gj_fail(struct gj *g, enum mly_rc rc, const char *fmt, ...)
{
  char detail[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof(detail), fmt, ap);
  va_end(ap);
  return mly_err_set(g->err, rc, "%s: %s%s%s", g->source, g->where, g->where[0] ? " " : "",
                     detail);
}

static enum mly_rc gj_nomem(struct gj *g)
{
  return mly_err_set(g->err, MLY_ENOMEM, "%s: out of memory", g->source);
}

/* Copy a JSON string for a message: at most 40 bytes, printable ASCII */
static void gj_quote(const char *s, size_t n, char *out, size_t cap)
{
  size_t o = 0;
  for(size_t i = 0; i < n && o + 4 < cap; i++) {
    if(i == 40) {
      memcpy(out + o, "...", 3);
      o += 3;
      break;
    }
    unsigned char c = (unsigned char)s[i];
    out[o++] = (c >= 0x20 && c < 0x7f && c != '"') ? (char)c : '?';
  }
  out[o] = '\0';
}

/* Write a double the way Python's repr() does (shortest round-trip
 * digits; exponent form below 1e-4 and from 1e16 on; ".0" on integral
 * values): geokit built its file names with Python, so ours match. */
static void gj_number_text(double v, char *out, size_t cap)
{
  char e[40];
  int p;
  for(p = 1; p <= 17; p++) {
    snprintf(e, sizeof(e), "%.*e", p - 1, v);
    if(strtod(e, NULL) == v)
      break;
  }
  /* e is "-d.ddde+XX": split it into sign, digits and decimal exponent */
  const char *s = e;
  bool neg = (*s == '-');
  if(neg)
    s++;
  char digits[24];
  size_t nd = 0;
  for(; *s && *s != 'e'; s++)
    if(*s >= '0' && *s <= '9' && nd < sizeof(digits) - 1)
      digits[nd++] = *s;
  digits[nd] = '\0';
  int exp10 = (*s == 'e') ? atoi(s + 1) : 0;
  while(nd > 1 && digits[nd - 1] == '0')
    digits[--nd] = '\0';
  if(v == 0.0)
    exp10 = 0;
  int decpt = exp10 + 1; /* digits[0] sits just left of position decpt */

  size_t o = 0;
#define GJ_PUT(ch)       \
  do {                   \
    if(o + 1 < cap)      \
      out[o++] = (ch);   \
  } while(0)
  if(neg)
    GJ_PUT('-');
  if(decpt <= -4 || decpt > 16) {
    GJ_PUT(digits[0]);
    if(nd > 1) {
      GJ_PUT('.');
      for(size_t i = 1; i < nd; i++)
        GJ_PUT(digits[i]);
    }
    char ex[16];
    snprintf(ex, sizeof(ex), "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    for(char *c = ex; *c; c++)
      GJ_PUT(*c);
  }
  else if(decpt <= 0) {
    GJ_PUT('0');
    GJ_PUT('.');
    for(int i = 0; i < -decpt; i++)
      GJ_PUT('0');
    for(size_t i = 0; i < nd; i++)
      GJ_PUT(digits[i]);
  }
  else {
    for(int i = 0; i < decpt || (size_t)i < nd; i++) {
      if(i == decpt)
        GJ_PUT('.');
      GJ_PUT((size_t)i < nd ? digits[i] : '0');
    }
    if((size_t)decpt >= nd) {
      GJ_PUT('.');
      GJ_PUT('0');
    }
  }
#undef GJ_PUT
  out[o] = '\0';
}

bool mly__aoi_safe_name(const char *value, size_t len, char *out, size_t cap)
{
  size_t o = 0;
  for(size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)value[i];
    if(o + 1 >= cap)
      return false;
    if((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
       c == '_' || c == '.') {
      out[o++] = (char)c;
      continue;
    }
    /* one '_' per character, not per byte: skip UTF-8 continuation bytes
     * (jansson has already rejected invalid UTF-8) */
    out[o++] = '_';
    while(i + 1 < len && ((unsigned char)value[i + 1] & 0xC0) == 0x80)
      i++;
  }
  if(o == 0)
    return false;
  out[o] = '\0';
  /* a leading '.' would make a hidden file, or "." and ".." */
  if(out[0] == '.')
    out[0] = '_';
  return true;
}

/* ---- polygon lists and groups ---- */

static void gj_polys_clear(struct gj *g, struct gj_polys *p)
{
  for(size_t i = 0; i < p->n; i++)
    GEOSGeom_destroy_r(g->ctx, p->v[i]);
  free(p->v);
  p->v = NULL;
  p->n = p->cap = 0;
}

/* Append geom to p; takes geom over, also on failure */
static enum mly_rc gj_polys_push(struct gj *g, struct gj_polys *p, GEOSGeometry *geom)
{
  if(p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 4;
    GEOSGeometry **v = realloc(p->v, cap * sizeof(*v));
    if(!v) {
      GEOSGeom_destroy_r(g->ctx, geom);
      return gj_nomem(g);
    }
    p->v = v;
    p->cap = cap;
  }
  p->v[p->n++] = geom;
  return MLY_OK;
}

/* Move every polygon of src to the end of dst */
static enum mly_rc gj_polys_move(struct gj *g, struct gj_polys *dst, struct gj_polys *src)
{
  enum mly_rc rc = MLY_OK;
  size_t i;
  for(i = 0; i < src->n && !rc; i++)
    rc = gj_polys_push(g, dst, src->v[i]);
  /* the pushed ones (and the failed one) are dst's or gone now */
  for(; i < src->n; i++)
    GEOSGeom_destroy_r(g->ctx, src->v[i]);
  free(src->v);
  src->v = NULL;
  src->n = src->cap = 0;
  return rc;
}

static size_t gj_hash(const char *s)
{
  size_t h = (size_t)14695981039346656037ULL;
  for(; *s; s++)
    h = (h ^ (unsigned char)*s) * (size_t)1099511628211ULL;
  return h;
}

static enum mly_rc gj_slots_grow(struct gj *g)
{
  size_t n = g->nslots ? g->nslots * 2 : 64;
  size_t *slots = calloc(n, sizeof(*slots));
  if(!slots)
    return gj_nomem(g);
  for(size_t i = 0; i < g->ngroups; i++) {
    size_t h = gj_hash(g->groups[i].name) & (n - 1);
    while(slots[h])
      h = (h + 1) & (n - 1);
    slots[h] = i + 1;
  }
  free(g->slots);
  g->slots = slots;
  g->nslots = n;
  return MLY_OK;
}

/* The group for name (NULL: the one group without a field), created on
 * first sight so groups keep the order of first appearance */
static enum mly_rc gj_group_get(struct gj *g, const char *name, struct gj_group **out)
{
  size_t h = 0;
  if(name) {
    if(g->ngroups * 2 >= g->nslots && gj_slots_grow(g))
      return MLY_ENOMEM;
    h = gj_hash(name) & (g->nslots - 1);
    while(g->slots[h]) {
      struct gj_group *gr = &g->groups[g->slots[h] - 1];
      if(strcmp(gr->name, name) == 0) {
        *out = gr;
        return MLY_OK;
      }
      h = (h + 1) & (g->nslots - 1);
    }
  }
  else if(g->ngroups) {
    *out = &g->groups[0];
    return MLY_OK;
  }
  if(g->ngroups == g->capgroups) {
    size_t cap = g->capgroups ? g->capgroups * 2 : 4;
    struct gj_group *v = realloc(g->groups, cap * sizeof(*v));
    if(!v)
      return gj_nomem(g);
    g->groups = v;
    g->capgroups = cap;
  }
  struct gj_group *gr = &g->groups[g->ngroups];
  memset(gr, 0, sizeof(*gr));
  if(name) {
    gr->name = strdup(name);
    if(!gr->name)
      return gj_nomem(g);
    g->slots[h] = g->ngroups + 1;
  }
  g->ngroups++;
  *out = gr;
  return MLY_OK;
}

/* ---- geometry ---- */

/* Clone every non-empty polygon of geom into out (it may be a Polygon,
 * MultiPolygon or GeometryCollection, as GEOSMakeValid returns) */
static enum mly_rc gj_take_polygons(struct gj *g, const GEOSGeometry *geom, struct gj_polys *out)
{
  int type = GEOSGeomTypeId_r(g->ctx, geom);
  if(type == GEOS_POLYGON) {
    if(GEOSisEmpty_r(g->ctx, geom))
      return MLY_OK;
    GEOSGeometry *c = GEOSGeom_clone_r(g->ctx, geom);
    if(!c)
      return gj_fail(g, MLY_EGEOS, "%scannot copy a polygon: %s", g->path,
                     mly__aoi_geos_msg(g->set));
    return gj_polys_push(g, out, c);
  }
  if(type == GEOS_MULTIPOLYGON || type == GEOS_GEOMETRYCOLLECTION) {
    int n = GEOSGetNumGeometries_r(g->ctx, geom);
    for(int i = 0; i < n; i++) {
      const GEOSGeometry *part = GEOSGetGeometryN_r(g->ctx, geom, i);
      enum mly_rc rc = part ? gj_take_polygons(g, part, out) : MLY_OK;
      if(rc)
        return rc;
    }
  }
  return MLY_OK;
}

/* One position: [lon, lat, ...] with finite numbers in range */
static enum mly_rc gj_position(struct gj *g, json_t *pos, size_t r, size_t k, double *xy)
{
  if(!json_is_array(pos) || json_array_size(pos) < 2)
    return gj_fail(g, MLY_EFORMAT, "%sring %zu position %zu is not an array of 2 numbers", g->path,
                   r, k);
  json_t *jx = json_array_get(pos, 0), *jy = json_array_get(pos, 1);
  if(!json_is_number(jx) || !json_is_number(jy))
    return gj_fail(g, MLY_EFORMAT, "%sring %zu position %zu holds a value that is not a number",
                   g->path, r, k);
  double x = json_number_value(jx), y = json_number_value(jy);
  /* jansson refuses NaN and overflowing reals; the checks are cheap
   * insurance, written so NaN fails them */
  if(!(x >= -180.0 && x <= 180.0))
    return gj_fail(g, MLY_EFORMAT, "%sring %zu position %zu: longitude %.10g is out of range "
                   "[-180, 180]", g->path, r, k, x);
  if(!(y >= -90.0 && y <= 90.0))
    return gj_fail(g, MLY_EFORMAT, "%sring %zu position %zu: latitude %.10g is out of range "
                   "[-90, 90]", g->path, r, k, y);
  xy[0] = x;
  xy[1] = y;
  return MLY_OK;
}

/* Ring r of a polygon into a GEOS linear ring (*out) */
static enum mly_rc gj_ring(struct gj *g, json_t *ring, size_t r, GEOSGeometry **out)
{
  if(!json_is_array(ring))
    return gj_fail(g, MLY_EFORMAT, "%sring %zu is not an array of positions", g->path, r);
  size_t n = json_array_size(ring);
  /* RFC 7946 3.1.6: a linear ring has four or more positions, the first
   * and last equal. We do not close open rings silently: an open ring is
   * more often a truncated file than a shorthand. */
  if(n < 4)
    return gj_fail(g, MLY_EFORMAT, "%sring %zu has %zu position%s, a ring needs at least 4",
                   g->path, r, n, n == 1 ? "" : "s");
  if(n > UINT_MAX / 2)
    return gj_fail(g, MLY_ETOOBIG, "%sring %zu has too many positions", g->path, r);
  if(2 * n > g->xycap) {
    double *xy = realloc(g->xy, 2 * n * sizeof(*xy));
    if(!xy)
      return gj_nomem(g);
    g->xy = xy;
    g->xycap = 2 * n;
  }
  for(size_t k = 0; k < n; k++) {
    enum mly_rc rc = gj_position(g, json_array_get(ring, k), r, k, g->xy + 2 * k);
    if(rc)
      return rc;
  }
  if(g->xy[0] != g->xy[2 * n - 2] || g->xy[1] != g->xy[2 * n - 1])
    return gj_fail(g, MLY_EFORMAT, "%sring %zu is not closed: its first and last positions "
                   "differ", g->path, r);
  GEOSCoordSequence *seq = GEOSCoordSeq_copyFromBuffer_r(g->ctx, g->xy, (unsigned)n, 0, 0);
  GEOSGeometry *lr = seq ? GEOSGeom_createLinearRing_r(g->ctx, seq) : NULL;
  if(!lr)
    return gj_fail(g, MLY_EGEOS, "%sring %zu: %s", g->path, r, mly__aoi_geos_msg(g->set));
  *out = lr;
  return MLY_OK;
}

/* A polygon of one ring of poly (a copy), or NULL */
static GEOSGeometry *gj_ring_polygon(struct gj *g, const GEOSGeometry *ring)
{
  GEOSGeometry *lr = ring ? GEOSGeom_clone_r(g->ctx, ring) : NULL;
  GEOSGeometry *p = lr ? GEOSGeom_createPolygon_r(g->ctx, lr, NULL, 0) : NULL;
  if(lr && !p)
    GEOSGeom_destroy_r(g->ctx, lr);
  return p;
}

/* An invalid polygon with holes: a repair must never add area. Every hole
 * must lie within the outer ring (a hole outside it would come back as
 * extra area through MakeValid), and the repaired area may not exceed the
 * outer ring's area minus the holes' (overlapping holes). Sets *shell_minus
 * to that area for the check after the repair. */
static enum mly_rc gj_check_holes(struct gj *g, const GEOSGeometry *poly, double *shell_minus)
{
  int nholes = GEOSGetNumInteriorRings_r(g->ctx, poly);
  GEOSGeometry *shell = gj_ring_polygon(g, GEOSGetExteriorRing_r(g->ctx, poly));
  GEOSGeometry *vshell = NULL, *rest = NULL;
  enum mly_rc rc = MLY_OK;

  *shell_minus = -1;
  if(nholes <= 0) {
    if(shell)
      GEOSGeom_destroy_r(g->ctx, shell);
    return MLY_OK;
  }
  /* the outer ring itself may be what is invalid (a bow-tie) */
  vshell = shell ? GEOSMakeValid_r(g->ctx, shell) : NULL;
  rest = vshell ? GEOSGeom_clone_r(g->ctx, vshell) : NULL;
  if(!rest)
    rc = gj_fail(g, MLY_EGEOS, "%scannot check the polygon's holes: %s", g->path,
                 mly__aoi_geos_msg(g->set));
  for(int h = 0; !rc && h < nholes; h++) {
    GEOSGeometry *hole = gj_ring_polygon(g, GEOSGetInteriorRingN_r(g->ctx, poly, h));
    GEOSGeometry *vhole = hole ? GEOSMakeValid_r(g->ctx, hole) : NULL;
    char in = vhole ? GEOSCovers_r(g->ctx, vshell, vhole) : 2;
    GEOSGeometry *next = in == 1 ? GEOSDifference_r(g->ctx, rest, vhole) : NULL;
    if(in == 0)
      rc = gj_fail(g, MLY_EFORMAT, "%sring %d (a hole) is not inside ring 0 (the outer ring): "
                   "repairing it would add area; fix or remove that ring", g->path, h + 1);
    else if(in != 1 || !next)
      rc = gj_fail(g, MLY_EGEOS, "%scannot check ring %d (a hole): %s", g->path, h + 1,
                   mly__aoi_geos_msg(g->set));
    else {
      GEOSGeom_destroy_r(g->ctx, rest);
      rest = next;
    }
    if(hole)
      GEOSGeom_destroy_r(g->ctx, hole);
    if(vhole)
      GEOSGeom_destroy_r(g->ctx, vhole);
  }
  if(!rc && GEOSArea_r(g->ctx, rest, shell_minus) != 1)
    rc = gj_fail(g, MLY_EGEOS, "%scannot measure the polygon: %s", g->path,
                 mly__aoi_geos_msg(g->set));
  if(shell)
    GEOSGeom_destroy_r(g->ctx, shell);
  if(vshell)
    GEOSGeom_destroy_r(g->ctx, vshell);
  if(rest)
    GEOSGeom_destroy_r(g->ctx, rest);
  return rc;
}

/* Make poly valid (taking it over) and add its polygonal part to out */
static enum mly_rc gj_add_valid(struct gj *g, GEOSGeometry *poly, struct gj_polys *out)
{
  char valid = GEOSisValid_r(g->ctx, poly);
  if(valid == 1)
    return gj_polys_push(g, out, poly);
  if(valid != 0) {
    GEOSGeom_destroy_r(g->ctx, poly);
    return gj_fail(g, MLY_EGEOS, "%scannot check the polygon: %s", g->path,
                   mly__aoi_geos_msg(g->set));
  }
  /* self-intersecting, bow-tie, spikes...: repair rather than refuse,
   * since hand-drawn AOIs often have such flaws, and keep the area; but a
   * repair never adds area (a hole outside its outer ring is a mistake) */
  double limit;
  enum mly_rc hrc = gj_check_holes(g, poly, &limit);
  if(hrc) {
    GEOSGeom_destroy_r(g->ctx, poly);
    return hrc;
  }
  GEOSGeometry *fixed = GEOSMakeValid_r(g->ctx, poly);
  GEOSGeom_destroy_r(g->ctx, poly);
  if(!fixed)
    return gj_fail(g, MLY_EGEOS, "%scannot repair the invalid polygon: %s", g->path,
                   mly__aoi_geos_msg(g->set));
  double area = 0;
  if(limit >= 0 && GEOSArea_r(g->ctx, fixed, &area) == 1 && area > limit * (1 + 1e-9) + 1e-15) {
    GEOSGeom_destroy_r(g->ctx, fixed);
    return gj_fail(g, MLY_EFORMAT, "%sholes overlap: repairing the polygon would add area "
                   "(%.3g square degrees more than its outer ring minus its holes)", g->path,
                   area - limit);
  }
  size_t before = out->n;
  enum mly_rc rc = gj_take_polygons(g, fixed, out);
  GEOSGeom_destroy_r(g->ctx, fixed);
  if(!rc && out->n == before)
    rc = gj_fail(g, MLY_EFORMAT, "%spolygon has no area: it is invalid and collapses to lines or "
                 "points when repaired", g->path);
  return rc;
}

/* A Polygon's coordinates (array of rings) into out; [] adds nothing */
static enum mly_rc gj_polygon(struct gj *g, json_t *coords, struct gj_polys *out)
{
  if(!json_is_array(coords))
    return gj_fail(g, MLY_EFORMAT, "%spolygon coordinates are not an array of rings", g->path);
  size_t nrings = json_array_size(coords);
  if(nrings == 0)
    return MLY_OK; /* an empty geometry (RFC 7946 3.1) covers nothing */
  if(nrings - 1 > UINT_MAX)
    return gj_fail(g, MLY_ETOOBIG, "%spolygon has too many rings", g->path);
  GEOSGeometry *shell = NULL;
  GEOSGeometry **holes = NULL;
  size_t nholes = 0;
  enum mly_rc rc = MLY_OK;
  if(nrings > 1) {
    holes = malloc((nrings - 1) * sizeof(*holes));
    if(!holes)
      return gj_nomem(g);
  }
  rc = gj_ring(g, json_array_get(coords, 0), 0, &shell);
  for(size_t r = 1; !rc && r < nrings; r++) {
    rc = gj_ring(g, json_array_get(coords, r), r, &holes[nholes]);
    if(!rc)
      nholes++;
  }
  if(rc) {
    if(shell)
      GEOSGeom_destroy_r(g->ctx, shell);
    for(size_t i = 0; i < nholes; i++)
      GEOSGeom_destroy_r(g->ctx, holes[i]);
    free(holes);
    return rc;
  }
  /* the polygon takes the rings over (not the holes array) */
  GEOSGeometry *poly = GEOSGeom_createPolygon_r(g->ctx, shell, holes, (unsigned)nholes);
  free(holes);
  if(!poly)
    return gj_fail(g, MLY_EGEOS, "%scannot build the polygon: %s", g->path,
                   mly__aoi_geos_msg(g->set));
  return gj_add_valid(g, poly, out);
}

static enum mly_rc gj_geometry(struct gj *g, json_t *geom, int depth, struct gj_polys *out);

/* Append "<what> <i> " to the path for messages; returns the old length
 * to restore. A path too long to show ends in "... " instead. */
static size_t gj_path_push(struct gj *g, const char *what, size_t i)
{
  size_t base = strlen(g->path), room = sizeof(g->path) - base;
  int w = snprintf(g->path + base, room, "%s %zu ", what, i);
  if(w < 0 || (size_t)w >= room)
    memcpy(g->path + sizeof(g->path) - 5, "... ", 5);
  return base;
}

static enum mly_rc gj_multipolygon(struct gj *g, json_t *coords, struct gj_polys *out)
{
  if(!json_is_array(coords))
    return gj_fail(g, MLY_EFORMAT, "%smultipolygon coordinates are not an array of polygons",
                   g->path);
  enum mly_rc rc = MLY_OK;
  for(size_t i = 0; !rc && i < json_array_size(coords); i++) {
    size_t base = gj_path_push(g, "polygon", i);
    rc = gj_polygon(g, json_array_get(coords, i), out);
    if(!rc)
      g->path[base] = '\0';
  }
  return rc;
}

static enum mly_rc gj_collection(struct gj *g, json_t *geom, int depth, struct gj_polys *out)
{
  json_t *members = json_object_get(geom, "geometries");
  if(!json_is_array(members))
    return gj_fail(g, MLY_EFORMAT, "%sGeometryCollection has no \"geometries\" array", g->path);
  if(depth >= MLY__AOI_MAX_GC_DEPTH)
    return gj_fail(g, MLY_EFORMAT, "%sGeometryCollections nest deeper than %d levels", g->path,
                   MLY__AOI_MAX_GC_DEPTH);
  enum mly_rc rc = MLY_OK;
  for(size_t i = 0; !rc && i < json_array_size(members); i++) {
    size_t base = gj_path_push(g, "member", i);
    rc = gj_geometry(g, json_array_get(members, i), depth + 1, out);
    if(!rc)
      g->path[base] = '\0';
  }
  return rc;
}

/* Any GeoJSON geometry object: polygons go to out, other types are
 * skipped (an AOI file may carry labels or tracks beside its polygons) */
static enum mly_rc gj_geometry(struct gj *g, json_t *geom, int depth, struct gj_polys *out)
{
  if(!json_is_object(geom))
    return gj_fail(g, MLY_EFORMAT, "%sgeometry is not an object", g->path);
  const char *type = json_string_value(json_object_get(geom, "type"));
  if(!type)
    return gj_fail(g, MLY_EFORMAT, "%sgeometry has no \"type\" string", g->path);
  if(strcmp(type, "Polygon") == 0)
    return gj_polygon(g, json_object_get(geom, "coordinates"), out);
  if(strcmp(type, "MultiPolygon") == 0)
    return gj_multipolygon(g, json_object_get(geom, "coordinates"), out);
  if(strcmp(type, "GeometryCollection") == 0)
    return gj_collection(g, geom, depth, out);
  if(strcmp(type, "Point") == 0 || strcmp(type, "MultiPoint") == 0 ||
     strcmp(type, "LineString") == 0 || strcmp(type, "MultiLineString") == 0)
    return MLY_OK;
  char q[48];
  gj_quote(type, strlen(type), q, sizeof(q));
  return gj_fail(g, MLY_EFORMAT, "%sgeometry type \"%s\" is not a GeoJSON geometry type", g->path,
                 q);
}

/* ---- features and their group value ---- */

/* "feature 3" plus its id, so a user can find it in the file */
static void gj_set_where(struct gj *g, size_t index, json_t *feature)
{
  json_t *id = json_object_get(feature, "id");
  char idtext[64] = "";
  if(json_is_string(id)) {
    char q[48];
    gj_quote(json_string_value(id), json_string_length(id), q, sizeof(q));
    snprintf(idtext, sizeof(idtext), " (id \"%s\")", q);
  }
  else if(json_is_integer(id))
    snprintf(idtext, sizeof(idtext), " (id %" JSON_INTEGER_FORMAT ")", json_integer_value(id));
  else if(json_is_real(id)) {
    char num[40];
    gj_number_text(json_real_value(id), num, sizeof(num));
    snprintf(idtext, sizeof(idtext), " (id %s)", num);
  }
  snprintf(g->where, sizeof(g->where), "feature %zu%s", index, idtext);
}

static const char *gj_type_name(json_t *v)
{
  switch(json_typeof(v)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  default: return "not a string or number";
  }
}

/* The safe group name of a feature from its field property (malloc'd) */
static enum mly_rc gj_group_name(struct gj *g, json_t *feature, char **out)
{
  json_t *props = json_object_get(feature, "properties");
  json_t *v = json_is_object(props) ? json_object_get(props, g->field) : NULL;
  char fq[48];
  gj_quote(g->field, strlen(g->field), fq, sizeof(fq));
  if(!v)
    return gj_fail(g, MLY_EFORMAT, "has no property '%s'", fq);
  if(json_is_null(v))
    return gj_fail(g, MLY_EFORMAT, "has a null value for property '%s'", fq);

  char num[40];
  const char *text;
  size_t len;
  if(json_is_string(v)) {
    text = json_string_value(v);
    len = json_string_length(v);
  }
  else if(json_is_integer(v)) {
    snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    text = num;
    len = strlen(num);
  }
  else if(json_is_real(v)) {
    gj_number_text(json_real_value(v), num, sizeof(num));
    text = num;
    len = strlen(num);
  }
  else
    return gj_fail(g, MLY_EFORMAT, "property '%s' is %s; expected a string or number", fq,
                   gj_type_name(v));
  if(len == 0)
    return gj_fail(g, MLY_EFORMAT, "has an empty value for property '%s'", fq);
  if(len > MLY__AOI_MAX_NAME)
    return gj_fail(g, MLY_EFORMAT, "property '%s' is %zu bytes long, more than the limit of %d",
                   fq, len, MLY__AOI_MAX_NAME);
  char *name = malloc(len + 1);
  if(!name)
    return gj_nomem(g);
  if(!mly__aoi_safe_name(text, len, name, len + 1)) {
    free(name);
    return gj_fail(g, MLY_EFORMAT, "property '%s' cannot be made a file name", fq);
  }
  *out = name;
  return MLY_OK;
}

/* Polygons of one geometry into their group: the feature's, or the
 * single group. name may be NULL; it is only looked up once there is a
 * polygon, so non-polygon features need no property. */
static enum mly_rc gj_add_to_group(struct gj *g, json_t *feature, struct gj_polys *polys)
{
  char *name = NULL;
  struct gj_group *gr = NULL;
  enum mly_rc rc = MLY_OK;
  if(polys->n == 0)
    return MLY_OK;
  if(g->field)
    rc = gj_group_name(g, feature, &name);
  if(!rc)
    rc = gj_group_get(g, name, &gr);
  free(name);
  if(!rc) {
    g->npolys += polys->n;
    rc = gj_polys_move(g, &gr->polys, polys);
  }
  return rc;
}

static enum mly_rc gj_feature(struct gj *g, size_t index, json_t *feature)
{
  snprintf(g->where, sizeof(g->where), "feature %zu", index);
  g->path[0] = '\0';
  if(!json_is_object(feature))
    return gj_fail(g, MLY_EFORMAT, "is not an object");
  gj_set_where(g, index, feature);
  const char *type = json_string_value(json_object_get(feature, "type"));
  if(!type || strcmp(type, "Feature") != 0)
    return gj_fail(g, MLY_EFORMAT, "is not of type \"Feature\"");
  json_t *geom = json_object_get(feature, "geometry");
  if(!geom || json_is_null(geom))
    return MLY_OK; /* RFC 7946 3.2: an unlocated feature; nothing to cover */

  struct gj_polys polys = {0};
  enum mly_rc rc = gj_geometry(g, geom, 0, &polys);
  if(!rc)
    rc = gj_add_to_group(g, feature, &polys);
  gj_polys_clear(g, &polys);
  return rc;
}

static enum mly_rc gj_collection_features(struct gj *g, json_t *root)
{
  json_t *features = json_object_get(root, "features");
  if(!json_is_array(features))
    return gj_fail(g, MLY_EFORMAT, "FeatureCollection has no \"features\" array");
  for(size_t i = 0; i < json_array_size(features); i++) {
    enum mly_rc rc = gj_feature(g, i, json_array_get(features, i));
    if(rc)
      return rc;
  }
  return MLY_OK;
}

static enum mly_rc gj_bare_geometry(struct gj *g, json_t *root)
{
  snprintf(g->where, sizeof(g->where), "geometry");
  g->path[0] = '\0';
  if(g->field) {
    char fq[48];
    gj_quote(g->field, strlen(g->field), fq, sizeof(fq));
    return gj_fail(g, MLY_EFORMAT, "has no properties to read '%s' from (a bare geometry, not a "
                   "feature)", fq);
  }
  struct gj_polys polys = {0};
  enum mly_rc rc = gj_geometry(g, root, 0, &polys);
  if(!rc)
    rc = gj_add_to_group(g, NULL, &polys);
  gj_polys_clear(g, &polys);
  return rc;
}

static enum mly_rc gj_root(struct gj *g, json_t *root)
{
  if(!json_is_object(root))
    return gj_fail(g, MLY_EFORMAT, "the top level is not a JSON object");
  const char *type = json_string_value(json_object_get(root, "type"));
  if(!type)
    return gj_fail(g, MLY_EFORMAT, "the top-level object has no \"type\" string");
  if(strcmp(type, "FeatureCollection") == 0)
    return gj_collection_features(g, root);
  if(strcmp(type, "Feature") == 0)
    return gj_feature(g, 0, root);
  return gj_bare_geometry(g, root);
}

/* Turn each group into an area: one polygon as is, several merged */
static enum mly_rc gj_finish(struct gj *g)
{
  for(size_t i = 0; i < g->ngroups; i++) {
    struct gj_group *gr = &g->groups[i];
    GEOSGeometry *geom;
    if(gr->polys.n == 1) {
      geom = gr->polys.v[0];
      gr->polys.n = 0;
    }
    else {
      if(gr->polys.n > UINT_MAX)
        return mly_err_set(g->err, MLY_ETOOBIG, "%s: too many polygons", g->source);
      /* the collection takes the polygons over; the union makes
       * overlapping parts one valid area, as prepared predicates need */
      GEOSGeometry *coll = GEOSGeom_createCollection_r(g->ctx, GEOS_MULTIPOLYGON, gr->polys.v,
                                                       (unsigned)gr->polys.n);
      gr->polys.n = 0;
      if(!coll)
        return mly_err_set(g->err, MLY_EGEOS, "%s: cannot collect the polygons: %s",
                           g->source, mly__aoi_geos_msg(g->set));
      geom = GEOSUnaryUnion_r(g->ctx, coll);
      GEOSGeom_destroy_r(g->ctx, coll);
      if(!geom)
        return mly_err_set(g->err, MLY_EGEOS, "%s: cannot merge the polygons: %s", g->source,
                           mly__aoi_geos_msg(g->set));
    }
    char *name = gr->name;
    gr->name = NULL;
    enum mly_rc rc = mly__aoi_set_add(g->set, name, geom, NULL, g->err);
    if(rc)
      return rc;
  }
  return MLY_OK;
}

static void gj_cleanup(struct gj *g)
{
  for(size_t i = 0; i < g->ngroups; i++) {
    gj_polys_clear(g, &g->groups[i].polys);
    free(g->groups[i].name);
  }
  free(g->groups);
  free(g->slots);
  free(g->xy);
}

enum mly_rc mly__aoi_geojson_load(struct aoi_set *set, const char *buf, size_t len,
                                  const char *source, const char *field_name,
                                  struct mly_err *err)
{
  char src[61];
  mly__aoi_printable(source, src, sizeof(src));
  source = src;
  struct gj g = {.set = set, .ctx = set->ctx, .source = source, .field = field_name, .err = err};
  json_error_t jerr;
  /* duplicate keys are refused: {"type":"Polygon","type":"Point"} has no
   * single meaning, and guessing one would hide a broken file */
  json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
  if(!root) {
    /* jansson quotes the offending input ("near '...'"), which may hold
     * a newline or escape codes: keep the message one printable line */
    char text[sizeof(jerr.text)];
    size_t i;
    for(i = 0; jerr.text[i] && i + 1 < sizeof(text); i++) {
      unsigned char c = (unsigned char)jerr.text[i];
      text[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    text[i] = '\0';
    return mly_err_set(err, MLY_EFORMAT, "%s: invalid JSON at line %d column %d: %.120s", source,
                       jerr.line, jerr.column, text);
  }
  enum mly_rc rc = gj_root(&g, root);
  json_decref(root);
  if(!rc && g.npolys == 0)
    rc = mly_err_set(err, MLY_EFORMAT, "%s: no Polygon or MultiPolygon found", source);
  if(!rc)
    rc = gj_finish(&g);
  gj_cleanup(&g);
  return rc;
}
