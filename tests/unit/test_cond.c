/* test_cond.c - unit tests for cond.c.
 * cond_etag's text; cond_parse_date on the three HTTP-date forms and on near misses;
 * cond_evaluate's precedence and its weak and strong comparisons; cond_if_range. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cond.h"

#define T_1994 784111777  /* Sun, 06 Nov 1994 08:49:37 GMT, the RFC's example */

static void test_etag_text(void **state)
{
    struct stat st;
    char out[COND_ETAG_BYTES];
    (void)state;
    memset(&st, 0, sizeof st);
    st.st_ino = 0x1a2b;
    st.st_size = 0x400;
    st.st_mtim.tv_sec = 1;
    st.st_mtim.tv_nsec = 5;  /* 1000000005 ns = 0x3b9aca05 */
    assert_int_equal(cond_etag(out, &st, NULL), strlen("\"1a2b-400-3b9aca05\""));
    assert_string_equal(out, "\"1a2b-400-3b9aca05\"");
    assert_int_equal(cond_etag(out, &st, "-gz"), strlen("\"1a2b-400-3b9aca05-gz\""));
    assert_string_equal(out, "\"1a2b-400-3b9aca05-gz\"");
    assert_int_equal(cond_etag(out, &st, ""), strlen("\"1a2b-400-3b9aca05\""));
}

static void test_etag_changes_with_each_field(void **state)
{
    struct stat st;
    char base[COND_ETAG_BYTES], out[COND_ETAG_BYTES];
    (void)state;
    memset(&st, 0, sizeof st);
    st.st_ino = 77;
    st.st_size = 1000;
    st.st_mtim.tv_sec = 1700000000;
    st.st_mtim.tv_nsec = 1;
    cond_etag(base, &st, NULL);
    st.st_mtim.tv_nsec = 2;  /* a second write within the same second */
    cond_etag(out, &st, NULL);
    assert_string_not_equal(base, out);
    st.st_mtim.tv_nsec = 1;
    st.st_size = 1001;
    cond_etag(out, &st, NULL);
    assert_string_not_equal(base, out);
    st.st_size = 1000;
    st.st_ino = 78;
    cond_etag(out, &st, NULL);
    assert_string_not_equal(base, out);
}

static void test_etag_extremes_fit(void **state)
{
    struct stat st;
    char out[COND_ETAG_BYTES];
    const char *long_suffix = "-a-very-long-suffix-that-cannot-possibly-fit-in-the-buffer";
    (void)state;
    memset(&st, 0, sizeof st);
    st.st_ino = (ino_t)-1;
    st.st_size = INT64_MAX;
    st.st_mtim.tv_sec = INT64_MAX / 1000000000;
    st.st_mtim.tv_nsec = 999999999;
    size_t n = cond_etag(out, &st, "-gz");
    assert_true(n < COND_ETAG_BYTES);
    assert_int_equal(n, strlen(out));
    assert_string_equal(out, "\"ffffffffffffffff-7fffffffffffffff-8000000008a7f1ff-gz\"");
    /* a suffix too long is cut, but the tag still closes with its quote */
    n = cond_etag(out, &st, long_suffix);
    assert_true(n < COND_ETAG_BYTES);
    assert_int_equal(n, strlen(out));
    assert_int_equal(out[0], '"');
    assert_int_equal(out[n - 1], '"');
}

/* One cond_parse_date input and the time it names, or -1. */
struct date_case {
    const char *s;
    time_t want;
};

