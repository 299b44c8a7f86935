/*
 * indicator.c - validation and cleaning of indicators submitted to the
 * batch API, before any workflow starts.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "workflow/workflow.h"

#define ID_MAX 256

/* Fields that must be a string or null when present. */
static const char *const text_fields[] = {
    "units",       "scale",      "periodicity",        "currency_code",
    "source_name", "definition", "long_name",          "category_group",
    "dataset",     "topic",      "aggregation_method", "source_id",
    "country",     "collection"};

struct sample {
    char *date;
    double value;
    size_t order; /* position in the input, for stable de-duplication */
};

int workflow_run_id_valid(const char *s)
{
    size_t n = 0;

    if (s == NULL)
        return 0;
    for (; s[n] != '\0'; n++) {
        unsigned char c = (unsigned char)s[n];

        if (!isalnum(c) && c != '.' && c != '_' && c != '-')
            return 0;
    }
    return n >= 1 && n <= 64;
}

static int utf8_ok(const char *s)
{
    size_t len = strlen(s);

    return core_utf8_check(s, len) == len;
}

static int check_id(const cJSON *item, char *err, size_t err_len)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "id");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");

    if (!cJSON_IsString(id) || id->valuestring[0] == '\0') {
        snprintf(err, err_len, "id: required, a non-empty string");
        return -1;
    }
    if (strlen(id->valuestring) > ID_MAX || !utf8_ok(id->valuestring)) {
        snprintf(err, err_len, "id: must be valid UTF-8 of at most %d bytes",
                 ID_MAX);
        return -1;
    }
    if (!cJSON_IsString(name) || name->valuestring[0] == '\0') {
        snprintf(err, err_len, "name: required, a non-empty string");
        return -1;
    }
    if (!utf8_ok(name->valuestring)) {
        snprintf(err, err_len, "name: not valid UTF-8");
        return -1;
    }
    return 0;
}

static int check_text_fields(const cJSON *item, char *err, size_t err_len)
{
    size_t i;

    for (i = 0; i < sizeof(text_fields) / sizeof(text_fields[0]); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, text_fields[i]);

        if (v == NULL || cJSON_IsNull(v))
            continue;
        if (!cJSON_IsString(v)) {
            snprintf(err, err_len, "%s: expected a string or null",
                     text_fields[i]);
            return -1;
        }
        if (!utf8_ok(v->valuestring)) {
            snprintf(err, err_len, "%s: not valid UTF-8", text_fields[i]);
            return -1;
        }
    }
    return 0;
}

/* A number, or a string holding only a number; 0 and *out on success. */
static int sample_number(const cJSON *v, double *out)
{
    const char *s;
    char *end;

    if (cJSON_IsNumber(v)) {
        *out = v->valuedouble;
        return 0;
    }
    if (!cJSON_IsString(v))
        return -1;
    s = v->valuestring;
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '\0')
        return -1;
    *out = strtod(s, &end);
    while (isspace((unsigned char)*end))
        end++;
    return *end == '\0' ? 0 : -1;
}

static char *trimmed_copy(const char *s)
{
    size_t len;

    while (isspace((unsigned char)*s))
        s++;
    len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    return strndup(s, len);
}

/* Sort by date, then by input order, so the last duplicate sorts last. */
static int sample_cmp(const void *a, const void *b)
{
    const struct sample *x = a, *y = b;
    int c = strcmp(x->date, y->date);

    if (c != 0)
        return c;
    return x->order < y->order ? -1 : (x->order > y->order);
}

/*
 * Collect the usable samples of arr into *out (sorted, one per date: the
 * last given wins).  Returns the count, or -1 on a structural error.
 */
static long collect_samples(const cJSON *arr, struct sample **out, char *err,
                            size_t err_len)
{
    size_t n = (size_t)cJSON_GetArraySize(arr), kept = 0, i = 0, w;
    struct sample *s = calloc(n ? n : 1, sizeof(*s));
    const cJSON *el;

    if (s == NULL) {
        snprintf(err, err_len, "sample_values: out of memory");
        return -1;
    }
    cJSON_ArrayForEach(el, arr)
    {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(el, "date");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(el, "value");
        double num;

        i++;
        if (!cJSON_IsObject(el) || !cJSON_IsString(d)) {
            snprintf(err, err_len,
                     "sample_values[%zu]: expected {\"date\": string, "
                     "\"value\": number}",
                     i - 1);
            goto fail;
        }
        if (!utf8_ok(d->valuestring)) {
            snprintf(err, err_len, "sample_values[%zu].date: not valid UTF-8",
                     i - 1);
            goto fail;
        }
        if (sample_number(v, &num) != 0)
            continue; /* missing or non-numeric value: not an observation */
        if (!isfinite(num)) {
            snprintf(err, err_len,
                     "sample_values[%zu].value: out of range (not a finite "
                     "number)",
                     i - 1);
            goto fail;
        }
        s[kept].date = trimmed_copy(d->valuestring);
        if (s[kept].date == NULL)
            goto fail;
        if (s[kept].date[0] == '\0') {
            free(s[kept].date);
            continue;
        }
        s[kept].value = num;
        s[kept].order = kept;
        kept++;
    }
    qsort(s, kept, sizeof(*s), sample_cmp);
    for (i = 0, w = 0; i < kept; i++) {
        if (i + 1 < kept && strcmp(s[i].date, s[i + 1].date) == 0) {
            free(s[i].date);
            continue;
        }
        s[w++] = s[i];
    }
    *out = s;
    return (long)w;

fail:
    for (w = 0; w < kept; w++)
        free(s[w].date);
    free(s);
    return -1;
}

static int clean_samples(cJSON *item, size_t cap, char *err, size_t err_len)
{
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(item, "sample_values");
    cJSON *fresh = NULL;
    struct sample *s = NULL;
    long n, i, first;
    int rc = -1;

    if (arr == NULL || cJSON_IsNull(arr))
        return 0;
    if (!cJSON_IsArray(arr)) {
        snprintf(err, err_len, "sample_values: expected an array");
        return -1;
    }
    n = collect_samples(arr, &s, err, err_len);
    if (n < 0)
        return -1;

    first = cap > 0 && (size_t)n > cap ? n - (long)cap : 0;
    fresh = cJSON_CreateArray();
    if (fresh == NULL)
        goto out;
    for (i = first; i < n; i++) {
        cJSON *o = cJSON_CreateObject();

        if (o == NULL || !cJSON_AddItemToArray(fresh, o) ||
            cJSON_AddStringToObject(o, "date", s[i].date) == NULL ||
            cJSON_AddNumberToObject(o, "value", s[i].value) == NULL)
            goto out;
    }
    if (!cJSON_ReplaceItemInObjectCaseSensitive(item, "sample_values", fresh))
        goto out;
    fresh = NULL;
    rc = 0;

out:
    if (rc != 0 && err[0] == '\0')
        snprintf(err, err_len, "sample_values: out of memory");
    cJSON_Delete(fresh);
    for (i = 0; i < n; i++)
        free(s[i].date);
    free(s);
    return rc;
}

int workflow_indicator_clean(cJSON *item, size_t cap, char *err, size_t err_len)
{
    err[0] = '\0';
    if (!cJSON_IsObject(item)) {
        snprintf(err, err_len, ": expected an object");
        return -1;
    }
    if (check_id(item, err, err_len) != 0 ||
        check_text_fields(item, err, err_len) != 0)
        return -1;
    return clean_samples(item, cap, err, err_len);
}
