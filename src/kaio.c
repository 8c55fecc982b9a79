/* kaio.c - Linux native AIO through libaio: submits reads and reaps their completions.
 * Completions are announced on an eventfd that sits in the loop's epoll set, so the loop never
 * blocks in io_getevents. It does not know what the bytes are for; each job's done() does. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "kaio.h"
#include "log.h"

#define KAIO_REAP_BATCH 64

int kaio_init(struct kaio *k)
{
    memset(k, 0, sizeof *k);
    k->efd = -1;
    /* libaio returns -errno instead of setting errno. */
    int rc = io_setup(KAIO_MAX_EVENTS, &k->ctx);
    if (rc < 0) {
        log_err("io_setup(%d): %s", KAIO_MAX_EVENTS, strerror(-rc));
        return -1;
    }
    k->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (k->efd < 0) {
        log_errno("eventfd");
        io_destroy(k->ctx);
        return -1;
    }
    return 0;
}

void kaio_free(struct kaio *k)
{
    /* io_destroy waits for reads in flight, so their buffers may be freed afterwards. */
    if (k->ctx)
        io_destroy(k->ctx);
    if (k->efd >= 0)
        close(k->efd);
    k->ctx = 0;
    k->efd = -1;
}

static void enqueue(struct kaio *k, struct kaio_job *job)
{
    job->next = NULL;
    if (k->queue_tail)
        k->queue_tail->next = job;
    else
        k->queue_head = job;
    k->queue_tail = job;
    k->queued++;
}

static struct kaio_job *dequeue(struct kaio *k)
{
    struct kaio_job *job = k->queue_head;
    k->queue_head = job->next;
    if (!k->queue_head)
        k->queue_tail = NULL;
    return job;
}

/* Hands queued jobs to the kernel, as many as it takes. Jobs the kernel refuses for a reason
 * other than "full" complete at once with that error. */
static void flush_queue(struct kaio *k)
{
    while (k->queue_head) {
        struct iocb *batch[KAIO_REAP_BATCH];
        int n = 0;
        for (struct kaio_job *j = k->queue_head; j && n < KAIO_REAP_BATCH; j = j->next)
            batch[n++] = &j->iocb;
        int rc = io_submit(k->ctx, n, batch);
        if (rc == -EAGAIN || rc == 0)
            return;  /* still full: retried after the next completions */
        if (rc < 0) {
            struct kaio_job *job = dequeue(k);
            job->done(job, rc);
            continue;
        }
        k->submits += (unsigned long)rc;
        while (rc-- > 0)
            dequeue(k);
    }
}

int kaio_submit_read(struct kaio *k, struct kaio_job *job, int fd, void *buf, size_t len, off_t off,
                     int rw_flags)
{
    io_prep_pread(&job->iocb, fd, buf, len, off);
    job->iocb.aio_rw_flags = (unsigned)rw_flags;
    io_set_eventfd(&job->iocb, k->efd);
    job->iocb.data = job;
    if (k->queue_head) {  /* keep submission order behind jobs already waiting */
        enqueue(k, job);
        return 0;
    }
    struct iocb *one = &job->iocb;
    int rc = io_submit(k->ctx, 1, &one);
    if (rc == 1) {
        k->submits++;
        return 0;
    }
    if (rc == -EAGAIN || rc == 0) {  /* the context is full: submit once reads complete */
        enqueue(k, job);
        return 0;
    }
    return rc;
}

void kaio_retry(struct kaio *k)
{
    flush_queue(k);
}

bool kaio_cancel_queued(struct kaio *k, struct kaio_job *job)
{
    struct kaio_job **pp = &k->queue_head, *prev = NULL;
    for (; *pp; prev = *pp, pp = &(*pp)->next) {
        if (*pp != job)
            continue;
        *pp = job->next;
        if (k->queue_tail == job)
            k->queue_tail = prev;
        return true;
    }
    return false;
}

void kaio_on_event(void *ctx, uint32_t events)
{
    struct kaio *k = ctx;
    uint64_t count;
    (void)events;
    /* Reset the counter first: completions landing after this read raise it again, so none
     * is missed between the drain below and the next epoll_wait. */
    if (read(k->efd, &count, sizeof count) < 0 && errno != EAGAIN)
        log_errno("read eventfd");
    struct io_event ev[KAIO_REAP_BATCH];
    struct timespec zero = { 0, 0 };
    int n;
    do {
        n = io_getevents(k->ctx, 0, KAIO_REAP_BATCH, ev, &zero);
        if (n == -EINTR)
            continue;
        if (n < 0) {
            log_err("io_getevents: %s", strerror(-n));
            break;
        }
        for (int i = 0; i < n; i++) {
            struct kaio_job *job = ev[i].data;
            k->completions++;
            job->done(job, (long)ev[i].res);
        }
    } while (n == KAIO_REAP_BATCH || n == -EINTR);
    flush_queue(k);
}
