/*
 * store/store.h - PostgreSQL persistence of the classification host.
 *
 * One struct core_store owns a small pool of libpq connections.  It
 * applies the schema (versioned SQL migrations embedded in the binary,
 * plus CHECK constraints generated from classify/taxonomy.h), imports
 * source indicators from JSONL or CSV files, records every stage result
 * with its provenance, assembles the final classification row of a run,
 * appends to the processing log, answers status queries and streams
 * exports.
 *
 * Threads: every function taking a struct core_store may be called from
 * any thread at the same time; each call borrows one pooled connection
 * for its duration (waiting at most the acquire timeout).
 * core_store_open() and core_store_close() are the exceptions: call them
 * from one thread while no other call is running.
 *
 * Writes are idempotent: repeating a call with the same arguments (a
 * workflow replay or a retry) leaves the same rows, never a duplicate.
 * Every statement is parameterised.
 *
 * Errors: functions return CORE_STORE_OK (0) or a negative enum
 * core_store_rc and, when err is not NULL, fill it with the code, the
 * SQLSTATE (if the server answered) and a message naming the operation,
 * the object and the cause.  CORE_STORE_EREJECT and CORE_STORE_EINVAL are
 * permanent (retrying cannot help); CORE_STORE_ECONN and CORE_STORE_EDB
 * may succeed later.
 */
#ifndef CORE_STORE_STORE_H
#define CORE_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

enum core_store_rc {
    CORE_STORE_OK = 0,
    CORE_STORE_EINVAL = -1,    /* bad argument or malformed input */
    CORE_STORE_ENOMEM = -2,    /* allocation failed */
    CORE_STORE_ECONN = -3,     /* no connection (down, pool timeout) */
    CORE_STORE_EREJECT = -4,   /* the server refused the data */
    CORE_STORE_EDB = -5,       /* any other server-side failure */
    CORE_STORE_ENOTFOUND = -6, /* the indicator or row does not exist */
    CORE_STORE_EIO = -7        /* a file or the export writer failed */
};

#define CORE_STORE_ERR_MAX 512

struct core_store_error {
    int rc;
    char sqlstate[6];
    char message[CORE_STORE_ERR_MAX];
};

struct core_store;

struct core_store_options {
    const char *conninfo;        /* libpq conninfo string or URI */
    unsigned pool_size;          /* connections, 1..64 */
    unsigned acquire_timeout_ms; /* wait for a free one; 0 means 5000 */
};

/*
 * Connect (one connection at once, to fail fast on a bad conninfo; the
 * others on demand) and return a new store in *out.  Does not touch the
 * schema: call core_store_migrate() next.  The caller owns *out and frees
 * it with core_store_close().  Fails with EINVAL (options), ENOMEM or
 * ECONN (the server's message is in err; the conninfo is never logged,
 * it may hold a password).
 */
int core_store_open(const struct core_store_options *opts,
                    struct core_store **out, struct core_store_error *err);

/* Close every connection and free s (NULL is fine).  No call may run. */
void core_store_close(struct core_store *s);

/*
 * Bring the schema to the version this binary knows: under a PostgreSQL
 * advisory lock (so hosts starting together apply nothing twice), apply
 * each embedded migration not yet listed in schema_migrations, each in
 * its own transaction; then regenerate the vocabulary tables and CHECK
 * constraints if taxonomy.h changed; then make processing_log a
 * TimescaleDB hypertable when the extension is available (logged either
 * way).  Refuses (EDB) a database whose applied migration differs from
 * the embedded text, or that has a migration newer than this binary.
 * Safe to call any number of times.
 */
int core_store_migrate(struct core_store *s, struct core_store_error *err);

/* 1 if processing_log is a hypertable, 0 if plain (after migrate). */
int core_store_has_timescale(const struct core_store *s);

/* Schema version applied (highest migration number), after migrate. */
unsigned core_store_schema_version(const struct core_store *s);

/* ------------------------------------------------------------------ */
/* Source indicators                                                   */
/* ------------------------------------------------------------------ */

/* Longest indicator id the store accepts, in bytes. */
#define CORE_STORE_INDICATOR_ID_MAX 256

struct cJSON;

/*
 * Check a parsed indicator the way seeding and upserts do (required id
 * and name, field types, sample values).  Returns 0, or -1 with the
 * offending field ("" for the whole object) and the reason.  Thread-safe.
 */
