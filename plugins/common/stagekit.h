/*
 * stagekit.h - plumbing shared by the six stage plugins.
 *
 * The instance frame (provider, fallback, prompt and schemas loaded once
 * in create()), read helpers over the host's JSON views, the user message
 * that carries all item data to an LLM, the per-item choice between the
 * rules and the LLM (sk_decide), and a small growable buffer.
 * Only the SDK is used; no state outside the instance.
 */
#ifndef CLS_COMMON_STAGEKIT_H
#define CLS_COMMON_STAGEKIT_H

#include <stddef.h>

#include "classify/stage.h"
#include "classify/taxonomy.h"

#define SK_COUNT_ONE(id, text) +1
/* How many families classify/taxonomy.h names. */
enum { SK_N_FAMILIES = 0 CLS_FAMILIES(SK_COUNT_ONE) };
#undef SK_COUNT_ONE

/* A growable text buffer on malloc; len excludes the NUL.  A failed
 * append sets failed and keeps what was written. */
struct sk_buf {
    char *data;
    size_t len;
    size_t cap;
    int failed;
};

/* Append text (n bytes, or strlen when n is (size_t)-1).  Thread: the
 * caller's.  On ENOMEM sets b->failed. */
void sk_buf_add(struct sk_buf *b, const char *text, size_t n);

/* Append a printf-formatted text; ENOMEM sets b->failed. */
void sk_buf_printf(struct sk_buf *b, const char *fmt, ...) CLS_PRINTF(2, 3);

/* Release the buffer's memory; b becomes empty. */
void sk_buf_free(struct sk_buf *b);

/* One stage instance: everything process() needs, read-only after
 * create() so process() may run on several threads at once. */
struct sk_stage {
    const cls_host_api *api;
    cls_host *host;
    const char *name;
    int use_llm;
    int fallback;
    char *system_prompt; /* instance memory, NULL with provider rules */
    char *schema;        /* instance memory, NULL with provider rules */
    int64_t max_output_tokens;
    double temperature;
    /* With sk_create_per_family and an LLM provider: schema.json with
     * {{types}} scoped to each family, in CLS_FAMILIES order; instance
     * memory, else all NULL. */
    char *family_schema[SK_N_FAMILIES];
};

/*
 * Build the instance of stage name: read the provider and the options
 * prompt_dir, max_output_tokens and temperature (see SK_CONFIG_KEYS), and,
 * when the provider is an LLM, load prompt_dir/system.md and
 * prompt_dir/schema.json through the host's read_file and expand the
 * {{list}} placeholders from classify/taxonomy.h.  Control thread only.
 * Returns CLS_OK and *out, or CLS_EINVAL/CLS_ENOMEM with a message.
 */
cls_status sk_create(const cls_host_api *api, cls_host *host, const char *name,
                     struct sk_stage **out, cls_error *err);

/*
 * sk_create, and when the provider is an LLM also one response schema per
 * family (prompt_dir/schema.json, {{types}} scoped to the family) into
 * family_schema, for a stage whose valid types depend on the item's
 * family.  Control thread.  Returns like sk_create; nothing is left
 * allocated on failure.
 */
cls_status sk_create_per_family(const cls_host_api *api, cls_host *host,
                                const char *name, struct sk_stage **out,
                                cls_error *err);

/* Free an instance made by sk_create or sk_create_per_family (NULL is a
 * no-op).  Control thread. */
void sk_destroy(struct sk_stage *s);

/* sk_destroy with the signature of cls_stage_desc.destroy, for stages
 * whose instance is the frame itself.  Control thread. */
void sk_destroy_instance(void *instance);

/*
 * The response schema of family from family_schema, with *family_name set
 * to the family's canonical spelling (the schema variant); NULL (and
 * *family_name NULL) when family is NULL or not a family, or the instance
 * holds no per-family schemas.  Any thread.
 */
const char *sk_family_schema(const struct sk_stage *s, const char *family,
                             const char **family_name);

/* The config schema rows every stage has, to put in front of its own. */
#define SK_CONFIG_KEYS(stage)                                                  \
    {"prompt_dir",                                                             \
     CLS_CONFIG_STRING,                                                        \
     0,                                                                        \
     "prompts/" stage,                                                         \
     0,                                                                        \
     0,                                                                        \
     "folder of system.md and schema.json, relative to the plugin folder"},    \
        {"max_output_tokens",                                                  \
         CLS_CONFIG_INT,                                                       \
         0,                                                                    \
         "0",                                                                  \
         0,                                                                    \
         32768,                                                                \
         "LLM reply limit in tokens; 0 for the provider's default"},           \
    {                                                                          \
        "temperature", CLS_CONFIG_DOUBLE, 0, "-1", -1, 2,                      \
            "LLM sampling temperature; negative for the provider's default"    \
    }

