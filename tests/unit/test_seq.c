/* test_seq.c -- unit tests of the sequence builder: order, properties, images_id, every format */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "mly/jsonw.h"
#include "mly/seq.h"

#define UNKNOWN INT64_MIN /* stands for an unknown captured_at or id below */

struct fix {
  char dir[512];
  char path[600];
  struct strtab *strings;
  struct seq_builder *b;
  json_t *doc; /* the last file written */
};

static int setup(void **state)
{
  struct fix *f = calloc(1, sizeof(*f));
  if(!f)
    return -1;
  const char *base = getenv("TMPDIR");
  snprintf(f->dir, sizeof(f->dir), "%s/mly-test-seq-XXXXXX", base && *base ? base : "/tmp");
  if(!mkdtemp(f->dir))
    return -1;
  snprintf(f->path, sizeof(f->path), "%s/sequences.geojson", f->dir);
  f->strings = strtab_new();
  f->b = seq_new(f->strings);
  if(!f->strings || !f->b)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  struct fix *f = *state;
  unlink(f->path);
  rmdir(f->dir);
  json_decref(f->doc);
  seq_free(&f->b);
  strtab_free(&f->strings);
  free(f);
  return 0;
}

static uint32_t intern(struct fix *f, const char *s)
{
  uint32_t idx;
  assert_int_equal(strtab_intern(f->strings, s, strlen(s), &idx), MLY_OK);
  return idx;
}

/* p at (lon, lat) */
static void put_at(struct seq_point *p, double lon, double lat)
{
  struct jsonw_pos pos;
  jsonw_pos_pack(&pos, lon, lat);
  seq_point_at(p, &pos);
}

/* One kept image: captured_at or id may be UNKNOWN, pano -1/0/1, org NULL */
static void add_point(struct fix *f, const char *seq, int64_t id, int64_t t, int pano,
                      const char *org, double lon, double lat)
{
  struct seq_point p;
  memset(&p, 0, sizeof(p));
  put_at(&p, lon, lat);
  p.seq = intern(f, seq);
  if(id != UNKNOWN) {
    p.flags |= SEQP_ID_KNOWN;
    p.id = (uint64_t)id;
  }
  if(t != UNKNOWN) {
    p.flags |= SEQP_CAPTURED_KNOWN;
    p.captured_at = t;
  }
  if(pano >= 0)
    p.flags |= SEQP_PANO_KNOWN | (pano ? SEQP_PANO : 0);
  if(org)
    p.org = intern(f, org) + 1;
  p.ordinal = 12345; /* seq_add assigns its own */
  assert_int_equal(seq_add(f->b, &p), MLY_OK);
}

/* Same with a full uint64 id */
static void add_point_u64(struct fix *f, const char *seq, uint64_t id, int64_t t, double lon)
{
  struct seq_point p;
  memset(&p, 0, sizeof(p));
  put_at(&p, lon, 1.0);
  p.seq = intern(f, seq);
  p.flags = SEQP_ID_KNOWN | SEQP_CAPTURED_KNOWN;
  p.id = id;
  p.captured_at = t;
  assert_int_equal(seq_add(f->b, &p), MLY_OK);
}

