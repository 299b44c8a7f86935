/*
 * test_chain.c - the six stages chained through fake hosts, with the
 * built plugins loaded by dlopen:
 *   - accuracy on the labelled dev set through core_eval, asserting the
 *     floor measured when the rules were last changed (docs/accuracy.md);
 *   - every edge case (and every indicator it cites) runs without error
 *     and yields only values of the vocabulary;
 *   - type and aggregation of the name-routing cases of the bug log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "eval/eval.h"
#include "stagetest.h"
#include "vocab.h"

/* Accuracy floors on data/labels_dev.jsonl (see docs/accuracy.md). */
#define FLOOR_FAMILY      1.00
#define FLOOR_TYPE        0.97
#define FLOOR_AGGREGATION 0.97
#define FLOOR_ORIENTATION 0.94

static const char *const stage_names[] = {
    "normalization",       "time-inference", "family-assignment",
    "type-classification", "boolean-review", "final-review",
};

#define N_STAGES (sizeof(stage_names) / sizeof(stage_names[0]))

struct chain {
    cls_fake_host *fh[N_STAGES];
};

static void chain_open(struct chain *c)
{
    size_t i;

    for (i = 0; i < N_STAGES; i++)
        c->fh[i] = st_host(st_load(stage_names[i]), "rules", 0, NULL);
}

static void chain_close(struct chain *c)
{
    size_t i;

    for (i = 0; i < N_STAGES; i++)
        st_host_free(c->fh[i]);
}

/* Run all stages on indicator; returns {"indicator", "results"}. */
static cJSON *chain_run(struct chain *c, cJSON *indicator)
{
    cJSON *input = cJSON_CreateObject();
    cJSON *results = cJSON_AddObjectToObject(input, "results");
    size_t i;

    cJSON_AddItemToObject(input, "indicator", indicator);
    for (i = 0; i < N_STAGES; i++) {
        char *text = cJSON_PrintUnformatted(input);
        cJSON *out = st_process(c->fh[i], text);

        free(text);
        cJSON_AddItemToObject(results, stage_names[i], out);
    }
    return input;
}

static int classify(void *arg, const char *indicator_json, char **result,
                    char *err, size_t errlen)
{
    cJSON *ind = cJSON_Parse(indicator_json);
    cJSON *all;
    cJSON *final;

    if (ind == NULL) {
        snprintf(err, errlen, "indicator is not JSON");
        return -1;
    }
    all = chain_run(arg, ind);
    final = cJSON_GetObjectItem(cJSON_GetObjectItem(all, "results"),
                                "final-review");
    *result = cJSON_PrintUnformatted(final);
    cJSON_Delete(all);
    return *result != NULL ? 0 : -1;
}

static void check_floor(const struct core_eval *ev, const char *field,
                        double floor)
{
    size_t ok = 0;
    size_t total = 0;
    double acc = core_eval_accuracy(ev, field, &ok, &total);

    if (acc + 1e-9 < floor)
        fail_msg("%s accuracy %.3f (%zu/%zu) below the floor %.2f", field, acc,
                 ok, total, floor);
}

static void test_accuracy_floor(void **state)
{
    struct core_eval *ev = core_eval_new();
    struct chain c;
    char err[256];

    (void)state;
    assert_non_null(ev);
    assert_true(core_eval_load_indicators(ev,
                                          CLASSIFY_DATA_DIR "/indicators.jsonl",
                                          err, sizeof(err)) > 3000);
    assert_true(core_eval_load_labels(ev, CLASSIFY_DATA_DIR "/labels_dev.jsonl",
                                      err, sizeof(err)) == 101);
    chain_open(&c);
    assert_int_equal(core_eval_run(ev, classify, &c, err, sizeof(err)), 0);
    chain_close(&c);
    core_eval_print_table(ev, stdout);
    assert_int_equal(core_eval_failures(ev), 0);
    assert_int_equal(core_eval_missing(ev), 0);
    check_floor(ev, "family", FLOOR_FAMILY);
    check_floor(ev, "indicator_type", FLOOR_TYPE);
    check_floor(ev, "temporal_aggregation", FLOOR_AGGREGATION);
    check_floor(ev, "heat_map_orientation", FLOOR_ORIENTATION);
    core_eval_free(ev);
}

