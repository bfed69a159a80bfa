/* pbf.c -- protobuf wire-format reader: slow varint path, field keys, fixed-width values */
#include "mly/pbf.h"

#include <string.h>

int mly__pbf_varint_slow(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
  const uint8_t *p = *pp;
  uint64_t v = 0;
  /* A uint64 needs at most 10 bytes of 7 bits; the 10th may only hold the
   * top bit. Anything longer is over-long (protozero's varint_too_long). */
  for(unsigned shift = 0; shift < 70; shift += 7) {
    if(p >= end)
      return PBF_VARINT_TRUNCATED;
    uint8_t b = *p++;
    if(shift == 63 && b > 1)
      return PBF_VARINT_TOOLONG;
    v |= (uint64_t)(b & 0x7f) << shift;
    if(b < 0x80) {
      *out = v;
      *pp = p;
      return PBF_VARINT_OK;
    }
  }
  return PBF_VARINT_TOOLONG;
}

const char *pbf_varint_strerror(int rc)
{
  switch(rc) {
  case PBF_VARINT_OK: return "ok";
  case PBF_VARINT_TRUNCATED: return "truncated varint";
  case PBF_VARINT_TOOLONG: return "over-long varint";
  }
  return "bad varint";
}

double pbf_double(uint64_t bits)
{
  double d;
  _Static_assert(sizeof(d) == sizeof(bits), "double is not 64 bits");
  memcpy(&d, &bits, sizeof(d));
  return d;
}

float pbf_float(uint32_t bits)
{
  float f;
  _Static_assert(sizeof(f) == sizeof(bits), "float is not 32 bits");
  memcpy(&f, &bits, sizeof(f));
  return f;
}

void pbf_reader_init(struct pbf_reader *r, const void *data, size_t n)
{
  /* NULL + 0 is undefined behaviour in C, so an empty buffer stays NULL */
  r->p = data;
  r->end = data ? r->p + n : r->p;
}

/* Little-endian fixed-width value of nbytes at p (bounds already checked).
 * Assembled byte by byte so host byte order and alignment do not matter. */
static uint64_t read_le(const uint8_t *p, unsigned nbytes)
{
  uint64_t v = 0;
  for(unsigned i = 0; i < nbytes; i++)
    v |= (uint64_t)p[i] << (8 * i);
  return v;
}

int mly__pbf_next_slow(struct pbf_reader *r, struct pbf_field *f, struct mly_err *err)
{
  const uint8_t *p = r->p;
  uint64_t key, len;
  int vrc;

  if(p >= r->end)
    return 0;
  vrc = pbf_read_varint(&p, r->end, &key);
  if(vrc) {
    mly_err_set(err, MLY_EFORMAT, "%s", pbf_varint_strerror(vrc));
    return -1;
  }
  /* Field numbers are 29 bits; 0 is never valid (protobuf encoding guide) */
  if((key >> 3) == 0 || (key >> 3) > 0x1fffffff) {
    mly_err_set(err, MLY_EFORMAT, "invalid field number %llu",
                (unsigned long long)(key >> 3));
    return -1;
  }
  f->num = (uint32_t)(key >> 3);
  f->u = 0;
  f->data = NULL;
  f->n = 0;
  switch(key & 7) {
  case PBF_WIRE_VARINT:
    vrc = pbf_read_varint(&p, r->end, &f->u);
    if(vrc) {
      mly_err_set(err, MLY_EFORMAT, "%s (field %u)", pbf_varint_strerror(vrc),
                  (unsigned)f->num);
      return -1;
    }
    f->wire = PBF_WIRE_VARINT;
    break;
  case PBF_WIRE_I64:
    if(r->end - p < 8) {
      mly_err_set(err, MLY_EFORMAT, "truncated fixed64 (field %u)", (unsigned)f->num);
      return -1;
    }
    f->u = read_le(p, 8);
    p += 8;
    f->wire = PBF_WIRE_I64;
    break;
  case PBF_WIRE_LEN:
    vrc = pbf_read_varint(&p, r->end, &len);
    if(vrc) {
      mly_err_set(err, MLY_EFORMAT, "%s (length of field %u)", pbf_varint_strerror(vrc),
                  (unsigned)f->num);
      return -1;
    }
    /* compare in uint64 so a huge length cannot wrap a pointer */
    if(len > (uint64_t)(r->end - p)) {
      mly_err_set(err, MLY_EFORMAT, "length %llu of field %u past end of buffer (%zu bytes left)",
                  (unsigned long long)len, (unsigned)f->num, (size_t)(r->end - p));
      return -1;
    }
    f->data = p;
    f->n = (size_t)len;
    p += len;
    f->wire = PBF_WIRE_LEN;
    break;
  case PBF_WIRE_I32:
    if(r->end - p < 4) {
      mly_err_set(err, MLY_EFORMAT, "truncated fixed32 (field %u)", (unsigned)f->num);
      return -1;
    }
    f->u = read_le(p, 4);
    p += 4;
    f->wire = PBF_WIRE_I32;
    break;
  default:
    /* 3 and 4 are deprecated groups, 6 and 7 are undefined */
    mly_err_set(err, MLY_EFORMAT, "unexpected wire type %u (field %u)",
                (unsigned)(key & 7), (unsigned)f->num);
    return -1;
  }
  r->p = p;
  return 1;
}
