/*
 * stage.c - the final-review stage: applies the corrections of the
 * boolean review to exactly the flagged fields and states the final
 * classification.
 *
 * The rules accept every flagged field's suggested value that is in the
 * vocabulary and keeps the type inside the family.  With an LLM provider
 * the model decides, per flagged field, the corrected value or null to
 * keep it; fields it was not asked about are never touched.  The response
 * schema holds each field's own vocabulary, and, when the family is not
 * flagged, only the current family's types (one schema per family, built
 * at create()), so a schema-valid answer is never outside the vocabulary
 * or the family.  A combination that breaks the family/type table is
 * refused by the rules, with status failed.
 */
#include <stdio.h>
#include <string.h>

#include "classify/stage.h"
#include "final_rules.h"
#include "stagekit.h"
#include "view.h"

#define STAGE_NAME "final-review"

static const cls_config_key config_schema[] = {
    SK_CONFIG_KEYS(STAGE_NAME),
    {NULL, CLS_CONFIG_END, 0, NULL, 0, 0, NULL},
};

static const char task[] =
    "Decide which of the fields flagged by the boolean review (see "
    "results.boolean-review.incorrect_fields) to correct, and to what.";

/* The instance is the common frame (its schema offers every type) with
 * one schema per family whose indicator_type values are the family's
 * (sk_create_per_family). */
static cls_status create(const cls_host_api *api, cls_host *host,
                         void **instance, cls_error *err)
{
    return sk_create_per_family(api, host, STAGE_NAME,
                                (struct sk_stage **)instance, err);
}

/* One call's work: the flagged fields as items, and the confidence. */
struct final_call {
    const cls_host_api *api;
    const cls_json *input;
    struct view v;
    struct final_item items[VF_COUNT];
    int n;
    double confidence;
};

/* The schema for the items: the current family's when the family is
 * known and not flagged (the type must stay in it), else the one offering
 * every type; *variant gets the family or NULL. */
static const char *pick_schema(const struct sk_stage *s,
                               const struct final_call *c, const char **variant)
{
    const char *family = view_canonical(VF_FAMILY, c->v.value[VF_FAMILY]);
    const char *schema;
    int k;

    *variant = NULL;
    for (k = 0; k < c->n; k++) {
        if (c->items[k].field == VF_FAMILY)
            return s->schema;
    }
    schema = sk_family_schema(s, family, variant);
    return schema != NULL ? schema : s->schema;
}

/* The flagged fields of the boolean review as items; returns the count. */
static int read_flags(const cls_host_api *api, const cls_json *input,
                      struct final_item *items)
{
    const cls_json *list = api->json_get(
        sk_result(api, input, "boolean-review"), "incorrect_fields");
    size_t i;
    int n = 0;

    for (i = 0; i < api->json_size(list) && n < VF_COUNT; i++) {
        const cls_json *e = api->json_at(list, i);
        enum view_field f = view_field_by_name(sk_str(api, e, "field"));

        if (f == VF_COUNT)
            continue;
        memset(&items[n], 0, sizeof(items[n]));
        items[n].field = f;
        items[n].proposed = sk_str(api, e, "suggested");
        items[n].reason = sk_str(api, e, "reason");
        n++;
    }
    return n;
}

/* The rules decide on the flags as the boolean review wrote them. */
static void run_rules(void *ctx)
{
    struct final_call *c = ctx;

    c->n = read_flags(c->api, c->input, c->items);
}

/* Replace the items' decisions with the model's: decisions holds one
 * {value, reason} per field, value null keeping the current value;
 * entries of fields nobody flagged are ignored. */
