/*
 * policy_server - Postfix policy delegation on the same engine
 *
 * See policy_server.h.  Threads and ownership:
 *
 *   - the epoll thread owns the listener and the connection table; it
 *     accepts, and when a connection becomes readable it marks it busy
 *     and queues it for the workers -- or, when the connection's
 *     directory never blocks (the file backend), serves it itself,
 *     saving two thread switches per request.  Every connection is
 *     registered EPOLLONESHOT, so an event is delivered to one place at
 *     a time;
 *   - a worker that takes a connection owns it until it gives it back:
 *     it reads what is there, parses, judges and answers every complete
 *     request, then re-arms it (or closes it) under ps_lock;
 *   - once a second the epoll thread closes connections that are not
 *     busy and have stalled mid-request or idled too long (under ps_lock,
 *     so never one a worker is about to re-arm).
 *
 * Per connection: a struct ps_conn, the input buffer (allocated only
 * while a request is incomplete), and the judge's struct rg_conn for the
 * SMTP session being served.  smtpd's requests carry no connection
 * boundary, so a new SMTP session is recognised by its client and server
 * address and port; a new transaction by a new instance attribute.  Both
 * reset the state they replace, so memory stays bounded per connection
 * whatever the client sends.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "directory.h"
#include "netlist.h"
#include "policy.h"
#include "policy_request.h"
#include "rglog.h"
#include "runtime.h"
#include "judge.h"
#include "policy_server.h"

#define PS_KEY_MAX	256		/* session key: addresses and ports */
#define PS_INSTANCE_MAX	128
#define PS_ANSWER_MAX	1200

struct ps_conn {
	int     fd;
	int     slot;			/* index in conns[] */
	int     busy;			/* a worker owns it (ps_lock) */
	char    peer[80];		/* for log lines */
	char   *in;			/* PR_REQUEST_MAX bytes, or NULL */
	size_t  inlen;
	int64_t last_ms;		/* last byte read or answer sent */
	int64_t partial_ms;		/* first byte of an unfinished request */
	struct ps_conn *next;		/* work queue */

	/* The SMTP session and transaction being served. */
	struct rg_conn *judge;		/* NULL until the first request */
	char    session_key[PS_KEY_MAX];
	char    instance[PS_INSTANCE_MAX];
	int     mail_judged;		/* this instance's MAIL verdict exists */
	enum rg_action mail_action;	/* and what it was */
	char    mail_answer[PS_ANSWER_MAX];	/* its action when refused */
	char    last_rcpt_key[PR_REQUEST_MAX / 4];	/* a repeated check */
	char    last_rcpt_answer[PS_ANSWER_MAX];
};

static void serve_and_rearm(struct ps_conn *c, struct pr_request *req);

/* Listener and table (ps_lock guards conns[], nconns and every busy). */
static pthread_mutex_t ps_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ps_conn *conns[POLICY_CONN_MAX];
static unsigned nconns;
static int listen_fd = -1, epoll_fd = -1, wake_fd = -1;
static char unix_path[108];
static int listener_tag, wake_tag;	/* their addresses mark epoll events */

/* Work queue. */
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cond = PTHREAD_COND_INITIALIZER;
static struct ps_conn *queue_head, *queue_tail;

static pthread_t epoll_thread, workers[POLICY_WORKERS];
static unsigned nworkers;
static int started, stopping;
static unsigned long refused_full;
static int64_t request_timeout_ms = 30000;	/* policy_timeout */	/* connections over POLICY_CONN_MAX */

/* set_nonblock - O_NONBLOCK and FD_CLOEXEC on fd */
static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* raise_fd_limit - room for POLICY_CONN_MAX connections, if allowed */
static void
raise_fd_limit(void)
{
	struct rlimit rl;
	rlim_t want = POLICY_CONN_MAX + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want
		? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
		rglog(LOG_WARNING, "warning: policy: open files limited to %lu: "
		      "fewer than %u policy connections fit",
		      (unsigned long) rl.rlim_cur, POLICY_CONN_MAX);
}

