/*
 * classify/taxonomy.h - the one vocabulary of classification labels.
 *
 * Every enumerated value a stage may produce is listed here once, as an
 * X-macro.  The same lists feed the stage prompts, the validation of LLM
 * replies, the rules engine and the CHECK constraints of the database, so
 * a value is either valid everywhere or nowhere.  Expand a list with a
 * macro of your own:
 *
 *     #define NAME(id, text) text,
 *     static const char *const families[] = { CLS_FAMILIES(NAME) };
 *     #undef NAME
 *
 * Header-only, no functions, no storage: including it costs nothing.
 */
#ifndef CLASSIFY_TAXONOMY_H
#define CLASSIFY_TAXONOMY_H

/* The seven indicator families. */
#define CLS_FAMILIES(X)                                                        \
    X(PHYSICAL_FUNDAMENTAL, "physical-fundamental")                            \
    X(NUMERIC_MEASUREMENT, "numeric-measurement")                              \
    X(PRICE_VALUE, "price-value")                                              \
    X(CHANGE_MOVEMENT, "change-movement")                                      \
    X(COMPOSITE_DERIVED, "composite-derived")                                  \
    X(TEMPORAL, "temporal")                                                    \
    X(QUALITATIVE, "qualitative")

/* Every indicator type, once. */
#define CLS_TYPES(X)                                                           \
    X(STOCK, "stock")                                                          \
    X(FLOW, "flow")                                                            \
    X(BALANCE, "balance")                                                      \
    X(CAPACITY, "capacity")                                                    \
    X(VOLUME, "volume")                                                        \
    X(COUNT, "count")                                                          \
    X(PERCENTAGE, "percentage")                                                \
    X(RATIO, "ratio")                                                          \
    X(SPREAD, "spread")                                                        \
    X(SHARE, "share")                                                          \
    X(PRICE, "price")                                                          \
    X(YIELD, "yield")                                                          \
    X(RATE, "rate")                                                            \
    X(VOLATILITY, "volatility")                                                \
    X(GAP, "gap")                                                              \
    X(VELOCITY, "velocity")                                                    \
    X(INDEX, "index")                                                          \
    X(CORRELATION, "correlation")                                              \
    X(ELASTICITY, "elasticity")                                                \
    X(MULTIPLIER, "multiplier")                                                \
    X(DURATION, "duration")                                                    \
    X(PROBABILITY, "probability")                                              \
    X(THRESHOLD, "threshold")                                                  \
    X(SENTIMENT, "sentiment")                                                  \
    X(ALLOCATION, "allocation")                                                \
    X(OTHER, "other")

/*
 * Which types each family allows: X(family text, type text).  "other" is
 * the fallback of every family.
 */
#define CLS_FAMILY_TYPES(X)                                                    \
    X("physical-fundamental", "stock")                                         \
    X("physical-fundamental", "flow")                                          \
    X("physical-fundamental", "balance")                                       \
    X("physical-fundamental", "capacity")                                      \
    X("physical-fundamental", "volume")                                        \
    X("physical-fundamental", "other")                                         \
    X("numeric-measurement", "count")                                          \
    X("numeric-measurement", "percentage")                                     \
    X("numeric-measurement", "ratio")                                          \
    X("numeric-measurement", "spread")                                         \
    X("numeric-measurement", "share")                                          \
    X("numeric-measurement", "other")                                          \
    X("price-value", "price")                                                  \
    X("price-value", "yield")                                                  \
    X("price-value", "rate")                                                   \
    X("price-value", "other")                                                  \
    X("change-movement", "rate")                                               \
    X("change-movement", "volatility")                                         \
    X("change-movement", "gap")                                                \
    X("change-movement", "velocity")                                           \
    X("change-movement", "other")                                              \
    X("composite-derived", "index")                                            \
    X("composite-derived", "correlation")                                      \
    X("composite-derived", "elasticity")                                       \
    X("composite-derived", "multiplier")                                       \
    X("composite-derived", "other")                                            \
    X("temporal", "duration")                                                  \
    X("temporal", "probability")                                               \
    X("temporal", "threshold")                                                 \
    X("temporal", "other")                                                     \
    X("qualitative", "sentiment")                                              \
    X("qualitative", "allocation")                                             \
    X("qualitative", "other")

