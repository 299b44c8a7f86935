/*
 * test_host_api.c - the real host API table end to end: a test stage is
 * loaded with options and run through stage_invoke() with the direct
 * environment, exercising options, JSON, the builder's sticky errors, run
 * blocks, the LLM hook, time, randomness and call scratch memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "common/log.h"
#include "stage/call.h"
#include "stage/stage.h"

#define PLUGIN(name) ABI_PLUGIN_DIR "/" name ".so"

struct fixture {
    struct cls_host *stage;
    struct stage_direct_env env;
};

static struct cls_host *load(const char *path, const char *kind,
                             const struct stage_raw_option *opts, size_t n,
                             cls_error *err)
{
    struct stage_spec spec = {
        .plugin_path = path,
        .plugin_dir = ABI_PLUGIN_DIR,
        .provider = strcmp(kind, "rules") == 0 ? "rules" : "test-provider",
        .provider_kind = kind,
        .options = opts,
        .n_options = n,
        .file = "test.conf",
        .line = 10,
        .options_line = 11,
    };

    return stage_load(&spec, 2, NULL, 0, err);
}

/* Run action on the fixture's stage; returns the status, *out the JSON. */
static cls_status invoke(struct fixture *f, const char *action, char **out,
                         cls_error *err)
{
    char input[256];

    snprintf(input, sizeof(input),
             "{\"action\":\"%s\",\"indicator\":{\"id\":\"i-1\",\"name\":"
             "\"GDP\",\"units\":\"USD\"},\"results\":{}}",
             action);
    return stage_invoke(f->stage, &f->env.env, "item-7", input, strlen(input),
                        out, err);
}

