/* test_path.c - unit tests for path.c: request target to a path under the document root.
 * path_from_url: decoding once, dot segments, traversal, encoded slash and NUL, the two areas.
 * path_open: a temporary root with files, a directory, a FIFO and symlinks inside and out. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "path.h"

/* One path_from_url input and its expected result; path and area matter only for 0. */
struct url_case {
    const char *url;
    int status;
    const char *path;
    enum path_area area;
};

static const struct url_case url_cases[] = {
    { "/static/a.txt", 0, "static/a.txt", PATH_STATIC },
    { "/dynamic/b.bin", 0, "dynamic/b.bin", PATH_DYNAMIC },
    /* query and fragment dropped */
    { "/static/a.txt?x=1&y", 0, "static/a.txt", PATH_STATIC },
    { "/static/a.txt#frag", 0, "static/a.txt", PATH_STATIC },
    { "/static/a.txt?q=%2f..%2f#f", 0, "static/a.txt", PATH_STATIC },
    /* decoded exactly once, either hex case */
    { "/static/a%20b.txt", 0, "static/a b.txt", PATH_STATIC },
    { "/static/%252e%252e/x", 0, "static/%2e%2e/x", PATH_STATIC },
    { "/static/%4A%4b%4c.txt", 0, "static/JKL.txt", PATH_STATIC },
    { "/static/%e2%82%AC", 0, "static/\xe2\x82\xac", PATH_STATIC },
    /* dot segments and repeated slashes */
    { "/static/./a.txt", 0, "static/a.txt", PATH_STATIC },
    { "/static/sub/../a.txt", 0, "static/a.txt", PATH_STATIC },
    { "/static/%2e/a.txt", 0, "static/a.txt", PATH_STATIC },
    { "/static/sub/%2E%2E/a.txt", 0, "static/a.txt", PATH_STATIC },
    { "/static/../dynamic/a", 0, "dynamic/a", PATH_DYNAMIC },
    { "/static//a.txt", 0, "static/a.txt", PATH_STATIC },
    { "//static///sub//a.txt", 0, "static/sub/a.txt", PATH_STATIC },
    { "/static/sub/", 0, "static/sub/", PATH_STATIC },
    { "/static/..a/b..", 0, "static/..a/b..", PATH_STATIC },
    { "/static/.hidden", 0, "static/.hidden", PATH_STATIC },
    /* climbing above the root */
    { "/../static/a.txt", 400, NULL, 0 },
    { "/static/../../etc/passwd", 400, NULL, 0 },
    { "/static/%2e%2e/%2e%2e/etc/passwd", 400, NULL, 0 },
    { "/static/..%2f..%2fetc/passwd", 400, NULL, 0 },
    { "/..", 400, NULL, 0 },
    /* encoded slash, NUL, bad escapes */
    { "/static/a%2fb", 400, NULL, 0 },
    { "/static/a%2Fb", 400, NULL, 0 },
    { "/static%2fa.txt", 400, NULL, 0 },
    { "/static/a%00.txt", 400, NULL, 0 },
    { "/static/%zz", 400, NULL, 0 },
    { "/static/%4", 400, NULL, 0 },
    { "/static/%", 400, NULL, 0 },
    { "/static/%g0", 400, NULL, 0 },
    /* neither origin-form nor absolute-form */
    { "static/a.txt", 400, NULL, 0 },
    { "*", 400, NULL, 0 },
    { "", 400, NULL, 0 },
    /* absolute-form */
    { "http://example.com/static/a.txt", 0, "static/a.txt", PATH_STATIC },
    { "http://example.com:8080/dynamic/b?q", 0, "dynamic/b", PATH_DYNAMIC },
    { "http://example.com", 404, NULL, 0 },
    /* outside the two areas */
    { "/", 404, NULL, 0 },
    { "/index.html", 404, NULL, 0 },
    { "/static", 404, NULL, 0 },
    { "/dynamic", 404, NULL, 0 },
    { "/staticx/a", 404, NULL, 0 },
    { "/dynamicfoo", 404, NULL, 0 },
    { "/etc/passwd", 404, NULL, 0 },
    { "/static/../etc/passwd", 404, NULL, 0 },
    { "/STATIC/a.txt", 404, NULL, 0 },
};

