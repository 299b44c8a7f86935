/*
 * llm_internal.h - the pieces of the LLM client that are pure functions or
 * self-contained objects: reply extraction, schema checks, usage fields,
 * rate-limit hints, the pacing limiter and the wire formats.  Only
 * core/llm and its tests include this header.
 */
#ifndef CORE_LLM_LLM_INTERNAL_H
#define CORE_LLM_LLM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "llm/llm.h"

struct cJSON;

/* ------------------------------------------------------------------ */
/* Reply text -> one JSON object                                       */
/* ------------------------------------------------------------------ */

/*
 * Find the one JSON object in a model's reply text.  One ``` or ```json
 * fence enclosing the whole trimmed text is stripped; otherwise prose
 * around exactly one balanced, parseable top-level object is ignored, and
 * objects inside fences tagged with another language (```bash) are not
 * candidates.  Returns LLM_OK with *out (caller frees with cJSON_Delete),
 * or LLM_ERR_MALFORMED (none, two or more candidates, a non-object) or
 * LLM_ERR_INTERNAL with a reason in why.
 */
enum llm_reason llm_extract_object(const char *text, struct cJSON **out,
                                   char *why, size_t why_len);

/* ------------------------------------------------------------------ */
/* JSON Schema subset                                                  */
/* ------------------------------------------------------------------ */

/*
 * Check obj against schema and fix it up in place: keys the schema does
 * not name are dropped, null values of optional properties are dropped,
 * a number property named "confidence" is normalized to 0..1 (values in
 * (1, 100] are divided by 100; negative or larger values are invalid).
 * Supported keywords: type (a name or a list), properties, required, enum
 * (exact match), items, minimum, maximum, minLength, maxLength,
 * additionalProperties.  Returns LLM_OK, or LLM_ERR_INVALID with the path
 * and reason in why (e.g. "$.family: value \"x\" not in enum").
 */
enum llm_reason llm_schema_validate(const struct cJSON *schema,
                                    struct cJSON *obj, char *why,
                                    size_t why_len);

/*
 * The schema as sent to a strict structured-output API: every property is
 * listed in required, optional ones become type-or-null (null added to
 * their enum), additionalProperties is false on every object, and the
 * keywords strict mode refuses (minimum, maximum, minLength, maxLength,
 * pattern, format, default) are removed; the local check keeps them.
 * Returns a new tree (caller frees) or NULL on allocation failure.
 */
struct cJSON *llm_schema_strict(const struct cJSON *schema);

/* ------------------------------------------------------------------ */
/* Usage                                                               */
/* ------------------------------------------------------------------ */

struct llm_usage {
    uint64_t input; /* all prompt tokens, cached included */
    uint64_t output;
    uint64_t cached;      /* prompt tokens read from a cache */
    uint64_t cache_write; /* prompt tokens written to a cache */
    int present;          /* non-zero when any field was found */
};

/*
 * Read token counts from a provider's usage object, whichever fields it
 * sends: prompt_tokens/completion_tokens with
 * prompt_tokens_details.cached_tokens (Chat Completions),
 * input_tokens/output_tokens with input_tokens_details.cached_tokens
 * (Responses), or input_tokens/output_tokens with cache_read_input_tokens
 * and cache_creation_input_tokens (Anthropic, whose input_tokens exclude
 * the cached part: they are added so input always counts every prompt
 * token).  usage may be NULL.  Never fails.
 */
void llm_usage_parse(const struct cJSON *usage, struct llm_usage *out);

/* ------------------------------------------------------------------ */
/* Rate-limit hints                                                    */
/* ------------------------------------------------------------------ */

/*
 * Parse a duration as sent in rate-limit headers and messages: "564ms",
 * "1.2s", "6m0s", "1m2.5s", "1h2m", or a plain number of seconds ("2",
 * "0.5").  Returns milliseconds (rounded up), or -1 if s is not one.
 */
int64_t llm_parse_duration_ms(const char *s);

/* Headers of a response that matter to the retry decision. */
struct llm_hint_headers {
    char retry_after[64];
    char retry_after_ms[32];
    char reset_requests[32];
    char reset_tokens[32];
};

/*
 * The longest wait a 429 answer asks for, in ms: retry-after (seconds or
 * an HTTP date, relative to now_epoch_ms), retry-after-ms,
 * x-ratelimit-reset-requests / -tokens, and "try again in <duration>" in
 * body.  Returns -1 when there is no hint.  body may be NULL.
 */
int64_t llm_retry_hint_ms(const struct llm_hint_headers *h, const char *body,
                          int64_t now_epoch_ms);

/*
 * Non-zero when a 429 body says the quota is exhausted
 * (insufficient_quota), which no wait fixes.
 */
int llm_is_quota_error(const char *body);

/* ------------------------------------------------------------------ */
/* Limiter                                                             */
/* ------------------------------------------------------------------ */

