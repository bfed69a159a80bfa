/* dbuf.c -- growable byte buffer with a cap */
#include "mly/dbuf.h"

#include <stdlib.h>
#include <string.h>

void dbuf_init(struct dbuf *b, size_t toobig)
{
  b->p = NULL;
  b->n = b->cap = 0;
  b->toobig = toobig;
}

void dbuf_cleanup(struct dbuf *b)
{
  free(b->p);
  b->p = NULL;
  b->n = b->cap = 0;
}

enum mly_rc dbuf_reserve(struct dbuf *b, size_t more)
{
  if(more > b->toobig || b->n > b->toobig - more)
    return MLY_ETOOBIG;
  size_t need = b->n + more + 1; /* room for a NUL */
  if(need <= b->cap)
    return MLY_OK;
  size_t ncap = b->cap ? b->cap : 256;
  while(ncap < need)
    ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
  char *np = realloc(b->p, ncap);
  if(!np)
    return MLY_ENOMEM;
  b->p = np;
  b->cap = ncap;
  return MLY_OK;
}

enum mly_rc dbuf_add_slow(struct dbuf *b, const void *mem, size_t len)
{
  enum mly_rc rc = dbuf_reserve(b, len);
  if(rc)
    return rc;
  if(len)
    memcpy(b->p + b->n, mem, len);
  b->n += len;
  return MLY_OK;
}

enum mly_rc dbuf_adds(struct dbuf *b, const char *s)
{
  return dbuf_add(b, s, strlen(s));
}

const char *dbuf_cstr(struct dbuf *b)
{
  if(dbuf_reserve(b, 0))
    return NULL;
  b->p[b->n] = '\0';
  return b->p;
}
