/* outfile.c -- complete-or-absent output files (temp file + rename), GeoJSON or CSV */
#include "mly/outfile.h"
#include "mly/tempfile.h"
#include "outfile_gdal.h"

#define OUTFILE_IOBUF (1 << 20)

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/fs.h>
#endif

#define HEADER "{\"type\":\"FeatureCollection\",\"features\":["
#define FOOTER "\n]}\n"
#define RS "\x1e"
#define CRLF "\r\n"

/* ---- formats -------------------------------------------------------------- */

static const struct {
  const char *ext;
  enum outfmt fmt;
} known_exts[] = {
  {".geojson", OUTFMT_GEOJSON},
  {".json", OUTFMT_GEOJSON},
  {".geojsonl", OUTFMT_GEOJSONL},
  {".ndjson", OUTFMT_GEOJSONL},
  {".jsonl", OUTFMT_GEOJSONL},
  {".geojsons", OUTFMT_GEOJSONSEQ},
  {".csv", OUTFMT_CSV},
  {".gpkg", OUTFMT_GPKG},
  {".fgb", OUTFMT_FGB},
};

#define NKNOWN (sizeof(known_exts) / sizeof(known_exts[0]))

/* Index into known_exts of path's extension, or -1. The extension is the
 * file name's last '.' onwards; a name that starts with its only dot
 * (".csv") has none, as in a hidden file. */
static int known_index(const char *path)
{
  const char *slash = strrchr(path, '/');
  const char *name = slash ? slash + 1 : path;
  const char *dot = strrchr(name, '.');
  if(!dot || dot == name)
    return -1;
  for(size_t i = 0; i < NKNOWN; i++)
    if(strcasecmp(dot, known_exts[i].ext) == 0)
      return (int)i;
  return -1;
}

bool outfile_is_pg(const char *path)
{
  return strncmp(path, OUTFILE_PG_PREFIX, strlen(OUTFILE_PG_PREFIX)) == 0;
}

bool outfile_pg_table_ok(const char *name)
{
  size_t n = strlen(name);
  if(n == 0 || n > OUTFILE_PG_TABLE_MAX || (name[0] >= '0' && name[0] <= '9'))
    return false;
  for(size_t i = 0; i < n; i++)
    if(!(name[i] == '_' || (name[i] >= 'a' && name[i] <= 'z') ||
         (name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= '0' && name[i] <= '9')))
      return false;
  return true;
}

enum outfmt outfile_format_for(const char *path)
{
  if(outfile_is_pg(path))
    return OUTFMT_PG;
  int i = known_index(path);
  return i < 0 ? OUTFMT_GEOJSON : known_exts[i].fmt;
}

size_t outfile_ext_len(const char *path)
{
  int i = known_index(path);
  return i < 0 ? 0 : strlen(known_exts[i].ext);
}

const char *outfile_format_ext(enum outfmt fmt)
{
  switch(fmt) {
  case OUTFMT_GEOJSONL: return ".geojsonl";
  case OUTFMT_GEOJSONSEQ: return ".geojsons";
  case OUTFMT_CSV: return ".csv";
  case OUTFMT_RAW: return "";
  case OUTFMT_GPKG: return ".gpkg";
  case OUTFMT_FGB: return ".fgb";
  case OUTFMT_PG:
  case OUTFMT_GEOJSON: break;
  }
  return ".geojson";
}

const char *outfile_format_name(enum outfmt fmt)
{
  switch(fmt) {
  case OUTFMT_GEOJSONL: return "GeoJSONL";
  case OUTFMT_GEOJSONSEQ: return "GeoJSON text sequence";
  case OUTFMT_CSV: return "CSV";
  case OUTFMT_RAW: return "raw";
  case OUTFMT_GPKG: return "GeoPackage";
  case OUTFMT_FGB: return "FlatGeobuf";
  case OUTFMT_PG: return "PostGIS";
  case OUTFMT_GEOJSON: break;
  }
  return "GeoJSON";
}

/* ---- folders -------------------------------------------------------------- */

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

/* Folders made for an output, outermost first: abort removes them */
struct made {
  char ***dirs;
  size_t *n;
};

static void note_made(struct made *m, const char *dir)
{
  if(!m)
    return;
  char **nd = realloc(*m->dirs, (*m->n + 1) * sizeof(*nd));
  if(!nd)
    return; /* only a folder that a failed run may leave */
  *m->dirs = nd;
  if((nd[*m->n] = strdup(dir)))
    (*m->n)++;
}

/* mkdir -p, noting each folder made */
static int make_dirs(const char *dir, struct made *m)
{
  struct stat st;
  if(stat(dir, &st) == 0)
    return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
  char *parent = dir_of(dir);
  if(!parent)
    return ENOMEM;
  int rc = 0;
  if(strcmp(parent, dir) != 0)
    rc = make_dirs(parent, m);
  free(parent);
  if(rc)
    return rc;
  if(mkdir(dir, 0777) == 0)
    note_made(m, dir);
  else if(errno != EEXIST)
    return errno;
  return 0;
}

