/* test_image.c -- unit tests of image properties read from handmade MVT tiles, their GeoJSON and CSV */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "mly/image.h"
#include "mly/jsonw.h"
#include "mly/mvt.h"
#include "mly/outfile.h"

/* ---- a tiny protobuf writer for handmade tiles (vector_tile.proto) ------ */

struct pb {
  uint8_t b[4096];
  size_t n;
};

static void pb_raw(struct pb *p, const void *d, size_t n)
{
  assert_true(p->n + n <= sizeof(p->b));
  memcpy(p->b + p->n, d, n);
  p->n += n;
}

static void pb_varint(struct pb *p, uint64_t v)
{
  uint8_t tmp[10];
  size_t n = 0;
  do {
    tmp[n] = (uint8_t)(v & 0x7f);
    v >>= 7;
    if(v)
      tmp[n] |= 0x80;
    n++;
  } while(v);
  pb_raw(p, tmp, n);
}

static void pb_key(struct pb *p, uint32_t field, unsigned wire)
{
  pb_varint(p, ((uint64_t)field << 3) | wire);
}

static void pb_uint_field(struct pb *p, uint32_t field, uint64_t v)
{
  pb_key(p, field, 0);
  pb_varint(p, v);
}

static void pb_bytes_field(struct pb *p, uint32_t field, const void *d, size_t n)
{
  pb_key(p, field, 2);
  pb_varint(p, n);
  pb_raw(p, d, n);
}

static void pb_fixed32_field(struct pb *p, uint32_t field, uint32_t bits)
{
  pb_key(p, field, 5);
  uint8_t le[4];
  for(int i = 0; i < 4; i++)
    le[i] = (uint8_t)(bits >> (8 * i));
  pb_raw(p, le, 4);
}

static void pb_fixed64_field(struct pb *p, uint32_t field, uint64_t bits)
{
  pb_key(p, field, 1);
  uint8_t le[8];
  for(int i = 0; i < 8; i++)
    le[i] = (uint8_t)(bits >> (8 * i));
  pb_raw(p, le, 8);
}