static const struct date_case date_cases[] = {
    /* the three forms of RFC 9110 §5.6.7 */
    { "Sun, 06 Nov 1994 08:49:37 GMT", T_1994 },
    { "Sunday, 06-Nov-94 08:49:37 GMT", T_1994 },
    { "Sun Nov  6 08:49:37 1994", T_1994 },
    { "Sun Nov 06 08:49:37 1994", T_1994 },
    /* names in any case */
    { "sun, 06 nov 1994 08:49:37 GMT", T_1994 },
    { "SUNDAY, 06-NOV-94 08:49:37 GMT", T_1994 },
    { "SUN NOV  6 08:49:37 1994", T_1994 },
    /* every day and month name */
    { "Mon, 01 Jan 2001 00:00:00 GMT", 978307200 },
    { "Tue, 29 Feb 2000 12:00:00 GMT", 951825600 },
    { "Wed, 31 Mar 2021 00:00:00 GMT", 1617148800 },
    { "Thu, 30 Apr 2020 00:00:00 GMT", 1588204800 },
    { "Fri, 01 May 2020 00:00:00 GMT", 1588291200 },
    { "Sat, 27 Jun 2020 00:00:00 GMT", 1593216000 },
    { "Wed, 01 Jul 2020 00:00:00 GMT", 1593561600 },
    { "Mon, 31 Aug 2020 00:00:00 GMT", 1598832000 },
    { "Wed, 30 Sep 2020 00:00:00 GMT", 1601424000 },
    { "Sat, 31 Oct 2020 00:00:00 GMT", 1604102400 },
    { "Thu, 31 Dec 2020 23:59:59 GMT", 1609459199 },
    { "Monday, 02-Nov-20 00:00:00 GMT", 1604275200 },
    { "Tuesday, 03-Nov-20 00:00:00 GMT", 1604361600 },
    { "Wednesday, 04-Nov-20 00:00:00 GMT", 1604448000 },
    { "Thursday, 05-Nov-20 00:00:00 GMT", 1604534400 },
    { "Friday, 06-Nov-20 00:00:00 GMT", 1604620800 },
    { "Saturday, 07-Nov-20 00:00:00 GMT", 1604707200 },
    { "Thu, 01 Jan 1970 00:00:00 GMT", 0 },
    { "Tue, 19 Jan 2038 03:14:08 GMT", 2147483648 },
    { "Sat, 31 Dec 2016 23:59:60 GMT", 1483228800 },  /* leap second */
    /* OWS around the value is not part of it */
    { " Sun, 06 Nov 1994 08:49:37 GMT\t", T_1994 },
    /* bad names */
    { "Sux, 06 Nov 1994 08:49:37 GMT", -1 },
    { "Sun, 06 Nox 1994 08:49:37 GMT", -1 },
    { "Sundae, 06-Nov-94 08:49:37 GMT", -1 },
    { "Su, 06 Nov 1994 08:49:37 GMT", -1 },
    /* days that do not exist */
    { "Sun, 32 Oct 1994 08:49:37 GMT", -1 },
    { "Sun, 31 Nov 1994 08:49:37 GMT", -1 },
    { "Sun, 00 Nov 1994 08:49:37 GMT", -1 },
    { "Sat, 29 Feb 2003 00:00:00 GMT", -1 },
    { "Thu, 29 Feb 1900 00:00:00 GMT", -1 },
    { "Sun Nov 31 08:49:37 1994", -1 },
    /* times that do not exist */
    { "Sun, 06 Nov 1994 25:00:00 GMT", -1 },
    { "Sun, 06 Nov 1994 24:00:00 GMT", -1 },
    { "Sun, 06 Nov 1994 08:60:00 GMT", -1 },
    { "Sun, 06 Nov 1994 08:49:61 GMT", -1 },
    { "Sunday, 06-Nov-94 25:00:00 GMT", -1 },
    /* trailing text, other zones, wrong separators and widths */
    { "Sun, 06 Nov 1994 08:49:37 GMTx", -1 },
    { "Sun, 06 Nov 1994 08:49:37 GMT garbage", -1 },
    { "Sun Nov  6 08:49:37 1994 GMT", -1 },
    { "Sun, 06 Nov 1994 08:49:37 UTC", -1 },
    { "Sun, 06 Nov 1994 08:49:37 gmt", -1 },
    { "Sun, 06 Nov 1994 08:49:37 +0000", -1 },
    { "Sun, 06 Nov 1994 08:49:37", -1 },
    { "Sun, 06 Nov 1994", -1 },
    { "Sun, 6 Nov 1994 08:49:37 GMT", -1 },
    { "Sun, 06 Nov 94 08:49:37 GMT", -1 },
    { "Sun,06 Nov 1994 08:49:37 GMT", -1 },
    { "Sun,  06 Nov 1994 08:49:37 GMT", -1 },
    { "Sun 06 Nov 1994 08:49:37 GMT", -1 },
    { "Sun, 06-Nov-1994 08:49:37 GMT", -1 },
    { "Sun, 06 Nov 1994 8:49:37 GMT", -1 },
    { "Sun, 06 Nov 1994 08:49 GMT", -1 },
    { "Sun, 06 Nov 1994 08-49-37 GMT", -1 },
    { "Sun, 06 Nov 19x4 08:49:37 GMT", -1 },
    { "Sun, 06 Nov 1994 08:49:37  GMT", -1 },
    { "Sunday, 06 Nov 1994 08:49:37 GMT", -1 },
    { "Sun, 06-Nov-94 08:49:37 GMT", -1 },
    { "Sunday, 06-Nov-1994 08:49:37 GMT", -1 },
    { "Sunday, 6-Nov-94 08:49:37 GMT", -1 },
    { "Sun Nov 6 08:49:37 1994", -1 },
    { "Sun Nov  6 08:49:37 94", -1 },
    { "Sun Nov   6 08:49:37 1994", -1 },
    { "Sun Nov  6 08:49:37 1994 ", T_1994 },
    /* not dates at all */
    { "", -1 },
    { " ", -1 },
    { "784111777", -1 },
    { "yesterday", -1 },
    { "1994-11-06T08:49:37Z", -1 },
};

