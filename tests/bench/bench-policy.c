/*
 * bench-policy - RCPT decisions per second of the pure policy engine
 *
 * A realistic recipient mix (known users, unknown users, plain relay
 * attempts, relay tricks, postmaster, unqualified and literal forms) is
 * judged against a file directory of 10,000 users, on one thread.  Two
 * baselines are measured in the same run on the same inputs, so the
 * figures can be compared across machines as ratios:
 *   parse    addr_parse() + addr_resolve() alone (the engine's floor);
 *   naive    what a naive filter does: find the '@', strcmp the domain.
 * Each figure is the best of several rounds of at least 0.3 s.
 *
 * Usage: bench-policy [SECONDS_PER_ROUND]; prints a readable report and
 * "RESULT name=value" lines for tests/bench/run-bench.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "address.h"
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

static struct input inputs[BENCH_INPUTS];
static volatile unsigned long sink;	/* keeps results observable */

/* next_random - a small deterministic generator (xorshift) */
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

/* make_inputs - the recipient mix */
static void
make_inputs(void)
{
	static const char *const tricks[] = {
		"<u%remote.test@example.org>", "<\"u@remote.test\"@example.org>",
		"<remote.test!u@example.org>", "<u@remote.test@example.org>",
		"<IMCEASMTP-u+40remote+2Etest@example.org>",
		"<@example.org:u@remote.test>",
	};
	unsigned long state = 88172645463325252UL;
	size_t i;

	for (i = 0; i < BENCH_INPUTS; i++) {
		unsigned long r = next_random(&state);
		unsigned long user = (r >> 8) % BENCH_USERS;
		unsigned pick = (unsigned)(r % 100);
		struct input *in = &inputs[i];

		if (pick < 50)		/* known user, with and without params */
			snprintf(in->text, sizeof(in->text), pick < 40 ?
				 "<user%05lu@example.org>" :
				 "<User%05lu@Example.ORG> NOTIFY=SUCCESS", user);
		else if (pick < 70)	/* unknown user: typos, harvest */
			snprintf(in->text, sizeof(in->text),
				 "<usr%05lu@example.org>", user);
		else if (pick < 85)	/* plain relay attempt */
			snprintf(in->text, sizeof(in->text),
				 "<victim%05lu@remote%lu.test>", user, r % 7);
		else if (pick < 93)	/* relay tricks */
			rg_strlcpy(in->text, tricks[(r >> 4) % RG_ARRAY_LEN(tricks)],
				   sizeof(in->text));
		else if (pick < 95)	/* tricks hiding a local user */
			snprintf(in->text, sizeof(in->text), pick < 94 ?
				 "<user%05lu%%example.org@example.org>" :
				 "<\"user%05lu\"@example.org>", user);
		else if (pick < 97)
			snprintf(in->text, sizeof(in->text), "<postmaster>");
		else if (pick < 99)
			snprintf(in->text, sizeof(in->text), "<user%05lu>", user);
		else
			snprintf(in->text, sizeof(in->text),
				 "<user%05lu@[192.0.2.25]>", user);
		in->len = strlen(in->text);
	}
}

/* The configuration, over the fixture's file directory. */
static const char bench_conf[] =
	"local_domains = example.org, example.net\n"
	"local_addresses = 192.0.2.25\n"
	"trusted_networks = 10.0.0.0/8, 2001:db8:a::/48\n"
	"never_relay_networks = 10.66.0.0/16\n"
	"sender_deny = @spam.test, *@*.junk.test\n";

/* run_engine - n RCPT decisions through policy_decide + policy_commit */
static void
run_engine(const struct rg_config *cfg, struct directory *dir,
	   unsigned long n, unsigned long *per_rule)
{
	static struct rg_verdict v;
	struct rg_session s;
	unsigned long i;

	policy_session_init(&s);
	rg_ip_parse("192.0.2.1", &s.client_ip);
	s.client_ip_known = 1;
	policy_decide(cfg, dir, &s, RG_STAGE_MAIL, "<sender@remote.test>", 20, &v);
	policy_commit(&s, &v);
	for (i = 0; i < n; i++) {
		const struct input *in = &inputs[i % BENCH_INPUTS];

		if (i % 10 == 0) {	/* a new transaction every 10 rcpts */
			s.rcpts = s.rcpts_accepted = 0;
			s.unknown_rcpts = 0;
		}
		policy_decide(cfg, dir, &s, RG_STAGE_RCPT, in->text, in->len, &v);
		policy_commit(&s, &v);
		if (per_rule != NULL)
			per_rule[v.rule]++;
		sink += (unsigned long)v.code;
	}
}

