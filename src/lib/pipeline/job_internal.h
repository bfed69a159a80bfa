/* job_internal.h -- state shared by the job_*.c files (one run of get_mapillary_points) */
#ifndef MLY_JOB_INTERNAL_H
#define MLY_JOB_INTERNAL_H

#include <pthread.h>

#include "mly/aoi.h"
#include "mly/cache.h"
#include "mly/dbuf.h"
#include "mly/fetch.h"
#include "mly/graph.h"
#include "mly/idset.h"
#include "mly/image.h"
#include "mly/job.h"
#include "mly/mvt.h"
#include "mly/outfile.h"
#include "mly/seq.h"
#include "mly/strtab.h"
#include "mly/tile.h"

#define NO_SEQ 0x7FFFFFFFu     /* idset tag of an image without sequence_id */
#define STR_ID_TAG 0x80000000u /* idset tag bit: the id is a string's index */
#define MAX_CLASSES 2

/* kept images per organization (strtab index + 1 as key) */
struct org_counter {
  uint32_t *keys;
  uint64_t *counts;
  size_t cap, n;
};

struct area_out {
  struct aoi *aoi;
  struct job_area_report rep;
  struct org_counter orgs;
  int nclasses;
  struct outfile points[MAX_CLASSES];
  struct outfile seqs[MAX_CLASSES];
  struct seq_builder *seqb[MAX_CLASSES];
  /* ids written so far, for dropping an image met again in a neighbour
   * tile's buffer: tiles come in x-major order, so the tiles a duplicate
   * can sit in (x-1 and x, any y) are the previous and current columns */
  struct idset *seen_prev, *seen_cur;
  uint32_t seen_x;
};

struct member {
  uint32_t area;
  uint32_t rel;
};

struct job_tile {
  struct tile t;
  uint32_t first, n; /* members[first .. first+n) */
};

/* One kept image of one area, waiting in its tile's chunk until the tiles
 * before it are written. Its strings are interned in the job's strtab when
 * the tile arrives (indexes depend on arrival order, but nothing written
 * depends on index values, so outputs stay byte-identical). */
struct kept {
  uint32_t area;
  uint32_t text_off, text_len;
  struct seq_point p; /* seq = NO_SEQ without sequence_id */
  bool inexact;
};

struct chunk {
  bool ready;
  size_t ninexact;  /* kept images whose id may need repair */
  bool had_data;
  struct dbuf text;
  struct kept *kept;
  size_t nkept, cap;
  uint64_t seen;
};

/* Graph API lookups waiting for a request: strtab indexes, first in first out */
struct lookup_queue {
  uint32_t *idx;
  size_t head, n, cap;
};

/* Id repair of one sequence (indexed by the strtab index of its id) */
enum repair_state {
  REPAIR_NONE = 0, /* not needed */
  REPAIR_QUEUED,   /* waiting for or in a Graph API request */
  REPAIR_DONE,     /* r holds the exact ids */
  REPAIR_UNKNOWN,  /* the API does not know the sequence: ids stay as held */
  REPAIR_FAILED    /* the request failed after its retries: ids stay as held */
};

struct repair {
  uint8_t state;
  struct idrepair *r;
};

/* A kept image whose rounded id matches several exact ids of its sequence
 * (a collision), held back until every tile is written: then the images
 * sharing the double are ranked by capture time and each gets the exact id
 * of its rank in the Graph API's image_ids order (SPEC.md "Output") */
struct held {
  uint32_t area;
  uint32_t cls;
  size_t image;       /* one number per image: the areas keeping it share it */
  struct seq_point p; /* p.id is the rounded id */
  size_t text_off;    /* in the job's held_text */
  uint32_t text_len;
};

/* Name of one organization (indexed by the strtab index of its id) */
struct orgname_state {
  uint8_t state; /* REPAIR_NONE, _QUEUED, _DONE (name may be NULL: unknown), _FAILED */
  char *name;
};

struct job {
  const struct job_opts *o;
  bool points_csv; /* the points files are CSV: image_write_csv, not GeoJSON */
  struct aoi_set *set;
  struct area_out *areas;
  size_t nareas;
  struct job_tile *tiles;
  size_t ntiles;
  struct member *members;
  struct chunk *window;
  size_t nwindow;
  size_t next;  /* next tile to request */
  size_t head;  /* next tile to write */
  struct strtab *strings;
  struct mvt_index idx;
  struct image_keys keys;
  /* per value of the current layer: its strtab index + 1 once interned
   * (a layer's sequence and organization ids repeat over its images) */
  uint32_t *interned;
  size_t interned_cap; /* bytes */
  /* per member of the current tile: its SUBCELLS x SUBCELLS cells'
   * relation to the area (enum cell_rel), found when a point falls in one */
  uint8_t *cells;
  size_t cells_cap;    /* bytes */
  struct fetch *fetch;
  pthread_t fetch_freer;   /* lets the fetcher go while outputs are finished */
  bool fetch_freeing;
  struct job_stats *st;
  job_progress_fn progress;
  void *progress_user;
  struct mly_err *err;
  enum mly_rc fail; /* set by done when the run must stop */
  bool write_outputs; /* false for --dry_run and --shard runs */
  /* cache and request budget */
  struct cache *cache;
  uint64_t tile_requests; /* tile requests started, for --max_requests */
  bool budget_hit;
  /* id repair: per sequence state, and the sequences waiting for a request */
  bool repair;
  struct repair *repairs;
  size_t nrepairs;
  struct lookup_queue rqueue;
  struct dbuf scratch;
  struct held *held;       /* collided images, in tile order */
  size_t nheld, heldcap, nheld_images;
  struct dbuf held_text;
  /* --organization_names: per organization state, and those waiting */
  bool org_names;
  struct orgname_state *orgnames;
  size_t norgnames;
  struct lookup_queue oqueue;
  struct dbuf scratch2;
};

/* job_tiles.c: decode a tile body into its chunk; MLY_EFORMAT = unusable body */
enum mly_rc mly__tile_process(struct job *j, size_t ti, const uint8_t *body, size_t n,
                              struct mly_err *err) MLY_WARN_UNUSED;
void mly__chunk_reset(struct chunk *c);
/* job_tiles.c: write every ready chunk at the head of the window, in order */
enum mly_rc mly__flush_ready(struct job *j) MLY_WARN_UNUSED;
/* job_tiles.c: once every tile is written, the held collided images, each
 * with the exact id of its rank by capture time */
enum mly_rc mly__write_held(struct job *j) MLY_WARN_UNUSED;

/* job_report.c */
enum mly_rc mly__org_count(struct org_counter *c, uint32_t key) MLY_WARN_UNUSED;
void mly__build_reports(struct job *j);

/* job_fetch.c: fetch (or read from the cache) every tile of the run */
enum mly_rc mly__fetch_tiles(struct job *j) MLY_WARN_UNUSED;
/* job_fetch.c: ask for the exact ids of sequence `seq` (a strtab index) */
enum mly_rc mly__repair_want(struct job *j, uint32_t seq) MLY_WARN_UNUSED;
/* job_fetch.c: ask for the name of organization `org` (a strtab index) */
enum mly_rc mly__orgname_want(struct job *j, uint32_t org) MLY_WARN_UNUSED;
/* job_fetch.c: replace {z} {x} {y} in a URL template */
bool mly__tile_url(const char *tpl, struct tile t, char *out, size_t cap);
/* job_prune.c: drop the z14 tiles that the overview layer shows empty */
enum mly_rc mly__prune_empty(struct job *j) MLY_WARN_UNUSED;

#endif