static void test_date_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof date_cases / sizeof date_cases[0]; i++) {
        const struct date_case *c = &date_cases[i];
        time_t t = cond_parse_date(c->s, strlen(c->s));
        if (t != c->want)
            fail_msg("\"%s\": %lld, want %lld", c->s, (long long)t, (long long)c->want);
    }
}

static void test_date_honours_len(void **state)
{
    static const char buf[] = "Sun, 06 Nov 1994 08:49:37 GMT, and more";
    static const char nul[] = "Sun, 06 Nov 1994 08:49:37 GMT\0x";
    (void)state;
    assert_int_equal(cond_parse_date(buf, strlen("Sun, 06 Nov 1994 08:49:37 GMT")), T_1994);
    assert_int_equal(cond_parse_date(buf, strlen("Sun, 06 Nov 1994 08:49:37 GM")), -1);
    assert_int_equal(cond_parse_date(buf, strlen(buf)), -1);
    assert_int_equal(cond_parse_date(nul, sizeof nul - 1), -1);
    assert_int_equal(cond_parse_date(buf, 0), -1);
}

/* Parses "Monday, 01-Jan-YY 00:00:00 GMT" and returns the year it was taken to mean. */
static int rfc850_year(int yy)
{
    char s[64];
    struct tm tm;
    snprintf(s, sizeof s, "Monday, 01-Jan-%02d 00:00:00 GMT", yy);
    time_t t = cond_parse_date(s, strlen(s));
    assert_int_not_equal(t, -1);
    gmtime_r(&t, &tm);
    return tm.tm_year + 1900;
}

static void test_date_rfc850_century(void **state)
{
    /* RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is from the past century */
    time_t now = time(NULL);
    struct tm tm;
    (void)state;
    gmtime_r(&now, &tm);
    int year = tm.tm_year + 1900;
    assert_int_equal(rfc850_year(year % 100), year);
    assert_int_equal(rfc850_year((year + 49) % 100), year + 49);
    assert_int_equal(rfc850_year((year + 51) % 100), year + 51 - 100);
    assert_int_equal(rfc850_year((year - 1) % 100), year - 1);
}

/* One set of precondition headers (NULL when absent) and the expected cond_evaluate result,
 * for ETag "\"abc\"" and mtime T_1994. */
struct eval_case {
    const char *if_match, *if_unmodified_since, *if_none_match, *if_modified_since;
    int want;
};

#define D_EQ     "Sun, 06 Nov 1994 08:49:37 GMT"  /* == mtime */
#define D_BEFORE "Sun, 06 Nov 1994 08:49:36 GMT"
#define D_AFTER  "Sun, 06 Nov 1994 08:49:38 GMT"
#define D_FUTURE "Fri, 01 Jan 2100 00:00:00 GMT"

