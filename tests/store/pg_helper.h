/*
 * pg_helper.h - shared helpers of the core_store tests.
 *
 * The server comes from with_pg.sh, which exports CLASSIFY_TEST_PG.  Each
 * test makes its own database so tests never see each other's rows.  All
 * helpers fail the running cmocka test on error (never skip).
 */
#ifndef TESTS_STORE_PG_HELPER_H
#define TESTS_STORE_PG_HELPER_H

#include <libpq-fe.h>
#include <stddef.h>

#include "store/store.h"

/* Create an empty database; returns its conninfo (malloc'd). */
char *th_fresh_db(void);

/* Open a store on conninfo with pool_size connections and migrate it. */
struct core_store *th_open(const char *conninfo, unsigned pool_size);

/* A plain libpq connection to conninfo (fails the test if it cannot). */
PGconn *th_connect(const char *conninfo);

/* Run sql and return the first column of the first row as a number. */
long th_scalar(PGconn *pg, const char *sql);

/* Run sql and return the first column of the first row (malloc'd, or
 * NULL when the value is SQL NULL or there is no row). */
char *th_text(PGconn *pg, const char *sql);

/* Run sql (no result needed); fails the test on error. */
void th_exec(PGconn *pg, const char *sql);

/* Path of a file under the repository's data/ (static buffer). */
const char *th_data(const char *name);

/* Write text to a new temporary file; returns its path (malloc'd). */
char *th_temp_file(const char *text, size_t len);

#endif /* TESTS_STORE_PG_HELPER_H */
