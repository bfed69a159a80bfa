/* test_review_html.c -- unit tests of the review page writer: escaping, the embedded data, the key, complete-or-absent */
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

#include "mly/review_html.h"

/* ---- helpers --------------------------------------------------------------- */

static int setup_dir(void **state)
{
  const char *base = getenv("TMPDIR");
  char tmpl[512];
  snprintf(tmpl, sizeof(tmpl), "%s/mly-test-review-XXXXXX", base && *base ? base : "/tmp");
  char *d = mkdtemp(tmpl);
  if(!d)
    return -1;
  *state = strdup(d);
  return *state ? 0 : -1;
}

static int teardown_dir(void **state)
{
  char *d = *state;
  DIR *dir = opendir(d);
  if(dir) {
    struct dirent *e;
    while((e = readdir(dir))) {
      char sub[1024];
      snprintf(sub, sizeof(sub), "%s/%s", d, e->d_name);
      if(strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
        unlink(sub);
    }
    closedir(dir);
  }
  rmdir(d);
  free(d);
  return 0;
}

static char *slurp(const char *path, size_t *n)
{
  FILE *f = fopen(path, "rb");
  if(!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)len + 1);
  assert_non_null(s);
  assert_int_equal(fread(s, 1, (size_t)len, f), (size_t)len);
  s[len] = 0;
  fclose(f);
  if(n)
    *n = (size_t)len;
  return s;
}

static size_t count_entries(const char *dir)
{
  size_t n = 0;
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *e;
  while((e = readdir(d)))
    n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  closedir(d);
  return n;
}

static char *escaped(const char *json)
{
  struct dbuf b;
  dbuf_init(&b, 1 << 20);
  assert_int_equal(review_html_escape_json(&b, json, strlen(json)), MLY_OK);
  char *s = strdup(dbuf_cstr(&b));
  dbuf_cleanup(&b);
  return s;
}

/* The JSON inside the page's data element, parsed */
static json_t *page_data(const char *page)
{
  const char *open = "<script id=\"mly-data\" type=\"application/json\">";
  const char *at = strstr(page, open);
  assert_non_null(at);
  at += strlen(open);
  const char *end = strstr(at, "</script>");
  assert_non_null(end);
  json_error_t je;
  json_t *v = json_loadb(at, (size_t)(end - at), 0, &je);
  if(!v)
    fail_msg("page data does not parse: %s at %d", je.text, je.position);
  return v;
}

/* A sequence feature as create_custom_sequences writes one */
static json_t *sequence(const char *id, double lon0, const char *url)
{
  return json_pack("{s:s, s:{s:s, s:b, s:i, s:I, s:I, s:s, s:s, s:s}, s:{s:s, s:[[f,f],[f,f]]}}",
                   "type", "Feature", "properties", "sequence_id", id, "is_pano", 0,
                   "total_points", 2, "captured_at_start", (json_int_t)1651366800000,
                   "captured_at_end", (json_int_t)1651366860000, "images_id", "1,2",
                   "custom_url", url, "custom_urls", "http://127.0.0.1:1/b.jpg,http://127.0.0.1:1/c.jpg",
                   "geometry", "type", "LineString", "coordinates", lon0, 39.0, lon0 + 0.001, 39.001);
}

/* Write a page of the given features to dir/name; returns its text */
static char *write_page(const char *dir, const char *name, json_t **feats, size_t n)
{
  char path[1024];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  struct review_html *r = NULL;
  struct mly_err err = {0};
  assert_int_equal(review_html_open(&r, path, "in/custom_sequences.geojson", &err), MLY_OK);
  for(size_t i = 0; i < n; i++)
    assert_int_equal(review_html_add(r, json_object_get(feats[i], "properties"),
                                     json_object_get(feats[i], "geometry"), &err),
                     MLY_OK);
  assert_int_equal(review_html_count(r), n);
  assert_int_equal(review_html_close(r, &err), MLY_OK);
  assert_int_equal(review_html_publish(r, &err), MLY_OK);
  review_html_free(&r);
  assert_null(r);
  return slurp(path, NULL);
}

