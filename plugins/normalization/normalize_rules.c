/*
 * normalize_rules.c - tables and walker of the normalization rules.
 *
 * Order of the decision, each step recorded in the reasoning:
 *   1. the unit text: the units field, or the name's last parenthesised
 *      part when units is empty (World Bank style "GDP (current US$)");
 *   2. the magnitude: a scale phrase in the unit text (never one that
 *      follows "per" or "/", which is a denominator), reconciled with the
 *      source's scale field: the field wins, unless the text names a finer
 *      magnitude the field cannot express ("hundred million" vs
 *      "Millions");
 *   3. the currency: the source's currency_code field, else an ISO code
 *      written as a standalone upper-case token, else a currency word;
 *      placeholder phrases ("National currency") mean money with no code;
 *   4. the unit type: the first unit rule that matches; money overrides
 *      it, except for percentages and indices.
 */
#include "normalize_rules.h"

#include <stdio.h>
#include <string.h>

#include "text.h"

struct scale_word {
    const char *phrase;
    const char *scale;
    double multiplier;
};

/* Longest phrases first: "hundred million" must win over "million". */
static const struct scale_word scale_words[] = {
    {"hundred million*", "hundred-millions", 1e8},
    {"hundreds of million*", "hundred-millions", 1e8},
    {"trillion*", "trillions", 1e12},
    {"tn", "trillions", 1e12},
    {"billion*", "billions", 1e9},
    {"bn", "billions", 1e9},
    {"bln", "billions", 1e9},
    {"crore*", "crores", 1e7},
    {"million*", "millions", 1e6},
    {"mn", "millions", 1e6},
    {"mln", "millions", 1e6},
    {"mio", "millions", 1e6},
    {"lakh*", "lakhs", 1e5},
    {"thousand*", "thousands", 1e3},
    {"k", "thousands", 1e3},
    {"hundred*", "hundreds", 1e2},
    {"units", "ones", 1},
    {"unit", "ones", 1},
    {"ones", "ones", 1},
};

#define N_SCALE_WORDS (sizeof(scale_words) / sizeof(scale_words[0]))

/* Scale words that also name a magnitude only inside the unit text (the
 * entries from here on are field-only: "Units" in units is a count). */
#define N_TEXT_SCALE_WORDS (N_SCALE_WORDS - 3)

struct unit_rule {
    const char *phrases;
    const char *unit_type;
    double confidence;
    const char *why;
};

/* First match wins.  '=' means the phrase must be the whole unit text. */
static const struct unit_rule unit_rules[] = {
    {"%|percent|percentage|pct|per cent|=pp|percentage point*", "percentage",
     1.0, "a percent unit"},
    {"index|index point*|=points|=point|points|basis point*|=bps|score",
     "index", 1.0, "an index or points unit"},
    {"=times|=x|ratio|=multiple|coefficient|multiplier|months of|debt to",
     "ratio", 1.0, "a ratio unit"},
    {"=day|=days|=week|=weeks|=month|=months|=year|=years|=hour|=hours|"
     "=minute*|=second*|=quarters",
     "duration", 1.0, "a length of time"},
    {"gwh|twh|mwh|kwh|gigawatt*|terawatt*|megawatt*|kilowatt*|watt*|"
     "terajoule*|gigajoule*|megajoule*|joule*|tj|gj|btu|therm*|bbl|"
     "barrel*|b / d|cubic|m3|liter*|litre*|gallon*|bushel*|celsius|"
     "fahrenheit|kelvin|degree*|mm|cm|km|millimet*|centimet*|kilomet*|"
     "metre*|meter*|mile*|hectare*|acre*|tonne*|ton|tons|metric ton*|kt|"
     "mt|kg|kilogram*|ounce*|oz|troy|sq km|square kilomet*|square met*|"
     "knot*|mph",
     "physical", 1.0, "a physical measure"},
    {"per|/ 100|/ 1000|/ 1,000|/ 10000|/ 100000|per capita|per person", "rate",
     1.0, "a per-unit rate"},
    {"national currency|local currency|domestic currency|lcu|"
     "purchasing power parity|international dollar*|=nac|"
     "units of national currency",
     "currency-amount", 1.0, "a currency named only generically"},
    {"dollar*|euro*|yen|yuan|renminbi|lira|rupee*|peso*|ruble*|rouble*|"
     "franc|francs|sterling|currency|$",
     "currency-amount", 1.0, "a currency word"},
    {"person*|people|individual*|=unit|units|item*|number|count|"
     "household*|famil*|dwelling*|employee*|worker*|student*|pupil*|"
     "vehicle*|car|cars|flight*|arrival*|visitor*|tourist*|passenger*|"
     "subscriber*|customer*|transaction*|contract*|birth*|death*|case|"
     "cases|compan*|enterprise*|firm*|jobs|doses",
     "count", 0.9, "a count of things"},
};

