/*
 * fake_llm.c - a scripted stand-in for LLM providers, for tests and
 * end-to-end runs.  Listens on 127.0.0.1 only.
 *
 * Usage: fake-llm [options]
 *   --port N         TCP port on 127.0.0.1; 0 (default) picks a free one
 *   --script FILE    JSON script of canned responses (format below)
 *   --latency-ms N   delay before every answer (default 0)
 *   --rpm N          emulated requests per window; 0 = unlimited
 *   --tpm N          emulated tokens per window; 0 = unlimited
 *   --window-ms N    length of the rate-limit window (default 60000); the
 *                    limits behave like providers' token buckets: they
 *                    refill continuously at N/window and hold one window
 *   --model NAME     model named in replies (default "fake-model")
 * When listening it prints one line "PORT <n>" on stdout.  SIGTERM or
 * SIGINT stops it.
 *
 * Endpoints:
 *   POST <any prefix>/chat/completions   OpenAI Chat Completions
 *   POST <any prefix>/v1/messages        Anthropic Messages
 *   GET  /stats     {"requests","accepted","rejected","scripted",
 *                    "prompt_tokens","completion_tokens"}: rejected counts
 *                    the emulated rate limit's 429s, accepted every 2xx
 *   GET  /requests  the last 256 requests: [{"path","auth","api_key",
 *                    "anthropic_version","body"}]
 *
 * Script: {"responses": [STEP, ...], "after": "classifier"|"repeat"}.
 * Each request that passes the rate limit consumes one STEP, in order;
 * when the list is used up, "classifier" (the default) answers every
 * request with a valid object built from the request's schema (its enums,
 * types and bounds), "repeat" replays the last step.  Without a script
 * the server is a classifier from the start.  A STEP is an object:
 *   "status"        HTTP status (default 200)
 *   "headers"       {"name": "value", ...} added to the response
 *   "body"          any JSON, sent verbatim; or
 *   "raw"           a string sent verbatim; or
 *   "content"       the model's text, wrapped in a success envelope of the
 *                   request's wire format, with optionally
 *   "finish_reason" OpenAI finish_reason ("length" and "content_filter"
 *                   map to Anthropic stop_reason max_tokens / refusal)
 *   "refusal"       OpenAI message.refusal (Anthropic: stop_reason refusal)
 *   "usage"         usage object sent as is (default: counted, bytes/4)
 *   "classify"      true: answer like the classifier mode
 *   "delay_ms"      extra delay for this step
 *   "repeat"        how many requests this step answers (default 1)
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#define MAX_BODY     (4u << 20)
#define LOG_REQUESTS 256

struct options {
    unsigned port;
    const char *script;
    unsigned latency_ms;
    unsigned rpm, tpm, window_ms;
    const char *model;
};

struct bucket {
    double cap, level, rate; /* rate per ms; cap 0 = unlimited */
};

struct server {
    struct options opt;
    pthread_mutex_t mu;
    cJSON *script; /* array of steps */
    int step, step_used;
    bool after_repeat;
    struct bucket req, tok;
    int64_t last_ms;
    uint64_t requests, accepted, rejected, scripted;
    uint64_t prompt_tokens, completion_tokens;
    cJSON *log; /* array, ring of LOG_REQUESTS */
    uint64_t next_id;
};

static struct server srv;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ------------------------------------------------------------------ */
/* Rate limit                                                          */
/* ------------------------------------------------------------------ */

static void bucket_init(struct bucket *b, unsigned limit, unsigned window)
{
    b->cap = limit;
    b->level = limit;
    b->rate = (double)limit / window;
}

static void refill(struct bucket *b, double dt)
{
    if (b->cap > 0)
        b->level = fmin(b->cap, b->level + b->rate * dt);
}

/* ms until b holds need; 0 when it does. */
static int64_t bucket_wait(const struct bucket *b, double need)
{
    if (b->cap == 0 || b->level >= need)
        return 0;
    if (need > b->cap)
        need = b->cap;
    return (int64_t)ceil((need - b->level) / b->rate);
}

