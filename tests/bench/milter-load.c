/*
 * milter-load - a milter-protocol load generator that checks the answers
 *
 * SYNOPSIS
 *	milter-load -s SOCKET [-c CONCURRENCY] [-n TOTAL_RCPTS | -t SECONDS]
 *		[-k RCPTS_PER_TXN] [-m TXNS_PER_CONNECTION] [-j THREADS]
 *		[-u USERS] [-x relayguard|accept] [-H SECONDS] [-L LABEL] [-q]
 *	milter-load -P [-u USERS]
 *
 * DESCRIPTION
 *	Plays the MTA's side of the milter protocol (version 6, as Postfix
 *	and Sendmail speak it: 4-byte length, command byte, data) against a
 *	milter on SOCKET (inet:PORT@HOST, inet6:PORT@HOST or unix:PATH).
 *	CONCURRENCY sessions run at once, spread over THREADS epoll loops;
 *	each negotiates (SMFIC_OPTNEG), then sends the connect and HELO
 *	steps and repeats transactions of MAIL, k x RCPT and ABORT, each
 *	step preceded by its macros (SMFIC_MACRO) as an MTA sends them.
 *	After m transactions a session quits (SMFIC_QUIT) and reconnects
 *	(m = 0: never).  The run stops after TOTAL_RCPTS recipients or
 *	SECONDS seconds.
 *
 *	The recipients are a fixed mix: known users of example.org (with
 *	and without ESMTP parameters, quoted, as an address literal,
 *	postmaster), unqualified users (refused: only postmaster may omit
 *	the domain), unknown users, plain relay attempts and relay
 *	tricks (percent hack, bang path, quoted @, source route, IMCEA
 *	encapsulation, a local user behind a percent hack).  Every answer is
 *	checked against what relayguard must say (-x relayguard: continue for
 *	a local user, 550 5.1.1 for an unknown one, 550 5.7.1 for relaying)
 *	or against "continue" for everything (-x accept, a no-op milter).
 *	The milter must run with local_domains = example.org,
 *	local_addresses = 192.0.2.25, harvest_limit = 0 and a directory
 *	listing userNNNNN@example.org for NNNNN below USERS (-P prints it);
 *	clients come from 198.51.100.0/24, untrusted.
 *
 *	Reports recipient verdicts per second, the latency of each RCPT
 *	(from sending it to its answer: p50, p99, p99.9, max), the verdicts,
 *	mismatched answers and protocol errors, the steps the milter asked
 *	to leave unanswered (NEGOTIATED noreply=connect,helo,), then RESULT
 *	lines for tests/bench/run-bench.sh.  Exits 1 when any answer mismatched or any
 *	protocol error happened, 2 on usage errors.
 *
 *	-H SECONDS holds the connections instead: every session negotiates,
 *	connects, says HELO and runs one transaction, then stays open and
 *	idle; when all are, "holding N connections" is printed and the
 *	sessions quit SECONDS later (for memory per connection).
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfdef.h>

#include "util.h"

#define MAX_SESSIONS	20000
#define MAX_FRAME	65536		/* largest answer we accept */
#define REQ_MAX		2048
#define STALL_NS	(10ULL * 1000000000ULL)	/* an answer later than this is an error */
#define MAX_SAMPLES	(64UL * 1024 * 1024)

/* What the milter must answer to a recipient. */
enum expect {
	EXP_CONTINUE,			/* SMFIR_CONTINUE */
	EXP_UNKNOWN,			/* 550 5.1.1 */
	EXP_RELAY,			/* 550 5.7.1 */
	EXP_UNQUALIFIED,		/* 550 5.1.3: a domain is required */
	EXP_COUNT
};

/* Where a session is in its conversation. */
enum step {
	ST_OPTNEG, ST_CONNECT, ST_HELO, ST_MAIL, ST_RCPT, ST_IDLE, ST_DONE,
};

struct session {
	int     fd;
	unsigned id;
	enum step step;
	unsigned long rng;
	unsigned long proto;		/* negotiated SMFIP_* flags */
	unsigned txns;			/* in this connection */
	unsigned rcpts;			/* in this transaction */
	enum expect expect;
	uint64_t sent_ns;
	unsigned gen;			/* bumped at every (re)connect */
	unsigned char in[MAX_FRAME + 8];
	size_t  inlen;
};

struct worker {
	pthread_t thread;
	int     epfd;
	struct session *sessions;
	unsigned nsessions;
	uint32_t *samples;		/* RCPT latencies, ns */
	size_t  nsamples, samples_size;
	unsigned long verdicts[EXP_COUNT];
	unsigned long mismatches, errors, connections;
	char    first_problem[512];
};

