/* range.c - parses a Range header against a file size (RFC 9110 §14.1-14.4) and writes the
 * text framing of a multipart/byteranges body (§14.6). Pure string work: it never touches a
 * file or a socket, and it decides only which bytes to send, not how. */
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include "range.h"

/* off_t is signed and has no standard MAX macro; this is its largest value on any width. */
#define OFF_T_MAX ((off_t)(((uintmax_t)1 << (sizeof(off_t) * CHAR_BIT - 1)) - 1))

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads 1*DIGIT at *p into *v; false when there is no digit or the number overflows off_t. */
static bool parse_number(const char **p, const char *end, off_t *v)
{
    const char *s = *p;
    off_t n = 0;
    if (s == end || !is_digit(*s))
        return false;
    for (; s < end && is_digit(*s); s++) {
        int d = *s - '0';
        if (n > (OFF_T_MAX - d) / 10)
            return false;  /* a number we cannot hold is no number: the header is ignored */
        n = n * 10 + d;
    }
    *p = s;
    *v = n;
    return true;
}

/* Parses one range-spec ("a-b", "a-" or "-n") at *p. Returns false on a syntax error;
 * otherwise sets *ok to whether it overlaps a file of `size` bytes, and if so *r to the
 * overlap. */
static bool parse_spec(const char **p, const char *end, off_t size, struct byte_range *r, bool *ok)
{
    off_t a = 0, b = 0;
    if (**p == '-') {  /* suffix-range: the last n bytes */
        (*p)++;
        if (!parse_number(p, end, &b))
            return false;
        *ok = b > 0 && size > 0;
        r->first = b >= size ? 0 : size - b;
        r->last = size - 1;
        return true;
    }
    if (!parse_number(p, end, &a) || *p == end || **p != '-')
        return false;
    (*p)++;
    b = OFF_T_MAX;  /* "a-": to the end */
    if (*p < end && is_digit(**p) && (!parse_number(p, end, &b) || b < a))
        return false;
    *ok = a < size;
    r->first = a;
    r->last = b < size ? b : size - 1;
    return true;
}

/* Sorts r[0..n) by first (insertion sort: n is at most RANGE_MAX_SPECS) and merges ranges that
 * overlap or touch, in place. Returns the new count. */
static int sort_and_merge(struct byte_range *r, int n)
{
    for (int i = 1; i < n; i++) {
        struct byte_range x = r[i];
        int j = i;
        for (; j > 0 && r[j - 1].first > x.first; j--)
            r[j] = r[j - 1];
        r[j] = x;
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
        /* last < size <= OFF_T_MAX, so last + 1 cannot overflow */
        if (m > 0 && r[i].first <= r[m - 1].last + 1) {
            if (r[i].last > r[m - 1].last)
                r[m - 1].last = r[i].last;
        } else {
            r[m++] = r[i];
        }
    }
    return m;
}

enum range_rc range_parse(const char *value, size_t len, off_t size, struct byte_range *out, int *n)
{
    if (!value || size < 0)
        return RANGE_NONE;
    const char *p = value, *end = value + len;
    while (p < end && is_ows(*p))
        p++;
    if (end - p < 6 || strncasecmp(p, "bytes=", 6) != 0)
        return RANGE_NONE;  /* another unit, or "bytes" without '=': not ours to honour */
    p += 6;
    struct byte_range kept[RANGE_MAX_SPECS];
    int specs = 0, nkept = 0;
    for (;;) {
        while (p < end && is_ows(*p))
            p++;
        if (p == end)
            break;
        if (*p == ',') {  /* empty list elements are allowed (RFC 9110 §5.6.1) */
            p++;
            continue;
        }
        if (++specs > RANGE_MAX_SPECS)
            return RANGE_NONE;  /* stop before spending more time on a hostile header */
        bool ok;
        if (!parse_spec(&p, end, size, &kept[nkept], &ok))
            return RANGE_NONE;
        while (p < end && is_ows(*p))
            p++;
        if (p < end && *p != ',')
            return RANGE_NONE;
        if (ok)
            nkept++;
    }
    if (specs == 0)
        return RANGE_NONE;
    if (nkept == 0)
        return RANGE_UNSATISFIABLE;
    int m = sort_and_merge(kept, nkept);
    if (m > RANGE_MAX_PARTS)
        return RANGE_NONE;  /* many scattered parts cost more than the whole file: send 200 */
    for (int i = 0; i < m; i++)
        out[i] = kept[i];
    *n = m;
    return RANGE_OK;
}

