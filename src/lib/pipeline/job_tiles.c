/* job_tiles.c -- a tile body to kept images, and kept images to the outputs in tile order */
#include "job_internal.h"

#include "mly/jsonw.h"

#include <stdlib.h>
#include <string.h>

/* ---- per tile ---------------------------------------------------------- */

static enum mly_rc intern(struct job *j, struct mly_view v, uint32_t *idx)
{
  return strtab_intern(j->strings, v.p, v.n, idx);
}

/* A text property's strtab index, interned once per layer value */
static enum mly_rc intern_value(struct job *j, const struct image_text *t, uint32_t *idx)
{
  uint32_t *memo = &j->interned[t->value];
  if(*memo) {
    *idx = *memo - 1;
    return MLY_OK;
  }
  enum mly_rc rc = intern(j, t->v, idx);
  if(!rc)
    *memo = *idx + 1;
  return rc;
}

/* buf (of *cap bytes) at least n bytes long, all zero */
static enum mly_rc zeroed(void **buf, size_t *cap, size_t n)
{
  if(n > *cap) {
    void *p = realloc(*buf, n);
    if(!p)
      return MLY_ENOMEM;
    *buf = p;
    *cap = n;
  }
  if(n)
    memset(*buf, 0, n);
  return MLY_OK;
}

/* A clean memo of the values of the layer just indexed */
static enum mly_rc reset_interned(struct job *j)
{
  return zeroed((void **)&j->interned, &j->interned_cap, j->idx.nvalues * sizeof(*j->interned));
}

/* The compact record of an image for dedup and sequences */
static enum mly_rc image_record(struct job *j, const struct image *img,
                                const struct jsonw_pos *pos, struct seq_point *p)
{
  memset(p, 0, sizeof(*p));
  p->seq = NO_SEQ;
  enum mly_rc rc = MLY_OK;
  if(img->sequence_id.known)
    rc = intern_value(j, &img->sequence_id, &p->seq);
  if(!rc && img->organization_id.known) {
    rc = intern_value(j, &img->organization_id, &p->org);
    p->org++;
  }
  if(rc)
    return rc;
  seq_point_at(p, pos);
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
  c->ninexact += inexact;
  return MLY_OK;
}

/* A tile that crosses an area's boundary is cut into SUBCELLS x SUBCELLS
 * cells, each tested once against the area (exactly, as a rectangle) when
 * a point first falls in it: points in a cell inside or outside the area
 * need no test of their own, only those in a cell the boundary crosses.
 * A cell spans whole pixels, its closed rectangle's corners are computed
 * as the points' coordinates are, and that computation is monotonic in
 * the pixel, so every point of a cell lies in its closed rectangle. */
#define SUBCELLS 16
enum cell_rel { CELL_UNKNOWN = 0, CELL_OUT, CELL_PARTIAL, CELL_IN };

/* The cells of the tile's members, all unknown (CELL_UNKNOWN is 0) */
static enum mly_rc reset_cells(struct job *j, uint32_t members)
{
  return zeroed((void **)&j->cells, &j->cells_cap, (size_t)members * SUBCELLS * SUBCELLS);
}

/* Whether area covers the image at (lon, lat), pixel (px, py) of tile t,
 * known to lie in the closed tile; *cell is the member's relation to the
 * cell the pixel is in, found here when unknown */
