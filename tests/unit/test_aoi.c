/* test_aoi.c -- unit tests of areas of interest: bbox parsing, GeoJSON loading, point tests, tile covers */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mly/aoi.h"

#ifndef MLY_SOURCE_DIR
#define MLY_SOURCE_DIR "."
#endif
#define FIXTURES MLY_SOURCE_DIR "/tests/fixtures/geojson/"

/* ---- helpers ---- */

/* A message must be one non-empty line, lowercase-first, no full stop */
static void assert_one_line_message(const struct mly_err *err)
{
  size_t n = strlen(err->msg);
  if(n == 0 || strchr(err->msg, '\n') || err->msg[n - 1] == '.') {
    fprintf(stderr, "bad message: '%s'\n", err->msg);
    fail();
  }
}

static void assert_contains(const char *haystack, const char *needle)
{
  if(!strstr(haystack, needle)) {
    fprintf(stderr, "'%s' does not contain '%s'\n", haystack, needle);
    fail();
  }
}

static struct aoi_set *load_ok(const char *input, const char *field)
{
  struct aoi_set *set = NULL;
  struct mly_err err = {0};
  enum mly_rc rc = aoi_set_load(input, field, &set, &err);
  if(rc) {
    fprintf(stderr, "%s: %s\n", input, err.msg);
    fail();
  }
  assert_non_null(set);
  return set;
}

static struct aoi_set *load_text_ok(const char *text, const char *field)
{
  struct aoi_set *set = NULL;
  struct mly_err err = {0};
  enum mly_rc rc = aoi_set_load_buffer(text, strlen(text), field, &set, &err);
  if(rc) {
    fprintf(stderr, "%s\n", err.msg);
    fail();
  }
  return set;
}

/* Cover and check what every cover must hold: sorted by tile_cmp, each
 * tile once, all at zoom z */
static struct aoi_tile *cover_ok(struct aoi *a, uint32_t z, size_t max, size_t *n)
{
  struct aoi_tile *v = NULL;
  struct mly_err err = {0};
  enum mly_rc rc = aoi_cover(a, z, max, &v, n, &err);
  if(rc) {
    fprintf(stderr, "cover: %s\n", err.msg);
    fail();
  }
  for(size_t i = 0; i < *n; i++) {
    assert_int_equal(v[i].t.z, z);
    assert_true(v[i].rel == AOI_TILE_PARTIAL || v[i].rel == AOI_TILE_INSIDE);
    if(i > 0)
      assert_true(tile_cmp(&v[i - 1].t, &v[i].t) < 0);
  }
  return v;
}

static const struct aoi_tile *find_tile(const struct aoi_tile *v, size_t n, uint32_t x, uint32_t y)
{
  for(size_t i = 0; i < n; i++)
    if(v[i].t.x == x && v[i].t.y == y)
      return &v[i];
  return NULL;
}

/* Sample a 9x9 grid of points over the closed tile (edges included) */
static void tile_sample(struct aoi *a, struct tile t, int *covered, int *total)
{
  double w, s, e, n;
  tile_bounds(t, &w, &s, &e, &n);
  *covered = *total = 0;
  for(int i = 0; i <= 8; i++) {
    for(int j = 0; j <= 8; j++) {
      double lon = i == 8 ? e : w + (e - w) * i / 8;
      double lat = j == 8 ? n : s + (n - s) * j / 8;
      *covered += aoi_covers(a, lon, lat);
      (*total)++;
    }
  }
}

/* The cover of a against point sampling: inside tiles are covered at
 * every sample, tiles left out have no covered sample, and every sampled
 * tile with a covered sample is in the cover. z must be small enough for
 * the area's tile range to be enumerated. */
static void check_cover_by_sampling(struct aoi *a, uint32_t z)
{
  size_t n;
  struct aoi_tile *v = cover_ok(a, z, 1000000, &n);
  double w, s, e, nn;
  aoi_bounds(a, &w, &s, &e, &nn);
  struct tile lo = tile_containing(z, w, nn), hi = tile_containing(z, e, s);
  uint32_t x0 = lo.x ? lo.x - 1 : 0, y0 = lo.y ? lo.y - 1 : 0;
  for(uint32_t x = x0; x <= hi.x + 1 && x < (1u << z); x++) {
    for(uint32_t y = y0; y <= hi.y + 1 && y < (1u << z); y++) {
      int covered, total;
      tile_sample(a, (struct tile){z, x, y}, &covered, &total);
      const struct aoi_tile *t = find_tile(v, n, x, y);
      if(covered)
        assert_non_null(t);
      if(!t)
        assert_int_equal(covered, 0);
      else if(t->rel == AOI_TILE_INSIDE)
        assert_int_equal(covered, total);
    }
  }
  free(v);
}

/* Write a polygon (one ring, n vertices, closed here) as GeoJSON */
static char *polygon_text(const double *xy, size_t n)
{
  size_t cap = 64 + n * 56;
  char *s = malloc(cap);
  assert_non_null(s);
  size_t o = (size_t)snprintf(s, cap, "{\"type\":\"Polygon\",\"coordinates\":[[");
  for(size_t i = 0; i <= n; i++) {
    size_t k = i % n;
    o += (size_t)snprintf(s + o, cap - o, "%s[%.17g,%.17g]", i ? "," : "", xy[2 * k],
                          xy[2 * k + 1]);
  }
  snprintf(s + o, cap - o, "]]}");
  return s;
}

/* ---- bbox parsing ---- */

static void test_bbox_parses_plain_and_spaced(void **state)
{
  (void)state;
  double b[4];
  struct mly_err err = {0};
  assert_int_equal(aoi_parse_bbox("-108.6,39.0,-108.4,39.2", b, &err), MLY_OK);
  assert_true(b[0] == -108.6 && b[1] == 39.0 && b[2] == -108.4 && b[3] == 39.2);
  assert_int_equal(aoi_parse_bbox("  -108.6 , 39 ,\t-108.4,  39.2 ", b, &err), MLY_OK);
  assert_true(b[0] == -108.6 && b[1] == 39.0 && b[2] == -108.4 && b[3] == 39.2);
  assert_int_equal(aoi_parse_bbox("1e1,2E-1,+20,30.", b, &err), MLY_OK);
  assert_true(b[0] == 10.0 && b[1] == 0.2 && b[2] == 20.0 && b[3] == 30.0);
  assert_int_equal(aoi_parse_bbox("-180,-90,180,90", b, &err), MLY_OK);
}

