/* job.c -- one get_mapillary_points run: cover, fetch in order, filter, write */
#include "job_internal.h"
#include "mly/paths.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *job_output_path(const char *path, const char *group_value, int split_class)
{
  if(outfile_is_pg(path)) /* a connection string: the table varies instead */
    return strdup(path);
  struct dbuf b;
  dbuf_init(&b, 1 << 16);
  const char *slash = strrchr(path, '/');
  size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;
  const char *base = path + dirlen;
  size_t baselen = strlen(base);
  /* the split files keep the format: <stem>__pano<ext>, .geojson by default */
  size_t extlen = outfile_ext_len(base);
  const char *ext = extlen ? base + baselen - extlen : ".geojson";
  if(split_class != JOB_CLASS_ALL)
    baselen -= extlen;
  enum mly_rc rc = dbuf_add(&b, path, dirlen);
  if(!rc && group_value)
    rc = dbuf_adds(&b, group_value);
  if(!rc && group_value)
    rc = dbuf_adds(&b, "_");
  if(!rc)
    rc = dbuf_add(&b, base, baselen);
  if(!rc && split_class == JOB_CLASS_PANO)
    rc = dbuf_adds(&b, "__pano");
  if(!rc && split_class == JOB_CLASS_NO_PANO)
    rc = dbuf_adds(&b, "__no__pano");
  if(!rc && split_class != JOB_CLASS_ALL)
    rc = dbuf_adds(&b, ext);
  if(rc || !dbuf_cstr(&b)) {
    dbuf_cleanup(&b);
    return NULL;
  }
  return b.p;
}

static int class_kind(const struct job_opts *o, int c)
{
  if(!o->split_pano)
    return JOB_CLASS_ALL;
  return c == 0 ? JOB_CLASS_PANO : JOB_CLASS_NO_PANO;
}

/* ---- set-up ---------------------------------------------------------- */

struct cover_entry {
  struct tile t;
  uint32_t area;
  uint32_t rel;
};

static int cmp_entry(const void *pa, const void *pb)
{
  const struct cover_entry *a = pa, *b = pb;
  int c = tile_cmp(&a->t, &b->t);
  if(c)
    return c;
  return (a->area > b->area) - (a->area < b->area);
}

/* All areas' covers merged: each tile once, with the areas that need it */
static enum mly_rc build_tiles(struct job *j)
{
  struct cover_entry *all = NULL;
  size_t nall = 0;
  enum mly_rc rc = MLY_OK;
  for(size_t a = 0; a < j->nareas && !rc; a++) {
    struct aoi_tile *cov = NULL;
    size_t n = 0;
    rc = aoi_cover(j->areas[a].aoi, JOB_ZOOM, j->o->max_tiles, &cov, &n, j->err);
    if(rc)
      break;
    struct cover_entry *na = realloc(all, (nall + n + 1) * sizeof(*na));
    if(!na) {
      free(cov);
      rc = mly_err_set(j->err, MLY_ENOMEM, "out of memory listing tiles");
      break;
    }
    all = na;
    for(size_t i = 0; i < n; i++) {
      all[nall + i].t = cov[i].t;
      all[nall + i].area = (uint32_t)a;
      all[nall + i].rel = (uint32_t)cov[i].rel;
    }
    nall += n;
    free(cov);
  }
  if(!rc && nall > j->o->max_tiles)
    rc = mly_err_set(j->err, MLY_ETOOBIG,
                     "the areas need %zu tiles at zoom %d, more than the limit of %zu "
                     "(raise it with --max_tiles)", nall, JOB_ZOOM, j->o->max_tiles);
  if(!rc) {
    qsort(all, nall, sizeof(*all), cmp_entry);
    j->tiles = calloc(nall ? nall : 1, sizeof(*j->tiles));
    j->members = calloc(nall ? nall : 1, sizeof(*j->members));
    if(!j->tiles || !j->members)
      rc = mly_err_set(j->err, MLY_ENOMEM, "out of memory listing tiles");
  }
  for(size_t i = 0; !rc && i < nall; i++) {
    if(j->ntiles == 0 || tile_cmp(&j->tiles[j->ntiles - 1].t, &all[i].t) != 0) {
      j->tiles[j->ntiles].t = all[i].t;
      j->tiles[j->ntiles].first = (uint32_t)i;
      j->tiles[j->ntiles].n = 0;
      j->ntiles++;
    }
    j->members[i].area = all[i].area;
    j->members[i].rel = all[i].rel;
    j->tiles[j->ntiles - 1].n++;
  }
  free(all);
  return rc;
}

