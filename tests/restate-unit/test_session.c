/*
 * test_session.c - replay, suspension and failure behaviour from hand-made
 * journals, plus the registry, manifest and content-type helpers and
 * concurrent sessions.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "tutil.h"

#define MAXF 32

/* Executions of run functions, per test (atomic: threads test). */
static int runs_a, runs_b;

static rs_bytes str_bytes(const char *s)
{
    rs_bytes b = {(const uint8_t *)s, strlen(s)};

    return b;
}

static int run_a(void *arg, rs_run_result *r)
{
    (void)arg;
    __atomic_add_fetch(&runs_a, 1, __ATOMIC_RELAXED);
    return rs_run_result_append(r, "A", 1) == 0 ? RS_OK : RS_RETRY;
}

static int run_b(void *arg, rs_run_result *r)
{
    (void)arg;
    __atomic_add_fetch(&runs_b, 1, __ATOMIC_RELAXED);
    return rs_run_result_append(r, "B", 1) == 0 ? RS_OK : RS_RETRY;
}

/* Two runs, output "<a>+<b>". */
static int two_runs(rs_ctx *ctx, void *arg)
{
    rs_bytes a, b;
    char out[64];

    (void)arg;
    RS_TRY(rs_run(ctx, "a", run_a, NULL, &a));
    RS_TRY(rs_run(ctx, "b", run_b, NULL, &b));
    snprintf(out, sizeof(out), "%.*s+%.*s", (int)a.len, (const char *)a.data,
             (int)b.len, (const char *)b.data);
    RS_TRY(rs_output(ctx, str_bytes(out)));
    return RS_OK;
}

/* A run named "x" first: diverges from a journal made by two_runs. */
static int changed_runs(rs_ctx *ctx, void *arg)
{
    rs_bytes a;

    (void)arg;
    RS_TRY(rs_run(ctx, "x", run_a, NULL, &a));
    return RS_OK;
}

static int retry_fn(void *arg, rs_run_result *r)
{
    (void)arg;
    __atomic_add_fetch(&runs_a, 1, __ATOMIC_RELAXED);
    return rs_run_result_fail(r, RS_RETRY, 0, "backend down");
}

static int retrying(rs_ctx *ctx, void *arg)
{
    rs_bytes a;
    uint32_t code = 0;
    const char *msg = NULL;
    rs_status st;

    (void)arg;
    st = rs_run(ctx, "flaky", retry_fn, NULL, &a);
    if (st == RS_TERMINAL) {
        assert_int_equal(rs_last_failure(ctx, &code, &msg), 0);
        return rs_fail_terminal(ctx, 502, "gave up: %u %s", code, msg);
    }
    return st;
}

static int caller(rs_ctx *ctx, void *arg)
{
    rs_bytes out;

    (void)arg;
    RS_TRY(rs_call(ctx, "other", "h", NULL, str_bytes("{}"), &out));
    RS_TRY(rs_output(ctx, out));
    return RS_OK;
}

static int sender(rs_ctx *ctx, void *arg)
{
    (void)arg;
    RS_TRY(rs_send(ctx, "wf", "run", "k9", str_bytes("{}"), 5000, NULL));
    RS_TRY(rs_output(ctx, str_bytes("\"sent\"")));
    return RS_OK;
}

static int getter(rs_ctx *ctx, void *arg)
{
    rs_bytes v;
    int found;

    (void)arg;
    RS_TRY(rs_get_state(ctx, "count", &v, &found));
    RS_TRY(rs_output(ctx, found ? v : str_bytes("null")));
    return RS_OK;
}

static int bad_writer(rs_ctx *ctx, void *arg)
{
    (void)arg;
    RS_TRY(rs_set_state(ctx, "k", str_bytes("1")));
    return RS_OK;
}

/* Ignores RS_SUSPENDED on purpose: the library must still end cleanly. */
static int careless(rs_ctx *ctx, void *arg)
{
    rs_bytes a;
    rs_status st;

    (void)arg;
    st = rs_run(ctx, "a", run_a, NULL, &a);
    (void)st;
    st = rs_output(ctx, str_bytes("\"late\""));
    assert_int_equal(st, RS_SUSPENDED);
    return RS_OK;
}

static rs_registry *registry(void)
{
    rs_registry *reg = rs_registry_new();

    assert_non_null(reg);
    assert_int_equal(rs_registry_add_service(reg, "svc", RS_SERVICE), 0);
    assert_int_equal(rs_registry_add_handler(
                         reg, "svc", "two", RS_HANDLER_DEFAULT, two_runs, NULL),
                     0);
    assert_int_equal(rs_registry_add_handler(reg, "svc", "changed",
                                             RS_HANDLER_DEFAULT, changed_runs,
                                             NULL),
                     0);
    assert_int_equal(rs_registry_add_handler(reg, "svc", "retrying",
                                             RS_HANDLER_DEFAULT, retrying,
                                             NULL),
                     0);
    assert_int_equal(rs_registry_add_handler(reg, "svc", "caller",
                                             RS_HANDLER_DEFAULT, caller, NULL),
                     0);
    assert_int_equal(rs_registry_add_handler(reg, "svc", "sender",
                                             RS_HANDLER_DEFAULT, sender, NULL),
                     0);
    assert_int_equal(rs_registry_add_handler(reg, "svc", "careless",
                                             RS_HANDLER_DEFAULT, careless,
                                             NULL),
                     0);
    assert_int_equal(rs_registry_add_service(reg, "obj", RS_VIRTUAL_OBJECT), 0);
    assert_int_equal(rs_registry_add_handler(
                         reg, "obj", "get", RS_HANDLER_EXCLUSIVE, getter, NULL),
                     0);
    assert_int_equal(rs_registry_add_handler(reg, "obj", "peek",
                                             RS_HANDLER_SHARED, bad_writer,
                                             NULL),
                     0);
    return reg;
}