static void test_bbox_xmin_greater_crosses_antimeridian(void **state)
{
  (void)state;
  double b[4];
  struct mly_err err = {0};
  assert_int_equal(aoi_parse_bbox("170,-10,-170,10", b, &err), MLY_OK);
  assert_true(b[0] == 170.0 && b[2] == -170.0);
  /* just under half the globe across it is still a box */
  assert_int_equal(aoi_parse_bbox("100.5,-10,-80,10", b, &err), MLY_OK);
  assert_true(b[0] == 100.5 && b[2] == -80.0);
}

/* Two numbers swapped (10,0,9,1) would read as a 359-degree box across the
 * antimeridian: a crossing box must be narrower than 180 degrees */
static void test_bbox_swapped_numbers_are_refused(void **state)
{
  (void)state;
  static const char *const bad[] = {"10,0,9,1", "-108.4,39.0,-108.5,39.1", "100,-10,-80,10",
                                    "179,0,-1,1"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    double b[4] = {0};
    struct mly_err err = {0};
    assert_int_equal(aoi_parse_bbox(bad[i], b, &err), MLY_EFORMAT);
    if(!strstr(err.msg, "look swapped") || !strstr(err.msg, "narrower than 180"))
      fail_msg("message for '%s': %s", bad[i], err.msg);
  }
  struct mly_err err = {0};
  double b[4];
  assert_int_equal(aoi_parse_bbox("10,0,9,1", b, &err), MLY_EFORMAT);
  assert_non_null(strstr(err.msg, "xMin (10) is greater than xMax (9)"));
  assert_non_null(strstr(err.msg, "359 degrees wide"));
}

static void test_bbox_rejects_bad_text(void **state)
{
  (void)state;
  static const struct {
    const char *text, *says;
  } cases[] = {
    {"", "empty"},
    {"   ", "empty"},
    {"1,2,3", "got 3 fields"},
    {"1,2,3,4,5", "got 5 fields"},
    {"1,2,3,4,", "got 5 fields"},
    {"1,,3,4", "yMin is empty"},
    {"a,2,3,4", "xMin ('a') is not a number"},
    {"nan,2,3,4", "xMin ('nan') is not a number"},
    {"inf,2,3,4", "not a number"},
    {"-infinity,2,3,4", "not a number"},
    {"0x10,2,3,4", "not a number"},
    {"1,2,3,4x", "yMax ('4x') is not a number"},
    {"1.2.3,2,3,4", "not a number"},
    {".,2,3,4", "not a number"},
    {"1e,2,3,4", "not a number"},
    {"- 1,2,3,4", "not a number"},
    {"1 2,2,3,4", "not a number"},
    {"1e400,2,3,4", "not a finite number"},
    {"-181,0,1,1", "xMin (-181) is out of range [-180, 180]"},
    {"0,0,180.5,1", "xMax (180.5) is out of range [-180, 180]"},
    {"0,95,1,96", "yMin (95) is out of range [-90, 90]"},
    {"0,0,1,-90.0001", "yMax (-90.0001) is out of range [-90, 90]"},
    {"0,5,1,4", "yMin (5) is greater than yMax (4)"},
    {"0,5,1,5", "no height"},
    {"1,0,1,1", "no width"},
    {"-0,0,0,1", "no width"},
    {"180,0,-180,1", "no width"},
    {"1,2,3,4;", "not a number"},
  };
  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    double b[4] = {7, 7, 7, 7};
    struct mly_err err = {0};
    enum mly_rc rc = aoi_parse_bbox(cases[i].text, b, &err);
    if(rc != MLY_EFORMAT)
      fprintf(stderr, "case '%s' gave %d\n", cases[i].text, rc);
    assert_int_equal(rc, MLY_EFORMAT);
    assert_int_equal(err.rc, MLY_EFORMAT);
    assert_one_line_message(&err);
    assert_contains(err.msg, "bbox: ");
    assert_contains(err.msg, cases[i].says);
    assert_true(b[0] == 7); /* nothing written on failure */
  }
}

static void test_bbox_message_exact(void **state)
{
  (void)state;
  double b[4];
  struct mly_err err = {0};
  assert_int_equal(aoi_parse_bbox("0,95,1,96", b, &err), MLY_EFORMAT);
  assert_string_equal(err.msg, "bbox: yMin (95) is out of range [-90, 90]");
}

