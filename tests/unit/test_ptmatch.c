/* test_ptmatch.c -- match_point_sequences (ptmatch.h) on real files */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mly/ptmatch.h"
#include "tmpfiles.h"

#define SQUARE(x0, y0, x1, y1) \
  "{\"type\":\"Polygon\",\"coordinates\":[[[" #x0 "," #y0 "],[" #x1 "," #y0 "],[" #x1 "," #y1 "],[" #x0 "," #y1 "],[" #x0 "," #y0 "]]]}"
#define PT(id, seq, x, y)                                                                   \
  "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[" #x "," #y "]}," \
  "\"properties\":{\"id\":\"" id "\",\"sequence_id\":\"" seq "\"}}\n"

static void test_match(void **state)
{
  (void)state;
  /* a: two overlapping squares; b: a bow tie (invalid: made valid); a
   * polygon without a sequence_id and a line are skipped */
  write_text(path_of("polys.geojson"),
             "{\"type\":\"FeatureCollection\",\"features\":["
             "{\"type\":\"Feature\",\"properties\":{\"sequence_id\":\"a\"},\"geometry\":" SQUARE(0, 0, 2, 2) "},"
             "{\"type\":\"Feature\",\"properties\":{\"sequence_id\":\"a\"},\"geometry\":" SQUARE(1, 1, 3, 3) "},"
             "{\"type\":\"Feature\",\"properties\":{\"sequence_id\":\"b\"},\"geometry\":"
             "{\"type\":\"Polygon\",\"coordinates\":[[[10,10],[12,12],[12,10],[10,12],[10,10]]]}},"
             "{\"type\":\"Feature\",\"properties\":{},\"geometry\":" SQUARE(0, 0, 50, 50) "},"
             "{\"type\":\"Feature\",\"properties\":{\"sequence_id\":\"c\"},\"geometry\":"
             "{\"type\":\"LineString\",\"coordinates\":[[0,0],[1,1]]}}]}");
  write_text(path_of("points.geojsonl"),
             PT("1", "a", 1.5, 1.5)   /* in both of a's squares: written once */
             PT("2", "b", 1.5, 1.5)   /* in a's square, but of b: no */
             PT("3", "a", 2, 0.5)     /* on the first square's edge: yes */
             PT("4", "a", 2.5, 0.5)   /* outside: no */
             PT("5", "b", 10.5, 11)   /* in the bow tie's left lobe: yes */
             PT("6", "b", 11.5, 11)   /* right lobe: yes */
             PT("7", "b", 11, 11.5)   /* between the lobes: no */
             PT("8", "z", 1, 1)       /* a sequence without polygons: no */
             "{\"type\":\"Feature\",\"geometry\":null,\"properties\":{\"sequence_id\":\"a\"}}\n");
  struct ptmatch_opts o = {path_of("polys.geojson"), path_of("points.geojsonl"), path_of("out.csv"), NULL};
  struct ptmatch_stats st;
  struct mly_err err = {0};
  assert_int_equal(ptmatch_run(&o, &st, &err), MLY_OK);
  assert_string_equal(read_text(path_of("out.csv")),
                      "id,lon,lat,sequence_id,captured_at,compass_angle,is_pano,organization_id,properties\r\n"
                      "1,1.5000000,1.5000000,a,,,,,\r\n"
                      "3,2.0000000,0.5000000,a,,,,,\r\n"
                      "5,10.5000000,11.0000000,b,,,,,\r\n"
                      "6,11.5000000,11.0000000,b,,,,,\r\n");
  assert_int_equal(st.polygons, 5);
  assert_int_equal(st.polygons_skipped, 2);
  assert_int_equal(st.points, 9);
  assert_int_equal(st.points_skipped, 1);
  assert_int_equal(st.in_sequence, 7);
  assert_int_equal(st.matched, 4);
}

static void test_match_errors(void **state)
{
  (void)state;
  struct ptmatch_opts o = {"-", "-", path_of("o.geojson"), NULL};
  struct ptmatch_stats st;
  struct mly_err err = {0};
  write_text(path_of("p.geojson"), "{\"type\":\"FeatureCollection\",\"features\":[]}");
  o.polygons = path_of("p.geojson");
  o.points = path_of("missing.geojson");
  assert_int_equal(ptmatch_run(&o, &st, &err), MLY_EIO);
  assert_false(st.started);
  assert_null(read_text(path_of("o.geojson")));
  /* no polygons: nothing matches, an empty collection is written */
  o.points = path_of("p.geojson");
  assert_int_equal(ptmatch_run(&o, &st, &err), MLY_OK);
  assert_string_equal(read_text(path_of("o.geojson")), "{\"type\":\"FeatureCollection\",\"features\":[\n]}\n");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_match),
    cmocka_unit_test(test_match_errors),
  };
  return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
