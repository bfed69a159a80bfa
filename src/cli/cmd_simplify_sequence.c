/* cmd_simplify_sequence.c -- simplify_sequence: sequence lines to buffers that do not overlap */
#include "cli_args.h"
#include "cli_progress.h"
#include "mly/featread.h"
#include "mly/outfile.h"
#include "mly/seqbuffer.h"

#include <stdlib.h>

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

struct ss_run {
  struct cli_progress pr;
  const char *steps[3];
};

static void ss_progress(void *user, int step, size_t done, size_t total)
{
  struct ss_run *r = user;
  cli_progress_show(&r->pr, "%s: %zu/%zu buffers (%d%%)", r->steps[step], done, total,
                    total ? (int)(100.0 * (double)done / (double)total) : 100);
}

/* Read every feature of the input into b */
static enum mly_rc ss_read(struct ss_run *r, const char *input, struct seqbuffer *b,
                           struct mly_err *err)
{
  struct featread *fr = NULL;
  enum mly_rc rc = featread_open(input, &fr, err);
  uint64_t n = 0;
  while(!rc) {
    struct feature f;
    bool got = false;
    if((rc = featread_next(fr, &f, &got, err)) || !got)
      break;
    rc = seqbuffer_add(b, &f, err);
    if(++n % 1024 == 0)
      cli_progress_show(&r->pr, "buffering: %llu sequences read", (unsigned long long)n);
    if(!rc && cli_stop_requested)
      rc = mly_err_set(err, MLY_ESTOP, "stopped");
  }
  featread_close(&fr);
  return rc;
}

static enum mly_rc ss_write(struct seqbuffer *b, const char *output, struct mly_err *err)
{
  struct outfile o = {0};
  struct featcsv csv = {0};
  struct dbuf text;
  dbuf_init(&text, SIZE_MAX / 2);
  enum mly_rc rc = outfile_open_as(&o, output, OUTFILE_FEATURES, err);
  for(size_t i = 0; !rc && i < seqbuffer_count(b); i++) {
    json_t *props, *geom;
    if((rc = seqbuffer_result(b, i, &props, &geom, err)))
      break;
    dbuf_reset(&text);
    rc = feature_write(&text, o.fmt, &csv, props, geom, err);
    json_decref(geom);
    if(!rc)
      rc = outfile_feature(&o, text.p, text.n, err);
  }
  if(!rc)
    rc = outfile_close(&o, err);
  if(!rc)
    rc = outfile_publish(&o, err);
  outfile_abort(&o);
  featcsv_cleanup(&csv);
  dbuf_cleanup(&text);
  return rc;
}

static int ss_main(const struct ss_opts *o, const struct seqbuffer_width *w)
{
  struct ss_run r = {.steps = {"", "dropping contained buffers", "clipping overlaps"}};
  cli_progress_init(&r.pr, o->msg.quiet, o->msg.progress);
  struct mly_err err = {0};
  bool started = false;
  struct seqbuffer *b = seqbuffer_new(w);
  enum mly_rc rc = b ? outfile_prepare_dir(o->output, &err)
                     : mly_err_set(&err, MLY_ENOMEM, "out of memory");
  if(!rc)
    rc = ss_read(&r, o->input, b, &err);
  if(!rc) {
    started = true;
    rc = seqbuffer_run(b, ss_progress, &r, &err);
  }
  if(!rc)
    rc = ss_write(b, o->output, &err);
  if(rc) {
    cli_progress_clear(&r.pr);
    fprintf(stderr, "mapillary: simplify_sequence: %s\n", err.msg);
    seqbuffer_free(&b);
    /* the input missing or broken is found before any work: status 2 */
    if(!started && (rc == MLY_EIO || rc == MLY_EFORMAT || rc == MLY_ETOOBIG))
      return CLI_USAGE;
    return cli_exit_for(rc, started);
  }
  struct seqbuffer_stats st;
  seqbuffer_get_stats(b, &st);
  cli_progress_summary(
      &r.pr,
      "simplify_sequence: %llu features read (%llu not lines, %llu of one position), "
      "%llu buffers within another dropped, %llu clipped away, %llu polygons written "
      "(%llu clipped) to %s in %.2f s; area in %s",
      (unsigned long long)st.read, (unsigned long long)st.not_line,
      (unsigned long long)st.degenerate, (unsigned long long)st.contained,
      (unsigned long long)st.covered, (unsigned long long)st.results,
      (unsigned long long)st.clipped, o->output, cli_progress_elapsed(&r.pr),
      w->metres ? "m^2" : "degrees^2");
  seqbuffer_free(&b);
  return CLI_OK;
}

int cmd_simplify_sequence(int argc, char **argv)
{
  struct ss_opts o = {0};
  int rc = cli_args_parse(&cmd_simplify_sequence_spec, argc, argv, &o);
  if(rc)
    return rc;
  struct seqbuffer_width w;
  struct mly_err err = {0};
  if(seqbuffer_parse_width(o.buffer, &w, &err))
    return cli_usage_error("simplify_sequence", "%s", err.msg);
  if(cli_checking())
    return CLI_OK;
  return ss_main(&o, &w);
}
