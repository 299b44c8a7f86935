/*
 * test_json.c - the per-call arena, the UTF-8 check, the read-only JSON
 * views and the output builder (core/common/json.c), which the real and
 * the fake host share.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/json.h"

static void test_arena(void **state)
{
    struct core_arena a;
    unsigned char *p, *big;
    char *s;

    (void)state;
    core_arena_init(&a);
    assert_null(core_arena_alloc(&a, 0));
    p = core_arena_alloc(&a, 3);
    assert_non_null(p);
    assert_int_equal(p[0] | p[1] | p[2], 0);
    assert_int_equal((uintptr_t)core_arena_alloc(&a, 1) % _Alignof(max_align_t),
                     0);
    big = core_arena_alloc(&a, 100000); /* larger than a chunk */
    assert_non_null(big);
    big[99999] = 1;
    s = core_arena_strndup(&a, "abcdef", 3);
    assert_string_equal(s, "abc");
    core_arena_release(&a);
    assert_int_equal(a.bytes, 0);
    assert_null(a.chunks);
}

static int cleanup_runs;

static void count_cleanup(void *p)
{
    (void)p;
    cleanup_runs++;
}

static void test_arena_cleanups(void **state)
{
    struct core_arena a;

    (void)state;
    core_arena_init(&a);
    cleanup_runs = 0;
    assert_int_equal(core_arena_defer(&a, count_cleanup, NULL), 0);
    assert_int_equal(core_arena_defer(&a, count_cleanup, NULL), 0);
    core_arena_release(&a);
    assert_int_equal(cleanup_runs, 2);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_int_equal(core_utf8_check("plain", 5), 5);
    assert_int_equal(core_utf8_check("caf\xc3\xa9", 5), 5);
    assert_int_equal(core_utf8_check("\xf0\x9f\x98\x80", 4), 4);
    assert_int_equal(core_utf8_check("caf\xe9!", 5), 3);         /* Latin-1 */
    assert_int_equal(core_utf8_check("a\xc0\xaf", 3), 1);        /* overlong */
    assert_int_equal(core_utf8_check("\xed\xa0\x80", 3), 0);     /* surrogate */
    assert_int_equal(core_utf8_check("ab\xe2\x82", 4), 2);       /* truncated */
    assert_int_equal(core_utf8_check("\xf4\x90\x80\x80", 4), 0); /* > max */
}

static void test_views(void **state)
{
    static const char text[] =
        "{\"s\":\"x\",\"n\":2.5,\"b\":true,\"z\":null,\"a\":[1,\"two\"],"
        "\"o\":{\"k\":false}}";
    struct core_arena a;
    const cls_json *v, *arr;
    cls_error err = {0};
    double d = 0;
    int b = 0;

    (void)state;
    core_arena_init(&a);
    v = core_json_parse(&a, text, strlen(text), &err);
    assert_non_null(v);
    assert_int_equal(core_json_type(v), CLS_JSON_OBJECT);
    assert_int_equal(core_json_size(v), 6);
    assert_int_equal(core_json_type(NULL), CLS_JSON_ABSENT);
    assert_int_equal(core_json_type(core_json_get(v, "z")), CLS_JSON_NULL);
    assert_null(core_json_get(v, "missing"));
    assert_string_equal(core_json_string(core_json_get(v, "s")), "x");
    assert_null(core_json_string(core_json_get(v, "n")));
    assert_int_equal(core_json_number(core_json_get(v, "n"), &d), CLS_OK);
    assert_true(d == 2.5);
    assert_int_equal(core_json_number(core_json_get(v, "s"), &d), CLS_EINVAL);
    assert_int_equal(core_json_bool(core_json_get(v, "b"), &b), CLS_OK);
    assert_int_equal(b, 1);
    assert_int_equal(core_json_bool(core_json_get(v, "z"), &b), CLS_EINVAL);

    arr = core_json_get(v, "a");
    assert_int_equal(core_json_type(arr), CLS_JSON_ARRAY);
    assert_int_equal(core_json_size(arr), 2);
    assert_string_equal(core_json_string(core_json_at(arr, 1)), "two");
    assert_null(core_json_at(arr, 2));
    assert_null(core_json_get(arr, "k")); /* not an object */
    assert_string_equal(core_json_key(core_json_at(v, 5)), "o");
    assert_int_equal(core_json_size(core_json_get(v, "s")), 0);
    core_arena_release(&a);
}