/* Write the sequences, publish the file and parse it; returns the features */
static json_t *write_all(struct fix *f, size_t *nseq)
{
  struct outfile o;
  struct mly_err err = {0};
  assert_int_equal(outfile_open(&o, f->path, &err), MLY_OK);
  enum mly_rc rc = seq_write(f->b, &o, nseq, &err);
  if(rc)
    fail_msg("seq_write: %s", err.msg);
  assert_int_equal(o.features, *nseq);
  assert_int_equal(outfile_close(&o, &err), MLY_OK);
  assert_int_equal(outfile_publish(&o, &err), MLY_OK);
  outfile_abort(&o);
  json_error_t jerr;
  json_decref(f->doc);
  f->doc = json_load_file(f->path, 0, &jerr);
  if(!f->doc)
    fail_msg("invalid JSON written: %s (line %d)", jerr.text, jerr.line);
  json_t *features = json_object_get(f->doc, "features");
  assert_true(json_is_array(features));
  assert_int_equal(json_array_size(features), *nseq);
  return features;
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

static json_t *props(json_t *feature)
{
  assert_string_equal(json_string_value(json_object_get(feature, "type")), "Feature");
  json_t *p = json_object_get(feature, "properties");
  assert_true(json_is_object(p));
  return p;
}

static const char *str_prop(json_t *feature, const char *key)
{
  json_t *v = json_object_get(props(feature), key);
  if(!json_is_string(v))
    fail_msg("property %s is not a string", key);
  return json_string_value(v);
}

static json_int_t int_prop(json_t *feature, const char *key)
{
  json_t *v = json_object_get(props(feature), key);
  if(!json_is_integer(v))
    fail_msg("property %s is not an integer", key);
  return json_integer_value(v);
}

static json_t *coords(json_t *feature)
{
  json_t *g = json_object_get(feature, "geometry");
  assert_string_equal(json_string_value(json_object_get(g, "type")), "LineString");
  json_t *c = json_object_get(g, "coordinates");
  assert_true(json_is_array(c));
  return c;
}

/* longitude of vertex i */
static double lon_at(json_t *feature, size_t i)
{
  json_t *pos = json_array_get(coords(feature), i);
  assert_int_equal(json_array_size(pos), 2);
  assert_true(json_is_real(json_array_get(pos, 0)));
  return json_real_value(json_array_get(pos, 0));
}

/* ---- tests ----------------------------------------------------------------- */

static void test_single_image_sequences_dropped(void **state)
{
  struct fix *f = *state;
  add_point(f, "lonely", 1, 10, 0, NULL, 1, 1);
  add_point(f, "pair", 2, 20, 0, NULL, 2, 2);
  add_point(f, "pair", 3, 30, 0, NULL, 3, 3);
  add_point(f, "other-lonely", 4, 5, 0, NULL, 4, 4);
  assert_int_equal(seq_point_count(f->b), 4);
  size_t nseq = 99;
  json_t *fs = write_all(f, &nseq);
  assert_int_equal(nseq, 1);
  assert_string_equal(str_prop(json_array_get(fs, 0), "sequence_id"), "pair");
  assert_int_equal(int_prop(json_array_get(fs, 0), "total_points"), 2);
}

static void test_empty_builder_writes_empty_collection(void **state)
{
  struct fix *f = *state;
  size_t nseq = 99;
  write_all(f, &nseq);
  assert_int_equal(nseq, 0);
}

static void test_vertex_order_time_then_id_then_tile_order(void **state)
{
  struct fix *f = *state;
  /* added in tile order; lon tells which vertex is which */
  add_point(f, "s", 1, 300, 0, NULL, 5, 0);
  add_point(f, "s", 10, 100, 0, NULL, 2, 0);
  add_point(f, "s", 9, 100, 0, NULL, 1, 0);  /* 9 < 10 as integers, not as text */
  add_point(f, "s", 5, 200, 0, NULL, 3, 0);
  add_point(f, "s", 5, 200, 0, NULL, 4, 0);  /* same time and id: tile order */
  size_t nseq;
  json_t *fs = write_all(f, &nseq);
  assert_int_equal(nseq, 1);
  json_t *s = json_array_get(fs, 0);
  assert_int_equal(json_array_size(coords(s)), 5);
  for(size_t i = 0; i < 5; i++)
    assert_true(lon_at(s, i) == (double)(i + 1));
  assert_int_equal(int_prop(s, "total_points"), 5);
  assert_int_equal(int_prop(s, "captured_at_start"), 100);
  assert_int_equal(int_prop(s, "captured_at_end"), 300);
  assert_string_equal(str_prop(s, "images_id"), "9,10,5,5,1");
}

static void test_ids_above_2_53_compare_exactly(void **state)
{
  struct fix *f = *state;
  add_point_u64(f, "s", 9007199254740993ULL, 7, 2);
  add_point_u64(f, "s", 9007199254740992ULL, 7, 1);
  add_point_u64(f, "s", UINT64_MAX, 7, 3);
  size_t nseq;
  json_t *fs = write_all(f, &nseq);
  json_t *s = json_array_get(fs, 0);
  assert_true(lon_at(s, 0) == 1 && lon_at(s, 1) == 2 && lon_at(s, 2) == 3);
  assert_string_equal(str_prop(s, "images_id"),
                      "9007199254740992,9007199254740993,18446744073709551615");
}

static void test_unknown_values_sort_first(void **state)
{
  struct fix *f = *state;
  add_point(f, "s", 3, 50, 1, NULL, 4, 0);
  add_point(f, "s", 2, UNKNOWN, 0, NULL, 2, 0);  /* unknown time: before any known */
  add_point(f, "s", 1, 10, 0, NULL, 3, 0);
  add_point(f, "s", UNKNOWN, UNKNOWN, 0, NULL, 1, 0); /* unknown id: before id 2 */
  size_t nseq;
  json_t *fs = write_all(f, &nseq);
  json_t *s = json_array_get(fs, 0);
  for(size_t i = 0; i < 4; i++)
    assert_true(lon_at(s, i) == (double)(i + 1));
  /* the first known time starts, the last ends */
  assert_int_equal(int_prop(s, "captured_at_start"), 10);
  assert_int_equal(int_prop(s, "captured_at_end"), 50);
  /* an unknown id is left out of images_id, never invented */
  assert_string_equal(str_prop(s, "images_id"), "2,1,3");
  assert_int_equal(int_prop(s, "total_points"), 4);
}

static void test_all_times_unknown_omits_start_and_end(void **state)
{
  struct fix *f = *state;
  add_point(f, "s", 2, UNKNOWN, -1, NULL, 2, 0);
  add_point(f, "s", 1, UNKNOWN, -1, NULL, 1, 0);
  size_t nseq;
  json_t *fs = write_all(f, &nseq);
  json_t *s = json_array_get(fs, 0);
  assert_null(json_object_get(props(s), "captured_at_start"));
  assert_null(json_object_get(props(s), "captured_at_end"));
  assert_null(json_object_get(props(s), "is_pano"));
  assert_null(json_object_get(props(s), "organization_id"));
  assert_true(lon_at(s, 0) == 1);
  assert_string_equal(str_prop(s, "images_id"), "1,2");
}

static void test_is_pano_of_first_vertex(void **state)
{
  struct fix *f = *state;
  /* tile order differs from vertex order: the earliest image decides */
  add_point(f, "a", 2, 20, 0, NULL, 2, 0);
  add_point(f, "a", 1, 10, 1, NULL, 1, 0);
  add_point(f, "b", 4, 40, 1, NULL, 2, 0);
  add_point(f, "b", 3, 30, 0, NULL, 1, 0);
  size_t nseq;
  json_t *fs = write_all(f, &nseq);
  assert_int_equal(nseq, 2);
  json_t *a = json_array_get(fs, 0), *b = json_array_get(fs, 1);
  assert_string_equal(str_prop(a, "sequence_id"), "a");
  assert_true(json_is_true(json_object_get(props(a), "is_pano")));
  assert_string_equal(str_prop(b, "sequence_id"), "b");
  assert_true(json_is_false(json_object_get(props(b), "is_pano")));
}

static void test_organization_first_known(void **state)
{
  struct fix *f = *state;
  add_point(f, "s", 3, 30, 0, "A", 3, 0);
  add_point(f, "s", 1, 10, 0, NULL, 1, 0);
  add_point(f, "s", 2, 20, 0, "B", 2, 0);
  add_point(f, "t", 5, 10, 0, NULL, 1, 0);
  add_point(f, "t", 6, 20, 0, NULL, 2, 0);
  size_t nseq;
  json_t *fs = write_all(f, &nseq);
  assert_int_equal(nseq, 2);
  json_t *s = json_array_get(fs, 0), *t = json_array_get(fs, 1);
  assert_string_equal(str_prop(s, "sequence_id"), "s");
  assert_string_equal(str_prop(s, "organization_id"), "B");
  assert_string_equal(str_prop(t, "sequence_id"), "t");
  assert_null(json_object_get(props(t), "organization_id"));
}

/* A sequence of n images with ids 1000+i at time i; returns its images_id */
static char *images_id_for(struct fix *f, size_t n)
{
  char name[32];
  snprintf(name, sizeof(name), "n%zu", n);
  /* added backwards so that only the sort can put them in order */
  for(size_t i = n; i-- > 0;)
    add_point(f, name, (int64_t)(1000 + i), (int64_t)i, 0, NULL, (double)i / 1000, 0);
  size_t nseq;
  json_t *fs = write_all(f, &nseq);
  assert_int_equal(nseq, 1);
  assert_int_equal(int_prop(json_array_get(fs, 0), "total_points"), n);
  return strdup(str_prop(json_array_get(fs, 0), "images_id"));
}

/* geokit: all ids under 100 images, else step = n * 10 / 100 and indices
 * 0, step, 2 * step, ... */
static char *expected_images_id(size_t n)
{
  size_t step = n < 100 ? 1 : n * 10 / 100;
  char *s = calloc(n * 12 + 1, 1);
  assert_non_null(s);
  size_t len = 0;
  for(size_t i = 0; i < n; i += step)
    len += (size_t)sprintf(s + len, "%s%zu", len ? "," : "", 1000 + i);
  return s;
}

static void check_sampling(struct fix *f, size_t n, size_t want_count)
{
  char *got = images_id_for(f, n);
  char *want = expected_images_id(n);
  assert_string_equal(got, want);
  size_t commas = 0;
  for(const char *c = got; *c; c++)
    commas += *c == ',';
  assert_int_equal(commas + 1, want_count);
  free(got);
  free(want);
  /* a fresh builder for the next size */
  seq_free(&f->b);
  f->b = seq_new(f->strings);
  assert_non_null(f->b);
}

static void test_images_id_sampling(void **state)
{
  struct fix *f = *state;
  check_sampling(f, 2, 2);
  check_sampling(f, 99, 99);
  check_sampling(f, 100, 10);   /* step 10: 0, 10, ..., 90 */
  check_sampling(f, 123, 11);   /* step 12: 0, 12, ..., 120 */
  check_sampling(f, 250, 10);   /* step 25 */
  check_sampling(f, 1009, 11);  /* step 100: 0 .. 1000 */
  char *got = images_id_for(f, 100);
  assert_string_equal(got, "1000,1010,1020,1030,1040,1050,1060,1070,1080,1090");
  free(got);
}

static void test_sequences_ordered_by_first_vertex(void **state)
{
  struct fix *f = *state;
  add_point(f, "z", 1, 50, 0, NULL, 0, 0);
  add_point(f, "z", 2, 60, 0, NULL, 0, 0);
  add_point(f, "a", 7, 10, 0, NULL, 0, 0);
  add_point(f, "a", 8, 90, 0, NULL, 0, 0);
  add_point(f, "m", 5, 10, 0, NULL, 0, 0);  /* same first time as "a", smaller id */
  add_point(f, "m", 6, 95, 0, NULL, 0, 0);
  add_point(f, "u", 9, UNKNOWN, 0, NULL, 0, 0); /* unknown first time: first of all */
  add_point(f, "u", 10, 99, 0, NULL, 0, 0);
  size_t nseq;
  json_t *fs = write_all(f, &nseq);
  assert_int_equal(nseq, 4);
  const char *want[] = {"u", "m", "a", "z"};
  for(size_t i = 0; i < 4; i++)
    assert_string_equal(str_prop(json_array_get(fs, i), "sequence_id"), want[i]);
}

static void test_string_ids_after_numeric(void **state)
{
  struct fix *f = *state;
  struct seq_point p;
  memset(&p, 0, sizeof(p));
  p.seq = intern(f, "s");
  p.flags = SEQP_ID_KNOWN | SEQP_ID_STR | SEQP_CAPTURED_KNOWN;
  p.id = intern(f, "abc");
  p.captured_at = 5;
  put_at(&p, 2, 0);
  assert_int_equal(seq_add(f->b, &p), MLY_OK);
  p.id = intern(f, "abb");
  put_at(&p, 1.5, 0);
  assert_int_equal(seq_add(f->b, &p), MLY_OK);
  add_point(f, "s", 77, 5, 0, NULL, 1, 0);
  size_t nseq;
  json_t *fs = write_all(f, &nseq);
  json_t *s = json_array_get(fs, 0);
  assert_true(lon_at(s, 0) == 1 && lon_at(s, 1) == 1.5 && lon_at(s, 2) == 2);
  assert_string_equal(str_prop(s, "images_id"), "77,abb,abc");
}

static void test_coordinates_exact_and_text_valid(void **state)
{
  struct fix *f = *state;
  const double lons[] = {-108.45678901234567, 13.4049999999, 0.1 + 0.2};
  const double lats[] = {39.123456789012345, -33.8688197, 1e-9};
  for(int i = 0; i < 3; i++)
    add_point(f, "quote\"and\\slash", i + 1, i, 0, "org\x01", lons[i], lats[i]);
  size_t nseq;
  json_t *fs = write_all(f, &nseq);
  json_t *s = json_array_get(fs, 0);
  assert_string_equal(str_prop(s, "sequence_id"), "quote\"and\\slash");
  assert_string_equal(str_prop(s, "organization_id"), "org\x01");
  for(size_t i = 0; i < 3; i++) {
    json_t *pos = json_array_get(coords(s), i);
    assert_true(json_real_value(json_array_get(pos, 0)) == lons[i]);
    assert_true(json_real_value(json_array_get(pos, 1)) == lats[i]);
  }
}

static void test_same_input_same_bytes(void **state)
{
  struct fix *f = *state;
  /* the output depends on the points and their order only */
  char *texts[2];
  for(int round = 0; round < 2; round++) {
    for(int i = 0; i < 50; i++)
      add_point(f, i % 3 ? "x" : "y", 100 - i, i % 7, i % 2, i % 5 ? "o" : NULL, i, -i);
    size_t nseq;
    write_all(f, &nseq);
    assert_int_equal(nseq, 2);
    texts[round] = slurp(f->path);
    seq_free(&f->b);
    f->b = seq_new(f->strings);
  }
  assert_string_equal(texts[0], texts[1]);
  free(texts[0]);
  free(texts[1]);
}

/* ---- formats ------------------------------------------------------------------- */

/* Write the sequences to dir/name (format by extension, CSV opened for
 * sequences), publish, return the bytes and remove the file */
static char *write_as(struct fix *f, const char *name, size_t *nseq, size_t *len)
{
  char path[700];
  snprintf(path, sizeof(path), "%s/%s", f->dir, name);
  struct outfile o;
  struct mly_err err = {0};
  assert_int_equal(outfile_open_as(&o, path, OUTFILE_SEQUENCES, &err), MLY_OK);
  if(seq_write(f->b, &o, nseq, &err))
    fail_msg("seq_write: %s", err.msg);
  assert_int_equal(o.features, *nseq);
  assert_int_equal(outfile_close(&o, &err), MLY_OK);
  assert_int_equal(outfile_publish(&o, &err), MLY_OK);
  outfile_abort(&o);
  char *text = slurp(path);
  *len = strlen(text);
  unlink(path);
  return text;
}

static void assert_text(const char *got, size_t n, const char *want)
{
  if(n != strlen(want) || memcmp(got, want, n) != 0)
    fail_msg("got %zu bytes:\n%s\nwant %zu bytes:\n%s", n, got, strlen(want), want);
}

/* Two sequences: "s" with every value known, and one with none (a name
 * that needs CSV quoting) */
static void add_two_sequences(struct fix *f)
{
  add_point(f, "s", 2, 20, 0, NULL, 3, 4);
  add_point(f, "s", 1, 10, 1, "o", 1, 2);
  add_point(f, "t, \"q\"\n", UNKNOWN, UNKNOWN, -1, NULL, -0.5, 0.25);
  add_point(f, "t, \"q\"\n", UNKNOWN, UNKNOWN, -1, NULL, 5, 6);
}

#define FEAT_S                                                                                    \
  "{\"type\":\"Feature\",\"geometry\":{\"type\":\"LineString\",\"coordinates\":[[1.0000000,"       \
  "2.0000000],[3.0000000,4.0000000]]},\"properties\":{\"sequence_id\":\"s\",\"is_pano\":true,"     \
  "\"organization_id\":\"o\",\"total_points\":2,\"captured_at_start\":10,\"captured_at_end\":20," \
  "\"images_id\":\"1,2\"}}"
#define FEAT_T                                                                                    \
  "{\"type\":\"Feature\",\"geometry\":{\"type\":\"LineString\",\"coordinates\":[[-0.5000000,"      \
  "0.2500000],[5.0000000,6.0000000]]},\"properties\":{\"sequence_id\":\"t, \\\"q\\\"\\n\","       \
  "\"total_points\":2,\"images_id\":\"\"}}"

static void test_every_format_exact_bytes(void **state)
{
  struct fix *f = *state;
  add_two_sequences(f);
  size_t nseq, n;
  /* unknown times sort first: "t, ..." leads */
  char *text = write_as(f, "s.geojson", &nseq, &n);
  assert_int_equal(nseq, 2);
  assert_text(text, n, "{\"type\":\"FeatureCollection\",\"features\":[\n" FEAT_T ",\n" FEAT_S
                       "\n]}\n");
  free(text);
  const char *lines[] = {"s.geojsonl", "s.ndjson", "s.jsonl"};
  for(size_t i = 0; i < 3; i++) {
    text = write_as(f, lines[i], &nseq, &n);
    assert_int_equal(nseq, 2);
    assert_text(text, n, FEAT_T "\n" FEAT_S "\n");
    free(text);
  }
  text = write_as(f, "s.geojsons", &nseq, &n);
  assert_text(text, n, "\x1e" FEAT_T "\n\x1e" FEAT_S "\n");
  free(text);
  text = write_as(f, "s.CSV", &nseq, &n);
  assert_int_equal(nseq, 2);
  assert_text(text, n,
              "sequence_id,is_pano,organization_id,total_points,captured_at_start,"
              "captured_at_end,images_id,wkt\r\n"
              "\"t, \"\"q\"\"\n\",,,2,,,,\"LINESTRING (-0.5000000 0.2500000, 5.0000000 6.0000000)\"\r\n"
              "s,true,o,2,10,20,\"1,2\",\"LINESTRING (1.0000000 2.0000000, 3.0000000 4.0000000)\"\r\n");
  free(text);
}

static void test_csv_needs_a_sequences_output(void **state)
{
  struct fix *f = *state;
  add_two_sequences(f);
  char path[700];
  snprintf(path, sizeof(path), "%s/wrong.csv", f->dir);
  struct outfile o;
  struct mly_err err = {0};
  assert_int_equal(outfile_open(&o, path, &err), MLY_OK); /* the points kind */
  size_t nseq = 9;
  assert_int_equal(seq_write(f->b, &o, &nseq, &err), MLY_EINVAL);
  assert_int_equal(nseq, 0);
  assert_int_equal(o.features, 0);
  assert_non_null(strstr(err.msg, "sequences"));
  outfile_abort(&o);
}

/* ---- reading CSV back --------------------------------------------------------- */

struct cell {
  char *text;
  size_t n;
};

/* Parse RFC 4180 text (CRLF records) into rows of cells; returns the rows.
 * Cells are malloc'd; free with free_rows. */
static size_t csv_rows(const char *p, size_t n, struct cell rows[][8], size_t max_rows)
{
  size_t nr = 0, i = 0;
  while(i < n) {
    assert_true(nr < max_rows);
    size_t nc = 0;
    for(;;) {
      assert_true(nc < 8);
      struct cell *c = &rows[nr][nc++];
      c->text = malloc(n + 1);
      assert_non_null(c->text);
      c->n = 0;
      if(i < n && p[i] == '"') {
        for(i++;; i++) {
          if(i >= n)
            fail_msg("unterminated quoted field");
          if(p[i] == '"') {
            if(i + 1 < n && p[i + 1] == '"')
              i++;
            else {
              i++;
              break;
            }
          }
          c->text[c->n++] = p[i];
        }
      }
      else {
        for(; i < n && p[i] != ',' && p[i] != '\r'; i++) {
          if(p[i] == '"' || p[i] == '\n')
            fail_msg("bare quote or LF in an unquoted field at %zu", i);
          c->text[c->n++] = p[i];
        }
      }
      c->text[c->n] = '\0';
      if(i < n && p[i] == ',') {
        i++;
        continue;
      }
      /* a record ends with CRLF */
      assert_true(i + 1 < n && p[i] == '\r' && p[i + 1] == '\n');
      i += 2;
      break;
    }
    assert_int_equal(nc, 8);
    nr++;
  }
  return nr;
}

static void free_rows(struct cell rows[][8], size_t nr)
{
  for(size_t r = 0; r < nr; r++)
    for(size_t c = 0; c < 8; c++)
      free(rows[r][c].text);
}

/* "LINESTRING (x y, x y)" to the same doubles as the GeoJSON coordinates */
static void check_wkt(const char *wkt, json_t *coordinates)
{
  const char *p = wkt;
  assert_int_equal(strncmp(p, "LINESTRING (", 12), 0);
  p += 12;
  for(size_t i = 0; i < json_array_size(coordinates); i++) {
    json_t *pos = json_array_get(coordinates, i);
    char *end;
    double x = strtod(p, &end);
    assert_int_equal(*end, ' ');
    double y = strtod(end + 1, &end);
    assert_true(x == json_real_value(json_array_get(pos, 0)));
    assert_true(y == json_real_value(json_array_get(pos, 1)));
    /* the very text of the GeoJSON number */
    char num[JSONW_NUM_MAX];
    size_t len = jsonw_coord(num, x);
    assert_memory_equal(p, num, len);
    p = end;
    if(i + 1 < json_array_size(coordinates)) {
      assert_int_equal(strncmp(p, ", ", 2), 0);
      p += 2;
    }
  }
  assert_string_equal(p, ")");
}

static void test_csv_parses_back_to_the_geojson_values(void **state)
{
  struct fix *f = *state;
  /* a mix: numeric and string ids, unknowns, quotes, > 100 images */
  for(int i = 0; i < 150; i++)
    add_point(f, "long", 1000 + i, i, i % 2, i == 7 ? "org,7" : NULL, i * 0.001, 39 + i * 1e-4);
  add_point(f, "q\"uote", 5, UNKNOWN, 0, NULL, -108.45678901234567, 39.123456789012345);
  add_point(f, "q\"uote", UNKNOWN, 3, -1, "\xff bad", 0.1 + 0.2, -33.8688197);
  add_two_sequences(f);
  size_t nseq, n;
  json_t *features = write_all(f, &nseq);
  assert_int_equal(nseq, 4);
  char *text = write_as(f, "s.csv", &nseq, &n);
  assert_int_equal(nseq, 4);
  static struct cell rows[8][8];
  size_t nr = csv_rows(text, n, rows, 8);
  assert_int_equal(nr, 5);
  const char *header[] = {"sequence_id", "is_pano", "organization_id", "total_points",
                          "captured_at_start", "captured_at_end", "images_id", "wkt"};
  for(size_t c = 0; c < 8; c++)
    assert_string_equal(rows[0][c].text, header[c]);
  for(size_t r = 1; r < nr; r++) {
    json_t *feat = json_array_get(features, r - 1);
    json_t *pr = props(feat);
    for(size_t c = 0; c < 7; c++) {
      json_t *v = json_object_get(pr, header[c]);
      const char *cell = rows[r][c].text;
      if(!v)
        assert_string_equal(cell, "");
      else if(json_is_string(v)) {
        assert_int_equal(rows[r][c].n, json_string_length(v));
        assert_memory_equal(cell, json_string_value(v), rows[r][c].n);
      }
      else if(json_is_boolean(v))
        assert_string_equal(cell, json_is_true(v) ? "true" : "false");
      else
        assert_true(strtoll(cell, NULL, 10) == json_integer_value(v));
    }
    check_wkt(rows[r][7].text, coords(feat));
  }
  free_rows(rows, nr);
  free(text);
}

/* ---- GDAL reads them ----------------------------------------------------------- */

/* Feature count and first geometry type that `ogrinfo -ro -al` reports */
static long ogr_features(const char *path, const char *opts, char *geom, size_t cap)
{
  char cmd[2048];
  snprintf(cmd, sizeof(cmd), "ogrinfo -ro -al %s '%s' 2>&1", opts, path);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  char line[4096];
  long count = -1;
  geom[0] = '\0';
  while(fgets(line, sizeof(line), p)) {
    long v;
    if(sscanf(line, "Feature Count: %ld", &v) == 1)
      count = v;
    if(strstr(line, "ERROR"))
      fail_msg("ogrinfo on %s: %s", path, line);
    const char *l = line + strspn(line, " ");
    if(!geom[0] && strncmp(l, "LINESTRING (", 12) == 0)
      snprintf(geom, cap, "%s", "LINESTRING");
  }
  pclose(p);
  return count;
}

static void test_gdal_reads_sequences(void **state)
{
  struct fix *f = *state;
  if(system("ogrinfo --version >/dev/null 2>&1") != 0)
    skip();
  add_two_sequences(f);
  for(int i = 0; i < 30; i++)
    add_point(f, "many", i, i, 0, "org", i * 0.01, i * 0.02);
  const char *names[] = {"s.geojson", "s.geojsonl", "s.geojsons", "s.csv"};
  for(size_t i = 0; i < 4; i++) {
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", f->dir, names[i]);
    struct outfile o;
    size_t nseq;
    assert_int_equal(outfile_open_as(&o, path, OUTFILE_SEQUENCES, NULL), MLY_OK);
    assert_int_equal(seq_write(f->b, &o, &nseq, NULL), MLY_OK);
    assert_int_equal(outfile_close(&o, NULL), MLY_OK);
    assert_int_equal(outfile_publish(&o, NULL), MLY_OK);
    outfile_abort(&o);
    assert_int_equal(nseq, 3);
    char geom[32];
    /* CSV: the wkt column is the geometry (named explicitly, not guessed) */
    long n = ogr_features(path, i == 3 ? "-oo GEOM_POSSIBLE_NAMES=wkt -oo KEEP_GEOM_COLUMNS=NO" : "",
                          geom, sizeof(geom));
    if(n != 3)
      fail_msg("ogrinfo counts %ld features in %s, want 3", n, names[i]);
    assert_string_equal(geom, "LINESTRING");
    unlink(path);
  }
}

/* ---- bounded memory: runs spilled to disk ---------------------------------------- */

static uint64_t rng;

/* xorshift64*: the same inputs on every run */
static uint64_t rnd(void)
{
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 2685821657736338717ULL;
}

/* Random kept images in tile order: many sequences of 1..160 images,
 * unknown times and ids, numeric and string ids, keys that repeat (so that
 * the ordinal decides) and exact duplicates far apart in arrival order
 * (so that they land in different runs) */
static struct seq_point *random_points(struct fix *f, uint64_t seed, size_t *count)
{
  rng = seed * 0x9e3779b97f4a7c15ULL + 1;
  size_t cap = 8192, n = 0;
  struct seq_point *v = malloc(cap * sizeof(*v));
  assert_non_null(v);
  const char *orgs[] = {"o1", "o,2", "o\"3"};
  size_t nseqs = 40 + (size_t)(rnd() % 40);
  for(size_t s = 0; s < nseqs; s++) {
    char name[32];
    snprintf(name, sizeof(name), s % 7 ? "seq%zu" : "q,\"%zu\"", s);
    uint32_t seq = intern(f, name);
    size_t len = rnd() % 8 == 0 ? 1 : 2 + (size_t)(rnd() % 159);
    int64_t t0 = (int64_t)(rnd() % 50);
    for(size_t i = 0; i < len; i++) {
      assert_true(n + 2 <= cap);
      struct seq_point *p = &v[n++];
      memset(p, 0, sizeof(*p));
      p->seq = seq;
      double lon = (double)(rnd() % 3600000) / 10000.0 - 180.0;
      double lat = (double)(rnd() % 1800000) / 10000.0 - 90.0;
      put_at(p, lon, lat);
      uint64_t r = rnd() % 100;
      if(r >= 12) {
        p->flags |= SEQP_CAPTURED_KNOWN;
        p->captured_at = t0 + (int64_t)(rnd() % 30); /* few values: many ties */
      }
      r = rnd() % 100;
      if(r >= 8) {
        p->flags |= SEQP_ID_KNOWN;
        if(r < 25) {
          char id[8];
          snprintf(id, sizeof(id), "x%c%c", 'a' + (int)(rnd() % 3), 'a' + (int)(rnd() % 3));
          p->flags |= SEQP_ID_STR;
          p->id = intern(f, id);
        }
        else
          p->id = rnd() % 20;
      }
      r = rnd() % 3;
      if(r)
        p->flags |= SEQP_PANO_KNOWN | (r == 2 ? SEQP_PANO : 0);
      if(rnd() % 4 == 0)
        p->org = intern(f, orgs[rnd() % 3]) + 1;
      if(rnd() % 10 == 0) {
        v[n] = *p; /* the same key again: only the arrival order tells them apart */
        put_at(&v[n], lon + 1, lat);
        n++;
      }
    }
  }
  /* shuffle: sequences interleave as tiles would have them */
  for(size_t i = n; i > 1; i--) {
    size_t j = (size_t)(rnd() % i);
    struct seq_point t = v[i - 1];
    v[i - 1] = v[j];
    v[j] = t;
  }
  *count = n;
  return v;
}

/* A fresh builder in f with the given limit, fed v[0..n), with a
 * seq_presort after every `presort_every` points (0: never) */
static void feed_presorting(struct fix *f, size_t limit, const struct seq_point *v, size_t n,
                            size_t presort_every)
{
  seq_free(&f->b);
  f->b = seq_new(f->strings);
  assert_non_null(f->b);
  seq_set_memory_limit(f->b, limit);
  for(size_t i = 0; i < n; i++) {
    assert_int_equal(seq_add(f->b, &v[i]), MLY_OK);
    if(presort_every && (i + 1) % presort_every == 0)
      seq_presort(f->b);
  }
  assert_int_equal(seq_point_count(f->b), n);
}

/* A fresh builder in f with the given limit, fed v[0..n) */
static void feed(struct fix *f, size_t limit, const struct seq_point *v, size_t n)
{
  feed_presorting(f, limit, v, n, 0);
}

static void assert_same_bytes(const char *a, size_t na, const char *b, size_t nb, size_t limit,
                              const char *what)
{
  if(na != nb || memcmp(a, b, na) != 0) {
    size_t i = 0;
    while(i < na && i < nb && a[i] == b[i])
      i++;
    fail_msg("limit %zu, %s: %zu bytes vs %zu unlimited, first difference at %zu", limit, what,
             na, nb, i);
  }
}

/* Descriptors of this process open on files under dir (deleted ones too) */
static size_t fds_under(const char *dir)
{
  DIR *d = opendir("/proc/self/fd");
  assert_non_null(d);
  size_t count = 0;
  struct dirent *e;
  while((e = readdir(d))) {
    char link[300], target[1024];
    snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    if(n <= 0)
      continue;
    target[n] = '\0';
    count += strncmp(target, dir, strlen(dir)) == 0 && target[strlen(dir)] == '/';
  }
  closedir(d);
  return count;
}

/* Names in dir other than . and .. */
static size_t dir_entries(const char *dir)
{
  DIR *d = opendir(dir);
  assert_non_null(d);
  size_t count = 0;
  struct dirent *e;
  while((e = readdir(d)))
    count += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  closedir(d);
  return count;
}

/* TMPDIR set to dir (NULL: unset) for the spills; returns the old value */
static char *set_tmpdir(const char *dir)
{
  const char *old = getenv("TMPDIR");
  char *saved = old ? strdup(old) : NULL;
  if(dir)
    setenv("TMPDIR", dir, 1);
  else
    unsetenv("TMPDIR");
  return saved;
}

static void restore_tmpdir(char *saved)
{
  if(saved)
    setenv("TMPDIR", saved, 1);
  else
    unsetenv("TMPDIR");
  free(saved);
}

/* More sequences than one radix digit holds (strtab indexes past 2^11, so
 * the grouping takes two passes), their points added shuffled: every
 * sequence comes out whole, its vertices in time order */
static void test_many_sequences_shuffled(void **state)
{
  struct fix *f = *state;
  enum { NSEQ = 3000, PER = 4 };
  static int order[NSEQ * PER];
  for(int i = 0; i < NSEQ * PER; i++)
    order[i] = i;
  uint32_t r = 12345;
  for(int i = NSEQ * PER - 1; i > 0; i--) {
    r = r * 1103515245u + 12345u;
    int k = (int)((r >> 8) % (uint32_t)(i + 1)), t = order[i];
    order[i] = order[k];
    order[k] = t;
  }
  char name[32];
  for(int i = 0; i < NSEQ * PER; i++) {
    int sq = order[i] / PER, k = order[i] % PER;
    snprintf(name, sizeof(name), "s%d", sq);
    /* time decides the order; ids run against it */
    add_point(f, name, (int64_t)sq * 10 + (PER - k), 1000 + k, 0, NULL, sq, k);
  }
  size_t nseq;
  json_t *features = write_all(f, &nseq);
  assert_int_equal(nseq, NSEQ);
  bool seen[NSEQ] = {false};
  for(size_t i = 0; i < nseq; i++) {
    json_t *props = json_object_get(json_array_get(features, i), "properties");
    int sq = atoi(json_string_value(json_object_get(props, "sequence_id")) + 1);
    assert_true(sq >= 0 && sq < NSEQ && !seen[sq]);
    seen[sq] = true;
    assert_int_equal(json_integer_value(json_object_get(props, "total_points")), PER);
    char want[96];
    snprintf(want, sizeof(want), "%d,%d,%d,%d", sq * 10 + 4, sq * 10 + 3, sq * 10 + 2,
             sq * 10 + 1);
    assert_string_equal(json_string_value(json_object_get(props, "images_id")), want);
  }
}

/* The heart of the external sort: whatever the limit (a run per point, a
 * few points per run, runs merged level upon level, or no run at all), the
 * same points give the same bytes in every format, written twice */
static void test_spill_limits_write_identical_bytes(void **state)
{
  struct fix *f = *state;
  const size_t limits[] = {0, 1, 7, 1000};
  const char *names[] = {"r.geojson", "r.csv", "r.geojsons"};
  for(uint64_t seed = 1; seed <= 3; seed++) {
    size_t n;
    struct seq_point *v = random_points(f, seed, &n);
    assert_true(n > 1000); /* more than the largest limit: every limit spills */
    char *want[3];
    size_t want_n[3], want_seq = 0;
    for(size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
      feed(f, limits[l], v, n);
      for(size_t k = 0; k < 3; k++) {
        size_t nseq, len;
        char *text = write_as(f, names[k], &nseq, &len);
        assert_true(nseq > 20);
        if(l == 0) {
          want[k] = text;
          want_n[k] = len;
          want_seq = nseq;
          continue;
        }
        assert_int_equal(nseq, want_seq);
        assert_same_bytes(text, len, want[k], want_n[k], limits[l], names[k]);
        free(text);
      }
    }
    for(size_t k = 0; k < 3; k++)
      free(want[k]);
    free(v);
  }
}

/* Sorting ahead changes no byte: points presorted often or seldom (each
 * time merging the new ones into those sorted before), mixed with spills,
 * or written, then added to and written again, give the bytes of a build
 * that never presorted */
static void test_presort_writes_identical_bytes(void **state)
{
  struct fix *f = *state;
  const char *names[] = {"p.geojson", "p.csv"};
  const struct {
    size_t limit, every;
  } ways[] = {{0, 1}, {0, 13}, {0, 500}, {7, 13}, {1000, 100}};
  for(uint64_t seed = 1; seed <= 3; seed++) {
    size_t n, nseq, len;
    struct seq_point *v = random_points(f, seed + 10, &n);
    char *want[2];
    size_t want_n[2], want_seq[2];
    feed(f, 0, v, n);
    for(size_t k = 0; k < 2; k++)
      want[k] = write_as(f, names[k], &want_seq[k], &want_n[k]);
    for(size_t w = 0; w < sizeof(ways) / sizeof(ways[0]); w++) {
      feed_presorting(f, ways[w].limit, v, n, ways[w].every);
      for(size_t k = 0; k < 2; k++) {
        char *text = write_as(f, names[k], &nseq, &len);
        assert_int_equal(nseq, want_seq[k]);
        assert_same_bytes(text, len, want[k], want_n[k], ways[w].limit, names[k]);
        free(text);
      }
    }
    /* half the points, presorted and written; the rest added after */
    feed_presorting(f, 0, v, n / 2, 97);
    free(write_as(f, names[0], &nseq, &len));
    for(size_t i = n / 2; i < n; i++) {
      assert_int_equal(seq_add(f->b, &v[i]), MLY_OK);
      if(i % 211 == 0)
        seq_presort(f->b);
    }
    char *text = write_as(f, names[0], &nseq, &len);
    assert_same_bytes(text, len, want[0], want_n[0], 0, "written, then added to");
    free(text);
    for(size_t k = 0; k < 2; k++)
      free(want[k]);
    free(v);
  }
}

static void test_spill_limit_smaller_than_one_sequence(void **state)
{
  struct fix *f = *state;
  /* 50 images backwards, with a short one around them: 18 runs of 3 */
  struct seq_point v[53];
  memset(v, 0, sizeof(v));
  uint32_t seq = intern(f, "long"), other = intern(f, "short");
  for(size_t i = 0; i < 50; i++) {
    struct seq_point *p = &v[1 + i];
    p->seq = seq;
    p->flags = SEQP_ID_KNOWN | SEQP_CAPTURED_KNOWN;
    p->id = 1000 + (49 - i);
    p->captured_at = (int64_t)(49 - i);
    put_at(p, (double)(49 - i), 0);
  }
  v[0].seq = v[51].seq = other;
  v[0].flags = v[51].flags = SEQP_CAPTURED_KNOWN;
  v[0].captured_at = 100;
  v[51].captured_at = 101;
  v[52] = v[1]; /* a singleton of "long"'s key, last to arrive */
  v[52].seq = intern(f, "single");
  feed(f, 3, v, 53);
  size_t nseq, len, want_len;
  char *got = write_as(f, "l.geojson", &nseq, &len);
  assert_int_equal(nseq, 2);
  json_t *fs = write_all(f, &nseq);
  json_t *s = json_array_get(fs, 0);
  assert_string_equal(str_prop(s, "sequence_id"), "long");
  assert_int_equal(int_prop(s, "total_points"), 50);
  for(size_t i = 0; i < 50; i++)
    assert_true(lon_at(s, i) == (double)i);
  assert_int_equal(int_prop(s, "captured_at_start"), 0);
  assert_int_equal(int_prop(s, "captured_at_end"), 49);
  assert_string_equal(str_prop(json_array_get(fs, 1), "sequence_id"), "short");
  feed(f, 0, v, 53);
  char *want = write_as(f, "l.geojson", &nseq, &want_len);
  assert_same_bytes(got, len, want, want_len, 3, "geojson");
  free(got);
  free(want);
}

static void test_spill_zero_points_and_only_singletons(void **state)
{
  struct fix *f = *state;
  seq_set_memory_limit(f->b, 1);
  size_t nseq = 9, len;
  char *text = write_as(f, "z.geojson", &nseq, &len);
  assert_int_equal(nseq, 0);
  assert_text(text, len, "{\"type\":\"FeatureCollection\",\"features\":[\n]}\n");
  free(text);
  /* runs on disk, but no sequence has two images */
  add_point(f, "a", 1, 1, 0, NULL, 1, 1);
  add_point(f, "b", 2, 2, 0, NULL, 1, 1);
  add_point(f, "c", 3, 3, 0, NULL, 1, 1);
  text = write_as(f, "z.csv", &nseq, &len);
  assert_int_equal(nseq, 0);
  assert_text(text, len, OUTFILE_CSV_SEQUENCES_HEADER "\r\n");
  free(text);
}

/* Runs live in unlinked files of $TMPDIR, open only while the builder lives */
static void test_spill_files_unlinked_and_closed(void **state)
{
  struct fix *f = *state;
  char tmp[600];
  snprintf(tmp, sizeof(tmp), "%s/tmp", f->dir);
  assert_int_equal(mkdir(tmp, 0700), 0);
  char *saved = set_tmpdir(tmp);
  seq_set_memory_limit(f->b, 5);
  for(int i = 0; i < 500; i++)
    add_point(f, i % 2 ? "odd" : "even", i, 500 - i, 0, NULL, i, 0);
  size_t open_runs = fds_under(tmp);
  assert_true(open_runs > 0);
  /* 99 runs so far, merged 64 at a time: one merged run and 35 are open */
  assert_int_equal(open_runs, 1 + 99 - 64);
  assert_int_equal(dir_entries(tmp), 0);
  size_t nseq, len;
  for(int round = 0; round < 2; round++) {
    char *text = write_as(f, "u.geojson", &nseq, &len);
    assert_int_equal(nseq, 2);
    free(text);
    assert_int_equal(dir_entries(tmp), 0);
    /* the staging file is closed; the last 5 points became one more run */
    assert_int_equal(fds_under(tmp), open_runs + 1);
  }
  seq_free(&f->b);
  assert_int_equal(fds_under(tmp), 0);
  restore_tmpdir(saved);
  assert_int_equal(rmdir(tmp), 0);
}

static void test_spill_missing_tmpdir_fails_with_eio(void **state)
{
  struct fix *f = *state;
  char missing[600];
  snprintf(missing, sizeof(missing), "%s/no-such-dir", f->dir);
  char *saved = set_tmpdir(missing);
  seq_set_memory_limit(f->b, 2);
  assert_int_equal(seq_add_error(f->b, NULL), MLY_OK);
  add_point(f, "s", 1, 1, 0, NULL, 1, 0);
  add_point(f, "s", 2, 2, 0, NULL, 2, 0);
  struct seq_point p;
  memset(&p, 0, sizeof(p));
  p.seq = intern(f, "s");
  p.flags = SEQP_CAPTURED_KNOWN;
  p.captured_at = 3;
  put_at(&p, 3, 0);
  assert_int_equal(seq_add(f->b, &p), MLY_EIO);
  struct mly_err err = {0};
  assert_int_equal(seq_add_error(f->b, &err), MLY_EIO);
  assert_int_equal(err.rc, MLY_EIO);
  assert_non_null(strstr(err.msg, "no-such-dir"));
  assert_int_equal(seq_point_count(f->b), 2);
  /* nothing was lost: with a usable folder again the point goes in */
  restore_tmpdir(saved);
  assert_int_equal(seq_add(f->b, &p), MLY_OK);
  size_t nseq;
  json_t *fs = write_all(f, &nseq);
  assert_int_equal(int_prop(json_array_get(fs, 0), "total_points"), 3);
}

static void test_spill_write_fails_when_tmpdir_vanishes(void **state)
{
  struct fix *f = *state;
  seq_set_memory_limit(f->b, 4);
  for(int i = 0; i < 20; i++)
    add_point(f, "s", i, i, 0, NULL, i, 0);
  char missing[600];
  snprintf(missing, sizeof(missing), "%s/gone", f->dir);
  char *saved = set_tmpdir(missing);
  struct outfile o;
  struct mly_err err = {0};
  size_t nseq = 7;
  assert_int_equal(outfile_open(&o, f->path, &err), MLY_OK);
  /* the staging file for the sequences' text cannot be made */
  assert_int_equal(seq_write(f->b, &o, &nseq, &err), MLY_EIO);
  assert_int_equal(err.rc, MLY_EIO);
  assert_non_null(strstr(err.msg, "gone"));
  assert_int_equal(nseq, 0);
  assert_int_equal(o.features, 0);
  outfile_abort(&o);
  restore_tmpdir(saved);
  /* the runs are intact: a second try writes everything */
  json_t *fs = write_all(f, &nseq);
  assert_int_equal(nseq, 1);
  assert_int_equal(int_prop(json_array_get(fs, 0), "total_points"), 20);
}

/* A full disk, played by a file size limit: the spill's write fails */
static void test_spill_write_error_is_eio(void **state)
{
  struct fix *f = *state;
  struct rlimit old;
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
  void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN); /* write fails with EFBIG instead */
  struct rlimit small = old;
  small.rlim_cur = 1000; /* bytes: less than 100 points of 48 */
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
  seq_set_memory_limit(f->b, 100);
  enum mly_rc rc = MLY_OK;
  struct seq_point p;
  memset(&p, 0, sizeof(p));
  p.seq = intern(f, "s");
  for(int i = 0; i < 101 && !rc; i++)
    rc = seq_add(f->b, &p);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, old_handler);
  assert_int_equal(rc, MLY_EIO);
  struct mly_err err = {0};
  assert_int_equal(seq_add_error(f->b, &err), MLY_EIO);
  assert_non_null(strstr(err.msg, "cannot write a temporary file"));
  assert_int_equal(seq_point_count(f->b), 100);
}

