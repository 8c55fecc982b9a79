/* test_response.c - unit tests for response.c and mime.c.
 * Checks the exact header lines resp_head writes (once each, in CRLF lines, dates in
 * IMF-fixdate), the whole error responses of resp_error, too-small buffers, and mime_type. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mime.h"
#include "response.h"
#include "version.h"

#define BIG 4096

/* Copies n bytes of buf into a static NUL-terminated string, for the string checks below. */
static const char *as_string(const char *buf, size_t n)
{
    static char s[BIG + 1];
    assert_true(n <= BIG);
    memcpy(s, buf, n);
    s[n] = '\0';
    return s;
}

/* Returns how many times needle occurs in hay. */
static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Asserts that head has exactly one header line called name, and that it is "name: value". */
static void expect_line_once(const char *head, const char *name, const char *value)
{
    char line[256], prefix[64];
    snprintf(line, sizeof line, "\r\n%s: %s\r\n", name, value);
    snprintf(prefix, sizeof prefix, "\r\n%s:", name);
    if (count_of(head, line) != 1 || count_of(head, prefix) != 1)
        fail_msg("want one line \"%s: %s\" in:\n%s", name, value, head);
}

/* Asserts that no header line called name appears in head. */
static void expect_no_header(const char *head, const char *name)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "\r\n%s:", name);
    if (strstr(head, prefix) != NULL)
        fail_msg("unexpected \"%s\" header in:\n%s", name, head);
}

/* Copies the value of the only header line called name into out[cap]. */
static void header_value(const char *head, const char *name, char *out, size_t cap)
{
    char prefix[64];
    const char *p, *end;

    snprintf(prefix, sizeof prefix, "\r\n%s: ", name);
    assert_int_equal(count_of(head, prefix), 1);
    p = strstr(head, prefix) + strlen(prefix);
    end = strstr(p, "\r\n");
    assert_non_null(end);
    assert_true((size_t)(end - p) < cap);
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
}

