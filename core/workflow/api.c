/*
 * api.c - the classify-api service: batch submission and status.
 *
 * batch {"run_id": "...", "indicators": [ ... ]}
 *   Everything is validated before anything starts: a bad item, a
 *   duplicate id or a batch outside 1..batch.max_items is a terminal
 *   error (400) naming the item and the field, and nothing is written or
 *   sent.  Then one journaled step "register" stores the indicators and
 *   records each (indicator, run) submission once; only submissions new
 *   to the store get a workflow send, so submitting the same run id twice
 *   runs it once, and the answer says which items were already there.
 *
 * status {"indicator_id": "..."} or {"run_id": "..."}
 *   One journaled read of the store.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "store/store.h"
#include "workflow/internal.h"

#define ERR_LEN 512

/* The validated batch and, after "register", which items are new. */
struct batch {
    struct workflow_host *wh;
    cJSON *doc;
    cJSON *items;     /* doc.indicators, cleaned for the stages */
    cJSON *originals; /* the items as submitted, for the store */
    const char *run_id;
    const char *claimant; /* this invocation's id */
    int n;
    cJSON *fresh; /* journaled: array of booleans, one per item */
};

static size_t max_items(const struct workflow_host *wh)
{
    if (wh->config != NULL && wh->config->batch_max_items > 0)
        return (size_t)wh->config->batch_max_items;
    return 100;
}

static size_t sample_cap(const struct workflow_host *wh)
{
    if (wh->config != NULL && wh->config->batch_sample_values_cap > 0)
        return (size_t)wh->config->batch_sample_values_cap;
    return 0;
}

static int duplicate_before(const cJSON *items, int i, const char *id)
{
    int j;

    for (j = 0; j < i; j++) {
        const cJSON *o = cJSON_GetArrayItem(items, j);

        if (strcmp(cJSON_GetObjectItem(o, "id")->valuestring, id) == 0)
            return j;
    }
    return -1;
}

static rs_status reject(rs_ctx *ctx, const char *what)
{
    return rs_fail_terminal(ctx, 400, "batch rejected: %s", what);
}

/* " (id X)" for messages about an item that has a usable id, else "". */
static const char *id_note(const cJSON *item, char *note, size_t size)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "id");

    note[0] = '\0';
    if (cJSON_IsString(id) && id->valuestring[0] != '\0')
        snprintf(note, size, " (id %.80s)", id->valuestring);
    return note;
}

/* Offset of a \u0000 escape in a JSON text, or -1.  A string holding NUL
 * would be cut short by every C consumer, so such input is refused. */
static long nul_escape_at(const char *p, size_t len)
{
    size_t i, slashes = 0;

    for (i = 0; i < len; i++) {
        if (p[i] == '\\') {
            slashes++;
            continue;
        }
        if (slashes % 2 == 1 && p[i] == 'u' && i + 4 < len &&
            memcmp(p + i + 1, "0000", 4) == 0)
            return (long)i - 1;
        slashes = 0;
    }
    return -1;
}

/* Parse the body; a bad one is refused, naming the byte where it broke. */
static rs_status parse_body(rs_ctx *ctx, rs_bytes in, cJSON **doc)
{
    const char *text = (const char *)in.data, *end = NULL;
    char why[160];
    long nul;

    if (in.len == 0)
        return reject(ctx, "body: empty, expected a JSON object");
    nul = nul_escape_at(text, in.len);
    if (nul >= 0) {
        snprintf(why, sizeof(why),
                 "body: byte %ld: a string holds \\u0000 (NUL), which "
                 "indicators may not contain",
                 nul);
        return reject(ctx, why);
    }
    *doc = cJSON_ParseWithLengthOpts(text, in.len, &end, 0);
    if (*doc == NULL) {
        snprintf(why, sizeof(why),
                 "body: not valid JSON (parsing stopped at byte %ld of %zu)",
                 end ? (long)(end - text) : 0L, in.len);
        return reject(ctx, why);
    }
    return RS_OK;
}

