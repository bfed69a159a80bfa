/* test_seqbuffer.c -- unit tests of the sequence buffers: dropped, clipped, ranked, in metres */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>

#include <geos_c.h>

#include "mly/featread.h"
#include "mly/seqbuffer.h"

/* Add a feature given as {"properties":..., "geometry":...} text */
static enum mly_rc add_text(struct seqbuffer *b, uint64_t index, const char *text,
                            struct mly_err *err)
{
  json_error_t jerr;
  json_t *root = json_loads(text, 0, &jerr);
  assert_non_null(root);
  struct feature f = {.properties = json_object_get(root, "properties"),
                      .geometry = json_object_get(root, "geometry"),
                      .index = index};
  if(json_is_null(f.geometry))
    f.geometry = NULL;
  enum mly_rc rc = seqbuffer_add(b, &f, err);
  json_decref(root);
  return rc;
}

static void add_line(struct seqbuffer *b, uint64_t index, const char *seq_id, const char *extra,
                     const char *coords)
{
  char text[1024];
  snprintf(text, sizeof(text),
           "{\"properties\":{\"sequence_id\":\"%s\"%s},"
           "\"geometry\":{\"type\":\"LineString\",\"coordinates\":%s}}",
           seq_id, extra, coords);
  struct mly_err err = {0};
  assert_int_equal(add_text(b, index, text, &err), MLY_OK);
}

static struct seqbuffer *new_degrees(double w)
{
  struct seqbuffer_width width = {.value = w, .metres = false};
  struct seqbuffer *b = seqbuffer_new(&width);
  assert_non_null(b);
  return b;
}

/* The results of the last run(), in the order they were handed over */
#define MAX_RESULTS 1024
static struct {
  size_t n;
  json_t *props[MAX_RESULTS], *geom[MAX_RESULTS];
} got;

static void forget_results(void)
{
  for(size_t i = 0; i < got.n; i++) {
    json_decref(got.props[i]);
    json_decref(got.geom[i]);
  }
  got.n = 0;
}

static enum mly_rc collect(void *user, json_t *properties, json_t *geometry, struct mly_err *err)
{
  (void)user;
  (void)err;
  assert_true(got.n < MAX_RESULTS);
  /* a copy: the run lets its properties go after the call */
  got.props[got.n] = json_deep_copy(properties);
  got.geom[got.n] = json_incref(geometry);
  got.n++;
  return MLY_OK;
}

static void run(struct seqbuffer *b)
{
  struct mly_err err = {0};
  forget_results();
  assert_int_equal(seqbuffer_run(b, NULL, collect, NULL, &err), MLY_OK);
  struct seqbuffer_stats st;
  seqbuffer_get_stats(b, &st);
  assert_int_equal(st.results, got.n);
}

static size_t result_count(void)
{
  return got.n;
}

/* Result i as the run handed it: properties borrowed, geometry a new
 * reference */
static enum mly_rc result_at(size_t i, json_t **props, json_t **geom)
{
  assert_true(i < got.n);
  *props = got.props[i];
  *geom = json_incref(got.geom[i]);
  return MLY_OK;
}

static const char *result_seq(struct seqbuffer *b, size_t i)
{
  json_t *props, *geom;
  assert_int_equal(result_at(i, &props, &geom), MLY_OK);
  json_decref(geom);
  return json_string_value(json_object_get(props, "sequence_id"));
}

static double result_area(struct seqbuffer *b, size_t i)
{
  json_t *props, *geom;
  assert_int_equal(result_at(i, &props, &geom), MLY_OK);
  json_decref(geom);
  assert_true(json_is_real(json_object_get(props, "area")));
  return json_real_value(json_object_get(props, "area"));
}

/* Result i's geometry read back by GEOS (through its GeoJSON reader: a
 * reader independent of ours) */
static GEOSGeometry *result_geos(GEOSContextHandle_t ctx, struct seqbuffer *b, size_t i)
{
  json_t *props, *geom;
  assert_int_equal(result_at(i, &props, &geom), MLY_OK);
  char *text = json_dumps(geom, JSON_COMPACT);
  json_decref(geom);
  GEOSGeoJSONReader *r = GEOSGeoJSONReader_create_r(ctx);
  GEOSGeometry *g = GEOSGeoJSONReader_readGeometry_r(ctx, r, text);
  GEOSGeoJSONReader_destroy_r(ctx, r);
  free(text);
  assert_non_null(g);
  return g;
}

