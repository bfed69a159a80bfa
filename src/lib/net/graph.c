/* graph.c -- Graph API request URLs, answer parsing and exact-id repair (no network) */
#include "mly/graph.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- URLs --------------------------------------------------------------- */

/* RFC 3986 section 2.3: only these go unencoded in a path or query value */
static bool unreserved(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_' || c == '~';
}

/* A bounded string builder: once something does not fit, it stays failed. */
struct ubuf {
  char *p;
  size_t cap, len;
  bool ok;
};

static void ubuf_add(struct ubuf *b, const char *s, size_t n)
{
  if(!b->ok || n >= b->cap - b->len) { /* keep one byte for the NUL */
    b->ok = false;
    return;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void ubuf_add_encoded(struct ubuf *b, const char *s, size_t n)
{
  static const char hex[] = "0123456789ABCDEF";
  for(size_t i = 0; i < n && b->ok; i++) {
    unsigned char c = (unsigned char)s[i];
    if(unreserved(c))
      ubuf_add(b, (const char *)&c, 1);
    else {
      char t[3] = {'%', hex[c >> 4], hex[c & 15]};
      ubuf_add(b, t, 3);
    }
  }
}

/* Start a URL with the root minus its trailing slashes, so a configured
 * "http://host/" does not produce "http://host//image_ids". */
static void ubuf_start(struct ubuf *b, char *out, size_t cap, const char *graph_url)
{
  *b = (struct ubuf){.p = out, .cap = cap, .len = 0, .ok = out && cap && graph_url};
  if(!b->ok)
    return;
  out[0] = '\0';
  size_t n = strlen(graph_url);
  while(n && graph_url[n - 1] == '/')
    n--;
  ubuf_add(b, graph_url, n);
}

static bool ubuf_finish(struct ubuf *b)
{
  if(!b->ok && b->p && b->cap)
    b->p[0] = '\0';
  return b->ok;
}

bool graph_image_ids_url(const char *graph_url, const char *sequence_id, size_t n, char *out,
                         size_t cap)
{
  struct ubuf b;
  ubuf_start(&b, out, cap, graph_url);
  if(!sequence_id || !n)
    b.ok = false;
  ubuf_add(&b, "/image_ids?sequence_id=", strlen("/image_ids?sequence_id="));
  if(b.ok)
    ubuf_add_encoded(&b, sequence_id, n);
  return ubuf_finish(&b);
}

bool graph_org_url(const char *graph_url, const char *org_id, char *out, size_t cap)
{
  struct ubuf b;
  ubuf_start(&b, out, cap, graph_url);
  if(!org_id || !org_id[0])
    b.ok = false;
  ubuf_add(&b, "/", 1);
  if(b.ok)
    ubuf_add_encoded(&b, org_id, strlen(org_id));
  ubuf_add(&b, "?fields=name", strlen("?fields=name"));
  return ubuf_finish(&b);
}

static void ubuf_add_u64(struct ubuf *b, uint64_t v)
{
  char t[24];
  int len = snprintf(t, sizeof(t), "%llu", (unsigned long long)v);
  ubuf_add(b, t, (size_t)len);
}

/* A field list: commas stay (the API's separator), the rest as a value */
static void ubuf_add_fields(struct ubuf *b, const char *fields)
{
  for(const char *p = fields; *p && b->ok; p++) {
    if(*p == ',')
      ubuf_add(b, ",", 1);
    else
      ubuf_add_encoded(b, p, 1);
  }
}

bool graph_entities_url(const char *graph_url, enum graph_form form, const uint64_t *ids, size_t n,
                        const char *fields, char *out, size_t cap)
{
  struct ubuf b;
  ubuf_start(&b, out, cap, graph_url);
  if(!ids || n == 0 || !fields || !fields[0] || (form == GRAPH_FORM_ONE && n != 1) ||
     form > GRAPH_FORM_ONE)
    b.ok = false;
  if(form == GRAPH_FORM_ONE) {
    ubuf_add(&b, "/", 1);
    if(b.ok)
      ubuf_add_u64(&b, ids[0]);
    ubuf_add(&b, "?fields=", strlen("?fields="));
  }
  else {
    const char *head = form == GRAPH_FORM_IDS ? "?ids=" : "/images?image_ids=";
    ubuf_add(&b, head, strlen(head));
    for(size_t i = 0; i < n && b.ok; i++) {
      if(i)
        ubuf_add(&b, ",", 1);
      ubuf_add_u64(&b, ids[i]);
    }
    ubuf_add(&b, "&fields=", strlen("&fields="));
  }
  if(b.ok)
    ubuf_add_fields(&b, fields);
  return ubuf_finish(&b);
}

/* ---- messages ----------------------------------------------------------- */

/* Characters a credential is made of: Mapillary tokens look like
 * "MLY|<digits>|<hex>", others are URL-safe alphanumerics, maybe encoded. */
static bool token_char(unsigned char c)
{
  return unreserved(c) || c == '|' || c == '%';
}

/* Copy a server message into dst: one line (controls become blanks), no
 * trailing full stop or blanks (house style), and every run of token
 * characters of 20 or more with a digit in it replaced by "[redacted]".
 * The parser does not know the token, yet a server message may echo it
 * ("malformed access token ...", a URL with access_token=...), and a token
 * must never reach a log. '=' ends a run so "access_token=" stays readable. */
static void clean_message(char *dst, size_t cap, const char *src, size_t n)
{
  static const char red[] = "[redacted]";
  size_t o = 0, i = 0;
  if(!cap)
    return;
  while(i < n && o + 1 < cap) {
    size_t w = 0;
    bool digit = false;
    while(i + w < n && token_char((unsigned char)src[i + w])) {
      digit = digit || (src[i + w] >= '0' && src[i + w] <= '9');
      w++;
    }
    if(w == 0) {
      unsigned char c = (unsigned char)src[i++];
      dst[o++] = (c < ' ' || c == 0x7f) ? ' ' : (char)c;
    }
    else {
      bool secret = w >= 20 && digit;
      const char *from = secret ? red : src + i;
      size_t len = secret ? sizeof(red) - 1 : w;
      for(size_t k = 0; k < len && o + 1 < cap; k++)
        dst[o++] = from[k];
      i += w;
    }
  }
  while(o && (dst[o - 1] == ' ' || dst[o - 1] == '.'))
    o--;
  dst[o] = '\0';
}

/* ---- error bodies ------------------------------------------------------- */

/* The "error" object of a parsed answer (borrowed), or NULL. */
static json_t *error_object(json_t *root)
{
  json_t *e = json_is_object(root) ? json_object_get(root, "error") : NULL;
  return json_is_object(e) ? e : NULL;
}

/* The error's code: a positive JSON integer that fits an int, else -1. */
static int error_code_of(json_t *e)
{
  json_t *c = json_object_get(e, "code");
  if(!json_is_integer(c))
    return -1;
  json_int_t v = json_integer_value(c);
  return v > 0 && v <= INT_MAX ? (int)v : -1;
}

static void error_message_of(json_t *e, char *msg, size_t cap)
{
  json_t *m = json_object_get(e, "message");
  if(json_is_string(m))
    clean_message(msg, cap, json_string_value(m), json_string_length(m));
  /* a message that cleans to nothing ("", "...") says nothing either */
  if(!json_is_string(m) || !msg[0])
    clean_message(msg, cap, "no message", strlen("no message"));
}

/* Map a Graph error object to our status (see graph.h). */
static enum mly_rc error_status(json_t *e, struct mly_err *err)
{
  char msg[200];
  int code = error_code_of(e);
  enum mly_rc rc = code == GRAPH_CODE_TOKEN ? MLY_EAUTH
                   : code == GRAPH_CODE_RATE ? MLY_ERATE
                                             : MLY_EHTTP;
  error_message_of(e, msg, sizeof(msg));
  if(code < 0)
    return mly_err_set(err, rc, "graph api error: %s", msg);
  return mly_err_set(err, rc, "graph api error %d: %s", code, msg);
}

/* Parse a body as a JSON object or array (duplicate keys refused: an answer
 * with two "data" members is not one we understand). */
static enum mly_rc load(const char *body, size_t n, const char *what, json_t **root,
                        struct mly_err *err)
{
  json_error_t jerr;
  *root = NULL;
  if(n > GRAPH_BODY_MAX)
    return mly_err_set(err, MLY_ETOOBIG, "%s answer of %zu bytes is over the limit of %u MiB",
                       what, n, GRAPH_BODY_MAX >> 20);
  if(!body)
    return mly_err_set(err, MLY_EFORMAT, "%s answer is empty", what);
  *root = json_loadb(body, n, JSON_REJECT_DUPLICATES, &jerr);
  if(!*root) {
    char text[120];
    clean_message(text, sizeof(text), jerr.text, strlen(jerr.text));
    return mly_err_set(err, MLY_EFORMAT, "%s answer is not JSON: %s", what, text);
  }
  return MLY_OK;
}

int graph_error_code(const char *body, size_t n, char *msg, size_t cap)
{
  json_t *root = NULL;
  int code = 0;
  if(msg && cap)
    msg[0] = '\0';
  if(load(body, n, "graph", &root, NULL) == MLY_OK) {
    json_t *e = error_object(root);
    if(e) {
      code = error_code_of(e);
      if(msg && cap)
        error_message_of(e, msg, cap);
    }
  }
  json_decref(root);
  return code;
}

/* ---- image_ids ---------------------------------------------------------- */

/* Strings are parsed by hand because strtoull accepts blanks, signs and
 * wraps "-1". */
bool graph_parse_decimal(const char *s, size_t n, uint64_t *out)
{
  uint64_t v = 0;
  if(n == 0 || (n > 1 && s[0] == '0'))
    return false;
  for(size_t i = 0; i < n; i++) {
    if(s[i] < '0' || s[i] > '9')
      return false;
    unsigned d = (unsigned)(s[i] - '0');
    if(v > (UINT64_MAX - d) / 10)
      return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

/* One element of "data": {"id": "<decimal>"} or {"id": <non-negative int>}. */
static enum mly_rc parse_id(json_t *item, size_t i, uint64_t *out, struct mly_err *err)
{
  json_t *id = json_is_object(item) ? json_object_get(item, "id") : NULL;
  if(!json_is_object(item))
    return mly_err_set(err, MLY_EFORMAT, "image_ids answer: data[%zu] is not an object", i);
  if(json_is_string(id)) {
    if(graph_parse_decimal(json_string_value(id), json_string_length(id), out))
      return MLY_OK;
    return mly_err_set(err, MLY_EFORMAT,
                       "image_ids answer: data[%zu].id is not a decimal id below 2^64", i);
  }
  if(json_is_integer(id)) {
    /* jansson keeps JSON integers as int64 (larger ones fail to parse), so
     * a non-negative one is exact */
    json_int_t v = json_integer_value(id);
    if(v < 0)
      return mly_err_set(err, MLY_EFORMAT, "image_ids answer: data[%zu].id is negative", i);
    *out = (uint64_t)v;
    return MLY_OK;
  }
  if(json_is_real(id))
    return mly_err_set(err, MLY_EFORMAT,
                       "image_ids answer: data[%zu].id is a real number, maybe rounded", i);
  if(!id)
    return mly_err_set(err, MLY_EFORMAT, "image_ids answer: data[%zu] has no id", i);
  return mly_err_set(err, MLY_EFORMAT, "image_ids answer: data[%zu].id is not a string", i);
}

static enum mly_rc parse_data(json_t *root, uint64_t **ids, size_t *nids, struct mly_err *err)
{
  json_t *data = json_is_object(root) ? json_object_get(root, "data") : NULL;
  if(!json_is_object(root))
    return mly_err_set(err, MLY_EFORMAT, "image_ids answer is not a JSON object");
  if(!data)
    return mly_err_set(err, MLY_EFORMAT, "image_ids answer has no data member");
  if(!json_is_array(data))
    return mly_err_set(err, MLY_EFORMAT, "image_ids answer: data is not an array");
  size_t n = json_array_size(data);
  if(n > GRAPH_IDS_MAX)
    return mly_err_set(err, MLY_ETOOBIG, "image_ids answer holds %zu ids, over the limit of %u",
                       n, GRAPH_IDS_MAX);
  if(n == 0)
    return MLY_OK;
  uint64_t *v = malloc(n * sizeof(*v));
  if(!v)
    return mly_err_set(err, MLY_ENOMEM, "out of memory for %zu image ids", n);
  for(size_t i = 0; i < n; i++) {
    enum mly_rc rc = parse_id(json_array_get(data, i), i, &v[i], err);
    if(rc) {
      free(v);
      return rc;
    }
  }
  *ids = v;
  *nids = n;
  return MLY_OK;
}

enum mly_rc graph_parse_image_ids(const char *body, size_t n, uint64_t **ids, size_t *nids,
                                  struct mly_err *err)
{
  json_t *root = NULL;
  *ids = NULL;
  *nids = 0;
  enum mly_rc rc = load(body, n, "image_ids", &root, err);
  if(rc == MLY_OK) {
    json_t *e = error_object(root);
    rc = e ? error_status(e, err) : parse_data(root, ids, nids, err);
  }
  json_decref(root);
  return rc;
}

/* ---- entities ----------------------------------------------------------- */

bool graph_json_id(const json_t *id, uint64_t *out)
{
  if(json_is_string(id))
    return graph_parse_decimal(json_string_value(id), json_string_length(id), out);
  if(json_is_integer(id) && json_integer_value(id) >= 0) {
    *out = (uint64_t)json_integer_value(id);
    return true;
  }
  return false;
}

static enum mly_rc visit_keyed(json_t *root, graph_entity_fn visit, void *user)
{
  const char *key;
  json_t *v;
  json_object_foreach(root, key, v) {
    uint64_t id;
    if(!json_is_object(v) || !graph_parse_decimal(key, strlen(key), &id))
      continue;
    enum mly_rc rc = visit(user, id, v);
    if(rc)
      return rc;
  }
  return MLY_OK;
}

static enum mly_rc visit_data(json_t *root, graph_entity_fn visit, void *user, struct mly_err *err)
{
  json_t *data = json_object_get(root, "data");
  if(!json_is_array(data))
    return mly_err_set(err, MLY_EFORMAT, "images answer has no data array");
  size_t i;
  json_t *v;
  json_array_foreach(data, i, v) {
    uint64_t id;
    if(!json_is_object(v) || !graph_json_id(json_object_get(v, "id"), &id))
      continue;
    enum mly_rc rc = visit(user, id, v);
    if(rc)
      return rc;
  }
  return MLY_OK;
}

enum mly_rc graph_parse_entities(const char *body, size_t n, enum graph_form form,
                                 graph_entity_fn visit, void *user, struct mly_err *err)
{
  json_t *root = NULL;
  enum mly_rc rc = load(body, n, "graph", &root, err);
  if(rc)
    goto out;
  if(!json_is_object(root)) {
    rc = mly_err_set(err, MLY_EFORMAT, "graph answer is not a JSON object");
    goto out;
  }
  json_t *e = error_object(root);
  if(e) {
    rc = error_status(e, err);
    goto out;
  }
  uint64_t id;
  switch(form) {
  case GRAPH_FORM_IDS:
    rc = visit_keyed(root, visit, user);
    break;
  case GRAPH_FORM_IMAGES:
    rc = visit_data(root, visit, user, err);
    break;
  default:
    if(!graph_json_id(json_object_get(root, "id"), &id))
      rc = mly_err_set(err, MLY_EFORMAT, "graph answer has no decimal id");
    else
      rc = visit(user, id, root);
  }
out:
  json_decref(root);
  return rc;
}

/* ---- organizations ------------------------------------------------------ */

enum mly_rc graph_parse_org_name(const char *body, size_t n, char **name, struct mly_err *err)
{
  json_t *root = NULL;
  *name = NULL;
  enum mly_rc rc = load(body, n, "organization", &root, err);
  if(rc)
    goto out;
  json_t *e = error_object(root);
  if(e) {
    rc = error_status(e, err);
    goto out;
  }
  json_t *nm = json_is_object(root) ? json_object_get(root, "name") : NULL;
  if(!json_is_string(nm)) {
    rc = mly_err_set(err, MLY_EFORMAT, "organization answer has no name string");
    goto out;
  }
  /* jansson refuses NUL inside strings unless asked (JSON_ALLOW_NUL), so
   * the copy is a whole C string */
  size_t len = json_string_length(nm);
  *name = malloc(len + 1);
  if(!*name) {
    rc = mly_err_set(err, MLY_ENOMEM, "out of memory for an organization name");
    goto out;
  }
  memcpy(*name, json_string_value(nm), len + 1);
out:
  json_decref(root);
  return rc;
}

/* ---- a request's outcome ------------------------------------------------- */

void graph_request(struct fetch_req *req, void *user)
{
  req->auth = FETCH_AUTH_HEADER;
  req->kind = FETCH_KIND_GRAPH;
  req->user = user;
}

enum graph_outcome graph_outcome(struct fetch_result *res, enum mly_rc parsed,
                                 const struct mly_err *perr, enum mly_rc *why)
{
  switch(res->status) {
  case FETCH_OK:
    break;
  case FETCH_EMPTY:
  case FETCH_REFUSED:
    return GRAPH_UNKNOWN;
  case FETCH_AUTH:
    *why = MLY_EAUTH;
    return GRAPH_STOP;
  case FETCH_RATE_LIMIT:
    *why = MLY_ERATE;
    return GRAPH_STOP;
  default: /* FETCH_FAILED, FETCH_TOOBIG */
    return GRAPH_FAILED;
  }
  switch(parsed) {
  case MLY_OK:
    return GRAPH_ANSWER;
  case MLY_EHTTP: /* an error body, whatever the status said */
    return GRAPH_UNKNOWN;
  case MLY_ERATE:
  case MLY_EFORMAT: /* transient: fetch asks again, and comes back with
                       FETCH_FAILED and this message when attempts are spent */
    snprintf(res->msg, sizeof(res->msg), "%.200s", perr->msg);
    return GRAPH_RETRY;
  case MLY_ETOOBIG:
    snprintf(res->msg, sizeof(res->msg), "%.200s", perr->msg);
    return GRAPH_FAILED;
  default: /* MLY_EAUTH, MLY_ENOMEM */
    *why = parsed;
    snprintf(res->msg, sizeof(res->msg), "%.200s",
             parsed == MLY_ENOMEM ? "out of memory" : perr->msg);
    return GRAPH_STOP;
  }
}

/* ---- exact-id repair ---------------------------------------------------- */

struct idrepair_entry {
  double key;     /* the id's value as a double, as a tile would carry it */
  uint64_t exact; /* the id itself */
  size_t order;   /* its place in the sequence */
};

struct idrepair {
  struct idrepair_entry *e; /* sorted by (key, order) */
  size_t n;
};

static int cmp_exact(const void *a, const void *b)
{
  const struct idrepair_entry *x = a, *y = b;
  if(x->exact != y->exact)
    return x->exact < y->exact ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

static int cmp_key(const void *a, const void *b)
{
  const struct idrepair_entry *x = a, *y = b;
  if(x->key != y->key)
    return x->key < y->key ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

enum mly_rc idrepair_new(const uint64_t *exact, size_t n, struct idrepair **out)
{
  *out = NULL;
  if(n > GRAPH_IDS_MAX)
    return MLY_ETOOBIG;
  struct idrepair *r = calloc(1, sizeof(*r));
  if(!r)
    return MLY_ENOMEM;
  if(n) {
    r->e = malloc(n * sizeof(*r->e));
    if(!r->e) {
      idrepair_free(&r);
      return MLY_ENOMEM;
    }
  }
  for(size_t i = 0; i < n; i++)
    /* (double)u rounds to nearest, ties to even: exactly what the tile
     * encoder did to the id */
    r->e[i] = (struct idrepair_entry){.key = (double)exact[i], .exact = exact[i], .order = i};
  /* a repeated id is one image, not a collision: keep its first place */
  if(n)
    qsort(r->e, n, sizeof(*r->e), cmp_exact);
  size_t m = 0;
  for(size_t i = 0; i < n; i++)
    if(m == 0 || r->e[m - 1].exact != r->e[i].exact)
      r->e[m++] = r->e[i];
  r->n = m;
  if(m)
    qsort(r->e, m, sizeof(*r->e), cmp_key);
  *out = r;
  return MLY_OK;
}

void idrepair_free(struct idrepair **r)
{
  if(!r || !*r)
    return;
  free((*r)->e);
  free(*r);
  *r = NULL;
}

size_t idrepair_count(const struct idrepair *r)
{
  return r ? r->n : 0;
}

size_t idrepair_resolve(const struct idrepair *r, uint64_t rounded, size_t rank, uint64_t *exact)
{
  /* compare as doubles: (double)rounded is the tile's double itself, and
   * each key is what the tile would have carried for that exact id */
  double d = (double)rounded;
  size_t lo = 0, hi = r ? r->n : 0;
  while(lo < hi) { /* first entry with key >= d */
    size_t mid = lo + (hi - lo) / 2;
    if(r->e[mid].key < d)
      lo = mid + 1;
    else
      hi = mid;
  }
  size_t k = 0;
  while(r && lo + k < r->n && r->e[lo + k].key == d)
    k++;
  if(k == 0) {
    *exact = rounded;
    return 0;
  }
  /* group entries are in sequence order: the rank-th, never wrapping */
  *exact = r->e[lo + (rank < k ? rank : k - 1)].exact;
  return k;
}

bool idrepair_needed(uint64_t value_of_double)
{
  return value_of_double >= (UINT64_C(1) << 53);
}
