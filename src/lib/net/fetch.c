/* fetch.c -- many HTTP(S) (libcurl multi) and file:// requests in flight, with retries and backoff */
#include "mly/fetch.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <zlib.h>

#define FETCH_DEFAULT_BACKOFF_MS 500u
#define FETCH_MAX_BACKOFF_MS 30000u      /* SPEC: exponential backoff, capped */
#define FETCH_RETRY_AFTER_LIMIT_S (400u * 86400u) /* larger Retry-After values read as this */
#define FETCH_MAX_REDIRECTS 5
#define FETCH_TICK_MS 100
#define FETCH_MAX_CONCURRENCY 1024
#define FETCH_JSON_MAX 65536             /* only small bodies can be API error documents */
#define FETCH_KEEP_BUF (4u << 20)        /* larger buffers are released after each use */
#define FETCH_FILE_BATCH 64              /* file reads between two looks at curl and tick */
#define FETCH_REDACTED "REDACTED"

/* A growable byte buffer with a hard cap (curl's dynbuf `toobig`). */
struct buf {
  uint8_t *p;
  size_t n, cap, max;
};

/* One request through all its attempts. */
struct job {
  struct fetch_req req;
  int attempts;
  int redirects;       /* same-origin redirects followed in this attempt */
  uint64_t due;        /* monotonic ms when a waiting retry may start */
  bool rate_limited;   /* the last cause was an API code 4 */
  bool callee_msg;     /* msg was set by done() with FETCH_RETRY: keep it verbatim */
  long http_status;    /* of the last attempt */
  char msg[256];       /* last transient cause */
  struct job *next;    /* retry queue link */
};

/* A transfer slot: one easy handle reused for keep-alive. */
struct slot {
  CURL *easy;
  struct job *job;     /* NULL when free */
  struct buf body;
  bool toobig;         /* the write callback hit max_body */
  bool nomem;          /* the write callback could not grow the buffer */
  uint64_t retry_after_ms;
  char encoding[16];   /* Content-Encoding of the last response, lowercase */
  char errbuf[CURL_ERROR_SIZE];
};

struct fetch {
  struct fetch_opts opts;
  char *token;
  char *token_esc;             /* url-encoded for the query string */
  struct curl_slist *hdr;      /* "Accept-Encoding: gzip" */
  struct curl_slist *auth_hdr; /* the same plus "Authorization: OAuth <token>" */
  CURLM *multi;
  struct slot *slots;
  int active;                  /* slots in use */
  int eff;                     /* effective concurrency: AIMD on rate limits */
  struct job *waiting;         /* retries, sorted by due time */
  int nwaiting;
  int max_waiting;             /* stop pulling new requests above this */
  struct buf fbuf;             /* file:// bodies */
  struct buf unz;              /* inflated gzip bodies */
  uint64_t rng;
  struct fetch_stats stats;
};

/* What one attempt came to, before retry policy is applied. */
enum kind { K_OK, K_EMPTY, K_AUTH, K_TRANSIENT, K_FAILED, K_TOOBIG, K_REFUSED };

struct outcome {
  enum kind kind;
  bool throttle;       /* 429 or API code 4: lower the concurrency */
  bool rate_limited;   /* API code 4 */
  uint64_t retry_after_ms;
  long http_status;
  int64_t content_length; /* -1: not sent, or the body was inflated */
  const uint8_t *body;
  size_t n;
  char msg[256];
};

/* State of one fetch_run. */
struct run {
  struct fetch *f;
  const struct fetch_source *src;
  bool stop;      /* done said FETCH_STOP */
  bool drained;   /* next returned 0 during the last fill */
  bool busy;      /* fill stopped early: poll without waiting */
};

/* ---- small helpers ---------------------------------------------------- */

static uint64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t fetch_now_ms(void)
{
  return now_ms();
}

/* The longest Retry-After honoured, in ms */
static uint64_t max_retry_wait_ms(const struct fetch *f)
{
  unsigned s = f->opts.max_retry_wait_s ? f->opts.max_retry_wait_s : FETCH_DEFAULT_MAX_RETRY_WAIT_S;
  return (uint64_t)s * 1000u;
}

/* xorshift64*: jitter needs no quality beyond "not in lockstep" */
static uint64_t rng_next(struct fetch *f)
{
  f->rng ^= f->rng >> 12;
  f->rng ^= f->rng << 25;
  f->rng ^= f->rng >> 27;
  return f->rng * 2685821657736338717ull;
}

static void buf_init(struct buf *b, size_t max)
{
  b->p = NULL;
  b->n = b->cap = 0;
  b->max = max;
}

static void buf_free(struct buf *b)
{
  free(b->p);
  b->p = NULL;
  b->n = b->cap = 0;
}

/* Forget the contents; give a big allocation back so idle memory stays small */
static void buf_reset(struct buf *b)
{
  b->n = 0;
  if(b->cap > FETCH_KEEP_BUF)
    buf_free(b);
}

/* Append; MLY_ETOOBIG past the cap (nothing appended), MLY_ENOMEM */
static enum mly_rc buf_add(struct buf *b, const void *p, size_t n)
{
  if(n > b->max - b->n)
    return MLY_ETOOBIG;
  if(b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 16384;
    while(cap < b->n + n)
      cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
    if(cap > b->max)
      cap = b->max;
    uint8_t *np = realloc(b->p, cap);
    if(!np)
      return MLY_ENOMEM;
    b->p = np;
    b->cap = cap;
  }
  if(n)
    memcpy(b->p + b->n, p, n);
  b->n += n;
  return MLY_OK;
}

/* snprintf for messages: cutting a long url or path short is intended */
static void msgf(char *dst, size_t cap, const char *fmt, ...) MLY_PRINTF(3, 4);
static void msgf(char *dst, size_t cap, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(dst, cap, fmt, ap);
  va_end(ap);
}

