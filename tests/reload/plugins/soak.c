/*
 * soak.c - a tiny stage built twice (SOAK_VERSION "1.0.0" and "2.0.0") so
 * the reload tests can swap two builds of one stage.  process() copies
 * input.indicator.id and names its version, after a little work so calls
 * overlap a swap.  Instance memory only; no global state.
 */
#include <string.h>

#include <classify/stage.h>

#ifndef SOAK_VERSION
#define SOAK_VERSION "1.0.0"
#endif

struct soak {
    const cls_host_api *api;
    cls_host *host;
    char *scratch;
};

static cls_status soak_create(const cls_host_api *api, cls_host *host,
                              void **instance, cls_error *err)
{
    struct soak *s = api->alloc(host, sizeof(*s));

    if (s == NULL)
        return cls_error_set(err, CLS_ENOMEM, "soak: out of memory");
    s->api = api;
    s->host = host;
    s->scratch = api->alloc(host, 256);
    if (s->scratch == NULL) {
        api->free(host, s);
        return cls_error_set(err, CLS_ENOMEM, "soak: out of memory");
    }
    *instance = s;
    return CLS_OK;
}

static cls_status soak_process(void *instance, cls_call *call,
                               const cls_json *input, cls_out *out,
                               cls_error *err)
{
    const struct soak *s = instance;
    const cls_host_api *api = s->api;
    const cls_json *ind = api->json_get(input, "indicator");
    const char *id = api->json_string(api->json_get(ind, "id"));
    char *work = api->call_alloc(call, 4096);
    unsigned sum = 0;
    size_t i;

    if (work == NULL)
        return cls_error_set(err, CLS_ENOMEM, "soak: out of memory");
    for (i = 0; i < 4096; i++) {
        work[i] = (char)(i * 31u);
        sum += (unsigned char)work[i];
    }
    api->out_string(out, "id", id);
    api->out_int(out, "sum", sum);
    return api->out_string(out, "version", SOAK_VERSION);
}

static void soak_destroy(void *instance)
{
    struct soak *s = instance;

    s->api->free(s->host, s->scratch);
    s->api->free(s->host, s);
}

static const cls_stage_desc descriptor = {
    .magic = CLS_STAGE_MAGIC,
    .struct_size = sizeof(cls_stage_desc),
    .abi_major = CLS_ABI_MAJOR,
    .abi_minor = 0,
    .flags = CLS_STAGE_CONCURRENT,
    .name = "soak",
    .version = SOAK_VERSION,
    .build_id = "soak-" SOAK_VERSION,
    .description = "reload test stage",
    .slot = CLS_SLOT_CUSTOM,
    .service = "soak",
    .handler = "run",
    .config_schema = NULL,
    .create = soak_create,
    .process = soak_process,
    .destroy = soak_destroy,
    .quiesce = NULL,
};

CLS_STAGE_DEFINE(descriptor)
