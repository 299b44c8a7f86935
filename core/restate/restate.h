/*
 * restate/restate.h - Restate service protocol (v5/v6) for the host.
 *
 * This library turns a registry of C handlers into a Restate service
 * endpoint, independent of any transport.  The HTTP layer uses it like so:
 *
 *   GET  /discover
 *     rs_manifest_negotiate(accept header) -> version + content type
 *     (failure: answer 415); body = rs_manifest_json(registry, version,
 *     RS_MODE_REQUEST_RESPONSE).
 *
 *   POST /invoke/{service}/{handler}
 *     rs_protocol_version(content-type header) -> 5 or 6 (0: answer 415);
 *     rs_registry_find(...) == NULL: answer 404;
 *     s = rs_session_new(registry, service, handler, version, &cfg);
 *     rs_session_feed(s, chunk, len) for every body chunk, in order;
 *     rs_session_run(s, write, user) after the body's end;
 *     answer 200 with content-type rs_protocol_content_type(version) and
 *     the bytes produced by run (always a complete body ending in End,
 *     Suspension or Error, even after a feed error);
 *     rs_session_free(s).
 *
 * Only request/response mode is implemented: the whole journal is read
 * before the handler runs, and an await on anything the journal lacks
 * ends the attempt with a Suspension.  Every rs_run costs one attempt:
 * its result is proposed to the server and the attempt suspends until the
 * server has stored it.
 *
 * Writing handlers
 * ----------------
 * A handler is replayed from the start on every attempt.  It must compute
 * exactly the same sequence of context calls (same order, same names,
 * same targets, same payloads, same state keys) for the same journaled
 * inputs, or the attempt fails with a journal mismatch (code 570) and
 * nothing past the divergence runs.  Rules:
 *   - every side effect and every value that could differ between runs
 *     (time, randomness, network, files, LLMs, databases) goes through
 *     rs_run(); its result is journaled and returned on replay without
 *     calling the function again;
 *   - everything else is derived only from rs_input(), rs_key(), results
 *     of rs_run()/rs_call()/rs_get_state(), and constants;
 *   - no context call from another thread, and none after the handler
 *     returned;
 *   - every context call returns an rs_status marked warn_unused_result:
 *     anything but RS_OK must normally be returned at once (RS_TRY does
 *     that).  RS_SUSPENDED and RS_ABORTED mean the attempt is over; the
 *     library ignores whatever the handler does afterwards, and every
 *     later context call returns the same status without effect.
 *     RS_TERMINAL means the awaited operation failed terminally (see
 *     rs_last_failure); the handler may handle it and go on, or return it
 *     to fail the invocation with that failure.
 * There is no longjmp: the library never unwinds user code.
 *
 * Threads: a registry is built on one thread and is read-only afterwards,
 * so any number of sessions may use it at once from different threads.  A
 * session and its context belong to one thread at a time.  The library
 * holds no global lock, and no lock at all while a handler runs.
 */
#ifndef CORE_RESTATE_RESTATE_H
#define CORE_RESTATE_RESTATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define RS_MUST_USE       __attribute__((warn_unused_result))
#define RS_PRINTF(fm, ar) __attribute__((format(printf, fm, ar)))
#else
#define RS_MUST_USE
#define RS_PRINTF(fm, ar)
#endif

/* ------------------------------------------------------------------ */
/* Constants                                                           */
/* ------------------------------------------------------------------ */

#define RS_PROTOCOL_MIN 5
#define RS_PROTOCOL_MAX 6
#define RS_MANIFEST_MIN 1
#define RS_MANIFEST_MAX 4

/* Failure codes with a fixed meaning on the wire. */
#define RS_CODE_CANCELLED          409u
#define RS_CODE_INTERNAL           500u
#define RS_CODE_JOURNAL_MISMATCH   570u
#define RS_CODE_PROTOCOL_VIOLATION 571u
#define RS_CODE_TOO_LARGE          413u

/* Default limit for one protocol message (header excluded): 32 MiB. */
#define RS_DEFAULT_MESSAGE_LIMIT (32u * 1024u * 1024u)

