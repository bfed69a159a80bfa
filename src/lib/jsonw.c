/* jsonw.c -- JSON number and string writers */
#include "mly/jsonw.h"

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
  for(int p = 15; p < 17; p++) {
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

size_t jsonw_double(char *buf, double v)
{
  char ebuf[JSONW_NUM_MAX];
  if(v == 0)
    return (size_t)snprintf(buf, JSONW_NUM_MAX, "%s", signbit(v) ? "-0" : "0");
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
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while(v);
  for(size_t i = 0; i < n; i++)
    buf[i] = tmp[n - 1 - i];
  buf[n] = '\0';
  return n;
}

size_t jsonw_i64(char *buf, int64_t v)
{
  if(v < 0) {
    buf[0] = '-';
    return 1 + jsonw_u64(buf + 1, (uint64_t)0 - (uint64_t)v);
  }
  return jsonw_u64(buf, (uint64_t)v);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid */
static size_t utf8_valid_len(const unsigned char *s, size_t n)
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
    size_t len = utf8_valid_len(u + i, n - i);
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
