/*
 * test_time.c - the time-inference stage: period labels parsed without
 * the time zone, dirty sample values (numeric strings, non-date labels,
 * duplicate dates, missing values), the cumulative detector (year-to-date,
 * negative totals, running totals, periodic series) and the frequency.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "series.h"
#include "stagetest.h"

struct period_case {
    const char *text;
    int ok;
    int y, m, d;
    char kind;
};

static const struct period_case periods[] = {
    {"2023", 1, 2023, 1, 1, 'A'},
    {"2023-Q1", 1, 2023, 1, 1, 'Q'},
    {"2023Q3", 1, 2023, 7, 1, 'Q'},
    {"2023-q4", 1, 2023, 10, 1, 'Q'},
    {"2023M01", 1, 2023, 1, 1, 'M'},
    {"2023M12", 1, 2023, 12, 1, 'M'},
    {"2023-W01", 1, 2023, 1, 2, 'W'},
    {"2023-W05", 1, 2023, 1, 30, 'W'},
    {"2023-02", 1, 2023, 2, 1, 'M'},
    {"2024-02-29", 1, 2024, 2, 29, 'D'},
    {"2023-01-31T12:00:00Z", 1, 2023, 1, 31, 'D'},
    {"last10YearsAvg", 0, 0, 0, 0, 0},
    {"last10YearsPeerAvg", 0, 0, 0, 0, 0},
    {"Q1", 0, 0, 0, 0, 0},
    {"2023-13", 0, 0, 0, 0, 0},
    {"2023-02-29", 0, 0, 0, 0, 0},
    {"2023-Q5", 0, 0, 0, 0, 0},
    {"2023M13", 0, 0, 0, 0, 0},
    {"2023-W54", 0, 0, 0, 0, 0},
    {"", 0, 0, 0, 0, 0},
    {"99", 0, 0, 0, 0, 0},
};

static void check_periods(void)
{
    size_t i;

    for (i = 0; i < sizeof(periods) / sizeof(periods[0]); i++) {
        const struct period_case *c = &periods[i];
        struct ts_period p;
        int ok = ts_parse_period(c->text, &p);

        if (ok != c->ok)
            fail_msg("\"%s\": parsed=%d, expected %d", c->text, ok, c->ok);
        if (!ok)
            continue;
        if (p.days != ts_days_from_civil(c->y, c->m, c->d) ||
            p.kind != c->kind || p.year != c->y)
            fail_msg("\"%s\": days %ld kind %c", c->text, p.days, p.kind);
    }
    assert_false(ts_parse_period(NULL, &(struct ts_period){0}));
}

static void test_periods_any_time_zone(void **state)
{
    (void)state;
    assert_int_equal(ts_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(ts_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(ts_days_from_civil(1969, 12, 31), -1);
    setenv("TZ", "Pacific/Kiritimati", 1);
    tzset();
    check_periods();
    setenv("TZ", "America/Adak", 1);
    tzset();
    check_periods();
    unsetenv("TZ");
    tzset();
}

static void test_numbers(void **state)
{
    double v = 0;

    (void)state;
    assert_true(ts_parse_number("13259.000", &v));
    assert_true(v == 13259);
    assert_true(ts_parse_number(" 1,288.869 ", &v));
    assert_true(v > 1288.868 && v < 1288.870);
    assert_true(ts_parse_number("-4.5", &v) && v == -4.5);
    assert_false(ts_parse_number("", &v));
    assert_false(ts_parse_number("n/a", &v));
    assert_false(ts_parse_number(".", &v));
    assert_false(ts_parse_number(NULL, &v));
}

/* The dirty series of the bug-case log, cleaned directly. */
static void test_clean_dirty_series(void **state)
{
    const struct ts_raw raw[] = {
        {"2024-03-31", 1, 13259},
        {"2024-06-30", 1, 13301},
        {"2024-06-30", 1, 13310},
        {"last10YearsAvg", 1, 12950},
        {"Q1", 1, 1},
        {"2024-09-30", 0, 0},
    };
    struct ts_point pts[6];
    struct ts_clean_stats st;
    size_t n;

    (void)state;
    n = ts_clean(raw, 6, pts, &st);
    assert_int_equal(n, 2);
    assert_true(pts[0].value == 13259);
    assert_int_equal(pts[0].period.days, ts_days_from_civil(2024, 3, 31));
    assert_true(pts[1].value == 13310);
    assert_int_equal(st.skipped_labels, 2);
    assert_int_equal(st.duplicate_dates, 1);
    assert_int_equal(st.missing_values, 1);
}

