/* mvt.h -- zero-copy reader for Mapbox Vector Tile 2.x (protobuf) bodies
 *
 * Nothing here allocates except mvt_layer_index(), which fills caller-owned
 * growable arrays (struct mvt_index) bounded by caps. Every view returned
 * points into the caller's tile buffer: keep the buffer alive while they are
 * used (vtzero's rule). Malformed input yields MLY_EFORMAT with a message
 * naming the problem, never a crash or an over-read; on error a cursor is
 * left unchanged (protozero's strong guarantee). */
#ifndef MLY_MVT_H
#define MLY_MVT_H

#include "mly/common.h"

/* Field numbers of vector_tile.proto (spec 4.1) */
enum mvt_tile_tag { MVT_TILE_LAYERS = 3 };
enum mvt_layer_tag {
  MVT_LAYER_NAME = 1, MVT_LAYER_FEATURES = 2, MVT_LAYER_KEYS = 3,
  MVT_LAYER_VALUES = 4, MVT_LAYER_EXTENT = 5, MVT_LAYER_VERSION = 15
};
enum mvt_feature_tag {
  MVT_FEATURE_ID = 1, MVT_FEATURE_TAGS = 2, MVT_FEATURE_TYPE = 3,
  MVT_FEATURE_GEOMETRY = 4
};
enum mvt_value_tag {
  MVT_VALUE_STRING = 1, MVT_VALUE_FLOAT = 2, MVT_VALUE_DOUBLE = 3,
  MVT_VALUE_INT = 4, MVT_VALUE_UINT = 5, MVT_VALUE_SINT = 6,
  MVT_VALUE_BOOL = 7
};
enum mvt_geom_type { MVT_GEOM_UNKNOWN = 0, MVT_GEOM_POINT = 1,
                     MVT_GEOM_LINESTRING = 2, MVT_GEOM_POLYGON = 3 };

/* Caps against hostile tiles (vtzero's m_max_count) */
#define MVT_MAX_KEYS 65536
#define MVT_MAX_VALUES (1u << 24)
#define MVT_MAX_POINTS_PER_FEATURE (1u << 20)

/* A decoded Value message. A Value with no field set is MVT_VAL_NONE.
 * If a Value sets several fields, the last one read wins. */
enum mvt_value_type {
  MVT_VAL_NONE = 0, MVT_VAL_STRING, MVT_VAL_FLOAT, MVT_VAL_DOUBLE,
  MVT_VAL_INT, MVT_VAL_UINT, MVT_VAL_SINT, MVT_VAL_BOOL
};
struct mvt_value {
  enum mvt_value_type type;
  union {
    struct mly_view s; /* MVT_VAL_STRING (borrowed) */
    float f;           /* MVT_VAL_FLOAT */
    double d;          /* MVT_VAL_DOUBLE */
    int64_t i;         /* MVT_VAL_INT and MVT_VAL_SINT (already unzigzagged) */
    uint64_t u;        /* MVT_VAL_UINT */
    bool b;            /* MVT_VAL_BOOL */
  } v;
};

/* Cursor over the layers of a tile. */
struct mvt_tile {
  const uint8_t *p;   /* next unread byte */
  const uint8_t *end; /* one past the last byte */
};

/* One layer. The feature cursor (feat_p/feat_end) walks the whole layer
 * message and picks out features in order. */
struct mvt_layer {
  struct mly_view name;
  uint32_t version;  /* default 1 when absent */
  uint32_t extent;   /* default 4096 when absent; 0 is rejected */
  const uint8_t *begin, *end; /* the layer message */
  const uint8_t *feat_p;      /* cursor for mvt_layer_next_feature */
};

/* Keys and values of a layer, indexed for tag lookup. Caller-owned;
 * reuse it across layers and tiles to avoid allocations, free with
 * mvt_index_cleanup(). */
struct mvt_index {
  struct mly_view *keys;
  size_t nkeys, keys_cap;
  struct mvt_value *values;
  size_t nvalues, values_cap;
};

struct mvt_feature {
  bool has_id;
  uint64_t id;                 /* the feature's own id field (not the `id` property) */
  enum mvt_geom_type type;
  const uint8_t *tags, *tags_end;   /* packed uint32 pairs */
  const uint8_t *geom, *geom_end;   /* packed uint32 commands */
};

/* Cursor over a feature's tags: yields (key index, value index) pairs. */
struct mvt_tag_iter {
  const uint8_t *p, *end;
};

void mvt_tile_init(struct mvt_tile *t, const void *data, size_t n);

/* Read the next layer. Returns 1 and fills *layer, 0 at the end of the
 * tile, or -1 with err filled (cursor unchanged). Unknown fields are
 * skipped. */
int mvt_next_layer(struct mvt_tile *t, struct mvt_layer *layer, struct mly_err *err)
    MLY_WARN_UNUSED;

void mvt_index_init(struct mvt_index *idx);
void mvt_index_cleanup(struct mvt_index *idx);

/* Fill idx with the layer's keys and values (views into the tile).
 * Returns MLY_OK, MLY_EFORMAT, MLY_ETOOBIG or MLY_ENOMEM. */
enum mly_rc mvt_layer_index(const struct mvt_layer *layer, struct mvt_index *idx,
                            struct mly_err *err) MLY_WARN_UNUSED;

/* Next feature of the layer: 1 and *f filled, 0 at the end, -1 on error. */
int mvt_layer_next_feature(struct mvt_layer *layer, struct mvt_feature *f,
                           struct mly_err *err) MLY_WARN_UNUSED;

void mvt_tags_begin(const struct mvt_feature *f, struct mvt_tag_iter *it);
/* Next (key, value) index pair: 1, 0 at the end, -1 on error (odd count,
 * bad varint). Indexes are not range-checked here: check them against
 * mvt_index (an out-of-range index is a format error for the caller). */
int mvt_tags_next(struct mvt_tag_iter *it, uint32_t *key, uint32_t *value,
                  struct mly_err *err) MLY_WARN_UNUSED;

/* Decode a Point or MultiPoint geometry (spec 4.3): writes up to max
 * points as (x, y) pairs in tile pixels into xy[2*i], xy[2*i+1] and their
 * count into *n. Returns MLY_OK, or MLY_EFORMAT for a command other than
 * MoveTo, a zero count, a truncated parameter list or a count above max. */
enum mly_rc mvt_decode_points(const struct mvt_feature *f, int64_t *xy, size_t max,
                              size_t *n, struct mly_err *err) MLY_WARN_UNUSED;

/* Visit every vertex of any geometry type (MoveTo/LineTo, ClosePath
 * ignored). fn gets the absolute pixel position and the command id; a
 * non-zero return from fn stops and is returned. fn may be NULL: the
 * geometry is then only validated. */
typedef int (*mvt_vertex_fn)(void *user, uint32_t cmd, int64_t x, int64_t y);
enum mly_rc mvt_decode_geometry(const struct mvt_feature *f, mvt_vertex_fn fn, void *user,
                                struct mly_err *err) MLY_WARN_UNUSED;

#endif
