/* mime.c - the extension -> Content-Type table. Text types carry charset=utf-8 so browsers
 * never guess; anything unknown is served as opaque bytes. */
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include "mime.h"

static const struct { const char *ext, *type; } types[] = {
    { "html", "text/html; charset=utf-8" },  { "htm", "text/html; charset=utf-8" },
    { "css", "text/css; charset=utf-8" },    { "js", "text/javascript; charset=utf-8" },
    { "mjs", "text/javascript; charset=utf-8" },
    { "txt", "text/plain; charset=utf-8" },  { "md", "text/markdown; charset=utf-8" },
    { "csv", "text/csv; charset=utf-8" },    { "xml", "application/xml" },
    { "json", "application/json" },          { "map", "application/json" },
    { "svg", "image/svg+xml" },              { "png", "image/png" },
    { "jpg", "image/jpeg" },                 { "jpeg", "image/jpeg" },
    { "gif", "image/gif" },                  { "webp", "image/webp" },
    { "avif", "image/avif" },                { "ico", "image/x-icon" },
    { "bmp", "image/bmp" },                  { "woff", "font/woff" },
    { "woff2", "font/woff2" },               { "ttf", "font/ttf" },
    { "otf", "font/otf" },                   { "wasm", "application/wasm" },
    { "pdf", "application/pdf" },            { "zip", "application/zip" },
    { "gz", "application/gzip" },            { "tar", "application/x-tar" },
    { "mp3", "audio/mpeg" },                 { "ogg", "audio/ogg" },
    { "wav", "audio/wav" },                  { "mp4", "video/mp4" },
    { "webm", "video/webm" },                { "mov", "video/quicktime" },
};

const char *mime_type(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    const char *dot = strrchr(name, '.');
    if (dot && dot != name) {  /* ".hidden" has no extension */
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0)
                return types[i].type;
    }
    return "application/octet-stream";
}
