/*
 * store/query.c - reads of core_store: ids to classify, the status of one
 * indicator, the counts of a run, and streaming export through a cursor.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/csv.h"
#include "store/store_internal.h"

#define DEFAULT_FETCH 500
#define BOOL_OID      16

int core_store_select_ids(struct core_store *s, int force, size_t limit,
                          struct core_store_ids *out,
                          struct core_store_error *err)
{
    const char *sql =
        "SELECT id FROM source_indicators si WHERE $1::boolean OR NOT "
        "EXISTS (SELECT 1 FROM classifications c WHERE c.indicator_id = "
        "si.id AND c.status = 'completed') ORDER BY id LIMIT $2::bigint";
    char lim[24];
    const char *params[2] = {force ? "true" : "false", NULL};
    PGresult *res = NULL;
    int rc, i, n;

    store_err_clear(err);
    memset(out, 0, sizeof(*out));
    if (limit > 0) {
        snprintf(lim, sizeof(lim), "%zu", limit);
        params[1] = lim;
    }
    rc = store_run(s, "select indicator ids", sql, 2, params, &res, err);
    if (rc != CORE_STORE_OK)
        return rc;

    n = PQntuples(res);
    out->ids = calloc((size_t)n + 1, sizeof(char *));
    for (i = 0; out->ids != NULL && i < n; i++) {
        out->ids[i] = strdup(PQgetvalue(res, i, 0));
        if (out->ids[i] == NULL)
            break;
        out->count++;
    }
    PQclear(res);
    if (out->ids == NULL || out->count != (size_t)n) {
        core_store_ids_free(out);
        return store_fail(err, CORE_STORE_ENOMEM,
                          "store: select ids: no memory for %d ids", n);
    }
    return CORE_STORE_OK;
}

void core_store_ids_free(struct core_store_ids *ids)
{
    size_t i;

    for (i = 0; ids->ids != NULL && i < ids->count; i++)
        free(ids->ids[i]);
    free(ids->ids);
    ids->ids = NULL;
    ids->count = 0;
}

static void copy_field(PGresult *res, int col, char *dst, size_t len)
{
    snprintf(dst, len, "%s", PQgetvalue(res, 0, col));
}

int core_store_indicator_status(struct core_store *s, const char *id,
                                struct core_store_status *out,
                                struct core_store_error *err)
{
    const char *sql =
        "SELECT coalesce(c.status, 'unclassified'), c.run_id, "
        "c.failed_at_stage, c.error, c.family, c.indicator_type, "
        "c.temporal_aggregation, to_char(c.updated_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM source_indicators si "
        "LEFT JOIN classifications c ON c.indicator_id = si.id "
        "WHERE si.id = $1";
    PGresult *res = NULL;
    int rc;

    store_err_clear(err);
    memset(out, 0, sizeof(*out));
    if (id == NULL)
        return store_fail(err, CORE_STORE_EINVAL, "store: status: no id");
    rc = store_run(s, "indicator status", sql, 1, &id, &res, err);
    if (rc != CORE_STORE_OK)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return store_fail(err, CORE_STORE_ENOTFOUND,
                          "store: status: %.100s is not a source indicator",
                          id);
    }
    copy_field(res, 0, out->status, sizeof(out->status));
    copy_field(res, 1, out->run_id, sizeof(out->run_id));
    copy_field(res, 2, out->failed_at_stage, sizeof(out->failed_at_stage));
    copy_field(res, 3, out->error, sizeof(out->error));
    copy_field(res, 4, out->family, sizeof(out->family));
    copy_field(res, 5, out->indicator_type, sizeof(out->indicator_type));
    copy_field(res, 6, out->temporal_aggregation,
               sizeof(out->temporal_aggregation));
    copy_field(res, 7, out->updated_at, sizeof(out->updated_at));
    PQclear(res);
    return CORE_STORE_OK;
}

int core_store_run_counts(struct core_store *s, const char *run_id,
                          struct core_store_run_counts *out,
                          struct core_store_error *err)
{
    const char *sql =
        "SELECT count(*) FILTER (WHERE status = 'running'), "
        "count(*) FILTER (WHERE status = 'completed'), "
        "count(*) FILTER (WHERE status = 'failed'), "
        "(SELECT count(*) FROM normalization_results WHERE run_id = $1), "
        "(SELECT count(*) FROM time_inference_results WHERE run_id = $1), "
        "(SELECT count(*) FROM cumulative_detection_results "
        "WHERE run_id = $1), "
        "(SELECT count(*) FROM family_results WHERE run_id = $1), "
        "(SELECT count(*) FROM type_results WHERE run_id = $1), "
        "(SELECT count(*) FROM boolean_review_results WHERE run_id = $1), "
        "(SELECT count(*) FROM final_review_results WHERE run_id = $1), "
        "(SELECT count(*) FROM processing_log WHERE run_id = $1) "
        "FROM classifications WHERE run_id = $1";
    PGresult *res = NULL;
    int rc, i;

    store_err_clear(err);
    memset(out, 0, sizeof(*out));
    if (run_id == NULL)
        return store_fail(err, CORE_STORE_EINVAL, "store: counts: no run id");
    rc = store_run(s, "run counts", sql, 1, &run_id, &res, err);
    if (rc != CORE_STORE_OK)
        return rc;
    out->running = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    out->completed = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
    out->failed = strtoull(PQgetvalue(res, 0, 2), NULL, 10);
    for (i = 0; i < CORE_STORE_STAGE_COUNT; i++)
        out->stage_rows[i] = strtoull(PQgetvalue(res, 0, 3 + i), NULL, 10);
    out->log_rows = strtoull(PQgetvalue(res, 0, 3 + i), NULL, 10);
    PQclear(res);
    return CORE_STORE_OK;
}

/* The text[] literal of ids: {"a","b"} with \\ and \" escaped. */
static char *array_literal(char *const *ids, size_t n)
{
    struct store_buf b = {0};
    const char *p;
    size_t i;
    int bad = store_buf_add(&b, "{", 1);

    for (i = 0; i < n && !bad; i++) {
        bad |= store_buf_add(&b, i ? ",\"" : "\"", i ? 2 : 1);
        for (p = ids[i]; *p != '\0' && !bad; p++) {
            if (*p == '"' || *p == '\\')
                bad |= store_buf_add(&b, "\\", 1);
            bad |= store_buf_add(&b, p, 1);
        }
        bad |= store_buf_add(&b, "\"", 1);
    }
    bad |= store_buf_add(&b, "}", 1);
    if (bad)
        store_buf_free(&b);
    return b.data;
}

