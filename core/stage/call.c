/*
 * call.c - running one stage on one item, and the direct environment
 * (no journal: run blocks execute at once, real clock, /dev/urandom).
 */
#include "stage/call.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

struct cls_host *stage_call_host(const cls_call *call)
{
    return call->host;
}

struct core_arena *stage_call_arena(cls_call *call)
{
    return &call->arena;
}

cls_status stage_call_run_once(cls_call *call, const char *name, cls_run_fn fn,
                               void *fn_arg, const cls_json **result,
                               cls_error *err)
{
    cls_error fn_err = {0};
    cls_status st;
    cls_out out;

    *result = NULL;
    st = core_out_init(&out);
    if (st != CLS_OK) {
        core_out_fini(&out);
        return cls_error_set(err, st, "run %s: out of memory", name);
    }

    st = fn(fn_arg, &out, &fn_err);
    if (st != CLS_OK) {
        core_out_fini(&out);
        return cls_error_set(err, st, "run %s: %s", name,
                             fn_err.message[0] ? fn_err.message
                                               : "failed without a message");
    }

    st = core_out_take(&out, &call->arena, result, &fn_err);
    core_out_fini(&out);
    if (st != CLS_OK)
        return cls_error_set(err, st, "run %s: %s", name, fn_err.message);
    return CLS_OK;
}

/* ------------------------------------------------------------------ */
/* Direct environment                                                  */
/* ------------------------------------------------------------------ */

static cls_status direct_llm(void *arg, cls_call *call,
                             const cls_llm_request *req, cls_llm_reply *reply,
                             cls_error *err)
{
    struct stage_direct_env *d = arg;

    if (d->llm == NULL)
        return cls_error_set(err, CLS_FAIL, "no LLM client configured");
    return d->llm(d->llm_arg, call, req, reply, err);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        continue;
}

static int direct_cancelled(void *arg, const cls_call *call)
{
    struct stage_direct_env *d = arg;

    (void)call;
    return d->cancel_flag != NULL && atomic_load(d->cancel_flag) != 0;
}

static cls_status direct_run(void *arg, cls_call *call, const char *name,
                             cls_run_fn fn, void *fn_arg,
                             const cls_json **result, cls_error *err)
{
    struct stage_direct_env *d = arg;
    unsigned attempts = d->retry.max_attempts ? d->retry.max_attempts : 1;
    unsigned delay = d->retry.initial_delay_ms;
    unsigned i;
    cls_status st = CLS_FAIL;

    for (i = 0; i < attempts; i++) {
        st = stage_call_run_once(call, name, fn, fn_arg, result, err);
        if (st != CLS_RETRY && st != CLS_ENOMEM)
            return st;
        if (i + 1 == attempts || direct_cancelled(arg, call))
            break;

        sleep_ms(delay);
        delay = delay * 2 > d->retry.max_delay_ms ? d->retry.max_delay_ms
                                                  : delay * 2;
    }
    return st;
}

static int64_t direct_now_ms(void *arg, cls_call *call)
{
    struct timespec ts;

    (void)arg;
    (void)call;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t direct_random_u64(void *arg, cls_call *call)
{
    uint64_t v = 0;
    ssize_t n = -1;
    int fd;

    (void)arg;
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, &v, sizeof(v));
        close(fd);
    }
    if (n != (ssize_t)sizeof(v)) {
        /* Mix the clock and the call address rather than return 0. */
        v = (uint64_t)direct_now_ms(NULL, call) * 0x9e3779b97f4a7c15ull ^
            (uint64_t)(uintptr_t)call;
    }
    return v;
}

void stage_direct_env_init(struct stage_direct_env *d, stage_llm_fn llm,
                           void *llm_arg,
                           const struct stage_retry_policy *retry,
                           const atomic_int *cancel_flag)
{
    memset(d, 0, sizeof(*d));
    d->llm = llm;
    d->llm_arg = llm_arg;
    if (retry != NULL)
        d->retry = *retry;
    d->cancel_flag = cancel_flag;
    d->env.llm_complete = direct_llm;
    d->env.run = direct_run;
    d->env.now_ms = direct_now_ms;
    d->env.random_u64 = direct_random_u64;
    d->env.cancelled = direct_cancelled;
    d->env.arg = d;
}

/* ------------------------------------------------------------------ */
/* Invocation                                                          */
/* ------------------------------------------------------------------ */

static const char *status_name(cls_status st)
{
    switch (st) {
    case CLS_OK:
        return "OK";
    case CLS_RETRY:
        return "RETRY";
    case CLS_FAIL:
        return "FAIL";
    case CLS_EINVAL:
        return "EINVAL";
    case CLS_ENOMEM:
        return "ENOMEM";
    }
    return "an unknown status";
}

/* Call process() with the instance lock when the stage needs one. */
static cls_status call_process(struct cls_host *s, cls_call *call,
                               const cls_json *input, cls_out *out,
                               cls_error *err)
{
    int serial = !(s->flags & CLS_STAGE_CONCURRENT);
    cls_status st;

    if (serial)
        pthread_mutex_lock(&s->call_lock);
    st = s->process(s->instance, call, input, out, err);
    if (serial)
        pthread_mutex_unlock(&s->call_lock);
    return st;
}

/* Turn a stage's failure into the caller's message. */
static cls_status stage_failed(struct cls_host *s, cls_status st,
                               const cls_error *stage_err, cls_error *err)
{
    if (st != CLS_RETRY && st != CLS_FAIL && st != CLS_EINVAL &&
        st != CLS_ENOMEM)
        return cls_error_set(err, CLS_FAIL, "stage %s %s returned %s (%d)",
                             s->name, s->version, status_name(st), (int)st);
    if (stage_err->message[0] == '\0')
        return cls_error_set(err, st,
                             "stage %s %s returned %s without a "
                             "message",
                             s->name, s->version, status_name(st));
    return cls_error_set(err, st, "stage %s %s: %s", s->name, s->version,
                         stage_err->message);
}

cls_status stage_invoke(struct cls_host *s, const struct stage_call_env *env,
                        const char *item_id, const char *input_json, size_t len,
                        char **output_json, cls_error *err)
{
    static const struct stage_call_env none = {0};
    cls_call call = {.host = s, .env = env ? env : &none, .item_id = item_id};
    cls_error stage_err = {0};
    const cls_json *input;
    cls_status st;
    cls_out out;

    *output_json = NULL;
    core_arena_init(&call.arena);

    input = core_json_parse(&call.arena, input_json, len, err);
    if (input == NULL) {
        st = err ? err->code : CLS_FAIL;
        goto out;
    }
    if (core_json_type(input) != CLS_JSON_OBJECT) {
        st = cls_error_set(err, CLS_FAIL,
                           "stage %s: input is not a JSON object", s->name);
        goto out;
    }

    st = core_out_init(&out);
    if (st == CLS_OK) {
        atomic_fetch_add(&s->in_flight, 1);
        st = call_process(s, &call, input, &out, &stage_err);
        atomic_fetch_sub(&s->in_flight, 1);
        if (st != CLS_OK)
            st = stage_failed(s, st, &stage_err, err);
        else if (core_out_print(&out, output_json, &stage_err) != CLS_OK)
            st = cls_error_set(err, CLS_FAIL, "stage %s %s: %s", s->name,
                               s->version, stage_err.message);
    }
    else {
        st = cls_error_set(err, CLS_ENOMEM, "stage %s: out of memory", s->name);
    }
    core_out_fini(&out);

out:
    core_arena_release(&call.arena);
    return st;
}
