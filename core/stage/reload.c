/*
 * reload.c - hot reload of stage plugins (see reload.h): recipes of the
 * active and previous generations, private copies, the build of a new
 * generation, the atomic swap, the reaper that drains and closes retired
 * generations, status and metrics.
 */
#include "stage/reload.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define TAG "reload"

/* Largest plugin file accepted (a sanity bound, not a tuning knob). */
#define PLUGIN_MAX_BYTES (256u << 20)

/* How often the reaper looks at retired generations. */
#define REAP_INTERVAL_MS 20

/* Upper bounds (seconds) of the drain-time histogram buckets. */
static const double drain_buckets[] = {0.05, 0.1, 0.5, 1, 5, 10, 30, 60};
#define N_BUCKETS (sizeof(drain_buckets) / sizeof(drain_buckets[0]))

/* ------------------------------------------------------------------ */
/* State                                                               */
/* ------------------------------------------------------------------ */

/* How one stage of a generation was made: enough to make it again. */
struct recipe_entry {
    struct stage_spec spec; /* owned copy; plugin_path is the deployed file */
    struct stage_raw_option *options; /* spec.options */
    char *source;    /* where the bytes are read from for a load */
    char *copy_path; /* the private copy the stage was loaded from */
    uint64_t hash;
    size_t size;
};

struct recipe {
    unsigned generation;
    struct recipe_entry *e;
    size_t n;
};

/* A generation that was replaced and is draining. */
struct retired {
    struct pipeline *p; /* the reloader's reference */
    struct timespec since;
    unsigned timeout_ms;
    int stuck;
    struct retired *next;
};

/* A private copy on disk. */
struct copy_file {
    char *path;
    int pinned_reported;
    struct copy_file *next;
};

struct stage_reloader {
    pthread_mutex_t lock; /* everything below */
    pthread_cond_t wake;
    pthread_t reaper;
    int stop;
    atomic_int busy;             /* a reload or rollback is running */
    atomic_ullong busy_refusals; /* refused because one was running */

    struct pipeline_holder *holder;
    char *copy_dir;
    unsigned drain_timeout_ms;
    unsigned next_generation;
    unsigned seq; /* distinguishes copies made by this process */

    struct recipe *current;  /* the active generation */
    struct recipe *previous; /* the one it replaced: rollback target */
    struct retired *retired;
    struct copy_file *copies;

    uint64_t reloads, refusals, rollbacks, stuck_total, drained;
    uint64_t buckets[N_BUCKETS];
    double drain_sum_s, last_drain_s;
    char last_error[CLS_ERROR_MAX];
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static char *dup_opt(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static int dup_ok(const char *src, const char *copy)
{
    return src == NULL || copy != NULL;
}

static uint64_t elapsed_ms(const struct timespec *since)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)(now.tv_sec - since->tv_sec) * 1000u +
           (uint64_t)((now.tv_nsec - since->tv_nsec) / 1000000);
}

/* FNV-1a, 64 bits: a change detector, not a signature. */
static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Read a whole file.  Returns the bytes (malloc'd) or NULL with err. */
static unsigned char *read_all(const char *path, size_t *len, cls_error *err)
{
    unsigned char *buf = NULL;
    struct stat st;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) != 0) {
        cls_error_set(err, CLS_EINVAL, "cannot read plugin %s: %s", path,
                      strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || (size_t)st.st_size > PLUGIN_MAX_BYTES) {
        cls_error_set(err, CLS_EINVAL,
                      "plugin %s is not a regular file of at most %u bytes",
                      path, PLUGIN_MAX_BYTES);
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        cls_error_set(err, CLS_ENOMEM, "reading %s: out of memory", path);
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

        if (n <= 0) {
            cls_error_set(err, CLS_EINVAL, "cannot read plugin %s: %s", path,
                          n == 0 ? "file shrank while read" : strerror(errno));
            free(buf);
            buf = NULL;
            goto out;
        }
        got += (size_t)n;
    }
    *len = got;

out:
    if (fd >= 0)
        close(fd);
    return buf;
}

/* Write bytes to a new file (new inode) in copy_dir.  Returns the path. */
static char *write_copy(struct stage_reloader *r, const char *stage,
                        uint64_t hash, const unsigned char *bytes, size_t len,
                        cls_error *err)
{
    size_t n = strlen(r->copy_dir) + strlen(stage) + 64, done = 0;
    char *path = malloc(n);
    int fd;

    if (path == NULL) {
        cls_error_set(err, CLS_ENOMEM, "copy of %s: out of memory", stage);
        return NULL;
    }
    snprintf(path, n, "%s/%s-%016" PRIx64 "-%ld-%u.so", r->copy_dir, stage,
             hash, (long)getpid(), ++r->seq);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
    if (fd < 0) {
        cls_error_set(err, CLS_EINVAL, "cannot create private copy %s: %s",
                      path, strerror(errno));
        free(path);
        return NULL;
    }
    while (done < len) {
        ssize_t w = write(fd, bytes + done, len - done);

        if (w <= 0) {
            cls_error_set(err, CLS_EINVAL, "cannot write private copy %s: %s",
                          path, strerror(errno));
            close(fd);
            unlink(path);
            free(path);
            return NULL;
        }
        done += (size_t)w;
    }
    close(fd);
    return path;
}

