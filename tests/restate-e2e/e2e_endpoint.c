/*
 * e2e_endpoint.c - test services for the end-to-end runs against a real
 * restate-server.
 *
 * Usage: e2e_endpoint LISTEN (e.g. 127.0.0.1:9080)
 * Environment:
 *   E2E_COUNT_DIR      directory for side-effect execution counters
 *                      (required): each run function appends one line to
 *                      <name>.started when it begins and to <name>.done
 *                      when it has its result;
 *   E2E_STEP_DELAY_MS  how long each stage step sleeps (default 0).
 *
 * Services:
 *   stage/process      {"item","tag"}: runs "validate" and "enrich", then
 *                      returns {"item","validated","enriched"}.
 *   wf/run (workflow)  sets state started, calls stage/process for a, b, c,
 *                      sets state done, returns {"key","results":[...]}.
 *   wf/getState        the "state" value, or null.
 *   api/submit         {"key","order"}: one-way send to wf/run with that
 *                      key; returns the workflow's invocation id.
 *   flaky/go           {"tag"}: run "call-external" fails retryably on its
 *                      first two executions and succeeds on the third.
 *   bad/go             any input: terminal failure 400 "bad input: <in>".
 *   bench/noop         returns its input (or null).
 *   benchwf/run        workflow with three trivial runs.
 *
 * Stops on SIGTERM or SIGINT.
 */
#include "common/log.h"
#include "http/endpoint.h"
#include "http/restate_app.h"
#include "restate/restate.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TAG      "e2e"
#define NAME_LEN 64

static const char *count_dir;
static unsigned step_delay_ms;

/* ---- helpers ----------------------------------------------------------- */

/* Names used in counter files: [A-Za-z0-9_-]{1,NAME_LEN-1}. */
static int safe_name(const char *s)
{
    size_t n = 0;

    if (s == NULL || *s == '\0')
        return 0;
    for (; *s != '\0'; s++, n++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return 0;
    }
    return n < NAME_LEN;
}

/*
 * Append a line to <count_dir>/<name>.<suffix> and return how many lines
 * the file has now, or -1.
 */
static int count_append(const char *name, const char *suffix)
{
    char path[512], buf[4096];
    ssize_t got;
    int fd, lines = 0;

    snprintf(path, sizeof(path), "%s/%s.%s", count_dir, name, suffix);
    fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_error(TAG, "cannot open counter %s: %s", path, strerror(errno));
        return -1;
    }
    if (write(fd, "x\n", 2) != 2 || lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return -1;
    }
    while ((got = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < got; i++)
            lines += buf[i] == '\n';
    }
    close(fd);
    return lines;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Parse the input as a JSON object; NULL when it is not one. */
static cJSON *input_object(rs_ctx *ctx)
{
    rs_bytes in = rs_input(ctx);
    cJSON *obj = cJSON_ParseWithLength((const char *)in.data, in.len);

    if (obj != NULL && !cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

/* String member name of obj, or NULL. */
static const char *member(const cJSON *obj, const char *name)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(m) ? m->valuestring : NULL;
}

/* Output a cJSON value (consumed). */
static rs_status output_json(rs_ctx *ctx, cJSON *value)
{
    char *text = cJSON_PrintUnformatted(value);
    rs_status st;

    cJSON_Delete(value);
    if (text == NULL)
        return rs_fail_retryable(ctx, 0, "out of memory printing JSON");
    st = rs_output(ctx, (rs_bytes){(const uint8_t *)text, strlen(text)});
    free(text);
    return st;
}

static rs_bytes text_bytes(const char *s)
{
    return (rs_bytes){(const uint8_t *)s, strlen(s)};
}

/* ---- stage/process ----------------------------------------------------- */

struct step {
    char counter[3 * NAME_LEN];
    const char *item;
    int enrich;
};

/* Side effect of a stage step: counted, slowed down, deterministic. */
static int run_step(void *arg, rs_run_result *result)
{
    struct step *st = arg;
    char out[256];
    int n;

    if (count_append(st->counter, "started") < 0)
        return rs_run_result_fail(result, RS_RETRY, 0, "cannot count %s",
                                  st->counter);
    sleep_ms(step_delay_ms);
    if (st->enrich)
        n = snprintf(out, sizeof(out), "\"%s-enriched\"", st->item);
    else
        n = snprintf(out, sizeof(out), "{\"item\":\"%s\",\"ok\":true}",
                     st->item);
    if (count_append(st->counter, "done") < 0)
        return rs_run_result_fail(result, RS_RETRY, 0, "cannot count %s",
                                  st->counter);
    return rs_run_result_append(result, out, (size_t)n) == 0 ? RS_OK : RS_RETRY;
}

static int stage_process(rs_ctx *ctx, void *arg)
{
    cJSON *in = input_object(ctx), *out;
    const char *item = member(in, "item"), *tag = member(in, "tag");
    struct step st = {.item = item};
    rs_bytes validated, enriched;
    rs_status rc;

    (void)arg;
    if (!safe_name(item) || (tag != NULL && !safe_name(tag))) {
        cJSON_Delete(in);
        return rs_fail_terminal(ctx, 400, "stage input needs a safe item");
    }

    snprintf(st.counter, sizeof(st.counter), "%s-%s-validate",
             tag != NULL ? tag : "none", item);
    rc = rs_run(ctx, "validate", run_step, &st, &validated);
    if (rc == RS_OK) {
        snprintf(st.counter, sizeof(st.counter), "%s-%s-enrich",
                 tag != NULL ? tag : "none", item);
        st.enrich = 1;
        rc = rs_run(ctx, "enrich", run_step, &st, &enriched);
    }
    if (rc != RS_OK) {
        cJSON_Delete(in);
        return rc;
    }

    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "item", item);
    cJSON_AddBoolToObject(out, "validated", validated.len > 0);
    cJSON_AddItemToObject(
        out, "enriched",
        cJSON_ParseWithLength((const char *)enriched.data, enriched.len));
    cJSON_Delete(in);
    return output_json(ctx, out);
}

