/*
 * fuzz_restate.c - libFuzzer target for the restate frame decoder, the
 * message parser and the session (feed + replay + run).
 *
 * Input layout: byte 0 picks the handler (low 3 bits) and the feed chunk
 * size (high 5 bits, 0 = everything at once); the rest is a request body.
 * Besides memory errors (ASan/UBSan), the target checks the protocol's
 * output invariants and aborts when one breaks: the response is a clean
 * sequence of frames whose last frame, and only that one, is End,
 * Suspension or Error, and whose outcome agrees with that last frame.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "restate/internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static rs_registry *registry;

static rs_bytes bytes_of(const char *s)
{
    rs_bytes b = {(const uint8_t *)s, strlen(s)};

    return b;
}

/* A run function echoing its argument; odd-length arguments retry. */
static int echo_fn(void *arg, rs_run_result *r)
{
    const rs_bytes *in = arg;

    if (in->len % 7 == 3)
        return rs_run_result_fail(r, RS_RETRY, 0, "odd input");
    if (in->len % 11 == 5)
        return rs_run_result_fail(r, RS_TERMINAL, 400, "rejected");
    return rs_run_result_append(r, in->data, in->len) == 0 ? RS_OK : RS_RETRY;
}

static int stage_process(rs_ctx *ctx, void *arg)
{
    rs_bytes in = rs_input(ctx), a, b;

    (void)arg;
    RS_TRY(rs_run(ctx, "validate", echo_fn, &in, &a));
    RS_TRY(rs_run(ctx, "enrich", echo_fn, &a, &b));
    RS_TRY(rs_output(ctx, b));
    return RS_OK;
}

/*
 * "{\"item\":\"<item>\"," followed by the input minus its opening brace:
 * the parameter the captured workflow sends, so captured journals replay
 * past their calls.  Returns a malloc'd string or NULL.
 */
static char *item_param(rs_bytes input, char item)
{
    char *p = malloc(input.len + 16);

    if (p == NULL)
        return NULL;
    memcpy(p, "{\"item\":\"x\",", 12);
    p[9] = item;
    if (input.len > 1)
        memcpy(p + 12, input.data + 1, input.len - 1);
    p[input.len > 1 ? 12 + input.len - 1 : 12] = '\0';
    return p;
}

static int wf_run(rs_ctx *ctx, void *arg)
{
    rs_bytes out = {NULL, 0};
    rs_status st = RS_OK;
    int i;

    (void)arg;
    RS_TRY(rs_set_state(ctx, "state",
                        bytes_of("{\"phase\":\"started\",\"done\":0}")));
    for (i = 0; i < 3 && st == RS_OK; i++) {
        char *param = item_param(rs_input(ctx), (char)('a' + i));

        if (param == NULL)
            return rs_fail_retryable(ctx, 0, "out of memory");
        st = rs_call(ctx, "stage", "process", NULL, bytes_of(param), &out);
        free(param);
    }
    RS_TRY(st);
    RS_TRY(rs_clear_state(ctx, "other"));
    RS_TRY(rs_set_state(ctx, "state", out));
    RS_TRY(rs_output(ctx, out));
    return RS_OK;
}

static int wf_get_state(rs_ctx *ctx, void *arg)
{
    rs_bytes v;
    int found;

    (void)arg;
    RS_TRY(rs_get_state(ctx, "state", &v, &found));
    RS_TRY(rs_get_state(ctx, "other", &v, &found));
    RS_TRY(rs_output(ctx, found ? v : bytes_of("null")));
    return RS_OK;
}

/* The captured submit sends the input from its "order" member on. */
static rs_bytes order_part(rs_bytes input, char *scratch, size_t size)
{
    rs_bytes b = {NULL, 0};
    size_t n = input.len < size - 1 ? input.len : size - 1;
    char *at;

    if (n == 0)
        return input;
    memcpy(scratch, input.data, n);
    scratch[n] = '\0';
    at = strstr(scratch, ",\"order\"");
    if (at == NULL)
        return input;
    *at = '{';
    b.data = (const uint8_t *)at;
    b.len = n - (size_t)(at - scratch);
    return b;
}

static int api_submit(rs_ctx *ctx, void *arg)
{
    char scratch[512];
    rs_bytes param = order_part(rs_input(ctx), scratch, sizeof(scratch));
    const char *id = NULL;

    (void)arg;
    RS_TRY(rs_send(ctx, "wf", "run", "k3", param, 0, &id));
    RS_TRY(rs_send(ctx, "wf", "run", "k4", rs_input(ctx), 10, NULL));
    RS_TRY(rs_output(ctx, bytes_of(id)));
    return RS_OK;
}