/* ---- extra properties and the visit ---------------------------------------- */

/* An extra hook: each sequence's vertex count and first id, as a GeoJSON
 * member or a CSV cell */
static enum mly_rc extra_count(void *user, const struct seq_point *v, size_t n, bool csv,
                               struct dbuf *t)
{
  (*(size_t *)user)++;
  char text[64];
  int k = csv ? snprintf(text, sizeof(text), ",%zu-%llu", n, (unsigned long long)v[0].id)
              : snprintf(text, sizeof(text), ",\"x\":\"%zu-%llu\"", n,
                         (unsigned long long)v[0].id);
  return dbuf_add(t, text, (size_t)k);
}

static void test_extra_properties_follow_the_own(void **state)
{
  struct fix *f = *state;
  add_two_sequences(f);
  size_t calls = 0, nseq, n;
  seq_set_extra(f->b, extra_count, &calls);
  char *text = write_as(f, "s.geojsonl", &nseq, &n);
  assert_int_equal(calls, 2);
  const char *s = strstr(text, "\"images_id\":\"1,2\",\"x\":\"2-1\"}}\n");
  assert_non_null(s);
  free(text);
  char path[700];
  snprintf(path, sizeof(path), "%s/r.csv", f->dir);
  struct outfile o;
  struct mly_err err = {0};
  assert_int_equal(outfile_open_as(&o, path, OUTFILE_REVIEW_SEQUENCES, &err), MLY_OK);
  assert_int_equal(seq_write(f->b, &o, &nseq, &err), MLY_OK);
  assert_int_equal(outfile_close(&o, &err), MLY_OK);
  assert_int_equal(outfile_publish(&o, &err), MLY_OK);
  outfile_abort(&o);
  text = slurp(path);
  unlink(path);
  assert_non_null(strstr(text, "images_id,wkt,custom_url,custom_urls\r\n"));
  assert_non_null(strstr(text, "4.0000000)\",2-1\r\n"));
  free(text);
  seq_set_extra(f->b, NULL, NULL); /* back to the plain text */
  text = write_as(f, "s.geojsonl", &nseq, &n);
  assert_text(text, n, FEAT_T "\n" FEAT_S "\n");
  free(text);
}

