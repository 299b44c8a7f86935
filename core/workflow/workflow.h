/*
 * workflow/workflow.h - the Restate services of the classify host.
 *
 * Three kinds of services are registered into one rs_registry:
 *
 *   - one service per stage of the active pipeline, named by the stage's
 *     descriptor (for example normalization/normalize).  Each invocation
 *     runs the stage's process() inside one journaled step, so an LLM
 *     answer or a clock reading is taken once and replayed after that;
 *   - the workflow "classification-workflow", keyed "<indicator>@<run>",
 *     whose run handler pins the plan, calls the stages in plan order,
 *     persists every result in a journaled step and writes the
 *     classifications row; its shared handler getState reports progress;
 *   - the service "classify-api" with the handlers batch (validate up to
 *     batch.max_items indicators and start one workflow each) and status.
 *
 * The registry only holds pointers to a struct workflow_host, which must
 * outlive every session.  All handlers are thread-safe: they share the
 * host read-only, take a pipeline reference per invocation from the
 * holder, and use the store's pool.
 */
#ifndef CORE_WORKFLOW_WORKFLOW_H
#define CORE_WORKFLOW_WORKFLOW_H

#include <stddef.h>

#include "restate/restate.h"
#include "stage/pipeline.h"

struct core_store;
struct llm_provider;
struct classify_config;

#define WORKFLOW_SERVICE     "classification-workflow"
#define WORKFLOW_API_SERVICE "classify-api"

/* A named LLM provider the stages may use. */
struct workflow_llm {
    const char *name; /* the provider's name in the config */
    struct llm_provider *provider;
};

/*
 * What the handlers share.  Filled by the host before the registry is
 * built; read-only afterwards (the pipeline holder has its own lock).
 */
struct workflow_host {
    const struct classify_config *config;
    struct pipeline_holder *pipelines;
    struct core_store *store; /* NULL: results are not persisted */
    const struct workflow_llm *llms;
    size_t n_llms;

    /* Owned by workflow_register(), freed by workflow_host_fini(). */
    struct workflow_binding *bindings;
    size_t n_bindings;
};

/*
 * Register the stage services of pipeline p (its service and handler
 * names), the workflow and the API into reg.  p is only read for names;
 * invocations always use the pipeline active when they start.  Returns 0,
 * or -1 with a message in err (duplicate name, out of memory).  Not
 * thread-safe: call before serving.
 */
int workflow_register(rs_registry *reg, struct workflow_host *wh,
                      const struct pipeline *p, char *err, size_t err_len);

/*
 * Create one LLM provider per provider of cfg (none for "rules").  Returns
 * 0 with *out / *n (free with workflow_llms_destroy()), or -1 with err.
 * The providers are thread-safe and live until destroyed.
 */
int workflow_llms_create(const struct classify_config *cfg,
                         struct workflow_llm **out, size_t *n, cls_error *err);
void workflow_llms_destroy(struct workflow_llm *llms, size_t n);

/*
 * The LLM hook of a direct stage environment (see stage/call.h): arg is
 * a struct workflow_host; the provider is the stage's.
 */
cls_status workflow_direct_llm(void *arg, cls_call *call,
                               const cls_llm_request *req, cls_llm_reply *reply,
                               cls_error *err);

/* Free what workflow_register() allocated; after the registry is gone. */
void workflow_host_fini(struct workflow_host *wh);

/*
 * Validate and clean one indicator submitted to the API (a cJSON object)
 * in place: id and name are required non-empty strings, the other known
 * fields are strings or null, sample_values is an array of {date, value}.
 * Sample values are cleaned (dates trimmed, non-numeric values and
 * duplicate dates dropped, sorted by date) and capped at the most recent
 * cap entries (cap 0: no cap).  Returns 0, or -1 with "field: why" in err.
 * Thread-safe.
 */
struct cJSON;
int workflow_indicator_clean(struct cJSON *item, size_t cap, char *err,
                             size_t err_len);

/* Non-zero when s is a valid run id: 1..64 of [A-Za-z0-9._-]. */
int workflow_run_id_valid(const char *s);

#endif /* CORE_WORKFLOW_WORKFLOW_H */
