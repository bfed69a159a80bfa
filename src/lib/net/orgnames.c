/* orgnames.c -- organization id to name through the Graph API */
#include "mly/orgnames.h"
#include "mly/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lookup {
  const char *graph_url;
  struct orgname *orgs;
  size_t n, next;
  volatile sig_atomic_t *stop;
  struct mly_err *err;
  enum mly_rc fail;
};

static int lk_next(void *user, struct fetch_req *req)
{
  struct lookup *l = user;
  while(!l->fail && l->next < l->n) {
    size_t i = l->next++;
    if(!graph_org_url(l->graph_url, l->orgs[i].id, req->url, sizeof(req->url)))
      continue; /* an id no URL can carry: unknown */
    req->auth = FETCH_AUTH_HEADER;
    req->user = (void *)(uintptr_t)i;
    return 1;
  }
  return 0;
}

static enum fetch_verdict lk_done(void *user, void *req_user, struct fetch_result *res)
{
  struct lookup *l = user;
  struct orgname *o = &l->orgs[(size_t)(uintptr_t)req_user];
  struct mly_err gerr = {0};
  enum mly_rc rc;
  switch(res->status) {
  case FETCH_OK:
    rc = graph_parse_org_name((const char *)res->body, res->n, &o->name, &gerr);
    if(rc == MLY_EFORMAT || rc == MLY_ERATE) {
      snprintf(res->msg, sizeof(res->msg), "%.200s", gerr.msg);
      return FETCH_RETRY;
    }
    if(rc == MLY_EAUTH || rc == MLY_ENOMEM) {
      l->fail = mly_err_set(l->err, rc, "graph api: %s", gerr.msg);
      return FETCH_STOP;
    }
    return FETCH_ACCEPT; /* other API errors: the id is unknown */
  case FETCH_EMPTY:
    return FETCH_ACCEPT;
  case FETCH_AUTH:
    l->fail = mly_err_set(l->err, MLY_EAUTH, "graph api: %s", res->msg);
    return FETCH_STOP;
  case FETCH_RATE_LIMIT:
    l->fail = mly_err_set(l->err, MLY_ERATE, "graph api: %s", res->msg);
    return FETCH_STOP;
  default:
    l->fail = mly_err_set(l->err, MLY_EHTTP, "graph api, organization %s: %s", o->id, res->msg);
    return FETCH_STOP;
  }
}

static int lk_tick(void *user)
{
  struct lookup *l = user;
  return l->stop && *l->stop;
}

enum mly_rc orgnames_lookup(const struct fetch_opts *fo, const char *graph_url, struct orgname *orgs,
                            size_t n, volatile sig_atomic_t *stop, struct mly_err *err)
{
  struct fetch *f = NULL;
  enum mly_rc rc = fetch_new(fo, &f, err);
  if(rc)
    return rc;
  struct lookup l = {graph_url, orgs, n, 0, stop, err, MLY_OK};
  struct fetch_source src = {.next = lk_next, .done = lk_done, .user = &l};
  struct mly_err ferr = {0};
  rc = fetch_run(f, &src, lk_tick, &ferr);
  fetch_free(&f);
  if(l.fail)
    return l.fail;
  if(rc == MLY_ESTOP)
    return mly_err_set(err, MLY_ESTOP, "interrupted");
  if(rc)
    *err = ferr;
  return rc;
}

void orgnames_cleanup(struct orgname *orgs, size_t n)
{
  for(size_t i = 0; i < n; i++) {
    free(orgs[i].name);
    orgs[i].name = NULL;
  }
}
