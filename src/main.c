/* main.c - startup, wiring, and THE event loop.
 * One epoll set per worker carries its listener, its client sockets, its AIO eventfd and a
 * notification eventfd (the first worker also holds the signalfd); each registration points at a
 * watcher, so an event costs one indirect call. Connections closed during a batch are freed after
 * it, which makes stale events in the batch harmless. Workers share nothing on the request path:
 * each has its own loop, listening socket (SO_REUSEPORT), AIO context and log buffer.
 * Nothing here knows HTTP. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include "accesslog.h"
#include "conn.h"
#include "filecache.h"
#include "kaio.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "mime.h"
#include "options.h"
#include "serve_dynamic.h"
#include "timer.h"
#include "version.h"

#define LOOP_MAX_EVENTS 256
#define RESERVE_FDS 32          /* epoll, eventfds, listeners, logs, the spare: never for clients */
#define FDS_PER_CONN 2          /* a socket, and the file it sends */
#define FLUSH_INTERVAL_MS 1000  /* buffered access log lines wait at most this long */
#define AIO_RETRY_MS 10         /* how soon reads io_submit refused are tried again */

/* ---------------------------------------------------------------- the loop */

int loop_init(struct loop *l)
{
    l->stop = false;
    l->now = timer_now();
    l->longest_us = 0;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        log_errno("epoll_create1");
    return l->epfd < 0 ? -1 : 0;
}

void loop_free(struct loop *l)
{
    if (l->epfd >= 0)
        close(l->epfd);
    l->epfd = -1;
}

int loop_add(struct loop *l, int fd, uint32_t events, struct watcher *w)
{
    struct epoll_event ev = { .events = events, .data.ptr = w };
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int loop_mod(struct loop *l, int fd, uint32_t events, struct watcher *w)
{
    struct epoll_event ev = { .events = events, .data.ptr = w };
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
}

int loop_del(struct loop *l, int fd)
{
    return epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void loop_run(struct loop *l, const struct loop_hooks *h)
{
    struct epoll_event evs[LOOP_MAX_EVENTS];
    while (!l->stop) {
        int n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, h->timeout(h->ctx));
        uint64_t start = now_us();
        l->now = start / 1000;  /* deadlines armed during the batch count from here */
        if (n < 0 && errno != EINTR) {
            log_errno("epoll_wait");
            return;
        }
        for (int i = 0; i < n; i++) {
            struct watcher *w = evs[i].data.ptr;
            w->cb(w->ctx, evs[i].events);
        }
        h->after_batch(h->ctx);
        uint64_t took = now_us() - start;
        if (took > l->longest_us)
            l->longest_us = took;
    }
}

/* ---------------------------------------------------------------- workers */

struct worker {
    int id;
    struct loop loop;
    struct kaio kaio;
    struct listener ls;
    struct conn_ctx cc;
    struct fcache fcache;
    struct watcher aio_w, note_w, sig_w;
    int note_fd;                /* eventfd: "look at stop_level" */
    pthread_t thread;
    uint64_t drain_deadline;    /* ms; 0 while not shutting down */
    uint64_t next_flush;        /* ms; 0 while the access log buffer is empty */
    uint64_t next_stats;        /* ms: --trace logs the counters again after this */
    unsigned long long stats_requests;  /* requests at the last --trace counters line */
    struct accesslog alog;
};

static struct options opt;
static struct accesslog_file alog_file = { .fd = -1 };
static struct worker **workers;
static int nworkers;
static int sig_fd = -1;
static atomic_int stop_level;   /* 0 serving, 1 finishing responses, 2 exit now */
static unsigned fcache_entries; /* per worker: open files cached */

static int worker_timeout(void *ctx)
{
    struct worker *w = ctx;
    w->loop.now = timer_now();
    int t = conn_next_timeout(&w->cc);
    uint64_t extra[] = { w->next_flush, w->drain_deadline };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        if (!extra[i])
            continue;
        int until = extra[i] > w->loop.now ? (int)(extra[i] - w->loop.now) : 0;
        if (t < 0 || until < t)
            t = until;
    }
    if (w->kaio.queue_head && (t < 0 || t > AIO_RETRY_MS))
        t = AIO_RETRY_MS;
    return t;
}

static void trace_counters(struct worker *w);

