/*
 * test_client.c - the LLM client against the fake LLM server: reply
 * extraction and correction, refusals, confidence, the strict request,
 * HTTP error classes, 429 hints and the shared pause, timeouts,
 * truncation, usage accounting, and that the key never reaches the log.
 */
#define _GNU_SOURCE

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "common/log.h"
#include "fake_server.h"
#include "llm/llm.h"
#include "llm/llm_internal.h"

#define KEY_ENV   "CLASSIFY_TEST_LLM_KEY"
#define KEY_VALUE "sk-test-5ecret-DO-NOT-LOG-7f3a"

static const char family_schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"family\":{\"type\":\"string\",\"enum\":[\"price-value\","
    "\"physical-fundamental\",\"numeric-measurement\"]},"
    "\"confidence\":{\"type\":\"number\",\"minimum\":0,\"maximum\":1},"
    "\"reasoning\":{\"type\":\"string\"},"
    "\"details\":{\"type\":\"object\",\"properties\":{"
    "\"score\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":10}}}},"
    "\"required\":[\"family\",\"confidence\",\"reasoning\"]}";

static const char expected_object[] =
    "{\"family\":\"price-value\",\"confidence\":0.9,"
    "\"reasoning\":\"ratio of prices\"}";

/* JSON string literal of expected_object, for scripts. */
static const char expected_quoted[] =
    "{\\\"family\\\":\\\"price-value\\\",\\\"confidence\\\":0.9,"
    "\\\"reasoning\\\":\\\"ratio of prices\\\"}";

static const cls_llm_request family_request = {
    .struct_size = sizeof(cls_llm_request),
    .system_prompt = "You assign an economic indicator to a family.",
    .user_message = "Indicator: Consumer Price Index, units: points",
    .schema_name = "family",
    .response_schema = family_schema,
    .max_output_tokens = 200,
    .temperature = 0,
};

static struct llm_provider_settings settings_for(const struct fake_server *fs,
                                                 enum llm_kind kind)
{
    struct llm_provider_settings s = {
        .name = kind == LLM_KIND_ANTHROPIC ? "test-anthropic" : "test-openai",
        .kind = kind,
        .base_url = kind == LLM_KIND_ANTHROPIC ? fs->base_url : fs->openai_url,
        .model = "model-asked-for",
        .api_key_env = KEY_ENV,
        .timeout_ms = 5000,
        .total_budget_ms = 20000,
        .max_attempts = 3,
        .backoff_base_ms = 50,
        .backoff_max_ms = 200,
        .seed = 42,
    };

    return s;
}

static struct llm_provider *make(const struct llm_provider_settings *s)
{
    struct llm_provider *p = NULL;
    cls_error err = {0};

    assert_int_equal(llm_provider_create(s, &p, &err), CLS_OK);
    return p;
}

/* Start a server with script and a provider of kind on it. */
static struct llm_provider *setup(struct fake_server *fs, const char *script,
                                  enum llm_kind kind)
{
    struct llm_provider_settings s;

    assert_int_equal(fake_start(fs, script, NULL), 0);
    s = settings_for(fs, kind);
    return make(&s);
}

struct outcome {
    cls_status status;
    struct llm_result res;
    cls_error err;
    int64_t elapsed_ms;
};

static void call(struct llm_provider *p, const cls_llm_request *req,
                 struct outcome *o)
{
    int64_t t0 = llm_now_ms();

    memset(o, 0, sizeof(*o));
    o->status = llm_complete(p, req, &o->res, &o->err);
    o->elapsed_ms = llm_now_ms() - t0;
}

static void assert_object(const struct outcome *o, const char *expected)
{
    cJSON *want = cJSON_Parse(expected);

    assert_int_equal(o->status, CLS_OK);
    assert_int_equal(o->res.reason, LLM_OK);
    assert_true(cJSON_Compare(o->res.object, want, 1));
    cJSON_Delete(want);
}

static void assert_failed(const struct outcome *o, cls_status status,
                          enum llm_reason reason, uint32_t attempts)
{
    assert_int_equal(o->status, status);
    assert_int_equal(o->res.reason, reason);
    assert_int_equal(o->res.attempts, attempts);
    assert_null(o->res.object);
    assert_non_null(strstr(o->err.message, llm_reason_name(reason)));
}

