/* test_outfile.c -- unit tests of complete-or-absent output files (temp file + rename) and their formats */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#endif
#include <cmocka.h>
#include <jansson.h>

#include "mly/csvw.h"
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
  /* preparing checks that the folders could be made, and makes nothing:
   * a run that fails later leaves no folder */
  assert_int_equal(outfile_prepare_dir(path, &err), MLY_OK);
  char *top = join(dir, "a");
  assert_false(exists(top));
  free(top);
  /* the open makes them; an abort removes them again */
  struct outfile ab;
  assert_int_equal(outfile_open(&ab, path, &err), MLY_OK);
  char *sub = join(dir, "a/b/c");
  struct stat st;
  assert_int_equal(stat(sub, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  outfile_abort(&ab);
  assert_false(exists(sub));
  top = join(dir, "a");
  assert_false(exists(top));
  free(top);
  /* a file where a folder should be: found by the check */
  char *file = join(dir, "f");
  FILE *fp = fopen(file, "w");
  assert_non_null(fp);
  fclose(fp);
  char *under = join(dir, "f/g/points.geojson");
  assert_int_equal(outfile_prepare_dir(under, &err), MLY_EIO);
  assert_non_null(strstr(err.msg, "cannot create output folder"));
  unlink(file);
  free(under);
  free(file);

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


/* ---- formats ------------------------------------------------------------- */

static void test_format_by_extension(void **state)
{
  (void)state;
  static const struct {
    const char *path;
    enum outfmt fmt;
    size_t ext_len;
  } cases[] = {
    {"points.geojson", OUTFMT_GEOJSON, 8},
    {"out/points.json", OUTFMT_GEOJSON, 5},
    {"points.GeoJSON", OUTFMT_GEOJSON, 8},
    {"points.geojsonl", OUTFMT_GEOJSONL, 9},
    {"points.NDJSON", OUTFMT_GEOJSONL, 7},
    {"points.jsonl", OUTFMT_GEOJSONL, 6},
    {"points.geojsons", OUTFMT_GEOJSONSEQ, 9},
    {"a/b.c/points.GEOJSONS", OUTFMT_GEOJSONSEQ, 9},
    {"points.csv", OUTFMT_CSV, 4},
    {"points.CsV", OUTFMT_CSV, 4},
    {"x.csv.geojson", OUTFMT_GEOJSON, 8},
    {"x.geojson.csv", OUTFMT_CSV, 4},
    /* unknown or no extension: the default */
    {"points.txt", OUTFMT_GEOJSON, 0},
    {"points", OUTFMT_GEOJSON, 0},
    {"points.", OUTFMT_GEOJSON, 0},
    {"dir.csv/points", OUTFMT_GEOJSON, 0}, /* a folder's dot is no extension */
    {".csv", OUTFMT_GEOJSON, 0},           /* a hidden file named .csv */
    {"out/.geojsonl", OUTFMT_GEOJSON, 0},
    {"points.csvx", OUTFMT_GEOJSON, 0},
    {"-", OUTFMT_GEOJSON, 0},
  };
  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    if(outfile_format_for(cases[i].path) != cases[i].fmt)
      fail_msg("%s: format %d, want %d", cases[i].path, outfile_format_for(cases[i].path),
               cases[i].fmt);
    assert_int_equal(outfile_ext_len(cases[i].path), cases[i].ext_len);
  }
  assert_string_equal(outfile_format_ext(OUTFMT_GEOJSON), ".geojson");
  assert_string_equal(outfile_format_ext(OUTFMT_GEOJSONL), ".geojsonl");
  assert_string_equal(outfile_format_ext(OUTFMT_GEOJSONSEQ), ".geojsons");
  assert_string_equal(outfile_format_ext(OUTFMT_CSV), ".csv");
  assert_string_equal(outfile_format_name(OUTFMT_CSV), "CSV");
  assert_string_equal(outfile_format_name(OUTFMT_GEOJSON), "GeoJSON");
}

/* Write FEAT1 and FEAT2 (or nothing) to dir/name as kind; returns the bytes
 * (*n: length, as RS and CRLF bytes are compared exactly) */
static char *write_two(const char *dir, const char *name, enum outfile_kind kind, bool empty,
                       size_t *n)
{
  char *path = join(dir, name);
  struct outfile o;
  struct mly_err err = {0};
  assert_int_equal(outfile_open_as(&o, path, kind, &err), MLY_OK);
  if(!empty) {
    assert_int_equal(outfile_feature(&o, FEAT1, strlen(FEAT1), &err), MLY_OK);
    assert_int_equal(outfile_feature(&o, FEAT2, strlen(FEAT2), &err), MLY_OK);
  }
  assert_int_equal(outfile_close(&o, &err), MLY_OK);
  assert_int_equal(outfile_publish(&o, &err), MLY_OK);
  outfile_abort(&o);
  char *text = slurp(path);
  assert_non_null(text);
  *n = strlen(text);
  free(path);
  return text;
}

static void assert_bytes(const char *got, size_t n, const char *want)
{
  if(n != strlen(want) || memcmp(got, want, n) != 0)
    fail_msg("got %zu bytes '%s', want %zu bytes '%s'", n, got, strlen(want), want);
}

static void test_geojson_default_bytes(void **state)
{
  const char *dir = *state;
  char want[512];
  snprintf(want, sizeof(want), "{\"type\":\"FeatureCollection\",\"features\":[\n%s,\n%s\n]}\n",
           FEAT1, FEAT2);
  const char *names[] = {"a.geojson", "b.json", "c.txt", "d", "e.GEOJSON"};
  for(size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    size_t n;
    char *text = write_two(dir, names[i], OUTFILE_POINTS, false, &n);
    assert_bytes(text, n, want);
    free(text);
    /* sequences: the same bytes, the kind only matters for CSV */
    text = write_two(dir, names[i], OUTFILE_SEQUENCES, false, &n);
    assert_bytes(text, n, want);
    free(text);
  }
  size_t n;
  char *text = write_two(dir, "empty.geojson", OUTFILE_POINTS, true, &n);
  assert_bytes(text, n, "{\"type\":\"FeatureCollection\",\"features\":[\n]}\n");
  free(text);
}

/* Parse every line of newline-delimited text as a Feature; returns count */
static size_t parse_lines(const char *text, size_t n, char lead)
{
  size_t count = 0;
  const char *p = text, *end = text + n;
  while(p < end) {
    if(lead) {
      /* RFC 8142: every record opens with RS */
      assert_int_equal(*p, lead);
      p++;
    }
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    assert_non_null(nl); /* every record ends with LF */
    json_error_t jerr;
    json_t *j = json_loadb(p, (size_t)(nl - p), JSON_REJECT_DUPLICATES, &jerr);
    if(!j)
      fail_msg("record %zu is not JSON: %s", count, jerr.text);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "Feature");
    json_decref(j);
    count++;
    p = nl + 1;
  }
  return count;
}

