/*
 * catalog.c - the archetype and orientation tables (see catalog.h).
 *
 * The phrases are general economic vocabulary (what a "reserve", a
 * "yield" or a "per capita" amount is), never names of particular
 * indicators.  The order encodes precedence: a volatility index is a
 * volatility before it is an index, a growth rate of prices is a change
 * before it is a price.
 */
#include "catalog.h"

#include <string.h>

/* Money condition of an archetype. */
#define ANY      -1
#define NO_MONEY 0
#define MONEY    1

struct archetype {
    const char *name_any;   /* one must match (NULL: no condition) */
    const char *also_any;   /* one must match as well (NULL: none) */
    const char *name_none;  /* none may match */
    const char *unit_types; /* '|'-separated, NULL: any */
    int money;
    const char *family;
    const char *type;
    const char *aggregation;
    double confidence;
    const char *why;
};

/* Vocabulary reused by several rows. */
#define GROWTH_WORDS                                                           \
    "growth|change|changes|mom|yoy|qoq|inflation|month over month|"            \
    "year over year|quarter over quarter|percent change|% change|"             \
    "annual % growth|deflation"
#define PRICE_LEVEL_WORDS                                                      \
    "cpi|hicp|pce|ppi|consumer price*|producer price*|deflator|"               \
    "price*|cost*"
#define INTEREST_WORDS                                                         \
    "interest rate*|policy rate|lending rate|deposit rate|interbank|"          \
    "overnight|financing rate|repo|discount rate|prime rate|libor|sofr|"       \
    "euribor|mortgage rate|refinancing rate|bank rate|cash rate|base rate|"    \
    "funds rate|money market rate"
#define FLOW_WORDS                                                             \
    "gdp|gni|gross domestic product|national income|export*|import*|"          \
    "revenue*|expenditure*|expense*|spending|investment|consumption|income|"   \
    "earnings|profit*|remittances|receipts|payments|transfers|tax|taxes|"      \
    "savings|production|output|sales|orders|fdi|inflows|outflows|aid|"         \
    "grants|wages|compensation|value added|capital formation|outlays"
#define STOCK_WORDS                                                            \
    "reserve*|debt|liabilities|assets|deposits|money supply|m1|m2|m3|"         \
    "outstanding|holdings|stock|stocks|inventor*|credit|loans|dod|equities|"   \
    "population|wealth|capital stock"
#define BALANCE_WORDS "balance|surplus|deficit|net lending|net borrowing"
#define PCT           "percentage|unknown"
/* "at current prices" names a valuation basis, not a price. */
#define PRICE_BASIS "current prices|constant prices|market prices|basic prices"

