/* tempfile.c -- anonymous temporary files in $TMPDIR (else /tmp) */
#include "mly/tempfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *tempfile_dir(void)
{
  const char *t = getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

/* A named file unlinked at once, for a file system without O_TMPFILE;
 * -1 with errno set */
static int named_unlinked(const char *dir)
{
  size_t n = strlen(dir) + sizeof("/mly-tmp-XXXXXX");
  char *path = malloc(n);
  if(!path) {
    errno = ENOMEM;
    return -1;
  }
  snprintf(path, n, "%s/mly-tmp-XXXXXX", dir);
  int fd = mkostemp(path, O_CLOEXEC);
  if(fd >= 0)
    unlink(path);
  int e = errno;
  free(path);
  errno = e;
  return fd;
}

enum mly_rc tempfile_open(const char *what, int *fd, struct mly_err *err)
{
  const char *dir = tempfile_dir();
  *fd = -1;
#ifdef O_TMPFILE
  *fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  /* EISDIR, EOPNOTSUPP or EINVAL: the kernel or file system has no
   * O_TMPFILE; any other failure is the folder's own */
  if(*fd < 0 && (errno == EISDIR || errno == EOPNOTSUPP || errno == EINVAL))
#endif
    *fd = named_unlinked(dir);
  if(*fd < 0)
    return mly_err_set(err, MLY_EIO, "cannot create a temporary file for %s in '%s': %s", what,
                       dir, strerror(errno));
  return MLY_OK;
}

enum mly_rc tempfile_fopen(const char *what, FILE **fp, struct mly_err *err)
{
  int fd;
  enum mly_rc rc = tempfile_open(what, &fd, err);
  if(rc)
    return rc;
  if(!(*fp = fdopen(fd, "w+"))) {
    int e = errno;
    close(fd);
    return mly_err_set(err, MLY_EIO, "cannot open a temporary file for %s in '%s': %s", what,
                       tempfile_dir(), strerror(e));
  }
  return MLY_OK;
}
