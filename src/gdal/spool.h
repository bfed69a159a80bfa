/* spool.h -- reading back an output's GeoJSONL spool inside the GDAL module:
 * the schema pass (fields with one type each, the geometry type) and the
 * features one at a time (see include/mly/gdalmod.h) */
#ifndef MLY_GDAL_SPOOL_H
#define MLY_GDAL_SPOOL_H

#include <stdio.h>
#include <jansson.h>
#include "mly/gdalmod.h"

/* A property's one type over the whole file: mixed integers and reals are
 * reals, mixed integers and booleans integers, any other mix strings (the
 * JSON text of non-strings); FT_NONE: only nulls seen */
enum ftype { FT_NONE = 0, FT_BOOL, FT_INT, FT_REAL, FT_STRING, FT_JSON };

struct field {
  char *name;
  enum ftype t;
};

struct schema {
  struct field *f;
  size_t n, cap;
  /* the GeoJSON type name of every geometry ("Point", ...), or NULL when
   * they differ (a generic geometry column) */
  const char *gtype;
};

void schema_free(struct schema *s);
/* Index of name (case-insensitive, as GeoPackage and PostgreSQL columns
 * are), -1 if none; hint: the index to try first */
long schema_find(const struct schema *s, const char *name, size_t hint);

/* vals[i] := feature's value of field i of s, NULL when it has none
 * (vals has s->n slots) */
void schema_values(const struct schema *s, json_t *feature, json_t **vals);

struct spool {
  FILE *fp;
  char *line;
  size_t cap;
  uint64_t lineno;
};

/* Read fd from its start (through a duplicate: fd stays open) */
enum mly_rc spool_open(struct spool *sp, int fd, struct mly_err *err) MLY_WARN_UNUSED;
/* The next feature object into *out (the caller's; NULL at the end) */
enum mly_rc spool_next(struct spool *sp, json_t **out, struct mly_err *err) MLY_WARN_UNUSED;
void spool_close(struct spool *sp);

/* Pass one: the kind's known properties in their order and types, then
 * every other property in order of first appearance; the geometry type
 * (none seen: the kind's, Point or LineString) */
enum mly_rc spool_scan(int fd, enum gdalmod_kind kind, struct schema *s, struct mly_err *err)
    MLY_WARN_UNUSED;

/* "name<suffix>" as a double-quoted SQL identifier into buf */
void spool_quote_ident(char *buf, size_t n, const char *name, const char *suffix);

#endif
