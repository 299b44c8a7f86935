/*
 * flow.c - the classification workflow, one per indicator and run.
 *
 * Key: "<indicator id>@<run id>".  Input: {"run_id", "indicator"}.
 *
 *   1. "plan": pin the stage list (names, services, slots, versions) of
 *      the pipeline active now, and the start time.  A replay, a reload or
 *      a config change can never reorder an in-flight run.
 *   2. For each stage in plan order: publish progress in state, call the
 *      stage's service, and persist its result in the step
 *      "persist:<stage>".
 *   3. "complete": write the classifications row (the store applies the
 *      final review's corrections) and return a summary.
 *
 * A terminal failure of a stage or of its persistence is recorded once in
 * the step "fail" (classifications.failed_at_stage and the reason), and
 * the workflow returns {"success": false, ...}: it completes instead of
 * failing, so nothing stays suspended or retried forever.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "stage/pipeline.h"
#include "store/store.h"
#include "workflow/internal.h"

#define STATE_KEY "progress"

/* One pinned stage. */
struct plan_stage {
    const char *name;
    const char *service;
    const char *handler;
    int slot;
};

/* The run's inputs and what has happened so far (rebuilt every attempt). */
struct flow {
    rs_ctx *ctx;
    struct workflow_host *wh;
    cJSON *input;             /* the whole input document */
    const cJSON *indicator;   /* input.indicator */
    const char *indicator_id; /* indicator.id */
    const char *run_id;
    cJSON *plan;    /* journaled plan */
    cJSON *results; /* stage name -> stage result */
    cJSON *done;    /* names of finished stages */
    unsigned attempt;
    int failed; /* the run ended at a stage; fail_run finished it */
};

/* A persistence step's arguments. */
struct persist_job {
    struct flow *f;
    const struct plan_stage *stage;
    const cJSON *wrapped; /* {"result", "provenance"} */
    const char *event;
    const char *message;
};

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* Step functions (run once, journaled)                                */
/* ------------------------------------------------------------------ */

static int plan_step(void *arg, rs_run_result *r)
{
    struct flow *f = arg;
    struct pipeline *p = pipeline_holder_acquire(f->wh->pipelines);
    cJSON *plan = cJSON_CreateObject(), *stages;
    size_t i;
    int rc = -1;

    if (p == NULL) {
        rc = rs_run_result_fail(r, RS_RETRY, 0, "no pipeline is loaded");
        goto out;
    }
    if (plan == NULL)
        goto out;
    cJSON_AddNumberToObject(plan, "pipeline", p->id);
    cJSON_AddNumberToObject(plan, "started_at_ms", (double)wall_ms());
    stages = cJSON_AddArrayToObject(plan, "stages");
    for (i = 0; stages != NULL && i < p->n_stages; i++) {
        const struct cls_host *h = p->stages[i];
        cJSON *s = cJSON_CreateObject();

        if (s == NULL || !cJSON_AddItemToArray(stages, s))
            goto out;
        cJSON_AddStringToObject(s, "name", h->name);
        cJSON_AddStringToObject(s, "service", h->service);
        cJSON_AddStringToObject(s, "handler", h->handler);
        cJSON_AddNumberToObject(s, "slot", h->slot);
        cJSON_AddStringToObject(s, "version", h->version);
        cJSON_AddStringToObject(s, "build_id", h->build_id);
    }
    rc = workflow_run_result_json(r, plan);

out:
    if (rc == -1)
        rc = rs_run_result_fail(r, RS_RETRY, 0, "out of memory");
    cJSON_Delete(plan);
    if (p != NULL)
        pipeline_release(p);
    return rc;
}

static int store_failed(rs_run_result *r, const char *what,
                        const struct core_store_error *err)
{
    rs_status kind = err->rc == CORE_STORE_ECONN || err->rc == CORE_STORE_EDB
                         ? RS_RETRY
                         : RS_TERMINAL;

    return rs_run_result_fail(r, kind, 500, "%s: %s", what, err->message);
}

static int log_event(struct flow *f, const char *stage, const char *event,
                     const char *message, struct core_store_error *err)
{
    struct core_store_log_entry e = {
        .indicator_id = f->indicator_id,
        .run_id = f->run_id,
        .stage = stage,
        .attempt = f->attempt,
        .event = event,
        .message = message,
        .at_ms = wall_ms(),
    };

    return core_store_log_append(f->wh->store, &e, NULL, err);
}

