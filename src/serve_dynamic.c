/* serve_dynamic.c - sends a /dynamic body read with Linux native AIO.
 * Two aligned buffers alternate: one is being sent while the kernel fills the other, so the
 * disk and the network work at the same time. A read first asks the page cache with
 * RWF_NOWAIT, which copies cached pages inside io_submit and refuses (-EAGAIN) rather than wait
 * for the device; on a miss the file switches to O_DIRECT, whose reads go to the device
 * asynchronously. Either way io_submit never blocks the loop. Filesystems that refuse O_DIRECT
 * get plain buffered reads, which may block; that is said once in the log. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include "conn.h"
#include "log.h"
#include "serve_dynamic.h"

enum buf_state { BUF_FREE, BUF_READING, BUF_READY };

struct dyn_buf {
    struct kaio_job job;
    struct conn *c;
    char *data;           /* DYN_ALIGN-aligned, cap bytes */
    size_t cap;
    off_t off;            /* file offset of data[0], DYN_ALIGN-aligned */
    size_t len;           /* bytes the read returned */
    bool nowait;          /* the read in flight was asked of the page cache only */
    enum buf_state state;
};

struct dyn_io {
    struct dyn_buf buf[2];
    bool direct;          /* the file is in O_DIRECT mode: the page cache missed */
    bool blocking;        /* O_DIRECT was refused: plain buffered reads */
    int cur;              /* the buffer whose bytes go out next */
    int in_flight;        /* reads submitted or queued, not yet completed */
    off_t next_read;      /* file offset of the next block to read */
};

static off_t align_down(off_t x)
{
    return x & ~(off_t)(DYN_ALIGN - 1);
}

/* Reads the rest of the file with O_DIRECT where the filesystem supports it; false if refused.
 * The descriptor may be shared through the open-file cache, whose other users want the page
 * cache: so the file is opened again, privately, through /proc/self/fd, rather than switched. */
static bool try_direct(struct conn *c)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", c->file_fd);
    int fd = open(link, O_RDONLY | O_DIRECT | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd >= 0) {
        conn_release_file(c);  /* a read in flight holds its own reference to the file */
        c->file_fd = fd;
        return true;
    }
    int fl = c->file_ent ? -1 : fcntl(c->file_fd, F_GETFL);  /* no /proc: switch our own fd */
    if (fl >= 0 && fcntl(c->file_fd, F_SETFL, fl | O_DIRECT) == 0)
        return true;
    if (!c->cc->direct_warned) {
        c->cc->direct_warned = true;
        log_warn("O_DIRECT refused (%s): uncached /dynamic reads are buffered and may block the loop",
                 strerror(errno));
    }
    return false;
}

/* Submits the read of b's block; returns 0 or -errno. */
static int submit(struct conn *c, struct dyn_buf *b)
{
    struct dyn_io *d = c->dyn;
    b->nowait = !d->direct && !d->blocking;
    int flags = b->nowait ? RWF_NOWAIT : 0;
    /* O_DIRECT needs the length aligned too: read whole blocks, a short read marks EOF. */
    int rc = kaio_submit_read(c->cc->kaio, &b->job, c->file_fd, b->data, b->cap, b->off, flags);
    if (rc == 0) {
        if (d->direct)
            c->cc->stats.aio_direct++;
        else
            c->cc->stats.aio_cached++;
    }
    return rc;
}

/* A RWF_NOWAIT read that the page cache could not satisfy (whole): read it from the device.
 * Returns true when the read is in flight again. */
static bool retry_uncached(struct conn *c, struct dyn_buf *b, long res)
{
    struct dyn_io *d = c->dyn;
    off_t want = c->file_size - b->off < (off_t)b->cap ? c->file_size - b->off : (off_t)b->cap;
    bool missed = res == -EAGAIN || res == -EOPNOTSUPP || (res >= 0 && res < want);
    if (!b->nowait || !missed || c->state == CONN_CLOSING)
        return false;
    if (!d->direct && !d->blocking) {  /* the other buffer's read may have switched already */
        d->direct = try_direct(c);
        d->blocking = !d->direct;
    }
    return submit(c, b) == 0;
}

