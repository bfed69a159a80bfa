/* ptmatch.h -- match_point_sequences: the points inside their own
 * sequence's polygons
 *
 * The polygons (Polygon or MultiPolygon features with a sequence_id, as
 * simplify_sequence writes them) are read first, made valid and prepared
 * (GEOS), keyed by sequence_id. The points then stream: a point is written,
 * unchanged and once, when a polygon carrying its own sequence_id
 * intersects it (a point on the boundary counts). Output in input order.
 * Polygons without a sequence_id or with another geometry, and points
 * without a sequence_id or a valid Point, are skipped and counted. Memory:
 * the polygons; the points stream. */
#ifndef MLY_PTMATCH_H
#define MLY_PTMATCH_H

#include "mly/workflow.h"

struct ptmatch_opts {
  const char *polygons, *points, *output;
  const struct wf_progress *progress;
};

struct ptmatch_stats {
  bool started;
  uint64_t polygons;         /* features read from the polygons input */
  uint64_t polygons_skipped; /* no sequence_id, or not a (Multi)Polygon */
  uint64_t points;           /* features read from the points input */
  uint64_t points_skipped;   /* no sequence_id, or not a valid Point */
  uint64_t in_sequence;      /* points whose sequence has a polygon */
  uint64_t matched;          /* written */
};

enum mly_rc ptmatch_run(const struct ptmatch_opts *o, struct ptmatch_stats *st,
                        struct mly_err *err) MLY_WARN_UNUSED;

#endif