static void test_geojsonl_bytes(void **state)
{
  const char *dir = *state;
  char want[512];
  snprintf(want, sizeof(want), "%s\n%s\n", FEAT1, FEAT2);
  const char *names[] = {"p.geojsonl", "p.ndjson", "p.jsonl", "p.GeoJSONL"};
  for(size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    size_t n;
    char *text = write_two(dir, names[i], OUTFILE_POINTS, false, &n);
    assert_bytes(text, n, want);
    assert_null(memchr(text, 0x1e, n)); /* no RS in plain GeoJSONL */
    assert_int_equal(parse_lines(text, n, 0), 2);
    free(text);
  }
  /* no features: no wrapper, so nothing at all */
  size_t n;
  char *text = write_two(dir, "empty.geojsonl", OUTFILE_POINTS, true, &n);
  assert_int_equal(n, 0);
  free(text);
}

static void test_geojson_text_sequence_bytes(void **state)
{
  const char *dir = *state;
  char want[512];
  snprintf(want, sizeof(want), "\x1e%s\n\x1e%s\n", FEAT1, FEAT2);
  size_t n;
  char *text = write_two(dir, "p.geojsons", OUTFILE_SEQUENCES, false, &n);
  assert_bytes(text, n, want);
  assert_int_equal((unsigned char)text[0], 0x1e);
  assert_int_equal(parse_lines(text, n, 0x1e), 2);
  size_t rs = 0;
  for(size_t i = 0; i < n; i++)
    rs += text[i] == 0x1e;
  assert_int_equal(rs, 2);
  free(text);
  text = write_two(dir, "empty.geojsons", OUTFILE_POINTS, true, &n);
  assert_int_equal(n, 0);
  free(text);
}

static void test_csv_header_and_line_ends(void **state)
{
  const char *dir = *state;
  static const char ROW1[] = "1,2.5000000,3.5000000,s,,,true,,";
  static const char ROW2[] = "2,-1.0000000,0.0000000,\"a,b\",5,,false,o,";
  char *path = join(dir, "p.csv");
  struct outfile o;
  assert_int_equal(outfile_open_as(&o, path, OUTFILE_POINTS, NULL), MLY_OK);
  assert_int_equal(o.fmt, OUTFMT_CSV);
  assert_int_equal(outfile_feature(&o, ROW1, strlen(ROW1), NULL), MLY_OK);
  assert_int_equal(outfile_feature(&o, ROW2, strlen(ROW2), NULL), MLY_OK);
  assert_int_equal(outfile_close(&o, NULL), MLY_OK);
  assert_int_equal(outfile_publish(&o, NULL), MLY_OK);
  outfile_abort(&o);
  char *text = slurp(path);
  assert_string_equal(text, "id,lon,lat,sequence_id,captured_at,compass_angle,is_pano,"
                            "organization_id,properties\r\n"
                            "1,2.5000000,3.5000000,s,,,true,,\r\n"
                            "2,-1.0000000,0.0000000,\"a,b\",5,,false,o,\r\n");
  free(text);
  free(path);

  size_t n;
  text = write_two(dir, "s.csv", OUTFILE_SEQUENCES, true, &n);
  assert_bytes(text, n, "sequence_id,is_pano,organization_id,total_points,captured_at_start,"
                        "captured_at_end,images_id,wkt\r\n");
  free(text);
  /* outfile_open is the points kind */
  text = write_two(dir, "p2.csv", OUTFILE_POINTS, true, &n);
  assert_bytes(text, n, OUTFILE_CSV_POINTS_HEADER "\r\n");
  free(text);
}

