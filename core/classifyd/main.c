/*
 * main.c - classifyd: command line, configuration, the stage pipeline and
 * the signal loop.
 *
 * Start-up order: parse the command line, load and validate the config,
 * apply command-line overrides, set up logging, block the handled signals
 * (so every thread started later inherits the mask), load the pipeline,
 * start the services and the admin listener, then wait for a signal in
 * the main thread (SIGHUP reloads the pipeline).  Shutdown runs the same
 * steps backwards.  The service endpoint plugs in at services_start() /
 * services_stop().
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin.h"
#include "admin/control.h"
#include "admin/hot.h"
#include "common/log.h"
#include "config/config.h"
#include "http/endpoint.h"
#include "http/restate_app.h"
#include "restate/restate.h"
#include "stage/call.h"
#include "stage/pipeline.h"
#include "stage/reload.h"
#include "store/store.h"
#include "workflow/workflow.h"

#define EXIT_USAGE 2

struct cmdline {
    const char *config;
    int check_only;
    const char *listen;
    const char *database;
};

/* Everything the running daemon owns. */
struct daemon {
    struct classify_config *cfg;
    struct pipeline_holder pipelines;
    struct stage_direct_env env;
    atomic_int cancel;
    sigset_t signals;

    struct core_store *store;
    struct workflow_llm *llms;
    size_t n_llms;
    struct workflow_host host; /* shared by every registry version */
    struct hot_services *services;
    struct core_http_endpoint *endpoint;

    /* Hot reload: the reloader owns the generations in pipelines. */
    struct stage_reloader *reloader;
    struct reload_control control;
    struct admin_server *admin;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: classifyd --config FILE [--listen ADDR:PORT] "
               "[--database CONNINFO]\n"
               "       classifyd --check-config FILE\n"
               "       classifyd --help | --version\n"
               "\n"
               "  --config FILE          run with this configuration\n"
               "  --check-config FILE    validate FILE and load every stage "
               "plugin it names,\n"
               "                         print each problem, exit non-zero on "
               "any\n"
               "  --listen ADDR:PORT     override the \"listen\" setting\n"
               "  --database CONNINFO    override the \"database\" setting\n"
               "  --help                 show this text\n"
               "  --version              show the version and stage ABI\n");
}

/* Fill cl from argv.  Returns -1 to exit 0 (help/version), 1 on a usage
 * error, 0 to continue. */
static int parse_cmdline(int argc, char **argv, struct cmdline *cl)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", required_argument, NULL, 'C'},
        {"listen", required_argument, NULL, 'l'},
        {"database", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    memset(cl, 0, sizeof(*cl));
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'C':
            cl->check_only = 1;
            /* fall through */
        case 'c':
            cl->config = optarg;
            break;
        case 'l':
            cl->listen = optarg;
            break;
        case 'd':
            cl->database = optarg;
            break;
        case 'h':
            usage(stdout);
            return -1;
        case 'V':
            printf("classifyd %s (stage ABI %d.%d)\n", CLASSIFY_VERSION,
                   CLS_ABI_MAJOR, CLS_ABI_MINOR);
            return -1;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind < argc || cl->config == NULL) {
        fprintf(stderr, "classifyd: %s\n",
                optind < argc ? "unexpected argument" : "--config is required");
        usage(stderr);
        return 1;
    }
    return 0;
}

static void print_problem(void *arg, const char *message)
{
    (void)arg;
    fprintf(stderr, "%s\n", message);
}

/* Replace *slot with value (command-line override).  0 or -1 (ENOMEM). */
static int override(char **slot, const char *value)
{
    char *copy;

    if (value == NULL)
        return 0;
    copy = strdup(value);
    if (copy == NULL)
        return -1;
    free(*slot);
    *slot = copy;
    return 0;
}

