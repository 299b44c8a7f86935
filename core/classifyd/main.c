/*
 * main.c - classifyd: command line, configuration, the stage pipeline and
 * the signal loop.
 *
 * Start-up order: parse the command line, load and validate the config,
 * apply command-line overrides, set up logging, block the handled signals
 * (so every thread started later inherits the mask), load the pipeline,
 * start the services, then wait for a signal in the main thread.  Shutdown
 * runs the same steps backwards.  The service endpoint plugs in at
 * services_start() / services_stop().
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "config/config.h"
#include "stage/call.h"
#include "stage/pipeline.h"

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
    size_t i;

    check_keys(cfg);
    p = load_pipeline(cfg, 0, &problems);
    if (p == NULL)
        return EXIT_FAILURE;

    for (i = 0; i < p->n_stages; i++)
        printf("stage %zu: %s %s (%s) provider %s\n", i + 1, p->stages[i]->name,
               p->stages[i]->version, p->stages[i]->plugin_path,
               p->stages[i]->provider);
    printf("%s: OK, %zu stage(s)\n", cfg->file, p->n_stages);
    pipeline_release(p);
    return EXIT_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* The running daemon                                                  */
/* ------------------------------------------------------------------ */

/* Start the listeners.  Returns 0 or -1 (already logged). */
static int services_start(struct daemon *d)
{
    log_info("classifyd",
             "pipeline ready; service endpoint address %s, "
             "database pool %d",
             d->cfg->listen, d->cfg->database_pool_size);
    return 0;
}

/* Stop the listeners and wait for in-flight calls. */
static void services_stop(struct daemon *d)
{
    atomic_store(&d->cancel, 1);
    log_info("classifyd", "services stopped");
}

/* Wait for SIGTERM or SIGINT; SIGHUP is reserved and ignored. */
static void wait_for_shutdown(struct daemon *d)
{
    int sig = 0;

    for (;;) {
        if (sigwait(&d->signals, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            log_info("classifyd", "SIGHUP received: reserved, ignored");
            continue;
        }
        log_info("classifyd", "%s received, shutting down",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT");
        return;
    }
}

static int run(struct classify_config *cfg)
{
    struct stage_retry_policy retry = {
        .max_attempts = (unsigned)cfg->retry_max_attempts,
        .initial_delay_ms = (unsigned)cfg->retry_initial_delay_ms,
        .max_delay_ms = (unsigned)cfg->retry_max_delay_ms};
    struct daemon d = {.cfg = cfg};
    struct pipeline *p;
    int problems = 0;

    sigemptyset(&d.signals);
    sigaddset(&d.signals, SIGTERM);
    sigaddset(&d.signals, SIGINT);
    sigaddset(&d.signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &d.signals, NULL);

    atomic_init(&d.cancel, 0);
    stage_direct_env_init(&d.env, NULL, NULL, &retry, &d.cancel);
    pipeline_holder_init(&d.pipelines);

    p = load_pipeline(cfg, 1, &problems);
    if (p == NULL) {
        log_error("classifyd", "pipeline refused; not starting");
        pipeline_holder_fini(&d.pipelines);
        return EXIT_FAILURE;
    }
    pipeline_holder_swap(&d.pipelines, p);

    if (services_start(&d) == 0) {
        wait_for_shutdown(&d);
        services_stop(&d);
    }
    pipeline_holder_fini(&d.pipelines);
    log_info("classifyd", "stopped");
    return EXIT_SUCCESS;
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

    rc = cl.check_only ? check_config(cfg) : run(cfg);
    config_free(cfg);
    return rc;
}
