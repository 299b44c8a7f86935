/*
 * test_store_seed.c - importing source indicators from JSONL and CSV into
 * a real PostgreSQL: the bundled data set, every kind of bad line, chunk
 * atomicity, all-or-nothing mode and RFC 4180 quoting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pg_helper.h"

static long count_rows(PGconn *pg)
{
    return th_scalar(pg, "SELECT count(*) FROM source_indicators");
}

static void test_seed_dataset(void **state)
{
    char *info = th_fresh_db();
    struct core_store *s = th_open(info, 2);
    PGconn *pg = th_connect(info);
    struct core_store_seed_report rep;
    struct core_store_error err;
    char *v;

    (void)state;
    assert_int_equal(core_store_seed_file(s, th_data("indicators.jsonl"),
                                          CORE_STORE_JSONL, NULL, &rep, &err),
                     CORE_STORE_OK);
    assert_int_equal(rep.lines, 3332);
    assert_int_equal(rep.inserted, 3332);
    assert_int_equal(rep.rejected, 0);
    assert_int_equal(rep.chunks_committed, 7);
    core_store_seed_report_free(&rep);
    assert_int_equal(count_rows(pg), 3332);

    /* Non-ASCII text and sample values arrive intact. */
    v = th_text(pg, "SELECT count(*) FROM source_indicators WHERE name LIKE "
                    "'%Türkiye%' OR raw->>'country' LIKE 'T_rkiye'");
    assert_true(atol(v) > 0);
    free(v);
    assert_int_equal(th_scalar(pg, "SELECT sum(jsonb_array_length("
                                   "sample_values)) FROM source_indicators"),
                     2954);

    /* A second import changes nothing. */
    assert_int_equal(core_store_seed_file(s, th_data("indicators.jsonl"),
                                          CORE_STORE_JSONL, NULL, &rep, &err),
                     CORE_STORE_OK);
    assert_int_equal(rep.unchanged, 3332);
    assert_int_equal(rep.inserted + rep.updated, 0);
    core_store_seed_report_free(&rep);
    assert_int_equal(count_rows(pg), 3332);

    core_store_close(s);
    PQfinish(pg);
    free(info);
}

/* One good line, then every reason a line can be refused, then one more. */
static const char bad_file[] =
    "{\"id\": \"ok:1\", \"name\": \"First\", \"units\": \"%\"}\n"
    "{\"id\": \"bad:utf8\", \"name\": \"Caf\xe9\"}\n"
    "{\"id\": \"bad:json\", \"name\": \"unterminated\"\n"
    "{\"name\": \"no id here\"}\n"
    "{\"id\": \"bad:name\", \"name\": 42}\n"
    "\n"
    "{\"id\": \"bad:units\", \"name\": \"x\", \"units\": [1]}\n"
    "{\"id\": \"bad:sv\", \"name\": \"x\", \"sample_values\": "
    "[{\"date\": \"2020\", \"value\": \"high\"}]}\n"
    "{\"id\": \"bad:nul\", \"name\": \"x\\u0000y\"}\n"
    "[\"an array\"]\n"
    "{\"id\": \"ok:2\", \"name\": \"Second\", \"sample_values\": null}\n";

static void check_bad_report(const struct core_store_seed_report *rep)
{
    static const struct {
        unsigned long line;
        const char *field, *reason;
    } want[] = {
        {2, "", "UTF-8"},
        {3, "", "malformed JSON"},
        {4, "id", "missing"},
        {5, "name", "wrong type"},
        {7, "units", "wrong type"},
        {8, "sample_values[0].value", "wrong type"},
        {9, "", "0000"},
        {10, "", "not a JSON object"},
    };
    size_t i;

    assert_int_equal(rep->lines, 10);
    assert_int_equal(rep->rejected, 8);
    assert_int_equal(rep->reject_count, 8);
    for (i = 0; i < 8; i++) {
        const struct core_store_reject *r = &rep->rejects[i];

        /* Server-side refusals are reported after the C checks of their
         * chunk, so compare as a set keyed by line. */
        size_t k;

        for (k = 0; k < 8 && rep->rejects[k].line != want[i].line; k++)
            ;
        if (k == 8)
            fail_msg("line %lu not reported", want[i].line);
        r = &rep->rejects[k];
        assert_string_equal(r->field, want[i].field);
        if (strstr(r->reason, want[i].reason) == NULL)
            fail_msg("line %lu: reason \"%s\" lacks \"%s\"", r->line, r->reason,
                     want[i].reason);
    }
}

