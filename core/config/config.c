/*
 * config.c - parse and validate the classifyd configuration with
 * libconfig.  A table of definitions per group drives the walk: each
 * setting found is matched to its definition (unknown ones are errors),
 * type-checked, range-checked and stored by offset; required settings that
 * are absent are reported with the line of their group.  Semantic checks
 * (provider references, addresses, names) follow the walk.
 */
#include "config/config.h"

#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* ------------------------------------------------------------------ */
/* Definitions                                                         */
/* ------------------------------------------------------------------ */

enum def_type { D_STRING, D_INT, D_INT64, D_FLOAT, D_BOOL, D_GROUP, D_CUSTOM };

struct ctx;

typedef int (*custom_fn)(struct ctx *c, const config_setting_t *s, void *base,
                         const char *path);

struct def {
    const char *name;
    enum def_type type;
    int required;
    double min;
    double max;
    size_t offset;
    const struct def *children; /* D_GROUP */
    custom_fn custom;           /* D_CUSTOM */
    const char *expect;         /* D_CUSTOM: what is expected, for messages */
};

struct ctx {
    const char *file;
    config_report_fn report;
    void *report_arg;
    cls_error *first;
    int errors;
    struct classify_config *cfg;
};

#define CFG_OFF(field) offsetof(struct classify_config, field)
#define PRV_OFF(field) offsetof(struct config_provider, field)
#define STG_OFF(field) offsetof(struct config_stage, field)

static int parse_providers(struct ctx *c, const config_setting_t *s, void *base,
                           const char *path);
static int parse_stages(struct ctx *c, const config_setting_t *s, void *base,
                        const char *path);
static int parse_options(struct ctx *c, const config_setting_t *s, void *base,
                         const char *path);
static int parse_ingress(struct ctx *c, const config_setting_t *s, void *base,
                         const char *path);

static const struct def restate_defs[] = {
    {"admin_url", D_STRING, 1, 0, 0, CFG_OFF(restate_admin_url), NULL, NULL,
     NULL},
    {"ingress_urls", D_CUSTOM, 1, 0, 0, 0, NULL, parse_ingress,
     "a list of strings"},
    {"deployment_url", D_STRING, 1, 0, 0, CFG_OFF(restate_deployment_url), NULL,
     NULL, NULL},
    {NULL, D_STRING, 0, 0, 0, 0, NULL, NULL, NULL},
};

static const struct def admin_defs[] = {
    {"listen", D_STRING, 0, 0, 0, CFG_OFF(admin_listen), NULL, NULL, NULL},
    {"token_env", D_STRING, 0, 0, 0, CFG_OFF(admin_token_env), NULL, NULL,
     NULL},
    {NULL, D_STRING, 0, 0, 0, 0, NULL, NULL, NULL},
};

static const struct def batch_defs[] = {
    {"max_items", D_INT, 0, 1, 10000, CFG_OFF(batch_max_items), NULL, NULL,
     NULL},
    {"sample_values_cap", D_INT, 0, 0, 100000, CFG_OFF(batch_sample_values_cap),
     NULL, NULL, NULL},
    {"rate_per_second", D_FLOAT, 0, 0.001, 100000,
     CFG_OFF(batch_rate_per_second), NULL, NULL, NULL},
    {NULL, D_STRING, 0, 0, 0, 0, NULL, NULL, NULL},
};

static const struct def retry_defs[] = {
    {"max_attempts", D_INT, 0, 1, 100, CFG_OFF(retry_max_attempts), NULL, NULL,
     NULL},
    {"initial_delay_ms", D_INT, 0, 0, 3600000, CFG_OFF(retry_initial_delay_ms),
     NULL, NULL, NULL},
    {"max_delay_ms", D_INT, 0, 0, 3600000, CFG_OFF(retry_max_delay_ms), NULL,
     NULL, NULL},
    {NULL, D_STRING, 0, 0, 0, 0, NULL, NULL, NULL},
};

static const struct def reload_defs[] = {
    {"drain_timeout_ms", D_INT, 0, 0, 3600000, CFG_OFF(reload_drain_timeout_ms),
     NULL, NULL, NULL},
    {"copy_dir", D_STRING, 0, 0, 0, CFG_OFF(reload_copy_dir), NULL, NULL, NULL},
    {NULL, D_STRING, 0, 0, 0, 0, NULL, NULL, NULL},
};

