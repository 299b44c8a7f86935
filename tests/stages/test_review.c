/*
 * test_review.c - the review stages (loaded from the built plugins like
 * the host loads them): the boolean review names exactly the inconsistent
 * fields, the final review corrects exactly those, refuses values outside
 * the vocabulary or breaking the family/type table, and follows the LLM's
 * per-field decisions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stagetest.h"

/* Government debt in money, put in price-value as a stock summed over
 * the period with a made-up orientation. */
static const char inconsistent[] =
    "{\"indicator\":{\"id\":\"d\",\"name\":\"Government Debt\","
    "\"units\":\"USD billions\"},\"results\":{"
    "\"normalization\":{\"unit_type\":\"currency-amount\","
    "\"is_currency_denominated\":true,\"confidence\":1},"
    "\"time-inference\":{\"time_basis\":\"point-in-time\","
    "\"reporting_frequency\":\"quarterly\",\"confidence\":0.9},"
    "\"family-assignment\":{\"family\":\"price-value\",\"confidence\":0.6},"
    "\"type-classification\":{\"indicator_type\":\"stock\","
    "\"temporal_aggregation\":\"period-total\","
    "\"heat_map_orientation\":\"sideways\",\"confidence\":0.5}}}";

/* Field names flagged in a boolean-review output, comma-separated. */
static void flagged(const cJSON *o, char *buf, size_t len)
{
    const cJSON *e;

    buf[0] = '\0';
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(o, "incorrect_fields"))
    {
        strncat(buf, st_str(e, "field"), len - strlen(buf) - 2);
        strcat(buf, ",");
    }
}

/* inconsistent with boolean_json added as results.boolean-review. */
static char *with_review(const char *boolean_json)
{
    size_t n = strlen(inconsistent) + strlen(boolean_json) + 32;
    char *s = malloc(n);
    size_t base = strlen(inconsistent) - 2;

    assert_non_null(s);
    memcpy(s, inconsistent, base);
    snprintf(s + base, n - base, ",\"boolean-review\":%s}}", boolean_json);
    return s;
}

static void test_boolean_review_flags(void **state)
{
    cls_fake_host *fh = st_host(st_load("boolean-review"), "rules", 0, NULL);
    cJSON *o = st_process(fh, inconsistent);
    char names[256];

    (void)state;
    flagged(o, names, sizeof(names));
    assert_string_equal(names, "indicator_type,temporal_aggregation,"
                               "heat_map_orientation,");
    assert_false(st_bool(o, "passed"));
    cJSON_Delete(o);
    st_host_free(fh);
}

static void test_final_review_applies(void **state)
{
    cls_fake_host *bh = st_host(st_load("boolean-review"), "rules", 0, NULL);
    cls_fake_host *fh = st_host(st_load("final-review"), "rules", 0, NULL);
    cJSON *b = st_process(bh, inconsistent);
    char *text = cJSON_PrintUnformatted(b);
    char *input = with_review(text);
    cJSON *o = st_process(fh, input);
    const cJSON *c;
    int n = 0;

    (void)state;
    assert_string_equal(st_str(o, "status"), "corrected");
    assert_string_equal(st_str(o, "family"), "price-value");
    assert_string_equal(st_str(o, "indicator_type"), "price");
    assert_string_equal(st_str(o, "temporal_aggregation"), "point-in-time");
    assert_string_equal(st_str(o, "heat_map_orientation"), "lower-is-positive");
    assert_string_equal(st_str(o, "time_basis"), "point-in-time");
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(o, "corrections"))
    {
        assert_non_null(st_str(c, "reason"));
        n++;
    }
    assert_int_equal(n, 3);
    cJSON_Delete(o);
    cJSON_Delete(b);
    free(text);
    free(input);
    st_host_free(bh);
    st_host_free(fh);
}

static void test_final_review_refuses(void **state)
{
    cls_fake_host *fh = st_host(st_load("final-review"), "rules", 0, NULL);
    char *input = with_review(
        "{\"passed\":false,\"incorrect_fields\":[{\"field\":\"family\","
        "\"reason\":\"x\",\"suggested\":\"bogus\"}]}");
    cJSON *o = st_process(fh, input);

    (void)state;
    assert_string_equal(st_str(o, "status"), "failed");
    assert_string_equal(st_str(o, "family"), "price-value");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "refused")), 1);
    cJSON_Delete(o);
    free(input);

    input = with_review("{\"passed\":true,\"incorrect_fields\":[]}");
    o = st_process(fh, input);
    assert_string_equal(st_str(o, "status"), "passed");
    assert_string_equal(st_str(o, "indicator_type"), "stock");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "corrections")),
                     0);
    cJSON_Delete(o);
    free(input);
    st_host_free(fh);
}

static void test_final_review_llm(void **state)
{
    cls_fake_host *fh =
        st_host(st_load("final-review"), "openai", 0, CLASSIFY_PLUGIN_DIR);
    char *input = with_review(
        "{\"passed\":false,\"incorrect_fields\":["
        "{\"field\":\"indicator_type\",\"reason\":\"x\",\"suggested\":"
        "\"price\"},{\"field\":\"heat_map_orientation\",\"reason\":\"y\","
        "\"suggested\":\"neutral\"}]}");
    cJSON *o;

    (void)state;
    cls_fake_host_push_llm_reply(
        fh, CLS_OK,
        "{\"decisions\":{\"indicator_type\":{\"value\":null,\"reason\":"
        "\"keep\"},\"heat_map_orientation\":{\"value\":"
        "\"lower-is-positive\",\"reason\":\"debt\"},\"family\":{\"value\":"
        "\"temporal\",\"reason\":\"not flagged\"}},"
        "\"confidence\":0.7,\"reasoning\":\"r\"}");
    o = st_process(fh, input);
    /* The type stays, the orientation changes, the unflagged family is
     * never touched. */
    assert_string_equal(st_str(o, "indicator_type"), "stock");
    assert_string_equal(st_str(o, "heat_map_orientation"), "lower-is-positive");
    assert_string_equal(st_str(o, "family"), "price-value");
    assert_string_equal(st_str(o, "status"), "failed");
    assert_null(strstr(cls_fake_host_llm_system(fh, 0), "{{"));
    cJSON_Delete(o);
    free(input);
    st_host_free(fh);
}

/* A family correction that leaves the type outside the new family is
 * undone and refused: a valid, consistent answer with status failed. */
static void test_final_review_combination(void **state)
{
    cls_fake_host *fh = st_host(st_load("final-review"), "rules", 0, NULL);
    char *input = with_review(
        "{\"passed\":false,\"incorrect_fields\":[{\"field\":\"family\","
        "\"reason\":\"x\",\"suggested\":\"temporal\"}]}");
    const cJSON *r;
    cJSON *o = st_process(fh, input);

    (void)state;
    assert_string_equal(st_str(o, "status"), "failed");
    assert_string_equal(st_str(o, "family"), "price-value");
    assert_string_equal(st_str(o, "indicator_type"), "stock");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "corrections")),
                     0);
    r = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "refused"), 0);
    assert_non_null(r);
    assert_string_equal(st_str(r, "field"), "family");
    assert_string_equal(st_str(r, "to"), "temporal");
    assert_non_null(strstr(st_str(r, "reason"), "outside the family"));
    cJSON_Delete(o);
    free(input);
    st_host_free(fh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boolean_review_flags),
        cmocka_unit_test(test_final_review_applies),
        cmocka_unit_test(test_final_review_refuses),
        cmocka_unit_test(test_final_review_llm),
        cmocka_unit_test(test_final_review_combination),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
