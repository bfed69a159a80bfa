/* common.h -- status codes, error detail and borrowed byte views shared by every module */
#ifndef MLY_COMMON_H
#define MLY_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#if defined(__GNUC__)
#define MLY_WARN_UNUSED __attribute__((warn_unused_result))
#define MLY_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MLY_WARN_UNUSED
#define MLY_PRINTF(a, b)
#endif

/* One status enum for the whole library (curl's CURLcode). 0 is success. */
enum mly_rc {
  MLY_OK = 0,
  MLY_ENOMEM,   /* an allocation failed */
  MLY_EFORMAT,  /* malformed input: tile, GeoJSON, bbox, date */
  MLY_ETOOBIG,  /* a cap was exceeded (tile bytes, counts, tiles) */
  MLY_EHTTP,    /* a request failed for good after its retries */
  MLY_EAUTH,    /* the API refused the token */
  MLY_ERATE,    /* the API's request limit persisted */
  MLY_EGEOS,    /* GEOS reported an error */
  MLY_EIO,      /* reading or writing a local file failed */
  MLY_EINVAL,   /* invalid argument or usage */
  MLY_ESTOP     /* stopped on request (signal, budget); resumable */
};

/* Error detail filled by a failing call: rc plus a one-line, lowercase
 * message without a trailing full stop (git style). Never holds the token. */
struct mly_err {
  enum mly_rc rc;
  char msg[256];
};

/* A borrowed, not NUL-terminated byte range. Valid only while its owner
 * (usually a tile body) lives. */
struct mly_view {
  const char *p;
  size_t n;
};

const char *mly_strerror(enum mly_rc rc);

/* Fill err (if not NULL) and return rc, so callers can write
 * `return mly_err_set(err, MLY_EFORMAT, "bad %s", what);` */
enum mly_rc mly_err_set(struct mly_err *err, enum mly_rc rc, const char *fmt, ...)
    MLY_PRINTF(3, 4);

/* true when the view equals the NUL-terminated string s */
bool mly_view_eq(struct mly_view v, const char *s);

/* Length of the decimal number at the start of s[0..n): [+-] digits [.
 * digits] [(e|E) [+-] digits], at least one digit in the mantissa (".5" and
 * "5." are numbers); 0 when s does not start with one. The grammar every
 * number typed or read as text must match before strtod reads it: strtod
 * alone would also take "nan", "inf", hexadecimal ("0x10" is 16) and
 * leading blanks. */
size_t mly_decimal_len(const char *s, size_t n);

#endif
