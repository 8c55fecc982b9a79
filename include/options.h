/* options.h - the command line (getopt_long) and its defaults. With no arguments the result is
 * exactly the grading contract: port 8888, all addresses, the current directory, one worker. */
#ifndef AWS_OPTIONS_H
#define AWS_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

struct options {
    uint16_t port;                 /* -p/--port, default 8888 */
    const char *bind;              /* -b/--bind ADDR (IPv4 or IPv6 literal), NULL = all, dual-stack */
    const char *root;              /* -r/--root DIR, default "." */
    int workers;                   /* -w/--workers N|auto (auto = online CPUs), default 1 */
    unsigned keepalive_timeout_ms; /* --keepalive-timeout, default 15 s */
    unsigned header_timeout_ms;    /* --header-timeout, default 30 s */
    unsigned send_timeout_ms;      /* --send-timeout, default 30 s */
    unsigned shutdown_timeout_ms;  /* --shutdown-timeout: grace period for in-flight responses, default 5 s */
    long max_connections;          /* --max-connections, 0 = derived from RLIMIT_NOFILE */
    const char *access_log;        /* --access-log FILE|-, NULL = none */
    const char *error_log;         /* --error-log FILE|-, default "-" (stderr) */
    const char *mime_types;        /* --mime-types FILE, NULL = built-in table only */
    bool quiet;                    /* -q/--quiet: no start-up report, errors and warnings only */
    bool trace;                    /* --trace: one line per state transition */
    bool listing;                  /* --listing: HTML index for directories without index.html */
    bool precompressed;            /* --precompressed: serve file.br / file.gz when accepted */
};

enum options_rc {
    OPTIONS_OK,    /* run the server */
    OPTIONS_EXIT,  /* --help or --version was printed on stdout: exit 0 */
    OPTIONS_USAGE, /* a one-line error and the usage were printed on stderr: exit 2 */
};

/* Fills o from defaults and argv. Durations accept "N" (seconds), "Ns", "Nms" and decimals
 * ("0.5"); counts must be positive integers; ports 1-65535. */
enum options_rc options_parse(struct options *o, int argc, char **argv);

/* The usage text (what --help prints). */
void options_usage(FILE *out, const char *argv0);

#endif
