/* test_range.c - unit tests for range.c.
 * range_parse: syntax, satisfiability, clipping, sorting and merging, the part and spec limits,
 * overflow; range_boundary: alphabet and freshness; the multipart framing, and that its
 * announced length is exactly the length of a body built from it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "range.h"

/* One range_parse input and its result; want lists the ranges as "a-b,c-d" for RANGE_OK. */
struct parse_case {
    const char *value;
    off_t size;
    enum range_rc rc;
    const char *want;
};

static const struct parse_case parse_cases[] = {
    /* the RFC 9110 §14.1.2 examples, on a 10000-byte file */
    { "bytes=0-499", 10000, RANGE_OK, "0-499" },
    { "bytes=500-999", 10000, RANGE_OK, "500-999" },
    { "bytes=-500", 10000, RANGE_OK, "9500-9999" },
    { "bytes=9500-", 10000, RANGE_OK, "9500-9999" },
    { "bytes=0-0,-1", 10000, RANGE_OK, "0-0,9999-9999" },
    { "bytes=0-999,4500-5499,-1000", 10000, RANGE_OK, "0-999,4500-5499,9000-9999" },
    { "bytes=500-600,601-999", 10000, RANGE_OK, "500-999" },
    { "bytes=500-700,601-999", 10000, RANGE_OK, "500-999" },
    /* merging in any order: overlapping, adjacent, contained, equal, apart */
    { "bytes=601-999,500-700", 10000, RANGE_OK, "500-999" },
    { "bytes=3-4,0-2", 10, RANGE_OK, "0-4" },
    { "bytes=0-2,3-4", 10, RANGE_OK, "0-4" },
    { "bytes=0-1,3-4", 10, RANGE_OK, "0-1,3-4" },
    { "bytes=3-4,0-1", 10, RANGE_OK, "0-1,3-4" },
    { "bytes=0-9,2-3", 10, RANGE_OK, "0-9" },
    { "bytes=2-3,0-9", 10, RANGE_OK, "0-9" },
    { "bytes=2-3,2-3", 10, RANGE_OK, "2-3" },
    { "bytes=8-,0-1,4-5,-1", 10, RANGE_OK, "0-1,4-5,8-9" },
    { "bytes=6-7,0-1,4-5,2-3", 10, RANGE_OK, "0-7" },
    { "bytes=-3,5-6", 10, RANGE_OK, "5-9" },
    /* clipping and suffixes */
    { "bytes=0-0", 10, RANGE_OK, "0-0" },
    { "bytes=0-99999", 10, RANGE_OK, "0-9" },
    { "bytes=5-10", 10, RANGE_OK, "5-9" },
    { "bytes=9-", 10, RANGE_OK, "9-9" },
    { "bytes=-10", 10, RANGE_OK, "0-9" },
    { "bytes=-20", 10, RANGE_OK, "0-9" },
    { "bytes=-0", 10, RANGE_UNSATISFIABLE, NULL },
    { "bytes=-0,0-1", 10, RANGE_OK, "0-1" },
    { "bytes=-00", 10, RANGE_UNSATISFIABLE, NULL },
    /* unsatisfiable specs are dropped; none left is 416 */
    { "bytes=10-", 10, RANGE_UNSATISFIABLE, NULL },
    { "bytes=10-20", 10, RANGE_UNSATISFIABLE, NULL },
    { "bytes=20-30,0-1", 10, RANGE_OK, "0-1" },
    { "bytes=20-30,-0,10-", 10, RANGE_UNSATISFIABLE, NULL },
    { "bytes=5-", 5, RANGE_UNSATISFIABLE, NULL },
    { "bytes=4-", 5, RANGE_OK, "4-4" },
    /* size 1 */
    { "bytes=0-0", 1, RANGE_OK, "0-0" },
    { "bytes=0-", 1, RANGE_OK, "0-0" },
    { "bytes=-1", 1, RANGE_OK, "0-0" },
    { "bytes=-2", 1, RANGE_OK, "0-0" },
    { "bytes=0-5", 1, RANGE_OK, "0-0" },
    { "bytes=1-", 1, RANGE_UNSATISFIABLE, NULL },
    /* size 0: nothing is satisfiable, not even a suffix */
    { "bytes=0-0", 0, RANGE_UNSATISFIABLE, NULL },
    { "bytes=0-", 0, RANGE_UNSATISFIABLE, NULL },
    { "bytes=-5", 0, RANGE_UNSATISFIABLE, NULL },
    { "bytes=-0", 0, RANGE_UNSATISFIABLE, NULL },
    { "bytes=x", 0, RANGE_NONE, NULL },
    /* whitespace around the value and the list elements, and empty elements */
    { " bytes=0-1 ", 10, RANGE_OK, "0-1" },
    { "\tbytes=0-1\t", 10, RANGE_OK, "0-1" },
    { "bytes=0-1 , 5-6", 10, RANGE_OK, "0-1,5-6" },
    { "bytes=0-1,\t5-6", 10, RANGE_OK, "0-1,5-6" },
    { "bytes= 0-1", 10, RANGE_OK, "0-1" },
    { "bytes=0-1,,5-6", 10, RANGE_OK, "0-1,5-6" },
    { "bytes=,0-1", 10, RANGE_OK, "0-1" },
    { "bytes=0-1,", 10, RANGE_OK, "0-1" },
    { "bytes=, ,0-1, ,", 10, RANGE_OK, "0-1" },
    /* the unit: case-insensitive, then '=' at once */
    { "Bytes=0-1", 10, RANGE_OK, "0-1" },
    { "BYTES=0-1", 10, RANGE_OK, "0-1" },
    { "bytes 0-1", 10, RANGE_NONE, NULL },
    { "bytes =0-1", 10, RANGE_NONE, NULL },
    { "bytes", 10, RANGE_NONE, NULL },
    { "bytesx=0-1", 10, RANGE_NONE, NULL },
    { "items=0-1", 10, RANGE_NONE, NULL },
    { "=0-1", 10, RANGE_NONE, NULL },
    { "0-1", 10, RANGE_NONE, NULL },
    { "", 10, RANGE_NONE, NULL },
    /* no spec at all */
    { "bytes=", 10, RANGE_NONE, NULL },
    { "bytes=,", 10, RANGE_NONE, NULL },
    { "bytes= , ", 10, RANGE_NONE, NULL },
    /* syntax errors anywhere ignore the whole header, even after good or unsatisfiable specs */
    { "bytes=1-0", 10, RANGE_NONE, NULL },
    { "bytes=0-1,1-0", 10, RANGE_NONE, NULL },
    { "bytes=0-1,x", 10, RANGE_NONE, NULL },
    { "bytes=20-30,x", 10, RANGE_NONE, NULL },
    { "bytes=-", 10, RANGE_NONE, NULL },
    { "bytes=--1", 10, RANGE_NONE, NULL },
    { "bytes=-1-2", 10, RANGE_NONE, NULL },
    { "bytes=+1-2", 10, RANGE_NONE, NULL },
    { "bytes=1-+2", 10, RANGE_NONE, NULL },
    { "bytes=1--2", 10, RANGE_NONE, NULL },
    { "bytes=0-1-2", 10, RANGE_NONE, NULL },
    { "bytes=1", 10, RANGE_NONE, NULL },
    { "bytes=a-b", 10, RANGE_NONE, NULL },
    { "bytes=0x1-2", 10, RANGE_NONE, NULL },
    { "bytes=0-1;", 10, RANGE_NONE, NULL },
    { "bytes=0-1 2-3", 10, RANGE_NONE, NULL },
    { "bytes=0 -1", 10, RANGE_NONE, NULL },
    { "bytes=0- 1", 10, RANGE_NONE, NULL },
    { "bytes=1 0-20", 10, RANGE_NONE, NULL },
    { "bytes=- 1", 10, RANGE_NONE, NULL },
    { "bytes=0-1\r\n", 10, RANGE_NONE, NULL },
    /* numbers at and beyond the off_t limit (2^63 - 1); leading zeros are only digits */
    { "bytes=0-9223372036854775807", 10, RANGE_OK, "0-9" },
    { "bytes=0-9223372036854775808", 10, RANGE_NONE, NULL },
    { "bytes=0-99999999999999999999999", 10, RANGE_NONE, NULL },
    { "bytes=9223372036854775807-", 10, RANGE_UNSATISFIABLE, NULL },
    { "bytes=9223372036854775808-", 10, RANGE_NONE, NULL },
    { "bytes=-9223372036854775807", 10, RANGE_OK, "0-9" },
    { "bytes=-9223372036854775808", 10, RANGE_NONE, NULL },
    { "bytes=-18446744073709551617", 10, RANGE_NONE, NULL },
    { "bytes=00000000000000000000000000001-0000000000000000000000000002", 10, RANGE_OK, "1-2" },
    { "bytes=1099511627775-", (off_t)1 << 40, RANGE_OK, "1099511627775-1099511627775" },
    { "bytes=-1", (off_t)1 << 40, RANGE_OK, "1099511627775-1099511627775" },
};

