/*
 * test_store_write.c - stage results, classification rows, the processing
 * log, idempotent upserts, taxonomy constraints, status queries and the
 * connection pool, against a real PostgreSQL.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "pg_helper.h"
#include "store/store_internal.h"

struct fixture {
    char *info;
    struct core_store *s;
    PGconn *pg;
};

static const struct core_store_provenance prov = {
    .plugin = "family-llm",
    .plugin_version = "1.2.0",
    .build_id = "abc123",
    .generation = 3,
    .provider = "openai",
    .model = "gpt-test",
    .input_tokens = 1200,
    .output_tokens = 80,
    .cached_tokens = 1024,
    .latency_ms = 950,
};

static void add_indicator(struct core_store *s, const char *id)
{
    char json[256];
    struct core_store_error err;
    char outcome;

    snprintf(json, sizeof(json),
             "{\"id\": \"%s\", \"name\": \"Name of %s\", \"units\": \"%%\","
             " \"sample_values\": [{\"date\": \"2024\", \"value\": 1.5}]}",
             id, id);
    if (core_store_upsert_indicator(s, json, strlen(json), &outcome, &err))
        fail_msg("upsert %s: %s", id, err.message);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->info = th_fresh_db();
    f->s = th_open(f->info, 3);
    f->pg = th_connect(f->info);
    add_indicator(f->s, "wdi:A");
    add_indicator(f->s, "wdi:B");
    add_indicator(f->s, "wdi:C");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    core_store_close(f->s);
    PQfinish(f->pg);
    free(f->info);
    free(f);
    return 0;
}

static int write(struct fixture *f, enum core_store_stage st, const char *id,
                 const char *run, const char *json,
                 struct core_store_error *err)
{
    return core_store_write_stage(f->s, st, id, run, json, &prov, err);
}

static void test_rejects_unknown_family(void **state)
{
    struct fixture *f = *state;
    struct core_store_error err;

    assert_int_equal(write(f, CORE_STORE_FAMILY, "wdi:A", "r1",
                           "{\"family\": \"astrology\", \"confidence\": 0.5}",
                           &err),
                     CORE_STORE_EREJECT);
    assert_string_equal(err.sqlstate, "23514");
    assert_non_null(strstr(err.message, "tax_family_results_family"));

    assert_int_equal(write(f, CORE_STORE_TYPE, "wdi:A", "r1",
                           "{\"indicator_type\": \"stock\", "
                           "\"temporal_aggregation\": \"sometimes\"}",
                           &err),
                     CORE_STORE_EREJECT);
    assert_int_equal(write(f, CORE_STORE_FAMILY, "wdi:A", "r1",
                           "{\"family\": \"temporal\", \"confidence\": "
                           "\"high\"}",
                           &err),
                     CORE_STORE_EREJECT);
    assert_non_null(strstr(err.message, "confidence"));
    assert_int_equal(
        write(f, CORE_STORE_FAMILY, "wdi:A", "r1", "[\"not an object\"]", &err),
        CORE_STORE_EINVAL);
    assert_int_equal(th_scalar(f->pg, "SELECT count(*) FROM family_results"),
                     0);
}

static void test_rejects_pair_not_allowed(void **state)
{
    struct fixture *f = *state;
    struct core_store_outcome o = {"wdi:A", "r1", "completed", NULL, NULL};
    struct core_store_error err;

    assert_int_equal(write(f, CORE_STORE_FAMILY, "wdi:A", "r1",
                           "{\"family\": \"price-value\"}", &err),
                     CORE_STORE_OK);
    assert_int_equal(write(f, CORE_STORE_TYPE, "wdi:A", "r1",
                           "{\"indicator_type\": \"stock\"}", &err),
                     CORE_STORE_OK);
    assert_int_equal(core_store_write_classification(f->s, &o, &err),
                     CORE_STORE_EREJECT);
    assert_string_equal(err.sqlstate, "23503");
    assert_int_equal(th_scalar(f->pg, "SELECT count(*) FROM classifications"),
                     0);
}

static void test_upserts_do_not_duplicate(void **state)
{
    struct fixture *f = *state;
    struct core_store_log_entry e = {"wdi:A",   "r1", "family",     1,
                                     "started", NULL, 1764860000123};
    struct core_store_error err;
    char outcome = 0, *conf;
    const char *json = "{\"id\": \"wdi:A\", \"name\": \"Renamed\"}";
    int inserted = -1;

    assert_int_equal(write(f, CORE_STORE_FAMILY, "wdi:A", "r1",
                           "{\"family\": \"temporal\", \"confidence\": 0.4}",
                           &err),
                     CORE_STORE_OK);
    assert_int_equal(write(f, CORE_STORE_FAMILY, "wdi:A", "r1",
                           "{\"family\": \"temporal\", \"confidence\": 0.9}",
                           &err),
                     CORE_STORE_OK);
    assert_int_equal(th_scalar(f->pg, "SELECT count(*) FROM family_results"),
                     1);
    conf = th_text(f->pg, "SELECT confidence FROM family_results");
    assert_string_equal(conf, "0.9");
    free(conf);

    assert_int_equal(core_store_log_append(f->s, &e, &inserted, &err), 0);
    assert_int_equal(inserted, 1);
    e.at_ms = 0;
    assert_int_equal(core_store_log_append(f->s, &e, &inserted, &err), 0);
    assert_int_equal(inserted, 0);
    e.attempt = 2;
    assert_int_equal(core_store_log_append(f->s, &e, &inserted, &err), 0);
    assert_int_equal(inserted, 1);
    assert_int_equal(th_scalar(f->pg, "SELECT count(*) FROM processing_log"),
                     2);

    assert_int_equal(
        core_store_upsert_indicator(f->s, json, strlen(json), &outcome, &err),
        0);
    assert_int_equal(outcome, 'u');
    assert_int_equal(
        core_store_upsert_indicator(f->s, json, strlen(json), &outcome, &err),
        0);
    assert_int_equal(outcome, '=');
    assert_int_equal(th_scalar(f->pg, "SELECT count(*) FROM source_indicators"),
                     3);
}

static void write_all_stages(struct fixture *f, const char *id, const char *run,
                             const char *final_review)
{
    const char *results[CORE_STORE_STAGE_COUNT] = {
        "{\"original_units\": \"%\", \"parsed_scale\": \"ones\", "
        "\"normalized_scale\": \"percent\", \"parsed_unit_type\": "
        "\"percentage\", \"parsed_currency\": null, \"parsing_confidence\": 1}",
        "{\"time\": {\"reporting_frequency\": \"annual\", \"time_basis\": "
        "\"per-period\", \"confidence\": 0.8, \"reasoning\": \"yearly\", "
        "\"source_used\": \"periodicity\"}, \"cumulative\": {}}",
        "{\"is_cumulative\": false, \"pattern_type\": \"periodic\", "
        "\"confidence\": 0.85, \"evidence\": {\"total_periods_analyzed\": 8}}",
        "{\"family\": \"change-movement\", \"confidence\": 0.7, "
        "\"reasoning\": \"a rate\"}",
        "{\"indicator_type\": \"rate\", \"temporal_aggregation\": "
        "\"period-rate\", \"heat_map_orientation\": \"higher-is-positive\", "
        "\"confidence\": 0.9}",
        "{\"passed\": false, \"fields_wrong\": [\"family\"], \"reason\": "
        "\"ratio\", \"confidence\": 0.6}",
        final_review,
    };
    struct core_store_error err;
    int st;

    for (st = 0; st < CORE_STORE_STAGE_COUNT; st++) {
        if (results[st] == NULL)
            continue;
        if (write(f, (enum core_store_stage)st, id, run, results[st], &err))
            fail_msg("stage %s: %s",
                     core_store_stage_name((enum core_store_stage)st),
                     err.message);
    }
}

static void test_classification_row(void **state)
{
    struct fixture *f = *state;
    struct core_store_outcome o = {"wdi:B", "run-7", "completed", NULL, NULL};
    struct core_store_status st;
    struct core_store_run_counts counts;
    struct core_store_error err;
    char *v;

    write_all_stages(f, "wdi:B", "run-7",
                     "{\"status\": \"corrected\", \"corrections\": "
                     "{\"family\": \"numeric-measurement\", "
                     "\"indicator_type\": \"ratio\"}, \"confidence\": 0.8}");
    assert_int_equal(core_store_write_classification(f->s, &o, &err), 0);
    assert_int_equal(core_store_write_classification(f->s, &o, &err), 0);

    assert_int_equal(core_store_indicator_status(f->s, "wdi:B", &st, &err), 0);
    assert_string_equal(st.status, "completed");
    assert_string_equal(st.run_id, "run-7");
    assert_string_equal(st.family, "numeric-measurement");
    assert_string_equal(st.indicator_type, "ratio");
    assert_string_equal(st.temporal_aggregation, "period-rate");
    assert_int_equal(strlen(st.updated_at), 24);

    v = th_text(f->pg, "SELECT concat_ws('|', name, review_status, "
                       "time_basis, parsed_unit_type, provider, model, "
                       "round(overall_confidence::numeric, 3), "
                       "boolean_review_fields_wrong) FROM classifications");
    assert_string_equal(v, "Name of wdi:B|corrected|per-period|percentage|"
                           "openai|gpt-test|0.807|[\"family\"]");
    free(v);
    v = th_text(f->pg, "SELECT concat_ws('|', plugin, plugin_version, "
                       "build_id, generation, input_tokens, cached_tokens, "
                       "latency_ms) FROM family_results");
    assert_string_equal(v, "family-llm|1.2.0|abc123|3|1200|1024|950");
    free(v);

    assert_int_equal(core_store_run_counts(f->s, "run-7", &counts, &err), 0);
    assert_int_equal(counts.completed, 1);
    assert_int_equal(counts.failed, 0);
    assert_int_equal(counts.stage_rows[CORE_STORE_FAMILY], 1);
    assert_int_equal(counts.stage_rows[CORE_STORE_FINAL_REVIEW], 1);

    assert_int_equal(core_store_indicator_status(f->s, "wdi:C", &st, &err), 0);
    assert_string_equal(st.status, "unclassified");
    assert_int_equal(core_store_indicator_status(f->s, "nope", &st, &err),
                     CORE_STORE_ENOTFOUND);
}

static void test_latest_run_wins_and_failure(void **state)
{
    struct fixture *f = *state;
    struct core_store_outcome ok = {"wdi:A", "run-1", "completed", NULL, NULL};
    struct core_store_outcome bad = {"wdi:A", "run-2", "failed", "type",
                                     "provider timed out"};
    struct core_store_outcome ghost = {"wdi:Z", "run-1", "completed", NULL,
                                       NULL};
    struct core_store_status st;
    struct core_store_error err;

    write_all_stages(f, "wdi:A", "run-1", NULL);
    assert_int_equal(core_store_write_classification(f->s, &ok, &err), 0);
    assert_int_equal(core_store_write_classification(f->s, &bad, &err), 0);
    assert_int_equal(core_store_indicator_status(f->s, "wdi:A", &st, &err), 0);
    assert_string_equal(st.status, "failed");
    assert_string_equal(st.failed_at_stage, "type");
    assert_string_equal(st.error, "provider timed out");
    assert_string_equal(st.family, ""); /* run-2 wrote no stage result */
    assert_int_equal(th_scalar(f->pg, "SELECT count(*) FROM classifications"),
                     1);

    assert_int_equal(core_store_write_classification(f->s, &ghost, &err),
                     CORE_STORE_ENOTFOUND);
}

