/* request.c - the adapter between raw bytes and http-parser.
 * It counts head bytes against our limits, keeps the URL and the few header values the server
 * acts on (http-parser hands them over in pieces, so they are appended), discards bodies while
 * keeping framing, and stops at the end of each message so pipelined bytes stay unread.
 * It never touches a socket. */
#include <limits.h>
#include <string.h>
#include <strings.h>
#include "request.h"

static const char *const hdr_names[REQ_HDR_COUNT] = {
    [REQ_HDR_HOST] = "Host",
};

static struct req *req_of(http_parser *p)
{
    return p->data;
}

/* Fails the message with an HTTP status; http-parser then reports a callback error. */
static int fail(struct req *r, int status, const char *why)
{
    r->status = status;
    r->error = why;
    return -1;
}

/* Appends a fragment to the text arena; the head limit keeps it in bounds. */
static int text_append(struct req *r, struct req_text *t, const char *at, size_t n)
{
    if (r->text_len + n + 1 > sizeof r->text)
        return fail(r, 431, "head too large");
    memcpy(r->text + r->text_len, at, n);
    r->text_len += n;
    t->len = (uint16_t)(t->len + n);
    r->text[r->text_len] = '\0';
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct req *r = req_of(p);
    r->open = &r->url;
    return text_append(r, &r->url, at, n);
}

/* Ends the text being appended (URL or kept value), so the next one starts after its NUL. */
static void close_text(struct req *r)
{
    if (r->open) {
        r->text_len++;  /* keep the NUL written by text_append */
        r->open = NULL;
    }
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct req *r = req_of(p);
    close_text(r);  /* the URL, or the previous kept value */
    if (r->in_value) {
        r->in_value = false;
        r->name_len = 0;
    }
    if (r->name_len + n <= sizeof r->name)
        memcpy(r->name + r->name_len, at, n);
    r->name_len += n;  /* past sizeof name the name is simply not one of ours */
    return 0;
}

/* Which kept header a complete field name is, or -1. */
static int lookup_field(const struct req *r)
{
    if (r->name_len > sizeof r->name)
        return -1;
    for (int h = 0; h < REQ_HDR_COUNT; h++)
        if (strlen(hdr_names[h]) == r->name_len && strncasecmp(r->name, hdr_names[h], r->name_len) == 0)
            return h;
    return -1;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct req *r = req_of(p);
    if (!r->in_value) {
        r->in_value = true;
        int h = lookup_field(r);
        if (h >= 0 && r->hdr[h].count++ == 0) {  /* the first occurrence is the one kept */
            r->open = &r->hdr[h];
            r->open->off = (uint16_t)r->text_len;
        }
    }
    return r->open ? text_append(r, r->open, at, n) : 0;
}

static int on_headers_complete(http_parser *p)
{
    struct req *r = req_of(p);
    close_text(r);
    r->head_done = true;
    r->http_major = p->http_major;
    r->http_minor = p->http_minor;
    r->method = p->method == HTTP_GET ? REQ_GET : p->method == HTTP_HEAD ? REQ_HEAD : REQ_OTHER;
    r->keep_alive = http_should_keep_alive(p);
    if (p->http_major != 1)
        return fail(r, 505, "unsupported HTTP version");
    /* content_length is ULLONG_MAX when absent; chunked bodies are counted in on_body. */
    if (!(p->flags & F_CHUNKED) && p->content_length != ULLONG_MAX &&
        p->content_length > REQ_MAX_BODY_BYTES)
        return fail(r, 413, "body too large");
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct req *r = req_of(p);
    (void)at;  /* bodies are read only to keep the framing; GET and HEAD need none */
    r->body_bytes += n;
    return r->body_bytes > REQ_MAX_BODY_BYTES ? fail(r, 413, "body too large") : 0;
}

