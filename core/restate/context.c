/*
 * context.c - the handler context: input, runs, calls, sends, state,
 * output and failures.
 *
 * Each operation allocates its completion ids in program order, builds
 * the command it stands for and hands it to the journal (replay or
 * write); awaited results come from the notifications of the journal.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "restate/internal.h"

/* Misuse by the handler ends the attempt with a retryable error. */
static rs_status misuse(rs_session *s, const char *fmt, ...) RS_PRINTF(2, 3);

static rs_status misuse(rs_session *s, const char *fmt, ...)
{
    char why[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    rs_s_error(s, RS_CODE_INTERNAL, 0, 0, NULL, 0, "%s/%s: %s", s->svc->name,
               s->h->name, why);
    return rs_s_status(s);
}

/* What empty views point at, so a view's data is never NULL. */
static const uint8_t empty[1];

static ProtobufCBinaryData bin(const void *data, size_t len)
{
    ProtobufCBinaryData b;

    b.data = (uint8_t *)data;
    b.len = data != NULL ? len : 0;
    return b;
}

static rs_bytes view(ProtobufCBinaryData b)
{
    rs_bytes v = {b.data ? b.data : empty, b.data ? b.len : 0};

    return v;
}

/* ------------------------------------------------------------------ */
/* Input                                                               */
/* ------------------------------------------------------------------ */

rs_bytes rs_input(const rs_ctx *ctx)
{
    const Restate__InputCommandMessage *in = ctx->s->input;
    rs_bytes none = {empty, 0};

    if (in == NULL || in->value == NULL)
        return none;
    return view(in->value->content);
}

const char *rs_input_header(const rs_ctx *ctx, const char *name)
{
    const Restate__InputCommandMessage *in = ctx->s->input;
    size_t i;

    if (in == NULL || name == NULL)
        return NULL;
    for (i = 0; i < in->n_headers; i++)
        if (strcasecmp(in->headers[i]->key, name) == 0)
            return in->headers[i]->value;
    return NULL;
}

const char *rs_key(const rs_ctx *ctx)
{
    return ctx->s->start ? ctx->s->start->key : "";
}

const char *rs_invocation_id(const rs_ctx *ctx)
{
    return rs_session_invocation_id(ctx->s);
}

uint32_t rs_retry_count(const rs_ctx *ctx)
{
    const Restate__StartMessage *st = ctx->s->start;

    return st != NULL ? st->retry_count_since_last_stored_entry : 0;
}

uint64_t rs_random_seed(const rs_ctx *ctx)
{
    const Restate__StartMessage *st = ctx->s->start;
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i;

    if (st == NULL)
        return 0;
    if (ctx->s->version >= 6)
        return st->random_seed;
    for (i = 0; i < st->id.len; i++) /* v5: FNV-1a of the invocation id */
        h = (h ^ st->id.data[i]) * 0x100000001b3ull;
    return h;
}

/* ------------------------------------------------------------------ */
/* Results of awaited notifications                                    */
/* ------------------------------------------------------------------ */

/* A value or failure notification into *out / RS_TERMINAL. */
static rs_status take_result(rs_session *s,
                             const Restate__NotificationTemplate *n,
                             rs_bytes *out)
{
    const rs_bytes none = {empty, 0};

    *out = none;
    switch (n->result_case) {
    case RESTATE__NOTIFICATION_TEMPLATE__RESULT_VALUE:
        *out = view(n->value->content);
        return RS_OK;
    case RESTATE__NOTIFICATION_TEMPLATE__RESULT_VOID_VALUE:
        return RS_OK;
    case RESTATE__NOTIFICATION_TEMPLATE__RESULT_FAILURE:
        rs_s_set_failure(s, n->failure->code, n->failure->message,
                         strlen(n->failure->message));
        return RS_TERMINAL;
    default:
        rs_s_error(s, RS_CODE_PROTOCOL_VIOLATION, 0, 0, NULL, 0,
                   "notification for completion %u carries result kind %d, "
                   "not a value or failure",
                   n->completion_id, (int)n->result_case);
        return RS_ABORTED;
    }
}

/* ------------------------------------------------------------------ */
/* Run                                                                 */
/* ------------------------------------------------------------------ */

int rs_run_result_append(rs_run_result *r, const void *data, size_t len)
{
    if (r->oom)
        return -1;
    if (r->len + len > r->cap) {
        size_t cap = r->cap ? r->cap : 64;
        uint8_t *grown;

        while (cap < r->len + len)
            cap *= 2;
        grown = realloc(r->data, cap);
        if (grown == NULL) {
            r->oom = 1;
            return -1;
        }
        r->data = grown;
        r->cap = cap;
    }
    if (len)
        memcpy(r->data + r->len, data, len);
    r->len += len;
    return 0;
}

int rs_run_result_fail(rs_run_result *r, rs_status status, uint32_t code,
                       const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    free(r->message);
    r->message = strdup(buf);
    r->code = code;
    return status;
}

/* Delay before execution n + 1 after execution n failed. */
static uint64_t retry_delay(const rs_session_config *cfg, uint32_t n)
{
    double d = (double)cfg->run_initial_delay_ms;
    uint32_t i;

    for (i = 1; i < n && d < (double)cfg->run_max_delay_ms; i++)
        d *= cfg->run_factor;
    if (d > (double)cfg->run_max_delay_ms)
        d = (double)cfg->run_max_delay_ms;
    return d < 1.0 ? 1 : (uint64_t)d;
}

/* Propose the run's value or failure, then suspend on it. */
static rs_status propose(rs_session *s, uint32_t cid, const rs_run_result *r,
                         int ok)
{
    Restate__ProposeRunCompletionMessage m =
        RESTATE__PROPOSE_RUN_COMPLETION_MESSAGE__INIT;
    Restate__Failure failure = RESTATE__FAILURE__INIT;

    m.result_completion_id = cid;
    if (ok) {
        m.result_case = RESTATE__PROPOSE_RUN_COMPLETION_MESSAGE__RESULT_VALUE;
        m.value = bin(r->data, r->len);
    }
    else {
        failure.code = r->code ? r->code : RS_CODE_INTERNAL;
        failure.message = r->message ? r->message : "run failed";
        m.result_case = RESTATE__PROPOSE_RUN_COMPLETION_MESSAGE__RESULT_FAILURE;
        m.failure = &failure;
    }
    if (rs_s_emit(s, RS_MSG_PROPOSE_RUN, &m.base) != 0)
        return RS_ABORTED;
    rs_s_suspend(s, cid);
    return rs_s_status(s);
}

/* Execute fn (execution number n) and settle its outcome. */
static rs_status execute(rs_session *s, uint32_t cid, uint32_t index,
                         const char *name, rs_run_fn fn, void *arg, uint32_t n)
{
    rs_run_result r;
    rs_status st;
    int rc;

    memset(&r, 0, sizeof(r));
    rc = fn(arg, &r);
    if (rc == RS_OK && r.oom) {
        rc = RS_RETRY;
        free(r.message);
        r.message = strdup("out of memory building the run's result");
    }
    if (rc == RS_OK) {
        st = propose(s, cid, &r, 1);
    }
    else if (rc != RS_TERMINAL && n < s->cfg.run_max_attempts) {
        s->cmd_index = index; /* the error names the run's command */
        rs_s_error(s, RS_CODE_INTERNAL, 1, RS_MSG_RUN, name,
                   retry_delay(&s->cfg, n),
                   "run '%s' failed on execution %u of %u: %s", name, n,
                   s->cfg.run_max_attempts,
                   r.message ? r.message : "retryable failure");
        st = rs_s_status(s);
    }
    else {
        if (rc != RS_TERMINAL && rc != RS_RETRY) {
            free(r.message);
            r.message = NULL;
            rs_run_result_fail(&r, RS_TERMINAL, RS_CODE_INTERNAL,
                               "run function returned invalid status %d", rc);
        }
        st = propose(s, cid, &r, 0);
    }
    free(r.data);
    free(r.message);
    return st;
}

rs_status rs_run(rs_ctx *ctx, const char *name, rs_run_fn fn, void *arg,
                 rs_bytes *result)
{
    rs_session *s = ctx->s;
    Restate__RunCommandMessage m = RESTATE__RUN_COMMAND_MESSAGE__INIT;
    const Restate__NotificationTemplate *n;
    uint32_t cid, index;
    int replayed;
    size_t pos;
    rs_status st;

    if (s->end != RS_END_NONE)
        return rs_s_status(s);
    if (fn == NULL || result == NULL)
        return misuse(s, "rs_run without a function or result pointer");
    name = name ? name : "";
    cid = s->next_cid++;
    index = s->cmd_index;
    replayed = s->replay_pos < s->ncmds;
    m.result_completion_id = cid;
    m.name = (char *)name;
    st = rs_s_journal(s, RS_MSG_RUN, &m.base, name, NULL);
    if (st != RS_OK)
        return st;

    n = rs_s_find(s, cid, &pos);
    if (n != NULL || s->replay_pos < s->ncmds || rs_s_cancel_pending(s)) {
        /* journaled result, cancellation, or 570 (later commands) */
        st = rs_s_await(s, cid, &n);
        return st == RS_OK ? take_result(s, n, result) : st;
    }
    result->data = empty;
    result->len = 0;
    return execute(s, cid, index, name, fn, arg,
                   replayed ? s->start->retry_count_since_last_stored_entry + 1
                            : 1);
}

/* ------------------------------------------------------------------ */
/* Calls and sends                                                     */
/* ------------------------------------------------------------------ */

static int target_ok(const char *service, const char *handler)
{
    return service != NULL && service[0] != '\0' && handler != NULL &&
           handler[0] != '\0';
}

rs_status rs_call(rs_ctx *ctx, const char *service, const char *handler,
                  const char *key, rs_bytes input, rs_bytes *output)
{
    rs_session *s = ctx->s;
    Restate__CallCommandMessage m = RESTATE__CALL_COMMAND_MESSAGE__INIT;
    const Restate__NotificationTemplate *n;
    rs_status st;

    if (s->end != RS_END_NONE)
        return rs_s_status(s);
    if (!target_ok(service, handler) || output == NULL)
        return misuse(s, "rs_call without a target or output pointer");
    m.service_name = (char *)service;
    m.handler_name = (char *)handler;
    m.parameter = bin(input.data, input.len);
    m.key = (char *)(key ? key : "");
    m.invocation_id_notification_idx = s->next_cid++;
    m.result_completion_id = s->next_cid++;
    st = rs_s_journal(s, RS_MSG_CALL, &m.base, "", NULL);
    if (st != RS_OK)
        return st;
    st = rs_s_await(s, m.result_completion_id, &n);
    return st == RS_OK ? take_result(s, n, output) : st;
}

/* Absolute invoke time for a delay; 0 means now. */
static uint64_t invoke_time(uint64_t delay_ms)
{
    struct timespec ts;

    if (delay_ms == 0 || clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u +
           delay_ms;
}

rs_status rs_send(rs_ctx *ctx, const char *service, const char *handler,
                  const char *key, rs_bytes input, uint64_t delay_ms,
                  const char **invocation_id)
{
    rs_session *s = ctx->s;
    Restate__OneWayCallCommandMessage m =
        RESTATE__ONE_WAY_CALL_COMMAND_MESSAGE__INIT;
    const Restate__NotificationTemplate *n;
    rs_status st;

    if (s->end != RS_END_NONE)
        return rs_s_status(s);
    if (!target_ok(service, handler))
        return misuse(s, "rs_send without a target");
    m.service_name = (char *)service;
    m.handler_name = (char *)handler;
    m.parameter = bin(input.data, input.len);
    m.key = (char *)(key ? key : "");
    m.invoke_time = invoke_time(delay_ms);
    m.invocation_id_notification_idx = s->next_cid++;
    st = rs_s_journal(s, RS_MSG_ONE_WAY_CALL, &m.base, "", NULL);
    if (st != RS_OK || invocation_id == NULL)
        return st;
    st = rs_s_await(s, m.invocation_id_notification_idx, &n);
    if (st != RS_OK)
        return st;
    if (n->result_case == RESTATE__NOTIFICATION_TEMPLATE__RESULT_FAILURE)
        return take_result(s, n, &input);
    if (n->result_case !=
        RESTATE__NOTIFICATION_TEMPLATE__RESULT_INVOCATION_ID) {
        rs_s_error(s, RS_CODE_PROTOCOL_VIOLATION, 0, 0, NULL, 0,
                   "notification %u should carry an invocation id, has "
                   "result kind %d",
                   m.invocation_id_notification_idx, (int)n->result_case);
        return RS_ABORTED;
    }
    *invocation_id = n->invocation_id;
    return RS_OK;
}

/* ------------------------------------------------------------------ */
/* State                                                               */
/* ------------------------------------------------------------------ */

static struct rs_state_entry *state_find(rs_session *s, const char *key)
{
    size_t len = strlen(key), i;

    for (i = 0; i < s->nstate; i++)
        if (s->state[i].key_len == len &&
            memcmp(s->state[i].key, key, len) == 0)
            return &s->state[i];
    return NULL;
}

/* Record key's value (present) or absence in the local map.  value must
 * already be owned by the session.  Returns 0 or -1 (out of memory). */
static int state_put(rs_session *s, const char *key, const uint8_t *value,
                     size_t len, int present)
{
    struct rs_state_entry *e = state_find(s, key);

    if (e == NULL) {
        if (s->nstate == s->cap_state) {
            size_t cap = s->cap_state ? s->cap_state * 2 : 8;
            struct rs_state_entry *grown;

            grown = realloc(s->state, cap * sizeof(*grown));
            if (grown == NULL)
                return -1;
            s->state = grown;
            s->cap_state = cap;
        }
        e = &s->state[s->nstate];
        e->key = (uint8_t *)strdup(key);
        if (e->key == NULL)
            return -1;
        e->key_len = strlen(key);
        s->nstate++;
    }
    e->value = value;
    e->value_len = len;
    e->present = present;
    return 0;
}

/* A session-owned copy of bytes (kept until the session is freed). */
static const uint8_t *keep_copy(rs_session *s, rs_bytes b)
{
    uint8_t *copy = malloc(b.len ? b.len : 1);

    if (copy == NULL)
        return NULL;
    if (b.len)
        memcpy(copy, b.data, b.len);
    return rs_s_keep(s, copy) == 0 ? copy : NULL;
}

static int can_read(const rs_session *s)
{
    return s->svc->kind != RS_SERVICE;
}

static int can_write(const rs_session *s)
{
    if (s->svc->kind == RS_VIRTUAL_OBJECT)
        return s->h->kind != RS_HANDLER_SHARED;
    return s->svc->kind == RS_WORKFLOW && s->h->kind == RS_HANDLER_WORKFLOW;
}

/* Replay of a recorded eager read: its inlined result is the answer. */
static rs_status eager_replay(rs_session *s, const char *key, rs_bytes *value,
                              int *found)
{
    Restate__GetEagerStateCommandMessage m =
        RESTATE__GET_EAGER_STATE_COMMAND_MESSAGE__INIT;
    Restate__GetEagerStateCommandMessage *r;
    ProtobufCMessage *rec;
    rs_status st;

    m.key = bin(key, strlen(key));
    st = rs_s_journal(s, RS_MSG_GET_EAGER_STATE, &m.base, "", &rec);
    if (st != RS_OK)
        return st;
    r = (Restate__GetEagerStateCommandMessage *)rec;
    if (r->result_case ==
            RESTATE__GET_EAGER_STATE_COMMAND_MESSAGE__RESULT_VALUE &&
        r->value != NULL) {
        rs_bytes v = {r->value->content.data, r->value->content.len};

        *found = 1;
        *value = v;
        value->data = keep_copy(s, v);
    }
    protobuf_c_message_free_unpacked(rec, NULL);
    if (*found && value->data == NULL)
        return misuse(s, "out of memory reading state '%s'", key);
    return RS_OK;
}

/* A lazy read: command with completion cid, then await it. */
static rs_status lazy_get(rs_session *s, const char *key, uint32_t cid,
                          rs_bytes *value, int *found)
{
    Restate__GetLazyStateCommandMessage m =
        RESTATE__GET_LAZY_STATE_COMMAND_MESSAGE__INIT;
    const Restate__NotificationTemplate *n;
    rs_status st;

    m.key = bin(key, strlen(key));
    m.result_completion_id = cid;
    m.name = "";
    st = rs_s_journal(s, RS_MSG_GET_LAZY_STATE, &m.base, "", NULL);
    if (st != RS_OK)
        return st;
    st = rs_s_await(s, cid, &n);
    if (st != RS_OK)
        return st;
    st = take_result(s, n, value);
    *found = st == RS_OK &&
             n->result_case == RESTATE__NOTIFICATION_TEMPLATE__RESULT_VALUE;
    return st;
}

/* A fresh read from the local (eager) map. */
static rs_status eager_write(rs_session *s, const char *key,
                             const struct rs_state_entry *e, rs_bytes *value,
                             int *found)
{
    Restate__GetEagerStateCommandMessage m =
        RESTATE__GET_EAGER_STATE_COMMAND_MESSAGE__INIT;
    Restate__Value v = RESTATE__VALUE__INIT;
    Restate__Void none = RESTATE__VOID__INIT;

    m.key = bin(key, strlen(key));
    if (e != NULL && e->present) {
        v.content = bin(e->value, e->value_len);
        m.result_case = RESTATE__GET_EAGER_STATE_COMMAND_MESSAGE__RESULT_VALUE;
        m.value = &v;
        *found = 1;
        value->data = e->value ? e->value : empty;
        value->len = e->value_len;
    }
    else {
        m.result_case =
            RESTATE__GET_EAGER_STATE_COMMAND_MESSAGE__RESULT_VOID_VALUE;
        m.void_value = &none;
    }
    return rs_s_journal(s, RS_MSG_GET_EAGER_STATE, &m.base, "", NULL);
}

rs_status rs_get_state(rs_ctx *ctx, const char *key, rs_bytes *value,
                       int *found)
{
    rs_session *s = ctx->s;
    const struct rs_state_entry *e;
    uint32_t cid;

    if (s->end != RS_END_NONE)
        return rs_s_status(s);
    if (key == NULL || value == NULL || found == NULL)
        return misuse(s, "rs_get_state without key or outputs");
    if (!can_read(s))
        return misuse(s, "state read of '%s' in a plain service", key);
    value->data = empty;
    value->len = 0;
    *found = 0;
    cid = s->next_cid++; /* allocated even when the read is eager */
    if (s->replay_pos < s->ncmds) {
        if (s->cmds[s->replay_pos].type == RS_MSG_GET_EAGER_STATE)
            return eager_replay(s, key, value, found);
        return lazy_get(s, key, cid, value, found);
    }
    e = state_find(s, key);
    if (e != NULL || s->state_complete)
        return eager_write(s, key, e, value, found);
    return lazy_get(s, key, cid, value, found);
}

rs_status rs_set_state(rs_ctx *ctx, const char *key, rs_bytes value)
{
    rs_session *s = ctx->s;
    Restate__SetStateCommandMessage m =
        RESTATE__SET_STATE_COMMAND_MESSAGE__INIT;
    Restate__Value v = RESTATE__VALUE__INIT;
    const uint8_t *copy;
    rs_status st;

    if (s->end != RS_END_NONE)
        return rs_s_status(s);
    if (key == NULL)
        return misuse(s, "rs_set_state without a key");
    if (!can_write(s))
        return misuse(s,
                      "state write of '%s' from a handler that may not "
                      "write state",
                      key);
    m.key = bin(key, strlen(key));
    v.content = bin(value.data, value.len);
    m.value = &v;
    m.name = "";
    st = rs_s_journal(s, RS_MSG_SET_STATE, &m.base, "", NULL);
    if (st != RS_OK)
        return st;
    copy = keep_copy(s, value);
    if (copy == NULL || state_put(s, key, copy, value.len, 1) != 0)
        return misuse(s, "out of memory recording state '%s'", key);
    return RS_OK;
}

rs_status rs_clear_state(rs_ctx *ctx, const char *key)
{
    rs_session *s = ctx->s;
    Restate__ClearStateCommandMessage m =
        RESTATE__CLEAR_STATE_COMMAND_MESSAGE__INIT;
    rs_status st;

    if (s->end != RS_END_NONE)
        return rs_s_status(s);
    if (key == NULL)
        return misuse(s, "rs_clear_state without a key");
    if (!can_write(s))
        return misuse(s,
                      "state clear of '%s' from a handler that may not "
                      "write state",
                      key);
    m.key = bin(key, strlen(key));
    m.name = "";
    st = rs_s_journal(s, RS_MSG_CLEAR_STATE, &m.base, "", NULL);
    if (st != RS_OK)
        return st;
    if (state_put(s, key, NULL, 0, 0) != 0)
        return misuse(s, "out of memory recording state '%s'", key);
    return RS_OK;
}

rs_status rs_clear_all_state(rs_ctx *ctx)
{
    rs_session *s = ctx->s;
    Restate__ClearAllStateCommandMessage m =
        RESTATE__CLEAR_ALL_STATE_COMMAND_MESSAGE__INIT;
    rs_status st;
    size_t i;

    if (s->end != RS_END_NONE)
        return rs_s_status(s);
    if (!can_write(s))
        return misuse(s, "state clear from a handler that may not write "
                         "state");
    m.name = "";
    st = rs_s_journal(s, RS_MSG_CLEAR_ALL_STATE, &m.base, "", NULL);
    if (st != RS_OK)
        return st;
    for (i = 0; i < s->nstate; i++)
        s->state[i].present = 0;
    s->state_complete = 1;
    return RS_OK;
}

/* ------------------------------------------------------------------ */
/* Result and failures                                                 */
/* ------------------------------------------------------------------ */

rs_status rs_output(rs_ctx *ctx, rs_bytes value)
{
    rs_session *s = ctx->s;
    uint8_t *copy;

    if (s->end != RS_END_NONE)
        return rs_s_status(s);
    copy = malloc(value.len ? value.len : 1);
    if (copy == NULL)
        return misuse(s, "out of memory keeping a %zu-byte result", value.len);
    if (value.len)
        memcpy(copy, value.data, value.len);
    free(s->result);
    s->result = copy;
    s->result_len = value.len;
    return RS_OK;
}

rs_status rs_fail_terminal(rs_ctx *ctx, uint32_t code, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    rs_s_set_failure(ctx->s, code, buf,
                     (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
    return RS_TERMINAL;
}

rs_status rs_fail_retryable(rs_ctx *ctx, uint64_t retry_after_ms,
                            const char *fmt, ...)
{
    rs_session *s = ctx->s;
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    free(s->retry_msg);
    s->retry_msg = strdup(buf);
    s->retry_after_ms = retry_after_ms;
    return RS_RETRY;
}

int rs_last_failure(const rs_ctx *ctx, uint32_t *code, const char **message)
{
    const rs_session *s = ctx->s;

    if (!s->has_failure)
        return -1;
    if (code != NULL)
        *code = s->failure_code;
    if (message != NULL)
        *message = s->failure_msg ? s->failure_msg : "";
    return 0;
}
