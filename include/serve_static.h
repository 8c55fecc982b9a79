/* serve_static.h - the /static body: zero-copy sendfile() from the file to the socket.
 * Progress lives in the connection (file_off, file_end); this module never touches epoll. */
#ifndef AWS_SERVE_STATIC_H
#define AWS_SERVE_STATIC_H

#include "io.h"

#ifndef STATIC_SENDFILE_CAP
#define STATIC_SENDFILE_CAP (512 * 1024)  /* bytes per sendfile() call; see serve_static.c */
#endif

struct conn;

/* Sends until the body is done or the socket is full. */
enum io_rc serve_static_step(struct conn *c);

#endif
