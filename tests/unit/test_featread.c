/* test_featread.c -- unit tests of the workflow input reader (every format,
 * broken inputs with their exact messages) and the feature writers */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mly/featread.h"
#include "mly/jsonw.h"
#include "mly/outfile.h"

/* Every feature of text read as format `name` (by its extension), each
 * written back with feature_write_geojson on its own line, or "error: "
 * and the message when reading fails (after the features before it) */
static char *read_all(const char *name, const char *text, size_t n)
{
  FILE *fp = fmemopen((void *)text, n, "rb");
  assert_non_null(fp);
  struct dbuf out;
  dbuf_init(&out, 1 << 26);
  struct mly_err err = {0};
  struct featread *r = NULL;
  enum mly_rc rc = featread_open_stream(fp, name, &r, &err);
  bool got = true;
  while(!rc) {
    struct feature f;
    rc = featread_next(r, &f, &got, &err);
    if(rc || !got)
      break;
    assert_true(json_is_object(f.properties));
    assert_int_equal(dbuf_add(&out, "", 0), MLY_OK);
    if(out.n)
      assert_int_equal(dbuf_add(&out, "\n", 1), MLY_OK);
    assert_int_equal(feature_write_geojson(&out, f.properties, f.geometry), MLY_OK);
  }
  if(rc) {
    if(out.n)
      assert_int_equal(dbuf_add(&out, "\n", 1), MLY_OK);
    assert_int_equal(dbuf_adds(&out, "error: "), MLY_OK);
    assert_int_equal(dbuf_adds(&out, err.msg), MLY_OK);
    assert_null(strchr(err.msg, '\n'));
  }
  featread_close(&r);
  assert_null(r);
  fclose(fp);
  char *s = strdup(dbuf_cstr(&out) ? dbuf_cstr(&out) : "");
  dbuf_cleanup(&out);
  return s;
}

#define CHECK(name, text, want)                              \
  do {                                                       \
    char *got_ = read_all(name, text, sizeof(text) - 1);     \
    assert_string_equal(got_, want);                         \
    free(got_);                                              \
  } while(0)

#define P1 "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[-108.5000000,39.1234567]}," \
           "\"properties\":{\"id\":\"4242424242424242424\",\"sequence_id\":\"s1\",\"captured_at\":1651366800000," \
           "\"compass_angle\":12.345678901234567,\"is_pano\":false,\"organization_id\":\"7\",\"extra\":[1,{\"a\":null}]}}"
#define P2 "{\"type\":\"Feature\",\"geometry\":null,\"properties\":{}}"

/* What get_mapillary_points writes comes back byte for byte */
static void test_collection_roundtrip(void **state)
{
  (void)state;
  CHECK("a.geojson", "{\"type\":\"FeatureCollection\",\"features\":[\n" P1 ",\n" P2 "\n]}\n", P1 "\n" P2);
  /* members in any order, a bbox, blanks and a BOM */
  CHECK("a.json", "\xEF\xBB\xBF { \"features\" : [ " P1 " ] , \"bbox\":[1,2,3,4], \"type\" : \"FeatureCollection\" }",
        P1);
  CHECK("a.geojson", "{\"type\":\"FeatureCollection\",\"features\":[]}", "");
  /* a string holding brackets, quotes and escapes does not end a feature */
  CHECK("a.geojson",
        "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":"
        "{\"s\":\"]}\\\"{[\\\\\"},\"geometry\":null}]}",
        "{\"type\":\"Feature\",\"geometry\":null,\"properties\":{\"s\":\"]}\\\"{[\\\\\"}}");
}

static void test_single_objects(void **state)
{
  (void)state;
  CHECK("a.geojson", P1, P1);
  CHECK("a", "{\"type\":\"LineString\",\"coordinates\":[[1,2],[3.5,4]]}",
        "{\"type\":\"Feature\",\"geometry\":{\"type\":\"LineString\",\"coordinates\":[[1.0000000,2.0000000],"
        "[3.5000000,4.0000000]]},\"properties\":{}}");
  /* properties absent or null: an empty object */
  CHECK("a.geojson", "{\"type\":\"Feature\",\"geometry\":null}", P2);
  CHECK("a.geojson", "{\"type\":\"Feature\",\"geometry\":null,\"properties\":null}", P2);
}

