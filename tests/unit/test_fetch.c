/* test_fetch.c -- the fetcher against tests/integration/server.py run as a real child process */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zlib.h>

#include "mly/fetch.h"

#define TOKEN "MLY|s3cret tok/en"
#define TOKEN_ESC "MLY%7Cs3cret%20tok%2Fen"

#include "server_fixture.h"

static void put_tile(struct fx *fx, int z, int x, int y, const void *data, size_t n)
{
  char p[512];
  snprintf(p, sizeof(p), "%s/%d/%d/%d.mvt", fx->root, z, x, y);
  put_file(p, data, n);
}

static void put_status(struct fx *fx, int z, int x, int y, const char *spec)
{
  char p[512];
  snprintf(p, sizeof(p), "%s/%d/%d/%d.status", fx->root, z, x, y);
  put_file(p, spec, strlen(spec));
}

/* Deterministic filler that looks like no gzip and no JSON */
static uint8_t *make_body(size_t n, uint32_t seed)
{
  uint8_t *b = malloc(n ? n : 1);
  assert_non_null(b);
  uint32_t s = seed * 2654435761u + 1;
  for(size_t i = 0; i < n; i++) {
    s = s * 1103515245u + 12345u;
    b[i] = (uint8_t)(s >> 16);
  }
  if(n)
    b[0] = 0x1a; /* an MVT layer tag */
  return b;
}

static size_t gzip_bytes(const void *in, size_t n, uint8_t *out, size_t cap)
{
  z_stream zs;
  memset(&zs, 0, sizeof(zs));
  assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
                   Z_OK);
  zs.next_in = (Bytef *)in;
  zs.avail_in = (uInt)n;
  zs.next_out = out;
  zs.avail_out = (uInt)cap;
  assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
  size_t m = zs.total_out;
  deflateEnd(&zs);
  return m;
}

/* Requests made for a tile "z/x/y" (status < 0: any), from the server log */
static int log_count(struct fx *fx, const char *tile, int status)
{
  FILE *fp = fopen(fx->log, "r");
  if(!fp)
    return 0;
  char line[4096];
  int n = 0;
  while(fgets(line, sizeof(line), fp)) {
    json_t *o = json_loads(line, 0, NULL);
    assert_non_null(o);
    const char *t = json_string_value(json_object_get(o, "tile"));
    int st = (int)json_integer_value(json_object_get(o, "status"));
    if((!tile || (t && strcmp(t, tile) == 0)) && (status < 0 || st == status))
      n++;
    json_decref(o);
  }
  fclose(fp);
  return n;
}

static int log_count_fault(struct fx *fx, const char *fault)
{
  FILE *fp = fopen(fx->log, "r");
  if(!fp)
    return 0;
  char line[4096];
  int n = 0;
  while(fgets(line, sizeof(line), fp)) {
    json_t *o = json_loads(line, 0, NULL);
    assert_non_null(o);
    const char *f = json_string_value(json_object_get(o, "fault"));
    const char *g = json_string_value(json_object_get(o, "gzip"));
    if((f && strcmp(f, fault) == 0) || (g && strcmp(g, fault) == 0))
      n++;
    json_decref(o);
  }
  fclose(fp);
  return n;
}

static char *slurp(const char *path)
{
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  assert_non_null(s);
  assert_int_equal(fread(s, 1, (size_t)n, fp), (size_t)n);
  s[n] = '\0';
  fclose(fp);
  return s;
}

/* ---- a request list as fetch source ------------------------------------ */

struct item {
  char url[512];
  enum fetch_auth auth;
  enum fetch_kind kind;
  const uint8_t *want;     /* expected body for FETCH_OK */
  size_t want_n;
  int retry_verdicts;      /* answer FETCH_RETRY this many times */
  /* recorded */
  int done_calls;
  enum fetch_status status;
  long http;
  int64_t content_length;
  int attempts;
  uint8_t *body;
  size_t n;
  char msg[256];
};

struct list {
  struct item *items;
  int n, next;
  int stop_on_done;        /* answer FETCH_STOP on the first done */
  int ticks, stop_tick;    /* tick returns 1 on call stop_tick (0: never) */
  int total_done;
  struct fetch *f;         /* for in_flight checks in next */
  int order[64];           /* item indexes in done order (first 64) */
  int nexts_since_done;    /* next calls that started a request since the last done */
  int nexts_after_8th;     /* ... counted at the 9th done */
  int max_in_flight;       /* in flight once next's request starts */
  int idle_calls;          /* idle calls, each checked: see list_idle */
};

static int list_next(void *user, struct fetch_req *req)
{
  struct list *l = user;
  if(l->next >= l->n)
    return 0;
  struct item *it = &l->items[l->next++];
  l->nexts_since_done++;
  if(l->f) {
    int now = fetch_get_stats(l->f)->in_flight + 1;
    if(now > l->max_in_flight)
      l->max_in_flight = now;
  }
  snprintf(req->url, sizeof(req->url), "%s", it->url);
  req->auth = it->auth;
  req->kind = it->kind;
  req->user = it;
  return 1;
}

static enum fetch_verdict list_done(void *user, void *req_user, struct fetch_result *res)
{
  struct list *l = user;
  struct item *it = req_user;
  it->done_calls++;
  if(l->total_done < 64)
    l->order[l->total_done] = (int)(it - l->items);
  if(l->total_done == 8)
    l->nexts_after_8th = l->nexts_since_done;
  l->nexts_since_done = 0;
  l->total_done++;
  it->status = res->status;
  it->http = res->http_status;
  it->content_length = res->content_length;
  it->attempts = res->attempts;
  snprintf(it->msg, sizeof(it->msg), "%s", res->msg);
  free(it->body);
  it->body = NULL;
  it->n = res->n;
  if(res->n) {
    it->body = malloc(res->n);
    assert_non_null(it->body);
    memcpy(it->body, res->body, res->n);
  }
  if(l->stop_on_done)
    return FETCH_STOP;
  if(res->status == FETCH_OK && it->retry_verdicts > 0) {
    it->retry_verdicts--;
    snprintf(res->msg, sizeof(res->msg), "bad body %d", it->done_calls);
    return FETCH_RETRY;
  }
  return FETCH_ACCEPT;
}

/* idle comes only when nothing can start and answers are awaited */
static void list_idle(void *user)
{
  struct list *l = user;
  l->idle_calls++;
  assert_int_equal(l->next, l->n);
  assert_true(fetch_get_stats(l->f)->in_flight > 0);
  assert_true(l->total_done < l->n);
}

static int list_tick(void *user)
{
  struct list *l = user;
  l->ticks++;
  return l->stop_tick && l->ticks >= l->stop_tick;
}

static struct list *list_new(int n)
{
  struct list *l = calloc(1, sizeof(*l));
  assert_non_null(l);
  l->items = calloc((size_t)n, sizeof(*l->items));
  assert_non_null(l->items);
  l->n = n;
  return l;
}

static void list_free(struct list *l)
{
  for(int i = 0; i < l->n; i++)
    free(l->items[i].body);
  free(l->items);
  free(l);
}

