/*
 * audit_serve - the dashboard's HTTP server (see audit_serve.h)
 *
 * Routing is a fixed table: a handful of static files by exact path and
 * /api/ calls; no request path ever names a file, so there is nothing
 * to traverse.  Each request opens its own read-only store connection
 * (audit_store.h: SQLite or PostgreSQL; a rotated or re-created
 * database is simply picked up), so libmicrohttpd's worker threads
 * share nothing but the configuration.
 *
 * Passwords: the file holds "user:HASH" lines, HASH from crypt(3) (for
 * example "openssl passwd -6" or mkpasswd); a file that others may read
 * is refused.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "util.h"
#include "audit_store.h"
#include "audit_api.h"
#include "listen_addr.h"
#include "audit_serve.h"

#ifndef RG_WEBDIR
#define RG_WEBDIR "/usr/share/relayguard/web"
#endif
#ifndef RG_CHARTJS
#define RG_CHARTJS "/usr/share/javascript/chart.js/chart.min.js"
#endif

#define DEFAULT_LISTEN "127.0.0.1:8026"
#define MAX_USERS 64
#define MAX_LINE 1024
#define THREADS 4
#define EXIT_START 1		/* cannot start (audit_serve.h) */
#define EXIT_USAGE 2

static const char csp[] = "default-src 'none'; script-src 'self'; "
	"style-src 'self'; img-src 'self'; connect-src 'self'; "
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

struct user {
	char    name[128];
	char    hash[512];
};

struct server {
	const char *db_path;		/* SQLite path or postgresql:// URI */
	const char *db_password_file;	/* -p: PostgreSQL password, or NULL */
	const char *web_root;
	const char *chartjs;
	struct user users[MAX_USERS];
	int     nusers;			/* 0: no authentication */
};

/* The static files, by exact request path. */
static const struct page {
	const char *path;
	const char *file;		/* under the web root; NULL = Chart.js */
	const char *type;
} pages[] = {
	{"/", "index.html", "text/html; charset=utf-8"},
	{"/index.html", "index.html", "text/html; charset=utf-8"},
	{"/top.html", "top.html", "text/html; charset=utf-8"},
	{"/search.html", "search.html", "text/html; charset=utf-8"},
	{"/dashboard.js", "dashboard.js", "text/javascript; charset=utf-8"},
	{"/dashboard.css", "dashboard.css", "text/css; charset=utf-8"},
	{"/chart.js", NULL, "text/javascript; charset=utf-8"},
};

static const char *progname = "relayguard-audit";

/* fail - exit with status (EXIT_USAGE, EXIT_START) and a reason */
static void
fail(int status, const char *fmt,...)
	__attribute__((noreturn, format(printf, 2, 3)));

