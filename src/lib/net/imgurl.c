/* imgurl.c -- thumbnail URLs of many images from the Graph API: batches, form fallback, hits */
#include "mly/imgurl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct item {
  uint64_t id;
  void *item;
};

/* One request's ids. A batch lives from imgurl_next to its last hit. */
struct batch {
  struct batch *next;          /* ready queue link */
  struct batch *fl_prev, *fl_next; /* in flight: freed by imgurl_free if the
                                      run ends before its answer */
  enum graph_form form;
  bool probe;                  /* one id refused in probe_from, now asked alone */
  enum graph_form probe_from;
  size_t n;
  bool seen[IMGURL_BATCH_MAX]; /* hit delivered for it[i] */
  struct item it[];
};

struct imgurl {
  char *graph_url;
  char *fields;               /* "id,thumb_<size>_url[,extra]" */
  const char *size_field;
  size_t batch;
  imgurl_cb cb;
  void *user;
  struct batch *open;         /* being filled by imgurl_add */
  struct batch *head, *tail;  /* ready to go */
  struct batch *flight;       /* sent, not answered */
  bool flush;
  size_t pending;
  enum mly_rc fail;
  struct mly_err ferr;
  struct imgurl_stats st;
};

static const char *const size_names[] = {"256", "1024", "2048", "original"};
static const char *const size_fields[] = {"thumb_256_url", "thumb_1024_url", "thumb_2048_url",
                                          "thumb_original_url"};

bool imgurl_size_parse(const char *s, enum imgurl_size *out)
{
  for(size_t i = 0; s && i < sizeof(size_names) / sizeof(size_names[0]); i++)
    if(strcmp(s, size_names[i]) == 0) {
      *out = (enum imgurl_size)i;
      return true;
    }
  return false;
}

const char *imgurl_size_field(enum imgurl_size size)
{
  return (unsigned)size <= IMGURL_SIZE_ORIGINAL ? size_fields[size] : size_fields[1];
}

bool imgurl_fields_valid(const char *s)
{
  if(!s || !s[0] || strlen(s) > IMGURL_FIELDS_MAX)
    return false;
  bool empty = true;
  for(const char *p = s;; p++) {
    char c = *p;
    if(c == ',' || c == '\0') {
      if(empty)
        return false;
      if(!c)
        return true;
      empty = true;
      continue;
    }
    if(!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '{' || c == '}'))
      return false;
    empty = false;
  }
}

/* ---- lifecycle ---------------------------------------------------------- */

enum mly_rc imgurl_new(const struct imgurl_opts *o, imgurl_cb cb, void *user, struct imgurl **out,
                       struct mly_err *err)
{
  *out = NULL;
  if(!o->graph_url || !cb)
    return mly_err_set(err, MLY_EINVAL, "image url lookup without a graph url or a callback");
  if(o->batch > IMGURL_BATCH_MAX)
    return mly_err_set(err, MLY_EINVAL, "batch of %zu ids above %d", o->batch, IMGURL_BATCH_MAX);
  if(o->fields && !imgurl_fields_valid(o->fields))
    return mly_err_set(err, MLY_EINVAL, "unusable field list '%.100s'", o->fields);
  struct imgurl *q = calloc(1, sizeof(*q));
  if(!q)
    return mly_err_set(err, MLY_ENOMEM, "out of memory for the image url lookup");
  q->size_field = imgurl_size_field(o->size);
  q->batch = o->batch ? o->batch : IMGURL_BATCH_DEFAULT;
  q->cb = cb;
  q->user = user;
  q->graph_url = strdup(o->graph_url);
  size_t fl = strlen("id,") + strlen(q->size_field) + (o->fields ? 1 + strlen(o->fields) : 0) + 1;
  q->fields = malloc(fl);
  if(!q->graph_url || !q->fields) {
    imgurl_free(&q);
    return mly_err_set(err, MLY_ENOMEM, "out of memory for the image url lookup");
  }
  snprintf(q->fields, fl, "id,%s%s%s", q->size_field, o->fields ? "," : "",
           o->fields ? o->fields : "");
  q->st.form = GRAPH_FORM_IDS;
  *out = q;
  return MLY_OK;
}