static void tile_url(struct fx *fx, struct item *it, int z, int x, int y)
{
  snprintf(it->url, sizeof(it->url), "http://127.0.0.1:%d/maps/vtp/2/%d/%d/%d", fx->port, z, x,
           y);
  it->auth = FETCH_AUTH_QUERY;
}

static struct fetch_opts opts_default(void)
{
  struct fetch_opts o = {
    .concurrency = 8,
    .retries = 4,
    .timeout_s = 20,
    .max_body = 1 << 20,
    .token = TOKEN,
    .backoff_ms = 5,
  };
  return o;
}

static enum mly_rc run_list(const struct fetch_opts *o, struct list *l, struct fetch_stats *st)
{
  struct fetch *f = NULL;
  struct mly_err err = {0};
  assert_int_equal(fetch_new(o, &f, &err), MLY_OK);
  l->f = f;
  struct fetch_source src = {.next = list_next, .done = list_done, .user = l};
  enum mly_rc rc = fetch_run(f, &src, list_tick, &err);
  if(st)
    *st = *fetch_get_stats(f);
  assert_null(strstr(err.msg, "s3cret"));
  fetch_free(&f);
  assert_null(f);
  l->f = NULL;
  return rc;
}

static void assert_no_token(const char *s)
{
  assert_null(strstr(s, "s3cret"));
  assert_null(strstr(s, TOKEN_ESC));
}

/* ---- tests --------------------------------------------------------------- */

static void test_fetch_delivers_each_body_once_at_concurrency_16(void **state)
{
  struct fx *fx = *state;
  enum { N = 200 };
  uint8_t *bodies[N];
  const char *args[] = {"--token", TOKEN, NULL};

  for(int i = 0; i < N; i++) {
    size_t n = 1 + (size_t)(i * 7919) % 150000; /* 1 byte .. ~150 kB */
    bodies[i] = make_body(n, (uint32_t)i);
    put_tile(fx, 14, 100 + i / 20, 200 + i % 20, bodies[i], n);
  }
  server_start(fx, args);
  struct list *l = list_new(N);
  for(int i = 0; i < N; i++) {
    tile_url(fx, &l->items[i], 14, 100 + i / 20, 200 + i % 20);
    l->items[i].want = bodies[i];
    l->items[i].want_n = 1 + (size_t)(i * 7919) % 150000;
  }
  struct fetch_opts o = opts_default();
  o.concurrency = 16;
  struct fetch_stats st;
  assert_int_equal(run_list(&o, l, &st), MLY_OK);
  for(int i = 0; i < N; i++) {
    struct item *it = &l->items[i];
    assert_int_equal(it->done_calls, 1);
    assert_int_equal(it->status, FETCH_OK);
    assert_int_equal(it->http, 200);
    assert_int_equal(it->attempts, 1);
    assert_int_equal(it->n, it->want_n);
    assert_memory_equal(it->body, it->want, it->n);
  }
  assert_int_equal(st.requests, N);
  assert_int_equal(st.retries, 0);
  assert_int_equal(st.in_flight, 0);
  assert_int_equal(log_count(fx, NULL, 200), N);
  /* headers the server saw */
  char *log = slurp(fx->log);
  assert_non_null(strstr(log, "\"user_agent\": \"mapillary-cli/" MLY_VERSION "\""));
  assert_non_null(strstr(log, "\"accept_encoding\": \"gzip\""));
  assert_null(strstr(log, "\"auth_header\": true"));
  free(log);
  list_free(l);
  for(int i = 0; i < N; i++)
    free(bodies[i]);
}

/* With every request started and answers 100 ms away, the fetcher says
 * it is idle (and only then, see list_idle), and every body still comes */
static void test_fetch_idle_while_the_last_answers_are_awaited(void **state)
{
  struct fx *fx = *state;
  /* 10 at concurrency 4: the last round starts 2 with 2 slots to spare,
   * so all is asked for while both answers are 100 ms away (with 12, a
   * loaded machine could harvest the whole last round at once, leaving no
   * moment with everything asked for and an answer awaited) */
  enum { N = 10 };
  const char *args[] = {"--token", TOKEN, "--latency-ms", "100", NULL};
  uint8_t *body = make_body(1000, 7);
  for(int i = 0; i < N; i++)
    put_tile(fx, 14, 300, 400 + i, body, 1000);
  server_start(fx, args);
  struct list *l = list_new(N);
  for(int i = 0; i < N; i++)
    tile_url(fx, &l->items[i], 14, 300, 400 + i);
  struct fetch_opts o = opts_default();
  o.concurrency = 4; /* three rounds: idle only in the last, all asked for */
  struct fetch *f = NULL;
  struct mly_err err = {0};
  assert_int_equal(fetch_new(&o, &f, &err), MLY_OK);
  l->f = f;
  struct fetch_source src = {.next = list_next, .done = list_done, .idle = list_idle, .user = l};
  assert_int_equal(fetch_run(f, &src, list_tick, &err), MLY_OK);
  fetch_free(&f);
  l->f = NULL;
  assert_true(l->idle_calls >= 1);
  for(int i = 0; i < N; i++) {
    assert_int_equal(l->items[i].status, FETCH_OK);
    assert_int_equal(l->items[i].n, 1000);
  }
  list_free(l);
  free(body);
}

static void test_fetch_empty_answers_are_empty(void **state)
{
  struct fx *fx = *state;
  const char *args[] = {"--token", TOKEN, NULL};
  put_tile(fx, 14, 1, 1, "", 0);      /* 200 with an empty body */
  put_status(fx, 14, 1, 2, "204\n");
  put_status(fx, 14, 1, 3, "403\n");  /* no JSON error body */
  put_status(fx, 14, 1, 4, "403 forbidden.html\n");
  put_root_file(fx, "forbidden.html", "<html>Forbidden</html>");
  /* 14/1/5 does not exist: 404 */
  server_start(fx, args);
  struct list *l = list_new(5);
  for(int i = 0; i < 5; i++)
    tile_url(fx, &l->items[i], 14, 1, i + 1);
  struct fetch_opts o = opts_default();
  assert_int_equal(run_list(&o, l, NULL), MLY_OK);
  long want_http[] = {200, 204, 403, 403, 404};
  for(int i = 0; i < 5; i++) {
    assert_int_equal(l->items[i].done_calls, 1);
    assert_int_equal(l->items[i].status, FETCH_EMPTY);
    assert_int_equal(l->items[i].http, want_http[i]);
    assert_int_equal(l->items[i].attempts, 1);
    assert_int_equal(l->items[i].n, 0);
  }
  assert_int_equal(log_count(fx, NULL, -1), 5);
  list_free(l);
}

/* Each request kind reads the same statuses its own way; a CDN file never
 * carries the token, whatever auth the caller asked for */
