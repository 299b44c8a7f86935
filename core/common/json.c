/*
 * json.c - per-call arena, UTF-8 check, read-only JSON views and the output
 * builder of the stage SDK, over cJSON.
 */
#include "common/json.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Arena                                                               */
/* ------------------------------------------------------------------ */

#define ARENA_CHUNK_MIN 4096
#define ARENA_ALIGN     alignof(max_align_t)

struct core_arena_chunk {
    struct core_arena_chunk *next;
    size_t size;
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

struct core_arena_cleanup {
    struct core_arena_cleanup *next;
    void (*fn)(void *);
    void *ptr;
};

void core_arena_init(struct core_arena *a)
{
    memset(a, 0, sizeof(*a));
}

static struct core_arena_chunk *arena_grow(struct core_arena *a, size_t need)
{
    struct core_arena_chunk *c;
    size_t size = need > ARENA_CHUNK_MIN ? need : ARENA_CHUNK_MIN;

    if (size > SIZE_MAX - sizeof(*c))
        return NULL;
    c = malloc(sizeof(*c) + size);
    if (c == NULL)
        return NULL;
    c->next = a->chunks;
    c->size = size;
    c->used = 0;
    a->chunks = c;
    return c;
}

void *core_arena_alloc(struct core_arena *a, size_t size)
{
    struct core_arena_chunk *c = a->chunks;
    size_t rounded;
    void *p;

    if (size == 0 || size > SIZE_MAX - ARENA_ALIGN)
        return NULL;
    rounded = (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);

    if (c == NULL || c->size - c->used < rounded) {
        c = arena_grow(a, rounded);
        if (c == NULL)
            return NULL;
    }

    p = c->data + c->used;
    c->used += rounded;
    a->bytes += rounded;
    memset(p, 0, size);
    return p;
}

char *core_arena_strndup(struct core_arena *a, const char *s, size_t n)
{
    char *p = core_arena_alloc(a, n + 1);

    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *core_arena_strdup(struct core_arena *a, const char *s)
{
    return core_arena_strndup(a, s, strlen(s));
}

int core_arena_defer(struct core_arena *a, void (*fn)(void *), void *ptr)
{
    struct core_arena_cleanup *c = malloc(sizeof(*c));

    if (c == NULL) {
        fn(ptr);
        return -1;
    }
    c->fn = fn;
    c->ptr = ptr;
    c->next = a->cleanups;
    a->cleanups = c;
    return 0;
}

void core_arena_release(struct core_arena *a)
{
    while (a->cleanups != NULL) {
        struct core_arena_cleanup *c = a->cleanups;

        a->cleanups = c->next;
        c->fn(c->ptr);
        free(c);
    }
    while (a->chunks != NULL) {
        struct core_arena_chunk *c = a->chunks;

        a->chunks = c->next;
        free(c);
    }
    a->bytes = 0;
}

/* ------------------------------------------------------------------ */
/* UTF-8                                                               */
/* ------------------------------------------------------------------ */

/* Length of the well-formed sequence at s (at most left bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
    size_t n, i;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2, cp = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3, cp = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (left < n)
        return 0;

    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }

    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000))
        return 0; /* overlong */
    if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return n;
}

size_t core_utf8_check(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        size_t n = utf8_seq(u + i, len - i);

        if (n == 0)
            return i;
        i += n;
    }
    return len;
}

/* ------------------------------------------------------------------ */
/* Read side                                                           */
/* ------------------------------------------------------------------ */

const struct cJSON *core_json_node(const cls_json *v)
{
    return (const struct cJSON *)(const void *)v;
}

const cls_json *core_json_view(const struct cJSON *node)
{
    return (const cls_json *)(const void *)node;
}

cls_json_type core_json_type(const cls_json *v)
{
    const cJSON *n = core_json_node(v);

    if (n == NULL)
        return CLS_JSON_ABSENT;

    switch (n->type & 0xff) {
    case cJSON_NULL:
        return CLS_JSON_NULL;
    case cJSON_False:
    case cJSON_True:
        return CLS_JSON_BOOL;
    case cJSON_Number:
    case cJSON_Raw:
        return CLS_JSON_NUMBER;
    case cJSON_String:
        return CLS_JSON_STRING;
    case cJSON_Array:
        return CLS_JSON_ARRAY;
    case cJSON_Object:
        return CLS_JSON_OBJECT;
    default:
        return CLS_JSON_ABSENT;
    }
}

