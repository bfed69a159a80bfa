/* custseq.h -- create_custom_sequences: sequences from a points file, with
 * review images
 *
 * Points go in one at a time (as featread hands them); the sequences are
 * those get_mapillary_points writes for the same points (seq.c: the same
 * vertex order, properties and bytes), each with two more properties:
 *   custom_url   the thumbnail URL of one review image ("" when none is had)
 *   custom_urls  up to four more, comma-separated ("" when none)
 * The review images are up to 5 of the sequence's images with a numeric
 * id, spread evenly along it: with m such images, those at indexes
 * round(k (m - 1) / 4), k = 0..4 (all of them when m <= 5). custom_url is
 * the first of them whose URL was found, custom_urls the others found, in
 * sequence order. (geokit picked at random; these are the same every run.)
 *
 * The URLs are asked for by the caller between custseq_pick and
 * custseq_write (create_custom_sequences does it through imgurl.h), so this module
 * is tested without a network. */
#ifndef MLY_CUSTSEQ_H
#define MLY_CUSTSEQ_H

#include "mly/common.h"
#include "mly/outfile.h"

struct feature;

/* Review images per sequence */
#define CUSTSEQ_PICKS 5

struct custseq_stats {
  uint64_t read;          /* features handed to custseq_add */
  uint64_t not_point;     /* skipped: not a Point */
  uint64_t no_sequence;   /* skipped: no sequence_id */
  uint64_t sequences;     /* sequences of two or more images (after pick) */
  uint64_t ids;           /* distinct review images to look up (after pick) */
  uint64_t urls;          /* of those, with a URL (custseq_set_url) */
  uint64_t with_review;   /* sequences written with a custom_url */
};

struct custseq;

/* max_points: points kept in memory before sorted runs go to temporary
 * files (seq_set_memory_limit; 0 keeps all in memory). NULL on ENOMEM. */
struct custseq *custseq_new(size_t max_points);
void custseq_free(struct custseq **c);

/* Keep one point feature (seqfeat.h); what is not a Point or has no
 * sequence_id is counted and skipped. Errors as seqfeat_point, or
 * seq_add's (MLY_EIO for a temporary file). */
enum mly_rc custseq_add(struct custseq *c, const struct feature *f, struct mly_err *err)
    MLY_WARN_UNUSED;

/* Choose every sequence's review images: *ids (OUT, borrowed until
 * custseq_free) the distinct ids to look up, ascending, *n (OUT) of them.
 * Once, after the last custseq_add. */
enum mly_rc custseq_pick(struct custseq *c, const uint64_t **ids, size_t *n,
                         struct mly_err *err) MLY_WARN_UNUSED;

/* The thumbnail URL of ids[i] (copied; a later call for the same i
 * replaces it). MLY_EINVAL when i is out of range; MLY_EIO when the URL
 * text cannot go to its temporary file (see custseq_set_url_memory). */
enum mly_rc custseq_set_url(struct custseq *c, size_t i, const char *url, struct mly_err *err)
    MLY_WARN_UNUSED;

/* The URLs' text is kept in memory up to this many bytes (default
 * CUSTSEQ_URL_MEMORY); beyond, it goes to a temporary file
 * (tempfile.h) and is read back by custseq_write, so memory holds 24 bytes per
 * review image, not its URL (some 300 bytes each for Mapillary's links). */
#define CUSTSEQ_URL_MEMORY ((size_t)1 << 20)
void custseq_set_url_memory(struct custseq *c, size_t bytes);

/* Write the sequences to out (GeoJSON formats, or CSV opened with
 * OUTFILE_REVIEW_SEQUENCES); *nseq (OUT) how many. As seq_write. */
enum mly_rc custseq_write(struct custseq *c, struct outfile *out, size_t *nseq,
                          struct mly_err *err) MLY_WARN_UNUSED;

void custseq_get_stats(const struct custseq *c, struct custseq_stats *out);

#endif
