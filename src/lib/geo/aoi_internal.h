/* aoi_internal.h -- the aoi structs and helpers shared by the aoi*.c and bbox.c files */
#ifndef MLY_AOI_INTERNAL_H
#define MLY_AOI_INTERNAL_H

#define GEOS_USE_ONLY_R_API
#include <geos_c.h>

#include "mly/aoi.h"

/* Largest GeoJSON input read, from a file or stdin */
#define MLY__AOI_MAX_INPUT ((size_t)256 << 20)
/* Longest --field_name value (bytes, before making it safe) */
#define MLY__AOI_MAX_NAME 200
/* Deepest nesting of GeometryCollections we follow */
#define MLY__AOI_MAX_GC_DEPTH 16

struct aoi {
  struct aoi_set *set; /* borrowed: the owner, for its GEOS context */
  char *name;          /* safe group value, or NULL without field_name */
  bool is_bbox;
  /* bbox areas: west, south, east, north as parsed (west > east across the
   * antimeridian); polygon areas: the envelope of geom */
  double box[4];
  GEOSGeometry *geom;                /* polygonal and valid; NULL for a bbox */
  const GEOSPreparedGeometry *prep;  /* prepared geom; destroyed before geom */
};

struct aoi_set {
  GEOSContextHandle_t ctx;
  char geos_msg[160]; /* last GEOS error, filled by the context's handler */
  struct aoi **areas;
  size_t n, cap;
};

/* A new empty set with its own GEOS context and error handler */
enum mly_rc mly__aoi_set_new(struct aoi_set **out, struct mly_err *err) MLY_WARN_UNUSED;

/* Append a new area to the set. geom (may be NULL for a bbox) and name
 * (may be NULL) are taken over, also on failure. */
enum mly_rc mly__aoi_set_add(struct aoi_set *set, char *name, GEOSGeometry *geom,
                             struct aoi **out, struct mly_err *err) MLY_WARN_UNUSED;

/* A set holding one bbox area (box as aoi_parse_bbox() returns it) */
enum mly_rc mly__aoi_set_from_bbox(const double box[4], struct aoi_set **out,
                                   struct mly_err *err) MLY_WARN_UNUSED;

/* Fill the set from GeoJSON text (buf need not be NUL-terminated); source
 * names the input in messages ("stdin", a path). */
enum mly_rc mly__aoi_geojson_load(struct aoi_set *set, const char *buf, size_t len,
                                  const char *source, const char *field_name,
                                  struct mly_err *err) MLY_WARN_UNUSED;

/* Write the file-name-safe form of value (len bytes, UTF-8) into out;
 * the result is never longer than value, so cap = len + 1 suffices.
 * Returns false if it does not fit or value is empty. */
bool mly__aoi_safe_name(const char *value, size_t len, char *out, size_t cap);

/* Copy s for a message: unprintable bytes become '?', and a string longer
 * than cap - 1 keeps its end behind "..." (cap >= 8) */
void mly__aoi_printable(const char *s, char *out, size_t cap);

/* The GEOS message of the set's last error, or a fallback text */
const char *mly__aoi_geos_msg(struct aoi_set *set);

#endif
