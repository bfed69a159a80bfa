/* cmd_simplify_sequence.c -- simplify_sequence: sequence lines to buffers that do not overlap */
#include "cli_args.h"
#include "cli_progress.h"
#include "mly/paths.h"
#include "mly/seqbuffer.h"

struct ss_opts {
  const char *input, *buffer, *output;
  struct cli_net msg; /* only quiet and progress */
};

static const struct cli_arg ss_args[] = {
  CLI_OPT_STRING("geojson_input", struct ss_opts, input, true, "<path>",
                 "sequences (LineString or MultiLineString features), e.g. merge_sequences'\n"
                 "output; any format the workflow reads; - is standard input"),
  CLI_OPT_STRING("buffer", struct ss_opts, buffer, true, "<width>",
                 "buffer width: degrees as in geokit (0.0001), or metres with the unit m (12m)"),
  CLI_OPT_STRING("geojson_out", struct ss_opts, output, true, "<path>",
                 "the polygons, longest sequence first (format by extension; - is standard output)"),
  CLI_OPTS_MESSAGES(struct ss_opts, msg),
};

const struct cli_spec cmd_simplify_sequence_spec = {
  "simplify_sequence",
  "--geojson_input=<path> --buffer=<width> --geojson_out=<path>",
  "Buffer each sequence line, drop the buffers that lie within another, and clip the\n"
  "rest so that no two polygons overlap: longer sequences (their `length`, else the\n"
  "line's length) keep their area first. Each polygon keeps its sequence's properties\n"
  "and gets `area`: in degrees^2 for a width in degrees, in m^2 for one in metres.",
  ss_args, sizeof(ss_args) / sizeof(ss_args[0])};

int cmd_simplify_sequence(int argc, char **argv)
{
  struct ss_opts o = {0};
  int rc = cli_args_parse(&cmd_simplify_sequence_spec, argc, argv, &o);
  if(rc)
    return rc;
  struct seqbuffer_opts so = {o.input, o.output, {0, false}, NULL};
  struct mly_err err = {0};
  if(seqbuffer_parse_width(o.buffer, &so.width, &err))
    return cli_usage_error("simplify_sequence", "%s", err.msg);
  /* an output that is the input would overwrite it (checked with the
   * other parts of a chained command line, before any part runs) */
  const struct paths_use uses[] = {{o.input, "--geojson_input", false},
                                   {o.output, "--geojson_out", true}};
  if((rc = cli_check_paths(uses, sizeof(uses) / sizeof(uses[0]))))
    return rc;
  if(cli_checking())
    return CLI_OK;
  struct cli_progress pr;
  cli_progress_init(&pr, o.msg.quiet, o.msg.progress);
  so.progress = cli_progress_wf(&pr);
  struct seqbuffer_stats st;
  enum mly_rc lrc = seqbuffer_simplify(&so, &st, &err);
  if(lrc)
    return cli_workflow_exit(&pr, lrc, st.started, err.msg);
  cli_progress_summary(
      &pr,
      "simplify_sequence: %llu features read (%llu not lines, %llu of one position), "
      "%llu buffers within another dropped, %llu clipped away, %llu polygons written "
      "(%llu clipped) to %s in %.2f s; area in %s",
      (unsigned long long)st.read, (unsigned long long)st.not_line,
      (unsigned long long)st.degenerate, (unsigned long long)st.contained,
      (unsigned long long)st.covered, (unsigned long long)st.results,
      (unsigned long long)st.clipped, o.output, cli_progress_elapsed(&pr),
      so.width.metres ? "m^2" : "degrees^2");
  return CLI_OK;
}
