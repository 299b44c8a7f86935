/*
 * soak_asan.c - 200 reload cycles swapping two builds of one stage while
 * four threads keep invoking it, built with AddressSanitizer and
 * LeakSanitizer (see CMakeLists.txt).  Checks: every call succeeds, no
 * crash, no leak (LeakSanitizer fails the process at exit), and once the
 * last generation is released the descriptors in /proc/self/fd and the
 * mappings of the private copies in /proc/self/maps are back at their
 * start level and the copy directory is empty.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "reload_util.h"
#include "stage/reload.h"

#define CYCLES  200
#define THREADS 4

struct shared {
    struct pipeline_holder holder;
    atomic_int stop;
    atomic_ulong calls, failures, v1, v2;
};

static void *worker(void *arg)
{
    struct shared *sh = arg;
    char item[32];
    unsigned long i = 0;

    while (!atomic_load(&sh->stop)) {
        char *out;

        snprintf(item, sizeof(item), "item-%lu", i++);
        out = invoke_active(&sh->holder, "soak", item, NULL);
        atomic_fetch_add(&sh->calls, 1);
        if (out == NULL)
            atomic_fetch_add(&sh->failures, 1);
        else if (strstr(out, "\"version\":\"2.0.0\"") != NULL)
            atomic_fetch_add(&sh->v2, 1);
        else
            atomic_fetch_add(&sh->v1, 1);
        free(out);
    }
    return NULL;
}

static int check(int ok, const char *what)
{
    if (!ok)
        fprintf(stderr, "soak: FAILED: %s\n", what);
    return ok ? 0 : 1;
}

/* Reload cycles 0..last: even ones deploy 1.0.0, odd ones 2.0.0. */
static int run_cycles(struct shared *sh, struct stage_reloader *r,
                      const char *deployed, const char *dir, int last)
{
    struct stage_spec spec = {.name = "soak",
                              .plugin_path = deployed,
                              .plugin_dir = dir,
                              .provider = "rules",
                              .provider_kind = "rules",
                              .file = "soak.conf"};
    struct reload_outcome o;
    cls_error err = {CLS_OK, ""};
    int i;

    for (i = last ? 1 : 0; i <= last; i++) {
        const char *src = i % 2 ? RELOAD_PLUGIN_DIR "/soak_v2.so"
                                : RELOAD_PLUGIN_DIR "/soak_v1.so";

        if (deploy(src, deployed) != 0 ||
            reload_apply(r, &spec, 1, NULL, NULL, &o, &err) != 0) {
            fprintf(stderr, "soak: cycle %d: %s\n", i, err.message);
            return 1;
        }
        if (i % 50 == 0)
            usleep(1000);
    }
    (void)sh;
    return 0;
}

int main(void)
{
    struct shared sh;
    struct reload_options opts = {0};
    struct stage_reloader *r;
    pthread_t t[THREADS];
    char dir[] = "/tmp/classify-soak.XXXXXX", copies[64], deployed[64];
    cls_error err = {CLS_OK, ""};
    int fds0, maps0, failed = 0, i;

    core_log_setup(CORE_LOG_WARN, 2);
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(copies, sizeof(copies), "%s/copies", dir);
    snprintf(deployed, sizeof(deployed), "%s/soak.so", dir);
    memset(&sh, 0, sizeof(sh));
    pipeline_holder_init(&sh.holder);
    fds0 = count_fds();
    maps0 = count_maps(copies);

    opts.copy_dir = copies;
    opts.drain_timeout_ms = 10000;
    r = reload_new(&sh.holder, &opts, &err);
    if (r == NULL) {
        fprintf(stderr, "soak: %s\n", err.message);
        return 1;
    }
    failed |= run_cycles(&sh, r, deployed, dir, 0);
    for (i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, &sh);
    failed |= run_cycles(&sh, r, deployed, dir, CYCLES);
    atomic_store(&sh.stop, 1);
    for (i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);

    failed |= check(reload_wait_drained(r, 10000) == 0,
                    "every retired generation drained");
    pipeline_holder_fini(&sh.holder);
    reload_free(r);

    printf("soak: %d cycles, %lu calls (%lu on 1.0.0, %lu on 2.0.0), %lu "
           "failed\n",
           CYCLES, atomic_load(&sh.calls), atomic_load(&sh.v1),
           atomic_load(&sh.v2), atomic_load(&sh.failures));
    failed |= check(atomic_load(&sh.failures) == 0, "no failed call");
    failed |= check(atomic_load(&sh.v1) > 0 && atomic_load(&sh.v2) > 0,
                    "calls ran on both builds");
    failed |= check(count_fds() == fds0, "descriptors back at start level");
    failed |= check(count_maps(copies) == maps0 && maps0 == 0,
                    "no mapping of a copy left");
    failed |= check(count_files(copies) == 0, "copy directory empty");
    rmdir(copies);
    unlink(deployed);
    rmdir(dir);
    return failed;
}
