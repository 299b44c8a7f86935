/*
 * variant.c - one source for the loader's test plugins.  Compile-time
 * switches turn the well-behaved "probe" stage into each broken case the
 * loader must refuse (wrong magic, other ABI, failing create, ...), or
 * into a stage that leaks, so every case is its own MODULE.
 *
 * The probe stage acts on input.action so the host API can be exercised
 * end to end: "echo", "fail", "retry-silent", "misuse", "unclosed",
 * "bad-utf8", "run", "llm", "clock", "scratch", "config".
 */
#include <string.h>

#include <classify/stage.h>

#ifndef P_NAME
#define P_NAME "probe"
#endif
#ifndef P_SERVICE
#define P_SERVICE P_NAME
#endif
#ifndef P_MAGIC
#define P_MAGIC CLS_STAGE_MAGIC
#endif
#ifndef P_MAJOR
#define P_MAJOR CLS_ABI_MAJOR
#endif
#ifndef P_MINOR
#define P_MINOR 0
#endif
#ifndef P_SLOT
#define P_SLOT CLS_SLOT_CUSTOM
#endif

struct probe {
    const cls_host_api *api;
    cls_host *host;
    char *scratch; /* instance memory; leaked on purpose with P_LEAK */
};

static cls_status probe_create(const cls_host_api *api, cls_host *host,
                               void **instance, cls_error *err)
{
    struct probe *p;

#ifdef P_CREATE_FAILS
    (void)api;
    (void)host;
    (void)instance;
    return cls_error_set(err, CLS_EINVAL, "threshold must be set");
#endif
    p = api->alloc(host, sizeof(*p));
    if (p == NULL)
        return cls_error_set(err, CLS_ENOMEM, "probe: out of memory");
    p->api = api;
    p->host = host;
    p->scratch = api->alloc(host, 100);
    if (p->scratch == NULL) {
        api->free(host, p);
        return cls_error_set(err, CLS_ENOMEM, "probe: out of memory");
    }
    api->log(host, CLS_LOG_INFO, "created with provider %s",
             api->provider_kind(host));
    *instance = p;
    return CLS_OK;
}

static cls_status write_answer(void *arg, cls_out *result, cls_error *err)
{
    const struct probe *p = arg;

    (void)err;
    return p->api->out_int(result, "answer", 42);
}

static cls_status do_run(struct probe *p, cls_call *call, cls_out *out,
                         cls_error *err)
{
    const cls_json *r = NULL;
    cls_status st;

    st = p->api->run(call, "answer", write_answer, p, &r, err);
    if (st != CLS_OK)
        return st;
    return p->api->out_json(out, "run", r);
}

static cls_status do_llm(struct probe *p, cls_call *call, cls_out *out,
                         cls_error *err)
{
    cls_llm_request req = {.struct_size = sizeof(req)};
    cls_llm_reply reply = {.struct_size = sizeof(reply)};
    cls_status st;

    req.system_prompt = "system";
    req.user_message = "user";
    req.schema_name = "probe";
    req.response_schema = "{\"type\":\"object\"}";
    st = p->api->llm_complete(call, &req, &reply, err);
    if (st != CLS_OK)
        return st;
    p->api->out_string(out, "model", reply.model);
    return p->api->out_json(out, "reply", reply.object);
}

static cls_status do_config(struct probe *p, cls_out *out, cls_error *err)
{
    const cls_host_api *api = p->api;
    const char *mode = NULL;
    int64_t count = 0;
    double threshold = 0;
    int flag = 0;

    if (api->config_string(p->host, "mode", &mode) != CLS_OK ||
        api->config_int(p->host, "count", &count) != CLS_OK ||
        api->config_double(p->host, "threshold", &threshold) != CLS_OK ||
        api->config_bool(p->host, "flag", &flag) != CLS_OK)
        return cls_error_set(err, CLS_FAIL, "probe: option lookup failed");
    if (api->config_int(p->host, "mode", &count) != CLS_EINVAL ||
        api->config_int(p->host, "nosuch", &count) != CLS_EINVAL)
        return cls_error_set(err, CLS_FAIL, "probe: bad lookup accepted");
    api->out_string(out, "mode", mode);
    api->out_int(out, "count", count);
    api->out_number(out, "threshold", threshold);
    api->out_bool(out, "flag", flag);
    return api->out_string(out, "dir", api->plugin_dir(p->host));
}

static cls_status do_clock(struct probe *p, cls_call *call, cls_out *out)
{
    const cls_host_api *api = p->api;
    uint64_t a = api->random_u64(call), b = api->random_u64(call);

    api->out_bool(out, "time_set", api->now_ms(call) > 1700000000000LL);
    api->out_bool(out, "random_differs", a != b);
    return api->out_string(out, "item", api->call_item_id(call));
}

