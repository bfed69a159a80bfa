/* review_html.c -- the review page: the built-in template with the sequences' JSON inside */
#include "mly/review_html.h"
#include "mly/featread.h"
#include "mly/featwrite.h"
#include "mly/jsonw.h"
#include "mly/outfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The template around its data marker, generated from review_page.html at
 * build time (cmake/embed_page.cmake) */
extern const unsigned char mly_review_page_head[], mly_review_page_tail[];
extern const size_t mly_review_page_head_len, mly_review_page_tail_len;

struct review_html {
  struct outfile out;
  struct dbuf text;    /* one feature's JSON text */
  struct dbuf esc;     /* the same, escaped for the page */
  uint64_t count;
  uint64_t bytes;      /* written so far, against REVIEW_HTML_MAX_BYTES */
  uint64_t key;        /* running hash of the sequences' ids and geometries */
  bool closed, published;
};

/* ---- escaping ------------------------------------------------------------- */

enum mly_rc review_html_escape_json(struct dbuf *b, const char *json, size_t n)
{
  enum mly_rc rc = dbuf_reserve(b, n);
  size_t from = 0; /* start of the bytes not yet copied */
  for(size_t i = 0; i < n && !rc; i++) {
    unsigned char c = (unsigned char)json[i];
    const char *esc = NULL;
    size_t skip = 1;
    if(c == '<')
      esc = "\\u003c";
    else if(c == '>')
      esc = "\\u003e";
    else if(c == '&')
      esc = "\\u0026";
    else if(c == 0xE2 && i + 2 < n && (unsigned char)json[i + 1] == 0x80 &&
            ((unsigned char)json[i + 2] == 0xA8 || (unsigned char)json[i + 2] == 0xA9)) {
      /* U+2028 and U+2029 end a line in older JavaScript */
      esc = (unsigned char)json[i + 2] == 0xA8 ? "\\u2028" : "\\u2029";
      skip = 3;
    }
    if(!esc)
      continue;
    rc = dbuf_add(b, json + from, i - from);
    if(!rc)
      rc = dbuf_add(b, esc, 6);
    i += skip - 1;
    from = i + 1;
  }
  if(!rc)
    rc = dbuf_add(b, json + from, n - from);
  return rc;
}

/* ---- the key under which the page keeps its decisions --------------------- */

/* FNV-1a over the bytes, continuing from h */
static uint64_t key_add(uint64_t h, const void *p, size_t n)
{
  const unsigned char *s = p;
  for(size_t i = 0; i < n; i++) {
    h ^= s[i];
    h *= 1099511628211ULL;
  }
  return h;
}

/* The sequence's id and geometry, not its image links: a page written
 * again with refreshed links keeps the decisions made on the old one */
static enum mly_rc key_feature(struct review_html *r, const json_t *properties,
                               const json_t *geometry)
{
  const json_t *id = json_object_get(properties, "sequence_id");
  char *idtext = id ? json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
  char *gtext = geometry ? json_dumps(geometry, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                                    JSON_REAL_PRECISION(17))
                         : NULL;
  enum mly_rc rc = (id && !idtext) || (geometry && !gtext) ? MLY_ENOMEM : MLY_OK;
  if(!rc) {
    /* a NUL after each part, so "ab"+"c" and "a"+"bc" differ */
    r->key = key_add(r->key, idtext ? idtext : "", idtext ? strlen(idtext) + 1 : 1);
    r->key = key_add(r->key, gtext ? gtext : "", gtext ? strlen(gtext) + 1 : 1);
  }
  free(idtext);
  free(gtext);
  return rc;
}

/* ---- writing -------------------------------------------------------------- */

static enum mly_rc put(struct review_html *r, const void *p, size_t n, struct mly_err *err)
{
  if(r->bytes + n > REVIEW_HTML_MAX_BYTES)
    return mly_err_set(err, MLY_ETOOBIG,
                       "the review page would pass %u MB at sequence %llu: review a smaller area",
                       REVIEW_HTML_MAX_BYTES >> 20, (unsigned long long)r->count + 1);
  r->bytes += n;
  return outfile_feature(&r->out, p, n, err);
}

