/* test_imgurl.c -- batched thumbnail URL lookup against tests/integration/server.py */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "mly/imgurl.h"

#define TOKEN "MLY|img s3cret"

#include "server_fixture.h"

/* ---- pure pieces -------------------------------------------------------- */

static void test_imgurl_sizes_and_fields(void **state)
{
  enum imgurl_size s;
  assert_true(imgurl_size_parse("256", &s) && s == IMGURL_SIZE_256);
  assert_true(imgurl_size_parse("1024", &s) && s == IMGURL_SIZE_1024);
  assert_true(imgurl_size_parse("2048", &s) && s == IMGURL_SIZE_2048);
  assert_true(imgurl_size_parse("original", &s) && s == IMGURL_SIZE_ORIGINAL);
  assert_false(imgurl_size_parse("512", &s));
  assert_false(imgurl_size_parse("", &s));
  assert_false(imgurl_size_parse(NULL, &s));
  assert_string_equal(imgurl_size_field(IMGURL_SIZE_ORIGINAL), "thumb_original_url");
  assert_string_equal(imgurl_size_field(IMGURL_SIZE_2048), "thumb_2048_url");
  assert_true(imgurl_fields_valid("make,model"));
  assert_true(imgurl_fields_valid("computed_geometry,creator{username}"));
  assert_false(imgurl_fields_valid("make,,model"));
  assert_false(imgurl_fields_valid("make,"));
  assert_false(imgurl_fields_valid(""));
  assert_false(imgurl_fields_valid("make&access_token=x"));
  assert_false(imgurl_fields_valid("Make"));
  assert_false(imgurl_fields_valid("a b"));
}

/* ---- against the server ------------------------------------------------- */

struct got {
  size_t n;
  int *calls;              /* hits per index */
  enum imgurl_state *state;
  char **url;
  char **why;
  char **make;             /* extra field, when asked */
  size_t stop_after;       /* a callback error after this many hits (0: never) */
  size_t hits;
};

static struct got *got_new(size_t n)
{
  struct got *g = calloc(1, sizeof(*g));
  assert_non_null(g);
  g->n = n;
  g->calls = calloc(n, sizeof(int));
  g->state = calloc(n, sizeof(*g->state));
  g->url = calloc(n, sizeof(char *));
  g->why = calloc(n, sizeof(char *));
  g->make = calloc(n, sizeof(char *));
  assert_true(g->calls && g->state && g->url && g->why && g->make);
  return g;
}

static void got_free(struct got *g)
{
  for(size_t i = 0; i < g->n; i++) {
    free(g->url[i]);
    free(g->why[i]);
    free(g->make[i]);
  }
  free(g->calls);
  free(g->state);
  free(g->url);
  free(g->why);
  free(g->make);
  free(g);
}

static enum mly_rc on_hit(void *user, const struct imgurl_hit *h)
{
  struct got *g = user;
  size_t i = (size_t)(uintptr_t)h->item;
  assert_true(i < g->n);
  g->calls[i]++;
  g->state[i] = h->state;
  if(h->url) {
    free(g->url[i]);
    g->url[i] = strdup(h->url);
    assert_non_null(h->entity);
    json_t *m = json_object_get(h->entity, "make");
    if(json_is_string(m))
      g->make[i] = strdup(json_string_value(m));
  }
  else {
    assert_null(h->entity);
    assert_non_null(h->why);
    free(g->why[i]);
    g->why[i] = strdup(h->why);
  }
  g->hits++;
  if(g->stop_after && g->hits >= g->stop_after)
    return MLY_EINVAL;
  return MLY_OK;
}

static struct fetch_opts fopts(void)
{
  struct fetch_opts o = {.concurrency = 4, .retries = 4, .timeout_s = 20, .max_body = 1 << 20,
                         .token = TOKEN, .backoff_ms = 5};
  return o;
}

static uint64_t *ids_from(uint64_t first, size_t n)
{
  uint64_t *ids = malloc(n * sizeof(*ids));
  assert_non_null(ids);
  for(size_t i = 0; i < n; i++)
    ids[i] = first + i;
  return ids;
}

/* Requests in the server log whose path is `path` (and, if q, whose query
 * holds q): how many, and whether any came without the header */
static int logged(struct fx *fx, const char *path, const char *q, bool *no_auth)
{
  FILE *fp = fopen(fx->log, "r");
  int n = 0;
  char line[8192];
  if(!fp)
    return 0;
  while(fgets(line, sizeof(line), fp)) {
    json_t *j = json_loads(line, 0, NULL);
    assert_non_null(j);
    const char *p = json_string_value(json_object_get(j, "path"));
    const char *qq = json_string_value(json_object_get(j, "query"));
    if(p && strcmp(p, path) == 0 && (!q || (qq && strstr(qq, q)))) {
      n++;
      if(no_auth && !json_is_true(json_object_get(j, "auth_header")))
        *no_auth = true;
    }
    json_decref(j);
  }
  fclose(fp);
  return n;
}

