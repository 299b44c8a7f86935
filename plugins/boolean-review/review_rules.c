/*
 * review_rules.c - consistency tables and checks of the boolean review.
 */
#include "review_rules.h"

#include <string.h>

#include "catalog.h"
#include "text.h"
#include "vocab.h"

/* Aggregations a group of types cannot have. */
static const struct {
    const char *types;
    const char *forbidden;
    const char *why;
} aggregation_limits[] = {
    {"stock|capacity", "period-total|period-rate|period-cumulative",
     "a level held at a date is not summed over a period"},
    {"flow|volume", "not-applicable",
     "an amount moved in a period has a time aggregation"},
    {"percentage|ratio|share|spread|price|yield|rate|volatility|gap|"
     "velocity|index|correlation|elasticity|multiplier|duration|"
     "probability|threshold|sentiment|allocation|other",
     "period-cumulative", "only amounts that add up can accumulate"},
};

/* Families that hold no amounts of money. */
static const char moneyless_families[] =
    "change-movement|composite-derived|temporal|qualitative";

/* The time basis each type implies when the given one is unusable. */
static const char per_period_types[] =
    "flow|volume|count|balance|rate|gap|velocity|duration";

static void flag(struct review_result *out, enum view_field f,
                 const char *reason, const char *suggested)
{
    int i;

    for (i = 0; i < out->n; i++) {
        if (out->findings[i].field == f)
            return;
    }
    out->findings[out->n].field = f;
    out->findings[out->n].reason = reason;
    out->findings[out->n].suggested = suggested;
    out->n++;
}

static void check_family(const struct view *v, struct review_result *out)
{
    const char *family = view_canonical(VF_FAMILY, v->value[VF_FAMILY]);
    struct cat_verdict cv;

    out->checks_run += 2;
    cat_classify(&v->features, NULL, &cv);
    if (family == NULL) {
        flag(out, VF_FAMILY, "missing or not one of the seven families",
             cv.family);
        return;
    }
    if (v->is_currency && ct_in_list(moneyless_families, '|', family) &&
        strcmp(cv.family, family) != 0)
        flag(out, VF_FAMILY, "an amount of money cannot be in this family",
             cv.family);
}

static void check_type(const struct view *v, struct review_result *out)
{
    const char *family = view_canonical(VF_FAMILY, v->value[VF_FAMILY]);
    const char *type = view_canonical(VF_TYPE, v->value[VF_TYPE]);
    struct cat_verdict cv;

    out->checks_run += 2;
    cat_classify(&v->features, family, &cv);
    if (type == NULL)
        flag(out, VF_TYPE, "missing or not a known indicator type", cv.type);
    else if (family != NULL && !cv_family_allows(family, type))
        flag(out, VF_TYPE, "the family does not allow this type", cv.type);
}

/* The aggregation to suggest for type (the catalogue's when allowed). */
static const char *better_aggregation(const struct view *v, const char *type)
{
    const char *family = view_canonical(VF_FAMILY, v->value[VF_FAMILY]);
    struct cat_verdict cv;

    cat_classify(&v->features, family, &cv);
    if (cv.type != NULL && type != NULL && strcmp(cv.type, type) == 0)
        return cv.aggregation;
    if (v->is_cumulative && ct_in_list("flow|volume|count|balance", '|', type))
        return "period-cumulative";
    return cat_type_aggregation(type);
}

static void check_aggregation(const struct view *v, struct review_result *out)
{
    const char *type = view_canonical(VF_TYPE, v->value[VF_TYPE]);
    const char *agg = view_canonical(VF_AGGREGATION, v->value[VF_AGGREGATION]);
    size_t i;

    out->checks_run += 2;
    if (agg == NULL) {
        flag(out, VF_AGGREGATION, "missing or not a known aggregation",
             better_aggregation(v, type));
        return;
    }
    for (i = 0; type != NULL &&
                i < sizeof(aggregation_limits) / sizeof(aggregation_limits[0]);
         i++) {
        if (ct_in_list(aggregation_limits[i].types, '|', type) &&
            ct_in_list(aggregation_limits[i].forbidden, '|', agg)) {
            flag(out, VF_AGGREGATION, aggregation_limits[i].why,
                 better_aggregation(v, type));
            return;
        }
    }
    if (v->is_cumulative &&
        ct_in_list("flow|volume|count|balance", '|', type) &&
        strcmp(agg, "period-cumulative") != 0)
        flag(out, VF_AGGREGATION,
             "the series accumulates over the year but is not aggregated "
             "cumulatively",
             "period-cumulative");
}

static void check_rest(const struct view *v, struct review_result *out)
{
    const char *family = view_canonical(VF_FAMILY, v->value[VF_FAMILY]);
    const char *type = view_canonical(VF_TYPE, v->value[VF_TYPE]);
    const char *why = NULL;

    out->checks_run += 3;
    if (view_canonical(VF_ORIENTATION, v->value[VF_ORIENTATION]) == NULL)
        flag(out, VF_ORIENTATION, "missing or not a known orientation",
             cat_orientation(&v->features, family, type, &why, NULL, 0));
    if (view_canonical(VF_TIME_BASIS, v->value[VF_TIME_BASIS]) == NULL)
        flag(out, VF_TIME_BASIS, "missing or not a known time basis",
             ct_in_list(per_period_types, '|', type) ? "per-period"
                                                     : "point-in-time");
    if (view_canonical(VF_FREQUENCY, v->value[VF_FREQUENCY]) == NULL)
        flag(out, VF_FREQUENCY, "missing or not a known frequency", "unknown");
}

void review_rules_run(const struct view *v, struct review_result *out)
{
    memset(out, 0, sizeof(*out));

    check_family(v, out);
    check_type(v, out);
    check_aggregation(v, out);
    check_rest(v, out);
}
