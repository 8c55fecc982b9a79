/* response.c - writes status lines and headers as text into a caller's buffer.
 * Pure formatting: no sockets, no files. The Date string is formatted at most once a second. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <http_parser.h>
#include "response.h"

const char *resp_reason(int status)
{
    /* http-parser carries the IANA table; reuse it rather than keep a second one. */
    return http_status_str((enum http_status)status);
}

/* IMF-fixdate (RFC 9110 §5.6.7), e.g. "Sun, 06 Nov 1994 08:49:37 GMT". */
static void format_http_date(char out[32], time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* Date changes once a second; formatting it per response would be wasted work. */
static const char *date_now(void)
{
    static _Thread_local time_t cached_at = -1;
    static _Thread_local char cached[32];
    time_t now = time(NULL);
    if (now != cached_at) {
        format_http_date(cached, now);
        cached_at = now;
    }
    return cached;
}

/* Appends to buf at *len; returns false once cap would be exceeded (buf then holds garbage). */
static bool append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    if (*len >= cap)
        return false;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *len)
        return false;
    *len += (size_t)n;
    return true;
}

size_t resp_head(char *buf, size_t cap, const struct resp *rs)
{
    size_t len = 0;
    bool ok = append(buf, cap, &len, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: " RESP_SERVER "\r\n",
                     rs->status, resp_reason(rs->status), date_now());
    if (ok && rs->type)
        ok = append(buf, cap, &len, "Content-Type: %s\r\n", rs->type);
    if (ok && rs->length >= 0)
        ok = append(buf, cap, &len, "Content-Length: %" PRIdMAX "\r\n", (intmax_t)rs->length);
    if (ok && rs->mtime) {
        char lm[32];
        format_http_date(lm, rs->mtime);
        ok = append(buf, cap, &len, "Last-Modified: %s\r\n", lm);
    }
    if (ok)
        ok = append(buf, cap, &len, "Connection: %s\r\n%s\r\n",
                    rs->keep_alive ? "keep-alive" : "close", rs->extra ? rs->extra : "");
    return ok ? len : 0;
}

size_t resp_error(char *buf, size_t cap, int status, bool keep_alive, bool head_only,
                  const char *extra)
{
    char body[256];
    int blen = snprintf(body, sizeof body,
                        "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>"
                        "<body><h1>%d %s</h1><hr><p>" RESP_SERVER "</p></body></html>\n",
                        status, resp_reason(status), status, resp_reason(status));
    struct resp rs = {
        .status = status,
        .length = blen,
        .type = "text/html; charset=utf-8",
        .keep_alive = keep_alive,
        .extra = status == 405 ? RESP_ALLOW : extra,
    };
    size_t len = resp_head(buf, cap, &rs);
    if (len == 0 || head_only)
        return len;
    if (len + (size_t)blen > cap)
        return 0;
    memcpy(buf + len, body, (size_t)blen);
    return len + (size_t)blen;
}
