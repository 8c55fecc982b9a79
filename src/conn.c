/* conn.c - one client connection: its buffers, its state machine, its closing and freeing.
 * Each state has one function that does as much I/O as the kernel allows and then either
 * moves to the next state at once or stops at EAGAIN. The only place that changes c->state.
 * Sockets are registered once, edge-triggered for both directions, so no state change costs
 * an epoll_ctl; the price is that every step must run until EAGAIN, never stop at a short count. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "conn.h"
#include "filecache.h"
#include "log.h"
#include "options.h"
#include "route.h"
#include "serve_dynamic.h"
#include "serve_static.h"

/* Registered once: edge-triggered input and output, so no state change costs an epoll_ctl. */
#define CONN_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

static const char *const state_names[] = {
    [CONN_READ_REQUEST] = "READ_REQUEST", [CONN_SEND_HEADER] = "SEND_HEADER",
    [CONN_SEND_STATIC] = "SEND_STATIC",   [CONN_WAIT_AIO] = "WAIT_AIO",
    [CONN_SEND_DYNAMIC] = "SEND_DYNAMIC", [CONN_SEND_MEMORY] = "SEND_MEMORY",
    [CONN_LINGER] = "LINGER",             [CONN_CLOSING] = "CLOSING",
};

/* --trace: one line per transition; the request is named when its response begins. */
static void trace(const struct conn *c, enum conn_state s)
{
    if (c->state == CONN_READ_REQUEST && s == CONN_SEND_HEADER) {
        size_t ulen = 0;
        const char *url = c->b->req.url.len ? req_url(&c->b->req, &ulen) : "-";
        const char *method = c->b->req.head_done ? http_method_str(c->b->req.parser.method) : "-";
        log_info("#%lu %s -> %s (%s %.*s %d)", c->id, state_names[c->state], state_names[s],
                 method, (int)(ulen > 200 ? 200 : ulen ? ulen : 1), url, c->status);
    } else {
        log_info("#%lu %s -> %s", c->id, state_names[c->state], state_names[s]);
    }
}

static void set_state(struct conn *c, enum conn_state s)
{
    if (c->cc->trace && s != c->state)
        trace(c, s);
    c->state = s;
}

static struct conn *conn_of_timer(struct timer *t)
{
    return (struct conn *)((char *)t - offsetof(struct conn, timer));
}

static void list_push(struct conn **head, struct conn *c)
{
    c->prev = NULL;
    c->next = *head;
    if (*head)
        (*head)->prev = c;
    *head = c;
}

