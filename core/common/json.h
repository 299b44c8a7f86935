/*
 * json.h - the SDK's JSON views and output builder, implemented over cJSON,
 * and the per-call arena they allocate from.
 *
 * A cls_json handle is a cJSON node seen through the SDK's opaque type; the
 * host never hands a plugin anything it could free.  A cls_out is a cJSON
 * tree under construction with a stack of open containers and a sticky
 * error.  The same code backs the real host and the SDK's fake host.
 *
 * Threads: an arena and a builder belong to one call on one thread; the
 * read-side functions only read and may run on any thread that can see the
 * tree.
 */
#ifndef CORE_COMMON_JSON_H
#define CORE_COMMON_JSON_H

#include <stddef.h>

#include "classify/stage.h"

struct cJSON;

/* ------------------------------------------------------------------ */
/* Per-call arena                                                      */
/* ------------------------------------------------------------------ */

struct core_arena_chunk;
struct core_arena_cleanup;

/*
 * A bump allocator with cleanup callbacks.  Zero-initialise it
 * (struct core_arena a = {0}) or call core_arena_init(); release all of it
 * at once with core_arena_release().
 */
struct core_arena {
    struct core_arena_chunk *chunks;
    struct core_arena_cleanup *cleanups;
    size_t bytes;
};

/* Make a an empty arena.  Never fails. */
void core_arena_init(struct core_arena *a);

/*
 * Zeroed memory aligned for any type, living until core_arena_release().
 * Returns NULL on allocation failure or when size is 0.
 */
void *core_arena_alloc(struct core_arena *a, size_t size);

/* A copy of s (or of its first n bytes plus a NUL) in a; NULL on ENOMEM. */
char *core_arena_strdup(struct core_arena *a, const char *s);
char *core_arena_strndup(struct core_arena *a, const char *s, size_t n);

/*
 * Run fn(ptr) when a is released (last registered runs first).  Returns
 * 0, or -1 on allocation failure, in which case fn(ptr) is called at once
 * so the caller never leaks ptr.
 */
int core_arena_defer(struct core_arena *a, void (*fn)(void *), void *ptr);

/* Run the cleanups and free every chunk; a is empty and reusable after. */
void core_arena_release(struct core_arena *a);

/* ------------------------------------------------------------------ */
/* UTF-8                                                               */
/* ------------------------------------------------------------------ */

/*
 * Check that s[0..len) is well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF).  Returns len when it is, or the
 * byte offset of the first bad sequence.
 */
size_t core_utf8_check(const char *s, size_t len);

/* ------------------------------------------------------------------ */
/* Read side (the cls_host_api json_* members)                         */
/* ------------------------------------------------------------------ */

/* The node behind a view, and the view of a node (both may be NULL). */
const struct cJSON *core_json_node(const cls_json *v);
const cls_json *core_json_view(const struct cJSON *node);

/* Same contracts as the members of the same name in cls_host_api. */
cls_json_type core_json_type(const cls_json *v);
const cls_json *core_json_get(const cls_json *obj, const char *key);
size_t core_json_size(const cls_json *v);
const cls_json *core_json_at(const cls_json *v, size_t i);
const char *core_json_key(const cls_json *member);
const char *core_json_string(const cls_json *v);
cls_status core_json_number(const cls_json *v, double *out);
cls_status core_json_bool(const cls_json *v, int *out);

/*
 * Parse text[0..len) (which must be UTF-8 and hold exactly one JSON value)
 * into a tree freed when arena is released.  Returns NULL and fills err
 * with CLS_FAIL and the byte offset of the problem.
 */
const cls_json *core_json_parse(struct core_arena *arena, const char *text,
                                size_t len, cls_error *err);

/* ------------------------------------------------------------------ */
/* Write side (the cls_host_api out_* members)                         */
/* ------------------------------------------------------------------ */

/* Deepest nesting a builder accepts, counting the root object. */
#define CORE_OUT_MAX_DEPTH 64

/*
 * An output builder.  Initialise with core_out_init(), which makes the
 * root an empty object; free with core_out_fini().
 */
struct cls_out {
    struct cJSON *root;
    struct cJSON *stack[CORE_OUT_MAX_DEPTH];
    size_t depth;
    cls_status error;
    char message[CLS_ERROR_MAX];
};

/* Start an empty root object.  Returns CLS_OK or CLS_ENOMEM. */
cls_status core_out_init(cls_out *out);

/* Free the tree (if it was not taken) and clear the builder. */
void core_out_fini(cls_out *out);

/* Same contracts as the members of the same name in cls_host_api. */
cls_status core_out_string(cls_out *out, const char *key, const char *value);
cls_status core_out_number(cls_out *out, const char *key, double value);
cls_status core_out_int(cls_out *out, const char *key, int64_t value);
cls_status core_out_bool(cls_out *out, const char *key, int value);
cls_status core_out_null(cls_out *out, const char *key);
cls_status core_out_object_begin(cls_out *out, const char *key);
cls_status core_out_array_begin(cls_out *out, const char *key);
cls_status core_out_end(cls_out *out);
cls_status core_out_json(cls_out *out, const char *key, const cls_json *v);

/*
 * Check the builder is complete (no error, every container closed).
 * Returns CLS_OK, or the sticky error / CLS_EINVAL with err filled.
 */
cls_status core_out_check(const cls_out *out, cls_error *err);

/*
 * The finished output as compact JSON, malloc'd (caller frees).  Fails
 * like core_out_check(), or with CLS_ENOMEM.
 */
cls_status core_out_print(const cls_out *out, char **text, cls_error *err);

/*
 * Move the finished tree into arena and return a view of it; the builder
 * is left empty.  Fails like core_out_check(), or with CLS_ENOMEM.
 */
cls_status core_out_take(cls_out *out, struct core_arena *arena,
                         const cls_json **view, cls_error *err);

/*
 * The cls_host_api members that are exactly this file's functions (the JSON
 * views and the output builder), for a designated initializer: the real
 * host's table and the fake host's both use it, so they cannot drift.
 */
#define CORE_JSON_API_MEMBERS                                                  \
    .json_type = core_json_type, .json_get = core_json_get,                    \
    .json_size = core_json_size, .json_at = core_json_at,                      \
    .json_key = core_json_key, .json_string = core_json_string,                \
    .json_number = core_json_number, .json_bool = core_json_bool,              \
    .out_string = core_out_string, .out_number = core_out_number,              \
    .out_int = core_out_int, .out_bool = core_out_bool,                        \
    .out_null = core_out_null, .out_object_begin = core_out_object_begin,      \
    .out_array_begin = core_out_array_begin, .out_end = core_out_end,          \
    .out_json = core_out_json

#endif /* CORE_COMMON_JSON_H */
