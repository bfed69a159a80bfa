/* seqmerge.h -- merge_sequences: the features of one sequence_id become one
 *
 * Features sharing a sequence_id become one feature: its geometry is the
 * lines of all of them (a LineString when that is one line, else a
 * MultiLineString of every line, a MultiLineString's lines taken apart),
 * its properties those of the first of them, then (as geokit does) `id` set
 * to the sequence_id, `length` (metres, the geodesic length of every line
 * on WGS84) and `points` (vertices of every line). A feature without a
 * sequence_id, or whose geometry is not a valid LineString or
 * MultiLineString (null, another type, a line of fewer than two positions,
 * a position out of range), is skipped and counted.
 *
 * Streaming in two passes: the first counts each sequence's features;
 * the second writes a sequence as soon as its last feature is read. The
 * features before a sequence's last wait in an unlinked temporary file,
 * so memory holds 16 bytes per sequence plus one sequence's lines, however
 * the input interleaves them. Output order: the order in which each
 * sequence's last feature appears in the input. */
#ifndef MLY_SEQMERGE_H
#define MLY_SEQMERGE_H

#include "mly/workflow.h"

struct seqmerge_opts {
  const char *input, *output;
  const struct wf_progress *progress;
};

struct seqmerge_stats {
  bool started;       /* input and output folder checked: work began */
  uint64_t features;  /* read */
  uint64_t sequences; /* written */
  uint64_t merged;    /* of them made of two or more features */
  uint64_t invalid;   /* skipped: geometry not a valid line */
  uint64_t no_sequence; /* skipped: no sequence_id */
};

enum mly_rc seqmerge_run(const struct seqmerge_opts *o, struct seqmerge_stats *st,
                         struct mly_err *err) MLY_WARN_UNUSED;

/* Whether g is a valid LineString or MultiLineString (see above); adds its
 * lines (borrowed) to `lines` when not NULL */
bool seqmerge_lines(const json_t *g, json_t *lines);

#endif
