/* mime.c - the extension -> Content-Type table. Text types carry charset=utf-8 so browsers
 * never guess; anything unknown is served as opaque bytes. A built-in sorted table covers the
 * web; mime_load() adds a heap hash table, consulted first, from an /etc/mime.types file. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "log.h"
#include "mime.h"

/* Longest extension looked up; longer ones are unknown. Room for the longest in Debian's
 * mime.types ("sarif-external-properties"), and a bound on the work done per request. */
#define MIME_EXT_MAX 31

#define MIME_DEFAULT "application/octet-stream"
#define TEXT_CHARSET "; charset=utf-8"

/* Sorted by ext (strcmp, lower case) for bsearch: keep it so when adding a line. */
static const struct builtin {
    const char *ext, *type;
} builtins[] = {
    { "7z", "application/x-7z-compressed" },
    { "aac", "audio/aac" },
    { "apng", "image/apng" },
    { "avif", "image/avif" },
    { "bmp", "image/bmp" },
    { "bz2", "application/x-bzip2" },
    { "css", "text/css; charset=utf-8" },
    { "csv", "text/csv; charset=utf-8" },
    { "epub", "application/epub+zip" },
    { "flac", "audio/flac" },
    { "gif", "image/gif" },
    { "gz", "application/gzip" },
    { "htm", "text/html; charset=utf-8" },
    { "html", "text/html; charset=utf-8" },
    { "ico", "image/x-icon" },
    { "jpeg", "image/jpeg" },
    { "jpg", "image/jpeg" },
    { "js", "text/javascript; charset=utf-8" },
    { "json", "application/json" },
    { "jsonld", "application/ld+json" },
    { "log", "text/plain; charset=utf-8" },
    { "m4a", "audio/mp4" },
    { "m4v", "video/mp4" },
    { "map", "application/json" },
    { "md", "text/markdown; charset=utf-8" },
    { "mjs", "text/javascript; charset=utf-8" },
    { "mkv", "video/x-matroska" },
    { "mov", "video/quicktime" },
    { "mp3", "audio/mpeg" },
    { "mp4", "video/mp4" },
    { "mpeg", "video/mpeg" },
    { "mpg", "video/mpeg" },
    { "oga", "audio/ogg" },
    { "ogg", "audio/ogg" },
    { "ogv", "video/ogg" },
    { "opus", "audio/ogg" },  /* RFC 7845: Opus files are Ogg; audio/opus names RTP payloads */
    { "otf", "font/otf" },
    { "pdf", "application/pdf" },
    { "png", "image/png" },
    { "rtf", "application/rtf" },
    { "svg", "image/svg+xml" },
    { "tar", "application/x-tar" },
    { "tgz", "application/gzip" },
    { "tif", "image/tiff" },
    { "tiff", "image/tiff" },
    { "ttf", "font/ttf" },
    { "txt", "text/plain; charset=utf-8" },
    { "vtt", "text/vtt; charset=utf-8" },
    { "wasm", "application/wasm" },  /* browsers refuse streaming compilation without it */
    { "wav", "audio/wav" },
    { "weba", "audio/webm" },
    { "webm", "video/webm" },
    { "webmanifest", "application/manifest+json" },
    { "webp", "image/webp" },
    { "woff", "font/woff" },
    { "woff2", "font/woff2" },
    { "xhtml", "application/xhtml+xml" },
    { "xml", "application/xml" },
    { "xz", "application/x-xz" },
    { "zip", "application/zip" },
    { "zst", "application/zstd" },
};

/* A slot of the loaded table: one allocation holding "ext\0type\0"; type points into it. */
struct slot {
    char *ext;
    const char *type;
};

/* Open addressing with linear probing; cap is a power of two, at most half full. */
static struct {
    struct slot *v;
    size_t cap, n;
} loaded;

/* FNV-1a: short keys, no attacker control (the file is the operator's), good enough spread. */
static size_t hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

/* Returns the slot for ext: the one holding it, or the empty one where it would go. */
static struct slot *slot_of(const char *ext)
{
    size_t mask = loaded.cap - 1;
    for (size_t i = hash(ext) & mask;; i = (i + 1) & mask)
        if (!loaded.v[i].ext || strcmp(loaded.v[i].ext, ext) == 0)
            return &loaded.v[i];
}

