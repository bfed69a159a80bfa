/* mly_gdal.c -- libmly_gdal.so: GeoPackage, FlatGeobuf and PostGIS through
 * GDAL's C API, loaded by the binary only when such a format is asked for
 * (see include/mly/gdalmod.h for the contract) */
#include "mly/gdalmod.h"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Features written between commits (GPKG: one SQLite transaction each) */
#define BATCH 100000

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init(void)
{
  GDALAllRegister();
  /* messages are taken with CPLGetLastErrorMsg, never printed by GDAL */
  CPLSetErrorHandler(CPLQuietErrorHandler);
  /* the file is a temporary one, fsynced once complete: SQLite need not
   * sync each transaction */
  CPLSetConfigOption("OGR_SQLITE_SYNCHRONOUS", "OFF");
  /* nor keep a rollback journal: a failed file is removed whole (and no
   * side file appears beside the target) */
  CPLSetConfigOption("OGR_SQLITE_JOURNAL", "OFF");
}

/* err from GDAL's last message */
static enum mly_rc gdal_err(struct mly_err *err, const char *what)
{
  const char *m = CPLGetLastErrorMsg();
  return mly_err_set(err, MLY_EIO, "%s%s%s", what, m && *m ? ": " : "", m ? m : "");
}

/* ---- schema --------------------------------------------------------------- */

enum ftype { FT_NONE = 0, FT_BOOL, FT_INT, FT_REAL, FT_STRING, FT_JSON };

struct field {
  char *name;
  enum ftype t;
};

struct schema {
  struct field *f;
  size_t n, cap;
  OGRwkbGeometryType gtype;
  bool gseen;
};

static const struct field points_known[] = {
  {"id", FT_STRING},        {"sequence_id", FT_STRING}, {"captured_at", FT_INT},
  {"compass_angle", FT_REAL}, {"is_pano", FT_BOOL},     {"organization_id", FT_STRING},
};
static const struct field sequences_known[] = {
  {"sequence_id", FT_STRING}, {"is_pano", FT_BOOL},       {"organization_id", FT_STRING},
  {"total_points", FT_INT},   {"captured_at_start", FT_INT}, {"captured_at_end", FT_INT},
  {"images_id", FT_STRING},
};

static void schema_free(struct schema *s)
{
  for(size_t i = 0; i < s->n; i++)
    free(s->f[i].name);
  free(s->f);
  memset(s, 0, sizeof(*s));
}

/* Index of name (case-insensitive, as GeoPackage columns are), -1 if none;
 * hint: where the previous feature had it */
static long schema_find(const struct schema *s, const char *name, size_t hint)
{
  if(hint < s->n && strcasecmp(s->f[hint].name, name) == 0)
    return (long)hint;
  for(size_t i = 0; i < s->n; i++)
    if(strcasecmp(s->f[i].name, name) == 0)
      return (long)i;
  return -1;
}

static long schema_add(struct schema *s, const char *name, enum ftype t)
{
  if(s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    struct field *f = realloc(s->f, cap * sizeof(*f));
    if(!f)
      return -1;
    s->f = f;
    s->cap = cap;
  }
  s->f[s->n].name = strdup(name);
  if(!s->f[s->n].name)
    return -1;
  s->f[s->n].t = t;
  return (long)s->n++;
}

static enum ftype type_of(const json_t *v)
{
  switch(json_typeof(v)) {
  case JSON_TRUE:
  case JSON_FALSE: return FT_BOOL;
  case JSON_INTEGER: return FT_INT;
  case JSON_REAL: return FT_REAL;
  case JSON_STRING: return FT_STRING;
  case JSON_OBJECT:
  case JSON_ARRAY: return FT_JSON;
  case JSON_NULL: break;
  }
  return FT_NONE;
}

/* One type for values of types a and b */
static enum ftype merge(enum ftype a, enum ftype b)
{
  if(a == b || b == FT_NONE)
    return a;
  if(a == FT_NONE)
    return b;
  if((a == FT_INT && b == FT_REAL) || (a == FT_REAL && b == FT_INT))
    return FT_REAL;
  if((a == FT_INT && b == FT_BOOL) || (a == FT_BOOL && b == FT_INT))
    return FT_INT;
  return FT_STRING; /* numbers, booleans, objects as their JSON text */
}