static rs_status validate(rs_ctx *ctx, struct batch *b)
{
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(b->doc, "run_id");
    char why[ERR_LEN];
    int i;

    if (!cJSON_IsObject(b->doc))
        return reject(ctx, "body: expected a JSON object");
    if (!cJSON_IsString(run) || !workflow_run_id_valid(run->valuestring))
        return reject(ctx, "run_id: expected 1-64 of [A-Za-z0-9._-]");
    b->run_id = run->valuestring;
    b->items = cJSON_GetObjectItemCaseSensitive(b->doc, "indicators");
    if (!cJSON_IsArray(b->items))
        return reject(ctx, "indicators: expected an array");
    b->n = cJSON_GetArraySize(b->items);
    if (b->n < 1 || (size_t)b->n > max_items(b->wh)) {
        snprintf(why, sizeof(why), "indicators: %d items, allowed 1..%zu", b->n,
                 max_items(b->wh));
        return reject(ctx, why);
    }
    b->originals = cJSON_Duplicate(b->items, 1);
    if (b->originals == NULL)
        return RS_ABORTED;
    for (i = 0; i < b->n; i++) {
        cJSON *it = cJSON_GetArrayItem(b->items, i);
        char item_err[256], field[64], note[96];
        int dup;

        if (core_store_indicator_valid(it, field, sizeof(field), item_err,
                                       sizeof(item_err)) != 0) {
            snprintf(why, sizeof(why), "indicators[%d]%s%s%s: %s", i,
                     id_note(it, note, sizeof(note)), field[0] ? "." : "",
                     field, item_err);
            return reject(ctx, why);
        }
        if (workflow_indicator_clean(it, sample_cap(b->wh), item_err,
                                     sizeof(item_err)) != 0) {
            snprintf(why, sizeof(why), "indicators[%d]%s%s%s", i,
                     id_note(it, note, sizeof(note)),
                     item_err[0] == ':' ? "" : ".", item_err);
            return reject(ctx, why);
        }
        dup = duplicate_before(b->items, i,
                               cJSON_GetObjectItem(it, "id")->valuestring);
        if (dup >= 0) {
            snprintf(why, sizeof(why),
                     "indicators[%d].id: duplicate of indicators[%d]", i, dup);
            return reject(ctx, why);
        }
    }
    return RS_OK;
}

/* Store every item; a row the store refuses rejects the whole batch. */
static int store_items(struct batch *b, rs_run_result *r)
{
    struct core_store_error err;
    int i;

    for (i = 0; i < b->n; i++) {
        /* The item as submitted: cleaning is for the stages only. */
        char *text =
            cJSON_PrintUnformatted(cJSON_GetArrayItem(b->originals, i));
        char outcome;
        int rc;

        if (text == NULL)
            return rs_run_result_fail(r, RS_RETRY, 0, "out of memory");
        rc = core_store_upsert_indicator(b->wh->store, text, strlen(text),
                                         &outcome, &err);
        free(text);
        if (rc != 0)
            return rs_run_result_fail(
                r,
                err.rc == CORE_STORE_EREJECT || err.rc == CORE_STORE_EINVAL
                    ? RS_TERMINAL
                    : RS_RETRY,
                400, "indicators[%d]: %s", i, err.message);
    }
    return 0;
}

/*
 * Claim each (indicator, run) submission for this invocation.  A claim
 * left by an earlier execution of this same step counts as ours, so a
 * retried step never mistakes its own work for a duplicate.
 */
static int claim_items(struct batch *b, rs_run_result *r, cJSON *fresh)
{
    struct core_store_error err;
    int i;

    for (i = 0; i < b->n; i++) {
        const cJSON *it = cJSON_GetArrayItem(b->items, i);
        int mine = 0;

        if (core_store_claim_submission(
                b->wh->store, cJSON_GetObjectItem(it, "id")->valuestring,
                b->run_id, b->claimant, &mine, &err) != 0)
            return rs_run_result_fail(r, RS_RETRY, 0, "indicators[%d]: %s", i,
                                      err.message);
        cJSON_AddItemToArray(fresh, cJSON_CreateBool(mine));
    }
    return 0;
}

