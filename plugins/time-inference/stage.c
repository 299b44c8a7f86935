/*
 * stage.c - the time-inference stage: reporting frequency, time basis and
 * the cumulative (year-to-date / running-total) detector.
 *
 * The sample values are cleaned first (non-date labels and missing values
 * skipped and counted, numeric strings read, the last value of a
 * duplicate date kept); the detector always runs on the cleaned series.
 * Frequency and basis come from time_rules.c, or from the LLM when one is
 * configured (with the rules as fallback when the config allows).
 */
#include <stdio.h>
#include <string.h>

#include "classify/stage.h"
#include "series.h"
#include "stagekit.h"
#include "time_rules.h"
#include "vocab.h"

#define STAGE_NAME "time-inference"

static const cls_config_key config_schema[] = {
    SK_CONFIG_KEYS(STAGE_NAME),
    {NULL, CLS_CONFIG_END, 0, NULL, 0, 0, NULL},
};

static const char task[] =
    "Infer the reporting frequency and the time basis of this indicator.";

/* Cleaned samples of one call, in call memory. */
struct samples {
    struct ts_point *points;
    size_t n;
    struct ts_clean_stats stats;
};

static cls_status create(const cls_host_api *api, cls_host *host,
                         void **instance, cls_error *err)
{
    return sk_create(api, host, STAGE_NAME, (struct sk_stage **)instance, err);
}

/* One call's work: the rules' input and the result. */
struct time_call {
    const cls_host_api *api;
    struct time_input in;
    struct time_result r;
};

/* One sample's value: a number, a numeric string, or missing. */
static void read_value(const cls_host_api *api, const cls_json *v,
                       struct ts_raw *raw)
{
    raw->has_value = api->json_number(v, &raw->value) == CLS_OK;
    if (!raw->has_value)
        raw->has_value = ts_parse_number(api->json_string(v), &raw->value);
}

static cls_status read_samples(const cls_host_api *api, cls_call *call,
                               const cls_json *ind, struct samples *out,
                               cls_error *err)
{
    const cls_json *arr = api->json_get(ind, "sample_values");
    size_t n = api->json_type(arr) == CLS_JSON_ARRAY ? api->json_size(arr) : 0;
    struct ts_raw *raw;
    size_t i;

    memset(out, 0, sizeof(*out));
    if (n == 0)
        return CLS_OK;
    raw = api->call_alloc(call, n * sizeof(*raw));
    out->points = api->call_alloc(call, n * sizeof(*out->points));
    if (raw == NULL || out->points == NULL)
        return cls_error_set(err, CLS_ENOMEM, STAGE_NAME ": %zu sample values",
                             n);
    for (i = 0; i < n; i++) {
        const cls_json *e = api->json_at(arr, i);

        raw[i].date = sk_str(api, e, "date");
        read_value(api, api->json_get(e, "value"), &raw[i]);
    }
    out->n = ts_clean(raw, n, out->points, &out->stats);
    if (out->n == 0 && out->stats.input > out->stats.skipped_labels +
                                              out->stats.missing_values)
        return cls_error_set(err, CLS_ENOMEM, STAGE_NAME ": cleaning");
    return CLS_OK;
}

static void run_rules(void *ctx)
{
    struct time_call *c = ctx;

    time_rules_run(&c->in, &c->r);
}

/* The rules' result with the model's frequency and basis: the cumulative
 * detector's verdict is always the rules'. */