static void batch_list_free(struct batch *b)
{
  while(b) {
    struct batch *n = b->next;
    free(b);
    b = n;
  }
}

void imgurl_free(struct imgurl **pq)
{
  struct imgurl *q = pq ? *pq : NULL;
  if(!q)
    return;
  batch_list_free(q->head);
  while(q->flight) {
    struct batch *b = q->flight;
    q->flight = b->fl_next;
    free(b);
  }
  free(q->open);
  free(q->graph_url);
  free(q->fields);
  free(q);
  *pq = NULL;
}

static struct batch *batch_new(size_t cap, enum graph_form form)
{
  struct batch *b = calloc(1, sizeof(*b) + cap * sizeof(struct item));
  if(b)
    b->form = form;
  return b;
}

/* ---- queueing ----------------------------------------------------------- */

static void push_back(struct imgurl *q, struct batch *b)
{
  b->next = NULL;
  if(q->tail)
    q->tail->next = b;
  else
    q->head = b;
  q->tail = b;
}

/* Splits and probes go first: they finish work already begun */
static void push_front(struct imgurl *q, struct batch *b)
{
  b->next = q->head;
  q->head = b;
  if(!q->tail)
    q->tail = b;
}

static struct batch *pop_front(struct imgurl *q)
{
  struct batch *b = q->head;
  if(b) {
    q->head = b->next;
    if(!q->head)
      q->tail = NULL;
    b->next = NULL;
  }
  return b;
}

static void flight_link(struct imgurl *q, struct batch *b)
{
  b->fl_prev = NULL;
  b->fl_next = q->flight;
  if(q->flight)
    q->flight->fl_prev = b;
  q->flight = b;
}

static void flight_unlink(struct imgurl *q, struct batch *b)
{
  if(b->fl_prev)
    b->fl_prev->fl_next = b->fl_next;
  else if(q->flight == b)
    q->flight = b->fl_next;
  if(b->fl_next)
    b->fl_next->fl_prev = b->fl_prev;
  b->fl_prev = b->fl_next = NULL;
}

enum mly_rc imgurl_add(struct imgurl *q, uint64_t id, void *item)
{
  if(!q->open && !(q->open = batch_new(q->batch, q->st.form)))
    return MLY_ENOMEM;
  q->open->it[q->open->n++] = (struct item){id, item};
  q->pending++;
  if(q->open->n == q->batch) {
    push_back(q, q->open);
    q->open = NULL;
  }
  return MLY_OK;
}

void imgurl_flush(struct imgurl *q)
{
  q->flush = true;
}

size_t imgurl_pending(const struct imgurl *q)
{
  return q->pending;
}

bool imgurl_ready(const struct imgurl *q)
{
  return !q->fail && (q->head || (q->open && q->flush));
}

const struct imgurl_stats *imgurl_get_stats(const struct imgurl *q)
{
  return &q->st;
}

enum mly_rc imgurl_failure(const struct imgurl *q, struct mly_err *err)
{
  if(q->fail && err)
    *err = q->ferr;
  return q->fail;
}

/* Cut b in two: its second half becomes a batch of its own, queued first.
 * false (b unchanged) when there is no memory for it. */
static bool split(struct imgurl *q, struct batch *b, size_t keep)
{
  struct batch *rest = batch_new(b->n - keep, b->form);
  if(!rest)
    return false;
  memcpy(rest->it, b->it + keep, (b->n - keep) * sizeof(struct item));
  rest->n = b->n - keep;
  b->n = keep;
  push_front(q, rest);
  return true;
}

/* ---- hits --------------------------------------------------------------- */

static enum mly_rc stop_with(struct imgurl *q, enum mly_rc rc, const char *msg)
{
  if(!q->fail) {
    q->fail = rc;
    mly_err_set(&q->ferr, rc, "graph api: %s", msg);
  }
  return rc;
}

