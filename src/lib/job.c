/* job.c -- one get_mapillary_points run: cover, fetch in order, filter, write */
#include "mly/job.h"
#include "mly/aoi.h"
#include "mly/dbuf.h"
#include "mly/fetch.h"
#include "mly/idset.h"
#include "mly/image.h"
#include "mly/mvt.h"
#include "mly/outfile.h"
#include "mly/seq.h"
#include "mly/strtab.h"
#include "mly/tile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_SEQ 0x7FFFFFFFu     /* idset tag of an image without sequence_id */
#define STR_ID_TAG 0x80000000u /* idset tag bit: the id is a string's index */
#define MAX_CLASSES 2

/* kept images per organization (strtab index + 1 as key) */
struct org_counter {
  uint32_t *keys;
  uint64_t *counts;
  size_t cap, n;
};

struct area_out {
  struct aoi *aoi;
  struct job_area_report rep;
  struct org_counter orgs;
  int nclasses;
  struct outfile points[MAX_CLASSES];
  struct outfile seqs[MAX_CLASSES];
  struct seq_builder *seqb[MAX_CLASSES];
  struct idset *seen;
};

struct member {
  uint32_t area;
  uint32_t rel;
};

struct job_tile {
  struct tile t;
  uint32_t first, n; /* members[first .. first+n) */
};

/* One kept image of one area, waiting in its tile's chunk until the tiles
 * before it are written. Its strings are interned in the job's strtab when
 * the tile arrives (indexes depend on arrival order, but nothing written
 * depends on index values, so outputs stay byte-identical). */
struct kept {
  uint32_t area;
  uint32_t text_off, text_len;
  struct seq_point p; /* seq = NO_SEQ without sequence_id */
  bool inexact;
};

struct chunk {
  bool ready;
  bool had_data;
  struct dbuf text;
  struct kept *kept;
  size_t nkept, cap;
  uint64_t seen;
};

struct job {
  const struct job_opts *o;
  struct aoi_set *set;
  struct area_out *areas;
  size_t nareas;
  struct job_tile *tiles;
  size_t ntiles;
  struct member *members;
  struct chunk *window;
  size_t nwindow;
  size_t next;  /* next tile to request */
  size_t head;  /* next tile to write */
  struct strtab *strings;
  struct mvt_index idx;
  struct image_keys keys;
  struct fetch *fetch;
  struct job_stats *st;
  job_progress_fn progress;
  void *progress_user;
  struct mly_err *err;
  enum mly_rc fail; /* set by done when the run must stop */
};

char *job_output_path(const char *path, const char *group_value, int split_class)
{
  struct dbuf b;
  dbuf_init(&b, 1 << 16);
  const char *slash = strrchr(path, '/');
  size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;
  const char *base = path + dirlen;
  size_t baselen = strlen(base);
  if(split_class != JOB_CLASS_ALL && baselen >= 8 && strcmp(base + baselen - 8, ".geojson") == 0)
    baselen -= 8;
  enum mly_rc rc = dbuf_add(&b, path, dirlen);
  if(!rc && group_value)
    rc = dbuf_adds(&b, group_value);
  if(!rc && group_value)
    rc = dbuf_adds(&b, "_");
  if(!rc)
    rc = dbuf_add(&b, base, baselen);
  if(!rc && split_class == JOB_CLASS_PANO)
    rc = dbuf_adds(&b, "__pano.geojson");
  if(!rc && split_class == JOB_CLASS_NO_PANO)
    rc = dbuf_adds(&b, "__no__pano.geojson");
  if(rc || !dbuf_cstr(&b)) {
    dbuf_cleanup(&b);
    return NULL;
  }
  return b.p;
}

static int class_kind(const struct job_opts *o, int c)
{
  if(!o->split_pano)
    return JOB_CLASS_ALL;
  return c == 0 ? JOB_CLASS_PANO : JOB_CLASS_NO_PANO;
}

