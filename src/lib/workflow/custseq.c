/* custseq.c -- sequences from points, with evenly spread review images */
#include "mly/custseq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mly/csvw.h"
#include "mly/dbuf.h"
#include "mly/featread.h"
#include "mly/jsonw.h"
#include "mly/seq.h"
#include "mly/seqfeat.h"
#include "mly/strtab.h"
#include "mly/tempfile.h"

/* Where the URL of one review image is: bytes [off, off + len) of the URL
 * text (file, then memory); off NO_URL when none was found */
struct url_at {
  uint64_t off;
  uint32_t len;
};
#define NO_URL UINT64_MAX

struct custseq {
  struct strtab *strings;
  struct seq_builder *seq;
  uint64_t *ids;   /* picked ids: all of them while picking, then distinct, ascending */
  size_t nids, capids;
  struct url_at *urls; /* per distinct id */
  /* The URL text, in the order the URLs came: its first `spilled` bytes in
   * `file` (an unlinked temporary file), the rest in `text`, which goes to
   * the file whenever it would pass url_memory bytes */
  struct dbuf text;
  FILE *file;
  uint64_t spilled;
  bool unflushed;  /* the file has bytes stdio has not handed to the kernel */
  size_t url_memory;
  bool picked;
  struct dbuf tmp; /* custom_urls of one sequence */
  struct dbuf first; /* custom_url of one sequence */
  struct custseq_stats st;
};

struct custseq *custseq_new(size_t max_points)
{
  struct custseq *c = calloc(1, sizeof(*c));
  if(!c)
    return NULL;
  c->strings = strtab_new();
  c->seq = c->strings ? seq_new(c->strings) : NULL;
  if(!c->seq) {
    strtab_free(&c->strings);
    free(c);
    return NULL;
  }
  seq_set_memory_limit(c->seq, max_points);
  dbuf_init(&c->tmp, 1u << 20);
  dbuf_init(&c->first, 1u << 20);
  dbuf_init(&c->text, SIZE_MAX);
  c->url_memory = CUSTSEQ_URL_MEMORY;
  return c;
}

void custseq_set_url_memory(struct custseq *c, size_t bytes)
{
  c->url_memory = bytes;
}

void custseq_free(struct custseq **pc)
{
  struct custseq *c = pc ? *pc : NULL;
  if(!c)
    return;
  seq_free(&c->seq);
  strtab_free(&c->strings);
  free(c->urls);
  free(c->ids);
  if(c->file)
    fclose(c->file);
  dbuf_cleanup(&c->text);
  dbuf_cleanup(&c->tmp);
  dbuf_cleanup(&c->first);
  free(c);
  *pc = NULL;
}

enum mly_rc custseq_add(struct custseq *c, const struct feature *f, struct mly_err *err)
{
  if(c->picked)
    return mly_err_set(err, MLY_EINVAL, "custseq_add after custseq_pick");
  struct seq_point p;
  enum seqfeat_what what;
  enum mly_rc rc = seqfeat_point(c->strings, f, &p, &what, err);
  if(rc)
    return rc;
  c->st.read++;
  if(what == SEQFEAT_NOT_POINT) {
    c->st.not_point++;
    return MLY_OK;
  }
  if(what == SEQFEAT_NO_SEQUENCE) {
    c->st.no_sequence++;
    return MLY_OK;
  }
  if(seq_add(c->seq, &p))
    return seq_add_error(c->seq, err);
  return MLY_OK;
}

/* The review images of the sequence v[0..n): up to CUSTSEQ_PICKS vertex
 * indexes into at (OUT), in order; returns how many */
