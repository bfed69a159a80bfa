/* test_graph.c -- unit tests of Graph API URLs, answer parsing and exact-id repair */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mly/graph.h"

#define P53 (UINT64_C(1) << 53)

/* ---- URLs ------------------------------------------------------------- */

static void test_image_ids_url_plain_and_trailing_slash(void **state)
{
  (void)state;
  char out[256];
  const char *seq = "reewegrhgd8dmunb5as41c";
  assert_true(graph_image_ids_url("https://graph.mapillary.com", seq, strlen(seq), out,
                                  sizeof(out)));
  assert_string_equal(out, "https://graph.mapillary.com/image_ids?sequence_id="
                           "reewegrhgd8dmunb5as41c");
  /* a root configured with trailing slashes gives the same URL */
  assert_true(graph_image_ids_url("http://127.0.0.1:8080//", seq, strlen(seq), out,
                                  sizeof(out)));
  assert_string_equal(out, "http://127.0.0.1:8080/image_ids?sequence_id=reewegrhgd8dmunb5as41c");
}

static void test_image_ids_url_uses_only_n_bytes(void **state)
{
  (void)state;
  char out[128];
  /* the id is a borrowed tile view: bytes past n are not part of it */
  assert_true(graph_image_ids_url("http://h", "abcXYZ", 3, out, sizeof(out)));
  assert_string_equal(out, "http://h/image_ids?sequence_id=abc");
}

static void test_image_ids_url_percent_encodes(void **state)
{
  (void)state;
  char out[256];
  const char seq[] = "a b&c=d/e?f#g%h+i|j~k-l.m_n\x01\xff\0z";
  assert_true(graph_image_ids_url("http://h", seq, sizeof(seq) - 1, out, sizeof(out)));
  assert_string_equal(out, "http://h/image_ids?sequence_id="
                           "a%20b%26c%3Dd%2Fe%3Ff%23g%25h%2Bi%7Cj~k-l.m_n%01%FF%00z");
}

static void test_image_ids_url_refuses_what_does_not_fit(void **state)
{
  (void)state;
  const char *root = "http://h";
  const char *want = "http://h/image_ids?sequence_id=a%2F";
  size_t len = strlen(want);
  char out[64];
  /* exactly enough room (with the NUL) fits; one byte less does not */
  assert_true(graph_image_ids_url(root, "a/", 2, out, len + 1));
  assert_string_equal(out, want);
  memset(out, 'x', sizeof(out));
  assert_false(graph_image_ids_url(root, "a/", 2, out, len));
  assert_string_equal(out, "");
  /* cut inside a %XX escape */
  assert_false(graph_image_ids_url(root, "a/", 2, out, len - 1));
  assert_false(graph_image_ids_url(root, "a/", 2, out, 0));
  assert_false(graph_image_ids_url(root, "", 0, out, sizeof(out)));
  assert_false(graph_image_ids_url(NULL, "a", 1, out, sizeof(out)));
  assert_false(graph_image_ids_url(root, NULL, 1, out, sizeof(out)));
}

static void test_org_url(void **state)
{
  (void)state;
  char out[128];
  assert_true(graph_org_url("https://graph.mapillary.com/", "1805883732926354", out,
                            sizeof(out)));
  assert_string_equal(out, "https://graph.mapillary.com/1805883732926354?fields=name");
  /* a hostile id cannot change the path or the query */
  assert_true(graph_org_url("http://h", "../x?fields=token&a", out, sizeof(out)));
  assert_string_equal(out, "http://h/..%2Fx%3Ffields%3Dtoken%26a?fields=name");
  const char *want = "http://h/12?fields=name";
  assert_true(graph_org_url("http://h", "12", out, strlen(want) + 1));
  assert_false(graph_org_url("http://h", "12", out, strlen(want)));
  assert_string_equal(out, "");
  assert_false(graph_org_url("http://h", "", out, sizeof(out)));
  assert_false(graph_org_url("http://h", NULL, out, sizeof(out)));
}

/* ---- image_ids answers ------------------------------------------------- */

static enum mly_rc parse_ids(const char *body, uint64_t **ids, size_t *n, struct mly_err *err)
{
  return graph_parse_image_ids(body, strlen(body), ids, n, err);
}

static void test_parse_ids_as_strings_in_order(void **state)
{
  (void)state;
  const char *body = "{\"data\":[{\"id\":\"26774514888887982\"},{\"id\":\"18446744073709551615\"},"
                     "{\"id\":\"0\"},{\"id\":\"9007199254740993\",\"extra\":[1,2]}],"
                     "\"paging\":{}}";
  uint64_t *ids = NULL;
  size_t n = 0;
  struct mly_err err = {0};
  assert_int_equal(parse_ids(body, &ids, &n, &err), MLY_OK);
  assert_int_equal(n, 4);
  assert_true(ids[0] == UINT64_C(26774514888887982));
  assert_true(ids[1] == UINT64_MAX);
  assert_true(ids[2] == 0);
  assert_true(ids[3] == P53 + 1);
  free(ids);
}

