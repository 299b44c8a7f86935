/*
 * main.c - `classify`, the command-line tool: seed, run, status, export,
 * eval and register.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/log.h"
#include "store/store.h"

#define DEFAULT_CONFIG "config/classify.conf"

static const char usage_text[] =
    "usage: classify [--config FILE] [--database CONNINFO] [--verbose]\n"
    "                COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  seed FILE [--format jsonl|csv]   import indicators into the database\n"
    "  run [--force] [--run-id ID] ...  classify indicators through Restate\n"
    "  status [--run-id ID | --indicator ID]\n"
    "                                   progress of a run or one indicator\n"
    "  export [--format jsonl|csv] [--output FILE] [--to s3://B/P] ...\n"
    "                                   write classifications\n"
    "  eval --indicators F --labels F [--json]\n"
    "                                   offline accuracy on labelled data\n"
    "  register                         register classifyd with Restate\n"
    "  reload | rollback | generations  hot reload of stage plugins\n"
    "\n"
    "Each command takes --help.  The configuration defaults to\n"
    "$CLASSIFY_CONFIG, else " DEFAULT_CONFIG ".\n"
    "\n"
    "Exit codes: 0 done; 1 usage or configuration error; 2 done, but some\n"
    "items failed or were rejected; 3 database, Restate or S3 unreachable;\n"
    "4 timed out with work still in flight.\n";

struct command {
    const char *name;
    int (*fn)(struct cli_global *g, int argc, char **argv);
};

static const struct command commands[] = {
    {"seed", cli_seed},
    {"run", cli_run},
    {"status", cli_status},
    {"export", cli_export},
    {"eval", cli_eval},
    {"register", cli_register},
    {"reload", cli_reload},
    {"rollback", cli_rollback},
    {"generations", cli_generations},
};

int cli_load_config(struct cli_global *g)
{
    cls_error first = {CLS_OK, ""};

    if (g->config != NULL)
        return 0;
    if (config_load(g->config_path, &g->config, NULL, NULL, &first) != 0) {
        fprintf(stderr, "classify: %s\n", first.message);
        return -1;
    }
    if (g->database != NULL) {
        free(g->config->database);
        g->config->database = strdup(g->database);
        if (g->config->database == NULL)
            return -1;
    }
    /* The CLI reports through its own output; log lines only with -v. */
    core_log_setup(g->verbose ? (enum core_log_level)g->config->log_level
                              : CORE_LOG_WARN,
                   2);
    return 0;
}

int cli_open_store(struct cli_global *g, struct core_store **out)
{
    struct core_store_options opts = {0};
    struct core_store_error err;

    if (cli_load_config(g) != 0)
        return -1;
    opts.conninfo = g->config->database;
    opts.pool_size = 2;
    if (core_store_open(&opts, out, &err) != 0) {
        fprintf(stderr, "classify: database: %s\n", err.message);
        return -1;
    }
    if (core_store_migrate(*out, &err) != 0) {
        fprintf(stderr, "classify: database migration: %s\n", err.message);
        core_store_close(*out);
        return -1;
    }
    return 0;
}

void cli_global_fini(struct cli_global *g)
{
    config_free(g->config);
    g->config = NULL;
}

static int parse_global(int argc, char **argv, struct cli_global *g)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"database", required_argument, NULL, 'd'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    /* '+': stop at the command name; its options are its own. */
    while ((c = getopt_long(argc, argv, "+c:d:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            g->config_path = optarg;
            break;
        case 'd':
            g->database = optarg;
            break;
        case 'v':
            g->verbose = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            exit(CLI_OK);
        default:
            fputs(usage_text, stderr);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct cli_global g = {0};
    const char *name;
    size_t i;
    int rc = CLI_USAGE;

    setvbuf(stdout, NULL, _IOLBF, 0); /* lines appear as they happen */
    g.config_path = getenv("CLASSIFY_CONFIG");
    if (g.config_path == NULL)
        g.config_path = DEFAULT_CONFIG;
    if (parse_global(argc, argv, &g) != 0)
        return CLI_USAGE;
    if (optind >= argc) {
        fputs(usage_text, stderr);
        return CLI_USAGE;
    }
    name = argv[optind];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(name, commands[i].name) == 0) {
            int first = optind;

            optind = 0; /* glibc: restart getopt for the command's argv */
            rc = commands[i].fn(&g, argc - first, argv + first);
            break;
        }
    }
    if (i == sizeof(commands) / sizeof(commands[0]))
        fprintf(stderr, "classify: unknown command \"%s\" (see --help)\n",
                name);
    cli_global_fini(&g);
    curl_global_cleanup();
    return rc;
}
