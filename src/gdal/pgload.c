/* pgload.c -- a PostGIS table loaded with libpq's COPY (pgload.h)
 *
 * Why not GDAL's PostgreSQL driver: it writes reals with 15 significant
 * digits (OGR_F_GetFieldAsString), so 167.9213104248047 became
 * 167.921310424805; COPY here writes every double in a form that parses
 * back to the same double, as the GeoJSON output does. */
#include "pgload.h"
#include "spool.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEW_SUFFIX "__mly_new"
#define COPY_CHUNK (1u << 20)

struct gdalmod_pg {
  PGconn *c;
  char *table;
};

/* The first line of a libpq message, without "ERROR:  " */
static enum mly_rc pq_err(struct mly_err *err, const char *what, const char *msg)
{
  if(!msg)
    msg = "";
  if(strncmp(msg, "ERROR:", 6) == 0)
    msg += 6;
  while(*msg == ' ')
    msg++;
  size_t n = strcspn(msg, "\n");
  return mly_err_set(err, MLY_EIO, "%s%s%.*s", what, n ? ": " : "", (int)n, msg);
}

static void quiet(void *arg, const char *message)
{
  (void)arg; /* notices ("does not exist, skipping") are not ours to print */
  (void)message;
}

static PGconn *connect_db(const char *conninfo, struct mly_err *err)
{
  PGconn *c = PQconnectdb(conninfo);
  if(!c) {
    mly_err_set(err, MLY_ENOMEM, "out of memory");
    return NULL;
  }
  if(PQstatus(c) != CONNECTION_OK) {
    pq_err(err, "cannot connect", PQerrorMessage(c));
    PQfinish(c);
    return NULL;
  }
  PQsetNoticeProcessor(c, quiet, NULL);
  return c;
}

/* Run one statement; false (message in err when not NULL) when it failed */
static bool exec(PGconn *c, const char *sql, struct mly_err *err)
{
  PGresult *r = PQexec(c, sql);
  ExecStatusType st = PQresultStatus(r);
  bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
  if(!ok && err)
    pq_err(err, "the database refused the statement", PQresultErrorMessage(r));
  PQclear(r);
  return ok;
}

enum mly_rc pgload_check(const char *conninfo, const char *table, struct mly_err *err)
{
  (void)table;
  PGconn *c = connect_db(conninfo, err);
  if(!c)
    return MLY_EIO;
  enum mly_rc rc = MLY_OK;
  if(!exec(c, "SELECT postgis_version()", NULL))
    rc = mly_err_set(err, MLY_EIO, "the database has no PostGIS (CREATE EXTENSION postgis)");
  PQfinish(c);
  return rc;
}

/* ---- text of a COPY row --------------------------------------------------- */