/* ---- set-up ---------------------------------------------------------- */

struct cover_entry {
  struct tile t;
  uint32_t area;
  uint32_t rel;
};

static int cmp_entry(const void *pa, const void *pb)
{
  const struct cover_entry *a = pa, *b = pb;
  int c = tile_cmp(&a->t, &b->t);
  if(c)
    return c;
  return (a->area > b->area) - (a->area < b->area);
}

/* All areas' covers merged: each tile once, with the areas that need it */
static enum mly_rc build_tiles(struct job *j)
{
  struct cover_entry *all = NULL;
  size_t nall = 0;
  enum mly_rc rc = MLY_OK;
  for(size_t a = 0; a < j->nareas && !rc; a++) {
    struct aoi_tile *cov = NULL;
    size_t n = 0;
    rc = aoi_cover(j->areas[a].aoi, JOB_ZOOM, j->o->max_tiles, &cov, &n, j->err);
    if(rc)
      break;
    struct cover_entry *na = realloc(all, (nall + n + 1) * sizeof(*na));
    if(!na) {
      free(cov);
      rc = mly_err_set(j->err, MLY_ENOMEM, "out of memory listing tiles");
      break;
    }
    all = na;
    for(size_t i = 0; i < n; i++) {
      all[nall + i].t = cov[i].t;
      all[nall + i].area = (uint32_t)a;
      all[nall + i].rel = (uint32_t)cov[i].rel;
    }
    nall += n;
    free(cov);
  }
  if(!rc && nall > j->o->max_tiles)
    rc = mly_err_set(j->err, MLY_ETOOBIG,
                     "the areas need %zu tiles at zoom %d, more than the limit of %zu "
                     "(raise it with --max_tiles)", nall, JOB_ZOOM, j->o->max_tiles);
  if(!rc) {
    qsort(all, nall, sizeof(*all), cmp_entry);
    j->tiles = calloc(nall ? nall : 1, sizeof(*j->tiles));
    j->members = calloc(nall ? nall : 1, sizeof(*j->members));
    if(!j->tiles || !j->members)
      rc = mly_err_set(j->err, MLY_ENOMEM, "out of memory listing tiles");
  }
  for(size_t i = 0; !rc && i < nall; i++) {
    if(j->ntiles == 0 || tile_cmp(&j->tiles[j->ntiles - 1].t, &all[i].t) != 0) {
      j->tiles[j->ntiles].t = all[i].t;
      j->tiles[j->ntiles].first = (uint32_t)i;
      j->tiles[j->ntiles].n = 0;
      j->ntiles++;
    }
    j->members[i].area = all[i].area;
    j->members[i].rel = all[i].rel;
    j->tiles[j->ntiles - 1].n++;
  }
  free(all);
  return rc;
}

static enum mly_rc open_outputs(struct job *j)
{
  const struct job_opts *o = j->o;
  int nclasses = o->split_pano && !o->filter.only_pano ? 2 : 1;
  for(size_t a = 0; a < j->nareas; a++) {
    struct area_out *ar = &j->areas[a];
    ar->nclasses = nclasses;
    ar->seen = idset_new();
    if(!ar->seen)
      return mly_err_set(j->err, MLY_ENOMEM, "out of memory");
    const char *value = aoi_name(ar->aoi);
    for(int c = 0; c < nclasses; c++) {
      char *pp = job_output_path(o->out_points, value, class_kind(o, c));
      char *sp = job_output_path(o->out_sequences, value, class_kind(o, c));
      enum mly_rc rc = MLY_ENOMEM;
      if(pp && sp) {
        rc = outfile_open(&ar->points[c], pp, j->err);
        if(!rc)
          rc = outfile_open(&ar->seqs[c], sp, j->err);
      }
      else
        mly_err_set(j->err, rc, "out of memory");
      free(pp);
      free(sp);
      if(rc)
        return rc;
      ar->seqb[c] = seq_new(j->strings);
      if(!ar->seqb[c])
        return mly_err_set(j->err, MLY_ENOMEM, "out of memory");
    }
  }
  return MLY_OK;
}