/* Doubles the table and moves every slot over; returns 0, or -1 with errno ENOMEM. */
static int table_grow(void)
{
    struct slot *old = loaded.v;
    size_t old_cap = loaded.cap;
    size_t cap = old_cap ? old_cap * 2 : 256;  /* Debian's mime.types has about 2000 exts */
    struct slot *v = calloc(cap, sizeof *v);
    if (!v)
        return -1;
    loaded.v = v;
    loaded.cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].ext)
            *slot_of(old[i].ext) = old[i];
    free(old);
    return 0;
}

/* Maps ext (lower case already) to type, replacing an earlier mapping; -1 on ENOMEM. */
static int table_put(const char *ext, const char *type, bool text)
{
    size_t el = strlen(ext), tl = strlen(type), cl = text ? strlen(TEXT_CHARSET) : 0;
    if ((loaded.n + 1) * 2 > loaded.cap && table_grow())
        return -1;
    char *block = malloc(el + 1 + tl + cl + 1);
    if (!block)
        return -1;
    memcpy(block, ext, el + 1);
    memcpy(block + el + 1, type, tl);
    memcpy(block + el + 1 + tl, TEXT_CHARSET, cl);
    block[el + 1 + tl + cl] = '\0';
    struct slot *s = slot_of(ext);
    if (s->ext)
        free(s->ext);  /* a later line wins */
    else
        loaded.n++;
    s->ext = block;
    s->type = block + el + 1;
    return 0;
}

/* RFC 9110 token characters: a type made of them cannot break the header line it goes in. */
static bool is_tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* True for "type/subtype", both parts non-empty tokens. */
static bool valid_type(const char *t)
{
    const char *slash = strchr(t, '/');
    if (!slash || slash == t || slash[1] == '\0')
        return false;
    for (const char *p = t; *p; p++)
        if (p != slash && !is_tchar((unsigned char)*p))
            return false;
    return true;
}

/* Lower-cases an ASCII extension of 1..MIME_EXT_MAX bytes into out; false if it is too long. */
static bool lower_ext(const char *ext, size_t n, char out[MIME_EXT_MAX + 1])
{
    if (n == 0 || n > MIME_EXT_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        out[i] = ext[i] >= 'A' && ext[i] <= 'Z' ? (char)(ext[i] | 0x20) : ext[i];
    out[n] = '\0';
    return true;
}

/* Adds the mappings of one mime.types line; malformed lines are skipped. -1 on ENOMEM. */
static int load_line(char *line)
{
    static const char ws[] = " \t\r\n";
    char *save, *word, ext[MIME_EXT_MAX + 1];
    char *type = strtok_r(line, ws, &save);

    if (!type || type[0] == '#' || !valid_type(type))
        return 0;
    bool text = strncasecmp(type, "text/", 5) == 0;
    /* a word starting with '#' begins a comment, as in Python's mimetypes */
    while ((word = strtok_r(NULL, ws, &save)) && word[0] != '#') {
        /* mime_type() looks only after the last dot: an ext with a dot could never match */
        if (strchr(word, '.') || !lower_ext(word, strlen(word), ext))
            continue;
        if (table_put(ext, type, text))
            return -1;
    }
    return 0;
}

int mime_load(const char *file)
{
    FILE *f = fopen(file, "re");
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;

    if (!f) {
        log_errno("cannot open MIME types file %s", file);
        return -1;
    }
    while (getline(&line, &cap, f) >= 0) {
        if (load_line(line)) {
            log_errno("%s", file);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        log_errno("cannot read MIME types file %s", file);
        rc = -1;
    }
    free(line);
    fclose(f);
    return rc;
}

void mime_free(void)
{
    for (size_t i = 0; i < loaded.cap; i++)
        free(loaded.v[i].ext);
    free(loaded.v);
    loaded.v = NULL;
    loaded.cap = loaded.n = 0;
}

static int builtin_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct builtin *)elem)->ext);
}

/* Types from mime_load() stay valid until mime_free(); built-in ones forever. */
const char *mime_type(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    const char *dot = strrchr(name, '.');
    char ext[MIME_EXT_MAX + 1];

    if (!dot || dot == name)  /* ".hidden" has no extension */
        return MIME_DEFAULT;
    if (!lower_ext(dot + 1, strnlen(dot + 1, MIME_EXT_MAX + 1), ext))
        return MIME_DEFAULT;
    if (loaded.n) {
        const struct slot *s = slot_of(ext);
        if (s->ext)
            return s->type;
    }
    const struct builtin *b = bsearch(ext, builtins, sizeof builtins / sizeof builtins[0],
                                      sizeof builtins[0], builtin_cmp);
    return b ? b->type : MIME_DEFAULT;
}
