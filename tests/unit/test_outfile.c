/* test_outfile.c -- unit tests of complete-or-absent output files (temp file + rename) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "mly/outfile.h"

/* ---- helpers: a scratch folder per test ------------------------------------ */

static int setup_dir(void **state)
{
  const char *base = getenv("TMPDIR");
  char tmpl[512];
  snprintf(tmpl, sizeof(tmpl), "%s/mly-test-outfile-XXXXXX", base && *base ? base : "/tmp");
  char *d = mkdtemp(tmpl);
  if(!d)
    return -1;
  *state = strdup(d);
  return *state ? 0 : -1;
}

/* rm -r of the scratch folder (only what the tests made: files and folders) */
static void remove_tree(const char *path)
{
  struct stat st;
  if(lstat(path, &st) != 0)
    return;
  if(S_ISDIR(st.st_mode)) {
    DIR *dir = opendir(path);
    if(dir) {
      struct dirent *e;
      while((e = readdir(dir))) {
        if(!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
          continue;
        char sub[1024];
        snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
        remove_tree(sub);
      }
      closedir(dir);
    }
    rmdir(path);
  }
  else
    unlink(path);
}

static int teardown_dir(void **state)
{
  remove_tree(*state);
  free(*state);
  return 0;
}

static char *join(const char *dir, const char *name)
{
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  assert_non_null(p);
  snprintf(p, n, "%s/%s", dir, name);
  return p;
}

/* Number of entries in dir (without . and ..); *tmp counts those whose name
 * holds OUTFILE_TMP_TAG */
static int count_entries(const char *dir, int *tmp)
{
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  if(tmp)
    *tmp = 0;
  struct dirent *e;
  while((e = readdir(d))) {
    if(!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    n++;
    if(tmp && strstr(e->d_name, OUTFILE_TMP_TAG))
      (*tmp)++;
  }
  closedir(d);
  return n;
}

static char *slurp(const char *path)
{
  FILE *f = fopen(path, "rb");
  if(!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  assert_non_null(s);
  assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = '\0';
  fclose(f);
  return s;
}

static void write_file(const char *path, const char *text)
{
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fputs(text, f) >= 0, 1);
  assert_int_equal(fclose(f), 0);
}

static bool exists(const char *path)
{
  struct stat st;
  return stat(path, &st) == 0;
}

static const char FEAT1[] = "{\"type\":\"Feature\",\"geometry\":null,\"properties\":{\"n\":1}}";
static const char FEAT2[] = "{\"type\":\"Feature\",\"geometry\":null,\"properties\":{\"n\":2}}";

/* ---- tests ---------------------------------------------------------------- */

static void test_publish_writes_complete_collection(void **state)
{
  const char *dir = *state;
  char *path = join(dir, "points.geojson");
  struct outfile o;
  struct mly_err err = {0};
  assert_int_equal(outfile_open(&o, path, &err), MLY_OK);
  assert_int_equal(outfile_feature(&o, FEAT1, strlen(FEAT1), &err), MLY_OK);
  assert_int_equal(outfile_feature(&o, FEAT2, strlen(FEAT2), &err), MLY_OK);
  assert_int_equal(o.features, 2);
  assert_int_equal(outfile_close(&o, &err), MLY_OK);
  /* not there until published */
  assert_false(exists(path));
  assert_int_equal(outfile_publish(&o, &err), MLY_OK);
  outfile_abort(&o); /* after publish: only frees */
  assert_null(o.final_path);
  assert_null(o.tmp_path);

  char *text = slurp(path);
  assert_non_null(text);
  char want[512];
  snprintf(want, sizeof(want), "{\"type\":\"FeatureCollection\",\"features\":[\n%s,\n%s\n]}\n",
           FEAT1, FEAT2);
  assert_string_equal(text, want);
  json_error_t jerr;
  json_t *j = json_loads(text, 0, &jerr);
  assert_non_null(j);
  assert_int_equal(json_array_size(json_object_get(j, "features")), 2);
  json_decref(j);
  free(text);
  int tmp;
  assert_int_equal(count_entries(dir, &tmp), 1);
  assert_int_equal(tmp, 0);
  free(path);
}

static void test_empty_collection_is_valid_json(void **state)
{
  const char *dir = *state;
  char *path = join(dir, "empty.geojson");
  struct outfile o;
  assert_int_equal(outfile_open(&o, path, NULL), MLY_OK);
  assert_int_equal(outfile_close(&o, NULL), MLY_OK);
  assert_int_equal(outfile_publish(&o, NULL), MLY_OK);
  outfile_abort(&o);
  json_error_t jerr;
  json_t *j = json_load_file(path, 0, &jerr);
  assert_non_null(j);
  assert_string_equal(json_string_value(json_object_get(j, "type")), "FeatureCollection");
  assert_true(json_is_array(json_object_get(j, "features")));
  assert_int_equal(json_array_size(json_object_get(j, "features")), 0);
  json_decref(j);
  free(path);
}

static void test_temp_file_beside_target(void **state)
{
  const char *dir = *state;
  char *path = join(dir, "seq.geojson");
  struct outfile o;
  assert_int_equal(outfile_open(&o, path, NULL), MLY_OK);
  assert_non_null(o.tmp_path);
  assert_non_null(strstr(o.tmp_path, OUTFILE_TMP_TAG));
  assert_non_null(strstr(o.tmp_path, ".mly-tmp-"));
  /* same folder, so the final rename cannot cross file systems */
  assert_int_equal(strncmp(o.tmp_path, dir, strlen(dir)), 0);
  assert_null(strchr(o.tmp_path + strlen(dir) + 1, '/'));
  assert_true(exists(o.tmp_path));
  assert_false(exists(path));
  int tmp;
  assert_int_equal(count_entries(dir, &tmp), 1);
  assert_int_equal(tmp, 1);
  outfile_abort(&o);
  free(path);
}

static void test_abort_leaves_no_file(void **state)
{
  const char *dir = *state;
  char *path = join(dir, "points.geojson");
  struct outfile o;
  assert_int_equal(outfile_open(&o, path, NULL), MLY_OK);
  assert_int_equal(outfile_feature(&o, FEAT1, strlen(FEAT1), NULL), MLY_OK);
  outfile_abort(&o);
  assert_false(exists(path));
  assert_int_equal(count_entries(dir, NULL), 0);
  assert_null(o.fp);
  assert_null(o.tmp_path);
  assert_null(o.final_path);

  /* aborting after close (a later output failed) removes the temp file too */
  assert_int_equal(outfile_open(&o, path, NULL), MLY_OK);
  assert_int_equal(outfile_close(&o, NULL), MLY_OK);
  outfile_abort(&o);
  assert_false(exists(path));
  assert_int_equal(count_entries(dir, NULL), 0);
  free(path);
}

static void test_abort_keeps_previous_file(void **state)
{
  const char *dir = *state;
  char *path = join(dir, "points.geojson");
  write_file(path, "previous run\n");
  struct outfile o;
  assert_int_equal(outfile_open(&o, path, NULL), MLY_OK);
  assert_int_equal(outfile_feature(&o, FEAT1, strlen(FEAT1), NULL), MLY_OK);
  assert_int_equal(outfile_close(&o, NULL), MLY_OK);
  char *text = slurp(path);
  assert_string_equal(text, "previous run\n"); /* untouched while running */
  free(text);
  outfile_abort(&o);
  text = slurp(path);
  assert_non_null(text);
  assert_string_equal(text, "previous run\n");
  free(text);
  int tmp;
  assert_int_equal(count_entries(dir, &tmp), 1);
  assert_int_equal(tmp, 0);
  free(path);
}

static void test_publish_replaces_previous_file(void **state)
{
  const char *dir = *state;
  char *path = join(dir, "points.geojson");
  write_file(path, "previous run\n");
  struct stat before, after;
  assert_int_equal(stat(path, &before), 0);
  struct outfile o;
  assert_int_equal(outfile_open(&o, path, NULL), MLY_OK);
  assert_int_equal(outfile_feature(&o, FEAT2, strlen(FEAT2), NULL), MLY_OK);
  assert_int_equal(outfile_close(&o, NULL), MLY_OK);
  assert_int_equal(outfile_publish(&o, NULL), MLY_OK);
  outfile_abort(&o);
  /* a rename: another inode took the name, readers of the old one unharmed */
  assert_int_equal(stat(path, &after), 0);
  assert_true(before.st_ino != after.st_ino);
  char *text = slurp(path);
  assert_non_null(strstr(text, FEAT2));
  assert_null(strstr(text, "previous run"));
  free(text);
  int tmp;
  assert_int_equal(count_entries(dir, &tmp), 1);
  assert_int_equal(tmp, 0);
  free(path);
}

static void test_creates_missing_folders(void **state)
{
  const char *dir = *state;
  char *path = join(dir, "a/b/c/points.geojson");
  struct mly_err err = {0};
  assert_int_equal(outfile_prepare_dir(path, &err), MLY_OK);
  char *sub = join(dir, "a/b/c");
  struct stat st;
  assert_int_equal(stat(sub, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  /* preparing never creates the output itself */
  assert_false(exists(path));
  assert_int_equal(count_entries(sub, NULL), 0);

  char *path2 = join(dir, "x/y/seq.geojson");
  struct outfile o;
  assert_int_equal(outfile_open(&o, path2, &err), MLY_OK);
  assert_int_equal(outfile_close(&o, &err), MLY_OK);
  assert_int_equal(outfile_publish(&o, &err), MLY_OK);
  outfile_abort(&o);
  assert_true(exists(path2));
  free(path);
  free(path2);
  free(sub);
}

static void test_path_is_a_directory(void **state)
{
  const char *dir = *state;
  char *path = join(dir, "taken");
  assert_int_equal(mkdir(path, 0777), 0);
  struct mly_err err = {0};
  assert_int_equal(outfile_prepare_dir(path, &err), MLY_EIO);
  assert_int_equal(err.rc, MLY_EIO);
  assert_non_null(strstr(err.msg, "directory"));
  struct outfile o;
  memset(&err, 0, sizeof(err));
  assert_int_equal(outfile_open(&o, path, &err), MLY_EIO);
  assert_non_null(strstr(err.msg, path));
  outfile_abort(&o); /* harmless after a failed open */
  /* nothing left beside it either */
  assert_int_equal(count_entries(dir, NULL), 1);
  free(path);
}

static void test_parent_is_a_file(void **state)
{
  const char *dir = *state;
  char *file = join(dir, "plain");
  write_file(file, "x");
  char *path = join(dir, "plain/points.geojson");
  struct mly_err err = {0};
  assert_int_equal(outfile_prepare_dir(path, &err), MLY_EIO);
  assert_non_null(strstr(err.msg, "cannot create output folder"));
  struct outfile o;
  assert_int_equal(outfile_open(&o, path, &err), MLY_EIO);
  outfile_abort(&o);
  /* deeper: a file in the middle of the folder chain */
  char *deep = join(dir, "plain/sub/points.geojson");
  assert_int_equal(outfile_prepare_dir(deep, &err), MLY_EIO);
  char *text = slurp(file);
  assert_string_equal(text, "x");
  free(text);
  free(deep);
  free(path);
  free(file);
}

static void test_path_without_file_name(void **state)
{
  const char *dir = *state;
  /* refused up front, not at the final rename after all the fetching */
  const char *names[] = {"newdir/", "newdir/.", "newdir/.."};
  for(size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    char *path = join(dir, names[i]);
    struct mly_err err = {0};
    assert_int_equal(outfile_prepare_dir(path, &err), MLY_EIO);
    assert_non_null(strstr(err.msg, "no file name"));
    struct outfile o;
    assert_int_equal(outfile_open(&o, path, &err), MLY_EIO);
    outfile_abort(&o);
    free(path);
  }
  struct mly_err err = {0};
  assert_int_equal(outfile_prepare_dir("", &err), MLY_EIO);
  assert_int_equal(err.rc, MLY_EIO);
  /* nothing was created on the way */
  assert_int_equal(count_entries(dir, NULL), 0);
}

static void test_abort_on_zeroed_struct(void **state)
{
  (void)state;
  struct outfile o;
  memset(&o, 0, sizeof(o));
  outfile_abort(&o);
  outfile_abort(&o);
  assert_null(o.final_path);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_publish_writes_complete_collection, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_empty_collection_is_valid_json, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_temp_file_beside_target, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_abort_leaves_no_file, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_abort_keeps_previous_file, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_publish_replaces_previous_file, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_creates_missing_folders, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_path_is_a_directory, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_parent_is_a_file, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_path_without_file_name, setup_dir, teardown_dir),
    cmocka_unit_test(test_abort_on_zeroed_struct),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
