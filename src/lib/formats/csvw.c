/* csvw.c -- RFC 4180 CSV fields */
#include "mly/csvw.h"

#include <stdint.h>
#include <string.h>

#include "mly/jsonw.h"

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */

enum mly_rc csvw_field(struct dbuf *b, const char *s, size_t n)
{
  const unsigned char *u = (const unsigned char *)s;
  bool quote = false;
  for(size_t i = 0; i < n && !quote; i++)
    quote = u[i] == ',' || u[i] == '"' || u[i] == '\r' || u[i] == '\n';
  /* worst case: every byte becomes U+FFFD (3 bytes) or a doubled quote */
  if(n > (SIZE_MAX - 2) / 3)
    return MLY_ETOOBIG;
  enum mly_rc rc = dbuf_reserve(b, n * 3 + 2);
  if(rc)
    return rc;
  char *o = b->p + b->n;
  if(quote)
    *o++ = '"';
  for(size_t i = 0; i < n;) {
    size_t len = u[i] ? jsonw_utf8_len(u + i, n - i) : 0;
    if(!len) {
      memcpy(o, REPLACEMENT, 3);
      o += 3;
      i++;
      continue;
    }
    if(u[i] == '"')
      *o++ = '"';
    memcpy(o, u + i, len);
    o += len;
    i += len;
  }
  if(quote)
    *o++ = '"';
  b->n = (size_t)(o - b->p);
  return MLY_OK;
}

enum mly_rc csvw_quote_from(struct dbuf *b, size_t start)
{
  if(start > b->n)
    return MLY_EINVAL;
  size_t quotes = 0;
  for(size_t i = start; i < b->n; i++)
    quotes += b->p[i] == '"';
  enum mly_rc rc = dbuf_reserve(b, quotes + 2);
  if(rc)
    return rc;
  /* from the back, so each byte moves once and none is overwritten unread */
  size_t src = b->n, dst = b->n + quotes + 2;
  b->p[--dst] = '"';
  while(src > start) {
    char c = b->p[--src];
    b->p[--dst] = c;
    if(c == '"')
      b->p[--dst] = '"';
  }
  b->p[--dst] = '"';
  b->n += quotes + 2;
  return MLY_OK;
}
