/*
 * call.h - one process() call: its arena, its environment of
 * non-deterministic services, and the function that runs one stage on one
 * input.
 *
 * The host API members that could answer differently on a replay
 * (llm_complete, run, now_ms, random_u64) and the cancellation flag do not
 * act themselves: they delegate to the struct stage_call_env the caller of
 * stage_invoke() supplies.  The Restate workflow supplies journaled
 * versions; stage_direct_env_init() gives the plain ones used offline and
 * in tests.
 */
#ifndef CORE_STAGE_CALL_H
#define CORE_STAGE_CALL_H

#include <stdint.h>

#include "classify/stage.h"
#include "common/json.h"
#include "stage/stage.h"

/*
 * Services of one call.  Every function receives arg and the call; the
 * stage's record is reachable with stage_call_host().  Any member may be
 * NULL: llm_complete and run then fail with CLS_FAIL, now_ms and
 * random_u64 return 0, cancelled returns 0.
 */
struct stage_call_env {
    cls_status (*llm_complete)(void *arg, cls_call *call,
                               const cls_llm_request *req, cls_llm_reply *reply,
                               cls_error *err);
    cls_status (*run)(void *arg, cls_call *call, const char *name,
                      cls_run_fn fn, void *fn_arg, const cls_json **result,
                      cls_error *err);
    int64_t (*now_ms)(void *arg, cls_call *call);
    uint64_t (*random_u64)(void *arg, cls_call *call);
    int (*cancelled)(void *arg, const cls_call *call);
    void *arg;
};

/* The call record.  Lives on the stack of stage_invoke(). */
struct cls_call {
    struct cls_host *host;
    const struct stage_call_env *env;
    const char *item_id;
    struct core_arena arena;
};

/* The stage the call runs.  Never NULL. */
struct cls_host *stage_call_host(const cls_call *call);

/* The call's arena (for values that must live as long as the call). */
struct core_arena *stage_call_arena(cls_call *call);

/*
 * Run fn with a fresh builder and error sink, once, and turn what it
 * wrote into a value owned by the call.  Returns fn's status (with err
 * filled) or the builder's error.  For environments: this is the "execute"
 * half of a journaled run.
 */
cls_status stage_call_run_once(cls_call *call, const char *name, cls_run_fn fn,
                               void *fn_arg, const cls_json **result,
                               cls_error *err);

/* ------------------------------------------------------------------ */
/* The direct environment                                              */
/* ------------------------------------------------------------------ */

/*
 * An LLM client for the direct environment: complete req with the
 * provider named in stage_call_host(call)->provider.
 */
typedef cls_status (*stage_llm_fn)(void *arg, cls_call *call,
                                   const cls_llm_request *req,
                                   cls_llm_reply *reply, cls_error *err);

/* Retry policy for run blocks that return CLS_RETRY. */
struct stage_retry_policy {
    unsigned max_attempts; /* total attempts, at least 1 */
    unsigned initial_delay_ms;
    unsigned max_delay_ms;
};

/* State of a direct environment; fill with stage_direct_env_init(). */
struct stage_direct_env {
    struct stage_call_env env;
    stage_llm_fn llm;
    void *llm_arg;
    struct stage_retry_policy retry;
    const atomic_int *cancel_flag;
};

/*
 * Make d a direct environment: run blocks execute at once (retrying
 * CLS_RETRY per retry, which may be NULL for a single attempt), now_ms
 * reads the real clock, random_u64 reads /dev/urandom, and llm_complete
 * calls llm (NULL: every completion fails with CLS_FAIL "no LLM client
 * configured").  cancel_flag may be NULL.  Use &d->env as the environment;
 * d must outlive the calls.
 */
void stage_direct_env_init(struct stage_direct_env *d, stage_llm_fn llm,
                           void *llm_arg,
                           const struct stage_retry_policy *retry,
                           const atomic_int *cancel_flag);

/* ------------------------------------------------------------------ */
/* Invocation                                                          */
/* ------------------------------------------------------------------ */

/*
 * Run stage s on one item.  input_json is the input object described in
 * stage.h (len bytes); item_id labels log lines (may be NULL).  On CLS_OK
 * *output_json is the stage's output as compact JSON, malloc'd (caller
 * frees).  Otherwise returns the status with err filled (the stage's
 * message, prefixed with the stage name).  The caller holds a reference to
 * s for the duration.  Thread-safe: calls on one instance are
 * serialised here unless the stage declares CLS_STAGE_CONCURRENT.
 */
cls_status stage_invoke(struct cls_host *s, const struct stage_call_env *env,
                        const char *item_id, const char *input_json, size_t len,
                        char **output_json, cls_error *err);

#endif /* CORE_STAGE_CALL_H */
