/* test_mvt.c -- unit tests of the MVT decoder on handmade and real tiles */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mly/mvt.h"

#define FIXTURES MLY_SOURCE_DIR "/tests/fixtures/mvt/"
#define REAL MLY_SOURCE_DIR "/tests/fixtures/mapillary-real/14/"

/* ---- helpers ------------------------------------------------------------ */

struct buf {
  uint8_t *p;
  size_t n;
};

/* Read a whole file into an exact-size buffer (so ASan sees over-reads) */
static struct buf load(const char *path)
{
  struct buf b = {NULL, 0};
  FILE *f = fopen(path, "rb");
  if(!f)
    fail_msg("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  assert_true(n >= 0);
  b.n = (size_t)n;
  b.p = malloc(b.n ? b.n : 1);
  assert_non_null(b.p);
  assert_int_equal(fread(b.p, 1, b.n, f), b.n);
  fclose(f);
  return b;
}

static struct buf load_fixture(const char *name)
{
  char path[512];
  snprintf(path, sizeof(path), FIXTURES "%s.mvt", name);
  return load(path);
}

/* First layer of a fixture; the buffer must be freed by the caller */
static struct buf first_layer(const char *name, struct mvt_layer *layer)
{
  struct buf b = load_fixture(name);
  struct mvt_tile t;
  struct mly_err err;
  mvt_tile_init(&t, b.p, b.n);
  if(mvt_next_layer(&t, layer, &err) != 1)
    fail_msg("no first layer in %s: %s", name, err.msg);
  return b;
}

static struct mvt_feature first_feature(struct mvt_layer *layer)
{
  struct mvt_feature f;
  struct mly_err err;
  if(mvt_layer_next_feature(layer, &f, &err) != 1)
    fail_msg("no first feature: %s", err.msg);
  return f;
}

/* Geometry visitor that records vertices */
struct verts {
  size_t n;
  uint32_t cmd[16];
  int64_t x[16], y[16];
  int64_t last_x, last_y;
  size_t stop_at; /* return 99 when this many were seen (0: never) */
};

static int record_vertex(void *user, uint32_t cmd, int64_t x, int64_t y)
{
  struct verts *v = user;
  if(v->n < 16) {
    v->cmd[v->n] = cmd;
    v->x[v->n] = x;
    v->y[v->n] = y;
  }
  v->last_x = x;
  v->last_y = y;
  v->n++;
  return v->stop_at && v->n == v->stop_at ? 99 : 0;
}

/* A feature over handmade geometry bytes */
static struct mvt_feature geom_feature(const uint8_t *g, size_t n, enum mvt_geom_type type)
{
  struct mvt_feature f;
  memset(&f, 0, sizeof(f));
  f.type = type;
  f.geom = g;
  f.geom_end = g + n;
  f.tags = f.tags_end = g;
  return f;
}

/* ---- valid tiles ------------------------------------------------------- */

static void test_single_point_layer_and_feature(void **state)
{
  (void)state;
  struct mvt_layer l;
  struct buf b = first_layer("001-single-point", &l);
  assert_true(mly_view_eq(l.name, "points"));
  assert_int_equal(l.version, 2);
  assert_int_equal(l.extent, 4096);
  struct mvt_feature f = first_feature(&l);
  assert_true(f.has_id);
  assert_int_equal(f.id, 1);
  assert_int_equal(f.type, MVT_GEOM_POINT);
  int64_t xy[2];
  size_t n = 0;
  struct mly_err err;
  assert_int_equal(mvt_decode_points(&f, xy, 1, &n, &err), MLY_OK);
  assert_int_equal(n, 1);
  assert_int_equal(xy[0], 25);
  assert_int_equal(xy[1], 17);
  assert_int_equal(mvt_layer_next_feature(&l, &f, &err), 0);
  /* the end is sticky */
  assert_int_equal(mvt_layer_next_feature(&l, &f, &err), 0);
  free(b.p);
}

static void test_multipoint_delta_zigzag(void **state)
{
  (void)state;
  struct mvt_layer l;
  struct buf b = first_layer("002-multipoint", &l);
  struct mvt_feature f = first_feature(&l);
  int64_t xy[4];
  size_t n = 0;
  struct mly_err err;
  assert_int_equal(mvt_decode_points(&f, xy, 2, &n, &err), MLY_OK);
  assert_int_equal(n, 2);
  assert_int_equal(xy[0], 5);
  assert_int_equal(xy[1], 7);
  assert_int_equal(xy[2], 8);
  assert_int_equal(xy[3], 9);
  /* a max below the count is a format error, not a silent cut */
  n = 77;
  assert_int_equal(mvt_decode_points(&f, xy, 1, &n, &err), MLY_EFORMAT);
  assert_non_null(strstr(err.msg, "more than 1 points"));
  assert_int_equal(n, 77);
  free(b.p);
}

static void test_linestring_via_decode_geometry(void **state)
{
  (void)state;
  struct mvt_layer l;
  struct buf b = first_layer("003-linestring", &l);
  struct mvt_feature f = first_feature(&l);
  struct verts v = {0};
  struct mly_err err;
  assert_int_equal(f.type, MVT_GEOM_LINESTRING);
  assert_int_equal(mvt_decode_geometry(&f, record_vertex, &v, &err), MLY_OK);
  assert_int_equal(v.n, 3);
  assert_int_equal(v.cmd[0], 1);
  assert_int_equal(v.x[0], 2);
  assert_int_equal(v.y[0], 2);
  assert_int_equal(v.cmd[1], 2);
  assert_int_equal(v.x[1], 2);
  assert_int_equal(v.y[1], 10);
  assert_int_equal(v.cmd[2], 2);
  assert_int_equal(v.x[2], 10);
  assert_int_equal(v.y[2], 10);
  /* a linestring is not a point geometry */
  int64_t xy[2];
  size_t n;
  assert_int_equal(mvt_decode_points(&f, xy, 1, &n, &err), MLY_EFORMAT);
  free(b.p);
}

static void test_polygon_closepath_ignored(void **state)
{
  (void)state;
  struct mvt_layer l;
  struct buf b = first_layer("004-polygon", &l);
  struct mvt_feature f = first_feature(&l);
  struct verts v = {0};
  struct mly_err err;
  assert_int_equal(f.type, MVT_GEOM_POLYGON);
  assert_int_equal(mvt_decode_geometry(&f, record_vertex, &v, &err), MLY_OK);
  assert_int_equal(v.n, 3);
  assert_int_equal(v.x[2], 20);
  assert_int_equal(v.y[2], 34);
  free(b.p);
}

static void test_geometry_callback_stop_is_returned(void **state)
{
  (void)state;
  struct mvt_layer l;
  struct buf b = first_layer("003-linestring", &l);
  struct mvt_feature f = first_feature(&l);
  struct verts v = {0};
  v.stop_at = 2;
  assert_int_equal(mvt_decode_geometry(&f, record_vertex, &v, NULL), 99);
  assert_int_equal(v.n, 2);
  free(b.p);
}

static void test_every_value_type(void **state)
{
  (void)state;
  struct mvt_layer l;
  struct buf b = first_layer("005-value-types", &l);
  struct mvt_index idx;
  struct mly_err err;
  mvt_index_init(&idx);
  assert_int_equal(mvt_layer_index(&l, &idx, &err), MLY_OK);
  assert_int_equal(idx.nkeys, 9);
  assert_int_equal(idx.nvalues, 9);
  assert_true(mly_view_eq(idx.keys[0], "s"));
  assert_true(mly_view_eq(idx.keys[8], "last"));

  assert_int_equal(idx.values[0].type, MVT_VAL_STRING);
  assert_true(mly_view_eq(idx.values[0].v.s, "hello"));
  assert_int_equal(idx.values[1].type, MVT_VAL_FLOAT);
  assert_true(idx.values[1].v.f == 1.5f);
  assert_int_equal(idx.values[2].type, MVT_VAL_DOUBLE);
  assert_true(idx.values[2].v.d == -2.25);
  assert_int_equal(idx.values[3].type, MVT_VAL_INT);
  assert_true(idx.values[3].v.i == -42);
  assert_int_equal(idx.values[4].type, MVT_VAL_UINT);
  assert_true(idx.values[4].v.u == UINT64_MAX);
  assert_int_equal(idx.values[5].type, MVT_VAL_SINT);
  assert_true(idx.values[5].v.i == -7);
  assert_int_equal(idx.values[6].type, MVT_VAL_BOOL);
  assert_true(idx.values[6].v.b);
  assert_int_equal(idx.values[7].type, MVT_VAL_NONE);
  /* several fields: the last one read wins */
  assert_int_equal(idx.values[8].type, MVT_VAL_INT);
  assert_true(idx.values[8].v.i == 9);

  /* the feature's tags pair key i with value i */
  struct mvt_feature f = first_feature(&l);
  struct mvt_tag_iter it;
  uint32_t k, v, count = 0;
  int rc;
  mvt_tags_begin(&f, &it);
  while((rc = mvt_tags_next(&it, &k, &v, &err)) == 1) {
    assert_int_equal(k, count);
    assert_int_equal(v, count);
    assert_true(k < idx.nkeys && v < idx.nvalues);
    count++;
  }
  assert_int_equal(rc, 0);
  assert_int_equal(count, 9);
  mvt_index_cleanup(&idx);
  assert_null(idx.keys);
  assert_int_equal(idx.keys_cap, 0);
  free(b.p);
}

static void test_defaults_extent_version_no_id(void **state)
{
  (void)state;
  struct mvt_layer l;
  struct buf b = first_layer("006-defaults", &l);
  assert_int_equal(l.extent, 4096);
  assert_int_equal(l.version, 1);
  struct mvt_feature f = first_feature(&l);
  assert_false(f.has_id);
  /* no tags field: the iterator is empty at once */
  struct mvt_tag_iter it;
  uint32_t k, v;
  mvt_tags_begin(&f, &it);
  assert_int_equal(mvt_tags_next(&it, &k, &v, NULL), 0);
  free(b.p);
}

static void test_multi_layer_tile(void **state)
{
  (void)state;
  struct buf b = load_fixture("007-multi-layer");
  struct mvt_tile t;
  struct mvt_layer l;
  struct mvt_feature f;
  struct mly_err err;
  mvt_tile_init(&t, b.p, b.n);
  assert_int_equal(mvt_next_layer(&t, &l, &err), 1);
  assert_true(mly_view_eq(l.name, "first"));
  assert_int_equal(mvt_layer_next_feature(&l, &f, &err), 1);
  assert_int_equal(f.id, 10);
  assert_int_equal(mvt_next_layer(&t, &l, &err), 1);
  assert_true(mly_view_eq(l.name, "second"));
  assert_int_equal(l.extent, 512);
  assert_int_equal(mvt_layer_next_feature(&l, &f, &err), 1);
  assert_int_equal(f.id, 20);
  assert_int_equal(mvt_layer_next_feature(&l, &f, &err), 1);
  assert_int_equal(f.id, 21);
  int64_t xy[2];
  size_t n;
  assert_int_equal(mvt_decode_points(&f, xy, 1, &n, &err), MLY_OK);
  assert_int_equal(xy[0], 5);
  assert_int_equal(xy[1], 6);
  assert_int_equal(mvt_layer_next_feature(&l, &f, &err), 0);
  /* the unknown trailing tile field is skipped */
  assert_int_equal(mvt_next_layer(&t, &l, &err), 0);
  assert_int_equal(mvt_next_layer(&t, &l, &err), 0);
  free(b.p);
}

static void test_unknown_fields_skipped(void **state)
{
  (void)state;
  struct mvt_layer l;
  struct buf b = first_layer("008-unknown-fields", &l);
  struct mvt_index idx;
  struct mly_err err;
  assert_true(mly_view_eq(l.name, "u"));
  mvt_index_init(&idx);
  assert_int_equal(mvt_layer_index(&l, &idx, &err), MLY_OK);
  assert_int_equal(idx.nkeys, 1);
  assert_int_equal(idx.nvalues, 1);
  assert_int_equal(idx.values[0].type, MVT_VAL_UINT);
  assert_int_equal(idx.values[0].v.u, 77);
  struct mvt_feature f = first_feature(&l);
  assert_int_equal(f.id, 8);
  int64_t xy[2];
  size_t n;
  assert_int_equal(mvt_decode_points(&f, xy, 1, &n, &err), MLY_OK);
  assert_int_equal(xy[0], 7);
  assert_int_equal(xy[1], 8);
  mvt_index_cleanup(&idx);
  free(b.p);
}

static void test_layer_without_features_and_empty_tile(void **state)
{
  (void)state;
  struct mvt_layer l;
  struct mvt_feature f;
  struct buf b = first_layer("009-no-features", &l);
  assert_int_equal(mvt_layer_next_feature(&l, &f, NULL), 0);
  free(b.p);

  struct mvt_tile t;
  b = load_fixture("010-empty");
  assert_int_equal(b.n, 0);
  mvt_tile_init(&t, b.p, b.n);
  assert_int_equal(mvt_next_layer(&t, &l, NULL), 0);
  free(b.p);
  mvt_tile_init(&t, NULL, 0);
  assert_int_equal(mvt_next_layer(&t, &l, NULL), 0);
}

static void test_fields_after_features(void **state)
{
  (void)state;
  struct mvt_layer l;
  struct buf b = first_layer("011-fields-after-features", &l);
  assert_true(mly_view_eq(l.name, "late"));
  assert_int_equal(l.extent, 256);
  assert_int_equal(l.version, 2);
  struct mvt_feature f = first_feature(&l);
  assert_int_equal(f.id, 11);
  free(b.p);
}

static void test_mapillary_like_typed_values(void **state)
{
  (void)state;
  struct buf b = load_fixture("012-mapillary-like");
  struct mvt_tile t;
  struct mvt_layer l;
  struct mvt_index idx;
  struct mvt_feature f;
  struct mly_err err;
  mvt_index_init(&idx);
  mvt_tile_init(&t, b.p, b.n);
  assert_int_equal(mvt_next_layer(&t, &l, &err), 1);
  assert_true(mly_view_eq(l.name, "image"));
  assert_int_equal(mvt_layer_index(&l, &idx, &err), MLY_OK);
  assert_int_equal(idx.nkeys, 6);
  assert_int_equal(mvt_layer_next_feature(&l, &f, &err), 1);
  assert_int_equal(mvt_layer_next_feature(&l, &f, &err), 1);
  assert_int_equal(f.id, 97);
  /* second feature: key i -> value, collected by key index */
  const struct mvt_value *by_key[6] = {0};
  struct mvt_tag_iter it;
  uint32_t k, v;
  mvt_tags_begin(&f, &it);
  while(mvt_tags_next(&it, &k, &v, &err) == 1) {
    assert_true(k < idx.nkeys && v < idx.nvalues);
    by_key[k] = &idx.values[v];
  }
  assert_int_equal(by_key[0]->type, MVT_VAL_UINT);
  assert_true(by_key[0]->v.u == 1600000000000ull);
  assert_int_equal(by_key[1]->type, MVT_VAL_FLOAT);
  assert_true(by_key[1]->v.f == 12.25f);
  assert_int_equal(by_key[2]->type, MVT_VAL_INT);
  assert_true(by_key[2]->v.i == 1234567890123ll);
  assert_int_equal(by_key[3]->type, MVT_VAL_BOOL);
  assert_true(by_key[3]->v.b);
  assert_int_equal(by_key[4]->type, MVT_VAL_INT);
  assert_true(by_key[4]->v.i == 42);
  assert_true(mly_view_eq(by_key[5]->v.s, "reewegrhgd8dmunb5as41c"));
  assert_int_equal(mvt_layer_next_feature(&l, &f, &err), 0);
  assert_int_equal(mvt_next_layer(&t, &l, &err), 1);
  assert_true(mly_view_eq(l.name, "sequence"));
  assert_int_equal(mvt_layer_next_feature(&l, &f, &err), 1);
  struct verts vs = {0};
  assert_int_equal(mvt_decode_geometry(&f, record_vertex, &vs, &err), MLY_OK);
  assert_int_equal(vs.n, 2);
  assert_int_equal(vs.x[1], 100);
  assert_int_equal(vs.y[1], 200);
  assert_int_equal(mvt_next_layer(&t, &l, &err), 0);
  mvt_index_cleanup(&idx);
  free(b.p);
}

static void test_index_reuses_arrays(void **state)
{
  (void)state;
  struct buf b = load_fixture("005-value-types");
  struct buf b2 = load_fixture("001-single-point");
  struct mvt_tile t;
  struct mvt_layer l;
  struct mvt_index idx;
  struct mly_err err;
  mvt_index_init(&idx);
  mvt_tile_init(&t, b.p, b.n);
  assert_int_equal(mvt_next_layer(&t, &l, &err), 1);
  assert_int_equal(mvt_layer_index(&l, &idx, &err), MLY_OK);
  struct mly_view *keys = idx.keys;
  struct mvt_value *values = idx.values;
  size_t kcap = idx.keys_cap;
  mvt_tile_init(&t, b2.p, b2.n);
  assert_int_equal(mvt_next_layer(&t, &l, &err), 1);
  assert_int_equal(mvt_layer_index(&l, &idx, &err), MLY_OK);
  assert_int_equal(idx.nkeys, 1);
  assert_int_equal(idx.nvalues, 1);
  assert_ptr_equal(idx.keys, keys);
  assert_ptr_equal(idx.values, values);
  assert_int_equal(idx.keys_cap, kcap);
  assert_true(mly_view_eq(idx.keys[0], "name"));
  mvt_index_cleanup(&idx);
  free(b.p);
  free(b2.p);
}

/* Append a varint to p, return the new end */
static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
  while(v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

static void test_index_key_cap(void **state)
{
  (void)state;
  /* a layer message of MVT_MAX_KEYS + 1 one-byte keys */
  size_t nkeys = MVT_MAX_KEYS + 1;
  uint8_t *msg = malloc(16 + nkeys * 3);
  assert_non_null(msg);
  uint8_t *p = msg;
  *p++ = 0x0a; /* name */
  *p++ = 1;
  *p++ = 'k';
  for(size_t i = 0; i < nkeys; i++) {
    *p++ = 0x1a;
    *p++ = 1;
    *p++ = (uint8_t)('a' + i % 26);
  }
  struct mvt_layer l;
  memset(&l, 0, sizeof(l));
  l.name.p = "k";
  l.name.n = 1;
  l.begin = msg;
  l.end = p;
  l.feat_p = msg;
  struct mvt_index idx;
  struct mly_err err;
  mvt_index_init(&idx);
  assert_int_equal(mvt_layer_index(&l, &idx, &err), MLY_ETOOBIG);
  assert_int_equal(err.rc, MLY_ETOOBIG);
  assert_string_equal(err.msg, "more than 65536 keys in layer 'k'");
  assert_int_equal(idx.nkeys, 0);
  assert_int_equal(idx.keys_cap, MVT_MAX_KEYS);
  /* one key fewer fits exactly */
  l.end -= 3;
  assert_int_equal(mvt_layer_index(&l, &idx, &err), MLY_OK);
  assert_int_equal(idx.nkeys, MVT_MAX_KEYS);
  mvt_index_cleanup(&idx);
  free(msg);
}

static void test_geometry_extreme_deltas_do_not_overflow(void **state)
{
  (void)state;
  /* MoveTo 1 with delta INT32_MIN, then LineTo 65535 times INT32_MIN:
   * the cursor leaves int32 range, which int64 holds without overflow */
  size_t count = 65535;
  uint8_t *g = malloc(32 + count * 10);
  assert_non_null(g);
  uint8_t *p = g;
  p = put_varint(p, (1 << 3) | 1);
  p = put_varint(p, 0xffffffffu);
  p = put_varint(p, 0xfffffffeu);
  p = put_varint(p, ((uint64_t)count << 3) | 2);
  for(size_t i = 0; i < count; i++) {
    p = put_varint(p, 0xffffffffu); /* -2^31 */
    p = put_varint(p, 0xfffffffeu); /* 2^31 - 1 */
  }
  struct mvt_feature f = geom_feature(g, (size_t)(p - g), MVT_GEOM_LINESTRING);
  struct verts v = {0};
  struct mly_err err;
  assert_int_equal(mvt_decode_geometry(&f, record_vertex, &v, &err), MLY_OK);
  assert_int_equal(v.n, count + 1);
  /* record_vertex keeps the first 16; recompute the last by decoding points */
  int64_t xy[2];
  size_t n;
  struct mvt_feature pf = geom_feature(g, 5 + 5 + 1, MVT_GEOM_POINT);
  assert_int_equal(mvt_decode_points(&pf, xy, 1, &n, &err), MLY_OK);
  assert_true(xy[0] == INT32_MIN);
  assert_true(xy[1] == INT32_MAX);
  assert_true(v.x[15] == (int64_t)INT32_MIN * 16);
  assert_true(v.y[15] == (int64_t)INT32_MAX * 16);
  assert_true(v.last_x == (int64_t)INT32_MIN * (int64_t)(count + 1));
  assert_true(v.last_y == (int64_t)INT32_MAX * (int64_t)(count + 1));
  free(g);
}

static void test_points_vertex_cap(void **state)
{
  (void)state;
  /* more MoveTo points than MVT_MAX_POINTS_PER_FEATURE, in several
   * commands, each below the cap */
  size_t per = MVT_MAX_POINTS_PER_FEATURE / 2 + 1;
  uint8_t *g = malloc(3 * (8 + per * 2));
  assert_non_null(g);
  uint8_t *p = g;
  for(int c = 0; c < 3; c++) {
    p = put_varint(p, ((uint64_t)per << 3) | 1);
    memset(p, 0, per * 2);
    p += per * 2;
  }
  struct mvt_feature f = geom_feature(g, (size_t)(p - g), MVT_GEOM_POINT);
  struct mly_err err;
  assert_int_equal(mvt_decode_geometry(&f, NULL, NULL, &err), MLY_EFORMAT);
  assert_non_null(strstr(err.msg, "more than 1048576 vertices"));
  int64_t *xy = malloc(sizeof(*xy) * 2 * 3 * per);
  assert_non_null(xy);
  size_t n;
  assert_int_equal(mvt_decode_points(&f, xy, 3 * per, &n, &err), MLY_EFORMAT);
  assert_non_null(strstr(err.msg, "more than 1048576 points"));
  free(xy);
  free(g);
}

/* ---- malformed tiles ---------------------------------------------------- */

/* Where a walk over a tile failed */
enum stage { ST_NONE, ST_LAYER, ST_INDEX, ST_FEATURE, ST_TAGS, ST_POINTS, ST_GEOMETRY };

/* Decode everything in the tile like a real consumer; return the stage
 * of the first error (err filled) or ST_NONE. */
static enum stage walk(const uint8_t *data, size_t n, struct mly_err *err)
{
  struct mvt_tile t;
  struct mvt_layer l;
  struct mvt_index idx;
  struct mvt_feature f;
  enum stage st = ST_NONE;
  int rc;
  mvt_index_init(&idx);
  mvt_tile_init(&t, data, n);
  while(st == ST_NONE && (rc = mvt_next_layer(&t, &l, err)) != 0) {
    if(rc < 0) {
      st = ST_LAYER;
      break;
    }
    if(mvt_layer_index(&l, &idx, err)) {
      st = ST_INDEX;
      break;
    }
    while(st == ST_NONE && (rc = mvt_layer_next_feature(&l, &f, err)) != 0) {
      struct mvt_tag_iter it;
      uint32_t k, v;
      if(rc < 0) {
        st = ST_FEATURE;
        break;
      }
      mvt_tags_begin(&f, &it);
      while((rc = mvt_tags_next(&it, &k, &v, err)) == 1)
        ;
      if(rc < 0) {
        st = ST_TAGS;
        break;
      }
      if(f.type == MVT_GEOM_POINT) {
        int64_t xy[8];
        size_t np;
        if(mvt_decode_points(&f, xy, 4, &np, err)) {
          st = ST_POINTS;
          break;
        }
      }
      if(mvt_decode_geometry(&f, NULL, NULL, err)) {
        st = ST_GEOMETRY;
        break;
      }
    }
  }
  mvt_index_cleanup(&idx);
  return st;
}

struct bad_case {
  const char *fixture;
  enum stage stage;
  const char *msg; /* the whole expected message */
};

static const struct bad_case bad_cases[] = {
    {"100-truncated-varint", ST_LAYER, "truncated varint (field 5) in layer 'image'"},
    {"101-length-past-end", ST_LAYER,
     "length 100 of field 3 past end of buffer (10 bytes left) in tile"},
    {"102-tag-zero", ST_LAYER, "invalid field number 0 in layer 'points'"},
    {"103-wire-type-3", ST_LAYER, "unexpected wire type 3 (field 9) in layer 'points'"},
    {"104-wire-type-4", ST_LAYER, "unexpected wire type 4 (field 9) in layer 'points'"},
    {"105-wire-type-6", ST_LAYER, "unexpected wire type 6 (field 9) in layer 'points'"},
    {"106-wire-type-7", ST_LAYER, "unexpected wire type 7 (field 9) in layer 'points'"},
    {"107-overlong-varint", ST_LAYER, "over-long varint (field 9) in layer 'points'"},
    {"108-extent-zero", ST_LAYER, "invalid extent 0 in layer 'points'"},
    {"109-missing-geometry", ST_FEATURE,
     "missing geometry (spec 4.2) in feature in layer 'points'"},
    {"110-odd-tags", ST_TAGS, "odd number of feature tags (spec 4.4)"},
    {"111-packed-tags-odd-bytes", ST_TAGS, "truncated varint in feature tags"},
    {"112-count-exceeds-ints", ST_POINTS,
     "MoveTo count 3 exceeds remaining geometry (4 bytes) in geometry of feature 1"},
    {"113-closepath-point", ST_POINTS,
     "command 7 in point geometry, expected MoveTo (spec 4.3.4.2) in geometry of feature 1"},
    {"114-huge-count", ST_POINTS, "more than 4 points in geometry of feature 1"},
    {"115-unknown-command", ST_GEOMETRY, "unknown command 3 (spec 4.3.3) in geometry of feature 1"},
    {"116-lineto-in-point", ST_POINTS,
     "command 2 in point geometry, expected MoveTo (spec 4.3.4.2) in geometry of feature 1"},
    {"117-geometry-truncated-varint", ST_POINTS, "truncated varint in geometry of feature 1"},
    {"118-layer-without-name", ST_LAYER, "layer without name (spec 4.1)"},
    {"119-bad-geometry-type", ST_FEATURE,
     "unknown geometry type 4 (spec 4.3.4) in feature in layer 'points'"},
    {"120-value-wrong-wire-type", ST_INDEX,
     "unexpected wire type 0 in value (field 1) in layer 'points'"},
    {"121-moveto-count-zero", ST_POINTS,
     "MoveTo count 0 in point geometry (spec 4.3.4.2) in geometry of feature 1"},
    {"122-closepath-count-two", ST_GEOMETRY,
     "ClosePath count 2, expected 1 (spec 4.3.3.3) in geometry of feature 1"},
    {"123-layer-wrong-wire-type", ST_LAYER, "unexpected wire type 0 for layer in tile"},
    {"124-duplicate-geometry", ST_FEATURE, "duplicate geometry in feature in layer 'points'"},
    {"125-truncated-fixed64", ST_INDEX, "truncated fixed64 (field 3) in value in layer 'points'"},
    {"126-varint-tenth-byte", ST_LAYER, "over-long varint (field 9) in layer 'points'"},
    {"127-parameter-out-of-range", ST_POINTS,
     "parameter integer out of range in geometry of feature 1"},
    {"128-extent-out-of-range", ST_LAYER, "extent 4294967296 out of range in layer 'points'"},
    {"129-truncated-tile", ST_LAYER, "past end of buffer"},
};

static void test_malformed_fixtures(void **state)
{
  (void)state;
  for(size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
    const struct bad_case *c = &bad_cases[i];
    struct buf b = load_fixture(c->fixture);
    struct mly_err err;
    memset(&err, 0, sizeof(err));
    enum stage st = walk(b.p, b.n, &err);
    if(st != c->stage)
      fail_msg("%s: stage %d, expected %d (%s)", c->fixture, (int)st, (int)c->stage, err.msg);
    assert_int_equal(err.rc, MLY_EFORMAT);
    if(strcmp(c->msg, err.msg) != 0 && strstr(err.msg, c->msg) == NULL)
      fail_msg("%s: message '%s', expected '%s'", c->fixture, err.msg, c->msg);
    /* the same walk without an error struct must fail the same way, quietly */
    assert_int_equal(walk(b.p, b.n, NULL), c->stage);
    free(b.p);
  }
}

static void test_valid_fixtures_walk_cleanly(void **state)
{
  (void)state;
  const char *names[] = {"001-single-point", "002-multipoint", "003-linestring",
                         "004-polygon", "005-value-types", "006-defaults", "007-multi-layer",
                         "008-unknown-fields", "009-no-features", "010-empty",
                         "011-fields-after-features", "012-mapillary-like"};
  for(size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    struct buf b = load_fixture(names[i]);
    struct mly_err err;
    if(walk(b.p, b.n, &err) != ST_NONE)
      fail_msg("%s: %s", names[i], err.msg);
    free(b.p);
  }
}

static void test_cursor_unchanged_on_error(void **state)
{
  (void)state;
  struct buf b = load_fixture("101-length-past-end");
  struct mvt_tile t;
  struct mvt_layer l;
  struct mvt_feature f;
  struct mly_err err;
  mvt_tile_init(&t, b.p, b.n);
  assert_int_equal(mvt_next_layer(&t, &l, &err), -1);
  assert_ptr_equal(t.p, b.p);
  assert_int_equal(mvt_next_layer(&t, &l, &err), -1);
  free(b.p);

  b = first_layer("109-missing-geometry", &l);
  const uint8_t *before = l.feat_p;
  assert_int_equal(mvt_layer_next_feature(&l, &f, &err), -1);
  assert_ptr_equal(l.feat_p, before);
  free(b.p);

  b = first_layer("110-odd-tags", &l);
  f = first_feature(&l);
  struct mvt_tag_iter it;
  uint32_t k, v;
  mvt_tags_begin(&f, &it);
  assert_int_equal(mvt_tags_next(&it, &k, &v, &err), 1);
  const uint8_t *at = it.p;
  assert_int_equal(mvt_tags_next(&it, &k, &v, &err), -1);
  assert_ptr_equal(it.p, at);
  free(b.p);
}

static void test_point_geometry_rejects_lineto_and_closepath(void **state)
{
  (void)state;
  struct mvt_layer l;
  struct mly_err err;
  struct buf b = first_layer("113-closepath-point", &l);
  struct mvt_feature f = first_feature(&l);
  assert_int_equal(mvt_decode_geometry(&f, NULL, NULL, &err), MLY_EFORMAT);
  assert_string_equal(err.msg, "ClosePath in point geometry (spec 4.3.4.2) in geometry of feature 1");
  free(b.p);
  b = first_layer("116-lineto-in-point", &l);
  f = first_feature(&l);
  assert_int_equal(mvt_decode_geometry(&f, NULL, NULL, &err), MLY_EFORMAT);
  assert_string_equal(err.msg, "LineTo in point geometry (spec 4.3.4.2) in geometry of feature 1");
  free(b.p);
  /* an empty geometry has no point */
  uint8_t none[1] = {0};
  f = geom_feature(none, 0, MVT_GEOM_POINT);
  int64_t xy[2];
  size_t n;
  assert_int_equal(mvt_decode_points(&f, xy, 1, &n, &err), MLY_EFORMAT);
  assert_non_null(strstr(err.msg, "empty point geometry"));
}

static void test_layer_name_sanitized_in_messages(void **state)
{
  (void)state;
  /* layer "a\nb" with extent 0: the message stays on one line */
  const uint8_t tile[] = {0x1a, 0x07, 0x0a, 0x03, 'a', '\n', 'b', 0x28, 0x00};
  struct mvt_tile t;
  struct mvt_layer l;
  struct mly_err err;
  mvt_tile_init(&t, tile, sizeof(tile));
  assert_int_equal(mvt_next_layer(&t, &l, &err), -1);
  assert_string_equal(err.msg, "invalid extent 0 in layer 'a?b'");
}

static void test_every_prefix_of_a_tile_is_safe(void **state)
{
  (void)state;
  /* truncating anywhere must give an error or a clean shorter tile, never
   * an over-read (each prefix is copied to an exact-size buffer for ASan) */
  struct buf b = load_fixture("005-value-types");
  size_t errors = 0;
  for(size_t cut = 0; cut < b.n; cut++) {
    uint8_t *copy = malloc(cut ? cut : 1);
    assert_non_null(copy);
    memcpy(copy, b.p, cut);
    struct mly_err err;
    if(walk(copy, cut, &err) != ST_NONE)
      errors++;
    free(copy);
  }
  /* only the empty prefix decodes cleanly: every other cut is inside the layer */
  assert_int_equal(errors, b.n - 1);
  free(b.p);
}

/* ---- the real Mapillary tiles ------------------------------------------ */

struct real_expect {
  const char *file;
  size_t image_features, sequence_features, distinct_sequences;
  uint64_t first_id;
  int64_t first_px, first_py;
  const char *first_sequence;
};

static int view_cmp(const void *a, const void *b)
{
  const struct mly_view *x = a, *y = b;
  size_t n = x->n < y->n ? x->n : y->n;
  int c = memcmp(x->p, y->p, n);
  return c ? c : (x->n > y->n) - (x->n < y->n);
}

static void check_real_tile(const struct real_expect *e)
{
  struct buf b = load(e->file);
  struct mvt_tile t;
  struct mvt_layer l;
  struct mvt_index idx;
  struct mvt_feature f;
  struct mly_err err;
  bool seen_image = false, seen_sequence = false;
  int rc;

  mvt_index_init(&idx);
  mvt_tile_init(&t, b.p, b.n);
  while((rc = mvt_next_layer(&t, &l, &err)) == 1) {
    assert_int_equal(mvt_layer_index(&l, &idx, &err), MLY_OK);
    assert_int_equal(l.extent, 4096);
    assert_int_equal(l.version, 2);
    size_t count = 0;
    if(mly_view_eq(l.name, "sequence")) {
      seen_sequence = true;
      while((rc = mvt_layer_next_feature(&l, &f, &err)) == 1) {
        assert_int_equal(f.type, MVT_GEOM_LINESTRING);
        assert_int_equal(mvt_decode_geometry(&f, NULL, NULL, &err), MLY_OK);
        count++;
      }
      assert_int_equal(rc, 0);
      assert_int_equal(count, e->sequence_features);
      continue;
    }
    assert_true(mly_view_eq(l.name, "image"));
    seen_image = true;
    uint32_t seq_key = UINT32_MAX;
    for(size_t i = 0; i < idx.nkeys; i++)
      if(mly_view_eq(idx.keys[i], "sequence_id"))
        seq_key = (uint32_t)i;
    assert_true(seq_key != UINT32_MAX);
    struct mly_view *seqs = calloc(e->image_features, sizeof(*seqs));
    assert_non_null(seqs);
    while((rc = mvt_layer_next_feature(&l, &f, &err)) == 1) {
      assert_true(count < e->image_features);
      assert_int_equal(f.type, MVT_GEOM_POINT);
      int64_t xy[2];
      size_t n;
      assert_int_equal(mvt_decode_points(&f, xy, 1, &n, &err), MLY_OK);
      assert_int_equal(n, 1);
      struct mvt_tag_iter it;
      uint32_t k, v;
      bool has_seq = false;
      mvt_tags_begin(&f, &it);
      while((rc = mvt_tags_next(&it, &k, &v, &err)) == 1) {
        assert_true(k < idx.nkeys);
        assert_true(v < idx.nvalues);
        const struct mvt_value *val = &idx.values[v];
        assert_int_equal(val->type, MVT_VAL_STRING);
        if(k == seq_key) {
          assert_true(val->v.s.n > 0);
          seqs[count] = val->v.s;
          has_seq = true;
        }
        else {
          /* the published tiles had every other attribute blanked */
          assert_int_equal(val->v.s.n, 0);
        }
      }
      assert_int_equal(rc, 0);
      assert_true(has_seq);
      if(count == 0) {
        assert_true(f.has_id);
        assert_int_equal(f.id, e->first_id);
        assert_int_equal(xy[0], e->first_px);
        assert_int_equal(xy[1], e->first_py);
        assert_true(mly_view_eq(seqs[0], e->first_sequence));
      }
      count++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(count, e->image_features);
    qsort(seqs, count, sizeof(*seqs), view_cmp);
    size_t distinct = count ? 1 : 0;
    for(size_t i = 1; i < count; i++)
      if(view_cmp(&seqs[i - 1], &seqs[i]) != 0)
        distinct++;
    assert_int_equal(distinct, e->distinct_sequences);
    free(seqs);
  }
  assert_int_equal(rc, 0);
  assert_true(seen_image);
  assert_true(seen_sequence);
  mvt_index_cleanup(&idx);
  free(b.p);
}

static void test_real_tile_3251(void **state)
{
  (void)state;
  const struct real_expect e = {REAL "3251/6258.mvt", 7890, 96, 97, 96, 3997, 2643,
                                "reewegrhgd8dmunb5as41c"};
  check_real_tile(&e);
}

static void test_real_tile_3252(void **state)
{
  (void)state;
  const struct real_expect e = {REAL "3252/6258.mvt", 4888, 70, 72, 70, 2087, 782,
                                "2slriloyjv8jyray75qe0v"};
  check_real_tile(&e);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_single_point_layer_and_feature),
      cmocka_unit_test(test_multipoint_delta_zigzag),
      cmocka_unit_test(test_linestring_via_decode_geometry),
      cmocka_unit_test(test_polygon_closepath_ignored),
      cmocka_unit_test(test_geometry_callback_stop_is_returned),
      cmocka_unit_test(test_every_value_type),
      cmocka_unit_test(test_defaults_extent_version_no_id),
      cmocka_unit_test(test_multi_layer_tile),
      cmocka_unit_test(test_unknown_fields_skipped),
      cmocka_unit_test(test_layer_without_features_and_empty_tile),
      cmocka_unit_test(test_fields_after_features),
      cmocka_unit_test(test_mapillary_like_typed_values),
      cmocka_unit_test(test_index_reuses_arrays),
      cmocka_unit_test(test_index_key_cap),
      cmocka_unit_test(test_geometry_extreme_deltas_do_not_overflow),
      cmocka_unit_test(test_points_vertex_cap),
      cmocka_unit_test(test_malformed_fixtures),
      cmocka_unit_test(test_valid_fixtures_walk_cleanly),
      cmocka_unit_test(test_cursor_unchanged_on_error),
      cmocka_unit_test(test_point_geometry_rejects_lineto_and_closepath),
      cmocka_unit_test(test_layer_name_sanitized_in_messages),
      cmocka_unit_test(test_every_prefix_of_a_tile_is_safe),
      cmocka_unit_test(test_real_tile_3251),
      cmocka_unit_test(test_real_tile_3252),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