/* The body of the n-th request the server saw (0-based); caller frees. */
static cJSON *request_body(const struct fake_server *fs, int n)
{
    cJSON *log = fake_get(fs, "/requests");
    cJSON *entry = cJSON_DetachItemFromArray(log, n);
    cJSON *body = cJSON_DetachItemFromObject(entry, "body");

    cJSON_Delete(entry);
    cJSON_Delete(log);
    assert_non_null(body);
    return body;
}

/* Fenced, bare-fenced, prose-wrapped and bash-fenced replies. */
static void test_fences_and_prose(void **state)
{
    char script[2048];
    struct fake_server fs;
    struct llm_provider *p;
    struct outcome o;
    int i;

    (void)state;
    snprintf(script, sizeof(script),
             "{\"responses\":["
             "{\"content\":\"```json\\n%s\\n```\"},"
             "{\"content\":\"```\\n%s\\n```\"},"
             "{\"content\":\"Here is the classification:\\n%s\\nLet me "
             "know if you need more.\"},"
             "{\"content\":\"First:\\n```bash\\necho {\\\"x\\\":1}\\n```\\n"
             "Answer: %s\"}]}",
             expected_quoted, expected_quoted, expected_quoted,
             expected_quoted);
    p = setup(&fs, script, LLM_KIND_OPENAI);
    for (i = 0; i < 4; i++) {
        call(p, &family_request, &o);
        assert_object(&o, expected_object);
        assert_int_equal(o.res.attempts, 1);
        llm_result_free(&o.res);
    }
    llm_provider_destroy(p);
    fake_stop(&fs);
}

/* Two candidate objects: one corrective retry, then failure. */
static void test_two_objects_corrective_retry(void **state)
{
    char script[2048], two[600];
    struct fake_server fs;
    struct llm_provider *p;
    struct outcome o;
    cJSON *body, *msgs;

    (void)state;
    snprintf(two, sizeof(two), "%s or %s", expected_quoted, expected_quoted);
    snprintf(script, sizeof(script),
             "{\"responses\":[{\"content\":\"%s\",\"repeat\":3},"
             "{\"content\":\"%s\"}]}",
             two, expected_quoted);
    p = setup(&fs, script, LLM_KIND_OPENAI);

    call(p, &family_request, &o);
    assert_failed(&o, CLS_FAIL, LLM_ERR_MALFORMED, 2);
    assert_non_null(strstr(o.err.message, "corrective retry"));
    llm_result_free(&o.res);

    body = request_body(&fs, 1);
    msgs = cJSON_GetObjectItem(body, "messages");
    assert_int_equal(cJSON_GetArraySize(msgs), 4);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 2), "role")->valuestring,
        "assistant");
    assert_non_null(
        strstr(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 3), "content")
                   ->valuestring,
               "candidate JSON objects"));
    cJSON_Delete(body);

    call(p, &family_request, &o);
    assert_object(&o, expected_object);
    assert_int_equal(o.res.attempts, 2);
    llm_result_free(&o.res);
    llm_provider_destroy(p);
    fake_stop(&fs);
}

/* Refusal and content filter end after at most one retry. */
static void test_refusal_terminal(void **state)
{
    static const char script[] =
        "{\"responses\":["
        "{\"body\":{\"choices\":[{\"finish_reason\":\"stop\",\"message\":"
        "{\"content\":null,\"refusal\":\"I can't help with that "
        "request.\"}}]},\"repeat\":2},"
        "{\"body\":{\"choices\":[{\"finish_reason\":\"content_filter\","
        "\"message\":{\"content\":\"\"}}]},\"repeat\":2},"
        "{\"content\":\"\",\"refusal\":\"no\",\"repeat\":2}]}";
    struct fake_server fs;
    struct llm_provider *p, *a;
    struct llm_provider_settings s;
    struct outcome o;

    (void)state;
    p = setup(&fs, script, LLM_KIND_OPENAI);
    call(p, &family_request, &o);
    assert_failed(&o, CLS_FAIL, LLM_ERR_REFUSED, 2);
    assert_string_equal(o.res.refusal, "I can't help with that request.");
    llm_result_free(&o.res);

    call(p, &family_request, &o);
    assert_failed(&o, CLS_FAIL, LLM_ERR_REFUSED, 2);
    llm_result_free(&o.res);

    s = settings_for(&fs, LLM_KIND_ANTHROPIC);
    a = make(&s);
    call(a, &family_request, &o);
    assert_failed(&o, CLS_FAIL, LLM_ERR_REFUSED, 2);
    llm_result_free(&o.res);
    assert_int_equal(fake_stat(&fs, "requests"), 6);
    llm_provider_destroy(a);
    llm_provider_destroy(p);
    fake_stop(&fs);
}