/* Two areas or classes must never write the same file */
static enum mly_rc check_distinct_paths(struct job *j)
{
  const struct job_opts *o = j->o;
  size_t cap = j->nareas * MAX_CLASSES * 2, n = 0;
  char **paths = calloc(cap, sizeof(*paths));
  enum mly_rc rc = paths ? MLY_OK : MLY_ENOMEM;
  int nclasses = o->split_pano && !o->filter.only_pano ? 2 : 1;
  for(size_t a = 0; a < j->nareas && !rc; a++)
    for(int c = 0; c < nclasses && !rc; c++) {
      const char *value = aoi_name(j->areas[a].aoi);
      paths[n++] = job_output_path(o->out_points, value, class_kind(o, c));
      paths[n++] = job_output_path(o->out_sequences, value, class_kind(o, c));
      if(!paths[n - 1] || !paths[n - 2])
        rc = MLY_ENOMEM;
    }
  for(size_t i = 0; i < n && !rc; i++)
    for(size_t k = i + 1; k < n && !rc; k++)
      if(strcmp(paths[i], paths[k]) == 0)
        rc = mly_err_set(j->err, MLY_EINVAL, "two outputs would be written to the same path '%s'",
                         paths[i]);
  if(rc == MLY_ENOMEM)
    mly_err_set(j->err, rc, "out of memory");
  for(size_t i = 0; i < n; i++)
    free(paths[i]);
  free(paths);
  return rc;
}

/* ---- per-area figures ---------------------------------------------------- */

static enum mly_rc org_count(struct org_counter *c, uint32_t key)
{
  if((c->n + 1) * 2 > c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 16;
    uint32_t *keys = calloc(cap, sizeof(*keys));
    uint64_t *counts = calloc(cap, sizeof(*counts));
    if(!keys || !counts) {
      free(keys);
      free(counts);
      return MLY_ENOMEM;
    }
    for(size_t i = 0; i < c->cap; i++) {
      if(!c->keys[i])
        continue;
      size_t h = (c->keys[i] * 2654435761u) & (cap - 1);
      while(keys[h])
        h = (h + 1) & (cap - 1);
      keys[h] = c->keys[i];
      counts[h] = c->counts[i];
    }
    free(c->keys);
    free(c->counts);
    c->keys = keys;
    c->counts = counts;
    c->cap = cap;
  }
  size_t h = (key * 2654435761u) & (c->cap - 1);
  while(c->keys[h] && c->keys[h] != key)
    h = (h + 1) & (c->cap - 1);
  if(!c->keys[h]) {
    c->keys[h] = key;
    c->n++;
  }
  c->counts[h]++;
  return MLY_OK;
}

static int cmp_org(const void *pa, const void *pb)
{
  const struct job_org_count *a = pa, *b = pb;
  if(a->images != b->images)
    return a->images > b->images ? -1 : 1;
  size_t la = strlen(a->id), lb = strlen(b->id);
  if(la != lb) /* numeric ids: shorter is smaller */
    return la < lb ? -1 : 1;
  return strcmp(a->id, b->id);
}

/* Move the figures of every area into st->reports */
static void build_reports(struct job *j)
{
  struct job_stats *st = j->st;
  st->reports = calloc(j->nareas ? j->nareas : 1, sizeof(*st->reports));
  if(!st->reports)
    return;
  st->nreports = j->nareas;
  for(size_t a = 0; a < j->nareas; a++) {
    struct area_out *ar = &j->areas[a];
    struct job_area_report *r = &st->reports[a];
    *r = ar->rep;
    const char *name = aoi_name(ar->aoi);
    r->name = name ? strdup(name) : NULL;
    r->orgs = calloc(ar->orgs.n ? ar->orgs.n : 1, sizeof(*r->orgs));
    if(!r->orgs)
      continue;
    for(size_t i = 0; i < ar->orgs.cap; i++) {
      if(!ar->orgs.keys[i])
        continue;
      struct mly_view v = strtab_get(j->strings, ar->orgs.keys[i] - 1);
      char *id = strndup(v.p, v.n);
      if(!id)
        continue;
      r->orgs[r->norgs].id = id;
      r->orgs[r->norgs].images = ar->orgs.counts[i];
      r->norgs++;
    }
    qsort(r->orgs, r->norgs, sizeof(*r->orgs), cmp_org);
  }
}

