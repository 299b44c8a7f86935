/*
 * status.c - `classify status`: a run's counts or one indicator's state.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

static const char status_usage[] =
    "usage: classify status [--run-id ID | --indicator ID]\n"
    "\n"
    "Without an argument, shows the most recent run and the pipeline\n"
    "generations classifyd has loaded, with their calls in flight.\n";

static int show_indicator(struct core_store *store, const char *id)
{
    struct core_store_status st;
    struct core_store_error err;

    if (core_store_indicator_status(store, id, &st, &err) != 0) {
        fprintf(stderr, "classify status: %s\n", err.message);
        return err.rc == CORE_STORE_ENOTFOUND ? CLI_USAGE : CLI_UNREACHABLE;
    }
    printf("indicator %s: %s\n", id, st.status);
    if (st.run_id[0])
        printf("  run: %s, updated %s\n", st.run_id, st.updated_at);
    if (st.family[0])
        printf("  family: %s, type: %s, temporal aggregation: %s\n", st.family,
               st.indicator_type, st.temporal_aggregation);
    if (st.failed_at_stage[0])
        printf("  failed at %s: %s\n", st.failed_at_stage, st.error);
    return CLI_OK;
}

static int show_run(struct core_store *store, const char *run_id)
{
    struct core_store_run_counts c;
    struct core_store_error err;
    int i;

    if (core_store_run_counts(store, run_id, &c, &err) != 0) {
        fprintf(stderr, "classify status: %s\n", err.message);
        return CLI_UNREACHABLE;
    }
    if (c.running + c.completed + c.failed == 0) {
        fprintf(stderr, "classify status: no classification of run %s\n",
                run_id);
        return CLI_USAGE;
    }
    printf("run %s: %llu running, %llu completed, %llu failed\n", run_id,
           (unsigned long long)c.running, (unsigned long long)c.completed,
           (unsigned long long)c.failed);
    for (i = 0; i < CORE_STORE_STAGE_COUNT; i++)
        printf("  %-24s %llu row(s)\n", core_store_stage_name(i),
               (unsigned long long)c.stage_rows[i]);
    return CLI_OK;
}

int cli_status(struct cli_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"run-id", required_argument, NULL, 'r'},
        {"indicator", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *run_id = NULL, *indicator = NULL;
    struct core_store *store = NULL;
    struct core_store_error err;
    char latest[128];
    int c, rc;

    while ((c = getopt_long(argc, argv, "r:i:h", opts, NULL)) != -1) {
        if (c == 'r')
            run_id = optarg;
        else if (c == 'i')
            indicator = optarg;
        else {
            fputs(status_usage, c == 'h' ? stdout : stderr);
            return c == 'h' ? CLI_OK : CLI_USAGE;
        }
    }
    if (optind != argc || (run_id && indicator)) {
        fputs(status_usage, stderr);
        return CLI_USAGE;
    }
    if (cli_open_store(g, &store) != 0)
        return CLI_UNREACHABLE;
    if (indicator != NULL)
        rc = show_indicator(store, indicator);
    else if (run_id != NULL)
        rc = show_run(store, run_id);
    else if (core_store_latest_run(store, latest, sizeof(latest), &err) != 0) {
        fprintf(stderr, "classify status: %s\n", err.message);
        rc = err.rc == CORE_STORE_ENOTFOUND ? CLI_OK : CLI_UNREACHABLE;
    }
    else
        rc = show_run(store, latest);
    core_store_close(store);
    if (indicator == NULL && run_id == NULL) {
        printf("\n");
        if (cli_show_generations(g, NULL, 0) == CLI_UNREACHABLE)
            printf("(classifyd's admin API does not answer: no generations "
                   "shown)\n");
    }
    return rc;
}
