/* fuzz_timeparse.c -- libFuzzer harness: --timestamp_from/--timestamp_to text and organization id lists */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mly/filter.h"
#include "mly/timeparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if(size > 256)
    return 0;
  char *text = malloc(size + 1);
  if(!text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  struct mly_err err = {0};
  int64_t from, to;
  enum mly_rc a = time_parse(text, false, &from, &err);
  enum mly_rc b = time_parse(text, true, &to, &err);
  /* both readings agree on validity, and a day's end never precedes its start */
  if((a == MLY_OK) != (b == MLY_OK) || (a == MLY_OK && to < from))
    abort();
  if(a != MLY_OK && (err.msg[0] == '\0' || strchr(err.msg, '\n')))
    abort(); /* a failure always says why, on one line */
  char **ids = NULL;
  size_t n = 0;
  if(filter_parse_ids(text, &ids, &n, &err) == MLY_OK) {
    if(n == 0)
      abort();
    filter_free_ids(&ids, n);
  }
  free(text);
  return 0;
}