static const char *json_str(const cJSON *o, const char *key, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) ? v->valuestring : dflt;
}

static uint32_t json_u32(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint32_t)v->valuedouble
                                                   : 0;
}

static void provenance_of(const cJSON *prov, struct core_store_provenance *p)
{
    memset(p, 0, sizeof(*p));
    p->plugin = json_str(prov, "plugin", "unknown");
    p->plugin_version = json_str(prov, "version", NULL);
    p->build_id = json_str(prov, "build_id", NULL);
    p->generation = json_u32(prov, "generation");
    p->provider = json_str(prov, "provider", "rules");
    p->model = json_str(prov, "model", NULL);
    p->input_tokens = json_u32(prov, "input_tokens");
    p->output_tokens = json_u32(prov, "output_tokens");
    p->cached_tokens = json_u32(prov, "cached_tokens");
    p->latency_ms = json_u32(prov, "latency_ms");
}

/* The store tables a stage slot fills; returns how many (0..2). */
static size_t tables_of(int slot, enum core_store_stage out[2])
{
    switch (slot) {
    case CLS_SLOT_NORMALIZATION:
        out[0] = CORE_STORE_NORMALIZATION;
        return 1;
    case CLS_SLOT_TIME_INFERENCE:
        out[0] = CORE_STORE_TIME_INFERENCE;
        out[1] = CORE_STORE_CUMULATIVE_DETECTION;
        return 2;
    case CLS_SLOT_FAMILY_ASSIGNMENT:
        out[0] = CORE_STORE_FAMILY;
        return 1;
    case CLS_SLOT_TYPE_CLASSIFICATION:
        out[0] = CORE_STORE_TYPE;
        return 1;
    case CLS_SLOT_BOOLEAN_REVIEW:
        out[0] = CORE_STORE_BOOLEAN_REVIEW;
        return 1;
    case CLS_SLOT_FINAL_REVIEW:
        out[0] = CORE_STORE_FINAL_REVIEW;
        return 1;
    default:
        return 0;
    }
}

static int persist_step(void *arg, rs_run_result *r)
{
    struct persist_job *job = arg;
    struct flow *f = job->f;
    const cJSON *result = cJSON_GetObjectItem(job->wrapped, "result");
    struct core_store_provenance prov;
    struct core_store_error err;
    enum core_store_stage tables[2];
    char *text = cJSON_PrintUnformatted(result);
    size_t i, n = tables_of(job->stage->slot, tables);
    int rc = 0;

    if (text == NULL)
        return rs_run_result_fail(r, RS_RETRY, 0, "out of memory");
    provenance_of(cJSON_GetObjectItem(job->wrapped, "provenance"), &prov);
    for (i = 0; i < n && rc == 0; i++) {
        if (core_store_write_stage(f->wh->store, tables[i], f->indicator_id,
                                   f->run_id, text, &prov, &err) != 0)
            rc = store_failed(r, "persist stage result", &err);
    }
    if (rc == 0 && log_event(f, job->stage->name, "completed", NULL, &err))
        rc = store_failed(r, "processing log", &err);
    free(text);
    return rc;
}

static int outcome_step(void *arg, rs_run_result *r)
{
    struct persist_job *job = arg;
    struct flow *f = job->f;
    const char *stage = job->stage ? job->stage->name : NULL;
    struct core_store_outcome o = {
        .indicator_id = f->indicator_id,
        .run_id = f->run_id,
        .status = job->event,
        .failed_at_stage = stage,
        .error = job->message,
    };
    struct core_store_error err;

    if (stage != NULL) /* logged here: a step runs once, replays do not */
        log_warn(WF_LOG, "%s@%s failed at %s: %s", f->indicator_id, f->run_id,
                 stage, job->message);
    if (core_store_write_classification(f->wh->store, &o, &err) != 0)
        return store_failed(r, "write classification", &err);
    if (log_event(f, stage ? stage : "workflow", job->event, job->message,
                  &err) != 0)
        return store_failed(r, "processing log", &err);
    return rs_run_result_append(r, "true", 4) == 0
               ? 0
               : rs_run_result_fail(r, RS_RETRY, 0, "out of memory");
}

