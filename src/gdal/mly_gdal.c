/* mly_gdal.c -- libmly_gdal.so: GeoPackage and FlatGeobuf through GDAL's C
 * API (PostGIS through libpq's COPY: pgload.c), loaded by the binary only
 * when such a format is asked for (see include/mly/gdalmod.h) */
#include "mly/featread.h"
#include "mly/gdalmod.h"
#include "spool.h"
#include "pgload.h"

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
  json_t **vals = calloc(s->n ? s->n : 1, sizeof(*vals));
  if(!rc && !vals)
    rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
  json_t *f;
  uint64_t n = 0;
  if(!rc && batch && GDALDatasetStartTransaction(ds, FALSE) != OGRERR_NONE)
    rc = gdal_err(err, "cannot start a transaction");
  while(!rc && !(rc = spool_next(&sp, &f, err)) && f) {
    OGRFeatureH feat = OGR_F_Create(defn);
    schema_values(s, f, vals);
    for(size_t i = 0; i < s->n; i++)
      if(vals[i])
        set_field(feat, (int)i, s->f[i].t, vals[i]);
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
  free(vals);
  spool_close(&sp);
  return rc;
}

static OGRwkbGeometryType wkb_type(const char *name)
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
    if(name && strcmp(name, types[i].name) == 0)
      return types[i].t;
  return wkbUnknown;
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
  enum mly_rc rc = spool_scan(spool_fd, kind, &s, err);
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
  OGRLayerH layer = GDALDatasetCreateLayer(ds, layer_name, srs, wkb_type(s.gtype), lopts);
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
  /* the cap a GeoJSON feature has: its text fields and geometry, as read,
   * before any copy of them is made */
  size_t bytes = 0;
  OGRGeometryH g0 = OGR_F_GetGeometryRef(f);
  if(g0)
    bytes += (size_t)OGR_G_WkbSize(g0);
  for(int i = 0; i < OGR_FD_GetFieldCount(defn); i++)
    if(OGR_F_IsFieldSetAndNotNull(f, i)) {
      OGRFieldType t = OGR_Fld_GetType(OGR_FD_GetFieldDefn(defn, i));
      if(t == OFTString || t == OFTBinary || t == OFTStringList || t == OFTIntegerList ||
         t == OFTInteger64List || t == OFTRealList)
        bytes += strlen(OGR_F_GetFieldAsString(f, i));
    }
  if(bytes > FEATREAD_FEATURE_MAX) {
    long long fid = (long long)OGR_F_GetFID(f);
    OGR_F_Destroy(f);
    return mly_err_set(err, MLY_ETOOBIG, "larger than %u MB (fid %lld)",
                       FEATREAD_FEATURE_MAX >> 20, fid);
  }
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
  .pg_check = pgload_check,
  .pg_load = pgload_load,
  .pg_publish = pgload_publish,
  .pg_abort = pgload_abort,
  .read_open = read_open,
  .read_next = read_next,
  .read_close = read_close,
};

__attribute__((visibility("default"))) const struct gdalmod *mly_gdalmod(void)
{
  return &table;
}
