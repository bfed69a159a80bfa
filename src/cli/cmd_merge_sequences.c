/* cmd_merge_sequences.c -- merge_sequences: one feature per sequence_id (seqmerge.h) */
#include "cli_args.h"
#include "cli_progress.h"
#include "mly/paths.h"
#include "mly/seqmerge.h"

struct opts {
  const char *geojson_input, *geojson_output;
  struct cli_net m;
};

static const struct cli_arg args[] = {
  CLI_OPT_STRING("geojson_input", struct opts, geojson_input, true, "<path|->",
                 "sequences (LineString or MultiLineString features with a sequence_id),\n"
                 "in any format featread reads"),
  CLI_OPT_STRING("geojson_output", struct opts, geojson_output, false, "<path>",
                 "one feature per sequence_id, with length (m) and points\n"
                 "(default data/mapillary_merge_sequences.geojson; format by extension)"),
  CLI_OPTS_MESSAGES(struct opts, m),
};

const struct cli_spec cmd_merge_sequences_spec = {
  "merge_sequences", "--geojson_input=<path> [--geojson_output=<path>] [options]",
  "Merge the features sharing a sequence_id into one (a MultiLineString when they\n"
  "hold several lines) with id, length (geodesic metres) and points (vertices);\n"
  "features without a sequence_id or a valid line are skipped and counted.",
  args, sizeof(args) / sizeof(args[0])};

int cmd_merge_sequences(int argc, char **argv)
{
  struct opts o = {0};
  o.geojson_output = "data/mapillary_merge_sequences.geojson";
  cli_net_defaults(&o.m);
  int rc = cli_args_parse(&cmd_merge_sequences_spec, argc, argv, &o);
  if(rc)
    return rc;
  /* an output that is one of the inputs would overwrite it (checked with
   * the other parts of a chained command line, before any part runs) */
  struct paths_use uses[] = {{o.geojson_input, "--geojson_input", false},
                             {o.geojson_output, "--geojson_output", true}};
  if((rc = cli_check_paths(uses, sizeof(uses) / sizeof(uses[0]))))
    return rc;
  if(cli_checking())
    return CLI_OK;
  struct cli_progress pr;
  cli_progress_init(&pr, o.m.quiet, o.m.progress);
  struct seqmerge_opts so = {o.geojson_input, o.geojson_output, cli_progress_wf(&pr)};
  struct seqmerge_stats st;
  struct mly_err err = {0};
  enum mly_rc lrc = seqmerge_run(&so, &st, &err);
  double el = cli_progress_elapsed(&pr);
  if(lrc)
    return cli_workflow_exit(&pr, lrc, st.started, err.msg);
  cli_progress_summary(&pr, "merge_sequences: %llu features in, %llu sequences out (%llu merged "
                       "from several features), written to %s in %.1f s", (unsigned long long)st.features,
                       (unsigned long long)st.sequences, (unsigned long long)st.merged, o.geojson_output, el);
  if(st.invalid || st.no_sequence)
    cli_progress_summary(&pr, "skipped %llu features with an invalid or non-line geometry and "
                       "%llu without a sequence_id", (unsigned long long)st.invalid,
                       (unsigned long long)st.no_sequence);
  return CLI_OK;
}
