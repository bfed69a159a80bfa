/* fuzz_featread.c -- libFuzzer harness: the workflow input reader in every
 * text format (the first byte picks it), and the writers on what it reads */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mly/featread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char *const names[] = {"in.geojson", "in.geojsonl", "in.geojsons", "in.csv"};
  if(size < 1 || size > (1u << 20))
    return 0;
  const char *name = names[data[0] % 4];
  FILE *fp = fmemopen((void *)(data + 1), size - 1 ? size - 1 : 1, "rb");
  if(!fp)
    return 0;
  if(size == 1)
    fseek(fp, 0, SEEK_END); /* fmemopen needs a size: read nothing */
  struct featread *r = NULL;
  struct mly_err err = {0};
  struct dbuf b;
  dbuf_init(&b, 1u << 26);
  struct featcsv csv = {0};
  enum mly_rc rc = featread_open_stream(fp, name, &r, &err);
  uint64_t n = 0;
  while(!rc) {
    struct feature f;
    bool got;
    rc = featread_next(r, &f, &got, &err);
    if(rc || !got)
      break;
    /* every feature handed out is an object with an object of properties */
    if(!json_is_object(f.properties) || (f.geometry && !json_is_object(f.geometry)) || f.index != n++)
      abort();
    dbuf_reset(&b);
    if(feature_write_geojson(&b, f.properties, f.geometry) != MLY_OK)
      abort();
    /* what the writer writes is JSON that reads back */
    json_t *back = json_loadb(b.p, b.n, 0, NULL);
    if(!back)
      abort();
    json_decref(back);
    dbuf_reset(&b);
    struct mly_err werr;
    enum mly_rc wrc = feature_write(&b, OUTFMT_CSV, &csv, f.properties, f.geometry, &werr);
    if(wrc != MLY_OK && wrc != MLY_EINVAL)
      abort();
  }
  if(rc && (err.msg[0] == '\0' || strchr(err.msg, '\n')))
    abort(); /* a failure always says why, on one line */
  featcsv_cleanup(&csv);
  dbuf_cleanup(&b);
  featread_close(&r);
  fclose(fp);
  return 0;
}
