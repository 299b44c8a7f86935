/*
 * s3_store_test.c - core/s3 against a real SigV4-checking store
 * (@20minutes/s3rver started by run-store-test.sh in a private netns).
 *
 * Environment: S3_TEST_ENDPOINT (http://127.0.0.1:PORT), S3_TEST_BUCKET
 * (must not exist yet: the group setup creates it with s3_create_bucket),
 * AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY (the pair the store accepts).
 */
#include "s3/s3_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#define SMALL_PART (64 * 1024)

static const char *endpoint;
static const char *bucket;
static char good_secret[256];

static struct s3_config test_config(size_t part_size)
{
    struct s3_config cfg = {.endpoint = endpoint,
                            .region = "us-east-1",
                            .bucket = bucket,
                            .path_style = 1,
                            .part_size = part_size,
                            .timeout_s = 60};
    return cfg;
}

static struct s3_client *new_client(size_t part_size)
{
    struct s3_config cfg = test_config(part_size);
    struct s3_client *c = NULL;
    struct s3_error err = {0};

    if (s3_client_new(&cfg, &c, &err) < 0)
        fail_msg("client: %s", err.message);
    return c;
}

/* Deterministic, position-dependent bytes so misplaced chunks show. */
static unsigned char *make_data(size_t len, uint32_t seed)
{
    unsigned char *p = malloc(len ? len : 1);
    uint32_t x = seed * 2654435761u + 1;
    size_t i;

    assert_non_null(p);
    for (i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)(x ^ i);
    }
    return p;
}

static void assert_object_equals(struct s3_client *c, const char *key,
                                 const unsigned char *want, size_t len)
{
    struct s3_error err = {0};
    void *got = NULL;
    size_t got_len = 0;

    if (s3_get_object_mem(c, key, len + 1, &got, &got_len, &err) < 0)
        fail_msg("get %s: %s", key, err.message);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, want, len);
    free(got);
}

/* The Content-Type the store returns for key. */
static void assert_content_type(struct s3_client *c, const char *key,
                                const char *want)
{
    struct s3_buf body = {0};
    struct s3_request req = {.method = "GET", .key = key, .resp = &body};
    struct s3_error err = {0};

    if (s3_perform(c, &req, "get object", &err) < 0)
        fail_msg("get %s: %s", key, err.message);
    assert_string_equal(req.resp_type, want);
    s3_buf_free(&body);
}

static size_t count_prefix(struct s3_client *c, const char *prefix)
{
    struct s3_error err = {0};
    size_t n = 0;

    if (s3_list_objects(c, prefix, NULL, NULL, &n, &err) < 0)
        fail_msg("list %s: %s", prefix, err.message);
    return n;
}

/* Write data through a writer in uneven chunks (1, 7, 4093, ... bytes). */
static int stream(struct s3_writer *w, const unsigned char *data, size_t len,
                  struct s3_error *err)
{
    static const size_t steps[] = {1, 7, 4093, 65536, 100000, 3};
    size_t off = 0;
    size_t i = 0;
    size_t n;

    while (off < len) {
        n = steps[i++ % (sizeof(steps) / sizeof(steps[0]))];
        if (n > len - off)
            n = len - off;
        if (s3_writer_write(w, data + off, n, err) < 0)
            return -1;
        off += n;
    }
    return 0;
}

static void test_put_get_small(void **state)
{
    struct s3_client *c = new_client(0);
    struct s3_error err = {0};
    unsigned char *data = make_data(1000, 1);
    const char *key = "small/dir with space/ünï+=&?.bin";
    void *got = NULL;
    size_t len = 0;

    (void)state;
    if (s3_put_object(c, key, data, 1000, NULL, &err) < 0)
        fail_msg("put: %s", err.message);
    assert_object_equals(c, key, data, 1000);
    assert_int_equal(count_prefix(c, "small/dir with space/"), 1);

    if (s3_put_object(c, "small/empty", "", 0, "text/plain", &err) < 0)
        fail_msg("put empty: %s", err.message);
    assert_int_equal(s3_get_object_mem(c, "small/empty", 10, &got, &len, &err),
                     0);
    assert_int_equal(len, 0);
    free(got);

    assert_int_equal(s3_delete_object(c, key, &err), 0);
    assert_int_equal(count_prefix(c, "small/dir with space/"), 0);
    free(data);
    s3_client_free(c);
}