static double area_of(GEOSContextHandle_t ctx, const GEOSGeometry *g)
{
  double a = -1;
  assert_int_equal(GEOSArea_r(ctx, g, &a), 1);
  return a;
}

static void test_parse_width(void **state)
{
  (void)state;
  struct seqbuffer_width w;
  struct mly_err err = {0};
  assert_int_equal(seqbuffer_parse_width("0.0001", &w, &err), MLY_OK);
  assert_true(w.value == 0.0001 && !w.metres);
  assert_int_equal(seqbuffer_parse_width("12m", &w, &err), MLY_OK);
  assert_true(w.value == 12.0 && w.metres);
  assert_int_equal(seqbuffer_parse_width("12.5 M", &w, &err), MLY_OK);
  assert_true(w.value == 12.5 && w.metres);
  assert_int_equal(seqbuffer_parse_width("1e-9", &w, &err), MLY_OK);
  assert_int_equal(seqbuffer_parse_width("100000m", &w, &err), MLY_OK);
  /* hexadecimal, blanks first, and widths GEOS fails on after the work */
  const char *bad[] = {"", "m", "0", "-1", "-3m", "12km", "12mm", "abc", "1e999", "nan", "0x",
                       "0x10", "0x1p-10", " 5m", "inf", "1e-300", "1e-10", "11", "1e9m", "100001m",
                       "0.0009m"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(seqbuffer_parse_width(bad[i], &w, &err), MLY_EINVAL);
    assert_non_null(strstr(err.msg, "--buffer"));
  }
}

/* A short sequence along a long one: its buffer lies in the long one's */
static void test_contained_buffer_is_dropped(void **state)
{
  (void)state;
  struct seqbuffer *b = new_degrees(0.01);
  add_line(b, 0, "short", "", "[[0.2,0],[0.4,0]]");
  add_line(b, 1, "long", "", "[[0,0],[1,0]]");
  run(b);
  struct seqbuffer_stats st;
  seqbuffer_get_stats(b, &st);
  assert_int_equal(result_count(), 1);
  assert_int_equal(st.contained, 1);
  assert_int_equal(st.read, 2);
  assert_string_equal(result_seq(b, 0), "long");
  seqbuffer_free(&b);
  assert_null(b);
  seqbuffer_free(&b);
}

/* Two crossing sequences: the longer keeps its whole buffer, the shorter
 * loses the crossing, the two do not overlap and cover both buffers */
static void test_overlap_is_clipped_from_the_shorter(void **state)
{
  (void)state;
  GEOSContextHandle_t ctx = GEOS_init_r();
  struct seqbuffer *b = new_degrees(0.01);
  add_line(b, 0, "cross", "", "[[0.5,-0.2],[0.5,0.2]]");
  add_line(b, 1, "long", "", "[[0,0],[1,0]]");
  run(b);
  assert_int_equal(result_count(), 2);
  assert_string_equal(result_seq(b, 0), "long");
  assert_string_equal(result_seq(b, 1), "cross");
  GEOSGeometry *g0 = result_geos(ctx, b, 0), *g1 = result_geos(ctx, b, 1);
  double a0 = area_of(ctx, g0), a1 = area_of(ctx, g1);
  /* a 1 x 0.02 band with round ends; the crossing takes 0.02 x 0.02 */
  assert_true(fabs(a0 - (0.02 + M_PI * 1e-4)) < 1e-6);
  assert_true(fabs(a1 - (0.008 + M_PI * 1e-4 - 0.0004)) < 1e-6);
  assert_true(fabs(result_area(b, 0) - a0) < 1e-12);
  assert_true(fabs(result_area(b, 1) - a1) < 1e-12);
  GEOSGeometry *both = GEOSIntersection_r(ctx, g0, g1);
  assert_true(area_of(ctx, both) < 1e-12);
  struct seqbuffer_stats st;
  seqbuffer_get_stats(b, &st);
  assert_int_equal(st.clipped, 1);
  assert_int_equal(st.contained, 0);
  GEOSGeom_destroy_r(ctx, both);
  GEOSGeom_destroy_r(ctx, g0);
  GEOSGeom_destroy_r(ctx, g1);
  seqbuffer_free(&b);
  GEOS_finish_r(ctx);
}

/* The `length` property ranks (as merge_sequences writes it), not the
 * drawn length: here it makes the short line the longer sequence */
