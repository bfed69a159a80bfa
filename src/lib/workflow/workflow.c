/* workflow.c -- the workflow commands' shared input, output and property helpers */
#include "mly/workflow.h"
#include "mly/jsonw.h"
#include "mly/tempfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static enum mly_rc spool_stdin(struct wf_input *in, struct mly_err *err)
{
  enum mly_rc rc = tempfile_fopen("standard input", &in->spool, err);
  if(rc)
    return rc;
  char buf[1 << 16];
  size_t n;
  while((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
    if(fwrite(buf, 1, n, in->spool) != n)
      return mly_err_set(err, MLY_EIO, "cannot write a temporary file for standard input: %s",
                         strerror(errno));
  if(ferror(stdin))
    return mly_err_set(err, MLY_EIO, "cannot read standard input: %s", strerror(errno));
  if(fflush(in->spool) != 0)
    return mly_err_set(err, MLY_EIO, "cannot write a temporary file for standard input: %s",
                       strerror(errno));
  return MLY_OK;
}

enum mly_rc wf_input_open(struct wf_input *in, struct featread **r, struct mly_err *err)
{
  if(in->once && in->read)
    return strcmp(in->path, "-") == 0
               ? mly_err_set(err, MLY_EINVAL, "standard input can be read only once")
               : mly_err_set(err, MLY_EINVAL, "'%s' can be read only once", in->path);
  in->read = true;
  if(!in->spool)
    return featread_open(in->path, r, err);
  rewind(in->spool);
  return featread_open_stream(in->spool, "standard input", r, err);
}

enum mly_rc wf_input_init(struct wf_input *in, const char *path, struct mly_err *err)
{
  memset(in, 0, sizeof(*in));
  in->path = path;
  enum mly_rc rc = strcmp(path, "-") == 0 ? spool_stdin(in, err) : MLY_OK;
  struct featread *r = NULL;
  if(!rc)
    rc = wf_input_open(in, &r, err);
  if(!rc) {
    struct feature f;
    bool got;
    rc = featread_next(r, &f, &got, err);
  }
  featread_close(&r);
  return rc;
}

void wf_input_once(struct wf_input *in, const char *path)
{
  memset(in, 0, sizeof(*in));
  in->path = path;
  in->once = true;
}

enum mly_rc wf_each(struct wf_input *in, wf_feature_fn fn, void *user, const struct wf_progress *p,
                    const char *what, struct mly_err *err)
{
  struct featread *r = NULL;
  enum mly_rc rc = wf_input_open(in, &r, err);
  uint64_t n = 0;
  while(!rc) {
    struct feature f;
    bool got;
    if((rc = featread_next(r, &f, &got, err)) || !got)
      break;
    rc = fn(user, &f, err);
    if(!rc && p && ++n % WF_EACH_STEP == 0) {
      wf_report(p, what, n);
      if(wf_stopped(p))
        rc = mly_err_set(err, MLY_ESTOP, "stopped");
    }
  }
  featread_close(&r);
  return rc;
}

enum mly_rc wf_begin(struct wf_input *in, const char *path, const char *output, struct mly_err *err)
{
  enum mly_rc rc = wf_input_init(in, path, err);
  if(!rc)
    rc = outfile_prepare_dir(output, err);
  if(rc)
    wf_input_cleanup(in);
  return rc;
}

void wf_input_cleanup(struct wf_input *in)
{
  if(in->spool)
    fclose(in->spool);
  in->spool = NULL;
}

enum mly_rc wf_out_open(struct wf_out *o, const char *path, struct mly_err *err)
{
  memset(o, 0, sizeof(*o));
  dbuf_init(&o->text, (size_t)FEATREAD_FEATURE_MAX * 2);
  enum mly_rc rc = outfile_open_as(&o->file, path, OUTFILE_FEATURES, err);
  o->open = rc == MLY_OK;
  return rc;
}

enum mly_rc wf_out_feature(struct wf_out *o, const json_t *properties, const json_t *geometry,
                           struct mly_err *err)
{
  dbuf_reset(&o->text);
  enum mly_rc rc = feature_write(&o->text, o->file.fmt, &o->csv, properties, geometry, err);
  if(rc == MLY_EINVAL) {
    char why[sizeof(err->msg)];
    memcpy(why, err->msg, sizeof(why));
    return mly_err_set(err, rc, "'%s': feature %llu: %s", o->file.final_path,
                       (unsigned long long)o->file.features, why);
  }
  return rc ? rc : outfile_feature(&o->file, o->text.p, o->text.n, err);
}

enum mly_rc wf_out_publish(struct wf_out *o, struct mly_err *err)
{
  enum mly_rc rc = outfile_close(&o->file, err);
  if(!rc)
    rc = outfile_publish(&o->file, err);
  return rc;
}

void wf_out_cleanup(struct wf_out *o)
{
  if(o->open)
    outfile_abort(&o->file);
  o->open = false;
  featcsv_cleanup(&o->csv);
  dbuf_cleanup(&o->text);
}

const char *wf_prop_text(const json_t *properties, const char *key, char *buf, size_t cap,
                         size_t *n)
{
  const json_t *v = json_object_get(properties, key);
  *n = 0;
  if(json_is_string(v)) {
    *n = json_string_length(v);
    return json_string_value(v);
  }
  if(json_is_integer(v) && cap >= JSONW_NUM_MAX) {
    *n = jsonw_i64(buf, (int64_t)json_integer_value(v));
    return buf;
  }
  return NULL;
}