static void
fail(int status, const char *fmt,...)
{
	va_list ap;

	fprintf(stderr, "%s: serve: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

/* load_passwords - "user:hash" lines; exits on any problem */
static void
load_passwords(struct server *srv, const char *path)
{
	char    line[MAX_LINE], *colon, *nl;
	struct stat st;
	FILE   *fp;
	int     lineno = 0;

	if ((fp = fopen(path, "r")) == NULL)
		fail(EXIT_START, "%s: %s", path, strerror(errno));
	if (fstat(fileno(fp), &st) < 0)
		fail(EXIT_START, "%s: %s", path, strerror(errno));
	if (st.st_mode & S_IROTH)
		fail(EXIT_START, "%s: readable by every user; chmod o-r it",
		     path);
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if ((nl = strchr(line, '\n')) == NULL && !feof(fp))
			fail(EXIT_START, "%s:%d: line too long", path, lineno);
		if (nl)
			*nl = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if ((colon = strchr(line, ':')) == NULL || colon == line
		    || colon[1] != '$')
			fail(EXIT_START, "%s:%d: expected user:HASH, HASH from "
			     "crypt(3) (openssl passwd -6)", path, lineno);
		if (srv->nusers == MAX_USERS)
			fail(EXIT_START, "%s:%d: more than %d users", path,
			     lineno, MAX_USERS);
		*colon = '\0';
		if (rg_strlcpy(srv->users[srv->nusers].name, line,
			       sizeof(srv->users[0].name)) >= sizeof(srv->users[0].name)
		    || rg_strlcpy(srv->users[srv->nusers].hash, colon + 1,
				  sizeof(srv->users[0].hash)) >= sizeof(srv->users[0].hash))
			fail(EXIT_START, "%s:%d: user or hash too long", path,
			     lineno);
		srv->nusers++;
	}
	fclose(fp);
	if (srv->nusers == 0)
		fail(EXIT_START, "%s: no users", path);
}

/* same_secret - compare without leaking where they differ */
static int
same_secret(const char *a, const char *b)
{
	size_t  la = strlen(a), lb = strlen(b), i;
	unsigned char diff = la != lb;

	for (i = 0; i < la && i < lb; i++)
		diff |= (unsigned char) (a[i] ^ b[i]);
	return diff == 0;
}

/* authorised - the request's basic-auth credentials match a user */
static int
authorised(const struct server *srv, struct MHD_Connection *conn)
{
	struct crypt_data cd;
	char   *user, *pass = NULL;
	const char *hash;
	int     i, ok = 0;

	if (srv->nusers == 0)
		return 1;
	if ((user = MHD_basic_auth_get_username_password(conn, &pass)) == NULL)
		return 0;
	for (i = 0; i < srv->nusers && pass; i++) {
		if (strcmp(srv->users[i].name, user) != 0)
			continue;
		memset(&cd, 0, sizeof(cd));
		hash = crypt_r(pass, srv->users[i].hash, &cd);
		ok = hash != NULL && hash[0] != '*'
			&& same_secret(hash, srv->users[i].hash);
		break;
	}
	MHD_free(user);
	if (pass) {
		explicit_bzero(pass, strlen(pass));
		MHD_free(pass);
	}
	return ok;
}

/* add_headers - what every answer carries */
static void
add_headers(struct MHD_Response *r, const char *type, const char *cache)
{
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Content-Security-Policy", csp);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
	MHD_add_response_header(r, "Cache-Control", cache);
}

/* text_response - a small plain-text answer, to queue */
static struct MHD_Response *
text_response(const char *text)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer(strlen(text), (void *) text,
					    MHD_RESPMEM_PERSISTENT);
	add_headers(r, "text/plain; charset=utf-8", "no-store");
	return r;
}

/* answer_text - a small plain-text answer */
static enum MHD_Result
answer_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
	struct MHD_Response *r = text_response(text);
	enum MHD_Result rc;

	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

/* answer_file - one of the static files */
static enum MHD_Result
answer_file(const struct server *srv, struct MHD_Connection *conn,
	    const struct page *p)
{
	char    path[4096];
	struct MHD_Response *r;
	struct stat st;
	enum MHD_Result rc;
	int     fd;

	if (p->file)
		rg_snprintf(path, sizeof(path), "%s/%s", srv->web_root, p->file);
	else
		rg_strlcpy(path, srv->chartjs, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return answer_text(conn, MHD_HTTP_NOT_FOUND, "not installed\n");
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return answer_text(conn, MHD_HTTP_NOT_FOUND, "not installed\n");
	}
	if ((r = MHD_create_response_from_fd((uint64_t) st.st_size, fd)) == NULL) {
		close(fd);
		return MHD_NO;
	}
	add_headers(r, p->type, "no-cache");
	rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

/* get_param - api_param_fn over the request's query string */
static const char *
get_param(void *ctx, const char *name)
{
	return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
}

/* open_store - a read-only connection to a current audit store (SQLite
 * file or PostgreSQL), or NULL with a reason */
static struct audit_store *
open_store(const struct server *srv, char *err, size_t errlen)
{
	struct audit_store *st;

	if ((st = audit_store_open(srv->db_path, srv->db_password_file, err,
				   errlen)) == NULL)
		return NULL;
	if (audit_store_check(st, err, errlen) < 0)
		st = audit_store_close(st);
	return st;
}

/* answer_api - one /api/ call */
static enum MHD_Result
answer_api(const struct server *srv, struct MHD_Connection *conn,
	   const char *url)
{
	struct api_response rs;
	struct MHD_Response *r;
	enum MHD_Result rc;
	char    err[600], disposition[128];
	struct audit_store *st;
	size_t  len;
	char   *body;

	if ((st = open_store(srv, err, sizeof(err))) == NULL) {
		memset(&rs, 0, sizeof(rs));
		wt_buf_init(&rs.body, 4096);
		rs.status = 503;
		rs.content_type = "application/json; charset=utf-8";
		wt_puts(&rs.body, "{\"error\":");
		wt_json_string(&rs.body, err);
		wt_puts(&rs.body, "}\n");
	} else {
		audit_api_handle(st, url, get_param, conn, time(NULL), &rs);
		st = audit_store_close(st);
	}
	body = wt_buf_export(&rs.body, &len);
	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	add_headers(r, rs.content_type, "no-store");
	if (rs.filename[0]) {
		rg_snprintf(disposition, sizeof(disposition),
			    "attachment; filename=\"%s\"", rs.filename);
		MHD_add_response_header(r, "Content-Disposition", disposition);
	}
	rc = MHD_queue_response(conn, (unsigned) rs.status, r);
	MHD_destroy_response(r);
	return rc;
}

/* handle - libmicrohttpd's access handler: one request */
static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url,
       const char *method, const char *version, const char *upload_data,
       size_t *upload_data_size, void **con_cls)
{
	const struct server *srv = cls;
	struct MHD_Response *r;
	enum MHD_Result rc;
	size_t  i;

	(void) version;
	(void) upload_data;
	(void) con_cls;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return answer_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				   "read-only: GET and HEAD only\n");
	if (*upload_data_size != 0)
		return MHD_NO;
	if (!authorised(srv, conn)) {
		r = text_response("authorisation needed\n");
		rc = MHD_queue_basic_auth_fail_response(conn, "relayguard", r);
		MHD_destroy_response(r);
		return rc;
	}
	if (strncmp(url, "/api/", 5) == 0)
		return answer_api(srv, conn, url);
	for (i = 0; i < RG_ARRAY_LEN(pages); i++)
		if (strcmp(url, pages[i].path) == 0)
			return answer_file(srv, conn, &pages[i]);
	return answer_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* audit_serve_main - see audit_serve.h */