static void test_fetch_kinds_read_statuses_their_own_way(void **state)
{
  struct fx *fx = *state;
  const char *args[] = {NULL}; /* no token check: the CDN kind sends none */
  put_status(fx, 14, 2, 1, "403\n");
  put_status(fx, 14, 2, 2, "410\n");
  put_status(fx, 14, 2, 3, "400 e100.json\n");
  put_root_file(fx, "e100.json", "{\"error\":{\"code\":100,\"message\":\"Unsupported get request\"}}");
  put_status(fx, 14, 2, 4, "404\n");
  uint8_t *body = make_body(5000, 3);
  put_tile(fx, 14, 2, 5, body, 5000);
  server_start(fx, args);
  enum { Y = 5, K = 3 };
  struct list *l = list_new(Y * K);
  for(int k = 0; k < K; k++)
    for(int y = 0; y < Y; y++) {
      struct item *it = &l->items[k * Y + y];
      tile_url(fx, it, 14, 2, y + 1);
      it->kind = (enum fetch_kind)k;
      it->auth = k == FETCH_KIND_BLOB ? FETCH_AUTH_QUERY : FETCH_AUTH_NONE;
    }
  struct fetch_opts o = opts_default();
  assert_int_equal(run_list(&o, l, NULL), MLY_OK);
  enum fetch_status want[K][Y] = {
    [FETCH_KIND_TILE] = {FETCH_EMPTY, FETCH_FAILED, FETCH_FAILED, FETCH_EMPTY, FETCH_OK},
    [FETCH_KIND_GRAPH] = {FETCH_AUTH, FETCH_REFUSED, FETCH_REFUSED, FETCH_REFUSED, FETCH_OK},
    [FETCH_KIND_BLOB] = {FETCH_REFUSED, FETCH_REFUSED, FETCH_FAILED, FETCH_REFUSED, FETCH_OK},
  };
  for(int k = 0; k < K; k++)
    for(int y = 0; y < Y; y++) {
      struct item *it = &l->items[k * Y + y];
      if(it->status != want[k][y])
        fail_msg("kind %d y %d: status %d, want %d (%s)", k, y, it->status, want[k][y], it->msg);
      assert_int_equal(it->attempts, 1);
    }
  /* a refused Graph answer hands its error body over; the CDN's says why */
  struct item *g400 = &l->items[FETCH_KIND_GRAPH * Y + 2];
  assert_non_null(g400->body);
  assert_non_null(memmem(g400->body, g400->n, "Unsupported", 11));
  assert_string_equal(g400->msg, "HTTP 400, api error 100: Unsupported get request");
  assert_string_equal(l->items[FETCH_KIND_BLOB * Y + 1].msg, "HTTP 410");
  /* Content-Length is reported with a whole body */
  struct item *ok = &l->items[FETCH_KIND_BLOB * Y + 4];
  assert_int_equal(ok->n, 5000);
  assert_int_equal(ok->content_length, 5000);
  assert_memory_equal(ok->body, body, 5000);
  /* no CDN request carried the token, in the query or a header */
  FILE *fp = fopen(fx->log, "r");
  assert_non_null(fp);
  char line[8192];
  int n = 0;
  while(fgets(line, sizeof(line), fp)) {
    assert_null(strstr(line, "access_token"));
    assert_null(strstr(line, "\"auth_header\": true"));
    n++;
  }
  fclose(fp);
  assert_int_equal(n, Y * K);
  free(body);
  list_free(l);
}

static void test_fetch_auth_errors_stop_without_retry(void **state)
{
  struct fx *fx = *state;
  const char *args[] = {"--token", TOKEN, NULL};
  put_root_file(fx, "err190.json",
                "{\"error\":{\"message\":\"Invalid OAuth access token.\","
                "\"type\":\"OAuthException\",\"code\":190}}");
  put_root_file(fx, "err10.json",
                "{\"error\":{\"message\":\"Permission denied\",\"type\":\"OAuthException\","
                "\"code\":10}}");
  put_status(fx, 14, 2, 1, "403 err190.json\n");
  put_status(fx, 14, 2, 2, "401 err190.json\n");
  put_status(fx, 14, 2, 3, "403 err10.json\n");
  put_status(fx, 14, 2, 4, "401\n");
  put_status(fx, 14, 2, 5, "400 err190.json\n"); /* code 190 whatever the status */
  server_start(fx, args);
  struct list *l = list_new(5);
  for(int i = 0; i < 5; i++)
    tile_url(fx, &l->items[i], 14, 2, i + 1);
  struct fetch_opts o = opts_default();
  assert_int_equal(run_list(&o, l, NULL), MLY_OK);
  for(int i = 0; i < 5; i++) {
    char name[32];
    snprintf(name, sizeof(name), "14/2/%d", i + 1);
    assert_int_equal(l->items[i].done_calls, 1);
    assert_int_equal(l->items[i].status, FETCH_AUTH);
    assert_int_equal(l->items[i].attempts, 1);
    assert_int_equal(log_count(fx, name, -1), 1);
    assert_no_token(l->items[i].msg);
  }
  assert_non_null(strstr(l->items[0].msg, "190"));
  assert_non_null(strstr(l->items[0].msg, "Invalid OAuth access token"));
  list_free(l);
}

static void test_fetch_wrong_token_is_auth(void **state)
{
  struct fx *fx = *state;
  const char *args[] = {"--token", "another-token", NULL};
  put_tile(fx, 14, 3, 3, "\x1a\x01", 2);
  server_start(fx, args);
  struct list *l = list_new(1);
  tile_url(fx, &l->items[0], 14, 3, 3);
  struct fetch_opts o = opts_default();
  assert_int_equal(run_list(&o, l, NULL), MLY_OK);
  assert_int_equal(l->items[0].status, FETCH_AUTH);
  assert_int_equal(l->items[0].http, 403);
  assert_int_equal(l->items[0].attempts, 1);
  assert_no_token(l->items[0].msg);
  list_free(l);
}

/* The server's --auth-fail-after: a token revoked mid-run stops being data */
static void test_fetch_token_revoked_mid_run_is_auth(void **state)
{
  struct fx *fx = *state;
  const char *args[] = {"--token", TOKEN, "--auth-fail-after", "5", NULL};
  for(int i = 0; i < 10; i++)
    put_tile(fx, 14, 17, i, "\x1a\x01z", 3);
  server_start(fx, args);
  struct list *l = list_new(10);
  for(int i = 0; i < 10; i++)
    tile_url(fx, &l->items[i], 14, 17, i);
  struct fetch_opts o = opts_default();
  o.concurrency = 4;
  assert_int_equal(run_list(&o, l, NULL), MLY_OK);
  int ok = 0, auth = 0;
  for(int i = 0; i < 10; i++) {
    ok += l->items[i].status == FETCH_OK;
    auth += l->items[i].status == FETCH_AUTH;
    assert_int_equal(l->items[i].attempts, 1);
  }
  assert_int_equal(ok, 5);
  assert_int_equal(auth, 5);
  list_free(l);
}

