/* replay_main.c -- run a fuzz harness over every file of the given folders
 * (or files), so the corpus is a regression test without libFuzzer */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
  FILE *f = fopen(path, "rb");
  if(!f) {
    fprintf(stderr, "replay: cannot open %s\n", path);
    return 1;
  }
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  size_t got;
  while(buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if(n == cap) {
      uint8_t *nb = realloc(buf, cap * 2);
      if(!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  fclose(f);
  if(!buf)
    return 1;
  /* an exact-size copy so ASan catches any over-read */
  uint8_t *exact = malloc(n ? n : 1);
  if(exact)
    memcpy(exact, buf, n);
  free(buf);
  if(!exact)
    return 1;
  LLVMFuzzerTestOneInput(exact, n);
  free(exact);
  return 0;
}

static int replay(const char *path, int *count)
{
  struct stat st;
  if(stat(path, &st) != 0) {
    fprintf(stderr, "replay: no such path %s\n", path);
    return 1;
  }
  if(!S_ISDIR(st.st_mode)) {
    (*count)++;
    return replay_file(path);
  }
  DIR *d = opendir(path);
  if(!d)
    return 1;
  struct dirent *e;
  int rc = 0;
  while((e = readdir(d)) != NULL) {
    if(e->d_name[0] == '.')
      continue;
    char sub[4096];
    snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
    rc |= replay(sub, count);
  }
  closedir(d);
  return rc;
}

int main(int argc, char **argv)
{
  int rc = 0, count = 0;
  for(int i = 1; i < argc; i++)
    rc |= replay(argv[i], &count);
  printf("replayed %d inputs\n", count);
  if(count == 0) {
    fprintf(stderr, "replay: no inputs\n");
    return 1;
  }
  return rc;
}
