/* test_jsonw.c -- unit tests of the JSON number/string writers and the capped byte buffer */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "mly/dbuf.h"
#include "mly/jsonw.h"

/* ---- helpers ------------------------------------------------------------ */

/* The fewest significant digits (1..17) whose nearest decimal parses back
 * to v: an independent, slow reference for "shortest round-trip". */
static int reference_digits(double v)
{
  char buf[64];
  for(int p = 1; p <= 17; p++) {
    snprintf(buf, sizeof(buf), "%.*e", p - 1, v);
    if(strtod(buf, NULL) == v)
      return p;
  }
  return 17;
}

/* Significant digits written in a JSON number text */
static int written_digits(const char *s)
{
  int first = -1, last = -1, pos = 0;
  for(const char *c = s; *c && *c != 'e' && *c != 'E'; c++) {
    if(*c < '0' || *c > '9')
      continue;
    if(*c != '0') {
      if(first < 0)
        first = pos;
      last = pos;
    }
    pos++;
  }
  /* zeros before the first and after the last non-zero digit do not count,
   * as in the reference's %e form ("100" has one significant digit) */
  return first < 0 ? 1 : last - first + 1;
}

/* Whether s is a JSON number (RFC 8259 section 6), whole text */
static bool is_json_number(const char *s)
{
  const char *p = s;
  if(*p == '-')
    p++;
  if(*p == '0')
    p++;
  else if(*p >= '1' && *p <= '9')
    while(*p >= '0' && *p <= '9')
      p++;
  else
    return false;
  if(*p == '.') {
    p++;
    if(!(*p >= '0' && *p <= '9'))
      return false;
    while(*p >= '0' && *p <= '9')
      p++;
  }
  if(*p == 'e' || *p == 'E') {
    p++;
    if(*p == '+' || *p == '-')
      p++;
    if(!(*p >= '0' && *p <= '9'))
      return false;
    while(*p >= '0' && *p <= '9')
      p++;
  }
  return *p == '\0';
}

/* Decimals after the point of a fixed-notation number */
static int decimals_of(const char *s)
{
  const char *dot = strchr(s, '.');
  return dot ? (int)strlen(dot + 1) : 0;
}

/* Small deterministic generator (xorshift64*), so failures reproduce */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng_next(void)
{
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1DULL;
}

static double rng_unit(void)
{
  return (double)(rng_next() >> 11) / 9007199254740992.0;
}

static void check_double(double v, const char *want)
{
  char buf[JSONW_NUM_MAX];
  size_t n = jsonw_double(buf, v);
  assert_int_equal(n, strlen(buf));
  if(want)
    assert_string_equal(buf, want);
  assert_true(is_json_number(buf));
  assert_true(strtod(buf, NULL) == v);
}

/* jsonw_string of (s, n) into a fresh buffer, as a NUL-terminated copy */
static char *quoted(const char *s, size_t n)
{
  struct dbuf b;
  dbuf_init(&b, 1 << 20);
  assert_int_equal(jsonw_string(&b, s, n), MLY_OK);
  const char *c = dbuf_cstr(&b);
  assert_non_null(c);
  char *out = strdup(c);
  dbuf_cleanup(&b);
  assert_non_null(out);
  return out;
}

/* The text jsonw_string writes must be one JSON string that decodes to want
 * (want_n bytes); returns nothing, fails the test otherwise */
static void check_string_roundtrip(const char *text, const char *want, size_t want_n)
{
  json_error_t jerr;
  json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  if(!j)
    fail_msg("invalid JSON %s: %s", text, jerr.text);
  assert_true(json_is_string(j));
  assert_int_equal(json_string_length(j), want_n);
  assert_memory_equal(json_string_value(j), want, want_n);
  json_decref(j);
}

/* ---- jsonw_double --------------------------------------------------------- */

