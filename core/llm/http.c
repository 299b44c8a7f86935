/*
 * http.c - one POST over libcurl with the response body, status and the
 * rate-limit headers collected.  A fresh easy handle per request keeps
 * threads independent; the header list is shared read-only.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "llm/http.h"

/* Largest response body kept; a provider reply is a few kB. */
#define BODY_MAX (8u << 20)

struct llm_http_share {
    CURLSH *sh;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access a,
                       void *arg)
{
    struct llm_http_share *s = arg;

    (void)h;
    (void)a;
    pthread_mutex_lock(&s->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *arg)
{
    struct llm_http_share *s = arg;

    (void)h;
    pthread_mutex_unlock(&s->locks[data]);
}

struct llm_http_share *llm_http_share_create(void)
{
    struct llm_http_share *s = calloc(1, sizeof(*s));
    int i;

    if (s == NULL)
        return NULL;
    s->sh = curl_share_init();
    if (s->sh == NULL) {
        free(s);
        return NULL;
    }
    for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&s->locks[i], NULL);
    curl_share_setopt(s->sh, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(s->sh, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(s->sh, CURLSHOPT_USERDATA, s);
    curl_share_setopt(s->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(s->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(s->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    return s;
}

void llm_http_share_destroy(struct llm_http_share *s)
{
    int i;

    if (s == NULL)
        return;
    curl_share_cleanup(s->sh);
    for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&s->locks[i]);
    free(s);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct llm_http_reply *rep = arg;
    size_t len = size * n;
    char *grown;

    if (rep->body_len + len > BODY_MAX)
        return 0;
    grown = realloc(rep->body, rep->body_len + len + 1);
    if (grown == NULL)
        return 0;
    memcpy(grown + rep->body_len, data, len);
    rep->body = grown;
    rep->body_len += len;
    rep->body[rep->body_len] = '\0';
    return len;
}

/* Copy the value of "name: value" into dst when the name matches. */
static void take_header(const char *line, size_t len, const char *name,
                        char *dst, size_t dst_len)
{
    size_t n = strlen(name), v;

    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return;
    line += n + 1;
    len -= n + 1;
    while (len > 0 && isspace((unsigned char)*line))
        line++, len--;
    while (len > 0 && isspace((unsigned char)line[len - 1]))
        len--;
    v = len < dst_len - 1 ? len : dst_len - 1;
    memcpy(dst, line, v);
    dst[v] = '\0';
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct llm_http_reply *rep = arg;
    struct llm_hint_headers *h = &rep->hints;
    size_t len = size * n;

    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0)
        memset(h, 0, sizeof(*h)); /* a new response (after a 100) */
    take_header(data, len, "retry-after", h->retry_after,
                sizeof(h->retry_after));
    take_header(data, len, "retry-after-ms", h->retry_after_ms,
                sizeof(h->retry_after_ms));
    take_header(data, len, "x-ratelimit-reset-requests", h->reset_requests,
                sizeof(h->reset_requests));
    take_header(data, len, "x-ratelimit-reset-tokens", h->reset_tokens,
                sizeof(h->reset_tokens));
    return len;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
    const atomic_int *cancel = arg;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return atomic_load(cancel) != 0;
}

int llm_http_post(struct llm_http_share *share, const char *url,
                  const struct curl_slist *headers, const char *body,
                  uint32_t timeout_ms, const atomic_int *cancel,
                  struct llm_http_reply *rep, char *why, size_t why_len)
{
    CURL *curl = curl_easy_init();
    CURLcode rc;
    long status = 0;

    memset(rep, 0, sizeof(*rep));
    if (curl == NULL) {
        snprintf(why, why_len, "curl_easy_init failed");
        return LLM_HTTP_ERROR;
    }
    if (share != NULL)
        curl_easy_setopt(curl, CURLOPT_SHARE, share->sh);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)strlen(body));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(timeout_ms < 10000 ? timeout_ms : 10000));
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, rep);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, rep);
    if (cancel != NULL) {
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, (void *)cancel);
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    }
    rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    rep->status = (int)status;
    if (rc == CURLE_OK)
        return LLM_HTTP_OK;
    snprintf(why, why_len, "%s", curl_easy_strerror(rc));
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        return LLM_HTTP_CANCELLED;
    return rc == CURLE_OPERATION_TIMEDOUT ? LLM_HTTP_TIMEOUT : LLM_HTTP_ERROR;
}

void llm_http_reply_free(struct llm_http_reply *rep)
{
    free(rep->body);
    memset(rep, 0, sizeof(*rep));
}
