/* seqfeat.c -- point feature properties to a compact sequence record */
#include "mly/seqfeat.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mly/featread.h"
#include "mly/image.h"
#include "mly/jsonw.h"

/* A string or integer value as text in buf (cap bytes): *n (OUT) its
 * length; false when v is neither or is "" */
static bool text_of(const json_t *v, char *buf, size_t cap, const char **p, size_t *n)
{
  if(json_is_string(v)) {
    *p = json_string_value(v);
    *n = json_string_length(v);
    return *n > 0;
  }
  if(json_is_integer(v)) {
    int k = snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    *p = buf;
    *n = (size_t)k;
    return true;
  }
  return false;
}

static enum mly_rc read_id(struct strtab *strings, const json_t *v, struct seq_point *out)
{
  if(json_is_integer(v) && json_integer_value(v) >= 0) {
    out->flags |= SEQP_ID_KNOWN;
    out->id = (uint64_t)json_integer_value(v);
    return MLY_OK;
  }
  if(!json_is_string(v) || json_string_length(v) == 0)
    return MLY_OK;
  const char *s = json_string_value(v);
  size_t n = json_string_length(v);
  /* canonical digits are a number id, as image.c reads a tile's */
  if((n == 1 || s[0] != '0') && image_parse_u64(s, n, &out->id)) {
    out->flags |= SEQP_ID_KNOWN;
    return MLY_OK;
  }
  uint32_t idx;
  enum mly_rc rc = strtab_intern(strings, s, n, &idx);
  if(rc)
    return rc;
  out->flags |= SEQP_ID_KNOWN | SEQP_ID_STR;
  out->id = idx;
  return MLY_OK;
}

static void read_captured_at(const json_t *v, struct seq_point *out)
{
  int64_t t;
  bool known = false;
  if(json_is_integer(v)) {
    t = json_integer_value(v);
    known = true;
  } else if(json_is_real(v)) {
    double d = json_real_value(v);
    if(d == floor(d) && d >= -9.2e18 && d <= 9.2e18) {
      t = (int64_t)d;
      known = true;
    }
  } else if(json_is_string(v)) {
    known = image_parse_i64(json_string_value(v), json_string_length(v), &t);
  }
  if(known) {
    out->flags |= SEQP_CAPTURED_KNOWN;
    out->captured_at = t;
  }
}

static void read_is_pano(const json_t *v, struct seq_point *out)
{
  const char *s = json_string_value(v);
  if(json_is_boolean(v) || (s && (!strcmp(s, "true") || !strcmp(s, "false")))) {
    out->flags |= SEQP_PANO_KNOWN;
    if(json_is_true(v) || (s && !strcmp(s, "true")))
      out->flags |= SEQP_PANO;
  }
}

enum mly_rc seqfeat_point(struct strtab *strings, const struct feature *f, struct seq_point *out,
                          enum seqfeat_what *what, struct mly_err *err)
{
  memset(out, 0, sizeof(*out));
  const json_t *g = f->geometry;
  const char *type = json_string_value(json_object_get(g, "type"));
  if(!g || !type || strcmp(type, "Point")) {
    *what = SEQFEAT_NOT_POINT;
    return MLY_OK;
  }
  double x, y;
  if(!feature_position(json_object_get(g, "coordinates"), &x, &y))
    return mly_err_set(err, MLY_EFORMAT, "feature %llu: the point's coordinates are not a "
                       "longitude and a latitude", (unsigned long long)f->index);
  char buf[32];
  const char *p;
  size_t n;
  if(!text_of(json_object_get(f->properties, "sequence_id"), buf, sizeof(buf), &p, &n)) {
    *what = SEQFEAT_NO_SEQUENCE;
    return MLY_OK;
  }
  enum mly_rc rc = strtab_intern(strings, p, n, &out->seq);
  if(!rc && text_of(json_object_get(f->properties, "organization_id"), buf, sizeof(buf), &p, &n)) {
    rc = strtab_intern(strings, p, n, &out->org);
    out->org++;
  }
  if(!rc)
    rc = read_id(strings, json_object_get(f->properties, "id"), out);
  if(rc)
    return mly_err_set(err, rc, "feature %llu: cannot keep its strings: %s",
                       (unsigned long long)f->index, mly_strerror(rc));
  read_captured_at(json_object_get(f->properties, "captured_at"), out);
  read_is_pano(json_object_get(f->properties, "is_pano"), out);
  struct jsonw_pos pos;
  jsonw_pos_pack(&pos, x, y);
  seq_point_at(out, &pos);
  *what = SEQFEAT_KEPT;
  return MLY_OK;
}
