/*
 * policy-load - a Postfix policy delegation load generator that checks
 * the answers
 *
 * SYNOPSIS
 *	policy-load -s SOCKET [-c CONNECTIONS] [-n TOTAL | -t SECONDS]
 *		[-k RCPTS_PER_TXN] [-u USERS] [-q]
 *
 * DESCRIPTION
 *	Plays smtpd's side of the policy delegation protocol against a
 *	policy server on SOCKET (inet:PORT@HOST or unix:PATH):
 *	CONNECTIONS connections at once, each sending one RCPT-stage
 *	request at a time and waiting for its answer, as one smtpd process
 *	does.  Requests carry every attribute Postfix 3.7 sends (about 700
 *	bytes); each connection is one SMTP client (its own client_port)
 *	whose transactions (instance) have k recipients each.
 *
 *	The recipients are a fixed mix: known users of example.org (half),
 *	unknown users of example.org (a quarter) and relay attempts (a
 *	quarter).  Every answer is checked against what relayguard must say:
 *	action=DUNNO for a known user, 550 5.1.1 for an unknown one, 550
 *	5.7.1 for relaying.  The server must run with local_domains =
 *	example.org, harvest_limit = 0, client_track_size = 0 and a
 *	directory listing userNNNNN@example.org below USERS (milter-load -P).
 *
 *	Reports requests answered per second, the latency of each (from
 *	sending it to its whole answer: p50, p99, p99.9, max), mismatched
 *	answers and protocol errors, then a RESULT line in milter-load's
 *	format for tests/bench/run-perf.sh.  Exits 1 when any answer
 *	mismatched or any error happened, 2 on usage errors.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS	5000
#define ANSWER_MAX	4096
#define STALL_NS	(10ULL * 1000000000ULL)

enum expect { EXP_DUNNO, EXP_UNKNOWN, EXP_RELAY, EXP_COUNT };
static const char *const expect_prefix[EXP_COUNT] = {
	"action=DUNNO\n\n", "action=550 5.1.1 ", "action=550 5.7.1 ",
};

struct conn {
	int     fd;
	unsigned id;
	unsigned long rng;
	unsigned txn, rcpts;
	enum expect expect;
	uint64_t sent_ns;
	char    in[ANSWER_MAX];
	size_t  inlen;
};

static struct sockaddr_storage target;
static socklen_t target_len;
static unsigned opt_conns = 10, opt_k = 5, opt_users = 10000;
static unsigned long opt_total;
static double opt_seconds;
static int opt_quiet;
static uint32_t *samples;
static size_t nsamples, samples_cap;
static unsigned long verdicts[EXP_COUNT], mismatches, errors, sent;
static char first_problem[512];

/* now_ns - monotonic nanoseconds */
static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

/* problem - count an error, remember the first */
static void
problem(const struct conn *c, const char *what)
{
	errors++;
	if (first_problem[0] == '\0')
		(void) snprintf(first_problem, sizeof(first_problem),
				"connection %u: %s", c->id, what);
}

/* parse_socket - inet:PORT@HOST or unix:PATH into target */
static int
parse_socket(const char *spec)
{
	struct sockaddr_in *sin = (struct sockaddr_in *) &target;
	struct sockaddr_un *sun = (struct sockaddr_un *) &target;
	const char *at;

	memset(&target, 0, sizeof(target));
	if (strncmp(spec, "unix:", 5) == 0) {
		sun->sun_family = AF_UNIX;
		if (strlen(spec + 5) >= sizeof(sun->sun_path))
			return -1;
		strcpy(sun->sun_path, spec + 5);
		target_len = sizeof(*sun);
		return 0;
	}
	if (strncmp(spec, "inet:", 5) != 0 || (at = strchr(spec, '@')) == NULL)
		return -1;
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t) atoi(spec + 5));
	if (inet_pton(AF_INET, at + 1, &sin->sin_addr) != 1)
		return -1;
	target_len = sizeof(*sin);
	return 0;
}

/* next_rand - xorshift */
static unsigned long
next_rand(struct conn *c)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return c->rng;
}

