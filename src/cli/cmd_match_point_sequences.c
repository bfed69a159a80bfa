/* cmd_match_point_sequences.c -- match_point_sequences: points in their own sequence's polygons (ptmatch.h) */
#include "cli_args.h"
#include "cli_progress.h"
#include "mly/paths.h"
#include "mly/ptmatch.h"

struct opts {
  const char *geojson_polygons, *geojson_points, *geojson_output;
  struct cli_net m;
};

static const struct cli_arg args[] = {
  CLI_OPT_STRING("geojson_polygons", struct opts, geojson_polygons, true, "<path|->",
                 "polygons with a sequence_id (simplify_sequence's output)"),
  CLI_OPT_STRING("geojson_points", struct opts, geojson_points, true, "<path|->",
                 "points with a sequence_id (get_mapillary_points' points)"),
  CLI_OPT_STRING("geojson_output", struct opts, geojson_output, false, "<path>",
                 "the matching points, unchanged, in input order\n"
                 "(default data/mapillary_match_point_sequences.geojson)"),
  CLI_OPTS_MESSAGES(struct opts, m),
};

const struct cli_spec cmd_match_point_sequences_spec = {
  "match_point_sequences",
  "--geojson_polygons=<path> --geojson_points=<path> [--geojson_output=<path>] [options]",
  "Keep the points that lie in a polygon carrying their own sequence_id (the\n"
  "boundary counts as inside), each point once.",
  args, sizeof(args) / sizeof(args[0])};

int cmd_match_point_sequences(int argc, char **argv)
{
  struct opts o = {0};
  o.geojson_output = "data/mapillary_match_point_sequences.geojson";
  cli_net_defaults(&o.m);
  int rc = cli_args_parse(&cmd_match_point_sequences_spec, argc, argv, &o);
  if(rc)
    return rc;
  /* an output that is one of the inputs would overwrite it (checked with
   * the other parts of a chained command line, before any part runs) */
  struct paths_use uses[] = {{o.geojson_polygons, "--geojson_polygons", false},
                             {o.geojson_points, "--geojson_points", false},
                             {o.geojson_output, "--geojson_output", true}};
  if((rc = cli_check_paths(uses, sizeof(uses) / sizeof(uses[0]))))
    return rc;
  if(cli_checking())
    return CLI_OK;
  struct cli_progress pr;
  cli_progress_init(&pr, o.m.quiet, o.m.progress);
  struct ptmatch_opts po = {o.geojson_polygons, o.geojson_points, o.geojson_output, cli_progress_wf(&pr)};
  struct ptmatch_stats st;
  struct mly_err err = {0};
  enum mly_rc lrc = ptmatch_run(&po, &st, &err);
  double el = cli_progress_elapsed(&pr);
  if(lrc)
    return cli_workflow_exit(&pr, lrc, st.started, err.msg);
  cli_progress_summary(&pr, "match_point_sequences: %llu polygons, %llu points (%llu of a "
                       "sequence with a polygon), %llu matched, written to %s in %.1f s",
                       (unsigned long long)(st.polygons - st.polygons_skipped), (unsigned long long)st.points,
                       (unsigned long long)st.in_sequence, (unsigned long long)st.matched, o.geojson_output, el);
  if(st.polygons_skipped || st.points_skipped)
    cli_progress_summary(&pr, "skipped %llu polygon features (no sequence_id or not a polygon) "
                       "and %llu points (no sequence_id or no valid Point)",
                       (unsigned long long)st.polygons_skipped, (unsigned long long)st.points_skipped);
  return CLI_OK;
}