static bool is_gzip(const uint8_t *p, size_t n)
{
  return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/* Inflate a gzip body (several members allowed) into out, capped at out->max.
 * MLY_EFORMAT for a corrupt or cut stream: a cut body is not data. */
static enum mly_rc gunzip(const uint8_t *p, size_t n, struct buf *out)
{
  z_stream zs;
  enum mly_rc rc;
  uint8_t chunk[16384];
  size_t left = n;

  memset(&zs, 0, sizeof(zs));
  out->n = 0;
  if(inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
    return MLY_ENOMEM;
  zs.next_in = (Bytef *)p;
  for(;;) {
    if(zs.avail_in == 0 && left) {
      /* zlib counts in uInt: feed huge inputs in pieces */
      uInt piece = left > UINT_MAX ? UINT_MAX : (uInt)left;
      zs.avail_in = piece;
      left -= piece;
    }
    zs.next_out = chunk;
    zs.avail_out = sizeof(chunk);
    int zr = inflate(&zs, Z_NO_FLUSH);
    rc = buf_add(out, chunk, sizeof(chunk) - zs.avail_out);
    if(rc)
      break;
    bool input_done = zs.avail_in == 0 && left == 0;
    if(zr == Z_STREAM_END) {
      if(input_done)
        break; /* rc is MLY_OK */
      /* another member follows (concatenated gzip files) */
      if(inflateReset(&zs) != Z_OK) {
        rc = MLY_EFORMAT;
        break;
      }
      continue;
    }
    if(zr != Z_OK || (input_done && zs.avail_out != 0)) {
      rc = zr == Z_MEM_ERROR ? MLY_ENOMEM : MLY_EFORMAT;
      break;
    }
  }
  inflateEnd(&zs);
  return rc;
}

/* Copy a foreign message (server, libcurl) into dst: redacted, one line,
 * no trailing full stop (house style). */
static void clean_copy(char *dst, size_t cap, const char *src)
{
  fetch_redact(src, dst, cap);
  for(char *c = dst; *c; c++)
    if((unsigned char)*c < 0x20 || *c == 0x7f)
      *c = ' ';
  size_t len = strlen(dst);
  while(len && (dst[len - 1] == ' ' || dst[len - 1] == '.'))
    dst[--len] = '\0';
}

/* Parse a Mapillary/Graph error document {"error":{"code":N,"message":...}}.
 * Returns true and fills *code (-1 when absent) and msg when it is one. */
static bool api_error(const uint8_t *p, size_t n, long long *code, char *msg, size_t cap)
{
  size_t i = 0;
  bool found = false;

  while(i < n && isspace(p[i]))
    i++;
  if(i == n || p[i] != '{' || n > FETCH_JSON_MAX)
    return false;
  json_t *doc = json_loadb((const char *)p, n, JSON_DECODE_ANY, NULL);
  json_t *e = json_is_object(doc) ? json_object_get(doc, "error") : NULL;
  if(json_is_object(e)) {
    json_t *c = json_object_get(e, "code");
    json_t *m = json_object_get(e, "message");
    *code = json_is_integer(c) ? (long long)json_integer_value(c)
            : json_is_real(c)  ? (long long)json_real_value(c)
            : -1;
    clean_copy(msg, cap, json_is_string(m) ? json_string_value(m) : "no message");
    found = true;
  }
  json_decref(doc);
  return found;
}

static uint64_t backoff_ms(struct fetch *f, int attempt, uint64_t retry_after_ms)
{
  uint64_t d = f->opts.backoff_ms ? f->opts.backoff_ms : FETCH_DEFAULT_BACKOFF_MS;
  for(int i = 1; i < attempt && d < FETCH_MAX_BACKOFF_MS; i++)
    d *= 2;
  if(d > FETCH_MAX_BACKOFF_MS)
    d = FETCH_MAX_BACKOFF_MS;
  /* equal jitter: half fixed so retries never bunch at zero, half random so
   * clients that failed together do not come back together */
  d = d / 2 + rng_next(f) % (d / 2 + 1);
  if(retry_after_ms > max_retry_wait_ms(f))
    retry_after_ms = max_retry_wait_ms(f);
  return d > retry_after_ms ? d : retry_after_ms;
}

/* ---- redaction (public) ----------------------------------------------- */

/* Length of the secret starting at s: up to a delimiter that cannot be in
 * a URL-encoded token or a header value. */
static size_t secret_len(const char *s, bool in_query)
{
  size_t n = 0;
  while(s[n] && !isspace((unsigned char)s[n]) && s[n] != '"' && s[n] != '\'' &&
        !(in_query && (s[n] == '&' || s[n] == '#')))
    n++;
  return n;
}

void fetch_redact(const char *s, char *out, size_t cap)
{
  static const char *const keys[] = {"access_token=", "Authorization: OAuth "};
  size_t o = 0;

  if(!cap)
    return;
  if(!s)
    s = "";
  while(*s && o + 1 < cap) {
    size_t klen = 0;
    int which = -1;
    for(int k = 0; k < 2; k++) {
      size_t l = strlen(keys[k]);
      if(strncasecmp(s, keys[k], l) == 0) {
        which = k;
        klen = l;
        break;
      }
    }
    if(which < 0) {
      out[o++] = *s++;
      continue;
    }
    size_t sl = secret_len(s + klen, which == 0);
    /* copy the key, then the marker instead of the value (cut at cap) */
    for(size_t i = 0; i < klen && o + 1 < cap; i++)
      out[o++] = s[i];
    if(sl)
      for(const char *r = FETCH_REDACTED; *r && o + 1 < cap; r++)
        out[o++] = *r;
    s += klen + sl;
  }
  out[o] = '\0';
}

/* True when a query parameter named access_token is in url's query */
bool fetch_url_has_token(const char *url)
{
  static const char key[] = "access_token=";
  const char *q = url ? strchr(url, '?') : NULL;
  if(!q)
    return false;
  const char *end = q + strcspn(q, "#");
  for(const char *p = q + 1; p < end; p++) {
    if((p[-1] == '?' || p[-1] == '&') && (size_t)(end - p) >= sizeof(key) - 1 &&
       strncasecmp(p, key, sizeof(key) - 1) == 0)
      return true;
  }
  return false;
}

/* ---- curl callbacks --------------------------------------------------- */

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
  struct slot *s = ud;
  size_t n = size * nmemb;
  enum mly_rc rc = buf_add(&s->body, p, n);
  if(rc == MLY_ETOOBIG)
    s->toobig = true;
  else if(rc)
    s->nomem = true;
  return rc ? 0 : n; /* 0 aborts the transfer with CURLE_WRITE_ERROR */
}

/* Milliseconds asked for by a Retry-After value (delay-seconds or an
 * HTTP date), capped; 0 when unparsable or in the past */
static uint64_t retry_after_value(const char *v)
{
  uint64_t secs = 0;
  char *end;

  while(*v == ' ' || *v == '\t')
    v++;
  if(isdigit((unsigned char)*v)) {
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    secs = errno ? UINT64_MAX : n;
  }
  else {
    time_t when = curl_getdate(v, NULL);
    time_t now = time(NULL);
    if(when != -1 && when > now)
      secs = (uint64_t)(when - now);
  }
  if(secs > FETCH_RETRY_AFTER_LIMIT_S)
    secs = FETCH_RETRY_AFTER_LIMIT_S;
  return secs * 1000;
}

/* Keep Retry-After and Content-Encoding of the last response */
static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
  static const char ra[] = "retry-after:";
  static const char ce[] = "content-encoding:";
  struct slot *s = ud;
  size_t n = size * nmemb;

  if(n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
    /* a new response (after a redirect or 1xx) */
    s->retry_after_ms = 0;
    s->encoding[0] = '\0';
  }
  else if(n > sizeof(ce) - 1 && strncasecmp(p, ce, sizeof(ce) - 1) == 0) {
    size_t i = sizeof(ce) - 1, o = 0;
    while(i < n && (p[i] == ' ' || p[i] == '\t'))
      i++;
    while(i < n && o + 1 < sizeof(s->encoding) && !isspace((unsigned char)p[i]) && p[i] != ',')
      s->encoding[o++] = (char)tolower((unsigned char)p[i++]);
    s->encoding[o] = '\0';
  }
  else if(n > sizeof(ra) - 1 && strncasecmp(p, ra, sizeof(ra) - 1) == 0) {
    char v[128]; /* header lines are not NUL-terminated */
    size_t vl = n - (sizeof(ra) - 1);
    if(vl >= sizeof(v))
      vl = sizeof(v) - 1;
    memcpy(v, p + sizeof(ra) - 1, vl);
    v[vl] = '\0';
    s->retry_after_ms = retry_after_value(v);
  }
  return n;
}

