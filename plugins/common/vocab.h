/*
 * vocab.h - lookups over the label lists of classify/taxonomy.h.
 *
 * Stages validate every enumerated value they emit (and every value an LLM
 * returns) against these lists, and expand them into prompts and JSON
 * schemas, so the vocabulary lives in one header only.  Pure and
 * reentrant; the returned strings are the header's string literals.
 */
#ifndef CLS_COMMON_VOCAB_H
#define CLS_COMMON_VOCAB_H

#include <stddef.h>

enum cv_list {
    CV_FAMILIES,
    CV_TYPES,
    CV_AGGREGATIONS,
    CV_ORIENTATIONS,
    CV_TIME_BASES,
    CV_FREQUENCIES,
    CV_TIME_SOURCES,
    CV_CUMULATIVE_PATTERNS,
    CV_UNIT_TYPES,
    CV_SCALES,
    CV_REVIEW_STATUSES,
    CV_LIST_COUNT
};

/* The list's canonical spelling of value (exact match), or NULL when
 * value is NULL or not in the list. */
const char *cv_canonical(enum cv_list list, const char *value);

/* Number of values in list, and the i-th one (NULL past the end). */
size_t cv_count(enum cv_list list);
const char *cv_at(enum cv_list list, size_t i);

/* Non-zero when CLS_FAMILY_TYPES allows type within family. */
int cv_family_allows(const char *family, const char *type);

/* The i-th type family allows, or NULL past the end. */
const char *cv_family_type_at(const char *family, size_t i);

/*
 * Write the list into buf (size len) joined by sep, each value wrapped in
 * double quotes when quoted is non-zero.  Returns the length the full text
 * needs (like snprintf); buf is always terminated when len > 0.
 */
size_t cv_join(enum cv_list list, const char *sep, int quoted, char *buf,
               size_t len);

/* The "family: type, type, ..." lines of CLS_FAMILY_TYPES, one family per
 * line, into buf; returns the length needed (like snprintf). */
size_t cv_family_table(char *buf, size_t len);

#endif /* CLS_COMMON_VOCAB_H */
