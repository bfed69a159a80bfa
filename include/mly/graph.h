/* graph.h -- Graph API pieces: request URLs, answer parsing, how a
 * request's outcome reads, exact-id repair */
#ifndef MLY_GRAPH_H
#define MLY_GRAPH_H

#include <jansson.h>
#include "mly/common.h"
#include "mly/fetch.h"

/* Caps on what an answer may hold (house rule: every growable thing is
 * capped). A sequence holds at most a few thousand images; these leave room. */
#define GRAPH_BODY_MAX (16u * 1024 * 1024) /* bytes of one answer body */
#define GRAPH_IDS_MAX 1000000u             /* ids in one image_ids answer */

/* Graph API error codes the caller acts on ({"error":{"code":N}}). */
#define GRAPH_CODE_RATE 4      /* application request limit reached: transient */
#define GRAPH_CODE_TOKEN 190   /* invalid or expired token: stop */

/* ---- request URLs ------------------------------------------------------ */

/* Write "<graph_url>/image_ids?sequence_id=<id>" into out (NUL-terminated).
 * The sequence id is the n bytes at sequence_id (a borrowed tile view, not
 * NUL-terminated), percent-encoded except RFC 3986 unreserved characters.
 * Trailing '/' of graph_url are dropped so "http://h/" and "http://h" give
 * the same URL. The URL never holds the token (it goes in the header
 * "Authorization: OAuth <token>"). Returns false, with out set to "" when
 * cap > 0, if the URL does not fit in cap, an argument is NULL or the id
 * is empty. */
bool graph_image_ids_url(const char *graph_url, const char *sequence_id, size_t n, char *out,
                         size_t cap) MLY_WARN_UNUSED;

/* Write "<graph_url>/<org_id>?fields=name" into out, org_id (NUL-terminated)
 * percent-encoded as above. Same return rules as graph_image_ids_url. */
bool graph_org_url(const char *graph_url, const char *org_id, char *out, size_t cap)
    MLY_WARN_UNUSED;

/* The ways to ask for several entities (SPEC "download_mapillary_imgs"), in
 * the order they are tried: a form the API refuses gives way to the next. */
enum graph_form {
  GRAPH_FORM_IDS = 0, /* GET <root>?ids=A,B&fields=F: {"A":{...},"B":{...}} */
  GRAPH_FORM_IMAGES,  /* GET <root>/images?image_ids=A,B&fields=F: {"data":[{...}]} */
  GRAPH_FORM_ONE      /* GET <root>/A?fields=F: {...}, one id */
};

/* Write the URL asking for `fields` (a comma list, NUL-terminated; commas
 * and RFC 3986 unreserved characters go as they are, others
 * percent-encoded) of the n ids in the given form; GRAPH_FORM_ONE takes
 * exactly one id. Same return rules as graph_image_ids_url (false when n
 * is 0, fields is empty, or it does not fit). */
bool graph_entities_url(const char *graph_url, enum graph_form form, const uint64_t *ids, size_t n,
                        const char *fields, char *out, size_t cap) MLY_WARN_UNUSED;

/* ---- answer parsing ---------------------------------------------------- */

/* A decimal id (n bytes at s): digits only, no sign, blanks or leading
 * zero, at most 2^64-1. false (out untouched) otherwise. */
bool graph_parse_decimal(const char *s, size_t n, uint64_t *out) MLY_WARN_UNUSED;

/* An id held in JSON: a decimal string (graph_parse_decimal) or a
 * non-negative integer (jansson holds it exactly); false for anything else,
 * a real above all (it may be rounded already). */
bool graph_json_id(const json_t *v, uint64_t *out) MLY_WARN_UNUSED;

/* Called once per entity of an answer with its id (for GRAPH_FORM_IDS the
 * key, else the entity's "id" member, a decimal string or a non-negative
 * integer) and the entity object (borrowed, valid during the call).
 * Return MLY_OK to go on; anything else ends the parse with that status. */
typedef enum mly_rc (*graph_entity_fn)(void *user, uint64_t id, json_t *entity);

/* Parse an answer of the given form (n bytes, need not be NUL-terminated),
 * calling visit for each entity. Members that are not entities are
 * skipped: a key that is not a decimal id, a value that is not an object,
 * an element of "data" without a usable id. Errors as for
 * graph_parse_image_ids (an error body: MLY_EAUTH, MLY_ERATE, MLY_EHTTP;
 * MLY_EFORMAT when the answer is not of the form's shape; MLY_ETOOBIG);
 * a visit status other than MLY_OK is returned as it is, err untouched. */
enum mly_rc graph_parse_entities(const char *body, size_t n, enum graph_form form,
                                 graph_entity_fn visit, void *user, struct mly_err *err)
    MLY_WARN_UNUSED;


/* Parse an image_ids answer {"data":[{"id":"..."}, ...]} (n bytes, need not
 * be NUL-terminated). On MLY_OK, *ids (OUT: malloc'd, caller frees; NULL
 * when *nids is 0) holds the exact ids in the answer's (sequence) order and
 * *nids (OUT) their count. An id is a string of decimal digits without sign,
 * blanks or leading zeros, at most 2^64-1; a JSON integer is accepted when
 * it is non-negative (jansson holds it exactly as int64); a JSON real is
 * refused, since it may already be rounded. Members other than "data" and
 * "id" are ignored. Errors (nothing is returned in *ids then):
 *   MLY_EAUTH   a Graph error body with code 190 (invalid token)
 *   MLY_ERATE   a Graph error body with code 4 (request limit; transient)
 *   MLY_EHTTP   a Graph error body with any other code: the API refused
 *               this request (e.g. an unknown sequence)
 *   MLY_ETOOBIG body over GRAPH_BODY_MAX bytes or over GRAPH_IDS_MAX ids
 *   MLY_EFORMAT anything else unexpected; the message says what
 *   MLY_ENOMEM
 * Error-body messages are the server's, cleaned to one line with long
 * token-like words redacted, e.g. "graph api error 190: invalid oauth ...". */
