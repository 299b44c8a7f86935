/*
 * control.c - reload and rollback as classifyd runs them (see control.h).
 */
#include "admin/control.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define TAG "reload"

/* Problems of a configuration file, joined for one message. */
struct problems {
    char text[CLS_ERROR_MAX];
    size_t n;
};

static void collect(void *arg, const char *message)
{
    struct problems *p = arg;
    size_t used = strlen(p->text);

    if (used + 3 < sizeof(p->text))
        snprintf(p->text + used, sizeof(p->text) - used, "%s%s",
                 p->n ? "; " : "", message);
    p->n++;
}

/* What the hook learns while the reloader runs it. */
struct hook_state {
    struct reload_control *c;
    int services_changed;
};

/* Serve the new generation's registry when its services changed. */
static int hook(void *arg, const struct pipeline *active,
                const struct pipeline *next, cls_error *err)
{
    struct hook_state *st = arg;
    char why[256];

    if (st->c->services == NULL || !hot_services_changed(active, next))
        return 0;
    if (hot_services_replace(st->c->services, next, why, sizeof(why)) != 0) {
        cls_error_set(err, CLS_EINVAL, "services of the new generation: %s",
                      why);
        return -1;
    }
    st->services_changed = 1;
    return 0;
}

static char *error_body(const char *message)
{
    cJSON *o = cJSON_CreateObject();
    char *text;

    cJSON_AddStringToObject(o, "error", message);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static int refuse(struct reload_control *c, int status, const char *message,
                  char **body)
{
    reload_note_refusal(c->reloader, message);
    *body = error_body(message);
    return status;
}

/* Register again after a change of services; fills the body fields. */
static void register_again(struct reload_control *c, cJSON *o)
{
    char err[640];

    if (hot_register_deployment(c->running->restate_admin_url,
                                c->running->restate_deployment_url, err,
                                sizeof(err)) != 0) {
        log_error(TAG,
                  "services changed but registering %s with %s failed: "
                  "%s; run `classify register`",
                  c->running->restate_deployment_url,
                  c->running->restate_admin_url, err);
        cJSON_AddBoolToObject(o, "registered", 0);
        cJSON_AddStringToObject(o, "registration_error", err);
        return;
    }
    log_info(TAG, "services changed: registered deployment %s with %s",
             c->running->restate_deployment_url, c->running->restate_admin_url);
    cJSON_AddBoolToObject(o, "registered", 1);
}

static int done(struct reload_control *c, const struct reload_outcome *out,
                int services_changed, char **body)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddNumberToObject(o, "generation", out->generation);
    cJSON_AddNumberToObject(o, "replaced", out->replaced);
    cJSON_AddNumberToObject(o, "loaded", (double)out->n_loaded);
    cJSON_AddNumberToObject(o, "reused", (double)out->n_reused);
    cJSON_AddStringToObject(o, "summary", out->summary);
    cJSON_AddBoolToObject(o, "services_changed", services_changed);
    if (services_changed)
        register_again(c, o);
    *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return 200;
}

static int status_of(const cls_error *err)
{
    if (err->code == CLS_RETRY)
        return 409;
    return err->code == CLS_ENOMEM ? 500 : 422;
}

/* Apply the command-line overrides the daemon was started with. */
static int overrides(const struct reload_control *c,
                     struct classify_config *cfg)
{
    char *v;

    if (c->listen_override != NULL) {
        if ((v = strdup(c->listen_override)) == NULL)
            return -1;
        free(cfg->listen);
        cfg->listen = v;
    }
    if (c->database_override != NULL) {
        if ((v = strdup(c->database_override)) == NULL)
            return -1;
        free(cfg->database);
        cfg->database = v;
    }
    return 0;
}

int reload_control_reload(struct reload_control *c, char **body)
{
    struct hook_state st = {c, 0};
    struct problems probs = {"", 0};
    struct classify_config *cfg = NULL;
    struct stage_spec *specs = NULL;
    struct reload_outcome out;
    cls_error err = {CLS_OK, ""};
    const char *setting;
    char msg[CLS_ERROR_MAX + 64];
    int status;

    *body = NULL;
    log_info(TAG, "reloading %s", c->config_path);
    if (config_load(c->config_path, &cfg, collect, &probs, NULL) != 0) {
        snprintf(msg, sizeof(msg), "configuration refused (%zu problem%s): %s",
                 probs.n, probs.n == 1 ? "" : "s", probs.text);
        return refuse(c, 422, msg, body);
    }
    if (overrides(c, cfg) != 0) {
        config_free(cfg);
        return refuse(c, 500, "reload: out of memory", body);
    }
    setting = config_restart_setting(c->running, cfg);
    if (setting != NULL) {
        snprintf(msg, sizeof(msg),
                 "%s: setting \"%s\" changed; it only takes effect when "
                 "classifyd restarts (revert it to reload the pipeline)",
                 c->config_path, setting);
        config_free(cfg);
        return refuse(c, 422, msg, body);
    }

    specs = config_stage_specs(cfg);
    if (specs == NULL) {
        config_free(cfg);
        return refuse(c, 500, "reload: out of memory", body);
    }
    reload_set_drain_timeout(c->reloader,
                             (unsigned)cfg->reload_drain_timeout_ms);
    if (reload_apply(c->reloader, specs, cfg->n_stages, hook, &st, &out,
                     &err) != 0) {
        status = status_of(&err);
        *body = error_body(err.message);
    }
    else {
        status = done(c, &out, st.services_changed, body);
    }
    free(specs);
    config_free(cfg);
    return status;
}

int reload_control_rollback(struct reload_control *c, char **body)
{
    struct hook_state st = {c, 0};
    struct reload_outcome out;
    cls_error err = {CLS_OK, ""};

    *body = NULL;
    log_info(TAG, "rolling back to the previous generation");
    if (reload_rollback(c->reloader, hook, &st, &out, &err) != 0) {
        *body = error_body(err.message);
        return status_of(&err);
    }
    return done(c, &out, st.services_changed, body);
}

static int route_reload(void *ctx, char **body)
{
    return reload_control_reload(ctx, body);
}

static int route_rollback(void *ctx, char **body)
{
    return reload_control_rollback(ctx, body);
}

static char *route_status(void *ctx)
{
    const struct reload_control *c = ctx;

    return reload_status_json(c->reloader);
}

static char *route_metrics(void *ctx)
{
    const struct reload_control *c = ctx;

    return reload_metrics_text(c->reloader);
}

void reload_control_handlers(struct reload_control *c, struct admin_handlers *h)
{
    h->ctx = c;
    h->reload = route_reload;
    h->rollback = route_rollback;
    h->status = route_status;
    h->metrics = route_metrics;
}