/* 0-100 confidence normalized; negative fails after one retry. */
static void test_confidence_scale_e2e(void **state)
{
    static const char script[] =
        "{\"responses\":["
        "{\"content\":\"{\\\"family\\\":\\\"price-value\\\","
        "\\\"confidence\\\":85,\\\"reasoning\\\":\\\"r\\\"}\"},"
        "{\"content\":\"{\\\"family\\\":\\\"price-value\\\","
        "\\\"confidence\\\":-0.95,\\\"reasoning\\\":\\\"r\\\"}\","
        "\"repeat\":2}]}";
    struct fake_server fs;
    struct llm_provider *p;
    struct outcome o;

    (void)state;
    p = setup(&fs, script, LLM_KIND_OPENAI);
    call(p, &family_request, &o);
    assert_object(&o, "{\"family\":\"price-value\",\"confidence\":0.85,"
                      "\"reasoning\":\"r\"}");
    llm_result_free(&o.res);

    call(p, &family_request, &o);
    assert_failed(&o, CLS_FAIL, LLM_ERR_INVALID, 2);
    assert_non_null(strstr(o.err.message, "confidence"));
    llm_result_free(&o.res);
    llm_provider_destroy(p);
    fake_stop(&fs);
}

static void assert_strict(const cJSON *s)
{
    const cJSON *props = cJSON_GetObjectItem(s, "properties"), *q;

    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(s, "additionalProperties")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(s, "required")),
                     cJSON_GetArraySize(props));
    cJSON_ArrayForEach(q, props)
    {
        assert_null(cJSON_GetObjectItem(q, "minimum"));
        assert_null(cJSON_GetObjectItem(q, "maximum"));
        if (cJSON_GetObjectItem(q, "properties") != NULL)
            assert_strict(q);
    }
}

/* The strict request shape; a 400 about the schema is terminal. */
static void test_strict_request_shape(void **state)
{
    static const char script[] =
        "{\"responses\":[{\"classify\":true},"
        "{\"status\":400,\"body\":{\"error\":{\"type\":"
        "\"invalid_request_error\",\"message\":\"Invalid schema for "
        "response_format 'family'\"}}}]}";
    struct fake_server fs;
    struct llm_provider *p;
    struct outcome o;
    cJSON *body, *fmt, *log;
    char auth[128];

    (void)state;
    p = setup(&fs, script, LLM_KIND_OPENAI);
    call(p, &family_request, &o);
    assert_int_equal(o.status, CLS_OK);
    llm_result_free(&o.res);

    body = request_body(&fs, 0);
    fmt = cJSON_GetObjectItem(body, "response_format");
    assert_string_equal(cJSON_GetObjectItem(fmt, "type")->valuestring,
                        "json_schema");
    fmt = cJSON_GetObjectItem(fmt, "json_schema");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(fmt, "strict")));
    assert_string_equal(cJSON_GetObjectItem(fmt, "name")->valuestring,
                        "family");
    assert_strict(cJSON_GetObjectItem(fmt, "schema"));
    assert_string_equal(cJSON_GetObjectItem(body, "model")->valuestring,
                        "model-asked-for");
    cJSON_Delete(body);
    log = fake_get(&fs, "/requests");
    snprintf(auth, sizeof(auth), "Bearer %s", KEY_VALUE);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(log, 0), "auth")->valuestring,
        auth);
    cJSON_Delete(log);

    call(p, &family_request, &o);
    assert_failed(&o, CLS_FAIL, LLM_ERR_CONFIG, 1);
    assert_non_null(strstr(o.err.message, "Invalid schema"));
    llm_result_free(&o.res);
    llm_provider_destroy(p);
    fake_stop(&fs);
}

