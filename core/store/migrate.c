/*
 * store/migrate.c - schema migrations of core_store.
 *
 * Under a session advisory lock: create schema_migrations if needed,
 * apply each embedded migration not yet recorded (one transaction each,
 * recording it with a checksum of its text), regenerate the taxonomy
 * step, and make processing_log a TimescaleDB hypertable when the
 * extension can be created.  Two hosts starting together serialise on
 * the lock; the second one finds everything applied.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "store/migrations.h"
#include "store/store_internal.h"

/* Arbitrary, fixed: the advisory lock key of schema changes. */
#define MIGRATE_LOCK_KEY "4242001337"

static const char create_table_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

static void checksum_of(const char *sql, char out[17])
{
    uint64_t h = 1469598103934665603ULL;

    for (; *sql != '\0'; sql++) {
        h ^= (unsigned char)*sql;
        h *= 1099511628211ULL;
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/*
 * Is migration m applied?  1 yes (checksum matches), 0 no, <0 error
 * (including a checksum that differs: the file changed after release).
 */
static int applied(struct store_slot *slot, const struct store_migration *m,
                   const char *sum, struct core_store_error *err)
{
    const char *sql = "SELECT checksum FROM schema_migrations "
                      "WHERE version = $1";
    char version[16];
    const char *param = version;
    PGresult *res;
    int rc;

    snprintf(version, sizeof(version), "%u", m->version);
    res = store_exec(slot, "read schema_migrations", sql, 1, &param, err);
    if (res == NULL)
        return err ? err->rc : CORE_STORE_EDB;
    if (PQntuples(res) == 0)
        rc = 0;
    else if (strcmp(PQgetvalue(res, 0, 0), sum) == 0)
        rc = 1;
    else
        rc = store_fail(err, CORE_STORE_EDB,
                        "store: migration %s was applied with checksum %s "
                        "but this binary has %s: the file changed after "
                        "release",
                        m->name, PQgetvalue(res, 0, 0), sum);
    PQclear(res);
    return rc;
}

static int apply_one(struct store_slot *slot, const struct store_migration *m,
                     const char *sum, struct core_store_error *err)
{
    const char *record = "INSERT INTO schema_migrations (version, name, "
                         "checksum) VALUES ($1, $2, $3)";
    char version[16], what[128];
    const char *params[3] = {version, m->name, sum};
    int rc;

    snprintf(version, sizeof(version), "%u", m->version);
    snprintf(what, sizeof(what), "migration %s", m->name);
    rc = store_exec_script(slot, what, "BEGIN", err);
    if (rc == CORE_STORE_OK)
        rc = store_exec_script(slot, what, m->sql, err);
    if (rc == CORE_STORE_OK)
        rc = store_exec_cmd(slot, what, record, 3, params, err);
    if (rc == CORE_STORE_OK)
        rc = store_exec_script(slot, what, "COMMIT", err);
    if (rc != CORE_STORE_OK)
        return rc;
    log_info(STORE_TAG, "applied migration %s", m->name);
    return CORE_STORE_OK;
}

/* Refuse a database that a newer binary has migrated further. */
static int check_newer(struct store_slot *slot, unsigned known,
                       struct core_store_error *err)
{
    const char *sql = "SELECT coalesce(max(version), 0) FROM "
                      "schema_migrations";
    PGresult *res;
    unsigned long have;

    res = store_exec(slot, "read schema version", sql, 0, NULL, err);
    if (res == NULL)
        return err ? err->rc : CORE_STORE_EDB;
    have = strtoul(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    if (have > known)
        return store_fail(err, CORE_STORE_EDB,
                          "store: database schema is at version %lu, this "
                          "binary knows only up to %u",
                          have, known);
    return CORE_STORE_OK;
}

static int apply_files(struct core_store *s, struct store_slot *slot,
                       struct core_store_error *err)
{
    char sum[17];
    unsigned i;
    int rc;

    rc = store_exec_cmd(slot, "create schema_migrations", create_table_sql, 0,
                        NULL, err);
    if (rc == CORE_STORE_OK)
        rc = check_newer(
            slot, store_migrations[store_migration_count - 1].version, err);
    for (i = 0; rc == CORE_STORE_OK && i < store_migration_count; i++) {
        checksum_of(store_migrations[i].sql, sum);
        rc = applied(slot, &store_migrations[i], sum, err);
        if (rc == 0)
            rc = apply_one(slot, &store_migrations[i], sum, err);
        else if (rc == 1)
            rc = CORE_STORE_OK;
        if (rc == CORE_STORE_OK)
            s->schema_version = store_migrations[i].version;
    }
    return rc;
}

static int apply_taxonomy(struct store_slot *slot, struct core_store_error *err)
{
    int rc = store_exec_script(slot, "taxonomy step", "BEGIN", err);

    if (rc == CORE_STORE_OK)
        rc = store_taxonomy_apply(slot, err);
    if (rc == CORE_STORE_OK)
        rc = store_exec_script(slot, "taxonomy step", "COMMIT", err);
    return rc;
}

/* 1 if the query returns at least one row, 0 if none, <0 on error. */
static int exists(struct store_slot *slot, const char *what, const char *sql,
                  struct core_store_error *err)
{
    PGresult *res = store_exec(slot, what, sql, 0, NULL, err);
    int found;

    if (res == NULL)
        return err ? err->rc : CORE_STORE_EDB;
    found = PQntuples(res) > 0;
    PQclear(res);
    return found;
}

/*
 * Turn processing_log into a hypertable.  A unique key of a hypertable
 * must hold its partitioning column, so the dedup key gains created_at.
 */
static const char hypertable_sql[] =
    "BEGIN;\n"
    "ALTER TABLE processing_log DROP CONSTRAINT processing_log_dedup;\n"
    "ALTER TABLE processing_log ADD CONSTRAINT processing_log_dedup UNIQUE "
    "(indicator_id, run_id, stage, event, attempt, created_at);\n"
    "SELECT create_hypertable('processing_log', 'created_at', "
    "migrate_data => true, if_not_exists => true);\n"
    "COMMIT;";

static int apply_timescale(struct core_store *s, struct store_slot *slot,
                           struct core_store_error *err)
{
    struct core_store_error ext_err;
    int rc;

    s->timescale = 0;
    rc = exists(slot, "look for timescaledb",
                "SELECT 1 FROM pg_available_extensions "
                "WHERE name = 'timescaledb'",
                err);
    if (rc == 0)
        log_info(STORE_TAG, "TimescaleDB is not available: processing_log "
                            "is a plain PostgreSQL table");
    if (rc <= 0)
        return rc;

    if (store_exec_script(slot, "create extension timescaledb",
                          "CREATE EXTENSION IF NOT EXISTS timescaledb",
                          &ext_err) != CORE_STORE_OK) {
        log_warn(STORE_TAG, "%s; processing_log stays a plain table",
                 ext_err.message);
        return CORE_STORE_OK;
    }
    rc = exists(slot, "look for the processing_log hypertable",
                "SELECT 1 FROM timescaledb_information.hypertables "
                "WHERE hypertable_name = 'processing_log'",
                err);
    if (rc == 0)
        rc = store_exec_script(slot, "make processing_log a hypertable",
                               hypertable_sql, err);
    if (rc < 0)
        return rc;
    s->timescale = 1;
    log_info(STORE_TAG, "processing_log is a TimescaleDB hypertable");
    return CORE_STORE_OK;
}

int core_store_migrate(struct core_store *s, struct core_store_error *err)
{
    const char *key = MIGRATE_LOCK_KEY;
    struct store_slot *slot;
    int rc;

    store_err_clear(err);
    slot = store_acquire(s, err);
    if (slot == NULL)
        return err ? err->rc : CORE_STORE_ECONN;

    rc = store_exec_cmd(slot, "take the migration lock",
                        "SELECT pg_advisory_lock($1::bigint)", 1, &key, err);
    if (rc != CORE_STORE_OK)
        goto out;

    rc = apply_files(s, slot, err);
    if (rc == CORE_STORE_OK)
        rc = apply_taxonomy(slot, err);
    if (rc == CORE_STORE_OK)
        rc = apply_timescale(s, slot, err);

    if (PQtransactionStatus(slot->pg) != PQTRANS_IDLE)
        PQclear(PQexec(slot->pg, "ROLLBACK"));
    if (store_exec_cmd(slot, "release the migration lock",
                       "SELECT pg_advisory_unlock($1::bigint)", 1, &key,
                       NULL) != CORE_STORE_OK) {
        /* Closing the session is the other way to drop the lock. */
        PQfinish(slot->pg);
        slot->pg = NULL;
    }
    if (rc == CORE_STORE_OK)
        log_info(STORE_TAG, "schema at version %u", s->schema_version);
out:
    store_release(s, slot);
    return rc;
}
