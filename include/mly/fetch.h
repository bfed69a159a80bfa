/* fetch.h -- many HTTP(S) or file:// requests in flight, with retries
 *
 * A fetch runs requests handed out by the caller's `next` callback, keeps up
 * to `concurrency` in flight (libcurl multi; HTTP/2 multiplexing where the
 * server offers it; gzip accepted, also a raw gzip body), retries transient
 * failures with exponential backoff and jitter (honouring Retry-After), and
 * reports each request's final outcome once through `done`.
 *
 * The token is added here, never by the caller: URLs given to `next`
 * carry no token, unless the user wrote one into a tile URL template by
 * hand (then no second one is added, and every message redacts it).
 *
 * Redirects of a request with a token are followed only to the same scheme,
 * host and port: a redirect elsewhere is not followed (the request fails,
 * naming where it pointed), so neither the query's token nor the
 * Authorization header ever goes to another host. A request without one
 * (a CDN file, FETCH_KIND_BLOB) follows redirects anywhere (up to 5). */
#ifndef MLY_FETCH_H
#define MLY_FETCH_H

#include <signal.h>
#include "mly/common.h"

enum fetch_auth {
  FETCH_AUTH_NONE = 0,
  FETCH_AUTH_QUERY,  /* tiles: append access_token=<url-encoded token> */
  FETCH_AUTH_HEADER  /* Graph API: header "Authorization: OAuth <token>" */
};

/* What a request is for. Each kind reads HTTP statuses its own way (curl's
 * protocol handlers); retries, backoff, Retry-After, 429, budgets and the
 * token rules are the same for every kind. 5xx, 408, 425, 429, resets,
 * timeouts and cut bodies are transient for all; a Graph error body with
 * code 190 is FETCH_AUTH and code 4 a rate limit for tiles and the Graph. */
enum fetch_kind {
  FETCH_KIND_TILE = 0, /* coverage tile: 404, 204, an empty 200 and 403
                          without an API error body are FETCH_EMPTY */
  FETCH_KIND_GRAPH,    /* Graph API answer: 401/403 are FETCH_AUTH; any
                          other 4xx (an unknown id, a form it refuses) is
                          FETCH_REFUSED with the error body handed over */
  FETCH_KIND_BLOB      /* a file from a CDN (an image): never carries the
                          token (auth is forced to FETCH_AUTH_NONE), its body
                          is not read as an API error; 401/403/404/410 (a
                          signed link expired or revoked, a file gone) are
                          FETCH_REFUSED */
};

struct fetch_opts {
  int concurrency;        /* requests in flight, >= 1 */
  int retries;            /* attempts per request, >= 1 */
  double timeout_s;       /* seconds per attempt (whole transfer) */
  size_t max_body;        /* bytes; a larger body is FETCH_TOOBIG, not retried */
  const char *token;      /* may be NULL for file:// only runs; copied */
  unsigned backoff_ms;    /* first retry delay (doubles each attempt, jittered,
                             capped at 30 s); 0 means the default 500 ms */
  unsigned max_retry_wait_s; /* longest Retry-After honoured; a server asking
                             for more is a lasting rate limit
                             (FETCH_RATE_LIMIT at once); 0: the default */
};

#define FETCH_DEFAULT_MAX_RETRY_WAIT_S 120

/* The final outcome of one request. */
enum fetch_status {
  FETCH_OK = 0,       /* body holds the (decompressed) data */
  FETCH_EMPTY,        /* no data: 200 with empty body, 204, 404, 403 without
                         a JSON error body, or a missing file:// file */
  FETCH_FAILED,       /* still failing after all attempts (msg says why) */
  FETCH_AUTH,         /* 401/403 or a JSON error with code 190: stop */
  FETCH_RATE_LIMIT,   /* "application request limit reached" (code 4) or
                         HTTP 429 that persisted through all attempts, or a
                         Retry-After longer than max_retry_wait_s */
  FETCH_TOOBIG,       /* body above max_body */
  FETCH_REFUSED       /* the server refused this very request for good, as
                         the request's kind reads it (see fetch_kind); body
                         and n hold the answer's body, not retried */
};

