/* cli_opts.c -- argv to struct cli_opts: seed spellings, dashed spellings, space forms */
#include "cli.h"
#include "mly/outfile.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum opt_id {
  OPT_CACHE = 256,
  OPT_CONCURRENCY,
  OPT_DRY_RUN,
  OPT_MAX_AGE,
  OPT_MAX_REQUESTS,
  OPT_MAX_RETRY_WAIT,
  OPT_NO_ID_REPAIR,
  OPT_ORGANIZATION_NAMES,
  OPT_PRUNE_EMPTY,
  OPT_SHARD,
  OPT_FIELD_NAME,
  OPT_GRAPH_URL,
  OPT_HELP,
  OPT_INPUT_AOI,
  OPT_MAX_TILE_BYTES,
  OPT_MAX_TILES,
  OPT_ONLY_PANO,
  OPT_ORGANIZATION_IDS,
  OPT_OUTPUT_FILE_POINT,
  OPT_OUTPUT_FILE_SEQUENCE,
  OPT_PROGRESS,
  OPT_QUIET,
  OPT_RETRIES,
  OPT_SPLIT_PANO,
  OPT_TABLE_POINT,
  OPT_TABLE_SEQUENCE,
  OPT_TILES_URL,
  OPT_TIMEOUT,
  OPT_TIMESTAMP_FROM,
  OPT_TIMESTAMP_TO,
  OPT_VERSION
};

