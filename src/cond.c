/* cond.c - validators and conditional requests (RFC 9110 §8.8, §13): ETags, HTTP-date parsing,
 * entity-tag lists, and the precedence of the If-* headers. Pure string work: it never stats a
 * file (the caller passes what it knows) and never formats a response. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "cond.h"

/* A read position in a header value that is not NUL-terminated. */
struct cursor {
    const char *p, *end;
};

static const char *const month_names[12] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};
static const char *const day_names[7] = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
};

/* Lower-case hex of v at p, no leading zeros; returns the end. */
static char *put_hex(char *p, uint64_t v)
{
    char tmp[16];
    int n = 0;
    do
        tmp[n++] = "0123456789abcdef"[v & 15];
    while (v >>= 4);
    while (n)
        *p++ = tmp[--n];
    return p;
}

size_t cond_etag(char out[COND_ETAG_BYTES], const struct stat *st, const char *suffix)
{
    /* Nanoseconds, so two writes within one second still change the tag. */
    uint64_t ns = (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec;
    char *p = out;
    *p++ = '"';
    p = put_hex(p, (uint64_t)st->st_ino);
    *p++ = '-';
    p = put_hex(p, (uint64_t)st->st_size);
    *p++ = '-';
    p = put_hex(p, ns);
    /* At most 3 * 16 hex digits, 2 dashes and a quote so far: the suffix gets what is left,
     * so the closing quote is never cut off. */
    size_t room = COND_ETAG_BYTES - 2 - (size_t)(p - out);
    size_t n = suffix ? strnlen(suffix, room) : 0;
    if (n) {
        memcpy(p, suffix, n);
        p += n;
    }
    *p++ = '"';
    *p = '\0';
    return (size_t)(p - out);
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static void skip_ows(struct cursor *c)
{
    while (c->p < c->end && is_ows(*c->p))
        c->p++;
}

/* The value without leading and trailing OWS, which are not part of it (RFC 9110 §5.5). */
static struct cursor trimmed(const char *s, size_t len)
{
    struct cursor c = { s, s + len };
    skip_ows(&c);
    while (c.end > c.p && is_ows(c.end[-1]))
        c.end--;
    return c;
}

/* Consumes the exact text lit; false (cursor unchanged) when it is not next. */
static bool take(struct cursor *c, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
        return false;
    c->p += n;
    return true;
}

/* Consumes exactly n digits into *v. */
static bool take_digits(struct cursor *c, int n, int *v)
{
    if (c->end - c->p < n)
        return false;
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (c->p[i] < '0' || c->p[i] > '9')
            return false;
        *v = *v * 10 + (c->p[i] - '0');
    }
    c->p += n;
    return true;
}

/* Consumes one of names[0..count) into *i, in any case: its first `width` letters, or all of
 * it when width is 0 ("Sun" and "Nov" are abbreviations, "Sunday" is not). */
static bool take_name(struct cursor *c, const char *const *names, int count, size_t width, int *i)
{
    for (*i = 0; *i < count; (*i)++) {
        size_t n = width ? width : strlen(names[*i]);
        if ((size_t)(c->end - c->p) >= n && strncasecmp(c->p, names[*i], n) == 0) {
            c->p += n;
            return true;
        }
    }
    return false;
}

/* Consumes "HH:MM:SS" into tm; 60 seconds is a leap second (RFC 9110 §5.6.7). */
static bool take_time(struct cursor *c, struct tm *tm)
{
    return take_digits(c, 2, &tm->tm_hour) && take(c, ":") && take_digits(c, 2, &tm->tm_min) &&
           take(c, ":") && take_digits(c, 2, &tm->tm_sec) && tm->tm_hour <= 23 &&
           tm->tm_min <= 59 && tm->tm_sec <= 60;
}

/* The RFC 850 year: one that looks more than 50 years ahead is from the past century. */
static int full_year(int yy)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    int this_year = tm.tm_year + 1900;
    int year = this_year - this_year % 100 + yy;
    return year > this_year + 50 ? year - 100 : year;
}

/* "06 Nov 1994 08:49:37 GMT" (IMF-fixdate) or "06-Nov-94 08:49:37 GMT" (RFC 850), the part
 * after the day name and ", ". */
static bool take_date_gmt(struct cursor *c, struct tm *tm, bool rfc850)
{
    const char *sep = rfc850 ? "-" : " ";
    int year;
    if (!take_digits(c, 2, &tm->tm_mday) || !take(c, sep) ||
        !take_name(c, month_names, 12, 3, &tm->tm_mon) || !take(c, sep) ||
        !take_digits(c, rfc850 ? 2 : 4, &year))
        return false;
    tm->tm_year = (rfc850 ? full_year(year) : year) - 1900;
    return take(c, " ") && take_time(c, tm) && take(c, " GMT");
}

/* Checked here because timegm would quietly turn 31 Nov into 1 Dec. */
static bool valid_day(const struct tm *tm)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int y = tm->tm_year + 1900;
    int leap = tm->tm_mon == 1 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0);
    return tm->tm_mday >= 1 && tm->tm_mday <= days[tm->tm_mon] + leap;
}