/* retry-after: 2 is waited for, then success. */
static void test_retry_after_waited(void **state)
{
    static const char script[] =
        "{\"responses\":[{\"status\":429,\"headers\":{\"retry-after\":\"2\"},"
        "\"body\":{\"error\":{\"type\":\"requests\",\"message\":\"Rate "
        "limit reached\"}}},{\"classify\":true}]}";
    struct fake_server fs;
    struct llm_provider *p;
    struct outcome o;

    (void)state;
    p = setup(&fs, script, LLM_KIND_OPENAI);
    call(p, &family_request, &o);
    assert_int_equal(o.status, CLS_OK);
    assert_int_equal(o.res.attempts, 2);
    assert_true(o.elapsed_ms >= 2000);
    assert_true(o.res.rate_limit_wait_ms >= 2000);
    assert_int_equal(fake_stat(&fs, "accepted"), 1);
    llm_result_free(&o.res);
    llm_provider_destroy(p);
    fake_stop(&fs);
}

/* The largest hint (23.03 s) counts; beyond the budget the
 * call ends as RETRY at once instead of sending again early. */
static void test_hint_beyond_budget(void **state)
{
    static const char script[] =
        "{\"responses\":[{\"status\":429,\"headers\":"
        "{\"x-ratelimit-reset-tokens\":\"23.03s\"},\"body\":{\"error\":"
        "{\"type\":\"tokens\",\"message\":\"Rate limit reached on tokens "
        "per min. Please try again in 564ms.\"}}}]}";
    struct llm_provider_settings s;
    struct fake_server fs;
    struct llm_provider *p;
    struct outcome o;

    (void)state;
    assert_int_equal(fake_start(&fs, script, NULL), 0);
    s = settings_for(&fs, LLM_KIND_OPENAI);
    s.total_budget_ms = 5000;
    p = make(&s);
    call(p, &family_request, &o);
    assert_failed(&o, CLS_RETRY, LLM_ERR_RATE_LIMIT, 1);
    assert_non_null(strstr(o.err.message, "23030 ms"));
    assert_true(o.elapsed_ms < 2000);
    assert_int_equal(fake_stat(&fs, "requests"), 1);
    llm_result_free(&o.res);
    llm_provider_destroy(p);
    fake_stop(&fs);
}

/* insufficient_quota is terminal for the whole run. */
static void test_quota_terminal(void **state)
{
    static const char script[] =
        "{\"responses\":[{\"status\":429,\"body\":{\"error\":{\"type\":"
        "\"insufficient_quota\",\"code\":\"insufficient_quota\",\"message\":"
        "\"You exceeded your current quota\"}}}]}";
    struct fake_server fs;
    struct llm_provider *p;
    struct outcome o;

    (void)state;
    p = setup(&fs, script, LLM_KIND_OPENAI);
    call(p, &family_request, &o);
    assert_failed(&o, CLS_FAIL, LLM_ERR_QUOTA, 1);
    llm_result_free(&o.res);
    call(p, &family_request, &o);
    assert_failed(&o, CLS_FAIL, LLM_ERR_QUOTA, 0);
    llm_result_free(&o.res);
    assert_int_equal(fake_stat(&fs, "requests"), 1);
    llm_provider_destroy(p);
    fake_stop(&fs);
}

struct thread_call {
    struct llm_provider *p;
    struct outcome o;
};

static void *call_thread(void *arg)
{
    struct thread_call *tc = arg;

    call(tc->p, &family_request, &tc->o);
    return NULL;
}

/* A 429 hint pauses every caller of the provider, not only the
 * one that got it. */
