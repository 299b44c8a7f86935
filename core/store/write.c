/*
 * store/write.c - the writes of core_store: source indicators, stage
 * results, classification rows and the processing log.
 *
 * Every write is one parameterised INSERT ... ON CONFLICT statement, so a
 * replayed or retried call converges on the same rows.  Typed columns of
 * stage results are read from the JSON on the server (result_text() and
 * friends, defined by the first migration), which refuses a value of the
 * wrong JSON type by name.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/log.h"
#include "store/store_internal.h"

/* ------------------------------------------------------------------ */
/* Source indicators                                                   */
/* ------------------------------------------------------------------ */

static const char *const text_fields[] = {"units",
                                          "scale",
                                          "periodicity",
                                          "currency_code",
                                          "source_name",
                                          "source_url",
                                          "long_name",
                                          "definition",
                                          "category_group",
                                          "dataset",
                                          "topic",
                                          "aggregation_method",
                                          NULL};

static int reject(char *field, size_t field_len, const char *name, char *reason,
                  size_t reason_len, const char *why)
{
    snprintf(field, field_len, "%s", name);
    snprintf(reason, reason_len, "%s", why);
    return -1;
}

static const char *type_name(const cJSON *v)
{
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsObject(v))
        return "an object";
    return "null";
}

static int check_required(const cJSON *obj, const char *key, char *field,
                          size_t field_len, char *reason, size_t reason_len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    char why[96];

    if (v == NULL || cJSON_IsNull(v))
        return reject(field, field_len, key, reason, reason_len,
                      "missing (required)");
    if (!cJSON_IsString(v)) {
        snprintf(why, sizeof(why), "wrong type: %s, expected a string",
                 type_name(v));
        return reject(field, field_len, key, reason, reason_len, why);
    }
    if (v->valuestring[0] == '\0')
        return reject(field, field_len, key, reason, reason_len,
                      "empty (required)");
    if (strcmp(key, "id") == 0 &&
        strlen(v->valuestring) > CORE_STORE_INDICATOR_ID_MAX)
        return reject(field, field_len, key, reason, reason_len,
                      "longer than 256 bytes");
    return 0;
}

static int check_samples(const cJSON *arr, char *field, size_t field_len,
                         char *reason, size_t reason_len)
{
    const cJSON *item, *date, *value;
    char name[64], why[96];
    int i = 0;

    cJSON_ArrayForEach(item, arr)
    {
        date = cJSON_GetObjectItemCaseSensitive(item, "date");
        value = cJSON_GetObjectItemCaseSensitive(item, "value");
        snprintf(name, sizeof(name), "sample_values[%d]", i);
        if (!cJSON_IsObject(item)) {
            snprintf(why, sizeof(why), "wrong type: %s, expected an object",
                     type_name(item));
            return reject(field, field_len, name, reason, reason_len, why);
        }
        if (!cJSON_IsString(date)) {
            snprintf(name, sizeof(name), "sample_values[%d].date", i);
            return reject(field, field_len, name, reason, reason_len,
                          "missing or not a string");
        }
        if (value != NULL && !cJSON_IsNumber(value) && !cJSON_IsNull(value)) {
            snprintf(name, sizeof(name), "sample_values[%d].value", i);
            snprintf(why, sizeof(why), "wrong type: %s, expected a number",
                     type_name(value));
            return reject(field, field_len, name, reason, reason_len, why);
        }
        i++;
    }
    return 0;
}