static const struct archetype archetypes[] = {
    /* Readings whose nature is in one word. */
    {"volatility|vix", NULL, NULL, NULL, ANY, "change-movement", "volatility",
     "point-in-time", 0.9, "a measure of how widely values swing"},
    {"correlation", NULL, NULL, NULL, ANY, "composite-derived", "correlation",
     "period-average", 0.9, "co-movement of two series over a window"},
    {"elasticity", NULL, NULL, NULL, ANY, "composite-derived", "elasticity",
     "period-average", 0.9, "a percent response to a percent change"},
    {"multiplier", NULL, NULL, NULL, ANY, "composite-derived", "multiplier",
     "period-average", 0.9, "output change per unit of input change"},
    {"probability|likelihood|odds", NULL, NULL, NULL, ANY, "temporal",
     "probability", "point-in-time", 0.9, "a likelihood within a horizon"},
    {"threshold|cut off|cutoff", NULL, NULL, NULL, ANY, "temporal", "threshold",
     "point-in-time", 0.85, "a cut-off level used to classify"},
    {"duration|time to|days to|length of", NULL, NULL, NULL, ANY, "temporal",
     "duration", "period-average", 0.85, "a length of time"},
    {NULL, NULL, NULL, "duration", ANY, "temporal", "duration",
     "period-average", 0.8, "the unit is a length of time"},
    {"allocation|portfolio weight*|asset mix", NULL, NULL, NULL, ANY,
     "qualitative", "allocation", "point-in-time", 0.85,
     "how a portfolio or budget is split"},
    {"sentiment|outlook|mood", NULL, NULL, NULL, ANY, "qualitative",
     "sentiment", "point-in-time", 0.8, "an opinion or outlook reading"},
    {"spread|spreads|term premium", NULL, NULL, NULL, NO_MONEY,
     "numeric-measurement", "spread", "not-applicable", 0.85,
     "a difference between two rates or prices"},
    {"current account", NULL, NULL, PCT, ANY, "change-movement", "gap",
     "period-total", 0.75, "an external balance relative to output"},
    {"gap", NULL, "trade", NULL, NO_MONEY, "change-movement", "gap",
     "period-total", 0.8, "a distance from a benchmark"},
    {"velocity", NULL, NULL, NULL, ANY, "change-movement", "velocity",
     "period-rate", 0.8, "a turnover speed"},

    /* Prices, rates of return, exchange rates. */
    {"per capita|per person|per head|per inhabitant", NULL, NULL, NULL, ANY,
     "numeric-measurement", "ratio", "not-applicable", 0.85,
     "an amount divided by the population"},
    {"yield|yields|constant maturity|treasury bill*|bond rate", NULL,
     "curve|dividend", PCT, ANY, "price-value", "yield", "point-in-time", 0.9,
     "the return implied by a security's price"},
    {"exchange rate*|fx|forex|currency rate|conversion rate|per usd|"
     "per us dollar",
     NULL, NULL, NULL, ANY, "price-value", "price", "point-in-time", 0.9,
     "the price of one currency in another"},
    {INTEREST_WORDS, NULL, GROWTH_WORDS, PCT, ANY, "price-value", "price",
     "point-in-time", 0.85, "an interest rate is the price of money"},
    {GROWTH_WORDS, NULL, NULL, "percentage|unknown|rate", ANY,
     "change-movement", "rate", "period-rate", 0.9, "a change over one period"},
    {PRICE_LEVEL_WORDS, NULL, "index|indices", "percentage", ANY,
     "change-movement", "rate", "period-rate", 0.75,
     "prices given in percent are a rate of price change"},
    {"price|prices|cost", NULL, "index|indices|" PRICE_BASIS,
     "currency-amount|rate", MONEY, "price-value", "price", "point-in-time",
     0.85, "money per unit of something"},

    /* Proportions and relations. */
    {"share|proportion|composition|% of total|percent of total", NULL, NULL,
     NULL, ANY, "numeric-measurement", "share", "not-applicable", 0.8,
     "the portion of an aggregate taken by one component"},
    {BALANCE_WORDS, "of gdp", NULL, NULL, ANY, "physical-fundamental",
     "balance", "period-total", 0.7, "a fiscal or external net position"},
    {STOCK_WORDS, "of gdp|to gdp", NULL, NULL, ANY, "numeric-measurement",
     "ratio", "not-applicable", 0.8, "a stock divided by output"},
    {FLOW_WORDS, "of gdp", NULL, NULL, ANY, "physical-fundamental", "flow",
     "period-rate", 0.7, "a flow expressed relative to output"},
    {"ratio|to gdp|of gdp|coverage|adequacy|months of import*", NULL, NULL,
     NULL, ANY, "numeric-measurement", "ratio", "not-applicable", 0.8,
     "one quantity divided by another"},
    {NULL, NULL, NULL, "ratio|rate", NO_MONEY, "numeric-measurement", "ratio",
     "not-applicable", 0.7, "the unit is a ratio or a per-unit rate"},
    {"rate|rates|utilization|utilisation|participation|unemployment", NULL,
     NULL, "percentage", ANY, "numeric-measurement", "percentage",
     "not-applicable", 0.75, "a part of a whole out of one hundred"},
    {"% of|percent of|per cent of", NULL, NULL, "percentage", ANY,
     "numeric-measurement", "share", "not-applicable", 0.65,
     "a percentage of a named aggregate is its share"},

    /* Composite readings. */
    {"prices paid|costs|confidence|diffusion|survey", NULL, NULL,
     "index|unknown", ANY, "composite-derived", "index", "period-average", 0.75,
     "a survey or diffusion reading averaged over the period"},
    {"index|indices|pmi|barometer|score", NULL, NULL, NULL, ANY,
     "composite-derived", "index", "point-in-time", 0.8,
     "a number relative to a base or built from several inputs"},
    {NULL, NULL, NULL, "index", ANY, "composite-derived", "index",
     "point-in-time", 0.7, "the unit is index points"},

    /* Counts of things and events. */
    {"claims|starts|permits|bankruptc*|number of|payrolls|arrivals|"
     "registrations|change|employees|workers|jobs|applications|"
     "subscriptions|subscribers|by count",
     NULL, NULL, "count|unknown", NO_MONEY, "numeric-measurement", "count",
     "period-total", 0.75, "a number of discrete events in the period"},

    /* Quantities of the economy. */
    {"labor force|labour force|workforce|capacity", NULL, NULL, NULL, ANY,
     "physical-fundamental", "capacity", "point-in-time", 0.75,
     "the available amount of a resource"},
    {"net", "flow*|lending|borrowing|exports|position|transfers|investment",
     NULL, NULL, ANY, "physical-fundamental", "balance", "period-total", 0.75,
     "a net of an inflow and an outflow"},
    {BALANCE_WORDS, NULL, NULL, NULL, ANY, "physical-fundamental", "balance",
     "period-total", 0.8, "a net of an inflow and an outflow"},
    {"disbursement*|repayment*|debt service|interest payment*|"
     "amortization|amortisation|traded",
     NULL, NULL, NULL, MONEY, "physical-fundamental", "flow", "period-total",
     0.75, "money paid or traded during the period"},
    {STOCK_WORDS, NULL, NULL, "currency-amount|count|physical|unknown", ANY,
     "physical-fundamental", "stock", "point-in-time", 0.8,
     "a level held at a point in time"},
    {"production|output", NULL, NULL, "physical|count|unknown", NO_MONEY,
     "physical-fundamental", "flow", "period-total", 0.75,
     "an amount produced during the period"},
    {"sales|imports|exports|shipments|trade|consumption|deliveries", NULL, NULL,
     "physical|count", NO_MONEY, "physical-fundamental", "volume",
     "period-total", 0.75, "a physical quantity transacted in the period"},
    {FLOW_WORDS, NULL, NULL, NULL, MONEY, "physical-fundamental", "flow",
     "period-total", 0.8, "money produced or moved during the period"},

    /* Fallbacks by unit type. */
    {NULL, NULL, NULL, "percentage", ANY, "change-movement", "rate",
     "period-rate", 0.5,
     "a bare percent on a quantity is most often its growth rate"},
    {NULL, NULL, NULL, NULL, MONEY, "physical-fundamental", "flow",
     "period-total", 0.5, "an amount of money, read as a flow"},
    {NULL, NULL, NULL, "count", ANY, "numeric-measurement", "count",
     "period-total", 0.5, "a number of things"},
    {NULL, NULL, NULL, "physical", ANY, "physical-fundamental", "stock",
     "point-in-time", 0.5, "a physical quantity, read as a level"},
    {NULL, NULL, NULL, NULL, ANY, "numeric-measurement", "other",
     "not-applicable", 0.3, "no archetype matched"},
};

