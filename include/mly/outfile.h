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
 *   OUTFMT_GPKG        .gpkg: GeoPackage, one layer named after the file
 *   OUTFMT_FGB         .fgb: FlatGeobuf
 *   OUTFMT_PG          a path starting "PG:": the rest is a libpq connection
 *                      string (GDAL's convention); the features go to a
 *                      PostGIS table (outfile_open_table), which appears
 *                      only complete: loaded as a new table in one
 *                      transaction that publish commits after dropping the
 *                      old table and renaming the new one in its place.
 *                      The three are written by the module gdalmod.h
 *                      loads on demand (GDAL; PostGIS through libpq):
 *                      their Feature text is the GeoJSON one, spooled as
 *                      GeoJSONL and converted at
 *                      close with typed fields (strings, 64-bit integers,
 *                      reals, booleans) and a spatial index.
 *
 * Feature (record) text handed to outfile_feature never holds the separator:
 * the outfile adds the one its format needs. The Feature text of the three
 * GeoJSON formats is the same (image_write_geojson), so a caller only asks
 * whether the format is CSV.
 *
 * Standard output: the path "-" writes a GeoJSON FeatureCollection to
 * standard output. It too must appear only complete, so it is written to a
 * temporary file in $TMPDIR (else /tmp), unlinked at once (nothing is left
 * behind by a killed run), and copied to standard output by publish.
 *
 * Only regular files are ever replaced. An output path that is a character
 * device, a FIFO or a socket (`/dev/null`) is written through like standard
 * output: the data go to an unlinked temporary file and are copied to it by
 * publish (opened for writing then; a FIFO waits for its reader, a socket is
 * connected to as a Unix stream socket). A block device is refused. A
 * symlink is followed: the output replaces (or is written through) its
 * target, and the link stays; a symlink whose target cannot be resolved is
 * refused.
 *
 * Replacing: everything known to stop the final rename is checked when the
 * file is opened, before a run makes its first request (a directory at the
 * path, a folder in the way, a folder we cannot write in, a file that is
 * immutable or append-only, a mount point, a file of another user in a
 * sticky folder), and again by publish before anything is renamed.
 * outfile_publish_all publishes several files together: each temp file is
 * swapped with the file it replaces (renameat2 RENAME_EXCHANGE), so that
 * should one of them fail, the ones before are swapped back and every
 * output path is left as it was; only when all are in place are the
 * replaced files removed. (On a file system without RENAME_EXCHANGE the
 * old file first gets a second name, a hard link beside it named like our
 * temp files, and is renamed back from it; only where hard links fail too
 * is a plain rename used, which cannot be undone.)
 *
 * Temp files of killed runs: each temp file holds an flock for as long as
 * its run may need it. Opening an output removes, in its folder, every file
 * named like our temp files (".<name>.mly-tmp-XXXXXX") that no live
 * process holds locked, and nothing else: two live runs may share a folder.
 *
 * Folders: those an open created (missing parents of the path) are removed
 * again by abort when they are empty, so a failed run leaves no new
 * folder; abort files in the reverse order of their opening. */
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
  OUTFMT_CSV,         /* RFC 4180 with a header */
  OUTFMT_RAW,         /* the caller's bytes as given (outfile_open_raw only) */
  OUTFMT_GPKG,        /* GeoPackage, through GDAL */
  OUTFMT_FGB,         /* FlatGeobuf, through GDAL */
  OUTFMT_PG           /* a PostGIS table, through GDAL */
};

/* The path prefix of a PostGIS destination, and the default tables */
#define OUTFILE_PG_PREFIX "PG:"
#define OUTFILE_PG_POINTS_TABLE "mapillary_points"
#define OUTFILE_PG_SEQUENCES_TABLE "mapillary_sequences"
/* Longest table name: the load's table adds a suffix within PostgreSQL's 63 */
#define OUTFILE_PG_TABLE_MAX 40

/* What the file holds: only CSV's header depends on it */
enum outfile_kind {
  OUTFILE_POINTS = 0,
  OUTFILE_SEQUENCES,
  OUTFILE_FEATURES, /* a workflow command's features: the CSV columns follow the
                     * first feature (featwrite.h), which writes the header */
  OUTFILE_REVIEW_SEQUENCES /* sequences with create_custom_sequences' review images */
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
/* Sequences with their review images (create_custom_sequences) */
#define OUTFILE_CSV_REVIEW_SEQUENCES_HEADER OUTFILE_CSV_SEQUENCES_HEADER ",custom_url,custom_urls"

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
  /* Written through at publish (standard output, a character device, a
   * FIFO or a socket): the temp file is unlinked and kept open in fp */
  bool copied;
  /* lock_fd shares the temp file's open file description and so its
   * flock, which tells other runs that the file is ours while we live */
  bool locked;
  int lock_fd;
  /* Folders open created, outermost first: abort removes them (if empty) */
  char **made_dirs;
  size_t nmade;
  /* Publishing: how the temp file was put in place (see publish_all), and
   * the file it replaced, held open (old_fd valid when has_old) */
  int placed;
  bool has_old;
  int old_fd;
  char *bak_path; /* without RENAME_EXCHANGE: the replaced file's second name */
  /* GDAL formats (outfile_gdal.c): the features are spooled as GeoJSONL
   * to fp (tmp_path; PostGIS: unlinked in the temporary folder) and
   * converted at close */
  bool spooled;
  char *table;            /* PostGIS: the table */
  struct gdalmod_pg *pg;  /* PostGIS: the load that publish commits */
};

