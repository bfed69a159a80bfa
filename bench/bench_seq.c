/* bench_seq.c -- sequence builder time and peak memory, in memory and with spilling to disk
 *
 * usage: bench_seq [N [LIMIT [FORMAT [limited]]]]
 *
 * Feeds N synthetic kept images (default 10^7) through seq_add and
 * seq_write twice, each in a child process of its own so that its peak
 * RSS is its own: once with seq_set_memory_limit(LIMIT) (default
 * 2,000,000 points), once unlimited (skipped with `limited`, for sizes
 * that would not fit in memory). FORMAT is the output's extension
 * (default .geojson). The output goes to a file in $TMPDIR (else /tmp),
 * removed after; its FNV-1a hash is printed so that the two runs can be
 * seen to write the same bytes.
 *
 * The input imitates tile order: sequences of 2..600 images (a few of one)
 * arrive in pieces of 1..40 images, pieces of many sequences interleaved,
 * each piece backwards, so that only the sort puts vertices in order. A
 * few captured_at values and ids are unknown. Each run prints a line
 * `result limit=... add_s=... write_s=... cpu_s=... maxrss_mib=... sequences=... hash=...`:
 * wall seconds of each phase, CPU seconds of the child, and ru_maxrss. */
#include "mly/outfile.h"
#include "mly/seq.h"
#include "mly/strtab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct gen_seq {
  uint32_t seq;     /* strtab index */
  uint32_t org;     /* strtab index + 1, or 0 */
  uint32_t len, done;
  int64_t start;    /* captured_at of vertex 0 */
  uint64_t id_base;
  uint8_t pano;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

/* xorshift64*: the same input on every run and machine */
static uint64_t rnd(void)
{
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ULL;
}

