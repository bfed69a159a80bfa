/* outfile.c -- complete-or-absent output files (temp file + rename), GeoJSON or CSV */
#include "mly/outfile.h"
#include "mly/jsonw.h"

#define OUTFILE_IOBUF (1 << 20)

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

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

enum outfmt outfile_format_for(const char *path)
{
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

/* Where standard output's temporary file goes: $TMPDIR, as mkstemp users
 * are expected to honour, else /tmp */
static const char *tmp_dir(void)
{
  const char *t = getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

static bool is_stdout(const char *path)
{
  return strcmp(path, OUTFILE_STDOUT) == 0;
}

/* The output's name in messages */
static const char *shown(const struct outfile *o)
{
  return o->to_stdout ? "standard output" : o->final_path;
}

enum mly_rc outfile_prepare_dir(const char *path, struct mly_err *err)
{
  struct stat st;
  if(is_stdout(path)) {
    /* nothing to create: only the temporary folder must take a file */
    if(access(tmp_dir(), W_OK | X_OK) != 0)
      return mly_err_set(err, MLY_EIO, "cannot write in temporary folder '%s': %s", tmp_dir(),
                         strerror(errno));
    return MLY_OK;
  }
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

/* ---- writing -------------------------------------------------------------- */

/* Standard output's temp file: unlinked at once, so a killed run leaves
 * nothing in the temporary folder; publish reads it back through fp. */
static enum mly_rc open_stdout_tmp(struct outfile *o, struct mly_err *err)
{
  const char *dir = tmp_dir();
  size_t n = strlen(dir) + 32;
  char *tmpl = malloc(n);
  if(!tmpl)
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  snprintf(tmpl, n, "%s/mly-stdout-XXXXXX", dir);
  int fd = mkstemp(tmpl);
  if(fd < 0) {
    mly_err_set(err, MLY_EIO, "cannot create a temporary file in '%s': %s", dir, strerror(errno));
    free(tmpl);
    return MLY_EIO;
  }
  unlink(tmpl);
  free(tmpl);
  o->fp = fdopen(fd, "w+");
  if(!o->fp) {
    close(fd);
    return mly_err_set(err, MLY_EIO, "cannot open a temporary file in '%s'", dir);
  }
  return MLY_OK;
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
  free(dir);
  free(base);
  int fd = mkstemp(o->tmp_path);
  if(fd < 0) {
    mly_err_set(err, MLY_EIO, "cannot create a file beside '%s': %s", path, strerror(errno));
    free(o->tmp_path);
    o->tmp_path = NULL;
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
    return kind == OUTFILE_SEQUENCES ? OUTFILE_CSV_SEQUENCES_HEADER CRLF
                                     : OUTFILE_CSV_POINTS_HEADER CRLF;
  case OUTFMT_GEOJSONL:
  case OUTFMT_GEOJSONSEQ: break;
  }
  return "";
}

enum mly_rc outfile_open_as(struct outfile *o, const char *path, enum outfile_kind kind,
                            struct mly_err *err)
{
  memset(o, 0, sizeof(*o));
  enum mly_rc rc = outfile_prepare_dir(path, err);
  if(rc)
    return rc;
  o->to_stdout = is_stdout(path);
  /* standard output carries the default, self-delimiting collection */
  o->fmt = o->to_stdout ? OUTFMT_GEOJSON : outfile_format_for(path);
  o->kind = kind;
  o->final_path = strdup(path);
  if(!o->final_path)
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  rc = o->to_stdout ? open_stdout_tmp(o, err) : open_beside(o, path, err);
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
    mly_err_set(err, MLY_EIO, "cannot write beside '%s'", path);
    outfile_abort(o);
    return MLY_EIO;
  }
  return MLY_OK;
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
  if(o->to_stdout || !o->fp || (!all && upto <= o->wb_start))
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
  case OUTFMT_GEOJSONL: after = "\n"; break;
  case OUTFMT_GEOJSONSEQ:
    before = RS;
    after = "\n";
    break;
  case OUTFMT_CSV: after = CRLF; break;
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
  if(o->to_stdout)
    return MLY_OK; /* read back by publish, never synced */
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
  if(o->to_stdout) {
    /* kept open: publish reads it back (it has no name to reopen) */
    o->closed = true;
    return MLY_OK;
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

static enum mly_rc publish_stdout(struct outfile *o, struct mly_err *err)
{
  /* anything stdio still holds for stdout belongs before the data */
  if(fflush(stdout) != 0 || fseek(o->fp, 0, SEEK_SET) != 0)
    return mly_err_set(err, MLY_EIO, "cannot write to standard output: %s", strerror(errno));
  char buf[1 << 16];
  size_t n;
  while((n = fread(buf, 1, sizeof(buf), o->fp)) > 0)
    if(!write_all(STDOUT_FILENO, buf, n))
      return mly_err_set(err, MLY_EIO, "cannot write to standard output: %s", strerror(errno));
  if(ferror(o->fp))
    return mly_err_set(err, MLY_EIO, "cannot read back the data for standard output");
  fclose(o->fp);
  o->fp = NULL;
  free(o->iobuf);
  o->iobuf = NULL;
  return MLY_OK;
}

static void *release_main(void *arg)
{
  close((int)(intptr_t)arg); /* the last reference: the blocks are freed here */
  return NULL;
}

enum mly_rc outfile_publish(struct outfile *o, struct mly_err *err)
{
  if(o->to_stdout)
    return publish_stdout(o, err);
  /* Renaming onto a large file frees that file's blocks within rename(2)
   * (milliseconds on ext4). Holding it open moves that work to our last
   * close of it, which a helper thread makes while the run ends. The
   * rename is the same atomic replacement either way. */
  int old = o->releasing ? -1 : open_replaced(o->final_path);
  if(rename(o->tmp_path, o->final_path) != 0) {
    int e = errno;
    if(old >= 0)
      close(old);
    return mly_err_set(err, MLY_EIO, "cannot rename onto '%s': %s", o->final_path,
                       strerror(e));
  }
  free(o->tmp_path);
  o->tmp_path = NULL;
  if(old >= 0) {
    if(pthread_create(&o->releaser, NULL, release_main, (void *)(intptr_t)old) == 0)
      o->releasing = true;
    else
      close(old); /* no thread: free it now */
  }
  return MLY_OK;
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
  free(o->final_path);
  o->final_path = NULL;
  free(o->iobuf); /* after fclose: stdio no longer uses it */
  o->iobuf = NULL;
  if(o->releasing) {
    pthread_join(o->releaser, NULL);
    o->releasing = false;
  }
}

/* ---- CSV pieces ------------------------------------------------------------ */

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */

enum mly_rc outfile_csv_field(struct dbuf *b, const char *s, size_t n)
{
  const unsigned char *u = (const unsigned char *)s;
  bool quote = false;
  for(size_t i = 0; i < n && !quote; i++)
    quote = u[i] == ',' || u[i] == '"' || u[i] == '\r' || u[i] == '\n';
  /* worst case: every byte becomes U+FFFD (3 bytes) or a doubled quote */
  if(n > (SIZE_MAX - 2) / 3)
    return MLY_ETOOBIG;
  enum mly_rc rc = dbuf_reserve(b, n * 3 + 2);
  if(rc)
    return rc;
  char *o = b->p + b->n;
  if(quote)
    *o++ = '"';
  for(size_t i = 0; i < n;) {
    size_t len = u[i] ? jsonw_utf8_len(u + i, n - i) : 0;
    if(!len) {
      memcpy(o, REPLACEMENT, 3);
      o += 3;
      i++;
      continue;
    }
    if(u[i] == '"')
      *o++ = '"';
    memcpy(o, u + i, len);
    o += len;
    i += len;
  }
  if(quote)
    *o++ = '"';
  b->n = (size_t)(o - b->p);
  return MLY_OK;
}

enum mly_rc outfile_csv_quote_from(struct dbuf *b, size_t start)
{
  if(start > b->n)
    return MLY_EINVAL;
  size_t quotes = 0;
  for(size_t i = start; i < b->n; i++)
    quotes += b->p[i] == '"';
  enum mly_rc rc = dbuf_reserve(b, quotes + 2);
  if(rc)
    return rc;
  /* from the back, so each byte moves once and none is overwritten unread */
  size_t src = b->n, dst = b->n + quotes + 2;
  b->p[--dst] = '"';
  while(src > start) {
    char c = b->p[--src];
    b->p[--dst] = c;
    if(c == '"')
      b->p[--dst] = '"';
  }
  b->p[--dst] = '"';
  b->n += quotes + 2;
  return MLY_OK;
}