static void test_parse_ids_as_exact_integers(void **state)
{
  (void)state;
  const char *body = "{\"data\":[{\"id\":26774514888887982},{\"id\":\"5\"},"
                     "{\"id\":9223372036854775807}]}";
  uint64_t *ids = NULL;
  size_t n = 0;
  struct mly_err err = {0};
  assert_int_equal(parse_ids(body, &ids, &n, &err), MLY_OK);
  assert_int_equal(n, 3);
  assert_true(ids[0] == UINT64_C(26774514888887982));
  assert_true(ids[1] == 5);
  assert_true(ids[2] == UINT64_C(9223372036854775807));
  free(ids);
}

static void test_parse_ids_empty_list(void **state)
{
  (void)state;
  uint64_t *ids = (uint64_t *)&ids; /* must be overwritten */
  size_t n = 99;
  struct mly_err err = {0};
  assert_int_equal(parse_ids(" {\"data\" : [ ] }\n", &ids, &n, &err), MLY_OK);
  assert_int_equal(n, 0);
  assert_null(ids);
}

/* Each body must fail with rc, leave nothing behind, and say what is wrong
 * in one line containing `says`. */
static void expect_ids_fail(const char *body, size_t len, enum mly_rc rc, const char *says)
{
  uint64_t *ids = NULL;
  size_t n = 7;
  struct mly_err err = {0};
  assert_int_equal(graph_parse_image_ids(body, len, &ids, &n, &err), rc);
  assert_int_equal(err.rc, rc);
  assert_null(ids);
  assert_int_equal(n, 0);
  assert_non_null(strstr(err.msg, says));
  assert_null(strchr(err.msg, '\n'));
  size_t l = strlen(err.msg);
  assert_true(l > 0 && err.msg[l - 1] != '.');
}

static void test_parse_ids_refuses_malformed(void **state)
{
  (void)state;
#define FAIL(body, rc, says) expect_ids_fail(body, strlen(body), rc, says)
  FAIL("", MLY_EFORMAT, "not JSON");
  FAIL("<html>bad gateway</html>", MLY_EFORMAT, "not JSON");
  FAIL("{\"data\":[{\"id\":\"1\"}", MLY_EFORMAT, "not JSON");
  FAIL("[1,2]", MLY_EFORMAT, "not a JSON object");
  FAIL("{}", MLY_EFORMAT, "no data");
  FAIL("{\"dat\":[]}", MLY_EFORMAT, "no data");
  FAIL("{\"data\":{}}", MLY_EFORMAT, "not an array");
  FAIL("{\"data\":[],\"data\":[]}", MLY_EFORMAT, "not JSON");
  FAIL("{\"data\":[\"1\"]}", MLY_EFORMAT, "data[0] is not an object");
  FAIL("{\"data\":[{\"id\":\"1\"},{}]}", MLY_EFORMAT, "data[1] has no id");
  FAIL("{\"data\":[{\"id\":\"abc\"}]}", MLY_EFORMAT, "data[0].id is not a decimal id");
  FAIL("{\"data\":[{\"id\":\"\"}]}", MLY_EFORMAT, "not a decimal id");
  FAIL("{\"data\":[{\"id\":\"-1\"}]}", MLY_EFORMAT, "not a decimal id");
  FAIL("{\"data\":[{\"id\":\"+1\"}]}", MLY_EFORMAT, "not a decimal id");
  FAIL("{\"data\":[{\"id\":\" 1\"}]}", MLY_EFORMAT, "not a decimal id");
  FAIL("{\"data\":[{\"id\":\"12 \"}]}", MLY_EFORMAT, "not a decimal id");
  FAIL("{\"data\":[{\"id\":\"0123\"}]}", MLY_EFORMAT, "not a decimal id");
  FAIL("{\"data\":[{\"id\":\"1e5\"}]}", MLY_EFORMAT, "not a decimal id");
  /* 2^64 and beyond: one past the largest uint64, and far past it */
  FAIL("{\"data\":[{\"id\":\"18446744073709551616\"}]}", MLY_EFORMAT, "below 2^64");
  FAIL("{\"data\":[{\"id\":\"99999999999999999999999\"}]}", MLY_EFORMAT, "below 2^64");
  /* a JSON integer beyond int64 cannot be held exactly: jansson refuses it */
  FAIL("{\"data\":[{\"id\":18446744073709551615}]}", MLY_EFORMAT, "not JSON");
  /* a real may already be rounded, even when it looks integral */
  FAIL("{\"data\":[{\"id\":26774514888887984.0}]}", MLY_EFORMAT, "real number");
  FAIL("{\"data\":[{\"id\":2.6774514888887984e16}]}", MLY_EFORMAT, "real number");
  FAIL("{\"data\":[{\"id\":-3}]}", MLY_EFORMAT, "negative");
  FAIL("{\"data\":[{\"id\":true}]}", MLY_EFORMAT, "not a string");
  FAIL("{\"data\":[{\"id\":null}]}", MLY_EFORMAT, "not a string");
  /* an "error" that is not an object is no Graph error body */
  FAIL("{\"error\":\"oops\"}", MLY_EFORMAT, "no data");
#undef FAIL
  /* an embedded NUL ends nothing: the length given is what counts */
  static const char nul[] = "{\"data\":[]}\0garbage";
  expect_ids_fail(nul, sizeof(nul) - 1, MLY_EFORMAT, "not JSON");
}

