/* seqmerge.c -- merge_sequences (see seqmerge.h) */
#include "mly/seqmerge.h"
#include "mly/geodesic.h"
#include "mly/jsonw.h"
#include "mly/strtab.h"
#include "mly/tempfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool valid_line(const json_t *line)
{
  double lon, lat;
  if(!json_is_array(line) || json_array_size(line) < 2)
    return false;
  for(size_t i = 0; i < json_array_size(line); i++)
    if(!feature_position(json_array_get(line, i), &lon, &lat))
      return false;
  return true;
}

bool seqmerge_lines(const json_t *g, json_t *lines)
{
  const char *t = json_string_value(json_object_get(g, "type"));
  const json_t *c = json_object_get(g, "coordinates");
  if(!t)
    return false;
  if(strcmp(t, "LineString") == 0) {
    if(!valid_line(c))
      return false;
    return !lines || json_array_append(lines, (json_t *)c) == 0;
  }
  if(strcmp(t, "MultiLineString") != 0 || !json_is_array(c) || json_array_size(c) == 0)
    return false;
  for(size_t i = 0; i < json_array_size(c); i++)
    if(!valid_line(json_array_get(c, i)))
      return false;
  for(size_t i = 0; lines && i < json_array_size(c); i++)
    if(json_array_append(lines, json_array_get(c, i)))
      return false;
  return true;
}

/* One sequence being gathered. Its features before the last wait in a
 * temporary file (the parts file), each record pointing back at the one
 * before, so memory holds 16 bytes per sequence and one sequence's lines
 * at a time however the input interleaves them. */
struct group {
  uint32_t total, seen; /* its features in the input, and read so far */
  uint64_t last;        /* parts-file offset of the latest waiting part + 1; 0: none */
};

/* A waiting part's record in the parts file: this header, then the
 * feature's GeoJSON text (feature_write_geojson: numbers read back the same) */
struct part_head {
  uint64_t prev; /* the part before, as group.last */
  uint64_t len;
};

struct merge {
  const struct seqmerge_opts *o;
  struct seqmerge_stats *st;
  struct strtab *ids;
  struct group *groups;
  size_t ngroups, cap;
  struct wf_out *out; /* NULL in the counting pass */
  FILE *parts;        /* features waiting for their sequence's last one */
  uint64_t parts_size;
  struct dbuf text;
};

/* The sequence of a feature, or false (counted) when it is skipped */
static bool sequence_of(struct merge *m, const struct feature *f, uint32_t *idx, bool count,
                        enum mly_rc *rc)
{
  char buf[JSONW_NUM_MAX];
  size_t n;
  *rc = MLY_OK;
  const char *sid = wf_prop_text(f->properties, "sequence_id", buf, sizeof(buf), &n);
  if(!sid || n == 0) {
    m->st->no_sequence += count;
    return false;
  }
  if(!f->geometry || !seqmerge_lines(f->geometry, NULL)) {
    m->st->invalid += count;
    return false;
  }
  if((*rc = strtab_intern(m->ids, sid, n, idx)))
    return false;
  if(*idx >= m->ngroups) {
    if(*idx >= m->cap) {
      size_t cap = m->cap ? m->cap * 2 : 1024;
      struct group *g = realloc(m->groups, cap * sizeof(*g));
      if(!g) {
        *rc = MLY_ENOMEM;
        return false;
      }
      m->groups = g;
      m->cap = cap;
    }
    memset(&m->groups[*idx], 0, sizeof(*m->groups));
    m->ngroups = *idx + 1;
  }
  return true;
}

static enum mly_rc parts_error(struct mly_err *err)
{
  return mly_err_set(err, MLY_EIO, "cannot use a temporary file for sequences split over the "
                     "input: %s", strerror(errno ? errno : EIO));
}

/* Park feature f (not its sequence's last) in the parts file */
static enum mly_rc park(struct merge *m, struct group *g, const struct feature *f,
                        struct mly_err *err)
{
  enum mly_rc rc;
  if(!m->parts && (rc = tempfile_fopen("sequences split over the input", &m->parts, err)))
    return rc;
  dbuf_reset(&m->text);
  rc = feature_write_geojson(&m->text, f->properties, f->geometry);
  if(rc)
    return mly_err_set(err, rc, "a feature is too large");
  struct part_head h = {g->last, m->text.n};
  if(fseeko(m->parts, (off_t)m->parts_size, SEEK_SET) != 0 || fwrite(&h, sizeof(h), 1, m->parts) != 1 ||
     fwrite(m->text.p, 1, m->text.n, m->parts) != m->text.n)
    return parts_error(err);
  g->last = m->parts_size + 1;
  m->parts_size += sizeof(h) + m->text.n;
  return MLY_OK;
}

/* The parked features of g, back in input order, into *parts (an array) */
static enum mly_rc unpark(struct merge *m, struct group *g, json_t *parts, struct mly_err *err)
{
  if(fflush(m->parts) != 0)
    return parts_error(err);
  for(uint64_t at = g->last; at; ) {
    struct part_head h;
    if(fseeko(m->parts, (off_t)(at - 1), SEEK_SET) != 0 || fread(&h, sizeof(h), 1, m->parts) != 1)
      return parts_error(err);
    dbuf_reset(&m->text);
    enum mly_rc rc = dbuf_reserve(&m->text, (size_t)h.len);
    if(rc)
      return mly_err_set(err, rc, "out of memory");
    if(fread(m->text.p, 1, (size_t)h.len, m->parts) != h.len)
      return parts_error(err);
    json_t *v = json_loadb(m->text.p, (size_t)h.len, 0, NULL);
    if(!v || json_array_insert_new(parts, 0, v))
      return mly_err_set(err, MLY_ENOMEM, "out of memory");
    at = h.prev;
  }
  g->last = 0;
  return MLY_OK;
}