/* The table of a PostGIS output for one area and class (job_opts), or
 * NULL for a file; *bad is set when it cannot be made */
static char *output_table(const char *path, const char *table, enum outfile_kind kind,
                          const char *value, int cls, bool *bad)
{
  if(!outfile_is_pg(path))
    return NULL;
  if(!table)
    table = kind == OUTFILE_SEQUENCES ? OUTFILE_PG_SEQUENCES_TABLE : OUTFILE_PG_POINTS_TABLE;
  char *t = NULL;
  if(asprintf(&t, "%s%s%s%s", value ? value : "", value ? "_" : "", table,
              cls == JOB_CLASS_PANO ? "__pano" : cls == JOB_CLASS_NO_PANO ? "__no__pano" : "") < 0) {
    *bad = true;
    return NULL;
  }
  return t;
}

/* An output as check_distinct_paths compares it: the path, or for a
 * PostGIS destination its table and connection */
static char *output_key(const char *path, const char *table, enum outfile_kind kind,
                        const char *value, int cls)
{
  bool bad = false;
  char *p = job_output_path(path, value, cls);
  char *t = p ? output_table(path, table, kind, value, cls, &bad) : NULL;
  if(!t || bad) {
    if(bad) {
      free(p);
      return NULL;
    }
    return p;
  }
  /* the connection string may hold a password, and a clash is reported
   * with this key: the string is named by a hash of it */
  uint64_t h = 14695981039346656037ull; /* FNV-1a */
  for(const unsigned char *c = (const unsigned char *)p; *c; c++)
    h = (h ^ *c) * 1099511628211ull;
  char *k = NULL;
  if(asprintf(&k, "PostGIS table %s (connection %016llx)", t, (unsigned long long)h) < 0)
    k = NULL;
  free(p);
  free(t);
  return k;
}

static enum mly_rc open_outputs(struct job *j)
{
  const struct job_opts *o = j->o;
  for(size_t a = 0; a < j->nareas; a++) {
    struct area_out *ar = &j->areas[a];
    const char *value = aoi_name(ar->aoi);
    for(int c = 0; c < ar->nclasses; c++) {
      int cls = class_kind(o, c);
      bool bad = false;
      char *pp = job_output_path(o->out_points, value, cls);
      char *sp = job_output_path(o->out_sequences, value, cls);
      char *pt = output_table(o->out_points, o->table_points, OUTFILE_POINTS, value, cls, &bad);
      char *st = output_table(o->out_sequences, o->table_sequences, OUTFILE_SEQUENCES, value, cls,
                              &bad);
      enum mly_rc rc = MLY_ENOMEM;
      if(pp && sp && !bad) {
        rc = outfile_open_table(&ar->points[c], pp, pt, OUTFILE_POINTS, j->err);
        if(!rc)
          rc = outfile_open_table(&ar->seqs[c], sp, st, OUTFILE_SEQUENCES, j->err);
      }
      else
        mly_err_set(j->err, rc, "out of memory");
      free(pp);
      free(sp);
      free(pt);
      free(st);
      if(rc)
        return rc;
      ar->seqb[c] = seq_new(j->strings);
      if(!ar->seqb[c])
        return mly_err_set(j->err, MLY_ENOMEM, "out of memory");
      /* beyond this many images a sequence builder sorts runs on disk
       * ($TMPDIR): memory stays bounded whatever the area's size */
      seq_set_memory_limit(ar->seqb[c], JOB_SEQ_MEMORY_POINTS);
    }
  }
  return MLY_OK;
}

/* No output may be written over another or over an input: every output
 * path (each area's and class's), the cache (changed in place) and the AOI
 * file, compared as files (paths.h) */
