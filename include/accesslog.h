/* accesslog.h - one line per response in the Combined Log Format, plus the request time.
 * Lines collect in a per-loop buffer and reach the file in large writes: when the buffer is
 * nearly full, on a timer, and at exit. Reopening (log rotation) swaps the file behind the
 * same descriptor number with dup2(), so every loop keeps writing without coordination. */
#ifndef AWS_ACCESSLOG_H
#define AWS_ACCESSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#define ACCESSLOG_BUF_BYTES (64 * 1024)

/* The shared file: opened once, reopened on SIGUSR1. */
struct accesslog_file {
    int fd;              /* -1 when access logging is off */
    const char *path;    /* NULL or "-" for stdout */
};

/* One loop's buffer in front of the shared file. */
struct accesslog {
    struct accesslog_file *file;
    size_t len;
    char buf[ACCESSLOG_BUF_BYTES];
};

struct access_entry {
    const struct sockaddr_storage *peer;
    time_t when;                 /* when the request arrived */
    const char *method;          /* "GET", or "-" when the request could not be parsed */
    const char *target;          /* the request target as sent, or NULL */
    size_t target_len;
    int http_major, http_minor;
    int status;
    long long bytes;             /* body bytes actually sent */
    const char *referer, *user_agent;   /* NULL when absent */
    size_t referer_len, user_agent_len;
    double seconds;              /* from the request's first byte to its last byte sent */
};

/* Opens path for appending ("-" or NULL: stdout). Returns 0, or -1 after logging. */
int accesslog_file_open(struct accesslog_file *f, const char *path);
/* Reopens the same path and puts it behind the same descriptor. Returns 0 or -1 (logged). */
int accesslog_file_reopen(struct accesslog_file *f);
void accesslog_file_close(struct accesslog_file *f);

void accesslog_init(struct accesslog *al, struct accesslog_file *f);
/* Appends one formatted line; writes the buffer out first if the line would not fit.
 * Quotes, backslashes and bytes outside printable ASCII in strings are written as \xHH. */
void accesslog_write(struct accesslog *al, const struct access_entry *e);
/* Writes out what is buffered. */
void accesslog_flush(struct accesslog *al);

#endif
