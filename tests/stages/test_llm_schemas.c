/*
 * test_llm_schemas.c - the response schemas the stages send to an LLM
 * admit only answers the stages accept.
 *
 * A spy host API wraps the fake host's llm_complete() and keeps the
 * request (system prompt, schema name, schema) of every call, so the tests
 * see exactly what a provider would receive.  The type stage must send
 * the schema of the item's family, its indicator_type enum equal to the
 * family's allowed types, under the same system prompt for every item;
 * the final review offers each field's own vocabulary, and only the
 * family's types while the family itself is not flagged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stagetest.h"
#include "vocab.h"

#define MAX_CALLS 32

/* What the spy saw, one entry per llm_complete(). */
struct seen {
    char *system;
    char *schema_name;
    char *schema;
};

static struct seen seen[MAX_CALLS];
static size_t n_seen;
static cls_host_api spy_api;
static const cls_stage_desc *spied;
static cls_stage_desc spy_desc;
static cls_status (*real_complete)(cls_call *, const cls_llm_request *,
                                   cls_llm_reply *, cls_error *);

static char *dup_or_null(const char *s)
{
    char *d;

    if (s == NULL)
        return NULL;
    d = strdup(s);
    assert_non_null(d);
    return d;
}

static cls_status spy_complete(cls_call *call, const cls_llm_request *req,
                               cls_llm_reply *reply, cls_error *err)
{
    assert_true(n_seen < MAX_CALLS);
    seen[n_seen].system = dup_or_null(req->system_prompt);
    seen[n_seen].schema_name = dup_or_null(req->schema_name);
    seen[n_seen].schema = dup_or_null(req->response_schema);
    n_seen++;
    return real_complete(call, req, reply, err);
}

static void forget_seen(void)
{
    size_t i;

    for (i = 0; i < n_seen; i++) {
        free(seen[i].system);
        free(seen[i].schema_name);
        free(seen[i].schema);
    }
    memset(seen, 0, sizeof(seen));
    n_seen = 0;
}

static cls_status spy_create(const cls_host_api *api, cls_host *host,
                             void **instance, cls_error *err)
{
    spy_api = *api;
    real_complete = api->llm_complete;
    spy_api.llm_complete = spy_complete;
    return spied->create(&spy_api, host, instance, err);
}

/* A fake host running stage name with the spy in front of its API. */
static cls_fake_host *spy_host(const char *name, int fallback)
{
    spied = st_load(name);
    spy_desc = *spied;
    spy_desc.create = spy_create;
    forget_seen();
    return st_host(&spy_desc, "openai", fallback, CLASSIFY_PLUGIN_DIR);
}

/* An input whose family-assignment result is family (NULL: none). */
static char *input_in(const char *name, const char *units, const char *family)
{
    char *text = malloc(1024);

    assert_non_null(text);
    snprintf(text, 1024,
             "{\"indicator\":{\"id\":\"i\",\"name\":\"%s\",\"units\":\"%s\"},"
             "\"results\":{\"normalization\":{\"unit_type\":\"unknown\","
             "\"is_currency_denominated\":false}%s%s%s}}",
             name, units, family ? ",\"family-assignment\":{\"family\":\"" : "",
             family ? family : "", family ? "\"}" : "");
    return text;
}

/* A reply of the type stage with type. */
static char *type_reply(const char *type)
{
    char *text = malloc(256);

    assert_non_null(text);
    snprintf(text, 256,
             "{\"indicator_type\":\"%s\",\"temporal_aggregation\":"
             "\"point-in-time\",\"heat_map_orientation\":\"neutral\","
             "\"confidence\":0.9,\"reasoning\":\"r\"}",
             type);
    return text;
}

/* The enum of property key in the schema text, parsed; fails when absent. */
static cJSON *schema_enum(const char *schema, const char *key, cJSON **root)
{
    cJSON *e;

    *root = cJSON_Parse(schema);
    assert_non_null(*root);
    e = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(*root, "properties"), key),
        "enum");
    if (!cJSON_IsArray(e))
        fail_msg("schema has no enum for %s", key);
    return e;
}

/* The enum equals the family's allowed types, in the table's order
 * (then null when nullable). */
static void assert_family_enum(const cJSON *list, const char *family,
                               int nullable)
{
    const cJSON *e;
    size_t k = 0;

    cJSON_ArrayForEach(e, list)
    {
        if (nullable && cJSON_IsNull(e) && e->next == NULL)
            break;
        const char *want = cv_family_type_at(family, k++);

        if (want == NULL || !cJSON_IsString(e) ||
            strcmp(e->valuestring, want) != 0)
            fail_msg("%s: enum member %zu is %s, want %s", family, k,
                     cJSON_IsString(e) ? e->valuestring : "(not a string)",
                     want ? want : "(none)");
    }
    if (cv_family_type_at(family, k) != NULL)
        fail_msg("%s: enum lacks %s", family, cv_family_type_at(family, k));
}

