/* outfile.c -- complete-or-absent output files (temp file + rename) */
#include "mly/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER "{\"type\":\"FeatureCollection\",\"features\":["
#define FOOTER "\n]}\n"

static char *dir_of(const char *path)
{
  char *copy = strdup(path);
  if(!copy)
    return NULL;
  char *d = strdup(dirname(copy));
  free(copy);
  return d;
}

static char *base_of(const char *path)
{
  char *copy = strdup(path);
  if(!copy)
    return NULL;
  char *b = strdup(basename(copy));
  free(copy);
  return b;
}

/* mkdir -p */
static int make_dirs(const char *dir)
{
  struct stat st;
  if(stat(dir, &st) == 0)
    return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
  char *parent = dir_of(dir);
  if(!parent)
    return ENOMEM;
  int rc = 0;
  if(strcmp(parent, dir) != 0)
    rc = make_dirs(parent);
  free(parent);
  if(rc)
    return rc;
  if(mkdir(dir, 0777) != 0 && errno != EEXIST)
    return errno;
  return 0;
}

enum mly_rc outfile_prepare_dir(const char *path, struct mly_err *err)
{
  struct stat st;
  /* "", "out/" or "out/." name no file: the final rename would fail only
   * after every request was made, so refuse them here */
  const char *slash = strrchr(path, '/');
  const char *name = slash ? slash + 1 : path;
  if(!strcmp(name, "") || !strcmp(name, ".") || !strcmp(name, ".."))
    return mly_err_set(err, MLY_EIO, "output path '%s' has no file name", path);
  if(stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    return mly_err_set(err, MLY_EIO, "output path '%s' is a directory", path);
  char *dir = dir_of(path);
  if(!dir)
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  int e = make_dirs(dir);
  if(e) {
    mly_err_set(err, MLY_EIO, "cannot create output folder '%s': %s", dir, strerror(e));
    free(dir);
    return MLY_EIO;
  }
  /* prove the folder is writable now, before any request is made */
  if(access(dir, W_OK | X_OK) != 0) {
    mly_err_set(err, MLY_EIO, "cannot write in output folder '%s': %s", dir, strerror(errno));
    free(dir);
    return MLY_EIO;
  }
  free(dir);
  return MLY_OK;
}

enum mly_rc outfile_open(struct outfile *o, const char *path, struct mly_err *err)
{
  memset(o, 0, sizeof(*o));
  enum mly_rc rc = outfile_prepare_dir(path, err);
  if(rc)
    return rc;
  char *dir = dir_of(path), *base = base_of(path);
  o->final_path = strdup(path);
  size_t n = (dir ? strlen(dir) : 0) + (base ? strlen(base) : 0) + 32;
  o->tmp_path = malloc(n);
  if(!dir || !base || !o->final_path || !o->tmp_path) {
    free(dir);
    free(base);
    outfile_abort(o);
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  }
  snprintf(o->tmp_path, n, "%s/.%s" OUTFILE_TMP_TAG "XXXXXX", dir, base);
  free(dir);
  free(base);
  int fd = mkstemp(o->tmp_path);
  if(fd < 0) {
    mly_err_set(err, MLY_EIO, "cannot create a file beside '%s': %s", path, strerror(errno));
    free(o->tmp_path);
    o->tmp_path = NULL;
    outfile_abort(o);
    return MLY_EIO;
  }
  /* mkstemp makes 0600; outputs get the usual mode under the umask */
  mode_t mask = umask(0);
  umask(mask);
  if(fchmod(fd, 0666 & ~mask) != 0) {
    /* not fatal: the file is still ours and readable by us */
  }
  o->fp = fdopen(fd, "w");
  if(!o->fp) {
    close(fd);
    outfile_abort(o);
    return mly_err_set(err, MLY_EIO, "cannot open a file beside '%s'", path);
  }
  setvbuf(o->fp, NULL, _IOFBF, 1 << 20);
  if(fputs(HEADER, o->fp) == EOF) {
    outfile_abort(o);
    return mly_err_set(err, MLY_EIO, "cannot write beside '%s'", path);
  }
  return MLY_OK;
}

enum mly_rc outfile_feature(struct outfile *o, const char *text, size_t n, struct mly_err *err)
{
  const char *sep = o->features ? ",\n" : "\n";
  if(fputs(sep, o->fp) == EOF || fwrite(text, 1, n, o->fp) != n)
    return mly_err_set(err, MLY_EIO, "cannot write '%s': %s", o->final_path, strerror(errno));
  o->features++;
  return MLY_OK;
}

enum mly_rc outfile_close(struct outfile *o, struct mly_err *err)
{
  int bad = fputs(FOOTER, o->fp) == EOF;
  bad |= fflush(o->fp) != 0;
  bad |= fsync(fileno(o->fp)) != 0 && errno != EINVAL;
  int e = errno;
  bad |= fclose(o->fp) != 0;
  o->fp = NULL;
  if(bad)
    return mly_err_set(err, MLY_EIO, "cannot write '%s': %s", o->final_path, strerror(e));
  o->closed = true;
  return MLY_OK;
}

enum mly_rc outfile_publish(struct outfile *o, struct mly_err *err)
{
  if(rename(o->tmp_path, o->final_path) != 0)
    return mly_err_set(err, MLY_EIO, "cannot rename onto '%s': %s", o->final_path,
                       strerror(errno));
  free(o->tmp_path);
  o->tmp_path = NULL;
  return MLY_OK;
}

void outfile_abort(struct outfile *o)
{
  if(o->fp) {
    fclose(o->fp);
    o->fp = NULL;
  }
  if(o->tmp_path) {
    unlink(o->tmp_path);
    free(o->tmp_path);
    o->tmp_path = NULL;
  }
  free(o->final_path);
  o->final_path = NULL;
}
