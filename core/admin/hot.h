/*
 * hot.h - the Restate services of classifyd, replaceable while serving.
 *
 * A reload that changes the set of stage services (a stage added or
 * removed, a service or handler renamed) needs the endpoint to serve a new
 * registry.  The endpoint is given one fixed struct core_http_app (see
 * hot_services_app()) whose callbacks take a counted reference to the
 * registry version current when an attempt opens and keep it until the
 * attempt closes; hot_services_replace() builds a new version for a
 * pipeline and makes it current, and the old one is freed when its last
 * attempt closes.  Restate learns about the change through
 * hot_register_deployment().
 */
#ifndef CORE_ADMIN_HOT_H
#define CORE_ADMIN_HOT_H

#include <stddef.h>

#include "http/endpoint.h"
#include "restate/restate.h"
#include "stage/pipeline.h"
#include "workflow/workflow.h"

struct hot_services;

/*
 * Services for pipeline p, with handlers sharing proto's config,
 * pipeline holder, store and LLM providers (proto is copied; its bindings
 * are not used).  sc is copied into every session.  Returns NULL with err
 * on failure (duplicate name, out of memory).  Control thread.
 */
struct hot_services *hot_services_new(const struct workflow_host *proto,
                                      const rs_session_config *sc,
                                      const struct pipeline *p, char *err,
                                      size_t err_len);

/* The app to hand to core_http_start(); valid until hot_services_free(). */
const struct core_http_app *hot_services_app(struct hot_services *hs);

/*
 * Non-zero when a and b do not serve the same (service, handler) pairs.
 * Pure; any thread.
 */
int hot_services_changed(const struct pipeline *a, const struct pipeline *b);

/*
 * Build the registry of pipeline p and make it current: attempts opened
 * from now on use it; running ones finish on theirs.  Returns 0, or -1
 * with err (the current registry stays).  Any thread; one at a time.
 */
int hot_services_replace(struct hot_services *hs, const struct pipeline *p,
                         char *err, size_t err_len);

/* Attempts served by every version, by outcome (see restate_app.h). */
void hot_services_counts(struct hot_services *hs,
                         unsigned long out[RS_OUTCOME_IO + 1]);

/* Free everything; only after the endpoint using the app has stopped. */
void hot_services_free(struct hot_services *hs);

/*
 * POST {admin_url}/deployments {"uri": uri, "use_http_11": true,
 * "force": true} to the Restate admin API so it discovers the services
 * again.  Returns 0, or -1 with the transport error or the answer in err.
 * Blocks up to 30 s.  Any thread (libcurl must be initialised).
 */
int hot_register_deployment(const char *admin_url, const char *uri, char *err,
                            size_t err_len);

#endif /* CORE_ADMIN_HOT_H */
