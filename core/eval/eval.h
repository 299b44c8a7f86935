/*
 * eval.h - accuracy of the classifier against labelled indicators.
 *
 * Loads an indicators JSONL file and a labels JSONL file, runs a
 * caller-supplied classify function on every labelled indicator
 * (indicator JSON in, merged result JSON out), and compares the result's
 * family, indicator_type, temporal_aggregation, heat_map_orientation and
 * is_currency_denominated with the labels.  A label that is null for a
 * field is not counted for that field.  Reports per-field accuracy,
 * confusion matrices for family and type, and the mismatches, as a text
 * table or as JSON.
 *
 * Threads: one evaluation belongs to one thread.
 */
#ifndef CORE_EVAL_EVAL_H
#define CORE_EVAL_EVAL_H

#include <stddef.h>
#include <stdio.h>

struct core_eval;

/*
 * Classify one indicator.  indicator_json is one line of the indicators
 * file.  On success return 0 and set *result_json to a malloc'd JSON
 * object holding the compared fields (top level); the evaluator frees it.
 * On failure return -1 with a message in err (errlen bytes); the item
 * then counts as wrong for every field.
 */
typedef int (*core_eval_classify_fn)(void *arg, const char *indicator_json,
                                     char **result_json, char *err,
                                     size_t errlen);

/* A new, empty evaluation, or NULL on ENOMEM. */
struct core_eval *core_eval_new(void);

/* Free ev and everything it loaded (NULL is a no-op). */
void core_eval_free(struct core_eval *ev);

/*
 * Load the indicators (one JSON object with an "id" per line) or the
 * labels (one object per line, "id" plus the label fields).  Returns the
 * number of lines loaded, or -1 with a message naming the file and line
 * in err.
 */
long core_eval_load_indicators(struct core_eval *ev, const char *path,
                               char *err, size_t errlen);
long core_eval_load_labels(struct core_eval *ev, const char *path, char *err,
                           size_t errlen);

/*
 * Run fn on every labelled indicator and score the results.  A label
 * whose id has no indicator is counted as missing.  Returns 0, or -1 on
 * ENOMEM (err filled).  May be called once per evaluation.
 */
int core_eval_run(struct core_eval *ev, core_eval_classify_fn fn, void *arg,
                  char *err, size_t errlen);

/*
 * Accuracy of field (one of the compared names): writes correct and total
 * counts (may be NULL) and returns correct/total, or -1 when the field is
 * unknown or nothing was counted.
 */
double core_eval_accuracy(const struct core_eval *ev, const char *field,
                          size_t *correct, size_t *total);

/* Items classified, items whose classify call failed, labels without an
 * indicator. */
size_t core_eval_items(const struct core_eval *ev);
size_t core_eval_failures(const struct core_eval *ev);
size_t core_eval_missing(const struct core_eval *ev);

/* Write the per-field table, the family confusion matrix, the type
 * confusions and the mismatches to out.  Returns 0 or -1 on a write
 * error. */
int core_eval_print_table(const struct core_eval *ev, FILE *out);

/* The same as one JSON object (plus a newline).  Returns 0 or -1 (write
 * error or ENOMEM). */
int core_eval_print_json(const struct core_eval *ev, FILE *out);

#endif /* CORE_EVAL_EVAL_H */
