/* floor.c - the cheapest server aws's contract allows: a yardstick for `make bench`.
 *
 * A /static response under the contract takes these system calls at least: recv() until
 * EAGAIN (edge-triggered epoll), send() of the head with MSG_MORE, sendfile() of the body.
 * This program makes exactly those and nothing else: no parsing, routing, timers, cache
 * check or logging. What it costs per request is what any server bound to those calls costs
 * on this machine, so bench.py shows it beside aws and the peers in scenarios a and b.
 *
 * It is not a web server. Every request gets the same file; a request is whatever ends in a
 * blank line; "Connection: close" is noticed only within one recv(). A response that does
 * not fit the socket at once ends its connection: fine for 2 KiB, wrong for large files.
 *
 * Usage: floor PORT FILE   (listens on 127.0.0.1; floor -v prints what it is) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  /* memmem, accept4 */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static const char END[] = "\r\n\r\n";
static const char CLOSE[] = "Connection: close";

/* One per descriptor, indexed by fd: how much of END the last bytes matched. */
struct peer {
    unsigned char matched;
    bool close;
};

static struct peer *peers;
static int file_fd;
static off_t file_size;
static char head_keep[256], head_close[256];
static int len_keep, len_close;

/* Head and body, whole, or false. */
static bool respond(int fd, bool close_after)
{
    const char *head = close_after ? head_close : head_keep;
    int len = close_after ? len_close : len_keep;
    off_t off = 0;
    return send(fd, head, len, MSG_MORE | MSG_NOSIGNAL) == len &&
           sendfile(fd, file_fd, &off, file_size) == file_size;
}

/* Answers every request the bytes complete; false once the connection should close. */
static bool feed(int fd, const char *buf, size_t n)
{
    struct peer *p = &peers[fd];
    if (memmem(buf, n, CLOSE, sizeof CLOSE - 1))
        p->close = true;
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == END[p->matched])
            p->matched++;
        else
            p->matched = buf[i] == '\r';
        if (p->matched < sizeof END - 1)
            continue;
        p->matched = 0;
        if (!respond(fd, p->close) || p->close)
            return false;
    }
    return true;
}

/* Reads until EAGAIN, as edge-triggered epoll requires. */
static void on_readable(int fd)
{
    char buf[4096];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0 || !feed(fd, buf, (size_t)n)) {
            close(fd);
            return;
        }
    }
}

static void on_listener(int lfd, int ep, int max_fd)
{
    int fd;
    while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.fd = fd};
        if (fd >= max_fd || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            continue;
        }
        peers[fd] = (struct peer){0};
    }
}

static int listen_on(int port)
{
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  /* accepted sockets inherit it */
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4096) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "-v") == 0) {
        puts("floor: recv, send and sendfile only (bench/floor.c)");
        return 0;
    }
    struct stat st;
    if (argc != 3 || (file_fd = open(argv[2], O_RDONLY)) < 0 || fstat(file_fd, &st) < 0) {
        fprintf(stderr, "usage: floor PORT FILE\n");
        return 2;
    }
    file_size = st.st_size;
    len_keep = snprintf(head_keep, sizeof head_keep, "HTTP/1.1 200 OK\r\nContent-Length: %lld"
                        "\r\nContent-Type: application/octet-stream\r\n\r\n", (long long)file_size);
    len_close = snprintf(head_close, sizeof head_close, "HTTP/1.1 200 OK\r\nContent-Length: %lld"
                         "\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                         (long long)file_size);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    int max_fd = (int)rl.rlim_cur;
    int lfd = listen_on(atoi(argv[1]));
    int ep = epoll_create1(0);
    peers = calloc((size_t)max_fd, sizeof *peers);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    if (lfd < 0 || ep < 0 || !peers || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
        perror("floor");
        return 1;
    }
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.fd == lfd)
                on_listener(lfd, ep, max_fd);
            else
                on_readable(evs[i].data.fd);
        }
    }
}