int store_indicator_check(const cJSON *obj, char *field, size_t field_len,
                          char *reason, size_t reason_len)
{
    const cJSON *v;
    char why[96];
    size_t i;

    if (!cJSON_IsObject(obj))
        return reject(field, field_len, "", reason, reason_len,
                      "not a JSON object");
    if (check_required(obj, "id", field, field_len, reason, reason_len) ||
        check_required(obj, "name", field, field_len, reason, reason_len))
        return -1;

    for (i = 0; text_fields[i] != NULL; i++) {
        v = cJSON_GetObjectItemCaseSensitive(obj, text_fields[i]);
        if (v == NULL || cJSON_IsNull(v) || cJSON_IsString(v))
            continue;
        snprintf(why, sizeof(why), "wrong type: %s, expected a string or null",
                 type_name(v));
        return reject(field, field_len, text_fields[i], reason, reason_len,
                      why);
    }

    v = cJSON_GetObjectItemCaseSensitive(obj, "sample_values");
    if (v == NULL || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsArray(v)) {
        snprintf(why, sizeof(why), "wrong type: %s, expected an array or null",
                 type_name(v));
        return reject(field, field_len, "sample_values", reason, reason_len,
                      why);
    }
    return check_samples(v, field, field_len, reason, reason_len);
}

int core_store_indicator_valid(const struct cJSON *obj, char *field,
                               size_t field_len, char *reason,
                               size_t reason_len)
{
    return store_indicator_check(obj, field, field_len, reason, reason_len);
}

static const char upsert_indicator_sql[] =
    "INSERT INTO source_indicators AS s (id, name, units, scale, "
    "periodicity, currency_code, source_name, source_url, long_name, "
    "definition, category_group, dataset, topic, aggregation_method, "
    "sample_values, raw) "
    "SELECT r->>'id', r->>'name', r->>'units', r->>'scale', "
    "r->>'periodicity', r->>'currency_code', r->>'source_name', "
    "r->>'source_url', r->>'long_name', r->>'definition', "
    "r->>'category_group', r->>'dataset', r->>'topic', "
    "r->>'aggregation_method', "
    "coalesce(result_any(r, 'sample_values'), '[]'), r "
    "FROM (SELECT $1::jsonb AS r) AS x "
    "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, "
    "units = EXCLUDED.units, scale = EXCLUDED.scale, "
    "periodicity = EXCLUDED.periodicity, "
    "currency_code = EXCLUDED.currency_code, "
    "source_name = EXCLUDED.source_name, source_url = EXCLUDED.source_url, "
    "long_name = EXCLUDED.long_name, definition = EXCLUDED.definition, "
    "category_group = EXCLUDED.category_group, dataset = EXCLUDED.dataset, "
    "topic = EXCLUDED.topic, aggregation_method = EXCLUDED.aggregation_method,"
    " sample_values = EXCLUDED.sample_values, raw = EXCLUDED.raw, "
    "updated_at = now() WHERE s.raw IS DISTINCT FROM EXCLUDED.raw "
    "RETURNING (xmax = 0)";

static char outcome_of(PGresult *res)
{
    if (PQntuples(res) == 0)
        return '=';
    return strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? 'i' : 'u';
}

/* Read every result of a pipeline of n upserts, then its sync. */
static int read_pipeline(PGconn *pg, size_t n, size_t *bad,
                         unsigned long cnt[3], struct core_store_error *err)
{
    int rc = CORE_STORE_OK;
    PGresult *res;
    char outcome;
    size_t i;

    for (i = 0; i < n; i++) {
        while ((res = PQgetResult(pg)) != NULL) {
            if (PQresultStatus(res) == PGRES_PIPELINE_ABORTED) {
                PQclear(res);
                continue;
            }
            res = store_check(pg, res, "upsert source indicator",
                              rc == CORE_STORE_OK ? err : NULL);
            if (res == NULL && rc == CORE_STORE_OK) {
                rc = err ? err->rc : CORE_STORE_EDB;
                *bad = i;
            }
            if (res == NULL)
                continue;
            outcome = outcome_of(res);
            cnt[outcome == 'i' ? 0 : outcome == 'u' ? 1 : 2]++;
            PQclear(res);
        }
    }
    res = PQgetResult(pg);
    if (PQresultStatus(res) != PGRES_PIPELINE_SYNC && rc == CORE_STORE_OK)
        rc = store_fail(err, CORE_STORE_ECONN,
                        "store: upsert pipeline: lost the connection");
    PQclear(res);
    return rc;
}

int store_indicator_upsert_many(struct store_slot *slot,
                                const char *const *texts, size_t n, size_t *bad,
                                unsigned long cnt[3],
                                struct core_store_error *err)
{
    PGconn *pg = slot->pg;
    size_t i;
    int rc;