static const struct eval_case eval_cases[] = {
    { NULL, NULL, NULL, NULL, 0 },
    /* If-Match: strong comparison, lists, "*", malformed lists fail */
    { "\"abc\"", NULL, NULL, NULL, 0 },
    { "\"xyz\"", NULL, NULL, NULL, 412 },
    { "W/\"abc\"", NULL, NULL, NULL, 412 },
    { "\"ABC\"", NULL, NULL, NULL, 412 },
    { "\"abc \"", NULL, NULL, NULL, 412 },
    { "*", NULL, NULL, NULL, 0 },
    { " * ", NULL, NULL, NULL, 0 },
    { "\"xyz\", \"abc\"", NULL, NULL, NULL, 0 },
    { " \"xyz\" ,\t\"abc\" ", NULL, NULL, NULL, 0 },
    { "\"xyz\",,\"abc\",", NULL, NULL, NULL, 0 },
    { "W/\"xyz\", \"abc\"", NULL, NULL, NULL, 0 },
    { "\"xyz\", W/\"abc\"", NULL, NULL, NULL, 412 },
    { "abc", NULL, NULL, NULL, 412 },
    { "\"abc", NULL, NULL, NULL, 412 },
    { "\"abc\" \"xyz\"", NULL, NULL, NULL, 412 },
    { "\"abc\"\"xyz\"", NULL, NULL, NULL, 412 },
    { "\"abc\", xyz", NULL, NULL, NULL, 412 },
    { "\"abc\", *", NULL, NULL, NULL, 412 },
    { "*, \"abc\"", NULL, NULL, NULL, 412 },
    { "w/\"abc\"", NULL, NULL, NULL, 412 },
    { "", NULL, NULL, NULL, 412 },
    { ",", NULL, NULL, NULL, 412 },
    /* If-Unmodified-Since, used only without If-Match */
    { NULL, D_EQ, NULL, NULL, 0 },
    { NULL, D_AFTER, NULL, NULL, 0 },
    { NULL, D_BEFORE, NULL, NULL, 412 },
    { NULL, "Sunday, 06-Nov-94 08:49:36 GMT", NULL, NULL, 412 },
    { NULL, "yesterday", NULL, NULL, 0 },
    { "\"abc\"", D_BEFORE, NULL, NULL, 0 },
    { "*", D_BEFORE, NULL, NULL, 0 },
    { "\"xyz\"", D_AFTER, NULL, NULL, 412 },
    /* If-None-Match: weak comparison */
    { NULL, NULL, "\"abc\"", NULL, 304 },
    { NULL, NULL, "W/\"abc\"", NULL, 304 },
    { NULL, NULL, "\"xyz\"", NULL, 0 },
    { NULL, NULL, "*", NULL, 304 },
    { NULL, NULL, "\"xyz\", W/\"abc\"", NULL, 304 },
    { NULL, NULL, " \"x\" , \"y\" ,\"abc\"", NULL, 304 },
    { NULL, NULL, "abc", NULL, 0 },
    { NULL, NULL, "\"xyz\" \"abc\"", NULL, 0 },
    { NULL, NULL, "\"abc\", junk", NULL, 0 },
    { NULL, NULL, "", NULL, 0 },
    { NULL, NULL, "\"a b\", \"abc\"", NULL, 0 },
    { NULL, NULL, "\"a\tb\", \"abc\"", NULL, 0 },
    { NULL, NULL, "\"a\x7f\", \"abc\"", NULL, 0 },
    { NULL, NULL, "\"\", \"abc\"", NULL, 304 },
    { NULL, NULL, "\"\x80\xff\", \"abc\"", NULL, 304 },
    /* If-Modified-Since, used only without If-None-Match and when not in the future */
    { NULL, NULL, NULL, D_EQ, 304 },
    { NULL, NULL, NULL, D_AFTER, 304 },
    { NULL, NULL, NULL, D_BEFORE, 0 },
    { NULL, NULL, NULL, D_FUTURE, 0 },
    { NULL, NULL, NULL, "Sunday, 06-Nov-94 08:49:37 GMT", 304 },
    { NULL, NULL, NULL, "Sun Nov  6 08:49:37 1994", 304 },
    { NULL, NULL, NULL, "yesterday", 0 },
    { NULL, NULL, NULL, D_EQ " junk", 0 },
    { NULL, NULL, "\"xyz\"", D_EQ, 0 },
    { NULL, NULL, "junk", D_EQ, 0 },
    { NULL, NULL, "\"abc\"", D_BEFORE, 304 },
    /* precedence: a failed If-Match or If-Unmodified-Since beats everything after it */
    { "\"xyz\"", NULL, "\"abc\"", NULL, 412 },
    { "\"xyz\"", NULL, NULL, D_EQ, 412 },
    { NULL, D_BEFORE, "\"abc\"", NULL, 412 },
    { NULL, D_BEFORE, NULL, D_EQ, 412 },
    /* a passed one lets the next steps decide */
    { "\"abc\"", NULL, "\"abc\"", NULL, 304 },
    { "\"abc\"", NULL, "\"xyz\"", NULL, 0 },
    { "\"abc\"", NULL, NULL, D_EQ, 304 },
    { NULL, D_AFTER, "*", NULL, 304 },
    { NULL, D_AFTER, NULL, D_BEFORE, 0 },
};

