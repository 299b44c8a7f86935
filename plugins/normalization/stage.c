/*
 * stage.c - the normalization stage: magnitude, unit type and currency of
 * an indicator's unit text.
 *
 * Provider "rules" runs normalize_rules.c.  With an LLM provider the stage
 * asks the model and maps its validated reply; a currency_code field of
 * the source still wins over the model's currency.  On an LLM failure the
 * rules run when the config allows the fallback.
 */
#include <stdio.h>
#include <string.h>

#include "classify/stage.h"
#include "normalize_rules.h"
#include "stagekit.h"
#include "vocab.h"

#define STAGE_NAME "normalization"

static const cls_config_key config_schema[] = {
    SK_CONFIG_KEYS(STAGE_NAME),
    {NULL, CLS_CONFIG_END, 0, NULL, 0, 0, NULL},
};

static const char task[] =
    "Normalize the unit of this indicator: magnitude, unit type and "
    "currency.";

static cls_status create(const cls_host_api *api, cls_host *host,
                         void **instance, cls_error *err)
{
    return sk_create(api, host, STAGE_NAME, (struct sk_stage **)instance, err);
}

/* One call's work: the unit fields read, and the result. */
struct norm_call {
    const cls_host_api *api;
    struct norm_input in;
    struct norm_result r;
};

static void read_input(const cls_host_api *api, const cls_json *ind,
                       struct norm_input *in)
{
    in->name = sk_str(api, ind, "name");
    in->units = sk_str(api, ind, "units");
    in->scale = sk_str(api, ind, "scale");
    in->currency_code = sk_str(api, ind, "currency_code");
}

/* A three-letter upper-case code, or NULL. */
static const char *valid_code(const char *code)
{
    size_t i;

    if (code == NULL || strlen(code) != 3)
        return NULL;
    for (i = 0; i < 3; i++) {
        if (code[i] < 'A' || code[i] > 'Z')
            return NULL;
    }
    return code;
}

/* Map a validated reply onto r; CLS_FAIL when a field is unusable. */
static cls_status map_reply(void *ctx, const cls_json *o, cls_error *err)
{
    struct norm_call *c = ctx;
    const cls_host_api *api = c->api;
    const struct norm_input *in = &c->in;
    struct norm_result *r = &c->r;
    const char *unit_type = sk_reply_enum(api, o, "unit_type", CV_UNIT_TYPES);
    const char *scale = sk_reply_enum(api, o, "parsed_scale", CV_SCALES);
    const char *code = valid_code(sk_str(api, o, "currency"));
    const char *why = sk_str(api, o, "reasoning");

    if (unit_type == NULL || scale == NULL)
        return cls_error_set(err, CLS_FAIL,
                             STAGE_NAME ": reply lacks a valid unit_type or "
                                        "parsed_scale");
    memset(r, 0, sizeof(*r));
    r->unit_type = unit_type;
    r->parsed_scale = scale;
    r->scale_multiplier = norm_scale_multiplier(scale);
    r->scale_source = "llm";
    r->normalized_scale = scale;
    r->is_currency_denominated =
        sk_bool(api, o, "is_currency_denominated",
                strcmp(unit_type, "currency-amount") == 0);
    r->currency_source = code ? "llm" : "none";
    if (valid_code(in->currency_code) != NULL) {
        code = in->currency_code;
        r->currency_source = "currency-field";
    }
    snprintf(r->currency, sizeof(r->currency), "%s", code ? code : "");
    r->placeholder_currency = r->is_currency_denominated && code == NULL;
    r->unit_text_source = "llm";
    r->confidence = sk_confidence(api, o, 0.5);
    snprintf(r->reasoning, sizeof(r->reasoning), "%s", why ? why : "");
    return CLS_OK;
}

static void run_rules(void *ctx)
{
    struct norm_call *c = ctx;

    norm_rules_run(&c->in, &c->r);
}

static cls_status emit(const cls_host_api *api, cls_out *out,
                       const struct norm_input *in, const struct norm_result *r)
{
    api->out_string(out, "original_units", in->units ? in->units : "");
    api->out_string(out, "parsed_scale", r->parsed_scale);
    api->out_number(out, "scale_multiplier", r->scale_multiplier);
    api->out_string(out, "scale_source", r->scale_source);
    api->out_string(out, "normalized_scale", r->normalized_scale);
    api->out_string(out, "unit_type", r->unit_type);
    api->out_string(out, "currency", r->currency[0] ? r->currency : NULL);
    api->out_string(out, "currency_source", r->currency_source);
    api->out_bool(out, "is_currency_denominated", r->is_currency_denominated);
    api->out_bool(out, "placeholder_currency", r->placeholder_currency);
    api->out_string(out, "unit_text_source", r->unit_text_source);
    api->out_number(out, "confidence", r->confidence);
    return api->out_string(out, "reasoning", r->reasoning);
}

static cls_status process(void *instance, cls_call *call, const cls_json *input,
                          cls_out *out, cls_error *err)
{
    const struct sk_stage *s = instance;
    struct norm_call c = {.api = s->api};
    const struct sk_plan plan = {.task = task,
                                 .map_reply = map_reply,
                                 .run_rules = run_rules,
                                 .ctx = &c};
    cls_status st;

    read_input(c.api, sk_indicator(c.api, input), &c.in);
    st = sk_decide(s, call, input, &plan, out, err);
    if (st != CLS_OK)
        return st;
    return emit(c.api, out, &c.in, &c.r);
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
    .description = "magnitude, unit type and currency of the unit text",
    .slot = CLS_SLOT_NORMALIZATION,
    .service = "normalization",
    .handler = "normalize",
    .config_schema = config_schema,
    .create = create,
    .destroy = sk_destroy_instance,
    .process = process,
    .quiesce = NULL,
};

CLS_STAGE_DEFINE(descriptor)
