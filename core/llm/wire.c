/*
 * wire.c - request bodies and reply envelopes of the two wire formats:
 * OpenAI Chat Completions (strict json_schema response format) and the
 * Anthropic Messages API (cached system block, JSON-only instruction).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "llm/llm_internal.h"

/* Second system block of an Anthropic request; the schema follows it. */
#define JSON_ONLY_INSTRUCTION                                                  \
    "Answer with exactly one JSON object and nothing else: no prose, no "      \
    "code fence.  The object must match this JSON Schema:\n"

static bool add_message(cJSON *list, const char *role, const char *text)
{
    cJSON *m = cJSON_CreateObject();

    if (m == NULL || !cJSON_AddItemToArray(list, m))
        return cJSON_Delete(m), false;
    return cJSON_AddStringToObject(m, "role", role) != NULL &&
           cJSON_AddStringToObject(m, "content", text) != NULL;
}

static bool add_conversation(cJSON *list, const struct llm_message *messages,
                             size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!add_message(list, messages[i].role, messages[i].text))
            return false;
    return true;
}

static bool openai_format(cJSON *root, const cls_llm_request *req,
                          const cJSON *schema)
{
    cJSON *fmt = cJSON_AddObjectToObject(root, "response_format");
    cJSON *js, *strict;

    if (fmt == NULL || !cJSON_AddStringToObject(fmt, "type", "json_schema"))
        return false;
    js = cJSON_AddObjectToObject(fmt, "json_schema");
    if (js == NULL ||
        !cJSON_AddStringToObject(js, "name",
                                 req->schema_name != NULL ? req->schema_name
                                                          : "response") ||
        !cJSON_AddTrueToObject(js, "strict"))
        return false;
    strict = llm_schema_strict(schema);
    if (strict == NULL || !cJSON_AddItemToObject(js, "schema", strict))
        return cJSON_Delete(strict), false;
    return true;
}

static bool openai_body(cJSON *root, const cls_llm_request *req,
                        const cJSON *schema, const struct llm_message *messages,
                        size_t n)
{
    cJSON *list = cJSON_AddArrayToObject(root, "messages");

    return list != NULL && add_message(list, "system", req->system_prompt) &&
           add_conversation(list, messages, n) &&
           openai_format(root, req, schema);
}

static bool add_text_block(cJSON *list, const char *text, bool cache)
{
    cJSON *b = cJSON_CreateObject(), *cc;

    if (b == NULL || !cJSON_AddItemToArray(list, b))
        return cJSON_Delete(b), false;
    if (!cJSON_AddStringToObject(b, "type", "text") ||
        !cJSON_AddStringToObject(b, "text", text))
        return false;
    if (!cache)
        return true;
    cc = cJSON_AddObjectToObject(b, "cache_control");
    return cc != NULL && cJSON_AddStringToObject(cc, "type", "ephemeral");
}

static bool anthropic_body(cJSON *root, const cls_llm_request *req,
                           const struct llm_message *messages, size_t n)
{
    cJSON *system = cJSON_AddArrayToObject(root, "system");
    cJSON *list;
    size_t len = strlen(JSON_ONLY_INSTRUCTION) + strlen(req->response_schema);
    char *instruction = malloc(len + 1);
    bool ok;

    if (system == NULL || instruction == NULL)
        return free(instruction), false;
    snprintf(instruction, len + 1, "%s%s", JSON_ONLY_INSTRUCTION,
             req->response_schema);
    /* The cache mark on the last system block caches both blocks: they
     * are the same for every item of a stage. */
    ok = add_text_block(system, req->system_prompt, false) &&
         add_text_block(system, instruction, true);
    free(instruction);
    list = cJSON_AddArrayToObject(root, "messages");
    return ok && list != NULL && add_conversation(list, messages, n);
}

char *llm_wire_request(enum llm_kind kind, const char *model,
                       const cls_llm_request *req, const cJSON *schema,
                       const struct llm_message *messages, size_t n,
                       uint32_t max_tokens)
{
    cJSON *root = cJSON_CreateObject();
    char *text = NULL;
    bool ok;

    if (root == NULL || !cJSON_AddStringToObject(root, "model", model) ||
        !cJSON_AddNumberToObject(root, "max_tokens", max_tokens))
        goto out;
    if (req->temperature >= 0 &&
        !cJSON_AddNumberToObject(root, "temperature", req->temperature))
        goto out;
    if (kind == LLM_KIND_ANTHROPIC)
        ok = anthropic_body(root, req, messages, n);
    else
        ok = openai_body(root, req, schema, messages, n);
    if (ok)
        text = cJSON_PrintUnformatted(root);
out:
    cJSON_Delete(root);
    return text;
}