/* ---- lifecycle -------------------------------------------------------- */

static void wipe_free(char *s)
{
  if(s) {
    /* volatile so the compiler keeps the wipe of the secret */
    volatile char *v = s;
    while(*v)
      *v++ = 0;
    free(s);
  }
}

static enum mly_rc slot_setup(struct fetch *f, struct slot *s)
{
  CURL *e = curl_easy_init();
  if(!e)
    return MLY_ENOMEM;
  s->easy = e;
  long timeout = (long)(f->opts.timeout_s * 1000.0);
  if(timeout < 1)
    timeout = 1;
  CURLcode cc = CURLE_OK;
#define SET(opt, val) \
  if(!cc)             \
  cc = curl_easy_setopt(e, opt, val)
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_PRIVATE, (void *)s);
  SET(CURLOPT_WRITEFUNCTION, on_write);
  SET(CURLOPT_WRITEDATA, (void *)s);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_HEADERDATA, (void *)s);
  SET(CURLOPT_ERRORBUFFER, s->errbuf);
  SET(CURLOPT_TIMEOUT_MS, timeout);
  SET(CURLOPT_USERAGENT, "mapillary-cli/" MLY_VERSION);
  /* redirects are followed by harvest(), to the same origin only: libcurl
   * would follow to any host with the token in the query */
  SET(CURLOPT_FOLLOWLOCATION, 0L);
  SET(CURLOPT_TCP_KEEPALIVE, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
  /* file:// is ours; curl speaks http(s) only, also on redirects */
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  SET(CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
#undef SET
  if(cc)
    return cc == CURLE_OUT_OF_MEMORY ? MLY_ENOMEM : MLY_EINVAL;
  /* HTTP/2 only where TLS negotiates it; a libcurl without it stays on 1.1 */
  (void)curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  buf_init(&s->body, f->opts.max_body);
  return MLY_OK;
}

static enum mly_rc check_opts(const struct fetch_opts *o, struct mly_err *err)
{
  if(o->concurrency < 1 || o->concurrency > FETCH_MAX_CONCURRENCY)
    return mly_err_set(err, MLY_EINVAL, "concurrency %d out of range 1..%d", o->concurrency,
                       FETCH_MAX_CONCURRENCY);
  if(o->retries < 1)
    return mly_err_set(err, MLY_EINVAL, "retries %d below 1", o->retries);
  if(!(o->timeout_s > 0) || o->timeout_s > 86400)
    return mly_err_set(err, MLY_EINVAL, "timeout %g s out of range", o->timeout_s);
  if(o->max_body == 0)
    return mly_err_set(err, MLY_EINVAL, "body cap of 0 bytes");
  if(o->token && strpbrk(o->token, "\r\n"))
    return mly_err_set(err, MLY_EINVAL, "access token holds a line break");
  return MLY_OK;
}

enum mly_rc fetch_new(const struct fetch_opts *opts, struct fetch **out, struct mly_err *err)
{
  enum mly_rc rc;
  struct fetch *f = NULL;

  *out = NULL;
  rc = check_opts(opts, err);
  if(rc)
    return rc;
  if(curl_global_init(CURL_GLOBAL_DEFAULT))
    return mly_err_set(err, MLY_ENOMEM, "cannot initialise libcurl");
  f = calloc(1, sizeof(*f));
  if(!f) {
    curl_global_cleanup();
    return mly_err_set(err, MLY_ENOMEM, "out of memory for the fetcher");
  }
  f->opts = *opts;
  f->opts.token = NULL;
  f->eff = opts->concurrency;
  f->max_waiting = opts->concurrency * 4 > 64 ? opts->concurrency * 4 : 64;
  f->rng = (now_ms() << 20) ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)f;
  if(!f->rng)
    f->rng = 0x9e3779b97f4a7c15ull;
  buf_init(&f->fbuf, opts->max_body);
  buf_init(&f->unz, opts->max_body);
  f->multi = curl_multi_init();
  f->slots = calloc((size_t)opts->concurrency, sizeof(*f->slots));
  if(!f->multi || !f->slots)
    goto nomem;
  for(int i = 0; i < opts->concurrency; i++) {
    rc = slot_setup(f, &f->slots[i]);
    if(rc == MLY_ENOMEM)
      goto nomem;
    if(rc) {
      mly_err_set(err, rc, "cannot configure libcurl");
      goto fail;
    }
  }
  /* gzip is decoded here, not by libcurl: libcurl 7.88 takes a gzip stream
   * cut short (with a matching Content-Length) as a shorter good body */
  f->hdr = curl_slist_append(NULL, "Accept-Encoding: gzip");
  if(!f->hdr)
    goto nomem;
  if(opts->token) {
    f->token = strdup(opts->token);
    if(!f->token)
      goto nomem;
    f->token_esc = curl_easy_escape(f->slots[0].easy, opts->token, 0);
    size_t hl = strlen(opts->token) + sizeof("Authorization: OAuth ");
    char *h = malloc(hl);
    if(!f->token_esc || !h) {
      free(h);
      goto nomem;
    }
    snprintf(h, hl, "Authorization: OAuth %s", opts->token);
    f->auth_hdr = curl_slist_append(NULL, "Accept-Encoding: gzip");
    struct curl_slist *l = f->auth_hdr ? curl_slist_append(f->auth_hdr, h) : NULL;
    wipe_free(h);
    if(!l)
      goto nomem;
  }
  *out = f;
  return MLY_OK;
nomem:
  rc = mly_err_set(err, MLY_ENOMEM, "out of memory for the fetcher");
fail:
  fetch_free(&f);
  return rc;
}

