/* request.c - the adapter between raw bytes and http-parser.
 * It counts head bytes against our limits, keeps the URL and the few header values the server
 * acts on (http-parser hands them over in pieces, so they are appended), discards bodies while
 * keeping framing, and stops at the end of each message so pipelined bytes stay unread.
 * Debian builds http-parser lenient, so the adapter adds the strict checks of RFC 9112 that
 * keep framing unambiguous (no smuggling). It never touches a socket. */
#include <ctype.h>
#include <limits.h>
#include <string.h>
#include <strings.h>
#include "request.h"

static const char *const hdr_names[REQ_HDR_COUNT] = {
    [REQ_HDR_HOST] = "Host",
    [REQ_HDR_RANGE] = "Range",
    [REQ_HDR_IF_RANGE] = "If-Range",
    [REQ_HDR_IF_MATCH] = "If-Match",
    [REQ_HDR_IF_NONE_MATCH] = "If-None-Match",
    [REQ_HDR_IF_MODIFIED_SINCE] = "If-Modified-Since",
    [REQ_HDR_IF_UNMODIFIED_SINCE] = "If-Unmodified-Since",
    [REQ_HDR_ACCEPT_ENCODING] = "Accept-Encoding",
    [REQ_HDR_TRANSFER_ENCODING] = "Transfer-Encoding",
    [REQ_HDR_REFERER] = "Referer",
    [REQ_HDR_USER_AGENT] = "User-Agent",
};

/* RFC 9110 tchar: what a method or a header name may be made of. */
static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

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
    for (size_t i = 0; i < n; i++)  /* the lenient parser lets a TAB or DEL through */
        if ((unsigned char)at[i] <= ' ' || at[i] == 0x7f)
            return fail(r, 400, "control character in the target");
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
    if (r->head_done)
        return 0;  /* a chunked trailer: never taken for a header */
    close_text(r);  /* the URL, or the previous kept value */
    if (r->in_value) {
        r->in_value = false;
        r->name_len = 0;
    }
    for (size_t i = 0; i < n; i++)  /* e.g. "Host : x", which the lenient parser accepts */
        if (!is_tchar((unsigned char)at[i]))
            return fail(r, 400, "invalid header name");
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
    if (r->head_done)
        return 0;  /* a chunked trailer: never taken for a header */
    for (size_t i = 0; i < n; i++) {  /* the parser does not check a value's first byte */
        unsigned char ch = (unsigned char)at[i];
        if ((ch < ' ' && ch != '\t') || ch == 0x7f)
            return fail(r, 400, "control character in a header value");
    }
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

/* RFC 9112 §3.2: HTTP/1.1 needs exactly one Host; any Host must be a valid authority. */
static int check_host(struct req *r)
{
    const struct req_text *h = &r->hdr[REQ_HDR_HOST];
    if (h->count > 1 || (h->count == 0 && r->http_minor >= 1)) {
        r->error = h->count ? "more than one Host" : "HTTP/1.1 without Host";
        return 400;
    }
    size_t len = 0;
    const char *v = req_header(r, REQ_HDR_HOST, &len);
    for (size_t i = 0; v && i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!isalnum(c) && !strchr("-._~!$&'()*+,;=%:[]", c)) {
            r->error = "invalid Host";
            return 400;
        }
    }
    return 0;
}

