/*
 * config.h - the classifyd configuration file (libconfig syntax): parsing,
 * validation and the typed result.
 *
 * Every setting is checked: an unknown setting, a setting of the wrong
 * type, a missing required setting or a value out of range is an error
 * that names the file, the line, the setting and what was expected.  All
 * problems of a file are reported, not only the first.  Secrets never
 * appear in the file: a provider names the environment variable that
 * holds its key (api_key_env), and only that name is kept here.
 */
#ifndef CORE_CONFIG_CONFIG_H
#define CORE_CONFIG_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "stage/stage.h"

struct config_provider {
    char *name;
    char *kind; /* "openai" or "anthropic" */
    char *base_url;
    char *model;
    char *api_key_env; /* the NAME of the variable holding the key */
    int timeout_ms;
    int max_attempts;
    int requests_per_minute;
    int tokens_per_minute;
    int max_output_tokens;
    int line;
};

struct config_stage {
    char *name;
    char *plugin;              /* as written */
    char *plugin_path;         /* resolved against pipeline.plugin_dir */
    char *plugin_dir;          /* directory of plugin_path */
    char *provider;            /* "rules" or a provider name */
    const char *provider_kind; /* "rules" or the provider's kind */
    int fallback_to_rules;
    struct stage_raw_option *options;
    size_t n_options;
    int line;
    int options_line;
};

struct classify_config {
    char *file;
    int log_level; /* enum core_log_level */
    char *listen;
    int64_t max_request_bytes;
    char *database;
    int database_pool_size;

    char *restate_admin_url;
    char **restate_ingress_urls;
    size_t n_restate_ingress_urls;
    char *restate_deployment_url;

    char *admin_listen;
    char *admin_token_env; /* NULL: no token required */

    int batch_max_items;
    int batch_sample_values_cap;
    double batch_rate_per_second;

    int retry_max_attempts;
    int retry_initial_delay_ms;
    int retry_max_delay_ms;

    struct config_provider *providers;
    size_t n_providers;

    char *plugin_dir; /* resolved against the config file's directory */
    int reload_drain_timeout_ms;
    char *reload_copy_dir;
    struct config_stage *stages;
    size_t n_stages;
};

/* Called once per problem with a complete message ("file:line: ..."). */
typedef void (*config_report_fn)(void *arg, const char *message);

/*
 * Read and validate path.  On success returns 0 and *out (free with
 * config_free).  On failure returns the number of problems found (each
 * passed to report, which may be NULL) and *out is NULL; first, when not
 * NULL, receives the first message.  Control thread only.
 */
int config_load(const char *path, struct classify_config **out,
                config_report_fn report, void *report_arg, cls_error *first);

/* Free a configuration; NULL is allowed. */
void config_free(struct classify_config *cfg);

/* Non-zero when s is ADDRESS:PORT with a port in 1..65535. */
int config_address_valid(const char *s);

/* The provider called name, or NULL. */
const struct config_provider *
config_provider_find(const struct classify_config *cfg, const char *name);

/*
 * The loader's view of the pipeline: one stage_spec per configured stage,
 * borrowing cfg's strings (valid while cfg lives).  Returns a calloc'd
 * array (free() it) or NULL on ENOMEM (or when there are no stages).
 */
struct stage_spec *config_stage_specs(const struct classify_config *cfg);

/*
 * The first setting, by its path ("providers", "restate.admin_url"), that
 * differs between the running configuration and next and only takes
 * effect at a restart, or NULL when a reload can apply next (only the
 * stages, pipeline.plugin_dir and pipeline.reload.drain_timeout_ms
 * differ).  Pure; any thread.
 */
const char *config_restart_setting(const struct classify_config *running,
                                   const struct classify_config *next);

#endif /* CORE_CONFIG_CONFIG_H */
