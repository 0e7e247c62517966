/*
 * bench-clienttrack - what memory across connections and per-account
 * relay limits cost the policy engine
 *
 * The RCPT mix of bench-policy (known, unknown, relay, tricks) against a
 * file directory of 10,000 users, on one thread, a new client every ten
 * recipients, measured in the same run:
 *   off            no client memory, no account limits (the baseline);
 *   clients N      client memory holding N clients (1,000, 100,000),
 *                  the sessions cycling through them;
 *   accounts N     the same sessions authenticated as N AUTH users, so
 *                  every remote recipient is checked and counted against
 *                  its account (plus the client memory).
 * Limits are set out of reach: the figures are the cost of counting, not
 * of refusing.  Each figure is the best of several rounds; the spread is
 * the worst round against the best, and a gap smaller than the spread is
 * reported as "not decided".
 *
 * Usage: bench-clienttrack [SECONDS_PER_ROUND]; prints a report and
 * "RESULT name=value" lines for tests/bench/run-bench.sh.
 */
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "accountlimit.h"
#include "address.h"
#include "clienttrack.h"
#include "config.h"
#include "directory.h"
#include "netlist.h"
#include "policy.h"
#include "bench_util.h"

#define BENCH_INPUTS	4096
#define BENCH_ROUNDS	5

struct input {
	char    text[128];
	size_t  len;
};

struct rate {
	double  best, worst;
};

static struct input inputs[BENCH_INPUTS];
static volatile unsigned long sink;

/* make_inputs - known 50%, unknown 20%, relay 20%, tricks 10% */
static void
make_inputs(void)
{
	unsigned long x = 88172645463325252UL;
	size_t  i;

	for (i = 0; i < BENCH_INPUTS; i++) {
		unsigned long user, pick;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		user = (x >> 8) % BENCH_USERS;
		pick = x % 100;
		if (pick < 50)
			snprintf(inputs[i].text, sizeof(inputs[i].text),
				 "<user%05lu@example.org>", user);
		else if (pick < 70)
			snprintf(inputs[i].text, sizeof(inputs[i].text),
				 "<usr%05lu@example.org>", user);
		else if (pick < 90)
			snprintf(inputs[i].text, sizeof(inputs[i].text),
				 "<victim%05lu@remote%lu.test>", user, x % 7);
		else
			snprintf(inputs[i].text, sizeof(inputs[i].text),
				 "<u%05lu%%remote.test@example.org>", user);
		inputs[i].len = strlen(inputs[i].text);
	}
}

/* The configuration, over the fixture's file directory: every limit out
 * of reach, so that the figures are the cost of counting. */
static const char bench_conf[] =
	"local_domains = example.org, example.net\n"
	"trusted_networks = 10.0.0.0/8\n"
	"harvest_limit = 0\n"
	"client_limit.unknown = 60000\nclient_limit.relay = 60000\n"
	"client_limit.routing = 60000\nclient_limit.syntax = 60000\n"
	"auth_limit.hour = 10000000\nauth_limit.day = 10000000\n"
	"auth_limit.domains = 0\nauth_limit.clients = 0\n";

/* client_ip - the n-th of the tracked clients, one per /24 (the worst
 * case: every client costs two entries) */
static void
client_ip(unsigned long n, struct rg_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	ip->family = AF_INET;
	ip->addr[0] = (unsigned char) (100 + (n >> 16));
	ip->addr[1] = (unsigned char) (n >> 8);
	ip->addr[2] = (unsigned char) n;
	ip->addr[3] = 1;
}

/* run - n decisions; a new client (and AUTH user) every ten */
static void
run(const struct rg_config *cfg, struct directory *dir,
    struct clienttrack *ct, struct accountlimit *al, unsigned long clients,
    unsigned long n)
{
	static struct rg_verdict v;
	static unsigned long next;
	struct rg_session s;
	unsigned long i;

	policy_session_init(&s);
	s.tracker = ct;
	s.accounts = al;
	s.client_ip_known = 1;
	client_ip(0, &s.client_ip);
	for (i = 0; i < n; i++) {
		const struct input *in = &inputs[i % BENCH_INPUTS];

		if (i % 10 == 0) {
			next = (next + 7919) % (clients ? clients : 1);
			client_ip(next, &s.client_ip);
			if (al != NULL)
				snprintf(s.auth_user, sizeof(s.auth_user),
					 "user%05lu@example.org", next);
			s.rcpts = s.rcpts_accepted = s.unknown_rcpts = 0;
		}
		policy_decide(cfg, dir, &s, RG_STAGE_RCPT, in->text, in->len, &v);
		policy_commit(&s, &v);
		sink += (unsigned long) v.code;
	}
}

/* measure - best and worst rate over BENCH_ROUNDS rounds */
static struct rate
measure(const struct rg_config *cfg, struct directory *dir,
	struct clienttrack *ct, struct accountlimit *al, unsigned long clients,
	double seconds)
{
	struct rate r = {0, 0};
	int     round;

	for (round = 0; round < BENCH_ROUNDS; round++) {
		unsigned long n = 0;
		double  t0 = bench_now(), t, rate;

		do {
			run(cfg, dir, ct, al, clients, 50000);
			n += 50000;
			t = bench_now() - t0;
		} while (t < seconds);
		rate = (double) n / t;
		if (rate > r.best)
			r.best = rate;
		if (r.worst == 0 || rate < r.worst)
			r.worst = rate;
	}
	return r;
}