static enum mly_rc deliver(struct imgurl *q, struct batch *b, size_t i, enum imgurl_state state,
                           const char *url, json_t *entity, const char *why)
{
  struct imgurl_hit h = {.id = b->it[i].id, .item = b->it[i].item, .state = state,
                         .url = url, .entity = entity, .why = why};
  b->seen[i] = true;
  q->pending--;
  if(state == IMGURL_FOUND)
    q->st.found++;
  else if(state == IMGURL_UNAVAILABLE)
    q->st.unavailable++;
  else
    q->st.failed++;
  enum mly_rc rc = q->cb(q->user, &h);
  if(rc)
    stop_with(q, rc, "image url lookup stopped by its caller");
  return rc;
}

/* Every id of b not answered yet gets this state */
static enum mly_rc deliver_rest(struct imgurl *q, struct batch *b, enum imgurl_state state,
                                const char *why)
{
  for(size_t i = 0; i < b->n; i++)
    if(!b->seen[i]) {
      enum mly_rc rc = deliver(q, b, i, state, NULL, NULL, why);
      if(rc)
        return rc;
    }
  return MLY_OK;
}

/* A link we can ask for: http(s), one printable word, fits a request */
static bool usable_url(const char *u, size_t n)
{
  if(n >= sizeof(((struct fetch_req *)0)->url) ||
     !(strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0))
    return false;
  for(size_t i = 0; i < n; i++)
    if((unsigned char)u[i] <= ' ' || u[i] == 0x7f)
      return false;
  return true;
}

struct visit_ctx {
  struct imgurl *q;
  struct batch *b;
};

static enum mly_rc on_entity(void *user, uint64_t id, json_t *ent)
{
  struct visit_ctx *v = user;
  struct imgurl *q = v->q;
  for(size_t i = 0; i < v->b->n; i++) {
    if(v->b->seen[i] || v->b->it[i].id != id)
      continue;
    json_t *u = json_object_get(ent, q->size_field);
    char why[64];
    enum mly_rc rc;
    if(json_is_string(u) && usable_url(json_string_value(u), json_string_length(u)))
      rc = deliver(q, v->b, i, IMGURL_FOUND, json_string_value(u), ent, NULL);
    else {
      snprintf(why, sizeof(why), "%s %s", u ? "unusable" : "no", q->size_field);
      rc = deliver(q, v->b, i, IMGURL_UNAVAILABLE, NULL, NULL, why);
    }
    if(rc)
      return rc;
  }
  return MLY_OK;
}

/* ---- requests ----------------------------------------------------------- */

int imgurl_next(struct imgurl *q, struct fetch_req *req)
{
  while(!q->fail) {
    struct batch *b = pop_front(q);
    if(!b && q->open && q->flush) {
      b = q->open;
      q->open = NULL;
      q->flush = false;
    }
    if(!b)
      return 0;
    /* a batch queued before its form was found refused goes in the new one */
    if(!b->probe && b->form < q->st.form) {
      if(q->st.form == GRAPH_FORM_ONE && b->n > 1 && !split(q, b, 1)) {
        stop_with(q, MLY_ENOMEM, "out of memory");
        free(b);
        return 0;
      }
      b->form = q->st.form;
    }
    uint64_t ids[IMGURL_BATCH_MAX];
    for(size_t i = 0; i < b->n; i++)
      ids[i] = b->it[i].id;
    if(graph_entities_url(q->graph_url, b->form, ids, b->n, q->fields, req->url,
                          sizeof(req->url))) {
      graph_request(req, b);
      flight_link(q, b);
      return 1;
    }
    /* too long for a request: halve it, or give up on a lone id */
    if(b->n > 1 && split(q, b, b->n / 2)) {
      push_front(q, b);
      continue;
    }
    deliver_rest(q, b, IMGURL_FAILED, "graph url too long for a request");
    free(b);
  }
  return 0;
}

/* The API refused b's request (a 4xx, or an error body not about the
 * token or the rate): halve it, ask a lone id alone, or call it unknown. */
