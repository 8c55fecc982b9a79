/* route.c - decides what a complete request gets, the way nginx would for static files:
 * which file (or directory index, listing, precompressed variant), which status (200, 206, 304,
 * 301, 4xx) and which headers. It opens files and writes the head into the connection's
 * buffer; sending is conn.c's job. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "cond.h"
#include "conn.h"
#include "filecache.h"
#include "listing.h"
#include "log.h"
#include "mime.h"
#include "options.h"
#include "path.h"
#include "range.h"
#include "response.h"
#include "route.h"
#include "serve_dynamic.h"

#define EXTRA_BYTES 1024  /* the extra header lines of one response */

/* Appends a header line, given as up to three pieces (NULL ends them early), to
 * extra[EXTRA_BYTES]; a line that does not fit is dropped whole, which only the Location of an
 * absurdly long URL could cause (checked before). Plain copies: this runs for every response. */
static void add_text(char *extra, size_t *len, const char *a, const char *b, const char *c)
{
    const char *parts[3] = { a, b, c };
    size_t at = *len;
    for (int i = 0; i < 3 && parts[i]; i++) {
        size_t n = strlen(parts[i]);
        if (n >= EXTRA_BYTES - at) {
            extra[*len] = '\0';
            return;
        }
        memcpy(extra + at, parts[i], n);
        at += n;
    }
    extra[at] = '\0';
    *len = at;
}

/* add_text for a line that needs formatting. */
static void add_header(char *extra, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_header(char *extra, size_t *len, const char *fmt, ...)
{
    char line[EXTRA_BYTES];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof line)
        add_text(extra, len, line, NULL, NULL);
}

/* Plans a head plus short HTML page (errors, redirects); nothing is logged. */
static void plan_page(struct conn *c, int status, bool keep_alive, const char *extra)
{
    c->status = status;
    c->keep_alive = keep_alive && c->b->req.keep_alive && !c->peer_eof;
    c->body = BODY_NONE;
    bool head_only = c->b->req.head_done && c->b->req.method == REQ_HEAD;
    c->hlen = resp_error(c->b->hbuf, sizeof c->b->hbuf, status, c->keep_alive, head_only, extra);
    c->hoff = 0;
    const char *end = memmem(c->b->hbuf, c->hlen, "\r\n\r\n", 4);
    c->page_body = end ? c->hlen - (size_t)(end + 4 - c->b->hbuf) : 0;
}

void route_error(struct conn *c, int status, bool keep_alive, const char *why, const char *extra)
{
    size_t ulen = 0;
    const char *url = c->b->req.url.len ? req_url(&c->b->req, &ulen) : "";
    log_info("#%lu %d %s: %s%s%.*s", c->id, status, resp_reason(status), why,
             ulen ? ": " : "", (int)(ulen > 200 ? 200 : ulen), url);
    plan_page(c, status, keep_alive, extra);
}

/* Writes a head into hbuf; the body plan is the caller's. */
static void plan_head(struct conn *c, int status, off_t length, const char *type, time_t mtime,
                      const char *extra)
{
    struct resp rs = {
        .status = status, .length = length, .type = type, .mtime = mtime,
        .keep_alive = c->keep_alive, .extra = extra,
    };
    c->status = status;
    c->hlen = resp_head(c->b->hbuf, sizeof c->b->hbuf, &rs);
    c->hoff = 0;
    c->page_body = 0;
}

static struct cond_value header_value(const struct req *r, enum req_hdr h)
{
    struct cond_value v = { NULL, 0 };
    v.ptr = req_header(r, h, &v.len);
    return v;
}

