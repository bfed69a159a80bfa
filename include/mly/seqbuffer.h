/* seqbuffer.h -- sequence lines buffered into polygons that do not overlap
 * (the work of simplify_sequence)
 *
 * Each sequence line is buffered (round caps and joins, 16 segments a
 * quarter circle, as geokit's shapely did). Then, with the sequences
 * ranked longest first (ties: sequence_id, then input order):
 *   1. a buffer that lies within another sequence's buffer is dropped
 *      (of two equal buffers, the lower-ranked one);
 *   2. each remaining buffer loses what the higher-ranked remaining buffers
 *      cover, so no two results overlap and together they cover what all
 *      the buffers covered; one clipped away entirely is dropped.
 * Both steps test a buffer only against the buffers whose bounding boxes
 * meet its own (a GEOS STRtree, prepared geometries), never every pair.
 *
 * Width in degrees (geokit's unit: the buffer is made in lon/lat) or in
 * metres (made in a local metric projection, localproj.h, centred on the
 * 1 x 1 degree cell that holds the centre of the line's bbox, and brought
 * back to lon/lat: lines of one cell share a projection, so a part of a
 * road is buffered exactly as the whole road is). Each result's `area` is
 * in the width's unit squared: degrees^2, or m^2 measured in that
 * projection (scale error below 1e-4 within 100 km of the centre).
 *
 * "Within" and "clipped away" allow for rounding: a buffer with less than
 * 1e-4 of its area outside another is within it, and a clipped piece
 * smaller than 1e-4 of its buffer's area is dropped (buffers of one road
 * made in the projections of two cells differ by some 0.3 mm).
 *
 * A seqbuffer owns its GEOS context: use it from one thread. Results are
 * the same bytes run after run for the same input. */
#ifndef MLY_SEQBUFFER_H
#define MLY_SEQBUFFER_H

#include <jansson.h>
#include "mly/common.h"
#include "mly/workflow.h"

struct feature;

struct seqbuffer_width {
  double value; /* > 0 */
  bool metres;  /* false: degrees */
};

/* The widths a --buffer may have */
#define SEQBUFFER_MIN_DEG 1e-9
#define SEQBUFFER_MAX_DEG 10.0
#define SEQBUFFER_MIN_M 0.001
#define SEQBUFFER_MAX_M 100000.0

/* Parse a --buffer value: a decimal number is degrees ("0.0001"), one with
 * the unit m is metres ("12m", "12 m", "12.5M"). MLY_EINVAL with a
 * message when text is not a positive decimal number (with or without m)
 * or is outside the SEQBUFFER_MIN/MAX range of its unit. */
enum mly_rc seqbuffer_parse_width(const char *text, struct seqbuffer_width *out,
                                  struct mly_err *err) MLY_WARN_UNUSED;

struct seqbuffer_stats {
  bool started;         /* seqbuffer_simplify: input and output folder checked, work began */
  uint64_t read;        /* features handed to seqbuffer_add */
  uint64_t not_line;    /* skipped: null geometry, not a (Multi)LineString, or empty */
  uint64_t degenerate;  /* skipped: a line of one distinct position */
  uint64_t contained;   /* buffers dropped: within another buffer */
  uint64_t covered;     /* buffers dropped: clipped away by longer ones */
  uint64_t clipped;     /* results that lost some area to longer ones */
  uint64_t results;     /* polygons handed to the result callback */
};

struct seqbuffer;

/* NULL when out of memory or GEOS cannot start */
struct seqbuffer *seqbuffer_new(const struct seqbuffer_width *w);
void seqbuffer_free(struct seqbuffer **b);

/* Buffer one feature's line and keep it with its properties (a reference
 * is taken). LineString and MultiLineString are buffered; anything else is
 * counted and skipped (stats), as is a line whose positions are all one.
 * The feature's `length` property (a number) ranks it; without one, the
 * line's length in metres does. MLY_EFORMAT (message naming the feature
 * by its 0-based index) when a position is not 2 or 3 finite numbers or a
 * latitude is outside [-90, 90]; MLY_ENOMEM; MLY_EGEOS. */
enum mly_rc seqbuffer_add(struct seqbuffer *b, const struct feature *f, struct mly_err *err)
    MLY_WARN_UNUSED;

/* Called now and then while seqbuffer_run works: step 1 or 2, buffers done
 * in that step, of total. false stops the run (MLY_ESTOP). */
typedef bool (*seqbuffer_progress_fn)(void *user, int step, size_t done, size_t total);

/* Called with each result as it is made, in rank order (longest first):
 * properties are the feature's with `area` set; geometry is a GeoJSON
 * Polygon or MultiPolygon with RFC 7946 winding (exterior rings
 * counterclockwise). Both are borrowed for the call (take a reference to
 * keep them). A status other than MLY_OK ends seqbuffer_run with it. */
typedef enum mly_rc (*seqbuffer_result_fn)(void *user, json_t *properties, json_t *geometry,
                                           struct mly_err *err);

/* Drop and clip (steps 1 and 2 above), handing each result to emit (may
 * be NULL) as soon as it is made and keeping none: memory is the buffers
 * and a bounded number of prepared geometries, not the results. Once;
 * seqbuffer_add may not follow. */
enum mly_rc seqbuffer_run(struct seqbuffer *b, seqbuffer_progress_fn progress,
                          seqbuffer_result_fn emit, void *user, struct mly_err *err)
    MLY_WARN_UNUSED;

void seqbuffer_get_stats(const struct seqbuffer *b, struct seqbuffer_stats *out);

/* simplify_sequence, a file to a file */
struct seqbuffer_opts {
  const char *input;  /* any format featread reads; "-" standard input */
  const char *output; /* OUTFILE_FEATURES, by extension; "-" standard output */
  struct seqbuffer_width width;
  const struct wf_progress *progress; /* may be NULL */
};

/* Check the output's folder, read every line of the input into a
 * seqbuffer in one pass (standard input as it comes; a failure up to here
 * leaves st->started false: the input's fault, nothing done), then run it
 * writing each result to the output as it is made; the output is
 * published complete, or left absent on any failure. *st is filled in
 * either case. */
enum mly_rc seqbuffer_simplify(const struct seqbuffer_opts *o, struct seqbuffer_stats *st,
                               struct mly_err *err) MLY_WARN_UNUSED;

#endif