static cls_status map_reply(void *ctx, const cls_json *o, cls_error *err)
{
    struct final_call *c = ctx;
    const cls_host_api *api = c->api;
    const cls_json *decisions = api->json_get(o, "decisions");
    struct final_item *items = c->items;
    int n = c->n;
    int k;

    if (api->json_type(decisions) != CLS_JSON_OBJECT)
        return cls_error_set(err, CLS_FAIL,
                             STAGE_NAME ": reply has no decisions object");
    for (k = 0; k < n; k++) {
        const cls_json *e =
            api->json_get(decisions, view_field_name(items[k].field));
        const char *value = sk_str(api, e, "value");

        if (api->json_type(e) != CLS_JSON_OBJECT) {
            items[k].rejected = "the final review made no decision";
            continue;
        }
        items[k].reason = sk_str(api, e, "reason");
        items[k].rejected = NULL;
        if (value == NULL)
            items[k].rejected = "the final review kept the value";
        else
            items[k].proposed = value;
    }
    c->confidence = sk_confidence(api, o, 0.5);
    return CLS_OK;
}

static void emit_changes(const cls_host_api *api, cls_out *out, const char *key,
                         const struct final_change *c, int n)
{
    int i;

    api->out_array_begin(out, key);
    for (i = 0; i < n; i++) {
        api->out_object_begin(out, NULL);
        api->out_string(out, "field", view_field_name(c[i].field));
        api->out_string(out, "from", c[i].from);
        api->out_string(out, "to", c[i].to);
        api->out_string(out, "reason", c[i].reason);
        api->out_end(out);
    }
    api->out_end(out);
}

/* Facts of normalization and time inference carried into the verdict. */
static void emit_facts(const cls_host_api *api, cls_out *out,
                       const cls_json *input, const struct view *v)
{
    const cls_json *norm = sk_result(api, input, "normalization");
    const cls_json *time = sk_result(api, input, "time-inference");
    double d;

    api->out_string(out, "unit_type", v->unit_type);
    api->out_string(out, "normalized_scale",
                    sk_str(api, norm, "normalized_scale"));
    if (sk_num(api, norm, "scale_multiplier", &d))
        api->out_number(out, "scale_multiplier", d);
    else
        api->out_null(out, "scale_multiplier");
    api->out_string(out, "currency", sk_str(api, norm, "currency"));
    api->out_bool(out, "is_currency_denominated", v->is_currency);
    api->out_bool(out, "is_cumulative", sk_bool(api, time, "is_cumulative", 0));
    api->out_number(out, "overall_confidence",
                    v->confidence_n ? v->confidence_sum / v->confidence_n : 0);
}

static cls_status emit(const cls_host_api *api, cls_out *out,
                       const cls_json *input, const struct view *v,
                       const struct final_result *r, double confidence)
{
    int i;

    api->out_string(out, "status", r->status);
    emit_changes(api, out, "corrections", r->changes, r->n_changes);
    emit_changes(api, out, "refused", r->refused, r->n_refused);
    for (i = 0; i < VF_COUNT; i++)
        api->out_string(out, view_field_name((enum view_field)i), r->value[i]);
    emit_facts(api, out, input, v);
    api->out_number(out, "confidence", confidence);
    return api->out_string(out, "reasoning", r->reasoning);
}

static cls_status process(void *instance, cls_call *call, const cls_json *input,
                          cls_out *out, cls_error *err)
{
    const struct sk_stage *s = instance;
    struct final_call c = {.api = s->api, .input = input, .confidence = 0.9};
    struct sk_plan plan = {.task = task,
                           .map_reply = map_reply,
                           .run_rules = run_rules,
                           .ctx = &c};
    struct final_result r;
    cls_status st;

    view_read(c.api, input, &c.v);
    c.n = read_flags(c.api, input, c.items);
    plan.rules_only = c.n == 0;
    plan.schema = pick_schema(s, &c, &plan.variant);

    st = sk_decide(s, call, input, &plan, out, err);
    if (st != CLS_OK)
        return st;
    final_rules_apply(&c.v, c.items, c.n, &r);
    return emit(c.api, out, input, &c.v, &r, c.confidence);
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
    .description = "applies the review's corrections to the flagged fields",
    .slot = CLS_SLOT_FINAL_REVIEW,
    .service = "final-review",
    .handler = "review",
    .config_schema = config_schema,
    .create = create,
    .destroy = sk_destroy_instance,
    .process = process,
    .quiesce = NULL,
};

CLS_STAGE_DEFINE(descriptor)
