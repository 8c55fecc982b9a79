/* listener.c - the listening socket. Accepts until EAGAIN and hands each socket to conn.c.
 * When the process runs out of descriptors it sheds the pending connection with a spare
 * descriptor kept for that purpose, instead of leaving it queued and the loop spinning. */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "conn.h"
#include "listener.h"
#include "log.h"

#define LISTEN_BACKLOG 4096

/* Binds a listening socket to sa; returns the fd or -1 with errno set. */
static int open_bound(const struct sockaddr *sa, socklen_t len, bool v6only, bool reuseport)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1, v6 = v6only;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* SO_REUSEPORT: each loop gets its own queue and the kernel spreads connections. */
    if (reuseport)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    /* Dual-stack unless a specific address was asked for: IPv4 clients arrive as
     * ::ffff:a.b.c.d whatever the sysctl default is. */
    if (sa->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof v6);
    /* Accepted sockets inherit TCP_NODELAY from the listener on Linux: one call here instead
     * of one per connection. Heads go out with MSG_MORE, so Nagle would only delay tails. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (bind(fd, sa, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

int listener_open(struct listener *ls, const char *addr, uint16_t port, bool reuseport)
{
    struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = in6addr_any };
    struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
    ls->paused = false;
    ls->loop = NULL;
    ls->spare_fd = -1;
    if (addr && inet_pton(AF_INET, addr, &a4.sin_addr) == 1) {
        snprintf(ls->name, sizeof ls->name, "%s:%u", addr, port);
        ls->fd = open_bound((struct sockaddr *)&a4, sizeof a4, false, reuseport);
    } else if (addr && inet_pton(AF_INET6, addr, &a6.sin6_addr) == 1) {
        snprintf(ls->name, sizeof ls->name, "[%s]:%u", addr, port);
        ls->fd = open_bound((struct sockaddr *)&a6, sizeof a6, true, reuseport);
    } else {
        snprintf(ls->name, sizeof ls->name, "[::]:%u", port);
        ls->fd = open_bound((struct sockaddr *)&a6, sizeof a6, false, reuseport);
        if (ls->fd < 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
            log_info("IPv6 unavailable (%s); listening on IPv4 only", strerror(errno));
            snprintf(ls->name, sizeof ls->name, "0.0.0.0:%u", port);
            ls->fd = open_bound((struct sockaddr *)&a4, sizeof a4, false, reuseport);
        }
    }
    if (ls->fd < 0) {
        log_errno("cannot listen on %s", ls->name);
        return -1;
    }
    ls->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return 0;
}

int listener_start(struct listener *ls, struct loop *loop, struct conn_ctx *conns)
{
    ls->loop = loop;
    ls->conns = conns;
    ls->w = (struct watcher){ listener_on_event, ls };
    /* Level-triggered: a connection left in the queue (at the cap) is reported again. */
    return loop_add(loop, ls->fd, EPOLLIN, &ls->w);
}

void listener_pause(struct listener *ls, bool paused)
{
    static _Thread_local time_t last_log;
    if (ls->fd < 0 || paused == ls->paused)
        return;
    ls->paused = paused;
    loop_mod(ls->loop, ls->fd, paused ? 0 : EPOLLIN, &ls->w);
    time_t now = time(NULL);
    if (paused && now != last_log) {  /* once a second at most */
        last_log = now;
        log_warn("connection cap reached on %s: new connections wait", ls->name);
    }
}

void listener_close(struct listener *ls)
{
    if (ls->fd >= 0) {
        if (ls->loop)
            loop_del(ls->loop, ls->fd);
        close(ls->fd);
    }
    if (ls->spare_fd >= 0)
        close(ls->spare_fd);
    ls->fd = ls->spare_fd = -1;
}

/* Out of descriptors: accept the oldest pending connection with the spare one and close it,
 * so the client hears a close instead of waiting, and the level-triggered listener stops firing. */
static void shed_one(struct listener *ls)
{
    static _Thread_local time_t last_log;
    time_t now = time(NULL);
    if (now != last_log) {  /* once a second at most */
        last_log = now;
        log_warn("out of file descriptors: refusing connections");
    }
    if (ls->spare_fd >= 0)
        close(ls->spare_fd);
    int fd = accept(ls->fd, NULL, NULL);
    if (fd >= 0)
        close(fd);
    ls->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void listener_on_event(void *ctx, uint32_t events)
{
    struct listener *ls = ctx;
    (void)events;
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        int fd = accept4(ls->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            conn_accept(ls->conns, fd, &peer);
            if (ls->paused)
                return;  /* conn_accept reached the cap */
            continue;
        }
        switch (errno) {
        case EAGAIN:
            return;
        case EINTR:
        case ECONNABORTED:
        case EPROTO:
            continue;  /* that client gave up; the next may be waiting */
        case EMFILE:
        case ENFILE:
            if (ls->spare_fd < 0)
                return;
            shed_one(ls);
            continue;
        default:
            log_errno("accept4");
            return;
        }
    }
}
