/* jsonw.c -- JSON number and string writers */
#include "mly/jsonw.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Digits of v in %e form with the fewest significant digits (15..17, or
 * fewer when %.15g already strips zeros) that parse back to v. DBL_DIG (15)
 * guarantees any shorter exact representation shows up at precision 15 with
 * trailing zeros, so trying 15, 16, 17 finds the shortest. */
static int shortest_precision(double v, char *buf, size_t cap)
{
  /* subnormals hold fewer than 15 significant digits, so the DBL_DIG
   * argument fails there ("4.94065645841247e-324" for 5e-324): search
   * from one digit */
  for(int p = fabs(v) < DBL_MIN ? 1 : 15; p < 17; p++) {
    snprintf(buf, cap, "%.*e", p - 1, v);
    if(strtod(buf, NULL) == v)
      return p;
  }
  snprintf(buf, cap, "%.16e", v);
  return 17;
}

/* significant digits actually needed: p minus trailing zeros of the mantissa */
static int trim_precision(const char *ebuf, int p)
{
  const char *e = strchr(ebuf, 'e');
  const char *q = e - 1;
  while(p > 1 && *q == '0') {
    p--;
    q--;
  }
  return p;
}

static const uint64_t pow10_u64[20] = {
  1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL,
  1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL,
  100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
  1000000000000000000ULL, 10000000000000000000ULL};

typedef unsigned __int128 u128;

/* x * 10^k for k <= 21 and x < 2^57: one 64x64 multiply, since above 10^19
 * x * 10^(k-19) < 2^64 still */
static u128 mul_pow10(uint64_t x, int k)
{
  if(k < 20)
    return (u128)x * pow10_u64[k];
  return (u128)(x * pow10_u64[k - 19]) * pow10_u64[19];
}

/* The integers strictly inside the open interval (lo, hi) * 10^k / 2^s as
 * [*dmin, *dmax], empty when *dmin > *dmax; returns vn * 10^k */
static u128 interval_at(uint64_t lo, uint64_t vn, uint64_t hi, int s, int k, uint64_t *dmin,
                        uint64_t *dmax)
{
  *dmin = (uint64_t)(mul_pow10(lo, k) >> s) + 1;
  *dmax = (uint64_t)((mul_pow10(hi, k) - 1) >> s); /* ceil(x / 2^s) - 1 */
  return mul_pow10(vn, k);
}

/* Fast exact path: the shortest fixed-notation decimal that reads back as v,
 * by integer arithmetic on the double's exact binary value (Steele & White
 * style digit search, with 128-bit integers). Works for 1e-4 <= |v| < 2^53,
 * where at most 21 decimals are ever needed and every product fits in 128
 * bits. The interval of reals that round to v is open at both ends (a
 * conservative choice: a midpoint is never used, so every result round-trips).
 * Returns the fewest decimals k, with the digits of |v| * 10^k split into
 * *int_part and the k decimals in *frac; or -1 when v is outside the range. */