int core_store_fetch_indicators(struct core_store *s, char *const *ids,
                                size_t n, core_store_row_fn row, void *ctx,
                                struct core_store_error *err)
{
    const char *sql = "SELECT t.id, s.raw::text FROM unnest($1::text[]) "
                      "WITH ORDINALITY AS t(id, ord) LEFT JOIN "
                      "source_indicators s ON s.id = t.id ORDER BY t.ord";
    PGresult *res = NULL;
    char *list;
    int rc, i, rows;

    store_err_clear(err);
    if (n == 0)
        return CORE_STORE_OK;
    if (ids == NULL || row == NULL)
        return store_fail(err, CORE_STORE_EINVAL,
                          "store: fetch indicators: missing argument");
    list = array_literal(ids, n);
    if (list == NULL)
        return store_fail(err, CORE_STORE_ENOMEM, "store: no memory");
    rc = store_run(s, "fetch indicators", sql, 1, (const char **)&list, &res,
                   err);
    free(list);
    if (rc != CORE_STORE_OK)
        return rc;

    rows = PQntuples(res);
    for (i = 0; i < rows && rc == CORE_STORE_OK; i++)
        if (PQgetisnull(res, i, 1))
            rc = store_fail(err, CORE_STORE_ENOTFOUND,
                            "store: fetch indicators: %.100s is not a "
                            "source indicator",
                            PQgetvalue(res, i, 0));
    for (i = 0; i < rows && rc == CORE_STORE_OK; i++)
        if (row(ctx, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                (size_t)PQgetlength(res, i, 1)) != 0)
            rc = store_fail(err, CORE_STORE_EIO,
                            "store: fetch indicators: stopped by the "
                            "caller at %d of %d",
                            i + 1, rows);
    PQclear(res);
    return rc;
}

int core_store_latest_run(struct core_store *s, char *run_id, size_t len,
                          struct core_store_error *err)
{
    const char *sql =
        "SELECT run_id FROM ((SELECT run_id, claimed_at AS at FROM "
        "submissions ORDER BY claimed_at DESC LIMIT 1) UNION ALL (SELECT "
        "run_id, updated_at FROM classifications ORDER BY updated_at DESC "
        "LIMIT 1)) AS x ORDER BY at DESC LIMIT 1";
    PGresult *res = NULL;
    int rc;

    store_err_clear(err);
    rc = store_run(s, "latest run", sql, 0, NULL, &res, err);
    if (rc != CORE_STORE_OK)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return store_fail(err, CORE_STORE_ENOTFOUND,
                          "store: no run has been submitted yet");
    }
    snprintf(run_id, len, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return CORE_STORE_OK;
}

/* Who produced the stage results of run $1, one row per result. */
#define STAGE_COLUMNS "plugin, plugin_version, generation, provider, model"

