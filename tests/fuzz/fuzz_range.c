/* fuzz_range.c - libFuzzer target for range_parse() and the multipart framing (range.c).
 * On RANGE_OK the ranges must be few, sorted, disjoint, not touching and inside the file;
 * written back as a Range value they must parse to themselves; and the multipart length must
 * be exactly what the part heads, the bodies and the tail add up to.
 *
 * Input: byte 0 = how many low bits of the size to keep (mod 64), bit 7 of byte 1 = give the
 * parts a Content-Type; bytes 1-8 = the size (little-endian); the rest is the Range value. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "range.h"

#define HEAD 9
static const char boundary[RANGE_BOUNDARY_BYTES + 1] = "0123456789abcdefABCDEFgh";

static void violation(const char *why)
{
    fprintf(stderr, "fuzz_range: invariant violated: %s\n", why);
    abort();
}

#define CHECK(cond) do { if (!(cond)) violation(#cond); } while (0)

/* The length of one part head, checked against the buffer-size contract of range_part_head. */
static size_t head_length(const char *type, const struct byte_range *r, off_t size)
{
    char buf[256];
    size_t len = range_part_head(buf, sizeof buf, boundary, type, r, size);
    CHECK(len > 0);
    CHECK(memcmp(buf, "\r\n--", 4) == 0 && memcmp(buf + 4, boundary, RANGE_BOUNDARY_BYTES) == 0);
    CHECK(memcmp(buf + len - 4, "\r\n\r\n", 4) == 0);
    CHECK(range_part_head(buf, len, boundary, type, r, size) == 0);  /* no room for the NUL */
    CHECK(range_part_head(buf, len + 1, boundary, type, r, size) == len);
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (size < HEAD)
        return 0;
    uint64_t raw = 0;
    for (int i = 0; i < 8; i++)
        raw |= (uint64_t)in[1 + i] << (8 * i);
    unsigned bits = in[0] % 64;  /* sizes from 0 to 2^63 - 1, small ones as likely as huge */
    off_t fsize = (off_t)(raw & (((uint64_t)1 << bits) - 1));
    const char *type = in[1] & 0x80 ? "text/plain; charset=utf-8" : NULL;
    size_t len = size - HEAD;
    char *value = malloc(len ? len : 1);  /* exactly len bytes, not NUL-terminated */
    if (!value)
        abort();
    memcpy(value, in + HEAD, len);

    struct byte_range r[RANGE_MAX_PARTS];
    int n = -1;
    enum range_rc rc = range_parse(value, len, fsize, r, &n);
    CHECK(rc == RANGE_NONE || rc == RANGE_OK || rc == RANGE_UNSATISFIABLE);
    if (rc == RANGE_UNSATISFIABLE)
        CHECK(len > 0);
    if (rc == RANGE_OK) {
        CHECK(n >= 1 && n <= RANGE_MAX_PARTS);
        for (int i = 0; i < n; i++) {
            CHECK(0 <= r[i].first && r[i].first <= r[i].last && r[i].last < fsize);
            if (i > 0)  /* sorted, and neither overlapping nor adjacent: those are merged */
                CHECK(r[i].first > r[i - 1].last + 1);
        }

        /* Written back, the ranges parse to themselves. */
        char again[RANGE_MAX_PARTS * 44 + 8];
        size_t w = (size_t)snprintf(again, sizeof again, "bytes=");
        for (int i = 0; i < n; i++)
            w += (size_t)snprintf(again + w, sizeof again - w, "%s%jd-%jd", i ? "," : "",
                                  (intmax_t)r[i].first, (intmax_t)r[i].last);
        CHECK(w < sizeof again);
        struct byte_range r2[RANGE_MAX_PARTS];
        int n2 = -1;
        CHECK(range_parse(again, w, fsize, r2, &n2) == RANGE_OK);
        CHECK(n2 == n && memcmp(r, r2, (size_t)n * sizeof *r) == 0);

        /* The announced Content-Length is what is sent, counted in 128 bits so that the check
         * itself cannot overflow. */
        __int128 sum = 0;
        for (int i = 0; i < n; i++)
            sum += (__int128)head_length(type, &r[i], fsize) + (r[i].last - r[i].first + 1);
        char tail[64];
        size_t tl = range_multipart_tail(tail, sizeof tail, boundary);
        CHECK(tl == RANGE_BOUNDARY_BYTES + 8);
        sum += tl;
        off_t total = range_multipart_length(r, n, boundary, type, fsize);
        /* A total beyond off_t (heads on top of a file near 8 EiB) is reported as the limit. */
        const __int128 max = (__int128)(((uint64_t)1 << 63) - 1);
        CHECK((__int128)total == (sum > max ? max : sum));
    }
    free(value);
    return 0;
}
