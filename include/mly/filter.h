/* filter.h -- which images to keep: capture time, panoramas, organizations
 *
 * Unknown values never pass a filter that asks about them; an unknown
 * is_pano counts as not panoramic (SPEC.md "Output"). */
#ifndef MLY_FILTER_H
#define MLY_FILTER_H

#include "mly/common.h"
#include "mly/image.h"

struct filter {
  bool has_from, has_to;
  int64_t from_ms, to_ms;   /* inclusive bounds on captured_at */
  bool only_pano;
  char **org_ids;           /* borrowed; NULL when not filtering */
  size_t norg_ids;
};

bool filter_accept(const struct filter *f, const struct image *img);

/* Split a comma-separated id list (spaces around ids allowed) into a
 * malloc'd array of malloc'd strings. Empty items or characters other than
 * digits and letters are MLY_EFORMAT. */
enum mly_rc filter_parse_ids(const char *text, char ***out, size_t *n, struct mly_err *err)
    MLY_WARN_UNUSED;
void filter_free_ids(char ***ids, size_t n);

#endif
