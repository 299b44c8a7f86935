/*
 * review_rules.h - the consistency checks of the boolean-review stage.
 *
 * Each check looks at one field of the classification so far and, when
 * the value is outside its vocabulary or contradicts another field (a
 * type the family does not allow, a level summed over a period, a
 * cumulative series not aggregated cumulatively, money in a family that
 * holds no money), names the field, the reason and the value the
 * catalogue suggests instead.  Pure and reentrant.
 */
#ifndef REVIEW_RULES_H
#define REVIEW_RULES_H

#include "view.h"

/* One field found wrong. */
struct review_finding {
    enum view_field field;
    const char *reason;
    const char *suggested; /* NULL when no better value is known */
};

/* At most one finding per field. */
struct review_result {
    struct review_finding findings[VF_COUNT];
    int n;
    int checks_run;
};

/* Run every check on v and fill out.  Never fails. */
void review_rules_run(const struct view *v, struct review_result *out);

#endif /* REVIEW_RULES_H */
