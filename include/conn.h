/* conn.h - one client connection and its state machine.
 * Only conn.c changes a connection's state; route.c decides what a request gets, and the serve
 * modules do the I/O of one state and return an io_rc. Connections closed during an epoll batch
 * are freed after it (conn_reap). */
#ifndef AWS_CONN_H
#define AWS_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include "accesslog.h"
#include "kaio.h"
#include "loop.h"
#include "range.h"
#include "request.h"
#include "timer.h"

#define CONN_RBUF_BYTES 4096   /* recv buffer: holds bytes of the next pipelined request too */
#define CONN_HBUF_BYTES 2048   /* response head, a multipart part head, or a whole error response */
#define CONN_POOL_MAX 64       /* idle buffers a loop keeps for reuse instead of freeing */
#define CONN_LINGER_MS 2000    /* at most this long in CONN_LINGER */

enum conn_state {
    CONN_READ_REQUEST,   /* waiting for (the rest of) a request */
    CONN_SEND_HEADER,    /* sending hbuf: a response head, a part head, or an error response */
    CONN_SEND_STATIC,    /* sending file bytes with sendfile() */
    CONN_WAIT_AIO,       /* the next file block is being read by the kernel */
    CONN_SEND_DYNAMIC,   /* sending a file block read by AIO */
    CONN_SEND_MEMORY,    /* sending a body built in memory (a directory listing) */
    CONN_LINGER,         /* response sent and our side shut: dropping what the client still
                            sends, so that closing does not reset the response (RFC 9112 §9.6) */
    CONN_CLOSING,        /* socket closed; freed when no AIO read is in flight */
};

/* What follows the head. */
enum conn_body { BODY_NONE, BODY_STATIC, BODY_DYNAMIC, BODY_MEMORY };

struct options;
struct fcache;
struct fcache_entry;

/* Counters of one loop, merged at exit. */
struct conn_stats {
    unsigned long long requests;
    unsigned long long bytes_static, bytes_dynamic;  /* body bytes sent */
    unsigned long long timeouts;
    unsigned long long aio_cached, aio_direct;        /* reads tried on the page cache, on the device */
    unsigned long long eagain_recv, eagain_send;      /* the socket said EAGAIN: waits for epoll */
    unsigned long long yields;                        /* steps that gave others a turn */
};

/* What every connection of one loop shares. */
struct conn_ctx {
    struct loop *loop;
    struct kaio *kaio;
    const struct options *opt;
    int root_fd;                 /* the document root, for openat2 */
    struct fcache *fcache;       /* open files of this loop (filecache.h) */
    struct conn *live;           /* every open connection (and closed ones awaiting AIO) */
    struct conn *dead;           /* closed in this batch, freed by conn_reap() */
    unsigned long next_id;
    unsigned long nconns;        /* open sockets */
    unsigned long max_conns;     /* at this many, on_limit(true) stops accepting */
    void (*on_limit)(void *ctx, bool full);
    void *limit_ctx;
    struct timer_list t_header, t_keepalive, t_send, t_linger;
    bool draining;               /* shutting down: close after the response under way */
    bool trace;                  /* --trace: log every state transition */
    bool direct_warned;          /* the O_DIRECT fallback was logged */
    struct accesslog *alog;      /* NULL when access logging is off */
    struct conn_buf *pool;       /* buffers given back by idle connections, for reuse */
    unsigned pool_len;
    void *dyn_pool;              /* idle /dynamic read blocks (serve_dynamic.c) */
    unsigned dyn_pool_len;
    uint64_t dyn_pool_idle_at;   /* ms: free the pool then if it is still untouched */
    struct conn_stats stats;
};

/* A multipart/byteranges body in progress. */
struct multipart {
    struct byte_range r[RANGE_MAX_PARTS];
    int n;                       /* ranges */
    int next;                    /* the range whose part comes next */
    bool in_part;                /* the response head is sent; parts are under way */
    bool tail_sent;              /* the closing delimiter is in hbuf */
    const char *type;            /* of the file, repeated in each part */
    char boundary[RANGE_BOUNDARY_BYTES + 1];
};