static int shortest_fixed(double v, uint64_t *int_part, uint64_t *frac)
{
  double a = fabs(v);
  if(!(a >= 1e-4 && a < 9007199254740992.0))
    return -1;
  /* a is normal here: a = m * 2^(be-1075) with the implicit bit in m */
  uint64_t bits;
  memcpy(&bits, &a, sizeof(bits));
  int be = (int)(bits >> 52);
  uint64_t m = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
  int s = 1077 - be;                              /* values below are scaled by 2^-s */
  uint64_t vn = m * 4;
  uint64_t lo = vn - (m == (1ULL << 52) ? 1 : 2); /* the gap below halves at a power of two */
  uint64_t hi = vn + 2;

  /* a k that works keeps working for k+1 (append a zero). The interval
   * of doubles reading back as v is 4/2^s wide: with k decimals it spans
   * 4 * 10^k / 2^s integers, so from k_any (the first k where that is >= 2)
   * an integer always lies strictly inside. Start just below it: nearly
   * every coordinate is settled there. 78913 / 2^18 ~ log10(2) gives the
   * same k_any as the exact log for every s here (2..68). */
  int k_any = (((s - 1) * 78913) >> 18) + 1;      /* 10^k_any >= 2^(s-1) */
  if(k_any > 21)
    k_any = 21;
  int k = k_any - 1;
  uint64_t dmin, dmax;
  u128 vp = interval_at(lo, vn, hi, s, k, &dmin, &dmax);
  if(dmin > dmax) {
    k = k_any; /* fits by construction */
    vp = interval_at(lo, vn, hi, s, k, &dmin, &dmax);
  }
  else if(k > 0 && (dmin + 9) / 10 <= dmax / 10) {
    /* a short decimal (90.5, -108.25). D fits with k-j decimals exactly
     * when D * 10^j lies in [dmin, dmax], so the bounds for fewer decimals
     * are ceil(dmin / 10^j) and floor(dmax / 10^j): four decimals a step,
     * then one */
    while(k >= 4 && (dmin + 9999) / 10000 <= dmax / 10000) {
      dmin = (dmin + 9999) / 10000;
      dmax /= 10000;
      k -= 4;
    }
    while(k > 0 && (dmin + 9) / 10 <= dmax / 10) {
      dmin = (dmin + 9) / 10;
      dmax /= 10;
      k--;
    }
    vp = mul_pow10(vn, k);
  }
  /* nearest to the exact value: floor((vp + 2^(s-1)) / 2^s) */
  uint64_t d = (((uint64_t)(vp >> (s - 1))) + 1) >> 1;
  if(d < dmin)
    d = dmin;
  if(d > dmax)
    d = dmax;
  /* the integer part of d / 10^k is floor(|v|): otherwise an integer
   * other than |v| would lie inside the interval that rounds to v, but
   * integers up to 2^53 are doubles and round to themselves (when |v| is
   * an integer, d is exactly |v| * 10^k). |v| >= 1 means k <= 16. */
  uint64_t ip = (uint64_t)a;
  *int_part = ip;
  *frac = ip ? d - ip * pow10_u64[k] : d;
  return k;
}

/* decimal digits in v (1 for 0): the bit length gives the count or one more */
static int count_digits(uint64_t v)
{
  uint64_t w = v | 1; /* same digit count, as no power of ten but 1 is odd */
  int bits = 64 - __builtin_clzll(w);
  int t = (bits * 1233) >> 12;                    /* 1233 / 4096 ~ log10(2) */
  return t + 1 - (w < pow10_u64[t]);
}

/* The 8 digits of x < 10^8, zero-padded, as ASCII bytes in a word whose
 * lowest byte is the first digit: split into 4-digit halves in two 32-bit
 * lanes, then each lane into 2-digit and those into 1-digit parts, by
 * multiplying with rounded-up reciprocals (10486 / 2^20 ~ 1/100 is exact
 * for lanes below 10^4, 103 / 2^10 ~ 1/10 for lanes below 100). Each
 * split is (z << w) - q * (10^j << w) + q: the remainder moves up a lane,
 * the quotient takes its place. */
static uint64_t ascii8(uint32_t x)
{
  uint64_t q = x / 10000;
  uint64_t z = ((uint64_t)x << 32) - q * ((10000ULL << 32) - 1);
  q = ((z * 10486) >> 20) & 0x0000007F0000007FULL;
  z = (z << 16) - q * ((100ULL << 16) - 1);
  q = ((z * 103) >> 10) & 0x000F000F000F000FULL;
  z = (z << 8) - q * ((10ULL << 8) - 1);
  return z | 0x3030303030303030ULL;
}

/* the 8 bytes of an ascii8() word at p, first digit first */
static void store8(char *p, uint64_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  w = __builtin_bswap64(w);
#endif
  memcpy(p, &w, 8);
}

/* the last len (1..8) digits of an ascii8() word at p, followed by 8 - len
 * zero bytes */