/* ---- CSV fields ------------------------------------------------------------ */

static void assert_field(const char *in, size_t n, const char *want)
{
  struct dbuf b;
  dbuf_init(&b, 1 << 16);
  assert_int_equal(csvw_field(&b, in, n), MLY_OK);
  if(b.n != strlen(want) || memcmp(b.p, want, b.n) != 0)
    fail_msg("field '%.*s' written as '%.*s', want '%s'", (int)n, in, (int)b.n, b.p, want);
  dbuf_cleanup(&b);
}

#define FIELD(in, want) assert_field((in), sizeof(in) - 1, (want))

static void test_csv_field_quoting(void **state)
{
  (void)state;
  FIELD("plain", "plain");
  FIELD("", "");
  FIELD("with space", "with space");
  FIELD("a,b", "\"a,b\"");
  FIELD("say \"hi\"", "\"say \"\"hi\"\"\"");
  FIELD("\"", "\"\"\"\"");
  FIELD("line\nbreak", "\"line\nbreak\"");
  FIELD("cr\rlf\r\n", "\"cr\rlf\r\n\"");
  FIELD("tab\tstays", "tab\tstays");
  FIELD("caf\xc3\xa9", "caf\xc3\xa9");
  /* invalid UTF-8 and NUL: U+FFFD, so the file stays valid text */
  FIELD("ab\xff", "ab\xef\xbf\xbd");
  FIELD("n\0l", "n\xef\xbf\xbdl");
  FIELD("\xed\xa0\x80,", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd,\"");
  FIELD("\xc3", "\xef\xbf\xbd"); /* truncated sequence */
}

static void test_csv_quote_in_place(void **state)
{
  (void)state;
  struct dbuf b;
  dbuf_init(&b, 1 << 16);
  assert_int_equal(dbuf_adds(&b, "keep,"), MLY_OK);
  assert_int_equal(dbuf_adds(&b, "{\"a\":\"x,\\\"y\"}"), MLY_OK);
  assert_int_equal(csvw_quote_from(&b, 5), MLY_OK);
  assert_non_null(dbuf_cstr(&b));
  assert_string_equal(b.p, "keep,\"{\"\"a\"\":\"\"x,\\\"\"y\"\"}\"");
  /* nothing after start: an empty quoted field */
  size_t start = b.n;
  assert_int_equal(csvw_quote_from(&b, start), MLY_OK);
  assert_int_equal(b.n, start + 2);
  assert_memory_equal(b.p + start, "\"\"", 2);
  assert_int_equal(csvw_quote_from(&b, b.n + 1), MLY_EINVAL);
  /* a capped buffer refuses rather than overflowing */
  struct dbuf small;
  dbuf_init(&small, 8);
  assert_int_equal(dbuf_adds(&small, "\"\"\"\"\"\""), MLY_OK);
  assert_int_equal(csvw_quote_from(&small, 0), MLY_ETOOBIG);
  assert_int_equal(small.n, 6);
  dbuf_cleanup(&small);
  dbuf_cleanup(&b);
}

/* ---- standard output ------------------------------------------------------- */

/* Redirect fd 1 to path for the duration of a publish; returns the saved fd */
static int stdout_to(const char *path)
{
  fflush(stdout);
  int saved = dup(STDOUT_FILENO);
  assert_true(saved >= 0);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
  close(fd);
  return saved;
}

static void stdout_restore(int saved)
{
  fflush(stdout);
  assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
  close(saved);
}

