/* test_custseq.c -- unit tests of create_custom_sequences' library: points read back, review images */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "mly/custseq.h"
#include "mly/featread.h"
#include "mly/seqfeat.h"

static enum mly_rc add_text(struct custseq *c, uint64_t index, const char *text,
                            struct mly_err *err)
{
  json_error_t jerr;
  json_t *root = json_loads(text, 0, &jerr);
  if(!root)
    fail_msg("bad test JSON: %s", jerr.text);
  struct feature f = {.properties = json_object_get(root, "properties"),
                      .geometry = json_object_get(root, "geometry"),
                      .index = index};
  if(json_is_null(f.geometry))
    f.geometry = NULL;
  enum mly_rc rc = custseq_add(c, &f, err);
  json_decref(root);
  return rc;
}

static void add_point(struct custseq *c, uint64_t index, const char *id, const char *seq, long t,
                      double lon)
{
  char text[512];
  snprintf(text, sizeof(text),
           "{\"properties\":{\"id\":%s,\"sequence_id\":\"%s\",\"captured_at\":%ld,"
           "\"is_pano\":false,\"organization_id\":\"77\"},"
           "\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.7f,1.5]}}",
           id, seq, t, lon);
  struct mly_err err = {0};
  if(add_text(c, index, text, &err))
    fail_msg("custseq_add: %s", err.msg);
}

static char *write_to(struct custseq *c, const char *name, enum outfile_kind kind, size_t *nseq)
{
  char dir[] = "/tmp/mly-test-custseq-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[128];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  struct outfile o;
  struct mly_err err = {0};
  assert_int_equal(outfile_open_as(&o, path, kind, &err), MLY_OK);
  if(custseq_write(c, &o, nseq, &err))
    fail_msg("custseq_write: %s", err.msg);
  assert_int_equal(outfile_close(&o, &err), MLY_OK);
  assert_int_equal(outfile_publish(&o, &err), MLY_OK);
  outfile_abort(&o);
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  char *text = calloc(1, 1 << 16);
  size_t n = fread(text, 1, (1 << 16) - 1, fp);
  text[n] = '\0';
  fclose(fp);
  unlink(path);
  rmdir(dir);
  return text;
}

/* 11 images, shuffled: the review images are the 1st, 4th, 6th, 9th and
 * 11th in time (indexes round(k 10 / 4) = 0, 3, 5, 8, 10) */
static void test_picks_spread_evenly(void **state)
{
  (void)state;
  struct custseq *c = custseq_new(0);
  assert_non_null(c);
  const int order[11] = {7, 2, 10, 0, 5, 1, 9, 3, 8, 6, 4};
  for(int i = 0; i < 11; i++) {
    char id[16];
    snprintf(id, sizeof(id), "%d", 100 + order[i]);
    add_point(c, (uint64_t)i, id, "s", 1000 + order[i], order[i] * 0.001);
  }
  /* three images: all three; one image: no sequence */
  add_point(c, 11, "\"7\"", "t", 5, 3.0);
  add_point(c, 12, "8", "t", 6, 3.1);
  add_point(c, 13, "9", "t", 7, 3.2);
  add_point(c, 14, "1", "lonely", 7, 3.2);
  const uint64_t *ids;
  size_t n;
  struct mly_err err = {0};
  assert_int_equal(custseq_pick(c, &ids, &n, &err), MLY_OK);
  const uint64_t want[] = {7, 8, 9, 100, 103, 105, 108, 110};
  assert_int_equal(n, 8);
  for(size_t i = 0; i < n; i++)
    assert_int_equal(ids[i], want[i]);
  struct custseq_stats st;
  custseq_get_stats(c, &st);
  assert_int_equal(st.sequences, 2);
  assert_int_equal(st.read, 15);
  custseq_free(&c);
  assert_null(c);
  custseq_free(&c);
}

/* custom_url: the first review image found; custom_urls: the others found.
 * The URL text all in memory, or (url_memory small) partly or all in the
 * temporary file: the same bytes. */