static void test_length_property_ranks(void **state)
{
  (void)state;
  struct seqbuffer *b = new_degrees(0.01);
  add_line(b, 0, "drawn-long", ",\"length\":10", "[[0,0],[1,0]]");
  add_line(b, 1, "said-long", ",\"length\":5000", "[[0.5,-0.2],[0.5,0.2]]");
  run(b);
  assert_int_equal(result_count(), 2);
  assert_string_equal(result_seq(b, 0), "said-long");
  assert_true(fabs(result_area(b, 0) - (0.008 + M_PI * 1e-4)) < 1e-6);
  assert_true(fabs(result_area(b, 1) - (0.02 + M_PI * 1e-4 - 0.0004)) < 1e-6);
  seqbuffer_free(&b);
}

/* Equal lengths: sequence_id decides, whatever the input order */
static void test_ties_go_by_sequence_id(void **state)
{
  (void)state;
  for(int order = 0; order < 2; order++) {
    struct seqbuffer *b = new_degrees(0.01);
    add_line(b, 0, order ? "a" : "b", "", order ? "[[0,0],[1,0]]" : "[[0.5,-0.5],[0.5,0.5]]");
    add_line(b, 1, order ? "b" : "a", "", order ? "[[0.5,-0.5],[0.5,0.5]]" : "[[0,0],[1,0]]");
    run(b);
    assert_int_equal(result_count(), 2);
    assert_string_equal(result_seq(b, 0), "a");
    assert_true(fabs(result_area(b, 0) - (0.02 + M_PI * 1e-4)) < 1e-6);
    seqbuffer_free(&b);
  }
}

/* Two sequences on the same line: one buffer kept (the first by id) */
static void test_equal_buffers_keep_one(void **state)
{
  (void)state;
  struct seqbuffer *b = new_degrees(0.01);
  add_line(b, 0, "y", "", "[[0,0],[1,0]]");
  add_line(b, 1, "x", "", "[[0,0],[1,0]]");
  run(b);
  assert_int_equal(result_count(), 1);
  assert_string_equal(result_seq(b, 0), "x");
  seqbuffer_free(&b);
}

/* 12m is metres: the buffer reaches 12 m north of an east-west line at
 * 60 N (0.000108 deg of latitude), whose 0.02 deg are some 1,117 m; in
 * degrees the same line's buffer is 0.001 deg wide and its area deg^2 */
static void test_metres_and_degrees(void **state)
{
  (void)state;
  GEOSContextHandle_t ctx = GEOS_init_r();
  struct seqbuffer_width w;
  struct mly_err err = {0};
  assert_int_equal(seqbuffer_parse_width("12m", &w, &err), MLY_OK);
  struct seqbuffer *b = seqbuffer_new(&w);
  add_line(b, 0, "m", "", "[[10,60],[10.02,60]]");
  run(b);
  assert_int_equal(result_count(), 1);
  GEOSGeometry *g = result_geos(ctx, b, 0);
  double minx, miny, maxx, maxy;
  assert_int_equal(GEOSGeom_getExtent_r(ctx, g, &minx, &miny, &maxx, &maxy), 1);
  /* a degree of latitude is 111,412 m at 60 N; of longitude 55,800 m */
  assert_true(fabs((maxy - 60.0) * 111412.0 - 12.0) < 0.05);
  assert_true(fabs((60.0 - miny) * 111412.0 - 12.0) < 0.05);
  assert_true(fabs((10.0 - minx) * 55800.0 - 12.0) < 0.1);
  double len = 0.02 * 55800.0;
  double want = 2 * 12.0 * len + M_PI * 144.0;
  assert_true(fabs(result_area(b, 0) - want) < 0.005 * want);
  GEOSGeom_destroy_r(ctx, g);
  seqbuffer_free(&b);

  b = new_degrees(0.001);
  add_line(b, 0, "d", "", "[[10,60],[10.02,60]]");
  run(b);
  g = result_geos(ctx, b, 0);
  assert_int_equal(GEOSGeom_getExtent_r(ctx, g, &minx, &miny, &maxx, &maxy), 1);
  assert_true(fabs(maxy - 60.001) < 1e-9 && fabs(minx - 9.999) < 1e-9);
  assert_true(fabs(result_area(b, 0) - (0.02 * 0.002 + M_PI * 1e-6)) < 1e-8);
  GEOSGeom_destroy_r(ctx, g);
  seqbuffer_free(&b);
  GEOS_finish_r(ctx);
}