static void test_stdout_published_only_complete(void **state)
{
  const char *dir = *state;
  char *tmpdir = join(dir, "tmp");
  assert_int_equal(mkdir(tmpdir, 0700), 0);
  const char *old = getenv("TMPDIR");
  char *saved_tmpdir = old ? strdup(old) : NULL;
  assert_int_equal(setenv("TMPDIR", tmpdir, 1), 0);
  char *capture = join(dir, "stdout.txt");

  struct mly_err err = {0};
  assert_int_equal(outfile_prepare_dir("-", &err), MLY_OK);
  int saved = stdout_to(capture);
  struct outfile o;
  /* the format is GeoJSON whatever happens; "-" has no extension */
  assert_int_equal(outfile_open_as(&o, "-", OUTFILE_POINTS, &err), MLY_OK);
  assert_true(o.to_stdout);
  assert_int_equal(o.fmt, OUTFMT_GEOJSON);
  assert_null(o.tmp_path);
  /* the temp file is unlinked at once: a killed run leaves nothing */
  assert_int_equal(count_entries(tmpdir, NULL), 0);
  assert_int_equal(count_entries(dir, NULL), 2);
  assert_int_equal(outfile_feature(&o, FEAT1, strlen(FEAT1), &err), MLY_OK);
  assert_int_equal(outfile_feature(&o, FEAT2, strlen(FEAT2), &err), MLY_OK);
  assert_int_equal(outfile_close(&o, &err), MLY_OK);
  /* closed but not published: nothing has reached standard output */
  struct stat st;
  assert_int_equal(stat(capture, &st), 0);
  assert_int_equal(st.st_size, 0);
  printf("before;"); /* stdio's pending bytes go first */
  assert_int_equal(outfile_publish(&o, &err), MLY_OK);
  outfile_abort(&o);
  stdout_restore(saved);

  char *text = slurp(capture);
  char want[512];
  snprintf(want, sizeof(want),
           "before;{\"type\":\"FeatureCollection\",\"features\":[\n%s,\n%s\n]}\n", FEAT1, FEAT2);
  assert_string_equal(text, want);
  json_error_t jerr;
  json_t *j = json_loads(text + strlen("before;"), 0, &jerr);
  assert_non_null(j);
  assert_int_equal(json_array_size(json_object_get(j, "features")), 2);
  json_decref(j);
  free(text);
  assert_int_equal(count_entries(tmpdir, NULL), 0);
  /* no file named "-" anywhere */
  assert_false(exists("-"));
  assert_int_equal(count_entries(dir, NULL), 2);

  /* an aborted run writes nothing to standard output */
  saved = stdout_to(capture);
  assert_int_equal(outfile_open(&o, "-", &err), MLY_OK);
  assert_int_equal(outfile_feature(&o, FEAT1, strlen(FEAT1), &err), MLY_OK);
  assert_int_equal(outfile_close(&o, &err), MLY_OK);
  outfile_abort(&o);
  stdout_restore(saved);
  assert_int_equal(stat(capture, &st), 0);
  assert_int_equal(st.st_size, 0);
  assert_int_equal(count_entries(tmpdir, NULL), 0);

  if(saved_tmpdir)
    setenv("TMPDIR", saved_tmpdir, 1);
  else
    unsetenv("TMPDIR");
  free(saved_tmpdir);
  free(capture);
  free(tmpdir);
}

static void test_stdout_needs_a_writable_tmpdir(void **state)
{
  const char *dir = *state;
  const char *old = getenv("TMPDIR");
  char *saved_tmpdir = old ? strdup(old) : NULL;
  char *missing = join(dir, "no/such/folder");
  assert_int_equal(setenv("TMPDIR", missing, 1), 0);
  struct mly_err err = {0};
  assert_int_equal(outfile_prepare_dir("-", &err), MLY_EIO);
  assert_non_null(strstr(err.msg, "temporary folder"));
  struct outfile o;
  assert_int_equal(outfile_open(&o, "-", &err), MLY_EIO);
  outfile_abort(&o);
  if(saved_tmpdir)
    setenv("TMPDIR", saved_tmpdir, 1);
  else
    unsetenv("TMPDIR");
  free(saved_tmpdir);
  free(missing);
}

/* ---- GDAL reads what we write ---------------------------------------------- */

/* "Feature Count: N" of `ogrinfo -ro -al -so [opts] path`, -1 if it has
 * none (ogrinfo refused the file) */
static long ogr_count(const char *path, const char *opts)
{
  char cmd[2048];
  snprintf(cmd, sizeof(cmd), "ogrinfo -ro -al -so %s '%s' 2>&1", opts, path);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  char line[1024];
  long count = -1;
  while(fgets(line, sizeof(line), p)) {
    long v;
    if(sscanf(line, "Feature Count: %ld", &v) == 1)
      count = v;
    if(strstr(line, "ERROR"))
      fail_msg("ogrinfo on %s: %s", path, line);
  }
  pclose(p);
  return count;
}

static bool have_ogrinfo(void)
{
  return system("ogrinfo --version >/dev/null 2>&1") == 0;
}

static void test_gdal_reads_every_format(void **state)
{
  const char *dir = *state;
  if(!have_ogrinfo())
    skip();
  static const char P1[] = "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":"
                           "[-108.5500000,39.0600000]},\"properties\":{\"id\":\"1\"}}";
  static const char P2[] = "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":"
                           "[-108.5400000,39.0650000]},\"properties\":{\"id\":\"2\"}}";
  static const char R1[] = "1,-108.5500000,39.0600000,s,,,true,,\"{\"\"k\"\":\"\"a,b\"\"}\"";
  static const char R2[] = "2,-108.5400000,39.0650000,\"multi\nline\",,,false,,";
  const char *names[] = {"p.geojson", "p.geojsonl", "p.ndjson", "p.jsonl", "p.geojsons", "p.csv"};
  for(size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    char *path = join(dir, names[i]);
    struct outfile o;
    assert_int_equal(outfile_open(&o, path, NULL), MLY_OK);
    bool csv = o.fmt == OUTFMT_CSV;
    assert_int_equal(outfile_feature(&o, csv ? R1 : P1, strlen(csv ? R1 : P1), NULL), MLY_OK);
    assert_int_equal(outfile_feature(&o, csv ? R2 : P2, strlen(csv ? R2 : P2), NULL), MLY_OK);
    assert_int_equal(outfile_close(&o, NULL), MLY_OK);
    assert_int_equal(outfile_publish(&o, NULL), MLY_OK);
    outfile_abort(&o);
    const char *opts = csv ? "-oo X_POSSIBLE_NAMES=lon -oo Y_POSSIBLE_NAMES=lat" : "";
    long n = ogr_count(path, opts);
    if(n != 2)
      fail_msg("ogrinfo counts %ld features in %s, want 2", n, names[i]);
    free(path);
  }
}

