/*
 * llm.h - the host's LLM client: one provider object per configured
 * provider, shared by every worker thread, that turns a stage's
 * cls_llm_request into a validated JSON object.
 *
 * Two wire formats are spoken over libcurl:
 *   openai     any OpenAI-compatible Chat Completions server:
 *              POST {base_url}/chat/completions, "Authorization: Bearer",
 *              response_format json_schema (strict) built from the stage's
 *              schema;
 *   anthropic  the Messages API: POST {base_url}/v1/messages, x-api-key and
 *              anthropic-version headers, the system prompt as a cached
 *              system block, the schema given as an instruction to answer
 *              with JSON only.
 *
 * Outcome of a call (cls_status, with the reason kind in the result and a
 * message starting with the kind's name in the cls_error):
 *   CLS_OK     a reply object that passed the schema;
 *   CLS_RETRY  rate limited beyond the call's budget, timeouts, transport
 *              errors and 5xx after the configured attempts: the same call
 *              may succeed later;
 *   CLS_FAIL   configuration errors (HTTP 400/401/403/404, exhausted
 *              quota), truncation, refusal or content filter (after at most
 *              one retry), output still invalid after one corrective retry.
 *
 * Timeouts and the durable runtime: every call is bounded by
 * total_budget_ms (default 300 s), which covers all attempts, back-off and
 * rate-limit waits; each HTTP attempt is bounded by timeout_ms (default
 * 60 s).  The call runs inside one journaled step of a Restate invocation,
 * and Restate's abort timeout (default 10 min, applied between messages of
 * a request/response attempt) kills an attempt that stays silent longer.
 * llm_provider_create() therefore refuses a budget of 10 min or more, so a
 * slow provider ends as CLS_RETRY in our code rather than as an aborted
 * invocation.
 *
 * Restate's inactivity timeout (60 s by default) only closes the request
 * stream of a bidirectional attempt; the endpoint keeps answering, so a
 * call longer than that is fine as long as the abort timeout holds.
 *
 * Sharing: the pace and the pause a 429 imposes live in the provider
 * object, so the host creates one provider per configured provider and
 * hands it to every stage that uses it.
 *
 * Secrets: the API key is read from the environment variable named in the
 * settings when the provider is created; it is never logged, never put in
 * an error message and never copied anywhere but the request headers.
 */
#ifndef CORE_LLM_LLM_H
#define CORE_LLM_LLM_H

#include <stddef.h>
#include <stdint.h>

#include "classify/stage.h"

struct cJSON;

/* Largest total budget a call may have: Restate's default abort timeout. */
#define LLM_RESTATE_ABORT_TIMEOUT_MS 600000u

enum llm_kind { LLM_KIND_OPENAI = 1, LLM_KIND_ANTHROPIC = 2 };

/*
 * Provider settings, copied by llm_provider_create().  Zero in a numeric
 * field selects the default given in brackets.
 */
struct llm_provider_settings {
    const char *name;             /* label in logs and results, e.g. "openai" */
    enum llm_kind kind;           /* wire format */
    const char *base_url;         /* e.g. "https://api.openai.com/v1" */
    const char *model;            /* model asked for */
    const char *api_key_env;      /* NAME of the env var with the key; NULL or
                                     "" sends no key (local servers) */
    uint32_t timeout_ms;          /* per HTTP attempt [60000] */
    uint32_t total_budget_ms;     /* whole call, waits included [300000] */
    uint32_t max_attempts;        /* attempts for 5xx/timeouts, first
                                     included [3] */
    uint32_t requests_per_minute; /* limiter: 0 = unlimited */
    uint32_t tokens_per_minute;   /* limiter: 0 = unlimited */
    uint32_t window_ms; /* length of the limiter's "minute" [60000]; tests
                           shorten it */
    uint32_t max_output_tokens; /* when the request says 0 [1024] */
    uint32_t backoff_base_ms;   /* first back-off step [500] */
    uint32_t backoff_max_ms;    /* back-off cap [20000] */
    uint64_t seed;              /* jitter PRNG seed; 0 seeds from the clock */
    /* Optional jitter source; when set it replaces the PRNG.  Called
     * from any thread, must be thread-safe. */
    uint64_t (*random_u64)(void *ctx);
    void *random_ctx;
};

/* Why a call ended (LLM_OK on success). */
enum llm_reason {
    LLM_OK = 0,
    LLM_ERR_CONFIG,     /* HTTP 400/401/403/404, bad request */
    LLM_ERR_QUOTA,      /* 429 insufficient_quota: billing */
    LLM_ERR_RATE_LIMIT, /* 429 waits beyond the budget */
    LLM_ERR_SERVER,     /* 5xx after the attempts */
    LLM_ERR_TIMEOUT,    /* attempt or budget timeout */
    LLM_ERR_TRANSPORT,  /* connection failures */
    LLM_ERR_TRUNCATED,  /* finish_reason length / max_tokens */
    LLM_ERR_REFUSED,    /* refusal or content filter */
    LLM_ERR_MALFORMED,  /* no single JSON object in the reply */
    LLM_ERR_INVALID,    /* object does not match the schema */
    LLM_ERR_PROTOCOL,   /* the server's envelope is not understood */
    LLM_ERR_INTERNAL,   /* allocation failure, bad arguments */
    LLM_ERR_CANCELLED   /* llm_provider_cancel() (shutdown, drain) */
};

