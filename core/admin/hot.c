/*
 * hot.c - registry versions behind one fixed endpoint app, and the
 * registration of the deployment with the Restate admin API.
 */
#include "admin/hot.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "http/restate_app.h"

#define TAG "reload"

/* One registry with its handlers' host and its app. */
struct hot_version {
    atomic_uint refs; /* current (1) + open attempts + discovers */
    rs_registry *registry;
    struct workflow_host wh;
    struct core_http_restate binding;
    struct core_http_app inner;
};

struct hot_services {
    pthread_mutex_t lock;
    struct hot_version *current;
    struct workflow_host proto;
    rs_session_config session;
    struct core_http_app app;
    unsigned long retired[RS_OUTCOME_IO + 1]; /* counts of freed versions */
};

/* An attempt and the version it was opened on. */
struct hot_attempt {
    struct hot_services *hs;
    struct hot_version *v;
    void *inner;
};

/* ------------------------------------------------------------------ */
/* Versions                                                            */
/* ------------------------------------------------------------------ */

static void version_free(struct hot_services *hs, struct hot_version *v)
{
    unsigned long n[RS_OUTCOME_IO + 1];
    size_t i;

    core_http_restate_counts(&v->binding, n);
    pthread_mutex_lock(&hs->lock);
    for (i = 0; i <= RS_OUTCOME_IO; i++)
        hs->retired[i] += n[i];
    pthread_mutex_unlock(&hs->lock);
    rs_registry_free(v->registry);
    workflow_host_fini(&v->wh);
    free(v);
}

static struct hot_version *version_new(struct hot_services *hs,
                                       const struct pipeline *p, char *err,
                                       size_t err_len)
{
    struct hot_version *v = calloc(1, sizeof(*v));

    if (v == NULL || (v->registry = rs_registry_new()) == NULL) {
        snprintf(err, err_len, "services: out of memory");
        free(v);
        return NULL;
    }
    atomic_init(&v->refs, 1);
    v->wh = hs->proto;
    v->wh.bindings = NULL;
    v->wh.n_bindings = 0;
    if (workflow_register(v->registry, &v->wh, p, err, err_len) != 0) {
        rs_registry_free(v->registry);
        workflow_host_fini(&v->wh);
        free(v);
        return NULL;
    }
    core_http_restate_app(&v->binding, v->registry, &hs->session, &v->inner);
    return v;
}

static struct hot_version *acquire(struct hot_services *hs)
{
    struct hot_version *v;

    pthread_mutex_lock(&hs->lock);
    v = hs->current;
    atomic_fetch_add(&v->refs, 1);
    pthread_mutex_unlock(&hs->lock);
    return v;
}

static void release(struct hot_services *hs, struct hot_version *v)
{
    if (atomic_fetch_sub(&v->refs, 1) == 1)
        version_free(hs, v);
}

/* ------------------------------------------------------------------ */
/* The app                                                             */
/* ------------------------------------------------------------------ */

static char *hot_discover(void *ctx, int version, size_t *len)
{
    struct hot_services *hs = ctx;
    struct hot_version *v = acquire(hs);
    char *json = v->inner.discover(v->inner.ctx, version, len);

    release(hs, v);
    return json;
}

static void *hot_open(void *ctx, const char *service, const char *handler,
                      int version, const char *inv_id, int *status)
{
    struct hot_services *hs = ctx;
    struct hot_attempt *a = calloc(1, sizeof(*a));

    if (a == NULL) {
        *status = 500;
        return NULL;
    }
    a->hs = hs;
    a->v = acquire(hs);
    a->inner = a->v->inner.session_open(a->v->inner.ctx, service, handler,
                                        version, inv_id, status);
    if (a->inner == NULL) {
        release(hs, a->v);
        free(a);
        return NULL;
    }
    return a;
}

static int hot_feed(void *session, const uint8_t *data, size_t len)
{
    struct hot_attempt *a = session;

    return a->v->inner.session_feed(a->inner, data, len);
}

static int hot_finish(void *session, uint8_t **out, size_t *out_len)
{
    struct hot_attempt *a = session;

    return a->v->inner.session_finish(a->inner, out, out_len);
}

static int hot_too_large(void *session, size_t limit)
{
    struct hot_attempt *a = session;

    if (a->v->inner.session_too_large == NULL)
        return -1;
    return a->v->inner.session_too_large(a->inner, limit);
}

static void hot_close(void *session)
{
    struct hot_attempt *a = session;

    a->v->inner.session_close(a->inner);
    release(a->hs, a->v);
    free(a);
}

/* ------------------------------------------------------------------ */
/* Public                                                              */
/* ------------------------------------------------------------------ */

