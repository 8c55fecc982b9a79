/* listing.c - turns an open directory into an HTML index page in memory: read, stat, sort,
 * format. It never sends anything and never decides whether a listing may be shown; that is
 * the caller's business. Names are untrusted bytes: escaped for HTML, percent-encoded for links. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "listing.h"

/* A growable output buffer; p stays NUL-terminated whenever it is non-NULL. */
struct buf {
    char *p;
    size_t len, cap;
};

/* One row of the listing; name is owned by the entry. */
struct entry {
    char *name;
    bool dir;
    off_t size;
    time_t mtime;
};

/* A list of entries that grows by doubling. */
struct entries {
    struct entry *v;
    size_t n, cap;
};

/* Makes room for n more bytes plus the NUL; returns 0, or -1 with errno ENOMEM. */
static int buf_reserve(struct buf *b, size_t n)
{
    if (n > SIZE_MAX - b->len - 1) {
        errno = ENOMEM;
        return -1;
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 1024;  /* most listings fit in a few KiB */
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int buf_add(struct buf *b, const char *s, size_t n)
{
    if (buf_reserve(b, n))
        return -1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static int buf_puts(struct buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

/* Appends s as HTML text, safe inside elements and quoted attributes. Control bytes become
 * U+FFFD: they are parse errors in HTML and a file name may hold any byte but '/' and NUL. */
static int buf_html(struct buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *rep = NULL;
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default:
            if (c < 0x20 || c == 0x7f)
                rep = "&#xFFFD;";
        }
        if (rep ? buf_puts(b, rep) : buf_add(b, s, 1))
            return -1;
    }
    return 0;
}

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

/* Appends s percent-encoded except for RFC 3986 unreserved characters. Encoding ':' too keeps
 * a name like "javascript:x" a relative link, and the result needs no HTML escaping. */
static int buf_url(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char enc[3] = { '%', hex[c >> 4], hex[c & 15] };
        if (is_unreserved(c) ? buf_add(b, s, 1) : buf_add(b, enc, sizeof enc))
            return -1;
    }
    return 0;
}

/* Appends one table row: link, name, size (or "-" for a directory), mtime in UTC. */
static int buf_row(struct buf *b, const struct entry *e)
{
    const char *slash = e->dir ? "/" : "";
    char size[32], when[32];
    struct tm tm;

    if (e->dir)
        snprintf(size, sizeof size, "-");
    else
        snprintf(size, sizeof size, "%lld", (long long)e->size);
    if (!gmtime_r(&e->mtime, &tm) || strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm) == 0)
        snprintf(when, sizeof when, "-");  /* a year beyond what struct tm holds */
    if (buf_puts(b, "<tr><td><a href=\"") || buf_url(b, e->name) || buf_puts(b, slash) ||
        buf_puts(b, "\">") || buf_html(b, e->name) || buf_puts(b, slash) ||
        buf_puts(b, "</a></td><td>") || buf_puts(b, size) || buf_puts(b, "</td><td>") ||
        buf_puts(b, when) || buf_puts(b, "</td></tr>\n"))
        return -1;
    return 0;
}

static void entries_free(struct entries *es)
{
    for (size_t i = 0; i < es->n; i++)
        free(es->v[i].name);
    free(es->v);
    es->v = NULL;
    es->n = es->cap = 0;
}

/* Stats name (following symlinks, so a link shows what it leads to) and appends it. Returns 0
 * also when the stat fails: a broken link or a file deleted meanwhile is simply not listed,
 * and neither are FIFOs, sockets and devices, which the server would refuse anyway. */
static int entries_add(struct entries *es, int dir_fd, const char *name)
{
    struct stat st;
    if (fstatat(dir_fd, name, &st, 0) != 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
        return 0;
    if (es->n == es->cap) {
        size_t cap = es->cap ? es->cap * 2 : 64;
        if (cap > SIZE_MAX / sizeof *es->v) {
            errno = ENOMEM;
            return -1;
        }
        struct entry *v = realloc(es->v, cap * sizeof *v);
        if (!v)
            return -1;
        es->v = v;
        es->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return -1;
    es->v[es->n++] = (struct entry){ copy, S_ISDIR(st.st_mode), st.st_size, st.st_mtime };
    return 0;
}

/* Reads every visible entry of d into es; returns 0, or -1 with errno set. */
static int entries_read(struct entries *es, DIR *d)
{
    for (;;) {
        errno = 0;  /* readdir returns NULL both at the end and on error */
        struct dirent *de = readdir(d);
        if (!de)
            return errno ? -1 : 0;
        if (de->d_name[0] == '.')  /* ".", ".." and dotfiles */
            continue;
        if (entries_add(es, dirfd(d), de->d_name))
            return -1;
    }
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* Opens a DIR stream of its own on dir_fd's directory, at the start, leaving dir_fd open. */
static DIR *open_dir_stream(int dir_fd)
{
    int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    /* A dup shares the file offset: the caller may have read this fd already. */
    rewinddir(d);
    return d;
}

/* Writes the whole page for the sorted entries into b. */
static int page_write(struct buf *b, const char *url_path, const struct entries *es)
{
    if (buf_puts(b, "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>Index of ") ||
        buf_html(b, url_path) || buf_puts(b, "</title>\n</head>\n<body>\n<h1>Index of ") ||
        buf_html(b, url_path) ||
        buf_puts(b, "</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr>\n"
                    "<tr><td><a href=\"../\">../</a></td><td>-</td><td></td></tr>\n"))
        return -1;
    for (size_t i = 0; i < es->n; i++)
        if (buf_row(b, &es->v[i]))
            return -1;
    return buf_puts(b, "</table>\n</body>\n</html>\n");
}

int listing_build(int dir_fd, const char *url_path, char **out, size_t *len)
{
    struct entries es = { NULL, 0, 0 };
    struct buf b = { NULL, 0, 0 };
    int rc = -1;

    if (!url_path || !out || !len) {
        errno = EINVAL;
        return -1;
    }
    DIR *d = open_dir_stream(dir_fd);
    if (!d)
        return -1;
    if (entries_read(&es, d) == 0) {
        qsort(es.v, es.n, sizeof *es.v, entry_cmp);
        rc = page_write(&b, url_path, &es);
    }
    int e = errno;
    rewinddir(d);  /* the shared offset goes back to the start, as in a fresh fd */
    closedir(d);
    entries_free(&es);
    if (rc) {
        free(b.p);
        errno = e;
        return -1;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}