static uint64_t zigzag(int64_t v)
{
  return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* Value messages (spec 4.1, message Value) */
static struct pb v_none(void)
{
  struct pb p = {.n = 0};
  return p;
}

static struct pb v_str_n(const char *s, size_t n)
{
  struct pb p = {.n = 0};
  pb_bytes_field(&p, MVT_VALUE_STRING, s, n);
  return p;
}

static struct pb v_str(const char *s)
{
  return v_str_n(s, strlen(s));
}

static struct pb v_float(float f)
{
  struct pb p = {.n = 0};
  uint32_t bits;
  memcpy(&bits, &f, 4);
  pb_fixed32_field(&p, MVT_VALUE_FLOAT, bits);
  return p;
}

static struct pb v_double(double d)
{
  struct pb p = {.n = 0};
  uint64_t bits;
  memcpy(&bits, &d, 8);
  pb_fixed64_field(&p, MVT_VALUE_DOUBLE, bits);
  return p;
}

static struct pb v_int(int64_t i)
{
  struct pb p = {.n = 0};
  pb_uint_field(&p, MVT_VALUE_INT, (uint64_t)i); /* two's complement, 10 bytes if negative */
  return p;
}

static struct pb v_uint(uint64_t u)
{
  struct pb p = {.n = 0};
  pb_uint_field(&p, MVT_VALUE_UINT, u);
  return p;
}

static struct pb v_sint(int64_t i)
{
  struct pb p = {.n = 0};
  pb_uint_field(&p, MVT_VALUE_SINT, zigzag(i));
  return p;
}

static struct pb v_bool(bool b)
{
  struct pb p = {.n = 0};
  pb_uint_field(&p, MVT_VALUE_BOOL, b);
  return p;
}

/* One property of the single feature: key text (may hold any bytes) and value */
struct prop {
  const char *key;
  size_t key_n; /* 0: strlen(key) */
  struct pb value;
};

#define P(k, v) {(k), 0, (v)}

/* Everything one decoded feature needs; views point into tile */
struct ctx {
  uint8_t *tile;
  size_t tile_n;
  struct mvt_index idx;
  struct image_keys keys;
  struct mvt_layer layer;
  struct mvt_feature feat;
  struct image img;
  struct mly_err err;
  struct dbuf out;
  json_t *json;
};

static int setup(void **state)
{
  struct ctx *c = calloc(1, sizeof(*c));
  if(!c)
    return -1;
  mvt_index_init(&c->idx);
  image_keys_init(&c->keys);
  dbuf_init(&c->out, 1 << 20);
  *state = c;
  return 0;
}

static void ctx_reset(struct ctx *c)
{
  free(c->tile);
  c->tile = NULL;
  json_decref(c->json);
  c->json = NULL;
  dbuf_reset(&c->out);
}

static int teardown(void **state)
{
  struct ctx *c = *state;
  ctx_reset(c);
  mvt_index_cleanup(&c->idx);
  image_keys_cleanup(&c->keys);
  dbuf_cleanup(&c->out);
  free(c);
  return 0;
}

/* Encode a tile with one layer "image" holding one feature, keep it in an
 * exact-size heap copy (so ASan sees over-reads) */
static void build_tile(struct ctx *c, const struct prop *props, size_t nprops, const uint32_t *tags,
                       size_t ntags, uint32_t geom_type, const uint32_t *geom, size_t ngeom)
{
  static struct pb feature, packed, layer, tile;
  feature.n = packed.n = layer.n = tile.n = 0;

  pb_uint_field(&feature, MVT_FEATURE_ID, 1);
  for(size_t i = 0; i < ntags; i++)
    pb_varint(&packed, tags[i]);
  pb_bytes_field(&feature, MVT_FEATURE_TAGS, packed.b, packed.n);
  pb_uint_field(&feature, MVT_FEATURE_TYPE, geom_type);
  packed.n = 0;
  for(size_t i = 0; i < ngeom; i++)
    pb_varint(&packed, geom[i]);
  pb_bytes_field(&feature, MVT_FEATURE_GEOMETRY, packed.b, packed.n);

  pb_uint_field(&layer, MVT_LAYER_VERSION, 2);
  pb_bytes_field(&layer, MVT_LAYER_NAME, "image", 5);
  pb_bytes_field(&layer, MVT_LAYER_FEATURES, feature.b, feature.n);
  for(size_t i = 0; i < nprops; i++) {
    size_t kn = props[i].key_n ? props[i].key_n : strlen(props[i].key);
    pb_bytes_field(&layer, MVT_LAYER_KEYS, props[i].key, kn);
  }
  for(size_t i = 0; i < nprops; i++)
    pb_bytes_field(&layer, MVT_LAYER_VALUES, props[i].value.b, props[i].value.n);
  pb_uint_field(&layer, MVT_LAYER_EXTENT, 4096);

  pb_bytes_field(&tile, MVT_TILE_LAYERS, layer.b, layer.n);
  ctx_reset(c);
  c->tile = malloc(tile.n);
  assert_non_null(c->tile);
  memcpy(c->tile, tile.b, tile.n);
  c->tile_n = tile.n;
}

/* Decode the tile's feature into c->img; returns image_read's status */
static enum mly_rc decode(struct ctx *c)
{
  struct mvt_tile t;
  mvt_tile_init(&t, c->tile, c->tile_n);
  assert_int_equal(mvt_next_layer(&t, &c->layer, &c->err), 1);
  assert_true(mly_view_eq(c->layer.name, "image"));
  assert_int_equal(mvt_layer_index(&c->layer, &c->idx, &c->err), MLY_OK);
  assert_int_equal(image_keys_map(&c->keys, &c->idx), MLY_OK);
  assert_int_equal(mvt_layer_next_feature(&c->layer, &c->feat, &c->err), 1);
  return image_read(&c->img, &c->feat, &c->idx, &c->keys, &c->err);
}

/* GeoJSON text of the decoded image, parsed back strictly */
static json_t *write_json(struct ctx *c, double lon, double lat, const char *id_override)
{
  dbuf_reset(&c->out);
  struct jsonw_pos pos;
  assert_int_equal(
      image_write_geojson(&c->out, &c->img, lon, lat, &pos, &c->idx, &c->keys, id_override),
      MLY_OK);
  assert_non_null(dbuf_cstr(&c->out)); /* terminated for strstr in the tests */
  /* the packed position writes again the very text of the coordinates */
  char want[2 * JSONW_NUM_MAX + 32] = "\"coordinates\":[";
  size_t n = strlen(want);
  n += jsonw_coord_unpack(want + n, pos.lon, pos.lon_form);
  want[n++] = ',';
  n += jsonw_coord_unpack(want + n, pos.lat, pos.lat_form);
  memcpy(want + n, "]}", 3);
  assert_non_null(strstr(c->out.p, want));
  json_error_t jerr;
  json_decref(c->json);
  c->json = json_loadb(c->out.p, c->out.n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
  if(!c->json)
    fail_msg("invalid GeoJSON text (%s): %.*s", jerr.text, (int)c->out.n, c->out.p);
  return c->json;
}

/* A point at pixel (100, 200) carrying props, key i paired with value i */
static json_t *props_of(struct ctx *c, const struct prop *props, size_t n)
{
  uint32_t tags[64];
  assert_true(2 * n <= 64);
  for(size_t i = 0; i < n; i++) {
    tags[2 * i] = (uint32_t)i;
    tags[2 * i + 1] = (uint32_t)i;
  }
  const uint32_t geom[] = {9, (uint32_t)zigzag(100), (uint32_t)zigzag(200)};
  build_tile(c, props, n, tags, 2 * n, MVT_GEOM_POINT, geom, 3);
  enum mly_rc rc = decode(c);
  if(rc)
    fail_msg("image_read: %s", c->err.msg);
  json_t *j = write_json(c, 1.5, -2.25, NULL);
  json_t *p = json_object_get(j, "properties");
  assert_true(json_is_object(p));
  return p;
}

/* The properties of a feature whose only property is key = value */
static json_t *one(struct ctx *c, const char *key, struct pb value)
{
  struct prop props[] = {P(key, value)};
  return props_of(c, props, 1);
}

static void assert_str(json_t *obj, const char *key, const char *want)
{
  json_t *v = json_object_get(obj, key);
  if(!json_is_string(v))
    fail_msg("'%s' is not a string (want \"%s\")", key, want);
  assert_string_equal(json_string_value(v), want);
}

static void assert_int_prop(json_t *obj, const char *key, json_int_t want)
{
  json_t *v = json_object_get(obj, key);
  if(!json_is_integer(v))
    fail_msg("'%s' is not an integer", key);
  assert_int_equal(json_integer_value(v), want);
}

static void assert_real_prop(json_t *obj, const char *key, double want)
{
  json_t *v = json_object_get(obj, key);
  if(!json_is_number(v))
    fail_msg("'%s' is not a number", key);
  if(json_number_value(v) != want)
    fail_msg("'%s' is %.17g, want %.17g", key, json_number_value(v), want);
}

static void assert_absent(json_t *obj, const char *key)
{
  if(json_object_get(obj, key))
    fail_msg("'%s' should be omitted", key);
}

/* ---- id ------------------------------------------------------------------- */

static void test_id_double_above_2_53_prints_exact_value(void **state)
{
  struct ctx *c = *state;
  /* 2^53 + 1 cannot be held by a double: it arrives as 2^53, which prints
   * as its exact integer value and is counted as possibly inexact */
  assert_str(one(c, "id", v_double(9007199254740993.0)), "id", "9007199254740992");
  assert_int_equal(c->img.id_kind, IMAGE_ID_U64);
  assert_true(c->img.id_inexact);
  assert_str(one(c, "id", v_double(9007199254740994.0)), "id", "9007199254740994");
  assert_true(c->img.id_inexact);
  assert_str(one(c, "id", v_double(1.8e19)), "id", "18000000000000000000");
  assert_true(c->img.id_inexact);
  /* a real id as Mapillary sends them: exact below 2^53 */
  assert_str(one(c, "id", v_double(1805883732926354.0)), "id", "1805883732926354");
  assert_false(c->img.id_inexact);
  assert_str(one(c, "id", v_double(9007199254740991.0)), "id", "9007199254740991");
  assert_false(c->img.id_inexact);
}

static void test_id_float(void **state)
{
  struct ctx *c = *state;
  assert_str(one(c, "id", v_float(1000.0f)), "id", "1000");
  assert_false(c->img.id_inexact);
  /* a float is exact only up to 2^24: 16777217 arrives as 16777216 */
  assert_str(one(c, "id", v_float(16777217.0f)), "id", "16777216");
  assert_true(c->img.id_inexact);
}

static void test_id_not_a_whole_number_is_unknown(void **state)
{
  struct ctx *c = *state;
  assert_absent(one(c, "id", v_double(12.5)), "id");
  assert_int_equal(c->img.id_kind, IMAGE_ID_NONE);
  assert_absent(one(c, "id", v_double(-1.0)), "id");
  assert_absent(one(c, "id", v_double(NAN)), "id");
  assert_absent(one(c, "id", v_double(INFINITY)), "id");
  assert_absent(one(c, "id", v_double(1e20)), "id");
  assert_absent(one(c, "id", v_bool(true)), "id");
  assert_absent(one(c, "id", v_none()), "id");
}

static void test_id_integer_types(void **state)
{
  struct ctx *c = *state;
  assert_str(one(c, "id", v_uint(4294967297ULL)), "id", "4294967297");
  assert_str(one(c, "id", v_uint(UINT64_MAX)), "id", "18446744073709551615");
  assert_str(one(c, "id", v_uint(9007199254740993ULL)), "id", "9007199254740993");
  assert_false(c->img.id_inexact);
  assert_str(one(c, "id", v_uint(0)), "id", "0");
  assert_str(one(c, "id", v_int(5)), "id", "5");
  assert_str(one(c, "id", v_sint(7)), "id", "7");
  assert_str(one(c, "id", v_int(INT64_MAX)), "id", "9223372036854775807");
  /* a negative number is no image id */
  assert_absent(one(c, "id", v_int(-3)), "id");
  assert_absent(one(c, "id", v_sint(-3)), "id");
}

static void test_id_strings(void **state)
{
  struct ctx *c = *state;
  assert_str(one(c, "id", v_str("123456789012345678")), "id", "123456789012345678");
  assert_int_equal(c->img.id_kind, IMAGE_ID_U64);
  assert_true(c->img.id == 123456789012345678ULL);
  assert_str(one(c, "id", v_str("abc")), "id", "abc");
  assert_int_equal(c->img.id_kind, IMAGE_ID_STR);
  /* leading zeros are kept as written: the text is the id */
  assert_str(one(c, "id", v_str("007")), "id", "007");
  assert_int_equal(c->img.id_kind, IMAGE_ID_STR);
  assert_str(one(c, "id", v_str("0")), "id", "0");
  assert_int_equal(c->img.id_kind, IMAGE_ID_U64);
  /* beyond 64 bits stays exact text */
  assert_str(one(c, "id", v_str("123456789012345678901234")), "id", "123456789012345678901234");
  /* an empty string is unknown, not an empty id */
  assert_absent(one(c, "id", v_str("")), "id");
  assert_int_equal(c->img.id_kind, IMAGE_ID_NONE);
}

static void test_id_override(void **state)
{
  struct ctx *c = *state;
  one(c, "id", v_double(9007199254740993.0));
  json_t *j = write_json(c, 0, 0, "9007199254740993");
  assert_str(json_object_get(j, "properties"), "id", "9007199254740993");
  /* an override also supplies an id the tile left unknown */
  one(c, "other", v_uint(1));
  j = write_json(c, 0, 0, "55");
  assert_str(json_object_get(j, "properties"), "id", "55");
}

static void test_id_text(void **state)
{
  struct ctx *c = *state;
  char buf[JSONW_NUM_MAX];
  one(c, "id", v_uint(UINT64_MAX));
  assert_int_equal(image_id_text(&c->img, buf, sizeof(buf)), 20);
  assert_string_equal(buf, "18446744073709551615");
  one(c, "id", v_str("abcdef"));
  assert_int_equal(image_id_text(&c->img, buf, sizeof(buf)), 6);
  assert_string_equal(buf, "abcdef");
  char small[4];
  assert_int_equal(image_id_text(&c->img, small, sizeof(small)), 3);
  assert_string_equal(small, "abc");
  one(c, "id", v_str(""));
  assert_int_equal(image_id_text(&c->img, buf, sizeof(buf)), 0);
  assert_string_equal(buf, "");
}

/* ---- captured_at -------------------------------------------------------------- */

static void test_captured_at_types(void **state)
{
  struct ctx *c = *state;
  const json_int_t t = 1651366800000LL;
  assert_int_prop(one(c, "captured_at", v_int(t)), "captured_at", t);
  assert_int_prop(one(c, "captured_at", v_uint((uint64_t)t)), "captured_at", t);
  assert_int_prop(one(c, "captured_at", v_sint(t)), "captured_at", t);
  assert_int_prop(one(c, "captured_at", v_sint(-5)), "captured_at", -5);
  assert_int_prop(one(c, "captured_at", v_double(1651366800000.0)), "captured_at", t);
  /* a fraction keeps its whole milliseconds */
  assert_int_prop(one(c, "captured_at", v_double(1651366800000.75)), "captured_at", t);
  assert_int_prop(one(c, "captured_at", v_float(1024.0f)), "captured_at", 1024);
  assert_int_prop(one(c, "captured_at", v_str("1651366800000")), "captured_at", t);
  assert_int_prop(one(c, "captured_at", v_str("1.6513668e12")), "captured_at", t);
  assert_true(c->img.has_captured_at);
  assert_true(c->img.captured_at == t);
}

static void test_captured_at_unknown(void **state)
{
  struct ctx *c = *state;
  assert_absent(one(c, "captured_at", v_str("")), "captured_at");
  assert_false(c->img.has_captured_at);
  assert_absent(one(c, "captured_at", v_str("yesterday")), "captured_at");
  assert_absent(one(c, "captured_at", v_bool(true)), "captured_at");
  assert_absent(one(c, "captured_at", v_double(NAN)), "captured_at");
  assert_absent(one(c, "captured_at", v_double(1e300)), "captured_at");
  assert_absent(one(c, "captured_at", v_uint(UINT64_MAX)), "captured_at");
  assert_absent(one(c, "captured_at", v_none()), "captured_at");
  assert_absent(one(c, "other", v_int(1)), "captured_at");
}

/* ---- is_pano ------------------------------------------------------------------ */

static void test_is_pano_types(void **state)
{
  struct ctx *c = *state;
  json_t *p = one(c, "is_pano", v_bool(true));
  assert_true(json_is_true(json_object_get(p, "is_pano")));
  assert_int_equal(c->img.is_pano, 1);
  p = one(c, "is_pano", v_bool(false));
  assert_true(json_is_false(json_object_get(p, "is_pano")));
  assert_int_equal(c->img.is_pano, 0);
  p = one(c, "is_pano", v_int(1));
  assert_true(json_is_true(json_object_get(p, "is_pano")));
  p = one(c, "is_pano", v_uint(0));
  assert_true(json_is_false(json_object_get(p, "is_pano")));
  p = one(c, "is_pano", v_sint(1));
  assert_true(json_is_true(json_object_get(p, "is_pano")));
  p = one(c, "is_pano", v_str("true"));
  assert_true(json_is_true(json_object_get(p, "is_pano")));
  p = one(c, "is_pano", v_str("false"));
  assert_true(json_is_false(json_object_get(p, "is_pano")));
}

static void test_is_pano_unknown(void **state)
{
  struct ctx *c = *state;
  assert_absent(one(c, "is_pano", v_str("")), "is_pano");
  assert_int_equal(c->img.is_pano, -1);
  assert_absent(one(c, "is_pano", v_str("maybe")), "is_pano");
  assert_int_equal(c->img.is_pano, -1);
  assert_absent(one(c, "is_pano", v_none()), "is_pano");
  assert_absent(one(c, "other", v_bool(true)), "is_pano");
  assert_int_equal(c->img.is_pano, -1);
}

/* ---- organization_id, sequence_id, compass_angle ------------------------------- */

static void test_organization_id(void **state)
{
  struct ctx *c = *state;
  assert_absent(one(c, "other", v_uint(1)), "organization_id");
  assert_false(c->img.organization_id.known);
  assert_str(one(c, "organization_id", v_uint(1805883732926354ULL)), "organization_id",
             "1805883732926354");
  assert_true(mly_view_eq(c->img.organization_id.v, "1805883732926354"));
  assert_str(one(c, "organization_id", v_str("1805883732926354")), "organization_id",
             "1805883732926354");
  assert_str(one(c, "organization_id", v_int(42)), "organization_id", "42");
  assert_str(one(c, "organization_id", v_sint(42)), "organization_id", "42");
  assert_str(one(c, "organization_id", v_double(1805883732926354.0)), "organization_id",
             "1805883732926354");
  assert_absent(one(c, "organization_id", v_str("")), "organization_id");
  assert_false(c->img.organization_id.known);
  assert_absent(one(c, "organization_id", v_double(NAN)), "organization_id");
  assert_absent(one(c, "organization_id", v_bool(true)), "organization_id");
}

static void test_sequence_id(void **state)
{
  struct ctx *c = *state;
  assert_str(one(c, "sequence_id", v_str("tHrTdWYxSqNL9cRw3CDEBk")), "sequence_id",
             "tHrTdWYxSqNL9cRw3CDEBk");
  assert_str(one(c, "sequence_id", v_uint(77)), "sequence_id", "77");
  assert_absent(one(c, "sequence_id", v_str("")), "sequence_id");
  assert_false(c->img.sequence_id.known);
}

static void test_compass_angle(void **state)
{
  struct ctx *c = *state;
  assert_real_prop(one(c, "compass_angle", v_double(123.456)), "compass_angle", 123.456);
  assert_real_prop(one(c, "compass_angle", v_double(0.1 + 0.2)), "compass_angle", 0.1 + 0.2);
  assert_real_prop(one(c, "compass_angle", v_float(90.5f)), "compass_angle", 90.5);
  assert_real_prop(one(c, "compass_angle", v_float(0.1f)), "compass_angle", (double)0.1f);
  assert_real_prop(one(c, "compass_angle", v_int(90)), "compass_angle", 90);
  assert_real_prop(one(c, "compass_angle", v_str("45.5")), "compass_angle", 45.5);
  assert_absent(one(c, "compass_angle", v_str("")), "compass_angle");
  assert_absent(one(c, "compass_angle", v_double(NAN)), "compass_angle");
  assert_absent(one(c, "compass_angle", v_float(INFINITY)), "compass_angle");
}

/* ---- extras, order, text safety ------------------------------------------------ */

static void test_extras_pass_through_with_type(void **state)
{
  struct ctx *c = *state;
  struct prop props[] = {
    P("f32", v_float(1.5f)),
    P("f32b", v_float(0.1f)),
    P("f64", v_double(-2.75)),
    P("s", v_sint(-7)),
    P("i", v_int(-9)),
    P("u", v_uint(42)),
    P("t", v_bool(true)),
    P("fa", v_bool(false)),
    P("text", v_str("hello")),
    P("blank", v_str("")), /* a string extra is no number: passed through as is */
    P("nan", v_double(NAN)),
    P("inf", v_float(-INFINITY)),
    P("none", v_none()),
  };
  json_t *p = props_of(c, props, sizeof(props) / sizeof(props[0]));
  assert_true(json_is_real(json_object_get(p, "f32")));
  assert_real_prop(p, "f32", 1.5);
  assert_real_prop(p, "f32b", (double)0.1f); /* the float's own value, not 0.1 */
  assert_real_prop(p, "f64", -2.75);
  assert_int_prop(p, "s", -7);
  assert_int_prop(p, "i", -9);
  assert_int_prop(p, "u", 42);
  assert_true(json_is_true(json_object_get(p, "t")));
  assert_true(json_is_false(json_object_get(p, "fa")));
  assert_str(p, "text", "hello");
  assert_str(p, "blank", "");
  /* JSON has no NaN or infinity: unknown, omitted */
  assert_absent(p, "nan");
  assert_absent(p, "inf");
  assert_absent(p, "none");
  assert_int_equal(json_object_size(p), 10);
}

static void test_property_order(void **state)
{
  struct ctx *c = *state;
  /* tile order differs from the documented output order */
  struct prop props[] = {
    P("zeta", v_uint(1)),
    P("organization_id", v_uint(3)),
    P("is_pano", v_bool(false)),
    P("compass_angle", v_double(10.5)),
    P("captured_at", v_uint(1000)),
    P("alpha", v_str("a")),
    P("sequence_id", v_str("s")),
    P("id", v_uint(9)),
  };
  json_t *p = props_of(c, props, sizeof(props) / sizeof(props[0]));
  const char *want[] = {"id", "sequence_id", "captured_at", "compass_angle", "is_pano",
                        "organization_id", "zeta", "alpha"};
  size_t i = 0;
  for(void *it = json_object_iter(p); it; it = json_object_iter_next(p, it), i++) {
    assert_true(i < 8);
    assert_string_equal(json_object_iter_key(it), want[i]);
  }
  assert_int_equal(i, 8);
  /* and the text itself starts with the id */
  assert_non_null(strstr(c->out.p, "\"properties\":{\"id\":\"9\",\"sequence_id\":\"s\""));
}

static void test_no_properties(void **state)
{
  struct ctx *c = *state;
  json_t *p = props_of(c, NULL, 0);
  assert_int_equal(json_object_size(p), 0);
  assert_non_null(strstr(c->out.p, "\"properties\":{}"));
}

static void test_point_geometry_and_coordinates(void **state)
{
  struct ctx *c = *state;
  one(c, "id", v_uint(1));
  assert_true(c->img.px == 100 && c->img.py == 200);
  const double lon = -108.45678901234567, lat = 39.000000000000014;
  json_t *j = write_json(c, lon, lat, NULL);
  assert_string_equal(json_string_value(json_object_get(j, "type")), "Feature");
  json_t *g = json_object_get(j, "geometry");
  assert_string_equal(json_string_value(json_object_get(g, "type")), "Point");
  json_t *pos = json_object_get(g, "coordinates");
  assert_int_equal(json_array_size(pos), 2);
  assert_true(json_real_value(json_array_get(pos, 0)) == lon);
  assert_true(json_real_value(json_array_get(pos, 1)) == lat);
  /* at least 7 decimals even for a round number */
  j = write_json(c, 10.0, -5.5, NULL);
  assert_non_null(strstr(c->out.p, "\"coordinates\":[10.0000000,-5.5000000]"));
}

static void test_invalid_utf8_and_controls_stay_valid_json(void **state)
{
  struct ctx *c = *state;
  struct prop props[] = {
    {"sequence_id", 0, v_str_n("ab\xff\xc3", 4)},
    {"organization_id", 0, v_str_n("o\x01\"\\", 4)},
    {"id", 0, v_str_n("x\ny", 3)},
    {"bad\xe2\x82key", 0, v_str_n("\xed\xa0\x80 tab\t nul\0", 13)},
    {"k\x1f", 0, v_str("caf\xc3\xa9")},
  };
  json_t *p = props_of(c, props, sizeof(props) / sizeof(props[0]));
  assert_str(p, "sequence_id", "ab\xef\xbf\xbd\xef\xbf\xbd");
  assert_str(p, "organization_id", "o\x01\"\\");
  assert_str(p, "id", "x\ny");
  assert_str(p, "k\x1f", "caf\xc3\xa9");
  /* the bad key is replaced byte by byte; its value keeps the NUL escaped */
  json_t *v = json_object_get(p, "bad\xef\xbf\xbd\xef\xbf\xbdkey");
  assert_non_null(v);
  assert_int_equal(json_string_length(v), 3 * 3 + 10);
  assert_memory_equal(json_string_value(v), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd tab\t nul\0", 19);
  /* no raw control byte reaches the text */
  for(size_t i = 0; i < c->out.n; i++)
    assert_true((unsigned char)c->out.p[i] >= 0x20);
}

static void test_first_occurrence_of_a_key_wins(void **state)
{
  struct ctx *c = *state;
  struct prop props[] = {
    P("id", v_uint(5)),
    P("x", v_str("first")),
  };
  const struct pb later_id = v_uint(6), later_x = v_str("second");
  struct prop all[] = {props[0], props[1], P("unused", later_id), P("unused2", later_x)};
  /* tags: id=5, x=first, id=6 (value 2), x=second (value 3) */
  const uint32_t tags[] = {0, 0, 1, 1, 0, 2, 1, 3};
  const uint32_t geom[] = {9, 2, 2};
  build_tile(c, all, 4, tags, 8, MVT_GEOM_POINT, geom, 3);
  assert_int_equal(decode(c), MLY_OK);
  json_t *p = json_object_get(write_json(c, 0, 0, NULL), "properties");
  assert_str(p, "id", "5");
  assert_str(p, "x", "first");
  assert_int_equal(json_object_size(p), 2);
}

/* The first tag with a key text wins, also when the layer repeats the key
 * text at another index; with few extras (the list image_read keeps), with
 * many (the tags walked again), and with a long key table (over 32 keys) */
static void check_repeated_key_text(struct ctx *c, size_t nextras)
{
  enum { NKEYS = 41 };
  static char names[NKEYS][8];
  struct prop props[NKEYS];
  for(size_t i = 0; i < NKEYS; i++) {
    snprintf(names[i], sizeof(names[i]), "k%zu", i == NKEYS - 1 ? (size_t)3 : i);
    props[i] = (struct prop)P(names[i], v_uint(1000 + i));
  }
  /* tags: key 40 ("k3", value 1040) first, then k0..k(nextras-1) with
   * their own values: k3 at index 3 comes later and loses */
  uint32_t tags[2 * (NKEYS + 1)];
  size_t nt = 0;
  tags[nt++] = NKEYS - 1;
  tags[nt++] = NKEYS - 1;
  for(size_t i = 0; i < nextras; i++) {
    tags[nt++] = (uint32_t)i;
    tags[nt++] = (uint32_t)i;
  }
  const uint32_t geom[] = {9, 2, 2};
  build_tile(c, props, NKEYS, tags, nt, MVT_GEOM_POINT, geom, 3);
  assert_int_equal(decode(c), MLY_OK);
  json_t *p = json_object_get(write_json(c, 0, 0, NULL), "properties");
  assert_int_prop(p, "k3", 1040);
  assert_int_prop(p, "k0", 1000);
  assert_int_prop(p, "k4", 1004);
  assert_int_equal(json_object_size(p), nextras);
  /* the order is the tags' order: k3 first */
  assert_non_null(strstr(c->out.p, "\"properties\":{\"k3\":1040,\"k0\":1000,\"k1\":1001,\"k2\":1002,\"k4\":1004"));
}

static void test_repeated_key_text_first_tag_wins(void **state)
{
  struct ctx *c = *state;
  check_repeated_key_text(c, 10);              /* within the list image_read keeps */
  check_repeated_key_text(c, IMAGE_MAX_EXTRAS + 1);
  check_repeated_key_text(c, 30);              /* more extras than the list holds */
}

static void test_multipoint_takes_first_point(void **state)
{
  struct ctx *c = *state;
  struct prop props[] = {P("id", v_uint(1))};
  const uint32_t tags[] = {0, 0};
  /* MoveTo count 3: (10,20) (+5,+5) (+1,+1) */
  const uint32_t geom[] = {(3 << 3) | 1, (uint32_t)zigzag(10), (uint32_t)zigzag(20),
                           (uint32_t)zigzag(5), (uint32_t)zigzag(5),
                           (uint32_t)zigzag(1), (uint32_t)zigzag(1)};
  build_tile(c, props, 1, tags, 2, MVT_GEOM_POINT, geom, 7);
  assert_int_equal(decode(c), MLY_OK);
  assert_true(c->img.px == 10 && c->img.py == 20);
}

static void test_read_errors(void **state)
{
  struct ctx *c = *state;
  struct prop props[] = {P("id", v_uint(1))};
  const uint32_t point[] = {9, 2, 2};

  /* key index beyond the layer's keys */
  const uint32_t bad_key[] = {1, 0};
  build_tile(c, props, 1, bad_key, 2, MVT_GEOM_POINT, point, 3);
  assert_int_equal(decode(c), MLY_EFORMAT);
  assert_non_null(strstr(c->err.msg, "out of range"));

  /* value index beyond the layer's values */
  const uint32_t bad_value[] = {0, 5};
  build_tile(c, props, 1, bad_value, 2, MVT_GEOM_POINT, point, 3);
  assert_int_equal(decode(c), MLY_EFORMAT);

  /* an odd number of tag indexes */
  const uint32_t odd[] = {0, 0, 0};
  build_tile(c, props, 1, odd, 3, MVT_GEOM_POINT, point, 3);
  assert_int_equal(decode(c), MLY_EFORMAT);

  /* a line is no image position */
  const uint32_t ok_tags[] = {0, 0};
  const uint32_t line[] = {9, 2, 2, (1 << 3) | 2, 4, 4};
  build_tile(c, props, 1, ok_tags, 2, MVT_GEOM_LINESTRING, line, 6);
  assert_int_equal(decode(c), MLY_EFORMAT);

  /* no geometry at all */
  build_tile(c, props, 1, ok_tags, 2, MVT_GEOM_POINT, NULL, 0);
  assert_int_equal(decode(c), MLY_EFORMAT);
}

static void test_keys_map_reused_across_layers(void **state)
{
  struct ctx *c = *state;
  /* a second layer with fewer, reordered keys must not see stale fields */
  struct prop big[] = {P("a", v_uint(1)), P("b", v_uint(2)), P("c", v_uint(3)),
                       P("id", v_uint(4))};
  json_t *p = props_of(c, big, 4);
  assert_str(p, "id", "4");
  struct prop small[] = {P("id", v_uint(8)), P("d", v_uint(9))};
  p = props_of(c, small, 2);
  assert_str(p, "id", "8");
  assert_int_prop(p, "d", 9);
  assert_int_equal(json_object_size(p), 2);
}

/* ---- integer text parsing ----------------------------------------------------- */

static void test_parse_integers(void **state)
{
  (void)state;
  uint64_t u = 7;
  int64_t i = 7;
  assert_true(image_parse_u64("18446744073709551615", 20, &u));
  assert_true(u == UINT64_MAX);
  assert_false(image_parse_u64("18446744073709551616", 20, &u));
  assert_false(image_parse_u64("", 0, &u));
  assert_false(image_parse_u64("12a", 3, &u));
  assert_false(image_parse_u64("-1", 2, &u));
  assert_false(image_parse_u64("+1", 2, &u));
  /* only n bytes are read: the view need not be terminated */
  assert_true(image_parse_u64("123456", 3, &u));
  assert_true(u == 123);
  assert_true(image_parse_i64("-9223372036854775808", 20, &i));
  assert_true(i == INT64_MIN);
  assert_true(image_parse_i64("9223372036854775807", 19, &i));
  assert_true(i == INT64_MAX);
  assert_false(image_parse_i64("9223372036854775808", 19, &i));
  assert_false(image_parse_i64("-9223372036854775809", 20, &i));
  assert_false(image_parse_i64("-", 1, &i));
  assert_false(image_parse_i64("", 0, &i));
  assert_true(image_parse_i64("-0", 2, &i));
  assert_true(i == 0);
}

/* ---- CSV ------------------------------------------------------------------------ */

/* One parsed CSV cell (may hold NUL-free bytes of any kind) */
struct cell {
  char text[512];
  size_t n;
  bool quoted;
};

/* Parse one RFC 4180 record (no line end) into cells; returns the count.
 * Fails the test on malformed quoting. */
static size_t csv_parse(const char *p, size_t n, struct cell *cells, size_t max)
{
  size_t nc = 0, i = 0;
  for(;;) {
    assert_true(nc < max);
    struct cell *c = &cells[nc++];
    c->n = 0;
    c->quoted = i < n && p[i] == '"';
    if(c->quoted) {
      for(i++;; i++) {
        if(i >= n)
          fail_msg("unterminated quoted field");
        if(p[i] == '"') {
          if(i + 1 < n && p[i + 1] == '"')
            i++;
          else {
            i++;
            break;
          }
        }
        assert_true(c->n < sizeof(c->text) - 1);
        c->text[c->n++] = p[i];
      }
      if(i < n && p[i] != ',')
        fail_msg("text after a closing quote at %zu", i);
    }
    else {
      for(; i < n && p[i] != ','; i++) {
        if(p[i] == '"' || p[i] == '\r' || p[i] == '\n')
          fail_msg("unquoted field holds a quote or line break at %zu", i);
        assert_true(c->n < sizeof(c->text) - 1);
        c->text[c->n++] = p[i];
      }
    }
    c->text[c->n] = '\0';
    if(i >= n)
      return nc;
    i++; /* the comma */
  }
}

/* The CSV record of the decoded image */
static const char *write_csv(struct ctx *c, double lon, double lat, const char *id_override)
{
  dbuf_reset(&c->out);
  assert_int_equal(
      image_write_csv(&c->out, &c->img, lon, lat, NULL, &c->idx, &c->keys, id_override), MLY_OK);
  assert_non_null(dbuf_cstr(&c->out));
  return c->out.p;
}

static const char *const csv_cols[] = {"id", "lon", "lat", "sequence_id", "captured_at",
                                       "compass_angle", "is_pano", "organization_id",
                                       "properties"};
#define NCOLS 9

/* The CSV record says what the GeoJSON Feature says: every named property
 * as its cell, unknown ones empty, the rest as the properties object */
static void check_csv_matches_geojson(struct ctx *c, double lon, double lat, const char *id_override)
{
  json_t *j = json_incref(write_json(c, lon, lat, id_override));
  json_t *props = json_object_get(j, "properties");
  json_t *pos = json_object_get(json_object_get(j, "geometry"), "coordinates");
  write_csv(c, lon, lat, id_override);
  struct cell cells[16];
  assert_int_equal(csv_parse(c->out.p, c->out.n, cells, 16), NCOLS);
  for(size_t i = 0; i < c->out.n; i++)
    assert_true(c->out.p[i] != '\0');
  /* coordinates: the same text, so the same doubles */
  assert_true(strtod(cells[1].text, NULL) == json_real_value(json_array_get(pos, 0)));
  assert_true(strtod(cells[2].text, NULL) == json_real_value(json_array_get(pos, 1)));
  char num[JSONW_NUM_MAX];
  jsonw_coord(num, lon);
  assert_string_equal(cells[1].text, num);
  json_t *rest = json_deep_copy(props);
  for(size_t k = 0; k < NCOLS; k++) {
    if(k == 1 || k == 2 || k == 8)
      continue;
    json_t *v = json_object_get(props, csv_cols[k]);
    struct cell *cl = &cells[k];
    if(!v) {
      if(cl->n)
        fail_msg("'%s' is unknown in GeoJSON but '%s' in CSV", csv_cols[k], cl->text);
      continue;
    }
    json_object_del(rest, csv_cols[k]);
    if(json_is_string(v)) {
      assert_int_equal(cl->n, json_string_length(v));
      assert_memory_equal(cl->text, json_string_value(v), cl->n);
    }
    else if(json_is_true(v))
      assert_string_equal(cl->text, "true");
    else if(json_is_false(v))
      assert_string_equal(cl->text, "false");
    else if(json_is_integer(v))
      assert_true(strtoll(cl->text, NULL, 10) == json_integer_value(v));
    else
      assert_true(strtod(cl->text, NULL) == json_number_value(v));
  }
  if(json_object_size(rest) == 0)
    assert_int_equal(cells[8].n, 0);
  else {
    json_error_t jerr;
    json_t *extras = json_loadb(cells[8].text, cells[8].n, JSON_REJECT_DUPLICATES, &jerr);
    if(!extras)
      fail_msg("properties cell is not JSON (%s): %s", jerr.text, cells[8].text);
    assert_true(json_equal(extras, rest));
    /* same order as in the GeoJSON: compare the keys in turn */
    void *a = json_object_iter(extras), *b = json_object_iter(rest);
    for(; a && b; a = json_object_iter_next(extras, a), b = json_object_iter_next(rest, b))
      assert_string_equal(json_object_iter_key(a), json_object_iter_key(b));
    json_decref(extras);
  }
  json_decref(rest);
  json_decref(j);
}

static void test_csv_exact_record(void **state)
{
  struct ctx *c = *state;
  struct prop props[] = {
    P("zeta", v_uint(1)),
    P("organization_id", v_uint(3)),
    P("is_pano", v_bool(false)),
    P("compass_angle", v_double(10.5)),
    P("captured_at", v_uint(1000)),
    P("alpha", v_str("a")),
    P("sequence_id", v_str("s")),
    P("id", v_uint(9)),
  };
  props_of(c, props, sizeof(props) / sizeof(props[0]));
  assert_string_equal(write_csv(c, 1.5, -2.25, NULL),
                      "9,1.5000000,-2.2500000,s,1000,10.5,false,3,"
                      "\"{\"\"zeta\"\":1,\"\"alpha\"\":\"\"a\"\"}\"");
  check_csv_matches_geojson(c, 1.5, -2.25, NULL);
  /* a repaired id replaces the tile's */
  assert_string_equal(write_csv(c, 1.5, -2.25, "9007199254740993"),
                      "9007199254740993,1.5000000,-2.2500000,s,1000,10.5,false,3,"
                      "\"{\"\"zeta\"\":1,\"\"alpha\"\":\"\"a\"\"}\"");
}

static void test_csv_unknown_values_are_empty_cells(void **state)
{
  struct ctx *c = *state;
  props_of(c, NULL, 0);
  assert_string_equal(write_csv(c, 10.0, -5.5, NULL), ",10.0000000,-5.5000000,,,,,,");
  check_csv_matches_geojson(c, 10.0, -5.5, NULL);
  /* blanked values as in real tiles: unknown, not zero */
  struct prop blank[] = {
    P("id", v_str("")), P("captured_at", v_str("")), P("compass_angle", v_str("")),
    P("is_pano", v_str("")), P("organization_id", v_str("")), P("sequence_id", v_str("q")),
  };
  props_of(c, blank, sizeof(blank) / sizeof(blank[0]));
  assert_string_equal(write_csv(c, 0, 0, NULL), ",0.0000000,0.0000000,q,,,,,");
  /* only an extra: the properties cell alone */
  one(c, "other", v_int(-1));
  assert_string_equal(write_csv(c, 0, 0, NULL), ",0.0000000,0.0000000,,,,,,\"{\"\"other\"\":-1}\"");
}

static void test_csv_quotes_commas_quotes_and_newlines(void **state)
{
  struct ctx *c = *state;
  struct prop props[] = {
    P("id", v_str("a,b")),
    P("sequence_id", v_str("say \"hi\"")),
    P("organization_id", v_str("two\nlines\r\n")),
    P("note", v_str("x,\"y\"\n")),
  };
  props_of(c, props, sizeof(props) / sizeof(props[0]));
  assert_string_equal(write_csv(c, 1, 2, NULL),
                      "\"a,b\",1.0000000,2.0000000,\"say \"\"hi\"\"\",,,,\"two\nlines\r\n\","
                      "\"{\"\"note\"\":\"\"x,\\\"\"y\\\"\"\\n\"\"}\"");
  check_csv_matches_geojson(c, 1, 2, NULL);
  /* an override is quoted too */
  write_csv(c, 1, 2, "1,2");
  struct cell cells[16];
  assert_int_equal(csv_parse(c->out.p, c->out.n, cells, 16), NCOLS);
  assert_string_equal(cells[0].text, "1,2");
  assert_true(cells[0].quoted);
}

static void test_csv_matches_geojson_for_every_value_kind(void **state)
{
  struct ctx *c = *state;
  /* the extras case: every MVT value type */
  struct prop extras[] = {
    P("id", v_double(9007199254740993.0)),
    P("f32", v_float(0.1f)), P("f64", v_double(-2.75)), P("s", v_sint(-7)),
    P("u", v_uint(42)), P("t", v_bool(true)), P("text", v_str("hello")),
    P("blank", v_str("")), P("nan", v_double(NAN)), P("compass_angle", v_float(0.1f)),
    P("captured_at", v_double(1651366800000.75)), P("is_pano", v_int(1)),
    P("organization_id", v_double(1805883732926354.0)), P("sequence_id", v_uint(77)),
  };
  props_of(c, extras, sizeof(extras) / sizeof(extras[0]));
  check_csv_matches_geojson(c, -108.45678901234567, 39.000000000000014, NULL);
  /* text that is no valid UTF-8: both outputs repair it the same way */
  struct prop bad[] = {
    {"sequence_id", 0, v_str_n("ab\xff\xc3", 4)},
    {"organization_id", 0, v_str_n("o\x01\"\\", 4)},
    {"id", 0, v_str_n("x\ny", 3)},
    {"k\x1f", 0, v_str("caf\xc3\xa9")},
  };
  props_of(c, bad, sizeof(bad) / sizeof(bad[0]));
  check_csv_matches_geojson(c, 0.1 + 0.2, -1e-9, NULL);
}

static void test_csv_record_respects_buffer_cap(void **state)
{
  struct ctx *c = *state;
  /* the properties cell is quoted in place, growing the record: a cap too
   * small for the quoted record fails cleanly instead of writing past it */
  struct prop props[] = {P("k", v_str("\"\"\"\""))};
  props_of(c, props, 1);
  write_csv(c, 0, 0, NULL);
  size_t need = c->out.n;
  for(size_t cap = need - 12; cap < need; cap++) {
    struct dbuf small;
    dbuf_init(&small, cap);
    assert_int_equal(image_write_csv(&small, &c->img, 0, 0, NULL, &c->idx, &c->keys, NULL),
                     MLY_ETOOBIG);
    assert_true(small.n <= cap);
    dbuf_cleanup(&small);
  }
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
  const struct CMUnitTest tests[] = {
    T(test_id_double_above_2_53_prints_exact_value),
    T(test_id_float),
    T(test_id_not_a_whole_number_is_unknown),
    T(test_id_integer_types),
    T(test_id_strings),
    T(test_id_override),
    T(test_id_text),
    T(test_captured_at_types),
    T(test_captured_at_unknown),
    T(test_is_pano_types),
    T(test_is_pano_unknown),
    T(test_organization_id),
    T(test_sequence_id),
    T(test_compass_angle),
    T(test_extras_pass_through_with_type),
    T(test_repeated_key_text_first_tag_wins),
    T(test_property_order),
    T(test_no_properties),
    T(test_point_geometry_and_coordinates),
    T(test_invalid_utf8_and_controls_stay_valid_json),
    T(test_first_occurrence_of_a_key_wins),
    T(test_multipoint_takes_first_point),
    T(test_read_errors),
    T(test_keys_map_reused_across_layers),
    cmocka_unit_test(test_parse_integers),
    T(test_csv_exact_record),
    T(test_csv_unknown_values_are_empty_cells),
    T(test_csv_quotes_commas_quotes_and_newlines),
    T(test_csv_matches_geojson_for_every_value_kind),
    T(test_csv_record_respects_buffer_cap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