static void read_done(struct kaio_job *job, long res)
{
    struct dyn_buf *b = job->owner;
    struct conn *c = b->c;
    if (retry_uncached(c, b, res))
        return;
    if (res < 0) {
        errno = (int)-res;
        log_errno("#%lu: AIO read at %lld", c->id, (long long)b->off);
    }
    b->len = res > 0 ? (size_t)res : 0;
    b->state = BUF_READY;
    c->dyn->in_flight--;
    conn_on_aio(c);
}

/* Starts reading the next block into b; returns 0 or -errno. */
static int read_next(struct conn *c, struct dyn_buf *b)
{
    struct dyn_io *d = c->dyn;
    b->off = d->next_read;
    b->len = 0;
    b->state = BUF_READING;
    int rc = submit(c, b);
    if (rc < 0) {
        b->state = BUF_FREE;
        return rc;
    }
    d->in_flight++;
    d->next_read += (off_t)b->cap;
    return 0;
}

/* Block buffers come from a per-loop pool: a fresh block allocation per response costs
 * page faults and brk/munmap calls that, measured, took half the CPU of a 100 KiB response. */
struct free_block {
    struct free_block *next;
};

static char *block_get(struct conn_ctx *cc, size_t cap)
{
    if (cap <= DYN_SMALL_BYTES)  /* small: malloc's own bins serve these without faults */
        return aligned_alloc(DYN_ALIGN, cap);
    struct free_block *f = cc->dyn_pool;
    if (!f)
        return aligned_alloc(DYN_ALIGN, DYN_BLOCK_BYTES);
    cc->dyn_pool = f->next;
    cc->dyn_pool_len--;
    return (char *)f;
}

static void block_put(struct conn_ctx *cc, char *data, size_t cap)
{
    if (!data)
        return;
    if (cap <= DYN_SMALL_BYTES || cc->dyn_pool_len >= DYN_POOL_MAX) {
        free(data);
        return;
    }
    struct free_block *f = (struct free_block *)(void *)data;
    f->next = cc->dyn_pool;
    cc->dyn_pool = f;
    cc->dyn_pool_len++;
    cc->dyn_pool_idle_at = cc->loop->now + DYN_POOL_IDLE_MS;
}

void serve_dynamic_pool_free(struct conn_ctx *cc)
{
    struct free_block *f;
    while ((f = cc->dyn_pool)) {
        cc->dyn_pool = f->next;
        free(f);
    }
    cc->dyn_pool_len = 0;
}

enum io_rc serve_dynamic_begin(struct conn *c)
{
    struct dyn_io *d = calloc(1, sizeof *d);
    if (!d) {
        log_errno("#%lu: calloc", c->id);
        return IO_ERROR;
    }
    c->dyn = d;
    d->next_read = align_down(c->file_off);
    /* Small files read less, and into one buffer when a single block covers them. */
    off_t span = c->file_end - d->next_read;
    size_t cap = span < DYN_BLOCK_BYTES ? (size_t)((span + DYN_ALIGN - 1) & ~(off_t)(DYN_ALIGN - 1))
                                        : DYN_BLOCK_BYTES;
    int nbufs = span > (off_t)cap ? 2 : 1;
    for (int i = 0; i < nbufs; i++) {
        struct dyn_buf *b = &d->buf[i];
        b->c = c;
        b->cap = cap;
        b->job.done = read_done;
        b->job.owner = b;
        b->data = block_get(c->cc, cap);
        int rc = b->data ? read_next(c, b) : -ENOMEM;
        if (rc < 0) {
            log_err("#%lu: starting AIO read: %s", c->id, strerror(-rc));
            return IO_ERROR;
        }
    }
    return IO_DONE;
}

bool serve_dynamic_waiting(const struct conn *c)
{
    return c->dyn && c->file_off < c->file_end && c->dyn->buf[c->dyn->cur].state == BUF_READING;
}

int serve_dynamic_in_flight(const struct conn *c)
{
    return c->dyn ? c->dyn->in_flight : 0;
}

