/*
 * http.c - small blocking HTTP client for the CLI (libcurl).
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define RESPONSE_MAX (16u << 20)

struct body {
    char *data;
    size_t len;
};

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct body *b = userdata;
    size_t n = size * nmemb;
    char *grown;

    if (b->len + n > RESPONSE_MAX)
        return 0;
    grown = realloc(b->data, b->len + n + 1);
    if (grown == NULL)
        return 0;
    memcpy(grown + b->len, ptr, n);
    b->data = grown;
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static long perform(CURL *h, const char *url, long timeout_ms, char **resp,
                    char *err, size_t err_len)
{
    struct body b = {NULL, 0};
    char curl_err[CURL_ERROR_SIZE] = "";
    long status = 0;
    CURLcode rc;

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout_ms < 5000 ? timeout_ms : 5000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        snprintf(err, err_len, "%s: %s", url,
                 curl_err[0] ? curl_err : curl_easy_strerror(rc));
        free(b.data);
        *resp = NULL;
        return 0;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    *resp = b.data;
    return status;
}

long cli_http_request(const struct cli_http_request *req, char **resp,
                      char *err, size_t err_len)
{
    struct curl_slist *list = NULL, *grown = NULL;
    const char *const *h;
    CURL *c = curl_easy_init();
    long status = 0;

    *resp = NULL;
    if (c == NULL) {
        snprintf(err, err_len, "%s: cannot create an HTTP handle", req->url);
        return 0;
    }
    for (h = req->headers; h != NULL && *h != NULL; h++) {
        grown = curl_slist_append(list, *h);
        if (grown == NULL) {
            snprintf(err, err_len, "%s: out of memory", req->url);
            goto out;
        }
        list = grown;
    }
    if (list != NULL)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    if (req->unix_socket != NULL)
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);
    if (req->method != NULL)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    if (req->body != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
    status = perform(c, req->url, req->timeout_ms, resp, err, err_len);

out:
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    return status;
}

long cli_http_post(const char *url, const char *body,
                   const char *const *headers, long timeout_ms, char **resp,
                   char *err, size_t err_len)
{
    const char *all[16] = {"content-type: application/json"};
    struct cli_http_request req = {"POST", url, NULL, body, all, timeout_ms};
    size_t n = 1;

    for (; headers != NULL && *headers != NULL && n + 1 < 16; headers++)
        all[n++] = *headers;
    return cli_http_request(&req, resp, err, err_len);
}

long cli_http_get(const char *url, long timeout_ms, char **resp, char *err,
                  size_t err_len)
{
    struct cli_http_request req = {"GET", url, NULL, NULL, NULL, timeout_ms};

    return cli_http_request(&req, resp, err, err_len);
}
