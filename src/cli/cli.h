/* cli.h -- command line of the mapillary tool: options, help, exit codes */
#ifndef MLY_CLI_H
#define MLY_CLI_H

#include <signal.h>
#include <stdio.h>
#include "mly/fetch.h"
#include "mly/job.h"

/* Exit statuses (SPEC.md "Exit status") */
enum cli_exit {
  CLI_OK = 0,
  CLI_FAILED = 1,      /* a failure while running: network, API, I/O */
  CLI_USAGE = 2,       /* usage or invalid input: nothing fetched or written */
  CLI_INCOMPLETE = 3   /* stopped before done; rerun to resume */
};

enum cli_command {
  CLI_CMD_NONE = 0, CLI_CMD_HELP, CLI_CMD_VERSION, CLI_CMD_POINTS,
  CLI_CMD_ORGANIZATIONS, /* organizations in an area, with counts and names */
  CLI_CMD_ORGANIZATION,  /* names of organization ids */
  CLI_CMD_MERGE_CACHE    /* merge shard caches into one */
};

struct cli_opts {
  enum cli_command cmd;
  bool help;              /* --help after a command: that command's help */
  const char *input_aoi;
  const char *field_name;
  const char *timestamp_from, *timestamp_to;
  bool only_pano, split_pano, quiet, progress;
  const char *organization_ids;
  const char *output_file_point, *output_file_sequence;
  const char *table_point, *table_sequence; /* PostGIS destinations' tables */
  const char *tiles_url, *graph_url;
  long concurrency, retries;
  double timeout_s;
  long long max_tile_bytes;
  long long max_tiles;
  const char *cache;
  long long max_age_s;     /* -1: no expiry */
  long long max_requests;  /* 0: no limit */
  unsigned max_retry_wait_s; /* longest Retry-After honoured */
  bool dry_run, prune_empty, no_id_repair, organization_names;
  unsigned shard_k, shard_n;
  char **args;             /* positional arguments of organization / merge_cache */
  int nargs;
};

/* Parse argv into o. CLI_OK, or CLI_USAGE after printing one error line
 * to stderr. */
enum cli_exit cli_parse(int argc, char **argv, struct cli_opts *o);

void cli_help_main(FILE *out);
void cli_help_points(FILE *out);
void cli_version(FILE *out);

/* Whether token ("--name" without "=value", either spelling) is an option
 * of cli_parse's table that takes a value */
bool cli_opts_takes_value(const char *token);

/* cli_parse for one part of a (chained) command line whose argv[0] is the
 * command's name (main.c). CLI_OK with *co filled; CLI_HELP_SHOWN (see
 * cli_args.h) after printing the help or the version; else an error status.
 * *largv_out holds the argv co points into: free it when done with co. */
int cli_parse_legacy(int argc, char **argv, struct cli_opts *co, char ***largv_out);

/* The exit status of a failure rc: usage (2) when nothing was started */
int cli_exit_for(enum mly_rc rc, bool started);

/* The review page of the sequences in input, written to page (cmd_review.c;
 * also for create_custom_sequences --review_html). The exit status, after
 * printing any error (and, unless quiet, a summary) to stderr. */
int cli_review_write(const char *input, const char *page, bool quiet);
/* Its parts, for a command that publishes the page together with other
 * outputs: the page of in's sequences (source: the name it shows) built
 * and closed under a temporary name, *out (OUT; freed with
 * review_html_free), *without (OUT) the sequences without review images.
 * The exit status; on failure nothing is left and err says why. */
struct featread;
struct review_html;
int cli_review_build(struct featread *in, const char *page, const char *source,
                     struct review_html **out, uint64_t *without, struct mly_err *err);
/* The page's summary line(s) on stderr, unless quiet */
void cli_review_said(const char *page, const struct review_html *r, uint64_t without, bool quiet);

/* Set by SIGINT/SIGTERM: the running command stops cleanly (status 3) */
extern volatile sig_atomic_t cli_stop_requested;

/* The standard streams that were closed at start (bit 1 << fd): main
 * opened /dev/null on them (standard output read-only, so writes fail) */
extern unsigned cli_closed_at_start;

#endif
