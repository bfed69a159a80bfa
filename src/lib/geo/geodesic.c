/* geodesic.c -- Vincenty's inverse formula on WGS84, with a spherical
 * fallback for nearly antipodal points */
#include "mly/geodesic.h"

#include <math.h>

#define DEG (M_PI / 180)

static double spherical(double lon1, double lat1, double lon2, double lat2)
{
  const double r = (2 * GEODESIC_WGS84_A + GEODESIC_WGS84_A * (1 - GEODESIC_WGS84_F)) / 3;
  double p1 = lat1 * DEG, p2 = lat2 * DEG, dl = (lon2 - lon1) * DEG;
  /* the Vincenty form of the great-circle angle: stable at every distance */
  double y = hypot(cos(p2) * sin(dl), cos(p1) * sin(p2) - sin(p1) * cos(p2) * cos(dl));
  double x = sin(p1) * sin(p2) + cos(p1) * cos(p2) * cos(dl);
  return r * atan2(y, x);
}

double geodesic_distance(double lon1, double lat1, double lon2, double lat2, bool *exact)
{
  const double a = GEODESIC_WGS84_A, f = GEODESIC_WGS84_F, b = a * (1 - f);
  if(exact)
    *exact = true;
  if(lon1 == lon2 && lat1 == lat2)
    return 0;
  double L = remainder(lon2 - lon1, 360.0) * DEG;
  double U1 = atan((1 - f) * tan(lat1 * DEG)), U2 = atan((1 - f) * tan(lat2 * DEG));
  double sinU1 = sin(U1), cosU1 = cos(U1), sinU2 = sin(U2), cosU2 = cos(U2);
  double lambda = L, sin_sigma = 0, cos_sigma = 1, sigma = 0, cos2_alpha = 1, cos_2sm = 0;
  bool converged = false;
  for(int iter = 0; iter < 200; iter++) {
    double sl = sin(lambda), cl = cos(lambda);
    double t1 = cosU2 * sl, t2 = cosU1 * sinU2 - sinU1 * cosU2 * cl;
    sin_sigma = sqrt(t1 * t1 + t2 * t2);
    if(sin_sigma == 0)
      return 0; /* the same point (poles written with other longitudes) */
    cos_sigma = sinU1 * sinU2 + cosU1 * cosU2 * cl;
    sigma = atan2(sin_sigma, cos_sigma);
    double sin_alpha = cosU1 * cosU2 * sl / sin_sigma;
    cos2_alpha = 1 - sin_alpha * sin_alpha;
    cos_2sm = cos2_alpha != 0 ? cos_sigma - 2 * sinU1 * sinU2 / cos2_alpha : 0; /* equatorial */
    double C = f / 16 * cos2_alpha * (4 + f * (4 - 3 * cos2_alpha));
    double prev = lambda;
    lambda = L + (1 - C) * f * sin_alpha *
                     (sigma + C * sin_sigma * (cos_2sm + C * cos_sigma * (-1 + 2 * cos_2sm * cos_2sm)));
    if(fabs(lambda) > M_PI)
      break; /* nearly antipodal: no convergence */
    if(fabs(lambda - prev) < 1e-12) {
      converged = true;
      break;
    }
  }
  if(!converged) {
    if(exact)
      *exact = false;
    return spherical(lon1, lat1, lon2, lat2);
  }
  double u2 = cos2_alpha * (a * a - b * b) / (b * b);
  double A = 1 + u2 / 16384 * (4096 + u2 * (-768 + u2 * (320 - 175 * u2)));
  double B = u2 / 1024 * (256 + u2 * (-128 + u2 * (74 - 47 * u2)));
  double c2 = cos_2sm * cos_2sm;
  double dsigma = B * sin_sigma *
                  (cos_2sm + B / 4 * (cos_sigma * (-1 + 2 * c2) -
                                      B / 6 * cos_2sm * (-3 + 4 * sin_sigma * sin_sigma) * (-3 + 4 * c2)));
  return b * A * (sigma - dsigma);
}

double geodesic_line_length(const double *xy, size_t n)
{
  double s = 0;
  for(size_t i = 1; i < n; i++)
    s += geodesic_distance(xy[2 * i - 2], xy[2 * i - 1], xy[2 * i], xy[2 * i + 1], NULL);
  return s;
}
