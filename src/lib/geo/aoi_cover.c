/* aoi_cover.c -- the tiles of one zoom that an area touches: bbox arithmetic, polygon quadtree */
#include "aoi_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Zooms we cover: 2^z columns must fit uint32_t and 4^z tiles uint64_t */
#define COVER_MAX_Z 30u

/* ---- tile edges, as tile_bounds() reports them ---- */

static double cover_west(uint32_t z, uint32_t x)
{
  double w, s, e, n;
  tile_bounds((struct tile){z, x, 0}, &w, &s, &e, &n);
  return w;
}

static double cover_east(uint32_t z, uint32_t x)
{
  double w, s, e, n;
  tile_bounds((struct tile){z, x, 0}, &w, &s, &e, &n);
  return e;
}

static double cover_north(uint32_t z, uint32_t y)
{
  double w, s, e, n;
  tile_bounds((struct tile){z, 0, y}, &w, &s, &e, &n);
  return n;
}

static double cover_south(uint32_t z, uint32_t y)
{
  double w, s, e, n;
  tile_bounds((struct tile){z, 0, y}, &w, &s, &e, &n);
  return s;
}

/* Smallest i in [0, n) with pred(i), pred monotone false..true; n if none.
 * Binary search on the very edges tiles report, so no rounding of the
 * inverse projection can put a boundary tile on the wrong side. */
#define COVER_FIRST(result, n, pred_i)      \
  do {                                      \
    uint64_t lo_ = 0, hi_ = (n);            \
    while(lo_ < hi_) {                      \
      uint64_t i = lo_ + (hi_ - lo_) / 2;   \
      if(pred_i)                            \
        hi_ = i;                            \
      else                                  \
        lo_ = i + 1;                        \
    }                                       \
    (result) = lo_;                         \
  } while(0)

/* ---- bbox: pure arithmetic ---- */

struct cover_range {
  uint64_t lo, hi; /* inclusive; lo > hi means empty */
};

/* Columns whose closed span meets [w, e], and those inside it */
static void cover_cols(uint32_t z, double w, double e, struct cover_range *meet,
                       struct cover_range *inside)
{
  uint64_t n = (uint64_t)1 << z, r;
  COVER_FIRST(r, n, cover_east(z, (uint32_t)i) >= w);
  meet->lo = r;
  COVER_FIRST(r, n, cover_west(z, (uint32_t)i) > e);
  meet->hi = r - 1; /* r >= 1: west(0) = -180 <= e */
  COVER_FIRST(r, n, cover_west(z, (uint32_t)i) >= w);
  inside->lo = r;
  COVER_FIRST(r, n, cover_east(z, (uint32_t)i) > e);
  inside->hi = r - 1; /* may wrap to UINT64_MAX when r == 0: empty below */
  if(r == 0) {
    inside->lo = 1;
    inside->hi = 0;
  }
}

/* Rows whose closed span meets [s, nn] and those inside it. Latitudes
 * beyond the Mercator limit are clamped for meeting: the top and bottom
 * rows stand for everything up to the poles. */
static void cover_rows(uint32_t z, double s, double nn, struct cover_range *meet,
                       struct cover_range *inside)
{
  uint64_t n = (uint64_t)1 << z, r;
  double top = cover_north(z, 0), bottom = cover_south(z, (uint32_t)(n - 1));
  double cs = s < bottom ? bottom : (s > top ? top : s);
  double cn = nn < bottom ? bottom : (nn > top ? top : nn);
  COVER_FIRST(r, n, cover_south(z, (uint32_t)i) <= cn);
  meet->lo = r;
  COVER_FIRST(r, n, cover_north(z, (uint32_t)i) < cs);
  meet->hi = r - 1;
  COVER_FIRST(r, n, cover_north(z, (uint32_t)i) <= nn);
  inside->lo = r;
  COVER_FIRST(r, n, cover_south(z, (uint32_t)i) < s);
  inside->hi = r - 1;
  if(r == 0) {
    inside->lo = 1;
    inside->hi = 0;
  }
}

static bool cover_in(const struct cover_range *r, uint64_t v)
{
  return r->lo <= r->hi && v >= r->lo && v <= r->hi;
}

static uint64_t cover_len(const struct cover_range *r)
{
  return r->lo <= r->hi ? r->hi - r->lo + 1 : 0;
}

static enum mly_rc cover_too_big(uint64_t count, bool exact, uint32_t z, size_t max_tiles,
                                 struct mly_err *err)
{
  return mly_err_set(err, MLY_ETOOBIG,
                     "the area needs %s%llu tiles at zoom %u, more than the limit of %zu",
                     exact ? "" : "at least ", (unsigned long long)count, (unsigned)z, max_tiles);
}