static void test_bbox_hostile_text_is_quoted_safely(void **state)
{
  (void)state;
  double b[4];
  struct mly_err err = {0};
  assert_int_equal(aoi_parse_bbox("\x1b[31mred,1,2,3", b, &err), MLY_EFORMAT);
  assert_null(strchr(err.msg, '\x1b'));
  char big[2000];
  memset(big, '1', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  assert_int_equal(aoi_parse_bbox(big, b, &err), MLY_EFORMAT);
  assert_one_line_message(&err);
}

/* ---- loading ---- */

static void test_load_bbox_text(void **state)
{
  (void)state;
  struct aoi_set *set = load_ok("-108.6, 39.0, -108.4, 39.2", NULL);
  assert_int_equal(aoi_set_count(set), 1);
  struct aoi *a = aoi_set_get(set, 0);
  assert_null(aoi_name(a));
  assert_null(aoi_set_get(set, 1));
  double w, s, e, n;
  aoi_bounds(a, &w, &s, &e, &n);
  assert_true(w == -108.6 && s == 39.0 && e == -108.4 && n == 39.2);
  aoi_set_free(&set);
  assert_null(set);
  aoi_set_free(&set); /* freeing NULL is a no-op */
}

static void test_load_bbox_with_field_name_is_einval(void **state)
{
  (void)state;
  struct aoi_set *set = NULL;
  struct mly_err err = {0};
  assert_int_equal(aoi_set_load("-108.6,39.0,-108.4,39.2", "area", &set, &err), MLY_EINVAL);
  assert_null(set);
  assert_one_line_message(&err);
}

static void test_load_bad_bbox_text_is_eformat(void **state)
{
  (void)state;
  struct aoi_set *set = NULL;
  struct mly_err err = {0};
  assert_int_equal(aoi_set_load("-108.6,39.0,-108.4,95", NULL, &set, &err), MLY_EFORMAT);
  assert_string_equal(err.msg, "bbox: yMax (95) is out of range [-90, 90]");
  assert_null(set);
}

static void test_load_missing_file_names_it(void **state)
{
  (void)state;
  struct aoi_set *set = NULL;
  struct mly_err err = {0};
  assert_int_equal(aoi_set_load("no-such-area.geojson", NULL, &set, &err), MLY_EINVAL);
  assert_contains(err.msg, "'no-such-area.geojson' is neither an existing file nor a bbox");
  assert_null(set);
  assert_int_equal(aoi_set_load("", NULL, &set, &err), MLY_EINVAL);
  assert_int_equal(aoi_set_load(FIXTURES, NULL, &set, &err), MLY_EINVAL);
  assert_contains(err.msg, "is a directory");
  assert_int_equal(aoi_set_load(FIXTURES "001-bare-polygon.geojson", "", &set, &err), MLY_EINVAL);
  assert_one_line_message(&err);
  /* a name with a newline or escape still gives one printable line */
  assert_int_equal(aoi_set_load("no\nsuch\x1b[2J", NULL, &set, &err), MLY_EINVAL);
  assert_one_line_message(&err);
  assert_null(strchr(err.msg, '\x1b'));
}

static void test_load_bare_polygon_file(void **state)
{
  (void)state;
  struct aoi_set *set = load_ok(FIXTURES "001-bare-polygon.geojson", NULL);
  assert_int_equal(aoi_set_count(set), 1);
  struct aoi *a = aoi_set_get(set, 0);
  assert_null(aoi_name(a));
  double w, s, e, n;
  aoi_bounds(a, &w, &s, &e, &n);
  assert_true(w == -108.6 && s == 39.0 && e == -108.5 && n == 39.1);
  assert_true(aoi_covers(a, -108.55, 39.05));
  assert_false(aoi_covers(a, -108.45, 39.05));
  aoi_set_free(&set);
}

/* The rectangle relation that lets points of a cell skip their own test:
 * IN means every point of the closed rectangle is covered, OUT none */
static void test_rect_relation(void **state)
{
  (void)state;
  struct aoi_set *set = load_ok(FIXTURES "001-bare-polygon.geojson", NULL);
  struct aoi *a = aoi_set_get(set, 0); /* [-108.6, -108.5] x [39.0, 39.1] */
  struct mly_err err = {0};
  static const struct {
    double w, s, e, n;
    enum aoi_rect_rel want;
  } cases[] = {
    {-108.58, 39.02, -108.52, 39.08, AOI_RECT_IN},
    {-108.6, 39.0, -108.5, 39.1, AOI_RECT_IN},        /* the area itself: the boundary counts */
    {-108.45, 39.02, -108.40, 39.08, AOI_RECT_OUT},
    {-108.55, 39.02, -108.45, 39.08, AOI_RECT_PARTIAL},
    {-108.5, 39.02, -108.45, 39.08, AOI_RECT_PARTIAL}, /* touches the east edge from outside */
    {-108.7, 38.9, -108.4, 39.2, AOI_RECT_PARTIAL},    /* holds the whole area */
  };
  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    enum aoi_rect_rel rel = AOI_RECT_PARTIAL;
    assert_int_equal(aoi_rect_relation(a, cases[i].w, cases[i].s, cases[i].e, cases[i].n, &rel, &err),
                     MLY_OK);
    if(rel != cases[i].want)
      fail_msg("case %zu: relation %d, want %d", i, (int)rel, (int)cases[i].want);
    /* and the points of the rectangle agree with it */
    for(int k = 0; k <= 100; k++) {
      double lon = cases[i].w + (cases[i].e - cases[i].w) * (k % 11) / 10.0;
      double lat = cases[i].s + (cases[i].n - cases[i].s) * (k / 11 % 11) / 10.0;
      if(lon > cases[i].e)
        lon = cases[i].e;
      if(lat > cases[i].n)
        lat = cases[i].n;
      if(rel == AOI_RECT_IN)
        assert_true(aoi_covers(a, lon, lat));
      if(rel == AOI_RECT_OUT)
        assert_false(aoi_covers(a, lon, lat));
    }
  }
  aoi_set_free(&set);
  /* a bbox area always answers PARTIAL: its own point test is cheap */
  set = load_ok("-108.6,39.0,-108.5,39.1", NULL);
  enum aoi_rect_rel rel = AOI_RECT_IN;
  assert_int_equal(aoi_rect_relation(aoi_set_get(set, 0), -108.58, 39.02, -108.52, 39.08, &rel, &err),
                   MLY_OK);
  assert_int_equal(rel, AOI_RECT_PARTIAL);
  aoi_set_free(&set);
}

/* "-" reads GeoJSON from stdin */
static void test_load_stdin(void **state)
{
  (void)state;
  assert_non_null(freopen(FIXTURES "002-feature-polygon-hole.geojson", "rb", stdin));
  struct aoi_set *set = load_ok("-", NULL);
  assert_int_equal(aoi_set_count(set), 1);
  struct aoi *a = aoi_set_get(set, 0);
  assert_true(aoi_covers(a, -108.58, 39.1));
  assert_false(aoi_covers(a, -108.5, 39.1)); /* in the hole */
  aoi_set_free(&set);

  /* errors from stdin say where they come from */
  struct mly_err err = {0};
  assert_non_null(freopen(FIXTURES "103-bad-open-ring.geojson", "rb", stdin));
  assert_int_equal(aoi_set_load("-", NULL, &set, &err), MLY_EFORMAT);
  assert_contains(err.msg, "stdin: ");
  assert_contains(err.msg, "not closed");
}

static void test_load_geometrycollection_keeps_polygons(void **state)
{
  (void)state;
  struct aoi_set *set = load_ok(FIXTURES "007-geometrycollection.geojson", NULL);
  struct aoi *a = aoi_set_get(set, 0);
  double w, s, e, n;
  aoi_bounds(a, &w, &s, &e, &n);
  /* the point at (5, 5) and the line to (3, 3) are ignored */
  assert_true(w == 0 && s == 0 && e == 1 && n == 1);
  assert_false(aoi_covers(a, 5, 5));
  aoi_set_free(&set);
}

