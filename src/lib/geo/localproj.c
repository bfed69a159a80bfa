/* localproj.c -- azimuthal equidistant projection on the osculating sphere */
#include "mly/localproj.h"

#include <math.h>

#define WGS84_A 6378137.0
#define WGS84_E2 0.00669437999014 /* first eccentricity squared */
#define DEG (M_PI / 180.0)

void localproj_init(struct localproj *p, double lon0, double lat0)
{
  p->lon0 = lon0;
  p->lat0 = lat0;
  p->sin_lat0 = sin(lat0 * DEG);
  p->cos_lat0 = cos(lat0 * DEG);
  /* Gaussian mean radius: the sphere that best fits the ellipsoid there */
  double w = 1.0 - WGS84_E2 * p->sin_lat0 * p->sin_lat0;
  double m = WGS84_A * (1.0 - WGS84_E2) / (w * sqrt(w));
  double n = WGS84_A / sqrt(w);
  p->radius = sqrt(m * n);
}

void localproj_forward(const struct localproj *p, double lon, double lat, double *x, double *y)
{
  double dl = (lon - p->lon0) * DEG, phi = lat * DEG;
  double sphi = sin(phi), cphi = cos(phi), sdl = sin(dl), cdl = cos(dl);
  /* direction to the point times sin(c), c the angular distance; c from
   * atan2 keeps full precision for points close to the centre, where
   * acos(cos c) would not */
  double u = cphi * sdl;
  double v = p->cos_lat0 * sphi - p->sin_lat0 * cphi * cdl;
  double s = hypot(u, v);
  double cosc = p->sin_lat0 * sphi + p->cos_lat0 * cphi * cdl;
  if(s == 0.0) {
    *x = 0.0;
    *y = 0.0;
    return;
  }
  double k = p->radius * atan2(s, cosc) / s;
  *x = k * u;
  *y = k * v;
}

void localproj_inverse(const struct localproj *p, double x, double y, double *lon, double *lat)
{
  double rho = hypot(x, y);
  if(rho == 0.0) {
    *lon = p->lon0;
    *lat = p->lat0;
    return;
  }
  double c = rho / p->radius, sc = sin(c), cc = cos(c);
  double sphi = cc * p->sin_lat0 + y * sc * p->cos_lat0 / rho;
  if(sphi > 1.0)
    sphi = 1.0;
  if(sphi < -1.0)
    sphi = -1.0;
  double l = p->lon0 * DEG + atan2(x * sc, rho * p->cos_lat0 * cc - y * p->sin_lat0 * sc);
  double deg = l / DEG;
  if(deg > 180.0)
    deg -= 360.0;
  else if(deg <= -180.0)
    deg += 360.0;
  *lon = deg;
  *lat = asin(sphi) / DEG;
}
