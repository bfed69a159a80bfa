/* orgnames.h -- organization names from the Graph API, many requests in flight */
#ifndef MLY_ORGNAMES_H
#define MLY_ORGNAMES_H

#include <signal.h>
#include "mly/common.h"
#include "mly/fetch.h"

struct orgname {
  const char *id; /* borrowed */
  char *name;     /* OUT: malloc'd name, or NULL when the API does not know the id */
};

/* Look every id up with GET {graph_url}/{id}?fields=name on a fetcher of
 * its own, each answer read as graph.h's graph_outcome reads every Graph
 * request (token in the header; an id the API refuses or does not know:
 * no name). MLY_EAUTH on an invalid token, MLY_ERATE when the request
 * limit persists, MLY_EHTTP when a request fails for good, MLY_ESTOP when
 * *stop is set. Free the names with orgnames_cleanup. */
enum mly_rc orgnames_lookup(const struct fetch_opts *fo, const char *graph_url, struct orgname *orgs,
                            size_t n, volatile sig_atomic_t *stop, struct mly_err *err) MLY_WARN_UNUSED;

void orgnames_cleanup(struct orgname *orgs, size_t n);

#endif