#define N_ARCHETYPES (sizeof(archetypes) / sizeof(archetypes[0]))

struct family_default {
    const char *family;
    const char *type;
};

static const struct family_default family_defaults[] = {
    {"physical-fundamental", "flow"}, {"numeric-measurement", "ratio"},
    {"price-value", "price"},         {"change-movement", "rate"},
    {"composite-derived", "index"},   {"temporal", "duration"},
    {"qualitative", "sentiment"},
};

struct type_aggregation {
    const char *type;
    const char *aggregation;
};

/* The usual aggregation of each type when nothing more specific holds. */
static const struct type_aggregation type_aggregations[] = {
    {"stock", "point-in-time"},       {"flow", "period-total"},
    {"balance", "period-total"},      {"capacity", "point-in-time"},
    {"volume", "period-total"},       {"count", "period-total"},
    {"percentage", "not-applicable"}, {"ratio", "not-applicable"},
    {"spread", "not-applicable"},     {"share", "not-applicable"},
    {"price", "point-in-time"},       {"yield", "point-in-time"},
    {"rate", "period-rate"},          {"volatility", "point-in-time"},
    {"gap", "period-total"},          {"velocity", "period-rate"},
    {"index", "point-in-time"},       {"correlation", "period-average"},
    {"elasticity", "period-average"}, {"multiplier", "period-average"},
    {"duration", "period-average"},   {"probability", "point-in-time"},
    {"threshold", "point-in-time"},   {"sentiment", "point-in-time"},
    {"allocation", "point-in-time"},  {"other", "not-applicable"},
};

