/*
 * submit.c - batches of indicators to the classify-api of the Restate
 * nodes, round-robin, paced, with fail-over.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run.h"
#include "store/store.h"
#include "workflow/workflow.h"

#define BATCH_TIMEOUT_MS 60000L
#define NODE_COOLDOWN_S  15.0 /* a failed node is tried last for this long */

/* The batch being built from the store's rows. */
struct batch_doc {
    cJSON *root;
    cJSON *items;
};

int run_id_ok(const char *id)
{
    return workflow_run_id_valid(id);
}

static int add_row(void *ctx, const char *id, const char *json, size_t len)
{
    struct batch_doc *b = ctx;
    cJSON *item = cJSON_ParseWithLength(json, len);

    (void)id;
    if (item == NULL)
        return -1;
    cJSON_AddItemToArray(b->items, item);
    return 0;
}

static char *build_batch(struct core_store *store, const char *run_id,
                         char *const *ids, size_t n, char *err, size_t err_len)
{
    struct batch_doc b = {cJSON_CreateObject(), NULL};
    struct core_store_error serr;
    char *text = NULL;

    if (b.root == NULL)
        goto out;
    cJSON_AddStringToObject(b.root, "run_id", run_id);
    b.items = cJSON_AddArrayToObject(b.root, "indicators");
    if (b.items == NULL)
        goto out;
    if (core_store_fetch_indicators(store, ids, n, add_row, &b, &serr) != 0) {
        snprintf(err, err_len, "%s", serr.message);
        goto out;
    }
    text = cJSON_PrintUnformatted(b.root);

out:
    if (text == NULL && err[0] == '\0')
        snprintf(err, err_len, "out of memory");
    cJSON_Delete(b.root);
    return text;
}

static void count_answer(const char *resp, struct run_report *rep)
{
    cJSON *doc = cJSON_Parse(resp ? resp : "");
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(doc, "accepted");
    const cJSON *dup =
        cJSON_GetObjectItemCaseSensitive(doc, "already_submitted");

    if (cJSON_IsNumber(acc))
        rep->accepted += (size_t)acc->valuedouble;
    if (cJSON_IsArray(dup))
        rep->already_submitted += (size_t)cJSON_GetArraySize(dup);
    cJSON_Delete(doc);
}

static double now_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The order to try the nodes in for a batch whose turn is node first:
 * round-robin from first, nodes that failed in the last NODE_COOLDOWN_S
 * seconds last, so a dead or hanging node costs one timeout, not one per
 * batch.
 */
static void try_order(const struct run_plan *rp, const struct run_report *rep,
                      size_t first, size_t *order)
{
    double now = now_mono();
    size_t k, n = 0;
    int pass;

    for (pass = 0; pass < 2; pass++) {
        for (k = 0; k < rp->n_urls; k++) {
            size_t node = (first + k) % rp->n_urls;
            int resting = rep->down_until[node] > now;

            if (resting == pass)
                order[n++] = node;
        }
    }
}

/*
 * Send one batch, starting at its round-robin node and moving on while
 * nodes are unreachable.  Returns the node that took it, -2 when it was
 * refused (4xx: not retried anywhere), -1 when no node answered.
 */
static int send_batch(const struct run_plan *rp, size_t first, const char *body,
                      size_t index, struct run_report *rep)
{
    char url[1024], key[160], err[512], digest[65];
    const char *headers[2] = {key, NULL};
    size_t k, *order = rep->order;

    /*
     * The key names the batch's content, not its position: a run resumed
     * under the same run id sends other indicators in batch i, and Restate
     * would answer them with the first run's cached result.
     */
    if (cli_sha256_hex(body, strlen(body), digest) != 0)
        return -1;
    snprintf(key, sizeof(key), "idempotency-key: %s-%.32s", rp->run_id, digest);
    try_order(rp, rep, first, order);
    for (k = 0; k < rp->n_urls; k++) {
        size_t node = order[k];
        char *resp = NULL;
        long status;

        snprintf(url, sizeof(url), "%s/classify-api/batch", rp->urls[node]);
        status = cli_http_post(url, body, headers, BATCH_TIMEOUT_MS, &resp, err,
                               sizeof(err));
        if (status >= 200 && status < 300) {
            count_answer(resp, rep);
            free(resp);
            rep->rerouted += node != first;
            return (int)node;
        }
        if (status >= 400 && status < 500) {
            fprintf(stderr, "batch %zu refused by %s (%ld): %s\n", index, url,
                    status, resp ? resp : "");
            free(resp);
            return -2;
        }
        rep->down_until[node] = now_mono() + NODE_COOLDOWN_S;
        fprintf(stderr, "batch %zu: node %zu unavailable (%s)%s\n", index, node,
                status ? "server error" : err,
                k + 1 < rp->n_urls ? ", trying the next node" : "");
        free(resp);
    }
    return -1;
}

static void pace(const struct run_plan *rp, size_t sent, double t0)
{
    struct timespec ts, now;
    double due, elapsed;

    if (rp->rate <= 0)
        return;
    due = (double)sent / rp->rate;
    clock_gettime(CLOCK_MONOTONIC, &now);
    elapsed = (double)now.tv_sec + (double)now.tv_nsec / 1e9 - t0;
    if (elapsed >= due)
        return;
    ts.tv_sec = (time_t)(due - elapsed);
    ts.tv_nsec = (long)((due - elapsed - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

/* One progress line per batch: in place on a terminal, else every 10th. */
static void show_sent(size_t done, size_t total, const struct run_report *rep)
{
    static size_t calls;
    int tty = isatty(2);

    if (!tty && done < total && ++calls % 10 != 0)
        return;
    fprintf(stderr, "%ssent %zu/%zu indicator(s): %zu started, %zu refused%s",
            tty ? "\r" : "", done, total, rep->accepted, rep->rejected,
            tty && done < total ? "" : "\n");
}

int run_submit(struct core_store *store, const struct run_plan *rp,
               const struct core_store_ids *ids, struct run_report *rep)
{
    size_t off, unplaced = 0;
    char err[512];

    rep->per_node = calloc(rp->n_urls, sizeof(*rep->per_node));
    rep->down_until = calloc(rp->n_urls, sizeof(*rep->down_until));
    rep->order = calloc(rp->n_urls, sizeof(*rep->order));
    if (rep->per_node == NULL || rep->down_until == NULL || rep->order == NULL)
        return CLI_UNREACHABLE;
    for (off = 0; off < ids->count; off += rp->batch_size) {
        size_t n = ids->count - off < rp->batch_size ? ids->count - off
                                                     : rp->batch_size;
        size_t index = rep->batches++;
        char *body;
        int node;

        err[0] = '\0';
        body =
            build_batch(store, rp->run_id, ids->ids + off, n, err, sizeof(err));
        if (body == NULL) {
            fprintf(stderr, "batch %zu: %s\n", index, err);
            return CLI_UNREACHABLE;
        }
        node = send_batch(rp, index % rp->n_urls, body, index, rep);
        free(body);
        if (node >= 0) {
            rep->per_node[node]++;
            rep->submitted += n;
        }
        else if (node == -2)
            rep->rejected += n;
        else
            unplaced += n;
        show_sent(off + n, ids->count, rep);
        pace(rp, off + n, rp->started);
    }
    if (unplaced > 0) {
        fprintf(stderr,
                "%zu indicator(s) could not be submitted: no node "
                "answered\n",
                unplaced);
        return CLI_UNREACHABLE;
    }
    return CLI_OK;
}
