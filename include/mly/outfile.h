/* outfile.h -- an output file that appears only complete: written under a
 * temporary name in the target folder, renamed into place by publish
 *
 * Formats, chosen by the output path's extension (case-insensitive):
 *
 *   OUTFMT_GEOJSON     .geojson, .json, any other or no extension, and "-":
 *                      an RFC 7946 FeatureCollection, one Feature per line:
 *                        {"type":"FeatureCollection","features":[\n
 *                        F1,\n F2\n ]}\n            (no features: "[\n]}\n")
 *   OUTFMT_GEOJSONL    .geojsonl, .ndjson, .jsonl: newline-delimited GeoJSON,
 *                      one Feature object per line ("F\n"), no wrapper, no
 *                      RS byte (what GDAL's GeoJSONSeq driver, jq and most
 *                      NDJSON readers take). No features: an empty file.
 *   OUTFMT_GEOJSONSEQ  .geojsons: RFC 8142 GeoJSON text sequence, exactly:
 *                      each record is RS (0x1E), the Feature, LF.
 *                      No features: an empty file.
 *   OUTFMT_CSV         .csv: RFC 4180 CSV, UTF-8, a header line, CRLF line
 *                      ends, one record per Feature. Columns: see
 *                      OUTFILE_CSV_POINTS_HEADER / OUTFILE_CSV_SEQUENCES_HEADER;
 *                      the record text comes from image_write_csv and
 *                      seq_write. No features: the header alone.
 *                      OUTFILE_FEATURES (the workflow commands): the record
 *                      text, and the header before the first record, come
 *                      from feature_write (featwrite.h); no features: an
 *                      empty file.
 *
 * Feature (record) text handed to outfile_feature never holds the separator:
 * the outfile adds the one its format needs. The Feature text of the three
 * GeoJSON formats is the same (image_write_geojson), so a caller only asks
 * whether the format is CSV.
 *
 * Standard output: the path "-" writes a GeoJSON FeatureCollection to
 * standard output. It too must appear only complete, so it is written to a
 * temporary file in $TMPDIR (else /tmp), unlinked at once (nothing is left
 * behind by a killed run), and copied to standard output by publish. */
#ifndef MLY_OUTFILE_H
#define MLY_OUTFILE_H

#include <pthread.h>
#include <stdio.h>
#include "mly/common.h"
#include "mly/dbuf.h"

/* Temporary files are named ".<basename>.mly-tmp-XXXXXX" next to the target,
 * so one left by a killed run is recognisable and never taken for output. */
#define OUTFILE_TMP_TAG ".mly-tmp-"

/* Start the disk writing of an output's data every this many bytes, and
 * drop the step before from the page cache (sync_file_range and
 * posix_fadvise on Linux; fsync at close still decides) */
#define OUTFILE_WRITEBACK_STEP (1u << 20)

/* The path naming standard output */
#define OUTFILE_STDOUT "-"

enum outfmt {
  OUTFMT_GEOJSON = 0, /* FeatureCollection: the default */
  OUTFMT_GEOJSONL,    /* one Feature per line */
  OUTFMT_GEOJSONSEQ,  /* RFC 8142: RS, Feature, LF */
  OUTFMT_CSV          /* RFC 4180 with a header */
};

/* What the file holds: only CSV's header depends on it */
enum outfile_kind {
  OUTFILE_POINTS = 0,
  OUTFILE_SEQUENCES,
  OUTFILE_FEATURES  /* a workflow command's features: the CSV columns follow the
                     * first feature (featwrite.h), which writes the header */
};

/* CSV header lines (without the CRLF). Unknown values are empty cells;
 * numbers are written as in GeoJSON (jsonw); is_pano is true or false.
 * Points: properties is the JSON object text of the image's pass-through
 * properties (those other than the named columns), empty when it has none.
 * Sequences: images_id as in GeoJSON; wkt is the line as WKT,
 * "LINESTRING (lon lat, lon lat, ...)" with coordinates as in GeoJSON. */
#define OUTFILE_CSV_POINTS_HEADER                                                           \
  "id,lon,lat,sequence_id,captured_at,compass_angle,is_pano,organization_id,properties"
#define OUTFILE_CSV_SEQUENCES_HEADER                                                        \
  "sequence_id,is_pano,organization_id,total_points,captured_at_start,captured_at_end,"     \
  "images_id,wkt"

struct outfile {
  char *iobuf;       /* stdio buffer: 1 MiB, so writes reach the kernel in large calls */
  char *final_path;
  char *tmp_path;    /* NULL for standard output: its temp file is unlinked */
  FILE *fp;
  uint64_t features;
  uint64_t bytes;    /* handed to stdio so far */
  uint64_t wb_start; /* writeback started for [0, wb_start) (page-aligned) */
  uint64_t drop_start; /* written back and dropped from the page cache below this */
  int wb_errno;      /* a writeback wait's failure, which fsync would not report again */
  bool finished;     /* outfile_finish was called */
  int finish_errno;  /* its failure, 0 when it succeeded */
  /* The fsync that outfile_finish starts in a helper thread, waited for
   * (and its result reported) by outfile_close */
  bool syncing;
  pthread_t syncer;
  int sync_fd;
  int sync_errno;    /* the thread's fsync failure, 0 when it succeeded */
  bool closed;
  enum outfmt fmt;
  enum outfile_kind kind;
  bool to_stdout;    /* path "-" */
  /* The file publish replaced, when it was large: held open across the
   * rename (which is then quick) and closed by a helper thread, so that
   * the file system frees its blocks beside the rest of the run's end
   * rather than within it. outfile_abort waits for the thread. */
  bool releasing;
  pthread_t releaser;
};