/* Replace every occurrence of from in msg with to (messages of the loader
 * name the copy; the operator knows the deployed file).  Truncates. */
static void rename_in(char *msg, size_t size, const char *from, const char *to)
{
    char out[CLS_ERROR_MAX];
    size_t n = 0, flen = strlen(from);
    const char *p = msg, *at;

    while ((at = strstr(p, from)) != NULL && n < sizeof(out)) {
        n += (size_t)snprintf(out + n, sizeof(out) - n, "%.*s%s", (int)(at - p),
                              p, to);
        p = at + flen;
    }
    if (n < sizeof(out))
        snprintf(out + n, sizeof(out) - n, "%s", p);
    snprintf(msg, size, "%s", out);
}

/* ------------------------------------------------------------------ */
/* Recipes                                                             */
/* ------------------------------------------------------------------ */

static void entry_fini(struct recipe_entry *e)
{
    size_t i;

    free((char *)e->spec.name);
    free((char *)e->spec.plugin_path);
    free((char *)e->spec.plugin_dir);
    free((char *)e->spec.provider);
    free((char *)e->spec.provider_kind);
    free((char *)e->spec.file);
    for (i = 0; i < e->spec.n_options; i++) {
        free((char *)e->options[i].key);
        free((char *)e->options[i].s);
    }
    free(e->options);
    free(e->source);
    free(e->copy_path);
}

static void recipe_free(struct recipe *rc)
{
    size_t i;

    if (rc == NULL)
        return;
    for (i = 0; i < rc->n; i++)
        entry_fini(&rc->e[i]);
    free(rc->e);
    free(rc);
}

static int options_copy(struct recipe_entry *e, const struct stage_spec *s)
{
    size_t i;

    if (s->n_options == 0)
        return 0;
    e->options = calloc(s->n_options, sizeof(*e->options));
    if (e->options == NULL)
        return -1;
    e->spec.options = e->options;
    e->spec.n_options = s->n_options;
    for (i = 0; i < s->n_options; i++) {
        e->options[i] = s->options[i];
        e->options[i].key = dup_opt(s->options[i].key);
        e->options[i].s = dup_opt(s->options[i].s);
        if (!dup_ok(s->options[i].key, e->options[i].key) ||
            !dup_ok(s->options[i].s, e->options[i].s))
            return -1;
    }
    return 0;
}

/* Deep copy of s into e; source is where the bytes come from. */
static int entry_init(struct recipe_entry *e, const struct stage_spec *s,
                      const char *source)
{
    memset(e, 0, sizeof(*e));
    e->spec = *s;
    e->spec.options = NULL;
    e->spec.n_options = 0;
    e->spec.name = dup_opt(s->name);
    e->spec.plugin_path = dup_opt(s->plugin_path);
    e->spec.plugin_dir = dup_opt(s->plugin_dir);
    e->spec.provider = dup_opt(s->provider);
    e->spec.provider_kind = dup_opt(s->provider_kind);
    e->spec.file = dup_opt(s->file);
    e->source = dup_opt(source);
    if (!dup_ok(s->name, e->spec.name) ||
        !dup_ok(s->plugin_path, e->spec.plugin_path) ||
        !dup_ok(s->plugin_dir, e->spec.plugin_dir) ||
        !dup_ok(s->provider, e->spec.provider) ||
        !dup_ok(s->provider_kind, e->spec.provider_kind) ||
        !dup_ok(s->file, e->spec.file) || !dup_ok(source, e->source))
        return -1;
    return options_copy(e, s);
}

/* A recipe of n entries from specs; from_copies: read the kept copies of
 * base (a rollback) instead of the deployed files. */
static struct recipe *recipe_new(const struct stage_spec *specs, size_t n,
                                 const struct recipe *base)
{
    struct recipe *rc = calloc(1, sizeof(*rc));
    size_t i;

    if (rc == NULL || (rc->e = calloc(n ? n : 1, sizeof(*rc->e))) == NULL)
        goto fail;
    for (i = 0; i < n; i++) {
        const char *src = base ? base->e[i].copy_path : specs[i].plugin_path;

        rc->n++;
        if (entry_init(&rc->e[i], base ? &base->e[i].spec : &specs[i], src) !=
            0)
            goto fail;
    }
    return rc;

fail:
    recipe_free(rc);
    return NULL;
}

