/* main.c -- the mapillary command: the table of commands, chained command lines, exit */
#include "cli_args.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

volatile sig_atomic_t cli_stop_requested;

unsigned cli_closed_at_start;

/* Open /dev/null on each of descriptors 0, 1 and 2 that is closed, before
 * anything else opens a file: else the first file opened (an output's temp
 * file) would become, say, descriptor 2, and messages meant for stderr
 * would land in it. Standard output gets it read-only, so that any write
 * to it fails rather than vanishing. false when /dev/null cannot be had. */
static bool safe_std_streams(void)
{
  for(int fd = 0; fd <= 2; fd++) {
    if(fcntl(fd, F_GETFD) != -1 || errno != EBADF)
      continue;
    cli_closed_at_start |= 1u << fd;
    /* the lowest free descriptor: fd itself, those below are open */
    int got = open("/dev/null", fd == 2 ? O_WRONLY : O_RDONLY);
    if(got != fd) {
      if(got >= 0)
        close(got);
      return false;
    }
  }
  return true;
}

static void on_signal(int sig)
{
  cli_stop_requested = 1;
  /* a second signal ends at once (temporary files keep their temp names) */
  signal(sig, SIG_DFL);
}

/* One function per command, src/cli/cmd_<name>.c */
int cmd_get_mapillary_points(int argc, char **argv);
int cmd_organizations(int argc, char **argv);
int cmd_organization(int argc, char **argv);
int cmd_merge_cache(int argc, char **argv);
int cmd_review(int argc, char **argv);
extern const struct cli_spec cli_review_spec;
int cmd_simplify_sequence(int argc, char **argv);
int cmd_create_custom_sequences(int argc, char **argv);
extern const struct cli_spec cmd_create_custom_sequences_spec;
extern const struct cli_spec cmd_simplify_sequence_spec;
int cmd_download_mapillary_imgs(int argc, char **argv);
extern const struct cli_spec cmd_download_mapillary_imgs_spec;
int cmd_merge_sequences(int argc, char **argv);
int cmd_match_point_sequences(int argc, char **argv);
int cmd_simplify_points(int argc, char **argv);
extern const struct cli_spec cmd_merge_sequences_spec, cmd_match_point_sequences_spec,
    cmd_simplify_points_spec;