static const char dirty_indicator[] =
    "{\"id\":\"ARG_EMP\",\"name\":\"Employed Persons\",\"units\":\"Thousand\","
    "\"sample_values\":["
    "{\"date\":\"2024-03-31\",\"value\":\"13259.000\"},"
    "{\"date\":\"2024-06-30\",\"value\":13301},"
    "{\"date\":\"2024-06-30\",\"value\":13310},"
    "{\"date\":\"last10YearsAvg\",\"value\":12950},"
    "{\"date\":\"Q1\",\"value\":1},"
    "{\"date\":\"2024-09-30\",\"value\":\"\"},"
    "{\"date\":\"2024-12-31\",\"value\":\"n/a\"},"
    "{\"date\":\"2025-03-31\",\"value\":\".\"},"
    "{\"date\":\"2025-06-30\",\"value\":null}]}";

static void test_stage_dirty_samples(void **state)
{
    cls_fake_host *fh = st_host(cls_stage_entry_v1(), "rules", 0, NULL);
    cJSON *o = st_indicator(fh, dirty_indicator);
    const cJSON *s = cJSON_GetObjectItem(o, "samples");
    const cJSON *ev = cJSON_GetObjectItem(o, "cumulative_evidence");

    (void)state;
    assert_true(st_num(s, "input") == 9);
    assert_true(st_num(s, "kept") == 2);
    assert_true(st_num(s, "skipped_labels") == 2);
    assert_true(st_num(s, "duplicate_dates") == 1);
    assert_true(st_num(s, "missing_values") == 4);
    assert_true(st_num(ev, "points_analyzed") == 2);
    assert_string_equal(st_str(o, "cumulative_pattern"), "unknown");
    cJSON_Delete(o);
    st_host_free(fh);
}

/* Monthly samples of two years from values[24] as an indicator. */
static char *monthly(const char *name, const double *values, size_t n)
{
    size_t cap = 256 + n * 48;
    char *s = malloc(cap);
    size_t used;
    size_t i;

    assert_non_null(s);
    used = (size_t)snprintf(s, cap,
                            "{\"id\":\"m\",\"name\":\"%s\",\"units\":"
                            "\"USD Million\",\"sample_values\":[",
                            name);
    for (i = 0; i < n; i++)
        used += (size_t)snprintf(
            s + used, cap - used, "%s{\"date\":\"%d-%02d\",\"value\":%g}",
            i ? "," : "", 2022 + (int)(i / 12), (int)(i % 12) + 1, values[i]);
    snprintf(s + used, cap - used, "]}");
    return s;
}

static cJSON *run_series(const char *name, const double *v, size_t n)
{
    cls_fake_host *fh = st_host(cls_stage_entry_v1(), "rules", 0, NULL);
    char *ind = monthly(name, v, n);
    cJSON *o = st_indicator(fh, ind);

    free(ind);
    st_host_free(fh);
    return o;
}

static void test_ytd(void **state)
{
    double v[24];
    cJSON *o;
    size_t i;

    (void)state;
    for (i = 0; i < 24; i++)
        v[i] = 100.0 * (double)(i % 12 + 1) + (double)i;
    o = run_series("Exports", v, 24);
    assert_true(st_bool(o, "is_cumulative"));
    assert_string_equal(st_str(o, "cumulative_pattern"), "ytd");
    assert_string_equal(st_str(o, "time_basis"), "cumulative");
    assert_string_equal(st_str(o, "reporting_frequency"), "monthly");
    assert_string_equal(st_str(o, "source_used"), "time-series");
    cJSON_Delete(o);

    for (i = 0; i < 24; i++)
        v[i] = -v[i];
    o = run_series("Budget Deficit", v, 24);
    assert_string_equal(st_str(o, "cumulative_pattern"), "ytd");
    assert_true(st_bool(cJSON_GetObjectItem(o, "cumulative_evidence"),
                        "read_as_negative_total"));
    cJSON_Delete(o);
}

