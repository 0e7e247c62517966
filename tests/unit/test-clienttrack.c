/*
 * test-clienttrack - sliding windows, penalties, network aggregation,
 * LRU eviction, thread safety and no allocation once created
 */
#include <sys/socket.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "netlist.h"
#include "clienttrack.h"
#include "testlib.h"
#include "alloc_count.h"	/* linked with --wrap=malloc,calloc,realloc */

static uint32_t fake_now = 1000;

static uint32_t
fake_clock(void *ctx)
{
	(void) ctx;
	return fake_now;
}

static struct rg_ip
ip(const char *text)
{
	struct rg_ip a;

	memset(&a, 0, sizeof(a));
	if (!rg_ip_parse(text, &a)) {
		fprintf(stderr, "bad test address %s\n", text);
		exit(2);
	}
	return a;
}

static struct clienttrack *
tracker(size_t entries, unsigned stripes, unsigned unknown_limit)
{
	struct clienttrack *ct = clienttrack_new(entries, stripes);
	struct clienttrack_limits lim;

	memset(&lim, 0, sizeof(lim));
	lim.limit[CT_UNKNOWN] = unknown_limit;
	lim.limit[CT_RELAY] = 3;
	lim.window = 800;		/* buckets of 100 s */
	lim.penalty = 300;
	clienttrack_set_clock(ct, fake_clock, NULL);
	clienttrack_configure(ct, &lim);
	return ct;
}

static void
test_window(void)
{
	struct clienttrack *ct = tracker(64, 4, 100);
	struct rg_ip a = ip("192.0.2.10");
	unsigned i;

	test_begin("events age out of the window");
	fake_now = 1000;
	for (i = 0; i < 5; i++)
		clienttrack_note(ct, &a, CT_UNKNOWN);
	test_assert_int(clienttrack_count(ct, &a, 0, CT_UNKNOWN), 5);
	test_assert_int(clienttrack_count(ct, &a, 0, CT_RELAY), 0);
	fake_now = 1450;
	clienttrack_note(ct, &a, CT_UNKNOWN);
	test_assert_int(clienttrack_count(ct, &a, 0, CT_UNKNOWN), 6);
	fake_now = 1000 + 800 + 100;	/* first five aged out */
	test_assert_int(clienttrack_count(ct, &a, 0, CT_UNKNOWN), 1);
	fake_now = 1450 + 900;
	test_assert_int(clienttrack_count(ct, &a, 0, CT_UNKNOWN), 0);
	fake_now = 1000000;		/* long idle: everything cleared */
	test_assert_int(clienttrack_count(ct, &a, 1, CT_UNKNOWN), 0);
	ct = clienttrack_free(ct);
	test_assert(ct == NULL);
	test_end();
}

static void
test_penalty(void)
{
	struct clienttrack *ct = tracker(64, 4, 100);
	struct rg_ip a = ip("192.0.2.10");
	int first = -1;

	test_begin("one more than the limit starts a penalty, reported once");
	fake_now = 5000;
	test_assert_int(clienttrack_note(ct, &a, CT_RELAY), 0);
	test_assert_int(clienttrack_note(ct, &a, CT_RELAY), 0);
	test_assert_int(clienttrack_note(ct, &a, CT_RELAY), 0);
	test_assert_int(clienttrack_penalty(ct, &a, &first), 0);
	test_assert_int(first, 0);
	test_assert_int(clienttrack_note(ct, &a, CT_RELAY), 1);
	fake_now = 5010;
	test_assert_int(clienttrack_penalty(ct, &a, &first), 290);
	test_assert_int(first, 1);
	test_assert_int(clienttrack_penalty(ct, &a, &first), 290);
	test_assert_int(first, 0);
	/* still over the limit: counting more does not restart it */
	test_assert_int(clienttrack_note(ct, &a, CT_RELAY), 0);
	fake_now = 5300;
	test_assert_int(clienttrack_penalty(ct, &a, &first), 0);
	/* over the limit again after it ends: a new penalty, reported anew */
	test_assert_int(clienttrack_note(ct, &a, CT_RELAY), 1);
	test_assert(clienttrack_penalty(ct, &a, &first) > 0);
	test_assert_int(first, 1);
	ct = clienttrack_free(ct);
	test_end();

	test_begin("a limit of 0 counts but never penalises");
	ct = tracker(64, 4, 0);
	fake_now = 9000;
	for (unsigned i = 0; i < 1000; i++)
		test_assert_int(clienttrack_note(ct, &a, CT_UNKNOWN), 0);
	test_assert_int(clienttrack_penalty(ct, &a, NULL), 0);
	test_assert_int(clienttrack_count(ct, &a, 0, CT_UNKNOWN), 1000);
	ct = clienttrack_free(ct);
	test_end();
}