static enum mly_rc covers_in_tile(struct aoi *area, struct tile t, uint32_t extent,
                                  uint8_t *cells, int64_t px, int64_t py, double lon, double lat,
                                  bool *covered, struct mly_err *err)
{
  int64_t cx = px * SUBCELLS / extent, cy = py * SUBCELLS / extent;
  if(cx >= SUBCELLS)
    cx = SUBCELLS - 1; /* the tile's east or south edge */
  if(cy >= SUBCELLS)
    cy = SUBCELLS - 1;
  uint8_t *cell = &cells[cy * SUBCELLS + cx];
  if(*cell == CELL_UNKNOWN) {
    /* the whole pixels the cell spans: floor(px * SUBCELLS / extent) == cx
     * holds for every px in [x0, x1] */
    int64_t x0 = cx * extent / SUBCELLS, x1 = ((cx + 1) * extent + SUBCELLS - 1) / SUBCELLS;
    int64_t y0 = cy * extent / SUBCELLS, y1 = ((cy + 1) * extent + SUBCELLS - 1) / SUBCELLS;
    double w, s, e, n;
    tile_pixel_to_lonlat(t, extent, x0, y0, &w, &n);
    tile_pixel_to_lonlat(t, extent, x1, y1, &e, &s);
    enum aoi_rect_rel rel;
    enum mly_rc rc = aoi_rect_relation(area, w, s, e, n, &rel, err);
    if(rc)
      return rc;
    *cell = rel == AOI_RECT_IN ? CELL_IN : rel == AOI_RECT_OUT ? CELL_OUT : CELL_PARTIAL;
  }
  *covered = *cell == CELL_IN || (*cell == CELL_PARTIAL && aoi_covers(area, lon, lat));
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
  if(!rc)
    rc = reset_interned(j);
  if(!rc)
    rc = reset_cells(j, jt->n);
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
      bool covered = in_tile && mb->rel == AOI_TILE_INSIDE;
      if(!covered && in_tile && layer->extent) {
        uint8_t *cells = j->cells + (size_t)m * SUBCELLS * SUBCELLS;
        if((rc = covers_in_tile(aoi, jt->t, layer->extent, cells, img.px, img.py, lon, lat,
                                &covered, err)))
          return rc;
      }
      else if(!covered)
        covered = aoi_covers(aoi, lon, lat);
      if(!covered)
        continue;
      if(!have_text) {
        size_t before = c->text.n;
        /* every points file of a run has one format (one extension): the
         * text is made once per image and shared by all areas */
        struct jsonw_pos pos;
        if((rc = j->points_csv
                   ? image_write_csv(&c->text, &img, lon, lat, &pos, &j->idx, &j->keys, NULL)
                   : image_write_geojson(&c->text, &img, lon, lat, &pos, &j->idx, &j->keys, NULL)))
          return mly_err_set(err, rc, "cannot format image: %s", mly_strerror(rc));
        if(c->text.n > UINT32_MAX)
          return mly_err_set(err, MLY_ETOOBIG, "tile output too large");
        text_off = (uint32_t)before;
        text_len = (uint32_t)(c->text.n - before);
        have_text = true;
        if((rc = image_record(j, &img, &pos, &rec)))
          return mly_err_set(err, rc, "cannot keep image: %s", mly_strerror(rc));
        /* ask for the exact ids of its sequence now, so the answer is
         * likely in by the time this tile's turn to be written comes */
        if(img.id_inexact && j->repair && rec.seq != NO_SEQ && (rc = mly__repair_want(j, rec.seq)))
          return mly_err_set(err, rc, "out of memory");
        if(j->org_names && rec.org && (rc = mly__orgname_want(j, rec.org - 1)))
          return mly_err_set(err, rc, "out of memory");
      }
      if((rc = keep_image(c, mb->area, &rec, img.id_inexact, text_off, text_len)))
        return mly_err_set(err, rc, "cannot keep image: %s", mly_strerror(rc));
    }
  }
  return more < 0 ? MLY_EFORMAT : MLY_OK;
}

void mly__chunk_reset(struct chunk *c)
{
  c->ready = false;
  c->had_data = false;
  dbuf_reset(&c->text);
  c->nkept = 0;
  c->ninexact = 0;
  c->seen = 0;
}

/* Decode a tile body into its chunk. MLY_EFORMAT means the body is
 * unusable (a truncated or corrupt tile): the fetcher retries it. */
