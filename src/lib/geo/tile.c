/* tile.c -- Web Mercator tile math: tile coordinates <-> lon/lat, bounds, order */
#include "mly/tile.h"

#include <math.h>
#include <stdio.h>

/* Zooms above 31 would not fit a column number in uint32_t; clamp so that
 * the arithmetic below stays defined for any input. */
#define TILE_MAX_Z 31u

static const double tile_pi = 3.14159265358979323846;

/* 2^z as a double: exact for every zoom, so x / 2^z loses nothing */
static double tile_scale(uint32_t z)
{
  return ldexp(1.0, (int)(z > TILE_MAX_Z ? TILE_MAX_Z : z));
}

void tile_to_lonlat(uint32_t z, double fx, double fy, double *lon, double *lat)
{
  double n = tile_scale(z);
  /* keep the documented operation order: the spot values in the fixtures
   * README were computed this way and we match them to the last bit */
  *lon = fx / n * 360.0 - 180.0;
  *lat = atan(sinh(tile_pi * (1.0 - 2.0 * fy / n))) * (180.0 / tile_pi);
}

void tile_pixel_to_lonlat(struct tile t, uint32_t extent, int64_t px, int64_t py,
                          double *lon, double *lat)
{
  double fx, fy;
  if(extent == 0) {
    /* a tile without an extent has no pixel grid: use its corner */
    fx = (double)t.x;
    fy = (double)t.y;
  }
  else {
    /* x * extent + px is an exact integer in a double (< 2^53 for any
     * realistic zoom and extent), so one rounding happens, in the divide */
    fx = ((double)t.x * extent + (double)px) / extent;
    fy = ((double)t.y * extent + (double)py) / extent;
  }
  tile_to_lonlat(t.z, fx, fy, lon, lat);
}

void tile_from_lonlat(uint32_t z, double lon, double lat, double *fx, double *fy)
{
  double n = tile_scale(z);
  if(lat > TILE_MAX_LAT)
    lat = TILE_MAX_LAT;
  else if(lat < -TILE_MAX_LAT)
    lat = -TILE_MAX_LAT;
  double r = lat * (tile_pi / 180.0);
  *fx = (lon + 180.0) / 360.0 * n;
  *fy = (1.0 - asinh(tan(r)) / tile_pi) / 2.0 * n;
}

/* Longitude of the west edge of column x and latitude of the north edge of
 * row y: the same expressions tile_bounds() uses, so the edges a point is
 * compared with are exactly the edges a tile reports. */
static double tile_edge_lon(uint32_t z, double x)
{
  double lon, lat;
  tile_to_lonlat(z, x, 0, &lon, &lat);
  return lon;
}

static double tile_edge_lat(uint32_t z, double y)
{
  double lon, lat;
  tile_to_lonlat(z, 0, y, &lon, &lat);
  return lat;
}

/* Clamp a fractional tile coordinate to a valid index in [0, n - 1];
 * NaN goes to 0 so that the cast below is always defined. */
static uint32_t tile_clamp_index(double f, uint64_t n)
{
  if(!(f >= 0.0))
    return 0;
  if(f >= (double)n)
    return (uint32_t)(n - 1);
  return (uint32_t)floor(f);
}

struct tile tile_containing(uint32_t z, double lon, double lat)
{
  if(z > TILE_MAX_Z)
    z = TILE_MAX_Z;
  uint64_t n = (uint64_t)1 << z;
  double fx, fy;
  tile_from_lonlat(z, lon, lat, &fx, &fy);
  uint32_t x = tile_clamp_index(fx, n);
  uint32_t y = tile_clamp_index(fy, n);

  /* The inverse projection rounds, so a point on an edge may land one
   * tile off. Correct against the forward edges: column x holds
   * [west, east), row y holds (south, north]. A step or two suffices; the
   * loops are bounded by the clamps. */
  while(x + 1 < n && lon >= tile_edge_lon(z, (double)x + 1))
    x++;
  while(x > 0 && lon < tile_edge_lon(z, (double)x))
    x--;
  while(y + 1 < n && lat <= tile_edge_lat(z, (double)y + 1))
    y++;
  while(y > 0 && lat > tile_edge_lat(z, (double)y))
    y--;

  struct tile t = {z, x, y};
  return t;
}

void tile_bounds(struct tile t, double *west, double *south, double *east, double *north)
{
  *west = tile_edge_lon(t.z, (double)t.x);
  *east = tile_edge_lon(t.z, (double)t.x + 1);
  *north = tile_edge_lat(t.z, (double)t.y);
  *south = tile_edge_lat(t.z, (double)t.y + 1);
}

int tile_cmp(const struct tile *a, const struct tile *b)
{
  if(a->x != b->x)
    return a->x < b->x ? -1 : 1;
  if(a->y != b->y)
    return a->y < b->y ? -1 : 1;
  if(a->z != b->z)
    return a->z < b->z ? -1 : 1;
  return 0;
}

void tile_name(struct tile t, char *buf, size_t cap)
{
  if(cap)
    snprintf(buf, cap, "%u/%u/%u", (unsigned)t.z, (unsigned)t.x, (unsigned)t.y);
}