static void worker_after_batch(void *ctx)
{
    struct worker *w = ctx;
    if (w->kaio.queue_head)
        kaio_retry(&w->kaio);
    conn_reap(&w->cc);
    conn_expire(&w->cc);
    conn_reap(&w->cc);
    if (w->alog.len && !w->next_flush) {
        w->next_flush = w->loop.now + FLUSH_INTERVAL_MS;
    } else if (w->next_flush && w->loop.now >= w->next_flush) {
        accesslog_flush(&w->alog);
        w->next_flush = 0;
    }
    if (opt.trace)
        trace_counters(w);
    if (w->drain_deadline && (!w->cc.live || w->loop.now >= w->drain_deadline))
        w->loop.stop = true;  /* every response is done, or the grace period is over */
}

/* The connection cap was reached (full) or left: stop or resume accepting. */
static void worker_on_limit(void *ctx, bool full)
{
    struct worker *w = ctx;
    listener_pause(&w->ls, full);
}

/* loop_cb for the notification eventfd: applies the shutdown level. */
static void worker_on_note(void *ctx, uint32_t events)
{
    struct worker *w = ctx;
    uint64_t count;
    (void)events;
    if (read(w->note_fd, &count, sizeof count) < 0 && errno != EAGAIN)
        log_errno("read eventfd");
    int level = atomic_load(&stop_level);
    if (level >= 2 || (level == 1 && opt.shutdown_timeout_ms == 0)) {
        w->loop.stop = true;
    } else if (level == 1 && !w->drain_deadline) {
        listener_close(&w->ls);  /* new connections are refused from now on */
        conn_drain(&w->cc);
        w->drain_deadline = w->loop.now + opt.shutdown_timeout_ms;
    }
}

static void notify_workers(void)
{
    uint64_t one = 1;
    for (int i = 0; i < nworkers; i++)
        if (write(workers[i]->note_fd, &one, sizeof one) < 0)
            log_errno("write eventfd");
}

/* ---------------------------------------------------------------- signals and logs */

/* Points stderr at --error-log FILE (again, after rotation). */
static int open_error_log(void)
{
    if (!opt.error_log || strcmp(opt.error_log, "-") == 0)
        return 0;
    int fd = open(opt.error_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_errno("cannot open error log %s", opt.error_log);
        return -1;
    }
    dup2(fd, STDERR_FILENO);  /* atomic: no thread ever sees stderr closed */
    close(fd);
    return 0;
}

/* loop_cb for the signalfd: SIGTERM/SIGINT shut down (twice: at once), SIGUSR1 reopens logs. */
static void on_signal(void *ctx, uint32_t events)
{
    struct signalfd_siginfo si;
    (void)ctx;
    (void)events;
    while (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGUSR1) {
            open_error_log();
            accesslog_file_reopen(&alog_file);
            log_info("SIGUSR1: logs reopened");
            continue;
        }
        int level = atomic_load(&stop_level) + 1;
        atomic_store(&stop_level, level > 2 ? 2 : level);
        if (level == 1)
            log_info("%s: finishing responses under way (up to %u ms), accepting no more",
                     strsignal((int)si.ssi_signo), opt.shutdown_timeout_ms);
        else
            log_info("%s again: exiting now", strsignal((int)si.ssi_signo));
        notify_workers();
    }
}

/* SIGINT/SIGTERM/SIGUSR1 arrive as a readable fd in the first worker's epoll set; every
 * thread inherits the blocked mask, so none is ever interrupted by them. */
static int signals_block(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);  /* a vanished client must be an EPIPE, not our death */
    sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sig_fd < 0)
        log_errno("signalfd");
    return sig_fd < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- start and stop */

/* Raises the descriptor limit to the hard one and derives the connection cap from it. */
static unsigned long connection_cap(long *limit)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max > (1 << 20) ? (1 << 20) : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    *limit = (long)rl.rlim_cur;
    /* The file cache may hold a sixteenth of the descriptors; connections get the rest. */
    long share = *limit / 16 / nworkers;
    fcache_entries = share < FCACHE_DEFAULT_ENTRIES ? (unsigned)share : FCACHE_DEFAULT_ENTRIES;
    if (opt.max_connections > 0)
        return (unsigned long)opt.max_connections;
    long cap = (*limit - RESERVE_FDS - (long)fcache_entries * nworkers) / FDS_PER_CONN;
    return cap > 1 ? (unsigned long)cap : 1;
}

