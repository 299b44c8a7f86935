/*
 * loader.c - open a stage plugin, check its descriptor, validate its
 * options and create the instance; tear it down when the last reference
 * goes.  Every refusal is one message naming the file and the reason.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "stage/desc.h"
#include "stage/stage.h"

/* ------------------------------------------------------------------ */
/* Descriptor checks                                                   */
/* ------------------------------------------------------------------ */

/* Check name and service against the stages already in the pipeline. */
static cls_status check_unique(const char *path, const cls_stage_desc *d,
                               struct cls_host *const *others, size_t n,
                               cls_error *err)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(others[i]->name, d->name) == 0)
            return cls_error_set(err, CLS_EINVAL,
                                 "%s: duplicate stage name \"%s\" (already "
                                 "provided by %s)",
                                 path, d->name, others[i]->plugin_path);
        if (strcmp(others[i]->service, d->service) == 0)
            return cls_error_set(err, CLS_EINVAL,
                                 "%s: duplicate service \"%s\" (already "
                                 "served by stage %s from %s)",
                                 path, d->service, others[i]->name,
                                 others[i]->plugin_path);
    }
    return CLS_OK;
}

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

static const char *raw_word(enum stage_raw_type t)
{
    switch (t) {
    case STAGE_RAW_STRING:
        return "a string";
    case STAGE_RAW_INT:
        return "an integer";
    case STAGE_RAW_FLOAT:
        return "a floating-point number";
    case STAGE_RAW_BOOL:
        return "a boolean";
    case STAGE_RAW_OTHER:
        break;
    }
    return "a group or list";
}

static const struct stage_raw_option *raw_find(const struct stage_spec *spec,
                                               const char *key)
{
    size_t i;

    for (i = 0; i < spec->n_options; i++) {
        if (strcmp(spec->options[i].key, key) == 0)
            return &spec->options[i];
    }
    return NULL;
}

/* The accepted option names, for the "unknown option" message. */
static void schema_names(const cls_config_key *schema, char *buf, size_t size)
{
    size_t n = 0;

    buf[0] = '\0';
    for (; schema != NULL && schema->type != CLS_CONFIG_END; schema++) {
        int w =
            snprintf(buf + n, size - n, "%s%s", n ? ", " : "", schema->name);

        if (w < 0 || (size_t)w >= size - n)
            break;
        n += (size_t)w;
    }
    if (n == 0)
        snprintf(buf, size, "none");
}

/* Set o from the raw value r (type already checked).  CLS_OK/ENOMEM. */
static cls_status option_from_raw(struct stage_option *o,
                                  const struct stage_raw_option *r)
{
    switch (o->type) {
    case CLS_CONFIG_STRING:
        o->s = strdup(r->s);
        return o->s ? CLS_OK : CLS_ENOMEM;
    case CLS_CONFIG_INT:
        o->i = r->i;
        o->d = (double)r->i;
        break;
    case CLS_CONFIG_DOUBLE:
        o->d = r->type == STAGE_RAW_INT ? (double)r->i : r->d;
        break;
    case CLS_CONFIG_BOOL:
        o->b = r->b;
        break;
    case CLS_CONFIG_END:
        break;
    }
    return CLS_OK;
}

static int type_fits(cls_config_type want, enum stage_raw_type got)
{
    switch (want) {
    case CLS_CONFIG_STRING:
        return got == STAGE_RAW_STRING;
    case CLS_CONFIG_INT:
        return got == STAGE_RAW_INT;
    case CLS_CONFIG_DOUBLE:
        return got == STAGE_RAW_INT || got == STAGE_RAW_FLOAT;
    case CLS_CONFIG_BOOL:
        return got == STAGE_RAW_BOOL;
    case CLS_CONFIG_END:
        break;
    }
    return 0;
}

