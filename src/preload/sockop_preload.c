/* LD_PRELOAD test shim: socket receives return at most 20 bytes and socket sends
 * (send/write/writev/sendmsg/sendfile) move about half, so every partial-I/O path in the
 * server runs. It must leave files, pipes, eventfds and signalfds alone, keep errno as the
 * real call left it, and print nothing unless SOCKOP_VERBOSE=1.
 * Two opt-in harder modes, both off unless their variable is set:
 *   SOCKOP_MODE=hard     every other socket receive or send of a thread fails with EINTR
 *                        without being made, and the others move exactly 1 byte;
 *   SOCKOP_AIO_EAGAIN=N  every Nth io_submit (libaio) is refused with -EAGAIN, as when the
 *                        AIO context is full, so the server's resubmission path runs. */

/* Fortified headers turn recv/read into inline wrappers that would clash with our
 * definitions below, so this file is always compiled without them. */
#undef _FORTIFY_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <libaio.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* Receives larger than this are cut down; 20 splits a request line in the middle. */
#define RECV_CAP 20

/* Settings read from the environment once, at load time, before any wrapped call uses them. */
static int hard_mode;                /* SOCKOP_MODE=hard */
static unsigned long aio_every;      /* SOCKOP_AIO_EAGAIN=N; 0: io_submit is never refused */

/* io_submit calls so far, in all threads (updated atomically: workers submit in parallel). */
static unsigned long aio_calls;

/* Socket calls made by this thread in hard mode. Per thread, so that the odd/even pattern of
 * one event loop does not depend on what the other loops happen to be doing. */
static _Thread_local unsigned long hard_calls;

/* Which way the data of a wrapped call flows: receives and sends are cut differently. */
enum dir { DIR_RECV, DIR_SEND };

/* glibc declares the socket address arguments as transparent unions under _GNU_SOURCE;
 * our definitions must use the same types or they conflict with <sys/socket.h>. */
typedef ssize_t (*recv_fn)(int, void *, size_t, int);
typedef ssize_t (*recvfrom_fn)(int, void *, size_t, int, __SOCKADDR_ARG, socklen_t *);
typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*readv_fn)(int, const struct iovec *, int);
typedef ssize_t (*send_fn)(int, const void *, size_t, int);
typedef ssize_t (*sendto_fn)(int, const void *, size_t, int, __CONST_SOCKADDR_ARG, socklen_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);
typedef ssize_t (*sendfile_fn)(int, int, off_t *, size_t);
typedef ssize_t (*sendfile64_fn)(int, int, off64_t *, size_t);
typedef ssize_t (*read_chk_fn)(int, void *, size_t, size_t);
typedef ssize_t (*recv_chk_fn)(int, void *, size_t, size_t, int);
typedef ssize_t (*recvfrom_chk_fn)(int, void *, size_t, size_t, int, __SOCKADDR_ARG,
                                   socklen_t *);
typedef int (*io_submit_fn)(io_context_t, long, struct iocb *[]);

/* The fortified entry points glibc uses when a program is built with _FORTIFY_SOURCE;
 * they bypass recv/read entirely, so they are wrapped too. Not declared without it. */
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
                       __SOCKADDR_ARG addr, socklen_t *addr_len);

static struct {
    recv_fn recv;
    recvfrom_fn recvfrom;
    read_fn read;
    readv_fn readv;
    send_fn send;
    sendto_fn sendto;
    write_fn write;
    writev_fn writev;
    sendmsg_fn sendmsg;
    sendfile_fn sendfile;
    sendfile64_fn sendfile64;
    read_chk_fn read_chk;
    recv_chk_fn recv_chk;
    recvfrom_chk_fn recvfrom_chk;
    io_submit_fn io_submit;     /* libaio's; NULL in a program not linked with it */
} real;

static pthread_once_t resolve_once = PTHREAD_ONCE_INIT;

