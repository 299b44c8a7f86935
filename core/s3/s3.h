/*
 * s3.h - a small S3 client for exports: put, get, list, delete, create
 * bucket and a streaming writer that switches to a multipart upload once
 * the data outgrows one part.
 *
 * Requests are signed with AWS Signature Version 4 by libcurl itself
 * (CURLOPT_AWS_SIGV4 "aws:amz:<region>:s3").  libcurl 7.88 neither adds the
 * x-amz-content-sha256 header nor canonicalises the query string, so this
 * module sends the hex SHA-256 of every body in that header and builds
 * every query string already in canonical form (names sorted, every
 * parameter written as name=value, values percent-encoded).
 *
 * Credentials come only from the environment (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, optional AWS_SESSION_TOKEN) and are never logged
 * or copied into error messages.
 *
 * Threads: a client and everything opened from it belong to one thread at a
 * time; use one client per thread.  The process should call
 * curl_global_init() once before it starts threads (libcurl otherwise does
 * it on first use, which is not thread-safe on every platform).
 *
 * Retries: connection failures, timeouts and HTTP 500/502/503/504 answers
 * to GET, PUT and DELETE are retried (3 attempts in all); multipart start
 * and complete (POST) are sent once.
 *
 * Errors: functions return 0 on success and -1 on failure, filling a
 * struct s3_error with the HTTP status (0 when no answer arrived), the S3
 * error code from the XML body (e.g. "SignatureDoesNotMatch") or a local
 * code ("InvalidConfig", "Transport", ...) and a message that says what was
 * being done, on which bucket/key, and why.
 */
#ifndef CORE_S3_S3_H
#define CORE_S3_S3_H

#include <stddef.h>
#include <stdint.h>

/* S3 refuses parts smaller than this, except the last one. */
#define S3_MIN_PART_SIZE ((size_t)5 << 20)

/* Default part size, which is also the single-put / multipart threshold. */
#define S3_DEFAULT_PART_SIZE ((size_t)8 << 20)

/* S3 allows at most this many parts per multipart upload. */
#define S3_MAX_PARTS 10000

struct s3_error {
    long http_status;  /* HTTP status, 0 if no response was received */
    char code[64];     /* S3 error code or a local code, "" when none */
    char message[512]; /* what, where and why, without any secret */
};

struct s3_config {
    /*
     * Base URL of the store, e.g. "http://127.0.0.1:9000".  NULL or ""
     * means AWS: https://s3.<region>.amazonaws.com.
     */
    const char *endpoint;
    const char *region; /* signing region; NULL or "" means "us-east-1" */
    const char *bucket; /* required */
    /*
     * Non-zero: path-style URLs (<endpoint>/<bucket>/<key>), needed by
     * s3rver, MinIO and most self-hosted stores.  Zero: virtual-hosted
     * style (<scheme>://<bucket>.<host>/<key>), the AWS default.
     */
    int path_style;
    /*
     * Streaming writer part size and single-put threshold in bytes; 0
     * means S3_DEFAULT_PART_SIZE.  Values below S3_MIN_PART_SIZE are
     * accepted (down to 1 KiB) for tests against stores that do not check
     * the minimum; AWS S3 rejects such uploads at completion.
     */
    size_t part_size;
    long timeout_s; /* per request; 0 means 300 seconds */
};

/* One entry of a listing; the strings live until the callback returns. */
struct s3_object_info {
    const char *key;
    uint64_t size;
    const char *etag;          /* as sent, including the quotes */
    const char *last_modified; /* ISO 8601 as sent by the store */
};

/*
 * Receives a chunk of a downloaded object.  Return 0 to continue, non-zero
 * to stop the download (the call then fails with code "Aborted").
 */
typedef int (*s3_sink_fn)(void *userdata, const void *buf, size_t len);

/* Receives one listed object.  Return non-zero to stop the listing early
 * (the listing then succeeds). */
typedef int (*s3_list_fn)(void *userdata, const struct s3_object_info *obj);

struct s3_client;
struct s3_writer;

/*
 * Fill cfg from the environment for the bucket given: endpoint from
 * AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, region from AWS_REGION or
 * AWS_DEFAULT_REGION, path_style on when an endpoint is set or when
 * S3_PATH_STYLE=1.  cfg points into the environment and into bucket, so
 * neither may change while cfg is used.  Never fails.
 */
void s3_config_from_env(struct s3_config *cfg, const char *bucket);

/*
 * Create a client for cfg->bucket; credentials are read from the
 * environment now.  cfg is copied.  On success *out owns a client to be
 * released with s3_client_free().  Fails with "InvalidConfig" when the
 * bucket, endpoint or part size is unusable and "MissingCredentials" when
 * AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY is unset.
 */