/* Each malformed file is MLY_EFORMAT with a one-line message that names
 * the input and what is wrong */
static void test_load_bad_geojson_fixtures(void **state)
{
  (void)state;
  static const struct {
    const char *file, *says;
  } cases[] = {
    {"101-bad-truncated.geojson", "invalid JSON at line 1"},
    {"102-bad-duplicate-key.geojson", "duplicate"},
    {"103-bad-open-ring.geojson", "ring 0 is not closed"},
    {"104-bad-short-ring.geojson", "ring 0 has 3 positions, a ring needs at least 4"},
    {"105-bad-longitude.geojson", "ring 0 position 1: longitude 190 is out of range [-180, 180]"},
    {"106-bad-latitude.geojson", "latitude -91 is out of range [-90, 90]"},
    {"107-bad-coordinate-string.geojson", "position 1 holds a value that is not a number"},
    {"108-bad-only-points.geojson", "no Polygon or MultiPolygon found"},
    {"109-bad-geometry-type.geojson", "feature 0 geometry type \"Polygone\" is not a GeoJSON"},
    {"110-bad-features-not-array.geojson", "no \"features\" array"},
    {"111-bad-top-level-array.geojson", "not a JSON object"},
    {"112-bad-collapsed-polygon.geojson", "has no area"},
    {"113-bad-invalid-utf8.geojson", "invalid JSON"},
    {"114-bad-feature-not-object.geojson", "feature 1 is not an object"},
    {"115-bad-position-one-number.geojson", "position 1 is not an array of 2 numbers"},
    {"116-bad-empty-file.geojson", "invalid JSON"},
    {"117-bad-no-type.geojson", "no \"type\""},
    {"118-bad-huge-number.geojson", "invalid JSON"},
    {"119-bad-ring-not-array.geojson", "ring 0 is not an array"},
    {"120-bad-nan-literal.geojson", "invalid JSON"},
    {"121-bad-deep-collection.geojson", "nest deeper"},
    {"122-bad-feature-type.geojson", "feature 0 is not of type \"Feature\""},
    {"123-bad-hole-open.geojson", "ring 1 is not closed"},
    {"124-bad-no-features-member.geojson", "no \"features\" array"},
    {"125-bad-geometry-not-object.geojson", "feature 0 geometry is not an object"},
    {"126-bad-newline-in-string.geojson", "invalid JSON at line 1"},
    /* a repair never adds area: a hole outside (or partly outside) its
     * outer ring, or holes that overlap, are refused naming feature and ring */
    {"137-bad-hole-outside-shell.geojson",
     "feature 1 (id \"park\") ring 2 (a hole) is not inside ring 0 (the outer ring)"},
    {"138-bad-hole-overlapping-shell.geojson", "geometry ring 1 (a hole) is not inside ring 0"},
    {"139-bad-holes-overlapping.geojson", "holes overlap: repairing the polygon would add area"},
  };
  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char path[512];
    snprintf(path, sizeof(path), FIXTURES "%s", cases[i].file);
    struct aoi_set *set = NULL;
    struct mly_err err = {0};
    enum mly_rc rc = aoi_set_load(path, NULL, &set, &err);
    if(rc != MLY_EFORMAT)
      fprintf(stderr, "%s gave %d: %s\n", cases[i].file, rc, err.msg);
    assert_int_equal(rc, MLY_EFORMAT);
    assert_null(set);
    assert_one_line_message(&err);
    assert_contains(err.msg, cases[i].file); /* where: the file */
    assert_contains(err.msg, cases[i].says); /* what */
  }
}

/* jansson limits nesting; 100k nested arrays or objects must fail cleanly */
static void test_load_deep_nesting_fails_cleanly(void **state)
{
  (void)state;
  size_t depth = 100000;
  char *s = malloc(depth * 6 + 16);
  assert_non_null(s);
  memset(s, '[', depth);
  memset(s + depth, ']', depth);
  struct aoi_set *set = NULL;
  struct mly_err err = {0};
  assert_int_equal(aoi_set_load_buffer(s, 2 * depth, NULL, &set, &err), MLY_EFORMAT);
  assert_one_line_message(&err);
  size_t o = 0;
  for(size_t i = 0; i < depth; i++)
    o += (size_t)sprintf(s + o, "{\"a\":");
  assert_int_equal(aoi_set_load_buffer(s, o, NULL, &set, &err), MLY_EFORMAT);
  assert_null(set);
  free(s);
}

/* ---- --field_name grouping ---- */

static void test_field_groups_features_by_shared_value(void **state)
{
  (void)state;
  struct aoi_set *set = load_ok(FIXTURES "003-areas-featurecollection.geojson", "area");
  /* the Point and the null-geometry feature add no area */
  assert_int_equal(aoi_set_count(set), 2);
  struct aoi *north = aoi_set_get(set, 0), *south = aoi_set_get(set, 1);
  assert_string_equal(aoi_name(north), "north"); /* order of first appearance */
  assert_string_equal(aoi_name(south), "south");
  assert_true(aoi_covers(north, -108.55, 39.05));  /* feature A */
  assert_true(aoi_covers(north, -108.25, 39.05));  /* feature C */
  assert_false(aoi_covers(north, -108.55, 38.85)); /* B is south's */
  assert_false(aoi_covers(north, -108.4, 39.05));  /* between A and C */
  assert_true(aoi_covers(south, -108.55, 38.85));
  assert_false(aoi_covers(south, -108.55, 39.05));
  double w, s, e, n;
  aoi_bounds(north, &w, &s, &e, &n);
  assert_true(w == -108.6 && e == -108.2 && s == 39.0 && n == 39.1);
  aoi_set_free(&set);

  /* without a field name all polygons form one area */
  set = load_ok(FIXTURES "003-areas-featurecollection.geojson", NULL);
  assert_int_equal(aoi_set_count(set), 1);
  struct aoi *all = aoi_set_get(set, 0);
  assert_null(aoi_name(all));
  assert_true(aoi_covers(all, -108.55, 39.05));
  assert_true(aoi_covers(all, -108.55, 38.85));
  assert_true(aoi_covers(all, -108.25, 39.05));
  aoi_set_free(&set);
}

