/* fuzz_graph.c -- libFuzzer harness: Graph answers through every parser (image ids, names,
 * entities in each form), error codes, id repair, entity URLs */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mly/graph.h"

static void check(bool ok)
{
  if(!ok)
    abort();
}

static bool token_char(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_' || c == '~' || c == '|' || c == '%';
}

/* A message is one line, without a trailing full stop, and holds nothing
 * shaped like a token (the redaction promise of graph.h). */
static void check_message(const char *m, bool may_be_empty)
{
  size_t n = strlen(m), run = 0;
  bool digit = false;
  check(may_be_empty || n > 0);
  check(n == 0 || m[n - 1] != '.');
  for(size_t i = 0; i < n; i++) {
    check((unsigned char)m[i] >= ' ' && m[i] != 0x7f);
    if(token_char((unsigned char)m[i])) {
      run++;
      digit = digit || (m[i] >= '0' && m[i] <= '9');
      check(!(run >= 20 && digit));
    }
    else {
      run = 0;
      digit = false;
    }
  }
}

/* The status an error body must give, from its code. */
static enum mly_rc status_of(int code)
{
  return code == GRAPH_CODE_TOKEN ? MLY_EAUTH : code == GRAPH_CODE_RATE ? MLY_ERATE : MLY_EHTTP;
}

static void exercise_repair(const uint64_t *ids, size_t n)
{
  struct idrepair *r = NULL;
  if(idrepair_new(ids, n, &r) != MLY_OK)
    return;
  check(idrepair_count(r) <= n);
  for(size_t i = 0; i < n; i++) {
    double d = (double)ids[i];
    /* a double of 2^64 has no uint64 value: no tile id can carry it */
    if(d >= 18446744073709551616.0)
      continue;
    uint64_t got = 0;
    size_t k = idrepair_resolve(r, (uint64_t)d, i % 5, &got);
    check(k >= 1 && (double)got == d);
  }
  idrepair_free(&r);
  check(r == NULL);
}

static void exercise_urls(const char *s, size_t n)
{
  char out[128];
  if(graph_image_ids_url("http://127.0.0.1:1/", s, n, out, sizeof(out)))
    check(strncmp(out, "http://127.0.0.1:1/image_ids?sequence_id=", 41) == 0 &&
          strlen(out) >= 41 + n && strpbrk(out + 41, "&#/?= ") == NULL);
  else
    check(n == 0 || out[0] == '\0');
}

struct visits {
  size_t n;
};

static enum mly_rc count_entity(void *user, uint64_t id, json_t *ent)
{
  struct visits *v = user;
  check(json_is_object(ent));
  v->n++;
  return MLY_OK;
}

/* Entities in each form: an answer with an error body never visits, and
 * its status follows the code; a bad shape says so in a clean message */
static void exercise_entities(const char *body, size_t size, int code)
{
  for(int form = GRAPH_FORM_IDS; form <= GRAPH_FORM_ONE; form++) {
    struct visits v = {0};
    struct mly_err err = {0};
    enum mly_rc rc = graph_parse_entities(body, size, (enum graph_form)form, count_entity, &v, &err);
    if(rc == MLY_OK)
      check(code == 0 && (form != GRAPH_FORM_ONE || v.n == 1));
    else {
      check(err.rc == rc);
      check_message(err.msg, false);
      if(code != 0)
        check(rc == status_of(code) && v.n == 0);
      else
        check(rc == MLY_EFORMAT || rc == MLY_ETOOBIG || rc == MLY_ENOMEM);
    }
  }
}

/* Entity URLs from the input's bytes as ids and a field list: the ids and
 * the fields never bring a '&', '?' or '#' of their own */
static void exercise_entity_urls(const uint8_t *data, size_t size)
{
  uint64_t ids[4];
  size_t n = size / 8 < 4 ? size / 8 : 4;
  for(size_t i = 0; i < n; i++)
    memcpy(&ids[i], data + 8 * i, 8);
  char fields[32];
  size_t fl = size - 8 * n < sizeof(fields) - 1 ? size - 8 * n : sizeof(fields) - 1;
  memcpy(fields, data + 8 * n, fl);
  fields[fl] = '\0';
  char out[512];
  for(int form = GRAPH_FORM_IDS; form <= GRAPH_FORM_ONE; form++) {
    size_t k = form == GRAPH_FORM_ONE ? (n ? 1 : 0) : n;
    if(graph_entities_url("http://h", (enum graph_form)form, ids, k, fields, out, sizeof(out))) {
      check(k > 0 && fields[0]);
      const char *f = strstr(out, "fields=");
      check(f != NULL && strpbrk(f + 7, "&?#= ") == NULL);
      check(strchr(out, '#') == NULL);
    }
    else
      check(out[0] == '\0');
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *body = (const char *)data;
  struct mly_err err = {0};

  char msg[128];
  int code = graph_error_code(body, size, msg, sizeof(msg));
  check_message(msg, code == 0);

  uint64_t *ids = NULL;
  size_t nids = 0;
  enum mly_rc rc = graph_parse_image_ids(body, size, &ids, &nids, &err);
  if(rc == MLY_OK) {
    check(code == 0 && (nids == 0) == (ids == NULL));
    exercise_repair(ids, nids);
  }
  else {
    check(ids == NULL && nids == 0 && err.rc == rc);
    check_message(err.msg, false);
    if(code != 0)
      check(rc == status_of(code));
    else
      check(rc == MLY_EFORMAT || rc == MLY_ETOOBIG || rc == MLY_ENOMEM);
  }
  free(ids);

  char *name = NULL;
  memset(&err, 0, sizeof(err));
  rc = graph_parse_org_name(body, size, &name, &err);
  if(rc == MLY_OK)
    check(code == 0 && name != NULL);
  else {
    check(name == NULL && err.rc == rc);
    check_message(err.msg, false);
    if(code != 0)
      check(rc == status_of(code));
  }
  free(name);

  exercise_urls(body, size < 40 ? size : 40);
  exercise_entities(body, size, code);
  exercise_entity_urls(data, size);
  return 0;
}