static void test_lines(void **state)
{
  (void)state;
  CHECK("a.geojsonl", P1 "\n\n" P2 "\n", P1 "\n" P2);
  CHECK("a.ndjson", P1 "\r\n" P2, P1 "\n" P2);
  CHECK("a.geojsons", "\x1e" P1 "\n\x1e" P2 "\n", P1 "\n" P2);
  CHECK("a.geojsonl", "", "");
  CHECK("a.geojsonl", P1 "\n{\"type\":\"Feature\",\n", P1 "\nerror: a.geojsonl: line 2: invalid JSON at "
        "line 2: string or '}' expected near end of file");
  CHECK("a.geojsons", "\x1e" P1 "\n\x1e{\"type\":\"Feature\"\n,\"properties\":7}\n",
        P1 "\nerror: a.geojsons: line 2: properties is not an object or null");
  CHECK("a.jsonl", "[1,2]\n", "error: a.jsonl: line 1: not a JSON object");
}

static void test_broken_geojson(void **state)
{
  (void)state;
  CHECK("a.geojson", "", "error: a.geojson: empty input: no GeoJSON");
  CHECK("a.geojson", "  \n ", "error: a.geojson: empty input: no GeoJSON");
  CHECK("a.geojson", "[1]", "error: a.geojson: invalid JSON at line 1: a GeoJSON object must start "
        "with '{', found '['");
  CHECK("a.geojson", "{\"type\":\"FeatureCollection\",\"features\":[" P1 ",\n{\"type\":\"Feature\"",
        P1 "\nerror: a.geojson: feature 1: invalid JSON: the text ends at line 2 inside it");
  CHECK("a.geojson", "{\"type\":\"FeatureCollection\",\"features\":[" P1,
        P1 "\nerror: a.geojson: invalid JSON: the text ends at line 1 inside the top-level object");
  CHECK("a.geojson", "{\"type\":\"FeatureCollection\",\"features\":[" P1 "\n,\n{\"type\":\"Feature\",\n"
        "\"geometry\":{\"type\":\"Point\",\"coordinates\":[1,2]},}]}",
        P1 "\nerror: a.geojson: feature 1: invalid JSON at line 4: string or '}' expected near '}'");
  CHECK("a.geojson", "{\"type\":\"FeatureCollection\",\"features\":[" P1 " " P2 "]}",
        P1 "\nerror: a.geojson: invalid JSON at line 1: ',' or ']' expected between features, found '{'");
  CHECK("a.geojson", "{\"type\":\"FeatureCollection\",\"features\":{}}",
        "error: a.geojson: \"features\" is not an array");
  CHECK("a.geojson", "{\"type\":\"Topology\",\"features\":[]}",
        "error: a.geojson: an object with \"features\" that is not a FeatureCollection");
  CHECK("a.geojson", "{\"type\":\"FeatureCollection\",\"features\":[],\"features\":[]}",
        "error: a.geojson: duplicate \"features\" member");
  CHECK("a.geojson", "{\"type\":\"FeatureCollection\",\"features\":[]} x",
        "error: a.geojson: invalid JSON at line 1: text after the top-level object");
  CHECK("a.geojson", "{\"type\":\"FeatureCollection\",\"features\":[7]}",
        "error: a.geojson: feature 0: not a JSON object");
  CHECK("a.geojson", "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"geometry\":"
        "{\"type\":\"Circle\"}}]}", "error: a.geojson: feature 0: geometry has no GeoJSON geometry type");
  CHECK("a.geojson", "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Bogus\"}]}",
        "error: a.geojson: feature 0: type 'Bogus' is not a Feature or a geometry");
  CHECK("a.geojson", "{\"type\":\"FeatureCollection\",\"features\":[{\"a\":1,\"a\":2}]}",
        "error: a.geojson: feature 0: invalid JSON at line 1: duplicate object key near '\"a\"'");
  CHECK("a.geojson", "{\"type\":\"Feature\",\"geometry\":null,\"properties\":{\"s\":\"\xff\"}}",
        "error: a.geojson: top-level object: invalid JSON at line 1: unable to decode byte 0xff near '\"'");
  CHECK("a.geojson", "{}", "error: a.geojson: top-level object: no \"type\" member");
}