static void test_get_missing(void **state)
{
    struct s3_client *c = new_client(0);
    struct s3_error err = {0};
    void *got = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(s3_get_object_mem(c, "no/such/key", 100, &got, &len, &err),
                     -1);
    assert_int_equal(err.http_status, 404);
    assert_string_equal(err.code, "NoSuchKey");
    assert_non_null(strstr(err.message, "no/such/key"));
    assert_null(got);
    s3_client_free(c);
}

static void test_writer_small_single_put(void **state)
{
    struct s3_client *c = new_client(SMALL_PART);
    struct s3_writer *w = NULL;
    struct s3_error err = {0};
    unsigned char *data = make_data(SMALL_PART - 1, 2);
    uint64_t size = 0;

    (void)state;
    assert_int_equal(s3_writer_open(c, "writer/small.bin", &w, &err), 0);
    assert_int_equal(s3_writer_set_content_type(w, "text/csv", &err), 0);
    assert_int_equal(stream(w, data, SMALL_PART - 1, &err), 0);
    assert_int_equal(s3_writer_set_content_type(w, "text/plain", &err), -1);
    assert_string_equal(err.code, "InvalidArgument");
    if (s3_writer_commit(w, &size, &err) < 0)
        fail_msg("commit: %s", err.message);
    assert_int_equal(size, SMALL_PART - 1);
    assert_object_equals(c, "writer/small.bin", data, SMALL_PART - 1);
    assert_content_type(c, "writer/small.bin", "text/csv");
    free(data);
    s3_client_free(c);
}

static void test_writer_empty(void **state)
{
    struct s3_client *c = new_client(0);
    struct s3_writer *w = NULL;
    struct s3_error err = {0};
    uint64_t size = 1;

    (void)state;
    assert_int_equal(s3_writer_open(c, "writer/empty.bin", &w, &err), 0);
    if (s3_writer_commit(w, &size, &err) < 0)
        fail_msg("commit: %s", err.message);
    assert_int_equal(size, 0);
    assert_object_equals(c, "writer/empty.bin", (const unsigned char *)"", 0);
    s3_client_free(c);
}

static void test_writer_multipart(void **state)
{
    const size_t len = 5 * SMALL_PART + 12345;
    struct s3_client *c = new_client(SMALL_PART);
    struct s3_writer *w = NULL;
    struct s3_error err = {0};
    unsigned char *data = make_data(len, 3);
    uint64_t size = 0;

    (void)state;
    assert_int_equal(s3_writer_open(c, "writer/multi.bin", &w, &err), 0);
    if (stream(w, data, len, &err) < 0)
        fail_msg("write: %s", err.message);
    if (s3_writer_commit(w, &size, &err) < 0)
        fail_msg("commit: %s", err.message);
    assert_int_equal(size, len);
    assert_object_equals(c, "writer/multi.bin", data, len);
    assert_int_equal(count_prefix(c, "writer/multi.bin"), 1);
    assert_content_type(c, "writer/multi.bin", "application/octet-stream");
    free(data);
    s3_client_free(c);
}

static void test_writer_default_threshold(void **state)
{
    const size_t len = 2 * S3_DEFAULT_PART_SIZE + 777;
    struct s3_client *c = new_client(0);
    struct s3_writer *w = NULL;
    struct s3_error err = {0};
    unsigned char *data = make_data(len, 4);

    (void)state;
    assert_int_equal(s3_writer_open(c, "writer/big.bin", &w, &err), 0);
    if (s3_writer_write(w, data, len, &err) < 0)
        fail_msg("write: %s", err.message);
    if (s3_writer_commit(w, NULL, &err) < 0)
        fail_msg("commit: %s", err.message);
    assert_object_equals(c, "writer/big.bin", data, len);
    free(data);
    s3_client_free(c);
}

