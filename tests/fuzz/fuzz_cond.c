/* fuzz_cond.c - libFuzzer target for HTTP dates, ETags and conditional requests (cond.c).
 * A date that parses must come back unchanged through IMF-fixdate; the precondition results
 * must be 0, 304 or 412; and a client echoing our own validators must get what RFC 9110 says.
 *
 * Input: byte 0 = which of the five If-* headers are present (bits 0-4), bit 5 = pass no ETag;
 * bytes 1-8 = mtime (little-endian, signed); the rest is split at '\n' (which no header value
 * holds) into If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, If-Range and an
 * ETag suffix; each field is also tried as a date. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cond.h"

#define HEAD 9
#define FIELDS 6

static void violation(const char *why)
{
    fprintf(stderr, "fuzz_cond: invariant violated: %s\n", why);
    abort();
}

#define CHECK(cond) do { if (!(cond)) violation(#cond); } while (0)

/* Writes t as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", locale-free); returns the
 * length, or 0 when the year has no four-digit form. */
static size_t imf_fixdate(char out[40], time_t t)
{
    static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
        return 0;
    return (size_t)snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
                            tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
                            tm.tm_min, tm.tm_sec);
}

/* Whether an ETag we wrote is one a client can send back: the suffix comes from the input
 * here, while the server's are plain ("-gz", "-br"). */
static bool sendable_etag(const char *e, size_t len)
{
    if (strlen(e) != len)
        return false;  /* a NUL in the suffix */
    for (size_t i = 1; i + 1 < len; i++) {
        unsigned char c = (unsigned char)e[i];
        if (c < 0x21 || c == '"' || c == 0x7f)
            return false;
    }
    return true;
}

/* Any date that parses survives a round trip through IMF-fixdate, and blanks around it do
 * not matter. */
static void check_date(const char *s, size_t len)
{
    char *copy = malloc(len + 2);
    if (!copy)
        abort();
    time_t t = cond_parse_date(s, len);  /* s is exactly len bytes: ASan sees over-reads */
    if (t != -1) {
        char buf[40];
        size_t n = imf_fixdate(buf, t);
        /* A leap second on 31 Dec 9999 lands in year 10000, which IMF-fixdate cannot write;
         * such a date is simply never equal to a file's time. */
        if (n) {
            time_t again = cond_parse_date(buf, n);
            if (again != t) {
                fprintf(stderr, "parsed %jd, wrote \"%s\", parsed %jd\n", (intmax_t)t, buf,
                        (intmax_t)again);
                violation("date round trip");
            }
        }
        copy[0] = ' ';
        memcpy(copy + 1, s, len);
        copy[len + 1] = '\t';
        CHECK(cond_parse_date(copy, len + 2) == t);
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (size < HEAD)
        return 0;
    unsigned flags = in[0];
    uint64_t raw = 0;
    for (int i = 0; i < 8; i++)
        raw |= (uint64_t)in[1 + i] << (8 * i);
    time_t mtime = (time_t)(int64_t)raw;

    /* The fields, each in a buffer of its own exactly as long as it is. */
    char *field[FIELDS] = { 0 };
    size_t flen[FIELDS] = { 0 };
    const char *p = (const char *)in + HEAD, *end = (const char *)in + size;
    for (int f = 0; f < FIELDS; f++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        flen[f] = (size_t)(stop - p);
        field[f] = malloc(flen[f] ? flen[f] : 1);
        if (!field[f])
            abort();
        memcpy(field[f], p, flen[f]);
        p = nl ? nl + 1 : end;
        check_date(field[f], flen[f]);
    }

    /* Our ETag, from a made-up stat and the last field as suffix (NUL-terminated copy). */
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_ino = (ino_t)raw * 2654435761u;
    st.st_size = (off_t)(raw >> 3);
    st.st_mtim.tv_sec = mtime;
    st.st_mtim.tv_nsec = (long)(raw % 1000000000u);
    char *suffix = malloc(flen[5] + 1);
    if (!suffix)
        abort();
    memcpy(suffix, field[5], flen[5]);
    suffix[flen[5]] = '\0';
    char etag[COND_ETAG_BYTES];
    memset(etag, 0x55, sizeof etag);
    size_t elen = cond_etag(etag, &st, suffix);
    CHECK(elen < COND_ETAG_BYTES && etag[elen] == '\0');
    CHECK(elen >= 2 && etag[0] == '"' && etag[elen - 1] == '"');
    free(suffix);
    const char *tag = sendable_etag(etag, elen) ? etag : NULL;
    if (flags & 0x20)
        tag = NULL;

    struct cond_headers h;
    struct cond_value *v[5] = { &h.if_match, &h.if_none_match, &h.if_modified_since,
                                &h.if_unmodified_since, &h.if_range };
    for (int f = 0; f < 5; f++) {
        v[f]->ptr = flags & (1u << f) ? field[f] : NULL;
        v[f]->len = flags & (1u << f) ? flen[f] : 0;
    }
    int rc = cond_evaluate(&h, tag, mtime);
    CHECK(rc == 0 || rc == 304 || rc == 412);
    (void)cond_if_range(&h.if_range, tag, mtime);
    (void)cond_if_range(NULL, tag, mtime);

    /* A client that echoes our validators: If-Range with our ETag or our Last-Modified keeps
     * the range, If-None-Match with our ETag gets 304, If-Match with it passes. */
    if (tag) {
        struct cond_value mine = { tag, strlen(tag) };
        CHECK(cond_if_range(&mine, tag, mtime));
        struct cond_headers echo = { 0 };
        echo.if_none_match = mine;
        CHECK(cond_evaluate(&echo, tag, mtime) == 304);
        echo.if_match = mine;
        CHECK(cond_evaluate(&echo, tag, mtime) == 304);
        echo.if_none_match = (struct cond_value){ 0 };
        CHECK(cond_evaluate(&echo, tag, mtime) == 0);
    }
    char date[40];
    size_t dn = imf_fixdate(date, mtime);
    if (dn && mtime != -1) {
        struct cond_value lm = { date, dn };
        CHECK(cond_if_range(&lm, tag, mtime));
        struct cond_headers echo = { 0 };
        echo.if_unmodified_since = lm;
        CHECK(cond_evaluate(&echo, tag, mtime) == 0);
        echo.if_modified_since = lm;
        CHECK(cond_evaluate(&echo, tag, mtime) == (mtime <= time(NULL) ? 304 : 0));
    }
    for (int f = 0; f < FIELDS; f++)
        free(field[f]);
    return 0;
}