/*
 * Take one request and tokens, or say which limit is hit and how long
 * until it would pass.  Caller holds srv.mu.
 */
static bool admit(double tokens, const char **which, int64_t *wait_ms)
{
    int64_t now = now_ms(), wr, wt;

    refill(&srv.req, (double)(now - srv.last_ms));
    refill(&srv.tok, (double)(now - srv.last_ms));
    srv.last_ms = now;
    wr = bucket_wait(&srv.req, 1);
    wt = bucket_wait(&srv.tok, tokens);
    if (wr == 0 && wt == 0) {
        srv.req.level -= srv.req.cap > 0 ? 1 : 0;
        srv.tok.level -= srv.tok.cap > 0 ? tokens : 0;
        return true;
    }
    *which = wt >= wr ? "tokens" : "requests";
    *wait_ms = wt >= wr ? wt : wr;
    return false;
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

enum wire { WIRE_OPENAI, WIRE_ANTHROPIC };

struct request {
    enum wire wire;
    const char *path;
    cJSON *body;
    size_t prompt_bytes;
    const char *user; /* last user message, for varied answers */
    const cJSON *schema;
    cJSON *owned_schema;
};

static const char *str(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* Text of a content field: a string or a list of text blocks. */
static size_t content_bytes(const cJSON *c, const char **last_text)
{
    const cJSON *b;
    size_t n = 0;

    if (cJSON_IsString(c)) {
        *last_text = c->valuestring;
        return strlen(c->valuestring);
    }
    cJSON_ArrayForEach(b, c)
    {
        const char *t = str(b, "text");

        if (t != NULL) {
            n += strlen(t);
            *last_text = t;
        }
    }
    return n;
}

static void find_anthropic_schema(struct request *r, const cJSON *system)
{
    const char *text = NULL, *mark, *brace;
    const cJSON *b;

    if (cJSON_IsString(system))
        text = system->valuestring;
    else
        cJSON_ArrayForEach(b, system)
        {
            const char *t = str(b, "text");

            if (t != NULL && strstr(t, "JSON Schema:") != NULL)
                text = t;
        }
    if (text == NULL || (mark = strstr(text, "JSON Schema:")) == NULL)
        return;
    brace = strchr(mark, '{');
    if (brace != NULL)
        r->owned_schema = cJSON_Parse(brace);
    r->schema = r->owned_schema;
}

static void read_request(struct request *r)
{
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(r->body, "messages");
    const cJSON *system = cJSON_GetObjectItemCaseSensitive(r->body, "system");
    const cJSON *m;
    const char *last = NULL, *ignored = NULL;

    cJSON_ArrayForEach(m, msgs)
    {
        const char *role = str(m, "role");

        if (role != NULL && strcmp(role, "user") == 0)
            r->prompt_bytes += content_bytes(
                cJSON_GetObjectItemCaseSensitive(m, "content"), &last);
        else
            r->prompt_bytes += content_bytes(
                cJSON_GetObjectItemCaseSensitive(m, "content"), &ignored);
    }
    r->user = last != NULL ? last : "";
    if (r->wire == WIRE_ANTHROPIC) {
        r->prompt_bytes += content_bytes(system, &ignored);
        find_anthropic_schema(r, system);
        return;
    }
    r->schema = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(r->body, "response_format"),
            "json_schema"),
        "schema");
}