/* Run body through svc/handler; check outcome and frame types. */
static uint8_t *attempt(const char *handler, const char *svc, tu_buf *body,
                        size_t chunk, const rs_session_config *cfg,
                        rs_outcome want, const uint16_t *types, int ntypes,
                        tu_frame *frames, size_t *len)
{
    rs_registry *reg = registry();
    rs_outcome got;
    uint8_t *out = tu_attempt(reg, svc, handler, body->data, body->len, chunk,
                              cfg, &got, len);
    int n = tu_split(out, *len, frames, MAXF), i;

    rs_registry_free(reg);
    if (got != want)
        fail_msg("%s/%s: outcome %d, want %d", svc, handler, got, want);
    if (n != ntypes)
        fail_msg("%s/%s: %d frames, want %d", svc, handler, n, ntypes);
    for (i = 0; i < n; i++)
        if (frames[i].type != types[i])
            fail_msg("%s/%s frame %d: %s, want %s", svc, handler, i,
                     rs_msg_name(frames[i].type), rs_msg_name(types[i]));
    free(body->data);
    memset(body, 0, sizeof(*body));
    return out;
}

static Restate__ErrorMessage *error_of(const tu_frame *f)
{
    Restate__ErrorMessage *e =
        restate__error_message__unpack(NULL, f->len, f->payload);

    assert_non_null(e);
    return e;
}

static void expect_suspension(const tu_frame *f, uint32_t cid)
{
    Restate__SuspensionMessage *m =
        restate__suspension_message__unpack(NULL, f->len, f->payload);

    assert_non_null(m);
    assert_int_equal(m->n_waiting_completions, 1);
    assert_int_equal(m->waiting_completions[0], cid);
    assert_int_equal(m->n_waiting_signals, 1);
    assert_int_equal(m->waiting_signals[0], RS_SIGNAL_CANCEL);
    restate__suspension_message__free_unpacked(m, NULL);
}

static void expect_output(const tu_frame *f, const char *value)
{
    Restate__OutputCommandMessage *m =
        restate__output_command_message__unpack(NULL, f->len, f->payload);

    assert_non_null(m);
    assert_int_equal(m->result_case,
                     RESTATE__OUTPUT_COMMAND_MESSAGE__RESULT_VALUE);
    assert_int_equal(m->value->content.len, strlen(value));
    assert_memory_equal(m->value->content.data, value, strlen(value));
    restate__output_command_message__free_unpacked(m, NULL);
}

static void expect_failure(const tu_frame *f, uint32_t code, const char *msg)
{
    Restate__OutputCommandMessage *m =
        restate__output_command_message__unpack(NULL, f->len, f->payload);

    assert_non_null(m);
    assert_int_equal(m->result_case,
                     RESTATE__OUTPUT_COMMAND_MESSAGE__RESULT_FAILURE);
    assert_int_equal(m->failure->code, code);
    assert_string_equal(m->failure->message, msg);
    restate__output_command_message__free_unpacked(m, NULL);
}

static const uint16_t RUN_SUSPEND[] = {RS_MSG_RUN, RS_MSG_PROPOSE_RUN,
                                       RS_MSG_SUSPENSION};
static const uint16_t OUT_END[] = {RS_MSG_OUTPUT, RS_MSG_END};
static const uint16_t ERR[] = {RS_MSG_ERROR};

/* --- two runs: fresh, after the first, after both -------------------- */

