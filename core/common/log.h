/*
 * log.h - the host's one logging facade.
 *
 * Every line carries a timestamp, a level and a component tag, for example
 *   2026-12-04T17:30:00.123Z INFO  [restate] invocation started ...
 * Stage lines add the stage name, version and reload generation through
 * core_log_stage().  Nothing logged may contain a secret: callers log the
 * name of an environment variable, never its value.
 *
 * All functions are thread-safe; a line is written with one write(2).
 */
#ifndef CORE_COMMON_LOG_H
#define CORE_COMMON_LOG_H

#include <stdarg.h>

enum core_log_level {
    CORE_LOG_ERROR = 0,
    CORE_LOG_WARN,
    CORE_LOG_INFO,
    CORE_LOG_DEBUG,
    CORE_LOG_TRACE
};

/*
 * Set the most verbose level written (default CORE_LOG_INFO) and the file
 * descriptor lines go to (default 2).  Call before starting threads.
 */
void core_log_setup(enum core_log_level level, int fd);

/* Parse "error", "warn", "info", "debug" or "trace"; -1 if unknown. */
int core_log_level_parse(const char *name);

/* Non-zero when lines of this level are written. */
int core_log_enabled(enum core_log_level level);

/* Write one line tagged with component (a short word: "config"). */
void core_log(enum core_log_level level, const char *component, const char *fmt,
              ...) __attribute__((format(printf, 3, 4)));

void core_logv(enum core_log_level level, const char *component,
               const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/*
 * Write one line for a stage: the tag is "stage:<name>@<version>#<gen>".
 */
void core_log_stage(enum core_log_level level, const char *stage,
                    const char *version, unsigned generation, const char *fmt,
                    va_list ap) __attribute__((format(printf, 5, 0)));

#define log_error(comp, ...) core_log(CORE_LOG_ERROR, comp, __VA_ARGS__)
#define log_warn(comp, ...)  core_log(CORE_LOG_WARN, comp, __VA_ARGS__)
#define log_info(comp, ...)  core_log(CORE_LOG_INFO, comp, __VA_ARGS__)
#define log_debug(comp, ...) core_log(CORE_LOG_DEBUG, comp, __VA_ARGS__)

#endif /* CORE_COMMON_LOG_H */