/* ------------------------------------------------------------------ */
/* The run handler                                                     */
/* ------------------------------------------------------------------ */

static rs_status publish(struct flow *f, const char *status, const char *error)
{
    cJSON *st = cJSON_CreateObject();
    char *text;
    rs_status rc;

    if (st == NULL)
        return RS_ABORTED;
    cJSON_AddStringToObject(st, "status", status);
    cJSON_AddStringToObject(st, "indicator_id", f->indicator_id);
    cJSON_AddStringToObject(st, "run_id", f->run_id);
    cJSON_AddItemReferenceToObject(st, "completed", f->done);
    cJSON_AddItemReferenceToObject(st, "results", f->results);
    if (error != NULL)
        cJSON_AddStringToObject(st, "error", error);
    text = cJSON_PrintUnformatted(st);
    cJSON_Delete(st);
    if (text == NULL)
        return RS_ABORTED;
    rc = rs_set_state(f->ctx, STATE_KEY,
                      (rs_bytes){(const uint8_t *)text, strlen(text)});
    free(text);
    return rc;
}

static rs_status finish(struct flow *f, int success, const char *stage,
                        const char *error)
{
    cJSON *out = cJSON_CreateObject();
    rs_status rc;

    if (out == NULL)
        return RS_ABORTED;
    cJSON_AddBoolToObject(out, "success", success);
    cJSON_AddStringToObject(out, "indicator_id", f->indicator_id);
    cJSON_AddStringToObject(out, "run_id", f->run_id);
    if (!success) {
        cJSON_AddStringToObject(out, "failed_at_stage", stage);
        cJSON_AddStringToObject(out, "error", error);
    }
    cJSON_AddItemReferenceToObject(out, "results", f->results);
    rc = workflow_output_json(f->ctx, out);
    cJSON_Delete(out);
    return rc;
}

/* Record the failure once, publish it and complete the workflow. */
static rs_status fail_run(struct flow *f, const struct plan_stage *stage,
                          const char *error)
{
    struct persist_job job = {f, stage, NULL, "failed", error};
    rs_bytes ignored;

    f->failed = 1;
    if (f->wh->store != NULL)
        RS_TRY(rs_run(f->ctx, "fail", outcome_step, &job, &ignored));
    else
        log_warn(WF_LOG, "%s@%s failed at %s: %s", f->indicator_id, f->run_id,
                 stage->name, error);
    RS_TRY(publish(f, "failed", error));
    return finish(f, 0, stage->name, error);
}

static cJSON *stage_input(const struct flow *f)
{
    cJSON *in = cJSON_CreateObject();

    if (in == NULL)
        return NULL;
    cJSON_AddItemReferenceToObject(in, "indicator", (cJSON *)f->indicator);
    cJSON_AddItemReferenceToObject(in, "results", f->results);
    return in;
}

/* Call one stage; *wrapped receives {"result", "provenance"}. */
static rs_status call_stage(struct flow *f, const struct plan_stage *s,
                            cJSON **wrapped)
{
    cJSON *in = stage_input(f);
    char *text = in ? cJSON_PrintUnformatted(in) : NULL;
    rs_bytes out;
    rs_status rc;

    cJSON_Delete(in);
    if (text == NULL)
        return RS_ABORTED;
    rc = rs_call(f->ctx, s->service, s->handler, NULL,
                 (rs_bytes){(const uint8_t *)text, strlen(text)}, &out);
    free(text);
    if (rc != RS_OK)
        return rc;
    *wrapped = workflow_parse(out);
    return *wrapped != NULL ? RS_OK : RS_TERMINAL;
}

static const char *failure_text(rs_ctx *ctx, const char *fallback)
{
    const char *msg = NULL;
    uint32_t code;

    if (rs_last_failure(ctx, &code, &msg) != 0 || msg == NULL)
        return fallback;
    return msg;
}

