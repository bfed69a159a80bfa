/* common.c -- status strings and error helpers */
#include "mly/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *mly_strerror(enum mly_rc rc)
{
  switch(rc) {
  case MLY_OK: return "ok";
  case MLY_ENOMEM: return "out of memory";
  case MLY_EFORMAT: return "malformed input";
  case MLY_ETOOBIG: return "too big";
  case MLY_EHTTP: return "request failed";
  case MLY_EAUTH: return "authentication failed";
  case MLY_ERATE: return "request limit reached";
  case MLY_EGEOS: return "geometry error";
  case MLY_EIO: return "i/o error";
  case MLY_EINVAL: return "invalid argument";
  case MLY_ESTOP: return "stopped";
  }
  return "unknown error";
}

enum mly_rc mly_err_set(struct mly_err *err, enum mly_rc rc, const char *fmt, ...)
{
  if(err) {
    va_list ap;
    va_start(ap, fmt);
    err->rc = rc;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    /* messages quote user input: keep them on one line, whatever it holds */
    for(char *c = err->msg; *c; c++)
      if((unsigned char)*c < 0x20 || *c == 0x7f)
        *c = '?';
  }
  return rc;
}

bool mly_view_eq(struct mly_view v, const char *s)
{
  size_t n = strlen(s);
  return v.n == n && (n == 0 || memcmp(v.p, s, n) == 0);
}

size_t mly_decimal_len(const char *s, size_t n)
{
  size_t i = 0, digits = 0;
  if(i < n && (s[i] == '+' || s[i] == '-'))
    i++;
  while(i < n && s[i] >= '0' && s[i] <= '9') {
    i++;
    digits++;
  }
  if(i < n && s[i] == '.') {
    i++;
    while(i < n && s[i] >= '0' && s[i] <= '9') {
      i++;
      digits++;
    }
  }
  if(digits == 0)
    return 0;
  if(i < n && (s[i] == 'e' || s[i] == 'E')) {
    size_t k = i + 1;
    if(k < n && (s[k] == '+' || s[k] == '-'))
      k++;
    if(k < n && s[k] >= '0' && s[k] <= '9') {
      while(k < n && s[k] >= '0' && s[k] <= '9')
        k++;
      i = k; /* else the 'e' is not part of the number */
    }
  }
  return i;
}
