/*
 * test_common.c - the helpers of plugins/common that the stages share:
 * list membership and reasoning clauses (text.c), the rules-or-LLM
 * decision (sk_decide) and the per-family response schemas (stagekit.c),
 * the last two through a probe stage run by the fake host.
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
#include "text.h"
#include "vocab.h"

/* ------------------------------------------------------------------ */
/* text.c                                                              */
/* ------------------------------------------------------------------ */

static void test_in_list(void **state)
{
    (void)state;
    assert_true(ct_in_list("flow|volume|count", '|', "flow"));
    assert_true(ct_in_list("flow|volume|count", '|', "volume"));
    assert_true(ct_in_list("flow|volume|count", '|', "count"));
    assert_false(ct_in_list("flow|volume|count", '|', "low"));
    assert_false(ct_in_list("flow|volume|count", '|', "volumes"));
    assert_true(ct_in_list("countdown|count", '|', "count"));
    assert_false(ct_in_list("flow|volume", ' ', "flow"));
    assert_true(ct_in_list("of in level", ' ', "in"));
    assert_false(ct_in_list("of in level", ' ', "lev"));
    assert_false(ct_in_list(NULL, '|', "flow"));
    assert_false(ct_in_list("flow", '|', NULL));
    assert_false(ct_in_list("flow||count", '|', ""));
}

static void test_note(void **state)
{
    char buf[22] = "";
    char big[300];

    (void)state;
    ct_note(buf, sizeof(buf), "scale %s", "ones");
    assert_string_equal(buf, "scale ones");
    ct_note(buf, sizeof(buf), "%d hits", 3);
    assert_string_equal(buf, "scale ones; 3 hits");
    ct_note(buf, sizeof(buf), "cut here");
    assert_string_equal(buf, "scale ones; 3 hits; c");

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    {
        char wide[600] = "";

        ct_note(wide, sizeof(wide), "%s", big);
        assert_int_equal(strlen(wide), 255);
    }
}

/* ------------------------------------------------------------------ */
/* A probe stage over sk_decide and sk_family_schema                  */
/* ------------------------------------------------------------------ */

static const cls_config_key probe_schema[] = {
    SK_CONFIG_KEYS("probe"),
    {NULL, CLS_CONFIG_END, 0, NULL, 0, 0, NULL},
};

struct probe_call {
    const cls_host_api *api;
    const char *answer;
    int rules_runs;
    int maps;
};

static void probe_rules(void *ctx)
{
    struct probe_call *c = ctx;

    c->answer = "from-rules";
    c->rules_runs++;
}

static cls_status probe_map(void *ctx, const cls_json *reply, cls_error *err)
{
    struct probe_call *c = ctx;
    const char *answer = sk_str(c->api, reply, "answer");

    c->maps++;
    if (answer == NULL)
        return cls_error_set(err, CLS_FAIL, "probe: reply lacks answer");
    c->answer = answer;
    return CLS_OK;
}

static cls_status probe_create(const cls_host_api *api, cls_host *host,
                               void **instance, cls_error *err)
{
    return sk_create_per_family(api, host, "probe",
                                (struct sk_stage **)instance, err);
}

/* Input {"family", "rules_only"}; output the provenance, the answer, how
 * often each callback ran, and the family schema and variant picked. */
static cls_status probe_process(void *instance, cls_call *call,
                                const cls_json *input, cls_out *out,
                                cls_error *err)
{
    const struct sk_stage *s = instance;
    struct probe_call c = {.api = s->api};
    struct sk_plan plan = {.task = "Probe.",
                           .map_reply = probe_map,
                           .run_rules = probe_rules,
                           .ctx = &c};
    cls_status st;

    plan.rules_only = sk_bool(c.api, input, "rules_only", 0);
    plan.schema =
        sk_family_schema(s, sk_str(c.api, input, "family"), &plan.variant);

    st = sk_decide(s, call, input, &plan, out, err);
    if (st != CLS_OK)
        return st;
    c.api->out_string(out, "answer", c.answer);
    c.api->out_int(out, "rules_runs", c.rules_runs);
    c.api->out_int(out, "maps", c.maps);
    c.api->out_string(out, "schema", plan.schema);
    return c.api->out_string(out, "variant", plan.variant);
}

