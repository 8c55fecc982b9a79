/* log.h - one-line diagnostics on stderr, tagged with level and source position.
 * Logging never fails the caller and never blocks on anything but stderr itself. */
#ifndef AWS_LOG_H
#define AWS_LOG_H

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Messages above this level are dropped; LOG_INFO unless changed at startup. */
extern enum log_level log_threshold;

void log_write(enum log_level lv, const char *file, int line, int err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#define log_err(...)   log_write(LOG_ERR, __FILE__, __LINE__, 0, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_WARN, __FILE__, __LINE__, 0, __VA_ARGS__)
#define log_info(...)  log_write(LOG_INFO, __FILE__, __LINE__, 0, __VA_ARGS__)
#define log_debug(...) log_write(LOG_DEBUG, __FILE__, __LINE__, 0, __VA_ARGS__)
/* Like log_err, with ": strerror(errno)" appended; read errno before anything else runs. */
#define log_errno(...) log_write(LOG_ERR, __FILE__, __LINE__, errno, __VA_ARGS__)

#endif