static void test_fetch_500_fails_after_exactly_retries_attempts(void **state)
{
  struct fx *fx = *state;
  const char *args[] = {"--token", TOKEN, NULL};
  put_status(fx, 14, 4, 1, "500\n");
  put_status(fx, 14, 4, 2, "400\n"); /* a client error is not retried */
  server_start(fx, args);
  struct list *l = list_new(2);
  tile_url(fx, &l->items[0], 14, 4, 1);
  tile_url(fx, &l->items[1], 14, 4, 2);
  struct fetch_opts o = opts_default();
  o.retries = 4;
  struct fetch_stats st;
  assert_int_equal(run_list(&o, l, &st), MLY_OK);
  assert_int_equal(l->items[0].done_calls, 1);
  assert_int_equal(l->items[0].status, FETCH_FAILED);
  assert_int_equal(l->items[0].attempts, 4);
  assert_int_equal(l->items[0].http, 500);
  assert_string_equal(l->items[0].msg, "request failed after 4 attempts: HTTP 500");
  assert_int_equal(log_count(fx, "14/4/1", 500), 4);
  assert_int_equal(l->items[1].status, FETCH_FAILED);
  assert_int_equal(l->items[1].attempts, 1);
  assert_int_equal(log_count(fx, "14/4/2", -1), 1);
  assert_int_equal(st.requests, 5);
  assert_int_equal(st.retries, 3);
  list_free(l);
}

static void test_fetch_rate_limit_code_4_persisting_is_rate_limit(void **state)
{
  struct fx *fx = *state;
  const char *args[] = {"--token", TOKEN, NULL};
  put_root_file(fx, "err4.json",
                "{\"error\":{\"message\":\"Application request limit reached\","
                "\"type\":\"OAuthException\",\"code\":4}}");
  put_status(fx, 14, 5, 1, "403 err4.json\n");
  put_status(fx, 14, 5, 2, "400 err4.json\n");
  server_start(fx, args);
  struct list *l = list_new(2);
  tile_url(fx, &l->items[0], 14, 5, 1);
  tile_url(fx, &l->items[1], 14, 5, 2);
  struct fetch_opts o = opts_default();
  o.retries = 3;
  assert_int_equal(run_list(&o, l, NULL), MLY_OK);
  for(int i = 0; i < 2; i++) {
    assert_int_equal(l->items[i].done_calls, 1);
    assert_int_equal(l->items[i].status, FETCH_RATE_LIMIT);
    assert_int_equal(l->items[i].attempts, 3);
    assert_non_null(strstr(l->items[i].msg, "request limit reached"));
  }
  assert_int_equal(log_count(fx, "14/5/1", -1), 3);
  assert_int_equal(log_count(fx, "14/5/2", -1), 3);
  list_free(l);
}

static void test_fetch_mixed_faults_keep_every_body_intact(void **state)
{
  struct fx *fx = *state;
  enum { N = 150 };
  uint8_t *bodies[N];
  size_t sizes[N];
  const char *args[] = {"--token", TOKEN, "--fault-seed", "11", "--fail-rate", "0.1",
                        "--rate429", "0.1", "--retry-after", "0", "--truncate-rate", "0.1",
                        "--reset-rate", "0.1", "--gzip-rate", "0.2", "--slow-rate", "0.05",
                        "--slow-ms", "30", NULL};
  for(int i = 0; i < N; i++) {
    sizes[i] = 2 + (size_t)(i * 104729) % 60000;
    bodies[i] = make_body(sizes[i], (uint32_t)i + 1000);
    put_tile(fx, 14, 300 + i / 10, 400 + i % 10, bodies[i], sizes[i]);
  }
  server_start(fx, args);
  struct list *l = list_new(N);
  for(int i = 0; i < N; i++)
    tile_url(fx, &l->items[i], 14, 300 + i / 10, 400 + i % 10);
  struct fetch_opts o = opts_default();
  o.concurrency = 16;
  o.retries = 12;
  o.backoff_ms = 2;
  struct fetch_stats st;
  assert_int_equal(run_list(&o, l, &st), MLY_OK);
  for(int i = 0; i < N; i++) {
    struct item *it = &l->items[i];
    assert_int_equal(it->done_calls, 1);
    assert_int_equal(it->status, FETCH_OK);
    assert_int_equal(it->n, sizes[i]);
    assert_memory_equal(it->body, bodies[i], sizes[i]);
  }
  /* every fault kind struck and was retried through */
  assert_true(log_count_fault(fx, "fail") > 0);
  assert_true(log_count_fault(fx, "429") > 0);
  assert_true(log_count_fault(fx, "truncate") > 0);
  assert_true(log_count_fault(fx, "reset") > 0);
  assert_true(log_count_fault(fx, "header") > 0);
  assert_true(log_count_fault(fx, "raw") > 0);
  assert_true(st.retries > 0);
  assert_int_equal(st.requests, N + st.retries);
  list_free(l);
  for(int i = 0; i < N; i++)
    free(bodies[i]);
}

/* The gap between a 429 and the next request for the same tile */
static void test_fetch_retry_after_is_honoured(void **state)
{
  struct fx *fx = *state;
  enum { N = 6 };
  const char *args[] = {"--token", TOKEN, "--fault-seed", "3", "--rate429", "0.3",
                        "--retry-after", "1", NULL};
  for(int i = 0; i < N; i++)
    put_tile(fx, 14, 6, i, "\x1a\x02xy", 4);
  server_start(fx, args);
  struct list *l = list_new(N);
  for(int i = 0; i < N; i++)
    tile_url(fx, &l->items[i], 14, 6, i);
  struct fetch_opts o = opts_default();
  o.retries = 10;
  assert_int_equal(run_list(&o, l, NULL), MLY_OK);
  for(int i = 0; i < N; i++)
    assert_int_equal(l->items[i].status, FETCH_OK);

  /* read the log: t of each tile's last 429, checked against its next request */
  double last429[N];
  for(int i = 0; i < N; i++)
    last429[i] = -1;
  int seen429 = 0, checked = 0;
  FILE *fp = fopen(fx->log, "r");
  assert_non_null(fp);
  char line[4096];
  while(fgets(line, sizeof(line), fp)) {
    json_t *j = json_loads(line, 0, NULL);
    assert_non_null(j);
    int y = -1;
    sscanf(json_string_value(json_object_get(j, "tile")), "14/6/%d", &y);
    assert_true(y >= 0 && y < N);
    double t = json_real_value(json_object_get(j, "t"));
    if(last429[y] >= 0) {
      /* loose: 1 s asked, allow for clock granularity */
      assert_true(t - last429[y] >= 0.95);
      checked++;
      last429[y] = -1;
    }
    if(json_integer_value(json_object_get(j, "status")) == 429) {
      last429[y] = t;
      seen429++;
    }
    json_decref(j);
  }
  fclose(fp);
  assert_true(seen429 > 0);
  assert_int_equal(checked, seen429);
  list_free(l);
}

