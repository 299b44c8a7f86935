/*
 * test_reply.c - unit tests of the LLM client's pure parts: extracting the
 * reply object, the schema check and its strict form, usage fields,
 * rate-limit hints and the limiter's pause and deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "llm/llm_internal.h"

static const char family_schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"family\":{\"type\":\"string\",\"enum\":[\"price-value\","
    "\"physical-fundamental\",\"numeric-measurement\"]},"
    "\"confidence\":{\"type\":\"number\",\"minimum\":0,\"maximum\":1},"
    "\"reasoning\":{\"type\":\"string\"},"
    "\"note\":{\"type\":\"string\",\"maxLength\":40}},"
    "\"required\":[\"family\",\"confidence\",\"reasoning\"],"
    "\"additionalProperties\":false}";

static const char expected_object[] =
    "{\"family\":\"price-value\",\"confidence\":0.9,"
    "\"reasoning\":\"ratio of prices\"}";

static void assert_extracts(const char *text, const char *expected)
{
    char why[256] = "";
    cJSON *obj = NULL, *want = cJSON_Parse(expected);

    assert_int_equal(llm_extract_object(text, &obj, why, sizeof(why)), LLM_OK);
    assert_non_null(obj);
    assert_true(cJSON_Compare(obj, want, 1));
    cJSON_Delete(obj);
    cJSON_Delete(want);
}

static void assert_malformed(const char *text)
{
    char why[256] = "";
    cJSON *obj = NULL;

    assert_int_equal(llm_extract_object(text, &obj, why, sizeof(why)),
                     LLM_ERR_MALFORMED);
    assert_null(obj);
    assert_true(strlen(why) > 0);
}

/* Fences and prose around one object. */
static void test_extract_fences_and_prose(void **state)
{
    char text[512];

    (void)state;
    snprintf(text, sizeof(text), "```json\n%s\n```", expected_object);
    assert_extracts(text, expected_object);
    snprintf(text, sizeof(text), "  ```\n%s\n```\n", expected_object);
    assert_extracts(text, expected_object);
    snprintf(text, sizeof(text),
             "Here is the classification:\n%s\nLet me know if you need "
             "more {details}.",
             expected_object);
    assert_extracts(text, expected_object);
    assert_extracts(expected_object, expected_object);
    snprintf(text, sizeof(text), "```json %s```", expected_object);
    assert_extracts(text, expected_object);
}

/* An object inside a bash fence is not the answer. */
static void test_extract_ignores_other_fences(void **state)
{
    char text[512];

    (void)state;
    snprintf(text, sizeof(text),
             "Run this first:\n```bash\necho '{\"x\":1}'\n```\n"
             "Result:\n%s\n",
             expected_object);
    assert_extracts(text, expected_object);
}

/* Two candidates, none, truncated, braces in strings. */
static void test_extract_rejects(void **state)
{
    char text[512];

    (void)state;
    snprintf(text, sizeof(text), "%s\nor maybe\n%s", expected_object,
             "{\"family\":\"numeric-measurement\",\"confidence\":0.4,"
             "\"reasoning\":\"x\"}");
    assert_malformed(text);
    assert_malformed("I cannot classify this indicator.");
    assert_malformed("{\"family\":\"price-value\",\"confidence\":0.");
    assert_malformed("");
    assert_malformed("```json\n[1,2]\n```");
    assert_extracts("{\"reasoning\":\"a } and a { inside\",\"n\":1}",
                    "{\"reasoning\":\"a } and a { inside\",\"n\":1}");
}