static void test_two_runs(void **state)
{
    tu_frame f[MAXF];
    tu_buf b = {0};
    Restate__RunCommandMessage *run;
    Restate__ProposeRunCompletionMessage *p;
    uint8_t *out;
    size_t len;

    (void)state;
    runs_a = runs_b = 0;
    tu_start(&b, 1, NULL, 1, 0);
    tu_input(&b, "{}");
    out = attempt("two", "svc", &b, 0, NULL, RS_OUTCOME_SUSPENDED, RUN_SUSPEND,
                  3, f, &len);
    run = restate__run_command_message__unpack(NULL, f[0].len, f[0].payload);
    assert_int_equal(run->result_completion_id, 1);
    assert_string_equal(run->name, "a");
    restate__run_command_message__free_unpacked(run, NULL);
    p = restate__propose_run_completion_message__unpack(NULL, f[1].len,
                                                        f[1].payload);
    assert_int_equal(p->result_completion_id, 1);
    assert_int_equal(p->result_case,
                     RESTATE__PROPOSE_RUN_COMPLETION_MESSAGE__RESULT_VALUE);
    assert_memory_equal(p->value.data, "A", 1);
    restate__propose_run_completion_message__free_unpacked(p, NULL);
    expect_suspension(&f[2], 1);
    assert_int_equal(runs_a, 1);
    assert_int_equal(runs_b, 0);
    free(out);

    tu_start(&b, 3, NULL, 1, 0);
    tu_input(&b, "{}");
    tu_run_cmd(&b, 1, "a");
    tu_notif_value(&b, RS_MSG_RUN_DONE, 1, "A");
    out = attempt("two", "svc", &b, 0, NULL, RS_OUTCOME_SUSPENDED, RUN_SUSPEND,
                  3, f, &len);
    run = restate__run_command_message__unpack(NULL, f[0].len, f[0].payload);
    assert_int_equal(run->result_completion_id, 2);
    assert_string_equal(run->name, "b");
    restate__run_command_message__free_unpacked(run, NULL);
    expect_suspension(&f[2], 2);
    assert_int_equal(runs_a, 1);
    assert_int_equal(runs_b, 1);
    free(out);

    tu_start(&b, 5, NULL, 1, 0);
    tu_input(&b, "{}");
    tu_run_cmd(&b, 1, "a");
    tu_notif_value(&b, RS_MSG_RUN_DONE, 1, "A");
    tu_run_cmd(&b, 2, "b");
    tu_notif_value(&b, RS_MSG_RUN_DONE, 2, "B");
    out = attempt("two", "svc", &b, 0, NULL, RS_OUTCOME_COMPLETED, OUT_END, 2,
                  f, &len);
    expect_output(&f[0], "A+B");
    assert_int_equal(runs_a, 1);
    assert_int_equal(runs_b, 1);
    free(out);
}

/* Feeding one byte at a time gives the same bytes as one chunk. */
static void test_chunked_feeding(void **state)
{
    tu_frame f[MAXF];
    tu_buf b = {0};
    uint8_t *whole, *bytewise;
    size_t wlen, blen;

    (void)state;
    tu_start(&b, 3, NULL, 1, 0);
    tu_input(&b, "{\"x\":1}");
    tu_run_cmd(&b, 1, "a");
    tu_notif_value(&b, RS_MSG_RUN_DONE, 1, "A");
    whole = attempt("two", "svc", &b, 0, NULL, RS_OUTCOME_SUSPENDED,
                    RUN_SUSPEND, 3, f, &wlen);
    tu_start(&b, 3, NULL, 1, 0);
    tu_input(&b, "{\"x\":1}");
    tu_run_cmd(&b, 1, "a");
    tu_notif_value(&b, RS_MSG_RUN_DONE, 1, "A");
    bytewise = attempt("two", "svc", &b, 1, NULL, RS_OUTCOME_SUSPENDED,
                       RUN_SUSPEND, 3, f, &blen);
    assert_int_equal(wlen, blen);
    assert_memory_equal(whole, bytewise, wlen);
    free(whole);
    free(bytewise);
}

/* --- journal mismatch ------------------------------------------------- */

static void test_mismatch_570(void **state)
{
    tu_frame f[MAXF];
    tu_buf b = {0};
    Restate__ErrorMessage *e;
    uint8_t *out;
    size_t len;

    (void)state;
    runs_a = 0;
    tu_start(&b, 3, NULL, 1, 0);
    tu_input(&b, "{}");
    tu_run_cmd(&b, 1, "a");
    tu_notif_value(&b, RS_MSG_RUN_DONE, 1, "A");
    out = attempt("changed", "svc", &b, 0, NULL, RS_OUTCOME_ERROR, ERR, 1, f,
                  &len);
    e = error_of(&f[0]);
    assert_int_equal(e->code, RS_CODE_JOURNAL_MISMATCH);
    assert_int_equal(e->related_command_index, 1);
    assert_int_equal(e->related_command_type, RS_MSG_RUN);
    assert_string_equal(e->related_command_name, "x");
    assert_non_null(strstr(e->message, "name"));
    restate__error_message__free_unpacked(e, NULL);
    assert_int_equal(runs_a, 0); /* no side effect past the divergence */
    free(out);

    /* the journal holds a call where the code now runs */
    tu_start(&b, 2, NULL, 1, 0);
    tu_input(&b, "{}");
    tu_call_cmd(&b, "other", "h", NULL, "{}", 1, 2);
    out = attempt("two", "svc", &b, 0, NULL, RS_OUTCOME_ERROR, ERR, 1, f, &len);
    e = error_of(&f[0]);
    assert_int_equal(e->code, RS_CODE_JOURNAL_MISMATCH);
    assert_non_null(strstr(e->message, "CallCommand"));
    restate__error_message__free_unpacked(e, NULL);
    assert_int_equal(runs_a, 0);
    free(out);

    /* same call target, different parameter */
    tu_start(&b, 2, NULL, 1, 0);
    tu_input(&b, "{}");
    tu_call_cmd(&b, "other", "h", NULL, "{\"v\":2}", 1, 2);
    out = attempt("caller", "svc", &b, 0, NULL, RS_OUTCOME_ERROR, ERR, 1, f,
                  &len);
    e = error_of(&f[0]);
    assert_int_equal(e->code, RS_CODE_JOURNAL_MISMATCH);
    assert_non_null(strstr(e->message, "parameter"));
    restate__error_message__free_unpacked(e, NULL);
    free(out);
}