enum mly_rc mly__tile_process(struct job *j, size_t ti, const uint8_t *body, size_t n,
                                struct mly_err *err)
{
  struct chunk *c = &j->window[ti % j->nwindow];
  mly__chunk_reset(c);
  struct mvt_tile t;
  struct mvt_layer layer;
  int more;
  mvt_tile_init(&t, body, n);
  while((more = mvt_next_layer(&t, &layer, err)) == 1) {
    if(!mly_view_eq(layer.name, "image"))
      continue;
    enum mly_rc rc = process_layer(j, ti, c, &layer, err);
    if(rc) {
      mly__chunk_reset(c);
      return rc;
    }
  }
  if(more < 0) {
    mly__chunk_reset(c);
    return MLY_EFORMAT;
  }
  c->had_data = true;
  c->ready = true;
  return MLY_OK;
}

/* Whether every sequence whose ids this chunk needs repaired has its answer */
static bool repairs_settled(const struct job *j, const struct chunk *c)
{
  bool ids = c->ninexact && j->repair;
  if(!ids && !j->org_names)
    return true;
  for(size_t i = 0; i < c->nkept; i++) {
    const struct kept *k = &c->kept[i];
    if(ids && k->inexact && k->p.seq != NO_SEQ && j->repairs[k->p.seq].state == REPAIR_QUEUED)
      return false;
    if(j->org_names && k->p.org && j->orgnames[k->p.org - 1].state == REPAIR_QUEUED)
      return false;
  }
  return true;
}

/* --organization_names: add "organization_name" right after the image's
 * "organization_id" (*text then points into j->scratch2) */
static enum mly_rc add_org_name(struct job *j, const struct kept *k, const char **text, size_t *len)
{
  const char *name = j->orgnames[k->p.org - 1].name;
  if(!name)
    return MLY_OK; /* unknown to the API: omitted, never invented */
  static const char marker[] = "\"organization_id\":\"";
  const char *at = memmem(*text, *len, marker, sizeof(marker) - 1);
  if(!at)
    return mly_err_set(j->err, MLY_EFORMAT, "internal: no organization_id in an image's text");
  const char *p = at + sizeof(marker) - 1, *end = *text + *len;
  while(p < end && *p != '"')
    p += *p == '\\' ? 2 : 1;
  if(p >= end)
    return mly_err_set(j->err, MLY_EFORMAT, "internal: unterminated organization_id");
  p++; /* past the closing quote */
  struct dbuf *b = &j->scratch2;
  dbuf_reset(b);
  enum mly_rc rc = dbuf_add(b, *text, (size_t)(p - *text));
  if(!rc)
    rc = dbuf_adds(b, ",\"organization_name\":");
  if(!rc)
    rc = jsonw_string(b, name, strlen(name));
  if(!rc)
    rc = dbuf_add(b, p, (size_t)(end - p));
  if(rc)
    return mly_err_set(j->err, rc, "out of memory");
  *text = b->p;
  *len = b->n;
  return MLY_OK;
}

/* The exact id of an image held as a double at or above 2^53, looked up
 * once per image (and counted once, whatever the areas keeping it).
 * Returns the number of candidates, 0 when the id stays as held; with
 * more than one (a collision) *exact is only the first of them: the image
 * is held back and gets its own once the images sharing the double are
 * ranked by capture time (mly__write_held). */
static size_t resolve_id(struct job *j, const struct kept *k, uint64_t *exact)
{
  struct job_stats *st = j->st;
  st->inexact_ids++;
  struct repair *r = j->repair && k->p.seq != NO_SEQ ? &j->repairs[k->p.seq] : NULL;
  size_t candidates = r && r->state == REPAIR_DONE ? idrepair_resolve(r->r, k->p.id, 0, exact) : 0;
  if(candidates == 0)
    st->ids_unrepaired++;
  else {
    st->ids_repaired++;
    st->id_collisions += candidates > 1;
  }
  return candidates;
}