static void test_shared_pause(void **state)
{
    static const char script[] =
        "{\"responses\":[{\"status\":429,\"headers\":{\"retry-after\":\"1\"},"
        "\"body\":{\"error\":{\"message\":\"slow down\"}}}]}";
    struct fake_server fs;
    struct thread_call first = {0};
    struct outcome o;
    pthread_t t;

    (void)state;
    first.p = setup(&fs, script, LLM_KIND_OPENAI);
    assert_int_equal(pthread_create(&t, NULL, call_thread, &first), 0);
    usleep(300 * 1000);
    call(first.p, &family_request, &o); /* would be answered at once */
    pthread_join(t, NULL);
    assert_int_equal(first.o.status, CLS_OK);
    assert_int_equal(o.status, CLS_OK);
    assert_true(o.elapsed_ms >= 600);
    assert_int_equal(fake_stat(&fs, "requests"), 3);
    llm_result_free(&first.o.res);
    llm_result_free(&o.res);
    llm_provider_destroy(first.p);
    fake_stop(&fs);
}

static void terminal_status(const char *body, int status, int sticky)
{
    char script[512];
    struct fake_server fs;
    struct llm_provider *p;
    struct outcome o;

    snprintf(script, sizeof(script),
             "{\"responses\":[{\"status\":%d,\"body\":%s}],"
             "\"after\":\"repeat\"}",
             status, body);
    p = setup(&fs, script, LLM_KIND_OPENAI);
    call(p, &family_request, &o);
    assert_failed(&o, CLS_FAIL, LLM_ERR_CONFIG, 1);
    assert_int_equal(o.res.http_status, status);
    llm_result_free(&o.res);
    call(p, &family_request, &o);
    assert_failed(&o, CLS_FAIL, LLM_ERR_CONFIG, sticky ? 0 : 1);
    llm_result_free(&o.res);
    assert_int_equal(fake_stat(&fs, "requests"), sticky ? 1 : 2);
    llm_provider_destroy(p);
    fake_stop(&fs);
}

/* 400, 404 and 401 are terminal on the first attempt. */
static void test_terminal_statuses(void **state)
{
    (void)state;
    terminal_status("{\"error\":{\"message\":\"Invalid schema\"}}", 400, 0);
    terminal_status("{\"error\":{\"code\":\"model_not_found\",\"message\":"
                    "\"The model gpt-5-thinking does not exist\"}}",
                    404, 1);
    terminal_status("{\"error\":{\"message\":\"Incorrect API key\"}}", 401, 1);
}

/* A malformed request fails at once, without a request. */
static void test_bad_request(void **state)
{
    struct fake_server fs;
    struct llm_provider *p;
    cls_llm_request req = family_request;
    struct outcome o;

    (void)state;
    p = setup(&fs, NULL, LLM_KIND_OPENAI);
    req.user_message = NULL;
    call(p, &req, &o);
    assert_int_equal(o.status, CLS_FAIL);
    assert_int_equal(o.res.attempts, 0);
    llm_result_free(&o.res);
    req = family_request;
    req.response_schema = "{\"type\":";
    call(p, &req, &o);
    assert_int_equal(o.status, CLS_FAIL);
    assert_int_equal(o.res.reason, LLM_ERR_CONFIG);
    llm_result_free(&o.res);
    assert_int_equal(fake_stat(&fs, "requests"), 0);
    llm_provider_destroy(p);
    fake_stop(&fs);
}

static void run_503s(uint32_t max_attempts, cls_status expect,
                     uint32_t attempts)
{
    static const char script[] =
        "{\"responses\":[{\"status\":503,\"body\":{\"error\":{\"message\":"
        "\"overloaded\"}},\"repeat\":3},{\"classify\":true}]}";
    struct llm_provider_settings s;
    struct fake_server fs;
    struct llm_provider *p;
    struct outcome o;

    assert_int_equal(fake_start(&fs, script, NULL), 0);
    s = settings_for(&fs, LLM_KIND_OPENAI);
    s.max_attempts = max_attempts;
    p = make(&s);
    call(p, &family_request, &o);
    assert_int_equal(o.status, expect);
    assert_int_equal(o.res.attempts, attempts);
    assert_int_equal(fake_stat(&fs, "requests"), attempts);
    if (expect != CLS_OK)
        assert_int_equal(o.res.reason, LLM_ERR_SERVER);
    llm_result_free(&o.res);
    llm_provider_destroy(p);
    fake_stop(&fs);
}

