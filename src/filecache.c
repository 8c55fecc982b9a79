/* filecache.c - an open-file cache kept exact by inotify.
 * A miss opens the file as path_open() does, then watches the file (through any symlink) and
 * each directory from the root down to it, on the request's path and on the file's real path.
 * Any event on any watch empties the whole cache: changes to served trees are rare, so a
 * coarse flush keeps the rules simple. Entries in use when flushed or evicted live on until
 * their last user lets go. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>
#include "filecache.h"
#include "log.h"
#include "path.h"

/* Changes to a file's bytes, metadata or links (unlink and rename-over count as IN_ATTRIB). */
#define FILE_EVENTS (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF)
/* Names appearing, vanishing or moving in a directory, and the directory itself changing. */
#define DIR_EVENTS (IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
                    IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define WATCHES_PER_ENTRY 16  /* beyond cap * this, start a fresh inotify instance */

struct fcache_entry {
    struct fcache_entry *chain;      /* in a hash bucket */
    struct fcache_entry *prev, *next; /* in the LRU list */
    int fd;
    unsigned refs;                   /* users, plus one while in the table */
    uint32_t hash;
    struct stat st;
    char key[];                      /* the path relative to the root */
};

static uint32_t hash_path(const char *s)
{
    uint32_t h = 2166136261u;  /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void entry_unref(struct fcache_entry *e)
{
    if (--e->refs == 0) {
        close(e->fd);
        free(e);
    }
}

static void lru_unlink(struct fcache *fc, struct fcache_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        fc->lru_head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        fc->lru_tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push(struct fcache *fc, struct fcache_entry *e)
{
    e->prev = NULL;
    e->next = fc->lru_head;
    if (fc->lru_head)
        fc->lru_head->prev = e;
    else
        fc->lru_tail = e;
    fc->lru_head = e;
}

/* Takes e out of the table; its fd closes when the last user is done. */
static void evict(struct fcache *fc, struct fcache_entry *e)
{
    struct fcache_entry **pp = &fc->buckets[e->hash % fc->nbuckets];
    while (*pp != e)
        pp = &(*pp)->chain;
    *pp = e->chain;
    lru_unlink(fc, e);
    fc->count--;
    entry_unref(e);
}

static void flush(struct fcache *fc)
{
    while (fc->lru_head)
        evict(fc, fc->lru_head);
    fc->flushes++;
}

static void on_inotify(void *ctx, uint32_t events);

/* A new inotify instance drops every watch of the old one; so the cache must be emptied. */
static void reset_watches(struct fcache *fc)
{
    if (fc->ino_fd >= 0) {
        loop_del(fc->loop, fc->ino_fd);
        close(fc->ino_fd);
    }
    flush(fc);
    fc->watches = 0;
    fc->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    fc->w = (struct watcher){ on_inotify, fc };
    if (fc->ino_fd >= 0 && loop_add(fc->loop, fc->ino_fd, EPOLLIN, &fc->w) == 0)
        return;
    log_errno("inotify: the open-file cache is off");
    if (fc->ino_fd >= 0)
        close(fc->ino_fd);
    fc->ino_fd = -1;
}

/* Whatever happened, the cached view may be wrong: drain the events and forget everything.
 * Returns whether the cache was emptied. */
static bool drain(struct fcache *fc)
{
    _Alignas(struct inotify_event) char buf[4096];
    bool any = false;
    ssize_t n;
    while ((n = read(fc->ino_fd, buf, sizeof buf)) > 0)
        any = true;
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        log_errno("inotify read");
        reset_watches(fc);
        return true;
    }
    if (any)
        flush(fc);
    return any;
}

static void on_inotify(void *ctx, uint32_t events)
{
    (void)events;
    drain(ctx);
}

static bool watch(struct fcache *fc, const char *path, uint32_t mask)
{
    fc->watches++;
    return inotify_add_watch(fc->ino_fd, path, mask) >= 0;
}

/* Watches the root and every directory below it on the way to the file at abs (an absolute
 * path that starts with the root). */
static bool watch_dirs(struct fcache *fc, char *abs)
{
    size_t rl = strlen(fc->root);
    for (char *p = abs + rl; (p = strchr(p + 1, '/')) != NULL;) {
        *p = '\0';
        bool ok = watch(fc, abs, DIR_EVENTS);
        *p = '/';
        if (!ok)
            return false;
    }
    return watch(fc, fc->root, DIR_EVENTS);
}

/* Watches what could change the answer for rel, then checks that nothing changed between the
 * open and the watches; false means: serve this fd, but do not cache it. */
static bool watch_entry(struct fcache *fc, const char *rel, int fd, const struct stat *st)
{
    if (fc->watches > fc->cap * WATCHES_PER_ENTRY)
        reset_watches(fc);
    if (fc->ino_fd < 0)
        return false;
    char abs[PATH_MAX + PATH_MAX_BYTES], real[PATH_MAX];
    if ((size_t)snprintf(abs, sizeof abs, "%s/%s", fc->root, rel) >= sizeof abs ||
        !watch(fc, abs, FILE_EVENTS) || !watch_dirs(fc, abs) || !path_of_fd(fd, real))
        return false;
    size_t rl = strlen(fc->root);
    if (strcmp(real, abs) != 0) {  /* reached through a symlink: watch the target's way too */
        if (strncmp(real, fc->root, rl) != 0 || real[rl] != '/' || !watch_dirs(fc, real))
            return false;
    }
    struct stat now;
    return stat(abs, &now) == 0 && now.st_ino == st->st_ino && now.st_dev == st->st_dev &&
           now.st_size == st->st_size && now.st_mtim.tv_sec == st->st_mtim.tv_sec &&
           now.st_mtim.tv_nsec == st->st_mtim.tv_nsec;
}

int fcache_init(struct fcache *fc, struct loop *loop, int root_fd, unsigned cap)
{
    memset(fc, 0, sizeof *fc);
    fc->loop = loop;
    fc->root_fd = root_fd;
    fc->ino_fd = -1;
    fc->cap = cap;
    if (cap == 0)
        return 0;
    fc->nbuckets = cap * 2;
    fc->buckets = calloc(fc->nbuckets, sizeof *fc->buckets);
    if (!fc->buckets) {
        log_errno("calloc file cache");
        return -1;
    }
    if (!path_of_fd(root_fd, fc->root)) {
        log_errno("the open-file cache is off: cannot name the root");
        return 0;
    }
    reset_watches(fc);
    fc->flushes = 0;
    return 0;
}

void fcache_free(struct fcache *fc)
{
    if (fc->buckets)
        flush(fc);
    free(fc->buckets);
    fc->buckets = NULL;
    if (fc->ino_fd >= 0)
        close(fc->ino_fd);  /* the loop's epoll set goes with the loop */
    fc->ino_fd = -1;
}

static struct fcache_entry *lookup(struct fcache *fc, const char *rel, uint32_t h)
{
    for (struct fcache_entry *e = fc->buckets[h % fc->nbuckets]; e; e = e->chain)
        if (e->hash == h && strcmp(e->key, rel) == 0)
            return e;
    return NULL;
}

/* Adds an opened file; NULL (the caller keeps the fd) when memory is short. */
static struct fcache_entry *insert(struct fcache *fc, const char *rel, uint32_t h, int fd,
                                   const struct stat *st)
{
    size_t len = strlen(rel) + 1;
    struct fcache_entry *e = malloc(sizeof *e + len);
    if (!e)
        return NULL;
    if (fc->count >= fc->cap)
        evict(fc, fc->lru_tail);
    memcpy(e->key, rel, len);
    e->fd = fd;
    e->st = *st;
    e->hash = h;
    e->refs = 1;
    e->chain = fc->buckets[h % fc->nbuckets];
    fc->buckets[h % fc->nbuckets] = e;
    lru_push(fc, e);
    fc->count++;
    return e;
}

int fcache_open(struct fcache *fc, const char *rel, struct stat *st, bool allow_dir,
                struct fcache_entry **ent)
{
    *ent = NULL;
    bool cacheable = fc->ino_fd >= 0;
    uint32_t h = cacheable ? hash_path(rel) : 0;
    struct fcache_entry *e = cacheable ? lookup(fc, rel, h) : NULL;
    /* The request may have been read after its batch began, past a change whose event is
     * queued but not yet seen: one read of the (usually empty) queue settles it. */
    if (e && drain(fc))
        e = NULL;  /* emptied: e is gone */
    if (e) {
        fc->hits++;
        lru_unlink(fc, e);
        lru_push(fc, e);
        e->refs++;
        *st = e->st;
        *ent = e;
        return e->fd;
    }
    int fd = path_open(fc->root_fd, rel, st, allow_dir);
    if (fd < 0 || !cacheable || !S_ISREG(st->st_mode))
        return fd;
    fc->misses++;
    if (!watch_entry(fc, rel, fd, st) || !(e = insert(fc, rel, h, fd, st)))
        return fd;
    e->refs++;
    *ent = e;
    return fd;
}

void fcache_close(int fd, struct fcache_entry *ent)
{
    if (ent)
        entry_unref(ent);
    else if (fd >= 0)
        close(fd);
}
