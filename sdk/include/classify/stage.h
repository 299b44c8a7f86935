/*
 * classify/stage.h - the stage plugin ABI of the classify host.
 *
 * This is the only header a stage plugin needs.  It includes nothing but
 * standard C headers; no type of the host's libraries (libconfig, libpq,
 * libcurl, cJSON) crosses this boundary.  Every name it declares starts
 * with cls_ or CLS_, and nothing else in the project uses that prefix.
 *
 * ABI change log
 * --------------
 *   1.0  First stable ABI: descriptor with create/process/destroy and the
 *        optional quiesce; host API table with logging, memory, typed
 *        config lookups, read-only JSON views, an output builder, LLM
 *        completion, journaled side effects, time and randomness, and
 *        metrics.
 *
 * Versioning rules
 * ----------------
 * A minor bump only appends: a member at the end of cls_host_api or
 * cls_stage_desc, a new enum value, a new flag bit.  Anything else is a
 * major bump.  The host loads a plugin when the plugin's ABI major equals
 * the host's and the plugin's required minor is not newer than the host's.
 * The entry symbol carries the major in its name, so a plugin built for
 * another major is refused before any of its structures is read.
 *
 * Life of a stage
 * ---------------
 * The host dlopens the plugin, calls the entry function once, checks the
 * descriptor, validates the stage's options against its config schema and
 * calls create().  It then calls process() once per item, possibly from
 * several threads at once (see CLS_STAGE_CONCURRENT), and finally
 * quiesce() (when present) and destroy().  Two instances of one library
 * may be alive at the same time during a hot reload.
 *
 * Rules that make unloading safe (the host relies on them for hot reload):
 *   - no mutable global or static state: keep everything in the instance;
 *   - no threads, timers or callbacks left behind after destroy();
 *   - no atexit()/on_exit() handlers, no constructor/destructor functions;
 *   - no thread-local storage with destructors;
 *   - no process-wide changes (signals, environment, cwd, locale, umask);
 *   - no sockets, files or database handles: the host owns all I/O and
 *     persistence, and stages reach the outside only through cls_host_api;
 *   - export no symbol but the entry function.
 *
 * Determinism
 * -----------
 * A stage may run again when the host replays a workflow.  Everything that
 * could differ between runs (LLM answers, time, randomness, any external
 * effect) must go through the host API, which journals the first answer
 * and returns the same one on every replay.
 */
#ifndef CLASSIFY_STAGE_H
#define CLASSIFY_STAGE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CLS_ABI_MAJOR 1
#define CLS_ABI_MINOR 0

/* "CLSG" - first member of every descriptor. */
#define CLS_STAGE_MAGIC 0x434c5347u

/* Name of the exported entry function for this ABI major. */
#define CLS_ENTRY_SYMBOL "cls_stage_entry_v1"

#if defined(__GNUC__)
#define CLS_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define CLS_EXPORT            __attribute__((visibility("default")))
#else
#define CLS_PRINTF(fmt, args)
#define CLS_EXPORT
#endif

/* ------------------------------------------------------------------ */
/* Status codes                                                        */
/* ------------------------------------------------------------------ */

/*
 * Every callback and every host function that can fail returns one of
 * these.  CLS_RETRY means the same call may succeed later (a timeout, a
 * rate limit); the host retries it with back-off.  CLS_FAIL means it will
 * never succeed for this item; the host records the failure with the
 * message from the error sink.  CLS_EINVAL is for bad configuration, from
 * create().  CLS_ENOMEM is an allocation failure (retryable).
 */
typedef enum cls_status {
    CLS_OK = 0,
    CLS_RETRY = 1,
    CLS_FAIL = 2,
    CLS_EINVAL = 3,
    CLS_ENOMEM = 4
} cls_status;

/*
 * Error sink.  Owned by the host, handed to every callback that can fail.
 * The plugin writes a message with cls_error_set(); nothing it allocates
 * crosses back.  Messages say what failed, where and why.
 */
#define CLS_ERROR_MAX 512

typedef struct cls_error {
    cls_status code;
    char message[CLS_ERROR_MAX];
} cls_error;

/*
 * Record a failure in err and return code, so a callback can write
 * "return cls_error_set(err, CLS_FAIL, ...);".  err may be NULL.  The
 * message is truncated to CLS_ERROR_MAX - 1 bytes.  Thread-safe: err is
 * owned by the current call.
 */
