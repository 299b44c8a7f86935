/*
 * test_normalization.c - the normalization stage through the fake host:
 * the unit cases of the bug-case log (placeholder currencies, hundred
 * million, scale words, non-money units), currency false positives,
 * source-field precedence, and the LLM path with its fallback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stagetest.h"

struct unit_case {
    const char *indicator; /* JSON object */
    const char *unit_type;
    const char *scale;
    double multiplier;
    const char *currency; /* NULL: none */
    int money;
};

static const struct unit_case cases[] = {
    /* Placeholder currency: money, no code, scale from the field. */
    {"{\"id\":\"IRN_GOVREV\",\"name\":\"Government Revenue\","
     "\"units\":\"National currency\",\"scale\":\"Billions\","
     "\"periodicity\":\"Annual\"}",
     "currency-amount", "billions", 1e9, NULL, 1},
    {"{\"id\":\"X_LCU\",\"name\":\"Government Revenue\","
     "\"units\":\"Local currency\",\"scale\":\"Billions\"}",
     "currency-amount", "billions", 1e9, NULL, 1},
    /* Hundred million is 1e8 and beats a conflicting scale field. */
    {"{\"id\":\"CHN_GDP_Q2\",\"name\":\"GDP Constant Prices\","
     "\"units\":\"CNY Hundred Million\",\"scale\":\"Millions\"}",
     "currency-amount", "hundred-millions", 1e8, "CNY", 1},
    {"{\"id\":\"T\",\"name\":\"Output\",\"units\":\"Hundred Tonnes\"}",
     "physical", "hundreds", 1e2, NULL, 0},
    /* Different scales of the same currency. */
    {"{\"id\":\"A\",\"name\":\"Total Assets\","
     "\"units\":\"Millions of U.S. Dollars\"}",
     "currency-amount", "millions", 1e6, "USD", 1},
    {"{\"id\":\"B\",\"name\":\"Treasury General Account\","
     "\"units\":\"Billions of U.S. Dollars\"}",
     "currency-amount", "billions", 1e9, "USD", 1},
    /* Units that are not money. */
    {"{\"id\":\"P\",\"name\":\"Inflation\",\"units\":\"%\"}", "percentage",
     "ones", 1, NULL, 0},
    {"{\"id\":\"I\",\"name\":\"Index\",\"units\":\"Points\"}", "index", "ones",
     1, NULL, 0},
    {"{\"id\":\"C\",\"name\":\"Temperature\",\"units\":\"Celsius\"}",
     "physical", "ones", 1, NULL, 0},
    {"{\"id\":\"R\",\"name\":\"Precipitation\",\"units\":\"mm\"}", "physical",
     "ones", 1, NULL, 0},
    {"{\"id\":\"E\",\"name\":\"Employed Persons\",\"units\":\"Thousand\"}",
     "count", "thousands", 1e3, NULL, 0},
    {"{\"id\":\"ARM_TOURISTS\",\"name\":\"Tourist Arrivals\","
     "\"units\":\"Thousands\",\"periodicity\":\"Quarterly\"}",
     "count", "thousands", 1e3, NULL, 0},
    {"{\"id\":\"D\",\"name\":\"GDP Deflator\",\"units\":\"points\"}", "index",
     "ones", 1, NULL, 0},
    {"{\"id\":\"G\",\"name\":\"Government Debt\",\"units\":\"USD Million\"}",
     "currency-amount", "millions", 1e6, "USD", 1},
    /* Whole tokens only: English words are not codes or units. */
    {"{\"id\":\"W1\",\"name\":\"CPI\",\"units\":\"try All\"}", "unknown",
     "ones", 1, NULL, 0},
    {"{\"id\":\"W2\",\"name\":\"Rate\",\"units\":\"years/adults\"}", "unknown",
     "ones", 1, NULL, 0},
    {"{\"id\":\"W3\",\"name\":\"Exports to France\","
     "\"units\":\"treatments\"}",
     "unknown", "ones", 1, NULL, 0},
    /* A magnitude after "per" is a denominator. */
    {"{\"id\":\"M\",\"name\":\"Mortality\",\"units\":\"per 1,000 people\"}",
     "rate", "ones", 1, NULL, 0},
    {"{\"id\":\"K\",\"name\":\"Deaths\",\"units\":\"per thousand\"}", "rate",
     "ones", 1, NULL, 0},
    /* Short forms and South Asian scales. */
    {"{\"id\":\"S1\",\"name\":\"Budget\",\"units\":\"INR crores\"}",
     "currency-amount", "crores", 1e7, "INR", 1},
    {"{\"id\":\"S2\",\"name\":\"Sales\",\"units\":\"INR lakh\"}",
     "currency-amount", "lakhs", 1e5, "INR", 1},
    {"{\"id\":\"S3\",\"name\":\"Debt\",\"units\":\"USD bn\"}",
     "currency-amount", "billions", 1e9, "USD", 1},
    {"{\"id\":\"S4\",\"name\":\"Debt\",\"units\":\"EUR mn\"}",
     "currency-amount", "millions", 1e6, "EUR", 1},
    {"{\"id\":\"S5\",\"name\":\"Oil\",\"units\":\"BBL/D/1K\"}", "physical",
     "thousands", 1e3, NULL, 0},
    {"{\"id\":\"S6\",\"name\":\"GDP\",\"units\":\"KRW Trillion\"}",
     "currency-amount", "trillions", 1e12, "KRW", 1},
    /* Source fields win over the unit text. */
    {"{\"id\":\"F1\",\"name\":\"Imports\",\"units\":\"AWG Million\","
     "\"currency_code\":null}",
     "currency-amount", "millions", 1e6, "AWG", 1},
    {"{\"id\":\"F2\",\"name\":\"Aid\",\"units\":\"USD\","
     "\"currency_code\":\"EUR\"}",
     "currency-amount", "ones", 1, "EUR", 1},
    {"{\"id\":\"F3\",\"name\":\"Claims\",\"units\":\"Thousand\","
     "\"scale\":\"Millions\"}",
     "count", "millions", 1e6, NULL, 0},
    /* A price of a currency is not an amount of money. */
    {"{\"id\":\"FX\",\"name\":\"Official FX Rate (XOF)\",\"units\":\"XOF\","
     "\"currency_code\":\"XOF\"}",
     "currency-amount", "ones", 1, "XOF", 0},
    /* Units empty: the unit text comes from the name. */
    {"{\"id\":\"WB\",\"name\":\"GDP per capita (current US$)\","
     "\"units\":null}",
     "currency-amount", "ones", 1, "USD", 1},
};

