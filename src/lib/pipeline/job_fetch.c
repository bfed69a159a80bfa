/* job_fetch.c -- the fetch loop of a run: tiles from the cache or the network, id repair requests, budget */
#include "job_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A request's user pointer: index << 2 | kind */
enum req_kind { REQ_TILE = 0, REQ_REPAIR = 1, REQ_ORGNAME = 2 };
#define REQ_USER(idx, kind) ((void *)(((uintptr_t)(idx) << 2) | (kind)))

bool mly__tile_url(const char *tpl, struct tile t, char *out, size_t cap)
{
  size_t o = 0;
  for(const char *p = tpl; *p;) {
    char num[16];
    const char *rep = NULL;
    if(strncmp(p, "{z}", 3) == 0)
      rep = num, snprintf(num, sizeof(num), "%u", t.z);
    else if(strncmp(p, "{x}", 3) == 0)
      rep = num, snprintf(num, sizeof(num), "%u", t.x);
    else if(strncmp(p, "{y}", 3) == 0)
      rep = num, snprintf(num, sizeof(num), "%u", t.y);
    if(rep) {
      size_t n = strlen(rep);
      if(o + n >= cap)
        return false;
      memcpy(out + o, rep, n);
      o += n;
      p += 3;
    }
    else {
      if(o + 1 >= cap)
        return false;
      out[o++] = *p++;
    }
  }
  out[o] = '\0';
  return true;
}

/* Grow a per-index state array (elements of `size` bytes whose first
 * byte is the state; zeroed = REPAIR_NONE) so that it holds index idx */
static enum mly_rc grow_states(void **arr, size_t *n, size_t size, uint32_t idx)
{
  if(idx < *n)
    return MLY_OK;
  size_t cap = *n ? *n : 64;
  while(cap <= idx)
    cap *= 2;
  char *na = realloc(*arr, cap * size);
  if(!na)
    return MLY_ENOMEM;
  memset(na + *n * size, 0, (cap - *n) * size);
  *arr = na;
  *n = cap;
  return MLY_OK;
}

/* Queue idx for a Graph API lookup unless its state says it is known or queued */
static enum mly_rc want(struct lookup_queue *q, uint8_t *state, uint32_t idx)
{
  if(*state != REPAIR_NONE)
    return MLY_OK;
  if(q->n == q->cap) {
    size_t cap = q->cap ? q->cap * 2 : 64;
    uint32_t *nq = realloc(q->idx, cap * sizeof(*nq));
    if(!nq)
      return MLY_ENOMEM;
    q->idx = nq;
    q->cap = cap;
  }
  q->idx[q->n++] = idx;
  *state = REPAIR_QUEUED;
  return MLY_OK;
}

enum mly_rc mly__repair_want(struct job *j, uint32_t seq)
{
  enum mly_rc rc = grow_states((void **)&j->repairs, &j->nrepairs, sizeof(*j->repairs), seq);
  return rc ? rc : want(&j->rqueue, &j->repairs[seq].state, seq);
}

enum mly_rc mly__orgname_want(struct job *j, uint32_t org)
{
  enum mly_rc rc = grow_states((void **)&j->orgnames, &j->norgnames, sizeof(*j->orgnames), org);
  return rc ? rc : want(&j->oqueue, &j->orgnames[org].state, org);
}

static int next_orgname(struct job *j, struct fetch_req *req)
{
  uint32_t org = j->oqueue.idx[j->oqueue.head++];
  struct mly_view id = strtab_get(j->strings, org);
  char idz[128];
  bool ok = id.n < sizeof(idz);
  if(ok) {
    memcpy(idz, id.p, id.n);
    idz[id.n] = '\0';
    ok = graph_org_url(j->o->graph_url, idz, req->url, sizeof(req->url));
  }
  if(!ok) {
    j->orgnames[org].state = REPAIR_FAILED; /* no URL can carry it: no name */
    return 0;
  }
  graph_request(req, REQ_USER(org, REQ_ORGNAME));
  return 1;
}

