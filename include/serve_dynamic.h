/* serve_dynamic.h - the /dynamic body: kernel AIO reads into two aligned buffers, sent with
 * send() while the next block is being read. Uses O_DIRECT where the filesystem allows, so the
 * read never blocks the loop; falls back to buffered reads elsewhere. Never touches epoll. */
#ifndef AWS_SERVE_DYNAMIC_H
#define AWS_SERVE_DYNAMIC_H

#include <stdbool.h>
#include <stddef.h>
#include "io.h"

#ifndef DYN_BLOCK_BYTES
/* One AIO read, a multiple of every O_DIRECT alignment. Swept on 2 MiB and 256 MiB files
 * (bench/README.md): 512 KiB moves ~10-25% more per CPU second than 128 KiB; 1 MiB adds little. */
#define DYN_BLOCK_BYTES (512 * 1024)
#endif
#define DYN_ALIGN 4096                /* buffer and offset alignment O_DIRECT needs at most */
#define DYN_POOL_MAX 64               /* idle blocks a loop keeps for the next responses */
#define DYN_POOL_IDLE_MS 10000        /* ... and gives back after this long without use */
#define DYN_SMALL_BYTES (16 * 1024)   /* reads up to this size use plain small allocations */

struct conn;
struct conn_ctx;

/* Sets up buffers and starts the first reads for c->file_off..c->file_end.
 * Returns IO_DONE or IO_ERROR (logged). */
enum io_rc serve_dynamic_begin(struct conn *c);
/* Sends whatever has been read, preceded by the rest of the head while c->hoff < c->hlen (the
 * head leaves with the first block, in one call); IO_AGAIN means: socket full, or waiting for a
 * read (serve_dynamic_waiting() tells which). */
enum io_rc serve_dynamic_step(struct conn *c);
/* True when the next bytes to send are still being read by the kernel. */
bool serve_dynamic_waiting(const struct conn *c);
/* Reads in flight; the connection must not be freed while this is non-zero. */
int serve_dynamic_in_flight(const struct conn *c);
/* Withdraws reads still queued in user space (not yet given to the kernel). */
void serve_dynamic_cancel(struct conn *c);
/* For the start-up report: whether the filesystem of <root>/dynamic accepts O_DIRECT, tried on
 * its first regular file. Writes a phrase for the log into out ("O_DIRECT", or "buffered (...)"). */
void serve_dynamic_probe(int root_fd, char *out, size_t cap);
/* Frees the loop's idle blocks (at exit, and when none was used for DYN_POOL_IDLE_MS). */
void serve_dynamic_pool_free(struct conn_ctx *cc);
/* Gives the buffers back to the loop's pool; only when serve_dynamic_in_flight() is 0. */
void serve_dynamic_free(struct conn *c);

#endif