/* finish writes the footer and hands everything to the kernel: the temp
 * file is complete before close; a second finish changes nothing; close
 * and publish then give the usual bytes */
static void test_finish_before_close(void **state)
{
  const char *dir = *state;
  char *path = join(dir, "fin.geojson");
  struct outfile o;
  struct mly_err err = {0};
  char want[512];
  snprintf(want, sizeof(want), "{\"type\":\"FeatureCollection\",\"features\":[\n%s,\n%s\n]}\n",
           FEAT1, FEAT2);
  assert_int_equal(outfile_open(&o, path, &err), MLY_OK);
  assert_int_equal(outfile_feature(&o, FEAT1, strlen(FEAT1), &err), MLY_OK);
  assert_int_equal(outfile_feature(&o, FEAT2, strlen(FEAT2), &err), MLY_OK);
  assert_int_equal(outfile_finish(&o, &err), MLY_OK);
  char *tmp = slurp(o.tmp_path);
  assert_non_null(tmp);
  assert_string_equal(tmp, want);
  free(tmp);
  assert_false(exists(path));
  assert_int_equal(outfile_finish(&o, &err), MLY_OK);
  assert_int_equal(outfile_close(&o, &err), MLY_OK);
  assert_false(exists(path));
  assert_int_equal(outfile_publish(&o, &err), MLY_OK);
  char *text = slurp(path);
  assert_non_null(text);
  assert_string_equal(text, want);
  free(text);
  outfile_abort(&o);
  int ntmp;
  assert_int_equal(count_entries(dir, &ntmp), 1);
  assert_int_equal(ntmp, 0);
  free(path);
}

/* A finished file that is aborted is gone like any other */
static void test_finish_then_abort_leaves_no_file(void **state)
{
  const char *dir = *state;
  char *path = join(dir, "gone.csv");
  struct outfile o;
  struct mly_err err = {0};
  assert_int_equal(outfile_open(&o, path, &err), MLY_OK);
  assert_int_equal(outfile_feature(&o, "1,2", 3, &err), MLY_OK);
  assert_int_equal(outfile_finish(&o, &err), MLY_OK);
  outfile_abort(&o);
  assert_int_equal(count_entries(dir, NULL), 0);
  free(path);
}

/* A large output has its writeback started while it is written (so the
 * final fsync has little left), and its bytes are exactly those given */
#ifdef __linux__
/* Pages of path's first n bytes in the page cache (mincore of a mapping
 * that touches none), or -1 on tmpfs, where the cache is the storage */
static size_t resident_pages(const char *path, size_t n)
{
  struct statfs fs;
  assert_int_equal(statfs(path, &fs), 0);
  if(fs.f_type == TMPFS_MAGIC)
    return (size_t)-1;
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  void *m = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
  assert_true(m != MAP_FAILED);
  size_t pages = (n + 4095) / 4096, resident = 0;
  unsigned char *vec = malloc(pages);
  assert_non_null(vec);
  assert_int_equal(mincore(m, n, vec), 0);
  for(size_t i = 0; i < pages; i++)
    resident += vec[i] & 1;
  free(vec);
  munmap(m, n);
  close(fd);
  return resident;
}
#endif

#ifdef __linux__
/* Waiting for a step's writeback takes the file's write error off the
 * fsync that would report it: the error must come back all the same. The
 * wait is made to fail by putting /dev/zero under the output's descriptor
 * (sync_file_range refuses it with ESPIPE; recent kernels accept
 * /dev/null). Nothing may be published. */
static void test_failed_writeback_wait_is_reported(void **state)
{
  const char *dir = *state;
  char *path = join(dir, "lost.geojsonl");
  struct outfile o;
  struct mly_err err = {0};
  assert_int_equal(outfile_open(&o, path, &err), MLY_OK);
  int null_fd = open("/dev/zero", O_WRONLY);
  assert_true(null_fd >= 0);
  assert_true(dup2(null_fd, fileno(o.fp)) >= 0);
  close(null_fd);
  char line[1000];
  memset(line, 'x', sizeof(line));
  enum mly_rc rc = MLY_OK;
  size_t written = 0;
  while(!rc && written < 8 * (size_t)OUTFILE_WRITEBACK_STEP + (4u << 20)) {
    rc = outfile_feature(&o, line, sizeof(line), &err);
    written += sizeof(line) + 1;
  }
  assert_int_equal(rc, MLY_EIO);
  assert_non_null(strstr(err.msg, "cannot write"));
  struct mly_err cerr = {0};
  assert_int_equal(outfile_close(&o, &cerr), MLY_EIO);
  outfile_abort(&o);
  assert_false(exists(path));
  int tmp = 0;
  assert_int_equal(count_entries(dir, &tmp), 0);
  free(path);
}
#endif