/* prepare_unix_path - remove a stale socket, refuse a live one or a
 * file that is not a socket */
static int
prepare_unix_path(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0
			: (rg_snprintf(err, errlen, "policy_socket %s: %s", path,
				       strerror(errno)), -1);
	if (!S_ISSOCK(st.st_mode)) {
		rg_snprintf(err, errlen, "policy_socket %s: exists and is not "
			    "a socket", path);
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	rg_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		rg_snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (struct sockaddr *) &sun, sizeof(sun));
	close(fd);
	if (rc == 0) {
		rg_snprintf(err, errlen, "policy_socket %s: another process is "
			    "listening on it (is relayguard already running?)",
			    path);
		return -1;
	}
	if (unlink(path) < 0) {
		rg_snprintf(err, errlen, "policy_socket %s: cannot remove the "
			    "stale socket: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* policy_server_open - bind and listen */
int
policy_server_open(const char *spec, unsigned mode, char *err, size_t errlen)
{
	struct pr_socket where;
	struct sockaddr_storage ss;
	struct sockaddr_un *sun = (struct sockaddr_un *) &ss;
	struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
	socklen_t sslen;
	mode_t old_mask;
	int fd, on = 1, rc;

	if (pr_socket_parse(spec, &where, err, errlen) < 0)
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (where.family == AF_UNIX) {
		if (prepare_unix_path(where.path, err, errlen) < 0)
			return -1;
		sun->sun_family = AF_UNIX;
		rg_strlcpy(sun->sun_path, where.path, sizeof(sun->sun_path));
		sslen = sizeof(*sun);
	} else if (where.family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t) where.port);
		memcpy(&sin->sin_addr, where.ip.addr, 4);
		sslen = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t) where.port);
		memcpy(&sin6->sin6_addr, where.ip.addr, 16);
		sslen = sizeof(*sin6);
	}
	if ((fd = socket(where.family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		rg_snprintf(err, errlen, "policy_socket %s: %s", spec,
			    strerror(errno));
		return -1;
	}
	if (where.family != AF_UNIX)
		(void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	/* bind() creates a unix socket with exactly socket_mode: no chmod
	 * by path afterwards, and no window in which it is more open. */
	old_mask = umask((mode_t) (~mode & 0777));
	rc = bind(fd, (struct sockaddr *) &ss, sslen);
	umask(old_mask);
	if (rc < 0 || listen(fd, 1024) < 0 || set_nonblock(fd) < 0) {
		rg_snprintf(err, errlen, "policy_socket %s: cannot listen: %s",
			    spec, strerror(errno));
		close(fd);
		return -1;
	}
	if (where.family == AF_UNIX)
		rg_strlcpy(unix_path, where.path, sizeof(unix_path));
	raise_fd_limit();
	listen_fd = fd;
	return 0;
}

/* policy_server_unix_path - the unix socket's path, or NULL */
const char *
policy_server_unix_path(void)
{
	return unix_path[0] != '\0' ? unix_path : NULL;
}

/* peer_name - "ADDR:PORT", or "unix:pid=N" from the peer's credentials */
static void
peer_name(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	char addr[INET6_ADDRSTRLEN];

	rg_strlcpy(buf, "unknown", size);
	if (getpeername(fd, (struct sockaddr *) &ss, &len) < 0)
		return;
	if (ss.ss_family == AF_UNIX) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
			rg_snprintf(buf, size, "unix:pid=%ld", (long) cred.pid);
		else
			rg_strlcpy(buf, "unix", size);
	} else if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *) &ss;

		inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
		rg_snprintf(buf, size, "%s:%u", addr, ntohs(sin->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr));
		rg_snprintf(buf, size, "[%s]:%u", addr, ntohs(sin6->sin6_port));
	}
}