static inline cls_status cls_error_set(cls_error *err, cls_status code,
                                       const char *fmt, ...) CLS_PRINTF(3, 4);

static inline cls_status cls_error_set(cls_error *err, cls_status code,
                                       const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return code;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return code;
}

/* ------------------------------------------------------------------ */
/* Opaque handles                                                      */
/* ------------------------------------------------------------------ */

/* The host's handle for one stage instance: pass it to host functions
 * outside a call (logging, config, metrics).  Valid until destroy(). */
typedef struct cls_host cls_host;

/* One process() call.  Valid only during that call, only on its thread. */
typedef struct cls_call cls_call;

/* A read-only JSON value.  Owned by the host; lives as long as the call
 * (or the config view) it came from.  Never freed by the plugin. */
typedef struct cls_json cls_json;

/* Output builder for one process() call.  Owned by the host. */
typedef struct cls_out cls_out;

typedef enum cls_json_type {
    CLS_JSON_ABSENT = 0, /* the value does not exist (NULL handle) */
    CLS_JSON_NULL,
    CLS_JSON_BOOL,
    CLS_JSON_NUMBER,
    CLS_JSON_STRING,
    CLS_JSON_ARRAY,
    CLS_JSON_OBJECT
} cls_json_type;

typedef enum cls_log_level {
    CLS_LOG_ERROR = 0,
    CLS_LOG_WARN,
    CLS_LOG_INFO,
    CLS_LOG_DEBUG,
    CLS_LOG_TRACE
} cls_log_level;

/* ------------------------------------------------------------------ */
/* Pipeline slots                                                      */
/* ------------------------------------------------------------------ */

/*
 * The pipeline position a stage implements.  The host refuses a stage
 * wired into a slot it does not declare.  CLS_SLOT_CUSTOM stages may be
 * placed anywhere; their output is stored but not interpreted.
 */
typedef enum cls_slot {
    CLS_SLOT_CUSTOM = 0,
    CLS_SLOT_NORMALIZATION = 1,
    CLS_SLOT_TIME_INFERENCE = 2,
    CLS_SLOT_FAMILY_ASSIGNMENT = 3,
    CLS_SLOT_TYPE_CLASSIFICATION = 4,
    CLS_SLOT_BOOLEAN_REVIEW = 5,
    CLS_SLOT_FINAL_REVIEW = 6
} cls_slot;

/* ------------------------------------------------------------------ */
/* Config schema                                                       */
/* ------------------------------------------------------------------ */

typedef enum cls_config_type {
    CLS_CONFIG_END = 0, /* terminates a schema table */
    CLS_CONFIG_STRING,
    CLS_CONFIG_INT,
    CLS_CONFIG_DOUBLE,
    CLS_CONFIG_BOOL
} cls_config_type;

/*
 * One accepted option of a stage, as it appears in the stage's "options"
 * group of the pipeline config.  A table of these, ended by an entry with
 * type CLS_CONFIG_END, is the stage's config schema.  The host refuses a
 * config with an unknown option, a wrong type, a missing required option or
 * a number outside [min, max] (when min < max), naming file, line and key.
 * default_value is the textual default ("0.5", "true", "rules") or NULL.
 * The table lives in the plugin image and must be constant.
 */
typedef struct cls_config_key {
    const char *name;
    cls_config_type type;
    int required;
    const char *default_value;
    double min;
    double max;
    const char *description;
} cls_config_key;

/* ------------------------------------------------------------------ */
/* LLM requests                                                        */
/* ------------------------------------------------------------------ */

/*
 * A completion request.  The stage chooses neither the endpoint nor the
 * key: the host sends it to the provider configured for the stage, and
 * owns transport, credentials, rate limits, retries and timeouts.
 *
 * system_prompt must be byte-identical for every item so providers'
 * prompt caches hit; put all item data in user_message.
 *
 * response_schema is a JSON Schema (as text) for the one JSON object the
 * reply must hold.  The host extracts that object (one enclosing ``` or
 * ```json fence is stripped; two candidate objects are an error), checks
 * required fields, types, enums (exact match) and numeric bounds, drops
 * keys the schema does not name, and normalizes a number property named
 * "confidence" to 0..1 (values in (1, 100] are divided by 100; negative
 * or larger values are invalid).  An invalid reply is retried once with
 * the validation error appended to the conversation.
 */
