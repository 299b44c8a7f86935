/*
 * test_captures.c - the captured scenarios replayed through this library.
 *
 * The reference handlers of the captures are written again in C below.
 * Every captured request body is fed to a session (whole, and one byte at
 * a time) and the response must equal the captured response byte for
 * byte, except ErrorMessage frames, whose free text differs (stack
 * traces): there code and related command fields must match and our
 * message must contain the reference message.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "tutil.h"

#define MAX_FRAMES 256

/* Which execution of the flaky run function the current exchange is. */
static int flaky_execution;

static rs_bytes str_bytes(const char *s)
{
    rs_bytes b = {(const uint8_t *)s, strlen(s)};

    return b;
}

/* A JSON member of a byte payload as a malloc'd JSON text, or NULL. */
static char *json_member(rs_bytes doc, const char *name)
{
    cJSON *root = cJSON_ParseWithLength((const char *)doc.data, doc.len);
    cJSON *m = cJSON_GetObjectItemCaseSensitive(root, name);
    char *text = m ? cJSON_PrintUnformatted(m) : NULL;

    cJSON_Delete(root);
    return text;
}

/* --- stage/process --------------------------------------------------- */

struct stage_args {
    const char *item_json; /* JSON string */
    rs_bytes validated;
};

static int validate_fn(void *arg, rs_run_result *r)
{
    const struct stage_args *a = arg;
    char buf[256];

    snprintf(buf, sizeof(buf), "{\"item\":%s,\"ok\":true}", a->item_json);
    return rs_run_result_append(r, buf, strlen(buf)) == 0 ? RS_OK : RS_RETRY;
}

static int enrich_fn(void *arg, rs_run_result *r)
{
    const struct stage_args *a = arg;
    char *item = json_member(a->validated, "item");
    char buf[256];
    size_t n;

    assert_non_null(item);
    n = strlen(item);
    /* item is a JSON string: drop its closing quote, append -enriched" */
    snprintf(buf, sizeof(buf), "%.*s-enriched\"", (int)(n - 1), item);
    free(item);
    return rs_run_result_append(r, buf, strlen(buf)) == 0 ? RS_OK : RS_RETRY;
}

static int stage_process(rs_ctx *ctx, void *arg)
{
    struct stage_args a;
    rs_bytes enriched;
    char *item, *ok, out[512];
    rs_status st;

    (void)arg;
    item = json_member(rs_input(ctx), "item");
    assert_non_null(item);
    a.item_json = item;
    st = rs_run(ctx, "validate", validate_fn, &a, &a.validated);
    if (st == RS_OK)
        st = rs_run(ctx, "enrich", enrich_fn, &a, &enriched);
    if (st != RS_OK) {
        free(item);
        return st;
    }
    ok = json_member(a.validated, "ok");
    snprintf(out, sizeof(out),
             "{\"item\":%s,\"validated\":%s,\"enriched\":%.*s}", item, ok,
             (int)enriched.len, (const char *)enriched.data);
    free(item);
    free(ok);
    RS_TRY(rs_output(ctx, str_bytes(out)));
    return RS_OK;
}

/* --- wf/run, wf/getState ------------------------------------------- */

static int wf_run(rs_ctx *ctx, void *arg)
{
    static const char *const items[] = {"a", "b", "c"};
    char *order = json_member(rs_input(ctx), "order");
    char param[256], out[2048];
    size_t used;
    int i;

    (void)arg;
    assert_non_null(order);
    RS_TRY(rs_set_state(ctx, "state",
                        str_bytes("{\"phase\":\"started\",\"done\":0}")));
    used = (size_t)snprintf(out, sizeof(out), "{\"key\":\"%s\",\"results\":[",
                            rs_key(ctx));
    for (i = 0; i < 3; i++) {
        rs_bytes result;
        rs_status st;

        snprintf(param, sizeof(param), "{\"item\":\"%s\",\"order\":%s}",
                 items[i], order);
        st = rs_call(ctx, "stage", "process", NULL, str_bytes(param), &result);
        if (st != RS_OK) {
            free(order);
            return st;
        }
        used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%.*s",
                                 i ? "," : "", (int)result.len,
                                 (const char *)result.data);
    }
    free(order);
    snprintf(out + used, sizeof(out) - used, "]}");
    RS_TRY(rs_set_state(ctx, "state",
                        str_bytes("{\"phase\":\"done\",\"done\":3}")));
    RS_TRY(rs_output(ctx, str_bytes(out)));
    return RS_OK;
}