static int str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) ||
           (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int option_eq(const struct stage_raw_option *a,
                     const struct stage_raw_option *b)
{
    return str_eq(a->key, b->key) && a->type == b->type && str_eq(a->s, b->s) &&
           a->i == b->i && memcmp(&a->d, &b->d, sizeof(a->d)) == 0 &&
           a->b == b->b;
}

/* Same configuration (the file's content is compared by hash). */
static int spec_eq(const struct stage_spec *a, const struct stage_spec *b)
{
    size_t i;

    if (!str_eq(a->name, b->name) || !str_eq(a->plugin_path, b->plugin_path) ||
        !str_eq(a->plugin_dir, b->plugin_dir) ||
        !str_eq(a->provider, b->provider) ||
        !str_eq(a->provider_kind, b->provider_kind) ||
        a->fallback_to_rules != b->fallback_to_rules ||
        a->n_options != b->n_options)
        return 0;
    for (i = 0; i < a->n_options; i++) {
        if (!option_eq(&a->options[i], &b->options[i]))
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------ */
/* Copies                                                              */
/* ------------------------------------------------------------------ */

static int recipe_uses(const struct recipe *rc, const char *path)
{
    size_t i;

    for (i = 0; rc != NULL && i < rc->n; i++) {
        if (rc->e[i].copy_path && strcmp(rc->e[i].copy_path, path) == 0)
            return 1;
    }
    return 0;
}

static int copy_in_use(const struct stage_reloader *r, const char *path)
{
    const struct retired *t;
    size_t i;

    if (recipe_uses(r->current, path) || recipe_uses(r->previous, path))
        return 1;
    for (t = r->retired; t != NULL; t = t->next) {
        for (i = 0; i < t->p->n_stages; i++) {
            if (strcmp(t->p->stages[i]->plugin_path, path) == 0)
                return 1;
        }
    }
    return 0;
}

/*
 * Delete every copy nothing uses, once it is verified unmapped.  final:
 * at shutdown, a copy still mapped belongs to the generation left in the
 * holder or to a stuck one; keep it without complaint.
 */
static void copies_collect_mode(struct stage_reloader *r, int final)
{
    struct copy_file **pp = &r->copies;

    while (*pp != NULL) {
        struct copy_file *c = *pp;
        void *probe;

        if (copy_in_use(r, c->path)) {
            pp = &c->next;
            continue;
        }
        probe = dlopen(c->path, RTLD_NOW | RTLD_NOLOAD);
        if (probe != NULL) {
            dlclose(probe);
            if (!c->pinned_reported && !final)
                log_error(TAG,
                          "%s is still mapped after its stages were "
                          "closed (something pinned the library); the "
                          "copy is kept",
                          c->path);
            c->pinned_reported = 1;
            pp = &c->next;
            continue;
        }
        if (unlink(c->path) != 0 && errno != ENOENT)
            log_warn(TAG, "cannot delete private copy %s: %s", c->path,
                     strerror(errno));
        *pp = c->next;
        free(c->path);
        free(c);
    }
}

static void copies_collect(struct stage_reloader *r)
{
    copies_collect_mode(r, 0);
}

static int copies_add(struct stage_reloader *r, const char *path)
{
    struct copy_file *c = calloc(1, sizeof(*c));

    if (c == NULL || (c->path = strdup(path)) == NULL) {
        free(c);
        return -1;
    }
    c->next = r->copies;
    r->copies = c;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Building a generation                                               */
/* ------------------------------------------------------------------ */

/* The stage of the active generation that entry e may reuse, or NULL. */
static struct cls_host *reusable(const struct stage_reloader *r,
                                 const struct pipeline *active,
                                 const struct recipe_entry *e)
{
    size_t i;

    if (active == NULL || r->current == NULL ||
        r->current->generation != active->id)
        return NULL;
    for (i = 0; i < r->current->n; i++) {
        const struct recipe_entry *c = &r->current->e[i];
        struct cls_host *h;

        if (c->hash != e->hash || c->size != e->size ||
            !spec_eq(&c->spec, &e->spec))
            continue;
        h = pipeline_find(active, c->spec.name);
        if (h != NULL && strcmp(h->plugin_path, c->copy_path) == 0)
            return h;
    }
    return NULL;
}

/* Load e from a new copy of bytes.  Returns the stage or NULL with err. */
static struct cls_host *load_copy(struct stage_reloader *r,
                                  struct recipe_entry *e,
                                  const unsigned char *bytes, size_t len,
                                  unsigned gen, struct pipeline *p,
                                  cls_error *err)
{
    const char *name = e->spec.name ? e->spec.name : "stage";
    struct stage_spec spec = e->spec;
    cls_error why = {CLS_OK, ""};
    struct cls_host *h;

    e->copy_path = write_copy(r, name, e->hash, bytes, len, &why);
    if (e->copy_path == NULL) {
        cls_error_set(err, why.code, "stage \"%s\": %s", name, why.message);
        return NULL;
    }
    spec.plugin_path = e->copy_path;
    h = stage_load(&spec, gen, p->stages, p->n_stages, &why);
    if (h == NULL) {
        rename_in(why.message, sizeof(why.message), e->copy_path,
                  e->spec.plugin_path);
        cls_error_set(err, why.code, "stage \"%s\": %s", name, why.message);
        unlink(e->copy_path);
        free(e->copy_path);
        e->copy_path = NULL;
    }
    return h;
}

/* Reuse or load the stage of e into p.  0, or -1 with err. */
static int add_stage(struct stage_reloader *r, struct recipe_entry *e,
                     const struct pipeline *active, struct pipeline *p,
                     int *loaded, cls_error *err)
{
    unsigned char *bytes;
    struct cls_host *h;
    size_t len = 0;
    cls_error why = {CLS_OK, ""};

    bytes = read_all(e->source, &len, &why);
    if (bytes == NULL) {
        cls_error_set(err, why.code, "stage \"%s\": %s",
                      e->spec.name ? e->spec.name : "?", why.message);
        return -1;
    }
    e->hash = fnv1a(bytes, len);
    e->size = len;

    h = reusable(r, active, e);
    *loaded = h == NULL;
    if (h != NULL) {
        stage_ref(h);
        e->copy_path = strdup(h->plugin_path);
        if (e->copy_path == NULL) {
            stage_unref(h);
            h = NULL;
            cls_error_set(err, CLS_ENOMEM, "reload: out of memory");
        }
    }
    else {
        h = load_copy(r, e, bytes, len, p->id, p, err);
    }
    free(bytes);
    if (h == NULL)
        return -1;
    p->stages[p->n_stages++] = h;
    return 0;
}

/* Slots in increasing order, services unique.  0, or -1 with err. */
static int check_pipeline(const struct pipeline *p, cls_error *err)
{
    size_t i, j;

    for (i = 0; i < p->n_stages; i++) {
        const struct cls_host *a = p->stages[i];

        for (j = 0; j < i; j++) {
            const struct cls_host *b = p->stages[j];

            if (strcmp(a->service, b->service) == 0) {
                cls_error_set(err, CLS_EINVAL,
                              "stages \"%s\" and \"%s\" both serve service "
                              "\"%s\"",
                              b->name, a->name, a->service);
                return -1;
            }
            if (a->slot != CLS_SLOT_CUSTOM && b->slot != CLS_SLOT_CUSTOM &&
                b->slot >= a->slot) {
                cls_error_set(err, CLS_EINVAL,
                              "stage \"%s\" implements slot %d, which cannot "
                              "follow stage \"%s\" (slot %d)",
                              a->name, (int)a->slot, b->name, (int)b->slot);
                return -1;
            }
        }
    }
    return 0;
}

static void summarise(const struct pipeline *p, const int *loaded,
                      struct reload_outcome *out)
{
    size_t i, used = 0;

    out->summary[0] = '\0';
    for (i = 0; i < p->n_stages; i++) {
        const struct cls_host *h = p->stages[i];
        int w;

        if (loaded[i])
            out->n_loaded++;
        else
            out->n_reused++;
        if (!loaded[i])
            continue;
        w = snprintf(out->summary + used, sizeof(out->summary) - used,
                     "%s%s %s (build %s)", used ? ", " : "loaded ", h->name,
                     h->version, h->build_id);
        if (w < 0 || (size_t)w >= sizeof(out->summary) - used)
            break;
        used += (size_t)w;
    }
    if (used == 0)
        snprintf(out->summary, sizeof(out->summary), "no stage changed");
}

/* Build generation gen from rc.  Returns it, or NULL with err. */
static struct pipeline *build(struct stage_reloader *r, struct recipe *rc,
                              unsigned gen, struct reload_outcome *out,
                              cls_error *err)
{
    struct pipeline *active = pipeline_holder_acquire(r->holder);
    struct pipeline *p = calloc(1, sizeof(*p));
    int *loaded = calloc(rc->n ? rc->n : 1, sizeof(*loaded));
    size_t i;

    if (p == NULL || loaded == NULL ||
        (p->stages = calloc(rc->n ? rc->n : 1, sizeof(*p->stages))) == NULL) {
        cls_error_set(err, CLS_ENOMEM, "reload: out of memory");
        goto fail;
    }
    p->id = gen;
    atomic_init(&p->refs, 1);
    for (i = 0; i < rc->n; i++) {
        if (add_stage(r, &rc->e[i], active, p, &loaded[i], err) != 0)
            goto fail;
    }
    if (check_pipeline(p, err) != 0)
        goto fail;
    summarise(p, loaded, out);
    for (i = 0; i < rc->n; i++) {
        if (loaded[i] && copies_add(r, rc->e[i].copy_path) != 0) {
            cls_error_set(err, CLS_ENOMEM, "reload: out of memory");
            goto fail;
        }
    }
    free(loaded);
    pipeline_release(active);
    return p;

fail:
    /* Stages loaded here go with p; so do their copies. */
    for (i = 0; p != NULL && loaded != NULL && i < p->n_stages; i++) {
        if (loaded[i])
            unlink(rc->e[i].copy_path);
    }
    if (p != NULL && p->stages != NULL)
        pipeline_release(p);
    else
        free(p);
    free(loaded);
    pipeline_release(active);
    copies_collect(r);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Reload, rollback                                                    */
/* ------------------------------------------------------------------ */

static void note_refusal_locked(struct stage_reloader *r, const char *msg)
{
    r->refusals++;
    snprintf(r->last_error, sizeof(r->last_error), "%s", msg);
    if (r->current != NULL)
        log_error(TAG, "reload refused, generation %u keeps serving: %s",
                  r->current->generation, msg);
    else
        log_error(TAG, "pipeline refused: %s", msg);
}

/* Publish p built from rc; the replaced generation starts draining. */
static void publish(struct stage_reloader *r, struct pipeline *p,
                    struct recipe *rc, struct reload_outcome *out)
{
    struct pipeline *old = pipeline_holder_swap(r->holder, p);
    struct retired *t = NULL;

    out->generation = p->id;
    out->replaced = old ? old->id : 0;
    if (old != NULL && (t = calloc(1, sizeof(*t))) == NULL) {
        /* Cannot track it: keep it loaded rather than close it unsafely. */
        log_error(TAG,
                  "generation %u: out of memory tracking its drain; "
                  "it stays loaded",
                  old->id);
    }
    if (t != NULL) {
        t->p = old;
        clock_gettime(CLOCK_MONOTONIC, &t->since);
        t->timeout_ms = r->drain_timeout_ms;
        t->next = r->retired;
        r->retired = t;
    }
    if (r->current != NULL) {
        recipe_free(r->previous);
        r->previous = r->current;
    }
    rc->generation = p->id;
    r->current = rc;
    r->reloads += out->replaced != 0;
    r->last_error[0] = '\0';
    copies_collect(r);
    pthread_cond_signal(&r->wake);
}

/* Build rc as the next generation, run hook, publish.  Locked. */
static int apply_locked(struct stage_reloader *r, struct recipe *rc,
                        reload_hook_fn hook, void *hook_arg,
                        struct reload_outcome *out, cls_error *err)
{
    struct pipeline *active, *p;
    unsigned gen = r->next_generation;
    int rc_hook = 0;

    memset(out, 0, sizeof(*out));
    p = build(r, rc, gen, out, err);
    if (p == NULL)
        return -1;
    if (hook != NULL) {
        active = pipeline_holder_acquire(r->holder);
        rc_hook = hook(hook_arg, active, p, err);
        pipeline_release(active);
    }
    if (rc_hook != 0) {
        pipeline_release(p);
        copies_collect(r);
        return -1;
    }
    r->next_generation++;
    publish(r, p, rc, out);
    if (out->replaced != 0)
        log_info(TAG,
                 "generation %u active, replacing %u: %s; %zu stage(s) "
                 "reused",
                 out->generation, out->replaced, out->summary, out->n_reused);
    else
        log_info(TAG, "generation %u active: %s", out->generation,
                 out->summary);
    return 0;
}

/* Enter the one-at-a-time section.  0, or -1 with err when busy. */
static int enter(struct stage_reloader *r, cls_error *err)
{
    if (atomic_exchange(&r->busy, 1) != 0) {
        /* Not under the lock: the running reload holds it. */
        cls_error_set(err, CLS_RETRY, "a reload is already in progress");
        atomic_fetch_add(&r->busy_refusals, 1);
        log_warn(TAG, "reload refused: %s", err->message);
        return -1;
    }
    pthread_mutex_lock(&r->lock);
    return 0;
}

static void leave(struct stage_reloader *r)
{
    pthread_mutex_unlock(&r->lock);
    atomic_store(&r->busy, 0);
}

int reload_apply(struct stage_reloader *r, const struct stage_spec *specs,
                 size_t n, reload_hook_fn hook, void *hook_arg,
                 struct reload_outcome *out, cls_error *err)
{
    struct recipe *rc;
    int rc_apply = -1;

    if (enter(r, err) != 0)
        return -1;
    rc = recipe_new(specs, n, NULL);
    if (rc == NULL)
        cls_error_set(err, CLS_ENOMEM, "reload: out of memory");
    else if (n == 0)
        cls_error_set(err, CLS_EINVAL, "the configuration lists no stage");
    else
        rc_apply = apply_locked(r, rc, hook, hook_arg, out, err);
    if (rc_apply != 0) {
        recipe_free(rc);
        note_refusal_locked(r, err->message);
    }
    leave(r);
    return rc_apply;
}

int reload_rollback(struct stage_reloader *r, reload_hook_fn hook,
                    void *hook_arg, struct reload_outcome *out, cls_error *err)
{
    struct recipe *rc = NULL, *target;
    unsigned target_generation = 0;
    int rc_apply = -1;

    if (enter(r, err) != 0)
        return -1;
    target = r->previous;
    if (target != NULL) /* publish() frees target once rc is applied */
        target_generation = target->generation;
    if (target == NULL)
        cls_error_set(err, CLS_EINVAL,
                      "rollback: there is no previous generation to return "
                      "to");
    else if ((rc = recipe_new(NULL, target->n, target)) == NULL)
        cls_error_set(err, CLS_ENOMEM, "rollback: out of memory");
    else
        rc_apply = apply_locked(r, rc, hook, hook_arg, out, err);
    if (rc_apply == 0) {
        r->rollbacks++;
        log_info(TAG,
                 "rolled back to the builds of generation %u as "
                 "generation %u",
                 target_generation, out->generation);
    }
    else {
        recipe_free(rc);
        note_refusal_locked(r, err->message);
    }
    leave(r);
    return rc_apply;
}

void reload_note_refusal(struct stage_reloader *r, const char *message)
{
    pthread_mutex_lock(&r->lock);
    note_refusal_locked(r, message);
    pthread_mutex_unlock(&r->lock);
}

void reload_set_drain_timeout(struct stage_reloader *r, unsigned ms)
{
    pthread_mutex_lock(&r->lock);
    r->drain_timeout_ms = ms;
    pthread_mutex_unlock(&r->lock);
}

unsigned reload_active_generation(struct stage_reloader *r)
{
    struct pipeline *p = pipeline_holder_acquire(r->holder);
    unsigned id = p ? p->id : 0;

    pipeline_release(p);
    return id;
}

/* ------------------------------------------------------------------ */
/* The reaper                                                          */
/* ------------------------------------------------------------------ */

static void record_drain(struct stage_reloader *r, double seconds)
{
    size_t i;

    r->drained++;
    r->drain_sum_s += seconds;
    r->last_drain_s = seconds;
    for (i = 0; i < N_BUCKETS; i++) {
        if (seconds <= drain_buckets[i])
            r->buckets[i]++;
    }
}

/* Close t's generation (drained) and report it. */
static void close_retired(struct stage_reloader *r, struct retired *t)
{
    uint64_t ms = elapsed_ms(&t->since);
    unsigned id = t->p->id;
    size_t leaked = pipeline_release(t->p);

    record_drain(r, (double)ms / 1000.0);
    log_info(TAG,
             "generation %u drained after %" PRIu64 " ms%s and was "
             "closed%s",
             id, ms, t->stuck ? " (it had been reported stuck)" : "",
             leaked ? "; its stages leaked instance memory (see above)" : "");
    free(t);
}

/* One pass over the retired generations.  Locked. */
static size_t reap_once(struct stage_reloader *r)
{
    struct retired **pp = &r->retired;
    size_t closed = 0;

    while (*pp != NULL) {
        struct retired *t = *pp;
        unsigned busy = atomic_load(&t->p->refs) - 1;
        uint64_t ms;

        if (busy == 0) {
            *pp = t->next;
            close_retired(r, t);
            closed++;
            continue;
        }
        ms = elapsed_ms(&t->since);
        if (!t->stuck && ms >= t->timeout_ms) {
            t->stuck = 1;
            r->stuck_total++;
            log_error(TAG,
                      "generation %u is stuck: %u call(s) still in flight "
                      "after %" PRIu64 " ms (drain timeout %u ms); it stays "
                      "loaded and is never force-closed",
                      t->p->id, busy, ms, t->timeout_ms);
        }
        pp = &t->next;
    }
    if (closed > 0)
        copies_collect(r);
    return closed;
}

static void *reaper_main(void *arg)
{
    struct stage_reloader *r = arg;
    struct timespec until;

    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        reap_once(r);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += REAP_INTERVAL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->wake, &r->lock, &until);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

size_t reload_wait_drained(struct stage_reloader *r, unsigned timeout_ms)
{
    struct timespec t0;
    size_t left = 0;
    const struct retired *t;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pthread_mutex_lock(&r->lock);
        reap_once(r);
        for (left = 0, t = r->retired; t != NULL; t = t->next)
            left++;
        pthread_mutex_unlock(&r->lock);
        if (left == 0 || elapsed_ms(&t0) >= timeout_ms)
            return left;
        usleep(REAP_INTERVAL_MS * 1000);
    }
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

/* mkdir -p with mode 0700.  0 or -1 with errno. */
static int mkdirs(const char *dir)
{
    char path[4096];
    size_t i;

    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (i = 1; path[i] != '\0'; i++) {
        if (path[i] != '/')
            continue;
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return -1;
        path[i] = '/';
    }
    return mkdir(path, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static int make_dir(const char *dir, cls_error *err)
{
    struct stat st;

    if (mkdirs(dir) != 0) {
        cls_error_set(err, CLS_EINVAL,
                      "pipeline.reload.copy_dir %s: cannot create: %s", dir,
                      strerror(errno));
        return -1;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
        access(dir, W_OK | X_OK) != 0) {
        cls_error_set(err, CLS_EINVAL,
                      "pipeline.reload.copy_dir %s: not a writable directory",
                      dir);
        return -1;
    }
    return 0;
}

/* The pid in a copy's name "<stage>-<hash>-<pid>-<seq>.so", or 0. */
static long copy_pid(const char *name)
{
    const char *end = strrchr(name, '.'), *dash;
    long pid;
    char *stop;

    if (end == NULL || strcmp(end, ".so") != 0)
        return 0;
    for (dash = end; dash > name && dash[-1] != '-'; dash--)
        ;
    if (dash == name || dash - 1 == name)
        return 0;
    for (dash -= 2; dash > name && dash[0] != '-'; dash--)
        ;
    pid = strtol(dash + 1, &stop, 10);
    return dash > name && *stop == '-' ? pid : 0;
}

/* Delete copies left by processes of ours that no longer run (a crash). */
static void remove_stale(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];

    while (d != NULL && (e = readdir(d)) != NULL) {
        long pid = copy_pid(e->d_name);

        if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 ||
            errno != ESRCH)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (unlink(path) == 0)
            log_info(TAG, "removed %s, left by process %ld", path, pid);
    }
    if (d != NULL)
        closedir(d);
}

struct stage_reloader *reload_new(struct pipeline_holder *holder,
                                  const struct reload_options *opts,
                                  cls_error *err)
{
    struct stage_reloader *r = calloc(1, sizeof(*r));

    if (r == NULL || (r->copy_dir = strdup(opts->copy_dir)) == NULL) {
        free(r);
        cls_error_set(err, CLS_ENOMEM, "reload: out of memory");
        return NULL;
    }
    if (make_dir(r->copy_dir, err) != 0)
        goto fail;
    remove_stale(r->copy_dir);
    r->holder = holder;
    r->drain_timeout_ms = opts->drain_timeout_ms;
    r->next_generation = 1;
    atomic_init(&r->busy, 0);
    atomic_init(&r->busy_refusals, 0);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    if (pthread_create(&r->reaper, NULL, reaper_main, r) != 0) {
        cls_error_set(err, CLS_FAIL, "reload: cannot start the reaper thread");
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->lock);
        goto fail;
    }
    return r;

fail:
    free(r->copy_dir);
    free(r);
    return NULL;
}

void reload_free(struct stage_reloader *r)
{
    struct retired *t;

    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = 1;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->reaper, NULL);

    reap_once(r);
    for (t = r->retired; t != NULL; t = t->next)
        log_error(TAG,
                  "generation %u still has %u call(s) in flight at "
                  "shutdown; left loaded",
                  t->p->id, atomic_load(&t->p->refs) - 1);
    recipe_free(r->previous);
    r->previous = NULL;
    recipe_free(r->current);
    r->current = NULL;
    while (r->retired != NULL) {
        t = r->retired;
        r->retired = t->next;
        free(t); /* the generation stays mapped on purpose */
    }
    copies_collect_mode(r, 1);
    while (r->copies != NULL) {
        struct copy_file *c = r->copies;

        r->copies = c->next;
        free(c->path);
        free(c);
    }
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r->copy_dir);
    free(r);
}

/* ------------------------------------------------------------------ */
/* Status and metrics                                                  */
/* ------------------------------------------------------------------ */

static cJSON *stage_json(const struct cls_host *h)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "name", h->name);
    cJSON_AddStringToObject(o, "version", h->version);
    cJSON_AddStringToObject(o, "build_id", h->build_id);
    cJSON_AddNumberToObject(o, "generation", h->generation);
    cJSON_AddNumberToObject(o, "slot", h->slot);
    cJSON_AddStringToObject(o, "service", h->service);
    cJSON_AddStringToObject(o, "handler", h->handler);
    cJSON_AddNumberToObject(o, "in_flight", atomic_load(&h->in_flight));
    cJSON_AddStringToObject(o, "copy", h->plugin_path);
    return o;
}

