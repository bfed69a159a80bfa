/* dbuf.h -- a growable byte buffer with a hard size cap (curl's dynbuf) */
#ifndef MLY_DBUF_H
#define MLY_DBUF_H

#include <string.h>
#include "mly/common.h"

struct dbuf {
  char *p;       /* bytes; not NUL-terminated unless dbuf_cstr() is called */
  size_t n;      /* used */
  size_t cap;    /* allocated */
  size_t toobig; /* appending past this many bytes fails with MLY_ETOOBIG */
};

void dbuf_init(struct dbuf *b, size_t toobig);
void dbuf_cleanup(struct dbuf *b);
/* Forget the content, keep the memory */
static inline void dbuf_reset(struct dbuf *b) { b->n = 0; }

/* Make room for `more` bytes beyond n; MLY_OK, MLY_ENOMEM or MLY_ETOOBIG */
enum mly_rc dbuf_reserve(struct dbuf *b, size_t more) MLY_WARN_UNUSED;
enum mly_rc dbuf_add_slow(struct dbuf *b, const void *mem, size_t len) MLY_WARN_UNUSED;

/* Append len bytes; the common case (room left) stays inline */
MLY_WARN_UNUSED static inline enum mly_rc dbuf_add(struct dbuf *b, const void *mem, size_t len)
{
  if(len < b->cap - b->n && b->n + len <= b->toobig) {
    if(len) /* mem may be NULL when there is nothing to add */
      memcpy(b->p + b->n, mem, len);
    b->n += len;
    return MLY_OK;
  }
  return dbuf_add_slow(b, mem, len);
}
enum mly_rc dbuf_adds(struct dbuf *b, const char *s) MLY_WARN_UNUSED;
/* NUL-terminate (not counted in n) and return p; NULL on failure */
const char *dbuf_cstr(struct dbuf *b);

#endif
