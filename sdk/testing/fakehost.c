/*
 * fakehost.c - the SDK's in-process fake host (classify/fakehost.h): every
 * cls_host_api member, with options from the test, a scripted LLM, fixed
 * time and randomness, counted instance memory and a captured log.  The
 * JSON views and builder and the descriptor and option checks are the
 * host's own (core/common/json.c, core/stage/desc.c).
 */
#include "classify/fakehost.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "stage/desc.h"

/* 2026-01-01T00:00:00Z: the fake clock's first reading. */
#define FAKE_EPOCH_MS 1767225600000LL
#define FAKE_SEED     0x5eed5eed5eed5eedULL

struct fake_option {
    char *key;
    char *value;
};

struct fake_llm {
    cls_status status;
    char *text;
    char *system; /* recorded when consumed */
    char *user;
};

struct fake_block {
    struct fake_block *prev;
    struct fake_block *next;
    size_t size;
};

union fake_header {
    struct fake_block b;
    max_align_t align;
};

struct cls_host {
    struct cls_fake_host *fh;
};

struct cls_call {
    struct cls_fake_host *fh;
    struct core_arena arena;
    const char *item_id;
};

struct cls_fake_host {
    struct cls_host host;

    struct fake_option *options;
    size_t n_options;
    char *provider_kind;
    int fallback_to_rules;
    char *plugin_dir;

    struct fake_llm *llm;
    size_t n_llm;
    size_t llm_next;

    const cls_stage_desc *desc;
    void *instance;
    int live;
    struct stage_option *values;
    size_t n_values;

    struct fake_block *blocks;
    size_t mem_bytes;

    char *log;
    size_t log_len;

    int64_t clock_ms;
    uint64_t rng;
};

static const cls_host_api fake_api;

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static int replace_str(char **slot, const char *value)
{
    char *copy = strdup(value != NULL ? value : "");

    if (copy == NULL)
        return -1;
    free(*slot);
    *slot = copy;
    return 0;
}

static void log_append(cls_fake_host *fh, const char *level, const char *fmt,
                       va_list ap) CLS_PRINTF(3, 0);

static void log_append(cls_fake_host *fh, const char *level, const char *fmt,
                       va_list ap)
{
    char line[1024];
    size_t n;
    char *grown;
    int w;

    w = snprintf(line, sizeof(line), "%s ", level);
    if (w < 0)
        return;
    vsnprintf(line + w, sizeof(line) - (size_t)w, fmt, ap);
    n = strlen(line);

    grown = realloc(fh->log, fh->log_len + n + 2);
    if (grown == NULL)
        return;
    fh->log = grown;
    memcpy(fh->log + fh->log_len, line, n);
    fh->log_len += n;
    fh->log[fh->log_len++] = '\n';
    fh->log[fh->log_len] = '\0';
}

static void log_line(cls_fake_host *fh, const char *level, const char *fmt, ...)
    CLS_PRINTF(3, 4);

