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
    bool stop;      /* set by a callback to end loop_run() after the current batch */
};

int loop_init(struct loop *l);
void loop_free(struct loop *l);
/* Registers fd for `events` (EPOLLIN, EPOLLOUT, EPOLLET, ...); returns 0 or -1 with errno. */
int loop_add(struct loop *l, int fd, uint32_t events, struct watcher *w);
int loop_del(struct loop *l, int fd);

#endif
