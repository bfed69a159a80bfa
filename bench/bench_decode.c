/* bench_decode.c -- decoder throughput (MB/s, features/s) over one tile held in memory
 *
 * usage: bench_decode TILE [ITERATIONS [REPEATS [STAGE]]]
 *
 * Loads TILE once, then REPEATS times (default 3) walks it ITERATIONS times
 * (default 20) and prints the median repeat. STAGE says how far each
 * feature is taken, so that the pipeline's cost can be split up:
 *   mvt      the decoder alone (default): every layer, its keys and values
 *            indexed, every feature, every tag pair checked against the
 *            index and its value touched, every geometry decoded
 *   image    mvt, plus image_read() on the `image` layer's points (typed
 *            properties, as the pipeline reads them)
 *   geojson  image, plus image_write_geojson() into a reused buffer
 * The last line is machine-readable: `result stage=... mb_s=... ...`.
 * Times are CPU time of this process (CLOCK_PROCESS_CPUTIME_ID): the
 * machine is shared, and CPU time is what a figure per core is about. */
#include "mly/dbuf.h"
#include "mly/image.h"
#include "mly/mvt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum stage { STAGE_MVT, STAGE_IMAGE, STAGE_GEOJSON };

struct counts {
  uint64_t layers, features, tags, points, vertices;
  uint64_t check; /* folds in decoded values so the work cannot be optimised away */
};

struct walker {
  enum stage stage;
  struct mvt_index idx;
  struct image_keys keys;
  struct dbuf text;
  int64_t xy[2 * 64];
  struct counts c;
};

