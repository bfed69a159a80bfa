/* seq.c -- group kept images by sequence, order them, write LineStrings or CSV rows */
#include "mly/seq.h"
#include "mly/csvw.h"
#include "mly/dbuf.h"
#include "mly/jsonw.h"
#include "mly/tempfile.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(sizeof(struct seq_point) <= 48, "seq_point must stay compact");

/* Bytes of a point that hold fields: the rest is padding, zeroed by
 * seq_add so that runs on disk hold no uninitialized bytes */
#define POINT_USED (offsetof(struct seq_point, lat_form) + sizeof(uint8_t))
_Static_assert(POINT_USED <= sizeof(struct seq_point), "lat_form is the last field");

/* Runs merged at once while points are added: each point is rewritten
 * about log64(points / limit) times (not at all below 64 runs: 16 million
 * points at the job's limit), and at most 63 runs per level stay */
#define MERGE_FANIN 64
/* Points read from a run at a time (48 KiB per run being merged) */
#define READ_POINTS 1024
/* Bytes buffered before a write to a temporary file */
#define WRITE_BYTES (64 * 1024)

/* A sorted run of points in an unnamed temporary file */
struct run {
  int fd;
  uint64_t count;
  unsigned level; /* 0: spilled from memory; n + 1: merged from level n runs */
};

struct seq_builder {
  const struct strtab *strings;
  struct seq_point *pts; /* in memory, in arrival order until sorted */
  size_t n, cap;
  size_t sorted;         /* pts[0..sorted) are in (sequence, vertex) order */
  size_t max_points;     /* 0: no bound */
  uint64_t total;        /* points added, in memory or in runs: the next ordinal */
  struct run *runs;      /* levels never increase from first to last */
  size_t nruns, runs_cap;
  struct mly_err add_err; /* the last failed seq_add */
  seq_extra_fn extra;     /* properties added to each sequence, or NULL */
  void *extra_user;
};

struct seq_builder *seq_new(const struct strtab *strings)
{
  struct seq_builder *b = calloc(1, sizeof(*b));
  if(b)
    b->strings = strings;
  return b;
}

void seq_free(struct seq_builder **bp)
{
  struct seq_builder *b = *bp;
  if(!b)
    return;
  for(size_t i = 0; i < b->nruns; i++)
    close(b->runs[i].fd);
  free(b->runs);
  free(b->pts);
  free(b);
  *bp = NULL;
}

void seq_set_extra(struct seq_builder *b, seq_extra_fn fn, void *user)
{
  b->extra = fn;
  b->extra_user = user;
}

void seq_set_memory_limit(struct seq_builder *b, size_t max_points)
{
  b->max_points = max_points;
}

size_t seq_point_count(const struct seq_builder *b)
{
  return (size_t)b->total;
}

enum mly_rc seq_add_error(const struct seq_builder *b, struct mly_err *err)
{
  if(err && b->add_err.rc)
    *err = b->add_err;
  return b->add_err.rc;
}

/* ---- order ----------------------------------------------------------------- */

static int cmp_u64(uint64_t a, uint64_t b)
{
  return (a > b) - (a < b);
}

/* unknown < numeric (by value) < non-numeric string (bytewise) */
static int cmp_id(const struct seq_point *a, const struct seq_point *b,
                  const struct strtab *strings)
{
  int ka = !(a->flags & SEQP_ID_KNOWN) ? 0 : (a->flags & SEQP_ID_STR) ? 2 : 1;
  int kb = !(b->flags & SEQP_ID_KNOWN) ? 0 : (b->flags & SEQP_ID_STR) ? 2 : 1;
  if(ka != kb)
    return ka - kb;
  if(ka == 1)
    return cmp_u64(a->id, b->id);
  if(ka == 2) {
    struct mly_view va = strtab_get(strings, (uint32_t)a->id);
    struct mly_view vb = strtab_get(strings, (uint32_t)b->id);
    size_t n = va.n < vb.n ? va.n : vb.n;
    int c = n ? memcmp(va.p, vb.p, n) : 0;
    return c ? c : cmp_u64(va.n, vb.n);
  }
  return 0;
}

/* vertex order: captured_at (unknown first), id, tile order. Ordinals are
 * unique, so this is a total order: any correct sort or merge of the same
 * points gives the same sequence, which is what makes a build that spills
 * to disk write the same bytes as one in memory. */
static int cmp_vertex(const struct seq_point *a, const struct seq_point *b,
                      const struct strtab *strings)
{
  int ca = !!(a->flags & SEQP_CAPTURED_KNOWN), cb = !!(b->flags & SEQP_CAPTURED_KNOWN);
  if(ca != cb)
    return ca - cb;
  if(ca && a->captured_at != b->captured_at)
    return a->captured_at < b->captured_at ? -1 : 1;
  int c = cmp_id(a, b, strings);
  if(c)
    return c;
  return cmp_u64(a->ordinal, b->ordinal);
}

static int cmp_point(const struct seq_point *a, const struct seq_point *b,
                     const struct strtab *strings)
{
  if(a->seq != b->seq)
    return a->seq < b->seq ? -1 : 1;
  return cmp_vertex(a, b, strings);
}

