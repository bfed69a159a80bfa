/* cmd_review.c -- review --geojson_input=<sequences> [--review_html=<page>]: the review page */
#include "cli_args.h"
#include "mly/featread.h"
#include "mly/paths.h"
#include "mly/review_html.h"

#include <string.h>

struct review_opts {
  const char *geojson_input;
  const char *review_html;
  struct cli_net msg; /* --quiet, --progress */
};

static const struct cli_arg review_args[] = {
  CLI_OPT_STRING("geojson_input", struct review_opts, geojson_input, true, "<path>",
                 "the sequences to review: create_custom_sequences' output (GeoJSON, GeoJSONL, GeoJSONSeq or CSV)"),
  CLI_OPT_STRING("review_html", struct review_opts, review_html, false, "<path>",
                 "the page to write (default review.html)"),
  CLI_OPTS_MESSAGES(struct review_opts, msg),
};

const struct cli_spec cli_review_spec = {
  "review",
  "--geojson_input=<path> [--review_html=<path>] [--quiet]",
  "Write one self-contained HTML page to keep or drop each sequence by its review images\n"
  "(custom_url, custom_urls): keys decide, \"Save kept sequences\" downloads a GeoJSON for\n"
  "merge_sequences. Rerun it to refresh expired thumbnail links; decisions stay.",
  review_args,
  sizeof(review_args) / sizeof(review_args[0]),
};

/* Whether the sequence has a review image to show */
static bool has_images(const json_t *properties)
{
  const char *keys[] = {"custom_url", "custom_urls"};
  for(size_t k = 0; k < 2; k++) {
    const char *s = json_string_value(json_object_get(properties, keys[k]));
    if(s && s[strspn(s, " ,")])
      return true;
  }
  return false;
}

int cli_review_build(struct featread *in, const char *page, const char *source,
                     struct review_html **out, uint64_t *without, struct mly_err *err)
{
  struct review_html *r = NULL;
  *out = NULL;
  *without = 0;
  enum mly_rc rc = review_html_open(&r, page, source, err);
  if(rc)
    return rc == MLY_EIO ? CLI_USAGE : CLI_FAILED; /* a folder that cannot be written */
  int status = CLI_OK;
  for(;;) {
    struct feature f;
    bool got = false;
    rc = featread_next(in, &f, &got, err);
    if(rc) {
      status = rc == MLY_ENOMEM || rc == MLY_EIO ? CLI_FAILED : CLI_USAGE;
      break;
    }
    if(!got)
      break;
    if(cli_stop_requested) {
      mly_err_set(err, MLY_ESTOP, "interrupted; nothing written");
      status = CLI_INCOMPLETE;
      break;
    }
    *without += !has_images(f.properties);
    if((rc = review_html_add(r, f.properties, f.geometry, err))) {
      status = cli_exit_for(rc, true);
      break;
    }
  }
  if(!status && (rc = review_html_close(r, err)))
    status = cli_exit_for(rc, true);
  if(status)
    review_html_free(&r);
  *out = r;
  return status;
}

void cli_review_said(const char *page, const struct review_html *r, uint64_t without, bool quiet)
{
  if(quiet)
    return;
  uint64_t n = review_html_count(r);
  fprintf(stderr, "mapillary: %s: %llu sequences to review", page, (unsigned long long)n);
  if(without)
    fprintf(stderr, ", %llu without review images", (unsigned long long)without);
  fputc('\n', stderr);
  if(n && without == n)
    fprintf(stderr, "mapillary: no sequence has review images (custom_url, custom_urls): "
                    "create_custom_sequences adds them\n");
}

int cli_review_write(const char *input, const char *page, bool quiet)
{
  struct mly_err err = {0};
  struct featread *in = NULL;
  struct review_html *r = NULL;
  uint64_t without = 0;
  int status = CLI_OK;
  /* the page must not replace its own input (paths compared as files) */
  const struct paths_use uses[] = {{input, "--geojson_input", false}, {page, "--review_html", true}};
  enum mly_rc rc = paths_check_distinct(uses, 2, &err);
  if(rc) {
    status = rc == MLY_EINVAL ? CLI_USAGE : CLI_FAILED;
    goto out;
  }
  rc = featread_open(input, &in, &err);
  if(rc) {
    status = rc == MLY_ENOMEM ? CLI_FAILED : CLI_USAGE;
    goto out;
  }
  status = cli_review_build(in, page, input, &r, &without, &err);
  if(!status && (rc = review_html_publish(r, &err)))
    status = cli_exit_for(rc, true);
  if(!status)
    cli_review_said(page, r, without, quiet);
out:
  if(status)
    fprintf(stderr, "mapillary: %s\n", err.msg);
  review_html_free(&r);
  featread_close(&in);
  return status;
}

int cmd_review(int argc, char **argv)
{
  struct review_opts o = {.review_html = "review.html"};
  int rc = cli_args_parse(&cli_review_spec, argc, argv, &o);
  if(rc)
    return rc;
  if(!*o.review_html)
    return cli_usage_error("review", "--review_html is empty");
  if(cli_checking())
    return CLI_OK; /* the input may be written by an earlier part */
  return cli_review_write(o.geojson_input, o.review_html, o.msg.quiet);
}