/* Looks up the next definition of name (libc's); NULL if no later object has one. */
static void *next_symbol(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

/* Writes one line to stderr with the real write, so that it is never shortened or refused. */
static void say(const char *line)
{
    if (real.write != NULL)
        (void)real.write(STDERR_FILENO, line, strlen(line));
}

/* Reads SOCKOP_MODE and SOCKOP_AIO_EAGAIN. A value we do not understand is reported rather
 * than ignored: a test that believes it runs in hard mode but does not could never fail.
 * Unset variables, the usual case, change nothing and print nothing. */
static void read_settings(void)
{
    char line[160];
    const char *mode = getenv("SOCKOP_MODE");
    if (mode != NULL && strcmp(mode, "hard") == 0) {
        hard_mode = 1;
    } else if (mode != NULL && mode[0] != '\0') {
        snprintf(line, sizeof line, "sockop_preload: unknown SOCKOP_MODE=%.60s (want hard)\n",
                 mode);
        say(line);
    }

    const char *every = getenv("SOCKOP_AIO_EAGAIN");
    if (every != NULL && every[0] != '\0') {
        char *end;
        errno = 0;
        unsigned long n = strtoul(every, &end, 10);
        if (every[0] >= '0' && every[0] <= '9' && *end == '\0' && errno == 0 && n > 0) {
            aio_every = n;
        } else {
            snprintf(line, sizeof line,
                     "sockop_preload: bad SOCKOP_AIO_EAGAIN=%.60s (want a count >= 1)\n", every);
            say(line);
        }
    }
}

/* Resolves every real function in one go, then reads the settings. Run through
 * pthread_once because the first wrapped call can come from any thread, and even from
 * another library's constructor before ours would have run. The banner is opt-in: tests
 * fail on stray stderr lines. */
static void resolve_all(void)
{
    /* POSIX lets dlsym's object pointer be converted to a function pointer; the
     * memcpy form avoids the ISO C warning about that conversion. */
#define RESOLVE(field, name)                                                   \
    do {                                                                       \
        void *sym_ = next_symbol(name);                                        \
        memcpy(&real.field, &sym_, sizeof real.field);                         \
    } while (0)
    RESOLVE(recv, "recv");
    RESOLVE(recvfrom, "recvfrom");
    RESOLVE(read, "read");
    RESOLVE(readv, "readv");
    RESOLVE(send, "send");
    RESOLVE(sendto, "sendto");
    RESOLVE(write, "write");
    RESOLVE(writev, "writev");
    RESOLVE(sendmsg, "sendmsg");
    RESOLVE(sendfile, "sendfile");
    RESOLVE(sendfile64, "sendfile64");
    RESOLVE(read_chk, "__read_chk");
    RESOLVE(recv_chk, "__recv_chk");
    RESOLVE(recvfrom_chk, "__recvfrom_chk");
    /* The server calls io_submit through its PLT entry for libaio.so.1, and we come first
     * in the search order; RTLD_NEXT finds libaio's default version of the symbol. */
    RESOLVE(io_submit, "io_submit");
#undef RESOLVE

    read_settings();

    const char *verbose = getenv("SOCKOP_VERBOSE");
    if (verbose != NULL && strcmp(verbose, "1") == 0) {
        if (hard_mode)
            say("sockop_preload: hard mode: every other socket call fails with EINTR, "
                "the others move 1 byte\n");
        else
            say("sockop_preload: socket receives capped at 20 bytes, sends halved\n");
        if (aio_every > 0) {
            char line[96];
            snprintf(line, sizeof line, "sockop_preload: every io_submit call number %lu*k "
                     "refused with EAGAIN\n", aio_every);
            say(line);
        }
    }
}

/* Makes sure the real functions are known; callers then check their own pointer. */
static void resolve(void)
{
    int saved = errno;
    pthread_once(&resolve_once, resolve_all);
    errno = saved;
}

/* Resolves at load time too, so SOCKOP_VERBOSE=1 shows the banner even in a program
 * that never does socket I/O, which tells the user the preload did load. */
__attribute__((constructor)) static void sockop_on_load(void)
{
    resolve();
}

/* Returns nonzero if fd is a socket. Only sockets are shortened: a signalfd read shorter
 * than one siginfo (128 bytes) fails with EINVAL, and eventfd reads need all 8 bytes.
 * fstat may fail on a bad fd; the real call will report that, so errno is restored. */
static int is_socket(int fd)
{
    struct stat st;
    int saved = errno;
    int sock = fd >= 0 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
    errno = saved;
    return sock;
}

/* Receive length to pass on: at most RECV_CAP for sockets, unchanged otherwise. */
static size_t recv_len(int fd, size_t n)
{
    return (n > RECV_CAP && is_socket(fd)) ? RECV_CAP : n;
}

/* Send length to pass on: half for sockets, but never 0, since a zero-byte send would
 * look like no progress to the caller and could spin it forever. */
static size_t send_len(int fd, size_t n)
{
    if (n < 2 || !is_socket(fd))
        return n;
    return n / 2;
}

/* Decides what becomes of one call that would move n bytes through fd. Returns -1, with
 * errno set to EINTR, when the call must fail without being made (hard mode, every other
 * socket call of the thread); otherwise 0 with *len the byte count to pass on: 1 on a
 * socket in hard mode, else per recv_len/send_len. Non-sockets always keep n. An EINTR
 * never moves data, which is what a signal arriving before the transfer looks like. */
static int shape(int fd, size_t n, enum dir dir, size_t *len)
{
    if (!hard_mode) {
        *len = dir == DIR_RECV ? recv_len(fd, n) : send_len(fd, n);
        return 0;
    }
    *len = n;
    if (!is_socket(fd))
        return 0;
    if (++hard_calls % 2 == 1) {
        errno = EINTR;
        return -1;
    }
    if (n > 1)
        *len = 1;
    return 0;
}

/* Sum of the iovec lengths, saturating rather than wrapping on absurd input. */
static size_t iov_total(const struct iovec *iov, int cnt)
{
    size_t total = 0;
    for (int i = 0; i < cnt; i++) {
        if (iov[i].iov_len > SIZE_MAX - total)
            return SIZE_MAX;
        total += iov[i].iov_len;
    }
    return total;
}

/* Copies the leading iovecs of in[] into out[] so they add up to at most limit bytes,
 * cutting the last one short; returns how many entries out[] holds. The caller's array
 * is never modified: it may be const, and it is the caller's record of what to send. */
static int iov_trim(const struct iovec *in, int cnt, size_t limit, struct iovec *out)
{
    int n = 0;
    for (int i = 0; i < cnt && limit > 0; i++) {
        out[n] = in[i];
        if (out[n].iov_len > limit)
            out[n].iov_len = limit;
        limit -= out[n].iov_len;
        n++;
    }
    return n;
}

/* Fails like a missing system call if libc had no such symbol (e.g. sendfile64 on an
 * architecture without it). */
static ssize_t missing(void)
{
    errno = ENOSYS;
    return -1;
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    resolve();
    if (real.recv == NULL)
        return missing();
    size_t len;
    if (shape(fd, n, DIR_RECV, &len) < 0)
        return -1;
    return real.recv(fd, buf, len, flags);
}

ssize_t recvfrom(int fd, void *buf, size_t n, int flags, __SOCKADDR_ARG addr,
                 socklen_t *addr_len)
{
    resolve();
    if (real.recvfrom == NULL)
        return missing();
    size_t len;
    if (shape(fd, n, DIR_RECV, &len) < 0)
        return -1;
    return real.recvfrom(fd, buf, len, flags, addr, addr_len);
}

ssize_t read(int fd, void *buf, size_t n)
{
    resolve();
    if (real.read == NULL)
        return missing();
    size_t len;
    if (shape(fd, n, DIR_RECV, &len) < 0)
        return -1;
    return real.read(fd, buf, len);
}

/* readv on a socket reads what shape() allows in total (RECV_CAP, or 1 byte in hard mode),
 * spread over a trimmed copy of the caller's iovecs. Counts the kernel would reject pass
 * through to fail there. */
ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    resolve();
    if (real.readv == NULL)
        return missing();
    if (cnt <= 0 || cnt > IOV_MAX || iov == NULL)
        return real.readv(fd, iov, cnt);
    size_t total = iov_total(iov, cnt);
    size_t want;
    if (shape(fd, total, DIR_RECV, &want) < 0)
        return -1;
    if (want == total)
        return real.readv(fd, iov, cnt);
    struct iovec cut[IOV_MAX];
    return real.readv(fd, cut, iov_trim(iov, cnt, want, cut));
}

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    resolve();
    if (real.send == NULL)
        return missing();
    size_t len;
    if (shape(fd, n, DIR_SEND, &len) < 0)
        return -1;
    return real.send(fd, buf, len, flags);
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags, __CONST_SOCKADDR_ARG addr,
               socklen_t addr_len)
{
    resolve();
    if (real.sendto == NULL)
        return missing();
    size_t len;
    if (shape(fd, n, DIR_SEND, &len) < 0)
        return -1;
    return real.sendto(fd, buf, len, flags, addr, addr_len);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    resolve();
    if (real.write == NULL)
        return missing();
    size_t len;
    if (shape(fd, n, DIR_SEND, &len) < 0)
        return -1;
    return real.write(fd, buf, len);
}

