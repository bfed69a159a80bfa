/* test_geodesic.c -- geodesic distances on WGS84 against known values */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <cmocka.h>

#include "mly/geodesic.h"

static double dms(double d, double m, double s)
{
  return d < 0 ? d - m / 60 - s / 3600 : d + m / 60 + s / 3600;
}

static void near(double got, double want, double tol)
{
  if(fabs(got - want) > tol)
    fail_msg("got %.6f, want %.6f (+- %g)", got, want, tol);
}

static void test_known_values(void **state)
{
  (void)state;
  bool exact;
  /* Vincenty (1975): Flinders Peak to Buninyong */
  double d = geodesic_distance(dms(144, 25, 29.52440), -dms(37, 57, 3.72030), dms(143, 55, 35.38390),
                               -dms(37, 39, 10.15610), &exact);
  near(d, 54972.271, 0.001);
  assert_true(exact);
  /* along the equator: a times the angle */
  near(geodesic_distance(0, 0, 1, 0, NULL), GEODESIC_WGS84_A * M_PI / 180, 1e-6);
  near(geodesic_distance(179.5, 0, -179.5, 0, NULL), GEODESIC_WGS84_A * M_PI / 180, 1e-6);
  /* along a meridian: the first degree of latitude, and the quarter meridian */
  near(geodesic_distance(10, 0, 10, 1, NULL), 110574.389, 0.001);
  near(geodesic_distance(0, 0, 0, 90, NULL), 10001965.729, 0.001);
  /* symmetric, zero for the same point (a pole under any longitude too) */
  near(geodesic_distance(-108.5, 39.1, -108.49, 39.11, NULL),
       geodesic_distance(-108.49, 39.11, -108.5, 39.1, NULL), 1e-9);
  assert_true(geodesic_distance(5, 5, 5, 5, NULL) == 0);
  near(geodesic_distance(10, 90, 80, 90, NULL), 0, 1e-6);
  /* a metre: the scale simplify_points works at (lat 39: 1 m is about
   * 8.98e-6 degrees of latitude); Web Mercator would say 1.29 m */
  near(geodesic_distance(-108.5, 39.0, -108.5, 39.0 + 1 / 111034.6, NULL), 1.0, 0.001);
}

/* Nearly antipodal: Vincenty does not converge; the spherical fallback is
 * within 0.5% of the geodesic (GeographicLib: 19936288.579 m) */
static void test_antipodal_fallback(void **state)
{
  (void)state;
  bool exact = true;
  double d = geodesic_distance(0, 0, 179.7, 0.5, &exact);
  assert_false(exact);
  near(d, 19936288.579, 19936288.579 * 0.005);
}

static void test_line_length(void **state)
{
  (void)state;
  double xy[] = {0, 0, 1, 0, 2, 0};
  near(geodesic_line_length(xy, 3), 2 * GEODESIC_WGS84_A * M_PI / 180, 1e-6);
  assert_true(geodesic_line_length(xy, 1) == 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_known_values),
    cmocka_unit_test(test_antipodal_fallback),
    cmocka_unit_test(test_line_length),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
