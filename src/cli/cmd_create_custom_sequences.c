/* cmd_create_custom_sequences.c -- create_custom_sequences: sequences from points, with review images */
#include "cli_args.h"
#include "cli_progress.h"
#include "mly/custseq.h"
#include "mly/featread.h"
#include "mly/imgurl.h"
#include "mly/job.h"
#include "mly/outfile.h"
#include "mly/paths.h"
#include "mly/review_html.h"
#include "mly/workflow.h"

#include <stdlib.h>
#include <string.h>

struct cs_opts {
  const char *input, *output, *image_size;
  const char *review_html; /* the review page of the sequences, or NULL */
  struct cli_net net;
};

static const struct cli_arg cs_args[] = {
  CLI_OPT_STRING("geojson_points", struct cs_opts, input, true, "<path>",
                 "points as get_mapillary_points writes them (any format the workflow reads;\n"
                 "- is standard input)"),
  CLI_OPT_STRING("output_file_sequence", struct cs_opts, output, false, "<path>",
                 "the sequences with custom_url and custom_urls (format by extension; - is\n"
                 "standard output; default data/sequences.geojson, as geokit)"),
  CLI_OPT_STRING("review_html", struct cs_opts, review_html, false, "<path>",
                 "also write the review page of the sequences (as mapillary review does),\n"
                 "published together with them"),
  CLI_OPT_STRING("image_size", struct cs_opts, image_size, false, "<size>",
                 "review thumbnails: 256, 1024 (default, geokit's), 2048 or original"),
  CLI_OPT_INT("concurrency", struct cs_opts, net.concurrency, false, "<n>",
              "Graph API requests in flight (default 16)", 1, 1024),
  CLI_OPT_INT("retries", struct cs_opts, net.retries, false, "<n>", "attempts per request (default 5)",
              1, 100),
  CLI_OPT_NUMBER("timeout", struct cs_opts, net.timeout_s, false, "<seconds>",
                 "per attempt (default 60)", 0, 86400, true),
  CLI_OPT_STRING("graph_url", struct cs_opts, net.graph_url, false, "<url>",
                 "Graph API root (env MAPILLARY_GRAPH_URL)"),
  CLI_OPTS_MESSAGES(struct cs_opts, net),
};

const struct cli_spec cmd_create_custom_sequences_spec = {
  "create_custom_sequences",
  "--geojson_points=<path> [--output_file_sequence=<path>] [--review_html=<path>]\n"
  "    [--image_size=<size>]",
  "Build the sequences of a points file as get_mapillary_points does (the same lines and\n"
  "properties) and add review images: custom_url, the thumbnail of one image, and\n"
  "custom_urls, up to four more (comma-separated), of up to 5 images spread evenly along\n"
  "each sequence, asked from the Graph API in batches. Needs MAPILLARY_ACCESS_TOKEN for\n"
  "an http(s) --graph_url.",
  cs_args, sizeof(cs_args) / sizeof(cs_args[0])};

#define CS_DEFAULT_OUTPUT "data/sequences.geojson"

struct cs_run {
  struct cli_progress pr;
  struct custseq *cs;
  size_t asked, answered;
  uint64_t unavailable, failed;
  char first_failure[200];
  struct mly_err hit_err; /* why cs_hit stopped the lookup */
};

/* wf_feature_fn: one point to the sequences */
static enum mly_rc cs_add(void *user, const struct feature *f, struct mly_err *err)
{
  return custseq_add(user, f, err);
}

/* The points, in one pass that comes before any request: standard input
 * is read as it comes (workflow.h) */
static enum mly_rc cs_read(struct cs_run *r, const char *input, struct mly_err *err)
{
  struct wf_input in;
  wf_input_once(&in, input);
  enum mly_rc rc = wf_each(&in, cs_add, r->cs, cli_progress_wf(&r->pr), "reading points", err);
  wf_input_cleanup(&in);
  return rc;
}