/* The commands: `mapillary --help` lists them in this order */
static const struct cli_cmd commands[] = {
  {"get_mapillary_points", cmd_get_mapillary_points,
   "image points and sequences of an area as GeoJSON (geokit's first step)", NULL},
  {"organizations", cmd_organizations, "organization ids in an area with image counts and names", NULL},
  {"organization", cmd_organization, "the name of each organization id", NULL},
  {"merge_cache", cmd_merge_cache, "merge the tile caches of --shard runs into one", NULL},
  {"create_custom_sequences", cmd_create_custom_sequences,
   "sequences of a points file with review image URLs (custom_url, custom_urls)",
   &cmd_create_custom_sequences_spec},
  {"review", cmd_review, "a page to keep or drop sequences by their review images", &cli_review_spec},
  {"simplify_sequence", cmd_simplify_sequence,
   "sequence lines to buffers that do not overlap, longest first", &cmd_simplify_sequence_spec},
  {"download_mapillary_imgs", cmd_download_mapillary_imgs,
   "the image of every point, and the points with their image paths",
   &cmd_download_mapillary_imgs_spec},
  {"merge_sequences", cmd_merge_sequences, "one feature per sequence_id, with length and points",
   &cmd_merge_sequences_spec},
  {"match_point_sequences", cmd_match_point_sequences,
   "the points inside a polygon of their own sequence", &cmd_match_point_sequences_spec},
  {"simplify_points", cmd_simplify_points, "thin each sequence's points to a distance in metres",
   &cmd_simplify_points_spec},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

const struct cli_cmd *cli_commands(size_t *n)
{
  *n = NCOMMANDS;
  return commands;
}

static bool checking;

bool cli_checking(void)
{
  return checking;
}

int cli_exit_for(enum mly_rc rc, bool started)
{
  switch(rc) {
  case MLY_OK: return CLI_OK;
  case MLY_ERATE:
  case MLY_ESTOP: return CLI_INCOMPLETE;
  case MLY_EINVAL:
  case MLY_EFORMAT: return started ? CLI_FAILED : CLI_USAGE;
  case MLY_ETOOBIG: return started ? CLI_FAILED : CLI_USAGE;
  default: return CLI_FAILED;
  }
}


/* Parse a part of the command line with cli_opts.c's parser (argv[0] is the
 * command name). CLI_OK with *co filled, CLI_HELP_SHOWN, or an error status;
 * *largv_out (free it when done with co) holds the argv that co points into. */
int cli_parse_legacy(int argc, char **argv, struct cli_opts *co, char ***largv_out)
{
  *largv_out = NULL;
  char **largv = calloc((size_t)argc + 2, sizeof(*largv));
  if(!largv) {
    fprintf(stderr, "mapillary: out of memory\n");
    return CLI_FAILED;
  }
  largv[0] = (char *)"mapillary";
  memcpy(largv + 1, argv, (size_t)argc * sizeof(*largv));
  /* co->args point into largv (getopt may permute it): the caller frees it */
  enum cli_exit rc = cli_parse(argc + 1, largv, co);
  *largv_out = largv;
  if(rc)
    return rc;
  if(co->cmd == CLI_CMD_VERSION) {
    cli_version(stdout);
    return CLI_HELP_SHOWN;
  }
  if(co->help) {
    cli_help_points(stdout);
    return CLI_HELP_SHOWN;
  }
  return CLI_OK;
}

/* The command named token (either spelling), or NULL */
static const struct cli_cmd *find_command(const char *token)
{
  for(size_t i = 0; i < NCOMMANDS; i++) {
    const char *a = commands[i].name;
    size_t k = 0;
    while(a[k] && (token[k] == a[k] || (token[k] == '-' && a[k] == '_')))
      k++;
    if(!a[k] && !token[k])
      return &commands[i];
  }
  return NULL;
}

/* Whether the word after token is token's value rather than a command */
static bool takes_value(const struct cli_cmd *c, const char *token)
{
  if(c->spec)
    return cli_args_takes_value(c->spec, token);
  return cli_opts_takes_value(token);
}

struct part {
  const struct cli_cmd *cmd;
  int argc;
  char **argv; /* argv[0] is the command name */
};

int main(int argc, char **argv)
{
  if(!safe_std_streams())
    return CLI_FAILED; /* no /dev/null: nowhere safe to say so */
  /* past a file size limit (ulimit -f) a write fails with EFBIG and the
   * run ends with a message, instead of being killed without one */
  signal(SIGXFSZ, SIG_IGN);
  if(argc < 2 || argv[1][0] == '-') {
    /* no command: --help, --version, or an error (cli_opts.c's messages) */
    struct cli_opts co;
    enum cli_exit rc = cli_parse(argc, argv, &co);
    if(rc)
      return rc;
    if(co.cmd == CLI_CMD_VERSION)
      cli_version(stdout);
    else
      cli_help_main(stdout);
    return CLI_OK;
  }
  /* geokit's chained form: `mapillary a --x=1 b --y 2` runs a, then b. A
   * word naming a command starts a new part unless it is an option's value. */
  struct part *parts = calloc((size_t)argc, sizeof(*parts));
  if(!parts) {
    fprintf(stderr, "mapillary: out of memory\n");
    return CLI_FAILED;
  }
  size_t nparts = 0;
  for(int i = 1; i < argc; i++) {
    const struct cli_cmd *c = find_command(argv[i]);
    if(nparts == 0 && !c) {
      free(parts);
      return cli_usage_error(NULL, "unknown command '%.64s'", argv[i]);
    }
    if(c) {
      parts[nparts].cmd = c;
      parts[nparts].argv = argv + i;
      parts[nparts].argc = 1;
      nparts++;
      continue;
    }
    struct part *p = &parts[nparts - 1];
    p->argc++;
    if(takes_value(p->cmd, argv[i]) && i + 1 < argc) {
      p->argc++;
      i++;
    }
  }
  /* every part is parsed and checked before any runs */
  int rc = CLI_OK;
  checking = true;
  for(size_t k = 0; k < nparts && !rc; k++)
    rc = parts[k].cmd->run(parts[k].argc, parts[k].argv);
  checking = false;
  if(rc) {
    free(parts);
    return rc == CLI_HELP_SHOWN ? CLI_OK : rc;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGPIPE, SIG_IGN);
  for(size_t k = 0; k < nparts && !rc && !cli_stop_requested; k++)
    rc = parts[k].cmd->run(parts[k].argc, parts[k].argv);
  if(!rc && cli_stop_requested)
    rc = CLI_INCOMPLETE;
  free(parts);
  return rc;
}