/* Put the exact id into a kept image's record and text (*text then points
 * into j->scratch) */
static enum mly_rc repair_id(struct job *j, struct kept *k, uint64_t exact, const char **text,
                             size_t *len)
{
  if(exact == k->p.id)
    return MLY_OK;
  /* the id is the first CSV column, or the first GeoJSON property:
   * "properties":{"id":"<digits>" */
  static const char marker[] = "\"properties\":{\"id\":\"";
  const char *digits = *text, *end;
  if(j->points_csv)
    end = memchr(digits, ',', *len);
  else {
    const char *at = memmem(*text, *len, marker, sizeof(marker) - 1);
    if(!at)
      return mly_err_set(j->err, MLY_EFORMAT, "internal: no id in an image's text");
    digits = at + sizeof(marker) - 1;
    end = memchr(digits, '"', (size_t)(*text + *len - digits));
  }
  if(!end)
    return mly_err_set(j->err, MLY_EFORMAT, "internal: unterminated id in an image's text");
  char num[JSONW_NUM_MAX];
  size_t n = jsonw_u64(num, exact);
  dbuf_reset(&j->scratch);
  enum mly_rc rc = dbuf_add(&j->scratch, *text, (size_t)(digits - *text));
  if(!rc)
    rc = dbuf_add(&j->scratch, num, n);
  if(!rc)
    rc = dbuf_add(&j->scratch, end, (size_t)(*text + *len - end));
  if(rc)
    return mly_err_set(j->err, rc, "out of memory");
  *text = j->scratch.p;
  *len = j->scratch.n;
  k->p.id = exact;
  return MLY_OK;
}

/* The key of a kept image in the duplicate check: its id, sequence and
 * position (SPEC.md "Output": two images whose ids a double cannot tell
 * apart are two images unless they also share sequence and position).
 * The tag is the sequence; the position's exact coordinates (their packed
 * text) are mixed into the 64-bit id, so a copy in a neighbour's buffer,
 * decoded to the same coordinates, meets its original, and two distinct
 * images meet only through a 64-bit coincidence of the mix. */
static uint32_t seen_tag(const struct kept *k)
{
  return k->p.seq | (k->p.flags & SEQP_ID_STR ? STR_ID_TAG : 0);
}

static uint64_t mix64(uint64_t h)
{
  h ^= h >> 31;
  h *= 0x7fb5d329728ea185ULL;
  h ^= h >> 27;
  h *= 0x81dadef4bc2dd44dULL;
  h ^= h >> 33;
  return h;
}

static uint64_t seen_id(const struct kept *k)
{
  uint64_t forms = (uint64_t)k->p.lon_form << 8 | k->p.lat_form;
  return k->p.id ^ mix64(k->p.lon ^ mix64(k->p.lat + forms * 0x9e3779b97f4a7c15ULL));
}

/* Hold a kept image of a collision back (its text copied) */
static enum mly_rc hold(struct job *j, const struct kept *k, int cls, const char *text, size_t len)
{
  if(j->nheld == j->heldcap) {
    size_t cap = j->heldcap ? j->heldcap * 2 : 64;
    struct held *nh = realloc(j->held, cap * sizeof(*nh));
    if(!nh)
      return mly_err_set(j->err, MLY_ENOMEM, "out of memory");
    j->held = nh;
    j->heldcap = cap;
  }
  size_t off = j->held_text.n;
  if(dbuf_add(&j->held_text, text, len))
    return mly_err_set(j->err, MLY_ENOMEM, "out of memory");
  j->held[j->nheld++] = (struct held){.area = k->area, .cls = (uint32_t)cls,
                                      .image = j->nheld_images - 1, .p = k->p, .text_off = off,
                                      .text_len = (uint32_t)len};
  return MLY_OK;
}

/* Kept images looked at this far ahead have their duplicate-check slots
 * brought into the cache: the sets of a dense column outgrow it, and a
 * miss per image and set is otherwise most of the check's cost */
