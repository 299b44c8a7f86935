/*
 * s3_writer.c - streaming upload: data is gathered into one part-sized
 * buffer; when it fills for the first time a multipart upload is started
 * and every full buffer becomes a part.  Small objects end as one PUT.
 * Any failure aborts the multipart upload so the final key never holds a
 * half-written object (S3 only creates it on CompleteMultipartUpload).
 */
#include "common/log.h"
#include "s3/s3_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct s3_writer {
    struct s3_client *client;
    int owns_client;
    char *key;
    char *content_type; /* NULL: application/octet-stream */
    unsigned char *buf; /* grows up to one part */
    size_t cap;
    size_t len;
    char *upload_id; /* NULL until the multipart upload starts */
    char **etags;    /* etags[i] belongs to part i + 1 */
    size_t nparts;
    uint64_t total;
    int failed;
    struct s3_error err; /* the first failure, replayed afterwards */
};

int s3_writer_open(struct s3_client *client, const char *key,
                   struct s3_writer **out, struct s3_error *err)
{
    struct s3_writer *w;

    *out = NULL;
    if (!key || !*key || key[strlen(key) - 1] == '/')
        return s3_fail(err, 0, "InvalidArgument",
                       "open writer: key '%s' is empty or ends with '/'",
                       key ? key : "(null)");

    w = calloc(1, sizeof(*w));
    if (!w)
        return s3_fail(err, 0, "OutOfMemory", "open writer: out of memory");
    w->client = client;
    w->key = strdup(key);
    w->etags = calloc(S3_MAX_PARTS, sizeof(*w->etags));
    if (!w->key || !w->etags) {
        s3_writer_abort(w);
        return s3_fail(err, 0, "OutOfMemory", "open writer: out of memory");
    }
    *out = w;
    return 0;
}

static char *join_key(const char *prefix, const char *name)
{
    size_t plen = strlen(prefix);
    size_t n;
    char *key;

    while (*name == '/')
        name++;
    n = plen + strlen(name) + 2;
    key = malloc(n);
    if (!key)
        return NULL;
    snprintf(key, n, "%s%s%s", prefix,
             plen && prefix[plen - 1] != '/' ? "/" : "", name);
    return key;
}

int s3_writer_open_url(const char *url, const char *name,
                       const struct s3_config *base, struct s3_writer **out,
                       struct s3_error *err)
{
    struct s3_config cfg;
    struct s3_client *client = NULL;
    char *bucket = NULL;
    char *path = NULL;
    char *key = NULL;
    int rc = -1;

    *out = NULL;
    if (s3_url_parse(url, &bucket, &path, err) < 0)
        return -1;
    key = name ? join_key(path, name) : strdup(path);
    if (!key) {
        s3_fail(err, 0, "OutOfMemory", "open writer: out of memory");
        goto out;
    }
    if (!*key) {
        s3_fail(err, 0, "InvalidURL", "s3 url '%s': no object key", url);
        goto out;
    }

    if (base)
        cfg = *base;
    else
        s3_config_from_env(&cfg, NULL);
    cfg.bucket = bucket;
    if (s3_client_new(&cfg, &client, err) < 0)
        goto out;
    if (s3_writer_open(client, key, out, err) < 0) {
        s3_client_free(client);
        goto out;
    }
    (*out)->owns_client = 1;
    rc = 0;

out:
    free(bucket);
    free(path);
    free(key);
    return rc;
}

int s3_writer_set_content_type(struct s3_writer *w, const char *type,
                               struct s3_error *err)
{
    char *copy;

    if (w->total > 0 || w->failed)
        return s3_fail(err, 0, "InvalidArgument",
                       "writer s3://%s/%s: content type set after data",
                       w->client->bucket, w->key);
    if (!type || !*type || strpbrk(type, "\r\n"))
        return s3_fail(err, 0, "InvalidArgument",
                       "writer s3://%s/%s: unusable content type",
                       w->client->bucket, w->key);
    copy = strdup(type);
    if (!copy)
        return s3_fail(err, 0, "OutOfMemory", "content type: out of memory");
    free(w->content_type);
    w->content_type = copy;
    return 0;
}

