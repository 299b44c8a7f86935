/*
 * pg_helper.c - databases, connections and files for the store tests.
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

static const char *server(void)
{
    const char *pg = getenv("CLASSIFY_TEST_PG");

    if (pg == NULL || pg[0] == '\0')
        fail_msg("CLASSIFY_TEST_PG is not set: run this test through "
                 "tests/store/with_pg.sh (ctest does)");
    return pg;
}

PGconn *th_connect(const char *conninfo)
{
    PGconn *pg = PQconnectdb(conninfo);

    if (PQstatus(pg) != CONNECTION_OK)
        fail_msg("cannot connect to %s: %s", conninfo, PQerrorMessage(pg));
    return pg;
}

char *th_fresh_db(void)
{
    static int counter;
    char admin[512], sql[128], name[64], *info;
    PGconn *pg;

    snprintf(admin, sizeof(admin), "%s dbname=postgres", server());
    snprintf(name, sizeof(name), "t_%ld_%d", (long)getpid(), ++counter);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    pg = th_connect(admin);
    th_exec(pg, sql);
    PQfinish(pg);

    info = malloc(strlen(server()) + strlen(name) + 16);
    assert_non_null(info);
    sprintf(info, "%s dbname=%s", server(), name);
    return info;
}

struct core_store *th_open(const char *conninfo, unsigned pool_size)
{
    struct core_store_options opts = {conninfo, pool_size, 5000};
    struct core_store_error err;
    struct core_store *s = NULL;

    if (core_store_open(&opts, &s, &err) != CORE_STORE_OK)
        fail_msg("open: %s", err.message);
    if (core_store_migrate(s, &err) != CORE_STORE_OK)
        fail_msg("migrate: %s", err.message);
    return s;
}

static PGresult *run(PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(res);

    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(res));
    return res;
}

void th_exec(PGconn *pg, const char *sql)
{
    PQclear(run(pg, sql));
}

long th_scalar(PGconn *pg, const char *sql)
{
    PGresult *res = run(pg, sql);
    long v;

    if (PQntuples(res) < 1)
        fail_msg("%s: no row", sql);
    v = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return v;
}

char *th_text(PGconn *pg, const char *sql)
{
    PGresult *res = run(pg, sql);
    char *v = NULL;

    if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        v = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

const char *th_data(const char *name)
{
    static char path[4096];
    const char *dir = getenv("CLASSIFY_DATA_DIR");

    if (dir == NULL)
        fail_msg("CLASSIFY_DATA_DIR is not set (ctest sets it)");
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return path;
}

char *th_temp_file(const char *text, size_t len)
{
    char *path = strdup("/tmp/store-test.XXXXXX");
    int fd;

    assert_non_null(path);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}
