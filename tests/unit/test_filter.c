/* test_filter.c -- unit tests of the image filter (time, panorama, organization) and id lists */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mly/filter.h"

/* An image whose every property is unknown, as image_read leaves it */
static struct image unknown_image(void)
{
  struct image img;
  memset(&img, 0, sizeof(img));
  img.is_pano = -1;
  return img;
}

static struct image image_at(int64_t captured_at, int8_t is_pano, const char *org)
{
  struct image img = unknown_image();
  img.has_captured_at = true;
  img.captured_at = captured_at;
  img.is_pano = is_pano;
  if(org) {
    img.organization_id.known = true;
    img.organization_id.v.p = org;
    img.organization_id.v.n = strlen(org);
  }
  return img;
}

static void test_no_filter_keeps_everything(void **state)
{
  (void)state;
  struct filter f = {0};
  struct image img = unknown_image();
  assert_true(filter_accept(&f, &img));
  img = image_at(5, 1, "7");
  assert_true(filter_accept(&f, &img));
  img = image_at(-5, 0, NULL);
  assert_true(filter_accept(&f, &img));
}

static void test_from_is_inclusive_and_unknown_fails(void **state)
{
  (void)state;
  struct filter f = {0};
  f.has_from = true;
  f.from_ms = 1651366800000LL;
  struct image img = image_at(1651366800000LL, 0, NULL);
  assert_true(filter_accept(&f, &img));
  img.captured_at = 1651366799999LL;
  assert_false(filter_accept(&f, &img));
  img.captured_at = 1651366800001LL;
  assert_true(filter_accept(&f, &img));
  img = unknown_image();
  assert_false(filter_accept(&f, &img));
}

static void test_to_is_inclusive_and_unknown_fails(void **state)
{
  (void)state;
  struct filter f = {0};
  f.has_to = true;
  f.to_ms = 1000;
  struct image img = image_at(1000, 0, NULL);
  assert_true(filter_accept(&f, &img));
  img.captured_at = 1001;
  assert_false(filter_accept(&f, &img));
  img.captured_at = INT64_MIN;
  assert_true(filter_accept(&f, &img));
  img = unknown_image();
  assert_false(filter_accept(&f, &img));
}

static void test_time_window(void **state)
{
  (void)state;
  struct filter f = {0};
  f.has_from = f.has_to = true;
  f.from_ms = 100;
  f.to_ms = 200;
  for(int64_t t = 90; t <= 210; t++) {
    struct image img = image_at(t, -1, NULL);
    assert_int_equal(filter_accept(&f, &img), t >= 100 && t <= 200);
  }
}

static void test_only_pano_unknown_is_not_pano(void **state)
{
  (void)state;
  struct filter f = {0};
  f.only_pano = true;
  struct image img = image_at(0, 1, NULL);
  assert_true(filter_accept(&f, &img));
  img.is_pano = 0;
  assert_false(filter_accept(&f, &img));
  img.is_pano = -1;
  assert_false(filter_accept(&f, &img));
  /* without --only_pano, an unknown is_pano does not matter */
  f.only_pano = false;
  assert_true(filter_accept(&f, &img));
}

static void test_organization_ids(void **state)
{
  (void)state;
  char *ids[] = {"1805883732926354", "42"};
  struct filter f = {0};
  f.org_ids = ids;
  f.norg_ids = 2;
  struct image img = image_at(0, 0, "1805883732926354");
  assert_true(filter_accept(&f, &img));
  img = image_at(0, 1, "42");
  assert_true(filter_accept(&f, &img));
  /* exact match only: no prefixes, no extensions */
  img = image_at(0, 0, "4");
  assert_false(filter_accept(&f, &img));
  img = image_at(0, 0, "420");
  assert_false(filter_accept(&f, &img));
  img = image_at(0, 0, "180588373292635");
  assert_false(filter_accept(&f, &img));
  /* unknown organization never passes; panoramas are filtered too (not geokit's bug) */
  img = image_at(0, 1, NULL);
  assert_false(filter_accept(&f, &img));
  img = image_at(0, 0, NULL);
  assert_false(filter_accept(&f, &img));
  /* a number-typed organization_id held as digits matches as well */
  img = unknown_image();
  img.organization_id.known = true;
  memcpy(img.organization_id.num, "42", 3);
  img.organization_id.v.p = img.organization_id.num;
  img.organization_id.v.n = 2;
  assert_true(filter_accept(&f, &img));
}

