/* cmd_download_mapillary_imgs.c -- download_mapillary_imgs: the images of a points file (imgdl.h) */
#include "cli_args.h"
#include "cli_progress.h"
#include "mly/imgdl.h"

#include <stdlib.h>
#include <string.h>

struct opts {
  const char *input_file_points, *output_images_path, *output_file_points, *image_size, *fields;
  bool dry_run;
  struct cli_net m;
};

static const struct cli_arg args[] = {
  CLI_OPT_STRING("input_file_points", struct opts, input_file_points, true, "<path|->",
                 "points: any file get_mapillary_points writes (GeoJSON, GeoJSONL,\n"
                 "GeoJSON text sequence, CSV) or GeoJSON with id and sequence_id"),
  CLI_OPT_STRING("output_images_path", struct opts, output_images_path, false, "<dir>",
                 "images go to <dir>/<sequence_id>/<id>.jpg (default data/mapillary_images)"),
  CLI_OPT_STRING("output_file_points", struct opts, output_file_points, false, "<path>",
                 "the points with image_path and image_url added, in input order\n"
                 "(default data/mapillary_points_imgs_url.geojson; format by extension)"),
  CLI_OPT_STRING("image_size", struct opts, image_size, false, "<256|1024|2048|original>",
                 "thumbnail size (default 1024)"),
  CLI_OPT_STRING("fields", struct opts, fields, false, "<a,b,...>",
                 "Graph API image fields added to the points (e.g. camera_type,make,model)"),
  CLI_OPT_FLAG("dry_run", struct opts, dry_run,
               "say how many images are to fetch and how many are on disk; fetch nothing"),
  CLI_OPTS_NET(struct opts, m),
};

const struct cli_spec cmd_download_mapillary_imgs_spec = {
  "download_mapillary_imgs", "--input_file_points=<path> [options]",
  "Download the image of every point to <dir>/<sequence_id>/<id>.jpg: links from the\n"
  "Graph API in batches, images from the CDN, concurrently; images already on disk are\n"
  "skipped without a request, so a rerun finishes an interrupted job. Deleted or\n"
  "private images are counted and named, not an error. Needs MAPILLARY_ACCESS_TOKEN.",
  args, sizeof(args) / sizeof(args[0])};

/* images done/known, MB, MB/s, ETA once the input is read through */
static void show_progress(void *user, const struct imgdl_stats *st)
{
  struct cli_progress *p = user;
  double el = cli_progress_elapsed(p);
  uint64_t done = st->written + st->unavailable + st->failed;
  double mb = st->bytes / 1e6, rate = el > 0 ? done / el : 0;
  char eta[32] = "ETA ?";
  if(st->input_done && rate > 0)
    snprintf(eta, sizeof(eta), "ETA %.0fs", (st->to_fetch - done) / rate);
  cli_progress_show(p,
                    "images %llu/%llu%s | on disk %llu | unavailable %llu | %.1f MB | %.1f MB/s | "
                    "%.0f img/s | %s",
                    (unsigned long long)done, (unsigned long long)st->to_fetch,
                    st->input_done ? "" : "+", (unsigned long long)st->on_disk,
                    (unsigned long long)st->unavailable, mb, el > 0 ? mb / el : 0, rate, eta);
}

static void print_named(const char *what, uint64_t n, char (*ids)[24], const char *whys, size_t cap)
{
  if(!n)
    return;
  fprintf(stderr, "mapillary:   %llu %s:", (unsigned long long)n, what);
  uint64_t shown = n < IMGDL_NAMED ? n : IMGDL_NAMED;
  for(uint64_t i = 0; i < shown; i++)
    fprintf(stderr, "%s %s (%s)", i ? "," : "", ids[i], whys + i * cap);
  if(n > shown)
    fprintf(stderr, ", %llu more", (unsigned long long)(n - shown));
  fputc('\n', stderr);
}