struct visit_log {
  size_t sequences, points, singles;
  char sig[64][32]; /* per sequence: its name and vertex ordinals' sum */
};

static enum mly_rc visit_one(void *user, const struct seq_point *v, size_t n, struct mly_err *err)
{
  (void)err;
  struct visit_log *log = user;
  assert_true(n >= 1);
  if(n == 1) {
    log->singles++;
    return MLY_OK;
  }
  for(size_t i = 1; i < n; i++)
    assert_true(v[i].seq == v[0].seq);
  uint64_t sum = 0;
  for(size_t i = 0; i < n; i++)
    sum += v[i].ordinal * (i + 1); /* order matters */
  if(log->sequences < 64)
    snprintf(log->sig[log->sequences], sizeof(log->sig[0]), "%u:%llu", v[0].seq,
             (unsigned long long)sum);
  log->sequences++;
  log->points += n;
  return MLY_OK;
}

static int cmp_sig(const void *a, const void *b)
{
  return strcmp(a, b);
}

/* seq_each meets every sequence written (and the one-image ones), each whole and in vertex order,
 * the same in memory and from runs on disk, and leaves the output as it was */
static void test_visit_sees_what_write_writes(void **state)
{
  struct fix *f = *state;
  size_t n;
  struct seq_point *v = random_points(f, 7, &n);
  struct visit_log mem = {0}, disk = {0};
  struct mly_err err = {0};
  feed(f, 0, v, n);
  size_t nseq, len;
  char *before = write_as(f, "a.geojsonl", &nseq, &len);
  assert_int_equal(seq_each(f->b, visit_one, &mem, &err), MLY_OK);
  assert_int_equal(mem.sequences, nseq);
  size_t len2, nseq2;
  char *after = write_as(f, "b.geojsonl", &nseq2, &len2);
  assert_same_bytes(after, len2, before, len, 0, "after a visit");
  free(after);
  feed(f, 97, v, n);
  assert_int_equal(seq_each(f->b, visit_one, &disk, &err), MLY_OK);
  assert_int_equal(disk.sequences, mem.sequences);
  assert_int_equal(disk.points, mem.points);
  assert_true(mem.singles > 0); /* random_points makes one-image sequences too */
  assert_int_equal(disk.singles, mem.singles);
  size_t k = mem.sequences < 64 ? mem.sequences : 64;
  qsort(mem.sig, k, sizeof(mem.sig[0]), cmp_sig);
  qsort(disk.sig, k, sizeof(disk.sig[0]), cmp_sig);
  if(mem.sequences <= 64)
    for(size_t i = 0; i < k; i++)
      assert_string_equal(mem.sig[i], disk.sig[i]);
  after = write_as(f, "c.geojsonl", &nseq2, &len2);
  assert_same_bytes(after, len2, before, len, 97, "after a visit from runs");
  free(after);
  free(before);
  free(v);
}