/* conn_close_locked - forget, close and free c (ps_lock held) */
static void
conn_close_locked(struct ps_conn *c)
{
	if (conns[c->slot] == c) {
		conns[c->slot] = NULL;
		nconns--;
	}
	(void) epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->judge = judge_conn_free(c->judge);
	free(c->in);
	free(c);
}

/* conn_close - the same, taking ps_lock */
static void
conn_close(struct ps_conn *c)
{
	pthread_mutex_lock(&ps_lock);
	conn_close_locked(c);
	pthread_mutex_unlock(&ps_lock);
}

/* conn_arm - wait for c's next bytes (ps_lock held) */
static int
conn_arm(struct ps_conn *c, int op)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
	ev.data.ptr = c;
	return epoll_ctl(epoll_fd, op, c->fd, &ev);
}

/* accept_all - take every pending connection */
static void
accept_all(void)
{
	struct ps_conn *c;
	int fd;
	unsigned slot;

	for (;;) {
		fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				rglog(LOG_WARNING, "warning: policy: accept: %s",
				      strerror(errno));
			return;
		}
		pthread_mutex_lock(&ps_lock);
		if (nconns >= POLICY_CONN_MAX) {
			pthread_mutex_unlock(&ps_lock);
			/* One line per 1000 refused, with the count. */
			if (refused_full++ % 1000 == 0)
				rglog(LOG_WARNING, "warning: policy: %u connections "
				      "open, the most there may be: refusing new "
				      "ones (%lu so far)", POLICY_CONN_MAX,
				      refused_full);
			close(fd);
			continue;
		}
		for (slot = 0; conns[slot] != NULL; slot++)
			;
		c = xcalloc(1, sizeof(*c));
		c->fd = fd;
		c->slot = (int) slot;
		c->last_ms = rg_mono_ms();
		peer_name(fd, c->peer, sizeof(c->peer));
		conns[slot] = c;
		nconns++;
		if (conn_arm(c, EPOLL_CTL_ADD) < 0) {
			rglog(LOG_WARNING, "warning: policy: %s: epoll: %s",
			      c->peer, strerror(errno));
			conn_close_locked(c);
		}
		pthread_mutex_unlock(&ps_lock);
	}
}

/* queue_push - hand c to a worker */
static void
queue_push(struct ps_conn *c)
{
	pthread_mutex_lock(&queue_lock);
	c->next = NULL;
	if (queue_tail != NULL)
		queue_tail->next = c;
	else
		queue_head = c;
	queue_tail = c;
	pthread_cond_signal(&queue_cond);
	pthread_mutex_unlock(&queue_lock);
}

/* queue_pop - the next connection to serve; NULL when stopping */
static struct ps_conn *
queue_pop(void)
{
	struct ps_conn *c;

	pthread_mutex_lock(&queue_lock);
	while (queue_head == NULL && !__atomic_load_n(&stopping, __ATOMIC_SEQ_CST))
		pthread_cond_wait(&queue_cond, &queue_lock);
	if ((c = queue_head) != NULL) {
		queue_head = c->next;
		if (queue_head == NULL)
			queue_tail = NULL;
	}
	pthread_mutex_unlock(&queue_lock);
	return c;
}

/* sweep - close connections stalled mid-request or idle too long */
static void
sweep(int64_t now)
{
	struct ps_conn *c;
	unsigned i;

	pthread_mutex_lock(&ps_lock);
	for (i = 0; i < POLICY_CONN_MAX && nconns > 0; i++) {
		if ((c = conns[i]) == NULL || c->busy)
			continue;
		if (c->partial_ms != 0
		    && now - c->partial_ms > request_timeout_ms) {
			rglog(LOG_WARNING, "warning: policy: %s: request not "
			      "complete after %lld s (%zu bytes): closing",
			      c->peer, (long long) (request_timeout_ms / 1000),
			      c->inlen);
			conn_close_locked(c);
		} else if (c->partial_ms == 0
			   && now - c->last_ms > POLICY_IDLE_TIMEOUT * 1000) {
			rglog(LOG_INFO, "policy: %s: idle for %d s: closing",
			      c->peer, POLICY_IDLE_TIMEOUT);
			conn_close_locked(c);
		}
	}
	pthread_mutex_unlock(&ps_lock);
}