struct buf {
  char *p;
  size_t n, cap;
  bool oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
  if(b->oom)
    return;
  if(b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while(cap < b->n + n)
      cap *= 2;
    char *p = realloc(b->p, cap);
    if(!p) {
      b->oom = true;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
}

static void puts_(struct buf *b, const char *s)
{
  put(b, s, strlen(s));
}

/* A double so that it parses back to the same double */
static void put_double(struct buf *b, double v)
{
  char t[32];
  for(int prec = 15; prec <= 17; prec++) {
    snprintf(t, sizeof(t), "%.*g", prec, v);
    if(strtod(t, NULL) == v)
      break;
  }
  puts_(b, t);
}

/* Text in COPY's text format: backslash, tab, newline, CR escaped */
static void put_text(struct buf *b, const char *s, size_t n)
{
  size_t from = 0;
  for(size_t i = 0; i < n; i++) {
    const char *esc = s[i] == '\\' ? "\\\\" : s[i] == '\t' ? "\\t" : s[i] == '\n' ? "\\n"
                      : s[i] == '\r' ? "\\r" : NULL;
    if(!esc)
      continue;
    put(b, s + from, i - from);
    puts_(b, esc);
    from = i + 1;
  }
  put(b, s + from, n - from);
}

static void put_value(struct buf *b, enum ftype t, json_t *v)
{
  if(!v || json_is_null(v)) {
    puts_(b, "\\N");
    return;
  }
  char num[32];
  switch(t) {
  case FT_BOOL: puts_(b, json_is_true(v) ? "t" : "f"); return;
  case FT_INT:
    snprintf(num, sizeof(num), "%lld",
             json_is_integer(v) ? (long long)json_integer_value(v) : (long long)json_is_true(v));
    puts_(b, num);
    return;
  case FT_REAL: put_double(b, json_number_value(v)); return;
  case FT_STRING:
  case FT_JSON:
  case FT_NONE: break;
  }
  if(json_is_string(v)) {
    put_text(b, json_string_value(v), json_string_length(v));
    return;
  }
  char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if(!text) {
    b->oom = true;
    return;
  }
  put_text(b, text, strlen(text));
  free(text);
}

/* GeoJSON coordinates as WKT's: depth 0 a position "x y", deeper a list
 * "(...)" of the level below; false when they are not of that shape */
static bool put_coords(struct buf *b, json_t *c, int depth)
{
  if(!json_is_array(c))
    return false;
  if(depth == 0) {
    if(json_array_size(c) < 2 || !json_is_number(json_array_get(c, 0)) ||
       !json_is_number(json_array_get(c, 1)))
      return false;
    put_double(b, json_number_value(json_array_get(c, 0)));
    puts_(b, " ");
    put_double(b, json_number_value(json_array_get(c, 1)));
    return true;
  }
  puts_(b, "(");
  size_t i;
  json_t *e;
  json_array_foreach(c, i, e) {
    if(i)
      puts_(b, ",");
    if(!put_coords(b, e, depth - 1))
      return false;
  }
  puts_(b, ")");
  return json_array_size(c) > 0;
}

/* A GeoJSON geometry as WKT (without SRID) */
static bool put_wkt(struct buf *b, json_t *g, int nesting)
{
  static const struct {
    const char *geojson, *wkt;
    int depth;
  } kinds[] = {
    {"Point", "POINT(", 0},           {"LineString", "LINESTRING", 1},
    {"Polygon", "POLYGON", 2},        {"MultiPoint", "MULTIPOINT", 2},
    {"MultiLineString", "MULTILINESTRING", 2}, {"MultiPolygon", "MULTIPOLYGON", 3},
  };
  const char *type = json_string_value(json_object_get(g, "type"));
  if(!type || nesting > 8)
    return false;
  if(strcmp(type, "GeometryCollection") == 0) {
    json_t *gs = json_object_get(g, "geometries");
    if(!json_is_array(gs))
      return false;
    puts_(b, json_array_size(gs) ? "GEOMETRYCOLLECTION(" : "GEOMETRYCOLLECTION EMPTY");
    size_t i;
    json_t *e;
    json_array_foreach(gs, i, e) {
      if(i)
        puts_(b, ",");
      if(!put_wkt(b, e, nesting + 1))
        return false;
    }
    if(json_array_size(gs))
      puts_(b, ")");
    return true;
  }
  for(size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
    if(strcmp(type, kinds[k].geojson) != 0)
      continue;
    json_t *c = json_object_get(g, "coordinates");
    puts_(b, kinds[k].wkt);
    if(kinds[k].depth == 0) {
      bool ok = put_coords(b, c, 0);
      puts_(b, ")");
      return ok;
    }
    /* MULTIPOINT's points are written as "(x y)" lists of depth 1 */
    if(strcmp(type, "MultiPoint") == 0) {
      if(!json_is_array(c) || json_array_size(c) == 0)
        return false;
      puts_(b, "(");
      size_t i;
      json_t *e;
      json_array_foreach(c, i, e) {
        if(i)
          puts_(b, ",");
        puts_(b, "(");
        if(!put_coords(b, e, 0))
          return false;
        puts_(b, ")");
      }
      puts_(b, ")");
      return true;
    }
    return put_coords(b, c, kinds[k].depth);
  }
  return false;
}

/* ---- loading -------------------------------------------------------------- */

static const char *sql_type(enum ftype t)
{
  switch(t) {
  case FT_BOOL: return "boolean";
  case FT_INT: return "bigint";
  case FT_REAL: return "double precision";
  case FT_JSON: return "json";
  case FT_STRING:
  case FT_NONE: break;
  }
  return "text";
}

/* CREATE TABLE and the COPY statement for schema s */
static bool table_sql(struct buf *create, struct buf *copy, const char *newq,
                      const struct schema *s)
{
  char q[300];
  puts_(create, "CREATE TABLE ");
  puts_(create, newq);
  puts_(create, " (ogc_fid bigserial PRIMARY KEY");
  puts_(copy, "COPY ");
  puts_(copy, newq);
  puts_(copy, " (");
  for(size_t i = 0; i < s->n; i++) {
    spool_quote_ident(q, sizeof(q), s->f[i].name, "");
    puts_(create, ", ");
    puts_(create, q);
    puts_(create, " ");
    puts_(create, sql_type(s->f[i].t));
    puts_(copy, q);
    puts_(copy, ", ");
  }
  char geom[64];
  snprintf(geom, sizeof(geom), ", geom geometry(%s,4326))", s->gtype ? s->gtype : "Geometry");
  puts_(create, geom);
  puts_(copy, "geom) FROM STDIN");
  put(create, "", 1);
  put(copy, "", 1);
  return !create->oom && !copy->oom;
}

/* Pass two: every feature of the spool as COPY rows */
static enum mly_rc copy_rows(PGconn *c, int fd, const struct schema *s, struct mly_err *err)
{
  struct spool sp;
  enum mly_rc rc = spool_open(&sp, fd, err);
  json_t **vals = calloc(s->n ? s->n : 1, sizeof(*vals));
  if(!rc && !vals)
    rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
  struct buf b = {0};
  json_t *f;
  while(!rc && !(rc = spool_next(&sp, &f, err)) && f) {
    schema_values(s, f, vals);
    for(size_t i = 0; i < s->n; i++) {
      put_value(&b, s->f[i].t, vals[i]);
      puts_(&b, "\t");
    }
    json_t *g = json_object_get(f, "geometry");
    if(json_is_object(g)) {
      puts_(&b, "SRID=4326;");
      if(!put_wkt(&b, g, 0))
        rc = mly_err_set(err, MLY_EFORMAT, "feature %llu has a geometry PostGIS cannot take",
                         (unsigned long long)sp.lineno);
    }
    else
      puts_(&b, "\\N");
    puts_(&b, "\n");
    json_decref(f);
    if(!rc && b.oom)
      rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
    if(!rc && b.n >= COPY_CHUNK) {
      if(PQputCopyData(c, b.p, (int)b.n) != 1)
        rc = pq_err(err, "cannot load", PQerrorMessage(c));
      b.n = 0;
    }
  }
  if(!rc && b.n && PQputCopyData(c, b.p, (int)b.n) != 1)
    rc = pq_err(err, "cannot load", PQerrorMessage(c));
  /* end the COPY either way: an error message makes the server drop it */
  if(PQputCopyEnd(c, rc ? "mapillary stopped the load" : NULL) != 1 && !rc)
    rc = pq_err(err, "cannot load", PQerrorMessage(c));
  PGresult *r;
  while((r = PQgetResult(c)) != NULL) {
    if(!rc && PQresultStatus(r) != PGRES_COMMAND_OK)
      rc = pq_err(err, "cannot load", PQresultErrorMessage(r));
    PQclear(r);
  }
  free(b.p);
  free(vals);
  spool_close(&sp);
  return rc;
}

enum mly_rc pgload_load(int spool_fd, const char *conninfo, const char *table,
                        enum gdalmod_kind kind, struct gdalmod_pg **out, struct mly_err *err)
{
  *out = NULL;
  struct schema s = {0};
  enum mly_rc rc = spool_scan(spool_fd, kind, &s, err);
  PGconn *c = rc ? NULL : connect_db(conninfo, err);
  if(!rc && !c)
    rc = MLY_EIO;
  char newq[300], idx[300], stmt[800];
  spool_quote_ident(newq, sizeof(newq), table, NEW_SUFFIX);
  struct buf create = {0}, copy = {0};
  if(!rc && !table_sql(&create, &copy, newq, &s))
    rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
  /* one transaction from here to publish: nothing is seen, nothing stays
   * behind (a killed run's connection drops and the server rolls back) */
  if(!rc && !exec(c, "BEGIN", err))
    rc = MLY_EIO;
  /* a table left under the load's name (by hand) is not ours to keep */
  snprintf(stmt, sizeof(stmt), "DROP TABLE IF EXISTS %s", newq);
  if(!rc && (!exec(c, stmt, err) || !exec(c, create.p, err)))
    rc = MLY_EIO;
  if(!rc) {
    PGresult *r = PQexec(c, copy.p);
    if(PQresultStatus(r) != PGRES_COPY_IN)
      rc = pq_err(err, "cannot load", PQresultErrorMessage(r));
    PQclear(r);
  }
  if(!rc)
    rc = copy_rows(c, spool_fd, &s, err);
  /* the index after the rows: one build instead of one insertion each */
  spool_quote_ident(idx, sizeof(idx), table, NEW_SUFFIX "_geom_geom_idx");
  snprintf(stmt, sizeof(stmt), "CREATE INDEX %s ON %s USING GIST (geom)", idx, newq);
  if(!rc && !exec(c, stmt, err))
    rc = MLY_EIO;
  free(create.p);
  free(copy.p);
  schema_free(&s);
  struct gdalmod_pg *pg = rc ? NULL : calloc(1, sizeof(*pg));
  if(!rc && (!pg || !(pg->table = strdup(table)))) {
    free(pg);
    pg = NULL;
    rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
  }
  if(rc) {
    if(c)
      PQfinish(c); /* the server rolls the transaction back */
    return rc;
  }
  pg->c = c;
  *out = pg;
  return MLY_OK;
}

static void pg_free(struct gdalmod_pg *pg)
{
  PQfinish(pg->c);
  free(pg->table);
  free(pg);
}

/* Rename what the load's table owns to the names the table's own would
 * have; each under a savepoint, so that a name taken elsewhere only keeps
 * the load's name */
static void rename_owned(PGconn *c, const char *table)
{
  static const struct {
    const char *kind, *suffix;
  } owned[] = {
    {"INDEX", "_pkey"},
    {"INDEX", "_geom_geom_idx"},
    {"SEQUENCE", "_ogc_fid_seq"},
  };
  for(size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
    char from[300], to[300], stmt[800];
    snprintf(from, sizeof(from), "%s" NEW_SUFFIX "%s", table, owned[i].suffix);
    snprintf(to, sizeof(to), "%s%s", table, owned[i].suffix);
    char fq[300], tq[300];
    spool_quote_ident(fq, sizeof(fq), from, "");
    spool_quote_ident(tq, sizeof(tq), to, "");
    snprintf(stmt, sizeof(stmt), "ALTER %s IF EXISTS %s RENAME TO %s", owned[i].kind, fq, tq);
    exec(c, "SAVEPOINT mly_rename", NULL);
    if(exec(c, stmt, NULL))
      exec(c, "RELEASE SAVEPOINT mly_rename", NULL);
    else
      exec(c, "ROLLBACK TO SAVEPOINT mly_rename", NULL);
  }
}

enum mly_rc pgload_publish(struct gdalmod_pg *pg, struct mly_err *err)
{
  char oldq[300], newq[300], stmt[800];
  spool_quote_ident(oldq, sizeof(oldq), pg->table, "");
  spool_quote_ident(newq, sizeof(newq), pg->table, NEW_SUFFIX);
  enum mly_rc rc = MLY_OK;
  /* not CASCADE: a view on the old table makes this fail, and the old
   * table stays with its view */
  snprintf(stmt, sizeof(stmt), "DROP TABLE IF EXISTS %s", oldq);
  if(!exec(pg->c, stmt, err))
    rc = MLY_EIO;
  snprintf(stmt, sizeof(stmt), "ALTER TABLE %s RENAME TO %s", newq, oldq);
  if(!rc && !exec(pg->c, stmt, err))
    rc = MLY_EIO;
  if(!rc)
    rename_owned(pg->c, pg->table);
  if(!rc && !exec(pg->c, "COMMIT", err))
    rc = MLY_EIO;
  pg_free(pg); /* without a COMMIT the server rolls back */
  return rc;
}

void pgload_abort(struct gdalmod_pg *pg)
{
  if(!pg)
    return;
  (void)exec(pg->c, "ROLLBACK", NULL);
  pg_free(pg);
}