void job_stats_cleanup(struct job_stats *st)
{
  for(size_t a = 0; a < st->nreports; a++) {
    struct job_area_report *r = &st->reports[a];
    free(r->name);
    for(size_t i = 0; i < r->norgs; i++)
      free(r->orgs[i].id);
    free(r->orgs);
  }
  free(st->reports);
  st->reports = NULL;
  st->nreports = 0;
}

/* ---- per tile ---------------------------------------------------------- */

static enum mly_rc intern(struct job *j, struct mly_view v, uint32_t *idx)
{
  return strtab_intern(j->strings, v.p, v.n, idx);
}

/* The compact record of an image for dedup and sequences */
static enum mly_rc image_record(struct job *j, const struct image *img, double lon, double lat,
                                struct seq_point *p)
{
  memset(p, 0, sizeof(*p));
  p->seq = NO_SEQ;
  enum mly_rc rc = MLY_OK;
  if(img->sequence_id.known)
    rc = intern(j, img->sequence_id.v, &p->seq);
  if(!rc && img->organization_id.known) {
    rc = intern(j, img->organization_id.v, &p->org);
    p->org++;
  }
  if(rc)
    return rc;
  p->lon = lon;
  p->lat = lat;
  if(img->id_kind == IMAGE_ID_U64) {
    p->flags |= SEQP_ID_KNOWN;
    p->id = img->id;
  }
  else if(img->id_kind == IMAGE_ID_STR) {
    uint32_t idx;
    if((rc = intern(j, img->id_str, &idx)))
      return rc;
    p->flags |= SEQP_ID_KNOWN | SEQP_ID_STR;
    p->id = idx;
  }
  if(img->is_pano >= 0)
    p->flags |= SEQP_PANO_KNOWN;
  if(img->is_pano == 1)
    p->flags |= SEQP_PANO;
  if(img->has_captured_at) {
    p->flags |= SEQP_CAPTURED_KNOWN;
    p->captured_at = img->captured_at;
  }
  return MLY_OK;
}

static enum mly_rc keep_image(struct chunk *c, uint32_t area, const struct seq_point *p,
                              bool inexact, uint32_t text_off, uint32_t text_len)
{
  if(c->nkept == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 256;
    struct kept *nk = realloc(c->kept, cap * sizeof(*nk));
    if(!nk)
      return MLY_ENOMEM;
    c->kept = nk;
    c->cap = cap;
  }
  struct kept *k = &c->kept[c->nkept++];
  k->area = area;
  k->text_off = text_off;
  k->text_len = text_len;
  k->p = *p;
  k->inexact = inexact;
  return MLY_OK;
}

static bool pixel_in_tile(const struct image *img, uint32_t extent)
{
  return img->px >= 0 && img->py >= 0 && img->px <= (int64_t)extent && img->py <= (int64_t)extent;
}

