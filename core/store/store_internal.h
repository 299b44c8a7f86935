/*
 * store/store_internal.h - what the files of core_store share: the pool,
 * statement helpers and error filling.  Not for use outside core/store.
 */
#ifndef CORE_STORE_INTERNAL_H
#define CORE_STORE_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>

#include "store/store.h"

#define STORE_TAG      "store"
#define STORE_POOL_MAX 64

struct store_slot {
    PGconn *pg;
    int busy;
};

struct core_store {
    char *conninfo;
    unsigned pool_size;
    unsigned timeout_ms;
    pthread_mutex_t lock;
    pthread_cond_t freed;
    struct store_slot slots[STORE_POOL_MAX];
    int timescale;
    unsigned schema_version;
};

/*
 * Fill err (if not NULL) with rc and a formatted message; returns rc so
 * callers can write `return store_fail(err, rc, ...)`.
 */
int store_fail(struct core_store_error *err, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clear err to CORE_STORE_OK (NULL is fine). */
void store_err_clear(struct core_store_error *err);

/*
 * Borrow a connected connection (reconnecting a broken one once), waiting
 * up to the acquire timeout.  Returns the slot or NULL with err filled
 * (ECONN).  Give it back with store_release().
 */
struct store_slot *store_acquire(struct core_store *s,
                                 struct core_store_error *err);

/* Return a slot to the pool; a connection left in a transaction or
 * broken is reset first. */
void store_release(struct core_store *s, struct store_slot *slot);

/*
 * Run one parameterised statement on slot (all parameters text, NULL for
 * SQL NULL).  Returns the result when its status is PGRES_COMMAND_OK or
 * PGRES_TUPLES_OK, else NULL with err filled: the rc follows the SQLSTATE
 * class (23 and 22 -> EREJECT, 08 and a dead connection -> ECONN, others
 * EDB) and the message starts with what.  Caller PQclear()s the result.
 */
PGresult *store_exec(struct store_slot *slot, const char *what, const char *sql,
                     int n, const char *const *values,
                     struct core_store_error *err);

/*
 * Pass res through when it succeeded (COMMAND_OK or TUPLES_OK); otherwise
 * PQclear() it, fill err as store_exec() does and return NULL.
 */
PGresult *store_check(PGconn *pg, PGresult *res, const char *what,
                      struct core_store_error *err);

/* store_exec() for statements whose result is not needed. */
int store_exec_cmd(struct store_slot *slot, const char *what, const char *sql,
                   int n, const char *const *values,
                   struct core_store_error *err);

/*
 * Acquire, run one statement, release: if the connection turns out to be
 * dead, reconnect once and run it again (statements sent this way must
 * be idempotent).  *res (may be NULL to discard) gets the result.
 */
int store_run(struct core_store *s, const char *what, const char *sql, int n,
              const char *const *values, PGresult **res,
              struct core_store_error *err);

/* Run a multi-statement script without parameters (migrations only). */
int store_exec_script(struct store_slot *slot, const char *what,
                      const char *sql, struct core_store_error *err);

/* Validate a source indicator object; 0 or -1 with field/reason set. */
struct cJSON;
int store_indicator_check(const struct cJSON *obj, char *field,
                          size_t field_len, char *reason, size_t reason_len);

/* Most rows store_indicator_upsert_many() takes in one call. */
#define STORE_PIPELINE_MAX 100

/*
 * Upsert n (<= STORE_PIPELINE_MAX) validated indicators in one libpq
 * pipeline, inside the caller's transaction.  cnt[0..2] are incremented
 * by inserted, updated and unchanged rows.  On failure *bad is the index
 * of the first refused row (the caller must roll back: later rows were
 * not run).
 */
int store_indicator_upsert_many(struct store_slot *slot,
                                const char *const *texts, size_t n, size_t *bad,
                                unsigned long cnt[3],
                                struct core_store_error *err);

/* Apply the taxonomy vocabulary step inside the caller's transaction. */
int store_taxonomy_apply(struct store_slot *slot, struct core_store_error *err);

/* Byte offset of the first invalid UTF-8 sequence, or len if valid. */
size_t store_utf8_check(const char *s, size_t len);

#endif /* CORE_STORE_INTERNAL_H */