/* One generation; held: references the caller holds besides in-flight
 * work (the holder's or the reloader's, plus a temporary acquire). */
static cJSON *generation_json(const struct pipeline *p, const char *state,
                              unsigned held, uint64_t retired_ms)
{
    cJSON *o = cJSON_CreateObject(), *stages;
    size_t i;

    if (o == NULL)
        return NULL;
    cJSON_AddNumberToObject(o, "id", p->id);
    cJSON_AddStringToObject(o, "state", state);
    cJSON_AddNumberToObject(o, "in_flight", atomic_load(&p->refs) - held);
    if (strcmp(state, "active") != 0)
        cJSON_AddNumberToObject(o, "retired_ms", (double)retired_ms);
    stages = cJSON_AddArrayToObject(o, "stages");
    for (i = 0; stages != NULL && i < p->n_stages; i++)
        cJSON_AddItemToArray(stages, stage_json(p->stages[i]));
    return o;
}

char *reload_status_json(struct stage_reloader *r)
{
    cJSON *o = cJSON_CreateObject(), *gens;
    struct pipeline *active;
    const struct retired *t;
    char *text = NULL;

    if (o == NULL)
        return NULL;
    pthread_mutex_lock(&r->lock);
    active = pipeline_holder_acquire(r->holder);
    cJSON_AddNumberToObject(o, "active", active ? active->id : 0);
    if (r->previous != NULL)
        cJSON_AddNumberToObject(o, "previous", r->previous->generation);
    else
        cJSON_AddNullToObject(o, "previous");
    cJSON_AddNumberToObject(o, "reloads", (double)r->reloads);
    cJSON_AddNumberToObject(
        o, "refusals",
        (double)(r->refusals + (uint64_t)atomic_load(&r->busy_refusals)));
    cJSON_AddNumberToObject(o, "rollbacks", (double)r->rollbacks);
    cJSON_AddNumberToObject(o, "closed", (double)r->drained);
    if (r->last_error[0] != '\0')
        cJSON_AddStringToObject(o, "last_error", r->last_error);
    else
        cJSON_AddNullToObject(o, "last_error");
    gens = cJSON_AddArrayToObject(o, "generations");
    if (gens != NULL && active != NULL)
        cJSON_AddItemToArray(gens, generation_json(active, "active", 2, 0));
    for (t = r->retired; gens != NULL && t != NULL; t = t->next)
        cJSON_AddItemToArray(
            gens, generation_json(t->p, t->stuck ? "stuck" : "retiring", 1,
                                  elapsed_ms(&t->since)));
    pipeline_release(active);
    pthread_mutex_unlock(&r->lock);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* A growing text buffer for the metrics page. */
struct text {
    char *s;
    size_t len, cap;
    int failed;
};

static int grow(struct text *t, size_t need)
{
    size_t cap = t->cap ? t->cap : 4096;
    char *s;

    while (cap - t->len < need)
        cap *= 2;
    s = realloc(t->s, cap);
    if (s == NULL) {
        t->failed = 1;
        return -1;
    }
    t->s = s;
    t->cap = cap;
    return 0;
}

static void put(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        if (grow(t, (size_t)n + 1) != 0)
            return;
    }
}

