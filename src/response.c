/* response.c - writes status lines and headers as text into a caller's buffer.
 * Pure formatting: no sockets, no files. The Date string is formatted at most once a second. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <http_parser.h>
#include "response.h"

const char *resp_reason(int status)
{
    /* http-parser carries the IANA table; reuse it rather than keep a second one. */
    return http_status_str((enum http_status)status);
}

/* A cursor over the caller's buffer; once something does not fit, ok stays false. Plain
 * copies rather than snprintf: formatting was a tenth of the CPU of a small response. */
struct out {
    char *buf;
    size_t cap, len;
    bool ok;
};

static void put_n(struct out *o, const char *s, size_t n)
{
    if (!o->ok || n > o->cap - o->len) {
        o->ok = false;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void put(struct out *o, const char *s)
{
    put_n(o, s, strlen(s));
}

static void put_dec(struct out *o, uintmax_t v)
{
    char tmp[24];
    char *p = tmp + sizeof tmp;
    do
        *--p = (char)('0' + v % 10);
    while (v /= 10);
    put_n(o, p, (size_t)(tmp + sizeof tmp - p));
}

/* IMF-fixdate (RFC 9110 §5.6.7), e.g. "Sun, 06 Nov 1994 08:49:37 GMT"; 29 characters. */
static void format_http_date(char out[32], time_t t)
{
    static const char days[] = "SunMonTueWedThuFriSat";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    struct tm tm;
    gmtime_r(&t, &tm);
    int year = tm.tm_year + 1900;
    if (year < 0 || year > 9999) {  /* outside what the format can say: clamp to the epoch */
        t = 0;
        gmtime_r(&t, &tm);
        year = 1970;
    }
    char *p = out;
    memcpy(p, days + 3 * tm.tm_wday, 3);
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    *p++ = (char)('0' + tm.tm_mday / 10);
    *p++ = (char)('0' + tm.tm_mday % 10);
    *p++ = ' ';
    memcpy(p, months + 3 * tm.tm_mon, 3);
    p += 3;
    *p++ = ' ';
    for (int d = 1000; d; d /= 10)
        *p++ = (char)('0' + year / d % 10);
    int hms[3] = { tm.tm_hour, tm.tm_min, tm.tm_sec };
    for (int i = 0; i < 3; i++) {
        *p++ = i ? ':' : ' ';
        *p++ = (char)('0' + hms[i] / 10);
        *p++ = (char)('0' + hms[i] % 10);
    }
    memcpy(p, " GMT", 5);
}

/* One formatted date, redone only when the time changes. */
struct date_slot {
    time_t at;
    char text[32];
};

static const char *date_cached(struct date_slot *d, time_t t)
{
    if (t != d->at) {
        format_http_date(d->text, t);
        d->at = t;
    }
    return d->text;
}

size_t resp_head(char *buf, size_t cap, const struct resp *rs)
{
    /* Date changes once a second, and a hot file asks for the same Last-Modified again and
     * again: formatting either per response would be wasted work. */
    static _Thread_local struct date_slot now = { -1, "" }, modified = { -1, "" };
    struct out o = { buf, cap, 0, true };
    put(&o, "HTTP/1.1 ");
    put_dec(&o, (uintmax_t)rs->status);
    put(&o, " ");
    put(&o, resp_reason(rs->status));
    put(&o, "\r\nDate: ");
    put(&o, date_cached(&now, time(NULL)));
    put(&o, "\r\nServer: " RESP_SERVER "\r\n");
    if (rs->type) {
        put(&o, "Content-Type: ");
        put(&o, rs->type);
        put(&o, "\r\n");
    }
    if (rs->length >= 0) {
        put(&o, "Content-Length: ");
        put_dec(&o, (uintmax_t)rs->length);
        put(&o, "\r\n");
    }
    if (rs->mtime) {
        put(&o, "Last-Modified: ");
        put(&o, date_cached(&modified, rs->mtime));
        put(&o, "\r\n");
    }
    put(&o, rs->keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
    if (rs->extra)
        put(&o, rs->extra);
    put(&o, "\r\n");
    return o.ok ? o.len : 0;
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