/* A 64-bit mixer (splitmix64's finaliser), to spread clock and counter bits over all bytes. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Fills buf from the clock, the pid and a counter, for when getrandom() fails (it can block
 * early at boot, which GRND_NONBLOCK turns into EAGAIN). The counter keeps calls distinct. */
static void fallback_bytes(unsigned char *buf, size_t n)
{
    static _Thread_local uint64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t seed = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    seed ^= (uint64_t)getpid() << 32;
    seed += ++counter * 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < n; i++) {
        if (i % 8 == 0)
            seed = mix64(seed + i);
        buf[i] = (unsigned char)(seed >> (i % 8 * 8));
    }
}

void range_boundary(char out[RANGE_BOUNDARY_BYTES + 1])
{
    static const char alphabet[] =
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    unsigned char raw[RANGE_BOUNDARY_BYTES];
    if (getrandom(raw, sizeof raw, GRND_NONBLOCK) != (ssize_t)sizeof raw)
        fallback_bytes(raw, sizeof raw);
    /* The slight bias of % 62 does not matter: a boundary need only be unlikely in the file. */
    for (int i = 0; i < RANGE_BOUNDARY_BYTES; i++)
        out[i] = alphabet[raw[i] % (sizeof alphabet - 1)];
    out[RANGE_BOUNDARY_BYTES] = '\0';
}

/* snprintf of one part head; with buf NULL and cap 0 it only measures. */
static int format_head(char *buf, size_t cap, const char *boundary, const char *type,
                       const struct byte_range *r, off_t size)
{
    return snprintf(buf, cap, "\r\n--%s\r\n%s%s%sContent-Range: bytes %jd-%jd/%jd\r\n\r\n",
                    boundary, type ? "Content-Type: " : "", type ? type : "", type ? "\r\n" : "",
                    (intmax_t)r->first, (intmax_t)r->last, (intmax_t)size);
}

static int format_tail(char *buf, size_t cap, const char *boundary)
{
    return snprintf(buf, cap, "\r\n--%s--\r\n", boundary);
}

size_t range_part_head(char *buf, size_t cap, const char *boundary, const char *type,
                       const struct byte_range *r, off_t size)
{
    int len = format_head(buf, cap, boundary, type, r, size);
    return len < 0 || (size_t)len >= cap ? 0 : (size_t)len;
}

size_t range_multipart_tail(char *buf, size_t cap, const char *boundary)
{
    int len = format_tail(buf, cap, boundary);
    return len < 0 || (size_t)len >= cap ? 0 : (size_t)len;
}

off_t range_multipart_length(const struct byte_range *r, int n, const char *boundary,
                             const char *type, off_t size)
{
    /* Measured with the very formatter that writes the heads, so the two cannot disagree.
     * Summed unsigned: merged ranges never exceed the file, but heads on top of a file near
     * the off_t limit could; such a total is reported as the limit. */
    uintmax_t total = (uintmax_t)format_tail(NULL, 0, boundary);
    for (int i = 0; i < n; i++)
        total += (uintmax_t)format_head(NULL, 0, boundary, type, &r[i], size) +
                 (uintmax_t)(r[i].last - r[i].first + 1);
    return total > (uintmax_t)OFF_T_MAX ? OFF_T_MAX : (off_t)total;
}
