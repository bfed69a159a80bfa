/* bbox.c -- strict parsing of "xMin,yMin,xMax,yMax" bounding boxes */
#include "aoi_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Longest bbox text accepted: four numbers with generous spacing. A longer
 * argument is surely not a bbox, and the cap keeps messages short. */
#define BBOX_MAX_TEXT 512
/* Longest single number: 17 significant digits, sign, point, exponent and
 * some leading zeros fit easily */
#define BBOX_MAX_FIELD 64

static const char *const bbox_names[4] = {"xMin", "yMin", "xMax", "yMax"};

static bool bbox_is_space(char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Copy at most 24 bytes of s[0..n) into out for a message, replacing
 * anything unprintable, so hostile input cannot garble a terminal. */
static void bbox_quote(const char *s, size_t n, char *out, size_t cap)
{
  size_t max = 24, o = 0;
  for(size_t i = 0; i < n && o + 4 < cap; i++) {
    if(i == max) {
      memcpy(out + o, "...", 3);
      o += 3;
      break;
    }
    unsigned char c = (unsigned char)s[i];
    out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
  }
  out[o] = '\0';
}

/* The decimal grammar of mly_decimal_len, the whole text: strtod alone
 * would also take "nan", "inf", hex floats and locale-specific forms; none
 * of those is a coordinate anyone means to type. */
static bool bbox_is_decimal(const char *s, size_t n)
{
  return n > 0 && mly_decimal_len(s, n) == n;
}

/* Parse field k (text s[0..n), already trimmed) into *out */
static enum mly_rc bbox_field(int k, const char *s, size_t n, double *out,
                              struct mly_err *err)
{
  char q[32];
  if(n == 0)
    return mly_err_set(err, MLY_EFORMAT, "bbox: %s is empty", bbox_names[k]);
  bbox_quote(s, n, q, sizeof(q));
  if(n >= BBOX_MAX_FIELD || !bbox_is_decimal(s, n))
    return mly_err_set(err, MLY_EFORMAT, "bbox: %s ('%s') is not a number", bbox_names[k], q);

  char buf[BBOX_MAX_FIELD];
  memcpy(buf, s, n);
  buf[n] = '\0';
  char *end = NULL;
  double v = strtod(buf, &end);
  /* full consumption: catches a locale whose decimal point is not '.' */
  if(end != buf + n)
    return mly_err_set(err, MLY_EFORMAT, "bbox: %s ('%s') is not a number", bbox_names[k], q);
  if(!isfinite(v))
    return mly_err_set(err, MLY_EFORMAT, "bbox: %s (%s) is not a finite number",
                       bbox_names[k], q);
  double lim = (k % 2 == 0) ? 180.0 : 90.0;
  if(v < -lim || v > lim)
    return mly_err_set(err, MLY_EFORMAT, "bbox: %s (%s) is out of range [%d, %d]", bbox_names[k],
                       q, -(int)lim, (int)lim);
  *out = v;
  return MLY_OK;
}

/* Split text into exactly four comma-separated, trimmed fields */
static enum mly_rc bbox_split(const char *text, const char *start[4], size_t len[4],
                              struct mly_err *err)
{
  size_t count = 0;
  const char *p = text;
  for(;;) {
    const char *comma = strchr(p, ',');
    const char *e = comma ? comma : p + strlen(p);
    const char *b = p;
    while(b < e && bbox_is_space(*b))
      b++;
    while(e > b && bbox_is_space(e[-1]))
      e--;
    if(count < 4) {
      start[count] = b;
      len[count] = (size_t)(e - b);
    }
    count++;
    if(!comma)
      break;
    p = comma + 1;
  }
  if(count != 4)
    return mly_err_set(err, MLY_EFORMAT,
                       "bbox: expected 4 comma-separated numbers xMin,yMin,xMax,yMax, got %zu "
                       "field%s",
                       count, count == 1 ? "" : "s");
  return MLY_OK;
}

enum mly_rc aoi_parse_bbox(const char *text, double out[4], struct mly_err *err)
{
  if(!text)
    return mly_err_set(err, MLY_EINVAL, "bbox: no text given");
  size_t n = strnlen(text, BBOX_MAX_TEXT + 1);
  if(n > BBOX_MAX_TEXT)
    return mly_err_set(err, MLY_EFORMAT, "bbox: text longer than %d characters",
                       BBOX_MAX_TEXT);
  const char *b = text;
  while(*b && bbox_is_space(*b))
    b++;
  if(*b == '\0')
    return mly_err_set(err, MLY_EFORMAT, "bbox: empty text");

  const char *start[4] = {text, text, text, text};
  size_t len[4] = {0};
  double v[4] = {0};
  enum mly_rc rc = bbox_split(text, start, len, err);
  for(int k = 0; !rc && k < 4; k++)
    rc = bbox_field(k, start[k], len[k], &v[k], err);
  if(rc)
    return rc;

  char q1[32], q2[32];
  if(v[1] >= v[3]) {
    bbox_quote(start[1], len[1], q1, sizeof(q1));
    bbox_quote(start[3], len[3], q2, sizeof(q2));
    if(v[1] == v[3])
      return mly_err_set(err, MLY_EFORMAT, "bbox: yMin (%s) equals yMax (%s): the box has no height",
                         q1, q2);
    return mly_err_set(err, MLY_EFORMAT, "bbox: yMin (%s) is greater than yMax (%s)", q1, q2);
  }
  /* -180 and 180 are one meridian, so 180,..,-180,.. is as empty as 5,..,5,.. */
  if(v[0] == v[2] || (v[0] == 180.0 && v[2] == -180.0)) {
    bbox_quote(start[0], len[0], q1, sizeof(q1));
    bbox_quote(start[2], len[2], q2, sizeof(q2));
    return mly_err_set(err, MLY_EFORMAT, "bbox: xMin (%s) and xMax (%s) leave the box no width", q1,
                       q2);
  }
  /* xMin > xMax crosses the antimeridian; a crossing box as wide as half
   * the globe or wider is almost always two numbers swapped (10,0,9,1 would
   * be 359 degrees and some 10^5 tiles) */
  if(v[0] > v[2] && 360.0 - (v[0] - v[2]) >= 180.0) {
    bbox_quote(start[0], len[0], q1, sizeof(q1));
    bbox_quote(start[2], len[2], q2, sizeof(q2));
    return mly_err_set(err, MLY_EFORMAT,
                       "bbox: xMin (%s) is greater than xMax (%s): the numbers look swapped (a box "
                       "across the antimeridian, %g degrees wide, must be narrower than 180)",
                       q1, q2, 360.0 - (v[0] - v[2]));
  }
  memcpy(out, v, sizeof(v));
  return MLY_OK;
}
