/*
 * registry.c - services and handlers the endpoint exposes.
 *
 * Built once on one thread, then only read.  Names are validated with the
 * rules restate-server applies at registration, so a bad name fails here
 * and not at discovery.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "restate/internal.h"

rs_registry *rs_registry_new(void)
{
    return calloc(1, sizeof(rs_registry));
}

void rs_registry_free(rs_registry *reg)
{
    size_t i, j;

    if (reg == NULL)
        return;
    for (i = 0; i < reg->nservices; i++) {
        struct rs_service_def *svc = &reg->services[i];

        for (j = 0; j < svc->nhandlers; j++)
            free(svc->handlers[j].name);
        free(svc->handlers);
        free(svc->name);
    }
    free(reg->services);
    free(reg);
}

const char *rs_registry_error(const rs_registry *reg)
{
    return reg->error;
}

static int fail(rs_registry *reg, const char *fmt, ...) RS_PRINTF(2, 3);

static int fail(rs_registry *reg, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reg->error, sizeof(reg->error), fmt, ap);
    va_end(ap);
    return -1;
}

/* ([a-zA-Z]|_[a-zA-Z0-9]) followed by characters of more. */
static int name_ok(const char *name, const char *more)
{
    size_t i = 1;

    if (name == NULL || name[0] == '\0')
        return 0;
    if (name[0] == '_') {
        if (!isalnum((unsigned char)name[1]))
            return 0;
        i = 2;
    }
    else if (!isalpha((unsigned char)name[0])) {
        return 0;
    }
    for (; name[i] != '\0'; i++)
        if (!isalnum((unsigned char)name[i]) && strchr(more, name[i]) == NULL)
            return 0;
    return 1;
}

const struct rs_service_def *rs_registry_service(const rs_registry *reg,
                                                 const char *name)
{
    size_t i;

    if (name == NULL)
        return NULL;
    for (i = 0; i < reg->nservices; i++)
        if (strcmp(reg->services[i].name, name) == 0)
            return &reg->services[i];
    return NULL;
}

const struct rs_handler_def *
rs_registry_handler(const struct rs_service_def *svc, const char *name)
{
    size_t i;

    if (svc == NULL || name == NULL)
        return NULL;
    for (i = 0; i < svc->nhandlers; i++)
        if (strcmp(svc->handlers[i].name, name) == 0)
            return &svc->handlers[i];
    return NULL;
}

int rs_registry_has(const rs_registry *reg, const char *service,
                    const char *handler)
{
    return rs_registry_handler(rs_registry_service(reg, service), handler) !=
           NULL;
}

int rs_registry_add_service(rs_registry *reg, const char *name,
                            rs_service_kind kind)
{
    struct rs_service_def *grown;
    char *copy;

    if (!name_ok(name, "._-"))
        return fail(reg, "service name '%s' is not a valid Restate name",
                    name ? name : "(null)");
    if (strncasecmp(name, "restate", 7) == 0 || strcmp(name, "openapi") == 0)
        return fail(reg, "service name '%s' is reserved by Restate", name);
    if (kind != RS_SERVICE && kind != RS_VIRTUAL_OBJECT && kind != RS_WORKFLOW)
        return fail(reg, "service '%s': unknown kind %d", name, (int)kind);
    if (rs_registry_service(reg, name) != NULL)
        return fail(reg, "service '%s' is registered twice", name);
    grown = realloc(reg->services, (reg->nservices + 1) * sizeof(*grown));
    if (grown == NULL)
        return fail(reg, "out of memory adding service '%s'", name);
    reg->services = grown;
    copy = strdup(name);
    if (copy == NULL)
        return fail(reg, "out of memory adding service '%s'", name);
    memset(&grown[reg->nservices], 0, sizeof(*grown));
    grown[reg->nservices].name = copy;
    grown[reg->nservices].kind = kind;
    reg->nservices++;
    return 0;
}

/* Whether a handler kind is allowed in a service kind. */
static int kind_fits(const struct rs_service_def *svc, rs_handler_kind kind)
{
    size_t i;

    switch (svc->kind) {
    case RS_SERVICE:
        return kind == RS_HANDLER_DEFAULT || kind == RS_HANDLER_SHARED;
    case RS_VIRTUAL_OBJECT:
        return kind == RS_HANDLER_DEFAULT || kind == RS_HANDLER_SHARED ||
               kind == RS_HANDLER_EXCLUSIVE;
    case RS_WORKFLOW:
        if (kind != RS_HANDLER_WORKFLOW)
            return kind == RS_HANDLER_DEFAULT || kind == RS_HANDLER_SHARED;
        for (i = 0; i < svc->nhandlers; i++)
            if (svc->handlers[i].kind == RS_HANDLER_WORKFLOW)
                return 0;
        return 1;
    }
    return 0;
}

int rs_registry_add_handler(rs_registry *reg, const char *service,
                            const char *name, rs_handler_kind kind,
                            rs_handler_fn fn, void *arg)
{
    struct rs_service_def *svc;
    struct rs_handler_def *grown;
    char *copy;

    svc = (struct rs_service_def *)rs_registry_service(reg, service);
    if (svc == NULL)
        return fail(reg, "handler '%s': service '%s' is not registered",
                    name ? name : "(null)", service ? service : "(null)");
    if (!name_ok(name, "_"))
        return fail(reg, "%s: handler name '%s' is not a valid Restate name",
                    service, name ? name : "(null)");
    if (fn == NULL)
        return fail(reg, "%s/%s: handler function is NULL", service, name);
    if (rs_registry_handler(svc, name) != NULL)
        return fail(reg, "%s/%s is registered twice", service, name);
    if (!kind_fits(svc, kind))
        return fail(reg, "%s/%s: handler kind %d does not fit the service",
                    service, name, (int)kind);
    grown = realloc(svc->handlers, (svc->nhandlers + 1) * sizeof(*grown));
    if (grown == NULL)
        return fail(reg, "out of memory adding %s/%s", service, name);
    svc->handlers = grown;
    copy = strdup(name);
    if (copy == NULL)
        return fail(reg, "out of memory adding %s/%s", service, name);
    grown[svc->nhandlers].name = copy;
    grown[svc->nhandlers].kind = kind;
    grown[svc->nhandlers].fn = fn;
    grown[svc->nhandlers].arg = arg;
    svc->nhandlers++;
    return 0;
}