static void job_free_list(struct job *j)
{
  while(j) {
    struct job *next = j->next;
    free(j);
    j = next;
  }
}

/* Abort every transfer and drop every waiting retry (no done calls) */
static void abort_all(struct fetch *f)
{
  for(int i = 0; f->slots && i < f->opts.concurrency; i++) {
    struct slot *s = &f->slots[i];
    if(s->job) {
      curl_multi_remove_handle(f->multi, s->easy);
      free(s->job);
      s->job = NULL;
    }
    buf_reset(&s->body);
  }
  f->active = 0;
  f->stats.in_flight = 0;
  job_free_list(f->waiting);
  f->waiting = NULL;
  f->nwaiting = 0;
  buf_reset(&f->fbuf);
  buf_reset(&f->unz);
}

void fetch_free(struct fetch **pf)
{
  struct fetch *f = pf ? *pf : NULL;
  if(!f)
    return;
  abort_all(f);
  for(int i = 0; f->slots && i < f->opts.concurrency; i++) {
    if(f->slots[i].easy)
      curl_easy_cleanup(f->slots[i].easy);
    buf_free(&f->slots[i].body);
  }
  free(f->slots);
  if(f->multi)
    curl_multi_cleanup(f->multi);
  for(struct curl_slist *l = f->auth_hdr; l; l = l->next) {
    volatile char *v = l->data;
    while(*v)
      *v++ = 0;
  }
  curl_slist_free_all(f->auth_hdr);
  curl_slist_free_all(f->hdr);
  wipe_free(f->token);
  if(f->token_esc) {
    volatile char *v = f->token_esc;
    while(*v)
      *v++ = 0;
    curl_free(f->token_esc);
  }
  buf_free(&f->fbuf);
  buf_free(&f->unz);
  free(f);
  curl_global_cleanup();
  *pf = NULL;
}

const struct fetch_stats *fetch_get_stats(const struct fetch *f)
{
  return &f->stats;
}

/* ---- classification ----------------------------------------------------- */

/* Each kind's reading of a final 3xx/4xx status (the statuses every kind
 * reads alike, 2xx, 429, 5xx and API codes 4 and 190, are read before). */
static enum kind status_tile(long st, bool is_api)
{
  if(st == 401 || (is_api && st == 403))
    return K_AUTH;
  if(st == 404 || st == 403)
    return K_EMPTY; /* legacy: 403 without an error document = no tile */
  return K_FAILED;  /* other 4xx and unfollowed 3xx: a retry changes nothing */
}

static enum kind status_graph(long st, bool is_api)
{
  if(st == 401 || st == 403)
    return K_AUTH;
  return st >= 400 && st < 500 ? K_REFUSED : K_FAILED;
}

static enum kind status_blob(long st, bool is_api)
{
  /* a signed link that expired or was revoked, or a file gone: only a new
   * link can help, and that is the caller's to ask for */
  if(st == 401 || st == 403 || st == 404 || st == 410)
    return K_REFUSED;
  return K_FAILED;
}

static enum kind (*const kind_status[])(long, bool) = {
  [FETCH_KIND_TILE] = status_tile,
  [FETCH_KIND_GRAPH] = status_graph,
  [FETCH_KIND_BLOB] = status_blob,
};


/* Outcome of a finished transfer: status, body and API error per SPEC.md
 * "Data safety" (empty: 200 empty, 204, 404, 403 without an error document;
 * auth: 401/403 with one or code 190; transient: 429, 5xx, code 4, ...). */
