/*
 * s3_internal.h - what the files of core/s3 share: the client structure,
 * one signed HTTP request, and small text helpers.  Not for use outside
 * core/s3.
 */
#ifndef CORE_S3_S3_INTERNAL_H
#define CORE_S3_S3_INTERNAL_H

#include "s3/s3.h"

#include <curl/curl.h>
#include <stdarg.h>

#define S3_ATTEMPTS 3

struct s3_client {
    CURL *curl;
    char *base_url; /* scheme://host[:port] with no trailing '/' */
    char *region;
    char *bucket;
    char *sigv4;   /* "aws:amz:<region>:s3" */
    char *userpwd; /* "<key id>:<secret>"; wiped on free */
    char *token;   /* "x-amz-security-token: ..." header or NULL */
    int path_style;
    size_t part_size;
    long timeout_s;
};

/* A growable byte buffer. */
struct s3_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* refuse to grow beyond this; 0 = no limit */
};

/* One request; the caller fills the inputs, s3_perform() the outputs. */
struct s3_request {
    const char *method; /* "GET", "PUT", "POST", "DELETE" */
    const char *key;    /* object key (unencoded) or NULL for the bucket */
    const char *query;  /* canonical query string without '?', or NULL */
    const void *body;   /* request body (PUT/POST) or NULL */
    size_t body_len;
    const char *content_type; /* NULL: application/octet-stream */
    s3_sink_fn sink;          /* 2xx body goes here when set ... */
    void *sink_ud;
    struct s3_buf *resp; /* ... else into this buffer when set */

    /* outputs */
    long status;
    char etag[128];      /* ETag response header, quotes kept */
    char resp_type[128]; /* Content-Type response header */
    int attempts;        /* how many times the request was sent */
};

/*
 * Perform req with the client's credentials.  Fills err and returns -1 on
 * a transport failure or a non-2xx status (code/message from the XML
 * error body).  what names the operation for messages ("put object").
 * Transient failures (connection, timeout, HTTP 500/502/503/504) of GET,
 * PUT and DELETE requests are retried up to S3_ATTEMPTS times in all, after
 * 0.2 s and 0.8 s; POST (multipart start/complete) and GETs into a sink are
 * sent once, since repeating them is not harmless.
 */
int s3_perform(struct s3_client *c, struct s3_request *req, const char *what,
               struct s3_error *err);

/* Fill err (printf-style message).  Returns -1 for tail calls. */
int s3_fail(struct s3_error *err, long status, const char *code,
            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Append len bytes; -1 when out of memory or past b->max. */
int s3_buf_append(struct s3_buf *b, const void *data, size_t len);

/* Append a printf-formatted string; -1 when out of memory. */
int s3_buf_printf(struct s3_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void s3_buf_free(struct s3_buf *b);

/* Append s percent-encoded as SigV4 wants (unreserved characters kept;
 * '/' kept when keep_slash).  -1 when out of memory. */
int s3_buf_encode(struct s3_buf *b, const char *s, int keep_slash);

/*
 * Find the text of the first <tag>...</tag> at or after *pos in xml (of
 * length len), XML entities decoded, into a malloc'd string.  On success
 * *pos moves past the closing tag.  Returns NULL when absent or out of
 * memory.
 */
char *s3_xml_text(const char *xml, size_t len, size_t *pos, const char *tag);

#endif /* CORE_S3_S3_INTERNAL_H */
