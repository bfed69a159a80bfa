/* test_featread_gdal.c -- GeoPackage and FlatGeobuf through the GDAL module:
 * features written with outfile (OUTFILE_FEATURES) come back through
 * featread with the same properties, types and geometries; a broken file
 * is one error naming it. Needs the module (MLY_GDAL_MODULE, set by CTest);
 * skipped without it. */
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
#include "mly/gdalmod.h"
#include "mly/outfile.h"

static const char *const features[] = {
  "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[-108.55110704898834,"
  "39.064277456103035]},\"properties\":{\"n\":0,\"id\":\"8639397699740692\",\"angle\":167.9213104248047,"
  "\"pano\":true,\"tags\":{\"a\":[1,2]},\"note\":null,\"text\":\"tab\\there, \\\"quoted\\\"\"}}",
  "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[2.5,-1e-7]},"
  "\"properties\":{\"n\":1,\"id\":\"1\",\"angle\":0.1,\"pano\":false,\"tags\":[]}}",
  "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[179.9999999,89.5]},"
  "\"properties\":{\"n\":2,\"id\":\"18446744073709551615\",\"angle\":-3,\"pano\":false}}",
};
#define NF (sizeof(features) / sizeof(features[0]))

static char dir[64];

static int setup(void **state)
{
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/mly-featread-gdal-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static bool have_module(void)
{
  struct mly_err err = {0};
  return gdalmod_load(&err) != NULL;
}

/* The properties the reader gives for features[i]: nulls omitted (GDAL's
 * null is an unknown value, which our outputs omit), -3 a real (the
 * column's type), the rest as written; FlatGeobuf (GDAL 3.6) keeps no JSON
 * subtype, so there objects and arrays come back as their JSON text */
static json_t *want_props(size_t i, bool json_as_text)
{
  json_t *f = json_loads(features[i], 0, NULL);
  assert_non_null(f);
  json_t *p = json_incref(json_object_get(f, "properties"));
  json_decref(f);
  json_object_del(p, "note");
  json_t *a = json_object_get(p, "angle");
  if(json_is_integer(a))
    json_object_set_new(p, "angle", json_real((double)json_integer_value(a)));
  json_t *t = json_object_get(p, "tags");
  if(t && json_as_text) {
    char *text = json_dumps(t, JSON_COMPACT | JSON_ENCODE_ANY);
    json_object_set_new(p, "tags", json_string(text));
    free(text);
  }
  return p;
}

static void roundtrip(const char *ext)
{
  if(!have_module())
    skip();
  char path[128];
  snprintf(path, sizeof(path), "%s/f%s", dir, ext);
  struct outfile o;
  struct mly_err err = {0};
  assert_int_equal(outfile_open_as(&o, path, OUTFILE_FEATURES, &err), MLY_OK);
  for(size_t i = 0; i < NF; i++)
    assert_int_equal(outfile_feature(&o, features[i], strlen(features[i]), &err), MLY_OK);
  assert_int_equal(outfile_close(&o, &err), MLY_OK);
  assert_int_equal(outfile_publish(&o, &err), MLY_OK);
  outfile_abort(&o);

  struct featread *r = NULL;
  assert_int_equal(featread_open(path, &r, &err), MLY_OK);
  bool seen[NF] = {false};
  for(size_t k = 0;; k++) {
    struct feature f;
    bool got;
    assert_int_equal(featread_next(r, &f, &got, &err), MLY_OK);
    if(!got) {
      assert_int_equal(k, NF);
      break;
    }
    json_t *n = json_object_get(f.properties, "n");
    assert_true(json_is_integer(n));
    size_t i = (size_t)json_integer_value(n);
    assert_true(i < NF && !seen[i]);
    seen[i] = true;
    json_t *want = want_props(i, strcmp(ext, ".fgb") == 0);
    char *a = json_dumps(want, JSON_SORT_KEYS), *b = json_dumps(f.properties, JSON_SORT_KEYS);
    assert_string_equal(b, a);
    free(a);
    free(b);
    json_decref(want);
    /* booleans stay booleans, integers integers, reals reals */
    assert_true(json_is_boolean(json_object_get(f.properties, "pano")));
    assert_true(json_is_real(json_object_get(f.properties, "angle")));
    json_t *wf = json_loads(features[i], 0, NULL);
    assert_true(json_equal(json_object_get(wf, "geometry"), f.geometry));
    json_decref(wf);
  }
  featread_close(&r);
}

static void test_gpkg(void **state)
{
  (void)state;
  roundtrip(".gpkg");
}

static void test_fgb(void **state)
{
  (void)state;
  roundtrip(".fgb");
}

static void test_broken(void **state)
{
  (void)state;
  if(!have_module())
    skip();
  char path[128];
  snprintf(path, sizeof(path), "%s/broken.gpkg", dir);
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  fputs("not a geopackage at all", fp);
  fclose(fp);
  struct featread *r = NULL;
  struct mly_err err = {0};
  enum mly_rc rc = featread_open(path, &r, &err);
  assert_int_not_equal(rc, MLY_OK);
  assert_null(r);
  assert_non_null(strstr(err.msg, path));
  assert_null(strchr(err.msg, '\n'));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_gpkg),
    cmocka_unit_test(test_fgb),
    cmocka_unit_test(test_broken),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
