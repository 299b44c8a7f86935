/*
 * test_template.c - unit tests of the template stage against the SDK's
 * fake host: the rule, the options, the LLM branch and its fallback, and
 * that destroy() frees all instance memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <classify/fakehost.h>

/* The plugin's entry function, linked in from its object file. */
const cls_stage_desc *cls_stage_entry_v1(void);

static const char percent_input[] =
    "{\"indicator\":{\"id\":\"x1\",\"name\":\"Unemployment Rate\","
    "\"units\":\"%\"},\"results\":{}}";

static const char level_input[] =
    "{\"indicator\":{\"id\":\"x2\",\"name\":\"Crude Oil Stocks\","
    "\"units\":\"Thousand barrels\"},\"results\":{}}";

/* Create the stage on fh, failing the test on error. */
static void create_ok(cls_fake_host *fh)
{
    cls_error err = {0};

    assert_int_equal(cls_fake_host_create(fh, cls_stage_entry_v1(), &err),
                     CLS_OK);
}

static void test_rule_labels_from_units(void **state)
{
    cls_fake_host *fh = cls_fake_host_new();
    cls_error err = {0};
    char *out = NULL;

    (void)state;
    assert_int_equal(cls_fake_host_set_option(fh, "note", "unit test"), CLS_OK);
    create_ok(fh);

    assert_int_equal(cls_fake_host_process(fh, percent_input, &out, &err),
                     CLS_OK);
    assert_string_equal(out, "{\"label\":\"percent\",\"confidence\":0.5,"
                             "\"method\":\"rules\",\"note\":\"unit test\"}");
    free(out);

    assert_int_equal(cls_fake_host_process(fh, level_input, &out, &err),
                     CLS_OK);
    assert_non_null(strstr(out, "\"label\":\"level\""));
    free(out);

    assert_int_equal(cls_fake_host_llm_calls(fh), 0);
    assert_int_equal(cls_fake_host_destroy(fh), 0);
    cls_fake_host_free(fh);
}

static void test_option_out_of_range(void **state)
{
    cls_fake_host *fh = cls_fake_host_new();
    cls_error err = {0};

    (void)state;
    cls_fake_host_set_option(fh, "min_confidence", "1.5");
    assert_int_equal(cls_fake_host_create(fh, cls_stage_entry_v1(), &err),
                     CLS_EINVAL);
    assert_string_equal(err.message,
                        "option \"min_confidence\" is 1.5, outside [0, 1]");
    cls_fake_host_free(fh);
}

static void test_unknown_option(void **state)
{
    cls_fake_host *fh = cls_fake_host_new();
    cls_error err = {0};

    (void)state;
    cls_fake_host_set_option(fh, "colour", "blue");
    assert_int_equal(cls_fake_host_create(fh, cls_stage_entry_v1(), &err),
                     CLS_EINVAL);
    assert_string_equal(err.message, "unknown option \"colour\"");
    cls_fake_host_free(fh);
}

static void test_llm_answer_used(void **state)
{
    cls_fake_host *fh = cls_fake_host_new();
    cls_error err = {0};
    char *out = NULL;

    (void)state;
    cls_fake_host_set_provider(fh, "openai", 0);
    cls_fake_host_push_llm_reply(fh, CLS_OK,
                                 "{\"label\":\"level\",\"confidence\":0.9}");
    create_ok(fh);

    assert_int_equal(cls_fake_host_process(fh, percent_input, &out, &err),
                     CLS_OK);
    assert_string_equal(out, "{\"label\":\"level\",\"confidence\":0.9,"
                             "\"method\":\"llm\",\"note\":\"\"}");
    free(out);

    assert_int_equal(cls_fake_host_llm_calls(fh), 1);
    assert_non_null(strstr(cls_fake_host_llm_user(fh, 0), "Unemployment"));
    assert_non_null(strstr(cls_fake_host_llm_system(fh, 0), "JSON object"));
    assert_int_equal(cls_fake_host_destroy(fh), 0);
    cls_fake_host_free(fh);
}

static void test_llm_failure_falls_back(void **state)
{
    cls_fake_host *fh = cls_fake_host_new();
    cls_error err = {0};
    char *out = NULL;

    (void)state;
    cls_fake_host_set_provider(fh, "anthropic", 1);
    cls_fake_host_push_llm_reply(fh, CLS_FAIL, "model refused");
    create_ok(fh);

    assert_int_equal(cls_fake_host_process(fh, percent_input, &out, &err),
                     CLS_OK);
    assert_non_null(strstr(out, "\"method\":\"rules\""));
    assert_non_null(strstr(cls_fake_host_log(fh), "model refused"));
    free(out);
    cls_fake_host_free(fh);
}

static void test_llm_failure_without_fallback(void **state)
{
    cls_fake_host *fh = cls_fake_host_new();
    cls_error err = {0};
    char *out = NULL;

    (void)state;
    cls_fake_host_set_provider(fh, "openai", 0);
    cls_fake_host_push_llm_reply(fh, CLS_RETRY, "rate limited");
    create_ok(fh);

    assert_int_equal(cls_fake_host_process(fh, percent_input, &out, &err),
                     CLS_RETRY);
    assert_null(out);
    assert_string_equal(err.message, "rate limited");
    cls_fake_host_free(fh);
}

static void test_missing_name_fails(void **state)
{
    cls_fake_host *fh = cls_fake_host_new();
    cls_error err = {0};
    char *out = NULL;

    (void)state;
    create_ok(fh);
    assert_int_equal(
        cls_fake_host_process(fh, "{\"indicator\":{}}", &out, &err), CLS_FAIL);
    assert_string_equal(err.message, "template: input has no indicator.name");
    cls_fake_host_free(fh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule_labels_from_units),
        cmocka_unit_test(test_option_out_of_range),
        cmocka_unit_test(test_unknown_option),
        cmocka_unit_test(test_llm_answer_used),
        cmocka_unit_test(test_llm_failure_falls_back),
        cmocka_unit_test(test_llm_failure_without_fallback),
        cmocka_unit_test(test_missing_name_fails),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
