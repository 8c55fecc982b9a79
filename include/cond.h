/* cond.h - validators and conditional requests (RFC 9110 §8.8, §13): ETag and HTTP-date
 * formatting and parsing, and the precedence of If-Match, If-Unmodified-Since,
 * If-None-Match, If-Modified-Since and If-Range. Pure string work: no I/O. */
#ifndef AWS_COND_H
#define AWS_COND_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

#define COND_ETAG_BYTES 64  /* room for any ETag cond_etag() writes, NUL included */

/* A header value as it came (not NUL-terminated), or ptr NULL when absent. */
struct cond_value {
    const char *ptr;
    size_t len;
};

struct cond_headers {
    struct cond_value if_match, if_none_match, if_modified_since, if_unmodified_since, if_range;
};

/* Writes a strong ETag, quotes included, derived from inode, size and mtime (nanoseconds)
 * followed by `suffix` (e.g. "-gz" for a precompressed variant; NULL for none), e.g.
 * "\"1a2b-400-17e1c2d3a4b5c6d7\"". Returns the length (< COND_ETAG_BYTES). */
size_t cond_etag(char out[COND_ETAG_BYTES], const struct stat *st, const char *suffix);

/* Parses an HTTP-date: IMF-fixdate, obsolete RFC 850 and asctime forms. Returns -1 if invalid. */
time_t cond_parse_date(const char *s, size_t len);

/* Evaluates the preconditions in the order of RFC 9110 §13.2.2 for a GET or HEAD of a
 * representation with this ETag and mtime. Returns 0 (serve normally), 304 or 412.
 * If-Match and If-None-Match take lists and "*"; If-None-Match compares weakly, If-Match
 * strongly; the date headers are ignored when the matching ETag header is present, and when
 * unparseable. */
int cond_evaluate(const struct cond_headers *h, const char *etag, time_t mtime);

/* If-Range (RFC 9110 §13.1.5): true when the Range header should be honoured, i.e. If-Range
 * is absent, or is a strong ETag equal to `etag`, or is an HTTP-date exactly equal to mtime. */
bool cond_if_range(const struct cond_value *if_range, const char *etag, time_t mtime);

#endif