static enum mly_rc process_layer(struct job *j, size_t ti, struct chunk *c, struct mvt_layer *layer,
                                 struct mly_err *err)
{
  const struct job_tile *jt = &j->tiles[ti];
  enum mly_rc rc = mvt_layer_index(layer, &j->idx, err);
  if(!rc)
    rc = image_keys_map(&j->keys, &j->idx);
  if(rc)
    return rc;
  struct mvt_feature f;
  struct image img;
  int more;
  while((more = mvt_layer_next_feature(layer, &f, err)) == 1) {
    c->seen++;
    if(f.type != MVT_GEOM_POINT)
      continue; /* not an image position */
    if((rc = image_read(&img, &f, &j->idx, &j->keys, err)))
      return rc;
    if(!filter_accept(&j->o->filter, &img))
      continue;
    double lon, lat;
    tile_pixel_to_lonlat(jt->t, layer->extent, img.px, img.py, &lon, &lat);
    bool in_tile = pixel_in_tile(&img, layer->extent);
    bool have_text = false;
    uint32_t text_off = 0, text_len = 0;
    struct seq_point rec;
    for(uint32_t m = 0; m < jt->n; m++) {
      const struct member *mb = &j->members[jt->first + m];
      struct aoi *aoi = j->areas[mb->area].aoi;
      /* a tile inside the area needs no per-point test */
      if(!(mb->rel == AOI_TILE_INSIDE && in_tile) && !aoi_covers(aoi, lon, lat))
        continue;
      if(!have_text) {
        size_t before = c->text.n;
        if((rc = image_write_geojson(&c->text, &img, lon, lat, &j->idx, &j->keys, NULL)))
          return mly_err_set(err, rc, "cannot format image: %s", mly_strerror(rc));
        if(c->text.n > UINT32_MAX)
          return mly_err_set(err, MLY_ETOOBIG, "tile output too large");
        text_off = (uint32_t)before;
        text_len = (uint32_t)(c->text.n - before);
        have_text = true;
        if((rc = image_record(j, &img, lon, lat, &rec)))
          return mly_err_set(err, rc, "cannot keep image: %s", mly_strerror(rc));
      }
      if((rc = keep_image(c, mb->area, &rec, img.id_inexact, text_off, text_len)))
        return mly_err_set(err, rc, "cannot keep image: %s", mly_strerror(rc));
    }
  }
  return more < 0 ? MLY_EFORMAT : MLY_OK;
}

static void chunk_reset(struct chunk *c)
{
  c->ready = false;
  c->had_data = false;
  dbuf_reset(&c->text);
  c->nkept = 0;
  c->seen = 0;
}

/* Decode a tile body into its chunk. MLY_EFORMAT means the body is
 * unusable (a truncated or corrupt tile): the fetcher retries it. */
static enum mly_rc process_tile(struct job *j, size_t ti, const uint8_t *body, size_t n,
                                struct mly_err *err)
{
  struct chunk *c = &j->window[ti % j->nwindow];
  chunk_reset(c);
  struct mvt_tile t;
  struct mvt_layer layer;
  int more;
  mvt_tile_init(&t, body, n);
  while((more = mvt_next_layer(&t, &layer, err)) == 1) {
    if(!mly_view_eq(layer.name, "image"))
      continue;
    enum mly_rc rc = process_layer(j, ti, c, &layer, err);
    if(rc) {
      chunk_reset(c);
      return rc;
    }
  }
  if(more < 0) {
    chunk_reset(c);
    return MLY_EFORMAT;
  }
  c->had_data = true;
  c->ready = true;
  return MLY_OK;
}