/* ---- escaping -------------------------------------------------------------- */

static void test_escape_leaves_no_tag_or_separator(void **state)
{
  (void)state;
  const char *in = "{\"a\":\"</script><!-- x & y > z \xe2\x80\xa8 \xe2\x80\xa9 \xe2\x80\xa7\"}";
  char *out = escaped(in);
  assert_null(strchr(out, '<'));
  assert_null(strchr(out, '>'));
  assert_null(strchr(out, '&'));
  assert_null(strstr(out, "\xe2\x80\xa8"));
  assert_null(strstr(out, "\xe2\x80\xa9"));
  assert_non_null(strstr(out, "\xe2\x80\xa7")); /* a neighbour of the separators is copied */
  assert_string_equal(out, "{\"a\":\"\\u003c/script\\u003e\\u003c!-- x \\u0026 y \\u003e z "
                           "\\u2028 \\u2029 \xe2\x80\xa7\"}");
  /* and it means the same */
  json_t *a = json_loads(in, 0, NULL), *b = json_loads(out, 0, NULL);
  assert_non_null(a);
  assert_non_null(b);
  assert_true(json_equal(a, b));
  json_decref(a);
  json_decref(b);
  free(out);
}

static void test_escape_copies_plain_text_and_cut_separators(void **state)
{
  (void)state;
  char *out = escaped("[1,2.5,\"plain \\\"text\\\"\"]");
  assert_string_equal(out, "[1,2.5,\"plain \\\"text\\\"\"]");
  free(out);
  /* a separator's first bytes at the very end are not one */
  out = escaped("\"\xe2\x80");
  assert_string_equal(out, "\"\xe2\x80");
  free(out);
}

/* ---- the page -------------------------------------------------------------- */

static void test_page_holds_the_features_as_given(void **state)
{
  const char *dir = *state;
  json_t *f[3] = {sequence("s1", -108.5, "http://127.0.0.1:1/a.jpg"),
                  sequence("s2</script><script>alert(1)</script>", -108.4,
                           "http://127.0.0.1:1/a.jpg?x=1&y=<2>"),
                  sequence("s3 \xe2\x80\xa8", -108.3, "http://127.0.0.1:1/z.jpg")};
  char *page = write_page(dir, "review.html", f, 3);
  assert_non_null(page);
  assert_int_equal(strncmp(page, "<!doctype html>", 15), 0);
  /* self-contained: no script, style or frame from elsewhere */
  assert_null(strstr(page, "<script src"));
  assert_null(strstr(page, "<link"));
  assert_null(strstr(page, "@import"));
  assert_null(strstr(page, "@MLY_REVIEW_DATA@"));
  /* the hostile id ends nothing: exactly the template's two scripts */
  size_t scripts = 0;
  for(const char *p = page; (p = strstr(p, "<script")); p++)
    scripts++;
  assert_int_equal(scripts, 2);
  assert_null(strstr(page, "\xe2\x80\xa8"));

  json_t *data = page_data(page);
  assert_string_equal(json_string_value(json_object_get(data, "source")),
                      "custom_sequences.geojson");
  json_t *feats = json_object_get(data, "features");
  assert_int_equal(json_array_size(feats), 3);
  for(size_t i = 0; i < 3; i++)
    assert_true(json_equal(json_array_get(feats, i), f[i]));
  const char *key = json_string_value(json_object_get(data, "key"));
  assert_non_null(key);
  assert_int_equal(strlen(key), 24);
  assert_int_equal(strspn(key, "0123456789abcdef"), 24);
  json_decref(data);
  free(page);
  for(size_t i = 0; i < 3; i++)
    json_decref(f[i]);
}