/* qsort_r comparators: the context is the string table (not a file-level
 * static, so that builders may sort in several threads) */
static int qcmp_point(const void *pa, const void *pb, void *strings)
{
  return cmp_point(pa, pb, strings);
}

/* Merge sort of one sequence's points in vertex order; tmp holds n / 2 */
static void sort_vertices(struct seq_point *v, struct seq_point *tmp, size_t n,
                          const struct strtab *strings)
{
  if(n <= 12) {
    for(size_t i = 1; i < n; i++) {
      struct seq_point p = v[i];
      size_t j = i;
      for(; j > 0 && cmp_vertex(&p, &v[j - 1], strings) < 0; j--)
        v[j] = v[j - 1];
      v[j] = p;
    }
    return;
  }
  size_t h = n / 2;
  sort_vertices(v, tmp, h, strings);
  sort_vertices(v + h, tmp, n - h, strings);
  if(cmp_vertex(&v[h - 1], &v[h], strings) <= 0)
    return; /* already in order, as a tile's points of one sequence often are */
  /* the left half moves out; the merge writes at or before the right
   * half's next point, so it never overwrites one not yet read */
  memcpy(tmp, v, h * sizeof(*v));
  size_t i = 0, j = h, k = 0;
  while(i < h && j < n)
    v[k++] = cmp_vertex(&v[j], &tmp[i], strings) < 0 ? v[j++] : tmp[i++];
  while(i < h)
    v[k++] = tmp[i++];
}

/* LSD radix sort of keys[0..n) by their upper 32 bits, stable; tmp holds n */
static uint64_t *radix_by_high(uint64_t *keys, uint64_t *tmp, size_t n, uint32_t max_high)
{
  enum { BITS = 11, BUCKETS = 1 << BITS };
  static_assert(BITS * 3 >= 32, "three passes cover 32 bits");
  size_t count[BUCKETS];
  for(unsigned shift = 32; shift < 64 && (max_high >> (shift - 32)) != 0; shift += BITS) {
    memset(count, 0, sizeof(count));
    for(size_t i = 0; i < n; i++)
      count[(keys[i] >> shift) & (BUCKETS - 1)]++;
    size_t sum = 0;
    for(size_t d = 0; d < BUCKETS; d++) {
      size_t c = count[d];
      count[d] = sum;
      sum += c;
    }
    for(size_t i = 0; i < n; i++)
      tmp[count[(keys[i] >> shift) & (BUCKETS - 1)]++] = keys[i];
    uint64_t *t = keys;
    keys = tmp;
    tmp = t;
  }
  return keys;
}

/* Put pts[order[r]] at r for every r, in place, cycle by cycle; the low 32
 * bits of order are the positions, bit 63 marks a place filled */
static void permute(struct seq_point *pts, uint64_t *order, size_t n)
{
  const uint64_t filled = (uint64_t)1 << 63;
  for(size_t r = 0; r < n; r++) {
    if(order[r] & filled)
      continue;
    struct seq_point first = pts[r];
    size_t j = r;
    for(;;) {
      size_t from = (uint32_t)order[j];
      order[j] |= filled;
      if(from == r) {
        pts[j] = first;
        break;
      }
      pts[j] = pts[from];
      j = from;
    }
  }
}

/* pts[0..n) in (sequence, vertex) order. A stable radix sort by sequence
 * groups them with each sequence's points still in arrival order; each
 * sequence is then sorted on its own (the comparisons inline, no qsort
 * callback). Scratch: 16 bytes per point and half the longest sequence.
 * Falls back to qsort_r when that memory is not had. */
static void sort_range(struct seq_point *pts, size_t n, const struct strtab *strings)
{
  if(n < 2)
    return;
  uint64_t *keys = n <= UINT32_MAX ? malloc(2 * n * sizeof(*keys)) : NULL;
  if(!keys) {
    qsort_r(pts, n, sizeof(*pts), qcmp_point, (void *)strings);
    return;
  }
  uint32_t max_seq = 0;
  for(size_t i = 0; i < n; i++) {
    keys[i] = (uint64_t)pts[i].seq << 32 | i;
    if(pts[i].seq > max_seq)
      max_seq = pts[i].seq;
  }
  uint64_t *order = radix_by_high(keys, keys + n, n, max_seq);
  size_t longest = 1;
  for(size_t i = 0; i < n;) {
    size_t e = i + 1;
    while(e < n && order[e] >> 32 == order[i] >> 32)
      e++;
    if(e - i > longest)
      longest = e - i;
    i = e;
  }
  struct seq_point *tmp = malloc((longest / 2 + 1) * sizeof(*tmp));
  if(!tmp) {
    free(keys);
    qsort_r(pts, n, sizeof(*pts), qcmp_point, (void *)strings);
    return;
  }
  permute(pts, order, n);
  free(keys);
  for(size_t i = 0; i < n;) {
    size_t e = i + 1;
    while(e < n && pts[e].seq == pts[i].seq)
      e++;
    sort_vertices(pts + i, tmp, e - i, strings);
    i = e;
  }
  free(tmp);
}

/* Every point in memory in (sequence, vertex) order: the points added
 * since the last sort are sorted on their own, then merged in from the
 * back (scratch: a copy of them). Without that memory, all are sorted
 * again. */