/* run_parse - baseline: the address parser and resolver alone */
static void
run_parse(const struct rg_config *cfg, unsigned long n)
{
	static struct address a;
	unsigned long i;

	for (i = 0; i < n; i++) {
		const struct input *in = &inputs[i % BENCH_INPUTS];

		if (addr_parse(in->text, in->len, 0, &a) == ADDR_OK)
			addr_resolve(&a, config_is_local, (void *)cfg);
		sink += a.tricks + a.final_domain.type;
	}
}

/* run_naive - baseline: find the last '@', compare the domain */
static void
run_naive(unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		const struct input *in = &inputs[i % BENCH_INPUTS];
		const char *at = strrchr(in->text, '@');
		const char *gt;
		size_t dlen;

		if (at == NULL) {
			sink++;
			continue;
		}
		gt = strchr(at, '>');
		dlen = gt ? (size_t)(gt - at - 1) : strlen(at + 1);
		sink += dlen == 11 && strncasecmp(at + 1, "example.org", 11) == 0;
	}
}

enum bench_kind { BENCH_ENGINE, BENCH_PARSE, BENCH_NAIVE };

/* measure - best rate (per second) over BENCH_ROUNDS rounds */
static double
measure(enum bench_kind kind, const struct rg_config *cfg,
	struct directory *dir, double seconds)
{
	double best = 0;
	int round;

	for (round = 0; round < BENCH_ROUNDS; round++) {
		unsigned long n = 0, batch = 100000;
		double t0 = bench_now(), t;

		do {
			if (kind == BENCH_ENGINE)
				run_engine(cfg, dir, batch, NULL);
			else if (kind == BENCH_PARSE)
				run_parse(cfg, batch);
			else
				run_naive(batch);
			n += batch;
			t = bench_now() - t0;
		} while (t < seconds);
		if ((double)n / t > best)
			best = (double)n / t;
	}
	return best;
}

int
main(int argc, char **argv)
{
	unsigned long per_rule[RG_RULE_COUNT] = {0};
	struct rg_config *cfg = NULL;
	struct directory *dir = NULL;
	char tmpdir[256], stats[256];
	double seconds = argc > 1 ? atof(argv[1]) : 0.3;
	double engine, parse, naive;
	int r;

	if (seconds <= 0 || seconds > 60) {
		fprintf(stderr, "usage: bench-policy [SECONDS_PER_ROUND (0-60)]\n");
		return 2;
	}
	make_inputs();
	if (bench_directory_open("bench-policy", bench_conf, tmpdir,
				 sizeof(tmpdir), &cfg, &dir) < 0)
		return 1;
	directory_stats(dir, stats, sizeof(stats));

	run_engine(cfg, dir, BENCH_INPUTS * 10UL, per_rule);	/* warm-up, mix */
	engine = measure(BENCH_ENGINE, cfg, dir, seconds);
	parse = measure(BENCH_PARSE, cfg, dir, seconds);
	naive = measure(BENCH_NAIVE, cfg, dir, seconds);

	printf("RCPT decisions of the policy engine on one thread, against a\n"
	       "file directory: %s.\n",
	       strstr(stats, ": ") ? strstr(stats, ": ") + 2 : stats);
	printf("mix of %d recipients (decisions per rule over %lu):\n",
	       BENCH_INPUTS, BENCH_INPUTS * 10UL);
	for (r = 0; r < RG_RULE_COUNT; r++)
		if (per_rule[r] > 0)
			printf("  %-22s %5.1f%%\n", rg_rule_name((enum rg_rule)r),
			       100.0 * (double)per_rule[r] / (BENCH_INPUTS * 10.0));
	printf("engine (policy_decide + policy_commit): %12.0f rcpt decisions/s"
	       " (%.0f ns each)\n", engine, 1e9 / engine);
	printf("baseline addr_parse + addr_resolve:     %12.0f addresses/s\n", parse);
	printf("baseline naive strcmp of the domain:    %12.0f addresses/s\n", naive);
	printf("engine / parse baseline: %.2f; engine / naive baseline: %.3f\n",
	       engine / parse, engine / naive);
	printf("target 1,000,000 decisions/s on one core: %s\n",
	       engine >= 1e6 ? "met" : "MISSED");
	printf("RESULT engine_per_s=%.0f\nRESULT parse_per_s=%.0f\n"
	       "RESULT naive_per_s=%.0f\nRESULT engine_vs_parse=%.2f\n"
	       "RESULT engine_vs_naive=%.3f\nRESULT target_1M=%s\n",
	       engine, parse, naive, engine / parse, engine / naive,
	       engine >= 1e6 ? "met" : "missed");

	bench_directory_close("bench-policy", tmpdir, cfg, dir);
	(void)sink;
	return 0;
}
