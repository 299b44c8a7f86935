/*
 * normalize_rules.h - the rules engine of the normalization stage.
 *
 * Reads the unit text (or, when the units field is empty, the last
 * parenthesised part of the name), the source's scale and currency_code
 * fields, and decides the magnitude, the semantic unit type and the
 * currency.  All knowledge sits in the data tables of normalize_rules.c;
 * the functions only walk them.  Pure, reentrant, no allocation.
 */
#ifndef NORMALIZE_RULES_H
#define NORMALIZE_RULES_H

/* What the engine reads.  Any member may be NULL. */
struct norm_input {
    const char *name;
    const char *units;
    const char *scale;
    const char *currency_code;
};

/* What it decides.  Strings point to static tables or into the struct. */
struct norm_result {
    const char *unit_type;        /* CLS_UNIT_TYPES */
    const char *parsed_scale;     /* CLS_SCALES: the magnitude decided */
    double scale_multiplier;      /* 10^n of parsed_scale */
    const char *scale_source;     /* "units", "scale-field", "none" */
    const char *normalized_scale; /* CLS_SCALES; "ones" when a magnitude
                                     does not apply to the unit type */
    char currency[4];             /* ISO 4217 code or "" */
    const char *currency_source;  /* "currency-field", "units", "none" */
    int is_currency_denominated;  /* an amount of money */
    int placeholder_currency;     /* money in an unnamed currency */
    const char *unit_text_source; /* "units", "name", "none" */
    double confidence;            /* 0..1 */
    char reasoning[640];
};

/* Run the rules on in and fill out completely.  Never fails. */
void norm_rules_run(const struct norm_input *in, struct norm_result *out);

/*
 * Multiplier of a CLS_SCALES value (1e3 for "thousands"), or 0 when the
 * value is not a scale.
 */
double norm_scale_multiplier(const char *scale);

#endif /* NORMALIZE_RULES_H */
