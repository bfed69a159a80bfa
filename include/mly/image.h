/* image.h -- one Mapillary image read from a feature of layer `image`
 *
 * Tile values may come in any MVT type; this module turns them into the
 * typed properties of SPEC.md "Output": a value the tile leaves unknown
 * (absent, or an empty string) stays unknown, never invented. */
#ifndef MLY_IMAGE_H
#define MLY_IMAGE_H

#include "mly/common.h"
#include "mly/dbuf.h"
#include "mly/jsonw.h"
#include "mly/mvt.h"

enum image_field {
  IMAGE_EXTRA = 0, /* any other property: passed through with its type */
  IMAGE_ID, IMAGE_SEQUENCE_ID, IMAGE_CAPTURED_AT, IMAGE_COMPASS_ANGLE,
  IMAGE_IS_PANO, IMAGE_ORGANIZATION_ID
};

/* Per-layer lookup from key index to field; reuse across layers. */
struct image_keys {
  uint8_t *field;  /* one per key of the layer */
  uint32_t *canon; /* one per key: the first index with the same key text */
  size_t cap;
};

/* Pass-through properties kept by image_read, in tag order, first
 * occurrence of each key text only; beyond this many image_write_* find
 * them again from the feature's tags */
#define IMAGE_MAX_EXTRAS 16

enum image_id_kind { IMAGE_ID_NONE = 0, IMAGE_ID_U64, IMAGE_ID_STR };

/* A text property held either as a view into the tile or as digits
 * written here (a number-typed sequence_id or organization_id). */
struct image_text {
  bool known;
  uint32_t value;    /* index in the layer's values it came from */
  struct mly_view v; /* points into the tile or into num[] */
  char num[24];
};

struct image {
  int64_t px, py;              /* tile pixels */
  enum image_id_kind id_kind;
  uint64_t id;                 /* IMAGE_ID_U64: the exact integer held */
  struct mly_view id_str;      /* IMAGE_ID_STR: a non-numeric string id */
  bool id_inexact;             /* held as a double at or above 2^53 (a float: 2^24) */
  struct image_text sequence_id;
  struct image_text organization_id;
  bool has_captured_at;
  int64_t captured_at;         /* ms since epoch */
  bool has_compass_angle;
  double compass_angle;
  int8_t is_pano;              /* -1 unknown, 0, 1 */
  const struct mvt_feature *feature; /* for pass-through of extra properties */
  uint32_t nextras;            /* > IMAGE_MAX_EXTRAS: more than the list holds */
  struct {
    uint32_t key, value;       /* indexes in the layer's keys and values */
  } extras[IMAGE_MAX_EXTRAS];
};

void image_keys_init(struct image_keys *k);
void image_keys_cleanup(struct image_keys *k);
/* Map the layer's keys to fields. MLY_ENOMEM on failure. */
enum mly_rc image_keys_map(struct image_keys *k, const struct mvt_index *idx) MLY_WARN_UNUSED;

/* Read feature f into img: its first point and its known properties.
 * MLY_EFORMAT (err filled) for a non-point geometry, a tag index out of
 * range, or a malformed geometry. */
enum mly_rc image_read(struct image *img, const struct mvt_feature *f, const struct mvt_index *idx,
                       const struct image_keys *keys, struct mly_err *err) MLY_WARN_UNUSED;

/* Append the GeoJSON Feature text of img (no trailing separator):
 * properties id, sequence_id, captured_at, compass_angle, is_pano,
 * organization_id, then extras in tag order. id_override, when not NULL,
 * replaces the id text (a repaired exact id). pos, when not NULL, gets the
 * text of lon and lat packed (jsonw_coord_packed), to be written again. */
enum mly_rc image_write_geojson(struct dbuf *b, const struct image *img, double lon, double lat,
                                struct jsonw_pos *pos, const struct mvt_index *idx,
                                const struct image_keys *keys,
                                const char *id_override) MLY_WARN_UNUSED;

/* Append the CSV record of img (RFC 4180, no line end), columns as in
 * OUTFILE_CSV_POINTS_HEADER of outfile.h: id (id_override when not NULL),
 * lon, lat, sequence_id, captured_at, compass_angle, is_pano,
 * organization_id, properties. Numbers are the text image_write_geojson
 * writes; an unknown value is an empty cell; is_pano is true or false;
 * properties is the JSON object of the pass-through properties, in the same
 * order and with the same text as in the GeoJSON, or an empty cell when
 * there are none. Text cells are quoted per RFC 4180 when needed. */
enum mly_rc image_write_csv(struct dbuf *b, const struct image *img, double lon, double lat,
                            struct jsonw_pos *pos, const struct mvt_index *idx,
                            const struct image_keys *keys, const char *id_override) MLY_WARN_UNUSED;

/* The id as decimal text into buf (JSONW_NUM_MAX), or "" when unknown;
 * string ids are copied up to cap-1 bytes. Returns length. */
size_t image_id_text(const struct image *img, char *buf, size_t cap);

/* Parse strict decimal digits (optional leading '-' when allow_neg) into
 * an integer. false on any other character, empty input or overflow. */
bool image_parse_u64(const char *p, size_t n, uint64_t *out);
bool image_parse_i64(const char *p, size_t n, int64_t *out);

#endif