#define CSV_HEAD OUTFILE_CSV_POINTS_HEADER "\r\n"

static void test_csv_points(void **state)
{
  (void)state;
  /* get_mapillary_points' points CSV: the same features as its GeoJSON */
  CHECK("p.csv", CSV_HEAD "4242424242424242424,-108.5000000,39.1234567,s1,1651366800000,12.345678901234567,"
        "false,7,\"{\"\"extra\"\":[1,{\"\"a\"\":null}]}\"\r\n", P1);
  /* unknown values are empty cells: absent properties; a null position */
  CHECK("p.csv", CSV_HEAD "9,,,,,,,,\r\n",
        "{\"type\":\"Feature\",\"geometry\":null,\"properties\":{\"id\":\"9\"}}");
  CHECK("p.csv", CSV_HEAD "9,1,2,s,x,,,,\r\n",
        "error: p.csv: line 2: column 'captured_at': 'x' is not a whole number");
  CHECK("p.csv", CSV_HEAD "9,1,2,s,1,,maybe,,\r\n",
        "error: p.csv: line 2: column 'is_pano': 'maybe' is not true or false");
  CHECK("p.csv", CSV_HEAD "9,1,,s,1,,,,\r\n", "error: p.csv: line 2: column 'lat': '' is not a latitude");
  CHECK("p.csv", CSV_HEAD "9,1,2\r\n", "error: p.csv: line 2: 3 fields, the header has 9");
  CHECK("p.csv", CSV_HEAD "9,1,2,s,1,,,,\"[1]\"\r\n",
        "error: p.csv: line 2: column 'properties': '[1]' is not a JSON object");
  CHECK("p.csv", CSV_HEAD "9,1,2,\"s\nx\"\"\",1,,,,\r\n\r\n",
        "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[1.0000000,2.0000000]},"
        "\"properties\":{\"id\":\"9\",\"sequence_id\":\"s\\nx\\\"\",\"captured_at\":1}}");
  CHECK("p.csv", CSV_HEAD "9,1,2,\"s\r\n", "error: p.csv: line 2: a quoted field is not closed");
  CHECK("p.csv", CSV_HEAD "9,1,2,\"s\"x,1,,,,\r\n",
        "error: p.csv: line 2: text after a quoted field's closing quote");
  /* a number is decimal: strtod's hexadecimal ("0x10" is 16), inf and nan are not numbers here */
  CHECK("p.csv", CSV_HEAD "9,0x10,2,s,1,,,,\r\n", "error: p.csv: line 2: column 'lon': '0x10' is not a longitude");
  CHECK("p.csv", CSV_HEAD "9,1,0x1p3,s,1,,,,\r\n", "error: p.csv: line 2: column 'lat': '0x1p3' is not a latitude");
  CHECK("p.csv", CSV_HEAD "9,1,2,s,1,0x10,,,\r\n",
        "error: p.csv: line 2: column 'compass_angle': '0x10' is not a number");
  CHECK("p.csv", CSV_HEAD "9,1,2,s,1,infinity,,,\r\n",
        "error: p.csv: line 2: column 'compass_angle': 'infinity' is not a number");
  CHECK("p.csv", CSV_HEAD "9,1e1,-.5,s,1,5.,,,\r\n",
        "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[10.0000000,-0.5000000]},"
        "\"properties\":{\"id\":\"9\",\"sequence_id\":\"s\",\"captured_at\":1,\"compass_angle\":5}}");
  CHECK("p.csv", "", "error: p.csv: empty file: no CSV header");
  CHECK("p.csv", "a,b\r\n", "error: p.csv: CSV header has no wkt column and no lon and lat columns");
  CHECK("p.csv", "lon,lat,lon\r\n", "error: p.csv: CSV header: column 'lon' twice");
}