static void test_large_output_is_written_back_early(void **state)
{
  const char *dir = *state;
  char *path = join(dir, "big.geojsonl");
  struct outfile o;
  struct mly_err err = {0};
  enum { LINE = 1000 };
  char line[LINE];
  size_t total = 3 * (size_t)OUTFILE_WRITEBACK_STEP + (3u << 20);
  size_t nlines = total / (LINE + 1) + 1;
  assert_int_equal(outfile_open(&o, path, &err), MLY_OK);
  for(size_t i = 0; i < nlines; i++) {
    memset(line, 'a' + (int)(i % 26), sizeof(line));
    assert_int_equal(outfile_feature(&o, line, sizeof(line), &err), MLY_OK);
  }
  assert_int_equal(o.bytes, (uint64_t)nlines * (LINE + 1));
#ifdef __linux__
  /* started on all but what stdio may hold, a page boundary at a time */
  assert_true(o.wb_start >= 2 * (uint64_t)OUTFILE_WRITEBACK_STEP);
  assert_int_equal(o.wb_start % 4096, 0);
  assert_true(o.wb_start <= o.bytes);
  /* the steps before the last are on disk and out of the page cache */
  assert_true(o.drop_start >= (uint64_t)OUTFILE_WRITEBACK_STEP);
  assert_true(o.drop_start <= o.wb_start);
  assert_int_equal(o.drop_start % 4096, 0);
  size_t resident = resident_pages(o.tmp_path, (size_t)o.drop_start);
  if(resident != (size_t)-1) /* -1: a file system that keeps pages (tmpfs) */
    assert_true(resident * 4 <= o.drop_start / 4096);
#endif
  assert_int_equal(outfile_close(&o, &err), MLY_OK);
  assert_int_equal(outfile_publish(&o, &err), MLY_OK);
  outfile_abort(&o);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal((uint64_t)st.st_size, (uint64_t)nlines * (LINE + 1));
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  char got[LINE + 1];
  for(size_t i = 0; i < nlines; i++) {
    assert_int_equal(fread(got, 1, sizeof(got), f), sizeof(got));
    assert_int_equal(got[LINE], '\n');
    for(size_t k = 0; k < LINE; k++)
      if(got[k] != 'a' + (int)(i % 26))
        fail_msg("line %zu byte %zu is %d", i, k, got[k]);
  }
  assert_int_equal(fgetc(f), EOF);
  fclose(f);
  free(path);
}

/* Write size bytes of c to path */
static void write_big(const char *path, size_t size, char c)
{
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  char buf[4096];
  memset(buf, c, sizeof(buf));
  for(size_t done = 0; done < size; done += sizeof(buf))
    assert_int_equal(fwrite(buf, 1, sizeof(buf), f), sizeof(buf));
  assert_int_equal(fclose(f), 0);
}

/* A large file replaced by publish is let go by a helper thread: the path
 * holds the new bytes at once, other names of the old file keep theirs,
 * and abort waits for the thread */
static void test_publish_replacing_a_large_file(void **state)
{
  const char *dir = *state;
  char *path = join(dir, "big.geojson");
  char *other = join(dir, "other.geojson");
  char *keep = join(dir, "keep.geojson");
  size_t big = 2 * (size_t)OUTFILE_RELEASE_MIN;
  char want[512];
  snprintf(want, sizeof(want), "{\"type\":\"FeatureCollection\",\"features\":[\n%s\n]}\n", FEAT1);
  struct mly_err err = {0};

  /* one name: held and released by the thread */
  write_big(path, big, 'x');
  struct outfile o;
  assert_int_equal(outfile_open(&o, path, &err), MLY_OK);
  assert_int_equal(outfile_feature(&o, FEAT1, strlen(FEAT1), &err), MLY_OK);
  assert_int_equal(outfile_close(&o, &err), MLY_OK);
  assert_int_equal(outfile_publish(&o, &err), MLY_OK);
  char *text = slurp(path);
  assert_string_equal(text, want);
  free(text);
  outfile_abort(&o);
  assert_false(o.releasing);

  /* two names: the other keeps the old bytes */
  write_big(other, big, 'y');
  assert_int_equal(link(other, keep), 0);
  assert_int_equal(outfile_open(&o, other, &err), MLY_OK);
  assert_int_equal(outfile_feature(&o, FEAT1, strlen(FEAT1), &err), MLY_OK);
  assert_int_equal(outfile_close(&o, &err), MLY_OK);
  assert_int_equal(outfile_publish(&o, &err), MLY_OK);
  assert_false(o.releasing);
  outfile_abort(&o);
  text = slurp(other);
  assert_string_equal(text, want);
  free(text);
  struct stat st;
  assert_int_equal(stat(keep, &st), 0);
  assert_int_equal((size_t)st.st_size, big);
  assert_int_equal(st.st_nlink, 1);
  int ntmp;
  assert_int_equal(count_entries(dir, &ntmp), 3);
  assert_int_equal(ntmp, 0);
  free(path);
  free(other);
  free(keep);
}

/* One output of a set, complete and closed, holding FEAT1 */
static void ready(struct outfile *o, const char *path)
{
  struct mly_err err = {0};
  assert_int_equal(outfile_open(o, path, &err), MLY_OK);
  assert_int_equal(outfile_feature(o, FEAT1, strlen(FEAT1), &err), MLY_OK);
  assert_int_equal(outfile_close(o, &err), MLY_OK);
}

