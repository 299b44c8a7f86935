/*
 * test_hot.c - the Restate services behind one endpoint app: a reload
 * that changes the set of stage services makes the endpoint serve the new
 * registry for attempts opened afterwards, while an attempt opened before
 * keeps its registry until it closes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "admin/hot.h"
#include "common/log.h"
#include "stage/pipeline.h"

#define PLUGIN(n) ABI_PLUGIN_DIR "/" n ".so"

static struct pipeline *load(const char *path)
{
    struct stage_spec spec = {
        .plugin_path = path,
        .plugin_dir = ABI_PLUGIN_DIR,
        .provider = "rules",
        .provider_kind = "rules",
        .file = "hot.conf",
    };
    cls_error err = {CLS_OK, ""};
    struct pipeline *p = pipeline_load(&spec, 1, 1, NULL, NULL, &err);

    if (p == NULL)
        fail_msg("%s", err.message);
    return p;
}

static char *manifest(const struct core_http_app *app)
{
    size_t len = 0;

    return app->discover(app->ctx, app->manifest_max, &len);
}

static void test_changed_services(void **state)
{
    struct pipeline *probe = load(PLUGIN("probe"));
    struct pipeline *probe_again = load(PLUGIN("probe"));
    struct pipeline *two = load(PLUGIN("probe2"));

    (void)state;
    assert_false(hot_services_changed(probe, probe_again));
    assert_true(hot_services_changed(probe, two));
    assert_true(hot_services_changed(NULL, two));
    pipeline_release(probe);
    pipeline_release(probe_again);
    pipeline_release(two);
}

static void test_replace_while_serving(void **state)
{
    struct pipeline_holder holder;
    struct workflow_host proto;
    rs_session_config sc;
    struct pipeline *one = load(PLUGIN("probe"));
    struct pipeline *two = load(PLUGIN("probe2"));
    struct hot_services *hs;
    const struct core_http_app *app;
    char err[256], *m;
    void *early, *late;
    int status = 0;

    (void)state;
    pipeline_holder_init(&holder);
    memset(&proto, 0, sizeof(proto));
    proto.pipelines = &holder;
    rs_session_config_init(&sc);
    hs = hot_services_new(&proto, &sc, one, err, sizeof(err));
    assert_non_null(hs);
    app = hot_services_app(hs);

    m = manifest(app);
    assert_non_null(strstr(m, "\"probe\""));
    assert_null(strstr(m, "probe-two"));
    free(m);
    early = app->session_open(app->ctx, "probe", "run", 5, "inv-1", &status);
    assert_non_null(early);

    assert_int_equal(hot_services_replace(hs, two, err, sizeof(err)), 0);
    m = manifest(app);
    assert_non_null(strstr(m, "\"probe-two\""));
    assert_null(strstr(m, "\"probe\""));
    free(m);
    assert_null(
        app->session_open(app->ctx, "probe", "run", 5, "inv-2", &status));
    assert_int_equal(status, 404);
    late = app->session_open(app->ctx, "probe-two", "run", 5, "inv-3", &status);
    assert_non_null(late);

    /* The early attempt still holds the first registry; closing it frees
     * that registry (LeakSanitizer builds check nothing is left). */
    app->session_close(early);
    app->session_close(late);
    hot_services_free(hs);
    pipeline_release(one);
    pipeline_release(two);
    pipeline_holder_fini(&holder);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_changed_services),
        cmocka_unit_test(test_replace_while_serving),
    };

    core_log_setup(CORE_LOG_WARN, 2);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
