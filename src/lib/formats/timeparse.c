/* timeparse.c -- epoch milliseconds and ISO 8601 dates to epoch milliseconds */
#include "mly/timeparse.h"
#include "mly/image.h"

#include <ctype.h>
#include <string.h>

#define MS_PER_DAY 86400000LL

int64_t time_days_from_civil(int64_t y, unsigned m, unsigned d)
{
  /* Howard Hinnant's well-known days_from_civil arithmetic, written out */
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static bool is_leap(int64_t y)
{
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
  static const unsigned dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* exactly n digits at *p, advancing it */
static bool digits(const char **p, int n, unsigned *out)
{
  unsigned v = 0;
  for(int i = 0; i < n; i++) {
    if(!isdigit((unsigned char)(*p)[i]))
      return false;
    v = v * 10 + (unsigned)((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return true;
}

static enum mly_rc bad(struct mly_err *err, const char *text, const char *why)
{
  return mly_err_set(err, MLY_EFORMAT, "invalid time '%.64s': %s", text, why);
}

enum mly_rc time_parse(const char *text, bool end_of_day, int64_t *ms, struct mly_err *err)
{
  size_t n = strlen(text);
  if(n == 0)
    return bad(err, text, "empty");
  /* epoch milliseconds: digits only (a date always has '-' after 4 digits) */
  if(image_parse_i64(text, n, ms))
    return MLY_OK;

  const char *p = text;
  unsigned y, mo, d, h = 0, mi = 0, s = 0, frac = 0;
  if(!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
     !digits(&p, 2, &d))
    return bad(err, text, "expected epoch milliseconds or YYYY-MM-DD[THH:MM[:SS[.sss]][Z|+HH:MM]]");
  if(mo < 1 || mo > 12)
    return bad(err, text, "month out of range");
  if(d < 1 || d > days_in_month(y, mo))
    return bad(err, text, "day out of range");
  int64_t days = time_days_from_civil(y, mo, d);
  if(*p == '\0') {
    *ms = days * MS_PER_DAY + (end_of_day ? MS_PER_DAY - 1 : 0);
    return MLY_OK;
  }
  if(*p != 'T' && *p != 't' && *p != ' ')
    return bad(err, text, "expected 'T' after the date");
  p++;
  if(!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
    return bad(err, text, "expected HH:MM after 'T'");
  if(*p == ':') {
    p++;
    if(!digits(&p, 2, &s))
      return bad(err, text, "expected two digits of seconds");
    if(*p == '.' || *p == ',') {
      p++;
      int nd = 0;
      while(isdigit((unsigned char)*p)) {
        if(nd < 3)
          frac = frac * 10 + (unsigned)(*p - '0');
        nd++;
        p++;
      }
      if(nd == 0)
        return bad(err, text, "expected digits after the decimal point");
      for(int k = nd; k < 3; k++)
        frac *= 10;
    }
  }
  if(h > 23 || mi > 59 || s > 59)
    return bad(err, text, "time of day out of range");
  int64_t offset_min = 0;
  if(*p == 'Z' || *p == 'z')
    p++;
  else if(*p == '+' || *p == '-') {
    int sign = *p++ == '-' ? -1 : 1;
    unsigned oh, om = 0;
    if(!digits(&p, 2, &oh))
      return bad(err, text, "expected an offset like +02:00");
    /* "+02", "+0200" or "+02:00"; a colon must be followed by minutes */
    bool colon = *p == ':';
    if(colon)
      p++;
    if((colon || *p) && !digits(&p, 2, &om))
      return bad(err, text, "expected an offset like +02:00");
    if(oh > 23 || om > 59)
      return bad(err, text, "offset out of range");
    offset_min = sign * (int64_t)(oh * 60 + om);
  }
  if(*p != '\0')
    return bad(err, text, "unexpected text after the time");
  *ms = days * MS_PER_DAY + ((int64_t)h * 3600 + mi * 60 + s) * 1000 + frac - offset_min * 60000;
  return MLY_OK;
}