static void assert_parse_error(const char *text, size_t len, const char *want)
{
    struct core_arena a;
    cls_error err = {0};

    core_arena_init(&a);
    assert_null(core_json_parse(&a, text, len, &err));
    assert_int_equal(err.code, CLS_FAIL);
    assert_string_equal(err.message, want);
    core_arena_release(&a);
}

static void test_parse_errors(void **state)
{
    (void)state;
    assert_parse_error("{\"a\":\"caf\xe9\"}", 11,
                       "JSON parse: invalid UTF-8 at byte offset 9");
    assert_parse_error("{\"a\" 1}", 7,
                       "JSON parse: syntax error at byte offset 5");
    assert_parse_error("{} {}", 5,
                       "JSON parse: unexpected text after the value at byte "
                       "offset 3");
    assert_parse_error(NULL, 0, "JSON parse: no text given");
}

static void test_parse_length_bounded(void **state)
{
    struct core_arena a;
    cls_error err = {0};

    (void)state;
    core_arena_init(&a);
    /* Only the first 4 bytes are the document. */
    assert_non_null(core_json_parse(&a, "[1] garbage", 4, &err));
    core_arena_release(&a);
}

/* Print out and compare; frees everything. */
static void assert_output(cls_out *out, const char *want)
{
    cls_error err = {0};
    char *text = NULL;

    assert_int_equal(core_out_print(out, &text, &err), CLS_OK);
    assert_string_equal(text, want);
    free(text);
    core_out_fini(out);
}

static void test_builder(void **state)
{
    cls_out out;

    (void)state;
    assert_int_equal(core_out_init(&out), CLS_OK);
    core_out_string(&out, "s", "caf\xc3\xa9");
    core_out_string(&out, "nul", NULL);
    core_out_number(&out, "n", 0.25);
    core_out_int(&out, "i", -7);
    core_out_int(&out, "big", INT64_MAX);
    core_out_bool(&out, "b", 5);
    core_out_null(&out, "z");
    core_out_array_begin(&out, "a");
    core_out_int(&out, NULL, 1);
    core_out_object_begin(&out, NULL);
    core_out_string(&out, "k", "v");
    core_out_end(&out);
    core_out_end(&out);
    assert_output(&out, "{\"s\":\"café\",\"nul\":null,\"n\":0.25,\"i\":-7,"
                        "\"big\":9223372036854775807,\"b\":true,\"z\":null,"
                        "\"a\":[1,{\"k\":\"v\"}]}");
}

/* Apply one misuse to a fresh builder; assert the sticky error. */
static void assert_misuse(void (*misuse)(cls_out *), cls_status code,
                          const char *want)
{
    cls_error err = {0};
    char *text = NULL;
    cls_out out;

    core_out_init(&out);
    misuse(&out);
    /* Sticky: a correct call afterwards still reports the first error. */
    assert_int_equal(core_out_string(&out, "later", "ok"), code);
    assert_int_equal(core_out_print(&out, &text, &err), code);
    assert_null(text);
    assert_string_equal(err.message, want);
    core_out_fini(&out);
}

static void misuse_no_key(cls_out *o)
{
    core_out_int(o, NULL, 1);
}

static void misuse_key_in_array(cls_out *o)
{
    core_out_array_begin(o, "a");
    core_out_int(o, "k", 1);
}

static void misuse_end_root(cls_out *o)
{
    core_out_end(o);
}