/* ---- wf ---------------------------------------------------------------- */

static int wf_run(rs_ctx *ctx, void *arg)
{
    static const char *const items[] = {"a", "b", "c"};
    const char *key = rs_key(ctx);
    cJSON *results, *out;
    char input[256];

    (void)arg;
    if (!safe_name(key))
        return rs_fail_terminal(ctx, 400, "workflow key must be a safe name");
    RS_TRY(rs_set_state(ctx, "state",
                        text_bytes("{\"phase\":\"started\",\"done\":0}")));

    results = cJSON_CreateArray();
    for (size_t i = 0; i < 3; i++) {
        rs_bytes res;
        rs_status rc;

        snprintf(input, sizeof(input), "{\"item\":\"%s\",\"tag\":\"wf-%s\"}",
                 items[i], key);
        rc = rs_call(ctx, "stage", "process", NULL, text_bytes(input), &res);
        if (rc != RS_OK) {
            cJSON_Delete(results);
            return rc;
        }
        cJSON_AddItemToArray(
            results, cJSON_ParseWithLength((const char *)res.data, res.len));
    }

    RS_TRY(rs_set_state(ctx, "state",
                        text_bytes("{\"phase\":\"done\",\"done\":3}")));
    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "key", key);
    cJSON_AddItemToObject(out, "results", results);
    return output_json(ctx, out);
}

static int wf_get_state(rs_ctx *ctx, void *arg)
{
    rs_bytes value;
    int found = 0;

    (void)arg;
    RS_TRY(rs_get_state(ctx, "state", &value, &found));
    return rs_output(ctx, found ? value : text_bytes("null"));
}

/* ---- api/submit -------------------------------------------------------- */

static int api_submit(rs_ctx *ctx, void *arg)
{
    cJSON *in = input_object(ctx), *wf_in;
    const char *key = member(in, "key"), *order = member(in, "order");
    const char *inv_id = NULL;
    char *text;
    rs_status rc;

    (void)arg;
    if (!safe_name(key) || order == NULL) {
        cJSON_Delete(in);
        return rs_fail_terminal(ctx, 400, "submit needs key and order");
    }

    wf_in = cJSON_CreateObject();
    cJSON_AddStringToObject(wf_in, "order", order);
    text = cJSON_PrintUnformatted(wf_in);
    cJSON_Delete(wf_in);
    rc = rs_send(ctx, "wf", "run", key, text_bytes(text), 0, &inv_id);
    free(text);
    cJSON_Delete(in);
    if (rc != RS_OK)
        return rc;
    return output_json(ctx, cJSON_CreateString(inv_id));
}

/* ---- flaky/go and bad/go ------------------------------------------------ */

static int run_flaky(void *arg, rs_run_result *result)
{
    const char *counter = arg;
    char out[64];
    int n = count_append(counter, "started");

    if (n < 0)
        return rs_run_result_fail(result, RS_RETRY, 0, "cannot count");
    if (n < 3)
        return rs_run_result_fail(result, RS_RETRY, 0,
                                  "transient failure on execution %d", n);
    count_append(counter, "done");
    snprintf(out, sizeof(out), "{\"executions\":%d}", n);
    return rs_run_result_append(result, out, strlen(out)) == 0 ? RS_OK
                                                               : RS_RETRY;
}

static int flaky_go(rs_ctx *ctx, void *arg)
{
    cJSON *in = input_object(ctx);
    const char *tag = member(in, "tag");
    char counter[3 * NAME_LEN];
    rs_bytes res;

    (void)arg;
    if (!safe_name(tag)) {
        cJSON_Delete(in);
        return rs_fail_terminal(ctx, 400, "flaky needs a safe tag");
    }
    snprintf(counter, sizeof(counter), "%s-call-external", tag);
    cJSON_Delete(in);

    RS_TRY(rs_run(ctx, "call-external", run_flaky, counter, &res));
    return rs_output(ctx, res);
}

