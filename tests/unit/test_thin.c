/* test_thin.c -- simplify_points' thinning (thin.h) on real files */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mly/thin.h"

#include "tmpfiles.h"

/* A point feature (one line of a get_mapillary_points file) */
static int point(char *out, size_t cap, const char *id, const char *seq, long long t, double lon,
                 double lat)
{
  return snprintf(out, cap,
                  "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.7f,%.7f]},"
                  "\"properties\":{\"id\":\"%s\",\"sequence_id\":\"%s\",\"captured_at\":%lld}}",
                  lon, lat, id, seq, t);
}

/* The ids of the features of a FeatureCollection written one per line */
static char *ids_of(const char *text)
{
  static char ids[4096];
  ids[0] = 0;
  for(const char *p = text; (p = strstr(p, "\"id\":\"")); p += 6) {
    const char *e = strchr(p + 6, '"');
    if(ids[0])
      strcat(ids, ",");
    strncat(ids, p + 6, (size_t)(e - p - 6));
  }
  return ids;
}

static enum mly_rc thin(const char *in, const char *out, double d, size_t max_points,
                        struct thin_stats *st, struct mly_err *err)
{
  struct thin_opts o = {in, out, d, max_points, NULL};
  return thin_points(&o, st, err);
}

/* Along a meridian at the equator, 0.00002 degrees is 2.2115 m: with 5 m,
 * every third point is kept; the order is captured_at, not input order;
 * the second sequence starts again with its first point (geokit did not) */
static void test_thin_sequences(void **state)
{
  (void)state;
  char text[1 << 14], f[512];
  strcpy(text, "{\"type\":\"FeatureCollection\",\"features\":[\n");
  /* input order: sequence b first, a's points in reverse time order */
  const int order[] = {100, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 101};
  for(size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
    int i = order[k];
    char id[16];
    snprintf(id, sizeof(id), "%d", i);
    if(i >= 100) /* b: right beside a's last point, 10 m apart */
      point(f, sizeof(f), id, "b", i, 0, 0.00018 + (i - 100) * 0.00009);
    else
      point(f, sizeof(f), id, "a", 1000 + i, 0, i * 0.00002);
    strcat(text, k ? ",\n" : "");
    strcat(text, f);
  }
  strcat(text, "\n]}\n");
  write_text(path_of("in.geojson"), text);
  struct thin_stats st;
  struct mly_err err = {0};
  assert_int_equal(thin(path_of("in.geojson"), path_of("out.geojson"), 5, 0, &st, &err), MLY_OK);
  /* kept: a's 0, 3, 6, 9 and both of b's, in input order */
  assert_string_equal(ids_of(read_text(path_of("out.geojson"))), "100,9,6,3,0,101");
  assert_int_equal(st.points, 12);
  assert_int_equal(st.kept, 6);
  assert_int_equal(st.sequences, 2);
  /* the features are written unchanged: each output line is an input line */
  char *out = read_text(path_of("out.geojson"));
  char *line = strtok(out, "\n");
  int lines = 0;
  while((line = strtok(NULL, "\n"))) {
    size_t n = strlen(line);
    if(line[n - 1] == ',')
      line[n - 1] = 0;
    if(strcmp(line, "]}") != 0) {
      assert_non_null(strstr(text, line));
      lines++;
    }
  }
  assert_int_equal(lines, 6);
  /* spilling sorted runs to disk (4 points in memory) writes the same bytes */
  char first[1 << 14];
  strcpy(first, read_text(path_of("out.geojson")));
  assert_int_equal(thin(path_of("in.geojson"), path_of("out2.geojson"), 5, 4, &st, &err), MLY_OK);
  assert_string_equal(read_text(path_of("out2.geojson")), first);
  /* distance 0 keeps every point; a huge distance one per sequence */
  assert_int_equal(thin(path_of("in.geojson"), path_of("out3.geojson"), 0, 0, &st, &err), MLY_OK);
  assert_int_equal(st.kept, 12);
  assert_int_equal(thin(path_of("in.geojson"), path_of("out3.geojson"), 1e6, 0, &st, &err), MLY_OK);
  assert_string_equal(ids_of(read_text(path_of("out3.geojson"))), "100,0");
}

/* Metres, not Web Mercator units: at latitude 60, points 3 m apart are
 * 6 Web Mercator units apart; with 5 m every other one is kept (geokit
 * would keep all). Ties in captured_at go by id as integers (9 < 10). */
static void test_thin_metres_and_ids(void **state)
{
  (void)state;
  char text[1 << 14], f[512];
  text[0] = 0;
  double step = 3.0 / 111412.0; /* degrees of latitude per 3 m at 60N */
  for(int i = 0; i < 6; i++) {
    char id[16];
    snprintf(id, sizeof(id), "%d", 5 + i); /* 5..10: as strings "10" < "5" */
    point(f, sizeof(f), id, "s", 7, 10, 60 + i * step);
    strcat(text, f);
    strcat(text, "\n");
  }
  strcat(text, "{\"type\":\"Feature\",\"geometry\":null,\"properties\":{\"id\":\"x\",\"sequence_id\":\"s\"}}\n");
  write_text(path_of("in.geojsonl"), text);
  struct thin_stats st;
  struct mly_err err = {0};
  assert_int_equal(thin(path_of("in.geojsonl"), path_of("out.geojsonl"), 5, 0, &st, &err), MLY_OK);
  assert_string_equal(ids_of(read_text(path_of("out.geojsonl"))), "5,7,9");
  assert_int_equal(st.skipped, 1);
}

/* Broken input: the reader's message, and no output file */
static void test_thin_errors(void **state)
{
  (void)state;
  write_text(path_of("bad.geojson"), "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\","
             "\"geometry\":null,\"properties\":{}},\n{]}");
  struct thin_stats st;
  struct mly_err err = {0};
  assert_int_equal(thin(path_of("bad.geojson"), path_of("o.geojson"), 5, 0, &st, &err), MLY_EFORMAT);
  assert_true(st.started);
  assert_non_null(strstr(err.msg, "bad.geojson: feature 1: invalid JSON at line 2"));
  assert_null(read_text(path_of("o.geojson")));
  assert_int_equal(thin(path_of("none.geojson"), path_of("o.geojson"), 5, 0, &st, &err), MLY_EIO);
  assert_false(st.started);
  write_text(path_of("empty.geojson"), "");
  assert_int_equal(thin(path_of("empty.geojson"), path_of("o.geojson"), 5, 0, &st, &err), MLY_EFORMAT);
  assert_false(st.started);
  assert_string_equal(err.msg, strcat(path_of("empty.geojson"), ": empty input: no GeoJSON"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_thin_sequences),
    cmocka_unit_test(test_thin_metres_and_ids),
    cmocka_unit_test(test_thin_errors),
  };
  return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
