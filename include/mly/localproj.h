/* localproj.h -- a local metric projection around a point, for work in metres
 *
 * Azimuthal equidistant on the sphere that osculates the WGS84 ellipsoid at
 * the centre's latitude (radius sqrt(M N), M and N the meridian and normal
 * radii of curvature there). Distances from the centre are exact on that
 * sphere, and the scale elsewhere departs from 1 by about d^2 / (6 R^2) at
 * d metres from the centre (4e-7 at 10 km, 4e-5 at 100 km); against the
 * ellipsoid itself, about e^2 d / R more. Enough to buffer a sequence line
 * by some metres or measure its area, which is what it is for. x is east,
 * y north, both in metres. Pure functions on a value struct. */
#ifndef MLY_LOCALPROJ_H
#define MLY_LOCALPROJ_H

struct localproj {
  double lon0, lat0;        /* centre, degrees */
  double sin_lat0, cos_lat0;
  double radius;            /* metres */
};

/* Centre the projection at (lon0, lat0) degrees; lat0 within [-90, 90] */
void localproj_init(struct localproj *p, double lon0, double lat0);

/* Degrees to metres: (lon, lat) -> (*x, *y). Points on the far side of the
 * globe (more than a quarter turn away) are not meant to be projected. */
void localproj_forward(const struct localproj *p, double lon, double lat, double *x, double *y);

/* Metres to degrees: the inverse of localproj_forward; lon in (-180, 180] */
void localproj_inverse(const struct localproj *p, double x, double y, double *lon, double *lat);

#endif