/* What mkdir -p of dir would meet, making nothing: 0 when every missing
 * folder could be made now (the nearest folder there is writable), else
 * the errno mkdir would give. *exists: dir is there. */
static int could_make_dirs(const char *dir, bool *exists)
{
  struct stat st;
  *exists = false;
  if(stat(dir, &st) == 0) {
    *exists = true;
    return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
  }
  if(errno != ENOENT)
    return errno;
  char *parent = dir_of(dir);
  if(!parent)
    return ENOMEM;
  int rc = ENOENT;
  if(strcmp(parent, dir) != 0) {
    bool there;
    rc = could_make_dirs(parent, &there);
    if(!rc && there && access(parent, W_OK | X_OK) != 0)
      rc = errno;
  }
  free(parent);
  return rc;
}

enum mly_rc outfile_make_folder(const char *dir, struct outfile_folders *made,
                                struct mly_err *err)
{
  struct made m = {&made->dirs, &made->n};
  int e = make_dirs(dir, &m);
  if(e)
    return mly_err_set(err, MLY_EIO, "cannot create folder '%s': %s", dir, strerror(e));
  return MLY_OK;
}

void outfile_folders_done(struct outfile_folders *made, bool remove)
{
  for(size_t i = made->n; i-- > 0;) {
    if(remove)
      (void)rmdir(made->dirs[i]); /* only when empty */
    free(made->dirs[i]);
  }
  free(made->dirs);
  made->dirs = NULL;
  made->n = 0;
}

static bool is_stdout(const char *path)
{
  return strcmp(path, OUTFILE_STDOUT) == 0;
}

/* A file that is written through, never replaced */
static bool is_through(mode_t m)
{
  return S_ISCHR(m) || S_ISFIFO(m) || S_ISSOCK(m);
}

/* The output's name in messages (a PostGIS destination: its table, never
 * the connection string, which may hold a password) */
static const char *shown(const struct outfile *o)
{
  return o->to_stdout ? "standard output" : o->fmt == OUTFMT_PG ? o->table : o->final_path;
}

/* Everything known to stop a rename onto path, where a regular file st is:
 * it must be ours to replace. MLY_EIO naming the reason. */
static enum mly_rc check_replace(const char *path, const struct stat *st, struct mly_err *err)
{
  char *dir = dir_of(path);
  if(!dir)
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  struct stat ds;
  int got = stat(dir, &ds);
  free(dir);
  if(got == 0 && ds.st_dev != st->st_dev)
    return mly_err_set(err, MLY_EIO, "cannot replace '%s': it is a mount point", path);
  /* a sticky folder lets only the file's or the folder's owner (or root)
   * rename over a file */
  uid_t me = geteuid();
  if(got == 0 && (ds.st_mode & S_ISVTX) && me != 0 && st->st_uid != me && ds.st_uid != me)
    return mly_err_set(err, MLY_EIO,
                       "cannot replace '%s': it belongs to another user in a sticky folder", path);
#if defined(__linux__) && defined(FS_IOC_GETFLAGS)
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if(fd >= 0) {
    int flags = 0;
    bool fixed = ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 &&
                 (flags & (FS_IMMUTABLE_FL | FS_APPEND_FL)) != 0;
    close(fd);
    if(fixed)
      return mly_err_set(err, MLY_EIO, "cannot replace '%s': it is immutable or append-only",
                         path);
  }
#endif
  return MLY_OK;
}

/* The file at a target path (symlinks followed): nothing, a regular file
 * we may replace, or a file to write through (*through). Anything else is
 * MLY_EIO. */