static enum mly_rc check_distinct_paths(struct job *j)
{
  const struct job_opts *o = j->o;
  size_t cap = j->nareas * MAX_CLASSES * 2 + 2, n = 0;
  struct paths_use *uses = calloc(cap, sizeof(*uses));
  enum mly_rc rc = uses ? MLY_OK : MLY_ENOMEM;
  int nclasses = o->split_pano && !o->filter.only_pano ? 2 : 1;
  for(size_t a = 0; a < j->nareas && !rc; a++)
    for(int c = 0; c < nclasses && !rc; c++) {
      const char *value = aoi_name(j->areas[a].aoi);
      uses[n++] = (struct paths_use){output_key(o->out_points, o->table_points, OUTFILE_POINTS,
                                                value, class_kind(o, c)),
                                     "--output_file_point", true};
      uses[n++] = (struct paths_use){output_key(o->out_sequences, o->table_sequences,
                                                OUTFILE_SEQUENCES, value, class_kind(o, c)),
                                     "--output_file_sequence", true};
      if(!uses[n - 1].path || !uses[n - 2].path)
        rc = MLY_ENOMEM;
    }
  struct stat st;
  /* the AOI is a file when it names one (else a bbox or standard input) */
  if(!rc && strcmp(o->input_aoi, "-") != 0 && stat(o->input_aoi, &st) == 0) {
    uses[n++] = (struct paths_use){strdup(o->input_aoi), "--input_aoi", false};
    if(!uses[n - 1].path)
      rc = MLY_ENOMEM;
  }
  if(!rc && o->cache_path) {
    uses[n++] = (struct paths_use){strdup(o->cache_path), "--cache", true};
    if(!uses[n - 1].path)
      rc = MLY_ENOMEM;
  }
  if(!rc)
    rc = paths_check_distinct(uses, n, j->err);
  else if(rc == MLY_ENOMEM)
    mly_err_set(j->err, rc, "out of memory");
  for(size_t i = 0; i < n; i++)
    free((char *)uses[i].path);
  free(uses);
  return rc;
}

/* ---- the run ----------------------------------------------------------- */

static enum mly_rc finish_outputs(struct job *j)
{
  enum mly_rc rc = MLY_OK;
  /* the points files are complete: the disk writes them while the
   * sequences are sorted and written */
  for(size_t a = 0; a < j->nareas && !rc; a++)
    for(int c = 0; c < j->areas[a].nclasses && !rc; c++)
      rc = outfile_finish(&j->areas[a].points[c], j->err);
  for(size_t a = 0; a < j->nareas && !rc; a++) {
    struct area_out *ar = &j->areas[a];
    for(int c = 0; c < ar->nclasses && !rc; c++) {
      size_t nseq = 0;
      rc = seq_write(ar->seqb[c], &ar->seqs[c], &nseq, j->err);
      j->st->sequences += nseq;
      ar->rep.sequences += nseq;
      seq_free(&ar->seqb[c]);
      if(!rc)
        rc = outfile_finish(&ar->seqs[c], j->err);
    }
  }
  /* then wait for the disk: every file is being written already */
  for(size_t a = 0; a < j->nareas && !rc; a++) {
    struct area_out *ar = &j->areas[a];
    for(int c = 0; c < ar->nclasses && !rc; c++) {
      rc = outfile_close(&ar->points[c], j->err);
      if(!rc)
        rc = outfile_close(&ar->seqs[c], j->err);
    }
  }
  if(rc)
    return rc;
  if(j->o->stop && *j->o->stop)
    return mly_err_set(j->err, MLY_ESTOP, "interrupted; nothing written");
  /* every file is complete: only now do the final paths change, all
   * together (a failure leaves every one as it was) */
  size_t n = 0;
  struct outfile **all = malloc(j->nareas * MAX_CLASSES * 2 * sizeof(*all));
  if(!all)
    return mly_err_set(j->err, MLY_ENOMEM, "out of memory");
  for(size_t a = 0; a < j->nareas; a++)
    for(int c = 0; c < j->areas[a].nclasses; c++) {
      all[n++] = &j->areas[a].points[c];
      all[n++] = &j->areas[a].seqs[c];
    }
  rc = outfile_publish_all(all, n, j->err);
  if(!rc)
    j->st->files_written += n;
  free(all);
  return rc;
}

/* Once every tile is in, nothing fetches any more. Closing the
 * connections and letting libcurl go take a millisecond or two: a helper
 * thread does that while the outputs are finished. */
static void *fetch_free_main(void *arg)
{
  fetch_free(arg);
  return NULL;
}

static void let_fetcher_go(struct job *j)
{
  if(pthread_create(&j->fetch_freer, NULL, fetch_free_main, &j->fetch) == 0)
    j->fetch_freeing = true;
}

