/*
 * test_prompts.c - the prompt and schema files of the six stages, expanded
 * as create() expands them: no placeholder is left, every schema is JSON
 * in the strict form providers accept (every property required,
 * additionalProperties false at every object level, no numeric or length
 * bounds), and every enum holds only values of classify/taxonomy.h (and
 * null where the type admits it).  Also
 * the LLM paths of the family and type stages through the fake host.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stagekit.h"
#include "stagetest.h"
#include "vocab.h"

static const char *const stages[] = {
    "normalization",       "time-inference", "family-assignment",
    "type-classification", "boolean-review", "final-review",
};

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (f == NULL)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc(1, (size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return buf;
}

static char *expanded(const char *stage, const char *file)
{
    char path[1024];
    struct sk_buf b = {0};
    cls_error err = {0};
    char *raw;

    snprintf(path, sizeof(path), "%s/prompts/%s/%s", CLASSIFY_PLUGIN_DIR, stage,
             file);
    raw = slurp(path);
    if (sk_expand(raw, &b, &err) != 0)
        fail_msg("%s: %s", path, err.message);
    free(raw);
    assert_false(b.failed);
    assert_null(strstr(b.data, "{{"));
    return b.data;
}

/* Is every enum value known to some taxonomy list or a field name? */
static int known_value(const char *v)
{
    int l;

    for (l = 0; l < CV_LIST_COUNT; l++) {
        if (cv_canonical((enum cv_list)l, v) != NULL)
            return 1;
    }
    return strcmp(v, "family") == 0 || strcmp(v, "indicator_type") == 0 ||
           strcmp(v, "temporal_aggregation") == 0 ||
           strcmp(v, "heat_map_orientation") == 0 ||
           strcmp(v, "time_basis") == 0 ||
           strcmp(v, "reporting_frequency") == 0;
}

/* Does the node's type list name "null"? */
static int allows_null(const cJSON *node)
{
    const cJSON *e;

    cJSON_ArrayForEach(e, cJSON_GetObjectItem(node, "type"))
    {
        if (cJSON_IsString(e) && strcmp(e->valuestring, "null") == 0)
            return 1;
    }
    return 0;
}

static void check_strict(const cJSON *node, const char *stage)
{
    static const char *const banned[] = {"minimum", "maximum", "minLength",
                                         "maxLength", "pattern"};
    const cJSON *props = cJSON_GetObjectItem(node, "properties");
    const cJSON *req = cJSON_GetObjectItem(node, "required");
    const cJSON *e;
    size_t i;

    for (i = 0; i < sizeof(banned) / sizeof(banned[0]); i++)
        if (cJSON_GetObjectItem(node, banned[i]) != NULL)
            fail_msg("%s: schema uses %s", stage, banned[i]);
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(node, "enum"))
    {
        if (cJSON_IsNull(e) && allows_null(node))
            continue;
        if (!cJSON_IsString(e) || !known_value(e->valuestring))
            fail_msg("%s: enum value outside the vocabulary", stage);
    }
    if (props != NULL) {
        assert_true(
            cJSON_IsFalse(cJSON_GetObjectItem(node, "additionalProperties")));
        assert_int_equal(cJSON_GetArraySize(req), cJSON_GetArraySize(props));
        cJSON_ArrayForEach(e, props)
        {
            const cJSON *r;
            int found = 0;

            cJSON_ArrayForEach(r, req) found |=
                strcmp(r->valuestring, e->string) == 0;
            if (!found)
                fail_msg("%s: %s not required", stage, e->string);
            check_strict(e, stage);
        }
    }
    if (cJSON_GetObjectItem(node, "items") != NULL)
        check_strict(cJSON_GetObjectItem(node, "items"), stage);
}

