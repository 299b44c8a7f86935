/*
 * store/taxonomy.c - the generated migration step: vocabulary tables and
 * CHECK constraints built from classify/taxonomy.h.
 *
 * The X-macro lists of the header are expanded here into (kind, value)
 * pairs and into one CHECK constraint per constrained column.  A digest
 * of that generated text is kept in taxonomy_state; when the header
 * changes, the next start replaces the rows and constraints in one
 * transaction (and fails, naming the constraint, if stored rows use a
 * value the header no longer has).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify/taxonomy.h"
#include "common/log.h"
#include "store/store_internal.h"

#define TEXT(id, text)            text,
#define PAIR_FAMILY(family, type) family,
#define PAIR_TYPE(family, type)   type,

static const char *const families[] = {CLS_FAMILIES(TEXT) NULL};
static const char *const types[] = {CLS_TYPES(TEXT) NULL};
static const char *const aggregations[] = {CLS_TEMPORAL_AGGREGATIONS(TEXT)
                                               NULL};
static const char *const orientations[] = {CLS_ORIENTATIONS(TEXT) NULL};
static const char *const time_bases[] = {CLS_TIME_BASES(TEXT) NULL};
static const char *const frequencies[] = {CLS_FREQUENCIES(TEXT) NULL};
static const char *const time_sources[] = {CLS_TIME_SOURCES(TEXT) NULL};
static const char *const patterns[] = {CLS_CUMULATIVE_PATTERNS(TEXT) NULL};
static const char *const unit_types[] = {CLS_UNIT_TYPES(TEXT) NULL};
static const char *const scales[] = {CLS_SCALES(TEXT) NULL};
static const char *const statuses[] = {CLS_REVIEW_STATUSES(TEXT) NULL};
static const char *const providers[] = {CLS_PROVIDER_KINDS(TEXT) NULL};

static const char *const pair_families[] = {CLS_FAMILY_TYPES(PAIR_FAMILY) NULL};
static const char *const pair_types[] = {CLS_FAMILY_TYPES(PAIR_TYPE) NULL};

struct vocabulary {
    const char *kind;
    const char *const *values;
};

static const struct vocabulary vocabularies[] = {
    {"family", families},
    {"indicator_type", types},
    {"temporal_aggregation", aggregations},
    {"heat_map_orientation", orientations},
    {"time_basis", time_bases},
    {"frequency", frequencies},
    {"time_source", time_sources},
    {"cumulative_pattern", patterns},
    {"unit_type", unit_types},
    {"scale", scales},
    {"review_status", statuses},
    {"provider_kind", providers},
};

#define N_VOCABULARIES (sizeof(vocabularies) / sizeof(vocabularies[0]))

/* A column whose values must come from one vocabulary. */
struct binding {
    const char *table;
    const char *column;
    const char *const *values;
};

static const struct binding bindings[] = {
    {"classifications", "family", families},
    {"classifications", "indicator_type", types},
    {"classifications", "temporal_aggregation", aggregations},
    {"classifications", "heat_map_orientation", orientations},
    {"classifications", "time_basis", time_bases},
    {"classifications", "reporting_frequency", frequencies},
    {"classifications", "time_source_used", time_sources},
    {"classifications", "cumulative_pattern_type", patterns},
    {"classifications", "parsed_unit_type", unit_types},
    {"classifications", "parsed_scale", scales},
    {"classifications", "final_review_status", statuses},
    {"classifications", "review_status", statuses},
    {"normalization_results", "parsed_unit_type", unit_types},
    {"normalization_results", "parsed_scale", scales},
    {"time_inference_results", "reporting_frequency", frequencies},
    {"time_inference_results", "time_basis", time_bases},
    {"time_inference_results", "source_used", time_sources},
    {"cumulative_detection_results", "pattern_type", patterns},
    {"family_results", "family", families},
    {"type_results", "indicator_type", types},
    {"type_results", "temporal_aggregation", aggregations},
    {"type_results", "heat_map_orientation", orientations},
    {"final_review_results", "review_status", statuses},
};

#define N_BINDINGS (sizeof(bindings) / sizeof(bindings[0]))

/* A growing string; on allocation failure it sets oom and stops. */
struct buf {
    char *data;
    size_t len, cap;
    int oom;
};

static void buf_add(struct buf *b, const char *text)
{
    size_t n = strlen(text);
    char *grown;

    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 1024) + n;

        grown = realloc(b->data, cap);
        if (grown == NULL) {
            b->oom = 1;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, text, n + 1);
    b->len += n;
}

/* Append the quoted literal of text (escaped by libpq). */
static void buf_literal(struct buf *b, PGconn *pg, const char *text)
{
    char *lit = PQescapeLiteral(pg, text, strlen(text));

    if (lit == NULL) {
        b->oom = 1;
        return;
    }
    buf_add(b, lit);
    PQfreemem(lit);
}