/* 503 three times, then 200. */
static void test_503_then_ok(void **state)
{
    (void)state;
    run_503s(5, CLS_OK, 4);
    run_503s(3, CLS_RETRY, 3);
}

/* An attempt slower than timeout_ms is a retryable timeout. */
static void test_timeout(void **state)
{
    static const char script[] =
        "{\"responses\":[{\"classify\":true,\"delay_ms\":1500,"
        "\"repeat\":2}]}";
    struct llm_provider_settings s;
    struct fake_server fs;
    struct llm_provider *p;
    struct outcome o;

    (void)state;
    assert_int_equal(fake_start(&fs, script, NULL), 0);
    s = settings_for(&fs, LLM_KIND_OPENAI);
    s.timeout_ms = 300;
    s.max_attempts = 2;
    p = make(&s);
    call(p, &family_request, &o);
    assert_failed(&o, CLS_RETRY, LLM_ERR_TIMEOUT, 2);
    assert_true(o.elapsed_ms < 1500);
    llm_result_free(&o.res);
    llm_provider_destroy(p);
    fake_stop(&fs);
}

/* Truncation is terminal and never repaired, in both wire formats. */
static void test_truncation(void **state)
{
    static const char script[] =
        "{\"responses\":[{\"content\":\"{\\\"family\\\":\\\"price-\","
        "\"finish_reason\":\"length\"}],\"after\":\"repeat\"}";
    struct llm_provider_settings s;
    struct fake_server fs;
    struct llm_provider *p, *a;
    struct outcome o;

    (void)state;
    p = setup(&fs, script, LLM_KIND_OPENAI);
    call(p, &family_request, &o);
    assert_failed(&o, CLS_FAIL, LLM_ERR_TRUNCATED, 1);
    llm_result_free(&o.res);
    s = settings_for(&fs, LLM_KIND_ANTHROPIC);
    a = make(&s);
    call(a, &family_request, &o);
    assert_failed(&o, CLS_FAIL, LLM_ERR_TRUNCATED, 1);
    llm_result_free(&o.res);
    llm_provider_destroy(a);
    llm_provider_destroy(p);
    fake_stop(&fs);
}

/* Anthropic request shape, cached-token accounting, reported model. */
static void test_anthropic_usage(void **state)
{
    char script[1024];
    struct fake_server fs;
    struct llm_provider *p;
    struct outcome o;
    cJSON *log, *entry, *system, *last;

    (void)state;
    snprintf(script, sizeof(script),
             "{\"responses\":[{\"content\":\"%s\",\"usage\":{"
             "\"input_tokens\":150,\"cache_read_input_tokens\":2048,"
             "\"cache_creation_input_tokens\":0,\"output_tokens\":60}}]}",
             expected_quoted);
    p = setup(&fs, script, LLM_KIND_ANTHROPIC);
    call(p, &family_request, &o);
    assert_object(&o, expected_object);
    assert_int_equal(o.res.input_tokens, 2198);
    assert_int_equal(o.res.cached_tokens, 2048);
    assert_int_equal(o.res.output_tokens, 60);
    assert_string_equal(o.res.model, "fake-model");
    assert_string_equal(o.res.provider, "test-anthropic");
    llm_result_free(&o.res);

    log = fake_get(&fs, "/requests");
    entry = cJSON_GetArrayItem(log, 0);
    assert_string_equal(cJSON_GetObjectItem(entry, "path")->valuestring,
                        "/v1/messages");
    assert_string_equal(cJSON_GetObjectItem(entry, "api_key")->valuestring,
                        KEY_VALUE);
    assert_string_equal(
        cJSON_GetObjectItem(entry, "anthropic_version")->valuestring,
        "2023-06-01");
    system = cJSON_GetObjectItem(cJSON_GetObjectItem(entry, "body"), "system");
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(system, 0), "text")->valuestring,
        family_request.system_prompt);
    last = cJSON_GetArrayItem(system, cJSON_GetArraySize(system) - 1);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(last, "cache_control"), "type")
            ->valuestring,
        "ephemeral");
    assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(entry, "body"),
                                    "response_format"));
    cJSON_Delete(log);
    llm_provider_destroy(p);
    fake_stop(&fs);
}