static struct worker *worker_new(int id, int root_fd, unsigned long cap)
{
    struct worker *w = calloc(1, sizeof *w);
    if (!w) {
        log_errno("calloc worker");
        return NULL;
    }
    w->id = id;
    w->loop.epfd = w->kaio.efd = w->ls.fd = w->ls.spare_fd = w->note_fd = w->fcache.ino_fd = -1;
    if (loop_init(&w->loop) < 0 || kaio_init(&w->kaio) < 0 ||
        fcache_init(&w->fcache, &w->loop, root_fd, fcache_entries) < 0 ||
        listener_open(&w->ls, opt.bind, opt.port, nworkers > 1) < 0)
        return w;  /* the caller sees ls.fd < 0 and gives up */
    conn_ctx_init(&w->cc, &w->loop, &w->kaio, &opt, root_fd);
    w->cc.fcache = &w->fcache;
    w->cc.max_conns = cap;
    w->cc.on_limit = worker_on_limit;
    w->cc.limit_ctx = w;
    if (alog_file.fd >= 0) {
        accesslog_init(&w->alog, &alog_file);
        w->cc.alog = &w->alog;
    }
    w->note_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->aio_w = (struct watcher){ kaio_on_event, &w->kaio };
    w->note_w = (struct watcher){ worker_on_note, w };
    w->sig_w = (struct watcher){ on_signal, NULL };
    if (w->note_fd < 0 || listener_start(&w->ls, &w->loop, &w->cc) < 0 ||
        loop_add(&w->loop, w->kaio.efd, EPOLLIN, &w->aio_w) < 0 ||
        loop_add(&w->loop, w->note_fd, EPOLLIN, &w->note_w) < 0 ||
        (id == 0 && loop_add(&w->loop, sig_fd, EPOLLIN, &w->sig_w) < 0)) {
        log_errno("setting up worker %d", id);
        listener_close(&w->ls);
    }
    return w;
}

/* Frees a worker after its loop ended: the AIO context first, since io_destroy waits for reads
 * still writing into connection buffers. */
static void worker_free(struct worker *w)
{
    listener_close(&w->ls);
    if (w->kaio.efd >= 0 || w->kaio.ctx)
        kaio_free(&w->kaio);
    if (w->cc.loop)
        conn_close_all(&w->cc);
    fcache_free(&w->fcache);  /* after the connections, which hold references */
    if (w->cc.alog)
        accesslog_flush(&w->alog);
    if (w->note_fd >= 0)
        close(w->note_fd);
    loop_free(&w->loop);
    free(w);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct loop_hooks hooks = { worker_timeout, worker_after_batch, w };
    loop_run(&w->loop, &hooks);
    return NULL;
}

static void report_startup(int root_fd, long fd_limit, unsigned long cap)
{
    char root[PATH_MAX], direct[160];
    if (!realpath(opt.root, root))
        snprintf(root, sizeof root, "%s", opt.root);
    serve_dynamic_probe(root_fd, direct, sizeof direct);
    log_info("aws " AWS_VERSION " listening on %s", workers[0]->ls.name);
    log_info("document root: %s", root);
    log_info("workers: %d", nworkers);
    log_info("/dynamic reads: %s", direct);
    log_info("file descriptors: %ld; connection cap: %lu per worker%s", fd_limit, cap,
             opt.max_connections ? "" : " (derived from the descriptor limit)");
}

/* The counters of one loop or of all: what the exit summary and --trace report. */
struct counters {
    struct conn_stats c;
    unsigned long long submits, queued, hits, misses, flushes;
    uint64_t longest_us;
};

static void add_counters(struct counters *sum, const struct worker *w)
{
    const struct conn_stats *c = &w->cc.stats;
    sum->c.requests += c->requests;
    sum->c.bytes_static += c->bytes_static;
    sum->c.bytes_dynamic += c->bytes_dynamic;
    sum->c.timeouts += c->timeouts;
    sum->c.aio_cached += c->aio_cached;
    sum->c.aio_direct += c->aio_direct;
    sum->c.eagain_recv += c->eagain_recv;
    sum->c.eagain_send += c->eagain_send;
    sum->c.yields += c->yields;
    sum->submits += w->kaio.submits;
    sum->queued += w->kaio.queued;
    sum->hits += w->fcache.hits;
    sum->misses += w->fcache.misses;
    sum->flushes += w->fcache.flushes;
    if (w->loop.longest_us > sum->longest_us)
        sum->longest_us = w->loop.longest_us;
}