static void list_unlink(struct conn **head, struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

void conn_release_file(struct conn *c)
{
    fcache_close(c->file_fd, c->file_ent);
    c->file_fd = -1;
    c->file_ent = NULL;
}

void conn_ctx_init(struct conn_ctx *cc, struct loop *loop, struct kaio *kaio,
                   const struct options *opt, int root_fd)
{
    memset(cc, 0, sizeof *cc);
    cc->loop = loop;
    cc->kaio = kaio;
    cc->opt = opt;
    cc->root_fd = root_fd;
    cc->max_conns = ULONG_MAX;
    if (!loop->now)
        loop->now = timer_now();
    timer_list_init(&cc->t_header, opt ? opt->header_timeout_ms : 0);
    timer_list_init(&cc->t_keepalive, opt ? opt->keepalive_timeout_ms : 0);
    timer_list_init(&cc->t_send, opt ? opt->send_timeout_ms : 0);
    timer_list_init(&cc->t_linger, CONN_LINGER_MS);
    cc->trace = opt && opt->trace;
}

void conn_accept(struct conn_ctx *cc, int fd, const struct sockaddr_storage *peer)
{
    struct conn *c = malloc(sizeof *c);
    if (!c) {
        log_errno("malloc connection");
        close(fd);
        return;
    }
    c->w = (struct watcher){ conn_on_event, c };
    c->cc = cc;
    c->id = ++cc->next_id;
    c->fd = fd;
    c->state = CONN_READ_REQUEST;
    c->keep_alive = c->peer_eof = false;
    /* Not yet: registering reports data already there as EPOLLIN, and a recv on the first
     * (EPOLLOUT) event mostly said EAGAIN (measured: 49,961 of 51,122 new connections). */
    c->readable = false;
    c->status = 0;
    c->rlen = c->hlen = c->hoff = c->page_body = 0;
    c->body = BODY_NONE;
    c->file_fd = -1;
    c->file_ent = NULL;
    c->dynamic = false;
    c->file_size = c->file_off = c->file_end = 0;
    c->mp = NULL;
    c->dyn = NULL;
    c->mem = NULL;
    c->mem_len = c->mem_off = 0;
    memcpy(&c->peer, peer, peer->ss_family == AF_INET ? sizeof c->peer.in : sizeof c->peer.in6);
    c->b = NULL;
    c->req_begun = false;
    c->body_bytes = 0;
    timer_init(&c->timer);
    /* TCP_NODELAY comes from the listening socket (listener.c). */
    if (loop_add(cc->loop, fd, CONN_EVENTS, &c->w) < 0) {
        log_errno("epoll_ctl add");
        close(fd);
        free(c);
        return;
    }
    list_push(&cc->live, c);
    timer_arm(&cc->t_header, &c->timer, cc->loop->now);  /* the first request must come in time */
    if (++cc->nconns >= cc->max_conns && cc->on_limit)
        cc->on_limit(cc->limit_ctx, true);
}

/* Gives c the buffers a request needs: from the pool, or fresh. */
static bool buf_acquire(struct conn *c)
{
    struct conn_ctx *cc = c->cc;
    struct conn_buf *b = cc->pool;
    if (b) {
        cc->pool = b->next_free;
        cc->pool_len--;
    } else if (!(b = malloc(sizeof *b))) {
        log_errno("#%lu: malloc buffers", c->id);
        return false;
    }
    req_init(&b->req);
    c->b = b;
    return true;
}

/* Takes back an idle connection's buffers (none of their bytes is still wanted). */
static void buf_release(struct conn *c)
{
    struct conn_ctx *cc = c->cc;
    struct conn_buf *b = c->b;
    if (!b)
        return;
    c->b = NULL;
    if (cc->pool_len < CONN_POOL_MAX) {
        b->next_free = cc->pool;
        cc->pool = b;
        cc->pool_len++;
    } else {
        free(b);
    }
}

/* One access log line for the response that is ending (or being cut short). */
static void log_access(struct conn *c)
{
    const struct req *r = &c->b->req;
    struct access_entry e = {
        .peer = (const struct sockaddr_storage *)&c->peer, .when = c->req_wall, .status = c->status, .bytes = c->body_bytes,
        .method = r->head_done || r->url.len ? http_method_str(r->parser.method) : "-",
        .http_major = r->head_done ? r->http_major : 1,
        .http_minor = r->head_done ? r->http_minor : 1,
        .seconds = (double)(c->cc->loop->now - c->req_start) / 1000.0,
    };
    if (r->url.len)
        e.target = req_url(r, &e.target_len);
    e.referer = req_header(r, REQ_HDR_REFERER, &e.referer_len);
    e.user_agent = req_header(r, REQ_HDR_USER_AGENT, &e.user_agent_len);
    accesslog_write(c->cc->alog, &e);
}

/* Releases what a response holds; the connection may then serve another. */
static void end_response(struct conn *c)
{
    if (c->status) {
        struct conn_stats *st = &c->cc->stats;
        st->requests++;
        if (c->dynamic)
            st->bytes_dynamic += (unsigned long long)c->body_bytes;
        else
            st->bytes_static += (unsigned long long)c->body_bytes;
        if (c->cc->alog)
            log_access(c);
        c->status = 0;
        c->body_bytes = 0;
    }
    conn_release_file(c);
    serve_dynamic_free(c);
    free(c->mp);
    c->mp = NULL;
    free(c->mem);
    c->mem = NULL;
    c->body = BODY_NONE;
}

static void conn_free(struct conn *c)
{
    end_response(c);
    buf_release(c);
    free(c);
}

/* Closes the socket now; the memory goes once no AIO read can still write into it. */
static void conn_close(struct conn *c)
{
    if (c->state == CONN_CLOSING)
        return;
    struct conn_ctx *cc = c->cc;
    close(c->fd);  /* also removes it from the epoll set */
    c->fd = -1;
    timer_disarm(&c->timer);
    serve_dynamic_cancel(c);
    set_state(c, CONN_CLOSING);
    if (cc->nconns-- >= cc->max_conns && cc->on_limit)
        cc->on_limit(cc->limit_ctx, false);  /* a slot is free again */
    if (serve_dynamic_in_flight(c) == 0) {
        list_unlink(&c->cc->live, c);
        list_push(&c->cc->dead, c);
    }
}

/* The first bytes of a request: its clock starts, and so does the header deadline (which,
 * unlike the others, is not pushed back by later bytes: a slowloris client gets no more). */
static void begin_request(struct conn *c)
{
    c->req_begun = true;
    c->req_start = c->cc->loop->now;
    c->req_wall = time(NULL);
    timer_arm(&c->cc->t_header, &c->timer, c->cc->loop->now);
}

/* CONN_READ_REQUEST: parses buffered bytes first (pipelining), then receives until EAGAIN. */
static enum io_rc read_request(struct conn *c)
{
    for (;;) {
        if (c->rlen > 0 && !c->req_begun)
            begin_request(c);
        if (c->rlen > 0) {
            size_t used;
            enum req_rc rc = req_feed(&c->b->req, c->b->rbuf, c->rlen, &used);
            c->rlen -= used;
            memmove(c->b->rbuf, c->b->rbuf + used, c->rlen);
            if (rc != REQ_MORE) {
                timer_disarm(&c->timer);
                c->req_begun = false;
            }
            if (rc == REQ_DONE && !route_request(c))
                return IO_ERROR;
            if (rc == REQ_ERROR)  /* framing is lost: answer and close */
                route_error(c, c->b->req.status, false, c->b->req.error, NULL);
            if (rc != REQ_MORE) {
                set_state(c, CONN_SEND_HEADER);
                return IO_DONE;
            }
        }
        if (c->peer_eof)
            return IO_CLOSED;  /* the client left with no (whole) request pending */
        if (!c->readable)
            return IO_AGAIN;  /* edge-triggered: nothing new since the last EAGAIN, so a recv
                                 after each keep-alive response would only say EAGAIN again */
        if (!c->b && !buf_acquire(c))
            return IO_ERROR;
        ssize_t n = recv(c->fd, c->b->rbuf + c->rlen, sizeof c->b->rbuf - c->rlen, 0);
        if (n > 0) {
            c->rlen += (size_t)n;
        } else if (n == 0) {
            c->peer_eof = true;
        } else if (errno != EINTR) {
            enum io_rc rc = io_rc_from_errno(errno, "recv");
            c->readable = rc != IO_AGAIN;
            c->cc->stats.eagain_recv += rc == IO_AGAIN;
            if (c->rlen == 0 && !c->req_begun)
                buf_release(c);  /* idle: a waiting connection holds no buffers */
            return rc;
        }
    }
}

/* Shuts our side after a last response. Closing at once while request bytes are still unread
 * would make the kernel send a reset, which can destroy response bytes not yet delivered; so
 * we send FIN and drop input until the client closes, or for CONN_LINGER_MS at most. */
static enum io_rc begin_linger(struct conn *c)
{
    if (c->peer_eof || shutdown(c->fd, SHUT_WR) < 0)
        return IO_CLOSED;
    buf_release(c);
    timer_arm(&c->cc->t_linger, &c->timer, c->cc->loop->now);
    set_state(c, CONN_LINGER);
    return IO_DONE;
}

/* CONN_LINGER: reads and drops until EOF (then close) or EAGAIN. */
static enum io_rc linger(struct conn *c)
{
    char sink[4096];
    for (;;) {
        ssize_t n = recv(c->fd, sink, sizeof sink, 0);
        if (n == 0)
            return IO_CLOSED;
        if (n < 0 && errno != EINTR)
            return errno == EAGAIN || errno == EWOULDBLOCK ? IO_AGAIN : IO_CLOSED;
    }
}

/* True when closing now cannot reset the response: the request was read whole, nothing
 * follows it, and the socket holds no unread byte (one non-blocking peek; EOF counts as
 * nothing). The usual `Connection: close` request then costs a plain close() instead of a
 * shutdown, an epoll round and a read, as nginx's lingering_close "on" decides too. */
static bool nothing_unread(struct conn *c)
{
    char byte;
    if (!c->b || !c->b->req.done || c->rlen)
        return false;
    ssize_t n = recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

/* After the last body byte: back to reading for keep-alive, or close. */
static enum io_rc finish_response(struct conn *c)
{
    end_response(c);
    if (!c->keep_alive || c->cc->draining)
        return nothing_unread(c) ? IO_CLOSED : begin_linger(c);
    if (c->rlen)
        req_reset(&c->b->req);  /* a pipelined request is already here */
    else
        buf_release(c);
    timer_arm(&c->cc->t_keepalive, &c->timer, c->cc->loop->now);  /* until the next request begins */
    set_state(c, CONN_READ_REQUEST);
    return IO_DONE;
}

/* Puts the next multipart piece into hbuf: the head of part mp->next, or the closing line. */
static void next_part_head(struct conn *c)
{
    struct multipart *mp = c->mp;
    if (mp->next < mp->n) {
        c->hlen = range_part_head(c->b->hbuf, sizeof c->b->hbuf, mp->boundary, mp->type,
                                  &mp->r[mp->next], c->file_size);
    } else {
        c->hlen = range_multipart_tail(c->b->hbuf, sizeof c->b->hbuf, mp->boundary);
        mp->tail_sent = true;
    }
    c->hoff = 0;
    set_state(c, CONN_SEND_HEADER);
}

/* Moves to the state that sends the body (or the current multipart range). */
static enum io_rc begin_body(struct conn *c)
{
    if (c->body == BODY_MEMORY) {
        set_state(c, CONN_SEND_MEMORY);
        return IO_DONE;
    }
    if (c->mp) {
        const struct byte_range *r = &c->mp->r[c->mp->next];
        c->file_off = r->first;
        c->file_end = r->last + 1;
    }
    if (c->body == BODY_STATIC) {
        set_state(c, CONN_SEND_STATIC);
        return IO_DONE;
    }
    if (!c->dyn && serve_dynamic_begin(c) != IO_DONE)
        return IO_ERROR;  /* the head is out, or a read may be in flight: only closing can say it */
    set_state(c, serve_dynamic_waiting(c) ? CONN_WAIT_AIO : CONN_SEND_DYNAMIC);
    return IO_DONE;
}

/* After the last byte of a body (or of one range): the next part, or the end. */
static enum io_rc after_body(struct conn *c)
{
    struct multipart *mp = c->mp;
    if (!mp)
        return finish_response(c);
    if (serve_dynamic_in_flight(c))
        return IO_ERROR;  /* cannot happen: every read of a range is consumed by its end */
    serve_dynamic_free(c);  /* the next range reads from its own offset */
    mp->next++;
    next_part_head(c);
    return IO_DONE;
}

/* CONN_SEND_HEADER: hbuf (a head, a part head, an error page), then what follows it. */
static enum io_rc send_header(struct conn *c)
{
    struct multipart *mp = c->mp;
    bool more = c->body != BODY_NONE && !(mp && mp->tail_sent);
    if (more && c->body == BODY_DYNAMIC && !mp && c->file_off < c->file_end)
        return begin_body(c);  /* the head waits for the first block and leaves with it */
    /* MSG_MORE holds a short head back so it leaves in one segment with the body's start. */
    int flags = MSG_NOSIGNAL | (more ? MSG_MORE : 0);
    while (c->hoff < c->hlen) {
        ssize_t n = send(c->fd, c->b->hbuf + c->hoff, c->hlen - c->hoff, flags);
        if (n >= 0) {
            c->hoff += (size_t)n;
            if (mp && mp->in_part)  /* part heads belong to the multipart body */
                c->body_bytes += n;
        }
        else if (errno != EINTR)
            return io_rc_from_errno(errno, "send");
    }
    if (!more) {
        c->body_bytes += (long long)c->page_body;
        c->page_body = 0;
        return finish_response(c);
    }
    if (mp && !mp->in_part) {  /* the response head went out: now the first part's */
        mp->in_part = true;
        next_part_head(c);
        return IO_DONE;
    }
    return begin_body(c);
}

/* CONN_SEND_MEMORY: a body built in memory. */
static enum io_rc send_memory(struct conn *c)
{
    while (c->mem_off < c->mem_len) {
        ssize_t n = send(c->fd, c->mem + c->mem_off, c->mem_len - c->mem_off, MSG_NOSIGNAL);
        if (n >= 0) {
            c->mem_off += (size_t)n;
            c->body_bytes += n;
        }
        else if (errno != EINTR)
            return io_rc_from_errno(errno, "send");
    }
    return after_body(c);
}

/* CONN_SEND_STATIC and CONN_SEND_DYNAMIC: file bytes, then what follows them. */
static enum io_rc send_body(struct conn *c)
{
    enum io_rc rc = c->state == CONN_SEND_STATIC ? serve_static_step(c) : serve_dynamic_step(c);
    if (rc == IO_DONE)
        return after_body(c);
    if (rc == IO_AGAIN && c->state == CONN_SEND_DYNAMIC && serve_dynamic_waiting(c))
        set_state(c, CONN_WAIT_AIO);
    return rc;
}

/* Before waiting on the socket in a sending state, (re)starts the send deadline: it measures
 * the time without progress. Waiting for the disk is not the client's fault. */
static void arm_wait(struct conn *c)
{
    if (c->state == CONN_WAIT_AIO)
        timer_disarm(&c->timer);
    else if (c->state != CONN_READ_REQUEST && c->state != CONN_LINGER)
        timer_arm(&c->cc->t_send, &c->timer, c->cc->loop->now);
}

/* Runs states until one has to wait; closes on IO_CLOSED or IO_ERROR. */
static void run(struct conn *c)
{
    for (;;) {
        enum io_rc rc;
        switch (c->state) {
        case CONN_READ_REQUEST:
            rc = read_request(c);
            break;
        case CONN_SEND_HEADER:
            rc = send_header(c);
            break;
        case CONN_SEND_STATIC:
        case CONN_SEND_DYNAMIC:
            rc = send_body(c);
            break;
        case CONN_SEND_MEMORY:
            rc = send_memory(c);
            break;
        case CONN_LINGER:
            rc = linger(c);
            break;
        default:  /* CONN_WAIT_AIO waits for conn_on_aio(); CONN_CLOSING for nothing */
            return;
        }
        if (rc == IO_YIELD) {
            /* Re-arming an edge-triggered fd that is still writable queues a fresh event
             * behind those already ready: the other connections go first, then this one. */
            c->cc->stats.yields++;
            if (loop_mod(c->cc->loop, c->fd, CONN_EVENTS, &c->w) == 0) {
                arm_wait(c);  /* progress: the send deadline starts again */
                return;
            }
            log_errno("#%lu: epoll_ctl mod", c->id);
            rc = IO_ERROR;
        }
        if (rc == IO_AGAIN) {
            c->cc->stats.eagain_send += c->state != CONN_WAIT_AIO && c->state != CONN_LINGER &&
                                        c->state != CONN_READ_REQUEST;
            arm_wait(c);
            return;
        }
        if (rc != IO_DONE) {
            conn_close(c);
            return;
        }
    }
}

void conn_on_event(void *ctx, uint32_t events)
{
    struct conn *c = ctx;
    if (c->state == CONN_CLOSING)
        return;  /* a stale event for a connection closed earlier in this batch */
    if (events & (EPOLLIN | EPOLLRDHUP))
        c->readable = true;
    if (events & (EPOLLERR | EPOLLHUP)) {
        conn_close(c);  /* reset, or both directions shut: nothing more can be delivered */
        return;
    }
    run(c);
}

void conn_on_aio(struct conn *c)
{
    if (c->state == CONN_CLOSING) {
        if (serve_dynamic_in_flight(c) == 0) {
            list_unlink(&c->cc->live, c);
            list_push(&c->cc->dead, c);
        }
        return;
    }
    if (c->state == CONN_WAIT_AIO && !serve_dynamic_waiting(c)) {
        set_state(c, CONN_SEND_DYNAMIC);
        run(c);
    }
}

void conn_reap(struct conn_ctx *cc)
{
    while (cc->dead) {
        struct conn *c = cc->dead;
        list_unlink(&cc->dead, c);
        conn_free(c);
    }
}

void conn_close_all(struct conn_ctx *cc)
{
    struct conn_buf *b;
    while (cc->live) {
        struct conn *c = cc->live;
        if (c->fd >= 0)
            close(c->fd);
        list_unlink(&cc->live, c);
        conn_free(c);
    }
    conn_reap(cc);
    while ((b = cc->pool)) {
        cc->pool = b->next_free;
        free(b);
    }
    cc->pool_len = 0;
    serve_dynamic_pool_free(cc);
}

/* The head did not arrive in time: 408 if the request had begun, then close. */
static void header_timeout(struct conn *c)
{
    if (c->state != CONN_READ_REQUEST || !c->req_begun) {
        conn_close(c);
        return;
    }
    route_error(c, 408, false, "request head timeout", NULL);
    set_state(c, CONN_SEND_HEADER);
    run(c);  /* sends what the socket takes now; the send deadline covers the rest */
}

void conn_expire(struct conn_ctx *cc)
{
    struct timer *t;
    while ((t = timer_pop_expired(&cc->t_header, cc->loop->now))) {
        cc->stats.timeouts++;
        header_timeout(conn_of_timer(t));
    }
    while ((t = timer_pop_expired(&cc->t_keepalive, cc->loop->now)))
        conn_close(conn_of_timer(t));  /* idle: nothing to say */
    while ((t = timer_pop_expired(&cc->t_linger, cc->loop->now)))
        conn_close(conn_of_timer(t));
    while ((t = timer_pop_expired(&cc->t_send, cc->loop->now))) {
        struct conn *c = conn_of_timer(t);
        cc->stats.timeouts++;
        log_info("#%lu: send timeout: the client stopped reading", c->id);
        conn_close(c);
    }
    if (cc->dyn_pool_len && cc->loop->now >= cc->dyn_pool_idle_at)
        serve_dynamic_pool_free(cc);  /* a burst is over: give its memory back */
}

int conn_next_timeout(struct conn_ctx *cc)
{
    struct timer_list *const lists[] = { &cc->t_header, &cc->t_keepalive, &cc->t_send,
                                         &cc->t_linger };
    uint64_t next = timer_earliest(lists, 4);
    if (cc->dyn_pool_len && cc->dyn_pool_idle_at < next)
        next = cc->dyn_pool_idle_at;
    if (next == UINT64_MAX)
        return -1;
    return next <= cc->loop->now ? 0 : (int)(next - cc->loop->now > INT32_MAX ? INT32_MAX : next - cc->loop->now);
}

void conn_drain(struct conn_ctx *cc)
{
    cc->draining = true;
    for (struct conn *c = cc->live, *next; c; c = next) {
        next = c->next;  /* conn_close may move c to the dead list */
        if (c->state == CONN_READ_REQUEST && !c->req_begun)
            conn_close(c);
    }
}
