/*
 * time_rules.h - the rules engine of the time-inference stage.
 *
 * Decides the reporting frequency (from the sample dates, the periodicity
 * text, the unit text or the name, in that order of trust) and the time
 * basis (cumulative, per-period or point-in-time) from keyword tables, the
 * unit type and the cumulative detector.  Pure and reentrant.
 */
#ifndef TIME_RULES_H
#define TIME_RULES_H

#include <stddef.h>

#include "series.h"

struct time_input {
    const char *name;
    const char *units;
    const char *periodicity;
    const char *unit_type;         /* from normalization, may be NULL */
    const struct ts_point *points; /* cleaned, sorted */
    size_t n_points;
};

struct time_result {
    const char *reporting_frequency; /* CLS_FREQUENCIES */
    const char *source_used;         /* CLS_TIME_SOURCES */
    double frequency_confidence;
    const char *time_basis; /* CLS_TIME_BASES */
    double basis_confidence;
    double confidence; /* mean of the two */
    struct ts_cumulative cumulative;
    char reasoning[640];
};

/* Run the rules on in and fill out completely.  Never fails. */
void time_rules_run(const struct time_input *in, struct time_result *out);

#endif /* TIME_RULES_H */
