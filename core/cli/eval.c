/*
 * eval.c - `classify eval`: run labelled indicators offline through the
 * configured pipeline and print per-field accuracy with confusion
 * matrices.  No Restate and no database are involved; stages configured
 * with an LLM provider do call it.
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "eval/eval.h"
#include "stage/call.h"
#include "stage/pipeline.h"
#include "workflow/workflow.h"

static const char eval_usage[] =
    "usage: classify eval --indicators FILE.jsonl --labels FILE.jsonl "
    "[--json]\n"
    "\n"
    "Classifies every labelled indicator through the pipeline of the\n"
    "configuration, offline, and prints per-field accuracy and confusion\n"
    "matrices for family and type (--json: the same, machine-readable).\n";

struct eval_ctx {
    struct pipeline *p;
    struct stage_direct_env env;
    struct workflow_host wh;
};

/* Merge the stage results: later stages override earlier fields. */
static char *flatten(const cJSON *results)
{
    cJSON *flat = cJSON_CreateObject();
    const cJSON *stage, *field;
    char *text;

    if (flat == NULL)
        return NULL;
    cJSON_ArrayForEach(stage, results)
    {
        cJSON_ArrayForEach(field, stage)
        {
            cJSON *copy = cJSON_Duplicate(field, 1);

            if (copy == NULL)
                continue;
            if (cJSON_GetObjectItemCaseSensitive(flat, field->string))
                cJSON_ReplaceItemInObjectCaseSensitive(flat, field->string,
                                                       copy);
            else
                cJSON_AddItemToObject(flat, field->string, copy);
        }
    }
    text = cJSON_PrintUnformatted(flat);
    cJSON_Delete(flat);
    return text;
}

static int run_stage(struct eval_ctx *ec, struct cls_host *h, cJSON *input,
                     const char *id, char *err, size_t errlen)
{
    cJSON *results = cJSON_GetObjectItem(input, "results");
    char *text = cJSON_PrintUnformatted(input), *out = NULL;
    cls_error cerr = {CLS_OK, ""};
    cls_status st;
    cJSON *parsed;

    if (text == NULL)
        return -1;
    st = stage_invoke(h, &ec->env.env, id, text, strlen(text), &out, &cerr);
    free(text);
    if (st != CLS_OK) {
        snprintf(err, errlen, "%s", cerr.message);
        return -1;
    }
    parsed = cJSON_Parse(out);
    free(out);
    if (parsed == NULL)
        return -1;
    cJSON_AddItemToObject(results, h->name, parsed);
    return 0;
}

static int classify_one(void *arg, const char *indicator_json, char **result,
                        char *err, size_t errlen)
{
    struct eval_ctx *ec = arg;
    cJSON *input = cJSON_CreateObject();
    cJSON *ind = cJSON_Parse(indicator_json);
    const cJSON *id = cJSON_GetObjectItem(ind, "id");
    size_t i;
    int rc = -1;

    *result = NULL;
    if (input == NULL || ind == NULL) {
        cJSON_Delete(ind);
        goto out;
    }
    cJSON_AddItemToObject(input, "indicator", ind);
    cJSON_AddObjectToObject(input, "results");
    for (i = 0; i < ec->p->n_stages; i++) {
        if (run_stage(ec, ec->p->stages[i], input,
                      cJSON_IsString(id) ? id->valuestring : "-", err,
                      errlen) != 0)
            goto out;
    }
    *result = flatten(cJSON_GetObjectItem(input, "results"));
    rc = *result ? 0 : -1;

out:
    cJSON_Delete(input);
    return rc;
}

static int load(struct cli_global *g, struct eval_ctx *ec)
{
    struct stage_spec *specs;
    cls_error err = {CLS_OK, ""};

    if (cli_load_config(g) != 0)
        return -1;
    specs = config_stage_specs(g->config);
    if (specs == NULL)
        return -1;
    ec->p = pipeline_load(specs, g->config->n_stages, 1, NULL, NULL, &err);
    free(specs);
    if (ec->p == NULL) {
        fprintf(stderr, "classify eval: %s\n", err.message);
        return -1;
    }
    if (workflow_llms_create(g->config, (struct workflow_llm **)&ec->wh.llms,
                             &ec->wh.n_llms, &err) != 0) {
        fprintf(stderr, "classify eval: %s\n", err.message);
        return -1;
    }
    stage_direct_env_init(&ec->env, workflow_direct_llm, &ec->wh, NULL, NULL);
    return 0;
}

static int evaluate(struct eval_ctx *ec, const char *ind, const char *lab,
                    int json)
{
    struct core_eval *ev = core_eval_new();
    char err[512] = "";
    int rc = CLI_USAGE;

    if (ev == NULL)
        return CLI_USAGE;
    if (core_eval_load_indicators(ev, ind, err, sizeof(err)) < 0 ||
        core_eval_load_labels(ev, lab, err, sizeof(err)) < 0 ||
        core_eval_run(ev, classify_one, ec, err, sizeof(err)) != 0) {
        fprintf(stderr, "classify eval: %s\n", err);
        goto out;
    }
    if (json)
        core_eval_print_json(ev, stdout);
    else
        core_eval_print_table(ev, stdout);
    rc = core_eval_failures(ev) > 0 ? CLI_PARTIAL : CLI_OK;

out:
    core_eval_free(ev);
    return rc;
}

int cli_eval(struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"indicators", required_argument, NULL, 'i'},
        {"labels", required_argument, NULL, 'l'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *ind = NULL, *lab = NULL;
    struct eval_ctx ec;
    int c, json = 0, rc;

    while ((c = getopt_long(argc, argv, "i:l:jh", opts, NULL)) != -1) {
        if (c == 'i')
            ind = optarg;
        else if (c == 'l')
            lab = optarg;
        else if (c == 'j')
            json = 1;
        else {
            fputs(eval_usage, c == 'h' ? stdout : stderr);
            return c == 'h' ? CLI_OK : CLI_USAGE;
        }
    }
    if (ind == NULL || lab == NULL || optind != argc) {
        fputs(eval_usage, stderr);
        return CLI_USAGE;
    }
    memset(&ec, 0, sizeof(ec));
    rc = load(g, &ec) == 0 ? evaluate(&ec, ind, lab, json) : CLI_USAGE;
    workflow_llms_destroy((struct workflow_llm *)ec.wh.llms, ec.wh.n_llms);
    if (ec.p != NULL)
        pipeline_release(ec.p);
    return rc;
}
