/* cmd_get_mapillary_points.c -- get_mapillary_points and organizations: run the job, report */
#include "cli_args.h"
#include "mly/orgnames.h"
#include "mly/timeparse.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct progress {
  bool tty;      /* redraw one line */
  bool lines;    /* periodic plain lines */
  double start, last;
  bool drawn;
};

static void show_progress(void *user, const struct job_stats *st)
{
  struct progress *p = user;
  double t = now_s();
  double min_gap = p->tty ? 0.1 : 2.0;
  if(t - p->last < min_gap)
    return;
  p->last = t;
  double el = t - p->start;
  double rate = el > 0 ? st->tiles_done / el : 0;
  double eta = rate > 0 ? (st->tiles_total - st->tiles_done) / rate : 0;
  int pct = st->tiles_total ? (int)(100.0 * st->tiles_done / st->tiles_total) : 100;
  /* while the server holds us back, the wait is what there is to say */
  uint64_t now = fetch_now_ms();
  char when[64];
  if(st->rate_wait_until > now + 1000)
    snprintf(when, sizeof(when), "rate limited, waiting %llu s",
             (unsigned long long)((st->rate_wait_until - now + 999) / 1000));
  else
    snprintf(when, sizeof(when), "ETA %.0fs", eta);
  char line[256];
  snprintf(line, sizeof(line),
           "tiles %zu/%zu (%d%%) | images kept %llu | in flight %d | retries %llu | %.1f tiles/s | %s",
           st->tiles_done, st->tiles_total, pct, (unsigned long long)st->images_kept, st->in_flight,
           (unsigned long long)st->retries, rate, when);
  if(p->tty) {
    fprintf(stderr, "\r\033[K%s", line);
    p->drawn = true;
  }
  else
    fprintf(stderr, "mapillary: %s\n", line);
}

static void print_orgs(const struct job_area_report *r)
{
  if(r->norgs == 0 && r->without_org == 0)
    return;
  fprintf(stderr, "mapillary:   organizations:");
  size_t shown = r->norgs < 10 ? r->norgs : 10;
  for(size_t i = 0; i < shown; i++)
    fprintf(stderr, "%s %s (%llu)", i ? "," : "", r->orgs[i].id,
            (unsigned long long)r->orgs[i].images);
  if(r->norgs > shown)
    fprintf(stderr, ", %zu more", r->norgs - shown);
  if(r->without_org)
    fprintf(stderr, "%s none (%llu)", r->norgs ? "," : "", (unsigned long long)r->without_org);
  fputc('\n', stderr);
}

static void print_summary(const struct job_stats *st, double seconds, bool repair_off)
{
  for(size_t a = 0; a < st->nreports; a++) {
    const struct job_area_report *r = &st->reports[a];
    if(r->name)
      fprintf(stderr, "mapillary: area '%s': ", r->name);
    else
      fprintf(stderr, "mapillary: ");
    fprintf(stderr, "%zu tiles (%zu with data), %llu images seen, %llu kept (%llu panoramas), "
            "%zu sequences\n", r->tiles, r->tiles_with_data, (unsigned long long)r->images_seen,
            (unsigned long long)r->images_kept, (unsigned long long)r->panoramas, r->sequences);
    print_orgs(r);
  }
  fprintf(stderr,
          "mapillary: %zu tiles (%zu with data, %zu from the cache), %llu requests, %llu retries, "
          "%.1f MB, %zu files written in %.1f s\n",
          st->tiles_total, st->tiles_with_data, st->tiles_cached, (unsigned long long)st->requests,
          (unsigned long long)st->retries, st->bytes / 1e6, st->files_written, seconds);
  if(st->overview_tiles)
    fprintf(stderr, "mapillary: --prune_empty read %zu overview tiles and skipped %zu empty tiles\n",
            st->overview_tiles, st->tiles_pruned);
  if(st->orgname_failures)
    fprintf(stderr, "mapillary: %llu organization name requests failed; those names are omitted\n",
            (unsigned long long)st->orgname_failures);
  if(st->duplicates)
    fprintf(stderr, "mapillary: %llu duplicate images dropped\n", (unsigned long long)st->duplicates);
  if(st->ids_repaired)
    fprintf(stderr, "mapillary: %llu image ids that arrived rounded (doubles above 2^53) were repaired "
            "through the Graph API (%llu requests)\n", (unsigned long long)st->ids_repaired,
            (unsigned long long)st->repair_requests);
  if(st->id_collisions)
    fprintf(stderr, "mapillary: %llu of them matched several exact ids (a collision) and were "
            "assigned by capture time\n", (unsigned long long)st->id_collisions);
  if(st->ids_unrepaired)
    fprintf(stderr, "mapillary: %llu image ids arrived as doubles above 2^53, were not repaired and "
            "may be inexact (%s)\n", (unsigned long long)st->ids_unrepaired,
            repair_off ? "--no_id_repair"
            : st->repair_requests ? "their sequences were unknown to the Graph API or its requests failed"
                                  : "repair needs MAPILLARY_ACCESS_TOKEN and an http(s) --graph_url");
}