static void classify_http(struct fetch *f, struct slot *s, CURLcode cc, struct outcome *oc)
{
  long st = 0;
  const uint8_t *p = s->body.p;
  size_t n = s->body.n;

  curl_off_t cl = -1;
  curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &st);
  curl_easy_getinfo(s->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
  oc->http_status = st;
  oc->content_length = cl;
  oc->retry_after_ms = s->retry_after_ms;

  if(s->toobig) {
    oc->kind = K_TOOBIG;
    char url[512];
    fetch_redact(s->job->req.url, url, sizeof(url));
    msgf(oc->msg, sizeof(oc->msg), "body above %zu bytes: %s", f->opts.max_body, url);
    return;
  }
  if(cc != CURLE_OK) {
    oc->kind = K_TRANSIENT;
    switch(cc) {
    case CURLE_PARTIAL_FILE:
      msgf(oc->msg, sizeof(oc->msg), "truncated body (HTTP %ld)", st);
      break;
    case CURLE_OPERATION_TIMEDOUT:
      msgf(oc->msg, sizeof(oc->msg), "timed out after %g s", f->opts.timeout_s);
      break;
    /* retrying cannot mend these (CURLE_UNSUPPORTED_PROTOCOL is not among
     * them: with http(s) URLs and no redirects followed by libcurl, it
     * means a garbled status line, read as HTTP/0.9: transient) */
    case CURLE_URL_MALFORMAT:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
      oc->kind = K_FAILED;
      /* fall through */
    default:
      clean_copy(oc->msg, sizeof(oc->msg), s->errbuf[0] ? s->errbuf : curl_easy_strerror(cc));
    }
    return;
  }

  /* gzip: declared by Content-Encoding, or (not for a CDN file, whose
   * bytes are the caller's) a raw body starting 1f 8b */
  const char *enc = s->encoding;
  bool declared = strcmp(enc, "gzip") == 0 || strcmp(enc, "x-gzip") == 0;
  bool sniff = s->job->req.kind != FETCH_KIND_BLOB;
  /* an encoding we never asked for: nothing to decode it with */
  bool alien = enc[0] && !declared && strcmp(enc, "identity") != 0;
  bool bad_gzip = false;
  if(n && !alien && (declared || (sniff && is_gzip(p, n)))) {
    enum mly_rc rc = gunzip(p, n, &f->unz);
    if(rc == MLY_ETOOBIG) {
      oc->kind = K_TOOBIG;
      char url[512];
      fetch_redact(s->job->req.url, url, sizeof(url));
      msgf(oc->msg, sizeof(oc->msg), "body above %zu bytes once inflated: %s", f->opts.max_body,
           url);
      return;
    }
    if(rc == MLY_OK) {
      p = f->unz.p;
      n = f->unz.n;
      oc->content_length = -1; /* it counted the gzip bytes */
    }
    else
      bad_gzip = true; /* MLY_EFORMAT, or MLY_ENOMEM: worth another try too */
  }
  /* An unreadable body could be an error document: never guess "empty" */
  if(alien) {
    oc->kind = K_FAILED;
    msgf(oc->msg, sizeof(oc->msg), "unsupported content encoding '%s' (HTTP %ld)", enc, st);
    return;
  }
  if(bad_gzip) {
    oc->kind = K_TRANSIENT;
    oc->throttle = st == 429;
    msgf(oc->msg, sizeof(oc->msg), "bad gzip body (HTTP %ld)", st);
    return;
  }

  bool api_errors = s->job->req.kind != FETCH_KIND_BLOB; /* a CDN body is no API document */
  long long code = -1;
  char amsg[160];
  bool is_api = api_errors && api_error(p, n, &code, amsg, sizeof(amsg));
  if(is_api)
    msgf(oc->msg, sizeof(oc->msg), "HTTP %ld, api error %lld: %s", st, code, amsg);
  else
    msgf(oc->msg, sizeof(oc->msg), "HTTP %ld", st);
  oc->body = p;
  oc->n = n;
  if(is_api && code == 4) {
    oc->kind = K_TRANSIENT;
    oc->throttle = oc->rate_limited = true;
  }
  else if(is_api && code == 190)
    oc->kind = K_AUTH;
  else if(st >= 200 && st < 300)
    /* an error document with 2xx is odd enough to ask again */
    oc->kind = is_api ? K_TRANSIENT : n == 0 || st == 204 ? K_EMPTY : K_OK;
  else if(st == 429) {
    oc->kind = K_TRANSIENT;
    oc->throttle = oc->rate_limited = true; /* persistent: stop, resumable */
  }
  else if(st >= 500 || st == 408 || st == 425)
    oc->kind = K_TRANSIENT;
  else
    oc->kind = kind_status[s->job->req.kind](st, is_api);
  if(oc->kind != K_OK && oc->kind != K_REFUSED) {
    oc->body = NULL;
    oc->n = 0;
  }
}

/* Decode %XX escapes of a file:// path; false on a bad escape or NUL */
static bool pct_decode(const char *s, size_t n, char *out, size_t cap)
{
  size_t o = 0;
  for(size_t i = 0; i < n; i++) {
    char c = s[i];
    if(c == '%') {
      if(i + 2 >= n)
        return false;
      if(!isxdigit((unsigned char)s[i + 1]) || !isxdigit((unsigned char)s[i + 2]))
        return false;
      char hex[3] = {s[i + 1], s[i + 2], 0};
      c = (char)strtol(hex, NULL, 16);
      if(c == 0)
        return false;
      i += 2;
    }
    if(o + 1 >= cap)
      return false;
    out[o++] = c;
  }
  out[o] = '\0';
  return true;
}

static enum mly_rc read_fd(int fd, struct buf *b)
{
  uint8_t chunk[65536];
  b->n = 0;
  for(;;) {
    ssize_t r = read(fd, chunk, sizeof(chunk));
    if(r < 0) {
      if(errno == EINTR)
        continue;
      return MLY_EIO;
    }
    if(r == 0)
      return MLY_OK;
    enum mly_rc rc = buf_add(b, chunk, (size_t)r);
    if(rc)
      return rc;
  }
}

/* Outcome of reading a file:// URL: missing file = empty, raw gzip inflated */
static enum mly_rc classify_file(struct fetch *f, const char *url, struct outcome *oc)
{
  const char *p = url + strlen("file://");
  char path[PATH_MAX];