static void test_double_shortest_common_values(void **state)
{
  (void)state;
  check_double(0.1, "0.1");
  check_double(0.3, "0.3");
  check_double(0.1 + 0.2, "0.30000000000000004");
  check_double(1.0 / 3.0, "0.3333333333333333");
  check_double(2.0 / 3.0, "0.6666666666666666");
  check_double(123.456, "123.456");
  check_double(-2.5, "-2.5");
  check_double(359.99, "359.99");
  check_double(1.7976931348623157e308, "1.7976931348623157e+308");
  check_double(DBL_MIN, "2.2250738585072014e-308");
}

static void test_double_whole_numbers_without_exponent(void **state)
{
  (void)state;
  check_double(1.0, "1");
  check_double(100.0, "100");
  check_double(-42.0, "-42");
  check_double(1651366800000.0, "1651366800000");
  check_double(1e16, "10000000000000000");
  /* 2^53 + 1 held as a double is 2^53: the exact integer value prints */
  check_double(9007199254740993.0, "9007199254740992");
  check_double(9007199254740994.0, "9007199254740994");
  /* exact integer digits, although "9.699868896491867e+16" would be shorter */
  check_double(96998688964918672.0, "96998688964918672");
}

static void test_double_exponent_form_is_json(void **state)
{
  (void)state;
  check_double(1e20, NULL);
  check_double(1e-7, NULL);
  check_double(-1.5e-300, NULL);
  check_double(6.02214076e23, NULL);
  char buf[JSONW_NUM_MAX];
  jsonw_double(buf, 1e20);
  assert_string_equal(buf, "1e+20");
}

static void test_double_zero_keeps_sign(void **state)
{
  (void)state;
  char buf[JSONW_NUM_MAX];
  assert_int_equal(jsonw_double(buf, 0.0), 1);
  assert_string_equal(buf, "0");
  assert_int_equal(jsonw_double(buf, -0.0), 2);
  assert_string_equal(buf, "-0");
  assert_true(signbit(strtod(buf, NULL)));
}

static void test_double_subnormals_shortest(void **state)
{
  (void)state;
  /* subnormals carry fewer than 15 digits of precision */
  check_double(5e-324, "5e-324");
  check_double(1e-310, "1e-310");
  check_double(-2.5e-320, "-2.5e-320");
}

static void test_double_random_roundtrip_and_shortest(void **state)
{
  (void)state;
  char buf[JSONW_NUM_MAX];
  for(int i = 0; i < 20000; i++) {
    double v;
    switch(i % 4) {
    case 0: v = (rng_unit() - 0.5) * 720.0; break;        /* angles, degrees */
    case 1: v = rng_unit() * 2e12; break;                 /* epoch ms with fractions */
    case 2: {                                             /* any finite bit pattern */
      uint64_t bits = rng_next();
      memcpy(&v, &bits, sizeof(v));
      if(!isfinite(v))
        v = 1.0;
      break;
    }
    default: v = round(rng_unit() * 1e6) / 1e3; break;    /* few decimals */
    }
    size_t n = jsonw_double(buf, v);
    assert_true(n < JSONW_NUM_MAX);
    if(!is_json_number(buf))
      fail_msg("not a JSON number: %s", buf);
    if(strtod(buf, NULL) != v)
      fail_msg("%s does not parse back to %.17g", buf, v);
    if(v == floor(v) && fabs(v) < 1e17) {
      /* whole numbers print as their exact integer, without exponent */
      char exact[64];
      snprintf(exact, sizeof(exact), "%.0f", v);
      if(strcmp(buf, exact) != 0 && !(v == 0 && strcmp(buf, "-0") == 0))
        fail_msg("%s is not the integer %s", buf, exact);
    }
    else if(written_digits(buf) > reference_digits(v))
      fail_msg("%s is longer than needed for %.17g (%d digits)", buf, v, reference_digits(v));
  }
}

/* ---- jsonw_coord ---------------------------------------------------------- */

/* jsonw_coord_packed writes what jsonw_coord writes, and its packed form
 * writes it again */
