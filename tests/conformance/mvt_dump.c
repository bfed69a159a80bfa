/* mvt_dump.c -- print lon, lat and sequence_id of every feature of a tile layer, for comparison with GDAL
 *
 * usage: mvt_dump <file.mvt> <z> <x> <y> [<layer>]
 * One line per feature of the layer (default `image`):
 *   <index> TAB <lon> TAB <lat> TAB <sequence_id>
 * with lon/lat in degrees (%.17g) of the feature's first point, computed
 * here from the exact formula, independent of the tile module. A missing
 * sequence_id prints as "(null)". Exit status: 0 ok, 1 decode error (on
 * stderr), 2 usage. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mly/mvt.h"

/* Exact Web Mercator inverse: fractional tile coordinates to degrees */
static void pixel_to_lonlat(unsigned z, unsigned long x, unsigned long y, uint32_t extent,
                            int64_t px, int64_t py, double *lon, double *lat)
{
  const double pi = 3.14159265358979323846;
  double n = ldexp(1.0, (int)z);
  double fx = (double)x + (double)px / extent;
  double fy = (double)y + (double)py / extent;
  *lon = fx / n * 360.0 - 180.0;
  *lat = atan(sinh(pi * (1.0 - 2.0 * fy / n))) * 180.0 / pi;
}

static int read_file(const char *path, uint8_t **out, size_t *n)
{
  FILE *f = fopen(path, "rb");
  size_t cap = 1 << 16, len = 0, got;
  uint8_t *buf;
  if(!f)
    return -1;
  buf = malloc(cap);
  while(buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
    len += got;
    if(len == cap) {
      uint8_t *nb = cap < ((size_t)1 << 30) ? realloc(buf, cap * 2) : NULL;
      if(!nb) {
        free(buf);
        buf = NULL;
      }
      else {
        buf = nb;
        cap *= 2;
      }
    }
  }
  fclose(f);
  if(!buf)
    return -1;
  *out = buf;
  *n = len;
  return 0;
}

static void print_value(const struct mvt_value *v)
{
  switch(v->type) {
  case MVT_VAL_STRING: fwrite(v->v.s.p, 1, v->v.s.n, stdout); break;
  case MVT_VAL_FLOAT: printf("%.9g", (double)v->v.f); break;
  case MVT_VAL_DOUBLE: printf("%.17g", v->v.d); break;
  case MVT_VAL_INT:
  case MVT_VAL_SINT: printf("%lld", (long long)v->v.i); break;
  case MVT_VAL_UINT: printf("%llu", (unsigned long long)v->v.u); break;
  case MVT_VAL_BOOL: fputs(v->v.b ? "true" : "false", stdout); break;
  case MVT_VAL_NONE: fputs("(null)", stdout); break;
  }
}

/* Print the layer's features; returns 0 or 1 (error already printed) */
static int dump_layer(struct mvt_layer *l, unsigned z, unsigned long x, unsigned long y)
{
  struct mvt_index idx;
  struct mvt_feature f;
  struct mly_err err;
  uint32_t seq_key = UINT32_MAX;
  size_t index = 0;
  int rc;

  mvt_index_init(&idx);
  if(mvt_layer_index(l, &idx, &err)) {
    fprintf(stderr, "mvt_dump: %s\n", err.msg);
    mvt_index_cleanup(&idx);
    return 1;
  }
  for(size_t i = 0; i < idx.nkeys; i++)
    if(mly_view_eq(idx.keys[i], "sequence_id"))
      seq_key = (uint32_t)i;
  while((rc = mvt_layer_next_feature(l, &f, &err)) == 1) {
    struct mvt_tag_iter it;
    const struct mvt_value *seq = NULL;
    uint32_t k, v;
    int64_t xy[2 * 64];
    size_t n;
    double lon, lat;

    /* the first point stands for the feature (image layers hold Points) */
    if(mvt_decode_points(&f, xy, 64, &n, &err))
      goto decode_error;
    mvt_tags_begin(&f, &it);
    while((rc = mvt_tags_next(&it, &k, &v, &err)) == 1) {
      if(k >= idx.nkeys || v >= idx.nvalues) {
        fprintf(stderr, "mvt_dump: tag index out of range in feature %zu\n", index);
        mvt_index_cleanup(&idx);
        return 1;
      }
      if(k == seq_key)
        seq = &idx.values[v];
    }
    if(rc < 0)
      goto decode_error;
    pixel_to_lonlat(z, x, y, l->extent, xy[0], xy[1], &lon, &lat);
    printf("%zu\t%.17g\t%.17g\t", index, lon, lat);
    if(seq)
      print_value(seq);
    else
      fputs("(null)", stdout);
    putchar('\n');
    index++;
  }
  if(rc < 0)
    goto decode_error;
  mvt_index_cleanup(&idx);
  return 0;

decode_error:
  fprintf(stderr, "mvt_dump: %s\n", err.msg);
  mvt_index_cleanup(&idx);
  return 1;
}

static int parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if(errno || end == s || *end || v > max || s[0] == '-')
    return -1;
  *out = v;
  return 0;
}

int main(int argc, char **argv)
{
  unsigned long z, x, y;
  const char *want = argc > 5 ? argv[5] : "image";
  uint8_t *data;
  size_t n;
  struct mvt_tile t;
  struct mvt_layer l;
  struct mly_err err;
  int rc, status = 0;
  bool found = false;

  if(argc < 5 || argc > 6 || parse_ulong(argv[2], 30, &z) ||
     parse_ulong(argv[3], (1ul << z) - 1, &x) || parse_ulong(argv[4], (1ul << z) - 1, &y)) {
    fprintf(stderr, "usage: mvt_dump <file.mvt> <z> <x> <y> [<layer>]\n");
    return 2;
  }
  if(read_file(argv[1], &data, &n)) {
    fprintf(stderr, "mvt_dump: cannot read %s\n", argv[1]);
    return 1;
  }
  mvt_tile_init(&t, data, n);
  while((rc = mvt_next_layer(&t, &l, &err)) == 1) {
    if(!mly_view_eq(l.name, want))
      continue;
    found = true;
    status = dump_layer(&l, (unsigned)z, x, y);
    break;
  }
  if(rc < 0) {
    fprintf(stderr, "mvt_dump: %s\n", err.msg);
    status = 1;
  }
  else if(!found) {
    fprintf(stderr, "mvt_dump: no layer '%s' in %s\n", want, argv[1]);
    status = 1;
  }
  free(data);
  return status;
}
