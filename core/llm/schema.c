/*
 * schema.c - the JSON Schema subset the stages use: a local check that
 * also fixes a reply up (drops unknown keys, normalizes confidence), and
 * the strict form of a schema sent to structured-output APIs.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "llm/llm_internal.h"

#define PATH_MAX_LEN 256

struct check {
    char *why;
    size_t why_len;
};

static enum llm_reason fail(struct check *c, const char *path, const char *what)
{
    snprintf(c->why, c->why_len, "%s: %s", path, what);
    return LLM_ERR_INVALID;
}

static bool type_matches(const char *type, const cJSON *v)
{
    if (strcmp(type, "object") == 0)
        return cJSON_IsObject(v);
    if (strcmp(type, "array") == 0)
        return cJSON_IsArray(v);
    if (strcmp(type, "string") == 0)
        return cJSON_IsString(v);
    if (strcmp(type, "number") == 0)
        return cJSON_IsNumber(v);
    if (strcmp(type, "integer") == 0)
        return cJSON_IsNumber(v) && isfinite(v->valuedouble) &&
               floor(v->valuedouble) == v->valuedouble;
    if (strcmp(type, "boolean") == 0)
        return cJSON_IsBool(v);
    if (strcmp(type, "null") == 0)
        return cJSON_IsNull(v);
    return false;
}

/* Does schema's "type" accept v?  No "type" accepts anything. */
static bool type_ok(const cJSON *schema, const cJSON *v)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(schema, "type");
    const cJSON *t;

    if (cJSON_IsString(type))
        return type_matches(type->valuestring, v);
    if (!cJSON_IsArray(type))
        return true;
    cJSON_ArrayForEach(t, type)
    {
        if (cJSON_IsString(t) && type_matches(t->valuestring, v))
            return true;
    }
    return false;
}

static bool allows_null(const cJSON *schema)
{
    const cJSON *null = cJSON_CreateNull();
    bool ok = null != NULL && type_ok(schema, null) &&
              cJSON_HasObjectItem(schema, "type");

    cJSON_Delete((cJSON *)null);
    return ok;
}

static bool same_scalar(const cJSON *a, const cJSON *b)
{
    if (cJSON_IsString(a) && cJSON_IsString(b))
        return strcmp(a->valuestring, b->valuestring) == 0;
    if (cJSON_IsNumber(a) && cJSON_IsNumber(b))
        return a->valuedouble == b->valuedouble;
    if (cJSON_IsBool(a) && cJSON_IsBool(b))
        return cJSON_IsTrue(a) == cJSON_IsTrue(b);
    return cJSON_IsNull(a) && cJSON_IsNull(b);
}

static bool enum_ok(const cJSON *schema, const cJSON *v)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(schema, "enum");
    const cJSON *item;

    if (!cJSON_IsArray(list))
        return true;
    cJSON_ArrayForEach(item, list)
    {
        if (same_scalar(item, v))
            return true;
    }
    return false;
}