static struct pipeline *load_pipeline(const struct classify_config *cfg,
                                      unsigned generation, int *problems)
{
    struct stage_spec *specs = config_stage_specs(cfg);
    cls_error err = {0};
    struct pipeline *p;

    if (specs == NULL) {
        fprintf(stderr, "classifyd: out of memory\n");
        (*problems)++;
        return NULL;
    }
    p = pipeline_load(specs, cfg->n_stages, generation, print_problem, NULL,
                      &err);
    free(specs);
    if (p == NULL)
        (*problems)++;
    return p;
}

/* Warn about providers in use whose key variable is not set. */
static void check_keys(const struct classify_config *cfg)
{
    const struct config_provider *p;
    size_t i;

    for (i = 0; i < cfg->n_stages; i++) {
        p = config_provider_find(cfg, cfg->stages[i].provider);
        if (p != NULL && getenv(p->api_key_env) == NULL)
            fprintf(stderr,
                    "%s:%d: warning: stage \"%s\" uses provider \"%s\", "
                    "whose key variable %s is not set\n",
                    cfg->file, cfg->stages[i].line, cfg->stages[i].name,
                    p->name, p->api_key_env);
    }
}

static int check_config(const struct classify_config *cfg)
{
    struct pipeline *p;
    int problems = 0;
    size_t i, n, leaked;

    check_keys(cfg);
    p = load_pipeline(cfg, 0, &problems);
    if (p == NULL)
        return EXIT_FAILURE;

    for (i = 0; i < p->n_stages; i++)
        printf("stage %zu: %s %s (%s) provider %s\n", i + 1, p->stages[i]->name,
               p->stages[i]->version, p->stages[i]->plugin_path,
               p->stages[i]->provider);
    n = p->n_stages;
    leaked = pipeline_release(p);
    if (leaked > 0) {
        /* destroy() must free everything: hot reload depends on it. */
        fprintf(stderr,
                "%s: stages leaked %zu byte(s) of instance memory in "
                "destroy() (see the log lines above)\n",
                cfg->file, leaked);
        return EXIT_FAILURE;
    }
    printf("%s: OK, %zu stage(s)\n", cfg->file, n);
    return EXIT_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* The running daemon                                                  */
/* ------------------------------------------------------------------ */

/* Open the database and apply the migrations.  0 or -1 (logged). */
static int store_start(struct daemon *d)
{
    struct core_store_options opts = {0};
    struct core_store_error err;

    opts.conninfo = d->cfg->database;
    opts.pool_size = (unsigned)d->cfg->database_pool_size;
    if (core_store_open(&opts, &d->store, &err) != 0 ||
        core_store_migrate(d->store, &err) != 0) {
        log_error("classifyd", "database: %s", err.message);
        return -1;
    }
    log_info("classifyd", "database schema version %u; %s",
             core_store_schema_version(d->store),
             core_store_has_timescale(d->store)
                 ? "TimescaleDB: processing_log is a hypertable"
                 : "TimescaleDB not available: plain PostgreSQL tables");
    return 0;
}

/* The Restate services of the active pipeline.  0 or -1 (logged). */
static int registry_build(struct daemon *d, const rs_session_config *sc)
{
    struct pipeline *p = pipeline_holder_acquire(&d->pipelines);
    char err[256] = "no pipeline is loaded";

    d->host.config = d->cfg;
    d->host.pipelines = &d->pipelines;
    d->host.store = d->store;
    d->host.llms = d->llms;
    d->host.n_llms = d->n_llms;
    if (p != NULL)
        d->services = hot_services_new(&d->host, sc, p, err, sizeof(err));
    pipeline_release(p);
    if (d->services == NULL) {
        log_error("classifyd", "services: %s", err);
        return -1;
    }
    d->control.services = d->services;
    return 0;
}

static void session_config(const struct classify_config *cfg,
                           rs_session_config *sc)
{
    rs_session_config_init(sc);
    sc->run_max_attempts = (uint32_t)cfg->retry_max_attempts;
    sc->run_initial_delay_ms = (uint64_t)cfg->retry_initial_delay_ms;
    sc->run_max_delay_ms = (uint64_t)cfg->retry_max_delay_ms;
}

/* Start the database, the LLM providers and the service endpoint.
 * Returns 0 or -1 (already logged). */
static int services_start(struct daemon *d)
{
    struct core_http_limits limits = {0};
    rs_session_config sc;
    cls_error err = {CLS_OK, ""};

    if (store_start(d) != 0)
        return -1;
    if (workflow_llms_create(d->cfg, &d->llms, &d->n_llms, &err) != 0) {
        log_error("classifyd", "%s", err.message);
        return -1;
    }
    session_config(d->cfg, &sc);
    if (registry_build(d, &sc) != 0)
        return -1;

    limits.max_body_bytes = (size_t)d->cfg->max_request_bytes;
    d->endpoint =
        core_http_start(d->cfg->listen, hot_services_app(d->services), &limits);
    if (d->endpoint == NULL) {
        log_error("classifyd", "cannot serve on %s", d->cfg->listen);
        return -1;
    }
    log_info("classifyd", "serving the Restate endpoint on %s", d->cfg->listen);
    return 0;
}

/* Stop the endpoint (waiting for in-flight calls) and release the rest. */
static void services_stop(struct daemon *d)
{
    unsigned long n[RS_OUTCOME_IO + 1];

    atomic_store(&d->cancel, 1);
    if (d->endpoint != NULL) {
        core_http_stop(d->endpoint);
        hot_services_counts(d->services, n);
        log_info("classifyd",
                 "served %lu invocation attempt(s): %lu completed, %lu "
                 "failed, %lu suspended, %lu retryable error(s)",
                 n[0] + n[1] + n[2] + n[3] + n[4], n[RS_OUTCOME_COMPLETED],
                 n[RS_OUTCOME_FAILED], n[RS_OUTCOME_SUSPENDED],
                 n[RS_OUTCOME_ERROR] + n[RS_OUTCOME_IO]);
    }
    d->endpoint = NULL;
    d->control.services = NULL;
    hot_services_free(d->services);
    d->services = NULL;
    workflow_llms_destroy(d->llms, d->n_llms);
    d->llms = NULL;
    core_store_close(d->store);
    d->store = NULL;
    log_info("classifyd", "services stopped");
}

/* SIGHUP: reload the configuration and the changed plugins. */
static void reload_on_signal(struct daemon *d)
{
    char *body = NULL;
    int status;

    log_info("classifyd", "SIGHUP received: reloading");
    status = reload_control_reload(&d->control, &body);
    if (status != 200)
        log_warn("classifyd", "SIGHUP reload not applied (%d): %s", status,
                 body ? body : "out of memory");
    free(body);
}

/* Wait for SIGTERM or SIGINT; SIGHUP reloads. */
static void wait_for_shutdown(struct daemon *d)
{
    int sig = 0;

    for (;;) {
        if (sigwait(&d->signals, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            reload_on_signal(d);
            continue;
        }
        log_info("classifyd", "%s received, shutting down",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT");
        return;
    }
}

/* The reloader and the first generation, loaded from private copies.
 * Returns 0 or -1 (logged). */
static int pipeline_start(struct daemon *d)
{
    struct reload_options opts = {
        .copy_dir = d->cfg->reload_copy_dir,
        .drain_timeout_ms = (unsigned)d->cfg->reload_drain_timeout_ms};
    struct stage_spec *specs = config_stage_specs(d->cfg);
    struct reload_outcome out;
    cls_error err = {CLS_OK, ""};
    int rc = -1;

    d->reloader = specs ? reload_new(&d->pipelines, &opts, &err) : NULL;
    if (specs == NULL)
        cls_error_set(&err, CLS_ENOMEM, "out of memory");
    if (d->reloader != NULL)
        rc = reload_apply(d->reloader, specs, d->cfg->n_stages, NULL, NULL,
                          &out, &err);
    free(specs);
    if (rc != 0)
        log_error("classifyd", "pipeline refused; not starting: %s",
                  err.message);
    return rc;
}

/* The admin listener, with the token named by admin.token_env.  Returns
 * 0 or -1 (logged). */
static int admin_begin(struct daemon *d)
{
    struct admin_handlers h;
    const char *token = NULL;
    char err[512];

    if (d->cfg->admin_token_env != NULL) {
        token = getenv(d->cfg->admin_token_env);
        if (token == NULL || token[0] == '\0') {
            log_error("classifyd",
                      "admin.token_env names %s, which is not set or "
                      "empty; not starting",
                      d->cfg->admin_token_env);
            return -1;
        }
    }
    reload_control_handlers(&d->control, &h);
    d->admin = admin_start(d->cfg->admin_listen, token, &h, err, sizeof(err));
    if (d->admin == NULL) {
        log_error("classifyd", "%s", err);
        return -1;
    }
    return 0;
}

static int run(struct classify_config *cfg, const struct cmdline *cl)
{
    struct stage_retry_policy retry = {
        .max_attempts = (unsigned)cfg->retry_max_attempts,
        .initial_delay_ms = (unsigned)cfg->retry_initial_delay_ms,
        .max_delay_ms = (unsigned)cfg->retry_max_delay_ms};
    struct daemon d = {.cfg = cfg};
    int rc;

    sigemptyset(&d.signals);
    sigaddset(&d.signals, SIGTERM);
    sigaddset(&d.signals, SIGINT);
    sigaddset(&d.signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &d.signals, NULL);

    atomic_init(&d.cancel, 0);
    stage_direct_env_init(&d.env, NULL, NULL, &retry, &d.cancel);
    pipeline_holder_init(&d.pipelines);

    if (pipeline_start(&d) != 0) {
        pipeline_holder_fini(&d.pipelines);
        reload_free(d.reloader);
        return EXIT_FAILURE;
    }
    d.control.config_path = cl->config;
    d.control.listen_override = cl->listen;
    d.control.database_override = cl->database;
    d.control.running = cfg;
    d.control.reloader = d.reloader;
    rc = services_start(&d);
    if (rc == 0)
        rc = admin_begin(&d);
    if (rc == 0)
        wait_for_shutdown(&d);
    admin_stop(d.admin);
    services_stop(&d);
    pipeline_holder_fini(&d.pipelines);
    reload_free(d.reloader);
    log_info("classifyd", "stopped");
    return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int main(int argc, char **argv)
{
    struct classify_config *cfg = NULL;
    cls_error first = {0};
    struct cmdline cl;
    int rc;

    rc = parse_cmdline(argc, argv, &cl);
    if (rc != 0)
        return rc < 0 ? EXIT_SUCCESS : EXIT_USAGE;

    if (cl.listen != NULL && !config_address_valid(cl.listen)) {
        fprintf(stderr,
                "classifyd: --listen must be ADDRESS:PORT, not "
                "\"%s\"\n",
                cl.listen);
        return EXIT_USAGE;
    }
    if (config_load(cl.config, &cfg, print_problem, NULL, &first) != 0)
        return EXIT_FAILURE;
    if (override(&cfg->listen, cl.listen) != 0 ||
        override(&cfg->database, cl.database) != 0) {
        fprintf(stderr, "classifyd: out of memory\n");
        config_free(cfg);
        return EXIT_FAILURE;
    }
    /* A check prints its findings itself; keep routine lines out. */
    core_log_setup(cl.check_only && cfg->log_level > CORE_LOG_WARN
                       ? CORE_LOG_WARN
                       : (enum core_log_level)cfg->log_level,
                   STDERR_FILENO);

    rc = cl.check_only ? check_config(cfg) : run(cfg, &cl);
    config_free(cfg);
    return rc;
}