static void store_last(char *p, uint64_t w, int len)
{
  store8(p, w >> (64 - 8 * len));
}

/* exactly len digits of v < 10^len, zero-padded, at p, in 8-digit chunks of
 * 32-bit arithmetic; writes the 8 bytes at p even when len is shorter. The
 * leading chunk goes first: its zero bytes are then overwritten. */
static inline void write_digits(char *p, uint64_t v, int len)
{
  if(len <= 8) {
    store_last(p, ascii8((uint32_t)v), len);
    return;
  }
  uint64_t q = v / 100000000;
  uint32_t lo = (uint32_t)(v - q * 100000000);
  if(len <= 16)
    store_last(p, ascii8((uint32_t)q), len - 8);
  else {
    uint64_t top = q / 100000000;
    store_last(p, ascii8((uint32_t)top), len - 16);
    store8(p + len - 16, ascii8((uint32_t)(q - top * 100000000)));
  }
  store8(p + len - 8, ascii8(lo));
}

/* the digits of v at p, returning their count; from v >= 1000 on, at least
 * 8 bytes are written. Integer parts of coordinates take the short ways. */
static size_t write_uint(char *p, uint64_t v)
{
  if(v < 10) {
    p[0] = (char)('0' + v);
    return 1;
  }
  if(v < 100) {
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return 2;
  }
  if(v < 1000) {
    uint32_t r = (uint32_t)v % 100;
    p[0] = (char)('0' + v / 100);
    p[1] = (char)('0' + r / 10);
    p[2] = (char)('0' + r % 10);
    return 3;
  }
  int n = count_digits(v);
  write_digits(p, v, n);
  return (size_t)n;
}

/* "-123.4500000": the sign, int_part and the decimals digits of frac,
 * padded with zeros to min_decimals (<= 8) decimals. Writes at most 35
 * bytes of buf (decimals <= 21). */
static size_t write_fixed(char *buf, bool negative, uint64_t int_part, uint64_t frac,
                          int decimals, int min_decimals)
{
  size_t o = 0;
  if(negative)
    buf[o++] = '-';
  o += write_uint(buf + o, int_part);
  int shown = decimals > min_decimals ? decimals : min_decimals;
  if(shown > 0) {
    buf[o++] = '.';
    if(decimals > 0)
      write_digits(buf + o, frac, decimals);
    if(decimals < min_decimals)
      memcpy(buf + o + decimals, "00000000", 8);
    o += (size_t)shown;
  }
  buf[o] = '\0';
  return o;
}

/* v in shortest fixed notation with at least min_decimals decimals, when
 * |v| is in the range of shortest_fixed(); returns the length, or 0
 * outside it */
static size_t format_fixed(char *buf, double v, int min_decimals)
{
  uint64_t int_part, frac;
  int decimals = shortest_fixed(v, &int_part, &frac);
  if(decimals < 0)
    return 0;
  return write_fixed(buf, v < 0, int_part, frac, decimals, min_decimals);
}

/* The slow paths, for magnitudes outside shortest_fixed()'s range: kept
 * out of line so the fast path stays small */
#if defined(__GNUC__)
#define JSONW_COLD __attribute__((cold, noinline))
#else
#define JSONW_COLD
#endif

JSONW_COLD static size_t double_slow(char *buf, double v)
{
  char ebuf[JSONW_NUM_MAX];
  int p = trim_precision(ebuf, shortest_precision(v, ebuf, sizeof(ebuf)));
  int exp10 = atoi(strchr(ebuf, 'e') + 1);
  /* whole numbers below 1e17 print without exponent: 100, not 1e+02 */
  if(exp10 >= 0 && exp10 < 17 && p < exp10 + 1)
    p = exp10 + 1;
  /* %g may print "1e+20": valid JSON. It never prints "inf"/"nan" for finite v */
  return (size_t)snprintf(buf, JSONW_NUM_MAX, "%.*g", p, v);
}

