/*
 * s3_text_test.c - core/s3 pieces that need no server: SigV4 encoding,
 * XML extraction, s3:// URL parsing, configuration from the environment
 * and client configuration checks.
 */
#include "s3/s3_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_encode(void **state)
{
    struct s3_buf b = {0};

    (void)state;
    assert_int_equal(s3_buf_encode(&b, "a-b_c.d~e/f g+h=&ü", 1), 0);
    assert_string_equal(b.data, "a-b_c.d~e/f%20g%2Bh%3D%26%C3%BC");
    b.len = 0;
    assert_int_equal(s3_buf_encode(&b, "x/y", 0), 0);
    assert_string_equal(b.data, "x%2Fy");
    s3_buf_free(&b);
}

static void test_buf_max(void **state)
{
    struct s3_buf b = {.max = 4};

    (void)state;
    assert_int_equal(s3_buf_append(&b, "abcd", 4), 0);
    assert_int_equal(s3_buf_append(&b, "e", 1), -1);
    assert_string_equal(b.data, "abcd");
    s3_buf_free(&b);
}

static void test_xml_text(void **state)
{
    const char *xml = "<Error><Code>SignatureDoesNotMatch</Code>"
                      "<Message>a &lt;b&gt; &amp; &quot;c&quot;</Message>"
                      "<Key>k1</Key><Key>k2</Key></Error>";
    size_t len = strlen(xml);
    size_t pos = 0;
    char *t;

    (void)state;
    t = s3_xml_text(xml, len, &pos, "Code");
    assert_string_equal(t, "SignatureDoesNotMatch");
    free(t);
    t = s3_xml_text(xml, len, &pos, "Message");
    assert_string_equal(t, "a <b> & \"c\"");
    free(t);
    t = s3_xml_text(xml, len, &pos, "Key");
    assert_string_equal(t, "k1");
    free(t);
    t = s3_xml_text(xml, len, &pos, "Key");
    assert_string_equal(t, "k2");
    free(t);
    assert_null(s3_xml_text(xml, len, &pos, "Key"));
    pos = 0;
    assert_null(s3_xml_text(xml, 20, &pos, "Message"));
}

static void test_url_parse(void **state)
{
    struct s3_error err = {0};
    char *bucket;
    char *key;

    (void)state;
    assert_int_equal(s3_url_parse("s3://b/p/q.jsonl", &bucket, &key, &err), 0);
    assert_string_equal(bucket, "b");
    assert_string_equal(key, "p/q.jsonl");
    free(bucket);
    free(key);

    assert_int_equal(s3_url_parse("s3://b", &bucket, &key, &err), 0);
    assert_string_equal(key, "");
    free(bucket);
    free(key);

    assert_int_equal(s3_url_parse("http://b/k", &bucket, &key, &err), -1);
    assert_string_equal(err.code, "InvalidURL");
    assert_null(bucket);
    assert_int_equal(s3_url_parse("s3:///k", &bucket, &key, &err), -1);
    assert_string_equal(err.code, "InvalidURL");
}

static void test_config_from_env(void **state)
{
    struct s3_config cfg;

    (void)state;
    unsetenv("AWS_ENDPOINT_URL_S3");
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_REGION");
    unsetenv("S3_PATH_STYLE");
    setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
    s3_config_from_env(&cfg, "bk");
    assert_null(cfg.endpoint);
    assert_string_equal(cfg.region, "eu-west-1");
    assert_string_equal(cfg.bucket, "bk");
    assert_int_equal(cfg.path_style, 0);

    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000", 1);
    setenv("AWS_REGION", "us-east-2", 1);
    s3_config_from_env(&cfg, "bk");
    assert_string_equal(cfg.endpoint, "http://127.0.0.1:9000");
    assert_string_equal(cfg.region, "us-east-2");
    assert_int_equal(cfg.path_style, 1);
    unsetenv("AWS_ENDPOINT_URL");
}

static void test_client_checks(void **state)
{
    struct s3_config cfg = {.endpoint = "http://127.0.0.1:1", .bucket = "b"};
    struct s3_client *c = NULL;
    struct s3_error err = {0};

    (void)state;
    unsetenv("AWS_ACCESS_KEY_ID");
    setenv("AWS_SECRET_ACCESS_KEY", "sekrit-value", 1);
    assert_int_equal(s3_client_new(&cfg, &c, &err), -1);
    assert_string_equal(err.code, "MissingCredentials");
    assert_null(strstr(err.message, "sekrit-value"));

    setenv("AWS_ACCESS_KEY_ID", "id", 1);
    cfg.endpoint = "ftp://127.0.0.1";
    assert_int_equal(s3_client_new(&cfg, &c, &err), -1);
    assert_string_equal(err.code, "InvalidConfig");
    cfg.endpoint = "http://127.0.0.1:1";
    cfg.bucket = "a/b";
    assert_int_equal(s3_client_new(&cfg, &c, &err), -1);
    assert_string_equal(err.code, "InvalidConfig");
    cfg.bucket = "b";
    cfg.part_size = 10;
    assert_int_equal(s3_client_new(&cfg, &c, &err), -1);
    assert_string_equal(err.code, "InvalidConfig");

    cfg.part_size = 0;
    assert_int_equal(s3_client_new(&cfg, &c, &err), 0);
    assert_int_equal(c->part_size, S3_DEFAULT_PART_SIZE);
    assert_string_equal(c->sigv4, "aws:amz:us-east-1:s3");
    s3_client_free(c);
}

static void test_transport_error(void **state)
{
    struct s3_config cfg = {.endpoint = "http://127.0.0.1:1",
                            .bucket = "b",
                            .path_style = 1,
                            .timeout_s = 5};
    struct s3_request put = {
        .method = "PUT", .key = "k", .body = "x", .body_len = 1};
    struct s3_request post = {
        .method = "POST", .key = "k", .query = "uploads="};
    struct s3_client *c = NULL;
    struct s3_error err = {0};

    (void)state;
    setenv("AWS_ACCESS_KEY_ID", "id", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
    assert_int_equal(s3_client_new(&cfg, &c, &err), 0);
    assert_int_equal(s3_put_object(c, "k", "x", 1, NULL, &err), -1);
    assert_string_equal(err.code, "Transport");
    assert_int_equal(err.http_status, 0);
    assert_non_null(strstr(err.message, "s3://b/k"));
    assert_non_null(strstr(err.message, "127.0.0.1:1"));

    /* a refused connection is retried for PUT, never for POST */
    assert_int_equal(s3_perform(c, &put, "put", &err), -1);
    assert_int_equal(put.attempts, S3_ATTEMPTS);
    assert_int_equal(s3_perform(c, &post, "start", &err), -1);
    assert_int_equal(post.attempts, 1);
    s3_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_buf_max),
        cmocka_unit_test(test_xml_text),
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_config_from_env),
        cmocka_unit_test(test_client_checks),
        cmocka_unit_test(test_transport_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
