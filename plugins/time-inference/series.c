/*
 * series.c - period parsing, cleaning and the cumulative detector.
 */
#include "series.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

long ts_days_from_civil(int year, int month, int day)
{
    long y = year - (month <= 2);
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long mp = (month + 9) % 12;
    long doy = (153 * mp + 2) / 5 + day - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

static int leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* Read exactly n digits at s; -1 when they are not all digits. */
static int digits(const char *s, int n)
{
    int v = 0;
    int i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int set(struct ts_period *p, int year, int month, int day, char kind)
{
    p->year = year;
    p->kind = kind;
    p->days = ts_days_from_civil(year, month, day);
    return 1;
}

/* The part after "YYYY" (and an optional '-'). */
static int parse_tail(int year, const char *s, struct ts_period *p)
{
    size_t n = strlen(s);
    int v;

    if ((s[0] == 'Q' || s[0] == 'q') && n == 2) {
        v = digits(s + 1, 1);
        return v >= 1 && v <= 4 && set(p, year, 3 * v - 2, 1, TS_QUARTER);
    }
    if ((s[0] == 'H' || s[0] == 'S' || s[0] == 'h' || s[0] == 's') && n == 2) {
        v = digits(s + 1, 1);
        return v >= 1 && v <= 2 && set(p, year, 6 * v - 5, 1, TS_HALF);
    }
    if ((s[0] == 'M' || s[0] == 'm') && n == 3) {
        v = digits(s + 1, 2);
        return v >= 1 && v <= 12 && set(p, year, v, 1, TS_MONTH);
    }
    if ((s[0] == 'W' || s[0] == 'w') && n == 3) {
        long jan4;
        int wd;

        v = digits(s + 1, 2);
        if (v < 1 || v > 53)
            return 0;
        /* ISO week 1 holds January 4th; weeks start on Monday. */
        jan4 = ts_days_from_civil(year, 1, 4);
        wd = (int)(((jan4 % 7) + 7 + 3) % 7); /* 0 = Monday */
        p->year = year;
        p->kind = TS_WEEK;
        p->days = jan4 - wd + 7L * (v - 1);
        return 1;
    }
    if (n == 2) {
        v = digits(s, 2);
        return v >= 1 && v <= 12 && set(p, year, v, 1, TS_MONTH);
    }
    if (n >= 5 && s[2] == '-' && (n == 5 || s[5] == 'T' || s[5] == ' ')) {
        int m = digits(s, 2);
        int d = digits(s + 3, 2);

        return m >= 1 && m <= 12 && d >= 1 && d <= month_days(year, m) &&
               set(p, year, m, d, TS_DAY);
    }
    return 0;
}

int ts_parse_period(const char *text, struct ts_period *p)
{
    int year;
    const char *s;

    if (text == NULL)
        return 0;
    while (*text == ' ')
        text++;
    year = digits(text, 4);
    if (year < 1000)
        return 0;
    s = text + 4;
    if (*s == '\0' || *s == ' ')
        return set(p, year, 1, 1, TS_YEAR);
    if (*s == '-' || *s == '/')
        s++;
    return parse_tail(year, s, p);
}

int ts_parse_number(const char *text, double *out)
{
    char buf[64];
    size_t n = 0;
    char *end;

    if (text == NULL)
        return 0;
    for (; *text != '\0' && n + 1 < sizeof(buf); text++) {
        if (*text == ',' || *text == ' ' || *text == '\t')
            continue;
        buf[n++] = *text;
    }
    buf[n] = '\0';
    if (n == 0)
        return 0;
    *out = strtod(buf, &end);
    return *end == '\0' && end != buf && isfinite(*out);
}

/* Sort key: date, then input position so the last duplicate comes last. */
struct keyed {
    struct ts_point pt;
    size_t order;
};

static int cmp_keyed(const void *a, const void *b)
{
    const struct keyed *x = a;
    const struct keyed *y = b;

    if (x->pt.period.days != y->pt.period.days)
        return x->pt.period.days < y->pt.period.days ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

size_t ts_clean(const struct ts_raw *raw, size_t n, struct ts_point *out,
                struct ts_clean_stats *stats)
{
    struct keyed *tmp;
    size_t m = 0;
    size_t i;
    size_t kept = 0;

    memset(stats, 0, sizeof(*stats));
    stats->input = n;
    tmp = n > 0 ? calloc(n, sizeof(*tmp)) : NULL;
    if (n > 0 && tmp == NULL)
        return 0;
    for (i = 0; i < n; i++) {
        struct ts_period p;

        if (!ts_parse_period(raw[i].date, &p)) {
            stats->skipped_labels++;
            continue;
        }
        if (!raw[i].has_value) {
            stats->missing_values++;
            continue;
        }
        tmp[m].pt.period = p;
        tmp[m].pt.value = raw[i].value;
        tmp[m].order = i;
        m++;
    }
    if (m > 1)
        qsort(tmp, m, sizeof(*tmp), cmp_keyed);
    for (i = 0; i < m; i++) {
        if (i + 1 < m && tmp[i + 1].pt.period.days == tmp[i].pt.period.days) {
            stats->duplicate_dates++;
            continue;
        }
        out[kept++] = tmp[i].pt;
    }
    free(tmp);
    stats->kept = kept;
    return kept;
}

/* Signed percentage change relative to the size of the earlier value. */
static double pct_change(double cur, double next)
{
    double diff = next - cur;

    if (cur == 0)
        return diff == 0 ? 0 : (diff > 0 ? 1e9 : -1e9);
    return diff / fabs(cur) * 100.0;
}

static void count_pairs(const struct ts_point *pts, size_t n, double sign,
                        struct ts_cumulative *out)
{
    size_t i;

    for (i = 0; i + 1 < n; i++) {
        double cur = sign * pts[i].value;
        double next = sign * pts[i + 1].value;
        double diff = next - cur;

        if (pts[i].period.year != pts[i + 1].period.year) {
            if (diff < 0 && fabs(pct_change(cur, next)) > 20.0)
                out->year_resets++;
            continue;
        }
        if (diff > 0)
            out->increases++;
        else if (diff < 0)
            out->decreases++;
    }
}

static void say(struct ts_cumulative *out, const char *text)
{
    strncpy(out->reasoning, text, sizeof(out->reasoning) - 1);
    out->reasoning[sizeof(out->reasoning) - 1] = '\0';
}

void ts_detect_cumulative(const struct ts_point *pts, size_t n,
                          struct ts_cumulative *out)
{
    size_t negative = 0;
    size_t transitions;
    size_t i;

    memset(out, 0, sizeof(*out));
    out->pattern = "unknown";
    out->points = n;
    if (n < 3) {
        say(out, "fewer than 3 dated values: no pattern can be seen");
        return;
    }
    for (i = 0; i < n; i++)
        negative += pts[i].value < 0;
    out->negated = negative * 2 > n;
    count_pairs(pts, n, out->negated ? -1.0 : 1.0, out);
    transitions = n - 1;

    if (out->year_resets > 0 && out->increases >= 2 && out->decreases == 0) {
        out->is_cumulative = 1;
        out->pattern = "ytd";
        out->confidence =
            fmin(0.95, (double)(out->year_resets + out->increases) /
                           (double)transitions);
        say(out, "values grow within each year and drop back at the turn "
                 "of the year: a year-to-date total");
    }
    else if (out->year_resets == 0 && out->increases >= 10 &&
             out->decreases == 0 && transitions >= 12) {
        out->is_cumulative = 1;
        out->pattern = "running_total";
        out->confidence =
            fmin(0.90, (double)out->increases / (double)transitions);
        say(out, "values only ever grow and never reset: a running total");
    }
    else {
        out->pattern = "periodic";
        out->confidence = out->increases + out->decreases > 0 ? 0.85 : 0.5;
        say(out, out->decreases > 0
                     ? "values fall within a year: not a cumulative total"
                     : "no year-end reset and too few rises for a running "
                       "total: read as per-period values");
    }
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a;
    long y = *(const long *)b;

    return (x > y) - (x < y);
}

/* Frequency bands by the median gap in days, from the shortest. */
static const struct {
    long max_days;
    const char *frequency;
} gap_bands[] = {
    {4, "daily"},       {17, "weekly"},      {45, "monthly"},
    {135, "quarterly"}, {250, "semiannual"}, {550, "annual"},
};

const char *ts_frequency(const struct ts_point *pts, size_t n)
{
    long *gaps;
    long median;
    size_t i;

    if (n < 2)
        return NULL;
    gaps = calloc(n - 1, sizeof(*gaps));
    if (gaps == NULL)
        return NULL;
    for (i = 0; i + 1 < n; i++)
        gaps[i] = pts[i + 1].period.days - pts[i].period.days;
    qsort(gaps, n - 1, sizeof(*gaps), cmp_long);
    median = gaps[(n - 1) / 2];
    free(gaps);
    for (i = 0; i < sizeof(gap_bands) / sizeof(gap_bands[0]); i++) {
        if (median <= gap_bands[i].max_days)
            return gap_bands[i].frequency;
    }
    return "irregular";
}