static const cls_stage_desc probe_desc = {
    .magic = CLS_STAGE_MAGIC,
    .struct_size = sizeof(cls_stage_desc),
    .abi_major = CLS_ABI_MAJOR,
    .abi_minor = 0,
    .flags = CLS_STAGE_CONCURRENT | CLS_STAGE_USES_LLM,
    .name = "probe",
    .version = "1.0.0",
    .build_id = "test",
    .description = "probe of the stagekit decision",
    .slot = CLS_SLOT_TYPE_CLASSIFICATION,
    .service = "probe",
    .handler = "probe",
    .config_schema = probe_schema,
    .create = probe_create,
    .destroy = sk_destroy_instance,
    .process = probe_process,
    .quiesce = NULL,
};

/* The probe on provider kind with the type-classification prompts. */
static cls_fake_host *probe_host(const char *kind, int fallback)
{
    cls_fake_host *fh = cls_fake_host_new();
    cls_error err = {0};

    assert_non_null(fh);
    assert_int_equal(cls_fake_host_set_provider(fh, kind, fallback), CLS_OK);
    assert_int_equal(cls_fake_host_set_plugin_dir(fh, CLASSIFY_PLUGIN_DIR),
                     CLS_OK);
    assert_int_equal(cls_fake_host_set_option(fh, "prompt_dir",
                                              "prompts/type-classification"),
                     CLS_OK);
    if (cls_fake_host_create(fh, &probe_desc, &err) != CLS_OK)
        fail_msg("create probe: %s", err.message);
    return fh;
}

static void test_decide_rules_provider(void **state)
{
    cls_fake_host *fh = probe_host("rules", 0);
    cJSON *o = st_process(fh, "{\"family\": \"price-value\"}");

    (void)state;
    assert_string_equal(st_str(o, "provider"), "rules");
    assert_string_equal(st_str(o, "model"), "deterministic");
    assert_string_equal(st_str(o, "answer"), "from-rules");
    assert_int_equal(st_num(o, "rules_runs"), 1);
    assert_int_equal(st_num(o, "maps"), 0);
    assert_null(st_str(o, "schema"));
    assert_int_equal(cls_fake_host_llm_calls(fh), 0);
    cJSON_Delete(o);
    st_host_free(fh);
}

static void test_decide_llm_answer(void **state)
{
    cls_fake_host *fh = probe_host("openai", 1);
    cJSON *o;

    (void)state;
    cls_fake_host_push_llm_reply(fh, CLS_OK, "{\"answer\": \"from-llm\"}");
    o = st_process(fh, "{\"family\": \"price-value\"}");
    assert_string_not_equal(st_str(o, "provider"), "rules-fallback");
    assert_string_equal(st_str(o, "answer"), "from-llm");
    assert_int_equal(st_num(o, "rules_runs"), 0);
    assert_int_equal(st_num(o, "maps"), 1);
    assert_non_null(st_str(o, "schema"));
    assert_string_equal(st_str(o, "variant"), "price-value");
    assert_int_equal(cls_fake_host_llm_calls(fh), 1);
    assert_non_null(strstr(cls_fake_host_llm_user(fh, 0), "Probe."));
    cJSON_Delete(o);
    st_host_free(fh);
}

static void test_decide_unknown_family(void **state)
{
    cls_fake_host *fh = probe_host("openai", 1);
    cJSON *o;

    (void)state;
    cls_fake_host_push_llm_reply(fh, CLS_OK, "{\"answer\": \"from-llm\"}");
    o = st_process(fh, "{\"family\": \"not-a-family\"}");
    assert_null(st_str(o, "schema"));
    assert_null(st_str(o, "variant"));
    assert_string_equal(st_str(o, "answer"), "from-llm");
    cJSON_Delete(o);
    st_host_free(fh);
}