static const char breakdown_sql[] =
    "WITH c AS (SELECT * FROM classifications WHERE run_id = $1), r AS ("
    "SELECT 'normalization' AS stage, " STAGE_COLUMNS
    " FROM normalization_results WHERE run_id = $1 "
    "UNION ALL SELECT 'time-inference' AS stage, " STAGE_COLUMNS
    " FROM time_inference_results WHERE run_id = $1 "
    "UNION ALL SELECT 'cumulative-detection' AS stage, " STAGE_COLUMNS
    " FROM cumulative_detection_results WHERE run_id = $1 "
    "UNION ALL SELECT 'family' AS stage, " STAGE_COLUMNS
    " FROM family_results WHERE run_id = $1 "
    "UNION ALL SELECT 'type' AS stage, " STAGE_COLUMNS
    " FROM type_results WHERE run_id = $1 "
    "UNION ALL SELECT 'boolean-review' AS stage, " STAGE_COLUMNS
    " FROM boolean_review_results WHERE run_id = $1 "
    "UNION ALL SELECT 'final-review' AS stage, " STAGE_COLUMNS
    " FROM final_review_results WHERE run_id = $1 "
    ") SELECT o, v, n FROM ("
    "SELECT 0 AS o, status AS v, count(*) AS n FROM c GROUP BY 2 "
    "UNION ALL SELECT 1, coalesce(family, '(none)'), count(*) FROM c "
    "GROUP BY 2 "
    "UNION ALL SELECT 2, coalesce(indicator_type, '(none)'), count(*) "
    "FROM c GROUP BY 2 "
    "UNION ALL SELECT 3, failed_at_stage, count(*) FROM c WHERE "
    "failed_at_stage IS NOT NULL GROUP BY 2 "
    "UNION ALL SELECT 4, stage || ':' || plugin || '@' || "
    "coalesce(plugin_version, '-') || '#' || generation, count(*) FROM r "
    "GROUP BY 2 "
    "UNION ALL SELECT 5, coalesce(provider, '-') || '/' || "
    "coalesce(model, '-'), count(*) FROM r GROUP BY 2"
    ") AS x ORDER BY o, n DESC, v";

int core_store_run_breakdown(struct core_store *s, const char *run_id,
                             core_store_breakdown_fn fn, void *ctx,
                             struct core_store_error *err)
{
    static const char *const dims[] = {"status",         "family",
                                       "indicator_type", "failed_at_stage",
                                       "plugin",         "model"};
    PGresult *res = NULL;
    int rc, i;
    long o;

    store_err_clear(err);
    if (run_id == NULL || fn == NULL)
        return store_fail(err, CORE_STORE_EINVAL,
                          "store: run breakdown: missing argument");
    rc = store_run(s, "run breakdown", breakdown_sql, 1, &run_id, &res, err);
    if (rc != CORE_STORE_OK)
        return rc;
    for (i = 0; i < PQntuples(res) && rc == CORE_STORE_OK; i++) {
        o = strtol(PQgetvalue(res, i, 0), NULL, 10);
        if (o < 0 || o > 5)
            continue;
        if (fn(ctx, dims[o], PQgetvalue(res, i, 1),
               strtoull(PQgetvalue(res, i, 2), NULL, 10)) != 0)
            rc = store_fail(err, CORE_STORE_EIO,
                            "store: run breakdown: stopped by the caller");
    }
    PQclear(res);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Export                                                              */
/* ------------------------------------------------------------------ */

struct exporter {
    const struct core_store_export_options *opts;
    core_store_write_fn write;
    void *ctx;
    struct store_buf line;
    uint64_t rows;
    int header_done;
};

static const char *cursor_sql(const struct core_store_export_options *o)
{
    int csv = o->format == CORE_STORE_CSV;

    if (o->table == CORE_STORE_EXPORT_SOURCE_INDICATORS)
        return csv ? "DECLARE export_cur NO SCROLL CURSOR FOR SELECT * "
                     "FROM source_indicators t ORDER BY id"
                   : "DECLARE export_cur NO SCROLL CURSOR FOR SELECT "
                     "to_jsonb(t)::text FROM source_indicators t ORDER BY id";
    return csv ? "DECLARE export_cur NO SCROLL CURSOR FOR SELECT * FROM "
                 "classifications t WHERE $1::text IS NULL OR run_id = $1 "
                 "ORDER BY indicator_id"
               : "DECLARE export_cur NO SCROLL CURSOR FOR SELECT "
                 "to_jsonb(t)::text FROM classifications t WHERE $1::text "
                 "IS NULL OR run_id = $1 ORDER BY indicator_id";
}

static int emit(struct exporter *ex, struct core_store_error *err)
{
    int stop = ex->write(ex->ctx, ex->line.data, ex->line.len);

    ex->line.len = 0;
    if (stop != 0)
        return store_fail(err, CORE_STORE_EIO,
                          "store: export: the writer stopped after %" PRIu64
                          " rows",
                          ex->rows);
    return CORE_STORE_OK;
}

/* Build one CSV record (or the header) from row (or -1) of res. */
static int csv_line(struct exporter *ex, PGresult *res, int row)
{
    const char *v;
    int col, bad = 0;

    for (col = 0; col < PQnfields(res); col++) {
        if (col > 0)
            bad |= store_buf_add(&ex->line, ",", 1);
        if (row < 0)
            v = PQfname(res, col);
        else if (PQgetisnull(res, row, col))
            v = NULL;
        else if (PQftype(res, col) == BOOL_OID)
            v = PQgetvalue(res, row, col)[0] == 't' ? "true" : "false";
        else
            v = PQgetvalue(res, row, col);
        bad |= csv_put_field(&ex->line, v);
    }
    bad |= store_buf_add(&ex->line, "\r\n", 2);
    return bad;
}

static int emit_rows(struct exporter *ex, PGresult *res,
                     struct core_store_error *err)
{
    int row, rc = CORE_STORE_OK, csv = ex->opts->format == CORE_STORE_CSV;
    const char *v;