static void job_cleanup(struct job *j)
{
  if(j->fetch_freeing) {
    pthread_join(j->fetch_freer, NULL);
    j->fetch_freeing = false;
  }
  for(size_t a = 0; a < j->nareas; a++) {
    struct area_out *ar = &j->areas[a];
    for(int c = 0; c < MAX_CLASSES; c++)
      seq_free(&ar->seqb[c]);
    idset_free(&ar->seen_prev);
    idset_free(&ar->seen_cur);
    free(ar->orgs.keys);
    free(ar->orgs.counts);
  }
  for(size_t i = 0; i < j->nwindow; i++) {
    dbuf_cleanup(&j->window[i].text);
    free(j->window[i].kept);
  }
  free(j->window);
  free(j->tiles);
  free(j->members);
  strtab_free(&j->strings);
  mvt_index_cleanup(&j->idx);
  image_keys_cleanup(&j->keys);
  free(j->interned);
  free(j->cells);
  fetch_free(&j->fetch);
  cache_close(&j->cache);
  for(size_t i = 0; i < j->nrepairs; i++)
    idrepair_free(&j->repairs[i].r);
  free(j->repairs);
  free(j->rqueue.idx);
  dbuf_cleanup(&j->scratch);
  dbuf_cleanup(&j->scratch2);
  free(j->held);
  dbuf_cleanup(&j->held_text);
  for(size_t i = 0; i < j->norgnames; i++)
    free(j->orgnames[i].name);
  free(j->orgnames);
  free(j->oqueue.idx);
  aoi_set_free(&j->set);
  /* last: this waits for the files that publish replaced to be let go,
   * which their helper threads did meanwhile */
  for(size_t a = j->nareas; a-- > 0;)
    for(int c = MAX_CLASSES; c-- > 0;) {
      /* the reverse of their opening: the folders they made go too */
      outfile_abort(&j->areas[a].seqs[c]);
      outfile_abort(&j->areas[a].points[c]);
    }
  free(j->areas);
}

static enum mly_rc check_template(const char *tpl, struct mly_err *err)
{
  if(!strstr(tpl, "{z}") || !strstr(tpl, "{x}") || !strstr(tpl, "{y}"))
    return mly_err_set(err, MLY_EINVAL, "--tiles_url must contain {z}, {x} and {y}");
  if(strncmp(tpl, "file://", 7) != 0 && strncmp(tpl, "http://", 7) != 0 &&
     strncmp(tpl, "https://", 8) != 0)
    return mly_err_set(err, MLY_EINVAL, "--tiles_url must start with http://, https:// or file://");
  return MLY_OK;
}

/* Keep only the tiles of shard k of n: a fixed hash of the tile, so every
 * tile belongs to exactly one shard whatever the area */
static void keep_shard(struct job *j)
{
  size_t kept = 0;
  for(size_t i = 0; i < j->ntiles; i++) {
    struct tile t = j->tiles[i].t;
    uint64_t h = ((uint64_t)t.x << 32 | t.y) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
    if(h % j->o->shard_n == j->o->shard_k - 1)
      j->tiles[kept++] = j->tiles[i];
  }
  j->ntiles = kept;
}

/* --dry_run: how many tiles, how many already cached */
static enum mly_rc count_cached(struct job *j)
{
  if(!j->o->cache_path || access(j->o->cache_path, F_OK) != 0)
    return MLY_OK; /* no cache yet: nothing cached */
  struct cache *c = NULL;
  struct tile *tl = malloc((j->ntiles ? j->ntiles : 1) * sizeof(*tl));
  if(!tl)
    return mly_err_set(j->err, MLY_ENOMEM, "out of memory");
  for(size_t i = 0; i < j->ntiles; i++)
    tl[i] = j->tiles[i].t;
  enum mly_rc rc = cache_open_readonly(j->o->cache_path, &c, j->err);
  if(!rc)
    rc = cache_count_fresh(c, tl, j->ntiles, j->o->max_age_s, &j->st->tiles_cached, j->err);
  cache_close(&c);
  free(tl);
  return rc;
}

static enum mly_rc open_cache(struct job *j)
{
  enum mly_rc rc = cache_open(j->o->cache_path, &j->cache, j->err);
  /* not a cache, or no place for one: bad input; a full disk or an I/O
   * error stays an I/O failure (status 1) */
  if(rc)
    return rc == MLY_EFORMAT ? (j->err->rc = MLY_EINVAL) : rc;
  for(size_t a = 0; a < j->nareas && !rc; a++) {
    double w, s, e, n;
    aoi_bounds(j->areas[a].aoi, &w, &s, &e, &n);
    if(w > e) /* across the antimeridian: MBTiles bounds cannot say so */
      w = -180, e = 180;
    rc = cache_note_bounds(j->cache, w, s, e, n, j->err);
  }
  return rc;
}