static void test_parse_ids_refuses_huge_body(void **state)
{
  (void)state;
  /* a valid answer just over the byte cap: refused before parsing */
  size_t len = GRAPH_BODY_MAX + 1;
  char *body = malloc(len);
  assert_non_null(body);
  memset(body, ' ', len);
  memcpy(body, "{\"data\":[]}", strlen("{\"data\":[]}"));
  expect_ids_fail(body, len, MLY_ETOOBIG, "over the limit");
  /* the same answer at the cap itself is fine */
  uint64_t *ids = NULL;
  size_t n = 0;
  struct mly_err err = {0};
  assert_int_equal(graph_parse_image_ids(body, len - 1, &ids, &n, &err), MLY_OK);
  assert_int_equal(n, 0);
  free(body);
}

static void test_parse_ids_refuses_too_many_ids(void **state)
{
  (void)state;
  /* {"id":1} takes 9 bytes with its comma: GRAPH_IDS_MAX + 1 of them fit in
   * the byte cap, so the count cap is what refuses them */
  size_t count = GRAPH_IDS_MAX + 1, len = 0;
  char *body = malloc(count * 9 + 32);
  assert_non_null(body);
  len += (size_t)sprintf(body, "{\"data\":[");
  for(size_t i = 0; i < count; i++)
    len += (size_t)sprintf(body + len, "%s{\"id\":1}", i ? "," : "");
  len += (size_t)sprintf(body + len, "]}");
  assert_true(len <= GRAPH_BODY_MAX);
  expect_ids_fail(body, len, MLY_ETOOBIG, "over the limit");
  free(body);
}

/* ---- error bodies ------------------------------------------------------ */

static void test_error_bodies_map_to_status(void **state)
{
  (void)state;
  const char *rate = "{\"error\":{\"message\":\"(#4) Application request limit reached\","
                     "\"type\":\"OAuthException\",\"code\":4,\"fbtrace_id\":\"Axyz\"}}";
  expect_ids_fail(rate, strlen(rate), MLY_ERATE,
                  "graph api error 4: (#4) Application request limit reached");
  const char *auth = "{\"error\":{\"message\":\"Invalid OAuth access token.\","
                     "\"type\":\"OAuthException\",\"code\":190}}";
  expect_ids_fail(auth, strlen(auth), MLY_EAUTH, "graph api error 190: Invalid OAuth access token");
  const char *other = "{\"error\":{\"message\":\"Unsupported get request\","
                      "\"type\":\"GraphMethodException\",\"code\":100}}";
  expect_ids_fail(other, strlen(other), MLY_EHTTP, "graph api error 100: Unsupported get request");
  const char *nocode = "{\"error\":{\"type\":\"x\"}}";
  expect_ids_fail(nocode, strlen(nocode), MLY_EHTTP, "graph api error: no message");

  /* the same bodies for the organization request */
  char *name = (char *)"unchanged";
  struct mly_err err = {0};
  assert_int_equal(graph_parse_org_name(auth, strlen(auth), &name, &err), MLY_EAUTH);
  assert_null(name);
  assert_non_null(strstr(err.msg, "190"));
  assert_int_equal(graph_parse_org_name(rate, strlen(rate), &name, &err), MLY_ERATE);
  assert_int_equal(graph_parse_org_name(other, strlen(other), &name, &err), MLY_EHTTP);
}