/* imgurl's answer for one review image */
static enum mly_rc cs_hit(void *user, const struct imgurl_hit *hit)
{
  struct cs_run *r = user;
  r->answered++;
  cli_progress_show(&r->pr, "review images: %zu/%zu answered", r->answered, r->asked);
  if(hit->state == IMGURL_FOUND)
    return custseq_set_url(r->cs, (size_t)(uintptr_t)hit->item, hit->url, &r->hit_err);
  if(hit->state == IMGURL_UNAVAILABLE) {
    r->unavailable++;
    return MLY_OK;
  }
  if(!r->failed++)
    snprintf(r->first_failure, sizeof(r->first_failure), "image %llu: %s",
             (unsigned long long)hit->id, hit->why ? hit->why : "failed");
  return MLY_OK;
}

static enum mly_rc cs_lookup(struct cs_run *r, const struct cs_opts *o, enum imgurl_size size,
                             const char *token, struct mly_err *err)
{
  const uint64_t *ids;
  size_t n;
  enum mly_rc rc = custseq_pick(r->cs, &ids, &n, err);
  if(rc || n == 0)
    return rc;
  r->asked = n;
  struct fetch_opts fo = {(int)o->net.concurrency, (int)o->net.retries, o->net.timeout_s, 1 << 20,
                          token, 0, FETCH_DEFAULT_MAX_RETRY_WAIT_S};
  const char *backoff = getenv("MAPILLARY_BACKOFF_MS"); /* tests: fast retries */
  if(backoff)
    fo.backoff_ms = (unsigned)strtoul(backoff, NULL, 10);
  struct imgurl_opts io = {.graph_url = o->net.graph_url, .size = size};
  rc = imgurl_lookup(&fo, &io, ids, n, cs_hit, r, &cli_stop_requested, err);
  if(rc && r->hit_err.msg[0])
    *err = r->hit_err;
  if(!rc && r->failed)
    rc = mly_err_set(err, MLY_EHTTP, "%llu review image URL%s could not be had (%s); nothing "
                     "written, run again", (unsigned long long)r->failed, r->failed == 1 ? "" : "s",
                     r->first_failure);
  return rc;
}

/* The sequences, and the review page read back from them, both written
 * under temporary names and then published together (outfile.h): a failure
 * in either leaves every output path as it was. The exit status. */
static int cs_write(struct cs_run *r, const struct cs_opts *o, struct mly_err *err)
{
  struct outfile seqs = {0};
  struct review_html *page = NULL;
  uint64_t without = 0;
  size_t nseq = 0;
  int status = CLI_OK;
  enum mly_rc rc = outfile_open_as(&seqs, o->output, OUTFILE_REVIEW_SEQUENCES, err);
  if(!rc)
    rc = custseq_write(r->cs, &seqs, &nseq, err);
  if(!rc)
    rc = outfile_close(&seqs, err);
  struct custseq_stats st;
  custseq_get_stats(r->cs, &st);
  custseq_free(&r->cs); /* its memory and temporary files go before the page */
  if(!rc && o->review_html) {
    struct featread *in = NULL;
    rc = featread_open_outfile(&seqs, &in, err);
    if(!rc)
      status = cli_review_build(in, o->review_html, strcmp(o->output, "-") ? o->output : NULL,
                                &page, &without, err);
    featread_close(&in);
    if(status == CLI_USAGE)
      status = CLI_FAILED; /* after the requests: not the command line's fault */
  }
  if(!rc && !status) {
    struct outfile *all[] = {&seqs, page ? review_html_outfile(page) : NULL};
    rc = outfile_publish_all(all, page ? 2 : 1, err);
  }
  if(rc)
    status = cli_exit_for(rc, true);
  if(!status) {
    cli_progress_summary(
        &r->pr,
        "create_custom_sequences: %llu points read (%llu not points, %llu without "
        "sequence_id), %zu sequences written to %s, %llu with review images; %llu images "
        "asked, %llu URLs found, %llu unavailable (deleted, private or no such size); %.2f s",
        (unsigned long long)st.read, (unsigned long long)st.not_point,
        (unsigned long long)st.no_sequence, nseq, o->output, (unsigned long long)st.with_review,
        (unsigned long long)st.ids, (unsigned long long)st.urls,
        (unsigned long long)r->unavailable, cli_progress_elapsed(&r->pr));
    if(page)
      cli_review_said(o->review_html, page, without, o->net.quiet);
  }
  review_html_free(&page); /* the later first: the folders each made go empty */
  outfile_abort(&seqs);
  return status;
}

