/*
 * bench_pace.c - measure how close the provider limiter runs to a rate
 * limit and how many requests the provider still rejects.
 *
 * Usage: bench_llm_pace [--calls N] [--threads N] [--rpm N] [--tpm N]
 *                       [--window-ms N] [--latency-ms N]
 *                       [--system-bytes N] [--max-output N]
 * Starts fake-llm with the given limits (the same on both sides), sends
 * --calls completions from --threads threads through one provider, and
 * prints accepted and rejected requests and the share of the token and
 * request ceilings used: (tokens used) / (limit + limit x elapsed/window).
 * Run it inside a loopback-only namespace (tests/llm/run-netns.sh).
 */
#define _GNU_SOURCE

#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_server.h"
#include "llm/llm.h"
#include "llm/llm_internal.h"

static const char schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"type\":{\"type\":\"string\",\"enum\":[\"stock\",\"flow\",\"rate\","
    "\"index\",\"ratio\",\"count\"]},"
    "\"confidence\":{\"type\":\"number\"},"
    "\"reasoning\":{\"type\":\"string\"}},"
    "\"required\":[\"type\",\"confidence\",\"reasoning\"]}";

struct bench {
    unsigned calls, threads, rpm, tpm, window_ms, latency_ms;
    unsigned system_bytes, max_output;
    struct llm_provider *p;
    char *system;
    unsigned next, ok;
    pthread_mutex_t mu;
};

static void *worker(void *arg)
{
    struct bench *b = arg;
    char user[128];
    cls_llm_request req = {
        .struct_size = sizeof(req),
        .system_prompt = b->system,
        .user_message = user,
        .schema_name = "type",
        .response_schema = schema,
        .temperature = -1,
    };
    struct llm_result res;
    cls_error err;
    unsigned i;

    for (;;) {
        pthread_mutex_lock(&b->mu);
        i = b->next++;
        pthread_mutex_unlock(&b->mu);
        if (i >= b->calls)
            return NULL;
        snprintf(user, sizeof(user), "Indicator %u: Exports of goods", i);
        memset(&res, 0, sizeof(res));
        if (llm_complete(b->p, &req, &res, &err) == CLS_OK) {
            pthread_mutex_lock(&b->mu);
            b->ok++;
            pthread_mutex_unlock(&b->mu);
        }
        else
            fprintf(stderr, "call %u: %s\n", i, err.message);
        llm_result_free(&res);
    }
}

static int parse(int argc, char **argv, struct bench *b)
{
    static const struct option longs[] = {
        {"calls", required_argument, NULL, 'c'},
        {"threads", required_argument, NULL, 'n'},
        {"rpm", required_argument, NULL, 'r'},
        {"tpm", required_argument, NULL, 't'},
        {"window-ms", required_argument, NULL, 'w'},
        {"latency-ms", required_argument, NULL, 'l'},
        {"system-bytes", required_argument, NULL, 's'},
        {"max-output", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    unsigned *dst[128] = {0};
    int c;

    dst['c'] = &b->calls;
    dst['n'] = &b->threads;
    dst['r'] = &b->rpm;
    dst['t'] = &b->tpm;
    dst['w'] = &b->window_ms;
    dst['l'] = &b->latency_ms;
    dst['s'] = &b->system_bytes;
    dst['o'] = &b->max_output;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c <= 0 || c >= 128 || dst[c] == NULL)
            return -1;
        *dst[c] = (unsigned)strtoul(optarg, NULL, 10);
    }
    return b->calls && b->threads && b->window_ms && b->system_bytes ? 0 : -1;
}

static int start(struct bench *b, struct fake_server *fs)
{
    char rpm[16], tpm[16], win[16], lat[16];
    const char *args[] = {"--rpm",        rpm, "--tpm", tpm, "--window-ms", win,
                          "--latency-ms", lat, NULL};
    struct llm_provider_settings s = {
        .name = "bench",
        .kind = LLM_KIND_OPENAI,
        .model = "bench-model",
        .timeout_ms = 60000,
        .total_budget_ms = 590000,
        .requests_per_minute = b->rpm,
        .tokens_per_minute = b->tpm,
        .window_ms = b->window_ms,
        .max_output_tokens = b->max_output,
    };
    cls_error err = {0};

    snprintf(rpm, sizeof(rpm), "%u", b->rpm);
    snprintf(tpm, sizeof(tpm), "%u", b->tpm);
    snprintf(win, sizeof(win), "%u", b->window_ms);
    snprintf(lat, sizeof(lat), "%u", b->latency_ms);
    if (fake_start(fs, NULL, args) != 0)
        return -1;
    s.base_url = fs->openai_url;
    if (llm_provider_create(&s, &b->p, &err) != CLS_OK) {
        fprintf(stderr, "bench: %s\n", err.message);
        return -1;
    }
    return 0;
}

static void report(const struct bench *b, const struct fake_server *fs,
                   int64_t elapsed)
{
    double acc = fake_stat(fs, "accepted"), rej = fake_stat(fs, "rejected");
    double used =
        fake_stat(fs, "prompt_tokens") + fake_stat(fs, "completion_tokens");
    double windows = (double)elapsed / b->window_ms;

    printf("calls %u ok %u in %lld ms; accepted %.0f rejected %.0f "
           "(%.2f%% of accepted); tokens %.0f = %.1f%% of the token "
           "ceiling; requests %.1f%% of the request ceiling\n",
           b->calls, b->ok, (long long)elapsed, acc, rej,
           acc > 0 ? 100.0 * rej / acc : 0.0, used,
           b->tpm ? 100.0 * used / (b->tpm * (1 + windows)) : 0.0,
           b->rpm ? 100.0 * acc / (b->rpm * (1 + windows)) : 0.0);
}

int main(int argc, char **argv)
{
    struct bench b = {
        .calls = 300,
        .threads = 75,
        .rpm = 500,
        .tpm = 200000,
        .window_ms = 60000,
        .latency_ms = 800,
        .system_bytes = 8000,
        .max_output = 300,
        .mu = PTHREAD_MUTEX_INITIALIZER,
    };
    struct fake_server fs;
    pthread_t *t;
    int64_t t0;
    unsigned i;

    if (parse(argc, argv, &b) != 0) {
        fprintf(stderr, "usage: see the comment at the top of bench_pace.c\n");
        return 2;
    }
    b.system = malloc(b.system_bytes + 1);
    t = calloc(b.threads, sizeof(*t));
    if (b.system == NULL || t == NULL || start(&b, &fs) != 0)
        return 1;
    memset(b.system, 'x', b.system_bytes);
    b.system[b.system_bytes] = '\0';
    t0 = llm_now_ms();
    for (i = 0; i < b.threads; i++)
        pthread_create(&t[i], NULL, worker, &b);
    for (i = 0; i < b.threads; i++)
        pthread_join(t[i], NULL);
    report(&b, &fs, llm_now_ms() - t0);
    llm_provider_destroy(b.p);
    fake_stop(&fs);
    free(t);
    free(b.system);
    return b.ok == b.calls ? 0 : 1;
}
