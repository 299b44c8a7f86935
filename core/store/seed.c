/*
 * store/seed.c - import source indicators from JSONL or CSV files.
 *
 * Records are checked in C first (UTF-8, JSON or CSV syntax, field
 * types, id and name) and collected into chunks.  A chunk is written in
 * one transaction (a savepoint in all-or-nothing mode, inside the one
 * transaction of the file).  When the server refuses a row that passed
 * the checks (a \u0000 escape, say), the chunk is rolled back, the line
 * is reported and the chunk is written again without it, so a chunk is
 * either wholly written or not at all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/log.h"
#include "store/csv.h"
#include "store/store_internal.h"

#define DEFAULT_CHUNK 500

struct pending {
    unsigned long line;
    char *text; /* JSON object text to upsert */
};

struct seeder {
    struct core_store *store;
    struct store_slot *slot;
    struct core_store_seed_report *report;
    struct core_store_error *err;
    int all_or_nothing;
    struct pending *chunk;
    size_t count, cap;
};

size_t store_utf8_check(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n, k;
    unsigned cp;

    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        if (p[i] >= 0xc2 && p[i] <= 0xdf)
            n = 1, cp = p[i] & 0x1f;
        else if (p[i] >= 0xe0 && p[i] <= 0xef)
            n = 2, cp = p[i] & 0x0f;
        else if (p[i] >= 0xf0 && p[i] <= 0xf4)
            n = 3, cp = p[i] & 0x07;
        else
            return i;
        for (k = 1; k <= n; k++) {
            if (i + k >= len || (p[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return i;
        i += n + 1;
    }
    return len;
}

static int reject_cmp(const void *a, const void *b)
{
    const struct core_store_reject *x = a, *y = b;

    return x->line < y->line ? -1 : x->line > y->line;
}

static int add_reject(struct core_store_seed_report *rep, unsigned long line,
                      const char *field, const char *reason)
{
    struct core_store_reject *grown, *r;
    size_t n = rep->reject_count;

    /* Grow geometrically: at 0, 16, 32, 64, ... entries. */
    if (n == 0 || (n >= 16 && (n & (n - 1)) == 0)) {
        grown = realloc(rep->rejects, (n ? 2 * n : 16) * sizeof(*grown));
        if (grown == NULL)
            return CORE_STORE_ENOMEM;
        rep->rejects = grown;
    }
    r = &rep->rejects[rep->reject_count++];
    r->line = line;
    snprintf(r->field, sizeof(r->field), "%s", field);
    /* Reasons longer than the report's slot are cut, on purpose. */
    snprintf(r->reason, sizeof(r->reason), "%.*s", (int)sizeof(r->reason) - 1,
             reason);
    rep->rejected++;
    return CORE_STORE_OK;
}

static int push(struct seeder *sd, unsigned long line, char *text)
{
    struct pending *grown;

    if (sd->count == sd->cap) {
        grown = realloc(sd->chunk, (sd->cap * 2 + 16) * sizeof(*grown));
        if (grown == NULL) {
            free(text);
            return CORE_STORE_ENOMEM;
        }
        sd->chunk = grown;
        sd->cap = sd->cap * 2 + 16;
    }
    sd->chunk[sd->count].line = line;
    sd->chunk[sd->count].text = text;
    sd->count++;
    return CORE_STORE_OK;
}

static void drop(struct seeder *sd, size_t i)
{
    free(sd->chunk[i].text);
    memmove(&sd->chunk[i], &sd->chunk[i + 1],
            (sd->count - i - 1) * sizeof(sd->chunk[0]));
    sd->count--;
}

static void clear_chunk(struct seeder *sd)
{
    size_t i;

    for (i = 0; i < sd->count; i++)
        free(sd->chunk[i].text);
    sd->count = 0;
}

/*
 * Try to write the chunk in one transaction (or savepoint).  Returns OK,
 * or the error; *bad gets the index of a row the server refused (EREJECT)
 * so the caller can drop it and try again.
 */
static int write_chunk(struct seeder *sd, size_t *bad, unsigned long cnt[3])
{
    const char *begin = sd->all_or_nothing ? "SAVEPOINT chunk" : "BEGIN";
    const char *commit =
        sd->all_or_nothing ? "RELEASE SAVEPOINT chunk" : "COMMIT";
    const char *undo =
        sd->all_or_nothing ? "ROLLBACK TO SAVEPOINT chunk" : "ROLLBACK";
    const char *texts[STORE_PIPELINE_MAX];
    size_t from, n, i, rel = 0;
    int rc;

    rc = store_exec_script(sd->slot, "seed chunk", begin, sd->err);
    for (from = 0; rc == CORE_STORE_OK && from < sd->count; from += n) {
        n = sd->count - from;
        if (n > STORE_PIPELINE_MAX)
            n = STORE_PIPELINE_MAX;
        for (i = 0; i < n; i++)
            texts[i] = sd->chunk[from + i].text;
        rc =
            store_indicator_upsert_many(sd->slot, texts, n, &rel, cnt, sd->err);
        if (rc != CORE_STORE_OK)
            *bad = from + rel;
    }
    if (rc == CORE_STORE_OK)
        return store_exec_script(sd->slot, "seed chunk", commit, sd->err);
    if (PQstatus(sd->slot->pg) == CONNECTION_OK)
        PQclear(PQexec(sd->slot->pg, undo));
    return rc;
}

static int flush(struct seeder *sd)
{
    unsigned long cnt[3];
    size_t bad = 0;
    int rc;

    while (sd->count > 0) {
        memset(cnt, 0, sizeof(cnt));
        rc = write_chunk(sd, &bad, cnt);
        if (rc == CORE_STORE_EREJECT) {
            rc = add_reject(sd->report, sd->chunk[bad].line, "",
                            sd->err->message);
            drop(sd, bad);
            if (rc != CORE_STORE_OK)
                return rc;
            continue;
        }
        if (rc != CORE_STORE_OK)
            return rc;
        sd->report->inserted += cnt[0];
        sd->report->updated += cnt[1];
        sd->report->unchanged += cnt[2];
        sd->report->chunks_committed++;
        clear_chunk(sd);
    }
    store_err_clear(sd->err);
    return CORE_STORE_OK;
}

/* Check an object, then queue text (taking ownership) or reject it. */
static int accept(struct seeder *sd, unsigned long line, const cJSON *obj,
                  char *text)
{
    char field[64], reason[192];

    if (store_indicator_check(obj, field, sizeof(field), reason,
                              sizeof(reason)) != 0) {
        free(text);
        return add_reject(sd->report, line, field, reason);
    }
    return push(sd, line, text);
}

static int jsonl_line(struct seeder *sd, unsigned long line, char *text,
                      size_t len)
{
    const char *end = NULL;
    char reason[96];
    cJSON *obj;
    size_t bad;
    int rc;

    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    if (strspn(text, " \t") == len)
        return CORE_STORE_OK;
    sd->report->lines++;

    bad = store_utf8_check(text, len);
    if (bad != len) {
        snprintf(reason, sizeof(reason), "not valid UTF-8 at byte %zu",
                 bad + 1);
        return add_reject(sd->report, line, "", reason);
    }
    if (strlen(text) != len)
        return add_reject(sd->report, line, "", "NUL byte in line");
    /* len + 1: cJSON wants to see the NUL when asked to require it. */
    obj = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
    if (obj == NULL) {
        snprintf(reason, sizeof(reason), "malformed JSON at byte %zu",
                 end ? (size_t)(end - text) + 1 : 1);
        return add_reject(sd->report, line, "", reason);
    }
    rc = accept(sd, line, obj, strdup(text));
    cJSON_Delete(obj);
    return rc;
}

static int read_jsonl(struct seeder *sd, FILE *f, size_t chunk_rows)
{
    unsigned long line = 0;
    char *text = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = CORE_STORE_OK;

    while (rc == CORE_STORE_OK && (n = getline(&text, &cap, f)) >= 0) {
        if (line == 0 && n >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
            /* A UTF-8 byte order mark is not part of the first record. */
            memmove(text, text + 3, (size_t)n - 2);
            n -= 3;
        }
        rc = jsonl_line(sd, ++line, text, (size_t)n);
        if (rc == CORE_STORE_OK && sd->count >= chunk_rows)
            rc = flush(sd);
    }
    free(text);
    if (rc == CORE_STORE_OK && ferror(f))
        rc = store_fail(sd->err, CORE_STORE_EIO,
                        "store: seed: read error after line %lu", line);
    return rc;
}

/* Turn a CSV record into a JSON object (NULL and reject on failure). */
static cJSON *csv_object(struct seeder *sd, struct csv_reader *r, char **names,
                         size_t n, unsigned long line, int *rc)
{
    cJSON *obj = cJSON_CreateObject(), *v;
    const char *value;
    char reason[96];
    size_t i, bad;

    for (i = 0; obj != NULL && i < n; i++) {
        value = csv_field(r, i);
        bad = store_utf8_check(value, strlen(value));
        if (bad != strlen(value)) {
            snprintf(reason, sizeof(reason), "not valid UTF-8 at byte %zu",
                     bad + 1);
            *rc = add_reject(sd->report, line, names[i], reason);
            cJSON_Delete(obj);
            return NULL;
        }
        if (!r->quoted[i] && value[0] == '\0')
            v = cJSON_CreateNull();
        else if (strcmp(names[i], "sample_values") == 0)
            v = cJSON_Parse(value);
        else
            v = cJSON_CreateString(value);
        if (v == NULL) {
            *rc = add_reject(sd->report, line, names[i], "malformed JSON");
            cJSON_Delete(obj);
            return NULL;
        }
        cJSON_AddItemToObject(obj, names[i], v);
    }
    if (obj == NULL)
        *rc = CORE_STORE_ENOMEM;
    return obj;
}

static int csv_record(struct seeder *sd, struct csv_reader *r, char **names,
                      size_t n, unsigned long line)
{
    char reason[96];
    cJSON *obj;
    int rc = CORE_STORE_OK;

    sd->report->lines++;
    if (r->count != n) {
        snprintf(reason, sizeof(reason), "%zu fields, the header has %zu",
                 r->count, n);
        return add_reject(sd->report, line, "", reason);
    }
    obj = csv_object(sd, r, names, n, line, &rc);
    if (obj == NULL)
        return rc;
    rc = accept(sd, line, obj, cJSON_PrintUnformatted(obj));
    cJSON_Delete(obj);
    return rc;
}

/* Copy the header's field names; fails on a bad or duplicate name. */
static int csv_header(struct seeder *sd, struct csv_reader *r, char ***names)
{
    int has_id = 0, has_name = 0;
    size_t i, k;

    *names = calloc(r->count, sizeof(char *));
    if (*names == NULL)
        return store_fail(sd->err, CORE_STORE_ENOMEM, "store: seed: no memory");
    for (i = 0; i < r->count; i++) {
        const char *name = csv_field(r, i);

        for (k = 0; k < i; k++)
            if (strcmp((*names)[k], name) == 0)
                return store_fail(sd->err, CORE_STORE_EINVAL,
                                  "store: seed: CSV header repeats \"%s\"",
                                  name);
        if (name[0] == '\0' ||
            store_utf8_check(name, strlen(name)) != strlen(name))
            return store_fail(sd->err, CORE_STORE_EINVAL,
                              "store: seed: CSV header field %zu is empty "
                              "or not UTF-8",
                              i + 1);
        (*names)[i] = strdup(name);
        if ((*names)[i] == NULL)
            return store_fail(sd->err, CORE_STORE_ENOMEM,
                              "store: seed: no memory");
        has_id |= strcmp(name, "id") == 0;
        has_name |= strcmp(name, "name") == 0;
    }
    if (!has_id || !has_name)
        return store_fail(sd->err, CORE_STORE_EINVAL,
                          "store: seed: CSV header lacks the %s column",
                          has_id ? "name" : "id");
    return CORE_STORE_OK;
}

static int read_csv(struct seeder *sd, FILE *f, size_t chunk_rows)
{
    struct csv_reader r;
    char **names = NULL, why[96];
    size_t n = 0, i;
    unsigned long line = 0;
    enum csv_rc got;
    int rc = CORE_STORE_OK;

    csv_reader_init(&r, f);
    got = csv_read(&r, &line, why, sizeof(why));
    if (got != CSV_RECORD) {
        rc = store_fail(sd->err, CORE_STORE_EINVAL,
                        "store: seed: CSV header missing or malformed");
        goto out;
    }
    n = r.count;
    rc = csv_header(sd, &r, &names);

    while (rc == CORE_STORE_OK &&
           (got = csv_read(&r, &line, why, sizeof(why))) != CSV_EOF) {
        if (got == CSV_NOMEM)
            rc = store_fail(sd->err, CORE_STORE_ENOMEM, "store: no memory");
        else if (got == CSV_MALFORMED) {
            sd->report->lines++;
            rc = add_reject(sd->report, line, "", why);
        }
        else
            rc = csv_record(sd, &r, names, n, line);
        if (rc == CORE_STORE_OK && sd->count >= chunk_rows)
            rc = flush(sd);
    }
out:
    for (i = 0; names != NULL && i < n; i++)
        free(names[i]);
    free(names);
    csv_reader_free(&r);
    return rc;
}

/* End the file's transaction in all-or-nothing mode. */
static int finish_all(struct seeder *sd, int rc)
{
    struct core_store_seed_report *rep = sd->report;

    if (rc == CORE_STORE_OK && rep->rejected == 0)
        return store_exec_script(sd->slot, "seed commit", "COMMIT", sd->err);
    if (PQstatus(sd->slot->pg) == CONNECTION_OK)
        PQclear(PQexec(sd->slot->pg, "ROLLBACK"));
    rep->inserted = rep->updated = rep->unchanged = 0;
    rep->chunks_committed = 0;
    if (rc != CORE_STORE_OK)
        return rc;
    return store_fail(sd->err, CORE_STORE_EREJECT,
                      "store: seed: %lu line(s) rejected, nothing written "
                      "(first: line %lu, %s)",
                      rep->rejected, rep->rejects[0].line,
                      rep->rejects[0].reason);
}

int core_store_seed_file(struct core_store *s, const char *path,
                         enum core_store_format format,
                         const struct core_store_seed_options *opts,
                         struct core_store_seed_report *report,
                         struct core_store_error *err)
{
    struct core_store_error local;
    struct seeder sd = {0};
    size_t chunk_rows = DEFAULT_CHUNK;
    FILE *f;
    int rc;

    if (err == NULL)
        err = &local;
    store_err_clear(err);
    memset(report, 0, sizeof(*report));
    if (opts != NULL && opts->chunk_rows > 0)
        chunk_rows = opts->chunk_rows;
    f = fopen(path, "rb");
    if (f == NULL)
        return store_fail(err, CORE_STORE_EIO,
                          "store: seed: cannot open %s: %s", path,
                          strerror(errno));

    sd.store = s;
    sd.report = report;
    sd.err = err;
    sd.all_or_nothing = opts != NULL && opts->all_or_nothing;
    sd.slot = store_acquire(s, err);
    if (sd.slot == NULL) {
        fclose(f);
        return err->rc;
    }

    rc = sd.all_or_nothing
             ? store_exec_script(sd.slot, "seed begin", "BEGIN", err)
             : CORE_STORE_OK;
    if (rc == CORE_STORE_OK)
        rc = format == CORE_STORE_CSV ? read_csv(&sd, f, chunk_rows)
                                      : read_jsonl(&sd, f, chunk_rows);
    if (rc == CORE_STORE_OK)
        rc = flush(&sd);
    if (sd.all_or_nothing)
        rc = finish_all(&sd, rc);

    clear_chunk(&sd);
    free(sd.chunk);
    store_release(s, sd.slot);
    fclose(f);
    /* The server's refusals arrive per chunk, after later local ones. */
    if (report->reject_count > 1)
        qsort(report->rejects, report->reject_count, sizeof(report->rejects[0]),
              reject_cmp);
    log_info(STORE_TAG,
             "seed %s: %lu records, %lu inserted, %lu updated, %lu "
             "unchanged, %lu rejected",
             path, report->lines, report->inserted, report->updated,
             report->unchanged, report->rejected);
    return rc;
}

void core_store_seed_report_free(struct core_store_seed_report *report)
{
    free(report->rejects);
    memset(report, 0, sizeof(*report));
}

int core_store_format_parse(const char *name)
{
    if (name != NULL && strcmp(name, "jsonl") == 0)
        return CORE_STORE_JSONL;
    if (name != NULL && strcmp(name, "csv") == 0)
        return CORE_STORE_CSV;
    return -1;
}
