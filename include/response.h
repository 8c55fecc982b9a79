/* response.h - status line and headers, written into a caller's buffer.
 * No I/O here: the connection sends what these functions write. */
#ifndef AWS_RESPONSE_H
#define AWS_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>
#include "version.h"

#define RESP_SERVER "aws/" AWS_VERSION
#define RESP_ALLOW "Allow: GET, HEAD, OPTIONS\r\n"  /* the methods we serve */

struct resp {
    int status;
    off_t length;            /* Content-Length, or -1 for none (204, 304) */
    const char *type;        /* Content-Type, or NULL for none */
    time_t mtime;            /* Last-Modified, or 0 for none */
    bool keep_alive;         /* Connection: keep-alive or close */
    const char *extra;       /* more header lines, each ending in CRLF, or NULL */
};

/* The reason phrase for a status ("Not Found"). */
const char *resp_reason(int status);
/* Writes the head (ending in the blank line) into buf; returns its length, 0 if cap is too small. */
size_t resp_head(char *buf, size_t cap, const struct resp *rs);
/* Writes a whole error response: head plus a short HTML body (left out when head_only), with
 * `extra` header lines (each ending in CRLF, or NULL); a 405 always carries Allow.
 * Returns its length, 0 if cap is too small. */
size_t resp_error(char *buf, size_t cap, int status, bool keep_alive, bool head_only,
                  const char *extra);

#endif
