/* seq.c -- group kept images by sequence, order them, write LineStrings or CSV rows */
#include "mly/seq.h"
#include "mly/dbuf.h"
#include "mly/jsonw.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(struct seq_point) <= 48, "seq_point must stay compact");

struct seq_builder {
  const struct strtab *strings;
  struct seq_point *pts;
  size_t n, cap;
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
  if(!*bp)
    return;
  free((*bp)->pts);
  free(*bp);
  *bp = NULL;
}

size_t seq_point_count(const struct seq_builder *b)
{
  return b->n;
}

enum mly_rc seq_add(struct seq_builder *b, const struct seq_point *p)
{
  if(b->n == b->cap) {
    if(b->n >= UINT32_MAX)
      return MLY_ETOOBIG;
    size_t cap = b->cap ? b->cap + b->cap / 2 : 1024;
    struct seq_point *np = realloc(b->pts, cap * sizeof(*np));
    if(!np)
      return MLY_ENOMEM;
    b->pts = np;
    b->cap = cap;
  }
  b->pts[b->n] = *p;
  b->pts[b->n].ordinal = (uint32_t)b->n;
  b->n++;
  return MLY_OK;
}

/* qsort has no context argument: the table for string-id comparison */
static const struct strtab *cmp_strings;

static int cmp_u64(uint64_t a, uint64_t b)
{
  return (a > b) - (a < b);
}

/* unknown < numeric (by value) < non-numeric string (bytewise) */
static int cmp_id(const struct seq_point *a, const struct seq_point *b)
{
  int ka = !(a->flags & SEQP_ID_KNOWN) ? 0 : (a->flags & SEQP_ID_STR) ? 2 : 1;
  int kb = !(b->flags & SEQP_ID_KNOWN) ? 0 : (b->flags & SEQP_ID_STR) ? 2 : 1;
  if(ka != kb)
    return ka - kb;
  if(ka == 1)
    return cmp_u64(a->id, b->id);
  if(ka == 2) {
    struct mly_view va = strtab_get(cmp_strings, (uint32_t)a->id);
    struct mly_view vb = strtab_get(cmp_strings, (uint32_t)b->id);
    size_t n = va.n < vb.n ? va.n : vb.n;
    int c = n ? memcmp(va.p, vb.p, n) : 0;
    return c ? c : cmp_u64(va.n, vb.n);
  }
  return 0;
}

/* vertex order: captured_at (unknown first), id, tile order */
static int cmp_vertex(const struct seq_point *a, const struct seq_point *b)
{
  int ca = !!(a->flags & SEQP_CAPTURED_KNOWN), cb = !!(b->flags & SEQP_CAPTURED_KNOWN);
  if(ca != cb)
    return ca - cb;
  if(ca && a->captured_at != b->captured_at)
    return a->captured_at < b->captured_at ? -1 : 1;
  int c = cmp_id(a, b);
  if(c)
    return c;
  return cmp_u64(a->ordinal, b->ordinal);
}

static int cmp_seq_then_vertex(const void *pa, const void *pb)
{
  const struct seq_point *a = pa, *b = pb;
  if(a->seq != b->seq)
    return a->seq < b->seq ? -1 : 1;
  return cmp_vertex(a, b);
}

struct run {
  size_t first, count;
};

static const struct seq_point *cmp_pts;

