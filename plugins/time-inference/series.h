/*
 * series.h - period labels, sample cleaning and cumulative detection.
 *
 * Period labels are parsed by hand into calendar days (no mktime, no
 * localtime, no time zone): 2023, 2023-Q1, 2023Q1, 2023M01, 2023-W05,
 * 2023-01, 2023-01-31 and 2023-01-31T...  Pure and reentrant; the only
 * allocation is the caller's.
 */
#ifndef TIME_SERIES_H
#define TIME_SERIES_H

#include <stddef.h>

/* Granularity of a period label. */
enum ts_kind {
    TS_YEAR = 'A',
    TS_HALF = 'S',
    TS_QUARTER = 'Q',
    TS_MONTH = 'M',
    TS_WEEK = 'W',
    TS_DAY = 'D'
};

/* A parsed period: its start as days since 1970-01-01 and its year. */
struct ts_period {
    long days;
    int year;
    char kind;
};

/* Parse a period label; returns 1 and fills *p, or 0 when text is not a
 * date (e.g. "last10YearsAvg", "Q1").  text may be NULL. */
int ts_parse_period(const char *text, struct ts_period *p);

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
long ts_days_from_civil(int year, int month, int day);

/* One raw sample as read from the indicator. */
struct ts_raw {
    const char *date;
    int has_value; /* 0: missing (null, "", "n/a", ".") */
    double value;
};

/*
 * Read a sample value given as text: a number, optionally with spaces and
 * thousands separators.  Returns 1 and *out, or 0 for a missing or
 * non-numeric value ("", "n/a", ".").
 */
int ts_parse_number(const char *text, double *out);

/* One cleaned point. */
struct ts_point {
    struct ts_period period;
    double value;
};

/* Counters of what cleaning dropped. */
struct ts_clean_stats {
    size_t input;
    size_t kept;
    size_t skipped_labels;  /* date is not a period label */
    size_t missing_values;  /* value missing or not numeric */
    size_t duplicate_dates; /* earlier values replaced by a later one */
};

/*
 * Clean n raw samples into out (room for n points): drop non-date labels
 * and missing values (counted), sort by date, keep the last value given
 * for a duplicate date.  Returns the number of points written.
 */
size_t ts_clean(const struct ts_raw *raw, size_t n, struct ts_point *out,
                struct ts_clean_stats *stats);

/* Verdict of the cumulative detector. */
struct ts_cumulative {
    int is_cumulative;
    const char *pattern; /* CLS_CUMULATIVE_PATTERNS */
    double confidence;
    size_t points;
    size_t year_resets;
    size_t increases;
    size_t decreases;
    int negated; /* the series was read as a negative running total */
    char reasoning[256];
};

/*
 * Detect a year-to-date or running-total pattern in n sorted points.
 * Year-to-date: some drop of more than 20 % across a year boundary, at
 * least two rises within a year and no fall within a year.  Running total:
 * no reset, at least 10 rises within years, no fall, at least 12
 * transitions.  A mostly negative series is examined with its sign
 * flipped, so a growing deficit total is found too.
 */
void ts_detect_cumulative(const struct ts_point *pts, size_t n,
                          struct ts_cumulative *out);

/*
 * Reporting frequency suggested by the spacing of n sorted points: the
 * upper median of the gaps in days.  Returns a CLS_FREQUENCIES value, or
 * NULL when fewer than two points.
 */
const char *ts_frequency(const struct ts_point *pts, size_t n);

#endif /* TIME_SERIES_H */
