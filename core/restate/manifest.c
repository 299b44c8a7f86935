/*
 * manifest.c - discovery manifest, Accept negotiation and invocation
 * content types.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "restate/internal.h"

static const char *const manifest_types[] = {
    "application/vnd.restate.endpointmanifest.v1+json",
    "application/vnd.restate.endpointmanifest.v2+json",
    "application/vnd.restate.endpointmanifest.v3+json",
    "application/vnd.restate.endpointmanifest.v4+json",
};

static const char *const invocation_types[] = {
    "application/vnd.restate.invocation.v5",
    "application/vnd.restate.invocation.v6",
};

/* The manifest version named by accept[0..len), 0 if none. */
static int media_version(const char *text, size_t len)
{
    int v;

    while (len > 0 && (*text == ' ' || *text == '\t')) {
        text++;
        len--;
    }
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    for (v = RS_MANIFEST_MIN; v <= RS_MANIFEST_MAX; v++) {
        const char *t = manifest_types[v - 1];

        if (strlen(t) == len && strncmp(t, text, len) == 0)
            return v;
    }
    return 0;
}

int rs_manifest_negotiate(const char *accept, int *version,
                          const char **content_type)
{
    int best = 0;
    const char *p = accept;

    if (accept == NULL)
        return -1;
    while (*p != '\0') {
        size_t item = strcspn(p, ",");
        size_t media = strcspn(p, ",;");
        int v = media_version(p, media < item ? media : item);

        if (v > best)
            best = v;
        p += item;
        if (*p == ',')
            p++;
    }
    if (best == 0)
        return -1;
    *version = best;
    *content_type = manifest_types[best - 1];
    return 0;
}

int rs_protocol_version(const char *content_type)
{
    size_t len;
    int v;

    if (content_type == NULL)
        return 0;
    while (*content_type == ' ' || *content_type == '\t')
        content_type++;
    len = strlen(content_type);
    while (len > 0 &&
           (content_type[len - 1] == ' ' || content_type[len - 1] == '\t'))
        len--;
    for (v = RS_PROTOCOL_MIN; v <= RS_PROTOCOL_MAX; v++) {
        const char *t = invocation_types[v - RS_PROTOCOL_MIN];

        if (strlen(t) == len && strncmp(t, content_type, len) == 0)
            return v;
    }
    return 0;
}

const char *rs_protocol_content_type(int version)
{
    if (version < RS_PROTOCOL_MIN || version > RS_PROTOCOL_MAX)
        return NULL;
    return invocation_types[version - RS_PROTOCOL_MIN];
}

static const char *service_ty(rs_service_kind kind)
{
    switch (kind) {
    case RS_VIRTUAL_OBJECT:
        return "VIRTUAL_OBJECT";
    case RS_WORKFLOW:
        return "WORKFLOW";
    case RS_SERVICE:
        break;
    }
    return "SERVICE";
}

static const char *handler_ty(rs_handler_kind kind)
{
    switch (kind) {
    case RS_HANDLER_WORKFLOW:
        return "WORKFLOW";
    case RS_HANDLER_SHARED:
        return "SHARED";
    case RS_HANDLER_EXCLUSIVE:
        return "EXCLUSIVE";
    case RS_HANDLER_DEFAULT:
        break;
    }
    return NULL;
}

/* One handler object: optional JSON input, JSON output. */
static cJSON *handler_json(const struct rs_handler_def *h)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *in, *out;
    const char *ty = handler_ty(h->kind);

    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "name", h->name);
    if (ty != NULL)
        cJSON_AddStringToObject(o, "ty", ty);
    in = cJSON_AddObjectToObject(o, "input");
    out = cJSON_AddObjectToObject(o, "output");
    if (in == NULL || out == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddBoolToObject(in, "required", 0);
    cJSON_AddStringToObject(in, "contentType", "application/json");
    cJSON_AddStringToObject(out, "contentType", "application/json");
    cJSON_AddBoolToObject(out, "setContentTypeIfEmpty", 0);
    return o;
}

static cJSON *service_json(const struct rs_service_def *svc)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *handlers;
    size_t i;

    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "name", svc->name);
    cJSON_AddStringToObject(o, "ty", service_ty(svc->kind));
    handlers = cJSON_AddArrayToObject(o, "handlers");
    if (handlers == NULL)
        goto fail;
    for (i = 0; i < svc->nhandlers; i++) {
        cJSON *h = handler_json(&svc->handlers[i]);

        if (h == NULL)
            goto fail;
        cJSON_AddItemToArray(handlers, h);
    }
    return o;

fail:
    cJSON_Delete(o);
    return NULL;
}

char *rs_manifest_json(const rs_registry *reg, int manifest_version,
                       rs_protocol_mode mode)
{
    cJSON *root = NULL;
    cJSON *services;
    char *text = NULL;
    size_t i;

    if (reg == NULL || manifest_version < RS_MANIFEST_MIN ||
        manifest_version > RS_MANIFEST_MAX)
        return NULL;
    root = cJSON_CreateObject();
    if (root == NULL)
        return NULL;
    cJSON_AddStringToObject(root, "protocolMode",
                            mode == RS_MODE_BIDI_STREAM ? "BIDI_STREAM"
                                                        : "REQUEST_RESPONSE");
    cJSON_AddNumberToObject(root, "minProtocolVersion", RS_PROTOCOL_MIN);
    cJSON_AddNumberToObject(root, "maxProtocolVersion", RS_PROTOCOL_MAX);
    services = cJSON_AddArrayToObject(root, "services");
    if (services == NULL)
        goto out;
    for (i = 0; i < reg->nservices; i++) {
        cJSON *svc = service_json(&reg->services[i]);

        if (svc == NULL)
            goto out;
        cJSON_AddItemToArray(services, svc);
    }
    text = cJSON_PrintUnformatted(root);

out:
    cJSON_Delete(root);
    return text;
}