static void sort_points(struct seq_builder *b)
{
  size_t k = b->sorted, n = b->n;
  if(k == n)
    return;
  struct seq_point *tail = k ? malloc((n - k) * sizeof(*tail)) : NULL;
  if(!tail)
    k = 0;
  sort_range(b->pts + k, n - k, b->strings);
  if(tail) {
    memcpy(tail, b->pts + k, (n - k) * sizeof(*tail));
    size_t i = k, t = n - k, out = n;
    while(t > 0) {
      if(i > 0 && cmp_point(&b->pts[i - 1], &tail[t - 1], b->strings) > 0)
        b->pts[--out] = b->pts[--i];
      else
        b->pts[--out] = tail[--t];
    }
    free(tail);
  }
  b->sorted = n;
}

void seq_presort(struct seq_builder *b)
{
  /* a merge passes over every point: only when the new points are an
   * eighth of the sorted ones or more, so that calls often cost little:
   * the merges then pass over each point about nine times in all */
  if((b->n - b->sorted) * 8 >= b->sorted)
    sort_points(b);
}

#define ADD_LIT(b, s) dbuf_add(b, s, sizeof(s) - 1)

static enum mly_rc add_id(struct dbuf *t, const struct strtab *strings, const struct seq_point *p)
{
  if(p->flags & SEQP_ID_STR) {
    struct mly_view v = strtab_get(strings, (uint32_t)p->id);
    return dbuf_add(t, v.p, v.n);
  }
  char num[JSONW_NUM_MAX];
  size_t n = jsonw_u64(num, p->id);
  return dbuf_add(t, num, n);
}

/* geokit's images_id into tmp: every id under 100 images, else every
 * (n/10)-th; unknown ids are skipped */
static enum mly_rc images_id_text(struct dbuf *tmp, const struct strtab *strings,
                                  const struct seq_point *v, size_t n)
{
  size_t step = n * 10 / 100;
  if(step < 10)
    step = 1;
  dbuf_reset(tmp);
  enum mly_rc rc = MLY_OK;
  for(size_t i = 0; i < n && !rc; i += step) {
    if(!(v[i].flags & SEQP_ID_KNOWN))
      continue;
    if(tmp->n)
      rc = ADD_LIT(tmp, ",");
    if(!rc)
      rc = add_id(tmp, strings, &v[i]);
  }
  return rc;
}

static enum mly_rc add_images_id(struct dbuf *t, struct dbuf *tmp, const struct strtab *strings,
                                 const struct seq_point *v, size_t n)
{
  enum mly_rc rc = images_id_text(tmp, strings, v, n);
  if(rc)
    return rc;
  return jsonw_string(t, tmp->p ? tmp->p : "", tmp->n);
}

/* The first vertex with a known captured_at, or n: unknown times sort
 * first, so it is the start and the last vertex the end */
static size_t first_known_time(const struct seq_point *v, size_t n)
{
  for(size_t i = 0; i < n; i++)
    if(v[i].flags & SEQP_CAPTURED_KNOWN)
      return i;
  return n;
}

/* organization_id of a sequence: the first known among its images, or NULL */
static const struct seq_point *first_org(const struct seq_point *v, size_t n)
{
  for(size_t i = 0; i < n; i++)
    if(v[i].org)
      return &v[i];
  return NULL;
}

/* Copy a short literal to o, returning the end */
static char *put(char *o, const char *lit)
{
  while(*lit)
    *o++ = *lit++;
  return o;
}

/* The n positions of v, each as open lon mid lat close, joined by sep
 * (GeoJSON "[lon,lat],[...]", WKT "lon lat, ..."), written straight into
 * room reserved once: the literals are at most 2 bytes each, and every
 * number has JSONW_NUM_MAX bytes from its start */
static enum mly_rc add_positions(struct dbuf *t, const struct seq_point *v, size_t n,
                                 const char *open, const char *mid, const char *close,
                                 const char *sep)
{
  const size_t per_point = 2 * JSONW_NUM_MAX + 8;
  if(n > (SIZE_MAX / 2) / per_point)
    return MLY_ETOOBIG;
  enum mly_rc rc = dbuf_reserve(t, n * per_point);
  if(rc)
    return rc;
  char *o = t->p + t->n;
  for(size_t i = 0; i < n; i++) {
    o = put(o, i ? sep : "");
    o = put(o, open);
    o += jsonw_coord_unpack(o, v[i].lon, v[i].lon_form);
    o = put(o, mid);
    o += jsonw_coord_unpack(o, v[i].lat, v[i].lat_form);
    o = put(o, close);
  }
  t->n = (size_t)(o - t->p);
  return MLY_OK;
}

