/*
 * run.c - `classify run`: submit indicators to the batch API of one or
 * more Restate nodes and follow the run to its end.
 *
 * Batch i goes to ingress URL i mod n.  A node that refuses the
 * connection, times out or answers 5xx is skipped and the batch moves to
 * the next node; every batch carries an idempotency key, so a batch that
 * did reach a node before its answer was lost is never started twice.
 * Submission is paced to the configured rate (indicators per second).
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run.h"
#include "store/store.h"

static const char run_usage[] =
    "usage: classify run [--force] [--run-id ID] [--limit N]\n"
    "                    [--batch-size N] [--rate PER_SECOND]\n"
    "                    [--timeout SECONDS] [--no-wait]\n"
    "\n"
    "Selects the indicators that have no classification yet (all of them\n"
    "with --force), submits them in batches to the ingress URLs of the\n"
    "configuration, round-robin, and waits for every workflow to finish,\n"
    "showing progress.  A new run id is made unless --run-id is given; a\n"
    "run id already submitted is not run again.  Prints a summary: counts\n"
    "by family and type, failures by stage, duration and indicators/min.\n";

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_run_id(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;
    char stamp[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    snprintf(buf, size, "run-%s-%04lx", stamp,
             (unsigned long)((ts.tv_nsec / 1000) ^ getpid()) & 0xffff);
}

static int parse_args(struct run_plan *rp, int argc, char **argv)
{
    static const struct option opts[] = {
        {"force", no_argument, NULL, 'f'},
        {"run-id", required_argument, NULL, 'r'},
        {"limit", required_argument, NULL, 'l'},
        {"batch-size", required_argument, NULL, 'b'},
        {"rate", required_argument, NULL, 'R'},
        {"timeout", required_argument, NULL, 't'},
        {"no-wait", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = getopt_long(argc, argv, "fr:l:b:R:t:nh", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            rp->force = 1;
            break;
        case 'r':
            snprintf(rp->run_id, sizeof(rp->run_id), "%s", optarg);
            break;
        case 'l':
            rp->limit = strtoul(optarg, NULL, 10);
            break;
        case 'b':
            rp->batch_size = strtoul(optarg, NULL, 10);
            break;
        case 'R':
            rp->rate = strtod(optarg, NULL);
            break;
        case 't':
            rp->timeout_s = strtod(optarg, NULL);
            break;
        case 'n':
            rp->no_wait = 1;
            break;
        case 'h':
            fputs(run_usage, stdout);
            return 1;
        default:
            fputs(run_usage, stderr);
            return -1;
        }
    }
    if (optind != argc) {
        fputs(run_usage, stderr);
        return -1;
    }
    return 0;
}

static int apply_config(struct run_plan *rp, const struct classify_config *cfg)
{
    if (rp->run_id[0] == '\0')
        make_run_id(rp->run_id, sizeof(rp->run_id));
    if (!run_id_ok(rp->run_id)) {
        fprintf(stderr, "classify run: --run-id: expected 1-64 of "
                        "[A-Za-z0-9._-]\n");
        return -1;
    }
    if (rp->batch_size == 0 || rp->batch_size > (size_t)cfg->batch_max_items)
        rp->batch_size = (size_t)cfg->batch_max_items;
    if (rp->rate <= 0)
        rp->rate = cfg->batch_rate_per_second;
    if (cfg->n_restate_ingress_urls == 0) {
        fprintf(stderr, "classify run: restate.ingress_urls is empty\n");
        return -1;
    }
    rp->urls = (const char *const *)cfg->restate_ingress_urls;
    rp->n_urls = cfg->n_restate_ingress_urls;
    return 0;
}

/* What the run id had finished before this invocation (a resumed run). */
static int run_baseline(struct core_store *store, const struct run_plan *rp,
                        struct run_report *rep)
{
    struct core_store_run_counts c;
    struct core_store_error err;

    if (core_store_run_counts(store, rp->run_id, &c, &err) != 0) {
        fprintf(stderr, "classify run: %s\n", err.message);
        return CLI_UNREACHABLE;
    }
    rep->base_completed = c.completed;
    rep->base_failed = c.failed;
    return CLI_OK;
}

int cli_run(struct cli_global *g, int argc, char **argv)
{
    struct run_plan rp;
    struct run_report rep;
    struct core_store_ids ids = {NULL, 0};
    struct core_store_error err;
    struct core_store *store = NULL;
    int rc;

    memset(&rp, 0, sizeof(rp));
    memset(&rep, 0, sizeof(rep));
    rc = parse_args(&rp, argc, argv);
    if (rc != 0)
        return rc > 0 ? CLI_OK : CLI_USAGE;
    if (cli_open_store(g, &store) != 0)
        return CLI_UNREACHABLE;
    if (apply_config(&rp, g->config) != 0) {
        rc = CLI_USAGE;
        goto out;
    }
    if (core_store_select_ids(store, rp.force, rp.limit, &ids, &err) != 0) {
        fprintf(stderr, "classify run: %s\n", err.message);
        rc = CLI_UNREACHABLE;
        goto out;
    }
    rp.started = now_s();
    printf("run %s: %zu indicator(s) to classify over %zu node(s)\n", rp.run_id,
           ids.count, rp.n_urls);
    if (ids.count == 0) {
        printf("nothing to do: every indicator is classified "
               "(use --force to run them again)\n");
        rc = CLI_OK;
        goto out;
    }
    rc = run_baseline(store, &rp, &rep);
    if (rc == CLI_OK)
        rc = run_submit(store, &rp, &ids, &rep);
    if (rc == CLI_OK && !rp.no_wait)
        rc = run_wait(store, &rp, &rep);
    run_summary(store, &rp, &rep, now_s() - rp.started);
    if (rc == CLI_OK && (rep.failed > 0 || rep.rejected > 0))
        rc = CLI_PARTIAL;

out:
    core_store_ids_free(&ids);
    core_store_close(store);
    return rc;
}