int core_store_indicator_valid(const struct cJSON *obj, char *field,
                               size_t field_len, char *reason,
                               size_t reason_len);

/*
 * Insert or update one source indicator from a JSON object in the format
 * of data/indicators.jsonl (id and name required, the other known fields
 * string or null, sample_values an array of {date, value} or null).  The
 * whole object is kept in the raw column.  *outcome (may be NULL) is set
 * to 'i' (inserted), 'u' (updated) or '=' (identical row, untouched).
 * EINVAL with the field and reason in err when the object is not valid.
 */
int core_store_upsert_indicator(struct core_store *s, const char *json,
                                size_t len, char *outcome,
                                struct core_store_error *err);

enum core_store_format { CORE_STORE_JSONL = 0, CORE_STORE_CSV = 1 };

/* Parse "jsonl" or "csv"; -1 when unknown. */
int core_store_format_parse(const char *name);

/* One line of a seed file that was not imported. */
struct core_store_reject {
    unsigned long line; /* 1-based; for CSV the record's first line */
    char field[64];     /* offending field, "" for the whole line */
    char reason[192];
};

struct core_store_seed_options {
    size_t chunk_rows;  /* rows per transaction; 0 means 500 */
    int all_or_nothing; /* 1: one transaction, any reject writes nothing */
};

struct core_store_seed_report {
    unsigned long lines; /* records read (blank lines not counted) */
    unsigned long inserted, updated, unchanged;
    unsigned long rejected;
    unsigned long chunks_committed;
    struct core_store_reject *rejects; /* all rejects, in line order */
    size_t reject_count;               /* == rejected */
};

/*
 * Import the indicators of a JSONL or CSV file.  CSV: the first record
 * names the fields (same names as JSONL; unknown columns are kept in raw),
 * RFC 4180 quoting, CRLF or LF; an empty unquoted field is NULL and
 * sample_values holds JSON text.  Every line that cannot be imported
 * (non-UTF-8, malformed JSON or CSV, wrong type, missing id or name, or
 * refused by the server) is reported in report and skipped; the others are
 * written chunk by chunk, one transaction each, so a failure leaves only
 * whole chunks behind.  With all_or_nothing a single reject writes nothing
 * (report still lists every reason).  opts may be NULL.  report is filled
 * even on failure; free it with core_store_seed_report_free().  Returns
 * OK when the file was read to the end (even with rejects), EIO when it
 * cannot be read, EREJECT in all_or_nothing mode with rejects, ECONN/EDB
 * when the server failed (committed chunks stay).
 */
int core_store_seed_file(struct core_store *s, const char *path,
                         enum core_store_format format,
                         const struct core_store_seed_options *opts,
                         struct core_store_seed_report *report,
                         struct core_store_error *err);

/* Free what a seed report holds and zero it. */
void core_store_seed_report_free(struct core_store_seed_report *report);

struct core_store_ids {
    char **ids;
    size_t count;
};

/*
 * Ids of the source indicators to classify, ordered by id: those without
 * a completed classification, or all of them when force is non-zero; at
 * most limit (0: no limit).  Free with core_store_ids_free().
 */
int core_store_select_ids(struct core_store *s, int force, size_t limit,
                          struct core_store_ids *out,
                          struct core_store_error *err);

void core_store_ids_free(struct core_store_ids *ids);

/* ------------------------------------------------------------------ */
/* Stage results, classifications, processing log                      */
/* ------------------------------------------------------------------ */

enum core_store_stage {
    CORE_STORE_NORMALIZATION = 0,
    CORE_STORE_TIME_INFERENCE,
    CORE_STORE_CUMULATIVE_DETECTION,
    CORE_STORE_FAMILY,
    CORE_STORE_TYPE,
    CORE_STORE_BOOLEAN_REVIEW,
    CORE_STORE_FINAL_REVIEW,
    CORE_STORE_STAGE_COUNT
};

/* "normalization", "time-inference", "cumulative-detection", "family",
 * "type", "boolean-review", "final-review"; NULL when out of range. */
const char *core_store_stage_name(enum core_store_stage stage);

/* The inverse of core_store_stage_name(); -1 when unknown. */
int core_store_stage_parse(const char *name);

