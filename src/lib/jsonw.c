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

/* Fast exact path: the shortest fixed-notation decimal that reads back as v,
 * by integer arithmetic on the double's exact binary value (Steele & White
 * style digit search, with 128-bit integers). Works for 1e-4 <= |v| < 2^53,
 * where at most 21 decimals are ever needed and every product fits in 128
 * bits. The interval of reals that round to v is open at both ends (a
 * conservative choice: a midpoint is never used, so every result round-trips).
 * Writes the digits of v * 10^k into *digits with the fewest decimals k;
 * returns k, or -1 when v is outside the range. */
typedef unsigned __int128 u128;

static int shortest_fixed(double v, uint64_t *digits)
{
  double a = fabs(v);
  if(!(a >= 1e-4 && a < 9007199254740992.0))
    return -1;
  int ex;
  double f = frexp(a, &ex);                       /* a = f * 2^ex, f in [0.5, 1) */
  uint64_t m = (uint64_t)ldexp(f, 53);            /* a = m * 2^(ex-53), exact */
  int s = 55 - ex;                                /* values below are scaled by 2^(ex-55) */
  u128 vn = (u128)m * 4;
  u128 lo = vn - (m == (1ULL << 52) ? 1 : 2);     /* the gap below halves at a power of two */
  u128 hi = vn + 2;

  static const u128 pow10[22] = {
    1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
    10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL, 100000000000000ULL,
    1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL, 1000000000000000000ULL,
    10000000000000000000ULL, (u128)10000000000000000000ULL * 10, (u128)10000000000000000000ULL * 100};

  u128 one = (u128)1 << s;
  /* a k that works keeps working for k+1 (append a zero). The interval
   * of doubles reading back as v is 4/2^s wide: with k decimals it spans
   * 4 * 10^k / 2^s integers, so from k_any (the first k where that is >= 2)
   * an integer always lies strictly inside. Start just below it: nearly
   * every coordinate is settled in one or two tries. */
  int k_any = (int)((s - 1) * 0.30102999566398120) + 1; /* 10^k_any >= 2^(s-1) */
  if(k_any > 21)
    k_any = 21;
  int kl = k_any - 1 < 0 ? 0 : k_any - 1;
#define FITS(k) ((((lo * pow10[k]) >> s) + 1) <= (((hi * pow10[k] + one - 1) >> s) - 1))
  if(!FITS(kl))
    kl = k_any; /* fits by construction */
  else if(kl > 0 && FITS(kl - 1)) {
    /* a short decimal (90.5, -108.25): search the shorter lengths */
    int lo_k = 0, hi_k = kl - 1;
    while(lo_k < hi_k) {
      int mid = (lo_k + hi_k) / 2;
      if(FITS(mid))
        hi_k = mid;
      else
        lo_k = mid + 1;
    }
    kl = lo_k;
  }
#undef FITS
  u128 dmin = ((lo * pow10[kl]) >> s) + 1;
  u128 dmax = ((hi * pow10[kl] + one - 1) >> s) - 1;
  u128 d = (vn * pow10[kl] + (one >> 1)) >> s;    /* nearest to the exact value */
  if(d < dmin)
    d = dmin;
  if(d > dmax)
    d = dmax;
  *digits = (uint64_t)d;
  return kl;
}

/* "-123.4500000": digits with `decimals` of them after the point, at least
 * min_decimals shown */
static const char two_digits[201] =
  "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
  "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
  "8081828384858687888990919293949596979899";

/* digits of v, least significant first, into tmp; returns the count */
static int digits_reversed(uint64_t v, char *tmp)
{
  int n = 0;
  /* four digits per 64-bit division, then 32-bit arithmetic for the pairs */
  while(v >= 10000) {
    uint32_t r = (uint32_t)(v % 10000);
    v /= 10000;
    uint32_t lo = r % 100, hi = r / 100;
    tmp[n++] = two_digits[2 * lo + 1];
    tmp[n++] = two_digits[2 * lo];
    tmp[n++] = two_digits[2 * hi + 1];
    tmp[n++] = two_digits[2 * hi];
  }
  uint32_t w = (uint32_t)v;
  while(w >= 100) {
    uint32_t r = w % 100;
    w /= 100;
    tmp[n++] = two_digits[2 * r + 1];
    tmp[n++] = two_digits[2 * r];
  }
  if(w >= 10) {
    tmp[n++] = two_digits[2 * w + 1];
    tmp[n++] = two_digits[2 * w];
  }
  else
    tmp[n++] = (char)('0' + w);
  return n;
}

static size_t format_fixed(char *buf, bool neg, uint64_t digits, int decimals, int min_decimals)
{
  char tmp[32];
  int n = digits_reversed(digits, tmp);
  while(n <= decimals)
    tmp[n++] = '0'; /* leading zeros: at least one digit before the point */
  size_t o = 0;
  if(neg)
    buf[o++] = '-';
  for(int i = n - 1; i >= decimals; i--)
    buf[o++] = tmp[i];
  int shown = decimals > min_decimals ? decimals : min_decimals;
  if(shown > 0) {
    buf[o++] = '.';
    for(int i = decimals - 1; i >= 0; i--)
      buf[o++] = tmp[i];
    for(int i = decimals; i < shown; i++)
      buf[o++] = '0';
  }
  buf[o] = '\0';
  return o;
}

size_t jsonw_double(char *buf, double v)
{
  char ebuf[JSONW_NUM_MAX];
  if(v == 0)
    return (size_t)snprintf(buf, JSONW_NUM_MAX, "%s", signbit(v) ? "-0" : "0");
  uint64_t digits;
  int k = shortest_fixed(v, &digits);
  if(k >= 0)
    return format_fixed(buf, v < 0, digits, k, 0);
  int p = trim_precision(ebuf, shortest_precision(v, ebuf, sizeof(ebuf)));
  int exp10 = atoi(strchr(ebuf, 'e') + 1);
  /* whole numbers below 1e17 print without exponent: 100, not 1e+02 */
  if(exp10 >= 0 && exp10 < 17 && p < exp10 + 1)
    p = exp10 + 1;
  int n = snprintf(buf, JSONW_NUM_MAX, "%.*g", p, v);
  /* %g may print "1e+20": valid JSON. It never prints "inf"/"nan" for finite v */
  return (size_t)n;
}

size_t jsonw_coord(char *buf, double v)
{
  char ebuf[JSONW_NUM_MAX];
  if(v == 0)
    return (size_t)snprintf(buf, JSONW_NUM_MAX, "%.7f", 0.0);
  uint64_t digits;
  int k = shortest_fixed(v, &digits);
  if(k >= 0)
    return format_fixed(buf, v < 0, digits, k, 7);
  int p = trim_precision(ebuf, shortest_precision(v, ebuf, sizeof(ebuf)));
  int exp10 = atoi(strchr(ebuf, 'e') + 1);
  int decimals = p - 1 - exp10;
  if(decimals < 7)
    decimals = 7;
  if(decimals > 30)
    decimals = 30; /* |v| >= 1e-13 for any real coordinate; keeps buf safe */
  return (size_t)snprintf(buf, JSONW_NUM_MAX, "%.*f", decimals, v);
}

size_t jsonw_u64(char *buf, uint64_t v)
{
  char tmp[24];
  int n = digits_reversed(v, tmp);
  for(int i = 0; i < n; i++)
    buf[i] = tmp[n - 1 - i];
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