/* Options. */
static const char *opt_socket;
static unsigned opt_concurrency = 10;
static unsigned long opt_total;
static double opt_seconds;
static unsigned opt_k = 5;
static unsigned opt_m = 5;
static unsigned opt_threads = 1;
static unsigned opt_users = 10000;
static int opt_accept_all;
static double opt_hold;
static const char *opt_label = "";
static int opt_quiet;

/* Shared run state. */
static struct sockaddr_storage target;
static socklen_t target_len;
static unsigned long rcpt_tickets;	/* RCPTs handed out so far */
static int stopping;			/* time is up: finish sessions */
static unsigned idle_sessions;		/* -H: sessions now idle */
static int release_hold;		/* -H: quit now */
static uint64_t deadline_ns;
static unsigned long negotiated_proto;	/* the first session's SMFIP_* */
static int negotiated_seen;

/* now_ns - monotonic nanoseconds */
static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

/* next_random - xorshift, one stream per session */
static unsigned long
next_random(unsigned long *state)
{
	unsigned long x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

/* usage - print the synopsis and exit 2 */
static void
usage(void)
{
	fprintf(stderr, "usage: milter-load -s SOCKET [-c CONCURRENCY] "
		"[-n TOTAL_RCPTS | -t SECONDS] [-k RCPTS_PER_TXN]\n"
		"       [-m TXNS_PER_CONNECTION] [-j THREADS] [-u USERS] "
		"[-x relayguard|accept]\n"
		"       [-H SECONDS] [-L LABEL] [-q]\n"
		"       milter-load -P [-u USERS]\n");
	exit(2);
}

/* parse_target - libmilter's socket spelling to a sockaddr */
static int
parse_target(const char *spec)
{
	struct sockaddr_un *sun = (struct sockaddr_un *) &target;
	struct addrinfo hints, *res;
	char port[16], host[256];
	const char *p, *at;
	int family;

	memset(&target, 0, sizeof(target));
	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0) {
		p = strchr(spec, ':') + 1;
		if (strlen(p) >= sizeof(sun->sun_path))
			return -1;
		sun->sun_family = AF_UNIX;
		rg_strlcpy(sun->sun_path, p, sizeof(sun->sun_path));
		target_len = sizeof(*sun);
		return 0;
	}
	if (strncmp(spec, "inet:", 5) == 0)
		family = AF_INET, p = spec + 5;
	else if (strncmp(spec, "inet6:", 6) == 0)
		family = AF_INET6, p = spec + 6;
	else
		return -1;
	if ((at = strchr(p, '@')) == NULL || (size_t) (at - p) >= sizeof(port))
		return -1;
	memcpy(port, p, (size_t) (at - p));
	port[at - p] = '\0';
	rg_strlcpy(host, at + 1, sizeof(host));
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	memcpy(&target, res->ai_addr, res->ai_addrlen);
	target_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* problem - count a mismatch or an error, remember the first */
static void
problem(struct worker *w, int mismatch, const struct session *s,
	const char *what)
{
	if (mismatch)
		w->mismatches++;
	else
		w->errors++;
	if (w->first_problem[0] == '\0')
		(void) snprintf(w->first_problem, sizeof(w->first_problem),
				"session %u: %s", s->id, what);
}

/* put_u32 - network order */
static void
put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char) (v >> 24);
	p[1] = (unsigned char) (v >> 16);
	p[2] = (unsigned char) (v >> 8);
	p[3] = (unsigned char) v;
}

/* get_u32 - network order */
static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
		| (uint32_t) p[2] << 8 | (uint32_t) p[3];
}

/* A request being built: several frames sent with one write. */
struct req {
	unsigned char buf[REQ_MAX];
	size_t  len;
	size_t  frame;			/* start of the open frame */
	int     overflow;
};

/* req_begin - open a frame for command cmd */
static void
req_begin(struct req *r, int cmd)
{
	r->frame = r->len;
	if (r->len + 5 > sizeof(r->buf)) {
		r->overflow = 1;
		return;
	}
	r->len += 4;
	r->buf[r->len++] = (unsigned char) cmd;
}

/* req_bytes - append data to the open frame */
static void
req_bytes(struct req *r, const void *data, size_t len)
{
	if (r->overflow || r->len + len > sizeof(r->buf)) {
		r->overflow = 1;
		return;
	}
	memcpy(r->buf + r->len, data, len);
	r->len += len;
}