static int setup_rules(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    cls_error err = {0};

    f->stage = load(PLUGIN("probe"), "rules", NULL, 0, &err);
    if (f->stage == NULL) {
        fprintf(stderr, "%s\n", err.message);
        free(f);
        return -1;
    }
    stage_direct_env_init(&f->env, NULL, NULL, NULL, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    size_t leaked = stage_unref(f->stage);

    free(f);
    return leaked == 0 ? 0 : -1;
}

static void test_echo_copies_input(void **state)
{
    struct fixture *f = *state;
    cls_error err = {0};
    char *out = NULL;

    assert_int_equal(invoke(f, "echo", &out, &err), CLS_OK);
    assert_string_equal(
        out, "{\"echo\":{\"id\":\"i-1\",\"name\":\"GDP\",\"units\":\"USD\"}}");
    free(out);
}

static void test_default_options(void **state)
{
    struct fixture *f = *state;
    cls_error err = {0};
    char *out = NULL;

    assert_int_equal(invoke(f, "config", &out, &err), CLS_OK);
    assert_string_equal(out,
                        "{\"mode\":\"fast\",\"count\":3,\"threshold\":0."
                        "5,\"flag\":false,\"dir\":\"" ABI_PLUGIN_DIR "\"}");
    free(out);
}

static void test_stage_failure_message(void **state)
{
    struct fixture *f = *state;
    cls_error err = {0};
    char *out = NULL;

    assert_int_equal(invoke(f, "fail", &out, &err), CLS_FAIL);
    assert_null(out);
    assert_string_equal(err.message,
                        "stage probe 1.0.0: no family fits \"fail\"");

    assert_int_equal(invoke(f, "retry-silent", &out, &err), CLS_RETRY);
    assert_string_equal(err.message,
                        "stage probe 1.0.0 returned RETRY without a message");
}

static void test_builder_errors_fail_the_call(void **state)
{
    struct fixture *f = *state;
    cls_error err = {0};
    char *out = NULL;

    assert_int_equal(invoke(f, "misuse", &out, &err), CLS_FAIL);
    assert_string_equal(err.message, "stage probe 1.0.0: output builder: key "
                                     "\"key-in-array\" given inside an array");

    assert_int_equal(invoke(f, "unclosed", &out, &err), CLS_FAIL);
    assert_string_equal(err.message, "stage probe 1.0.0: output builder: 1 "
                                     "object(s) or array(s) left open");

    assert_int_equal(invoke(f, "bad-utf8", &out, &err), CLS_FAIL);
    assert_string_equal(err.message, "stage probe 1.0.0: output builder: "
                                     "value of \"bad\" is not valid UTF-8");
    assert_null(out);
}

static void test_bad_input(void **state)
{
    struct fixture *f = *state;
    cls_error err = {0};
    char *out = NULL;

    assert_int_equal(
        stage_invoke(f->stage, &f->env.env, NULL, "[1,2]", 5, &out, &err),
        CLS_FAIL);
    assert_string_equal(err.message, "stage probe: input is not a JSON object");
    assert_int_equal(
        stage_invoke(f->stage, &f->env.env, NULL, "{\"a\":", 5, &out, &err),
        CLS_FAIL);
    assert_string_equal(err.message,
                        "JSON parse: syntax error at byte offset 4");
}

static void test_run_block(void **state)
{
    struct fixture *f = *state;
    cls_error err = {0};
    char *out = NULL;

    assert_int_equal(invoke(f, "run", &out, &err), CLS_OK);
    assert_string_equal(out, "{\"run\":{\"answer\":42}}");
    free(out);
}

static void test_clock_random_scratch(void **state)
{
    struct fixture *f = *state;
    cls_error err = {0};
    char *out = NULL;

    assert_int_equal(invoke(f, "clock", &out, &err), CLS_OK);
    assert_string_equal(
        out, "{\"time_set\":true,\"random_differs\":true,\"item\":\"item-7\"}");
    free(out);

    assert_int_equal(invoke(f, "scratch", &out, &err), CLS_OK);
    assert_string_equal(out, "{\"scratch\":\"scratch\"}");
    free(out);
}

static void test_llm_with_rules_provider(void **state)
{
    struct fixture *f = *state;
    cls_error err = {0};
    char *out = NULL;

    assert_int_equal(invoke(f, "llm", &out, &err), CLS_FAIL);
    assert_string_equal(err.message,
                        "stage probe 1.0.0: llm_complete: stage probe is "
                        "configured with provider \"rules\"; no LLM is "
                        "available");
}

/* An LLM hook that answers from the call's arena. */
static cls_status fake_llm(void *arg, cls_call *call,
                           const cls_llm_request *req, cls_llm_reply *reply,
                           cls_error *err)
{
    const char *answer = arg;

    assert_string_equal(req->system_prompt, "system");
    assert_string_equal(stage_call_host(call)->provider, "test-provider");
    reply->object =
        core_json_parse(stage_call_arena(call), answer, strlen(answer), err);
    reply->model = "m-1";
    return reply->object ? CLS_OK : CLS_FAIL;
}

static void test_llm_through_environment(void **state)
{
    struct fixture f = {0};
    cls_error err = {0};
    char *out = NULL;

    (void)state;
    f.stage = load(PLUGIN("probe"), "openai", NULL, 0, &err);
    assert_non_null(f.stage);

    stage_direct_env_init(&f.env, NULL, NULL, NULL, NULL);
    assert_int_equal(invoke(&f, "llm", &out, &err), CLS_FAIL);
    assert_string_equal(err.message,
                        "stage probe 1.0.0: no LLM client configured");

    stage_direct_env_init(&f.env, fake_llm, "{\"ok\":true}", NULL, NULL);
    assert_int_equal(invoke(&f, "llm", &out, &err), CLS_OK);
    assert_string_equal(out, "{\"model\":\"m-1\",\"reply\":{\"ok\":true}}");
    free(out);
    assert_int_equal(stage_unref(f.stage), 0);
}

static void test_options_validated(void **state)
{
    struct stage_raw_option good[] = {
        {.key = "mode", .type = STAGE_RAW_STRING, .s = "slow", .line = 12},
        {.key = "count", .type = STAGE_RAW_INT, .i = 10, .line = 13},
        {.key = "threshold", .type = STAGE_RAW_INT, .i = 1, .line = 14},
        {.key = "flag", .type = STAGE_RAW_BOOL, .b = 1, .line = 15},
    };
    struct fixture f = {0};
    cls_error err = {0};
    char *out = NULL;

    (void)state;
    f.stage = load(PLUGIN("probe"), "rules", good, 4, &err);
    assert_non_null(f.stage);
    stage_direct_env_init(&f.env, NULL, NULL, NULL, NULL);
    assert_int_equal(invoke(&f, "config", &out, &err), CLS_OK);
    assert_string_equal(out, "{\"mode\":\"slow\",\"count\":10,\"threshold\":1,"
                             "\"flag\":true,\"dir\":\"" ABI_PLUGIN_DIR "\"}");
    free(out);
    assert_int_equal(stage_unref(f.stage), 0);
}

/* Load probe with one option and assert the exact refusal. */
static void assert_option_refused(struct stage_raw_option opt,
                                  const char *plugin, const char *want)
{
    cls_error err = {0};

    assert_null(
        load(plugin, "rules", opt.key ? &opt : NULL, opt.key ? 1 : 0, &err));
    assert_string_equal(err.message, want);
}

static void test_option_errors(void **state)
{
    (void)state;
    assert_option_refused(
        (struct stage_raw_option){
            .key = "colour", .type = STAGE_RAW_STRING, .s = "x", .line = 20},
        PLUGIN("probe"),
        "test.conf:20: stage probe: unknown option \"colour\" (accepted: "
        "mode, count, threshold, flag)");
    assert_option_refused(
        (struct stage_raw_option){
            .key = "count", .type = STAGE_RAW_FLOAT, .d = 2.5, .line = 21},
        PLUGIN("probe"),
        "test.conf:21: stage probe: option \"count\" must be an integer, not "
        "a floating-point number");
    assert_option_refused(
        (struct stage_raw_option){
            .key = "count", .type = STAGE_RAW_INT, .i = 11, .line = 22},
        PLUGIN("probe"),
        "test.conf:22: stage probe: option \"count\" is 11, outside [1, 10]");
    assert_option_refused(
        (struct stage_raw_option){
            .key = "flag", .type = STAGE_RAW_OTHER, .line = 23},
        PLUGIN("probe"),
        "test.conf:23: stage probe: option \"flag\" must be a boolean, not a "
        "group or list");
    assert_option_refused((struct stage_raw_option){0}, PLUGIN("required"),
                          "test.conf:11: stage strict: required option "
                          "\"must\" (a string) is missing");
}

#define THREADS 4
#define CALLS   200

/* Invoke echo CALLS times; returns the number of failed calls. */
static void *hammer(void *arg)
{
    struct fixture *f = arg;
    intptr_t failed = 0;
    int i;

    for (i = 0; i < CALLS; i++) {
        cls_error err = {0};
        char *out = NULL;

        if (invoke(f, i % 2 ? "echo" : "run", &out, &err) != CLS_OK)
            failed++;
        free(out);
    }
    return (void *)failed;
}

static void test_calls_from_threads(void **state)
{
    struct fixture *f = *state;
    pthread_t t[THREADS];
    void *failed;
    int i;

    for (i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, f), 0);
    for (i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], &failed), 0);
        assert_int_equal((intptr_t)failed, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_echo_copies_input, setup_rules,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_default_options, setup_rules,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stage_failure_message, setup_rules,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_builder_errors_fail_the_call,
                                        setup_rules, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup_rules, teardown),
        cmocka_unit_test_setup_teardown(test_run_block, setup_rules, teardown),
        cmocka_unit_test_setup_teardown(test_clock_random_scratch, setup_rules,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_llm_with_rules_provider,
                                        setup_rules, teardown),
        cmocka_unit_test_setup_teardown(test_calls_from_threads, setup_rules,
                                        teardown),
        cmocka_unit_test(test_llm_through_environment),
        cmocka_unit_test(test_options_validated),
        cmocka_unit_test(test_option_errors),
    };

    core_log_setup(CORE_LOG_WARN, 2);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
