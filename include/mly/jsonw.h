/* jsonw.h -- JSON text pieces: numbers that round-trip, escaped strings */
#ifndef MLY_JSONW_H
#define MLY_JSONW_H

#include "mly/common.h"
#include "mly/dbuf.h"

#define JSONW_NUM_MAX 48 /* buffer size for every number writer here */

/* Shortest text that parses back to the same double (JSON number syntax;
 * exponent form for very large or small magnitudes). v must be finite.
 * Returns the length; buf is NUL-terminated. */
size_t jsonw_double(char *buf, double v);

/* A coordinate: fixed notation with at least 7 decimals, enough digits to
 * parse back to the same double. v must be finite. */
size_t jsonw_coord(char *buf, double v);

/* jsonw_coord, also keeping the text in 9 bytes (*packed, *form) to be
 * written again later without the search for the shortest digits:
 * jsonw_coord_unpack(buf, packed, form) writes the very same text. */
size_t jsonw_coord_packed(char *buf, double v, uint64_t *packed, uint8_t *form);
size_t jsonw_coord_unpack(char *buf, uint64_t packed, uint8_t form);

/* A position's two coordinates, packed */
struct jsonw_pos {
  uint64_t lon, lat;
  uint8_t lon_form, lat_form;
};

/* Pack both coordinates without keeping their text */
void jsonw_pos_pack(struct jsonw_pos *pos, double lon, double lat);

size_t jsonw_u64(char *buf, uint64_t v);
size_t jsonw_i64(char *buf, int64_t v);

/* Length of the valid UTF-8 sequence starting at s (n > 0 bytes left), or
 * 0 when it is not valid UTF-8 (overlong, surrogate, beyond U+10FFFF) */
size_t jsonw_utf8_len(const unsigned char *s, size_t n);

/* Append s (n bytes) as a quoted JSON string: '"', '\\' and control
 * characters escaped; invalid UTF-8 bytes become U+FFFD, so the output is
 * always valid JSON text. */
enum mly_rc jsonw_string(struct dbuf *b, const char *s, size_t n) MLY_WARN_UNUSED;

#endif