static void log_request(struct request *r, struct MHD_Connection *conn)
{
    const char *auth =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *key =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-api-key");
    const char *ver =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "anthropic-version");
    cJSON *e = cJSON_CreateObject();

    if (e == NULL)
        return;
    cJSON_AddStringToObject(e, "path", r->path);
    cJSON_AddItemToObject(e, "auth",
                          auth ? cJSON_CreateString(auth) : cJSON_CreateNull());
    cJSON_AddItemToObject(e, "api_key",
                          key ? cJSON_CreateString(key) : cJSON_CreateNull());
    cJSON_AddItemToObject(e, "anthropic_version",
                          ver ? cJSON_CreateString(ver) : cJSON_CreateNull());
    cJSON_AddItemToObject(e, "body", cJSON_Duplicate(r->body, 1));
    if (cJSON_GetArraySize(srv.log) >= LOG_REQUESTS)
        cJSON_DeleteItemFromArray(srv.log, 0);
    cJSON_AddItemToArray(srv.log, e);
}

/* ------------------------------------------------------------------ */
/* Classifier answers                                                  */
/* ------------------------------------------------------------------ */

static uint32_t fnv(const char *a, const char *b)
{
    uint32_t h = 2166136261u;

    for (; a && *a; a++)
        h = (h ^ (unsigned char)*a) * 16777619u;
    for (; b && *b; b++)
        h = (h ^ (unsigned char)*b) * 16777619u;
    return h;
}

static const char *first_type(const cJSON *schema)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(schema, "type"), *e;

    if (cJSON_IsString(t))
        return t->valuestring;
    cJSON_ArrayForEach(e, t)
    {
        if (cJSON_IsString(e) && strcmp(e->valuestring, "null") != 0)
            return e->valuestring;
    }
    return cJSON_HasObjectItem(schema, "properties") ? "object" : "null";
}

static cJSON *pick_enum(const cJSON *list, uint32_t h)
{
    int n = cJSON_GetArraySize(list), i;
    const cJSON *e;

    for (i = 0; i < n; i++) {
        e = cJSON_GetArrayItem(list, (int)((h + (uint32_t)i) % (uint32_t)n));
        if (!cJSON_IsNull(e))
            return cJSON_Duplicate(e, 1);
    }
    return cJSON_CreateNull();
}

static double bound(const cJSON *s, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, k);

    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static cJSON *generate(const cJSON *schema, const char *key, const char *seed);

static cJSON *generate_object(const cJSON *schema, const char *seed)
{
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
    cJSON *obj = cJSON_CreateObject();
    const cJSON *p;

    cJSON_ArrayForEach(p, props)
    {
        cJSON_AddItemToObject(obj, p->string, generate(p, p->string, seed));
    }
    return obj;
}

static cJSON *generate(const cJSON *schema, const char *key, const char *seed)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(schema, "enum");
    const char *type = first_type(schema);
    uint32_t h = fnv(seed, key);
    cJSON *arr;
    double lo, hi;

    if (cJSON_IsArray(list))
        return pick_enum(list, h);
    if (strcmp(type, "object") == 0)
        return generate_object(schema, seed);
    if (strcmp(type, "array") == 0) {
        arr = cJSON_CreateArray();
        cJSON_AddItemToArray(
            arr, generate(cJSON_GetObjectItemCaseSensitive(schema, "items"),
                          key, seed));
        return arr;
    }
    if (strcmp(type, "string") == 0)
        return cJSON_CreateString("answer from the fake LLM");
    if (strcmp(type, "boolean") == 0)
        return cJSON_CreateBool(h & 1);
    if (strcmp(type, "number") == 0 || strcmp(type, "integer") == 0) {
        if (key != NULL && strcmp(key, "confidence") == 0)
            return cJSON_CreateNumber(0.9);
        lo = bound(schema, "minimum", 0);
        hi = bound(schema, "maximum", lo);
        return cJSON_CreateNumber(floor((lo + hi) / 2));
    }
    return cJSON_CreateNull();
}

static char *classify(const struct request *r)
{
    cJSON *obj;
    char *text;

    if (!cJSON_IsObject(r->schema))
        return strdup("{}");
    obj = generate(r->schema, NULL, r->user);
    text = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    return text;
}

/* ------------------------------------------------------------------ */
/* Responses                                                           */
/* ------------------------------------------------------------------ */