/* A cond_value for s, or an absent one for NULL. */
static struct cond_value value_of(const char *s)
{
    return (struct cond_value){ s, s ? strlen(s) : 0 };
}

static void test_evaluate_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof eval_cases / sizeof eval_cases[0]; i++) {
        const struct eval_case *c = &eval_cases[i];
        struct cond_headers h = {
            .if_match = value_of(c->if_match),
            .if_none_match = value_of(c->if_none_match),
            .if_modified_since = value_of(c->if_modified_since),
            .if_unmodified_since = value_of(c->if_unmodified_since),
            .if_range = value_of(NULL),
        };
        int got = cond_evaluate(&h, "\"abc\"", T_1994);
        if (got != c->want)
            fail_msg("If-Match %s, If-Unmodified-Since %s, If-None-Match %s, "
                     "If-Modified-Since %s: %d, want %d",
                     c->if_match, c->if_unmodified_since, c->if_none_match,
                     c->if_modified_since, got, c->want);
    }
}

static void test_evaluate_real_etag_and_len(void **state)
{
    struct stat st;
    char etag[COND_ETAG_BYTES], buf[2 * COND_ETAG_BYTES];
    struct cond_headers h = { 0 };
    (void)state;
    memset(&st, 0, sizeof st);
    st.st_ino = 12;
    st.st_size = 34;
    st.st_mtim.tv_sec = 56;
    size_t n = cond_etag(etag, &st, "-gz");
    /* the value is only the first len bytes: what follows ("junk") is not part of it */
    snprintf(buf, sizeof buf, "%sjunk", etag);
    h.if_none_match = (struct cond_value){ buf, n };
    assert_int_equal(cond_evaluate(&h, etag, 56), 304);
    h.if_none_match.len = n + 1;
    assert_int_equal(cond_evaluate(&h, etag, 56), 0);
    h.if_none_match = value_of(NULL);
    h.if_match = (struct cond_value){ buf, n };
    assert_int_equal(cond_evaluate(&h, etag, 56), 0);
    h.if_match.len = n - 1;
    assert_int_equal(cond_evaluate(&h, etag, 56), 412);
}

static void test_evaluate_weak_own_etag(void **state)
{
    /* were our tag weak, If-Match could never match it, but If-None-Match could */
    struct cond_headers h = { 0 };
    (void)state;
    h.if_match = value_of("\"abc\"");
    assert_int_equal(cond_evaluate(&h, "W/\"abc\"", T_1994), 412);
    h.if_match = value_of("W/\"abc\"");
    assert_int_equal(cond_evaluate(&h, "W/\"abc\"", T_1994), 412);
    h.if_match = value_of(NULL);
    h.if_none_match = value_of("\"abc\"");
    assert_int_equal(cond_evaluate(&h, "W/\"abc\"", T_1994), 304);
}