struct dyn_io;

/* What a connection needs only while a request is under way: about 15 KiB that an idle
 * keep-alive connection gives back to its loop's pool, so idle ones stay small. */
struct conn_buf {
    struct conn_buf *next_free;  /* in conn_ctx.pool */
    struct req req;
    char rbuf[CONN_RBUF_BYTES];
    char hbuf[CONN_HBUF_BYTES];
};

struct conn {
    struct watcher w;            /* the loop calls conn_on_event(conn) */
    struct conn_ctx *cc;
    struct conn *prev, *next;    /* in cc->live, or cc->dead once closed */
    unsigned long id;
    int fd;
    enum conn_state state;
    struct timer timer;          /* the one deadline that applies in this state */
    union {                      /* the client's address: 28 bytes, not a sockaddr_storage */
        _Alignas(struct sockaddr_storage) sa_family_t family;
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } peer;
    uint64_t req_start;          /* ms: when the request under way began to arrive */
    time_t req_wall;             /* the same, as wall-clock time for the access log */
    bool req_begun;              /* bytes of the next request have arrived */
    long long body_bytes;        /* body bytes sent for the response under way */
    bool keep_alive;             /* reuse the connection after this response */
    bool peer_eof;               /* the client shut down its sending side */
    bool readable;               /* no recv has said EAGAIN since the last EPOLLIN edge */
    int status;                  /* of the response under way */
    struct conn_buf *b;          /* request and reply buffers; NULL while idle */
    size_t rlen;                 /* unparsed bytes in b->rbuf */
    size_t hlen, hoff;           /* b->hbuf bytes to send, and already sent */
    size_t page_body;            /* of those, the body of an error page (for the access log) */
    enum conn_body body;
    int file_fd;                 /* the file being sent, or -1 */
    struct fcache_entry *file_ent; /* file_fd belongs to the file cache; NULL: to us */
    bool dynamic;                /* its bytes go through AIO rather than sendfile */
    off_t file_size;             /* of the whole file (Content-Range) */
    off_t file_off, file_end;    /* next byte to send, and one past the last of this range */
    struct multipart *mp;        /* several ranges, or NULL */
    struct dyn_io *dyn;          /* AIO buffers while a /dynamic body is under way */
    char *mem;                   /* a body built in memory, or NULL */
    size_t mem_len, mem_off;
};

/* Sets up the shared part; timeouts and tracing come from opt. */
void conn_ctx_init(struct conn_ctx *cc, struct loop *loop, struct kaio *kaio,
                   const struct options *opt, int root_fd);
/* Takes ownership of a freshly accepted non-blocking socket. */
void conn_accept(struct conn_ctx *cc, int fd, const struct sockaddr_storage *peer);
/* Handles the deadlines that passed by loop->now: 408 for a slow head, close for idle or
 * stalled connections, and the /dynamic block pool given back after DYN_POOL_IDLE_MS unused. */
void conn_expire(struct conn_ctx *cc);
/* The milliseconds until the nearest deadline (-1: none), for epoll_wait. */
int conn_next_timeout(struct conn_ctx *cc);
/* Graceful shutdown: closes idle connections now and the others after their response. */
void conn_drain(struct conn_ctx *cc);
/* loop_cb: runs the state machine as far as the kernel lets it. */
void conn_on_event(void *ctx, uint32_t events);
/* Lets go of the file of the response under way (closes it, or gives it back to the cache). */
void conn_release_file(struct conn *c);
/* Called by serve_dynamic when one of its reads completed; resumes the state machine. */
void conn_on_aio(struct conn *c);
/* Frees the connections closed during the last batch. */
void conn_reap(struct conn_ctx *cc);
/* Closes and frees every connection; the AIO context must be destroyed first. */
void conn_close_all(struct conn_ctx *cc);

#endif
