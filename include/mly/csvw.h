/* csvw.h -- CSV fields (RFC 4180), always valid UTF-8 text */
#ifndef MLY_CSVW_H
#define MLY_CSVW_H

#include "mly/common.h"
#include "mly/dbuf.h"

/* Append s (n bytes) as one RFC 4180 CSV field: enclosed in double quotes,
 * with inner quotes doubled, when it holds a comma, a double quote, CR or
 * LF; as is otherwise. Invalid UTF-8 bytes and NUL become U+FFFD, as
 * jsonw_string does, so a CSV file is always valid UTF-8 text. */
enum mly_rc csvw_field(struct dbuf *b, const char *s, size_t n) MLY_WARN_UNUSED;

/* Enclose b's bytes from `start` to its end in double quotes, doubling the
 * quotes among them, in place (no copy of the text is allocated): for a
 * field written first as text, such as a JSON object or WKT. */
enum mly_rc csvw_quote_from(struct dbuf *b, size_t start) MLY_WARN_UNUSED;

#endif
