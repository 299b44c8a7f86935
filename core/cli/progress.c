/*
 * progress.c - following a run to its end, and its summary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run.h"
#include "store/store.h"

#define POLL_MS   500
#define BAR_WIDTH 40

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void draw(uint64_t done, uint64_t total, uint64_t failed, double elapsed,
                 int tty)
{
    uint64_t shown = done < total ? done : total;
    int fill = total ? (int)(shown * BAR_WIDTH / total) : BAR_WIDTH;
    char bar[BAR_WIDTH + 1];

    memset(bar, '#', (size_t)fill);
    memset(bar + fill, '.', (size_t)(BAR_WIDTH - fill));
    bar[BAR_WIDTH] = '\0';
    fprintf(stderr, "%s[%s] %llu/%llu done, %llu failed, %.0fs%s",
            tty ? "\r" : "", bar, (unsigned long long)done,
            (unsigned long long)total, (unsigned long long)failed, elapsed,
            tty ? "" : "\n");
}

int run_wait(struct core_store *store, const struct run_plan *rp,
             struct run_report *rep)
{
    int tty = isatty(2);
    double t0 = mono_s(), last_line = 0;
    struct timespec nap = {0, POLL_MS * 1000000L};

    for (;;) {
        struct core_store_run_counts c;
        struct core_store_error err;
        double elapsed = mono_s() - t0;
        uint64_t done;

        if (core_store_run_counts(store, rp->run_id, &c, &err) != 0) {
            fprintf(stderr, "\nclassify run: %s\n", err.message);
            return CLI_UNREACHABLE;
        }
        /* Only what this invocation started counts towards its end. */
        rep->completed = c.completed > rep->base_completed
                             ? c.completed - rep->base_completed
                             : 0;
        rep->failed =
            c.failed > rep->base_failed ? c.failed - rep->base_failed : 0;
        done = rep->completed + rep->failed;
        if (tty || elapsed - last_line >= 10 || done >= rep->accepted) {
            draw(done, rep->accepted, rep->failed, elapsed, tty);
            last_line = elapsed;
        }
        if (done >= rep->accepted)
            break;
        if (rp->timeout_s > 0 && elapsed >= rp->timeout_s) {
            rep->timed_out = 1;
            fprintf(stderr, "\ngave up waiting after %.0fs\n", elapsed);
            return CLI_TIMEOUT;
        }
        nanosleep(&nap, NULL);
    }
    if (tty)
        fputc('\n', stderr);
    return CLI_OK;
}

/* Print one "dimension: value count" group of the breakdown. */
struct breakdown_print {
    const char *current;
};

static int print_row(void *ctx, const char *dimension, const char *value,
                     uint64_t count)
{
    struct breakdown_print *p = ctx;

    if (p->current == NULL || strcmp(p->current, dimension) != 0) {
        printf("  by %s:\n", dimension);
        p->current = dimension;
    }
    printf("    %-44s %8llu\n", value, (unsigned long long)count);
    return 0;
}

void run_summary(struct core_store *store, const struct run_plan *rp,
                 struct run_report *rep, double seconds)
{
    struct breakdown_print bp = {NULL};
    struct core_store_error err;
    size_t i;

    printf("\nsummary of run %s\n", rp->run_id);
    printf("  batches: %zu (%zu rerouted to another node)\n", rep->batches,
           rep->rerouted);
    for (i = 0; rep->per_node && i < rp->n_urls; i++)
        printf("    %-40s %zu batch(es)\n", rp->urls[i], rep->per_node[i]);
    printf("  submitted: %zu, started: %zu, already submitted: %zu, "
           "refused: %zu\n",
           rep->submitted, rep->accepted, rep->already_submitted,
           rep->rejected);
    printf("  completed: %llu, failed: %llu%s\n",
           (unsigned long long)rep->completed, (unsigned long long)rep->failed,
           rep->timed_out ? " (timed out waiting)" : "");
    if (core_store_run_breakdown(store, rp->run_id, print_row, &bp, &err) != 0)
        printf("  (breakdown unavailable: %s)\n", err.message);
    printf("  duration: %.1fs, %.1f indicators/min\n", seconds,
           seconds > 0 ? (double)(rep->completed + rep->failed) * 60.0 / seconds
                       : 0.0);
    free(rep->per_node);
    free(rep->down_until);
    free(rep->order);
    rep->per_node = NULL;
    rep->down_until = NULL;
    rep->order = NULL;
}