JSONW_COLD static size_t coord_slow(char *buf, double v)
{
  char ebuf[JSONW_NUM_MAX];
  int p = trim_precision(ebuf, shortest_precision(v, ebuf, sizeof(ebuf)));
  int exp10 = atoi(strchr(ebuf, 'e') + 1);
  int decimals = p - 1 - exp10;
  if(decimals < 7)
    decimals = 7;
  if(decimals > 30)
    decimals = 30; /* |v| >= 1e-13 for any real coordinate; keeps buf safe */
  int n = snprintf(buf, JSONW_NUM_MAX, "%.*f", decimals, v);
  /* no real coordinate is this large, but a workflow input may hold one:
   * fixed notation would not fit, so the exponent form */
  if(n < 0 || n >= JSONW_NUM_MAX)
    return jsonw_double(buf, v);
  return (size_t)n;
}

size_t jsonw_double(char *buf, double v)
{
  if(v == 0) {
    if(signbit(v)) {
      memcpy(buf, "-0", 3);
      return 2;
    }
    memcpy(buf, "0", 2);
    return 1;
  }
  size_t n = format_fixed(buf, v, 0);
  return n ? n : double_slow(buf, v);
}

size_t jsonw_coord(char *buf, double v)
{
  if(v == 0) {
    memcpy(buf, "0.0000000", 10); /* -0 too, as %.7f of 0.0 */
    return 9;
  }
  size_t n = format_fixed(buf, v, 7);
  return n ? n : coord_slow(buf, v);
}

/* writes at most 9 bytes or the digits and the NUL: 21 bytes (20 for the
 * digits of UINT64_MAX) always suffice */
/* Packed, for |v| < 512 in shortest_fixed()'s range: the decimals in
 * frac (fewer than 10^17, as the shortest digits are at most 17: below
 * 2^57) with the low 7 bits of the integer part above them; the form
 * holds the number of decimals (bits 0-4, at most 21), the integer part's
 * two high bits (5-6) and the sign (7). 0 is all zero. Anything else keeps
 * its bits, with a form whose decimals read 31. */
#define COORD_FRAC_BITS 57
#define COORD_RAW 0xFF

size_t jsonw_coord_packed(char *buf, double v, uint64_t *packed, uint8_t *form)
{
  uint64_t int_part, frac;
  int k = v == 0 ? -1 : shortest_fixed(v, &int_part, &frac);
  if(k >= 0 && int_part < 512 && frac < (1ULL << COORD_FRAC_BITS)) {
    *form = (uint8_t)(k | (int_part >> 7) << 5 | (v < 0 ? 0x80 : 0));
    *packed = frac | int_part << COORD_FRAC_BITS;
    return write_fixed(buf, v < 0, int_part, frac, k, 7);
  }
  if(v == 0) {
    *form = 0;
    *packed = 0; /* "0.0000000", -0 too */
  }
  else {
    memcpy(packed, &v, sizeof(*packed));
    *form = COORD_RAW;
  }
  return jsonw_coord(buf, v);
}

void jsonw_pos_pack(struct jsonw_pos *pos, double lon, double lat)
{
  char num[JSONW_NUM_MAX];
  jsonw_coord_packed(num, lon, &pos->lon, &pos->lon_form);
  jsonw_coord_packed(num, lat, &pos->lat, &pos->lat_form);
}

size_t jsonw_coord_unpack(char *buf, uint64_t packed, uint8_t form)
{
  if((form & 31) == (COORD_RAW & 31)) {
    double v;
    memcpy(&v, &packed, sizeof(v));
    return jsonw_coord(buf, v);
  }
  uint64_t int_part = packed >> COORD_FRAC_BITS | (uint64_t)(form >> 5 & 3) << 7;
  uint64_t frac = packed & ((1ULL << COORD_FRAC_BITS) - 1);
  return write_fixed(buf, form & 0x80, int_part, frac, form & 31, 7);
}

