/*
 * type_v2.c - a test-only second build of the type-classification stage
 * for the reload end-to-end test.  It compiles the stage's own source and
 * differs visibly from the shipped build: version "2.0.0", build id
 * "reload-test-v2", and every reasoning text starts with
 * "[type-classification 2.0.0] ".  Service, handler, slot, options and
 * answers are otherwise those of the shipped stage, so swapping the two
 * changes no Restate service.
 *
 * How: the shipped entry function is renamed and hidden, the stage's
 * reasoning string is marked in place as it is written (a macro over the
 * output call in the included source), and this file exports its own
 * descriptor built from the included one's callbacks.
 */
#include <stdio.h>
#include <string.h>

#include "classify/stage.h"

static const char *v2_mark(const char *key, const char *value);

#undef CLS_EXPORT
#define CLS_EXPORT
#define cls_stage_entry_v1  type_v1_entry_hidden
#define out_string(o, k, v) out_string((o), (k), v2_mark((k), (v)))
#include "stage.c"
#undef out_string
#undef cls_stage_entry_v1
#undef CLS_EXPORT
#define CLS_EXPORT __attribute__((visibility("default")))

#define V2_VERSION "2.0.0"
#define V2_MARKER  "[" STAGE_NAME " " V2_VERSION "] "

/*
 * The stage writes its reasoning from the reasoning buffer of a result it
 * owns (struct type_result, not const): prefix the marker there.
 */
static const char *v2_mark(const char *key, const char *value)
{
    size_t cap = sizeof(((struct type_result *)0)->reasoning);
    size_t mlen = sizeof(V2_MARKER) - 1, len;
    char *buf = (char *)value;

    if (key == NULL || value == NULL || strcmp(key, "reasoning") != 0)
        return value;
    len = strlen(buf);
    if (len + mlen >= cap)
        len = cap - mlen - 1;
    memmove(buf + mlen, buf, len);
    memcpy(buf, V2_MARKER, mlen);
    buf[mlen + len] = '\0';
    return buf;
}

static const cls_stage_desc descriptor_v2 = {
    .magic = CLS_STAGE_MAGIC,
    .struct_size = sizeof(cls_stage_desc),
    .abi_major = CLS_ABI_MAJOR,
    .abi_minor = 0,
    .flags = CLS_STAGE_CONCURRENT | CLS_STAGE_USES_LLM,
    .name = STAGE_NAME,
    .version = V2_VERSION,
    .build_id = CLS_STAGE_BUILD_ID,
    .description = "indicator type, temporal aggregation and orientation "
                   "(reload test build)",
    .slot = CLS_SLOT_TYPE_CLASSIFICATION,
    .service = "type-classification",
    .handler = "classify",
    .config_schema = config_schema,
    .create = create,
    .destroy = destroy,
    .process = process,
    .quiesce = NULL,
};

CLS_STAGE_DEFINE(descriptor_v2)
