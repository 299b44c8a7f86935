/*
 * s3_ops.c - single-request S3 operations: create bucket, put, get,
 * delete and ListObjectsV2 with continuation tokens.
 */
#include "s3/s3_internal.h"

#include <stdlib.h>
#include <string.h>

int s3_create_bucket(struct s3_client *c, struct s3_error *err)
{
    struct s3_request req = {.method = "PUT"};

    if (s3_perform(c, &req, "create bucket", err) == 0)
        return 0;
    if (!strcmp(err->code, "BucketAlreadyOwnedByYou"))
        return 0;
    return -1;
}

int s3_put_object(struct s3_client *c, const char *key, const void *data,
                  size_t len, const char *content_type, struct s3_error *err)
{
    struct s3_request req = {.method = "PUT",
                             .key = key,
                             .body = data,
                             .body_len = len,
                             .content_type = content_type};

    if (!key || !*key)
        return s3_fail(err, 0, "InvalidArgument", "put object: empty key");
    return s3_perform(c, &req, "put object", err);
}

int s3_get_object(struct s3_client *c, const char *key, s3_sink_fn sink,
                  void *userdata, struct s3_error *err)
{
    struct s3_request req = {
        .method = "GET", .key = key, .sink = sink, .sink_ud = userdata};

    if (!key || !*key)
        return s3_fail(err, 0, "InvalidArgument", "get object: empty key");
    return s3_perform(c, &req, "get object", err);
}

int s3_get_object_mem(struct s3_client *c, const char *key, size_t max,
                      void **out, size_t *len, struct s3_error *err)
{
    struct s3_buf buf = {.max = max};
    struct s3_request req = {.method = "GET", .key = key, .resp = &buf};

    *out = NULL;
    *len = 0;
    if (!key || !*key)
        return s3_fail(err, 0, "InvalidArgument", "get object: empty key");
    if (s3_perform(c, &req, "get object", err) < 0) {
        s3_buf_free(&buf);
        return -1;
    }
    if (!buf.data && s3_buf_append(&buf, "", 0) < 0)
        return s3_fail(err, 0, "OutOfMemory", "get object: out of memory");
    *out = buf.data;
    *len = buf.len;
    return 0;
}

int s3_delete_object(struct s3_client *c, const char *key, struct s3_error *err)
{
    struct s3_request req = {.method = "DELETE", .key = key};

    if (!key || !*key)
        return s3_fail(err, 0, "InvalidArgument", "delete object: empty key");
    return s3_perform(c, &req, "delete object", err);
}

/* Parse one <Contents> element; returns fn's verdict or -1 on a bad entry. */
static int emit_entry(const char *xml, size_t len, s3_list_fn fn, void *ud)
{
    struct s3_object_info info = {0};
    size_t pos = 0;
    char *key = s3_xml_text(xml, len, &pos, "Key");
    char *size;
    char *etag;
    char *modified;
    int rc;

    if (!key)
        return -1;
    pos = 0;
    size = s3_xml_text(xml, len, &pos, "Size");
    pos = 0;
    etag = s3_xml_text(xml, len, &pos, "ETag");
    pos = 0;
    modified = s3_xml_text(xml, len, &pos, "LastModified");

    info.key = key;
    info.size = size ? strtoull(size, NULL, 10) : 0;
    info.etag = etag ? etag : "";
    info.last_modified = modified ? modified : "";
    rc = fn ? fn(ud, &info) : 0;

    free(key);
    free(size);
    free(etag);
    free(modified);
    return rc ? 1 : 0;
}

/*
 * Walk the <Contents> of one ListObjectsV2 page.  Returns 1 when fn asked
 * to stop, 0 to go on, -1 on malformed XML.
 */
static int walk_page(const struct s3_buf *page, s3_list_fn fn, void *ud,
                     size_t *count)
{
    const char *xml = page->data;
    const char *p = xml;
    const char *end;
    int rc;

    while (p && (p = strstr(p, "<Contents>")) != NULL) {
        end = strstr(p, "</Contents>");
        if (!end)
            return -1;
        rc = emit_entry(p, (size_t)(end - p), fn, ud);
        if (rc < 0)
            return -1;
        (*count)++;
        if (rc > 0)
            return 1;
        p = end;
    }
    return 0;
}

/* Query for one page: names in byte order, every value encoded. */
static int page_query(struct s3_buf *q, const char *token, const char *prefix)
{
    int rc = 0;

    if (token) {
        rc |= s3_buf_printf(q, "continuation-token=");
        rc |= s3_buf_encode(q, token, 0);
        rc |= s3_buf_printf(q, "&");
    }
    rc |= s3_buf_printf(q, "list-type=2&prefix=");
    rc |= s3_buf_encode(q, prefix ? prefix : "", 0);
    return rc ? -1 : 0;
}

/* Fetch one page; on success *token holds the next token or NULL. */
static int list_page(struct s3_client *c, const char *prefix, char **token,
                     struct s3_buf *page, struct s3_error *err)
{
    struct s3_buf q = {0};
    struct s3_request req = {.method = "GET", .resp = page};
    char *truncated;
    size_t pos = 0;
    int rc = -1;

    page->len = 0;
    if (page_query(&q, *token, prefix) < 0) {
        s3_fail(err, 0, "OutOfMemory", "list objects: out of memory");
        goto out;
    }
    req.query = q.data;
    if (s3_perform(c, &req, "list objects", err) < 0)
        goto out;

    free(*token);
    *token = NULL;
    truncated = s3_xml_text(page->data, page->len, &pos, "IsTruncated");
    if (truncated && !strcmp(truncated, "true")) {
        pos = 0;
        *token =
            s3_xml_text(page->data, page->len, &pos, "NextContinuationToken");
        if (!*token) {
            free(truncated);
            s3_fail(err, req.status, "MalformedResponse",
                    "list objects s3://%s/%s: truncated page without a "
                    "continuation token",
                    c->bucket, prefix ? prefix : "");
            goto out;
        }
    }
    free(truncated);
    rc = 0;

out:
    s3_buf_free(&q);
    return rc;
}

int s3_list_objects(struct s3_client *c, const char *prefix, s3_list_fn fn,
                    void *userdata, size_t *count, struct s3_error *err)
{
    struct s3_buf page = {0};
    char *token = NULL;
    size_t n = 0;
    int rc = -1;
    int walked;

    do {
        if (list_page(c, prefix, &token, &page, err) < 0)
            goto out;
        walked = page.data ? walk_page(&page, fn, userdata, &n) : 0;
        if (walked < 0) {
            s3_fail(err, 200, "MalformedResponse",
                    "list objects s3://%s/%s: unreadable <Contents> entry",
                    c->bucket, prefix ? prefix : "");
            goto out;
        }
        if (walked > 0)
            break;
    } while (token);
    rc = 0;

out:
    if (count)
        *count = n;
    free(token);
    s3_buf_free(&page);
    return rc;
}