/* writev on a socket sends what shape() allows of the total (half, or 1 byte in hard
 * mode), over a trimmed copy of the iovecs. */
ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    resolve();
    if (real.writev == NULL)
        return missing();
    if (cnt <= 0 || cnt > IOV_MAX || iov == NULL)
        return real.writev(fd, iov, cnt);
    size_t total = iov_total(iov, cnt);
    size_t want;
    if (shape(fd, total, DIR_SEND, &want) < 0)
        return -1;
    if (want == total)
        return real.writev(fd, iov, cnt);
    struct iovec cut[IOV_MAX];
    return real.writev(fd, cut, iov_trim(iov, cnt, want, cut));
}

/* sendmsg sends what shape() allows of the data; addresses and control messages (e.g.
 * SCM_RIGHTS) go along unchanged on a copy of the header, since the kernel sends them with
 * the first byte regardless of how much data follows. */
ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    resolve();
    if (real.sendmsg == NULL)
        return missing();
    if (msg == NULL || msg->msg_iov == NULL || msg->msg_iovlen == 0 ||
        msg->msg_iovlen > IOV_MAX)
        return real.sendmsg(fd, msg, flags);
    int cnt = (int)msg->msg_iovlen;
    size_t total = iov_total(msg->msg_iov, cnt);
    size_t want;
    if (shape(fd, total, DIR_SEND, &want) < 0)
        return -1;
    if (want == total)
        return real.sendmsg(fd, msg, flags);
    struct iovec cut[IOV_MAX];
    struct msghdr copy = *msg;
    copy.msg_iov = cut;
    copy.msg_iovlen = (size_t)iov_trim(msg->msg_iov, cnt, want, cut);
    return real.sendmsg(fd, &copy, flags);
}

