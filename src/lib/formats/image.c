/* image.c -- typed Mapillary image properties from MVT values, and their GeoJSON and CSV text */
#include "mly/image.h"
#include "mly/csvw.h"
#include "mly/jsonw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TWO_POW_24 16777216.0
#define TWO_POW_53 9007199254740992.0
#define TWO_POW_64 18446744073709551616.0

void image_keys_init(struct image_keys *k)
{
  k->field = NULL;
  k->canon = NULL;
  k->cap = 0;
}

void image_keys_cleanup(struct image_keys *k)
{
  free(k->field);
  free(k->canon);
  image_keys_init(k);
}

static enum image_field field_of_key(struct mly_view key)
{
  static const struct {
    const char *name;
    enum image_field field;
  } known[] = {
    {"id", IMAGE_ID},
    {"sequence_id", IMAGE_SEQUENCE_ID},
    {"captured_at", IMAGE_CAPTURED_AT},
    {"compass_angle", IMAGE_COMPASS_ANGLE},
    {"is_pano", IMAGE_IS_PANO},
    {"organization_id", IMAGE_ORGANIZATION_ID},
  };
  for(size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
    if(mly_view_eq(key, known[i].name))
      return known[i].field;
  return IMAGE_EXTRA;
}

static int cmp_view(struct mly_view a, struct mly_view b)
{
  size_t n = a.n < b.n ? a.n : b.n;
  int c = n ? memcmp(a.p, b.p, n) : 0;
  return c ? c : (a.n > b.n) - (a.n < b.n);
}

/* keys order by text, then by index: equal texts end up side by side with
 * the first index leading */
static int qcmp_key(const void *pa, const void *pb, void *keys)
{
  const struct mly_view *kv = keys;
  uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
  int c = cmp_view(kv[a], kv[b]);
  return c ? c : (a > b) - (a < b);
}

/* canon[i]: the first index whose key has the text of key i (a layer may
 * repeat a key; the first tag with a given key text wins) */
static enum mly_rc map_canonical_keys(uint32_t *canon, const struct mvt_index *idx)
{
  size_t n = idx->nkeys;
  for(size_t i = 0; i < n; i++)
    canon[i] = (uint32_t)i;
  /* the usual layer has a handful of distinct keys: compare them pairwise;
   * a long key table is sorted instead */
  if(n <= 32) {
    for(size_t i = 1; i < n; i++)
      for(size_t j = 0; j < i; j++)
        if(canon[j] == j && cmp_view(idx->keys[i], idx->keys[j]) == 0) {
          canon[i] = (uint32_t)j;
          break;
        }
    return MLY_OK;
  }
  uint32_t *perm = malloc(n * sizeof(*perm));
  if(!perm)
    return MLY_ENOMEM;
  memcpy(perm, canon, n * sizeof(*perm));
  qsort_r(perm, n, sizeof(*perm), qcmp_key, idx->keys);
  for(size_t i = 0; i < n;) {
    size_t j = i + 1;
    while(j < n && cmp_view(idx->keys[perm[i]], idx->keys[perm[j]]) == 0)
      j++;
    for(size_t r = i; r < j; r++)
      canon[perm[r]] = perm[i];
    i = j;
  }
  free(perm);
  return MLY_OK;
}

enum mly_rc image_keys_map(struct image_keys *k, const struct mvt_index *idx)
{
  if(idx->nkeys > k->cap) {
    uint8_t *nf = realloc(k->field, idx->nkeys);
    if(!nf)
      return MLY_ENOMEM;
    k->field = nf;
    uint32_t *nc = realloc(k->canon, idx->nkeys * sizeof(*nc));
    if(!nc)
      return MLY_ENOMEM;
    k->canon = nc;
    k->cap = idx->nkeys;
  }
  for(size_t i = 0; i < idx->nkeys; i++)
    k->field[i] = (uint8_t)field_of_key(idx->keys[i]);
  return map_canonical_keys(k->canon, idx);
}

bool image_parse_u64(const char *p, size_t n, uint64_t *out)
{
  if(n == 0 || n > 20)
    return false;
  uint64_t v = 0;
  for(size_t i = 0; i < n; i++) {
    if(p[i] < '0' || p[i] > '9')
      return false;
    uint64_t d = (uint64_t)(p[i] - '0');
    if(v > (UINT64_MAX - d) / 10)
      return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

bool image_parse_i64(const char *p, size_t n, int64_t *out)
{
  bool neg = n > 0 && p[0] == '-';
  uint64_t u;
  if(!image_parse_u64(p + neg, n - neg, &u))
    return false;
  if(neg) {
    if(u > (uint64_t)INT64_MAX + 1)
      return false;
    *out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
  }
  else {
    if(u > (uint64_t)INT64_MAX)
      return false;
    *out = (int64_t)u;
  }
  return true;
}

/* strtod over a non-terminated view: finite, whole text consumed */
static bool parse_double_view(struct mly_view s, double *out)
{
  char tmp[64];
  if(s.n == 0 || s.n >= sizeof(tmp))
    return false;
  memcpy(tmp, s.p, s.n);
  tmp[s.n] = '\0';
  char *end;
  double d = strtod(tmp, &end);
  if(end != tmp + s.n || !isfinite(d))
    return false;
  *out = d;
  return true;
}

/* The number a value holds, if any (strings of numbers included) */
static bool value_as_double(const struct mvt_value *v, double *out)
{
  switch(v->type) {
  case MVT_VAL_FLOAT: *out = v->v.f; return isfinite(*out);
  case MVT_VAL_DOUBLE: *out = v->v.d; return isfinite(*out);
  case MVT_VAL_INT:
  case MVT_VAL_SINT: *out = (double)v->v.i; return true;
  case MVT_VAL_UINT: *out = (double)v->v.u; return true;
  case MVT_VAL_STRING: return parse_double_view(v->v.s, out);
  default: return false;
  }
}

/* A whole, non-negative double below 2^64 as the exact integer it holds */
static bool double_as_u64(double d, uint64_t *out)
{
  if(!(d >= 0) || d >= TWO_POW_64 || d != floor(d))
    return false;
  *out = (uint64_t)d;
  return true;
}

static void read_id(struct image *img, const struct mvt_value *v)
{
  switch(v->type) {
  case MVT_VAL_UINT:
    img->id_kind = IMAGE_ID_U64;
    img->id = v->v.u;
    break;
  case MVT_VAL_INT:
  case MVT_VAL_SINT:
    if(v->v.i >= 0) {
      img->id_kind = IMAGE_ID_U64;
      img->id = (uint64_t)v->v.i;
    }
    break;
  case MVT_VAL_FLOAT:
  case MVT_VAL_DOUBLE: {
    double d = v->type == MVT_VAL_FLOAT ? (double)v->v.f : v->v.d;
    if(double_as_u64(d, &img->id)) {
      img->id_kind = IMAGE_ID_U64;
      /* from 2^53 (2^24 for a float) up, one value stands for several
       * integers: 2^53 + 1 arrives as 2^53, so 2^53 itself is ambiguous */
      img->id_inexact = d >= (v->type == MVT_VAL_FLOAT ? TWO_POW_24 : TWO_POW_53);
    }
    break;
  }
  case MVT_VAL_STRING: {
    struct mly_view s = v->v.s;
    if(s.n == 0)
      break;
    /* canonical digits are a number id; anything else stays a string id */
    if((s.n == 1 || s.p[0] != '0') && image_parse_u64(s.p, s.n, &img->id))
      img->id_kind = IMAGE_ID_U64;
    else {
      img->id_kind = IMAGE_ID_STR;
      img->id_str = s;
    }
    break;
  }
  default:
    break;
  }
}

/* sequence_id / organization_id: text, or a number written as digits */
static void read_text(struct image_text *t, const struct mvt_value *v, uint32_t vi)
{
  uint64_t u;
  t->value = vi;
  switch(v->type) {
  case MVT_VAL_STRING:
    if(v->v.s.n) {
      t->known = true;
      t->v = v->v.s;
    }
    return;
  case MVT_VAL_UINT:
    t->v.n = jsonw_u64(t->num, v->v.u);
    break;
  case MVT_VAL_INT:
  case MVT_VAL_SINT:
    t->v.n = jsonw_i64(t->num, v->v.i);
    break;
  case MVT_VAL_FLOAT:
  case MVT_VAL_DOUBLE: {
    double d = v->type == MVT_VAL_FLOAT ? (double)v->v.f : v->v.d;
    if(!isfinite(d))
      return;
    if(double_as_u64(d, &u))
      t->v.n = jsonw_u64(t->num, u);
    else {
      char tmp[JSONW_NUM_MAX];
      size_t n = jsonw_double(tmp, d);
      if(n >= sizeof(t->num))
        return;
      memcpy(t->num, tmp, n + 1);
      t->v.n = n;
    }
    break;
  }
  default:
    return;
  }
  t->known = true;
  t->v.p = t->num;
}

static void read_captured_at(struct image *img, const struct mvt_value *v)
{
  double d;
  switch(v->type) {
  case MVT_VAL_INT:
  case MVT_VAL_SINT:
    img->captured_at = v->v.i;
    img->has_captured_at = true;
    return;
  case MVT_VAL_UINT:
    if(v->v.u <= (uint64_t)INT64_MAX) {
      img->captured_at = (int64_t)v->v.u;
      img->has_captured_at = true;
    }
    return;
  case MVT_VAL_STRING:
    if(image_parse_i64(v->v.s.p, v->v.s.n, &img->captured_at)) {
      img->has_captured_at = true;
      return;
    }
    /* fall through to a number written with a fraction or exponent */
    /* FALLTHROUGH */
  default:
    /* a fractional value keeps its whole milliseconds (floor) */
    if(value_as_double(v, &d) && d >= -9.2e18 && d <= 9.2e18) {
      img->captured_at = (int64_t)floor(d);
      img->has_captured_at = true;
    }
    return;
  }
}

static void read_is_pano(struct image *img, const struct mvt_value *v)
{
  switch(v->type) {
  case MVT_VAL_BOOL: img->is_pano = v->v.b; return;
  case MVT_VAL_INT:
  case MVT_VAL_SINT: img->is_pano = v->v.i != 0; return;
  case MVT_VAL_UINT: img->is_pano = v->v.u != 0; return;
  case MVT_VAL_STRING:
    if(mly_view_eq(v->v.s, "true") || mly_view_eq(v->v.s, "1"))
      img->is_pano = 1;
    else if(mly_view_eq(v->v.s, "false") || mly_view_eq(v->v.s, "0"))
      img->is_pano = 0;
    return;
  default: return;
  }
}

/* A pass-through tag: kept unless a tag before it had the same key text */
static void add_extra(struct image *img, uint32_t canon, uint32_t vi)
{
  if(img->nextras > IMAGE_MAX_EXTRAS)
    return;
  for(uint32_t i = 0; i < img->nextras; i++)
    if(img->extras[i].key == canon)
      return;
  if(img->nextras == IMAGE_MAX_EXTRAS) {
    img->nextras++; /* too many: image_write_* walk the tags instead */
    return;
  }
  img->extras[img->nextras].key = canon;
  img->extras[img->nextras].value = vi;
  img->nextras++;
}

enum mly_rc image_read(struct image *img, const struct mvt_feature *f, const struct mvt_index *idx,
                       const struct image_keys *keys, struct mly_err *err)
{
  memset(img, 0, sizeof(*img));
  img->is_pano = -1;
  img->feature = f;
  int64_t xy[2];
  size_t npoints = 0;
  enum mly_rc rc = mvt_decode_points(f, xy, 1, &npoints, err);
  if(rc == MLY_EFORMAT && npoints == 0) {
    /* a MultiPoint: take its first point (an image is one position) */
    int64_t many[2 * 64];
    rc = mvt_decode_points(f, many, 64, &npoints, err);
    if(rc == MLY_OK && npoints) {
      xy[0] = many[0];
      xy[1] = many[1];
    }
  }
  if(rc)
    return rc;
  if(npoints == 0)
    return mly_err_set(err, MLY_EFORMAT, "image feature without a point");
  img->px = xy[0];
  img->py = xy[1];

  /* first occurrence of a key wins */
  bool seen[IMAGE_ORGANIZATION_ID + 1] = {false};
  struct mvt_tag_iter it;
  uint32_t k, vi;
  int more;
  mvt_tags_begin(f, &it);
  while((more = mvt_tags_next(&it, &k, &vi, err)) == 1) {
    if(k >= idx->nkeys || vi >= idx->nvalues)
      return mly_err_set(err, MLY_EFORMAT, "tag index out of range in layer 'image'");
    enum image_field field = (enum image_field)keys->field[k];
    if(field == IMAGE_EXTRA) {
      add_extra(img, keys->canon[k], vi);
      continue;
    }
    if(seen[field])
      continue;
    seen[field] = true;
    const struct mvt_value *v = &idx->values[vi];
    switch(field) {
    case IMAGE_ID: read_id(img, v); break;
    case IMAGE_SEQUENCE_ID: read_text(&img->sequence_id, v, vi); break;
    case IMAGE_ORGANIZATION_ID: read_text(&img->organization_id, v, vi); break;
    case IMAGE_CAPTURED_AT: read_captured_at(img, v); break;
    case IMAGE_COMPASS_ANGLE:
      img->has_compass_angle = value_as_double(v, &img->compass_angle);
      break;
    case IMAGE_IS_PANO: read_is_pano(img, v); break;
    case IMAGE_EXTRA: break;
    }
  }
  return more < 0 ? MLY_EFORMAT : MLY_OK;
}

size_t image_id_text(const struct image *img, char *buf, size_t cap)
{
  if(img->id_kind == IMAGE_ID_U64)
    return jsonw_u64(buf, img->id);
  size_t n = 0;
  if(img->id_kind == IMAGE_ID_STR) {
    n = img->id_str.n < cap - 1 ? img->id_str.n : cap - 1;
    memcpy(buf, img->id_str.p, n);
  }
  buf[n] = '\0';
  return n;
}

/* Whether key (or the same key text at another index: a layer may repeat
 * a key) appears in a tag of f that starts before `before` */
static bool key_seen_before(const struct mvt_feature *f, const struct mvt_index *idx,
                            uint32_t key, const uint8_t *before)
{
  struct mvt_tag_iter it;
  uint32_t k, v;
  struct mly_view name = idx->keys[key];
  mvt_tags_begin(f, &it);
  while(it.p < before && mvt_tags_next(&it, &k, &v, NULL) == 1)
    if(k == key || (idx->keys[k].n == name.n && memcmp(idx->keys[k].p, name.p, name.n) == 0))
      return true;
  return false;
}

#define ADD_LIT(b, s) dbuf_add(b, s, sizeof(s) - 1)

static enum mly_rc write_extra(struct dbuf *b, struct mly_view key, const struct mvt_value *v)
{
  char num[JSONW_NUM_MAX];
  size_t n;
  enum mly_rc rc;
  double d = 0;
  switch(v->type) {
  case MVT_VAL_NONE: return MLY_OK;
  case MVT_VAL_FLOAT:
  case MVT_VAL_DOUBLE:
    d = v->type == MVT_VAL_FLOAT ? (double)v->v.f : v->v.d;
    if(!isfinite(d))
      return MLY_OK; /* JSON has no NaN or infinity: unknown, omitted */
    break;
  default: break;
  }
  if((rc = ADD_LIT(b, ",")) || (rc = jsonw_string(b, key.p, key.n)) || (rc = ADD_LIT(b, ":")))
    return rc;
  switch(v->type) {
  case MVT_VAL_STRING: return jsonw_string(b, v->v.s.p, v->v.s.n);
  case MVT_VAL_BOOL: return v->v.b ? ADD_LIT(b, "true") : ADD_LIT(b, "false");
  case MVT_VAL_INT:
  case MVT_VAL_SINT: n = jsonw_i64(num, v->v.i); break;
  case MVT_VAL_UINT: n = jsonw_u64(num, v->v.u); break;
  default: n = jsonw_double(num, d); break;
  }
  return dbuf_add(b, num, n);
}

/* Every pass-through property of img, each as ",key:value" */
static enum mly_rc write_extras(struct dbuf *b, const struct image *img,
                                const struct mvt_index *idx, const struct image_keys *keys)
{
  struct mvt_tag_iter it;
  uint32_t k, vi;
  enum mly_rc rc;
  if(img->nextras <= IMAGE_MAX_EXTRAS) {
    /* the key text of the first tag with it (canonical index) is the same */
    for(uint32_t i = 0; i < img->nextras; i++)
      if((rc = write_extra(b, idx->keys[img->extras[i].key], &idx->values[img->extras[i].value])))
        return rc;
    return MLY_OK;
  }
  mvt_tags_begin(img->feature, &it);
  const uint8_t *pos = it.p;
  while(mvt_tags_next(&it, &k, &vi, NULL) == 1) {
    /* image_read checked the indexes */
    if(keys->field[k] == IMAGE_EXTRA && !key_seen_before(img->feature, idx, k, pos)) {
      if((rc = write_extra(b, idx->keys[k], &idx->values[vi])))
        return rc;
    }
    pos = it.p;
  }
  return MLY_OK;
}

/* A longitude (a latitude when is_lat) as jsonw_coord writes it, also
 * packed into pos when pos is not NULL */
static size_t coord_text(char *num, double v, struct jsonw_pos *pos, bool is_lat)
{
  if(!pos)
    return jsonw_coord(num, v);
  return is_lat ? jsonw_coord_packed(num, v, &pos->lat, &pos->lat_form)
                : jsonw_coord_packed(num, v, &pos->lon, &pos->lon_form);
}

enum mly_rc image_write_geojson(struct dbuf *b, const struct image *img, double lon, double lat,
                                struct jsonw_pos *pos, const struct mvt_index *idx,
                                const struct image_keys *keys, const char *id_override)
{
  char num[JSONW_NUM_MAX];
  size_t n;
  enum mly_rc rc;
  if((rc = ADD_LIT(b, "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[")))
    return rc;
  n = coord_text(num, lon, pos, false);
  if((rc = dbuf_add(b, num, n)) || (rc = ADD_LIT(b, ",")))
    return rc;
  n = coord_text(num, lat, pos, true);
  if((rc = dbuf_add(b, num, n)) || (rc = ADD_LIT(b, "]},\"properties\":{")))
    return rc;

  /* each property is written with a leading comma; the first drops it */
  size_t props_start = b->n;
  if(id_override || img->id_kind != IMAGE_ID_NONE) {
    if((rc = ADD_LIT(b, ",\"id\":")))
      return rc;
    if(id_override)
      rc = jsonw_string(b, id_override, strlen(id_override));
    else if(img->id_kind == IMAGE_ID_U64) {
      n = jsonw_u64(num, img->id);
      rc = jsonw_string(b, num, n);
    }
    else
      rc = jsonw_string(b, img->id_str.p, img->id_str.n);
    if(rc)
      return rc;
  }
  if(img->sequence_id.known) {
    if((rc = ADD_LIT(b, ",\"sequence_id\":")) ||
       (rc = jsonw_string(b, img->sequence_id.v.p, img->sequence_id.v.n)))
      return rc;
  }
  if(img->has_captured_at) {
    n = jsonw_i64(num, img->captured_at);
    if((rc = ADD_LIT(b, ",\"captured_at\":")) || (rc = dbuf_add(b, num, n)))
      return rc;
  }
  if(img->has_compass_angle) {
    n = jsonw_double(num, img->compass_angle);
    if((rc = ADD_LIT(b, ",\"compass_angle\":")) || (rc = dbuf_add(b, num, n)))
      return rc;
  }
  if(img->is_pano >= 0) {
    if((rc = img->is_pano ? ADD_LIT(b, ",\"is_pano\":true") : ADD_LIT(b, ",\"is_pano\":false")))
      return rc;
  }
  if(img->organization_id.known) {
    if((rc = ADD_LIT(b, ",\"organization_id\":")) ||
       (rc = jsonw_string(b, img->organization_id.v.p, img->organization_id.v.n)))
      return rc;
  }
  if((rc = write_extras(b, img, idx, keys)))
    return rc;
  if(b->n > props_start) {
    /* drop the first property's leading comma */
    memmove(b->p + props_start, b->p + props_start + 1, b->n - props_start - 1);
    b->n--;
  }
  return ADD_LIT(b, "}}");
}

/* An image_text as a CSV cell; empty when unknown */
static enum mly_rc csv_text(struct dbuf *b, const struct image_text *t)
{
  return t->known ? csvw_field(b, t->v.p, t->v.n) : MLY_OK;
}

enum mly_rc image_write_csv(struct dbuf *b, const struct image *img, double lon, double lat,
                            struct jsonw_pos *pos, const struct mvt_index *idx,
                            const struct image_keys *keys, const char *id_override)
{
  char num[JSONW_NUM_MAX];
  size_t n;
  enum mly_rc rc;
  /* id: the same text as the GeoJSON "id" (a string there, any text here) */
  if(id_override)
    rc = csvw_field(b, id_override, strlen(id_override));
  else if(img->id_kind == IMAGE_ID_U64) {
    n = jsonw_u64(num, img->id);
    rc = dbuf_add(b, num, n);
  }
  else if(img->id_kind == IMAGE_ID_STR)
    rc = csvw_field(b, img->id_str.p, img->id_str.n);
  else
    rc = MLY_OK;
  if(rc || (rc = ADD_LIT(b, ",")))
    return rc;
  n = coord_text(num, lon, pos, false);
  if((rc = dbuf_add(b, num, n)) || (rc = ADD_LIT(b, ",")))
    return rc;
  n = coord_text(num, lat, pos, true);
  if((rc = dbuf_add(b, num, n)) || (rc = ADD_LIT(b, ",")))
    return rc;
  if((rc = csv_text(b, &img->sequence_id)) || (rc = ADD_LIT(b, ",")))
    return rc;
  if(img->has_captured_at) {
    n = jsonw_i64(num, img->captured_at);
    if((rc = dbuf_add(b, num, n)))
      return rc;
  }
  if((rc = ADD_LIT(b, ",")))
    return rc;
  if(img->has_compass_angle) {
    n = jsonw_double(num, img->compass_angle);
    if((rc = dbuf_add(b, num, n)))
      return rc;
  }
  if((rc = ADD_LIT(b, ",")))
    return rc;
  if(img->is_pano >= 0 && (rc = img->is_pano ? ADD_LIT(b, "true") : ADD_LIT(b, "false")))
    return rc;
  if((rc = ADD_LIT(b, ",")) || (rc = csv_text(b, &img->organization_id)) ||
     (rc = ADD_LIT(b, ",")))
    return rc;
  /* properties: the extras as a JSON object, quoted in place (no copy) */
  size_t start = b->n;
  if((rc = write_extras(b, img, idx, keys)))
    return rc;
  if(b->n == start)
    return MLY_OK; /* none: an empty cell */
  b->p[start] = '{'; /* the first extra's leading comma opens the object */
  if((rc = ADD_LIT(b, "}")))
    return rc;
  return csvw_quote_from(b, start);
}