static size_t picks(const struct seq_point *v, size_t n, size_t at[CUSTSEQ_PICKS])
{
  size_t m = 0;
  for(size_t i = 0; i < n; i++)
    m += (v[i].flags & (SEQP_ID_KNOWN | SEQP_ID_STR)) == SEQP_ID_KNOWN;
  size_t want[CUSTSEQ_PICKS], nw = m < CUSTSEQ_PICKS ? m : CUSTSEQ_PICKS;
  for(size_t k = 0; k < nw; k++)
    /* round(k (m - 1) / 4) with integers: distinct for m > 5 */
    want[k] = m <= CUSTSEQ_PICKS ? k : (2 * k * (m - 1) + (CUSTSEQ_PICKS - 1)) /
                                           (2 * (CUSTSEQ_PICKS - 1));
  size_t got = 0, j = 0;
  for(size_t i = 0; i < n && got < nw; i++) {
    if((v[i].flags & (SEQP_ID_KNOWN | SEQP_ID_STR)) != SEQP_ID_KNOWN)
      continue;
    if(j == want[got])
      at[got++] = i;
    j++;
  }
  return got;
}

static enum mly_rc pick_one(void *user, const struct seq_point *v, size_t n, struct mly_err *err)
{
  struct custseq *c = user;
  if(n < 2)
    return MLY_OK; /* not a sequence seq_write writes */
  size_t at[CUSTSEQ_PICKS], k = picks(v, n, at);
  c->st.sequences++;
  if(c->nids + k > c->capids) {
    size_t cap = c->capids ? 2 * c->capids : 1024;
    uint64_t *ids = realloc(c->ids, cap * sizeof(*ids));
    if(!ids)
      return mly_err_set(err, MLY_ENOMEM, "out of memory for the review images");
    c->ids = ids;
    c->capids = cap;
  }
  for(size_t i = 0; i < k; i++)
    c->ids[c->nids++] = v[at[i]].id;
  return MLY_OK;
}

static int cmp_u64(const void *pa, const void *pb)
{
  uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
  return (a > b) - (a < b);
}

enum mly_rc custseq_pick(struct custseq *c, const uint64_t **ids, size_t *n, struct mly_err *err)
{
  if(c->picked)
    return mly_err_set(err, MLY_EINVAL, "custseq_pick called twice");
  c->picked = true;
  enum mly_rc rc = seq_each(c->seq, pick_one, c, err);
  if(rc)
    return rc;
  if(c->nids > 1)
    qsort(c->ids, c->nids, sizeof(*c->ids), cmp_u64);
  size_t o = 0;
  for(size_t i = 0; i < c->nids; i++)
    if(!o || c->ids[o - 1] != c->ids[i])
      c->ids[o++] = c->ids[i];
  c->nids = o;
  c->urls = malloc((o ? o : 1) * sizeof(*c->urls));
  if(!c->urls)
    return mly_err_set(err, MLY_ENOMEM, "out of memory for the review images");
  for(size_t i = 0; i < o; i++)
    c->urls[i].off = NO_URL;
  c->st.ids = o;
  *ids = c->ids;
  *n = o;
  return MLY_OK;
}

static enum mly_rc url_file_error(struct mly_err *err)
{
  return mly_err_set(err, MLY_EIO, "cannot use a temporary file for the review image URLs: %s",
                     strerror(errno ? errno : EIO));
}

/* The URL text in memory to the file */
static enum mly_rc spill_urls(struct custseq *c, struct mly_err *err)
{
  enum mly_rc rc;
  if(!c->file && (rc = tempfile_fopen("the review image URLs", &c->file, err)))
    return rc;
  if(fwrite(c->text.p, 1, c->text.n, c->file) != c->text.n)
    return url_file_error(err);
  c->spilled += c->text.n;
  c->unflushed = true;
  dbuf_reset(&c->text);
  return MLY_OK;
}