    if (n > STORE_PIPELINE_MAX)
        return store_fail(err, CORE_STORE_EINVAL,
                          "store: upsert pipeline: %zu rows, at most %d", n,
                          STORE_PIPELINE_MAX);
    if (!PQenterPipelineMode(pg))
        return store_fail(err, CORE_STORE_ECONN,
                          "store: upsert pipeline: cannot start: %s",
                          PQerrorMessage(pg));
    for (i = 0; i < n; i++)
        if (!PQsendQueryParams(pg, upsert_indicator_sql, 1, NULL, &texts[i],
                               NULL, NULL, 0))
            break;
    if (i < n || !PQpipelineSync(pg)) {
        *bad = i;
        rc = store_fail(err, CORE_STORE_ECONN,
                        "store: upsert pipeline: send failed: %s",
                        PQerrorMessage(pg));
        PQexitPipelineMode(pg);
        return rc;
    }

    rc = read_pipeline(pg, n, bad, cnt, err);
    PQexitPipelineMode(pg);
    return rc;
}

int core_store_upsert_indicator(struct core_store *s, const char *json,
                                size_t len, char *outcome,
                                struct core_store_error *err)
{
    char field[64], reason[192], local = 0;
    const char *param;
    PGresult *res = NULL;
    cJSON *obj;
    size_t bad;
    int rc;

    store_err_clear(err);
    bad = store_utf8_check(json, len);
    if (bad != len)
        return store_fail(err, CORE_STORE_EINVAL,
                          "store: indicator: not valid UTF-8 at byte %zu", bad);
    obj = cJSON_ParseWithLength(json, len);
    if (obj == NULL)
        return store_fail(err, CORE_STORE_EINVAL,
                          "store: indicator: malformed JSON");
    if (store_indicator_check(obj, field, sizeof(field), reason,
                              sizeof(reason)) != 0) {
        cJSON_Delete(obj);
        return store_fail(err, CORE_STORE_EINVAL,
                          "store: indicator: field \"%s\": %s", field, reason);
    }
    cJSON_Delete(obj);
    /* The text as given: the server sees what cJSON may have folded. */
    param = strndup(json, len);
    if (param == NULL)
        return store_fail(err, CORE_STORE_ENOMEM,
                          "store: indicator: no memory");

    rc = store_run(s, "upsert source indicator", upsert_indicator_sql, 1,
                   &param, &res, err);
    free((char *)param);
    if (rc != CORE_STORE_OK)
        return rc;
    *(outcome ? outcome : &local) = outcome_of(res);
    PQclear(res);
    return CORE_STORE_OK;
}

/* ------------------------------------------------------------------ */
/* Stage results                                                       */
/* ------------------------------------------------------------------ */

struct column {
    const char *name;
    const char *expr; /* over j, the stage's part of the result */
};

struct stage_def {
    const char *name;
    const char *table;
    const char *source; /* expression giving j from r */
    struct column columns[8];
};