static enum mly_rc write_sequence(struct dbuf *t, struct dbuf *tmp, const struct seq_builder *b,
                                  const struct seq_point *v, size_t n)
{
  const struct strtab *strings = b->strings;
  char num[JSONW_NUM_MAX];
  size_t len;
  enum mly_rc rc;
  dbuf_reset(t);
  if((rc = ADD_LIT(t, "{\"type\":\"Feature\",\"geometry\":{\"type\":\"LineString\",\"coordinates\":[")))
    return rc;
  if((rc = add_positions(t, v, n, "[", ",", "]", ",")))
    return rc;
  struct mly_view sid = strtab_get(strings, v[0].seq);
  if((rc = ADD_LIT(t, "]},\"properties\":{\"sequence_id\":")) ||
     (rc = jsonw_string(t, sid.p, sid.n)))
    return rc;
  if(v[0].flags & SEQP_PANO_KNOWN) {
    if((rc = (v[0].flags & SEQP_PANO) ? ADD_LIT(t, ",\"is_pano\":true")
                                        : ADD_LIT(t, ",\"is_pano\":false")))
      return rc;
  }
  const struct seq_point *with_org = first_org(v, n);
  if(with_org) {
    struct mly_view org = strtab_get(strings, with_org->org - 1);
    if((rc = ADD_LIT(t, ",\"organization_id\":")) || (rc = jsonw_string(t, org.p, org.n)))
      return rc;
  }
  len = jsonw_u64(num, n);
  if((rc = ADD_LIT(t, ",\"total_points\":")) || (rc = dbuf_add(t, num, len)))
    return rc;
  size_t first_known = first_known_time(v, n);
  if(first_known < n) {
    len = jsonw_i64(num, v[first_known].captured_at);
    if((rc = ADD_LIT(t, ",\"captured_at_start\":")) || (rc = dbuf_add(t, num, len)))
      return rc;
    len = jsonw_i64(num, v[n - 1].captured_at);
    if((rc = ADD_LIT(t, ",\"captured_at_end\":")) || (rc = dbuf_add(t, num, len)))
      return rc;
  }
  if((rc = ADD_LIT(t, ",\"images_id\":")) || (rc = add_images_id(t, tmp, strings, v, n)))
    return rc;
  if(b->extra && (rc = b->extra(b->extra_user, v, n, false, t)))
    return rc;
  return ADD_LIT(t, "}}");
}

/* One CSV record (OUTFILE_CSV_SEQUENCES_HEADER): the same values as the
 * GeoJSON properties, then the line as WKT */
static enum mly_rc write_sequence_csv(struct dbuf *t, struct dbuf *tmp,
                                      const struct seq_builder *b, const struct seq_point *v,
                                      size_t n)
{
  const struct strtab *strings = b->strings;
  char num[JSONW_NUM_MAX];
  size_t len;
  enum mly_rc rc;
  dbuf_reset(t);
  struct mly_view sid = strtab_get(strings, v[0].seq);
  if((rc = csvw_field(t, sid.p, sid.n)) || (rc = ADD_LIT(t, ",")))
    return rc;
  if((v[0].flags & SEQP_PANO_KNOWN) &&
     (rc = (v[0].flags & SEQP_PANO) ? ADD_LIT(t, "true") : ADD_LIT(t, "false")))
    return rc;
  if((rc = ADD_LIT(t, ",")))
    return rc;
  const struct seq_point *with_org = first_org(v, n);
  if(with_org) {
    struct mly_view org = strtab_get(strings, with_org->org - 1);
    if((rc = csvw_field(t, org.p, org.n)))
      return rc;
  }
  len = jsonw_u64(num, n);
  if((rc = ADD_LIT(t, ",")) || (rc = dbuf_add(t, num, len)) || (rc = ADD_LIT(t, ",")))
    return rc;
  size_t first_known = first_known_time(v, n);
  if(first_known < n) {
    len = jsonw_i64(num, v[first_known].captured_at);
    if((rc = dbuf_add(t, num, len)) || (rc = ADD_LIT(t, ",")))
      return rc;
    len = jsonw_i64(num, v[n - 1].captured_at);
    if((rc = dbuf_add(t, num, len)))
      return rc;
  }
  else if((rc = ADD_LIT(t, ",")))
    return rc;
  if((rc = ADD_LIT(t, ",")) || (rc = images_id_text(tmp, strings, v, n)) ||
     (rc = csvw_field(t, tmp->p ? tmp->p : "", tmp->n)) || (rc = ADD_LIT(t, ",")))
    return rc;
  /* wkt: always holds a comma (two or more vertices), so always quoted */
  size_t start = t->n;
  if((rc = ADD_LIT(t, "LINESTRING (")))
    return rc;
  if((rc = add_positions(t, v, n, "", " ", "", ", ")) || (rc = ADD_LIT(t, ")")))
    return rc;
  if((rc = csvw_quote_from(t, start)))
    return rc;
  return b->extra ? b->extra(b->extra_user, v, n, true, t) : MLY_OK;
}

/* The text of one sequence in out's format */
static enum mly_rc sequence_text(const struct outfile *out, struct dbuf *text, struct dbuf *tmp,
                                 const struct seq_builder *b, const struct seq_point *v,
                                 size_t n, struct mly_err *err)
{
  enum mly_rc rc = out->fmt == OUTFMT_CSV ? write_sequence_csv(text, tmp, b, v, n)
                                          : write_sequence(text, tmp, b, v, n);
  if(rc)
    mly_err_set(err, rc, "cannot build sequence text: %s", mly_strerror(rc));
  return rc;
}

