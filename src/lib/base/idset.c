/* idset.c -- open-addressing hash set of (u64, u32) keys */
#include "mly/idset.h"

#include <stdlib.h>

struct slot {
  uint64_t id;
  uint32_t tag;
  uint32_t used;
};

struct idset {
  struct slot *slots;
  size_t nslots; /* power of two */
  size_t count;
};

struct idset *idset_new(void)
{
  return calloc(1, sizeof(struct idset));
}

void idset_free(struct idset **s)
{
  if(!*s)
    return;
  free((*s)->slots);
  free(*s);
  *s = NULL;
}

static size_t hash_key(uint64_t id, uint32_t tag)
{
  uint64_t h = id ^ ((uint64_t)tag * 0x9e3779b97f4a7c15ULL);
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 29;
  return (size_t)h;
}

/* Rehash into the smallest power of two from 1024 that holds want keys
 * at most 3/4 full (and more slots than now) */
static enum mly_rc grow_to(struct idset *s, size_t want)
{
  size_t n = s->nslots ? s->nslots * 2 : 1024;
  while(want > n / 4 * 3) {
    if(n > SIZE_MAX / 2 / sizeof(struct slot))
      return MLY_ENOMEM;
    n *= 2;
  }
  struct slot *ns = calloc(n, sizeof(*ns));
  if(!ns)
    return MLY_ENOMEM;
  for(size_t i = 0; i < s->nslots; i++) {
    if(!s->slots[i].used)
      continue;
    size_t j = hash_key(s->slots[i].id, s->slots[i].tag) & (n - 1);
    while(ns[j].used)
      j = (j + 1) & (n - 1);
    ns[j] = s->slots[i];
  }
  free(s->slots);
  s->slots = ns;
  s->nslots = n;
  return MLY_OK;
}

enum mly_rc idset_reserve(struct idset *s, size_t n)
{
  if(n > SIZE_MAX / 8 - s->count)
    return MLY_ENOMEM;
  if((s->count + n) * 4 <= s->nslots * 3)
    return MLY_OK;
  return grow_to(s, s->count + n);
}

void idset_prefetch(const struct idset *s, uint64_t id, uint32_t tag)
{
  if(s->nslots)
    __builtin_prefetch(&s->slots[hash_key(id, tag) & (s->nslots - 1)]);
}

enum mly_rc idset_add(struct idset *s, uint64_t id, uint32_t tag, bool *added)
{
  if((s->count + 1) * 4 > s->nslots * 3) {
    enum mly_rc rc = grow_to(s, s->count + 1);
    if(rc)
      return rc;
  }
  size_t mask = s->nslots - 1;
  size_t j = hash_key(id, tag) & mask;
  while(s->slots[j].used) {
    if(s->slots[j].id == id && s->slots[j].tag == tag) {
      *added = false;
      return MLY_OK;
    }
    j = (j + 1) & mask;
  }
  s->slots[j].id = id;
  s->slots[j].tag = tag;
  s->slots[j].used = 1;
  s->count++;
  *added = true;
  return MLY_OK;
}

bool idset_has(const struct idset *s, uint64_t id, uint32_t tag)
{
  if(!s->nslots)
    return false;
  size_t mask = s->nslots - 1;
  for(size_t j = hash_key(id, tag) & mask; s->slots[j].used; j = (j + 1) & mask)
    if(s->slots[j].id == id && s->slots[j].tag == tag)
      return true;
  return false;
}

size_t idset_count(const struct idset *s)
{
  return s->count;
}
