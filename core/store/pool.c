/*
 * store/pool.c - the connection pool and statement helpers of core_store.
 *
 * Connections are opened on demand up to pool_size and handed out under a
 * mutex; a caller waits on a condition variable (monotonic clock) for at
 * most the acquire timeout.  A connection found dead is reset once before
 * it is handed out, and store_run() retries a statement once when the
 * connection died under it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "store/store_internal.h"

#define DEFAULT_TIMEOUT_MS 5000

int store_fail(struct core_store_error *err, int rc, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return rc;
    err->rc = rc;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return rc;
}

void store_err_clear(struct core_store_error *err)
{
    if (err == NULL)
        return;
    err->rc = CORE_STORE_OK;
    err->sqlstate[0] = '\0';
    err->message[0] = '\0';
}

/* Server notices (e.g. "skipping" from IF EXISTS) go to the debug log. */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    log_debug(STORE_TAG, "server notice: %.*s", (int)strcspn(message, "\n"),
              message);
}

static PGconn *connect_pg(const char *conninfo)
{
    const char *keys[] = {"dbname", "fallback_application_name", NULL};
    const char *vals[] = {conninfo, "classifyd", NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);

    if (pg != NULL)
        PQsetNoticeProcessor(pg, on_notice, NULL);
    return pg;
}

/* First line of a libpq message, without the trailing newline. */
static void first_line(const char *msg, char *out, size_t len)
{
    size_t n = 0;

    if (msg == NULL)
        msg = "unknown error";
    while (msg[n] != '\0' && msg[n] != '\n' && n + 1 < len) {
        out[n] = msg[n];
        n++;
    }
    out[n] = '\0';
}

static int open_slot(struct store_slot *slot, const char *conninfo,
                     struct core_store_error *err)
{
    char why[256];

    if (slot->pg != NULL && PQstatus(slot->pg) == CONNECTION_OK)
        return CORE_STORE_OK;

    if (slot->pg != NULL) {
        log_warn(STORE_TAG, "connection lost, reconnecting");
        PQreset(slot->pg);
        if (PQstatus(slot->pg) == CONNECTION_OK)
            return CORE_STORE_OK;
        PQfinish(slot->pg);
    }

    slot->pg = connect_pg(conninfo);
    if (slot->pg != NULL && PQstatus(slot->pg) == CONNECTION_OK)
        return CORE_STORE_OK;

    first_line(slot->pg ? PQerrorMessage(slot->pg) : "out of memory", why,
               sizeof(why));
    PQfinish(slot->pg);
    slot->pg = NULL;
    return store_fail(err, CORE_STORE_ECONN,
                      "store: cannot connect to PostgreSQL: %s", why);
}

int core_store_open(const struct core_store_options *opts,
                    struct core_store **out, struct core_store_error *err)
{
    struct core_store *s;
    pthread_condattr_t attr;
    int rc;

    store_err_clear(err);
    if (opts == NULL || out == NULL || opts->conninfo == NULL)
        return store_fail(err, CORE_STORE_EINVAL,
                          "store: open: conninfo is missing");
    if (opts->pool_size < 1 || opts->pool_size > STORE_POOL_MAX)
        return store_fail(err, CORE_STORE_EINVAL,
                          "store: open: pool size %u outside 1..%d",
                          opts->pool_size, STORE_POOL_MAX);

    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->conninfo = strdup(opts->conninfo)) == NULL) {
        free(s);
        return store_fail(err, CORE_STORE_ENOMEM, "store: open: no memory");
    }
    s->pool_size = opts->pool_size;
    s->timeout_ms = opts->acquire_timeout_ms ? opts->acquire_timeout_ms
                                             : DEFAULT_TIMEOUT_MS;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->freed, &attr);
    pthread_condattr_destroy(&attr);

    rc = open_slot(&s->slots[0], s->conninfo, err);
    if (rc != CORE_STORE_OK) {
        core_store_close(s);
        return rc;
    }
    log_info(STORE_TAG, "connected (server %d, pool of %u)",
             PQserverVersion(s->slots[0].pg), s->pool_size);
    *out = s;
    return CORE_STORE_OK;
}

void core_store_close(struct core_store *s)
{
    unsigned i;

    if (s == NULL)
        return;
    for (i = 0; i < STORE_POOL_MAX; i++)
        PQfinish(s->slots[i].pg);
    pthread_cond_destroy(&s->freed);
    pthread_mutex_destroy(&s->lock);
    free(s->conninfo);
    free(s);
}

int core_store_has_timescale(const struct core_store *s)
{
    return s->timescale;
}

unsigned core_store_schema_version(const struct core_store *s)
{
    return s->schema_version;
}

static struct store_slot *take_free(struct core_store *s)
{
    struct store_slot *fallback = NULL;
    unsigned i;