/* organizations: the ids in the area with their image counts and names */
static int print_organizations(const struct cli_opts *co, const struct job_opts *o,
                               const struct job_stats *st)
{
  /* one row per organization over all areas */
  size_t n = 0;
  for(size_t a = 0; a < st->nreports; a++)
    n += st->reports[a].norgs;
  struct orgname *names = calloc(n ? n : 1, sizeof(*names));
  uint64_t *counts = calloc(n ? n : 1, sizeof(*counts));
  if(!names || !counts) {
    free(names);
    free(counts);
    fprintf(stderr, "mapillary: out of memory\n");
    return CLI_FAILED;
  }
  size_t rows = 0;
  for(size_t a = 0; a < st->nreports; a++)
    for(size_t i = 0; i < st->reports[a].norgs; i++) {
      const struct job_org_count *oc = &st->reports[a].orgs[i];
      size_t r = 0;
      while(r < rows && strcmp(names[r].id, oc->id) != 0)
        r++;
      if(r == rows)
        names[rows++].id = oc->id;
      counts[r] += oc->images;
    }
  struct mly_err err = {0};
  enum mly_rc rc = MLY_OK;
  bool with_names = o->token && strncmp(co->graph_url, "file://", 7) != 0;
  if(with_names) {
    struct fetch_opts fo = {(int)co->concurrency, (int)co->retries, co->timeout_s, 1 << 20,
                            o->token, o->backoff_ms, co->max_retry_wait_s};
    rc = orgnames_lookup(&fo, co->graph_url, names, rows, &cli_stop_requested, &err);
  }
  if(!rc) {
    /* by image count (most first): the job already sorted each area */
    for(size_t r = 0; r < rows; r++)
      for(size_t k = r + 1; k < rows; k++)
        if(counts[k] > counts[r]) {
          uint64_t c = counts[r];
          counts[r] = counts[k];
          counts[k] = c;
          struct orgname t = names[r];
          names[r] = names[k];
          names[k] = t;
        }
    printf("organization_id\timages\tname\n");
    for(size_t r = 0; r < rows; r++)
      printf("%s\t%llu\t%s\n", names[r].id, (unsigned long long)counts[r],
             names[r].name ? names[r].name : (with_names ? "(unknown)" : "(no token: names not looked up)"));
    uint64_t none = 0;
    for(size_t a = 0; a < st->nreports; a++)
      none += st->reports[a].without_org;
    if(none)
      printf("-\t%llu\t(no organization)\n", (unsigned long long)none);
  }
  else
    fprintf(stderr, "mapillary: %s\n", err.msg);
  orgnames_cleanup(names, rows);
  free(names);
  free(counts);
  return rc ? cli_exit_for(rc, true) : CLI_OK;
}

