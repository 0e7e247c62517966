/*
 * metrics_http - the /metrics endpoint (see metrics_http.h)
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "util.h"
#include "listen_addr.h"
#include "metrics.h"
#include "web_text.h"
#include "metrics_http.h"

#define MAX_BODY (1u << 20)

static struct MHD_Daemon *daemon_handle;
static metrics_fill_fn fill_snapshot;
static int64_t started_ms;

/* answer - a body with its status */
static enum MHD_Result
answer(struct MHD_Connection *conn, unsigned status, const char *type,
       char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	r = MHD_create_response_from_buffer(len, body, mode);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

/* handle - one request */
static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url,
       const char *method, const char *version, const char *upload_data,
       size_t *upload_data_size, void **con_cls)
{
	static char not_found[] = "not found: try /metrics\n";
	static char bad_method[] = "GET or HEAD only\n";
	struct metrics_snapshot snap;
	struct wt_buf b;
	char   *body;
	size_t  len;

	(void) cls;
	(void) version;
	(void) upload_data;
	(void) con_cls;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
			      bad_method, strlen(bad_method), MHD_RESPMEM_PERSISTENT);
	if (*upload_data_size != 0)
		return MHD_NO;
	if (strcmp(url, "/metrics") != 0)
		return answer(conn, MHD_HTTP_NOT_FOUND, "text/plain", not_found,
			      strlen(not_found), MHD_RESPMEM_PERSISTENT);
	memset(&snap, 0, sizeof(snap));
	snap.version = PACKAGE_VERSION;
	snap.start_time_ms = started_ms;
	snap.dir.up = -1;
	fill_snapshot(&snap);
	wt_buf_init(&b, MAX_BODY);
	metrics_render(&b, &snap);
	body = wt_buf_export(&b, &len);
	return answer(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
		      body, len, MHD_RESPMEM_MUST_FREE);
}

/* metrics_http_start - see metrics_http.h */
int
metrics_http_start(const char *listen, metrics_fill_fn fill, char *err,
		   size_t errlen)
{
	struct sockaddr_storage ss;
	const char *why;

	if ((why = listen_addr_parse(listen, &ss, NULL)) != NULL) {
		rg_snprintf(err, errlen, "metrics_listen \"%s\": %s", listen, why);
		return -1;
	}
	fill_snapshot = fill;
	started_ms = rg_wall_ms();
	metrics_enable(1);
	daemon_handle = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD
					 | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
					 0, NULL, NULL, handle, NULL,
					 MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &ss,
					 MHD_OPTION_CONNECTION_LIMIT, (unsigned) 16,
					 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 10,
					 MHD_OPTION_END);
	if (daemon_handle == NULL) {
		rg_snprintf(err, errlen, "metrics_listen %s: cannot listen: %s",
			    listen, strerror(errno ? errno : EADDRINUSE));
		metrics_enable(0);
		return -1;
	}
	return 0;
}

/* metrics_http_stop - see metrics_http.h */
void
metrics_http_stop(void)
{
	if (daemon_handle != NULL)
		MHD_stop_daemon(daemon_handle);
	daemon_handle = NULL;
}