/* Publishing a set: all of it, or none of it. The last file's rename is
 * made to fail (its temp file taken away); the files renamed before it
 * are put back: the one that replaced a file and the one that was new */
static void publish_all_or_nothing(const char *dir)
{
  char *a = join(dir, "a.geojson"), *b = join(dir, "b.geojson"), *c = join(dir, "c.geojson");
  write_file(a, "old a");
  write_file(c, "old c");
  struct outfile oa, ob, oc;
  ready(&oa, a);
  ready(&ob, b);
  ready(&oc, c);
  assert_int_equal(unlink(oc.tmp_path), 0);
  struct outfile *set[] = {&oa, &ob, &oc};
  struct mly_err err = {0};
  assert_int_equal(outfile_publish_all(set, 3, &err), MLY_EIO);
  assert_non_null(strstr(err.msg, "c.geojson"));
  char *text = slurp(a);
  assert_string_equal(text, "old a");
  free(text);
  assert_false(exists(b));
  text = slurp(c);
  assert_string_equal(text, "old c");
  free(text);
  outfile_abort_all(set, 3);
  int ntmp;
  assert_int_equal(count_entries(dir, &ntmp), 2);
  assert_int_equal(ntmp, 0);

  /* the same set in order: all three, and the files replaced are gone */
  ready(&oa, a);
  ready(&ob, b);
  ready(&oc, c);
  assert_int_equal(outfile_publish_all(set, 3, &err), MLY_OK);
  outfile_abort_all(set, 3);
  char want[512];
  snprintf(want, sizeof(want), "{\"type\":\"FeatureCollection\",\"features\":[\n%s\n]}\n", FEAT1);
  const char *paths[] = {a, b, c};
  for(int i = 0; i < 3; i++) {
    text = slurp(paths[i]);
    assert_string_equal(text, want);
    free(text);
  }
  assert_int_equal(count_entries(dir, &ntmp), 3);
  assert_int_equal(ntmp, 0);
  free(a);
  free(b);
  free(c);
}

static void test_publish_all_or_nothing(void **state)
{
  publish_all_or_nothing(*state);
}

/* The same where RENAME_EXCHANGE is missing: the old files are kept under a
 * second name and renamed back */
static void test_publish_all_or_nothing_without_exchange(void **state)
{
  outfile_no_exchange = true;
  publish_all_or_nothing(*state);
  outfile_no_exchange = false;
}

/* A target that cannot be replaced is found by open (before a run's first
 * request) and again by publish, before anything is renamed */
static void test_targets_checked_before_any_rename(void **state)
{
  const char *dir = *state;
  char *a = join(dir, "a.geojson"), *b = join(dir, "b.geojson");
  write_file(a, "old a");
  struct outfile oa, ob;
  ready(&oa, a);
  ready(&ob, b);
  assert_int_equal(mkdir(b, 0777), 0); /* a folder created in the way meanwhile */
  struct outfile *set[] = {&oa, &ob};
  struct mly_err err = {0};
  assert_int_equal(outfile_publish_all(set, 2, &err), MLY_EIO);
  assert_non_null(strstr(err.msg, "directory"));
  char *text = slurp(a);
  assert_string_equal(text, "old a");
  free(text);
  outfile_abort_all(set, 2);
  assert_int_equal(rmdir(b), 0);
  free(a);
  free(b);
}

/* Temp files of runs that are gone are swept; a live one (locked), names
 * that only look like ours and folders are left */
static void test_sweep_takes_only_stale_temp_files(void **state)
{
  const char *dir = *state;
  /* a live run's temp file: an output open now (its open sweeps too) */
  char *live = join(dir, "live.geojson");
  struct outfile o;
  struct mly_err err = {0};
  assert_int_equal(outfile_open(&o, live, &err), MLY_OK);
  assert_int_equal(outfile_close(&o, &err), MLY_OK); /* the lock outlives the data's descriptor */
  const char *stale[] = {".p.geojson.mly-tmp-AbC123", ".x.mly-tmp-000000"};
  const char *kept[] = {"p.geojson.mly-tmp-AbC123", ".p.geojson.mly-tmp-AbC12",
                        ".p.geojson.mly-tmp-AbC123x", ".p.geojson.mly-tmp-AbC-23", "p.geojson"};
  for(size_t i = 0; i < 2; i++) {
    char *p = join(dir, stale[i]);
    write_file(p, "stale");
    free(p);
  }
  for(size_t i = 0; i < 5; i++) {
    char *p = join(dir, kept[i]);
    write_file(p, "not ours");
    free(p);
  }
  char *sub = join(dir, ".d.mly-tmp-AbC123");
  assert_int_equal(mkdir(sub, 0777), 0);
  assert_int_equal(outfile_sweep_stale(dir), 2);
  assert_true(exists(o.tmp_path));
  assert_true(exists(sub));
  for(size_t i = 0; i < 5; i++) {
    char *p = join(dir, kept[i]);
    assert_true(exists(p));
    free(p);
  }
  /* an flock held elsewhere also means alive */
  char *held = join(dir, ".h.mly-tmp-zzzzzz");
  write_file(held, "held");
  int fd = open(held, O_RDONLY);
  assert_true(fd >= 0);
  assert_int_equal(flock(fd, LOCK_EX), 0);
  assert_int_equal(outfile_sweep_stale(dir), 0);
  close(fd);
  assert_int_equal(outfile_sweep_stale(dir), 1);
  assert_false(exists(held));
  outfile_abort(&o);
  free(held);
  free(live);
  free(sub);
}