static int wf_get_state(rs_ctx *ctx, void *arg)
{
    rs_bytes value;
    int found;

    (void)arg;
    RS_TRY(rs_get_state(ctx, "state", &value, &found));
    RS_TRY(rs_output(ctx, found ? value : str_bytes("null")));
    return RS_OK;
}

/* --- api/submit, flaky/go, bad/go ----------------------------------- */

static int api_submit(rs_ctx *ctx, void *arg)
{
    char *key = json_member(rs_input(ctx), "key");
    char *order = json_member(rs_input(ctx), "order");
    char param[256], wf_key[128], out[256];
    const char *id = NULL;
    rs_status st;

    (void)arg;
    assert_non_null(key);
    assert_non_null(order);
    snprintf(param, sizeof(param), "{\"order\":%s}", order);
    snprintf(wf_key, sizeof(wf_key), "%.*s", (int)strlen(key) - 2, key + 1);
    free(key);
    free(order);
    st = rs_send(ctx, "wf", "run", wf_key, str_bytes(param), 0, &id);
    if (st != RS_OK)
        return st;
    snprintf(out, sizeof(out), "\"%s\"", id);
    RS_TRY(rs_output(ctx, str_bytes(out)));
    return RS_OK;
}

static int flaky_fn(void *arg, rs_run_result *r)
{
    const rs_bytes *input = arg;
    char buf[256];

    if (flaky_execution < 3)
        return rs_run_result_fail(r, RS_RETRY, 0,
                                  "transient failure on execution %d",
                                  flaky_execution);
    snprintf(buf, sizeof(buf), "{\"executions\":3,\"input\":%.*s}",
             (int)input->len, (const char *)input->data);
    return rs_run_result_append(r, buf, strlen(buf)) == 0 ? RS_OK : RS_RETRY;
}

static int flaky_go(rs_ctx *ctx, void *arg)
{
    rs_bytes input = rs_input(ctx), result;

    (void)arg;
    RS_TRY(rs_run(ctx, "call-external", flaky_fn, &input, &result));
    RS_TRY(rs_output(ctx, result));
    return RS_OK;
}

static int bad_go(rs_ctx *ctx, void *arg)
{
    (void)ctx;
    (void)arg;
    return rs_fail_terminal(ctx, 500, "bad input: x");
}

static rs_registry *reference_registry(void)
{
    rs_registry *reg = rs_registry_new();

    assert_non_null(reg);
    assert_int_equal(rs_registry_add_service(reg, "stage", RS_SERVICE), 0);
    assert_int_equal(rs_registry_add_handler(reg, "stage", "process",
                                             RS_HANDLER_DEFAULT, stage_process,
                                             NULL),
                     0);
    assert_int_equal(rs_registry_add_service(reg, "wf", RS_WORKFLOW), 0);
    assert_int_equal(rs_registry_add_handler(reg, "wf", "run",
                                             RS_HANDLER_WORKFLOW, wf_run, NULL),
                     0);
    assert_int_equal(rs_registry_add_handler(reg, "wf", "getState",
                                             RS_HANDLER_SHARED, wf_get_state,
                                             NULL),
                     0);
    assert_int_equal(rs_registry_add_service(reg, "api", RS_SERVICE), 0);
    assert_int_equal(rs_registry_add_handler(reg, "api", "submit",
                                             RS_HANDLER_DEFAULT, api_submit,
                                             NULL),
                     0);
    assert_int_equal(rs_registry_add_service(reg, "flaky", RS_SERVICE), 0);
    assert_int_equal(rs_registry_add_handler(reg, "flaky", "go",
                                             RS_HANDLER_DEFAULT, flaky_go,
                                             NULL),
                     0);
    assert_int_equal(rs_registry_add_service(reg, "bad", RS_SERVICE), 0);
    assert_int_equal(rs_registry_add_handler(reg, "bad", "go",
                                             RS_HANDLER_DEFAULT, bad_go, NULL),
                     0);
    return reg;
}

/* --- comparison ------------------------------------------------------ */