/* Enumerated output fields of each stage and their vocabulary. */
static const struct {
    const char *stage;
    const char *field;
    enum cv_list list;
} enum_fields[] = {
    {"normalization", "unit_type", CV_UNIT_TYPES},
    {"normalization", "parsed_scale", CV_SCALES},
    {"normalization", "normalized_scale", CV_SCALES},
    {"time-inference", "reporting_frequency", CV_FREQUENCIES},
    {"time-inference", "time_basis", CV_TIME_BASES},
    {"time-inference", "source_used", CV_TIME_SOURCES},
    {"time-inference", "cumulative_pattern", CV_CUMULATIVE_PATTERNS},
    {"family-assignment", "family", CV_FAMILIES},
    {"type-classification", "indicator_type", CV_TYPES},
    {"type-classification", "temporal_aggregation", CV_AGGREGATIONS},
    {"type-classification", "heat_map_orientation", CV_ORIENTATIONS},
    {"final-review", "status", CV_REVIEW_STATUSES},
    {"final-review", "family", CV_FAMILIES},
    {"final-review", "indicator_type", CV_TYPES},
    {"final-review", "temporal_aggregation", CV_AGGREGATIONS},
    {"final-review", "heat_map_orientation", CV_ORIENTATIONS},
    {"final-review", "time_basis", CV_TIME_BASES},
    {"final-review", "reporting_frequency", CV_FREQUENCIES},
};

static void check_vocabulary(const cJSON *all, const char *what)
{
    const cJSON *results = cJSON_GetObjectItem(all, "results");
    const cJSON *final = cJSON_GetObjectItem(results, "final-review");
    size_t i;

    for (i = 0; i < sizeof(enum_fields) / sizeof(enum_fields[0]); i++) {
        const cJSON *r = cJSON_GetObjectItem(results, enum_fields[i].stage);
        const char *v = st_str(r, enum_fields[i].field);

        if (cv_canonical(enum_fields[i].list, v) == NULL)
            fail_msg("%s: %s.%s = \"%s\" is out of vocabulary", what,
                     enum_fields[i].stage, enum_fields[i].field,
                     v ? v : "(null)");
    }
    if (!cv_family_allows(st_str(final, "family"),
                          st_str(final, "indicator_type")))
        fail_msg("%s: type %s not allowed in family %s", what,
                 st_str(final, "indicator_type"), st_str(final, "family"));
    for (i = 0; i < N_STAGES; i++) {
        double conf =
            st_num(cJSON_GetObjectItem(results, stage_names[i]), "confidence");

        if (conf < 0 || conf > 1)
            fail_msg("%s: %s confidence %g", what, stage_names[i], conf);
    }
}

/* An indicator carrying the edge case's value in the field it names. */
static cJSON *edge_indicator(const cJSON *edge)
{
    const char *field = st_str(edge, "field");
    const char *value = st_str(edge, "value");
    cJSON *ind = cJSON_CreateObject();

    cJSON_AddStringToObject(ind, "id", st_str(edge, "id"));
    cJSON_AddStringToObject(ind, "name", "Edge case");
    if (value == NULL || field == NULL)
        return ind;
    if (strstr(field, "sample_values") != NULL) {
        cJSON *arr = cJSON_AddArrayToObject(ind, "sample_values");
        int i;

        for (i = 0; i < 3; i++) {
            cJSON *e = cJSON_CreateObject();

            cJSON_AddStringToObject(e, "date", value);
            cJSON_AddNumberToObject(e, "value", i + 1);
            cJSON_AddItemToArray(arr, e);
        }
        return ind;
    }
    cJSON_DeleteItemFromObject(ind, "name");
    cJSON_AddStringToObject(ind, "name",
                            strcmp(field, "name") == 0 ? value : "Edge case");
    if (strstr(field, "periodicity") != NULL)
        cJSON_AddStringToObject(ind, "periodicity", value);
    else if (strcmp(field, "scale") == 0)
        cJSON_AddStringToObject(ind, "scale", value);
    else if (strcmp(field, "name") != 0)
        cJSON_AddStringToObject(ind, "units", value);
    return ind;
}

/* The indicators file as an id -> line lookup (linear, small use). */
static char **read_lines(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    char **lines = NULL;
    char *line = NULL;
    size_t cap = 0;
    size_t lcap = 0;

    assert_non_null(f);
    *n = 0;
    while (getline(&line, &cap, f) > 0) {
        if (*n == lcap) {
            lcap = lcap ? lcap * 2 : 512;
            lines = realloc(lines, lcap * sizeof(*lines));
            assert_non_null(lines);
        }
        lines[(*n)++] = strdup(line);
    }
    free(line);
    fclose(f);
    return lines;
}