/* --- notifications nobody awaits yet ------------------------------- */

static void test_unawaited_notification(void **state)
{
    tu_frame f[MAXF];
    tu_buf b = {0};
    uint8_t *out;
    size_t len;

    (void)state;
    runs_a = runs_b = 0;
    tu_start(&b, 5, NULL, 1, 0);
    tu_notif_value(&b, RS_MSG_CALL_DONE, 40, "\"early\"");
    tu_input(&b, "{}");
    tu_run_cmd(&b, 1, "a");
    tu_notif_invocation_id(&b, 9, "inv_1other");
    tu_notif_value(&b, RS_MSG_RUN_DONE, 1, "A");
    out = attempt("two", "svc", &b, 0, NULL, RS_OUTCOME_SUSPENDED, RUN_SUSPEND,
                  3, f, &len);
    expect_suspension(&f[2], 2);
    assert_int_equal(runs_a, 0);
    assert_int_equal(runs_b, 1);
    free(out);
}

/* --- calls, sends and cancellation -------------------------------- */

static void test_call_and_cancel(void **state)
{
    static const uint16_t call_suspend[] = {RS_MSG_CALL, RS_MSG_SUSPENSION};
    tu_frame f[MAXF];
    tu_buf b = {0};
    Restate__CallCommandMessage *c;
    uint8_t *out;
    size_t len;

    (void)state;
    tu_start(&b, 1, NULL, 1, 0);
    tu_input(&b, "{}");
    out = attempt("caller", "svc", &b, 0, NULL, RS_OUTCOME_SUSPENDED,
                  call_suspend, 2, f, &len);
    c = restate__call_command_message__unpack(NULL, f[0].len, f[0].payload);
    assert_string_equal(c->service_name, "other");
    assert_int_equal(c->invocation_id_notification_idx, 1);
    assert_int_equal(c->result_completion_id, 2);
    restate__call_command_message__free_unpacked(c, NULL);
    expect_suspension(&f[1], 2);
    free(out);

    /* callee result arrives (after its invocation id) */
    tu_start(&b, 4, NULL, 1, 0);
    tu_input(&b, "{}");
    tu_call_cmd(&b, "other", "h", NULL, "{}", 1, 2);
    tu_notif_invocation_id(&b, 1, "inv_1callee");
    tu_notif_value(&b, RS_MSG_CALL_DONE, 2, "\"pong\"");
    out = attempt("caller", "svc", &b, 0, NULL, RS_OUTCOME_COMPLETED, OUT_END,
                  2, f, &len);
    expect_output(&f[0], "\"pong\"");
    free(out);

    /* callee failed terminally: the failure is propagated */
    tu_start(&b, 3, NULL, 1, 0);
    tu_input(&b, "{}");
    tu_call_cmd(&b, "other", "h", NULL, "{}", 1, 2);
    tu_notif_failure(&b, RS_MSG_CALL_DONE, 2, 418, "teapot");
    out = attempt("caller", "svc", &b, 0, NULL, RS_OUTCOME_FAILED, OUT_END, 2,
                  f, &len);
    expect_failure(&f[0], 418, "teapot");
    free(out);

    /* cancelled while waiting for the callee */
    tu_start(&b, 4, NULL, 1, 0);
    tu_input(&b, "{}");
    tu_call_cmd(&b, "other", "h", NULL, "{}", 1, 2);
    tu_notif_invocation_id(&b, 1, "inv_1callee");
    tu_signal_cancel(&b);
    out = attempt("caller", "svc", &b, 0, NULL, RS_OUTCOME_FAILED, OUT_END, 2,
                  f, &len);
    expect_failure(&f[0], RS_CODE_CANCELLED, "cancelled");
    free(out);

    /* cancelled before a run executed: the run function is not called */
    runs_a = 0;
    tu_start(&b, 2, NULL, 1, 0);
    tu_input(&b, "{}");
    tu_signal_cancel(&b);
    {
        static const uint16_t run_out[] = {RS_MSG_RUN, RS_MSG_OUTPUT,
                                           RS_MSG_END};

        out = attempt("two", "svc", &b, 0, NULL, RS_OUTCOME_FAILED, run_out, 3,
                      f, &len);
    }
    expect_failure(&f[1], RS_CODE_CANCELLED, "cancelled");
    assert_int_equal(runs_a, 0);
    free(out);
}

