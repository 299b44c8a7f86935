/*
 * stage.c - the type-classification stage: indicator type, temporal
 * aggregation and heat-map orientation.
 *
 * The type is always one the family allows (CLS_FAMILY_TYPES): the rules
 * search the archetype catalogue within the family chosen by the family
 * stage.  An LLM is asked with the response schema of that family (built
 * at create(), its indicator_type enum holding only the family's types),
 * so every schema-valid reply is usable; the family check of the reply
 * stays as a guard against providers that ignore the schema.  The system
 * prompt is the same for every item.
 */
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "classify/stage.h"
#include "stagekit.h"
#include "view.h"
#include "vocab.h"

#define STAGE_NAME "type-classification"

static const cls_config_key config_schema[] = {
    SK_CONFIG_KEYS(STAGE_NAME),
    {NULL, CLS_CONFIG_END, 0, NULL, 0, 0, NULL},
};

static const char task[] =
    "Classify the type, temporal aggregation and heat-map orientation of "
    "this indicator within the family given in the results.";

struct type_result {
    const char *family; /* the family the type was chosen in */
    const char *type;
    const char *aggregation;
    const char *orientation;
    double confidence;
    char reasoning[768];
};

/* The instance is the common frame with one response schema per family
 * (sk_create_per_family). */
static cls_status create(const cls_host_api *api, cls_host *host,
                         void **instance, cls_error *err)
{
    return sk_create_per_family(api, host, STAGE_NAME,
                                (struct sk_stage **)instance, err);
}

/* Spelled out here rather than sk_destroy_instance: tests/reload builds a
 * second version of this stage from this file, and its descriptor names
 * destroy. */
static void destroy(void *instance)
{
    sk_destroy(instance);
}

/* One call's work: the item's family when an LLM is asked, and the
 * result. */
struct type_call {
    const cls_host_api *api;
    struct view v;
    const char *family;
    struct type_result r;
};

/* The item's family: the family stage's, or the rules' when that is
 * missing or not a family (the catalogue's last archetype always holds,
 * so the rules always name one). */
static const char *item_family(const struct view *v)
{
    const char *family = view_canonical(VF_FAMILY, v->value[VF_FAMILY]);
    struct cat_verdict cv;

    if (family != NULL)
        return family;
    cat_classify(&v->features, NULL, &cv);
    return cv.family;
}

static void run_rules(void *ctx)
{
    struct type_call *c = ctx;
    const struct view *v = &c->v;
    struct type_result *r = &c->r;
    const char *family = item_family(v);
    struct cat_verdict cv;
    const char *why = NULL;
    char hit[64];
    size_t used;

    cat_classify(&v->features, family, &cv);
    r->family = cv.family;
    r->type = cv.type;
    r->aggregation = cv.aggregation;
    r->confidence = cv.confidence;
    r->orientation = cat_orientation(&v->features, cv.family, cv.type, &why,
                                     hit, sizeof(hit));
    snprintf(r->reasoning, sizeof(r->reasoning), "%s%s%s: %s (%s in %s)",
             cv.hit[0] ? "\"" : "", cv.hit[0] ? cv.hit : "unit type",
             cv.hit[0] ? "\"" : "", cv.why, cv.type,
             cv.family ? cv.family : "no family");
    used = strlen(r->reasoning);
    if (cv.adjusted != NULL)
        used +=
            (size_t)snprintf(r->reasoning + used, sizeof(r->reasoning) - used,
                             "; %s: %s", cv.aggregation, cv.adjusted);
    if (used < sizeof(r->reasoning))
        snprintf(r->reasoning + used, sizeof(r->reasoning) - used, "; %s%s%s%s",
                 hit[0] ? "\"" : "", hit, hit[0] ? "\": " : "", why);
}

/* Map a reply asked with the schema of the item's family onto the
 * result; CLS_FAIL when a field is unusable (only a provider that ignores
 * the schema sends such a reply). */
static cls_status map_reply(void *ctx, const cls_json *o, cls_error *err)
{
    struct type_call *c = ctx;
    const cls_host_api *api = c->api;
    const char *family = c->family;
    struct type_result *r = &c->r;
    const char *type = sk_reply_enum(api, o, "indicator_type", CV_TYPES);
    const char *why = sk_str(api, o, "reasoning");

    memset(r, 0, sizeof(*r));
    r->aggregation =
        sk_reply_enum(api, o, "temporal_aggregation", CV_AGGREGATIONS);
    r->orientation =
        sk_reply_enum(api, o, "heat_map_orientation", CV_ORIENTATIONS);
    if (type == NULL || r->aggregation == NULL || r->orientation == NULL)
        return cls_error_set(err, CLS_FAIL,
                             STAGE_NAME ": reply lacks a valid "
                                        "indicator_type, "
                                        "temporal_aggregation or "
                                        "heat_map_orientation");
    if (!cv_family_allows(family, type))
        return cls_error_set(err, CLS_FAIL,
                             STAGE_NAME ": type %s is not allowed in "
                                        "family %s",
                             type, family);
    r->family = family;
    r->type = type;
    r->confidence = sk_confidence(api, o, 0.5);
    snprintf(r->reasoning, sizeof(r->reasoning), "%s", why ? why : "");
    return CLS_OK;
}

static cls_status emit(const cls_host_api *api, cls_out *out,
                       const struct type_result *r)
{
    api->out_string(out, "indicator_type", r->type);
    api->out_string(out, "temporal_aggregation", r->aggregation);
    api->out_string(out, "heat_map_orientation", r->orientation);
    api->out_string(out, "family", r->family);
    api->out_number(out, "confidence", r->confidence);
    return api->out_string(out, "reasoning", r->reasoning);
}

static cls_status process(void *instance, cls_call *call, const cls_json *input,
                          cls_out *out, cls_error *err)
{
    const struct sk_stage *s = instance;
    struct type_call c = {.api = s->api};
    struct sk_plan plan = {.task = task,
                           .map_reply = map_reply,
                           .run_rules = run_rules,
                           .ctx = &c};
    cls_status st;

    view_read(c.api, input, &c.v);
    if (s->use_llm) {
        c.family = item_family(&c.v);
        plan.schema = sk_family_schema(s, c.family, &plan.variant);
        if (plan.schema == NULL)
            return cls_error_set(err, CLS_FAIL,
                                 STAGE_NAME ": item %s: the rules name no "
                                            "family",
                                 c.api->call_item_id(call));
    }

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
    .description = "indicator type, temporal aggregation and orientation",
    .slot = CLS_SLOT_TYPE_CLASSIFICATION,
    .service = "type-classification",
    .handler = "classify",
    .config_schema = config_schema,
    .create = create,
    .destroy = destroy,
    .process = process,
    .quiesce = NULL,
};

CLS_STAGE_DEFINE(descriptor)
