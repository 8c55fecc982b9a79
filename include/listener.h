/* listener.h - the listening socket: open, accept until EAGAIN, survive EMFILE.
 * It hands each accepted socket to conn_accept() and knows nothing of HTTP. */
#ifndef AWS_LISTENER_H
#define AWS_LISTENER_H

#include <stdint.h>

struct conn_ctx;

struct listener {
    int fd;
    int spare_fd;            /* kept open so EMFILE can be answered by accept-and-close */
    struct conn_ctx *conns;  /* where accepted sockets go */
};

/* Binds [::]:port dual-stack, or 0.0.0.0:port without IPv6; returns 0, or -1 after logging. */
int listener_open(struct listener *ls, uint16_t port, struct conn_ctx *conns);
void listener_close(struct listener *ls);
/* loop_cb: accepts every pending connection. */
void listener_on_event(void *ctx, uint32_t events);

#endif
