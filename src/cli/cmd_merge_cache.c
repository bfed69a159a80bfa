/* cmd_merge_cache.c -- merge_cache --cache=<dest> <src>...: shard caches into one */
#include "cli_args.h"
#include "mly/cache.h"

#include <stdlib.h>

/* merge_cache --cache=<dest> <src>...: tiles of shard caches into one */
static int run_merge_cache(struct cli_opts *co)
{
  struct cache *dest = NULL;
  struct mly_err err = {0};
  enum mly_rc rc = cache_open(co->cache, &dest, &err);
  size_t total = 0;
  for(int i = 0; i < co->nargs && !rc; i++) {
    size_t copied = 0;
    rc = cache_merge_from(dest, co->args[i], &copied, &err);
    total += copied;
    if(!rc && !co->quiet)
      fprintf(stderr, "mapillary: %s: %zu tiles merged\n", co->args[i], copied);
  }
  cache_close(&dest);
  if(rc) {
    fprintf(stderr, "mapillary: %s\n", err.msg);
    return rc == MLY_EFORMAT || rc == MLY_EINVAL ? CLI_USAGE : CLI_FAILED;
  }
  if(!co->quiet)
    fprintf(stderr, "mapillary: %zu tiles merged into %s\n", total, co->cache);
  return CLI_OK;
}

int cmd_merge_cache(int argc, char **argv)
{
  struct cli_opts co;
  char **largv;
  int rc = cli_parse_legacy(argc, argv, &co, &largv);
  if(!rc && !cli_checking())
    rc = run_merge_cache(&co);
  free(largv);
  return rc;
}
