/* loop.h - the event loop API (implemented in main.c): one epoll set, one callback per fd.
 * Every registration carries a watcher, so dispatching an event is a single indirect call. */
#ifndef AWS_LOOP_H
#define AWS_LOOP_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*loop_cb)(void *ctx, uint32_t events);

/* Owned by whoever registers the fd; must outlive the registration. */
struct watcher {
    loop_cb cb;
    void *ctx;
};

struct loop {
    int epfd;
    bool stop;              /* set by a callback to end loop_run() after the current batch */
    uint64_t now;           /* ms on CLOCK_MONOTONIC, read once each time epoll_wait returns */
    uint64_t longest_us;    /* the longest batch of callbacks so far, in microseconds */
};

/* What the owner of a loop does around each round: how long it may sleep (ms, -1 for ever),
 * and what it does after a batch of callbacks (free closed connections, expire deadlines). */
struct loop_hooks {
    int (*timeout)(void *ctx);
    void (*after_batch)(void *ctx);
    void *ctx;
};

int loop_init(struct loop *l);
/* Waits and dispatches until a callback or hook sets l->stop. */
void loop_run(struct loop *l, const struct loop_hooks *h);
void loop_free(struct loop *l);
/* Registers fd for `events` (EPOLLIN, EPOLLOUT, EPOLLET, ...); returns 0 or -1 with errno. */
int loop_add(struct loop *l, int fd, uint32_t events, struct watcher *w);
int loop_mod(struct loop *l, int fd, uint32_t events, struct watcher *w);
int loop_del(struct loop *l, int fd);

#endif