/* In metres, a part of a road lies within the whole road's buffer, in
 * one projection cell or across two (the whole road's centre at lon 1.0
 * is in the cell of 1.5, the part's at 0.97 in the cell of 0.5) */
static void test_metres_part_of_a_road_is_within(void **state)
{
  (void)state;
  const char *parts[] = {"[[0.3,0.2],[0.4,0.2]]", "[[0.95,0.2],[0.99,0.2]]"};
  for(int k = 0; k < 2; k++) {
    struct seqbuffer_width w = {.value = 12.0, .metres = true};
    struct seqbuffer *b = seqbuffer_new(&w);
    add_line(b, 0, "part", "", parts[k]);
    add_line(b, 1, "whole", "", k ? "[[0.9,0.2],[1.1,0.2]]" : "[[0.1,0.2],[0.9,0.2]]");
    run(b);
    struct seqbuffer_stats st;
    seqbuffer_get_stats(b, &st);
    assert_int_equal(st.contained, 1);
    assert_int_equal(result_count(), 1);
    assert_string_equal(result_seq(b, 0), "whole");
    seqbuffer_free(&b);
  }
}

/* Exterior rings counterclockwise, holes clockwise (RFC 7946 3.1.6) */
static double ring_signed_area(const json_t *ring)
{
  double s = 0;
  size_t n = json_array_size(ring);
  for(size_t k = 0; k + 1 < n; k++) {
    const json_t *p = json_array_get(ring, k), *q = json_array_get(ring, k + 1);
    s += json_real_value(json_array_get(p, 0)) * json_real_value(json_array_get(q, 1)) -
         json_real_value(json_array_get(q, 0)) * json_real_value(json_array_get(p, 1));
  }
  return s / 2;
}

static void test_winding_and_holes(void **state)
{
  (void)state;
  struct seqbuffer *b = new_degrees(0.1);
  /* a closed square loop of side 1: its buffer has a hole */
  add_line(b, 0, "loop", "", "[[0,0],[1,0],[1,1],[0,1],[0,0]]");
  run(b);
  json_t *props, *geom;
  assert_int_equal(result_at(0, &props, &geom), MLY_OK);
  assert_string_equal(json_string_value(json_object_get(geom, "type")), "Polygon");
  json_t *rings = json_object_get(geom, "coordinates");
  assert_int_equal(json_array_size(rings), 2);
  assert_true(ring_signed_area(json_array_get(rings, 0)) > 0);
  assert_true(ring_signed_area(json_array_get(rings, 1)) < 0);
  json_decref(geom);
  seqbuffer_free(&b);
}

/* What is not a line is skipped and counted; a broken position is an
 * error naming the feature */
static void test_skipped_and_broken(void **state)
{
  (void)state;
  struct seqbuffer *b = new_degrees(0.01);
  struct mly_err err = {0};
  assert_int_equal(add_text(b, 0, "{\"properties\":{},\"geometry\":null}", &err), MLY_OK);
  assert_int_equal(add_text(b, 1, "{\"properties\":{},\"geometry\":{\"type\":\"Point\","
                            "\"coordinates\":[1,2]}}", &err), MLY_OK);
  assert_int_equal(add_text(b, 2, "{\"properties\":{},\"geometry\":{\"type\":\"LineString\","
                            "\"coordinates\":[[1,2],[1,2]]}}", &err), MLY_OK);
  assert_int_equal(add_text(b, 3, "{\"properties\":{},\"geometry\":{\"type\":\"MultiLineString\","
                            "\"coordinates\":[[[1,2]],[[3,4],[3.1,4]]]}}", &err), MLY_OK);
  assert_int_equal(add_text(b, 4, "{\"properties\":{},\"geometry\":{\"type\":\"LineString\","
                            "\"coordinates\":[[1,2],[1,\"x\"]]}}", &err), MLY_EFORMAT);
  assert_non_null(strstr(err.msg, "feature 4"));
  assert_int_equal(add_text(b, 5, "{\"properties\":{},\"geometry\":{\"type\":\"LineString\","
                            "\"coordinates\":[[1,2],[1,91]]}}", &err), MLY_EFORMAT);
  assert_non_null(strstr(err.msg, "feature 5"));
  run(b);
  struct seqbuffer_stats st;
  seqbuffer_get_stats(b, &st);
  assert_int_equal(st.not_line, 2);
  assert_int_equal(st.degenerate, 1);
  assert_int_equal(result_count(), 1); /* the multiline's good member */
  seqbuffer_free(&b);
}

