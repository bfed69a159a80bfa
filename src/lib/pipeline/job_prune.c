/* job_prune.c -- --prune_empty: read the overview layer at zoom 5 and skip z14 tiles of empty z13 cells */
#include "job_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The overview layer reportedly holds one point per z13 cell with images
 * (SPEC.md, unverified): at zoom 5 with extent 4096 a pixel is 1/16 of a
 * z13 cell, so a point marks its cell, and also the neighbour cell when it
 * sits within a pixel of the edge (quantisation must not hide a cell). */
#define PRUNE_ZOOM 5
#define CELL_ZOOM 13

struct prune {
  struct job *j;
  struct tile *tiles;   /* the z5 tiles to read */
  size_t ntiles, next, done;
  struct idset *cells;  /* z13 cells (x, y) with images */
  enum mly_rc fail;
};

static enum mly_rc mark_cell(struct prune *p, int64_t cx, int64_t cy)
{
  int64_t max = (int64_t)1 << CELL_ZOOM;
  if(cx < 0 || cy < 0 || cx >= max || cy >= max)
    return MLY_OK;
  bool added;
  return idset_add(p->cells, (uint64_t)cx, (uint32_t)cy, &added);
}

struct point_ctx {
  struct prune *p;
  struct tile t;
  uint32_t extent;
  enum mly_rc rc;
};

static int mark_point(void *user, uint32_t cmd, int64_t px, int64_t py)
{
  struct point_ctx *ctx = user;
  double scale = (double)(1u << (CELL_ZOOM - PRUNE_ZOOM));
  double fx = ((double)ctx->t.x + (double)px / ctx->extent) * scale;
  double fy = ((double)ctx->t.y + (double)py / ctx->extent) * scale;
  double slack = scale / ctx->extent; /* one pixel, in cells */
  for(int dx = -1; dx <= 1; dx += 2)
    for(int dy = -1; dy <= 1; dy += 2) {
      enum mly_rc rc = mark_cell(ctx->p, (int64_t)floor(fx + dx * slack), (int64_t)floor(fy + dy * slack));
      if(rc) {
        ctx->rc = rc;
        return 1;
      }
    }
  return 0;
}

static enum mly_rc read_overview(struct prune *p, struct tile t, const uint8_t *body, size_t n,
                                 struct mly_err *err)
{
  struct mvt_tile mt;
  struct mvt_layer layer;
  int more;
  mvt_tile_init(&mt, body, n);
  while((more = mvt_next_layer(&mt, &layer, err)) == 1) {
    if(!mly_view_eq(layer.name, "overview"))
      continue;
    struct mvt_feature f;
    int fm;
    while((fm = mvt_layer_next_feature(&layer, &f, err)) == 1) {
      struct point_ctx ctx = {p, t, layer.extent, MLY_OK};
      enum mly_rc rc = mvt_decode_geometry(&f, mark_point, &ctx, err);
      if(ctx.rc)
        return ctx.rc;
      if(rc)
        return rc;
    }
    if(fm < 0)
      return MLY_EFORMAT;
  }
  return more < 0 ? MLY_EFORMAT : MLY_OK;
}

static int prune_next(void *user, struct fetch_req *req)
{
  struct prune *p = user;
  struct job *j = p->j;
  while(!p->fail && p->next < p->ntiles) {
    struct tile t = p->tiles[p->next];
    if(j->cache) {
      enum cache_state cs;
      uint8_t *body = NULL;
      size_t n = 0;
      struct mly_err cerr = {0};
      enum mly_rc rc = cache_get(j->cache, t, j->o->max_age_s, &cs, &body, &n, &cerr);
      if(rc) {
        p->fail = mly_err_set(j->err, rc, "%s", cerr.msg);
        return 0;
      }
      if(cs == CACHE_DATA) {
        rc = read_overview(p, t, body, n, &cerr);
        free(body);
      }
      if(cs != CACHE_MISSING && rc == MLY_OK) {
        p->next++;
        p->done++;
        continue;
      }
    }
    if(j->o->max_requests && j->tile_requests >= j->o->max_requests) {
      j->budget_hit = true;
      return 0;
    }
    j->tile_requests++;
    if(!mly__tile_url(j->o->tiles_url, t, req->url, sizeof(req->url))) {
      p->fail = mly_err_set(j->err, MLY_EINVAL, "tile url too long");
      return 0;
    }
    bool is_file = strncmp(j->o->tiles_url, "file://", 7) == 0;
    req->auth = is_file || !j->o->token ? FETCH_AUTH_NONE : FETCH_AUTH_QUERY;
    req->user = (void *)(uintptr_t)p->next++;
    return 1;
  }
  return 0;
}

