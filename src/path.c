/* path.c - maps a request target to a file inside the document root.
 * The string work (decode once, drop dot segments) rejects what is plainly bad; the real
 * guarantee comes from opening with openat2(RESOLVE_BENEATH), which makes the kernel refuse any
 * resolution, through ".." or a symlink, that would leave the root. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "log.h"
#include "path.h"

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;  /* lower case */
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Skips "http://authority" of an absolute-form target (RFC 9112 §3.2.2); returns the path part. */
static const char *skip_absolute_form(const char *url, const char *end)
{
    size_t n = (size_t)(end - url);
    const char *p = NULL;
    if (n >= 7 && strncasecmp(url, "http://", 7) == 0)
        p = url + 7;
    else if (n >= 8 && strncasecmp(url, "https://", 8) == 0)
        p = url + 8;
    if (!p)
        return url;
    while (p < end && *p != '/' && *p != '?' && *p != '#')
        p++;
    return p;
}

/* Percent-decodes [p, end) into out once; returns the length, or minus an HTTP status. */
static long decode(const char *p, const char *end, char *out, size_t cap)
{
    size_t w = 0;
    while (p < end) {
        char c = *p++;
        if (c == '%') {
            int hi = end - p >= 2 ? hex_value(p[0]) : -1;
            int lo = hi >= 0 ? hex_value(p[1]) : -1;
            if (lo < 0)
                return -400;
            c = (char)(hi << 4 | lo);
            p += 2;
            if (c == '/')   /* an encoded slash would let one segment hide another */
                return -400;
        }
        if (c == '\0')
            return -400;
        if (w + 1 >= cap)
            return -414;
        out[w++] = c;
    }
    out[w] = '\0';
    return (long)w;
}

/* Removes "." and ".." segments and empty ones, in place, dropping the leading slash
 * (RFC 3986 §5.2.4, except that climbing above the root is an error, as in nginx). */
static int remove_dot_segments(char *s, size_t len)
{
    size_t r = 0, w = 0;
    bool dir = false;  /* the result names a directory: keep a trailing slash */
    while (r < len) {
        while (r < len && s[r] == '/')
            r++;
        size_t start = r;
        while (r < len && s[r] != '/')
            r++;
        size_t n = r - start;
        dir = r < len || n == 0 || (n == 1 && s[start] == '.') ||
              (n == 2 && s[start] == '.' && s[start + 1] == '.');
        if (n == 0 || (n == 1 && s[start] == '.'))
            continue;
        if (n == 2 && s[start] == '.' && s[start + 1] == '.') {
            if (w == 0)
                return 400;
            while (w > 0 && s[w - 1] != '/')
                w--;
            if (w > 0)
                w--;  /* the slash before the dropped segment */
            continue;
        }
        if (w > 0)
            s[w++] = '/';
        memmove(s + w, s + start, n);
        w += n;
    }
    if (dir && w > 0)
        s[w++] = '/';
    s[w] = '\0';
    return 0;
}

const char *path_origin_form(const char *url, size_t len)
{
    return skip_absolute_form(url, url + len);
}

int path_from_url(const char *url, size_t len, char *out, size_t cap, enum path_area *area)
{
    const char *end = url + len;
    const char *p = skip_absolute_form(url, end);
    if (p == end && p != url)
        return 404;  /* "http://host" alone: the root, which serves nothing */
    if (p == end || *p != '/')
        return 400;
    const char *stop = p;
    while (stop < end && *stop != '?' && *stop != '#')
        stop++;
    char tmp[PATH_MAX_BYTES];  /* the decoded target may be longer than the result */
    long n = decode(p, stop, tmp, sizeof tmp);
    if (n < 0)
        return (int)-n;
    int rc = remove_dot_segments(tmp, (size_t)n);
    if (rc)
        return rc;
    size_t rlen = strlen(tmp);
    if (rlen + 1 > cap)
        return 414;
    memcpy(out, tmp, rlen + 1);
    if (strncmp(out, "static/", 7) == 0)
        *area = PATH_STATIC;
    else if (strncmp(out, "dynamic/", 8) == 0)
        *area = PATH_DYNAMIC;
    else
        return 404;
    return 0;
}

bool path_of_fd(int fd, char out[PATH_MAX])
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    return realpath(link, out) != NULL;
}

/* Canonicalises rel with realpath() and returns it relative to the root again, or NULL when it
 * lies outside. Used for absolute symlinks (which RESOLVE_BENEATH refuses even when they point
 * inside) and on kernels without openat2. */
static const char *canonical_beneath(int root_fd, const char *rel, char buf[PATH_MAX])
{
    char root[PATH_MAX], full[2 * PATH_MAX];
    if (!path_of_fd(root_fd, root))
        return NULL;
    snprintf(full, sizeof full, "%s/%s", root, rel);
    if (!realpath(full, buf))
        return NULL;
    size_t rl = strlen(root);
    if (strncmp(buf, root, rl) != 0 || buf[rl] != '/') {
        errno = ENOENT;  /* outside the root: as good as missing */
        return NULL;
    }
    return buf + rl + 1;
}

static int open_beneath(int root_fd, const char *rel)
{
    /* Once ENOSYS (old kernel, or valgrind, which does not know openat2), always ENOSYS. */
    static _Thread_local bool unsupported;
    if (unsupported) {
        errno = ENOSYS;
        return -1;
    }
    struct open_how how = {
        .flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY,  /* a FIFO must not block open() */
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    int fd = (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof how);
    if (fd < 0 && errno == ENOSYS)
        unsupported = true;
    return fd;
}

/* Opens rel inside the root, following symlinks only while they stay inside. */
static int open_confined(int root_fd, const char *rel)
{
    char canon[PATH_MAX];
    int fd = open_beneath(root_fd, rel);
    if (fd >= 0 || (errno != EXDEV && errno != ENOSYS))
        return fd;
    int first = errno;
    const char *inside = canonical_beneath(root_fd, rel, canon);
    if (!inside)
        return -1;
    if (first == EXDEV)
        return open_beneath(root_fd, inside);
    /* No openat2 (kernel < 5.6): the canonical path has no symlinks left to follow. */
    return openat(root_fd, inside, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
}

int path_open(int root_fd, const char *rel, struct stat *st, bool allow_dir)
{
    int fd = open_confined(root_fd, rel);
    if (fd < 0) {
        switch (errno) {
        case EACCES:
        case EPERM:
            return -403;
        case EMFILE:
        case ENFILE:
            return -503;
        case ENOENT: case ENOTDIR: case ELOOP: case EXDEV: case ENAMETOOLONG: case ENXIO:
            return -404;
        default:
            log_errno("open %s", rel);
            return -500;
        }
    }
    if (fstat(fd, st) < 0 || !(S_ISREG(st->st_mode) || (allow_dir && S_ISDIR(st->st_mode)))) {
        close(fd);
        return -404;  /* directories, FIFOs, devices and sockets are not files to serve */
    }
    return fd;
}