static OGRwkbGeometryType geom_type_of(const char *t)
{
  static const struct {
    const char *name;
    OGRwkbGeometryType t;
  } types[] = {
    {"Point", wkbPoint},           {"LineString", wkbLineString},
    {"Polygon", wkbPolygon},       {"MultiPoint", wkbMultiPoint},
    {"MultiLineString", wkbMultiLineString}, {"MultiPolygon", wkbMultiPolygon},
    {"GeometryCollection", wkbGeometryCollection},
  };
  for(size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
    if(t && strcmp(t, types[i].name) == 0)
      return types[i].t;
  return wkbUnknown;
}

/* ---- reading the spool ---------------------------------------------------- */

struct spool {
  FILE *fp;
  char *line;
  size_t cap;
  uint64_t lineno;
};

static enum mly_rc spool_open(struct spool *sp, int fd, struct mly_err *err)
{
  memset(sp, 0, sizeof(*sp));
  int d = dup(fd);
  if(d < 0 || lseek(d, 0, SEEK_SET) != 0 || !(sp->fp = fdopen(d, "r"))) {
    int e = errno;
    if(d >= 0)
      close(d);
    return mly_err_set(err, MLY_EIO, "cannot read back the features: %s", strerror(e));
  }
  return MLY_OK;
}

/* The next feature's object into *out (NULL at the end) */
static enum mly_rc spool_next(struct spool *sp, json_t **out, struct mly_err *err)
{
  *out = NULL;
  ssize_t n;
  while((n = getline(&sp->line, &sp->cap, sp->fp)) >= 0) {
    sp->lineno++;
    if(n <= 1)
      continue;
    json_error_t je;
    json_t *f = json_loadb(sp->line, (size_t)n, 0, &je);
    if(!f || !json_is_object(f)) {
      json_decref(f);
      return mly_err_set(err, MLY_EFORMAT, "feature %llu cannot be read back: %s",
                         (unsigned long long)sp->lineno, f ? "not an object" : je.text);
    }
    *out = f;
    return MLY_OK;
  }
  if(ferror(sp->fp))
    return mly_err_set(err, MLY_EIO, "cannot read back the features: %s", strerror(errno));
  return MLY_OK;
}

static void spool_close(struct spool *sp)
{
  if(sp->fp)
    fclose(sp->fp);
  free(sp->line);
  memset(sp, 0, sizeof(*sp));
}

/* Pass one: the fields and the geometry type */
static enum mly_rc scan(int fd, enum gdalmod_kind kind, struct schema *s, struct mly_err *err)
{
  const struct field *known = kind == GDALMOD_SEQUENCES ? sequences_known : points_known;
  size_t nknown = kind == GDALMOD_SEQUENCES ? sizeof(sequences_known) / sizeof(*known)
                   : kind == GDALMOD_POINTS ? sizeof(points_known) / sizeof(*known)
                                            : 0; /* a workflow command's: all from the file */
  for(size_t i = 0; i < nknown; i++)
    if(schema_add(s, known[i].name, known[i].t) < 0)
      return mly_err_set(err, MLY_ENOMEM, "out of memory");
  struct spool sp;
  enum mly_rc rc = spool_open(&sp, fd, err);
  json_t *f;
  while(!rc && !(rc = spool_next(&sp, &f, err)) && f) {
    json_t *props = json_object_get(f, "properties");
    const char *k;
    json_t *v;
    size_t hint = 0;
    json_object_foreach(props, k, v) {
      long i = schema_find(s, k, hint);
      if(i < 0)
        i = schema_add(s, k, FT_NONE);
      if(i < 0) {
        rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
        break;
      }
      s->f[i].t = merge(s->f[i].t, type_of(v));
      hint = (size_t)i + 1;
    }
    json_t *g = json_object_get(f, "geometry");
    if(json_is_object(g)) {
      OGRwkbGeometryType t = geom_type_of(json_string_value(json_object_get(g, "type")));
      if(!s->gseen)
        s->gtype = t;
      else if(s->gtype != t)
        s->gtype = wkbUnknown;
      s->gseen = true;
    }
    json_decref(f);
  }
  spool_close(&sp);
  if(!s->gseen)
    s->gtype = kind == GDALMOD_SEQUENCES ? wkbLineString
               : kind == GDALMOD_POINTS  ? wkbPoint
                                         : wkbUnknown;
  return rc;
}

/* ---- writing -------------------------------------------------------------- */

static enum mly_rc create_fields(OGRLayerH layer, const struct schema *s, struct mly_err *err)
{
  for(size_t i = 0; i < s->n; i++) {
    OGRFieldType t = OFTString;
    OGRFieldSubType st = OFSTNone;
    switch(s->f[i].t) {
    case FT_BOOL:
      t = OFTInteger;
      st = OFSTBoolean;
      break;
    case FT_INT: t = OFTInteger64; break;
    case FT_REAL: t = OFTReal; break;
    case FT_JSON: st = OFSTJSON; break;
    case FT_STRING:
    case FT_NONE: break;
    }
    OGRFieldDefnH fd = OGR_Fld_Create(s->f[i].name, t);
    OGR_Fld_SetSubType(fd, st);
    OGRErr e = OGR_L_CreateField(layer, fd, FALSE);
    OGR_Fld_Destroy(fd);
    if(e != OGRERR_NONE)
      return gdal_err(err, "cannot create a field");
  }
  return MLY_OK;
}

static bool coord(const json_t *c, double *x, double *y)
{
  if(!json_is_array(c) || json_array_size(c) < 2 || !json_is_number(json_array_get(c, 0)) ||
     !json_is_number(json_array_get(c, 1)))
    return false;
  *x = json_number_value(json_array_get(c, 0));
  *y = json_number_value(json_array_get(c, 1));
  return true;
}

/* A GeoJSON geometry object as an OGR geometry; NULL when it is not one */
static OGRGeometryH make_geometry(json_t *g)
{
  const char *type = json_string_value(json_object_get(g, "type"));
  json_t *c = json_object_get(g, "coordinates");
  double x, y;
  if(type && strcmp(type, "Point") == 0 && coord(c, &x, &y)) {
    OGRGeometryH h = OGR_G_CreateGeometry(wkbPoint);
    OGR_G_SetPoint_2D(h, 0, x, y);
    return h;
  }
  if(type && strcmp(type, "LineString") == 0 && json_is_array(c)) {
    OGRGeometryH h = OGR_G_CreateGeometry(wkbLineString);
    size_t n = json_array_size(c);
    OGR_G_SetPointCount(h, (int)n);
    for(size_t i = 0; i < n; i++) {
      if(!coord(json_array_get(c, i), &x, &y)) {
        OGR_G_DestroyGeometry(h);
        return NULL;
      }
      OGR_G_SetPoint_2D(h, (int)i, x, y);
    }
    return h;
  }
  char *text = json_dumps(g, JSON_COMPACT);
  OGRGeometryH h = text ? OGR_G_CreateGeometryFromJson(text) : NULL;
  free(text);
  return h;
}

static void set_field(OGRFeatureH feat, int i, enum ftype t, json_t *v)
{
  if(json_is_null(v)) {
    OGR_F_SetFieldNull(feat, i);
    return;
  }
  switch(t) {
  case FT_BOOL: OGR_F_SetFieldInteger(feat, i, json_is_true(v)); return;
  case FT_INT:
    OGR_F_SetFieldInteger64(feat, i, json_is_integer(v) ? json_integer_value(v) : json_is_true(v));
    return;
  case FT_REAL: OGR_F_SetFieldDouble(feat, i, json_number_value(v)); return;
  case FT_STRING:
  case FT_JSON:
  case FT_NONE: break;
  }
  if(json_is_string(v)) {
    OGR_F_SetFieldString(feat, i, json_string_value(v));
    return;
  }
  char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if(text)
    OGR_F_SetFieldString(feat, i, text);
  free(text);
}

/* Pass two: every feature of the spool into layer. With batch, a
 * transaction is committed every BATCH features (GPKG). */
static enum mly_rc write_features(int fd, GDALDatasetH ds, OGRLayerH layer,
                                  const struct schema *s, bool batch, struct mly_err *err)
{
  OGRFeatureDefnH defn = OGR_L_GetLayerDefn(layer);
  struct spool sp;
  enum mly_rc rc = spool_open(&sp, fd, err);
  json_t *f;
  uint64_t n = 0;
  if(!rc && batch && GDALDatasetStartTransaction(ds, FALSE) != OGRERR_NONE)
    rc = gdal_err(err, "cannot start a transaction");
  while(!rc && !(rc = spool_next(&sp, &f, err)) && f) {
    OGRFeatureH feat = OGR_F_Create(defn);
    json_t *props = json_object_get(f, "properties");
    const char *k;
    json_t *v;
    size_t hint = 0;
    json_object_foreach(props, k, v) {
      long i = schema_find(s, k, hint);
      if(i < 0)
        continue; /* not in the scan: cannot happen */
      set_field(feat, (int)i, s->f[i].t, v);
      hint = (size_t)i + 1;
    }
    json_t *g = json_object_get(f, "geometry");
    if(json_is_object(g)) {
      OGRGeometryH h = make_geometry(g);
      if(!h)
        rc = mly_err_set(err, MLY_EFORMAT, "feature %llu has a geometry GDAL cannot take",
                         (unsigned long long)sp.lineno);
      else
        OGR_F_SetGeometryDirectly(feat, h);
    }
    if(!rc && OGR_L_CreateFeature(layer, feat) != OGRERR_NONE)
      rc = gdal_err(err, "cannot write a feature");
    OGR_F_Destroy(feat);
    json_decref(f);
    if(!rc && batch && ++n % BATCH == 0 &&
       (GDALDatasetCommitTransaction(ds) != OGRERR_NONE ||
        GDALDatasetStartTransaction(ds, FALSE) != OGRERR_NONE))
      rc = gdal_err(err, "cannot commit a transaction");
  }
  if(!rc && batch && GDALDatasetCommitTransaction(ds) != OGRERR_NONE)
    rc = gdal_err(err, "cannot commit a transaction");
  spool_close(&sp);
  return rc;
}

static OGRSpatialReferenceH wgs84(void)
{
  OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
  if(srs && OSRImportFromEPSG(srs, 4326) != OGRERR_NONE) {
    OSRDestroySpatialReference(srs);
    return NULL;
  }
  if(srs)
    OSRSetAxisMappingStrategy(srs, OAMS_TRADITIONAL_GIS_ORDER);
  return srs;
}

/* Remove what a failed write left: the file and GDAL's side files */
static void remove_file(const char *path)
{
  static const char *const sides[] = {"", "-journal", "-wal", "-shm"};
  char buf[4096];
  for(size_t i = 0; i < sizeof(sides) / sizeof(sides[0]); i++) {
    snprintf(buf, sizeof(buf), "%s%s", path, sides[i]);
    unlink(buf);
  }
}

/* A descriptor of path holding an flock, or -1 (path not there yet) */
static int lock_file(const char *path)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if(fd >= 0)
    (void)flock(fd, LOCK_EX | LOCK_NB);
  return fd;
}

