/* test_accesslog.c - unit tests for accesslog.c: the exact Combined Log Format line (hosts of
 * each family, escaping, absent fields, UTC time, request time), buffering (nothing reaches the
 * file before a flush or a full buffer; overlong lines are cut), write errors, and reopening
 * after a rename (new file at the same path, same descriptor number). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accesslog.h"

#define BUF ACCESSLOG_BUF_BYTES

/* A temporary directory holding log.txt, plus the file and buffer under test. The buffer is
 * on the heap so that valgrind would see a write past its end. */
struct fixture {
    char dir[64];
    char path[96];
    char moved[96];
    struct accesslog_file file;
    struct accesslog *al;
};

static int setup(void **state)
{
    struct fixture *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    snprintf(t->dir, sizeof t->dir, "/tmp/aws_test_accesslog_XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    snprintf(t->path, sizeof t->path, "%s/log.txt", t->dir);
    snprintf(t->moved, sizeof t->moved, "%s/log.txt.1", t->dir);
    t->al = malloc(sizeof *t->al);
    if (!t->al || accesslog_file_open(&t->file, t->path) != 0)
        return -1;
    accesslog_init(t->al, &t->file);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *t = *state;
    accesslog_file_close(&t->file);
    unlink(t->path);
    unlink(t->moved);
    int rc = rmdir(t->dir);
    free(t->al);
    free(t);
    return rc;
}

/* The whole of a file as a NUL-terminated heap string (the caller frees); *len its size. */
static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *s = malloc(4 * BUF);
    assert_non_null(s);
    *len = fread(s, 1, 4 * BUF - 1, f);
    s[*len] = '\0';
    fclose(f);
    return s;
}