/* 429 halves the requests in flight (down to 1), successes add one back */
static void test_fetch_429_lowers_concurrency_then_recovers(void **state)
{
  struct fx *fx = *state;
  enum { N = 40 };
  const char *args[] = {"--token", TOKEN, "--latency-ms", "20", NULL};
  for(int i = 0; i < N; i++) {
    if(i < 8)
      put_status(fx, 14, 14, i, "429\nRetry-After: 0\n");
    else
      put_tile(fx, 14, 14, i, "\x1a\x01z", 3);
  }
  server_start(fx, args);
  struct list *l = list_new(N);
  for(int i = 0; i < N; i++)
    tile_url(fx, &l->items[i], 14, 14, i);
  struct fetch_opts o = opts_default();
  o.concurrency = 8;
  o.retries = 1;
  assert_int_equal(run_list(&o, l, NULL), MLY_OK);
  for(int i = 0; i < N; i++) {
    /* a 429 that outlasts every attempt is a rate limit: the run stops, resumable */
    assert_int_equal(l->items[i].status, i < 8 ? FETCH_RATE_LIMIT : FETCH_OK);
    if(i < 8)
      assert_string_equal(l->items[i].msg, "request failed after 1 attempt: HTTP 429");
  }
  /* the eight 429s (in flight together) came back first: 8 -> 4 -> 2 -> 1,
   * so exactly one request started before the next answer */
  for(int i = 0; i < 8; i++)
    assert_true(l->order[i] < 8);
  assert_int_equal(l->nexts_after_8th, 1);
  /* and the concurrency grew back */
  assert_true(l->max_in_flight >= 4);
  list_free(l);
}

/* Retry-After as an HTTP date */
static void test_fetch_retry_after_http_date_is_honoured(void **state)
{
  struct fx *fx = *state;
  const char *args[] = {"--token", TOKEN, NULL};
  char spec[128], date[64];
  server_start(fx, args); /* first: a loaded machine may take seconds to start it */
  time_t when = time(NULL) + 2; /* at least 1 s ahead whatever the rounding */
  struct tm tm;
  strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&when, &tm));
  snprintf(spec, sizeof(spec), "503\nRetry-After: %s\n", date);
  put_status(fx, 14, 19, 1, spec); /* read by the server at request time */
  struct list *l = list_new(1);
  tile_url(fx, &l->items[0], 14, 19, 1);
  struct fetch_opts o = opts_default();
  o.retries = 2;
  assert_int_equal(run_list(&o, l, NULL), MLY_OK);
  assert_int_equal(l->items[0].status, FETCH_FAILED);
  assert_int_equal(l->items[0].attempts, 2);
  assert_string_equal(l->items[0].msg, "request failed after 2 attempts: HTTP 503");
  double t[2] = {0, 0};
  int n = 0;
  FILE *fp = fopen(fx->log, "r");
  assert_non_null(fp);
  char line[4096];
  while(n < 2 && fgets(line, sizeof(line), fp)) {
    json_t *j = json_loads(line, 0, NULL);
    assert_non_null(j);
    t[n++] = json_real_value(json_object_get(j, "t"));
    json_decref(j);
  }
  fclose(fp);
  assert_int_equal(n, 2);
  assert_true(t[1] - t[0] >= 0.9); /* backoff alone would be 5 ms */
  list_free(l);
}

/* A request waiting for its retry leaves its slot to others */
static void test_fetch_retry_wait_frees_the_slot(void **state)
{
  struct fx *fx = *state;
  const char *args[] = {"--token", TOKEN, NULL};
  put_status(fx, 14, 15, 0, "503\n");
  for(int i = 1; i < 4; i++)
    put_tile(fx, 14, 15, i, "\x1a\x01z", 3);
  server_start(fx, args);
  struct list *l = list_new(4);
  for(int i = 0; i < 4; i++)
    tile_url(fx, &l->items[i], 14, 15, i);
  struct fetch_opts o = opts_default();
  o.concurrency = 1;
  o.retries = 2;
  o.backoff_ms = 1000; /* waits 0.5 .. 1 s: ample for three local requests */
  assert_int_equal(run_list(&o, l, NULL), MLY_OK);
  assert_int_equal(l->items[0].status, FETCH_FAILED);
  assert_int_equal(l->items[0].attempts, 2);
  assert_int_equal(l->order[0], 1);
  assert_int_equal(l->order[1], 2);
  assert_int_equal(l->order[2], 3);
  assert_int_equal(l->order[3], 0);
  list_free(l);
}

/* Undecodable gzip is retried like a transient failure, then reported */
static void test_fetch_bad_gzip_over_http_is_retried(void **state)
{
  struct fx *fx = *state;
  const char *args[] = {"--token", TOKEN, NULL};
  uint8_t *body = make_body(20000, 4);
  uint8_t gz[32768];
  size_t gzn = gzip_bytes(body, 20000, gz, sizeof(gz));
  char p[512];
  snprintf(p, sizeof(p), "%s/bad.gz", fx->root);
  put_file(p, "\x1f\x8b\x08\x00 this is not deflate data", 29);
  snprintf(p, sizeof(p), "%s/cut.gz", fx->root);
  put_file(p, gz, gzn / 2); /* a gzip stream cut short, Content-Length intact */
  snprintf(p, sizeof(p), "%s/good.gz", fx->root);
  put_file(p, gz, gzn);
  put_status(fx, 14, 16, 1, "200 bad.gz\n");
  put_status(fx, 14, 16, 2, "200 cut.gz\n");
  put_status(fx, 14, 16, 3, "200 bad.gz\nContent-Encoding: gzip\n");
  put_status(fx, 14, 16, 4, "200 cut.gz\nContent-Encoding: gzip\n");
  put_status(fx, 14, 16, 5, "200 good.gz\nContent-Encoding: x-gzip\n");
  put_status(fx, 14, 16, 6, "200 good.gz\nContent-Encoding: br\n");
  server_start(fx, args);
  struct list *l = list_new(6);
  for(int i = 0; i < 6; i++)
    tile_url(fx, &l->items[i], 14, 16, i + 1);
  struct fetch_opts o = opts_default();
  o.retries = 2;
  assert_int_equal(run_list(&o, l, NULL), MLY_OK);
  for(int i = 0; i < 4; i++) {
    assert_int_equal(l->items[i].status, FETCH_FAILED);
    assert_int_equal(l->items[i].attempts, 2);
    assert_non_null(strstr(l->items[i].msg, "bad gzip body"));
  }
  assert_int_equal(l->items[4].status, FETCH_OK);
  assert_int_equal(l->items[4].n, 20000);
  assert_memory_equal(l->items[4].body, body, 20000);
  assert_int_equal(l->items[5].status, FETCH_FAILED); /* never asked for br */
  assert_int_equal(l->items[5].attempts, 1);
  assert_non_null(strstr(l->items[5].msg, "content encoding 'br'"));
  list_free(l);
  free(body);
}

