/*
 * admin.h - the admin listener of classifyd: plugin reload, rollback,
 * generation status and metrics, over HTTP/1.1 on loopback or a Unix
 * socket only.
 *
 *   POST /reload    reload the configuration and the changed plugins
 *   POST /rollback  return to the previous generation
 *   GET  /status    generations loaded and their in-flight counts (JSON)
 *   GET  /metrics   Prometheus text format
 *   GET  /health    200 "OK"
 *
 * Every request is refused (403) unless the peer is a loopback address or
 * a Unix socket peer, and, when a token is configured, unless it carries
 * "Authorization: Bearer <token>" (401 otherwise; compared in constant
 * time; the token is never logged).  The listener does not know what a
 * reload is: the owner supplies struct admin_handlers.
 */
#ifndef CORE_ADMIN_ADMIN_H
#define CORE_ADMIN_ADMIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * What the routes do.  Every callback may run on any connection thread,
 * several at once; a reload callback may block while it loads plugins.
 */
struct admin_handlers {
    void *ctx;

    /*
     * POST /reload and /rollback.  Return the HTTP status (200 done, 409
     * another reload is running, 422 refused, 500) and a JSON body in
     * *body (malloc'd; the listener frees it; NULL for none).
     */
    int (*reload)(void *ctx, char **body);
    int (*rollback)(void *ctx, char **body);

    /* GET /status (JSON) and /metrics (text): malloc'd, NULL on ENOMEM. */
    char *(*status)(void *ctx);
    char *(*metrics)(void *ctx);
};

struct admin_server;

/*
 * Serve h on listen: "HOST:PORT" with a loopback host (127.x.x.x, [::1] or
 * localhost; PORT 0 picks a free port) or "unix:/absolute/path" (created
 * with mode 0600, replacing a stale socket file).  token is the bearer
 * token requests must present, or NULL for none; it is copied.  h is
 * copied; h->ctx must outlive the server.  Returns the server, or NULL
 * with a message in err (bad address, bind failure, MHD failure).
 * Control thread.
 */
struct admin_server *admin_start(const char *listen, const char *token,
                                 const struct admin_handlers *h, char *err,
                                 size_t err_len);

/* The TCP port bound (0 for a Unix socket). */
uint16_t admin_port(const struct admin_server *s);

/*
 * Stop accepting, wait for running requests, remove a Unix socket file,
 * wipe the token and free s.  NULL is ignored.  Control thread, never from
 * a handler.
 */
void admin_stop(struct admin_server *s);

/*
 * Non-zero when a peer at sa (len bytes) may use the admin API: a Unix
 * socket peer, 127.0.0.0/8, ::1 or an IPv4-mapped 127.0.0.0/8 address.
 * NULL or an unknown family is refused.  Pure; any thread.
 */
int admin_peer_allowed(const struct sockaddr *sa, socklen_t len);

/*
 * Non-zero when given equals want.  The time taken depends only on the
 * length of want, never on where the strings differ.  given may be NULL
 * (refused).  Pure; any thread.
 */
int admin_token_equal(const char *want, const char *given);

#endif /* CORE_ADMIN_ADMIN_H */
