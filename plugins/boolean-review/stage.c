/*
 * stage.c - the boolean-review stage: is the classification consistent,
 * and which fields are wrong?
 *
 * The rules run the checks of review_rules.c.  With an LLM provider the
 * model's verdict is taken and the hard checks (vocabulary, family/type
 * table) are added for fields the model did not name, so a value outside
 * the vocabulary is always reported.  The model answers per field, each
 * suggestion from that field's own vocabulary, so the suggestions it
 * passes on are values the final review can apply.
 */
#include <stdio.h>
#include <string.h>

#include "classify/stage.h"
#include "review_rules.h"
#include "stagekit.h"
#include "view.h"

#define STAGE_NAME "boolean-review"

static const cls_config_key config_schema[] = {
    SK_CONFIG_KEYS(STAGE_NAME),
    {NULL, CLS_CONFIG_END, 0, NULL, 0, 0, NULL},
};

static const char task[] =
    "Review the classification in the results for consistency and name "
    "every wrong field.";

struct bool_result {
    struct review_result rules;
    double confidence;
    char reasoning[512];
};

static cls_status create(const cls_host_api *api, cls_host *host,
                         void **instance, cls_error *err)
{
    return sk_create(api, host, STAGE_NAME, (struct sk_stage **)instance, err);
}

/* One call's work: what the rules and the reply are read into. */
struct bool_call {
    const cls_host_api *api;
    struct view v;
    struct bool_result r;
};

static void run_rules(void *ctx)
{
    struct bool_call *c = ctx;
    struct bool_result *r = &c->r;
    size_t used = 0;
    int i;

    memset(r, 0, sizeof(*r));
    review_rules_run(&c->v, &r->rules);
    r->confidence = r->rules.n == 0 ? 0.9 : 0.8;
    if (r->rules.n == 0) {
        snprintf(r->reasoning, sizeof(r->reasoning),
                 "all %d consistency checks passed", r->rules.checks_run);
        return;
    }
    for (i = 0; i < r->rules.n && used < sizeof(r->reasoning); i++)
        used += (size_t)snprintf(
            r->reasoning + used, sizeof(r->reasoning) - used, "%s%s: %s",
            i ? "; " : "", view_field_name(r->rules.findings[i].field),
            r->rules.findings[i].reason);
}

/* Add the model's findings: fields holds one {incorrect, reason,
 * suggested} per reviewable field, suggested from that field's own
 * vocabulary (the schema says so; a value outside it is dropped, as only
 * a provider ignoring the schema sends one).  CLS_FAIL without fields. */
static cls_status map_reply(void *ctx, const cls_json *o, cls_error *err)
{
    struct bool_call *c = ctx;
    const cls_host_api *api = c->api;
    struct bool_result *r = &c->r;
    const cls_json *fields = api->json_get(o, "fields");
    struct review_result hard;
    const char *why = sk_str(api, o, "reasoning");
    size_t i;
    int k;

    if (api->json_type(fields) != CLS_JSON_OBJECT)
        return cls_error_set(err, CLS_FAIL,
                             STAGE_NAME ": reply has no fields object");
    memset(r, 0, sizeof(*r));
    for (k = 0; k < VF_COUNT; k++) {
        const cls_json *e =
            api->json_get(fields, view_field_name((enum view_field)k));
        struct review_finding *fd = &r->rules.findings[r->rules.n];

        if (!sk_bool(api, e, "incorrect", 0))
            continue;
        fd->field = (enum view_field)k;
        fd->reason = sk_str(api, e, "reason");
        fd->suggested =
            view_canonical((enum view_field)k, sk_str(api, e, "suggested"));
        r->rules.n++;
    }
    review_rules_run(&c->v, &hard);
    for (k = 0; k < hard.n; k++) {
        int seen = 0;

        for (i = 0; i < (size_t)r->rules.n; i++)
            seen |= r->rules.findings[i].field == hard.findings[k].field;
        if (!seen && r->rules.n < VF_COUNT)
            r->rules.findings[r->rules.n++] = hard.findings[k];
    }
    r->rules.checks_run = hard.checks_run;
    r->confidence = sk_confidence(api, o, 0.5);
    snprintf(r->reasoning, sizeof(r->reasoning), "%s", why ? why : "");
    return CLS_OK;
}

static cls_status emit(const cls_host_api *api, cls_out *out,
                       const struct bool_result *r)
{
    int i;

    api->out_bool(out, "passed", r->rules.n == 0);
    api->out_array_begin(out, "incorrect_fields");
    for (i = 0; i < r->rules.n; i++) {
        const struct review_finding *f = &r->rules.findings[i];

        api->out_object_begin(out, NULL);
        api->out_string(out, "field", view_field_name(f->field));
        api->out_string(out, "reason", f->reason ? f->reason : "");
        api->out_string(out, "suggested", f->suggested);
        api->out_end(out);
    }
    api->out_end(out);
    api->out_int(out, "checks_run", r->rules.checks_run);
    api->out_number(out, "confidence", r->confidence);
    return api->out_string(out, "reasoning", r->reasoning);
}

static cls_status process(void *instance, cls_call *call, const cls_json *input,
                          cls_out *out, cls_error *err)
{
    const struct sk_stage *s = instance;
    struct bool_call c = {.api = s->api};
    const struct sk_plan plan = {.task = task,
                                 .map_reply = map_reply,
                                 .run_rules = run_rules,
                                 .ctx = &c};
    cls_status st;

    view_read(c.api, input, &c.v);
    st = sk_decide(s, call, input, &plan, out, err);
    if (st != CLS_OK)
        return st;
    return emit(c.api, out, &c.r);
}

static const cls_stage_desc descriptor = {
    .magic = CLS_STAGE_MAGIC,
    .struct_size = sizeof(cls_stage_desc),
    .abi_major = CLS_ABI_MAJOR,
    .abi_minor = 0,
    .flags = CLS_STAGE_CONCURRENT | CLS_STAGE_USES_LLM,
    .name = STAGE_NAME,
    .version = "1.0.0",
    .build_id = CLS_STAGE_BUILD_ID,
    .description = "consistency review naming the wrong fields",
    .slot = CLS_SLOT_BOOLEAN_REVIEW,
    .service = "boolean-review",
    .handler = "review",
    .config_schema = config_schema,
    .create = create,
    .destroy = sk_destroy_instance,
    .process = process,
    .quiesce = NULL,
};

CLS_STAGE_DEFINE(descriptor)