/* Asserts that value is an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") and returns its time. */
static time_t expect_imf_fixdate(const char *value)
{
    struct tm tm;
    char again[64];
    const char *rest;
    time_t t;

    memset(&tm, 0, sizeof tm);
    rest = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (rest == NULL || *rest != '\0' || strlen(value) != 29)
        fail_msg("not an IMF-fixdate: \"%s\"", value);
    t = timegm(&tm);
    /* formatting the parsed time again must give the same text: zero padding, weekday, case */
    strftime(again, sizeof again, "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&t, &tm));
    assert_string_equal(value, again);
    return t;
}

/* Calls resp_head with a large buffer; checks the length and the overall shape. */
static const char *head_of(const struct resp *rs)
{
    char buf[BIG];
    const char *head;
    size_t n;

    memset(buf, 0, sizeof buf);
    n = resp_head(buf, sizeof buf, rs);
    assert_true(n > 0 && n < sizeof buf);
    head = as_string(buf, n);
    assert_int_equal(strlen(head), n);
    assert_int_equal(count_of(head, "\r\n\r\n"), 1);
    assert_string_equal(head + n - 4, "\r\n\r\n");
    return head;
}

/* The checks every head shares: status line, one Date (now), Server, Connection. */
static void expect_common(const char *head, int status, const char *reason, bool keep_alive)
{
    char line[128], date[64];
    time_t now = time(NULL), t;

    snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", status, reason);
    if (strncmp(head, line, strlen(line)) != 0)
        fail_msg("status line is not \"%.*s\":\n%s", (int)strlen(line) - 2, line, head);
    header_value(head, "Date", date, sizeof date);
    t = expect_imf_fixdate(date);
    assert_true(t >= now - 5 && t <= now + 5);
    expect_line_once(head, "Server", "aws/" AWS_VERSION);
    expect_line_once(head, "Connection", keep_alive ? "keep-alive" : "close");
}

static void test_head_all_fields(void **state)
{
    struct resp rs = { 200, 1234, "text/plain; charset=utf-8", 784111777, true, NULL };
    const char *head;
    (void)state;

    head = head_of(&rs);
    expect_common(head, 200, "OK", true);
    expect_line_once(head, "Content-Type", "text/plain; charset=utf-8");
    expect_line_once(head, "Content-Length", "1234");
    expect_line_once(head, "Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT");
    /* status, Date, Server, Content-Type, Content-Length, Last-Modified, Connection, blank */
    assert_int_equal(count_of(head, "\r\n"), 8);
}

static void test_head_without_type_and_mtime(void **state)
{
    struct resp rs = { 404, 0, NULL, 0, false, NULL };
    const char *head;
    (void)state;

    head = head_of(&rs);
    expect_common(head, 404, "Not Found", false);
    expect_line_once(head, "Content-Length", "0");
    expect_no_header(head, "Content-Type");
    expect_no_header(head, "Last-Modified");
    assert_int_equal(count_of(head, "\r\n"), 6);
}

static void test_head_large_length(void **state)
{
    struct resp rs = { 200, (off_t)5000000000LL, "application/octet-stream", 1, true, NULL };
    char date[64];
    const char *head;
    (void)state;

    head = head_of(&rs);
    expect_line_once(head, "Content-Length", "5000000000");
    header_value(head, "Last-Modified", date, sizeof date);
    assert_string_equal(date, "Thu, 01 Jan 1970 00:00:01 GMT");
}

static void test_head_extra_lines(void **state)
{
    static const char extra[] = "Allow: GET, HEAD\r\nX-Test: yes\r\n";
    struct resp rs = { 405, 10, "text/html; charset=utf-8", 0, true, extra };
    const char *head;
    size_t n;
    (void)state;

    head = head_of(&rs);
    n = strlen(head);
    expect_common(head, 405, resp_reason(405), true);
    expect_line_once(head, "Allow", "GET, HEAD");
    expect_line_once(head, "X-Test", "yes");
    /* the extra lines come last, right before the blank line */
    assert_true(n > sizeof extra + 2);
    assert_string_equal(head + n - 2 - strlen(extra), "Allow: GET, HEAD\r\nX-Test: yes\r\n\r\n");
}

/* Asserts that fn() reports 0 for every cap below full, and never writes past cap. */
static void check_small_caps(size_t full, size_t (*fn)(char *, size_t, const void *), const void *arg)
{
    char buf[BIG + 64];

    for (size_t cap = 0; cap < full; cap += cap < 8 || cap + 9 > full ? 1 : 7) {
        memset(buf, 'Z', sizeof buf);
        if (fn(buf, cap, arg) != 0)
            fail_msg("cap %zu of %zu needed: did not return 0", cap, full);
        for (size_t i = cap; i < sizeof buf; i++)
            if (buf[i] != 'Z')
                fail_msg("cap %zu: byte %zu written past the end", cap, i);
    }
    /* with one byte more than the text (room for a NUL), the full text is written */
    memset(buf, 'Z', sizeof buf);
    assert_int_equal(fn(buf, full + 1, arg), full);
}

static size_t write_head(char *buf, size_t cap, const void *arg)
{
    return resp_head(buf, cap, arg);
}

static size_t write_error(char *buf, size_t cap, const void *arg)
{
    (void)arg;
    return resp_error(buf, cap, 413, false, false, NULL);
}

static void test_small_cap(void **state)
{
    struct resp rs = { 200, 42, "image/png", 784111777, true, "X-Extra: 1\r\n" };
    char buf[BIG];
    (void)state;

    check_small_caps(resp_head(buf, sizeof buf, &rs), write_head, &rs);
    check_small_caps(resp_error(buf, sizeof buf, 413, false, false, NULL), write_error, NULL);
}

static void test_reasons(void **state)
{
    (void)state;
    assert_string_equal(resp_reason(200), "OK");
    assert_string_equal(resp_reason(404), "Not Found");
    assert_string_equal(resp_reason(431), "Request Header Fields Too Large");
    assert_string_equal(resp_reason(505), "HTTP Version Not Supported");
}

/* Writes resp_error(status) and checks head and body; returns the declared Content-Length. */
static unsigned long check_error(int status, bool keep_alive, bool head_only)
{
    char buf[BIG], value[64], code[16];
    const char *text, *end, *body;
    size_t n, head_len;
    unsigned long length;

    n = resp_error(buf, sizeof buf, status, keep_alive, head_only, NULL);
    assert_true(n > 0 && n < sizeof buf);
    text = as_string(buf, n);
    end = strstr(text, "\r\n\r\n");
    assert_non_null(end);
    head_len = (size_t)(end - text) + 4;
    expect_common(text, status, resp_reason(status), keep_alive);
    expect_line_once(text, "Content-Type", "text/html; charset=utf-8");
    if (status == 405)
        expect_line_once(text, "Allow", "GET, HEAD, OPTIONS");
    header_value(text, "Content-Length", value, sizeof value);
    length = strtoul(value, NULL, 10);
    assert_true(length > 0);
    if (head_only) {
        assert_int_equal(n, head_len);
        return length;
    }
    assert_int_equal(n - head_len, length);
    body = text + head_len;
    snprintf(code, sizeof code, "%d", status);
    if (strstr(body, code) == NULL || strstr(body, resp_reason(status)) == NULL ||
        strcasestr(body, "html") == NULL)
        fail_msg("status %d: body lacks code, reason or html:\n%s", status, body);
    return length;
}

static void test_error_responses(void **state)
{
    static const int statuses[] = { 400, 403, 404, 405, 413, 414, 431, 500, 501, 505 };
    (void)state;

    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        for (int ka = 0; ka < 2; ka++) {
            unsigned long full = check_error(statuses[i], ka, false);
            assert_int_equal(check_error(statuses[i], ka, true), full);
        }
    }
}

