/* options.c - the command line: defaults, getopt_long, and checking every value before the
 * server starts. A bad command line yields one "aws: ..." line and the usage on stderr; this
 * module never opens sockets or log files, and never exits (the caller chooses the status). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "options.h"
#include "version.h"

#define MAX_WORKERS 256
#define MAX_CONNECTIONS 10000000L
#define MAX_DURATION_MS (24u * 60 * 60 * 1000)  /* one day: anything longer is surely a typo */

/* Long options without a short form get values past any char, so getopt's optopt never
 * confuses them with a letter. */
enum {
    OPT_KEEPALIVE = 256,
    OPT_HEADER,
    OPT_SEND,
    OPT_SHUTDOWN,
    OPT_MAX_CONN,
    OPT_ACCESS_LOG,
    OPT_ERROR_LOG,
    OPT_MIME_TYPES,
    OPT_TRACE,
    OPT_LISTING,
    OPT_PRECOMPRESSED,
};

/* The leading ':' makes getopt report a missing argument as ':' instead of '?'. */
static const char short_opts[] = ":p:b:r:w:qhV";

static const struct option long_opts[] = {
    { "port", required_argument, NULL, 'p' },
    { "bind", required_argument, NULL, 'b' },
    { "root", required_argument, NULL, 'r' },
    { "workers", required_argument, NULL, 'w' },
    { "keepalive-timeout", required_argument, NULL, OPT_KEEPALIVE },
    { "header-timeout", required_argument, NULL, OPT_HEADER },
    { "send-timeout", required_argument, NULL, OPT_SEND },
    { "shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN },
    { "max-connections", required_argument, NULL, OPT_MAX_CONN },
    { "access-log", required_argument, NULL, OPT_ACCESS_LOG },
    { "error-log", required_argument, NULL, OPT_ERROR_LOG },
    { "mime-types", required_argument, NULL, OPT_MIME_TYPES },
    { "quiet", no_argument, NULL, 'q' },
    { "trace", no_argument, NULL, OPT_TRACE },
    { "listing", no_argument, NULL, OPT_LISTING },
    { "precompressed", no_argument, NULL, OPT_PRECOMPRESSED },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
};

static void set_defaults(struct options *o)
{
    *o = (struct options){
        .port = 8888,
        .bind = NULL,
        .root = ".",
        .workers = 1,
        .keepalive_timeout_ms = 15000,
        .header_timeout_ms = 30000,
        .send_timeout_ms = 30000,
        .shutdown_timeout_ms = 5000,
        .max_connections = 0,
        .access_log = NULL,
        .error_log = "-",
        .mime_types = NULL,
    };
}

void options_usage(FILE *out, const char *argv0)
{
    fprintf(out,
        "usage: %s [options]\n"
        "Serves ROOT/static (sendfile) and ROOT/dynamic (Linux AIO) over HTTP/1.1.\n"
        "\n"
        "  -p, --port N               TCP port, 1-65535 (8888)\n"
        "  -b, --bind ADDR            IPv4 or IPv6 literal to listen on (all, dual-stack)\n"
        "  -r, --root DIR             directory holding static/ and dynamic/ (.)\n"
        "  -w, --workers N|auto       event loops, 1-256; auto = online CPUs (1)\n"
        "      --keepalive-timeout T  idle time between requests, 0 = none (15s)\n"
        "      --header-timeout T     time to receive a request head, 0 = none (30s)\n"
        "      --send-timeout T       time a client may stall a response, 0 = none (30s)\n"
        "      --shutdown-timeout T   grace for responses in flight at SIGTERM (5s)\n"
        "      --max-connections N    open connections, 1-10000000 (from RLIMIT_NOFILE)\n"
        "      --access-log FILE|-    Combined Log Format, '-' = stdout (none)\n"
        "      --error-log FILE|-     diagnostics, '-' = stderr (-)\n"
        "      --mime-types FILE      extra types, mime.types format (built-in table)\n"
        "  -q, --quiet                errors and warnings only (off)\n"
        "      --trace                log every connection state change (off)\n"
        "      --listing              index directories without index.html (off)\n"
        "      --precompressed        serve FILE.br or FILE.gz when accepted (off)\n"
        "  -h, --help                 print this help and exit\n"
        "  -V, --version              print the version and exit\n"
        "\n"
        "T is a duration: 30 or 30s (seconds), 1.5s, 500ms; at most one day.\n"
        "SIGTERM/SIGINT: graceful stop (twice: at once); SIGUSR1: reopen logs.\n",
        argv0);
}

/* Prints "aws: <message>" and the usage on stderr; returns OPTIONS_USAGE for the caller. */
__attribute__((format(printf, 2, 3)))
static enum options_rc usage_error(const char *argv0, const char *fmt, ...)
{
    fputs("aws: ", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    options_usage(stderr, argv0);
    return OPTIONS_USAGE;
}

/* The long name of the option getopt returned as val, for messages ("--port"). */
static const char *opt_name(int val)
{
    for (const struct option *lo = long_opts; lo->name; lo++)
        if (lo->val == val)
            return lo->name;
    return "?";
}

/* Parses a plain decimal count in [min, max]. strtol alone would accept leading blanks,
 * a sign and "12abc"; a count on the command line should be nothing but digits. */
static bool parse_count(const char *s, long min, long max, long *out)
{
    if (!isdigit((unsigned char)s[0]))
        return false;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno == ERANGE || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* Reads a run of decimal digits at *s into *v, advancing *s; returns how many there were,
 * or -1 past 9 (so *v cannot overflow, and no sane duration needs more). */
static int read_digits(const char **s, unsigned long *v)
{
    int n = 0;
    *v = 0;
    for (; isdigit((unsigned char)**s); (*s)++) {
        if (++n > 9)
            return -1;
        *v = *v * 10 + (unsigned long)(**s - '0');
    }
    return n;
}

/* Parses "N", "Ns", "Nms", "N.F" or "N.Fs" into milliseconds. Integer arithmetic throughout,
 * so "0.1" is exactly 100 ms; fractions finer than a millisecond are refused rather than
 * rounded, because rounding "0.0004" down would silently turn a timeout off. */
static bool parse_duration(const char *s, unsigned *out_ms)
{
    unsigned long whole, frac = 0;
    int nfrac = 0;
    if (read_digits(&s, &whole) <= 0)
        return false;
    if (*s == '.') {
        s++;
        nfrac = read_digits(&s, &frac);
        if (nfrac <= 0)
            return false;
    }
    unsigned long scale;  /* milliseconds per unit */
    if (*s == '\0' || strcmp(s, "s") == 0)
        scale = 1000;
    else if (strcmp(s, "ms") == 0)
        scale = 1;
    else
        return false;
    unsigned long div = 1;
    for (int i = 0; i < nfrac; i++)
        div *= 10;
    /* frac < 1e9 and scale <= 1000, so the product fits in 64 bits */
    unsigned long long frac_ms = (unsigned long long)frac * scale;
    if (frac_ms % div != 0)
        return false;
    unsigned long long ms = (unsigned long long)whole * scale + frac_ms / div;
    if (ms > MAX_DURATION_MS)
        return false;
    *out_ms = (unsigned)ms;
    return true;
}

/* True when s is a plain IPv4 or IPv6 address literal (no brackets, no port, no name). */
static bool is_address(const char *s)
{
    unsigned char addr[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
}

/* Online CPUs, clamped to the accepted worker range. */
static int auto_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > MAX_WORKERS ? MAX_WORKERS : (int)n;
}

/* Reports an option getopt refused ('?'). optopt is 0 for an unknown or ambiguous long
 * option (then argv[optind - 1] is that word), the option's value for "--flag=value" on a
 * flag, and the letter for an unknown short option. */
static enum options_rc bad_option(const char *argv0, char **argv)
{
    if (optopt == 0) {
        const char *word = argv[optind - 1];
        size_t n = strcspn(word + 2, "=");
        int matches = 0;
        for (const struct option *lo = long_opts; lo->name; lo++)
            if (strncmp(lo->name, word + 2, n) == 0)
                matches++;
        return usage_error(argv0, "%s option '%.*s'", matches > 1 ? "ambiguous" : "unknown",
                           (int)n + 2, word);
    }
    for (const struct option *lo = long_opts; lo->name; lo++)
        if (lo->val == optopt && lo->has_arg == no_argument)
            return usage_error(argv0, "--%s takes no value", lo->name);
    return usage_error(argv0, "unknown option '-%c'", optopt);
}

/* Applies one option with an argument; returns OPTIONS_OK or the usage error. */
static enum options_rc apply_value(struct options *o, int c, const char *arg, const char *argv0)
{
    const char *name = opt_name(c);
    long n;
    struct stat st;
    unsigned *ms = NULL;

    switch (c) {
    case 'p':
        if (!parse_count(arg, 1, 65535, &n))
            return usage_error(argv0, "--port: '%s' is not a port (1-65535)", arg);
        o->port = (uint16_t)n;
        return OPTIONS_OK;
    case 'b':
        if (!is_address(arg))
            return usage_error(argv0, "--bind: '%s' is not an IPv4 or IPv6 address", arg);
        o->bind = arg;
        return OPTIONS_OK;
    case 'r':
        if (stat(arg, &st) != 0)
            return usage_error(argv0, "--root: '%s': %s", arg, strerror(errno));
        if (!S_ISDIR(st.st_mode))
            return usage_error(argv0, "--root: '%s' is not a directory", arg);
        o->root = arg;
        return OPTIONS_OK;
    case 'w':
        if (strcmp(arg, "auto") == 0)
            o->workers = auto_workers();
        else if (parse_count(arg, 1, MAX_WORKERS, &n))
            o->workers = (int)n;
        else
            return usage_error(argv0, "--workers: '%s' is not 1-%d or 'auto'", arg, MAX_WORKERS);
        return OPTIONS_OK;
    case OPT_MAX_CONN:
        if (!parse_count(arg, 1, MAX_CONNECTIONS, &n))
            return usage_error(argv0, "--max-connections: '%s' is not 1-%ld", arg, MAX_CONNECTIONS);
        o->max_connections = n;
        return OPTIONS_OK;
    case OPT_KEEPALIVE: ms = &o->keepalive_timeout_ms; break;
    case OPT_HEADER:    ms = &o->header_timeout_ms; break;
    case OPT_SEND:      ms = &o->send_timeout_ms; break;
    case OPT_SHUTDOWN:  ms = &o->shutdown_timeout_ms; break;
    default:
        /* the three file names: checked when opened, where the error is clearer */
        if (arg[0] == '\0')
            return usage_error(argv0, "--%s: empty file name", name);
        if (c == OPT_ACCESS_LOG)
            o->access_log = arg;
        else if (c == OPT_ERROR_LOG)
            o->error_log = arg;
        else
            o->mime_types = arg;
        return OPTIONS_OK;
    }
    if (!parse_duration(arg, ms))
        return usage_error(argv0, "--%s: '%s' is not a duration "
                           "(like 30, 1.5s or 500ms, whole ms, at most 1 day)", name, arg);
    return OPTIONS_OK;
}

enum options_rc options_parse(struct options *o, int argc, char **argv)
{
    const char *argv0 = argc > 0 && argv[0] ? argv[0] : "aws";
    set_defaults(o);
    /* optind = 0 makes glibc reinitialise its scanner, so tests can parse many times;
     * opterr = 0 silences getopt so the one error line is ours. */
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) != -1) {
        enum options_rc rc = OPTIONS_OK;
        switch (c) {
        case 'q': o->quiet = true; break;
        case OPT_TRACE: o->trace = true; break;
        case OPT_LISTING: o->listing = true; break;
        case OPT_PRECOMPRESSED: o->precompressed = true; break;
        case 'h':
            options_usage(stdout, argv0);
            return OPTIONS_EXIT;
        case 'V':
            printf("aws " AWS_VERSION "\n"
                   "an asynchronous static-file web server for Linux (epoll, sendfile, AIO)\n");
            return OPTIONS_EXIT;
        case ':':
            return usage_error(argv0, "--%s needs a value", opt_name(optopt));
        case '?':
            return bad_option(argv0, argv);
        default:
            rc = apply_value(o, c, optarg, argv0);
            break;
        }
        if (rc != OPTIONS_OK)
            return rc;
    }
    if (optind < argc)
        return usage_error(argv0, "unexpected argument '%s'", argv[optind]);
    return OPTIONS_OK;
}
