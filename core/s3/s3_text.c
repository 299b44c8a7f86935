/*
 * s3_text.c - text helpers for the S3 client: a growable buffer, SigV4
 * percent-encoding, the tiny XML extraction S3 answers need, error
 * filling and s3:// URL parsing.
 */
#include "s3/s3_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int s3_fail(struct s3_error *err, long status, const char *code,
            const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return -1;
    err->http_status = status;
    snprintf(err->code, sizeof(err->code), "%s", code ? code : "");
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

int s3_buf_append(struct s3_buf *b, const void *data, size_t len)
{
    size_t need = b->len + len + 1;
    size_t cap;
    char *p;

    if (b->max && b->len + len > b->max)
        return -1;
    if (need > b->cap) {
        cap = b->cap ? b->cap : 256;
        while (cap < need)
            cap *= 2;
        p = realloc(b->data, cap);
        if (!p)
            return -1;
        b->data = p;
        b->cap = cap;
    }
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int s3_buf_printf(struct s3_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    char *big;
    int n;
    int rc;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof(small))
        return s3_buf_append(b, small, (size_t)n);

    big = malloc((size_t)n + 1);
    if (!big)
        return -1;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    rc = s3_buf_append(b, big, (size_t)n);
    free(big);
    return rc;
}

void s3_buf_free(struct s3_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

static int is_unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
           (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
           ch == '~';
}

int s3_buf_encode(struct s3_buf *b, const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p;
    char esc[3];

    for (p = (const unsigned char *)s; *p; p++) {
        if (is_unreserved(*p) || (keep_slash && *p == '/')) {
            if (s3_buf_append(b, p, 1) < 0)
                return -1;
            continue;
        }
        esc[0] = '%';
        esc[1] = hex[*p >> 4];
        esc[2] = hex[*p & 15];
        if (s3_buf_append(b, esc, 3) < 0)
            return -1;
    }
    return 0;
}

/* Decode the five predefined XML entities and numeric ASCII references in
 * place; anything else is left as written. */
static void xml_unescape(char *s)
{
    static const struct {
        const char *name;
        char ch;
    } ents[] = {{"&lt;", '<'},   {"&gt;", '>'},    {"&amp;", '&'},
                {"&quot;", '"'}, {"&apos;", '\''}, {"&#34;", '"'},
                {"&#39;", '\''}};
    char *out = s;
    size_t i;

    while (*s) {
        if (*s == '&') {
            for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
                size_t n = strlen(ents[i].name);

                if (strncmp(s, ents[i].name, n) == 0) {
                    *out++ = ents[i].ch;
                    s += n;
                    break;
                }
            }
            if (i < sizeof(ents) / sizeof(ents[0]))
                continue;
        }
        *out++ = *s++;
    }
    *out = '\0';
}

static const char *find_in(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    size_t i;

    for (i = 0; i + n <= len; i++) {
        if (hay[i] == needle[0] && memcmp(hay + i, needle, n) == 0)
            return hay + i;
    }
    return NULL;
}

char *s3_xml_text(const char *xml, size_t len, size_t *pos, const char *tag)
{
    char open[80];
    char close[80];
    const char *start;
    const char *end;
    char *text;
    size_t n;

    if (snprintf(open, sizeof(open), "<%s>", tag) >= (int)sizeof(open) ||
        snprintf(close, sizeof(close), "</%s>", tag) >= (int)sizeof(close))
        return NULL;
    if (!xml || *pos > len)
        return NULL;

    start = find_in(xml + *pos, len - *pos, open);
    if (!start)
        return NULL;
    start += strlen(open);
    end = find_in(start, len - (size_t)(start - xml), close);
    if (!end)
        return NULL;

    n = (size_t)(end - start);
    text = malloc(n + 1);
    if (!text)
        return NULL;
    memcpy(text, start, n);
    text[n] = '\0';
    xml_unescape(text);
    *pos = (size_t)(end - xml) + strlen(close);
    return text;
}

int s3_url_parse(const char *url, char **bucket, char **key,
                 struct s3_error *err)
{
    const char *rest;
    const char *slash;
    size_t blen;

    *bucket = NULL;
    *key = NULL;
    if (!url || strncmp(url, "s3://", 5) != 0)
        return s3_fail(err, 0, "InvalidURL",
                       "s3 url '%s': must start with s3://",
                       url ? url : "(null)");

    rest = url + 5;
    slash = strchr(rest, '/');
    blen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (blen == 0)
        return s3_fail(err, 0, "InvalidURL", "s3 url '%s': no bucket name",
                       url);

    *bucket = strndup(rest, blen);
    *key = strdup(slash ? slash + 1 : "");
    if (!*bucket || !*key) {
        free(*bucket);
        free(*key);
        *bucket = NULL;
        *key = NULL;
        return s3_fail(err, 0, "OutOfMemory", "s3 url '%s': out of memory",
                       url);
    }
    return 0;
}