/* A label value with \\, " and newlines escaped, truncated to fit. */
static void label(char *buf, size_t size, const char *v)
{
    size_t n = 0;

    for (; *v != '\0' && n + 3 < size; v++) {
        if (*v == '\\' || *v == '"') {
            buf[n++] = '\\';
            buf[n++] = *v;
        }
        else if (*v == '\n') {
            buf[n++] = '\\';
            buf[n++] = 'n';
        }
        else {
            buf[n++] = *v;
        }
    }
    buf[n] = '\0';
}

static void put_counters(struct text *t, const struct stage_reloader *r)
{
    put(t,
        "# HELP classify_reloads_total Reloads that published a new "
        "generation (rollbacks included).\n"
        "# TYPE classify_reloads_total counter\n"
        "classify_reloads_total %" PRIu64 "\n",
        r->reloads);
    put(t,
        "# HELP classify_reload_refusals_total Reloads refused; the "
        "running generation kept serving.\n"
        "# TYPE classify_reload_refusals_total counter\n"
        "classify_reload_refusals_total %" PRIu64 "\n",
        r->refusals + (uint64_t)atomic_load(&r->busy_refusals));
    put(t,
        "# HELP classify_rollbacks_total Rollbacks to the previous "
        "generation.\n"
        "# TYPE classify_rollbacks_total counter\n"
        "classify_rollbacks_total %" PRIu64 "\n",
        r->rollbacks);
    put(t,
        "# HELP classify_generations_stuck_total Generations that did "
        "not drain within the drain timeout.\n"
        "# TYPE classify_generations_stuck_total counter\n"
        "classify_generations_stuck_total %" PRIu64 "\n",
        r->stuck_total);
}