size_t jsonw_u64(char *buf, uint64_t v)
{
  int n = count_digits(v);
  write_digits(buf, v, n);
  buf[n] = '\0';
  return (size_t)n;
}

size_t jsonw_i64(char *buf, int64_t v)
{
  if(v < 0) {
    buf[0] = '-';
    return 1 + jsonw_u64(buf + 1, (uint64_t)0 - (uint64_t)v);
  }
  return jsonw_u64(buf, (uint64_t)v);
}

size_t jsonw_utf8_len(const unsigned char *s, size_t n)
{
  unsigned char c = s[0];
  if(c < 0x80)
    return 1;
  size_t len;
  uint32_t min, cp;
  if((c & 0xE0) == 0xC0) {
    len = 2; min = 0x80; cp = c & 0x1F;
  }
  else if((c & 0xF0) == 0xE0) {
    len = 3; min = 0x800; cp = c & 0x0F;
  }
  else if((c & 0xF8) == 0xF0) {
    len = 4; min = 0x10000; cp = c & 0x07;
  }
  else
    return 0;
  if(n < len)
    return 0;
  for(size_t i = 1; i < len; i++) {
    if((s[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if(cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

/* Whether any of the 8 bytes in w is not copied as it is by jsonw_string:
 * a control character, '"', '\\' or a byte of a multi-byte UTF-8
 * sequence (checked one by one). Exact, no false positives or negatives:
 * (x - 0x01..) & ~x & 0x80.. is non-zero iff some byte of x is zero, and
 * (x - 0x20..) & ~x & 0x80.. iff some byte is below 0x20. */
static inline bool needs_escape8(uint64_t w)
{
  const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
  uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
  uint64_t control = (w - ones * 0x20) & ~w;
  uint64_t zero_q = (quote - ones) & ~quote, zero_b = (backslash - ones) & ~backslash;
  return ((w | control | zero_q | zero_b) & high) != 0;
}

enum mly_rc jsonw_string(struct dbuf *b, const char *s, size_t n)
{
  /* worst case: every byte becomes \ufffd (6 bytes) */
  if(n > (SIZE_MAX - 2) / 6)
    return MLY_ETOOBIG;
  enum mly_rc rc = dbuf_reserve(b, n * 6 + 2);
  if(rc)
    return rc;
  char *o = b->p + b->n;
  const unsigned char *u = (const unsigned char *)s;
  *o++ = '"';
  for(size_t i = 0; i < n;) {
    /* eight plain bytes at a time: ids and names rarely hold anything else */
    if(n - i >= 8) {
      uint64_t w;
      memcpy(&w, u + i, 8);
      if(!needs_escape8(w)) {
        memcpy(o, &w, 8);
        o += 8;
        i += 8;
        continue;
      }
    }
    unsigned char c = u[i];
    if(c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      *o++ = (char)c;
      i++;
      continue;
    }
    if(c == '"' || c == '\\') {
      *o++ = '\\';
      *o++ = (char)c;
      i++;
      continue;
    }
    if(c < 0x20) {
      static const char hex[] = "0123456789abcdef";
      const char *esc = NULL;
      switch(c) {
      case '\n': esc = "\\n"; break;
      case '\r': esc = "\\r"; break;
      case '\t': esc = "\\t"; break;
      case '\b': esc = "\\b"; break;
      case '\f': esc = "\\f"; break;
      }
      if(esc) {
        memcpy(o, esc, 2);
        o += 2;
      }
      else {
        memcpy(o, "\\u00", 4);
        o[4] = hex[c >> 4];
        o[5] = hex[c & 15];
        o += 6;
      }
      i++;
      continue;
    }
    size_t len = jsonw_utf8_len(u + i, n - i);
    if(len) {
      memcpy(o, u + i, len);
      o += len;
      i += len;
    }
    else {
      memcpy(o, "\\ufffd", 6);
      o += 6;
      i++;
    }
  }
  *o++ = '"';
  b->n = (size_t)(o - b->p);
  return MLY_OK;
}