static void check_packed_same(double v)
{
  char want[JSONW_NUM_MAX], got[JSONW_NUM_MAX], again[JSONW_NUM_MAX];
  size_t n = jsonw_coord(want, v);
  uint64_t packed;
  uint8_t form;
  assert_int_equal(jsonw_coord_packed(got, v, &packed, &form), n);
  assert_string_equal(got, want);
  assert_int_equal(jsonw_coord_unpack(again, packed, form), n);
  assert_string_equal(again, want);
}

static void check_coord(double v, const char *want)
{
  char buf[JSONW_NUM_MAX];
  size_t n = jsonw_coord(buf, v);
  check_packed_same(v);
  assert_int_equal(n, strlen(buf));
  if(want)
    assert_string_equal(buf, want);
  assert_null(strchr(buf, 'e'));
  assert_true(is_json_number(buf));
  assert_true(decimals_of(buf) >= 7);
  assert_true(strtod(buf, NULL) == v);
}

static void test_coord_at_least_seven_decimals(void **state)
{
  (void)state;
  check_coord(0.0, "0.0000000");
  check_coord(1.0, "1.0000000");
  check_coord(180.0, "180.0000000");
  check_coord(-180.0, "-180.0000000");
  check_coord(0.1, "0.1000000");
  check_coord(-122.4194155, "-122.4194155");
  check_coord(45.5, "45.5000000");
}

static void test_coord_more_decimals_when_needed(void **state)
{
  (void)state;
  check_coord(1.0 / 3.0, "0.3333333333333333");
  check_coord(-108.45678901234567, NULL);
  check_coord(1e-10, "0.0000000001");
  check_coord(85.05112877980659, "85.05112877980659");
  /* the smallest residue of lon - 180 (one ulp of 180) still round-trips */
  check_coord(2.842170943040401e-14, "0.00000000000002842170943040401");
  check_coord(-1.4210854715202004e-14, NULL);
}

/* A workflow input may hold any number where a coordinate belongs (found by
 * fuzz_featread): one too large for fixed notation in the buffer is written
 * in the exponent form, within the buffer, and still round-trips */
static void test_coord_too_large_for_fixed_notation(void **state)
{
  (void)state;
  const double vs[] = {3.2222222222222e222, -1.7976931348623157e308, 1e40, 1e-30};
  for(size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
    char buf[JSONW_NUM_MAX];
    size_t n = jsonw_coord(buf, vs[i]);
    assert_true(n < JSONW_NUM_MAX);
    assert_int_equal(n, strlen(buf));
    assert_true(is_json_number(buf));
    assert_true(strtod(buf, NULL) == vs[i]);
  }
}

/* Integer parts of every length around the short forms (1..3 digits) and
 * the 8-digit chunks; decimals padded to seven */
static void test_fixed_integer_part_lengths(void **state)
{
  (void)state;
  check_double(9.5, "9.5");
  check_double(10.5, "10.5");
  check_double(99.25, "99.25");
  check_double(100.125, "100.125");
  check_double(999.5, "999.5");
  check_double(1000.5, "1000.5");
  check_double(-12345678.5, "-12345678.5");
  check_double(123456789.5, "123456789.5");
  check_double(1234567890123456.0, "1234567890123456");
  check_double(9007199254740991.0, "9007199254740991");
  check_double(0.0001, "0.0001");
  check_double(-0.00012345, "-0.00012345");
  check_double(0.0009765625, "0.0009765625");
  check_double(217.38462829589844, "217.38462829589844");
  check_coord(9.5, "9.5000000");
  check_coord(100.125, "100.1250000");
  check_coord(1000.5, "1000.5000000");
  check_coord(-12345678.5, "-12345678.5000000");
  check_coord(9007199254740991.0, "9007199254740991.0000000");
  check_coord(0.0001, "0.0001000");
  check_coord(0.000123456789, "0.000123456789");
  check_coord(-108.78662014007568, "-108.78662014007568");
  check_coord(39.19820630031, "39.19820630031");
}