#define PREFETCH_AHEAD 8

static void prefetch_seen(const struct job *j, const struct kept *k)
{
  if(!(k->p.flags & SEQP_ID_KNOWN))
    return;
  const struct area_out *ar = &j->areas[k->area];
  uint64_t id = seen_id(k);
  idset_prefetch(ar->seen_cur, id, seen_tag(k));
  idset_prefetch(ar->seen_prev, id, seen_tag(k));
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
    struct area_out *ar = &j->areas[j->members[jt->first + m].area];
    if(ar->seen_x != jt->t.x) {
      /* a new column: the one before it is all a duplicate can be in */
      idset_free(&ar->seen_prev);
      if(ar->seen_x + 1 == jt->t.x)
        ar->seen_prev = ar->seen_cur;
      else {
        ar->seen_prev = idset_new();
        idset_free(&ar->seen_cur);
      }
      ar->seen_cur = idset_new();
      ar->seen_x = jt->t.x;
      if(!ar->seen_prev || !ar->seen_cur)
        return mly_err_set(j->err, MLY_ENOMEM, "out of memory");
    }
    /* the set takes this tile's images without growing: prefetching
     * below relies on that */
    if(idset_reserve(ar->seen_cur, c->nkept))
      return mly_err_set(j->err, MLY_ENOMEM, "out of memory");
    struct job_area_report *r = &ar->rep;
    r->tiles++;
    r->images_seen += c->seen;
    r->tiles_with_data += c->had_data && c->seen;
  }
  size_t candidates = 0;
  uint64_t exact = 0;
  for(size_t i = 0; i < c->nkept; i++) {
    struct kept *k = &c->kept[i];
    struct area_out *ar = &j->areas[k->area];
    enum mly_rc rc;
    if(i + PREFETCH_AHEAD < c->nkept)
      prefetch_seen(j, &c->kept[i + PREFETCH_AHEAD]);
    const char *text = c->text.p + k->text_off;
    size_t text_len = k->text_len;
    if(k->inexact) {
      /* the areas keeping one image share its text and come one after another */
      if(i == 0 || k->text_off != c->kept[i - 1].text_off) {
        candidates = resolve_id(j, k, &exact);
        j->nheld_images += candidates > 1;
      }
      if(candidates == 1 && (rc = repair_id(j, k, exact, &text, &text_len)))
        return rc;
    }
    if(j->org_names && k->p.org && (rc = add_org_name(j, k, &text, &text_len)))
      return rc;
    if(k->p.flags & SEQP_ID_KNOWN) {
      bool added;
      uint32_t tag = seen_tag(k);
      uint64_t id = seen_id(k);
      if((rc = idset_add(ar->seen_cur, id, tag, &added)))
        return mly_err_set(j->err, rc, "out of memory");
      added = added && !idset_has(ar->seen_prev, id, tag);
      if(!added) {
        st->duplicates++;
        continue;
      }
    }
    bool pano = k->p.flags & SEQP_PANO;
    int cls = ar->nclasses == 2 && !pano ? 1 : 0;
    if(k->inexact && candidates > 1 && j->write_outputs) {
      /* a collision: written once its rank by capture time is known */
      if((rc = hold(j, k, cls, text, text_len)))
        return rc;
    }
    /* a shard or count-only run writes nothing */
    else if(j->write_outputs && (rc = outfile_feature(&ar->points[cls], text, text_len, j->err)))
      return rc;
    st->images_kept++;
    st->panoramas += pano;
    ar->rep.images_kept++;
    ar->rep.panoramas += pano;
    if(!k->p.org)
      ar->rep.without_org++;
    else if((rc = mly__org_count(&ar->orgs, k->p.org)))
      return mly_err_set(j->err, rc, "out of memory");
    if(j->write_outputs && k->p.seq != NO_SEQ && !(k->inexact && candidates > 1) &&
       (rc = seq_add(ar->seqb[cls], &k->p)))
      return seq_add_error(ar->seqb[cls], j->err);
  }
  return MLY_OK;
}