static void test_late_replay_of_older_run(void **state)
{
    struct fixture *f = *state;
    struct core_store_outcome old = {"wdi:B", "run-old", "failed", "family",
                                     "late"};
    struct core_store_outcome cur = {"wdi:B", "run-new", "completed", NULL,
                                     NULL};
    struct core_store_status st;
    struct core_store_error err;
    int mine;

    assert_int_equal(core_store_claim_submission(f->s, "wdi:B", "run-old", "i1",
                                                 &mine, &err),
                     0);
    th_exec(f->pg, "UPDATE submissions SET claimed_at = now() - "
                   "interval '1 hour'");
    assert_int_equal(core_store_claim_submission(f->s, "wdi:B", "run-new", "i2",
                                                 &mine, &err),
                     0);
    assert_int_equal(core_store_write_classification(f->s, &cur, &err), 0);
    assert_int_equal(core_store_write_classification(f->s, &old, &err), 0);
    assert_int_equal(core_store_indicator_status(f->s, "wdi:B", &st, &err), 0);
    assert_string_equal(st.run_id, "run-new");
    assert_string_equal(st.status, "completed");

    /* The same run may rewrite its own row. */
    cur.status = "failed";
    assert_int_equal(core_store_write_classification(f->s, &cur, &err), 0);
    assert_int_equal(core_store_indicator_status(f->s, "wdi:B", &st, &err), 0);
    assert_string_equal(st.status, "failed");
}

