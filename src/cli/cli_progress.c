/* cli_progress.c -- progress lines and summaries of the workflow commands */
#include "cli_progress.h"
#include "cli.h"
#include "mly/paths.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void cli_progress_init(struct cli_progress *p, bool quiet, bool progress)
{
  p->quiet = quiet;
  p->tty = !quiet && isatty(STDERR_FILENO);
  p->lines = !quiet && !p->tty && progress;
  p->drawn = false;
  p->start = p->last = now_s();
}

double cli_progress_elapsed(const struct cli_progress *p)
{
  return now_s() - p->start;
}

void cli_progress_show(struct cli_progress *p, const char *fmt, ...)
{
  if(!p->tty && !p->lines)
    return;
  double t = now_s();
  if(t - p->last < (p->tty ? 0.1 : 2.0))
    return;
  p->last = t;
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  if(p->tty) {
    fprintf(stderr, "\r\033[K%s", line);
    p->drawn = true;
  } else {
    fprintf(stderr, "mapillary: %s\n", line);
  }
}

void cli_progress_clear(struct cli_progress *p)
{
  if(p->drawn)
    fputs("\r\033[K", stderr);
  p->drawn = false;
}

void cli_progress_summary(struct cli_progress *p, const char *fmt, ...)
{
  cli_progress_clear(p);
  if(p->quiet)
    return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  fprintf(stderr, "mapillary: %s\n", line);
}

static void wf_show(void *user, const char *what, uint64_t done)
{
  cli_progress_show(user, "%s: %llu features", what, (unsigned long long)done);
}

const struct wf_progress *cli_progress_wf(struct cli_progress *p)
{
  p->wf.fn = wf_show;
  p->wf.user = p;
  p->wf.stop = &cli_stop_requested;
  return &p->wf;
}

int cli_workflow_exit(struct cli_progress *p, enum mly_rc rc, bool started, const char *msg)
{
  if(rc == MLY_OK)
    return CLI_OK;
  if(p)
    cli_progress_clear(p);
  fprintf(stderr, "mapillary: %s\n", msg && msg[0] ? msg : mly_strerror(rc));
  switch(rc) {
  case MLY_ESTOP:
  case MLY_ERATE: return CLI_INCOMPLETE;
  case MLY_EFORMAT:
  case MLY_EINVAL:
  case MLY_ETOOBIG: return CLI_USAGE; /* bad input: the output stays absent */
  case MLY_EIO: return started ? CLI_FAILED : CLI_USAGE;
  default: return CLI_FAILED;
  }
}

int cli_check_paths(const struct paths_use *uses, size_t n)
{
  struct mly_err err = {0};
  enum mly_rc rc = paths_check_distinct(uses, n, &err);
  return rc ? cli_workflow_exit(NULL, rc == MLY_ENOMEM ? rc : MLY_EINVAL, false, err.msg) : CLI_OK;
}
