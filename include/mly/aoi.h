/* aoi.h -- areas of interest: bbox or GeoJSON polygons, grouped by a
 * property, point tests and the z14 tile cover
 *
 * An aoi_set owns one GEOS context (not thread-safe: use it from one thread)
 * and the geometries of all its areas. */
#ifndef MLY_AOI_H
#define MLY_AOI_H

#include "mly/common.h"
#include "mly/tile.h"

struct aoi;      /* one area: one output pair */
struct aoi_set;  /* every area of one --input_aoi */

/* Parse a bbox "xMin,yMin,xMax,yMax" (spaces allowed around numbers).
 * Rejects non-finite or out-of-range values (lon in [-180, 180], lat in
 * [-90, 90]), yMin > yMax, zero width or height, wrong count. xMin > xMax
 * means the box crosses the antimeridian. Returns MLY_OK or MLY_EFORMAT
 * with a message saying what is wrong. */
enum mly_rc aoi_parse_bbox(const char *text, double out[4], struct mly_err *err)
    MLY_WARN_UNUSED;

/* Load an AOI: `input` is "-" (GeoJSON on stdin), the path of an existing
 * file (GeoJSON: FeatureCollection, Feature or bare geometry; Polygon or
 * MultiPolygon; holes honoured), or else a bbox. With field_name (only for
 * GeoJSON; with a bbox it is MLY_EINVAL) features are grouped by the value
 * of that property, one area per distinct value, in order of first
 * appearance; a feature lacking it or with an empty/null value is
 * MLY_EFORMAT naming the feature (index). Without field_name every polygon
 * forms one area. Non-polygon features are ignored; none at all is
 * MLY_EFORMAT. Invalid polygons (self-intersecting) are repaired with
 * GEOSMakeValid, keeping only the polygonal part of the result (slivers
 * that collapse to lines or points are dropped); a polygon with nothing
 * left is MLY_EFORMAT. The polygons of one area are merged (union), so
 * overlapping or adjacent features behave as one region.
 * Values group by their safe name (see aoi_name), so "a/b" and "a_b" are
 * one area, as they would write one file. Only strings and numbers are
 * accepted as values. Errors about the input (missing file, not a bbox)
 * are MLY_EINVAL; about its content MLY_EFORMAT; an input over 256 MiB
 * MLY_ETOOBIG. */
enum mly_rc aoi_set_load(const char *input, const char *field_name, struct aoi_set **out,
                         struct mly_err *err) MLY_WARN_UNUSED;

/* aoi_set_load() for GeoJSON already in memory (buf[0..len), no NUL
 * needed); messages call it "input". For tests and fuzzing. */
enum mly_rc aoi_set_load_buffer(const char *buf, size_t len, const char *field_name,
                                struct aoi_set **out, struct mly_err *err) MLY_WARN_UNUSED;

void aoi_set_free(struct aoi_set **set);

size_t aoi_set_count(const struct aoi_set *set);
struct aoi *aoi_set_get(const struct aoi_set *set, size_t i);

/* The area's group value made safe for a file name (letters, digits, '-',
 * '_', '.' kept; anything else '_'; a leading '.' becomes '_'; numbers as
 * written in the file), or NULL without field_name. Owned by the set.
 * Letters are ASCII: a non-ASCII character becomes one '_'. Integers print
 * in full; other numbers as Python's repr() writes them (3.0 -> "3.0",
 * 1e+20 -> "1e_20"), the form geokit's file names had. */
const char *aoi_name(const struct aoi *a);

/* Bounding box in degrees; for an antimeridian bbox west > east. */
void aoi_bounds(const struct aoi *a, double *west, double *south, double *east,
                double *north);

/* true when the closed area covers the point (boundary counts as inside;
 * GEOS "covers" semantics; edges straight in lon/lat) */
bool aoi_covers(struct aoi *a, double lon, double lat);

enum aoi_tile_rel {
  AOI_TILE_PARTIAL = 1, /* touches the area: test each point */
  AOI_TILE_INSIDE = 2   /* the closed tile lies inside the area: no tests */
};

struct aoi_tile {
  struct tile t;
  enum aoi_tile_rel rel;
};

/* How the closed lon/lat rectangle [w, e] x [s, n] relates to the closed
 * area: AOI_RECT_OUT (no point of it is covered), AOI_RECT_IN (every point
 * is covered) or AOI_RECT_PARTIAL; exact GEOS predicates on the rectangle,
 * so a point known to lie in the rectangle needs no test of its own when
 * the answer is OUT or IN. MLY_EGEOS when GEOS fails. */
enum aoi_rect_rel { AOI_RECT_OUT = 0, AOI_RECT_PARTIAL = 1, AOI_RECT_IN = 2 };
enum mly_rc aoi_rect_relation(struct aoi *a, double w, double s, double e, double n,
                              enum aoi_rect_rel *rel, struct mly_err *err) MLY_WARN_UNUSED;

/* Every tile at zoom z whose closed square intersects the closed area
 * (so a point exactly on the area's or a tile's edge is never lost),
 * sorted by tile_cmp, each once. *out is malloc'd; free() it. Fails with
 * MLY_ETOOBIG when more than max_tiles tiles would be needed (the message
 * gives the count). */
enum mly_rc aoi_cover(struct aoi *a, uint32_t z, size_t max_tiles, struct aoi_tile **out,
                      size_t *n, struct mly_err *err) MLY_WARN_UNUSED;

#endif
