/*
 * result.c - a completion result as a journal record and back.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "llm/llm.h"

static bool add_string(cJSON *o, const char *key, const char *value)
{
    cJSON *v = value != NULL ? cJSON_CreateString(value) : cJSON_CreateNull();

    if (v == NULL || !cJSON_AddItemToObject(o, key, v)) {
        cJSON_Delete(v);
        return false;
    }
    return true;
}

static bool add_count(cJSON *o, const char *key, double value)
{
    return cJSON_AddNumberToObject(o, key, value) != NULL;
}

cJSON *llm_result_to_json(const struct llm_result *res)
{
    cJSON *o = cJSON_CreateObject(), *obj;

    if (o == NULL)
        return NULL;
    obj = res->object != NULL ? cJSON_Duplicate(res->object, 1)
                              : cJSON_CreateNull();
    if (obj == NULL || !cJSON_AddItemToObject(o, "object", obj)) {
        cJSON_Delete(obj);
        goto fail;
    }
    if (!add_string(o, "reason", llm_reason_name(res->reason)) ||
        !add_string(o, "text", res->text) ||
        !add_string(o, "provider", res->provider) ||
        !add_string(o, "model", res->model) ||
        !add_count(o, "input_tokens", (double)res->input_tokens) ||
        !add_count(o, "output_tokens", (double)res->output_tokens) ||
        !add_count(o, "cached_tokens", (double)res->cached_tokens) ||
        !add_count(o, "cache_write_tokens", (double)res->cache_write_tokens) ||
        !add_count(o, "latency_ms", res->latency_ms) ||
        !add_count(o, "attempts", res->attempts))
        goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

static enum llm_reason reason_from_name(const char *name)
{
    int r;

    for (r = LLM_OK; r <= LLM_ERR_CANCELLED; r++)
        if (name != NULL && strcmp(name, llm_reason_name(r)) == 0)
            return (enum llm_reason)r;
    return (enum llm_reason) - 1;
}

/* A copy of the string member key, or NULL when it is null/absent. */
static bool take_string(const cJSON *rec, const char *key, char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);

    if (cJSON_IsNull(v) || v == NULL)
        return true;
    if (!cJSON_IsString(v))
        return false;
    *out = strdup(v->valuestring);
    return *out != NULL;
}

static uint64_t count(const cJSON *rec, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);

    if (!cJSON_IsNumber(v) || !(v->valuedouble > 0 && v->valuedouble <= 1e15))
        return 0;
    return (uint64_t)v->valuedouble;
}

cls_status llm_result_from_json(const cJSON *rec, struct llm_result *res,
                                cls_error *err)
{
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(rec, "object");
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(rec, "reason");
    int r = reason_from_name(cJSON_GetStringValue(reason));

    if (!cJSON_IsObject(rec) || r < 0 ||
        (!cJSON_IsObject(obj) && !cJSON_IsNull(obj)) ||
        (r == LLM_OK) != cJSON_IsObject(obj))
        return cls_error_set(err, CLS_FAIL,
                             "llm: journal record is not a completion "
                             "result");
    res->reason = (enum llm_reason)r;
    if (cJSON_IsObject(obj) && (res->object = cJSON_Duplicate(obj, 1)) == NULL)
        return cls_error_set(err, CLS_ENOMEM, "llm: out of memory");
    if (!take_string(rec, "text", &res->text) ||
        !take_string(rec, "provider", &res->provider) ||
        !take_string(rec, "model", &res->model))
        return cls_error_set(err, CLS_FAIL,
                             "llm: journal record has a bad text, provider "
                             "or model");
    res->input_tokens = count(rec, "input_tokens");
    res->output_tokens = count(rec, "output_tokens");
    res->cached_tokens = count(rec, "cached_tokens");
    res->cache_write_tokens = count(rec, "cache_write_tokens");
    res->latency_ms = (uint32_t)count(rec, "latency_ms");
    res->attempts = (uint32_t)count(rec, "attempts");
    return CLS_OK;
}
