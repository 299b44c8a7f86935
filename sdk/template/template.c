/*
 * template.c - a minimal but complete stage plugin to copy when starting a
 * new stage.  It labels an indicator "percent" or "level" from its units:
 * with an LLM when a provider is configured, by a rule otherwise, and by
 * the rule again after an LLM failure when the config allows it.
 *
 * Output: { "label": "percent"|"level", "confidence": 0..1,
 *           "method": "rules"|"llm", "note": <the "note" option> }
 */
#include <string.h>

#include <classify/stage.h>

/* Everything the stage keeps lives in the instance: no globals. */
struct template_stage {
    const cls_host_api *api;
    cls_host *host;
    double min_confidence;
    const char *note;
    int use_llm;
};

static const char system_prompt[] =
    "You label economic indicators. Answer with one JSON object: "
    "{\"label\": \"percent\" or \"level\", \"confidence\": 0..1}. "
    "\"percent\" means the values are percentages or rates.";

static const char response_schema[] =
    "{\"type\":\"object\",\"required\":[\"label\",\"confidence\"],"
    "\"properties\":{\"label\":{\"enum\":[\"percent\",\"level\"]},"
    "\"confidence\":{\"type\":\"number\",\"minimum\":0,\"maximum\":1}}}";

static cls_status template_create(const cls_host_api *api, cls_host *host,
                                  void **instance, cls_error *err)
{
    struct template_stage *t;

    t = api->alloc(host, sizeof(*t));
    if (t == NULL)
        return cls_error_set(err, CLS_ENOMEM, "template: out of memory");
    memset(t, 0, sizeof(*t));
    t->api = api;
    t->host = host;

    if (api->config_double(host, "min_confidence", &t->min_confidence) !=
            CLS_OK ||
        api->config_string(host, "note", &t->note) != CLS_OK) {
        api->free(host, t);
        return cls_error_set(err, CLS_EINVAL,
                             "template: options missing from the schema");
    }
    t->use_llm = strcmp(api->provider_kind(host), "rules") != 0;

    *instance = t;
    return CLS_OK;
}

/* The rule: units mentioning "%" or "percent" are percentages. */
static const char *rule_label(const char *units)
{
    if (units != NULL &&
        (strchr(units, '%') != NULL || strstr(units, "percent") != NULL))
        return "percent";
    return "level";
}

/* Ask the LLM; on CLS_OK *label and *confidence are set. */
static cls_status ask_llm(struct template_stage *t, cls_call *call,
                          const char *name, const char *units,
                          const char **label, double *confidence,
                          cls_error *err)
{
    const cls_host_api *api = t->api;
    cls_llm_request req = {.struct_size = sizeof(req)};
    cls_llm_reply reply = {.struct_size = sizeof(reply)};
    char *user;
    size_t len;
    cls_status st;

    len = strlen(name) + strlen(units) + 32;
    user = api->call_alloc(call, len);
    if (user == NULL)
        return cls_error_set(err, CLS_ENOMEM, "template: out of memory");
    snprintf(user, len, "Name: %s\nUnits: %s\n", name, units);

    req.system_prompt = system_prompt;
    req.user_message = user;
    req.schema_name = "template_label";
    req.response_schema = response_schema;
    req.temperature = 0;

    st = api->llm_complete(call, &req, &reply, err);
    if (st != CLS_OK)
        return st;

    *label = api->json_string(api->json_get(reply.object, "label"));
    if (*label == NULL ||
        api->json_number(api->json_get(reply.object, "confidence"),
                         confidence) != CLS_OK)
        return cls_error_set(err, CLS_FAIL,
                             "template: LLM reply lacks label or confidence");
    return CLS_OK;
}

static cls_status template_process(void *instance, cls_call *call,
                                   const cls_json *input, cls_out *out,
                                   cls_error *err)
{
    struct template_stage *t = instance;
    const cls_host_api *api = t->api;
    const cls_json *ind = api->json_get(input, "indicator");
    const char *name = api->json_string(api->json_get(ind, "name"));
    const char *units = api->json_string(api->json_get(ind, "units"));
    const char *label = NULL, *method = "rules";
    double confidence = 0;
    cls_status st;

    if (name == NULL)
        return cls_error_set(err, CLS_FAIL,
                             "template: input has no indicator.name");

    if (t->use_llm) {
        st = ask_llm(t, call, name, units ? units : "", &label, &confidence,
                     err);
        if (st == CLS_OK)
            method = "llm";
        else if (st == CLS_RETRY || !api->fallback_to_rules(t->host))
            return st;
        else
            api->log(t->host, CLS_LOG_WARN,
                     "item %s: LLM failed (%s), using the rule",
                     api->call_item_id(call), err->message);
    }
    if (strcmp(method, "rules") == 0) {
        label = rule_label(units);
        confidence = t->min_confidence;
    }

    api->counter_add(t->host, method[0] == 'l' ? "llm_labels" : "rule_labels",
                     1);
    api->out_string(out, "label", label);
    api->out_number(out, "confidence", confidence);
    api->out_string(out, "method", method);
    return api->out_string(out, "note", t->note);
}

static void template_destroy(void *instance)
{
    struct template_stage *t = instance;

    t->api->free(t->host, t);
}

static const cls_config_key template_schema[] = {
    {"min_confidence", CLS_CONFIG_DOUBLE, 0, "0.5", 0.0, 1.0,
     "confidence reported for a label found by the rule"},
    {"note", CLS_CONFIG_STRING, 0, "", 0, 0,
     "free text copied into every output"},
    {NULL, CLS_CONFIG_END, 0, NULL, 0, 0, NULL},
};

static const cls_stage_desc template_desc = {
    .magic = CLS_STAGE_MAGIC,
    .struct_size = sizeof(cls_stage_desc),
    .abi_major = CLS_ABI_MAJOR,
    .abi_minor = 0,
    .flags = CLS_STAGE_CONCURRENT | CLS_STAGE_USES_LLM,
    .name = "template",
    .version = "1.0.0",
    .build_id = "template",
    .description = "labels an indicator percent or level from its units",
    .slot = CLS_SLOT_CUSTOM,
    .service = "template",
    .handler = "run",
    .config_schema = template_schema,
    .create = template_create,
    .process = template_process,
    .destroy = template_destroy,
    .quiesce = NULL,
};

CLS_STAGE_DEFINE(template_desc)