/* The classifier mode answers any schema validly, in both formats. */
static void test_classifier_mode(void **state)
{
    struct llm_provider_settings s;
    struct fake_server fs;
    struct llm_provider *p, *a;
    struct outcome o;

    (void)state;
    p = setup(&fs, NULL, LLM_KIND_OPENAI);
    s = settings_for(&fs, LLM_KIND_ANTHROPIC);
    a = make(&s);
    call(p, &family_request, &o);
    assert_int_equal(o.status, CLS_OK);
    assert_non_null(cJSON_GetObjectItem(o.res.object, "family"));
    llm_result_free(&o.res);
    call(a, &family_request, &o);
    assert_int_equal(o.status, CLS_OK);
    assert_float_equal(
        cJSON_GetObjectItem(o.res.object, "confidence")->valuedouble, 0.9,
        1e-9);
    llm_result_free(&o.res);
    llm_provider_destroy(a);
    llm_provider_destroy(p);
    fake_stop(&fs);
}

/* Cancel a provider while a thread's call deals with script's first
 * answer; backoff_ms sets the back-off base. */
static void cancel_during(const char *script, uint32_t backoff_ms)
{
    struct llm_provider_settings s;
    struct fake_server fs;
    struct thread_call tc = {0};
    struct outcome o;
    pthread_t t;
    int64_t t0;

    assert_int_equal(fake_start(&fs, script, NULL), 0);
    s = settings_for(&fs, LLM_KIND_OPENAI);
    s.backoff_base_ms = backoff_ms;
    s.backoff_max_ms = backoff_ms;
    tc.p = make(&s);
    assert_int_equal(pthread_create(&t, NULL, call_thread, &tc), 0);
    usleep(300 * 1000);
    t0 = llm_now_ms();
    llm_provider_cancel(tc.p);
    pthread_join(t, NULL);
    assert_true(llm_now_ms() - t0 < 1000);
    assert_int_equal(tc.o.status, CLS_RETRY);
    assert_int_equal(tc.o.res.reason, LLM_ERR_CANCELLED);
    llm_result_free(&tc.o.res);
    call(tc.p, &family_request, &o); /* later calls end at once */
    assert_int_equal(o.status, CLS_RETRY);
    assert_int_equal(o.res.attempts, 0);
    llm_result_free(&o.res);
    llm_provider_destroy(tc.p);
    fake_stop(&fs);
}

/* llm_provider_cancel() ends a transfer, a 429 wait and a back-off. */
static void test_cancel(void **state)
{
    (void)state;
    cancel_during("{\"responses\":[{\"classify\":true,"
                  "\"delay_ms\":4000}]}",
                  50);
    cancel_during("{\"responses\":[{\"status\":429,\"headers\":"
                  "{\"retry-after\":\"10\"},\"body\":{}}]}",
                  50);
    cancel_during("{\"responses\":[{\"status\":500,\"body\":{}}]}", 8000);
}

/* A result survives the journal record round trip; a bad record fails. */
static void test_journal_roundtrip(void **state)
{
    struct fake_server fs;
    struct llm_provider *p;
    struct llm_result back = {0};
    cls_error err = {0};
    struct outcome o;
    char *printed;
    cJSON *rec;

    (void)state;
    p = setup(&fs, NULL, LLM_KIND_OPENAI);
    call(p, &family_request, &o);
    assert_int_equal(o.status, CLS_OK);
    rec = llm_result_to_json(&o.res);
    assert_non_null(rec);
    printed = cJSON_PrintUnformatted(rec);
    assert_null(strstr(printed, KEY_VALUE));
    cJSON_free(printed);
    assert_int_equal(llm_result_from_json(rec, &back, &err), CLS_OK);
    assert_true(cJSON_Compare(back.object, o.res.object, 1));
    assert_string_equal(back.text, o.res.text);
    assert_string_equal(back.model, "fake-model");
    assert_int_equal(back.input_tokens, o.res.input_tokens);
    assert_int_equal(back.attempts, 1);
    llm_result_free(&back);
    cJSON_ReplaceItemInObject(rec, "object", cJSON_CreateNull());
    assert_int_equal(llm_result_from_json(rec, &back, &err), CLS_FAIL);
    llm_result_free(&back);
    cJSON_Delete(rec);
    llm_result_free(&o.res);
    llm_provider_destroy(p);
    fake_stop(&fs);
}