/* Formats r[0..n) as "a-b,c-d" into out. */
static void format_ranges(const struct byte_range *r, int n, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%jd-%jd", i ? "," : "",
                                (intmax_t)r[i].first, (intmax_t)r[i].last);
}

static const char *rc_name(enum range_rc rc)
{
    return rc == RANGE_OK ? "OK" : rc == RANGE_NONE ? "NONE" : "UNSATISFIABLE";
}

/* Parses value (strlen bytes) and checks the result against rc and want. */
static void check_parse(const char *value, off_t size, enum range_rc rc, const char *want)
{
    struct byte_range out[RANGE_MAX_PARTS];
    char got[1024];
    int n = -1;
    enum range_rc r = range_parse(value, strlen(value), size, out, &n);
    if (r != rc)
        fail_msg("\"%s\" size %jd: %s, want %s", value, (intmax_t)size, rc_name(r), rc_name(rc));
    if (rc != RANGE_OK)
        return;
    if (n < 1 || n > RANGE_MAX_PARTS)
        fail_msg("\"%s\": n = %d", value, n);
    format_ranges(out, n, got, sizeof got);
    if (strcmp(got, want) != 0)
        fail_msg("\"%s\" size %jd: got %s, want %s", value, (intmax_t)size, got, want);
}

static void test_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++)
        check_parse(parse_cases[i].value, parse_cases[i].size, parse_cases[i].rc,
                    parse_cases[i].want);
}