/* ---- temporary files --------------------------------------------------------- */

static enum mly_rc write_full(int fd, const void *p, size_t n, struct mly_err *err)
{
  const char *c = p;
  while(n) {
    /* Linux writes at most about 2 GiB at once */
    ssize_t w = write(fd, c, n < ((size_t)1 << 30) ? n : (size_t)1 << 30);
    if(w < 0 && errno == EINTR)
      continue;
    if(w <= 0)
      return mly_err_set(err, MLY_EIO, "cannot write a temporary file for sequences: %s",
                         strerror(w < 0 ? errno : ENOSPC));
    c += w;
    n -= (size_t)w;
  }
  return MLY_OK;
}

static enum mly_rc read_full(int fd, void *p, size_t n, uint64_t off, struct mly_err *err)
{
  char *c = p;
  while(n) {
    ssize_t r = pread(fd, c, n < ((size_t)1 << 30) ? n : (size_t)1 << 30, (off_t)off);
    if(r < 0 && errno == EINTR)
      continue;
    if(r < 0)
      return mly_err_set(err, MLY_EIO, "cannot read a temporary file for sequences: %s",
                         strerror(errno));
    if(r == 0)
      return mly_err_set(err, MLY_EIO, "a temporary file for sequences ended early");
    c += r;
    n -= (size_t)r;
    off += (uint64_t)r;
  }
  return MLY_OK;
}

/* Buffered appending to a temporary file */
struct wfile {
  int fd;
  char *buf; /* WRITE_BYTES */
  size_t n;
  uint64_t size; /* bytes appended, buffered ones included */
};

static enum mly_rc wfile_open(struct wfile *w, struct mly_err *err)
{
  w->fd = -1;
  w->n = 0;
  w->size = 0;
  w->buf = malloc(WRITE_BYTES);
  if(!w->buf)
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  enum mly_rc rc = tempfile_open("sorted sequence points", &w->fd, err);
  if(rc) {
    free(w->buf);
    w->buf = NULL;
  }
  return rc;
}

static enum mly_rc wfile_flush(struct wfile *w, struct mly_err *err)
{
  enum mly_rc rc = write_full(w->fd, w->buf, w->n, err);
  w->n = 0;
  return rc;
}

static enum mly_rc wfile_put(struct wfile *w, const void *p, size_t n, struct mly_err *err)
{
  enum mly_rc rc;
  w->size += n;
  if(w->n + n > WRITE_BYTES) {
    if((rc = wfile_flush(w, err)))
      return rc;
    if(n > WRITE_BYTES)
      return write_full(w->fd, p, n, err);
  }
  memcpy(w->buf + w->n, p, n);
  w->n += n;
  return MLY_OK;
}

/* Free the buffer; the descriptor is returned when keep, else closed */
static int wfile_close(struct wfile *w, bool keep)
{
  free(w->buf);
  w->buf = NULL;
  if(!keep && w->fd >= 0)
    close(w->fd);
  return keep ? w->fd : -1;
}

/* ---- merging runs -------------------------------------------------------------- */

struct reader {
  int fd;
  uint64_t off, left; /* next byte to read; points not yet read */
  struct seq_point *buf;
  size_t i, n;
};

/* A k-way merge: a binary heap of readers by their current point */
struct merger {
  const struct strtab *strings;
  struct reader *r;
  size_t *heap, nheap;
  struct seq_point *bufs;
};

static enum mly_rc reader_fill(struct reader *r, struct mly_err *err)
{
  size_t want = r->left < READ_POINTS ? (size_t)r->left : READ_POINTS;
  enum mly_rc rc = read_full(r->fd, r->buf, want * sizeof(*r->buf), r->off, err);
  if(rc)
    return rc;
  r->off += want * sizeof(*r->buf);
  r->left -= want;
  r->i = 0;
  r->n = want;
  return MLY_OK;
}

static bool heap_less(const struct merger *m, size_t a, size_t b)
{
  const struct reader *ra = &m->r[a], *rb = &m->r[b];
  return cmp_point(&ra->buf[ra->i], &rb->buf[rb->i], m->strings) < 0;
}

static void heap_down(struct merger *m, size_t i)
{
  for(;;) {
    size_t l = 2 * i + 1, least = i;
    if(l < m->nheap && heap_less(m, m->heap[l], m->heap[least]))
      least = l;
    if(l + 1 < m->nheap && heap_less(m, m->heap[l + 1], m->heap[least]))
      least = l + 1;
    if(least == i)
      return;
    size_t t = m->heap[i];
    m->heap[i] = m->heap[least];
    m->heap[least] = t;
    i = least;
  }
}

static void merger_close(struct merger *m)
{
  free(m->r);
  free(m->heap);
  free(m->bufs);
  memset(m, 0, sizeof(*m));
}

/* Start merging runs[0..k); the runs stay as they are (a merge reads them
 * through its own offsets, so seq_write can be repeated) */
