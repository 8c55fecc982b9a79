/* mime.h - Content-Type from a file name's extension. */
#ifndef AWS_MIME_H
#define AWS_MIME_H

/* Returns a static string; "application/octet-stream" when the extension is unknown. */
const char *mime_type(const char *path);

#endif
