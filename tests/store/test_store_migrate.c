/*
 * test_store_migrate.c - schema migrations against a real PostgreSQL:
 * applied once, idempotent, safe when hosts start together, refusing a
 * changed or newer schema, taxonomy constraints generated from the header,
 * and the TimescaleDB fallback.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "classify/taxonomy.h"
#include "pg_helper.h"

#define COUNT(id, text)          +1
#define COUNT_PAIR(family, type) +1

/* Every (kind, value) the header defines, counted from the header. */
static long header_values(void)
{
    return 0 CLS_FAMILIES(COUNT) CLS_TYPES(COUNT)
        CLS_TEMPORAL_AGGREGATIONS(COUNT) CLS_ORIENTATIONS(COUNT)
            CLS_TIME_BASES(COUNT) CLS_FREQUENCIES(COUNT) CLS_TIME_SOURCES(COUNT)
                CLS_CUMULATIVE_PATTERNS(COUNT) CLS_UNIT_TYPES(COUNT)
                    CLS_SCALES(COUNT) CLS_REVIEW_STATUSES(COUNT)
                        CLS_PROVIDER_KINDS(COUNT);
}

static void test_once_and_twice(void **state)
{
    char *info = th_fresh_db();
    struct core_store_error err;
    struct core_store *s = th_open(info, 2), *again;
    PGconn *pg = th_connect(info);

    (void)state;
    assert_int_equal(core_store_schema_version(s), 2);
    assert_int_equal(th_scalar(pg, "SELECT count(*) FROM schema_migrations"),
                     2);
    assert_int_equal(core_store_migrate(s, &err), CORE_STORE_OK);
    assert_int_equal(core_store_migrate(s, &err), CORE_STORE_OK);

    again = th_open(info, 1);
    assert_int_equal(th_scalar(pg, "SELECT count(*) FROM schema_migrations"),
                     2);
    assert_int_equal(th_scalar(pg, "SELECT count(*) FROM taxonomy_state"), 1);
    assert_int_equal(th_scalar(pg, "SELECT count(*) FROM pg_tables WHERE "
                                   "tablename LIKE '%_results'"),
                     7);

    core_store_close(again);
    core_store_close(s);
    PQfinish(pg);
    free(info);
}

struct racer {
    const char *info;
    int rc;
    char message[CORE_STORE_ERR_MAX];
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct core_store_options opts = {r->info, 1, 10000};
    struct core_store_error err;
    struct core_store *s = NULL;

    r->rc = core_store_open(&opts, &s, &err);
    if (r->rc == CORE_STORE_OK)
        r->rc = core_store_migrate(s, &err);
    if (r->rc != CORE_STORE_OK)
        snprintf(r->message, sizeof(r->message), "%s", err.message);
    core_store_close(s);
    return NULL;
}

static void test_concurrent(void **state)
{
    enum { N = 6 };
    char *info = th_fresh_db();
    struct racer racers[N];
    pthread_t threads[N];
    PGconn *pg;
    int i;

    (void)state;
    for (i = 0; i < N; i++) {
        racers[i].info = info;
        racers[i].message[0] = '\0';
        assert_int_equal(pthread_create(&threads[i], NULL, race, &racers[i]),
                         0);
    }
    for (i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        if (racers[i].rc != CORE_STORE_OK)
            fail_msg("host %d: %s", i, racers[i].message);
    }

    pg = th_connect(info);
    assert_int_equal(th_scalar(pg, "SELECT count(*) FROM schema_migrations"),
                     2);
    assert_int_equal(th_scalar(pg, "SELECT count(*) FROM taxonomy_values"),
                     header_values());
    PQfinish(pg);
    free(info);
}

