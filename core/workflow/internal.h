/*
 * workflow/internal.h - shared between the workflow's source files.
 */
#ifndef CORE_WORKFLOW_INTERNAL_H
#define CORE_WORKFLOW_INTERNAL_H

#include <cjson/cJSON.h>

#include "restate/restate.h"
#include "workflow/workflow.h"

/* What a stage service handler needs: the host and the stage's name. */
struct workflow_binding {
    struct workflow_host *wh;
    char *stage_name;
};

/* The stage service handler (arg: struct workflow_binding). */
int workflow_stage_handler(rs_ctx *ctx, void *arg);

/* The workflow's run and getState handlers (arg: struct workflow_host). */
int workflow_run_handler(rs_ctx *ctx, void *arg);
int workflow_get_state_handler(rs_ctx *ctx, void *arg);

/* The API handlers (arg: struct workflow_host). */
int workflow_api_batch(rs_ctx *ctx, void *arg);
int workflow_api_status(rs_ctx *ctx, void *arg);

/* Parse rs bytes as JSON; NULL when they are not. */
cJSON *workflow_parse(rs_bytes b);

/*
 * Print v compactly and append it to a run result, or set it as the
 * invocation's output.  Return 0 / RS_OK, or -1 / RS_ABORTED on ENOMEM.
 */
int workflow_run_result_json(rs_run_result *r, const cJSON *v);
rs_status workflow_output_json(rs_ctx *ctx, const cJSON *v);

/* Log component tag for everything in this folder. */
#define WF_LOG "workflow"

#endif /* CORE_WORKFLOW_INTERNAL_H */