static int cs_main(const struct cs_opts *o, enum imgurl_size size, const char *token)
{
  struct cs_run r = {0};
  cli_progress_init(&r.pr, o->net.quiet, o->net.progress);
  struct mly_err err = {0};
  bool started = false;
  r.cs = custseq_new(JOB_SEQ_MEMORY_POINTS);
  enum mly_rc rc = r.cs ? MLY_OK : mly_err_set(&err, MLY_ENOMEM, "out of memory");
  /* the points first: a broken input leaves nothing on disk (no output
   * is open yet), and reading comes before any request */
  if(!rc)
    rc = cs_read(&r, o->input, &err);
  if(!rc)
    rc = outfile_prepare_dir(o->output, &err);
  if(!rc && o->review_html)
    rc = outfile_prepare_dir(o->review_html, &err);
  if(!rc) {
    started = true;
    rc = cs_lookup(&r, o, size, token, &err);
  }
  int status = CLI_OK;
  if(rc) {
    status = !started && (rc == MLY_EIO || rc == MLY_EFORMAT || rc == MLY_ETOOBIG)
                 ? CLI_USAGE : cli_exit_for(rc, started);
    custseq_free(&r.cs);
  }
  else
    status = cs_write(&r, o, &err);
  if(status) {
    cli_progress_clear(&r.pr);
    fprintf(stderr, "mapillary: create_custom_sequences: %s\n", err.msg);
  }
  return status;
}

int cmd_create_custom_sequences(int argc, char **argv)
{
  struct cs_opts o = {.output = CS_DEFAULT_OUTPUT, .image_size = "1024"};
  cli_net_defaults(&o.net);
  int rc = cli_args_parse(&cmd_create_custom_sequences_spec, argc, argv, &o);
  if(rc)
    return rc;
  enum imgurl_size size;
  if(!imgurl_size_parse(o.image_size, &size))
    return cli_usage_error("create_custom_sequences",
                           "--image_size must be 256, 1024, 2048 or original, not '%.32s'",
                           o.image_size);
  const char *g = o.net.graph_url;
  bool http = strncmp(g, "http://", 7) == 0 || strncmp(g, "https://", 8) == 0;
  const char *token = getenv("MAPILLARY_ACCESS_TOKEN");
  if(token && !*token)
    token = NULL;
  if(http && !token) {
    fprintf(stderr, "mapillary: create_custom_sequences: MAPILLARY_ACCESS_TOKEN is not set; it is "
                    "needed to ask the Graph API for the review images\n");
    return CLI_USAGE;
  }
  if(o.review_html && !*o.review_html)
    return cli_usage_error("create_custom_sequences", "--review_html needs a path");
  /* no output overwrites the points or the other output (checked before
   * any part of a chained command line runs) */
  const struct paths_use uses[] = {{o.input, "--geojson_points", false},
                                   {o.output, "--output_file_sequence", true},
                                   {o.review_html, "--review_html", true}};
  struct mly_err err = {0};
  if(paths_check_distinct(uses, o.review_html ? 3 : 2, &err)) {
    fprintf(stderr, "mapillary: create_custom_sequences: %s\n", err.msg);
    return CLI_USAGE;
  }
  if(cli_checking())
    return CLI_OK;
  return cs_main(&o, size, http ? token : NULL);
}