int
audit_serve_main(const char *db_path, const char *db_password_file,
		 int argc, char **argv)
{
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"password-file", required_argument, NULL, 'p'},
		{"web-root", required_argument, NULL, 'w'},
		{"chartjs", required_argument, NULL, 'c'},
		{NULL, 0, NULL, 0},
	};
	static struct server srv;
	const char *listen = DEFAULT_LISTEN, *password_file = NULL;
	struct sockaddr_storage ss;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	char    err[600], host[INET6_ADDRSTRLEN];
	const char *why;
	struct audit_store *st;
	sigset_t set;
	int     c, loopback = 0, sig;
	unsigned port;

	memset(&srv, 0, sizeof(srv));
	srv.db_path = db_path;
	srv.web_root = RG_WEBDIR;
	srv.chartjs = RG_CHARTJS;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': listen = optarg; break;
		case 'p': password_file = optarg; break;
		case 'w': srv.web_root = optarg; break;
		case 'c': srv.chartjs = optarg; break;
		case ':':
			fail(EXIT_USAGE, "option %s needs a value",
			     argv[optind - 1]);
		default:
			fail(EXIT_USAGE, "unknown option %s", argv[optind - 1]);
		}
	}
	if (optind != argc)
		fail(EXIT_USAGE, "unexpected argument \"%s\"", argv[optind]);
	if ((why = listen_addr_parse(listen, &ss, &loopback)) != NULL)
		fail(EXIT_USAGE, "--listen \"%s\": %s", listen, why);
	if (!loopback && password_file == NULL)
		fail(EXIT_USAGE, "--listen %s is not a loopback address: it "
		     "needs --password-file (and a TLS reverse proxy)", listen);
	if (password_file)
		load_passwords(&srv, password_file);
	srv.db_password_file = db_password_file;
	if ((st = open_store(&srv, err, sizeof(err))) == NULL)
		fail(EXIT_START, "%s", err);
	st = audit_store_close(st);
	if (access(srv.chartjs, R_OK) < 0)
		fprintf(stderr, "%s: serve: warning: %s: %s; charts will not "
			"draw (install libjs-chart.js or give --chartjs)\n",
			progname, srv.chartjs, strerror(errno));

	/* the server's threads inherit this mask; only sigwait takes them */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG
			     | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
			     0, NULL, NULL, handle, &srv,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &ss,
			     MHD_OPTION_THREAD_POOL_SIZE, (unsigned) THREADS,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned) 64,
			     MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) 32,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 30,
			     MHD_OPTION_END);
	if (d == NULL)
		fail(EXIT_START, "cannot listen on %s: %s", listen,
		     strerror(errno));
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	port = info ? info->port : 0;
	if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *) &ss)->sin6_addr, host,
			  sizeof(host));
		printf("%s: dashboard at http://[%s]:%u/\n", progname, host, port);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *) &ss)->sin_addr, host,
			  sizeof(host));
		printf("%s: dashboard at http://%s:%u/\n", progname, host, port);
	}
	fflush(stdout);
	do {
		if (sigwait(&set, &sig) != 0)
			sig = SIGTERM;
	} while (sig == SIGHUP);	/* nothing to reload: files are read per request */
	MHD_stop_daemon(d);
	return 0;
}