static enum mly_rc merger_open(struct merger *m, const struct run *runs, size_t k,
                               const struct strtab *strings, struct mly_err *err)
{
  memset(m, 0, sizeof(*m));
  m->strings = strings;
  m->r = calloc(k ? k : 1, sizeof(*m->r));
  m->heap = calloc(k ? k : 1, sizeof(*m->heap));
  m->bufs = calloc(k ? k : 1, READ_POINTS * sizeof(*m->bufs));
  if(!m->r || !m->heap || !m->bufs) {
    merger_close(m);
    return mly_err_set(err, MLY_ENOMEM, "out of memory merging sequences");
  }
  for(size_t i = 0; i < k; i++) {
    struct reader *r = &m->r[i];
    r->fd = runs[i].fd;
    r->left = runs[i].count;
    r->buf = m->bufs + i * READ_POINTS;
    if(!r->left)
      continue;
    enum mly_rc rc = reader_fill(r, err);
    if(rc) {
      merger_close(m);
      return rc;
    }
    m->heap[m->nheap++] = i;
  }
  for(size_t i = m->nheap / 2; i-- > 0;)
    heap_down(m, i);
  return MLY_OK;
}

/* The next point in (sequence, vertex) order into *p; *done when none is left */
static enum mly_rc merger_next(struct merger *m, struct seq_point *p, bool *done,
                               struct mly_err *err)
{
  *done = !m->nheap;
  if(*done)
    return MLY_OK;
  struct reader *r = &m->r[m->heap[0]];
  *p = r->buf[r->i++];
  if(r->i == r->n) {
    if(r->left) {
      enum mly_rc rc = reader_fill(r, err);
      if(rc)
        return rc;
    }
    else
      m->heap[0] = m->heap[--m->nheap];
  }
  if(m->nheap)
    heap_down(m, 0);
  return MLY_OK;
}

/* Merge runs[0..k) into one new run at level + 1 of runs[0] */
static enum mly_rc merge_runs(const struct seq_builder *b, const struct run *runs, size_t k,
                              struct run *out, struct mly_err *err)
{
  struct merger m;
  struct wfile w;
  enum mly_rc rc = wfile_open(&w, err);
  if(rc)
    return rc;
  if((rc = merger_open(&m, runs, k, b->strings, err))) {
    wfile_close(&w, false);
    return rc;
  }
  out->count = 0;
  for(;;) {
    struct seq_point p;
    bool done;
    if((rc = merger_next(&m, &p, &done, err)) || done)
      break;
    if((rc = wfile_put(&w, &p, sizeof(p), err)))
      break;
    out->count++;
  }
  if(!rc)
    rc = wfile_flush(&w, err);
  merger_close(&m);
  out->fd = wfile_close(&w, !rc);
  out->level = runs[0].level + 1;
  return rc;
}

/* Merge the last MERGE_FANIN runs while they share a level, so that at
 * most MERGE_FANIN - 1 runs stay per level (a counter in base MERGE_FANIN) */
static enum mly_rc compact_runs(struct seq_builder *b, struct mly_err *err)
{
  while(b->nruns >= MERGE_FANIN &&
        b->runs[b->nruns - MERGE_FANIN].level == b->runs[b->nruns - 1].level) {
    struct run *in = &b->runs[b->nruns - MERGE_FANIN], merged;
    enum mly_rc rc = merge_runs(b, in, MERGE_FANIN, &merged, err);
    if(rc)
      return rc;
    for(size_t i = 0; i < MERGE_FANIN; i++)
      close(in[i].fd);
    b->nruns -= MERGE_FANIN - 1;
    b->runs[b->nruns - 1] = merged;
  }
  return MLY_OK;
}

/* Sort the points in memory and move them to a new run on disk. On
 * failure they stay in memory and the runs are as they were (or merged:
 * either way no point is lost). */
static enum mly_rc spill(struct seq_builder *b, struct mly_err *err)
{
  if(!b->n)
    return MLY_OK;
  if(b->nruns == b->runs_cap) {
    size_t cap = b->runs_cap ? b->runs_cap * 2 : 16;
    struct run *nr = realloc(b->runs, cap * sizeof(*nr));
    if(!nr)
      return mly_err_set(err, MLY_ENOMEM, "out of memory keeping sequences");
    b->runs = nr;
    b->runs_cap = cap;
  }
  sort_points(b);
  int fd = -1;
  enum mly_rc rc = tempfile_open("sorted sequence points", &fd, err);
  if(rc)
    return rc;
  if((rc = write_full(fd, b->pts, b->n * sizeof(*b->pts), err))) {
    close(fd);
    return rc;
  }
  b->runs[b->nruns++] = (struct run){.fd = fd, .count = b->n, .level = 0};
  b->n = b->sorted = 0;
  return compact_runs(b, err);
}

enum mly_rc seq_add(struct seq_builder *b, const struct seq_point *p)
{
  enum mly_rc rc;
  /* the ordinal is 32 bits */
  if(b->total >= UINT32_MAX)
    return mly_err_set(&b->add_err, MLY_ETOOBIG, "more than %u images for sequences",
                       (unsigned)UINT32_MAX);
  if(b->max_points && b->n >= b->max_points && (rc = spill(b, &b->add_err)))
    return rc;
  if(b->n == b->cap) {
    size_t cap = b->cap ? b->cap + b->cap / 2 : 1024;
    if(b->max_points && cap > b->max_points)
      cap = b->max_points;
    struct seq_point *np =
        cap <= SIZE_MAX / sizeof(*np) ? realloc(b->pts, cap * sizeof(*np)) : NULL;
    if(!np)
      return mly_err_set(&b->add_err, MLY_ENOMEM, "out of memory keeping sequences");
    b->pts = np;
    b->cap = cap;
  }
  struct seq_point *d = &b->pts[b->n];
  memcpy(d, p, POINT_USED);
  memset((char *)d + POINT_USED, 0, sizeof(*d) - POINT_USED);
  d->ordinal = (uint32_t)b->total;
  b->n++;
  b->total++;
  return MLY_OK;
}