static void test_evaluate_near_future_ims(void **state)
{
    /* If-Modified-Since later than now is ignored, even when it would say "not modified" */
    time_t now = time(NULL);
    char future[32], past[32];
    struct tm tm;
    struct cond_headers h = { 0 };
    (void)state;
    gmtime_r(&(time_t){ now + 3600 }, &tm);
    strftime(future, sizeof future, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    gmtime_r(&(time_t){ now - 5 }, &tm);
    strftime(past, sizeof past, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    h.if_modified_since = value_of(future);
    assert_int_equal(cond_evaluate(&h, "\"abc\"", now - 10), 0);
    h.if_modified_since = value_of(past);
    assert_int_equal(cond_evaluate(&h, "\"abc\"", now - 10), 304);
}

/* One If-Range value (NULL when absent) and whether the Range should be honoured, for ETag
 * "\"abc\"" and mtime T_1994. */
struct if_range_case {
    const char *value;
    bool want;
};

static const struct if_range_case if_range_cases[] = {
    { NULL, true },
    { "\"abc\"", true },
    { " \"abc\"\t", true },
    { "\"xyz\"", false },
    { "\"ABC\"", false },
    { "W/\"abc\"", false },
    { "W/\"xyz\"", false },
    { "\"abc\", \"xyz\"", false },
    { "\"abc\" junk", false },
    { "\"abc", false },
    { "abc", false },
    { "*", false },
    { "", false },
    { D_EQ, true },
    { "Sunday, 06-Nov-94 08:49:37 GMT", true },
    { "Sun Nov  6 08:49:37 1994", true },
    { D_BEFORE, false },
    { D_AFTER, false },
    { D_EQ " junk", false },
    { "yesterday", false },
    { "W/", false },
};

static void test_if_range_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof if_range_cases / sizeof if_range_cases[0]; i++) {
        const struct if_range_case *c = &if_range_cases[i];
        struct cond_value v = value_of(c->value);
        if (cond_if_range(&v, "\"abc\"", T_1994) != c->want)
            fail_msg("If-Range %s: %d, want %d", c->value ? c->value : "(absent)", !c->want,
                     c->want);
    }
    assert_true(cond_if_range(NULL, "\"abc\"", T_1994));
    /* -1 is a real mtime (1969-12-31 23:59:59) as well as the parser's "invalid" */
    struct cond_value junk = value_of("yesterday");
    assert_false(cond_if_range(&junk, "\"abc\"", -1));
}

static void test_if_range_dates_starting_with_w(void **state)
{
    /* "Wed, ..." starts with a W, like a weak tag "W/..."; it must still be read as a date */
    struct cond_value v = value_of("Wed, 09 Nov 1994 08:49:37 GMT");
    (void)state;
    assert_true(cond_if_range(&v, "\"abc\"", 784370977));
    assert_false(cond_if_range(&v, "\"abc\"", 784370978));
    v = value_of("Wednesday, 09-Nov-94 08:49:37 GMT");
    assert_true(cond_if_range(&v, "\"abc\"", 784370977));
}

static void test_if_range_weak_own_etag(void **state)
{
    struct cond_value v = value_of("\"abc\"");
    (void)state;
    assert_false(cond_if_range(&v, "W/\"abc\"", T_1994));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_etag_text),
        cmocka_unit_test(test_etag_changes_with_each_field),
        cmocka_unit_test(test_etag_extremes_fit),
        cmocka_unit_test(test_date_table),
        cmocka_unit_test(test_date_honours_len),
        cmocka_unit_test(test_date_rfc850_century),
        cmocka_unit_test(test_evaluate_table),
        cmocka_unit_test(test_evaluate_real_etag_and_len),
        cmocka_unit_test(test_evaluate_weak_own_etag),
        cmocka_unit_test(test_evaluate_near_future_ims),
        cmocka_unit_test(test_if_range_table),
        cmocka_unit_test(test_if_range_dates_starting_with_w),
        cmocka_unit_test(test_if_range_weak_own_etag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