static void put_drain(struct text *t, const struct stage_reloader *r)
{
    size_t i;

    put(t, "# HELP classify_generation_drain_seconds Time from the swap "
           "until a retired generation was closed.\n"
           "# TYPE classify_generation_drain_seconds histogram\n");
    for (i = 0; i < N_BUCKETS; i++)
        put(t,
            "classify_generation_drain_seconds_bucket{le=\"%g\"} "
            "%" PRIu64 "\n",
            drain_buckets[i], r->buckets[i]);
    put(t,
        "classify_generation_drain_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
        "classify_generation_drain_seconds_sum %.3f\n"
        "classify_generation_drain_seconds_count %" PRIu64 "\n",
        r->drained, r->drain_sum_s, r->drained);
}

static void put_generation(struct text *t, const struct pipeline *p,
                           const char *state, unsigned held)
{
    put(t,
        "classify_generation_in_flight{generation=\"%u\",state=\"%s\"} "
        "%u\n",
        p->id, state, atomic_load(&p->refs) - held);
}

/* Stage lines of p, skipping stages an earlier generation listed. */
static void put_stages(struct text *t, const struct pipeline *p,
                       const struct pipeline *const *seen, size_t n_seen)
{
    char version[128];
    size_t i, j, k;

    for (i = 0; i < p->n_stages; i++) {
        const struct cls_host *h = p->stages[i];
        int dup = 0;

        for (j = 0; j < n_seen && !dup; j++) {
            for (k = 0; k < seen[j]->n_stages && !dup; k++)
                dup = seen[j]->stages[k] == h;
        }
        if (dup)
            continue;
        label(version, sizeof(version), h->version);
        put(t,
            "classify_stage_in_flight{stage=\"%s\",version=\"%s\","
            "generation=\"%u\"} %u\n",
            h->name, version, h->generation, atomic_load(&h->in_flight));
    }
}

