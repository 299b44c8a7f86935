/*
 * stagetest.c - helpers of the stage tests (see stagetest.h).
 */
#include "stagetest.h"

#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

cls_fake_host *st_host(const cls_stage_desc *desc, const char *kind,
                       int fallback, const char *plugin_dir)
{
    cls_fake_host *fh = cls_fake_host_new();
    cls_error err = {0};
    cls_status st;

    assert_non_null(fh);
    assert_int_equal(cls_fake_host_set_provider(fh, kind, fallback), CLS_OK);
    if (plugin_dir != NULL)
        assert_int_equal(cls_fake_host_set_plugin_dir(fh, plugin_dir), CLS_OK);
    st = cls_fake_host_create(fh, desc, &err);
    if (st != CLS_OK)
        fail_msg("create %s: %s", desc->name, err.message);
    return fh;
}

void st_host_free(cls_fake_host *fh)
{
    assert_int_equal(cls_fake_host_destroy(fh), 0);
    cls_fake_host_free(fh);
}

cJSON *st_process(cls_fake_host *fh, const char *input)
{
    cls_error err = {0};
    char *out = NULL;
    cJSON *o;
    cls_status st;

    st = cls_fake_host_process(fh, input, &out, &err);
    if (st != CLS_OK)
        fail_msg("process: status %d: %s", (int)st, err.message);
    o = cJSON_Parse(out);
    free(out);
    assert_non_null(o);
    return o;
}

cJSON *st_indicator(cls_fake_host *fh, const char *indicator)
{
    char *input;
    cJSON *o;
    size_t n = strlen(indicator) + 64;

    input = malloc(n);
    assert_non_null(input);
    snprintf(input, n, "{\"indicator\": %s, \"results\": {}}", indicator);
    o = st_process(fh, input);
    free(input);
    return o;
}

const char *st_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

double st_num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    if (!cJSON_IsNumber(v))
        fail_msg("\"%s\" is not a number", key);
    return v->valuedouble;
}

int st_bool(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    if (!cJSON_IsBool(v))
        fail_msg("\"%s\" is not a boolean", key);
    return cJSON_IsTrue(v);
}

const cls_stage_desc *st_load(const char *name)
{
    char path[1024];
    cls_entry_fn entry;
    void *handle;

    snprintf(path, sizeof(path), "%s/%s.so", CLASSIFY_PLUGIN_DIR, name);
    handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL)
        fail_msg("dlopen %s: %s", path, dlerror());
    *(void **)&entry = dlsym(handle, CLS_ENTRY_SYMBOL);
    if (entry == NULL)
        fail_msg("%s: no %s", path, CLS_ENTRY_SYMBOL);
    return entry();
}