/* ------------------------------------------------------------------ */
/* Status of context calls and handlers                                */
/* ------------------------------------------------------------------ */

typedef enum rs_status {
    RS_OK = 0,
    /* The attempt waits for something not journaled yet; return it. */
    RS_SUSPENDED = 1,
    /* The attempt ends with an error message (journal mismatch,
     * protocol violation, retryable run failure, misuse); return it. */
    RS_ABORTED = 2,
    /* A terminal failure: from an awaited call or run, a cancellation
     * (code 409), or rs_fail_terminal().  Returned by a handler it
     * completes the invocation with that failure. */
    RS_TERMINAL = 3,
    /* Returned by a handler (via rs_fail_retryable): fail this attempt,
     * the server retries the invocation with its policy. */
    RS_RETRY = 4
} rs_status;

/* Return from the enclosing function when expr is not RS_OK. */
#define RS_TRY(expr)                                                           \
    do {                                                                       \
        rs_status rs_try_status_ = (expr);                                     \
        if (rs_try_status_ != RS_OK)                                           \
            return rs_try_status_;                                             \
    } while (0)

/* A read-only byte view.  Who owns data is said where it is handed out.
 * Views handed out by the library never have data == NULL (an empty view
 * points at a static empty buffer). */
typedef struct rs_bytes {
    const uint8_t *data;
    size_t len;
} rs_bytes;

/* ------------------------------------------------------------------ */
/* Registry of services                                                */
/* ------------------------------------------------------------------ */

typedef enum rs_service_kind {
    RS_SERVICE = 0,
    RS_VIRTUAL_OBJECT = 1,
    RS_WORKFLOW = 2
} rs_service_kind;

typedef enum rs_handler_kind {
    RS_HANDLER_DEFAULT = 0, /* no "ty" in the manifest */
    RS_HANDLER_WORKFLOW = 1,
    RS_HANDLER_SHARED = 2,
    RS_HANDLER_EXCLUSIVE = 3
} rs_handler_kind;

typedef struct rs_registry rs_registry;
typedef struct rs_ctx rs_ctx;
typedef struct rs_session rs_session;

/*
 * A handler.  Returns RS_OK (the invocation completes with the bytes given
 * to rs_output(), or an empty value), RS_TERMINAL, RS_RETRY, or the
 * RS_SUSPENDED / RS_ABORTED it got from a context call.  arg is the
 * pointer given at registration.  Called on the thread that calls
 * rs_session_run(), possibly on many threads at once.
 */
typedef int (*rs_handler_fn)(rs_ctx *ctx, void *arg);

/* An empty registry, or NULL when out of memory. Free with
 * rs_registry_free(). */
rs_registry *rs_registry_new(void);

/* Free reg and everything it copied.  No session may use it any more. */
void rs_registry_free(rs_registry *reg);

/*
 * Add a service.  name must match [a-zA-Z][a-zA-Z0-9._-]* (or start with
 * '_' + alphanumeric), must not start with "restate" (any case) nor be
 * "openapi", and must be new.  The name is copied.  Returns 0, or -1 with
 * a reason in rs_registry_error().  Not thread-safe: build the registry
 * before sessions use it.
 */
int rs_registry_add_service(rs_registry *reg, const char *name,
                            rs_service_kind kind);

/*
 * Add a handler to an existing service.  name must match
 * [a-zA-Z][a-zA-Z0-9_]* (or '_' + alphanumeric first).  kind must fit the
 * service: SERVICE takes DEFAULT/SHARED; VIRTUAL_OBJECT takes
 * DEFAULT/EXCLUSIVE/SHARED; WORKFLOW takes exactly one WORKFLOW handler
 * plus DEFAULT/SHARED ones.  Handlers accept an optional JSON body and
 * produce JSON.  Returns 0, or -1 with a reason in rs_registry_error().
 * Not thread-safe.
 */
int rs_registry_add_handler(rs_registry *reg, const char *service,
                            const char *name, rs_handler_kind kind,
                            rs_handler_fn fn, void *arg);

/* Reason for the last failed add, "" if none.  Owned by reg. */
const char *rs_registry_error(const rs_registry *reg);

