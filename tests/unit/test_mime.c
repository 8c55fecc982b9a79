/* test_mime.c - unit tests for mime.c: the built-in table, how an extension is found in a
 * path, and mime_load() with temporary mime.types files (overrides, comments, tabs, malformed
 * lines, charset on text types, thousands of entries, a missing file), then mime_free(). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mime.h"

#define OCTET "application/octet-stream"
#define MANY_EXTS 3000

struct mime_case {
    const char *path, *type;
};

/* Every extension the built-in table must know, and its type. */
static const struct mime_case builtin_cases[] = {
    { "a.html", "text/html; charset=utf-8" },
    { "a.htm", "text/html; charset=utf-8" },
    { "a.xhtml", "application/xhtml+xml" },
    { "a.css", "text/css; charset=utf-8" },
    { "a.js", "text/javascript; charset=utf-8" },
    { "a.mjs", "text/javascript; charset=utf-8" },
    { "a.json", "application/json" },
    { "a.jsonld", "application/ld+json" },
    { "a.map", "application/json" },
    { "a.webmanifest", "application/manifest+json" },
    { "a.xml", "application/xml" },
    { "a.txt", "text/plain; charset=utf-8" },
    { "a.log", "text/plain; charset=utf-8" },
    { "a.md", "text/markdown; charset=utf-8" },
    { "a.csv", "text/csv; charset=utf-8" },
    { "a.vtt", "text/vtt; charset=utf-8" },
    { "a.svg", "image/svg+xml" },
    { "a.png", "image/png" },
    { "a.apng", "image/apng" },
    { "a.jpg", "image/jpeg" },
    { "a.jpeg", "image/jpeg" },
    { "a.gif", "image/gif" },
    { "a.webp", "image/webp" },
    { "a.avif", "image/avif" },
    { "a.ico", "image/x-icon" },
    { "a.bmp", "image/bmp" },
    { "a.tif", "image/tiff" },
    { "a.tiff", "image/tiff" },
    { "a.woff", "font/woff" },
    { "a.woff2", "font/woff2" },
    { "a.ttf", "font/ttf" },
    { "a.otf", "font/otf" },
    { "a.wasm", "application/wasm" },
    { "a.pdf", "application/pdf" },
    { "a.rtf", "application/rtf" },
    { "a.epub", "application/epub+zip" },
    { "a.zip", "application/zip" },
    { "a.gz", "application/gzip" },
    { "a.tgz", "application/gzip" },
    { "a.tar", "application/x-tar" },
    { "a.7z", "application/x-7z-compressed" },
    { "a.bz2", "application/x-bzip2" },
    { "a.xz", "application/x-xz" },
    { "a.zst", "application/zstd" },
    { "a.mp3", "audio/mpeg" },
    { "a.ogg", "audio/ogg" },
    { "a.oga", "audio/ogg" },
    { "a.opus", "audio/ogg" },
    { "a.wav", "audio/wav" },
    { "a.flac", "audio/flac" },
    { "a.m4a", "audio/mp4" },
    { "a.aac", "audio/aac" },
    { "a.weba", "audio/webm" },
    { "a.mp4", "video/mp4" },
    { "a.m4v", "video/mp4" },
    { "a.webm", "video/webm" },
    { "a.mov", "video/quicktime" },
    { "a.mkv", "video/x-matroska" },
    { "a.ogv", "video/ogg" },
    { "a.mpeg", "video/mpeg" },
    { "a.mpg", "video/mpeg" },
};

/* How the extension is taken from a path: the last dot of the last segment, any case. */
static const struct mime_case path_cases[] = {
    { "A.PNG", "image/png" },
    { "x.HtMl", "text/html; charset=utf-8" },
    { "X.WOFF2", "font/woff2" },
    { "static/sub/Index.HTM", "text/html; charset=utf-8" },
    { "archive.tar.gz", "application/gzip" },
    { "archive.tar.txt", "text/plain; charset=utf-8" },
    { "/abs/path/to/app.mjs", "text/javascript; charset=utf-8" },
    { "noext", OCTET },
    { "dir.d/file", OCTET },
    { "dir.png/file", OCTET },
    { "dir.png/", OCTET },
    { ".hidden", OCTET },
    { "sub/.png", OCTET },
    { "..png", "image/png" },
    { "a.", OCTET },
    { "", OCTET },
    { "a.pngx", OCTET },
    { "a.xpng", OCTET },
    { "a.dat", OCTET },
    { "a.png.", OCTET },
    { "a.p", OCTET },
};