static void test_send_with_delay(void **state)
{
    static const uint16_t types[] = {RS_MSG_ONE_WAY_CALL, RS_MSG_OUTPUT,
                                     RS_MSG_END};
    tu_frame f[MAXF];
    tu_buf b = {0};
    Restate__OneWayCallCommandMessage *m;
    uint8_t *out;
    size_t len;

    (void)state;
    tu_start(&b, 1, NULL, 1, 0);
    tu_input(&b, "{}");
    out = attempt("sender", "svc", &b, 0, NULL, RS_OUTCOME_COMPLETED, types, 3,
                  f, &len);
    m = restate__one_way_call_command_message__unpack(NULL, f[0].len,
                                                      f[0].payload);
    assert_string_equal(m->service_name, "wf");
    assert_string_equal(m->handler_name, "run");
    assert_string_equal(m->key, "k9");
    assert_int_equal(m->invocation_id_notification_idx, 1);
    assert_true(m->invoke_time > 1700000000000ull);
    restate__one_way_call_command_message__free_unpacked(m, NULL);
    free(out);
}

/* --- run retry policy -------------------------------------------------- */

static void test_run_retry_bounded(void **state)
{
    static const uint16_t run_err[] = {RS_MSG_RUN, RS_MSG_ERROR};
    static const uint16_t prop_susp[] = {RS_MSG_PROPOSE_RUN, RS_MSG_SUSPENSION};
    rs_session_config cfg;
    tu_frame f[MAXF];
    tu_buf b = {0};
    Restate__ErrorMessage *e;
    Restate__ProposeRunCompletionMessage *p;
    uint8_t *out;
    size_t len;

    (void)state;
    rs_session_config_init(&cfg);
    cfg.run_max_attempts = 3;
    cfg.run_initial_delay_ms = 100;
    cfg.run_factor = 2.0;
    runs_a = 0;

    tu_start(&b, 1, NULL, 1, 0);
    tu_input(&b, "{}");
    out = attempt("retrying", "svc", &b, 0, &cfg, RS_OUTCOME_ERROR, run_err, 2,
                  f, &len);
    e = error_of(&f[1]);
    assert_int_equal(e->code, 500);
    assert_int_equal(e->related_command_index, 1);
    assert_int_equal(e->related_command_type, RS_MSG_RUN);
    assert_string_equal(e->related_command_name, "flaky");
    assert_int_equal(e->next_retry_delay, 100);
    assert_non_null(strstr(e->message, "backend down"));
    restate__error_message__free_unpacked(e, NULL);
    free(out);

    tu_start(&b, 2, NULL, 1, 1);
    tu_input(&b, "{}");
    tu_run_cmd(&b, 1, "flaky");
    out = attempt("retrying", "svc", &b, 0, &cfg, RS_OUTCOME_ERROR, ERR, 1, f,
                  &len);
    e = error_of(&f[0]);
    assert_int_equal(e->next_retry_delay, 200);
    restate__error_message__free_unpacked(e, NULL);
    free(out);

    /* third execution exhausts the policy: the failure is proposed */
    tu_start(&b, 2, NULL, 1, 2);
    tu_input(&b, "{}");
    tu_run_cmd(&b, 1, "flaky");
    out = attempt("retrying", "svc", &b, 0, &cfg, RS_OUTCOME_SUSPENDED,
                  prop_susp, 2, f, &len);
    p = restate__propose_run_completion_message__unpack(NULL, f[0].len,
                                                        f[0].payload);
    assert_int_equal(p->result_case,
                     RESTATE__PROPOSE_RUN_COMPLETION_MESSAGE__RESULT_FAILURE);
    assert_int_equal(p->failure->code, 500);
    assert_string_equal(p->failure->message, "backend down");
    restate__propose_run_completion_message__free_unpacked(p, NULL);
    free(out);
    assert_int_equal(runs_a, 3);

    /* the journaled failure is terminal for the handler */
    tu_start(&b, 3, NULL, 1, 0);
    tu_input(&b, "{}");
    tu_run_cmd(&b, 1, "flaky");
    tu_notif_failure(&b, RS_MSG_RUN_DONE, 1, 500, "backend down");
    out = attempt("retrying", "svc", &b, 0, &cfg, RS_OUTCOME_FAILED, OUT_END, 2,
                  f, &len);
    expect_failure(&f[0], 502, "gave up: 500 backend down");
    free(out);
    assert_int_equal(runs_a, 3);
}

/* --- state ------------------------------------------------------------ */