static size_t utf8_length(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

static double number_of(const cJSON *schema, const char *key, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(schema, key);

    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* The confidence rule: [0, 1] as is, (1, 100] divided by 100. */
static enum llm_reason normalize_confidence(struct check *c, const char *path,
                                            cJSON *v)
{
    double x = v->valuedouble;

    if (!isfinite(x) || x < 0 || x > 100)
        return fail(c, path, "confidence must be within 0..1 or 0..100");
    if (x > 1)
        cJSON_SetNumberValue(v, x / 100.0);
    return LLM_OK;
}

static enum llm_reason check_value(struct check *c, const cJSON *schema,
                                   cJSON *v, const char *path, const char *key);

static enum llm_reason check_scalar(struct check *c, const cJSON *schema,
                                    cJSON *v, const char *path)
{
    char what[128];
    double lo, hi;

    if (cJSON_IsNumber(v)) {
        lo = number_of(schema, "minimum", -INFINITY);
        hi = number_of(schema, "maximum", INFINITY);
        if (v->valuedouble < lo || v->valuedouble > hi) {
            snprintf(what, sizeof(what), "%g is outside [%g, %g]",
                     v->valuedouble, lo, hi);
            return fail(c, path, what);
        }
    }
    if (cJSON_IsString(v)) {
        size_t n = utf8_length(v->valuestring);

        if ((double)n < number_of(schema, "minLength", 0) ||
            (double)n > number_of(schema, "maxLength", INFINITY))
            return fail(c, path, "string length out of bounds");
    }
    return LLM_OK;
}

static enum llm_reason check_array(struct check *c, const cJSON *schema,
                                   cJSON *v, const char *path)
{
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(schema, "items");
    char sub[PATH_MAX_LEN];
    enum llm_reason r;
    cJSON *el;
    int i = 0;

    if (!cJSON_IsObject(items))
        return LLM_OK;
    cJSON_ArrayForEach(el, v)
    {
        snprintf(sub, sizeof(sub), "%s[%d]", path, i++);
        r = check_value(c, items, el, sub, NULL);
        if (r != LLM_OK)
            return r;
    }
    return LLM_OK;
}

static bool is_required(const cJSON *schema, const char *key)
{
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(schema, "required");
    const cJSON *r;

    cJSON_ArrayForEach(r, req)
    {
        if (cJSON_IsString(r) && strcmp(r->valuestring, key) == 0)
            return true;
    }
    return false;
}

/* Drop members the schema does not name, and nulls of optional ones. */
static void drop_extra(const cJSON *schema, const cJSON *props, cJSON *v)
{
    cJSON *m = v->child, *next;
    const cJSON *ps;

    for (; m != NULL; m = next) {
        next = m->next;
        ps = cJSON_GetObjectItemCaseSensitive(props, m->string);
        if (ps == NULL || (cJSON_IsNull(m) && !is_required(schema, m->string) &&
                           !allows_null(ps)))
            cJSON_Delete(cJSON_DetachItemViaPointer(v, m));
    }
}

static enum llm_reason check_object(struct check *c, const cJSON *schema,
                                    cJSON *v, const char *path)
{
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(schema, "required");
    const cJSON *r, *ps;
    char sub[PATH_MAX_LEN];
    enum llm_reason rc;
    cJSON *m;

    if (cJSON_IsObject(props))
        drop_extra(schema, props, v);
    cJSON_ArrayForEach(r, req)
    {
        if (cJSON_IsString(r) && !cJSON_HasObjectItem(v, r->valuestring)) {
            snprintf(sub, sizeof(sub), "%s.%s", path, r->valuestring);
            return fail(c, sub, "required field is missing");
        }
    }
    cJSON_ArrayForEach(m, v)
    {
        ps = cJSON_GetObjectItemCaseSensitive(props, m->string);
        if (ps == NULL)
            continue;
        snprintf(sub, sizeof(sub), "%s.%s", path, m->string);
        rc = check_value(c, ps, m, sub, m->string);
        if (rc != LLM_OK)
            return rc;
    }
    return LLM_OK;
}

static enum llm_reason check_value(struct check *c, const cJSON *schema,
                                   cJSON *v, const char *path, const char *key)
{
    char what[160];
    char *shown;
    enum llm_reason r;

    if (!type_ok(schema, v))
        return fail(c, path, "wrong type");
    if (!enum_ok(schema, v)) {
        shown = cJSON_PrintUnformatted(v);
        snprintf(what, sizeof(what), "value %.100s is not in the enum",
                 shown != NULL ? shown : "?");
        cJSON_free(shown);
        return fail(c, path, what);
    }
    if (key != NULL && strcmp(key, "confidence") == 0 && cJSON_IsNumber(v)) {
        r = normalize_confidence(c, path, v);
        if (r != LLM_OK)
            return r;
    }
    if (cJSON_IsObject(v))
        return check_object(c, schema, v, path);
    if (cJSON_IsArray(v))
        return check_array(c, schema, v, path);
    return check_scalar(c, schema, v, path);
}

enum llm_reason llm_schema_validate(const cJSON *schema, cJSON *obj, char *why,
                                    size_t why_len)
{
    struct check c = {why, why_len};

    if (!cJSON_IsObject(schema))
        return fail(&c, "$", "the schema is not a JSON object");
    if (!cJSON_IsObject(obj))
        return fail(&c, "$", "the reply is not a JSON object");
    return check_value(&c, schema, obj, "$", NULL);
}

/* ------------------------------------------------------------------ */
/* Strict form                                                         */
/* ------------------------------------------------------------------ */

static const char *const strict_refused[] = {
    "minimum",   "maximum",   "exclusiveMinimum", "exclusiveMaximum",
    "minLength", "maxLength", "pattern",          "format",
    "default",   "minItems",  "maxItems",
};

static bool make_nullable(cJSON *s)
{
    cJSON *type = cJSON_GetObjectItemCaseSensitive(s, "type");
    cJSON *list = cJSON_GetObjectItemCaseSensitive(s, "enum");
    cJSON *pair;

    if (cJSON_IsString(type) && strcmp(type->valuestring, "null") != 0) {
        pair = cJSON_CreateArray();
        if (pair == NULL ||
            !cJSON_AddItemToArray(pair,
                                  cJSON_CreateString(type->valuestring)) ||
            !cJSON_AddItemToArray(pair, cJSON_CreateString("null"))) {
            cJSON_Delete(pair);
            return false;
        }
        cJSON_ReplaceItemInObjectCaseSensitive(s, "type", pair);
    }
    else if (cJSON_IsArray(type) && !allows_null(s)) {
        if (!cJSON_AddItemToArray(type, cJSON_CreateString("null")))
            return false;
    }
    if (cJSON_IsArray(list))
        return cJSON_AddItemToArray(list, cJSON_CreateNull());
    return true;
}

static bool strictify(cJSON *s);

static bool strictify_object(cJSON *s, cJSON *props)
{
    cJSON *required = cJSON_CreateArray();
    cJSON *p;

    if (required == NULL)
        return false;
    cJSON_ArrayForEach(p, props)
    {
        if (!cJSON_AddItemToArray(required, cJSON_CreateString(p->string)) ||
            (!is_required(s, p->string) && !make_nullable(p)) ||
            !strictify(p)) {
            cJSON_Delete(required);
            return false;
        }
    }
    cJSON_DeleteItemFromObjectCaseSensitive(s, "required");
    cJSON_DeleteItemFromObjectCaseSensitive(s, "additionalProperties");
    if (!cJSON_AddItemToObject(s, "required", required)) {
        cJSON_Delete(required);
        return false;
    }
    return cJSON_AddFalseToObject(s, "additionalProperties") != NULL;
}

static bool strictify(cJSON *s)
{
    cJSON *props, *items;
    size_t i;

    if (!cJSON_IsObject(s))
        return true;
    for (i = 0; i < sizeof(strict_refused) / sizeof(strict_refused[0]); i++)
        cJSON_DeleteItemFromObjectCaseSensitive(s, strict_refused[i]);
    props = cJSON_GetObjectItemCaseSensitive(s, "properties");
    if (cJSON_IsObject(props) && !strictify_object(s, props))
        return false;
    items = cJSON_GetObjectItemCaseSensitive(s, "items");
    return strictify(items);
}

cJSON *llm_schema_strict(const cJSON *schema)
{
    cJSON *copy = cJSON_Duplicate(schema, 1);

    if (copy == NULL)
        return NULL;
    if (!strictify(copy)) {
        cJSON_Delete(copy);
        return NULL;
    }
    return copy;
}
