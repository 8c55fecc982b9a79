/* conn.c - one client connection: its buffers, its state machine, its closing and freeing.
 * Each state has one function that does as much I/O as the kernel allows and then either
 * moves to the next state at once or stops at EAGAIN. The only place that changes c->state.
 * Sockets are registered once, edge-triggered for both directions, so no state change costs
 * an epoll_ctl; the price is that every step must run until EAGAIN, never stop at a short count. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "conn.h"
#include "log.h"
#include "mime.h"
#include "path.h"
#include "response.h"
#include "serve_dynamic.h"
#include "serve_static.h"

static void set_state(struct conn *c, enum conn_state s)
{
    c->state = s;
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

void conn_ctx_init(struct conn_ctx *cc, struct loop *loop, struct kaio *kaio, int root_fd)
{
    memset(cc, 0, sizeof *cc);
    cc->loop = loop;
    cc->kaio = kaio;
    cc->root_fd = root_fd;
}

void conn_accept(struct conn_ctx *cc, int fd)
{
    struct conn *c = malloc(sizeof *c);
    if (!c) {
        log_errno("malloc connection");
        close(fd);
        return;
    }
    c->w.cb = conn_on_event;
    c->w.ctx = c;
    c->cc = cc;
    c->id = ++cc->next_id;
    c->fd = fd;
    c->state = CONN_READ_REQUEST;
    c->keep_alive = c->peer_eof = false;
    c->status = 0;
    c->rlen = c->hlen = c->hoff = 0;
    c->file_fd = -1;
    c->file_off = c->file_end = 0;
    c->body = BODY_NONE;
    c->dyn = NULL;
    req_init(&c->req);
    /* The head is sent with MSG_MORE, so Nagle only delays the tail of a response. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (loop_add(cc->loop, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, &c->w) < 0) {
        log_errno("epoll_ctl add");
        close(fd);
        free(c);
        return;
    }
    list_push(&cc->live, c);
    cc->nconns++;
}

/* Releases what a response holds; the connection may then serve another. */
static void end_response(struct conn *c)
{
    if (c->file_fd >= 0)
        close(c->file_fd);
    c->file_fd = -1;
    serve_dynamic_free(c);
    c->body = BODY_NONE;
}

static void conn_free(struct conn *c)
{
    end_response(c);
    free(c);
}

/* Closes the socket now; the memory goes once no AIO read can still write into it. */
static void conn_close(struct conn *c)
{
    if (c->state == CONN_CLOSING)
        return;
    close(c->fd);  /* also removes it from the epoll set */
    c->fd = -1;
    serve_dynamic_cancel(c);
    set_state(c, CONN_CLOSING);
    c->cc->nconns--;
    if (serve_dynamic_in_flight(c) == 0) {
        list_unlink(&c->cc->live, c);
        list_push(&c->cc->dead, c);
    }
}

/* Prepares a complete error response; the connection closes after it unless keep_alive. */
static enum io_rc begin_error(struct conn *c, int status, bool keep_alive, const char *why)
{
    size_t ulen = 0;
    const char *url = c->req.url.len ? req_url(&c->req, &ulen) : "";
    log_info("#%lu %d %s: %s%s%.*s", c->id, status, resp_reason(status), why,
             ulen ? ": " : "", (int)(ulen > 200 ? 200 : ulen), url);
    c->status = status;
    c->keep_alive = keep_alive;
    bool head_only = c->req.head_done && c->req.method == REQ_HEAD;
    c->hlen = resp_error(c->hbuf, sizeof c->hbuf, status, keep_alive, head_only);
    c->hoff = 0;
    set_state(c, CONN_SEND_HEADER);
    return IO_DONE;
}