static void test_select_ids(void **state)
{
    struct fixture *f = *state;
    struct core_store_outcome o = {"wdi:B", "r", "completed", NULL, NULL};
    struct core_store_ids ids;
    struct core_store_error err;

    assert_int_equal(core_store_select_ids(f->s, 0, 0, &ids, &err), 0);
    assert_int_equal(ids.count, 3);
    core_store_ids_free(&ids);

    assert_int_equal(core_store_write_classification(f->s, &o, &err), 0);
    assert_int_equal(core_store_select_ids(f->s, 0, 0, &ids, &err), 0);
    assert_int_equal(ids.count, 2);
    assert_string_equal(ids.ids[0], "wdi:A");
    assert_string_equal(ids.ids[1], "wdi:C");
    core_store_ids_free(&ids);

    assert_int_equal(core_store_select_ids(f->s, 1, 0, &ids, &err), 0);
    assert_int_equal(ids.count, 3);
    core_store_ids_free(&ids);
    assert_int_equal(core_store_select_ids(f->s, 1, 2, &ids, &err), 0);
    assert_int_equal(ids.count, 2);
    core_store_ids_free(&ids);
}

static void test_reconnects_once(void **state)
{
    struct fixture *f = *state;
    struct core_store_error err;
    struct core_store_ids ids;

    assert_int_equal(core_store_select_ids(f->s, 1, 0, &ids, &err), 0);
    core_store_ids_free(&ids);
    /* Kill every pooled backend of this database. */
    assert_true(th_scalar(f->pg, "SELECT count(pg_terminate_backend(pid)) "
                                 "FROM pg_stat_activity WHERE datname = "
                                 "current_database() AND pid <> "
                                 "pg_backend_pid()") >= 1);
    assert_int_equal(core_store_select_ids(f->s, 1, 0, &ids, &err), 0);
    assert_int_equal(ids.count, 3);
    core_store_ids_free(&ids);
}

