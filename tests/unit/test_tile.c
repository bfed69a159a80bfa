/* test_tile.c -- unit tests of the Web Mercator tile math (tile.c) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "mly/tile.h"

#define assert_near(a, b, eps) assert_true(fabs((a) - (b)) <= (eps))

/* The spot values of the real fixture tiles (fixtures README), which an
 * independent decoder produced: our projection must agree to 1e-12 */
static void test_tile_pixel_matches_fixture_spot_values(void **state)
{
  (void)state;
  double lon, lat;
  tile_pixel_to_lonlat((struct tile){14, 3251, 6258}, 4096, 3997, 2643, &lon, &lat);
  assert_near(lon, -108.54545295238495, 1e-12);
  assert_near(lat, 39.050839416744786, 1e-12);
  tile_pixel_to_lonlat((struct tile){14, 3252, 6258}, 4096, 2087, 782, &lon, &lat);
  assert_near(lon, -108.53372633457184, 1e-12);
  assert_near(lat, 39.05859180303374, 1e-12);
}

/* Pixel (0, 0) is the tile's north-west corner and (extent, extent) its
 * south-east corner, exactly as tile_bounds reports them */
static void test_tile_pixel_corners_are_tile_bounds(void **state)
{
  (void)state;
  struct tile t = {14, 3251, 6258};
  double w, s, e, n, lon, lat;
  tile_bounds(t, &w, &s, &e, &n);
  tile_pixel_to_lonlat(t, 4096, 0, 0, &lon, &lat);
  assert_true(lon == w);
  assert_true(lat == n);
  tile_pixel_to_lonlat(t, 4096, 4096, 4096, &lon, &lat);
  assert_true(lon == e);
  assert_true(lat == s);
  /* a buffer pixel left of the tile lies west of it */
  tile_pixel_to_lonlat(t, 4096, -64, 10, &lon, &lat);
  assert_true(lon < w);
}

static void test_tile_to_lonlat_world_corners(void **state)
{
  (void)state;
  double lon, lat;
  tile_to_lonlat(0, 0, 0, &lon, &lat);
  assert_true(lon == -180.0);
  assert_near(lat, TILE_MAX_LAT, 1e-12);
  tile_to_lonlat(0, 1, 1, &lon, &lat);
  assert_true(lon == 180.0);
  assert_near(lat, -TILE_MAX_LAT, 1e-12);
  tile_to_lonlat(1, 1, 1, &lon, &lat);
  assert_true(lon == 0.0);
  assert_near(lat, 0.0, 1e-12);
}

/* lon/lat -> fractional tile coordinates -> lon/lat gives the point back */
static void test_tile_lonlat_round_trip(void **state)
{
  (void)state;
  for(uint32_t z = 0; z <= 20; z += 4) {
    for(double lon = -180.0; lon <= 180.0; lon += 7.3) {
      for(double lat = -85.0; lat <= 85.0; lat += 3.1) {
        double fx, fy, lon2, lat2;
        tile_from_lonlat(z, lon, lat, &fx, &fy);
        tile_to_lonlat(z, fx, fy, &lon2, &lat2);
        assert_near(lon2, lon, 1e-9);
        assert_near(lat2, lat, 1e-9);
      }
    }
  }
}

/* fractional tile coordinates -> lon/lat -> back */
static void test_tile_fraction_round_trip(void **state)
{
  (void)state;
  const double fs[] = {0.0, 0.5, 1.25, 3251.9758, 6258.6453, 16383.999};
  for(size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++) {
    for(size_t j = 0; j < sizeof(fs) / sizeof(fs[0]); j++) {
      double lon, lat, fx, fy;
      tile_to_lonlat(14, fs[i], fs[j], &lon, &lat);
      tile_from_lonlat(14, lon, lat, &fx, &fy);
      assert_near(fx, fs[i], 1e-7);
      assert_near(fy, fs[j], 1e-7);
    }
  }
}

static void test_tile_from_lonlat_clamps_latitude(void **state)
{
  (void)state;
  double fx, fy;
  tile_from_lonlat(14, 0, 89.9, &fx, &fy);
  assert_near(fy, 0.0, 1e-6);
  tile_from_lonlat(14, 0, -90, &fx, &fy);
  assert_near(fy, 16384.0, 1e-6);
  assert_false(isnan(fy));
}

static void test_tile_containing_interior_point(void **state)
{
  (void)state;
  struct tile t = tile_containing(14, -108.54545295238495, 39.050839416744786);
  assert_int_equal(t.z, 14);
  assert_int_equal(t.x, 3251);
  assert_int_equal(t.y, 6258);
}

/* A point on a tile edge goes to the tile east / south of the edge, for
 * every edge we try: checked against the edges tile_bounds reports, so no
 * rounding of the inverse projection can move it */