/* epoll_main - accept, dispatch, sweep */
static void *
epoll_main(void *arg)
{
	struct epoll_event events[64];
	struct ps_conn *c;
	int64_t now, last_sweep = rg_mono_ms();
	struct pr_request *inline_req = xmalloc(sizeof(*inline_req));
	uint64_t junk;
	int n, i;

	(void) arg;
	while (!__atomic_load_n(&stopping, __ATOMIC_SEQ_CST)) {
		n = epoll_wait(epoll_fd, events, RG_ARRAY_LEN(events), 1000);
		for (i = 0; i < n; i++) {
			if (events[i].data.ptr == &listener_tag) {
				accept_all();
			} else if (events[i].data.ptr == &wake_tag) {
				/* Only waking counts; an empty counter
				 * (EAGAIN) is as good as a drained one. */
				if (read(wake_fd, &junk, sizeof(junk)) < 0)
					continue;
			} else {
				c = events[i].data.ptr;
				if (c->judge != NULL
				    && !directory_may_block(c->judge->rt->dir)) {
					/* Nothing here can wait: judged on this
					 * thread, without two thread switches. */
					serve_and_rearm(c, inline_req);
					continue;
				}
				pthread_mutex_lock(&ps_lock);
				c->busy = 1;
				pthread_mutex_unlock(&ps_lock);
				queue_push(c);
			}
		}
		if ((now = rg_mono_ms()) - last_sweep >= 1000) {
			sweep(now);
			last_sweep = now;
		}
	}
	free(inline_req);
	return NULL;
}

/* refused - does this action refuse (reject, tempfail, drop)? */
static int
refused(enum rg_action action)
{
	return action == RG_REJECT || action == RG_TEMPFAIL || action == RG_DROP;
}

/* has_8bit - any byte >= 0x80 */
static int
has_8bit(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char) *s >= 0x80)
			return 1;
	return 0;
}

/* attr - a request's attribute, "" when not sent */
static const char *
attr(const struct pr_request *req, enum pr_attr a)
{
	const char *v = pr_get(req, a);

	return v != NULL ? v : "";
}

/* note_session - start a new SMTP session when the request is about a
 * different one; pick up the facts that may change within one */
static void
note_session(struct ps_conn *c, const struct pr_request *req)
{
	struct rg_conn *j = c->judge;
	char key[PS_KEY_MAX];
	const char *port = pr_get(req, PR_CLIENT_PORT), *v;

	/* Without client_port (Postfix before 3.x) sessions from one client
	 * cannot be told apart: each transaction is its own session. */
	rg_snprintf(key, sizeof(key), "%.64s %.8s %.64s %.8s %.100s",
		    attr(req, PR_CLIENT_ADDRESS), port ? port : "-",
		    attr(req, PR_SERVER_ADDRESS), attr(req, PR_SERVER_PORT),
		    port ? "" : attr(req, PR_INSTANCE));
	if (strcmp(key, c->session_key) != 0) {
		if (c->session_key[0] != '\0')
			judge_conn_new_session(j);
		rg_strlcpy(c->session_key, key, sizeof(c->session_key));
		c->instance[0] = '\0';
		c->mail_judged = 0;
		c->last_rcpt_key[0] = '\0';
		rg_strlcpy(j->mta, "postfix", sizeof(j->mta));
		judge_client_ip_text(j, pr_get(req, PR_CLIENT_ADDRESS));
		v = attr(req, PR_CLIENT_NAME);
		rg_strlcpy(j->s.client_name, *v ? v : "unknown",
			   sizeof(j->s.client_name));
	}
	rg_strlcpy(j->s.helo, attr(req, PR_HELO_NAME), sizeof(j->s.helo));
	rg_strlcpy(j->s.auth_user, attr(req, PR_SASL_USERNAME),
		   sizeof(j->s.auth_user));
	if (*(v = attr(req, PR_QUEUE_ID)) != '\0')
		rg_strlcpy(j->queue_id, v, sizeof(j->queue_id));
	v = attr(req, PR_INSTANCE);
	if (*v != '\0' && strcmp(v, c->instance) != 0) {
		/* A new MAIL FROM: the previous transaction is over. */
		judge_reset_txn(j);
		rg_strlcpy(c->instance, v, sizeof(c->instance));
		c->mail_judged = 0;
		c->last_rcpt_key[0] = '\0';
		if (*(v = attr(req, PR_QUEUE_ID)) != '\0')
			rg_strlcpy(j->queue_id, v, sizeof(j->queue_id));
	}
}

