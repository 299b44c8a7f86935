/*
 * cli/run.h - the pieces of `classify run`: submission, waiting and the
 * summary.  Single-threaded.
 */
#ifndef CORE_CLI_RUN_H
#define CORE_CLI_RUN_H

#include <stddef.h>
#include <stdint.h>

struct core_store;
struct core_store_ids;

/* What to do, from the command line and the configuration. */
struct run_plan {
    char run_id[65];
    int force;
    int no_wait;
    size_t limit;      /* 0: no limit */
    size_t batch_size; /* indicators per batch */
    double rate;       /* indicators per second; <= 0: unpaced */
    double timeout_s;  /* waiting; <= 0: no limit */
    const char *const *urls;
    size_t n_urls;
    double started; /* monotonic seconds */
};

/* What happened. */
struct run_report {
    size_t batches;
    size_t submitted;         /* indicators sent in accepted batches */
    size_t accepted;          /* workflows started */
    size_t already_submitted; /* same run id seen before */
    size_t rejected;          /* indicators in batches refused (4xx) */
    size_t rerouted;          /* batches moved to another node */
    size_t *per_node;         /* batches accepted by each node */
    double *down_until;       /* per node: failed, tried last until then */
    size_t *order;            /* scratch: the nodes in the order to try */
    uint64_t base_completed, base_failed; /* of the run id, before */
    uint64_t completed, failed;           /* finished since */
    int timed_out;
};

/* Non-zero when id is a valid run id. */
int run_id_ok(const char *id);

/*
 * Submit every id in batches.  Returns CLI_OK, or CLI_UNREACHABLE when
 * some batch found no node that would take it (the report says how many
 * went through).
 */
int run_submit(struct core_store *store, const struct run_plan *rp,
               const struct core_store_ids *ids, struct run_report *rep);

/* Follow the run until every accepted workflow finished, with progress
 * on stderr.  Returns CLI_OK, CLI_TIMEOUT or CLI_UNREACHABLE. */
int run_wait(struct core_store *store, const struct run_plan *rp,
             struct run_report *rep);

/* Print the summary of the run on stdout and free the report. */
void run_summary(struct core_store *store, const struct run_plan *rp,
                 struct run_report *rep, double seconds);

#endif /* CORE_CLI_RUN_H */