enum mly_rc custseq_set_url(struct custseq *c, size_t i, const char *url, struct mly_err *err)
{
  if(!c->urls || i >= c->nids || !url)
    return mly_err_set(err, MLY_EINVAL, "custseq_set_url: no review image %zu", i);
  size_t n = strlen(url);
  if(n > UINT32_MAX)
    return mly_err_set(err, MLY_ETOOBIG, "a review image URL is too long");
  enum mly_rc rc = MLY_OK;
  if(c->text.n && c->text.n + n > c->url_memory && (rc = spill_urls(c, err)))
    return rc;
  uint64_t off = c->spilled + c->text.n;
  if((rc = dbuf_add(&c->text, url, n)))
    return mly_err_set(err, rc, "out of memory for the review image URLs");
  if(c->urls[i].off == NO_URL)
    c->st.urls++;
  c->urls[i] = (struct url_at){off, (uint32_t)n};
  return MLY_OK;
}

/* Append the URL of image id to b; *found (OUT) whether it has one */
static enum mly_rc url_of(struct custseq *c, uint64_t id, struct dbuf *b, bool *found)
{
  const uint64_t *at = c->nids ? bsearch(&id, c->ids, c->nids, sizeof(id), cmp_u64) : NULL;
  const struct url_at *u = at ? &c->urls[at - c->ids] : NULL;
  *found = u && u->off != NO_URL;
  if(!*found)
    return MLY_OK;
  if(u->off >= c->spilled)
    return dbuf_add(b, c->text.p + (u->off - c->spilled), u->len);
  if(c->unflushed && fflush(c->file) != 0)
    return MLY_EIO;
  c->unflushed = false;
  enum mly_rc rc = dbuf_reserve(b, u->len);
  if(rc)
    return rc;
  for(size_t got = 0; got < u->len;) {
    ssize_t r = pread(fileno(c->file), b->p + b->n + got, u->len - got, (off_t)(u->off + got));
    if(r < 0 && errno == EINTR)
      continue;
    if(r <= 0)
      return MLY_EIO;
    got += (size_t)r;
  }
  b->n += u->len;
  return MLY_OK;
}

#define ADD_LIT(b, s) dbuf_add(b, s, sizeof(s) - 1)

/* seq_set_extra's hook: custom_url and custom_urls of the sequence */
static enum mly_rc extra(void *user, const struct seq_point *v, size_t n, bool csv,
                         struct dbuf *t)
{
  struct custseq *c = user;
  size_t at[CUSTSEQ_PICKS], k = picks(v, n, at);
  enum mly_rc rc = MLY_OK;
  dbuf_reset(&c->first);
  dbuf_reset(&c->tmp);
  bool first = false;
  for(size_t i = 0; i < k && !rc; i++) {
    struct dbuf *into = first ? &c->tmp : &c->first;
    size_t mark = c->tmp.n;
    if(first && c->tmp.n && (rc = ADD_LIT(&c->tmp, ",")))
      break;
    bool found;
    if((rc = url_of(c, v[at[i]].id, into, &found)))
      break;
    if(!found)
      c->tmp.n = mark; /* no URL: no comma either */
    first = first || found;
  }
  if(rc)
    return rc;
  if(first)
    c->st.with_review++;
  const char *url = c->first.n ? c->first.p : "";
  const char *urls = c->tmp.n ? c->tmp.p : "";
  if(csv) {
    if((rc = ADD_LIT(t, ",")) || (rc = csvw_field(t, url, c->first.n)) ||
       (rc = ADD_LIT(t, ",")))
      return rc;
    return csvw_field(t, urls, c->tmp.n);
  }
  if((rc = ADD_LIT(t, ",\"custom_url\":")) || (rc = jsonw_string(t, url, c->first.n)) ||
     (rc = ADD_LIT(t, ",\"custom_urls\":")))
    return rc;
  return jsonw_string(t, urls, c->tmp.n);
}

enum mly_rc custseq_write(struct custseq *c, struct outfile *out, size_t *nseq,
                          struct mly_err *err)
{
  if(!c->picked)
    return mly_err_set(err, MLY_EINVAL, "custseq_write before custseq_pick");
  seq_set_extra(c->seq, extra, c);
  c->st.with_review = 0;
  return seq_write(c->seq, out, nseq, err);
}

void custseq_get_stats(const struct custseq *c, struct custseq_stats *out)
{
  *out = c->st;
}