enum mly_rc graph_parse_image_ids(const char *body, size_t n, uint64_t **ids, size_t *nids,
                                  struct mly_err *err) MLY_WARN_UNUSED;

/* Parse an organization answer {"name":"...","id":"..."}: *name (OUT:
 * malloc'd NUL-terminated copy, caller frees). Error codes as for
 * graph_parse_image_ids; a missing or non-string name is MLY_EFORMAT. */
enum mly_rc graph_parse_org_name(const char *body, size_t n, char **name, struct mly_err *err)
    MLY_WARN_UNUSED;

/* Classify any body: 0 when it is not a Graph error body (not JSON, not an
 * object, or no "error" object in it); else the error's code, or -1 when
 * the error object has no usable code (absent, not a positive integer, or
 * beyond int). When it is an error body and msg/cap allow, msg gets the
 * server's message (cleaned and redacted as above, "no message" if none),
 * else msg is set to "" (when cap > 0). */
int graph_error_code(const char *body, size_t n, char *msg, size_t cap);

/* ---- a request's outcome ----------------------------------------------
 * Every Graph API request (organization names, a sequence's image ids,
 * image entities in batches) goes out and is read back the same way, by
 * orgnames.c, the job's fetch loop and imgurl.c alike. */

/* Fill req (its url already written by a *_url function above) as a Graph
 * API request: the token in the header, statuses read as the Graph's
 * (FETCH_KIND_GRAPH: 401/403 a bad token, another 4xx a refusal), user
 * handed back to the source's done. */
void graph_request(struct fetch_req *req, void *user);

/* What a Graph request's final outcome (res, as given to the source's
 * done) comes to */
enum graph_outcome {
  GRAPH_ANSWER = 0, /* the body parsed: the caller takes what its parse gave */
  GRAPH_UNKNOWN,    /* the API does not know it: an empty answer, a refusal
                       (FETCH_REFUSED: a 4xx such as the 400 of an id that
                       does not exist), or an error body of another code */
  GRAPH_FAILED,     /* failed for good: every attempt failed (FETCH_FAILED) or
                       the body is above a cap (FETCH_TOOBIG, MLY_ETOOBIG);
                       res->msg says why */
  GRAPH_RETRY,      /* a rate limit in the body or a garbled body: done
                       returns FETCH_RETRY; res->msg says why */
  GRAPH_STOP        /* a bad token, a lasting rate limit, no memory: done
                       stops the run (FETCH_STOP) with *why (MLY_EAUTH,
                       MLY_ERATE, MLY_ENOMEM) and res->msg */
};

/* Read res: for FETCH_OK, parsed is what the caller's graph_parse_*
 * returned for its body (perr its message); for any other status parsed
 * is ignored. *why is set for GRAPH_STOP. */
enum graph_outcome graph_outcome(struct fetch_result *res, enum mly_rc parsed,
                                 const struct mly_err *perr, enum mly_rc *why);

/* ---- exact-id repair --------------------------------------------------- */

/* Coverage tiles carry an image id as a protobuf double, exact only up to
 * 2^53: 26774514888887982 arrives as 26774514888887984. An idrepair holds
 * one sequence's exact ids (from its image_ids answer) indexed by the value
 * they take as doubles, so a tile's rounded id maps back to its exact id. */
struct idrepair;

/* Build from the exact ids of one sequence, in sequence order (the array is
 * copied; a repeated id counts once, at its first place). *out (OUT) is
 * freed with idrepair_free. MLY_ENOMEM or MLY_ETOOBIG (n > GRAPH_IDS_MAX). */
enum mly_rc idrepair_new(const uint64_t *exact, size_t n, struct idrepair **out)
    MLY_WARN_UNUSED;

/* Free and clear *r; NULL or *r == NULL is a no-op. */
void idrepair_free(struct idrepair **r);

/* Resolve a rounded id: the integer value of the tile's double, converted
 * exactly to uint64. Returns how many exact ids of the sequence have a
 * double equal to (double)rounded:
 *   0      unknown to the sequence: *exact = rounded (keep it; count it)
 *   1      *exact = that id (whatever rank)
 *   k > 1  a collision: *exact = the rank-th of the candidates in sequence
 *          order (the image_ids answer's, i.e. capture order), the last one
 *          for a rank >= k. The caller ranks the images that share the
 *          double by capture time (SPEC.md "Output") and reports
 *          collisions in its summary. */
size_t idrepair_resolve(const struct idrepair *r, uint64_t rounded, size_t rank, uint64_t *exact);

/* Number of distinct exact ids held. */
size_t idrepair_count(const struct idrepair *r);

/* Whether an id read from a double may be inexact, i.e. the double is at
 * least 2^53. 2^53 itself counts: 2^53 + 1 rounds (to even) to 2^53, so a
 * double of 2^53 does not tell which of the two it was. */
bool idrepair_needed(uint64_t value_of_double);

#endif
