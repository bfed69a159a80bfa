/* server_fixture.h -- unit-test fixture: a temp root and tests/integration/server.py as a child process
 *
 * Included by the unit tests that talk to the real test server over
 * loopback (test_fetch.c, test_imgurl.c). Needs cmocka, and MLY_SOURCE_DIR
 * defined by tests/CMakeLists.txt. */
#ifndef MLY_TEST_SERVER_FIXTURE_H
#define MLY_TEST_SERVER_FIXTURE_H

/* ---- fixture: a temp root and a server process ------------------------- */

struct fx {
  char dir[64];     /* temp dir */
  char root[128];   /* tiles */
  char log[128];    /* server request log */
  pid_t pid;
  int port;
  int cdn_port;     /* the image CDN's listener */
};

static int setup(void **state)
{
  struct fx *fx = calloc(1, sizeof(*fx));
  assert_non_null(fx);
  snprintf(fx->dir, sizeof(fx->dir), "/tmp/mly-unit-XXXXXX");
  assert_non_null(mkdtemp(fx->dir));
  snprintf(fx->root, sizeof(fx->root), "%s/root", fx->dir);
  snprintf(fx->log, sizeof(fx->log), "%s/server.log", fx->dir);
  assert_int_equal(mkdir(fx->root, 0700), 0);
  *state = fx;
  return 0;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
  return remove(p);
}

static void server_stop(struct fx *fx)
{
  if(fx->pid > 0) {
    kill(fx->pid, SIGTERM);
    for(int i = 0; i < 500; i++) { /* 5 s, then no more asking */
      if(waitpid(fx->pid, NULL, WNOHANG) == fx->pid) {
        fx->pid = 0;
        return;
      }
      usleep(10000);
    }
    kill(fx->pid, SIGKILL);
    waitpid(fx->pid, NULL, 0);
    fx->pid = 0;
  }
}

static int teardown(void **state)
{
  struct fx *fx = *state;
  server_stop(fx);
  nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(fx);
  return 0;
}

/* Start server.py with extra arguments (NULL-terminated); wait for its port */
static void server_start(struct fx *fx, const char *const *extra)
{
  char script[512], portfile[160], cdnfile[160];
  const char *argv[64];
  int n = 0;

  snprintf(script, sizeof(script), "%s/tests/integration/server.py", MLY_SOURCE_DIR);
  snprintf(portfile, sizeof(portfile), "%s/port", fx->dir);
  snprintf(cdnfile, sizeof(cdnfile), "%s/cport", fx->dir);
  unlink(portfile);
  unlink(cdnfile);
  argv[n++] = "python3";
  argv[n++] = script;
  argv[n++] = "--root";
  argv[n++] = fx->root;
  argv[n++] = "--port-file";
  argv[n++] = portfile;
  argv[n++] = "--log";
  argv[n++] = fx->log;
  argv[n++] = "--cdn-port-file";
  argv[n++] = cdnfile;
  argv[n++] = "--max-seconds";
  argv[n++] = "120";
  for(int i = 0; extra && extra[i] && n < 62; i++)
    argv[n++] = extra[i];
  argv[n] = NULL;

  pid_t pid = fork();
  assert_true(pid >= 0);
  if(pid == 0) {
    execvp("python3", (char *const *)argv);
    _exit(127);
  }
  fx->pid = pid;
  for(int i = 0; i < 1500; i++) { /* up to 15 s on a loaded machine */
    FILE *fp = fopen(portfile, "r");
    if(fp) {
      int ok = fscanf(fp, "%d", &fx->port);
      fclose(fp);
      if(ok == 1 && fx->port > 0) {
        /* the CDN's port file is written before the API's */
        fp = fopen(cdnfile, "r");
        assert_non_null(fp);
        assert_int_equal(fscanf(fp, "%d", &fx->cdn_port), 1);
        fclose(fp);
        return;
      }
    }
    if(waitpid(pid, NULL, WNOHANG) == pid) {
      fx->pid = 0;
      fail_msg("server.py exited before listening");
    }
    usleep(10000);
  }
  fail_msg("server.py did not write its port file");
}

static void mkdirs(const char *path)
{
  char tmp[512];
  snprintf(tmp, sizeof(tmp), "%s", path);
  for(char *p = tmp + 1; *p; p++)
    if(*p == '/') {
      *p = '\0';
      mkdir(tmp, 0700);
      *p = '/';
    }
  mkdir(tmp, 0700);
}

static void put_file(const char *path, const void *data, size_t n)
{
  char dir[512];
  snprintf(dir, sizeof(dir), "%s", path);
  char *slash = strrchr(dir, '/');
  assert_non_null(slash);
  *slash = '\0';
  mkdirs(dir);
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(data, 1, n, fp), n);
  assert_int_equal(fclose(fp), 0);
}

static void put_root_file(struct fx *fx, const char *name, const char *text)
{
  char p[512];
  snprintf(p, sizeof(p), "%s/%s", fx->root, name);
  put_file(p, text, strlen(text));
}

#endif
