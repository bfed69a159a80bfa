/* test_strtab.c -- unit tests of string interning (dense indexes, exact bytes, growth) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mly/strtab.h"

static uint32_t intern(struct strtab *t, const char *s, size_t n)
{
  uint32_t idx = UINT32_MAX;
  assert_int_equal(strtab_intern(t, s, n, &idx), MLY_OK);
  return idx;
}

static void assert_view(struct mly_view v, const char *s, size_t n)
{
  assert_int_equal(v.n, n);
  if(n)
    assert_memory_equal(v.p, s, n);
}

static void test_dense_indexes_in_insertion_order(void **state)
{
  (void)state;
  struct strtab *t = strtab_new();
  assert_non_null(t);
  assert_int_equal(strtab_count(t), 0);
  assert_int_equal(intern(t, "seq-a", 5), 0);
  assert_int_equal(intern(t, "seq-b", 5), 1);
  assert_int_equal(intern(t, "seq-a", 5), 0);
  assert_int_equal(intern(t, "seq", 3), 2);   /* a prefix is another string */
  assert_int_equal(intern(t, "seq-ab", 6), 3); /* so is an extension */
  assert_int_equal(strtab_count(t), 4);
  assert_view(strtab_get(t, 0), "seq-a", 5);
  assert_view(strtab_get(t, 1), "seq-b", 5);
  assert_view(strtab_get(t, 2), "seq", 3);
  assert_view(strtab_get(t, 3), "seq-ab", 6);
  assert_true(strtab_bytes(t) > 0);
  strtab_free(&t);
  assert_null(t);
  strtab_free(&t); /* freeing NULL is a no-op */
}

static void test_empty_and_binary_strings(void **state)
{
  (void)state;
  struct strtab *t = strtab_new();
  assert_non_null(t);
  uint32_t e = intern(t, "", 0);
  assert_int_equal(intern(t, "", 0), e);
  assert_int_equal(strtab_get(t, e).n, 0);
  uint32_t a = intern(t, "a\0b", 3);
  uint32_t b = intern(t, "a\0c", 3);
  uint32_t c = intern(t, "a", 1);
  assert_int_not_equal(a, b);
  assert_int_not_equal(a, c);
  assert_int_equal(intern(t, "a\0b", 3), a);
  assert_view(strtab_get(t, a), "a\0b", 3);
  assert_view(strtab_get(t, b), "a\0c", 3);
  /* the input is copied: changing the caller's bytes changes nothing */
  char buf[8] = "mutable";
  uint32_t m = intern(t, buf, 7);
  memcpy(buf, "changed", 7);
  assert_view(strtab_get(t, m), "mutable", 7);
  assert_int_equal(intern(t, "mutable", 7), m);
  strtab_free(&t);
}

static void test_out_of_range_index_is_empty_view(void **state)
{
  (void)state;
  struct strtab *t = strtab_new();
  assert_non_null(t);
  struct mly_view v = strtab_get(t, 0);
  assert_null(v.p);
  assert_int_equal(v.n, 0);
  intern(t, "x", 1);
  v = strtab_get(t, 1);
  assert_null(v.p);
  assert_int_equal(v.n, 0);
  strtab_free(&t);
}

static void test_many_strings_survive_growth(void **state)
{
  (void)state;
  struct strtab *t = strtab_new();
  assert_non_null(t);
  char s[32];
  const uint32_t count = 200000;
  for(uint32_t i = 0; i < count; i++) {
    int n = snprintf(s, sizeof(s), "sequence-%u", i * 7919u);
    assert_int_equal(intern(t, s, (size_t)n), i);
  }
  assert_int_equal(strtab_count(t), count);
  /* everything is still found at its index, and lookups add nothing */
  for(uint32_t i = 0; i < count; i++) {
    int n = snprintf(s, sizeof(s), "sequence-%u", i * 7919u);
    assert_view(strtab_get(t, i), s, (size_t)n);
    assert_int_equal(intern(t, s, (size_t)n), i);
  }
  assert_int_equal(strtab_count(t), count);
  strtab_free(&t);
}

static void test_long_string_too_big(void **state)
{
  (void)state;
  struct strtab *t = strtab_new();
  assert_non_null(t);
  static const char small[1] = {'x'};
  uint32_t idx = 5;
  /* the length cap is checked before the bytes are read */
  assert_int_equal(strtab_intern(t, small, (size_t)1 << 24, &idx), MLY_ETOOBIG);
  assert_int_equal(idx, 5);
  assert_int_equal(strtab_count(t), 0);
  strtab_free(&t);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_dense_indexes_in_insertion_order),
    cmocka_unit_test(test_empty_and_binary_strings),
    cmocka_unit_test(test_out_of_range_index_is_empty_view),
    cmocka_unit_test(test_many_strings_survive_growth),
    cmocka_unit_test(test_long_string_too_big),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