/* In-flight gauges of every live generation and its stages.  Locked. */
static void put_live(struct text *t, struct stage_reloader *r,
                     struct pipeline *active)
{
    const struct pipeline *seen[64] = {NULL};
    const struct retired *q;
    size_t n_seen = 0;

    put(t,
        "# HELP classify_active_generation Id of the generation new "
        "invocations use.\n"
        "# TYPE classify_active_generation gauge\n"
        "classify_active_generation %u\n",
        active ? active->id : 0);
    put(t, "# HELP classify_generation_in_flight Invocations holding a "
           "generation.\n"
           "# TYPE classify_generation_in_flight gauge\n");
    if (active != NULL)
        put_generation(t, active, "active", 2);
    for (q = r->retired; q != NULL; q = q->next)
        put_generation(t, q->p, q->stuck ? "stuck" : "retiring", 1);

    put(t, "# HELP classify_stage_in_flight process() calls running per "
           "stage instance.\n"
           "# TYPE classify_stage_in_flight gauge\n");
    if (active != NULL) {
        put_stages(t, active, seen, n_seen);
        seen[n_seen++] = active;
    }
    for (q = r->retired; q != NULL; q = q->next) {
        put_stages(t, q->p, seen, n_seen);
        if (n_seen < sizeof(seen) / sizeof(seen[0]))
            seen[n_seen++] = q->p;
    }
}

char *reload_metrics_text(struct stage_reloader *r)
{
    struct text t = {NULL, 0, 0, 0};
    struct pipeline *active;

    if (grow(&t, 4096) != 0)
        return NULL;
    t.s[0] = '\0';
    pthread_mutex_lock(&r->lock);
    active = pipeline_holder_acquire(r->holder);
    put_counters(&t, r);
    put_drain(&t, r);
    put_live(&t, r, active);
    pipeline_release(active);
    pthread_mutex_unlock(&r->lock);
    if (t.failed) {
        free(t.s);
        return NULL;
    }
    return t.s;
}