/* Store the items and the submissions; result: [true|false per item]. */
static int register_step(void *arg, rs_run_result *r)
{
    struct batch *b = arg;
    cJSON *fresh = cJSON_CreateArray();
    int rc;

    if (fresh == NULL)
        return rs_run_result_fail(r, RS_RETRY, 0, "out of memory");
    rc = store_items(b, r);
    if (rc == 0)
        rc = claim_items(b, r, fresh);
    if (rc == 0 && workflow_run_result_json(r, fresh) != 0)
        rc = rs_run_result_fail(r, RS_RETRY, 0, "out of memory");
    cJSON_Delete(fresh);
    return rc;
}

static rs_status send_one(rs_ctx *ctx, const struct batch *b, int i)
{
    const cJSON *it = cJSON_GetArrayItem(b->items, i);
    const char *id = cJSON_GetObjectItem(it, "id")->valuestring;
    cJSON *in = cJSON_CreateObject();
    char key[512];
    char *text;
    rs_status rc;

    if (in == NULL)
        return RS_ABORTED;
    cJSON_AddStringToObject(in, "run_id", b->run_id);
    cJSON_AddItemReferenceToObject(in, "indicator", (cJSON *)it);
    text = cJSON_PrintUnformatted(in);
    cJSON_Delete(in);
    if (text == NULL)
        return RS_ABORTED;
    snprintf(key, sizeof(key), "%s@%s", id, b->run_id);
    rc = rs_send(ctx, WORKFLOW_SERVICE, "run", key,
                 (rs_bytes){(const uint8_t *)text, strlen(text)}, 0, NULL);
    free(text);
    return rc;
}

static rs_status answer(rs_ctx *ctx, const struct batch *b, int accepted)
{
    cJSON *out = cJSON_CreateObject(), *dups;
    rs_status rc;
    int i;

    if (out == NULL)
        return RS_ABORTED;
    cJSON_AddStringToObject(out, "run_id", b->run_id);
    cJSON_AddNumberToObject(out, "count", b->n);
    cJSON_AddNumberToObject(out, "accepted", accepted);
    dups = cJSON_AddArrayToObject(out, "already_submitted");
    for (i = 0; i < b->n; i++) {
        const cJSON *it = cJSON_GetArrayItem(b->items, i);

        if (!cJSON_IsTrue(cJSON_GetArrayItem(b->fresh, i)))
            cJSON_AddItemToArray(
                dups,
                cJSON_CreateString(cJSON_GetObjectItem(it, "id")->valuestring));
    }
    rc = workflow_output_json(ctx, out);
    cJSON_Delete(out);
    return rc;
}

static rs_status run_batch(rs_ctx *ctx, struct batch *b)
{
    rs_bytes fresh;
    int i, accepted = 0;

    RS_TRY(validate(ctx, b));
    if (b->wh->store != NULL) {
        RS_TRY(rs_run(ctx, "register", register_step, b, &fresh));
        b->fresh = workflow_parse(fresh);
    }
    else {
        b->fresh = cJSON_CreateArray();
        for (i = 0; b->fresh != NULL && i < b->n; i++)
            cJSON_AddItemToArray(b->fresh, cJSON_CreateTrue());
    }
    if (b->fresh == NULL)
        return RS_ABORTED;

    for (i = 0; i < b->n; i++) {
        if (!cJSON_IsTrue(cJSON_GetArrayItem(b->fresh, i)))
            continue;
        RS_TRY(send_one(ctx, b, i));
        accepted++;
    }
    return answer(ctx, b, accepted);
}

int workflow_api_batch(rs_ctx *ctx, void *arg)
{
    struct batch b;
    rs_status rc;

    memset(&b, 0, sizeof(b));
    b.wh = arg;
    b.claimant = rs_invocation_id(ctx);
    rc = parse_body(ctx, rs_input(ctx), &b.doc);
    if (rc == RS_OK)
        rc = run_batch(ctx, &b);
    cJSON_Delete(b.fresh);
    cJSON_Delete(b.originals);
    cJSON_Delete(b.doc);
    return rc;
}