struct answer {
    int status;
    const cJSON *headers;
    char *body;
    unsigned delay_ms;
};

static cJSON *default_usage(enum wire w, uint64_t in, uint64_t out)
{
    cJSON *u = cJSON_CreateObject();

    cJSON_AddNumberToObject(
        u, w == WIRE_OPENAI ? "prompt_tokens" : "input_tokens", (double)in);
    cJSON_AddNumberToObject(
        u, w == WIRE_OPENAI ? "completion_tokens" : "output_tokens",
        (double)out);
    if (w == WIRE_OPENAI)
        cJSON_AddNumberToObject(u, "total_tokens", (double)(in + out));
    return u;
}

static const char *anthropic_stop(const char *finish, const char *refusal)
{
    if (refusal != NULL ||
        (finish != NULL && strcmp(finish, "content_filter") == 0))
        return "refusal";
    if (finish != NULL && strcmp(finish, "length") == 0)
        return "max_tokens";
    return "end_turn";
}

/* A success envelope around text in the request's wire format. */
static char *envelope(const struct request *r, const char *text,
                      const cJSON *step, uint64_t in, uint64_t out)
{
    const char *finish = str(step, "finish_reason");
    const char *refusal = str(step, "refusal");
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(step, "usage");
    cJSON *root = cJSON_CreateObject(), *u, *msg, *choice, *list, *b;
    char id[32], *s;

    snprintf(id, sizeof(id), "fake-%llu", (unsigned long long)srv.next_id++);
    u = usage ? cJSON_Duplicate(usage, 1) : default_usage(r->wire, in, out);
    cJSON_AddStringToObject(root, "id", id);
    cJSON_AddStringToObject(root, "model", srv.opt.model);
    if (r->wire == WIRE_ANTHROPIC) {
        cJSON_AddStringToObject(root, "type", "message");
        cJSON_AddStringToObject(root, "role", "assistant");
        list = cJSON_AddArrayToObject(root, "content");
        b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "type", "text");
        cJSON_AddStringToObject(b, "text", text ? text : "");
        cJSON_AddItemToArray(list, b);
        cJSON_AddStringToObject(root, "stop_reason",
                                anthropic_stop(finish, refusal));
    }
    else {
        cJSON_AddStringToObject(root, "object", "chat.completion");
        choice = cJSON_CreateObject();
        cJSON_AddNumberToObject(choice, "index", 0);
        msg = cJSON_AddObjectToObject(choice, "message");
        cJSON_AddStringToObject(msg, "role", "assistant");
        cJSON_AddItemToObject(msg, "content",
                              text ? cJSON_CreateString(text)
                                   : cJSON_CreateNull());
        cJSON_AddItemToObject(msg, "refusal",
                              refusal ? cJSON_CreateString(refusal)
                                      : cJSON_CreateNull());
        cJSON_AddStringToObject(choice, "finish_reason",
                                finish ? finish : "stop");
        list = cJSON_AddArrayToObject(root, "choices");
        cJSON_AddItemToArray(list, choice);
    }
    cJSON_AddItemToObject(root, "usage", u);
    s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

/* The step answering the next request, or NULL for a classifier answer.
 * Holds mu. */
static const cJSON *peek_step(void)
{
    int n = cJSON_GetArraySize(srv.script);

    if (srv.step < n)
        return cJSON_GetArrayItem(srv.script, srv.step);
    if (srv.after_repeat && n > 0)
        return cJSON_GetArrayItem(srv.script, n - 1);
    return NULL;
}

/* Count one use of the current step.  Holds mu. */
static void consume_step(void)
{
    const cJSON *step, *rep;

    if (srv.step >= cJSON_GetArraySize(srv.script))
        return;
    step = cJSON_GetArrayItem(srv.script, srv.step);
    rep = cJSON_GetObjectItemCaseSensitive(step, "repeat");
    if (++srv.step_used >= (cJSON_IsNumber(rep) ? rep->valueint : 1)) {
        srv.step++;
        srv.step_used = 0;
    }
}

