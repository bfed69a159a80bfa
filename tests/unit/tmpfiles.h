/* tmpfiles.h -- a scratch folder per test program and small file helpers
 * for the unit tests of the workflow modules (include after cmocka.h) */
#ifndef MLY_TEST_TMPFILES_H
#define MLY_TEST_TMPFILES_H

static char dir[256];

static int tmpdir_setup(void **state)
{
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/mly-test-wf-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int tmpdir_teardown(void **state)
{
  (void)state;
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd);
}

static char *path_of(const char *name)
{
  static char p[4][512];
  static int k;
  k = (k + 1) % 4;
  snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
  return p[k];
}

static void write_text(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static char *read_text(const char *path)
{
  FILE *f = fopen(path, "r");
  if(!f)
    return NULL;
  static char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

#endif