static const struct def pipeline_defs[] = {
    {"plugin_dir", D_STRING, 1, 0, 0, CFG_OFF(plugin_dir), NULL, NULL, NULL},
    {"reload", D_GROUP, 0, 0, 0, 0, reload_defs, NULL, NULL},
    {"stages", D_CUSTOM, 1, 0, 0, 0, NULL, parse_stages, "a list of groups"},
    {NULL, D_STRING, 0, 0, 0, 0, NULL, NULL, NULL},
};

static const struct def root_defs[] = {
    {"log_level", D_CUSTOM, 0, 0, 0, 0, NULL, NULL, "a string"},
    {"listen", D_STRING, 0, 0, 0, CFG_OFF(listen), NULL, NULL, NULL},
    {"max_request_bytes", D_INT64, 0, 1024, 1073741824.0,
     CFG_OFF(max_request_bytes), NULL, NULL, NULL},
    {"database", D_STRING, 0, 0, 0, CFG_OFF(database), NULL, NULL, NULL},
    {"database_pool_size", D_INT, 0, 1, 256, CFG_OFF(database_pool_size), NULL,
     NULL, NULL},
    {"restate", D_GROUP, 1, 0, 0, 0, restate_defs, NULL, NULL},
    {"admin", D_GROUP, 0, 0, 0, 0, admin_defs, NULL, NULL},
    {"batch", D_GROUP, 0, 0, 0, 0, batch_defs, NULL, NULL},
    {"retry", D_GROUP, 0, 0, 0, 0, retry_defs, NULL, NULL},
    {"providers", D_CUSTOM, 0, 0, 0, 0, NULL, parse_providers, "a group"},
    {"pipeline", D_GROUP, 1, 0, 0, 0, pipeline_defs, NULL, NULL},
    {NULL, D_STRING, 0, 0, 0, 0, NULL, NULL, NULL},
};

static const struct def provider_defs[] = {
    {"kind", D_STRING, 1, 0, 0, PRV_OFF(kind), NULL, NULL, NULL},
    {"base_url", D_STRING, 1, 0, 0, PRV_OFF(base_url), NULL, NULL, NULL},
    {"model", D_STRING, 1, 0, 0, PRV_OFF(model), NULL, NULL, NULL},
    {"api_key_env", D_STRING, 1, 0, 0, PRV_OFF(api_key_env), NULL, NULL, NULL},
    {"timeout_ms", D_INT, 0, 100, 600000, PRV_OFF(timeout_ms), NULL, NULL,
     NULL},
    {"max_attempts", D_INT, 0, 1, 20, PRV_OFF(max_attempts), NULL, NULL, NULL},
    {"requests_per_minute", D_INT, 0, 0, 1000000, PRV_OFF(requests_per_minute),
     NULL, NULL, NULL},
    {"tokens_per_minute", D_INT, 0, 0, 2000000000, PRV_OFF(tokens_per_minute),
     NULL, NULL, NULL},
    {"max_output_tokens", D_INT, 0, 1, 1000000, PRV_OFF(max_output_tokens),
     NULL, NULL, NULL},
    {NULL, D_STRING, 0, 0, 0, 0, NULL, NULL, NULL},
};

static const struct def stage_defs[] = {
    {"name", D_STRING, 1, 0, 0, STG_OFF(name), NULL, NULL, NULL},
    {"plugin", D_STRING, 1, 0, 0, STG_OFF(plugin), NULL, NULL, NULL},
    {"provider", D_STRING, 0, 0, 0, STG_OFF(provider), NULL, NULL, NULL},
    {"fallback_to_rules", D_BOOL, 0, 0, 0, STG_OFF(fallback_to_rules), NULL,
     NULL, NULL},
    {"options", D_CUSTOM, 0, 0, 0, 0, NULL, parse_options, "a group"},
    {NULL, D_STRING, 0, 0, 0, 0, NULL, NULL, NULL},
};

/* ------------------------------------------------------------------ */
/* Reporting                                                           */
/* ------------------------------------------------------------------ */

