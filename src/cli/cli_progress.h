/* cli_progress.h -- a workflow command's progress line and summary on stderr
 *
 * On a terminal one line is redrawn at most 10 times a second; elsewhere
 * (a log) a plain line every 2 seconds, only with --progress. --quiet
 * silences both progress and summary. */
#ifndef MLY_CLI_PROGRESS_H
#define MLY_CLI_PROGRESS_H

#include <stdbool.h>
#include "mly/common.h"
#include "mly/workflow.h"

struct cli_progress {
  bool tty;     /* redraw one line */
  bool lines;   /* periodic plain lines (--progress, not a terminal) */
  bool quiet;   /* no summary either */
  bool drawn;   /* a tty line is on screen */
  double start, last;
  struct wf_progress wf; /* for a library module: see cli_progress_wf */
};

void cli_progress_init(struct cli_progress *p, bool quiet, bool progress);

/* Seconds since cli_progress_init */
double cli_progress_elapsed(const struct cli_progress *p);

/* Show a progress line (printf format) when it is time to */
void cli_progress_show(struct cli_progress *p, const char *fmt, ...) MLY_PRINTF(2, 3);

/* Clear the progress line and print a summary line "mapillary: <text>"
 * unless quiet */
void cli_progress_summary(struct cli_progress *p, const char *fmt, ...) MLY_PRINTF(2, 3);

/* Clear the progress line (before an error message) */
void cli_progress_clear(struct cli_progress *p);

/* p's progress as a library module reports it (workflow.h): "<what>:
 * <n> features" lines through cli_progress_show, and Ctrl-C
 * (cli_stop_requested) as the module's stop flag. Returns &p->wf. */
const struct wf_progress *cli_progress_wf(struct cli_progress *p);

/* Clear the progress line, print msg (one line) and give the status of a
 * workflow command's failure: 2 for bad input (and for an input or an
 * output folder found bad before work began), 3 when stopped, 1
 * otherwise. CLI_OK (0) for MLY_OK. */
int cli_workflow_exit(struct cli_progress *p, enum mly_rc rc, bool started, const char *msg);

/* paths_check_distinct of a command's files (an output that is one of its
 * inputs would overwrite it): 0, or 2 (CLI_USAGE) after the message */
struct paths_use;
int cli_check_paths(const struct paths_use *uses, size_t n);

#endif