static void test_error_code_classifies(void **state)
{
  (void)state;
  char msg[128];
  const char *rate = "{\"error\":{\"message\":\"Application request limit reached\",\"code\":4}}";
  assert_int_equal(graph_error_code(rate, strlen(rate), msg, sizeof(msg)), 4);
  assert_string_equal(msg, "Application request limit reached");
  const char *auth = "{\"error\":{\"message\":\"Invalid OAuth access token.\",\"code\":190}}";
  assert_int_equal(graph_error_code(auth, strlen(auth), msg, sizeof(msg)), 190);
  assert_string_equal(msg, "Invalid OAuth access token");
  const char *other = "{\"error\":{\"message\":\"x\\ny\",\"code\":2}}";
  assert_int_equal(graph_error_code(other, strlen(other), msg, sizeof(msg)), 2);
  assert_string_equal(msg, "x y");
  /* a message that cleans to nothing is no message */
  const char *dots = "{\"error\":{\"message\":\" ...\",\"code\":4}}";
  assert_int_equal(graph_error_code(dots, strlen(dots), msg, sizeof(msg)), 4);
  assert_string_equal(msg, "no message");
  /* an error body without a usable code */
  const char *bad[] = {"{\"error\":{}}", "{\"error\":{\"code\":\"4\"}}",
                       "{\"error\":{\"code\":4.0}}", "{\"error\":{\"code\":0}}",
                       "{\"error\":{\"code\":-4}}", "{\"error\":{\"code\":99999999999}}"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(graph_error_code(bad[i], strlen(bad[i]), msg, sizeof(msg)), -1);
    assert_string_equal(msg, "no message");
  }
  /* not error bodies */
  const char *not_err[] = {"", "nope", "{\"data\":[]}", "{\"name\":\"x\"}", "[{\"error\":{}}]",
                           "{\"error\":null}", "{\"error\":{\"code\":4}"};
  for(size_t i = 0; i < sizeof(not_err) / sizeof(not_err[0]); i++) {
    strcpy(msg, "stale");
    assert_int_equal(graph_error_code(not_err[i], strlen(not_err[i]), msg, sizeof(msg)), 0);
    assert_string_equal(msg, "");
  }
  /* msg is optional, and a small one is cut, still terminated */
  assert_int_equal(graph_error_code(rate, strlen(rate), NULL, 0), 4);
  char small[6];
  assert_int_equal(graph_error_code(rate, strlen(rate), small, sizeof(small)), 4);
  assert_string_equal(small, "Appli");
}

static void test_error_message_hides_token_like_words(void **state)
{
  (void)state;
  char msg[200];
  const char *tok = "MLY|4142433049200173|72206abe5035850d6743b23a49c41333";
  char body[512];
  snprintf(body, sizeof(body),
           "{\"error\":{\"message\":\"Malformed access token %s; see "
           "https://x.test/a?access_token=%s. code:%s\",\"code\":190}}",
           tok, tok, tok);
  assert_int_equal(graph_error_code(body, strlen(body), msg, sizeof(msg)), 190);
  assert_null(strstr(msg, "4142433049200173"));
  assert_null(strstr(msg, "72206abe"));
  assert_string_equal(msg, "Malformed access token [redacted]; see "
                           "https://x.test/a?access_token=[redacted] code:[redacted]");
  struct mly_err err = {0};
  uint64_t *ids = NULL;
  size_t n = 0;
  assert_int_equal(graph_parse_image_ids(body, strlen(body), &ids, &n, &err), MLY_EAUTH);
  assert_null(strstr(err.msg, "72206abe"));
  /* ordinary words and short numbers stay */
  const char *plain = "{\"error\":{\"message\":\"(#100) Tried accessing nonexisting field "
                      "(image_ids) on node 12345\",\"code\":100}}";
  assert_int_equal(graph_error_code(plain, strlen(plain), msg, sizeof(msg)), 100);
  assert_string_equal(msg, "(#100) Tried accessing nonexisting field (image_ids) on node 12345");
}

/* ---- organization answers --------------------------------------------- */

static void test_parse_org_name(void **state)
{
  (void)state;
  const char *body = "{\"name\":\"Colorado DOT \\u00e9\",\"id\":\"1805883732926354\"}";
  char *name = NULL;
  struct mly_err err = {0};
  assert_int_equal(graph_parse_org_name(body, strlen(body), &name, &err), MLY_OK);
  assert_string_equal(name, "Colorado DOT \xc3\xa9");
  free(name);

  const char *bad[] = {"", "{}", "{\"name\":5}", "{\"name\":null}", "[\"name\"]",
                       "{\"name\":\"a\\u0000b\"}", "{\"name\":\"a\",\"name\":\"b\"}"};
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    name = (char *)"unchanged";
    memset(&err, 0, sizeof(err));
    assert_int_equal(graph_parse_org_name(bad[i], strlen(bad[i]), &name, &err), MLY_EFORMAT);
    assert_null(name);
    assert_true(err.msg[0] != '\0');
    assert_non_null(strstr(err.msg, "organization answer"));
  }
}

/* ---- exact-id repair --------------------------------------------------- */