static void test_parse_absent(void **state)
{
    struct byte_range out[RANGE_MAX_PARTS];
    int n;
    (void)state;
    assert_int_equal(range_parse(NULL, 0, 10, out, &n), RANGE_NONE);
}

static void test_parse_honours_len(void **state)
{
    /* only the first len bytes are the value: the rest must not be read */
    static const char buf[] = "bytes=0-1,5-6,x";
    struct byte_range out[RANGE_MAX_PARTS];
    int n = 0;
    (void)state;
    assert_int_equal(range_parse(buf, strlen("bytes=0-1"), 10, out, &n), RANGE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].first, 0);
    assert_int_equal(out[0].last, 1);
    assert_int_equal(range_parse(buf, strlen("bytes=0-1,5"), 10, out, &n), RANGE_NONE);
    assert_int_equal(range_parse(buf, 3, 10, out, &n), RANGE_NONE);
}

/* Builds "bytes=" and count specs "a-b", the i-th with a = base + i * step and b = a + width. */
static char *make_header(int count, int base, int step, int width)
{
    size_t cap = 32 + (size_t)count * 32;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t len = (size_t)snprintf(s, cap, "bytes=");
    for (int i = 0; i < count; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s%d-%d", i ? "," : "", base + i * step,
                                base + i * step + width);
    return s;
}

/* Appends text to the malloc'd string s. */
static char *append(char *s, const char *text)
{
    s = realloc(s, strlen(s) + strlen(text) + 1);
    assert_non_null(s);
    return strcat(s, text);
}

/* Runs range_parse on value with an out array one longer than allowed, and checks that the
 * extra entry is never written. */
static enum range_rc parse_guarded(const char *value, off_t size, int *n)
{
    struct byte_range out[RANGE_MAX_PARTS + 1];
    out[RANGE_MAX_PARTS].first = out[RANGE_MAX_PARTS].last = -7;
    enum range_rc rc = range_parse(value, strlen(value), size, out, n);
    assert_int_equal(out[RANGE_MAX_PARTS].first, -7);
    assert_int_equal(out[RANGE_MAX_PARTS].last, -7);
    return rc;
}

static void test_parse_part_limit(void **state)
{
    int n = 0;
    char *h;
    (void)state;
    /* 16 separate parts are served as multipart; 17 are not worth it: 200 */
    h = make_header(RANGE_MAX_PARTS, 0, 2, 0);
    assert_int_equal(parse_guarded(h, 1000, &n), RANGE_OK);
    assert_int_equal(n, RANGE_MAX_PARTS);
    free(h);
    h = make_header(RANGE_MAX_PARTS + 1, 0, 2, 0);
    assert_int_equal(parse_guarded(h, 1000, &n), RANGE_NONE);
    free(h);
    /* the limit counts parts after merging: 17 adjacent or overlapping specs are one part */
    h = make_header(RANGE_MAX_PARTS + 1, 0, 1, 0);
    assert_int_equal(parse_guarded(h, 1000, &n), RANGE_OK);
    assert_int_equal(n, 1);
    free(h);
    h = make_header(RANGE_MAX_PARTS + 1, 0, 3, 5);
    assert_int_equal(parse_guarded(h, 1000, &n), RANGE_OK);
    assert_int_equal(n, 1);
    free(h);
    /* and after dropping: 17 specs of which one is unsatisfiable leave 16 parts */
    h = append(make_header(RANGE_MAX_PARTS, 0, 2, 0), ",5000-6000");
    assert_int_equal(parse_guarded(h, 1000, &n), RANGE_OK);
    assert_int_equal(n, RANGE_MAX_PARTS);
    free(h);
}

