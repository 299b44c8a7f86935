/*
 * endpoint.h - the HTTP/1.1 face of the host towards restate-server.
 *
 * A small libmicrohttpd server with three routes:
 *
 *   GET  /discover                  endpoint manifest; the version is
 *                                   negotiated from the Accept header
 *                                   (highest supported v1..v4), 415 with a
 *                                   JSON {"message":...} when none matches.
 *   POST /invoke/{service}/{handler} one invocation attempt in
 *                                   request-response mode: the body (framed
 *                                   protocol messages) is fed to a session
 *                                   as it arrives; when it is complete the
 *                                   handler runs and the produced frames are
 *                                   the response.  Content type must be
 *                                   application/vnd.restate.invocation.v5 or
 *                                   .v6 (else 415) and is echoed byte for
 *                                   byte; 404 for an unknown target; 413
 *                                   once the body exceeds the limit.
 *   GET  /health                    200 "OK".
 *
 * The protocol itself is not known here: the caller supplies a
 * struct core_http_app whose callbacks build the manifest and run sessions
 * (core/http/restate_app.h binds it to the restate library).
 *
 * Threads: one thread per connection (restate opens a connection per
 * concurrent attempt and keeps it alive), so any number of handlers run at
 * once; the endpoint holds no lock while an app callback runs.  Accepted
 * sockets get TCP_NODELAY: without it the end of each response waits for
 * the peer's delayed ACK (about 40 ms per attempt).
 */
#ifndef CORE_HTTP_ENDPOINT_H
#define CORE_HTTP_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

/* Service protocol versions accepted on /invoke. */
#define CORE_HTTP_PROTOCOL_MIN 5
#define CORE_HTTP_PROTOCOL_MAX 6

/* Manifest versions the endpoint can negotiate on /discover. */
#define CORE_HTTP_MANIFEST_MIN 1
#define CORE_HTTP_MANIFEST_MAX 4

/*
 * Callbacks that give the endpoint its content.  All of them may be called
 * from several connection threads at once; a session pointer is used by
 * one thread at a time (the thread serving its request).
 */
struct core_http_app {
    void *ctx; /* passed back to every callback */

    /*
     * Lowest and highest manifest version the app can produce, within
     * CORE_HTTP_MANIFEST_MIN..MAX.
     */
    int manifest_min;
    int manifest_max;

    /*
     * Build the manifest JSON for the negotiated version.  Returns a
     * malloc'd buffer (the endpoint frees it) and its length in *len, or
     * NULL on failure (the endpoint answers 500).
     */
    char *(*discover)(void *ctx, int manifest_version, size_t *len);

    /*
     * Start a session for one invocation attempt of service/handler at the
     * given service protocol version.  invocation_id is the value of the
     * x-restate-invocation-id header or NULL; it is only for logs.  Returns
     * the session, or NULL with *http_status set (404 unknown target, 500
     * out of memory).
     */
    void *(*session_open)(void *ctx, const char *service, const char *handler,
                          int protocol_version, const char *invocation_id,
                          int *http_status);

    /*
     * Feed the next len bytes of the request body.  Bytes arrive in any
     * split (a frame may span calls).  Returns 0, or -1 when the input is
     * unusable; the endpoint still calls session_finish, which must then
     * produce the protocol's error answer.
     */
    int (*session_feed)(void *session, const uint8_t *data, size_t len);

    /*
     * The body is complete: run the handler and return the response frames
     * as a malloc'd buffer in *out / *out_len (ownership passes to the
     * endpoint).  May block for as long as the handler runs.  Returns 0, or
     * -1 when no answer could be produced (the endpoint answers 500).
     */
    int (*session_finish)(void *session, uint8_t **out, size_t *out_len);

    /*
     * Optional.  The body passed limit bytes and the rest was dropped.
     * Return 0 if the session will answer session_finish with a final
     * failure of the invocation (so the caller does not retry it), or -1
     * to have the endpoint answer 413.
     */
    int (*session_too_large)(void *session, size_t limit);

    /* Release the session; called exactly once per opened session. */
    void (*session_close)(void *session);
};

struct core_http_limits {
    size_t max_body_bytes;    /* /invoke body cap; 0 = 64 MiB */
    unsigned max_connections; /* 0 = 512 */
    unsigned idle_timeout_s;  /* keep-alive idle close; 0 = 120 s */
};

struct core_http_endpoint;

/*
 * Bind listen ("HOST:PORT", "[V6ADDR]:PORT"; PORT 0 picks a free one) and
 * start serving app.  The app struct is copied; app->ctx must outlive the
 * endpoint.  limits may be NULL for the defaults.  Returns the endpoint or
 * NULL after logging why (bad address, bind failure, MHD failure).
 * Call from any thread.
 */
struct core_http_endpoint *
core_http_start(const char *listen, const struct core_http_app *app,
                const struct core_http_limits *limits);

/* The TCP port actually bound (useful after PORT 0). */
uint16_t core_http_port(const struct core_http_endpoint *ep);

/*
 * Stop accepting, wait for running requests to finish (a handler that
 * never returns blocks this), close every connection and free ep.
 * NULL is ignored.  Must not be called from an app callback.
 */
void core_http_stop(struct core_http_endpoint *ep);

#endif /* CORE_HTTP_ENDPOINT_H */
