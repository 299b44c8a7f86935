/*
 * host_api.c - the constant cls_host_api table handed to every stage, with
 * the real implementations: logging through core_log_stage(), counted
 * instance memory, typed option lookups, the JSON views and builder, and
 * the call services that delegate to the call's environment.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "stage/call.h"
#include "stage/stage.h"

/* Largest file read_file() reads. */
#define READ_FILE_MAX (16u << 20)

/* ------------------------------------------------------------------ */
/* Logging                                                             */
/* ------------------------------------------------------------------ */

static enum core_log_level map_level(cls_log_level level)
{
    if ((int)level < (int)CLS_LOG_ERROR)
        return CORE_LOG_ERROR;
    if ((int)level > (int)CLS_LOG_TRACE)
        return CORE_LOG_TRACE;
    return (enum core_log_level)level;
}

static void host_log(const cls_host *host, cls_log_level level, const char *fmt,
                     ...) CLS_PRINTF(3, 4);

static void host_log(const cls_host *host, cls_log_level level, const char *fmt,
                     ...)
{
    va_list ap;

    if (host == NULL || fmt == NULL)
        return;
    va_start(ap, fmt);
    core_log_stage(map_level(level), host->name, host->version,
                   host->generation, fmt, ap);
    va_end(ap);
}

static int host_log_enabled(const cls_host *host, cls_log_level level)
{
    (void)host;
    return core_log_enabled(map_level(level));
}

/* ------------------------------------------------------------------ */
/* Instance memory                                                     */
/* ------------------------------------------------------------------ */

/* Each block is preceded by its list links and size, padded to keep the
 * alignment malloc gives. */
struct stage_block {
    struct stage_block *prev;
    struct stage_block *next;
    size_t size;
};

union block_header {
    struct stage_block b;
    max_align_t align;
};

static void *host_alloc(const cls_host *host, size_t size)
{
    cls_host *h = (cls_host *)host;
    union block_header *hd;

    if (host == NULL || size > SIZE_MAX - sizeof(*hd))
        return NULL;
    hd = malloc(sizeof(*hd) + size);
    if (hd == NULL)
        return NULL;
    hd->b.size = size;
    hd->b.prev = NULL;

    pthread_mutex_lock(&h->mem_lock);
    hd->b.next = h->blocks;
    if (h->blocks != NULL)
        h->blocks->prev = &hd->b;
    h->blocks = &hd->b;
    pthread_mutex_unlock(&h->mem_lock);

    atomic_fetch_add(&h->mem_bytes, size);
    atomic_fetch_add(&h->mem_blocks, 1);
    return hd + 1;
}

/* Unlink block b from h's list; lock held. */
static void block_unlink(cls_host *h, struct stage_block *b)
{
    if (b->prev != NULL)
        b->prev->next = b->next;
    else
        h->blocks = b->next;
    if (b->next != NULL)
        b->next->prev = b->prev;
}

static void host_free(const cls_host *host, void *ptr)
{
    cls_host *h = (cls_host *)host;
    union block_header *hd;

    if (host == NULL || ptr == NULL)
        return;
    hd = (union block_header *)ptr - 1;

    pthread_mutex_lock(&h->mem_lock);
    block_unlink(h, &hd->b);
    pthread_mutex_unlock(&h->mem_lock);

    atomic_fetch_sub(&h->mem_bytes, hd->b.size);
    atomic_fetch_sub(&h->mem_blocks, 1);
    free(hd);
}

void stage_mem_reclaim(struct cls_host *s)
{
    pthread_mutex_lock(&s->mem_lock);
    while (s->blocks != NULL) {
        struct stage_block *b = s->blocks;

        block_unlink(s, b);
        free((union block_header *)(void *)b);
    }
    pthread_mutex_unlock(&s->mem_lock);
    atomic_store(&s->mem_bytes, 0);
    atomic_store(&s->mem_blocks, 0);
}

static void *host_call_alloc(cls_call *call, size_t size)
{
    if (call == NULL)
        return NULL;
    return core_arena_alloc(&call->arena, size);
}

/* ------------------------------------------------------------------ */
/* Config                                                              */
/* ------------------------------------------------------------------ */