/* Many overlapping sequences twice: the same text, and no two results
 * overlap */
static void test_repeatable_and_disjoint(void **state)
{
  (void)state;
  GEOSContextHandle_t ctx = GEOS_init_r();
  char *first[40] = {0};
  for(int pass = 0; pass < 2; pass++) {
    struct seqbuffer *b = new_degrees(0.002);
    for(int i = 0; i < 40; i++) {
      char id[16], coords[128];
      snprintf(id, sizeof(id), "s%02d", i);
      /* a fan of lines through nearby points: many overlaps */
      double a = i * 0.157, x = 0.001 * (i % 7);
      snprintf(coords, sizeof(coords), "[[%.6f,%.6f],[%.6f,%.6f],[%.6f,0.03]]", x, 0.0,
               x + 0.02 * cos(a), 0.02 * sin(a), x + 0.01);
      add_line(b, (uint64_t)i, id, "", coords);
    }
    run(b);
    size_t n = result_count();
    assert_true(n > 5);
    GEOSGeometry **g = calloc(n, sizeof(*g));
    for(size_t i = 0; i < n; i++) {
      json_t *props, *geom;
      assert_int_equal(result_at(i, &props, &geom), MLY_OK);
      char *text = json_dumps(geom, JSON_COMPACT | JSON_REAL_PRECISION(17));
      json_decref(geom);
      if(pass == 0)
        first[i] = text;
      else {
        assert_string_equal(first[i], text);
        free(text);
      }
      g[i] = result_geos(ctx, b, i);
    }
    for(size_t i = 0; i < n; i++)
      for(size_t j = i + 1; j < n; j++) {
        GEOSGeometry *x = GEOSIntersection_r(ctx, g[i], g[j]);
        assert_true(area_of(ctx, x) < 1e-12);
        GEOSGeom_destroy_r(ctx, x);
      }
    for(size_t i = 0; i < n; i++)
      GEOSGeom_destroy_r(ctx, g[i]);
    free(g);
    seqbuffer_free(&b);
  }
  for(int i = 0; i < 40; i++)
    free(first[i]);
  GEOS_finish_r(ctx);
}

/* More buffers than are kept prepared at once (SB_PREP_KEEP, 256), spread
 * so that step 1 must let prepared ones go and make some again: every
 * second line is a piece of the line before it (its buffer lies within
 * that one's, with no turn of the line near the piece's ends), the others are random and overlap their neighbours. The
 * pieces, and only they, are dropped as within another; the results do
 * not overlap; together they cover what all the buffers covered. */