static void urls_written_after_the_sequence(size_t url_memory)
{
  struct custseq *c = custseq_new(0);
  if(url_memory != CUSTSEQ_URL_MEMORY)
    custseq_set_url_memory(c, url_memory);
  for(int i = 0; i < 6; i++) {
    char id[16];
    snprintf(id, sizeof(id), "%d", 200 + i);
    add_point(c, (uint64_t)i, id, "s", 10 + i, i * 0.5);
  }
  add_point(c, 6, "300", "t", 1, 9.0);
  add_point(c, 7, "301", "t", 2, 9.5);
  const uint64_t *ids;
  size_t n;
  struct mly_err err = {0};
  assert_int_equal(custseq_pick(c, &ids, &n, &err), MLY_OK);
  /* 6 images: indexes round(k 5 / 4) = 0, 1, 3, 4, 5 (round half up: 2.5 -> 3) */
  const uint64_t want[] = {200, 201, 203, 204, 205, 300, 301};
  assert_int_equal(n, 7);
  for(size_t i = 0; i < n; i++) {
    assert_int_equal(ids[i], want[i]);
    if(ids[i] != 200 && ids[i] < 300) { /* 200 has no URL: unavailable */
      char url[64];
      snprintf(url, sizeof(url), "https://cdn.test/%llu.jpg?a=1&b=\"x\"",
               (unsigned long long)ids[i]);
      if(ids[i] == 204) /* replaced by a later answer */
        assert_int_equal(custseq_set_url(c, i, "https://cdn.test/stale", &err), MLY_OK);
      assert_int_equal(custseq_set_url(c, i, url, &err), MLY_OK);
    }
  }
  assert_int_equal(custseq_set_url(c, n, "x", &err), MLY_EINVAL);
  size_t nseq;
  char *text = write_to(c, "s.geojsonl", OUTFILE_SEQUENCES, &nseq);
  assert_int_equal(nseq, 2);
  const char *want_t =
      "{\"type\":\"Feature\",\"geometry\":{\"type\":\"LineString\",\"coordinates\":"
      "[[9.0000000,1.5000000],[9.5000000,1.5000000]]},\"properties\":{\"sequence_id\":\"t\","
      "\"is_pano\":false,\"organization_id\":\"77\",\"total_points\":2,\"captured_at_start\":1,"
      "\"captured_at_end\":2,\"images_id\":\"300,301\",\"custom_url\":\"\",\"custom_urls\":\"\"}}\n";
  assert_int_equal(strncmp(text, want_t, strlen(want_t)), 0);
  const char *s = strstr(text, "\"images_id\":\"200,201,202,203,204,205\",\"custom_url\":"
                               "\"https://cdn.test/201.jpg?a=1&b=\\\"x\\\"\",\"custom_urls\":"
                               "\"https://cdn.test/203.jpg?a=1&b=\\\"x\\\",https://cdn.test/204"
                               ".jpg?a=1&b=\\\"x\\\",https://cdn.test/205.jpg?a=1&b=\\\"x\\\"\"}}\n");
  if(!s)
    fail_msg("got %s", text);
  free(text);
  struct custseq_stats st;
  custseq_get_stats(c, &st);
  assert_int_equal(st.urls, 4);
  assert_int_equal(st.with_review, 1);
  text = write_to(c, "s.csv", OUTFILE_REVIEW_SEQUENCES, &nseq);
  assert_non_null(strstr(text, "images_id,wkt,custom_url,custom_urls\r\n"));
  assert_non_null(strstr(text, "9.5000000 1.5000000)\",,\r\n"));
  assert_non_null(strstr(text, ",\"https://cdn.test/201.jpg?a=1&b=\"\"x\"\"\",\"https://"));
  free(text);
  custseq_free(&c);
}

static void test_urls_written_after_the_sequence(void **state)
{
  (void)state;
  urls_written_after_the_sequence(CUSTSEQ_URL_MEMORY);
}

static void test_urls_from_the_temporary_file(void **state)
{
  (void)state;
  urls_written_after_the_sequence(0);  /* every URL to the file */
  urls_written_after_the_sequence(70); /* some in the file, the last ones in memory */
}

