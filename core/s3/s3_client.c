/*
 * s3_client.c - the S3 client handle and its one signed request: URL
 * building (path-style or virtual-hosted), the x-amz-content-sha256
 * header libcurl 7.88 does not add, SigV4 through CURLOPT_AWS_SIGV4, and
 * turning S3's XML error bodies into struct s3_error.
 */
#include "common/log.h"
#include "s3/s3_internal.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ERROR_BODY_MAX (64 * 1024)
#define MIN_TEST_PART  1024

/* Per-transfer state shared by the curl callbacks. */
struct transfer {
    CURL *curl;
    struct s3_request *req;
    struct s3_buf errbody; /* body of a non-2xx answer, capped */
    int sink_stopped;
    int too_large;
};

static int dup_or_default(char **dst, const char *src, const char *dflt)
{
    *dst = strdup(src && *src ? src : dflt);
    return *dst ? 0 : -1;
}

void s3_config_from_env(struct s3_config *cfg, const char *bucket)
{
    const char *endpoint = getenv("AWS_ENDPOINT_URL_S3");
    const char *region = getenv("AWS_REGION");
    const char *style = getenv("S3_PATH_STYLE");

    if (!endpoint || !*endpoint)
        endpoint = getenv("AWS_ENDPOINT_URL");
    if (!region || !*region)
        region = getenv("AWS_DEFAULT_REGION");

    memset(cfg, 0, sizeof(*cfg));
    cfg->endpoint = endpoint && *endpoint ? endpoint : NULL;
    cfg->region = region && *region ? region : NULL;
    cfg->bucket = bucket;
    cfg->path_style = cfg->endpoint != NULL || (style && !strcmp(style, "1"));
}

static int check_config(const struct s3_config *cfg, struct s3_error *err)
{
    const char *ep = cfg->endpoint;

    if (!cfg->bucket || !*cfg->bucket || strchr(cfg->bucket, '/'))
        return s3_fail(err, 0, "InvalidConfig",
                       "s3 client: bucket name '%s' is empty or has a '/'",
                       cfg->bucket ? cfg->bucket : "(null)");
    if (ep && *ep && strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8))
        return s3_fail(err, 0, "InvalidConfig",
                       "s3 client: endpoint '%s' is not an http(s) URL", ep);
    if (cfg->part_size && cfg->part_size < MIN_TEST_PART)
        return s3_fail(err, 0, "InvalidConfig",
                       "s3 client: part size %zu is below %d bytes",
                       cfg->part_size, MIN_TEST_PART);
    if (!cfg->path_style && strchr(cfg->bucket, '.') && ep &&
        !strncmp(ep, "https://", 8))
        return s3_fail(err, 0, "InvalidConfig",
                       "s3 client: bucket '%s' has a '.', which breaks TLS "
                       "with virtual-hosted URLs; use path style",
                       cfg->bucket);
    return 0;
}

static int set_base_url(struct s3_client *c, const char *endpoint)
{
    size_t n;

    if (endpoint && *endpoint) {
        c->base_url = strdup(endpoint);
        if (!c->base_url)
            return -1;
        n = strlen(c->base_url);
        while (n > 0 && c->base_url[n - 1] == '/')
            c->base_url[--n] = '\0';
        return 0;
    }
    n = strlen(c->region) + sizeof("https://s3..amazonaws.com");
    c->base_url = malloc(n);
    if (!c->base_url)
        return -1;
    snprintf(c->base_url, n, "https://s3.%s.amazonaws.com", c->region);
    return 0;
}

static int load_credentials(struct s3_client *c, struct s3_error *err)
{
    const char *id = getenv("AWS_ACCESS_KEY_ID");
    const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
    const char *token = getenv("AWS_SESSION_TOKEN");
    size_t n;

    if (!id || !*id || !secret || !*secret)
        return s3_fail(err, 0, "MissingCredentials",
                       "s3 client for bucket '%s': AWS_ACCESS_KEY_ID and "
                       "AWS_SECRET_ACCESS_KEY must both be set",
                       c->bucket);

    n = strlen(id) + strlen(secret) + 2;
    c->userpwd = malloc(n);
    if (!c->userpwd)
        return s3_fail(err, 0, "OutOfMemory", "s3 client: out of memory");
    snprintf(c->userpwd, n, "%s:%s", id, secret);

    if (token && *token) {
        n = strlen(token) + sizeof("x-amz-security-token: ");
        c->token = malloc(n);
        if (!c->token)
            return s3_fail(err, 0, "OutOfMemory", "s3 client: out of memory");
        snprintf(c->token, n, "x-amz-security-token: %s", token);
    }
    return 0;
}

int s3_client_new(const struct s3_config *cfg, struct s3_client **out,
                  struct s3_error *err)
{
    struct s3_client *c;
    size_t n;

    *out = NULL;
    if (check_config(cfg, err) < 0)
        return -1;