/* judge_mail - this transaction's MAIL verdict, made once */
static void
judge_mail(struct ps_conn *c, const struct pr_request *req)
{
	struct rg_conn *j = c->judge;
	struct rg_verdict v;
	char path[PR_REQUEST_MAX / 2 + 32];
	long n;
	const char *sender = attr(req, PR_SENDER);

	if ((n = pr_path(sender, path, sizeof(path) - 16)) < 0)
		n = (long) rg_strlcpy(path, "<>", sizeof(path));
	judge_set_sender(j, path);
	/* smtpd refuses 8-bit addresses without SMTPUTF8 itself, so 8-bit
	 * here means the client declared it. */
	if (has_8bit(sender) || has_8bit(pr_get(req, PR_RECIPIENT)))
		n += (long) rg_strlcpy(path + n, " SMTPUTF8",
				       sizeof(path) - (size_t) n);
	judge_step(j, RG_STAGE_MAIL, path, (size_t) n, NULL, &v);
	c->mail_judged = 1;
	c->mail_action = v.action;
	pr_action(&v, c->mail_answer, sizeof(c->mail_answer));
}

/* answer - judge one request; the access(5) action into action */
static void
answer(struct ps_conn *c, const struct pr_request *req, char *action,
       size_t size)
{
	struct rg_verdict v;
	struct rg_conn *j;
	char path[PR_REQUEST_MAX / 2 + 8], key[sizeof(c->last_rcpt_key)];
	const char *rcpt;
	long n;

	if (c->judge == NULL && (c->judge = judge_conn_new()) == NULL) {
		rg_strlcpy(action, "451 4.3.0 Service shutting down, try again "
			   "later", size);
		return;
	}
	j = c->judge;
	note_session(c, req);
	switch (pr_state(req)) {
	case PR_STATE_CONNECT:
		judge_step(j, RG_STAGE_CONNECT, NULL, 0, NULL, &v);
		pr_action(&v, action, size);
		return;
	case PR_STATE_HELO:
		judge_step(j, RG_STAGE_HELO, j->s.helo, strlen(j->s.helo),
			   NULL, &v);
		pr_action(&v, action, size);
		return;
	case PR_STATE_MAIL:
		if (!c->mail_judged)
			judge_mail(c, req);
		rg_strlcpy(action, refused(c->mail_action)
			   ? c->mail_answer : "DUNNO", size);
		return;
	case PR_STATE_RCPT:
		break;
	case PR_STATE_OTHER:
	default:
		rg_strlcpy(action, "DUNNO", size);	/* DATA, VRFY, ETRN, ... */
		return;
	}
	/* RCPT: the MAIL verdict first (smtpd may not have asked at MAIL). */
	if (!c->mail_judged)
		judge_mail(c, req);
	if (refused(c->mail_action)) {
		rg_strlcpy(action, c->mail_answer, size);
		return;
	}
	rcpt = attr(req, PR_RECIPIENT);
	/* The same check asked again for the same RCPT (check_policy_service
	 * in several restriction lists, delayed to RCPT): same answer, one
	 * verdict. */
	rg_snprintf(key, sizeof(key), "%s\n%.3000s\n%s", c->instance, rcpt,
		    attr(req, PR_RECIPIENT_COUNT));
	if (c->last_rcpt_key[0] != '\0' && strcmp(key, c->last_rcpt_key) == 0) {
		rg_strlcpy(action, c->last_rcpt_answer, size);
		return;
	}
	if ((n = pr_path(rcpt, path, sizeof(path))) < 0)
		n = (long) rg_strlcpy(path, "<>", sizeof(path));
	if (has_8bit(rcpt))
		j->s.smtputf8 = 1;
	judge_step(j, RG_STAGE_RCPT, path, (size_t) n, path, &v);
	pr_action(&v, action, size);
	rg_strlcpy(c->last_rcpt_key, key, sizeof(c->last_rcpt_key));
	rg_strlcpy(c->last_rcpt_answer, action, sizeof(c->last_rcpt_answer));
}