typedef struct cls_llm_request {
    size_t struct_size; /* sizeof(cls_llm_request) */
    const char *system_prompt;
    const char *user_message;
    const char *schema_name;     /* short identifier, [a-z0-9_] */
    const char *response_schema; /* JSON Schema text */
    uint32_t max_output_tokens;  /* 0: the provider's default */
    double temperature;          /* < 0: the provider's default */
} cls_llm_request;

/*
 * The answer.  Every pointer is owned by the host and valid until the
 * process() call returns.  provider and model name who actually answered.
 */
typedef struct cls_llm_reply {
    size_t struct_size; /* set by the host */
    const cls_json *object;
    const char *text;
    const char *provider;
    const char *model;
    uint64_t input_tokens;
    uint64_t output_tokens;
    uint64_t cached_tokens;
    uint32_t latency_ms;
    uint32_t attempts;
} cls_llm_reply;

/* A journaled side effect: see cls_host_api.run. */
typedef cls_status (*cls_run_fn)(void *arg, cls_out *result, cls_error *err);

/* ------------------------------------------------------------------ */
/* Host API                                                            */
/* ------------------------------------------------------------------ */

/*
 * The host's services, handed to create() as one constant table that
 * stays valid until destroy().  Members are only ever appended; test for
 * a member added after 1.0 with CLS_HOST_HAS(api, member).
 *
 * Unless a comment says otherwise, every function is thread-safe, and a
 * function taking a cls_call may be used only on the thread running that
 * call, and only until process() returns.
 */
