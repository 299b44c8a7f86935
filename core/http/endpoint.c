/*
 * endpoint.c - libmicrohttpd server for /discover, /invoke and /health.
 *
 * One thread per connection; every request keeps its own state in a
 * struct request hung on MHD's per-request pointer and freed by the
 * request-completed callback.  See endpoint.h for the contract.
 */
#include "http/endpoint.h"

#include "common/log.h"
#include "common/net.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define TAG "http"

#define DEFAULT_MAX_BODY       (64u * 1024u * 1024u)
#define DEFAULT_MAX_CONNS      512u
#define DEFAULT_IDLE_TIMEOUT   120u
#define SERVER_HEADER          "classify/0.1"
#define MANIFEST_TYPE_FMT      "application/vnd.restate.endpointmanifest.v%d+json"
#define INVOCATION_TYPE_PREFIX "application/vnd.restate.invocation.v"
#define NAME_MAX_LEN           256

struct core_http_endpoint {
    struct MHD_Daemon *daemon;
    struct core_http_app app;
    struct core_http_limits limits;
    uint16_t port;
};

enum route { ROUTE_OTHER, ROUTE_DISCOVER, ROUTE_HEALTH, ROUTE_INVOKE };

/* Per-request state, owned by MHD's request pointer. */
struct request {
    enum route route;
    void *session;     /* open /invoke session, or NULL */
    size_t body_bytes; /* /invoke body bytes seen so far */
    int answered;      /* a response is queued: drop further body */
    int too_large;     /* body passed the limit: answer 413 */
    char content_type[64];
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    core_logv(CORE_LOG_WARN, TAG, fmt, ap);
}

static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    const union MHD_ConnectionInfo *info;
    int one = 1;

    (void)cls;
    (void)socket_ctx;
    if (code != MHD_CONNECTION_NOTIFY_STARTED)
        return;

    info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info == NULL)
        return;
    if (setsockopt(info->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one,
                   sizeof(one)) != 0)
        log_warn(TAG, "setsockopt(TCP_NODELAY) on fd %d failed: %s",
                 info->connect_fd, strerror(errno));
}

/*
 * Queue a response with a malloc'd body; the body is always freed (by MHD,
 * or here when the response cannot be created).
 * Returns MHD_NO when the response cannot be created or queued.
 */
static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status,
                               const char *content_type, void *body, size_t len)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }

    if (content_type != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                content_type);
    MHD_add_response_header(resp, "x-restate-server", SERVER_HEADER);
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Answer status with {"message": "<msg>"}. */
static enum MHD_Result respond_message(struct MHD_Connection *conn,
                                       unsigned status, const char *msg)
{
    cJSON *obj;
    char *text;

    obj = cJSON_CreateObject();
    if (obj == NULL || cJSON_AddStringToObject(obj, "message", msg) == NULL) {
        cJSON_Delete(obj);
        return MHD_NO;
    }
    text = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    if (text == NULL)
        return MHD_NO;

    if (status >= 400)
        log_warn(TAG, "answering %u: %s", status, msg);
    return respond(conn, status, "application/json", text, strlen(text));
}

/*
 * Pick the highest manifest version in [lo, hi] listed in accept, a
 * comma-separated list of media types (parameters after ';' ignored).
 * Returns the version or 0.
 */
static int negotiate_manifest(const char *accept, int lo, int hi)
{
    const char *p = accept;
    int best = 0;

    while (*p != '\0') {
        const char *start, *end;
        char want[80];
        int v;

        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        start = p;
        while (*p != '\0' && *p != ',')
            p++;
        end = start;
        while (end < p && *end != ';')
            end++;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;

        for (v = hi; v >= lo && v > best; v--) {
            int n = snprintf(want, sizeof(want), MANIFEST_TYPE_FMT, v);

            if ((size_t)n == (size_t)(end - start) &&
                strncasecmp(start, want, (size_t)n) == 0) {
                best = v;
                break;
            }
        }
    }
    return best;
}