static void test_parse_spec_limit(void **state)
{
    int n = 0;
    char *h;
    (void)state;
    /* 64 specs that merge into one part are fine; a 65th makes the header ignored */
    h = make_header(RANGE_MAX_SPECS, 0, 0, 0);
    assert_int_equal(parse_guarded(h, 1000, &n), RANGE_OK);
    assert_int_equal(n, 1);
    free(h);
    h = make_header(RANGE_MAX_SPECS + 1, 0, 0, 0);
    assert_int_equal(parse_guarded(h, 1000, &n), RANGE_NONE);
    free(h);
    /* empty elements are not specs */
    h = append(make_header(RANGE_MAX_SPECS, 0, 0, 0), ",,, ,");
    assert_int_equal(parse_guarded(h, 1000, &n), RANGE_OK);
    free(h);
    /* unsatisfiable ones count too: 64 of them are a 416, 65 a 200 */
    h = make_header(RANGE_MAX_SPECS, 2000, 1, 0);
    assert_int_equal(parse_guarded(h, 1000, &n), RANGE_UNSATISFIABLE);
    free(h);
    h = make_header(RANGE_MAX_SPECS + 1, 2000, 1, 0);
    assert_int_equal(parse_guarded(h, 1000, &n), RANGE_NONE);
    free(h);
}