static void test_state_eager_and_lazy(void **state)
{
    static const uint16_t eager_out[] = {RS_MSG_GET_EAGER_STATE, RS_MSG_OUTPUT,
                                         RS_MSG_END};
    static const uint16_t lazy_susp[] = {RS_MSG_GET_LAZY_STATE,
                                         RS_MSG_SUSPENSION};
    tu_frame f[MAXF];
    tu_buf b = {0};
    Restate__GetLazyStateCommandMessage *g;
    Restate__GetEagerStateCommandMessage *eg;
    uint8_t *out;
    size_t len;

    (void)state;
    /* eager map holds the key */
    tu_start_state(&b, 1, "o1", "count", "7");
    tu_input(&b, "");
    out = attempt("get", "obj", &b, 0, NULL, RS_OUTCOME_COMPLETED, eager_out, 3,
                  f, &len);
    expect_output(&f[1], "7");
    free(out);

    /* complete map without the key: void */
    tu_start(&b, 1, "o1", 0, 0);
    tu_input(&b, "");
    out = attempt("get", "obj", &b, 0, NULL, RS_OUTCOME_COMPLETED, eager_out, 3,
                  f, &len);
    eg = restate__get_eager_state_command_message__unpack(NULL, f[0].len,
                                                          f[0].payload);
    assert_int_equal(
        eg->result_case,
        RESTATE__GET_EAGER_STATE_COMMAND_MESSAGE__RESULT_VOID_VALUE);
    restate__get_eager_state_command_message__free_unpacked(eg, NULL);
    expect_output(&f[1], "null");
    free(out);

    /* partial map: lazy read, suspend on its completion id */
    tu_start(&b, 1, "o1", 1, 0);
    tu_input(&b, "");
    out = attempt("get", "obj", &b, 0, NULL, RS_OUTCOME_SUSPENDED, lazy_susp, 2,
                  f, &len);
    g = restate__get_lazy_state_command_message__unpack(NULL, f[0].len,
                                                        f[0].payload);
    assert_int_equal(g->result_completion_id, 1);
    assert_memory_equal(g->key.data, "count", 5);
    restate__get_lazy_state_command_message__free_unpacked(g, NULL);
    expect_suspension(&f[1], 1);
    free(out);

    /* replay of the lazy read with its notification */
    tu_start(&b, 3, "o1", 1, 0);
    tu_input(&b, "");
    {
        Restate__GetLazyStateCommandMessage m =
            RESTATE__GET_LAZY_STATE_COMMAND_MESSAGE__INIT;

        m.key.data = (uint8_t *)"count";
        m.key.len = 5;
        m.result_completion_id = 1;
        tu_append_msg(&b, RS_MSG_GET_LAZY_STATE, &m.base);
    }
    tu_notif_value(&b, RS_MSG_GET_LAZY_STATE_DONE, 1, "12");
    out = attempt("get", "obj", &b, 0, NULL, RS_OUTCOME_COMPLETED, OUT_END, 2,
                  f, &len);
    expect_output(&f[0], "12");
    free(out);

    /* a shared handler may not write */
    tu_start(&b, 1, "o1", 0, 0);
    tu_input(&b, "");
    out =
        attempt("peek", "obj", &b, 0, NULL, RS_OUTCOME_ERROR, ERR, 1, f, &len);
    free(out);
}

/* --- broken input ------------------------------------------------------ */

static void test_oversized_message(void **state)
{
    rs_session_config cfg;
    tu_frame f[MAXF];
    tu_buf b = {0};
    Restate__ErrorMessage *e;
    uint8_t *out;
    size_t len;

    (void)state;
    rs_session_config_init(&cfg);
    cfg.max_message_size = 64;
    tu_start(&b, 1, NULL, 1, 0);
    tu_input(&b,
             "{\"padding\":\"................................................"
             "......................\"}");
    runs_a = 0;
    out = attempt("two", "svc", &b, 0, &cfg, RS_OUTCOME_ERROR, ERR, 1, f, &len);
    e = error_of(&f[0]);
    assert_int_equal(e->code, RS_CODE_PROTOCOL_VIOLATION);
    assert_non_null(strstr(e->message, "over the limit of 64"));
    restate__error_message__free_unpacked(e, NULL);
    assert_int_equal(runs_a, 0);
    free(out);
}

static void test_truncated_input(void **state)
{
    tu_frame f[MAXF];
    tu_buf b = {0};
    Restate__ErrorMessage *e;
    uint8_t *out;
    size_t len;

    (void)state;
    runs_a = 0;
    tu_start(&b, 1, NULL, 1, 0);
    tu_input(&b, "{}");
    b.len -= 1; /* cut the last byte of the input frame */
    out = attempt("two", "svc", &b, 0, NULL, RS_OUTCOME_ERROR, ERR, 1, f, &len);
    e = error_of(&f[0]);
    assert_int_equal(e->code, RS_CODE_PROTOCOL_VIOLATION);
    assert_non_null(strstr(e->message, "inside a frame"));
    restate__error_message__free_unpacked(e, NULL);
    free(out);

    /* fewer journal entries than announced */
    tu_start(&b, 3, NULL, 1, 0);
    tu_input(&b, "{}");
    tu_run_cmd(&b, 1, "a");
    out = attempt("two", "svc", &b, 0, NULL, RS_OUTCOME_ERROR, ERR, 1, f, &len);
    e = error_of(&f[0]);
    assert_non_null(strstr(e->message, "2 of 3"));
    restate__error_message__free_unpacked(e, NULL);
    free(out);

    /* garbage where a protobuf payload should be */
    tu_start(&b, 1, NULL, 1, 0);
    {
        uint8_t frame[8 + 3] = {0};

        rs_frame_header_put(frame, RS_MSG_INPUT, 0, 3);
        frame[8] = 0x72; /* field 14, length 0x7f: runs past the end */
        frame[9] = 0x7f;
        tu_append(&b, frame, sizeof(frame));
    }
    out = attempt("two", "svc", &b, 0, NULL, RS_OUTCOME_ERROR, ERR, 1, f, &len);
    free(out);
    assert_int_equal(runs_a, 0);
}

