/* thin.c -- simplify_points: the points of each sequence thinned to a
 * geodesic distance, in two passes over the input (see thin.h) */
#include "mly/thin.h"
#include "mly/seqfeat.h"
#include "mly/geodesic.h"
#include "mly/seq.h"
#include "mly/strtab.h"

#include <stdlib.h>
#include <string.h>

struct thin {
  const struct thin_opts *o;
  struct thin_stats *st;
  struct strtab *strings;
  struct seq_builder *seqs;
  uint8_t *keep; /* a bit per point, by ordinal */
  struct wf_out *out;
  uint64_t ordinal, written; /* the second pass's */
};

static uint64_t bits_of(double d)
{
  uint64_t u;
  memcpy(&u, &d, sizeof(u));
  return u;
}

static double double_of(uint64_t u)
{
  double d;
  memcpy(&d, &u, sizeof(d));
  return d;
}

/* A feature as a sequence point: false when it belongs to no sequence
 * (no sequence_id, or not a valid Point: skipped, not an error). With
 * intern, *p is its record, read as create_custom_sequences reads one
 * (seqfeat.h: so the order is get_mapillary_points'), with the position as
 * the doubles' bits for the distances. */
static bool as_point(struct thin *t, const struct feature *f, struct seq_point *p, bool intern,
                     enum mly_rc *rc, struct mly_err *err)
{
  char buf[JSONW_NUM_MAX];
  size_t n;
  double lon, lat;
  *rc = MLY_OK;
  const char *sid = wf_prop_text(f->properties, "sequence_id", buf, sizeof(buf), &n);
  if(!sid || n == 0 || !feature_point(f, &lon, &lat))
    return false;
  if(!intern)
    return true;
  enum seqfeat_what what;
  if((*rc = seqfeat_point(t->strings, f, p, &what, err)))
    return false;
  p->lon = bits_of(lon);
  p->lat = bits_of(lat);
  return true;
}

/* seq_each_fn: mark the points kept in one sequence */
static enum mly_rc thin_sequence(void *user, const struct seq_point *v, size_t n,
                                 struct mly_err *err)
{
  struct thin *t = user;
  (void)err;
  t->st->sequences++;
  size_t last = 0;
  t->keep[v[0].ordinal >> 3] |= (uint8_t)(1u << (v[0].ordinal & 7));
  t->st->kept++;
  for(size_t i = 1; i < n; i++) {
    double d = geodesic_distance(double_of(v[last].lon), double_of(v[last].lat),
                                 double_of(v[i].lon), double_of(v[i].lat), NULL);
    if(d >= t->o->distance_m) {
      t->keep[v[i].ordinal >> 3] |= (uint8_t)(1u << (v[i].ordinal & 7));
      t->st->kept++;
      last = i;
    }
  }
  return MLY_OK;
}

/* wf_feature_fn of the first pass: a record per point */
static enum mly_rc read_one(void *user, const struct feature *f, struct mly_err *err)
{
  struct thin *t = user;
  enum mly_rc rc;
  struct seq_point p;
  t->st->features++;
  if(!as_point(t, f, &p, true, &rc, err)) {
    if(rc)
      return rc;
    t->st->skipped++;
    return MLY_OK;
  }
  if((rc = seq_add(t->seqs, &p)))
    return seq_add_error(t->seqs, err);
  t->st->points++;
  return MLY_OK;
}

/* wf_feature_fn of the second pass: the kept features out */
static enum mly_rc write_one(void *user, const struct feature *f, struct mly_err *err)
{
  struct thin *t = user;
  enum mly_rc rc;
  struct seq_point p;
  if(!as_point(t, f, &p, false, &rc, err))
    return MLY_OK; /* in no sequence: no ordinal */
  uint64_t ordinal = t->ordinal++;
  if(!(t->keep[ordinal >> 3] & (1u << (ordinal & 7))))
    return MLY_OK;
  if((rc = wf_out_feature(t->out, f->properties, f->geometry, err)))
    return rc;
  if((++t->written & 0xfff) == 0) {
    wf_report(t->o->progress, "writing", t->written);
    if(wf_stopped(t->o->progress))
      return mly_err_set(err, MLY_ESTOP, "stopped");
  }
  return MLY_OK;
}

enum mly_rc thin_points(const struct thin_opts *o, struct thin_stats *st, struct mly_err *err)
{
  memset(st, 0, sizeof(*st));
  struct thin t;
  memset(&t, 0, sizeof(t));
  t.o = o;
  t.st = st;
  struct wf_input in;
  struct wf_out out;
  t.out = &out;
  memset(&out, 0, sizeof(out));
  enum mly_rc rc = wf_begin(&in, o->input, o->output, err);
  if(rc)
    return rc;
  st->started = true;
  t.strings = strtab_new();
  t.seqs = t.strings ? seq_new(t.strings) : NULL;
  if(!t.seqs)
    rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
  else
    seq_set_memory_limit(t.seqs, o->max_points ? o->max_points : (size_t)1 << 19);
  if(!rc)
    rc = wf_each(&in, read_one, &t, o->progress, "reading", err);
  if(!rc && !(t.keep = calloc(st->points / 8 + 1, 1)))
    rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
  if(!rc)
    rc = seq_each(t.seqs, thin_sequence, &t, err);
  seq_free(&t.seqs); /* its memory and temporary files go before the writing */
  if(!rc)
    rc = wf_out_open(&out, o->output, err);
  if(!rc)
    rc = wf_each(&in, write_one, &t, NULL, NULL, err);
  if(!rc)
    rc = wf_out_publish(&out, err);
  wf_out_cleanup(&out);
  free(t.keep);
  strtab_free(&t.strings);
  wf_input_cleanup(&in);
  return rc;
}
