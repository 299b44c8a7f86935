/*
 * store/csv.c - RFC 4180 records in and out, and the byte buffer.
 *
 * The reader accepts LF or CRLF line ends, quoted fields with doubled
 * quotes and embedded line breaks, and reports (then skips) a record with
 * a stray quote, text after a closing quote, a NUL byte or an unterminated
 * quoted field.
 */
#include <stdlib.h>
#include <string.h>

#include "store/csv.h"

int store_buf_add(struct store_buf *b, const char *data, size_t n)
{
    char *grown;
    size_t cap;

    if (b->len + n + 1 > b->cap) {
        cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        grown = realloc(b->data, cap);
        if (grown == NULL)
            return -1;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

void store_buf_free(struct store_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int csv_put_field(struct store_buf *b, const char *value)
{
    const char *p;
    int rc = 0;

    if (value == NULL)
        return 0;
    if (value[0] != '\0' && strpbrk(value, ",\"\r\n") == NULL)
        return store_buf_add(b, value, strlen(value));

    rc |= store_buf_add(b, "\"", 1);
    for (p = value; *p != '\0' && rc == 0; p++) {
        if (*p == '"')
            rc |= store_buf_add(b, "\"", 1);
        rc |= store_buf_add(b, p, 1);
    }
    rc |= store_buf_add(b, "\"", 1);
    return rc ? -1 : 0;
}

void csv_reader_init(struct csv_reader *r, FILE *f)
{
    memset(r, 0, sizeof(*r));
    r->f = f;
}

void csv_reader_free(struct csv_reader *r)
{
    store_buf_free(&r->buf);
    free(r->starts);
    free(r->quoted);
    r->starts = NULL;
    r->quoted = NULL;
    r->count = r->cap = 0;
}

const char *csv_field(const struct csv_reader *r, size_t i)
{
    return r->buf.data + r->starts[i];
}

/* Begin a new field at the end of the buffer. */
static int new_field(struct csv_reader *r, int quoted)
{
    size_t *starts;
    int *flags;
    size_t cap;

    if (r->count == r->cap) {
        cap = r->cap ? r->cap * 2 : 32;
        starts = realloc(r->starts, cap * sizeof(*starts));
        if (starts == NULL)
            return -1;
        r->starts = starts;
        flags = realloc(r->quoted, cap * sizeof(*flags));
        if (flags == NULL)
            return -1;
        r->quoted = flags;
        r->cap = cap;
    }
    r->starts[r->count] = r->buf.len;
    r->quoted[r->count] = quoted;
    r->count++;
    return 0;
}

static int end_field(struct csv_reader *r)
{
    char nul = '\0';

    return store_buf_add(&r->buf, &nul, 1);
}

/* Consume the LF of a CRLF after c == '\r'; count the line. */
static void end_line(struct csv_reader *r, int c)
{
    int next;

    if (c == '\r') {
        next = getc(r->f);
        if (next != '\n' && next != EOF)
            ungetc(next, r->f);
    }
    if (c != EOF)
        r->line++;
}

/* Skip to the end of the physical line after a malformed record. */
static void skip_line(struct csv_reader *r)
{
    int c;

    do
        c = getc(r->f);
    while (c != EOF && c != '\n');
    if (c == '\n')
        r->line++;
}

static enum csv_rc fail(char *why, size_t len, const char *text)
{
    strncpy(why, text, len - 1);
    why[len - 1] = '\0';
    return CSV_MALFORMED;
}

/*
 * Read one quoted field's body (the opening quote is consumed).  Returns
 * the character after the closing quote, or -2 (malformed) / -3 (ENOMEM).
 */
static int read_quoted(struct csv_reader *r, char *why, size_t why_len)
{
    int c;
    char ch;

    for (;;) {
        c = getc(r->f);
        if (c == EOF) {
            fail(why, why_len, "unterminated quoted field");
            return -2;
        }
        if (c == '"') {
            c = getc(r->f);
            if (c != '"')
                break;
        }
        if (c == '\0') {
            fail(why, why_len, "NUL byte in field");
            return -2;
        }
        if (c == '\n')
            r->line++;
        ch = (char)c;
        if (store_buf_add(&r->buf, &ch, 1) != 0)
            return -3;
    }
    if (c != ',' && c != '\n' && c != '\r' && c != EOF) {
        fail(why, why_len, "text after a closing quote");
        ungetc(c, r->f);
        return -2;
    }
    return c;
}

/* Read an unquoted field starting with c; returns the delimiter. */
static int read_plain(struct csv_reader *r, int c, char *why, size_t why_len)
{
    char ch;

    while (c != ',' && c != '\n' && c != '\r' && c != EOF) {
        if (c == '"' || c == '\0') {
            fail(why, why_len,
                 c == '"' ? "quote inside an unquoted field"
                          : "NUL byte in field");
            ungetc(c, r->f);
            return -2;
        }
        ch = (char)c;
        if (store_buf_add(&r->buf, &ch, 1) != 0)
            return -3;
        c = getc(r->f);
    }
    return c;
}

enum csv_rc csv_read(struct csv_reader *r, unsigned long *first_line, char *why,
                     size_t why_len)
{
    int c;

    r->count = 0;
    r->buf.len = 0;
    c = getc(r->f);
    while (c == '\n' || c == '\r') {
        end_line(r, c);
        c = getc(r->f);
    }
    if (c == EOF)
        return CSV_EOF;
    *first_line = r->line + 1;

    for (;;) {
        if (new_field(r, c == '"') != 0)
            return CSV_NOMEM;
        c = c == '"' ? read_quoted(r, why, why_len)
                     : read_plain(r, c, why, why_len);
        if (c == -3 || end_field(r) != 0)
            return CSV_NOMEM;
        if (c == -2) {
            skip_line(r);
            return CSV_MALFORMED;
        }
        if (c != ',')
            break;
        c = getc(r->f);
    }
    end_line(r, c);
    return CSV_RECORD;
}