time_t cond_parse_date(const char *s, size_t len)
{
    struct cursor c = trimmed(s, len), rfc850 = c;
    struct tm tm = { 0 };
    int day, year = 0;
    bool ok;
    if (take_name(&rfc850, day_names, 7, 0, &day) && take(&rfc850, ", ")) {
        c = rfc850;  /* Sunday, 06-Nov-94 08:49:37 GMT */
        ok = take_date_gmt(&c, &tm, true);
    } else if (!take_name(&c, day_names, 7, 3, &day)) {
        return -1;
    } else if (take(&c, ", ")) {  /* Sun, 06 Nov 1994 08:49:37 GMT */
        ok = take_date_gmt(&c, &tm, false);
    } else {  /* Sun Nov  6 08:49:37 1994: the day is 2DIGIT or SP DIGIT */
        ok = take(&c, " ") && take_name(&c, month_names, 12, 3, &tm.tm_mon) && take(&c, " ") &&
             (take_digits(&c, 2, &tm.tm_mday) ||
              (take(&c, " ") && take_digits(&c, 1, &tm.tm_mday))) &&
             take(&c, " ") && take_time(&c, &tm) && take(&c, " ") && take_digits(&c, 4, &year);
        tm.tm_year = year - 1900;
    }
    /* The day name is not checked against the date: nothing is gained by refusing a date over
     * it, and timegm ignores tm_wday anyway. */
    if (!ok || c.p != c.end || !valid_day(&tm))
        return -1;
    return timegm(&tm);
}

/* The opaque-tag of an entity-tag: the quoted part, without any "W/" (RFC 9110 §8.8.3). */
static struct cursor opaque_of(const char *etag)
{
    struct cursor c = { etag, etag + strlen(etag) };
    take(&c, "W/");
    return c;
}

static bool same_text(struct cursor a, struct cursor b)
{
    return a.end - a.p == b.end - b.p && memcmp(a.p, b.p, (size_t)(a.end - a.p)) == 0;
}

/* Consumes one entity-tag: [W/] DQUOTE *etagc DQUOTE, where etagc is any visible character
 * but DQUOTE, or obs-text. Sets *weak and *opaque (quotes included). */
static bool take_etag(struct cursor *c, bool *weak, struct cursor *opaque)
{
    *weak = take(c, "W/");
    opaque->p = c->p;
    if (!take(c, "\""))
        return false;
    while (c->p < c->end && *c->p != '"') {
        unsigned char ch = (unsigned char)*c->p;
        if (ch < 0x21 || ch == 0x7f)
            return false;
        c->p++;
    }
    if (!take(c, "\""))
        return false;
    opaque->end = c->p;
    return true;
}

/* Whether the If-Match / If-None-Match value v matches etag: "*" matches any existing
 * representation; otherwise some listed tag must match, strongly (neither side weak) or weakly
 * (opaque-tags equal). A malformed list matches nothing, whichever way that cuts. */
static bool list_matches(const struct cond_value *v, const char *etag, bool strong)
{
    struct cursor c = trimmed(v->ptr, v->len);
    if (c.end - c.p == 1 && *c.p == '*')
        return true;
    bool matched = false;
    struct cursor mine = etag ? opaque_of(etag) : (struct cursor){ NULL, NULL };
    bool mine_weak = etag && mine.p != etag;
    for (;;) {
        while (c.p < c.end && (is_ows(*c.p) || *c.p == ','))
            c.p++;  /* OWS and empty list elements */
        if (c.p == c.end)
            break;
        bool weak;
        struct cursor opaque;
        if (!take_etag(&c, &weak, &opaque))
            return false;
        skip_ows(&c);
        if (c.p < c.end && *c.p != ',')
            return false;  /* two tags with no comma between them */
        if (etag && same_text(opaque, mine) && (!strong || (!weak && !mine_weak)))
            matched = true;
    }
    return matched;
}

int cond_evaluate(const struct cond_headers *h, const char *etag, time_t mtime)
{
    /* Steps 1 and 2 of RFC 9110 §13.2.2: the preconditions that fail with 412. */
    if (h->if_match.ptr) {
        if (!list_matches(&h->if_match, etag, true))
            return 412;
    } else if (h->if_unmodified_since.ptr) {
        time_t t = cond_parse_date(h->if_unmodified_since.ptr, h->if_unmodified_since.len);
        if (t != -1 && mtime > t)
            return 412;
    }
    /* Steps 3 and 4: the ones that let a cache reuse what it holds (GET and HEAD only). */
    if (h->if_none_match.ptr) {
        if (list_matches(&h->if_none_match, etag, false))
            return 304;
    } else if (h->if_modified_since.ptr) {
        time_t t = cond_parse_date(h->if_modified_since.ptr, h->if_modified_since.len);
        /* A date in the future is invalid (§13.1.3): it cannot be a Last-Modified we sent. */
        if (t != -1 && t <= time(NULL) && mtime <= t)
            return 304;
    }
    return 0;
}

bool cond_if_range(const struct cond_value *if_range, const char *etag, time_t mtime)
{
    if (!if_range || !if_range->ptr)
        return true;
    struct cursor c = trimmed(if_range->ptr, if_range->len), date = c, opaque;
    bool weak;
    if (take_etag(&c, &weak, &opaque)) {
        /* Only a strong entity-tag equal to ours will do (§13.1.5), never W/"...". A broken
         * one falls through to the date parser, which refuses it too. */
        return c.p == c.end && !weak && etag && etag[0] == '"' &&
               same_text(opaque, opaque_of(etag));
    }
    time_t t = cond_parse_date(date.p, (size_t)(date.end - date.p));
    return t != -1 && t == mtime;
}