    /* Prefer a slot that already holds a connection. */
    for (i = 0; i < s->pool_size; i++) {
        if (s->slots[i].busy)
            continue;
        if (s->slots[i].pg != NULL) {
            s->slots[i].busy = 1;
            return &s->slots[i];
        }
        if (fallback == NULL)
            fallback = &s->slots[i];
    }
    if (fallback != NULL)
        fallback->busy = 1;
    return fallback;
}

struct store_slot *store_acquire(struct core_store *s,
                                 struct core_store_error *err)
{
    struct store_slot *slot;
    struct timespec until;
    int rc = 0;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += s->timeout_ms / 1000;
    until.tv_nsec += (long)(s->timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }

    pthread_mutex_lock(&s->lock);
    while ((slot = take_free(s)) == NULL && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&s->freed, &s->lock, &until);
    pthread_mutex_unlock(&s->lock);

    if (slot == NULL) {
        store_fail(err, CORE_STORE_ECONN,
                   "store: all %u connections busy for %u ms", s->pool_size,
                   s->timeout_ms);
        return NULL;
    }
    if (open_slot(slot, s->conninfo, err) != CORE_STORE_OK) {
        store_release(s, slot);
        return NULL;
    }
    return slot;
}

void store_release(struct core_store *s, struct store_slot *slot)
{
    PGresult *res;

    if (slot->pg != NULL && PQtransactionStatus(slot->pg) == PQTRANS_INERROR) {
        res = PQexec(slot->pg, "ROLLBACK");
        PQclear(res);
    }
    if (slot->pg != NULL && PQtransactionStatus(slot->pg) != PQTRANS_IDLE) {
        PQfinish(slot->pg);
        slot->pg = NULL;
    }

    pthread_mutex_lock(&s->lock);
    slot->busy = 0;
    pthread_cond_signal(&s->freed);
    pthread_mutex_unlock(&s->lock);
}

static int rc_for_state(PGconn *pg, const char *state)
{
    if (PQstatus(pg) != CONNECTION_OK)
        return CORE_STORE_ECONN;
    if (state == NULL)
        return CORE_STORE_EDB;
    if (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0)
        return CORE_STORE_EREJECT;
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)
        return CORE_STORE_ECONN;
    return CORE_STORE_EDB;
}

PGresult *store_check(PGconn *pg, PGresult *res, const char *what,
                      struct core_store_error *err)
{
    ExecStatusType st = PQresultStatus(res);
    const char *state, *primary, *detail;
    char why[384];
    int rc;

    if (res != NULL && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK))
        return res;

    state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    first_line(primary ? primary : PQerrorMessage(pg), why, sizeof(why));
    rc = rc_for_state(pg, state);
    if (detail != NULL)
        store_fail(err, rc, "store: %s: %s (%s)", what, why, detail);
    else
        store_fail(err, rc, "store: %s: %s", what, why);
    if (err != NULL)
        snprintf(err->sqlstate, sizeof(err->sqlstate), "%s",
                 state ? state : "");
    PQclear(res);
    return NULL;
}

PGresult *store_exec(struct store_slot *slot, const char *what, const char *sql,
                     int n, const char *const *values,
                     struct core_store_error *err)
{
    PGresult *res;

    res = PQexecParams(slot->pg, sql, n, NULL, values, NULL, NULL, 0);
    return store_check(slot->pg, res, what, err);
}

int store_exec_cmd(struct store_slot *slot, const char *what, const char *sql,
                   int n, const char *const *values,
                   struct core_store_error *err)
{
    PGresult *res = store_exec(slot, what, sql, n, values, err);

    if (res == NULL)
        return err ? err->rc : CORE_STORE_EDB;
    PQclear(res);
    return CORE_STORE_OK;
}

int store_exec_script(struct store_slot *slot, const char *what,
                      const char *sql, struct core_store_error *err)
{
    PGresult *res = store_check(slot->pg, PQexec(slot->pg, sql), what, err);

    if (res == NULL)
        return err ? err->rc : CORE_STORE_EDB;
    PQclear(res);
    return CORE_STORE_OK;
}

int store_run(struct core_store *s, const char *what, const char *sql, int n,
              const char *const *values, PGresult **out,
              struct core_store_error *err)
{
    struct core_store_error local;
    struct store_slot *slot;
    PGresult *res = NULL;
    int attempt;

    if (err == NULL)
        err = &local;
    for (attempt = 0; attempt < 2 && res == NULL; attempt++) {
        slot = store_acquire(s, err);
        if (slot == NULL)
            return err->rc;
        res = store_exec(slot, what, sql, n, values, err);
        if (res == NULL && PQstatus(slot->pg) == CONNECTION_OK) {
            store_release(s, slot);
            return err->rc;
        }
        if (res == NULL)
            log_warn(STORE_TAG, "%s: connection died, retrying once", what);
        store_release(s, slot);
    }
    if (res == NULL)
        return err->rc;
    if (out != NULL)
        *out = res;
    else
        PQclear(res);
    store_err_clear(err == &local ? NULL : err);
    return CORE_STORE_OK;
}
