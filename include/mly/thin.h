/* thin.h -- simplify_points: thin each sequence's points to a distance
 *
 * Points are grouped by sequence_id and ordered by captured_at, then id
 * (as integers; seq.h's vertex order), then input order. In each sequence
 * the first point is kept, then each point at least `distance_m` metres
 * (geodesic, WGS84) from the last kept one. The kept features are written
 * unchanged, in input order. A feature without a sequence_id (string or
 * integer) or without a Point geometry with a valid position belongs to no
 * sequence: it is dropped and counted.
 *
 * Memory is bounded: a 48-byte record per point in seq.h's builder, which
 * spills sorted runs to temporary files beyond `max_points`, and one bit per
 * point; the input is read twice (standard input is spooled to a
 * temporary file). */
#ifndef MLY_THIN_H
#define MLY_THIN_H

#include "mly/workflow.h"

struct thin_opts {
  const char *input, *output;
  double distance_m;
  size_t max_points; /* points held in memory before spilling; 0: 1 << 19 */
  const struct wf_progress *progress;
};

struct thin_stats {
  bool started;      /* inputs and output folder checked: work began */
  uint64_t features; /* read */
  uint64_t points;   /* in a sequence */
  uint64_t kept;
  uint64_t sequences;
  uint64_t skipped;  /* no sequence_id or no valid Point */
};

enum mly_rc thin_points(const struct thin_opts *o, struct thin_stats *st, struct mly_err *err)
    MLY_WARN_UNUSED;

#endif
