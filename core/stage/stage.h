/*
 * stage.h - the host side of the stage ABI: the record the host keeps for
 * each loaded stage instance (struct cls_host), the loader, option
 * validation, the host API table and the invocation of process().
 *
 * Life of an instance: stage_load() opens the plugin, checks its
 * descriptor, validates the options and calls create(); the returned
 * record starts with one reference.  Pipelines (pipeline.h) hold
 * references; stage_unref() of the last one quiesces, destroys, reports
 * leaked instance memory and closes the library.
 */
#ifndef CORE_STAGE_STAGE_H
#define CORE_STAGE_STAGE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "classify/stage.h"
#include "stage/desc.h" /* struct stage_option, stage_options_free() */

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

/* Type of an option value as written in the config file. */
enum stage_raw_type {
    STAGE_RAW_STRING,
    STAGE_RAW_INT,
    STAGE_RAW_FLOAT,
    STAGE_RAW_BOOL,
    STAGE_RAW_OTHER /* a group, list or array: never a valid option */
};

/* One entry of a stage's "options" group, before validation. */
struct stage_raw_option {
    const char *key;
    enum stage_raw_type type;
    const char *s;
    int64_t i;
    double d;
    int b;
    int line;
};

/* ------------------------------------------------------------------ */
/* What the configuration says about one stage                         */
/* ------------------------------------------------------------------ */

/*
 * Borrowed strings; the loader copies what it keeps.  name, when not
 * NULL, must equal the name the plugin declares.  file/line locate the
 * stage entry (and options_line its options group) for messages.
 */
struct stage_spec {
    const char *name;
    const char *plugin_path;   /* the file to dlopen */
    const char *plugin_dir;    /* where the plugin was deployed */
    const char *provider;      /* "rules" or a provider name */
    const char *provider_kind; /* "rules", "openai" or "anthropic" */
    int fallback_to_rules;
    const struct stage_raw_option *options;
    size_t n_options;
    const char *file;
    int line;
    int options_line;
};

/* ------------------------------------------------------------------ */
/* The record of one stage instance                                    */
/* ------------------------------------------------------------------ */

struct stage_block;

struct stage_metric {
    char name[64];
    int is_gauge;
    uint64_t count;
    double value;
};

struct cls_host {
    /* Identity, copied from the descriptor. */
    char *name;
    char *version;
    char *build_id;
    char *description;
    char *service;
    char *handler;
    cls_slot slot;
    uint32_t flags;
    uint16_t abi_minor;

    /* From the configuration. */
    char *plugin_path;
    char *plugin_dir;
    char *provider;
    char *provider_kind;
    int fallback_to_rules;
    struct stage_option *options;
    size_t n_options;
    unsigned generation;

    /* Instance memory handed out by cls_host_api.alloc: a list of live
     * blocks, so what a stage leaks is reported and then reclaimed. */
    pthread_mutex_t mem_lock;
    struct stage_block *blocks;
    atomic_size_t mem_bytes;
    atomic_size_t mem_blocks;

    /* Metrics written by the stage. */
    pthread_mutex_t metrics_lock;
    struct stage_metric *metrics;
    size_t n_metrics;
    size_t cap_metrics;

    /* The plugin. */
    void *dl;
    cls_process_fn process;
    cls_destroy_fn destroy;
    cls_quiesce_fn quiesce;
    void *instance;
    atomic_uint refs;
    pthread_mutex_t call_lock; /* serialises non-concurrent stages */
    atomic_uint in_flight;     /* process() calls running (reload status) */
};

/* ------------------------------------------------------------------ */
/* Loader                                                              */
/* ------------------------------------------------------------------ */

/*
 * Load the plugin spec names, check its descriptor, validate its options
 * and create an instance stamped with generation.  others[0..n_others)
 * are the stages already in the pipeline being built, checked for a
 * duplicate stage or service name.  Returns the record with one reference,
 * or NULL with err holding one message that names the file and the reason.
 * Control thread only.
 */
struct cls_host *stage_load(const struct stage_spec *spec, unsigned generation,
                            struct cls_host *const *others, size_t n_others,
                            cls_error *err);

/* Take one more reference to s.  Any thread. */
void stage_ref(struct cls_host *s);

/*
 * Drop a reference; the last one quiesces and destroys the instance,
 * logs any leaked instance memory by stage name and version, and closes
 * the library.  Returns the bytes leaked by destroy() (0 when s lives on).
 * The last reference must be dropped on the control thread.
 */
size_t stage_unref(struct cls_host *s);

/*
 * Validate raw options against schema (which may be NULL) and build the
 * typed list with defaults applied into *out / *n_out (free with
 * stage_options_free(), desc.h).  Messages name spec->file, the line and the
 * option.  Returns CLS_OK, CLS_EINVAL or CLS_ENOMEM.
 */
cls_status stage_options_validate(const cls_config_key *schema,
                                  const char *stage_name,
                                  const struct stage_spec *spec,
                                  struct stage_option **out, size_t *n_out,
                                  cls_error *err);

/* ------------------------------------------------------------------ */
/* Host API                                                            */
/* ------------------------------------------------------------------ */

/*
 * Free every instance block s still holds (after destroy(), once the leak
 * has been reported).  Control thread.
 */
void stage_mem_reclaim(struct cls_host *s);

/* The constant host API table handed to every stage.  Never NULL. */
const cls_host_api *stage_host_api(void);

/*
 * Read the value of a counter or gauge a stage wrote; returns 0 and
 * fills *count / *value, or -1 when the stage never wrote it.
 */
int stage_metric_get(struct cls_host *s, const char *name, uint64_t *count,
                     double *value);

#endif /* CORE_STAGE_STAGE_H */