static void test_pool_timeout(void **state)
{
    struct fixture *f = *state;
    struct core_store_options opts = {f->info, 1, 150};
    struct core_store_error err;
    struct store_slot *held;
    struct core_store *s = NULL;
    struct core_store_ids ids;

    (void)state;
    assert_int_equal(core_store_open(&opts, &s, &err), 0);
    held = store_acquire(s, &err);
    assert_non_null(held);
    assert_int_equal(core_store_select_ids(s, 1, 0, &ids, &err),
                     CORE_STORE_ECONN);
    assert_non_null(strstr(err.message, "busy"));
    store_release(s, held);
    assert_int_equal(core_store_select_ids(s, 1, 0, &ids, &err), 0);
    core_store_ids_free(&ids);
    core_store_close(s);
}

/*
 * The key processing_log gets under TimescaleDB (created_at added, see
 * migrate.c): replays that pass the journaled time still deduplicate.
 */
static void test_log_dedup_with_time_in_key(void **state)
{
    struct fixture *f = *state;
    struct core_store_log_entry e = {"wdi:A",     "r9", "type",       1,
                                     "completed", "ok", 1764860000123};
    struct core_store_error err;
    int inserted;
    char *at;

    th_exec(f->pg, "ALTER TABLE processing_log DROP CONSTRAINT "
                   "processing_log_dedup");
    th_exec(f->pg, "ALTER TABLE processing_log ADD CONSTRAINT "
                   "processing_log_dedup UNIQUE (indicator_id, run_id, "
                   "stage, event, attempt, created_at)");

    assert_int_equal(core_store_log_append(f->s, &e, &inserted, &err), 0);
    assert_int_equal(inserted, 1);
    assert_int_equal(core_store_log_append(f->s, &e, &inserted, &err), 0);
    assert_int_equal(inserted, 0);
    at = th_text(f->pg, "SELECT to_char(created_at AT TIME ZONE 'UTC', "
                        "'YYYY-MM-DD HH24:MI:SS.MS') FROM processing_log");
    assert_string_equal(at, "2025-12-04 14:53:20.123");
    free(at);
}

