/* kaio.h - Linux native AIO (libaio): one io_context per loop, completions signalled through
 * an eventfd that sits in the loop's epoll set. Named kaio so it never shadows <aio.h>.
 * It submits and reaps; what a completed read means is the job owner's business. */
#ifndef AWS_KAIO_H
#define AWS_KAIO_H

#include <libaio.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define KAIO_MAX_EVENTS 256  /* io_setup size; io_submit says EAGAIN beyond it and we queue */

struct kaio_job;
/* Called once per job with the completion result: bytes read, or -errno. */
typedef void (*kaio_done_fn)(struct kaio_job *job, long res);

struct kaio_job {
    struct iocb iocb;
    kaio_done_fn done;
    void *owner;
    struct kaio_job *next;  /* in the queue of jobs io_submit had no room for */
};

struct kaio {
    io_context_t ctx;
    int efd;                  /* eventfd: readable when completions wait */
    struct kaio_job *queue_head, *queue_tail;
    unsigned long submits, queued, completions;
};

/* Creates the context and its eventfd; returns 0, or -1 after logging. */
int kaio_init(struct kaio *k);
/* Waits for every read in flight (io_destroy does), then frees the context. */
void kaio_free(struct kaio *k);
/* Starts reading len bytes at off from fd into buf, with RWF_* flags (RWF_NOWAIT: fail with
 * -EAGAIN rather than wait for the device); when the kernel has no room the job waits in a queue.
 * Returns 0, or -errno when the read could not be started at all (job->done not called). */
int kaio_submit_read(struct kaio *k, struct kaio_job *job, int fd, void *buf, size_t len, off_t off,
                     int rw_flags);
/* Forgets a queued job that never reached the kernel; returns whether it was queued. */
bool kaio_cancel_queued(struct kaio *k, struct kaio_job *job);
/* Retries jobs io_submit had no room for. Completions retry too; this covers an EAGAIN with
 * nothing in flight (aio-max-nr used up system-wide), which no completion would ever end. */
void kaio_retry(struct kaio *k);
/* loop_cb for the eventfd: reaps every completion and calls its job's done(). */
void kaio_on_event(void *ctx, uint32_t events);

#endif
