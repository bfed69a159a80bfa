/* geodesic.h -- distances on the WGS84 ellipsoid, in metres
 *
 * Vincenty's inverse formula (1975), iterated to 1e-12 rad: accurate to
 * well under a millimetre for points that are not nearly antipodal. For
 * nearly antipodal points, where the iteration does not converge, the
 * distance is the great-circle distance on the sphere of WGS84's mean
 * radius (within 0.5% there); the workflow's points are metres apart, far
 * from that case. */
#ifndef MLY_GEODESIC_H
#define MLY_GEODESIC_H

#include <stdbool.h>
#include <stddef.h>

#define GEODESIC_WGS84_A 6378137.0
#define GEODESIC_WGS84_F (1 / 298.257223563)

/* The geodesic distance between two positions in degrees (lon, lat);
 * *exact (optional) is false when the spherical fallback was used */
double geodesic_distance(double lon1, double lat1, double lon2, double lat2, bool *exact);

/* The geodesic length of a line of n positions (x, y pairs in degrees) */
double geodesic_line_length(const double *xy, size_t n);

#endif