static rs_status run_stage(struct flow *f, const struct plan_stage *s)
{
    cJSON *wrapped = NULL;
    struct persist_job job = {f, s, NULL, "completed", NULL};
    char step[96];
    rs_bytes ignored;
    rs_status rc;

    RS_TRY(publish(f, s->name, NULL));
    rc = call_stage(f, s, &wrapped);
    if (rc == RS_TERMINAL)
        return fail_run(f, s, failure_text(f->ctx, "stage output not JSON"));
    if (rc != RS_OK)
        return rc;

    job.wrapped = wrapped;
    snprintf(step, sizeof(step), "persist:%s", s->name);
    rc = f->wh->store ? rs_run(f->ctx, step, persist_step, &job, &ignored)
                      : RS_OK;
    if (rc == RS_OK) {
        cJSON_AddItemToObject(f->results, s->name,
                              cJSON_DetachItemFromObject(wrapped, "result"));
        cJSON_AddItemToArray(f->done, cJSON_CreateString(s->name));
    }
    cJSON_Delete(wrapped);
    if (rc == RS_TERMINAL)
        return fail_run(f, s, failure_text(f->ctx, "persistence failed"));
    return rc;
}

static int plan_stage_at(const cJSON *plan, int i, struct plan_stage *out)
{
    const cJSON *s =
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(plan, "stages"), i);
    const cJSON *slot = cJSON_GetObjectItemCaseSensitive(s, "slot");

    if (s == NULL)
        return -1;
    out->name = json_str(s, "name", NULL);
    out->service = json_str(s, "service", NULL);
    out->handler = json_str(s, "handler", NULL);
    out->slot = cJSON_IsNumber(slot) ? slot->valueint : 0;
    return out->name && out->service && out->handler ? 0 : -1;
}

static rs_status run_plan(struct flow *f)
{
    struct plan_stage s;
    struct persist_job job = {f, NULL, NULL, "completed", NULL};
    rs_bytes ignored;
    int i;

    for (i = 0; !f->failed && plan_stage_at(f->plan, i, &s) == 0; i++)
        RS_TRY(run_stage(f, &s));
    if (f->failed)
        return RS_OK;

    if (f->wh->store != NULL)
        RS_TRY(rs_run(f->ctx, "complete", outcome_step, &job, &ignored));
    RS_TRY(publish(f, "completed", NULL));
    return finish(f, 1, NULL, NULL);
}

static rs_status load_input(struct flow *f)
{
    const cJSON *run;

    f->input = workflow_parse(rs_input(f->ctx));
    f->indicator = cJSON_GetObjectItemCaseSensitive(f->input, "indicator");
    run = cJSON_GetObjectItemCaseSensitive(f->input, "run_id");
    f->indicator_id = json_str(f->indicator, "id", NULL);
    if (f->indicator_id == NULL || !cJSON_IsString(run) ||
        !workflow_run_id_valid(run->valuestring))
        return rs_fail_terminal(f->ctx, 400,
                                "workflow input: expected {\"run_id\": "
                                "string, \"indicator\": {\"id\": ...}}");
    f->run_id = run->valuestring;
    f->results = cJSON_CreateObject();
    f->done = cJSON_CreateArray();
    return f->results && f->done ? RS_OK : RS_ABORTED;
}

int workflow_run_handler(rs_ctx *ctx, void *arg)
{
    struct flow f;
    rs_bytes plan;
    rs_status rc;

    memset(&f, 0, sizeof(f));
    f.ctx = ctx;
    f.wh = arg;
    f.attempt = 1 + rs_retry_count(ctx);

    rc = load_input(&f);
    if (rc == RS_OK)
        rc = rs_run(ctx, "plan", plan_step, &f, &plan);
    if (rc == RS_OK) {
        f.plan = workflow_parse(plan);
        rc = f.plan ? run_plan(&f)
                    : rs_fail_terminal(ctx, 500, "journaled plan unreadable");
    }
    cJSON_Delete(f.plan);
    cJSON_Delete(f.results);
    cJSON_Delete(f.done);
    cJSON_Delete(f.input);
    return rc;
}

int workflow_get_state_handler(rs_ctx *ctx, void *arg)
{
    static const char unknown[] = "{\"status\":\"pending\"}";
    rs_bytes value;
    int found = 0;

    (void)arg;
    RS_TRY(rs_get_state(ctx, STATE_KEY, &value, &found));
    if (!found)
        value = (rs_bytes){(const uint8_t *)unknown, sizeof(unknown) - 1};
    return rs_output(ctx, value);
}