static void log_counters(const char *who, const struct counters *k)
{
    log_info("%s: %llu requests, %llu body bytes (static %llu, dynamic %llu), %llu AIO reads "
             "(%llu page cache, %llu O_DIRECT, %llu waited for room), %llu timeouts, EAGAIN "
             "recv %llu send %llu, %llu yields, open-file cache %llu hits %llu misses %llu "
             "flushes, longest loop iteration %llu us", who,
             k->c.requests, k->c.bytes_static + k->c.bytes_dynamic, k->c.bytes_static,
             k->c.bytes_dynamic, k->submits, k->c.aio_cached, k->c.aio_direct, k->queued,
             k->c.timeouts, k->c.eagain_recv, k->c.eagain_send, k->c.yields, k->hits, k->misses,
             k->flushes,
             (unsigned long long)k->longest_us);
}

static void report_exit(void)
{
    struct counters sum = { 0 };
    for (int i = 0; i < nworkers; i++)
        add_counters(&sum, workers[i]);
    log_counters("exit", &sum);
}

/* --trace: this loop's counters, at most once a second and only when requests were served. */
static void trace_counters(struct worker *w)
{
    if (w->loop.now < w->next_stats || w->cc.stats.requests == w->stats_requests)
        return;
    struct counters k = { 0 };
    char who[32];
    add_counters(&k, w);
    snprintf(who, sizeof who, "worker %d", w->id);
    log_counters(who, &k);
    w->stats_requests = w->cc.stats.requests;
    w->next_stats = w->loop.now + 1000;
}

/* Everything that must succeed before serving; returns the exit status on failure, else 0. */
static int start(int *root_fd, long *fd_limit, unsigned long *cap)
{
    if (opt.quiet && !opt.trace)
        log_threshold = LOG_WARN;
    if (open_error_log() < 0 || signals_block() < 0)
        return 1;
    if (opt.mime_types && mime_load(opt.mime_types) < 0)
        return 1;
    if (opt.access_log && accesslog_file_open(&alog_file, opt.access_log) < 0)
        return 1;
    *root_fd = open(opt.root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (*root_fd < 0) {
        log_errno("cannot open document root %s", opt.root);
        return 1;
    }
    *cap = connection_cap(fd_limit);
    unsigned long per_worker = *cap / (unsigned long)nworkers;
    *cap = per_worker ? per_worker : 1;
    workers = calloc((size_t)nworkers, sizeof *workers);
    if (!workers)
        return 1;
    for (int i = 0; i < nworkers; i++) {
        workers[i] = worker_new(i, *root_fd, *cap);
        if (!workers[i] || workers[i]->ls.fd < 0)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    switch (options_parse(&opt, argc, argv)) {
    case OPTIONS_EXIT:
        return 0;
    case OPTIONS_USAGE:
        return 2;
    case OPTIONS_OK:
        break;
    }
    nworkers = opt.workers;
    int root_fd = -1, rc;
    long fd_limit = 0;
    unsigned long cap = 0;
    rc = start(&root_fd, &fd_limit, &cap);
    if (rc == 0) {
        report_startup(root_fd, fd_limit, cap);
        int started = 1;
        for (; started < nworkers; started++)
            if (pthread_create(&workers[started]->thread, NULL, worker_main, workers[started]) != 0) {
                log_err("cannot start worker %d", started);
                break;
            }
        worker_main(workers[0]);
        if (atomic_load(&stop_level) == 0) {  /* the first loop failed: end the others too */
            atomic_store(&stop_level, 2);
            notify_workers();
        }
        for (int i = 1; i < started; i++)
            pthread_join(workers[i]->thread, NULL);
        report_exit();
    }
    for (int i = 0; workers && i < nworkers; i++)
        if (workers[i])
            worker_free(workers[i]);
    free(workers);
    accesslog_file_close(&alog_file);
    mime_free();
    if (sig_fd >= 0)
        close(sig_fd);
    if (root_fd >= 0)
        close(root_fd);
    return rc;
}
