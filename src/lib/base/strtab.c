/* strtab.c -- string interning with open addressing over an arena */
#include "mly/strtab.h"

#include <stdlib.h>
#include <string.h>

struct strtab {
  char *arena;          /* all strings back to back */
  size_t arena_n, arena_cap;
  uint64_t *offs;       /* per index: offset << 24 | length (lengths < 16 MiB) */
  size_t count, offs_cap;
  uint32_t *slots;      /* hash slots: index + 1, 0 = empty */
  size_t nslots;        /* power of two */
};

#define MAX_LEN ((1u << 24) - 1)

static uint64_t hash_bytes(const char *s, size_t n)
{
  /* FNV-1a, then a final mix so the low bits spread */
  uint64_t h = 1469598103934665603ULL;
  for(size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ULL;
  }
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 32;
  return h;
}

struct strtab *strtab_new(void)
{
  struct strtab *t = calloc(1, sizeof(*t));
  if(!t)
    return NULL;
  t->nslots = 64;
  t->slots = calloc(t->nslots, sizeof(*t->slots));
  if(!t->slots) {
    free(t);
    return NULL;
  }
  return t;
}

void strtab_free(struct strtab **tp)
{
  struct strtab *t = *tp;
  if(!t)
    return;
  free(t->arena);
  free(t->offs);
  free(t->slots);
  free(t);
  *tp = NULL;
}

struct mly_view strtab_get(const struct strtab *t, uint32_t idx)
{
  struct mly_view v = {NULL, 0};
  if(idx < t->count) {
    v.p = t->arena + (t->offs[idx] >> 24);
    v.n = (size_t)(t->offs[idx] & MAX_LEN);
  }
  return v;
}

static enum mly_rc grow_slots(struct strtab *t)
{
  size_t n = t->nslots * 2;
  uint32_t *s = calloc(n, sizeof(*s));
  if(!s)
    return MLY_ENOMEM;
  for(size_t i = 0; i < t->count; i++) {
    struct mly_view v = strtab_get(t, (uint32_t)i);
    size_t j = hash_bytes(v.p, v.n) & (n - 1);
    while(s[j])
      j = (j + 1) & (n - 1);
    s[j] = (uint32_t)i + 1;
  }
  free(t->slots);
  t->slots = s;
  t->nslots = n;
  return MLY_OK;
}

enum mly_rc strtab_intern(struct strtab *t, const char *s, size_t n, uint32_t *out)
{
  if(n > MAX_LEN)
    return MLY_ETOOBIG;
  size_t mask = t->nslots - 1;
  size_t j = hash_bytes(s, n) & mask;
  while(t->slots[j]) {
    uint32_t idx = t->slots[j] - 1;
    struct mly_view v = strtab_get(t, idx);
    if(v.n == n && (n == 0 || memcmp(v.p, s, n) == 0)) {
      *out = idx;
      return MLY_OK;
    }
    j = (j + 1) & mask;
  }
  if(t->count >= (1u << 31))
    return MLY_ETOOBIG;
  if(t->arena_n + n > t->arena_cap) {
    size_t cap = t->arena_cap ? t->arena_cap : 4096;
    while(cap < t->arena_n + n)
      cap *= 2;
    char *a = realloc(t->arena, cap);
    if(!a)
      return MLY_ENOMEM;
    t->arena = a;
    t->arena_cap = cap;
  }
  if(t->count == t->offs_cap) {
    size_t cap = t->offs_cap ? t->offs_cap * 2 : 64;
    uint64_t *o = realloc(t->offs, cap * sizeof(*o));
    if(!o)
      return MLY_ENOMEM;
    t->offs = o;
    t->offs_cap = cap;
  }
  if(n)
    memcpy(t->arena + t->arena_n, s, n);
  t->offs[t->count] = ((uint64_t)t->arena_n << 24) | n;
  t->arena_n += n;
  t->slots[j] = (uint32_t)t->count + 1;
  *out = (uint32_t)t->count++;
  if(t->count * 2 > t->nslots)
    return grow_slots(t);
  return MLY_OK;
}

size_t strtab_count(const struct strtab *t)
{
  return t->count;
}

size_t strtab_bytes(const struct strtab *t)
{
  return t->arena_cap + t->offs_cap * sizeof(uint64_t) + t->nslots * sizeof(uint32_t);
}
