/*
 * test_store_export.c - streaming export (JSONL and CSV, cursor-based)
 * from a real PostgreSQL: every row once, one writer call per row, the
 * writer can stop the export, CSV quoting reads back, run filter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "pg_helper.h"
#include "store/csv.h"

struct sink {
    unsigned long calls;
    unsigned long stop_after; /* 0: never */
    size_t largest;
    int bad_json;
    struct store_buf all;
};

static int collect(void *ctx, const char *data, size_t len)
{
    struct sink *k = ctx;

    k->calls++;
    if (len > k->largest)
        k->largest = len;
    assert_int_equal(store_buf_add(&k->all, data, len), 0);
    return k->stop_after != 0 && k->calls >= k->stop_after;
}

static int check_json(void *ctx, const char *data, size_t len)
{
    struct sink *k = ctx;
    cJSON *row = cJSON_ParseWithLength(data, len);

    k->calls++;
    if (!cJSON_IsString(cJSON_GetObjectItem(row, "id")) ||
        data[len - 1] != '\n' || memchr(data, '\n', len) != data + len - 1)
        k->bad_json++;
    cJSON_Delete(row);
    return 0;
}

struct fixture {
    char *info;
    struct core_store *s;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct core_store_seed_report rep;
    struct core_store_error err;

    f->info = th_fresh_db();
    f->s = th_open(f->info, 2);
    if (core_store_seed_file(f->s, th_data("indicators.jsonl"),
                             CORE_STORE_JSONL, NULL, &rep, &err))
        fail_msg("seed: %s", err.message);
    core_store_seed_report_free(&rep);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    core_store_close(f->s);
    free(f->info);
    free(f);
    return 0;
}

static void test_jsonl_every_row(void **state)
{
    struct fixture *f = *state;
    struct core_store_export_options o = {CORE_STORE_EXPORT_SOURCE_INDICATORS,
                                          CORE_STORE_JSONL, NULL, 100};
    struct core_store_error err;
    struct sink k = {0};
    uint64_t rows = 0;

    assert_int_equal(core_store_export(f->s, &o, check_json, &k, &rows, &err),
                     CORE_STORE_OK);
    assert_int_equal(rows, 3332);
    assert_int_equal(k.calls, 3332);
    assert_int_equal(k.bad_json, 0);
}

static void test_writer_stops_early(void **state)
{
    struct fixture *f = *state;
    struct core_store_export_options o = {CORE_STORE_EXPORT_SOURCE_INDICATORS,
                                          CORE_STORE_JSONL, NULL, 50};
    struct core_store_error err;
    struct sink k = {.stop_after = 10};
    uint64_t rows = 0;

    assert_int_equal(core_store_export(f->s, &o, collect, &k, &rows, &err),
                     CORE_STORE_EIO);
    assert_int_equal(k.calls, 10);
    assert_int_equal(rows, 10);
    assert_non_null(strstr(err.message, "writer stopped"));
    store_buf_free(&k.all);

    /* The connection went back to the pool in a usable state. */
    k = (struct sink){0};
    o.fetch_rows = 0;
    assert_int_equal(core_store_export(f->s, &o, collect, &k, &rows, &err),
                     CORE_STORE_OK);
    assert_int_equal(rows, 3332);
    store_buf_free(&k.all);
}

/* Parse exported CSV back: every record has the header's field count. */
static void read_back(const char *text, size_t len, size_t *records,
                      size_t *fields)
{
    FILE *f = fmemopen((void *)text, len, "r");
    struct csv_reader r;
    unsigned long line;
    char why[96];
    enum csv_rc rc;

    assert_non_null(f);
    csv_reader_init(&r, f);
    *records = 0;
    *fields = 0;
    while ((rc = csv_read(&r, &line, why, sizeof(why))) == CSV_RECORD) {
        if (*records == 0)
            *fields = r.count;
        else if (r.count != *fields)
            fail_msg("record at line %lu has %zu fields, header %zu", line,
                     r.count, *fields);
        (*records)++;
    }
    if (rc != CSV_EOF)
        fail_msg("exported CSV malformed at line %lu: %s", line, why);
    csv_reader_free(&r);
    fclose(f);
}

static void test_csv_reads_back(void **state)
{
    struct fixture *f = *state;
    struct core_store_export_options o = {CORE_STORE_EXPORT_SOURCE_INDICATORS,
                                          CORE_STORE_CSV, NULL, 250};
    struct core_store_error err;
    struct sink k = {0};
    size_t records, fields;
    uint64_t rows;

    assert_int_equal(core_store_export(f->s, &o, collect, &k, &rows, &err),
                     CORE_STORE_OK);
    assert_int_equal(rows, 3332);
    assert_int_equal(k.calls, 3333); /* header + one call per row */
    assert_true(k.largest < 64 * 1024);
    assert_memory_equal(k.all.data, "id,name,units,", 14);
    read_back(k.all.data, k.all.len, &records, &fields);
    assert_int_equal(records, 3333);
    assert_int_equal(fields, 18);
    store_buf_free(&k.all);
}

static void test_classifications_by_run(void **state)
{
    struct fixture *f = *state;
    struct core_store_provenance p = {.plugin = "rules"};
    struct core_store_outcome o = {"wdi:SP.POP.TOTL", "run-a", "completed",
                                   NULL, NULL};
    struct core_store_export_options x = {CORE_STORE_EXPORT_CLASSIFICATIONS,
                                          CORE_STORE_CSV, "run-a", 0};
    struct core_store_error err;
    struct sink k = {0};
    uint64_t rows;

    assert_int_equal(core_store_write_stage(f->s, CORE_STORE_FAMILY,
                                            o.indicator_id, "run-a",
                                            "{\"family\": "
                                            "\"physical-fundamental\"}",
                                            &p, &err),
                     0);
    assert_int_equal(core_store_write_classification(f->s, &o, &err), 0);
    o.indicator_id = "wdi:NY.GDP.MKTP.CD";
    o.run_id = "run-b";
    assert_int_equal(core_store_write_classification(f->s, &o, &err), 0);

    assert_int_equal(core_store_export(f->s, &x, collect, &k, &rows, &err), 0);
    assert_int_equal(rows, 1);
    assert_non_null(strstr(k.all.data, "\r\nwdi:SP.POP.TOTL,run-a,completed"));
    assert_non_null(strstr(k.all.data, "physical-fundamental"));
    store_buf_free(&k.all);

    k = (struct sink){0};
    x.run_id = NULL;
    x.format = CORE_STORE_JSONL;
    assert_int_equal(core_store_export(f->s, &x, collect, &k, &rows, &err), 0);
    assert_int_equal(rows, 2);
    assert_non_null(strstr(k.all.data, "\"run_id\": \"run-b\""));
    store_buf_free(&k.all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonl_every_row),
        cmocka_unit_test(test_writer_stops_early),
        cmocka_unit_test(test_csv_reads_back),
        cmocka_unit_test(test_classifications_by_run),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
