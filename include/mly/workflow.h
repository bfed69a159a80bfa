/* workflow.h -- what the workflow commands' library modules share: an
 * input read more than once, progress, and a features output
 *
 * A command module (thin.h, seqmerge.h, ptmatch.h, ...) checks its inputs
 * and its output's folder first (wf_begin), so
 * that a failure there is the caller's usage error with nothing done, then
 * works in passes over its inputs (wf_each), reporting progress, and writes
 * one output through wf_out (outfile.h: complete or absent). */
#ifndef MLY_WORKFLOW_H
#define MLY_WORKFLOW_H

#include <signal.h>
#include <stdio.h>
#include "mly/featread.h"
#include "mly/outfile.h"

/* Progress of a command: `what` names the step ("reading", "writing"),
 * `done` counts its features. Called often: the callee throttles. */
struct wf_progress {
  void (*fn)(void *user, const char *what, uint64_t done);
  void *user;
  const volatile sig_atomic_t *stop; /* set: stop with MLY_ESTOP */
};

static inline void wf_report(const struct wf_progress *p, const char *what, uint64_t done)
{
  if(p && p->fn)
    p->fn(p->user, what, done);
}

static inline bool wf_stopped(const struct wf_progress *p)
{
  return p && p->stop && *p->stop;
}

/* An input that can be read several times: a path is opened again for
 * each pass; standard input ("-") is copied once to an unlinked temporary
 * file, read again from its start. */
struct wf_input {
  const char *path;
  FILE *spool; /* standard input's copy */
  bool once;   /* wf_input_once: one pass, standard input read as it comes */
  bool read;   /* a pass was opened */
};

/* Check that path can be read as features (opened and its first feature
 * read: a broken start is found before any work), spooling standard input.
 * MLY_EIO / MLY_EFORMAT with the reader's message. */
enum mly_rc wf_input_init(struct wf_input *in, const char *path, struct mly_err *err)
    MLY_WARN_UNUSED;
/* An input read in one pass that itself comes before any work (a command
 * that reads all its input before its first request or output): nothing is
 * checked ahead, since that pass finds a broken input as early, and
 * standard input is read as it comes, not copied. A second pass over it is
 * MLY_EINVAL. Needs no cleanup but may have it. */
void wf_input_once(struct wf_input *in, const char *path);
/* wf_input_init, then outfile_prepare_dir(output): the checks before any
 * work. On failure the input is cleaned up. */
enum mly_rc wf_begin(struct wf_input *in, const char *path, const char *output, struct mly_err *err)
    MLY_WARN_UNUSED;
/* A reader from the input's start (another pass) */
enum mly_rc wf_input_open(struct wf_input *in, struct featread **r, struct mly_err *err)
    MLY_WARN_UNUSED;
void wf_input_cleanup(struct wf_input *in);

/* One pass: every feature of the input, in order, to fn (the feature is
 * borrowed for the call); fn's failure or the reader's ends the pass.
 * With p (may be NULL): after every WF_EACH_STEP features, their count is
 * reported as `what` (wf_report) and a stop asked for ends the pass with
 * MLY_ESTOP "stopped". */
#define WF_EACH_STEP 4096
typedef enum mly_rc (*wf_feature_fn)(void *user, const struct feature *f, struct mly_err *err);
enum mly_rc wf_each(struct wf_input *in, wf_feature_fn fn, void *user, const struct wf_progress *p,
                    const char *what, struct mly_err *err) MLY_WARN_UNUSED;

/* A features output (OUTFILE_FEATURES) with its record buffer and CSV
 * columns */
struct wf_out {
  struct outfile file;
  struct dbuf text;
  struct featcsv csv;
  bool open;
};

/* Open the output (its folder was checked with outfile_prepare_dir) */
enum mly_rc wf_out_open(struct wf_out *o, const char *path, struct mly_err *err) MLY_WARN_UNUSED;
/* Write one feature */
enum mly_rc wf_out_feature(struct wf_out *o, const json_t *properties, const json_t *geometry,
                           struct mly_err *err) MLY_WARN_UNUSED;
/* Close and rename into place: the output appears complete */
enum mly_rc wf_out_publish(struct wf_out *o, struct mly_err *err) MLY_WARN_UNUSED;
/* Drop an unpublished output (nothing is left on disk); free */
void wf_out_cleanup(struct wf_out *o);

/* A property as text for grouping and matching: a string as is, an
 * integer in decimal; NULL (and *n 0) for anything else or absent */
const char *wf_prop_text(const json_t *properties, const char *key, char *buf, size_t cap,
                         size_t *n);

#endif
