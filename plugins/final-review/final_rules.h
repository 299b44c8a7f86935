/*
 * final_rules.h - applying reviewed corrections (final-review stage).
 *
 * Takes the fields the boolean review flagged, each with the value to put
 * instead, and applies exactly those: a value outside the field's
 * vocabulary is refused, and the result must keep the type allowed in the
 * family.  Records every change and every refusal with its reason.  Pure
 * and reentrant.
 */
#ifndef FINAL_RULES_H
#define FINAL_RULES_H

#include "view.h"

/* One flagged field and the decision about it. */
struct final_item {
    enum view_field field;
    const char *proposed; /* value to apply, NULL to keep the current */
    const char *reason;   /* why it was flagged or decided */
    const char *rejected; /* non-NULL: the reviewer refused it, and why */
};

struct final_change {
    enum view_field field;
    const char *from;
    const char *to;
    const char *reason;
};

struct final_result {
    const char *value[VF_COUNT]; /* the classification after review */
    struct final_change changes[VF_COUNT];
    int n_changes;
    struct final_change refused[VF_COUNT]; /* to = the refused value */
    int n_refused;
    const char *status; /* CLS_REVIEW_STATUSES */
    char reasoning[512];
};

/*
 * Apply items (n of them, flagged fields; later duplicates ignored) to the
 * values of v.  When the changes leave the type outside the family, the
 * changes of family and type are undone and listed as refused, so the
 * result never holds a combination the changes made inconsistent.
 * Status: passed when nothing was flagged, corrected when at least one
 * change was applied and the result was consistent, failed otherwise.
 * Never fails.
 */
void final_rules_apply(const struct view *v, const struct final_item *items,
                       int n, struct final_result *out);

#endif /* FINAL_RULES_H */