/* Opens the file a complete request names and prepares the head; or an error response. */
static enum io_rc begin_response(struct conn *c)
{
    struct req *r = &c->req;
    c->keep_alive = r->keep_alive && !c->peer_eof;
    if (r->method == REQ_OTHER)  /* its body, if any, was read: the connection stays in sync */
        return begin_error(c, 405, c->keep_alive, "method not allowed");
    char path[PATH_MAX_BYTES];
    enum path_area area;
    size_t ulen;
    const char *url = req_url(r, &ulen);
    int status = path_from_url(url, ulen, path, sizeof path, &area);
    if (status)
        return begin_error(c, status, c->keep_alive && status != 400, "bad path");
    struct stat st;
    int fd = path_open(c->cc->root_fd, path, &st);
    if (fd < 0)
        return begin_error(c, -fd, c->keep_alive, "cannot serve");
    c->file_fd = fd;
    c->file_off = 0;
    c->file_end = st.st_size;
    c->status = 200;
    struct resp rs = {
        .status = 200, .length = st.st_size, .type = mime_type(path),
        .mtime = st.st_mtime, .keep_alive = c->keep_alive,
    };
    c->hlen = resp_head(c->hbuf, sizeof c->hbuf, &rs);
    c->hoff = 0;
    if (r->method == REQ_HEAD || st.st_size == 0)
        end_response(c);
    else if (area == PATH_STATIC)
        c->body = BODY_STATIC;
    else {
        /* Start reading now, so the disk works while the head goes out. */
        c->body = BODY_DYNAMIC;
        if (serve_dynamic_begin(c) != IO_DONE) {
            serve_dynamic_cancel(c);
            if (serve_dynamic_in_flight(c))
                return IO_ERROR;  /* a read is in the kernel's hands: just close */
            end_response(c);
            return begin_error(c, 500, false, "AIO setup failed");
        }
    }
    set_state(c, CONN_SEND_HEADER);
    return IO_DONE;
}

/* CONN_READ_REQUEST: parses buffered bytes first (pipelining), then receives until EAGAIN. */
static enum io_rc read_request(struct conn *c)
{
    for (;;) {
        if (c->rlen > 0) {
            size_t used;
            enum req_rc rc = req_feed(&c->req, c->rbuf, c->rlen, &used);
            c->rlen -= used;
            memmove(c->rbuf, c->rbuf + used, c->rlen);
            if (rc == REQ_DONE)
                return begin_response(c);
            if (rc == REQ_ERROR)
                return begin_error(c, c->req.status, false, c->req.error);
        }
        if (c->peer_eof)
            return IO_CLOSED;  /* the client left with no (whole) request pending */
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen, 0);
        if (n > 0)
            c->rlen += (size_t)n;
        else if (n == 0)
            c->peer_eof = true;
        else if (errno != EINTR)
            return io_rc_from_errno(errno, "recv");
    }
}

/* After the last body byte: back to reading for keep-alive, or close. */
static enum io_rc finish_response(struct conn *c)
{
    end_response(c);
    if (!c->keep_alive)
        return IO_CLOSED;
    req_reset(&c->req);
    set_state(c, CONN_READ_REQUEST);
    return IO_DONE;
}

/* CONN_SEND_HEADER: the head (or a whole error response), then on to the body. */
static enum io_rc send_header(struct conn *c)
{
    /* MSG_MORE holds a short head back so it leaves in one segment with the body's start. */
    int flags = MSG_NOSIGNAL | (c->body != BODY_NONE ? MSG_MORE : 0);
    while (c->hoff < c->hlen) {
        ssize_t n = send(c->fd, c->hbuf + c->hoff, c->hlen - c->hoff, flags);
        if (n >= 0)
            c->hoff += (size_t)n;
        else if (errno != EINTR)
            return io_rc_from_errno(errno, "send");
    }
    switch (c->body) {
    case BODY_STATIC:
        set_state(c, CONN_SEND_STATIC);
        return IO_DONE;
    case BODY_DYNAMIC:
        set_state(c, serve_dynamic_waiting(c) ? CONN_WAIT_AIO : CONN_SEND_DYNAMIC);
        return IO_DONE;
    default:
        return finish_response(c);
    }
}

/* CONN_SEND_STATIC and CONN_SEND_DYNAMIC: the body, then the end of the response. */
static enum io_rc send_body(struct conn *c)
{
    enum io_rc rc = c->state == CONN_SEND_STATIC ? serve_static_step(c) : serve_dynamic_step(c);
    if (rc == IO_DONE)
        return finish_response(c);
    if (rc == IO_AGAIN && c->state == CONN_SEND_DYNAMIC && serve_dynamic_waiting(c))
        set_state(c, CONN_WAIT_AIO);
    return rc;
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
        default:  /* CONN_WAIT_AIO waits for conn_on_aio(); CONN_CLOSING for nothing */
            return;
        }
        if (rc == IO_AGAIN)
            return;
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
    while (cc->live) {
        struct conn *c = cc->live;
        if (c->fd >= 0)
            close(c->fd);
        list_unlink(&cc->live, c);
        conn_free(c);
    }
    conn_reap(cc);
}