static const struct stage_def stages[CORE_STORE_STAGE_COUNT] = {
    {"normalization",
     "normalization_results",
     "r",
     {{"original_units", "result_text(j, 'original_units')"},
      {"parsed_scale", "result_text(j, 'parsed_scale')"},
      {"normalized_scale", "result_text(j, 'normalized_scale')"},
      {"parsed_unit_type", "coalesce(result_text(j, 'parsed_unit_type'), "
                           "result_text(j, 'unit_type'))"},
      {"parsed_currency", "coalesce(result_text(j, 'parsed_currency'), "
                          "result_text(j, 'currency'))"},
      {"parsing_confidence", "coalesce(result_real(j, 'parsing_confidence'), "
                             "result_real(j, 'confidence'))"}}},
    {"time-inference",
     "time_inference_results",
     "CASE WHEN jsonb_typeof(r->'time') = 'object' THEN r->'time' ELSE r END",
     {{"reporting_frequency", "result_text(j, 'reporting_frequency')"},
      {"time_basis", "result_text(j, 'time_basis')"},
      {"confidence", "result_real(j, 'confidence')"},
      {"reasoning", "result_text(j, 'reasoning')"},
      {"source_used", "result_text(j, 'source_used')"}}},
    {"cumulative-detection",
     "cumulative_detection_results",
     "CASE WHEN jsonb_typeof(r->'cumulative') = 'object' "
     "THEN r->'cumulative' WHEN r ? 'cumulative_pattern' THEN "
     "jsonb_build_object('is_cumulative', r->'is_cumulative', "
     "'pattern_type', r->'cumulative_pattern', 'confidence', "
     "r->'cumulative_confidence', 'reasoning', r->'cumulative_reasoning', "
     "'evidence', r->'cumulative_evidence') ELSE r END",
     {{"is_cumulative", "result_bool(j, 'is_cumulative')"},
      {"pattern_type", "result_text(j, 'pattern_type')"},
      {"confidence", "result_real(j, 'confidence')"},
      {"evidence", "result_any(j, 'evidence')"},
      {"reasoning", "result_text(j, 'reasoning')"}}},
    {"family",
     "family_results",
     "r",
     {{"family", "result_text(j, 'family')"},
      {"confidence", "result_real(j, 'confidence')"},
      {"reasoning", "result_text(j, 'reasoning')"}}},
    {"type",
     "type_results",
     "r",
     {{"indicator_type", "result_text(j, 'indicator_type')"},
      {"temporal_aggregation", "result_text(j, 'temporal_aggregation')"},
      {"heat_map_orientation", "result_text(j, 'heat_map_orientation')"},
      {"confidence", "result_real(j, 'confidence')"},
      {"reasoning", "result_text(j, 'reasoning')"}}},
    {"boolean-review",
     "boolean_review_results",
     "r",
     {{"passed", "result_bool(j, 'passed')"},
      {"fields_wrong", "coalesce(result_any(j, 'fields_wrong'), "
                       "result_any(j, 'incorrect_fields'))"},
      {"reason", "coalesce(result_text(j, 'reason'), "
                 "result_text(j, 'reasoning'))"},
      {"confidence", "result_real(j, 'confidence')"}}},
    {"final-review",
     "final_review_results",
     "r",
     {{"review_status", "result_text(j, 'status')"},
      {"corrections", "result_any(j, 'corrections')"},
      {"reason", "coalesce(result_text(j, 'reason'), "
                 "result_text(j, 'reasoning'))"},
      {"confidence", "result_real(j, 'confidence')"}}},
};

const char *core_store_stage_name(enum core_store_stage stage)
{
    if ((unsigned)stage >= CORE_STORE_STAGE_COUNT)
        return NULL;
    return stages[stage].name;
}

int core_store_stage_parse(const char *name)
{
    int i;

    for (i = 0; name != NULL && i < CORE_STORE_STAGE_COUNT; i++)
        if (strcmp(stages[i].name, name) == 0)
            return i;
    return -1;
}

#define PROV_COLUMNS                                                           \
    "indicator_id, run_id, plugin, plugin_version, build_id, generation, "     \
    "provider, model, input_tokens, output_tokens, cached_tokens, "            \
    "latency_ms, result"
#define PROV_VALUES                                                            \
    "$1, $2, $3, $4, $5, $6::bigint, $7, $8, $9::int, $10::int, $11::int, "    \
    "$12::int, r"
#define PROV_UPDATE                                                            \
    "plugin = EXCLUDED.plugin, plugin_version = EXCLUDED.plugin_version, "     \
    "build_id = EXCLUDED.build_id, generation = EXCLUDED.generation, "         \
    "provider = EXCLUDED.provider, model = EXCLUDED.model, "                   \
    "input_tokens = EXCLUDED.input_tokens, "                                   \
    "output_tokens = EXCLUDED.output_tokens, "                                 \
    "cached_tokens = EXCLUDED.cached_tokens, "                                 \
    "latency_ms = EXCLUDED.latency_ms, result = EXCLUDED.result, "             \
    "updated_at = now()"