    if (csv && !ex->header_done) {
        ex->header_done = 1;
        if (csv_line(ex, res, -1) != 0)
            return store_fail(err, CORE_STORE_ENOMEM, "store: no memory");
        rc = emit(ex, err);
    }
    for (row = 0; rc == CORE_STORE_OK && row < PQntuples(res); row++) {
        if (csv) {
            if (csv_line(ex, res, row) != 0)
                return store_fail(err, CORE_STORE_ENOMEM, "store: no memory");
        }
        else {
            v = PQgetvalue(res, row, 0);
            if (store_buf_add(&ex->line, v, strlen(v)) != 0 ||
                store_buf_add(&ex->line, "\n", 1) != 0)
                return store_fail(err, CORE_STORE_ENOMEM, "store: no memory");
        }
        ex->rows++;
        rc = emit(ex, err);
    }
    return rc;
}

static int fetch_all(struct exporter *ex, struct store_slot *slot,
                     struct core_store_error *err)
{
    char fetch[48];
    PGresult *res;
    int rc = CORE_STORE_OK, n;

    snprintf(fetch, sizeof(fetch), "FETCH %zu FROM export_cur",
             ex->opts->fetch_rows ? ex->opts->fetch_rows : DEFAULT_FETCH);
    do {
        res = store_exec(slot, "export fetch", fetch, 0, NULL, err);
        if (res == NULL)
            return err ? err->rc : CORE_STORE_EDB;
        n = PQntuples(res);
        rc = emit_rows(ex, res, err);
        PQclear(res);
    } while (rc == CORE_STORE_OK && n > 0);
    return rc;
}

int core_store_export(struct core_store *s,
                      const struct core_store_export_options *opts,
                      core_store_write_fn write, void *ctx, uint64_t *rows,
                      struct core_store_error *err)
{
    struct exporter ex = {opts, write, ctx, {0}, 0, 0};
    struct store_slot *slot;
    const char *run = opts ? opts->run_id : NULL;
    int rc, nparams;

    store_err_clear(err);
    if (opts == NULL || write == NULL)
        return store_fail(err, CORE_STORE_EINVAL,
                          "store: export: missing argument");
    slot = store_acquire(s, err);
    if (slot == NULL)
        return err ? err->rc : CORE_STORE_ECONN;

    nparams = opts->table == CORE_STORE_EXPORT_CLASSIFICATIONS ? 1 : 0;
    rc = store_exec_script(slot, "export begin",
                           "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
                           " SET LOCAL TimeZone = 'UTC'",
                           err);
    if (rc == CORE_STORE_OK)
        rc = store_exec_cmd(slot, "export cursor", cursor_sql(opts), nparams,
                            &run, err);
    if (rc == CORE_STORE_OK)
        rc = fetch_all(&ex, slot, err);
    if (rc == CORE_STORE_OK)
        rc = store_exec_script(slot, "export end", "CLOSE export_cur; COMMIT",
                               err);
    if (rc != CORE_STORE_OK && PQstatus(slot->pg) == CONNECTION_OK)
        PQclear(PQexec(slot->pg, "ROLLBACK"));

    store_release(s, slot);
    store_buf_free(&ex.line);
    if (rows != NULL)
        *rows = ex.rows;
    return rc;
}