static int bad_go(rs_ctx *ctx, void *arg)
{
    rs_bytes in = rs_input(ctx);

    (void)arg;
    return rs_fail_terminal(ctx, 400, "bad input: %.*s", (int)in.len,
                            (const char *)in.data);
}

/* ---- benchmark handlers ------------------------------------------------ */

static int bench_noop(rs_ctx *ctx, void *arg)
{
    rs_bytes in = rs_input(ctx);

    (void)arg;
    return rs_output(ctx, in.len > 0 ? in : text_bytes("null"));
}

static int run_trivial(void *arg, rs_run_result *result)
{
    const char *step = arg;

    return rs_run_result_append(result, step, strlen(step)) == 0 ? RS_OK
                                                                 : RS_RETRY;
}

static int benchwf_run(rs_ctx *ctx, void *arg)
{
    static const char *const names[] = {"one", "two", "three"};
    static const char *const values[] = {"\"one\"", "\"two\"", "\"three\""};
    rs_bytes res;

    (void)arg;
    for (size_t i = 0; i < 3; i++)
        RS_TRY(rs_run(ctx, names[i], run_trivial, (void *)values[i], &res));
    return rs_output(ctx, res);
}

/* ---- main -------------------------------------------------------------- */

struct handler_def {
    const char *service;
    rs_service_kind skind;
    const char *name;
    rs_handler_kind hkind;
    rs_handler_fn fn;
};

static const struct handler_def handlers[] = {
    {"stage", RS_SERVICE, "process", RS_HANDLER_DEFAULT, stage_process},
    {"wf", RS_WORKFLOW, "run", RS_HANDLER_WORKFLOW, wf_run},
    {"wf", RS_WORKFLOW, "getState", RS_HANDLER_SHARED, wf_get_state},
    {"api", RS_SERVICE, "submit", RS_HANDLER_DEFAULT, api_submit},
    {"flaky", RS_SERVICE, "go", RS_HANDLER_DEFAULT, flaky_go},
    {"bad", RS_SERVICE, "go", RS_HANDLER_DEFAULT, bad_go},
    {"bench", RS_SERVICE, "noop", RS_HANDLER_DEFAULT, bench_noop},
    {"benchwf", RS_WORKFLOW, "run", RS_HANDLER_WORKFLOW, benchwf_run},
};

static rs_registry *build_registry(void)
{
    rs_registry *reg = rs_registry_new();
    const char *last = "";

    if (reg == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
        const struct handler_def *h = &handlers[i];

        if (strcmp(last, h->service) != 0 &&
            rs_registry_add_service(reg, h->service, h->skind) != 0)
            goto fail;
        last = h->service;
        if (rs_registry_add_handler(reg, h->service, h->name, h->hkind, h->fn,
                                    NULL) != 0)
            goto fail;
    }
    return reg;

fail:
    log_error(TAG, "registry: %s", rs_registry_error(reg));
    rs_registry_free(reg);
    return NULL;
}

static int wait_for_stop_signal(void)
{
    sigset_t set;
    int sig = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    return sigwait(&set, &sig) == 0 ? sig : -1;
}

int main(int argc, char **argv)
{
    struct core_http_restate binding;
    struct core_http_app app;
    struct core_http_endpoint *ep;
    const char *delay = getenv("E2E_STEP_DELAY_MS");
    const char *level = getenv("E2E_LOG_LEVEL");
    rs_registry *reg;
    sigset_t set;
    int sig;

    count_dir = getenv("E2E_COUNT_DIR");
    if (argc != 2 || count_dir == NULL) {
        fprintf(stderr, "usage: E2E_COUNT_DIR=DIR %s HOST:PORT\n", argv[0]);
        return 2;
    }
    step_delay_ms = delay != NULL ? (unsigned)strtoul(delay, NULL, 10) : 0;
    core_log_setup(level != NULL && core_log_level_parse(level) >= 0
                       ? (enum core_log_level)core_log_level_parse(level)
                       : CORE_LOG_INFO,
                   2);

    /* Block the stop signals before threads start so only sigwait sees
     * them. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    reg = build_registry();
    if (reg == NULL)
        return 1;
    core_http_restate_app(&binding, reg, NULL, &app);
    ep = core_http_start(argv[1], &app, NULL);
    if (ep == NULL) {
        rs_registry_free(reg);
        return 1;
    }

    sig = wait_for_stop_signal();
    log_info(TAG, "stopping on signal %d", sig);
    core_http_stop(ep);
    rs_registry_free(reg);
    return 0;
}
