/* review_html.h -- the review page: one self-contained HTML file to keep or
 * drop sequences by their review images
 *
 * geokit sends people to an external web app or a JOSM plugin to drop the
 * sequences that only look down the road. This writes one page instead:
 * its data, script and style inline (the template src/lib/review_page.html,
 * built into the binary), nothing fetched but the thumbnails themselves.
 * It shows each sequence's review images (properties `custom_url` and
 * `custom_urls`, comma-separated, as create_custom_sequences writes them),
 * its id, point count, length and dates, and a drawing of the lines; keys
 * keep or drop a sequence; "Save kept sequences" downloads the features as
 * they were given, as a GeoJSON FeatureCollection for merge_sequences.
 *
 * The sequences go into the page as JSON inside a <script> element, escaped
 * so that no text of theirs can end it (review_html_escape_json). Decisions
 * live in the browser's local storage under a key written into the page: a
 * hash of the sequences' ids and geometries, not of their image links, so a
 * page written again with fresh links (they expire) finds its decisions.
 *
 * The page streams to its output (outfile.h: complete or absent): memory
 * does not grow with the number of sequences. */
#ifndef MLY_REVIEW_HTML_H
#define MLY_REVIEW_HTML_H

#include <jansson.h>
#include "mly/common.h"
#include "mly/dbuf.h"

/* Largest page written: a browser would not handle more; a larger one is
 * MLY_ETOOBIG ("review a smaller area") */
#define REVIEW_HTML_MAX_BYTES (512u * 1024 * 1024)

struct review_html;

/* Start the page for path ("-": standard output) under a temporary name
 * (outfile.h). source, when not NULL, is the name the page shows as where
 * the sequences came from (its base name is used, also for the names of
 * the saved files: "<base>_kept.geojson"). MLY_EIO when the folder cannot
 * be written (message names it). *out (OUT) is freed with review_html_free. */
enum mly_rc review_html_open(struct review_html **out, const char *path, const char *source,
                             struct mly_err *err) MLY_WARN_UNUSED;

/* Append one sequence feature: its properties object and geometry (NULL
 * for a null geometry), as featread hands them out; both are only read. */
enum mly_rc review_html_add(struct review_html *r, const json_t *properties,
                            const json_t *geometry, struct mly_err *err) MLY_WARN_UNUSED;

/* Sequences added so far */
uint64_t review_html_count(const struct review_html *r);

/* Write the rest of the page and flush it to disk, still under its
 * temporary name (outfile_close); no more sequences may follow. */
enum mly_rc review_html_close(struct review_html *r, struct mly_err *err) MLY_WARN_UNUSED;

/* Rename the closed page onto its path (outfile_publish) */
enum mly_rc review_html_publish(struct review_html *r, struct mly_err *err) MLY_WARN_UNUSED;

/* The page's output, once review_html_close has closed it: for
 * outfile_publish_all, to publish the page together with other outputs
 * (instead of review_html_publish) */
struct outfile *review_html_outfile(struct review_html *r);

/* Free; a page not published is removed (nothing is left at its path).
 * *r is cleared; NULL and *r == NULL are no-ops. */
void review_html_free(struct review_html **r);

/* Append json (n bytes of JSON text) to b so that it can sit inside an
 * HTML <script> element and still parse to the same value: '<', '>' and
 * '&' become \u003c, \u003e, \u0026 and the line and paragraph
 * separators U+2028 and U+2029 become \u2028 and \u2029, so no "</script",
 * "<!--" or raw separator is left. In valid JSON these characters occur
 * only inside strings, where the escapes mean the same. Other bytes are
 * copied as they are. */
enum mly_rc review_html_escape_json(struct dbuf *b, const char *json, size_t n) MLY_WARN_UNUSED;

#endif