/* sendfile is cut like a send when the destination is a socket; the source is always a
 * file. An EINTR leaves *offset untouched, as the kernel does when nothing was sent. */
ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
    resolve();
    if (real.sendfile == NULL)
        return missing();
    size_t len;
    if (shape(out_fd, count, DIR_SEND, &len) < 0)
        return -1;
    return real.sendfile(out_fd, in_fd, offset, len);
}

ssize_t sendfile64(int out_fd, int in_fd, off64_t *offset, size_t count)
{
    resolve();
    if (real.sendfile64 == NULL)
        return missing();
    size_t len;
    if (shape(out_fd, count, DIR_SEND, &len) < 0)
        return -1;
    return real.sendfile64(out_fd, in_fd, offset, len);
}

/* Shapes a fortified receive: an overflowing request (n > buflen) is passed on whole and
 * never failed with EINTR, so the real __*_chk still catches it and aborts, as it would
 * without us. Returns like shape(). */
static int shape_chk(int fd, size_t n, size_t buflen, size_t *len)
{
    if (n > buflen) {
        *len = n;
        return 0;
    }
    return shape(fd, n, DIR_RECV, len);
}

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    resolve();
    if (real.read_chk == NULL)
        return missing();
    size_t len;
    if (shape_chk(fd, n, buflen, &len) < 0)
        return -1;
    return real.read_chk(fd, buf, len, buflen);
}

ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
    resolve();
    if (real.recv_chk == NULL)
        return missing();
    size_t len;
    if (shape_chk(fd, n, buflen, &len) < 0)
        return -1;
    return real.recv_chk(fd, buf, len, buflen, flags);
}

ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
                       __SOCKADDR_ARG addr, socklen_t *addr_len)
{
    resolve();
    if (real.recvfrom_chk == NULL)
        return missing();
    size_t len;
    if (shape_chk(fd, n, buflen, &len) < 0)
        return -1;
    return real.recvfrom_chk(fd, buf, len, buflen, flags, addr, addr_len);
}

/* libaio's io_submit, refused with -EAGAIN on every aio_every-th call (counted over all
 * threads) without submitting anything: that is how libaio reports a full context, as a
 * negative errno return with errno untouched. Other calls go through unchanged. */
int io_submit(io_context_t ctx, long nr, struct iocb *ios[])
{
    resolve();
    if (real.io_submit == NULL)
        return -ENOSYS;
    if (aio_every > 0 && __atomic_add_fetch(&aio_calls, 1, __ATOMIC_RELAXED) % aio_every == 0)
        return -EAGAIN;
    return real.io_submit(ctx, nr, ios);
}