static enum MHD_Result serve_discover(struct core_http_endpoint *ep,
                                      struct MHD_Connection *conn)
{
    const char *accept;
    char msg[512], ctype[80];
    char *manifest;
    size_t len = 0;
    int version;

    accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                         MHD_HTTP_HEADER_ACCEPT);
    if (accept == NULL || *accept == '\0')
        return respond_message(conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                               "Missing accept header");

    version =
        negotiate_manifest(accept, ep->app.manifest_min, ep->app.manifest_max);
    if (version == 0) {
        snprintf(msg, sizeof(msg),
                 "Unsupported service discovery protocol version '%.400s'",
                 accept);
        return respond_message(conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, msg);
    }

    manifest = ep->app.discover(ep->app.ctx, version, &len);
    if (manifest == NULL)
        return respond_message(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                               "cannot build the endpoint manifest");

    log_debug(TAG, "discovery answered with manifest v%d (%zu bytes)", version,
              len);
    snprintf(ctype, sizeof(ctype), MANIFEST_TYPE_FMT, version);
    return respond(conn, MHD_HTTP_OK, ctype, manifest, len);
}

static enum MHD_Result serve_health(struct MHD_Connection *conn)
{
    char *body = strdup("OK");

    if (body == NULL)
        return MHD_NO;
    return respond(conn, MHD_HTTP_OK, "text/plain", body, 2);
}

/*
 * Split "/invoke/S/H" into service and handler.  Returns 0, or -1 when the
 * path has another shape or a part is empty or too long.
 */
static int parse_invoke_path(const char *url, char *service, char *handler)
{
    const char *s = url + strlen("/invoke/");
    const char *slash = strchr(s, '/');
    size_t slen, hlen;

    if (slash == NULL || strchr(slash + 1, '/') != NULL)
        return -1;
    slen = (size_t)(slash - s);
    hlen = strlen(slash + 1);
    if (slen == 0 || hlen == 0 || slen >= NAME_MAX_LEN || hlen >= NAME_MAX_LEN)
        return -1;

    memcpy(service, s, slen);
    service[slen] = '\0';
    memcpy(handler, slash + 1, hlen + 1);
    return 0;
}

/* Protocol version named by an exact invocation content type, or 0. */
static int invocation_version(const char *ctype)
{
    size_t plen = strlen(INVOCATION_TYPE_PREFIX);
    const char *v;
    int version;

    if (ctype == NULL || strncmp(ctype, INVOCATION_TYPE_PREFIX, plen) != 0)
        return 0;
    v = ctype + plen;
    if (v[0] < '0' || v[0] > '9' || v[1] != '\0')
        return 0;
    version = v[0] - '0';
    if (version < CORE_HTTP_PROTOCOL_MIN || version > CORE_HTTP_PROTOCOL_MAX)
        return 0;
    return version;
}

/*
 * First call of POST /invoke/...: check the path and content type and open
 * the session.  Returns MHD_YES with req->session set, or the result of
 * queueing an error answer (req->answered set).
 */
static enum MHD_Result invoke_begin(struct core_http_endpoint *ep,
                                    struct MHD_Connection *conn,
                                    const char *url, struct request *req)
{
    char service[NAME_MAX_LEN], handler[NAME_MAX_LEN], msg[700];
    const char *ctype, *inv_id;
    int version, status = MHD_HTTP_INTERNAL_SERVER_ERROR;

    req->answered = 1;
    if (parse_invoke_path(url, service, handler) != 0)
        return respond_message(conn, MHD_HTTP_NOT_FOUND,
                               "invoke path must be /invoke/SERVICE/HANDLER");

    ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                        MHD_HTTP_HEADER_CONTENT_TYPE);
    version = invocation_version(ctype);
    if (version == 0) {
        snprintf(msg, sizeof(msg),
                 "unsupported invocation content type '%.200s', expected "
                 "application/vnd.restate.invocation.v5 or .v6",
                 ctype != NULL ? ctype : "");
        return respond_message(conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, msg);
    }
    snprintf(req->content_type, sizeof(req->content_type), "%s", ctype);

    inv_id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                         "x-restate-invocation-id");
    req->session = ep->app.session_open(ep->app.ctx, service, handler, version,
                                        inv_id, &status);
    if (req->session == NULL) {
        snprintf(msg, sizeof(msg), "%s %s/%s",
                 status == MHD_HTTP_NOT_FOUND ? "unknown handler"
                                              : "cannot start invocation of",
                 service, handler);
        return respond_message(conn, (unsigned)status, msg);
    }

    req->answered = 0;
    return MHD_YES;
}

