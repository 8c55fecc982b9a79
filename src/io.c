/* io.c - sorts the errno of a failed socket call into an io_rc.
 * The one place that decides which failures are routine (EAGAIN, a client hanging up)
 * and which deserve an error line. */
#include <errno.h>
#include <string.h>
#include "io.h"
#include "log.h"

enum io_rc io_rc_from_errno(int err, const char *what)
{
    switch (err) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return IO_AGAIN;
    case EPIPE:
    case ECONNRESET:
    case ENOTCONN:
    case ETIMEDOUT:
        /* Clients hang up all the time: not worth an error line. */
        return IO_CLOSED;
    default:
        log_err("%s: %s", what, strerror(err));
        return IO_ERROR;
    }
}