/* A replaced output at least this large is let go by a helper thread */
#define OUTFILE_RELEASE_MIN (1u << 20)

/* The format of path by its extension (see above). Never fails: an unknown
 * extension, no extension and "-" are OUTFMT_GEOJSON. */
enum outfmt outfile_format_for(const char *path);

/* Length of the extension of path's file name (".geojson", ".csv", ...)
 * when it is one this module knows (including .json), else 0. For
 * derived names such as --split_pano's "<stem>__pano<ext>", which must keep
 * the format: stem = path minus this many bytes. */
size_t outfile_ext_len(const char *path);

/* The usual extension of a format, with its dot: ".geojson", ".geojsonl",
 * ".geojsons", ".csv". */
const char *outfile_format_ext(enum outfmt fmt);

/* A short name of a format for messages: "GeoJSON", "GeoJSONL",
 * "GeoJSON text sequence", "CSV". */
const char *outfile_format_name(enum outfmt fmt);

/* Create the parent folders of path (like mkdir -p) and check that a file
 * can be created there, without creating anything at path itself.
 * MLY_EIO with a message naming the folder on failure. For "-", checks
 * that the temporary folder is writable instead. */
enum mly_rc outfile_prepare_dir(const char *path, struct mly_err *err) MLY_WARN_UNUSED;

/* Start an output of the given kind in a temporary file beside path (or in
 * the temporary folder for "-"), in the format outfile_format_for(path),
 * and write its header. On failure nothing is left behind and o is safe to
 * abort. */
enum mly_rc outfile_open_as(struct outfile *o, const char *path, enum outfile_kind kind,
                            struct mly_err *err) MLY_WARN_UNUSED;
/* outfile_open_as(o, path, OUTFILE_POINTS, err): points, or a GeoJSON-like
 * sequences file (whose header does not depend on the kind) */
enum mly_rc outfile_open(struct outfile *o, const char *path, struct mly_err *err) MLY_WARN_UNUSED;
/* Append one Feature's (CSV: one record's) text, without separator */
enum mly_rc outfile_feature(struct outfile *o, const char *text, size_t n, struct mly_err *err)
    MLY_WARN_UNUSED;
/* Write the footer, hand everything to the kernel and start the fsync in
 * a helper thread, without waiting for it (no more features may follow).
 * Optional: close does it when it was not done. Finishing a file as soon
 * as it is complete and closing it later lets its fsync run while the
 * caller writes other files; close waits for it and reports its failure,
 * so nothing is published before it is on disk. While features are
 * appended, writeback of the data already handed to the kernel is started
 * every OUTFILE_WRITEBACK_STEP bytes, so that the fsync has little left to
 * write; a step later that range is waited for (on disk by then unless the
 * disk is slower than the run) and dropped from the page cache, so a large
 * output streams through a few megabytes of it instead of filling memory
 * (the file is read from disk afterwards). Standard output's temp file is
 * only flushed. */
enum mly_rc outfile_finish(struct outfile *o, struct mly_err *err) MLY_WARN_UNUSED;
/* Finish the file (footer) if outfile_finish was not called, and flush it
 * to disk (fsync, or wait for the one finish started; still under the
 * temp name) */
enum mly_rc outfile_close(struct outfile *o, struct mly_err *err) MLY_WARN_UNUSED;
/* Rename the closed temp file onto the final path; for "-", copy it to
 * standard output (after flushing stdio's stdout) and drop it. The file
 * replaced, if any, is gone from the path when this returns; when it was
 * large its space is freed by a helper thread (see `releasing`). */
enum mly_rc outfile_publish(struct outfile *o, struct mly_err *err) MLY_WARN_UNUSED;
/* Close and remove the temp file; free names; wait for the helper threads
 * (a finished file's fsync, the release of a replaced file). Safe on a
 * zeroed struct and after publish (then it only frees and waits). */
void outfile_abort(struct outfile *o);

/* Append s (n bytes) as one RFC 4180 CSV field: enclosed in double quotes,
 * with inner quotes doubled, when it holds a comma, a double quote, CR or
 * LF; as is otherwise. Invalid UTF-8 bytes and NUL become U+FFFD, as
 * jsonw_string does, so a CSV file is always valid UTF-8 text. */
enum mly_rc outfile_csv_field(struct dbuf *b, const char *s, size_t n) MLY_WARN_UNUSED;

/* Enclose b's bytes from `start` to its end in double quotes, doubling the
 * quotes among them, in place (no copy of the text is allocated): for a
 * field written first as text, such as a JSON object or WKT. */
enum mly_rc outfile_csv_quote_from(struct dbuf *b, size_t start) MLY_WARN_UNUSED;

#endif