static enum fetch_verdict refused(struct imgurl *q, struct batch *b)
{
  q->st.refused++;
  if(!b->probe && b->form < q->st.form) {
    push_front(q, b); /* the form was found refused meanwhile: next converts */
    return FETCH_ACCEPT;
  }
  if(b->form == GRAPH_FORM_ONE) {
    enum mly_rc rc = deliver_rest(q, b, IMGURL_UNAVAILABLE, "not found (deleted or private)");
    free(b);
    return rc ? FETCH_STOP : FETCH_ACCEPT;
  }
  if(b->n > 1) {
    if(!split(q, b, b->n / 2)) {
      stop_with(q, MLY_ENOMEM, "out of memory");
      free(b);
      return FETCH_STOP;
    }
    push_front(q, b);
    return FETCH_ACCEPT;
  }
  b->probe = true;
  b->probe_from = b->form;
  b->form = GRAPH_FORM_ONE;
  push_front(q, b);
  return FETCH_ACCEPT;
}

static enum fetch_verdict settle(struct imgurl *q, struct batch *b, struct fetch_result *res);

enum fetch_verdict imgurl_done(struct imgurl *q, void *req_user, struct fetch_result *res)
{
  struct batch *b = req_user;
  q->st.requests++;
  flight_unlink(q, b);
  enum fetch_verdict v = settle(q, b, res);
  if(v == FETCH_RETRY)
    flight_link(q, b); /* the fetcher asks again and comes back here */
  return v;
}

static enum fetch_verdict settle(struct imgurl *q, struct batch *b, struct fetch_result *res)
{
  struct mly_err gerr = {0};
  enum mly_rc rc = MLY_OK, why = MLY_OK;
  if(!q->fail && res->status == FETCH_OK) {
    struct visit_ctx v = {q, b};
    rc = graph_parse_entities((const char *)res->body, res->n, b->form, on_entity, &v, &gerr);
  }
  if(q->fail) { /* a callback said stop */
    free(b);
    return FETCH_STOP;
  }
  switch(graph_outcome(res, rc, &gerr, &why)) {
  case GRAPH_ANSWER:
    if(b->probe && b->seen[0] && q->st.form == b->probe_from)
      q->st.form = b->probe_from + 1; /* found alone: the form was what was refused */
    rc = deliver_rest(q, b, IMGURL_UNAVAILABLE, "not found (deleted or private)");
    free(b);
    return rc ? FETCH_STOP : FETCH_ACCEPT;
  case GRAPH_UNKNOWN:
    return refused(q, b); /* an empty answer, a 4xx or an error body */
  case GRAPH_RETRY:
    return FETCH_RETRY;
  case GRAPH_STOP:
    stop_with(q, why, res->msg);
    free(b);
    return FETCH_STOP;
  case GRAPH_FAILED:
    break;
  }
  /* these ids failed; the others go on */
  rc = deliver_rest(q, b, IMGURL_FAILED, res->msg);
  free(b);
  return rc ? FETCH_STOP : FETCH_ACCEPT;
}

/* ---- all in one --------------------------------------------------------- */

struct lookup {
  struct imgurl *q;
  const uint64_t *ids;
  size_t n, next;
};

static int lk_next(void *user, struct fetch_req *req)
{
  struct lookup *l = user;
  /* feed ids only as requests go: memory stays one batch ahead */
  while(!imgurl_ready(l->q) && l->next < l->n) {
    if(imgurl_add(l->q, l->ids[l->next], (void *)(uintptr_t)l->next)) {
      stop_with(l->q, MLY_ENOMEM, "out of memory");
      return 0;
    }
    l->next++;
  }
  if(l->next == l->n)
    imgurl_flush(l->q);
  return imgurl_next(l->q, req);
}

static enum fetch_verdict lk_done(void *user, void *req_user, struct fetch_result *res)
{
  struct lookup *l = user;
  return imgurl_done(l->q, req_user, res);
}

enum mly_rc imgurl_lookup(const struct fetch_opts *fo, const struct imgurl_opts *o,
                          const uint64_t *ids, size_t n, imgurl_cb cb, void *user,
                          volatile sig_atomic_t *stop, struct mly_err *err)
{
  struct imgurl *q = NULL;
  enum mly_rc rc = imgurl_new(o, cb, user, &q, err);
  if(rc)
    return rc;
  struct lookup l = {q, ids, n, 0};
  struct fetch_source src = {.next = lk_next, .done = lk_done, .user = &l};
  rc = fetch_run_once(fo, &src, stop, err);
  if(q->fail)
    rc = imgurl_failure(q, err);
  imgurl_free(&q);
  return rc;
}
