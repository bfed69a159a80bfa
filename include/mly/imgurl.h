/* imgurl.h -- thumbnail URLs (and more fields) of many images from the Graph API, in batches
 *
 * Ids go in as they come (imgurl_add); requests of up to `batch` ids go out
 * on a fetcher (imgurl_next / imgurl_done are a fetch_source's next and
 * done, so the caller can mix them with its own requests on one fetch run,
 * as download_mapillary_imgs does with the image downloads); each id's
 * answer comes back once through the callback. Or all in one call on a
 * fetcher of its own: imgurl_lookup.
 *
 * Forms (SPEC "download_mapillary_imgs"): the documented batch form
 * `GET {graph_url}?ids=A,B&fields=id,thumb_1024_url[,extra]` first. A
 * refused request (a 4xx that is not about the token or the rate) is cut
 * in halves until one id is left, and that id is asked alone
 * (`GET {graph_url}/{id}?fields=...`): found alone, the form itself is
 * refused and the next one is used from then on
 * (`{graph_url}/images?image_ids=...`, then one id at a time); refused
 * alone, the image is unavailable. So an unknown id that makes a strict
 * server refuse the whole batch costs a few requests, not the batch.
 *
 * An id missing from an answer, or refused alone, or whose entity has no
 * usable URL of the size, is unavailable (deleted, private, no such size):
 * not a failure. The token goes in the header (FETCH_AUTH_HEADER), never
 * in a URL. */
#ifndef MLY_IMGURL_H
#define MLY_IMGURL_H

#include <signal.h>
#include <jansson.h>
#include "mly/common.h"
#include "mly/fetch.h"
#include "mly/graph.h"

#define IMGURL_BATCH_DEFAULT 50 /* ids per request: what the API is reported to take */
#define IMGURL_BATCH_MAX 100
#define IMGURL_FIELDS_MAX 512   /* bytes of the extra field list */

enum imgurl_size { IMGURL_SIZE_256, IMGURL_SIZE_1024, IMGURL_SIZE_2048, IMGURL_SIZE_ORIGINAL };

/* "256", "1024", "2048" or "original" (geokit's names); false otherwise. */
bool imgurl_size_parse(const char *s, enum imgurl_size *out) MLY_WARN_UNUSED;

/* The Graph field of a size: "thumb_1024_url", "thumb_original_url". */
const char *imgurl_size_field(enum imgurl_size size);

/* Whether s is a usable extra field list: comma-separated names of
 * [a-z0-9_] (nested selections such as creator{username} are allowed:
 * also '{', '}'), no empty name, at most IMGURL_FIELDS_MAX bytes. */
bool imgurl_fields_valid(const char *s);

struct imgurl_opts {
  const char *graph_url; /* API root, e.g. https://graph.mapillary.com; copied */
  enum imgurl_size size;
  const char *fields;    /* extra fields, comma-separated, or NULL; copied */
  size_t batch;          /* ids per request, 1..IMGURL_BATCH_MAX; 0: the default */
};

enum imgurl_state {
  IMGURL_FOUND = 0,    /* url holds the link */
  IMGURL_UNAVAILABLE,  /* deleted, private, or no URL of the size: why says which */
  IMGURL_FAILED        /* the request failed for good after its retries: why says how */
};

/* One id's answer, borrowed: valid during the callback only. */
struct imgurl_hit {
  uint64_t id;
  void *item;              /* as given to imgurl_add */
  enum imgurl_state state;
  const char *url;         /* FOUND: the thumbnail URL (http or https) */
  json_t *entity;          /* FOUND: the entity object with the extra fields */
  const char *why;         /* UNAVAILABLE/FAILED: one line, e.g. "not found
                              (deleted or private)", "no thumb_2048_url" */
};

/* Called once per added id. Return MLY_OK to go on; anything else stops
 * the run (imgurl_done returns FETCH_STOP and imgurl_failure gives it). */
typedef enum mly_rc (*imgurl_cb)(void *user, const struct imgurl_hit *hit);

struct imgurl;

enum mly_rc imgurl_new(const struct imgurl_opts *o, imgurl_cb cb, void *user, struct imgurl **out,
                       struct mly_err *err) MLY_WARN_UNUSED;
/* Free and clear *q (ids still queued get no callback); NULL is a no-op. */
void imgurl_free(struct imgurl **q);

/* Queue an id; item is handed back in its hit. MLY_ENOMEM. The same id
 * may be added again (e.g. for a new link once one expired). */
enum mly_rc imgurl_add(struct imgurl *q, uint64_t id, void *item) MLY_WARN_UNUSED;

/* Let the partial batch go with the next imgurl_next (at the end of the
 * input, or when the caller has nothing else to wait for). */
void imgurl_flush(struct imgurl *q);

/* Ids added whose hit has not come yet (queued or in flight). */
size_t imgurl_pending(const struct imgurl *q);

/* Whether imgurl_next would start a request now. */
bool imgurl_ready(const struct imgurl *q);

/* fetch_source.next: start the next request, 1 with *req filled (its
 * user is the batch, to be handed to imgurl_done), 0 when none is ready. */
int imgurl_next(struct imgurl *q, struct fetch_req *req);

/* fetch_source.done for a request started by imgurl_next: hits for its
 * ids, or a retry (a rate limit or a garbled answer), or a split, or
 * FETCH_STOP on an invalid token (MLY_EAUTH), a lasting rate limit
 * (MLY_ERATE), no memory, or a callback's error; imgurl_failure says
 * which. */
enum fetch_verdict imgurl_done(struct imgurl *q, void *req_user, struct fetch_result *res);

/* MLY_OK, or why imgurl_done stopped (err gets the message). */
enum mly_rc imgurl_failure(const struct imgurl *q, struct mly_err *err);

struct imgurl_stats {
  uint64_t requests;    /* requests answered (each attempt counts in fetch_stats) */
  uint64_t found, unavailable, failed;
  uint64_t refused;     /* requests the API refused (splits, probes) */
  enum graph_form form; /* the form new batches use now */
};
const struct imgurl_stats *imgurl_get_stats(const struct imgurl *q);

/* All in one: look up ids[0..n) on a fetcher of its own (opened with fo;
 * fo->token required for http(s)), hits through cb with item set to
 * (void *)(uintptr_t)i, the id's index. MLY_ESTOP when *stop is set; else
 * as imgurl_failure, or the fetcher's own failure. */
enum mly_rc imgurl_lookup(const struct fetch_opts *fo, const struct imgurl_opts *o,
                          const uint64_t *ids, size_t n, imgurl_cb cb, void *user,
                          volatile sig_atomic_t *stop, struct mly_err *err) MLY_WARN_UNUSED;

#endif