static void log_line(cls_fake_host *fh, const char *level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_append(fh, level, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------ */
/* Public: set-up                                                      */
/* ------------------------------------------------------------------ */

cls_fake_host *cls_fake_host_new(void)
{
    cls_fake_host *fh = calloc(1, sizeof(*fh));

    if (fh == NULL)
        return NULL;
    fh->host.fh = fh;
    fh->provider_kind = strdup("rules");
    fh->plugin_dir = strdup(".");
    fh->log = calloc(1, 1);
    if (fh->provider_kind == NULL || fh->plugin_dir == NULL ||
        fh->log == NULL) {
        cls_fake_host_free(fh);
        return NULL;
    }
    fh->clock_ms = FAKE_EPOCH_MS;
    fh->rng = FAKE_SEED;
    return fh;
}

static void values_free(cls_fake_host *fh)
{
    stage_options_free(fh->values, fh->n_values);
    fh->values = NULL;
    fh->n_values = 0;
}

void cls_fake_host_free(cls_fake_host *fh)
{
    size_t i;

    if (fh == NULL)
        return;
    cls_fake_host_destroy(fh);
    for (i = 0; i < fh->n_options; i++) {
        free(fh->options[i].key);
        free(fh->options[i].value);
    }
    free(fh->options);
    for (i = 0; i < fh->n_llm; i++) {
        free(fh->llm[i].text);
        free(fh->llm[i].system);
        free(fh->llm[i].user);
    }
    free(fh->llm);
    free(fh->provider_kind);
    free(fh->plugin_dir);
    free(fh->log);
    free(fh);
}

cls_status cls_fake_host_set_option(cls_fake_host *fh, const char *key,
                                    const char *value)
{
    struct fake_option *grown;
    size_t i;

    if (fh == NULL || key == NULL || value == NULL)
        return CLS_EINVAL;
    for (i = 0; i < fh->n_options; i++) {
        if (strcmp(fh->options[i].key, key) == 0)
            return replace_str(&fh->options[i].value, value) ? CLS_ENOMEM
                                                             : CLS_OK;
    }

    grown = realloc(fh->options, (fh->n_options + 1) * sizeof(*grown));
    if (grown == NULL)
        return CLS_ENOMEM;
    fh->options = grown;
    grown[fh->n_options].key = strdup(key);
    grown[fh->n_options].value = strdup(value);
    if (grown[fh->n_options].key == NULL ||
        grown[fh->n_options].value == NULL) {
        free(grown[fh->n_options].key);
        free(grown[fh->n_options].value);
        return CLS_ENOMEM;
    }
    fh->n_options++;
    return CLS_OK;
}

cls_status cls_fake_host_set_provider(cls_fake_host *fh, const char *kind,
                                      int fallback_to_rules)
{
    if (fh == NULL || kind == NULL)
        return CLS_EINVAL;
    if (strcmp(kind, "rules") != 0 && strcmp(kind, "openai") != 0 &&
        strcmp(kind, "anthropic") != 0)
        return CLS_EINVAL;
    if (replace_str(&fh->provider_kind, kind) != 0)
        return CLS_ENOMEM;
    fh->fallback_to_rules = fallback_to_rules != 0;
    return CLS_OK;
}

cls_status cls_fake_host_set_plugin_dir(cls_fake_host *fh, const char *dir)
{
    if (fh == NULL || dir == NULL)
        return CLS_EINVAL;
    return replace_str(&fh->plugin_dir, dir) ? CLS_ENOMEM : CLS_OK;
}

cls_status cls_fake_host_push_llm_reply(cls_fake_host *fh, cls_status status,
                                        const char *text)
{
    struct fake_llm *grown;

    if (fh == NULL)
        return CLS_EINVAL;
    grown = realloc(fh->llm, (fh->n_llm + 1) * sizeof(*grown));
    if (grown == NULL)
        return CLS_ENOMEM;
    fh->llm = grown;
    memset(&grown[fh->n_llm], 0, sizeof(*grown));
    grown[fh->n_llm].status = status;
    grown[fh->n_llm].text = strdup(text != NULL ? text : "");
    if (grown[fh->n_llm].text == NULL)
        return CLS_ENOMEM;
    fh->n_llm++;
    return CLS_OK;
}

const char *cls_fake_host_llm_system(const cls_fake_host *fh, size_t n)
{
    if (fh == NULL || n >= fh->llm_next)
        return NULL;
    return fh->llm[n].system;
}

const char *cls_fake_host_llm_user(const cls_fake_host *fh, size_t n)
{
    if (fh == NULL || n >= fh->llm_next)
        return NULL;
    return fh->llm[n].user;
}

size_t cls_fake_host_llm_calls(const cls_fake_host *fh)
{
    return fh != NULL ? fh->llm_next : 0;
}

const char *cls_fake_host_log(const cls_fake_host *fh)
{
    return fh != NULL && fh->log != NULL ? fh->log : "";
}

/* ------------------------------------------------------------------ */
/* Descriptor and option checks                                        */
/* ------------------------------------------------------------------ */

/* The host's own descriptor checks (core/stage/desc.c). */
static cls_status check_desc(const cls_stage_desc *d, cls_error *err)
{
    if (d == NULL)
        return cls_error_set(err, CLS_EINVAL, "fake host: no descriptor");
    return stage_desc_check("fake host", d, err);
}

static const char *fake_option_value(const cls_fake_host *fh, const char *key)
{
    size_t i;

    for (i = 0; i < fh->n_options; i++) {
        if (strcmp(fh->options[i].key, key) == 0)
            return fh->options[i].value;
    }
    return NULL;
}

/* Build one typed value for schema key k. */
static cls_status value_build(cls_fake_host *fh, const cls_config_key *k,
                              struct stage_option *v, cls_error *err)
{
    const char *text = fake_option_value(fh, k->name);
    cls_status st;

    v->key = strdup(k->name);
    if (v->key == NULL)
        return cls_error_set(err, CLS_ENOMEM, "fake host: out of memory");
    v->type = k->type;
    if (text == NULL && k->required)
        return cls_error_set(err, CLS_EINVAL,
                             "required option \"%s\" (%s) is missing", k->name,
                             stage_type_word(k->type));
    if (text == NULL)
        text = k->default_value ? k->default_value
                                : stage_implicit_default(k->type);
    st = stage_value_parse(v->type, text, &v->s, &v->i, &v->d, &v->b);
    if (st == CLS_ENOMEM)
        return cls_error_set(err, st, "fake host: out of memory");
    if (st != CLS_OK)
        return cls_error_set(err, CLS_EINVAL,
                             "option \"%s\" must be %s, not \"%s\"", k->name,
                             stage_type_word(k->type), text);
    if (stage_value_out_of_range(k, v->d))
        return cls_error_set(err, CLS_EINVAL,
                             "option \"%s\" is %g, outside [%g, %g]", k->name,
                             v->d, k->min, k->max);
    return CLS_OK;
}

static cls_status options_validate(cls_fake_host *fh,
                                   const cls_config_key *schema, cls_error *err)
{
    size_t n = 0, i;
    cls_status st;

    for (i = 0; i < fh->n_options; i++) {
        if (stage_schema_find(schema, fh->options[i].key) == NULL)
            return cls_error_set(err, CLS_EINVAL, "unknown option \"%s\"",
                                 fh->options[i].key);
    }
    while (schema != NULL && schema[n].type != CLS_CONFIG_END)
        n++;
    if (n == 0)
        return CLS_OK;

    fh->values = calloc(n, sizeof(*fh->values));
    if (fh->values == NULL)
        return cls_error_set(err, CLS_ENOMEM, "fake host: out of memory");
    fh->n_values = n;
    for (i = 0; i < n; i++) {
        st = value_build(fh, &schema[i], &fh->values[i], err);
        if (st != CLS_OK) {
            values_free(fh);
            return st;
        }
    }
    return CLS_OK;
}

/* ------------------------------------------------------------------ */
/* Public: life of the instance                                        */
/* ------------------------------------------------------------------ */

static void blocks_reclaim(cls_fake_host *fh)
{
    while (fh->blocks != NULL) {
        struct fake_block *b = fh->blocks;

        fh->blocks = b->next;
        free((union fake_header *)(void *)b);
    }
    fh->mem_bytes = 0;
}

cls_status cls_fake_host_create(cls_fake_host *fh, const cls_stage_desc *desc,
                                cls_error *err)
{
    cls_error perr = {0};
    cls_status st;

    if (fh == NULL)
        return cls_error_set(err, CLS_EINVAL, "fake host: NULL fake");
    if (fh->live)
        return cls_error_set(err, CLS_EINVAL,
                             "fake host: an instance is already live");
    st = check_desc(desc, err);
    if (st != CLS_OK)
        return st;
    st = options_validate(fh, desc->config_schema, err);
    if (st != CLS_OK)
        return st;

    fh->desc = desc;
    st = desc->create(&fake_api, &fh->host, &fh->instance, &perr);
    if (st != CLS_OK) {
        values_free(fh);
        blocks_reclaim(fh);
        fh->instance = NULL;
        return cls_error_set(err, st, "%s", perr.message);
    }
    fh->live = 1;
    return CLS_OK;
}

cls_status cls_fake_host_process(cls_fake_host *fh, const char *input_json,
                                 char **output_json, cls_error *err)
{
    cls_call call = {.fh = fh, .item_id = "fake-item"};
    cls_error perr = {0};
    const cls_json *input;
    cls_status st;
    cls_out out;

    *output_json = NULL;
    if (fh == NULL || !fh->live)
        return cls_error_set(err, CLS_EINVAL, "fake host: no live instance");
    core_arena_init(&call.arena);
    input = core_json_parse(&call.arena, input_json,
                            input_json ? strlen(input_json) : 0, err);
    if (input == NULL) {
        st = CLS_FAIL;
        goto out;
    }

    st = core_out_init(&out);
    if (st == CLS_OK)
        st = fh->desc->process(fh->instance, &call, input, &out, &perr);
    if (st == CLS_OK)
        st = core_out_print(&out, output_json, err);
    else
        cls_error_set(err, st, "%s", perr.message);
    core_out_fini(&out);

out:
    core_arena_release(&call.arena);
    return st;
}

size_t cls_fake_host_destroy(cls_fake_host *fh)
{
    size_t left;

    if (fh == NULL || !fh->live)
        return 0;
    if (fh->desc->quiesce != NULL)
        fh->desc->quiesce(fh->instance);
    fh->desc->destroy(fh->instance);
    fh->instance = NULL;
    fh->live = 0;

    left = fh->mem_bytes;
    blocks_reclaim(fh);
    values_free(fh);
    return left;
}

/* ------------------------------------------------------------------ */
/* The API table                                                       */
/* ------------------------------------------------------------------ */

static void fake_log(const cls_host *host, cls_log_level level, const char *fmt,
                     ...) CLS_PRINTF(3, 4);

static void fake_log(const cls_host *host, cls_log_level level, const char *fmt,
                     ...)
{
    static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG",
                                        "TRACE"};
    va_list ap;

    if (host == NULL || fmt == NULL || (unsigned)level > CLS_LOG_TRACE)
        return;
    va_start(ap, fmt);
    log_append(host->fh, names[level], fmt, ap);
    va_end(ap);
}

static int fake_log_enabled(const cls_host *host, cls_log_level level)
{
    (void)host;
    return (unsigned)level <= CLS_LOG_TRACE;
}

static void *fake_alloc(const cls_host *host, size_t size)
{
    cls_fake_host *fh;
    union fake_header *hd;

    if (host == NULL || size > SIZE_MAX - sizeof(*hd))
        return NULL;
    fh = host->fh;
    hd = malloc(sizeof(*hd) + size);
    if (hd == NULL)
        return NULL;
    hd->b.size = size;
    hd->b.prev = NULL;
    hd->b.next = fh->blocks;
    if (fh->blocks != NULL)
        fh->blocks->prev = &hd->b;
    fh->blocks = &hd->b;
    fh->mem_bytes += size;
    return hd + 1;
}

static void fake_free(const cls_host *host, void *ptr)
{
    cls_fake_host *fh;
    union fake_header *hd;

    if (host == NULL || ptr == NULL)
        return;
    fh = host->fh;
    hd = (union fake_header *)ptr - 1;
    if (hd->b.prev != NULL)
        hd->b.prev->next = hd->b.next;
    else
        fh->blocks = hd->b.next;
    if (hd->b.next != NULL)
        hd->b.next->prev = hd->b.prev;
    fh->mem_bytes -= hd->b.size;
    free(hd);
}

static void *fake_call_alloc(cls_call *call, size_t size)
{
    return call != NULL ? core_arena_alloc(&call->arena, size) : NULL;
}

void stage_host_options(const cls_host *host, const struct stage_option **opts,
                        size_t *n)
{
    *opts = host->fh->values;
    *n = host->fh->n_values;
}

static const char *fake_provider_kind(const cls_host *host)
{
    return host != NULL ? host->fh->provider_kind : "rules";
}

static int fake_fallback_to_rules(const cls_host *host)
{
    return host != NULL && host->fh->fallback_to_rules;
}

static const char *fake_plugin_dir(const cls_host *host)
{
    return host != NULL ? host->fh->plugin_dir : ".";
}

static char *fake_read_file(const cls_host *host, const char *path, size_t *len,
                            cls_error *err)
{
    char full[4096];
    char *buf = NULL;
    long size;
    FILE *f;

    if (stage_file_path(host != NULL ? host->fh->plugin_dir : NULL, path, full,
                        sizeof(full), err) != CLS_OK)
        return NULL;

    f = fopen(full, "rb");
    if (f == NULL) {
        cls_error_set(err, CLS_FAIL, "read_file %s: %s", full, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        cls_error_set(err, CLS_FAIL, "read_file %s: cannot size it", full);
        goto out;
    }
    buf = fake_alloc(host, (size_t)size + 1);
    if (buf == NULL) {
        cls_error_set(err, CLS_ENOMEM, "read_file %s: out of memory", full);
        goto out;
    }
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fake_free(host, buf);
        buf = NULL;
        cls_error_set(err, CLS_FAIL, "read_file %s: short read", full);
        goto out;
    }
    buf[size] = '\0';
    if (len != NULL)
        *len = (size_t)size;

out:
    fclose(f);
    return buf;
}

static const cls_json *fake_json_parse(cls_call *call, const char *text,
                                       size_t len, cls_error *err)
{
    if (call == NULL) {
        cls_error_set(err, CLS_EINVAL, "json_parse: no call");
        return NULL;
    }
    return core_json_parse(&call->arena, text, len, err);
}

/* Record the prompts of the reply about to be consumed. */
static cls_status record_prompts(struct fake_llm *r, const cls_llm_request *req)
{
    r->system = strdup(req->system_prompt ? req->system_prompt : "");
    r->user = strdup(req->user_message ? req->user_message : "");
    return r->system && r->user ? CLS_OK : CLS_ENOMEM;
}

static cls_status fake_llm_complete(cls_call *call, const cls_llm_request *req,
                                    cls_llm_reply *reply, cls_error *err)
{
    cls_status st = stage_llm_args_check(call, req, reply, err);
    cls_fake_host *fh;
    struct fake_llm *r;

    if (st != CLS_OK)
        return st;
    fh = call->fh;
    if (strcmp(fh->provider_kind, "rules") == 0)
        return cls_error_set(err, CLS_FAIL,
                             "llm_complete: provider is \"rules\"; no LLM is "
                             "available");
    if (fh->llm_next >= fh->n_llm)
        return cls_error_set(err, CLS_FAIL,
                             "llm_complete: fake host has no reply queued");

    r = &fh->llm[fh->llm_next++];
    if (record_prompts(r, req) != CLS_OK)
        return cls_error_set(err, CLS_ENOMEM, "llm_complete: out of memory");
    if (r->status != CLS_OK)
        return cls_error_set(err, r->status, "%s", r->text);

    memset((char *)reply + sizeof(reply->struct_size), 0,
           sizeof(*reply) - sizeof(reply->struct_size));
    reply->object =
        core_json_parse(&call->arena, r->text, strlen(r->text), err);
    if (reply->object == NULL)
        return CLS_FAIL;
    reply->text = r->text;
    reply->provider = fh->provider_kind;
    reply->model = "fake-model";
    reply->attempts = 1;
    return CLS_OK;
}

static cls_status fake_run(cls_call *call, const char *name, cls_run_fn fn,
                           void *arg, const cls_json **result, cls_error *err)
{
    cls_error fn_err = {0};
    cls_status st;
    cls_out out;

    if (call == NULL || name == NULL || fn == NULL || result == NULL)
        return cls_error_set(err, CLS_EINVAL, "run: NULL argument");
    *result = NULL;
    st = core_out_init(&out);
    if (st == CLS_OK)
        st = fn(arg, &out, &fn_err);
    if (st == CLS_OK)
        st = core_out_take(&out, &call->arena, result, err);
    else
        cls_error_set(err, st, "run %s: %s", name, fn_err.message);
    core_out_fini(&out);
    return st;
}

static int64_t fake_now_ms(cls_call *call)
{
    if (call == NULL)
        return 0;
    call->fh->clock_ms += 1000;
    return call->fh->clock_ms - 1000;
}

static uint64_t fake_random_u64(cls_call *call)
{
    uint64_t z;

    if (call == NULL)
        return 0;
    /* splitmix64 */
    z = (call->fh->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static const char *fake_call_item_id(const cls_call *call)
{
    return call != NULL ? call->item_id : "";
}

static int fake_call_cancelled(const cls_call *call)
{
    (void)call;
    return 0;
}

static void fake_counter_add(const cls_host *host, const char *name,
                             uint64_t delta)
{
    if (host != NULL && name != NULL)
        log_line(host->fh, "METRIC", "counter %s += %llu", name,
                 (unsigned long long)delta);
}

static void fake_gauge_set(const cls_host *host, const char *name, double value)
{
    if (host != NULL && name != NULL)
        log_line(host->fh, "METRIC", "gauge %s = %g", name, value);
}

static const cls_host_api fake_api = {
    .struct_size = sizeof(cls_host_api),
    .abi_major = CLS_ABI_MAJOR,
    .abi_minor = CLS_ABI_MINOR,
    .log = fake_log,
    .log_enabled = fake_log_enabled,
    .alloc = fake_alloc,
    .free = fake_free,
    .call_alloc = fake_call_alloc,
    .config_string = stage_config_string,
    .config_int = stage_config_int,
    .config_double = stage_config_double,
    .config_bool = stage_config_bool,
    .provider_kind = fake_provider_kind,
    .fallback_to_rules = fake_fallback_to_rules,
    .plugin_dir = fake_plugin_dir,
    .read_file = fake_read_file,
    CORE_JSON_API_MEMBERS,
    .json_parse = fake_json_parse,
    .llm_complete = fake_llm_complete,
    .run = fake_run,
    .now_ms = fake_now_ms,
    .random_u64 = fake_random_u64,
    .call_item_id = fake_call_item_id,
    .call_cancelled = fake_call_cancelled,
    .counter_add = fake_counter_add,
    .gauge_set = fake_gauge_set,
};