static enum mly_rc write_file(int spool_fd, enum gdalmod_fmt fmt, const char *path,
                              const char *layer_name, enum gdalmod_kind kind, int *lock_fd,
                              struct mly_err *err)
{
  pthread_once(&init_once, init);
  *lock_fd = -1;
  CPLErrorReset();
  struct schema s = {0};
  enum mly_rc rc = scan(spool_fd, kind, &s, err);
  if(rc) {
    schema_free(&s);
    return rc;
  }
  GDALDriverH drv = GDALGetDriverByName(fmt == GDALMOD_FGB ? "FlatGeobuf" : "GPKG");
  GDALDatasetH ds = drv ? GDALCreate(drv, path, 0, 0, 0, GDT_Unknown, NULL) : NULL;
  if(!ds) {
    schema_free(&s);
    remove_file(path);
    return gdal_err(err, "cannot create the file");
  }
  /* GeoPackage's file exists from here (FlatGeobuf's from GDALClose) */
  int lfd = lock_file(path);
  OGRSpatialReferenceH srs = wgs84();
  char *lopts[] = {"SPATIAL_INDEX=YES", NULL};
  OGRLayerH layer = GDALDatasetCreateLayer(ds, layer_name, srs, s.gtype, lopts);
  if(srs)
    OSRDestroySpatialReference(srs);
  if(!layer)
    rc = gdal_err(err, "cannot create the layer");
  if(!rc)
    rc = create_fields(layer, &s, err);
  if(!rc)
    rc = write_features(spool_fd, ds, layer, &s, fmt == GDALMOD_GPKG, err);
  CPLErrorReset();
  GDALClose(ds); /* FlatGeobuf writes its index and features here */
  if(!rc && CPLGetLastErrorType() >= CE_Failure)
    rc = gdal_err(err, "cannot finish the file");
  schema_free(&s);
  if(lfd < 0)
    lfd = lock_file(path);
  /* complete and durable before publish renames it */
  if(!rc && (lfd < 0 || fsync(lfd) != 0))
    rc = mly_err_set(err, MLY_EIO, "cannot sync the file: %s", strerror(errno));
  if(rc) {
    remove_file(path);
    if(lfd >= 0)
      close(lfd);
    return rc;
  }
  *lock_fd = lfd;
  return MLY_OK;
}