static void graph_url(struct fx *fx, char *out, size_t cap)
{
  snprintf(out, cap, "http://127.0.0.1:%d/graph/", fx->port); /* trailing '/' is dropped */
}

/* 120 ids in the documented batch form: 3 requests of at most 50; a
 * deleted id and one without the size are unavailable, the rest found with
 * a link to the CDN, each id answered exactly once */
static void test_imgurl_batch_form_answers_each_id_once(void **state)
{
  struct fx *fx = *state;
  put_root_file(fx, "graph/images.json", "{\"deleted\":[1005],\"no_size\":{\"2048\":[1007]}}");
  const char *args[] = {"--token", TOKEN, NULL};
  server_start(fx, args);
  char gu[128], cdn[64];
  graph_url(fx, gu, sizeof(gu));
  snprintf(cdn, sizeof(cdn), "http://127.0.0.1:%d/cdn/", fx->cdn_port);
  enum { N = 120 };
  uint64_t *ids = ids_from(1000, N);
  struct got *g = got_new(N);
  struct imgurl_opts o = {.graph_url = gu, .size = IMGURL_SIZE_2048, .fields = "make"};
  struct fetch_opts fo = fopts();
  struct mly_err err = {0};
  assert_int_equal(imgurl_lookup(&fo, &o, ids, N, on_hit, g, NULL, &err), MLY_OK);
  for(size_t i = 0; i < N; i++) {
    assert_int_equal(g->calls[i], 1);
    if(ids[i] == 1005) {
      assert_int_equal(g->state[i], IMGURL_UNAVAILABLE);
      assert_string_equal(g->why[i], "not found (deleted or private)");
    }
    else if(ids[i] == 1007) {
      assert_int_equal(g->state[i], IMGURL_UNAVAILABLE);
      assert_string_equal(g->why[i], "no thumb_2048_url");
    }
    else {
      assert_int_equal(g->state[i], IMGURL_FOUND);
      assert_ptr_equal(strstr(g->url[i], cdn), g->url[i]);
      char want[64];
      snprintf(want, sizeof(want), "/cdn/%llu/2048.jpg?", (unsigned long long)ids[i]);
      assert_non_null(strstr(g->url[i], want));
      assert_string_equal(g->make[i], "TestCam");
    }
  }
  bool no_auth = false;
  assert_int_equal(logged(fx, "/graph", "fields=id,thumb_2048_url,make", &no_auth), 3);
  assert_false(no_auth);
  assert_int_equal(logged(fx, "/graph", NULL, NULL), 3); /* nothing else asked */
  got_free(g);
  free(ids);
}

/* A server that refuses a whole batch for one unknown id (as Facebook's
 * Graph does): the batch is halved down to the culprit, which is asked
 * alone, found missing, and called unavailable; the others are found; the
 * batch form stays in use */
static void test_imgurl_strict_batch_isolates_the_unknown_id(void **state)
{
  struct fx *fx = *state;
  put_root_file(fx, "graph/images.json", "{\"deleted\":[2033]}");
  const char *args[] = {"--token", TOKEN, "--graph-ids", "strict", NULL};
  server_start(fx, args);
  char gu[128];
  graph_url(fx, gu, sizeof(gu));
  enum { N = 100 };
  uint64_t *ids = ids_from(2000, N);
  struct got *g = got_new(N);
  struct imgurl_opts o = {.graph_url = gu, .size = IMGURL_SIZE_1024};
  struct fetch_opts fo = fopts();
  struct mly_err err = {0};
  assert_int_equal(imgurl_lookup(&fo, &o, ids, N, on_hit, g, NULL, &err), MLY_OK);
  for(size_t i = 0; i < N; i++) {
    assert_int_equal(g->calls[i], 1);
    assert_int_equal(g->state[i], ids[i] == 2033 ? IMGURL_UNAVAILABLE : IMGURL_FOUND);
  }
  /* 2 batches + halving one batch of 50 (at most 2 per level, 6 levels) */
  int batch = logged(fx, "/graph", "ids=", NULL);
  assert_true(batch >= 2 + 6 && batch <= 2 + 12);
  assert_int_equal(logged(fx, "/graph/2033", NULL, NULL), 1);
  assert_int_equal(logged(fx, "/graph/images", NULL, NULL), 0);
  got_free(g);
  free(ids);
}

/* A server without the batch form: the lookup learns it from a lone id
 * found alone, then asks /images?image_ids= */