/* Escape b's text into r->esc and write it */
static enum mly_rc put_json(struct review_html *r, const struct dbuf *b, struct mly_err *err)
{
  dbuf_reset(&r->esc);
  if(review_html_escape_json(&r->esc, b->p, b->n))
    return mly_err_set(err, MLY_ENOMEM, "out of memory writing the review page");
  return put(r, r->esc.p, r->esc.n, err);
}

static const char *base_name(const char *path)
{
  const char *slash = strrchr(path, '/');
  return slash && slash[1] ? slash + 1 : path;
}

enum mly_rc review_html_open(struct review_html **out, const char *path, const char *source,
                             struct mly_err *err)
{
  *out = NULL;
  struct review_html *r = calloc(1, sizeof(*r));
  if(!r)
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  dbuf_init(&r->text, FEATREAD_FEATURE_MAX * 2u);
  dbuf_init(&r->esc, REVIEW_HTML_MAX_BYTES);
  r->key = 1469598103934665603ULL;
  enum mly_rc rc = outfile_open_raw(&r->out, path, err);
  if(!rc)
    rc = put(r, mly_review_page_head, mly_review_page_head_len, err);
  if(!rc) {
    const char *name = source ? base_name(source) : "";
    if(dbuf_adds(&r->text, "{\"source\":") || jsonw_string(&r->text, name, strlen(name)) ||
       dbuf_adds(&r->text, ",\"features\":["))
      rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
  }
  if(!rc)
    rc = put_json(r, &r->text, err);
  if(rc) {
    review_html_free(&r);
    return rc;
  }
  *out = r;
  return MLY_OK;
}

/* One Feature's JSON text into b: as featwrite writes it (numbers and
 * coordinates as get_mapillary_points wrote them), so what the page saves
 * is what it was given */
static enum mly_rc feature_text(struct dbuf *b, const json_t *properties, const json_t *geometry)
{
  return feature_write_geojson(b, properties, geometry);
}

enum mly_rc review_html_add(struct review_html *r, const json_t *properties,
                            const json_t *geometry, struct mly_err *err)
{
  if(r->closed)
    return mly_err_set(err, MLY_EINVAL, "review page already closed");
  dbuf_reset(&r->text);
  enum mly_rc rc = dbuf_adds(&r->text, r->count ? ",\n" : "\n");
  if(!rc)
    rc = feature_text(&r->text, properties, geometry);
  if(!rc)
    rc = key_feature(r, properties, geometry);
  if(rc == MLY_ETOOBIG)
    return mly_err_set(err, rc, "sequence %llu is too large for the review page",
                       (unsigned long long)r->count + 1);
  if(rc)
    return mly_err_set(err, rc, "out of memory writing the review page");
  rc = put_json(r, &r->text, err);
  if(!rc)
    r->count++;
  return rc;
}

uint64_t review_html_count(const struct review_html *r)
{
  return r->count;
}

enum mly_rc review_html_close(struct review_html *r, struct mly_err *err)
{
  if(r->closed)
    return MLY_OK;
  r->closed = true;
  char end[64];
  int n = snprintf(end, sizeof(end), "\n],\"key\":\"%016llx%08llx\"}",
                   (unsigned long long)r->key, (unsigned long long)r->count & 0xffffffffu);
  enum mly_rc rc = put(r, end, (size_t)n, err);
  if(!rc)
    rc = put(r, mly_review_page_tail, mly_review_page_tail_len, err);
  if(!rc)
    rc = outfile_close(&r->out, err);
  return rc;
}

enum mly_rc review_html_publish(struct review_html *r, struct mly_err *err)
{
  if(!r->closed)
    return mly_err_set(err, MLY_EINVAL, "review page published before it was closed");
  enum mly_rc rc = outfile_publish(&r->out, err);
  if(!rc)
    r->published = true;
  return rc;
}

struct outfile *review_html_outfile(struct review_html *r)
{
  return &r->out;
}

void review_html_free(struct review_html **rp)
{
  if(!rp || !*rp)
    return;
  struct review_html *r = *rp;
  outfile_abort(&r->out); /* removes the temporary file unless it was published */
  dbuf_cleanup(&r->text);
  dbuf_cleanup(&r->esc);
  free(r);
  *rp = NULL;
}