/* Types that can add up over a year. */
static const char cumulable_types[] = "flow|volume|count|balance";

struct orientation_rule {
    const char *name_any;  /* NULL: no name condition */
    const char *name_none; /* none may match the name */
    const char *families;  /* '|'-separated, NULL: any */
    const char *types;     /* '|'-separated, NULL: any */
    const char *unit_types;
    const char *orientation;
    const char *why;
};

/* Heat-map orientation, first match wins. */
static const struct orientation_rule orientation_rules[] = {
    {"inflation|unemployment|jobless|claimant|debt|deficit|default|risk|"
     "volatility|vix|bankruptc*|insolvenc*|poverty|arrears|non performing|"
     "prices paid|costs|mortality|death|deaths|wasting|stunting|"
     "undernourish*|prevalence|crime|homicide*",
     NULL, NULL, NULL, NULL, "lower-is-positive", "a rise is bad news"},
    {PRICE_LEVEL_WORDS, NULL, NULL, "rate", NULL, "lower-is-positive",
     "rising prices erode purchasing power"},
    {NULL, NULL, "price-value", NULL, NULL, "neutral",
     "a price is neither good nor bad in itself"},
    {"reserve*|production|output|exports|sales|growth", NULL, NULL, NULL, NULL,
     "higher-is-positive", "more activity or more buffers are good news"},
    {"population", NULL, NULL, NULL, "count|unknown", "neutral",
     "the size of a population is not good or bad in itself"},
    {"price|prices|correlation|allocation|labor force|labour force|"
     "imports|import|balance|net",
     PRICE_BASIS, NULL, NULL, NULL, "neutral",
     "the direction is not good or bad in itself"},
    {NULL, NULL, NULL, NULL, "physical", "neutral",
     "a physical quantity is not good or bad in itself"},
    {NULL, NULL, NULL, NULL, NULL, "higher-is-positive",
     "more of an economic quantity is read as good news"},
};

void cat_features_init(struct cat_features *f, const char *name,
                       const char *units, const char *unit_type,
                       int is_currency, int is_cumulative)
{
    ct_tokenize(name, &f->name);
    ct_tokenize(units, &f->units);
    f->unit_type = unit_type;
    f->is_currency = is_currency;
    f->is_cumulative = is_cumulative;
}

static int text_any(const struct cat_features *f, const char *phrases,
                    char *hit, size_t hitlen)
{
    return ct_match_any(&f->name, phrases, hit, hitlen) ||
           ct_match_any(&f->units, phrases, hit, hitlen);
}