/* Append to a fixed buffer; returns -1 when it would not fit. */
static int add(char *buf, size_t cap, size_t *len, const char *text)
{
    size_t n = strlen(text);

    if (*len + n + 1 > cap)
        return -1;
    memcpy(buf + *len, text, n + 1);
    *len += n;
    return 0;
}

static int build_stage_sql(const struct stage_def *d, char *sql, size_t cap)
{
    size_t len = 0, i;
    int bad = 0;

    bad |= add(sql, cap, &len, "INSERT INTO ");
    bad |= add(sql, cap, &len, d->table);
    bad |= add(sql, cap, &len, " (" PROV_COLUMNS);
    for (i = 0; d->columns[i].name != NULL; i++) {
        bad |= add(sql, cap, &len, ", ");
        bad |= add(sql, cap, &len, d->columns[i].name);
    }
    bad |= add(sql, cap, &len, ") SELECT " PROV_VALUES);
    for (i = 0; d->columns[i].name != NULL; i++) {
        bad |= add(sql, cap, &len, ", ");
        bad |= add(sql, cap, &len, d->columns[i].expr);
    }
    bad |= add(sql, cap, &len, " FROM (SELECT r, ");
    bad |= add(sql, cap, &len, d->source);
    bad |= add(sql, cap, &len,
               " AS j FROM (SELECT $13::jsonb AS r) AS a) "
               "AS b ON CONFLICT (indicator_id, run_id) DO "
               "UPDATE SET " PROV_UPDATE);
    for (i = 0; d->columns[i].name != NULL; i++) {
        bad |= add(sql, cap, &len, ", ");
        bad |= add(sql, cap, &len, d->columns[i].name);
        bad |= add(sql, cap, &len, " = EXCLUDED.");
        bad |= add(sql, cap, &len, d->columns[i].name);
    }
    return bad ? -1 : 0;
}

static int check_object(const char *json, struct core_store_error *err)
{
    cJSON *obj = cJSON_Parse(json);
    int ok = cJSON_IsObject(obj);

    cJSON_Delete(obj);
    if (!ok)
        return store_fail(err, CORE_STORE_EINVAL,
                          "store: stage result is not a JSON object");
    return CORE_STORE_OK;
}

int core_store_write_stage(struct core_store *s, enum core_store_stage stage,
                           const char *indicator_id, const char *run_id,
                           const char *result_json,
                           const struct core_store_provenance *p,
                           struct core_store_error *err)
{
    char sql[4096], what[96], gen[24], tok[4][16];
    const char *params[13];
    int rc;

    store_err_clear(err);
    if ((unsigned)stage >= CORE_STORE_STAGE_COUNT || indicator_id == NULL ||
        run_id == NULL || result_json == NULL || p == NULL || p->plugin == NULL)
        return store_fail(err, CORE_STORE_EINVAL,
                          "store: write stage: missing argument");
    rc = check_object(result_json, err);
    if (rc != CORE_STORE_OK)
        return rc;
    if (build_stage_sql(&stages[stage], sql, sizeof(sql)) != 0)
        return store_fail(err, CORE_STORE_EINVAL,
                          "store: write stage: statement too long");

    snprintf(gen, sizeof(gen), "%" PRIu64, p->generation);
    snprintf(tok[0], sizeof(tok[0]), "%" PRIu32, p->input_tokens);
    snprintf(tok[1], sizeof(tok[1]), "%" PRIu32, p->output_tokens);
    snprintf(tok[2], sizeof(tok[2]), "%" PRIu32, p->cached_tokens);
    snprintf(tok[3], sizeof(tok[3]), "%" PRIu32, p->latency_ms);
    params[0] = indicator_id;
    params[1] = run_id;
    params[2] = p->plugin;
    params[3] = p->plugin_version;
    params[4] = p->build_id;
    params[5] = gen;
    params[6] = p->provider;
    params[7] = p->model;
    params[8] = tok[0];
    params[9] = tok[1];
    params[10] = tok[2];
    params[11] = tok[3];
    params[12] = result_json;

    snprintf(what, sizeof(what), "write %s result of %.40s", stages[stage].name,
             indicator_id);
    return store_run(s, what, sql, 13, params, NULL, err);
}