struct fetch_result {
  enum fetch_status status;
  long http_status;     /* 0 for file:// and transport errors */
  const uint8_t *body;  /* borrowed: valid only during the done call */
  size_t n;
  int64_t content_length; /* the answer's Content-Length, -1 when not sent
                           or the body was inflated (then n differs) */
  int attempts;         /* attempts made */
  char msg[256];        /* for FAILED/AUTH/RATE_LIMIT/TOOBIG; no token */
};

/* One request, filled in by `next`. */
struct fetch_req {
  char url[2048];       /* without token */
  enum fetch_auth auth;
  enum fetch_kind kind; /* 0 (FETCH_KIND_TILE) unless set */
  void *user;           /* handed back to done */
};

/* What `done` tells the fetcher about a FETCH_OK/FETCH_EMPTY/FETCH_REFUSED
 * body. */
enum fetch_verdict {
  FETCH_ACCEPT = 0,  /* taken */
  FETCH_RETRY,       /* body unusable (undecodable): retry like a transient
                        failure; when attempts run out, done is called once
                        more with FETCH_FAILED and the message set in
                        res->msg by the previous call kept */
  FETCH_STOP         /* stop the run now: fetch_run returns MLY_ESTOP */
};

struct fetch_source {
  /* Called whenever a slot is free. Return 1 with *req filled to start a
   * request, 0 when there is nothing to start now. When nothing is in
   * flight or waiting to retry and next returns 0, the run ends. */
  int (*next)(void *user, struct fetch_req *req);
  /* Called exactly once per request with its final outcome (or more than
   * once if it returned FETCH_RETRY, see above). res may be modified
   * (msg) by the callee. */
  enum fetch_verdict (*done)(void *user, void *req_user, struct fetch_result *res);
  /* Optional: called when next has nothing to start and the fetcher is
   * about to wait for answers, for work better done now than after the
   * last answer. An answer that comes meanwhile waits for it. */
  void (*idle)(void *user);
  void *user;
};

/* Counters for progress and summaries */
struct fetch_stats {
  uint64_t requests;      /* attempts started (http and file) */
  uint64_t retries;       /* attempts that were retries */
  uint64_t bytes;         /* body bytes received (after decompression) */
  int in_flight;          /* now */
  uint64_t rate_wait_until; /* monotonic ms (fetch_now_ms) until which a
                             rate-limited retry waits; 0: none */
};

/* The monotonic clock of rate_wait_until, in ms */
uint64_t fetch_now_ms(void);

struct fetch;

enum mly_rc fetch_new(const struct fetch_opts *opts, struct fetch **out, struct mly_err *err)
    MLY_WARN_UNUSED;
void fetch_free(struct fetch **f);

/* Run until the source is exhausted (MLY_OK), done says stop (MLY_ESTOP),
 * or an internal failure (MLY_ENOMEM, ...). Optional tick is called about
 * every 100 ms (progress); return non-zero from it to stop (MLY_ESTOP),
 * e.g. on SIGINT. */
enum mly_rc fetch_run(struct fetch *f, const struct fetch_source *src,
                      int (*tick)(void *user), struct mly_err *err) MLY_WARN_UNUSED;

/* All in one: run src on a fetcher of its own (opened with opts, freed
 * before returning), stopping when *stop is set (NULL: never). MLY_OK when
 * the source is exhausted; MLY_ESTOP with err "interrupted" when *stop
 * was set, MLY_ESTOP with err untouched when the source's done said
 * FETCH_STOP (the source holds why); else the fetcher's failure. */
enum mly_rc fetch_run_once(const struct fetch_opts *opts, const struct fetch_source *src,
                           volatile sig_atomic_t *stop, struct mly_err *err) MLY_WARN_UNUSED;

const struct fetch_stats *fetch_get_stats(const struct fetch *f);

/* Copy s into out replacing the value of any access_token= parameter with
 * "REDACTED" (for libcurl messages that may echo a URL). */
void fetch_redact(const char *s, char *out, size_t cap);

/* True when the URL's query already carries an access_token parameter (a
 * token written into a template by hand): no second one is added. */
bool fetch_url_has_token(const char *url);

#endif