static void test_csv_wkt(void **state)
{
  (void)state;
  /* get_mapillary_points' sequences CSV */
  CHECK("s.csv", OUTFILE_CSV_SEQUENCES_HEADER "\r\ns1,true,7,2,10,20,\"1,2\",\"LINESTRING (1.0000000 2.0000000, "
        "3.0000000 4.0000000)\"\r\n",
        "{\"type\":\"Feature\",\"geometry\":{\"type\":\"LineString\",\"coordinates\":[[1.0000000,2.0000000],"
        "[3.0000000,4.0000000]]},\"properties\":{\"sequence_id\":\"s1\",\"is_pano\":true,\"organization_id\":\"7\","
        "\"total_points\":2,\"captured_at_start\":10,\"captured_at_end\":20,\"images_id\":\"1,2\"}}");
  CHECK("g.csv", "name,WKT\nx,\"MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5)))\"\n"
        "y,POINT EMPTY\nz,\"MULTIPOINT ((1 2), (3 4))\"\n",
        "{\"type\":\"Feature\",\"geometry\":{\"type\":\"MultiPolygon\",\"coordinates\":[[[[0.0000000,0.0000000],"
        "[1.0000000,0.0000000],[1.0000000,1.0000000],[0.0000000,0.0000000]]],[[[5.0000000,5.0000000],"
        "[6.0000000,5.0000000],[6.0000000,6.0000000],[5.0000000,5.0000000]]]]},\"properties\":{\"name\":\"x\"}}\n"
        "{\"type\":\"Feature\",\"geometry\":null,\"properties\":{\"name\":\"y\"}}\n"
        "{\"type\":\"Feature\",\"geometry\":{\"type\":\"MultiPoint\",\"coordinates\":[[1.0000000,2.0000000],"
        "[3.0000000,4.0000000]]},\"properties\":{\"name\":\"z\"}}");
  CHECK("g.csv", "wkt\nCIRCLE (1 2)\n",
        "error: g.csv: line 2: column 'wkt': not a WKT POINT, LINESTRING, POLYGON or MULTI- of them");
  CHECK("g.csv", "wkt\n\"LINESTRING (1 2, 3)\"\n", "error: g.csv: line 2: column 'wkt': a position needs two numbers");
  CHECK("g.csv", "wkt\n\"LINESTRING (1 2, 3 x)\"\n", "error: g.csv: line 2: column 'wkt': a coordinate is not a number");
  CHECK("g.csv", "wkt\nPOINT (1 2) x\n", "error: g.csv: line 2: column 'wkt': text after the geometry");
  CHECK("g.csv", "wkt\nPOINT (0x10 2)\n", "error: g.csv: line 2: column 'wkt': a coordinate is not a number");
  CHECK("g.csv", "wkt\nPOINT (1 nan)\n", "error: g.csv: line 2: column 'wkt': a coordinate is not a number");
  CHECK("g.csv", "wkt\n\"POLYGON ((1 2, 3 4)\"\n", "error: g.csv: line 2: column 'wkt': ')' or ',' expected");
  /* other CSV: lon/lat columns, every other column a string */
  CHECK("g.csv", "longitude,latitude,n\n1.5,-2,007\n",
        "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[1.5000000,-2.0000000]},"
        "\"properties\":{\"n\":\"007\"}}");
}

/* A file on disk and standard-input's name; an unreadable path */
static void test_open_paths(void **state)
{
  (void)state;
  struct featread *r = NULL;
  struct mly_err err = {0};
  assert_int_equal(featread_open("/nonexistent/x.geojson", &r, &err), MLY_EIO);
  assert_string_equal(err.msg, "cannot open '/nonexistent/x.geojson': No such file or directory");
  assert_null(r);
  char path[] = "/tmp/mly-test-featread-XXXXXX.csv";
  int fd = mkstemps(path, 4);
  assert_true(fd >= 0);
  const char text[] = "lon,lat\n1,2\n";
  assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
  close(fd);
  assert_int_equal(featread_open(path, &r, &err), MLY_OK);
  assert_string_equal(featread_format_name(r), "CSV");
  struct feature f;
  bool got;
  assert_int_equal(featread_next(r, &f, &got, &err), MLY_OK);
  assert_true(got);
  double lon, lat;
  assert_true(feature_point(&f, &lon, &lat));
  assert_true(lon == 1 && lat == 2);
  assert_int_equal(f.index, 0);
  assert_int_equal(featread_next(r, &f, &got, &err), MLY_OK);
  assert_false(got);
  featread_close(&r);
  featread_close(&r); /* a no-op */
  unlink(path);
}