#define N_UNIT_RULES (sizeof(unit_rules) / sizeof(unit_rules[0]))

/* Unit texts that say "money of some currency" without naming it. */
static const char placeholder_phrases[] =
    "national currency|local currency|domestic currency|lcu|"
    "purchasing power parity|international dollar*|=nac|"
    "units of national currency";

struct currency_word {
    const char *phrase;
    const char *code;
};

/* Currency words that name one currency; other money words name none. */
static const struct currency_word currency_words[] = {
    {"us dollar*", "USD"},
    {"us $", "USD"},
    {"euro*", "EUR"},
    {"yen", "JPY"},
    {"yuan", "CNY"},
    {"renminbi", "CNY"},
    {"turkish lira", "TRY"},
    {"pound* sterling", "GBP"},
    {"swiss franc*", "CHF"},
    {"indian rupee*", "INR"},
    {"canadian dollar*", "CAD"},
    {"australian dollar*", "AUD"},
};

/* ISO 4217 codes (current, plus a few widely used historic ones). */
static const char iso_codes[] =
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD "
    "BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE "
    "CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF "
    "GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES "
    "KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA "
    "MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD "
    "OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG "
    "SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP "
    "TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF "
    "YER ZAR ZMW ZIG ZWL";

/* Codes that are also English words: counted only when the unit text is
 * not shouted in capitals or the code stands alone. */
static const char ambiguous_codes[] = "ALL TOP CUP PEN MAD BOB GEL TRY SOS";

/* Names of prices of one currency in another: money units, no amount. */
static const char exchange_rate_names[] =
    "exchange rate*|fx|forex|currency rate|per usd|per us dollar";

/* Words that may stand beside a bare magnitude ("Level in Thousands"). */
static const char scale_filler[] = "of in level levels";

/* Unit types that a currency does not turn into an amount of money. */
static const char *const money_proof_types[] = {"percentage", "index", "ratio"};

/* Append a clause to the result's reasoning. */
#define note(out, ...)                                                         \
    ct_note((out)->reasoning, sizeof((out)->reasoning), __VA_ARGS__)

double norm_scale_multiplier(const char *scale)
{
    size_t i;

    for (i = 0; scale != NULL && i < N_SCALE_WORDS; i++) {
        if (strcmp(scale_words[i].scale, scale) == 0)
            return scale_words[i].multiplier;
    }
    return 0;
}

/* Is position at a denominator ("per thousand", "/1,000")? */
static int after_per(const struct ct_text *t, int at)
{
    if (at <= 0)
        return 0;
    return strcmp(t->tok[at - 1].lower, "per") == 0 ||
           strcmp(t->tok[at - 1].lower, "/") == 0;
}

/* A "1k" / "1million" token: the scale word after a leading 1. */
static const struct scale_word *numeral_scale(const struct ct_text *t,
                                              size_t limit)
{
    size_t i;
    size_t k;

    for (i = 0; i < t->n; i++) {
        const char *w = t->tok[i].lower;
        struct ct_text one;

        if (w[0] != '1' || w[1] < 'a' || w[1] > 'z')
            continue;
        ct_tokenize(w + 1, &one);
        for (k = 0; k < limit; k++) {
            if (ct_find(&one, scale_words[k].phrase, 0, NULL) == 0)
                return &scale_words[k];
        }
    }
    return NULL;
}

/* The magnitude named in t (first table entry that matches outside a
 * denominator), or NULL.  *phrase_at gets the table index. */
static const struct scale_word *find_scale(const struct ct_text *t,
                                           size_t limit)
{
    size_t k;

    for (k = 0; k < limit; k++) {
        size_t from = 0;
        int at;

        while ((at = ct_find(t, scale_words[k].phrase, from, NULL)) >= 0) {
            if (!after_per(t, at))
                return &scale_words[k];
            from = (size_t)at + 1;
        }
    }
    return numeral_scale(t, limit);
}