/* Asserts mime_type(path) == type, saying which path when not. */
static void expect_type(const char *path, const char *type)
{
    const char *got = mime_type(path);
    if (got == NULL || strcmp(got, type) != 0)
        fail_msg("mime_type(\"%s\") = \"%s\", want \"%s\"", path, got ? got : "(null)", type);
}

static void expect_cases(const struct mime_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        expect_type(cases[i].path, cases[i].type);
}

/* Writes text to a new temporary file; its name goes into path[64]. */
static void write_temp(char path[64], const char *text)
{
    snprintf(path, 64, "/tmp/aws_test_mime_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(close(fd), 0);
}

/* Loads text as a mime.types file and checks that mime_load accepts it. */
static void load_text(const char *text)
{
    char path[64];
    write_temp(path, text);
    assert_int_equal(mime_load(path), 0);
    unlink(path);
}

static void test_builtin_table(void **state)
{
    (void)state;
    expect_cases(builtin_cases, sizeof builtin_cases / sizeof builtin_cases[0]);
}

/* Upper-case paths find the same types: the lookup folds case. */
static void test_builtin_upper_case(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof builtin_cases / sizeof builtin_cases[0]; i++) {
        char upper[64];
        size_t j = 0;
        for (const char *p = builtin_cases[i].path; *p && j < sizeof upper - 1; p++)
            upper[j++] = (*p >= 'a' && *p <= 'z') ? (char)(*p - 32) : *p;
        upper[j] = '\0';
        expect_type(upper, builtin_cases[i].type);
    }
}

/* Every text/ type carries the charset, and only those do. */
static void test_builtin_charset(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof builtin_cases / sizeof builtin_cases[0]; i++) {
        const char *t = mime_type(builtin_cases[i].path);
        int text = strncmp(t, "text/", 5) == 0;
        int charset = strstr(t, "; charset=utf-8") != NULL;
        if (text != charset)
            fail_msg("\"%s\": type \"%s\"", builtin_cases[i].path, t);
    }
}

static void test_extension_from_path(void **state)
{
    (void)state;
    expect_cases(path_cases, sizeof path_cases / sizeof path_cases[0]);
    /* a very long extension is unknown rather than a long scan or an overflow */
    char path[300];
    memset(path, 'x', sizeof path - 1);
    path[sizeof path - 1] = '\0';
    path[0] = 'a';
    path[1] = '.';
    expect_type(path, OCTET);
}