/* Compares the coding [p, p+n) with a name, ignoring case. */
static bool coding_is(const char *p, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* RFC 9112 §6: chunked must be the last coding, and only once; HTTP/1.0 has no
 * Transfer-Encoding; an unknown coding is 501. (http-parser already refuses it together
 * with Content-Length.) Several header lines are refused rather than joined. */
static int check_transfer_encoding(struct req *r)
{
    const struct req_text *t = &r->hdr[REQ_HDR_TRANSFER_ENCODING];
    if (!t->count)
        return 0;
    r->error = "bad Transfer-Encoding";
    if (t->count > 1 || r->http_minor == 0)
        return 400;
    size_t len;
    const char *v = req_header(r, REQ_HDR_TRANSFER_ENCODING, &len), *end = v + len;
    bool chunked_last = false;
    while (v < end) {
        while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
            v++;
        const char *c = v;
        while (v < end && *v != ',' && *v != ';' && *v != ' ' && *v != '\t')
            v++;
        size_t n = (size_t)(v - c);
        while (v < end && *v != ',')  /* parameters are allowed and ignored */
            v++;
        if (!n)
            continue;
        if (chunked_last)
            return 400;  /* something after chunked */
        chunked_last = coding_is(c, n, "chunked");
        if (!chunked_last && !coding_is(c, n, "gzip") && !coding_is(c, n, "x-gzip") &&
            !coding_is(c, n, "deflate") && !coding_is(c, n, "compress") &&
            !coding_is(c, n, "x-compress")) {
            r->error = "unknown transfer coding";
            return 501;
        }
    }
    if (!chunked_last)
        return 400;
    r->error = NULL;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct req *r = req_of(p);
    close_text(r);
    r->head_done = true;
    /* Kept, not read from the parser later: trailer fields change its flags. */
    r->chunked = p->flags & F_CHUNKED;
    r->http_major = p->http_major;
    r->http_minor = p->http_minor;
    r->method = p->method == HTTP_GET ? REQ_GET : p->method == HTTP_HEAD ? REQ_HEAD
              : p->method == HTTP_OPTIONS ? REQ_OPTIONS : REQ_OTHER;
    r->keep_alive = http_should_keep_alive(p);
    if (p->http_major != 1)
        return fail(r, 505, "unsupported HTTP version");
    int status = check_host(r);
    if (!status)
        status = check_transfer_encoding(r);
    if (status)
        return fail(r, status, r->error);
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
    r->line_seen = r->line_done = r->scan_done = false;
    r->line_len = 0;
    r->ver_len = 0;
    r->after_cr = false;
    r->chunked = false;
    r->chunk = CHUNK_SIZE;
    r->chunk_left = 0;
    r->chunk_digits = 0;
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

/* http-parser as Debian builds it checks only the "H" of "HTTP/": check the rest. */
static bool version_ok(const struct req *r)
{
    const char *v = r->ver;
    return r->ver_len == 8 && memcmp(v, "HTTP/", 5) == 0 && v[5] >= '0' && v[5] <= '9' &&
           v[6] == '.' && v[7] >= '0' && v[7] <= '9';
}

/* One byte of the request line: remembers its last token (the version). */
static void scan_line_byte(struct req *r, char c)
{
    if (c == ' ')
        r->ver_len = 0;
    else if (c != '\r' && r->ver_len < sizeof r->ver)
        r->ver[r->ver_len++] = c;
    if (c != '\r')
        r->line_seen = true;
}

/* Scans head bytes before http-parser sees them, for what its lenient build lets through: a
 * malformed version and obs-fold (a header line starting with a blank). Returns how many of
 * the n bytes may be fed; when it returns 0, *why says what is wrong with the next byte. The
 * bytes before an offending one are fed first, so every error the parser finds earlier is
 * still reported first, however the input is split. */
static size_t scan_head(struct req *r, const char *p, size_t n, const char **why)
{
    for (size_t i = 0; i < n && !r->scan_done; i++) {
        char c = p[i];
        if (r->after_cr && c != '\n') {
            /* A CR that does not end a line: the lenient parser may take it as the end of the
             * head, where another reader would not. */
            if (i > 0)
                return i;
            *why = "bare CR";
            return 0;
        }
        r->after_cr = c == '\r';
        if (!r->line_done) {
            if (c != '\n') {
                scan_line_byte(r, c);
                continue;
            }
            if (!r->line_seen)
                continue;  /* an empty line before the request: the parser skips it */
            if (i > 0)
                return i;  /* the request line goes to the parser before its LF is judged */
            r->line_done = true;
            r->line_len = 0;
            if (!version_ok(r)) {
                *why = "malformed HTTP version";
                return 0;
            }
        } else if (c == '\n') {
            bool blank = r->line_len == 0;
            r->line_len = 0;
            if (blank) {  /* the blank line: the parser takes the head alone */
                r->scan_done = true;
                return i + 1;
            }
        } else if (r->line_len == 0 && (c == ' ' || c == '\t')) {
            if (i > 0)
                return i;
            *why = "obsolete line folding";
            return 0;
        } else if (c != '\r') {
            r->line_len++;
        }
    }
    return n;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Control characters other than HTAB: never part of a field line or chunk extension. */
static bool is_ctl(char c)
{
    unsigned char u = (unsigned char)c;
    return (u < ' ' && u != '\t') || u == 0x7f;
}

/* One byte of chunked framing outside chunk data (RFC 9112 §7.1); false if malformed. */
static bool chunk_byte(struct req *r, char c)
{
    switch (r->chunk) {
    case CHUNK_SIZE: {
        int v = hex_digit(c);
        if (v >= 0 && r->chunk_left <= (UINT64_MAX >> 4)) {
            r->chunk_left = r->chunk_left << 4 | (uint64_t)v;
            r->chunk_digits++;
            return true;
        }
        if (!r->chunk_digits || v >= 0)
            return false;
        r->chunk = c == '\r' ? CHUNK_SIZE_LF : CHUNK_EXT;
        return c == '\r' || c == ';' || c == ' ' || c == '\t';
    }
    case CHUNK_EXT:
        if (c == '\r')
            r->chunk = CHUNK_SIZE_LF;
        return c == '\r' || !is_ctl(c);
    case CHUNK_SIZE_LF:
        r->chunk = r->chunk_left ? CHUNK_DATA : CHUNK_TRAILER;
        return c == '\n';
    case CHUNK_DATA_CR:
        r->chunk = CHUNK_DATA_LF;
        return c == '\r';
    case CHUNK_DATA_LF:
        r->chunk = CHUNK_SIZE;
        r->chunk_digits = 0;
        return c == '\n';
    case CHUNK_TRAILER:  /* a trailer field's name, or the CR of the final CRLF */
        r->chunk = c == '\r' ? CHUNK_END_LF : CHUNK_TRAILER_NAME;
        return c == '\r' || is_tchar((unsigned char)c);
    case CHUNK_TRAILER_NAME:
        if (c == ':')
            r->chunk = CHUNK_TRAILER_LINE;
        return c == ':' || is_tchar((unsigned char)c);
    case CHUNK_TRAILER_LINE:
        if (c == '\r')
            r->chunk = CHUNK_TRAILER_LF;
        return c == '\r' || !is_ctl(c);
    case CHUNK_TRAILER_LF:
        r->chunk = CHUNK_TRAILER;
        return c == '\n';
    case CHUNK_END_LF:
        r->chunk = CHUNK_DONE;
        return c == '\n';
    default:
        return true;
    }
}

/* Checks chunked framing ahead of the parser, which as Debian builds it skips over a missing
 * CRLF after chunk data: two readers would then disagree on where the body ends. Same
 * contract as scan_head. */
static size_t scan_chunked(struct req *r, const char *p, size_t n, const char **why)
{
    size_t i = 0;
    while (i < n && r->chunk != CHUNK_DONE) {
        if (r->chunk == CHUNK_DATA) {
            uint64_t take = n - i < r->chunk_left ? n - i : r->chunk_left;
            i += (size_t)take;
            r->chunk_left -= take;
            if (!r->chunk_left)
                r->chunk = CHUNK_DATA_CR;
            continue;
        }
        enum chunk_state before = r->chunk;
        if (!chunk_byte(r, p[i])) {
            r->chunk = before;
            if (i > 0)
                return i;
            *why = "malformed chunked body";
            return 0;
        }
        i++;
    }
    return n;
}

enum req_rc req_feed(struct req *r, const char *buf, size_t n, size_t *used)
{
    size_t total = 0;
    *used = 0;
    while (total < n) {
        size_t chunk = n - total;
        bool in_head = !r->head_done;
        /* Feed the head no further than the limit, so it is enforced wherever the input splits. */
        if (in_head && chunk > REQ_MAX_HEAD_BYTES - r->head_bytes)
            chunk = REQ_MAX_HEAD_BYTES - r->head_bytes;
        const char *why = NULL;
        if (!r->scan_done)
            chunk = scan_head(r, buf + total, chunk, &why);
        else if (r->chunked)
            chunk = scan_chunked(r, buf + total, chunk, &why);
        if (why) {
            r->status = 400;
            r->error = why;
            return REQ_ERROR;
        }
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
