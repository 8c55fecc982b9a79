/* listener.h - the listening socket: open, accept until EAGAIN, pause at the connection cap,
 * survive EMFILE. It hands each accepted socket to conn_accept() and knows nothing of HTTP. */
#ifndef AWS_LISTENER_H
#define AWS_LISTENER_H

#include <stdbool.h>
#include <stdint.h>
#include "loop.h"

struct conn_ctx;

struct listener {
    int fd;
    int spare_fd;            /* kept open so EMFILE can be answered by accept-and-close */
    bool paused;             /* at the connection cap: not polled until a slot frees */
    struct loop *loop;
    struct watcher w;
    struct conn_ctx *conns;  /* where accepted sockets go */
    char name[64];           /* "[::]:8888", for messages */
};

/* Binds addr:port (addr NULL: [::] dual-stack, or 0.0.0.0 without IPv6); with reuseport,
 * several loops may each bind the same address. Returns 0, or -1 after logging one line. */
int listener_open(struct listener *ls, const char *addr, uint16_t port, bool reuseport);
/* Starts polling it from loop; accepted sockets go to conns. */
int listener_start(struct listener *ls, struct loop *loop, struct conn_ctx *conns);
/* Stops or resumes polling (the kernel keeps queueing connections meanwhile). */
void listener_pause(struct listener *ls, bool paused);
void listener_close(struct listener *ls);
/* loop_cb: accepts every pending connection. */
void listener_on_event(void *ctx, uint32_t events);

#endif