/* ---- PostGIS -------------------------------------------------------------- */

#define NEW_SUFFIX "__mly_new"

struct gdalmod_pg {
  GDALDatasetH ds;
  char *table;
};

/* "name" with inner quotes doubled, into buf */
static void quote_ident(char *buf, size_t n, const char *name, const char *suffix)
{
  size_t o = 0;
  if(o + 1 < n)
    buf[o++] = '"';
  for(const char *p = name; *p && o + 3 < n; p++) {
    if(*p == '"')
      buf[o++] = '"';
    buf[o++] = *p;
  }
  for(const char *p = suffix; *p && o + 2 < n; p++)
    buf[o++] = *p;
  if(o + 1 < n)
    buf[o++] = '"';
  buf[o] = '\0';
}

static GDALDatasetH pg_open(const char *conninfo, struct mly_err *err)
{
  pthread_once(&init_once, init);
  CPLErrorReset();
  size_t n = strlen(conninfo) + 4;
  char *name = malloc(n);
  if(!name) {
    mly_err_set(err, MLY_ENOMEM, "out of memory");
    return NULL;
  }
  snprintf(name, n, "PG:%s", conninfo);
  const char *drivers[] = {"PostgreSQL", NULL};
  const char *oo[] = {"LIST_ALL_TABLES=NO", NULL};
  GDALDatasetH ds = GDALOpenEx(name, GDAL_OF_VECTOR | GDAL_OF_UPDATE, drivers, oo, NULL);
  free(name);
  if(!ds)
    gdal_err(err, "cannot connect");
  return ds;
}

