/*
 * test_config.c - configuration parsing and validation: the default file
 * parses, each kind of mistake is reported with its exact message
 * (file:line, setting, what was expected), and stage options are checked
 * against a real plugin's schema when the pipeline loads.
 */
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
#include "config/config.h"
#include "stage/pipeline.h"

/* A minimal valid file; %s is spliced into the pipeline's first stage. */
static const char head[] =
    "restate = {\n"                                       /* 1 */
    "    admin_url = \"http://127.0.0.1:9070\";\n"        /* 2 */
    "    ingress_urls = [ \"http://127.0.0.1:8080\" ];\n" /* 3 */
    "    deployment_url = \"http://127.0.0.1:9080\";\n"   /* 4 */
    "};\n";                                               /* 5 */

struct reports {
    char text[4096];
    int count;
};

static void collect(void *arg, const char *message)
{
    struct reports *r = arg;
    size_t n = strlen(r->text);

    snprintf(r->text + n, sizeof(r->text) - n, "%s\n", message);
    r->count++;
}

/* Write text to a temporary file; returns its path (static buffer). */
static const char *write_conf(const char *text)
{
    static char path[64];
    FILE *f;
    int fd;

    snprintf(path, sizeof(path), "/tmp/classify-conf-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Load head + body; returns problems, r gets the messages. */
static int load(const char *body, struct reports *r,
                struct classify_config **cfg, char *path_out)
{
    char text[4096];
    const char *path;
    int n;

    snprintf(text, sizeof(text), "%s%s", head, body);
    path = write_conf(text);
    memset(r, 0, sizeof(*r));
    n = config_load(path, cfg, collect, r, NULL);
    if (path_out != NULL)
        strcpy(path_out, path);
    unlink(path);
    return n;
}

/* Assert body produces exactly one problem: path + ":" + want. */
static void assert_one_problem(const char *body, const char *want)
{
    struct classify_config *cfg = NULL;
    char path[64], expect[1024];
    struct reports r;

    assert_int_equal(load(body, &r, &cfg, path), 1);
    assert_null(cfg);
    snprintf(expect, sizeof(expect), "%s:%s\n", path, want);
    assert_string_equal(r.text, expect);
}

static const char stages_ok[] =
    "pipeline = {\n"                          /* 6 */
    "    plugin_dir = \"" PLUGIN_DIR "\";\n"  /* 7 */
    "    stages = (\n"                        /* 8 */
    "        { name = \"template\";\n"        /* 9 */
    "          plugin = \"template.so\"; }\n" /* 10 */
    "    );\n"                                /* 11 */
    "};\n";                                   /* 12 */

static void test_default_file_parses(void **state)
{
    struct classify_config *cfg = NULL;
    struct reports r = {{0}, 0};

    (void)state;
    assert_int_equal(config_load(DEFAULT_CONF, &cfg, collect, &r, NULL), 0);
    assert_non_null(cfg);
    assert_string_equal(cfg->listen, "127.0.0.1:9080");
    assert_int_equal(cfg->batch_max_items, 100);
    assert_int_equal(cfg->n_restate_ingress_urls, 1);
    assert_int_equal(cfg->n_providers, 2);
    assert_string_equal(cfg->providers[0].api_key_env, "OPENAI_API_KEY");
    assert_int_equal(cfg->n_stages, 6);
    assert_string_equal(cfg->stages[0].name, "normalization");
    assert_string_equal(cfg->stages[5].name, "final-review");
    assert_string_equal(cfg->stages[1].provider_kind, "rules");
    assert_true(cfg->stages[1].fallback_to_rules);
    assert_non_null(strstr(cfg->stages[2].plugin_path,
                           "build/plugins/family-assignment.so"));
    config_free(cfg);
}

static void test_minimal_file_and_defaults(void **state)
{
    struct classify_config *cfg = NULL;
    struct reports r;

    (void)state;
    assert_int_equal(load(stages_ok, &r, &cfg, NULL), 0);
    assert_non_null(cfg);
    assert_int_equal(cfg->retry_max_attempts, 5);
    assert_string_equal(cfg->stages[0].provider, "rules");
    assert_string_equal(cfg->stages[0].plugin_path, PLUGIN_DIR "/template.so");
    assert_string_equal(cfg->stages[0].plugin_dir, PLUGIN_DIR);
    config_free(cfg);
}

static void test_unknown_setting(void **state)
{
    (void)state;
    assert_one_problem("batch = { max_itmes = 5; };\n"
                       "pipeline = { plugin_dir = \"p\"; stages = ( { name = "
                       "\"a\"; plugin = \"a.so\"; } ); };\n",
                       "6: unknown setting \"batch.max_itmes\" (expected one "
                       "of: max_items, sample_values_cap, rate_per_second)");
}

static void test_wrong_type(void **state)
{
    (void)state;
    assert_one_problem("listen = 9080;\n"
                       "pipeline = { plugin_dir = \"p\"; stages = ( { name = "
                       "\"a\"; plugin = \"a.so\"; } ); };\n",
                       "6: setting \"listen\" must be a string, not an "
                       "integer");
}

static void test_missing_required(void **state)
{
    (void)state;
    assert_one_problem("pipeline = {\n"
                       "    plugin_dir = \"p\";\n"
                       "    stages = ( { name = \"a\"; } );\n"
                       "};\n",
                       "8: missing required setting "
                       "\"pipeline.stages[1].plugin\" (a string)");
}

static void test_missing_required_group(void **state)
{
    struct classify_config *cfg = NULL;
    char expect[256];
    const char *path;
    struct reports r = {{0}, 0};

    (void)state;
    path = write_conf("log_level = \"debug\";\n");
    assert_int_equal(config_load(path, &cfg, collect, &r, NULL), 2);
    snprintf(expect, sizeof(expect),
             "%s: missing required setting \"restate\" (a group)\n"
             "%s: missing required setting \"pipeline\" (a group)\n",
             path, path);
    assert_string_equal(r.text, expect);
    unlink(path);
}

static void test_out_of_range(void **state)
{
    (void)state;
    assert_one_problem("batch = { max_items = 0; };\n"
                       "pipeline = { plugin_dir = \"p\"; stages = ( { name = "
                       "\"a\"; plugin = \"a.so\"; } ); };\n",
                       "6: setting \"batch.max_items\" is 0, outside [1, "
                       "10000]");
}

static void test_bad_provider_reference(void **state)
{
    (void)state;
    assert_one_problem(
        "providers = { fast = { kind = \"openai\"; base_url = "
        "\"http://127.0.0.1:1\"; model = \"m\"; api_key_env = \"K\"; }; };\n"
        "pipeline = {\n"
        "    plugin_dir = \"p\";\n"
        "    stages = ( { name = \"a\"; plugin = \"a.so\"; provider = "
        "\"slow\"; } );\n"
        "};\n",
        "9: stage \"a\": provider \"slow\" is neither \"rules\" nor a provider "
        "defined under \"providers\" (defined: fast)");
}

static void test_bad_provider_kind(void **state)
{
    (void)state;
    assert_one_problem(
        "providers = { fast = { kind = \"gemini\"; base_url = "
        "\"http://127.0.0.1:1\"; model = \"m\"; api_key_env = \"K\"; }; };\n"
        "pipeline = { plugin_dir = \"p\"; stages = ( { name = \"a\"; plugin = "
        "\"a.so\"; } ); };\n",
        "6: setting \"providers.fast.kind\" must be \"openai\" or "
        "\"anthropic\", not \"gemini\"");
}

static void test_secret_in_key_setting(void **state)
{
    (void)state;
    assert_one_problem(
        "providers = { fast = { kind = \"openai\"; base_url = "
        "\"http://127.0.0.1:1\"; model = \"m\"; api_key_env = \"sk-abc\"; "
        "}; };\n"
        "pipeline = { plugin_dir = \"p\"; stages = ( { name = \"a\"; plugin = "
        "\"a.so\"; } ); };\n",
        "6: setting \"providers.fast.api_key_env\" must be the name of an "
        "environment variable ([A-Z_][A-Z0-9_]*), not \"sk-abc\"");
}

static void test_duplicate_stage(void **state)
{
    (void)state;
    assert_one_problem(
        "pipeline = {\n"
        "    plugin_dir = \"p\";\n"
        "    stages = ( { name = \"a\"; plugin = \"a.so\"; },\n"
        "               { name = \"a\"; plugin = \"b.so\"; } );\n"
        "};\n",
        "9: stage \"a\" is listed twice (first at line 8)");
}

static void test_admin_must_be_loopback(void **state)
{
    (void)state;
    assert_one_problem("admin = { listen = \"0.0.0.0:9081\"; };\n"
                       "pipeline = { plugin_dir = \"p\"; stages = ( { name = "
                       "\"a\"; plugin = \"a.so\"; } ); };\n",
                       "6: setting \"admin.listen\" must be a loopback "
                       "ADDRESS:PORT (127.x.x.x, [::1] or localhost), not "
                       "\"0.0.0.0:9081\"");
}

static void test_syntax_error(void **state)
{
    (void)state;
    assert_one_problem("pipeline = {\n  plugin_dir = ;\n};\n",
                       "7: syntax error: syntax error");
}

static void test_all_problems_reported(void **state)
{
    struct classify_config *cfg = NULL;
    struct reports r;

    (void)state;
    assert_int_equal(load("listen = 1;\nlog_level = \"loud\";\nbogus = 1;\n"
                          "admin = { listen = \"nope\"; };\n"
                          "pipeline = { plugin_dir = \"p\"; stages = ( { name "
                          "= \"a\"; plugin = \"a.so\"; } ); };\n",
                          &r, &cfg, NULL),
                     4);
    assert_non_null(strstr(r.text, "\"listen\" must be a string"));
    assert_non_null(strstr(r.text, "unknown setting \"bogus\""));
    assert_non_null(strstr(r.text, "\"log_level\" must be one of"));
    assert_non_null(strstr(r.text, "\"admin.listen\" must be a loopback"));
}

/* Load the config and its pipeline; returns the pipeline error text. */
static void assert_pipeline_refused(const char *options, const char *want)
{
    struct classify_config *cfg = NULL;
    char body[1024], path[64], expect[1024];
    struct stage_spec *specs;
    cls_error err = {0};
    struct reports r;

    snprintf(body, sizeof(body),
             "pipeline = {\n"                         /* 6 */
             "    plugin_dir = \"" PLUGIN_DIR "\";\n" /* 7 */
             "    stages = (\n"                       /* 8 */
             "        { name = \"template\";\n"       /* 9 */
             "          plugin = \"template.so\";\n"  /* 10 */
             "          options = {\n"                /* 11 */
             "%s"                                     /* 12 */
             "          }; }\n"
             "    );\n"
             "};\n",
             options);
    assert_int_equal(load(body, &r, &cfg, path), 0);
    specs = config_stage_specs(cfg);
    assert_null(pipeline_load(specs, cfg->n_stages, 1, NULL, NULL, &err));
    snprintf(expect, sizeof(expect), "%s:%s", path, want);
    assert_string_equal(err.message, expect);
    free(specs);
    config_free(cfg);
}

static void test_unknown_stage_option(void **state)
{
    (void)state;
    assert_pipeline_refused("              colour = \"blue\";\n",
                            "12: stage template: unknown option \"colour\" "
                            "(accepted: min_confidence, note)");
}

static void test_stage_option_out_of_range(void **state)
{
    (void)state;
    assert_pipeline_refused("              min_confidence = 1.5;\n",
                            "12: stage template: option \"min_confidence\" is "
                            "1.5, outside [0, 1]");
}

static void test_stage_option_wrong_type(void **state)
{
    (void)state;
    assert_pipeline_refused("              note = 3;\n",
                            "12: stage template: option \"note\" must be a "
                            "string, not an integer");
}

static void test_pipeline_loads(void **state)
{
    struct classify_config *cfg = NULL;
    struct stage_spec *specs;
    struct pipeline *p;
    cls_error err = {0};
    struct reports r;

    (void)state;
    assert_int_equal(load(stages_ok, &r, &cfg, NULL), 0);
    specs = config_stage_specs(cfg);
    p = pipeline_load(specs, cfg->n_stages, 1, NULL, NULL, &err);
    assert_non_null(p);
    assert_string_equal(p->stages[0]->name, "template");
    assert_int_equal(pipeline_release(p), 0);
    free(specs);
    config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_file_parses),
        cmocka_unit_test(test_minimal_file_and_defaults),
        cmocka_unit_test(test_unknown_setting),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_missing_required_group),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_bad_provider_reference),
        cmocka_unit_test(test_bad_provider_kind),
        cmocka_unit_test(test_secret_in_key_setting),
        cmocka_unit_test(test_duplicate_stage),
        cmocka_unit_test(test_admin_must_be_loopback),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_all_problems_reported),
        cmocka_unit_test(test_unknown_stage_option),
        cmocka_unit_test(test_stage_option_out_of_range),
        cmocka_unit_test(test_stage_option_wrong_type),
        cmocka_unit_test(test_pipeline_loads),
    };

    core_log_setup(CORE_LOG_WARN, 2);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