/* Check every raw option names a schema key and has its type. */
static cls_status check_raw(const cls_config_key *schema, const char *stage,
                            const struct stage_spec *spec, cls_error *err)
{
    char names[256];
    size_t i;

    for (i = 0; i < spec->n_options; i++) {
        const struct stage_raw_option *r = &spec->options[i];
        const cls_config_key *k = stage_schema_find(schema, r->key);

        if (k == NULL) {
            schema_names(schema, names, sizeof(names));
            return cls_error_set(err, CLS_EINVAL,
                                 "%s:%d: stage %s: unknown option \"%s\" "
                                 "(accepted: %s)",
                                 spec->file, r->line, stage, r->key, names);
        }
        if (!type_fits(k->type, r->type))
            return cls_error_set(err, CLS_EINVAL,
                                 "%s:%d: stage %s: option \"%s\" must be %s, "
                                 "not %s",
                                 spec->file, r->line, stage, r->key,
                                 stage_type_word(k->type), raw_word(r->type));
    }
    return CLS_OK;
}

/* Fill o for schema key k from the config or the default. */
static cls_status option_build(struct stage_option *o, const cls_config_key *k,
                               const char *stage, const struct stage_spec *spec,
                               cls_error *err)
{
    const struct stage_raw_option *r = raw_find(spec, k->name);
    int line = r ? r->line : spec->options_line;
    cls_status st;

    o->type = k->type;
    o->key = strdup(k->name);
    if (o->key == NULL)
        return cls_error_set(err, CLS_ENOMEM, "options: out of memory");

    if (r != NULL)
        st = option_from_raw(o, r);
    else if (k->required)
        return cls_error_set(err, CLS_EINVAL,
                             "%s:%d: stage %s: required option \"%s\" (%s) "
                             "is missing",
                             spec->file, line, stage, k->name,
                             stage_type_word(k->type));
    else
        st = stage_value_parse(o->type,
                               k->default_value != NULL
                                   ? k->default_value
                                   : stage_implicit_default(k->type),
                               &o->s, &o->i, &o->d, &o->b);
    if (st == CLS_ENOMEM)
        return cls_error_set(err, st, "options: out of memory");
    if (st != CLS_OK)
        return cls_error_set(err, CLS_EINVAL,
                             "stage %s: schema default \"%s\" of option "
                             "\"%s\" is not %s",
                             stage, k->default_value, k->name,
                             stage_type_word(k->type));

    if (stage_value_out_of_range(k, o->d))
        return cls_error_set(err, CLS_EINVAL,
                             "%s:%d: stage %s: option \"%s\" is %g, outside "
                             "[%g, %g]",
                             spec->file, line, stage, k->name, o->d, k->min,
                             k->max);
    return CLS_OK;
}

cls_status stage_options_validate(const cls_config_key *schema,
                                  const char *stage_name,
                                  const struct stage_spec *spec,
                                  struct stage_option **out, size_t *n_out,
                                  cls_error *err)
{
    struct stage_option *opts = NULL;
    size_t n = 0, i;
    cls_status st;

    *out = NULL;
    *n_out = 0;
    st = check_raw(schema, stage_name, spec, err);
    if (st != CLS_OK)
        return st;

    while (schema != NULL && schema[n].type != CLS_CONFIG_END)
        n++;
    if (n == 0)
        return CLS_OK;
    opts = calloc(n, sizeof(*opts));
    if (opts == NULL)
        return cls_error_set(err, CLS_ENOMEM, "options: out of memory");

    for (i = 0; i < n; i++) {
        st = option_build(&opts[i], &schema[i], stage_name, spec, err);
        if (st != CLS_OK) {
            stage_options_free(opts, n);
            return st;
        }
    }
    *out = opts;
    *n_out = n;
    return CLS_OK;
}

/* ------------------------------------------------------------------ */
/* Records                                                             */
/* ------------------------------------------------------------------ */