static void test_field_values_become_safe_names(void **state)
{
  (void)state;
  /* values: "a/b", ".hidden", 42, 1.5, "a_b", "Zürich", 1e+20, -3, 3.0 */
  struct aoi_set *set = load_ok(FIXTURES "006-safe-names.geojson", "area");
  static const char *const expect[] = {"a_b", "_hidden", "42", "1.5", "Z_rich", "1e_20", "-3",
                                       "3.0"};
  assert_int_equal(aoi_set_count(set), 8); /* "a/b" and "a_b" share a file, so an area */
  for(size_t i = 0; i < 8; i++)
    assert_string_equal(aoi_name(aoi_set_get(set, i)), expect[i]);
  /* "a_b" (feature 4) joined the "a/b" area */
  struct aoi *ab = aoi_set_get(set, 0);
  assert_true(aoi_covers(ab, 0.25, 0.25));
  assert_true(aoi_covers(ab, 4.25, 0.25));
  aoi_set_free(&set);
}

static void test_field_safe_names_inline(void **state)
{
  (void)state;
  static const struct {
    const char *value, *name;
  } cases[] = {
    {"\"..\"", "_."},
    {"\".\"", "_"},
    {"\"a b\\\\c:d*e\"", "a_b_c_d_e"},
    {"\"\\u65e5\\u672c\"", "__"},
    {"0.0001", "0.0001"},
    {"0.00001", "1e-05"},
    {"-0.0", "-0.0"},
    {"123456789012345678", "123456789012345678"},
    {"1e16", "1e_16"},
    {"0.1", "0.1"},
    {"\"ok-name_1.x\"", "ok-name_1.x"},
  };
  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char text[512];
    snprintf(text, sizeof(text),
             "{\"type\":\"Feature\",\"properties\":{\"k\":%s},\"geometry\":{\"type\":\"Polygon\","
             "\"coordinates\":[[[0,0],[1,0],[1,1],[0,0]]]}}",
             cases[i].value);
    struct aoi_set *set = load_text_ok(text, "k");
    assert_string_equal(aoi_name(aoi_set_get(set, 0)), cases[i].name);
    aoi_set_free(&set);
  }
}

static void test_field_errors_name_the_feature(void **state)
{
  (void)state;
  static const struct {
    const char *file, *says;
  } cases[] = {
    {"131-bad-field-missing.geojson", "feature 1 (id \"f1\") has no property 'area'"},
    {"132-bad-field-null.geojson", "feature 0 (id 7) has a null value for property 'area'"},
    {"133-bad-field-empty.geojson", "feature 0 has an empty value for property 'area'"},
    {"134-bad-field-boolean.geojson", "feature 0 property 'area' is a boolean"},
    {"135-bad-field-too-long.geojson", "more than the limit of 200"},
    {"136-bad-field-no-properties.geojson", "feature 0 has no property 'area'"},
    {"001-bare-polygon.geojson", "a bare geometry"},
  };
  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char path[512];
    snprintf(path, sizeof(path), FIXTURES "%s", cases[i].file);
    struct aoi_set *set = NULL;
    struct mly_err err = {0};
    assert_int_equal(aoi_set_load(path, "area", &set, &err), MLY_EFORMAT);
    assert_null(set);
    assert_one_line_message(&err);
    assert_contains(err.msg, cases[i].says);
  }
}

/* A repair never adds area (the bad cases are among the bad fixtures,
 * 137-139), but a hole within an invalid outer ring is repaired as before */
static void test_hole_in_a_repaired_polygon_is_kept(void **state)
{
  (void)state;
  /* an invalid outer ring (a bow-tie) with a hole inside one lobe is
   * repaired as before, the hole kept */
  struct aoi_set *set = load_text_ok(
      "{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[2,2],[2,0],[0,2],[0,0]],"
      "[[0.2,0.8],[0.5,1],[0.2,1.2],[0.2,0.8]]]}", NULL);
  struct aoi *a = aoi_set_get(set, 0);
  assert_true(aoi_covers(a, 0.1, 1.0));
  assert_false(aoi_covers(a, 0.3, 1.0)); /* in the hole */
  assert_true(aoi_covers(a, 1.8, 1.0));
  assert_false(aoi_covers(a, 1.0, 1.8));
  aoi_set_free(&set);
}

/* ---- point tests ---- */

static void test_covers_bbox_closed(void **state)
{
  (void)state;
  struct aoi_set *set = load_ok("-108.6,39.0,-108.4,39.2", NULL);
  struct aoi *a = aoi_set_get(set, 0);
  assert_true(aoi_covers(a, -108.5, 39.1));
  assert_true(aoi_covers(a, -108.6, 39.0)); /* corners and edges are inside */
  assert_true(aoi_covers(a, -108.4, 39.2));
  assert_true(aoi_covers(a, -108.6, 39.1));
  assert_false(aoi_covers(a, nextafter(-108.6, -200), 39.1));
  assert_false(aoi_covers(a, -108.5, nextafter(39.2, 100)));
  assert_false(aoi_covers(a, NAN, 39.1));
  assert_false(aoi_covers(a, -108.5, NAN));
  aoi_set_free(&set);
}

static void test_covers_antimeridian_bbox(void **state)
{
  (void)state;
  struct aoi_set *set = load_ok("170,-10,-170,10", NULL);
  struct aoi *a = aoi_set_get(set, 0);
  assert_true(aoi_covers(a, 175, 0));
  assert_true(aoi_covers(a, -175, 0));
  assert_true(aoi_covers(a, 180, 0));
  assert_true(aoi_covers(a, -180, 0));
  assert_true(aoi_covers(a, 170, 10));
  assert_true(aoi_covers(a, -170, -10));
  assert_false(aoi_covers(a, 0, 0));
  assert_false(aoi_covers(a, 169.9, 0));
  assert_false(aoi_covers(a, 175, 10.1));
  aoi_set_free(&set);
}

