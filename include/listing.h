/* listing.h - the HTML index of a directory (off unless --listing). Pure formatting of what
 * readdir() returns; the connection sends the result from memory. */
#ifndef AWS_LISTING_H
#define AWS_LISTING_H

#include <stddef.h>

/* Builds the listing of the directory open at dir_fd (which it does not close), shown under
 * url_path (decoded, ending in '/', e.g. "/static/docs/"). Entries are sorted by name
 * (strcmp), dotfiles are hidden, directories end in '/', names are HTML-escaped in text and
 * percent-encoded in links, each row shows the size and modification time (UTC), and a
 * "../" link leads up. On success returns 0 and a malloc'd NUL-terminated page in *out
 * (length in *len); the caller frees it. Returns -1 (errno set) on failure. */
int listing_build(int dir_fd, const char *url_path, char **out, size_t *len);

#endif
