/* filter.c -- keep or drop an image by time, panorama and organization */
#include "mly/filter.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

bool filter_accept(const struct filter *f, const struct image *img)
{
  if(f->has_from && (!img->has_captured_at || img->captured_at < f->from_ms))
    return false;
  if(f->has_to && (!img->has_captured_at || img->captured_at > f->to_ms))
    return false;
  if(f->only_pano && img->is_pano != 1)
    return false;
  if(f->org_ids) {
    if(!img->organization_id.known)
      return false;
    for(size_t i = 0; i < f->norg_ids; i++)
      if(mly_view_eq(img->organization_id.v, f->org_ids[i]))
        return true;
    return false;
  }
  return true;
}

void filter_free_ids(char ***ids, size_t n)
{
  if(!*ids)
    return;
  for(size_t i = 0; i < n; i++)
    free((*ids)[i]);
  free(*ids);
  *ids = NULL;
}

enum mly_rc filter_parse_ids(const char *text, char ***out, size_t *n, struct mly_err *err)
{
  char **ids = NULL;
  size_t count = 0;
  const char *p = text;
  *out = NULL;
  *n = 0;
  for(;;) {
    const char *comma = strchr(p, ',');
    const char *end = comma ? comma : p + strlen(p);
    const char *a = p, *b = end;
    while(a < b && isspace((unsigned char)*a))
      a++;
    while(b > a && isspace((unsigned char)b[-1]))
      b--;
    if(a == b) {
      filter_free_ids(&ids, count);
      return mly_err_set(err, MLY_EFORMAT, "--organization_ids: empty id at item %zu", count + 1);
    }
    for(const char *c = a; c < b; c++)
      if(!isdigit((unsigned char)*c)) {
        filter_free_ids(&ids, count);
        return mly_err_set(err, MLY_EFORMAT, "--organization_ids: invalid character '%c' in item %zu "
                           "(ids are decimal digits)", *c, count + 1);
      }
    char **nids = realloc(ids, (count + 1) * sizeof(*nids));
    char *id = nids ? strndup(a, (size_t)(b - a)) : NULL;
    if(!id) {
      if(nids)
        ids = nids;
      filter_free_ids(&ids, count);
      return mly_err_set(err, MLY_ENOMEM, "out of memory");
    }
    ids = nids;
    ids[count++] = id;
    if(!comma)
      break;
    p = comma + 1;
  }
  *out = ids;
  *n = count;
  return MLY_OK;
}