/* req_str - append a NUL-terminated string */
static void
req_str(struct req *r, const char *s)
{
	req_bytes(r, s, strlen(s) + 1);
}

/* req_end - close the open frame (its length covers the command byte) */
static void
req_end(struct req *r)
{
	if (!r->overflow)
		put_u32(r->buf + r->frame, (uint32_t) (r->len - r->frame - 4));
}

/* req_macros - one SMFIC_MACRO frame for step cmd: name, value pairs */
static void
req_macros(struct req *r, int cmd, const char *const *pairs, size_t n)
{
	unsigned char c = (unsigned char) cmd;
	size_t  i;

	req_begin(r, SMFIC_MACRO);
	req_bytes(r, &c, 1);
	for (i = 0; i < n; i++)
		req_str(r, pairs[i]);
	req_end(r);
}

/* pick_rcpt - the next recipient of the mix and what it must get */
static enum expect
pick_rcpt(struct session *s, char *rcpt, size_t size, const char **param)
{
	/* relay tricks: text before and after the remote domain's number */
	static const char *const tricks[][2] = {
		{"<u%remote", ".test@example.org>"},
		{"<\"u@remote", ".test\"@example.org>"},
		{"<remote", ".test!u@example.org>"},
		{"<u@remote", ".test@example.org>"},
		{"<IMCEASMTP-u+40remote", "+2Etest@example.org>"},
		{"<@example.org:u@remote", ".test>"},
	};
	const char *const *trick;
	unsigned long r = next_random(&s->rng);
	unsigned long user = (r >> 8) % opt_users;
	unsigned pick = (unsigned) (r % 100);

	*param = NULL;
	if (pick < 40) {		/* a known user */
		(void) snprintf(rcpt, size, "<user%05lu@example.org>", user);
		return EXP_CONTINUE;
	}
	if (pick < 48) {		/* case and ESMTP parameters */
		(void) snprintf(rcpt, size, "<User%05lu@Example.ORG>", user);
		*param = "NOTIFY=SUCCESS,FAILURE";
		return EXP_CONTINUE;
	}
	if (pick < 68) {		/* typos, harvesting */
		(void) snprintf(rcpt, size, "<usr%05lu@example.org>", user);
		return EXP_UNKNOWN;
	}
	if (pick < 83) {		/* plain relay attempt */
		(void) snprintf(rcpt, size, "<victim%05lu@remote%lu.test>",
				user, r % 7);
		return EXP_RELAY;
	}
	if (pick < 92) {		/* relay tricks */
		trick = tricks[(r >> 4) % RG_ARRAY_LEN(tricks)];
		(void) snprintf(rcpt, size, "%s%lu%s", trick[0], r % 7, trick[1]);
		return EXP_RELAY;
	}
	if (pick < 93) {		/* a local user behind a percent hack */
		(void) snprintf(rcpt, size,
				"<user%05lu%%example.org@example.org>", user);
		return EXP_RELAY;
	}
	if (pick < 95) {		/* a quoted local part, still local */
		(void) snprintf(rcpt, size, "<\"user%05lu\"@example.org>", user);
		return EXP_CONTINUE;
	}
	if (pick < 97) {
		rg_strlcpy(rcpt, "<postmaster>", size);
		return EXP_CONTINUE;
	}
	if (pick < 99) {		/* unqualified: only postmaster may be */
		(void) snprintf(rcpt, size, "<user%05lu>", user);
		return EXP_UNQUALIFIED;
	}
	(void) snprintf(rcpt, size, "<user%05lu@[192.0.2.25]>", user);
	return EXP_CONTINUE;
}

/* send_req - write a whole request; -1 (counted) when it cannot */
static int
send_req(struct worker *w, struct session *s, const struct req *r)
{
	ssize_t n;

	if (r->overflow) {
		problem(w, 0, s, "request too long");
		return -1;
	}
	n = write(s->fd, r->buf, r->len);
	if (n != (ssize_t) r->len) {
		problem(w, 0, s, n < 0 ? strerror(errno) : "short write");
		return -1;
	}
	s->sent_ns = now_ns();
	return 0;
}