typedef struct cls_host_api {
    size_t struct_size; /* bytes valid in this table */
    uint16_t abi_major;
    uint16_t abi_minor;

    /* --- logging ---------------------------------------------- */

    /*
     * Write one log line.  The host prefixes it with the component
     * tag, the stage name, version and reload generation, and copies
     * the message before returning.  Never log secrets.
     */
    void (*log)(const cls_host *host, cls_log_level level, const char *fmt, ...)
        CLS_PRINTF(3, 4);

    /* Non-zero when lines of this level are written. */
    int (*log_enabled)(const cls_host *host, cls_log_level level);

    /* --- memory ----------------------------------------------- */

    /*
     * Instance memory, counted per instance: everything allocated here
     * must be freed with free() before destroy() returns; the host
     * reports a leak by stage name and version.  alloc returns NULL on
     * failure.
     */
    void *(*alloc)(const cls_host *host, size_t size);
    void (*free)(const cls_host *host, void *ptr);

    /*
     * Scratch memory that lives until the call returns, released by
     * the host.  Returns NULL on failure.  Zeroed.
     */
    void *(*call_alloc)(cls_call *call, size_t size);

    /* --- config ----------------------------------------------- */

    /*
     * The stage's own options, already validated against its schema
     * with defaults applied.  Each returns CLS_OK and writes *out, or
     * CLS_EINVAL when the key is not in the schema or has another
     * type.  Strings stay valid until destroy().
     */
    cls_status (*config_string)(const cls_host *host, const char *key,
                                const char **out);
    cls_status (*config_int)(const cls_host *host, const char *key,
                             int64_t *out);
    cls_status (*config_double)(const cls_host *host, const char *key,
                                double *out);
    cls_status (*config_bool)(const cls_host *host, const char *key, int *out);

    /*
     * The provider kind configured for this stage: "rules", "openai"
     * or "anthropic".  "rules" means no LLM is configured and
     * llm_complete() fails with CLS_FAIL.  Never NULL.
     */
    const char *(*provider_kind)(const cls_host *host);

    /*
     * Non-zero when the config asks this stage to fall back to its
     * rules after an LLM failure.
     */
    int (*fallback_to_rules)(const cls_host *host);

    /*
     * The directory the plugin file was deployed in (not the private
     * copy the host loaded), so a stage can find files shipped beside
     * it, such as prompts.  Read them in create(), not in process().
     */
    const char *(*plugin_dir)(const cls_host *host);

    /*
     * Read a whole text file relative to plugin_dir() (or absolute)
     * into instance memory; free it with free().  Only for create().
     * Returns NULL and fills err on failure.
     */
    char *(*read_file)(const cls_host *host, const char *path, size_t *len,
                       cls_error *err);

    /* --- JSON, read side -------------------------------------- */

    /* Type of v; CLS_JSON_ABSENT when v is NULL. */
    cls_json_type (*json_type)(const cls_json *v);

    /* Member key of an object, or NULL (not an object or absent). */
    const cls_json *(*json_get)(const cls_json *obj, const char *key);

    /* Element count of an array or object; 0 for anything else. */
    size_t (*json_size)(const cls_json *v);

    /* i-th element of an array or member of an object, or NULL. */
    const cls_json *(*json_at)(const cls_json *v, size_t i);

    /* Key of a value reached through json_at() on an object, or
     * NULL. */
    const char *(*json_key)(const cls_json *member);

    /* The string (UTF-8, NUL-terminated), or NULL if not a string. */
    const char *(*json_string)(const cls_json *v);

    /* CLS_OK and *out, or CLS_EINVAL if v is not a number. */
    cls_status (*json_number)(const cls_json *v, double *out);

    /* CLS_OK and *out (0 or 1), or CLS_EINVAL if not a boolean. */
    cls_status (*json_bool)(const cls_json *v, int *out);

    /*
     * Parse text into a value owned by the call.  Returns NULL and
     * fills err (with the byte offset) when text is not JSON.
     */
    const cls_json *(*json_parse)(cls_call *call, const char *text, size_t len,
                                  cls_error *err);

    /* --- JSON, write side ------------------------------------- */

    /*
     * The output builder starts as an empty object.  key names the
     * member inside an object and must be NULL inside an array.
     * object_begin/array_begin open a container that end() closes.
     * A NULL string writes JSON null.  Strings must be UTF-8.
     * Errors (CLS_EINVAL for misuse, CLS_ENOMEM) are sticky: the host
     * fails the call if the builder is in error when process()
     * returns.
     */
    cls_status (*out_string)(cls_out *out, const char *key, const char *value);
    cls_status (*out_number)(cls_out *out, const char *key, double value);
    cls_status (*out_int)(cls_out *out, const char *key, int64_t value);
    cls_status (*out_bool)(cls_out *out, const char *key, int value);
    cls_status (*out_null)(cls_out *out, const char *key);
    cls_status (*out_object_begin)(cls_out *out, const char *key);
    cls_status (*out_array_begin)(cls_out *out, const char *key);
    cls_status (*out_end)(cls_out *out);

    /* Deep copy of v (any type) into the output. */
    cls_status (*out_json)(cls_out *out, const char *key, const cls_json *v);

    /* --- LLM -------------------------------------------------- */

    /*
     * Complete req with the stage's provider (see cls_llm_request).
     * The answer is journaled: on replay the same reply is returned
     * without a network call.  reply->struct_size must be set by the
     * caller to sizeof(cls_llm_reply).  Returns CLS_OK, CLS_RETRY
     * (rate limited, timeout, 5xx after the host's own retries) or
     * CLS_FAIL (configuration error, refusal, truncation, invalid
     * output after one corrective retry), with a message in err.
     */
    cls_status (*llm_complete)(cls_call *call, const cls_llm_request *req,
                               cls_llm_reply *reply, cls_error *err);

    /* --- side effects, time, randomness ----------------------- */

    /*
     * Run fn once and journal what it wrote to its result builder,
     * under name (unique within the call).  On replay fn is not called
     * and *result is the journaled value.  fn gets its own builder
     * and error sink.  A CLS_RETRY from fn is retried by the host
     * with its configured policy; CLS_FAIL is journaled as a failure
     * and returned again on every replay.  *result lives as long as
     * the call.
     */
    cls_status (*run)(cls_call *call, const char *name, cls_run_fn fn,
                      void *arg, const cls_json **result, cls_error *err);

    /* Wall-clock time in ms since the epoch, journaled. */
    int64_t (*now_ms)(cls_call *call);

    /* A random 64-bit number, journaled. */
    uint64_t (*random_u64)(cls_call *call);

    /* Identifier of the item being processed (for log lines). */
    const char *(*call_item_id)(const cls_call *call);

    /* Non-zero when the call is being abandoned (shutdown, drain
     * timeout); long work should stop and return CLS_RETRY. */
    int (*call_cancelled)(const cls_call *call);

    /* --- metrics ---------------------------------------------- */

    /* Add delta to the stage counter name ([a-z0-9_]+). */
    void (*counter_add)(const cls_host *host, const char *name, uint64_t delta);

    /* Set the stage gauge name ([a-z0-9_]+). */
    void (*gauge_set)(const cls_host *host, const char *name, double value);
} cls_host_api;

