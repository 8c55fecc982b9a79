/* accesslog.c - formats one Combined Log Format line per response into a loop's buffer and
 * writes the buffer to the shared file in large write()s; reopens the file for rotation.
 * It never blocks on anything but the log file itself and never fails a request: a line that
 * cannot be written is dropped after one diagnostic. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "accesslog.h"
#include "log.h"

/* A bounded writer over the free part of the buffer. Pieces go in whole or not at all, so a
 * truncated line never ends in half an escape sequence. */
struct out {
    char *p;
    size_t cap;   /* bytes available, one of them kept back for the final newline */
    size_t len;
    bool full;    /* a piece did not fit: everything after it is dropped */
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->full || o->cap == 0 || n > o->cap - 1 - o->len) {
        o->full = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void put_str(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* Writes n bytes of s; '"', '\' and bytes outside printable ASCII become \xHH (as nginx
 * does), so a client can neither forge fields or lines nor send terminal escapes. */
static void put_escaped(struct out *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b < 0x20 || b >= 0x7f || b == '"' || b == '\\') {
            char esc[4] = { '\\', 'x', hex[b >> 4], hex[b & 0xf] };
            put(o, esc, sizeof esc);
        } else {
            put(o, s + i, 1);
        }
    }
}

/* A string field: the escaped bytes between quotes, or "-" when absent. */
static void put_quoted(struct out *o, const char *s, size_t n)
{
    put(o, "\"", 1);
    if (s)
        put_escaped(o, s, n);
    else
        put(o, "-", 1);
    put(o, "\"", 1);
}

/* The peer's address as text; an IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d
 * and is shown as plain a.b.c.d, so one client has one spelling in the log. */
static void put_host(struct out *o, const struct sockaddr_storage *peer)
{
    char text[INET6_ADDRSTRLEN];
    const char *shown = NULL;
    if (peer && peer->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)peer;
        shown = inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
    } else if (peer && peer->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)peer;
        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
            shown = inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], text, sizeof text);
        else
            shown = inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text);
    }
    put_str(o, shown ? shown : "-");
}

/* [26/Nov/2026:15:37:32 +0000], always UTC. The month names are our own table because
 * strftime's %b follows the locale, and the format is defined with English names. */
static void put_time(struct out *o, time_t when)
{
    static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct tm tm;
    char text[40];
    if (!gmtime_r(&when, &tm)) {
        put_str(o, "[-]");
        return;
    }
    int n = snprintf(text, sizeof text, "[%02d/%s/%04d:%02d:%02d:%02d +0000]", tm.tm_mday,
                     months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    put(o, text, n > 0 && (size_t)n < sizeof text ? (size_t)n : 0);
}

/* "GET /path HTTP/1.1" in quotes, or "-" when there is no target to show. */
static void put_request(struct out *o, const struct access_entry *e)
{
    if (!e->target) {
        put_str(o, "\"-\"");
        return;
    }
    const char *method = e->method ? e->method : "-";
    char version[32];
    int n = snprintf(version, sizeof version, " HTTP/%d.%d", e->http_major, e->http_minor);
    put(o, "\"", 1);
    put_escaped(o, method, strlen(method));
    put(o, " ", 1);
    put_escaped(o, e->target, e->target_len);
    put(o, version, n > 0 && (size_t)n < sizeof version ? (size_t)n : 0);
    put(o, "\"", 1);
}

/* Formats the whole line into o, newline included; o->full says it was cut short. */
static void format_line(struct out *o, const struct access_entry *e)
{
    char num[64];
    put_host(o, e->peer);
    put_str(o, " - - ");
    put_time(o, e->when);
    put_str(o, " ");
    put_request(o, e);
    /* clamped so the field always fits; NaN fails the first test and shows as 0 */
    double seconds = e->seconds > 0 ? (e->seconds < 1e9 ? e->seconds : 1e9) : 0;
    int n = snprintf(num, sizeof num, " %d %lld ", e->status, e->bytes);
    put(o, num, (size_t)n);
    put_quoted(o, e->referer, e->referer_len);
    put(o, " ", 1);
    put_quoted(o, e->user_agent, e->user_agent_len);
    n = snprintf(num, sizeof num, " %.3f", seconds);
    put(o, num, n > 0 && (size_t)n < sizeof num ? (size_t)n : 0);
    if (o->cap > 0)
        o->p[o->len++] = '\n';  /* the byte put() always keeps back */
    else
        o->full = true;
}

int accesslog_file_open(struct accesslog_file *f, const char *path)
{
    f->path = path;
    if (!path || strcmp(path, "-") == 0) {
        /* a duplicate, so closing and reopening treat stdout like any file */
        f->fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0);
        if (f->fd < 0) {
            log_errno("access log: cannot duplicate stdout");
            return -1;
        }
        return 0;
    }
    f->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        log_errno("access log: cannot open %s", path);
        return -1;
    }
    return 0;
}

int accesslog_file_reopen(struct accesslog_file *f)
{
    /* stdout cannot be reopened by name; a log that is off stays off */
    if (!f->path || strcmp(f->path, "-") == 0 || f->fd < 0)
        return 0;
    int fresh = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fresh < 0) {
        log_errno("access log: cannot reopen %s", f->path);
        return -1;
    }
    /* dup3 replaces the file behind f->fd in one step: a write from another loop lands
     * wholly in the old file or wholly in the new one, and f->fd itself never changes.
     * dup3 rather than dup2, which would clear close-on-exec. */
    int rc = 0;
    if (dup3(fresh, f->fd, O_CLOEXEC) < 0) {
        log_errno("access log: cannot switch to the reopened %s", f->path);
        rc = -1;
    }
    close(fresh);
    return rc;
}

void accesslog_file_close(struct accesslog_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

void accesslog_init(struct accesslog *al, struct accesslog_file *f)
{
    al->file = f;
    al->len = 0;
}

void accesslog_write(struct accesslog *al, const struct access_entry *e)
{
    if (!al->file || al->file->fd < 0)
        return;
    struct out o = { al->buf + al->len, sizeof al->buf - al->len, 0, false };
    format_line(&o, e);
    if (o.full && al->len > 0) {
        /* it did not fit behind what is buffered: write that out and start again */
        accesslog_flush(al);
        o = (struct out){ al->buf, sizeof al->buf, 0, false };
        format_line(&o, e);
    }
    /* if still full, the line alone exceeds the buffer and stays truncated */
    al->len += o.len;
}

/* Set after a failed write and cleared by the next good one, so a full disk produces one
 * diagnostic rather than one per flush. Shared by all loops, hence atomic. */
static atomic_bool write_failing;

void accesslog_flush(struct accesslog *al)
{
    if (!al->file || al->file->fd < 0 || al->len == 0)
        return;
    size_t off = 0;
    while (off < al->len) {
        ssize_t w = write(al->file->fd, al->buf + off, al->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;  /* no progress and no error: give up rather than spin */
            if (!atomic_exchange(&write_failing, true))
                log_errno("access log: write failed, dropping %zu bytes", al->len - off);
            break;
        }
        off += (size_t)w;  /* a short write: keep going from where it stopped */
    }
    if (off == al->len)
        atomic_store(&write_failing, false);
    al->len = 0;
}
