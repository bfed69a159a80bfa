/* strtab.h -- interned byte strings: each distinct string stored once, named by a dense index */
#ifndef MLY_STRTAB_H
#define MLY_STRTAB_H

#include "mly/common.h"

struct strtab;

struct strtab *strtab_new(void);
void strtab_free(struct strtab **t);

/* Index of s (n bytes), adding it if new. Indexes are dense from 0 in
 * order of first insertion. MLY_ENOMEM / MLY_ETOOBIG (2^31 strings). */
enum mly_rc strtab_intern(struct strtab *t, const char *s, size_t n, uint32_t *out) MLY_WARN_UNUSED;

/* The string of an index (borrowed; valid until the table is freed) */
struct mly_view strtab_get(const struct strtab *t, uint32_t idx);

size_t strtab_count(const struct strtab *t);
/* bytes held, for memory figures */
size_t strtab_bytes(const struct strtab *t);

#endif