/* Non-zero when the host table has member (it may be older than us). */
#define CLS_HOST_HAS(api, member)                                              \
    (offsetof(cls_host_api, member) + sizeof((api)->member) <=                 \
     (api)->struct_size)

/* ------------------------------------------------------------------ */
/* The stage descriptor                                                */
/* ------------------------------------------------------------------ */

/* process() may run concurrently on one instance. */
#define CLS_STAGE_CONCURRENT (1u << 0)
/* The stage can call an LLM when a provider is configured. */
#define CLS_STAGE_USES_LLM (1u << 1)

/*
 * Build an instance.  api and host stay valid until destroy(); keep them
 * in the instance.  Write the instance pointer to *instance.  Called on
 * the host's control thread.  On failure return CLS_EINVAL or CLS_FAIL
 * with a message; destroy() is then not called, so free what you made.
 */
typedef cls_status (*cls_create_fn)(const cls_host_api *api, cls_host *host,
                                    void **instance, cls_error *err);

/*
 * Process one item.  input is an object:
 *   { "indicator": { "id", "name", "units", "scale", "periodicity",
 *                    "currency_code", "definition", "sample_values":
 *                    [ { "date", "value" } ], ... },
 *     "results":   { "<stage name>": { ... }, ... } }
 * where results holds the outputs of the stages before this one, keyed
 * by stage name.  Write this stage's result into out.  Called on a worker
 * thread, concurrently on one instance only with CLS_STAGE_CONCURRENT;
 * the instance must then be read-only or guard its own state.
 */
typedef cls_status (*cls_process_fn)(void *instance, cls_call *call,
                                     const cls_json *input, cls_out *out,
                                     cls_error *err);

/*
 * Optional.  Stop everything the instance does on its own; after it
 * returns, no code of the instance runs until destroy().  Control thread.
 */
typedef void (*cls_quiesce_fn)(void *instance);

/* Free the instance and everything it owns.  Control thread. */
typedef void (*cls_destroy_fn)(void *instance);

/*
 * What the entry function returns.  Constant, in the plugin image.  The
 * host copies the strings it keeps.  Fields are only appended; the host
 * reads only those within struct_size.
 */
typedef struct cls_stage_desc {
    uint32_t magic;       /* CLS_STAGE_MAGIC */
    uint32_t struct_size; /* sizeof(cls_stage_desc) */
    uint16_t abi_major;   /* CLS_ABI_MAJOR */
    uint16_t abi_minor;   /* oldest host minor this stage needs */
    uint32_t flags;       /* CLS_STAGE_* */

    const char *name;        /* stage name, [a-z0-9-]+ */
    const char *version;     /* semantic version, "1.2.0" */
    const char *build_id;    /* VCS id or build stamp */
    const char *description; /* one line */
    cls_slot slot;

    const char *service; /* Restate service name */
    const char *handler; /* Restate handler name */

    const cls_config_key *config_schema; /* may be NULL: no options */

    cls_create_fn create;
    cls_process_fn process;
    cls_destroy_fn destroy;
    cls_quiesce_fn quiesce; /* optional, may be NULL */
} cls_stage_desc;

/* The entry function every plugin exports under CLS_ENTRY_SYMBOL. */
typedef const cls_stage_desc *(*cls_entry_fn)(void);

/*
 * Define the entry function of a plugin:
 *     CLS_STAGE_DEFINE(my_descriptor)
 * where my_descriptor is a static const cls_stage_desc.
 */
#define CLS_STAGE_DEFINE(desc)                                                 \
    CLS_EXPORT const cls_stage_desc *cls_stage_entry_v1(void);                 \
    CLS_EXPORT const cls_stage_desc *cls_stage_entry_v1(void)                  \
    {                                                                          \
        return &(desc);                                                        \
    }

#ifdef __cplusplus
}
#endif

#endif /* CLASSIFY_STAGE_H */