static void test_refuses_changed_or_newer(void **state)
{
    char *info = th_fresh_db();
    struct core_store *s = th_open(info, 1);
    PGconn *pg = th_connect(info);
    struct core_store_error err;

    (void)state;
    th_exec(pg, "UPDATE schema_migrations SET checksum = 'deadbeef'");
    assert_int_equal(core_store_migrate(s, &err), CORE_STORE_EDB);
    assert_non_null(strstr(err.message, "0001_schema.sql"));
    assert_non_null(strstr(err.message, "changed"));

    th_exec(pg, "DELETE FROM schema_migrations");
    th_exec(pg, "INSERT INTO schema_migrations VALUES (9999, 'future.sql', "
                "'z')");
    assert_int_equal(core_store_migrate(s, &err), CORE_STORE_EDB);
    assert_non_null(strstr(err.message, "9999"));

    core_store_close(s);
    PQfinish(pg);
    free(info);
}

static void test_taxonomy_tables(void **state)
{
    char *info = th_fresh_db();
    struct core_store *s = th_open(info, 1);
    PGconn *pg = th_connect(info);
    struct core_store_error err;

    (void)state;
    assert_int_equal(th_scalar(pg, "SELECT count(*) FROM taxonomy_values"),
                     header_values());
    assert_int_equal(
        th_scalar(pg, "SELECT count(*) FROM taxonomy_family_types"),
        0 CLS_FAMILY_TYPES(COUNT_PAIR));
    assert_int_equal(th_scalar(pg, "SELECT count(*) FROM taxonomy_values "
                                   "WHERE kind = 'family'"),
                     0 CLS_FAMILIES(COUNT));
    assert_int_equal(th_scalar(pg, "SELECT count(*) FROM pg_constraint "
                                   "WHERE conname LIKE 'tax\\_%'"),
                     23);

    /* A stale digest (the header changed) regenerates the constraints. */
    th_exec(pg, "ALTER TABLE family_results DROP CONSTRAINT "
                "tax_family_results_family");
    th_exec(pg, "UPDATE taxonomy_state SET digest = 'older-header'");
    assert_int_equal(core_store_migrate(s, &err), CORE_STORE_OK);
    assert_int_equal(th_scalar(pg, "SELECT count(*) FROM pg_constraint "
                                   "WHERE conname = "
                                   "'tax_family_results_family'"),
                     1);

    core_store_close(s);
    PQfinish(pg);
    free(info);
}

static void test_timescale_fallback(void **state)
{
    char *info = th_fresh_db();
    struct core_store *s = th_open(info, 1);
    PGconn *pg = th_connect(info);
    long available;

    (void)state;
    available = th_scalar(pg, "SELECT count(*) FROM pg_available_extensions "
                              "WHERE name = 'timescaledb'");
    /* Here TimescaleDB cannot be installed: the plain path must be taken. */
    assert_int_equal(available, 0);
    assert_int_equal(core_store_has_timescale(s), 0);
    assert_int_equal(th_scalar(pg, "SELECT count(*) FROM pg_constraint WHERE "
                                   "conname = 'processing_log_dedup'"),
                     1);

    core_store_close(s);
    PQfinish(pg);
    free(info);
}

static void test_bad_conninfo(void **state)
{
    struct core_store_options opts = {"host=127.0.0.1 port=1 user=nobody "
                                      "connect_timeout=2",
                                      1, 100};
    struct core_store_error err;
    struct core_store *s = NULL;

    (void)state;
    assert_int_equal(core_store_open(&opts, &s, &err), CORE_STORE_ECONN);
    assert_null(s);
    assert_non_null(strstr(err.message, "cannot connect"));
    opts.pool_size = 0;
    assert_int_equal(core_store_open(&opts, &s, &err), CORE_STORE_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_once_and_twice),
        cmocka_unit_test(test_concurrent),
        cmocka_unit_test(test_refuses_changed_or_newer),
        cmocka_unit_test(test_taxonomy_tables),
        cmocka_unit_test(test_timescale_fallback),
        cmocka_unit_test(test_bad_conninfo),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