/* Non-zero when service/handler is registered.  Thread-safe (read). */
int rs_registry_has(const rs_registry *reg, const char *service,
                    const char *handler);

/* ------------------------------------------------------------------ */
/* Discovery                                                           */
/* ------------------------------------------------------------------ */

typedef enum rs_protocol_mode {
    RS_MODE_REQUEST_RESPONSE = 0,
    RS_MODE_BIDI_STREAM = 1
} rs_protocol_mode;

/*
 * Pick the manifest version for an Accept header value: the highest of
 * v1..v4 listed (parameters such as ";q=" are ignored, "*" wildcards do
 * not count).  On success writes *version and *content_type (a static
 * string, exactly "application/vnd.restate.endpointmanifest.vN+json") and
 * returns 0; returns -1 when accept is NULL or names none (answer 415).
 * Thread-safe.
 */
int rs_manifest_negotiate(const char *accept, int *version,
                          const char **content_type);

/*
 * The discovery manifest of reg as JSON text for manifest version 1..4,
 * advertising protocol versions 5..6 and the given mode.  Keys beyond v1
 * are only emitted when the version has them.  Returns a malloc'd
 * NUL-terminated string the caller frees, or NULL (bad version, out of
 * memory).  Thread-safe for a built registry.
 */
char *rs_manifest_json(const rs_registry *reg, int manifest_version,
                       rs_protocol_mode mode);

/* ------------------------------------------------------------------ */
/* Invocation content type                                             */
/* ------------------------------------------------------------------ */

/*
 * The protocol version named by an invocation request's content type:
 * 5 or 6 for exactly "application/vnd.restate.invocation.v5|v6"
 * (surrounding blanks ignored), 0 otherwise (answer 415).  Thread-safe.
 */
int rs_protocol_version(const char *content_type);

/* "application/vnd.restate.invocation.vN" for N in 5..6, else NULL.
 * Static string; the response content type must be exactly this. */
const char *rs_protocol_content_type(int version);

/* ------------------------------------------------------------------ */
/* Invocation sessions                                                 */
/* ------------------------------------------------------------------ */

/*
 * Per-session settings.  Fill with rs_session_config_init() and change
 * what you need.  The run retry policy bounds how often an rs_run
 * function that returns RS_RETRY is executed: execution n (n >= 1) that
 * fails is retried after min(initial_delay * factor^(n-1), max_delay) ms
 * while n < run_max_attempts; the failure of execution run_max_attempts
 * becomes the run's terminal result (journaled, code 500).
 */
typedef struct rs_session_config {
    uint32_t max_message_size;     /* payload bytes; default 32 MiB */
    uint32_t run_max_attempts;     /* >= 1; default 5 */
    uint64_t run_initial_delay_ms; /* default 100 */
    uint64_t run_max_delay_ms;     /* default 10000 */
    double run_factor;             /* >= 1; default 2.0 */
} rs_session_config;

/* Defaults as documented on rs_session_config. */
void rs_session_config_init(rs_session_config *cfg);

/*
 * A session for one invocation attempt of service/handler at protocol
 * version 5 or 6.  cfg may be NULL (defaults); it is copied.  Returns NULL
 * when the target is unknown, the version unsupported, or memory is short;
 * check rs_registry_has() and rs_protocol_version() first to answer 404 /
 * 415.  reg must outlive the session.  The session may move between
 * threads but is used by one at a time.
 */
rs_session *rs_session_new(const rs_registry *reg, const char *service,
                           const char *handler, int version,
                           const rs_session_config *cfg);

/*
 * Feed request body bytes in order; chunk boundaries may fall anywhere.
 * Returns 0, or -1 on a protocol error (bad frame, message over the size
 * limit, undecodable message, unexpected message): the session is then
 * failed, further input is ignored, and rs_session_run() answers with an
 * ErrorMessage.  rs_session_error() says what went wrong.
 */
int rs_session_feed(rs_session *s, const void *data, size_t len);