static int on_message_complete(http_parser *p)
{
    struct req *r = req_of(p);
    r->done = true;
    /* Stop here: bytes after this message are the next request's, parsed after our reply. */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void req_init(struct req *r)
{
    http_parser_init(&r->parser, HTTP_REQUEST);
    r->parser.data = r;
    r->method = REQ_OTHER;
    r->status = 0;
    r->error = NULL;
    r->http_major = r->http_minor = 0;
    r->keep_alive = r->head_done = r->done = r->in_value = false;
    r->line_seen = r->line_done = false;
    r->ver_len = 0;
    r->open = NULL;
    r->head_bytes = 0;
    r->body_bytes = 0;
    memset(&r->url, 0, sizeof r->url);
    memset(r->hdr, 0, sizeof r->hdr);
    r->name_len = 0;
    r->text_len = 0;
    r->text[0] = '\0';
}

void req_reset(struct req *r)
{
    /* A fresh parser: after a non-keep-alive message http-parser refuses further input. */
    req_init(r);
}

/* RFC 9110 tchar: what a method token may be made of. */
static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Maps an http-parser failure at byte `bad` (NULL at end of input) to an HTTP status. */
static enum req_rc parse_error(struct req *r, enum http_errno e, const char *bad)
{
    if (r->status)  /* one of our callbacks refused */
        return REQ_ERROR;
    r->error = http_errno_description(e);
    if (e == HPE_INVALID_METHOD && bad && is_tchar((unsigned char)*bad))
        r->status = 501;  /* a well-formed token we do not know */
    else if (e == HPE_HEADER_OVERFLOW)
        r->status = 431;
    else
        r->status = 400;
    return REQ_ERROR;
}

/* Remembers the request line's last token (the version) as its bytes go by. */
static void scan_line(struct req *r, const char *p, size_t n)
{
    for (; n; p++, n--) {
        if (*p == ' ')
            r->ver_len = 0;
        else if (*p != '\r' && r->ver_len < sizeof r->ver)
            r->ver[r->ver_len++] = *p;
        if (*p != '\r' && *p != '\n')
            r->line_seen = true;
    }
}

/* http-parser as Debian builds it checks only the "H" of "HTTP/": check the rest. */
static bool version_ok(const struct req *r)
{
    const char *v = r->ver;
    return r->ver_len == 8 && memcmp(v, "HTTP/", 5) == 0 && v[5] >= '0' && v[5] <= '9' &&
           v[6] == '.' && v[7] >= '0' && v[7] <= '9';
}

/* Before the request line's LF reaches http-parser, checks the version token; so that every
 * error before it is still the parser's, input is cut at that LF. Returns false on a bad one. */
static bool check_line(struct req *r, const char *p, size_t *chunk)
{
    const char *lf = memchr(p, '\n', *chunk);
    size_t before = lf ? (size_t)(lf - p) : *chunk;
    scan_line(r, p, before);
    if (!lf)
        return true;
    if (!r->line_seen)
        *chunk = before + 1;  /* an empty line before the request: the parser skips it */
    else if (before > 0)
        *chunk = before;      /* the LF comes next time, after the parser had its say */
    else {
        r->line_done = true;
        return version_ok(r);
    }
    return true;
}

enum req_rc req_feed(struct req *r, const char *buf, size_t n, size_t *used)
{
    size_t total = 0;
    *used = 0;
    while (total < n) {
        size_t chunk = n - total;
        if (!r->line_done && !check_line(r, buf + total, &chunk)) {
            r->status = 400;
            r->error = "malformed HTTP version";
            return REQ_ERROR;
        }
        bool in_head = !r->head_done;
        /* Feed the head no further than the limit, so it is enforced wherever the input splits. */
        if (in_head && chunk > REQ_MAX_HEAD_BYTES - r->head_bytes)
            chunk = REQ_MAX_HEAD_BYTES - r->head_bytes;
        size_t got = http_parser_execute(&r->parser, &settings, buf + total, chunk);
        enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
        if (in_head)
            r->head_bytes += got;
        total += got;
        *used = total;
        if (e == HPE_PAUSED)
            return REQ_DONE;
        if (e != HPE_OK)
            return parse_error(r, e, total < n ? buf + total : NULL);
        if (!r->head_done && r->head_bytes >= REQ_MAX_HEAD_BYTES) {
            bool in_url = r->name_len == 0;  /* no header field has started yet */
            r->status = in_url ? 414 : 431;
            r->error = in_url ? "URL too long" : "head too large";
            return REQ_ERROR;
        }
        if (got < chunk)  /* stopped without pausing: only an upgrade does; treat as done */
            return r->done ? REQ_DONE : parse_error(r, HPE_UNKNOWN, NULL);
    }
    return REQ_MORE;
}

const char *req_url(const struct req *r, size_t *len)
{
    *len = r->url.len;
    return r->text + r->url.off;
}

const char *req_header(const struct req *r, enum req_hdr h, size_t *len)
{
    const struct req_text *t = &r->hdr[h];
    if (!t->count)
        return NULL;
    const char *v = r->text + t->off;
    size_t n = t->len;
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    *len = n;
    return v;
}
