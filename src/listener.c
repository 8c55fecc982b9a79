/* listener.c - the listening socket. Accepts until EAGAIN and hands each socket to conn.c.
 * When the process runs out of descriptors it sheds the pending connection with a spare
 * descriptor kept for that purpose, instead of leaving it queued and the loop spinning. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "conn.h"
#include "listener.h"
#include "log.h"

#define LISTEN_BACKLOG 4096

/* Binds a listening socket of one family; returns the fd or -1 with errno set. */
static int open_family(int family, uint16_t port)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = in6addr_any };
    struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
    int rc;
    if (family == AF_INET6) {
        /* Dual-stack: IPv4 clients arrive as ::ffff:a.b.c.d whatever the sysctl default is. */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        rc = bind(fd, (struct sockaddr *)&a6, sizeof a6);
    } else {
        rc = bind(fd, (struct sockaddr *)&a4, sizeof a4);
    }
    if (rc < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

int listener_open(struct listener *ls, uint16_t port, struct conn_ctx *conns)
{
    ls->conns = conns;
    ls->fd = open_family(AF_INET6, port);
    if (ls->fd < 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
        log_info("IPv6 unavailable (%s); listening on IPv4 only", strerror(errno));
        ls->fd = open_family(AF_INET, port);
    }
    if (ls->fd < 0) {
        log_errno("cannot listen on port %u", port);
        return -1;
    }
    ls->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return 0;
}

void listener_close(struct listener *ls)
{
    if (ls->fd >= 0)
        close(ls->fd);
    if (ls->spare_fd >= 0)
        close(ls->spare_fd);
    ls->fd = ls->spare_fd = -1;
}

/* Out of descriptors: accept the oldest pending connection with the spare one and close it,
 * so the client hears a close instead of waiting, and the level-triggered listener stops firing. */
static void shed_one(struct listener *ls)
{
    static time_t last_log;
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
        int fd = accept4(ls->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            conn_accept(ls->conns, fd);
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