static enum mly_rc cover_bbox(struct aoi *a, uint32_t z, size_t max_tiles,
                              struct aoi_tile **out, size_t *nout, struct mly_err *err)
{
  const double *b = a->box;
  /* across the antimeridian: [west, 180] and [-180, east] */
  int nparts = b[0] > b[2] ? 2 : 1;
  struct cover_range meet[2] = {{0}}, inside[2] = {{1, 0}, {1, 0}}, rmeet, rinside;
  if(nparts == 2) {
    cover_cols(z, b[0], 180.0, &meet[0], &inside[0]);
    cover_cols(z, -180.0, b[2], &meet[1], &inside[1]);
    /* both parts may share a column (tiny gap at z 0); merge: part 1 is
     * the western one, so put it first */
    struct cover_range t = meet[0];
    meet[0] = meet[1];
    meet[1] = t;
    t = inside[0];
    inside[0] = inside[1];
    inside[1] = t;
    if(meet[1].lo <= meet[0].hi + 1) {
      meet[0].hi = meet[1].hi > meet[0].hi ? meet[1].hi : meet[0].hi;
      nparts = 1;
    }
  }
  else
    cover_cols(z, b[0], b[2], &meet[0], &inside[0]);
  cover_rows(z, b[1], b[3], &rmeet, &rinside);

  uint64_t ncols = 0;
  for(int p = 0; p < nparts; p++)
    ncols += cover_len(&meet[p]);
  uint64_t nrows = cover_len(&rmeet);
  /* ncols, nrows <= 2^30: the product fits */
  uint64_t count = ncols * nrows;
  if(count > max_tiles)
    return cover_too_big(count, true, z, max_tiles, err);

  struct aoi_tile *v = count <= SIZE_MAX / sizeof(*v) ? malloc((count ? count : 1) * sizeof(*v))
                                                      : NULL;
  if(!v)
    return mly_err_set(err, MLY_ENOMEM, "out of memory for %llu tiles", (unsigned long long)count);
  size_t k = 0;
  bool two = (b[0] > b[2]);
  for(int p = 0; p < nparts; p++) {
    for(uint64_t x = meet[p].lo; x <= meet[p].hi && meet[p].lo <= meet[p].hi; x++) {
      bool xin = cover_in(&inside[0], x) || (two && cover_in(&inside[1], x));
      for(uint64_t y = rmeet.lo; y <= rmeet.hi; y++) {
        v[k].t = (struct tile){z, (uint32_t)x, (uint32_t)y};
        v[k].rel = (xin && cover_in(&rinside, y)) ? AOI_TILE_INSIDE : AOI_TILE_PARTIAL;
        k++;
      }
    }
  }
  *out = v;
  *nout = k;
  return MLY_OK;
}

/* ---- polygons: quadtree descent ---- */

enum cover_rel { COVER_OUT = 0, COVER_PARTIAL = 1, COVER_IN = 2 };

struct tile_vec {
  struct tile *v;
  size_t n, cap;
};

static bool tile_vec_push(struct tile_vec *tv, struct tile t)
{
  if(tv->n == tv->cap) {
    size_t cap = tv->cap ? tv->cap * 2 : 64;
    struct tile *v = realloc(tv->v, cap * sizeof(*v));
    if(!v)
      return false;
    tv->v = v;
    tv->cap = cap;
  }
  tv->v[tv->n++] = t;
  return true;
}

enum mly_rc aoi_rect_relation(struct aoi *a, double w, double s, double e, double n,
                              enum aoi_rect_rel *rel, struct mly_err *err)
{
  if(a->is_bbox) {
    *rel = AOI_RECT_PARTIAL; /* a bbox's own point test is cheaper than this */
    return MLY_OK;
  }
  const double *env = a->box;
  /* cheap closed envelope test before any GEOS call */
  if(w > env[2] || e < env[0] || s > env[3] || n < env[1]) {
    *rel = AOI_RECT_OUT;
    return MLY_OK;
  }
  GEOSContextHandle_t ctx = a->set->ctx;
  GEOSGeometry *box = GEOSGeom_createRectangle_r(ctx, w, s, e, n);
  if(!box)
    goto geos_fail;
  char r = GEOSPreparedIntersects_r(ctx, a->prep, box);
  if(r == 1) {
    *rel = AOI_RECT_PARTIAL;
    /* a rectangle reaching beyond the envelope cannot be covered */
    if(w >= env[0] && e <= env[2] && s >= env[1] && n <= env[3]) {
      r = GEOSPreparedCovers_r(ctx, a->prep, box);
      if(r == 1)
        *rel = AOI_RECT_IN;
    }
  }
  else if(r == 0)
    *rel = AOI_RECT_OUT;
  GEOSGeom_destroy_r(ctx, box);
  if(r == 2)
    goto geos_fail;
  return MLY_OK;

geos_fail:
  return mly_err_set(err, MLY_EGEOS, "cannot test a tile against the area: %s",
                     mly__aoi_geos_msg(a->set));
}

/* How tile t (any zoom) relates to the polygons. The top and bottom rows
 * reach to the poles, matching the clamp of bbox covers. */
