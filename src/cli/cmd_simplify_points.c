/* cmd_simplify_points.c -- simplify_points: thin each sequence's points to a distance (thin.h) */
#include "cli_args.h"
#include "cli_progress.h"
#include "mly/paths.h"
#include "mly/thin.h"

struct opts {
  const char *input_points, *output_points;
  double points_distance;
  struct cli_net m;
};

static const struct cli_arg args[] = {
  CLI_OPT_STRING("input_points", struct opts, input_points, true, "<path|->",
                 "points: any file get_mapillary_points writes (GeoJSON, GeoJSONL,\n"
                 "GeoJSON text sequence, CSV) or GeoJSON with the same properties"),
  CLI_OPT_NUMBER("points_distance", struct opts, points_distance, true, "<metres>",
                 "keep points at least this far apart along each sequence\n"
                 "(geodesic metres on WGS84)", 0, 1e7, false),
  CLI_OPT_STRING("output_points", struct opts, output_points, false, "<path>",
                 "the kept points, unchanged, in input order\n"
                 "(default data/mapillary_simplify_points.geojson; format by extension)"),
  CLI_OPTS_MESSAGES(struct opts, m),
};

const struct cli_spec cmd_simplify_points_spec = {
  "simplify_points", "--input_points=<path> --points_distance=<metres> [options]",
  "Thin the points of each sequence (grouped by sequence_id, ordered by captured_at,\n"
  "then id): the first point of every sequence is kept, then each point at least\n"
  "--points_distance metres (geodesic) from the last kept one.",
  args, sizeof(args) / sizeof(args[0])};

int cmd_simplify_points(int argc, char **argv)
{
  struct opts o = {0};
  o.output_points = "data/mapillary_simplify_points.geojson";
  cli_net_defaults(&o.m);
  int rc = cli_args_parse(&cmd_simplify_points_spec, argc, argv, &o);
  if(rc)
    return rc;
  /* an output that is one of the inputs would overwrite it (checked with
   * the other parts of a chained command line, before any part runs) */
  struct paths_use uses[] = {{o.input_points, "--input_points", false},
                             {o.output_points, "--output_points", true}};
  if((rc = cli_check_paths(uses, sizeof(uses) / sizeof(uses[0]))))
    return rc;
  if(cli_checking())
    return CLI_OK;
  struct cli_progress pr;
  cli_progress_init(&pr, o.m.quiet, o.m.progress);
  struct thin_opts to = {o.input_points, o.output_points, o.points_distance, 0, cli_progress_wf(&pr)};
  struct thin_stats st;
  struct mly_err err = {0};
  enum mly_rc lrc = thin_points(&to, &st, &err);
  double el = cli_progress_elapsed(&pr);
  if(lrc)
    return cli_workflow_exit(&pr, lrc, st.started, err.msg);
  cli_progress_summary(&pr, "simplify_points: %llu of %llu points kept in %llu sequences "
                       "(%g m apart), written to %s in %.1f s", (unsigned long long)st.kept,
                       (unsigned long long)st.points, (unsigned long long)st.sequences, o.points_distance,
          o.output_points, el);
  if(st.skipped)
    cli_progress_summary(&pr, "%llu features without a sequence_id or a valid Point were left out",
                       (unsigned long long)st.skipped);
  return CLI_OK;
}