static cJSON *validated(const char *obj_text, enum llm_reason expect)
{
    cJSON *schema = cJSON_Parse(family_schema);
    cJSON *obj = cJSON_Parse(obj_text);
    char why[256] = "";

    assert_non_null(obj);
    assert_int_equal(llm_schema_validate(schema, obj, why, sizeof(why)),
                     expect);
    if (expect != LLM_OK)
        assert_true(strlen(why) > 0);
    cJSON_Delete(schema);
    if (expect != LLM_OK) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

static void assert_confidence(const char *raw, double expected)
{
    char text[256];
    cJSON *obj;

    snprintf(text, sizeof(text),
             "{\"family\":\"price-value\",\"confidence\":%s,"
             "\"reasoning\":\"r\"}",
             raw);
    obj = validated(text, LLM_OK);
    assert_float_equal(cJSON_GetObjectItem(obj, "confidence")->valuedouble,
                       expected, 1e-12);
    cJSON_Delete(obj);
}

static void assert_confidence_invalid(const char *raw)
{
    char text[256];

    snprintf(text, sizeof(text),
             "{\"family\":\"price-value\",\"confidence\":%s,"
             "\"reasoning\":\"r\"}",
             raw);
    validated(text, LLM_ERR_INVALID);
}

/* The confidence table. */
static void test_confidence_scale(void **state)
{
    (void)state;
    assert_confidence("0.85", 0.85);
    assert_confidence("85", 0.85);
    assert_confidence("100", 1.0);
    assert_confidence("1", 1.0);
    assert_confidence("0", 0.0);
    assert_confidence_invalid("-0.95");
    assert_confidence_invalid("150");
    assert_confidence_invalid("\"0.9\"");
}

/* Enums match exactly; required present; unknown keys dropped. */
static void test_schema_rules(void **state)
{
    cJSON *obj;

    (void)state;
    validated("{\"family\":\"Price-Value\",\"confidence\":0.5,"
              "\"reasoning\":\"r\"}",
              LLM_ERR_INVALID);
    validated("{\"family\":\"price-value\",\"reasoning\":\"r\"}",
              LLM_ERR_INVALID);
    validated("{\"family\":\"price-value\",\"confidence\":0.5,"
              "\"reasoning\":7}",
              LLM_ERR_INVALID);
    validated("{\"family\":\"price-value\",\"confidence\":0.5,"
              "\"reasoning\":\"r\",\"note\":\"this note is far too long for "
              "the forty characters allowed\"}",
              LLM_ERR_INVALID);
    obj = validated("{\"family\":\"price-value\",\"confidence\":0.5,"
                    "\"reasoning\":\"r\",\"extra\":{\"a\":1},\"note\":null}",
                    LLM_OK);
    assert_null(cJSON_GetObjectItem(obj, "extra"));
    assert_null(cJSON_GetObjectItem(obj, "note"));
    assert_int_equal(cJSON_GetArraySize(obj), 3);
    cJSON_Delete(obj);
}

static void assert_strict_object(const cJSON *s)
{
    const cJSON *props = cJSON_GetObjectItem(s, "properties");
    const cJSON *req = cJSON_GetObjectItem(s, "required");
    const cJSON *p;

    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(s, "additionalProperties")));
    assert_int_equal(cJSON_GetArraySize(req), cJSON_GetArraySize(props));
    cJSON_ArrayForEach(p, props)
    {
        assert_null(cJSON_GetObjectItem(p, "minimum"));
        assert_null(cJSON_GetObjectItem(p, "maximum"));
        assert_null(cJSON_GetObjectItem(p, "maxLength"));
        assert_null(cJSON_GetObjectItem(p, "pattern"));
        if (cJSON_GetObjectItem(p, "properties") != NULL)
            assert_strict_object(p);
    }
}

/* The strict form of a schema. */
static void test_strict_schema(void **state)
{
    cJSON *schema = cJSON_Parse(
        "{\"type\":\"object\",\"properties\":{"
        "\"a\":{\"type\":\"string\",\"pattern\":\"^x\"},"
        "\"b\":{\"type\":\"string\",\"enum\":[\"p\",\"q\"]},"
        "\"c\":{\"type\":\"object\",\"properties\":{"
        "\"d\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":9}}}},"
        "\"required\":[\"a\"]}");
    cJSON *strict = llm_schema_strict(schema);
    const cJSON *b, *type;
    char *printed;

    (void)state;
    assert_non_null(strict);
    assert_strict_object(strict);
    b = cJSON_GetObjectItem(cJSON_GetObjectItem(strict, "properties"), "b");
    type = cJSON_GetObjectItem(b, "type");
    assert_true(cJSON_IsArray(type));
    assert_string_equal(cJSON_GetArrayItem(type, 1)->valuestring, "null");
    assert_true(
        cJSON_IsNull(cJSON_GetArrayItem(cJSON_GetObjectItem(b, "enum"), 2)));
    /* a was required: it stays non-nullable */
    assert_true(cJSON_IsString(cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(strict, "properties"), "a"),
        "type")));
    /* the local schema keeps its bounds */
    printed = cJSON_PrintUnformatted(schema);
    assert_non_null(strstr(printed, "maximum"));
    cJSON_free(printed);
    cJSON_Delete(strict);
    cJSON_Delete(schema);
}

static void assert_usage(const char *json, uint64_t input, uint64_t output,
                         uint64_t cached)
{
    cJSON *u = cJSON_Parse(json);
    struct llm_usage usage;

    llm_usage_parse(u, &usage);
    assert_int_equal(usage.input, input);
    assert_int_equal(usage.output, output);
    assert_int_equal(usage.cached, cached);
    cJSON_Delete(u);
}