static void test_careless_handler(void **state)
{
    tu_frame f[MAXF];
    tu_buf b = {0};
    uint8_t *out;
    size_t len;

    (void)state;
    tu_start(&b, 1, NULL, 1, 0);
    tu_input(&b, "{}");
    out = attempt("careless", "svc", &b, 0, NULL, RS_OUTCOME_SUSPENDED,
                  RUN_SUSPEND, 3, f, &len);
    free(out);
}

/* An Output already in the journal is replayed: only End is new. */
static void test_output_replayed(void **state)
{
    static const uint16_t end_only[] = {RS_MSG_END};
    tu_frame f[MAXF];
    tu_buf b = {0};
    Restate__OutputCommandMessage m = RESTATE__OUTPUT_COMMAND_MESSAGE__INIT;
    Restate__Value v = RESTATE__VALUE__INIT;
    uint8_t *out;
    size_t len;

    (void)state;
    tu_start(&b, 6, NULL, 1, 0);
    tu_input(&b, "{}");
    tu_run_cmd(&b, 1, "a");
    tu_notif_value(&b, RS_MSG_RUN_DONE, 1, "A");
    tu_run_cmd(&b, 2, "b");
    tu_notif_value(&b, RS_MSG_RUN_DONE, 2, "B");
    v.content.data = (uint8_t *)"A+B";
    v.content.len = 3;
    m.result_case = RESTATE__OUTPUT_COMMAND_MESSAGE__RESULT_VALUE;
    m.value = &v;
    tu_append_msg(&b, RS_MSG_OUTPUT, &m.base);
    out = attempt("two", "svc", &b, 0, NULL, RS_OUTCOME_COMPLETED, end_only, 1,
                  f, &len);
    free(out);
}

/* --- registry, manifest, content types ------------------------------- */

static int noop(rs_ctx *ctx, void *arg)
{
    (void)ctx;
    (void)arg;
    return RS_OK;
}

static void test_registry_rules(void **state)
{
    rs_registry *reg = rs_registry_new();

    (void)state;
    assert_int_equal(rs_registry_add_service(reg, "RestateX", RS_SERVICE), -1);
    assert_non_null(strstr(rs_registry_error(reg), "reserved"));
    assert_int_equal(rs_registry_add_service(reg, "9lives", RS_SERVICE), -1);
    assert_int_equal(rs_registry_add_service(reg, "ok.svc-1", RS_SERVICE), 0);
    assert_int_equal(rs_registry_add_service(reg, "ok.svc-1", RS_SERVICE), -1);
    assert_int_equal(rs_registry_add_handler(reg, "ok.svc-1", "bad-name",
                                             RS_HANDLER_DEFAULT, noop, NULL),
                     -1);
    assert_int_equal(rs_registry_add_handler(reg, "ok.svc-1", "h",
                                             RS_HANDLER_EXCLUSIVE, noop, NULL),
                     -1);
    assert_int_equal(rs_registry_add_service(reg, "flow", RS_WORKFLOW), 0);
    assert_int_equal(rs_registry_add_handler(reg, "flow", "run",
                                             RS_HANDLER_WORKFLOW, noop, NULL),
                     0);
    assert_int_equal(rs_registry_add_handler(reg, "flow", "run2",
                                             RS_HANDLER_WORKFLOW, noop, NULL),
                     -1);
    assert_true(rs_registry_has(reg, "flow", "run"));
    assert_false(rs_registry_has(reg, "flow", "nope"));
    assert_null(rs_session_new(reg, "flow", "nope", 6, NULL));
    assert_null(rs_session_new(reg, "flow", "run", 7, NULL));
    rs_registry_free(reg);
}

