/* main.c - startup, wiring, and THE event loop.
 * One epoll set carries the listener, every client socket, the AIO eventfd and a signalfd;
 * each registration points at a watcher, so an event costs one indirect call. Connections
 * closed during a batch are freed after it, which makes stale events in the batch harmless.
 * Nothing here knows HTTP. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "conn.h"
#include "kaio.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "version.h"

#define AWS_PORT 8888
#define LOOP_MAX_EVENTS 256

int loop_init(struct loop *l)
{
    l->stop = false;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        log_errno("epoll_create1");
    return l->epfd < 0 ? -1 : 0;
}

void loop_free(struct loop *l)
{
    if (l->epfd >= 0)
        close(l->epfd);
    l->epfd = -1;
}

int loop_add(struct loop *l, int fd, uint32_t events, struct watcher *w)
{
    struct epoll_event ev = { .events = events, .data.ptr = w };
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int loop_del(struct loop *l, int fd)
{
    return epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* Waits, dispatches a batch, then frees what the batch closed; until a callback sets stop. */
static void loop_run(struct loop *l, struct conn_ctx *cc)
{
    struct epoll_event evs[LOOP_MAX_EVENTS];
    while (!l->stop) {
        int n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_errno("epoll_wait");
            return;
        }
        for (int i = 0; i < n; i++) {
            struct watcher *w = evs[i].data.ptr;
            w->cb(w->ctx, evs[i].events);
        }
        conn_reap(cc);
    }
}

struct signals {
    int fd;
    struct loop *loop;
};

/* loop_cb for the signalfd: SIGINT or SIGTERM ends the loop. */
static void on_signal(void *ctx, uint32_t events)
{
    struct signals *s = ctx;
    struct signalfd_siginfo si;
    (void)events;
    while (read(s->fd, &si, sizeof si) == (ssize_t)sizeof si) {
        log_info("%s received: shutting down", strsignal((int)si.ssi_signo));
        s->loop->stop = true;
    }
}

/* SIGINT/SIGTERM arrive as a readable fd in the epoll set, never as an interruption. */
static int signals_open(struct signals *s, struct loop *loop)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);  /* a vanished client must be an EPIPE, not our death */
    s->loop = loop;
    s->fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (s->fd < 0)
        log_errno("signalfd");
    return s->fd < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, "usage: %s\nServes ./static and ./dynamic on port %d.\n", argv[0], AWS_PORT);
        return 2;
    }
    struct loop loop = { .epfd = -1 };
    struct kaio kaio = { .efd = -1 };
    struct listener ls = { .fd = -1, .spare_fd = -1 };
    struct signals sig = { .fd = -1 };
    struct conn_ctx cc;
    int rc = 1;

    int root_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
        log_errno("cannot open the document root");
        return 1;
    }
    if (loop_init(&loop) < 0 || signals_open(&sig, &loop) < 0 || kaio_init(&kaio) < 0)
        goto out;
    conn_ctx_init(&cc, &loop, &kaio, NULL, root_fd);
    if (listener_open(&ls, AWS_PORT, &cc) < 0)
        goto out;

    struct watcher ls_w = { listener_on_event, &ls };
    struct watcher aio_w = { kaio_on_event, &kaio };
    struct watcher sig_w = { on_signal, &sig };
    if (loop_add(&loop, ls.fd, EPOLLIN, &ls_w) < 0 || loop_add(&loop, kaio.efd, EPOLLIN, &aio_w) < 0 ||
        loop_add(&loop, sig.fd, EPOLLIN, &sig_w) < 0) {
        log_errno("epoll_ctl");
        goto out;
    }
    log_info("aws " AWS_VERSION " serving ./static and ./dynamic on port %d", AWS_PORT);
    loop_run(&loop, &cc);
    rc = 0;
    listener_close(&ls);
    kaio_free(&kaio);  /* waits for reads in flight: only then may their buffers go */
    conn_close_all(&cc);
out:
    listener_close(&ls);
    kaio_free(&kaio);
    if (sig.fd >= 0)
        close(sig.fd);
    loop_free(&loop);
    close(root_fd);
    return rc;
}