/* Cached tokens from every provider's usage shape. */
static void test_usage_fields(void **state)
{
    (void)state;
    assert_usage("{\"prompt_tokens\":2125,\"completion_tokens\":64,"
                 "\"prompt_tokens_details\":{\"cached_tokens\":1024}}",
                 2125, 64, 1024);
    assert_usage("{\"input_tokens\":2125,\"output_tokens\":64,"
                 "\"input_tokens_details\":{\"cached_tokens\":1920}}",
                 2125, 64, 1920);
    assert_usage("{\"input_tokens\":150,\"cache_read_input_tokens\":2048,"
                 "\"cache_creation_input_tokens\":0,\"output_tokens\":60}",
                 2198, 60, 2048);
    assert_usage("{\"prompt_tokens\":10,\"completion_tokens\":2}", 10, 2, 0);
}

/* Duration formats and the largest hint. */
static void test_hints(void **state)
{
    struct llm_hint_headers h;
    const char *body =
        "{\"error\":{\"type\":\"tokens\",\"message\":\"Rate limit reached "
        "for gpt-4.1-mini on tokens per min. Please try again in 564ms. "
        "Visit the docs.\"}}";

    (void)state;
    assert_int_equal(llm_parse_duration_ms("564ms"), 564);
    assert_int_equal(llm_parse_duration_ms("1.2s"), 1200);
    assert_int_equal(llm_parse_duration_ms("6m0s"), 360000);
    assert_int_equal(llm_parse_duration_ms("1m2.5s"), 62500);
    assert_int_equal(llm_parse_duration_ms("23.03s"), 23030);
    assert_int_equal(llm_parse_duration_ms("2"), 2000);
    assert_int_equal(llm_parse_duration_ms("soon"), -1);

    memset(&h, 0, sizeof(h));
    strcpy(h.retry_after, "2");
    assert_int_equal(llm_retry_hint_ms(&h, NULL, 0), 2000);

    memset(&h, 0, sizeof(h));
    assert_int_equal(llm_retry_hint_ms(&h, body, 0), 564);
    strcpy(h.reset_tokens, "23.03s");
    assert_int_equal(llm_retry_hint_ms(&h, body, 0), 23030);

    memset(&h, 0, sizeof(h));
    strcpy(h.reset_requests, "1m2.5s");
    assert_int_equal(llm_retry_hint_ms(&h, NULL, 0), 62500);

    memset(&h, 0, sizeof(h));
    strcpy(h.retry_after, "Wed, 21 Oct 2015 07:28:10 GMT");
    assert_int_equal(llm_retry_hint_ms(&h, NULL, 1445412485000LL), 5000);
    memset(&h, 0, sizeof(h));
    strcpy(h.retry_after_ms, "750");
    assert_int_equal(llm_retry_hint_ms(&h, "no hint here", 0), 750);
    memset(&h, 0, sizeof(h));
    assert_int_equal(llm_retry_hint_ms(&h, "busy", 0), -1);

    assert_true(
        llm_is_quota_error("{\"error\":{\"type\":\"insufficient_quota\","
                           "\"code\":\"insufficient_quota\"}}"));
    assert_false(llm_is_quota_error(body));
}

/* A pause stops every caller; a deadline before the pause ends gives up. */
static void test_limiter_pause_and_deadline(void **state)
{
    struct llm_limiter *lim = llm_limiter_create(0, 1000, 1000);
    uint64_t waited = 0;
    int64_t t0;

    (void)state;
    assert_non_null(lim);
    assert_int_equal(llm_limiter_acquire(lim, 100, llm_now_ms() + 10, NULL), 0);
    llm_limiter_pause(lim, 300);
    t0 = llm_now_ms();
    assert_int_equal(llm_limiter_acquire(lim, 100, t0 + 100, NULL), -1);
    assert_true(llm_now_ms() - t0 < 100 + 50);
    assert_int_equal(llm_limiter_acquire(lim, 100, t0 + 2000, &waited), 0);
    assert_true(llm_now_ms() - t0 >= 290);
    /* the bucket was emptied by the pause: 1000 tokens/s refill */
    assert_int_equal(llm_limiter_acquire(lim, 900, llm_now_ms() + 5000, NULL),
                     0);
    llm_limiter_settle(lim, 900, 100); /* 800 given back */
    t0 = llm_now_ms();
    assert_int_equal(llm_limiter_acquire(lim, 700, t0 + 5000, NULL), 0);
    assert_true(llm_now_ms() - t0 < 200);
    llm_limiter_destroy(lim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extract_fences_and_prose),
        cmocka_unit_test(test_extract_ignores_other_fences),
        cmocka_unit_test(test_extract_rejects),
        cmocka_unit_test(test_confidence_scale),
        cmocka_unit_test(test_schema_rules),
        cmocka_unit_test(test_strict_schema),
        cmocka_unit_test(test_usage_fields),
        cmocka_unit_test(test_hints),
        cmocka_unit_test(test_limiter_pause_and_deadline),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