static void misuse_duplicate(cls_out *o)
{
    core_out_int(o, "k", 1);
    core_out_int(o, "k", 2);
}

static void misuse_bad_utf8(cls_out *o)
{
    core_out_string(o, "k", "\xff");
}

static void misuse_bad_utf8_key(cls_out *o)
{
    core_out_string(o, "\xc3", "v");
}

static void misuse_nan(cls_out *o)
{
    core_out_number(o, "k", NAN);
}

static void misuse_too_deep(cls_out *o)
{
    int i;

    core_out_array_begin(o, "a");
    for (i = 0; i < CORE_OUT_MAX_DEPTH; i++)
        core_out_array_begin(o, NULL);
}

static void test_builder_misuse(void **state)
{
    (void)state;
    assert_misuse(misuse_no_key, CLS_EINVAL,
                  "output builder: a member of an object needs a key");
    assert_misuse(misuse_key_in_array, CLS_EINVAL,
                  "output builder: key \"k\" given inside an array");
    assert_misuse(misuse_end_root, CLS_EINVAL,
                  "output builder: end() without an open object or array");
    assert_misuse(misuse_duplicate, CLS_EINVAL,
                  "output builder: duplicate key \"k\"");
    assert_misuse(misuse_bad_utf8, CLS_EINVAL,
                  "output builder: value of \"k\" is not valid UTF-8");
    assert_misuse(misuse_bad_utf8_key, CLS_EINVAL,
                  "output builder: key is not valid UTF-8");
    assert_misuse(misuse_nan, CLS_EINVAL,
                  "output builder: value of \"k\" is not a finite number");
    assert_misuse(misuse_too_deep, CLS_EINVAL,
                  "output builder: nesting deeper than 64 levels");
}

static void test_builder_unclosed(void **state)
{
    cls_error err = {0};
    cls_out out;

    (void)state;
    core_out_init(&out);
    core_out_object_begin(&out, "o");
    core_out_array_begin(&out, "a");
    assert_int_equal(core_out_check(&out, &err), CLS_EINVAL);
    assert_string_equal(err.message,
                        "output builder: 2 object(s) or array(s) left open");
    core_out_fini(&out);
}

static void test_builder_copy(void **state)
{
    static const char text[] =
        "{\"x\":[1,{\"y\":\"z\"}],\"w\":\"caf\xc3\xa9\"}";
    const cls_json *v, *taken, *copy;
    struct core_arena a;
    cls_error err = {0};
    char *printed = NULL;
    cls_out out;

    (void)state;
    core_arena_init(&a);
    v = core_json_parse(&a, text, strlen(text), &err);
    core_out_init(&out);
    core_out_json(&out, "copy", v);
    core_out_array_begin(&out, "second");
    core_out_json(&out, NULL, core_json_at(core_json_get(v, "x"), 1));
    core_out_end(&out);
    assert_int_equal(core_out_print(&out, &printed, &err), CLS_OK);
    assert_string_equal(printed, "{\"copy\":{\"x\":[1,{\"y\":\"z\"}],\"w\":"
                                 "\"café\"},\"second\":[{\"y\":\"z\"}]}");
    free(printed);
    assert_int_equal(core_out_json(&out, "absent", NULL), CLS_EINVAL);
    core_out_fini(&out);

    core_out_init(&out);
    core_out_json(&out, "copy", v);
    assert_int_equal(core_out_take(&out, &a, &taken, &err), CLS_OK);
    core_out_fini(&out);
    copy = core_json_get(taken, "copy");
    assert_string_equal(core_json_string(core_json_get(copy, "w")), "café");
    assert_int_equal(core_json_size(core_json_get(copy, "x")), 2);
    core_arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_arena_cleanups),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_views),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_length_bounded),
        cmocka_unit_test(test_builder),
        cmocka_unit_test(test_builder_misuse),
        cmocka_unit_test(test_builder_unclosed),
        cmocka_unit_test(test_builder_copy),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
