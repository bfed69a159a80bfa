/* cmd_organization.c -- organization <id>...: the name of each organization id */
#include "cli_args.h"
#include "mly/orgnames.h"

#include <stdlib.h>
#include <string.h>

/* organization <id>...: id and name of each */
static int run_organization(struct cli_opts *co)
{
  const char *token = getenv("MAPILLARY_ACCESS_TOKEN");
  if(!token || !*token) {
    fprintf(stderr, "mapillary: MAPILLARY_ACCESS_TOKEN is not set; it is needed for the Graph API\n");
    return CLI_USAGE;
  }
  for(int i = 0; i < co->nargs; i++)
    for(const char *c = co->args[i]; *c; c++)
      if(!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z'))) {
        fprintf(stderr, "mapillary: invalid organization id '%.64s'\n", co->args[i]);
        return CLI_USAGE;
      }
  if(co->nargs <= 0)
    return CLI_USAGE; /* cli_parse asks for one or more */
  struct orgname *names = calloc((size_t)co->nargs, sizeof(*names));
  if(!names)
    return CLI_FAILED;
  for(int i = 0; i < co->nargs; i++)
    names[i].id = co->args[i];
  struct fetch_opts fo = {(int)co->concurrency, (int)co->retries, co->timeout_s, 1 << 20, token, 0,
                          co->max_retry_wait_s};
  const char *backoff = getenv("MAPILLARY_BACKOFF_MS");
  if(backoff)
    fo.backoff_ms = (unsigned)strtoul(backoff, NULL, 10);
  struct mly_err err = {0};
  enum mly_rc rc = orgnames_lookup(&fo, co->graph_url, names, (size_t)co->nargs, &cli_stop_requested, &err);
  if(!rc)
    for(int i = 0; i < co->nargs; i++)
      printf("%s\t%s\n", names[i].id, names[i].name ? names[i].name : "(unknown)");
  else
    fprintf(stderr, "mapillary: %s\n", err.msg);
  orgnames_cleanup(names, (size_t)co->nargs);
  free(names);
  return rc ? cli_exit_for(rc, true) : CLI_OK;
}

int cmd_organization(int argc, char **argv)
{
  struct cli_opts co;
  char **largv;
  int rc = cli_parse_legacy(argc, argv, &co, &largv);
  if(!rc && !cli_checking())
    rc = run_organization(&co);
  free(largv);
  return rc;
}
