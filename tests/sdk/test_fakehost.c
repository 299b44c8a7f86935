/*
 * test_fakehost.c - the SDK's fake host itself: descriptor and option
 * checks, memory accounting, deterministic time and randomness, run
 * blocks, read_file, the scripted LLM and the captured log.  The stage
 * under test is defined here; its behaviour is chosen by input.action.
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

#include "classify/fakehost.h"

struct inst {
    const cls_host_api *api;
    cls_host *host;
    void *kept; /* freed by destroy unless "leak" was set */
    int leak;
};

static cls_status t_create(const cls_host_api *api, cls_host *host,
                           void **instance, cls_error *err)
{
    struct inst *t = api->alloc(host, sizeof(*t));

    if (t == NULL)
        return cls_error_set(err, CLS_ENOMEM, "oom");
    memset(t, 0, sizeof(*t));
    t->api = api;
    t->host = host;
    api->config_bool(host, "leak", &t->leak);
    t->kept = api->alloc(host, 64);
    api->log(host, CLS_LOG_INFO, "hello %d", 7);
    *instance = t;
    return CLS_OK;
}

static cls_status write_n(void *arg, cls_out *result, cls_error *err)
{
    (void)err;
    return ((struct inst *)arg)->api->out_int(result, "n", 5);
}

static cls_status t_process(void *instance, cls_call *call,
                            const cls_json *input, cls_out *out, cls_error *err)
{
    struct inst *t = instance;
    const cls_host_api *api = t->api;
    const char *action = api->json_string(api->json_get(input, "action"));
    const cls_json *r = NULL;
    cls_llm_request req = {.struct_size = sizeof(req)};
    cls_llm_reply reply = {.struct_size = sizeof(reply)};
    cls_status st;
    char *text;

    if (strcmp(action, "clock") == 0) {
        api->out_int(out, "t1", api->now_ms(call));
        api->out_int(out, "t2", api->now_ms(call));
        return api->out_bool(out, "rand", api->random_u64(call) != 0);
    }
    if (strcmp(action, "run") == 0) {
        st = api->run(call, "n", write_n, t, &r, err);
        if (st == CLS_OK)
            api->counter_add(t->host, "runs", 1);
        return st == CLS_OK ? api->out_json(out, "r", r) : st;
    }
    if (strcmp(action, "file") == 0) {
        text = api->read_file(t->host, "prompt.txt", NULL, err);
        if (text == NULL)
            return CLS_FAIL;
        api->out_string(out, "text", text);
        api->free(t->host, text);
        return CLS_OK;
    }
    req.system_prompt = "sys";
    req.user_message = action;
    st = api->llm_complete(call, &req, &reply, err);
    if (st != CLS_OK)
        return st;
    return api->out_json(out, "reply", reply.object);
}

static void t_destroy(void *instance)
{
    struct inst *t = instance;

    if (!t->leak)
        t->api->free(t->host, t->kept);
    t->api->free(t->host, t);
}

static const cls_config_key t_schema[] = {
    {"leak", CLS_CONFIG_BOOL, 0, "false", 0, 0, "leak on destroy"},
    {"limit", CLS_CONFIG_INT, 0, NULL, 0, 100, "bounded integer"},
    {NULL, CLS_CONFIG_END, 0, NULL, 0, 0, NULL},
};

static const cls_stage_desc t_desc = {
    .magic = CLS_STAGE_MAGIC,
    .struct_size = sizeof(cls_stage_desc),
    .abi_major = CLS_ABI_MAJOR,
    .abi_minor = 0,
    .name = "fake-test",
    .version = "0.0.1",
    .service = "fake-test",
    .handler = "run",
    .config_schema = t_schema,
    .create = t_create,
    .process = t_process,
    .destroy = t_destroy,
};

static cls_fake_host *created(void)
{
    cls_fake_host *fh = cls_fake_host_new();
    cls_error err = {0};

    assert_non_null(fh);
    assert_int_equal(cls_fake_host_create(fh, &t_desc, &err), CLS_OK);
    return fh;
}

static char *run_action(cls_fake_host *fh, const char *action, cls_status want,
                        cls_error *err)
{
    char input[128], *out = NULL;

    snprintf(input, sizeof(input), "{\"action\":\"%s\"}", action);
    assert_int_equal(cls_fake_host_process(fh, input, &out, err), want);
    return out;
}

static void test_descriptor_checked(void **state)
{
    cls_stage_desc bad = t_desc;
    cls_fake_host *fh = cls_fake_host_new();
    cls_error err = {0};

    (void)state;
    bad.magic = 1;
    assert_int_equal(cls_fake_host_create(fh, &bad, &err), CLS_EINVAL);
    assert_string_equal(err.message, "fake host: bad descriptor magic "
                                     "0x00000001 (expected 0x434c5347)");
    bad = t_desc;
    bad.abi_minor = CLS_ABI_MINOR + 1;
    assert_int_equal(cls_fake_host_create(fh, &bad, &err), CLS_EINVAL);
    assert_int_equal(cls_fake_host_create(fh, &t_desc, &err), CLS_OK);
    assert_int_equal(cls_fake_host_create(fh, &t_desc, &err), CLS_EINVAL);
    assert_string_equal(err.message, "fake host: an instance is already live");
    cls_fake_host_free(fh);
}