/* Run one SQL statement; false (message in err) when it failed */
static bool sql(GDALDatasetH ds, const char *stmt, struct mly_err *err)
{
  CPLErrorReset();
  OGRLayerH res = GDALDatasetExecuteSQL(ds, stmt, NULL, NULL);
  if(res)
    GDALDatasetReleaseResultSet(ds, res);
  if(CPLGetLastErrorType() >= CE_Failure) {
    if(err)
      gdal_err(err, "the database refused the statement");
    return false;
  }
  return true;
}

static enum mly_rc pg_check(const char *conninfo, const char *table, struct mly_err *err)
{
  GDALDatasetH ds = pg_open(conninfo, err);
  if(!ds)
    return MLY_EIO;
  enum mly_rc rc = MLY_OK;
  if(!sql(ds, "SELECT postgis_version()", NULL))
    rc = mly_err_set(err, MLY_EIO, "the database has no PostGIS (CREATE EXTENSION postgis)");
  GDALClose(ds);
  (void)table;
  return rc;
}

static enum mly_rc pg_load(int spool_fd, const char *conninfo, const char *table,
                           enum gdalmod_kind kind, struct gdalmod_pg **out, struct mly_err *err)
{
  *out = NULL;
  struct schema s = {0};
  enum mly_rc rc = scan(spool_fd, kind, &s, err);
  GDALDatasetH ds = rc ? NULL : pg_open(conninfo, err);
  if(!rc && !ds)
    rc = MLY_EIO;
  struct gdalmod_pg *pg = rc ? NULL : calloc(1, sizeof(*pg));
  if(!rc && (!pg || !(pg->table = strdup(table)))) {
    free(pg);
    pg = NULL;
    rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
  }
  if(!rc) {
    pg->ds = ds;
    ds = NULL;
  }
  /* one transaction from here to publish: nothing is seen, nothing stays
   * behind, until the commit */
  if(!rc && GDALDatasetStartTransaction(pg->ds, TRUE) != OGRERR_NONE)
    rc = gdal_err(err, "cannot start a transaction");
  char newname[256], q[600];
  snprintf(newname, sizeof(newname), "%s" NEW_SUFFIX, table);
  if(!rc) {
    /* a table left by hand under the load's name is not ours to keep */
    quote_ident(q + 21, sizeof(q) - 21, newname, "");
    memcpy(q, "DROP TABLE IF EXISTS ", 21);
    if(!sql(pg->ds, q, err))
      rc = MLY_EIO;
  }
  OGRLayerH layer = NULL;
  if(!rc) {
    OGRSpatialReferenceH srs = wgs84();
    char *lopts[] = {"GEOMETRY_NAME=geom", "SPATIAL_INDEX=GIST", "LAUNDER=NO",
                     "FID=ogc_fid", NULL};
    CPLErrorReset();
    layer = GDALDatasetCreateLayer(pg->ds, newname, srs, s.gtype, lopts);
    if(srs)
      OSRDestroySpatialReference(srs);
    if(!layer)
      rc = gdal_err(err, "cannot create the table");
  }
  if(!rc)
    rc = create_fields(layer, &s, err);
  if(!rc)
    rc = write_features(spool_fd, pg->ds, layer, &s, false, err);
  if(!rc && OGR_L_SyncToDisk(layer) != OGRERR_NONE)
    rc = gdal_err(err, "cannot load the table");
  schema_free(&s);
  if(ds)
    GDALClose(ds);
  if(rc) {
    if(pg) {
      if(pg->ds) {
        GDALDatasetRollbackTransaction(pg->ds);
        GDALClose(pg->ds);
      }
      free(pg->table);
      free(pg);
    }
    return rc;
  }
  *out = pg;
  return MLY_OK;
}