static void test_fetch_body_above_cap_is_toobig(void **state)
{
  struct fx *fx = *state;
  const char *args[] = {"--token", TOKEN, NULL};
  uint8_t *big = make_body(20000, 1);
  uint8_t *exact = make_body(10000, 2);
  uint8_t *zeros = calloc(1, 200000);
  uint8_t gz[4096];
  assert_non_null(zeros);
  size_t gzn = gzip_bytes(zeros, 200000, gz, sizeof(gz));
  put_tile(fx, 14, 7, 1, big, 20000);
  put_tile(fx, 14, 7, 2, exact, 10000);
  put_tile(fx, 14, 7, 3, gz, gzn); /* raw gzip, small on the wire, big inflated */
  server_start(fx, args);
  struct list *l = list_new(3);
  for(int i = 0; i < 3; i++)
    tile_url(fx, &l->items[i], 14, 7, i + 1);
  struct fetch_opts o = opts_default();
  o.max_body = 10000;
  assert_int_equal(run_list(&o, l, NULL), MLY_OK);
  assert_int_equal(l->items[0].status, FETCH_TOOBIG);
  assert_int_equal(l->items[0].attempts, 1);
  assert_non_null(strstr(l->items[0].msg, l->items[0].url)); /* names the url */
  assert_non_null(strstr(l->items[0].msg, "10000"));
  assert_no_token(l->items[0].msg);
  assert_int_equal(log_count(fx, "14/7/1", -1), 1);
  assert_int_equal(l->items[1].status, FETCH_OK);
  assert_int_equal(l->items[1].n, 10000);
  assert_memory_equal(l->items[1].body, exact, 10000);
  assert_int_equal(l->items[2].status, FETCH_TOOBIG);
  assert_int_equal(l->items[2].attempts, 1);
  list_free(l);
  free(big);
  free(exact);
  free(zeros);
}

static void test_fetch_gzip_bodies_are_inflated(void **state)
{
  struct fx *fx = *state;
  enum { N = 24 };
  uint8_t *bodies[N];
  const char *args[] = {"--token", TOKEN, "--gzip-rate", "1", "--fault-seed", "5", NULL};
  uint8_t *zeros = calloc(1, 200000);
  assert_non_null(zeros);
  for(int i = 0; i < 6; i++)
    put_tile(fx, 14, 18, i, zeros, 200000); /* small on the wire, big inflated */
  for(int i = 0; i < N; i++) {
    bodies[i] = make_body(5000 + (size_t)i, (uint32_t)i);
    memset(bodies[i] + 1, 'a', 2000); /* compressible */
    put_tile(fx, 14, 8, i, bodies[i], 5000 + (size_t)i);
  }
  server_start(fx, args);
  struct list *l = list_new(N);
  for(int i = 0; i < N; i++)
    tile_url(fx, &l->items[i], 14, 8, i);
  struct fetch_opts o = opts_default();
  assert_int_equal(run_list(&o, l, NULL), MLY_OK);
  for(int i = 0; i < N; i++) {
    assert_int_equal(l->items[i].status, FETCH_OK);
    assert_int_equal(l->items[i].n, 5000 + (size_t)i);
    assert_memory_equal(l->items[i].body, bodies[i], l->items[i].n);
  }
  assert_true(log_count_fault(fx, "header") > 0);
  assert_true(log_count_fault(fx, "raw") > 0);
  list_free(l);

  /* inflated above the cap, with and without Content-Encoding: no retry */
  int header0 = log_count_fault(fx, "header");
  l = list_new(6);
  for(int i = 0; i < 6; i++)
    tile_url(fx, &l->items[i], 14, 18, i);
  o.max_body = 100000;
  assert_int_equal(run_list(&o, l, NULL), MLY_OK);
  for(int i = 0; i < 6; i++) {
    assert_int_equal(l->items[i].status, FETCH_TOOBIG);
    assert_int_equal(l->items[i].attempts, 1);
  }
  assert_true(log_count_fault(fx, "header") > header0);
  list_free(l);
  free(zeros);
  for(int i = 0; i < N; i++)
    free(bodies[i]);
}

static void test_fetch_retry_verdict_retries_then_accepts(void **state)
{
  struct fx *fx = *state;
  const char *args[] = {"--token", TOKEN, NULL};
  put_tile(fx, 14, 9, 1, "\x1a\x01z", 3);
  put_tile(fx, 14, 9, 2, "\x1a\x01q", 3);
  server_start(fx, args);
  struct list *l = list_new(2);
  tile_url(fx, &l->items[0], 14, 9, 1);
  tile_url(fx, &l->items[1], 14, 9, 2);
  l->items[0].retry_verdicts = 2;   /* then accepted */
  l->items[1].retry_verdicts = 100; /* never accepted */
  struct fetch_opts o = opts_default();
  o.retries = 3;
  assert_int_equal(run_list(&o, l, NULL), MLY_OK);
  assert_int_equal(l->items[0].done_calls, 3);
  assert_int_equal(l->items[0].status, FETCH_OK);
  assert_int_equal(l->items[0].attempts, 3);
  assert_int_equal(log_count(fx, "14/9/1", -1), 3);
  /* three OK calls answered RETRY, then one FAILED keeping the last message */
  assert_int_equal(l->items[1].done_calls, 4);
  assert_int_equal(l->items[1].status, FETCH_FAILED);
  assert_int_equal(l->items[1].attempts, 3);
  assert_string_equal(l->items[1].msg, "bad body 3");
  assert_int_equal(log_count(fx, "14/9/2", -1), 3);
  list_free(l);
}

static void test_fetch_stop_verdict_ends_run(void **state)
{
  struct fx *fx = *state;
  const char *args[] = {"--token", TOKEN, NULL};
  for(int i = 0; i < 20; i++)
    put_tile(fx, 14, 10, i, "\x1a\x01z", 3);
  server_start(fx, args);
  struct list *l = list_new(20);
  for(int i = 0; i < 20; i++)
    tile_url(fx, &l->items[i], 14, 10, i);
  l->stop_on_done = 1;
  struct fetch_opts o = opts_default();
  o.concurrency = 2;
  assert_int_equal(run_list(&o, l, NULL), MLY_ESTOP);
  assert_int_equal(l->total_done, 1);
  list_free(l);
}

static void test_fetch_tick_stops_run_with_transfers_in_flight(void **state)
{
  struct fx *fx = *state;
  const char *args[] = {"--token", TOKEN, "--latency-ms", "3000", NULL};
  for(int i = 0; i < 10; i++)
    put_tile(fx, 14, 11, i, "\x1a\x01z", 3);
  server_start(fx, args);
  struct list *l = list_new(10);
  for(int i = 0; i < 10; i++)
    tile_url(fx, &l->items[i], 14, 11, i);
  l->stop_tick = 2;
  struct fetch_opts o = opts_default();
  assert_int_equal(run_list(&o, l, NULL), MLY_ESTOP);
  assert_int_equal(l->total_done, 0);
  assert_int_equal(l->ticks, 2);
  list_free(l);
}

