/* test_idset.c -- unit tests of the (image id, tag) set that drops images met twice */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mly/idset.h"

static bool add(struct idset *s, uint64_t id, uint32_t tag)
{
  bool added = false;
  assert_int_equal(idset_add(s, id, tag, &added), MLY_OK);
  return added;
}

static void test_second_add_is_not_new(void **state)
{
  (void)state;
  struct idset *s = idset_new();
  assert_non_null(s);
  assert_int_equal(idset_count(s), 0);
  assert_true(add(s, 1805883732926354ULL, 0));
  assert_false(add(s, 1805883732926354ULL, 0));
  assert_int_equal(idset_count(s), 1);
  idset_free(&s);
  assert_null(s);
  idset_free(&s); /* freeing NULL is a no-op */
}

static void test_tag_separates_equal_ids(void **state)
{
  (void)state;
  struct idset *s = idset_new();
  assert_non_null(s);
  assert_true(add(s, 42, 0));
  assert_true(add(s, 42, 1));
  assert_true(add(s, 42, UINT32_MAX));
  assert_false(add(s, 42, 1));
  assert_true(add(s, 43, 1));
  assert_int_equal(idset_count(s), 4);
  idset_free(&s);
}

static void test_extreme_keys(void **state)
{
  (void)state;
  struct idset *s = idset_new();
  assert_non_null(s);
  /* zero is a key like any other, not an empty-slot marker */
  assert_true(add(s, 0, 0));
  assert_false(add(s, 0, 0));
  assert_true(add(s, UINT64_MAX, 0));
  assert_false(add(s, UINT64_MAX, 0));
  /* ids that a double cannot tell apart are distinct here */
  assert_true(add(s, 9007199254740992ULL, 0));
  assert_true(add(s, 9007199254740993ULL, 0));
  assert_int_equal(idset_count(s), 4);
  idset_free(&s);
}

static void test_many_keys_survive_growth(void **state)
{
  (void)state;
  struct idset *s = idset_new();
  assert_non_null(s);
  const uint64_t n = 300000;
  /* ids in a regular stride, as real ids cluster: a weak hash would collide */
  for(uint64_t i = 0; i < n; i++)
    assert_true(add(s, 1000000000000ULL + i * 4096, (uint32_t)(i % 3)));
  assert_int_equal(idset_count(s), n);
  for(uint64_t i = 0; i < n; i++) {
    assert_false(add(s, 1000000000000ULL + i * 4096, (uint32_t)(i % 3)));
    /* the same id under another tag is still new */
    if(i % 1000 == 0)
      assert_true(add(s, 1000000000000ULL + i * 4096, 7));
  }
  assert_int_equal(idset_count(s), n + n / 1000);
  idset_free(&s);
}

/* Reserving rehashes what is there (nothing lost), and an impossible
 * reservation fails cleanly, leaving the set as it was */
static void test_reserve_keeps_keys(void **state)
{
  (void)state;
  struct idset *s = idset_new();
  assert_non_null(s);
  assert_int_equal(idset_reserve(s, 0), MLY_OK);
  for(uint64_t i = 0; i < 700; i++)
    assert_true(add(s, i * 7919, 1));
  assert_int_equal(idset_reserve(s, 100000), MLY_OK);
  for(uint64_t i = 0; i < 700; i++) {
    assert_true(idset_has(s, i * 7919, 1));
    idset_prefetch(s, i * 7919, 1); /* a hint only: changes nothing */
  }
  assert_int_equal(idset_reserve(s, SIZE_MAX / 2), MLY_ENOMEM);
  for(uint64_t i = 700; i < 100700; i++)
    assert_true(add(s, i * 7919, 1));
  assert_int_equal(idset_count(s), 100700);
  for(uint64_t i = 0; i < 100700; i++)
    assert_false(add(s, i * 7919, 1));
  assert_false(idset_has(s, 3, 1));
  idset_free(&s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_second_add_is_not_new),
    cmocka_unit_test(test_reserve_keeps_keys),
    cmocka_unit_test(test_tag_separates_equal_ids),
    cmocka_unit_test(test_extreme_keys),
    cmocka_unit_test(test_many_keys_survive_growth),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
