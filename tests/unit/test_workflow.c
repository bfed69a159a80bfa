/* test_workflow.c -- unit tests of the workflow commands' shared input: passes, progress, stop */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mly/workflow.h"

#define NFEAT 10000

/* A GeoJSONL file of NFEAT points in a fresh folder; the path into path */
static void make_input(char *path, size_t cap)
{
  char dir[] = "/tmp/mly-test-workflow-XXXXXX";
  assert_non_null(mkdtemp(dir));
  snprintf(path, cap, "%s/p.geojsonl", dir);
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  for(int i = 0; i < NFEAT; i++)
    fprintf(fp, "{\"type\":\"Feature\",\"properties\":{\"id\":%d},"
                "\"geometry\":{\"type\":\"Point\",\"coordinates\":[1,2]}}\n", i);
  assert_int_equal(fclose(fp), 0);
}

static void remove_input(const char *path)
{
  char dir[256];
  snprintf(dir, sizeof(dir), "%s", path);
  *strrchr(dir, '/') = '\0';
  unlink(path);
  rmdir(dir);
}

struct seen {
  uint64_t features, reports, last;
  char what[32];
  volatile sig_atomic_t stop;
};

static enum mly_rc count(void *user, const struct feature *f, struct mly_err *err)
{
  struct seen *s = user;
  (void)err;
  assert_int_equal(f->index, s->features);
  s->features++;
  return MLY_OK;
}

static void report(void *user, const char *what, uint64_t done)
{
  struct seen *s = user;
  s->reports++;
  s->last = done;
  snprintf(s->what, sizeof(s->what), "%s", what);
}

/* Progress every WF_EACH_STEP features, as `what`; none without p */
static void test_each_reports_progress(void **state)
{
  (void)state;
  char path[256];
  make_input(path, sizeof(path));
  struct seen s = {0};
  struct wf_progress p = {report, &s, &s.stop};
  struct wf_input in;
  struct mly_err err = {0};
  assert_int_equal(wf_input_init(&in, path, &err), MLY_OK);
  assert_int_equal(wf_each(&in, count, &s, &p, "reading", &err), MLY_OK);
  assert_int_equal(s.features, NFEAT);
  assert_int_equal(s.reports, NFEAT / WF_EACH_STEP);
  assert_int_equal(s.last, (NFEAT / WF_EACH_STEP) * WF_EACH_STEP);
  assert_string_equal(s.what, "reading");
  /* a second pass, without progress */
  memset(&s, 0, sizeof(s));
  assert_int_equal(wf_each(&in, count, &s, NULL, NULL, &err), MLY_OK);
  assert_int_equal(s.features, NFEAT);
  assert_int_equal(s.reports, 0);
  wf_input_cleanup(&in);
  remove_input(path);
}

/* A stop asked for ends the pass at the next step with MLY_ESTOP */
static void test_each_stops(void **state)
{
  (void)state;
  char path[256];
  make_input(path, sizeof(path));
  struct seen s = {0};
  s.stop = 1;
  struct wf_progress p = {report, &s, &s.stop};
  struct wf_input in;
  struct mly_err err = {0};
  wf_input_once(&in, path);
  assert_int_equal(wf_each(&in, count, &s, &p, "reading", &err), MLY_ESTOP);
  assert_string_equal(err.msg, "stopped");
  assert_int_equal(s.features, WF_EACH_STEP);
  wf_input_cleanup(&in);
  remove_input(path);
}

/* An input read once: no check ahead (a missing file fails in the pass),
 * and a second pass is refused */
static void test_once(void **state)
{
  (void)state;
  char path[256];
  make_input(path, sizeof(path));
  struct seen s = {0};
  struct wf_input in;
  struct mly_err err = {0};
  wf_input_once(&in, path);
  assert_int_equal(wf_each(&in, count, &s, NULL, NULL, &err), MLY_OK);
  assert_int_equal(s.features, NFEAT);
  assert_int_equal(wf_each(&in, count, &s, NULL, NULL, &err), MLY_EINVAL);
  assert_non_null(strstr(err.msg, "can be read only once"));
  assert_int_equal(s.features, NFEAT);
  wf_input_cleanup(&in);
  remove_input(path);
  wf_input_once(&in, path);
  assert_int_equal(wf_each(&in, count, &s, NULL, NULL, &err), MLY_EIO);
  assert_non_null(strstr(err.msg, "p.geojsonl"));
  assert_non_null(freopen("/dev/null", "r", stdin)); /* never a terminal's input */
  wf_input_once(&in, "-");
  struct featread *r = NULL;
  assert_int_equal(wf_input_open(&in, &r, &err), MLY_OK); /* standard input, not copied */
  assert_null(in.spool);
  featread_close(&r);
  assert_int_equal(wf_input_open(&in, &r, &err), MLY_EINVAL);
  assert_string_equal(err.msg, "standard input can be read only once");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_each_reports_progress),
    cmocka_unit_test(test_each_stops),
    cmocka_unit_test(test_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