static void test_manifest(void **state)
{
    rs_registry *reg = registry();
    const char *ct = NULL;
    int version = 0;
    char *text;
    cJSON *root, *svc, *h;

    (void)state;
    assert_int_equal(rs_manifest_negotiate(
                         "application/vnd.restate.endpointmanifest.v1+json, "
                         "application/vnd.restate.endpointmanifest.v2+json, "
                         "application/vnd.restate.endpointmanifest.v3+json, "
                         "application/vnd.restate.endpointmanifest.v4+json",
                         &version, &ct),
                     0);
    assert_int_equal(version, 4);
    assert_string_equal(ct, "application/vnd.restate.endpointmanifest.v4+json");
    assert_int_equal(rs_manifest_negotiate(
                         "application/vnd.restate.endpointmanifest.v2+json;"
                         "q=0.5,application/vnd.restate.endpointmanifest.v9+"
                         "json",
                         &version, &ct),
                     0);
    assert_int_equal(version, 2);
    assert_int_equal(rs_manifest_negotiate("*/*", &version, &ct), -1);
    assert_int_equal(rs_manifest_negotiate(NULL, &version, &ct), -1);

    text = rs_manifest_json(reg, 4, RS_MODE_REQUEST_RESPONSE);
    assert_non_null(text);
    root = cJSON_Parse(text);
    assert_non_null(root);
    assert_string_equal(cJSON_GetObjectItem(root, "protocolMode")->valuestring,
                        "REQUEST_RESPONSE");
    assert_int_equal(cJSON_GetObjectItem(root, "minProtocolVersion")->valueint,
                     5);
    assert_int_equal(cJSON_GetObjectItem(root, "maxProtocolVersion")->valueint,
                     6);
    svc = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "services"), 1);
    assert_string_equal(cJSON_GetObjectItem(svc, "name")->valuestring, "obj");
    assert_string_equal(cJSON_GetObjectItem(svc, "ty")->valuestring,
                        "VIRTUAL_OBJECT");
    h = cJSON_GetArrayItem(cJSON_GetObjectItem(svc, "handlers"), 1);
    assert_string_equal(cJSON_GetObjectItem(h, "ty")->valuestring, "SHARED");
    cJSON_Delete(root);
    free(text);
    assert_null(rs_manifest_json(reg, 5, RS_MODE_REQUEST_RESPONSE));
    rs_registry_free(reg);

    reg = rs_registry_new();
    assert_int_equal(rs_registry_add_service(reg, "wf", RS_WORKFLOW), 0);
    assert_int_equal(rs_registry_add_handler(reg, "wf", "run",
                                             RS_HANDLER_WORKFLOW, noop, NULL),
                     0);
    text = rs_manifest_json(reg, 1, RS_MODE_REQUEST_RESPONSE);
    assert_non_null(strstr(text, "\"name\":\"run\",\"ty\":\"WORKFLOW\""));
    free(text);
    rs_registry_free(reg);

    assert_int_equal(
        rs_protocol_version("application/vnd.restate.invocation.v6"), 6);
    assert_int_equal(
        rs_protocol_version("application/vnd.restate.invocation.v5"), 5);
    assert_int_equal(
        rs_protocol_version("application/vnd.restate.invocation.v7"), 0);
    assert_int_equal(rs_protocol_version("application/json"), 0);
    assert_int_equal(rs_protocol_version(NULL), 0);
    assert_string_equal(rs_protocol_content_type(6),
                        "application/vnd.restate.invocation.v6");
    assert_null(rs_protocol_content_type(4));
}

/* --- many sessions at once -------------------------------------------- */

struct thread_job {
    const rs_registry *reg;
    const uint8_t *body;
    size_t len;
    const uint8_t *want;
    size_t want_len;
    int mismatches;
};

static void *thread_main(void *arg)
{
    struct thread_job *job = arg;
    int i;

    for (i = 0; i < 200; i++) {
        rs_session *s = rs_session_new(job->reg, "svc", "two", 6, NULL);
        rs_bytes out;

        if (s == NULL || rs_session_feed(s, job->body, job->len) != 0 ||
            rs_session_run(s, NULL, NULL) != RS_OUTCOME_COMPLETED) {
            job->mismatches++;
            rs_session_free(s);
            continue;
        }
        out = rs_session_output(s);
        if (out.len != job->want_len ||
            memcmp(out.data, job->want, out.len) != 0)
            job->mismatches++;
        rs_session_free(s);
    }
    return NULL;
}

static void test_concurrent_sessions(void **state)
{
    rs_registry *reg = registry();
    struct thread_job jobs[8];
    pthread_t threads[8];
    tu_buf b = {0};
    rs_outcome o;
    uint8_t *want;
    size_t want_len;
    int i;

    (void)state;
    tu_start(&b, 5, NULL, 1, 0);
    tu_input(&b, "{}");
    tu_run_cmd(&b, 1, "a");
    tu_notif_value(&b, RS_MSG_RUN_DONE, 1, "A");
    tu_run_cmd(&b, 2, "b");
    tu_notif_value(&b, RS_MSG_RUN_DONE, 2, "B");
    want = tu_attempt(reg, "svc", "two", b.data, b.len, 0, NULL, &o, &want_len);
    assert_int_equal(o, RS_OUTCOME_COMPLETED);
    for (i = 0; i < 8; i++) {
        jobs[i] = (struct thread_job){reg, b.data, b.len, want, want_len, 0};
        assert_int_equal(
            pthread_create(&threads[i], NULL, thread_main, &jobs[i]), 0);
    }
    for (i = 0; i < 8; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(jobs[i].mismatches, 0);
    }
    free(want);
    free(b.data);
    rs_registry_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_runs),
        cmocka_unit_test(test_chunked_feeding),
        cmocka_unit_test(test_mismatch_570),
        cmocka_unit_test(test_unawaited_notification),
        cmocka_unit_test(test_call_and_cancel),
        cmocka_unit_test(test_send_with_delay),
        cmocka_unit_test(test_run_retry_bounded),
        cmocka_unit_test(test_state_eager_and_lazy),
        cmocka_unit_test(test_oversized_message),
        cmocka_unit_test(test_truncated_input),
        cmocka_unit_test(test_careless_handler),
        cmocka_unit_test(test_output_replayed),
        cmocka_unit_test(test_registry_rules),
        cmocka_unit_test(test_manifest),
        cmocka_unit_test(test_concurrent_sessions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
