/* timeparse.h -- --timestamp_from/--timestamp_to values: epoch ms or ISO 8601 */
#ifndef MLY_TIMEPARSE_H
#define MLY_TIMEPARSE_H

#include "mly/common.h"

/* Parse epoch milliseconds ("1651366800000", optionally negative) or an
 * ISO 8601 date ("2022-05-01") or date-time ("2022-05-01T10:00",
 * "2022-05-01T10:00:00Z", "2022-05-01T12:00:00.250+02:00"; a space may
 * stand for the T; without an offset, UTC). A date alone is the start of
 * that day, or with end_of_day its last millisecond (inclusive bound).
 * MLY_EFORMAT with a message saying what is wrong. */
enum mly_rc time_parse(const char *text, bool end_of_day, int64_t *ms, struct mly_err *err)
    MLY_WARN_UNUSED;

/* Days since 1970-01-01 of a proleptic Gregorian date */
int64_t time_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