static void check_case(cls_fake_host *fh, const struct unit_case *c)
{
    cJSON *o = st_indicator(fh, c->indicator);
    const char *cur = st_str(o, "currency");

    if (strcmp(st_str(o, "unit_type"), c->unit_type) != 0 ||
        strcmp(st_str(o, "parsed_scale"), c->scale) != 0 ||
        st_num(o, "scale_multiplier") != c->multiplier ||
        st_bool(o, "is_currency_denominated") != c->money ||
        (c->currency == NULL) != (cur == NULL) ||
        (cur != NULL && strcmp(cur, c->currency) != 0))
        fail_msg("%s: got %s %s %g %s money=%d (%s)", c->indicator,
                 st_str(o, "unit_type"), st_str(o, "parsed_scale"),
                 st_num(o, "scale_multiplier"), cur ? cur : "null",
                 st_bool(o, "is_currency_denominated"), st_str(o, "reasoning"));
    assert_true(st_num(o, "confidence") >= 0 && st_num(o, "confidence") <= 1);
    assert_non_null(st_str(o, "reasoning"));
    assert_string_equal(st_str(o, "provider"), "rules");
    cJSON_Delete(o);
}

static void test_unit_cases(void **state)
{
    cls_fake_host *fh = st_host(cls_stage_entry_v1(), "rules", 0, NULL);
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_case(fh, &cases[i]);
    st_host_free(fh);
}

/* Two series in different scales compare correctly once normalized. */
static void test_mixed_scales_combine(void **state)
{
    cls_fake_host *fh = st_host(cls_stage_entry_v1(), "rules", 0, NULL);
    cJSON *a = st_indicator(fh, cases[4].indicator);
    cJSON *b = st_indicator(fh, cases[5].indicator);
    double in_billions = 8900000 * st_num(a, "scale_multiplier") / 1e9 -
                         750 * st_num(b, "scale_multiplier") / 1e9;

    (void)state;
    assert_true(in_billions > 8149.999 && in_billions < 8150.001);
    cJSON_Delete(a);
    cJSON_Delete(b);
    st_host_free(fh);
}

static void test_hundred_million_value(void **state)
{
    cls_fake_host *fh = st_host(cls_stage_entry_v1(), "rules", 0, NULL);
    cJSON *o = st_indicator(fh, cases[2].indicator);
    double usd_bn = 630101 * st_num(o, "scale_multiplier") / 7.2 / 1e9;

    (void)state;
    assert_true(usd_bn > 8751.39 && usd_bn < 8751.41);
    assert_string_equal(st_str(o, "scale_source"), "units");
    cJSON_Delete(o);
    st_host_free(fh);
}

static const char reply_ok[] =
    "{\"parsed_scale\":\"millions\",\"unit_type\":\"currency-amount\","
    "\"currency\":\"usd\",\"is_currency_denominated\":true,"
    "\"confidence\":0.8,\"reasoning\":\"USD Million\"}";