/* session_close - quit politely (when asked) and close */
static void
session_close(struct worker *w, struct session *s, int quit)
{
	struct req r;

	if (s->fd < 0)
		return;
	if (quit) {
		r.len = 0;
		r.overflow = 0;
		req_begin(&r, SMFIC_QUIT);
		req_end(&r);
		(void) write(s->fd, r.buf, r.len);
	}
	(void) epoll_ctl(w->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	s->fd = -1;
}

/* session_open - connect, register, send SMFIC_OPTNEG */
static int
session_open(struct worker *w, struct session *s)
{
	struct epoll_event ev;
	struct req r;
	unsigned char opt[12];
	int one = 1;

	s->inlen = 0;
	s->txns = 0;
	s->gen++;
	s->step = ST_DONE;		/* until it is connected */
	if ((s->fd = socket(target.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		problem(w, 0, s, strerror(errno));
		return -1;
	}
	if (connect(s->fd, (struct sockaddr *) &target, target_len) < 0) {
		problem(w, 0, s, strerror(errno));
		close(s->fd);
		s->fd = -1;
		return -1;
	}
	if (target.ss_family != AF_UNIX)
		(void) setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void) fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = s;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, s->fd, &ev) < 0) {
		problem(w, 0, s, strerror(errno));
		close(s->fd);
		s->fd = -1;
		return -1;
	}
	w->connections++;
	s->step = ST_OPTNEG;
	/* What Postfix offers: protocol 6, every action, every step. */
	put_u32(opt, SMFI_PROT_VERSION);
	put_u32(opt + 4, SMFI_CURR_ACTS);
	put_u32(opt + 8, SMFI_CURR_PROT);
	r.len = 0;
	r.overflow = 0;
	req_begin(&r, SMFIC_OPTNEG);
	req_bytes(&r, opt, sizeof(opt));
	req_end(&r);
	return send_req(w, s, &r);
}

/* want_reply - does the milter answer this step? */
static int
want_reply(const struct session *s, enum step step)
{
	switch (step) {
	case ST_CONNECT:
		return !(s->proto & SMFIP_NR_CONN);
	case ST_HELO:
		return !(s->proto & SMFIP_NR_HELO);
	case ST_MAIL:
		return !(s->proto & SMFIP_NR_MAIL);
	case ST_RCPT:
		return !(s->proto & SMFIP_NR_RCPT);
	default:
		return 1;
	}
}

/* take_ticket - may this session send one more RCPT? */
static int
take_ticket(void)
{
	if (__atomic_load_n(&stopping, __ATOMIC_RELAXED))
		return 0;
	if (opt_total > 0
	    && __atomic_add_fetch(&rcpt_tickets, 1, __ATOMIC_RELAXED) > opt_total)
		return 0;
	return 1;
}

/* finish - the session has nothing more to do */
static void
finish(struct worker *w, struct session *s)
{
	session_close(w, s, 1);
	s->step = ST_DONE;
}

/*
 * advance - send the session's next step.  Steps the milter does not
 * answer (negotiated away) are sent and passed over in the same call.
 * Returns -1 when the session had to stop on an error.
 */
