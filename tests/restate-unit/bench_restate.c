/*
 * bench_restate.c - throughput of request/response attempts (not a test).
 *
 * Replays a hand-made workflow journal (input, set state, six completed
 * calls) through a session, on 1 and on N threads, and prints attempts per
 * second and the time of one attempt.  Usage: bench_restate [iterations]
 * [threads].
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "restate/internal.h"

#define CALLS 6

static rs_bytes bytes_of(const char *s)
{
    rs_bytes b = {(const uint8_t *)s, strlen(s)};

    return b;
}

static int flow(rs_ctx *ctx, void *arg)
{
    rs_bytes out = {NULL, 0};
    int i;

    (void)arg;
    RS_TRY(rs_set_state(ctx, "state", bytes_of("{\"phase\":\"started\"}")));
    for (i = 0; i < CALLS; i++)
        RS_TRY(rs_call(ctx, "stage", "process", NULL, rs_input(ctx), &out));
    RS_TRY(rs_output(ctx, out));
    return RS_OK;
}

struct buf {
    uint8_t *data;
    size_t len;
};

static void put(struct buf *b, uint16_t type, const ProtobufCMessage *m)
{
    size_t len = 0;
    uint8_t *frame = rs_frame_encode(type, m, &len);

    b->data = realloc(b->data, b->len + len);
    if (frame == NULL || b->data == NULL) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    memcpy(b->data + b->len, frame, len);
    b->len += len;
    free(frame);
}

static void journal(struct buf *b)
{
    static char input[] = "{\"indicator\":\"gdp\",\"order\":\"o-1\"}";
    static char result[] = "{\"item\":\"a\",\"validated\":true}";
    Restate__StartMessage st = RESTATE__START_MESSAGE__INIT;
    Restate__InputCommandMessage in = RESTATE__INPUT_COMMAND_MESSAGE__INIT;
    Restate__SetStateCommandMessage set =
        RESTATE__SET_STATE_COMMAND_MESSAGE__INIT;
    Restate__Value v = RESTATE__VALUE__INIT, rv = RESTATE__VALUE__INIT;
    Restate__Value sv = RESTATE__VALUE__INIT;
    uint32_t i;

    st.debug_id = "inv_1bench";
    st.key = "k1";
    st.known_entries = 2 + 3 * CALLS;
    put(b, RS_MSG_START, &st.base);
    v.content.data = (uint8_t *)input;
    v.content.len = strlen(input);
    in.value = &v;
    put(b, RS_MSG_INPUT, &in.base);
    set.key.data = (uint8_t *)"state";
    set.key.len = 5;
    sv.content.data = (uint8_t *)"{\"phase\":\"started\"}";
    sv.content.len = strlen((const char *)sv.content.data);
    set.value = &sv;
    set.name = "";
    put(b, RS_MSG_SET_STATE, &set.base);
    rv.content.data = (uint8_t *)result;
    rv.content.len = strlen(result);
    for (i = 0; i < CALLS; i++) {
        Restate__CallCommandMessage c = RESTATE__CALL_COMMAND_MESSAGE__INIT;
        Restate__NotificationTemplate id = RESTATE__NOTIFICATION_TEMPLATE__INIT;
        Restate__NotificationTemplate done =
            RESTATE__NOTIFICATION_TEMPLATE__INIT;

        c.service_name = "stage";
        c.handler_name = "process";
        c.parameter = v.content;
        c.invocation_id_notification_idx = 2 * i + 1;
        c.result_completion_id = 2 * i + 2;
        put(b, RS_MSG_CALL, &c.base);
        id.id_case = RESTATE__NOTIFICATION_TEMPLATE__ID_COMPLETION_ID;
        id.completion_id = 2 * i + 1;
        id.result_case = RESTATE__NOTIFICATION_TEMPLATE__RESULT_INVOCATION_ID;
        id.invocation_id = "inv_1callee";
        put(b, RS_MSG_CALL_INVOCATION_ID, &id.base);
        done.id_case = RESTATE__NOTIFICATION_TEMPLATE__ID_COMPLETION_ID;
        done.completion_id = 2 * i + 2;
        done.result_case = RESTATE__NOTIFICATION_TEMPLATE__RESULT_VALUE;
        done.value = &rv;
        put(b, RS_MSG_CALL_DONE, &done.base);
    }
}

struct job {
    const rs_registry *reg;
    const struct buf *body;
    long iterations;
    long failures;
};

static void *worker(void *arg)
{
    struct job *j = arg;
    long i;

    for (i = 0; i < j->iterations; i++) {
        rs_session *s = rs_session_new(j->reg, "wf", "run", 6, NULL);

        if (s == NULL || rs_session_feed(s, j->body->data, j->body->len) ||
            rs_session_run(s, NULL, NULL) != RS_OUTCOME_COMPLETED)
            j->failures++;
        rs_session_free(s);
    }
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run threads workers of iterations attempts each; returns seconds. */
static double measure(const rs_registry *reg, const struct buf *body,
                      long iterations, int threads)
{
    pthread_t tid[64];
    struct job jobs[64];
    double t0 = now_s();
    int i;

    for (i = 0; i < threads; i++) {
        jobs[i] = (struct job){reg, body, iterations, 0};
        if (pthread_create(&tid[i], NULL, worker, &jobs[i]) != 0)
            exit(1);
    }
    for (i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        if (jobs[i].failures) {
            fprintf(stderr, "bench: %ld attempts failed\n", jobs[i].failures);
            exit(1);
        }
    }
    return now_s() - t0;
}

int main(int argc, char **argv)
{
    long iterations = argc > 1 ? atol(argv[1]) : 20000;
    int threads = argc > 2 ? atoi(argv[2]) : 8;
    rs_registry *reg = rs_registry_new();
    struct buf body = {NULL, 0};
    double t;

    if (threads < 1 || threads > 64 || iterations < 1 || reg == NULL)
        return 2;
    core_log_setup(CORE_LOG_ERROR, 2);
    if (rs_registry_add_service(reg, "wf", RS_WORKFLOW) ||
        rs_registry_add_handler(reg, "wf", "run", RS_HANDLER_WORKFLOW, flow,
                                NULL))
        return 1;
    journal(&body);
    t = measure(reg, &body, iterations, 1);
    printf("journal %zu bytes, %d entries; 1 thread: %.0f attempts/s, "
           "%.1f us/attempt\n",
           body.len, 2 + 3 * CALLS, (double)iterations / t,
           t * 1e6 / (double)iterations);
    t = measure(reg, &body, iterations, threads);
    printf("%d threads: %.0f attempts/s\n", threads,
           (double)iterations * threads / t);
    free(body.data);
    rs_registry_free(reg);
    return 0;
}