/* Runs path_from_url on url with a large buffer and checks the result against c. */
static void check_url(const struct url_case *c)
{
    char out[PATH_MAX_BYTES];
    enum path_area area = (enum path_area)-1;
    int rc;

    memset(out, '#', sizeof out);
    rc = path_from_url(c->url, strlen(c->url), out, sizeof out, &area);
    if (rc != c->status)
        fail_msg("\"%s\": returned %d, want %d", c->url, rc, c->status);
    if (c->status != 0)
        return;
    if (memchr(out, '\0', sizeof out) == NULL || strcmp(out, c->path) != 0)
        fail_msg("\"%s\": path \"%.64s\", want \"%s\"", c->url, out, c->path);
    if (area != c->area)
        fail_msg("\"%s\": area %d, want %d", c->url, (int)area, (int)c->area);
}

static void test_url_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof url_cases / sizeof url_cases[0]; i++)
        check_url(&url_cases[i]);
}

static void test_url_honours_len(void **state)
{
    /* only the first len bytes are the target: what follows must not be read as part of it */
    static const char buf[] = "/static/a.txt/../../../etc/passwd";
    char out[64];
    enum path_area area;
    (void)state;

    assert_int_equal(path_from_url(buf, strlen("/static/a.txt"), out, sizeof out, &area), 0);
    assert_string_equal(out, "static/a.txt");
    assert_int_equal(area, PATH_STATIC);
}

static void test_url_too_long_for_cap(void **state)
{
    static const char url[] = "/static/a-file-name-that-is-long.txt";
    char out[64];
    enum path_area area;
    (void)state;

    assert_int_equal(path_from_url(url, strlen(url), out, 16, &area), 414);
    /* "static/a.txt" is 12 bytes: 13 with its NUL fits, 12 does not */
    assert_int_equal(path_from_url("/static/a.txt", 13, out, 13, &area), 0);
    assert_string_equal(out, "static/a.txt");
    assert_int_equal(path_from_url("/static/a.txt", 13, out, 12, &area), 414);
    /* what must fit is the result, not the target: dot segments and escapes shrink it */
    assert_int_equal(path_from_url("/static/sub/../a.txt", 20, out, 13, &area), 0);
    assert_string_equal(out, "static/a.txt");
    assert_int_equal(path_from_url("/static/%41.txt", 15, out, 13, &area), 0);
    assert_string_equal(out, "static/A.txt");
}

/* The temporary tree for path_open: base/root is the document root, base/outside a file beside it. */
struct tree {
    char base[64];
    int root_fd;
};

static const char a_content[] = "hello from a.txt\n";

/* Joins base and rel into buf (static), for the setup and teardown calls below. */
static const char *at(const struct tree *t, const char *rel)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s/%s", t->base, rel);
    return buf;
}

static int make_file(const char *name, const char *content)
{
    FILE *f = fopen(name, "w");
    if (f == NULL)
        return -1;
    fputs(content, f);
    return fclose(f);
}

static int tree_setup(void **state)
{
    static struct tree t;

    snprintf(t.base, sizeof t.base, "/tmp/aws_test_path_XXXXXX");
    if (mkdtemp(t.base) == NULL)
        return -1;
    if (mkdir(at(&t, "root"), 0755) || mkdir(at(&t, "root/static"), 0755) ||
        mkdir(at(&t, "root/static/sub"), 0755) || mkdir(at(&t, "root/dynamic"), 0755) ||
        make_file(at(&t, "root/static/a.txt"), a_content) ||
        make_file(at(&t, "outside"), "secret outside the root\n") ||
        make_file(at(&t, "root/static/sub/b.txt"), "b\n") ||
        symlink("../static/a.txt", at(&t, "root/dynamic/link.txt")) ||
        symlink("/etc/passwd", at(&t, "root/static/abs_evil")) ||
        symlink("../../outside", at(&t, "root/static/rel_evil")) ||
        mkfifo(at(&t, "root/static/fifo"), 0644))
        return -1;
    t.root_fd = open(at(&t, "root"), O_RDONLY | O_DIRECTORY);
    if (t.root_fd < 0)
        return -1;
    *state = &t;
    return 0;
}

static int tree_teardown(void **state)
{
    static const char *const files[] = {
        "root/static/a.txt", "root/static/sub/b.txt", "root/dynamic/link.txt",
        "root/static/abs_evil", "root/static/rel_evil", "root/static/fifo", "outside",
    };
    static const char *const dirs[] = { "root/static/sub", "root/static", "root/dynamic", "root" };
    struct tree *t = *state;
    int bad = 0;

    if (t == NULL)
        return -1;
    close(t->root_fd);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        bad |= unlink(at(t, files[i]));
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        bad |= rmdir(at(t, dirs[i]));
    bad |= rmdir(t->base);
    return bad ? -1 : 0;
}