/* Write the chunk of tile `head` to the outputs, in order */
static enum mly_rc flush_chunk(struct job *j, struct chunk *c)
{
  struct job_stats *st = j->st;
  st->images_seen += c->seen;
  if(c->had_data && c->seen)
    st->tiles_with_data++;
  const struct job_tile *jt = &j->tiles[j->head];
  for(uint32_t m = 0; m < jt->n; m++) {
    struct job_area_report *r = &j->areas[j->members[jt->first + m].area].rep;
    r->tiles++;
    r->images_seen += c->seen;
    r->tiles_with_data += c->had_data && c->seen;
  }
  for(size_t i = 0; i < c->nkept; i++) {
    struct kept *k = &c->kept[i];
    struct area_out *ar = &j->areas[k->area];
    enum mly_rc rc;
    if(k->p.flags & SEQP_ID_KNOWN) {
      bool added;
      uint32_t tag = k->p.seq | (k->p.flags & SEQP_ID_STR ? STR_ID_TAG : 0);
      if((rc = idset_add(ar->seen, k->p.id, tag, &added)))
        return mly_err_set(j->err, rc, "out of memory");
      if(!added) {
        st->duplicates++;
        continue;
      }
    }
    bool pano = k->p.flags & SEQP_PANO;
    int cls = ar->nclasses == 2 && !pano ? 1 : 0;
    if((rc = outfile_feature(&ar->points[cls], c->text.p + k->text_off, k->text_len, j->err)))
      return rc;
    st->images_kept++;
    st->panoramas += pano;
    ar->rep.images_kept++;
    ar->rep.panoramas += pano;
    if(!k->p.org)
      ar->rep.without_org++;
    else if((rc = org_count(&ar->orgs, k->p.org)))
      return mly_err_set(j->err, rc, "out of memory");
    st->inexact_ids += k->inexact;
    if(k->p.seq != NO_SEQ && (rc = seq_add(ar->seqb[cls], &k->p)))
      return mly_err_set(j->err, rc, "out of memory keeping sequences");
  }
  return MLY_OK;
}

/* ---- fetch callbacks ----------------------------------------------------- */

/* Replace {z} {x} {y} in the template */
static bool build_url(const char *tpl, struct tile t, char *out, size_t cap)
{
  size_t o = 0;
  for(const char *p = tpl; *p;) {
    char num[16];
    const char *rep = NULL;
    if(strncmp(p, "{z}", 3) == 0)
      rep = num, snprintf(num, sizeof(num), "%u", t.z);
    else if(strncmp(p, "{x}", 3) == 0)
      rep = num, snprintf(num, sizeof(num), "%u", t.x);
    else if(strncmp(p, "{y}", 3) == 0)
      rep = num, snprintf(num, sizeof(num), "%u", t.y);
    if(rep) {
      size_t n = strlen(rep);
      if(o + n >= cap)
        return false;
      memcpy(out + o, rep, n);
      o += n;
      p += 3;
    }
    else {
      if(o + 1 >= cap)
        return false;
      out[o++] = *p++;
    }
  }
  out[o] = '\0';
  return true;
}

static int src_next(void *user, struct fetch_req *req)
{
  struct job *j = user;
  if(j->fail || j->next >= j->ntiles || j->next - j->head >= j->nwindow)
    return 0;
  size_t ti = j->next++;
  if(!build_url(j->o->tiles_url, j->tiles[ti].t, req->url, sizeof(req->url))) {
    j->fail = mly_err_set(j->err, MLY_EINVAL, "tile url too long");
    return 0;
  }
  bool is_file = strncmp(j->o->tiles_url, "file://", 7) == 0;
  req->auth = is_file || !j->o->token ? FETCH_AUTH_NONE : FETCH_AUTH_QUERY;
  req->user = (void *)(uintptr_t)ti;
  return 1;
}