/* ------------------------------------------------------------------ */
/* status                                                              */
/* ------------------------------------------------------------------ */

struct status_job {
    struct workflow_host *wh;
    const char *indicator_id;
    const char *run_id;
};

static cJSON *indicator_status(const struct status_job *j,
                               struct core_store_error *err)
{
    struct core_store_status st;
    cJSON *o;

    if (core_store_indicator_status(j->wh->store, j->indicator_id, &st, err) !=
        0)
        return NULL;
    o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "indicator_id", j->indicator_id);
    cJSON_AddStringToObject(o, "status", st.status);
    cJSON_AddStringToObject(o, "run_id", st.run_id);
    cJSON_AddStringToObject(o, "family", st.family);
    cJSON_AddStringToObject(o, "indicator_type", st.indicator_type);
    cJSON_AddStringToObject(o, "temporal_aggregation", st.temporal_aggregation);
    cJSON_AddStringToObject(o, "failed_at_stage", st.failed_at_stage);
    cJSON_AddStringToObject(o, "error", st.error);
    cJSON_AddStringToObject(o, "updated_at", st.updated_at);
    return o;
}

static cJSON *run_status(const struct status_job *j,
                         struct core_store_error *err)
{
    struct core_store_run_counts c;
    cJSON *o, *stages;
    int i;

    if (core_store_run_counts(j->wh->store, j->run_id, &c, err) != 0)
        return NULL;
    o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "run_id", j->run_id);
    cJSON_AddNumberToObject(o, "running", (double)c.running);
    cJSON_AddNumberToObject(o, "completed", (double)c.completed);
    cJSON_AddNumberToObject(o, "failed", (double)c.failed);
    stages = cJSON_AddObjectToObject(o, "stage_rows");
    for (i = 0; stages != NULL && i < CORE_STORE_STAGE_COUNT; i++)
        cJSON_AddNumberToObject(stages, core_store_stage_name(i),
                                (double)c.stage_rows[i]);
    return o;
}

static int status_step(void *arg, rs_run_result *r)
{
    struct status_job *j = arg;
    struct core_store_error err = {0, "", ""};
    cJSON *o =
        j->indicator_id ? indicator_status(j, &err) : run_status(j, &err);
    int rc;

    if (o == NULL)
        return rs_run_result_fail(
            r, err.rc == CORE_STORE_ENOTFOUND ? RS_TERMINAL : RS_RETRY, 404,
            "status: %s", err.message[0] ? err.message : "no memory");
    rc = workflow_run_result_json(r, o);
    cJSON_Delete(o);
    return rc == 0 ? 0 : rs_run_result_fail(r, RS_RETRY, 0, "out of memory");
}

int workflow_api_status(rs_ctx *ctx, void *arg)
{
    struct status_job j = {arg, NULL, NULL};
    cJSON *doc = workflow_parse(rs_input(ctx));
    const cJSON *ind = cJSON_GetObjectItemCaseSensitive(doc, "indicator_id");
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(doc, "run_id");
    rs_bytes result;
    rs_status rc;

    if (cJSON_IsString(ind))
        j.indicator_id = ind->valuestring;
    else if (cJSON_IsString(run))
        j.run_id = run->valuestring;
    if (j.wh->store == NULL || (j.indicator_id == NULL && j.run_id == NULL))
        rc = rs_fail_terminal(ctx, 400,
                              j.wh->store ? "status: expected "
                                            "{\"indicator_id\"} or "
                                            "{\"run_id\"}"
                                          : "status: no database configured");
    else {
        rc = rs_run(ctx, "status", status_step, &j, &result);
        if (rc == RS_OK)
            rc = rs_output(ctx, result);
    }
    cJSON_Delete(doc);
    return rc;
}