/*
 * Feed one piece of the /invoke body.  Past the limit the rest of the body
 * is read and dropped (MHD cannot answer before the upload ends); the app
 * may then end the invocation for good (session_too_large), else the
 * answer is 413.
 */
static enum MHD_Result invoke_body(struct core_http_endpoint *ep,
                                   struct request *req, const char *data,
                                   size_t len)
{
    if (req->too_large || len > ep->limits.max_body_bytes - req->body_bytes) {
        req->too_large = 1;
        return MHD_YES;
    }

    req->body_bytes += len;
    if (ep->app.session_feed(req->session, (const uint8_t *)data, len) != 0)
        log_debug(TAG, "session rejected body bytes at offset %zu",
                  req->body_bytes - len);
    return MHD_YES;
}

/* Body complete: run the handler and send its frames. */
static enum MHD_Result invoke_finish(struct core_http_endpoint *ep,
                                     struct MHD_Connection *conn,
                                     struct request *req)
{
    uint8_t *out = NULL;
    size_t out_len = 0;
    char msg[128];

    req->answered = 1;
    if (req->too_large && (ep->app.session_too_large == NULL ||
                           ep->app.session_too_large(
                               req->session, ep->limits.max_body_bytes) != 0)) {
        snprintf(msg, sizeof(msg),
                 "invocation body exceeds the limit of %zu bytes",
                 ep->limits.max_body_bytes);
        return respond_message(conn, MHD_HTTP_CONTENT_TOO_LARGE, msg);
    }
    if (ep->app.session_finish(req->session, &out, &out_len) != 0) {
        free(out);
        return respond_message(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                               "the invocation produced no answer");
    }
    return respond(conn, MHD_HTTP_OK, req->content_type, out, out_len);
}

static enum route classify_route(const char *url)
{
    if (strcmp(url, "/discover") == 0)
        return ROUTE_DISCOVER;
    if (strcmp(url, "/health") == 0)
        return ROUTE_HEALTH;
    if (strncmp(url, "/invoke/", strlen("/invoke/")) == 0)
        return ROUTE_INVOKE;
    return ROUTE_OTHER;
}

static int method_allowed(enum route route, const char *method)
{
    if (route == ROUTE_INVOKE)
        return strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    return strcmp(method, MHD_HTTP_METHOD_GET) == 0;
}

/* First call for a request: allocate state, route, answer simple routes. */
static enum MHD_Result request_begin(struct core_http_endpoint *ep,
                                     struct MHD_Connection *conn,
                                     const char *url, const char *method,
                                     struct request *req)
{
    req->route = classify_route(url);
    if (req->route == ROUTE_OTHER) {
        req->answered = 1;
        return respond_message(conn, MHD_HTTP_NOT_FOUND, "no such path");
    }
    if (!method_allowed(req->route, method)) {
        req->answered = 1;
        return respond_message(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                               "method not allowed on this path");
    }
    if (req->route == ROUTE_INVOKE)
        return invoke_begin(ep, conn, url, req);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    struct core_http_endpoint *ep = cls;
    struct request *req = *req_cls;
    size_t len = *upload_size;

    (void)version;
    if (req == NULL) {
        req = calloc(1, sizeof(*req));
        if (req == NULL)
            return MHD_NO;
        *req_cls = req;
        return request_begin(ep, conn, url, method, req);
    }

    *upload_size = 0;
    if (req->answered)
        return MHD_YES; /* discard the rest of a rejected body */
    if (len != 0) {
        if (req->route == ROUTE_INVOKE)
            return invoke_body(ep, req, upload, len);
        return MHD_YES; /* bodies of GET routes are ignored */
    }