/* The q-value an Accept-Encoding list gives a coding: its own entry, else "*", else -1. */
static double coding_q(struct cond_value ae, const char *coding)
{
    double own = -1, star = -1;
    const char *p = ae.ptr, *end = ae.ptr + ae.len;
    while (p && p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *tok = p;
        while (p < end && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        size_t n = (size_t)(p - tok);
        double q = 1;
        const char *item_end = memchr(p, ',', (size_t)(end - p));
        item_end = item_end ? item_end : end;
        const char *qp = memmem(p, (size_t)(item_end - p), "q=", 2);
        if (qp)
            q = strtod(qp + 2, NULL);
        if (n == strlen(coding) && strncasecmp(tok, coding, n) == 0)
            own = q;
        else if (n == 1 && *tok == '*')
            star = q;
        p = item_end;
    }
    return own >= 0 ? own : star;
}

/* With --precompressed, swaps *fd for path.br or path.gz when the client accepts it; returns
 * the Content-Encoding, or NULL for the file itself. */
static const char *pick_variant(struct conn *c, const char *path, int *fd,
                                struct fcache_entry **ent, struct stat *st)
{
    struct cond_value ae = header_value(&c->b->req, REQ_HDR_ACCEPT_ENCODING);
    if (!ae.ptr)
        return NULL;
    static const struct { const char *coding, *ext; } variants[] = { { "br", "br" }, { "gzip", "gz" } };
    double q_br = coding_q(ae, "br"), q_gz = coding_q(ae, "gzip");
    int first = q_gz > q_br ? 1 : 0;  /* br wins ties: it is smaller */
    for (int k = 0; k < 2; k++) {
        int i = (first + k) % 2;
        if ((i == 0 ? q_br : q_gz) <= 0)
            continue;
        char vpath[PATH_MAX_BYTES];
        struct stat vst;
        if ((size_t)snprintf(vpath, sizeof vpath, "%s.%s", path, variants[i].ext) >= sizeof vpath)
            return NULL;
        struct fcache_entry *vent;
        int vfd = fcache_open(c->cc->fcache, vpath, &vst, false, &vent);
        if (vfd >= 0) {
            fcache_close(*fd, *ent);
            *fd = vfd;
            *ent = vent;
            *st = vst;
            return variants[i].coding;
        }
    }
    return NULL;
}

/* Plans 206 for several ranges as multipart/byteranges; false when the parts would make the
 * body more than twice the file (many tiny ranges), in which case the whole file is better. */
static bool plan_multipart(struct conn *c, const struct byte_range *r, int n, const char *type,
                           time_t mtime, char *extra, size_t *xlen)
{
    struct multipart *mp = calloc(1, sizeof *mp);
    if (!mp)
        return false;
    memcpy(mp->r, r, (size_t)n * sizeof *r);
    mp->n = n;
    mp->type = type;
    range_boundary(mp->boundary);
    off_t length = range_multipart_length(r, n, mp->boundary, type, c->file_size);
    if (length / 2 > c->file_size) {  /* halved: 2 * size could overflow */
        free(mp);
        return false;
    }
    c->mp = mp;
    char mtype[96];
    snprintf(mtype, sizeof mtype, "multipart/byteranges; boundary=%s", mp->boundary);
    add_text(extra, xlen, "Accept-Ranges: bytes\r\n", NULL, NULL);
    plan_head(c, 206, length, mtype, mtime, extra);
    return true;
}

/* Applies a Range header (GET only, RFC 9110 §14.2). Returns 200 (whole file), 206 (planned)
 * or 416. */
static int plan_ranges(struct conn *c, const char *type, time_t mtime, const char *etag,
                       char *extra, size_t *xlen)
{
    struct cond_value range = header_value(&c->b->req, REQ_HDR_RANGE);
    struct cond_value if_range = header_value(&c->b->req, REQ_HDR_IF_RANGE);
    if (c->b->req.method != REQ_GET || !range.ptr || !cond_if_range(&if_range, etag, mtime))
        return 200;
    /* A date validates only a strong Last-Modified, one at least a second in the past
     * (RFC 9110 §13.1.5, §8.8.2.2): two writes within a second share it. */
    if (if_range.ptr && if_range.len && if_range.ptr[0] != '"' && time(NULL) - mtime < 1)
        return 200;
    struct byte_range r[RANGE_MAX_PARTS];
    int n = 0;
    switch (range_parse(range.ptr, range.len, c->file_size, r, &n)) {
    case RANGE_UNSATISFIABLE:
        return 416;
    case RANGE_NONE:
        return 200;
    case RANGE_OK:
        break;
    }
    if (n > 1)
        return plan_multipart(c, r, n, type, mtime, extra, xlen) ? 206 : 200;
    c->file_off = r[0].first;
    c->file_end = r[0].last + 1;
    add_header(extra, xlen, "Accept-Ranges: bytes\r\nContent-Range: bytes %lld-%lld/%lld\r\n",
               (long long)r[0].first, (long long)r[0].last, (long long)c->file_size);
    plan_head(c, 206, c->file_end - c->file_off, type, mtime, extra);
    return 206;
}

/* Starts the body plan for an open file; for /dynamic the first reads start now, so the disk
 * works while the head goes out. */
static bool plan_file_body(struct conn *c)
{
    if (c->b->req.method == REQ_HEAD || c->file_off >= c->file_end) {
        conn_release_file(c);
        c->body = BODY_NONE;
        return true;
    }
    c->body = c->dynamic ? BODY_DYNAMIC : BODY_STATIC;
    if (!c->dynamic || c->mp)
        return true;  /* multipart starts its reads part by part */
    if (serve_dynamic_begin(c) == IO_DONE)
        return true;
    serve_dynamic_cancel(c);
    if (serve_dynamic_in_flight(c))
        return false;  /* a read is in the kernel's hands: only closing is left */
    serve_dynamic_free(c);
    conn_release_file(c);
    route_error(c, 500, false, "AIO setup failed", NULL);
    return true;
}

/* Serves an open regular file: validators, conditionals, ranges, precompressed variants. */
static bool route_file(struct conn *c, int fd, struct fcache_entry *ent, struct stat *st,
                       const char *path)
{
    const struct options *o = c->cc->opt;
    const char *type = mime_type(path);
    const char *enc = o && o->precompressed ? pick_variant(c, path, &fd, &ent, st) : NULL;
    char etag[COND_ETAG_BYTES], extra[EXTRA_BYTES];
    size_t xlen = 0;
    cond_etag(etag, st, enc ? (enc[0] == 'b' ? "-br" : "-gz") : NULL);
    extra[0] = '\0';
    add_text(extra, &xlen, "ETag: ", etag, "\r\n");
    if (o && o->precompressed)
        add_text(extra, &xlen, "Vary: Accept-Encoding\r\n", NULL, NULL);
    if (enc)
        add_text(extra, &xlen, "Content-Encoding: ", enc, "\r\n");
    struct cond_headers ch = {
        .if_match = header_value(&c->b->req, REQ_HDR_IF_MATCH),
        .if_none_match = header_value(&c->b->req, REQ_HDR_IF_NONE_MATCH),
        .if_modified_since = header_value(&c->b->req, REQ_HDR_IF_MODIFIED_SINCE),
        .if_unmodified_since = header_value(&c->b->req, REQ_HDR_IF_UNMODIFIED_SINCE),
    };
    int cs = cond_evaluate(&ch, etag, st->st_mtime);
    if (cs) {
        fcache_close(fd, ent);
        if (cs == 412)
            route_error(c, 412, true, "precondition failed", NULL);
        else
            plan_head(c, 304, -1, NULL, st->st_mtime, extra);
        return true;
    }
    c->file_fd = fd;
    c->file_ent = ent;
    c->file_size = c->file_end = st->st_size;
    c->file_off = 0;
    int status = plan_ranges(c, type, st->st_mtime, etag, extra, &xlen);
    if (status == 416) {
        char cr[64];
        snprintf(cr, sizeof cr, "Content-Range: bytes */%lld\r\n", (long long)c->file_size);
        conn_release_file(c);
        route_error(c, 416, true, "range not satisfiable", cr);
        return true;
    }
    if (status == 200) {
        add_text(extra, &xlen, "Accept-Ranges: bytes\r\n", NULL, NULL);
        plan_head(c, 200, c->file_size, type, st->st_mtime, extra);
    }
    return plan_file_body(c);
}

/* "/static/dir" names a directory: send the client to "/static/dir/", query kept. */
static void redirect_to_slash(struct conn *c)
{
    size_t ulen;
    const char *url = req_url(&c->b->req, &ulen);
    const char *p = path_origin_form(url, ulen), *end = url + ulen;
    const char *q = p;
    while (q < end && *q != '?' && *q != '#')
        q++;
    const char *frag = memchr(q, '#', (size_t)(end - q));
    size_t qlen = (size_t)((frag ? frag : end) - q);
    char loc[EXTRA_BYTES];
    int n = snprintf(loc, sizeof loc, "Location: %.*s/%.*s\r\n", (int)(q - p), p, (int)qlen, q);
    if (n < 0 || (size_t)n >= sizeof loc) {
        route_error(c, 414, false, "redirect target too long", NULL);
        return;
    }
    plan_page(c, 301, true, loc);
}

/* A directory with a trailing slash: its index.html, else a listing (--listing), else 404. */
static bool route_directory(struct conn *c, int dir_fd, const char *path)
{
    size_t plen = strlen(path);
    if (path[plen - 1] != '/') {
        close(dir_fd);
        redirect_to_slash(c);
        return true;
    }
    char index[PATH_MAX_BYTES + sizeof "index.html"];
    struct stat st;
    memcpy(index, path, plen);
    memcpy(index + plen, "index.html", sizeof "index.html");
    struct fcache_entry *ent;
    int fd = fcache_open(c->cc->fcache, index, &st, false, &ent);
    if (fd >= 0) {
        close(dir_fd);
        return route_file(c, fd, ent, &st, index);
    }
    if (fd != -404 || !c->cc->opt || !c->cc->opt->listing) {
        close(dir_fd);
        route_error(c, -fd, true, "directory without index.html", NULL);
        return true;
    }
    char url_path[PATH_MAX_BYTES + 1];
    snprintf(url_path, sizeof url_path, "/%s", path);
    int rc = listing_build(dir_fd, url_path, &c->mem, &c->mem_len);
    int err = errno;
    close(dir_fd);
    if (rc < 0) {
        errno = err;
        log_errno("#%lu: listing %s", c->id, path);
        route_error(c, 500, true, "listing failed", NULL);
        return true;
    }
    c->mem_off = 0;
    plan_head(c, 200, (off_t)c->mem_len, "text/html; charset=utf-8", 0, NULL);
    c->body = c->b->req.method == REQ_HEAD ? BODY_NONE : BODY_MEMORY;
    return true;
}

bool route_request(struct conn *c)
{
    struct req *r = &c->b->req;
    c->keep_alive = r->keep_alive && !c->peer_eof;
    if (r->method == REQ_OPTIONS) {
        plan_head(c, 204, -1, NULL, 0, RESP_ALLOW);
        return true;
    }
    if (r->method == REQ_OTHER) {  /* its body, if any, was read: the connection stays in sync */
        route_error(c, 405, true, "method not allowed", NULL);
        return true;
    }
    size_t ulen;
    const char *url = req_url(r, &ulen);
    char path[PATH_MAX_BYTES];
    enum path_area area;
    int status = path_from_url(url, ulen, path, sizeof path, &area);
    if (status) {
        route_error(c, status, status != 400, "bad target", NULL);
        return true;
    }
    struct stat st;
    struct fcache_entry *ent;
    int fd = fcache_open(c->cc->fcache, path, &st, true, &ent);
    if (fd < 0) {
        route_error(c, -fd, true, "cannot serve", NULL);
        return true;
    }
    c->dynamic = area == PATH_DYNAMIC;
    return S_ISDIR(st.st_mode) ? route_directory(c, fd, path) : route_file(c, fd, ent, &st, path);
}