    c = calloc(1, sizeof(*c));
    if (!c)
        return s3_fail(err, 0, "OutOfMemory", "s3 client: out of memory");
    c->path_style = cfg->path_style;
    c->part_size = cfg->part_size ? cfg->part_size : S3_DEFAULT_PART_SIZE;
    c->timeout_s = cfg->timeout_s > 0 ? cfg->timeout_s : 300;

    if (dup_or_default(&c->region, cfg->region, "us-east-1") < 0 ||
        dup_or_default(&c->bucket, cfg->bucket, "") < 0 ||
        set_base_url(c, cfg->endpoint) < 0)
        goto oom;

    n = strlen(c->region) + sizeof("aws:amz::s3");
    c->sigv4 = malloc(n);
    if (!c->sigv4)
        goto oom;
    snprintf(c->sigv4, n, "aws:amz:%s:s3", c->region);

    if (load_credentials(c, err) < 0)
        goto fail;

    c->curl = curl_easy_init();
    if (!c->curl)
        goto oom;
    *out = c;
    return 0;

oom:
    s3_fail(err, 0, "OutOfMemory", "s3 client: out of memory");
fail:
    s3_client_free(c);
    return -1;
}

static void wipe_free(char *s)
{
    if (!s)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

void s3_client_free(struct s3_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    wipe_free(c->userpwd);
    wipe_free(c->token);
    free(c->base_url);
    free(c->region);
    free(c->bucket);
    free(c->sigv4);
    free(c);
}

/* scheme://[bucket.]host[:port]/[bucket/][key][?query] */
static int build_url(struct s3_client *c, const struct s3_request *req,
                     struct s3_buf *url)
{
    const char *host = strstr(c->base_url, "://") + 3;
    int rc = 0;

    if (c->path_style) {
        rc |= s3_buf_printf(url, "%s/", c->base_url);
        rc |= s3_buf_encode(url, c->bucket, 0);
        if (req->key)
            rc |= s3_buf_append(url, "/", 1);
    }
    else {
        rc |= s3_buf_append(url, c->base_url, (size_t)(host - c->base_url));
        rc |= s3_buf_printf(url, "%s.%s/", c->bucket, host);
    }
    if (req->key)
        rc |= s3_buf_encode(url, req->key, 1);
    if (req->query)
        rc |= s3_buf_printf(url, "?%s", req->query);
    return rc ? -1 : 0;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    unsigned int i;

    EVP_Digest(data ? data : "", len, md, &mdlen, EVP_sha256(), NULL);
    for (i = 0; i < mdlen && i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

static struct curl_slist *build_headers(struct s3_client *c,
                                        const struct s3_request *req)
{
    char line[128];
    char hash[65];
    struct curl_slist *h = NULL;
    struct curl_slist *t;
    int has_body = !strcmp(req->method, "PUT") || !strcmp(req->method, "POST");

    sha256_hex(req->body, req->body_len, hash);
    snprintf(line, sizeof(line), "x-amz-content-sha256: %s", hash);
    if (!(t = curl_slist_append(h, line)))
        goto fail;
    h = t;
    /* XXX: no "Expect:" override here: libcurl 7.88 signs the emptied
     * header but does not send it, and every request fails with
     * SignatureDoesNotMatch. */
    if (has_body) {
        snprintf(line, sizeof(line), "Content-Type: %s",
                 req->content_type ? req->content_type
                                   : "application/octet-stream");
        if (!(t = curl_slist_append(h, line)))
            goto fail;
        h = t;
    }
    if (c->token) {
        if (!(t = curl_slist_append(h, c->token)))
            goto fail;
        h = t;
    }
    return h;

fail:
    curl_slist_free_all(h);
    return NULL;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct transfer *t = ud;
    struct s3_request *req = t->req;
    size_t n = size * nmemb;
    long status = 0;

    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        if (t->errbody.len + n <= ERROR_BODY_MAX)
            s3_buf_append(&t->errbody, ptr, n);
        return n;
    }
    if (req->sink) {
        if (req->sink(req->sink_ud, ptr, n) != 0) {
            t->sink_stopped = 1;
            return 0;
        }
        return n;
    }
    if (req->resp && s3_buf_append(req->resp, ptr, n) < 0) {
        t->too_large = 1;
        return 0;
    }
    return n;
}

/* Copy the value of header line ptr (n bytes) into dst when its name is
 * name (case-insensitive); surrounding blanks and CRLF are dropped. */
static void header_value(const char *ptr, size_t n, const char *name, char *dst,
                         size_t dstlen)
{
    size_t nlen = strlen(name);
    const char *v;
    size_t vlen;

    if (n <= nlen || strncasecmp(ptr, name, nlen) != 0 || ptr[nlen] != ':')
        return;
    v = ptr + nlen + 1;
    while (v < ptr + n && (*v == ' ' || *v == '\t'))
        v++;
    vlen = (size_t)(ptr + n - v);
    while (vlen > 0 &&
           (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
        vlen--;
    if (vlen < dstlen) {
        memcpy(dst, v, vlen);
        dst[vlen] = '\0';
    }
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct transfer *t = ud;
    size_t n = size * nmemb;

    header_value(ptr, n, "ETag", t->req->etag, sizeof(t->req->etag));
    header_value(ptr, n, "Content-Type", t->req->resp_type,
                 sizeof(t->req->resp_type));
    return n;
}

static void setup_curl(struct s3_client *c, struct s3_request *req,
                       struct transfer *t, const char *url,
                       struct curl_slist *headers)
{
    CURL *h = c->curl;

    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_s);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, c->sigv4);
    curl_easy_setopt(h, CURLOPT_USERPWD, c->userpwd);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, t);

    if (!strcmp(req->method, "PUT") || !strcmp(req->method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)req->body_len);
    }
    if (strcmp(req->method, "GET") && strcmp(req->method, "POST"))
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
}