void stage_host_options(const cls_host *host, const struct stage_option **opts,
                        size_t *n)
{
    *opts = host->options;
    *n = host->n_options;
}

static const char *provider_kind(const cls_host *host)
{
    if (host == NULL || host->provider_kind == NULL)
        return "rules";
    return host->provider_kind;
}

static int fallback_to_rules(const cls_host *host)
{
    return host != NULL && host->fallback_to_rules;
}

static const char *plugin_dir(const cls_host *host)
{
    if (host == NULL || host->plugin_dir == NULL)
        return ".";
    return host->plugin_dir;
}

/* Read the open stream f (at most READ_FILE_MAX bytes) into host memory. */
static char *read_stream(const cls_host *host, FILE *f, const char *path,
                         size_t *len, cls_error *err)
{
    size_t cap = 4096, n = 0;
    char *buf = host_alloc(host, cap + 1);

    while (buf != NULL) {
        char *bigger;

        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        if (cap >= READ_FILE_MAX) {
            host_free(host, buf);
            cls_error_set(err, CLS_FAIL, "read_file %s: larger than %u bytes",
                          path, READ_FILE_MAX);
            return NULL;
        }

        bigger = host_alloc(host, cap * 2 + 1);
        if (bigger != NULL)
            memcpy(bigger, buf, n);
        host_free(host, buf);
        buf = bigger;
        cap *= 2;
    }

    if (buf == NULL) {
        cls_error_set(err, CLS_ENOMEM, "read_file %s: out of memory", path);
        return NULL;
    }
    if (ferror(f)) {
        host_free(host, buf);
        cls_error_set(err, CLS_FAIL, "read_file %s: read error", path);
        return NULL;
    }
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

static char *read_file(const cls_host *host, const char *path, size_t *len,
                       cls_error *err)
{
    char full[4096];
    char *text;
    FILE *f;

    if (stage_file_path(host != NULL ? plugin_dir(host) : NULL, path, full,
                        sizeof(full), err) != CLS_OK)
        return NULL;

    f = fopen(full, "rb");
    if (f == NULL) {
        cls_error_set(err, CLS_FAIL, "read_file %s: %s", full, strerror(errno));
        return NULL;
    }
    text = read_stream(host, f, full, len, err);
    fclose(f);
    return text;
}

/* ------------------------------------------------------------------ */
/* Call services: delegated to the call's environment                  */
/* ------------------------------------------------------------------ */

static const cls_json *json_parse(cls_call *call, const char *text, size_t len,
                                  cls_error *err)
{
    if (call == NULL) {
        cls_error_set(err, CLS_EINVAL, "json_parse: no call");
        return NULL;
    }
    return core_json_parse(&call->arena, text, len, err);
}

static cls_status llm_complete(cls_call *call, const cls_llm_request *req,
                               cls_llm_reply *reply, cls_error *err)
{
    const cls_host *h;
    cls_status st = stage_llm_args_check(call, req, reply, err);

    if (st != CLS_OK)
        return st;
    h = call->host;
    if (strcmp(provider_kind(h), "rules") == 0)
        return cls_error_set(err, CLS_FAIL,
                             "llm_complete: stage %s is configured with "
                             "provider \"rules\"; no LLM is available",
                             h->name);
    if (call->env->llm_complete == NULL)
        return cls_error_set(err, CLS_FAIL,
                             "llm_complete: no LLM client configured");
    return call->env->llm_complete(call->env->arg, call, req, reply, err);
}

static cls_status run(cls_call *call, const char *name, cls_run_fn fn,
                      void *arg, const cls_json **result, cls_error *err)
{
    if (call == NULL || name == NULL || fn == NULL || result == NULL)
        return cls_error_set(err, CLS_EINVAL, "run: NULL argument");
    *result = NULL;
    if (call->env->run == NULL)
        return cls_error_set(err, CLS_FAIL,
                             "run %s: no side-effect runner configured", name);
    return call->env->run(call->env->arg, call, name, fn, arg, result, err);
}

static int64_t now_ms(cls_call *call)
{
    if (call == NULL || call->env->now_ms == NULL)
        return 0;
    return call->env->now_ms(call->env->arg, call);
}

static uint64_t random_u64(cls_call *call)
{
    if (call == NULL || call->env->random_u64 == NULL)
        return 0;
    return call->env->random_u64(call->env->arg, call);
}

static const char *call_item_id(const cls_call *call)
{
    if (call == NULL || call->item_id == NULL)
        return "";
    return call->item_id;
}

static int call_cancelled(const cls_call *call)
{
    if (call == NULL || call->env->cancelled == NULL)
        return 0;
    return call->env->cancelled(call->env->arg, call);
}

/* ------------------------------------------------------------------ */
/* Metrics                                                             */
/* ------------------------------------------------------------------ */

static int metric_name_ok(const char *name)
{
    size_t n = 0;

    if (name == NULL)
        return 0;
    for (; name[n] != '\0'; n++) {
        char c = name[n];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return n > 0 && n < sizeof(((struct stage_metric *)0)->name);
}

/* The metric name of s, created if needed; lock held.  NULL on ENOMEM. */
static struct stage_metric *metric_slot(cls_host *s, const char *name,
                                        int is_gauge)
{
    struct stage_metric *m;
    size_t i;

    for (i = 0; i < s->n_metrics; i++) {
        if (strcmp(s->metrics[i].name, name) == 0)
            return &s->metrics[i];
    }
    if (s->n_metrics == s->cap_metrics) {
        size_t cap = s->cap_metrics ? s->cap_metrics * 2 : 8;

        m = realloc(s->metrics, cap * sizeof(*m));
        if (m == NULL)
            return NULL;
        s->metrics = m;
        s->cap_metrics = cap;
    }
    m = &s->metrics[s->n_metrics++];
    memset(m, 0, sizeof(*m));
    snprintf(m->name, sizeof(m->name), "%s", name);
    m->is_gauge = is_gauge;
    return m;
}

static void counter_add(const cls_host *host, const char *name, uint64_t delta)
{
    cls_host *s = (cls_host *)host;
    struct stage_metric *m;

    if (host == NULL || !metric_name_ok(name))
        return;
    pthread_mutex_lock(&s->metrics_lock);
    m = metric_slot(s, name, 0);
    if (m != NULL)
        m->count += delta;
    pthread_mutex_unlock(&s->metrics_lock);
}

static void gauge_set(const cls_host *host, const char *name, double value)
{
    cls_host *s = (cls_host *)host;
    struct stage_metric *m;

    if (host == NULL || !metric_name_ok(name))
        return;
    pthread_mutex_lock(&s->metrics_lock);
    m = metric_slot(s, name, 1);
    if (m != NULL)
        m->value = value;
    pthread_mutex_unlock(&s->metrics_lock);
}

int stage_metric_get(struct cls_host *s, const char *name, uint64_t *count,
                     double *value)
{
    int rc = -1;
    size_t i;

    pthread_mutex_lock(&s->metrics_lock);
    for (i = 0; i < s->n_metrics; i++) {
        if (strcmp(s->metrics[i].name, name) == 0) {
            if (count != NULL)
                *count = s->metrics[i].count;
            if (value != NULL)
                *value = s->metrics[i].value;
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&s->metrics_lock);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The table                                                           */
/* ------------------------------------------------------------------ */

static const cls_host_api host_api = {
    .struct_size = sizeof(cls_host_api),
    .abi_major = CLS_ABI_MAJOR,
    .abi_minor = CLS_ABI_MINOR,
    .log = host_log,
    .log_enabled = host_log_enabled,
    .alloc = host_alloc,
    .free = host_free,
    .call_alloc = host_call_alloc,
    .config_string = stage_config_string,
    .config_int = stage_config_int,
    .config_double = stage_config_double,
    .config_bool = stage_config_bool,
    .provider_kind = provider_kind,
    .fallback_to_rules = fallback_to_rules,
    .plugin_dir = plugin_dir,
    .read_file = read_file,
    CORE_JSON_API_MEMBERS,
    .json_parse = json_parse,
    .llm_complete = llm_complete,
    .run = run,
    .now_ms = now_ms,
    .random_u64 = random_u64,
    .call_item_id = call_item_id,
    .call_cancelled = call_cancelled,
    .counter_add = counter_add,
    .gauge_set = gauge_set,
};

const cls_host_api *stage_host_api(void)
{
    return &host_api;
}