    switch (req->route) {
    case ROUTE_DISCOVER:
        req->answered = 1;
        return serve_discover(ep, conn);
    case ROUTE_HEALTH:
        req->answered = 1;
        return serve_health(conn);
    case ROUTE_INVOKE:
        return invoke_finish(ep, conn, req);
    default:
        return MHD_NO;
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode code)
{
    struct core_http_endpoint *ep = cls;
    struct request *req = *req_cls;

    (void)conn;
    if (req == NULL)
        return;
    if (code != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        log_debug(TAG, "request ended early (MHD code %d)", (int)code);
    if (req->session != NULL)
        ep->app.session_close(req->session);
    free(req);
    *req_cls = NULL;
}

/* listen(2) on fd and read back the bound address into addr; 0 or -1. */
static int listen_and_name(int fd, struct sockaddr_storage *addr,
                           socklen_t *addr_len)
{
    *addr_len = sizeof(*addr);
    if (listen(fd, SOMAXCONN) != 0)
        return -1;
    return getsockname(fd, (struct sockaddr *)addr, addr_len);
}

/* Create, bind and listen; returns the socket and the bound port, or -1. */
static int open_listener(const char *listen, uint16_t *port, int *family)
{
    struct sockaddr_storage addr;
    socklen_t addr_len;
    int fd, one = 1;

    if (core_addr_parse(listen, &addr, &addr_len) != 0) {
        log_error(TAG,
                  "listen address '%s' is not HOST:PORT with a numeric "
                  "IPv4 or [IPv6] host",
                  listen);
        return -1;
    }

    *family = addr.ss_family;
    fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_error(TAG, "socket() for %s failed: %s", listen, strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&addr, addr_len) != 0 ||
        listen_and_name(fd, &addr, &addr_len) != 0) {
        log_error(TAG, "cannot listen on %s: %s", listen, strerror(errno));
        close(fd);
        return -1;
    }

    *port = core_addr_port(&addr);
    return fd;
}

struct core_http_endpoint *
core_http_start(const char *listen, const struct core_http_app *app,
                const struct core_http_limits *limits)
{
    struct core_http_endpoint *ep;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                     MHD_USE_ERROR_LOG;
    int fd, family;

    ep = calloc(1, sizeof(*ep));
    if (ep == NULL)
        return NULL;
    ep->app = *app;
    if (limits != NULL)
        ep->limits = *limits;
    if (ep->limits.max_body_bytes == 0)
        ep->limits.max_body_bytes = DEFAULT_MAX_BODY;
    if (ep->limits.max_connections == 0)
        ep->limits.max_connections = DEFAULT_MAX_CONNS;
    if (ep->limits.idle_timeout_s == 0)
        ep->limits.idle_timeout_s = DEFAULT_IDLE_TIMEOUT;

    fd = open_listener(listen, &ep->port, &family);
    if (fd < 0)
        goto fail;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;

    /* The logger goes first so that it also sees option errors. */
    /* clang-format off */
    ep->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, ep,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, ep,
        MHD_OPTION_CONNECTION_LIMIT, ep->limits.max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, ep->limits.idle_timeout_s,
        MHD_OPTION_END);
    /* clang-format on */
    if (ep->daemon == NULL) {
        log_error(TAG, "libmicrohttpd failed to start on %s", listen);
        close(fd);
        goto fail;
    }

    log_info(TAG, "endpoint listening on %s (port %u)", listen,
             (unsigned)ep->port);
    return ep;

fail:
    free(ep);
    return NULL;
}

uint16_t core_http_port(const struct core_http_endpoint *ep)
{
    return ep->port;
}

void core_http_stop(struct core_http_endpoint *ep)
{
    if (ep == NULL)
        return;
    MHD_stop_daemon(ep->daemon);
    log_info(TAG, "endpoint on port %u stopped", (unsigned)ep->port);
    free(ep);
}
