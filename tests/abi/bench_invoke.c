/*
 * bench_invoke.c - what the host adds per stage call: parse the input,
 * run the probe stage's echo (a deep copy of the indicator into the
 * output), print the output, release the call arena.  Not a test: prints
 * figures only.
 *
 *   bench_invoke [CALLS]     (default 20000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "stage/call.h"
#include "stage/stage.h"

/* An indicator of realistic size: 50 sample values. */
static size_t make_input(char *buf, size_t size)
{
    size_t n;
    int i;

    n = (size_t)snprintf(
        buf, size,
        "{\"action\":\"echo\",\"indicator\":{\"id\":\"IND-1\","
        "\"name\":\"Consumer Price Index YoY\",\"units\":\"%%\","
        "\"scale\":\"Units\",\"periodicity\":\"Monthly\","
        "\"currency_code\":null,\"definition\":\"Change in "
        "the price of a basket of goods.\","
        "\"sample_values\":[");
    for (i = 0; i < 50 && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n,
                              "%s{\"date\":\"2024-%02d-01\",\"value\":%d.%d}",
                              i ? "," : "", i % 12 + 1, i, i % 10);
    if (n < size)
        n += (size_t)snprintf(buf + n, size - n, "]},\"results\":{}}");
    return n;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct stage_spec spec = {.plugin_path = ABI_PLUGIN_DIR "/probe.so",
                              .plugin_dir = ABI_PLUGIN_DIR,
                              .file = "bench"};
    long calls = argc > 1 ? atol(argv[1]) : 20000, i;
    struct stage_direct_env env;
    struct cls_host *s;
    cls_error err = {0};
    char input[8192];
    size_t len;
    double t0, dt;

    core_log_setup(CORE_LOG_WARN, 2);
    s = stage_load(&spec, 1, NULL, 0, &err);
    if (s == NULL) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    stage_direct_env_init(&env, NULL, NULL, NULL, NULL);
    len = make_input(input, sizeof(input));

    t0 = now_s();
    for (i = 0; i < calls; i++) {
        char *out = NULL;

        if (stage_invoke(s, &env.env, "bench", input, len, &out, &err) !=
            CLS_OK) {
            fprintf(stderr, "call %ld: %s\n", i, err.message);
            return 1;
        }
        free(out);
    }
    dt = now_s() - t0;

    printf("stage_invoke: %ld calls, input %zu bytes, %.2f us/call, "
           "%.0f calls/s\n",
           calls, len, dt * 1e6 / (double)calls, (double)calls / dt);
    return stage_unref(s) == 0 ? 0 : 1;
}
