/* test_paths.c -- unit tests of job_output_path(): geokit's --field_name and --split_pano naming */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mly/job.h"

static void check(const char *path, const char *value, int cls, const char *want)
{
  char *got = job_output_path(path, value, cls);
  assert_non_null(got);
  if(strcmp(got, want) != 0)
    fail_msg("job_output_path(\"%s\", %s%s%s, %d) = \"%s\", want \"%s\"", path,
             value ? "\"" : "", value ? value : "NULL", value ? "\"" : "", cls, got, want);
  free(got);
}

static void test_plain_path_unchanged(void **state)
{
  (void)state;
  check("mapillary_points.geojson", NULL, JOB_CLASS_ALL, "mapillary_points.geojson");
  check("out/dir/points.geojson", NULL, JOB_CLASS_ALL, "out/dir/points.geojson");
  check("/abs/points.json", NULL, JOB_CLASS_ALL, "/abs/points.json");
}

static void test_field_value_prefixes_basename(void **state)
{
  (void)state;
  /* geokit: <dir>/<value>_<basename> */
  check("out/points.geojson", "area1", JOB_CLASS_ALL, "out/area1_points.geojson");
  check("points.geojson", "area1", JOB_CLASS_ALL, "area1_points.geojson");
  check("/data/x/seq.geojson", "12", JOB_CLASS_ALL, "/data/x/12_seq.geojson");
  check("/seq.geojson", "a_b", JOB_CLASS_ALL, "/a_b_seq.geojson");
  /* the folder part keeps its dots; only the basename gets the prefix */
  check("run.v2/points.geojson", "z", JOB_CLASS_ALL, "run.v2/z_points.geojson");
}

static void test_split_pano_names(void **state)
{
  (void)state;
  check("out/points.geojson", NULL, JOB_CLASS_PANO, "out/points__pano.geojson");
  check("out/points.geojson", NULL, JOB_CLASS_NO_PANO, "out/points__no__pano.geojson");
  check("points.geojson", NULL, JOB_CLASS_PANO, "points__pano.geojson");
  /* the stem is the path without a final ".geojson" only */
  check("out/points.json", NULL, JOB_CLASS_PANO, "out/points__pano.json");
  check("out/points", NULL, JOB_CLASS_NO_PANO, "out/points__no__pano.geojson");
  check("out/a.geojson.geojson", NULL, JOB_CLASS_PANO, "out/a.geojson__pano.geojson");
  check("x.geojson/points", NULL, JOB_CLASS_PANO, "x.geojson/points__pano.geojson");
}

static void test_field_value_and_split(void **state)
{
  (void)state;
  check("out/points.geojson", "area1", JOB_CLASS_PANO, "out/area1_points__pano.geojson");
  check("out/points.geojson", "area1", JOB_CLASS_NO_PANO, "out/area1_points__no__pano.geojson");
  check("seq.geojson", "v", JOB_CLASS_NO_PANO, "v_seq__no__pano.geojson");
}

static void test_all_names_distinct(void **state)
{
  (void)state;
  /* the three classes of one path never collide */
  char *a = job_output_path("o/p.geojson", "g", JOB_CLASS_ALL);
  char *b = job_output_path("o/p.geojson", "g", JOB_CLASS_PANO);
  char *c = job_output_path("o/p.geojson", "g", JOB_CLASS_NO_PANO);
  assert_non_null(a);
  assert_non_null(b);
  assert_non_null(c);
  assert_string_not_equal(a, b);
  assert_string_not_equal(a, c);
  assert_string_not_equal(b, c);
  free(a);
  free(b);
  free(c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_plain_path_unchanged),
    cmocka_unit_test(test_field_value_prefixes_basename),
    cmocka_unit_test(test_split_pano_names),
    cmocka_unit_test(test_field_value_and_split),
    cmocka_unit_test(test_all_names_distinct),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