static size_t lines_in(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static off_t size_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static struct sockaddr_storage v4(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(40000);
    assert_int_equal(inet_pton(AF_INET, text, &sin->sin_addr), 1);
    return ss;
}

static struct sockaddr_storage v6(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(40000);
    assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
    return ss;
}

/* 2026-11-26 15:37:32 UTC */
#define NOV26 ((time_t)1795707452)

/* A plain successful GET from peer; tests change the fields they are about. */
static struct access_entry entry(const struct sockaddr_storage *peer)
{
    return (struct access_entry){
        .peer = peer, .when = NOV26, .method = "GET",
        .target = "/static/a.txt", .target_len = 13, .http_major = 1, .http_minor = 1,
        .status = 200, .bytes = 1234, .user_agent = "curl/7.88.1", .user_agent_len = 11,
        .seconds = 0.002,
    };
}

/* Writes e, flushes, and asserts the log file now holds exactly want. */
static void expect_line(struct fixture *t, const struct access_entry *e, const char *want)
{
    assert_int_equal(ftruncate(t->file.fd, 0), 0);
    accesslog_write(t->al, e);
    accesslog_flush(t->al);
    size_t len;
    char *got = read_all(t->path, &len);
    if (strcmp(got, want) != 0)
        fail_msg("got  %s\nwant %s", got, want);
    free(got);
}

static void test_ipv4(void **state)
{
    struct fixture *t = *state;
    struct sockaddr_storage peer = v4("192.0.2.7");
    struct access_entry e = entry(&peer);
    expect_line(t, &e, "192.0.2.7 - - [26/Nov/2026:15:37:32 +0000] \"GET /static/a.txt HTTP/1.1\" "
                       "200 1234 \"-\" \"curl/7.88.1\" 0.002\n");
}

static void test_ipv6_and_mapped(void **state)
{
    struct fixture *t = *state;
    struct sockaddr_storage peer = v6("2001:db8::1");
    struct access_entry e = entry(&peer);
    expect_line(t, &e, "2001:db8::1 - - [26/Nov/2026:15:37:32 +0000] \"GET /static/a.txt "
                       "HTTP/1.1\" 200 1234 \"-\" \"curl/7.88.1\" 0.002\n");
    peer = v6("::ffff:198.51.100.9");
    expect_line(t, &e, "198.51.100.9 - - [26/Nov/2026:15:37:32 +0000] \"GET /static/a.txt "
                       "HTTP/1.1\" 200 1234 \"-\" \"curl/7.88.1\" 0.002\n");
    peer = v6("::1");
    expect_line(t, &e, "::1 - - [26/Nov/2026:15:37:32 +0000] \"GET /static/a.txt "
                       "HTTP/1.1\" 200 1234 \"-\" \"curl/7.88.1\" 0.002\n");
}

static void test_unknown_peer(void **state)
{
    struct fixture *t = *state;
    struct access_entry e = entry(NULL);
    expect_line(t, &e, "- - - [26/Nov/2026:15:37:32 +0000] \"GET /static/a.txt HTTP/1.1\" "
                       "200 1234 \"-\" \"curl/7.88.1\" 0.002\n");
    struct sockaddr_storage unix_peer;
    memset(&unix_peer, 0, sizeof unix_peer);
    unix_peer.ss_family = AF_UNIX;
    e.peer = &unix_peer;
    expect_line(t, &e, "- - - [26/Nov/2026:15:37:32 +0000] \"GET /static/a.txt HTTP/1.1\" "
                       "200 1234 \"-\" \"curl/7.88.1\" 0.002\n");
}

static void test_escaping(void **state)
{
    struct fixture *t = *state;
    struct sockaddr_storage peer = v4("10.0.0.1");
    struct access_entry e = entry(&peer);
    static const char target[] = "/a\"b\\c\td\x7f\xc3\xa9\x01 x";
    e.target = target;
    e.target_len = sizeof target - 1;
    static const char ua[] = "evil\" 200 0 \"\r\n10.0.0.2 - - fake";
    e.user_agent = ua;
    e.user_agent_len = sizeof ua - 1;
    e.referer = "http://example.com/?q=\xff";
    e.referer_len = strlen(e.referer);
    expect_line(t, &e, "10.0.0.1 - - [26/Nov/2026:15:37:32 +0000] "
                       "\"GET /a\\x22b\\x5Cc\\x09d\\x7F\\xC3\\xA9\\x01 x HTTP/1.1\" 200 1234 "
                       "\"http://example.com/?q=\\xFF\" "
                       "\"evil\\x22 200 0 \\x22\\x0D\\x0A10.0.0.2 - - fake\" 0.002\n");
}

/* Lengths are honoured: strings need not end in NUL, and a NUL inside is escaped. */
static void test_lengths(void **state)
{
    struct fixture *t = *state;
    struct sockaddr_storage peer = v4("10.0.0.1");
    struct access_entry e = entry(&peer);
    e.target = "/abcXYZ";
    e.target_len = 4;
    e.user_agent = "a\0b";
    e.user_agent_len = 3;
    e.referer = "r-and-more";
    e.referer_len = 1;
    expect_line(t, &e, "10.0.0.1 - - [26/Nov/2026:15:37:32 +0000] \"GET /abc HTTP/1.1\" "
                       "200 1234 \"r\" \"a\\x00b\" 0.002\n");
}

static void test_absent_fields(void **state)
{
    struct fixture *t = *state;
    struct sockaddr_storage peer = v4("10.0.0.1");
    struct access_entry e = entry(&peer);
    e.method = "-";
    e.target = NULL;
    e.target_len = 0;
    e.http_major = e.http_minor = 0;
    e.status = 400;
    e.bytes = 0;
    e.user_agent = NULL;
    e.user_agent_len = 0;
    e.seconds = 0;
    expect_line(t, &e, "10.0.0.1 - - [26/Nov/2026:15:37:32 +0000] \"-\" 400 0 \"-\" \"-\" 0.000\n");

    /* a parsed HTTP/1.0 HEAD with a large body count */
    e = entry(&peer);
    e.method = "HEAD";
    e.http_minor = 0;
    e.bytes = 5000000000LL;
    expect_line(t, &e, "10.0.0.1 - - [26/Nov/2026:15:37:32 +0000] \"HEAD /static/a.txt "
                       "HTTP/1.0\" 200 5000000000 \"-\" \"curl/7.88.1\" 0.002\n");
}

static void test_time_fields(void **state)
{
    struct fixture *t = *state;
    struct sockaddr_storage peer = v4("10.0.0.1");
    struct access_entry e = entry(&peer);
    e.when = 1767582245;  /* 2026-01-05 03:04:05 UTC: zero-padded day and clock */
    e.seconds = 12.5;
    expect_line(t, &e, "10.0.0.1 - - [05/Jan/2026:03:04:05 +0000] \"GET /static/a.txt HTTP/1.1\" "
                       "200 1234 \"-\" \"curl/7.88.1\" 12.500\n");
    e.when = 0;
    e.seconds = -1;  /* a clock step must not print a negative duration */
    expect_line(t, &e, "10.0.0.1 - - [01/Jan/1970:00:00:00 +0000] \"GET /static/a.txt HTTP/1.1\" "
                       "200 1234 \"-\" \"curl/7.88.1\" 0.000\n");
    e.when = 1798761599;  /* 2026-12-31 23:59:59 UTC */
    e.seconds = 0.0004;
    expect_line(t, &e, "10.0.0.1 - - [31/Dec/2026:23:59:59 +0000] \"GET /static/a.txt HTTP/1.1\" "
                       "200 1234 \"-\" \"curl/7.88.1\" 0.000\n");
}

/* The line of a plain entry whose target is padded so the whole line is want_len bytes. */
static struct access_entry sized_entry(const struct sockaddr_storage *peer, char *target,
                                       size_t want_len)
{
    struct access_entry e = entry(peer);
    e.target = "/";
    e.target_len = 1;
    /* the length of the line with a one-byte target, measured by formatting it */
    struct accesslog_file f = { .fd = open("/dev/null", O_WRONLY), .path = "/dev/null" };
    assert_true(f.fd >= 0);
    struct accesslog *probe = malloc(sizeof *probe);
    assert_non_null(probe);
    accesslog_init(probe, &f);
    accesslog_write(probe, &e);
    size_t base = probe->len;
    free(probe);
    close(f.fd);
    assert_true(want_len >= base);
    memset(target, 'a', want_len - base + 1);
    target[0] = '/';
    e.target = target;
    e.target_len = want_len - base + 1;
    return e;
}

static void test_nothing_written_before_flush(void **state)
{
    struct fixture *t = *state;
    struct sockaddr_storage peer = v4("10.0.0.1");
    struct access_entry e = entry(&peer);
    for (int i = 0; i < 3; i++)
        accesslog_write(t->al, &e);
    assert_int_equal(size_of(t->path), 0);
    size_t one = t->al->len / 3;
    accesslog_flush(t->al);
    assert_int_equal(t->al->len, 0);
    assert_int_equal(size_of(t->path), 3 * one);
    accesslog_flush(t->al);  /* nothing buffered: nothing written */
    assert_int_equal(size_of(t->path), 3 * one);
}

/* Lines of 256 bytes fill the 64 KiB buffer exactly; the next line writes it out first. */
static void test_flush_when_full(void **state)
{
    struct fixture *t = *state;
    struct sockaddr_storage peer = v4("10.0.0.1");
    char target[512];
    struct access_entry e = sized_entry(&peer, target, 256);
    size_t per = BUF / 256;
    for (size_t i = 0; i < per; i++)
        accesslog_write(t->al, &e);
    assert_int_equal(t->al->len, BUF);
    assert_int_equal(size_of(t->path), 0);
    accesslog_write(t->al, &e);
    assert_int_equal(size_of(t->path), BUF);
    assert_int_equal(t->al->len, 256);

    /* a line that does not fit in what is left also writes the buffer out first */
    struct access_entry big = sized_entry(&peer, target, 300);
    for (size_t i = 0; i < per - 2; i++)
        accesslog_write(t->al, &e);  /* 256 bytes left */
    assert_int_equal(size_of(t->path), BUF);
    accesslog_write(t->al, &big);
    assert_int_equal(size_of(t->path), 2 * BUF - 256);
    assert_int_equal(t->al->len, 300);
    accesslog_flush(t->al);

    size_t len;
    char *all = read_all(t->path, &len);
    assert_int_equal(len, 2 * BUF - 256 + 300);
    assert_int_equal(lines_in(all), 2 * per);
    assert_memory_equal(all + len - 300, "10.0.0.1 - - [", 14);
    free(all);
}

/* A line longer than the whole buffer is cut to fit, on an escape boundary, with its newline. */
static void test_overlong_line(void **state)
{
    struct fixture *t = *state;
    struct sockaddr_storage peer = v4("10.0.0.1");
    struct access_entry e = entry(&peer);
    accesslog_write(t->al, &e);
    size_t first = t->al->len;

    size_t n = BUF + 1000;
    char *target = malloc(n);
    assert_non_null(target);
    memset(target, '"', n);
    target[0] = '/';
    e.target = target;
    e.target_len = n;
    accesslog_write(t->al, &e);
    assert_int_equal(size_of(t->path), first);  /* what was buffered went out first */
    size_t len = t->al->len;
    assert_true(len <= BUF && len > BUF - 8);
    const char *start = "10.0.0.1 - - [26/Nov/2026:15:37:32 +0000] \"GET /\\x22\\x22";
    assert_memory_equal(t->al->buf, start, strlen(start));
    assert_memory_equal(t->al->buf + len - 5, "\\x22\n", 5);
    assert_null(memchr(t->al->buf, '\n', len - 1));
    free(target);

    /* and the next line starts cleanly after it */
    e = entry(&peer);
    accesslog_write(t->al, &e);
    accesslog_flush(t->al);
    size_t total;
    char *all = read_all(t->path, &total);
    assert_int_equal(total, first + len + first);
    assert_memory_equal(all + first + len, all, first);
    free(all);
}

static void test_reopen_after_rename(void **state)
{
    struct fixture *t = *state;
    struct sockaddr_storage peer = v4("10.0.0.1");
    struct access_entry e = entry(&peer);
    int fd = t->file.fd;
    accesslog_write(t->al, &e);
    accesslog_flush(t->al);
    assert_int_equal(rename(t->path, t->moved), 0);

    /* until the reopen, lines follow the renamed file */
    e.status = 404;
    accesslog_write(t->al, &e);
    accesslog_flush(t->al);
    assert_int_equal(accesslog_file_reopen(&t->file), 0);
    assert_int_equal(t->file.fd, fd);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(size_of(t->path), 0);

    e.status = 304;
    accesslog_write(t->al, &e);
    accesslog_flush(t->al);
    size_t len;
    char *old = read_all(t->moved, &len);
    char *cur = read_all(t->path, &len);
    assert_non_null(strstr(old, "\" 200 1234 "));
    assert_non_null(strstr(old, "\" 404 1234 "));
    assert_null(strstr(old, "\" 304 "));
    assert_non_null(strstr(cur, "\" 304 1234 "));
    assert_int_equal(lines_in(old), 2);
    assert_int_equal(lines_in(cur), 1);
    free(old);
    free(cur);
}

/* "-" and NULL mean stdout, through a descriptor of its own; reopening them does nothing. */
static void test_stdout(void **state)
{
    (void)state;
    FILE *capture = tmpfile();
    assert_non_null(capture);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    dup2(fileno(capture), STDOUT_FILENO);

    static const char *const paths[] = { "-", NULL };
    for (int i = 0; i < 2; i++) {
        struct accesslog_file f;
        struct accesslog *al = malloc(sizeof *al);
        assert_non_null(al);
        assert_int_equal(accesslog_file_open(&f, paths[i]), 0);
        assert_true(f.fd > STDERR_FILENO);
        int fd = f.fd;
        accesslog_init(al, &f);
        struct sockaddr_storage peer = v4("10.0.0.1");
        struct access_entry e = entry(&peer);
        accesslog_write(al, &e);
        assert_int_equal(accesslog_file_reopen(&f), 0);
        assert_int_equal(f.fd, fd);
        accesslog_flush(al);
        accesslog_file_close(&f);
        assert_int_equal(f.fd, -1);
        free(al);
    }

    dup2(saved, STDOUT_FILENO);
    close(saved);
    char got[1024];
    rewind(capture);
    size_t n = fread(got, 1, sizeof got - 1, capture);
    got[n] = '\0';
    fclose(capture);
    const char *line = "10.0.0.1 - - [26/Nov/2026:15:37:32 +0000] \"GET /static/a.txt HTTP/1.1\" "
                       "200 1234 \"-\" \"curl/7.88.1\" 0.002\n";
    char want[1024];
    snprintf(want, sizeof want, "%s%s", line, line);
    assert_string_equal(got, want);
}

/* Runs fn with stderr sent to a temporary file; returns what was written there (static). */
static const char *stderr_of(void (*fn)(void *), void *arg)
{
    static char text[4096];
    FILE *capture = tmpfile();
    assert_non_null(capture);
    int saved = dup(STDERR_FILENO);
    dup2(fileno(capture), STDERR_FILENO);
    fn(arg);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(capture);
    size_t n = fread(text, 1, sizeof text - 1, capture);
    text[n] = '\0';
    fclose(capture);
    return text;
}

static void open_missing(void *arg)
{
    struct accesslog_file *f = arg;
    assert_int_equal(accesslog_file_open(f, "/nonexistent/aws/access.log"), -1);
}

static void test_open_failure(void **state)
{
    (void)state;
    struct accesslog_file f = { .fd = 7, .path = NULL };
    const char *err = stderr_of(open_missing, &f);
    assert_int_equal(f.fd, -1);
    assert_non_null(strstr(err, "aws: error: "));
    assert_non_null(strstr(err, "/nonexistent/aws/access.log"));
    assert_non_null(strstr(err, "No such file or directory"));

    /* a log that is off takes no lines and writes nothing */
    struct accesslog *al = malloc(sizeof *al);
    assert_non_null(al);
    accesslog_init(al, &f);
    struct sockaddr_storage peer = v4("10.0.0.1");
    struct access_entry e = entry(&peer);
    accesslog_write(al, &e);
    assert_int_equal(al->len, 0);
    accesslog_flush(al);
    assert_int_equal(accesslog_file_reopen(&f), 0);
    assert_int_equal(f.fd, -1);
    free(al);
}

static void write_and_flush(void *arg)
{
    struct accesslog *al = arg;
    struct sockaddr_storage peer = v4("10.0.0.1");
    struct access_entry e = entry(&peer);
    accesslog_write(al, &e);
    accesslog_flush(al);
}

/* A failing write drops the buffer and is reported once, until a write succeeds again. */
static void test_write_failure(void **state)
{
    struct fixture *t = *state;
    struct accesslog_file full = { .fd = open("/dev/full", O_WRONLY | O_CLOEXEC), .path = NULL };
    assert_true(full.fd >= 0);
    struct accesslog *al = malloc(sizeof *al);
    assert_non_null(al);
    accesslog_init(al, &full);

    const char *err = stderr_of(write_and_flush, al);
    assert_int_equal(al->len, 0);
    assert_non_null(strstr(err, "aws: error: "));
    assert_non_null(strstr(err, "No space left on device"));
    assert_int_equal(lines_in(err), 1);

    err = stderr_of(write_and_flush, al);
    assert_string_equal(err, "");
    assert_int_equal(al->len, 0);

    /* a good write in between re-arms the report */
    err = stderr_of(write_and_flush, t->al);
    assert_string_equal(err, "");
    err = stderr_of(write_and_flush, al);
    assert_non_null(strstr(err, "No space left on device"));

    close(full.fd);
    free(al);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ipv4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipv6_and_mapped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lengths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absent_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nothing_written_before_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_when_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlong_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_after_rename, setup, teardown),
        cmocka_unit_test(test_stdout),
        cmocka_unit_test(test_open_failure),
        cmocka_unit_test_setup_teardown(test_write_failure, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