/* The same points spilled to disk in runs of 3: the same bytes */
static void test_runs_on_disk_same_bytes(void **state)
{
  (void)state;
  char *text[2];
  for(int pass = 0; pass < 2; pass++) {
    struct custseq *c = custseq_new(pass ? 3 : 0);
    for(int i = 0; i < 40; i++) {
      char id[16], seq[8];
      snprintf(id, sizeof(id), "%d", 1000 + (i * 7) % 40);
      snprintf(seq, sizeof(seq), "q%d", i % 4);
      add_point(c, (uint64_t)i, id, seq, (i * 13) % 40, i * 0.01);
    }
    const uint64_t *ids;
    size_t n, nseq;
    struct mly_err err = {0};
    assert_int_equal(custseq_pick(c, &ids, &n, &err), MLY_OK);
    assert_int_equal(n, 20);
    for(size_t i = 0; i < n; i += 2)
      assert_int_equal(custseq_set_url(c, i, "u", &err), MLY_OK);
    text[pass] = write_to(c, "r.geojson", OUTFILE_SEQUENCES, &nseq);
    assert_int_equal(nseq, 4);
    custseq_free(&c);
  }
  assert_string_equal(text[0], text[1]);
  free(text[0]);
  free(text[1]);
}

/* seqfeat: the fields as get_mapillary_points writes them, string forms too */
static void test_point_fields_read_back(void **state)
{
  (void)state;
  struct strtab *s = strtab_new();
  json_t *root = json_loads(
      "{\"id\":\"0123\",\"sequence_id\":42,\"captured_at\":\"-5\",\"is_pano\":\"true\","
      "\"organization_id\":\"\"}", 0, NULL);
  json_t *geom = json_loads("{\"type\":\"Point\",\"coordinates\":[-180,90]}", 0, NULL);
  struct feature f = {.properties = root, .geometry = geom, .index = 3};
  struct seq_point p;
  enum seqfeat_what what;
  struct mly_err err = {0};
  assert_int_equal(seqfeat_point(s, &f, &p, &what, &err), MLY_OK);
  assert_int_equal(what, SEQFEAT_KEPT);
  assert_true(p.flags & SEQP_ID_STR); /* a leading zero: a string id */
  struct mly_view v = strtab_get(s, (uint32_t)p.id);
  assert_true(mly_view_eq(v, "0123"));
  assert_true(mly_view_eq(strtab_get(s, p.seq), "42"));
  assert_true((p.flags & SEQP_CAPTURED_KNOWN) && p.captured_at == -5);
  assert_true((p.flags & SEQP_PANO_KNOWN) && (p.flags & SEQP_PANO));
  assert_int_equal(p.org, 0);
  json_object_set_new(root, "id", json_integer(9007199254740993LL));
  json_object_set_new(root, "captured_at", json_real(12.5));
  json_object_del(root, "is_pano");
  assert_int_equal(seqfeat_point(s, &f, &p, &what, &err), MLY_OK);
  assert_true((p.flags & (SEQP_ID_KNOWN | SEQP_ID_STR)) == SEQP_ID_KNOWN);
  assert_true(p.id == 9007199254740993ULL);
  assert_false(p.flags & (SEQP_CAPTURED_KNOWN | SEQP_PANO_KNOWN));
  json_object_set_new(root, "sequence_id", json_string(""));
  assert_int_equal(seqfeat_point(s, &f, &p, &what, &err), MLY_OK);
  assert_int_equal(what, SEQFEAT_NO_SEQUENCE);
  json_object_set_new(root, "sequence_id", json_string("a"));
  json_array_set_new(json_object_get(geom, "coordinates"), 1, json_real(90.5));
  assert_int_equal(seqfeat_point(s, &f, &p, &what, &err), MLY_EFORMAT);
  assert_non_null(strstr(err.msg, "feature 3"));
  json_object_set_new(geom, "type", json_string("LineString"));
  assert_int_equal(seqfeat_point(s, &f, &p, &what, &err), MLY_OK);
  assert_int_equal(what, SEQFEAT_NOT_POINT);
  f.geometry = NULL;
  assert_int_equal(seqfeat_point(s, &f, &p, &what, &err), MLY_OK);
  assert_int_equal(what, SEQFEAT_NOT_POINT);
  json_decref(root);
  json_decref(geom);
  strtab_free(&s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_picks_spread_evenly),
    cmocka_unit_test(test_urls_written_after_the_sequence),
    cmocka_unit_test(test_urls_from_the_temporary_file),
    cmocka_unit_test(test_runs_on_disk_same_bytes),
    cmocka_unit_test(test_point_fields_read_back),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