static void test_running_total_and_periodic(void **state)
{
    double v[14];
    cJSON *o;
    size_t i;

    (void)state;
    for (i = 0; i < 14; i++)
        v[i] = 1000.0 + 10.0 * (double)i;
    o = run_series("Installed Capacity", v, 14);
    assert_string_equal(st_str(o, "cumulative_pattern"), "running_total");
    cJSON_Delete(o);

    for (i = 0; i < 14; i++)
        v[i] = 100.0 + (i % 2 ? 5.0 : -5.0);
    o = run_series("Exports", v, 14);
    assert_false(st_bool(o, "is_cumulative"));
    assert_string_equal(st_str(o, "cumulative_pattern"), "periodic");
    assert_string_equal(st_str(o, "time_basis"), "per-period");
    cJSON_Delete(o);

    o = run_series("Exports", v, 2);
    assert_string_equal(st_str(o, "cumulative_pattern"), "unknown");
    cJSON_Delete(o);
}

struct freq_case {
    const char *indicator;
    const char *frequency;
    const char *source;
};

static const struct freq_case freqs[] = {
    {"{\"id\":\"q\",\"name\":\"GDP\",\"sample_values\":["
     "{\"date\":\"2023-Q1\",\"value\":1},{\"date\":\"2023-Q2\",\"value\":2},"
     "{\"date\":\"2023Q3\",\"value\":3},{\"date\":\"2023-Q4\",\"value\":4}]}",
     "quarterly", "time-series"},
    {"{\"id\":\"w\",\"name\":\"Claims\","
     "\"periodicity\":\"Weekly, Ending Wednesday\"}",
     "weekly", "periodicity"},
    {"{\"id\":\"b\",\"name\":\"GDP\",\"periodicity\":\"Biannually\","
     "\"sample_values\":[{\"date\":\"2019\",\"value\":1},"
     "{\"date\":\"2020\",\"value\":2},{\"date\":\"2021\",\"value\":3}]}",
     "annual", "time-series"},
    {"{\"id\":\"x\",\"name\":\"GDP\",\"periodicity\":\"Quarterly\","
     "\"sample_values\":[{\"date\":\"2025-08-31\",\"value\":1},"
     "{\"date\":\"2025-08-31\",\"value\":2}]}",
     "quarterly", "periodicity"},
    {"{\"id\":\"e\",\"name\":\"Survey\",\"periodicity\":\"Every two years\"}",
     "irregular", "periodicity"},
    {"{\"id\":\"n\",\"name\":\"Retail Sales MoM\"}", "monthly", "name"},
    {"{\"id\":\"u\",\"name\":\"Something\"}", "unknown", "unknown"},
};

static void test_frequency(void **state)
{
    cls_fake_host *fh = st_host(cls_stage_entry_v1(), "rules", 0, NULL);
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(freqs) / sizeof(freqs[0]); i++) {
        cJSON *o = st_indicator(fh, freqs[i].indicator);

        if (strcmp(st_str(o, "reporting_frequency"), freqs[i].frequency) ||
            strcmp(st_str(o, "source_used"), freqs[i].source))
            fail_msg("%s: %s from %s", freqs[i].indicator,
                     st_str(o, "reporting_frequency"),
                     st_str(o, "source_used"));
        cJSON_Delete(o);
    }
    st_host_free(fh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_periods_any_time_zone),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_clean_dirty_series),
        cmocka_unit_test(test_stage_dirty_samples),
        cmocka_unit_test(test_ytd),
        cmocka_unit_test(test_running_total_and_periodic),
        cmocka_unit_test(test_frequency),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