const cls_json *core_json_get(const cls_json *obj, const char *key)
{
    const cJSON *n = core_json_node(obj);

    if (n == NULL || key == NULL || !cJSON_IsObject(n))
        return NULL;
    return core_json_view(cJSON_GetObjectItemCaseSensitive(n, key));
}

size_t core_json_size(const cls_json *v)
{
    const cJSON *n = core_json_node(v);
    const cJSON *c;
    size_t count = 0;

    if (n == NULL || !(cJSON_IsArray(n) || cJSON_IsObject(n)))
        return 0;
    for (c = n->child; c != NULL; c = c->next)
        count++;
    return count;
}

const cls_json *core_json_at(const cls_json *v, size_t i)
{
    const cJSON *n = core_json_node(v);
    const cJSON *c;

    if (n == NULL || !(cJSON_IsArray(n) || cJSON_IsObject(n)))
        return NULL;
    for (c = n->child; c != NULL && i > 0; c = c->next)
        i--;
    return core_json_view(c);
}

const char *core_json_key(const cls_json *member)
{
    const cJSON *n = core_json_node(member);

    if (n == NULL)
        return NULL;
    return n->string;
}

const char *core_json_string(const cls_json *v)
{
    const cJSON *n = core_json_node(v);

    if (n == NULL || !cJSON_IsString(n))
        return NULL;
    return n->valuestring;
}

cls_status core_json_number(const cls_json *v, double *out)
{
    const cJSON *n = core_json_node(v);

    if (n == NULL)
        return CLS_EINVAL;
    if (cJSON_IsNumber(n)) {
        *out = n->valuedouble;
        return CLS_OK;
    }
    if (cJSON_IsRaw(n) && n->valuestring != NULL) {
        *out = strtod(n->valuestring, NULL);
        return CLS_OK;
    }
    return CLS_EINVAL;
}

cls_status core_json_bool(const cls_json *v, int *out)
{
    const cJSON *n = core_json_node(v);

    if (n == NULL || !cJSON_IsBool(n))
        return CLS_EINVAL;
    *out = cJSON_IsTrue(n) ? 1 : 0;
    return CLS_OK;
}

static void delete_tree(void *tree)
{
    cJSON_Delete(tree);
}

const cls_json *core_json_parse(struct core_arena *arena, const char *text,
                                size_t len, cls_error *err)
{
    const char *end = NULL;
    size_t bad;
    cJSON *tree;

    if (text == NULL) {
        cls_error_set(err, CLS_FAIL, "JSON parse: no text given");
        return NULL;
    }

    bad = core_utf8_check(text, len);
    if (bad != len) {
        cls_error_set(err, CLS_FAIL,
                      "JSON parse: invalid UTF-8 at byte offset %zu", bad);
        return NULL;
    }

    tree = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (tree == NULL) {
        size_t at = end != NULL && end >= text ? (size_t)(end - text) : 0;

        cls_error_set(err, CLS_FAIL,
                      "JSON parse: syntax error at byte offset %zu", at);
        return NULL;
    }

    /* Only whitespace may follow the value. */
    while (end != NULL && (size_t)(end - text) < len &&
           strchr(" \t\r\n", *end) != NULL && *end != '\0')
        end++;
    if (end != NULL && (size_t)(end - text) < len) {
        cls_error_set(err, CLS_FAIL,
                      "JSON parse: unexpected text after the value at byte "
                      "offset %zu",
                      (size_t)(end - text));
        cJSON_Delete(tree);
        return NULL;
    }

    if (core_arena_defer(arena, delete_tree, tree) != 0) {
        cls_error_set(err, CLS_ENOMEM, "JSON parse: out of memory");
        return NULL;
    }
    return core_json_view(tree);
}

/* ------------------------------------------------------------------ */
/* Write side                                                          */
/* ------------------------------------------------------------------ */

/* Record the first error and return it; later errors keep the first. */
static cls_status out_fail(cls_out *out, cls_status code, const char *fmt, ...)
    CLS_PRINTF(3, 4);