static void test_options_checked(void **state)
{
    cls_fake_host *fh = cls_fake_host_new();
    cls_error err = {0};

    (void)state;
    cls_fake_host_set_option(fh, "leak", "maybe");
    assert_int_equal(cls_fake_host_create(fh, &t_desc, &err), CLS_EINVAL);
    assert_string_equal(err.message,
                        "option \"leak\" must be a boolean, not \"maybe\"");
    cls_fake_host_set_option(fh, "leak", "false");
    cls_fake_host_set_option(fh, "limit", "12x");
    assert_int_equal(cls_fake_host_create(fh, &t_desc, &err), CLS_EINVAL);
    assert_string_equal(err.message,
                        "option \"limit\" must be an integer, not \"12x\"");
    cls_fake_host_set_option(fh, "limit", "101");
    assert_int_equal(cls_fake_host_create(fh, &t_desc, &err), CLS_EINVAL);
    assert_string_equal(err.message,
                        "option \"limit\" is 101, outside [0, 100]");
    assert_int_equal(cls_fake_host_set_provider(fh, "gemini", 0), CLS_EINVAL);
    cls_fake_host_free(fh);
}

static void test_leak_counted(void **state)
{
    cls_fake_host *fh = cls_fake_host_new();
    cls_error err = {0};

    (void)state;
    assert_int_equal(cls_fake_host_create(fh, &t_desc, &err), CLS_OK);
    assert_int_equal(cls_fake_host_destroy(fh), 0);
    assert_int_equal(cls_fake_host_destroy(fh), 0); /* nothing live */

    cls_fake_host_set_option(fh, "leak", "true");
    assert_int_equal(cls_fake_host_create(fh, &t_desc, &err), CLS_OK);
    assert_int_equal(cls_fake_host_destroy(fh), 64);
    cls_fake_host_free(fh);
}

static void test_clock_and_random_deterministic(void **state)
{
    cls_fake_host *a = created(), *b = created();
    cls_error err = {0};
    char *x, *y;

    (void)state;
    x = run_action(a, "clock", CLS_OK, &err);
    y = run_action(b, "clock", CLS_OK, &err);
    assert_string_equal(x, y);
    assert_string_equal(
        x, "{\"t1\":1767225600000,\"t2\":1767225601000,\"rand\":true}");
    free(x);
    free(y);
    cls_fake_host_free(a);
    cls_fake_host_free(b);
}

static void test_run_and_log(void **state)
{
    cls_fake_host *fh = created();
    cls_error err = {0};
    char *out;

    (void)state;
    out = run_action(fh, "run", CLS_OK, &err);
    assert_string_equal(out, "{\"r\":{\"n\":5}}");
    free(out);
    assert_string_equal(cls_fake_host_log(fh),
                        "INFO hello 7\nMETRIC counter runs += 1\n");
    cls_fake_host_free(fh);
}

static void test_read_file(void **state)
{
    char dir[] = "/tmp/classify-fake-XXXXXX", path[64];
    cls_fake_host *fh = cls_fake_host_new();
    cls_error err = {0};
    char *out;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/prompt.txt", dir);
    f = fopen(path, "w");
    fputs("be brief", f);
    fclose(f);

    cls_fake_host_set_plugin_dir(fh, dir);
    assert_int_equal(cls_fake_host_create(fh, &t_desc, &err), CLS_OK);
    out = run_action(fh, "file", CLS_OK, &err);
    assert_string_equal(out, "{\"text\":\"be brief\"}");
    free(out);
    unlink(path);
    out = run_action(fh, "file", CLS_FAIL, &err);
    assert_null(out);
    assert_int_equal(cls_fake_host_destroy(fh), 0);
    rmdir(dir);
    cls_fake_host_free(fh);
}

static void test_llm_script(void **state)
{
    cls_fake_host *fh = cls_fake_host_new();
    cls_error err = {0};
    char *out;

    (void)state;
    cls_fake_host_set_provider(fh, "openai", 0);
    cls_fake_host_push_llm_reply(fh, CLS_OK, "{\"a\":1}");
    cls_fake_host_push_llm_reply(fh, CLS_RETRY, "429 from provider");
    cls_fake_host_push_llm_reply(fh, CLS_OK, "not json");
    assert_int_equal(cls_fake_host_create(fh, &t_desc, &err), CLS_OK);

    out = run_action(fh, "first", CLS_OK, &err);
    assert_string_equal(out, "{\"reply\":{\"a\":1}}");
    free(out);
    run_action(fh, "second", CLS_RETRY, &err);
    assert_string_equal(err.message, "429 from provider");
    run_action(fh, "third", CLS_FAIL, &err);
    assert_string_equal(err.message,
                        "JSON parse: syntax error at byte offset 0");
    run_action(fh, "fourth", CLS_FAIL, &err);
    assert_string_equal(err.message,
                        "llm_complete: fake host has no reply queued");

    assert_int_equal(cls_fake_host_llm_calls(fh), 3);
    assert_string_equal(cls_fake_host_llm_user(fh, 1), "second");
    assert_string_equal(cls_fake_host_llm_system(fh, 2), "sys");
    assert_null(cls_fake_host_llm_user(fh, 3));
    cls_fake_host_free(fh);
}

static void test_llm_refused_for_rules(void **state)
{
    cls_fake_host *fh = created();
    cls_error err = {0};

    (void)state;
    cls_fake_host_push_llm_reply(fh, CLS_OK, "{}");
    run_action(fh, "x", CLS_FAIL, &err);
    assert_string_equal(err.message, "llm_complete: provider is \"rules\"; no "
                                     "LLM is available");
    assert_int_equal(cls_fake_host_llm_calls(fh), 0);
    cls_fake_host_free(fh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor_checked),
        cmocka_unit_test(test_options_checked),
        cmocka_unit_test(test_leak_counted),
        cmocka_unit_test(test_clock_and_random_deterministic),
        cmocka_unit_test(test_run_and_log),
        cmocka_unit_test(test_read_file),
        cmocka_unit_test(test_llm_script),
        cmocka_unit_test(test_llm_refused_for_rules),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
