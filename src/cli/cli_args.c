/* cli_args.c -- a workflow command's options from its table (see cli_args.h) */
#include "cli_args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void cli_net_defaults(struct cli_net *n)
{
  memset(n, 0, sizeof(*n));
  n->concurrency = 16;
  n->retries = 5;
  n->timeout_s = 60;
  const char *env = getenv("MAPILLARY_GRAPH_URL");
  n->graph_url = env && *env ? env : JOB_DEFAULT_GRAPH_URL;
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  /* the message quotes argv: keep it on one line whatever it holds */
  for(char *c = line; *c; c++)
    if((unsigned char)*c < 0x20 || *c == 0x7f)
      *c = '?';
  if(command)
    fprintf(stderr, "mapillary: %s (try 'mapillary %s --help')\n", line, command);
  else
    fprintf(stderr, "mapillary: %s (try 'mapillary --help')\n", line);
  return CLI_USAGE;
}

/* The row of spec named by name[0..n) in either spelling, or NULL */
static const struct cli_arg *find_arg(const struct cli_spec *spec, const char *name, size_t n)
{
  for(size_t i = 0; i < spec->nargs; i++) {
    const char *a = spec->args[i].name;
    if(strlen(a) != n)
      continue;
    size_t k = 0;
    while(k < n && (name[k] == a[k] || (name[k] == '-' && a[k] == '_')))
      k++;
    if(k == n)
      return &spec->args[i];
  }
  return NULL;
}

bool cli_args_takes_value(const struct cli_spec *spec, const char *token)
{
  if(strncmp(token, "--", 2) != 0 || strchr(token, '='))
    return false;
  const struct cli_arg *a = find_arg(spec, token + 2, strlen(token + 2));
  return a && a->kind != CLI_ARG_FLAG;
}

static int set_value(const struct cli_spec *spec, const struct cli_arg *a, const char *v, void *opts)
{
  char *dest = (char *)opts + a->offset;
  char *end;
  switch(a->kind) {
  case CLI_ARG_STRING:
    *(const char **)dest = v;
    return CLI_OK;
  case CLI_ARG_FLAG:
    *(bool *)dest = true;
    return CLI_OK;
  case CLI_ARG_INT: {
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if(errno || end == v || *end || (double)x < a->lo || (double)x > a->hi)
      return cli_usage_error(spec->name, "--%s must be a whole number from %.0f to %.0f, not '%.64s'",
                             a->name, a->lo, a->hi, v);
    *(long long *)dest = x;
    return CLI_OK;
  }
  case CLI_ARG_NUMBER: {
    errno = 0;
    size_t len = strlen(v);
    double x = mly_decimal_len(v, len) == len ? strtod(v, &end) : NAN;
    if(!len || !isfinite(x) || x < a->lo || (a->lo_open && x == a->lo) || x > a->hi) {
      char range[96];
      if(a->hi >= HUGE_VAL)
        snprintf(range, sizeof(range), "%s %g", a->lo_open ? "above" : "of at least", a->lo);
      else
        snprintf(range, sizeof(range), "%s %g %s %g", a->lo_open ? "above" : "from", a->lo,
                 a->lo_open ? "up to" : "to", a->hi);
      return cli_usage_error(spec->name, "--%s must be a number %s, not '%.64s'", a->name, range, v);
    }
    *(double *)dest = x;
    return CLI_OK;
  }
  }
  return CLI_OK;
}

int cli_args_parse(const struct cli_spec *spec, int argc, char **argv, void *opts)
{
  bool seen[64] = {false};
  for(int i = 1; i < argc; i++) {
    const char *t = argv[i];
    if(strcmp(t, "--help") == 0 || strcmp(t, "-h") == 0) {
      cli_args_help(spec, stdout);
      return CLI_HELP_SHOWN;
    }
    if(strncmp(t, "--", 2) != 0 || t[2] == '\0') {
      if(t[0] == '-')
        return cli_usage_error(spec->name, "unknown option '%.64s' for %s", t, spec->name);
      return cli_usage_error(spec->name, "unexpected argument '%.64s' for %s", t, spec->name);
    }
    const char *name = t + 2;
    const char *eq = strchr(name, '=');
    size_t n = eq ? (size_t)(eq - name) : strlen(name);
    const struct cli_arg *a = find_arg(spec, name, n);
    if(!a)
      return cli_usage_error(spec->name, "unknown option '--%.*s' for %s", (int)(n > 64 ? 64 : n),
                             name, spec->name);
    const char *v = NULL;
    if(a->kind == CLI_ARG_FLAG) {
      if(eq)
        return cli_usage_error(spec->name, "--%s takes no value (given '%.64s')", a->name, eq + 1);
    }
    else if(eq)
      v = eq + 1;
    else if(i + 1 < argc)
      v = argv[++i]; /* whatever it starts with: values may start with '-' */
    else
      return cli_usage_error(spec->name, "option '--%s' needs a value", a->name);
    int rc = set_value(spec, a, v, opts);
    if(rc)
      return rc;
    size_t k = (size_t)(a - spec->args);
    if(k < sizeof(seen) / sizeof(seen[0]))
      seen[k] = true;
  }
  for(size_t k = 0; k < spec->nargs && k < sizeof(seen) / sizeof(seen[0]); k++)
    if(spec->args[k].required && !seen[k])
      return cli_usage_error(spec->name, "--%s is required", spec->args[k].name);
  return CLI_OK;
}

void cli_args_help(const struct cli_spec *spec, FILE *out)
{
  fprintf(out, "usage: mapillary %s %s\n\n%s\n\nOptions:\n", spec->name, spec->usage, spec->about);
  for(size_t i = 0; i < spec->nargs; i++) {
    const struct cli_arg *a = &spec->args[i];
    char left[96];
    snprintf(left, sizeof(left), "  --%s%s%s", a->name, a->metavar ? "=" : "",
             a->metavar ? a->metavar : "");
    fprintf(out, "%-34s", left);
    if(strlen(left) >= 34)
      fprintf(out, "\n%-34s", "");
    for(const char *p = a->help; *p; p++) {
      fputc(*p, out);
      if(*p == '\n')
        fprintf(out, "%-34s", "");
    }
    if(a->required)
      fputs(" (required)", out);
    fputc('\n', out);
  }
  fputs("  --help                          this help\n"
        "\nEvery option also takes its dashed spelling and the form '--opt value'.\n"
        "Exit status: 0 done, 1 failed while running, 2 bad usage or input, 3 stopped early.\n",
        out);
}