/* ------------------------------------------------------------------ */
/* Classification rows                                                 */
/* ------------------------------------------------------------------ */

static const struct column classification_columns[] = {
    {"run_id", "$2::text"},
    {"status", "$3::text"},
    {"failed_at_stage", "$4::text"},
    {"error", "$5::text"},
    {"name", "si.name"},
    {"original_units", "si.units"},
    {"source_name", "si.source_name"},
    {"long_name", "si.long_name"},
    {"category_group", "si.category_group"},
    {"dataset", "si.dataset"},
    {"topic", "si.topic"},
    {"source_scale", "si.scale"},
    {"source_periodicity", "si.periodicity"},
    {"aggregation_method", "si.aggregation_method"},
    {"source_currency_code", "si.currency_code"},
    {"parsed_scale", "n.parsed_scale"},
    {"normalized_scale", "n.normalized_scale"},
    {"parsed_unit_type", "n.parsed_unit_type"},
    {"parsed_currency", "n.parsed_currency"},
    {"parsing_confidence", "n.parsing_confidence"},
    {"reporting_frequency",
     "coalesce(fx.reporting_frequency, t.reporting_frequency)"},
    {"time_basis", "coalesce(fx.time_basis, t.time_basis)"},
    {"time_confidence", "t.confidence"},
    {"time_reasoning", "t.reasoning"},
    {"time_source_used", "t.source_used"},
    {"is_cumulative", "c.is_cumulative"},
    {"cumulative_pattern_type", "c.pattern_type"},
    {"cumulative_confidence", "c.confidence"},
    {"cumulative_reasoning", "c.reasoning"},
    {"family", "coalesce(fx.family, f.family)"},
    {"family_confidence", "f.confidence"},
    {"family_reasoning", "f.reasoning"},
    {"indicator_type", "coalesce(fx.indicator_type, ty.indicator_type)"},
    {"temporal_aggregation",
     "coalesce(fx.temporal_aggregation, ty.temporal_aggregation)"},
    {"heat_map_orientation",
     "coalesce(fx.heat_map_orientation, ty.heat_map_orientation)"},
    {"type_confidence", "ty.confidence"},
    {"type_reasoning", "ty.reasoning"},
    {"boolean_review_passed", "b.passed"},
    {"boolean_review_fields_wrong", "b.fields_wrong"},
    {"boolean_review_reason", "b.reason"},
    {"boolean_review_confidence", "b.confidence"},
    {"final_review_status", "fr.review_status"},
    {"final_review_corrections", "fr.corrections"},
    {"final_review_reason", "fr.reason"},
    {"final_review_confidence", "fr.confidence"},
    {"review_status",
     "coalesce(fr.review_status, CASE WHEN b.passed THEN 'passed' END)"},
    {"overall_confidence",
     "(SELECT avg(x) FROM unnest(ARRAY[n.parsing_confidence, t.confidence, "
     "c.confidence, f.confidence, ty.confidence, b.confidence, "
     "fr.confidence]) AS x)"},
    {"provider", "ty.provider"},
    {"model", "ty.model"},
    {"completed_at", "CASE WHEN $3::text <> 'running' THEN now() END"},
    {NULL, NULL}};