static uint64_t tokens_of(size_t bytes)
{
    return bytes / 4 + 1;
}

static char *rate_limit_body(const struct request *r, const char *which,
                             int64_t wait_ms, double need)
{
    char msg[400], *s;
    cJSON *root = cJSON_CreateObject(), *e;
    double limit = strcmp(which, "tokens") == 0 ? srv.tok.cap : srv.req.cap;

    snprintf(msg, sizeof(msg),
             "Rate limit reached for %s on %s per min: Limit %.0f, Used "
             "%.0f, Requested %.0f. Please try again in %lldms.",
             srv.opt.model, which, limit,
             limit -
                 (strcmp(which, "tokens") == 0 ? srv.tok.level : srv.req.level),
             strcmp(which, "tokens") == 0 ? need : 1, (long long)wait_ms);
    if (r->wire == WIRE_ANTHROPIC) {
        cJSON_AddStringToObject(root, "type", "error");
        e = cJSON_AddObjectToObject(root, "error");
        cJSON_AddStringToObject(e, "type", "rate_limit_error");
    }
    else {
        e = cJSON_AddObjectToObject(root, "error");
        cJSON_AddStringToObject(e, "type", which);
        cJSON_AddStringToObject(e, "code", "rate_limit_exceeded");
    }
    cJSON_AddStringToObject(e, "message", msg);
    s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

static cJSON *rate_limit_headers(const struct request *r, int64_t wait_ms)
{
    cJSON *h = cJSON_CreateObject();
    char v[64];

    snprintf(v, sizeof(v), "%.0f", srv.req.cap);
    cJSON_AddStringToObject(h, "x-ratelimit-limit-requests", v);
    snprintf(v, sizeof(v), "%.0f", fmax(0, floor(srv.req.level)));
    cJSON_AddStringToObject(h, "x-ratelimit-remaining-requests", v);
    snprintf(v, sizeof(v), "%.0f", srv.tok.cap);
    cJSON_AddStringToObject(h, "x-ratelimit-limit-tokens", v);
    snprintf(v, sizeof(v), "%.0f", fmax(0, floor(srv.tok.level)));
    cJSON_AddStringToObject(h, "x-ratelimit-remaining-tokens", v);
    snprintf(v, sizeof(v), "%lldms", (long long)wait_ms);
    cJSON_AddStringToObject(h, "x-ratelimit-reset-tokens", v);
    cJSON_AddStringToObject(h, "x-ratelimit-reset-requests", v);
    if (r->wire == WIRE_ANTHROPIC) {
        snprintf(v, sizeof(v), "%lld", (long long)((wait_ms + 999) / 1000));
        cJSON_AddStringToObject(h, "retry-after", v);
    }
    return h;
}

/* Decide the answer to r.  Holds srv.mu. */
static void answer_locked(struct request *r, struct answer *a,
                          cJSON **owned_headers)
{
    const cJSON *step = peek_step(), *body, *st, *dl;
    const char *content = str(step, "content"), *which = NULL, *raw;
    bool classify_step =
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(step, "classify"));
    char *text = NULL;
    uint64_t in = tokens_of(r->prompt_bytes), out;
    int64_t wait = 0;

    srv.requests++;
    if (step == NULL || classify_step)
        text = classify(r);
    else if (content != NULL)
        text = strdup(content);
    out = text ? tokens_of(strlen(text)) : 1;
    if (!admit((double)(in + out), &which, &wait)) {
        srv.rejected++;
        a->status = 429;
        a->body = rate_limit_body(r, which, wait, (double)(in + out));
        *owned_headers = rate_limit_headers(r, wait);
        a->headers = *owned_headers;
        free(text);
        return;
    }
    consume_step();
    srv.scripted += step != NULL;
    st = cJSON_GetObjectItemCaseSensitive(step, "status");
    dl = cJSON_GetObjectItemCaseSensitive(step, "delay_ms");
    a->status = cJSON_IsNumber(st) ? st->valueint : 200;
    a->headers = cJSON_GetObjectItemCaseSensitive(step, "headers");
    a->delay_ms = cJSON_IsNumber(dl) ? (unsigned)dl->valueint : 0;
    body = cJSON_GetObjectItemCaseSensitive(step, "body");
    raw = str(step, "raw");
    if (body != NULL)
        a->body = cJSON_PrintUnformatted(body);
    else if (raw != NULL)
        a->body = strdup(raw);
    else {
        a->body = envelope(r, text, step, in, out);
        srv.prompt_tokens += in;
        srv.completion_tokens += out;
    }
    if (a->status >= 200 && a->status < 300)
        srv.accepted++;
    free(text);
}