static char *read_all(int fd)
{
    static char buf[1 << 16];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static int count_lines_with(const char *text, const char *needle)
{
    const char *p = text;
    int n = 0;

    while ((p = strstr(p, needle)) != NULL) {
        n++;
        p += strlen(needle);
    }
    return n;
}

/* The key never reaches the log or an error message; a configuration
 * error is logged once per provider. */
static void test_key_never_logged(void **state)
{
    static const char script[] =
        "{\"responses\":["
        "{\"status\":429,\"headers\":{\"retry-after-ms\":\"50\"},\"body\":"
        "{\"error\":{\"message\":\"slow\"}}},{\"classify\":true},"
        "{\"content\":\"\",\"refusal\":\"no\",\"repeat\":2},"
        "{\"status\":400,\"body\":{\"error\":{\"message\":\"bad key "
        "format\"}},\"repeat\":2}]}";
    char path[] = "/tmp/llm-log-XXXXXX";
    struct fake_server fs;
    struct llm_provider *p;
    struct outcome o;
    const char *text;
    int fd, i;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    core_log_setup(CORE_LOG_DEBUG, fd);
    p = setup(&fs, script, LLM_KIND_OPENAI);
    for (i = 0; i < 4; i++) {
        call(p, &family_request, &o);
        assert_null(strstr(o.err.message, KEY_VALUE));
        llm_result_free(&o.res);
    }
    llm_provider_destroy(p);
    fake_stop(&fs);
    core_log_setup(CORE_LOG_INFO, 2);
    text = read_all(fd);
    close(fd);
    assert_true(count_lines_with(text, "[llm]") >= 4);
    assert_int_equal(count_lines_with(text, "configuration: HTTP 400"), 1);
    assert_non_null(strstr(text, "HTTP 429"));
    assert_non_null(strstr(text, "refused"));
    assert_null(strstr(text, KEY_VALUE));
    assert_null(strstr(text, "5ecret"));
}

/* A missing key variable or a budget above Restate's abort timeout is
 * refused when the provider is made. */
static void test_settings_checks(void **state)
{
    struct fake_server fs = {.openai_url = "http://127.0.0.1:9/v1"};
    struct llm_provider_settings s = settings_for(&fs, LLM_KIND_OPENAI);
    struct llm_provider *p = NULL;
    cls_error err = {0};

    (void)state;
    s.api_key_env = "CLASSIFY_TEST_UNSET_KEY_VARIABLE";
    assert_int_equal(llm_provider_create(&s, &p, &err), CLS_EINVAL);
    assert_non_null(strstr(err.message, "CLASSIFY_TEST_UNSET_KEY_VARIABLE"));
    s = settings_for(&fs, LLM_KIND_OPENAI);
    s.total_budget_ms = LLM_RESTATE_ABORT_TIMEOUT_MS;
    assert_int_equal(llm_provider_create(&s, &p, &err), CLS_EINVAL);
    assert_null(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fences_and_prose),
        cmocka_unit_test(test_two_objects_corrective_retry),
        cmocka_unit_test(test_refusal_terminal),
        cmocka_unit_test(test_confidence_scale_e2e),
        cmocka_unit_test(test_strict_request_shape),
        cmocka_unit_test(test_retry_after_waited),
        cmocka_unit_test(test_hint_beyond_budget),
        cmocka_unit_test(test_quota_terminal),
        cmocka_unit_test(test_shared_pause),
        cmocka_unit_test(test_terminal_statuses),
        cmocka_unit_test(test_bad_request),
        cmocka_unit_test(test_503_then_ok),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_anthropic_usage),
        cmocka_unit_test(test_classifier_mode),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_journal_roundtrip),
        cmocka_unit_test(test_key_never_logged),
        cmocka_unit_test(test_settings_checks),
    };

    setenv(KEY_ENV, KEY_VALUE, 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