/* Ranking of held images: by sequence and rounded id (one collision group),
 * then capture time (unknown first, as sequences order them), then tile
 * order (the image number) */
struct held_rank {
  uint32_t seq;
  bool known;
  uint64_t id;
  int64_t t;
  size_t image;
};

static int held_rank_cmp(const void *a, const void *b)
{
  const struct held_rank *x = a, *y = b;
  if(x->seq != y->seq)
    return x->seq < y->seq ? -1 : 1;
  if(x->id != y->id)
    return x->id < y->id ? -1 : 1;
  if(x->known != y->known)
    return x->known ? 1 : -1;
  if(x->t != y->t)
    return x->t < y->t ? -1 : 1;
  return x->image < y->image ? -1 : x->image > y->image;
}

enum mly_rc mly__write_held(struct job *j)
{
  if(!j->nheld)
    return MLY_OK;
  struct held_rank *keys = calloc(j->nheld_images, sizeof(*keys));
  size_t *rank = calloc(j->nheld_images, sizeof(*rank));
  enum mly_rc rc = MLY_OK;
  if(!keys || !rank) {
    rc = mly_err_set(j->err, MLY_ENOMEM, "out of memory");
    goto out;
  }
  /* the areas keeping one image hold it one after another */
  size_t n = 0;
  for(size_t i = 0; i < j->nheld; i++) {
    const struct held *h = &j->held[i];
    if(i && h->image == j->held[i - 1].image)
      continue;
    keys[n++] = (struct held_rank){h->p.seq, (h->p.flags & SEQP_CAPTURED_KNOWN) != 0, h->p.id,
                                   h->p.captured_at, h->image};
  }
  qsort(keys, n, sizeof(*keys), held_rank_cmp);
  for(size_t i = 0, r = 0; i < n; i++) {
    r = i && keys[i].seq == keys[i - 1].seq && keys[i].id == keys[i - 1].id ? r + 1 : 0;
    rank[keys[i].image] = r;
  }
  for(size_t i = 0; i < j->nheld && !rc; i++) {
    const struct held *h = &j->held[i];
    struct area_out *ar = &j->areas[h->area];
    struct kept k = {.area = h->area, .p = h->p};
    uint64_t exact;
    idrepair_resolve(j->repairs[h->p.seq].r, h->p.id, rank[h->image], &exact);
    const char *text = j->held_text.p + h->text_off;
    size_t len = h->text_len;
    if((rc = repair_id(j, &k, exact, &text, &len)))
      break;
    if((rc = outfile_feature(&ar->points[h->cls], text, len, j->err)))
      break;
    if((rc = seq_add(ar->seqb[h->cls], &k.p)))
      rc = seq_add_error(ar->seqb[h->cls], j->err);
  }
out:
  free(keys);
  free(rank);
  return rc;
}

enum mly_rc mly__flush_ready(struct job *j)
{
  while(j->head < j->next && j->window[j->head % j->nwindow].ready &&
        repairs_settled(j, &j->window[j->head % j->nwindow])) {
    struct chunk *c = &j->window[j->head % j->nwindow];
    enum mly_rc rc = flush_chunk(j, c);
    mly__chunk_reset(c);
    /* Written: its buffers go back. Kept, they would hold a tile's worth
     * of memory in every slot of the window (256 at C=64, 30 MB for tiles
     * of 250 images); given back, malloc hands the same memory to the
     * next tile, so the window holds only what its waiting tiles need. */
    size_t toobig = c->text.toobig;
    dbuf_cleanup(&c->text);
    dbuf_init(&c->text, toobig);
    free(c->kept);
    c->kept = NULL;
    c->cap = 0;
    if(rc)
      return rc;
    j->head++;
  }
  return MLY_OK;
}