static int problem(struct ctx *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int problem(struct ctx *c, int line, const char *fmt, ...)
{
    char msg[768], full[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(full, sizeof(full), "%s:%d: %s", c->file, line, msg);
    else
        snprintf(full, sizeof(full), "%s: %s", c->file, msg);

    if (c->errors == 0 && c->first != NULL)
        cls_error_set(c->first, CLS_EINVAL, "%s", full);
    c->errors++;
    if (c->report != NULL)
        c->report(c->report_arg, full);
    return -1;
}

static int line_of(const config_setting_t *s)
{
    return (int)config_setting_source_line(s);
}

static const char *type_word(int type)
{
    switch (type) {
    case CONFIG_TYPE_GROUP:
        return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a floating-point number";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "a boolean";
    case CONFIG_TYPE_ARRAY:
        return "an array";
    case CONFIG_TYPE_LIST:
        return "a list";
    }
    return "nothing";
}

static const char *def_word(const struct def *d)
{
    switch (d->type) {
    case D_STRING:
        return "a string";
    case D_INT:
    case D_INT64:
        return "an integer";
    case D_FLOAT:
        return "a number";
    case D_BOOL:
        return "a boolean";
    case D_GROUP:
        return "a group";
    case D_CUSTOM:
        return d->expect;
    }
    return "a value";
}

static int type_error(struct ctx *c, const config_setting_t *s,
                      const char *path, const char *want)
{
    return problem(c, line_of(s), "setting \"%s%s\" must be %s, not %s", path,
                   config_setting_name(s), want,
                   type_word(config_setting_type(s)));
}

/* ------------------------------------------------------------------ */
/* The walk                                                            */
/* ------------------------------------------------------------------ */

static char **str_at(void *base, size_t off)
{
    return (char **)(void *)((char *)base + off);
}

static int store_string(struct ctx *c, const config_setting_t *s, void *base,
                        size_t off)
{
    char **slot = str_at(base, off);
    char *copy = strdup(config_setting_get_string(s));

    if (copy == NULL)
        return problem(c, line_of(s), "out of memory");
    free(*slot);
    *slot = copy;
    return 0;
}

static int is_int(const config_setting_t *s)
{
    int t = config_setting_type(s);

    return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

static int store_number(struct ctx *c, const config_setting_t *s,
                        const struct def *d, void *base, const char *path)
{
    char *p = (char *)base + d->offset;
    double v;

    if (d->type == D_FLOAT)
        v = is_int(s) ? (double)config_setting_get_int64(s)
                      : config_setting_get_float(s);
    else
        v = (double)config_setting_get_int64(s);

    if (d->min < d->max && (v < d->min || v > d->max))
        return problem(c, line_of(s),
                       "setting \"%s%s\" is %g, outside [%g, %g]", path,
                       d->name, v, d->min, d->max);
    if (d->type == D_INT)
        *(int *)(void *)p = (int)config_setting_get_int64(s);
    else if (d->type == D_INT64)
        *(int64_t *)(void *)p = config_setting_get_int64(s);
    else
        *(double *)(void *)p = v;
    return 0;
}

static int walk_group(struct ctx *c, const config_setting_t *g,
                      const struct def *defs, void *base, const char *path);

static int store(struct ctx *c, const config_setting_t *s, const struct def *d,
                 void *base, const char *path)
{
    int t = config_setting_type(s);
    char sub[256];

    switch (d->type) {
    case D_STRING:
        if (t != CONFIG_TYPE_STRING)
            return type_error(c, s, path, def_word(d));
        return store_string(c, s, base, d->offset);
    case D_INT:
    case D_INT64:
        if (!is_int(s))
            return type_error(c, s, path, def_word(d));
        return store_number(c, s, d, base, path);
    case D_FLOAT:
        if (!is_int(s) && t != CONFIG_TYPE_FLOAT)
            return type_error(c, s, path, def_word(d));
        return store_number(c, s, d, base, path);
    case D_BOOL:
        if (t != CONFIG_TYPE_BOOL)
            return type_error(c, s, path, def_word(d));
        *(int *)(void *)((char *)base + d->offset) = config_setting_get_bool(s);
        return 0;
    case D_GROUP:
        if (t != CONFIG_TYPE_GROUP)
            return type_error(c, s, path, def_word(d));
        snprintf(sub, sizeof(sub), "%s%s.", path, d->name);
        return walk_group(c, s, d->children, base, sub);
    case D_CUSTOM:
        if (d->custom != NULL)
            return d->custom(c, s, base, path);
        return 0;
    }
    return 0;
}

static const struct def *find_def(const struct def *defs, const char *name)
{
    for (; defs->name != NULL; defs++) {
        if (strcmp(defs->name, name) == 0)
            return defs;
    }
    return NULL;
}

static void def_names(const struct def *defs, char *buf, size_t size)
{
    size_t n = 0;

    buf[0] = '\0';
    for (; defs->name != NULL; defs++) {
        int w = snprintf(buf + n, size - n, "%s%s", n ? ", " : "", defs->name);

        if (w < 0 || (size_t)w >= size - n)
            break;
        n += (size_t)w;
    }
}

static int walk_group(struct ctx *c, const config_setting_t *g,
                      const struct def *defs, void *base, const char *path)
{
    int n = config_setting_length(g), i;
    char names[512];

    for (i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const struct def *d = find_def(defs, config_setting_name(s));

        if (d == NULL) {
            def_names(defs, names, sizeof(names));
            problem(c, line_of(s),
                    "unknown setting \"%s%s\" (expected one "
                    "of: %s)",
                    path, config_setting_name(s), names);
            continue;
        }
        store(c, s, d, base, path);
    }

    for (; defs->name != NULL; defs++) {
        if (defs->required && config_setting_get_member(g, defs->name) == NULL)
            problem(c, line_of(g), "missing required setting \"%s%s\" (%s)",
                    path, defs->name, def_word(defs));
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Custom settings                                                     */
/* ------------------------------------------------------------------ */

static int parse_ingress(struct ctx *c, const config_setting_t *s, void *base,
                         const char *path)
{
    struct classify_config *cfg = base;
    int t = config_setting_type(s), n, i;

    if (t != CONFIG_TYPE_LIST && t != CONFIG_TYPE_ARRAY)
        return type_error(c, s, path, "a list of strings");
    n = config_setting_length(s);
    if (n == 0) {
        problem(c, line_of(s),
                "setting \"%singress_urls\" must name at least "
                "one URL",
                path);
        return 0;
    }
    cfg->restate_ingress_urls = calloc((size_t)n, sizeof(char *));
    if (cfg->restate_ingress_urls == NULL)
        return problem(c, line_of(s), "out of memory");

    for (i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *v = config_setting_get_string(e);

        if (v == NULL) {
            problem(c, line_of(e),
                    "setting \"%singress_urls\" element %d "
                    "must be a string, not %s",
                    path, i + 1, type_word(config_setting_type(e)));
            continue;
        }
        cfg->restate_ingress_urls[cfg->n_restate_ingress_urls] = strdup(v);
        if (cfg->restate_ingress_urls[cfg->n_restate_ingress_urls] == NULL)
            return problem(c, line_of(e), "out of memory");
        cfg->n_restate_ingress_urls++;
    }
    return 0;
}

static void provider_defaults(struct config_provider *p)
{
    p->timeout_ms = 60000;
    p->max_attempts = 3;
    p->requests_per_minute = 0;
    p->tokens_per_minute = 0;
    p->max_output_tokens = 1024;
}

static int parse_providers(struct ctx *c, const config_setting_t *s, void *base,
                           const char *path)
{
    struct classify_config *cfg = base;
    int n, i;
    char sub[256];

    if (config_setting_type(s) != CONFIG_TYPE_GROUP)
        return type_error(c, s, path, "a group");
    n = config_setting_length(s);
    if (n == 0)
        return 0;
    cfg->providers = calloc((size_t)n, sizeof(*cfg->providers));
    if (cfg->providers == NULL)
        return problem(c, line_of(s), "out of memory");

    for (i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        struct config_provider *p = &cfg->providers[cfg->n_providers];

        snprintf(sub, sizeof(sub), "providers.%s.", config_setting_name(e));
        if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
            type_error(c, e, "providers.", "a group");
            continue;
        }
        cfg->n_providers++;
        provider_defaults(p);
        p->name = strdup(config_setting_name(e));
        p->line = line_of(e);
        walk_group(c, e, provider_defs, p, sub);
    }
    return 0;
}

static enum stage_raw_type raw_type(const config_setting_t *s)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_STRING:
        return STAGE_RAW_STRING;
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return STAGE_RAW_INT;
    case CONFIG_TYPE_FLOAT:
        return STAGE_RAW_FLOAT;
    case CONFIG_TYPE_BOOL:
        return STAGE_RAW_BOOL;
    }
    return STAGE_RAW_OTHER;
}

static int parse_options(struct ctx *c, const config_setting_t *s, void *base,
                         const char *path)
{
    struct config_stage *st = base;
    int n, i;

    if (config_setting_type(s) != CONFIG_TYPE_GROUP)
        return type_error(c, s, path, "a group");
    st->options_line = line_of(s);
    n = config_setting_length(s);
    if (n == 0)
        return 0;
    st->options = calloc((size_t)n, sizeof(*st->options));
    if (st->options == NULL)
        return problem(c, line_of(s), "out of memory");

    for (i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        struct stage_raw_option *o = &st->options[st->n_options++];

        o->key = strdup(config_setting_name(e));
        o->type = raw_type(e);
        o->line = line_of(e);
        if (o->key == NULL)
            return problem(c, o->line, "out of memory");
        if (o->type == STAGE_RAW_STRING) {
            o->s = strdup(config_setting_get_string(e));
            if (o->s == NULL)
                return problem(c, o->line, "out of memory");
        }
        else if (o->type == STAGE_RAW_INT)
            o->i = config_setting_get_int64(e);
        else if (o->type == STAGE_RAW_FLOAT)
            o->d = config_setting_get_float(e);
        else if (o->type == STAGE_RAW_BOOL)
            o->b = config_setting_get_bool(e);
    }
    return 0;
}

static int parse_stages(struct ctx *c, const config_setting_t *s, void *base,
                        const char *path)
{
    struct classify_config *cfg = base;
    int n, i;
    char sub[64];

    if (config_setting_type(s) != CONFIG_TYPE_LIST)
        return type_error(c, s, path, "a list of groups");
    n = config_setting_length(s);
    if (n == 0) {
        problem(c, line_of(s), "setting \"%sstages\" lists no stage", path);
        return 0;
    }
    cfg->stages = calloc((size_t)n, sizeof(*cfg->stages));
    if (cfg->stages == NULL)
        return problem(c, line_of(s), "out of memory");

    for (i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        struct config_stage *st = &cfg->stages[cfg->n_stages];

        snprintf(sub, sizeof(sub), "%sstages[%d].", path, i + 1);
        if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
            problem(c, line_of(e),
                    "setting \"%sstages\" element %d must be "
                    "a group, not %s",
                    path, i + 1, type_word(config_setting_type(e)));
            continue;
        }
        cfg->n_stages++;
        st->line = line_of(e);
        st->options_line = st->line;
        walk_group(c, e, stage_defs, st, sub);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Semantic checks                                                     */
/* ------------------------------------------------------------------ */

static int env_name_ok(const char *s)
{
    size_t i;

    if (s == NULL || !((s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return 0;
    for (i = 1; s[i] != '\0'; i++) {
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_'))
            return 0;
    }
    return 1;
}

static int stage_name_ok(const char *s)
{
    size_t i;

    if (s == NULL || s[0] == '\0')
        return 0;
    for (i = 0; s[i] != '\0'; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '-'))
            return 0;
    }
    return 1;
}

/* "host:port" with a port in 1..65535; "[v6]:port" allowed. */
static int address_ok(const char *s)
{
    const char *colon = s ? strrchr(s, ':') : NULL;
    char *end = NULL;
    long port;

    if (colon == NULL || colon == s)
        return 0;
    port = strtol(colon + 1, &end, 10);
    return end != colon + 1 && *end == '\0' && port >= 1 && port <= 65535;
}

static int loopback_ok(const char *s)
{
    return strncmp(s, "127.", 4) == 0 || strncmp(s, "[::1]:", 6) == 0 ||
           strncmp(s, "localhost:", 10) == 0;
}

/* Read the setting's line again for a semantic message. */
static int line_at(const config_t *lc, const char *path)
{
    const config_setting_t *s = config_lookup(lc, path);

    return s ? line_of(s) : 0;
}

static void check_root(struct ctx *c, const config_t *lc)
{
    struct classify_config *cfg = c->cfg;
    const char *lvl = NULL;

    if (config_lookup_string(lc, "log_level", &lvl) == CONFIG_TRUE) {
        cfg->log_level = core_log_level_parse(lvl);
        if (cfg->log_level < 0)
            problem(c, line_at(lc, "log_level"),
                    "setting \"log_level\" must "
                    "be one of error, warn, info, debug, trace, not \"%s\"",
                    lvl);
    }
    else if (config_lookup(lc, "log_level") != NULL) {
        type_error(c, config_lookup(lc, "log_level"), "", "a string");
    }

    if (!address_ok(cfg->listen))
        problem(c, line_at(lc, "listen"),
                "setting \"listen\" must be "
                "ADDRESS:PORT, not \"%s\"",
                cfg->listen);
    if (strncmp(cfg->admin_listen, "unix:/", 6) != 0 &&
        (!address_ok(cfg->admin_listen) || !loopback_ok(cfg->admin_listen)))
        problem(c, line_at(lc, "admin.listen"),
                "setting \"admin.listen\" "
                "must be a loopback ADDRESS:PORT (127.x.x.x, [::1] or "
                "localhost), not \"%s\"",
                cfg->admin_listen);
    if (cfg->admin_token_env != NULL && !env_name_ok(cfg->admin_token_env))
        problem(c, line_at(lc, "admin.token_env"),
                "setting "
                "\"admin.token_env\" must be the name of an environment "
                "variable ([A-Z_][A-Z0-9_]*), not \"%s\"",
                cfg->admin_token_env);
    if (cfg->retry_max_delay_ms < cfg->retry_initial_delay_ms)
        problem(c, line_at(lc, "retry.max_delay_ms"),
                "setting "
                "\"retry.max_delay_ms\" (%d) is below "
                "\"retry.initial_delay_ms\" (%d)",
                cfg->retry_max_delay_ms, cfg->retry_initial_delay_ms);
}

static void check_providers(struct ctx *c)
{
    size_t i;

    for (i = 0; i < c->cfg->n_providers; i++) {
        const struct config_provider *p = &c->cfg->providers[i];

        if (strcmp(p->name, "rules") == 0)
            problem(c, p->line,
                    "provider name \"rules\" is reserved for "
                    "stages without an LLM");
        if (p->kind != NULL && strcmp(p->kind, "openai") != 0 &&
            strcmp(p->kind, "anthropic") != 0)
            problem(c, p->line,
                    "setting \"providers.%s.kind\" must be "
                    "\"openai\" or \"anthropic\", not \"%s\"",
                    p->name, p->kind);
        if (p->api_key_env != NULL && !env_name_ok(p->api_key_env))
            problem(c, p->line,
                    "setting \"providers.%s.api_key_env\" must "
                    "be the name of an environment variable "
                    "([A-Z_][A-Z0-9_]*), not \"%s\"",
                    p->name, p->api_key_env);
    }
}

static void provider_names(const struct classify_config *cfg, char *buf,
                           size_t size)
{
    size_t n = 0, i;

    snprintf(buf, size, "none");
    for (i = 0; i < cfg->n_providers; i++) {
        int w = snprintf(buf + n, size - n, "%s%s", n ? ", " : "",
                         cfg->providers[i].name);

        if (w < 0 || (size_t)w >= size - n)
            break;
        n += (size_t)w;
    }
}

static void check_stage(struct ctx *c, struct config_stage *st, size_t index)
{
    const struct config_provider *p;
    char names[256];
    size_t j;

    if (st->name != NULL && !stage_name_ok(st->name))
        problem(c, st->line, "stage name \"%s\" must be [a-z0-9-]+", st->name);
    for (j = 0; st->name != NULL && j < index; j++) {
        if (c->cfg->stages[j].name != NULL &&
            strcmp(c->cfg->stages[j].name, st->name) == 0)
            problem(c, st->line,
                    "stage \"%s\" is listed twice (first at "
                    "line %d)",
                    st->name, c->cfg->stages[j].line);
    }

    if (st->provider == NULL)
        st->provider = strdup("rules");
    if (st->provider == NULL || strcmp(st->provider, "rules") == 0) {
        st->provider_kind = "rules";
        return;
    }
    p = config_provider_find(c->cfg, st->provider);
    if (p == NULL) {
        provider_names(c->cfg, names, sizeof(names));
        problem(c, st->line,
                "stage \"%s\": provider \"%s\" is neither "
                "\"rules\" nor a provider defined under \"providers\" "
                "(defined: %s)",
                st->name ? st->name : "?", st->provider, names);
        return;
    }
    st->provider_kind = p->kind ? p->kind : "rules";
}

/* dirname of path as a new string ("." when it has no slash). */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* base/rel, or rel when it is absolute. */
static char *join(const char *base, const char *rel)
{
    size_t n;
    char *p;

    if (rel[0] == '/')
        return strdup(rel);
    n = strlen(base) + strlen(rel) + 2;
    p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s/%s", base, rel);
    return p;
}

static void resolve_paths(struct ctx *c)
{
    struct classify_config *cfg = c->cfg;
    char *conf_dir = dir_of(cfg->file);
    char *dir;
    size_t i;

    if (conf_dir == NULL || cfg->plugin_dir == NULL)
        goto out;
    dir = join(conf_dir, cfg->plugin_dir);
    free(cfg->plugin_dir);
    cfg->plugin_dir = dir;
    if (dir == NULL)
        goto out;

    for (i = 0; i < cfg->n_stages; i++) {
        struct config_stage *st = &cfg->stages[i];

        if (st->plugin == NULL)
            continue;
        st->plugin_path = join(cfg->plugin_dir, st->plugin);
        st->plugin_dir = st->plugin_path ? dir_of(st->plugin_path) : NULL;
    }

out:
    free(conf_dir);
}

/* ------------------------------------------------------------------ */
/* Public                                                              */
/* ------------------------------------------------------------------ */

static int set_defaults(struct classify_config *cfg, const char *path)
{
    cfg->file = strdup(path);
    cfg->log_level = CORE_LOG_INFO;
    cfg->listen = strdup("127.0.0.1:9080");
    cfg->max_request_bytes = 8 << 20;
    cfg->database = strdup("dbname=classify");
    cfg->database_pool_size = 4;
    cfg->admin_listen = strdup("127.0.0.1:9081");
    cfg->batch_max_items = 100;
    cfg->batch_sample_values_cap = 50;
    cfg->batch_rate_per_second = 10;
    cfg->retry_max_attempts = 5;
    cfg->retry_initial_delay_ms = 200;
    cfg->retry_max_delay_ms = 10000;
    cfg->reload_drain_timeout_ms = 30000;
    cfg->reload_copy_dir = strdup("state/plugins");
    return cfg->file && cfg->listen && cfg->database && cfg->admin_listen &&
                   cfg->reload_copy_dir
               ? 0
               : -1;
}

int config_load(const char *path, struct classify_config **out,
                config_report_fn report, void *report_arg, cls_error *first)
{
    struct ctx c = {.file = path,
                    .report = report,
                    .report_arg = report_arg,
                    .first = first};
    config_t lc;
    size_t i;

    *out = NULL;
    c.cfg = calloc(1, sizeof(*c.cfg));
    if (c.cfg == NULL || set_defaults(c.cfg, path) != 0) {
        config_free(c.cfg);
        problem(&c, 0, "out of memory");
        return c.errors;
    }

    config_init(&lc);
    if (config_read_file(&lc, path) != CONFIG_TRUE) {
        if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
            problem(&c, 0, "cannot read the file");
        else
            problem(&c, config_error_line(&lc), "syntax error: %s",
                    config_error_text(&lc));
        goto out;
    }

    walk_group(&c, config_root_setting(&lc), root_defs, c.cfg, "");
    check_root(&c, &lc);
    check_providers(&c);
    for (i = 0; i < c.cfg->n_stages; i++)
        check_stage(&c, &c.cfg->stages[i], i);
    resolve_paths(&c);

out:
    config_destroy(&lc);
    if (c.errors == 0)
        *out = c.cfg;
    else
        config_free(c.cfg);
    return c.errors;
}

static void stage_free(struct config_stage *st)
{
    size_t i;

    free(st->name);
    free(st->plugin);
    free(st->plugin_path);
    free(st->plugin_dir);
    free(st->provider);
    for (i = 0; i < st->n_options; i++) {
        free((char *)st->options[i].key);
        free((char *)st->options[i].s);
    }
    free(st->options);
}

void config_free(struct classify_config *cfg)
{
    size_t i;

    if (cfg == NULL)
        return;
    for (i = 0; i < cfg->n_providers; i++) {
        struct config_provider *p = &cfg->providers[i];

        free(p->name);
        free(p->kind);
        free(p->base_url);
        free(p->model);
        free(p->api_key_env);
    }
    free(cfg->providers);
    for (i = 0; i < cfg->n_stages; i++)
        stage_free(&cfg->stages[i]);
    free(cfg->stages);
    for (i = 0; i < cfg->n_restate_ingress_urls; i++)
        free(cfg->restate_ingress_urls[i]);
    free(cfg->restate_ingress_urls);
    free(cfg->file);
    free(cfg->listen);
    free(cfg->database);
    free(cfg->restate_admin_url);
    free(cfg->restate_deployment_url);
    free(cfg->admin_listen);
    free(cfg->admin_token_env);
    free(cfg->plugin_dir);
    free(cfg->reload_copy_dir);
    free(cfg);
}

const struct config_provider *
config_provider_find(const struct classify_config *cfg, const char *name)
{
    size_t i;

    for (i = 0; name != NULL && i < cfg->n_providers; i++) {
        if (strcmp(cfg->providers[i].name, name) == 0)
            return &cfg->providers[i];
    }
    return NULL;
}

struct stage_spec *config_stage_specs(const struct classify_config *cfg)
{
    struct stage_spec *specs;
    size_t i;

    if (cfg->n_stages == 0)
        return NULL;
    specs = calloc(cfg->n_stages, sizeof(*specs));
    if (specs == NULL)
        return NULL;
    for (i = 0; i < cfg->n_stages; i++) {
        const struct config_stage *st = &cfg->stages[i];

        specs[i].name = st->name;
        specs[i].plugin_path = st->plugin_path;
        specs[i].plugin_dir = st->plugin_dir;
        specs[i].provider = st->provider;
        specs[i].provider_kind = st->provider_kind;
        specs[i].fallback_to_rules = st->fallback_to_rules;
        specs[i].options = st->options;
        specs[i].n_options = st->n_options;
        specs[i].file = cfg->file;
        specs[i].line = st->line;
        specs[i].options_line = st->options_line;
    }
    return specs;
}

int config_address_valid(const char *s)
{
    return address_ok(s);
}

/* ------------------------------------------------------------------ */
/* Reload                                                              */
/* ------------------------------------------------------------------ */

static int same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) ||
           (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int same_provider(const struct config_provider *a,
                         const struct config_provider *b)
{
    return same_str(a->name, b->name) && same_str(a->kind, b->kind) &&
           same_str(a->base_url, b->base_url) && same_str(a->model, b->model) &&
           same_str(a->api_key_env, b->api_key_env) &&
           a->timeout_ms == b->timeout_ms &&
           a->max_attempts == b->max_attempts &&
           a->requests_per_minute == b->requests_per_minute &&
           a->tokens_per_minute == b->tokens_per_minute &&
           a->max_output_tokens == b->max_output_tokens;
}

static int same_providers(const struct classify_config *a,
                          const struct classify_config *b)
{
    size_t i;

    if (a->n_providers != b->n_providers)
        return 0;
    for (i = 0; i < a->n_providers; i++) {
        if (!same_provider(&a->providers[i], &b->providers[i]))
            return 0;
    }
    return 1;
}

static int same_ingress(const struct classify_config *a,
                        const struct classify_config *b)
{
    size_t i;

    if (a->n_restate_ingress_urls != b->n_restate_ingress_urls)
        return 0;
    for (i = 0; i < a->n_restate_ingress_urls; i++) {
        if (!same_str(a->restate_ingress_urls[i], b->restate_ingress_urls[i]))
            return 0;
    }
    return 1;
}

const char *config_restart_setting(const struct classify_config *running,
                                   const struct classify_config *next)
{
    const struct classify_config *a = running, *b = next;

    if (a->log_level != b->log_level)
        return "log_level";
    if (!same_str(a->listen, b->listen))
        return "listen";
    if (a->max_request_bytes != b->max_request_bytes)
        return "max_request_bytes";
    if (!same_str(a->database, b->database))
        return "database";
    if (a->database_pool_size != b->database_pool_size)
        return "database_pool_size";
    if (!same_str(a->restate_admin_url, b->restate_admin_url))
        return "restate.admin_url";
    if (!same_ingress(a, b))
        return "restate.ingress_urls";
    if (!same_str(a->restate_deployment_url, b->restate_deployment_url))
        return "restate.deployment_url";
    if (!same_str(a->admin_listen, b->admin_listen))
        return "admin.listen";
    if (!same_str(a->admin_token_env, b->admin_token_env))
        return "admin.token_env";
    if (a->batch_max_items != b->batch_max_items ||
        a->batch_sample_values_cap != b->batch_sample_values_cap ||
        a->batch_rate_per_second != b->batch_rate_per_second)
        return "batch";
    if (a->retry_max_attempts != b->retry_max_attempts ||
        a->retry_initial_delay_ms != b->retry_initial_delay_ms ||
        a->retry_max_delay_ms != b->retry_max_delay_ms)
        return "retry";
    if (!same_providers(a, b))
        return "providers";
    if (!same_str(a->reload_copy_dir, b->reload_copy_dir))
        return "pipeline.reload.copy_dir";
    return NULL;
}
