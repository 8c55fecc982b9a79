/* fuzz_path.c - libFuzzer target for path_from_url() (path.c): request target to a path
 * relative to the root. Whatever the target, the result must be a clean relative path under
 * static/ or dynamic/ that fits its buffer, or one of the documented statuses.
 *
 * Input: bytes 0-1 choose cap (1..4096+64, little-endian); the rest is the target, passed
 * with its exact length in a buffer of its own, so ASan sees any read past it. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "path.h"

static void violation(const char *why, const char *out)
{
    fprintf(stderr, "fuzz_path: invariant violated: %s (result \"%s\")\n", why, out ? out : "");
    abort();
}

#define CHECK(cond, out) do { if (!(cond)) violation(#cond, out); } while (0)

/* Whether the '/'-separated path s (no leading slash) has a segment equal to seg. */
static bool has_segment(const char *s, const char *seg)
{
    size_t n = strlen(seg);
    for (const char *p = s; *p;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == n && memcmp(p, seg, n) == 0)
            return true;
        if (!slash)
            break;
        p = slash + 1;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (size < 2)
        return 0;
    size_t cap = 1 + ((size_t)in[0] | (size_t)in[1] << 8) % (PATH_MAX_BYTES + 64);
    size_t len = size - 2;
    char *url = malloc(len ? len : 1);
    char *out = malloc(cap);
    if (!url || !out)
        abort();
    memcpy(url, in + 2, len);
    memset(out, 0xAA, cap);
    enum path_area area = (enum path_area)-1;

    int rc = path_from_url(url, len, out, cap, &area);
    CHECK(rc == 0 || rc == 400 || rc == 404 || rc == 414, NULL);
    if (rc == 0) {
        const char *nul = memchr(out, '\0', cap);
        CHECK(nul != NULL, NULL);  /* fits in cap, terminator included */
        size_t rlen = (size_t)(nul - out);
        CHECK(rlen > 0 && out[0] != '/', out);
        CHECK(!has_segment(out, ".."), out);
        CHECK(!has_segment(out, "."), out);
        CHECK(strstr(out, "//") == NULL, out);  /* empty segments are removed */
        if (area == PATH_STATIC)
            CHECK(strncmp(out, "static/", 7) == 0, out);
        else
            CHECK(area == PATH_DYNAMIC && strncmp(out, "dynamic/", 8) == 0, out);
        /* The path part of the target (past any "http://authority", before '?' or '#'):
         * a NUL decoded into it would cut the path short, and an encoded slash would become a
         * separator, so a path holding "%00" or "%2f" never succeeds. */
        const char *p = path_origin_form(url, len), *end = p;
        CHECK(p >= url && p <= url + len, out);
        while (end < url + len && *end != '?' && *end != '#')
            end++;
        size_t pn = (size_t)(end - p);
        CHECK(memmem(p, pn, "%00", 3) == NULL, out);
        CHECK(memmem(p, pn, "%2f", 3) == NULL && memmem(p, pn, "%2F", 3) == NULL, out);
        CHECK(memchr(p, '\0', pn) == NULL, out);
    }
    free(url);
    free(out);
    return 0;
}