/* Does the finer text phrase contain the field's scale word? */
static int refines(const struct scale_word *text, const struct scale_word *f)
{
    struct ct_text t;

    ct_tokenize(text->phrase, &t);
    return text->multiplier != f->multiplier &&
           ct_find(&t, f->phrase, 0, NULL) >= 0;
}

static void decide_scale(const struct ct_text *unit,
                         const struct norm_input *in, struct norm_result *out)
{
    const struct scale_word *text = find_scale(unit, N_TEXT_SCALE_WORDS);
    const struct scale_word *field = NULL;
    const struct scale_word *pick;
    struct ct_text ft;

    if (!ct_blank(in->scale)) {
        ct_tokenize(in->scale, &ft);
        field = find_scale(&ft, N_SCALE_WORDS);
    }

    if (field != NULL && text != NULL && refines(text, field)) {
        pick = text;
        out->scale_source = "units";
        note(out, "unit text names %s, finer than the scale field \"%s\"",
             text->scale, in->scale);
    }
    else if (field != NULL) {
        pick = field;
        out->scale_source = "scale-field";
        note(out, "scale field \"%s\" gives %s", in->scale, field->scale);
        if (text != NULL && text->multiplier != field->multiplier) {
            out->confidence -= 0.2;
            note(out, "unit text says %s but the source field wins",
                 text->scale);
        }
    }
    else if (text != NULL) {
        pick = text;
        out->scale_source = "units";
        note(out, "unit text names the magnitude %s", text->scale);
    }
    else {
        pick = NULL;
        out->scale_source = "none";
        note(out, "no magnitude stated, read as ones");
    }
    out->parsed_scale = pick ? pick->scale : "ones";
    out->scale_multiplier = pick ? pick->multiplier : 1;
}

static int shouted(const struct ct_text *t)
{
    size_t i;

    for (i = 0; i < t->n; i++) {
        if (!t->tok[i].all_upper && t->tok[i].lower[0] >= 'a')
            return 0;
    }
    return 1;
}

/* First standalone upper-case ISO code in t, or NULL. */
static const char *find_code(const struct ct_text *t)
{
    size_t i;

    for (i = 0; i < t->n; i++) {
        const struct ct_token *k = &t->tok[i];

        if (!k->all_upper || strlen(k->raw) != 3)
            continue;
        if (!ct_in_list(iso_codes, ' ', k->raw))
            continue;
        if (ct_in_list(ambiguous_codes, ' ', k->raw) && t->n > 1 && shouted(t))
            continue;
        return k->raw;
    }
    return NULL;
}

static void decide_currency(const struct ct_text *unit,
                            const struct norm_input *in,
                            struct norm_result *out)
{
    const char *code = NULL;
    size_t i;
    char hit[64];

    if (!ct_blank(in->currency_code) && strlen(in->currency_code) == 3) {
        for (i = 0; i < 3; i++) {
            char c = in->currency_code[i];

            out->currency[i] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
        }
        out->currency[3] = '\0';
        out->currency_source = "currency-field";
        note(out, "currency %s from the currency_code field", out->currency);
        return;
    }
    code = find_code(unit);
    for (i = 0;
         code == NULL && i < sizeof(currency_words) / sizeof(currency_words[0]);
         i++) {
        if (ct_find(unit, currency_words[i].phrase, 0, NULL) >= 0)
            code = currency_words[i].code;
    }
    if (code != NULL) {
        snprintf(out->currency, sizeof(out->currency), "%s", code);
        out->currency_source = "units";
        note(out, "currency %s named in the unit text", code);
        return;
    }
    out->currency_source = "none";
    if (ct_match_any(unit, placeholder_phrases, hit, sizeof(hit))) {
        out->placeholder_currency = 1;
        note(out, "\"%s\" is money in an unnamed currency (no code)", hit);
    }
}

static int money_proof(const char *unit_type)
{
    size_t i;

    for (i = 0; i < sizeof(money_proof_types) / sizeof(money_proof_types[0]);
         i++) {
        if (strcmp(money_proof_types[i], unit_type) == 0)
            return 1;
    }
    return 0;
}