static void test_llm_reply_mapped(void **state)
{
    cls_fake_host *fh =
        st_host(cls_stage_entry_v1(), "openai", 0, CLASSIFY_PLUGIN_DIR);
    cJSON *o;

    (void)state;
    assert_int_equal(cls_fake_host_push_llm_reply(fh, CLS_OK, reply_ok),
                     CLS_OK);
    assert_int_equal(cls_fake_host_push_llm_reply(fh, CLS_OK, reply_ok),
                     CLS_OK);
    o = st_indicator(fh,
                     "{\"id\":\"a\",\"name\":\"Debt\","
                     "\"units\":\"USD Million\",\"currency_code\":\"EUR\"}");
    assert_string_equal(st_str(o, "unit_type"), "currency-amount");
    assert_string_equal(st_str(o, "parsed_scale"), "millions");
    /* The source's currency_code wins over the model. */
    assert_string_equal(st_str(o, "currency"), "EUR");
    assert_true(st_num(o, "scale_multiplier") == 1e6);
    cJSON_Delete(o);
    o = st_indicator(fh, "{\"id\":\"b\",\"name\":\"Exports\","
                         "\"units\":\"USD Million\"}");
    /* A lower-case code from the model is not a code. */
    assert_null(st_str(o, "currency"));
    cJSON_Delete(o);

    assert_int_equal(cls_fake_host_llm_calls(fh), 2);
    assert_string_equal(cls_fake_host_llm_system(fh, 0),
                        cls_fake_host_llm_system(fh, 1));
    assert_null(strstr(cls_fake_host_llm_system(fh, 0), "{{"));
    assert_non_null(
        strstr(cls_fake_host_llm_system(fh, 0), "hundred-millions"));
    assert_null(strstr(cls_fake_host_llm_system(fh, 0), "Debt"));
    assert_non_null(strstr(cls_fake_host_llm_user(fh, 0), "\"Debt\""));
    assert_non_null(strstr(cls_fake_host_llm_user(fh, 1), "\"Exports\""));
    st_host_free(fh);
}

static void test_llm_failure_falls_back(void **state)
{
    cls_fake_host *fh =
        st_host(cls_stage_entry_v1(), "anthropic", 1, CLASSIFY_PLUGIN_DIR);
    cJSON *o;

    (void)state;
    cls_fake_host_push_llm_reply(fh, CLS_FAIL, "refused");
    cls_fake_host_push_llm_reply(fh, CLS_OK,
                                 "{\"parsed_scale\":\"lots\","
                                 "\"unit_type\":\"currency-amount\","
                                 "\"currency\":null,"
                                 "\"is_currency_denominated\":true,"
                                 "\"confidence\":0.8,\"reasoning\":\"x\"}");
    o = st_indicator(fh, cases[2].indicator);
    assert_string_equal(st_str(o, "provider"), "rules-fallback");
    assert_string_equal(st_str(o, "parsed_scale"), "hundred-millions");
    cJSON_Delete(o);
    o = st_indicator(fh, cases[2].indicator);
    assert_string_equal(st_str(o, "provider"), "rules-fallback");
    cJSON_Delete(o);
    st_host_free(fh);
}

static void test_llm_failure_without_fallback(void **state)
{
    cls_fake_host *fh =
        st_host(cls_stage_entry_v1(), "openai", 0, CLASSIFY_PLUGIN_DIR);
    cls_error err = {0};
    char *out = NULL;

    (void)state;
    cls_fake_host_push_llm_reply(fh, CLS_RETRY, "rate limited");
    assert_int_equal(cls_fake_host_process(fh,
                                           "{\"indicator\":{\"id\":\"x\","
                                           "\"name\":\"n\"},\"results\":{}}",
                                           &out, &err),
                     CLS_RETRY);
    free(out);
    st_host_free(fh);
}

static void test_missing_prompt_refused(void **state)
{
    cls_fake_host *fh = cls_fake_host_new();
    cls_error err = {0};

    (void)state;
    cls_fake_host_set_provider(fh, "openai", 0);
    cls_fake_host_set_plugin_dir(fh, "/nonexistent");
    assert_int_equal(cls_fake_host_create(fh, cls_stage_entry_v1(), &err),
                     CLS_EINVAL);
    assert_non_null(strstr(err.message, "system.md"));
    cls_fake_host_free(fh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unit_cases),
        cmocka_unit_test(test_mixed_scales_combine),
        cmocka_unit_test(test_hundred_million_value),
        cmocka_unit_test(test_llm_reply_mapped),
        cmocka_unit_test(test_llm_failure_falls_back),
        cmocka_unit_test(test_llm_failure_without_fallback),
        cmocka_unit_test(test_missing_prompt_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