/* verdict - how an arm compares with the baseline, honest about noise */
static const char *
verdict(struct rate base, struct rate arm)
{
	if (arm.best >= base.worst && arm.worst <= base.best)
		return "not decided (the rounds overlap)";
	return arm.best < base.best ? "slower" : "faster";
}

/* report - one arm's line and RESULT lines */
static void
report(const char *name, const char *key, struct rate base, struct rate arm)
{
	printf("%-24s %12.0f decisions/s (%4.0f ns; worst round %10.0f) "
	       "%.3f of off: %s\n", name, arm.best, 1e9 / arm.best, arm.worst,
	       arm.best / base.best, verdict(base, arm));
	printf("RESULT %s_per_s=%.0f\nRESULT %s_vs_off=%.3f\n", key, arm.best,
	       key, arm.best / base.best);
}

int
main(int argc, char **argv)
{
	static const unsigned long sizes[] = {1000, 100000};
	struct rg_config *cfg = NULL;
	struct directory *dir = NULL;
	struct clienttrack_stats st;
	char    tmpdir[256], name[64], key[64];
	double  seconds = argc > 1 ? atof(argv[1]) : 0.3;
	double  min_rate = 1e18, load;
	struct rate off, arm;
	size_t  i;

	if (seconds <= 0 || seconds > 60) {
		fprintf(stderr, "usage: bench-clienttrack [SECONDS_PER_ROUND]\n");
		return 2;
	}
	make_inputs();
	if (bench_directory_open("bench-clienttrack", bench_conf, tmpdir,
				 sizeof(tmpdir), &cfg, &dir) < 0)
		return 1;
	printf("RCPT decisions of the policy engine on one thread (mix: 50%% "
	       "known, 20%% unknown,\n20%% relay, 10%% tricks; file directory "
	       "of %d users; a new client every\nten recipients; best of %d "
	       "rounds of %.1f s).\n\n", BENCH_USERS, BENCH_ROUNDS, seconds);
	run(cfg, dir, NULL, NULL, 0, 200000);	/* warm-up */
	off = measure(cfg, dir, NULL, NULL, 0, seconds);
	printf("%-24s %12.0f decisions/s (%4.0f ns; worst round %10.0f)\n",
	       "off", off.best, 1e9 / off.best, off.worst);
	printf("RESULT off_per_s=%.0f\n", off.best);
	for (i = 0; i < RG_ARRAY_LEN(sizes); i++) {
		/* room for every client's two entries: nothing is evicted */
		struct clienttrack *ct = clienttrack_new(sizes[i] * 2 + 64, 64);
		struct accountlimit *al = accountlimit_new(sizes[i] + 64, 64);
		unsigned long c;

		clienttrack_configure(ct, &cfg->client_limits);
		for (c = 0; c < sizes[i]; c++) {	/* fill the table */
			struct rg_ip ip;

			client_ip(c, &ip);
			(void) clienttrack_note(ct, &ip, CT_RELAY);
		}
		snprintf(name, sizeof(name), "clients %lu", sizes[i]);
		snprintf(key, sizeof(key), "clients_%lu", sizes[i]);
		arm = measure(cfg, dir, ct, NULL, sizes[i], seconds);
		report(name, key, off, arm);
		if (arm.best < min_rate)
			min_rate = arm.best;
		snprintf(name, sizeof(name), "clients+accounts %lu", sizes[i]);
		snprintf(key, sizeof(key), "accounts_%lu", sizes[i]);
		arm = measure(cfg, dir, ct, al, sizes[i], seconds);
		report(name, key, off, arm);
		if (arm.best < min_rate)
			min_rate = arm.best;
		clienttrack_get_stats(ct, &st);
		if (i + 1 == RG_ARRAY_LEN(sizes)) {
			printf("\nmemory: client memory of %zu entries: %zu bytes, "
			       "%.0f bytes per entry; a tracked client\ntakes one "
			       "entry, plus one for its /24 or /64 when it is the "
			       "first of its network:\n%.0f to %.0f bytes per client "
			       "(%zu entries in use for %lu clients here, each in its "
			       "own /24).\n", st.capacity, st.bytes,
			       (double) st.bytes / (double) st.capacity,
			       (double) st.bytes / (double) st.capacity,
			       2.0 * (double) st.bytes / (double) st.capacity,
			       st.used, sizes[i]);
			printf("the default client_track_size = 100000 holds 50,000 "
			       "to 100,000 clients in %.1f MB.\n",
			       100000.0 * (double) st.bytes / (double) st.capacity
			       / 1e6);
			printf("account limits: %zu bytes per tracked account "
			       "(account_track_size = 10000: %.1f MB).\n",
			       accountlimit_entry_bytes(),
			       10000.0 * (double) accountlimit_entry_bytes() / 1e6);
			printf("RESULT bytes_per_entry=%.0f\n"
			       "RESULT bytes_per_account=%zu\n",
			       (double) st.bytes / (double) st.capacity,
			       accountlimit_entry_bytes());
		}
		ct = clienttrack_free(ct);
		al = accountlimit_free(al);
	}
	printf("\ntarget 1,000,000 decisions/s on one core with tracking on: %s "
	       "(slowest arm %.0f)\n", min_rate >= 1e6 ? "met" : "MISSED",
	       min_rate);
	printf("RESULT target_1M=%s\n", min_rate >= 1e6 ? "met" : "missed");
	if ((load = bench_load_average()) >= 0)
		printf("1-minute load average at end: %.2f (above 1 on two "
		       "cores: other work shared them, the absolute\nfigures "
		       "are low and noisy; compare the ratios)\n", load);
	bench_directory_close("bench-clienttrack", tmpdir, cfg, dir);
	return 0;
}