static void test_writer_abort_mid_stream(void **state)
{
    const size_t len = 3 * SMALL_PART + 100;
    struct s3_client *c = new_client(SMALL_PART);
    struct s3_writer *w = NULL;
    struct s3_error err = {0};
    unsigned char *data = make_data(len, 5);
    void *got = NULL;
    size_t got_len = 0;

    (void)state;
    assert_int_equal(s3_writer_open(c, "abort/half.bin", &w, &err), 0);
    assert_int_equal(stream(w, data, len, &err), 0);
    /* three parts are uploaded by now; the producer fails and gives up */
    s3_writer_abort(w);

    assert_int_equal(count_prefix(c, "abort/"), 0);
    assert_int_equal(
        s3_get_object_mem(c, "abort/half.bin", len, &got, &got_len, &err), -1);
    assert_string_equal(err.code, "NoSuchKey");
    free(data);
    s3_client_free(c);
}

static void test_writer_store_failure(void **state)
{
    struct s3_config cfg = test_config(SMALL_PART);
    struct s3_client *c = NULL;
    struct s3_writer *w = NULL;
    struct s3_error err = {0};
    unsigned char *data = make_data(2 * SMALL_PART, 6);

    (void)state;
    cfg.bucket = "no-such-bucket";
    assert_int_equal(s3_client_new(&cfg, &c, &err), 0);
    assert_int_equal(s3_writer_open(c, "x/y.bin", &w, &err), 0);
    assert_int_equal(stream(w, data, 2 * SMALL_PART, &err), -1);
    assert_string_equal(err.code, "NoSuchBucket");
    assert_int_equal(err.http_status, 404);
    /* later calls replay the first failure */
    memset(&err, 0, sizeof(err));
    assert_int_equal(s3_writer_write(w, "z", 1, &err), -1);
    assert_string_equal(err.code, "NoSuchBucket");
    s3_writer_abort(w);
    free(data);
    s3_client_free(c);
}

/* Run one write with a client built while the secret is wrong. */
static void wrong_secret_attempt(size_t len, const char *key)
{
    struct s3_client *bad = NULL;
    struct s3_writer *w = NULL;
    struct s3_error err = {0};
    unsigned char *data = make_data(len, 7);
    struct s3_config cfg = test_config(SMALL_PART);
    int rc;

    setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret", 1);
    rc = s3_client_new(&cfg, &bad, &err);
    setenv("AWS_SECRET_ACCESS_KEY", good_secret, 1);
    assert_int_equal(rc, 0);

    assert_int_equal(s3_writer_open(bad, key, &w, &err), 0);
    rc = stream(w, data, len, &err);
    if (rc == 0)
        rc = s3_writer_commit(w, NULL, &err);
    else
        s3_writer_abort(w);
    assert_int_equal(rc, -1);
    assert_int_equal(err.http_status, 403);
    assert_string_equal(err.code, "SignatureDoesNotMatch");
    assert_non_null(strstr(err.message, "SignatureDoesNotMatch"));
    assert_non_null(strstr(err.message, key));
    assert_null(strstr(err.message, "not-the-secret"));
    free(data);
    s3_client_free(bad);
}

static void test_wrong_secret(void **state)
{
    struct s3_client *c = new_client(0);

    (void)state;
    wrong_secret_attempt(100, "denied/small.bin");
    wrong_secret_attempt(3 * SMALL_PART, "denied/multi.bin");
    assert_int_equal(count_prefix(c, "denied/"), 0);
    s3_client_free(c);
}

struct collect {
    char keys[3][64];
    size_t n;
};

static int collect_first(void *ud, const struct s3_object_info *obj)
{
    struct collect *col = ud;

    snprintf(col->keys[col->n], sizeof(col->keys[0]), "%s", obj->key);
    assert_int_equal(obj->size, 2);
    return ++col->n == 3;
}

