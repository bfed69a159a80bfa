/* test_paths.c -- unit tests of job_output_path() (geokit's --field_name and --split_pano naming)
 * and of paths.h (paths compared as files) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <cmocka.h>

#include "mly/job.h"
#include "mly/paths.h"

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

/* ---- paths.h: the same file however it is spelled ---------------------------- */

static char scratch[512];

static int setup_scratch(void **state)
{
  (void)state;
  const char *base = getenv("TMPDIR");
  snprintf(scratch, sizeof(scratch), "%s/mly-test-paths-XXXXXX", base && *base ? base : "/tmp");
  if(!mkdtemp(scratch))
    return -1;
  /* relative spellings are relative to the scratch folder */
  return chdir(scratch);
}

static int teardown_scratch(void **state)
{
  (void)state;
  const char *names[] = {"a.geojson", "hard.geojson", "link.geojson", "null", "sub/x", "sub"};
  for(size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if(unlink(names[i]) != 0)
      (void)rmdir(names[i]);
  (void)chdir("/");
  return rmdir(scratch);
}

static void touch(const char *path)
{
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fclose(f);
}

/* uses a (written) and b (written or read): refused? */
static bool clash(const char *a, const char *b, bool b_written)
{
  struct paths_use u[2] = {{a, "--output_file_point", true}, {b, "--other", b_written}};
  struct mly_err err = {0};
  enum mly_rc rc = paths_check_distinct(u, 2, &err);
  if(rc) {
    assert_int_equal(rc, MLY_EINVAL);
    assert_non_null(strstr(err.msg, "same file"));
    assert_non_null(strstr(err.msg, "--other"));
  }
  return rc != MLY_OK;
}

static void test_same_file_spellings(void **state)
{
  (void)state;
  assert_int_equal(mkdir("sub", 0777), 0);
  /* not there yet: folder plus name */
  assert_true(clash("a.geojson", "./a.geojson", true));
  assert_true(clash("a.geojson", "sub/../a.geojson", true));
  assert_true(clash("a.geojson", "sub/new/../../a.geojson", true));
  char abs[600];
  snprintf(abs, sizeof(abs), "%s/a.geojson", scratch);
  assert_true(clash("a.geojson", abs, true));
  assert_true(clash("sub//x", "./sub/x", false));
  assert_false(clash("a.geojson", "sub/a.geojson", true));
  assert_false(clash("a.geojson", "a.geojsonl", true));
  /* there: device and inode, through hard links and symlinks */
  touch("a.geojson");
  assert_int_equal(link("a.geojson", "hard.geojson"), 0);
  assert_int_equal(symlink("a.geojson", "link.geojson"), 0);
  assert_true(clash("a.geojson", "./a.geojson", false));
  assert_true(clash("hard.geojson", "a.geojson", false));
  assert_true(clash("a.geojson", "link.geojson", true));
  assert_true(paths_same_file("link.geojson", abs));
  assert_false(paths_same_file("link.geojson", "sub/x"));
}

static void test_reads_stdio_and_devices(void **state)
{
  (void)state;
  touch("a.geojson");
  /* two reads of one file are fine, a read and a write are not */
  struct paths_use reads[3] = {{"a.geojson", "--a", false}, {"./a.geojson", "--b", false},
                               {"-", "--input_aoi", false}};
  struct mly_err err = {0};
  assert_int_equal(paths_check_distinct(reads, 3, &err), MLY_OK);
  /* "-" read is standard input, "-" written standard output */
  assert_false(clash("-", "-", false));
  assert_true(clash("-", "-", true));
  /* one character device may take several outputs: nothing is overwritten */
  if(mknod("null", S_IFCHR | 0666, makedev(1, 3)) == 0) {
    assert_false(clash("null", "./null", true));
    assert_true(clash("null", "./null", false)); /* but never an input too */
  }
  else
    print_message("not root: no character device case\n");
  assert_int_equal(paths_check_distinct(NULL, 0, &err), MLY_OK);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_plain_path_unchanged),
    cmocka_unit_test(test_field_value_prefixes_basename),
    cmocka_unit_test(test_split_pano_names),
    cmocka_unit_test(test_field_value_and_split),
    cmocka_unit_test(test_all_names_distinct),
    cmocka_unit_test_setup_teardown(test_same_file_spellings, setup_scratch, teardown_scratch),
    cmocka_unit_test_setup_teardown(test_reads_stdio_and_devices, setup_scratch, teardown_scratch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
