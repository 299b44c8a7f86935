/*
 * pipeline.c - pipeline generations and the holder of the active one.
 */
#include "stage/pipeline.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* Refuse a non-custom slot that does not come after the previous one. */
static int slot_order_ok(const struct pipeline *p, struct cls_host *s,
                         cls_error *err)
{
    size_t i;

    if (s->slot == CLS_SLOT_CUSTOM)
        return 1;
    for (i = 0; i < p->n_stages; i++) {
        struct cls_host *o = p->stages[i];

        if (o->slot != CLS_SLOT_CUSTOM && o->slot >= s->slot) {
            cls_error_set(err, CLS_EINVAL,
                          "%s: stage %s implements slot %d, which cannot "
                          "follow stage %s (slot %d)",
                          s->plugin_path, s->name, (int)s->slot, o->name,
                          (int)o->slot);
            return 0;
        }
    }
    return 1;
}

/*
 * Report one refusal, prefixed with where the stage is configured
 * ("classify.conf:152: stage family-assignment: ..."), and keep the first
 * message, as the loader wrote it, in err.
 */
static void refuse(const struct stage_spec *spec, const cls_error *why,
                   pipeline_report_fn report, void *arg, cls_error *err,
                   int *failed)
{
    char line[CLS_ERROR_MAX + 256];

    /* The loader's own messages may already say where (an option's line). */
    if (report != NULL && spec->file != NULL &&
        strncmp(why->message, spec->file, strlen(spec->file)) != 0) {
        snprintf(line, sizeof(line), "%s:%d: stage %s: %s", spec->file,
                 spec->line, spec->name ? spec->name : "?", why->message);
        report(arg, line);
    }
    else if (report != NULL)
        report(arg, why->message);
    if (!*failed)
        cls_error_set(err, why->code, "%s", why->message);
    *failed = 1;
}

struct pipeline *pipeline_load(const struct stage_spec *specs, size_t n,
                               unsigned id, pipeline_report_fn report,
                               void *report_arg, cls_error *err)
{
    struct pipeline *p = calloc(1, sizeof(*p));
    int failed = 0;
    size_t i;

    if (p == NULL || (n > 0 && !(p->stages = calloc(n, sizeof(*p->stages))))) {
        free(p);
        cls_error_set(err, CLS_ENOMEM, "pipeline: out of memory");
        return NULL;
    }
    p->id = id;
    atomic_init(&p->refs, 1);

    for (i = 0; i < n; i++) {
        cls_error why = {0};
        struct cls_host *s;

        s = stage_load(&specs[i], id, p->stages, p->n_stages, &why);
        if (s != NULL && !slot_order_ok(p, s, &why)) {
            stage_unref(s);
            s = NULL;
        }
        if (s == NULL) {
            refuse(&specs[i], &why, report, report_arg, err, &failed);
            continue;
        }
        p->stages[p->n_stages++] = s;
    }

    if (failed) {
        pipeline_release(p);
        return NULL;
    }
    log_info("pipeline", "generation %u ready with %zu stage(s)", id,
             p->n_stages);
    return p;
}

struct cls_host *pipeline_find(const struct pipeline *p, const char *name)
{
    size_t i;

    for (i = 0; i < p->n_stages; i++) {
        if (strcmp(p->stages[i]->name, name) == 0)
            return p->stages[i];
    }
    return NULL;
}

void pipeline_acquire(struct pipeline *p)
{
    atomic_fetch_add(&p->refs, 1);
}

size_t pipeline_release(struct pipeline *p)
{
    size_t leaked = 0, i;

    if (p == NULL || atomic_fetch_sub(&p->refs, 1) != 1)
        return 0;
    for (i = p->n_stages; i > 0; i--)
        leaked += stage_unref(p->stages[i - 1]);
    free(p->stages);
    free(p);
    return leaked;
}

void pipeline_holder_init(struct pipeline_holder *h)
{
    pthread_mutex_init(&h->lock, NULL);
    h->active = NULL;
}

struct pipeline *pipeline_holder_acquire(struct pipeline_holder *h)
{
    struct pipeline *p;

    pthread_mutex_lock(&h->lock);
    p = h->active;
    if (p != NULL)
        pipeline_acquire(p);
    pthread_mutex_unlock(&h->lock);
    return p;
}

struct pipeline *pipeline_holder_swap(struct pipeline_holder *h,
                                      struct pipeline *p)
{
    struct pipeline *old;

    pthread_mutex_lock(&h->lock);
    old = h->active;
    h->active = p;
    pthread_mutex_unlock(&h->lock);
    return old;
}

void pipeline_holder_fini(struct pipeline_holder *h)
{
    pipeline_release(pipeline_holder_swap(h, NULL));
    pthread_mutex_destroy(&h->lock);
}