static void run_cited(struct chain *c, const cJSON *edge, char **lines,
                      size_t n, size_t *ran)
{
    const cJSON *id;

    cJSON_ArrayForEach(id, cJSON_GetObjectItem(edge, "example_indicator_ids"))
    {
        char key[300];
        size_t i;

        snprintf(key, sizeof(key), "{\"id\": \"%s\"", id->valuestring);
        for (i = 0; i < n; i++) {
            cJSON *all;

            if (strncmp(lines[i], key, strlen(key)) != 0)
                continue;
            all = chain_run(c, cJSON_Parse(lines[i]));
            check_vocabulary(all, id->valuestring);
            cJSON_Delete(all);
            (*ran)++;
            break;
        }
    }
}

static void test_edge_cases(void **state)
{
    size_t n_edges = 0;
    size_t n_lines = 0;
    char **edges = read_lines(CLASSIFY_DATA_DIR "/edge_cases.jsonl", &n_edges);
    char **lines = read_lines(CLASSIFY_DATA_DIR "/indicators.jsonl", &n_lines);
    size_t cited = 0;
    struct chain c;
    size_t i;

    (void)state;
    assert_true(n_edges >= 200);
    chain_open(&c);
    for (i = 0; i < n_edges; i++) {
        cJSON *edge = cJSON_Parse(edges[i]);
        cJSON *all;

        assert_non_null(edge);
        all = chain_run(&c, edge_indicator(edge));
        check_vocabulary(all, st_str(edge, "id"));
        cJSON_Delete(all);
        run_cited(&c, edge, lines, n_lines, &cited);
        cJSON_Delete(edge);
    }
    chain_close(&c);
    printf("edge cases: %zu synthesized, %zu cited indicators\n", n_edges,
           cited);
    assert_true(cited > 100);
    for (i = 0; i < n_edges; i++)
        free(edges[i]);
    for (i = 0; i < n_lines; i++)
        free(lines[i]);
    free(edges);
    free(lines);
}

struct routing_case {
    const char *indicator;
    const char *family;
    const char *type;
    const char *aggregation;
};

/* Name-keyword routing: the type and aggregation the stages must give. */
static const struct routing_case routing[] = {
    {"{\"id\":\"r1\",\"name\":\"GDP Deflator\",\"units\":\"points\","
     "\"periodicity\":\"Monthly\"}",
     "composite-derived", "index", "point-in-time"},
    {"{\"id\":\"r2\",\"name\":\"Government Debt\",\"units\":\"USD Million\","
     "\"periodicity\":\"Quarterly\"}",
     "physical-fundamental", "stock", "point-in-time"},
    {"{\"id\":\"r3\",\"name\":\"Government Revenues\",\"units\":"
     "\"USD Million\",\"periodicity\":\"Quarterly\"}",
     "physical-fundamental", "flow", "period-total"},
    {"{\"id\":\"r4\",\"name\":\"Government Revenue\",\"units\":"
     "\"USD Million\",\"periodicity\":\"Quarterly\"}",
     "physical-fundamental", "flow", "period-total"},
    {"{\"id\":\"r5\",\"name\":\"Balance of Trade\",\"units\":\"USD Million\","
     "\"periodicity\":\"Monthly\"}",
     "physical-fundamental", "balance", "period-total"},
    {"{\"id\":\"r6\",\"name\":\"Corruption Index\",\"units\":\"Points\","
     "\"periodicity\":\"Yearly\"}",
     "composite-derived", "index", "point-in-time"},
    {"{\"id\":\"r7\",\"name\":\"Tourist Arrivals\",\"units\":\"Thousands\","
     "\"periodicity\":\"Quarterly\"}",
     "numeric-measurement", "count", "period-total"},
    {"{\"id\":\"r8\",\"name\":\"Tourism Earnings\",\"units\":\"USD Million\"}",
     "physical-fundamental", "flow", "period-total"},
};

static void test_name_routing(void **state)
{
    struct chain c;
    size_t i;

    (void)state;
    chain_open(&c);
    for (i = 0; i < sizeof(routing) / sizeof(routing[0]); i++) {
        cJSON *all = chain_run(&c, cJSON_Parse(routing[i].indicator));
        const cJSON *final = cJSON_GetObjectItem(
            cJSON_GetObjectItem(all, "results"), "final-review");

        if (strcmp(st_str(final, "family"), routing[i].family) ||
            strcmp(st_str(final, "indicator_type"), routing[i].type) ||
            strcmp(st_str(final, "temporal_aggregation"),
                   routing[i].aggregation))
            fail_msg("%s: %s/%s/%s", routing[i].indicator,
                     st_str(final, "family"), st_str(final, "indicator_type"),
                     st_str(final, "temporal_aggregation"));
        cJSON_Delete(all);
    }
    chain_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_routing),
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_accuracy_floor),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