static void test_prompts_and_schemas(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(stages) / sizeof(stages[0]); i++) {
        char *system = expanded(stages[i], "system.md");
        char *schema = expanded(stages[i], "schema.json");
        cJSON *s = cJSON_Parse(schema);

        if (s == NULL)
            fail_msg("%s: schema.json is not JSON after expansion", stages[i]);
        check_strict(s, stages[i]);
        /* About 1,024 tokens or more, so provider prompt caches apply. */
        if (strlen(system) < 4096)
            fail_msg("%s: system prompt has %zu bytes, under 4096", stages[i],
                     strlen(system));
        cJSON_Delete(s);
        free(system);
        free(schema);
    }
}

static void test_unknown_placeholder(void **state)
{
    struct sk_buf b = {0};
    cls_error err = {0};

    (void)state;
    assert_int_equal(sk_expand("a {{nonsense}} b", &b, &err), -1);
    assert_non_null(strstr(err.message, "nonsense"));
    sk_buf_free(&b);
    assert_int_equal(sk_expand("{{families_json}}", &b, &err), 0);
    assert_non_null(strstr(b.data, "\"physical-fundamental\", "));
    sk_buf_free(&b);
}

static const char debt_input[] =
    "{\"indicator\":{\"id\":\"d\",\"name\":\"Government Debt\","
    "\"units\":\"USD billions\"},\"results\":{"
    "\"normalization\":{\"unit_type\":\"currency-amount\","
    "\"is_currency_denominated\":true},"
    "\"family-assignment\":{\"family\":\"physical-fundamental\"}}}";

static void test_type_outside_family_refused(void **state)
{
    cls_fake_host *fh = st_host(st_load("type-classification"), "openai", 1,
                                CLASSIFY_PLUGIN_DIR);
    cJSON *o;

    (void)state;
    cls_fake_host_push_llm_reply(
        fh, CLS_OK,
        "{\"indicator_type\":\"price\",\"temporal_aggregation\":"
        "\"point-in-time\",\"heat_map_orientation\":\"neutral\","
        "\"confidence\":90,\"reasoning\":\"r\"}");
    o = st_process(fh, debt_input);
    assert_string_equal(st_str(o, "provider"), "rules-fallback");
    assert_string_equal(st_str(o, "indicator_type"), "stock");
    cJSON_Delete(o);

    cls_fake_host_push_llm_reply(
        fh, CLS_OK,
        "{\"indicator_type\":\"flow\",\"temporal_aggregation\":"
        "\"period-total\",\"heat_map_orientation\":\"lower-is-positive\","
        "\"confidence\":0.9,\"reasoning\":\"r\"}");
    o = st_process(fh, debt_input);
    assert_string_not_equal(st_str(o, "provider"), "rules-fallback");
    assert_string_equal(st_str(o, "indicator_type"), "flow");
    assert_non_null(strstr(cls_fake_host_llm_user(fh, 1), "Government Debt"));
    assert_string_equal(cls_fake_host_llm_system(fh, 0),
                        cls_fake_host_llm_system(fh, 1));
    cJSON_Delete(o);
    st_host_free(fh);
}

static void test_family_reply_checked(void **state)
{
    cls_fake_host *fh = st_host(st_load("family-assignment"), "anthropic", 0,
                                CLASSIFY_PLUGIN_DIR);
    cls_error err = {0};
    char *out = NULL;
    cJSON *o;

    (void)state;
    cls_fake_host_push_llm_reply(fh, CLS_OK,
                                 "{\"family\":\"temporal\",\"confidence\":"
                                 "0.7,\"reasoning\":\"r\"}");
    o = st_process(fh, debt_input);
    assert_string_equal(st_str(o, "family"), "temporal");
    cJSON_Delete(o);
    cls_fake_host_push_llm_reply(fh, CLS_OK,
                                 "{\"family\":\"money\",\"confidence\":0.7,"
                                 "\"reasoning\":\"r\"}");
    assert_int_equal(cls_fake_host_process(fh, debt_input, &out, &err),
                     CLS_FAIL);
    assert_non_null(strstr(err.message, "family"));
    free(out);
    st_host_free(fh);
}

