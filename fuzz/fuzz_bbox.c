/* fuzz_bbox.c -- libFuzzer harness: parse bbox text, then test points and cover tiles */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mly/aoi.h"
#include "../src/lib/geo/aoi_internal.h"

static void check(bool ok)
{
  if(!ok)
    abort();
}

static void exercise(const double b[4], uint32_t z)
{
  struct aoi_set *set = NULL;
  struct mly_err err = {0};
  if(mly__aoi_set_from_bbox(b, &set, &err))
    return;
  struct aoi *a = aoi_set_get(set, 0);
  check(aoi_covers(a, b[0], b[1]) && aoi_covers(a, b[2], b[3]));
  struct aoi_tile *v = NULL;
  size_t n = 0;
  enum mly_rc rc = aoi_cover(a, z, 4096, &v, &n, &err);
  if(rc == MLY_OK) {
    check(n > 0);
    for(size_t i = 0; i < n; i++) {
      check(v[i].t.z == z && v[i].t.x < (1u << z) && v[i].t.y < (1u << z));
      if(i)
        check(tile_cmp(&v[i - 1].t, &v[i].t) < 0);
      double w, s, e, nn;
      tile_bounds(v[i].t, &w, &s, &e, &nn);
      /* an inside tile is covered at its corners */
      if(v[i].rel == AOI_TILE_INSIDE)
        check(aoi_covers(a, w, s) && aoi_covers(a, e, nn));
    }
    /* the tile of each bbox corner (clamped to Mercator) is in the cover */
    struct tile c = tile_containing(z, b[0], b[3]);
    bool found = false;
    for(size_t i = 0; i < n && !found; i++)
      found = v[i].t.x == c.x && v[i].t.y == c.y;
    check(found);
  }
  else
    check(rc == MLY_ETOOBIG && err.msg[0] != '\0');
  free(v);
  aoi_set_free(&set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if(size > 4096)
    return 0;
  /* the first byte picks the zoom; the rest is the text */
  uint32_t z = size ? data[0] % 15 : 0;
  char *text = malloc(size + 1);
  if(!text)
    return 0;
  if(size)
    memcpy(text, data + 1, size - 1);
  text[size ? size - 1 : 0] = '\0';

  double b[4];
  struct mly_err err = {0};
  enum mly_rc rc = aoi_parse_bbox(text, b, &err);
  if(rc == MLY_OK) {
    check(b[0] >= -180 && b[0] <= 180 && b[2] >= -180 && b[2] <= 180);
    check(b[1] >= -90 && b[3] <= 90 && b[1] < b[3] && b[0] != b[2]);
    exercise(b, z);
  }
  else
    check(rc == MLY_EFORMAT && err.msg[0] != '\0' && strchr(err.msg, '\n') == NULL &&
          strncmp(err.msg, "bbox: ", 6) == 0);
  free(text);
  return 0;
}
