/* idset.h -- exact set of (image id, sequence) keys for dropping images met twice */
#ifndef MLY_IDSET_H
#define MLY_IDSET_H

#include "mly/common.h"

struct idset;

struct idset *idset_new(void);
void idset_free(struct idset **s);

/* Insert (id, tag); *added tells whether it was new. The tag separates
 * keys that share an id (e.g. the sequence, or string-id namespace). */
enum mly_rc idset_add(struct idset *s, uint64_t id, uint32_t tag, bool *added) MLY_WARN_UNUSED;

/* Make room for n more keys, so that adding them does not grow the set
 * (and idset_prefetch stays pointed at the right slots) */
enum mly_rc idset_reserve(struct idset *s, size_t n) MLY_WARN_UNUSED;

/* A hint that (id, tag) is looked up or added soon: its slot is brought
 * into the cache (the set is too big for it when a tile column is dense) */
void idset_prefetch(const struct idset *s, uint64_t id, uint32_t tag);

/* Whether (id, tag) is in the set */
bool idset_has(const struct idset *s, uint64_t id, uint32_t tag);

size_t idset_count(const struct idset *s);

#endif