static cls_status do_scratch(struct probe *p, cls_call *call, cls_out *out)
{
    char *buf = p->api->call_alloc(call, 16);

    if (buf == NULL)
        return CLS_ENOMEM;
    memcpy(buf, "scratch", 8);
    return p->api->out_string(out, "scratch", buf);
}

static cls_status do_misuse(struct probe *p, cls_out *out, const char *what)
{
    const cls_host_api *api = p->api;

    if (strcmp(what, "misuse") == 0) {
        api->out_array_begin(out, "list");
        api->out_string(out, "key-in-array", "x");
        return api->out_end(out);
    }
    if (strcmp(what, "unclosed") == 0)
        return api->out_object_begin(out, "open");
    return api->out_string(out, "bad", "caf\xe9");
}

#ifdef P_NO_PROCESS
__attribute__((unused))
#endif
static cls_status
probe_process(void *instance, cls_call *call, const cls_json *input,
              cls_out *out, cls_error *err)
{
    struct probe *p = instance;
    const cls_host_api *api = p->api;
    const char *action = api->json_string(api->json_get(input, "action"));

    if (action == NULL || strcmp(action, "echo") == 0)
        return api->out_json(out, "echo", api->json_get(input, "indicator"));
    if (strcmp(action, "fail") == 0)
        return cls_error_set(err, CLS_FAIL, "no family fits \"%s\"", action);
    if (strcmp(action, "retry-silent") == 0)
        return CLS_RETRY;
    if (strcmp(action, "run") == 0)
        return do_run(p, call, out, err);
    if (strcmp(action, "llm") == 0)
        return do_llm(p, call, out, err);
    if (strcmp(action, "config") == 0)
        return do_config(p, out, err);
    if (strcmp(action, "clock") == 0)
        return do_clock(p, call, out);
    if (strcmp(action, "scratch") == 0)
        return do_scratch(p, call, out);
    do_misuse(p, out, action);
    return CLS_OK; /* the builder's sticky error must fail the call */
}

static void probe_destroy(void *instance)
{
    struct probe *p = instance;

#ifndef P_LEAK
    p->api->free(p->host, p->scratch);
#endif
    p->api->free(p->host, p);
}

static const cls_config_key probe_schema[] = {
    {"mode", CLS_CONFIG_STRING, 0, "fast", 0, 0, "a string option"},
    {"count", CLS_CONFIG_INT, 0, "3", 1, 10, "an integer in [1, 10]"},
    {"threshold", CLS_CONFIG_DOUBLE, 0, "0.5", 0, 1, "a number in [0, 1]"},
    {"flag", CLS_CONFIG_BOOL, 0, "false", 0, 0, "a boolean"},
#ifdef P_REQUIRED
    {"must", CLS_CONFIG_STRING, 1, NULL, 0, 0, "a required option"},
#endif
    {NULL, CLS_CONFIG_END, 0, NULL, 0, 0, NULL},
};

static const cls_stage_desc probe_desc = {
    .magic = P_MAGIC,
    .struct_size = sizeof(cls_stage_desc),
    .abi_major = P_MAJOR,
    .abi_minor = P_MINOR,
    .flags = 0,
    .name = P_NAME,
    .version = "1.0.0",
    .build_id = "test",
    .description = "loader test stage",
    .slot = P_SLOT,
    .service = P_SERVICE,
    .handler = "run",
    .config_schema = probe_schema,
    .create = probe_create,
#ifdef P_NO_PROCESS
    .process = NULL,
#else
    .process = probe_process,
#endif
    .destroy = probe_destroy,
    .quiesce = NULL,
};

#if defined(P_NO_ENTRY)
/* Exports a function, but not the entry symbol. */
CLS_EXPORT int probe_not_an_entry(void);
CLS_EXPORT int probe_not_an_entry(void)
{
    return probe_desc.slot;
}
#elif defined(P_ENTRY_V2)
CLS_EXPORT const cls_stage_desc *cls_stage_entry_v2(void);
CLS_EXPORT const cls_stage_desc *cls_stage_entry_v2(void)
{
    return &probe_desc;
}
#else
CLS_STAGE_DEFINE(probe_desc)
#endif

#ifdef P_BAD_IMPORTS
/* For the export checker's own test: an extra export and a denied import. */
#include <stdlib.h>
CLS_EXPORT void probe_extra_export(void);
CLS_EXPORT void probe_extra_export(void)
{
    atexit(probe_extra_export);
}
#endif