static enum fetch_verdict src_done(void *user, void *req_user, struct fetch_result *res)
{
  struct job *j = user;
  size_t ti = (size_t)(uintptr_t)req_user;
  char name[48];
  tile_name(j->tiles[ti].t, name, sizeof(name));
  struct mly_err perr = {0};
  switch(res->status) {
  case FETCH_OK:
    if(process_tile(j, ti, res->body, res->n, &perr)) {
      if(perr.rc == MLY_EFORMAT) {
        snprintf(res->msg, sizeof(res->msg), "undecodable body: %.200s", perr.msg);
        return FETCH_RETRY;
      }
      j->fail = mly_err_set(j->err, perr.rc, "tile %s: %s", name, perr.msg);
      return FETCH_STOP;
    }
    break;
  case FETCH_EMPTY: {
    struct chunk *c = &j->window[ti % j->nwindow];
    chunk_reset(c);
    c->ready = true;
    break;
  }
  case FETCH_AUTH:
    j->fail = mly_err_set(j->err, MLY_EAUTH, "tile %s: %s", name, res->msg);
    return FETCH_STOP;
  case FETCH_RATE_LIMIT:
    j->fail = mly_err_set(j->err, MLY_ERATE, "tile %s: %s", name, res->msg);
    return FETCH_STOP;
  case FETCH_TOOBIG:
    j->fail = mly_err_set(j->err, MLY_ETOOBIG, "tile %s: %s", name, res->msg);
    return FETCH_STOP;
  case FETCH_FAILED:
  default:
    j->fail = mly_err_set(j->err, MLY_EHTTP, "tile %s: %s", name, res->msg);
    return FETCH_STOP;
  }
  j->st->tiles_done++;
  while(j->head < j->next && j->window[j->head % j->nwindow].ready) {
    struct chunk *c = &j->window[j->head % j->nwindow];
    enum mly_rc rc = flush_chunk(j, c);
    chunk_reset(c);
    if(rc) {
      j->fail = rc;
      return FETCH_STOP;
    }
    j->head++;
  }
  return FETCH_ACCEPT;
}

static int src_tick(void *user)
{
  struct job *j = user;
  const struct fetch_stats *fs = fetch_get_stats(j->fetch);
  j->st->requests = fs->requests;
  j->st->retries = fs->retries;
  j->st->bytes = fs->bytes;
  j->st->in_flight = fs->in_flight;
  if(j->progress)
    j->progress(j->progress_user, j->st);
  return j->o->stop && *j->o->stop;
}

/* ---- the run ----------------------------------------------------------- */

static enum mly_rc finish_outputs(struct job *j)
{
  enum mly_rc rc = MLY_OK;
  for(size_t a = 0; a < j->nareas && !rc; a++) {
    struct area_out *ar = &j->areas[a];
    for(int c = 0; c < ar->nclasses && !rc; c++) {
      size_t nseq = 0;
      rc = seq_write(ar->seqb[c], &ar->seqs[c], &nseq, j->err);
      j->st->sequences += nseq;
      ar->rep.sequences += nseq;
      seq_free(&ar->seqb[c]);
      if(!rc)
        rc = outfile_close(&ar->points[c], j->err);
      if(!rc)
        rc = outfile_close(&ar->seqs[c], j->err);
    }
  }
  if(rc)
    return rc;
  if(j->o->stop && *j->o->stop)
    return mly_err_set(j->err, MLY_ESTOP, "interrupted; nothing written");
  /* every file is complete: only now do the final paths change */
  for(size_t a = 0; a < j->nareas && !rc; a++) {
    struct area_out *ar = &j->areas[a];
    for(int c = 0; c < ar->nclasses && !rc; c++) {
      rc = outfile_publish(&ar->points[c], j->err);
      if(!rc)
        rc = outfile_publish(&ar->seqs[c], j->err);
      if(!rc)
        j->st->files_written += 2;
    }
  }
  return rc;
}

static void job_cleanup(struct job *j)
{
  for(size_t a = 0; a < j->nareas; a++) {
    struct area_out *ar = &j->areas[a];
    for(int c = 0; c < MAX_CLASSES; c++) {
      outfile_abort(&ar->points[c]);
      outfile_abort(&ar->seqs[c]);
      seq_free(&ar->seqb[c]);
    }
    idset_free(&ar->seen);
    free(ar->orgs.keys);
    free(ar->orgs.counts);
  }
  free(j->areas);
  for(size_t i = 0; i < j->nwindow; i++) {
    dbuf_cleanup(&j->window[i].text);
    free(j->window[i].kept);
  }
  free(j->window);
  free(j->tiles);
  free(j->members);
  strtab_free(&j->strings);
  mvt_index_cleanup(&j->idx);
  image_keys_cleanup(&j->keys);
  fetch_free(&j->fetch);
  aoi_set_free(&j->set);
}

