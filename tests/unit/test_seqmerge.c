/* test_seqmerge.c -- merge_sequences (seqmerge.h) on real files */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mly/geodesic.h"
#include "mly/jsonw.h"
#include "mly/seqmerge.h"
#include "tmpfiles.h"

#define LINE(c) "{\"type\":\"LineString\",\"coordinates\":" c "}"
#define FEAT(g, p) "{\"type\":\"Feature\",\"geometry\":" g ",\"properties\":" p "}"

static void test_merge(void **state)
{
  (void)state;
  write_text(path_of("in.geojsonl"),
             FEAT(LINE("[[0,0],[0.001,0]]"), "{\"sequence_id\":\"a\",\"is_pano\":false,\"id\":\"old\"}") "\n"
             FEAT(LINE("[[1,1],[1.001,1]]"), "{\"sequence_id\":\"b\"}") "\n"
             FEAT("{\"type\":\"MultiLineString\",\"coordinates\":[[[0,1],[0,1.001]],[[0,2],[0,2.001],[0,2.002]]]}",
                  "{\"sequence_id\":\"a\",\"x\":1}") "\n"
             FEAT(LINE("[[1]]"), "{\"sequence_id\":\"c\"}") "\n"
             FEAT("null", "{\"sequence_id\":\"c\"}") "\n"
             FEAT(LINE("[[0,0],[0,200]]"), "{\"sequence_id\":\"c\"}") "\n"
             FEAT("{\"type\":\"Point\",\"coordinates\":[1,2]}", "{\"sequence_id\":\"c\"}") "\n"
             FEAT(LINE("[[5,5],[5,6]]"), "{}") "\n"
             FEAT(LINE("[[7,7],[7,7.5]]"), "{\"sequence_id\":42}") "\n");
  struct seqmerge_opts o = {path_of("in.geojsonl"), path_of("out.geojson"), NULL};
  struct seqmerge_stats st;
  struct mly_err err = {0};
  assert_int_equal(seqmerge_run(&o, &st, &err), MLY_OK);
  assert_int_equal(st.features, 9);
  assert_int_equal(st.sequences, 3);
  assert_int_equal(st.merged, 1);
  assert_int_equal(st.invalid, 4);
  assert_int_equal(st.no_sequence, 1);
  /* b as it was plus id, length, points; a's three lines as a MultiLineString
   * with the first feature's properties (its id replaced by the sequence's)
   * in the order its last feature came; 42 a number written as its text */
  char want[4096];
  double lb = geodesic_distance(1, 1, 1.001, 1, NULL);
  double la = geodesic_distance(0, 0, 0.001, 0, NULL) + geodesic_distance(0, 1, 0, 1.001, NULL) +
              geodesic_distance(0, 2, 0, 2.001, NULL) + geodesic_distance(0, 2.001, 0, 2.002, NULL);
  double l42 = geodesic_distance(7, 7, 7, 7.5, NULL);
  char nb[JSONW_NUM_MAX], na[JSONW_NUM_MAX], n42[JSONW_NUM_MAX];
  jsonw_double(nb, lb);
  jsonw_double(na, la);
  jsonw_double(n42, l42);
  snprintf(want, sizeof(want),
           "{\"type\":\"FeatureCollection\",\"features\":[\n"
           "{\"type\":\"Feature\",\"geometry\":{\"type\":\"LineString\",\"coordinates\":[[1.0000000,1.0000000],"
           "[1.0010000,1.0000000]]},\"properties\":{\"sequence_id\":\"b\",\"id\":\"b\",\"length\":%s,\"points\":2}},\n"
           "{\"type\":\"Feature\",\"geometry\":{\"type\":\"MultiLineString\",\"coordinates\":[[[0.0000000,0.0000000],"
           "[0.0010000,0.0000000]],[[0.0000000,1.0000000],[0.0000000,1.0010000]],[[0.0000000,2.0000000],"
           "[0.0000000,2.0010000],[0.0000000,2.0020000]]]},\"properties\":{\"sequence_id\":\"a\",\"is_pano\":false,"
           "\"id\":\"a\",\"length\":%s,\"points\":7}},\n"
           "{\"type\":\"Feature\",\"geometry\":{\"type\":\"LineString\",\"coordinates\":[[7.0000000,7.0000000],"
           "[7.0000000,7.5000000]]},\"properties\":{\"sequence_id\":42,\"id\":\"42\",\"length\":%s,\"points\":2}}\n"
           "]}\n", nb, na, n42);
  assert_string_equal(read_text(path_of("out.geojson")), want);
  assert_true(la > 440 && la < 446); /* metres, not degrees */
}