static void test_imgurl_refused_batch_form_falls_back_to_images(void **state)
{
  struct fx *fx = *state;
  put_root_file(fx, "graph/images.json", "{\"deleted\":[3010]}");
  const char *args[] = {"--token", TOKEN, "--graph-ids", "refuse", NULL};
  server_start(fx, args);
  char gu[128];
  graph_url(fx, gu, sizeof(gu));
  enum { N = 200 };
  uint64_t *ids = ids_from(3000, N);
  struct got *g = got_new(N);
  struct imgurl_opts o = {.graph_url = gu, .size = IMGURL_SIZE_256};
  struct fetch_opts fo = fopts();
  fo.concurrency = 1; /* the order of learning is then fixed */
  struct mly_err err = {0};
  assert_int_equal(imgurl_lookup(&fo, &o, ids, N, on_hit, g, NULL, &err), MLY_OK);
  for(size_t i = 0; i < N; i++) {
    assert_int_equal(g->calls[i], 1);
    assert_int_equal(g->state[i], ids[i] == 3010 ? IMGURL_UNAVAILABLE : IMGURL_FOUND);
  }
  assert_int_equal(logged(fx, "/graph", "ids=", NULL), 6); /* 50, 25, 13, 7, 4, 2 */
  int images = logged(fx, "/graph/images", "image_ids=", NULL);
  assert_true(images >= 4 && images <= 8);
  got_free(g);
  free(ids);
}

/* Neither batch form: one id at a time, and unknown ids are unavailable */
static void test_imgurl_no_batch_forms_asks_one_at_a_time(void **state)
{
  struct fx *fx = *state;
  put_root_file(fx, "graph/images.json", "{\"deleted\":[4003]}");
  const char *args[] = {"--token", TOKEN, "--graph-ids", "refuse", "--graph-images", "refuse",
                        NULL};
  server_start(fx, args);
  char gu[128];
  graph_url(fx, gu, sizeof(gu));
  enum { N = 60 };
  uint64_t *ids = ids_from(4000, N);
  struct got *g = got_new(N);
  struct imgurl_opts o = {.graph_url = gu, .size = IMGURL_SIZE_ORIGINAL, .batch = 20};
  struct fetch_opts fo = fopts();
  struct mly_err err = {0};
  assert_int_equal(imgurl_lookup(&fo, &o, ids, N, on_hit, g, NULL, &err), MLY_OK);
  for(size_t i = 0; i < N; i++) {
    assert_int_equal(g->calls[i], 1);
    assert_int_equal(g->state[i], ids[i] == 4003 ? IMGURL_UNAVAILABLE : IMGURL_FOUND);
    if(g->url[i])
      assert_non_null(strstr(g->url[i], "/original.jpg?"));
  }
  assert_int_equal(logged(fx, "/graph/4059", "fields=id,thumb_original_url", NULL), 1);
  got_free(g);
  free(ids);
}

/* Transient faults are retried; a request that keeps failing gives FAILED
 * hits for its ids only, not a stopped lookup */
static void test_imgurl_faults_retry_then_fail_only_those_ids(void **state)
{
  struct fx *fx = *state;
  const char *args[] = {"--token", TOKEN, "--fail-rate", "0.3", "--truncate-rate", "0.1",
                        "--fault-seed", "11", NULL};
  server_start(fx, args);
  char gu[128];
  graph_url(fx, gu, sizeof(gu));
  enum { N = 300 };
  uint64_t *ids = ids_from(5000, N);
  struct got *g = got_new(N);
  struct imgurl_opts o = {.graph_url = gu, .size = IMGURL_SIZE_1024, .batch = 10};
  struct fetch_opts fo = fopts();
  fo.retries = 6;
  struct mly_err err = {0};
  assert_int_equal(imgurl_lookup(&fo, &o, ids, N, on_hit, g, NULL, &err), MLY_OK);
  for(size_t i = 0; i < N; i++) {
    assert_int_equal(g->calls[i], 1);
    assert_int_equal(g->state[i], IMGURL_FOUND);
  }
  got_free(g);
  server_stop(fx);

  const char *always[] = {"--token", TOKEN, "--fail-rate", "1", NULL};
  server_start(fx, always);
  graph_url(fx, gu, sizeof(gu));
  g = got_new(N);
  fo.retries = 2;
  assert_int_equal(imgurl_lookup(&fo, &o, ids, 30, on_hit, g, NULL, &err), MLY_OK);
  for(size_t i = 0; i < 30; i++) {
    assert_int_equal(g->calls[i], 1);
    assert_int_equal(g->state[i], IMGURL_FAILED);
    assert_string_equal(g->why[i], "request failed after 2 attempts: HTTP 500");
  }
  got_free(g);
  free(ids);
}

