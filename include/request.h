/* request.h - the HTTP/1.x request adapter over http-parser.
 * It is fed whatever bytes arrived, in any pieces, and says "need more", "complete" or which
 * HTTP error to answer. It owns no socket and does no I/O. */
#ifndef AWS_REQUEST_H
#define AWS_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <http_parser.h>

#define REQ_MAX_HEAD_BYTES 8192          /* request line + headers; above: 431 (414 if still in the URL) */
#define REQ_MAX_BODY_BYTES (1024 * 1024) /* request bodies are read and discarded; above: 413 */
#define REQ_MAX_FIELD_NAME 32            /* longer header names are never ones we look at */

enum req_rc {
    REQ_MORE,   /* every byte was used; feed more */
    REQ_DONE,   /* one whole request (head and body) was read; bytes after it are not used */
    REQ_ERROR,  /* malformed or over a limit: answer r->status and close */
};

enum req_method { REQ_GET, REQ_HEAD, REQ_OPTIONS, REQ_OTHER };

/* Headers the server acts on or logs; all others are parsed and dropped. */
enum req_hdr {
    REQ_HDR_HOST,
    REQ_HDR_RANGE,
    REQ_HDR_IF_RANGE,
    REQ_HDR_IF_MATCH,
    REQ_HDR_IF_NONE_MATCH,
    REQ_HDR_IF_MODIFIED_SINCE,
    REQ_HDR_IF_UNMODIFIED_SINCE,
    REQ_HDR_ACCEPT_ENCODING,
    REQ_HDR_TRANSFER_ENCODING,
    REQ_HDR_REFERER,
    REQ_HDR_USER_AGENT,
    REQ_HDR_COUNT
};

/* The scan of chunked framing that runs ahead of http-parser. */
enum chunk_state {
    CHUNK_SIZE, CHUNK_EXT, CHUNK_SIZE_LF, CHUNK_DATA, CHUNK_DATA_CR, CHUNK_DATA_LF,
    CHUNK_TRAILER, CHUNK_TRAILER_NAME, CHUNK_TRAILER_LINE, CHUNK_TRAILER_LF, CHUNK_END_LF,
    CHUNK_DONE
};

struct req_text {
    uint16_t off, len;  /* into req.text */
    uint8_t count;      /* how many times the header appeared */
};

struct req {
    http_parser parser;
    enum req_method method;
    int status;                 /* the HTTP status to answer when req_feed() said REQ_ERROR */
    const char *error;          /* why, for the log line */
    unsigned short http_major, http_minor;
    bool keep_alive;            /* RFC 9112 §9.3, from version and Connection */
    bool head_done;             /* on_headers_complete ran */
    bool done;                  /* on_message_complete ran */
    bool in_value;              /* the last callback was a header value */
    bool line_seen, line_done;  /* request line: begun (past leading CRLFs), ended */
    bool scan_done;             /* the raw scan reached the blank line ending the head */
    bool after_cr;              /* the last head byte scanned was a CR */
    bool chunked;               /* the body is chunked (known once the head is done) */
    unsigned short line_len;    /* bytes other than CR on the current header line */
    enum chunk_state chunk;     /* where the chunked framing scan is */
    unsigned chunk_digits;
    uint64_t chunk_left;        /* chunk size being read, then data bytes still to come */
    unsigned char ver_len;
    char ver[9];                /* the request line's last token so far: "HTTP/1.1" */
    struct req_text *open;      /* the URL or kept value being appended, or NULL */
    size_t head_bytes;          /* bytes of request line and headers fed so far */
    uint64_t body_bytes;
    struct req_text url;
    struct req_text hdr[REQ_HDR_COUNT];
    char name[REQ_MAX_FIELD_NAME];
    size_t name_len;            /* may exceed sizeof name: then the name is ignored */
    size_t text_len;
    char text[REQ_MAX_HEAD_BYTES];  /* the URL and the values we keep, NUL-separated */
};

/* Prepares r for the first request on a connection. */
void req_init(struct req *r);
/* Prepares r for the next request on the same connection. */
void req_reset(struct req *r);
/* Feeds n bytes; *used says how many belong to this request (the rest are the next one's). */
enum req_rc req_feed(struct req *r, const char *buf, size_t n, size_t *used);
/* The request target as sent (NUL-terminated, owned by r). */
const char *req_url(const struct req *r, size_t *len);
/* A kept header's value with surrounding blanks trimmed, or NULL when absent. */
const char *req_header(const struct req *r, enum req_hdr h, size_t *len);

#endif
