/*
 * vocab.c - the taxonomy lists as arrays (see vocab.h).
 */
#include "vocab.h"

#include <stdio.h>
#include <string.h>

#include "classify/taxonomy.h"

#define TEXT(id, text)     text,
#define PAIR(family, type) {family, type},

static const char *const families[] = {CLS_FAMILIES(TEXT)};
static const char *const types[] = {CLS_TYPES(TEXT)};
static const char *const aggregations[] = {CLS_TEMPORAL_AGGREGATIONS(TEXT)};
static const char *const orientations[] = {CLS_ORIENTATIONS(TEXT)};
static const char *const time_bases[] = {CLS_TIME_BASES(TEXT)};
static const char *const frequencies[] = {CLS_FREQUENCIES(TEXT)};
static const char *const time_sources[] = {CLS_TIME_SOURCES(TEXT)};
static const char *const patterns[] = {CLS_CUMULATIVE_PATTERNS(TEXT)};
static const char *const unit_types[] = {CLS_UNIT_TYPES(TEXT)};
static const char *const scales[] = {CLS_SCALES(TEXT)};
static const char *const statuses[] = {CLS_REVIEW_STATUSES(TEXT)};

static const char *const family_types[][2] = {CLS_FAMILY_TYPES(PAIR)};

#undef TEXT
#undef PAIR

struct list_view {
    const char *const *items;
    size_t n;
};

#define VIEW(a)                                                                \
    {                                                                          \
        a, sizeof(a) / sizeof((a)[0])                                          \
    }

static const struct list_view lists[CV_LIST_COUNT] = {
    VIEW(families),   VIEW(types),       VIEW(aggregations), VIEW(orientations),
    VIEW(time_bases), VIEW(frequencies), VIEW(time_sources), VIEW(patterns),
    VIEW(unit_types), VIEW(scales),      VIEW(statuses),
};

size_t cv_count(enum cv_list list)
{
    if ((unsigned)list >= CV_LIST_COUNT)
        return 0;
    return lists[list].n;
}

const char *cv_at(enum cv_list list, size_t i)
{
    if (i >= cv_count(list))
        return NULL;
    return lists[list].items[i];
}

const char *cv_canonical(enum cv_list list, const char *value)
{
    size_t i;

    if (value == NULL)
        return NULL;
    for (i = 0; i < cv_count(list); i++) {
        if (strcmp(lists[list].items[i], value) == 0)
            return lists[list].items[i];
    }
    return NULL;
}

int cv_family_allows(const char *family, const char *type)
{
    size_t i;

    if (family == NULL || type == NULL)
        return 0;
    for (i = 0; i < sizeof(family_types) / sizeof(family_types[0]); i++) {
        if (strcmp(family_types[i][0], family) == 0 &&
            strcmp(family_types[i][1], type) == 0)
            return 1;
    }
    return 0;
}

const char *cv_family_type_at(const char *family, size_t i)
{
    size_t k;

    if (family == NULL)
        return NULL;
    for (k = 0; k < sizeof(family_types) / sizeof(family_types[0]); k++) {
        if (strcmp(family_types[k][0], family) != 0)
            continue;
        if (i == 0)
            return family_types[k][1];
        i--;
    }
    return NULL;
}

/* Append text to buf at *used, keeping the snprintf-style length. */
static void put(char *buf, size_t len, size_t *used, const char *text)
{
    size_t n = strlen(text);

    if (*used < len) {
        size_t room = len - *used - 1;
        size_t copy = n < room ? n : room;

        memcpy(buf + *used, text, copy);
        buf[*used + copy] = '\0';
    }
    *used += n;
}

size_t cv_join(enum cv_list list, const char *sep, int quoted, char *buf,
               size_t len)
{
    size_t used = 0;
    size_t i;

    if (len > 0)
        buf[0] = '\0';
    for (i = 0; i < cv_count(list); i++) {
        if (i > 0)
            put(buf, len, &used, sep);
        if (quoted)
            put(buf, len, &used, "\"");
        put(buf, len, &used, lists[list].items[i]);
        if (quoted)
            put(buf, len, &used, "\"");
    }
    return used;
}

size_t cv_family_table(char *buf, size_t len)
{
    size_t used = 0;
    size_t f;
    size_t t;

    if (len > 0)
        buf[0] = '\0';
    for (f = 0; f < cv_count(CV_FAMILIES); f++) {
        const char *family = cv_at(CV_FAMILIES, f);

        put(buf, len, &used, "- ");
        put(buf, len, &used, family);
        put(buf, len, &used, ": ");
        for (t = 0; cv_family_type_at(family, t) != NULL; t++) {
            if (t > 0)
                put(buf, len, &used, ", ");
            put(buf, len, &used, cv_family_type_at(family, t));
        }
        put(buf, len, &used, "\n");
    }
    return used;
}