static void test_fetch_timeout_and_refused_connection_fail(void **state)
{
  struct fx *fx = *state;
  const char *args[] = {"--token", TOKEN, "--slow-rate", "1", "--slow-ms", "1500", NULL};
  put_tile(fx, 14, 12, 1, "\x1a\x01z", 3);
  server_start(fx, args);

  /* a port nobody listens on */
  int sock = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof(sa);
  assert_int_equal(bind(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(getsockname(sock, (struct sockaddr *)&sa, &sl), 0);
  close(sock);

  struct list *l = list_new(2);
  tile_url(fx, &l->items[0], 14, 12, 1);
  snprintf(l->items[1].url, sizeof(l->items[1].url), "http://127.0.0.1:%d/14/12/2",
           ntohs(sa.sin_port));
  l->items[1].auth = FETCH_AUTH_QUERY;
  struct fetch_opts o = opts_default();
  o.retries = 2;
  o.timeout_s = 0.3;
  assert_int_equal(run_list(&o, l, NULL), MLY_OK);
  for(int i = 0; i < 2; i++) {
    assert_int_equal(l->items[i].done_calls, 1);
    assert_int_equal(l->items[i].status, FETCH_FAILED);
    assert_int_equal(l->items[i].attempts, 2);
    assert_non_null(strstr(l->items[i].msg, "request failed after 2 attempts: "));
    assert_no_token(l->items[i].msg);
  }
  assert_non_null(strstr(l->items[0].msg, "timed out"));
  list_free(l);
}

static void test_fetch_token_never_leaks(void **state)
{
  struct fx *fx = *state;
  const char *args[] = {"--token", TOKEN, "--fault-seed", "2", "--reset-rate", "0.3",
                        "--truncate-rate", "0.3", NULL};
  uint8_t *big = make_body(5000, 3);
  put_tile(fx, 14, 13, 1, "\x1a\x01z", 3);
  put_status(fx, 14, 13, 2, "500\n");
  put_tile(fx, 14, 13, 3, big, 5000);
  put_root_file(fx, "graph/orgs.json", "{\"1805883732926354\": \"Org One\"}");
  put_root_file(fx, "graph/image_ids/seqA.json", "{\"data\":[{\"id\":\"1\"},{\"id\":\"2\"}]}");
  server_start(fx, args);
  struct list *l = list_new(8);
  snprintf(l->items[6].url, sizeof(l->items[6].url),
           "http://127.0.0.1:%d/graph/image_ids?sequence_id=seqA", fx->port);
  l->items[6].auth = FETCH_AUTH_HEADER;
  snprintf(l->items[7].url, sizeof(l->items[7].url),
           "http://127.0.0.1:%d/graph/image_ids?sequence_id=nope", fx->port);
  l->items[7].auth = FETCH_AUTH_HEADER;
  for(int i = 0; i < 3; i++)
    tile_url(fx, &l->items[i], 14, 13, i + 1);
  /* Graph API: the token goes in a header; the server refuses it in the query */
  snprintf(l->items[3].url, sizeof(l->items[3].url),
           "http://127.0.0.1:%d/graph/1805883732926354?fields=name", fx->port);
  l->items[3].auth = FETCH_AUTH_HEADER;
  snprintf(l->items[4].url, sizeof(l->items[4].url),
           "http://127.0.0.1:%d/graph/42?fields=name", fx->port);
  l->items[4].auth = FETCH_AUTH_HEADER;
  snprintf(l->items[5].url, sizeof(l->items[5].url),
           "http://127.0.0.1:%d/graph/1805883732926354?fields=name", fx->port);
  l->items[5].auth = FETCH_AUTH_QUERY;
  struct fetch_opts o = opts_default();
  o.max_body = 4000;
  o.retries = 8;
  assert_int_equal(run_list(&o, l, NULL), MLY_OK);
  assert_int_equal(l->items[0].status, FETCH_OK);
  assert_int_equal(l->items[1].status, FETCH_FAILED);
  assert_int_equal(l->items[2].status, FETCH_TOOBIG);
  assert_int_equal(l->items[3].status, FETCH_OK);
  assert_non_null(l->items[3].body);
  json_t *doc = json_loadb((const char *)l->items[3].body, l->items[3].n, 0, NULL);
  assert_non_null(doc);
  assert_string_equal(json_string_value(json_object_get(doc, "name")), "Org One");
  json_decref(doc);
  assert_int_equal(l->items[4].status, FETCH_EMPTY); /* unknown id: 404 */
  assert_int_equal(l->items[5].status, FETCH_AUTH);
  assert_int_equal(l->items[6].status, FETCH_OK);
  assert_int_equal(l->items[6].n, strlen("{\"data\":[{\"id\":\"1\"},{\"id\":\"2\"}]}"));
  assert_int_equal(l->items[7].status, FETCH_EMPTY);
  for(int i = 0; i < 8; i++)
    assert_no_token(l->items[i].msg);
  /* the server saw the token (requests succeeded) but logged it redacted */
  char *log = slurp(fx->log);
  assert_no_token(log);
  assert_null(strstr(log, "MLY%7C"));
  assert_non_null(strstr(log, "access_token=REDACTED"));
  assert_non_null(strstr(log, "\"auth_header\": true"));
  free(log);
  list_free(l);
  free(big);
}

static void test_fetch_file_urls(void **state)
{
  struct fx *fx = *state;
  char p[512];
  uint8_t *body = make_body(3000, 9);
  uint8_t *big = make_body(6000, 10);
  uint8_t gz[8192];
  size_t gzn = gzip_bytes(body, 3000, gz, sizeof(gz));

  snprintf(p, sizeof(p), "%s/my tiles/14/1/1.mvt", fx->dir);
  put_file(p, body, 3000);
  snprintf(p, sizeof(p), "%s/my tiles/14/1/2.mvt", fx->dir);
  put_file(p, gz, gzn);
  snprintf(p, sizeof(p), "%s/my tiles/14/1/3.mvt", fx->dir);
  put_file(p, "\x1f\x8b\x08\x00garbage", 11);
  snprintf(p, sizeof(p), "%s/my tiles/14/1/4.mvt", fx->dir);
  put_file(p, "", 0);
  snprintf(p, sizeof(p), "%s/my tiles/14/1/5.mvt", fx->dir);
  put_file(p, big, 6000);
  snprintf(p, sizeof(p), "%s/my tiles/14/1/7.mvt", fx->dir);
  mkdirs(p); /* a directory where a file should be */

  enum { N = 8 };
  struct list *l = list_new(N);
  for(int i = 0; i < 7; i++) {
    snprintf(l->items[i].url, sizeof(l->items[i].url), "file://%s/my%%20tiles/14/1/%d.mvt",
             fx->dir, i + 1);
    l->items[i].auth = FETCH_AUTH_QUERY; /* ignored for files */
  }
  snprintf(l->items[7].url, sizeof(l->items[7].url), "file://localhost%s/my%%20tiles/14/1/1.mvt",
           fx->dir);
  struct fetch_opts o = opts_default();
  o.max_body = 5000;
  o.token = NULL; /* file:// needs none */
  struct fetch_stats st;
  assert_int_equal(run_list(&o, l, &st), MLY_OK);
  assert_int_equal(l->items[0].status, FETCH_OK);
  assert_int_equal(l->items[0].n, 3000);
  assert_memory_equal(l->items[0].body, body, 3000);
  assert_int_equal(l->items[0].http, 0);
  assert_int_equal(l->items[1].status, FETCH_OK); /* gzip inflated */
  assert_int_equal(l->items[1].n, 3000);
  assert_memory_equal(l->items[1].body, body, 3000);
  assert_int_equal(l->items[2].status, FETCH_FAILED);
  assert_non_null(strstr(l->items[2].msg, "gzip"));
  assert_int_equal(l->items[3].status, FETCH_EMPTY);
  assert_int_equal(l->items[4].status, FETCH_TOOBIG);
  assert_int_equal(l->items[5].status, FETCH_EMPTY); /* missing file */
  assert_int_equal(l->items[6].status, FETCH_FAILED);
  assert_int_equal(l->items[7].status, FETCH_OK);
  assert_int_equal(l->items[7].n, 3000);
  for(int i = 0; i < N; i++) {
    assert_int_equal(l->items[i].done_calls, 1);
    assert_int_equal(l->items[i].attempts, 1);
  }
  assert_int_equal(st.requests, N);
  list_free(l);
  free(body);
  free(big);
}

static void test_fetch_many_files_with_retry_verdict(void **state)
{
  struct fx *fx = *state;
  enum { N = 300 };
  char p[512];
  for(int i = 0; i < N; i++) {
    snprintf(p, sizeof(p), "%s/t/14/2/%d.mvt", fx->dir, i);
    put_file(p, "\x1a\x01z", 3);
  }
  struct list *l = list_new(N);
  for(int i = 0; i < N; i++)
    snprintf(l->items[i].url, sizeof(l->items[i].url), "file://%s/t/14/2/%d.mvt", fx->dir, i);
  l->items[17].retry_verdicts = 1;
  struct fetch_opts o = opts_default();
  o.token = NULL;
  assert_int_equal(run_list(&o, l, NULL), MLY_OK);
  for(int i = 0; i < N; i++)
    assert_int_equal(l->items[i].status, FETCH_OK);
  assert_int_equal(l->items[17].attempts, 2);
  assert_int_equal(l->items[17].done_calls, 2);
  assert_int_equal(l->total_done, N + 1);
  list_free(l);
}

static void test_fetch_new_rejects_bad_options(void **state)
{
  struct fetch *f = NULL;
  struct mly_err err = {0};
  struct fetch_opts o = opts_default();
  o.concurrency = 0;
  assert_int_equal(fetch_new(&o, &f, &err), MLY_EINVAL);
  assert_null(f);
  o = opts_default();
  o.retries = 0;
  assert_int_equal(fetch_new(&o, &f, &err), MLY_EINVAL);
  o = opts_default();
  o.timeout_s = 0;
  assert_int_equal(fetch_new(&o, &f, &err), MLY_EINVAL);
  o = opts_default();
  o.token = "a\r\nX-Evil: 1";
  assert_int_equal(fetch_new(&o, &f, &err), MLY_EINVAL);
  assert_null(strstr(err.msg, "Evil"));
  fetch_free(&f); /* NULL is fine */
  fetch_free(NULL);
}

/* A token written into a template by hand is found (no second one is
 * appended); a parameter merely ending in access_token, or one in the
 * fragment or path, is not it */
static void test_fetch_url_has_token(void **state)
{
  (void)state;
  assert_true(fetch_url_has_token("https://h/14/1/2?access_token=MLY|123|abc"));
  assert_true(fetch_url_has_token("https://h/14/1/2?x=1&access_token=MLY%7C1"));
  assert_true(fetch_url_has_token("https://h/14/1/2?ACCESS_TOKEN=t#f"));
  assert_false(fetch_url_has_token("https://h/14/1/2"));
  assert_false(fetch_url_has_token("https://h/14/1/2?my_access_token=t"));
  assert_false(fetch_url_has_token("https://h/access_token=t/1/2"));
  assert_false(fetch_url_has_token("https://h/1/2?x=1#access_token=t"));
  assert_false(fetch_url_has_token(NULL));
}

static void test_fetch_redact(void **state)
{
  char out[256];
  fetch_redact("GET http://h/t/1/2/3?access_token=MLY|abc&x=1 failed", out, sizeof(out));
  assert_string_equal(out, "GET http://h/t/1/2/3?access_token=REDACTED&x=1 failed");
  fetch_redact("http://h/a?x=1&access_token=MLY%7Cabc", out, sizeof(out));
  assert_string_equal(out, "http://h/a?x=1&access_token=REDACTED");
  fetch_redact("a access_token=1 b access_token=2#frag", out, sizeof(out));
  assert_string_equal(out, "a access_token=REDACTED b access_token=REDACTED#frag");
  fetch_redact("Authorization: OAuth MLY|tok", out, sizeof(out));
  assert_string_equal(out, "Authorization: OAuth REDACTED");
  fetch_redact("Invalid OAuth access token.", out, sizeof(out)); /* no secret here */
  assert_string_equal(out, "Invalid OAuth access token.");
  fetch_redact("nothing secret here", out, sizeof(out));
  assert_string_equal(out, "nothing secret here");
  fetch_redact("access_token=&a=1", out, sizeof(out));
  assert_string_equal(out, "access_token=&a=1");
  fetch_redact(NULL, out, sizeof(out));
  assert_string_equal(out, "");
  /* cut short by the cap: still terminated, never a piece of the secret */
  fetch_redact("access_token=SECRETVALUE", out, 20);
  assert_string_equal(out, "access_token=REDACT");
  fetch_redact("xyz", out, 1);
  assert_string_equal(out, "");
  memset(out, 'Z', sizeof(out));
  fetch_redact("abc", out, 0);
  assert_int_equal(out[0], 'Z');
}

int main(void)
{
  /* a server killed mid-answer must not kill us */
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fetch_redact),
    cmocka_unit_test(test_fetch_url_has_token),
    cmocka_unit_test(test_fetch_new_rejects_bad_options),
    cmocka_unit_test_setup_teardown(test_fetch_delivers_each_body_once_at_concurrency_16, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_fetch_idle_while_the_last_answers_are_awaited, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_fetch_empty_answers_are_empty, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fetch_kinds_read_statuses_their_own_way, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_fetch_auth_errors_stop_without_retry, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fetch_wrong_token_is_auth, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fetch_token_revoked_mid_run_is_auth, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fetch_500_fails_after_exactly_retries_attempts, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_fetch_rate_limit_code_4_persisting_is_rate_limit, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_fetch_mixed_faults_keep_every_body_intact, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_fetch_retry_after_is_honoured, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fetch_429_lowers_concurrency_then_recovers, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_fetch_retry_after_http_date_is_honoured, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_fetch_retry_wait_frees_the_slot, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fetch_bad_gzip_over_http_is_retried, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fetch_body_above_cap_is_toobig, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fetch_gzip_bodies_are_inflated, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fetch_retry_verdict_retries_then_accepts, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_fetch_stop_verdict_ends_run, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fetch_tick_stops_run_with_transfers_in_flight, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_fetch_timeout_and_refused_connection_fail, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_fetch_token_never_leaks, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fetch_file_urls, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fetch_many_files_with_retry_verdict, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