/* How an attempt ended. */
typedef enum rs_outcome {
    RS_OUTCOME_COMPLETED = 0, /* Output (value) + End */
    RS_OUTCOME_FAILED = 1,    /* Output (terminal failure) + End */
    RS_OUTCOME_SUSPENDED = 2, /* Suspension */
    RS_OUTCOME_ERROR = 3,     /* ErrorMessage: the server retries */
    RS_OUTCOME_IO = 4         /* the write callback failed */
} rs_outcome;

/*
 * Receives response bytes in order, as they are produced (commands before
 * a run's function executes, so the server sees progress).  Returns 0, or
 * non-zero to abort: the session then stops producing output.
 */
typedef int (*rs_write_fn)(void *user, const uint8_t *data, size_t len);

/*
 * Treat the input as complete and run the attempt: check the journal, run
 * the handler until it returns or awaits something the journal lacks, and
 * produce the response body.  With write == NULL the bytes are kept in
 * the session (rs_session_output()).  Call once.  The handler runs on the
 * calling thread.
 */
rs_outcome rs_session_run(rs_session *s, rs_write_fn write, void *user);

/* Response bytes kept by a run without a write callback.  Owned by s,
 * valid until rs_session_free(). */
rs_bytes rs_session_output(const rs_session *s);

/*
 * The request body passed the transport's limit of limit bytes and was
 * cut.  If the StartMessage was read, the next rs_session_run() completes
 * the invocation with a terminal failure (code 413) naming the limit,
 * without running the handler, so the server does not retry an input that
 * can never fit; returns 0.  Returns -1 when the start of the body was not
 * usable (answer 413 at the transport level).
 */
int rs_session_refuse_oversized(rs_session *s, size_t limit);

/* Why the attempt failed ("" if it did not).  Owned by s. */
const char *rs_session_error(const rs_session *s);

/* The invocation's debug id ("inv_..."), or "" before Start was read. */
const char *rs_session_invocation_id(const rs_session *s);

/* Free s and everything it owns.  NULL is fine. */
void rs_session_free(rs_session *s);

/* ------------------------------------------------------------------ */
/* Handler context                                                     */
/* ------------------------------------------------------------------ */

/*
 * All pointers handed out by the context are owned by the session and
 * stay valid until rs_session_free().  Keys and names are NUL-terminated
 * UTF-8 strings; payloads are bytes (JSON in this project).
 */

/* The invocation's input (request body).  Never fails. */
rs_bytes rs_input(const rs_ctx *ctx);

/* Value of the ingress header name (case-insensitive), or NULL. */
const char *rs_input_header(const rs_ctx *ctx, const char *name);

/* The object/workflow key, "" for plain services. */
const char *rs_key(const rs_ctx *ctx);

/* The debug invocation id ("inv_..."). */
const char *rs_invocation_id(const rs_ctx *ctx);

/*
 * How many attempts failed since the last entry the server stored (0 on
 * a first attempt).  Differs between attempts: use it for logs and
 * attempt counters only, never to choose what the handler does.
 */
uint32_t rs_retry_count(const rs_ctx *ctx);

/* The journaled random seed (same on every attempt). */
uint64_t rs_random_seed(const rs_ctx *ctx);

/*
 * Result builder of a run function.  Owned by the library; valid only
 * during the function's call.
 */
typedef struct rs_run_result rs_run_result;

/* Append bytes to the run's result.  Returns 0, or -1 when out of memory
 * (the run then fails retryably). */
int rs_run_result_append(rs_run_result *r, const void *data, size_t len);

/* Record the failure message of a run (copied).  Returns RS_TERMINAL or
 * RS_RETRY as given by status, so a run function can write
 * "return rs_run_result_fail(r, RS_RETRY, 0, "timeout on %s", url);".
 * code is used for terminal failures (0 means 500). */
int rs_run_result_fail(rs_run_result *r, rs_status status, uint32_t code,
                       const char *fmt, ...) RS_PRINTF(4, 5);

/*
 * A side effect: returns RS_OK (success, result written), RS_RETRY
 * (transient: retried with the session's run policy) or RS_TERMINAL
 * (permanent: journaled as the run's failure).  Runs on the handler's
 * thread; must not use the context.
 */
typedef int (*rs_run_fn)(void *arg, rs_run_result *result);

