/*
 * providers.c - LLM providers built from the configuration, shared by
 * classifyd and `classify eval`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "config/config.h"
#include "llm/llm.h"
#include "workflow/workflow.h"

static enum llm_kind kind_of(const char *kind)
{
    return strcmp(kind, "anthropic") == 0 ? LLM_KIND_ANTHROPIC
                                          : LLM_KIND_OPENAI;
}

static int create_one(const struct config_provider *cp,
                      struct workflow_llm *out, cls_error *err)
{
    struct llm_provider_settings s;

    memset(&s, 0, sizeof(s));
    s.name = cp->name;
    s.kind = kind_of(cp->kind);
    s.base_url = cp->base_url;
    s.model = cp->model;
    s.api_key_env = cp->api_key_env;
    s.timeout_ms = (uint32_t)cp->timeout_ms;
    s.max_attempts = (uint32_t)cp->max_attempts;
    s.requests_per_minute = (uint32_t)cp->requests_per_minute;
    s.tokens_per_minute = (uint32_t)cp->tokens_per_minute;
    s.max_output_tokens = (uint32_t)cp->max_output_tokens;
    out->name = cp->name;
    return llm_provider_create(&s, &out->provider, err) == CLS_OK ? 0 : -1;
}

int workflow_llms_create(const struct classify_config *cfg,
                         struct workflow_llm **out, size_t *n, cls_error *err)
{
    struct workflow_llm *llms;
    size_t i;

    *out = NULL;
    *n = 0;
    if (cfg->n_providers == 0)
        return 0;
    llms = calloc(cfg->n_providers, sizeof(*llms));
    if (llms == NULL)
        return cls_error_set(err, CLS_ENOMEM, "providers: out of memory"), -1;
    for (i = 0; i < cfg->n_providers; i++) {
        if (create_one(&cfg->providers[i], &llms[i], err) != 0) {
            workflow_llms_destroy(llms, i);
            return -1;
        }
        log_info("llm", "provider %s: %s, model %s, key from $%s",
                 cfg->providers[i].name, cfg->providers[i].kind,
                 cfg->providers[i].model,
                 cfg->providers[i].api_key_env ? cfg->providers[i].api_key_env
                                               : "(none)");
    }
    *out = llms;
    *n = cfg->n_providers;
    return 0;
}

void workflow_llms_destroy(struct workflow_llm *llms, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        llm_provider_destroy(llms[i].provider);
    free(llms);
}