/* send_answer - write the whole answer; -1 when the client does not
 * take it (a client that sends without reading is not smtpd) */
static int
send_answer(struct ps_conn *c, const char *action)
{
	char buf[PS_ANSWER_MAX + 16];
	long n;
	ssize_t w;

	if ((n = pr_format_answer(action, buf, sizeof(buf))) < 0)
		n = pr_format_answer("DEFER_IF_PERMIT relayguard: answer too "
				     "long", buf, sizeof(buf));
	do
		w = send(c->fd, buf, (size_t) n, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	if (w == n)
		return 0;
	rglog(LOG_WARNING, "warning: policy: %s: cannot send the answer (%s): "
	      "closing", c->peer, w < 0 ? strerror(errno)
	      : "the client does not read its answers");
	return -1;
}

/* serve - read what is there and answer every complete request;
 * 0 to keep the connection, -1 to close it */
static int
serve(struct ps_conn *c, struct pr_request *req)
{
	char action[PS_ANSWER_MAX], err[256];
	size_t used;
	ssize_t r;
	int rc, eof = 0;

	for (;;) {
		if (c->in == NULL)
			c->in = xmalloc(PR_REQUEST_MAX);
		r = 0;
		if (c->inlen < PR_REQUEST_MAX) {
			r = read(c->fd, c->in + c->inlen, PR_REQUEST_MAX - c->inlen);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
				rglog(LOG_WARNING, "warning: policy: %s: read: %s",
				      c->peer, strerror(errno));
				return -1;
			}
			if (r == 0)
				eof = 1;
			if (r > 0) {
				if (c->inlen == 0)
					c->partial_ms = rg_mono_ms();
				c->inlen += (size_t) r;
				c->last_ms = rg_mono_ms();
			}
		}
		while ((rc = pr_parse(c->in, c->inlen, req, &used, err,
				      sizeof(err))) == 1) {
			answer(c, req, action, sizeof(action));
			if (send_answer(c, action) < 0)
				return -1;
			memmove(c->in, c->in + used, c->inlen - used);
			c->inlen -= used;
			c->last_ms = rg_mono_ms();
			c->partial_ms = c->inlen > 0 ? c->last_ms : 0;
		}
		if (rc < 0) {
			rglog(LOG_WARNING, "warning: policy: %s: not a policy "
			      "request (%s): closing", c->peer, err);
			return -1;
		}
		if (eof) {
			if (c->inlen > 0)
				rglog(LOG_WARNING, "warning: policy: %s: "
				      "disconnected mid-request (%zu bytes)",
				      c->peer, c->inlen);
			return -1;
		}
		if (r <= 0)
			break;		/* EAGAIN: wait for more */
	}
	if (c->inlen == 0)
		c->in = (free(c->in), NULL);	/* idle: no buffer */
	return 0;
}

/* serve_and_rearm - serve c, then wait for its next bytes or close it;
 * c is not touched afterwards (another thread may own it at once) */