/* Opens rel under the tree's root and checks it reads back as content; closes the fd. */
static void check_opens_with(const struct tree *t, const char *rel, const char *content)
{
    struct stat st;
    char buf[128];
    ssize_t n;
    int fd = path_open(t->root_fd, rel, &st, false);

    if (fd < 0)
        fail_msg("path_open(\"%s\") = %d, want an fd", rel, fd);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_size, strlen(content));
    n = read(fd, buf, sizeof buf);
    close(fd);
    assert_int_equal(n, strlen(content));
    assert_memory_equal(buf, content, strlen(content));
}

/* Checks that path_open(rel) refuses with minus status. */
static void check_refused(const struct tree *t, const char *rel, int status)
{
    struct stat st;
    int rc = path_open(t->root_fd, rel, &st, false);

    if (rc != -status) {
        if (rc >= 0)
            close(rc);
        fail_msg("path_open(\"%s\") = %d, want %d", rel, rc, -status);
    }
}

/* Returns the lowest free fd number, the one the next open() would get. */
static int lowest_free_fd(void)
{
    int fd = open("/dev/null", O_RDONLY);
    assert_true(fd >= 0);
    close(fd);
    return fd;
}

static void test_open_regular(void **state)
{
    const struct tree *t = *state;
    check_opens_with(t, "static/a.txt", a_content);
    check_opens_with(t, "static/sub/b.txt", "b\n");
}

static void test_open_symlink_inside_root(void **state)
{
    const struct tree *t = *state;
    check_opens_with(t, "dynamic/link.txt", a_content);
}

static void test_open_symlinks_leaving_root(void **state)
{
    const struct tree *t = *state;
    check_refused(t, "static/abs_evil", 404);
    check_refused(t, "static/rel_evil", 404);
    check_refused(t, "../outside", 404);
    check_refused(t, "static/../../outside", 404);
}

static void test_open_not_regular_or_missing(void **state)
{
    const struct tree *t = *state;
    check_refused(t, "static/sub", 404);
    check_refused(t, "static/sub/", 404);
    check_refused(t, "static/missing", 404);
    check_refused(t, "static/a.txt/x", 404);
    alarm(5);   /* a blocking open of the FIFO would hang forever: SIGALRM ends the test run */
    check_refused(t, "static/fifo", 404);
    alarm(0);
}

/* With allow_dir, directories open (the server then redirects, indexes or lists them);
 * FIFOs and escapes are still refused. */
static void test_open_directory_when_allowed(void **state)
{
    const struct tree *t = *state;
    const char *dirs[] = { "static/sub", "static/sub/", "static" };
    struct stat st;

    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        int fd = path_open(t->root_fd, dirs[i], &st, true);
        if (fd < 0)
            fail_msg("path_open(\"%s\", allow_dir) = %d, want an fd", dirs[i], fd);
        assert_true(S_ISDIR(st.st_mode));
        close(fd);
    }
    alarm(5);
    assert_int_equal(path_open(t->root_fd, "static/fifo", &st, true), -404);
    alarm(0);
    assert_int_equal(path_open(t->root_fd, "static/abs_evil", &st, true), -404);
    assert_int_equal(path_open(t->root_fd, "..", &st, true), -404);
}

/* path_open must not leak fds: the lowest free fd is the same before and after refusals. */
static void test_open_no_fd_leak(void **state)
{
    const struct tree *t = *state;
    struct stat st;
    int before = lowest_free_fd();

    for (int i = 0; i < 20; i++) {
        assert_int_equal(path_open(t->root_fd, "static/sub", &st, false), -404);
        assert_int_equal(path_open(t->root_fd, "static/abs_evil", &st, false), -404);
    }
    assert_int_equal(lowest_free_fd(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_table),
        cmocka_unit_test(test_url_honours_len),
        cmocka_unit_test(test_url_too_long_for_cap),
        cmocka_unit_test(test_open_regular),
        cmocka_unit_test(test_open_symlink_inside_root),
        cmocka_unit_test(test_open_symlinks_leaving_root),
        cmocka_unit_test(test_open_not_regular_or_missing),
        cmocka_unit_test(test_open_directory_when_allowed),
        cmocka_unit_test(test_open_no_fd_leak),
    };
    return cmocka_run_group_tests(tests, tree_setup, tree_teardown);
}