static const char classification_from[] =
    " FROM source_indicators si"
    " LEFT JOIN normalization_results n ON n.indicator_id = si.id"
    " AND n.run_id = $2"
    " LEFT JOIN time_inference_results t ON t.indicator_id = si.id"
    " AND t.run_id = $2"
    " LEFT JOIN cumulative_detection_results c ON c.indicator_id = si.id"
    " AND c.run_id = $2"
    " LEFT JOIN family_results f ON f.indicator_id = si.id AND f.run_id = $2"
    " LEFT JOIN type_results ty ON ty.indicator_id = si.id"
    " AND ty.run_id = $2"
    " LEFT JOIN boolean_review_results b ON b.indicator_id = si.id"
    " AND b.run_id = $2"
    " LEFT JOIN final_review_results fr ON fr.indicator_id = si.id"
    " AND fr.run_id = $2"
    /* Corrections: {"field": value} or [{"field": f, "to": value}]. */
    " LEFT JOIN LATERAL (SELECT m->>'family' AS family,"
    " m->>'indicator_type' AS indicator_type,"
    " m->>'temporal_aggregation' AS temporal_aggregation,"
    " m->>'heat_map_orientation' AS heat_map_orientation,"
    " m->>'time_basis' AS time_basis,"
    " m->>'reporting_frequency' AS reporting_frequency"
    " FROM (SELECT CASE jsonb_typeof(fr.corrections)"
    " WHEN 'object' THEN fr.corrections"
    " WHEN 'array' THEN (SELECT jsonb_object_agg(e->>'field', e->'to')"
    " FROM jsonb_array_elements(fr.corrections) AS e"
    " WHERE jsonb_typeof(e) = 'object' AND e->>'field' IS NOT NULL)"
    " END AS m) AS mm) AS fx ON fr.review_status = 'corrected'"
    " WHERE si.id = $1";

/*
 * The row follows the run submitted last: a write for a run claimed
 * before the row's run (a late replay of an old run) leaves it alone.  A
 * run without a claim counts as the newest.
 */
static const char classification_newer[] =
    " WHERE classifications.run_id = EXCLUDED.run_id OR "
    "coalesce((SELECT claimed_at FROM submissions s WHERE s.indicator_id = "
    "EXCLUDED.indicator_id AND s.run_id = EXCLUDED.run_id), 'infinity') >= "
    "coalesce((SELECT claimed_at FROM submissions s WHERE s.indicator_id = "
    "classifications.indicator_id AND s.run_id = classifications.run_id), "
    "'-infinity')";

static int build_classification_sql(char *sql, size_t cap)
{
    size_t len = 0, i;
    int bad = 0;

    bad |= add(sql, cap, &len,
               "WITH up AS (INSERT INTO classifications (indicator_id");
    for (i = 0; classification_columns[i].name != NULL; i++) {
        bad |= add(sql, cap, &len, ", ");
        bad |= add(sql, cap, &len, classification_columns[i].name);
    }
    bad |= add(sql, cap, &len, ") SELECT si.id");
    for (i = 0; classification_columns[i].name != NULL; i++) {
        bad |= add(sql, cap, &len, ", ");
        bad |= add(sql, cap, &len, classification_columns[i].expr);
    }
    bad |= add(sql, cap, &len, classification_from);
    bad |= add(sql, cap, &len,
               " ON CONFLICT (indicator_id) DO UPDATE SET "
               "updated_at = now()");
    for (i = 0; classification_columns[i].name != NULL; i++) {
        bad |= add(sql, cap, &len, ", ");
        bad |= add(sql, cap, &len, classification_columns[i].name);
        bad |= add(sql, cap, &len, " = EXCLUDED.");
        bad |= add(sql, cap, &len, classification_columns[i].name);
    }
    bad |= add(sql, cap, &len, classification_newer);
    bad |= add(sql, cap, &len,
               " RETURNING 1) SELECT (SELECT count(*) FROM up), EXISTS "
               "(SELECT 1 FROM source_indicators WHERE id = $1)");
    return bad ? -1 : 0;
}

int core_store_write_classification(struct core_store *s,
                                    const struct core_store_outcome *o,
                                    struct core_store_error *err)
{
    char sql[8192], what[96];
    const char *params[5];
    PGresult *res = NULL;
    int rc, found, written;

    store_err_clear(err);
    if (o == NULL || o->indicator_id == NULL || o->run_id == NULL ||
        o->status == NULL)
        return store_fail(err, CORE_STORE_EINVAL,
                          "store: write classification: missing argument");
    if (build_classification_sql(sql, sizeof(sql)) != 0)
        return store_fail(err, CORE_STORE_EINVAL,
                          "store: write classification: statement too long");

