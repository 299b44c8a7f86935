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

/* Non-zero when some stage of cfg is configured with provider p. */
static int in_use(const struct classify_config *cfg,
                  const struct config_provider *p)
{
    size_t i;

    for (i = 0; i < cfg->n_stages; i++) {
        if (strcmp(cfg->stages[i].provider, p->name) == 0)
            return 1;
    }
    return 0;
}

int workflow_llms_create(const struct classify_config *cfg,
                         struct workflow_llm **out, size_t *n, cls_error *err)
{
    struct workflow_llm *llms;
    size_t i, made = 0;

    *out = NULL;
    *n = 0;
    if (cfg->n_providers == 0)
        return 0;
    llms = calloc(cfg->n_providers, sizeof(*llms));
    if (llms == NULL) {
        cls_error_set(err, CLS_ENOMEM, "providers: out of memory");
        return -1;
    }
    for (i = 0; i < cfg->n_providers; i++) {
        const struct config_provider *cp = &cfg->providers[i];

        if (!in_use(cfg, cp))
            continue; /* a key nobody needs need not be set */
        if (create_one(cp, &llms[made], err) != 0) {
            workflow_llms_destroy(llms, made);
            return -1;
        }
        made++;
        log_info("llm", "provider %s: %s, model %s, key from $%s", cp->name,
                 cp->kind, cp->model,
                 cp->api_key_env ? cp->api_key_env : "(none)");
    }
    *out = llms;
    *n = made;
    return 0;
}

void workflow_llms_destroy(struct workflow_llm *llms, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        llm_provider_destroy(llms[i].provider);
    free(llms);
}
