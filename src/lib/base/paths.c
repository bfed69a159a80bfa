/* paths.c -- paths compared as files (device and inode, else resolved folder plus name) */
#include "mly/paths.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum ident_kind { ID_STDIO, ID_FILE, ID_ABSENT };

struct ident {
  enum ident_kind kind;
  dev_t dev;
  ino_t ino;
  mode_t mode;
  char *where; /* ID_ABSENT: the absolute path it would be created at */
};

/* "/" + the first k components of comp */
static char *join_first(char **comp, size_t k, size_t cap)
{
  char *s = malloc(cap);
  if(!s)
    return NULL;
  size_t n = 0;
  s[n++] = '/';
  for(size_t i = 0; i < k; i++) {
    size_t l = strlen(comp[i]);
    if(i)
      s[n++] = '/';
    memcpy(s + n, comp[i], l);
    n += l;
  }
  s[n] = '\0';
  return s;
}

/* Where path would be created: the longest leading part that exists,
 * resolved by realpath, then the rest with "." and ".." applied as text
 * (nothing of it exists, so no symlink can change its meaning). NULL when
 * out of memory. */
static char *resolve_absent(const char *path)
{
  char *abs;
  if(path[0] == '/')
    abs = strdup(path);
  else {
    char *cwd = getcwd(NULL, 0);
    if(!cwd)
      return NULL;
    size_t n = strlen(cwd) + strlen(path) + 2;
    abs = malloc(n);
    if(abs)
      snprintf(abs, n, "%s/%s", cwd, path);
    free(cwd);
  }
  if(!abs)
    return NULL;
  size_t len = strlen(abs), ncomp = 0;
  char **comp = malloc((len / 2 + 2) * sizeof(*comp));
  if(!comp) {
    free(abs);
    return NULL;
  }
  for(char *tok = strtok(abs, "/"); tok; tok = strtok(NULL, "/"))
    comp[ncomp++] = tok;
  char *out = NULL, *base = NULL;
  size_t k = ncomp + 1;
  while(k-- > 0) {
    char *prefix = join_first(comp, k, len + 2);
    if(!prefix)
      goto done;
    base = realpath(prefix, NULL);
    int e = errno;
    free(prefix);
    if(base)
      break;
    if(e == ENOMEM)
      goto done;
  }
  if(!base) { /* even "/" failed: compare the text */
    k = 0;
    base = strdup("/");
  }
  if(!base)
    goto done;
  out = malloc(strlen(base) + len + 2);
  if(!out)
    goto done;
  strcpy(out, base);
  size_t n = strlen(out);
  for(size_t i = k; i < ncomp; i++) {
    if(!strcmp(comp[i], "."))
      continue;
    if(!strcmp(comp[i], "..")) {
      while(n > 1 && out[n - 1] != '/')
        n--;
      if(n > 1)
        n--; /* the slash too, except the root's */
      out[n] = '\0';
      continue;
    }
    if(n > 1)
      out[n++] = '/';
    size_t l = strlen(comp[i]);
    memcpy(out + n, comp[i], l);
    n += l;
    out[n] = '\0';
  }
done:
  free(base);
  free(comp);
  free(abs);
  return out;
}

/* stdio_fd: the descriptor "-" names here (0 read, 1 written), or -1 when
 * "-" is just a name for standard streams */
static enum mly_rc ident_of(const char *path, int stdio_fd, struct ident *id)
{
  memset(id, 0, sizeof(*id));
  struct stat st;
  if(!strcmp(path, "-")) {
    /* a regular file the shell opened (`< f`, `>> f`) is that file: it may
     * be another path of the run; a pipe, terminal or device is not */
    if(stdio_fd >= 0 && fstat(stdio_fd, &st) == 0 && S_ISREG(st.st_mode)) {
      id->kind = ID_FILE;
      id->dev = st.st_dev;
      id->ino = st.st_ino;
      id->mode = st.st_mode;
      return MLY_OK;
    }
    id->kind = ID_STDIO;
    return MLY_OK;
  }
  if(stat(path, &st) == 0) {
    id->kind = ID_FILE;
    id->dev = st.st_dev;
    id->ino = st.st_ino;
    id->mode = st.st_mode;
    return MLY_OK;
  }
  id->kind = ID_ABSENT;
  id->where = resolve_absent(path);
  return id->where ? MLY_OK : MLY_ENOMEM;
}

static bool ident_same(const struct ident *a, const struct ident *b)
{
  if(a->kind != b->kind)
    return false;
  switch(a->kind) {
  case ID_STDIO: return true;
  case ID_FILE: return a->dev == b->dev && a->ino == b->ino;
  case ID_ABSENT: return strcmp(a->where, b->where) == 0;
  }
  return false;
}

bool paths_same_file(const char *a, const char *b)
{
  struct ident ia, ib;
  bool same = false;
  if(ident_of(a, -1, &ia) == MLY_OK && ident_of(b, -1, &ib) == MLY_OK)
    same = ident_same(&ia, &ib);
  else if(!strcmp(a, b))
    same = true; /* out of memory: at least the text */
  free(ia.where);
  free(ib.where);
  return same;
}

/* A path as messages name it */
static const char *shown(const struct paths_use *u)
{
  if(strcmp(u->path, "-"))
    return u->path;
  return u->written ? "- (standard output)" : "- (standard input)";
}

enum mly_rc paths_check_distinct(const struct paths_use *uses, size_t n, struct mly_err *err)
{
  struct ident *ids = calloc(n ? n : 1, sizeof(*ids));
  if(!ids)
    return mly_err_set(err, MLY_ENOMEM, "out of memory");
  enum mly_rc rc = MLY_OK;
  for(size_t i = 0; i < n && !rc; i++)
    if(ident_of(uses[i].path, uses[i].written ? STDOUT_FILENO : STDIN_FILENO, &ids[i]) != MLY_OK)
      rc = mly_err_set(err, MLY_ENOMEM, "out of memory");
  for(size_t i = 0; i < n && !rc; i++)
    for(size_t k = i + 1; k < n && !rc; k++) {
      const struct paths_use *a = &uses[i], *b = &uses[k];
      if(!a->written && !b->written)
        continue;
      /* "-" written is standard output, "-" read standard input (each
       * compared as the file it is when the shell made it a regular one) */
      if(ids[i].kind == ID_STDIO && a->written != b->written)
        continue;
      if(!ident_same(&ids[i], &ids[k]))
        continue;
      if(ids[i].kind == ID_FILE && S_ISCHR(ids[i].mode) && a->written && b->written)
        continue; /* /dev/null twice overwrites nothing */
      const char *an = shown(a), *bn = shown(b);
      if(!strcmp(an, bn))
        rc = mly_err_set(err, MLY_EINVAL, "%s and %s are the same file '%.100s'", b->option,
                         a->option, an);
      else
        rc = mly_err_set(err, MLY_EINVAL, "%s '%.80s' is the same file as %s '%.80s'", b->option,
                         bn, a->option, an);
    }
  for(size_t i = 0; i < n; i++)
    free(ids[i].where);
  free(ids);
  return rc;
}
