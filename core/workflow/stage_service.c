/*
 * stage_service.c - one Restate service per pipeline stage.
 *
 * An invocation runs the stage's process() inside one journaled step
 * named "process": whatever the stage does that could differ between
 * runs (LLM answers, time, randomness) happens once, and a replay returns
 * the journaled answer without calling the plugin again.  The stage used
 * is the one in the pipeline generation active when the step executes,
 * and its name, version, build id and generation are journaled with the
 * result.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "common/log.h"
#include "llm/llm.h"
#include "stage/call.h"
#include "workflow/internal.h"

/* What one execution of the step learns about the LLM calls it made. */
struct stage_job {
    struct workflow_binding *binding;
    rs_bytes input;
    char item_id[256]; /* indicator.id of the input, for log lines */
    int answered;      /* an LLM call succeeded */
    char provider[64];
    char model[128];
    uint64_t input_tokens, output_tokens, cached_tokens;
    uint32_t llm_latency_ms;
};

static struct llm_provider *find_llm(const struct workflow_host *wh,
                                     const char *name)
{
    size_t i;

    for (i = 0; i < wh->n_llms; i++) {
        if (strcmp(wh->llms[i].name, name) == 0)
            return wh->llms[i].provider;
    }
    return NULL;
}

/* Hand an llm_result to the stage as a reply living in the call. */
static cls_status fill_reply(cls_call *call, struct llm_result *res,
                             cls_llm_reply *reply, cls_error *err)
{
    struct core_arena *arena = stage_call_arena(call);

    if (core_arena_defer(arena, (void (*)(void *))cJSON_Delete, res->object) !=
        0)
        return cls_error_set(err, CLS_ENOMEM, "llm: out of memory");
    reply->object = core_json_view(res->object);
    res->object = NULL;
    reply->text = core_arena_strdup(arena, res->text ? res->text : "");
    reply->provider = core_arena_strdup(arena, res->provider);
    reply->model = core_arena_strdup(arena, res->model ? res->model : "");
    reply->input_tokens = res->input_tokens;
    reply->output_tokens = res->output_tokens;
    reply->cached_tokens = res->cached_tokens;
    reply->latency_ms = res->latency_ms;
    reply->attempts = res->attempts;
    return CLS_OK;
}

static void note_answer(struct stage_job *job, const struct llm_result *res)
{
    job->answered = 1;
    snprintf(job->provider, sizeof(job->provider), "%s",
             res->provider ? res->provider : "");
    snprintf(job->model, sizeof(job->model), "%s",
             res->model ? res->model : "");
}

/*
 * Complete req with the provider of the calling stage; job (may be NULL)
 * accumulates usage and remembers who answered.
 */
static cls_status complete(struct workflow_host *wh, struct stage_job *job,
                           cls_call *call, const cls_llm_request *req,
                           cls_llm_reply *reply, cls_error *err)
{
    struct cls_host *host = stage_call_host(call);
    struct llm_provider *p = find_llm(wh, host->provider);
    struct llm_result res;
    cls_status st;

    if (p == NULL)
        return cls_error_set(err, CLS_FAIL,
                             "llm: stage %s has no LLM provider (provider "
                             "\"%s\")",
                             host->name, host->provider);
    memset(&res, 0, sizeof(res));
    st = llm_complete(p, req, &res, err);
    if (job != NULL) {
        job->input_tokens += res.input_tokens;
        job->output_tokens += res.output_tokens;
        job->cached_tokens += res.cached_tokens;
        job->llm_latency_ms += res.latency_ms;
        if (st == CLS_OK)
            note_answer(job, &res);
    }
    if (st == CLS_OK)
        st = fill_reply(call, &res, reply, err);
    llm_result_free(&res);
    return st;
}

static cls_status stage_llm(void *arg, cls_call *call,
                            const cls_llm_request *req, cls_llm_reply *reply,
                            cls_error *err)
{
    struct stage_job *job = arg;

    return complete(job->binding->wh, job, call, req, reply, err);
}

cls_status workflow_direct_llm(void *arg, cls_call *call,
                               const cls_llm_request *req, cls_llm_reply *reply,
                               cls_error *err)
{
    return complete(arg, NULL, call, req, reply, err);
}

/*
 * Who answered: what the stage says it used (it knows about a fall-back
 * to its rules), else what the host saw.
 */
static void answered_by(const cJSON *result, const struct stage_job *job,
                        const char **provider, const char **model)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(result, "provider");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(result, "model");

    *provider = job->answered ? job->provider : "rules";
    *model = job->answered ? job->model : NULL;
    if (cJSON_IsString(p) && p->valuestring[0] != '\0') {
        *provider = p->valuestring;
        *model = cJSON_IsString(m) ? m->valuestring : NULL;
    }
}

