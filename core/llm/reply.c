/*
 * reply.c - from a model's reply text to one JSON object, token usage
 * fields, and the wait hints of a 429 answer.
 */
#define _GNU_SOURCE /* strcasestr, timegm */

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "llm/llm_internal.h"

/* ------------------------------------------------------------------ */
/* Object extraction                                                   */
/* ------------------------------------------------------------------ */

static void trim(const char **s, const char **e)
{
    while (*s < *e && isspace((unsigned char)**s))
        (*s)++;
    while (*e > *s && isspace((unsigned char)(*e)[-1]))
        (*e)--;
}

/* Is [s, e) an info string that means JSON (empty or "json")? */
static bool json_tag(const char *s, const char *e)
{
    trim(&s, &e);
    return s == e || (e - s == 4 && strncasecmp(s, "json", 4) == 0);
}

static const char *find_fence(const char *s, const char *e)
{
    for (; s + 3 <= e; s++)
        if (s[0] == '`' && s[1] == '`' && s[2] == '`')
            return s;
    return NULL;
}

/*
 * If [*s, *e) is exactly one ``` or ```json fence, narrow it to the
 * fence's content.
 */
static void strip_enclosing_fence(const char **s, const char **e)
{
    const char *nl, *close;

    if (*e - *s < 6 || strncmp(*s, "```", 3) != 0)
        return;
    nl = memchr(*s, '\n', (size_t)(*e - *s));
    if (nl == NULL || !json_tag(*s + 3, nl))
        return;
    close = *e - 3;
    if (close < nl || strncmp(close, "```", 3) != 0)
        return;
    if (find_fence(nl + 1, close) != NULL)
        return; /* more than one fence: not a single enclosing block */
    *s = nl + 1;
    *e = close;
    trim(s, e);
}

/* End (one past the closing brace) of the object starting at s, or NULL. */
static const char *match_object(const char *s, const char *e)
{
    int depth = 0;
    bool in_string = false;

    for (; s < e; s++) {
        if (in_string) {
            if (*s == '\\' && s + 1 < e)
                s++;
            else if (*s == '"')
                in_string = false;
            continue;
        }
        if (*s == '"')
            in_string = true;
        else if (*s == '{')
            depth++;
        else if (*s == '}' && --depth == 0)
            return s + 1;
    }
    return NULL;
}

/*
 * A fence at p opens or closes a block: toggle *in_other (inside a block
 * tagged with a language other than JSON) and skip the fence and its tag.
 */
static const char *skip_fence(const char *p, const char *e, bool *in_other)
{
    const char *tag = p + 3, *end = tag;

    while (end < e && !isspace((unsigned char)*end) && *end != '{' &&
           *end != '`')
        end++;
    if (*in_other)
        *in_other = false;
    else
        *in_other = !json_tag(tag, end);
    return end;
}

struct scan {
    cJSON *first;
    int candidates;
    bool unbalanced;
};

static void scan_candidates(const char *s, const char *e, struct scan *sc)
{
    bool in_other = false, line_start = true;
    const char *p = s, *end;
    cJSON *obj;

    while (p < e) {
        if (line_start && e - p >= 3 && strncmp(p, "```", 3) == 0) {
            p = skip_fence(p, e, &in_other);
            continue;
        }
        line_start = *p == '\n';
        if (*p != '{' || in_other) {
            p++;
            continue;
        }
        end = match_object(p, e);
        if (end == NULL) {
            sc->unbalanced = true;
            return;
        }
        obj = cJSON_ParseWithLength(p, (size_t)(end - p));
        if (obj != NULL && cJSON_IsObject(obj)) {
            sc->candidates++;
            if (sc->first == NULL) {
                sc->first = obj;
                obj = NULL;
            }
        }
        cJSON_Delete(obj);
        p = end;
    }
}

enum llm_reason llm_extract_object(const char *text, cJSON **out, char *why,
                                   size_t why_len)
{
    const char *s = text, *e;
    struct scan sc = {0};

    *out = NULL;
    if (text == NULL || *text == '\0') {
        snprintf(why, why_len, "the reply is empty");
        return LLM_ERR_MALFORMED;
    }
    e = s + strlen(s);
    trim(&s, &e);
    strip_enclosing_fence(&s, &e);
    scan_candidates(s, e, &sc);
    if (sc.candidates == 1) {
        *out = sc.first;
        return LLM_OK;
    }
    cJSON_Delete(sc.first);
    if (sc.candidates > 1)
        snprintf(why, why_len,
                 "the reply holds %d candidate JSON objects, expected one",
                 sc.candidates);
    else if (sc.unbalanced)
        snprintf(why, why_len, "the reply ends inside a JSON object");
    else
        snprintf(why, why_len, "the reply holds no JSON object");
    return LLM_ERR_MALFORMED;
}

/* ------------------------------------------------------------------ */
/* Usage                                                               */
/* ------------------------------------------------------------------ */

static bool read_count(const cJSON *obj, const char *key, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    /* a count outside [0, 1e15] is not a token count */
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 1e15))
        return false;
    *out = (uint64_t)v->valuedouble;
    return true;
}