/* Short name of a reason ("refused", "malformed_output", ...). */
const char *llm_reason_name(enum llm_reason reason);

/*
 * The result of llm_complete().  Zero-initialise before the call; release
 * with llm_result_free().  Strings are malloc'd and owned by the result.
 */
struct llm_result {
    enum llm_reason reason;
    struct cJSON *object;  /* validated reply object (OK only) */
    char *text;            /* raw reply text of the last attempt */
    char *refusal;         /* refusal text, for the log (REFUSED) */
    char *provider;        /* settings name */
    char *model;           /* model reported by the server */
    uint64_t input_tokens; /* all prompt tokens, cached ones included */
    uint64_t output_tokens;
    uint64_t cached_tokens;      /* prompt tokens read from the cache */
    uint64_t cache_write_tokens; /* Anthropic cache creation */
    uint32_t latency_ms;         /* wall time of the whole call */
    uint32_t attempts;           /* HTTP requests sent */
    uint32_t rate_limit_wait_ms; /* time spent waiting on 429 hints */
    int http_status;             /* status of the last response, 0 if none */
};

struct llm_provider;

/*
 * Build a provider from settings (copied; the caller keeps ownership of
 * its strings).  Reads the key from getenv(api_key_env).  Returns CLS_OK
 * and *out, or CLS_EINVAL (missing field, unset key variable, budget not
 * below LLM_RESTATE_ABORT_TIMEOUT_MS) / CLS_ENOMEM with err filled.
 * Call from the control thread; the first call initialises libcurl.
 */
cls_status llm_provider_create(const struct llm_provider_settings *settings,
                               struct llm_provider **out, cls_error *err);

/*
 * Free a provider.  No llm_complete() on it may be running.  NULL is
 * accepted.
 */
void llm_provider_destroy(struct llm_provider *provider);

/*
 * Make every running and later llm_complete() on provider end soon with
 * CLS_RETRY and reason LLM_ERR_CANCELLED: waits for pace, back-off and
 * 429 hints end at once, transfers in flight are aborted.  For shutdown
 * and drain; irreversible.  Thread-safe.
 */
void llm_provider_cancel(struct llm_provider *provider);

/* The provider's settings name (owned by the provider). */
const char *llm_provider_name(const struct llm_provider *provider);

/*
 * Complete req with provider: pace through the provider's limiter, send,
 * retry as described at the top of this file, extract and validate the
 * reply object against req->response_schema.  Thread-safe: any number of
 * threads may call it on one provider.  res must be zeroed; it is filled
 * on success and failure (usage and attempts are always set).  Returns
 * CLS_OK, CLS_RETRY or CLS_FAIL (or CLS_ENOMEM) with err filled on
 * failure.
 */
cls_status llm_complete(struct llm_provider *provider,
                        const cls_llm_request *req, struct llm_result *res,
                        cls_error *err);

/* Release what res owns and zero it.  NULL is accepted. */
void llm_result_free(struct llm_result *res);

/*
 * The result as one JSON record for the durable journal, so a replay can
 * return the same reply without a network call:
 *   {"reason","object","text","provider","model","input_tokens",
 *    "output_tokens","cached_tokens","cache_write_tokens","latency_ms",
 *    "attempts"}
 * (absent strings are null).  It holds nothing secret.  Returns a new
 * tree (caller frees with cJSON_Delete) or NULL on allocation failure.
 * Thread-safe.
 */
struct cJSON *llm_result_to_json(const struct llm_result *res);

/*
 * Rebuild a result from a record made by llm_result_to_json().  res must
 * be zeroed; release it with llm_result_free() whatever the outcome.
 * Returns CLS_OK, CLS_FAIL when the record is not such a record, or
 * CLS_ENOMEM, with err filled.  Thread-safe.
 */
cls_status llm_result_from_json(const struct cJSON *record,
                                struct llm_result *res, cls_error *err);

/* Limiter counters of a provider, for metrics and tests. */
struct llm_provider_stats {
    uint64_t calls;           /* llm_complete() calls */
    uint64_t requests;        /* HTTP requests sent */
    uint64_t rate_limited;    /* 429 answers */
    uint64_t limiter_wait_ms; /* total time spent waiting for pace */
};

/* Copy the provider's counters into *out.  Thread-safe. */
void llm_provider_stats(struct llm_provider *provider,
                        struct llm_provider_stats *out);

#endif /* CORE_LLM_LLM_H */