/* The folders an open made are removed by abort when empty, and kept once
 * published; a folder that was there stays */
static void test_abort_removes_the_folders_it_made(void **state)
{
  const char *dir = *state;
  char *kept = join(dir, "kept");
  assert_int_equal(mkdir(kept, 0777), 0);
  char *p1 = join(dir, "kept/new/deeper/p.geojson"), *p2 = join(dir, "kept/new/s.geojson");
  struct outfile a, b;
  ready(&a, p1);
  ready(&b, p2);
  struct outfile *set[] = {&a, &b};
  outfile_abort_all(set, 2);
  assert_true(exists(kept));
  assert_int_equal(count_entries(kept, NULL), 0);
  ready(&a, p1);
  ready(&b, p2);
  struct mly_err err = {0};
  assert_int_equal(outfile_publish_all(set, 2, &err), MLY_OK);
  outfile_abort_all(set, 2);
  assert_true(exists(p1) && exists(p2));
  free(p1);
  free(p2);
  free(kept);
}

/* A symlink is followed: the target is replaced, the link stays */
static void test_symlink_is_followed(void **state)
{
  const char *dir = *state;
  char *target = join(dir, "target.geojson"), *link_ = join(dir, "link.geojson");
  write_file(target, "old");
  assert_int_equal(symlink("target.geojson", link_), 0);
  struct outfile o;
  ready(&o, link_);
  struct mly_err err = {0};
  assert_int_equal(outfile_publish(&o, &err), MLY_OK);
  outfile_abort(&o);
  struct stat st;
  assert_int_equal(lstat(link_, &st), 0);
  assert_true(S_ISLNK(st.st_mode));
  char *text = slurp(target);
  assert_non_null(strstr(text, FEAT1));
  free(text);
  /* one that leads nowhere is refused, and nothing is created */
  assert_int_equal(unlink(target), 0);
  assert_int_equal(outfile_open(&o, link_, &err), MLY_EIO);
  assert_non_null(strstr(err.msg, "symlink"));
  outfile_abort(&o);
  assert_int_equal(count_entries(dir, NULL), 1);
  free(target);
  free(link_);
}

#ifdef __linux__
/* A FIFO is written through at publish, never replaced */
static void test_fifo_is_written_through(void **state)
{
  const char *dir = *state;
  char *fifo = join(dir, "fifo");
  assert_int_equal(mkfifo(fifo, 0666), 0);
  /* a reader that is there before publish opens it for writing */
  int rd = open(fifo, O_RDONLY | O_NONBLOCK);
  assert_true(rd >= 0);
  struct outfile o;
  ready(&o, fifo);
  assert_true(o.copied);
  assert_null(o.tmp_path); /* nothing beside it */
  struct mly_err err = {0};
  assert_int_equal(outfile_publish(&o, &err), MLY_OK);
  outfile_abort(&o);
  char buf[512];
  ssize_t n = read(rd, buf, sizeof(buf) - 1);
  assert_true(n > 0);
  buf[n] = '\0';
  assert_non_null(strstr(buf, FEAT1));
  close(rd);
  struct stat st;
  assert_int_equal(lstat(fifo, &st), 0);
  assert_true(S_ISFIFO(st.st_mode));
  assert_int_equal(count_entries(dir, NULL), 1);
  free(fifo);
}
#endif

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
    cmocka_unit_test(test_format_by_extension),
    cmocka_unit_test_setup_teardown(test_geojson_default_bytes, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_geojsonl_bytes, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_geojson_text_sequence_bytes, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_csv_header_and_line_ends, setup_dir, teardown_dir),
    cmocka_unit_test(test_csv_field_quoting),
    cmocka_unit_test(test_csv_quote_in_place),
    cmocka_unit_test_setup_teardown(test_stdout_published_only_complete, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_stdout_needs_a_writable_tmpdir, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_gdal_reads_every_format, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_finish_before_close, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_finish_then_abort_leaves_no_file, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_large_output_is_written_back_early, setup_dir, teardown_dir),
#ifdef __linux__
    cmocka_unit_test_setup_teardown(test_failed_writeback_wait_is_reported, setup_dir,
                                    teardown_dir),
#endif
    cmocka_unit_test_setup_teardown(test_publish_replacing_a_large_file, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_publish_all_or_nothing, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_publish_all_or_nothing_without_exchange, setup_dir,
                                    teardown_dir),
    cmocka_unit_test_setup_teardown(test_targets_checked_before_any_rename, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_sweep_takes_only_stale_temp_files, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_abort_removes_the_folders_it_made, setup_dir, teardown_dir),
    cmocka_unit_test_setup_teardown(test_symlink_is_followed, setup_dir, teardown_dir),
#ifdef __linux__
    cmocka_unit_test_setup_teardown(test_fifo_is_written_through, setup_dir, teardown_dir),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