/* send_request - the next RCPT request of c's client */
static int
send_request(struct conn *c)
{
	char rcpt[64], req[1400];
	unsigned long r = next_rand(c);
	int n;
	ssize_t w;

	switch (r % 4) {
	case 0:
		c->expect = EXP_UNKNOWN;
		(void) snprintf(rcpt, sizeof(rcpt), "nobody%05lu@example.org",
				(r >> 8) % 100000);
		break;
	case 1:
		c->expect = EXP_RELAY;
		(void) snprintf(rcpt, sizeof(rcpt), "victim%lu@remote.test",
				(r >> 8) % 1000);
		break;
	default:
		c->expect = EXP_DUNNO;
		(void) snprintf(rcpt, sizeof(rcpt), "user%05lu@example.org",
				(r >> 8) % opt_users);
		break;
	}
	if (c->rcpts++ >= opt_k) {
		c->rcpts = 1;
		c->txn++;
	}
	n = snprintf(req, sizeof(req),
		     "request=smtpd_access_policy\nprotocol_state=RCPT\n"
		     "protocol_name=ESMTP\nclient_address=198.51.100.%u\n"
		     "client_name=client%u.example.net\nclient_port=%u\n"
		     "reverse_client_name=client%u.example.net\n"
		     "server_address=192.0.2.25\nserver_port=25\n"
		     "helo_name=client%u.example.net\nsender=sender@example.net\n"
		     "recipient=%s\nrecipient_count=%u\nqueue_id=\n"
		     "instance=%x.%x.%x\nsize=1024\netrn_domain=\nstress=\n"
		     "sasl_method=\nsasl_username=\nsasl_sender=\n"
		     "ccert_subject=\nccert_issuer=\nccert_fingerprint=\n"
		     "ccert_pubkey_fingerprint=\nencryption_protocol=\n"
		     "encryption_cipher=\nencryption_keysize=0\n"
		     "policy_context=\n\n",
		     c->id % 250 + 1, c->id, 10000 + c->id, c->id, c->id, rcpt,
		     c->rcpts - 1, c->id, c->txn, 0x5eedu);
	c->sent_ns = now_ns();
	do
		w = write(c->fd, req, (size_t) n);
	while (w < 0 && errno == EINTR);
	if (w != n) {
		problem(c, "short write");
		return -1;
	}
	sent++;
	return 0;
}

/* record - one latency sample */
static void
record(uint64_t ns)
{
	if (nsamples == samples_cap) {
		samples_cap = samples_cap ? samples_cap * 2 : 65536;
		if ((samples = realloc(samples, samples_cap * sizeof(*samples))) == NULL) {
			perror("policy-load");
			exit(2);
		}
	}
	samples[nsamples++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t) ns;
}

/* on_answer - check a whole answer; 0 to go on */
static int
on_answer(struct conn *c, const char *answer)
{
	record(now_ns() - c->sent_ns);
	if (strncmp(answer, expect_prefix[c->expect],
		    strlen(expect_prefix[c->expect])) == 0) {
		verdicts[c->expect]++;
		return 0;
	}
	mismatches++;
	if (first_problem[0] == '\0')
		(void) snprintf(first_problem, sizeof(first_problem),
				"connection %u: answered \"%.200s\", want "
				"\"%.20s...\"", c->id, answer,
				expect_prefix[c->expect]);
	return 0;
}

/* cmp_u32 - for qsort */
static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

	return x < y ? -1 : x > y;
}

/* pct - a percentile of the sorted samples, in microseconds */
static double
pct(double p)
{
	size_t i;

	if (nsamples == 0)
		return 0;
	i = (size_t) (p / 100.0 * (double) (nsamples - 1) + 0.5);
	return samples[i] / 1000.0;
}