static void test_many_buffers_past_the_prepared_kept(void **state)
{
  (void)state;
  GEOSContextHandle_t ctx = GEOS_init_r();
  const int n = 800;
  const double w = 0.0004;
  struct seqbuffer *b = new_degrees(w);
  GEOSGeometry **bufs = calloc((size_t)n, sizeof(*bufs));
  uint32_t seed = 12345;
  double prev[3][2] = {{0}};
  int pieces = 0;
  for(int i = 0; i < n; i++) {
    double p[3][2];
    if(i % 2 == 1) { /* the first half of the line before's first segment */
      memcpy(p, prev, sizeof(p));
      p[1][0] = (p[0][0] + p[1][0]) / 2;
      p[1][1] = (p[0][1] + p[1][1]) / 2;
      pieces++;
    } else {
      for(int k = 0; k < 3; k++) {
        seed = seed * 1103515245u + 12345u;
        double rx = (double)(seed >> 8) / 16777216.0;
        seed = seed * 1103515245u + 12345u;
        double ry = (double)(seed >> 8) / 16777216.0;
        /* a 0.2 x 0.2 degree field; segments 0.002 to 0.005 long along
         * x, so a piece's end (half way) is far more than a width from
         * its line's turn */
        p[k][0] = k ? p[k - 1][0] + 0.002 + 0.003 * rx : 0.2 * rx;
        p[k][1] = k ? p[k - 1][1] + 0.005 * (ry - 0.5) * 2 : 0.2 * ry;
      }
      memcpy(prev, p, sizeof(p));
    }
    char id[16], coords[160];
    snprintf(id, sizeof(id), "s%04d", i);
    if(i % 2 == 1)
      snprintf(coords, sizeof(coords), "[[%.7f,%.7f],[%.7f,%.7f]]", p[0][0], p[0][1], p[1][0],
               p[1][1]);
    else
      snprintf(coords, sizeof(coords), "[[%.7f,%.7f],[%.7f,%.7f],[%.7f,%.7f]]", p[0][0],
               p[0][1], p[1][0], p[1][1], p[2][0], p[2][1]);
    add_line(b, (uint64_t)i, id, "", coords);
    /* the same buffer made here, for the union below */
    char wkt[200];
    json_error_t jerr;
    json_t *c = json_loads(coords, 0, &jerr);
    int len = snprintf(wkt, sizeof(wkt), "LINESTRING(");
    for(size_t k = 0; k < json_array_size(c); k++)
      len += snprintf(wkt + len, sizeof(wkt) - (size_t)len, "%s%.7f %.7f", k ? "," : "",
                      json_real_value(json_array_get(json_array_get(c, k), 0)),
                      json_real_value(json_array_get(json_array_get(c, k), 1)));
    snprintf(wkt + len, sizeof(wkt) - (size_t)len, ")");
    json_decref(c);
    GEOSWKTReader *r = GEOSWKTReader_create_r(ctx);
    GEOSGeometry *line = GEOSWKTReader_read_r(ctx, r, wkt);
    GEOSWKTReader_destroy_r(ctx, r);
    assert_non_null(line);
    bufs[i] = GEOSBuffer_r(ctx, line, w, 16);
    GEOSGeom_destroy_r(ctx, line);
  }
  run(b);
  struct seqbuffer_stats st;
  seqbuffer_get_stats(b, &st);
  assert_int_equal(st.contained, (uint64_t)pieces);
  size_t m = result_count();
  assert_int_equal(m + st.contained + st.covered, (size_t)n);
  for(size_t i = 0; i < m; i++) { /* no piece is among the results */
    json_t *props, *geom;
    assert_int_equal(result_at(i, &props, &geom), MLY_OK);
    json_decref(geom);
    int k = atoi(json_string_value(json_object_get(props, "sequence_id")) + 1);
    assert_true(k % 2 == 0);
  }
  GEOSGeometry **g = calloc(m, sizeof(*g));
  double (*env)[4] = calloc(m, sizeof(*env));
  double sum = 0;
  for(size_t i = 0; i < m; i++) {
    g[i] = result_geos(ctx, b, i);
    sum += area_of(ctx, g[i]);
    assert_int_equal(GEOSGeom_getExtent_r(ctx, g[i], &env[i][0], &env[i][1], &env[i][2],
                                          &env[i][3]), 1);
  }
  for(size_t i = 0; i < m; i++)
    for(size_t j = i + 1; j < m; j++) {
      if(env[i][0] > env[j][2] || env[j][0] > env[i][2] || env[i][1] > env[j][3] ||
         env[j][1] > env[i][3])
        continue;
      GEOSGeometry *x = GEOSIntersection_r(ctx, g[i], g[j]);
      assert_true(area_of(ctx, x) < 1e-12);
      GEOSGeom_destroy_r(ctx, x);
    }
  GEOSGeometry *all = GEOSGeom_createCollection_r(ctx, GEOS_GEOMETRYCOLLECTION, bufs,
                                                  (unsigned)n);
  GEOSGeometry *u = GEOSUnaryUnion_r(ctx, all);
  double covered = area_of(ctx, u);
  /* slivers under 1e-4 of a buffer may go: far less than this */
  assert_true(fabs(sum - covered) < 1e-3 * covered);
  GEOSGeom_destroy_r(ctx, u);
  GEOSGeom_destroy_r(ctx, all); /* took the buffers */
  free(bufs);
  for(size_t i = 0; i < m; i++)
    GEOSGeom_destroy_r(ctx, g[i]);
  free(g);
  free(env);
  seqbuffer_free(&b);
  GEOS_finish_r(ctx);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_parse_width),
    cmocka_unit_test(test_contained_buffer_is_dropped),
    cmocka_unit_test(test_overlap_is_clipped_from_the_shorter),
    cmocka_unit_test(test_length_property_ranks),
    cmocka_unit_test(test_ties_go_by_sequence_id),
    cmocka_unit_test(test_equal_buffers_keep_one),
    cmocka_unit_test(test_metres_and_degrees),
    cmocka_unit_test(test_metres_part_of_a_road_is_within),
    cmocka_unit_test(test_winding_and_holes),
    cmocka_unit_test(test_skipped_and_broken),
    cmocka_unit_test(test_repeatable_and_disjoint),
    cmocka_unit_test(test_many_buffers_past_the_prepared_kept),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  forget_results();
  return failed;
}