static void test_claim_submission(void **state)
{
    struct fixture *f = *state;
    struct core_store_error err;
    int mine = -1;

    assert_int_equal(core_store_claim_submission(f->s, "wdi:A", "run-1",
                                                 "inv-1", &mine, &err),
                     0);
    assert_int_equal(mine, 1);
    /* The same invocation retried: still its claim. */
    assert_int_equal(core_store_claim_submission(f->s, "wdi:A", "run-1",
                                                 "inv-1", &mine, &err),
                     0);
    assert_int_equal(mine, 1);
    assert_int_equal(core_store_claim_submission(f->s, "wdi:A", "run-1",
                                                 "inv-2", &mine, &err),
                     0);
    assert_int_equal(mine, 0);
    assert_int_equal(core_store_claim_submission(f->s, "wdi:A", "run-2",
                                                 "inv-2", &mine, &err),
                     0);
    assert_int_equal(mine, 1);
    assert_int_equal(core_store_claim_submission(f->s, "wdi:nope", "run-2",
                                                 "inv-2", &mine, &err),
                     CORE_STORE_EREJECT);
    assert_int_equal(th_scalar(f->pg, "SELECT count(*) FROM submissions"), 2);
}

struct fetched {
    int calls;
    char ids[4][32];
};

static int on_row(void *ctx, const char *id, const char *json, size_t len)
{
    struct fetched *x = ctx;
    cJSON *o = cJSON_ParseWithLength(json, len);

    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(o, "id")->valuestring, id);
    cJSON_Delete(o);
    snprintf(x->ids[x->calls++], sizeof(x->ids[0]), "%s", id);
    return 0;
}

static void test_fetch_indicators(void **state)
{
    struct fixture *f = *state;
    char *want[] = {"wdi:C", "wdi:A", "wdi:B"};
    char *missing[] = {"wdi:A", "wdi:\"q\"\\z"};
    struct core_store_error err;
    struct fetched x = {0};

    assert_int_equal(
        core_store_fetch_indicators(f->s, want, 3, on_row, &x, &err), 0);
    assert_int_equal(x.calls, 3);
    assert_string_equal(x.ids[0], "wdi:C");
    assert_string_equal(x.ids[2], "wdi:B");

    x.calls = 0;
    assert_int_equal(
        core_store_fetch_indicators(f->s, missing, 2, on_row, &x, &err),
        CORE_STORE_ENOTFOUND);
    assert_int_equal(x.calls, 0);
    assert_non_null(strstr(err.message, "wdi:\"q\"\\z"));
}

struct seen {
    int calls;
    char text[1024];
};

static int on_group(void *ctx, const char *dimension, const char *value,
                    uint64_t count)
{
    struct seen *x = ctx;
    size_t len = strlen(x->text);

    x->calls++;
    snprintf(x->text + len, sizeof(x->text) - len, "%s=%s:%llu;", dimension,
             value, (unsigned long long)count);
    return 0;
}