struct mime_case {
    const char *path, *type;
};

static const struct mime_case mime_cases[] = {
    { "a.html", "text/html; charset=utf-8" },
    { "a.htm", "text/html; charset=utf-8" },
    { "a.txt", "text/plain; charset=utf-8" },
    { "a.css", "text/css; charset=utf-8" },
    { "a.js", "text/javascript; charset=utf-8" },
    { "a.json", "application/json" },
    { "a.png", "image/png" },
    { "a.jpg", "image/jpeg" },
    { "a.jpeg", "image/jpeg" },
    { "a.gif", "image/gif" },
    { "a.svg", "image/svg+xml" },
    { "a.pdf", "application/pdf" },
    { "a.wasm", "application/wasm" },
    { "A.PNG", "image/png" },
    { "static/sub/Index.HtMl", "text/html; charset=utf-8" },
    { "archive.tar.txt", "text/plain; charset=utf-8" },
    { "a.dat", "application/octet-stream" },
    { "noext", "application/octet-stream" },
    { "dir.d/file", "application/octet-stream" },
    { ".hidden", "application/octet-stream" },
    { "a.pngx", "application/octet-stream" },
    { "a.", "application/octet-stream" },
    { "", "application/octet-stream" },
};

static void test_mime_types(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof mime_cases / sizeof mime_cases[0]; i++) {
        const char *got = mime_type(mime_cases[i].path);
        if (got == NULL || strcmp(got, mime_cases[i].type) != 0)
            fail_msg("mime_type(\"%s\") = \"%s\", want \"%s\"", mime_cases[i].path,
                     got ? got : "(null)", mime_cases[i].type);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_all_fields),
        cmocka_unit_test(test_head_without_type_and_mtime),
        cmocka_unit_test(test_head_large_length),
        cmocka_unit_test(test_head_extra_lines),
        cmocka_unit_test(test_small_cap),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_error_responses),
        cmocka_unit_test(test_mime_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