static double cpu_seconds(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int load(const char *path, uint8_t **data, size_t *n)
{
  FILE *f = fopen(path, "rb");
  if(!f)
    return -1;
  size_t cap = 1 << 20, len = 0;
  uint8_t *buf = malloc(cap);
  while(buf) {
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if(len < cap)
      break;
    uint8_t *nb = realloc(buf, cap * 2);
    if(!nb) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = nb;
    cap *= 2;
  }
  int bad = ferror(f) || !buf;
  fclose(f);
  if(bad) {
    free(buf);
    return -1;
  }
  *data = buf;
  *n = len;
  return 0;
}

/* Touch a value the way a consumer would, without formatting it */
static uint64_t fold_value(const struct mvt_value *v)
{
  switch(v->type) {
  case MVT_VAL_STRING: return v->v.s.n ? (uint8_t)v->v.s.p[0] + v->v.s.n : 1;
  case MVT_VAL_FLOAT: return (uint64_t)(int64_t)v->v.f;
  case MVT_VAL_DOUBLE: return (uint64_t)(int64_t)v->v.d;
  case MVT_VAL_INT:
  case MVT_VAL_SINT: return (uint64_t)v->v.i;
  case MVT_VAL_UINT: return v->v.u;
  case MVT_VAL_BOOL: return v->v.b;
  default: return 0;
  }
}

static int count_vertex(void *user, uint32_t cmd, int64_t x, int64_t y)
{
  struct counts *c = user;
  c->vertices++;
  c->check += (uint64_t)(x ^ y) + cmd;
  return 0;
}

static int walk_feature(struct walker *w, const struct mvt_feature *f, bool image_layer,
                        struct mly_err *err)
{
  struct mvt_tag_iter it;
  uint32_t k, v;
  int more;
  mvt_tags_begin(f, &it);
  while((more = mvt_tags_next(&it, &k, &v, err)) == 1) {
    if(k >= w->idx.nkeys || v >= w->idx.nvalues) {
      snprintf(err->msg, sizeof(err->msg), "tag index out of range");
      return -1;
    }
    w->c.tags++;
    w->c.check += w->idx.keys[k].n + fold_value(&w->idx.values[v]);
  }
  if(more < 0)
    return -1;
  if(f->type == MVT_GEOM_POINT) {
    size_t n;
    if(mvt_decode_points(f, w->xy, sizeof(w->xy) / sizeof(w->xy[0]) / 2, &n, err))
      return -1;
    w->c.points += n;
    for(size_t i = 0; i < n; i++)
      w->c.check += (uint64_t)(w->xy[2 * i] * 4099 + w->xy[2 * i + 1]);
  }
  else if(mvt_decode_geometry(f, count_vertex, &w->c, err)) {
    return -1;
  }
  if(w->stage == STAGE_MVT || !image_layer || f->type != MVT_GEOM_POINT)
    return 0;
  struct image img;
  if(image_read(&img, f, &w->idx, &w->keys, err))
    return -1;
  w->c.check += img.id + (uint64_t)img.captured_at;
  if(w->stage == STAGE_GEOJSON) {
    dbuf_reset(&w->text);
    /* a fixed position: tile math is not the decoder's cost */
    if(image_write_geojson(&w->text, &img, -108.5, 39.1, NULL, &w->idx, &w->keys, NULL)) {
      snprintf(err->msg, sizeof(err->msg), "cannot format image");
      return -1;
    }
    w->c.check += w->text.n;
  }
  return 0;
}

static int walk_tile(struct walker *w, const uint8_t *data, size_t n, struct mly_err *err)
{
  struct mvt_tile t;
  struct mvt_layer layer;
  int more;
  mvt_tile_init(&t, data, n);
  while((more = mvt_next_layer(&t, &layer, err)) == 1) {
    w->c.layers++;
    if(mvt_layer_index(&layer, &w->idx, err))
      return -1;
    bool image_layer = mly_view_eq(layer.name, "image");
    if(image_layer && w->stage != STAGE_MVT && image_keys_map(&w->keys, &w->idx)) {
      snprintf(err->msg, sizeof(err->msg), "out of memory");
      return -1;
    }
    struct mvt_feature f;
    int fm;
    while((fm = mvt_layer_next_feature(&layer, &f, err)) == 1) {
      w->c.features++;
      if(walk_feature(w, &f, image_layer, err))
        return -1;
    }
    if(fm < 0)
      return -1;
  }
  return more < 0 ? -1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
  if(argc < 2) {
    fprintf(stderr, "usage: bench_decode TILE [ITERATIONS [REPEATS [mvt|image|geojson]]]\n");
    return 2;
  }
  long iters = argc > 2 ? strtol(argv[2], NULL, 10) : 20;
  long repeats = argc > 3 ? strtol(argv[3], NULL, 10) : 3;
  const char *stage_name = argc > 4 ? argv[4] : "mvt";
  enum stage stage;
  if(strcmp(stage_name, "mvt") == 0)
    stage = STAGE_MVT;
  else if(strcmp(stage_name, "image") == 0)
    stage = STAGE_IMAGE;
  else if(strcmp(stage_name, "geojson") == 0)
    stage = STAGE_GEOJSON;
  else {
    fprintf(stderr, "bench_decode: unknown stage %s\n", stage_name);
    return 2;
  }
  if(iters < 1 || repeats < 1 || repeats > 99) {
    fprintf(stderr, "bench_decode: iterations and repeats must be positive\n");
    return 2;
  }
  uint8_t *data;
  size_t n;
  if(load(argv[1], &data, &n)) {
    fprintf(stderr, "bench_decode: cannot read %s\n", argv[1]);
    return 1;
  }
  struct walker w;
  memset(&w, 0, sizeof(w));
  w.stage = stage;
  mvt_index_init(&w.idx);
  image_keys_init(&w.keys);
  dbuf_init(&w.text, 1 << 20);
  struct mly_err err = {0};
  double secs[99];
  struct counts per_iter = {0};
  int rc = 0;
  for(long r = 0; r < repeats && !rc; r++) {
    double t0 = cpu_seconds();
    for(long i = 0; i < iters && !rc; i++) {
      struct counts before = w.c;
      if(walk_tile(&w, data, n, &err)) {
        fprintf(stderr, "bench_decode: %s\n", err.msg);
        rc = 1;
      }
      per_iter.layers = w.c.layers - before.layers;
      per_iter.features = w.c.features - before.features;
      per_iter.tags = w.c.tags - before.tags;
      per_iter.points = w.c.points - before.points;
      per_iter.vertices = w.c.vertices - before.vertices;
    }
    secs[r] = cpu_seconds() - t0;
  }
  if(!rc) {
    qsort(secs, (size_t)repeats, sizeof(secs[0]), cmp_double);
    double med = secs[repeats / 2];
    double mb = (double)n * (double)iters / 1e6;
    double feats = (double)per_iter.features * (double)iters;
    printf("tile %s: %zu bytes, %llu layers, %llu features, %llu tag pairs, %llu points, "
           "%llu other vertices\n",
           argv[1], n, (unsigned long long)per_iter.layers,
           (unsigned long long)per_iter.features, (unsigned long long)per_iter.tags,
           (unsigned long long)per_iter.points, (unsigned long long)per_iter.vertices);
    printf("stage %s: %ld x %ld iterations, median %.4f s CPU\n", stage_name, repeats, iters, med);
    printf("result stage=%s bytes=%zu features=%llu iterations=%ld seconds=%.6f mb_s=%.1f "
           "features_s=%.0f ns_feature=%.1f check=%llu\n",
           stage_name, n, (unsigned long long)per_iter.features, iters, med, mb / med,
           feats / med, med * 1e9 / feats, (unsigned long long)w.c.check);
  }
  dbuf_cleanup(&w.text);
  image_keys_cleanup(&w.keys);
  mvt_index_cleanup(&w.idx);
  free(data);
  return rc;
}