/* The result shapes the bundled plugins emit (flat time + cumulative,
 * unit_type/currency, incorrect_fields, a corrections array). */
static void test_plugin_result_shapes(void **state)
{
    struct fixture *f = *state;
    const char *time = "{\"reporting_frequency\": \"monthly\", "
                       "\"time_basis\": \"point-in-time\", \"source_used\": "
                       "\"periodicity\", \"confidence\": 0.7, "
                       "\"reasoning\": \"t\", \"is_cumulative\": true, "
                       "\"cumulative_pattern\": \"ytd\", "
                       "\"cumulative_confidence\": 0.95, "
                       "\"cumulative_reasoning\": \"resets\", "
                       "\"cumulative_evidence\": {\"year_resets\": 2}}";
    struct core_store_outcome o = {"wdi:C", "p", "completed", NULL, NULL};
    struct core_store_error err;
    char *v;

    assert_int_equal(write(f, CORE_STORE_NORMALIZATION, "wdi:C", "p",
                           "{\"parsed_scale\": \"millions\", \"unit_type\": "
                           "\"currency-amount\", \"currency\": \"USD\", "
                           "\"confidence\": 0.9}",
                           &err),
                     0);
    assert_int_equal(
        write(f, CORE_STORE_TIME_INFERENCE, "wdi:C", "p", time, &err), 0);
    assert_int_equal(
        write(f, CORE_STORE_CUMULATIVE_DETECTION, "wdi:C", "p", time, &err), 0);
    assert_int_equal(write(f, CORE_STORE_FAMILY, "wdi:C", "p",
                           "{\"family\": \"physical-fundamental\"}", &err),
                     0);
    assert_int_equal(write(f, CORE_STORE_TYPE, "wdi:C", "p",
                           "{\"indicator_type\": \"stock\", "
                           "\"family\": \"physical-fundamental\"}",
                           &err),
                     0);
    assert_int_equal(write(f, CORE_STORE_BOOLEAN_REVIEW, "wdi:C", "p",
                           "{\"passed\": false, \"incorrect_fields\": "
                           "[{\"field\": \"indicator_type\"}], "
                           "\"reasoning\": \"a flow\"}",
                           &err),
                     0);
    assert_int_equal(write(f, CORE_STORE_FINAL_REVIEW, "wdi:C", "p",
                           "{\"status\": \"corrected\", \"corrections\": "
                           "[{\"field\": \"indicator_type\", \"from\": "
                           "\"stock\", \"to\": \"flow\"}, {\"field\": "
                           "\"temporal_aggregation\", \"to\": "
                           "\"period-cumulative\"}], \"reasoning\": \"ytd\"}",
                           &err),
                     0);
    assert_int_equal(core_store_write_classification(f->s, &o, &err), 0);

    v = th_text(f->pg,
                "SELECT concat_ws('|', parsed_unit_type, parsed_currency, "
                "parsing_confidence, reporting_frequency, time_confidence, "
                "is_cumulative, cumulative_pattern_type, "
                "cumulative_confidence, cumulative_reasoning, family, "
                "indicator_type, temporal_aggregation, "
                "boolean_review_reason, review_status, final_review_reason) "
                "FROM classifications");
    assert_string_equal(v, "currency-amount|USD|0.9|monthly|0.7|t|ytd|"
                           "0.95|resets|physical-fundamental|flow|"
                           "period-cumulative|a flow|corrected|ytd");
    free(v);
    v = th_text(f->pg, "SELECT evidence::text FROM "
                       "cumulative_detection_results");
    assert_string_equal(v, "{\"year_resets\": 2}");
    free(v);
}