static int
advance(struct worker *w, struct session *s)
{
	char text[512], addr[64], name[128];
	const char *param, *pairs[8];
	struct req r;
	unsigned char fam;
	uint16_t port;

	for (;;) {
		r.len = 0;
		r.overflow = 0;
		switch (s->step) {
		case ST_OPTNEG:		/* negotiated: connect */
			s->step = ST_CONNECT;
			if (s->proto & SMFIP_NOCONNECT)
				continue;
			(void) snprintf(name, sizeof(name),
					"client%u.example.net", s->id % 250);
			(void) snprintf(addr, sizeof(addr), "198.51.100.%u",
					1 + s->id % 250);
			pairs[0] = "j", pairs[1] = "mx.example.org";
			pairs[2] = "{daemon_name}", pairs[3] = "milter-load";
			pairs[4] = "v", pairs[5] = "Postfix 3.7";
			req_macros(&r, SMFIC_CONNECT, pairs, 6);
			req_begin(&r, SMFIC_CONNECT);
			req_str(&r, name);
			fam = SMFIA_INET;
			req_bytes(&r, &fam, 1);
			port = htons((uint16_t) (40000 + s->id % 20000));
			req_bytes(&r, &port, 2);
			req_str(&r, addr);
			req_end(&r);
			break;
		case ST_CONNECT:	/* connected: HELO */
			s->step = ST_HELO;
			if (s->proto & SMFIP_NOHELO)
				continue;
			(void) snprintf(name, sizeof(name),
					"client%u.example.net", s->id % 250);
			req_begin(&r, SMFIC_HELO);
			req_str(&r, name);
			req_end(&r);
			break;
		case ST_HELO:		/* a new transaction: MAIL */
		case ST_RCPT:
			if (s->step == ST_RCPT && s->rcpts < opt_k) {
				if (!take_ticket()) {
					finish(w, s);
					return 0;
				}
				s->expect = pick_rcpt(s, text, sizeof(text), &param);
				s->rcpts++;
				pairs[0] = "{rcpt_addr}", pairs[1] = text;
				pairs[2] = "{rcpt_mailer}", pairs[3] = "smtp";
				req_macros(&r, SMFIC_RCPT, pairs, 4);
				req_begin(&r, SMFIC_RCPT);
				req_str(&r, text);
				if (param != NULL)
					req_str(&r, param);
				req_end(&r);
				break;
			}
			if (s->step == ST_RCPT) {	/* transaction done */
				req_begin(&r, SMFIC_ABORT);
				req_end(&r);
				s->txns++;
				if (opt_hold > 0) {
					if (send_req(w, s, &r) < 0)
						return -1;
					s->step = ST_IDLE;
					__atomic_add_fetch(&idle_sessions, 1,
							   __ATOMIC_RELAXED);
					return 0;
				}
				if (opt_m > 0 && s->txns >= opt_m) {
					if (send_req(w, s, &r) < 0)
						return -1;
					session_close(w, s, 1);
					if (__atomic_load_n(&stopping, __ATOMIC_RELAXED)) {
						s->step = ST_DONE;
						return 0;
					}
					return session_open(w, s);
				}
				/* the abort and the next MAIL go together */
			}
			if (__atomic_load_n(&stopping, __ATOMIC_RELAXED)) {
				if (r.len > 0)
					(void) send_req(w, s, &r);
				finish(w, s);
				return 0;
			}
			s->step = ST_MAIL;
			s->rcpts = 0;
			if (s->proto & SMFIP_NOMAIL) {
				if (r.len > 0 && send_req(w, s, &r) < 0) {
					finish(w, s);
					return -1;
				}
				continue;
			}
			(void) snprintf(text, sizeof(text),
					"<sender%u@client%u.example.net>",
					s->id, s->id % 250);
			pairs[0] = "{mail_addr}", pairs[1] = text;
			pairs[2] = "{mail_mailer}", pairs[3] = "smtp";
			req_macros(&r, SMFIC_MAIL, pairs, 4);
			req_begin(&r, SMFIC_MAIL);
			req_str(&r, text);
			req_str(&r, "SIZE=1024");
			req_end(&r);
			break;
		case ST_MAIL:		/* sender accepted: first RCPT */
			s->step = ST_RCPT;
			s->rcpts = 0;
			if (s->proto & SMFIP_NORCPT) {
				problem(w, 0, s, "the milter does not want RCPT");
				finish(w, s);
				return -1;
			}
			continue;
		default:
			return 0;
		}
		if (send_req(w, s, &r) < 0) {
			finish(w, s);
			return -1;
		}
		if (want_reply(s, s->step))
			return 0;
	}
}

/* record_latency - keep one RCPT latency sample */
static void
record_latency(struct worker *w, uint64_t ns)
{
	if (w->nsamples == w->samples_size) {
		if (w->samples_size >= MAX_SAMPLES)
			return;
		w->samples_size = w->samples_size ? w->samples_size * 2 : 65536;
		w->samples = xrealloc(w->samples,
				      w->samples_size * sizeof(*w->samples));
	}
	w->samples[w->nsamples++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t) ns;
}

/* check_rcpt - judge one RCPT answer (cmd, data of len bytes) */
static void
check_rcpt(struct worker *w, struct session *s, int cmd,
	   const unsigned char *data, size_t len)
{
	static const char *const want[EXP_COUNT] = {
		"continue", "550 5.1.1", "550 5.7.1", "550 5.1.3"
	};
	char got[80], what[256];
	int ok;

	if (cmd == SMFIR_CONTINUE) {
		w->verdicts[EXP_CONTINUE]++;
		ok = opt_accept_all || s->expect == EXP_CONTINUE;
		rg_strlcpy(got, "continue", sizeof(got));
	} else if (cmd == SMFIR_REPLYCODE) {
		(void) snprintf(got, sizeof(got), "%.*s",
				(int) (len > 60 ? 60 : len), (const char *) data);
		if (len >= 9 && memcmp(data, "550 5.1.1", 9) == 0)
			w->verdicts[EXP_UNKNOWN]++;
		else if (len >= 9 && memcmp(data, "550 5.7.1", 9) == 0)
			w->verdicts[EXP_RELAY]++;
		else if (len >= 9 && memcmp(data, "550 5.1.3", 9) == 0)
			w->verdicts[EXP_UNQUALIFIED]++;
		ok = !opt_accept_all && s->expect != EXP_CONTINUE && len >= 9
			&& memcmp(data, want[s->expect], 9) == 0;
	} else {
		(void) snprintf(got, sizeof(got), "reply '%c'", cmd);
		ok = 0;
	}
	if (!ok) {
		(void) snprintf(what, sizeof(what), "RCPT answered \"%s\", want %s",
				got, opt_accept_all ? "continue" : want[s->expect]);
		problem(w, 1, s, what);
	}
}

