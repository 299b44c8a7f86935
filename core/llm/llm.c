/*
 * llm.c - providers and the completion loop: pace, send, classify the
 * answer, retry or stop.  See llm.h for the outcome of every failure.
 */
#define _GNU_SOURCE /* explicit_bzero */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "common/log.h"
#include "llm/http.h"
#include "llm/llm.h"
#include "llm/llm_internal.h"

#define TAG "llm"

#define WHY_MAX 384

struct llm_provider {
    struct llm_provider_settings s; /* strings below are owned copies */
    char *name, *base_url, *model, *api_key_env;
    char *url;
    struct curl_slist *headers; /* holds the key: never logged */
    struct llm_limiter *lim;
    struct llm_http_share *share; /* may be NULL: no reuse */

    pthread_mutex_t mu; /* guards prng and fatal */
    uint64_t prng;
    char fatal[CLS_ERROR_MAX]; /* sticky configuration failure */
    enum llm_reason fatal_reason;

    atomic_uint config_logged; /* one bit per kind of configuration error */
    atomic_uint_fast64_t calls, requests, rate_limited, wait_ms;
    atomic_int cancelled;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void init_curl(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *llm_reason_name(enum llm_reason reason)
{
    static const char *const names[] = {
        [LLM_OK] = "ok",
        [LLM_ERR_CONFIG] = "configuration",
        [LLM_ERR_QUOTA] = "quota",
        [LLM_ERR_RATE_LIMIT] = "rate_limited",
        [LLM_ERR_SERVER] = "server_error",
        [LLM_ERR_TIMEOUT] = "timeout",
        [LLM_ERR_TRANSPORT] = "transport",
        [LLM_ERR_TRUNCATED] = "truncated",
        [LLM_ERR_REFUSED] = "refused",
        [LLM_ERR_MALFORMED] = "malformed_output",
        [LLM_ERR_INVALID] = "invalid_output",
        [LLM_ERR_PROTOCOL] = "protocol",
        [LLM_ERR_INTERNAL] = "internal",
        [LLM_ERR_CANCELLED] = "cancelled",
    };

    if ((unsigned)reason >= sizeof(names) / sizeof(names[0]))
        return "unknown";
    return names[reason];
}

/* ------------------------------------------------------------------ */
/* Provider                                                            */
/* ------------------------------------------------------------------ */

static uint32_t or_default(uint32_t v, uint32_t dflt)
{
    return v != 0 ? v : dflt;
}

static void apply_defaults(struct llm_provider_settings *s)
{
    s->timeout_ms = or_default(s->timeout_ms, 60000);
    s->total_budget_ms = or_default(s->total_budget_ms, 300000);
    s->max_attempts = or_default(s->max_attempts, 3);
    s->window_ms = or_default(s->window_ms, 60000);
    s->max_output_tokens = or_default(s->max_output_tokens, 1024);
    s->backoff_base_ms = or_default(s->backoff_base_ms, 500);
    s->backoff_max_ms = or_default(s->backoff_max_ms, 20000);
}

static cls_status check_settings(const struct llm_provider_settings *s,
                                 cls_error *err)
{
    const char *who = s->name != NULL ? s->name : "(unnamed)";

    if (s->name == NULL || s->base_url == NULL || s->model == NULL ||
        s->name[0] == '\0' || s->base_url[0] == '\0' || s->model[0] == '\0')
        return cls_error_set(err, CLS_EINVAL,
                             "llm provider %s: name, base_url and model "
                             "are required",
                             who);
    if (s->kind != LLM_KIND_OPENAI && s->kind != LLM_KIND_ANTHROPIC)
        return cls_error_set(err, CLS_EINVAL,
                             "llm provider %s: unknown kind %d", who,
                             (int)s->kind);
    if (s->total_budget_ms >= LLM_RESTATE_ABORT_TIMEOUT_MS ||
        s->timeout_ms > s->total_budget_ms)
        return cls_error_set(err, CLS_EINVAL,
                             "llm provider %s: timeout_ms %u and "
                             "total_budget_ms %u must satisfy timeout <= "
                             "budget < %u (Restate's abort timeout)",
                             who, s->timeout_ms, s->total_budget_ms,
                             LLM_RESTATE_ABORT_TIMEOUT_MS);
    return CLS_OK;
}

static bool append_header(struct curl_slist **list, const char *a,
                          const char *b)
{
    size_t len = strlen(a) + strlen(b) + 1;
    char *line = malloc(len);
    struct curl_slist *grown;

    if (line == NULL)
        return false;
    snprintf(line, len, "%s%s", a, b);
    grown = curl_slist_append(*list, line);
    explicit_bzero(line, len);
    free(line);
    if (grown == NULL)
        return false;
    *list = grown;
    return true;
}

static cls_status build_headers(struct llm_provider *p, cls_error *err)
{
    const char *key = NULL;
    bool ok;

    if (p->api_key_env != NULL && p->api_key_env[0] != '\0') {
        key = getenv(p->api_key_env);
        if (key == NULL || key[0] == '\0')
            return cls_error_set(err, CLS_EINVAL,
                                 "llm provider %s: environment variable %s "
                                 "(the API key) is not set",
                                 p->name, p->api_key_env);
    }
    ok = append_header(&p->headers, "Content-Type: ", "application/json") &&
         append_header(&p->headers, "Expect:", "");
    if (ok && p->s.kind == LLM_KIND_ANTHROPIC)
        ok = append_header(&p->headers, "anthropic-version: ", "2023-06-01") &&
             (key == NULL || append_header(&p->headers, "x-api-key: ", key));
    else if (ok && key != NULL)
        ok = append_header(&p->headers, "Authorization: Bearer ", key);
    return ok ? CLS_OK
              : cls_error_set(err, CLS_ENOMEM, "llm provider %s: out of memory",
                              p->name);
}

static char *join_url(const char *base, const char *path)
{
    size_t n = strlen(base), len;
    char *url;

    while (n > 0 && base[n - 1] == '/')
        n--;
    len = n + strlen(path) + 1;
    url = malloc(len);
    if (url != NULL)
        snprintf(url, len, "%.*s%s", (int)n, base, path);
    return url;
}

static uint64_t clock_seed(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec;
}

static cls_status provider_fill(struct llm_provider *p, cls_error *err)
{
    p->name = strdup(p->s.name);
    p->base_url = strdup(p->s.base_url);
    p->model = strdup(p->s.model);
    p->api_key_env = p->s.api_key_env ? strdup(p->s.api_key_env) : NULL;
    p->url = join_url(p->s.base_url, p->s.kind == LLM_KIND_ANTHROPIC
                                         ? "/v1/messages"
                                         : "/chat/completions");
    p->lim = llm_limiter_create(p->s.requests_per_minute,
                                p->s.tokens_per_minute, p->s.window_ms);
    p->share = llm_http_share_create();
    if (p->share == NULL)
        log_warn(TAG,
                 "provider %s: no shared connection cache, each "
                 "request opens its own connection",
                 p->s.name);
    if (p->name == NULL || p->base_url == NULL || p->model == NULL ||
        p->url == NULL || p->lim == NULL ||
        (p->s.api_key_env != NULL && p->api_key_env == NULL))
        return cls_error_set(err, CLS_ENOMEM, "llm provider: out of memory");
    p->s.name = p->name;
    p->s.base_url = p->base_url;
    p->s.model = p->model;
    p->s.api_key_env = p->api_key_env;
    p->prng = p->s.seed != 0 ? p->s.seed : clock_seed();
    return build_headers(p, err);
}

cls_status llm_provider_create(const struct llm_provider_settings *settings,
                               struct llm_provider **out, cls_error *err)
{
    struct llm_provider *p;
    cls_status rc;

    *out = NULL;
    pthread_once(&curl_once, init_curl);
    if (curl_init_rc != CURLE_OK)
        return cls_error_set(err, CLS_FAIL, "llm: curl_global_init: %s",
                             curl_easy_strerror(curl_init_rc));
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return cls_error_set(err, CLS_ENOMEM, "llm provider: out of memory");
    p->s = *settings;
    apply_defaults(&p->s);
    pthread_mutex_init(&p->mu, NULL);
    rc = check_settings(&p->s, err);
    if (rc == CLS_OK)
        rc = provider_fill(p, err);
    if (rc != CLS_OK) {
        llm_provider_destroy(p);
        return rc;
    }
    log_info(TAG,
             "provider %s: %s model %s, timeout %u ms, budget %u ms, "
             "%u req and %u tokens per %u ms",
             p->name, p->s.kind == LLM_KIND_ANTHROPIC ? "anthropic" : "openai",
             p->model, p->s.timeout_ms, p->s.total_budget_ms,
             p->s.requests_per_minute, p->s.tokens_per_minute, p->s.window_ms);
    *out = p;
    return CLS_OK;
}

void llm_provider_destroy(struct llm_provider *p)
{
    struct curl_slist *h;

    if (p == NULL)
        return;
    for (h = p->headers; h != NULL; h = h->next)
        explicit_bzero(h->data, strlen(h->data));
    curl_slist_free_all(p->headers);
    llm_http_share_destroy(p->share);
    llm_limiter_destroy(p->lim);
    pthread_mutex_destroy(&p->mu);
    free(p->name);
    free(p->base_url);
    free(p->model);
    free(p->api_key_env);
    free(p->url);
    free(p);
}

void llm_provider_cancel(struct llm_provider *p)
{
    atomic_store(&p->cancelled, 1);
    llm_limiter_close(p->lim);
}

const char *llm_provider_name(const struct llm_provider *p)
{
    return p->name;
}

void llm_provider_stats(struct llm_provider *p, struct llm_provider_stats *out)
{
    out->calls = atomic_load(&p->calls);
    out->requests = atomic_load(&p->requests);
    out->rate_limited = atomic_load(&p->rate_limited);
    out->limiter_wait_ms = atomic_load(&p->wait_ms);
}

void llm_result_free(struct llm_result *res)
{
    if (res == NULL)
        return;
    cJSON_Delete(res->object);
    free(res->text);
    free(res->refusal);
    free(res->provider);
    free(res->model);
    memset(res, 0, sizeof(*res));
}

/* ------------------------------------------------------------------ */
/* Randomness and sleeping                                             */
/* ------------------------------------------------------------------ */

static uint64_t next_random(struct llm_provider *p)
{
    uint64_t z;

    if (p->s.random_u64 != NULL)
        return p->s.random_u64(p->s.random_ctx);
    pthread_mutex_lock(&p->mu);
    z = (p->prng += 0x9e3779b97f4a7c15u); /* splitmix64 */
    pthread_mutex_unlock(&p->mu);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Exponential back-off for the n-th failure (1-based), jittered into
 * [d/2, d]. */
static uint64_t backoff_ms(struct llm_provider *p, uint32_t n)
{
    uint64_t d = p->s.backoff_base_ms;

    while (--n > 0 && d < p->s.backoff_max_ms)
        d *= 2;
    if (d > p->s.backoff_max_ms)
        d = p->s.backoff_max_ms;
    return d / 2 + next_random(p) % (d / 2 + 1);
}

static int64_t epoch_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ------------------------------------------------------------------ */
/* One call                                                            */
/* ------------------------------------------------------------------ */

enum step {
    STEP_DONE,    /* success: res->object set */
    STEP_FAIL,    /* terminal: CLS_FAIL */
    STEP_GIVE_UP, /* transient but out of attempts or budget: CLS_RETRY */
    STEP_AGAIN,   /* send again at once (limiter still paces) */
    STEP_BACKOFF  /* send again after a back-off */
};

struct call {
    struct llm_provider *p;
    const cls_llm_request *req;
    struct llm_result *res;
    cJSON *schema;
    struct llm_message conv[3];
    size_t nconv;
    char *correction; /* the corrective user message */
    char *rejected;   /* the answer the correction refers to */
    int64_t deadline;
    uint32_t max_tokens;
    uint32_t transient; /* 5xx, timeouts, transport errors so far */
    int refusals;
    enum llm_reason reason;
    char why[WHY_MAX];
};

static enum step set_reason(struct call *c, enum llm_reason r, enum step s,
                            const char *why)
{
    c->reason = r;
    snprintf(c->why, sizeof(c->why), "%s", why);
    return s;
}

/* Which bit of config_logged an error of status and reason uses. */
static unsigned config_bit(enum llm_reason r, int status)
{
    static const int statuses[] = {400, 401, 403, 404, 422};
    unsigned i;

    if (r == LLM_ERR_QUOTA)
        return 1u << 0;
    for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
        if (status == statuses[i])
            return 1u << (i + 1);
    return 1u << 7;
}

/* A configuration error: logged once per run per provider and kind,
 * sticky for the kinds no later request can fix. */
static enum step config_error(struct call *c, enum llm_reason r, int status,
                              const char *detail, bool sticky)
{
    struct llm_provider *p = c->p;
    unsigned bit = config_bit(r, status);
    char why[WHY_MAX];

    snprintf(why, sizeof(why), "HTTP %d from provider %s (model %s): %s",
             status, p->name, p->model, detail[0] ? detail : "no detail");
    if ((atomic_fetch_or(&p->config_logged, bit) & bit) == 0)
        log_error(TAG, "%s: %s; later calls report it without logging",
                  llm_reason_name(r), why);
    if (sticky) {
        pthread_mutex_lock(&p->mu);
        if (p->fatal_reason == LLM_OK) {
            p->fatal_reason = r;
            snprintf(p->fatal, sizeof(p->fatal), "%s", why);
        }
        pthread_mutex_unlock(&p->mu);
    }
    return set_reason(c, r, STEP_FAIL, why);
}

static enum step transient_error(struct call *c, enum llm_reason r,
                                 const char *why)
{
    c->transient++;
    set_reason(c, r, STEP_BACKOFF, why);
    if (c->transient >= c->p->s.max_attempts)
        return STEP_GIVE_UP;
    log_debug(TAG, "provider %s: %s (%s), attempt %u of %u", c->p->name,
              llm_reason_name(r), why, c->transient, c->p->s.max_attempts);
    return STEP_BACKOFF;
}

static enum step on_rate_limited(struct call *c, struct llm_http_reply *rep)
{
    struct llm_provider *p = c->p;
    char detail[256], why[WHY_MAX];
    int64_t hint, wait;

    llm_wire_error_message(rep->body, detail, sizeof(detail));
    if (llm_is_quota_error(rep->body))
        return config_error(c, LLM_ERR_QUOTA, 429, detail, true);
    atomic_fetch_add(&p->rate_limited, 1);
    hint = llm_retry_hint_ms(&rep->hints, rep->body, epoch_ms());
    if (hint < 0)
        hint = (int64_t)backoff_ms(p, c->transient + 1);
    if (hint < 100)
        hint = 100; /* "retry-after: 0" must not turn into a tight loop */
    /* jitter after the hint so waiters do not return in one instant */
    wait = hint + (int64_t)(next_random(p) % (uint64_t)(hint / 10 + 50));
    llm_limiter_pause(p->lim, (uint64_t)wait);
    snprintf(why, sizeof(why),
             "HTTP 429 from provider %s, server asks to wait %lld ms: %s",
             p->name, (long long)hint, detail);
    if (llm_now_ms() + wait > c->deadline)
        return set_reason(c, LLM_ERR_RATE_LIMIT, STEP_GIVE_UP, why);
    c->res->rate_limit_wait_ms += (uint32_t)wait;
    log_debug(TAG, "%s", why);
    return set_reason(c, LLM_ERR_RATE_LIMIT, STEP_AGAIN, why);
}

static enum step on_http_error(struct call *c, struct llm_http_reply *rep)
{
    char detail[256], why[WHY_MAX];
    int st = rep->status;

    llm_wire_error_message(rep->body, detail, sizeof(detail));
    if (st == 429)
        return on_rate_limited(c, rep);
    if (st == 408 || st >= 500) {
        snprintf(why, sizeof(why), "HTTP %d from provider %s: %s", st,
                 c->p->name, detail[0] ? detail : "no detail");
        return transient_error(c, LLM_ERR_SERVER, why);
    }
    return config_error(c, LLM_ERR_CONFIG, st, detail,
                        st == 401 || st == 403 || st == 404);
}

static void account_usage(struct call *c, const struct llm_usage *u)
{
    c->res->input_tokens += u->input;
    c->res->output_tokens += u->output;
    c->res->cached_tokens += u->cached;
    c->res->cache_write_tokens += u->cache_write;
}

/* Ask again once, with the model's answer and what was wrong with it. */
static enum step correct_once(struct call *c, enum llm_reason r,
                              const char *why)
{
    static const char fmt[] =
        "Your previous answer was rejected: %s.  Answer again with exactly "
        "one JSON object that matches the schema, and nothing else.";
    size_t len = sizeof(fmt) + strlen(why);

    if (c->correction != NULL) {
        char msg[WHY_MAX];

        /* Keep the suffix: cut the reason, not the explanation. */
        snprintf(msg, sizeof(msg), "%.*s (after one corrective retry)",
                 (int)(sizeof(msg) - 32), why);
        return set_reason(c, r, STEP_FAIL, msg);
    }
    c->correction = malloc(len);
    c->rejected = strdup(c->res->text != NULL ? c->res->text : "");
    if (c->correction == NULL || c->rejected == NULL)
        return set_reason(c, LLM_ERR_INTERNAL, STEP_FAIL, "out of memory");
    snprintf(c->correction, len, fmt, why);
    c->conv[1] = (struct llm_message){"assistant", c->rejected};
    c->conv[2] = (struct llm_message){"user", c->correction};
    c->nconv = 3;
    log_debug(TAG, "provider %s: %s, asking once more", c->p->name, why);
    return set_reason(c, r, STEP_AGAIN, why);
}

static enum step check_answer(struct call *c)
{
    char why[WHY_MAX];
    enum llm_reason r;
    cJSON *obj;

    r = llm_extract_object(c->res->text, &obj, why, sizeof(why));
    if (r == LLM_OK) {
        r = llm_schema_validate(c->schema, obj, why, sizeof(why));
        if (r != LLM_OK)
            cJSON_Delete(obj);
    }
    if (r != LLM_OK)
        return correct_once(c, r, why);
    c->res->object = obj;
    c->reason = LLM_OK;
    return STEP_DONE;
}

static enum step on_reply(struct call *c, struct llm_wire_reply *w)
{
    char why[WHY_MAX];

    free(c->res->model);
    c->res->model = w->model;
    w->model = NULL;
    if (w->truncated) {
        snprintf(why, sizeof(why),
                 "the reply was cut at the output limit of %u tokens",
                 c->max_tokens);
        return set_reason(c, LLM_ERR_TRUNCATED, STEP_FAIL, why);
    }
    if (w->refused) {
        free(c->res->refusal);
        c->res->refusal = w->refusal;
        w->refusal = NULL;
        snprintf(why, sizeof(why), "the model refused: %.200s",
                 c->res->refusal ? c->res->refusal : "");
        log_warn(TAG, "provider %s: %s", c->p->name, why);
        return set_reason(c, LLM_ERR_REFUSED,
                          ++c->refusals > 1 ? STEP_FAIL : STEP_AGAIN, why);
    }
    free(c->res->text);
    c->res->text = w->text;
    w->text = NULL;
    return check_answer(c);
}

static enum step cancelled(struct call *c)
{
    return set_reason(c, LLM_ERR_CANCELLED, STEP_GIVE_UP,
                      "the provider was cancelled (shutdown or drain)");
}

static uint64_t estimate_tokens(struct call *c, size_t body_len)
{
    double ratio = llm_limiter_input_ratio(c->p->lim);

    return (uint64_t)((double)(body_len / 4 + 1) * ratio) + c->max_tokens;
}

static enum step on_success(struct call *c, struct llm_http_reply *rep,
                            uint64_t est, size_t body_len)
{
    struct llm_wire_reply w;
    char why[WHY_MAX];
    enum llm_reason r;
    enum step s;

    r = llm_wire_parse(c->p->s.kind, rep->body, &w, why, sizeof(why));
    if (w.usage.present) {
        llm_limiter_settle(c->p->lim, est, w.usage.input + w.usage.output);
        llm_limiter_observe_input(c->p->lim, body_len / 4 + 1, w.usage.input);
        account_usage(c, &w.usage);
    }
    if (r != LLM_OK)
        s = transient_error(c, r, why);
    else
        s = on_reply(c, &w);
    llm_wire_reply_free(&w);
    return s;
}

static enum step send_once(struct call *c)
{
    struct llm_provider *p = c->p;
    struct llm_http_reply rep;
    char *body, why[WHY_MAX];
    uint64_t est, waited = 0;
    size_t body_len;
    enum step s;
    int hr;

    body = llm_wire_request(p->s.kind, p->model, c->req, c->schema, c->conv,
                            c->nconv, c->max_tokens);
    if (body == NULL)
        return set_reason(c, LLM_ERR_INTERNAL, STEP_FAIL, "out of memory");
    body_len = strlen(body);
    est = estimate_tokens(c, body_len);
    hr = llm_limiter_acquire(p->lim, est, c->deadline, &waited);
    atomic_fetch_add(&p->wait_ms, waited);
    if (hr == -2) {
        free(body);
        return cancelled(c);
    }
    if (hr != 0) {
        free(body);
        return set_reason(c, LLM_ERR_RATE_LIMIT, STEP_GIVE_UP,
                          "the provider's pace leaves no room within the "
                          "call's budget");
    }
    c->res->attempts++;
    atomic_fetch_add(&p->requests, 1);
    hr = llm_http_post(p->share, p->url, p->headers, body, p->s.timeout_ms,
                       &p->cancelled, &rep, why, sizeof(why));
    free(body);
    c->res->http_status = rep.status;
    if (hr == LLM_HTTP_CANCELLED)
        s = cancelled(c);
    else if (hr != LLM_HTTP_OK)
        s = transient_error(
            c, hr == LLM_HTTP_TIMEOUT ? LLM_ERR_TIMEOUT : LLM_ERR_TRANSPORT,
            why);
    else if (rep.status >= 200 && rep.status < 300) {
        s = on_success(c, &rep, est, body_len);
    }
    else {
        llm_limiter_settle(p->lim, est, 0); /* refused: nothing used */
        s = on_http_error(c, &rep);
    }
    llm_http_reply_free(&rep);
    return s;
}

static enum step run_call(struct call *c)
{
    enum step s;
    uint64_t pause;

    for (;;) {
        s = send_once(c);
        if (s != STEP_AGAIN && s != STEP_BACKOFF)
            return s;
        if (s == STEP_BACKOFF) {
            pause = backoff_ms(c->p, c->transient);
            if (llm_now_ms() + (int64_t)pause > c->deadline)
                return STEP_GIVE_UP;
            if (llm_limiter_sleep(c->p->lim, pause) != 0)
                return cancelled(c);
        }
    }
}

static cls_status check_request(struct llm_provider *p,
                                const cls_llm_request *req, cls_error *err)
{
    if (req == NULL || req->struct_size < sizeof(cls_llm_request) ||
        req->system_prompt == NULL || req->user_message == NULL ||
        req->response_schema == NULL)
        return cls_error_set(err, CLS_FAIL,
                             "llm: request for provider %s lacks "
                             "system_prompt, user_message or "
                             "response_schema",
                             p->name);
    return CLS_OK;
}

static cls_status sticky_failure(struct llm_provider *p, struct llm_result *res,
                                 cls_error *err)
{
    cls_status rc = CLS_OK;

    if (atomic_load(&p->cancelled)) {
        res->reason = LLM_ERR_CANCELLED;
        return cls_error_set(
            err, CLS_RETRY, "cancelled: provider %s is shutting down", p->name);
    }
    pthread_mutex_lock(&p->mu);
    if (p->fatal_reason != LLM_OK) {
        res->reason = p->fatal_reason;
        rc = cls_error_set(err, CLS_FAIL, "%s: %s (earlier in this run)",
                           llm_reason_name(p->fatal_reason), p->fatal);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static cls_status finish(struct call *c, enum step s, cls_error *err)
{
    c->res->reason = c->reason;
    if (s == STEP_DONE)
        return CLS_OK;
    if (c->reason == LLM_ERR_INTERNAL)
        return cls_error_set(err, CLS_ENOMEM, "%s: %s",
                             llm_reason_name(c->reason), c->why);
    return cls_error_set(
        err, s == STEP_GIVE_UP ? CLS_RETRY : CLS_FAIL,
        "%s: %s (schema %s, %u attempts)", llm_reason_name(c->reason), c->why,
        c->req->schema_name ? c->req->schema_name : "-", c->res->attempts);
}

static void log_usage(struct llm_provider *p, const cls_llm_request *req,
                      const struct llm_result *res)
{
    double hit = res->input_tokens ? 100.0 * (double)res->cached_tokens /
                                         (double)res->input_tokens
                                   : 0.0;

    log_debug(
        TAG,
        "provider %s model %s schema %s: %s, prompt %llu tokens "
        "(cached %llu, %.1f%%), output %llu, %u ms, %u attempts",
        p->name, res->model ? res->model : "-",
        req->schema_name ? req->schema_name : "-", llm_reason_name(res->reason),
        (unsigned long long)res->input_tokens,
        (unsigned long long)res->cached_tokens, hit,
        (unsigned long long)res->output_tokens, res->latency_ms, res->attempts);
}

cls_status llm_complete(struct llm_provider *p, const cls_llm_request *req,
                        struct llm_result *res, cls_error *err)
{
    struct call c = {.p = p, .req = req, .res = res};
    int64_t start = llm_now_ms();
    cls_status rc;
    enum step s;

    atomic_fetch_add(&p->calls, 1);
    res->provider = strdup(p->name);
    if (res->provider == NULL)
        return cls_error_set(err, CLS_ENOMEM, "llm: out of memory");
    rc = check_request(p, req, err);
    if (rc == CLS_OK)
        rc = sticky_failure(p, res, err);
    if (rc != CLS_OK) {
        if (res->reason == LLM_OK)
            res->reason = LLM_ERR_INTERNAL;
        return rc;
    }
    c.schema = cJSON_Parse(req->response_schema);
    if (!cJSON_IsObject(c.schema)) {
        cJSON_Delete(c.schema);
        res->reason = LLM_ERR_CONFIG;
        return cls_error_set(err, CLS_FAIL,
                             "configuration: response schema %s is not a "
                             "JSON object",
                             req->schema_name ? req->schema_name : "-");
    }
    c.deadline = start + p->s.total_budget_ms;
    c.max_tokens = req->max_output_tokens ? req->max_output_tokens
                                          : p->s.max_output_tokens;
    c.conv[0] = (struct llm_message){"user", req->user_message};
    c.nconv = 1;
    s = run_call(&c);
    rc = finish(&c, s, err);
    res->latency_ms = (uint32_t)(llm_now_ms() - start);
    log_usage(p, req, res);
    cJSON_Delete(c.schema);
    free(c.correction);
    free(c.rejected);
    return rc;
}
