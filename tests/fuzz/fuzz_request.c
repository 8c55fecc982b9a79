/* fuzz_request.c - libFuzzer target for the request adapter (request.c).
 * The same bytes are fed whole, in pieces chosen by the input, and one byte at a time; each
 * way must give the same transcript (requests, where they end, what was kept, error statuses),
 * every req_feed() call must keep its contract, and a request the adapter accepts must not be
 * one the README says it refuses (bare CR, obs-fold, ambiguous framing...). Any violation
 * aborts, which libFuzzer reports as a crash.
 *
 * Input: byte 0: bits 0-2 = k cut points, bits 3-5 = s; the next k bytes are the gaps
 * between cuts (gap = (byte + 1) << s, so that cuts reach the 8 KiB head limit); the rest
 * is what the client sends. Inputs up to BYTEWISE_MAX bytes are also fed a byte at a time. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "request.h"

#define MAX_CUTS 7
#define BYTEWISE_MAX 2048  /* beyond, one call per byte costs more than it finds */

/* Prints why and aborts, so that libFuzzer saves the input. */
static void violation(const char *why)
{
    fprintf(stderr, "fuzz_request: invariant violated: %s\n", why);
    abort();
}

#define CHECK(cond) do { if (!(cond)) violation(#cond); } while (0)

static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* [p, p+n) without leading and trailing blanks. */
static void trim(const char **p, size_t *n)
{
    while (*n && is_ows((unsigned char)**p))
        (*p)++, (*n)--;
    while (*n && is_ows((unsigned char)(*p)[*n - 1]))
        (*n)--;
}