static cls_status out_fail(cls_out *out, cls_status code, const char *fmt, ...)
{
    va_list ap;

    if (out->error != CLS_OK)
        return out->error;
    out->error = code;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
    return code;
}

cls_status core_out_init(cls_out *out)
{
    memset(out, 0, sizeof(*out));
    out->root = cJSON_CreateObject();
    if (out->root == NULL)
        return out_fail(out, CLS_ENOMEM, "output builder: out of memory");
    out->stack[0] = out->root;
    out->depth = 1;
    return CLS_OK;
}

void core_out_fini(cls_out *out)
{
    cJSON_Delete(out->root);
    memset(out, 0, sizeof(*out));
}

static int utf8_ok(const char *s)
{
    size_t len = strlen(s);

    return core_utf8_check(s, len) == len;
}

/* Check the builder can take a value under key; CLS_OK or the error. */
static cls_status out_ready(cls_out *out, const char *key)
{
    cJSON *parent;

    if (out == NULL)
        return CLS_EINVAL;
    if (out->error != CLS_OK)
        return out->error;
    if (out->depth == 0)
        return out_fail(out, CLS_EINVAL,
                        "output builder: the root object is already closed");

    parent = out->stack[out->depth - 1];
    if (cJSON_IsObject(parent)) {
        if (key == NULL)
            return out_fail(out, CLS_EINVAL,
                            "output builder: a member of an object needs a "
                            "key");
        if (!utf8_ok(key))
            return out_fail(out, CLS_EINVAL,
                            "output builder: key is not valid UTF-8");
        if (cJSON_GetObjectItemCaseSensitive(parent, key) != NULL)
            return out_fail(out, CLS_EINVAL,
                            "output builder: duplicate key \"%s\"", key);
    }
    else if (key != NULL) {
        return out_fail(out, CLS_EINVAL,
                        "output builder: key \"%s\" given inside an array",
                        key);
    }
    return CLS_OK;
}

/* Attach item (which may be NULL after a failed create) under key. */
static cls_status out_attach(cls_out *out, const char *key, cJSON *item)
{
    cJSON *parent = out->stack[out->depth - 1];

    if (item == NULL)
        return out_fail(out, CLS_ENOMEM, "output builder: out of memory");

    if (key != NULL) {
        if (!cJSON_AddItemToObject(parent, key, item)) {
            cJSON_Delete(item);
            return out_fail(out, CLS_ENOMEM, "output builder: out of memory");
        }
    }
    else if (!cJSON_AddItemToArray(parent, item)) {
        cJSON_Delete(item);
        return out_fail(out, CLS_ENOMEM, "output builder: out of memory");
    }
    return CLS_OK;
}

cls_status core_out_string(cls_out *out, const char *key, const char *value)
{
    cls_status st = out_ready(out, key);

    if (st != CLS_OK)
        return st;
    if (value == NULL)
        return out_attach(out, key, cJSON_CreateNull());
    if (!utf8_ok(value))
        return out_fail(out, CLS_EINVAL,
                        "output builder: value of \"%s\" is not valid UTF-8",
                        key != NULL ? key : "(array element)");
    return out_attach(out, key, cJSON_CreateString(value));
}

cls_status core_out_number(cls_out *out, const char *key, double value)
{
    cls_status st = out_ready(out, key);

    if (st != CLS_OK)
        return st;
    if (!isfinite(value))
        return out_fail(out, CLS_EINVAL,
                        "output builder: value of \"%s\" is not a finite "
                        "number",
                        key != NULL ? key : "(array element)");
    return out_attach(out, key, cJSON_CreateNumber(value));
}

/* Integers beyond 2^53 do not survive a double; write their digits. */
#define OUT_EXACT_INT ((int64_t)1 << 53)

cls_status core_out_int(cls_out *out, const char *key, int64_t value)
{
    cls_status st = out_ready(out, key);
    char digits[32];

    if (st != CLS_OK)
        return st;
    if (value >= -OUT_EXACT_INT && value <= OUT_EXACT_INT)
        return out_attach(out, key, cJSON_CreateNumber((double)value));
    snprintf(digits, sizeof(digits), "%lld", (long long)value);
    return out_attach(out, key, cJSON_CreateRaw(digits));
}