/* ------------------------------------------------------------------ */
/* Replies                                                             */
/* ------------------------------------------------------------------ */

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static const char *string_at(const cJSON *obj, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

static bool is_text_part(const cJSON *p)
{
    const char *type = string_at(p, "type");

    return type != NULL && strcmp(type, "text") == 0 &&
           string_at(p, "text") != NULL;
}

/* Concatenate the "text" of every {"type":"text"} part. */
static char *join_text_parts(const cJSON *parts)
{
    const cJSON *p;
    size_t len = 0;
    char *out;

    cJSON_ArrayForEach(p, parts)
    {
        if (is_text_part(p))
            len += strlen(string_at(p, "text"));
    }
    out = calloc(1, len + 1);
    if (out == NULL)
        return NULL;
    cJSON_ArrayForEach(p, parts)
    {
        if (is_text_part(p))
            strcat(out, string_at(p, "text"));
    }
    return out;
}

static enum llm_reason openai_parse(const cJSON *root,
                                    struct llm_wire_reply *out, char *why,
                                    size_t why_len)
{
    const cJSON *choice, *msg, *content;
    const char *finish, *refusal;

    choice = cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(root, "choices"), 0);
    msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
    if (!cJSON_IsObject(msg)) {
        snprintf(why, why_len, "no choices[0].message in the reply");
        return LLM_ERR_PROTOCOL;
    }
    finish = string_at(choice, "finish_reason");
    refusal = string_at(msg, "refusal");
    content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    out->truncated = finish != NULL && strcmp(finish, "length") == 0;
    if (refusal != NULL) {
        out->refused = 1;
        out->refusal = strdup(refusal);
    }
    else if (finish != NULL && strcmp(finish, "content_filter") == 0) {
        out->refused = 1;
        out->refusal = strdup("content filter (finish_reason content_filter)");
    }
    if (cJSON_IsString(content))
        out->text = strdup(content->valuestring);
    else if (cJSON_IsArray(content))
        out->text = join_text_parts(content);
    return LLM_OK;
}

static enum llm_reason anthropic_parse(const cJSON *root,
                                       struct llm_wire_reply *out, char *why,
                                       size_t why_len)
{
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(root, "content");
    const char *stop = string_at(root, "stop_reason");

    if (!cJSON_IsArray(content)) {
        snprintf(why, why_len, "no content array in the reply");
        return LLM_ERR_PROTOCOL;
    }
    out->truncated = stop != NULL && strcmp(stop, "max_tokens") == 0;
    if (stop != NULL && strcmp(stop, "refusal") == 0) {
        out->refused = 1;
        out->refusal = strdup("stop_reason refusal");
    }
    out->text = join_text_parts(content);
    return LLM_OK;
}

enum llm_reason llm_wire_parse(enum llm_kind kind, const char *body,
                               struct llm_wire_reply *out, char *why,
                               size_t why_len)
{
    cJSON *root = cJSON_Parse(body != NULL ? body : "");
    enum llm_reason r;

    memset(out, 0, sizeof(*out));
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        snprintf(why, why_len, "the reply body is not a JSON object");
        return LLM_ERR_PROTOCOL;
    }
    if (kind == LLM_KIND_ANTHROPIC)
        r = anthropic_parse(root, out, why, why_len);
    else
        r = openai_parse(root, out, why, why_len);
    out->model = dup_or_null(string_at(root, "model"));
    llm_usage_parse(cJSON_GetObjectItemCaseSensitive(root, "usage"),
                    &out->usage);
    cJSON_Delete(root);
    if (r == LLM_OK && !out->refused && !out->truncated && out->text == NULL) {
        snprintf(why, why_len, "the reply has no text content");
        r = LLM_ERR_PROTOCOL;
    }
    return r;
}

void llm_wire_reply_free(struct llm_wire_reply *out)
{
    free(out->text);
    free(out->refusal);
    free(out->model);
    memset(out, 0, sizeof(*out));
}

void llm_wire_error_message(const char *body, char *buf, size_t len)
{
    cJSON *root = cJSON_Parse(body != NULL ? body : "");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    const char *msg = string_at(err, "message");
    const char *type = string_at(err, "type");
    const char *code = string_at(err, "code");

    if (msg == NULL && cJSON_IsString(err))
        msg = err->valuestring;
    if (type == NULL) {
        type = code;
        code = NULL;
    }
    snprintf(buf, len, "%s%s%s%s%s", type ? type : "", code ? "/" : "",
             code ? code : "", type && msg ? ": " : "", msg ? msg : "");
    if (buf[0] == '\0' && body != NULL && len > 0)
        snprintf(buf, len, "%.120s", body); /* not a JSON error body */
    cJSON_Delete(root);
}
