/* fuzz_aoi_geojson.c -- libFuzzer harness: load GeoJSON areas, then test points and cover tiles */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mly/aoi.h"

/* Invariants a loaded area must keep; a violation aborts the run */
static void check(bool ok)
{
  if(!ok)
    abort();
}

static void check_name(const char *name)
{
  if(!name)
    return;
  check(name[0] != '\0' && name[0] != '.');
  for(const char *c = name; *c; c++)
    check((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
          *c == '-' || *c == '_' || *c == '.');
}

static void exercise(struct aoi *a)
{
  double w, s, e, n;
  aoi_bounds(a, &w, &s, &e, &n);
  check(w >= -180 && e <= 180 && s >= -90 && n <= 90 && w <= e && s <= n);
  /* the envelope's corners and centre: any answer, but no crash */
  (void)aoi_covers(a, w, s);
  (void)aoi_covers(a, e, n);
  (void)aoi_covers(a, (w + e) / 2, (s + n) / 2);

  struct aoi_tile *v = NULL;
  size_t cnt = 0;
  struct mly_err err = {0};
  enum mly_rc rc = aoi_cover(a, 6, 1024, &v, &cnt, &err);
  if(rc == MLY_OK) {
    check(cnt > 0);
    for(size_t i = 1; i < cnt; i++)
      check(tile_cmp(&v[i - 1].t, &v[i].t) < 0);
    /* an inside tile's centre must be covered */
    for(size_t i = 0; i < cnt; i++) {
      if(v[i].rel != AOI_TILE_INSIDE)
        continue;
      double tw, ts, te, tn;
      tile_bounds(v[i].t, &tw, &ts, &te, &tn);
      check(aoi_covers(a, (tw + te) / 2, (ts + tn) / 2));
    }
  }
  else
    check(err.msg[0] != '\0');
  free(v);
}

static void run(const uint8_t *data, size_t size, const char *field)
{
  struct aoi_set *set = NULL;
  struct mly_err err = {0};
  enum mly_rc rc = aoi_set_load_buffer((const char *)data, size, field, &set, &err);
  if(rc) {
    check(set == NULL && err.msg[0] != '\0' && strchr(err.msg, '\n') == NULL);
    return;
  }
  check(aoi_set_count(set) > 0);
  for(size_t i = 0; i < aoi_set_count(set) && i < 8; i++) {
    struct aoi *a = aoi_set_get(set, i);
    check_name(aoi_name(a));
    check((field != NULL) == (aoi_name(a) != NULL));
    exercise(a);
  }
  aoi_set_free(&set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  run(data, size, NULL);
  run(data, size, "area");
  return 0;
}