static cls_status map_reply(void *ctx, const cls_json *o, cls_error *err)
{
    struct time_call *c = ctx;
    const cls_host_api *api = c->api;
    struct time_result *r = &c->r;
    const char *freq =
        sk_reply_enum(api, o, "reporting_frequency", CV_FREQUENCIES);
    const char *basis = sk_reply_enum(api, o, "time_basis", CV_TIME_BASES);
    const char *source = sk_reply_enum(api, o, "source_used", CV_TIME_SOURCES);
    const char *why = sk_str(api, o, "reasoning");

    if (freq == NULL || basis == NULL)
        return cls_error_set(err, CLS_FAIL,
                             STAGE_NAME ": reply lacks a valid "
                                        "reporting_frequency or time_basis");
    time_rules_run(&c->in, r);
    r->reporting_frequency = freq;
    r->time_basis = basis;
    r->source_used = source ? source : "unknown";
    r->confidence = sk_confidence(api, o, 0.5);
    snprintf(r->reasoning, sizeof(r->reasoning), "%s", why ? why : "");
    return CLS_OK;
}

static void emit_cumulative(const cls_host_api *api, cls_out *out,
                            const struct ts_cumulative *c)
{
    api->out_bool(out, "is_cumulative", c->is_cumulative);
    api->out_string(out, "cumulative_pattern", c->pattern);
    api->out_number(out, "cumulative_confidence", c->confidence);
    api->out_string(out, "cumulative_reasoning", c->reasoning);
    api->out_object_begin(out, "cumulative_evidence");
    api->out_int(out, "points_analyzed", (int64_t)c->points);
    api->out_int(out, "year_resets", (int64_t)c->year_resets);
    api->out_int(out, "within_year_increases", (int64_t)c->increases);
    api->out_int(out, "within_year_decreases", (int64_t)c->decreases);
    api->out_bool(out, "read_as_negative_total", c->negated);
    api->out_end(out);
}

static cls_status emit(const cls_host_api *api, cls_out *out,
                       const struct time_result *r, const struct samples *s)
{
    api->out_string(out, "reporting_frequency", r->reporting_frequency);
    api->out_string(out, "time_basis", r->time_basis);
    api->out_string(out, "source_used", r->source_used);
    api->out_number(out, "confidence", r->confidence);
    api->out_string(out, "reasoning", r->reasoning);
    emit_cumulative(api, out, &r->cumulative);
    api->out_object_begin(out, "samples");
    api->out_int(out, "input", (int64_t)s->stats.input);
    api->out_int(out, "kept", (int64_t)s->stats.kept);
    api->out_int(out, "skipped_labels", (int64_t)s->stats.skipped_labels);
    api->out_int(out, "missing_values", (int64_t)s->stats.missing_values);
    api->out_int(out, "duplicate_dates", (int64_t)s->stats.duplicate_dates);
    return api->out_end(out);
}

static cls_status process(void *instance, cls_call *call, const cls_json *input,
                          cls_out *out, cls_error *err)
{
    const struct sk_stage *s = instance;
    const cls_json *ind = sk_indicator(s->api, input);
    struct time_call c = {.api = s->api};
    const struct sk_plan plan = {.task = task,
                                 .map_reply = map_reply,
                                 .run_rules = run_rules,
                                 .ctx = &c};
    struct samples smp;
    cls_status st;

    st = read_samples(c.api, call, ind, &smp, err);
    if (st != CLS_OK)
        return st;
    c.in.name = sk_str(c.api, ind, "name");
    c.in.units = sk_str(c.api, ind, "units");
    c.in.periodicity = sk_str(c.api, ind, "periodicity");
    c.in.unit_type =
        sk_str(c.api, sk_result(c.api, input, "normalization"), "unit_type");
    c.in.points = smp.points;
    c.in.n_points = smp.n;

    st = sk_decide(s, call, input, &plan, out, err);
    if (st != CLS_OK)
        return st;
    return emit(c.api, out, &c.r, &smp);
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
    .description = "reporting frequency, time basis and cumulative pattern",
    .slot = CLS_SLOT_TIME_INFERENCE,
    .service = "time-inference",
    .handler = "infer",
    .config_schema = config_schema,
    .create = create,
    .destroy = sk_destroy_instance,
    .process = process,
    .quiesce = NULL,
};

CLS_STAGE_DEFINE(descriptor)
