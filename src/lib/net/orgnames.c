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
    graph_request(req, (void *)(uintptr_t)i);
    return 1;
  }
  return 0;
}

static enum fetch_verdict lk_done(void *user, void *req_user, struct fetch_result *res)
{
  struct lookup *l = user;
  struct orgname *o = &l->orgs[(size_t)(uintptr_t)req_user];
  struct mly_err gerr = {0};
  enum mly_rc rc = MLY_OK, why = MLY_OK;
  if(res->status == FETCH_OK)
    rc = graph_parse_org_name((const char *)res->body, res->n, &o->name, &gerr);
  switch(graph_outcome(res, rc, &gerr, &why)) {
  case GRAPH_ANSWER:
  case GRAPH_UNKNOWN: /* no name */
    return FETCH_ACCEPT;
  case GRAPH_RETRY:
    return FETCH_RETRY;
  case GRAPH_STOP:
    l->fail = mly_err_set(l->err, why, "graph api: %s", res->msg);
    return FETCH_STOP;
  case GRAPH_FAILED:
    break;
  }
  /* the command asked for these names: one that cannot be had fails it */
  l->fail = mly_err_set(l->err, MLY_EHTTP, "graph api, organization %s: %s", o->id, res->msg);
  return FETCH_STOP;
}

enum mly_rc orgnames_lookup(const struct fetch_opts *fo, const char *graph_url, struct orgname *orgs,
                            size_t n, volatile sig_atomic_t *stop, struct mly_err *err)
{
  struct lookup l = {graph_url, orgs, n, 0, err, MLY_OK};
  struct fetch_source src = {.next = lk_next, .done = lk_done, .user = &l};
  enum mly_rc rc = fetch_run_once(fo, &src, stop, err);
  return l.fail ? l.fail : rc;
}

void orgnames_cleanup(struct orgname *orgs, size_t n)
{
  for(size_t i = 0; i < n; i++) {
    free(orgs[i].name);
    orgs[i].name = NULL;
  }
}
