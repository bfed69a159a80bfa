/* featwrite.h -- the text of a feature (jansson values) for an outfile
 *
 * The workflow commands write what they read (featread.h) or build, as
 * jansson values, through these writers into outfile.h's files (opened with
 * the kind OUTFILE_FEATURES), in any of its formats:
 *
 * GeoJSON formats: {"type":"Feature","geometry":{...},"properties":{...}}
 *   as get_mapillary_points writes it: properties in their order, numbers
 *   through jsonw (integers exact, reals in the shortest form that parses
 *   back to the same double), coordinates as jsonw_coord writes them (at
 *   least 7 decimals), so a point or sequence passed through is written
 *   byte for byte as get_mapillary_points wrote it.
 *
 * CSV: the columns are fixed by the first feature written (the header is
 *   written with it; no features: an empty file):
 *   - points layout, when that feature is a Point with an "id" property:
 *     OUTFILE_CSV_POINTS_HEADER exactly as get_mapillary_points writes it
 *     (lon, lat from the Point; every other property in the `properties`
 *     JSON cell); every feature must then be a Point (or null geometry);
 *   - otherwise: the first feature's property names, then `properties` (the
 *     JSON object of any other property a later feature has; empty when
 *     none), then `wkt` (the geometry as WKT, coordinates as in GeoJSON;
 *     empty for a null geometry). A name the reader takes its own way
 *     (featread_csv_column: wkt, properties, lon/lat and their other
 *     spellings, any case), an empty name, or one starting with a byte
 *     order mark gets no column: so no header names a column twice.
 *   A cell holds a string as is, a number as in GeoJSON, true/false, JSON
 *   text for an object or array. A property with no column, or whose value
 *   its column would not read back (null, "", a captured_at that is not an
 *   integer, ...), goes in the `properties` cell, its column's cell empty.
 *   featread reads every such file back to the same features (strings stay
 *   strings; a number in a plain string column comes back as a string). */
#ifndef MLY_FEATWRITE_H
#define MLY_FEATWRITE_H

#include <jansson.h>
#include "mly/dbuf.h"
#include "mly/outfile.h"

/* Append one GeoJSON Feature (geometry NULL or JSON null: "geometry":null) */
enum mly_rc feature_write_geojson(struct dbuf *b, const json_t *properties, const json_t *geometry)
    MLY_WARN_UNUSED;

/* Append a geometry object as GeoJSON, coordinates as jsonw_coord writes them */
enum mly_rc feature_write_geometry(struct dbuf *b, const json_t *geometry) MLY_WARN_UNUSED;

/* The CSV columns of one output, fixed by its first feature */
struct featcsv {
  bool started;
  bool points;   /* the points layout */
  char **cols;   /* the generic layout's property columns */
  size_t ncols;
};

void featcsv_cleanup(struct featcsv *c);

/* Append one feature's record for an outfile of format fmt: the GeoJSON
 * text, or the CSV record (with the header line before the first one).
 * MLY_EINVAL (message naming the feature) for a feature the points layout
 * cannot hold. */
enum mly_rc feature_write(struct dbuf *b, enum outfmt fmt, struct featcsv *c,
                          const json_t *properties, const json_t *geometry, struct mly_err *err)
    MLY_WARN_UNUSED;

/* Append a geometry as WKT ("POINT (lon lat)", "LINESTRING (...)", ...) */
enum mly_rc feature_write_wkt(struct dbuf *b, const json_t *geometry) MLY_WARN_UNUSED;

#endif