  if(strncasecmp(p, "localhost/", 10) == 0)
    p += 9;
  size_t plen = strcspn(p, "?#");
  if(*p != '/' || !pct_decode(p, plen, path, sizeof(path))) {
    oc->kind = K_FAILED;
    char red[512];
    fetch_redact(url, red, sizeof(red));
    msgf(oc->msg, sizeof(oc->msg), "unusable file url: %s", red);
    return MLY_OK;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if(fd < 0) {
    if(errno == ENOENT || errno == ENOTDIR) {
      oc->kind = K_EMPTY;
      return MLY_OK;
    }
    oc->kind = K_FAILED;
    msgf(oc->msg, sizeof(oc->msg), "cannot open %s: %s", path, strerror(errno));
    return MLY_OK;
  }
  struct stat sb;
  enum mly_rc rc = MLY_OK;
  if(fstat(fd, &sb) == 0 && !S_ISREG(sb.st_mode)) {
    oc->kind = K_FAILED;
    msgf(oc->msg, sizeof(oc->msg), "not a regular file: %s", path);
    goto out;
  }
  rc = read_fd(fd, &f->fbuf);
  if(rc == MLY_ETOOBIG) {
    oc->kind = K_TOOBIG;
    msgf(oc->msg, sizeof(oc->msg), "file above %zu bytes: %s", f->opts.max_body, path);
    rc = MLY_OK;
    goto out;
  }
  if(rc == MLY_EIO) {
    oc->kind = K_FAILED;
    msgf(oc->msg, sizeof(oc->msg), "cannot read %s: %s", path, strerror(errno));
    rc = MLY_OK;
    goto out;
  }
  if(rc)
    goto out;
  oc->kind = f->fbuf.n ? K_OK : K_EMPTY;
  oc->body = f->fbuf.p;
  oc->n = f->fbuf.n;
  if(is_gzip(oc->body, oc->n)) {
    rc = gunzip(oc->body, oc->n, &f->unz);
    if(rc == MLY_ETOOBIG) {
      oc->kind = K_TOOBIG;
      msgf(oc->msg, sizeof(oc->msg), "file above %zu bytes once inflated: %s",
               f->opts.max_body, path);
    }
    else if(rc == MLY_EFORMAT) {
      oc->kind = K_FAILED;
      msgf(oc->msg, sizeof(oc->msg), "bad gzip data in %s", path);
    }
    else if(rc == MLY_OK) {
      oc->body = f->unz.p;
      oc->n = f->unz.n;
      oc->kind = oc->n ? K_OK : K_EMPTY;
    }
    if(rc != MLY_ENOMEM)
      rc = MLY_OK;
  }
out:
  close(fd);
  if(oc->kind != K_OK) {
    oc->body = NULL;
    oc->n = 0;
  }
  return rc;
}

/* ---- retry policy and delivery ------------------------------------------ */

static void queue_retry(struct fetch *f, struct job *j, uint64_t delay)
{
  j->due = now_ms() + delay;
  struct job **pp = &f->waiting;
  while(*pp && (*pp)->due <= j->due)
    pp = &(*pp)->next;
  j->next = *pp;
  *pp = j;
  f->nwaiting++;
}

/* Hand a result to done */
static void deliver(struct run *r, struct job *j, struct fetch_result *res,
                    enum fetch_verdict *verdict)
{
  res->attempts = j->attempts;
  *verdict = r->src->done(r->src->user, j->req.user, res);
  if(*verdict == FETCH_STOP)
    r->stop = true;
}

static void final_failure(struct fetch *f, struct job *j, struct fetch_result *res)
{
  res->status = j->rate_limited ? FETCH_RATE_LIMIT : FETCH_FAILED;
  res->http_status = j->http_status;
  if(j->callee_msg)
    msgf(res->msg, sizeof(res->msg), "%s", j->msg);
  else
    msgf(res->msg, sizeof(res->msg), "request failed after %d attempt%s: %s", j->attempts,
             j->attempts == 1 ? "" : "s", j->msg);
}

/* Apply the retry policy to one attempt's outcome */
static enum mly_rc settle(struct run *r, struct job *j, struct outcome *oc)
{
  struct fetch *f = r->f;
  struct fetch_result res;
  enum fetch_verdict v = FETCH_ACCEPT;

  memset(&res, 0, sizeof(res));
  res.http_status = oc->http_status;
  res.content_length = -1;
  j->http_status = oc->http_status;

  switch(oc->kind) {
  case K_OK:
  case K_EMPTY:
  case K_REFUSED:
    /* additive increase after a rate-limit decrease */
    if(f->eff < f->opts.concurrency)
      f->eff++;
    res.status = oc->kind == K_OK ? FETCH_OK : oc->kind == K_EMPTY ? FETCH_EMPTY : FETCH_REFUSED;
    res.body = oc->kind != K_EMPTY ? oc->body : NULL;
    res.n = oc->kind != K_EMPTY ? oc->n : 0;
    res.content_length = oc->kind == K_OK ? oc->content_length : -1;
    if(oc->kind == K_REFUSED)
      snprintf(res.msg, sizeof(res.msg), "%s", oc->msg);
    f->stats.bytes += res.n;
    deliver(r, j, &res, &v);
    if(v != FETCH_RETRY || r->stop)
      break;
    /* done found the body unusable: keep its message and retry */
    msgf(j->msg, sizeof(j->msg), "%s",
             res.msg[0] ? res.msg : "body rejected by the caller");
    j->callee_msg = true;
    j->rate_limited = false;
    if(j->attempts < f->opts.retries) {
      queue_retry(f, j, backoff_ms(f, j->attempts, 0));
      return MLY_OK;
    }
    memset(&res, 0, sizeof(res));
    final_failure(f, j, &res);
    deliver(r, j, &res, &v);
    break;
  case K_TRANSIENT:
    if(oc->throttle) {
      /* multiplicative decrease: no retry storm against a rate limit */
      f->eff = f->eff > 1 ? f->eff / 2 : 1;
    }
    msgf(j->msg, sizeof(j->msg), "%s", oc->msg);
    j->callee_msg = false;
    j->rate_limited = oc->rate_limited;
    if(oc->retry_after_ms > max_retry_wait_ms(f)) {
      /* waiting that long per attempt is no retry: a lasting rate limit */
      msgf(j->msg, sizeof(j->msg), "%s; the server asks to wait %llu s (Retry-After), more than "
           "the %llu s allowed (--max_retry_wait)", oc->msg,
           (unsigned long long)(oc->retry_after_ms / 1000),
           (unsigned long long)(max_retry_wait_ms(f) / 1000));
      j->rate_limited = true;
      final_failure(f, j, &res);
      deliver(r, j, &res, &v);
      break;
    }
    if(j->attempts < f->opts.retries) {
      uint64_t delay = backoff_ms(f, j->attempts, oc->retry_after_ms);
      queue_retry(f, j, delay);
      if(oc->throttle && j->due > f->stats.rate_wait_until)
        f->stats.rate_wait_until = j->due;
      return MLY_OK;
    }
    final_failure(f, j, &res);
    deliver(r, j, &res, &v);
    break;
  case K_AUTH:
  case K_FAILED:
  case K_TOOBIG:
    res.status = oc->kind == K_AUTH ? FETCH_AUTH : oc->kind == K_TOOBIG ? FETCH_TOOBIG
                                                                         : FETCH_FAILED;
    snprintf(res.msg, sizeof(res.msg), "%s", oc->msg);
    deliver(r, j, &res, &v);
    break;
  }
  free(j);
  return MLY_OK;
}

/* ---- the loop ------------------------------------------------------------ */

static struct slot *free_slot(struct fetch *f)
{
  for(int i = 0; i < f->opts.concurrency; i++)
    if(!f->slots[i].job)
      return &f->slots[i];
  return NULL;
}

/* Give the slot's handle the URL u of job j, with the token added to the
 * query for FETCH_AUTH_QUERY unless u carries one already */
static CURLcode set_url(struct fetch *f, struct slot *s, const struct job *j, const char *u)
{
  char *url = NULL;
  if(j->req.auth == FETCH_AUTH_QUERY && !fetch_url_has_token(u)) {
    size_t n = strlen(u) + strlen(f->token_esc) + sizeof("&access_token=");
    url = malloc(n);
    if(!url)
      return CURLE_OUT_OF_MEMORY;
    snprintf(url, n, "%s%caccess_token=%s", u, strchr(u, '?') ? '&' : '?', f->token_esc);
    u = url;
  }
  CURLcode cc = curl_easy_setopt(s->easy, CURLOPT_URL, u);
  wipe_free(url); /* libcurl keeps its own copy */
  return cc;
}

/* Start one attempt over HTTP(S); on failure j is freed */
static enum mly_rc start_http(struct run *r, struct job *j)
{
  struct fetch *f = r->f;
  struct slot *s = free_slot(f);