static void record_free(struct cls_host *s)
{
    if (s == NULL)
        return;
    free(s->name);
    free(s->version);
    free(s->build_id);
    free(s->description);
    free(s->service);
    free(s->handler);
    free(s->plugin_path);
    free(s->plugin_dir);
    free(s->provider);
    free(s->provider_kind);
    stage_options_free(s->options, s->n_options);
    stage_mem_reclaim(s);
    free(s->metrics);
    pthread_mutex_destroy(&s->metrics_lock);
    pthread_mutex_destroy(&s->call_lock);
    pthread_mutex_destroy(&s->mem_lock);
    if (s->dl != NULL)
        dlclose(s->dl);
    free(s);
}

static char *dup_or_empty(const char *s)
{
    return strdup(s != NULL ? s : "");
}

/* A record with the descriptor's and the spec's strings copied. */
static struct cls_host *record_new(const cls_stage_desc *d,
                                   const struct stage_spec *spec,
                                   unsigned generation)
{
    struct cls_host *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    pthread_mutex_init(&s->metrics_lock, NULL);
    pthread_mutex_init(&s->call_lock, NULL);
    pthread_mutex_init(&s->mem_lock, NULL);
    atomic_init(&s->refs, 1);
    atomic_init(&s->in_flight, 0);
    s->slot = d->slot;
    s->flags = d->flags;
    s->abi_minor = d->abi_minor;
    s->generation = generation;
    s->fallback_to_rules = spec->fallback_to_rules;
    s->process = d->process;
    s->destroy = d->destroy;
    s->quiesce = d->quiesce;

    s->name = dup_or_empty(d->name);
    s->version = dup_or_empty(d->version);
    s->build_id = dup_or_empty(d->build_id);
    s->description = dup_or_empty(d->description);
    s->service = dup_or_empty(d->service);
    s->handler = dup_or_empty(d->handler);
    s->plugin_path = dup_or_empty(spec->plugin_path);
    s->plugin_dir = dup_or_empty(spec->plugin_dir);
    s->provider = strdup(spec->provider ? spec->provider : "rules");
    s->provider_kind =
        strdup(spec->provider_kind ? spec->provider_kind : "rules");
    if (!s->name || !s->version || !s->build_id || !s->description ||
        !s->service || !s->handler || !s->plugin_path || !s->plugin_dir ||
        !s->provider || !s->provider_kind) {
        record_free(s);
        return NULL;
    }
    return s;
}

/* Name the ABI major a plugin without our entry symbol was built for. */
static cls_status missing_entry(void *dl, const char *path, cls_error *err)
{
    char sym[32];
    unsigned major;

    for (major = 0; major < 16; major++) {
        if (major == CLS_ABI_MAJOR)
            continue;
        snprintf(sym, sizeof(sym), "cls_stage_entry_v%u", major);
        if (dlsym(dl, sym) != NULL)
            return cls_error_set(err, CLS_EINVAL,
                                 "%s: built for stage ABI major %u (exports "
                                 "%s), this host supports major %u",
                                 path, major, sym, CLS_ABI_MAJOR);
    }
    return cls_error_set(err, CLS_EINVAL,
                         "%s: not a stage plugin: no entry symbol %s", path,
                         CLS_ENTRY_SYMBOL);
}

/* Open path and return its descriptor, or NULL with err filled. */
static const cls_stage_desc *open_plugin(const char *path, void **dl,
                                         cls_error *err)
{
    const cls_stage_desc *d;
    cls_entry_fn entry;
    void *sym;

    if (access(path, R_OK) != 0) {
        *dl = NULL;
        cls_error_set(err, CLS_EINVAL, "%s: cannot open plugin: %s", path,
                      strerror(errno));
        return NULL;
    }
    *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (*dl == NULL) {
        const char *why = dlerror();

        cls_error_set(err, CLS_EINVAL, "%s: not a stage plugin: %s", path,
                      why ? why : "dlopen failed");
        return NULL;
    }

    dlerror();
    sym = dlsym(*dl, CLS_ENTRY_SYMBOL);
    if (sym == NULL) {
        missing_entry(*dl, path, err);
        return NULL;
    }

    *(void **)&entry = sym;
    d = entry();
    if (d == NULL)
        cls_error_set(err, CLS_EINVAL, "%s: entry function %s returned NULL",
                      path, CLS_ENTRY_SYMBOL);
    return d;
}