/* usage - exit 2 */
static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: policy-load -s SOCKET [-c CONNECTIONS] "
		"[-n TOTAL | -t SECONDS] [-k RCPTS_PER_TXN] [-u USERS] [-q]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct epoll_event ev, events[256];
	struct conn *conns;
	const char *sock = NULL;
	uint64_t start, deadline = 0, now;
	unsigned i, open_conns, one = 1;
	double secs;
	int ch, ep, n, e;

	while ((ch = getopt(argc, argv, "s:c:n:t:k:u:q")) != -1) {
		switch (ch) {
		case 's': sock = optarg; break;
		case 'c': opt_conns = (unsigned) atoi(optarg); break;
		case 'n': opt_total = strtoul(optarg, NULL, 10); break;
		case 't': opt_seconds = atof(optarg); break;
		case 'k': opt_k = (unsigned) atoi(optarg); break;
		case 'u': opt_users = (unsigned) atoi(optarg); break;
		case 'q': opt_quiet = 1; break;
		default: usage();
		}
	}
	if (sock == NULL || parse_socket(sock) < 0 || opt_conns < 1
	    || opt_conns > MAX_CONNS || opt_k < 1 || opt_users < 1
	    || (opt_total == 0 && opt_seconds <= 0))
		usage();
	if ((conns = calloc(opt_conns, sizeof(*conns))) == NULL
	    || (ep = epoll_create1(0)) < 0) {
		perror("policy-load");
		return 2;
	}
	for (i = 0; i < opt_conns; i++) {
		struct conn *c = &conns[i];

		c->id = i;
		c->rng = 0x9E3779B97F4A7C15UL * (i + 1);
		if ((c->fd = socket(target.ss_family, SOCK_STREAM, 0)) < 0
		    || connect(c->fd, (struct sockaddr *) &target, target_len) < 0) {
			fprintf(stderr, "policy-load: connect %s: %s\n", sock,
				strerror(errno));
			return 2;
		}
		if (target.ss_family == AF_INET)
			(void) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one,
					  sizeof(one));
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
			perror("policy-load: epoll");
			return 2;
		}
	}
	start = now_ns();
	if (opt_seconds > 0)
		deadline = start + (uint64_t) (opt_seconds * 1e9);
	open_conns = opt_conns;
	for (i = 0; i < opt_conns; i++)
		if (send_request(&conns[i]) < 0)
			goto report;
	while (open_conns > 0) {
		n = epoll_wait(ep, events, 256, 1000);
		now = now_ns();
		for (e = 0; e < n; e++) {
			struct conn *c = events[e].data.ptr;
			ssize_t r;
			char *end;

			r = read(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen);
			if (r <= 0) {
				problem(c, r == 0 ? "server closed the connection"
					: strerror(errno));
				close(c->fd);
				c->fd = -1;
				open_conns--;
				continue;
			}
			c->inlen += (size_t) r;
			c->in[c->inlen] = '\0';
			if ((end = strstr(c->in, "\n\n")) == NULL) {
				if (c->inlen >= sizeof(c->in) - 1) {
					problem(c, "answer too long");
					goto report;
				}
				continue;
			}
			if ((size_t) (end + 2 - c->in) != c->inlen) {
				problem(c, "more than one answer to one request");
				goto report;
			}
			(void) on_answer(c, c->in);
			c->inlen = 0;
			if ((deadline && now >= deadline)
			    || (opt_total && sent >= opt_total)) {
				close(c->fd);
				c->fd = -1;
				open_conns--;
				continue;
			}
			if (send_request(c) < 0)
				goto report;
		}
		for (i = 0; i < opt_conns; i++)
			if (conns[i].fd >= 0 && now > conns[i].sent_ns
			    && now - conns[i].sent_ns > STALL_NS) {
				problem(&conns[i], "no answer within 10 s");
				goto report;
			}
	}
report:
	secs = (double) (now_ns() - start) / 1e9;
	qsort(samples, nsamples, sizeof(*samples), cmp_u32);
	if (!opt_quiet) {
		printf("%u connections, %u rcpt/txn: %zu requests in %.2f s\n",
		       opt_conns, opt_k, nsamples, secs);
		printf("  %.0f requests/s; latency p50 %.1f us, p99 %.1f us, "
		       "p99.9 %.1f us, max %.1f us\n", nsamples / secs, pct(50),
		       pct(99), pct(99.9), nsamples ? samples[nsamples - 1] / 1000.0 : 0);
		printf("  answers: DUNNO %lu, 550 5.1.1 %lu, 550 5.7.1 %lu; "
		       "mismatches %lu, errors %lu\n", verdicts[EXP_DUNNO],
		       verdicts[EXP_UNKNOWN], verdicts[EXP_RELAY], mismatches,
		       errors);
		if (first_problem[0] != '\0')
			printf("  first problem: %s\n", first_problem);
	}
	printf("RESULT rate=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f "
	       "max_us=%.1f rcpts=%zu mismatches=%lu errors=%lu "
	       "connections=%u\n", nsamples / secs, pct(50), pct(99), pct(99.9),
	       nsamples ? samples[nsamples - 1] / 1000.0 : 0, nsamples,
	       mismatches, errors, opt_conns);
	free(samples);
	free(conns);
	return mismatches == 0 && errors == 0 ? 0 : 1;
}
