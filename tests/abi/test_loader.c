/*
 * test_loader.c - the loader refuses each broken plugin with one exact
 * message naming the file and the reason, and accepts a good one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"
#include "stage/pipeline.h"
#include "stage/stage.h"

#define PLUGIN(name) ABI_PLUGIN_DIR "/" name ".so"

static struct stage_spec spec_for(const char *path)
{
    struct stage_spec s = {
        .plugin_path = path,
        .plugin_dir = ABI_PLUGIN_DIR,
        .provider = "rules",
        .provider_kind = "rules",
        .file = "test.conf",
        .line = 7,
        .options_line = 9,
    };

    return s;
}

/* Load path alone and assert it is refused with exactly want. */
static void assert_refused(const char *path, const char *want)
{
    struct stage_spec spec = spec_for(path);
    cls_error err = {0};

    assert_null(stage_load(&spec, 1, NULL, 0, &err));
    assert_string_equal(err.message, want);
}

static void test_good_plugin_loads(void **state)
{
    struct stage_spec spec = spec_for(PLUGIN("probe"));
    struct cls_host *s;
    cls_error err = {0};

    (void)state;
    spec.name = "probe";
    s = stage_load(&spec, 3, NULL, 0, &err);
    assert_non_null(s);
    assert_string_equal(s->name, "probe");
    assert_string_equal(s->version, "1.0.0");
    assert_string_equal(s->service, "probe");
    assert_string_equal(s->handler, "run");
    assert_int_equal(s->generation, 3);
    assert_int_equal(stage_unref(s), 0);
}

static void test_missing_file(void **state)
{
    (void)state;
    assert_refused(PLUGIN("absent"),
                   PLUGIN("absent") ": cannot open plugin: No such file or "
                                    "directory");
}

static void test_text_file_is_not_a_plugin(void **state)
{
    struct stage_spec spec = spec_for(PLUGIN("text"));
    cls_error err = {0};
    const char *prefix = PLUGIN("text") ": not a stage plugin: ";

    (void)state;
    assert_null(stage_load(&spec, 1, NULL, 0, &err));
    /* The rest is dlerror()'s own text, which names the file again. */
    assert_memory_equal(err.message, prefix, strlen(prefix));
    assert_non_null(strstr(err.message + strlen(prefix), "text.so"));
}

static void test_missing_entry_symbol(void **state)
{
    (void)state;
    assert_refused(PLUGIN("no_entry"),
                   PLUGIN("no_entry") ": not a stage plugin: no entry symbol "
                                      "cls_stage_entry_v1");
}

static void test_entry_of_other_major(void **state)
{
    (void)state;
    assert_refused(PLUGIN("entry_v2"),
                   PLUGIN("entry_v2") ": built for stage ABI major 2 (exports "
                                      "cls_stage_entry_v2), this host "
                                      "supports major 1");
}

static void test_wrong_major(void **state)
{
    (void)state;
    assert_refused(PLUGIN("major2"),
                   PLUGIN("major2") ": built for stage ABI major 2, this host "
                                    "supports major 1");
}

static void test_newer_minor(void **state)
{
    (void)state;
    assert_refused(PLUGIN("minor9"),
                   PLUGIN("minor9") ": needs stage ABI 1.9, this host "
                                    "provides 1.0");
}

static void test_bad_magic(void **state)
{
    (void)state;
    assert_refused(PLUGIN("bad_magic"),
                   PLUGIN("bad_magic") ": bad descriptor magic 0x12345678 "
                                       "(expected 0x434c5347)");
}

static void test_missing_callback(void **state)
{
    (void)state;
    assert_refused(PLUGIN("no_process"),
                   PLUGIN("no_process") ": stage probe: missing required "
                                        "callback process");
}

static void test_bad_name(void **state)
{
    (void)state;
    assert_refused(PLUGIN("bad_name"),
                   PLUGIN("bad_name") ": stage name \"Bad_Name\" is not 1-64 "
                                      "characters of [a-z0-9-]");
}

static void test_bad_slot(void **state)
{
    (void)state;
    assert_refused(PLUGIN("bad_slot"),
                   PLUGIN("bad_slot") ": stage probe: unknown slot 42");
}

static void test_failing_create(void **state)
{
    (void)state;
    assert_refused(PLUGIN("create_fails"),
                   PLUGIN("create_fails") ": create() of stage failing 1.0.0 "
                                          "failed: threshold must be set");
}

static void test_config_name_mismatch(void **state)
{
    struct stage_spec spec = spec_for(PLUGIN("probe"));
    cls_error err = {0};

    (void)state;
    spec.name = "normalization";
    assert_null(stage_load(&spec, 1, NULL, 0, &err));
    assert_string_equal(
        err.message,
        "test.conf:7: stage \"normalization\" names plugin " PLUGIN(
            "probe") ", which provides stage \"probe\"");
}

/* Collects the messages pipeline_load() reports. */
struct reports {
    char text[2048];
    int count;
};

