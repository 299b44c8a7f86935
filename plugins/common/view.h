/*
 * view.h - the classification so far, as the review stages see it.
 *
 * Collects the reviewable fields from the results of the earlier stages
 * (family from family-assignment, type, aggregation and orientation from
 * type-classification, time basis and frequency from time-inference) with
 * the facts they were decided from.  The strings belong to the call's
 * input and live as long as the call.
 */
#ifndef CLS_COMMON_VIEW_H
#define CLS_COMMON_VIEW_H

#include "catalog.h"
#include "classify/stage.h"

/* The reviewable fields, in a fixed order. */
enum view_field {
    VF_FAMILY,
    VF_TYPE,
    VF_AGGREGATION,
    VF_ORIENTATION,
    VF_TIME_BASIS,
    VF_FREQUENCY,
    VF_COUNT
};

struct view {
    const char *value[VF_COUNT];
    const char *name;
    const char *units;
    const char *unit_type;
    int is_currency;
    int is_cumulative;
    double confidence_sum; /* over the stages that reported one */
    int confidence_n;
    struct cat_features features;
};

/* Output name of field f ("family", "indicator_type", ...). */
const char *view_field_name(enum view_field f);

/* The field called name, or VF_COUNT when there is none. */
enum view_field view_field_by_name(const char *name);

/* The canonical value of v for field f, or NULL when v is not in the
 * field's vocabulary. */
const char *view_canonical(enum view_field f, const char *v);

/* Fill v from input (indicator + results).  Never fails; missing values
 * stay NULL.  Call thread only. */
void view_read(const cls_host_api *api, const cls_json *input, struct view *v);

#endif /* CLS_COMMON_VIEW_H */
