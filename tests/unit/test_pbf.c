/* test_pbf.c -- unit tests of the protobuf wire-format reader */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mly/pbf.h"

/* pbf_read_varint over a byte string; returns the status, fills *v and *used */
static int varint_of(const uint8_t *b, size_t n, uint64_t *v, size_t *used)
{
  const uint8_t *p = b;
  int rc = pbf_read_varint(&p, b + n, v);
  *used = (size_t)(p - b);
  return rc;
}

static void test_varint_one_byte(void **state)
{
  (void)state;
  uint64_t v = 0;
  size_t used;
  assert_int_equal(varint_of((const uint8_t *)"\x7f", 1, &v, &used), PBF_VARINT_OK);
  assert_int_equal(v, 127);
  assert_int_equal(used, 1);
}

static void test_varint_multi_byte(void **state)
{
  (void)state;
  uint64_t v = 0;
  size_t used;
  /* 300 = 0xac 0x02 (protobuf encoding guide) */
  assert_int_equal(varint_of((const uint8_t *)"\xac\x02\x55", 3, &v, &used), PBF_VARINT_OK);
  assert_int_equal(v, 300);
  assert_int_equal(used, 2);
}

static void test_varint_max_uint64(void **state)
{
  (void)state;
  const uint8_t b[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  uint64_t v = 0;
  size_t used;
  assert_int_equal(varint_of(b, sizeof(b), &v, &used), PBF_VARINT_OK);
  assert_true(v == UINT64_MAX);
  assert_int_equal(used, 10);
}

static void test_varint_non_minimal_zero_is_accepted(void **state)
{
  (void)state;
  uint64_t v = 1;
  size_t used;
  assert_int_equal(varint_of((const uint8_t *)"\x80\x80\x00", 3, &v, &used), PBF_VARINT_OK);
  assert_int_equal(v, 0);
  assert_int_equal(used, 3);
}

static void test_varint_truncated_leaves_cursor(void **state)
{
  (void)state;
  const uint8_t b[] = {0x80, 0x80};
  const uint8_t *p = b;
  uint64_t v = 12345;
  assert_int_equal(pbf_read_varint(&p, b + sizeof(b), &v), PBF_VARINT_TRUNCATED);
  assert_ptr_equal(p, b);
  assert_int_equal(v, 12345);
  /* empty input is truncated too */
  assert_int_equal(pbf_read_varint(&p, b, &v), PBF_VARINT_TRUNCATED);
  assert_string_equal(pbf_varint_strerror(PBF_VARINT_TRUNCATED), "truncated varint");
}

static void test_varint_eleven_bytes_is_overlong(void **state)
{
  (void)state;
  uint8_t b[11];
  memset(b, 0x80, 10);
  b[10] = 0x01;
  uint64_t v = 7;
  size_t used;
  assert_int_equal(varint_of(b, sizeof(b), &v, &used), PBF_VARINT_TOOLONG);
  assert_int_equal(used, 0);
  assert_int_equal(v, 7);
  assert_string_equal(pbf_varint_strerror(PBF_VARINT_TOOLONG), "over-long varint");
}

static void test_varint_tenth_byte_beyond_64_bits(void **state)
{
  (void)state;
  const uint8_t b[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
  uint64_t v;
  size_t used;
  assert_int_equal(varint_of(b, sizeof(b), &v, &used), PBF_VARINT_TOOLONG);
}

static void test_zigzag_extremes(void **state)
{
  (void)state;
  assert_int_equal(pbf_zigzag32(0), 0);
  assert_int_equal(pbf_zigzag32(1), -1);
  assert_int_equal(pbf_zigzag32(2), 1);
  assert_int_equal(pbf_zigzag32(0xfffffffeu), INT32_MAX);
  assert_int_equal(pbf_zigzag32(0xffffffffu), INT32_MIN);
  assert_true(pbf_zigzag64(UINT64_MAX) == INT64_MIN);
  assert_true(pbf_zigzag64(UINT64_MAX - 1) == INT64_MAX);
  assert_true(pbf_zigzag64(13) == -7);
}

static void test_int64_twos_complement(void **state)
{
  (void)state;
  assert_true(pbf_int64(UINT64_MAX) == -1);
  assert_true(pbf_int64((uint64_t)1 << 63) == INT64_MIN);
  assert_true(pbf_int64(42) == 42);
}

static void test_float_and_double_bits(void **state)
{
  (void)state;
  assert_true(pbf_float(0x3fc00000u) == 1.5f);
  assert_true(pbf_double(0xc002000000000000ull) == -2.25);
}

/* read every field of b; returns the last pbf_next result */
static int next_of(const uint8_t *b, size_t n, struct pbf_field *f, struct mly_err *err,
                   struct pbf_reader *r)
{
  pbf_reader_init(r, b, n);
  return pbf_next(r, f, err);
}

static void test_next_each_wire_type(void **state)
{
  (void)state;
  const uint8_t b[] = {
      0x08, 0x96, 0x01,                               /* field 1 varint 150 */
      0x11, 1, 2, 3, 4, 5, 6, 7, 8,                   /* field 2 fixed64 */
      0x1a, 0x03, 'a', 'b', 'c',                      /* field 3 bytes "abc" */
      0x25, 0x78, 0x56, 0x34, 0x12,                   /* field 4 fixed32 */
  };
  struct pbf_reader r;
  struct pbf_field f;
  struct mly_err err;
  assert_int_equal(next_of(b, sizeof(b), &f, &err, &r), 1);
  assert_int_equal(f.num, 1);
  assert_int_equal(f.wire, PBF_WIRE_VARINT);
  assert_int_equal(f.u, 150);
  assert_int_equal(pbf_next(&r, &f, &err), 1);
  assert_int_equal(f.num, 2);
  assert_int_equal(f.wire, PBF_WIRE_I64);
  assert_true(f.u == 0x0807060504030201ull);
  assert_int_equal(pbf_next(&r, &f, &err), 1);
  assert_int_equal(f.num, 3);
  assert_int_equal(f.wire, PBF_WIRE_LEN);
  assert_int_equal(f.n, 3);
  assert_memory_equal(f.data, "abc", 3);
  assert_int_equal(pbf_next(&r, &f, &err), 1);
  assert_int_equal(f.num, 4);
  assert_int_equal(f.wire, PBF_WIRE_I32);
  assert_int_equal(f.u, 0x12345678);
  assert_int_equal(pbf_next(&r, &f, &err), 0);
  assert_int_equal(pbf_next(&r, &f, &err), 0);
}

static void test_next_empty_and_null_buffer(void **state)
{
  (void)state;
  struct pbf_reader r;
  struct pbf_field f;
  pbf_reader_init(&r, NULL, 0);
  assert_int_equal(pbf_next(&r, &f, NULL), 0);
}

/* expect pbf_next to fail on b with a message containing want, reader unchanged */
static void expect_next_error(const uint8_t *b, size_t n, const char *want)
{
  struct pbf_reader r;
  struct pbf_field f;
  struct mly_err err;
  memset(&err, 0, sizeof(err));
  assert_int_equal(next_of(b, n, &f, &err, &r), -1);
  assert_int_equal(err.rc, MLY_EFORMAT);
  assert_non_null(strstr(err.msg, want));
  assert_ptr_equal(r.p, b);
  /* without an err it still fails, quietly */
  assert_int_equal(next_of(b, n, &f, NULL, &r), -1);
}

static void test_next_rejects_tag_zero(void **state)
{
  (void)state;
  expect_next_error((const uint8_t *)"\x00\x01", 2, "invalid field number 0");
  expect_next_error((const uint8_t *)"\x02\x00", 2, "invalid field number 0");
}

static void test_next_rejects_field_number_above_29_bits(void **state)
{
  (void)state;
  /* key = 2^29 << 3 = 2^32 */
  const uint8_t b[] = {0x80, 0x80, 0x80, 0x80, 0x10, 0x00};
  expect_next_error(b, sizeof(b), "invalid field number 536870912");
}

static void test_next_rejects_wire_types_3_4_6_7(void **state)
{
  (void)state;
  expect_next_error((const uint8_t *)"\x0b", 1, "unexpected wire type 3 (field 1)");
  expect_next_error((const uint8_t *)"\x0c", 1, "unexpected wire type 4 (field 1)");
  expect_next_error((const uint8_t *)"\x0e\x00", 2, "unexpected wire type 6 (field 1)");
  expect_next_error((const uint8_t *)"\x0f\x00", 2, "unexpected wire type 7 (field 1)");
}

static void test_next_rejects_bad_varints(void **state)
{
  (void)state;
  expect_next_error((const uint8_t *)"\x80", 1, "truncated varint");
  expect_next_error((const uint8_t *)"\x08\x80", 2, "truncated varint (field 1)");
  expect_next_error((const uint8_t *)"\x08", 1, "truncated varint (field 1)");
  expect_next_error((const uint8_t *)"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12,
                    "over-long varint (field 1)");
  expect_next_error((const uint8_t *)"\x0a\x80", 2, "truncated varint (length of field 1)");
}

static void test_next_rejects_length_past_end(void **state)
{
  (void)state;
  expect_next_error((const uint8_t *)"\x0a\x05" "abcd", 6,
                    "length 5 of field 1 past end of buffer (4 bytes left)");
  /* a length near 2^64 must not wrap the pointer */
  const uint8_t huge[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 'x'};
  expect_next_error(huge, sizeof(huge), "past end of buffer");
}

static void test_next_rejects_truncated_fixed(void **state)
{
  (void)state;
  expect_next_error((const uint8_t *)"\x09\x01\x02\x03\x04\x05\x06\x07", 8,
                    "truncated fixed64 (field 1)");
  expect_next_error((const uint8_t *)"\x0d\x01\x02\x03", 4, "truncated fixed32 (field 1)");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_varint_one_byte),
      cmocka_unit_test(test_varint_multi_byte),
      cmocka_unit_test(test_varint_max_uint64),
      cmocka_unit_test(test_varint_non_minimal_zero_is_accepted),
      cmocka_unit_test(test_varint_truncated_leaves_cursor),
      cmocka_unit_test(test_varint_eleven_bytes_is_overlong),
      cmocka_unit_test(test_varint_tenth_byte_beyond_64_bits),
      cmocka_unit_test(test_zigzag_extremes),
      cmocka_unit_test(test_int64_twos_complement),
      cmocka_unit_test(test_float_and_double_bits),
      cmocka_unit_test(test_next_each_wire_type),
      cmocka_unit_test(test_next_empty_and_null_buffer),
      cmocka_unit_test(test_next_rejects_tag_zero),
      cmocka_unit_test(test_next_rejects_field_number_above_29_bits),
      cmocka_unit_test(test_next_rejects_wire_types_3_4_6_7),
      cmocka_unit_test(test_next_rejects_bad_varints),
      cmocka_unit_test(test_next_rejects_length_past_end),
      cmocka_unit_test(test_next_rejects_truncated_fixed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