/* The merged feature of a sequence (its sequence_id sid): the lines of
 * its features, the first one's properties */
static enum mly_rc write_group(struct merge *m, const json_t *first_props, const json_t *lines,
                               bool merged, struct mly_view sid, struct mly_err *err)
{
  size_t nl = json_array_size(lines);
  double length = 0;
  uint64_t points = 0;
  for(size_t i = 0; i < nl; i++) {
    const json_t *line = json_array_get(lines, i);
    size_t nv = json_array_size(line);
    double lon0 = 0, lat0 = 0, lon, lat;
    for(size_t k = 0; k < nv; k++) {
      feature_position(json_array_get(line, k), &lon, &lat);
      if(k)
        length += geodesic_distance(lon0, lat0, lon, lat, NULL);
      lon0 = lon;
      lat0 = lat;
    }
    points += nv;
  }
  json_t *props = json_deep_copy(first_props);
  json_t *geom = nl == 1 ? json_pack("{s:s,s:O}", "type", "LineString", "coordinates",
                                     json_array_get(lines, 0))
                         : json_pack("{s:s,s:O}", "type", "MultiLineString", "coordinates", lines);
  enum mly_rc rc = MLY_OK;
  if(!geom || !props || json_object_set_new(props, "id", json_stringn(sid.p, sid.n)) ||
     json_object_set_new(props, "length", json_real(length)) ||
     json_object_set_new(props, "points", json_integer((json_int_t)points)))
    rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
  if(!rc)
    rc = wf_out_feature(m->out, props, geom, err);
  json_decref(geom);
  json_decref(props);
  m->st->sequences++;
  if(merged)
    m->st->merged++;
  if((m->st->sequences & 0xff) == 0)
    wf_report(m->o->progress, "writing", m->st->sequences);
  return rc;
}

/* The last feature f of group g has come: gather and write the sequence */
static enum mly_rc finish_group(struct merge *m, struct group *g, const struct feature *f,
                                struct mly_view sid, struct mly_err *err)
{
  json_t *parts = json_array(), *lines = json_array();
  enum mly_rc rc = parts && lines ? MLY_OK : mly_err_set(err, MLY_ENOMEM, "out of memory");
  if(!rc && g->last)
    rc = unpark(m, g, parts, err);
  for(size_t i = 0; !rc && i < json_array_size(parts); i++)
    if(!seqmerge_lines(json_object_get(json_array_get(parts, i), "geometry"), lines))
      rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
  if(!rc && !seqmerge_lines(f->geometry, lines))
    rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
  if(!rc) {
    const json_t *first = json_array_size(parts)
                              ? json_object_get(json_array_get(parts, 0), "properties") : f->properties;
    rc = write_group(m, first, lines, g->total > 1, sid, err);
  }
  json_decref(parts);
  json_decref(lines);
  return rc;
}

/* wf_feature_fn: count each sequence's features (m->out NULL), then
 * gather them and write each sequence when its last feature comes */
static enum mly_rc merge_one(void *user, const struct feature *f, struct mly_err *err)
{
  struct merge *m = user;
  bool counting = m->out == NULL;
  enum mly_rc rc;
  if(counting)
    m->st->features++; /* reported by wf_each */
  if(wf_stopped(m->o->progress))
    return mly_err_set(err, MLY_ESTOP, "stopped");
  uint32_t idx;
  if(!sequence_of(m, f, &idx, counting, &rc))
    return rc ? mly_err_set(err, rc, "out of memory") : MLY_OK;
  struct group *g = &m->groups[idx];
  if(counting) {
    if(g->total == UINT32_MAX)
      return mly_err_set(err, MLY_ETOOBIG, "sequence with too many features");
    g->total++;
    return MLY_OK;
  }
  if(++g->seen < g->total)
    return park(m, g, f, err);
  return finish_group(m, g, f, strtab_get(m->ids, idx), err);
}

enum mly_rc seqmerge_run(const struct seqmerge_opts *o, struct seqmerge_stats *st,
                         struct mly_err *err)
{
  memset(st, 0, sizeof(*st));
  struct merge m;
  memset(&m, 0, sizeof(m));
  m.o = o;
  m.st = st;
  dbuf_init(&m.text, (size_t)FEATREAD_FEATURE_MAX * 2);
  struct wf_input in;
  struct wf_out out;
  memset(&out, 0, sizeof(out));
  enum mly_rc rc = wf_begin(&in, o->input, o->output, err);
  if(rc)
    return rc;
  st->started = true;
  if(!(m.ids = strtab_new()))
    rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
  if(!rc)
    rc = wf_each(&in, merge_one, &m, o->progress, "reading", err);
  if(!rc)
    rc = wf_out_open(&out, o->output, err);
  if(!rc)
    m.out = &out;
  if(!rc)
    rc = wf_each(&in, merge_one, &m, NULL, NULL, err);
  if(!rc)
    rc = wf_out_publish(&out, err);
  wf_out_cleanup(&out);
  if(m.parts)
    fclose(m.parts);
  dbuf_cleanup(&m.text);
  free(m.groups);
  strtab_free(&m.ids);
  wf_input_cleanup(&in);
  return rc;
}
