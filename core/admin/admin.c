/*
 * admin.c - the admin listener (libmicrohttpd, one thread per
 * connection): peer and token checks, then the routes of admin.h.
 */
#include "admin/admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/net.h"

#define TAG "admin"

struct admin_server {
    struct MHD_Daemon *daemon;
    struct admin_handlers h;
    char *token;     /* NULL: none required */
    char *unix_path; /* NULL: TCP */
    uint16_t port;
};

/* Marker for the first call of a request (MHD calls the handler again
 * for each piece of the body and once more at its end). */
static int request_seen;

/* ------------------------------------------------------------------ */
/* Access checks                                                       */
/* ------------------------------------------------------------------ */

int admin_peer_allowed(const struct sockaddr *sa, socklen_t len)
{
    if (sa == NULL || len < (socklen_t)sizeof(sa_family_t))
        return 0;
    if (sa->sa_family == AF_UNIX)
        return 1;
    if (sa->sa_family == AF_INET &&
        len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;

        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6 &&
        len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct in6_addr *a =
            &((const struct sockaddr_in6 *)sa)->sin6_addr;

        if (IN6_IS_ADDR_LOOPBACK(a))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return 0;
}

int admin_token_equal(const char *want, const char *given)
{
    size_t wlen = strlen(want), glen, i;
    unsigned char diff;

    if (given == NULL)
        return 0;
    glen = strlen(given);
    diff = (unsigned char)(wlen != glen);
    for (i = 0; i < wlen; i++) {
        unsigned char g = (unsigned char)given[i < glen ? i : 0];

        diff |= (unsigned char)want[i] ^ g;
    }
    return diff == 0;
}

static void peer_text(const struct sockaddr *sa, char *buf, size_t size)
{
    snprintf(buf, size, "unknown peer");
    if (sa == NULL)
        return;
    if (sa->sa_family == AF_UNIX)
        snprintf(buf, size, "unix socket peer");
    else if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf,
                  (socklen_t)size);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
                  (socklen_t)size);
}

/* ------------------------------------------------------------------ */
/* Responses                                                           */
/* ------------------------------------------------------------------ */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
                             const char *type, char *body)
{
    struct MHD_Response *r;
    enum MHD_Result rc;

    if (body == NULL) {
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        body = strdup("{\"error\":\"out of memory\"}");
        if (body == NULL)
            return MHD_NO;
        type = "application/json";
    }
    r = MHD_create_response_from_buffer(strlen(body), body,
                                        MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status,
                                   const char *message)
{
    size_t n = strlen(message) + 32;
    char *body = malloc(n);

    if (body != NULL)
        snprintf(body, n, "{\"error\":\"%s\"}", message);
    return reply(c, status, "application/json", body);
}

/* 0 when the request may go on; else the refusal was queued in *rc. */
static int refused(const struct admin_server *s, struct MHD_Connection *c,
                   const char *method, const char *url, enum MHD_Result *rc)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    const char *auth, *given = NULL;
    char peer[INET6_ADDRSTRLEN + 8];

    peer_text(sa, peer, sizeof(peer));
    if (s->unix_path == NULL &&
        !admin_peer_allowed(sa, sizeof(struct sockaddr_storage))) {
        log_warn(TAG, "refused %s %s from %s: not a loopback peer", method, url,
                 peer);
        *rc = reply_error(c, MHD_HTTP_FORBIDDEN,
                          "the admin API only answers loopback peers");
        return 1;
    }
    if (s->token == NULL)
        return 0;
    auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                       MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth != NULL && strncmp(auth, "Bearer ", 7) == 0)
        given = auth + 7;
    if (admin_token_equal(s->token, given))
        return 0;
    log_warn(TAG, "refused %s %s from %s: %s admin token", method, url, peer,
             given ? "wrong" : "missing");
    *rc = reply_error(c, MHD_HTTP_UNAUTHORIZED,
                      given ? "admin token rejected"
                            : "admin token required (Authorization: Bearer)");
    return 1;
}

/* ------------------------------------------------------------------ */
/* Routes                                                              */
/* ------------------------------------------------------------------ */

static enum MHD_Result route(struct admin_server *s, struct MHD_Connection *c,
                             const char *method, const char *url)
{
    int post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0;
    char *body = NULL;
    int status;

    if (strcmp(url, "/reload") == 0 || strcmp(url, "/rollback") == 0) {
        if (!post)
            return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST");
        status = url[2] == 'e' ? s->h.reload(s->h.ctx, &body)
                               : s->h.rollback(s->h.ctx, &body);
        return reply(c, (unsigned)status, "application/json",
                     body ? body : strdup("{}"));
    }
    if (!get && (strcmp(url, "/status") == 0 || strcmp(url, "/metrics") == 0 ||
                 strcmp(url, "/health") == 0))
        return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
    if (strcmp(url, "/status") == 0)
        return reply(c, MHD_HTTP_OK, "application/json", s->h.status(s->h.ctx));
    if (strcmp(url, "/metrics") == 0)
        return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4",
                     s->h.metrics(s->h.ctx));
    if (strcmp(url, "/health") == 0)
        return reply(c, MHD_HTTP_OK, "text/plain", strdup("OK"));
    return reply_error(c, MHD_HTTP_NOT_FOUND, "no such admin route");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct admin_server *s = cls;
    enum MHD_Result rc;

    (void)version;
    (void)upload;
    if (*con_cls == NULL) {
        *con_cls = &request_seen;
        return MHD_YES;
    }
    if (*upload_size != 0) { /* the admin routes take no body */
        *upload_size = 0;
        return MHD_YES;
    }
    if (refused(s, c, method, url, &rc))
        return rc;
    return route(s, c, method, url);
}

