/*
 * fuzz_llm_reply.c - libFuzzer target for everything the LLM client reads
 * from a provider: reply text (object extraction and the schema check),
 * both reply envelopes, rate-limit hints, and schemas themselves.  The
 * first byte picks the path; the rest is the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "llm/llm_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char schema_text[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"family\":{\"type\":\"string\",\"enum\":[\"price-value\",\"other\"]},"
    "\"confidence\":{\"type\":\"number\",\"minimum\":0,\"maximum\":1},"
    "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\","
    "\"maxLength\":8}},"
    "\"inner\":{\"type\":\"object\",\"properties\":{\"n\":{\"type\":"
    "\"integer\"}},\"required\":[\"n\"]}},"
    "\"required\":[\"family\",\"confidence\"]}";

static void reply_text(const char *text, const cJSON *schema)
{
    char why[256];
    cJSON *obj = NULL;

    if (llm_extract_object(text, &obj, why, sizeof(why)) == LLM_OK)
        llm_schema_validate(schema, obj, why, sizeof(why));
    cJSON_Delete(obj);
}

static void envelope(enum llm_kind kind, const char *text)
{
    struct llm_wire_reply w;
    char why[256];

    llm_wire_parse(kind, text, &w, why, sizeof(why));
    llm_wire_reply_free(&w);
    llm_wire_error_message(text, why, sizeof(why));
}

static void hints(const char *text)
{
    struct llm_hint_headers h;

    memset(&h, 0, sizeof(h));
    strncpy(h.retry_after, text, sizeof(h.retry_after) - 1);
    strncpy(h.reset_tokens, text, sizeof(h.reset_tokens) - 1);
    llm_retry_hint_ms(&h, text, 0);
    llm_is_quota_error(text);
}

static void schema_input(const char *text)
{
    cJSON *schema = cJSON_Parse(text), *strict, *obj;
    char why[256];

    if (schema == NULL)
        return;
    strict = llm_schema_strict(schema);
    obj = cJSON_Parse("{\"a\":1,\"confidence\":50,\"b\":[\"x\"]}");
    llm_schema_validate(schema, obj, why, sizeof(why));
    cJSON_Delete(obj);
    cJSON_Delete(strict);
    cJSON_Delete(schema);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cJSON *schema;
    char *text;

    if (size < 1)
        return 0;
    if (schema == NULL)
        schema = cJSON_Parse(schema_text);
    text = malloc(size);
    if (text == NULL)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    switch (data[0] % 5) {
    case 0:
        reply_text(text, schema);
        break;
    case 1:
        envelope(LLM_KIND_OPENAI, text);
        break;
    case 2:
        envelope(LLM_KIND_ANTHROPIC, text);
        break;
    case 3:
        hints(text);
        break;
    default:
        schema_input(text);
        break;
    }
    free(text);
    return 0;
}
