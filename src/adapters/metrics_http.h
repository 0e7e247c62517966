/*
 * metrics_http - the daemon's /metrics endpoint (metrics_listen)
 *
 * A libmicrohttpd server with one internal thread on the configured
 * address.  GET /metrics answers the Prometheus text format, rendered
 * per scrape by metrics.c from its counters and a snapshot the daemon
 * fills (fill_fn); every other path is 404, every other method 405.
 * Nothing is read from the request but its method and path, and the
 * answer carries no client data (labels are enum names).
 */
#ifndef RG_METRICS_HTTP_H
#define RG_METRICS_HTTP_H

#include <stddef.h>

struct metrics_snapshot;

typedef void (*metrics_fill_fn) (struct metrics_snapshot *snap);

/* metrics_http_start - listen on ADDR:PORT; 0, or -1 + err */
int     metrics_http_start(const char *listen, metrics_fill_fn fill,
			   char *err, size_t errlen);

/* metrics_http_stop - close the listener (no-op when not started) */
void    metrics_http_stop(void);

#endif