static int start_upload(struct s3_writer *w)
{
    struct s3_buf resp = {.max = 64 * 1024};
    struct s3_request req = {.method = "POST",
                             .key = w->key,
                             .query = "uploads=",
                             .resp = &resp,
                             .content_type = w->content_type};
    size_t pos = 0;
    int rc = -1;

    if (s3_perform(w->client, &req, "start multipart upload", &w->err) < 0)
        goto out;
    w->upload_id = s3_xml_text(resp.data, resp.len, &pos, "UploadId");
    if (!w->upload_id || !*w->upload_id) {
        s3_fail(&w->err, req.status, "MalformedResponse",
                "start multipart upload s3://%s/%s: no UploadId in answer",
                w->client->bucket, w->key);
        goto out;
    }
    rc = 0;

out:
    s3_buf_free(&resp);
    return rc;
}

static int upload_part(struct s3_writer *w)
{
    struct s3_buf q = {0};
    struct s3_request req = {
        .method = "PUT", .key = w->key, .body = w->buf, .body_len = w->len};
    int rc = -1;

    if (w->nparts >= S3_MAX_PARTS) {
        s3_fail(&w->err, 0, "TooManyParts",
                "upload part to s3://%s/%s: more than %d parts of %zu bytes; "
                "raise the part size",
                w->client->bucket, w->key, S3_MAX_PARTS, w->client->part_size);
        return -1;
    }
    if (s3_buf_printf(&q, "partNumber=%zu&uploadId=", w->nparts + 1) < 0 ||
        s3_buf_encode(&q, w->upload_id, 0) < 0) {
        s3_fail(&w->err, 0, "OutOfMemory", "upload part: out of memory");
        goto out;
    }
    req.query = q.data;
    if (s3_perform(w->client, &req, "upload part", &w->err) < 0)
        goto out;
    if (!req.etag[0] || !(w->etags[w->nparts] = strdup(req.etag))) {
        s3_fail(&w->err, req.status, "MalformedResponse",
                "upload part %zu to s3://%s/%s: no ETag in answer",
                w->nparts + 1, w->client->bucket, w->key);
        goto out;
    }
    w->nparts++;
    w->len = 0;
    rc = 0;

out:
    s3_buf_free(&q);
    return rc;
}

static void abort_upload(struct s3_writer *w)
{
    struct s3_buf q = {0};
    struct s3_request req = {.method = "DELETE", .key = w->key};
    struct s3_error err = {0};

    if (!w->upload_id)
        return;
    if (s3_buf_printf(&q, "uploadId=") < 0 ||
        s3_buf_encode(&q, w->upload_id, 0) < 0) {
        log_warn("s3", "abort upload of s3://%s/%s: out of memory",
                 w->client->bucket, w->key);
        goto out;
    }
    req.query = q.data;
    if (s3_perform(w->client, &req, "abort multipart upload", &err) < 0)
        log_warn("s3",
                 "%s (the parts stay until a lifecycle rule removes "
                 "them; no object was created)",
                 err.message);

out:
    free(w->upload_id);
    w->upload_id = NULL;
    s3_buf_free(&q);
}

static int fail_writer(struct s3_writer *w, struct s3_error *err)
{
    w->failed = 1;
    abort_upload(w);
    if (err)
        *err = w->err;
    return -1;
}

/* Grow the buffer to hold need bytes (need <= part size): small objects
 * never cost a whole part of memory. */
static int reserve(struct s3_writer *w, size_t need)
{
    size_t cap = w->cap ? w->cap : 64 * 1024;
    unsigned char *p;

    if (need <= w->cap)
        return 0;
    while (cap < need)
        cap *= 2;
    if (cap > w->client->part_size)
        cap = w->client->part_size;
    p = realloc(w->buf, cap);
    if (!p)
        return -1;
    w->buf = p;
    w->cap = cap;
    return 0;
}

int s3_writer_write(struct s3_writer *w, const void *buf, size_t len,
                    struct s3_error *err)
{
    const unsigned char *p = buf;
    size_t room;
    size_t n;

