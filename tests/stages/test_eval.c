/*
 * test_eval.c - core_eval on small files: per-field accuracy, null labels
 * not counted, failed and missing items, confusion counts and the JSON
 * report, and errors naming file and line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "eval/eval.h"

static char dir[] = "/tmp/test_eval_XXXXXX";

static void write_file(const char *name, const char *text, char *path,
                       size_t len)
{
    FILE *f;

    snprintf(path, len, "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char indicators[] = "{\"id\":\"a\",\"name\":\"Alpha\"}\n"
                                 "{\"id\":\"b\",\"name\":\"Beta\"}\n"
                                 "{\"id\":\"c\",\"name\":\"Gamma\"}\n";

static const char labels[] =
    "{\"id\":\"a\",\"family\":\"price-value\",\"indicator_type\":\"price\","
    "\"heat_map_orientation\":\"neutral\",\"temporal_aggregation\":null,"
    "\"is_currency_denominated\":true}\n"
    "{\"id\":\"b\",\"family\":\"temporal\",\"indicator_type\":\"duration\"}\n"
    "{\"id\":\"c\",\"family\":\"qualitative\"}\n"
    "{\"id\":\"z\",\"family\":\"temporal\"}\n";

/* a: all right; b: family right, type wrong; c: the call fails. */
static int classify(void *arg, const char *indicator, char **out, char *err,
                    size_t errlen)
{
    (*(int *)arg)++;
    if (strstr(indicator, "Gamma") != NULL) {
        snprintf(err, errlen, "no answer");
        return -1;
    }
    if (strstr(indicator, "Alpha") != NULL)
        *out = strdup("{\"family\":\"price-value\",\"indicator_type\":"
                      "\"price\",\"heat_map_orientation\":\"neutral\","
                      "\"temporal_aggregation\":\"point-in-time\","
                      "\"is_currency_denominated\":true}");
    else
        *out = strdup("{\"family\":\"temporal\",\"indicator_type\":"
                      "\"probability\"}");
    return 0;
}

static void test_scores(void **state)
{
    struct core_eval *ev = core_eval_new();
    char ip[256], lp[256], jp[256], err[256];
    size_t ok = 0, total = 0;
    int calls = 0;
    FILE *f;
    cJSON *j;
    char buf[8192] = "";

    (void)state;
    assert_non_null(mkdtemp(dir));
    write_file("ind.jsonl", indicators, ip, sizeof(ip));
    write_file("lab.jsonl", labels, lp, sizeof(lp));
    assert_int_equal(core_eval_load_indicators(ev, ip, err, sizeof(err)), 3);
    assert_int_equal(core_eval_load_labels(ev, lp, err, sizeof(err)), 4);
    assert_int_equal(core_eval_run(ev, classify, &calls, err, sizeof(err)), 0);
    assert_int_equal(calls, 3);
    assert_int_equal(core_eval_items(ev), 3);
    assert_int_equal(core_eval_failures(ev), 1);
    assert_int_equal(core_eval_missing(ev), 1);

    assert_true(core_eval_accuracy(ev, "family", &ok, &total) > 0.66);
    assert_int_equal(ok, 2);
    assert_int_equal(total, 3);
    core_eval_accuracy(ev, "indicator_type", &ok, &total);
    assert_int_equal(ok, 1);
    assert_int_equal(total, 2);
    assert_true(core_eval_accuracy(ev, "temporal_aggregation", &ok, &total) <
                0);
    assert_int_equal(total, 0);
    assert_true(core_eval_accuracy(ev, "nonsense", NULL, NULL) < 0);

    snprintf(jp, sizeof(jp), "%s/out.json", dir);
    f = fopen(jp, "w+");
    assert_int_equal(core_eval_print_json(ev, f), 0);
    rewind(f);
    assert_true(fread(buf, 1, sizeof(buf) - 1, f) > 0);
    fclose(f);
    j = cJSON_Parse(buf);
    assert_non_null(j);
    assert_int_equal(
        cJSON_GetObjectItem(
            cJSON_GetObjectItem(
                cJSON_GetObjectItem(cJSON_GetObjectItem(j, "confusion"),
                                    "indicator_type"),
                "duration"),
            "probability")
            ->valueint,
        1);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "mismatches")),
                     2);
    cJSON_Delete(j);
    assert_int_equal(core_eval_run(ev, classify, &calls, err, sizeof(err)), -1);
    core_eval_free(ev);
    unlink(ip);
    unlink(lp);
    unlink(jp);
}

static void test_bad_line(void **state)
{
    struct core_eval *ev = core_eval_new();
    char path[256], err[256];

    (void)state;
    write_file("bad.jsonl", "{\"id\":\"a\"}\nnot json\n", path, sizeof(path));
    assert_int_equal(core_eval_load_labels(ev, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bad.jsonl:2"));
    assert_int_equal(
        core_eval_load_indicators(ev, "/nonexistent/x", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/x"));
    core_eval_free(ev);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scores),
        cmocka_unit_test(test_bad_line),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