/* Check everything about d before anything of the plugin runs. */
static cls_status check_desc(const struct stage_spec *spec,
                             const cls_stage_desc *d,
                             struct cls_host *const *others, size_t n_others,
                             cls_error *err)
{
    const char *path = spec->plugin_path;
    cls_status st;

    /* A plugin wired to the wrong stage is named as such first: any
     * duplicate it then causes is only a consequence. */
    st = stage_desc_check(path, d, err);
    if (st == CLS_OK && spec->name != NULL && strcmp(spec->name, d->name) != 0)
        st = cls_error_set(err, CLS_EINVAL,
                           "%s:%d: stage \"%s\" names plugin %s, which "
                           "provides stage \"%s\"",
                           spec->file, spec->line, spec->name, path, d->name);
    if (st == CLS_OK)
        st = check_unique(path, d, others, n_others, err);
    return st;
}

/* Call create(); on failure report the plugin's message. */
static cls_status create_instance(struct cls_host *s, const cls_stage_desc *d,
                                  cls_error *err)
{
    cls_error perr = {0};
    cls_status st;
    size_t left;

    st = d->create(stage_host_api(), s, &s->instance, &perr);
    if (st == CLS_OK)
        return CLS_OK;

    left = atomic_load(&s->mem_bytes);
    if (left > 0)
        log_warn("stage",
                 "%s %s leaked %zu bytes of instance memory in a "
                 "failed create()",
                 s->name, s->version, left);
    s->instance = NULL;
    return cls_error_set(err, st == CLS_OK ? CLS_FAIL : st,
                         "%s: create() of stage %s %s failed: %s",
                         s->plugin_path, s->name, s->version,
                         perr.message[0] ? perr.message : "(no message)");
}

struct cls_host *stage_load(const struct stage_spec *spec, unsigned generation,
                            struct cls_host *const *others, size_t n_others,
                            cls_error *err)
{
    const cls_stage_desc *d;
    struct cls_host *s = NULL;
    void *dl = NULL;

    d = open_plugin(spec->plugin_path, &dl, err);
    if (d == NULL || check_desc(spec, d, others, n_others, err) != CLS_OK)
        goto fail;

    s = record_new(d, spec, generation);
    if (s == NULL) {
        cls_error_set(err, CLS_ENOMEM, "%s: out of memory", spec->plugin_path);
        goto fail;
    }
    s->dl = dl;
    dl = NULL;

    if (stage_options_validate(d->config_schema, d->name, spec, &s->options,
                               &s->n_options, err) != CLS_OK ||
        create_instance(s, d, err) != CLS_OK)
        goto fail;

    log_info("stage",
             "loaded %s %s (build %s, slot %d, service %s/%s) "
             "from %s, generation %u",
             s->name, s->version, s->build_id, (int)s->slot, s->service,
             s->handler, s->plugin_path, generation);
    return s;

fail:
    record_free(s);
    if (dl != NULL)
        dlclose(dl);
    return NULL;
}

void stage_ref(struct cls_host *s)
{
    atomic_fetch_add(&s->refs, 1);
}

size_t stage_unref(struct cls_host *s)
{
    size_t leaked;

    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return 0;

    if (s->quiesce != NULL)
        s->quiesce(s->instance);
    s->destroy(s->instance);
    s->instance = NULL;

    leaked = atomic_load(&s->mem_bytes);
    if (leaked > 0)
        log_error("stage",
                  "%s %s leaked %zu bytes in %zu block(s) of "
                  "instance memory after destroy()",
                  s->name, s->version, leaked, atomic_load(&s->mem_blocks));
    else
        log_info("stage", "unloaded %s %s (generation %u)", s->name, s->version,
                 s->generation);
    record_free(s);
    return leaked;
}