/* on_frame - one complete answer from the milter */
static int
on_frame(struct worker *w, struct session *s, const unsigned char *frame,
	 size_t len)
{
	int cmd = frame[0];
	char what[128];

	if (cmd == SMFIR_PROGRESS)
		return 0;		/* still working: wait on */
	switch (s->step) {
	case ST_OPTNEG:
		if (cmd != SMFIC_OPTNEG || len < 13) {
			problem(w, 0, s, "bad option negotiation answer");
			return -1;
		}
		s->proto = get_u32(frame + 9);
		if (!__atomic_exchange_n(&negotiated_seen, 1, __ATOMIC_SEQ_CST))
			__atomic_store_n(&negotiated_proto, s->proto,
					 __ATOMIC_SEQ_CST);
		break;
	case ST_RCPT:
		record_latency(w, now_ns() - s->sent_ns);
		check_rcpt(w, s, cmd, frame + 1, len - 1);
		if (cmd != SMFIR_CONTINUE && cmd != SMFIR_REPLYCODE
		    && cmd != SMFIR_REJECT && cmd != SMFIR_TEMPFAIL)
			return -1;
		break;
	case ST_CONNECT:
	case ST_HELO:
	case ST_MAIL:
		if (cmd != SMFIR_CONTINUE) {
			(void) snprintf(what, sizeof(what), "%s answered '%c'",
					s->step == ST_CONNECT ? "connect"
					: s->step == ST_HELO ? "HELO" : "MAIL", cmd);
			problem(w, 0, s, what);
			return -1;
		}
		break;
	default:
		problem(w, 0, s, "an answer nobody asked for");
		return -1;
	}
	return advance(w, s);
}

/* on_readable - read what the milter sent, handle complete frames */
static void
on_readable(struct worker *w, struct session *s)
{
	ssize_t n;
	size_t off = 0, flen;
	unsigned gen = s->gen;

	n = read(s->fd, s->in + s->inlen, sizeof(s->in) - s->inlen);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		problem(w, 0, s, n == 0 ? "the milter closed the connection"
			: strerror(errno));
		session_close(w, s, 0);
		s->step = ST_DONE;
		return;
	}
	s->inlen += (size_t) n;
	while (s->fd >= 0 && s->inlen - off >= 4) {
		flen = get_u32(s->in + off);
		if (flen == 0 || flen > MAX_FRAME) {
			problem(w, 0, s, "bad frame length");
			finish(w, s);
			return;
		}
		if (s->inlen - off < 4 + flen)
			break;
		if (on_frame(w, s, s->in + off + 4, flen) < 0 && s->fd >= 0) {
			finish(w, s);
			return;
		}
		if (s->gen != gen)	/* reconnected: the old input is gone */
			return;
		off += 4 + flen;
	}
	if (s->fd < 0)
		return;
	if (off > 0) {
		memmove(s->in, s->in + off, s->inlen - off);
		s->inlen -= off;
	}
}

/* check_stalls - a session waiting too long for its answer is an error */
static void
check_stalls(struct worker *w, uint64_t now)
{
	unsigned i;
	struct session *s;

	for (i = 0; i < w->nsessions; i++) {
		s = &w->sessions[i];
		if (s->fd >= 0 && s->step != ST_IDLE && now - s->sent_ns > STALL_NS) {
			problem(w, 0, s, "no answer within 10 s");
			finish(w, s);
		}
	}
}