/* Parts of sequences interleaved: the waiting parts come back from the
 * parts file in input order, the first part's properties exactly */
static void test_merge_interleaved(void **state)
{
  (void)state;
  write_text(path_of("parts.geojsons"),
             "\x1e" FEAT(LINE("[[1,0],[1,0.5]]"), "{\"sequence_id\":\"x\",\"v\":0.1,\"o\":{\"k\":[1,\"\\u00e9\"]}}") "\n"
             "\x1e" FEAT(LINE("[[2,0],[2,0.5]]"), "{\"sequence_id\":\"y\"}") "\n"
             "\x1e" FEAT(LINE("[[1,1],[1,1.5]]"), "{\"sequence_id\":\"x\",\"v\":2}") "\n"
             "\x1e" FEAT(LINE("[[2,1],[2,1.5]]"), "{\"sequence_id\":\"y\"}") "\n"
             "\x1e" FEAT(LINE("[[1,2],[1,2.5]]"), "{\"sequence_id\":\"x\"}") "\n");
  struct seqmerge_opts o = {path_of("parts.geojsons"), path_of("merged.geojsonl"), NULL};
  struct seqmerge_stats st;
  struct mly_err err = {0};
  assert_int_equal(seqmerge_run(&o, &st, &err), MLY_OK);
  assert_int_equal(st.merged, 2);
  char *out = read_text(path_of("merged.geojsonl"));
  const char *y = strstr(out, "\"sequence_id\":\"y\"");
  const char *x = strstr(out, "[[[1.0000000,0.0000000],[1.0000000,0.5000000]],[[1.0000000,1.0000000],"
                         "[1.0000000,1.5000000]],[[1.0000000,2.0000000],[1.0000000,2.5000000]]]},"
                         "\"properties\":{\"sequence_id\":\"x\",\"v\":0.1,\"o\":{\"k\":[1,\"\xc3\xa9\"]},"
                         "\"id\":\"x\",");
  assert_non_null(y);
  assert_non_null(x);
  assert_true(y < x); /* y's last part comes first */
}

static void test_merge_errors(void **state)
{
  (void)state;
  write_text(path_of("bad.csv"), "sequence_id,wkt\na,\"LINESTRING (0 0, 1 1)\"\nb,\"LINESTRING (0 0, 1)\"\n");
  struct seqmerge_opts o = {path_of("bad.csv"), path_of("o.geojson"), NULL};
  struct seqmerge_stats st;
  struct mly_err err = {0};
  assert_int_equal(seqmerge_run(&o, &st, &err), MLY_EFORMAT);
  assert_non_null(strstr(err.msg, "bad.csv: line 3: column 'wkt': a position needs two numbers"));
  assert_null(read_text(path_of("o.geojson")));
  /* an output folder that cannot be made: before any work */
  write_text(path_of("file"), "x");
  write_text(path_of("ok.csv"), "sequence_id,wkt\na,\"LINESTRING (0 0, 1 1)\"\n");
  o.input = path_of("ok.csv");
  o.output = path_of("file/sub/o.geojson");
  assert_int_equal(seqmerge_run(&o, &st, &err), MLY_EIO);
  assert_false(st.started);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_merge),
    cmocka_unit_test(test_merge_interleaved),
    cmocka_unit_test(test_merge_errors),
  };
  return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