static void
test_networks(void)
{
	struct clienttrack *ct = tracker(256, 4, 10);
	struct rg_ip other = ip("192.0.3.1");
	struct rg_ip host, v6host, v6other = ip("2001:db8:0:2::1");
	struct rg_ip mapped = ip("::ffff:198.51.100.7");
	struct rg_ip v4 = ip("198.51.100.7");
	char text[64];
	unsigned i;
	int first;

	test_begin("a /24 counts its addresses together");
	fake_now = 20000;
	for (i = 1; i <= 10; i++) {
		snprintf(text, sizeof(text), "192.0.2.%u", i);
		host = ip(text);
		test_assert_int(clienttrack_note(ct, &host, CT_UNKNOWN), 0);
		test_assert_int(clienttrack_count(ct, &host, 0, CT_UNKNOWN), 1);
	}
	test_assert_int(clienttrack_count(ct, &host, 1, CT_UNKNOWN), 10);
	host = ip("192.0.2.200");
	test_assert_int(clienttrack_note(ct, &host, CT_UNKNOWN), 1);
	/* an address of the network that never misbehaved shares the penalty */
	host = ip("192.0.2.77");
	test_assert(clienttrack_penalty(ct, &host, &first) > 0);
	test_assert_int(first, 1);
	test_assert_int(clienttrack_penalty(ct, &other, &first), 0);
	test_assert_int(clienttrack_count(ct, &other, 1, CT_UNKNOWN), 0);
	test_end();

	test_begin("a /64 counts its addresses together");
	for (i = 1; i <= 11; i++) {
		snprintf(text, sizeof(text), "2001:db8:0:1:%x::%x", i * 7, i);
		v6host = ip(text);
		clienttrack_note(ct, &v6host, CT_UNKNOWN);
	}
	v6host = ip("2001:db8:0:1:ffff::1");
	test_assert_int(clienttrack_count(ct, &v6host, 1, CT_UNKNOWN), 11);
	test_assert(clienttrack_penalty(ct, &v6host, NULL) > 0);
	test_assert_int(clienttrack_penalty(ct, &v6other, NULL), 0);
	test_end();

	test_begin("an IPv4-mapped IPv6 address is its IPv4 form");
	clienttrack_note(ct, &mapped, CT_SYNTAX);
	clienttrack_note(ct, &v4, CT_SYNTAX);
	test_assert_int(clienttrack_count(ct, &v4, 0, CT_SYNTAX), 2);
	test_assert_int(clienttrack_count(ct, &mapped, 1, CT_SYNTAX), 2);
	test_end();
	ct = clienttrack_free(ct);
}

