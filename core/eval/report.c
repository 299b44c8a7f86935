/*
 * report.c - text and JSON reports of an evaluation (see eval.h).
 *
 * Shares the evaluation's layout with eval.c through eval_internal.h.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

static int print_fields(const struct core_eval *ev, FILE *out)
{
    size_t i;

    fprintf(out,
            "items %zu, classify failures %zu, labels without an "
            "indicator %zu\n\n",
            ev->items, ev->failures, ev->missing);
    fprintf(out, "%-24s %8s %8s %9s\n", "field", "correct", "total",
            "accuracy");
    for (i = 0; i < N_FIELDS; i++) {
        if (ev->total[i] == 0)
            fprintf(out, "%-24s %8zu %8zu %9s\n", eval_fields[i],
                    ev->correct[i], ev->total[i], "-");
        else
            fprintf(out, "%-24s %8zu %8zu %8.1f%%\n", eval_fields[i],
                    ev->correct[i], ev->total[i],
                    100.0 * (double)ev->correct[i] / (double)ev->total[i]);
    }
    return 0;
}

static int print_family_matrix(const struct core_eval *ev, FILE *out)
{
    size_t r;
    size_t c;

    fprintf(out, "\nfamily confusion (rows: label, columns: result; "
                 "columns in row order, last one any other value)\n");
    for (r = 0; r <= N_FAMILIES; r++) {
        fprintf(out, "%-22s", r < N_FAMILIES ? eval_families[r] : "(other)");
        for (c = 0; c <= N_FAMILIES; c++)
            fprintf(out, " %4zu", ev->family_conf[r][c]);
        fprintf(out, "\n");
    }
    return 0;
}

static const char *type_name(size_t i)
{
    return i < N_TYPES ? eval_types[i] : "(other)";
}

static int print_type_confusions(const struct core_eval *ev, FILE *out)
{
    size_t r;
    size_t c;

    fprintf(out, "\ntype confusions (label -> result: count)\n");
    for (r = 0; r <= N_TYPES; r++) {
        for (c = 0; c <= N_TYPES; c++) {
            if (r != c && ev->type_conf[r][c] > 0)
                fprintf(out, "  %s -> %s: %zu\n", type_name(r), type_name(c),
                        ev->type_conf[r][c]);
        }
    }
    return 0;
}

int core_eval_print_table(const struct core_eval *ev, FILE *out)
{
    size_t i;

    print_fields(ev, out);
    print_family_matrix(ev, out);
    print_type_confusions(ev, out);
    fprintf(out, "\nmismatches\n");
    for (i = 0; i < ev->n_mis; i++)
        fprintf(out, "  %s %s: label %s, result %s\n", ev->mis[i].id,
                ev->mis[i].field, ev->mis[i].expected,
                ev->mis[i].got ? ev->mis[i].got : "(none)");
    return ferror(out) ? -1 : 0;
}

static cJSON *fields_json(const struct core_eval *ev)
{
    cJSON *o = cJSON_CreateObject();
    size_t i;

    for (i = 0; o != NULL && i < N_FIELDS; i++) {
        cJSON *f = cJSON_AddObjectToObject(o, eval_fields[i]);

        if (f == NULL)
            break;
        cJSON_AddNumberToObject(f, "correct", (double)ev->correct[i]);
        cJSON_AddNumberToObject(f, "total", (double)ev->total[i]);
        if (ev->total[i] > 0)
            cJSON_AddNumberToObject(
                f, "accuracy", (double)ev->correct[i] / (double)ev->total[i]);
        else
            cJSON_AddNullToObject(f, "accuracy");
    }
    return o;
}

/* {label: {result: count}} of the non-zero cells of a square matrix. */
static cJSON *matrix_json(const size_t *cells, size_t n,
                          const char *(*name)(size_t))
{
    cJSON *o = cJSON_CreateObject();
    size_t r;
    size_t c;

    for (r = 0; o != NULL && r < n; r++) {
        cJSON *row = NULL;

        for (c = 0; c < n; c++) {
            if (cells[r * n + c] == 0)
                continue;
            if (row == NULL)
                row = cJSON_AddObjectToObject(o, name(r));
            if (row != NULL)
                cJSON_AddNumberToObject(row, name(c), (double)cells[r * n + c]);
        }
    }
    return o;
}

static const char *family_name(size_t i)
{
    return i < N_FAMILIES ? eval_families[i] : "(other)";
}

static cJSON *mismatches_json(const struct core_eval *ev)
{
    cJSON *a = cJSON_CreateArray();
    size_t i;

    for (i = 0; a != NULL && i < ev->n_mis; i++) {
        cJSON *m = cJSON_CreateObject();

        if (m == NULL)
            break;
        cJSON_AddStringToObject(m, "id", ev->mis[i].id);
        cJSON_AddStringToObject(m, "field", ev->mis[i].field);
        cJSON_AddStringToObject(m, "label", ev->mis[i].expected);
        if (ev->mis[i].got != NULL)
            cJSON_AddStringToObject(m, "result", ev->mis[i].got);
        else
            cJSON_AddNullToObject(m, "result");
        cJSON_AddItemToArray(a, m);
    }
    return a;
}

int core_eval_print_json(const struct core_eval *ev, FILE *out)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *conf;
    char *text = NULL;
    int rc = -1;

    if (root == NULL)
        return -1;
    cJSON_AddNumberToObject(root, "items", (double)ev->items);
    cJSON_AddNumberToObject(root, "failures", (double)ev->failures);
    cJSON_AddNumberToObject(root, "missing", (double)ev->missing);
    cJSON_AddItemToObject(root, "fields", fields_json(ev));
    conf = cJSON_AddObjectToObject(root, "confusion");
    if (conf != NULL) {
        cJSON_AddItemToObject(
            conf, "family",
            matrix_json(&ev->family_conf[0][0], N_FAMILIES + 1, family_name));
        cJSON_AddItemToObject(
            conf, "indicator_type",
            matrix_json(&ev->type_conf[0][0], N_TYPES + 1, type_name));
    }
    cJSON_AddItemToObject(root, "mismatches", mismatches_json(ev));
    text = cJSON_PrintUnformatted(root);
    if (text != NULL && fprintf(out, "%s\n", text) >= 0 && !ferror(out))
        rc = 0;
    free(text);
    cJSON_Delete(root);
    return rc;
}
