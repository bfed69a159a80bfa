/* fuzz_mvt.c -- libFuzzer harness: decode every layer, key, value, feature, tag and geometry */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mly/mvt.h"

/* Touch every vertex so the decoder's output is used; stop never. */
static int visit(void *user, uint32_t cmd, int64_t x, int64_t y)
{
  uint64_t *sum = user;
  *sum += (uint64_t)cmd + (uint64_t)x + (uint64_t)y;
  return 0;
}

/* Read every byte of a view so ASan checks that it lies in the input */
static uint64_t touch(struct mly_view v)
{
  uint64_t h = v.n;
  for(size_t i = 0; i < v.n; i++)
    h = h * 31 + (unsigned char)v.p[i];
  return h;
}

static void walk_layer(struct mvt_layer *l, struct mvt_index *idx, uint64_t *sum)
{
  struct mvt_feature f;
  struct mly_err err;
  int64_t xy[2 * 64];
  int rc;

  *sum += touch(l->name) + l->extent + l->version;
  if(mvt_layer_index(l, idx, &err) != MLY_OK) {
    /* a failed index is empty: tags below are then all out of range */
    if(idx->nkeys || idx->nvalues)
      abort();
  }
  for(size_t i = 0; i < idx->nkeys; i++)
    *sum += touch(idx->keys[i]);
  for(size_t i = 0; i < idx->nvalues; i++)
    if(idx->values[i].type == MVT_VAL_STRING)
      *sum += touch(idx->values[i].v.s);
  while((rc = mvt_layer_next_feature(l, &f, &err)) == 1) {
    struct mvt_tag_iter it;
    uint32_t k, v;
    size_t n = 0;
    mvt_tags_begin(&f, &it);
    while((rc = mvt_tags_next(&it, &k, &v, &err)) == 1) {
      /* what a consumer must do: range-check before indexing */
      if(k < idx->nkeys && v < idx->nvalues)
        *sum += touch(idx->keys[k]) + (uint64_t)idx->values[v].type;
    }
    if(mvt_decode_points(&f, xy, 64, &n, &err) == MLY_OK) {
      if(n == 0 || n > 64)
        abort(); /* a successful decode has between 1 and max points */
      for(size_t i = 0; i < 2 * n; i++)
        *sum += (uint64_t)xy[i];
    }
    err.msg[0] = '\0';
    if(mvt_decode_geometry(&f, visit, sum, &err) != MLY_OK && err.msg[0] == '\0')
      abort(); /* every failure carries a message */
    *sum += f.id + (uint64_t)f.type;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct mvt_tile t;
  struct mvt_layer l;
  struct mvt_index idx;
  struct mly_err err;
  uint64_t sum = 0;
  int rc;

  mvt_index_init(&idx);
  mvt_tile_init(&t, data, size);
  while((rc = mvt_next_layer(&t, &l, &err)) == 1) {
    const uint8_t *before = t.p;
    walk_layer(&l, &idx, &sum);
    /* walking a layer never moves the tile cursor */
    if(t.p != before)
      abort();
  }
  if(rc < 0 && (err.rc != MLY_EFORMAT || err.msg[0] == '\0'))
    abort(); /* every failure carries a message */
  mvt_index_cleanup(&idx);
  /* keep sum alive without printing */
  volatile uint64_t sink = sum;
  (void)sink;
  return 0;
}