struct hot_services *hot_services_new(const struct workflow_host *proto,
                                      const rs_session_config *sc,
                                      const struct pipeline *p, char *err,
                                      size_t err_len)
{
    struct hot_services *hs = calloc(1, sizeof(*hs));

    if (hs == NULL) {
        snprintf(err, err_len, "services: out of memory");
        return NULL;
    }
    pthread_mutex_init(&hs->lock, NULL);
    hs->proto = *proto;
    hs->session = *sc;
    hs->current = version_new(hs, p, err, err_len);
    if (hs->current == NULL) {
        pthread_mutex_destroy(&hs->lock);
        free(hs);
        return NULL;
    }
    hs->app = hs->current->inner;
    hs->app.ctx = hs;
    hs->app.discover = hot_discover;
    hs->app.session_open = hot_open;
    hs->app.session_feed = hot_feed;
    hs->app.session_finish = hot_finish;
    hs->app.session_close = hot_close;
    hs->app.session_too_large = hot_too_large;
    return hs;
}

const struct core_http_app *hot_services_app(struct hot_services *hs)
{
    return &hs->app;
}

/* Every (service, handler) of a is served by b. */
static int covered(const struct pipeline *a, const struct pipeline *b)
{
    size_t i, j;

    for (i = 0; i < a->n_stages; i++) {
        int found = 0;

        for (j = 0; j < b->n_stages && !found; j++)
            found = strcmp(a->stages[i]->service, b->stages[j]->service) == 0 &&
                    strcmp(a->stages[i]->handler, b->stages[j]->handler) == 0;
        if (!found)
            return 0;
    }
    return 1;
}

int hot_services_changed(const struct pipeline *a, const struct pipeline *b)
{
    if (a == NULL || b == NULL)
        return a != b;
    return !covered(a, b) || !covered(b, a);
}

int hot_services_replace(struct hot_services *hs, const struct pipeline *p,
                         char *err, size_t err_len)
{
    struct hot_version *v = version_new(hs, p, err, err_len), *old;

    if (v == NULL)
        return -1;
    pthread_mutex_lock(&hs->lock);
    old = hs->current;
    hs->current = v;
    pthread_mutex_unlock(&hs->lock);
    release(hs, old);
    return 0;
}

void hot_services_counts(struct hot_services *hs,
                         unsigned long out[RS_OUTCOME_IO + 1])
{
    unsigned long n[RS_OUTCOME_IO + 1];
    size_t i;

    pthread_mutex_lock(&hs->lock);
    core_http_restate_counts(&hs->current->binding, n);
    for (i = 0; i <= RS_OUTCOME_IO; i++)
        out[i] = hs->retired[i] + n[i];
    pthread_mutex_unlock(&hs->lock);
}

void hot_services_free(struct hot_services *hs)
{
    if (hs == NULL)
        return;
    release(hs, hs->current);
    pthread_mutex_destroy(&hs->lock);
    free(hs);
}

/* ------------------------------------------------------------------ */
/* Registration                                                        */
/* ------------------------------------------------------------------ */

static size_t keep_answer(char *ptr, size_t size, size_t n, void *arg)
{
    char *buf = arg;
    size_t have = strlen(buf), add = size * n;

    if (have + 1 < 512)
        snprintf(buf + have, 512 - have, "%.*s", (int)add, ptr);
    return add;
}

int hot_register_deployment(const char *admin_url, const char *uri, char *err,
                            size_t err_len)
{
    char url[1024], answer[512] = "", curl_err[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdr = NULL;
    CURL *h = curl_easy_init();
    cJSON *req = cJSON_CreateObject();
    char *body = NULL;
    long status = 0;
    int rc = -1;

    snprintf(url, sizeof(url), "%s/deployments", admin_url);
    if (h == NULL || req == NULL ||
        cJSON_AddStringToObject(req, "uri", uri) == NULL ||
        cJSON_AddBoolToObject(req, "use_http_11", 1) == NULL ||
        cJSON_AddBoolToObject(req, "force", 1) == NULL ||
        (body = cJSON_PrintUnformatted(req)) == NULL ||
        (hdr = curl_slist_append(NULL, "content-type: application/json")) ==
            NULL) {
        snprintf(err, err_len, "%s: out of memory", url);
        goto out;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_answer);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, answer);
    if (curl_easy_perform(h) != CURLE_OK) {
        snprintf(err, err_len, "%s: %s", url, curl_err);
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        snprintf(err, err_len, "%s answered %ld: %s", url, status, answer);
        goto out;
    }
    rc = 0;

out:
    curl_slist_free_all(hdr);
    free(body);
    cJSON_Delete(req);
    if (h != NULL)
        curl_easy_cleanup(h);
    return rc;
}