static int cmp_run(const void *pa, const void *pb)
{
  const struct run *a = pa, *b = pb;
  return cmp_vertex(&cmp_pts[a->first], &cmp_pts[b->first]);
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

static enum mly_rc write_sequence(struct dbuf *t, struct dbuf *tmp, const struct strtab *strings,
                                  const struct seq_point *v, size_t n)
{
  char num[JSONW_NUM_MAX];
  size_t len;
  enum mly_rc rc;
  dbuf_reset(t);
  if((rc = ADD_LIT(t, "{\"type\":\"Feature\",\"geometry\":{\"type\":\"LineString\",\"coordinates\":[")))
    return rc;
  for(size_t i = 0; i < n; i++) {
    if((rc = dbuf_adds(t, i ? ",[" : "[")))
      return rc;
    len = jsonw_coord(num, v[i].lon);
    if((rc = dbuf_add(t, num, len)) || (rc = ADD_LIT(t, ",")))
      return rc;
    len = jsonw_coord(num, v[i].lat);
    if((rc = dbuf_add(t, num, len)) || (rc = ADD_LIT(t, "]")))
      return rc;
  }
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
  return ADD_LIT(t, "}}");
}

/* One CSV record (OUTFILE_CSV_SEQUENCES_HEADER): the same values as the
 * GeoJSON properties, then the line as WKT */
static enum mly_rc write_sequence_csv(struct dbuf *t, struct dbuf *tmp,
                                      const struct strtab *strings, const struct seq_point *v,
                                      size_t n)
{
  char num[JSONW_NUM_MAX];
  size_t len;
  enum mly_rc rc;
  dbuf_reset(t);
  struct mly_view sid = strtab_get(strings, v[0].seq);
  if((rc = outfile_csv_field(t, sid.p, sid.n)) || (rc = ADD_LIT(t, ",")))
    return rc;
  if((v[0].flags & SEQP_PANO_KNOWN) &&
     (rc = (v[0].flags & SEQP_PANO) ? ADD_LIT(t, "true") : ADD_LIT(t, "false")))
    return rc;
  if((rc = ADD_LIT(t, ",")))
    return rc;
  const struct seq_point *with_org = first_org(v, n);
  if(with_org) {
    struct mly_view org = strtab_get(strings, with_org->org - 1);
    if((rc = outfile_csv_field(t, org.p, org.n)))
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
     (rc = outfile_csv_field(t, tmp->p ? tmp->p : "", tmp->n)) || (rc = ADD_LIT(t, ",")))
    return rc;
  /* wkt: always holds a comma (two or more vertices), so always quoted */
  size_t start = t->n;
  if((rc = ADD_LIT(t, "LINESTRING (")))
    return rc;
  for(size_t i = 0; i < n; i++) {
    if(i && (rc = ADD_LIT(t, ", ")))
      return rc;
    len = jsonw_coord(num, v[i].lon);
    if((rc = dbuf_add(t, num, len)) || (rc = ADD_LIT(t, " ")))
      return rc;
    len = jsonw_coord(num, v[i].lat);
    if((rc = dbuf_add(t, num, len)))
      return rc;
  }
  if((rc = ADD_LIT(t, ")")))
    return rc;
  return outfile_csv_quote_from(t, start);
}

enum mly_rc seq_write(struct seq_builder *b, struct outfile *out, size_t *nseq,
                      struct mly_err *err)
{
  *nseq = 0;
  /* a CSV header names the columns: points' would not fit these records */
  if(out->fmt == OUTFMT_CSV && out->kind != OUTFILE_SEQUENCES)
    return mly_err_set(err, MLY_EINVAL, "'%s' was not opened for sequences",
                       out->final_path ? out->final_path : "");
  cmp_strings = b->strings;
  if(b->n)
    qsort(b->pts, b->n, sizeof(*b->pts), cmp_seq_then_vertex);

  /* runs of one sequence with two or more images */
  struct run *runs = NULL;
  size_t nruns = 0, cap = 0;
  for(size_t i = 0; i < b->n;) {
    size_t j = i + 1;
    while(j < b->n && b->pts[j].seq == b->pts[i].seq)
      j++;
    if(j - i >= 2) {
      if(nruns == cap) {
        cap = cap ? cap * 2 : 256;
        struct run *nr = realloc(runs, cap * sizeof(*nr));
        if(!nr) {
          free(runs);
          return mly_err_set(err, MLY_ENOMEM, "out of memory building sequences");
        }
        runs = nr;
      }
      runs[nruns].first = i;
      runs[nruns].count = j - i;
      nruns++;
    }
    i = j;
  }
  cmp_pts = b->pts;
  if(nruns)
    qsort(runs, nruns, sizeof(*runs), cmp_run);

  struct dbuf text, tmp;
  dbuf_init(&text, SIZE_MAX / 2);
  dbuf_init(&tmp, SIZE_MAX / 2);
  enum mly_rc rc = MLY_OK;
  for(size_t r = 0; r < nruns && !rc; r++) {
    const struct seq_point *v = b->pts + runs[r].first;
    if(out->fmt == OUTFMT_CSV)
      rc = write_sequence_csv(&text, &tmp, b->strings, v, runs[r].count);
    else
      rc = write_sequence(&text, &tmp, b->strings, v, runs[r].count);
    if(rc)
      mly_err_set(err, rc, "cannot build sequence text: %s", mly_strerror(rc));
    else
      rc = outfile_feature(out, text.p, text.n, err);
  }
  dbuf_cleanup(&text);
  dbuf_cleanup(&tmp);
  free(runs);
  if(!rc)
    *nseq = nruns;
  return rc;
}