/* ---- writing from memory ------------------------------------------------------ */

struct span {
  size_t first, count;
};

struct span_order {
  const struct seq_point *pts;
  const struct strtab *strings;
};

static int qcmp_span(const void *pa, const void *pb, void *ctx)
{
  const struct span *a = pa, *b = pb;
  const struct span_order *o = ctx;
  return cmp_vertex(&o->pts[a->first], &o->pts[b->first], o->strings);
}

/* Sort the points in memory and find the sequences of at least min
 * images: *spans_out (OUT, free it) in point order */
static enum mly_rc find_spans(struct seq_builder *b, size_t min, struct span **spans_out,
                              size_t *nspans_out, struct mly_err *err)
{
  sort_points(b);

  /* spans of one sequence with min or more images */
  struct span *spans = NULL;
  size_t nspans = 0, cap = 0;
  for(size_t i = 0; i < b->n;) {
    size_t j = i + 1;
    while(j < b->n && b->pts[j].seq == b->pts[i].seq)
      j++;
    if(j - i >= min) {
      if(nspans == cap) {
        cap = cap ? cap * 2 : 256;
        struct span *ns = realloc(spans, cap * sizeof(*ns));
        if(!ns) {
          free(spans);
          return mly_err_set(err, MLY_ENOMEM, "out of memory building sequences");
        }
        spans = ns;
      }
      spans[nspans].first = i;
      spans[nspans].count = j - i;
      nspans++;
    }
    i = j;
  }
  *spans_out = spans;
  *nspans_out = nspans;
  return MLY_OK;
}

/* Every point is in memory: sort them, find the sequences, sort those by
 * their first vertex and write them */
static enum mly_rc write_in_memory(struct seq_builder *b, struct outfile *out, size_t *nseq,
                                   struct mly_err *err)
{
  struct span *spans;
  size_t nspans;
  enum mly_rc rc = find_spans(b, 2, &spans, &nspans, err);
  if(rc)
    return rc;
  struct span_order order = {b->pts, b->strings};
  if(nspans > 1)
    qsort_r(spans, nspans, sizeof(*spans), qcmp_span, &order);

  struct dbuf text, tmp;
  dbuf_init(&text, SIZE_MAX / 2);
  dbuf_init(&tmp, SIZE_MAX / 2);
  for(size_t r = 0; r < nspans && !rc; r++) {
    const struct seq_point *v = b->pts + spans[r].first;
    rc = sequence_text(out, &text, &tmp, b, v, spans[r].count, err);
    if(!rc)
      rc = outfile_feature(out, text.p, text.n, err);
  }
  dbuf_cleanup(&text);
  dbuf_cleanup(&tmp);
  free(spans);
  if(!rc)
    *nseq = nspans;
  return rc;
}

/* ---- writing from runs on disk --------------------------------------------------- */

/* A sequence's text staged in a temporary file, and the sort key of its
 * first vertex (the fields cmp_vertex reads) */
struct staged {
  int64_t captured_at;
  uint64_t id;
  uint64_t off, len;
  uint32_t ordinal;
  uint8_t flags;
};

static void staged_key(const struct staged *s, struct seq_point *p)
{
  p->captured_at = s->captured_at;
  p->id = s->id;
  p->ordinal = s->ordinal;
  p->flags = s->flags;
}

static int qcmp_staged(const void *pa, const void *pb, void *strings)
{
  struct seq_point a, b;
  staged_key(pa, &a);
  staged_key(pb, &b);
  return cmp_vertex(&a, &b, strings);
}

struct stage {
  struct wfile w;
  struct staged *s;
  size_t n, cap;
  struct dbuf text, tmp;
};

struct stage_to {
  struct stage *st;
  const struct outfile *out;
  const struct seq_builder *b;
};

/* Stage the text of the sequence v[0..n) (a seq_each_fn) */
static enum mly_rc stage_sequence(void *user, const struct seq_point *v, size_t n,
                                  struct mly_err *err)
{
  struct stage_to *to = user;
  struct stage *st = to->st;
  if(st->n == st->cap) {
    size_t cap = st->cap ? st->cap * 2 : 256;
    struct staged *ns = realloc(st->s, cap * sizeof(*ns));
    if(!ns)
      return mly_err_set(err, MLY_ENOMEM, "out of memory building sequences");
    st->s = ns;
    st->cap = cap;
  }
  enum mly_rc rc = sequence_text(to->out, &st->text, &st->tmp, to->b, v, n, err);
  if(rc)
    return rc;
  struct staged *s = &st->s[st->n];
  s->captured_at = v[0].captured_at;
  s->id = v[0].id;
  s->ordinal = v[0].ordinal;
  s->flags = v[0].flags;
  s->off = st->w.size;
  s->len = st->text.n;
  if((rc = wfile_put(&st->w, st->text.p, st->text.n, err)))
    return rc;
  st->n++;
  return MLY_OK;
}

