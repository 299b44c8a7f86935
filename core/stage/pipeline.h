/*
 * pipeline.h - a pipeline generation: the stage instances of one
 * configuration in plan order, with a generation id and a host-held
 * reference count, and the holder that publishes the active generation.
 *
 * A worker takes a reference before it runs an item through the pipeline
 * and drops it when done; a reload publishes a new generation and the old
 * one is torn down when its last reference goes.  Plugin code never
 * touches these counts.
 */
#ifndef CORE_STAGE_PIPELINE_H
#define CORE_STAGE_PIPELINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "stage/stage.h"

struct pipeline {
    unsigned id;
    struct cls_host **stages; /* plan order; each holds one reference */
    size_t n_stages;
    atomic_uint refs;
};

/*
 * Called once per refused stage with the loader's message (which names
 * the file and the reason).
 */
typedef void (*pipeline_report_fn)(void *arg, const char *message);

/*
 * Load every stage of specs[0..n) in order as generation id.  Every
 * stage is tried, so all problems are reported through report (which may
 * be NULL); non-custom slots must appear in increasing slot order.
 * Returns the generation with one reference, or NULL when any stage was
 * refused (err holds the first message).  Control thread.
 */
struct pipeline *pipeline_load(const struct stage_spec *specs, size_t n,
                               unsigned id, pipeline_report_fn report,
                               void *report_arg, cls_error *err);

/* The stage called name, or NULL.  Valid while a reference is held. */
struct cls_host *pipeline_find(const struct pipeline *p, const char *name);

/* Take a reference.  Any thread. */
void pipeline_acquire(struct pipeline *p);

/*
 * Drop a reference; the last one drops the generation's references to
 * its stages (destroying those no other generation holds) and frees p.
 * Returns the instance bytes leaked by destroyed stages.
 */
size_t pipeline_release(struct pipeline *p);

/* Publishes the active generation to workers. */
struct pipeline_holder {
    pthread_mutex_t lock;
    struct pipeline *active;
};

/* An empty holder.  Never fails. */
void pipeline_holder_init(struct pipeline_holder *h);

/*
 * The active generation with a reference taken for the caller (release
 * it with pipeline_release), or NULL when none is published.  Any thread.
 */
struct pipeline *pipeline_holder_acquire(struct pipeline_holder *h);

/*
 * Publish p (the holder takes over the caller's reference) and return
 * the previous generation with the holder's reference, for the caller to
 * release once it is drained.  p may be NULL to unpublish.
 */
struct pipeline *pipeline_holder_swap(struct pipeline_holder *h,
                                      struct pipeline *p);

/* Unpublish and release the active generation; destroy the lock. */
void pipeline_holder_fini(struct pipeline_holder *h);

#endif /* CORE_STAGE_PIPELINE_H */