/* How one reported value relates to the span it covers. */
#define CLS_TEMPORAL_AGGREGATIONS(X)                                           \
    X(POINT_IN_TIME, "point-in-time")                                          \
    X(PERIOD_RATE, "period-rate")                                              \
    X(PERIOD_TOTAL, "period-total")                                            \
    X(PERIOD_AVERAGE, "period-average")                                        \
    X(PERIOD_CUMULATIVE, "period-cumulative")                                  \
    X(NOT_APPLICABLE, "not-applicable")

/* Heat-map orientation. */
#define CLS_ORIENTATIONS(X)                                                    \
    X(HIGHER_IS_POSITIVE, "higher-is-positive")                                \
    X(LOWER_IS_POSITIVE, "lower-is-positive")                                  \
    X(NEUTRAL, "neutral")

/* Time basis (time-inference stage). */
#define CLS_TIME_BASES(X)                                                      \
    X(PER_PERIOD, "per-period")                                                \
    X(POINT_IN_TIME, "point-in-time")                                          \
    X(CUMULATIVE, "cumulative")

/* Reporting frequency (time-inference stage). */
#define CLS_FREQUENCIES(X)                                                     \
    X(DAILY, "daily")                                                          \
    X(WEEKLY, "weekly")                                                        \
    X(MONTHLY, "monthly")                                                      \
    X(QUARTERLY, "quarterly")                                                  \
    X(SEMIANNUAL, "semiannual")                                                \
    X(ANNUAL, "annual")                                                        \
    X(IRREGULAR, "irregular")                                                  \
    X(UNKNOWN, "unknown")

/* Where the time-inference stage took its answer from. */
#define CLS_TIME_SOURCES(X)                                                    \
    X(UNITS, "units")                                                          \
    X(PERIODICITY, "periodicity")                                              \
    X(TIME_SERIES, "time-series")                                              \
    X(NAME, "name")                                                            \
    X(UNKNOWN, "unknown")

/* Cumulative detector patterns. */
#define CLS_CUMULATIVE_PATTERNS(X)                                             \
    X(YTD, "ytd")                                                              \
    X(RUNNING_TOTAL, "running_total")                                          \
    X(PERIODIC, "periodic")                                                    \
    X(UNKNOWN, "unknown")

/* Semantic unit types (normalization stage). */
#define CLS_UNIT_TYPES(X)                                                      \
    X(PERCENTAGE, "percentage")                                                \
    X(INDEX, "index")                                                          \
    X(COUNT, "count")                                                          \
    X(CURRENCY_AMOUNT, "currency-amount")                                      \
    X(PHYSICAL, "physical")                                                    \
    X(RATE, "rate")                                                            \
    X(RATIO, "ratio")                                                          \
    X(DURATION, "duration")                                                    \
    X(UNKNOWN, "unknown")

/* Normalized scale (normalization stage). */
#define CLS_SCALES(X)                                                          \
    X(ONES, "ones")                                                            \
    X(HUNDREDS, "hundreds")                                                    \
    X(THOUSANDS, "thousands")                                                  \
    X(LAKHS, "lakhs")                                                          \
    X(MILLIONS, "millions")                                                    \
    X(CRORES, "crores")                                                        \
    X(HUNDRED_MILLIONS, "hundred-millions")                                    \
    X(BILLIONS, "billions")                                                    \
    X(TRILLIONS, "trillions")

/* Outcome of the final review. */
#define CLS_REVIEW_STATUSES(X)                                                 \
    X(PASSED, "passed")                                                        \
    X(CORRECTED, "corrected")                                                  \
    X(FAILED, "failed")

/* LLM providers a stage can be configured with. */
#define CLS_PROVIDER_KINDS(X)                                                  \
    X(RULES, "rules")                                                          \
    X(OPENAI, "openai")                                                        \
    X(ANTHROPIC, "anthropic")

#endif /* CLASSIFY_TAXONOMY_H */
