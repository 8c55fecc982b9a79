/* path.h - from request target to an open file inside the document root.
 * Decoding and normalising are pure string work; opening is confined by the kernel
 * (openat2 RESOLVE_BENEATH), so neither "..", nor a symlink, nor a race can leave the root. */
#ifndef AWS_PATH_H
#define AWS_PATH_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#define PATH_MAX_BYTES 4096

enum path_area { PATH_STATIC, PATH_DYNAMIC };

/* Turns a request target ("/static/a%20b.txt?x") into a path relative to the root
 * ("static/a b.txt") in out[cap]: percent-decoded once, dot segments removed, query dropped.
 * Returns 0, 400 (bad encoding, NUL, encoded '/', climbing above the root) or
 * 404 (not under /static/ or /dynamic/). */
int path_from_url(const char *url, size_t len, char *out, size_t cap, enum path_area *area);

/* Opens rel (from path_from_url) under root_fd, read-only and non-blocking, following only
 * symlinks that stay inside the root; fills *st. Returns the fd, or minus an HTTP status:
 * -404 (missing, outside the root, not a regular file nor an allowed directory),
 * -403 (permission), -503 (out of descriptors), -500. */
int path_open(int root_fd, const char *rel, struct stat *st, bool allow_dir);

/* The absolute path of what fd is open on (through /proc/self/fd); false if it has none. */
bool path_of_fd(int fd, char out[PATH_MAX]);

/* The origin-form part of a target: past "http://authority" when absolute-form. */
const char *path_origin_form(const char *url, size_t len);

#endif