static void test_seed_bad_lines(void **state)
{
    struct core_store_seed_options opts = {.chunk_rows = 3};
    char *info = th_fresh_db();
    char *path = th_temp_file(bad_file, sizeof(bad_file) - 1);
    struct core_store *s = th_open(info, 1);
    PGconn *pg = th_connect(info);
    struct core_store_seed_report rep;
    struct core_store_error err;

    (void)state;
    assert_int_equal(
        core_store_seed_file(s, path, CORE_STORE_JSONL, &opts, &rep, &err),
        CORE_STORE_OK);
    check_bad_report(&rep);
    assert_int_equal(rep.inserted, 2);
    core_store_seed_report_free(&rep);
    assert_int_equal(count_rows(pg), 2);
    assert_int_equal(th_scalar(pg, "SELECT count(*) FROM source_indicators "
                                   "WHERE id IN ('ok:1', 'ok:2')"),
                     2);

    unlink(path);
    free(path);
    core_store_close(s);
    PQfinish(pg);
    free(info);
}

static void test_seed_all_or_nothing(void **state)
{
    struct core_store_seed_options opts = {.chunk_rows = 2,
                                           .all_or_nothing = 1};
    char *info = th_fresh_db();
    char *path = th_temp_file(bad_file, sizeof(bad_file) - 1);
    struct core_store *s = th_open(info, 1);
    PGconn *pg = th_connect(info);
    struct core_store_seed_report rep;
    struct core_store_error err;

    (void)state;
    assert_int_equal(
        core_store_seed_file(s, path, CORE_STORE_JSONL, &opts, &rep, &err),
        CORE_STORE_EREJECT);
    check_bad_report(&rep);
    assert_int_equal(rep.inserted, 0);
    assert_int_equal(rep.chunks_committed, 0);
    assert_non_null(strstr(err.message, "nothing written"));
    core_store_seed_report_free(&rep);
    assert_int_equal(count_rows(pg), 0);

    unlink(path);
    free(path);
    core_store_close(s);
    PQfinish(pg);
    free(info);
}

static const char csv_file[] =
    "id,name,units,periodicity,sample_values,country\r\n"
    "csv:1,\"GDP, current prices\",\"USD \"\"bn\"\"\",Annual,"
    "\"[{\"\"date\"\": \"\"2023\"\", \"\"value\"\": 1.5}]\",Türkiye\r\n"
    "csv:2,\"Two\nlines\",,\"\",,\n"
    "csv:3,Too few fields\n"
    "csv:4,\"stray\" quote,%,M,,\n"
    "csv:5,Bad samples,%,M,[oops,\n"
    "csv:6,Last,%,Q,[],Brazil";

static void test_seed_csv(void **state)
{
    char *info = th_fresh_db();
    char *path = th_temp_file(csv_file, sizeof(csv_file) - 1);
    struct core_store *s = th_open(info, 1);
    PGconn *pg = th_connect(info);
    struct core_store_seed_report rep;
    struct core_store_error err;
    char *v;

    (void)state;
    assert_int_equal(
        core_store_seed_file(s, path, CORE_STORE_CSV, NULL, &rep, &err),
        CORE_STORE_OK);
    assert_int_equal(rep.lines, 6);
    assert_int_equal(rep.inserted, 3);
    assert_int_equal(rep.rejected, 3);
    assert_int_equal(rep.rejects[0].line, 5);
    assert_non_null(strstr(rep.rejects[0].reason, "2 fields"));
    assert_int_equal(rep.rejects[1].line, 6);
    assert_non_null(strstr(rep.rejects[1].reason, "quote"));
    assert_int_equal(rep.rejects[2].line, 7);
    assert_string_equal(rep.rejects[2].field, "sample_values");
    core_store_seed_report_free(&rep);

    v = th_text(pg, "SELECT concat_ws('|', name, units, periodicity, "
                    "sample_values->0->>'value', raw->>'country') FROM "
                    "source_indicators WHERE id = 'csv:1'");
    assert_string_equal(v, "GDP, current prices|USD \"bn\"|Annual|1.5|"
                           "Türkiye");
    free(v);
    v = th_text(pg, "SELECT concat_ws('|', name, units IS NULL, "
                    "periodicity, sample_values::text) FROM "
                    "source_indicators WHERE id = 'csv:2'");
    assert_string_equal(v, "Two\nlines|t||[]");
    free(v);
    assert_int_equal(count_rows(pg), 3);

    unlink(path);
    free(path);
    core_store_close(s);
    PQfinish(pg);
    free(info);
}