static char *key_of(const char *dir, json_t **f, size_t n)
{
  char *page = write_page(dir, "k.html", f, n);
  json_t *data = page_data(page);
  char *key = strdup(json_string_value(json_object_get(data, "key")));
  json_decref(data);
  free(page);
  return key;
}

static void test_key_follows_sequences_not_links(void **state)
{
  const char *dir = *state;
  json_t *a[2] = {sequence("s1", 10, "http://h/a.jpg?oe=1"), sequence("s2", 11, "http://h/b.jpg")};
  json_t *fresh[2] = {sequence("s1", 10, "http://h/a.jpg?oe=2"), sequence("s2", 11, "http://h/c.jpg")};
  json_t *moved[2] = {sequence("s1", 10, "http://h/a.jpg?oe=1"), sequence("s2", 11.5, "http://h/b.jpg")};
  json_t *renamed[2] = {sequence("s1", 10, "http://h/a.jpg?oe=1"), sequence("s9", 11, "http://h/b.jpg")};
  char *ka = key_of(dir, a, 2), *kf = key_of(dir, fresh, 2), *km = key_of(dir, moved, 2),
       *kr = key_of(dir, renamed, 2), *k1 = key_of(dir, a, 1);
  assert_string_equal(ka, kf);      /* refreshed links: the same decisions */
  assert_string_not_equal(ka, km);  /* other lines: others */
  assert_string_not_equal(ka, kr);
  assert_string_not_equal(ka, k1);
  free(ka), free(kf), free(km), free(kr), free(k1);
  for(size_t i = 0; i < 2; i++) {
    json_decref(a[i]);
    json_decref(fresh[i]);
    json_decref(moved[i]);
    json_decref(renamed[i]);
  }
}

static void test_empty_page_is_valid(void **state)
{
  const char *dir = *state;
  char *page = write_page(dir, "empty.html", NULL, 0);
  json_t *data = page_data(page);
  assert_int_equal(json_array_size(json_object_get(data, "features")), 0);
  json_decref(data);
  free(page);
}

static void test_unpublished_page_leaves_nothing(void **state)
{
  const char *dir = *state;
  char path[1024];
  snprintf(path, sizeof(path), "%s/review.html", dir);
  json_t *f = sequence("s1", 10, "http://h/a.jpg");
  struct review_html *r = NULL;
  struct mly_err err = {0};
  assert_int_equal(review_html_open(&r, path, NULL, &err), MLY_OK);
  assert_int_equal(review_html_add(r, json_object_get(f, "properties"), json_object_get(f, "geometry"),
                                   &err),
                   MLY_OK);
  assert_int_equal(review_html_close(r, &err), MLY_OK);
  assert_int_equal(count_entries(dir), 1); /* the temporary file */
  review_html_free(&r);
  assert_int_equal(count_entries(dir), 0);
  review_html_free(&r); /* a no-op */
  json_decref(f);
}

static void test_unwritable_folder_is_an_error(void **state)
{
  const char *dir = *state;
  char path[1024];
  snprintf(path, sizeof(path), "%s/file/review.html", dir);
  char file[1024];
  snprintf(file, sizeof(file), "%s/file", dir);
  FILE *fp = fopen(file, "w");
  assert_non_null(fp);
  fclose(fp);
  struct review_html *r = NULL;
  struct mly_err err = {0};
  assert_int_equal(review_html_open(&r, path, NULL, &err), MLY_EIO);
  assert_null(r);
  assert_non_null(strstr(err.msg, "file"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_escape_leaves_no_tag_or_separator),
    cmocka_unit_test(test_escape_copies_plain_text_and_cut_separators),
    cmocka_unit_test_setup_teardown(test_page_holds_the_features_as_given, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_key_follows_sequences_not_links, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_empty_page_is_valid, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_unpublished_page_leaves_nothing, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_unwritable_folder_is_an_error, setup_dir, teardown_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