/* --max_requests counts tile requests started (retries of a failing tile
 * come on top; a run stops anyway when one keeps failing) */
static bool budget_left(struct job *j)
{
  if(!j->o->max_requests)
    return true;
  if(j->tile_requests < j->o->max_requests)
    return true;
  j->budget_hit = true;
  return false;
}

static bool stop_requested(const struct job *j)
{
  return j->o->stop && *j->o->stop;
}

static int src_tick(void *user)
{
  struct job *j = user;
  const struct fetch_stats *fs = fetch_get_stats(j->fetch);
  j->st->requests = fs->requests;
  j->st->retries = fs->retries;
  j->st->bytes = fs->bytes;
  j->st->in_flight = fs->in_flight;
  j->st->rate_wait_until = fs->rate_wait_until;
  if(j->progress)
    j->progress(j->progress_user, j->st);
  return stop_requested(j);
}

static void tile_done(struct job *j)
{
  j->st->tiles_done++;
  enum mly_rc rc = mly__flush_ready(j);
  if(rc && !j->fail)
    j->fail = rc;
}

/* Take tile ti from the cache if it is there: true when handled */
static bool take_cached(struct job *j, size_t ti)
{
  enum cache_state cs;
  uint8_t *body = NULL;
  size_t n = 0;
  struct mly_err cerr = {0};
  enum mly_rc rc = cache_get(j->cache, j->tiles[ti].t, j->o->max_age_s, &cs, &body, &n, &cerr);
  if(rc) {
    j->fail = mly_err_set(j->err, rc, "%s", cerr.msg);
    return false;
  }
  if(cs == CACHE_DATA) {
    rc = mly__tile_process(j, ti, body, n, &cerr);
    free(body);
    if(rc == MLY_EFORMAT)
      return false; /* stored but unusable: fetch it again */
    if(rc) {
      j->fail = mly_err_set(j->err, rc, "cached tile: %s", cerr.msg);
      return false;
    }
  }
  else if(cs == CACHE_EMPTY) {
    struct chunk *c = &j->window[ti % j->nwindow];
    mly__chunk_reset(c);
    c->ready = true;
  }
  else
    return false;
  j->st->tiles_cached++;
  return true;
}

static int next_repair(struct job *j, struct fetch_req *req)
{
  uint32_t seq = j->rqueue.idx[j->rqueue.head++];
  struct mly_view sid = strtab_get(j->strings, seq);
  if(!graph_image_ids_url(j->o->graph_url, sid.p, sid.n, req->url, sizeof(req->url))) {
    j->repairs[seq].state = REPAIR_FAILED; /* an absurd id: keep what the tile holds */
    return 0;
  }
  graph_request(req, REQ_USER(seq, REQ_REPAIR));
  j->st->repair_requests++;
  return 1;
}

static int src_next(void *user, struct fetch_req *req)
{
  struct job *j = user;
  size_t handled = 0;
  for(;;) {
    if(j->fail || stop_requested(j))
      return 0;
    /* repairs first: a tile waiting for one holds up the writing (Graph
     * API requests do not count against the tile budget) */
    while(j->rqueue.head < j->rqueue.n)
      if(next_repair(j, req))
        return 1;
    while(j->oqueue.head < j->oqueue.n)
      if(next_orgname(j, req))
        return 1;
    if(j->next >= j->ntiles || j->next - j->head >= j->nwindow)
      return 0;
    size_t ti = j->next;
    if(j->cache && take_cached(j, ti)) {
      j->next++;
      tile_done(j);
      if(++handled % 64 == 0)
        src_tick(j); /* progress and signals while reading a large cache */
      continue; /* its images may have queued repairs */
    }
    if(j->fail || !budget_left(j))
      return 0;
    if(!mly__tile_url(j->o->tiles_url, j->tiles[ti].t, req->url, sizeof(req->url))) {
      j->fail = mly_err_set(j->err, MLY_EINVAL, "tile url too long");
      return 0;
    }
    bool is_file = strncmp(j->o->tiles_url, "file://", 7) == 0;
    req->auth = is_file || !j->o->token ? FETCH_AUTH_NONE : FETCH_AUTH_QUERY;
    req->user = REQ_USER(ti, REQ_TILE);
    j->next++;
    j->tile_requests++;
    return 1;
  }
}

