/* mime.h - Content-Type from a file name's extension: a built-in table for the web,
 * optionally extended at startup from a file in the /etc/mime.types format. */
#ifndef AWS_MIME_H
#define AWS_MIME_H

/* Returns a string valid until mime_free(); "application/octet-stream" when unknown. */
const char *mime_type(const char *path);

/* Adds (or overrides) types from `file` ("type ext1 ext2..." lines, # comments); text
 * types get "; charset=utf-8". Call before serving starts. Returns 0, or -1 after logging. */
int mime_load(const char *file);

/* Frees what mime_load() added. */
void mime_free(void);

#endif