  if(!s) {
    free(j);
    return MLY_ENOMEM; /* cannot happen: active < eff <= slots */
  }
  if(j->req.kind == FETCH_KIND_BLOB)
    j->req.auth = FETCH_AUTH_NONE; /* the token goes to Mapillary's hosts only */
  if(j->req.auth != FETCH_AUTH_NONE && !f->token) {
    struct outcome oc = {.kind = K_AUTH};
    char url[256];
    fetch_redact(j->req.url, url, sizeof(url));
    snprintf(oc.msg, sizeof(oc.msg), "no access token for %.200s", url);
    return settle(r, j, &oc);
  }
  j->redirects = 0;
  CURLcode cc = set_url(f, s, j, j->req.url);
  if(cc == CURLE_OUT_OF_MEMORY) {
    free(j);
    return MLY_ENOMEM;
  }
  if(cc == CURLE_OK)
    cc = curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER,
                          j->req.auth == FETCH_AUTH_HEADER ? f->auth_hdr : f->hdr);
  /* over TLS wait for a first connection to learn whether it multiplexes
   * (HTTP/2) rather than open `concurrency` connections at once */
  if(cc == CURLE_OK)
    cc = curl_easy_setopt(s->easy, CURLOPT_PIPEWAIT,
                          strncasecmp(j->req.url, "https:", 6) == 0 ? 1L : 0L);
  if(cc) {
    free(j);
    return MLY_ENOMEM;
  }
  s->body.n = 0;
  s->toobig = s->nomem = false;
  s->retry_after_ms = 0;
  s->encoding[0] = '\0';
  s->errbuf[0] = '\0';
  if(curl_multi_add_handle(f->multi, s->easy) != CURLM_OK) {
    free(j);
    return MLY_ENOMEM;
  }
  s->job = j;
  f->active++;
  f->stats.in_flight = f->active;
  return MLY_OK;
}

static enum mly_rc start_file(struct run *r, struct job *j)
{
  struct outcome oc;
  memset(&oc, 0, sizeof(oc));
  oc.content_length = -1;
  enum mly_rc rc = classify_file(r->f, j->req.url, &oc);
  if(rc) {
    free(j);
    return rc;
  }
  rc = settle(r, j, &oc);
  buf_reset(&r->f->fbuf);
  buf_reset(&r->f->unz);
  return rc;
}

static bool is_file_url(const char *u)
{
  return strncasecmp(u, "file://", 7) == 0;
}

/* Fill free slots: due retries first, then new requests from next */
static enum mly_rc fill(struct run *r)
{
  struct fetch *f = r->f;
  int files = 0;

  r->drained = false;
  r->busy = false;
  while(f->active < f->eff && !r->stop) {
    struct job *j;
    if(f->waiting && f->waiting->due <= now_ms()) {
      j = f->waiting;
      f->waiting = j->next;
      f->nwaiting--;
      j->next = NULL;
    }
    else if(f->nwaiting < f->max_waiting) {
      j = calloc(1, sizeof(*j));
      if(!j)
        return MLY_ENOMEM;
      if(!r->src->next(r->src->user, &j->req)) {
        free(j);
        r->drained = true;
        break;
      }
      j->req.url[sizeof(j->req.url) - 1] = '\0';
      if((unsigned)j->req.kind > FETCH_KIND_BLOB)
        j->req.kind = FETCH_KIND_BLOB; /* unknown: the kind that never carries the token */
    }
    else
      break;
    j->attempts++;
    f->stats.requests++;
    if(j->attempts > 1)
      f->stats.retries++;
    enum mly_rc rc;
    if(is_file_url(j->req.url)) {
      rc = start_file(r, j);
      files++;
    }
    else
      rc = start_http(r, j);
    if(rc)
      return rc; /* j was freed by start_* */
    if(files >= FETCH_FILE_BATCH) {
      r->busy = true; /* let curl and tick have a turn */
      break;
    }
  }
  return MLY_OK;
}

/* scheme://host:port of url (default port filled in); false if unparsable */
static bool origin_of(const char *url, char *out, size_t cap)
{
  CURLU *h = curl_url();
  char *scheme = NULL, *host = NULL, *port = NULL;
  bool ok = h && curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
            curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK;
  if(ok) {
    for(char *c = host; *c; c++)
      *c = (char)tolower((unsigned char)*c);
    for(char *c = scheme; *c; c++)
      *c = (char)tolower((unsigned char)*c);
    ok = (size_t)snprintf(out, cap, "%s://%s:%s", scheme, host, port) < cap;
  }
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(h);
  return ok;
}

/* A 3xx answer with a Location: follow it on the same slot when it points
 * to the same scheme, host and port, or when the request carries no token
 * (*followed), else fill *oc with a failure (a redirect elsewhere is never
 * followed with a token: it would go with it). oc->kind stays K_OK (0) when
 * there is no redirect. */
