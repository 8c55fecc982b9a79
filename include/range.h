/* range.h - byte ranges (RFC 9110 §14): parsing a Range header against a file size, and the
 * text framing of a multipart/byteranges body. Pure string work: no I/O. */
#ifndef AWS_RANGE_H
#define AWS_RANGE_H

#include <stddef.h>
#include <sys/types.h>

#define RANGE_MAX_PARTS 16                    /* more (after coalescing) -> whole file, 200 */
#define RANGE_MAX_SPECS (4 * RANGE_MAX_PARTS) /* more specs than this -> ignored, 200 */
#define RANGE_BOUNDARY_BYTES 24               /* length of a boundary string, without NUL */

struct byte_range {
    off_t first, last;  /* inclusive, 0 <= first <= last < size */
};

enum range_rc {
    RANGE_NONE,           /* absent, not "bytes=", malformed, or too many parts: send 200 */
    RANGE_OK,             /* ranges[0..n) sorted, clipped, overlapping or adjacent ones merged */
    RANGE_UNSATISFIABLE,  /* well-formed, but no range overlaps the file: send 416 */
};

/* Parses a Range value (e.g. "bytes=0-99, 200-, -50") for a file of `size` bytes.
 * out must hold RANGE_MAX_PARTS entries; *n receives their number on RANGE_OK. */
enum range_rc range_parse(const char *value, size_t len, off_t size, struct byte_range *out, int *n);

/* Writes a fresh random-looking boundary of RANGE_BOUNDARY_BYTES characters plus NUL. */
void range_boundary(char out[RANGE_BOUNDARY_BYTES + 1]);

/* Writes the head of one part: "\r\n--B\r\nContent-Type: T\r\nContent-Range: bytes a-b/size\r\n\r\n"
 * (type omitted when NULL). Returns the length, 0 if cap is too small. */
size_t range_part_head(char *buf, size_t cap, const char *boundary, const char *type,
                       const struct byte_range *r, off_t size);

/* Writes the closing delimiter "\r\n--B--\r\n"; returns the length, 0 if cap is too small. */
size_t range_multipart_tail(char *buf, size_t cap, const char *boundary);

/* The exact Content-Length of the multipart body for these ranges (part heads, bodies, tail). */
off_t range_multipart_length(const struct byte_range *r, int n, const char *boundary,
                             const char *type, off_t size);

#endif
