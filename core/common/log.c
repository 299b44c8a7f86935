/*
 * log.c - timestamped, tagged log lines, one write(2) each.
 */
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static int log_level = CORE_LOG_INFO;
static int log_fd = 2;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG",
                                          "TRACE"};

void core_log_setup(enum core_log_level level, int fd)
{
    log_level = level;
    log_fd = fd;
}

int core_log_level_parse(const char *name)
{
    static const char *const names[] = {"error", "warn", "info", "debug",
                                        "trace"};
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i]) == 0)
            return (int)i;
    }
    return -1;
}

int core_log_enabled(enum core_log_level level)
{
    return (int)level <= log_level;
}

static size_t format_prefix(char *buf, size_t size, enum core_log_level level,
                            const char *tag)
{
    struct timeval tv;
    struct tm tm;
    size_t n;
    int w;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    w = snprintf(buf + n, size - n, ".%03ldZ %-5s [%s] ",
                 (long)(tv.tv_usec / 1000), level_names[level], tag);
    if (w < 0)
        return n;
    n += (size_t)w;
    return n < size ? n : size - 1;
}

static void write_line(enum core_log_level level, const char *tag,
                       const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void write_line(enum core_log_level level, const char *tag,
                       const char *fmt, va_list ap)
{
    char line[LOG_LINE_MAX];
    size_t n;
    int w;

    n = format_prefix(line, sizeof(line) - 1, level, tag);
    w = vsnprintf(line + n, sizeof(line) - 1 - n, fmt, ap);
    if (w > 0)
        n +=
            (size_t)w < sizeof(line) - 1 - n ? (size_t)w : sizeof(line) - 2 - n;
    line[n++] = '\n';
    if (write(log_fd, line, n) < 0)
        return; /* nowhere left to report it */
}

void core_logv(enum core_log_level level, const char *component,
               const char *fmt, va_list ap)
{
    if (!core_log_enabled(level))
        return;
    write_line(level, component, fmt, ap);
}

void core_log(enum core_log_level level, const char *component, const char *fmt,
              ...)
{
    va_list ap;

    va_start(ap, fmt);
    core_logv(level, component, fmt, ap);
    va_end(ap);
}

void core_log_stage(enum core_log_level level, const char *stage,
                    const char *version, unsigned generation, const char *fmt,
                    va_list ap)
{
    char tag[160];

    if (!core_log_enabled(level))
        return;
    snprintf(tag, sizeof(tag), "stage:%s@%s#%u", stage, version, generation);
    write_line(level, tag, fmt, ap);
}
