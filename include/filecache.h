/* filecache.h - descriptors of recently served files, kept open so a hot file costs no
 * open, fstat or close: a hit is a hash lookup and no system call.
 * It stays exact with inotify instead of timed revalidation: every cached file and every
 * directory on its way from the root is watched, any change there empties the cache, and a
 * hit first reads the event queue, so a request sent after a change never gets the old file.
 * One cache per loop; no locking. */
#ifndef AWS_FILECACHE_H
#define AWS_FILECACHE_H

#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>
#include "loop.h"

#define FCACHE_DEFAULT_ENTRIES 256   /* open files a loop keeps; bounded by the fd limit too */

struct fcache_entry;

struct fcache {
    struct loop *loop;
    int root_fd;
    char root[PATH_MAX];           /* the root's absolute path: inotify takes paths */
    int ino_fd;                    /* inotify instance in the loop's set; -1: no caching */
    struct watcher w;
    struct fcache_entry **buckets; /* open hashing on the path relative to the root */
    unsigned nbuckets;
    struct fcache_entry *lru_head, *lru_tail;  /* every cached entry, most recent first */
    unsigned count, cap;
    unsigned watches;              /* watches added to this inotify instance */
    unsigned long long hits, misses, flushes;
};

/* Sets up an empty cache of at most cap entries (0: caching off, every call opens the file).
 * Returns 0, or -1 when memory is short; an inotify failure only turns caching off (logged). */
int fcache_init(struct fcache *fc, struct loop *loop, int root_fd, unsigned cap);
/* Closes every descriptor; entries still referenced must have been released first. */
void fcache_free(struct fcache *fc);

/* path_open() with a cache in front: returns an fd and fills *st, or minus an HTTP status.
 * *ent is set when the fd belongs to the cache (give it back with fcache_close, never close()),
 * NULL when the caller owns it. Only regular files are cached. */
int fcache_open(struct fcache *fc, const char *rel, struct stat *st, bool allow_dir,
                struct fcache_entry **ent);
/* Releases what fcache_open gave: drops the reference, or closes an uncached fd. */
void fcache_close(int fd, struct fcache_entry *ent);

#endif