enum mly_rc job_run(const struct job_opts *o, job_progress_fn progress, void *user,
                    struct job_stats *st, struct mly_err *err)
{
  struct job j;
  memset(&j, 0, sizeof(j));
  memset(st, 0, sizeof(*st));
  j.o = o;
  j.st = st;
  j.err = err;
  j.progress = progress;
  j.progress_user = user;
  j.write_outputs = !o->dry_run && !o->shard_n && !o->count_only;
  mvt_index_init(&j.idx);
  image_keys_init(&j.keys);
  dbuf_init(&j.scratch, (size_t)UINT32_MAX);
  /* exact ids need the Graph API: a token and an http(s) root */
  j.repair = o->id_repair && o->token && o->graph_url &&
             (strncmp(o->graph_url, "http://", 7) == 0 || strncmp(o->graph_url, "https://", 8) == 0);

  j.org_names = o->organization_names;
  dbuf_init(&j.scratch2, (size_t)UINT32_MAX);
  dbuf_init(&j.held_text, (size_t)1 << 40);

  enum mly_rc rc = check_template(o->tiles_url, err);
  bool graph_ok = o->token && o->graph_url &&
                  (strncmp(o->graph_url, "http://", 7) == 0 || strncmp(o->graph_url, "https://", 8) == 0);
  if(!rc && o->organization_names && !graph_ok)
    rc = mly_err_set(err, MLY_EINVAL,
                     "--organization_names needs MAPILLARY_ACCESS_TOKEN and an http(s) --graph_url");
  if(!rc && o->organization_names && outfile_format_for(o->out_points) == OUTFMT_CSV)
    rc = mly_err_set(err, MLY_EINVAL, "--organization_names works with GeoJSON points, not CSV");
  if(!rc && o->shard_n && !o->cache_path)
    rc = mly_err_set(err, MLY_EINVAL, "--shard needs --cache: a shard only fills the cache");
  if(!rc)
    rc = aoi_set_load(o->input_aoi, o->field_name, &j.set, err);
  if(rc)
    goto out;
  j.nareas = aoi_set_count(j.set);
  j.areas = calloc(j.nareas, sizeof(*j.areas));
  j.strings = strtab_new();
  if(!j.areas || !j.strings) {
    rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
    goto out;
  }
  for(size_t a = 0; a < j.nareas; a++) {
    j.areas[a].aoi = aoi_set_get(j.set, a);
    j.areas[a].nclasses = o->split_pano && !o->filter.only_pano ? 2 : 1;
    j.areas[a].seen_prev = idset_new();
    j.areas[a].seen_cur = idset_new();
    if(!j.areas[a].seen_prev || !j.areas[a].seen_cur) {
      rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
      goto out;
    }
  }
  st->areas = j.nareas;
  if((rc = check_distinct_paths(&j)) || (rc = build_tiles(&j)))
    goto out;
  if(o->shard_n)
    keep_shard(&j);
  st->tiles_total = j.ntiles;
  if(o->dry_run) {
    rc = count_cached(&j);
    goto out;
  }
  j.points_csv = outfile_format_for(o->out_points) == OUTFMT_CSV;
  if(j.write_outputs && (rc = open_outputs(&j))) {
    if(rc == MLY_EIO)
      rc = err->rc = MLY_EINVAL; /* found before any request: invalid input */
    goto out;
  }
  if(o->cache_path && (rc = open_cache(&j)))
    goto out;

  /* the reorder window bounds memory whatever order responses come in */
  j.nwindow = (size_t)(o->concurrency > 16 ? o->concurrency * 4 : 64);
  j.window = calloc(j.nwindow, sizeof(*j.window));
  if(!j.window) {
    rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
    goto out;
  }
  for(size_t i = 0; i < j.nwindow; i++)
    dbuf_init(&j.window[i].text, (size_t)UINT32_MAX);
  struct fetch_opts fo = {
    .concurrency = o->concurrency,
    .retries = o->retries,
    .timeout_s = o->timeout_s,
    .max_body = o->max_tile_bytes,
    .token = o->token,
    .backoff_ms = o->backoff_ms,
    .max_retry_wait_s = o->max_retry_wait_s,
  };
  if((rc = fetch_new(&fo, &j.fetch, err)))
    goto out;
  if(o->prune_empty && (rc = mly__prune_empty(&j)))
    goto out;
  st->tiles_total = j.ntiles;
  if((rc = mly__fetch_tiles(&j)))
    goto out;
  let_fetcher_go(&j);
  if(j.write_outputs && !(rc = mly__write_held(&j)))
    rc = finish_outputs(&j);
  if(!rc)
    mly__build_reports(&j);
out:
  job_cleanup(&j);
  return rc;
}