static enum fetch_verdict prune_done(void *user, void *req_user, struct fetch_result *res)
{
  struct prune *p = user;
  struct job *j = p->j;
  struct tile t = p->tiles[(size_t)(uintptr_t)req_user];
  char name[48];
  tile_name(t, name, sizeof(name));
  struct mly_err perr = {0};
  enum mly_rc rc = MLY_OK;
  switch(res->status) {
  case FETCH_OK:
    rc = read_overview(p, t, res->body, res->n, &perr);
    if(rc == MLY_EFORMAT) {
      snprintf(res->msg, sizeof(res->msg), "undecodable body: %.200s", perr.msg);
      return FETCH_RETRY;
    }
    if(!rc && j->cache)
      rc = cache_put(j->cache, t, res->body, res->n, &perr);
    break;
  case FETCH_EMPTY:
    if(j->cache)
      rc = cache_put(j->cache, t, NULL, 0, &perr);
    break;
  default:
    p->fail = mly_err_set(j->err,
                          res->status == FETCH_AUTH ? MLY_EAUTH
                          : res->status == FETCH_RATE_LIMIT ? MLY_ERATE : MLY_EHTTP,
                          "overview tile %s: %s", name, res->msg);
    return FETCH_STOP;
  }
  if(rc) {
    p->fail = mly_err_set(j->err, rc, "overview tile %s: %s", name, perr.msg);
    return FETCH_STOP;
  }
  p->done++;
  return FETCH_ACCEPT;
}

static int prune_tick(void *user)
{
  struct prune *p = user;
  return p->j->o->stop && *p->j->o->stop;
}

/* the z5 tiles over every area */
static enum mly_rc overview_tiles(struct prune *p)
{
  struct job *j = p->j;
  for(size_t a = 0; a < j->nareas; a++) {
    struct aoi_tile *cov = NULL;
    size_t n = 0;
    enum mly_rc rc = aoi_cover(j->areas[a].aoi, PRUNE_ZOOM, 1u << 20, &cov, &n, j->err);
    if(rc)
      return rc;
    struct tile *nt = realloc(p->tiles, (p->ntiles + n + 1) * sizeof(*nt));
    if(!nt) {
      free(cov);
      return mly_err_set(j->err, MLY_ENOMEM, "out of memory");
    }
    p->tiles = nt;
    for(size_t i = 0; i < n; i++) {
      bool dup = false;
      for(size_t k = 0; k < p->ntiles && !dup; k++)
        dup = tile_cmp(&p->tiles[k], &cov[i].t) == 0;
      if(!dup)
        p->tiles[p->ntiles++] = cov[i].t;
    }
    free(cov);
  }
  return MLY_OK;
}

enum mly_rc mly__prune_empty(struct job *j)
{
  struct prune p;
  memset(&p, 0, sizeof(p));
  p.j = j;
  p.cells = idset_new();
  enum mly_rc rc = p.cells ? overview_tiles(&p) : mly_err_set(j->err, MLY_ENOMEM, "out of memory");
  if(!rc) {
    struct fetch_source src = {.next = prune_next, .done = prune_done, .user = &p};
    struct mly_err ferr = {0};
    j->st->started = true;
    rc = fetch_run(j->fetch, &src, prune_tick, &ferr);
    if(p.fail)
      rc = p.fail;
    else if(rc == MLY_ESTOP)
      rc = mly_err_set(j->err, MLY_ESTOP, "interrupted while reading overview tiles; nothing written");
    else if(rc)
      *j->err = ferr;
    else if(j->budget_hit && p.done < p.ntiles)
      rc = mly_err_set(j->err, MLY_ESTOP,
                       "incomplete: --max_requests spent on overview tiles (%zu of %zu read); rerun to resume",
                       p.done, p.ntiles);
  }
  if(!rc) {
    /* keep the z14 tiles whose z13 cell has an overview point */
    size_t kept = 0;
    for(size_t i = 0; i < j->ntiles; i++) {
      struct tile t = j->tiles[i].t;
      if(idset_has(p.cells, t.x >> 1, t.y >> 1))
        j->tiles[kept++] = j->tiles[i];
      else
        j->st->tiles_pruned++;
    }
    j->ntiles = kept;
  }
  j->st->overview_tiles = p.ntiles;
  idset_free(&p.cells);
  free(p.tiles);
  return rc;
}
