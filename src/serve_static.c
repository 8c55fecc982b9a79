/* serve_static.c - sends a /static body with sendfile(): the bytes go from the page cache to the
 * socket without a trip through user space. Progress is kept in the connection; epoll is
 * conn.c's business. */
#include <errno.h>
#include <sys/sendfile.h>
#include "conn.h"
#include "log.h"
#include "serve_static.h"

/* Each call is capped so one fast reader cannot keep the loop to itself for long; the socket
 * buffer bounds the work per event anyway, since we stop at EAGAIN. */
enum io_rc serve_static_step(struct conn *c)
{
    while (c->file_off < c->file_end) {
        off_t left = c->file_end - c->file_off;
        size_t want = left < STATIC_SENDFILE_CAP ? (size_t)left : STATIC_SENDFILE_CAP;
        ssize_t n = sendfile(c->fd, c->file_fd, &c->file_off, want);  /* advances file_off */
        if (n > 0) {
            c->body_bytes += n;
            continue;
        }
        if (n == 0) {
            /* End of file before Content-Length: the file shrank. Closing is the only honest
             * way to tell the client its body is short. */
            log_warn("#%lu: file shrank while being sent; closing", c->id);
            return IO_ERROR;
        }
        if (errno == EINTR)
            continue;
        return io_rc_from_errno(errno, "sendfile");
    }
    return IO_DONE;
}