static void
test_eviction(void)
{
	/* one stripe of 8 entries: 4 clients in 4 networks fill it */
	struct clienttrack *ct = tracker(8, 1, 1000);
	struct clienttrack_stats st;
	struct rg_ip c[6];
	char text[64];
	unsigned i;

	test_begin("a full table evicts the least recently used");
	fake_now = 30000;
	for (i = 0; i < 6; i++) {
		snprintf(text, sizeof(text), "10.0.%u.1", i);
		c[i] = ip(text);
	}
	for (i = 0; i < 4; i++)
		clienttrack_note(ct, &c[i], CT_UNKNOWN);
	clienttrack_get_stats(ct, &st);
	test_assert_int(st.used, 8);
	test_assert_int(st.capacity, 8);
	test_assert_int(st.evictions, 0);
	/* touch client 0 so that client 1 is the oldest */
	clienttrack_note(ct, &c[0], CT_UNKNOWN);
	clienttrack_note(ct, &c[4], CT_UNKNOWN);
	clienttrack_get_stats(ct, &st);
	test_assert_int(st.used, 8);
	test_assert_int(st.evictions, 2);
	test_assert_int(clienttrack_count(ct, &c[0], 0, CT_UNKNOWN), 2);
	test_assert_int(clienttrack_count(ct, &c[1], 0, CT_UNKNOWN), 0);
	test_assert_int(clienttrack_count(ct, &c[1], 1, CT_UNKNOWN), 0);
	test_assert_int(clienttrack_count(ct, &c[2], 0, CT_UNKNOWN), 1);
	test_assert_int(clienttrack_count(ct, &c[4], 0, CT_UNKNOWN), 1);
	/* asking about an unknown client never inserts nor evicts */
	test_assert_int(clienttrack_penalty(ct, &c[5], NULL), 0);
	clienttrack_get_stats(ct, &st);
	test_assert_int(st.evictions, 2);
	test_end();

	test_begin("heavy churn keeps the table within its size");
	for (i = 0; i < 100000; i++) {
		struct rg_ip a;

		memset(&a, 0, sizeof(a));
		a.family = AF_INET;
		a.addr[0] = 10;
		a.addr[1] = (unsigned char) (i >> 16);
		a.addr[2] = (unsigned char) (i >> 8);
		a.addr[3] = (unsigned char) i;
		clienttrack_note(ct, &a, CT_RELAY);
	}
	clienttrack_get_stats(ct, &st);
	test_assert_int(st.used, 8);
	test_assert(st.evictions > 100000);
	test_end();
	ct = clienttrack_free(ct);
}

static void
test_no_allocation(void)
{
	struct clienttrack *ct = tracker(1024, 16, 5);
	struct rg_ip a;
	unsigned long before;
	unsigned i;
	int first;

	test_begin("no allocation once the table exists");
	before = allocations;
	for (i = 0; i < 50000; i++) {
		memset(&a, 0, sizeof(a));
		a.family = AF_INET;
		a.addr[0] = 172;
		a.addr[2] = (unsigned char) (i >> 8);
		a.addr[3] = (unsigned char) i;
		clienttrack_note(ct, &a, (enum ct_event) (i % CT_EVENT_COUNT));
		(void) clienttrack_penalty(ct, &a, &first);
	}
	test_assert_int(allocations - before, 0);
	before = allocations;
	free(xmalloc(1));
	test_assert_int(allocations - before, 1);	/* the counter counts */
	ct = clienttrack_free(ct);
	test_end();
}

#define THREADS 8
#define PER_THREAD 20000

struct worker {
	struct clienttrack *ct;
	unsigned id;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct rg_ip a;
	unsigned i;

	for (i = 0; i < PER_THREAD; i++) {
		memset(&a, 0, sizeof(a));
		a.family = AF_INET;
		a.addr[0] = 10;
		a.addr[1] = 9;
		a.addr[2] = (unsigned char) (i % 16);	/* 16 networks */
		a.addr[3] = (unsigned char) (i % 32);	/* 32 hosts each */
		clienttrack_note(w->ct, &a, CT_UNKNOWN);
		(void) clienttrack_penalty(w->ct, &a, NULL);
	}
	return NULL;
}

static void
test_threads(void)
{
	struct clienttrack *ct = tracker(4096, 8, 0);
	struct worker w[THREADS];
	pthread_t tid[THREADS];
	struct rg_ip a;
	unsigned i, net, total = 0;

	test_begin("concurrent workers lose no count");
	for (i = 0; i < THREADS; i++) {
		w[i].ct = ct;
		w[i].id = i;
		pthread_create(&tid[i], NULL, worker_run, &w[i]);
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(tid[i], NULL);
	for (net = 0; net < 16; net++) {
		memset(&a, 0, sizeof(a));
		a.family = AF_INET;
		a.addr[0] = 10;
		a.addr[1] = 9;
		a.addr[2] = (unsigned char) net;
		total += clienttrack_count(ct, &a, 1, CT_UNKNOWN);
	}
	test_assert_int(total, THREADS * PER_THREAD);
	ct = clienttrack_free(ct);
	test_end();
}

int
main(void)
{
	test_window();
	test_penalty();
	test_networks();
	test_eviction();
	test_no_allocation();
	test_threads();
	return test_exit();
}
