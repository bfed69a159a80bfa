/* seqfeat.h -- a point feature read back (featread) into the record seq.c keeps
 *
 * So that a command building sequences from a points file (as
 * create_custom_sequences does) orders and writes them exactly as
 * get_mapillary_points did from the tiles: the same fields, read from the
 * properties get_mapillary_points writes (SPEC.md "Output", Points):
 *   id             an integer >= 0, or a string of canonical decimal digits
 *                  (a number id); any other string: a string id; else unknown
 *   sequence_id    a string, or an integer (its digits); required
 *   captured_at    an integer, an integral real, or a string of digits (ms)
 *   is_pano        true or false (also the strings "true" and "false")
 *   organization_id a string or an integer; "" is unknown
 * and the Point's coordinates (packed as jsonw writes them). */
#ifndef MLY_SEQFEAT_H
#define MLY_SEQFEAT_H

#include "mly/common.h"
#include "mly/seq.h"
#include "mly/strtab.h"

struct feature;

enum seqfeat_what {
  SEQFEAT_KEPT = 0,      /* *out is the point's record */
  SEQFEAT_NOT_POINT,     /* null geometry or not a Point: no record */
  SEQFEAT_NO_SEQUENCE    /* no sequence_id (absent, null, "", other type): no record */
};

/* The record of point feature f in *out (OUT), strings interned in
 * strings; *what (OUT) says whether there is one. MLY_EFORMAT naming the
 * feature (its 0-based index) when the Point's position is not two finite
 * numbers within [-180, 180] x [-90, 90]; MLY_ENOMEM / MLY_ETOOBIG from
 * strtab_intern. */
enum mly_rc seqfeat_point(struct strtab *strings, const struct feature *f, struct seq_point *out,
                          enum seqfeat_what *what, struct mly_err *err) MLY_WARN_UNUSED;

#endif