static bool name_is(const char *p, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* Whether the last non-empty element of a Transfer-Encoding value is "chunked" (parameters
 * after ';' ignored). */
static bool te_ends_chunked(const char *v, size_t n)
{
    const char *last = NULL;
    size_t last_n = 0;
    size_t i = 0;
    while (i < n) {
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        const char *e = v + s;
        size_t en = i - s;
        const char *semi = memchr(e, ';', en);
        if (semi)
            en = (size_t)(semi - e);
        trim(&e, &en);
        if (en) {
            last = e;
            last_n = en;
        }
        if (i < n)
            i++;  /* the comma */
    }
    return last && name_is(last, last_n, "chunked");
}

/* The names request.h keeps, in enum req_hdr order. */
static const char *const kept_names[REQ_HDR_COUNT] = {
    "Host", "Range", "If-Range", "If-Match", "If-None-Match", "If-Modified-Since",
    "If-Unmodified-Since", "Accept-Encoding", "Transfer-Encoding", "Referer", "User-Agent",
};

/* One line [p, p+n) ending at an LF (a CR before it already dropped): none may hold a bare CR,
 * nor begin with a blank (obs-fold); a field name is a token; a value has no controls but HT.
 * Sets *name, *value (trimmed). */
static void check_field_line(const char *p, size_t n, const char **name, size_t *nn,
                             const char **value, size_t *vn)
{
    CHECK(memchr(p, '\r', n) == NULL);  /* bare CR */
    CHECK(!is_ows((unsigned char)p[0]));  /* obs-fold */
    const char *colon = memchr(p, ':', n);
    CHECK(colon != NULL && colon > p);
    *name = p;
    *nn = (size_t)(colon - p);
    for (size_t i = 0; i < *nn; i++)
        CHECK(is_tchar((unsigned char)p[i]));  /* "Host : x" and the like */
    *value = colon + 1;
    *vn = n - *nn - 1;
    for (size_t i = 0; i < *vn; i++)
        CHECK((unsigned char)(*value)[i] >= 0x20 ? (*value)[i] != 0x7f : (*value)[i] == '\t');
    trim(value, vn);
}

/* The next line at *p before end, without its LF and the CR before it; aborts when there
 * is none (an accepted request has all its lines). */
static size_t next_line(const char **p, const char *end, const char **line)
{
    const char *lf = memchr(*p, '\n', (size_t)(end - *p));
    CHECK(lf != NULL);
    size_t n = (size_t)(lf - *p);
    *line = *p;
    if (n && (*p)[n - 1] == '\r')
        n--;
    *p = lf + 1;
    return n;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A chunked body (RFC 9112 §7.1) at [p, end), exactly: chunk-size, extensions free of
 * controls, CRLF, data, CRLF, ..., last-chunk, trailer lines, CRLF. */
static void check_chunked_body(const char *p, const char *end)
{
    for (;;) {
        const char *line;
        size_t n = next_line(&p, end, &line);
        CHECK(p[-2] == '\r');  /* RFC 9112 wants CRLF here; a lone LF is a framing guess */
        size_t i = 0;
        uint64_t size = 0;
        while (i < n && hex_digit(line[i]) >= 0) {
            CHECK(size < ((uint64_t)1 << 56));
            size = size * 16 + (uint64_t)hex_digit(line[i++]);
        }
        CHECK(i > 0);
        for (; i < n; i++)  /* chunk-ext: no controls but HT */
            CHECK((unsigned char)line[i] >= 0x20 ? line[i] != 0x7f : line[i] == '\t');
        if (size == 0)
            break;
        CHECK((uint64_t)(end - p) >= size + 2);
        p += size;
        CHECK(p[0] == '\r' && p[1] == '\n');  /* the CRLF after the data, not any two bytes */
        p += 2;
    }
    for (;;) {  /* trailer section */
        const char *line, *name, *value;
        size_t nn, vn;
        size_t n = next_line(&p, end, &line);
        if (n == 0)
            break;
        check_field_line(line, n, &name, &nn, &value, &vn);
    }
    CHECK(p == end);
}

/* An independent reading of one accepted request, [p, end) being every byte req_feed() used
 * for it: checks what README.md promises to refuse, and that the kept headers are the first
 * occurrences in the head (never a trailer). Only what is wrong for certain is flagged. */
static void check_accepted(const struct req *r, const char *p, const char *end)
{
    const char *start = p;
    while (p < end && (*p == '\r' || *p == '\n'))
        p++;  /* empty lines before a request are skipped, as RFC 9112 §2.2 allows */
    const char *line;
    size_t n = next_line(&p, end, &line);
    CHECK(memchr(line, '\r', n) == NULL);  /* bare CR */
    /* method SP+ target SP+ HTTP/1.d, each token free of controls */
    size_t i = 0, m = 0;
    while (i < n && is_tchar((unsigned char)line[i]))
        i++, m++;
    CHECK(m > 0 && i < n && line[i] == ' ');
    while (i < n && line[i] == ' ')
        i++;
    size_t t = 0;
    while (i < n && (unsigned char)line[i] > ' ' && line[i] != 0x7f)
        i++, t++;
    CHECK(t > 0 && i < n && line[i] == ' ');
    while (i < n && line[i] == ' ')
        i++;
    CHECK(n - i == 8 && memcmp(line + i, "HTTP/1.", 7) == 0 && line[i + 7] >= '0' &&
          line[i + 7] <= '9');
    CHECK(r->http_major == 1 && r->http_minor == (unsigned)(line[i + 7] - '0'));

    int count[REQ_HDR_COUNT] = { 0 }, cl = 0;
    uint64_t cl_value = 0;
    const char *te_v = NULL;
    size_t te_n = 0;
    for (;;) {
        const char *name, *v;
        size_t nn, vn;
        n = next_line(&p, end, &line);
        if (n == 0)
            break;  /* the blank line: the body, if any, follows */
        check_field_line(line, n, &name, &nn, &v, &vn);
        for (int h = 0; h < REQ_HDR_COUNT; h++) {
            if (!name_is(name, nn, kept_names[h]) || count[h]++)
                continue;
            size_t kl = 0;
            const char *kept = req_header(r, (enum req_hdr)h, &kl);
            CHECK(kept && kl == vn && memcmp(kept, v, vn) == 0);
            if (h == REQ_HDR_TRANSFER_ENCODING)
                te_v = kept, te_n = kl;
        }
        if (name_is(name, nn, "Content-Length")) {
            cl++;
            CHECK(vn > 0);
            cl_value = 0;
            for (size_t k = 0; k < vn; k++) {
                CHECK(v[k] >= '0' && v[k] <= '9');  /* a plain decimal */
                if (cl_value <= REQ_MAX_BODY_BYTES)  /* saturates: no overflow */
                    cl_value = cl_value * 10 + (uint64_t)(v[k] - '0');
            }
            CHECK(cl_value <= REQ_MAX_BODY_BYTES);
        }
    }
    for (int h = 0; h < REQ_HDR_COUNT; h++)
        CHECK(r->hdr[h].count == count[h]);  /* trailers are not headers */
    int host = count[REQ_HDR_HOST], te = count[REQ_HDR_TRANSFER_ENCODING];
    CHECK(host <= 1 && (r->http_minor == 0 || host == 1));
    CHECK(cl <= 1);
    CHECK(!(cl && te));
    CHECK(te == 0 || (te == 1 && r->http_minor >= 1 && te_ends_chunked(te_v, te_n)));
    CHECK((size_t)(p - start) <= REQ_MAX_HEAD_BYTES);
    if (te)
        check_chunked_body(p, end);
    else  /* without framing headers there is no body; with Content-Length, that many */
        CHECK((uint64_t)(end - p) == cl_value);
}

/* Checks one DONE request's public view and appends it to the transcript. */
static void record_done(FILE *t, const struct req *r, size_t end_abs)
{
    CHECK(r->done && r->head_done && r->status == 0);
    size_t len;
    const char *url = req_url(r, &len);
    CHECK(url >= r->text && url + len < r->text + sizeof r->text);
    CHECK(url[len] == '\0');
    CHECK(strlen(url) == len);
    fprintf(t, "D %zu m%d v%u.%u k%d u%zu:", end_abs, (int)r->method, r->http_major, r->http_minor,
            (int)r->keep_alive, len);
    fwrite(url, 1, len, t);
    for (int h = 0; h < REQ_HDR_COUNT; h++) {
        size_t hl = 0;
        const char *v = req_header(r, (enum req_hdr)h, &hl);
        CHECK((v == NULL) == (r->hdr[h].count == 0));
        if (!v)
            continue;
        CHECK(v >= r->text && v + hl <= r->text + sizeof r->text);
        CHECK(memchr(v, '\0', hl) == NULL);  /* a value never runs into the next one */
        fprintf(t, " h%d#%u:%zu:", h, r->hdr[h].count, hl);
        fwrite(v, 1, hl, t);
    }
    fputc('\n', t);
}

static bool allowed_error(int s)
{
    return s == 400 || s == 405 || s == 413 || s == 414 || s == 431 || s == 501 || s == 505;
}

/* Feeds data[0..n) cut at cuts[0..ncuts) (ascending, inside (0, n)), pipelining every DONE
 * with req_reset; returns the transcript (malloc'd, NUL-terminated). */
static char *run(const char *data, size_t n, const size_t *cuts, size_t ncuts, bool oracle)
{
    static struct req r;
    char *out = NULL;
    size_t out_len = 0;
    FILE *t = open_memstream(&out, &out_len);
    if (!t)
        abort();
    req_init(&r);
    size_t req_start = 0;  /* absolute offset where the current request began */
    bool failed = false;
    for (size_t c = 0; c <= ncuts && !failed; c++) {
        size_t from = c ? cuts[c - 1] : 0, to = c < ncuts ? cuts[c] : n;
        while (from < to) {
            size_t used = (size_t)-1, avail = to - from;
            enum req_rc rc = req_feed(&r, data + from, avail, &used);
            CHECK(used <= avail);
            if (rc == REQ_MORE) {
                CHECK(used == avail);
                from = to;
            } else if (rc == REQ_DONE) {
                /* A request that used no byte would make the caller spin forever. */
                CHECK(used > 0);
                from += used;
                record_done(t, &r, from);
                if (oracle)
                    check_accepted(&r, data + req_start, data + from);
                req_start = from;
                req_reset(&r);
            } else {
                CHECK(rc == REQ_ERROR);
                CHECK(allowed_error(r.status));
                CHECK(r.error != NULL);
                /* Where the error was noticed depends on the pieces (http-parser reports
                 * some at the end of a buffer), so only the status is compared. */
                fprintf(t, "E %d\n", r.status);
                failed = true;
                break;
            }
        }
    }
    if (!failed)
        fprintf(t, "M\n");
    fclose(t);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (size == 0)
        return 0;
    size_t k = in[0] & MAX_CUTS, hdr = 1 + k;
    if (size < hdr)
        return 0;
    const char *data = (const char *)in + hdr;
    size_t n = size - hdr;

    /* The cut points the input asks for, dropping those at or past the end. */
    size_t cuts[MAX_CUTS], ncuts = 0, at = 0;
    for (size_t i = 0; i < k; i++) {
        at += ((size_t)in[1 + i] + 1) << (in[0] >> 3 & 7);
        if (at >= n)
            break;
        cuts[ncuts++] = at;
    }

    char *whole = run(data, n, NULL, 0, true);
    char *pieces = run(data, n, cuts, ncuts, false);
    if (strcmp(whole, pieces) != 0) {
        fprintf(stderr, "whole:\n%s\npieces:\n%s\n", whole, pieces);
        violation("feeding in pieces changed the result");
    }
    if (n <= BYTEWISE_MAX) {  /* one byte per call: the most a slow client can split */
        static size_t every[BYTEWISE_MAX];
        for (size_t i = 1; i < n; i++)
            every[i - 1] = i;
        char *bytes = run(data, n, every, n ? n - 1 : 0, false);
        if (strcmp(whole, bytes) != 0) {
            fprintf(stderr, "whole:\n%s\nbyte by byte:\n%s\n", whole, bytes);
            violation("feeding byte by byte changed the result");
        }
        free(bytes);
    }
    free(whole);
    free(pieces);
    return 0;
}