cls_status core_out_bool(cls_out *out, const char *key, int value)
{
    cls_status st = out_ready(out, key);

    if (st != CLS_OK)
        return st;
    return out_attach(out, key, cJSON_CreateBool(value != 0));
}

cls_status core_out_null(cls_out *out, const char *key)
{
    cls_status st = out_ready(out, key);

    if (st != CLS_OK)
        return st;
    return out_attach(out, key, cJSON_CreateNull());
}

static cls_status out_open(cls_out *out, const char *key, cJSON *container)
{
    cls_status st = out_ready(out, key);

    if (st != CLS_OK) {
        cJSON_Delete(container);
        return st;
    }
    if (out->depth == CORE_OUT_MAX_DEPTH) {
        cJSON_Delete(container);
        return out_fail(out, CLS_EINVAL,
                        "output builder: nesting deeper than %d levels",
                        CORE_OUT_MAX_DEPTH);
    }

    st = out_attach(out, key, container);
    if (st != CLS_OK)
        return st;
    out->stack[out->depth++] = container;
    return CLS_OK;
}

cls_status core_out_object_begin(cls_out *out, const char *key)
{
    return out_open(out, key, cJSON_CreateObject());
}

cls_status core_out_array_begin(cls_out *out, const char *key)
{
    return out_open(out, key, cJSON_CreateArray());
}

cls_status core_out_end(cls_out *out)
{
    if (out == NULL)
        return CLS_EINVAL;
    if (out->error != CLS_OK)
        return out->error;
    if (out->depth <= 1)
        return out_fail(out, CLS_EINVAL,
                        "output builder: end() without an open object or "
                        "array");
    out->depth--;
    return CLS_OK;
}

/* Check every string and key in tree is UTF-8 (input may have come from
 * anywhere, for example a journal). */
static int tree_utf8_ok(const cJSON *n)
{
    for (; n != NULL; n = n->next) {
        if (n->string != NULL && !utf8_ok(n->string))
            return 0;
        if (cJSON_IsString(n) && !utf8_ok(n->valuestring))
            return 0;
        if (!tree_utf8_ok(n->child))
            return 0;
    }
    return 1;
}

cls_status core_out_json(cls_out *out, const char *key, const cls_json *v)
{
    const cJSON *n = core_json_node(v);
    cls_status st = out_ready(out, key);

    if (st != CLS_OK)
        return st;
    if (n == NULL)
        return out_fail(out, CLS_EINVAL,
                        "output builder: copy of an absent value for \"%s\"",
                        key != NULL ? key : "(array element)");
    if (cJSON_IsString(n) && !utf8_ok(n->valuestring))
        return out_fail(out, CLS_EINVAL,
                        "output builder: copied value is not valid UTF-8");
    if (!tree_utf8_ok(n->child))
        return out_fail(out, CLS_EINVAL,
                        "output builder: copied value is not valid UTF-8");
    return out_attach(out, key, cJSON_Duplicate(n, 1));
}

cls_status core_out_check(const cls_out *out, cls_error *err)
{
    if (out->error != CLS_OK)
        return cls_error_set(err, out->error, "%s", out->message);
    if (out->root == NULL)
        return cls_error_set(err, CLS_EINVAL, "output builder: no output");
    if (out->depth != 1)
        return cls_error_set(err, CLS_EINVAL,
                             "output builder: %zu object(s) or array(s) left "
                             "open",
                             out->depth - 1);
    return CLS_OK;
}

cls_status core_out_print(const cls_out *out, char **text, cls_error *err)
{
    cls_status st = core_out_check(out, err);

    *text = NULL;
    if (st != CLS_OK)
        return st;
    *text = cJSON_PrintUnformatted(out->root);
    if (*text == NULL)
        return cls_error_set(err, CLS_ENOMEM, "output builder: out of memory");
    return CLS_OK;
}

cls_status core_out_take(cls_out *out, struct core_arena *arena,
                         const cls_json **view, cls_error *err)
{
    cls_status st = core_out_check(out, err);
    cJSON *root;

    *view = NULL;
    if (st != CLS_OK)
        return st;

    root = out->root;
    out->root = NULL;
    out->depth = 0;
    if (core_arena_defer(arena, delete_tree, root) != 0)
        return cls_error_set(err, CLS_ENOMEM, "output builder: out of memory");
    *view = core_json_view(root);
    return CLS_OK;
}
