/*
 * stage.c - the family-assignment stage: one of the seven indicator
 * families.
 *
 * Provider "rules" walks the archetype catalogue (plugins/common/
 * catalog.c) with the name, the unit text and the normalization result.
 * With an LLM provider the stage asks the model, checks the family
 * against the vocabulary and falls back to the rules on failure when the
 * config allows it.
 */
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "classify/stage.h"
#include "stagekit.h"
#include "view.h"
#include "vocab.h"

#define STAGE_NAME "family-assignment"

static const cls_config_key config_schema[] = {
    SK_CONFIG_KEYS(STAGE_NAME),
    {NULL, CLS_CONFIG_END, 0, NULL, 0, 0, NULL},
};

static const char task[] = "Assign this indicator to one family.";

struct family_result {
    const char *family;
    double confidence;
    char matched[64];
    char reasoning[512];
};

static cls_status create(const cls_host_api *api, cls_host *host,
                         void **instance, cls_error *err)
{
    return sk_create(api, host, STAGE_NAME, (struct sk_stage **)instance, err);
}

/* One call's work: what the rules and the reply are read into. */
struct family_call {
    const cls_host_api *api;
    struct view v;
    struct family_result r;
};

static void run_rules(void *ctx)
{
    struct family_call *c = ctx;
    const struct view *v = &c->v;
    struct family_result *r = &c->r;
    struct cat_verdict cv;

    cat_classify(&v->features, NULL, &cv);
    r->family = cv.family;
    r->confidence = cv.confidence;
    snprintf(r->matched, sizeof(r->matched), "%s", cv.hit);
    if (cv.hit[0] != '\0')
        snprintf(r->reasoning, sizeof(r->reasoning),
                 "\"%s\" with unit type %s: %s, which belongs to %s", cv.hit,
                 v->unit_type ? v->unit_type : "unknown", cv.why, cv.family);
    else
        snprintf(r->reasoning, sizeof(r->reasoning),
                 "unit type %s%s: %s, which belongs to %s",
                 v->unit_type ? v->unit_type : "unknown",
                 v->is_currency ? " (money)" : "", cv.why, cv.family);
}

static cls_status map_reply(void *ctx, const cls_json *o, cls_error *err)
{
    struct family_call *c = ctx;
    const cls_host_api *api = c->api;
    struct family_result *r = &c->r;
    const char *family = sk_reply_enum(api, o, "family", CV_FAMILIES);
    const char *why = sk_str(api, o, "reasoning");

    if (family == NULL)
        return cls_error_set(err, CLS_FAIL,
                             STAGE_NAME ": reply lacks a valid family");
    memset(r, 0, sizeof(*r));
    r->family = family;
    r->confidence = sk_confidence(api, o, 0.5);
    snprintf(r->reasoning, sizeof(r->reasoning), "%s", why ? why : "");
    return CLS_OK;
}

static cls_status emit(const cls_host_api *api, cls_out *out,
                       const struct family_result *r)
{
    api->out_string(out, "family", r->family);
    api->out_number(out, "confidence", r->confidence);
    api->out_string(out, "matched_phrase", r->matched[0] ? r->matched : NULL);
    return api->out_string(out, "reasoning", r->reasoning);
}

static cls_status process(void *instance, cls_call *call, const cls_json *input,
                          cls_out *out, cls_error *err)
{
    const struct sk_stage *s = instance;
    struct family_call c = {.api = s->api};
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
    .description = "the indicator's family (one of seven)",
    .slot = CLS_SLOT_FAMILY_ASSIGNMENT,
    .service = "family-assignment",
    .handler = "assign",
    .config_schema = config_schema,
    .create = create,
    .destroy = sk_destroy_instance,
    .process = process,
    .quiesce = NULL,
};

CLS_STAGE_DEFINE(descriptor)