/* Every family: its own schema, its types only, one system prompt. */
static void test_type_schema_per_family(void **state)
{
    cls_fake_host *fh = spy_host("type-classification", 0);
    size_t i;

    (void)state;
    for (i = 0; i < cv_count(CV_FAMILIES); i++) {
        const char *family = cv_at(CV_FAMILIES, i);
        char *input = input_in("Some Indicator", "units", family);
        char *reply = type_reply(cv_family_type_at(family, 0));
        char want_name[64];
        cJSON *root;
        cJSON *o;
        size_t c;

        cls_fake_host_push_llm_reply(fh, CLS_OK, reply);
        o = st_process(fh, input);
        assert_string_equal(st_str(o, "family"), family);
        assert_string_equal(st_str(o, "indicator_type"),
                            cv_family_type_at(family, 0));
        assert_int_equal(n_seen, i + 1);
        assert_family_enum(schema_enum(seen[i].schema, "indicator_type", &root),
                           family, 0);
        snprintf(want_name, sizeof(want_name), "type_classification_%s",
                 family);
        for (c = 0; want_name[c] != '\0'; c++)
            want_name[c] = want_name[c] == '-' ? '_' : want_name[c];
        assert_string_equal(seen[i].schema_name, want_name);
        assert_string_equal(seen[i].system, seen[0].system);
        assert_null(strstr(seen[i].system, "Some Indicator"));
        cJSON_Delete(root);
        cJSON_Delete(o);
        free(input);
        free(reply);
    }
    forget_seen();
    st_host_free(fh);
}

/* A provider that ignores the schema still meets the clear refusal. */
static void test_type_outside_family_still_refused(void **state)
{
    cls_fake_host *fh = spy_host("type-classification", 0);
    char *input = input_in("Consumer Confidence", "points", "qualitative");
    char *reply = type_reply("ratio");
    cls_error err = {0};
    char *out = NULL;
    cJSON *root;
    const cJSON *list;
    const cJSON *e;

    (void)state;
    cls_fake_host_push_llm_reply(fh, CLS_OK, reply);
    assert_int_equal(cls_fake_host_process(fh, input, &out, &err), CLS_FAIL);
    assert_non_null(
        strstr(err.message, "type ratio is not allowed in family qualitative"));
    assert_int_equal(n_seen, 1);
    list = schema_enum(seen[0].schema, "indicator_type", &root);
    cJSON_ArrayForEach(e, list)
        assert_string_not_equal(e->valuestring, "ratio");
    cJSON_Delete(root);
    free(out);
    free(input);
    free(reply);
    forget_seen();
    st_host_free(fh);
}

/* No family result: the schema is that of the family the rules choose. */
static void test_type_schema_without_family(void **state)
{
    cls_fake_host *rules =
        st_host(st_load("family-assignment"), "rules", 0, NULL);
    cls_fake_host *fh = spy_host("type-classification", 0);
    char *input = input_in("Crude Oil Price", "USD per barrel", NULL);
    char *reply = NULL;
    const char *family;
    cJSON *root;
    cJSON *decided;
    cJSON *o;

    (void)state;
    decided = st_process(rules, input);
    family = st_str(decided, "family");
    assert_non_null(family);
    reply = type_reply(cv_family_type_at(family, 0));
    cls_fake_host_push_llm_reply(fh, CLS_OK, reply);
    o = st_process(fh, input);
    assert_string_equal(st_str(o, "family"), family);
    assert_family_enum(schema_enum(seen[0].schema, "indicator_type", &root),
                       family, 0);
    cJSON_Delete(root);
    cJSON_Delete(o);
    cJSON_Delete(decided);
    free(input);
    free(reply);
    forget_seen();
    st_host_free(fh);
    st_host_free(rules);
}

/* The input of the final review: debt as a stock in physical-fundamental
 * with the review's incorrect_fields list. */
static char *review_input(const char *incorrect_fields)
{
    char *text = malloc(2048);

    assert_non_null(text);
    snprintf(text, 2048,
             "{\"indicator\":{\"id\":\"d\",\"name\":\"Government Debt\","
             "\"units\":\"USD billions\"},\"results\":{"
             "\"normalization\":{\"unit_type\":\"currency-amount\","
             "\"is_currency_denominated\":true},"
             "\"time-inference\":{\"time_basis\":\"point-in-time\","
             "\"reporting_frequency\":\"annual\"},"
             "\"family-assignment\":{\"family\":\"physical-fundamental\"},"
             "\"type-classification\":{\"indicator_type\":\"flow\","
             "\"temporal_aggregation\":\"period-total\","
             "\"heat_map_orientation\":\"neutral\"},"
             "\"boolean-review\":{\"passed\":false,\"incorrect_fields\":%s}}}",
             incorrect_fields);
    return text;
}

/* The enum of root.properties[group].properties[field].properties[leaf]:
 * a review schema's per-field value. */
