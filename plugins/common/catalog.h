/*
 * catalog.h - the indicator archetype catalogue shared by the family,
 * type and review stages.
 *
 * An archetype is one row of a data table: name phrases (matched as whole
 * tokens in the name or the unit text), optional phrases that must also
 * appear or must not, the unit types and money condition it applies to,
 * and the family, type and temporal aggregation it implies, with a
 * confidence and a reason.  Rows are tried in order; the first that holds
 * wins.  Heat-map orientation comes from a second ordered table.  Pure and
 * reentrant; results point into the static tables.
 */
#ifndef CLS_COMMON_CATALOG_H
#define CLS_COMMON_CATALOG_H

#include "text.h"

/* What the catalogue looks at. */
struct cat_features {
    struct ct_text name;
    struct ct_text units;
    const char *unit_type; /* CLS_UNIT_TYPES or NULL */
    int is_currency;       /* an amount of money */
    int is_cumulative;     /* time basis cumulative */
};

/* A verdict: family, type, aggregation, with its reason. */
struct cat_verdict {
    const char *family;
    const char *type;
    const char *aggregation;
    double confidence;
    const char *why;
    char hit[64];         /* the phrase that decided, or "" */
    const char *adjusted; /* why the aggregation was adjusted, or NULL */
};

/* Tokenize name and units and copy the other features.  Strings may be
 * NULL. */
void cat_features_init(struct cat_features *f, const char *name,
                       const char *units, const char *unit_type,
                       int is_currency, int is_cumulative);

/*
 * Fill v from the first archetype that holds for f; with family non-NULL
 * only archetypes of that family count, and when none holds v gets the
 * family's fallback type.  Always fills v (the catalogue ends in a
 * catch-all row).
 */
void cat_classify(const struct cat_features *f, const char *family,
                  struct cat_verdict *v);

/*
 * Heat-map orientation for f classified as family/type; *why gets the
 * reason and hit (hitlen bytes) the deciding phrase.  Returns a
 * CLS_ORIENTATIONS value.
 */
const char *cat_orientation(const struct cat_features *f, const char *family,
                            const char *type, const char **why, char *hit,
                            size_t hitlen);

/* The usual temporal aggregation of a type, or NULL for an unknown type. */
const char *cat_type_aggregation(const char *type);

/* The fallback type of a family, or NULL for an unknown family. */
const char *cat_family_default_type(const char *family);

#endif /* CLS_COMMON_CATALOG_H */
