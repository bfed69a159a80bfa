/* test_timeparse.c -- unit tests of --timestamp_from/--timestamp_to parsing (epoch ms, ISO 8601) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mly/timeparse.h"

#define DAY_MS 86400000LL
/* 2022-05-01T00:00:00Z, the seed's example day (1651366800000 is 01:00Z) */
#define MAY1 1651363200000LL

static int64_t parse_ok(const char *text, bool end_of_day)
{
  struct mly_err err = {0};
  int64_t ms = 0x5a5a5a5a;
  enum mly_rc rc = time_parse(text, end_of_day, &ms, &err);
  if(rc != MLY_OK)
    fail_msg("'%s' should parse: %s", text, err.msg);
  return ms;
}

/* A rejected text: MLY_EFORMAT and a one-line lowercase message without a
 * full stop that quotes the input */
static void parse_bad(const char *text)
{
  struct mly_err err = {0};
  int64_t ms = 77;
  enum mly_rc rc = time_parse(text, false, &ms, &err);
  if(rc != MLY_EFORMAT)
    fail_msg("'%s' should be rejected, got rc %d ms %lld", text, (int)rc, (long long)ms);
  assert_int_equal(err.rc, MLY_EFORMAT);
  size_t n = strlen(err.msg);
  assert_true(n > 0);
  assert_true(err.msg[n - 1] != '.');
  assert_null(strchr(err.msg, '\n'));
  assert_true(err.msg[0] >= 'a' && err.msg[0] <= 'z');
  assert_non_null(strstr(err.msg, "invalid time"));
}

static void test_epoch_milliseconds(void **state)
{
  (void)state;
  assert_int_equal(parse_ok("1651366800000", false), 1651366800000LL);
  /* end_of_day only concerns a date alone */
  assert_int_equal(parse_ok("1651366800000", true), 1651366800000LL);
  assert_int_equal(parse_ok("0", false), 0);
  assert_int_equal(parse_ok("-1", false), -1);
  assert_int_equal(parse_ok("9223372036854775807", false), INT64_MAX);
  /* digits alone are always milliseconds, even when they look like a year */
  assert_int_equal(parse_ok("2022", false), 2022);
}

static void test_date_alone_start_and_end_of_day(void **state)
{
  (void)state;
  assert_int_equal(parse_ok("2022-05-01", false), MAY1);
  assert_int_equal(parse_ok("2022-05-01", true), MAY1 + DAY_MS - 1);
  assert_int_equal(parse_ok("1970-01-01", false), 0);
  assert_int_equal(parse_ok("1969-12-31", false), -DAY_MS);
  assert_int_equal(parse_ok("2000-03-01", false), 951868800000LL);
}

static void test_date_time_forms(void **state)
{
  (void)state;
  const int64_t ten = MAY1 + 10 * 3600000LL;
  assert_int_equal(parse_ok("2022-05-01T10:00:00Z", false), ten);
  assert_int_equal(parse_ok("2022-05-01T10:00:00z", false), ten);
  assert_int_equal(parse_ok("2022-05-01T10:00", false), ten);
  assert_int_equal(parse_ok("2022-05-01T10:00:00", true), ten);
  assert_int_equal(parse_ok("2022-05-01 10:00:00", false), ten);
  assert_int_equal(parse_ok("2022-05-01t10:00Z", false), ten);
  assert_int_equal(parse_ok("2022-05-01T10:00:59Z", false), ten + 59000);
  assert_int_equal(parse_ok("2022-05-01T23:59:59Z", false), MAY1 + DAY_MS - 1000);
}

static void test_offsets(void **state)
{
  (void)state;
  const int64_t ten = MAY1 + 10 * 3600000LL;
  assert_int_equal(parse_ok("2022-05-01T12:00:00+02:00", false), ten);
  assert_int_equal(parse_ok("2022-05-01T12:00:00+0200", false), ten);
  assert_int_equal(parse_ok("2022-05-01T12:00:00+02", false), ten);
  assert_int_equal(parse_ok("2022-05-01T04:30:00-05:30", false), ten);
  assert_int_equal(parse_ok("2022-05-01T10:00:00+00:00", false), ten);
  /* an offset can move the instant to the previous day */
  assert_int_equal(parse_ok("2022-05-01T01:00:00+02:00", false), MAY1 - 3600000LL);
}