void llm_usage_parse(const cJSON *usage, struct llm_usage *out)
{
    const cJSON *details;
    uint64_t v;
    bool anthropic = false;

    memset(out, 0, sizeof(*out));
    if (!cJSON_IsObject(usage))
        return;
    if (read_count(usage, "prompt_tokens", &out->input))
        out->present = 1;
    if (read_count(usage, "input_tokens", &out->input))
        out->present = 1;
    if (read_count(usage, "completion_tokens", &out->output))
        out->present = 1;
    if (read_count(usage, "output_tokens", &out->output))
        out->present = 1;
    details = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details");
    if (!cJSON_IsObject(details))
        details =
            cJSON_GetObjectItemCaseSensitive(usage, "input_tokens_details");
    if (cJSON_IsObject(details))
        read_count(details, "cached_tokens", &out->cached);
    if (read_count(usage, "cache_read_input_tokens", &v)) {
        out->cached = v;
        anthropic = true;
    }
    if (read_count(usage, "cache_creation_input_tokens", &v)) {
        out->cache_write = v;
        anthropic = true;
    }
    if (anthropic) {
        out->input += out->cached + out->cache_write;
        out->present = 1;
    }
}

/* ------------------------------------------------------------------ */
/* Durations and hints                                                 */
/* ------------------------------------------------------------------ */

/* Scale of a unit word at *p (advanced past it), or 0 if none. */
static double unit_scale(const char **p)
{
    static const struct {
        const char *word;
        double ms;
    } units[] = {
        {"milliseconds", 1}, {"millisecond", 1}, {"ms", 1},
        {"seconds", 1000},   {"second", 1000},   {"sec", 1000},
        {"s", 1000},         {"minutes", 60000}, {"minute", 60000},
        {"min", 60000},      {"m", 60000},       {"hours", 3600000},
        {"hour", 3600000},   {"h", 3600000},
    };
    size_t i, n;

    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        n = strlen(units[i].word);
        if (strncasecmp(*p, units[i].word, n) == 0 &&
            !isalpha((unsigned char)(*p)[n])) {
            *p += n;
            return units[i].ms;
        }
    }
    return 0;
}

/*
 * Parse a duration prefix of s; *end is set past it.  A bare number is
 * seconds.  Returns ms, or -1.
 */
static double parse_duration_prefix(const char *s, const char **end)
{
    double total = 0, num, scale;
    const char *p = s, *q;
    char *numend;
    int parts = 0;

    for (;;) {
        if (!isdigit((unsigned char)*p) && *p != '.')
            break;
        num = strtod(p, &numend);
        if (numend == p || !isfinite(num) || num < 0)
            break;
        q = numend;
        while (*q == ' ')
            q++;
        scale = unit_scale(&q);
        if (scale == 0) {
            if (parts > 0)
                break;
            total = num * 1000; /* bare number: seconds */
            p = numend;
            parts++;
            break;
        }
        total += num * scale;
        p = q;
        parts++;
    }
    *end = p;
    return parts > 0 ? total : -1;
}

/* Longest wait we represent: about 31 years, far beyond any budget. */
#define HINT_MAX_MS 1e12

static int64_t to_ms(double ms)
{
    if (!(ms < HINT_MAX_MS))
        ms = HINT_MAX_MS;
    return (int64_t)ceil(ms - 1e-9);
}

int64_t llm_parse_duration_ms(const char *s)
{
    const char *end, *e;
    double ms;

    if (s == NULL)
        return -1;
    while (isspace((unsigned char)*s))
        s++;
    ms = parse_duration_prefix(s, &end);
    e = end + strlen(end);
    trim(&end, &e);
    if (ms < 0 || end != e)
        return -1;
    return to_ms(ms);
}

static int64_t http_date_ms(const char *s, int64_t now_epoch_ms)
{
    struct tm tm;
    const char *end;
    time_t t;

    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%a, %d %b %Y %H:%M:%S", &tm);
    if (end == NULL)
        return -1;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    if ((int64_t)t * 1000 <= now_epoch_ms)
        return 0;
    return (int64_t)t * 1000 - now_epoch_ms;
}

static int64_t body_hint_ms(const char *body)
{
    const char *p = body, *end;
    double ms, best = -1;

    while ((p = strcasestr(p, "try again in ")) != NULL) {
        p += strlen("try again in ");
        ms = parse_duration_prefix(p, &end);
        if (ms > best)
            best = ms;
    }
    return best < 0 ? -1 : to_ms(best);
}

static int64_t max_hint(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

int64_t llm_retry_hint_ms(const struct llm_hint_headers *h, const char *body,
                          int64_t now_epoch_ms)
{
    int64_t best = -1, v;

    if (h->retry_after[0] != '\0') {
        v = llm_parse_duration_ms(h->retry_after);
        if (v < 0)
            v = http_date_ms(h->retry_after, now_epoch_ms);
        best = max_hint(best, v);
    }
    if (h->retry_after_ms[0] != '\0') {
        char *end;
        double ms = strtod(h->retry_after_ms, &end);

        if (end != h->retry_after_ms && ms >= 0)
            best = max_hint(best, to_ms(ms));
    }
    best = max_hint(best, llm_parse_duration_ms(h->reset_requests));
    best = max_hint(best, llm_parse_duration_ms(h->reset_tokens));
    if (body != NULL)
        best = max_hint(best, body_hint_ms(body));
    return best;
}

int llm_is_quota_error(const char *body)
{
    return body != NULL && strstr(body, "insufficient_quota") != NULL;
}