/* Merge the runs: each sequence arrives whole and in vertex order, one at
 * a time, in b->pts; hand each with min or more images to fn */
static enum mly_rc each_from_runs(struct seq_builder *b, size_t min, seq_each_fn fn, void *user,
                                  struct mly_err *err)
{
  struct merger m;
  enum mly_rc rc = merger_open(&m, b->runs, b->nruns, b->strings, err);
  if(rc)
    return rc;
  size_t nv = 0;
  for(;;) {
    struct seq_point p;
    bool done;
    if((rc = merger_next(&m, &p, &done, err)))
      break;
    if(done || (nv && p.seq != b->pts[0].seq)) {
      if(nv >= min)
        rc = fn(user, b->pts, nv, err);
      nv = 0;
      if(rc || done)
        break;
    }
    /* the buffer holds one sequence now: it grows past the limit only for
     * a sequence longer than the limit */
    if(nv == b->cap) {
      size_t cap = b->cap ? b->cap * 2 : 1024;
      struct seq_point *np =
          cap <= SIZE_MAX / sizeof(*np) ? realloc(b->pts, cap * sizeof(*np)) : NULL;
      if(!np) {
        rc = mly_err_set(err, MLY_ENOMEM, "out of memory building sequences");
        break;
      }
      b->pts = np;
      b->cap = cap;
    }
    b->pts[nv++] = p;
  }
  merger_close(&m);
  return rc;
}

/* Copy the staged texts to out in the order of their first vertices */
static enum mly_rc copy_staged(struct stage *st, const struct strtab *strings,
                               struct outfile *out, struct mly_err *err)
{
  if(st->n > 1)
    qsort_r(st->s, st->n, sizeof(*st->s), qcmp_staged, (void *)strings);
  enum mly_rc rc = MLY_OK;
  for(size_t i = 0; i < st->n && !rc; i++) {
    const struct staged *s = &st->s[i];
    dbuf_reset(&st->text);
    if(s->len > SIZE_MAX / 2 || (rc = dbuf_reserve(&st->text, (size_t)s->len)))
      return mly_err_set(err, rc ? rc : MLY_ETOOBIG, "out of memory building sequences");
    if((rc = read_full(st->w.fd, st->text.p, (size_t)s->len, s->off, err)))
      return rc;
    st->text.n = (size_t)s->len;
    rc = outfile_feature(out, st->text.p, st->text.n, err);
  }
  return rc;
}

/* Some points are in runs: spill the rest, merge the runs sequence by
 * sequence, staging each sequence's text in a temporary file and keeping
 * only its first vertex's key in memory, then sort the keys and copy the
 * texts out in that order */
static enum mly_rc write_from_runs(struct seq_builder *b, struct outfile *out, size_t *nseq,
                                   struct mly_err *err)
{
  enum mly_rc rc = spill(b, err);
  if(rc)
    return rc;
  struct stage st;
  memset(&st, 0, sizeof(st));
  dbuf_init(&st.text, SIZE_MAX / 2);
  dbuf_init(&st.tmp, SIZE_MAX / 2);
  if(!(rc = wfile_open(&st.w, err))) {
    struct stage_to to = {&st, out, b};
    rc = each_from_runs(b, 2, stage_sequence, &to, err);
    if(!rc)
      rc = wfile_flush(&st.w, err);
    if(!rc)
      rc = copy_staged(&st, b->strings, out, err);
    wfile_close(&st.w, false);
  }
  if(!rc)
    *nseq = st.n;
  free(st.s);
  dbuf_cleanup(&st.text);
  dbuf_cleanup(&st.tmp);
  return rc;
}

enum mly_rc seq_write(struct seq_builder *b, struct outfile *out, size_t *nseq,
                      struct mly_err *err)
{
  *nseq = 0;
  /* a CSV header names the columns: points' would not fit these records */
  if(out->fmt == OUTFMT_CSV && out->kind != OUTFILE_SEQUENCES &&
     out->kind != OUTFILE_REVIEW_SEQUENCES)
    return mly_err_set(err, MLY_EINVAL, "'%s' was not opened for sequences",
                       out->final_path ? out->final_path : "");
  if(b->nruns)
    return write_from_runs(b, out, nseq, err);
  return write_in_memory(b, out, nseq, err);
}

enum mly_rc seq_each(struct seq_builder *b, seq_each_fn fn, void *user, struct mly_err *err)
{
  if(b->nruns) {
    enum mly_rc rc = spill(b, err);
    return rc ? rc : each_from_runs(b, 1, fn, user, err);
  }
  struct span *spans;
  size_t nspans;
  enum mly_rc rc = find_spans(b, 1, &spans, &nspans, err);
  for(size_t r = 0; !rc && r < nspans; r++)
    rc = fn(user, b->pts + spans[r].first, spans[r].count, err);
  free(spans);
  return rc;
}
