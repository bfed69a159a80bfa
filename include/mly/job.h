/* job.h -- the whole get_mapillary_points run: AOI -> tiles -> images -> files
 *
 * Tiles are fetched concurrently but handled in tile order (x, y) through a
 * reorder window, so outputs are byte-identical whatever the concurrency or
 * the order in which responses arrive. Outputs are written to temporary
 * files and renamed only when every tile of the run is done. */
#ifndef MLY_JOB_H
#define MLY_JOB_H

#include <signal.h>
#include "mly/common.h"
#include "mly/filter.h"

#define JOB_DEFAULT_TILES_URL "https://tiles.mapillary.com/maps/vtp/mly1_public/2/{z}/{x}/{y}"
#define JOB_DEFAULT_GRAPH_URL "https://graph.mapillary.com"
#define JOB_ZOOM 14
#define JOB_SEQ_MEMORY_POINTS 250000 /* per sequence builder, 48 bytes each: 12 MB */

struct job_opts {
  const char *input_aoi;      /* bbox text, GeoJSON path, or "-" */
  const char *field_name;     /* NULL: one area */
  struct filter filter;
  bool split_pano;
  const char *out_points;
  const char *out_sequences;
  /* a PostGIS destination's table ("PG:" outputs, outfile.h); NULL: the
   * defaults. With --field_name or --split_pano the table takes the
   * value and class as a file name would: <value>_<table>__pano */
  const char *table_points;
  const char *table_sequences;
  const char *tiles_url;      /* template with {z} {x} {y} */
  const char *token;          /* NULL when not needed (file://) */
  int concurrency;
  int retries;
  double timeout_s;
  size_t max_tile_bytes;
  size_t max_tiles;           /* refuse AOIs needing more z14 tiles */
  unsigned backoff_ms;        /* 0: fetcher default */
  unsigned max_retry_wait_s;  /* longest Retry-After honoured; 0: fetcher default */
  /* big jobs */
  const char *cache_path;     /* MBTiles tile cache, or NULL */
  int64_t max_age_s;          /* cached tiles older than this are fetched again; < 0: never */
  uint64_t max_requests;      /* stop (MLY_ESTOP) after this many requests; 0: no limit */
  bool dry_run;               /* count tiles and cached tiles, fetch nothing, write nothing */
  bool count_only;            /* fetch and count (reports), write no output */
  bool prune_empty;           /* skip z14 tiles the overview layer shows empty */
  uint32_t shard_k, shard_n;  /* with shard_n > 0: only tiles of shard k (1..n), into the cache */
  /* exact ids */
  const char *graph_url;      /* Graph API root */
  bool id_repair;             /* repair ids above 2^53 through the Graph API */
  bool organization_names;    /* add organization_name to points (Graph API) */
  volatile sig_atomic_t *stop;/* set by a signal handler: stop cleanly */
};

/* An organization and how many kept images it has in an area */
struct job_org_count {
  char *id;
  uint64_t images;
};

/* Figures of one area, for the end-of-run summary */
struct job_area_report {
  char *name;                 /* the --field_name value, or NULL */
  size_t tiles, tiles_with_data;
  uint64_t images_seen;       /* image features in the area's tiles */
  uint64_t images_kept;
  uint64_t panoramas;
  uint64_t without_org;       /* kept images with no organization_id */
  size_t sequences;
  struct job_org_count *orgs; /* by images (most first), then id */
  size_t norgs;
};

/* Figures for progress and the summary */
struct job_stats {
  bool started;               /* requests began: later failures are not input errors */
  size_t areas;
  size_t tiles_total;
  size_t tiles_done;
  size_t tiles_with_data;
  size_t tiles_cached;        /* taken from the cache (a dry run: fresh in the cache) */
  size_t tiles_fetched;       /* fetched over the network or from files */
  size_t tiles_pruned;        /* skipped as empty by --prune_empty */
  size_t overview_tiles;      /* low-zoom tiles read for --prune_empty */
  uint64_t images_seen;       /* image features decoded */
  uint64_t images_kept;       /* written to point files, all areas */
  uint64_t duplicates;        /* dropped as seen before */
  uint64_t inexact_ids;       /* kept ids held as doubles at or above 2^53 */
  uint64_t ids_repaired;      /* of those, replaced by the exact id */
  uint64_t ids_unrepaired;    /* of those, left as held (repair off, unknown or failed) */
  uint64_t id_collisions;     /* repaired by order within the sequence */
  uint64_t repair_requests;   /* Graph API image_ids requests */
  uint64_t repair_failures;   /* of those, failed after their retries */
  uint64_t orgname_failures;  /* organization name requests that failed */
  uint64_t panoramas;         /* kept and panoramic */
  size_t sequences;           /* written, all areas */
  uint64_t requests;
  uint64_t retries;
  uint64_t bytes;
  int in_flight;
  uint64_t rate_wait_until;   /* fetch_now_ms() until which a rate-limited retry waits; 0: none */
  size_t files_written;
  struct job_area_report *reports; /* one per area after a run; job_stats_cleanup */
  size_t nreports;
};

void job_stats_cleanup(struct job_stats *st);

/* Called about every 100 ms while fetching (may be NULL) */
typedef void (*job_progress_fn)(void *user, const struct job_stats *st);

/* Validate everything that can be checked before a request (AOI, paths,
 * URL template) and run. MLY_EFORMAT/MLY_EINVAL/MLY_ETOOBIG for bad
 * input before anything is fetched or written; MLY_EHTTP, MLY_EAUTH,
 * MLY_EIO while running; MLY_ERATE or MLY_ESTOP when stopped early. On
 * any failure no output path is created or changed. */
enum mly_rc job_run(const struct job_opts *o, job_progress_fn progress, void *user,
                    struct job_stats *st, struct mly_err *err) MLY_WARN_UNUSED;

/* Output paths for one area and class, following geokit's layout:
 * with a group value, "<dir>/<value>_<basename>"; with split, the path
 * minus a final ".geojson" plus "__pano.geojson" or "__no__pano.geojson".
 * Returns a malloc'd string or NULL. */
char *job_output_path(const char *path, const char *group_value, int split_class);
enum { JOB_CLASS_ALL = 0, JOB_CLASS_PANO = 1, JOB_CLASS_NO_PANO = 2 };

#endif
