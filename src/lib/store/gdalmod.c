/* gdalmod.c -- find and dlopen() the GDAL module on first use (gdalmod.h) */
#include "mly/gdalmod.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const struct gdalmod *loaded;

/* The folder of the running binary, or "" */
static void exe_dir(char *dir, size_t n)
{
  ssize_t len = readlink("/proc/self/exe", dir, n - 1);
  dir[len > 0 ? len : 0] = '\0';
  char *slash = strrchr(dir, '/');
  if(slash)
    *slash = '\0';
  else
    dir[0] = '\0';
}

static void *open_module(char *tried, size_t n)
{
  const char *env = getenv("MLY_GDAL_MODULE");
  if(env && *env) {
    snprintf(tried, n, "%s", env);
    return dlopen(env, RTLD_NOW | RTLD_LOCAL);
  }
  char dir[PATH_MAX], path[PATH_MAX + 64];
  exe_dir(dir, sizeof(dir));
  static const char *const where[] = {"%s/" GDALMOD_FILE, "%s/../lib/mapillary/" GDALMOD_FILE};
  for(size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
    snprintf(path, sizeof(path), where[i], dir);
    if(access(path, R_OK) != 0)
      continue;
    snprintf(tried, n, "%s", path);
    return dlopen(path, RTLD_NOW | RTLD_LOCAL);
  }
  snprintf(tried, n, "%s/../lib/mapillary/" GDALMOD_FILE, dir);
  return NULL;
}

const struct gdalmod *gdalmod_load(struct mly_err *err)
{
  pthread_mutex_lock(&lock);
  const struct gdalmod *m = loaded;
  if(m) {
    pthread_mutex_unlock(&lock);
    return m;
  }
  char tried[PATH_MAX + 64];
  void *h = open_module(tried, sizeof(tried));
  if(!h) {
    /* dlerror names the path it tried */
    const char *why = tried[0] && access(tried, R_OK) == 0 ? dlerror() : NULL;
    if(why)
      mly_err_set(err, MLY_EINVAL, "cannot load the GDAL module: %s", why);
    else
      mly_err_set(err, MLY_EINVAL,
                  "GeoPackage, FlatGeobuf and PostGIS need the GDAL module '%s' "
                  "(built when libgdal-dev is installed)", tried);
    pthread_mutex_unlock(&lock);
    return NULL;
  }
  gdalmod_entry_fn entry;
  *(void **)&entry = dlsym(h, GDALMOD_SYMBOL);
  m = entry ? entry() : NULL;
  if(!m || m->abi != GDALMOD_ABI) {
    mly_err_set(err, MLY_EINVAL, "the GDAL module '%s' does not match this binary", tried);
    dlclose(h);
    m = NULL;
  }
  loaded = m; /* kept loaded to the end: GDAL does not unload cleanly */
  pthread_mutex_unlock(&lock);
  return m;
}
