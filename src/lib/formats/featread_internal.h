/* featread_internal.h -- what a format backend of featread.c sees
 *
 * A format is a struct featread_backend (curl's Curl_handler idea): the
 * reader core opens nothing itself for a backend that reads by path (GDAL)
 * and hands a buffered byte stream to those that read text. A new format is
 * one more row in featread.c's table of backends. */
#ifndef MLY_FEATREAD_INTERNAL_H
#define MLY_FEATREAD_INTERNAL_H

#include <stdio.h>
#include "mly/dbuf.h"
#include "mly/featread.h"

struct featread_backend {
  const char *name;         /* for messages: "GeoJSON", "CSV", ... */
  const char *const *exts;  /* extensions with their dot, NULL-terminated */
  bool by_path;             /* opens the path itself (no byte stream): GDAL */
  /* Start reading r (its byte stream is open unless by_path). */
  enum mly_rc (*open)(struct featread *r, struct mly_err *err);
  /* The next feature: set r->cur (owned by r; the core frees the previous
   * one) and *got, or *got = false at the end. */
  enum mly_rc (*next)(struct featread *r, bool *got, struct mly_err *err);
  void (*close)(struct featread *r); /* free r->state */
};

struct featread {
  const struct featread_backend *be;
  char *path;          /* as given ("-": standard input) */
  const char *shown;   /* for messages: the path, or "standard input" */
  FILE *fp;
  bool own_fp;
  /* the byte stream: buf[pos..len) not yet consumed */
  unsigned char *buf;
  size_t pos, len, cap;
  bool eof;
  uint64_t line;       /* 1-based line of buf[pos] */
  uint64_t index;      /* features handed out so far */
  json_t *cur;         /* the feature handed out last (an object), owned */
  bool failed;
  void *state;         /* the backend's */
};

/* The byte at the read position, or -1 at the end (or on a read error,
 * which mly__featread_ioerr then reports) */
int mly__featread_peek(struct featread *r);
/* Consume one byte (counting lines) */
void mly__featread_skip(struct featread *r);
/* Whether reading stopped on an error rather than at the end */
bool mly__featread_ioerr(struct featread *r, struct mly_err *err);

/* Check that v (a decoded JSON value, consumed) is a Feature or a bare
 * geometry and make it r->cur as a Feature object. `where` names it in
 * messages ("feature 3", "line 7"). */
enum mly_rc mly__featread_accept(struct featread *r, json_t *v, const char *where,
                                 struct mly_err *err);

/* The backends */
extern const struct featread_backend mly__featread_geojson, mly__featread_geojsonl,
    mly__featread_geojsonseq, mly__featread_csv,
    mly__featread_gpkg, mly__featread_fgb; /* featread_gdal.c: the GDAL module */

#endif