static void print_summary(const struct opts *o, struct imgdl_stats *st, double el)
{
  fprintf(stderr,
          "mapillary: download_mapillary_imgs: %llu points, %llu images written (%.1f MB, "
          "%.1f MB/s), %llu already on disk, %llu unavailable, %llu failed in %.1f s\n",
          (unsigned long long)st->points, (unsigned long long)st->written, st->bytes / 1e6,
          el > 0 ? st->bytes / 1e6 / el : 0, (unsigned long long)st->on_disk,
          (unsigned long long)st->unavailable, (unsigned long long)st->failed, el);
  print_named("unavailable (deleted, private or no such size)", st->unavailable,
              st->unavailable_ids, &st->unavailable_why[0][0], sizeof(st->unavailable_why[0]));
  print_named("failed", st->failed, st->failed_ids, &st->failed_why[0][0],
              sizeof(st->failed_why[0]));
  if(st->skipped)
    fprintf(stderr, "mapillary:   %llu features without a usable id or sequence_id (kept, no image)\n",
            (unsigned long long)st->skipped);
  if(st->relinked)
    fprintf(stderr, "mapillary:   %llu links asked for again after the cdn refused them\n",
            (unsigned long long)st->relinked);
  if(st->published)
    fprintf(stderr, "mapillary:   images in %s, points in %s\n", o->output_images_path,
            o->output_file_points);
}

int cmd_download_mapillary_imgs(int argc, char **argv)
{
  struct opts o = {0};
  o.output_images_path = "data/mapillary_images";
  o.output_file_points = "data/mapillary_points_imgs_url.geojson";
  o.image_size = "1024";
  cli_net_defaults(&o.m);
  int rc = cli_args_parse(&cmd_download_mapillary_imgs_spec, argc, argv, &o);
  if(rc)
    return rc;
  struct imgdl_opts io = {0};
  if(!imgurl_size_parse(o.image_size, &io.size))
    return cli_usage_error("download_mapillary_imgs",
                           "--image_size: '%.40s' is not 256, 1024, 2048 or original", o.image_size);
  if(o.fields && !imgurl_fields_valid(o.fields))
    return cli_usage_error("download_mapillary_imgs",
                           "--fields: '%.80s' is not a comma-separated list of field names",
                           o.fields);
  const char *token = getenv("MAPILLARY_ACCESS_TOKEN");
  if(token && !*token)
    token = NULL;
  if(!token && !o.dry_run && strncmp(o.m.graph_url, "file:", 5) != 0) {
    fprintf(stderr, "mapillary: MAPILLARY_ACCESS_TOKEN is not set; it is needed for the Graph API\n");
    return CLI_USAGE;
  }
  if(cli_checking())
    return CLI_OK;
  io.input = o.input_file_points;
  io.images_dir = o.output_images_path;
  io.output = o.output_file_points;
  io.fields = o.fields;
  io.graph_url = o.m.graph_url;
  io.dry_run = o.dry_run;
  io.max_requests = (uint64_t)o.m.max_requests;
  io.fetch = (struct fetch_opts){.concurrency = (int)o.m.concurrency, .retries = (int)o.m.retries,
                                 .timeout_s = o.m.timeout_s, .max_body = 1, .token = token};
  const char *backoff = getenv("MAPILLARY_BACKOFF_MS");
  if(backoff)
    io.fetch.backoff_ms = (unsigned)strtoul(backoff, NULL, 10);
  io.stop = &cli_stop_requested;
  struct cli_progress pr;
  cli_progress_init(&pr, o.m.quiet, o.m.progress);
  if(!o.dry_run && (pr.tty || pr.lines)) {
    io.progress = show_progress;
    io.progress_user = &pr;
  }
  struct imgdl_stats st;
  struct mly_err err = {0};
  enum mly_rc lrc = imgdl_run(&io, &st, &err);
  cli_progress_clear(&pr);
  double el = cli_progress_elapsed(&pr);
  if(lrc == MLY_OK && o.dry_run) {
    /* the plan is the command's output: stdout */
    printf("points: %llu\nimages to fetch: %llu\nalready on disk: %llu\n",
           (unsigned long long)st.points, (unsigned long long)st.to_fetch,
           (unsigned long long)st.on_disk);
    if(st.skipped)
      printf("without a usable id or sequence_id: %llu\n", (unsigned long long)st.skipped);
    return CLI_OK;
  }
  if(!o.m.quiet && (lrc == MLY_OK || st.started))
    print_summary(&o, &st, el);
  if(lrc) {
    fprintf(stderr, "mapillary: %s\n", err.msg[0] ? err.msg : mly_strerror(lrc));
    /* an input or folder that fails before any request is the user's */
    return lrc == MLY_EIO && !st.started ? CLI_USAGE : cli_exit_for(lrc, st.started);
  }
  return CLI_OK;
}
