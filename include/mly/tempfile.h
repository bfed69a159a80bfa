/* tempfile.h -- anonymous temporary files in $TMPDIR
 *
 * Every scratch file of a run (standard input's spool, merge_sequences'
 * parked parts, seq.c's sorted runs, standard output's and a PostGIS
 * load's spool) is made here, so they all go to one place: $TMPDIR when it
 * is set and not empty, as mkstemp users are expected to honour, else /tmp.
 * A file has no name (O_TMPFILE; where the file system lacks it, a
 * mkostemp name unlinked at once): it lives as long as its descriptor, so
 * a crash or a kill leaves nothing behind. Outputs are not made here: they
 * are temporary files beside their target (outfile.h). */
#ifndef MLY_TEMPFILE_H
#define MLY_TEMPFILE_H

#include <stdio.h>
#include "mly/common.h"

/* The folder: $TMPDIR when set and not empty, else "/tmp" */
const char *tempfile_dir(void);

/* A new empty file in tempfile_dir(), read-write, mode 0600, close-on-exec,
 * into *fd (OUT). `what` names its use in the message: MLY_EIO
 * "cannot create a temporary file for <what> in '<dir>': <reason>". */
enum mly_rc tempfile_open(const char *what, int *fd, struct mly_err *err) MLY_WARN_UNUSED;

/* The same as a stdio stream ("w+"), into *fp (OUT) */
enum mly_rc tempfile_fopen(const char *what, FILE **fp, struct mly_err *err) MLY_WARN_UNUSED;

#endif