static void test_latest_run_and_breakdown(void **state)
{
    struct fixture *f = *state;
    struct core_store_outcome ok = {"wdi:A", "run-z", "completed", NULL, NULL};
    struct core_store_outcome bad = {"wdi:C", "run-z", "failed", "type",
                                     "timeout"};
    struct core_store_error err;
    struct seen x = {0};
    char run[64];
    int mine;

    assert_int_equal(core_store_latest_run(f->s, run, sizeof(run), &err),
                     CORE_STORE_ENOTFOUND);
    assert_int_equal(
        core_store_claim_submission(f->s, "wdi:B", "run-y", "inv", &mine, &err),
        0);
    assert_int_equal(core_store_latest_run(f->s, run, sizeof(run), &err), 0);
    assert_string_equal(run, "run-y");

    write_all_stages(f, "wdi:A", "run-z", NULL);
    assert_int_equal(core_store_write_classification(f->s, &ok, &err), 0);
    assert_int_equal(core_store_write_classification(f->s, &bad, &err), 0);
    assert_int_equal(core_store_latest_run(f->s, run, sizeof(run), &err), 0);
    assert_string_equal(run, "run-z");

    assert_int_equal(
        core_store_run_breakdown(f->s, "run-z", on_group, &x, &err), 0);
    assert_string_equal(x.text,
                        "status=completed:1;status=failed:1;"
                        "family=(none):1;family=change-movement:1;"
                        "indicator_type=(none):1;indicator_type=rate:1;"
                        "failed_at_stage=type:1;"
                        "plugin=boolean-review:family-llm@1.2.0#3:1;"
                        "plugin=cumulative-detection:family-llm@1.2.0#3:1;"
                        "plugin=family:family-llm@1.2.0#3:1;"
                        "plugin=normalization:family-llm@1.2.0#3:1;"
                        "plugin=time-inference:family-llm@1.2.0#3:1;"
                        "plugin=type:family-llm@1.2.0#3:1;"
                        "model=openai/gpt-test:6;");
}

struct hammer {
    struct core_store *s;
    int id;
    int failures;
};

static void *hammer(void *arg)
{
    struct hammer *h = arg;
    struct core_store_log_entry e = {"wdi:C", "run-h", "family", 0,
                                     "tick",  NULL,    0};
    struct core_store_error err;
    char event[32];
    int i;

    for (i = 0; i < 40; i++) {
        snprintf(event, sizeof(event), "tick-%d-%d", h->id, i);
        e.event = event;
        if (core_store_log_append(h->s, &e, NULL, &err) != CORE_STORE_OK)
            h->failures++;
    }
    return NULL;
}

static void test_pool_shared_by_threads(void **state)
{
    enum { N = 8 };
    struct fixture *f = *state;
    struct hammer h[N];
    pthread_t t[N];
    int i;

    for (i = 0; i < N; i++) {
        h[i] = (struct hammer){f->s, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &h[i]), 0);
    }
    for (i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(h[i].failures, 0);
    }
    assert_int_equal(th_scalar(f->pg, "SELECT count(*) FROM processing_log "
                                      "WHERE run_id = 'run-h'"),
                     N * 40);
    /* Never more backends than the pool of 3 plus this test's own. */
    assert_true(th_scalar(f->pg, "SELECT count(*) FROM pg_stat_activity "
                                 "WHERE datname = current_database()") <= 4);
}

static void test_stage_names(void **state)
{
    int st;

    (void)state;
    for (st = 0; st < CORE_STORE_STAGE_COUNT; st++)
        assert_int_equal(core_store_stage_parse(
                             core_store_stage_name((enum core_store_stage)st)),
                         st);
    assert_null(core_store_stage_name(CORE_STORE_STAGE_COUNT));
    assert_int_equal(core_store_stage_parse("family-assignment"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rejects_unknown_family, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rejects_pair_not_allowed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_upserts_do_not_duplicate, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_classification_row, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_latest_run_wins_and_failure, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_late_replay_of_older_run, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_select_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnects_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_shared_by_threads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_log_dedup_with_time_in_key, setup,
                                        teardown),
        cmocka_unit_test(test_stage_names),
        cmocka_unit_test_setup_teardown(test_claim_submission, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_indicators, setup, teardown),
        cmocka_unit_test_setup_teardown(test_latest_run_and_breakdown, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_plugin_result_shapes, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
