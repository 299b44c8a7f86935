/*
 * control.h - what classifyd does on SIGHUP, `classify reload` and
 * `classify rollback`: read and validate the whole configuration, refuse
 * changes that need a restart, reload the changed plugins, serve a new
 * registry and register the deployment with Restate when the set of
 * services changed; and the admin routes bound to it.
 */
#ifndef CORE_ADMIN_CONTROL_H
#define CORE_ADMIN_CONTROL_H

#include "admin/admin.h"
#include "admin/hot.h"
#include "config/config.h"
#include "stage/reload.h"

/* Filled by the daemon; every pointer is borrowed and outlives it. */
struct reload_control {
    const char *config_path;
    const char *listen_override;           /* --listen, or NULL */
    const char *database_override;         /* --database, or NULL */
    const struct classify_config *running; /* the config started with */
    struct stage_reloader *reloader;
    struct hot_services *services; /* NULL until the endpoint serves */
};

/*
 * Reload: returns an HTTP status (200 done, 409 another reload is
 * running, 422 refused, 500 out of memory) and a JSON body in *body
 * (malloc'd, caller frees; may be NULL on ENOMEM).  The body of a success
 * names the new generation, what was loaded and reused and whether the
 * deployment was registered again; a refusal's body holds the error.
 * Any thread; reloads are serialised by the reloader.
 */
int reload_control_reload(struct reload_control *c, char **body);

/* Rollback to the previous generation; same contract. */
int reload_control_rollback(struct reload_control *c, char **body);

/* Admin routes bound to c (ctx = c). */
void reload_control_handlers(struct reload_control *c,
                             struct admin_handlers *h);

#endif /* CORE_ADMIN_CONTROL_H */
