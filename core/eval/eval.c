/*
 * eval.c - loading, scoring and reporting of the accuracy evaluation.
 */
#include "eval/eval.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "eval/eval_internal.h"

#define TEXT(id, text) text,
const char *const eval_families[N_FAMILIES] = {CLS_FAMILIES(TEXT)};
const char *const eval_types[N_TYPES] = {CLS_TYPES(TEXT)};
#undef TEXT

const char *const eval_fields[N_FIELDS] = {
    "family",
    "indicator_type",
    "temporal_aggregation",
    "heat_map_orientation",
    "is_currency_denominated",
};

struct core_eval *core_eval_new(void)
{
    return calloc(1, sizeof(struct core_eval));
}

void core_eval_free(struct core_eval *ev)
{
    size_t i;

    if (ev == NULL)
        return;
    for (i = 0; i < ev->n_ind; i++) {
        free(ev->ind[i].id);
        free(ev->ind[i].line);
    }
    for (i = 0; i < ev->n_labels; i++)
        cJSON_Delete(ev->labels[i]);
    for (i = 0; i < ev->n_mis; i++) {
        free(ev->mis[i].id);
        free(ev->mis[i].expected);
        free(ev->mis[i].got);
    }
    free(ev->ind);
    free(ev->labels);
    free(ev->mis);
    free(ev);
}

/* Make room for one more element of size sz in *arr. */
static int grow(void **arr, size_t *cap, size_t n, size_t sz)
{
    void *p;
    size_t c;

    if (n < *cap)
        return 0;
    c = *cap ? *cap * 2 : 64;
    p = realloc(*arr, c * sz);
    if (p == NULL)
        return -1;
    *arr = p;
    *cap = c;
    return 0;
}

static const char *id_of(const cJSON *o)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");

    return cJSON_IsString(id) ? id->valuestring : NULL;
}

/* Add one indicator line; returns 0, or -1 with err filled. */
static int add_indicator(struct core_eval *ev, const char *line, cJSON *o,
                         char *err, size_t errlen)
{
    struct indicator *it;

    if (grow((void **)&ev->ind, &ev->cap_ind, ev->n_ind, sizeof(*ev->ind))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    it = &ev->ind[ev->n_ind];
    it->id = strdup(id_of(o));
    it->line = strdup(line);
    if (it->id == NULL || it->line == NULL) {
        free(it->id);
        free(it->line);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ev->n_ind++;
    return 0;
}

static int add_label(struct core_eval *ev, cJSON *o, char *err, size_t errlen)
{
    if (grow((void **)&ev->labels, &ev->cap_labels, ev->n_labels,
             sizeof(*ev->labels))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ev->labels[ev->n_labels++] = o;
    return 0;
}

static int cmp_ind(const void *a, const void *b)
{
    return strcmp(((const struct indicator *)a)->id,
                  ((const struct indicator *)b)->id);
}

/* Read path line by line; labels keep the parsed object. */
static long load(struct core_eval *ev, const char *path, int labels, char *err,
                 size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    long loaded = 0;
    ssize_t len;

    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    while ((len = getline(&line, &cap, f)) >= 0) {
        cJSON *o;
        int rc;

        lineno++;
        if (len <= 1)
            continue;
        o = cJSON_Parse(line);
        if (o == NULL || id_of(o) == NULL) {
            snprintf(err, errlen, "%s:%ld: not a JSON object with an id", path,
                     lineno);
            cJSON_Delete(o);
            loaded = -1;
            break;
        }
        rc = labels ? add_label(ev, o, err, errlen)
                    : add_indicator(ev, line, o, err, errlen);
        if (!labels || rc != 0)
            cJSON_Delete(o);
        if (rc != 0) {
            loaded = -1;
            break;
        }
        loaded++;
    }
    free(line);
    fclose(f);
    return loaded;
}

long core_eval_load_indicators(struct core_eval *ev, const char *path,
                               char *err, size_t errlen)
{
    long n = load(ev, path, 0, err, errlen);

    if (n >= 0)
        qsort(ev->ind, ev->n_ind, sizeof(*ev->ind), cmp_ind);
    return n;
}

long core_eval_load_labels(struct core_eval *ev, const char *path, char *err,
                           size_t errlen)
{
    return load(ev, path, 1, err, errlen);
}

static const struct indicator *find(const struct core_eval *ev, const char *id)
{
    struct indicator key = {(char *)id, NULL};

    return bsearch(&key, ev->ind, ev->n_ind, sizeof(*ev->ind), cmp_ind);
}

static size_t index_of(const char *const *list, size_t n, const char *v)
{
    size_t i;

    for (i = 0; v != NULL && i < n; i++) {
        if (strcmp(list[i], v) == 0)
            return i;
    }
    return n;
}

/* A field's value as text: the string, "true"/"false", or NULL. */
static const char *field_text(const cJSON *o, const char *field)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);

    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v) ? "true" : "false";
    return NULL;
}