static double wall(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t fnv_file(const char *path, uint64_t *bytes)
{
  uint64_t h = 0xcbf29ce484222325ULL;
  *bytes = 0;
  FILE *fp = fopen(path, "rb");
  if(!fp)
    return 0;
  static unsigned char buf[1 << 16];
  size_t n;
  while((n = fread(buf, 1, sizeof(buf), fp)) > 0) {
    *bytes += n;
    for(size_t i = 0; i < n; i++)
      h = (h ^ buf[i]) * 0x100000001b3ULL;
  }
  fclose(fp);
  return h;
}

/* Sequences whose lengths add up to n */
static struct gen_seq *make_sequences(struct strtab *st, uint64_t n, size_t *count)
{
  size_t cap = 1024, k = 0;
  struct gen_seq *s = malloc(cap * sizeof(*s));
  uint32_t orgs[8];
  for(int i = 0; i < 8; i++) {
    char name[32];
    int len = snprintf(name, sizeof(name), "org-%d", i);
    if(strtab_intern(st, name, (size_t)len, &orgs[i]))
      return NULL;
  }
  for(uint64_t left = n; s && left;) {
    if(k == cap) {
      cap *= 2;
      struct gen_seq *ns = realloc(s, cap * sizeof(*s));
      if(!ns) {
        free(s);
        return NULL;
      }
      s = ns;
    }
    struct gen_seq *g = &s[k];
    memset(g, 0, sizeof(*g));
    uint64_t len = rnd() % 50 == 0 ? 1 : 2 + rnd() % 599;
    g->len = (uint32_t)(len < left ? len : left);
    left -= g->len;
    char name[48];
    int nl = snprintf(name, sizeof(name), "seq-%08zx-%016llx", k, (unsigned long long)rnd());
    if(strtab_intern(st, name, (size_t)nl, &g->seq)) {
      free(s);
      return NULL;
    }
    g->org = rnd() % 5 ? orgs[rnd() % 8] + 1 : 0;
    g->start = 1500000000000LL + (int64_t)(rnd() % 200000000000ULL);
    g->id_base = 100000000000ULL + rnd() % 1000000000000ULL;
    g->pano = (uint8_t)(rnd() % 10 == 0);
    k++;
  }
  *count = k;
  return s;
}

static void make_point(const struct gen_seq *g, uint32_t i, struct seq_point *p)
{
  memset(p, 0, sizeof(*p));
  struct jsonw_pos pos;
  jsonw_pos_pack(&pos, -120.0 + (double)(g->seq % 1000) * 0.1 + (double)i * 1.3e-5,
                 30.0 + (double)(g->seq / 1000) * 0.1 + (double)i * 0.7e-5);
  seq_point_at(p, &pos);
  p->seq = g->seq;
  p->org = g->org;
  p->flags = SEQP_PANO_KNOWN | (g->pano ? SEQP_PANO : 0);
  if(rnd() % 100) {
    p->flags |= SEQP_CAPTURED_KNOWN;
    p->captured_at = g->start + (int64_t)i * 2000;
  }
  if(rnd() % 200) {
    p->flags |= SEQP_ID_KNOWN;
    p->id = g->id_base + i;
  }
}

/* One configuration, in the calling (child) process; 0 on success */
static int run_one(uint64_t n, size_t limit, const char *ext)
{
  struct strtab *st = strtab_new();
  struct seq_builder *b = st ? seq_new(st) : NULL;
  size_t nseqs = 0;
  struct gen_seq *seqs = b ? make_sequences(st, n, &nseqs) : NULL;
  size_t *active = seqs ? malloc(nseqs * sizeof(*active)) : NULL;
  if(!active) {
    fprintf(stderr, "bench_seq: out of memory\n");
    return 1;
  }
  seq_set_memory_limit(b, limit);
  for(size_t i = 0; i < nseqs; i++)
    active[i] = i;
  size_t nactive = nseqs;

  double t0 = wall();
  struct seq_point p;
  while(nactive) {
    size_t slot = (size_t)(rnd() % nactive);
    struct gen_seq *g = &seqs[active[slot]];
    uint32_t piece = 1 + (uint32_t)(rnd() % 40);
    if(piece > g->len - g->done)
      piece = g->len - g->done;
    /* a tile's images arrive backwards */
    for(uint32_t i = g->done + piece; i-- > g->done;) {
      make_point(g, i, &p);
      enum mly_rc rc = seq_add(b, &p);
      if(rc) {
        struct mly_err err = {0};
        seq_add_error(b, &err);
        fprintf(stderr, "bench_seq: seq_add: %s\n", err.msg);
        return 1;
      }
    }
    g->done += piece;
    if(g->done == g->len)
      active[slot] = active[--nactive];
  }
  double t1 = wall();

  const char *dir = getenv("TMPDIR");
  char path[512];
  snprintf(path, sizeof(path), "%s/mly-bench-seq-%ld%s", dir && *dir ? dir : "/tmp",
           (long)getpid(), ext);
  struct outfile o;
  struct mly_err err = {0};
  size_t written = 0;
  if(outfile_open_as(&o, path, OUTFILE_SEQUENCES, &err) || seq_write(b, &o, &written, &err) ||
     outfile_close(&o, &err) || outfile_publish(&o, &err)) {
    fprintf(stderr, "bench_seq: %s\n", err.msg);
    outfile_abort(&o);
    return 1;
  }
  outfile_abort(&o);
  double t2 = wall();

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  uint64_t bytes;
  uint64_t h = fnv_file(path, &bytes);
  unlink(path);
  double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
  printf("result limit=%zu points=%llu add_s=%.2f write_s=%.2f cpu_s=%.2f maxrss_mib=%.1f "
         "sequences=%zu bytes=%llu hash=%016llx\n",
         limit, (unsigned long long)n, t1 - t0, t2 - t1, cpu, (double)ru.ru_maxrss / 1024.0,
         written, (unsigned long long)bytes, (unsigned long long)h);
  fflush(stdout);
  seq_free(&b);
  free(active);
  free(seqs);
  strtab_free(&st);
  return 0;
}

int main(int argc, char **argv)
{
  uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000ULL;
  size_t limit = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 2000000;
  const char *ext = argc > 3 ? argv[3] : ".geojson";
  size_t limits[2] = {limit, 0};
  int runs = argc > 4 && strcmp(argv[4], "limited") == 0 ? 1 : 2;
  int bad = 0;
  for(int i = 0; i < runs; i++) {
    fflush(stdout);
    pid_t pid = fork();
    if(pid < 0) {
      perror("bench_seq: fork");
      return 1;
    }
    if(pid == 0)
      _exit(run_one(n, limits[i], ext));
    int status;
    if(waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
      bad = 1;
  }
  return bad;
}
