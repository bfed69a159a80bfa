/* imgdl.c -- download_mapillary_imgs: points in, images and points with their paths out */
#include "mly/imgdl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mly/dbuf.h"
#include "mly/featread.h"
#include "mly/featwrite.h"
#include "mly/graph.h"
#include "mly/outfile.h"
#include "mly/paths.h"

#define IMGDL_BODY_MAX (64u << 20)  /* bytes of one image: "original" ones run to a few MB */
#define IMGDL_WINDOW_MIN 1024       /* features held in input order */
#define IMGDL_TICK_MS 100

/* ---- pieces ------------------------------------------------------------- */

bool imgdl_safe_name(const char *s, size_t n, char *out, size_t cap)
{
  if(n == 0 || n > IMGDL_SEQ_MAX || cap < n + 1)
    return false;
  for(size_t i = 0; i < n; i++) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || (c == '.' && i > 0);
    out[i] = ok ? c : '_';
  }
  out[n] = '\0';
  return true;
}

bool imgdl_is_jpeg(const uint8_t *p, size_t n)
{
  return n >= 4 && p[0] == 0xFF && p[1] == 0xD8 && p[n - 2] == 0xFF && p[n - 1] == 0xD9;
}

/* The sequence folder seq in DIR (dirfd) as a descriptor, never through a
 * symlink: a link planted in DIR would take the run's writes elsewhere.
 * -1 with errno set (ELOOP or ENOTDIR when something else is in the way). */