/* ------------------------------------------------------------------ */
/* Listening                                                           */
/* ------------------------------------------------------------------ */

/* Parse "HOST:PORT" into addr, "localhost" read as 127.0.0.1.  0 or -1. */
static int parse_tcp(const char *listen, struct sockaddr_storage *addr,
                     socklen_t *len)
{
    char v4[256];

    if (strncmp(listen, "localhost:", 10) == 0) {
        if (snprintf(v4, sizeof(v4), "127.0.0.1:%s", listen + 10) >=
            (int)sizeof(v4))
            return -1;
        listen = v4;
    }
    return core_addr_parse(listen, addr, len);
}

/* A bound, listening socket for where.  Returns it or -1 with err. */
static int open_socket(struct admin_server *s, const char *where, char *err,
                       size_t err_len)
{
    struct sockaddr_storage addr;
    socklen_t len = 0;
    int fd, one = 1;

    if (strncmp(where, "unix:", 5) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)&addr;

        memset(&addr, 0, sizeof(addr));
        if (where[5] != '/' || strlen(where + 5) >= sizeof(un->sun_path)) {
            snprintf(err, err_len,
                     "admin.listen \"%s\": a Unix socket needs "
                     "an absolute path shorter than %zu bytes",
                     where, sizeof(un->sun_path));
            return -1;
        }
        un->sun_family = AF_UNIX;
        snprintf(un->sun_path, sizeof(un->sun_path), "%s", where + 5);
        len = sizeof(*un);
        s->unix_path = strdup(where + 5);
        unlink(where + 5);
    }
    else if (parse_tcp(where, &addr, &len) != 0 ||
             !admin_peer_allowed((struct sockaddr *)&addr, len)) {
        snprintf(err, err_len,
                 "admin.listen \"%s\" is not a loopback ADDRESS:PORT or "
                 "unix:/path",
                 where);
        return -1;
    }

    fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && addr.ss_family != AF_UNIX)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, len) != 0 ||
        (s->unix_path && chmod(s->unix_path, 0600) != 0) ||
        listen(fd, 16) != 0) {
        snprintf(err, err_len, "admin listener %s: %s", where, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    len = sizeof(addr);
    if (addr.ss_family != AF_UNIX &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        s->port = core_addr_port(&addr);
    return fd;
}

struct admin_server *admin_start(const char *listen, const char *token,
                                 const struct admin_handlers *h, char *err,
                                 size_t err_len)
{
    struct admin_server *s = calloc(1, sizeof(*s));
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                     MHD_USE_ERROR_LOG;
    int fd;

    if (s == NULL || (token != NULL && (s->token = strdup(token)) == NULL)) {
        snprintf(err, err_len, "admin listener: out of memory");
        free(s);
        return NULL;
    }
    s->h = *h;
    fd = open_socket(s, listen, err, err_len);
    if (fd < 0)
        goto fail;
    /* clang-format off */
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                                 MHD_OPTION_LISTEN_SOCKET, fd,
                                 MHD_OPTION_CONNECTION_LIMIT, 32u,
                                 MHD_OPTION_CONNECTION_TIMEOUT, 60u,
                                 MHD_OPTION_END);
    /* clang-format on */
    if (s->daemon == NULL) {
        snprintf(err, err_len,
                 "admin listener %s: libmicrohttpd failed to "
                 "start",
                 listen);
        close(fd);
        goto fail;
    }
    log_info(TAG, "admin API on %s%s", listen,
             s->token ? " (bearer token required)" : "");
    return s;

fail:
    if (s->unix_path != NULL)
        unlink(s->unix_path);
    admin_stop(s);
    return NULL;
}

uint16_t admin_port(const struct admin_server *s)
{
    return s->port;
}

void admin_stop(struct admin_server *s)
{
    if (s == NULL)
        return;
    if (s->daemon != NULL)
        MHD_stop_daemon(s->daemon);
    if (s->daemon != NULL && s->unix_path != NULL)
        unlink(s->unix_path);
    if (s->token != NULL) {
        volatile char *t = s->token;

        while (*t != '\0')
            *t++ = '\0';
        free(s->token);
    }
    free(s->unix_path);
    free(s);
}
