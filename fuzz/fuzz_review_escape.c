/* fuzz_review_escape.c -- libFuzzer harness: the review page's escaping of its JSON data for a <script> element */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mly/review_html.h"

/* No byte sequence that could end or confuse the script element is left */
static void check_safe(const char *s, size_t n)
{
  for(size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if(c == '<' || c == '>' || c == '&')
      abort();
    if(c == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
       ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9))
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if(size > 65536)
    return 0;
  struct dbuf b;
  dbuf_init(&b, 8 * size + 64);
  if(review_html_escape_json(&b, (const char *)data, size) != MLY_OK)
    abort(); /* at most 6 bytes for each byte: never too big */
  check_safe(b.p, b.n);
  /* The same text as a JSON string value, as the page holds every text */
  json_t *str = json_stringn_nocheck((const char *)data, size);
  char *as_json = str ? json_dumps(str, JSON_ENCODE_ANY) : NULL;
  json_decref(str);
  /* valid JSON: the escaped text is the same value */
  json_t *before = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
  if(before) {
    json_t *after = json_loadb(b.p, b.n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if(!after || !json_equal(before, after))
      abort();
    json_decref(after);
    json_decref(before);
  }
  if(as_json) {
    size_t n = strlen(as_json);
    dbuf_reset(&b);
    if(review_html_escape_json(&b, as_json, n) != MLY_OK)
      abort();
    check_safe(b.p, b.n);
    json_t *v = json_loadb(b.p, b.n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    json_t *w = json_loadb(as_json, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if((v == NULL) != (w == NULL) || (v && !json_equal(v, w)))
      abort();
    json_decref(v);
    json_decref(w);
    free(as_json);
  }
  dbuf_cleanup(&b);
  return 0;
}