    if (w->failed) {
        if (err)
            *err = w->err;
        return -1;
    }
    while (len > 0) {
        room = w->client->part_size - w->len;
        n = len < room ? len : room;
        if (reserve(w, w->len + n) < 0) {
            s3_fail(&w->err, 0, "OutOfMemory",
                    "write to s3://%s/%s: cannot buffer %zu bytes",
                    w->client->bucket, w->key, w->len + n);
            return fail_writer(w, err);
        }
        memcpy(w->buf + w->len, p, n);
        w->len += n;
        w->total += n;
        p += n;
        len -= n;
        if (w->len < w->client->part_size)
            break;
        if (!w->upload_id && start_upload(w) < 0)
            return fail_writer(w, err);
        if (upload_part(w) < 0)
            return fail_writer(w, err);
    }
    return 0;
}

static int complete_upload(struct s3_writer *w)
{
    struct s3_buf body = {0};
    struct s3_buf resp = {.max = 64 * 1024};
    struct s3_buf q = {0};
    struct s3_request req = {.method = "POST",
                             .key = w->key,
                             .resp = &resp,
                             .content_type = "application/xml"};
    size_t pos = 0;
    char *code = NULL;
    size_t i;
    int rc = -1;

    s3_buf_printf(&body, "<CompleteMultipartUpload>");
    for (i = 0; i < w->nparts; i++)
        s3_buf_printf(&body,
                      "<Part><PartNumber>%zu</PartNumber>"
                      "<ETag>%s</ETag></Part>",
                      i + 1, w->etags[i]);
    if (s3_buf_printf(&body, "</CompleteMultipartUpload>") < 0 ||
        s3_buf_printf(&q, "uploadId=") < 0 ||
        s3_buf_encode(&q, w->upload_id, 0) < 0) {
        s3_fail(&w->err, 0, "OutOfMemory", "complete upload: out of memory");
        goto out;
    }
    req.query = q.data;
    req.body = body.data;
    req.body_len = body.len;
    if (s3_perform(w->client, &req, "complete multipart upload", &w->err) < 0)
        goto out;

    /* S3 may answer 200 and still report a failure in the body. */
    if (resp.data && strstr(resp.data, "<Error>")) {
        code = s3_xml_text(resp.data, resp.len, &pos, "Code");
        s3_fail(&w->err, req.status, code ? code : "InternalError",
                "complete multipart upload s3://%s/%s: error in a 200 answer",
                w->client->bucket, w->key);
        goto out;
    }
    rc = 0;

out:
    free(code);
    s3_buf_free(&body);
    s3_buf_free(&resp);
    s3_buf_free(&q);
    return rc;
}

static int commit_data(struct s3_writer *w)
{
    struct s3_request req = {.method = "PUT",
                             .key = w->key,
                             .body = w->buf,
                             .body_len = w->len,
                             .content_type = w->content_type};

    if (!w->upload_id)
        return s3_perform(w->client, &req, "put object", &w->err);
    if (w->len > 0 && upload_part(w) < 0)
        return -1;
    return complete_upload(w);
}

int s3_writer_commit(struct s3_writer *w, uint64_t *size, struct s3_error *err)
{
    int rc = -1;

    if (!w->failed && commit_data(w) == 0) {
        rc = 0;
        free(w->upload_id);
        w->upload_id = NULL;
        log_debug("s3", "stored s3://%s/%s: %llu bytes in %zu part(s)",
                  w->client->bucket, w->key, (unsigned long long)w->total,
                  w->nparts ? w->nparts : 1);
        if (size)
            *size = w->total;
    }
    else if (err) {
        *err = w->err;
    }
    s3_writer_abort(w);
    return rc;
}

void s3_writer_abort(struct s3_writer *w)
{
    size_t i;

    if (!w)
        return;
    abort_upload(w);
    for (i = 0; w->etags && i < w->nparts; i++)
        free(w->etags[i]);
    free(w->etags);
    free(w->content_type);
    free(w->buf);
    free(w->key);
    if (w->owns_client)
        s3_client_free(w->client);
    free(w);
}