static void pg_free(struct gdalmod_pg *pg)
{
  if(pg->ds)
    GDALClose(pg->ds);
  free(pg->table);
  free(pg);
}

/* Rename what the load's table owns to the names the table's own would
 * have; each under a savepoint, so a name taken elsewhere only keeps the
 * load's name */
static void rename_owned(GDALDatasetH ds, const char *table)
{
  static const struct {
    const char *kind, *suffix;
  } owned[] = {
    {"INDEX", "_pkey"},
    {"INDEX", "_geom_geom_idx"},
    {"SEQUENCE", "_ogc_fid_seq"},
  };
  for(size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
    char from[300], to[300], oldn[300], newn[300], stmt[800];
    snprintf(oldn, sizeof(oldn), "%s" NEW_SUFFIX "%s", table, owned[i].suffix);
    snprintf(newn, sizeof(newn), "%s%s", table, owned[i].suffix);
    quote_ident(from, sizeof(from), oldn, "");
    quote_ident(to, sizeof(to), newn, "");
    snprintf(stmt, sizeof(stmt), "ALTER %s IF EXISTS %s RENAME TO %s", owned[i].kind, from, to);
    sql(ds, "SAVEPOINT mly_rename", NULL);
    if(!sql(ds, stmt, NULL))
      sql(ds, "ROLLBACK TO SAVEPOINT mly_rename", NULL);
    else
      sql(ds, "RELEASE SAVEPOINT mly_rename", NULL);
  }
}

static enum mly_rc pg_publish(struct gdalmod_pg *pg, struct mly_err *err)
{
  char oldq[300], newq[300], stmt[700];
  quote_ident(oldq, sizeof(oldq), pg->table, "");
  quote_ident(newq, sizeof(newq), pg->table, NEW_SUFFIX);
  enum mly_rc rc = MLY_OK;
  snprintf(stmt, sizeof(stmt), "DROP TABLE IF EXISTS %s", oldq);
  if(!sql(pg->ds, stmt, err))
    rc = MLY_EIO;
  snprintf(stmt, sizeof(stmt), "ALTER TABLE %s RENAME TO %s", newq, oldq);
  if(!rc && !sql(pg->ds, stmt, err))
    rc = MLY_EIO;
  if(!rc)
    rename_owned(pg->ds, pg->table);
  CPLErrorReset();
  if(!rc && GDALDatasetCommitTransaction(pg->ds) != OGRERR_NONE)
    rc = gdal_err(err, "cannot commit");
  if(rc)
    GDALDatasetRollbackTransaction(pg->ds);
  pg_free(pg);
  return rc;
}

static void pg_abort(struct gdalmod_pg *pg)
{
  if(!pg)
    return;
  GDALDatasetRollbackTransaction(pg->ds);
  pg_free(pg);
}

/* ---- reading -------------------------------------------------------------- */

struct reader {
  GDALDatasetH ds;
  OGRLayerH layer;
};

