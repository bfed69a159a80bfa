/* seq.h -- sequences as LineStrings built from the kept images of a whole area
 *
 * The builder keeps one compact record per image (struct seq_point, 48
 * bytes) and, at the end, sorts them into sequences (SPEC.md "Output",
 * Sequences). Strings (sequence ids, organization ids, non-numeric image
 * ids) live in a caller-owned strtab, referred to by index. */
#ifndef MLY_SEQ_H
#define MLY_SEQ_H

#include "mly/common.h"
#include "mly/jsonw.h"
#include "mly/outfile.h"
#include "mly/strtab.h"

enum seq_point_flags {
  SEQP_ID_KNOWN = 1 << 0,
  SEQP_ID_STR = 1 << 1,       /* id is a strtab index of a non-numeric id */
  SEQP_PANO_KNOWN = 1 << 2,
  SEQP_PANO = 1 << 3,
  SEQP_CAPTURED_KNOWN = 1 << 4
};

struct seq_point {
  uint64_t lon, lat; /* the coordinates' text, packed (jsonw_coord_packed) */
  int64_t captured_at;
  uint64_t id;       /* numeric id, or strtab index with SEQP_ID_STR */
  uint32_t seq;      /* strtab index of sequence_id */
  uint32_t org;      /* strtab index + 1 of organization_id, 0 unknown */
  uint32_t ordinal;  /* set by seq_add: order of arrival (tile order) */
  uint8_t flags;
  uint8_t lon_form, lat_form;
};

/* Set p's position from the packed text of its coordinates */
static inline void seq_point_at(struct seq_point *p, const struct jsonw_pos *pos)
{
  p->lon = pos->lon;
  p->lat = pos->lat;
  p->lon_form = pos->lon_form;
  p->lat_form = pos->lat_form;
}

struct seq_builder;

struct seq_builder *seq_new(const struct strtab *strings);
void seq_free(struct seq_builder **b);

/* Bound the points held in memory to max_points; 0 (the default) keeps
 * them all in memory. When the buffer holds max_points, seq_add sorts it
 * and writes it as a sorted run to a temporary file in $TMPDIR (else
 * /tmp), unlinked as soon as it is created so that none outlives the
 * builder or a killed process; runs are merged 64 at a time as they pile
 * up, and seq_write merges them back. The output is the same bytes as
 * without a bound. Memory is then about max_points * 48 bytes (16 more
 * per point while a run is sorted), the longest sequence, 48 KiB per run and 40 bytes per
 * written sequence; disk about 48 bytes per image (twice that while runs
 * merge) plus the output's size (seq_write stages the sequences' text in
 * a temporary file). Each run holds a descriptor: at most 63 per level of
 * 64-fold merging. Takes effect at the next seq_add. */
void seq_set_memory_limit(struct seq_builder *b, size_t max_points);

/* Keep a copy of p (its ordinal is assigned here). MLY_ENOMEM,
 * MLY_ETOOBIG (2^32 - 1 images), or MLY_EIO when writing a run to disk
 * failed; then p was not added, nothing that was added is lost, and
 * seq_add_error tells the detail. */
enum mly_rc seq_add(struct seq_builder *b, const struct seq_point *p) MLY_WARN_UNUSED;

/* The detail of the last failed seq_add (rc and a one-line message) in
 * err; returns that rc, MLY_OK when no seq_add has failed. */
enum mly_rc seq_add_error(const struct seq_builder *b, struct mly_err *err);

/* Points added so far, in memory or on disk */
size_t seq_point_count(const struct seq_builder *b);

/* Sort the points added since the last sort in with the others, so that
 * seq_write has less left to do: for a moment the caller would otherwise
 * spend waiting. Each sort passes over every point in memory, so it is
 * skipped until the new points are an eighth of the sorted ones. The
 * output is the same bytes with or without. Scratch while it runs: 64
 * bytes per new point and half the longest sequence. */
void seq_presort(struct seq_builder *b);

/* Sort and write every sequence with at least two images to out, ordered
 * by their first vertex (captured_at, then id, then tile order), in out's
 * format: a LineString Feature for the GeoJSON formats, a CSV record
 * (OUTFILE_CSV_SEQUENCES_HEADER, the line as WKT) for CSV. A CSV out must
 * be opened with outfile_open_as(..., OUTFILE_SEQUENCES, ...), else
 * MLY_EINVAL and nothing is written. Returns the number of sequences
 * written in *nseq. With runs on disk, MLY_EIO when a temporary file
 * cannot be created, written or read. The builder may be freed after, or
 * written again (the same bytes), or take more points. */
enum mly_rc seq_write(struct seq_builder *b, struct outfile *out, size_t *nseq,
                      struct mly_err *err) MLY_WARN_UNUSED;

/* Hand every sequence (one or more points) to fn: v[0..n) its points in
 * vertex order (captured_at, then id, then order of arrival), the
 * sequences in an order of their ids' string-table indexes. The same
 * memory and disk bounds as seq_write: a sequence is in memory only while
 * fn has it (v is valid only during the call). fn's failure stops the walk
 * and is returned. Nothing is written; the builder may be walked again
 * after, written, or take more points. A caller that never calls seq_write
 * may keep any 64-bit values in a point's lon and lat (simplify_points
 * keeps a double's bits): only seq_write reads them. For a command that must learn
 * something about every sequence before writing them (create_custom_sequences
 * asks the Graph API about some of their images). */
typedef enum mly_rc (*seq_each_fn)(void *user, const struct seq_point *v, size_t n,
                                   struct mly_err *err);
enum mly_rc seq_each(struct seq_builder *b, seq_each_fn fn, void *user, struct mly_err *err)
    MLY_WARN_UNUSED;

/* Text seq_write adds to each sequence after its own properties: fn
 * appends to t `,"name":value` members for the GeoJSON formats, `,cell`
 * fields for CSV (csv true), whose header must then name those columns
 * (outfile_open_as with OUTFILE_REVIEW_SEQUENCES). NULL fn: nothing added
 * (the default). */
typedef enum mly_rc (*seq_extra_fn)(void *user, const struct seq_point *v, size_t n, bool csv,
                                    struct dbuf *t);
void seq_set_extra(struct seq_builder *b, seq_extra_fn fn, void *user);

#endif
