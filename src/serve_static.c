/* serve_static.c - sends a /static body with sendfile(): the bytes go from the page cache to the
 * socket without a trip through user space. Progress is kept in the connection; epoll is
 * conn.c's business. */
#include <errno.h>
#include <sys/sendfile.h>
#include "conn.h"
#include "log.h"
#include "serve_static.h"

/* Each call is capped, and so is each step: a reader as fast as loopback, or a cold file that
 * sendfile() must first read from the disk, would otherwise keep the loop to itself until the
 * whole file is out (measured: 76 ms hot, 149 ms cold, for 256 MiB).
 * The first call of a body moves at most 64 KiB, one load of sendfile's internal pipe. Measured
 * with 64 connections: a 100 KiB file sent as 64 + 36 KiB cost 16% less CPU per response than
 * one 100 KiB call. Later calls move 256 KiB and a step stops after one of them: with 16
 * connections on 2 MiB, taking turns in 256 KiB slices cost 35-40% less CPU per response
 * than 512 KiB calls in 1 MiB steps (bench/README.md has the sweep). */
static size_t call_cap(const struct conn *c)
{
    return c->body_bytes == 0 ? STATIC_FIRST_CAP : STATIC_SENDFILE_CAP;
}

enum io_rc serve_static_step(struct conn *c)
{
    off_t start = c->file_off;
    while (c->file_off < c->file_end) {
        if (c->file_off - start >= STATIC_STEP_BUDGET)
            return IO_YIELD;
        off_t left = c->file_end - c->file_off;
        size_t cap = call_cap(c);
        size_t want = left < (off_t)cap ? (size_t)left : cap;
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
