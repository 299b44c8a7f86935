/*
 * desc.c - descriptor and option-value checks and the option lookups of
 * the API table, shared by the stage host (loader.c, host_api.c) and the
 * SDK's fake host (sdk/testing/fakehost.c), so both refuse and read the
 * same things.  libc only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage/desc.h"

/* Bytes of the descriptor this host reads (ABI 1.0: all of it). */
#define DESC_SIZE_V1_0 sizeof(cls_stage_desc)

static int name_ok(const char *s)
{
    size_t i;

    if (s == NULL || s[0] == '\0' || strlen(s) > 64)
        return 0;
    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

/* Restate service and handler names: letters, digits, '_', '-', '.'. */
static int service_name_ok(const char *s)
{
    size_t i;

    if (s == NULL || s[0] == '\0' || strlen(s) > 128)
        return 0;
    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

static int text_ok(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* Check the fixed part: magic, size, ABI.  Returns CLS_OK or CLS_EINVAL. */
static cls_status check_abi(const char *path, const cls_stage_desc *d,
                            cls_error *err)
{
    if (d->magic != CLS_STAGE_MAGIC)
        return cls_error_set(err, CLS_EINVAL,
                             "%s: bad descriptor magic 0x%08x (expected "
                             "0x%08x)",
                             path, d->magic, CLS_STAGE_MAGIC);
    if (d->abi_major != CLS_ABI_MAJOR)
        return cls_error_set(err, CLS_EINVAL,
                             "%s: built for stage ABI major %u, this host "
                             "supports major %u",
                             path, d->abi_major, CLS_ABI_MAJOR);
    if (d->abi_minor > CLS_ABI_MINOR)
        return cls_error_set(err, CLS_EINVAL,
                             "%s: needs stage ABI %u.%u, this host provides "
                             "%u.%u",
                             path, d->abi_major, d->abi_minor, CLS_ABI_MAJOR,
                             CLS_ABI_MINOR);
    if (d->struct_size < DESC_SIZE_V1_0)
        return cls_error_set(err, CLS_EINVAL,
                             "%s: descriptor struct_size %u is smaller than "
                             "%zu for ABI %u.%u",
                             path, d->struct_size, DESC_SIZE_V1_0, d->abi_major,
                             d->abi_minor);
    return CLS_OK;
}

/* Check names, slot and callbacks.  Returns CLS_OK or CLS_EINVAL. */
static cls_status check_fields(const char *path, const cls_stage_desc *d,
                               cls_error *err)
{
    if (!name_ok(d->name))
        return cls_error_set(err, CLS_EINVAL,
                             "%s: stage name \"%s\" is not 1-64 characters "
                             "of [a-z0-9-]",
                             path, d->name ? d->name : "(null)");
    if (!text_ok(d->version))
        return cls_error_set(err, CLS_EINVAL, "%s: stage %s has no version",
                             path, d->name);
    if ((int)d->slot < (int)CLS_SLOT_CUSTOM ||
        (int)d->slot > (int)CLS_SLOT_FINAL_REVIEW)
        return cls_error_set(err, CLS_EINVAL, "%s: stage %s: unknown slot %d",
                             path, d->name, (int)d->slot);
    if (!service_name_ok(d->service) || !service_name_ok(d->handler))
        return cls_error_set(err, CLS_EINVAL,
                             "%s: stage %s: service \"%s\" / handler \"%s\" "
                             "must be 1-128 characters of [A-Za-z0-9_.-]",
                             path, d->name, d->service ? d->service : "(null)",
                             d->handler ? d->handler : "(null)");
    if (d->create == NULL || d->process == NULL || d->destroy == NULL)
        return cls_error_set(err, CLS_EINVAL,
                             "%s: stage %s: missing required callback %s", path,
                             d->name,
                             d->create == NULL    ? "create"
                             : d->process == NULL ? "process"
                                                  : "destroy");
    return CLS_OK;
}

cls_status stage_desc_check(const char *where, const cls_stage_desc *d,
                            cls_error *err)
{
    cls_status st = check_abi(where, d, err);

    return st == CLS_OK ? check_fields(where, d, err) : st;
}

const char *stage_type_word(cls_config_type t)
{
    switch (t) {
    case CLS_CONFIG_STRING:
        return "a string";
    case CLS_CONFIG_INT:
        return "an integer";
    case CLS_CONFIG_DOUBLE:
        return "a number";
    case CLS_CONFIG_BOOL:
        return "a boolean";
    case CLS_CONFIG_END:
        break;
    }
    return "nothing";
}

const char *stage_implicit_default(cls_config_type t)
{
    if (t == CLS_CONFIG_STRING)
        return "";
    return t == CLS_CONFIG_BOOL ? "false" : "0";
}

cls_status stage_value_parse(cls_config_type t, const char *text, char **s,
                             int64_t *i, double *d, int *b)
{
    char *end = NULL;

    errno = 0;
    switch (t) {
    case CLS_CONFIG_STRING:
        *s = strdup(text);
        return *s ? CLS_OK : CLS_ENOMEM;
    case CLS_CONFIG_INT:
        *i = strtoll(text, &end, 0);
        *d = (double)*i;
        break;
    case CLS_CONFIG_DOUBLE:
        *d = strtod(text, &end);
        break;
    case CLS_CONFIG_BOOL:
        if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0)
            *b = 1;
        else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0)
            *b = 0;
        else
            return CLS_EINVAL;
        return CLS_OK;
    case CLS_CONFIG_END:
        return CLS_EINVAL;
    }
    if (end == NULL || end == text || *end != '\0' || errno != 0)
        return CLS_EINVAL;
    return CLS_OK;
}

int stage_value_out_of_range(const cls_config_key *k, double v)
{
    if (k->type != CLS_CONFIG_INT && k->type != CLS_CONFIG_DOUBLE)
        return 0;
    return k->min < k->max && (v < k->min || v > k->max);
}

const cls_config_key *stage_schema_find(const cls_config_key *schema,
                                        const char *key)
{
    for (; schema != NULL && schema->type != CLS_CONFIG_END; schema++) {
        if (schema->name != NULL && strcmp(schema->name, key) == 0)
            return schema;
    }
    return NULL;
}

void stage_options_free(struct stage_option *opts, size_t n)
{
    size_t i;

    for (i = 0; opts != NULL && i < n; i++) {
        free(opts[i].key);
        free(opts[i].s);
    }
    free(opts);
}

/* host's option key when it has type, else NULL. */
static const struct stage_option *
find_option(const cls_host *host, const char *key, cls_config_type type)
{
    const struct stage_option *opts;
    size_t i, n;

    if (host == NULL || key == NULL)
        return NULL;
    stage_host_options(host, &opts, &n);
    for (i = 0; i < n; i++) {
        if (strcmp(opts[i].key, key) == 0)
            return opts[i].type == type ? &opts[i] : NULL;
    }
    return NULL;
}

cls_status stage_config_string(const cls_host *host, const char *key,
                               const char **out)
{
    const struct stage_option *o = find_option(host, key, CLS_CONFIG_STRING);

    if (o == NULL)
        return CLS_EINVAL;
    *out = o->s;
    return CLS_OK;
}

cls_status stage_config_int(const cls_host *host, const char *key, int64_t *out)
{
    const struct stage_option *o = find_option(host, key, CLS_CONFIG_INT);

    if (o == NULL)
        return CLS_EINVAL;
    *out = o->i;
    return CLS_OK;
}

cls_status stage_config_double(const cls_host *host, const char *key,
                               double *out)
{
    const struct stage_option *o = find_option(host, key, CLS_CONFIG_DOUBLE);

    if (o == NULL)
        return CLS_EINVAL;
    *out = o->d;
    return CLS_OK;
}

cls_status stage_config_bool(const cls_host *host, const char *key, int *out)
{
    const struct stage_option *o = find_option(host, key, CLS_CONFIG_BOOL);

    if (o == NULL)
        return CLS_EINVAL;
    *out = o->b;
    return CLS_OK;
}

cls_status stage_file_path(const char *dir, const char *path, char *full,
                           size_t size, cls_error *err)
{
    int w;

    if (dir == NULL || path == NULL || path[0] == '\0')
        return cls_error_set(err, CLS_EINVAL, "read_file: no path given");
    if (path[0] == '/')
        w = snprintf(full, size, "%s", path);
    else
        w = snprintf(full, size, "%s/%s", dir, path);
    if (w < 0 || (size_t)w >= size)
        return cls_error_set(err, CLS_EINVAL, "read_file %s: path too long",
                             path);
    return CLS_OK;
}

cls_status stage_llm_args_check(const cls_call *call,
                                const cls_llm_request *req,
                                const cls_llm_reply *reply, cls_error *err)
{
    if (call == NULL || req == NULL || reply == NULL)
        return cls_error_set(err, CLS_EINVAL, "llm_complete: NULL argument");
    if (req->struct_size < sizeof(cls_llm_request) ||
        reply->struct_size < sizeof(cls_llm_reply))
        return cls_error_set(err, CLS_EINVAL,
                             "llm_complete: request or reply struct_size not "
                             "set");
    return CLS_OK;
}