    params[0] = o->indicator_id;
    params[1] = o->run_id;
    params[2] = o->status;
    params[3] = o->failed_at_stage;
    params[4] = o->error;
    snprintf(what, sizeof(what), "write classification of %.40s",
             o->indicator_id);
    rc = store_run(s, what, sql, 5, params, &res, err);
    if (rc != CORE_STORE_OK)
        return rc;
    written = strcmp(PQgetvalue(res, 0, 0), "1") == 0;
    found = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    PQclear(res);
    if (!found)
        return store_fail(err, CORE_STORE_ENOTFOUND,
                          "store: %s: not in source_indicators", what);
    if (!written)
        log_debug(STORE_TAG,
                  "%s: run %.64s is older than the stored run, "
                  "row kept",
                  what, o->run_id);
    return CORE_STORE_OK;
}

/* ------------------------------------------------------------------ */
/* Processing log                                                      */
/* ------------------------------------------------------------------ */

int core_store_log_append(struct core_store *s,
                          const struct core_store_log_entry *e, int *inserted,
                          struct core_store_error *err)
{
    const char *sql =
        "INSERT INTO processing_log (indicator_id, run_id, stage, attempt, "
        "event, message, created_at) VALUES ($1, $2, $3, $4::int, $5, $6, "
        "coalesce(to_timestamp($7::bigint / 1000.0), now())) "
        "ON CONFLICT DO NOTHING RETURNING 1";
    char attempt[16], at[24];
    const char *params[7];
    PGresult *res = NULL;
    int rc;

    store_err_clear(err);
    if (e == NULL || e->indicator_id == NULL || e->run_id == NULL ||
        e->stage == NULL || e->event == NULL)
        return store_fail(err, CORE_STORE_EINVAL,
                          "store: log append: missing argument");
    snprintf(attempt, sizeof(attempt), "%u", e->attempt);
    snprintf(at, sizeof(at), "%" PRId64, e->at_ms);
    params[0] = e->indicator_id;
    params[1] = e->run_id;
    params[2] = e->stage;
    params[3] = attempt;
    params[4] = e->event;
    params[5] = e->message;
    params[6] = e->at_ms != 0 ? at : NULL;

    rc = store_run(s, "append processing_log", sql, 7, params, &res, err);
    if (rc != CORE_STORE_OK)
        return rc;
    if (inserted != NULL)
        *inserted = PQntuples(res) > 0;
    PQclear(res);
    return CORE_STORE_OK;
}

/* ------------------------------------------------------------------ */
/* Submissions                                                         */
/* ------------------------------------------------------------------ */

int core_store_claim_submission(struct core_store *s, const char *indicator_id,
                                const char *run_id, const char *claimant,
                                int *mine, struct core_store_error *err)
{
    /*
     * The SELECT does not see a row committed by a concurrent claim
     * after this statement's snapshot; a second statement does.
     */
    const char *sql = "WITH ins AS (INSERT INTO submissions (indicator_id, "
                      "run_id, claimant) VALUES ($1, $2, $3) ON CONFLICT DO "
                      "NOTHING RETURNING claimant) SELECT claimant FROM ins "
                      "UNION ALL SELECT claimant FROM submissions WHERE "
                      "indicator_id = $1 AND run_id = $2 LIMIT 1";
    const char *params[3] = {indicator_id, run_id, claimant};
    PGresult *res = NULL;
    int rc, attempt;

    store_err_clear(err);
    if (indicator_id == NULL || run_id == NULL || claimant == NULL ||
        mine == NULL)
        return store_fail(err, CORE_STORE_EINVAL,
                          "store: claim submission: missing argument");
    for (attempt = 0; attempt < 3; attempt++) {
        rc = store_run(s, "claim submission", sql, 3, params, &res, err);
        if (rc != CORE_STORE_OK)
            return rc;
        if (PQntuples(res) == 1)
            break;
        PQclear(res);
        res = NULL;
    }
    if (res == NULL)
        return store_fail(err, CORE_STORE_EDB,
                          "store: claim submission of %.60s: no claim "
                          "visible after 3 tries",
                          indicator_id);
    *mine = strcmp(PQgetvalue(res, 0, 0), claimant) == 0;
    PQclear(res);
    return CORE_STORE_OK;
}
