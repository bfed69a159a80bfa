/* tile.h -- Web Mercator tile math on value structs (XYZ scheme, y down) */
#ifndef MLY_TILE_H
#define MLY_TILE_H

#include "mly/common.h"

struct tile {
  uint32_t z, x, y;
};

/* Largest latitude Web Mercator can show: atan(sinh(pi)) in degrees */
#define TILE_MAX_LAT 85.0511287798066

/* lon/lat (degrees) of a position in tile units at zoom z: fx, fy are
 * fractional tile coordinates (x + px/extent). Exact formula, no rounding
 * to pixels: lon = fx / 2^z * 360 - 180,
 * lat = atan(sinh(pi * (1 - 2 * fy / 2^z))) in degrees. */
void tile_to_lonlat(uint32_t z, double fx, double fy, double *lon, double *lat);

/* Position of pixel (px, py) of tile t with the given extent */
void tile_pixel_to_lonlat(struct tile t, uint32_t extent, int64_t px, int64_t py,
                          double *lon, double *lat);

/* Fractional tile coordinates of a lon/lat at zoom z (lat clamped to the
 * Mercator range). */
void tile_from_lonlat(uint32_t z, double lon, double lat, double *fx, double *fy);

/* The tile holding lon/lat at zoom z (a point on a tile edge goes to the
 * tile to its east/south, except at the world's east/south edge). */
struct tile tile_containing(uint32_t z, double lon, double lat);

/* Bounds of a tile in degrees */
void tile_bounds(struct tile t, double *west, double *south, double *east, double *north);

/* Order tiles by x, then y (then z): the order in which outputs are written */
int tile_cmp(const struct tile *a, const struct tile *b);

/* Stable text of a tile for messages: "z/x/y" */
void tile_name(struct tile t, char *buf, size_t cap);

#endif