static void test_tile_containing_edges_go_east_and_south(void **state)
{
  (void)state;
  for(uint32_t x = 3000; x < 3300; x += 7) {
    for(uint32_t y = 6000; y < 6400; y += 11) {
      struct tile t = {14, x, y};
      double w, s, e, n;
      tile_bounds(t, &w, &s, &e, &n);
      struct tile c = tile_containing(14, w, n); /* north-west corner */
      assert_int_equal(c.x, x);
      assert_int_equal(c.y, y);
      c = tile_containing(14, e, s); /* south-east corner: the next tile */
      assert_int_equal(c.x, x + 1);
      assert_int_equal(c.y, y + 1);
      c = tile_containing(14, (w + e) / 2, s);
      assert_int_equal(c.x, x);
      assert_int_equal(c.y, y + 1);
    }
  }
}

/* At the world's east and south edges there is no next tile */
static void test_tile_containing_world_edges(void **state)
{
  (void)state;
  struct tile t = tile_containing(14, 180.0, -90.0);
  assert_int_equal(t.x, 16383);
  assert_int_equal(t.y, 16383);
  t = tile_containing(14, -180.0, 90.0);
  assert_int_equal(t.x, 0);
  assert_int_equal(t.y, 0);
  t = tile_containing(14, 180.0, -TILE_MAX_LAT);
  assert_int_equal(t.x, 16383);
  assert_int_equal(t.y, 16383);
  t = tile_containing(0, 180.0, 0);
  assert_int_equal(t.x, 0);
  assert_int_equal(t.y, 0);
  t = tile_containing(1, 0.0, 0.0); /* the centre goes south-east */
  assert_int_equal(t.x, 1);
  assert_int_equal(t.y, 1);
  /* NaN must not be undefined behaviour; any valid tile will do */
  t = tile_containing(14, NAN, NAN);
  assert_true(t.x < 16384 && t.y < 16384);
}

static void test_tile_bounds_neighbours_share_edges(void **state)
{
  (void)state;
  double w1, s1, e1, n1, w2, s2, e2, n2;
  tile_bounds((struct tile){14, 3251, 6258}, &w1, &s1, &e1, &n1);
  tile_bounds((struct tile){14, 3252, 6259}, &w2, &s2, &e2, &n2);
  assert_true(e1 == w2);
  assert_true(s1 == n2);
  assert_true(w1 < e1);
  assert_true(s1 < n1);
  /* the z0 tile is the whole Mercator world */
  tile_bounds((struct tile){0, 0, 0}, &w1, &s1, &e1, &n1);
  assert_true(w1 == -180.0);
  assert_true(e1 == 180.0);
  assert_near(n1, TILE_MAX_LAT, 1e-12);
  assert_near(s1, -TILE_MAX_LAT, 1e-12);
  /* a parent's edges are its children's edges, bit for bit */
  tile_bounds((struct tile){13, 1625, 3129}, &w1, &s1, &e1, &n1);
  tile_bounds((struct tile){14, 3250, 6258}, &w2, &s2, &e2, &n2);
  assert_true(w1 == w2);
  assert_true(n1 == n2);
  tile_bounds((struct tile){14, 3251, 6259}, &w2, &s2, &e2, &n2);
  assert_true(e1 == e2);
  assert_true(s1 == s2);
}

static void test_tile_cmp_orders_by_x_then_y(void **state)
{
  (void)state;
  struct tile a = {14, 1, 9}, b = {14, 2, 0}, c = {14, 2, 1}, d = {14, 2, 1};
  assert_true(tile_cmp(&a, &b) < 0);
  assert_true(tile_cmp(&b, &a) > 0);
  assert_true(tile_cmp(&b, &c) < 0);
  assert_int_equal(tile_cmp(&c, &d), 0);
  struct tile e = {13, 2, 1};
  assert_true(tile_cmp(&e, &c) < 0);
}

static void test_tile_name_formats_and_truncates(void **state)
{
  (void)state;
  char buf[32];
  tile_name((struct tile){14, 3251, 6258}, buf, sizeof(buf));
  assert_string_equal(buf, "14/3251/6258");
  char small[6];
  memset(small, 'x', sizeof(small));
  tile_name((struct tile){14, 3251, 6258}, small, sizeof(small));
  assert_string_equal(small, "14/32");
  tile_name((struct tile){14, 3251, 6258}, small, 0); /* must not write */
  assert_string_equal(small, "14/32");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_tile_pixel_matches_fixture_spot_values),
    cmocka_unit_test(test_tile_pixel_corners_are_tile_bounds),
    cmocka_unit_test(test_tile_to_lonlat_world_corners),
    cmocka_unit_test(test_tile_lonlat_round_trip),
    cmocka_unit_test(test_tile_fraction_round_trip),
    cmocka_unit_test(test_tile_from_lonlat_clamps_latitude),
    cmocka_unit_test(test_tile_containing_interior_point),
    cmocka_unit_test(test_tile_containing_edges_go_east_and_south),
    cmocka_unit_test(test_tile_containing_world_edges),
    cmocka_unit_test(test_tile_bounds_neighbours_share_edges),
    cmocka_unit_test(test_tile_cmp_orders_by_x_then_y),
    cmocka_unit_test(test_tile_name_formats_and_truncates),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
