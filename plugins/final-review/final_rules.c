/*
 * final_rules.c - applying the flagged corrections.
 */
#include "final_rules.h"

#include <stdio.h>
#include <string.h>

#include "vocab.h"

static int seen_before(const struct final_item *items, int i)
{
    int k;

    for (k = 0; k < i; k++) {
        if (items[k].field == items[i].field)
            return 1;
    }
    return 0;
}

static void refuse(struct final_result *out, const struct final_item *it,
                   const char *from, const char *reason)
{
    struct final_change *c = &out->refused[out->n_refused++];

    c->field = it->field;
    c->from = from;
    c->to = it->proposed;
    c->reason = reason;
}

static void apply_one(const struct final_item *it, struct final_result *out)
{
    const char *from = out->value[it->field];
    const char *to = view_canonical(it->field, it->proposed);
    struct final_change *c;

    if (it->rejected != NULL) {
        refuse(out, it, from, it->rejected);
        return;
    }
    if (it->proposed == NULL) {
        refuse(out, it, from, "no corrected value was proposed");
        return;
    }
    if (to == NULL) {
        refuse(out, it, from, "the proposed value is not in the vocabulary");
        return;
    }
    if (from != NULL && strcmp(from, to) == 0) {
        refuse(out, it, from, "the proposed value is the current one");
        return;
    }
    c = &out->changes[out->n_changes++];
    c->field = it->field;
    c->from = from;
    c->to = to;
    c->reason = it->reason ? it->reason : "flagged by the review";
    out->value[it->field] = to;
}

/* Is the type still allowed in the family? */
static int consistent(struct final_result *out)
{
    const char *family = out->value[VF_FAMILY];
    const char *type = out->value[VF_TYPE];

    return family == NULL || type == NULL || cv_family_allows(family, type);
}

/* Undo the applied changes of family and type, recording them as refused:
 * together they left the type outside the family. */
static void revert_family_type(struct final_result *out)
{
    int i = 0;
    int k;

    while (i < out->n_changes) {
        struct final_change c = out->changes[i];

        if (c.field != VF_FAMILY && c.field != VF_TYPE) {
            i++;
            continue;
        }
        out->value[c.field] = c.from;
        c.reason = "it would leave the type outside the family";
        out->refused[out->n_refused++] = c;
        for (k = i + 1; k < out->n_changes; k++)
            out->changes[k - 1] = out->changes[k];
        out->n_changes--;
    }
}

static void summarise(struct final_result *out, int flagged, int ok)
{
    size_t used;
    int i;

    if (flagged == 0) {
        out->status = "passed";
        snprintf(out->reasoning, sizeof(out->reasoning),
                 "the review found nothing to correct");
        return;
    }
    out->status = out->n_changes > 0 && ok ? "corrected" : "failed";
    used = (size_t)snprintf(out->reasoning, sizeof(out->reasoning),
                            "%d field(s) flagged, %d corrected, %d refused",
                            flagged, out->n_changes, out->n_refused);
    if (!ok && used < sizeof(out->reasoning))
        used += (size_t)snprintf(out->reasoning + used,
                                 sizeof(out->reasoning) - used,
                                 "; the corrected type is not allowed in "
                                 "the corrected family");
    for (i = 0; i < out->n_refused && used < sizeof(out->reasoning); i++)
        used += (size_t)snprintf(
            out->reasoning + used, sizeof(out->reasoning) - used, "; %s: %s",
            view_field_name(out->refused[i].field), out->refused[i].reason);
}

void final_rules_apply(const struct view *v, const struct final_item *items,
                       int n, struct final_result *out)
{
    int flagged = 0;
    int ok;
    int i;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < VF_COUNT; i++)
        out->value[i] = view_canonical((enum view_field)i, v->value[i]);

    for (i = 0; i < n; i++) {
        if ((unsigned)items[i].field >= VF_COUNT || seen_before(items, i))
            continue;
        flagged++;
        apply_one(&items[i], out);
    }
    ok = consistent(out);
    if (!ok)
        revert_family_type(out);
    summarise(out, flagged, ok);
}