static int note_mismatch(struct core_eval *ev, const char *id,
                         const char *field, const char *expected,
                         const char *got)
{
    struct mismatch *m;

    if (grow((void **)&ev->mis, &ev->cap_mis, ev->n_mis, sizeof(*ev->mis)))
        return -1;
    m = &ev->mis[ev->n_mis];
    m->id = strdup(id);
    m->field = field;
    m->expected = strdup(expected);
    m->got = got ? strdup(got) : NULL;
    if (m->id == NULL || m->expected == NULL || (got && m->got == NULL)) {
        free(m->id);
        free(m->expected);
        free(m->got);
        return -1;
    }
    ev->n_mis++;
    return 0;
}

/* Score one item; result may be NULL (classify failed). */
static int score(struct core_eval *ev, const cJSON *label, const cJSON *result)
{
    const char *id = id_of(label);
    size_t i;

    for (i = 0; i < N_FIELDS; i++) {
        const char *want = field_text(label, eval_fields[i]);
        const char *got = result ? field_text(result, eval_fields[i]) : NULL;

        if (want == NULL)
            continue;
        ev->total[i]++;
        if (got != NULL && strcmp(want, got) == 0)
            ev->correct[i]++;
        else if (note_mismatch(ev, id, eval_fields[i], want, got) != 0)
            return -1;
    }
    {
        const char *wf = field_text(label, "family");
        const char *wt = field_text(label, "indicator_type");
        const char *gf = result ? field_text(result, "family") : NULL;
        const char *gt = result ? field_text(result, "indicator_type") : NULL;

        if (wf != NULL)
            ev->family_conf[index_of(eval_families, N_FAMILIES, wf)]
                           [index_of(eval_families, N_FAMILIES, gf)]++;
        if (wt != NULL)
            ev->type_conf[index_of(eval_types, N_TYPES, wt)]
                         [index_of(eval_types, N_TYPES, gt)]++;
    }
    return 0;
}

static int run_one(struct core_eval *ev, const cJSON *label,
                   core_eval_classify_fn fn, void *arg)
{
    const struct indicator *ind = find(ev, id_of(label));
    char msg[256] = "";
    char *out = NULL;
    cJSON *result = NULL;
    int rc;

    if (ind == NULL) {
        ev->missing++;
        log_warn("eval", "label %s has no indicator", id_of(label));
        return 0;
    }
    ev->items++;
    if (fn(arg, ind->line, &out, msg, sizeof(msg)) != 0) {
        ev->failures++;
        log_warn("eval", "classify %s failed: %s", ind->id, msg);
    }
    else {
        result = cJSON_Parse(out);
        if (result == NULL) {
            ev->failures++;
            log_warn("eval", "classify %s returned no JSON object", ind->id);
        }
    }
    rc = score(ev, label, result);
    cJSON_Delete(result);
    free(out);
    return rc;
}

int core_eval_run(struct core_eval *ev, core_eval_classify_fn fn, void *arg,
                  char *err, size_t errlen)
{
    size_t i;

    if (ev->ran) {
        snprintf(err, errlen, "evaluation already ran");
        return -1;
    }
    ev->ran = 1;
    for (i = 0; i < ev->n_labels; i++) {
        if (run_one(ev, ev->labels[i], fn, arg) != 0) {
            snprintf(err, errlen, "out of memory while scoring");
            return -1;
        }
    }
    return 0;
}

double core_eval_accuracy(const struct core_eval *ev, const char *field,
                          size_t *correct, size_t *total)
{
    size_t i = index_of(eval_fields, N_FIELDS, field);

    if (i == N_FIELDS)
        return -1;
    if (correct != NULL)
        *correct = ev->correct[i];
    if (total != NULL)
        *total = ev->total[i];
    if (ev->total[i] == 0)
        return -1;
    return (double)ev->correct[i] / (double)ev->total[i];
}

size_t core_eval_items(const struct core_eval *ev)
{
    return ev->items;
}

size_t core_eval_failures(const struct core_eval *ev)
{
    return ev->failures;
}

size_t core_eval_missing(const struct core_eval *ev)
{
    return ev->missing;
}