static const char bad_input[] =
    "{\"indicator\":{\"id\":\"d\",\"name\":\"Government Debt\","
    "\"units\":\"USD billions\",\"sample_values\":["
    "{\"date\":\"2021\",\"value\":1},{\"date\":\"2022\",\"value\":2},"
    "{\"date\":\"2023\",\"value\":3}]},\"results\":{"
    "\"normalization\":{\"unit_type\":\"currency-amount\","
    "\"is_currency_denominated\":true},"
    "\"time-inference\":{\"time_basis\":\"point-in-time\","
    "\"reporting_frequency\":\"annual\"},"
    "\"family-assignment\":{\"family\":\"price-value\"},"
    "\"type-classification\":{\"indicator_type\":\"stock\","
    "\"temporal_aggregation\":\"point-in-time\","
    "\"heat_map_orientation\":\"lower-is-positive\"}}}";

/* The model's findings are kept, a suggestion outside its field's
 * vocabulary is dropped, and hard checks it missed are added. */
static void test_boolean_review_llm(void **state)
{
    cls_fake_host *fh =
        st_host(st_load("boolean-review"), "openai", 0, CLASSIFY_PLUGIN_DIR);
    cls_error err = {0};
    char *out = NULL;
    const cJSON *e;
    cJSON *o;
    int n = 0;

    (void)state;
    cls_fake_host_push_llm_reply(
        fh, CLS_OK,
        "{\"passed\":false,\"fields\":{\"heat_map_orientation\":{"
        "\"incorrect\":true,\"reason\":\"r\",\"suggested\":\"neutral\"},"
        "\"time_basis\":{\"incorrect\":true,\"reason\":\"r\","
        "\"suggested\":\"monthly\"},\"family\":{\"incorrect\":false,"
        "\"reason\":\"\",\"suggested\":null}},\"confidence\":0.8,"
        "\"reasoning\":\"r\"}");
    o = st_process(fh, bad_input);
    assert_false(st_bool(o, "passed"));
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(o, "incorrect_fields"))
    {
        const char *f = st_str(e, "field");

        if (strcmp(f, "heat_map_orientation") == 0)
            assert_string_equal(st_str(e, "suggested"), "neutral");
        else if (strcmp(f, "time_basis") == 0)
            assert_null(st_str(e, "suggested"));
        else
            assert_string_equal(f, "indicator_type");
        n++;
    }
    assert_int_equal(n, 3);
    cJSON_Delete(o);

    cls_fake_host_push_llm_reply(
        fh, CLS_OK,
        "{\"passed\":false,\"incorrect_fields\":[],\"confidence\":0.8,"
        "\"reasoning\":\"r\"}");
    assert_int_equal(cls_fake_host_process(fh, bad_input, &out, &err),
                     CLS_FAIL);
    assert_non_null(strstr(err.message, "fields"));
    free(out);
    st_host_free(fh);
}

/* The model answers frequency and basis; the detector still runs. */
static void test_time_llm(void **state)
{
    cls_fake_host *fh =
        st_host(st_load("time-inference"), "openai", 0, CLASSIFY_PLUGIN_DIR);
    cJSON *o;

    (void)state;
    cls_fake_host_push_llm_reply(
        fh, CLS_OK,
        "{\"reporting_frequency\":\"annual\",\"time_basis\":"
        "\"point-in-time\",\"source_used\":\"time-series\","
        "\"confidence\":0.9,\"reasoning\":\"yearly dates\"}");
    o = st_process(fh, bad_input);
    assert_string_equal(st_str(o, "reporting_frequency"), "annual");
    assert_string_equal(st_str(o, "reasoning"), "yearly dates");
    assert_string_equal(st_str(o, "cumulative_pattern"), "periodic");
    assert_non_null(strstr(cls_fake_host_llm_user(fh, 0), "\"2022\""));
    cJSON_Delete(o);
    st_host_free(fh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prompts_and_schemas),
        cmocka_unit_test(test_unknown_placeholder),
        cmocka_unit_test(test_type_outside_family_refused),
        cmocka_unit_test(test_family_reply_checked),
        cmocka_unit_test(test_boolean_review_llm),
        cmocka_unit_test(test_time_llm),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
