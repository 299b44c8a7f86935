/*
 * view.c - reading the classification out of the stage results.
 */
#include "view.h"

#include <string.h>

#include "stagekit.h"
#include "vocab.h"

static const struct {
    const char *name;
    const char *stage;
    int list;
} fields[VF_COUNT] = {
    [VF_FAMILY] = {"family", "family-assignment", CV_FAMILIES},
    [VF_TYPE] = {"indicator_type", "type-classification", CV_TYPES},
    [VF_AGGREGATION] = {"temporal_aggregation", "type-classification",
                        CV_AGGREGATIONS},
    [VF_ORIENTATION] = {"heat_map_orientation", "type-classification",
                        CV_ORIENTATIONS},
    [VF_TIME_BASIS] = {"time_basis", "time-inference", CV_TIME_BASES},
    [VF_FREQUENCY] = {"reporting_frequency", "time-inference", CV_FREQUENCIES},
};

/* Stages whose confidence counts towards the overall one. */
static const char *const confident_stages[] = {
    "normalization",       "time-inference", "family-assignment",
    "type-classification", "boolean-review",
};

const char *view_field_name(enum view_field f)
{
    return (unsigned)f < VF_COUNT ? fields[f].name : NULL;
}

enum view_field view_field_by_name(const char *name)
{
    int i;

    for (i = 0; name != NULL && i < VF_COUNT; i++) {
        if (strcmp(fields[i].name, name) == 0)
            return (enum view_field)i;
    }
    return VF_COUNT;
}

const char *view_canonical(enum view_field f, const char *v)
{
    if ((unsigned)f >= VF_COUNT)
        return NULL;
    return cv_canonical((enum cv_list)fields[f].list, v);
}

void view_read(const cls_host_api *api, const cls_json *input, struct view *v)
{
    const cls_json *ind = sk_indicator(api, input);
    const cls_json *norm = sk_result(api, input, "normalization");
    size_t i;

    memset(v, 0, sizeof(*v));
    for (i = 0; i < VF_COUNT; i++) {
        const cls_json *r = sk_result(api, input, fields[i].stage);

        v->value[i] = sk_str(api, r, fields[i].name);
    }
    v->name = sk_str(api, ind, "name");
    v->units = sk_str(api, ind, "units");
    v->unit_type = sk_str(api, norm, "unit_type");
    v->is_currency = sk_bool(api, norm, "is_currency_denominated", 0);
    v->is_cumulative = v->value[VF_TIME_BASIS] != NULL &&
                       strcmp(v->value[VF_TIME_BASIS], "cumulative") == 0;
    for (i = 0; i < sizeof(confident_stages) / sizeof(confident_stages[0]);
         i++) {
        double c;

        if (sk_num(api, sk_result(api, input, confident_stages[i]),
                   "confidence", &c)) {
            v->confidence_sum += c;
            v->confidence_n++;
        }
    }
    cat_features_init(&v->features, v->name, v->units, v->unit_type,
                      v->is_currency, v->is_cumulative);
}