/* Fill err from a non-2xx answer, preferring S3's <Code> and <Message>. */
static int http_error(struct s3_client *c, struct s3_request *req,
                      const char *what, struct transfer *t,
                      struct s3_error *err)
{
    size_t pos = 0;
    char *code = s3_xml_text(t->errbody.data, t->errbody.len, &pos, "Code");
    char *msg;

    pos = 0;
    msg = s3_xml_text(t->errbody.data, t->errbody.len, &pos, "Message");
    s3_fail(err, req->status, code ? code : "HttpError",
            "%s s3://%s/%s: HTTP %ld %s: %s", what, c->bucket,
            req->key ? req->key : "", req->status, code ? code : "",
            msg ? msg : "(no error message in the response)");
    free(code);
    free(msg);
    return -1;
}

static int finish(struct s3_client *c, struct s3_request *req, const char *what,
                  struct transfer *t, CURLcode rc, struct s3_error *err)
{
    const char *k = req->key ? req->key : "";

    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &req->status);
    if (t->sink_stopped)
        return s3_fail(err, req->status, "Aborted",
                       "%s s3://%s/%s: stopped by the receiver", what,
                       c->bucket, k);
    if (t->too_large)
        return s3_fail(err, req->status, "TooLarge",
                       "%s s3://%s/%s: response larger than allowed", what,
                       c->bucket, k);
    if (rc != CURLE_OK)
        return s3_fail(err, req->status, "Transport",
                       "%s s3://%s/%s via %s: %s", what, c->bucket, k,
                       c->base_url, curl_easy_strerror(rc));
    if (req->status < 200 || req->status > 299)
        return http_error(c, req, what, t, err);
    return 0;
}

/* Whether a failed attempt may be sent again unchanged. */
static int retryable(const struct s3_request *req, CURLcode rc)
{
    if (!strcmp(req->method, "POST") || req->sink)
        return 0;
    switch (rc) {
    case CURLE_OK:
        return req->status == 500 || req->status == 502 || req->status == 503 ||
               req->status == 504;
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return 1;
    default:
        return 0;
    }
}

static void reset_attempt(struct s3_request *req, struct transfer *t)
{
    req->status = 0;
    req->etag[0] = '\0';
    req->resp_type[0] = '\0';
    if (req->resp)
        req->resp->len = 0;
    t->errbody.len = 0;
    t->sink_stopped = 0;
    t->too_large = 0;
}

static void backoff(int attempt)
{
    long ms = 200L << (2 * (attempt - 1));
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0)
        ;
}

int s3_perform(struct s3_client *c, struct s3_request *req, const char *what,
               struct s3_error *err)
{
    struct transfer t = {.curl = c->curl, .req = req};
    struct s3_buf url = {0};
    struct curl_slist *headers = NULL;
    CURLcode rc;
    int ret = -1;
    int attempt;

    req->attempts = 0;
    if (build_url(c, req, &url) < 0 || !(headers = build_headers(c, req))) {
        s3_fail(err, 0, "OutOfMemory", "%s: out of memory", what);
        goto out;
    }

    for (attempt = 1;; attempt++) {
        reset_attempt(req, &t);
        setup_curl(c, req, &t, url.data, headers);
        rc = curl_easy_perform(c->curl);
        ret = finish(c, req, what, &t, rc, err);
        req->attempts = attempt;
        log_debug("s3", "%s %s -> HTTP %ld%s", req->method, url.data,
                  req->status, ret == 0 ? "" : " (failed)");
        if (ret == 0 || attempt >= S3_ATTEMPTS || !retryable(req, rc))
            break;
        log_warn("s3", "%s (attempt %d of %d, retrying)",
                 err ? err->message : what, attempt, S3_ATTEMPTS);
        backoff(attempt);
    }

out:
    curl_slist_free_all(headers);
    s3_buf_free(&t.errbody);
    s3_buf_free(&url);
    return ret;
}