static void
serve_and_rearm(struct ps_conn *c, struct pr_request *req)
{
	if (serve(c, req) < 0) {
		conn_close(c);
		return;
	}
	pthread_mutex_lock(&ps_lock);
	if (conn_arm(c, EPOLL_CTL_MOD) < 0) {
		rglog(LOG_WARNING, "warning: policy: %s: epoll: %s",
		      c->peer, strerror(errno));
		conn_close_locked(c);
	} else {
		c->busy = 0;
	}
	pthread_mutex_unlock(&ps_lock);
}

/* worker_main - serve connections handed over by the epoll thread */
static void *
worker_main(void *arg)
{
	struct pr_request *req = xmalloc(sizeof(*req));
	struct ps_conn *c;

	(void) arg;
	while ((c = queue_pop()) != NULL)
		serve_and_rearm(c, req);
	free(req);
	return NULL;
}

/* policy_server_start - the epoll thread and the workers */
int
policy_server_start(unsigned timeout_s, char *err, size_t errlen)
{
	struct epoll_event ev;
	unsigned i;

	if (listen_fd < 0)
		return 0;
	request_timeout_ms = (int64_t) timeout_s * 1000;
	if ((epoll_fd = epoll_create1(EPOLL_CLOEXEC)) < 0
	    || (wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		rg_snprintf(err, errlen, "policy: epoll: %s", strerror(errno));
		return -1;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &listener_tag;
	if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev) < 0) {
		rg_snprintf(err, errlen, "policy: epoll: %s", strerror(errno));
		return -1;
	}
	ev.data.ptr = &wake_tag;
	if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev) < 0) {
		rg_snprintf(err, errlen, "policy: epoll: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < POLICY_WORKERS; i++) {
		if (pthread_create(&workers[i], NULL, worker_main, NULL) != 0) {
			rg_snprintf(err, errlen, "policy: cannot start threads");
			return -1;
		}
		nworkers++;
	}
	if (pthread_create(&epoll_thread, NULL, epoll_main, NULL) != 0) {
		rg_snprintf(err, errlen, "policy: cannot start threads");
		return -1;
	}
	started = 1;
	return 0;
}

/* policy_server_stop - stop, close, join, clean up */
void
policy_server_stop(void)
{
	uint64_t one = 1;
	unsigned i;

	__atomic_store_n(&stopping, 1, __ATOMIC_SEQ_CST);
	if (started) {
		/* Without the wake-up the loop still sees stopping
		 * within its one-second epoll_wait. */
		if (write(wake_fd, &one, sizeof(one)) < 0)
			rglog(LOG_WARNING, "warning: policy: wake-up: %s", strerror(errno));
		pthread_join(epoll_thread, NULL);
	}
	pthread_mutex_lock(&queue_lock);
	pthread_cond_broadcast(&queue_cond);
	pthread_mutex_unlock(&queue_lock);
	for (i = 0; i < nworkers; i++)
		pthread_join(workers[i], NULL);
	nworkers = 0;
	/* No thread is left: whatever is queued or open is ours. */
	pthread_mutex_lock(&ps_lock);
	for (i = 0; i < POLICY_CONN_MAX; i++)
		if (conns[i] != NULL)
			conn_close_locked(conns[i]);
	pthread_mutex_unlock(&ps_lock);
	queue_head = queue_tail = NULL;
	if (listen_fd >= 0)
		close(listen_fd);
	listen_fd = -1;
	if (epoll_fd >= 0)
		close(epoll_fd);
	if (wake_fd >= 0)
		close(wake_fd);
	epoll_fd = wake_fd = -1;
	if (unix_path[0] != '\0' && unlink(unix_path) < 0 && errno != ENOENT)
		rglog(LOG_WARNING, "warning: policy_socket %s: %s", unix_path,
		      strerror(errno));
	unix_path[0] = '\0';
	started = 0;
}
