/* cli_args.h -- the options of a workflow command: one table per command
 *
 * Each command (src/cli/cmd_<name>.c) describes its options in a static
 * table of struct cli_arg rows, each naming a member of the command's own
 * options struct (offsetof), and calls cli_args_parse. The rules are the
 * same for every command, as geokit's users expect them:
 *   - names are written with underscores (geokit's spelling, --geojson_input);
 *     the dashed spelling (--geojson-input) is accepted too;
 *   - a value is given as --opt=value or --opt value, also when the value
 *     starts with '-' (a western longitude, a negative distance);
 *   - a flag takes no value: --quiet; --quiet=yes is an error saying so;
 *   - a repeated option: the last one counts;
 *   - required options missing, unknown options, stray words and values
 *     that are not of the option's kind are one-line errors, status 2;
 *   - --help (or -h) prints the command's help, generated from the table.
 *
 * The rows of the table are written with the CLI_OPT* macros so that
 * tests/docs/check_man.sh can list every option of every command. */
#ifndef MLY_CLI_ARGS_H
#define MLY_CLI_ARGS_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"

/* cli_args_parse's status when --help was asked for (and printed): the
 * command does nothing and the run ends with status 0 */
#define CLI_HELP_SHOWN 100

enum cli_arg_kind {
  CLI_ARG_STRING, /* const char *: the argv text */
  CLI_ARG_FLAG,   /* bool: set to true */
  CLI_ARG_INT,    /* long long within [lo, hi] */
  CLI_ARG_NUMBER  /* double, finite, within [lo, hi] (above lo when lo_open) */
};

struct cli_arg {
  const char *name;    /* underscore spelling, without "--" */
  enum cli_arg_kind kind;
  size_t offset;       /* of the value in the command's options struct */
  bool required;
  const char *metavar; /* "<path>" in the help; NULL for flags */
  const char *help;    /* one line (more lines separated by '\n') */
  double lo, hi;       /* CLI_ARG_INT and CLI_ARG_NUMBER */
  bool lo_open;        /* CLI_ARG_NUMBER: the value must be above lo */
};

#define CLI_OPT_STRING(name, type, member, req, metavar, help) \
  {name, CLI_ARG_STRING, offsetof(type, member), req, metavar, help, 0, 0, false}
#define CLI_OPT_FLAG(name, type, member, help) \
  {name, CLI_ARG_FLAG, offsetof(type, member), false, NULL, help, 0, 0, false}
#define CLI_OPT_INT(name, type, member, req, metavar, help, lo, hi) \
  {name, CLI_ARG_INT, offsetof(type, member), req, metavar, help, lo, hi, false}
#define CLI_OPT_NUMBER(name, type, member, req, metavar, help, lo, hi, lo_open) \
  {name, CLI_ARG_NUMBER, offsetof(type, member), req, metavar, help, lo, hi, lo_open}

/* A command's description for parsing and help */
struct cli_spec {
  const char *name;     /* the command, e.g. "merge_sequences" */
  const char *usage;    /* what follows the command name in the usage line */
  const char *about;    /* a paragraph under the usage line */
  const struct cli_arg *args;
  size_t nargs;
};

/* Options shared by the commands that reach the network (defaults: those of
 * get_mapillary_points) and the two message options of every command. */
struct cli_net {
  long long concurrency, retries, max_requests; /* max_requests 0: no limit */
  double timeout_s;
  const char *graph_url;
  bool quiet, progress;
};

/* Defaults: concurrency 16, retries 5, timeout 60 s, no request budget,
 * graph_url from MAPILLARY_GRAPH_URL or the Graph API's */
void cli_net_defaults(struct cli_net *n);

/* The message options, for a member `m` (a struct cli_net) of `type` */
#define CLI_OPTS_MESSAGES(type, m)                                                            \
  CLI_OPT_FLAG("quiet", type, m.quiet, "no progress and no summary"),                         \
  CLI_OPT_FLAG("progress", type, m.progress, "progress lines on stderr even when it is not a terminal")

/* The network options (with the message options) */
#define CLI_OPTS_NET(type, m)                                                                 \
  CLI_OPT_INT("concurrency", type, m.concurrency, false, "<n>", "requests in flight (default 16)", \
              1, 1024),                                                                       \
  CLI_OPT_INT("retries", type, m.retries, false, "<n>", "attempts per request (default 5)", 1, 100), \
  CLI_OPT_NUMBER("timeout", type, m.timeout_s, false, "<seconds>", "per attempt (default 60)", 0, \
                 86400, true),                                                                \
  CLI_OPT_STRING("graph_url", type, m.graph_url, false, "<url>",                              \
                 "Graph API root (env MAPILLARY_GRAPH_URL)"),                                 \
  CLI_OPT_INT("max_requests", type, m.max_requests, false, "<n>",                             \
              "stop after n requests (status 3; rerun to resume)", 1, 1099511627776.0),       \
  CLI_OPTS_MESSAGES(type, m)

/* Parse argv[1..argc-1] (argv[0] is the command name) into opts, whose
 * defaults the caller has set. CLI_OK; CLI_USAGE after printing one error
 * line to stderr; CLI_HELP_SHOWN after printing the help to stdout. */
int cli_args_parse(const struct cli_spec *spec, int argc, char **argv, void *opts);

/* The help of a command, from its table */
void cli_args_help(const struct cli_spec *spec, FILE *out);

/* Whether token (e.g. "--geojson_input" or "--geojson-input", without
 * "=value") is an option of spec that takes a value: the word after it is
 * that value, never the name of a chained command */
bool cli_args_takes_value(const struct cli_spec *spec, const char *token);

/* The one-line usage error every command prints: "mapillary: <text>
 * (try 'mapillary <command> --help')"; control characters of argv shown as
 * '?'. Returns CLI_USAGE. */
int cli_usage_error(const char *command, const char *fmt, ...) MLY_PRINTF(2, 3);

/* The dispatch table's rows (main.c), for the main help */
struct cli_cmd {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
  const struct cli_spec *spec; /* NULL: get_mapillary_points' parser (cli_opts.c) */
};
const struct cli_cmd *cli_commands(size_t *n);

/* True while main checks every part of a chained command line before any
 * runs: a command parses and validates its options, then returns CLI_OK
 * without touching a file (inputs may be written by an earlier part). */
bool cli_checking(void);

#endif
