/*
 * restate_app.c - struct core_http_app callbacks backed by core_restate.
 *
 * Each /invoke request owns one rs_session.  The response body is
 * collected in a growing buffer by the session's write callback and handed
 * to the endpoint when the attempt is over.
 */
#include "http/restate_app.h"

#include "common/log.h"

#include <stdlib.h>
#include <string.h>

#define TAG "http"

/* One /invoke request: the session and the response bytes so far. */
struct attempt {
    struct core_http_restate *binding;
    rs_session *session;
    uint8_t *out;
    size_t len;
    size_t cap;
};

static char *app_discover(void *ctx, int version, size_t *len)
{
    struct core_http_restate *b = ctx;
    char *json;

    json = rs_manifest_json(b->registry, version, RS_MODE_REQUEST_RESPONSE);
    if (json == NULL) {
        log_error(TAG, "cannot build manifest v%d", version);
        return NULL;
    }
    *len = strlen(json);
    return json;
}

static void *app_open(void *ctx, const char *service, const char *handler,
                      int version, const char *inv_id, int *status)
{
    struct core_http_restate *b = ctx;
    struct attempt *a;

    if (!rs_registry_has(b->registry, service, handler)) {
        *status = 404;
        return NULL;
    }

    a = calloc(1, sizeof(*a));
    if (a != NULL)
        a->binding = b;
    if (a != NULL)
        a->session =
            rs_session_new(b->registry, service, handler, version, &b->session);
    if (a == NULL || a->session == NULL) {
        log_error(TAG, "cannot create a session for %s/%s (%s)", service,
                  handler, inv_id != NULL ? inv_id : "no invocation id");
        free(a);
        *status = 500;
        return NULL;
    }
    log_debug(TAG, "attempt of %s/%s for %s started", service, handler,
              inv_id != NULL ? inv_id : "?");
    return a;
}

static int app_feed(void *session, const uint8_t *data, size_t len)
{
    struct attempt *a = session;

    if (rs_session_feed(a->session, data, len) != 0) {
        log_warn(TAG, "bad invocation body: %s", rs_session_error(a->session));
        return -1;
    }
    return 0;
}

/* rs_write_fn: append to the attempt's response buffer. */
static int collect(void *user, const uint8_t *data, size_t len)
{
    struct attempt *a = user;

    if (len > a->cap - a->len) {
        size_t cap = a->cap != 0 ? a->cap : 256;
        uint8_t *grown;

        while (len > cap - a->len)
            cap *= 2;
        grown = realloc(a->out, cap);
        if (grown == NULL)
            return -1;
        a->out = grown;
        a->cap = cap;
    }
    memcpy(a->out + a->len, data, len);
    a->len += len;
    return 0;
}

static const char *outcome_name(rs_outcome o)
{
    switch (o) {
    case RS_OUTCOME_COMPLETED:
        return "completed";
    case RS_OUTCOME_FAILED:
        return "failed terminally";
    case RS_OUTCOME_SUSPENDED:
        return "suspended";
    case RS_OUTCOME_ERROR:
        return "ended with an error";
    default:
        return "lost its output";
    }
}

static int app_finish(void *session, uint8_t **out, size_t *out_len)
{
    struct attempt *a = session;
    rs_outcome outcome;

    outcome = rs_session_run(a->session, collect, a);
    if ((unsigned)outcome <= RS_OUTCOME_IO)
        atomic_fetch_add(&a->binding->outcomes[outcome], 1);
    if (outcome == RS_OUTCOME_ERROR)
        log_warn(TAG, "attempt of %s %s: %s",
                 rs_session_invocation_id(a->session), outcome_name(outcome),
                 rs_session_error(a->session));
    else
        log_debug(TAG, "attempt of %s %s", rs_session_invocation_id(a->session),
                  outcome_name(outcome));
    if (outcome == RS_OUTCOME_IO) {
        log_error(TAG, "out of memory collecting the response of %s",
                  rs_session_invocation_id(a->session));
        return -1;
    }

    *out = a->out;
    *out_len = a->len;
    a->out = NULL;
    a->len = a->cap = 0;
    return 0;
}

static int app_too_large(void *session, size_t limit)
{
    struct attempt *a = session;

    return rs_session_refuse_oversized(a->session, limit);
}

static void app_close(void *session)
{
    struct attempt *a = session;

    rs_session_free(a->session);
    free(a->out);
    free(a);
}

void core_http_restate_counts(struct core_http_restate *binding,
                              unsigned long out[RS_OUTCOME_IO + 1])
{
    int i;

    for (i = 0; i <= RS_OUTCOME_IO; i++)
        out[i] = atomic_load(&binding->outcomes[i]);
}

void core_http_restate_app(struct core_http_restate *binding,
                           const rs_registry *registry,
                           const rs_session_config *cfg,
                           struct core_http_app *app)
{
    binding->registry = registry;
    for (int i = 0; i <= RS_OUTCOME_IO; i++)
        atomic_init(&binding->outcomes[i], 0);
    if (cfg != NULL)
        binding->session = *cfg;
    else
        rs_session_config_init(&binding->session);

    memset(app, 0, sizeof(*app));
    app->ctx = binding;
    app->manifest_min = RS_MANIFEST_MIN;
    app->manifest_max = RS_MANIFEST_MAX;
    app->discover = app_discover;
    app->session_open = app_open;
    app->session_feed = app_feed;
    app->session_finish = app_finish;
    app->session_too_large = app_too_large;
    app->session_close = app_close;
}