static void test_fractional_seconds(void **state)
{
  (void)state;
  const int64_t ten = MAY1 + 10 * 3600000LL;
  assert_int_equal(parse_ok("2022-05-01T12:00:00.250+02:00", false), ten + 250);
  assert_int_equal(parse_ok("2022-05-01T10:00:00.5Z", false), ten + 500);
  assert_int_equal(parse_ok("2022-05-01T10:00:00.05Z", false), ten + 50);
  assert_int_equal(parse_ok("2022-05-01T10:00:00,125Z", false), ten + 125);
  /* digits beyond milliseconds are cut, never rounded up past the instant */
  assert_int_equal(parse_ok("2022-05-01T10:00:00.123999Z", false), ten + 123);
}

static void test_leap_years(void **state)
{
  (void)state;
  assert_int_equal(parse_ok("2024-02-29", false), parse_ok("2024-03-01", false) - DAY_MS);
  assert_int_equal(parse_ok("2000-02-29", false), parse_ok("2000-03-01", false) - DAY_MS);
  parse_bad("2023-02-29");
  parse_bad("1900-02-29");
  parse_bad("2022-04-31");
}

static void test_rejects_malformed(void **state)
{
  (void)state;
  parse_bad("");
  parse_bad("abc");
  parse_bad("12abc");
  parse_bad("1.5");
  parse_bad("+123");
  parse_bad(" 123");
  parse_bad("99999999999999999999");
  parse_bad("2022-05");
  parse_bad("2022-5-1");
  parse_bad("2022/05/01");
  parse_bad("2022-00-10");
  parse_bad("2022-13-01");
  parse_bad("2022-05-00");
  parse_bad("2022-05-32");
  parse_bad("2022-05-01T");
  parse_bad("2022-05-01X10:00");
  parse_bad("2022-05-01T10");
  parse_bad("2022-05-01T1:00");
  parse_bad("2022-05-01T24:00");
  parse_bad("2022-05-01T10:60");
  parse_bad("2022-05-01T10:00:60");
  parse_bad("2022-05-01T10:00:0");
  parse_bad("2022-05-01T10:00:00.");
  parse_bad("2022-05-01T10:00:00Zjunk");
  parse_bad("2022-05-01T10:00:00 ");
  parse_bad("2022-05-01 ");
  parse_bad("2022-05-01T10:00:00+");
  parse_bad("2022-05-01T10:00:00+2");
  parse_bad("2022-05-01T10:00:00+02:");
  parse_bad("2022-05-01T10:00:00+02:0");
  parse_bad("2022-05-01T10:00:00+24:00");
  parse_bad("2022-05-01T10:00:00+02:60");
}

static void test_error_leaves_output_alone(void **state)
{
  (void)state;
  int64_t ms = 1234;
  assert_int_equal(time_parse("2022-13-01", false, &ms, NULL), MLY_EFORMAT);
  assert_int_equal(ms, 1234);
}

static void test_days_from_civil(void **state)
{
  (void)state;
  assert_int_equal(time_days_from_civil(1970, 1, 1), 0);
  assert_int_equal(time_days_from_civil(1970, 1, 2), 1);
  assert_int_equal(time_days_from_civil(1969, 12, 31), -1);
  assert_int_equal(time_days_from_civil(2000, 3, 1), 11017);
  assert_int_equal(time_days_from_civil(2022, 5, 1), 19113);
  assert_int_equal(time_days_from_civil(1600, 1, 1), -135140);
  /* consecutive days stay consecutive across month and year ends */
  int64_t prev = time_days_from_civil(1899, 12, 31);
  for(int64_t y = 1900; y <= 2100; y++) {
    for(unsigned m = 1; m <= 12; m++) {
      int64_t d1 = time_days_from_civil(y, m, 1);
      assert_int_equal(d1, prev + 1);
      static const unsigned dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
      unsigned last = dim[m - 1];
      if(m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        last = 29;
      prev = time_days_from_civil(y, m, last);
      assert_int_equal(prev, d1 + last - 1);
    }
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_epoch_milliseconds),
    cmocka_unit_test(test_date_alone_start_and_end_of_day),
    cmocka_unit_test(test_date_time_forms),
    cmocka_unit_test(test_offsets),
    cmocka_unit_test(test_fractional_seconds),
    cmocka_unit_test(test_leap_years),
    cmocka_unit_test(test_rejects_malformed),
    cmocka_unit_test(test_error_leaves_output_alone),
    cmocka_unit_test(test_days_from_civil),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
