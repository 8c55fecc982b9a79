/* route.h - what a complete request gets: status, head and body plan.
 * It resolves the path, opens the file, evaluates conditionals and ranges, handles directories
 * and precompressed variants, and writes the head into c->hbuf. It sends nothing: conn.c does. */
#ifndef AWS_ROUTE_H
#define AWS_ROUTE_H

#include <stdbool.h>

struct conn;

/* Plans the response to c->req. Sets c->status, c->keep_alive, c->hbuf/hlen and the body
 * fields (body, file_fd, file_off/end, mp, mem). Returns false only when nothing can be sent
 * (out of memory, or AIO could not start with a read already in flight): close. */
bool route_request(struct conn *c);

/* Plans a complete error response (head and short HTML body in hbuf), with optional extra
 * header lines; logs it. keep_alive is honoured only if the request allows it. */
void route_error(struct conn *c, int status, bool keep_alive, const char *why, const char *extra);

#endif
