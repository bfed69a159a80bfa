/* imgdl.h -- download_mapillary_imgs: the images of a points file, and the points with their paths
 *
 * Points are read one at a time (featread.h) into a window of features in
 * input order; for each, unless its image is already on disk, the image's
 * link is asked of the Graph API in batches (imgurl.h) and the image is
 * fetched from the CDN, on one fetch run (fetch.h: Graph answers and CDN
 * files are two kinds of request; the token goes to the Graph API only).
 * Memory follows the window, never the number of points.
 *
 * Images: DIR/<sequence_id>/<id>.jpg. The id is a decimal id (string or
 * integer property); the sequence id is made safe for a folder name (every
 * character other than a letter, digit, '-', '_' or '.' becomes '_', a
 * leading '.' too, at most IMGDL_SEQ_MAX bytes), so no input can write
 * outside DIR. A body is kept only when complete (Content-Length, when
 * sent, matches) and a JPEG (FF D8 at its start, FF D9 at its end); it is
 * written to an unnamed file in the folder (O_TMPFILE; a named temporary
 * file where that is not supported) and linked under its name at once, so
 * a file with the name is always a whole image and a killed run leaves
 * nothing half-written. An existing name is never replaced.
 *
 * A rerun skips every image on disk (a regular file with the JPEG start and
 * end markers) without any request. When the CDN refuses a link (401, 403:
 * expired or forbidden; 404, 410: gone) the Graph API is asked once more
 * for that image; refused again, the image is failed (401/403) or
 * unavailable (404/410).
 *
 * OUT gets every input feature, in input order, with `image_path` (relative
 * to OUT's folder) for each image on disk at the end and `image_url` (the
 * link it was fetched through) for each fetched in this run, plus the
 * --fields asked for; published only when every image was had or is
 * unavailable (outfile.h: complete or absent). */
#ifndef MLY_IMGDL_H
#define MLY_IMGDL_H

#include <signal.h>
#include "mly/common.h"
#include "mly/fetch.h"
#include "mly/imgurl.h"

#define IMGDL_SEQ_MAX 128    /* bytes of a sequence folder name */
#define IMGDL_NAMED 10       /* unavailable / failed ids named in the stats */

struct imgdl_stats {
  uint64_t points;       /* features read */
  uint64_t on_disk;      /* images already there: no request */
  uint64_t to_fetch;     /* images not on disk (dry run: the plan) */
  uint64_t written;      /* images fetched and written now */
  uint64_t bytes;        /* their bytes */
  uint64_t unavailable;  /* deleted, private, no URL of the size, gone */
  uint64_t failed;       /* still failing after the retries */
  uint64_t skipped;      /* features without a usable id or sequence_id */
  uint64_t relinked;     /* links asked for again after the CDN refused one */
  uint64_t graph_requests, image_requests; /* started (retries not counted) */
  uint64_t retries;
  bool input_done;       /* every feature read (to_fetch is then final) */
  bool started;          /* a request was made or a file written */
  bool published;        /* OUT written */
  char unavailable_ids[IMGDL_NAMED][24]; /* the first ones, with */
  char unavailable_why[IMGDL_NAMED][64]; /* their reasons */
  char failed_ids[IMGDL_NAMED][24];
  char failed_why[IMGDL_NAMED][160];
};

struct imgdl_opts {
  const char *input;       /* points: any file featread reads, "-" standard input */
  const char *images_dir;  /* DIR */
  const char *output;      /* OUT */
  enum imgurl_size size;
  const char *fields;      /* extra Graph fields for OUT, or NULL */
  const char *graph_url;
  struct fetch_opts fetch; /* concurrency, retries, timeout, token (required
                              unless dry_run); max_body is set here */
  uint64_t max_requests;   /* 0: no limit; else stop (MLY_ESTOP) after so many */
  bool dry_run;            /* count only: nothing fetched or written */
  volatile sig_atomic_t *stop; /* set (SIGINT): stop with MLY_ESTOP */
  /* optional, about every 100 ms and at the end */
  void (*progress)(void *user, const struct imgdl_stats *st);
  void *progress_user;
};

/* Run (see above). MLY_OK when every image is on disk or unavailable and
 * OUT is published. Before any request or file: MLY_EINVAL (options),
 * MLY_EIO / MLY_EFORMAT (input, folders; stats->started false). Then:
 * MLY_EHTTP when images failed for good (the others stay on disk, OUT not
 * written), MLY_EAUTH, MLY_ERATE (a lasting rate limit), MLY_ESTOP (budget
 * or *stop; a rerun resumes), MLY_EFORMAT (a broken feature further on),
 * MLY_EIO, MLY_ENOMEM. The message says what and where. */
enum mly_rc imgdl_run(const struct imgdl_opts *o, struct imgdl_stats *st, struct mly_err *err)
    MLY_WARN_UNUSED;

/* ---- pieces (exposed for tests) ----------------------------------------- */

/* The folder name of a sequence id (n bytes) into out (cap >= IMGDL_SEQ_MAX
 * + 1): see above. false when it is empty or longer than IMGDL_SEQ_MAX. */
bool imgdl_safe_name(const char *s, size_t n, char *out, size_t cap);

/* Whether p[0..n) is a whole JPEG by its markers: FF D8 first, FF D9 last */
bool imgdl_is_jpeg(const uint8_t *p, size_t n);

/* Whether name in the sequence folder seq of DIR (dirfd) is a regular file
 * that starts and ends like a JPEG: an image a run finished. Neither seq nor
 * name is followed through a symlink. */
bool imgdl_on_disk(int dirfd, const char *seq, const char *name);

/* Write p[0..n) as name in the sequence folder seq of DIR (dirfd; made when
 * missing), created whole or not at all (see above). seq and name are single
 * names: a symlink under either is never followed nor replaced (MLY_EIO, "in
 * the way"). shown is DIR as messages name it. MLY_OK; MLY_EIO with a
 * message (an existing whole image: *existed set, MLY_OK, the file left as
 * it is). */
enum mly_rc imgdl_save(int dirfd, const char *shown, const char *seq, const char *name,
                       const uint8_t *p, size_t n, bool *existed, struct mly_err *err)
    MLY_WARN_UNUSED;

#endif