static void test_all_filters_together(void **state)
{
  (void)state;
  char *ids[] = {"7"};
  struct filter f = {0};
  f.has_from = f.has_to = true;
  f.from_ms = 10;
  f.to_ms = 20;
  f.only_pano = true;
  f.org_ids = ids;
  f.norg_ids = 1;
  struct image img = image_at(15, 1, "7");
  assert_true(filter_accept(&f, &img));
  img = image_at(25, 1, "7");
  assert_false(filter_accept(&f, &img));
  img = image_at(15, 0, "7");
  assert_false(filter_accept(&f, &img));
  img = image_at(15, 1, "8");
  assert_false(filter_accept(&f, &img));
}

static void test_parse_ids(void **state)
{
  (void)state;
  char **ids = NULL;
  size_t n = 0;
  struct mly_err err = {0};
  assert_int_equal(filter_parse_ids("1805883732926354", &ids, &n, &err), MLY_OK);
  assert_int_equal(n, 1);
  assert_string_equal(ids[0], "1805883732926354");
  filter_free_ids(&ids, n);
  assert_null(ids);

  assert_int_equal(filter_parse_ids(" 1, 22 ,333\t,0987 ", &ids, &n, &err), MLY_OK);
  assert_int_equal(n, 4);
  assert_string_equal(ids[0], "1");
  assert_string_equal(ids[1], "22");
  assert_string_equal(ids[2], "333");
  assert_string_equal(ids[3], "0987");
  filter_free_ids(&ids, n);
  assert_null(ids);
  /* freeing an empty list is harmless */
  filter_free_ids(&ids, 0);
}

static void parse_ids_bad(const char *text, const char *msg_part)
{
  char **ids = (char **)1;
  size_t n = 99;
  struct mly_err err = {0};
  assert_int_equal(filter_parse_ids(text, &ids, &n, &err), MLY_EFORMAT);
  assert_null(ids);
  assert_int_equal(n, 0);
  assert_int_equal(err.rc, MLY_EFORMAT);
  if(!strstr(err.msg, msg_part))
    fail_msg("message '%s' for '%s' lacks '%s'", err.msg, text, msg_part);
  assert_true(err.msg[strlen(err.msg) - 1] != '.');
}

static void test_parse_ids_rejects(void **state)
{
  (void)state;
  parse_ids_bad("", "empty id at item 1");
  parse_ids_bad("   ", "empty id at item 1");
  parse_ids_bad("1,,2", "empty id at item 2");
  parse_ids_bad("1,", "empty id at item 2");
  parse_ids_bad(",1", "empty id at item 1");
  parse_ids_bad("1;2", "invalid character ';' in item 1");
  parse_ids_bad("1,2 3", "invalid character ' ' in item 2");
  parse_ids_bad("1,-2", "invalid character '-' in item 2");
  /* ids are decimal digits: a word is a mistake, not an organization */
  parse_ids_bad("abc", "invalid character 'a' in item 1 (ids are decimal digits)");
  parse_ids_bad("1805883732926354,12x", "invalid character 'x' in item 2");
}

static void test_parsed_ids_drive_the_filter(void **state)
{
  (void)state;
  struct filter f = {0};
  assert_int_equal(filter_parse_ids("11, 22", &f.org_ids, &f.norg_ids, NULL), MLY_OK);
  struct image img = image_at(0, 0, "22");
  assert_true(filter_accept(&f, &img));
  img = image_at(0, 0, "2");
  assert_false(filter_accept(&f, &img));
  filter_free_ids(&f.org_ids, f.norg_ids);
  assert_null(f.org_ids);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_no_filter_keeps_everything),
    cmocka_unit_test(test_from_is_inclusive_and_unknown_fails),
    cmocka_unit_test(test_to_is_inclusive_and_unknown_fails),
    cmocka_unit_test(test_time_window),
    cmocka_unit_test(test_only_pano_unknown_is_not_pano),
    cmocka_unit_test(test_organization_ids),
    cmocka_unit_test(test_all_filters_together),
    cmocka_unit_test(test_parse_ids),
    cmocka_unit_test(test_parse_ids_rejects),
    cmocka_unit_test(test_parsed_ids_drive_the_filter),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