static void test_seed_missing_file(void **state)
{
    char *info = th_fresh_db();
    struct core_store *s = th_open(info, 1);
    struct core_store_seed_report rep;
    struct core_store_error err;
    const char *header_only = "id,units\n";
    char *path = th_temp_file(header_only, strlen(header_only));

    (void)state;
    assert_int_equal(core_store_seed_file(s, "/nonexistent/x.jsonl",
                                          CORE_STORE_JSONL, NULL, &rep, &err),
                     CORE_STORE_EIO);
    assert_non_null(strstr(err.message, "/nonexistent/x.jsonl"));
    assert_int_equal(
        core_store_seed_file(s, path, CORE_STORE_CSV, NULL, &rep, &err),
        CORE_STORE_EINVAL);
    assert_non_null(strstr(err.message, "name"));
    core_store_seed_report_free(&rep);
    assert_int_equal(core_store_format_parse("csv"), CORE_STORE_CSV);
    assert_int_equal(core_store_format_parse("xml"), -1);

    unlink(path);
    free(path);
    core_store_close(s);
    free(info);
}

static void test_seed_bom_and_crlf(void **state)
{
    static const char text[] = "\xef\xbb\xbf{\"id\": \"b:1\", \"name\": "
                               "\"One\"}\r\n{\"id\": \"b:2\", \"name\": "
                               "\"Two\"}\r\n   \r\n";
    char *info = th_fresh_db();
    char *path = th_temp_file(text, sizeof(text) - 1);
    struct core_store *s = th_open(info, 1);
    struct core_store_seed_report rep;
    struct core_store_error err;

    (void)state;
    assert_int_equal(
        core_store_seed_file(s, path, CORE_STORE_JSONL, NULL, &rep, &err),
        CORE_STORE_OK);
    assert_int_equal(rep.lines, 2);
    assert_int_equal(rep.inserted, 2);
    assert_int_equal(rep.rejected, 0);
    core_store_seed_report_free(&rep);

    unlink(path);
    free(path);
    core_store_close(s);
    free(info);
}

static void test_seed_many_rejects(void **state)
{
    enum { BAD = 70 };
    char text[BAD * 8 + 64], *info = th_fresh_db(), *path;
    struct core_store *s = th_open(info, 1);
    struct core_store_seed_report rep;
    struct core_store_error err;
    size_t len = 0;
    int i;

    (void)state;
    for (i = 0; i < BAD; i++)
        len += (size_t)sprintf(text + len, "{bad\n");
    len += (size_t)sprintf(text + len, "{\"id\": \"g\", \"name\": \"G\"}\n");
    path = th_temp_file(text, len);

    assert_int_equal(
        core_store_seed_file(s, path, CORE_STORE_JSONL, NULL, &rep, &err),
        CORE_STORE_OK);
    assert_int_equal(rep.rejected, BAD);
    assert_int_equal(rep.inserted, 1);
    for (i = 0; i < BAD; i++)
        assert_int_equal(rep.rejects[i].line, i + 1);
    core_store_seed_report_free(&rep);

    unlink(path);
    free(path);
    core_store_close(s);
    free(info);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_dataset),
        cmocka_unit_test(test_seed_bad_lines),
        cmocka_unit_test(test_seed_all_or_nothing),
        cmocka_unit_test(test_seed_csv),
        cmocka_unit_test(test_seed_missing_file),
        cmocka_unit_test(test_seed_bom_and_crlf),
        cmocka_unit_test(test_seed_many_rejects),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