int s3_client_new(const struct s3_config *cfg, struct s3_client **out,
                  struct s3_error *err);

/* Release the client and wipe the credentials it holds.  NULL is a no-op.
 * Writers opened from it must have been committed or aborted before. */
void s3_client_free(struct s3_client *client);

/* Create the client's bucket (PUT /<bucket>).  An existing bucket owned by
 * the caller counts as success (BucketAlreadyOwnedByYou). */
int s3_create_bucket(struct s3_client *client, struct s3_error *err);

/*
 * Store len bytes from data under key in one request.  Meant for small
 * objects (up to a few MiB); use a writer for anything streamed.
 * content_type may be NULL (application/octet-stream).
 */
int s3_put_object(struct s3_client *client, const char *key, const void *data,
                  size_t len, const char *content_type, struct s3_error *err);

/*
 * Download key and pass its bytes in order to sink.  A missing key fails
 * with code "NoSuchKey" and status 404.  The sink is only called for a
 * successful (2xx) answer.
 */
int s3_get_object(struct s3_client *client, const char *key, s3_sink_fn sink,
                  void *userdata, struct s3_error *err);

/*
 * Download key into a new malloc'd buffer (NUL-terminated for convenience,
 * the terminator not counted in *len).  Fails with "TooLarge" if the
 * object exceeds max bytes.  The caller frees *out.
 */
int s3_get_object_mem(struct s3_client *client, const char *key, size_t max,
                      void **out, size_t *len, struct s3_error *err);

/*
 * List every object whose key starts with prefix ("" or NULL: all), in key
 * order, following continuation tokens (ListObjectsV2).  *count, if not
 * NULL, receives the number of objects passed to fn (fn may be NULL to
 * only count).
 */
int s3_list_objects(struct s3_client *client, const char *prefix, s3_list_fn fn,
                    void *userdata, size_t *count, struct s3_error *err);

/* Delete key.  Deleting a missing key succeeds, as in S3. */
int s3_delete_object(struct s3_client *client, const char *key,
                     struct s3_error *err);

/*
 * Open a streaming writer for key.  Data is buffered up to the part size;
 * an object that stays below it is stored with one PUT at commit, a larger
 * one through a multipart upload whose parts are sent as the buffer fills,
 * so memory use stays at one part whatever the object size.  Nothing is
 * visible under key before s3_writer_commit() succeeds.  The writer
 * borrows client, which must outlive it.
 */
int s3_writer_open(struct s3_client *client, const char *key,
                   struct s3_writer **out, struct s3_error *err);

/*
 * Open a writer for an s3:// URL: "s3://bucket/key", or, with name not
 * NULL, "s3://bucket/prefix" plus name (joined with one '/').  base gives
 * endpoint, region, addressing and part size (its bucket is ignored); NULL
 * means s3_config_from_env().  The writer owns its own client, released
 * at commit or abort.  Fails with "InvalidURL" for anything but
 * s3://<bucket>/<key>.
 */
int s3_writer_open_url(const char *url, const char *name,
                       const struct s3_config *base, struct s3_writer **out,
                       struct s3_error *err);

/*
 * Set the Content-Type the object will be stored with (default
 * application/octet-stream), e.g. "application/x-ndjson".  Only before the
 * first s3_writer_write(); copied.  Fails with "InvalidArgument" later.
 */
int s3_writer_set_content_type(struct s3_writer *w, const char *type,
                               struct s3_error *err);

/*
 * Append len bytes.  May block while a full part is uploaded.  On failure
 * the multipart upload (if any) is aborted at once, the error is stored in
 * err, and every later write or commit fails the same way; the caller must
 * still call s3_writer_abort() to release the writer.
 */
int s3_writer_write(struct s3_writer *w, const void *buf, size_t len,
                    struct s3_error *err);

/*
 * Finish the object: one PUT for small data, else upload the last part and
 * complete the multipart upload.  Releases w in every case.  On failure the
 * multipart upload is aborted, so no object appears under the key.
 * *size, if not NULL, receives the number of bytes stored.
 */
int s3_writer_commit(struct s3_writer *w, uint64_t *size, struct s3_error *err);

/*
 * Give up: abort the multipart upload if one was started (best effort; a
 * failure is logged as a warning) and release w.  NULL is a no-op.
 */
void s3_writer_abort(struct s3_writer *w);

/*
 * Split "s3://bucket/rest" into malloc'd *bucket and *key (key may be "").
 * Fails with "InvalidURL" on another scheme or an empty bucket.  The
 * caller frees both.
 */
int s3_url_parse(const char *url, char **bucket, char **key,
                 struct s3_error *err);

#endif /* CORE_S3_S3_H */