static void collect(void *arg, const char *message)
{
    struct reports *r = arg;
    size_t n = strlen(r->text);

    snprintf(r->text + n, sizeof(r->text) - n, "%s\n", message);
    r->count++;
}

static void test_duplicate_stage_name(void **state)
{
    struct stage_spec specs[2] = {spec_for(PLUGIN("probe")),
                                  spec_for(PLUGIN("probe"))};
    struct reports r = {{0}, 0};
    cls_error err = {0};

    (void)state;
    assert_null(pipeline_load(specs, 2, 1, collect, &r, &err));
    assert_int_equal(r.count, 1);
    assert_string_equal(
        err.message,
        PLUGIN("probe") ": duplicate stage name \"probe\" "
                        "(already provided by " PLUGIN("probe") ")");
}

static void test_duplicate_service(void **state)
{
    struct stage_spec specs[2] = {spec_for(PLUGIN("probe")),
                                  spec_for(PLUGIN("dup_service"))};
    struct reports r = {{0}, 0};
    cls_error err = {0};

    (void)state;
    assert_null(pipeline_load(specs, 2, 1, collect, &r, &err));
    assert_string_equal(err.message,
                        PLUGIN("dup_service") ": duplicate service \"probe\" "
                                              "(already served by stage probe "
                                              "from " PLUGIN("probe") ")");
}

static void test_pipeline_reports_every_problem(void **state)
{
    struct stage_spec specs[4] = {
        spec_for(PLUGIN("probe")), spec_for(PLUGIN("major2")),
        spec_for(PLUGIN("probe2")), spec_for(PLUGIN("minor9"))};
    struct reports r = {{0}, 0};
    cls_error err = {0};

    (void)state;
    assert_null(pipeline_load(specs, 4, 1, collect, &r, &err));
    assert_int_equal(r.count, 2);
    assert_non_null(strstr(r.text, "major2.so: built for"));
    assert_non_null(strstr(r.text, "minor9.so: needs"));
}

static void test_slot_order(void **state)
{
    struct stage_spec specs[2] = {spec_for(PLUGIN("slot_final")),
                                  spec_for(PLUGIN("slot_norm"))};
    cls_error err = {0};

    (void)state;
    assert_null(pipeline_load(specs, 2, 1, NULL, NULL, &err));
    assert_string_equal(err.message,
                        PLUGIN("slot_norm") ": stage norm implements slot 1, "
                                            "which cannot follow stage final "
                                            "(slot 6)");
}

static void test_pipeline_generation(void **state)
{
    struct stage_spec specs[3] = {spec_for(PLUGIN("slot_norm")),
                                  spec_for(PLUGIN("probe")),
                                  spec_for(PLUGIN("slot_final"))};
    struct pipeline_holder h;
    struct pipeline *p, *old;
    cls_error err = {0};

    (void)state;
    p = pipeline_load(specs, 3, 5, NULL, NULL, &err);
    assert_non_null(p);
    assert_int_equal(p->id, 5);
    assert_int_equal(p->n_stages, 3);
    assert_string_equal(p->stages[0]->name, "norm");
    assert_ptr_equal(pipeline_find(p, "final"), p->stages[2]);
    assert_null(pipeline_find(p, "nosuch"));

    pipeline_holder_init(&h);
    assert_null(pipeline_holder_acquire(&h));
    assert_null(pipeline_holder_swap(&h, p));

    /* A worker holds the generation across a swap: it stays alive. */
    old = pipeline_holder_acquire(&h);
    assert_ptr_equal(old, p);
    assert_ptr_equal(pipeline_holder_swap(&h, NULL), p);
    assert_int_equal(pipeline_release(p), 0); /* holder's reference */
    assert_string_equal(old->stages[1]->name, "probe");
    assert_int_equal(pipeline_release(old), 0); /* worker's: last */
    pipeline_holder_fini(&h);
}

static void test_leak_reported(void **state)
{
    struct stage_spec spec = spec_for(PLUGIN("leaky"));
    struct cls_host *s;
    cls_error err = {0};

    (void)state;
    s = stage_load(&spec, 1, NULL, 0, &err);
    assert_non_null(s);
    assert_int_equal(stage_unref(s), 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_plugin_loads),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_text_file_is_not_a_plugin),
        cmocka_unit_test(test_missing_entry_symbol),
        cmocka_unit_test(test_entry_of_other_major),
        cmocka_unit_test(test_wrong_major),
        cmocka_unit_test(test_newer_minor),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_missing_callback),
        cmocka_unit_test(test_bad_name),
        cmocka_unit_test(test_bad_slot),
        cmocka_unit_test(test_failing_create),
        cmocka_unit_test(test_config_name_mismatch),
        cmocka_unit_test(test_duplicate_stage_name),
        cmocka_unit_test(test_duplicate_service),
        cmocka_unit_test(test_pipeline_reports_every_problem),
        cmocka_unit_test(test_slot_order),
        cmocka_unit_test(test_pipeline_generation),
        cmocka_unit_test(test_leak_reported),
    };

    core_log_setup(CORE_LOG_WARN, 2);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