static enum mly_rc read_open(const char *path, void **out, struct mly_err *err)
{
  pthread_once(&init_once, init);
  CPLErrorReset();
  *out = NULL;
  const char *drivers[] = {"GPKG", "FlatGeobuf", NULL};
  GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, drivers, NULL, NULL);
  if(!ds)
    return gdal_err(err, "cannot open");
  struct reader *r = calloc(1, sizeof(*r));
  if(!r) {
    GDALClose(ds);
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  }
  r->ds = ds;
  r->layer = GDALDatasetGetLayerCount(ds) > 0 ? GDALDatasetGetLayer(ds, 0) : NULL;
  if(!r->layer) {
    GDALClose(ds);
    free(r);
    return mly_err_set(err, MLY_EFORMAT, "has no layer");
  }
  *out = r;
  return MLY_OK;
}

static json_t *field_value(OGRFeatureH f, OGRFieldDefnH fd, int i)
{
  switch(OGR_Fld_GetType(fd)) {
  case OFTInteger:
    if(OGR_Fld_GetSubType(fd) == OFSTBoolean)
      return json_boolean(OGR_F_GetFieldAsInteger(f, i));
    return json_integer(OGR_F_GetFieldAsInteger(f, i));
  case OFTInteger64: return json_integer(OGR_F_GetFieldAsInteger64(f, i));
  case OFTReal: return json_real(OGR_F_GetFieldAsDouble(f, i));
  case OFTString:
    if(OGR_Fld_GetSubType(fd) == OFSTJSON) {
      json_t *v = json_loads(OGR_F_GetFieldAsString(f, i), JSON_DECODE_ANY, NULL);
      if(v)
        return v;
    }
    return json_string(OGR_F_GetFieldAsString(f, i));
  default: break;
  }
  return json_string(OGR_F_GetFieldAsString(f, i));
}

static enum mly_rc read_next(void *rv, json_t **properties, json_t **geometry, bool *got,
                             struct mly_err *err)
{
  struct reader *r = rv;
  *properties = *geometry = NULL;
  CPLErrorReset();
  OGRFeatureH f = OGR_L_GetNextFeature(r->layer);
  *got = f != NULL;
  if(!f)
    return CPLGetLastErrorType() >= CE_Failure ? gdal_err(err, "cannot read") : MLY_OK;
  OGRFeatureDefnH defn = OGR_L_GetLayerDefn(r->layer);
  json_t *props = json_object();
  enum mly_rc rc = props ? MLY_OK : MLY_ENOMEM;
  for(int i = 0; !rc && i < OGR_FD_GetFieldCount(defn); i++) {
    if(!OGR_F_IsFieldSetAndNotNull(f, i))
      continue; /* unknown values are omitted, as in GeoJSON */
    OGRFieldDefnH fd = OGR_FD_GetFieldDefn(defn, i);
    if(json_object_set_new(props, OGR_Fld_GetNameRef(fd), field_value(f, fd, i)) != 0)
      rc = MLY_ENOMEM;
  }
  OGRGeometryH g = OGR_F_GetGeometryRef(f);
  if(!rc && g) {
    char *text = OGR_G_ExportToJson(g);
    *geometry = text ? json_loads(text, 0, NULL) : NULL;
    CPLFree(text);
    if(!*geometry)
      rc = mly_err_set(err, MLY_EFORMAT, "feature %lld has a geometry that cannot be read",
                       (long long)OGR_F_GetFID(f));
  }
  OGR_F_Destroy(f);
  if(rc) {
    json_decref(props);
    json_decref(*geometry);
    *geometry = NULL;
    return rc == MLY_ENOMEM ? mly_err_set(err, rc, "out of memory") : rc;
  }
  *properties = props;
  return MLY_OK;
}

static void read_close(void *rv)
{
  struct reader *r = rv;
  if(!r)
    return;
  GDALClose(r->ds);
  free(r);
}

static const char *version(void)
{
  return GDALVersionInfo("RELEASE_NAME");
}

static const struct gdalmod table = {
  .abi = GDALMOD_ABI,
  .version = version,
  .write_file = write_file,
  .pg_check = pg_check,
  .pg_load = pg_load,
  .pg_publish = pg_publish,
  .pg_abort = pg_abort,
  .read_open = read_open,
  .read_next = read_next,
  .read_close = read_close,
};

__attribute__((visibility("default"))) const struct gdalmod *mly_gdalmod(void)
{
  return &table;
}
