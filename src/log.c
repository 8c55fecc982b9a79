/* log.c - formats one diagnostic line and writes it to stderr in a single write(),
 * so lines from concurrent writers never interleave. Never fails its caller. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "log.h"

enum log_level log_threshold = LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_write(enum log_level lv, const char *file, int line, int err, const char *fmt, ...)
{
    if (lv > log_threshold)
        return;
    char buf[1024];
    const char *base = strrchr(file, '/');
    int n = snprintf(buf, sizeof buf, "aws: %s: %s:%d: ", level_names[lv], base ? base + 1 : file, line);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 2)
        n = (int)sizeof buf - 2;
    if (err)
        n += snprintf(buf + n, sizeof buf - (size_t)n, ": %s", strerror(err));
    if (n > (int)sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, buf, (size_t)n);
    (void)w;  /* nowhere left to report a failed stderr write */
}