/* The DDL replacing every vocabulary CHECK constraint. */
static void build_checks(struct buf *b, PGconn *pg)
{
    char head[256];
    size_t i, k;

    for (i = 0; i < N_BINDINGS; i++) {
        const struct binding *bd = &bindings[i];

        snprintf(head, sizeof(head),
                 "ALTER TABLE %s DROP CONSTRAINT IF EXISTS tax_%s_%s;\n"
                 "ALTER TABLE %s ADD CONSTRAINT tax_%s_%s CHECK (%s IN (",
                 bd->table, bd->table, bd->column, bd->table, bd->table,
                 bd->column, bd->column);
        buf_add(b, head);
        for (k = 0; bd->values[k] != NULL; k++) {
            if (k > 0)
                buf_add(b, ", ");
            buf_literal(b, pg, bd->values[k]);
        }
        buf_add(b, "));\n");
    }
}

/* The vocabulary rows as one INSERT, and the family/type pairs. */
static void build_rows(struct buf *b, PGconn *pg)
{
    size_t i, k;
    int first = 1;

    buf_add(b, "DELETE FROM taxonomy_values;\n"
               "INSERT INTO taxonomy_values (kind, value) VALUES ");
    for (i = 0; i < N_VOCABULARIES; i++) {
        for (k = 0; vocabularies[i].values[k] != NULL; k++) {
            buf_add(b, first ? "(" : ", (");
            buf_literal(b, pg, vocabularies[i].kind);
            buf_add(b, ", ");
            buf_literal(b, pg, vocabularies[i].values[k]);
            buf_add(b, ")");
            first = 0;
        }
    }
    buf_add(b, ";\nCREATE TEMP TABLE tax_pairs (family text, indicator_type "
               "text) ON COMMIT DROP;\nINSERT INTO tax_pairs VALUES ");
    for (i = 0; pair_families[i] != NULL; i++) {
        buf_add(b, i ? ", (" : "(");
        buf_literal(b, pg, pair_families[i]);
        buf_add(b, ", ");
        buf_literal(b, pg, pair_types[i]);
        buf_add(b, ")");
    }
    buf_add(b, ";\nDELETE FROM taxonomy_family_types t WHERE NOT EXISTS "
               "(SELECT 1 FROM tax_pairs p WHERE p.family = t.family AND "
               "p.indicator_type = t.indicator_type);\n"
               "INSERT INTO taxonomy_family_types SELECT * FROM tax_pairs "
               "ON CONFLICT DO NOTHING;\n");
}

static uint64_t fnv1a(const char *text)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *text != '\0'; text++) {
        h ^= (unsigned char)*text;
        h *= 1099511628211ULL;
    }
    return h;
}

/* Is the stored digest equal to digest?  1 yes, 0 no, <0 error. */
static int digest_matches(struct store_slot *slot, const char *digest,
                          struct core_store_error *err)
{
    const char *sql = "SELECT digest = $1 FROM taxonomy_state";
    PGresult *res;
    int same;

    res = store_exec(slot, "read taxonomy digest", sql, 1, &digest, err);
    if (res == NULL)
        return err ? err->rc : CORE_STORE_EDB;
    same = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return same;
}

int store_taxonomy_apply(struct store_slot *slot, struct core_store_error *err)
{
    const char *save = "INSERT INTO taxonomy_state (digest) VALUES ($1) "
                       "ON CONFLICT (singleton) DO UPDATE SET digest = "
                       "EXCLUDED.digest, applied_at = now()";
    struct buf b = {0};
    char digest[17];
    const char *param = digest;
    int rc;

    build_rows(&b, slot->pg);
    build_checks(&b, slot->pg);
    if (b.oom) {
        rc = store_fail(err, CORE_STORE_ENOMEM,
                        "store: taxonomy step: no memory");
        goto out;
    }
    snprintf(digest, sizeof(digest), "%016llx",
             (unsigned long long)fnv1a(b.data));

    rc = digest_matches(slot, digest, err);
    if (rc < 0)
        goto out;
    if (rc == 1) {
        rc = CORE_STORE_OK;
        goto out;
    }

    rc = store_exec_script(slot, "apply taxonomy constraints", b.data, err);
    if (rc == CORE_STORE_OK)
        rc = store_exec_cmd(slot, "save taxonomy digest", save, 1, &param, err);
    if (rc == CORE_STORE_OK)
        log_info(STORE_TAG,
                 "taxonomy constraints generated from taxonomy.h "
                 "(%zu columns, digest %s)",
                 N_BINDINGS, digest);
out:
    free(b.data);
    return rc;
}