static void test_coord_random_lonlat_roundtrip(void **state)
{
  (void)state;
  for(int i = 0; i < 20000; i++) {
    double lon = (rng_unit() - 0.5) * 360.0;
    double lat = (rng_unit() - 0.5) * 170.1022;
    check_coord(lon, NULL);
    check_coord(lat, NULL);
  }
}

/* The packed text at the edges of its form (integer parts up to 511,
 * 21 decimals, zeros) and for any finite double, which falls back to
 * keeping the bits */
static void test_coord_packed_writes_the_same_text(void **state)
{
  (void)state;
  const double edges[] = {0.0, -0.0, 127.5, 128.25, -255.75, 511.9999999999999, 512.0, -512.5,
                          1e-4, 9.99e-5, -1.0000000000000002e-4, 0.00012345678901234567,
                          1e-300, 5e-324, 1e300, 9007199254740991.0, 1e16, -180.0, 90.0};
  for(size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
    check_packed_same(edges[i]);
  for(int i = 0; i < 200000; i++) {
    uint64_t bits = rng_next();
    double v;
    memcpy(&v, &bits, sizeof(v));
    if(!isfinite(v))
      continue;
    check_packed_same(v);
    check_packed_same((rng_unit() - 0.5) * 1100.0); /* integer parts around 512 */
  }
}

/* ---- integers --------------------------------------------------------------- */

static void test_u64_and_i64_exact(void **state)
{
  (void)state;
  char buf[JSONW_NUM_MAX];
  assert_int_equal(jsonw_u64(buf, 0), 1);
  assert_string_equal(buf, "0");
  jsonw_u64(buf, 1805883732926354ULL);
  assert_string_equal(buf, "1805883732926354");
  assert_int_equal(jsonw_u64(buf, UINT64_MAX), 20);
  assert_string_equal(buf, "18446744073709551615");
  jsonw_u64(buf, 9007199254740993ULL);
  assert_string_equal(buf, "9007199254740993");
  assert_int_equal(jsonw_i64(buf, -1), 2);
  assert_string_equal(buf, "-1");
  jsonw_i64(buf, INT64_MAX);
  assert_string_equal(buf, "9223372036854775807");
  assert_int_equal(jsonw_i64(buf, INT64_MIN), 20);
  assert_string_equal(buf, "-9223372036854775808");
  jsonw_i64(buf, 1651366800000LL);
  assert_string_equal(buf, "1651366800000");
}

/* jsonw_u64 writes exactly want, and says how long it is */
static void check_u64(uint64_t v, const char *want)
{
  char buf[JSONW_NUM_MAX];
  assert_int_equal(jsonw_u64(buf, v), strlen(want));
  assert_string_equal(buf, want);
}

/* Every digit count, at both edges: the writers work in 8-digit chunks */
static void test_u64_and_i64_digit_count_boundaries(void **state)
{
  (void)state;
  char buf[JSONW_NUM_MAX], want[32];
  check_u64(9999999ULL, "9999999");
  check_u64(10000000ULL, "10000000");
  check_u64(99999999ULL, "99999999");
  check_u64(100000000ULL, "100000000");
  check_u64(999999999999999ULL, "999999999999999");
  check_u64(10000000000000000ULL, "10000000000000000");
  check_u64(10000000000000000000ULL, "10000000000000000000");
  uint64_t p = 1;
  for(int e = 0; e < 20; e++, p *= 10) {
    for(int d = -1; d <= 1; d++) {
      uint64_t v = p + (uint64_t)d;
      snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
      assert_int_equal(jsonw_u64(buf, v), strlen(want));
      assert_string_equal(buf, want);
      int64_t neg = -(int64_t)(v & INT64_MAX);
      snprintf(want, sizeof(want), "%lld", (long long)neg);
      assert_int_equal(jsonw_i64(buf, neg), strlen(want));
      assert_string_equal(buf, want);
    }
  }
  for(int i = 0; i < 20000; i++) {
    uint64_t v = rng_next() >> (rng_next() % 64);
    snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
    jsonw_u64(buf, v);
    assert_string_equal(buf, want);
  }
}

/* Callers keep integers in 24-byte slots (struct image_text.num): the
 * writers may use scratch space, but never past the 21 bytes that
 * "-9223372036854775808" or UINT64_MAX's 20 digits and the NUL need */
static void test_u64_and_i64_stay_within_21_bytes(void **state)
{
  (void)state;
  static const uint64_t cases[] = {0, 7, 42, 12345678, 123456789, UINT64_MAX, 1ULL << 63};
  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char buf[32];
    memset(buf, 0x55, sizeof(buf));
    jsonw_u64(buf, cases[i]);
    for(size_t j = 21; j < sizeof(buf); j++)
      assert_int_equal((unsigned char)buf[j], 0x55);
    memset(buf, 0x55, sizeof(buf));
    jsonw_i64(buf, -(int64_t)(cases[i] >> 1) - 1);
    for(size_t j = 21; j < sizeof(buf); j++)
      assert_int_equal((unsigned char)buf[j], 0x55);
  }
}