/* A feature larger than the cap is refused, naming it; memory follows the
 * largest feature (the cut buffer never holds two) */
static void test_too_big(void **state)
{
  (void)state;
  size_t big = FEATREAD_FEATURE_MAX + 16;
  char *text = malloc(big + 128);
  assert_non_null(text);
  int n = sprintf(text, "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":{\"s\":\"");
  memset(text + n, 'a', big);
  strcpy(text + n + big, "\"},\"geometry\":null}]}");
  char *got = read_all("a.geojson", text, strlen(text));
  assert_string_equal(got, "error: a.geojson: feature 0 is larger than 64 MB");
  free(got);
  free(text);
}

/* The CSV writer: points layout as get_mapillary_points writes it, the
 * generic layout, and both read back to the same features */
static void test_write_csv(void **state)
{
  (void)state;
  const char *in = "{\"type\":\"FeatureCollection\",\"features\":[\n" P1 ",\n"
                   "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[1,2]},\"properties\":{\"id\":\"5\",\"z\":true}}\n]}";
  FILE *fp = fmemopen((void *)in, strlen(in), "rb");
  struct featread *r = NULL;
  struct mly_err err = {0};
  assert_int_equal(featread_open_stream(fp, "in.geojson", &r, &err), MLY_OK);
  struct dbuf b;
  dbuf_init(&b, 1 << 20);
  struct featcsv c = {0};
  struct feature f;
  bool got;
  while(featread_next(r, &f, &got, &err) == MLY_OK && got) {
    assert_int_equal(feature_write(&b, OUTFMT_CSV, &c, f.properties, f.geometry, &err), MLY_OK);
    assert_int_equal(dbuf_add(&b, "\r\n", 2), MLY_OK);
  }
  featread_close(&r);
  fclose(fp);
  assert_string_equal(dbuf_cstr(&b), CSV_HEAD "4242424242424242424,-108.5000000,39.1234567,s1,1651366800000,"
                      "12.345678901234567,false,7,\"{\"\"extra\"\":[1,{\"\"a\"\":null}]}\"\r\n"
                      "5,1.0000000,2.0000000,,,,,,\"{\"\"z\"\":true}\"\r\n");
  /* a line is refused by the points layout */
  json_t *line = json_pack("{s:s,s:[[i,i],[i,i]]}", "type", "LineString", "coordinates", 1, 2, 3, 4);
  json_t *props = json_object();
  assert_int_equal(feature_write(&b, OUTFMT_CSV, &c, props, line, &err), MLY_EINVAL);
  assert_string_equal(err.msg, "a points CSV holds Point features only, not a LineString (write GeoJSON instead)");
  featcsv_cleanup(&c);
  /* generic: the first feature's properties, properties, wkt */
  dbuf_reset(&b);
  json_object_set_new(props, "sequence_id", json_string("a,b"));
  json_object_set_new(props, "length", json_real(12.5));
  assert_int_equal(feature_write(&b, OUTFMT_CSV, &c, props, line, &err), MLY_OK);
  assert_int_equal(dbuf_add(&b, "\r\n", 2), MLY_OK);
  json_object_set_new(props, "more", json_integer(3));
  assert_int_equal(feature_write(&b, OUTFMT_CSV, &c, props, NULL, &err), MLY_OK);
  assert_string_equal(dbuf_cstr(&b), "sequence_id,length,properties,wkt\r\n"
                      "\"a,b\",12.5,,\"LINESTRING (1.0000000 2.0000000, 3.0000000 4.0000000)\"\r\n"
                      "\"a,b\",12.5,\"{\"\"more\"\":3}\",");
  featcsv_cleanup(&c);
  json_decref(line);
  json_decref(props);
  dbuf_cleanup(&b);
}

/* Features cut across the reader's 64 KiB chunks, strings with escaped
 * quotes and brackets among them: every one comes back whole, in order */
static void test_chunks(void **state)
{
  (void)state;
  struct dbuf in, want;
  dbuf_init(&in, 1 << 26);
  dbuf_init(&want, 1 << 26);
  assert_int_equal(dbuf_adds(&in, "{\"type\":\"FeatureCollection\",\"features\":["), MLY_OK);
  char f[256];
  for(int i = 0; i < 20000; i++) {
    int n = snprintf(f, sizeof(f), "{\"type\":\"Feature\",\"geometry\":null,\"properties\":"
                     "{\"i\":%d,\"s\":\"%.*s\\\"]}[{\\\\\"}}", i, i % 37, "abcdefghijklmnopqrstuvwxyz0123456789");
    assert_int_equal(dbuf_add(&in, i ? ",\n" : "", i ? 2 : 0), MLY_OK);
    assert_int_equal(dbuf_add(&in, f, (size_t)n), MLY_OK);
    assert_int_equal(dbuf_add(&want, i ? "\n" : "", i ? 1 : 0), MLY_OK);
    assert_int_equal(dbuf_add(&want, f, (size_t)n), MLY_OK);
  }
  assert_int_equal(dbuf_adds(&in, "]}"), MLY_OK);
  char *got = read_all("a.geojson", in.p, in.n);
  assert_true(in.n > 1000000);
  assert_string_equal(got, dbuf_cstr(&want));
  free(got);
  dbuf_cleanup(&in);
  dbuf_cleanup(&want);
}

/* Read back a closed output before it is published: a CSV file (its format
 * from the final path, not the temporary name), and one written through
 * (/dev/null: the spool, read from its start); not a raw output */
static int count_features(struct featread *r)
{
  int n = 0;
  struct feature f;
  bool got;
  struct mly_err err = {0};
  while(featread_next(r, &f, &got, &err) == MLY_OK && got)
    n++;
  return n;
}

static void test_open_outfile(void **state)
{
  (void)state;
  char dir[] = "/tmp/mly-test-featread-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[128];
  snprintf(path, sizeof(path), "%s/s.csv", dir);
  const char *paths[] = {path, "/dev/null"};
  for(int k = 0; k < 2; k++) {
    struct outfile o = {0};
    struct mly_err err = {0};
    assert_int_equal(outfile_open_as(&o, paths[k], OUTFILE_FEATURES, &err), MLY_OK);
    const char *text = k ? "{\"type\":\"Feature\",\"properties\":{\"a\":1},\"geometry\":null}" : "lon,lat\r\n1,2\r\n3,4";
    assert_int_equal(outfile_feature(&o, text, strlen(text), &err), MLY_OK);
    struct featread *r = NULL;
    assert_int_equal(featread_open_outfile(&o, &r, &err), MLY_EINVAL); /* not closed yet */
    assert_int_equal(outfile_close(&o, &err), MLY_OK);
    assert_int_equal(featread_open_outfile(&o, &r, &err), MLY_OK);
    assert_int_equal(count_features(r), k ? 1 : 2);
    featread_close(&r);
    assert_int_equal(featread_open_outfile(&o, &r, &err), MLY_OK); /* again, from the start */
    assert_int_equal(count_features(r), k ? 1 : 2);
    featread_close(&r);
    assert_int_equal(access(path, F_OK), -1); /* nothing published */
    outfile_abort(&o);
  }
  struct outfile o = {0};
  struct mly_err err = {0};
  snprintf(path, sizeof(path), "%s/p.html", dir);
  assert_int_equal(outfile_open_raw(&o, path, &err), MLY_OK);
  assert_int_equal(outfile_close(&o, &err), MLY_OK);
  struct featread *r = NULL;
  assert_int_equal(featread_open_outfile(&o, &r, &err), MLY_EINVAL);
  assert_null(r);
  outfile_abort(&o);
  assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_collection_roundtrip),
    cmocka_unit_test(test_single_objects),
    cmocka_unit_test(test_lines),
    cmocka_unit_test(test_broken_geojson),
    cmocka_unit_test(test_csv_points),
    cmocka_unit_test(test_csv_wkt),
    cmocka_unit_test(test_open_paths),
    cmocka_unit_test(test_too_big),
    cmocka_unit_test(test_write_csv),
    cmocka_unit_test(test_chunks),
    cmocka_unit_test(test_open_outfile),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