static enum fetch_verdict stop_with(struct job *j, enum mly_rc rc, const char *what, const char *msg)
{
  j->fail = mly_err_set(j->err, rc, "%s: %s", what, msg);
  return FETCH_STOP;
}

/* A Graph API request that came to an end, read by graph_outcome: an
 * answer, an unknown id or a failure for good settles state (the
 * REPAIR_* it gets in each case: answer, unknown, failed) and lets the
 * tiles waiting for it go; a bad token, a lasting rate limit or no memory
 * stops the run; a garbled body or a rate limit is asked again. */
static enum fetch_verdict graph_settle(struct job *j, struct fetch_result *res, enum mly_rc parsed,
                                       const struct mly_err *gerr, uint8_t *state,
                                       const uint8_t states[3], uint64_t *failures)
{
  enum mly_rc why = MLY_OK;
  switch(graph_outcome(res, parsed, gerr, &why)) {
  case GRAPH_RETRY:
    return FETCH_RETRY;
  case GRAPH_STOP:
    return stop_with(j, why, "graph api", res->msg);
  case GRAPH_ANSWER:
    *state = states[0];
    break;
  case GRAPH_UNKNOWN:
    *state = states[1];
    break;
  case GRAPH_FAILED:
    *state = states[2];
    (*failures)++;
    break;
  }
  enum mly_rc rc = mly__flush_ready(j);
  if(rc) {
    j->fail = rc;
    return FETCH_STOP;
  }
  return FETCH_ACCEPT;
}

static enum fetch_verdict repair_done(struct job *j, uint32_t seq, struct fetch_result *res)
{
  struct repair *r = &j->repairs[seq];
  struct mly_err gerr = {0};
  enum mly_rc rc = MLY_OK;
  if(res->status == FETCH_OK) {
    uint64_t *ids = NULL;
    size_t n = 0;
    rc = graph_parse_image_ids((const char *)res->body, res->n, &ids, &n, &gerr);
    if(rc == MLY_OK && (rc = idrepair_new(ids, n, &r->r)) == MLY_ETOOBIG)
      mly_err_set(&gerr, rc, "more than %u image ids in a sequence", GRAPH_IDS_MAX);
    free(ids);
  }
  /* unknown: the API does not know the sequence; failed: keep the ids as
   * held, the summary says so */
  static const uint8_t states[3] = {REPAIR_DONE, REPAIR_UNKNOWN, REPAIR_FAILED};
  return graph_settle(j, res, rc, &gerr, &r->state, states, &j->st->repair_failures);
}

static enum fetch_verdict orgname_done(struct job *j, uint32_t org, struct fetch_result *res)
{
  struct orgname_state *o = &j->orgnames[org];
  struct mly_err gerr = {0};
  enum mly_rc rc = MLY_OK;
  if(res->status == FETCH_OK)
    rc = graph_parse_org_name((const char *)res->body, res->n, &o->name, &gerr);
  /* an organization the API does not know has no name: done all the same */
  static const uint8_t states[3] = {REPAIR_DONE, REPAIR_DONE, REPAIR_FAILED};
  return graph_settle(j, res, rc, &gerr, &o->state, states, &j->st->orgname_failures);
}