static int run_points(struct cli_opts *co)
{
  struct mly_err err = {0};
  struct job_opts o;
  memset(&o, 0, sizeof(o));
  o.input_aoi = co->input_aoi;
  o.field_name = co->field_name;
  o.filter.only_pano = co->only_pano;
  if(co->timestamp_from && time_parse(co->timestamp_from, false, &o.filter.from_ms, &err)) {
    fprintf(stderr, "mapillary: --timestamp_from: %s\n", err.msg);
    return CLI_USAGE;
  }
  o.filter.has_from = co->timestamp_from != NULL;
  if(co->timestamp_to && time_parse(co->timestamp_to, true, &o.filter.to_ms, &err)) {
    fprintf(stderr, "mapillary: --timestamp_to: %s\n", err.msg);
    return CLI_USAGE;
  }
  o.filter.has_to = co->timestamp_to != NULL;
  if(o.filter.has_from && o.filter.has_to && o.filter.from_ms > o.filter.to_ms) {
    fprintf(stderr, "mapillary: --timestamp_from is later than --timestamp_to\n");
    return CLI_USAGE;
  }
  if(co->organization_ids &&
     filter_parse_ids(co->organization_ids, &o.filter.org_ids, &o.filter.norg_ids, &err)) {
    fprintf(stderr, "mapillary: %s\n", err.msg);
    return CLI_USAGE;
  }
  o.split_pano = co->split_pano;
  o.out_points = co->output_file_point;
  o.out_sequences = co->output_file_sequence;
  o.table_points = co->table_point;
  o.table_sequences = co->table_sequence;
  o.tiles_url = co->tiles_url;
  o.concurrency = (int)co->concurrency;
  o.retries = (int)co->retries;
  o.timeout_s = co->timeout_s;
  o.max_tile_bytes = (size_t)co->max_tile_bytes;
  o.max_tiles = (size_t)co->max_tiles;
  o.stop = &cli_stop_requested;
  o.cache_path = co->cache;
  o.max_age_s = co->max_age_s;
  o.max_requests = (uint64_t)co->max_requests;
  o.max_retry_wait_s = co->max_retry_wait_s;
  o.dry_run = co->dry_run;
  o.prune_empty = co->prune_empty;
  o.shard_k = co->shard_k;
  o.shard_n = co->shard_n;
  o.graph_url = co->graph_url;
  o.id_repair = !co->no_id_repair;
  o.organization_names = co->organization_names;
  o.count_only = co->cmd == CLI_CMD_ORGANIZATIONS;
  const char *backoff = getenv("MAPILLARY_BACKOFF_MS"); /* tests: fast retries */
  if(backoff)
    o.backoff_ms = (unsigned)strtoul(backoff, NULL, 10);
  bool is_http = strncmp(o.tiles_url, "http://", 7) == 0 || strncmp(o.tiles_url, "https://", 8) == 0;
  const char *token = getenv("MAPILLARY_ACCESS_TOKEN");
  bool graph_http = strncmp(co->graph_url, "http://", 7) == 0 || strncmp(co->graph_url, "https://", 8) == 0;
  if(token && *token && graph_http)
    o.token = token; /* for id repair even when tiles come from files */
  /* a token written into the template by hand is the tiles' token */
  if(is_http && !fetch_url_has_token(o.tiles_url)) {
    if(!token || !*token) {
      fprintf(stderr, "mapillary: MAPILLARY_ACCESS_TOKEN is not set; it is needed to fetch %s\n",
              "tiles over http(s)");
      filter_free_ids(&o.filter.org_ids, o.filter.norg_ids);
      return CLI_USAGE;
    }
    o.token = token;
  }

  if((cli_closed_at_start & (1u << STDOUT_FILENO)) && !co->dry_run &&
     (!strcmp(o.out_points, "-") || !strcmp(o.out_sequences, "-"))) {
    fprintf(stderr, "mapillary: standard output is closed: cannot write an output to it\n");
    filter_free_ids(&o.filter.org_ids, o.filter.norg_ids);
    return CLI_FAILED;
  }

  struct progress pr = {0};
  pr.tty = !co->quiet && isatty(STDERR_FILENO);
  pr.lines = !co->quiet && !pr.tty && co->progress;
  pr.start = pr.last = now_s();
  struct job_stats st;
  enum mly_rc rc = job_run(&o, pr.tty || pr.lines ? show_progress : NULL, &pr, &st, &err);
  filter_free_ids(&o.filter.org_ids, o.filter.norg_ids);
  if(pr.lines) {
    pr.last = 0; /* a last line with the final figures */
    show_progress(&pr, &st);
  }
  if(pr.drawn)
    fputs("\r\033[K", stderr);
  double el = now_s() - pr.start;
  if(rc) {
    fprintf(stderr, "mapillary: %s\n", err.msg[0] ? err.msg : mly_strerror(rc));
    job_stats_cleanup(&st);
    return cli_exit_for(rc, st.started);
  }
  if(co->dry_run) {
    /* the plan is the command's output: stdout */
    printf("tiles needed: %zu (zoom 14)\ncached: %zu\nrequests remaining: %zu\n", st.tiles_total,
           st.tiles_cached, st.tiles_total - st.tiles_cached);
    if(co->prune_empty)
      printf("note: --prune_empty is applied when running, not in a dry run\n");
  }
  else if(co->cmd == CLI_CMD_ORGANIZATIONS) {
    int orc = print_organizations(co, &o, &st);
    job_stats_cleanup(&st);
    return orc;
  }
  else if(co->shard_n && !co->quiet)
    fprintf(stderr, "mapillary: shard %u/%u: %zu tiles in the cache (%zu fetched, %zu already there) in %.1f s\n",
            co->shard_k, co->shard_n, st.tiles_total, st.tiles_fetched, st.tiles_cached, el);
  else if(!co->quiet)
    print_summary(&st, el, co->no_id_repair);
  job_stats_cleanup(&st);
  return CLI_OK;
}


int cmd_get_mapillary_points(int argc, char **argv)
{
  struct cli_opts co;
  char **largv;
  int rc = cli_parse_legacy(argc, argv, &co, &largv);
  if(!rc && !cli_checking())
    rc = run_points(&co);
  free(largv);
  return rc;
}

/* organizations: the same job counting organizations instead of writing */
int cmd_organizations(int argc, char **argv)
{
  return cmd_get_mapillary_points(argc, argv);
}
