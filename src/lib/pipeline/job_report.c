/* job_report.c -- per-area figures for the end-of-run summary */
#include "job_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- per-area figures ---------------------------------------------------- */

enum mly_rc mly__org_count(struct org_counter *c, uint32_t key)
{
  if((c->n + 1) * 2 > c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 16;
    uint32_t *keys = calloc(cap, sizeof(*keys));
    uint64_t *counts = calloc(cap, sizeof(*counts));
    if(!keys || !counts) {
      free(keys);
      free(counts);
      return MLY_ENOMEM;
    }
    for(size_t i = 0; i < c->cap; i++) {
      if(!c->keys[i])
        continue;
      size_t h = (c->keys[i] * 2654435761u) & (cap - 1);
      while(keys[h])
        h = (h + 1) & (cap - 1);
      keys[h] = c->keys[i];
      counts[h] = c->counts[i];
    }
    free(c->keys);
    free(c->counts);
    c->keys = keys;
    c->counts = counts;
    c->cap = cap;
  }
  size_t h = (key * 2654435761u) & (c->cap - 1);
  while(c->keys[h] && c->keys[h] != key)
    h = (h + 1) & (c->cap - 1);
  if(!c->keys[h]) {
    c->keys[h] = key;
    c->n++;
  }
  c->counts[h]++;
  return MLY_OK;
}

static int cmp_org(const void *pa, const void *pb)
{
  const struct job_org_count *a = pa, *b = pb;
  if(a->images != b->images)
    return a->images > b->images ? -1 : 1;
  size_t la = strlen(a->id), lb = strlen(b->id);
  if(la != lb) /* numeric ids: shorter is smaller */
    return la < lb ? -1 : 1;
  return strcmp(a->id, b->id);
}

/* Move the figures of every area into st->reports */
void mly__build_reports(struct job *j)
{
  struct job_stats *st = j->st;
  st->reports = calloc(j->nareas ? j->nareas : 1, sizeof(*st->reports));
  if(!st->reports)
    return;
  st->nreports = j->nareas;
  for(size_t a = 0; a < j->nareas; a++) {
    struct area_out *ar = &j->areas[a];
    struct job_area_report *r = &st->reports[a];
    *r = ar->rep;
    const char *name = aoi_name(ar->aoi);
    r->name = name ? strdup(name) : NULL;
    r->orgs = calloc(ar->orgs.n ? ar->orgs.n : 1, sizeof(*r->orgs));
    if(!r->orgs)
      continue;
    for(size_t i = 0; i < ar->orgs.cap; i++) {
      if(!ar->orgs.keys[i])
        continue;
      struct mly_view v = strtab_get(j->strings, ar->orgs.keys[i] - 1);
      char *id = strndup(v.p, v.n);
      if(!id)
        continue;
      r->orgs[r->norgs].id = id;
      r->orgs[r->norgs].images = ar->orgs.counts[i];
      r->norgs++;
    }
    qsort(r->orgs, r->norgs, sizeof(*r->orgs), cmp_org);
  }
}

void job_stats_cleanup(struct job_stats *st)
{
  for(size_t a = 0; a < st->nreports; a++) {
    struct job_area_report *r = &st->reports[a];
    free(r->name);
    for(size_t i = 0; i < r->norgs; i++)
      free(r->orgs[i].id);
    free(r->orgs);
  }
  free(st->reports);
  st->reports = NULL;
  st->nreports = 0;
}

