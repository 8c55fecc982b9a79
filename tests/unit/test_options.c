/* test_options.c - unit tests for options.c: the defaults, every option's accepted and refused
 * values, the duration forms, --help and --version, and the shape of a usage error (exactly
 * one "aws: ..." line on stderr, then the usage, nothing on stdout). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "version.h"

#define OUT_CAP 8192

/* What one options_parse call printed. */
struct captured {
    char out[OUT_CAP];
    char err[OUT_CAP];
};

/* Reads what f holds into buf[cap] as a string and closes f. */
static void slurp(FILE *f, char *buf, size_t cap)
{
    rewind(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Runs options_parse on {"aws", args..., NULL} with stdout and stderr sent to temporary files,
 * so the test can read what was printed. getopt permutes argv, hence the private copy. */
static enum options_rc parse_capture(struct options *o, const char *const *args, struct captured *c)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = "aws";
    for (; args && args[argc - 1]; argc++) {
        assert_true(argc < 63);
        argv[argc] = (char *)args[argc - 1];
    }
    argv[argc] = NULL;

    FILE *out = tmpfile(), *err = tmpfile();
    assert_non_null(out);
    assert_non_null(err);
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
    dup2(fileno(out), STDOUT_FILENO);
    dup2(fileno(err), STDERR_FILENO);
    enum options_rc rc = options_parse(o, argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved_out);
    close(saved_err);
    slurp(out, c->out, sizeof c->out);
    slurp(err, c->err, sizeof c->err);
    return rc;
}

/* Parses args (NULL-terminated) that must be accepted silently. */
static void parse_ok(struct options *o, const char *const *args)
{
    struct captured c;
    enum options_rc rc = parse_capture(o, args, &c);
    if (rc != OPTIONS_OK || c.out[0] || c.err[0])
        fail_msg("'%s %s': rc %d, stdout '%s', stderr '%s'", args[0] ? args[0] : "",
                 args[0] && args[1] ? args[1] : "", rc, c.out, c.err);
}

/* Counts the lines of s that start with prefix. */
static int lines_starting(const char *s, const char *prefix)
{
    int n = 0;
    for (const char *line = s; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (strncmp(line, prefix, strlen(prefix)) == 0)
            n++;
    return n;
}

/* Parses args that must be refused: OPTIONS_USAGE, stdout empty, and stderr is exactly one
 * "aws: " line (starting with want_first when given) followed by the usage. */
static void parse_refused(const char *const *args, const char *want_first)
{
    struct options o;
    struct captured c;
    enum options_rc rc = parse_capture(&o, args, &c);
    const char *nl = strchr(c.err, '\n');
    if (rc != OPTIONS_USAGE || c.out[0] || !nl || strncmp(c.err, "aws: ", 5) != 0
        || strncmp(nl + 1, "usage: aws ", 11) != 0 || lines_starting(c.err, "aws") != 1)
        fail_msg("'%s %s': rc %d, stdout '%s', stderr:\n%s", args[0] ? args[0] : "",
                 args[0] && args[1] ? args[1] : "", rc, c.out, c.err);
    if (want_first && (strncmp(c.err, want_first, strlen(want_first)) != 0
                       || c.err[strlen(want_first)] != '\n'))
        fail_msg("want first line '%s', got:\n%s", want_first, c.err);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_defaults(void **state)
{
    (void)state;
    struct options o;
    memset(&o, 0xa5, sizeof o);  /* every field must be set, not left as found */
    parse_ok(&o, (const char *const[]){ NULL });
    assert_int_equal(o.port, 8888);
    assert_null(o.bind);
    assert_string_equal(o.root, ".");
    assert_int_equal(o.workers, 1);
    assert_int_equal(o.keepalive_timeout_ms, 15000);
    assert_int_equal(o.header_timeout_ms, 30000);
    assert_int_equal(o.send_timeout_ms, 30000);
    assert_int_equal(o.shutdown_timeout_ms, 5000);
    assert_int_equal(o.max_connections, 0);
    assert_null(o.access_log);
    assert_string_equal(o.error_log, "-");
    assert_null(o.mime_types);
    assert_false(o.quiet);
    assert_false(o.trace);
    assert_false(o.listing);
    assert_false(o.precompressed);
}

static void test_port(void **state)
{
    (void)state;
    struct options o;
    parse_ok(&o, ARGS("-p", "1"));
    assert_int_equal(o.port, 1);
    parse_ok(&o, ARGS("--port", "65535"));
    assert_int_equal(o.port, 65535);
    parse_ok(&o, ARGS("--port=8080"));
    assert_int_equal(o.port, 8080);
    parse_ok(&o, ARGS("-p8081"));
    assert_int_equal(o.port, 8081);
    parse_ok(&o, ARGS("-p", "1", "-p", "2"));  /* the last one wins */
    assert_int_equal(o.port, 2);

    parse_refused(ARGS("--port", "70000"), "aws: --port: '70000' is not a port (1-65535)");
    parse_refused(ARGS("-p", "0"), "aws: --port: '0' is not a port (1-65535)");
    const char *bad[] = { "65536", "-1", "+80", " 80", "80x", "", "abc", "0x50",
                          "99999999999999999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        parse_refused(ARGS("--port", bad[i]), NULL);
}

static void test_bind(void **state)
{
    (void)state;
    struct options o;
    const char *good[] = { "127.0.0.1", "0.0.0.0", "::1", "::", "fe80::1", "::ffff:10.0.0.1" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        parse_ok(&o, ARGS("-b", good[i]));
        assert_string_equal(o.bind, good[i]);
    }
    parse_refused(ARGS("--bind", "localhost"),
                  "aws: --bind: 'localhost' is not an IPv4 or IPv6 address");
    const char *bad[] = { "[::1]", "1.2.3", "1.2.3.4:80", "", "256.0.0.1", "::1%lo", " ::1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        parse_refused(ARGS("--bind", bad[i]), NULL);
}

static void test_root(void **state)
{
    (void)state;
    struct options o;
    char dir[] = "/tmp/aws_test_options_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char file[sizeof dir + 8];
    snprintf(file, sizeof file, "%s/file", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);

    parse_ok(&o, ARGS("-r", dir));
    assert_string_equal(o.root, dir);
    parse_ok(&o, ARGS("--root", "/"));
    assert_string_equal(o.root, "/");

    char want[256];
    snprintf(want, sizeof want, "aws: --root: '%s' is not a directory", file);
    parse_refused(ARGS("--root", file), want);
    parse_refused(ARGS("--root", "/nonexistent/aws"),
                  "aws: --root: '/nonexistent/aws': No such file or directory");
    parse_refused(ARGS("--root", ""), NULL);

    unlink(file);
    rmdir(dir);
}

static void test_workers(void **state)
{
    (void)state;
    struct options o;
    parse_ok(&o, ARGS("-w", "1"));
    assert_int_equal(o.workers, 1);
    parse_ok(&o, ARGS("--workers", "256"));
    assert_int_equal(o.workers, 256);
    parse_ok(&o, ARGS("--workers=auto"));
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    assert_int_equal(o.workers, cpus < 1 ? 1 : cpus > 256 ? 256 : cpus);

    parse_refused(ARGS("-w", "0"), "aws: --workers: '0' is not 1-256 or 'auto'");
    const char *bad[] = { "257", "-1", "auto2", "AUTO", "", "1.5" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        parse_refused(ARGS("-w", bad[i]), NULL);
}

/* One duration text and the milliseconds it means. */
static const struct {
    const char *text;
    unsigned ms;
} durations[] = {
    { "0", 0 },           { "0s", 0 },          { "0ms", 0 },       { "15", 15000 },
    { "15s", 15000 },     { "250ms", 250 },     { "0.5", 500 },     { "1.5", 1500 },
    { "1.5s", 1500 },     { "0.001", 1 },       { "1.250", 1250 },  { "2.0ms", 2 },
    { "007", 7000 },      { "86400", 86400000 }, { "86400s", 86400000 },
    { "86400000ms", 86400000 },                 { "86399.999", 86399999 },
};

static const char *const bad_durations[] = {
    "", "-1", "+1", " 1", "1 ", "1s ", "abc", "1.", ".5", "1.2.3", "1x", "1m", "1h", "1S",
    "1e3", "86401", "86400.001", "86400001ms", "0.0001", "1.5ms", "9999999999",
    "1.0000000001", "ms", "s",
};

static void test_durations(void **state)
{
    (void)state;
    static const char *const names[] = { "--keepalive-timeout", "--header-timeout",
                                         "--send-timeout", "--shutdown-timeout" };
    for (size_t n = 0; n < 4; n++) {
        for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
            struct options o;
            parse_ok(&o, ARGS(names[n], durations[i].text));
            unsigned got[4] = { o.keepalive_timeout_ms, o.header_timeout_ms, o.send_timeout_ms,
                                o.shutdown_timeout_ms };
            unsigned want[4] = { 15000, 30000, 30000, 5000 };  /* the others keep defaults */
            want[n] = durations[i].ms;
            for (size_t k = 0; k < 4; k++)
                if (got[k] != want[k])
                    fail_msg("%s %s: field %zu is %u, want %u", names[n], durations[i].text, k,
                             got[k], want[k]);
        }
        for (size_t i = 0; i < sizeof bad_durations / sizeof bad_durations[0]; i++)
            parse_refused(ARGS(names[n], bad_durations[i]), NULL);
    }
    parse_refused(ARGS("--send-timeout", "-5"),
                  "aws: --send-timeout: '-5' is not a duration "
                  "(like 30, 1.5s or 500ms, whole ms, at most 1 day)");
}

static void test_max_connections(void **state)
{
    (void)state;
    struct options o;
    parse_ok(&o, ARGS("--max-connections", "1"));
    assert_int_equal(o.max_connections, 1);
    parse_ok(&o, ARGS("--max-connections=10000000"));
    assert_int_equal(o.max_connections, 10000000);
    parse_refused(ARGS("--max-connections", "0"),
                  "aws: --max-connections: '0' is not 1-10000000");
    const char *bad[] = { "10000001", "-5", "x", "", "1k" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        parse_refused(ARGS("--max-connections", bad[i]), NULL);
}

static void test_file_options(void **state)
{
    (void)state;
    struct options o;
    parse_ok(&o, ARGS("--access-log", "-", "--error-log", "/tmp/e.log", "--mime-types",
                      "/etc/mime.types"));
    assert_string_equal(o.access_log, "-");
    assert_string_equal(o.error_log, "/tmp/e.log");
    assert_string_equal(o.mime_types, "/etc/mime.types");
    parse_ok(&o, ARGS("--access-log=/var/log/aws/access.log", "--error-log=-"));
    assert_string_equal(o.access_log, "/var/log/aws/access.log");
    assert_string_equal(o.error_log, "-");
    assert_null(o.mime_types);

    parse_refused(ARGS("--access-log", ""), "aws: --access-log: empty file name");
    parse_refused(ARGS("--error-log="), "aws: --error-log: empty file name");
    parse_refused(ARGS("--mime-types", ""), "aws: --mime-types: empty file name");
}

static void test_flags(void **state)
{
    (void)state;
    struct options o;
    parse_ok(&o, ARGS("-q"));
    assert_true(o.quiet);
    assert_false(o.trace || o.listing || o.precompressed);
    parse_ok(&o, ARGS("--quiet", "--trace", "--listing", "--precompressed"));
    assert_true(o.quiet && o.trace && o.listing && o.precompressed);
    parse_ok(&o, ARGS("-qp9000"));  /* short options cluster */
    assert_true(o.quiet);
    assert_int_equal(o.port, 9000);
    parse_ok(&o, ARGS("--prec"));  /* a unique prefix is the option */
    assert_true(o.precompressed);

    parse_refused(ARGS("--quiet=1"), "aws: --quiet takes no value");
    parse_refused(ARGS("--listing=yes"), "aws: --listing takes no value");
}

static void test_help(void **state)
{
    (void)state;
    static const char *const forms[] = { "-h", "--help" };
    for (size_t i = 0; i < 2; i++) {
        struct options o;
        struct captured c;
        assert_int_equal(parse_capture(&o, ARGS(forms[i]), &c), OPTIONS_EXIT);
        assert_string_equal(c.err, "");
        assert_memory_equal(c.out, "usage: aws [options]\n", 21);
        static const char *const every[] = {
            "--port", "--bind", "--root", "--workers", "--keepalive-timeout",
            "--header-timeout", "--send-timeout", "--shutdown-timeout", "--max-connections",
            "--access-log", "--error-log", "--mime-types", "--quiet", "--trace", "--listing",
            "--precompressed", "--help", "--version", "(8888)", "(15s)", "(30s)", "(5s)",
        };
        for (size_t k = 0; k < sizeof every / sizeof every[0]; k++)
            if (!strstr(c.out, every[k]))
                fail_msg("usage lacks %s:\n%s", every[k], c.out);
    }
    /* help wins over what follows it, and is not an error */
    struct options o;
    struct captured c;
    assert_int_equal(parse_capture(&o, ARGS("--help", "--bogus"), &c), OPTIONS_EXIT);
    assert_string_equal(c.err, "");
}

static void test_version(void **state)
{
    (void)state;
    static const char *const forms[] = { "-V", "--version" };
    for (size_t i = 0; i < 2; i++) {
        struct options o;
        struct captured c;
        assert_int_equal(parse_capture(&o, ARGS(forms[i]), &c), OPTIONS_EXIT);
        assert_string_equal(c.err, "");
        const char *want = "aws " AWS_VERSION "\n";
        assert_memory_equal(c.out, want, strlen(want));
        /* then exactly one more line: the description */
        const char *second = c.out + strlen(want);
        const char *end = strchr(second, '\n');
        assert_non_null(end);
        assert_true(end - second > 10);
        assert_string_equal(end + 1, "");
    }
}

static void test_unknown_options(void **state)
{
    (void)state;
    parse_refused(ARGS("--foo"), "aws: unknown option '--foo'");
    parse_refused(ARGS("--foo=bar"), "aws: unknown option '--foo'");
    parse_refused(ARGS("-x"), "aws: unknown option '-x'");
    parse_refused(ARGS("-qx"), "aws: unknown option '-x'");
    parse_refused(ARGS("-p", "80", "--portx", "1"), "aws: unknown option '--portx'");
    parse_refused(ARGS("--p", "80"), "aws: ambiguous option '--p'");
}

static void test_missing_values(void **state)
{
    (void)state;
    parse_refused(ARGS("--port"), "aws: --port needs a value");
    parse_refused(ARGS("-p"), "aws: --port needs a value");
    parse_refused(ARGS("-q", "-r"), "aws: --root needs a value");
    parse_refused(ARGS("--keepalive-timeout"), "aws: --keepalive-timeout needs a value");
    parse_refused(ARGS("--access-log"), "aws: --access-log needs a value");
}

static void test_extra_arguments(void **state)
{
    (void)state;
    parse_refused(ARGS("foo"), "aws: unexpected argument 'foo'");
    parse_refused(ARGS("-p", "80", "foo"), "aws: unexpected argument 'foo'");
    parse_refused(ARGS("foo", "-p", "80"), "aws: unexpected argument 'foo'");
    parse_refused(ARGS("--", "-p"), "aws: unexpected argument '-p'");
    parse_refused(ARGS("-"), "aws: unexpected argument '-'");
}

/* getopt keeps state between calls; a parse after a failed one must start afresh. */
static void test_parse_again(void **state)
{
    (void)state;
    struct options o;
    parse_refused(ARGS("-xq"), NULL);   /* stops in the middle of a cluster, before q */
    parse_ok(&o, ARGS("-p", "9"));
    assert_int_equal(o.port, 9);
    assert_false(o.quiet);
    parse_refused(ARGS("-p", "9", "extra"), NULL);
    parse_ok(&o, (const char *const[]){ NULL });
    assert_int_equal(o.port, 8888);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_port),
        cmocka_unit_test(test_bind),
        cmocka_unit_test(test_root),
        cmocka_unit_test(test_workers),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_max_connections),
        cmocka_unit_test(test_file_options),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_unknown_options),
        cmocka_unit_test(test_missing_values),
        cmocka_unit_test(test_extra_arguments),
        cmocka_unit_test(test_parse_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
