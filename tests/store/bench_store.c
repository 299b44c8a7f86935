/*
 * bench_store.c - throughput of core_store against a private PostgreSQL.
 *
 * Not a test (it asserts nothing about speed); run it by hand:
 *     tests/store/with_pg.sh build/tests/store/bench_store [threads] [writes]
 * It prints the time of a fresh migration, of seeding data/indicators.jsonl,
 * of stage-result writes from several threads through one pool, and of a
 * JSONL export of every source indicator.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "store/store.h"

struct worker {
    struct core_store *s;
    const char *const *ids;
    size_t n_ids;
    int id, writes, failures;
};

static double now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int create_db(const char *server, char *info, size_t len)
{
    char admin[512];
    PGconn *pg;
    PGresult *res;
    int ok;

    snprintf(admin, sizeof(admin), "%s dbname=postgres", server);
    pg = PQconnectdb(admin);
    res = PQexec(pg, "CREATE DATABASE bench");
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "bench: create database: %s", PQerrorMessage(pg));
    PQclear(res);
    PQfinish(pg);
    snprintf(info, len, "%s dbname=bench", server);
    return ok ? 0 : -1;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct core_store_provenance p = {
        .plugin = "bench", .provider = "rules", .latency_ms = 1};
    struct core_store_error err;
    char run[32];
    int i;

    snprintf(run, sizeof(run), "bench-%d", w->id);
    for (i = 0; i < w->writes; i++) {
        if (core_store_write_stage(
                w->s, CORE_STORE_FAMILY, w->ids[(size_t)i % w->n_ids], run,
                "{\"family\": \"price-value\", \"confidence\": 0.5, "
                "\"reasoning\": \"benchmark row\"}",
                &p, &err) != CORE_STORE_OK)
            w->failures++;
    }
    return NULL;
}

static int count_line(void *ctx, const char *data, size_t len)
{
    (void)data;
    *(size_t *)ctx += len;
    return 0;
}

static int bench_writes(struct core_store *s, int threads, int writes)
{
    struct worker w[64];
    pthread_t t[64];
    struct core_store_ids ids;
    struct core_store_error err;
    double t0;
    int i, failures = 0;

    if (core_store_select_ids(s, 1, 1000, &ids, &err) != CORE_STORE_OK)
        return fprintf(stderr, "bench: %s\n", err.message), -1;
    t0 = now_ms();
    for (i = 0; i < threads; i++) {
        w[i] = (struct worker){
            s, (const char *const *)ids.ids, ids.count, i, writes, 0};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        failures += w[i].failures;
    }
    printf("stage writes: %d threads x %d, pool 4: %.0f ms, %.0f writes/s, "
           "%d failed\n",
           threads, writes, now_ms() - t0,
           threads * writes * 1e3 / (now_ms() - t0), failures);
    core_store_ids_free(&ids);
    return failures ? -1 : 0;
}

int main(int argc, char **argv)
{
    const char *server = getenv("CLASSIFY_TEST_PG");
    const char *data = getenv("CLASSIFY_DATA_DIR");
    int threads = argc > 1 ? atoi(argv[1]) : 8;
    int writes = argc > 2 ? atoi(argv[2]) : 500;
    struct core_store_export_options x = {CORE_STORE_EXPORT_SOURCE_INDICATORS,
                                          CORE_STORE_JSONL, NULL, 500};
    struct core_store_options o = {NULL, 4, 10000};
    struct core_store_seed_report rep;
    struct core_store_error err;
    struct core_store *s = NULL;
    char info[600], path[4096];
    size_t bytes = 0;
    uint64_t rows;
    double t0;

    if (server == NULL || threads < 1 || threads > 64 || writes < 1) {
        fprintf(stderr, "usage: with_pg.sh bench_store [threads<=64] "
                        "[writes]\n");
        return 2;
    }
    snprintf(path, sizeof(path), "%s/indicators.jsonl", data ? data : "data");
    if (create_db(server, info, sizeof(info)) != 0)
        return 1;
    o.conninfo = info;

    t0 = now_ms();
    if (core_store_open(&o, &s, &err) || core_store_migrate(s, &err))
        return fprintf(stderr, "bench: %s\n", err.message), 1;
    printf("open + migrate (fresh): %.1f ms\n", now_ms() - t0);

    t0 = now_ms();
    if (core_store_seed_file(s, path, CORE_STORE_JSONL, NULL, &rep, &err))
        return fprintf(stderr, "bench: %s\n", err.message), 1;
    printf("seed %lu rows: %.0f ms\n", rep.inserted, now_ms() - t0);
    core_store_seed_report_free(&rep);

    if (bench_writes(s, threads, writes) != 0)
        return 1;

    t0 = now_ms();
    if (core_store_export(s, &x, count_line, &bytes, &rows, &err))
        return fprintf(stderr, "bench: %s\n", err.message), 1;
    printf("export %llu rows (%zu bytes) as JSONL: %.0f ms\n",
           (unsigned long long)rows, bytes, now_ms() - t0);
    core_store_close(s);
    return 0;
}