/*
 * A process-wide pace for one provider: two token buckets (requests and
 * tokens) that refill continuously at limit/window and hold at most one
 * window's worth, a FIFO of waiters (first come, first served, so a large
 * request is not starved), and a pause that a 429 hint imposes on every
 * caller.  Thread-safe; waits are condition-variable waits on
 * CLOCK_MONOTONIC.
 */
struct llm_limiter;

/*
 * Make a limiter; a limit of 0 disables that bucket.  window_ms of 0
 * means 60000.  Returns NULL on allocation failure.
 */
struct llm_limiter *llm_limiter_create(uint32_t requests_per_window,
                                       uint32_t tokens_per_window,
                                       uint32_t window_ms);

/* Free a limiter no thread is waiting in.  NULL is accepted. */
void llm_limiter_destroy(struct llm_limiter *lim);

/*
 * Wait in line until one request and est_tokens tokens are available and
 * take them.  est_tokens above the bucket's size is clamped to it.
 * Returns 0, -1 when the wait would end after deadline_ms (a
 * CLOCK_MONOTONIC time in ms), or -2 once the limiter is closed; then
 * nothing is taken.  *waited_ms receives the time spent waiting (may be
 * NULL).
 */
int llm_limiter_acquire(struct llm_limiter *lim, uint64_t est_tokens,
                        int64_t deadline_ms, uint64_t *waited_ms);

/*
 * Correct an earlier acquire: the call actually used used_tokens instead
 * of est_tokens (the difference is given back or taken).  Thread-safe.
 */
void llm_limiter_settle(struct llm_limiter *lim, uint64_t est_tokens,
                        uint64_t used_tokens);

/*
 * Stop every caller until now + pause_ms (a later pause wins) and empty
 * the buckets, since the server says they are empty.  Thread-safe.
 */
void llm_limiter_pause(struct llm_limiter *lim, uint64_t pause_ms);

/*
 * Sleep ms unless the limiter is closed first.  Returns 0 after the full
 * sleep, -2 when closed.  Thread-safe.
 */
int llm_limiter_sleep(struct llm_limiter *lim, uint64_t ms);

/*
 * Close the limiter: every waiter and every later acquire or sleep
 * returns -2 at once.  Irreversible.  Thread-safe.
 */
void llm_limiter_close(struct llm_limiter *lim);

/* Non-zero once llm_limiter_close() was called.  Thread-safe. */
int llm_limiter_closed(struct llm_limiter *lim);

/*
 * Learned ratio of real prompt tokens to the bytes/4 estimate (starts at
 * 1.0, moves towards the observed value), used to scale estimates.
 */
double llm_limiter_input_ratio(struct llm_limiter *lim);

/* Feed one observation of prompt bytes/4 against real prompt tokens. */
void llm_limiter_observe_input(struct llm_limiter *lim, uint64_t estimated,
                               uint64_t actual);

/* Current CLOCK_MONOTONIC time in ms. */
int64_t llm_now_ms(void);

/* ------------------------------------------------------------------ */
/* Wire formats                                                        */
/* ------------------------------------------------------------------ */

/* One message of the conversation, in order after the system prompt. */
struct llm_message {
    const char *role; /* "user" or "assistant" */
    const char *text;
};

/*
 * Build the JSON request body for kind.  schema is the stage's schema
 * (parsed); messages[0..n) the conversation.  Returns a malloc'd string
 * (caller frees) or NULL on allocation failure.
 */
char *llm_wire_request(enum llm_kind kind, const char *model,
                       const cls_llm_request *req, const struct cJSON *schema,
                       const struct llm_message *messages, size_t n,
                       uint32_t max_tokens);

/* What a 200 answer says. */
struct llm_wire_reply {
    char *text;    /* the model's text (malloc'd) or NULL */
    char *refusal; /* refusal text (malloc'd) or NULL */
    char *model;   /* model reported (malloc'd) or NULL */
    int truncated; /* finish_reason length / stop_reason max_tokens */
    int refused;   /* refusal, content_filter, stop_reason refusal */
    struct llm_usage usage;
};

/*
 * Parse a 200 body of kind into *out (zeroed first).  Returns LLM_OK,
 * LLM_ERR_PROTOCOL with why filled when the envelope is not understood, or
 * LLM_ERR_INTERNAL.  Free with llm_wire_reply_free().
 */
enum llm_reason llm_wire_parse(enum llm_kind kind, const char *body,
                               struct llm_wire_reply *out, char *why,
                               size_t why_len);

/* Free what out owns and zero it. */
void llm_wire_reply_free(struct llm_wire_reply *out);

/*
 * The error message inside a provider's error body ({"error":{"message":
 * ...}}), copied into buf (truncated), or "" when there is none.
 */
void llm_wire_error_message(const char *body, char *buf, size_t len);

#endif /* CORE_LLM_LLM_INTERNAL_H */