static enum mly_rc check_target(const char *path, bool *through, struct mly_err *err)
{
  struct stat st;
  *through = false;
  if(stat(path, &st) != 0) {
    struct stat lst;
    if(lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
      return mly_err_set(err, MLY_EIO, "output path '%s' is a symlink that leads nowhere", path);
    return MLY_OK; /* nothing there: created by the rename */
  }
  if(S_ISDIR(st.st_mode))
    return mly_err_set(err, MLY_EIO, "output path '%s' is a directory", path);
  if(is_through(st.st_mode)) {
    *through = true;
    return MLY_OK;
  }
  if(!S_ISREG(st.st_mode))
    return mly_err_set(err, MLY_EIO, "output path '%s' is neither a regular file nor a stream "
                       "(character device, FIFO, socket)", path);
  return check_replace(path, &st, err);
}

static enum mly_rc check_tmp_dir(struct mly_err *err)
{
  if(access(tempfile_dir(), W_OK | X_OK) != 0)
    return mly_err_set(err, MLY_EIO, "cannot write in temporary folder '%s': %s", tempfile_dir(),
                       strerror(errno));
  return MLY_OK;
}

/* outfile_prepare_dir (create false: the folders are only checked) or
 * outfile_open's preparation (create true: the folders are made, noted in
 * m), and whether the path is written through */
static enum mly_rc prepare(const char *path, struct made *m, bool create, bool *through,
                           struct mly_err *err)
{
  *through = false;
  if(is_stdout(path) || outfile_is_pg(path))
    return check_tmp_dir(err); /* nothing to create: a spool in the temporary folder */
  /* "", "out/" or "out/." name no file: the final rename would fail only
   * after every request was made, so refuse them here */
  const char *slash = strrchr(path, '/');
  const char *name = slash ? slash + 1 : path;
  if(!strcmp(name, "") || !strcmp(name, ".") || !strcmp(name, ".."))
    return mly_err_set(err, MLY_EIO, "output path '%s' has no file name", path);
  enum mly_rc rc = check_target(path, through, err);
  if(rc || *through)
    return rc ? rc : check_tmp_dir(err);
  char *dir = dir_of(path);
  if(!dir)
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  bool there = true;
  int e = create ? make_dirs(dir, m) : could_make_dirs(dir, &there);
  if(e) {
    mly_err_set(err, MLY_EIO, "cannot create output folder '%s': %s", dir, strerror(e));
    free(dir);
    return MLY_EIO;
  }
  if(!there) { /* made by the open, which the check above says it can */
    free(dir);
    return MLY_OK;
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

enum mly_rc outfile_prepare_dir(const char *path, struct mly_err *err)
{
  bool through;
  struct stat lst;
  if(!is_stdout(path) && !outfile_is_pg(path) && lstat(path, &lst) == 0 &&
     S_ISLNK(lst.st_mode)) {
    char *real = realpath(path, NULL);
    if(!real)
      return mly_err_set(err, MLY_EIO, "output path '%s' is a symlink that leads nowhere", path);
    enum mly_rc rc = prepare(real, NULL, false, &through, err);
    free(real);
    return rc;
  }
  return prepare(path, NULL, false, &through, err);
}

/* ---- temp files of runs that are gone ---------------------------------------- */

/* ".<name>.mly-tmp-XXXXXX", X a letter or digit (mkstemp's alphabet),
 * then for a GDAL format's converted file its extension (outfile_gdal.c) */
static bool is_tmp_name(const char *name)
{
  size_t n = strlen(name), tag = strlen(OUTFILE_TMP_TAG);
  static const char *const gdal_exts[] = {".gpkg", ".fgb"};
  for(size_t i = 0; i < sizeof(gdal_exts) / sizeof(gdal_exts[0]); i++) {
    size_t e = strlen(gdal_exts[i]);
    if(n > e && strcmp(name + n - e, gdal_exts[i]) == 0) {
      n -= e;
      break;
    }
  }
  if(name[0] != '.' || n < 1 + 1 + tag + 6)
    return false;
  if(strncmp(name + n - 6 - tag, OUTFILE_TMP_TAG, tag) != 0)
    return false;
  for(size_t i = n - 6; i < n; i++) {
    char c = name[i];
    if(!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
      return false;
  }
  return true;
}

size_t outfile_sweep_stale(const char *dir)
{
  DIR *d = opendir(dir);
  if(!d)
    return 0;
  int dfd = dirfd(d);
  size_t removed = 0;
  struct dirent *e;
  while((e = readdir(d))) {
    if(!is_tmp_name(e->d_name))
      continue;
    int fd = openat(dfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if(fd < 0)
      continue;
    struct stat st, now;
    /* a live owner holds the lock; the name must still be this file when
     * we remove it (its owner may have renamed it meanwhile) */
    if(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
       fstatat(dfd, e->d_name, &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_dev == st.st_dev &&
       now.st_ino == st.st_ino && unlinkat(dfd, e->d_name, 0) == 0)
      removed++;
    close(fd);
  }
  closedir(d);
  return removed;
}

/* ---- writing -------------------------------------------------------------- */

/* Standard output's temp file (and a written-through stream's, and a
 * PostGIS destination's spool): a file without a name in $TMPDIR, so a
 * killed run leaves nothing; publish reads it back through fp. */
static enum mly_rc open_stdout_tmp(struct outfile *o, struct mly_err *err)
{
  char what[300];
  snprintf(what, sizeof(what), o->to_stdout ? "%s" : "'%.250s'", shown(o));
  return tempfile_fopen(what, &o->fp, err);
}

/* A temp file beside path, with the usual mode of a new file */
static enum mly_rc open_beside(struct outfile *o, const char *path, struct mly_err *err)
{
  char *dir = dir_of(path), *base = base_of(path);
  size_t n = (dir ? strlen(dir) : 0) + (base ? strlen(base) : 0) + 32;
  o->tmp_path = malloc(n);
  if(!dir || !base || !o->tmp_path) {
    free(dir);
    free(base);
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  }
  snprintf(o->tmp_path, n, "%s/.%s" OUTFILE_TMP_TAG "XXXXXX", dir, base);
  /* what killed runs left here goes first */
  (void)outfile_sweep_stale(dir);
  free(dir);
  free(base);
  int fd = mkostemp(o->tmp_path, O_CLOEXEC);
  if(fd < 0) {
    mly_err_set(err, MLY_EIO, "cannot create a file beside '%s': %s", path, strerror(errno));
    free(o->tmp_path);
    o->tmp_path = NULL;
    return MLY_EIO;
  }
  /* the lock says "ours, alive" to other runs' sweeps; a second
   * descriptor keeps it after the data's is closed, until publish */
  if(flock(fd, LOCK_EX | LOCK_NB) == 0 && (o->lock_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) >= 0)
    o->locked = true;
  /* mkstemp makes 0600; outputs get the usual mode under the umask */
  mode_t mask = umask(0);
  umask(mask);
  if(fchmod(fd, 0666 & ~mask) != 0) {
    /* not fatal: the file is still ours and readable by us */
  }
  o->fp = fdopen(fd, "w");
  if(!o->fp) {
    close(fd);
    return mly_err_set(err, MLY_EIO, "cannot open a file beside '%s'", path);
  }
  return MLY_OK;
}

static const char *header_of(enum outfmt fmt, enum outfile_kind kind)
{
  switch(fmt) {
  case OUTFMT_GEOJSON: return HEADER;
  case OUTFMT_CSV:
    if(kind == OUTFILE_FEATURES)
      return ""; /* featwrite.h: the header comes with the first feature */
    return kind == OUTFILE_SEQUENCES          ? OUTFILE_CSV_SEQUENCES_HEADER CRLF
           : kind == OUTFILE_REVIEW_SEQUENCES ? OUTFILE_CSV_REVIEW_SEQUENCES_HEADER CRLF
                                              : OUTFILE_CSV_POINTS_HEADER CRLF;
  case OUTFMT_GEOJSONL:
  case OUTFMT_GEOJSONSEQ:
  case OUTFMT_RAW: break;
  case OUTFMT_GPKG:
  case OUTFMT_FGB:
  case OUTFMT_PG: break;
  }
  return "";
}

static enum mly_rc open_with(struct outfile *o, const char *path, const char *table,
                             enum outfile_kind kind, bool raw, struct mly_err *err)
{
  memset(o, 0, sizeof(*o));
  o->to_stdout = is_stdout(path);
  /* standard output carries the default, self-delimiting collection */
  o->fmt = raw ? OUTFMT_RAW : o->to_stdout ? OUTFMT_GEOJSON : outfile_format_for(path);
  o->kind = kind;
  /* a symlink is followed: its target is the file replaced */
  o->spooled = o->fmt == OUTFMT_GPKG || o->fmt == OUTFMT_FGB || o->fmt == OUTFMT_PG;
  struct stat lst;
  if(!o->to_stdout && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
    o->final_path = realpath(path, NULL);
    if(!o->final_path)
      return mly_err_set(err, MLY_EIO, "output path '%s' is a symlink that leads nowhere", path);
  }
  else if(!(o->final_path = strdup(path)))
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  struct made m = {&o->made_dirs, &o->nmade};
  enum mly_rc rc = prepare(o->final_path, &m, true, &o->copied, err);
  o->copied |= o->to_stdout;
  if(!rc && o->spooled && o->copied)
    rc = mly_err_set(err, MLY_EIO, "output path '%s' is a stream: a %s file is written only "
                     "to a regular file", path, outfile_format_name(o->fmt));
  if(!rc && o->spooled)
    rc = outfile_gdal_open(o, table, err); /* the module, and the database, now */
  if(!rc)
    rc = o->copied || o->fmt == OUTFMT_PG ? open_stdout_tmp(o, err)
                                          : open_beside(o, o->final_path, err);
  if(rc) {
    outfile_abort(o);
    return rc;
  }
  /* glibc ignores the size when setvbuf gets no buffer: give it one */
  o->iobuf = malloc(OUTFILE_IOBUF);
  if(o->iobuf)
    setvbuf(o->fp, o->iobuf, _IOFBF, OUTFILE_IOBUF);
  o->bytes = strlen(header_of(o->fmt, kind));
  if(fputs(header_of(o->fmt, kind), o->fp) == EOF) {
    mly_err_set(err, MLY_EIO, "cannot write beside '%s'", shown(o));
    outfile_abort(o);
    return MLY_EIO;
  }
  return MLY_OK;
}

enum mly_rc outfile_open_as(struct outfile *o, const char *path, enum outfile_kind kind,
                            struct mly_err *err)
{
  return open_with(o, path, NULL, kind, false, err);
}

enum mly_rc outfile_open_table(struct outfile *o, const char *path, const char *table,
                               enum outfile_kind kind, struct mly_err *err)
{
  return open_with(o, path, table, kind, false, err);
}

enum mly_rc outfile_open_raw(struct outfile *o, const char *path, struct mly_err *err)
{
  return open_with(o, path, NULL, OUTFILE_POINTS, true, err);
}

enum mly_rc outfile_open(struct outfile *o, const char *path, struct mly_err *err)
{
  return outfile_open_as(o, path, OUTFILE_POINTS, err);
}

/* Start writing [wb_start, upto) to disk (all that follows with all), and
 * return at once: sync_file_range(SYNC_FILE_RANGE_WRITE) queues the dirty
 * pages without waiting for the disk. This is only a head start for the
 * fsync of outfile_close, which alone makes the file durable and reports
 * errors, so a failure here is ignored. Linux only; elsewhere nothing. */
static void start_writeback(struct outfile *o, uint64_t upto, bool all)
{
#if defined(__linux__) && defined(SYNC_FILE_RANGE_WRITE)
  upto &= ~(uint64_t)4095;
  if(o->spooled || o->copied || !o->fp || (!all && upto <= o->wb_start))
    return;
  /* nbytes 0: through the end of the file */
  int fd = fileno(o->fp);
  off_t len = all ? 0 : (off_t)(upto - o->wb_start);
  (void)sync_file_range(fd, (off_t)o->wb_start, len, SYNC_FILE_RANGE_WRITE); /* fsync decides */
  /* The step before this one has had a step's time to reach the disk:
   * wait for it (it is there already unless the disk is the slower part)
   * and drop its pages, so that a large output does not fill the page
   * cache and the next data reuse the same pages. Waiting takes the
   * file's writeback error, if any, off the fsync that would report it:
   * it is kept here and reported instead (outfile_feature, close). */
  if(!all && o->wb_start > o->drop_start) {
    off_t from = (off_t)o->drop_start, n = (off_t)(o->wb_start - o->drop_start);
    if(sync_file_range(fd, from, n, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                        SYNC_FILE_RANGE_WAIT_AFTER) == 0)
      (void)posix_fadvise(fd, from, n, POSIX_FADV_DONTNEED);
    else if(!o->wb_errno)
      o->wb_errno = errno ? errno : EIO;
    o->drop_start = o->wb_start;
  }
  o->wb_start = all ? o->bytes : upto;
#else
  (void)o;
  (void)upto;
  (void)all;
#endif
}

enum mly_rc outfile_feature(struct outfile *o, const char *text, size_t n, struct mly_err *err)
{
  const char *before = "", *after = "";
  switch(o->fmt) {
  case OUTFMT_GEOJSON: before = o->features ? ",\n" : "\n"; break;
  case OUTFMT_GEOJSONL:
  case OUTFMT_GPKG: /* spooled as GeoJSONL */
  case OUTFMT_FGB:
  case OUTFMT_PG: after = "\n"; break;
  case OUTFMT_GEOJSONSEQ:
    before = RS;
    after = "\n";
    break;
  case OUTFMT_CSV: after = CRLF; break;
  case OUTFMT_RAW: break;
  }
  if(fputs(before, o->fp) == EOF || fwrite(text, 1, n, o->fp) != n || fputs(after, o->fp) == EOF)
    return mly_err_set(err, MLY_EIO, "cannot write '%s': %s", shown(o), strerror(errno));
  o->features++;
  o->bytes += strlen(before) + n + strlen(after);
  /* all but what stdio may still hold has reached the kernel: have the
   * disk start on it, so the data does not all wait for the final fsync */
  if(o->bytes - o->wb_start >= (uint64_t)OUTFILE_WRITEBACK_STEP + OUTFILE_IOBUF)
    start_writeback(o, o->bytes - OUTFILE_IOBUF, false);
  if(o->wb_errno)
    return mly_err_set(err, MLY_EIO, "cannot write '%s': %s", shown(o), strerror(o->wb_errno));
  return MLY_OK;
}

static enum mly_rc finish_failed(struct outfile *o, int e, struct mly_err *err)
{
  if(o->to_stdout)
    return mly_err_set(err, MLY_EIO, "cannot write a temporary file for standard output: %s",
                       strerror(e));
  return mly_err_set(err, MLY_EIO, "cannot write '%s': %s", o->final_path, strerror(e));
}

/* The file at path when the rename will free its space: a large regular
 * file (not a link to one: rename replaces the link) with no other name,
 * opened read-only; else -1 */
static int open_replaced(const char *path)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if(fd < 0)
    return -1;
  struct stat st;
  if(fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
     st.st_size < (off_t)OUTFILE_RELEASE_MIN) {
    close(fd);
    return -1;
  }
  return fd;
}

/* The fsync of a finished file, in its helper thread: the data are on
 * their way to the disk while the caller goes on (with other files) */
static void *sync_main(void *arg)
{
  struct outfile *o = arg;
  /* EINVAL: a file that cannot be synced (not a disk file), as in close */
  o->sync_errno = fsync(o->sync_fd) != 0 && errno != EINVAL ? errno : 0;
  /* The file the rename is to replace keeps its pages in the page cache
   * until its release (see publish). Dropping them now, while the caller
   * is still busy, leaves that release only the blocks to free. They are
   * clean (on disk), so this loses nothing: should the run fail, the file
   * stays as it was, only no longer cached. */
  int old = o->sync_errno ? -1 : open_replaced(o->final_path);
  if(old >= 0) {
    (void)posix_fadvise(old, 0, 0, POSIX_FADV_DONTNEED);
    close(old);
  }
  return NULL;
}

enum mly_rc outfile_finish(struct outfile *o, struct mly_err *err)
{
  if(o->finished)
    return o->finish_errno ? finish_failed(o, o->finish_errno, err) : MLY_OK;
  o->finished = true;
  int bad = o->fmt == OUTFMT_GEOJSON && fputs(FOOTER, o->fp) == EOF;
  bad |= fflush(o->fp) != 0;
  if(bad) {
    o->finish_errno = errno ? errno : EIO;
    return finish_failed(o, o->finish_errno, err);
  }
  if(o->copied || o->spooled)
    return MLY_OK; /* read back by publish or close, never synced */
  o->sync_fd = fileno(o->fp);
  o->sync_errno = 0;
  if(pthread_create(&o->syncer, NULL, sync_main, o) == 0)
    o->syncing = true;
  else
    start_writeback(o, 0, true); /* no thread: close syncs, the disk starts now */
  return MLY_OK;
}

/* Wait for the helper thread's fsync: its errno, 0 when it succeeded */
static int sync_wait(struct outfile *o)
{
  if(!o->syncing)
    return 0;
  pthread_join(o->syncer, NULL);
  o->syncing = false;
  return o->sync_errno;
}

enum mly_rc outfile_close(struct outfile *o, struct mly_err *err)
{
  enum mly_rc rc = outfile_finish(o, err);
  if(rc)
    return rc; /* the temp file stays open: abort removes it */
  if(o->copied) {
    /* kept open: publish reads it back (it has no name to reopen) */
    o->closed = true;
    return MLY_OK;
  }
  if(o->spooled) {
    /* converted into the file publish renames (or the table it commits) */
    rc = outfile_gdal_close(o, err);
    if(!rc)
      o->closed = true;
    return rc;
  }
  int e;
  if(o->syncing)
    e = sync_wait(o);
  else
    e = fsync(fileno(o->fp)) != 0 && errno != EINVAL ? errno : 0;
  if(!e)
    e = o->wb_errno; /* a failure that a writeback wait took off the fsync */
  bool bad = e != 0;
  if(fclose(o->fp) != 0) {
    bad = true;
    if(!e)
      e = errno;
  }
  o->fp = NULL;
  free(o->iobuf);
  o->iobuf = NULL;
  if(bad)
    return mly_err_set(err, MLY_EIO, "cannot write '%s': %s", o->final_path, strerror(e));
  o->closed = true;
  return MLY_OK;
}

/* write(2) all of buf to fd, through EINTR and short writes */
static bool write_all(int fd, const char *buf, size_t n)
{
  while(n) {
    ssize_t w = write(fd, buf, n);
    if(w < 0 && errno == EINTR)
      continue;
    if(w <= 0)
      return false;
    buf += w;
    n -= (size_t)w;
  }
  return true;
}

/* ---- publishing ------------------------------------------------------------ */

/* How publish put a file in place (o->placed) */
enum {
  PLACED_NONE = 0,
  PLACED_NEW,      /* renamed onto a free path: undone by renaming it back */
  PLACED_SWAPPED,  /* exchanged with the file replaced, now under the temp name */
  PLACED_BACKED,   /* no RENAME_EXCHANGE: renamed over the old file, which
                    * keeps a second name (bak_path) to be renamed back */
  PLACED_REPLACED, /* renamed over the old file, which has no other name (no
                    * RENAME_EXCHANGE, no hard links): cannot be undone */
  PLACED_COPIED    /* written through */
};

bool outfile_no_exchange;

/* A second name for the file at path, beside it and named like our temp
 * files (".<name>.mly-tmp-XXXXXX"), so that one left by a killed run is
 * swept: the name, or NULL when no link could be made */
static char *link_aside(const char *path)
{
  char *dir = dir_of(path), *base = base_of(path);
  size_t n = (dir ? strlen(dir) : 0) + (base ? strlen(base) : 0) + 32;
  char *name = dir && base ? malloc(n) : NULL;
  static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  uint64_t x = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)&n;
  bool made = false;
  for(int tries = 0; name && !made && tries < 100; tries++) {
    char sfx[7];
    for(int i = 0; i < 6; i++) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      sfx[i] = abc[(x >> 33) % 62];
    }
    sfx[6] = '\0';
    snprintf(name, n, "%s/.%s" OUTFILE_TMP_TAG "%s", dir, base, sfx);
    made = link(path, name) == 0;
    if(!made && errno != EEXIST)
      break;
  }
  free(dir);
  free(base);
  if(!made) {
    free(name);
    name = NULL;
  }
  return name;
}

/* A written-through target opened for writing: a character device or a
 * FIFO (which waits for its reader) is opened, a socket connected to */
static int open_through(const char *path)
{
  int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if(fd >= 0 || errno != ENXIO)
    return fd;
  struct stat st;
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if(stat(path, &st) != 0 || !S_ISSOCK(st.st_mode) || strlen(path) >= sizeof(a.sun_path)) {
    errno = ENXIO;
    return -1;
  }
  memcpy(a.sun_path, path, strlen(path) + 1);
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    fd = -1;
  }
  return fd;
}

/* Copy the unlinked temp file to standard output or the written-through
 * target, then let the temp file go */
static enum mly_rc copy_out(struct outfile *o, struct mly_err *err)
{
  int fd = STDOUT_FILENO;
  /* anything stdio still holds for stdout belongs before the data */
  if(o->to_stdout ? fflush(stdout) != 0 : (fd = open_through(o->final_path)) < 0)
    return mly_err_set(err, MLY_EIO, "cannot write to %s%s%s: %s", o->to_stdout ? "" : "'",
                       shown(o), o->to_stdout ? "" : "'", strerror(errno));
  bool ok = fseek(o->fp, 0, SEEK_SET) == 0;
  int e = errno;
  char buf[1 << 16];
  size_t n;
  while(ok && (n = fread(buf, 1, sizeof(buf), o->fp)) > 0)
    if(!(ok = write_all(fd, buf, n)))
      e = errno;
  if(ok && ferror(o->fp)) {
    ok = false;
    e = EIO;
  }
  if(!o->to_stdout && close(fd) != 0 && ok) {
    ok = false;
    e = errno;
  }
  if(!ok)
    return mly_err_set(err, MLY_EIO, "cannot write to %s%s%s: %s", o->to_stdout ? "" : "'",
                       shown(o), o->to_stdout ? "" : "'", strerror(e));
  fclose(o->fp);
  o->fp = NULL;
  free(o->iobuf);
  o->iobuf = NULL;
  o->placed = PLACED_COPIED;
  return MLY_OK;
}

static bool cannot_swap(int e)
{
  return e == EINVAL || e == ENOSYS || e == EOPNOTSUPP;
}

/* The closed temp file onto its final path, in a way take_back can undo */
static enum mly_rc put_in_place(struct outfile *o, struct mly_err *err)
{
  struct stat st;
  if(lstat(o->final_path, &st) == 0) {
    if(!S_ISREG(st.st_mode))
      return mly_err_set(err, MLY_EIO, "cannot replace '%s': it is no longer a regular file",
                         o->final_path);
    /* The file replaced is held open: locked, so that no other run's
     * sweep takes it while it has our temp name; and its last close
     * (freeing its blocks, milliseconds on ext4 for a large file) is
     * made by a helper thread while the run ends */
    int old = open(o->final_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if(old >= 0) {
      (void)flock(old, LOCK_EX | LOCK_NB); /* only a guard: another holder is fine */
      o->old_fd = old;
      o->has_old = true;
    }
    if(!outfile_no_exchange &&
       renameat2(AT_FDCWD, o->tmp_path, AT_FDCWD, o->final_path, RENAME_EXCHANGE) == 0) {
      o->placed = PLACED_SWAPPED;
      return MLY_OK;
    }
    if(outfile_no_exchange || cannot_swap(errno)) {
      /* no swapping here: the old file keeps a second name (locked
       * through old_fd like a swapped one) to be renamed back */
      o->bak_path = link_aside(o->final_path);
      if(rename(o->tmp_path, o->final_path) == 0) {
        o->placed = o->bak_path ? PLACED_BACKED : PLACED_REPLACED;
        return MLY_OK;
      }
      int e = errno;
      if(o->bak_path) {
        (void)unlink(o->bak_path);
        free(o->bak_path);
        o->bak_path = NULL;
      }
      errno = e;
    }
    if(errno != ENOENT)
      return mly_err_set(err, MLY_EIO, "cannot rename onto '%s': %s", o->final_path,
                         strerror(errno));
    /* gone meanwhile: a free path */
  }
  int rc = outfile_no_exchange ? -1
                               : renameat2(AT_FDCWD, o->tmp_path, AT_FDCWD, o->final_path,
                                           RENAME_NOREPLACE);
  if(outfile_no_exchange || (rc != 0 && cannot_swap(errno)))
    rc = rename(o->tmp_path, o->final_path);
  if(rc != 0)
    return mly_err_set(err, MLY_EIO, "cannot rename onto '%s': %s", o->final_path,
                       strerror(errno));
  o->placed = PLACED_NEW;
  return MLY_OK;
}

/* Undo put_in_place: the old file back at the final path, ours back under
 * its temp name (abort removes it) */
static void take_back(struct outfile *o)
{
  if(o->placed == PLACED_SWAPPED)
    (void)renameat2(AT_FDCWD, o->tmp_path, AT_FDCWD, o->final_path, RENAME_EXCHANGE);
  else if(o->placed == PLACED_NEW)
    (void)rename(o->final_path, o->tmp_path);
  else if(o->placed == PLACED_BACKED) /* ours loses its last name: closing frees it */
    (void)rename(o->bak_path, o->final_path);
  free(o->bak_path);
  o->bak_path = NULL;
  if(o->placed != PLACED_COPIED)
    o->placed = PLACED_NONE;
  if(o->has_old) {
    close(o->old_fd);
    o->has_old = false;
  }
}

static void *release_main(void *arg)
{
  close((int)(intptr_t)arg); /* the last reference: the blocks are freed here */
  return NULL;
}

static void free_made(struct outfile *o, bool remove)
{
  struct outfile_folders f = {o->made_dirs, o->nmade};
  outfile_folders_done(&f, remove);
  o->made_dirs = NULL;
  o->nmade = 0;
}

/* Every file is in place: the replaced ones go */
static void commit(struct outfile *o)
{
  if(o->placed == PLACED_SWAPPED)
    (void)unlink(o->tmp_path); /* the old file, under our temp name now */
  if(o->placed == PLACED_BACKED)
    (void)unlink(o->bak_path); /* the old file's second name */
  free(o->bak_path);
  o->bak_path = NULL;
  free(o->tmp_path);
  o->tmp_path = NULL;
  if(o->has_old) {
    struct stat st;
    bool large = fstat(o->old_fd, &st) == 0 && st.st_nlink == 0 &&
                 st.st_size >= (off_t)OUTFILE_RELEASE_MIN;
    if(large && !o->releasing &&
       pthread_create(&o->releaser, NULL, release_main, (void *)(intptr_t)o->old_fd) == 0)
      o->releasing = true;
    else
      close(o->old_fd); /* small, still named elsewhere, or no thread: now */
    o->has_old = false;
  }
  if(o->locked) {
    close(o->lock_fd);
    o->locked = false;
  }
  free_made(o, false); /* they hold the output now */
}

enum mly_rc outfile_publish_all(struct outfile *const *files, size_t n, struct mly_err *err)
{
  /* everything that could stop a rename, before anything changes */
  for(size_t i = 0; i < n; i++) {
    struct outfile *o = files[i];
    if(!o->closed || o->placed)
      return mly_err_set(err, MLY_EINVAL, "'%s' is not ready to publish", shown(o));
    bool through;
    if(o->copied || o->fmt == OUTFMT_PG)
      continue;
    enum mly_rc rc = check_target(o->final_path, &through, err);
    if(!rc && through)
      rc = mly_err_set(err, MLY_EIO, "cannot replace '%s': it is no longer a regular file",
                       o->final_path);
    if(rc)
      return rc;
  }
  /* the renames, which can be undone, then the copies, which cannot */
  enum mly_rc rc = MLY_OK;
  for(size_t i = 0; i < n && !rc; i++)
    if(!files[i]->copied && files[i]->fmt != OUTFMT_PG)
      rc = put_in_place(files[i], err);
  /* then the PostGIS commits, which cannot be undone either */
  for(size_t i = 0; i < n && !rc; i++)
    if(files[i]->fmt == OUTFMT_PG && !(rc = outfile_gdal_publish(files[i], err)))
      files[i]->placed = PLACED_COPIED;
  for(size_t i = 0; i < n && !rc; i++)
    if(files[i]->copied)
      rc = copy_out(files[i], err);
  if(rc) {
    for(size_t i = n; i-- > 0;)
      take_back(files[i]);
    return rc;
  }
  for(size_t i = 0; i < n; i++)
    commit(files[i]);
  return MLY_OK;
}

enum mly_rc outfile_publish(struct outfile *o, struct mly_err *err)
{
  return outfile_publish_all(&o, 1, err);
}

void outfile_abort(struct outfile *o)
{
  (void)sync_wait(o); /* its fd is closed next */
  if(o->fp) {
    fclose(o->fp);
    o->fp = NULL;
  }
  if(o->tmp_path) {
    unlink(o->tmp_path);
    free(o->tmp_path);
    o->tmp_path = NULL;
  }
  if(o->locked) { /* after the unlink: no sweep may take a file we still name */
    close(o->lock_fd);
    o->locked = false;
  }
  if(o->has_old) {
    close(o->old_fd);
    o->has_old = false;
  }
  free_made(o, true);
  free(o->bak_path);
  o->bak_path = NULL;
  outfile_gdal_abort(o);
  free(o->final_path);
  o->final_path = NULL;
  free(o->iobuf); /* after fclose: stdio no longer uses it */
  o->iobuf = NULL;
  if(o->releasing) {
    pthread_join(o->releaser, NULL);
    o->releasing = false;
  }
}

void outfile_abort_all(struct outfile *const *files, size_t n)
{
  for(size_t i = n; i-- > 0;)
    outfile_abort(files[i]);
}