static enum fetch_verdict src_done(void *user, void *req_user, struct fetch_result *res)
{
  struct job *j = user;
  uintptr_t u = (uintptr_t)req_user;
  if((u & 3) == REQ_REPAIR)
    return repair_done(j, (uint32_t)(u >> 2), res);
  if((u & 3) == REQ_ORGNAME)
    return orgname_done(j, (uint32_t)(u >> 2), res);
  size_t ti = (size_t)(u >> 2);
  char name[64];
  snprintf(name, sizeof(name), "tile ");
  tile_name(j->tiles[ti].t, name + 5, sizeof(name) - 5);
  struct mly_err perr = {0};
  enum mly_rc rc;
  switch(res->status) {
  case FETCH_OK:
    rc = mly__tile_process(j, ti, res->body, res->n, &perr);
    if(rc == MLY_EFORMAT) {
      snprintf(res->msg, sizeof(res->msg), "undecodable body: %.200s", perr.msg);
      return FETCH_RETRY;
    }
    if(rc)
      return stop_with(j, rc, name, perr.msg);
    /* only a body that decodes is kept: the cache never holds a bad tile */
    if(j->cache && (rc = cache_put(j->cache, j->tiles[ti].t, res->body, res->n, &perr)))
      return stop_with(j, rc, name, perr.msg);
    break;
  case FETCH_EMPTY: {
    struct chunk *c = &j->window[ti % j->nwindow];
    mly__chunk_reset(c);
    c->ready = true;
    if(j->cache && (rc = cache_put(j->cache, j->tiles[ti].t, NULL, 0, &perr)))
      return stop_with(j, rc, name, perr.msg);
    break;
  }
  case FETCH_AUTH:
    return stop_with(j, MLY_EAUTH, name, res->msg);
  case FETCH_RATE_LIMIT:
    return stop_with(j, MLY_ERATE, name, res->msg);
  case FETCH_TOOBIG:
    return stop_with(j, MLY_ETOOBIG, name, res->msg);
  case FETCH_FAILED:
  default:
    return stop_with(j, MLY_EHTTP, name, res->msg);
  }
  j->st->tiles_fetched++;
  tile_done(j);
  return j->fail ? FETCH_STOP : FETCH_ACCEPT;
}

/* Every tile has been asked for and only answers are awaited: the
 * sequences sort what they hold now rather than after the last tile (no
 * request is held back by it, and seq_write is left a small merge) */
static void src_idle(void *user)
{
  struct job *j = user;
  if(j->next < j->ntiles || j->fail || !j->write_outputs)
    return;
  for(size_t a = 0; a < j->nareas; a++)
    for(int c = 0; c < j->areas[a].nclasses; c++)
      if(j->areas[a].seqb[c])
        seq_presort(j->areas[a].seqb[c]);
}

enum mly_rc mly__fetch_tiles(struct job *j)
{
  struct fetch_source src = {.next = src_next, .done = src_done, .idle = src_idle, .user = j};
  struct mly_err ferr = {0};
  j->st->started = true;
  enum mly_rc rc = fetch_run(j->fetch, &src, src_tick, &ferr);
  src_tick(j);
  if(j->fail == MLY_ERATE) {
    char why[160];
    snprintf(why, sizeof(why), "%.150s", j->err->msg);
    return mly_err_set(j->err, MLY_ERATE,
                       "request limit reached (%s): %zu of %zu tiles remain; rerun later to resume%s",
                       why, j->ntiles - j->head, j->ntiles, j->cache ? "" : " (use --cache to keep progress)");
  }
  if(j->fail)
    return j->fail; /* j->err says which tile and why */
  if(rc && rc != MLY_ESTOP) {
    *j->err = ferr;
    return rc;
  }
  size_t remaining = j->ntiles - j->head;
  if(stop_requested(j))
    return mly_err_set(j->err, MLY_ESTOP, "interrupted with %zu of %zu tiles to go; nothing written%s",
                       remaining, j->ntiles, j->cache ? " (rerun to resume from the cache)" : "");
  if(rc)
    return mly_err_set(j->err, rc, "stopped with %zu tiles to go", remaining);
  if(j->budget_hit && remaining)
    return mly_err_set(j->err, MLY_ESTOP,
                       "incomplete: --max_requests %llu spent, %zu of %zu tiles remain; rerun to resume",
                       (unsigned long long)j->o->max_requests, remaining, j->ntiles);
  if(remaining)
    return mly_err_set(j->err, MLY_EHTTP, "%zu of %zu tiles were not fetched", remaining, j->ntiles);
  return MLY_OK;
}