static struct idrepair *repair_of(const uint64_t *ids, size_t n)
{
  struct idrepair *r = NULL;
  assert_int_equal(idrepair_new(ids, n, &r), MLY_OK);
  assert_non_null(r);
  return r;
}

static void test_documented_case_resolves_back(void **state)
{
  (void)state;
  const uint64_t exact = UINT64_C(26774514888887982);
  /* the tile serves the id rounded to even: that is what we must undo */
  assert_true((uint64_t)(double)exact == UINT64_C(26774514888887984));
  assert_true(idrepair_needed(UINT64_C(26774514888887984)));
  uint64_t seq[] = {UINT64_C(100), exact, UINT64_C(26774514888890000)};
  struct idrepair *r = repair_of(seq, 3);
  assert_int_equal(idrepair_count(r), 3);
  uint64_t got = 0;
  assert_int_equal(idrepair_resolve(r, UINT64_C(26774514888887984), 0, &got), 1);
  assert_true(got == exact);
  /* a unique match whatever the rank (the same image met twice) */
  assert_int_equal(idrepair_resolve(r, UINT64_C(26774514888887984), 3, &got), 1);
  assert_true(got == exact);
  /* small ids resolve to themselves */
  assert_int_equal(idrepair_resolve(r, 100, 0, &got), 1);
  assert_true(got == 100);
  idrepair_free(&r);
  assert_null(r);
  idrepair_free(&r);
  idrepair_free(NULL);
}

static void test_collision_handed_out_in_sequence_order(void **state)
{
  (void)state;
  /* above 2^54 doubles are 4 apart: ...981, ...982, ...983 all round to
   * ...980 or ...984; 981 -> 980, 982 -> 984 (tie to even), 983 -> 984,
   * 985 -> 984, 986 -> 984 (tie to even) */
  const uint64_t base = UINT64_C(26774514888887980);
  uint64_t seq[] = {base + 6, base + 1, base + 3, base + 2, base + 5};
  for(size_t i = 0; i < 5; i++)
    assert_true((double)seq[i] == (i == 1 ? (double)base : (double)(base + 4)));
  struct idrepair *r = repair_of(seq, 5);
  uint64_t got = 0;
  /* the rank-th in sequence order, whatever order they are asked in */
  assert_int_equal(idrepair_resolve(r, base + 4, 2, &got), 4);
  assert_true(got == base + 2);
  assert_int_equal(idrepair_resolve(r, base + 4, 0, &got), 4);
  assert_true(got == base + 6);
  assert_int_equal(idrepair_resolve(r, base + 4, 1, &got), 4);
  assert_true(got == base + 3);
  assert_int_equal(idrepair_resolve(r, base + 4, 3, &got), 4);
  assert_true(got == base + 5);
  /* beyond the candidates: the last one, never wrapping to the first */
  assert_int_equal(idrepair_resolve(r, base + 4, 4, &got), 4);
  assert_true(got == base + 5);
  /* the other group is independent */
  assert_int_equal(idrepair_resolve(r, base, 0, &got), 1);
  assert_true(got == base + 1);
  idrepair_free(&r);
}

static void test_two_way_collision_and_duplicates(void **state)
{
  (void)state;
  /* 2^53 + 1 rounds (to even) to 2^53: the pair collides */
  uint64_t seq[] = {P53 + 1, P53, P53 + 1};
  struct idrepair *r = repair_of(seq, 3);
  /* the repeated id is one image */
  assert_int_equal(idrepair_count(r), 2);
  uint64_t got = 0;
  assert_int_equal(idrepair_resolve(r, P53, 0, &got), 2);
  assert_true(got == P53 + 1);
  assert_int_equal(idrepair_resolve(r, P53, 1, &got), 2);
  assert_true(got == P53);
  idrepair_free(&r);
}

static void test_unknown_rounded_id_gives_zero(void **state)
{
  (void)state;
  uint64_t seq[] = {UINT64_C(26774514888887982), UINT64_C(40000000000000001)};
  struct idrepair *r = repair_of(seq, 2);
  uint64_t got = 1;
  assert_int_equal(idrepair_resolve(r, UINT64_C(26774514888887988), 0, &got), 0);
  assert_true(got == UINT64_C(26774514888887988));
  assert_int_equal(idrepair_resolve(r, 0, 0, &got), 0);
  assert_int_equal(idrepair_resolve(r, UINT64_MAX, 0, &got), 0);
  idrepair_free(&r);
  /* an empty sequence knows nothing */
  r = repair_of(NULL, 0);
  assert_int_equal(idrepair_count(r), 0);
  assert_int_equal(idrepair_resolve(r, UINT64_C(26774514888887984), 0, &got), 0);
  idrepair_free(&r);
}