/* Who produced a stage result.  Strings may be NULL (stored as NULL). */
struct core_store_provenance {
    const char *plugin;         /* required */
    const char *plugin_version; /* e.g. "1.2.0" */
    const char *build_id;
    uint64_t generation;  /* reload generation of the plugin */
    const char *provider; /* provider that actually answered, or "rules" */
    const char *model;
    uint32_t input_tokens, output_tokens, cached_tokens;
    uint32_t latency_ms;
};

/*
 * Record the result of one stage for (indicator_id, run_id): the JSON
 * object text is stored whole and its known keys are copied into typed
 * columns (a key missing or null gives NULL; "a|b" means a, else b):
 *   normalization: original_units, parsed_scale, normalized_scale,
 *       parsed_unit_type|unit_type, parsed_currency|currency,
 *       parsing_confidence|confidence
 *   time-inference: reporting_frequency, time_basis, confidence,
 *       reasoning, source_used (from the member "time" if the object has
 *       one, else from the object itself)
 *   cumulative-detection: is_cumulative, pattern_type, confidence,
 *       evidence, reasoning, from the member "cumulative" if present, else
 *       from is_cumulative, cumulative_pattern, cumulative_confidence,
 *       cumulative_reasoning, cumulative_evidence when cumulative_pattern
 *       is present (the flat time-inference result), else the object
 *   family: family, confidence, reasoning
 *   type: indicator_type, temporal_aggregation, heat_map_orientation,
 *       confidence, reasoning
 *   boolean-review: passed, fields_wrong|incorrect_fields,
 *       reason|reasoning, confidence
 *   final-review: status (-> review_status), corrections, reason|reasoning,
 *       confidence
 * A rewrite of the same key replaces the row (the latest attempt wins).
 * EREJECT when a value is outside taxonomy.h or of the wrong type,
 * EINVAL when the text is not a JSON object.
 */
int core_store_write_stage(struct core_store *s, enum core_store_stage stage,
                           const char *indicator_id, const char *run_id,
                           const char *result_json,
                           const struct core_store_provenance *prov,
                           struct core_store_error *err);

/* How a run ended, for core_store_write_classification(). */
struct core_store_outcome {
    const char *indicator_id;
    const char *run_id;
    const char *status;          /* "running", "completed" or "failed" */
    const char *failed_at_stage; /* NULL unless failed */
    const char *error;           /* NULL unless failed */
};

/*
 * Write the indicator's classifications row from its source row and the
 * stage results of this run.  The row follows the run submitted last (by
 * core_store_claim_submission() time; a run without a claim counts as the
 * newest): a write for an older run than the stored one changes nothing
 * and returns OK, so a late replay cannot overwrite a newer result.  A final
 * review with review_status "corrected" overrides the corrected fields (family,
 * indicator_type, temporal_aggregation, heat_map_orientation, time_basis,
 * reporting_frequency; corrections given as {"field": value} or as
 * [{"field": name, "to": value}, ...]); review_status is the final review's,
 * else "passed" when the boolean review passed; overall_confidence is the mean
 * of the stage confidences present; provider/model are the type stage's.
 * ENOTFOUND when the indicator is not in source_indicators, EREJECT when
 * the family/type pair is not allowed by taxonomy.h.
 */
int core_store_write_classification(struct core_store *s,
                                    const struct core_store_outcome *o,
                                    struct core_store_error *err);

struct core_store_log_entry {
    const char *indicator_id;
    const char *run_id;
    const char *stage;
    unsigned attempt;
    const char *event;   /* e.g. "started", "completed", "failed" */
    const char *message; /* may be NULL */
    int64_t at_ms;       /* event time (ms since epoch); 0: server now */
};

/*
 * Append one processing_log row; a row with the same (indicator_id,
 * run_id, stage, event, attempt) already there is kept and *inserted
 * (may be NULL) is set to 0.  With TimescaleDB the key also holds
 * created_at, so pass the journaled at_ms for replays to deduplicate.
 */
int core_store_log_append(struct core_store *s,
                          const struct core_store_log_entry *e, int *inserted,
                          struct core_store_error *err);

/*
 * Claim the submission of indicator_id to run_id for claimant (an opaque
 * id of the caller, e.g. its invocation id).  The first claim wins and is
 * kept; *mine is 1 when the stored claim is claimant's (new, or left by
 * an earlier execution of the same caller), 0 when another caller holds
 * it.  The indicator must be in source_indicators (EREJECT otherwise).
 */
