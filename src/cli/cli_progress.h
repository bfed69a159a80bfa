/* cli_progress.h -- a workflow command's progress line and summary on stderr
 *
 * On a terminal one line is redrawn at most 10 times a second; elsewhere
 * (a log) a plain line every 2 seconds, only with --progress. --quiet
 * silences both progress and summary. */
#ifndef MLY_CLI_PROGRESS_H
#define MLY_CLI_PROGRESS_H

#include <stdbool.h>
#include "mly/common.h"

struct cli_progress {
  bool tty;     /* redraw one line */
  bool lines;   /* periodic plain lines (--progress, not a terminal) */
  bool quiet;   /* no summary either */
  bool drawn;   /* a tty line is on screen */
  double start, last;
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

#endif