/* worker_main - one epoll loop over this worker's sessions */
static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event events[64];
	unsigned i, live;
	uint64_t last_check = now_ns(), now;
	int n;

	for (i = 0; i < w->nsessions; i++)
		if (session_open(w, &w->sessions[i]) < 0)
			w->sessions[i].step = ST_DONE;
	for (;;) {
		n = epoll_wait(w->epfd, events, 64, 100);
		for (i = 0; i < (unsigned) (n > 0 ? n : 0); i++)
			on_readable(w, events[i].data.ptr);
		now = now_ns();
		if (deadline_ns && now >= deadline_ns)
			__atomic_store_n(&stopping, 1, __ATOMIC_RELAXED);
		if (now - last_check > 1000000000ULL) {
			check_stalls(w, now);
			last_check = now;
		}
		live = 0;
		for (i = 0; i < w->nsessions; i++) {
			struct session *s = &w->sessions[i];

			if (s->step == ST_IDLE
			    && __atomic_load_n(&release_hold, __ATOMIC_RELAXED))
				finish(w, s);
			else if (s->step == ST_IDLE
				 && __atomic_load_n(&stopping, __ATOMIC_RELAXED))
				finish(w, s);
			if (s->step != ST_DONE)
				live++;
		}
		if (live == 0)
			break;
	}
	return NULL;
}

/* cmp_u32 - qsort order */
static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

	return x < y ? -1 : x > y;
}

/* percentile_us - the p-th percentile of sorted samples, microseconds */
static double
percentile_us(const uint32_t *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t) (p / 100.0 * (double) n);
	if (i >= n)
		i = n - 1;
	return v[i] / 1000.0;
}

/* print_directory - the recipients file the mix assumes */
static void
print_directory(void)
{
	unsigned i;

	for (i = 0; i < opt_users; i++)
		printf("user%05u@example.org\n", i);
	printf("postmaster@example.org\n");
}

/* parse_args - options into opt_* */
static void
parse_args(int argc, char **argv)
{
	int ch, print_dir = 0;

	while ((ch = getopt(argc, argv, "s:c:n:t:k:m:j:u:x:H:L:qP")) != -1) {
		switch (ch) {
		case 's': opt_socket = optarg; break;
		case 'c': opt_concurrency = (unsigned) strtoul(optarg, NULL, 10); break;
		case 'n': opt_total = strtoul(optarg, NULL, 10); break;
		case 't': opt_seconds = strtod(optarg, NULL); break;
		case 'k': opt_k = (unsigned) strtoul(optarg, NULL, 10); break;
		case 'm': opt_m = (unsigned) strtoul(optarg, NULL, 10); break;
		case 'j': opt_threads = (unsigned) strtoul(optarg, NULL, 10); break;
		case 'u': opt_users = (unsigned) strtoul(optarg, NULL, 10); break;
		case 'x':
			if (strcmp(optarg, "accept") == 0)
				opt_accept_all = 1;
			else if (strcmp(optarg, "relayguard") == 0)
				opt_accept_all = 0;
			else
				usage();
			break;
		case 'H': opt_hold = strtod(optarg, NULL); break;
		case 'L': opt_label = optarg; break;
		case 'q': opt_quiet = 1; break;
		case 'P': print_dir = 1; break;
		default: usage();
		}
	}
	if (optind != argc || opt_users == 0 || opt_users > 100000)
		usage();
	if (print_dir) {
		print_directory();
		exit(0);
	}
	if (opt_socket == NULL || opt_concurrency == 0
	    || opt_concurrency > MAX_SESSIONS || opt_k == 0 || opt_k > 1000
	    || opt_threads == 0 || opt_threads > 64)
		usage();
	if (opt_total == 0 && opt_seconds <= 0 && opt_hold <= 0)
		opt_total = 10000;
	if (opt_threads > opt_concurrency)
		opt_threads = opt_concurrency;
	if (parse_target(opt_socket) < 0) {
		fprintf(stderr, "milter-load: bad socket \"%s\" (inet:PORT@HOST, "
			"inet6:PORT@HOST or unix:PATH)\n", opt_socket);
		exit(2);
	}
}

/* wait_hold - -H: wait until every session idles, hold, release */
static void
wait_hold(void)
{
	uint64_t limit = now_ns() + 60ULL * 1000000000ULL;

	while (__atomic_load_n(&idle_sessions, __ATOMIC_RELAXED) < opt_concurrency
	       && now_ns() < limit)
		usleep(20000);
	printf("holding %u connections\n",
	       __atomic_load_n(&idle_sessions, __ATOMIC_RELAXED));
	fflush(stdout);
	usleep((useconds_t) (opt_hold * 1e6));
	__atomic_store_n(&release_hold, 1, __ATOMIC_RELAXED);
}