int core_store_claim_submission(struct core_store *s, const char *indicator_id,
                                const char *run_id, const char *claimant,
                                int *mine, struct core_store_error *err);

/* ------------------------------------------------------------------ */
/* Queries and export                                                  */
/* ------------------------------------------------------------------ */

struct core_store_status {
    char status[16]; /* running|completed|failed, or "unclassified" */
    char run_id[128];
    char failed_at_stage[64];
    char error[256];
    char family[32];
    char indicator_type[32];
    char temporal_aggregation[32];
    char updated_at[40]; /* ISO 8601, UTC */
};

/*
 * The classification state of one indicator (fields not known are "").
 * ENOTFOUND when the indicator is not in source_indicators.  Long
 * values are truncated to the field size.
 */
int core_store_indicator_status(struct core_store *s, const char *id,
                                struct core_store_status *out,
                                struct core_store_error *err);

struct core_store_run_counts {
    uint64_t running, completed, failed;
    uint64_t stage_rows[CORE_STORE_STAGE_COUNT];
    uint64_t log_rows;
};

/* Row counts of one run: classifications by status, results per stage,
 * processing_log rows. */
int core_store_run_counts(struct core_store *s, const char *run_id,
                          struct core_store_run_counts *out,
                          struct core_store_error *err);

/*
 * Receives one source indicator: its id and its record as JSON object
 * text (the raw record as imported, format of data/indicators.jsonl).
 * Return 0 to continue, non-zero to stop (EIO).
 */
typedef int (*core_store_row_fn)(void *ctx, const char *id, const char *json,
                                 size_t len);

/*
 * Call row for each of the n ids, in the order given.  ENOTFOUND (and
 * no call at all) when one of them is not in source_indicators; the
 * message names it.
 */
int core_store_fetch_indicators(struct core_store *s, char *const *ids,
                                size_t n, core_store_row_fn row, void *ctx,
                                struct core_store_error *err);

/*
 * The id of the run that was submitted or written last, copied into
 * run_id (len bytes, truncated).  ENOTFOUND when there is none yet.
 */
int core_store_latest_run(struct core_store *s, char *run_id, size_t len,
                          struct core_store_error *err);

/*
 * Receives one group count.  dimension stays the same pointer for all
 * the values of a dimension, which arrive together (largest count first).
 * Return 0 to continue, non-zero to stop (EIO).
 */
typedef int (*core_store_breakdown_fn)(void *ctx, const char *dimension,
                                       const char *value, uint64_t count);

/*
 * Counts of one run grouped by dimension, in this order: "status",
 * "family", "indicator_type", "failed_at_stage" (of classifications rows;
 * NULL shown as "(none)"), "plugin" ("<stage>:<plugin>@<version>#<reload
 * generation>" of the stage results) and "model" ("<provider>/<model>" of
 * the stage results).  Dimensions without rows are not reported.
 */
int core_store_run_breakdown(struct core_store *s, const char *run_id,
                             core_store_breakdown_fn fn, void *ctx,
                             struct core_store_error *err);

enum core_store_export_table {
    CORE_STORE_EXPORT_CLASSIFICATIONS = 0,
    CORE_STORE_EXPORT_SOURCE_INDICATORS = 1
};

/*
 * Receives export output in pieces (each a whole line, or a whole CSV
 * record).  Return 0 to continue, non-zero to stop the export (EIO).
 */
typedef int (*core_store_write_fn)(void *ctx, const char *data, size_t len);

struct core_store_export_options {
    enum core_store_export_table table;
    enum core_store_format format;
    const char *run_id; /* classifications of this run only; NULL: all */
    size_t fetch_rows;  /* rows per cursor fetch; 0 means 500 */
};

/*
 * Stream a table ordered by id through write: JSONL (one object per row,
 * jsonb columns nested) or CSV (a header record, then RFC 4180 records;
 * jsonb columns as JSON text, NULL as an empty field).  Reads through a
 * server-side cursor, fetch_rows at a time, so memory does not grow with
 * the table.  *rows (may be NULL) gets the number of rows written.
 */
int core_store_export(struct core_store *s,
                      const struct core_store_export_options *opts,
                      core_store_write_fn write, void *ctx, uint64_t *rows,
                      struct core_store_error *err);

#endif /* CORE_STORE_STORE_H */
