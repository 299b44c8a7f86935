/*
 * test_reload.c - the reloader: only changed stages are loaded, refused
 * reloads leave the running generation serving, rollback, one reload at a
 * time, draining, stuck generations, status and metrics.
 *
 * Each test deploys plugins into its own directory (rename over the old
 * file, as operators must) and keeps copies in its own copy_dir.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "reload_util.h"
#include "stage/reload.h"

#define SOAK(v)   RELOAD_PLUGIN_DIR "/soak_" v ".so"
#define BROKEN(n) ABI_PLUGIN_DIR "/" n ".so"

struct fixture {
    char dir[256];    /* deployed plugins */
    char copies[300]; /* copy_dir */
    char soak[300];   /* dir/soak.so */
    char probe[300];  /* dir/probe.so */
    struct pipeline_holder holder;
    struct stage_reloader *r;
    struct stage_spec specs[2];
};

static struct stage_spec spec_of(const char *name, const char *path,
                                 const char *dir)
{
    struct stage_spec s = {
        .name = name,
        .plugin_path = path,
        .plugin_dir = dir,
        .provider = "rules",
        .provider_kind = "rules",
        .file = "reload-test.conf",
        .line = 1,
        .options_line = 1,
    };

    return s;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct reload_options o = {0};
    cls_error err = {CLS_OK, ""};

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/classify-reload.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->copies, sizeof(f->copies), "%s/copies", f->dir);
    snprintf(f->soak, sizeof(f->soak), "%s/soak.so", f->dir);
    snprintf(f->probe, sizeof(f->probe), "%s/probe.so", f->dir);
    assert_int_equal(deploy(SOAK("v1"), f->soak), 0);
    assert_int_equal(deploy(BROKEN("probe"), f->probe), 0);
    f->specs[0] = spec_of("soak", f->soak, f->dir);
    f->specs[1] = spec_of("probe", f->probe, f->dir);

    pipeline_holder_init(&f->holder);
    o.copy_dir = f->copies;
    o.drain_timeout_ms = 10000;
    f->r = reload_new(&f->holder, &o, &err);
    assert_non_null(f->r);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[400];

    pipeline_holder_fini(&f->holder);
    reload_free(f->r);
    /* Every copy was deleted once nothing mapped it. */
    assert_int_equal(count_files(f->copies), 0);
    assert_int_equal(count_maps(f->copies), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void apply_ok(struct fixture *f, struct reload_outcome *out)
{
    cls_error err = {CLS_OK, ""};
    int rc = reload_apply(f->r, f->specs, 2, NULL, NULL, out, &err);

    if (rc != 0)
        fail_msg("reload refused: %s", err.message);
}

/* The soak stage of the active generation answers with want_version. */
static void assert_serves(struct fixture *f, const char *want_version,
                          unsigned want_gen)
{
    char want[64];
    unsigned gen = 0;
    char *out = invoke_active(&f->holder, "soak", "item-1", &gen);

    assert_non_null(out);
    snprintf(want, sizeof(want), "\"version\":\"%s\"", want_version);
    assert_non_null(strstr(out, want));
    assert_int_equal(gen, want_gen);
    free(out);
}

static void test_only_changed_stages_load(void **state)
{
    struct fixture *f = *state;
    struct reload_outcome o;
    struct pipeline *p;
    struct cls_host *probe1;

    apply_ok(f, &o);
    assert_int_equal(o.generation, 1);
    assert_int_equal(o.n_loaded, 2);
    p = pipeline_holder_acquire(&f->holder);
    probe1 = pipeline_find(p, "probe");
    pipeline_release(p);
    assert_serves(f, "1.0.0", 1);

    assert_int_equal(deploy(SOAK("v2"), f->soak), 0);
    apply_ok(f, &o);
    assert_int_equal(o.generation, 2);
    assert_int_equal(o.replaced, 1);
    assert_int_equal(o.n_loaded, 1);
    assert_int_equal(o.n_reused, 1);
    assert_non_null(strstr(o.summary, "soak 2.0.0"));
    assert_serves(f, "2.0.0", 2);

    p = pipeline_holder_acquire(&f->holder);
    assert_ptr_equal(pipeline_find(p, "probe"), probe1);
    assert_int_equal(pipeline_find(p, "soak")->generation, 2);
    assert_int_equal(pipeline_find(p, "probe")->generation, 1);
    pipeline_release(p);

    /* Nothing changed: a new generation that reuses everything. */
    apply_ok(f, &o);
    assert_int_equal(o.generation, 3);
    assert_int_equal(o.n_loaded, 0);
    assert_int_equal(o.n_reused, 2);
    assert_int_equal(reload_wait_drained(f->r, 5000), 0);
}

static void test_config_change_reloads(void **state)
{
    struct fixture *f = *state;
    struct reload_outcome o;

    apply_ok(f, &o);
    f->specs[0].fallback_to_rules = 1;
    apply_ok(f, &o);
    assert_int_equal(o.n_loaded, 1);
    assert_int_equal(o.n_reused, 1);
}

/* A refused reload names the deployed file and changes nothing. */
static void assert_refused(struct fixture *f, const char *name,
                           const char *plugin, const char *why)
{
    struct stage_spec saved = f->specs[1];
    struct reload_outcome o;
    cls_error err = {CLS_OK, ""};
    char path[400];

    snprintf(path, sizeof(path), "%s/%s-new.so", f->dir, name);
    assert_int_equal(deploy(plugin, path), 0);
    f->specs[1] = spec_of(name, path, f->dir);
    assert_int_equal(reload_apply(f->r, f->specs, 2, NULL, NULL, &o, &err), -1);
    f->specs[1] = saved;
    if (strstr(err.message, why) == NULL || strstr(err.message, path) == NULL)
        fail_msg("unexpected refusal: %s", err.message);
    assert_null(strstr(err.message, f->copies));
    assert_int_equal(reload_active_generation(f->r), 1);
    assert_serves(f, "1.0.0", 1);
}

static void test_refusals_keep_serving(void **state)
{
    struct fixture *f = *state;
    struct reload_outcome o;
    char *status;

    apply_ok(f, &o);
    assert_refused(f, "probe", BROKEN("major2"),
                   "built for stage ABI major 2, this host supports major 1");
    assert_refused(f, "failing", BROKEN("create_fails"),
                   "create() of stage failing 1.0.0 failed: threshold must "
                   "be set");
    assert_refused(f, "probe", BROKEN("no_entry"),
                   "not a stage plugin: no entry symbol cls_stage_entry_v1");
    assert_refused(f, "probe", BROKEN("text"), "not a stage plugin");

    status = reload_status_json(f->r);
    assert_non_null(status);
    assert_non_null(strstr(status, "\"active\":1"));
    assert_non_null(strstr(status, "\"refusals\":4"));
    free(status);
    /* Refused loads left no copy behind (2 copies of generation 1). */
    assert_int_equal(count_files(f->copies), 2);
}

static void test_missing_file_refused(void **state)
{
    struct fixture *f = *state;
    struct reload_outcome o;
    cls_error err = {CLS_OK, ""};
    char gone[400];

    apply_ok(f, &o);
    snprintf(gone, sizeof(gone), "%s/absent.so", f->dir);
    f->specs[0].plugin_path = gone;
    assert_int_equal(reload_apply(f->r, f->specs, 2, NULL, NULL, &o, &err), -1);
    assert_non_null(strstr(err.message, "cannot read plugin"));
    assert_non_null(strstr(err.message, gone));
    f->specs[0].plugin_path = f->soak;
    assert_serves(f, "1.0.0", 1);
}

static void test_rollback(void **state)
{
    struct fixture *f = *state;
    struct reload_outcome o;
    cls_error err = {CLS_OK, ""};

    apply_ok(f, &o);
    assert_int_equal(reload_rollback(f->r, NULL, NULL, &o, &err), -1);
    assert_non_null(strstr(err.message, "no previous generation"));

    assert_int_equal(deploy(SOAK("v2"), f->soak), 0);
    apply_ok(f, &o);
    assert_serves(f, "2.0.0", 2);

    /* The deployed file is v2 now; rollback loads the kept v1 copy. */
    assert_int_equal(reload_rollback(f->r, NULL, NULL, &o, &err), 0);
    assert_int_equal(o.generation, 3);
    assert_int_equal(o.n_loaded, 1);
    assert_serves(f, "1.0.0", 3);
    assert_int_equal(reload_rollback(f->r, NULL, NULL, &o, &err), 0);
    assert_serves(f, "2.0.0", 4);
    assert_int_equal(reload_wait_drained(f->r, 5000), 0);
}

/* A hook that tries a second reload while the first one runs. */
static void *second_reload(void *arg)
{
    struct fixture *f = arg;
    struct reload_outcome o;
    static cls_error err;

    if (reload_apply(f->r, f->specs, 2, NULL, NULL, &o, &err) == 0)
        return NULL;
    return &err;
}

static int hook_concurrent(void *arg, const struct pipeline *active,
                           const struct pipeline *next, cls_error *err)
{
    pthread_t t;
    void *res = NULL;

    (void)active;
    (void)next;
    (void)err;
    pthread_create(&t, NULL, second_reload, arg);
    pthread_join(t, &res);
    assert_non_null(res);
    assert_string_equal(((cls_error *)res)->message,
                        "a reload is already in progress");
    return 0;
}

static void test_one_reload_at_a_time(void **state)
{
    struct fixture *f = *state;
    struct reload_outcome o;
    cls_error err = {CLS_OK, ""};

    apply_ok(f, &o);
    assert_int_equal(
        reload_apply(f->r, f->specs, 2, hook_concurrent, f, &o, &err), 0);
    assert_int_equal(o.generation, 2);
}

static int hook_refuse(void *arg, const struct pipeline *active,
                       const struct pipeline *next, cls_error *err)
{
    (void)arg;
    assert_int_equal(active->id, 1);
    assert_int_equal(next->id, 2);
    cls_error_set(err, CLS_EINVAL, "services changed");
    return -1;
}

static void test_hook_refusal(void **state)
{
    struct fixture *f = *state;
    struct reload_outcome o;
    cls_error err = {CLS_OK, ""};

    apply_ok(f, &o);
    assert_int_equal(deploy(SOAK("v2"), f->soak), 0);
    assert_int_equal(
        reload_apply(f->r, f->specs, 2, hook_refuse, NULL, &o, &err), -1);
    assert_string_equal(err.message, "services changed");
    assert_serves(f, "1.0.0", 1);
    /* The next reload gets the next free id. */
    apply_ok(f, &o);
    assert_int_equal(o.generation, 2);
}

static void test_drain_and_stuck(void **state)
{
    struct fixture *f = *state;
    struct reload_outcome o;
    struct pipeline *held;
    char *status, *metrics;

    apply_ok(f, &o);
    reload_set_drain_timeout(f->r, 50);
    held = pipeline_holder_acquire(&f->holder); /* an in-flight call */
    assert_int_equal(deploy(SOAK("v2"), f->soak), 0);
    apply_ok(f, &o);
    assert_int_equal(reload_wait_drained(f->r, 300), 1);

    status = reload_status_json(f->r);
    assert_non_null(strstr(status, "{\"id\":1,\"state\":\"stuck\","
                                   "\"in_flight\":1"));
    free(status);
    metrics = reload_metrics_text(f->r);
    assert_non_null(strstr(metrics, "classify_generations_stuck_total 1\n"));
    assert_non_null(strstr(metrics, "classify_generation_in_flight{"
                                    "generation=\"1\",state=\"stuck\"} 1\n"));
    assert_non_null(strstr(metrics, "classify_active_generation 2\n"));
    assert_non_null(strstr(metrics, "classify_stage_in_flight{stage=\"soak\","
                                    "version=\"1.0.0\",generation=\"1\"} 0"));
    free(metrics);

    /* The old soak copy is still mapped while the call runs. */
    assert_true(count_maps(f->copies) > 0);
    pipeline_release(held);
    assert_int_equal(reload_wait_drained(f->r, 5000), 0);
    metrics = reload_metrics_text(f->r);
    assert_non_null(
        strstr(metrics, "classify_generation_drain_seconds_count 1\n"));
    assert_non_null(strstr(metrics, "classify_reloads_total 1\n"));
    free(metrics);
    /* Generation 2's two copies and generation 1's soak copy (kept for
     * rollback) remain; nothing else. */
    assert_int_equal(count_files(f->copies), 3);
}

/* Copies left by a crashed process are deleted at start; others stay. */
static void test_stale_copies_removed(void **state)
{
    struct fixture *f = *state;
    struct reload_options o = {f->copies, 1000};
    struct stage_reloader *r2;
    cls_error err = {CLS_OK, ""};
    char stale[400], alive[400], other[400];
    FILE *fp;

    snprintf(stale, sizeof(stale),
             "%s/type-classification-00112233aabbccdd-2147480001-3.so",
             f->copies);
    snprintf(alive, sizeof(alive), "%s/soak-00112233aabbccdd-1-3.so",
             f->copies);
    snprintf(other, sizeof(other), "%s/notes.txt", f->copies);
    assert_non_null(fp = fopen(stale, "w"));
    fclose(fp);
    assert_non_null(fp = fopen(alive, "w"));
    fclose(fp);
    assert_non_null(fp = fopen(other, "w"));
    fclose(fp);

    r2 = reload_new(&f->holder, &o, &err);
    assert_non_null(r2);
    assert_int_equal(access(stale, F_OK), -1);
    assert_int_equal(access(alive, F_OK), 0); /* pid 1 runs */
    assert_int_equal(access(other, F_OK), 0);
    reload_free(r2);
    unlink(alive);
    unlink(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_only_changed_stages_load, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_config_change_reloads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refusals_keep_serving, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_missing_file_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_reload_at_a_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hook_refusal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain_and_stuck, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_copies_removed, setup,
                                        teardown),
    };

    core_log_setup(CORE_LOG_WARN, 2);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