/* ---- jsonw_string ----------------------------------------------------------- */

static void test_string_plain_and_escapes(void **state)
{
  (void)state;
  char *s = quoted("abc", 3);
  assert_string_equal(s, "\"abc\"");
  free(s);
  s = quoted("", 0);
  assert_string_equal(s, "\"\"");
  free(s);
  s = quoted("a\"b\\c/", 6);
  assert_string_equal(s, "\"a\\\"b\\\\c/\"");
  check_string_roundtrip(s, "a\"b\\c/", 6);
  free(s);
}

static void test_string_control_characters_escaped(void **state)
{
  (void)state;
  const char in[] = "\n\r\t\b\f\x01\x1f\x7f";
  char *s = quoted(in, sizeof(in) - 1);
  assert_string_equal(s, "\"\\n\\r\\t\\b\\f\\u0001\\u001f\x7f\"");
  check_string_roundtrip(s, in, sizeof(in) - 1);
  free(s);
  /* an embedded NUL is data, not the end */
  s = quoted("a\0b", 3);
  assert_string_equal(s, "\"a\\u0000b\"");
  check_string_roundtrip(s, "a\0b", 3);
  free(s);
}

static void test_string_valid_utf8_passes_through(void **state)
{
  (void)state;
  const char in[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf";
  char *s = quoted(in, sizeof(in) - 1);
  assert_int_equal(strlen(s), sizeof(in) - 1 + 2);
  assert_memory_equal(s + 1, in, sizeof(in) - 1);
  check_string_roundtrip(s, in, sizeof(in) - 1);
  free(s);
}

static void test_string_invalid_utf8_replaced(void **state)
{
  (void)state;
  static const struct {
    const char *in;
    size_t n;
    const char *want;
  } cases[] = {
    {"\x80", 1, "\"\\ufffd\""},                        /* lone continuation */
    {"a\xc3", 2, "\"a\\ufffd\""},                      /* truncated at the end */
    {"\xc3(", 2, "\"\\ufffd(\""},                      /* bad continuation */
    {"\xc0\xaf", 2, "\"\\ufffd\\ufffd\""},             /* overlong '/' */
    {"\xe0\x80\xaf", 3, "\"\\ufffd\\ufffd\\ufffd\""},  /* overlong, 3 bytes */
    {"\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""},  /* UTF-16 surrogate */
    {"\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* above U+10FFFF */
    {"\xf8\x88\x80\x80\x80", 5,
     "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\""},        /* 5-byte form */
    {"\xff", 1, "\"\\ufffd\""},
  };
  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *s = quoted(cases[i].in, cases[i].n);
    assert_string_equal(s, cases[i].want);
    json_error_t jerr;
    json_t *j = json_loads(s, JSON_DECODE_ANY, &jerr);
    if(!j)
      fail_msg("case %zu gives invalid JSON %s: %s", i, s, jerr.text);
    json_decref(j);
    free(s);
  }
}

static void test_string_random_bytes_stay_valid_json(void **state)
{
  (void)state;
  unsigned char in[64];
  for(int i = 0; i < 5000; i++) {
    size_t n = (size_t)(rng_next() % sizeof(in));
    for(size_t k = 0; k < n; k++)
      in[k] = (unsigned char)rng_next();
    char *s = quoted((const char *)in, n);
    json_error_t jerr;
    json_t *j = json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if(!j)
      fail_msg("invalid JSON from random bytes: %s", jerr.text);
    assert_true(json_is_string(j));
    json_decref(j);
    free(s);
  }
}

/* A byte-at-a-time reference for jsonw_string's escaping: each byte where
 * it is plain, else jsonw_string on that byte alone (or on a whole UTF-8
 * sequence), so that the word-at-a-time fast path is checked against the
 * byte path at every position of a word */
static void test_string_word_path_matches_byte_path(void **state)
{
  (void)state;
  static const unsigned char specials[] = {0x00, 0x01, 0x1F, '"', '\\', 0x7F, 0x80, 0xC3, 0xFF, 0x20, 0x21, 0x5B, 0x5D};
  struct dbuf whole, piece, ref;
  dbuf_init(&whole, 1 << 20);
  dbuf_init(&piece, 1 << 20);
  dbuf_init(&ref, 1 << 20);
  unsigned char s[40];
  srand(7);
  for(int round = 0; round < 20000; round++) {
    size_t n = (size_t)(rand() % 40);
    for(size_t i = 0; i < n; i++)
      s[i] = (unsigned char)('a' + rand() % 26);
    /* at most two special bytes, anywhere: a word holds none, one or two */
    for(int k = rand() % 3; k > 0 && n; k--)
      s[rand() % n] = specials[rand() % sizeof(specials)];
    dbuf_reset(&whole);
    assert_int_equal(jsonw_string(&whole, (const char *)s, n), MLY_OK);
    /* reference: the same text built from pieces no longer than 7 bytes,
     * split only before ASCII bytes (never inside a UTF-8 sequence), each
     * too short for the word path */
    dbuf_reset(&ref);
    assert_int_equal(dbuf_add(&ref, "\"", 1), MLY_OK);
    size_t i = 0;
    while(i < n) {
      size_t e = i + 1;
      while(e < n && e - i < 7 && s[e] >= 0x80)
        e++;
      while(e < n && e - i < 7 && s[e] < 0x80 && rand() % 4)
        e++;
      while(e < n && s[e] >= 0x80 && (s[e] & 0xC0) == 0x80)
        e++; /* keep continuation bytes with their lead */
      if(e - i >= 8)
        e = i + 7;
      dbuf_reset(&piece);
      assert_int_equal(jsonw_string(&piece, (const char *)s + i, e - i), MLY_OK);
      assert_int_equal(dbuf_add(&ref, piece.p + 1, piece.n - 2), MLY_OK);
      i = e;
    }
    assert_int_equal(dbuf_add(&ref, "\"", 1), MLY_OK);
    if(whole.n != ref.n || memcmp(whole.p, ref.p, ref.n) != 0)
      fail_msg("round %d: '%.*s' vs '%.*s'", round, (int)whole.n, whole.p, (int)ref.n, ref.p);
  }
  dbuf_cleanup(&whole);
  dbuf_cleanup(&piece);
  dbuf_cleanup(&ref);
}

static void test_string_appends_after_existing_text(void **state)
{
  (void)state;
  struct dbuf b;
  dbuf_init(&b, 1024);
  assert_int_equal(dbuf_adds(&b, "[1,"), MLY_OK);
  assert_int_equal(jsonw_string(&b, "x", 1), MLY_OK);
  assert_int_equal(dbuf_adds(&b, "]"), MLY_OK);
  assert_string_equal(dbuf_cstr(&b), "[1,\"x\"]");
  dbuf_cleanup(&b);
}

static void test_string_respects_buffer_cap(void **state)
{
  (void)state;
  struct dbuf b;
  dbuf_init(&b, 8);
  char big[100];
  memset(big, 'a', sizeof(big));
  assert_int_equal(jsonw_string(&b, big, sizeof(big)), MLY_ETOOBIG);
  assert_int_equal(b.n, 0);
  dbuf_cleanup(&b);
}

/* ---- dbuf ---------------------------------------------------------------------- */

static void test_dbuf_grows_and_caps(void **state)
{
  (void)state;
  struct dbuf b;
  dbuf_init(&b, 10);
  assert_int_equal(dbuf_add(&b, "0123456789", 10), MLY_OK);
  assert_int_equal(b.n, 10);
  /* the cap counts bytes held: one more is too big, nothing changes */
  assert_int_equal(dbuf_add(&b, "x", 1), MLY_ETOOBIG);
  assert_int_equal(b.n, 10);
  assert_string_equal(dbuf_cstr(&b), "0123456789");
  dbuf_reset(&b);
  assert_int_equal(b.n, 0);
  assert_int_equal(dbuf_adds(&b, "ab"), MLY_OK);
  assert_string_equal(dbuf_cstr(&b), "ab");
  assert_int_equal(dbuf_reserve(&b, SIZE_MAX), MLY_ETOOBIG);
  dbuf_cleanup(&b);
  assert_null(b.p);
  assert_int_equal(b.n, 0);

  dbuf_init(&b, 1 << 20);
  for(int i = 0; i < 100000; i++)
    assert_int_equal(dbuf_add(&b, "abcdefghij", 10), MLY_OK);
  assert_int_equal(b.n, 1000000);
  assert_memory_equal(b.p + 999990, "abcdefghij", 10);
  dbuf_cleanup(&b);
}

static void test_dbuf_empty_cstr(void **state)
{
  (void)state;
  struct dbuf b;
  dbuf_init(&b, 16);
  const char *s = dbuf_cstr(&b);
  assert_non_null(s);
  assert_string_equal(s, "");
  assert_int_equal(dbuf_add(&b, NULL, 0), MLY_OK);
  dbuf_cleanup(&b);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_double_shortest_common_values),
    cmocka_unit_test(test_double_whole_numbers_without_exponent),
    cmocka_unit_test(test_double_exponent_form_is_json),
    cmocka_unit_test(test_double_zero_keeps_sign),
    cmocka_unit_test(test_double_subnormals_shortest),
    cmocka_unit_test(test_double_random_roundtrip_and_shortest),
    cmocka_unit_test(test_coord_at_least_seven_decimals),
    cmocka_unit_test(test_coord_more_decimals_when_needed),
    cmocka_unit_test(test_coord_too_large_for_fixed_notation),
    cmocka_unit_test(test_coord_random_lonlat_roundtrip),
    cmocka_unit_test(test_fixed_integer_part_lengths),
    cmocka_unit_test(test_coord_packed_writes_the_same_text),
    cmocka_unit_test(test_u64_and_i64_exact),
    cmocka_unit_test(test_u64_and_i64_digit_count_boundaries),
    cmocka_unit_test(test_u64_and_i64_stay_within_21_bytes),
    cmocka_unit_test(test_string_plain_and_escapes),
    cmocka_unit_test(test_string_control_characters_escaped),
    cmocka_unit_test(test_string_valid_utf8_passes_through),
    cmocka_unit_test(test_string_invalid_utf8_replaced),
    cmocka_unit_test(test_string_random_bytes_stay_valid_json),
    cmocka_unit_test(test_string_word_path_matches_byte_path),
    cmocka_unit_test(test_string_appends_after_existing_text),
    cmocka_unit_test(test_string_respects_buffer_cap),
    cmocka_unit_test(test_dbuf_grows_and_caps),
    cmocka_unit_test(test_dbuf_empty_cstr),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