static int holds(const struct archetype *a, const struct cat_features *f,
                 char *hit, size_t hitlen)
{
    const char *ut = f->unit_type ? f->unit_type : "unknown";

    if (a->money == MONEY && !f->is_currency)
        return 0;
    if (a->money == NO_MONEY && f->is_currency)
        return 0;
    if (a->unit_types != NULL && !ct_in_list(a->unit_types, '|', ut))
        return 0;
    if (a->name_none != NULL && text_any(f, a->name_none, NULL, 0))
        return 0;
    if (a->also_any != NULL && !text_any(f, a->also_any, NULL, 0))
        return 0;
    if (hitlen > 0)
        hit[0] = '\0';
    if (a->name_any != NULL && !text_any(f, a->name_any, hit, hitlen))
        return 0;
    return 1;
}

const char *cat_type_aggregation(const char *type)
{
    size_t i;

    for (i = 0; type != NULL &&
                i < sizeof(type_aggregations) / sizeof(type_aggregations[0]);
         i++) {
        if (strcmp(type_aggregations[i].type, type) == 0)
            return type_aggregations[i].aggregation;
    }
    return NULL;
}

const char *cat_family_default_type(const char *family)
{
    size_t i;

    for (i = 0; family != NULL &&
                i < sizeof(family_defaults) / sizeof(family_defaults[0]);
         i++) {
        if (strcmp(family_defaults[i].family, family) == 0)
            return family_defaults[i].type;
    }
    return NULL;
}

/* Aggregation modifiers: a cumulative total, an average over a window. */
static void adjust_aggregation(const struct cat_features *f,
                               struct cat_verdict *v)
{
    if (f->is_cumulative && ct_in_list(cumulable_types, '|', v->type)) {
        v->aggregation = "period-cumulative";
        v->adjusted = "the values accumulate over the year";
        return;
    }
    if (text_any(f, "average|avg|mean", NULL, 0) &&
        (strcmp(v->aggregation, "period-total") == 0 ||
         strcmp(v->aggregation, "point-in-time") == 0)) {
        v->aggregation = "period-average";
        v->adjusted = "the name says the value is an average";
    }
}

void cat_classify(const struct cat_features *f, const char *family,
                  struct cat_verdict *v)
{
    size_t i;

    memset(v, 0, sizeof(*v));
    for (i = 0; i < N_ARCHETYPES; i++) {
        const struct archetype *a = &archetypes[i];

        if (family != NULL && strcmp(a->family, family) != 0)
            continue;
        if (!holds(a, f, v->hit, sizeof(v->hit)))
            continue;
        v->family = a->family;
        v->type = a->type;
        v->aggregation = a->aggregation;
        v->confidence = a->confidence;
        v->why = a->why;
        adjust_aggregation(f, v);
        return;
    }
    v->family = family;
    v->type = cat_family_default_type(family);
    if (v->type == NULL)
        v->type = "other";
    v->aggregation = cat_type_aggregation(v->type);
    v->confidence = 0.4;
    v->why = "no archetype of this family matched; its usual type";
    adjust_aggregation(f, v);
}

const char *cat_orientation(const struct cat_features *f, const char *family,
                            const char *type, const char **why, char *hit,
                            size_t hitlen)
{
    const char *ut = f->unit_type ? f->unit_type : "unknown";
    size_t i;

    for (i = 0; i < sizeof(orientation_rules) / sizeof(orientation_rules[0]);
         i++) {
        const struct orientation_rule *r = &orientation_rules[i];

        if (hitlen > 0)
            hit[0] = '\0';
        if (r->families != NULL && !ct_in_list(r->families, '|', family))
            continue;
        if (r->types != NULL && !ct_in_list(r->types, '|', type))
            continue;
        if (r->unit_types != NULL && !ct_in_list(r->unit_types, '|', ut))
            continue;
        if (r->name_none != NULL &&
            ct_match_any(&f->name, r->name_none, NULL, 0))
            continue;
        if (r->name_any != NULL &&
            !ct_match_any(&f->name, r->name_any, hit, hitlen))
            continue;
        *why = r->why;
        return r->orientation;
    }
    *why = "no rule matched";
    return "neutral";
}