static enum mly_rc cover_classify(struct aoi *a, struct tile t, enum cover_rel *rel,
                                  struct mly_err *err)
{
  double w, s, e, n;
  tile_bounds(t, &w, &s, &e, &n);
  if(t.y == 0)
    n = 90.0;
  if((uint64_t)t.y + 1 == ((uint64_t)1 << t.z))
    s = -90.0;
  enum aoi_rect_rel r;
  enum mly_rc rc = aoi_rect_relation(a, w, s, e, n, &r, err);
  if(!rc)
    *rel = r == AOI_RECT_IN ? COVER_IN : r == AOI_RECT_PARTIAL ? COVER_PARTIAL : COVER_OUT;
  return rc;
}

static int cover_tile_cmp(const void *pa, const void *pb)
{
  const struct aoi_tile *a = pa, *b = pb;
  return tile_cmp(&a->t, &b->t);
}

/* Descend level by level from the world tile: outside tiles are pruned,
 * covered ones stand for all their descendants, partial ones split. The
 * count of tiles so far plus one per pending partial tile is a lower
 * bound of the total, so a hopeless area fails early, without
 * enumerating what it would need. */
static enum mly_rc cover_polygon(struct aoi *a, uint32_t z, size_t max_tiles,
                                 struct aoi_tile **out, size_t *nout, struct mly_err *err)
{
  struct tile_vec cur = {0}, next = {0}, inside = {0}, partial = {0};
  struct aoi_tile *v = NULL;
  enum mly_rc rc = MLY_OK;
  uint64_t count = 0; /* tiles at zoom z decided so far */

  if(!tile_vec_push(&cur, (struct tile){0, 0, 0}))
    goto nomem;
  for(uint32_t k = 0; k <= z && cur.n; k++) {
    next.n = 0;
    uint64_t pending = 0;
    for(size_t i = 0; i < cur.n; i++) {
      struct tile t = cur.v[i];
      enum cover_rel rel = COVER_OUT;
      rc = cover_classify(a, t, &rel, err);
      if(rc)
        goto out;
      if(rel == COVER_OUT)
        continue;
      if(rel == COVER_IN) {
        count += (uint64_t)1 << (2 * (z - k));
        if(!tile_vec_push(&inside, t))
          goto nomem;
      }
      else if(k == z) {
        count++;
        if(!tile_vec_push(&partial, t))
          goto nomem;
      }
      else {
        pending++;
        for(uint32_t c = 0; c < 4; c++)
          if(!tile_vec_push(&next, (struct tile){k + 1, 2 * t.x + (c & 1), 2 * t.y + (c >> 1)}))
            goto nomem;
      }
      if(count + pending > max_tiles) {
        rc = cover_too_big(count + pending, false, z, max_tiles, err);
        goto out;
      }
    }
    struct tile_vec tmp = cur;
    cur = next;
    next = tmp;
  }

  /* expand covered tiles to zoom z; count <= max_tiles here */
  if(count > SIZE_MAX / sizeof(*v))
    goto nomem;
  v = malloc((count ? count : 1) * sizeof(*v));
  if(!v)
    goto nomem;
  size_t n = 0;
  for(size_t i = 0; i < inside.n; i++) {
    struct tile t = inside.v[i];
    uint32_t d = z - t.z;
    uint64_t x0 = (uint64_t)t.x << d, y0 = (uint64_t)t.y << d, side = (uint64_t)1 << d;
    for(uint64_t x = x0; x < x0 + side; x++)
      for(uint64_t y = y0; y < y0 + side; y++)
        v[n++] = (struct aoi_tile){{z, (uint32_t)x, (uint32_t)y}, AOI_TILE_INSIDE};
  }
  for(size_t i = 0; i < partial.n; i++)
    v[n++] = (struct aoi_tile){partial.v[i], AOI_TILE_PARTIAL};
  /* the descent yields each tile once; sorting gives the output order */
  qsort(v, n, sizeof(*v), cover_tile_cmp);
  *out = v;
  *nout = n;
  v = NULL;
  goto out;

nomem:
  rc = mly_err_set(err, MLY_ENOMEM, "out of memory covering the area with tiles");
out:
  free(v);
  free(cur.v);
  free(next.v);
  free(inside.v);
  free(partial.v);
  return rc;
}

enum mly_rc aoi_cover(struct aoi *a, uint32_t z, size_t max_tiles, struct aoi_tile **out,
                      size_t *n, struct mly_err *err)
{
  *out = NULL;
  *n = 0;
  if(z > COVER_MAX_Z)
    return mly_err_set(err, MLY_EINVAL, "zoom %u is beyond the supported maximum of %u",
                       (unsigned)z, COVER_MAX_Z);
  if(a->is_bbox)
    return cover_bbox(a, z, max_tiles, out, n, err);
  return cover_polygon(a, z, max_tiles, out, n, err);
}