static enum mly_rc visit_fail(void *user, const struct seq_point *v, size_t n, struct mly_err *err)
{
  (void)v;
  (void)n;
  (*(size_t *)user)++;
  return mly_err_set(err, MLY_EHTTP, "stop here");
}

static void test_visit_stops_at_a_failure(void **state)
{
  struct fix *f = *state;
  add_two_sequences(f);
  size_t calls = 0;
  struct mly_err err = {0};
  assert_int_equal(seq_each(f->b, visit_fail, &calls, &err), MLY_EHTTP);
  assert_int_equal(calls, 1);
  assert_string_equal(err.msg, "stop here");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
  const struct CMUnitTest tests[] = {
    T(test_single_image_sequences_dropped),
    T(test_empty_builder_writes_empty_collection),
    T(test_vertex_order_time_then_id_then_tile_order),
    T(test_ids_above_2_53_compare_exactly),
    T(test_unknown_values_sort_first),
    T(test_all_times_unknown_omits_start_and_end),
    T(test_is_pano_of_first_vertex),
    T(test_organization_first_known),
    T(test_images_id_sampling),
    T(test_sequences_ordered_by_first_vertex),
    T(test_string_ids_after_numeric),
    T(test_coordinates_exact_and_text_valid),
    T(test_same_input_same_bytes),
    T(test_every_format_exact_bytes),
    T(test_csv_needs_a_sequences_output),
    T(test_csv_parses_back_to_the_geojson_values),
    T(test_gdal_reads_sequences),
    T(test_many_sequences_shuffled),
    T(test_spill_limits_write_identical_bytes),
    T(test_presort_writes_identical_bytes),
    T(test_spill_limit_smaller_than_one_sequence),
    T(test_spill_zero_points_and_only_singletons),
    T(test_spill_files_unlinked_and_closed),
    T(test_spill_missing_tmpdir_fails_with_eio),
    T(test_spill_write_fails_when_tmpdir_vanishes),
    T(test_spill_write_error_is_eio),
    T(test_extra_properties_follow_the_own),
    T(test_visit_sees_what_write_writes),
    T(test_visit_stops_at_a_failure),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