static void test_covers_polygon_with_hole(void **state)
{
  (void)state;
  struct aoi_set *set = load_ok(FIXTURES "002-feature-polygon-hole.geojson", NULL);
  struct aoi *a = aoi_set_get(set, 0);
  assert_true(aoi_covers(a, -108.58, 39.1));  /* in the ring */
  assert_false(aoi_covers(a, -108.5, 39.1));  /* in the hole */
  assert_true(aoi_covers(a, -108.55, 39.1));  /* on the hole's edge */
  assert_true(aoi_covers(a, -108.6, 39.0));   /* outer corner */
  assert_true(aoi_covers(a, -108.5, 39.2));   /* outer edge */
  assert_false(aoi_covers(a, -108.3, 39.1));  /* outside */
  assert_false(aoi_covers(a, -108.5, 39.25)); /* outside, within no envelope */
  aoi_set_free(&set);
}

static void test_covers_multipolygon(void **state)
{
  (void)state;
  struct aoi_set *set = load_ok(FIXTURES "004-multipolygon.geojson", NULL);
  assert_int_equal(aoi_set_count(set), 1);
  struct aoi *a = aoi_set_get(set, 0);
  assert_true(aoi_covers(a, -108.55, 39.05));
  assert_true(aoi_covers(a, -99.95, 40.05));
  assert_false(aoi_covers(a, -104, 39.5)); /* between the parts */
  aoi_set_free(&set);
}

/* A self-intersecting bow tie is repaired into its two triangles */
static void test_covers_repaired_bowtie(void **state)
{
  (void)state;
  struct aoi_set *set = load_ok(FIXTURES "005-bowtie.geojson", NULL);
  struct aoi *a = aoi_set_get(set, 0);
  assert_true(aoi_covers(a, 0.5, 1.0));  /* left triangle */
  assert_true(aoi_covers(a, 1.5, 1.0));  /* right triangle */
  assert_true(aoi_covers(a, 1.0, 1.0));  /* the crossing point */
  assert_false(aoi_covers(a, 1.0, 0.2)); /* bottom notch */
  assert_false(aoi_covers(a, 1.0, 1.8)); /* top notch */
  aoi_set_free(&set);
}

/* ---- tile covers ---- */

static void test_cover_bbox_matches_tile_ranges(void **state)
{
  (void)state;
  struct aoi_set *set = load_ok("-108.6,39.0,-108.4,39.2", NULL);
  struct aoi *a = aoi_set_get(set, 0);
  size_t n;
  struct aoi_tile *v = cover_ok(a, 14, 1000000, &n);
  struct tile nw = tile_containing(14, -108.6, 39.2), se = tile_containing(14, -108.4, 39.0);
  assert_int_equal(n, (size_t)(se.x - nw.x + 1) * (se.y - nw.y + 1));
  assert_int_equal(v[0].t.x, nw.x);
  assert_int_equal(v[0].t.y, nw.y);
  assert_int_equal(v[n - 1].t.x, se.x);
  assert_int_equal(v[n - 1].t.y, se.y);
  size_t inside = 0;
  for(size_t i = 0; i < n; i++) {
    double w, s, e, nn;
    tile_bounds(v[i].t, &w, &s, &e, &nn);
    bool in = w >= -108.6 && e <= -108.4 && s >= 39.0 && nn <= 39.2;
    assert_int_equal(v[i].rel == AOI_TILE_INSIDE, in);
    inside += in;
  }
  assert_true(inside > 0 && inside < n);
  free(v);
  check_cover_by_sampling(a, 12);
  aoi_set_free(&set);
}

/* A bbox edge exactly on a tile edge also takes the tile that only
 * touches it: a point on that edge may sit in either tile */
static void test_cover_bbox_touching_tile_included(void **state)
{
  (void)state;
  double w, s, e, n;
  tile_bounds((struct tile){14, 3251, 6258}, &w, &s, &e, &n);
  char text[200];
  snprintf(text, sizeof(text), "%.17g,%.17g,%.17g,%.17g", w, s, e, n);
  struct aoi_set *set = load_ok(text, NULL);
  size_t cnt;
  struct aoi_tile *v = cover_ok(aoi_set_get(set, 0), 14, 100, &cnt);
  assert_int_equal(cnt, 9); /* the tile and its 8 neighbours */
  const struct aoi_tile *t = find_tile(v, cnt, 3251, 6258);
  assert_non_null(t);
  assert_int_equal(t->rel, AOI_TILE_INSIDE);
  t = find_tile(v, cnt, 3250, 6257);
  assert_non_null(t);
  assert_int_equal(t->rel, AOI_TILE_PARTIAL);
  assert_non_null(find_tile(v, cnt, 3252, 6259));
  free(v);
  aoi_set_free(&set);
}

static void test_cover_bbox_antimeridian_two_ranges(void **state)
{
  (void)state;
  struct aoi_set *set = load_ok("179.99,-0.01,-179.99,0.01", NULL);
  size_t n;
  struct aoi_tile *v = cover_ok(aoi_set_get(set, 0), 14, 1000, &n);
  assert_true(n > 0);
  bool west = false, east = false;
  for(size_t i = 0; i < n; i++) {
    assert_true(v[i].t.x <= 1 || v[i].t.x >= 16382);
    west |= v[i].t.x == 0;
    east |= v[i].t.x == 16383;
  }
  assert_true(west && east);
  assert_int_equal(v[0].t.x, 0); /* sorted by x: the western range first */
  free(v);

  /* at zoom 0 both parts are the one world tile, listed once */
  v = cover_ok(aoi_set_get(set, 0), 0, 10, &n);
  assert_int_equal(n, 1);
  assert_int_equal(v[0].rel, AOI_TILE_PARTIAL);
  free(v);
  aoi_set_free(&set);
}

static void test_cover_longitude_180_is_last_column(void **state)
{
  (void)state;
  struct aoi_set *set = load_ok("179.99,0,180,0.01", NULL);
  size_t n;
  struct aoi_tile *v = cover_ok(aoi_set_get(set, 0), 14, 1000, &n);
  assert_true(n > 0);
  for(size_t i = 0; i < n; i++)
    assert_true(v[i].t.x == 16383);
  free(v);
  aoi_set_free(&set);
}

