/* paths.h -- paths compared as files: may this output overwrite an input or
 * another output of the same run?
 *
 * Two paths name the same file when they reach the same device and inode
 * (symlinks followed, hard links are one file, "./a" is "a"). A path that is
 * not there yet is compared by where it would be created: its folder,
 * resolved as far as it exists (symlinks followed), plus the rest of the path
 * with "." and ".." applied. "-" is standard input for a file read and
 * standard output for a file written; when the shell made that stream a
 * regular file (`< f`, `>> f`), "-" is that file and compares as it does
 * (a pipe, terminal or device stays apart from every path).
 *
 * Every command checks all the paths of a run (its outputs, including derived
 * names such as --split_pano's and --field_name's, the files it reads, and
 * files it changes in place such as the tile cache) in one call, before it
 * writes or fetches anything. */
#ifndef MLY_PATHS_H
#define MLY_PATHS_H

#include "mly/common.h"

/* One path of a run */
struct paths_use {
  const char *path;   /* as given */
  const char *option; /* how the user gave it, for messages: "--output_file_point" */
  bool written;       /* an output, or a file changed in place (the cache) */
};

/* MLY_EINVAL with a message naming both when a written path is the same
 * file as any other path of uses (written or only read); two reads of one
 * file are fine. One character device (such as /dev/null) may take several
 * outputs: writing through it overwrites nothing. MLY_ENOMEM when out of
 * memory. */
enum mly_rc paths_check_distinct(const struct paths_use *uses, size_t n, struct mly_err *err)
    MLY_WARN_UNUSED;

/* true when a and b (both read, or both written: "-" compares equal to
 * "-") name the same file in the sense above */
bool paths_same_file(const char *a, const char *b);

#endif