static const cJSON *field_enum(const cJSON *root, const char *group,
                               const char *field, const char *leaf)
{
    const cJSON *d =
        cJSON_GetObjectItem(cJSON_GetObjectItem(root, "properties"), group);
    const cJSON *f =
        cJSON_GetObjectItem(cJSON_GetObjectItem(d, "properties"), field);
    const cJSON *e = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(f, "properties"), leaf),
        "enum");

    if (!cJSON_IsArray(e))
        fail_msg("schema: no %s.%s.%s enum", group, field, leaf);
    return e;
}

static const cJSON *decision_enum(const cJSON *root, const char *field)
{
    return field_enum(root, "decisions", field, "value");
}

/* Every field's values (group.field.leaf) are its own vocabulary, plus
 * null; family_types: the types are one family's, counted elsewhere. */
static void assert_field_vocabularies(const cJSON *root, const char *group,
                                      const char *leaf, int family_types)
{
    static const struct {
        const char *field;
        enum cv_list list;
    } fields[] = {
        {"family", CV_FAMILIES},
        {"indicator_type", CV_TYPES},
        {"temporal_aggregation", CV_AGGREGATIONS},
        {"heat_map_orientation", CV_ORIENTATIONS},
        {"time_basis", CV_TIME_BASES},
        {"reporting_frequency", CV_FREQUENCIES},
    };
    size_t i;

    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const cJSON *list = field_enum(root, group, fields[i].field, leaf);
        const cJSON *e;
        int n = 0;

        cJSON_ArrayForEach(e, list)
        {
            if (cJSON_IsNull(e))
                continue;
            if (!cJSON_IsString(e) ||
                cv_canonical(fields[i].list, e->valuestring) == NULL)
                fail_msg("%s: value outside its vocabulary", fields[i].field);
            n++;
        }
        if (fields[i].list != CV_TYPES || !family_types)
            assert_int_equal(n, (int)cv_count(fields[i].list));
    }
}

/* Type flagged, family not: only the family's types can be proposed;
 * family flagged: every type, the rules judge the combination. */
static void test_final_review_schemas(void **state)
{
    cls_fake_host *fh = spy_host("final-review", 0);
    char *input = review_input("[{\"field\":\"indicator_type\",\"reason\":"
                               "\"r\",\"suggested\":\"stock\"}]");
    cJSON *root;
    cJSON *o;

    (void)state;
    cls_fake_host_push_llm_reply(
        fh, CLS_OK,
        "{\"decisions\":{\"indicator_type\":{\"value\":\"stock\","
        "\"reason\":\"a level\"}},\"confidence\":0.8,\"reasoning\":\"r\"}");
    o = st_process(fh, input);
    assert_string_equal(st_str(o, "status"), "corrected");
    assert_string_equal(st_str(o, "indicator_type"), "stock");
    assert_string_equal(seen[0].schema_name,
                        "final_review_physical_fundamental");
    root = cJSON_Parse(seen[0].schema);
    assert_non_null(root);
    assert_field_vocabularies(root, "decisions", "value", 1);
    assert_family_enum(decision_enum(root, "indicator_type"),
                       "physical-fundamental", 1);
    cJSON_Delete(root);
    cJSON_Delete(o);
    free(input);

    input = review_input("[{\"field\":\"family\",\"reason\":\"r\","
                         "\"suggested\":\"price-value\"}]");
    cls_fake_host_push_llm_reply(
        fh, CLS_OK,
        "{\"decisions\":{\"family\":{\"value\":\"price-value\","
        "\"reason\":\"r\"}},\"confidence\":0.8,\"reasoning\":\"r\"}");
    o = st_process(fh, input);
    assert_string_equal(st_str(o, "status"), "failed");
    assert_string_equal(st_str(o, "family"), "physical-fundamental");
    assert_string_equal(seen[1].schema_name, "final_review");
    assert_string_equal(seen[1].system, seen[0].system);
    root = cJSON_Parse(seen[1].schema);
    assert_non_null(root);
    assert_field_vocabularies(root, "decisions", "value", 0);
    cJSON_Delete(root);
    cJSON_Delete(o);
    free(input);
    forget_seen();
    st_host_free(fh);
}

/* The boolean review's suggestions come from each field's vocabulary. */
static void test_boolean_review_schema(void **state)
{
    cls_fake_host *fh = spy_host("boolean-review", 0);
    char *input = review_input("[]");
    cJSON *root;
    cJSON *o;

    (void)state;
    cls_fake_host_push_llm_reply(
        fh, CLS_OK,
        "{\"passed\":true,\"fields\":{},\"confidence\":0.8,"
        "\"reasoning\":\"r\"}");
    o = st_process(fh, input);
    assert_true(st_bool(o, "passed"));
    root = cJSON_Parse(seen[0].schema);
    assert_non_null(root);
    assert_field_vocabularies(root, "fields", "suggested", 0);
    cJSON_Delete(root);
    cJSON_Delete(o);
    free(input);
    forget_seen();
    st_host_free(fh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_schema_per_family),
        cmocka_unit_test(test_type_outside_family_still_refused),
        cmocka_unit_test(test_type_schema_without_family),
        cmocka_unit_test(test_final_review_schemas),
        cmocka_unit_test(test_boolean_review_schema),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
