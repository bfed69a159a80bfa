/* mvt.c -- zero-copy Mapbox Vector Tile 2.x decoder: layers, features, tags, values, geometry */
#include "mly/mvt.h"
#include "mly/pbf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Geometry command ids (spec 4.3.3) */
enum { CMD_MOVETO = 1, CMD_LINETO = 2, CMD_CLOSEPATH = 7 };

/* First index array sizes; they then double up to their caps */
#define INDEX_FIRST_CAP 64

/* ---- error context ----------------------------------------------------- */

/* A layer name fit for a one-line message: printable ASCII only, at most
 * 64 bytes, since names come from the tile and may hold anything. */
static void name_label(struct mly_view name, char *buf, size_t cap)
{
  size_t n = name.n, o = 0;
  bool cut = false;
  if(n > 64) {
    n = 64;
    cut = true;
  }
  for(size_t i = 0; i < n && o + 1 < cap; i++) {
    unsigned char c = (unsigned char)name.p[i];
    buf[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
  }
  if(cut && o + 4 < cap) {
    memcpy(buf + o, "...", 3);
    o += 3;
  }
  buf[o] = '\0';
}

/* err = "<why> in layer '<name>'" (or "in layer" while the name is not
 * known yet). why may be err->msg itself. Always returns -1. */
static int fail_in_layer(struct mly_err *err, enum mly_rc rc, const char *why,
                         const struct mly_view *name)
{
  char label[80];
  char msg[sizeof(err->msg)];
  if(!err)
    return -1;
  snprintf(msg, sizeof(msg), "%s", why);
  if(name) {
    name_label(*name, label, sizeof(label));
    mly_err_set(err, rc, "%s in layer '%s'", msg, label);
  }
  else {
    mly_err_set(err, rc, "%s in layer", msg);
  }
  return -1;
}

/* ---- tile and layer ---------------------------------------------------- */

void mvt_tile_init(struct mvt_tile *t, const void *data, size_t n)
{
  /* NULL + 0 is undefined behaviour in C, so an empty tile stays NULL */
  t->p = data;
  t->end = data ? t->p + n : t->p;
}

/* A uint32 layer field (extent, version) held in a varint */
static int layer_uint32(const struct pbf_field *f, const char *what, uint32_t *out,
                        struct mly_err *err)
{
  if(f->wire != PBF_WIRE_VARINT) {
    mly_err_set(err, MLY_EFORMAT, "unexpected wire type %u for %s", (unsigned)f->wire, what);
    return -1;
  }
  if(f->u > UINT32_MAX) {
    mly_err_set(err, MLY_EFORMAT, "%s %llu out of range", what, (unsigned long long)f->u);
    return -1;
  }
  *out = (uint32_t)f->u;
  return 0;
}

/* Scan a whole layer message: validate its field structure, pick up name,
 * extent and version (which may follow the features), apply defaults. */
static int layer_parse(const uint8_t *data, size_t n, struct mvt_layer *out,
                       struct mly_err *err)
{
  struct mvt_layer l;
  struct pbf_reader r;
  struct pbf_field f;
  struct mly_err why;
  bool has_name = false;
  int rc;

  memset(&l, 0, sizeof(l));
  l.version = 1; /* spec 4.1: default 1 */
  l.extent = 4096; /* spec 4.1: default 4096 */
  pbf_reader_init(&r, data, n);
  l.begin = r.p;
  l.end = r.end;
  while((rc = pbf_next(&r, &f, &why)) > 0) {
    switch(f.num) {
    case MVT_LAYER_NAME:
    case MVT_LAYER_FEATURES:
    case MVT_LAYER_KEYS:
    case MVT_LAYER_VALUES:
      if(f.wire != PBF_WIRE_LEN) {
        mly_err_set(&why, MLY_EFORMAT, "unexpected wire type %u (field %u)",
                    (unsigned)f.wire, (unsigned)f.num);
        rc = -1;
        break;
      }
      if(f.num == MVT_LAYER_NAME) {
        l.name.p = (const char *)f.data;
        l.name.n = f.n;
        has_name = true;
      }
      break;
    case MVT_LAYER_EXTENT:
      rc = layer_uint32(&f, "extent", &l.extent, &why);
      break;
    case MVT_LAYER_VERSION:
      rc = layer_uint32(&f, "version", &l.version, &why);
      break;
    default:
      break; /* unknown field: skipped */
    }
    if(rc < 0)
      break;
  }
  if(rc < 0)
    return fail_in_layer(err, MLY_EFORMAT, why.msg, has_name ? &l.name : NULL);
  if(!has_name) {
    mly_err_set(err, MLY_EFORMAT, "layer without name (spec 4.1)");
    return -1;
  }
  /* an extent of 0 would divide by zero in every pixel conversion */
  if(l.extent == 0)
    return fail_in_layer(err, MLY_EFORMAT, "invalid extent 0", &l.name);
  l.feat_p = l.begin;
  *out = l;
  return 0;
}

int mvt_next_layer(struct mvt_tile *t, struct mvt_layer *layer, struct mly_err *err)
{
  struct pbf_reader r;
  struct pbf_field f;
  struct mly_err why;
  int rc;

  r.p = t->p;
  r.end = t->end;
  while((rc = pbf_next(&r, &f, &why)) > 0) {
    if(f.num != MVT_TILE_LAYERS)
      continue; /* unknown field: skipped */
    if(f.wire != PBF_WIRE_LEN) {
      mly_err_set(err, MLY_EFORMAT, "unexpected wire type %u for layer in tile",
                  (unsigned)f.wire);
      return -1;
    }
    if(layer_parse(f.data, f.n, layer, err))
      return -1;
    t->p = r.p;
    return 1;
  }
  if(rc < 0) {
    mly_err_set(err, MLY_EFORMAT, "%s in tile", why.msg);
    return -1;
  }
  t->p = r.p;
  return 0;
}

/* ---- keys and values --------------------------------------------------- */

void mvt_index_init(struct mvt_index *idx)
{
  memset(idx, 0, sizeof(*idx));
}

void mvt_index_cleanup(struct mvt_index *idx)
{
  free(idx->keys);
  free(idx->values);
  mvt_index_init(idx);
}

/* Make room for one more element in an array of cap elements: double,
 * never beyond max. Returns MLY_OK, MLY_ETOOBIG or MLY_ENOMEM. */
static enum mly_rc grow(void **arr, size_t *cap, size_t used, size_t elem, size_t max)
{
  size_t ncap;
  void *na;
  if(used < *cap)
    return MLY_OK;
  if(used >= max)
    return MLY_ETOOBIG;
  ncap = *cap ? *cap * 2 : INDEX_FIRST_CAP;
  if(ncap > max)
    ncap = max;
  na = realloc(*arr, ncap * elem);
  if(!na)
    return MLY_ENOMEM;
  *arr = na;
  *cap = ncap;
  return MLY_OK;
}

/* Decode one Value message (spec 4.1, vector_tile.proto). The last field
 * read wins; unknown fields are skipped; none at all gives MVT_VAL_NONE. */
static int value_parse(const uint8_t *data, size_t n, struct mvt_value *out,
                       struct mly_err *err)
{
  struct pbf_reader r;
  struct pbf_field f;
  struct mvt_value v;
  enum pbf_wire want;
  int rc;

  memset(&v, 0, sizeof(v));
  v.type = MVT_VAL_NONE;
  pbf_reader_init(&r, data, n);
  while((rc = pbf_next(&r, &f, err)) > 0) {
    switch(f.num) {
    case MVT_VALUE_STRING: want = PBF_WIRE_LEN; break;
    case MVT_VALUE_FLOAT: want = PBF_WIRE_I32; break;
    case MVT_VALUE_DOUBLE: want = PBF_WIRE_I64; break;
    case MVT_VALUE_INT:
    case MVT_VALUE_UINT:
    case MVT_VALUE_SINT:
    case MVT_VALUE_BOOL: want = PBF_WIRE_VARINT; break;
    default: continue; /* unknown field: skipped */
    }
    if(f.wire != want) {
      mly_err_set(err, MLY_EFORMAT, "unexpected wire type %u in value (field %u)",
                  (unsigned)f.wire, (unsigned)f.num);
      return -1;
    }
    switch(f.num) {
    case MVT_VALUE_STRING:
      v.type = MVT_VAL_STRING;
      v.v.s.p = (const char *)f.data;
      v.v.s.n = f.n;
      break;
    case MVT_VALUE_FLOAT:
      v.type = MVT_VAL_FLOAT;
      v.v.f = pbf_float((uint32_t)f.u);
      break;
    case MVT_VALUE_DOUBLE:
      v.type = MVT_VAL_DOUBLE;
      v.v.d = pbf_double(f.u);
      break;
    case MVT_VALUE_INT:
      v.type = MVT_VAL_INT;
      v.v.i = pbf_int64(f.u);
      break;
    case MVT_VALUE_UINT:
      v.type = MVT_VAL_UINT;
      v.v.u = f.u;
      break;
    case MVT_VALUE_SINT:
      v.type = MVT_VAL_SINT;
      v.v.i = pbf_zigzag64(f.u);
      break;
    case MVT_VALUE_BOOL:
      v.type = MVT_VAL_BOOL;
      v.v.b = f.u != 0;
      break;
    }
  }
  if(rc < 0) {
    if(err) {
      char why[sizeof(err->msg)];
      snprintf(why, sizeof(why), "%s", err->msg);
      mly_err_set(err, MLY_EFORMAT, "%s in value", why);
    }
    return -1;
  }
  *out = v;
  return 0;
}

enum mly_rc mvt_layer_index(const struct mvt_layer *layer, struct mvt_index *idx,
                            struct mly_err *err)
{
  struct pbf_reader r;
  struct pbf_field f;
  struct mly_err why;
  enum mly_rc rc = MLY_OK;
  int nrc;

  idx->nkeys = 0;
  idx->nvalues = 0;
  r.p = layer->begin;
  r.end = layer->end;
  while((nrc = pbf_next(&r, &f, &why)) > 0) {
    if(f.num != MVT_LAYER_KEYS && f.num != MVT_LAYER_VALUES)
      continue;
    if(f.wire != PBF_WIRE_LEN) {
      mly_err_set(&why, MLY_EFORMAT, "unexpected wire type %u (field %u)",
                  (unsigned)f.wire, (unsigned)f.num);
      rc = MLY_EFORMAT;
      break;
    }
    if(f.num == MVT_LAYER_KEYS) {
      rc = grow((void **)&idx->keys, &idx->keys_cap, idx->nkeys, sizeof(*idx->keys),
                MVT_MAX_KEYS);
      if(rc) {
        mly_err_set(&why, rc, rc == MLY_ETOOBIG ? "more than %u keys" : "no memory for %u keys",
                    (unsigned)MVT_MAX_KEYS);
        break;
      }
      idx->keys[idx->nkeys].p = (const char *)f.data;
      idx->keys[idx->nkeys].n = f.n;
      idx->nkeys++;
    }
    else {
      rc = grow((void **)&idx->values, &idx->values_cap, idx->nvalues, sizeof(*idx->values),
                MVT_MAX_VALUES);
      if(rc) {
        mly_err_set(&why, rc,
                    rc == MLY_ETOOBIG ? "more than %u values" : "no memory for %u values",
                    (unsigned)MVT_MAX_VALUES);
        break;
      }
      if(value_parse(f.data, f.n, &idx->values[idx->nvalues], &why)) {
        rc = MLY_EFORMAT;
        break;
      }
      idx->nvalues++;
    }
  }
  if(nrc < 0)
    rc = MLY_EFORMAT;
  if(rc) {
    /* never leave a half-filled index behind */
    idx->nkeys = 0;
    idx->nvalues = 0;
    fail_in_layer(err, rc, why.msg, &layer->name);
  }
  return rc;
}

/* ---- features ---------------------------------------------------------- */

/* Decode one Feature message (spec 4.2) into *out. */
static int feature_parse(const uint8_t *data, size_t n, struct mvt_feature *out,
                         struct mly_err *err)
{
  struct pbf_reader r;
  struct pbf_field f;
  struct mvt_feature ft;
  bool has_tags = false, has_geom = false;
  int rc;

  pbf_reader_init(&r, data, n);
  memset(&ft, 0, sizeof(ft));
  ft.type = MVT_GEOM_UNKNOWN;
  /* empty ranges point into the tile, not at NULL, so that pointer
   * differences taken on them are always defined */
  ft.tags = ft.tags_end = r.p;
  ft.geom = ft.geom_end = r.p;
  while((rc = pbf_next(&r, &f, err)) > 0) {
    switch(f.num) {
    case MVT_FEATURE_ID:
      if(f.wire != PBF_WIRE_VARINT)
        goto bad_wire;
      ft.has_id = true;
      ft.id = f.u;
      break;
    case MVT_FEATURE_TAGS:
      if(f.wire != PBF_WIRE_LEN)
        goto bad_wire; /* spec 4.2: tags are packed */
      if(has_tags) {
        mly_err_set(err, MLY_EFORMAT, "duplicate tags");
        return -1;
      }
      has_tags = true;
      ft.tags = f.data;
      ft.tags_end = f.data + f.n;
      break;
    case MVT_FEATURE_TYPE:
      if(f.wire != PBF_WIRE_VARINT)
        goto bad_wire;
      if(f.u > MVT_GEOM_POLYGON) {
        mly_err_set(err, MLY_EFORMAT, "unknown geometry type %llu (spec 4.3.4)",
                    (unsigned long long)f.u);
        return -1;
      }
      ft.type = (enum mvt_geom_type)f.u;
      break;
    case MVT_FEATURE_GEOMETRY:
      if(f.wire != PBF_WIRE_LEN)
        goto bad_wire; /* spec 4.2: geometry is packed */
      if(has_geom) {
        mly_err_set(err, MLY_EFORMAT, "duplicate geometry");
        return -1;
      }
      has_geom = true;
      ft.geom = f.data;
      ft.geom_end = f.data + f.n;
      break;
    default:
      break; /* unknown field: skipped */
    }
  }
  if(rc < 0)
    return -1;
  if(!has_geom) {
    mly_err_set(err, MLY_EFORMAT, "missing geometry (spec 4.2)");
    return -1;
  }
  *out = ft;
  return 0;

bad_wire:
  mly_err_set(err, MLY_EFORMAT, "unexpected wire type %u (field %u)", (unsigned)f.wire,
              (unsigned)f.num);
  return -1;
}

int mvt_layer_next_feature(struct mvt_layer *layer, struct mvt_feature *f,
                           struct mly_err *err)
{
  struct pbf_reader r;
  struct pbf_field fld;
  struct mly_err why;
  int rc;

  r.p = layer->feat_p;
  r.end = layer->end;
  while((rc = pbf_next(&r, &fld, &why)) > 0) {
    if(fld.num != MVT_LAYER_FEATURES)
      continue; /* name, keys, values...: not features */
    if(fld.wire != PBF_WIRE_LEN) {
      mly_err_set(&why, MLY_EFORMAT, "unexpected wire type %u (field %u)",
                  (unsigned)fld.wire, (unsigned)fld.num);
      return fail_in_layer(err, MLY_EFORMAT, why.msg, &layer->name);
    }
    if(feature_parse(fld.data, fld.n, f, &why)) {
      char msg[sizeof(why.msg)];
      snprintf(msg, sizeof(msg), "%.200s in feature", why.msg);
      return fail_in_layer(err, MLY_EFORMAT, msg, &layer->name);
    }
    layer->feat_p = r.p;
    return 1;
  }
  if(rc < 0)
    return fail_in_layer(err, MLY_EFORMAT, why.msg, &layer->name);
  layer->feat_p = r.p;
  return 0;
}

/* ---- tags -------------------------------------------------------------- */

void mvt_tags_begin(const struct mvt_feature *f, struct mvt_tag_iter *it)
{
  it->p = f->tags;
  it->end = f->tags_end;
}

int mvt_tags_next(struct mvt_tag_iter *it, uint32_t *key, uint32_t *value,
                  struct mly_err *err)
{
  const uint8_t *p = it->p;
  uint64_t k, v;
  int vrc;

  if(p >= it->end)
    return 0;
  vrc = pbf_read_varint(&p, it->end, &k);
  if(vrc) {
    mly_err_set(err, MLY_EFORMAT, "%s in feature tags", pbf_varint_strerror(vrc));
    return -1;
  }
  /* spec 4.4: tags come in key/value pairs */
  if(p >= it->end) {
    mly_err_set(err, MLY_EFORMAT, "odd number of feature tags (spec 4.4)");
    return -1;
  }
  vrc = pbf_read_varint(&p, it->end, &v);
  if(vrc) {
    mly_err_set(err, MLY_EFORMAT, "%s in feature tags", pbf_varint_strerror(vrc));
    return -1;
  }
  if(k > UINT32_MAX || v > UINT32_MAX) {
    mly_err_set(err, MLY_EFORMAT, "feature tag index %llu out of range",
                (unsigned long long)(k > UINT32_MAX ? k : v));
    return -1;
  }
  *key = (uint32_t)k;
  *value = (uint32_t)v;
  it->p = p;
  return 1;
}

/* ---- geometry ---------------------------------------------------------- */

/* Walks a feature's packed geometry integers (spec 4.3). The cursor is
 * int64: each step adds an int32 and the number of steps is capped by
 * MVT_MAX_POINTS_PER_FEATURE, so it stays far below 2^63. */
struct geom_reader {
  const uint8_t *p, *end;
  int64_t x, y;
  const struct mvt_feature *f;
  struct mly_err *err;
};

static void geom_init(struct geom_reader *g, const struct mvt_feature *f, struct mly_err *err)
{
  g->p = f->geom;
  g->end = f->geom_end;
  g->x = 0;
  g->y = 0;
  g->f = f;
  g->err = err;
}

/* Format "<msg> in geometry of feature <id>" into g->err. Returns MLY_EFORMAT. */
static enum mly_rc geom_fail(struct geom_reader *g, const char *fmt, ...) MLY_PRINTF(2, 3);
static enum mly_rc geom_fail(struct geom_reader *g, const char *fmt, ...)
{
  char msg[200];
  va_list ap;
  if(!g->err)
    return MLY_EFORMAT;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if(g->f->has_id)
    return mly_err_set(g->err, MLY_EFORMAT, "%s in geometry of feature %llu", msg,
                       (unsigned long long)g->f->id);
  return mly_err_set(g->err, MLY_EFORMAT, "%s in geometry", msg);
}

/* Read a CommandInteger (spec 4.3.1) */
static enum mly_rc geom_command(struct geom_reader *g, uint32_t *id, uint32_t *count)
{
  uint64_t c;
  int vrc = pbf_read_varint(&g->p, g->end, &c);
  if(vrc)
    return geom_fail(g, "%s", pbf_varint_strerror(vrc));
  if(c > UINT32_MAX)
    return geom_fail(g, "command integer %llu out of range", (unsigned long long)c);
  *id = (uint32_t)(c & 7);
  *count = (uint32_t)(c >> 3);
  return MLY_OK;
}

/* Check that count parameter pairs can follow: every integer takes at
 * least one byte, so this rejects a huge count before any work. */
static enum mly_rc geom_check_room(struct geom_reader *g, const char *cmd, uint32_t count)
{
  if((uint64_t)count * 2 > (uint64_t)(g->end - g->p))
    return geom_fail(g, "%s count %u exceeds remaining geometry (%zu bytes)", cmd,
                     (unsigned)count, (size_t)(g->end - g->p));
  return MLY_OK;
}

/* Read one parameter pair (spec 4.3.2: zigzag deltas) and move the cursor */
static inline enum mly_rc geom_point(struct geom_reader *g, const char *cmd, uint32_t count)
{
  uint64_t dx, dy;
  int vrc;
  if(g->p >= g->end)
    return geom_fail(g, "%s count %u exceeds remaining geometry", cmd, (unsigned)count);
  vrc = pbf_read_varint(&g->p, g->end, &dx);
  if(!vrc) {
    if(g->p >= g->end)
      return geom_fail(g, "%s count %u exceeds remaining geometry", cmd, (unsigned)count);
    vrc = pbf_read_varint(&g->p, g->end, &dy);
  }
  if(vrc)
    return geom_fail(g, "%s", pbf_varint_strerror(vrc));
  if(dx > UINT32_MAX || dy > UINT32_MAX)
    return geom_fail(g, "parameter integer out of range");
  g->x += pbf_zigzag32((uint32_t)dx);
  g->y += pbf_zigzag32((uint32_t)dy);
  return MLY_OK;
}

enum mly_rc mvt_decode_points(const struct mvt_feature *f, int64_t *xy, size_t max,
                              size_t *n, struct mly_err *err)
{
  struct geom_reader g;
  enum mly_rc rc;
  size_t got = 0;
  uint32_t id, count;

  geom_init(&g, f, err);
  if(max > MVT_MAX_POINTS_PER_FEATURE)
    max = MVT_MAX_POINTS_PER_FEATURE;
  /* spec 4.3.4.2: a MoveTo with a count greater than 0 */
  if(g.p >= g.end)
    return geom_fail(&g, "empty point geometry (spec 4.3.4.2)");
  while(g.p < g.end) {
    rc = geom_command(&g, &id, &count);
    if(rc)
      return rc;
    if(id != CMD_MOVETO)
      return geom_fail(&g, "command %u in point geometry, expected MoveTo (spec 4.3.4.2)",
                       (unsigned)id);
    if(count == 0)
      return geom_fail(&g, "MoveTo count 0 in point geometry (spec 4.3.4.2)");
    if(count > max - got)
      return geom_fail(&g, "more than %zu points", max);
    rc = geom_check_room(&g, "MoveTo", count);
    if(rc)
      return rc;
    for(uint32_t i = 0; i < count; i++) {
      rc = geom_point(&g, "MoveTo", count);
      if(rc)
        return rc;
      xy[2 * got] = g.x;
      xy[2 * got + 1] = g.y;
      got++;
    }
  }
  *n = got;
  return MLY_OK;
}

enum mly_rc mvt_decode_geometry(const struct mvt_feature *f, mvt_vertex_fn fn, void *user,
                                struct mly_err *err)
{
  struct geom_reader g;
  enum mly_rc rc;
  size_t nverts = 0;
  uint32_t id, count;
  const char *name;

  geom_init(&g, f, err);
  while(g.p < g.end) {
    rc = geom_command(&g, &id, &count);
    if(rc)
      return rc;
    switch(id) {
    case CMD_MOVETO:
    case CMD_LINETO:
      name = id == CMD_MOVETO ? "MoveTo" : "LineTo";
      if(f->type == MVT_GEOM_POINT && id == CMD_LINETO)
        return geom_fail(&g, "LineTo in point geometry (spec 4.3.4.2)");
      if(count == 0)
        return geom_fail(&g, "%s count 0 (spec 4.3.4)", name);
      if(count > MVT_MAX_POINTS_PER_FEATURE - nverts)
        return geom_fail(&g, "more than %u vertices", (unsigned)MVT_MAX_POINTS_PER_FEATURE);
      rc = geom_check_room(&g, name, count);
      if(rc)
        return rc;
      nverts += count;
      for(uint32_t i = 0; i < count; i++) {
        rc = geom_point(&g, name, count);
        if(rc)
          return rc;
        if(fn) {
          int stop = fn(user, id, g.x, g.y);
          if(stop)
            return (enum mly_rc)stop;
        }
      }
      break;
    case CMD_CLOSEPATH:
      if(f->type == MVT_GEOM_POINT)
        return geom_fail(&g, "ClosePath in point geometry (spec 4.3.4.2)");
      if(count != 1)
        return geom_fail(&g, "ClosePath count %u, expected 1 (spec 4.3.3.3)", (unsigned)count);
      break;
    default:
      return geom_fail(&g, "unknown command %u (spec 4.3.3)", (unsigned)id);
    }
  }
  return MLY_OK;
}
