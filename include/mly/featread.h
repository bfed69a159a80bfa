/* featread.h -- the features of a workflow command's input, one at a time
 *
 * Every workflow command (download_mapillary_imgs, simplify_points,
 * create_custom_sequences, merge_sequences, simplify_sequence,
 * match_point_sequences, review) reads its inputs through this one reader,
 * so a format added here is read by all of them.
 *
 * Formats, by the path's extension (case-insensitive), mirroring outfile.h:
 *   .geojson, .json, any other or no extension, and "-" (standard input):
 *       a FeatureCollection (streamed: the "features" array is cut into one
 *       Feature text at a time, so memory follows the largest feature, not
 *       the file), a single Feature, or a bare geometry (one feature with
 *       no properties)
 *   .geojsonl, .ndjson, .jsonl: one Feature per line (blank lines skipped)
 *   .geojsons: RFC 8142 text sequence (RS before each Feature)
 *   .csv: get_mapillary_points' points columns (id, lon, lat, ...; the
 *       `properties` column's JSON object merged in) or sequences columns
 *       (a `wkt` column); other CSV with lon/lat or wkt columns: every
 *       other column a string property
 *   .gpkg, .fgb: through GDAL, loaded only when such a file is read
 *
 * A feature is handed out as jansson values: its properties object and its
 * GeoJSON geometry object, the same whatever the format, so commands never
 * look at the format. Numbers keep their JSON type (an integer stays an
 * integer); ids written as strings stay strings. */
#ifndef MLY_FEATREAD_H
#define MLY_FEATREAD_H

#include <jansson.h>
#include <stdio.h>
#include "mly/common.h"

/* Largest single feature text accepted (a sequence line of many vertices
 * fits many times over); a larger one is MLY_ETOOBIG naming the feature. */
#define FEATREAD_FEATURE_MAX (64u * 1024 * 1024)

struct feature {
  json_t *properties; /* an object, never NULL (empty when the feature has none) */
  json_t *geometry;   /* the geometry object, or NULL for a null geometry */
  uint64_t index;     /* 0-based position of the feature in the input */
};

struct featread;

/* Open path ("-" is standard input) for reading. MLY_EIO when it cannot be
 * opened (message names the path), MLY_EFORMAT when its start is not of
 * its format. *out (OUT) is freed with featread_close. */
enum mly_rc featread_open(const char *path, struct featread **out, struct mly_err *err)
    MLY_WARN_UNUSED;

/* The next feature into *f, borrowed: its values stay valid until the next
 * call or featread_close (json_incref what must outlive that). *got (OUT)
 * is false at the end of the input. MLY_EFORMAT with a message naming the
 * path and the feature (index, or line for line formats) when the input is
 * broken there; MLY_ETOOBIG above FEATREAD_FEATURE_MAX; MLY_EIO on a read
 * error. After an error no further feature is handed out. */
enum mly_rc featread_next(struct featread *r, struct feature *f, bool *got, struct mly_err *err)
    MLY_WARN_UNUSED;

/* Close and free; *r is cleared. NULL and *r == NULL are no-ops. */
void featread_close(struct featread **r);

/* A name of the input's format for messages: "GeoJSON", "CSV", ... */
const char *featread_format_name(const struct featread *r);

/* Read from an open stream (tests, fuzzing): the format by name's
 * extension, name in messages. fp stays the caller's (not closed). */
enum mly_rc featread_open_stream(FILE *fp, const char *name, struct featread **out,
                                 struct mly_err *err) MLY_WARN_UNUSED;

/* Read back an output that is closed but not published yet (outfile.h),
 * in its format: its temporary file (a written-through output's spool is
 * read from its start), named in messages by its final path. So a run can
 * derive a second output from a first and publish both together. The
 * output stays the caller's and must not be published or aborted before
 * featread_close. MLY_EINVAL for a PostGIS table or a raw output. */
struct outfile;
enum mly_rc featread_open_outfile(struct outfile *o, struct featread **out, struct mly_err *err)
    MLY_WARN_UNUSED;

/* A GeoJSON position's longitude and latitude: true when pos is an array
 * of at least two numbers within [-180, 180] and [-90, 90] */
bool feature_position(const json_t *pos, double *lon, double *lat);

/* The position of a Point feature: true when f's geometry is a Point with
 * a valid position (feature_position) */
bool feature_point(const struct feature *f, double *lon, double *lat);

/* How the CSV reader takes a column of this name (any case; the table in
 * featread_csv.c's head comment). featwrite's CSV writer asks it too, so
 * it never writes a property in a column that would not read it back. */
enum featread_col {
  FEATREAD_COL_STRING = 0, /* anything else, and the id columns: a string */
  FEATREAD_COL_INT,        /* captured_at, ...: a whole number */
  FEATREAD_COL_NUMBER,     /* compass_angle */
  FEATREAD_COL_BOOL,       /* is_pano */
  FEATREAD_COL_PROPS,      /* properties: a JSON object merged in */
  FEATREAD_COL_LON,        /* lon, longitude, lng */
  FEATREAD_COL_LAT,        /* lat, latitude */
  FEATREAD_COL_WKT         /* wkt */
};
enum featread_col featread_csv_column(const char *name);

/* ---- writing a feature back ------------------------------------------------
 * feature_write_geojson, feature_write (GeoJSON or CSV records for outfile.h)
 * and the CSV layout rules: see featwrite.h. */
#include "mly/featwrite.h"

#endif