static void compare_error(const char *what, const tu_frame *want,
                          const tu_frame *got)
{
    Restate__ErrorMessage *w, *g;

    w = restate__error_message__unpack(NULL, want->len, want->payload);
    g = restate__error_message__unpack(NULL, got->len, got->payload);
    assert_non_null(w);
    assert_non_null(g);
    if (g->code != w->code || strstr(g->message, w->message) == NULL ||
        g->opt_related_command_index_case !=
            w->opt_related_command_index_case ||
        g->related_command_index != w->related_command_index ||
        g->related_command_type != w->related_command_type ||
        strcmp(g->related_command_name, w->related_command_name) != 0)
        fail_msg("%s: error differs: got %u '%s' idx %u type 0x%x '%s', "
                 "want %u '%s' idx %u type 0x%x '%s'",
                 what, g->code, g->message, g->related_command_index,
                 g->related_command_type, g->related_command_name, w->code,
                 w->message, w->related_command_index, w->related_command_type,
                 w->related_command_name);
    assert_int_equal(
        g->opt_next_retry_delay_case,
        RESTATE__ERROR_MESSAGE__OPT_NEXT_RETRY_DELAY_NEXT_RETRY_DELAY);
    restate__error_message__free_unpacked(w, NULL);
    restate__error_message__free_unpacked(g, NULL);
}

static void compare_response(const char *what, const uint8_t *want,
                             size_t want_len, const uint8_t *got,
                             size_t got_len)
{
    static tu_frame wf[MAX_FRAMES], gf[MAX_FRAMES];
    int nw = tu_split(want, want_len, wf, MAX_FRAMES);
    int ng = tu_split(got, got_len, gf, MAX_FRAMES), i;

    assert_true(nw > 0);
    if (ng != nw)
        fail_msg("%s: %d frames, want %d", what, ng, nw);
    for (i = 0; i < nw; i++) {
        if (gf[i].type != wf[i].type)
            fail_msg("%s frame %d: %s, want %s", what, i,
                     rs_msg_name(gf[i].type), rs_msg_name(wf[i].type));
        if (wf[i].type == RS_MSG_ERROR) {
            compare_error(what, &wf[i], &gf[i]);
            continue;
        }
        if (gf[i].len != wf[i].len ||
            memcmp(gf[i].payload, wf[i].payload, wf[i].len) != 0)
            fail_msg("%s frame %d (%s) differs from the capture", what, i,
                     rs_msg_name(wf[i].type));
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replay every exchange of a scenario folder; returns how many ran. */
static int replay_scenario(const char *dir, size_t chunk)
{
    char path[1024], *names[64];
    rs_registry *reg = reference_registry();
    struct dirent *e;
    int n = 0, i;
    DIR *d;

    snprintf(path, sizeof(path), "%s/%s", RS_VECTOR_DIR, dir);
    d = opendir(path);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL && n < 64)
        if (strstr(e->d_name, ".request.bin") != NULL)
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof(names[0]), by_name);
    for (i = 0; i < n; i++) {
        char rel[600], svc[64], handler[64], what[700];
        size_t req_len, resp_len, got_len;
        uint8_t *req, *resp, *got;
        rs_outcome outcome;

        assert_int_equal(sscanf(names[i], "%*d-%63[^-]-%63[^.]", svc, handler),
                         2);
        flaky_execution = i + 1;
        snprintf(rel, sizeof(rel), "%s/%s", dir, names[i]);
        req = tu_read_vector(rel, &req_len);
        strcpy(strstr(rel, ".request.bin"), ".response.bin");
        resp = tu_read_vector(rel, &resp_len);
        got = tu_attempt(reg, svc, handler, req, req_len, chunk, NULL, &outcome,
                         &got_len);
        snprintf(what, sizeof(what), "%s (chunk %zu)", rel, chunk);
        compare_response(what, resp, resp_len, got, got_len);
        free(req);
        free(resp);
        free(got);
        free(names[i]);
    }
    rs_registry_free(reg);
    return n;
}

static void test_stage(void **state)
{
    (void)state;
    assert_int_equal(replay_scenario("1-stage", 0), 3);
    assert_int_equal(replay_scenario("1-stage", 1), 3);
}

static void test_workflow(void **state)
{
    (void)state;
    assert_int_equal(replay_scenario("2-wf", 0), 15);
    assert_int_equal(replay_scenario("2-wf", 1), 15);
}

static void test_api_submit(void **state)
{
    (void)state;
    assert_int_equal(replay_scenario("3-api-submit", 0), 17);
    assert_int_equal(replay_scenario("3-api-submit", 7), 17);
}

static void test_flaky(void **state)
{
    (void)state;
    assert_int_equal(replay_scenario("4-flaky", 0), 4);
}

static void test_bad(void **state)
{
    (void)state;
    assert_int_equal(replay_scenario("5-bad", 0), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stage),      cmocka_unit_test(test_workflow),
        cmocka_unit_test(test_api_submit), cmocka_unit_test(test_flaky),
        cmocka_unit_test(test_bad),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
