/*
 * http.h - the LLM client's single HTTP operation: a JSON POST over
 * libcurl.  Internal to core/llm.
 */
#ifndef CORE_LLM_HTTP_H
#define CORE_LLM_HTTP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "llm/llm_internal.h"

struct curl_slist;
struct llm_http_share;

/*
 * Connections, TLS sessions and DNS answers shared by every request of a
 * provider, so calls reuse connections instead of a new TLS handshake
 * each time.  Thread-safe (libcurl share locks backed by mutexes).
 * Returns NULL on failure; requests then use private connections.
 */
struct llm_http_share *llm_http_share_create(void);

/* Free a share no request is using.  NULL is accepted. */
void llm_http_share_destroy(struct llm_http_share *share);

enum llm_http_result {
    LLM_HTTP_OK = 0,       /* a response arrived (any status) */
    LLM_HTTP_TIMEOUT = 1,  /* the attempt's timeout expired */
    LLM_HTTP_ERROR = 2,    /* connection or protocol failure */
    LLM_HTTP_CANCELLED = 3 /* *cancel became non-zero */
};

struct llm_http_reply {
    int status; /* HTTP status, 0 without a response */
    char *body; /* NUL-terminated response body (malloc'd) or NULL */
    size_t body_len;
    struct llm_hint_headers hints;
};

/*
 * POST body to url with headers (read only, may be shared between
 * threads) through share (may be NULL), waiting at most timeout_ms; the
 * transfer is aborted soon after *cancel (may be NULL) becomes non-zero.  Fills
 * *rep (free with llm_http_reply_free(), also after a failure) and returns an
 * llm_http_result; on failure why holds curl's reason.  Thread-safe once
 * curl_global_init() has run.
 */
int llm_http_post(struct llm_http_share *share, const char *url,
                  const struct curl_slist *headers, const char *body,
                  uint32_t timeout_ms, const atomic_int *cancel,
                  struct llm_http_reply *rep, char *why, size_t why_len);

/* Free what rep owns and zero it. */
void llm_http_reply_free(struct llm_http_reply *rep);

#endif /* CORE_LLM_HTTP_H */