static int open_seq_dir(int dirfd, const char *seq)
{
  return openat(dirfd, seq, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static bool whole_jpeg_at(int sfd, const char *name)
{
  int fd = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if(fd < 0)
    return false;
  struct stat sb;
  uint8_t a[2], z[2];
  bool ok = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= 4 &&
            pread(fd, a, 2, 0) == 2 && pread(fd, z, 2, sb.st_size - 2) == 2 && a[0] == 0xFF &&
            a[1] == 0xD8 && z[0] == 0xFF && z[1] == 0xD9;
  close(fd);
  return ok;
}

bool imgdl_on_disk(int dirfd, const char *seq, const char *name)
{
  int sfd = open_seq_dir(dirfd, seq);
  if(sfd < 0)
    return false;
  bool ok = whole_jpeg_at(sfd, name);
  close(sfd);
  return ok;
}

static bool write_all(int fd, const uint8_t *p, size_t n)
{
  while(n) {
    ssize_t w = write(fd, p, n);
    if(w < 0 && errno == EINTR)
      continue;
    if(w <= 0)
      return false;
    p += w;
    n -= (size_t)w;
  }
  return true;
}

enum mly_rc imgdl_save(int dirfd, const char *shown, const char *seq, const char *name,
                       const uint8_t *p, size_t n, bool *existed, struct mly_err *err)
{
  char tmp[IMGDL_SEQ_MAX + 64];
  *existed = false;
  if(mkdirat(dirfd, seq, 0777) != 0 && errno != EEXIST)
    return mly_err_set(err, MLY_EIO, "cannot create %s/%s: %s", shown, seq, strerror(errno));
  int sfd = open_seq_dir(dirfd, seq);
  if(sfd < 0) {
    int e = errno;
    if(e == ELOOP || e == ENOTDIR)
      return mly_err_set(err, MLY_EIO, "%s/%s is in the way: not a folder (a symlink is not "
                         "followed)", shown, seq);
    return mly_err_set(err, MLY_EIO, "cannot open %s/%s: %s", shown, seq, strerror(e));
  }
  /* an unnamed file, linked under its name once whole: the name never
   * shows a part of an image, and a killed run leaves nothing */
  int fd = openat(sfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
  bool named = fd < 0;
  snprintf(tmp, sizeof(tmp), ".%s.%ld.part", name, (long)getpid());
  if(named) { /* a file system without O_TMPFILE: a named temporary file */
    fd = openat(sfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
    if(fd < 0) {
      int e = errno;
      close(sfd);
      return mly_err_set(err, MLY_EIO, "cannot create a file in %s/%s: %s", shown, seq,
                         strerror(e));
    }
  }
  int e = 0;
  if(!write_all(fd, p, n))
    e = errno ? errno : EIO;
  char proc[64];
  snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
  if(!e && !named && linkat(AT_FDCWD, proc, sfd, name, AT_SYMLINK_FOLLOW) != 0)
    e = errno;
  /* link, not rename: an existing name is never replaced... */
  if(!e && named && linkat(sfd, tmp, sfd, name, 0) != 0)
    e = errno;
  if(e == EEXIST) {
    struct stat sb;
    if(whole_jpeg_at(sfd, name)) /* a whole image already (the same id twice) */
      *existed = true;
    else if(fstatat(sfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode)) {
      /* ...unless it is one a crash left cut short: a regular file under
       * our name in our folder, replaced by the whole one */
      e = 0;
      if(!named) {
        unlinkat(sfd, tmp, 0);
        if(linkat(AT_FDCWD, proc, sfd, tmp, AT_SYMLINK_FOLLOW) != 0)
          e = errno;
        named = !e;
      }
      if(!e && renameat(sfd, tmp, sfd, name) != 0)
        e = errno;
    }
    else
      e = EEXIST;
    if(*existed)
      e = 0;
  }
  if(close(fd) != 0 && !e)
    e = errno;
  if(named)
    unlinkat(sfd, tmp, 0); /* gone after a rename; else the name was linked */
  close(sfd);
  if(e == EEXIST)
    return mly_err_set(err, MLY_EIO, "%s/%s/%s is in the way: not a regular file", shown, seq,
                       name);
  if(e)
    return mly_err_set(err, MLY_EIO, "cannot write %s/%s/%s: %s", shown, seq, name, strerror(e));
  return MLY_OK;
}

/* ---- the run ------------------------------------------------------------ */

enum slot_state { S_FREE = 0, S_WAIT_URL, S_WAIT_DL, S_DOWNLOADING, S_DONE };

/* One feature of the window */
struct slot {
  json_t *props, *geom;
  uint64_t id;
  char seq[IMGDL_SEQ_MAX + 1];
  enum slot_state st;
  bool image;          /* on disk at the end: gets image_path */
  bool relinked;       /* the Graph API was asked again for it */
  char *url;           /* the link it was fetched through (malloc'd) */
  struct slot *dl_next;
};

struct run {
  const struct imgdl_opts *o;
  struct imgdl_stats *st;
  struct mly_err *err;
  struct featread *in;
  struct imgurl *q;
  struct fetch *f;
  struct slot *ring;
  size_t cap, head, count;    /* window: count slots from head, in input order */
  struct slot *dlq, *dlq_tail; /* links known, waiting for a download slot */
  int dirfd;                  /* DIR, opened once: sequence folders are found in it */
  struct outfile_folders made; /* the folders of DIR this run made */
  struct outfile out;
  bool out_open;
  enum outfmt fmt;
  struct featcsv csv;
  struct dbuf text;
  char rel[PATH_MAX];         /* DIR relative to OUT's folder ("" when the same) */
  char *field_names;          /* copy of --fields cut at commas */
  size_t nfields;
  enum mly_rc fail;           /* a stop decided in a callback */
  struct timespec t0;
};

static void note(char (*ids)[24], char *whys, size_t why_cap, uint64_t count, uint64_t id,
                 const char *why)
{
  if(count > IMGDL_NAMED)
    return;
  snprintf(ids[count - 1], 24, "%llu", (unsigned long long)id);
  snprintf(whys + (count - 1) * why_cap, why_cap, "%s", why ? why : "");
}

static void mark_unavailable(struct run *r, struct slot *s, const char *why)
{
  r->st->unavailable++;
  note(r->st->unavailable_ids, &r->st->unavailable_why[0][0], sizeof(r->st->unavailable_why[0]),
       r->st->unavailable, s->id, why);
  s->st = S_DONE;
}

static void mark_failed(struct run *r, struct slot *s, const char *why)
{
  r->st->failed++;
  note(r->st->failed_ids, &r->st->failed_why[0][0], sizeof(r->st->failed_why[0]), r->st->failed,
       s->id, why);
  s->st = S_DONE;
}

static void slot_clear(struct slot *s)
{
  json_decref(s->props);
  json_decref(s->geom);
  free(s->url);
  memset(s, 0, sizeof(*s));
}

static void dlq_push(struct run *r, struct slot *s)
{
  s->dl_next = NULL;
  s->st = S_WAIT_DL;
  if(r->dlq_tail)
    r->dlq_tail->dl_next = s;
  else
    r->dlq = s;
  r->dlq_tail = s;
}

/* The image's file name in its sequence folder */
static void image_name(const struct slot *s, char *name, size_t ncap)
{
  snprintf(name, ncap, "%llu.jpg", (unsigned long long)s->id);
}

/* A feature's decimal id (graph_json_id: digits or a non-negative integer) */
static bool feature_id(json_t *props, uint64_t *out)
{
  return graph_json_id(json_object_get(props, "id"), out);
}

static bool feature_seq(json_t *props, char *out, size_t cap)
{
  json_t *v = json_object_get(props, "sequence_id");
  char buf[32];
  if(json_is_integer(v)) {
    int n = snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
    return imgdl_safe_name(buf, (size_t)n, out, cap);
  }
  return json_is_string(v) && imgdl_safe_name(json_string_value(v), json_string_length(v), out, cap);
}

/* ---- writing OUT in input order ------------------------------------------- */

static enum mly_rc add_paths(struct run *r, struct slot *s)
{
  if(!s->image)
    return MLY_OK;
  char p[PATH_MAX + 200];
  snprintf(p, sizeof(p), "%s%s%s/%llu.jpg", r->rel, r->rel[0] ? "/" : "", s->seq,
           (unsigned long long)s->id);
  if(s->url && json_object_set_new(s->props, "image_url", json_string(s->url)))
    return MLY_ENOMEM;
  if(json_object_set_new(s->props, "image_path", json_string(p)))
    return MLY_ENOMEM;
  return MLY_OK;
}

/* Write the finished features at the head of the window */
static enum mly_rc drain(struct run *r)
{
  while(r->count && r->ring[r->head].st == S_DONE) {
    struct slot *s = &r->ring[r->head];
    enum mly_rc rc = MLY_OK;
    if(r->out_open) {
      rc = add_paths(r, s);
      if(rc)
        return mly_err_set(r->err, rc, "out of memory");
      dbuf_reset(&r->text);
      rc = feature_write(&r->text, r->fmt, &r->csv, s->props, s->geom, r->err);
      if(!rc)
        rc = outfile_feature(&r->out, r->text.p, r->text.n, r->err);
      if(rc)
        return rc;
    }
    slot_clear(s);
    r->head = (r->head + 1) % r->cap;
    r->count--;
  }
  return MLY_OK;
}

/* ---- reading ------------------------------------------------------------ */

/* Read one feature into the window; *more false at the end of the input */
static enum mly_rc read_one(struct run *r, bool *more)
{
  struct feature ft;
  enum mly_rc rc = featread_next(r->in, &ft, more, r->err);
  if(rc || !*more) {
    if(!rc)
      r->st->input_done = true;
    return rc;
  }
  struct slot *s = &r->ring[(r->head + r->count) % r->cap];
  r->count++;
  r->st->points++;
  s->props = json_incref(ft.properties);
  s->geom = ft.geometry ? json_incref(ft.geometry) : NULL;
  s->st = S_DONE;
  if(!feature_id(s->props, &s->id) || !feature_seq(s->props, s->seq, sizeof(s->seq))) {
    r->st->skipped++;
    return MLY_OK;
  }
  char name[32];
  image_name(s, name, sizeof(name));
  if(r->dirfd >= 0 && imgdl_on_disk(r->dirfd, s->seq, name)) {
    r->st->on_disk++;
    s->image = true;
    return MLY_OK;
  }
  r->st->to_fetch++;
  if(r->o->dry_run)
    return MLY_OK;
  s->st = S_WAIT_URL;
  if(imgurl_add(r->q, s->id, s))
    return mly_err_set(r->err, MLY_ENOMEM, "out of memory");
  return MLY_OK;
}

/* ---- requests ----------------------------------------------------------- */

#define DL_TAG 1u /* low bit of req->user: a download (slot), else a Graph batch */

static bool budget_left(const struct run *r)
{
  return !r->o->max_requests ||
         r->st->graph_requests + r->st->image_requests < r->o->max_requests;
}

static int src_next(void *user, struct fetch_req *req)
{
  struct run *r = user;
  while(!r->fail && budget_left(r)) {
    if(r->dlq) {
      struct slot *s = r->dlq;
      r->dlq = s->dl_next;
      if(!r->dlq)
        r->dlq_tail = NULL;
      snprintf(req->url, sizeof(req->url), "%s", s->url);
      req->kind = FETCH_KIND_BLOB;
      req->auth = FETCH_AUTH_NONE;
      req->user = (void *)((uintptr_t)s | DL_TAG);
      s->st = S_DOWNLOADING;
      r->st->image_requests++;
      r->st->started = true;
      return 1;
    }
    if(imgurl_ready(r->q)) {
      if(imgurl_next(r->q, req)) {
        r->st->graph_requests++;
        r->st->started = true;
        return 1;
      }
      if(imgurl_failure(r->q, NULL))
        return 0;
      continue;
    }
    if(!r->st->input_done && r->count < r->cap) {
      bool more;
      enum mly_rc rc = read_one(r, &more);
      if(!rc)
        rc = drain(r);
      if(rc) {
        r->fail = rc;
        return 0;
      }
      continue;
    }
    /* the window cannot take more: let the partial batch go */
    if(imgurl_pending(r->q) && !imgurl_ready(r->q)) {
      imgurl_flush(r->q);
      if(imgurl_ready(r->q))
        continue;
    }
    return 0;
  }
  return 0;
}

/* A link from the Graph API (or none) for one slot */
static enum mly_rc on_hit(void *user, const struct imgurl_hit *h)
{
  struct run *r = user;
  struct slot *s = h->item;
  if(h->state == IMGURL_UNAVAILABLE) {
    mark_unavailable(r, s, h->why);
    return MLY_OK;
  }
  if(h->state == IMGURL_FAILED) {
    mark_failed(r, s, h->why);
    return MLY_OK;
  }
  free(s->url);
  s->url = strdup(h->url);
  if(!s->url)
    return MLY_ENOMEM;
  /* the extra fields, asked for in the same request */
  const char *name = r->field_names;
  for(size_t i = 0; i < r->nfields; i++, name += strlen(name) + 1) {
    json_t *v = json_object_get(h->entity, name);
    if(v && json_object_set(s->props, name, v))
      return MLY_ENOMEM;
  }
  dlq_push(r, s);
  return MLY_OK;
}

static enum fetch_verdict image_done(struct run *r, struct slot *s, struct fetch_result *res)
{
  char name[32];
  switch(res->status) {
  case FETCH_OK: {
    if(!imgdl_is_jpeg(res->body, res->n) ||
       (res->content_length >= 0 && (uint64_t)res->content_length != res->n)) {
      snprintf(res->msg, sizeof(res->msg), "image %llu: not a whole JPEG (%zu bytes)",
               (unsigned long long)s->id, res->n);
      return FETCH_RETRY;
    }
    image_name(s, name, sizeof(name));
    bool existed;
    enum mly_rc rc =
        imgdl_save(r->dirfd, r->o->images_dir, s->seq, name, res->body, res->n, &existed, r->err);
    if(rc) {
      r->fail = rc;
      return FETCH_STOP;
    }
    if(!existed) { /* else the same image twice in the input: written once */
      r->st->written++;
      r->st->bytes += res->n;
    }
    s->image = true;
    s->st = S_DONE;
    return FETCH_ACCEPT;
  }
  case FETCH_EMPTY:
    /* a 200 without a body: like a cut one */
    snprintf(res->msg, sizeof(res->msg), "image %llu: empty answer", (unsigned long long)s->id);
    return FETCH_RETRY;
  case FETCH_REFUSED:
    /* the link expired, was revoked, or the file is gone: a new link once */
    if(!s->relinked) {
      s->relinked = true;
      r->st->relinked++;
      s->st = S_WAIT_URL;
      if(imgurl_add(r->q, s->id, s)) {
        r->fail = mly_err_set(r->err, MLY_ENOMEM, "out of memory");
        return FETCH_STOP;
      }
      return FETCH_ACCEPT;
    }
    char why[96];
    snprintf(why, sizeof(why), "the cdn refused a new link too (%.60s)", res->msg);
    if(res->http_status == 404 || res->http_status == 410)
      mark_unavailable(r, s, "gone from the cdn");
    else
      mark_failed(r, s, why);
    return FETCH_ACCEPT;
  case FETCH_RATE_LIMIT:
    r->fail = mly_err_set(r->err, MLY_ERATE, "image %llu: %s", (unsigned long long)s->id, res->msg);
    return FETCH_STOP;
  default:
    mark_failed(r, s, res->msg);
    return FETCH_ACCEPT;
  }
}

static enum fetch_verdict src_done(void *user, void *req_user, struct fetch_result *res)
{
  struct run *r = user;
  enum fetch_verdict v;
  if((uintptr_t)req_user & DL_TAG)
    v = image_done(r, (struct slot *)((uintptr_t)req_user & ~(uintptr_t)DL_TAG), res);
  else {
    v = imgurl_done(r->q, req_user, res);
    if(v == FETCH_STOP && !r->fail)
      r->fail = imgurl_failure(r->q, r->err);
  }
  if(v != FETCH_STOP) {
    enum mly_rc rc = drain(r);
    if(rc) {
      r->fail = rc;
      return FETCH_STOP;
    }
  }
  return v;
}

static int src_tick(void *user)
{
  struct run *r = user;
  const struct fetch_stats *fs = fetch_get_stats(r->f);
  r->st->retries = fs->retries;
  if(r->o->progress)
    r->o->progress(r->o->progress_user, r->st);
  return r->o->stop && *r->o->stop;
}

/* ---- setup -------------------------------------------------------------- */

/* DIR relative to OUT's folder, both existing: the path an image_path
 * starts with ("" when they are the same folder) */
static enum mly_rc relative_dir(struct run *r)
{
  char out_dir[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
  const char *out = r->o->output;
  const char *slash = strcmp(out, "-") ? strrchr(out, '/') : NULL;
  if(!slash)
    snprintf(out_dir, sizeof(out_dir), ".");
  else if(slash == out)
    snprintf(out_dir, sizeof(out_dir), "/");
  else
    snprintf(out_dir, sizeof(out_dir), "%.*s", (int)(slash - out), out);
  if(!realpath(out_dir, a))
    return mly_err_set(r->err, MLY_EIO, "cannot resolve %s: %s", out_dir, strerror(errno));
  if(!realpath(r->o->images_dir, b))
    return mly_err_set(r->err, MLY_EIO, "cannot resolve %s: %s", r->o->images_dir,
                       strerror(errno));
  /* the longest common run of whole components */
  size_t i = 0, common = 0;
  while(a[i] && a[i] == b[i]) {
    i++;
    if(a[i] == '/' || a[i] == '\0')
      common = i;
  }
  if(!(a[i] == '\0' && (b[i] == '/' || b[i] == '\0')))
    i = common;
  if(strcmp(a, "/") == 0)
    i = 0;
  size_t o = 0;
  r->rel[0] = '\0';
  for(const char *p = a + i; *p; p++) /* one ".." per component of a left */
    if(*p == '/' && o + 4 < sizeof(r->rel))
      o += (size_t)snprintf(r->rel + o, sizeof(r->rel) - o, "%s..", o ? "/" : "");
  const char *rest = b + i;
  while(*rest == '/')
    rest++;
  if(*rest)
    snprintf(r->rel + o, sizeof(r->rel) - o, "%s%s", o ? "/" : "", rest);
  return MLY_OK;
}

static enum mly_rc split_fields(struct run *r)
{
  if(!r->o->fields)
    return MLY_OK;
  if(!imgurl_fields_valid(r->o->fields))
    return mly_err_set(r->err, MLY_EINVAL,
                       "--fields: '%.100s' is not a comma-separated list of field names",
                       r->o->fields);
  r->field_names = strdup(r->o->fields);
  if(!r->field_names)
    return mly_err_set(r->err, MLY_ENOMEM, "out of memory");
  r->nfields = 1;
  for(char *c = r->field_names; *c; c++)
    if(*c == ',') {
      *c = '\0';
      r->nfields++;
    }
  /* a nested selection "creator{username}" is the member "creator" */
  char *name = r->field_names;
  for(size_t i = 0; i < r->nfields; i++, name += strlen(name) + 1) {
    char *brace = strchr(name, '{');
    if(brace)
      memset(brace, 0, strlen(brace));
  }
  return MLY_OK;
}

static enum mly_rc setup(struct run *r)
{
  const struct imgdl_opts *o = r->o;
  enum mly_rc rc = split_fields(r);
  if(rc)
    return rc;
  if(!o->dry_run && !o->graph_url)
    return mly_err_set(r->err, MLY_EINVAL, "no graph api url");
  if(!o->dry_run && !o->fetch.token && strncmp(o->graph_url, "file:", 5) != 0)
    return mly_err_set(r->err, MLY_EINVAL,
                       "MAPILLARY_ACCESS_TOKEN is not set (needed for the graph api)");
  struct paths_use uses[] = {{o->input, "--input_file_points", false},
                             {o->output, "--output_file_points", true}};
  rc = paths_check_distinct(uses, 2, r->err);
  if(rc)
    return rc;
  rc = featread_open(o->input, &r->in, r->err);
  if(rc)
    return rc;
  size_t conc = o->fetch.concurrency > 0 ? (size_t)o->fetch.concurrency : 1;
  r->cap = conc * 64 > IMGDL_WINDOW_MIN ? conc * 64 : IMGDL_WINDOW_MIN;
  r->ring = calloc(r->cap, sizeof(*r->ring));
  if(!r->ring)
    return mly_err_set(r->err, MLY_ENOMEM, "out of memory");
  if(!o->images_dir[0])
    return mly_err_set(r->err, MLY_EINVAL, "--output_images_path needs a folder, not ''");
  if(o->dry_run) { /* DIR may not be there yet: then nothing is on disk */
    r->dirfd = open(o->images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return MLY_OK;
  }
  /* the folders: DIR's and OUT's checked before any request */
  char probe[PATH_MAX];
  if(snprintf(probe, sizeof(probe), "%s/.probe", o->images_dir) >= (int)sizeof(probe))
    return mly_err_set(r->err, MLY_EINVAL, "--output_images_path is too long");
  rc = outfile_prepare_dir(probe, r->err);
  if(!rc)
    rc = outfile_prepare_dir(o->output, r->err);
  if(rc)
    return rc;
  struct imgurl_opts io = {.graph_url = o->graph_url, .size = o->size, .fields = o->fields};
  rc = imgurl_new(&io, on_hit, r, &r->q, r->err);
  if(rc)
    return rc;
  struct fetch_opts fo = o->fetch;
  fo.max_body = IMGDL_BODY_MAX;
  rc = fetch_new(&fo, &r->f, r->err);
  if(rc)
    return rc;
  /* then made: a run that fails removes them again when they stay empty */
  rc = outfile_make_folder(o->images_dir, &r->made, r->err);
  if(rc)
    return rc;
  r->fmt = outfile_format_for(o->output);
  rc = outfile_open_as(&r->out, o->output, OUTFILE_FEATURES, r->err);
  if(rc)
    return rc;
  r->out_open = true;
  rc = relative_dir(r);
  if(rc)
    return rc;
  /* DIR is the user's to name (a symlink there is followed); what is in it
   * is reached through this descriptor, one name at a time */
  r->dirfd = open(o->images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if(r->dirfd < 0)
    return mly_err_set(r->err, MLY_EIO, "cannot open %s: %s", o->images_dir, strerror(errno));
  return MLY_OK;
}

static void cleanup(struct run *r, bool failed)
{
  for(size_t i = 0; r->ring && i < r->cap; i++)
    slot_clear(&r->ring[i]);
  free(r->ring);
  if(r->dirfd >= 0)
    close(r->dirfd);
  fetch_free(&r->f);
  imgurl_free(&r->q);
  featread_close(&r->in);
  if(r->out_open)
    outfile_abort(&r->out);
  outfile_folders_done(&r->made, failed); /* after OUT's temporary file is gone */
  featcsv_cleanup(&r->csv);
  dbuf_cleanup(&r->text);
  free(r->field_names);
}

static enum mly_rc dry_run(struct run *r)
{
  bool more = true;
  while(more) {
    enum mly_rc rc = read_one(r, &more);
    if(!rc)
      rc = drain(r);
    if(rc)
      return rc;
    if(r->o->stop && *r->o->stop)
      return mly_err_set(r->err, MLY_ESTOP, "interrupted");
  }
  return MLY_OK;
}

static enum mly_rc finish(struct run *r, enum mly_rc frc, struct mly_err *ferr)
{
  struct imgdl_stats *st = r->st;
  if(r->fail)
    return r->fail; /* err was set where it was decided */
  if(frc == MLY_ESTOP)
    return mly_err_set(r->err, MLY_ESTOP, "interrupted: %llu images written, rerun to resume",
                       (unsigned long long)st->written);
  if(frc) {
    *r->err = *ferr;
    return frc;
  }
  if(!st->input_done || r->count) {
    /* the budget ran out before the end */
    uint64_t left = st->to_fetch - st->written - st->unavailable - st->failed;
    return mly_err_set(r->err, MLY_ESTOP,
                       "request budget (--max_requests %llu) spent: %llu images written, %llu%s "
                       "left; rerun to resume",
                       (unsigned long long)r->o->max_requests, (unsigned long long)st->written,
                       (unsigned long long)left, st->input_done ? "" : " or more");
  }
  if(st->failed)
    return mly_err_set(r->err, MLY_EHTTP,
                       "%llu images failed (first: %s: %s); the others are written, %s is not; "
                       "rerun to retry",
                       (unsigned long long)st->failed, st->failed_ids[0], st->failed_why[0],
                       r->o->output);
  enum mly_rc rc = outfile_close(&r->out, r->err);
  if(!rc)
    rc = outfile_publish(&r->out, r->err);
  if(!rc)
    st->published = true;
  return rc;
}

enum mly_rc imgdl_run(const struct imgdl_opts *o, struct imgdl_stats *st, struct mly_err *err)
{
  struct run r = {.o = o, .st = st, .err = err, .dirfd = -1};
  memset(st, 0, sizeof(*st));
  dbuf_init(&r.text, 2 * (size_t)FEATREAD_FEATURE_MAX);
  enum mly_rc rc = setup(&r);
  if(rc)
    goto out;
  if(o->dry_run) {
    rc = dry_run(&r);
    goto out;
  }
  struct fetch_source src = {.next = src_next, .done = src_done, .user = &r};
  struct mly_err ferr = {0};
  enum mly_rc frc = fetch_run(r.f, &src, src_tick, &ferr);
  if(!r.fail && !frc)
    r.fail = drain(&r);
  st->retries = fetch_get_stats(r.f)->retries;
  rc = finish(&r, frc, &ferr);
out:
  if(o->progress)
    o->progress(o->progress_user, st);
  cleanup(&r, rc != MLY_OK);
  return rc;
}