/* Alphabetical; every option also under its dashed spelling */
static const struct option long_opts[] = {
  {"cache", required_argument, NULL, OPT_CACHE},
  {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
  {"dry_run", no_argument, NULL, OPT_DRY_RUN},
  {"dry-run", no_argument, NULL, OPT_DRY_RUN},
  {"field_name", required_argument, NULL, OPT_FIELD_NAME},
  {"field-name", required_argument, NULL, OPT_FIELD_NAME},
  {"graph_url", required_argument, NULL, OPT_GRAPH_URL},
  {"graph-url", required_argument, NULL, OPT_GRAPH_URL},
  {"help", no_argument, NULL, OPT_HELP},
  {"input_aoi", required_argument, NULL, OPT_INPUT_AOI},
  {"input-aoi", required_argument, NULL, OPT_INPUT_AOI},
  {"max_tile_bytes", required_argument, NULL, OPT_MAX_TILE_BYTES},
  {"max-tile-bytes", required_argument, NULL, OPT_MAX_TILE_BYTES},
  {"max_age", required_argument, NULL, OPT_MAX_AGE},
  {"max-age", required_argument, NULL, OPT_MAX_AGE},
  {"max_requests", required_argument, NULL, OPT_MAX_REQUESTS},
  {"max-requests", required_argument, NULL, OPT_MAX_REQUESTS},
  {"max_retry_wait", required_argument, NULL, OPT_MAX_RETRY_WAIT},
  {"max-retry-wait", required_argument, NULL, OPT_MAX_RETRY_WAIT},
  {"max_tiles", required_argument, NULL, OPT_MAX_TILES},
  {"max-tiles", required_argument, NULL, OPT_MAX_TILES},
  {"no_id_repair", no_argument, NULL, OPT_NO_ID_REPAIR},
  {"no-id-repair", no_argument, NULL, OPT_NO_ID_REPAIR},
  {"only_pano", no_argument, NULL, OPT_ONLY_PANO},
  {"only-pano", no_argument, NULL, OPT_ONLY_PANO},
  {"organization_ids", required_argument, NULL, OPT_ORGANIZATION_IDS},
  {"organization-ids", required_argument, NULL, OPT_ORGANIZATION_IDS},
  {"organization_names", no_argument, NULL, OPT_ORGANIZATION_NAMES},
  {"organization-names", no_argument, NULL, OPT_ORGANIZATION_NAMES},
  {"output_file_point", required_argument, NULL, OPT_OUTPUT_FILE_POINT},
  {"output-file-point", required_argument, NULL, OPT_OUTPUT_FILE_POINT},
  {"output_file_sequence", required_argument, NULL, OPT_OUTPUT_FILE_SEQUENCE},
  {"output-file-sequence", required_argument, NULL, OPT_OUTPUT_FILE_SEQUENCE},
  {"progress", no_argument, NULL, OPT_PROGRESS},
  {"prune_empty", no_argument, NULL, OPT_PRUNE_EMPTY},
  {"prune-empty", no_argument, NULL, OPT_PRUNE_EMPTY},
  {"quiet", no_argument, NULL, OPT_QUIET},
  {"retries", required_argument, NULL, OPT_RETRIES},
  {"shard", required_argument, NULL, OPT_SHARD},
  {"split_pano", no_argument, NULL, OPT_SPLIT_PANO},
  {"split-pano", no_argument, NULL, OPT_SPLIT_PANO},
  {"table_point", required_argument, NULL, OPT_TABLE_POINT},
  {"table-point", required_argument, NULL, OPT_TABLE_POINT},
  {"table_sequence", required_argument, NULL, OPT_TABLE_SEQUENCE},
  {"table-sequence", required_argument, NULL, OPT_TABLE_SEQUENCE},
  {"tiles_url", required_argument, NULL, OPT_TILES_URL},
  {"tiles-url", required_argument, NULL, OPT_TILES_URL},
  {"timeout", required_argument, NULL, OPT_TIMEOUT},
  {"timestamp_from", required_argument, NULL, OPT_TIMESTAMP_FROM},
  {"timestamp-from", required_argument, NULL, OPT_TIMESTAMP_FROM},
  {"timestamp_to", required_argument, NULL, OPT_TIMESTAMP_TO},
  {"timestamp-to", required_argument, NULL, OPT_TIMESTAMP_TO},
  {"version", no_argument, NULL, OPT_VERSION},
  {NULL, 0, NULL, 0},
};

static enum cli_exit usage_error(const char *fmt, const char *a, const char *b)
{
  char line[512];
  snprintf(line, sizeof(line), fmt, a, b);
  /* the message quotes argv: keep it on one line whatever it holds */
  for(char *c = line; *c; c++)
    if((unsigned char)*c < 0x20 || *c == 0x7f)
      *c = '?';
  fprintf(stderr, "mapillary: %s (try 'mapillary --help')\n", line);
  return CLI_USAGE;
}

static bool parse_long(const char *s, long long lo, long long hi, long long *out)
{
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if(errno || end == s || *end || v < lo || v > hi)
    return false;
  *out = v;
  return true;
}

static void defaults(struct cli_opts *o)
{
  memset(o, 0, sizeof(*o));
  o->output_file_point = "mapillary_points.geojson";
  o->output_file_sequence = "mapillary_sequences.geojson";
  const char *env = getenv("MAPILLARY_TILES_URL");
  o->tiles_url = env && *env ? env : JOB_DEFAULT_TILES_URL;
  env = getenv("MAPILLARY_GRAPH_URL");
  o->graph_url = env && *env ? env : JOB_DEFAULT_GRAPH_URL;
  o->concurrency = 16;
  o->retries = 5;
  o->timeout_s = 60;
  o->max_tile_bytes = 64LL << 20;
  o->max_tiles = 1000000;
  o->max_age_s = -1;
  o->max_retry_wait_s = FETCH_DEFAULT_MAX_RETRY_WAIT_S;
}

/* seconds, or a number with a unit: 90s, 30m, 12h, 7d */
static bool parse_age(const char *s, long long *out)
{
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if(errno || end == s || v < 0)
    return false;
  long long mul = 1;
  if(*end) {
    switch(*end) {
    case 's': mul = 1; break;
    case 'm': mul = 60; break;
    case 'h': mul = 3600; break;
    case 'd': mul = 86400; break;
    default: return false;
    }
    if(end[1])
      return false;
  }
  if(v > (1LL << 40) / mul)
    return false;
  *out = v * mul;
  return true;
}

static enum cli_exit set_option(struct cli_opts *o, int id, const char *name, const char *arg)
{
  long long v;
  switch(id) {
  case OPT_CONCURRENCY:
    if(!parse_long(arg, 1, 1024, &v))
      return usage_error("--%s must be a whole number from 1 to 1024, not '%s'", name, arg);
    o->concurrency = (long)v;
    break;
  case OPT_RETRIES:
    if(!parse_long(arg, 1, 100, &v))
      return usage_error("--%s must be a whole number from 1 to 100, not '%s'", name, arg);
    o->retries = (long)v;
    break;
  case OPT_MAX_TILE_BYTES:
    if(!parse_long(arg, 1024, 1LL << 32, &v))
      return usage_error("--%s must be a whole number from 1024 to 4294967296, not '%s'", name, arg);
    o->max_tile_bytes = v;
    break;
  case OPT_MAX_TILES:
    if(!parse_long(arg, 1, 1LL << 40, &v))
      return usage_error("--%s must be a positive whole number, not '%s'", name, arg);
    o->max_tiles = v;
    break;
  case OPT_TIMEOUT: {
    /* decimal only, as every number the tool reads (no hexadecimal) */
    size_t len = strlen(arg);
    char *end = (char *)arg;
    double t = len && mly_decimal_len(arg, len) == len ? strtod(arg, &end) : NAN;
    if(end == arg || *end || !isfinite(t) || t <= 0 || t > 86400)
      return usage_error("--%s must be a number of seconds above 0, not '%s'", name, arg);
    o->timeout_s = t;
    break;
  }
  case OPT_MAX_AGE:
    if(!parse_age(arg, &v))
      return usage_error("--%s must be seconds or a number with s, m, h or d (7d), not '%s'", name, arg);
    o->max_age_s = v;
    break;
  case OPT_MAX_REQUESTS:
    if(!parse_long(arg, 1, 1LL << 40, &v))
      return usage_error("--%s must be a positive whole number, not '%s'", name, arg);
    o->max_requests = v;
    break;
  case OPT_MAX_RETRY_WAIT:
    if(!parse_long(arg, 1, 86400, &v))
      return usage_error("--%s must be a whole number of seconds from 1 to 86400, not '%s'", name, arg);
    o->max_retry_wait_s = (unsigned)v;
    break;
  case OPT_SHARD: {
    unsigned k, n;
    char tail;
    if(sscanf(arg, "%u/%u%c", &k, &n, &tail) != 2 || n < 1 || n > 100000 || k < 1 || k > n)
      return usage_error("--%s must be K/N with 1 <= K <= N (e.g. 2/8), not '%s'", name, arg);
    o->shard_k = k;
    o->shard_n = n;
    break;
  }
  case OPT_CACHE: o->cache = arg; break;
  case OPT_DRY_RUN: o->dry_run = true; break;
  case OPT_PRUNE_EMPTY: o->prune_empty = true; break;
  case OPT_NO_ID_REPAIR: o->no_id_repair = true; break;
  case OPT_ORGANIZATION_NAMES: o->organization_names = true; break;
  case OPT_FIELD_NAME: o->field_name = arg; break;
  case OPT_GRAPH_URL: o->graph_url = arg; break;
  case OPT_INPUT_AOI: o->input_aoi = arg; break;
  case OPT_ONLY_PANO: o->only_pano = true; break;
  case OPT_ORGANIZATION_IDS: o->organization_ids = arg; break;
  case OPT_OUTPUT_FILE_POINT: o->output_file_point = arg; break;
  case OPT_OUTPUT_FILE_SEQUENCE: o->output_file_sequence = arg; break;
  case OPT_PROGRESS: o->progress = true; break;
  case OPT_QUIET: o->quiet = true; break;
  case OPT_SPLIT_PANO: o->split_pano = true; break;
  case OPT_TABLE_POINT:
  case OPT_TABLE_SEQUENCE:
    if(!outfile_pg_table_ok(arg))
      return usage_error("--%s must be a plain table name (a letter or '_', then letters, "
                         "digits, '_'; at most 40), not '%s'", name, arg);
    *(id == OPT_TABLE_POINT ? &o->table_point : &o->table_sequence) = arg;
    break;
  case OPT_TILES_URL: o->tiles_url = arg; break;
  case OPT_TIMESTAMP_FROM: o->timestamp_from = arg; break;
  case OPT_TIMESTAMP_TO: o->timestamp_to = arg; break;
  case OPT_HELP: o->help = true; break;
  case OPT_VERSION: o->cmd = CLI_CMD_VERSION; break;
  }
  return CLI_OK;
}

/* An http://, https:// or file:// URL with something after the scheme */
static bool url_root_ok(const char *u)
{
  static const char *const schemes[] = {"http://", "https://", "file://"};
  for(size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
    size_t n = strlen(schemes[i]);
    if(strncasecmp(u, schemes[i], n) == 0)
      return u[n] != '\0';
  }
  return false;
}

static const char *name_of(int id)
{
  for(const struct option *op = long_opts; op->name; op++)
    if(op->val == id)
      return op->name;
  return "?";
}

enum cli_exit cli_parse(int argc, char **argv, struct cli_opts *o)
{
  defaults(o);
  int first = 1;
  if(argc >= 2 && argv[1][0] != '-') {
    static const struct {
      const char *name;
      enum cli_command cmd;
    } cmds[] = {
      {"get_mapillary_points", CLI_CMD_POINTS}, {"get-mapillary-points", CLI_CMD_POINTS},
      {"organizations", CLI_CMD_ORGANIZATIONS}, {"organization", CLI_CMD_ORGANIZATION},
      {"merge_cache", CLI_CMD_MERGE_CACHE}, {"merge-cache", CLI_CMD_MERGE_CACHE},
    };
    for(size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
      if(strcmp(argv[1], cmds[i].name) == 0)
        o->cmd = cmds[i].cmd;
    if(o->cmd == CLI_CMD_NONE)
      return usage_error("unknown command '%s'%s", argv[1], "");
    first = 2;
  }
  /* getopt_long over argv[first-1 ..]: element 0 is skipped as the name */
  int gargc = argc - first + 1;
  char **gargv = argv + first - 1;
  opterr = 0;
  optind = 0; /* a full restart: a chained command line parses several parts */
  int c;
  /* "+": stop at the first non-option so stray words are reported; the
   * commands taking arguments (ids, files) let getopt collect them instead */
  bool positional = o->cmd == CLI_CMD_ORGANIZATION || o->cmd == CLI_CMD_MERGE_CACHE;
  while((c = getopt_long(gargc, gargv, positional ? ":h" : "+:h", long_opts, NULL)) != -1) {
    const char *arg = gargv[optind - 1];
    if(c == 'h')
      c = OPT_HELP;
    if(c == '?' && optopt >= OPT_CACHE) /* a known flag given a value: --only_pano=yes */
      return usage_error("option --%s takes no value (given '%s')", name_of(optopt), arg);
    if(c == '?')
      return usage_error("unknown option '%s'%s", optopt ? "-" : arg,
                         optopt ? (char[]){(char)optopt, 0} : "");
    if(c == ':')
      return usage_error("option '%s' needs a value%s", arg, "");
    enum cli_exit rc = set_option(o, c, name_of(c), optarg);
    if(rc)
      return rc;
  }
  if(positional) {
    o->args = gargv + optind;
    o->nargs = gargc - optind;
  }
  else if(optind < gargc)
    return usage_error("unexpected argument '%s'%s", gargv[optind], "");
  if(o->cmd == CLI_CMD_VERSION)
    return CLI_OK;
  if(o->cmd == CLI_CMD_NONE) {
    if(o->help)
      o->cmd = CLI_CMD_HELP;
    else
      return usage_error("missing command: use 'mapillary get_mapillary_points --input_aoi=...'%s%s",
                         "", "");
    return CLI_OK;
  }
  if(o->help)
    return CLI_OK;
  if(!url_root_ok(o->graph_url))
    return usage_error("--graph_url (or MAPILLARY_GRAPH_URL) must be an http://, https:// or file:// "
                       "URL, not '%.200s'%s", o->graph_url, "");
  if(o->cmd == CLI_CMD_ORGANIZATION) {
    if(o->nargs == 0)
      return usage_error("organization needs one or more organization ids%s%s", "", "");
    return CLI_OK;
  }
  if(o->cmd == CLI_CMD_MERGE_CACHE) {
    if(!o->cache || o->nargs == 0)
      return usage_error("merge_cache needs --cache=<dest> and one or more source caches%s%s", "", "");
    return CLI_OK;
  }
  if(!o->input_aoi)
    return usage_error("--input_aoi is required%s%s", "", "");
  if(o->shard_n && !o->cache)
    return usage_error("--shard needs --cache: a shard only fills the cache%s%s", "", "");
  /* standard output takes one GeoJSON stream: the points of one area */
  if(strcmp(o->output_file_sequence, "-") == 0)
    return usage_error("--output_file_sequence cannot be '-': standard output is for the points%s%s",
                       "", "");
  if(strcmp(o->output_file_point, "-") == 0 && (o->field_name || o->split_pano))
    return usage_error("--output_file_point=- writes one stream: not with --%s%s",
                       o->field_name ? "field_name" : "split_pano", "");
  return CLI_OK;
}

bool cli_opts_takes_value(const char *token)
{
  if(strncmp(token, "--", 2) != 0 || strchr(token, '='))
    return false;
  for(const struct option *op = long_opts; op->name; op++)
    if(strcmp(op->name, token + 2) == 0)
      return op->has_arg == required_argument;
  return false;
}
