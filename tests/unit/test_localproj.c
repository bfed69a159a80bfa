/* test_localproj.c -- unit tests of the local metric projection */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <cmocka.h>

#include "mly/localproj.h"

/* Haversine on the sphere of radius r: an independent distance */
static double haversine(double lon1, double lat1, double lon2, double lat2, double r)
{
  double d = M_PI / 180.0;
  double a = sin((lat2 - lat1) * d / 2), b = sin((lon2 - lon1) * d / 2);
  double h = a * a + cos(lat1 * d) * cos(lat2 * d) * b * b;
  return 2 * r * asin(sqrt(h));
}

static void test_centre_is_origin(void **state)
{
  (void)state;
  struct localproj p;
  localproj_init(&p, -74.0, 40.7);
  double x = 1, y = 1, lon, lat;
  localproj_forward(&p, -74.0, 40.7, &x, &y);
  assert_true(x == 0.0 && y == 0.0);
  localproj_inverse(&p, 0.0, 0.0, &lon, &lat);
  assert_true(lon == -74.0 && lat == 40.7);
}

static void test_distance_from_centre_is_kept(void **state)
{
  (void)state;
  const double pts[][4] = {{-74.0, 40.7, -73.9, 40.75}, {10.0, 60.0, 10.02, 59.99},
                           {-0.01, 0.0, 0.01, 0.001}, {170.0, -45.0, 170.3, -44.8}};
  for(size_t i = 0; i < sizeof(pts) / sizeof(pts[0]); i++) {
    struct localproj p;
    localproj_init(&p, pts[i][0], pts[i][1]);
    double x, y;
    localproj_forward(&p, pts[i][2], pts[i][3], &x, &y);
    double want = haversine(pts[i][0], pts[i][1], pts[i][2], pts[i][3], p.radius);
    assert_true(fabs(hypot(x, y) - want) < 1e-6 * want + 1e-9);
  }
}

static void test_east_is_x_north_is_y(void **state)
{
  (void)state;
  struct localproj p;
  localproj_init(&p, 2.35, 48.85);
  double x, y;
  localproj_forward(&p, 2.36, 48.85, &x, &y);
  assert_true(x > 700 && x < 800 && fabs(y) < 1.0); /* 0.01 deg lon ~ 733 m there */
  localproj_forward(&p, 2.35, 48.86, &x, &y);
  assert_true(fabs(x) < 1e-9 && y > 1100 && y < 1115); /* 0.01 deg lat ~ 1112 m */
}

static void test_inverse_round_trips(void **state)
{
  (void)state;
  struct localproj p;
  localproj_init(&p, 179.99, -33.0);
  for(int i = -5; i <= 5; i++) {
    for(int j = -5; j <= 5; j++) {
      double lon = 179.99 + i * 0.001, lat = -33.0 + j * 0.002, x, y, lon2, lat2;
      if(lon > 180.0)
        lon -= 360.0;
      localproj_forward(&p, lon, lat, &x, &y);
      localproj_inverse(&p, x, y, &lon2, &lat2);
      assert_true(fabs(lon2 - lon) < 1e-11 && fabs(lat2 - lat) < 1e-11);
    }
  }
}

static void test_radius_follows_the_ellipsoid(void **state)
{
  (void)state;
  struct localproj eq, pole;
  localproj_init(&eq, 0, 0);
  localproj_init(&pole, 0, 89.9);
  /* sqrt(M N): the semi-minor axis b = 6,356,752 m at the equator, a^2 / b =
   * 6,399,594 m at the pole */
  assert_true(fabs(eq.radius - 6356752.3) < 1.0);
  assert_true(fabs(pole.radius - 6399594.0) < 10.0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_centre_is_origin),
    cmocka_unit_test(test_distance_from_centre_is_kept),
    cmocka_unit_test(test_east_is_x_north_is_y),
    cmocka_unit_test(test_inverse_round_trips),
    cmocka_unit_test(test_radius_follows_the_ellipsoid),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