static enum mly_rc redirect(struct run *r, struct slot *s, CURLcode cc, struct outcome *oc,
                            bool *followed)
{
  struct fetch *f = r->f;
  struct job *j = s->job;
  long st = 0;
  char *loc = NULL;

  if(cc != CURLE_OK || s->toobig)
    return MLY_OK;
  curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &st);
  if(st < 300 || st > 399 ||
     curl_easy_getinfo(s->easy, CURLINFO_REDIRECT_URL, &loc) != CURLE_OK || !loc)
    return MLY_OK;
  char from[512], to[512];
  bool same = origin_of(j->req.url, from, sizeof(from)) && origin_of(loc, to, sizeof(to)) &&
              strcmp(from, to) == 0;
  /* a request that carries no token at all (a CDN file) may go anywhere */
  bool tokenless = j->req.auth == FETCH_AUTH_NONE && !fetch_url_has_token(j->req.url);
  oc->http_status = st;
  if(!same && !tokenless) {
    char shown[512];
    if(!origin_of(loc, shown, sizeof(shown)))
      snprintf(shown, sizeof(shown), "an unreadable location");
    oc->kind = K_FAILED;
    msgf(oc->msg, sizeof(oc->msg), "HTTP %ld redirect to another host or port (%s) not "
         "followed: the token goes to %s only", st, shown, from);
    return MLY_OK;
  }
  if(j->redirects >= FETCH_MAX_REDIRECTS) {
    oc->kind = K_FAILED;
    msgf(oc->msg, sizeof(oc->msg), "more than %d redirects", FETCH_MAX_REDIRECTS);
    return MLY_OK;
  }
  char *copy = strdup(loc); /* loc lives only until the next setopt */
  if(!copy)
    return MLY_ENOMEM;
  CURLcode sc = set_url(f, s, j, copy);
  wipe_free(copy);
  if(sc != CURLE_OK)
    return MLY_ENOMEM;
  j->redirects++;
  s->body.n = 0;
  s->toobig = s->nomem = false;
  s->retry_after_ms = 0;
  s->encoding[0] = '\0';
  s->errbuf[0] = '\0';
  if(curl_multi_add_handle(f->multi, s->easy) != CURLM_OK)
    return MLY_ENOMEM;
  f->active++;
  f->stats.in_flight = f->active;
  *followed = true;
  return MLY_OK;
}

/* Settle every finished transfer */
static enum mly_rc harvest(struct run *r)
{
  struct fetch *f = r->f;
  CURLMsg *m;
  int left;

  while(!r->stop && (m = curl_multi_info_read(f->multi, &left))) {
    if(m->msg != CURLMSG_DONE)
      continue;
    CURL *e = m->easy_handle;
    CURLcode cc = m->data.result;
    char *priv = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
    struct slot *s = (struct slot *)priv;
    curl_multi_remove_handle(f->multi, e);
    f->active--;
    f->stats.in_flight = f->active;
    if(s->nomem)
      return MLY_ENOMEM; /* abort_all frees s->job */
    struct outcome oc;
    memset(&oc, 0, sizeof(oc));
    bool followed = false;
    enum mly_rc rc = redirect(r, s, cc, &oc, &followed);
    if(rc)
      return rc;
    if(followed)
      continue; /* the slot is busy again */
    if(oc.kind == K_OK) /* no redirect (K_OK is 0): classify the answer */
      classify_http(f, s, cc, &oc);
    struct job *j = s->job;
    s->job = NULL;
    rc = settle(r, j, &oc);
    buf_reset(&s->body);
    buf_reset(&f->unz);
    if(rc)
      return rc;
    /* refill the freed slot and send at once: when many answers arrive
     * together, handling all of them first would hold every new request
     * back by their whole processing time */
    if(!r->stop) {
      int running;
      if((rc = fill(r)))
        return rc;
      curl_multi_perform(f->multi, &running);
    }
  }
  return MLY_OK;
}

enum mly_rc fetch_run(struct fetch *f, const struct fetch_source *src, int (*tick)(void *user),
                      struct mly_err *err)
{
  struct run r = {.f = f, .src = src};
  enum mly_rc rc = MLY_OK;
  uint64_t next_tick = now_ms() + FETCH_TICK_MS;

  for(;;) {
    rc = fill(&r);
    if(rc || r.stop)
      break;
    if(f->active == 0 && !f->waiting && r.drained)
      break;

    uint64_t now = now_ms();
    long wait = tick ? (next_tick > now ? (long)(next_tick - now) : 0) : 1000;
    if(f->waiting) {
      uint64_t due = f->waiting->due > now ? f->waiting->due - now : 0;
      if((uint64_t)wait > due)
        wait = (long)due;
    }
    if(r.busy)
      wait = 0;
    if(src->idle && r.drained && wait > 0 && f->active > 0)
      src->idle(src->user);
    int running;
    if(curl_multi_poll(f->multi, NULL, 0, (int)wait, NULL) != CURLM_OK ||
       curl_multi_perform(f->multi, &running) != CURLM_OK) {
      rc = mly_err_set(err, MLY_ENOMEM, "libcurl multi interface failed");
      goto out;
    }
    rc = harvest(&r);
    if(rc || r.stop)
      break;
    if(tick && now_ms() >= next_tick) {
      next_tick = now_ms() + FETCH_TICK_MS;
      if(tick(src->user)) {
        rc = mly_err_set(err, MLY_ESTOP, "stopped");
        goto out;
      }
    }
  }
  if(rc == MLY_ENOMEM)
    mly_err_set(err, rc, "out of memory while fetching");
  else if(!rc && r.stop)
    rc = mly_err_set(err, MLY_ESTOP, "stopped by the caller");
out:
  abort_all(f);
  return rc;
}

/* fetch_run_once's source: the caller's, plus the stop flag for the tick */
struct once {
  const struct fetch_source *src;
  volatile sig_atomic_t *stop;
  bool stopped; /* the tick saw *stop set */
};

static int once_next(void *user, struct fetch_req *req)
{
  const struct once *o = user;
  return o->src->next(o->src->user, req);
}

static enum fetch_verdict once_done(void *user, void *req_user, struct fetch_result *res)
{
  const struct once *o = user;
  return o->src->done(o->src->user, req_user, res);
}

static void once_idle(void *user)
{
  const struct once *o = user;
  o->src->idle(o->src->user);
}

static int once_tick(void *user)
{
  struct once *o = user;
  o->stopped = o->stop && *o->stop;
  return o->stopped;
}

enum mly_rc fetch_run_once(const struct fetch_opts *opts, const struct fetch_source *src,
                           volatile sig_atomic_t *stop, struct mly_err *err)
{
  struct fetch *f = NULL;
  enum mly_rc rc = fetch_new(opts, &f, err);
  if(rc)
    return rc;
  struct once o = {src, stop, false};
  struct fetch_source wrap = {.next = once_next, .done = once_done,
                              .idle = src->idle ? once_idle : NULL, .user = &o};
  struct mly_err ferr = {0};
  rc = fetch_run(f, &wrap, once_tick, &ferr);
  fetch_free(&f);
  if(rc == MLY_ESTOP && o.stopped)
    mly_err_set(err, MLY_ESTOP, "interrupted");
  else if(rc && rc != MLY_ESTOP)
    *err = ferr;
  return rc;
}
