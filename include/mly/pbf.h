/* pbf.h -- minimal zero-copy protobuf wire-format reader (protozero's idea in C)
 *
 * A reader is two pointers into a caller-owned buffer: nothing is copied or
 * allocated. Every function checks the end of the buffer, and on error the
 * cursor is left unchanged (protozero's strong guarantee). The varint fast
 * path is inline here because the tile decoder calls it for every field,
 * tag and geometry integer. */
#ifndef MLY_PBF_H
#define MLY_PBF_H

#include "mly/common.h"

/* Wire types (protobuf encoding guide). 3 and 4 (groups) and 6 and 7 do
 * not exist in proto3 / MVT and are rejected. */
enum pbf_wire {
  PBF_WIRE_VARINT = 0,
  PBF_WIRE_I64 = 1,
  PBF_WIRE_LEN = 2,
  PBF_WIRE_I32 = 5
};

/* Status of the low-level varint readers */
enum pbf_varint_rc {
  PBF_VARINT_OK = 0,
  PBF_VARINT_TRUNCATED = -1, /* the buffer ended inside the varint */
  PBF_VARINT_TOOLONG = -2    /* more than 10 bytes, or bits beyond 64 */
};

struct pbf_reader {
  const uint8_t *p;   /* next unread byte */
  const uint8_t *end; /* one past the last byte */
};

/* One field as read by pbf_next(). */
struct pbf_field {
  uint32_t num;        /* field number, 1 .. 2^29-1 */
  enum pbf_wire wire;  /* wire type */
  uint64_t u;          /* VARINT: the value; I64/I32: the raw little-endian bits */
  const uint8_t *data; /* LEN: the payload (borrowed) */
  size_t n;            /* LEN: payload length */
};

/* Internal: the multi-byte varint path, out of line. Same contract as
 * pbf_read_varint(). */
int mly__pbf_varint_slow(const uint8_t **pp, const uint8_t *end, uint64_t *out);

/* Read one varint at *pp (not past end) into *out and advance *pp.
 * Returns PBF_VARINT_OK or a negative enum pbf_varint_rc, leaving *pp and
 * *out unchanged. */
static inline int pbf_read_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
  const uint8_t *p = *pp;
  /* Most tag indexes, command integers and small deltas fit in one byte */
  if(p < end && *p < 0x80) {
    *out = *p;
    *pp = p + 1;
    return PBF_VARINT_OK;
  }
  /* and value indexes of a dense layer in two */
  if(end - p >= 2 && p[1] < 0x80) {
    *out = (uint64_t)(p[0] & 0x7F) | (uint64_t)p[1] << 7;
    *pp = p + 2;
    return PBF_VARINT_OK;
  }
  return mly__pbf_varint_slow(pp, end, out);
}

/* Zigzag decoding (protobuf sint32/sint64). Written on unsigned values so
 * that no input can overflow a signed type. */
static inline int64_t pbf_zigzag64(uint64_t u)
{
  return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static inline int32_t pbf_zigzag32(uint32_t u)
{
  return (int32_t)(u >> 1) ^ -(int32_t)(u & 1);
}

/* Reinterpret fixed-width bits as IEEE floats */
double pbf_double(uint64_t bits);
float pbf_float(uint32_t bits);

/* Reinterpret a uint64 as two's complement int64 without relying on
 * implementation-defined conversion (protobuf int64/int32 fields) */
static inline int64_t pbf_int64(uint64_t u)
{
  return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

void pbf_reader_init(struct pbf_reader *r, const void *data, size_t n);

/* Internal: the general path of pbf_next(), out of line. */
int mly__pbf_next_slow(struct pbf_reader *r, struct pbf_field *f, struct mly_err *err)
    MLY_WARN_UNUSED;

/* Read the next field: its key and, depending on the wire type, its varint
 * value, its fixed-width bits or its length-delimited payload. Fields are
 * thereby skipped simply by ignoring them. Returns 1 with *f filled, 0 at
 * the end of the buffer, or -1 with err filled (a lowercase message such
 * as "truncated varint", "invalid field number 0", "unexpected wire type 6
 * (field 2)" or "length 900 of field 2 past end of buffer (12 bytes left)",
 * to which callers append their context); on -1, r is unchanged. */
static inline MLY_WARN_UNUSED int pbf_next(struct pbf_reader *r, struct pbf_field *f,
                                           struct mly_err *err)
{
  const uint8_t *p = r->p;
  if(p >= r->end)
    return 0;
  /* Fast path, inline: a one-byte key (field 1..15) with a one-byte value
   * or length, which is nearly every field of a tile's features */
  if(r->end - p >= 2 && p[0] >= 0x08 && p[0] < 0x80 && p[1] < 0x80) {
    unsigned wire = p[0] & 7;
    if(wire == PBF_WIRE_VARINT) {
      f->num = p[0] >> 3;
      f->wire = PBF_WIRE_VARINT;
      f->u = p[1];
      f->data = NULL;
      f->n = 0;
      r->p = p + 2;
      return 1;
    }
    if(wire == PBF_WIRE_LEN && p[1] <= r->end - p - 2) {
      f->num = p[0] >> 3;
      f->wire = PBF_WIRE_LEN;
      f->u = 0;
      f->data = p + 2;
      f->n = p[1];
      r->p = p + 2 + p[1];
      return 1;
    }
  }
  return mly__pbf_next_slow(r, f, err);
}

/* Text for a negative pbf_read_varint() result, for error messages */
const char *pbf_varint_strerror(int rc);

#endif