static cJSON *provenance(const struct cls_host *h, const struct pipeline *p,
                         const struct stage_job *job, const cJSON *result,
                         uint32_t latency_ms)
{
    cJSON *o = cJSON_CreateObject();
    const char *provider, *model;

    if (o == NULL)
        return NULL;
    answered_by(result, job, &provider, &model);
    cJSON_AddStringToObject(o, "plugin", h->name);
    cJSON_AddStringToObject(o, "version", h->version);
    cJSON_AddStringToObject(o, "build_id", h->build_id);
    cJSON_AddNumberToObject(o, "generation", h->generation);
    cJSON_AddNumberToObject(o, "pipeline", p->id);
    cJSON_AddStringToObject(o, "provider", provider);
    if (model != NULL)
        cJSON_AddStringToObject(o, "model", model);
    else
        cJSON_AddNullToObject(o, "model");
    cJSON_AddNumberToObject(o, "input_tokens", (double)job->input_tokens);
    cJSON_AddNumberToObject(o, "output_tokens", (double)job->output_tokens);
    cJSON_AddNumberToObject(o, "cached_tokens", (double)job->cached_tokens);
    cJSON_AddNumberToObject(o, "latency_ms", latency_ms);
    return o;
}

static uint32_t elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (uint32_t)((t1.tv_sec - t0->tv_sec) * 1000 +
                      (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

/* Wrap the stage's output with its provenance into the run result. */
static int emit_result(rs_run_result *r, const char *output,
                       const struct cls_host *h, const struct pipeline *p,
                       const struct stage_job *job, uint32_t latency_ms)
{
    cJSON *wrap = cJSON_CreateObject();
    cJSON *result = cJSON_Parse(output);
    cJSON *prov = provenance(h, p, job, result, latency_ms);
    int rc = -1;

    if (wrap == NULL || result == NULL || prov == NULL)
        goto out;
    cJSON_AddItemToObject(wrap, "result", result);
    result = NULL;
    cJSON_AddItemToObject(wrap, "provenance", prov);
    prov = NULL;
    rc = workflow_run_result_json(r, wrap);

out:
    cJSON_Delete(wrap);
    cJSON_Delete(result);
    cJSON_Delete(prov);
    return rc;
}

static int fail_status(rs_run_result *r, cls_status st, const cls_error *err)
{
    if (st == CLS_RETRY || st == CLS_ENOMEM)
        return rs_run_result_fail(r, RS_RETRY, 0, "%s", err->message);
    return rs_run_result_fail(r, RS_TERMINAL, 500, "%s", err->message);
}

/* The item id for logs: indicator.id of the input, if there is one. */
static void item_id_of(rs_bytes input, char *buf, size_t size)
{
    cJSON *doc = workflow_parse(input);
    const cJSON *ind = cJSON_GetObjectItemCaseSensitive(doc, "indicator");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(ind, "id");

    snprintf(buf, size, "%s", cJSON_IsString(id) ? id->valuestring : "-");
    cJSON_Delete(doc);
}

static int run_stage(void *arg, rs_run_result *r)
{
    struct stage_job *job = arg;
    struct workflow_host *wh = job->binding->wh;
    /* One execution per attempt: Restate retries the whole step. */
    struct stage_retry_policy retry = {1, 0, 0};
    struct stage_direct_env env;
    struct pipeline *p = pipeline_holder_acquire(wh->pipelines);
    struct cls_host *h;
    struct timespec t0;
    char *output = NULL;
    cls_error err = {CLS_OK, ""};
    cls_status st;
    int rc;

    h = p ? pipeline_find(p, job->binding->stage_name) : NULL;
    if (h == NULL) {
        rc = rs_run_result_fail(r, RS_TERMINAL, 500,
                                "stage %s is not in the active pipeline",
                                job->binding->stage_name);
        goto out;
    }
    /* Parsed here, not in the handler: a replay never executes the step. */
    item_id_of(job->input, job->item_id, sizeof(job->item_id));
    stage_direct_env_init(&env, stage_llm, job, &retry, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = stage_invoke(h, &env.env, job->item_id, (const char *)job->input.data,
                      job->input.len, &output, &err);
    if (st != CLS_OK) {
        log_warn(WF_LOG, "stage %s@%s failed on %s: %s", h->name, h->version,
                 job->item_id, err.message);
        rc = fail_status(r, st, &err);
        goto out;
    }
    rc = emit_result(r, output, h, p, job, elapsed_ms(&t0));
    if (rc != 0)
        rc = rs_run_result_fail(r, RS_RETRY, 0, "out of memory");

out:
    free(output);
    if (p != NULL)
        pipeline_release(p);
    return rc;
}

int workflow_stage_handler(rs_ctx *ctx, void *arg)
{
    struct stage_job job;
    rs_bytes result;

    memset(&job, 0, sizeof(job));
    job.binding = arg;
    job.input = rs_input(ctx);

    RS_TRY(rs_run(ctx, "process", run_stage, &job, &result));
    return rs_output(ctx, result);
}