static void test_needed_from_two_to_the_53(void **state)
{
  (void)state;
  assert_false(idrepair_needed(0));
  assert_false(idrepair_needed(P53 - 1));
  /* 2^53 may stand for 2^53 + 1 (ties to even), so it needs repair too */
  assert_true((double)(P53 + 1) == (double)P53);
  assert_true(idrepair_needed(P53));
  assert_true(idrepair_needed(P53 + 2));
  assert_true(idrepair_needed(UINT64_MAX));
}

static uint64_t rng_next(uint64_t *s)
{
  /* splitmix64: deterministic, so a failure reproduces */
  uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

/* A random id above 2^53 whose double still fits a uint64 (doubles of ids
 * within 2^10 of 2^64 round up to 2^64). Mostly like real ids (below
 * 2^56), some over the whole range. */
static uint64_t random_big_id(uint64_t *s)
{
  uint64_t r = rng_next(s);
  uint64_t top = (r & 3) ? (UINT64_C(1) << 56) : UINT64_MAX - 4096;
  return P53 + 1 + rng_next(s) % (top - P53 - 1);
}

static void test_property_random_ids_resolve_back(void **state)
{
  (void)state;
  enum { N = 10000 };
  uint64_t seed = 20240501, *ids = malloc(N * sizeof(*ids));
  assert_non_null(ids);
  for(size_t i = 0; i < N; i++)
    ids[i] = random_big_id(&seed);
  struct idrepair *r = repair_of(ids, N);
  size_t unique = 0;
  for(size_t i = 0; i < N; i++) {
    /* whether another id of the set takes the same double */
    size_t same = 0;
    for(size_t j = 0; j < N; j++)
      same += (double)ids[j] == (double)ids[i] && ids[j] != ids[i];
    if(same)
      continue;
    unique++;
    uint64_t rounded = (uint64_t)(double)ids[i], got = 0;
    assert_true(idrepair_needed(rounded));
    assert_int_equal(idrepair_resolve(r, rounded, 0, &got), 1);
    assert_true(got == ids[i]);
  }
  assert_true(unique > N - 10);
  idrepair_free(&r);
  free(ids);
}

static void test_property_dense_ids_each_handed_out_once(void **state)
{
  (void)state;
  /* ids a few apart around 2^55 (doubles 8 apart): collisions everywhere.
   * Resolving each id's double once per id must hand out every id exactly
   * once, and within a double in sequence order. */
  enum { N = 4000 };
  uint64_t seed = 7, *ids = malloc(N * sizeof(*ids)), *got = malloc(N * sizeof(*got));
  assert_non_null(ids);
  assert_non_null(got);
  uint64_t v = (UINT64_C(1) << 55) + 12345;
  for(size_t i = 0; i < N; i++) {
    v += 1 + rng_next(&seed) % 5;
    ids[i] = v;
  }
  /* shuffle: sequence order need not follow id order */
  for(size_t i = N - 1; i > 0; i--) {
    size_t j = (size_t)(rng_next(&seed) % (i + 1));
    uint64_t t = ids[i];
    ids[i] = ids[j];
    ids[j] = t;
  }
  struct idrepair *r = repair_of(ids, N);
  size_t collided = 0;
  for(size_t i = 0; i < N; i++) {
    /* the images of one double ranked in sequence order */
    size_t rank = 0;
    for(size_t j = 0; j < i; j++)
      rank += (double)ids[j] == (double)ids[i];
    size_t k = idrepair_resolve(r, (uint64_t)(double)ids[i], rank, &got[i]);
    assert_true(k >= 1);
    collided += k > 1;
    size_t seen = 0, want = SIZE_MAX;
    for(size_t j = 0; j < N && want == SIZE_MAX; j++)
      if((double)ids[j] == (double)ids[i] && seen++ == rank)
        want = j;
    assert_true(want != SIZE_MAX);
    assert_true(got[i] == ids[want]);
  }
  assert_true(collided > N / 2);
  idrepair_free(&r);
  free(ids);
  free(got);
}

/* ---- entities (image URLs) ------------------------------------------------ */

static void test_entities_url_forms(void **state)
{
  char out[256];
  uint64_t ids[] = {1, 18446744073709551615ull, 42};
  assert_true(graph_entities_url("http://h/", GRAPH_FORM_IDS, ids, 3, "id,thumb_1024_url", out,
                                 sizeof(out)));
  assert_string_equal(out, "http://h?ids=1,18446744073709551615,42&fields=id,thumb_1024_url");
  assert_true(graph_entities_url("http://h", GRAPH_FORM_IMAGES, ids, 2, "id,creator{username}",
                                 out, sizeof(out)));
  assert_string_equal(out, "http://h/images?image_ids=1,18446744073709551615"
                           "&fields=id,creator%7Busername%7D");
  assert_true(graph_entities_url("http://h", GRAPH_FORM_ONE, ids + 2, 1, "id,thumb_256_url", out,
                                 sizeof(out)));
  assert_string_equal(out, "http://h/42?fields=id,thumb_256_url");
  /* one id only for ONE; no ids, no fields, no room: refused and "" */
  assert_false(graph_entities_url("http://h", GRAPH_FORM_ONE, ids, 2, "id", out, sizeof(out)));
  assert_string_equal(out, "");
  assert_false(graph_entities_url("http://h", GRAPH_FORM_IDS, ids, 0, "id", out, sizeof(out)));
  assert_false(graph_entities_url("http://h", GRAPH_FORM_IDS, ids, 1, "", out, sizeof(out)));
  assert_false(graph_entities_url("http://h", GRAPH_FORM_IDS, ids, 3, "id", out, 30));
  assert_string_equal(out, "");
  /* field text cannot smuggle a parameter in */
  assert_true(graph_entities_url("http://h", GRAPH_FORM_ONE, ids, 1, "id&access_token=x", out,
                                 sizeof(out)));
  assert_string_equal(out, "http://h/1?fields=id%26access_token%3Dx");
}

struct seen {
  int n;
  uint64_t id[8];
  char url[8][64];
  int stop_at; /* return MLY_EINVAL at this visit (1-based), 0: never */
};

static enum mly_rc visit(void *user, uint64_t id, json_t *ent)
{
  struct seen *s = user;
  assert_true(json_is_object(ent));
  assert_true(s->n < 8);
  s->id[s->n] = id;
  json_t *u = json_object_get(ent, "thumb_1024_url");
  snprintf(s->url[s->n], sizeof(s->url[0]), "%s", json_is_string(u) ? json_string_value(u) : "");
  s->n++;
  return s->stop_at && s->n == s->stop_at ? MLY_EINVAL : MLY_OK;
}

static enum mly_rc parse_form(const char *body, enum graph_form form, struct seen *s,
                              struct mly_err *err)
{
  memset(s, 0, sizeof(*s));
  return graph_parse_entities(body, strlen(body), form, visit, s, err);
}

static void test_parse_entities_each_form(void **state)
{
  struct seen s;
  struct mly_err err = {0};
  /* keyed: keys are the ids; non-entities skipped */
  assert_int_equal(parse_form("{\"11\":{\"id\":\"11\",\"thumb_1024_url\":\"http://c/a\"},"
                              "\"x\":{},\"12\":5,\"13\":{}}",
                              GRAPH_FORM_IDS, &s, &err), MLY_OK);
  assert_int_equal(s.n, 2);
  assert_true(s.id[0] == 11 && s.id[1] == 13);
  assert_string_equal(s.url[0], "http://c/a");
  /* data array: ids as strings or integers; elements without one skipped */
  assert_int_equal(parse_form("{\"data\":[{\"id\":\"7\"},{\"id\":8},{\"id\":-1},{\"id\":1.5},"
                              "{},3,{\"id\":\"0x9\"}]}",
                              GRAPH_FORM_IMAGES, &s, &err), MLY_OK);
  assert_int_equal(s.n, 2);
  assert_true(s.id[0] == 7 && s.id[1] == 8);
  assert_int_equal(parse_form("{\"id\":\"26774514888887982\"}", GRAPH_FORM_ONE, &s, &err), MLY_OK);
  assert_true(s.n == 1 && s.id[0] == 26774514888887982ull);
  /* shapes that are not the form's */
  assert_int_equal(parse_form("{\"items\":[]}", GRAPH_FORM_IMAGES, &s, &err), MLY_EFORMAT);
  assert_int_equal(parse_form("{\"name\":\"x\"}", GRAPH_FORM_ONE, &s, &err), MLY_EFORMAT);
  assert_int_equal(parse_form("[]", GRAPH_FORM_IDS, &s, &err), MLY_EFORMAT);
  assert_int_equal(parse_form("{\"1\":{", GRAPH_FORM_IDS, &s, &err), MLY_EFORMAT);
  assert_int_equal(s.n, 0);
  /* error bodies */
  assert_int_equal(parse_form("{\"error\":{\"code\":190,\"message\":\"bad\"}}", GRAPH_FORM_IDS, &s,
                              &err), MLY_EAUTH);
  assert_int_equal(parse_form("{\"error\":{\"code\":4}}", GRAPH_FORM_IMAGES, &s, &err), MLY_ERATE);
  assert_int_equal(parse_form("{\"error\":{\"code\":100,\"message\":\"Unsupported get request.\"}}",
                              GRAPH_FORM_ONE, &s, &err), MLY_EHTTP);
  assert_string_equal(err.msg, "graph api error 100: Unsupported get request");
  /* a visit's status ends the parse as it is */
  memset(&s, 0, sizeof(s));
  s.stop_at = 1;
  const char *two = "{\"1\":{},\"2\":{}}";
  assert_int_equal(graph_parse_entities(two, strlen(two), GRAPH_FORM_IDS, visit, &s, &err),
                   MLY_EINVAL);
  assert_int_equal(s.n, 1);
}

/* Every Graph request's outcome reads one way (orgnames, the job, imgurl) */
static void test_outcome_of_each_status_and_parse(void **state)
{
  (void)state;
  struct mly_err perr = {0};
  mly_err_set(&perr, MLY_EHTTP, "parse says");
  static const struct {
    enum fetch_status st;
    enum mly_rc parsed;
    enum graph_outcome want;
    enum mly_rc why;
    const char *msg; /* res->msg after, NULL: as it was */
  } cases[] = {
    {FETCH_OK, MLY_OK, GRAPH_ANSWER, MLY_OK, NULL},
    {FETCH_OK, MLY_EHTTP, GRAPH_UNKNOWN, MLY_OK, NULL},
    {FETCH_OK, MLY_ERATE, GRAPH_RETRY, MLY_OK, "parse says"},
    {FETCH_OK, MLY_EFORMAT, GRAPH_RETRY, MLY_OK, "parse says"},
    {FETCH_OK, MLY_ETOOBIG, GRAPH_FAILED, MLY_OK, "parse says"},
    {FETCH_OK, MLY_EAUTH, GRAPH_STOP, MLY_EAUTH, "parse says"},
    {FETCH_OK, MLY_ENOMEM, GRAPH_STOP, MLY_ENOMEM, "out of memory"},
    {FETCH_EMPTY, MLY_EAUTH, GRAPH_UNKNOWN, MLY_OK, NULL}, /* parsed ignored */
    {FETCH_REFUSED, MLY_OK, GRAPH_UNKNOWN, MLY_OK, NULL},
    {FETCH_FAILED, MLY_OK, GRAPH_FAILED, MLY_OK, NULL},
    {FETCH_TOOBIG, MLY_OK, GRAPH_FAILED, MLY_OK, NULL},
    {FETCH_AUTH, MLY_OK, GRAPH_STOP, MLY_EAUTH, NULL},
    {FETCH_RATE_LIMIT, MLY_OK, GRAPH_STOP, MLY_ERATE, NULL},
  };
  for(size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
    struct fetch_result res = {.status = cases[k].st};
    snprintf(res.msg, sizeof(res.msg), "fetch says");
    enum mly_rc why = MLY_OK;
    assert_int_equal(graph_outcome(&res, cases[k].parsed, &perr, &why), cases[k].want);
    assert_int_equal(why, cases[k].why);
    assert_string_equal(res.msg, cases[k].msg ? cases[k].msg : "fetch says");
  }
  struct fetch_req req = {0};
  int user;
  graph_request(&req, &user);
  assert_int_equal(req.auth, FETCH_AUTH_HEADER);
  assert_int_equal(req.kind, FETCH_KIND_GRAPH);
  assert_ptr_equal(req.user, &user);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_image_ids_url_plain_and_trailing_slash),
    cmocka_unit_test(test_image_ids_url_uses_only_n_bytes),
    cmocka_unit_test(test_image_ids_url_percent_encodes),
    cmocka_unit_test(test_image_ids_url_refuses_what_does_not_fit),
    cmocka_unit_test(test_org_url),
    cmocka_unit_test(test_parse_ids_as_strings_in_order),
    cmocka_unit_test(test_parse_ids_as_exact_integers),
    cmocka_unit_test(test_parse_ids_empty_list),
    cmocka_unit_test(test_parse_ids_refuses_malformed),
    cmocka_unit_test(test_parse_ids_refuses_huge_body),
    cmocka_unit_test(test_parse_ids_refuses_too_many_ids),
    cmocka_unit_test(test_error_bodies_map_to_status),
    cmocka_unit_test(test_error_code_classifies),
    cmocka_unit_test(test_error_message_hides_token_like_words),
    cmocka_unit_test(test_parse_org_name),
    cmocka_unit_test(test_documented_case_resolves_back),
    cmocka_unit_test(test_collision_handed_out_in_sequence_order),
    cmocka_unit_test(test_two_way_collision_and_duplicates),
    cmocka_unit_test(test_unknown_rounded_id_gives_zero),
    cmocka_unit_test(test_needed_from_two_to_the_53),
    cmocka_unit_test(test_property_random_ids_resolve_back),
    cmocka_unit_test(test_property_dense_ids_each_handed_out_once),
    cmocka_unit_test(test_entities_url_forms),
    cmocka_unit_test(test_parse_entities_each_form),
    cmocka_unit_test(test_outcome_of_each_status_and_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
