/*
 * eval_internal.h - the evaluation's layout, shared by eval.c and
 * report.c only.  Not part of the library's interface.
 */
#ifndef CORE_EVAL_EVAL_INTERNAL_H
#define CORE_EVAL_EVAL_INTERNAL_H

#include <stddef.h>

#include "classify/taxonomy.h"
#include "eval/eval.h"

#define EVAL_COUNT(id, text) +1
#define N_FAMILIES           (0 CLS_FAMILIES(EVAL_COUNT))
#define N_TYPES              (0 CLS_TYPES(EVAL_COUNT))
#define N_FIELDS             5

/* Vocabulary and compared fields (defined in eval.c). */
extern const char *const eval_families[N_FAMILIES];
extern const char *const eval_types[N_TYPES];
extern const char *const eval_fields[N_FIELDS];

struct indicator {
    char *id;
    char *line;
};

struct mismatch {
    char *id;
    const char *field;
    char *expected;
    char *got;
};

struct core_eval {
    struct indicator *ind;
    size_t n_ind, cap_ind;
    struct cJSON **labels;
    size_t n_labels, cap_labels;
    size_t correct[N_FIELDS];
    size_t total[N_FIELDS];
    /* Confusion counts; the last row/column is "any other value". */
    size_t family_conf[N_FAMILIES + 1][N_FAMILIES + 1];
    size_t type_conf[N_TYPES + 1][N_TYPES + 1];
    struct mismatch *mis;
    size_t n_mis, cap_mis;
    size_t items, failures, missing;
    int ran;
};

#endif /* CORE_EVAL_EVAL_INTERNAL_H */
