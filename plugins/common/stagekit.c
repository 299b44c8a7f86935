/*
 * stagekit.c - instance frame, prompt loading and LLM messages for the
 * stage plugins (see stagekit.h).
 */
#include "stagekit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vocab.h"

/* How many of the latest sample values an LLM sees. */
#define SK_MAX_SAMPLES 24
/* Longest definition text passed on, in bytes. */
#define SK_MAX_DEFINITION 800
/* Deepest JSON nesting written into a message. */
#define SK_MAX_DEPTH 8

/* Indicator fields an LLM gets to see, in this order. */
static const char *const indicator_fields[] = {
    "id",          "name",          "units",          "scale",
    "periodicity", "currency_code", "definition",     "source_name",
    "dataset",     "topic",         "category_group", "aggregation_method",
};

void sk_buf_add(struct sk_buf *b, const char *text, size_t n)
{
    if (b->failed || text == NULL)
        return;
    if (n == (size_t)-1)
        n = strlen(text);
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;

        while (cap < b->len + n + 1)
            cap *= 2;
        p = realloc(b->data, cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, text, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sk_buf_printf(struct sk_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        sk_buf_add(b, small, (size_t)n);
        return;
    }
    {
        char *big = malloc((size_t)n + 1);

        if (big == NULL) {
            b->failed = 1;
            return;
        }
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        sk_buf_add(b, big, (size_t)n);
        free(big);
    }
}

void sk_buf_free(struct sk_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* ------------------------------------------------------------------ */
/* Placeholders                                                        */
/* ------------------------------------------------------------------ */

static const struct {
    const char *name;
    int list;
} placeholder_lists[] = {
    {"families", CV_FAMILIES},
    {"types", CV_TYPES},
    {"aggregations", CV_AGGREGATIONS},
    {"orientations", CV_ORIENTATIONS},
    {"time_bases", CV_TIME_BASES},
    {"frequencies", CV_FREQUENCIES},
    {"time_sources", CV_TIME_SOURCES},
    {"cumulative_patterns", CV_CUMULATIVE_PATTERNS},
    {"unit_types", CV_UNIT_TYPES},
    {"scales", CV_SCALES},
    {"review_statuses", CV_REVIEW_STATUSES},
};

/* The types family allows, joined like cv_join; returns 0, or -1 when
 * family allows none (not a family). */
static int join_family_types(const char *family, int quoted, struct sk_buf *b)
{
    const char *type;
    size_t i;

    for (i = 0; (type = cv_family_type_at(family, i)) != NULL; i++)
        sk_buf_printf(b, "%s%s%s%s", i ? ", " : "", quoted ? "\"" : "", type,
                      quoted ? "\"" : "");
    return i > 0 ? 0 : -1;
}

static int expand_one(const char *name, size_t n, const char *family,
                      struct sk_buf *b)
{
    char text[2048];
    int quoted = 0;
    size_t i;

    if (n > 5 && memcmp(name + n - 5, "_json", 5) == 0) {
        quoted = 1;
        n -= 5;
    }
    if (n == strlen("family_types") && memcmp(name, "family_types", n) == 0) {
        cv_family_table(text, sizeof(text));
        sk_buf_add(b, text, (size_t)-1);
        return 0;
    }
    if (family != NULL && n == strlen("types") && memcmp(name, "types", n) == 0)
        return join_family_types(family, quoted, b);
    for (i = 0; i < sizeof(placeholder_lists) / sizeof(placeholder_lists[0]);
         i++) {
        if (strlen(placeholder_lists[i].name) != n ||
            memcmp(placeholder_lists[i].name, name, n) != 0)
            continue;
        cv_join((enum cv_list)placeholder_lists[i].list, ", ", quoted, text,
                sizeof(text));
        sk_buf_add(b, text, (size_t)-1);
        return 0;
    }
    return -1;
}

int sk_expand_family(const char *text, const char *family, struct sk_buf *b,
                     cls_error *err)
{
    const char *p = text;
    const char *open;

    if (family != NULL && cv_canonical(CV_FAMILIES, family) == NULL) {
        cls_error_set(err, CLS_EINVAL, "prompt: \"%s\" is not a family",
                      family);
        return -1;
    }
    while ((open = strstr(p, "{{")) != NULL) {
        const char *close = strstr(open + 2, "}}");

        sk_buf_add(b, p, (size_t)(open - p));
        if (close == NULL) {
            cls_error_set(err, CLS_EINVAL, "prompt: \"{{\" without \"}}\"");
            return -1;
        }
        if (expand_one(open + 2, (size_t)(close - open - 2), family, b) != 0) {
            cls_error_set(err, CLS_EINVAL,
                          "prompt: unknown placeholder {{%.*s}}",
                          (int)(close - open - 2), open + 2);
            return -1;
        }
        p = close + 2;
    }
    sk_buf_add(b, p, (size_t)-1);
    return 0;
}

int sk_expand(const char *text, struct sk_buf *b, cls_error *err)
{
    return sk_expand_family(text, NULL, b, err);
}

/* ------------------------------------------------------------------ */
/* Instance                                                            */
/* ------------------------------------------------------------------ */

/* Read dir/file through the host and expand it (types scoped to family
 * unless NULL) into instance memory. */
static cls_status load_expanded(const struct sk_stage *s, const char *dir,
                                const char *file, const char *family,
                                char **out, cls_error *err)
{
    char path[512];
    struct sk_buf b = {0};
    char *raw;
    size_t len = 0;
    cls_status st = CLS_OK;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    raw = s->api->read_file(s->host, path, &len, err);
    if (raw == NULL) {
        char why[CLS_ERROR_MAX];

        snprintf(why, sizeof(why), "%s", err ? err->message : "");
        return cls_error_set(err, CLS_EINVAL, "%s: cannot read %s: %s", s->name,
                             path, why);
    }
    if (sk_expand_family(raw, family, &b, err) != 0) {
        st = CLS_EINVAL;
        goto out;
    }
    if (b.failed) {
        st = cls_error_set(err, CLS_ENOMEM, "%s: expanding %s", s->name, path);
        goto out;
    }
    *out = s->api->alloc(s->host, b.len + 1);
    if (*out == NULL) {
        st = cls_error_set(err, CLS_ENOMEM, "%s: %s", s->name, path);
        goto out;
    }
    memcpy(*out, b.data, b.len + 1);
out:
    s->api->free(s->host, raw);
    sk_buf_free(&b);
    return st;
}

static cls_status read_options(struct sk_stage *s, const char **dir,
                               cls_error *err)
{
    const cls_host_api *api = s->api;

    if (api->config_string(s->host, "prompt_dir", dir) != CLS_OK ||
        api->config_int(s->host, "max_output_tokens", &s->max_output_tokens) !=
            CLS_OK ||
        api->config_double(s->host, "temperature", &s->temperature) != CLS_OK)
        return cls_error_set(err, CLS_EINVAL,
                             "%s: options prompt_dir, max_output_tokens "
                             "and temperature must be in the schema",
                             s->name);
    return CLS_OK;
}

cls_status sk_create(const cls_host_api *api, cls_host *host, const char *name,
                     struct sk_stage **out, cls_error *err)
{
    struct sk_stage *s;
    const char *kind = api->provider_kind(host);
    const char *dir = NULL;
    cls_status st;

    s = api->alloc(host, sizeof(*s));
    if (s == NULL)
        return cls_error_set(err, CLS_ENOMEM, "%s: instance", name);
    memset(s, 0, sizeof(*s));
    s->api = api;
    s->host = host;
    s->name = name;
    s->use_llm = kind != NULL && strcmp(kind, "rules") != 0;
    s->fallback = api->fallback_to_rules(host);

    st = read_options(s, &dir, err);
    if (st == CLS_OK && s->use_llm)
        st = load_expanded(s, dir, "system.md", NULL, &s->system_prompt, err);
    if (st == CLS_OK && s->use_llm)
        st = load_expanded(s, dir, "schema.json", NULL, &s->schema, err);
    if (st != CLS_OK) {
        sk_destroy(s);
        return st;
    }
    *out = s;
    return CLS_OK;
}

cls_status sk_create_per_family(const cls_host_api *api, cls_host *host,
                                const char *name, struct sk_stage **out,
                                cls_error *err)
{
    struct sk_stage *s;
    cls_status st;
    size_t i;

    st = sk_create(api, host, name, &s, err);
    if (st != CLS_OK)
        return st;

    for (i = 0; s->use_llm && i < SK_N_FAMILIES; i++) {
        st = sk_load_family(s, "schema.json", cv_at(CV_FAMILIES, i),
                            &s->family_schema[i], err);
        if (st != CLS_OK) {
            sk_destroy(s);
            return st;
        }
    }
    *out = s;
    return CLS_OK;
}

cls_status sk_load_family(const struct sk_stage *s, const char *file,
                          const char *family, char **out, cls_error *err)
{
    const char *dir = NULL;

    *out = NULL;
    if (s->api->config_string(s->host, "prompt_dir", &dir) != CLS_OK)
        return cls_error_set(err, CLS_EINVAL,
                             "%s: option prompt_dir must be in the schema",
                             s->name);
    return load_expanded(s, dir, file, family, out, err);
}

void sk_destroy(struct sk_stage *s)
{
    size_t i;

    if (s == NULL)
        return;
    for (i = 0; i < SK_N_FAMILIES; i++) {
        if (s->family_schema[i] != NULL)
            s->api->free(s->host, s->family_schema[i]);
    }
    if (s->system_prompt != NULL)
        s->api->free(s->host, s->system_prompt);
    if (s->schema != NULL)
        s->api->free(s->host, s->schema);
    s->api->free(s->host, s);
}

void sk_destroy_instance(void *instance)
{
    sk_destroy(instance);
}

const char *sk_family_schema(const struct sk_stage *s, const char *family,
                             const char **family_name)
{
    size_t i;

    *family_name = NULL;
    for (i = 0; family != NULL && i < SK_N_FAMILIES; i++) {
        if (strcmp(cv_at(CV_FAMILIES, i), family) != 0)
            continue;
        if (s->family_schema[i] == NULL)
            return NULL;
        *family_name = cv_at(CV_FAMILIES, i);
        return s->family_schema[i];
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* JSON reading                                                        */
/* ------------------------------------------------------------------ */

const char *sk_str(const cls_host_api *api, const cls_json *obj,
                   const char *key)
{
    return api->json_string(api->json_get(obj, key));
}

int sk_num(const cls_host_api *api, const cls_json *obj, const char *key,
           double *out)
{
    return api->json_number(api->json_get(obj, key), out) == CLS_OK;
}

int sk_bool(const cls_host_api *api, const cls_json *obj, const char *key,
            int dflt)
{
    int v;

    if (api->json_bool(api->json_get(obj, key), &v) != CLS_OK)
        return dflt;
    return v;
}

const cls_json *sk_indicator(const cls_host_api *api, const cls_json *input)
{
    return api->json_get(input, "indicator");
}

const cls_json *sk_result(const cls_host_api *api, const cls_json *input,
                          const char *stage)
{
    return api->json_get(api->json_get(input, "results"), stage);
}

const char *sk_reply_enum(const cls_host_api *api, const cls_json *obj,
                          const char *key, int list)
{
    return cv_canonical((enum cv_list)list, sk_str(api, obj, key));
}

double sk_confidence(const cls_host_api *api, const cls_json *obj, double dflt)
{
    double c;

    if (!sk_num(api, obj, "confidence", &c))
        return dflt;
    if (c < 0)
        return 0;
    return c > 1 ? 1 : c;
}

/* ------------------------------------------------------------------ */
/* JSON writing                                                        */
/* ------------------------------------------------------------------ */

static void write_string(struct sk_buf *b, const char *s, size_t max)
{
    size_t i;

    sk_buf_add(b, "\"", 1);
    for (i = 0; s[i] != '\0' && i < max; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\') {
            sk_buf_add(b, "\\", 1);
            sk_buf_add(b, s + i, 1);
        }
        else if (c < 0x20) {
            sk_buf_printf(b, "\\u%04x", c);
        }
        else {
            sk_buf_add(b, s + i, 1);
        }
    }
    if (s[i] != '\0')
        sk_buf_add(b, "...", 3);
    sk_buf_add(b, "\"", 1);
}

static void write_value(const cls_host_api *api, struct sk_buf *b,
                        const cls_json *v, int depth);

static void write_members(const cls_host_api *api, struct sk_buf *b,
                          const cls_json *v, size_t from, int depth)
{
    int object = api->json_type(v) == CLS_JSON_OBJECT;
    size_t n = api->json_size(v);
    size_t i;

    sk_buf_add(b, object ? "{" : "[", 1);
    for (i = from; i < n; i++) {
        const cls_json *m = api->json_at(v, i);

        if (i > from)
            sk_buf_add(b, ", ", 2);
        if (object) {
            write_string(b, api->json_key(m), 256);
            sk_buf_add(b, ": ", 2);
        }
        write_value(api, b, m, depth + 1);
    }
    sk_buf_add(b, object ? "}" : "]", 1);
}

static void write_value(const cls_host_api *api, struct sk_buf *b,
                        const cls_json *v, int depth)
{
    double d;
    int t;

    switch (api->json_type(v)) {
    case CLS_JSON_BOOL:
        api->json_bool(v, &t);
        sk_buf_add(b, t ? "true" : "false", (size_t)-1);
        break;
    case CLS_JSON_NUMBER:
        api->json_number(v, &d);
        sk_buf_printf(b, "%.10g", d);
        break;
    case CLS_JSON_STRING:
        write_string(b, api->json_string(v), SK_MAX_DEFINITION);
        break;
    case CLS_JSON_ARRAY:
    case CLS_JSON_OBJECT:
        if (depth >= SK_MAX_DEPTH)
            sk_buf_add(b, "null", 4);
        else
            write_members(api, b, v, 0, depth);
        break;
    default:
        sk_buf_add(b, "null", 4);
        break;
    }
}

static void write_indicator(const cls_host_api *api, struct sk_buf *b,
                            const cls_json *ind)
{
    const cls_json *samples = api->json_get(ind, "sample_values");
    size_t n = api->json_size(samples);
    size_t i;

    sk_buf_add(b, "{", 1);
    for (i = 0; i < sizeof(indicator_fields) / sizeof(indicator_fields[0]);
         i++) {
        sk_buf_printf(b, "%s\"%s\": ", i ? ", " : "", indicator_fields[i]);
        write_value(api, b, api->json_get(ind, indicator_fields[i]), 1);
    }
    sk_buf_printf(b, ", \"sample_count\": %zu, \"latest_samples\": ", n);
    if (api->json_type(samples) == CLS_JSON_ARRAY)
        write_members(api, b, samples,
                      n > SK_MAX_SAMPLES ? n - SK_MAX_SAMPLES : 0, 1);
    else
        sk_buf_add(b, "[]", 2);
    sk_buf_add(b, "}", 1);
}

/* name, then "_" and variant when not NULL, with '-' turned into '_'. */
static void schema_name_of(const char *name, const char *variant, char *buf,
                           size_t len)
{
    size_t i = 0;
    const char *p;

    for (p = name; *p != '\0' && i + 1 < len; p++)
        buf[i++] = *p == '-' ? '_' : *p;
    if (variant != NULL && i + 1 < len)
        buf[i++] = '_';
    for (p = variant; p != NULL && *p != '\0' && i + 1 < len; p++)
        buf[i++] = *p == '-' ? '_' : *p;
    buf[i] = '\0';
}

cls_status sk_ask_schema(const struct sk_stage *s, cls_call *call,
                         const cls_json *input, const char *task,
                         const char *schema, const char *variant,
                         cls_llm_reply *reply, cls_error *err)
{
    const cls_host_api *api = s->api;
    struct sk_buf b = {0};
    cls_llm_request req;
    char schema_name[64];
    cls_status st;

    sk_buf_add(&b, task, (size_t)-1);
    sk_buf_add(&b, "\n\nIndicator:\n", (size_t)-1);
    write_indicator(api, &b, sk_indicator(api, input));
    sk_buf_add(&b, "\n\nResults of the earlier stages:\n", (size_t)-1);
    write_value(api, &b, api->json_get(input, "results"), 0);
    sk_buf_add(&b, "\n", 1);
    if (b.failed) {
        sk_buf_free(&b);
        return cls_error_set(err, CLS_ENOMEM, "%s: user message", s->name);
    }

    schema_name_of(s->name, variant, schema_name, sizeof(schema_name));
    memset(&req, 0, sizeof(req));
    req.struct_size = sizeof(req);
    req.system_prompt = s->system_prompt;
    req.user_message = b.data;
    req.schema_name = schema_name;
    req.response_schema = schema;
    req.max_output_tokens = (uint32_t)s->max_output_tokens;
    req.temperature = s->temperature;
    memset(reply, 0, sizeof(*reply));
    reply->struct_size = sizeof(*reply);
    st = api->llm_complete(call, &req, reply, err);
    sk_buf_free(&b);
    return st;
}

void sk_out_provenance(const struct sk_stage *s, cls_out *out,
                       const cls_llm_reply *reply, int fell_back)
{
    const cls_host_api *api = s->api;

    if (reply != NULL && !fell_back) {
        api->out_string(out, "provider", reply->provider);
        api->out_string(out, "model", reply->model);
        return;
    }
    api->out_string(out, "provider", fell_back ? "rules-fallback" : "rules");
    api->out_string(out, "model", "deterministic");
}

cls_status sk_decide(const struct sk_stage *s, cls_call *call,
                     const cls_json *input, const struct sk_plan *plan,
                     cls_out *out, cls_error *err)
{
    const cls_host_api *api = s->api;
    const char *schema = plan->schema ? plan->schema : s->schema;
    cls_llm_reply reply;
    cls_status st;

    if (!s->use_llm || plan->rules_only) {
        plan->run_rules(plan->ctx);
        sk_out_provenance(s, out, NULL, 0);
        return CLS_OK;
    }

    st = sk_ask_schema(s, call, input, plan->task, schema, plan->variant,
                       &reply, err);
    if (st == CLS_OK)
        st = plan->map_reply(plan->ctx, reply.object, err);
    if (st == CLS_OK) {
        sk_out_provenance(s, out, &reply, 0);
        return CLS_OK;
    }
    if (!s->fallback)
        return st;
    api->log(s->host, CLS_LOG_WARN, "item %s: LLM failed (%s), rules used",
             api->call_item_id(call), err ? err->message : "");
    plan->run_rules(plan->ctx);
    sk_out_provenance(s, out, &reply, 1);
    return CLS_OK;
}
