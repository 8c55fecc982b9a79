/* test_listing.c - unit tests for listing.c: the HTML index of a temporary directory.
 * Parses the rows back out of the page and checks order, hidden dotfiles, skipped broken links,
 * HTML escaping, percent-encoded links, sizes, times, growth to 500 rows, and fd hygiene. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "listing.h"

#define MANY 500
#define FIELD 1024

/* The files of the small tree, with their sizes; every one is listed. */
static const struct {
    const char *name;
    int size;
} files[] = {
    { "b.txt", 5 },         { "a&b<c>.txt", 3 },  { "sp ace.txt", 0 },
    { "%.txt", 10 },        { "\"quote\".txt", 7 }, { "it's.txt", 1 },
    { "ctl\x01.txt", 2 },   { "javascript:x", 4 },
};

/* What the listing must show of the small tree, in strcmp order: name, directory?, size. */
static const struct {
    const char *name;
    bool dir;
    int size;
} expected[] = {
    { "\"quote\".txt", false, 7 }, { "%.txt", false, 10 },    { "a&b<c>.txt", false, 3 },
    { "b.txt", false, 5 },         { "ctl\x01.txt", false, 2 }, { "dirlink", true, 0 },
    { "it's.txt", false, 1 },      { "javascript:x", false, 4 }, { "link", false, 5 },
    { "sp ace.txt", false, 0 },    { "sub", true, 0 },
};

/* b.txt's modification time, 2021-03-04 05:06:07 UTC. */
static const time_t b_mtime = 1614834367;

struct tree {
    char base[64];     /* the small tree */
    char many[64];     /* MANY files and one long name */
    int fd, many_fd;
};

/* One parsed table row; fields are the raw text between the tags. */
struct row {
    char href[FIELD], text[FIELD], size[32], when[32];
};