static int obj_bump(rs_ctx *ctx, void *arg)
{
    rs_bytes v;
    int found;

    (void)arg;
    RS_TRY(rs_get_state(ctx, "n", &v, &found));
    RS_TRY(rs_clear_all_state(ctx));
    RS_TRY(rs_set_state(ctx, "n", found ? v : bytes_of("0")));
    return rs_fail_terminal(ctx, 409, "stop after %zu bytes", v.len);
}

static int bad_go(rs_ctx *ctx, void *arg)
{
    (void)arg;
    return rs_fail_retryable(ctx, 250, "always retry");
}

struct target {
    const char *service;
    const char *handler;
};

static const struct target targets[8] = {
    {"stage", "process"}, {"wf", "run"},   {"wf", "getState"},
    {"api", "submit"},    {"obj", "bump"}, {"bad", "go"},
    {"stage", "process"}, {"wf", "run"},
};

static void must(int rc)
{
    if (rc != 0) {
        fprintf(stderr, "fuzz setup failed: %s\n", rs_registry_error(registry));
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    core_log_setup(CORE_LOG_ERROR, 2);
    registry = rs_registry_new();
    must(registry == NULL);
    must(rs_registry_add_service(registry, "stage", RS_SERVICE));
    must(rs_registry_add_handler(registry, "stage", "process",
                                 RS_HANDLER_DEFAULT, stage_process, NULL));
    must(rs_registry_add_service(registry, "wf", RS_WORKFLOW));
    must(rs_registry_add_handler(registry, "wf", "run", RS_HANDLER_WORKFLOW,
                                 wf_run, NULL));
    must(rs_registry_add_handler(registry, "wf", "getState", RS_HANDLER_SHARED,
                                 wf_get_state, NULL));
    must(rs_registry_add_service(registry, "api", RS_SERVICE));
    must(rs_registry_add_handler(registry, "api", "submit", RS_HANDLER_DEFAULT,
                                 api_submit, NULL));
    must(rs_registry_add_service(registry, "obj", RS_VIRTUAL_OBJECT));
    must(rs_registry_add_handler(registry, "obj", "bump", RS_HANDLER_EXCLUSIVE,
                                 obj_bump, NULL));
    must(rs_registry_add_service(registry, "bad", RS_SERVICE));
    must(rs_registry_add_handler(registry, "bad", "go", RS_HANDLER_DEFAULT,
                                 bad_go, NULL));
    return 0;
}

static int is_terminal(uint16_t type)
{
    return type == RS_MSG_END || type == RS_MSG_SUSPENSION ||
           type == RS_MSG_ERROR;
}

/* Abort unless out is well-formed and agrees with outcome. */
static void check_output(rs_bytes out, rs_outcome outcome)
{
    size_t pos = 0;
    uint16_t last = 0xFFFF;

    while (pos < out.len) {
        const uint8_t *h = out.data + pos;
        uint32_t len;

        if (out.len - pos < 8 || is_terminal(last))
            abort();
        last = (uint16_t)(h[0] << 8 | h[1]);
        len = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 |
              (uint32_t)h[6] << 8 | h[7];
        if (out.len - pos - 8 < len || h[2] != 0 || h[3] != 0 ||
            rs_msg_descriptor(last) == NULL)
            abort();
        pos += 8 + len;
    }
    switch (outcome) {
    case RS_OUTCOME_COMPLETED:
    case RS_OUTCOME_FAILED:
        if (last != RS_MSG_END)
            abort();
        break;
    case RS_OUTCOME_SUSPENDED:
        if (last != RS_MSG_SUSPENSION)
            abort();
        break;
    case RS_OUTCOME_ERROR:
        if (last != RS_MSG_ERROR)
            abort();
        break;
    case RS_OUTCOME_IO:
        abort(); /* the buffer sink never fails */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct target *t;
    rs_session_config cfg;
    rs_outcome outcome;
    rs_session *s;
    size_t chunk, pos = 1;

    if (size < 1)
        return 0;
    t = &targets[data[0] & 7];
    chunk = data[0] >> 3;
    if (chunk == 0)
        chunk = size;
    rs_session_config_init(&cfg);
    cfg.max_message_size = 1u << 16;
    cfg.run_max_attempts = 3;
    s = rs_session_new(registry, t->service, t->handler, 5 + (data[0] & 1),
                       &cfg);
    if (s == NULL)
        abort();
    while (pos < size) {
        size_t n = size - pos < chunk ? size - pos : chunk;

        if (rs_session_feed(s, data + pos, n) != 0)
            break;
        pos += n;
    }
    outcome = rs_session_run(s, NULL, NULL);
    check_output(rs_session_output(s), outcome);
    rs_session_free(s);
    return 0;
}