static enum mly_rc check_template(const char *tpl, struct mly_err *err)
{
  if(!strstr(tpl, "{z}") || !strstr(tpl, "{x}") || !strstr(tpl, "{y}"))
    return mly_err_set(err, MLY_EINVAL, "--tiles_url must contain {z}, {x} and {y}");
  if(strncmp(tpl, "file://", 7) != 0 && strncmp(tpl, "http://", 7) != 0 &&
     strncmp(tpl, "https://", 8) != 0)
    return mly_err_set(err, MLY_EINVAL, "--tiles_url must start with http://, https:// or file://");
  return MLY_OK;
}

enum mly_rc job_run(const struct job_opts *o, job_progress_fn progress, void *user,
                    struct job_stats *st, struct mly_err *err)
{
  struct job j;
  memset(&j, 0, sizeof(j));
  memset(st, 0, sizeof(*st));
  j.o = o;
  j.st = st;
  j.err = err;
  j.progress = progress;
  j.progress_user = user;
  mvt_index_init(&j.idx);
  image_keys_init(&j.keys);

  enum mly_rc rc = check_template(o->tiles_url, err);
  if(!rc && strcmp(o->out_points, o->out_sequences) == 0)
    rc = mly_err_set(err, MLY_EINVAL, "--output_file_point and --output_file_sequence are the same path");
  if(!rc)
    rc = aoi_set_load(o->input_aoi, o->field_name, &j.set, err);
  if(rc)
    goto out;
  j.nareas = aoi_set_count(j.set);
  j.areas = calloc(j.nareas, sizeof(*j.areas));
  j.strings = strtab_new();
  if(!j.areas || !j.strings) {
    rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
    goto out;
  }
  for(size_t a = 0; a < j.nareas; a++)
    j.areas[a].aoi = aoi_set_get(j.set, a);
  st->areas = j.nareas;
  if((rc = check_distinct_paths(&j)) || (rc = build_tiles(&j)))
    goto out;
  st->tiles_total = j.ntiles;
  if((rc = open_outputs(&j))) {
    if(rc == MLY_EIO)
      rc = err->rc = MLY_EINVAL; /* found before any request: invalid input */
    goto out;
  }

  /* the reorder window bounds memory whatever order responses come in */
  j.nwindow = (size_t)(o->concurrency > 16 ? o->concurrency * 4 : 64);
  j.window = calloc(j.nwindow, sizeof(*j.window));
  if(!j.window) {
    rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
    goto out;
  }
  for(size_t i = 0; i < j.nwindow; i++) {
    dbuf_init(&j.window[i].text, (size_t)UINT32_MAX);
  }
  struct fetch_opts fo = {
    .concurrency = o->concurrency,
    .retries = o->retries,
    .timeout_s = o->timeout_s,
    .max_body = o->max_tile_bytes,
    .token = o->token,
    .backoff_ms = o->backoff_ms,
  };
  if((rc = fetch_new(&fo, &j.fetch, err)))
    goto out;
  struct fetch_source src = {src_next, src_done, &j};
  st->started = true;
  struct mly_err ferr = {0};
  rc = fetch_run(j.fetch, &src, src_tick, &ferr);
  src_tick(&j);
  if(j.fail) {
    rc = j.fail; /* err already says which tile and why */
    goto out;
  }
  if(rc && rc != MLY_ESTOP)
    *err = ferr;
  if(rc == MLY_ESTOP && o->stop && *o->stop) {
    rc = mly_err_set(err, MLY_ESTOP, "interrupted; nothing written");
    goto out;
  }
  if(rc)
    goto out;
  if(j.head != j.ntiles) {
    rc = mly_err_set(err, MLY_EHTTP, "%zu of %zu tiles were not fetched", j.ntiles - j.head, j.ntiles);
    goto out;
  }
  rc = finish_outputs(&j);
  if(!rc)
    build_reports(&j);
out:
  job_cleanup(&j);
  return rc;
}
