/*
 * time_rules.c - frequency and time-basis tables and their walker.
 */
#include "time_rules.h"

#include <stdio.h>
#include <string.h>

#include "text.h"

struct freq_rule {
    const char *phrases;
    const char *frequency;
};

/* Frequency words, first match wins ('=' means the whole text). */
static const struct freq_rule freq_rules[] = {
    {"every two years|biennial*|irregular|=i|=nap", "irregular"},
    {"biweekly|bi weekly|fortnight*", "weekly"},
    {"daily|=d|=day|=b|business day*|per day", "daily"},
    {"weekly|=w|=week|per week", "weekly"},
    {"monthly|=m|=month|per month", "monthly"},
    {"quarterly|=q|=quarter|per quarter", "quarterly"},
    {"semiannual*|semi annual*|half year*|=s|=h|biannual*|per half year",
     "semiannual"},
    {"annual*|yearly|=a|=y|=year|per year|per annum", "annual"},
};

/* Name words that reveal a frequency when nothing else does. */
static const struct freq_rule name_freq_rules[] = {
    {"mom|month over month|monthly", "monthly"},
    {"qoq|quarter over quarter|quarterly", "quarterly"},
    {"weekly|week*", "weekly"},
    {"daily|overnight", "daily"},
    {"annual|yearly|yoy|year over year", "annual"},
};

struct basis_rule {
    const char *name_phrases; /* in the name or the unit text */
    const char *unit_types;   /* '|'-separated unit types, or NULL */
    const char *time_basis;
    double confidence;
    const char *why;
};

/* Time basis, first match wins. */
static const struct basis_rule basis_rules[] = {
    {"ytd|year to date|cumulative|running total|so far this year", NULL,
     "cumulative", 1.0, "the name says the total accumulates"},
    {"growth|change|changes|mom|yoy|qoq|inflation|month over month|"
     "year over year|quarter over quarter",
     NULL, "per-period", 0.9, "a change over one period"},
    {"reserve*|debt|outstanding|stock|stocks|population|price|prices|rate|"
     "rates|yield*|index|assets|liabilities|deposits|money supply|"
     "labor force|labour force|capacity|level|position|inventor*|"
     "employed|employment|unemployment|confidence|sentiment|outlook|"
     "probability|ratio|share",
     NULL, "point-in-time", 0.85, "a level or state observed at a date"},
    {"gdp|gni|gross domestic product|export*|import*|revenue*|"
     "expenditure*|expense*|spending|production|output|sales|investment|"
     "consumption|income|earnings|profit*|trade|balance|flows|claims|"
     "starts|arrivals|registrations|orders|lending|borrowing|savings|"
     "deficit|surplus|remittances|receipts|payments|transfers|credit",
     NULL, "per-period", 0.85, "an amount that happens during a period"},
    {NULL, "rate|currency-amount", "per-period", 0.6,
     "amounts of money and per-unit rates are usually flows"},
    {NULL, "percentage|index|ratio", "point-in-time", 0.6,
     "percentages, indices and ratios describe a state"},
};

/* Append a clause to the result's reasoning. */
#define note(out, ...)                                                         \
    ct_note((out)->reasoning, sizeof((out)->reasoning), __VA_ARGS__)

static const char *match_freq(const struct freq_rule *rules, size_t n,
                              const char *text, char *hit, size_t hitlen)
{
    struct ct_text t;
    size_t i;

    if (ct_blank(text))
        return NULL;
    ct_tokenize(text, &t);
    for (i = 0; i < n; i++) {
        if (ct_match_any(&t, rules[i].phrases, hit, hitlen))
            return rules[i].frequency;
    }
    return NULL;
}

#define N_FREQ      (sizeof(freq_rules) / sizeof(freq_rules[0]))
#define N_NAME_FREQ (sizeof(name_freq_rules) / sizeof(name_freq_rules[0]))

static void decide_frequency(const struct time_input *in,
                             struct time_result *out)
{
    const char *f;
    char hit[64];

    f = ts_frequency(in->points, in->n_points);
    if (f != NULL) {
        out->reporting_frequency = f;
        out->source_used = "time-series";
        out->frequency_confidence = in->n_points >= 4 ? 0.9 : 0.75;
        note(out, "sample dates are spaced %s", f);
        return;
    }
    if ((f = match_freq(freq_rules, N_FREQ, in->periodicity, hit,
                        sizeof(hit))) != NULL) {
        out->reporting_frequency = f;
        out->source_used = "periodicity";
        out->frequency_confidence = 0.95;
        note(out, "periodicity \"%s\" gives %s", in->periodicity, f);
        return;
    }
    if ((f = match_freq(freq_rules, N_FREQ, in->units, hit, sizeof(hit))) !=
        NULL) {
        out->reporting_frequency = f;
        out->source_used = "units";
        out->frequency_confidence = 0.8;
        note(out, "unit text \"%s\" gives %s", hit, f);
        return;
    }
    if ((f = match_freq(name_freq_rules, N_NAME_FREQ, in->name, hit,
                        sizeof(hit))) != NULL) {
        out->reporting_frequency = f;
        out->source_used = "name";
        out->frequency_confidence = 0.6;
        note(out, "the name's \"%s\" suggests %s", hit, f);
        return;
    }
    out->reporting_frequency = "unknown";
    out->source_used = "unknown";
    out->frequency_confidence = 0.3;
    note(out, "no frequency evidence");
}

static void decide_basis(const struct time_input *in, struct time_result *out)
{
    struct ct_text name;
    struct ct_text units;
    char hit[64];
    size_t i;

    if (out->cumulative.is_cumulative && out->cumulative.confidence >= 0.6) {
        out->time_basis = "cumulative";
        out->basis_confidence = out->cumulative.confidence;
        note(out, "the values follow a %s pattern", out->cumulative.pattern);
        return;
    }
    ct_tokenize(in->name, &name);
    ct_tokenize(in->units, &units);
    for (i = 0; i < sizeof(basis_rules) / sizeof(basis_rules[0]); i++) {
        const struct basis_rule *r = &basis_rules[i];
        int hit_name =
            r->name_phrases != NULL &&
            (ct_match_any(&name, r->name_phrases, hit, sizeof(hit)) ||
             ct_match_any(&units, r->name_phrases, hit, sizeof(hit)));
        int hit_unit = r->unit_types != NULL &&
                       ct_in_list(r->unit_types, '|', in->unit_type);

        if (!hit_name && !hit_unit)
            continue;
        out->time_basis = r->time_basis;
        out->basis_confidence = r->confidence;
        note(out, "%s: %s", hit_name ? hit : in->unit_type, r->why);
        return;
    }
    out->time_basis = "point-in-time";
    out->basis_confidence = 0.5;
    note(out, "no basis rule matched, read as a point-in-time value");
}

void time_rules_run(const struct time_input *in, struct time_result *out)
{
    memset(out, 0, sizeof(*out));

    ts_detect_cumulative(in->points, in->n_points, &out->cumulative);
    decide_frequency(in, out);
    decide_basis(in, out);
    out->confidence = (out->frequency_confidence + out->basis_confidence) / 2;
}