static enum MHD_Result send_text(struct MHD_Connection *conn, int status,
                                 const char *body, const cJSON *headers)
{
    struct MHD_Response *resp;
    const cJSON *h;
    enum MHD_Result ret;

    resp = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                           MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    cJSON_ArrayForEach(h, headers)
    {
        if (cJSON_IsString(h))
            MHD_add_response_header(resp, h->string, h->valuestring);
    }
    ret = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result serve_completion(struct MHD_Connection *conn,
                                        const char *url, const char *data,
                                        size_t len)
{
    struct request r = {0};
    struct answer a = {0};
    cJSON *owned = NULL;
    enum MHD_Result ret;

    r.path = url;
    r.wire = strstr(url, "/chat/completions") ? WIRE_OPENAI : WIRE_ANTHROPIC;
    r.body = cJSON_ParseWithLength(data, len);
    if (!cJSON_IsObject(r.body)) {
        cJSON_Delete(r.body);
        return send_text(conn, 400,
                         "{\"error\":{\"type\":\"invalid_request_error\","
                         "\"message\":\"body is not a JSON object\"}}",
                         NULL);
    }
    read_request(&r);
    pthread_mutex_lock(&srv.mu);
    log_request(&r, conn);
    answer_locked(&r, &a, &owned);
    pthread_mutex_unlock(&srv.mu);
    sleep_ms(srv.opt.latency_ms + a.delay_ms);
    ret = send_text(conn, a.status, a.body ? a.body : "{}", a.headers);
    free(a.body);
    cJSON_Delete(owned);
    cJSON_Delete(r.owned_schema);
    cJSON_Delete(r.body);
    return ret;
}

static enum MHD_Result serve_get(struct MHD_Connection *conn, const char *url)
{
    cJSON *o;
    char *s;
    enum MHD_Result ret;

    pthread_mutex_lock(&srv.mu);
    if (strcmp(url, "/requests") == 0)
        o = cJSON_Duplicate(srv.log, 1);
    else {
        o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "requests", (double)srv.requests);
        cJSON_AddNumberToObject(o, "accepted", (double)srv.accepted);
        cJSON_AddNumberToObject(o, "rejected", (double)srv.rejected);
        cJSON_AddNumberToObject(o, "scripted", (double)srv.scripted);
        cJSON_AddNumberToObject(o, "prompt_tokens", (double)srv.prompt_tokens);
        cJSON_AddNumberToObject(o, "completion_tokens",
                                (double)srv.completion_tokens);
    }
    pthread_mutex_unlock(&srv.mu);
    s = cJSON_PrintUnformatted(o);
    ret = send_text(conn, 200, s ? s : "{}", NULL);
    cJSON_free(s);
    cJSON_Delete(o);
    return ret;
}