/* Latitudes beyond Web Mercator clamp to the edge rows for the cover */
static void test_cover_beyond_mercator_clamps(void **state)
{
  (void)state;
  struct aoi_set *set = load_ok("0,86,1,89", NULL);
  size_t n;
  struct aoi_tile *v = cover_ok(aoi_set_get(set, 0), 10, 1000, &n);
  assert_true(n > 0);
  for(size_t i = 0; i < n; i++) {
    assert_int_equal(v[i].t.y, 0);
    assert_int_equal(v[i].rel, AOI_TILE_PARTIAL);
  }
  free(v);
  aoi_set_free(&set);

  set = load_ok("0.5,-90,1,90", NULL);
  v = cover_ok(aoi_set_get(set, 0), 4, 1000, &n);
  assert_int_equal(n, 16); /* one column, every row */
  for(size_t i = 0; i < n; i++) {
    assert_int_equal(v[i].t.x, 8);
    assert_int_equal(v[i].rel, AOI_TILE_PARTIAL); /* narrower than a z4 column */
  }
  free(v);
  aoi_set_free(&set);

  set = load_ok("-180,-90,180,90", NULL);
  v = cover_ok(aoi_set_get(set, 0), 2, 1000, &n);
  assert_int_equal(n, 16);
  for(size_t i = 0; i < n; i++)
    assert_int_equal(v[i].rel, AOI_TILE_INSIDE);
  free(v);
  aoi_set_free(&set);

  set = load_text_ok("{\"type\":\"Polygon\",\"coordinates\":[[[0,86],[1,86],[1,89],[0,86]]]}",
                     NULL);
  v = cover_ok(aoi_set_get(set, 0), 10, 1000, &n);
  assert_true(n > 0);
  for(size_t i = 0; i < n; i++)
    assert_int_equal(v[i].t.y, 0);
  free(v);
  aoi_set_free(&set);
}

static void test_cover_too_big_says_count(void **state)
{
  (void)state;
  struct aoi_set *set = load_ok("-180,-90,180,90", NULL);
  struct aoi_tile *v = NULL;
  size_t n = 5;
  struct mly_err err = {0};
  assert_int_equal(aoi_cover(aoi_set_get(set, 0), 14, 1000000, &v, &n, &err), MLY_ETOOBIG);
  assert_string_equal(err.msg,
                      "the area needs 268435456 tiles at zoom 14, more than the limit of 1000000");
  assert_null(v);
  assert_int_equal(n, 0);
  aoi_set_free(&set);

  /* a polygon fails early with a lower bound instead of enumerating */
  set = load_text_ok("{\"type\":\"Polygon\",\"coordinates\":[[[-60,-60],[60,-60],[60,60],[-60,60],"
                     "[-60,-60]]]}",
                     NULL);
  assert_int_equal(aoi_cover(aoi_set_get(set, 0), 14, 1000, &v, &n, &err), MLY_ETOOBIG);
  assert_contains(err.msg, "the area needs at least ");
  assert_contains(err.msg, "tiles at zoom 14, more than the limit of 1000");
  assert_null(v);
  aoi_set_free(&set);
}

/* Tiles wholly in the hole are left out; tiles in the ring are inside */
static void test_cover_polygon_with_hole(void **state)
{
  (void)state;
  struct aoi_set *set = load_ok(FIXTURES "002-feature-polygon-hole.geojson", NULL);
  struct aoi *a = aoi_set_get(set, 0);
  size_t n;
  struct aoi_tile *v = cover_ok(a, 14, 100000, &n);
  struct tile hole = tile_containing(14, -108.5, 39.1);
  assert_null(find_tile(v, n, hole.x, hole.y));
  struct tile ring = tile_containing(14, -108.58, 39.1);
  const struct aoi_tile *t = find_tile(v, n, ring.x, ring.y);
  assert_non_null(t);
  assert_int_equal(t->rel, AOI_TILE_INSIDE);
  /* the shell is axis-aligned: check every tile against exact arithmetic */
  for(size_t i = 0; i < n; i++) {
    double w, s, e, nn;
    tile_bounds(v[i].t, &w, &s, &e, &nn);
    assert_true(w <= -108.4 && e >= -108.6 && s <= 39.2 && nn >= 39.0);
    bool in_hole = w > -108.55 && e < -108.45 && s > 39.05 && nn < 39.15;
    assert_false(in_hole);
  }
  free(v);
  check_cover_by_sampling(a, 12);
  aoi_set_free(&set);
}

static void test_cover_multipolygon_parts_only(void **state)
{
  (void)state;
  struct aoi_set *set = load_ok(FIXTURES "004-multipolygon.geojson", NULL);
  struct aoi *a = aoi_set_get(set, 0);
  size_t n;
  struct aoi_tile *v = cover_ok(a, 14, 100000, &n);
  struct tile p1 = tile_containing(14, -108.55, 39.05), p2 = tile_containing(14, -99.95, 40.05);
  assert_non_null(find_tile(v, n, p1.x, p1.y));
  assert_non_null(find_tile(v, n, p2.x, p2.y));
  struct tile mid = tile_containing(14, -104, 39.5);
  for(size_t i = 0; i < n; i++)
    assert_true(v[i].t.x < mid.x - 100 || v[i].t.x > mid.x + 100);
  free(v);
  check_cover_by_sampling(a, 10);
  aoi_set_free(&set);
}

/* A polygon edge on a tile edge: the tile on the other side only touches
 * the area and is included (partial); a vertex on a tile corner brings
 * the four tiles around it */
static void test_cover_polygon_touching_tiles_included(void **state)
{
  (void)state;
  double w, s, e, n;
  tile_bounds((struct tile){14, 3251, 6258}, &w, &s, &e, &n);
  /* a triangle with its right angle on the tile's north-west corner */
  double xy[] = {w, n, w + 0.001, n, w, n - 0.001};
  char *text = polygon_text(xy, 3);
  struct aoi_set *set = load_text_ok(text, NULL);
  free(text);
  struct aoi *a = aoi_set_get(set, 0);
  assert_true(aoi_covers(a, w, n));
  size_t cnt;
  struct aoi_tile *v = cover_ok(a, 14, 100, &cnt);
  assert_int_equal(cnt, 4);
  assert_non_null(find_tile(v, cnt, 3250, 6257));
  assert_non_null(find_tile(v, cnt, 3251, 6257));
  assert_non_null(find_tile(v, cnt, 3250, 6258));
  const struct aoi_tile *t = find_tile(v, cnt, 3251, 6258);
  assert_non_null(t);
  assert_int_equal(t->rel, AOI_TILE_PARTIAL);
  free(v);
  aoi_set_free(&set);

  /* the polygon is exactly the tile: it is inside, its neighbours touch */
  double sq[] = {w, s, e, s, e, n, w, n};
  text = polygon_text(sq, 4);
  set = load_text_ok(text, NULL);
  free(text);
  v = cover_ok(aoi_set_get(set, 0), 14, 100, &cnt);
  assert_int_equal(cnt, 9);
  t = find_tile(v, cnt, 3251, 6258);
  assert_non_null(t);
  assert_int_equal(t->rel, AOI_TILE_INSIDE);
  assert_int_equal(find_tile(v, cnt, 3252, 6258)->rel, AOI_TILE_PARTIAL);
  free(v);
  aoi_set_free(&set);
}

