/* io.h - the one result type every I/O step returns, and the errno sorter.
 * Shared by the serve modules and the connection state machine; it knows no HTTP. */
#ifndef AWS_IO_H
#define AWS_IO_H

/* What a *_step() function tells its caller (modelled on lighttpd's network_write.c):
 *   IO_DONE    the step finished all it had to do; move to the next state now.
 *   IO_AGAIN   the kernel said EAGAIN (or an AIO read is still in flight): wait for an event.
 *   IO_YIELD   the step used its byte budget and could go on: let the other connections of
 *              the loop have a turn first (no event will come by itself: the caller asks for one).
 *   IO_CLOSED  the peer went away (EOF, EPIPE, ECONNRESET): close quietly.
 *   IO_ERROR   anything else; already logged: close. */
enum io_rc { IO_DONE, IO_AGAIN, IO_YIELD, IO_CLOSED, IO_ERROR };

/* Sorts an errno from a failed socket call; EINTR is the caller's to retry.
 * `what` names the call for the log line written on IO_ERROR. */
enum io_rc io_rc_from_errno(int err, const char *what);

#endif