/* The current buffer is all sent: reuse it for the block after the other buffer's. */
static enum io_rc advance(struct conn *c, struct dyn_buf *b)
{
    struct dyn_io *d = c->dyn;
    off_t expected_end = b->off + (off_t)b->cap;
    if (expected_end > c->file_end)
        expected_end = c->file_end;
    if (b->off + (off_t)b->len < expected_end) {
        log_warn("#%lu: file shrank while being read; closing", c->id);
        return IO_ERROR;
    }
    b->state = BUF_FREE;
    if (d->next_read < c->file_end) {
        int rc = read_next(c, b);
        if (rc < 0) {
            log_err("#%lu: starting AIO read: %s", c->id, strerror(-rc));
            return IO_ERROR;
        }
    }
    if (d->buf[1].data)
        d->cur ^= 1;
    return IO_DONE;
}

/* Sends the head still held in hbuf together with the first body bytes: one sendmsg() where
 * a send() for each would cost a second call (and a second skb) per response. Returns the body
 * bytes sent, or -1 with errno. */
static ssize_t send_with_head(struct conn *c, const char *data, size_t len)
{
    struct iovec iov[2] = {
        { c->b->hbuf + c->hoff, c->hlen - c->hoff },
        { (void *)data, len },
    };
    struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
    ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
    if (n < 0)
        return -1;
    size_t head = (size_t)n < iov[0].iov_len ? (size_t)n : iov[0].iov_len;
    c->hoff += head;
    return n - (ssize_t)head;
}

enum io_rc serve_dynamic_step(struct conn *c)
{
    struct dyn_io *d = c->dyn;
    while (c->file_off < c->file_end) {
        struct dyn_buf *b = &d->buf[d->cur];
        if (b->state != BUF_READY)
            return IO_AGAIN;  /* serve_dynamic_waiting() is true */
        off_t valid_end = b->off + (off_t)b->len;
        if (valid_end > c->file_end)
            valid_end = c->file_end;
        if (c->file_off >= valid_end) {
            enum io_rc rc = advance(c, b);
            if (rc != IO_DONE)
                return rc;
            continue;
        }
        const char *data = b->data + (c->file_off - b->off);
        size_t len = (size_t)(valid_end - c->file_off);
        ssize_t n = c->hoff < c->hlen ? send_with_head(c, data, len)
                                      : send(c->fd, data, len, MSG_NOSIGNAL);
        if (n >= 0) {
            c->file_off += n;
            c->body_bytes += n;
            continue;
        }
        if (errno == EINTR)
            continue;
        return io_rc_from_errno(errno, "send");
    }
    return IO_DONE;
}

void serve_dynamic_cancel(struct conn *c)
{
    struct dyn_io *d = c->dyn;
    if (!d)
        return;
    for (int i = 0; i < 2; i++) {
        struct dyn_buf *b = &d->buf[i];
        if (b->state == BUF_READING && kaio_cancel_queued(c->cc->kaio, &b->job)) {
            b->state = BUF_FREE;
            d->in_flight--;
        }
    }
}

void serve_dynamic_free(struct conn *c)
{
    struct dyn_io *d = c->dyn;
    if (!d)
        return;
    block_put(c->cc, d->buf[0].data, d->buf[0].cap);
    block_put(c->cc, d->buf[1].data, d->buf[1].cap);
    free(d);
    c->dyn = NULL;
}

/* Opens the first regular file of dir_fd (which it closes); -1 when there is none. */
static int first_regular_file(int dir_fd)
{
    DIR *d = fdopendir(dir_fd);
    if (!d) {
        close(dir_fd);
        return -1;
    }
    int fd = -1;
    struct dirent *e;
    while (fd < 0 && (e = readdir(d))) {
        struct stat st;
        fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
            close(fd);
            fd = -1;
        }
    }
    closedir(d);
    return fd;
}

void serve_dynamic_probe(int root_fd, char *out, size_t cap)
{
    int dir = openat(root_fd, "dynamic", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int fd = dir >= 0 ? first_regular_file(dir) : -1;
    if (fd < 0) {
        snprintf(out, cap, "O_DIRECT where the filesystem allows it (no file in dynamic/ to try)");
        return;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && fcntl(fd, F_SETFL, fl | O_DIRECT) == 0)
        snprintf(out, cap, "page cache with RWF_NOWAIT, O_DIRECT on a miss (AIO reads never "
                 "block the loop)");
    else
        snprintf(out, cap, "page cache with RWF_NOWAIT, buffered on a miss (O_DIRECT refused: "
                 "%s; uncached reads may block the loop)", strerror(errno));
    close(fd);
}
