/* outfile.h -- an output file that appears only complete: written under a
 * temporary name in the target folder, renamed into place by publish */
#ifndef MLY_OUTFILE_H
#define MLY_OUTFILE_H

#include <stdio.h>
#include "mly/common.h"

/* Temporary files are named ".<basename>.mly-tmp-XXXXXX" next to the target,
 * so one left by a killed run is recognisable and never taken for output. */
#define OUTFILE_TMP_TAG ".mly-tmp-"

struct outfile {
  char *final_path;
  char *tmp_path;
  FILE *fp;
  uint64_t features;
  bool closed;
};

/* Create the parent folders of path (like mkdir -p) and check that a file
 * can be created there, without creating anything at path itself.
 * MLY_EIO with a message naming the folder on failure. */
enum mly_rc outfile_prepare_dir(const char *path, struct mly_err *err) MLY_WARN_UNUSED;

/* Start a GeoJSON FeatureCollection in a temporary file beside path. */
enum mly_rc outfile_open(struct outfile *o, const char *path, struct mly_err *err) MLY_WARN_UNUSED;
/* Append one Feature's text */
enum mly_rc outfile_feature(struct outfile *o, const char *text, size_t n, struct mly_err *err)
    MLY_WARN_UNUSED;
/* Finish the collection and flush it to disk (still under the temp name) */
enum mly_rc outfile_close(struct outfile *o, struct mly_err *err) MLY_WARN_UNUSED;
/* Rename the closed temp file onto the final path */
enum mly_rc outfile_publish(struct outfile *o, struct mly_err *err) MLY_WARN_UNUSED;
/* Close and remove the temp file; free names. Safe on a zeroed struct and
 * after publish (then it only frees). */
void outfile_abort(struct outfile *o);

#endif