/* A wrong token stops at once with MLY_EAUTH; a callback error stops too */
static void test_imgurl_bad_token_and_callback_stop(void **state)
{
  struct fx *fx = *state;
  const char *args[] = {"--token", "another one", NULL};
  server_start(fx, args);
  char gu[128];
  graph_url(fx, gu, sizeof(gu));
  enum { N = 120 };
  uint64_t *ids = ids_from(6000, N);
  struct got *g = got_new(N);
  struct imgurl_opts o = {.graph_url = gu, .size = IMGURL_SIZE_1024};
  struct fetch_opts fo = fopts();
  struct mly_err err = {0};
  assert_int_equal(imgurl_lookup(&fo, &o, ids, N, on_hit, g, NULL, &err), MLY_EAUTH);
  assert_non_null(strstr(err.msg, "190"));
  assert_null(strstr(err.msg, "s3cret"));
  assert_int_equal(g->hits, 0);
  got_free(g);
  server_stop(fx);

  const char *ok[] = {"--token", TOKEN, NULL};
  server_start(fx, ok);
  graph_url(fx, gu, sizeof(gu));
  g = got_new(N);
  g->stop_after = 7;
  assert_int_equal(imgurl_lookup(&fo, &o, ids, N, on_hit, g, NULL, &err), MLY_EINVAL);
  assert_int_equal(g->hits, 7);
  got_free(g);
  free(ids);
}

/* The streaming form: ids added as they come, a partial batch only once
 * flushed, requests mixed into the caller's own fetch run */
struct stream {
  struct imgurl *q;
  uint64_t next_id, last_id;
  int own_requests;
};

static int st_next(void *user, struct fetch_req *req)
{
  struct stream *s = user;
  while(!imgurl_ready(s->q) && s->next_id <= s->last_id) {
    assert_int_equal(imgurl_add(s->q, s->next_id, (void *)(uintptr_t)(s->next_id - 7000)), MLY_OK);
    s->next_id++;
  }
  if(s->next_id > s->last_id)
    imgurl_flush(s->q);
  return imgurl_next(s->q, req);
}

static enum fetch_verdict st_done(void *user, void *req_user, struct fetch_result *res)
{
  struct stream *s = user;
  return imgurl_done(s->q, req_user, res);
}

static void test_imgurl_streaming_holds_partial_batch_until_flushed(void **state)
{
  struct fx *fx = *state;
  const char *args[] = {"--token", TOKEN, NULL};
  server_start(fx, args);
  char gu[128];
  graph_url(fx, gu, sizeof(gu));
  struct got *g = got_new(75);
  struct imgurl_opts o = {.graph_url = gu, .size = IMGURL_SIZE_1024};
  struct imgurl *q = NULL;
  struct mly_err err = {0};
  assert_int_equal(imgurl_new(&o, on_hit, g, &q, &err), MLY_OK);
  struct fetch_req req;
  for(uint64_t id = 7000; id < 7049; id++)
    assert_int_equal(imgurl_add(q, id, (void *)(uintptr_t)(id - 7000)), MLY_OK);
  assert_false(imgurl_ready(q));
  assert_int_equal(imgurl_next(q, &req), 0);
  assert_int_equal(imgurl_pending(q), 49);
  struct stream s = {q, 7049, 7074, 0};
  struct fetch_opts fo = fopts();
  struct fetch *f = NULL;
  assert_int_equal(fetch_new(&fo, &f, &err), MLY_OK);
  struct fetch_source src = {.next = st_next, .done = st_done, .user = &s};
  assert_int_equal(fetch_run(f, &src, NULL, &err), MLY_OK);
  fetch_free(&f);
  assert_int_equal(imgurl_pending(q), 0);
  assert_int_equal(imgurl_get_stats(q)->requests, 2); /* 50 + 25 */
  for(size_t i = 0; i < 75; i++)
    assert_true(g->calls[i] == 1 && g->state[i] == IMGURL_FOUND);
  imgurl_free(&q);
  assert_null(q);
  got_free(g);
}

int main(void)
{
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_imgurl_sizes_and_fields),
    cmocka_unit_test_setup_teardown(test_imgurl_batch_form_answers_each_id_once, setup, teardown),
    cmocka_unit_test_setup_teardown(test_imgurl_strict_batch_isolates_the_unknown_id, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_imgurl_refused_batch_form_falls_back_to_images, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_imgurl_no_batch_forms_asks_one_at_a_time, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_imgurl_faults_retry_then_fail_only_those_ids, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_imgurl_bad_token_and_callback_stop, setup, teardown),
    cmocka_unit_test_setup_teardown(test_imgurl_streaming_holds_partial_batch_until_flushed,
                                    setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
