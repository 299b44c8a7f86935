/*
 * desc.h - the checks the stage host and the SDK's fake host share: a
 * stage descriptor's fixed part and fields, and the typed reading of a
 * schema's textual option values.  Depends on classify/stage.h and libc
 * only, so libclassify-fakehost.a compiles it in unchanged.
 */
#ifndef CLASSIFY_STAGE_DESC_H
#define CLASSIFY_STAGE_DESC_H

#include <stddef.h>
#include <stdint.h>

#include "classify/stage.h"

/* One option after validation, defaults applied; owned by its host. */
struct stage_option {
    char *key;
    cls_config_type type;
    char *s;
    int64_t i;
    double d;
    int b;
};

/* Free a list of n options (keys and strings included); NULL is a no-op. */
void stage_options_free(struct stage_option *opts, size_t n);

/*
 * Defined by each host: host's validated option list into *opts / *n
 * (borrowed; stable while the instance lives).  host is not NULL.
 */
void stage_host_options(const cls_host *host, const struct stage_option **opts,
                        size_t *n);

/*
 * The cls_host_api config_* members: the option key of host when it has
 * the asked type, into *out.  CLS_OK, or CLS_EINVAL when host or key is
 * NULL, the key is unknown or of another type.  Any thread (options are
 * read-only while the instance lives).
 */
cls_status stage_config_string(const cls_host *host, const char *key,
                               const char **out);
cls_status stage_config_int(const cls_host *host, const char *key,
                            int64_t *out);
cls_status stage_config_double(const cls_host *host, const char *key,
                               double *out);
cls_status stage_config_bool(const cls_host *host, const char *key, int *out);

/*
 * The file read_file() opens for path: path itself when absolute, else
 * dir/path, written into full (size bytes).  Returns CLS_OK, or CLS_EINVAL
 * with err set when dir or path is NULL, path is empty or the result does
 * not fit.  Pure.
 */
cls_status stage_file_path(const char *dir, const char *path, char *full,
                           size_t size, cls_error *err);

/*
 * The argument checks every llm_complete makes: no NULL argument, both
 * struct_size fields set.  Returns CLS_OK, or CLS_EINVAL with err set.
 */
cls_status stage_llm_args_check(const cls_call *call,
                                const cls_llm_request *req,
                                const cls_llm_reply *reply, cls_error *err);

/*
 * Check descriptor d as the host would load it: magic, ABI, struct size,
 * name ([a-z0-9-], 1-64), version, slot, service and handler names and the
 * required callbacks.  Messages start with where (a plugin path, or "fake
 * host").  Returns CLS_OK, or CLS_EINVAL with err set.  d must not be NULL.
 * Pure; any thread.
 */
cls_status stage_desc_check(const char *where, const cls_stage_desc *d,
                            cls_error *err);

/* "a string", "an integer", ... for type t, for messages.  Static text. */
const char *stage_type_word(cls_config_type t);

/* The value an optional key of type t without a default takes: "", "0" or
 * "false".  Static text. */
const char *stage_implicit_default(cls_config_type t);

/*
 * Read text as type t into the matching output: *s (a malloc'd copy the
 * caller frees), *i and *d (integers set both), or *b ("true"/"1",
 * "false"/"0").  Numbers must be whole, in range and without trailing
 * characters.  Returns CLS_OK, CLS_EINVAL when text does not fit the type,
 * CLS_ENOMEM.  Thread-safe (uses errno).
 */
cls_status stage_value_parse(cls_config_type t, const char *text, char **s,
                             int64_t *i, double *d, int *b);

/* Whether numeric value v of key k lies outside k's [min, max] (a range is
 * set when min < max; never for strings and booleans). */
int stage_value_out_of_range(const cls_config_key *k, double v);

/* The schema key named key, or NULL; schema ends at CLS_CONFIG_END and may
 * be NULL.  Borrowed from schema. */
const cls_config_key *stage_schema_find(const cls_config_key *schema,
                                        const char *key);

#endif