/* For tests: publish as on a file system without RENAME_EXCHANGE (the old
 * file is kept under a second name, a hard link, to be renamed back) */
extern bool outfile_no_exchange;

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

/* Check, creating nothing, that the parent folders of path could be made
 * now (like mkdir -p: the nearest one there is a writable folder), that a
 * file can be created in the parent when it is there, and that the file at
 * path (a symlink's target) can be replaced or written through (see
 * "Replacing" above). The folders are made by outfile_open_as, and removed
 * again by outfile_abort when they stay empty, so a run that fails leaves
 * no folder behind. MLY_EIO with a message naming the folder or file on
 * failure. For "-" and for a path written through, checks that the
 * temporary folder is writable instead. */
enum mly_rc outfile_prepare_dir(const char *path, struct mly_err *err) MLY_WARN_UNUSED;

/* Folders a run made, outermost first */
struct outfile_folders {
  char **dirs;
  size_t n;
};

/* mkdir -p dir, noting in *made each folder made. MLY_EIO naming dir. */
enum mly_rc outfile_make_folder(const char *dir, struct outfile_folders *made,
                                struct mly_err *err) MLY_WARN_UNUSED;

/* Forget the folders of *made; with remove, first remove those that are
 * empty (innermost first): what a failed run made and left unused. */
void outfile_folders_done(struct outfile_folders *made, bool remove);

/* Start an output of the given kind in a temporary file beside path (or in
 * the temporary folder for "-"), in the format outfile_format_for(path),
 * and write its header. On failure nothing is left behind and o is safe to
 * abort. */
enum mly_rc outfile_open_as(struct outfile *o, const char *path, enum outfile_kind kind,
                            struct mly_err *err) MLY_WARN_UNUSED;
/* outfile_open_as for a path that may be a PostGIS destination: table is
 * its table (NULL: OUTFILE_PG_POINTS_TABLE or OUTFILE_PG_SEQUENCES_TABLE by
 * kind); ignored for files. A GDAL format loads the module here, and a
 * PostGIS destination is connected to once, so that neither fails after
 * the run's first request. */
enum mly_rc outfile_open_table(struct outfile *o, const char *path, const char *table,
                               enum outfile_kind kind, struct mly_err *err) MLY_WARN_UNUSED;
/* true when path names a PostGIS destination ("PG:...") */
bool outfile_is_pg(const char *path);
/* true when name is a table name a PostGIS destination takes: a letter or
 * '_', then letters, digits and '_', at most OUTFILE_PG_TABLE_MAX bytes */
bool outfile_pg_table_ok(const char *name);
/* outfile_open_as(o, path, OUTFILE_POINTS, err): points, or a GeoJSON-like
 * sequences file (whose header does not depend on the kind) */
enum mly_rc outfile_open(struct outfile *o, const char *path, struct mly_err *err) MLY_WARN_UNUSED;
/* Start an output of bytes that are not features (an HTML page): no header,
 * separator or footer, whatever the extension; each outfile_feature call
 * appends its bytes as they are. Complete or absent like any other. */
enum mly_rc outfile_open_raw(struct outfile *o, const char *path, struct mly_err *err)
    MLY_WARN_UNUSED;
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
/* Publish n closed files together (any mix of files, written-through paths
 * and standard output): first every target is checked again, then the
 * regular files are swapped into place, then the written-through ones are
 * copied; if any step fails, the files already swapped are swapped back,
 * so every output path is as it was (only data already copied to a
 * device, FIFO or standard output cannot be taken back; they come last),
 * and MLY_EIO names the file. On success the replaced files are removed. */
enum mly_rc outfile_publish_all(struct outfile *const *files, size_t n, struct mly_err *err)
    MLY_WARN_UNUSED;
/* Close and remove the temp file and the folders its open created (when
 * empty); free names; wait for the helper threads (a finished file's
 * fsync, the release of a replaced file). Safe on a zeroed struct and
 * after publish (then it only frees and waits). */
void outfile_abort(struct outfile *o);
/* outfile_abort of n files, the last first (so that the folders the first
 * created are empty when its turn comes) */
void outfile_abort_all(struct outfile *const *files, size_t n);

/* Remove, in folder dir, the temp files of runs that are gone: names like
 * ".<name>.mly-tmp-XXXXXX" (6 letters or digits) that are regular files no
 * process holds an flock on. Returns how many were removed. Called by
 * outfile_open_as for the target's folder. */
size_t outfile_sweep_stale(const char *dir);

#endif