/* Joins dir and name into a static buffer. */
static const char *at(const char *dir, const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

static int make_sized(const char *path, off_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    int rc = ftruncate(fd, size);
    return close(fd) | rc;
}

/* The name of file i of the big directory; index MANY is the long one. */
static const char *many_name(int i)
{
    static char buf[256];
    if (i < MANY)
        snprintf(buf, sizeof buf, "f%03d", i);
    else
        snprintf(buf, sizeof buf, "%0250d.bin", 0);  /* 254 bytes: near NAME_MAX */
    return buf;
}

static int tree_setup(void **state)
{
    static struct tree t;
    struct timespec times[2] = { { b_mtime, 0 }, { b_mtime, 0 } };

    snprintf(t.base, sizeof t.base, "/tmp/aws_test_listing_XXXXXX");
    snprintf(t.many, sizeof t.many, "/tmp/aws_test_listing_many_XXXXXX");
    if (!mkdtemp(t.base) || !mkdtemp(t.many))
        return -1;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (make_sized(at(t.base, files[i].name), files[i].size))
            return -1;
    if (make_sized(at(t.base, ".hidden"), 1) || mkdir(at(t.base, "sub"), 0755) ||
        mkdir(at(t.base, ".git"), 0755) || symlink("b.txt", at(t.base, "link")) ||
        symlink("sub", at(t.base, "dirlink")) || symlink("nowhere", at(t.base, "broken")) ||
        utimensat(AT_FDCWD, at(t.base, "b.txt"), times, 0))
        return -1;
    /* created in reverse so that directory order is unlikely to be sorted already */
    for (int i = MANY; i >= 0; i--)
        if (make_sized(at(t.many, many_name(i)), i))
            return -1;
    t.fd = open(t.base, O_RDONLY | O_DIRECTORY);
    t.many_fd = open(t.many, O_RDONLY | O_DIRECTORY);
    if (t.fd < 0 || t.many_fd < 0)
        return -1;
    *state = &t;
    return 0;
}

static int tree_teardown(void **state)
{
    static const char *const extra[] = { ".hidden", "link", "dirlink", "broken" };
    struct tree *t = *state;
    int bad = 0;

    if (!t)
        return -1;
    close(t->fd);
    close(t->many_fd);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        bad |= unlink(at(t->base, files[i].name));
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        bad |= unlink(at(t->base, extra[i]));
    bad |= rmdir(at(t->base, "sub")) | rmdir(at(t->base, ".git")) | rmdir(t->base);
    for (int i = 0; i <= MANY; i++)
        bad |= unlink(at(t->many, many_name(i)));
    bad |= rmdir(t->many);
    return bad ? -1 : 0;
}

/* Returns the lowest free fd number, the one the next open() would get. */
static int lowest_free_fd(void)
{
    int fd = open("/dev/null", O_RDONLY);
    assert_true(fd >= 0);
    close(fd);
    return fd;
}

/* Copies the text from *p up to delim into out[cap] and moves *p past delim. */
static void take_until(const char **p, const char *delim, char *out, size_t cap)
{
    const char *end = strstr(*p, delim);
    if (!end)
        fail_msg("no \"%s\" after: %.80s", delim, *p);
    if ((size_t)(end - *p) >= cap)
        fail_msg("field too long: %.80s", *p);
    memcpy(out, *p, (size_t)(end - *p));
    out[end - *p] = '\0';
    *p = end + strlen(delim);
}

/* Parses every linked row of page into rows (malloc'd, caller frees); returns how many. */
static size_t parse_rows(const char *page, struct row **rows)
{
    static const char start[] = "<tr><td><a href=\"";
    size_t n = 0, cap = 16;
    const char *p = page;

    *rows = malloc(cap * sizeof **rows);
    assert_non_null(*rows);
    while ((p = strstr(p, start)) != NULL) {
        if (n == cap) {
            cap *= 2;
            *rows = realloc(*rows, cap * sizeof **rows);
            assert_non_null(*rows);
        }
        struct row *r = &(*rows)[n++];
        p += strlen(start);
        take_until(&p, "\">", r->href, sizeof r->href);
        take_until(&p, "</a></td><td>", r->text, sizeof r->text);
        take_until(&p, "</td><td>", r->size, sizeof r->size);
        take_until(&p, "</td></tr>", r->when, sizeof r->when);
    }
    return n;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;  /* lower-case hex is not what we emit */
}

/* Decodes an href, failing on anything but unreserved characters, '/' and "%XX". */
static void url_decode(const char *href, char *out)
{
    for (const char *p = href; *p; p++) {
        if (*p == '%') {
            int hi = hex_value(p[1]), lo = hi >= 0 ? hex_value(p[2]) : -1;
            if (lo < 0)
                fail_msg("bad escape in href \"%s\"", href);
            *out++ = (char)(hi << 4 | lo);
            p += 2;
        } else if (strchr("-._~/", *p) || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                   (*p >= '0' && *p <= '9')) {
            *out++ = *p;
        } else {
            fail_msg("unencoded '%c' in href \"%s\"", *p, href);
        }
    }
    *out = '\0';
}

/* Decodes HTML text, failing on a raw & < > " ' (all must arrive as entities). */
static void html_decode(const char *text, char *out)
{
    static const struct { const char *ent, *ch; } ents[] = {
        { "&amp;", "&" }, { "&lt;", "<" }, { "&gt;", ">" }, { "&quot;", "\"" },
        { "&#39;", "'" }, { "&#xFFFD;", "\xEF\xBF\xBD" },
    };
    for (const char *p = text; *p;) {
        if (strchr("<>\"'", *p))
            fail_msg("raw '%c' in text \"%s\"", *p, text);
        if (*p != '&') {
            *out++ = *p++;
            continue;
        }
        size_t i = 0;
        while (i < sizeof ents / sizeof ents[0] && strncmp(p, ents[i].ent, strlen(ents[i].ent)))
            i++;
        if (i == sizeof ents / sizeof ents[0])
            fail_msg("unknown entity in text \"%s\"", text);
        out = stpcpy(out, ents[i].ch);
        p += strlen(ents[i].ent);
    }
    *out = '\0';
}

/* The name as a reader should see it: control bytes shown as U+FFFD. */
static void shown_name(const char *name, char *out)
{
    for (; *name; name++)
        if ((unsigned char)*name < 0x20)
            out = stpcpy(out, "\xEF\xBF\xBD");
        else
            *out++ = *name;
    *out = '\0';
}

/* Builds the listing of fd, checks the returned length, and returns the page. */
static char *build(int fd, const char *url_path)
{
    char *page = NULL;
    size_t len = 0;

    if (listing_build(fd, url_path, &page, &len) != 0)
        fail_msg("listing_build failed: %s", strerror(errno));
    assert_non_null(page);
    assert_int_equal(strlen(page), len);
    return page;
}

/* Checks that row r links to and shows name (with a trailing slash for a directory). */
static void expect_row(const struct row *r, const char *name, bool dir)
{
    char want[FIELD], shown[3 * FIELD], got[3 * FIELD];

    snprintf(want, sizeof want, "%s%s", name, dir ? "/" : "");
    url_decode(r->href, got);
    if (strcmp(got, want) != 0)
        fail_msg("href \"%s\" decodes to \"%s\", want \"%s\"", r->href, got, want);
    shown_name(want, shown);
    html_decode(r->text, got);
    if (strcmp(got, shown) != 0)
        fail_msg("text \"%s\" decodes to \"%s\", want \"%s\"", r->text, got, shown);
}

static void test_page_shape(void **state)
{
    const struct tree *t = *state;
    char *page = build(t->fd, "/static/x&y <z>/");

    assert_true(strncmp(page, "<!DOCTYPE html>", 15) == 0);
    assert_non_null(strstr(page, "<meta charset=\"utf-8\">"));
    assert_non_null(strstr(page, "<title>Index of /static/x&amp;y &lt;z&gt;/</title>"));
    assert_non_null(strstr(page, "<h1>Index of /static/x&amp;y &lt;z&gt;/</h1>"));
    assert_non_null(strstr(page, "</html>"));
    assert_null(strstr(page, "x&y"));
    free(page);
}

static void test_rows_in_order(void **state)
{
    const struct tree *t = *state;
    size_t n_exp = sizeof expected / sizeof expected[0];
    char *page = build(t->fd, "/static/");
    struct row *rows;
    size_t n = parse_rows(page, &rows);

    /* "../" first, then exactly the expected entries: no dotfiles, no broken link */
    assert_int_equal(n, n_exp + 1);
    assert_string_equal(rows[0].href, "../");
    assert_string_equal(rows[0].text, "../");
    for (size_t i = 0; i < n_exp; i++)
        expect_row(&rows[i + 1], expected[i].name, expected[i].dir);
    assert_null(strstr(page, "hidden"));
    assert_null(strstr(page, ".git"));
    assert_null(strstr(page, "broken"));
    free(rows);
    free(page);
}

static void test_escaping_exact(void **state)
{
    const struct tree *t = *state;
    char *page = build(t->fd, "/static/");

    assert_non_null(strstr(page, "<a href=\"a%26b%3Cc%3E.txt\">a&amp;b&lt;c&gt;.txt</a>"));
    assert_non_null(strstr(page, "<a href=\"sp%20ace.txt\">sp ace.txt</a>"));
    assert_non_null(strstr(page, "<a href=\"%25.txt\">%.txt</a>"));
    assert_non_null(strstr(page, "<a href=\"%22quote%22.txt\">&quot;quote&quot;.txt</a>"));
    assert_non_null(strstr(page, "<a href=\"it%27s.txt\">it&#39;s.txt</a>"));
    assert_non_null(strstr(page, "<a href=\"ctl%01.txt\">ctl&#xFFFD;.txt</a>"));
    /* ':' encoded, so the link stays relative instead of naming a scheme */
    assert_non_null(strstr(page, "<a href=\"javascript%3Ax\">javascript:x</a>"));
    assert_non_null(strstr(page, "<a href=\"sub/\">sub/</a>"));
    free(page);
}

static void test_sizes_and_times(void **state)
{
    const struct tree *t = *state;
    size_t n_exp = sizeof expected / sizeof expected[0];
    char *page = build(t->fd, "/static/");
    struct row *rows;
    size_t n = parse_rows(page, &rows);
    char want[32];

    assert_int_equal(n, n_exp + 1);
    for (size_t i = 0; i < n_exp; i++) {
        const struct row *r = &rows[i + 1];
        struct tm tm;
        if (expected[i].dir)
            snprintf(want, sizeof want, "-");
        else
            snprintf(want, sizeof want, "%d", expected[i].size);
        if (strcmp(r->size, want) != 0)
            fail_msg("\"%s\": size \"%s\", want \"%s\"", expected[i].name, r->size, want);
        memset(&tm, 0, sizeof tm);
        const char *rest = strptime(r->when, "%Y-%m-%d %H:%M", &tm);
        if (!rest || *rest || strlen(r->when) != 16)
            fail_msg("\"%s\": time \"%s\" is not YYYY-MM-DD HH:MM", expected[i].name, r->when);
    }
    /* b.txt and the link to it show b.txt's time, in UTC */
    assert_string_equal(rows[4].text, "b.txt");
    assert_string_equal(rows[4].when, "2021-03-04 05:06");
    assert_string_equal(rows[9].text, "link");
    assert_string_equal(rows[9].when, "2021-03-04 05:06");
    free(rows);
    free(page);
}

static void test_many_entries(void **state)
{
    const struct tree *t = *state;
    char *page = build(t->many_fd, "/dynamic/big/");
    struct row *rows;
    size_t n = parse_rows(page, &rows);
    char want[32];

    /* "../", the long name (it starts with '0'), then f000..f499 */
    assert_int_equal(n, MANY + 2);
    expect_row(&rows[1], many_name(MANY), false);
    snprintf(want, sizeof want, "%d", MANY);
    assert_string_equal(rows[1].size, want);
    for (int i = 0; i < MANY; i++) {
        expect_row(&rows[i + 2], many_name(i), false);
        snprintf(want, sizeof want, "%d", i);
        assert_string_equal(rows[i + 2].size, want);
    }
    free(rows);
    free(page);
}

/* The caller's fd stays open and usable, even when it had been read from before. */
static void test_callers_fd(void **state)
{
    const struct tree *t = *state;
    char dents[64];
    struct stat st;
    char *first, *second;

    /* consume part of the directory through the caller's fd first */
    assert_true(syscall(SYS_getdents64, t->fd, dents, sizeof dents) > 0);
    first = build(t->fd, "/static/");
    second = build(t->fd, "/static/");
    assert_string_equal(first, second);
    assert_true(fcntl(t->fd, F_GETFD) >= 0);
    assert_int_equal(fstatat(t->fd, "b.txt", &st, 0), 0);
    assert_int_equal(st.st_size, 5);
    /* and its offset is back at the start, as a fresh fd's would be */
    assert_true(syscall(SYS_getdents64, t->fd, dents, sizeof dents) > 0);
    /* the rows are all there despite the earlier read */
    struct row *rows;
    assert_int_equal(parse_rows(first, &rows), sizeof expected / sizeof expected[0] + 1);
    free(rows);
    free(first);
    free(second);
}

static void test_errors(void **state)
{
    const struct tree *t = *state;
    char *page = (char *)"untouched";
    size_t len = 123;
    int file_fd = open(at(t->base, "b.txt"), O_RDONLY);

    assert_true(file_fd >= 0);
    errno = 0;
    assert_int_equal(listing_build(file_fd, "/static/", &page, &len), -1);
    assert_int_equal(errno, ENOTDIR);
    close(file_fd);
    errno = 0;
    assert_int_equal(listing_build(-1, "/static/", &page, &len), -1);
    assert_int_equal(errno, EBADF);
    assert_string_equal(page, "untouched");
    assert_int_equal(len, 123);
}

/* Neither success nor failure leaves an fd behind. */
static void test_no_fd_leak(void **state)
{
    const struct tree *t = *state;
    int file_fd = open(at(t->base, "b.txt"), O_RDONLY);
    int before = lowest_free_fd();
    char *page;
    size_t len;

    assert_true(file_fd >= 0);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(listing_build(t->fd, "/static/", &page, &len), 0);
        free(page);
        assert_int_equal(listing_build(file_fd, "/static/", &page, &len), -1);
    }
    assert_int_equal(lowest_free_fd(), before);
    close(file_fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_shape),
        cmocka_unit_test(test_rows_in_order),
        cmocka_unit_test(test_escaping_exact),
        cmocka_unit_test(test_sizes_and_times),
        cmocka_unit_test(test_many_entries),
        cmocka_unit_test(test_callers_fd),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_no_fd_leak),
    };
    return cmocka_run_group_tests(tests, tree_setup, tree_teardown);
}
