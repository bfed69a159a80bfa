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