static bool is_alnum_ascii(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void test_boundary(void **state)
{
    enum { CALLS = 200 };
    static char seen[CALLS][RANGE_BOUNDARY_BYTES + 1];
    int distinct_chars[128] = { 0 }, kinds = 0;
    (void)state;
    for (int i = 0; i < CALLS; i++) {
        memset(seen[i], '#', sizeof seen[i]);
        range_boundary(seen[i]);
        assert_int_equal(strlen(seen[i]), RANGE_BOUNDARY_BYTES);
        for (int j = 0; j < RANGE_BOUNDARY_BYTES; j++) {
            if (!is_alnum_ascii(seen[i][j]))
                fail_msg("boundary \"%s\": byte %d not in [0-9a-zA-Z]", seen[i], j);
            kinds += distinct_chars[(int)seen[i][j]]++ == 0;
        }
        for (int k = 0; k < i; k++)
            if (strcmp(seen[i], seen[k]) == 0)
                fail_msg("boundary \"%s\" returned twice", seen[i]);
    }
    /* 4800 random characters from 62 should hit nearly all of them; a broken mapping won't */
    assert_true(kinds >= 60);
}

static void test_part_head_text(void **state)
{
    struct byte_range r = { 0, 499 };
    char buf[256];
    size_t n;
    (void)state;
    n = range_part_head(buf, sizeof buf, "XyZ123", "text/plain", &r, 1234);
    assert_string_equal(buf, "\r\n--XyZ123\r\nContent-Type: text/plain\r\n"
                             "Content-Range: bytes 0-499/1234\r\n\r\n");
    assert_int_equal(n, strlen(buf));
    n = range_part_head(buf, sizeof buf, "XyZ123", NULL, &r, 1234);
    assert_string_equal(buf, "\r\n--XyZ123\r\nContent-Range: bytes 0-499/1234\r\n\r\n");
    assert_int_equal(n, strlen(buf));
    r.first = 1099511627770;
    r.last = 1099511627775;
    n = range_part_head(buf, sizeof buf, "b", NULL, &r, (off_t)1 << 40);
    assert_string_equal(buf, "\r\n--b\r\nContent-Range: bytes "
                             "1099511627770-1099511627775/1099511627776\r\n\r\n");
    assert_int_equal(n, strlen(buf));
}

static void test_tail_text(void **state)
{
    char buf[64];
    (void)state;
    assert_int_equal(range_multipart_tail(buf, sizeof buf, "XyZ123"), 14);
    assert_string_equal(buf, "\r\n--XyZ123--\r\n");
}

static void test_small_buffers(void **state)
{
    struct byte_range r = { 5, 9 };
    const char *want = "\r\n--B\r\nContent-Range: bytes 5-9/10\r\n\r\n";
    size_t len = strlen(want);
    char buf[128];
    (void)state;
    /* the text and its NUL must fit; one byte less is 0 */
    assert_int_equal(range_part_head(buf, len + 1, "B", NULL, &r, 10), len);
    assert_int_equal(range_part_head(buf, len, "B", NULL, &r, 10), 0);
    assert_int_equal(range_part_head(buf, 0, "B", NULL, &r, 10), 0);
    assert_int_equal(range_multipart_tail(buf, 10, "B"), 9);
    assert_int_equal(range_multipart_tail(buf, 9, "B"), 0);
    assert_int_equal(range_multipart_tail(buf, 0, "B"), 0);
}

/* Builds the whole multipart body for r[0..n) over file[size] and checks that
 * range_multipart_length announced exactly its length, and that each part carries its bytes. */
static void check_built_body(const struct byte_range *r, int n, const char *type,
                             const char *file, off_t size)
{
    char boundary[RANGE_BOUNDARY_BYTES + 1];
    size_t cap = 64 * 1024, len = 0;
    char *body = malloc(cap);
    assert_non_null(body);
    range_boundary(boundary);
    for (int i = 0; i < n; i++) {
        size_t h = range_part_head(body + len, cap - len, boundary, type, &r[i], size);
        assert_true(h > 0);
        len += h;
        size_t part = (size_t)(r[i].last - r[i].first + 1);
        assert_true(len + part < cap);
        memcpy(body + len, file + r[i].first, part);
        len += part;
    }
    size_t t = range_multipart_tail(body + len, cap - len, boundary);
    assert_true(t > 0);
    len += t;
    assert_int_equal(range_multipart_length(r, n, boundary, type, size), (off_t)len);
    /* the body ends with the closing delimiter, and opens with the first delimiter */
    assert_memory_equal(body, "\r\n--", 4);
    assert_memory_equal(body + 4, boundary, RANGE_BOUNDARY_BYTES);
    assert_memory_equal(body + len - 4, "--\r\n", 4);
    free(body);
}

static void test_length_matches_body(void **state)
{
    static char file[2000];
    struct byte_range sixteen[RANGE_MAX_PARTS];
    (void)state;
    for (size_t i = 0; i < sizeof file; i++)
        file[i] = (char)('a' + i % 26);
    const struct byte_range one = { 0, 0 };
    const struct byte_range two[] = { { 0, 9 }, { 20, 29 } };
    const struct byte_range wide[] = { { 0, 0 }, { 99, 999 }, { 1000, 1999 } };
    for (int i = 0; i < RANGE_MAX_PARTS; i++)
        sixteen[i] = (struct byte_range){ i * 100, i * 100 + i };
    const char *types[] = { NULL, "text/plain", "application/octet-stream; charset=x" };
    for (int t = 0; t < 3; t++) {
        check_built_body(&one, 1, types[t], file, 1);
        check_built_body(&one, 1, types[t], file, 2000);
        check_built_body(two, 2, types[t], file, 30);
        check_built_body(two, 2, types[t], file, 2000);
        check_built_body(wide, 3, types[t], file, 2000);
        check_built_body(sixteen, RANGE_MAX_PARTS, types[t], file, 2000);
    }
}

static void test_length_large_file(void **state)
{
    /* too big to build: count the heads and the part sizes instead */
    const off_t size = (off_t)5 << 40;
    const struct byte_range r[] = { { 0, 9 }, { 1 << 20, (off_t)3 << 40 }, { size - 1, size - 1 } };
    char head[256];
    off_t want = 0;
    (void)state;
    for (int i = 0; i < 3; i++)
        want += (off_t)range_part_head(head, sizeof head, "B0", "x/y", &r[i], size) +
                r[i].last - r[i].first + 1;
    want += (off_t)range_multipart_tail(head, sizeof head, "B0");
    assert_int_equal(range_multipart_length(r, 3, "B0", "x/y", size), want);
    assert_true(want > ((off_t)2 << 40));  /* no 32-bit truncation on the way */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_parse_absent),
        cmocka_unit_test(test_parse_honours_len),
        cmocka_unit_test(test_parse_part_limit),
        cmocka_unit_test(test_parse_spec_limit),
        cmocka_unit_test(test_boundary),
        cmocka_unit_test(test_part_head_text),
        cmocka_unit_test(test_tail_text),
        cmocka_unit_test(test_small_buffers),
        cmocka_unit_test(test_length_matches_body),
        cmocka_unit_test(test_length_large_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