/*
 * Journaled side effect named name (deterministic, may be ""): on replay
 * returns the journaled result without calling fn.  Otherwise executes fn
 * once, proposes its result and returns RS_SUSPENDED (the next attempt
 * replays it).  Returns RS_OK with *result (owned by the session),
 * RS_TERMINAL (journaled failure: rs_last_failure), RS_SUSPENDED, or
 * RS_ABORTED (journal mismatch; or fn asked for a retry and attempts
 * remain: the attempt ends with an error carrying the retry delay).
 */
rs_status rs_run(rs_ctx *ctx, const char *name, rs_run_fn fn, void *arg,
                 rs_bytes *result) RS_MUST_USE;

/*
 * Call service/handler (key "" or NULL for plain services) with input and
 * await its result.  Returns RS_OK with *output (owned by the session),
 * RS_TERMINAL (the callee failed terminally, or this invocation was
 * cancelled), RS_SUSPENDED or RS_ABORTED.
 */
rs_status rs_call(rs_ctx *ctx, const char *service, const char *handler,
                  const char *key, rs_bytes input,
                  rs_bytes *output) RS_MUST_USE;

/*
 * One-way call (also to a workflow's run handler), executed after
 * delay_ms (0: now).  When invocation_id is not NULL, awaits the callee's
 * invocation id and stores it there (NUL-terminated, owned by the
 * session); this costs one suspension the first time.  Returns RS_OK,
 * RS_TERMINAL (cancelled while awaiting the id), RS_SUSPENDED or
 * RS_ABORTED.
 */
rs_status rs_send(rs_ctx *ctx, const char *service, const char *handler,
                  const char *key, rs_bytes input, uint64_t delay_ms,
                  const char **invocation_id) RS_MUST_USE;

/*
 * Read state key (keyed services only).  Returns RS_OK with *found and
 * *value (owned by the session; empty when not found), RS_SUSPENDED
 * (the eager state was partial: the value is fetched by the server),
 * RS_TERMINAL (cancelled while waiting) or RS_ABORTED.
 */
rs_status rs_get_state(rs_ctx *ctx, const char *key, rs_bytes *value,
                       int *found) RS_MUST_USE;

/* Write / delete state (exclusive object handlers and the workflow run
 * handler only; otherwise RS_ABORTED).  Returns RS_OK or RS_ABORTED (or
 * the status the attempt already ended with). */
rs_status rs_set_state(rs_ctx *ctx, const char *key,
                       rs_bytes value) RS_MUST_USE;
rs_status rs_clear_state(rs_ctx *ctx, const char *key) RS_MUST_USE;
rs_status rs_clear_all_state(rs_ctx *ctx) RS_MUST_USE;

/* Set the invocation's result (copied; replaces an earlier one).  Used
 * when the handler returns RS_OK.  Returns RS_OK, or RS_ABORTED when out
 * of memory. */
rs_status rs_output(rs_ctx *ctx, rs_bytes value) RS_MUST_USE;

/*
 * Record a terminal failure (code 0 means 500; message copied) and return
 * RS_TERMINAL: "return rs_fail_terminal(ctx, 400, "bad input: %s", x);".
 * The invocation completes with this failure; it is not retried.
 */
rs_status rs_fail_terminal(rs_ctx *ctx, uint32_t code, const char *fmt, ...)
    RS_PRINTF(3, 4) RS_MUST_USE;

/*
 * Record a retryable failure and return RS_RETRY: the attempt ends with
 * an ErrorMessage (code 500) and the server retries the invocation; with
 * retry_after_ms > 0 the next retry waits that long.
 */
rs_status rs_fail_retryable(rs_ctx *ctx, uint64_t retry_after_ms,
                            const char *fmt, ...) RS_PRINTF(3, 4) RS_MUST_USE;

/* The last terminal failure seen by this context (from a call, a run, a
 * cancellation, or rs_fail_terminal).  *message owned by the session.
 * Returns 0, or -1 (outputs untouched) when there was none. */
int rs_last_failure(const rs_ctx *ctx, uint32_t *code, const char **message);

#ifdef __cplusplus
}
#endif

#endif /* CORE_RESTATE_RESTATE_H */