struct upload {
    char *data;
    size_t len;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *data,
                                  size_t *data_size, void **con_cls)
{
    struct upload *up = *con_cls;
    char *grown;

    (void)cls;
    (void)version;
    if (strcmp(method, "GET") == 0 &&
        (strcmp(url, "/stats") == 0 || strcmp(url, "/requests") == 0))
        return serve_get(conn, url);
    if (strcmp(method, "POST") != 0 ||
        (!strstr(url, "/chat/completions") && !strstr(url, "/v1/messages")))
        return send_text(conn, 404,
                         "{\"error\":{\"type\":\"not_found_error\","
                         "\"message\":\"unknown endpoint\"}}",
                         NULL);
    if (up == NULL) {
        *con_cls = up = calloc(1, sizeof(*up));
        return up != NULL ? MHD_YES : MHD_NO;
    }
    if (*data_size > 0) {
        if (up->len + *data_size > MAX_BODY)
            return MHD_NO;
        grown = realloc(up->data, up->len + *data_size + 1);
        if (grown == NULL)
            return MHD_NO;
        memcpy(grown + up->len, data, *data_size);
        up->data = grown;
        up->len += *data_size;
        *data_size = 0;
        return MHD_YES;
    }
    return serve_completion(conn, url, up->data ? up->data : "", up->len);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
    struct upload *up = *con_cls;

    (void)cls;
    (void)conn;
    (void)code;
    if (up != NULL) {
        free(up->data);
        free(up);
        *con_cls = NULL;
    }
}

/* ------------------------------------------------------------------ */
/* Start-up                                                            */
/* ------------------------------------------------------------------ */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = calloc(1, (size_t)n + 1)) &&
        fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static int load_script(const char *path)
{
    char *text = read_file(path);
    cJSON *root, *after;

    if (text == NULL) {
        fprintf(stderr, "fake-llm: cannot read script %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    root = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "responses"))) {
        fprintf(stderr, "fake-llm: script %s has no \"responses\" list\n",
                path);
        cJSON_Delete(root);
        return -1;
    }
    srv.script = cJSON_DetachItemFromObject(root, "responses");
    after = cJSON_GetObjectItemCaseSensitive(root, "after");
    srv.after_repeat =
        cJSON_IsString(after) && strcmp(after->valuestring, "repeat") == 0;
    cJSON_Delete(root);
    return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longs[] = {
        {"port", required_argument, NULL, 'p'},
        {"script", required_argument, NULL, 's'},
        {"latency-ms", required_argument, NULL, 'l'},
        {"rpm", required_argument, NULL, 'r'},
        {"tpm", required_argument, NULL, 't'},
        {"window-ms", required_argument, NULL, 'w'},
        {"model", required_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    int c;

    o->window_ms = 60000;
    o->model = "fake-model";
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'p':
            o->port = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 's':
            o->script = optarg;
            break;
        case 'l':
            o->latency_ms = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'r':
            o->rpm = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 't':
            o->tpm = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'w':
            o->window_ms = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'm':
            o->model = optarg;
            break;
        default:
            return -1;
        }
    }
    if (o->window_ms == 0 || o->port > 65535) {
        fprintf(stderr, "fake-llm: bad --window-ms or --port\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr = {0};
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;
    sigset_t set;
    int sig;

    if (parse_options(argc, argv, &srv.opt) != 0)
        return 2;
    srv.script = cJSON_CreateArray();
    srv.log = cJSON_CreateArray();
    if (srv.opt.script != NULL) {
        cJSON_Delete(srv.script);
        if (load_script(srv.opt.script) != 0)
            return 2;
    }
    pthread_mutex_init(&srv.mu, NULL);
    bucket_init(&srv.req, srv.opt.rpm, srv.opt.window_ms);
    bucket_init(&srv.tok, srv.opt.tpm, srv.opt.window_ms);
    srv.last_ms = now_ms();
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)srv.opt.port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
                             MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG,
                         0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR,
                         (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED,
                         on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
                         120u, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "fake-llm: cannot listen on 127.0.0.1:%u\n",
                srv.opt.port);
        return 1;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("PORT %u\n", info != NULL ? (unsigned)info->port : srv.opt.port);
    fflush(stdout);
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    cJSON_Delete(srv.script);
    cJSON_Delete(srv.log);
    return 0;
}