static void test_list_pages(void **state)
{
    const size_t total = 1003; /* more than one 1000-key page */
    struct s3_client *c = new_client(0);
    struct s3_error err = {0};
    struct collect col = {0};
    char key[64];
    size_t i;
    size_t n = 0;

    (void)state;
    for (i = 0; i < total; i++) {
        snprintf(key, sizeof(key), "many/k%05zu", i);
        if (s3_put_object(c, key, "hi", 2, NULL, &err) < 0)
            fail_msg("put %s: %s", key, err.message);
    }
    assert_int_equal(count_prefix(c, "many/"), total);

    assert_int_equal(s3_list_objects(c, "many/", collect_first, &col, &n, &err),
                     0);
    assert_int_equal(n, 3);
    assert_string_equal(col.keys[0], "many/k00000");
    assert_string_equal(col.keys[2], "many/k00002");
    s3_client_free(c);
}

static void test_open_url(void **state)
{
    struct s3_config base = test_config(SMALL_PART);
    struct s3_client *c = new_client(0);
    struct s3_writer *w = NULL;
    struct s3_error err = {0};
    char url[256];
    unsigned char *data = make_data(SMALL_PART + 5, 8);

    (void)state;
    base.bucket = NULL;
    snprintf(url, sizeof(url), "s3://%s/exports/2026-12/", bucket);
    if (s3_writer_open_url(url, "run-1.jsonl", &base, &w, &err) < 0)
        fail_msg("open url: %s", err.message);
    assert_int_equal(
        s3_writer_set_content_type(w, "application/x-ndjson", &err), 0);
    assert_int_equal(s3_writer_write(w, data, SMALL_PART + 5, &err), 0);
    assert_int_equal(s3_writer_commit(w, NULL, &err), 0);
    assert_object_equals(c, "exports/2026-12/run-1.jsonl", data,
                         SMALL_PART + 5);
    assert_content_type(c, "exports/2026-12/run-1.jsonl",
                        "application/x-ndjson");

    assert_int_equal(s3_writer_open_url("s3://", "x", &base, &w, &err), -1);
    assert_string_equal(err.code, "InvalidURL");
    snprintf(url, sizeof(url), "s3://%s/", bucket);
    assert_int_equal(s3_writer_open_url(url, NULL, &base, &w, &err), -1);
    assert_string_equal(err.code, "InvalidURL");
    free(data);
    s3_client_free(c);
}

static int create_bucket(void **state)
{
    struct s3_client *c = new_client(0);
    struct s3_error err = {0};
    int rc = s3_create_bucket(c, &err);

    (void)state;
    if (rc < 0)
        fprintf(stderr, "create bucket: %s\n", err.message);
    s3_client_free(c);
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_small),
        cmocka_unit_test(test_get_missing),
        cmocka_unit_test(test_writer_small_single_put),
        cmocka_unit_test(test_writer_empty),
        cmocka_unit_test(test_writer_multipart),
        cmocka_unit_test(test_writer_default_threshold),
        cmocka_unit_test(test_writer_abort_mid_stream),
        cmocka_unit_test(test_writer_store_failure),
        cmocka_unit_test(test_wrong_secret),
        cmocka_unit_test(test_list_pages),
        cmocka_unit_test(test_open_url),
    };
    const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
    int rc;

    endpoint = getenv("S3_TEST_ENDPOINT");
    bucket = getenv("S3_TEST_BUCKET");
    if (!endpoint || !bucket || !secret || !getenv("AWS_ACCESS_KEY_ID")) {
        fprintf(stderr, "s3_store_test: set S3_TEST_ENDPOINT, S3_TEST_BUCKET, "
                        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n");
        return 2;
    }
    snprintf(good_secret, sizeof(good_secret), "%s", secret);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, create_bucket, NULL);
    curl_global_cleanup();
    return rc;
}