/*
 * Expand every {{name}} in text (a list of classify/taxonomy.h: families,
 * types, family_types, aggregations, orientations, time_bases,
 * frequencies, time_sources, cumulative_patterns, unit_types, scales,
 * review_statuses; "_json" appended gives a quoted, comma-separated list)
 * into b.  Returns 0, or -1 naming the unknown placeholder in err.
 */
int sk_expand(const char *text, struct sk_buf *b, cls_error *err);

/*
 * sk_expand with {{types}} and {{types_json}} restricted to the types
 * family allows (CLS_FAMILY_TYPES); family NULL expands like sk_expand.
 * Returns 0, or -1 with err naming an unknown family or placeholder.
 */
int sk_expand_family(const char *text, const char *family, struct sk_buf *b,
                     cls_error *err);

/*
 * Load prompt_dir/file of instance s, expanded with sk_expand_family for
 * family, into *out (instance memory: release with s->api->free).
 * Control thread (create()).  Returns CLS_OK, or CLS_EINVAL/CLS_ENOMEM
 * with a message naming the file; *out is then NULL.
 */
cls_status sk_load_family(const struct sk_stage *s, const char *file,
                          const char *family, char **out, cls_error *err);

/* String member key of obj, or NULL (absent, null or not a string). */
const char *sk_str(const cls_host_api *api, const cls_json *obj,
                   const char *key);

/* Number member key of obj into *out; 0 when absent or not a number. */
int sk_num(const cls_host_api *api, const cls_json *obj, const char *key,
           double *out);

/* Boolean member key of obj; dflt when absent or not a boolean. */
int sk_bool(const cls_host_api *api, const cls_json *obj, const char *key,
            int dflt);

/* input.indicator, and input.results[stage] (NULL when absent). */
const cls_json *sk_indicator(const cls_host_api *api, const cls_json *input);
const cls_json *sk_result(const cls_host_api *api, const cls_json *input,
                          const char *stage);

/*
 * Ask the stage's LLM about input: the user message holds the indicator's
 * descriptive fields, its latest sample values and the earlier stages'
 * results as JSON, after the line task; the reply must follow schema,
 * named after the stage and variant ("type_classification_price_value";
 * variant NULL gives the stage name alone) so providers cache per schema.
 * The system prompt is the instance's.  On CLS_OK *reply is filled (valid
 * until process() returns).  Otherwise returns the host's status with its
 * message in err.  Worker thread of the call.
 */
cls_status sk_ask_schema(const struct sk_stage *s, cls_call *call,
                         const cls_json *input, const char *task,
                         const char *schema, const char *variant,
                         cls_llm_reply *reply, cls_error *err);

/*
 * One process() call's choice between the rules and the LLM.  map_reply
 * reads a reply into the stage's result (in ctx) and returns CLS_FAIL
 * with a message when it cannot use it; run_rules writes the rules'
 * answer into the same result, all of it, as it may follow a map_reply
 * that failed halfway.  schema NULL asks with the instance's schema;
 * variant names the schema like sk_ask_schema.  ctx is the caller's.
 */
struct sk_plan {
    const char *task;
    const char *schema;
    const char *variant;
    int rules_only; /* non-zero: this item needs no LLM call */
    cls_status (*map_reply)(void *ctx, const cls_json *reply, cls_error *err);
    void (*run_rules)(void *ctx);
    void *ctx;
};

/*
 * Decide the item as every stage does: with provider rules (or
 * plan->rules_only) run the rules; otherwise ask the LLM (sk_ask_schema)
 * and map its reply, and when asking or mapping fails either return that
 * failure (fallback off) or log a warning and run the rules.  On CLS_OK
 * the provenance is written to out (sk_out_provenance) and the stage
 * writes the rest of its result.  Worker thread of the call.
 */
cls_status sk_decide(const struct sk_stage *s, cls_call *call,
                     const cls_json *input, const struct sk_plan *plan,
                     cls_out *out, cls_error *err);

/* Write provider and model of the answer into out: "rules" and
 * "deterministic", the reply's provider/model, or "rules-fallback". */
void sk_out_provenance(const struct sk_stage *s, cls_out *out,
                       const cls_llm_reply *reply, int fell_back);

/*
 * The enum value of reply member key if it belongs to list (a
 * classify/taxonomy.h list, see vocab.h), else NULL.
 */
const char *sk_reply_enum(const cls_host_api *api, const cls_json *obj,
                          const char *key, int list);

/* Confidence member of obj clamped to 0..1, or dflt when absent. */
double sk_confidence(const cls_host_api *api, const cls_json *obj, double dflt);

#endif /* CLS_COMMON_STAGEKIT_H */
