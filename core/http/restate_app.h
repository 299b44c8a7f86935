/*
 * restate_app.h - binds the HTTP endpoint to the restate protocol library.
 *
 * core_http_restate_app() fills a struct core_http_app whose callbacks
 * serve the manifest of a registry (request-response mode) and run
 * invocation attempts as restate sessions.  Link core_http_restate.
 */
#ifndef CORE_HTTP_RESTATE_APP_H
#define CORE_HTTP_RESTATE_APP_H

#include <stdatomic.h>

#include "http/endpoint.h"
#include "restate/restate.h"

/*
 * What the app callbacks share.  Filled by core_http_restate_app(); must
 * stay alive and unchanged while an endpoint uses the app.
 */
struct core_http_restate {
    const rs_registry *registry; /* built, read-only; outlives the app */
    rs_session_config session;   /* copied into every session */

    /* Attempts served, by how they ended (index: rs_outcome). */
    atomic_ulong outcomes[RS_OUTCOME_IO + 1];
};

/*
 * Copy the attempt counters of binding into out (index: rs_outcome).
 * Thread-safe; the counts are read one by one, not as a snapshot.
 */
void core_http_restate_counts(struct core_http_restate *binding,
                              unsigned long out[RS_OUTCOME_IO + 1]);

/*
 * Set up binding for registry (borrowed: it must outlive every endpoint
 * using app) with session settings cfg (NULL: library defaults), and fill
 * app with callbacks whose ctx is binding.  Never fails.  Call before
 * core_http_start(); the app is then safe for any number of threads.
 */
void core_http_restate_app(struct core_http_restate *binding,
                           const rs_registry *registry,
                           const rs_session_config *cfg,
                           struct core_http_app *app);

#endif /* CORE_HTTP_RESTATE_APP_H */
