/*
 * reload.h - hot reload of stage plugins: build a new pipeline generation
 * beside the running one, publish it atomically, drain and close the old
 * one, and roll back to the previous generation on request.
 *
 * A reload is given the stage specs of a fully validated configuration.
 * For each stage it hashes the deployed file; a stage whose file hash and
 * configuration both equal those of the active generation is reused (its
 * record gains a reference), any other is copied into a private file with
 * a new inode under copy_dir and loaded from there (dlopen would otherwise
 * hand back the mapping of the old file).  Any failure refuses the whole
 * reload with one message and leaves the active generation untouched.
 *
 * Retired generations are watched by a reaper thread: once nothing but
 * the reloader holds one, its reference is dropped there (destroying and
 * closing the stages no live generation shares), the copies nothing uses
 * any more are checked to be unmapped and deleted, and the drain time is
 * recorded.  A generation still busy after drain_timeout_ms is reported as
 * stuck and is never force-closed.
 *
 * The copies of the generation replaced last are kept so a rollback can
 * load exactly those builds again without a rebuild.
 */
#ifndef CORE_STAGE_RELOAD_H
#define CORE_STAGE_RELOAD_H

#include <stddef.h>

#include "classify/stage.h"
#include "stage/pipeline.h"
#include "stage/stage.h"

struct stage_reloader;

/* Settings of a reloader. */
struct reload_options {
    const char *copy_dir;      /* private copies; created (0700) if absent */
    unsigned drain_timeout_ms; /* after this, a busy generation is stuck */
};

/* What a successful reload did. */
struct reload_outcome {
    unsigned generation; /* the generation now active */
    unsigned replaced;   /* the generation it replaced (0: none) */
    size_t n_loaded;     /* stages loaded from a new copy */
    size_t n_reused;     /* stages shared with the replaced generation */
    char summary[1024];  /* "loaded type-classification 2.0.0 (...); ..." */
};

/*
 * Called after the new generation is built and before it is published,
 * with the active generation (NULL on the first load) and the new one.
 * Returns 0 to go on, or -1 with err filled to refuse the reload.  Runs on
 * the reloading thread with the reloader locked: it must not call back
 * into the reloader.
 */
typedef int (*reload_hook_fn)(void *arg, const struct pipeline *active,
                              const struct pipeline *next, cls_error *err);

/*
 * A reloader publishing into holder (borrowed; must outlive the reloader)
 * and its reaper thread.  Creates copy_dir if needed.  Returns NULL with
 * err filled (copy_dir unusable, out of memory, thread start failure).
 * Control thread.
 */
struct stage_reloader *reload_new(struct pipeline_holder *holder,
                                  const struct reload_options *opts,
                                  cls_error *err);

/*
 * Load specs[0..n) (borrowed strings, as config_stage_specs() makes them)
 * as the next generation, reusing unchanged stages of the active one, call
 * hook (may be NULL) and publish.  Returns 0 with *out filled, or -1 with
 * err naming the stage, the file and the reason; then nothing changed.
 * Only one reload or rollback runs at a time: a concurrent call is refused
 * at once ("a reload is already in progress").  Any thread.
 */
int reload_apply(struct stage_reloader *r, const struct stage_spec *specs,
                 size_t n, reload_hook_fn hook, void *hook_arg,
                 struct reload_outcome *out, cls_error *err);

/*
 * Load the generation replaced last again, from its kept copies, as a new
 * generation id (stages identical to the active ones are reused).  The
 * generation replaced by the rollback becomes the one a further rollback
 * returns to.  Same contract as reload_apply(); refused when there is no
 * previous generation.
 */
int reload_rollback(struct stage_reloader *r, reload_hook_fn hook,
                    void *hook_arg, struct reload_outcome *out, cls_error *err);

/*
 * Count a reload refused before it reached the reloader (for example a
 * configuration error) and log message.  Any thread.
 */
void reload_note_refusal(struct stage_reloader *r, const char *message);

/* Change the drain timeout for generations retired from now on. */
void reload_set_drain_timeout(struct stage_reloader *r, unsigned ms);

/* Id of the active generation (0 before the first load).  Any thread. */
unsigned reload_active_generation(struct stage_reloader *r);

/*
 * The generations loaded (active, retiring, stuck) with their in-flight
 * counts and stages, and the reload counters, as a JSON object.  Returns
 * a malloc'd NUL-terminated string (caller frees) or NULL on ENOMEM.
 * Any thread.
 */
char *reload_status_json(struct stage_reloader *r);

/*
 * The reload metrics in Prometheus text exposition format (version
 * 0.0.4): reloads, refusals, rollbacks, drain times, stuck generations,
 * in-flight calls per generation and per stage.  malloc'd, or NULL on
 * ENOMEM.  Any thread.
 */
char *reload_metrics_text(struct stage_reloader *r);

/*
 * Wait until no retired generation is left to drain or timeout_ms passed.
 * Returns the number still retiring (stuck ones included).  Any thread
 * but the reaper.
 */
size_t reload_wait_drained(struct stage_reloader *r, unsigned timeout_ms);

/*
 * Stop the reaper and free the reloader.  Retired generations that have
 * drained are closed; stuck ones are logged and left mapped.  The active
 * generation stays in the holder (release it with pipeline_holder_fini()).
 * Copies no live stage uses are deleted.  Control thread, after every
 * other caller is done.
 */
void reload_free(struct stage_reloader *r);

#endif /* CORE_STAGE_RELOAD_H */
