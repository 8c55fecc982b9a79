/* serve_static.h - the /static body: zero-copy sendfile() from the file to the socket.
 * Progress lives in the connection (file_off, file_end); this module never touches epoll. */
#ifndef AWS_SERVE_STATIC_H
#define AWS_SERVE_STATIC_H

#include "io.h"

#ifndef STATIC_SENDFILE_CAP
#define STATIC_SENDFILE_CAP (256 * 1024)  /* bytes per sendfile() call; see serve_static.c */
#endif
#ifndef STATIC_FIRST_CAP
#define STATIC_FIRST_CAP (64 * 1024)      /* ... but the first call of a body: see serve_static.c */
#endif
#ifndef STATIC_STEP_BUDGET
#define STATIC_STEP_BUDGET (256 * 1024)   /* bytes one step sends before it yields */
#endif

struct conn;

/* Sends until the body is done (IO_DONE), the socket is full (IO_AGAIN), or the step's budget
 * is spent (IO_YIELD). */
enum io_rc serve_static_step(struct conn *c);

#endif