static void test_decide_fallback(void **state)
{
    cls_fake_host *fh = probe_host("openai", 1);
    cJSON *o;

    (void)state;
    cls_fake_host_push_llm_reply(fh, CLS_OK, "{\"other\": 1}");
    o = st_process(fh, "{}");
    assert_string_equal(st_str(o, "provider"), "rules-fallback");
    assert_string_equal(st_str(o, "model"), "deterministic");
    assert_string_equal(st_str(o, "answer"), "from-rules");
    assert_int_equal(st_num(o, "rules_runs"), 1);
    assert_int_equal(st_num(o, "maps"), 1);
    assert_non_null(strstr(cls_fake_host_log(fh), "reply lacks answer"));
    cJSON_Delete(o);

    cls_fake_host_push_llm_reply(fh, CLS_FAIL, "refused");
    o = st_process(fh, "{}");
    assert_string_equal(st_str(o, "provider"), "rules-fallback");
    assert_int_equal(st_num(o, "maps"), 0);
    assert_non_null(strstr(cls_fake_host_log(fh), "refused"));
    cJSON_Delete(o);
    st_host_free(fh);
}

static void test_decide_no_fallback(void **state)
{
    cls_fake_host *fh = probe_host("openai", 0);
    cls_error err = {0};
    char *out = NULL;

    (void)state;
    cls_fake_host_push_llm_reply(fh, CLS_OK, "{\"other\": 1}");
    assert_int_equal(cls_fake_host_process(fh, "{}", &out, &err), CLS_FAIL);
    assert_null(out);
    assert_non_null(strstr(err.message, "reply lacks answer"));

    cls_fake_host_push_llm_reply(fh, CLS_RETRY, "rate limited");
    assert_int_equal(cls_fake_host_process(fh, "{}", &out, &err), CLS_RETRY);
    assert_null(out);
    st_host_free(fh);
}

static void test_decide_rules_only(void **state)
{
    cls_fake_host *fh = probe_host("openai", 0);
    cJSON *o = st_process(fh, "{\"rules_only\": true}");

    (void)state;
    assert_string_equal(st_str(o, "provider"), "rules");
    assert_string_equal(st_str(o, "answer"), "from-rules");
    assert_int_equal(cls_fake_host_llm_calls(fh), 0);
    cJSON_Delete(o);
    st_host_free(fh);
}

/* Each family's schema offers exactly the family's types; the schemas
 * are freed with the instance (st_host_free checks for leaks). */
static void test_family_schemas(void **state)
{
    cls_fake_host *fh = probe_host("anthropic", 0);
    size_t f;

    (void)state;
    for (f = 0; f < cv_count(CV_FAMILIES); f++) {
        const char *family = cv_at(CV_FAMILIES, f);
        char input[128];
        const char *schema;
        cJSON *o;
        size_t t;

        snprintf(input, sizeof(input), "{\"family\": \"%s\"}", family);
        cls_fake_host_push_llm_reply(fh, CLS_OK, "{\"answer\": \"a\"}");
        o = st_process(fh, input);
        schema = st_str(o, "schema");
        assert_non_null(schema);
        assert_string_equal(st_str(o, "variant"), family);
        for (t = 0; t < cv_count(CV_TYPES); t++) {
            const char *type = cv_at(CV_TYPES, t);
            char quoted[64];

            snprintf(quoted, sizeof(quoted), "\"%s\"", type);
            assert_int_equal(strstr(schema, quoted) != NULL,
                             cv_family_allows(family, type));
        }
        cJSON_Delete(o);
    }
    st_host_free(fh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_list),
        cmocka_unit_test(test_note),
        cmocka_unit_test(test_decide_rules_provider),
        cmocka_unit_test(test_decide_llm_answer),
        cmocka_unit_test(test_decide_unknown_family),
        cmocka_unit_test(test_decide_fallback),
        cmocka_unit_test(test_decide_no_fallback),
        cmocka_unit_test(test_decide_rules_only),
        cmocka_unit_test(test_family_schemas),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