/* main - start the workers, wait, merge and report */
int
main(int argc, char **argv)
{
	struct worker *workers;
	unsigned long verdicts[EXP_COUNT] = {0}, mismatches = 0, errors = 0;
	unsigned long connections = 0;
	uint32_t *all;
	size_t n = 0, k;
	unsigned i, j, next = 0;
	uint64_t t0, t1;
	double secs, rate;
	const char *first = NULL;

	parse_args(argc, argv);
	workers = xcalloc(opt_threads, sizeof(*workers));
	for (i = 0; i < opt_threads; i++) {
		struct worker *w = &workers[i];

		w->nsessions = opt_concurrency / opt_threads
			+ (i < opt_concurrency % opt_threads);
		w->sessions = xcalloc(w->nsessions, sizeof(*w->sessions));
		if ((w->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
			perror("epoll_create1");
			return 2;
		}
		for (j = 0; j < w->nsessions; j++) {
			w->sessions[j].fd = -1;
			w->sessions[j].id = next++;
			w->sessions[j].rng = 0x9E3779B97F4A7C15UL * (next + 1);
		}
	}
	t0 = now_ns();
	if (opt_seconds > 0)
		deadline_ns = t0 + (uint64_t) (opt_seconds * 1e9);
	for (i = 0; i < opt_threads; i++)
		if (pthread_create(&workers[i].thread, NULL, worker_main,
				   &workers[i]) != 0) {
			fprintf(stderr, "milter-load: cannot start threads\n");
			return 2;
		}
	if (opt_hold > 0)
		wait_hold();
	for (i = 0; i < opt_threads; i++)
		pthread_join(workers[i].thread, NULL);
	t1 = now_ns();

	for (i = 0; i < opt_threads; i++)
		n += workers[i].nsamples;
	all = xmalloc((n ? n : 1) * sizeof(*all));
	for (i = 0, k = 0; i < opt_threads; i++) {
		struct worker *w = &workers[i];

		if (w->nsamples > 0)
			memcpy(all + k, w->samples, w->nsamples * sizeof(*all));
		k += w->nsamples;
		for (j = 0; j < EXP_COUNT; j++)
			verdicts[j] += w->verdicts[j];
		mismatches += w->mismatches;
		errors += w->errors;
		connections += w->connections;
		if (first == NULL && w->first_problem[0])
			first = w->first_problem;
	}
	qsort(all, n, sizeof(*all), cmp_u32);
	secs = (double) (t1 - t0) / 1e9;
	rate = secs > 0 ? (double) n / secs : 0;
	if (!opt_quiet) {
		printf("%s%s%u sessions (%u thread%s), %u rcpt/txn, %u txn/connection: "
		       "%zu rcpts in %.2f s over %lu connections\n",
		       opt_label, *opt_label ? ": " : "", opt_concurrency,
		       opt_threads, opt_threads == 1 ? "" : "s", opt_k, opt_m, n,
		       secs, connections);
		printf("  %.0f rcpt verdicts/s; latency p50 %.1f us, p99 %.1f us, "
		       "p99.9 %.1f us, max %.1f us\n", rate,
		       percentile_us(all, n, 50), percentile_us(all, n, 99),
		       percentile_us(all, n, 99.9), n ? all[n - 1] / 1000.0 : 0);
		printf("  verdicts: continue %lu, 550 5.1.1 %lu, 550 5.7.1 %lu, "
		       "550 5.1.3 %lu; mismatches %lu, protocol errors %lu\n",
		       verdicts[0], verdicts[1], verdicts[2], verdicts[3],
		       mismatches, errors);
		if (first != NULL)
			printf("  first problem: %s\n", first);
	}
	/* Which steps the milter asked to leave unanswered. */
	printf("NEGOTIATED noreply=%s%s%s%s%s\n",
	       negotiated_proto & SMFIP_NR_CONN ? "connect," : "",
	       negotiated_proto & SMFIP_NR_HELO ? "helo," : "",
	       negotiated_proto & SMFIP_NR_MAIL ? "mail," : "",
	       negotiated_proto & SMFIP_NR_RCPT ? "rcpt," : "",
	       negotiated_proto & SMFIP_NR_DATA ? "data," : "");
	printf("RESULT rate=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f "
	       "max_us=%.1f rcpts=%zu mismatches=%lu errors=%lu "
	       "connections=%lu\n", rate, percentile_us(all, n, 50),
	       percentile_us(all, n, 99), percentile_us(all, n, 99.9),
	       n ? all[n - 1] / 1000.0 : 0, n, mismatches, errors, connections);
	for (i = 0; i < opt_threads; i++) {
		free(workers[i].sessions);
		free(workers[i].samples);
		close(workers[i].epfd);
	}
	free(workers);
	free(all);
	return mismatches == 0 && errors == 0 ? 0 : 1;
}