static void test_load(void **state)
{
    static const char text[] =
        "# a comment line\n"
        "\n"
        "   \t  \n"
        "   # an indented comment\n"
        "text/x-custom\tcst  CST2 # trailing comment notme\n"
        "image/x-override png\n"
        "application/x-new  newext\t another\n"
        "bogus-no-slash foo\n"
        "/nosubtype bar\n"
        "text/ baz\n"
        "x-bad/ty\"pe qq\n"
        "application/x-first dup\n"
        "application/x-second dup\n"
        "\t video/x-tabs\t\ttab1\ttab2\t\n"
        "text/x-crlf crlf\r\n"
        "TEXT/X-Upper up\n"
        "application/x-dotted a.b\n"
        "application/x-len aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n"
        "application/x-no-exts\n"
        "application/x-last-line-no-newline last";
    (void)state;

    load_text(text);
    expect_type("f.cst", "text/x-custom; charset=utf-8");
    expect_type("f.CsT2", "text/x-custom; charset=utf-8");
    expect_type("f.notme", OCTET);
    expect_type("f.png", "image/x-override");
    expect_type("DIR/F.PNG", "image/x-override");
    expect_type("f.newext", "application/x-new");
    expect_type("f.another", "application/x-new");
    /* malformed types are ignored, with their extensions */
    expect_type("f.foo", OCTET);
    expect_type("f.bar", OCTET);
    expect_type("f.baz", OCTET);
    expect_type("f.qq", OCTET);
    /* the later line wins */
    expect_type("f.dup", "application/x-second");
    expect_type("f.tab1", "video/x-tabs");
    expect_type("f.tab2", "video/x-tabs");
    expect_type("f.crlf", "text/x-crlf; charset=utf-8");
    expect_type("f.up", "TEXT/X-Upper; charset=utf-8");
    expect_type("f.b", OCTET);
    expect_type("f.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "application/x-len");
    expect_type("f.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", OCTET);
    expect_type("f.last", "application/x-last-line-no-newline");
    /* what the file does not mention still comes from the built-in table */
    expect_type("f.css", "text/css; charset=utf-8");
    expect_type("f.json", "application/json");
    expect_type("f.unknown", OCTET);

    /* a second file adds to the first and overrides it */
    load_text("image/x-again png\nfont/x-more more\n");
    expect_type("f.png", "image/x-again");
    expect_type("f.more", "font/x-more");
    expect_type("f.newext", "application/x-new");

    mime_free();
    expect_type("f.png", "image/png");
    expect_type("f.cst", OCTET);
    expect_type("f.more", OCTET);
    expect_cases(builtin_cases, sizeof builtin_cases / sizeof builtin_cases[0]);
}

/* Thousands of extensions make the table grow; every one must still be found. */
static void test_load_many(void **state)
{
    size_t cap = (size_t)MANY_EXTS * 40, n = 0;
    char *text = malloc(cap), path[64], name[32], want[64];
    (void)state;

    assert_non_null(text);
    for (int i = 0; i < MANY_EXTS; i++)
        n += (size_t)snprintf(text + n, cap - n, "application/x-t%d e%d E%dz\n", i % 7, i, i);
    write_temp(path, text);
    free(text);
    assert_int_equal(mime_load(path), 0);
    unlink(path);
    for (int i = 0; i < MANY_EXTS; i++) {
        snprintf(want, sizeof want, "application/x-t%d", i % 7);
        snprintf(name, sizeof name, "f.e%d", i);
        expect_type(name, want);
        snprintf(name, sizeof name, "f.e%dZ", i);
        expect_type(name, want);
    }
    expect_type("f.png", "image/png");
    mime_free();
    expect_type("f.e1", OCTET);
}

/* A missing file fails with -1 and one log line that names it. */
static void test_load_missing(void **state)
{
    char log_path[64], buf[512];
    (void)state;

    write_temp(log_path, "");
    int log_fd = open(log_path, O_WRONLY | O_APPEND);
    int saved = dup(STDERR_FILENO);
    assert_true(log_fd >= 0 && saved >= 0);
    dup2(log_fd, STDERR_FILENO);
    int rc = mime_load("/nonexistent/aws-mime.types");
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(log_fd);
    assert_int_equal(rc, -1);

    FILE *f = fopen(log_path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    unlink(log_path);
    buf[n] = '\0';
    if (!strstr(buf, "/nonexistent/aws-mime.types") || !strstr(buf, "No such file"))
        fail_msg("log line does not name the file and the error: \"%s\"", buf);
    /* nothing was loaded, and freeing an empty table is harmless, twice */
    expect_type("f.png", "image/png");
    mime_free();
    mime_free();
    expect_type("f.png", "image/png");
}

/* Frees the loaded table after each test, so one failing test cannot spoil the next. */
static int unload(void **state)
{
    (void)state;
    mime_free();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_table),
        cmocka_unit_test(test_builtin_upper_case),
        cmocka_unit_test(test_builtin_charset),
        cmocka_unit_test(test_extension_from_path),
        cmocka_unit_test_teardown(test_load, unload),
        cmocka_unit_test_teardown(test_load_many, unload),
        cmocka_unit_test_teardown(test_load_missing, unload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
