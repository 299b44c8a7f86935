/*
 * store/csv.h - RFC 4180 reading and writing for core_store's seed and
 * export, plus the growable byte buffer both use.  Internal.
 *
 * Threads: a reader or buffer belongs to one thread.
 */
#ifndef CORE_STORE_CSV_H
#define CORE_STORE_CSV_H

#include <stddef.h>
#include <stdio.h>

/* A growable byte string, always NUL-terminated once non-empty. */
struct store_buf {
    char *data;
    size_t len, cap;
};

/* Append n bytes; 0 or -1 on allocation failure (buf unchanged). */
int store_buf_add(struct store_buf *b, const char *data, size_t n);

/* Free the bytes and zero b. */
void store_buf_free(struct store_buf *b);

/*
 * Append value as one CSV field (quoted when it holds a comma, quote, CR
 * or LF or is empty; NULL is written as nothing).  0 or -1 (ENOMEM).
 */
int csv_put_field(struct store_buf *b, const char *value);

struct csv_reader {
    FILE *f;
    unsigned long line;   /* physical lines consumed so far */
    struct store_buf buf; /* the current record's field bytes */
    size_t *starts;       /* offset of each field in buf */
    int *quoted;          /* 1 when the field was quoted */
    size_t count, cap;
};

/* Start reading f (the caller keeps ownership of f). */
void csv_reader_init(struct csv_reader *r, FILE *f);

/* Free what the reader allocated. */
void csv_reader_free(struct csv_reader *r);

enum csv_rc {
    CSV_RECORD = 1,     /* a record is in the reader */
    CSV_EOF = 0,        /* nothing left */
    CSV_MALFORMED = -1, /* why explains; the record was skipped */
    CSV_NOMEM = -2
};

/*
 * Read the next record.  *first_line gets the physical line it starts
 * on.  Fields are csv_field(r, i) for i < r->count.  A blank line is not
 * a record.
 */
enum csv_rc csv_read(struct csv_reader *r, unsigned long *first_line, char *why,
                     size_t why_len);

/* Field i of the current record (NUL-terminated, may hold any bytes). */
const char *csv_field(const struct csv_reader *r, size_t i);

#endif /* CORE_STORE_CSV_H */