/* A unit text made only of scale words ("Thousand") counts things. */
static int only_scale_words(const struct ct_text *unit)
{
    size_t i;
    size_t k;

    if (unit->n == 0)
        return 0;
    for (i = 0; i < unit->n; i++) {
        struct ct_text one;
        int found = 0;

        ct_tokenize(unit->tok[i].lower, &one);
        for (k = 0; k < N_TEXT_SCALE_WORDS && !found; k++)
            found = ct_find(&one, scale_words[k].phrase, 0, NULL) == 0;
        if (!found && !ct_in_list(scale_filler, ' ', unit->tok[i].lower))
            return 0;
    }
    return 1;
}

static void decide_type(const struct ct_text *unit, struct norm_result *out)
{
    size_t i;
    char hit[64];

    out->unit_type = "unknown";
    for (i = 0; i < N_UNIT_RULES; i++) {
        if (ct_match_any(unit, unit_rules[i].phrases, hit, sizeof(hit))) {
            out->unit_type = unit_rules[i].unit_type;
            out->confidence *= unit_rules[i].confidence;
            note(out, "\"%s\" is %s", hit, unit_rules[i].why);
            return;
        }
    }
    if (only_scale_words(unit)) {
        out->unit_type = "count";
        out->confidence *= 0.8;
        note(out, "a bare magnitude word counts things");
        return;
    }
    out->confidence = 0;
    note(out, "no unit rule matched");
}

static void apply_money(const struct norm_input *in, struct norm_result *out)
{
    struct ct_text name;
    char hit[64];

    int money = out->currency[0] != '\0' || out->placeholder_currency ||
                strcmp(out->unit_type, "currency-amount") == 0;

    if (!money || money_proof(out->unit_type))
        return;
    if (strcmp(out->unit_type, "currency-amount") != 0) {
        note(out, "money overrides the %s reading", out->unit_type);
        out->unit_type = "currency-amount";
        if (out->confidence == 0)
            out->confidence = 0.9;
    }
    ct_tokenize(in->name, &name);
    if (ct_match_any(&name, exchange_rate_names, hit, sizeof(hit))) {
        note(out, "\"%s\": the price of a currency, not an amount of it", hit);
        return;
    }
    out->is_currency_denominated = 1;
}

/* Does t read like a unit (some unit rule, code or placeholder)? */
static int unit_like(const struct ct_text *t)
{
    size_t i;

    for (i = 0; i < N_UNIT_RULES; i++) {
        if (ct_match_any(t, unit_rules[i].phrases, NULL, 0))
            return 1;
    }
    return find_code(t) != NULL;
}

/*
 * The unit text: units, else the last parenthesised part of the name that
 * reads like a unit ("Unemployment (% of labor force) (national
 * estimate)" gives "% of labor force"), else the last one.
 */
static void unit_text(const struct norm_input *in, struct ct_text *unit,
                      struct norm_result *out)
{
    const char *end;
    char inner[256] = "";
    char candidate[256];

    if (!ct_blank(in->units)) {
        ct_tokenize(in->units, unit);
        out->unit_text_source = "units";
        return;
    }
    end = in->name ? in->name + strlen(in->name) : NULL;
    while (end != NULL && end > in->name) {
        const char *open = end - 1;
        const char *close;
        size_t n;

        while (open > in->name && *open != '(')
            open--;
        if (*open != '(')
            break;
        close = strchr(open, ')');
        n = close ? (size_t)(close - open - 1) : 0;
        end = open;
        if (close == NULL || n == 0 || n >= sizeof(candidate))
            continue;
        memcpy(candidate, open + 1, n);
        candidate[n] = '\0';
        if (inner[0] == '\0')
            memcpy(inner, candidate, n + 1);
        ct_tokenize(candidate, unit);
        if (unit_like(unit)) {
            memcpy(inner, candidate, n + 1);
            break;
        }
    }
    ct_tokenize(inner[0] ? inner : NULL, unit);
    out->unit_text_source = inner[0] ? "name" : "none";
    if (inner[0])
        note(out, "units empty, unit text \"%s\" taken from the name", inner);
    else
        note(out, "no unit text");
}

void norm_rules_run(const struct norm_input *in, struct norm_result *out)
{
    struct ct_text unit;

    memset(out, 0, sizeof(*out));
    out->confidence = 1.0;

    unit_text(in, &unit, out);
    decide_scale(&unit, in, out);
    decide_currency(&unit, in, out);
    decide_type(&unit, out);
    apply_money(in, out);

    out->normalized_scale =
        money_proof(out->unit_type) || strcmp(out->unit_type, "duration") == 0
            ? "ones"
            : out->parsed_scale;
    if (out->confidence < 0)
        out->confidence = 0;
}