/* The point of a polygon cover: a thin diagonal band needs a small
 * fraction of its bbox's tiles */
static void test_cover_thin_diagonal_far_smaller_than_bbox(void **state)
{
  (void)state;
  struct aoi_set *set = load_ok(FIXTURES "008-thin-diagonal.geojson", NULL);
  struct aoi *a = aoi_set_get(set, 0);
  size_t n;
  struct aoi_tile *v = cover_ok(a, 14, 1000000, &n);
  struct aoi_set *box = load_ok("-109,38,-107,40.002", NULL);
  size_t nbox;
  struct aoi_tile *vb = cover_ok(aoi_set_get(box, 0), 14, 1000000, &nbox);
  assert_true(nbox > 10000);
  assert_true(n > 0);
  assert_true(n * 20 < nbox);
  free(v);
  free(vb);
  check_cover_by_sampling(a, 11);
  aoi_set_free(&set);
  aoi_set_free(&box);
}

/* A country-size area with a detailed border: 1e5 vertices, 1e5 tiles */
static void test_cover_large_complex_polygon(void **state)
{
  (void)state;
  size_t nv = 100000;
  double *xy = malloc(2 * nv * sizeof(*xy));
  assert_non_null(xy);
  for(size_t i = 0; i < nv; i++) {
    double t = 2 * M_PI * (double)i / (double)nv;
    double r = 3.0 * (1 + 0.05 * sin(50 * t));
    xy[2 * i] = 10 + r * cos(t);
    xy[2 * i + 1] = 45 + 0.7 * r * sin(t);
  }
  char *text = polygon_text(xy, nv);
  free(xy);
  struct aoi_set *set = load_text_ok(text, NULL);
  free(text);
  struct aoi *a = aoi_set_get(set, 0);
  size_t n, inside = 0;
  struct aoi_tile *v = cover_ok(a, 14, 1000000, &n);
  for(size_t i = 0; i < n; i++)
    inside += v[i].rel == AOI_TILE_INSIDE;
  /* about pi * 3 * 2.1 square degrees over z14 tiles of ~0.022 x 0.0155 */
  assert_true(n > 50000 && n < 70000);
  assert_true(inside * 10 > n * 9);
  /* centre tile inside; a tile outside the envelope absent */
  struct tile c = tile_containing(14, 10, 45);
  assert_int_equal(find_tile(v, n, c.x, c.y)->rel, AOI_TILE_INSIDE);
  free(v);
  check_cover_by_sampling(a, 8);
  aoi_set_free(&set);
}

static void test_cover_zoom_limits(void **state)
{
  (void)state;
  struct aoi_set *set = load_ok(FIXTURES "001-bare-polygon.geojson", NULL);
  size_t n;
  struct aoi_tile *v = cover_ok(aoi_set_get(set, 0), 0, 10, &n);
  assert_int_equal(n, 1);
  free(v);
  struct mly_err err = {0};
  assert_int_equal(aoi_cover(aoi_set_get(set, 0), 40, 10, &v, &n, &err), MLY_EINVAL);
  aoi_set_free(&set);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_bbox_parses_plain_and_spaced),
    cmocka_unit_test(test_bbox_xmin_greater_crosses_antimeridian),
    cmocka_unit_test(test_bbox_swapped_numbers_are_refused),
    cmocka_unit_test(test_bbox_rejects_bad_text),
    cmocka_unit_test(test_bbox_message_exact),
    cmocka_unit_test(test_bbox_hostile_text_is_quoted_safely),
    cmocka_unit_test(test_load_bbox_text),
    cmocka_unit_test(test_load_bbox_with_field_name_is_einval),
    cmocka_unit_test(test_load_bad_bbox_text_is_eformat),
    cmocka_unit_test(test_load_missing_file_names_it),
    cmocka_unit_test(test_load_bare_polygon_file),
    cmocka_unit_test(test_rect_relation),
    cmocka_unit_test(test_load_stdin),
    cmocka_unit_test(test_load_geometrycollection_keeps_polygons),
    cmocka_unit_test(test_load_bad_geojson_fixtures),
    cmocka_unit_test(test_load_deep_nesting_fails_cleanly),
    cmocka_unit_test(test_field_groups_features_by_shared_value),
    cmocka_unit_test(test_field_values_become_safe_names),
    cmocka_unit_test(test_field_safe_names_inline),
    cmocka_unit_test(test_field_errors_name_the_feature),
    cmocka_unit_test(test_covers_bbox_closed),
    cmocka_unit_test(test_covers_antimeridian_bbox),
    cmocka_unit_test(test_covers_polygon_with_hole),
    cmocka_unit_test(test_covers_multipolygon),
    cmocka_unit_test(test_covers_repaired_bowtie),
    cmocka_unit_test(test_hole_in_a_repaired_polygon_is_kept),
    cmocka_unit_test(test_cover_bbox_matches_tile_ranges),
    cmocka_unit_test(test_cover_bbox_touching_tile_included),
    cmocka_unit_test(test_cover_bbox_antimeridian_two_ranges),
    cmocka_unit_test(test_cover_longitude_180_is_last_column),
    cmocka_unit_test(test_cover_beyond_mercator_clamps),
    cmocka_unit_test(test_cover_too_big_says_count),
    cmocka_unit_test(test_cover_polygon_with_hole),
    cmocka_unit_test(test_cover_multipolygon_parts_only),
    cmocka_unit_test(test_cover_polygon_touching_tiles_included),
    cmocka_unit_test(test_cover_thin_diagonal_far_smaller_than_bbox),
    cmocka_unit_test(test_cover_large_complex_polygon),
    cmocka_unit_test(test_cover_zoom_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
