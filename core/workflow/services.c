/*
 * services.c - registration of the host's Restate services, and the JSON
 * helpers the handlers share.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workflow/internal.h"

cJSON *workflow_parse(rs_bytes b)
{
    if (b.data == NULL || b.len == 0)
        return NULL;
    return cJSON_ParseWithLength((const char *)b.data, b.len);
}

int workflow_run_result_json(rs_run_result *r, const cJSON *v)
{
    char *text = cJSON_PrintUnformatted(v);
    int rc;

    if (text == NULL)
        return -1;
    rc = rs_run_result_append(r, text, strlen(text));
    free(text);
    return rc;
}

rs_status workflow_output_json(rs_ctx *ctx, const cJSON *v)
{
    char *text = cJSON_PrintUnformatted(v);
    rs_status rc;

    if (text == NULL)
        return RS_ABORTED;
    rc = rs_output(ctx, (rs_bytes){(const uint8_t *)text, strlen(text)});
    free(text);
    return rc;
}

static int add(rs_registry *reg, int rc, char *err, size_t err_len)
{
    if (rc != 0)
        snprintf(err, err_len, "%s", rs_registry_error(reg));
    return rc;
}

static int register_stages(rs_registry *reg, struct workflow_host *wh,
                           const struct pipeline *p, char *err, size_t err_len)
{
    size_t i;

    wh->bindings = calloc(p->n_stages ? p->n_stages : 1, sizeof(*wh->bindings));
    if (wh->bindings == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    for (i = 0; i < p->n_stages; i++) {
        const struct cls_host *h = p->stages[i];
        struct workflow_binding *b = &wh->bindings[i];

        b->wh = wh;
        b->stage_name = strdup(h->name);
        if (b->stage_name == NULL) {
            snprintf(err, err_len, "out of memory");
            return -1;
        }
        wh->n_bindings++;
        if (add(reg, rs_registry_add_service(reg, h->service, RS_SERVICE), err,
                err_len) != 0 ||
            add(reg,
                rs_registry_add_handler(reg, h->service, h->handler,
                                        RS_HANDLER_DEFAULT,
                                        workflow_stage_handler, b),
                err, err_len) != 0)
            return -1;
    }
    return 0;
}

int workflow_register(rs_registry *reg, struct workflow_host *wh,
                      const struct pipeline *p, char *err, size_t err_len)
{
    if (register_stages(reg, wh, p, err, err_len) != 0)
        return -1;
    if (add(reg, rs_registry_add_service(reg, WORKFLOW_SERVICE, RS_WORKFLOW),
            err, err_len) != 0 ||
        add(reg,
            rs_registry_add_handler(reg, WORKFLOW_SERVICE, "run",
                                    RS_HANDLER_WORKFLOW, workflow_run_handler,
                                    wh),
            err, err_len) != 0 ||
        add(reg,
            rs_registry_add_handler(reg, WORKFLOW_SERVICE, "getState",
                                    RS_HANDLER_SHARED,
                                    workflow_get_state_handler, wh),
            err, err_len) != 0)
        return -1;
    if (add(reg, rs_registry_add_service(reg, WORKFLOW_API_SERVICE, RS_SERVICE),
            err, err_len) != 0 ||
        add(reg,
            rs_registry_add_handler(reg, WORKFLOW_API_SERVICE, "batch",
                                    RS_HANDLER_DEFAULT, workflow_api_batch, wh),
            err, err_len) != 0 ||
        add(reg,
            rs_registry_add_handler(reg, WORKFLOW_API_SERVICE, "status",
                                    RS_HANDLER_DEFAULT, workflow_api_status,
                                    wh),
            err, err_len) != 0)
        return -1;
    return 0;
}

void workflow_host_fini(struct workflow_host *wh)
{
    size_t i;

    for (i = 0; i < wh->n_bindings; i++)
        free(wh->bindings[i].stage_name);
    free(wh->bindings);
    wh->bindings = NULL;
    wh->n_bindings = 0;
}
