/*
 * test_limiter.c - a burst of concurrent calls against a fake
 * provider limited to 60 requests and 20,000 tokens per window.  The
 * window is 6 s on both sides (a tenth of a minute) so the test takes
 * seconds.  Every call must succeed and the provider's 429s must stay at
 * or below 5% of the accepted requests.  The share of the token ceiling
 * reached is printed as a measurement, not asserted.
 */
#define _GNU_SOURCE

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "fake_server.h"
#include "llm/llm.h"
#include "llm/llm_internal.h"

#define CALLS      64
#define THREADS    16
#define WINDOW_MS  6000
#define RPM        60
#define TPM        20000
#define LATENCY_MS "200"

static const char schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"type\":{\"type\":\"string\",\"enum\":[\"stock\",\"flow\",\"rate\","
    "\"index\",\"ratio\",\"count\"]},"
    "\"temporal_aggregation\":{\"type\":\"string\",\"enum\":["
    "\"point-in-time\",\"period-total\",\"period-average\","
    "\"period-cumulative\",\"not-applicable\"]},"
    "\"confidence\":{\"type\":\"number\"},"
    "\"reasoning\":{\"type\":\"string\"}},"
    "\"required\":[\"type\",\"temporal_aggregation\",\"confidence\","
    "\"reasoning\"]}";

struct shared {
    struct llm_provider *p;
    char system[2600];
    int next;
    int ok;
    pthread_mutex_t mu;
};

static void *worker(void *arg)
{
    struct shared *sh = arg;
    char user[128];
    cls_llm_request req = {
        .struct_size = sizeof(req),
        .system_prompt = sh->system,
        .user_message = user,
        .schema_name = "type",
        .response_schema = schema,
        .temperature = -1,
    };
    struct llm_result res;
    cls_error err;
    int i;

    for (;;) {
        pthread_mutex_lock(&sh->mu);
        i = sh->next++;
        pthread_mutex_unlock(&sh->mu);
        if (i >= CALLS)
            return NULL;
        snprintf(user, sizeof(user), "Indicator %d: Exports of goods", i);
        memset(&res, 0, sizeof(res));
        memset(&err, 0, sizeof(err));
        if (llm_complete(sh->p, &req, &res, &err) == CLS_OK) {
            pthread_mutex_lock(&sh->mu);
            sh->ok++;
            pthread_mutex_unlock(&sh->mu);
        }
        else
            fprintf(stderr, "call %d failed: %s\n", i, err.message);
        llm_result_free(&res);
    }
}

static struct llm_provider *make_provider(const struct fake_server *fs)
{
    struct llm_provider_settings s = {
        .name = "paced",
        .kind = LLM_KIND_OPENAI,
        .base_url = fs->openai_url,
        .model = "model-asked-for",
        .timeout_ms = 10000,
        .total_budget_ms = 120000,
        .max_attempts = 3,
        .requests_per_minute = RPM,
        .tokens_per_minute = TPM,
        .window_ms = WINDOW_MS,
        .max_output_tokens = 150,
        .seed = 7,
    };
    struct llm_provider *p = NULL;
    cls_error err = {0};

    assert_int_equal(llm_provider_create(&s, &p, &err), CLS_OK);
    return p;
}

static void test_burst_under_token_limit(void **state)
{
    static const char *const args[] = {
        "--rpm", "60",           "--tpm",    "20000", "--window-ms",
        "6000",  "--latency-ms", LATENCY_MS, NULL,
    };
    struct shared sh = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct fake_server fs;
    pthread_t t[THREADS];
    double accepted, rejected, used, allowed;
    int64_t t0, elapsed;
    int i;

    (void)state;
    memset(sh.system, 'x', sizeof(sh.system) - 1);
    memcpy(sh.system, "You classify indicators. ", 25);
    assert_int_equal(fake_start(&fs, NULL, args), 0);
    sh.p = make_provider(&fs);
    t0 = llm_now_ms();
    for (i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, &sh), 0);
    for (i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    elapsed = llm_now_ms() - t0;

    accepted = fake_stat(&fs, "accepted");
    rejected = fake_stat(&fs, "rejected");
    used =
        fake_stat(&fs, "prompt_tokens") + fake_stat(&fs, "completion_tokens");
    allowed = TPM + (double)TPM * (double)elapsed / WINDOW_MS;
    printf("pace: %d calls in %lld ms, accepted %.0f, rejected %.0f "
           "(%.1f%%), tokens used %.0f of %.0f allowed (%.1f%% of the "
           "ceiling)\n",
           CALLS, (long long)elapsed, accepted, rejected,
           100.0 * rejected / accepted, used, allowed, 100.0 * used / allowed);
    assert_int_equal(sh.ok, CALLS);
    assert_int_equal(accepted, CALLS);
    assert_true(rejected <= 0.05 * accepted);
    llm_provider_destroy(sh.p);
    fake_stop(&fs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_under_token_limit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
