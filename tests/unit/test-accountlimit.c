/*
 * test-accountlimit - per-account relay limits: windows, tempfail from
 * the first recipient over, one alert per window, distinct domains and
 * client addresses, the override file, eviction, concurrent accounts
 */
#include <sys/socket.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "netlist.h"
#include "accountlimit.h"
#include "testlib.h"

static uint32_t fake_now = 100000;

static uint32_t
fake_clock(void *ctx)
{
	(void) ctx;
	return fake_now;
}

static struct accountlimit *
table(size_t entries)
{
	struct accountlimit *al = accountlimit_new(entries, 4);

	accountlimit_set_clock(al, fake_clock, NULL);
	return al;
}

static struct accountlimit_limits
limits(unsigned hour, unsigned day, unsigned domains, unsigned clients,
       enum al_action action)
{
	struct accountlimit_limits l;

	memset(&l, 0, sizeof(l));
	l.max[AL_HOUR] = hour;
	l.max[AL_DAY] = day;
	l.max[AL_DOMAINS] = domains;
	l.max[AL_CLIENTS] = clients;
	l.action = action;
	return l;
}

static struct rg_ip
ip(const char *text)
{
	struct rg_ip a;

	memset(&a, 0, sizeof(a));
	if (!rg_ip_parse(text, &a))
		exit(2);
	return a;
}

static void
test_hour_tempfail(void)
{
	struct accountlimit *al = table(64);
	struct accountlimit_limits l = limits(5, 0, 0, 0, AL_TEMPFAIL);
	struct rg_ip c = ip("192.0.2.1");
	struct al_result r;
	unsigned i, alerts = 0;

	test_begin("tempfail: refused from the first recipient over the hour");
	fake_now = 100000;
	for (i = 1; i <= 5; i++) {
		test_assert_int(accountlimit_rcpt(al, AL_AUTH, "joe", &c,
						  "remote.test", &l, &r), 0);
		test_assert_int(r.alert, 0);
	}
	test_assert_int(accountlimit_rcpt(al, AL_AUTH, "joe", &c, "remote.test",
					  &l, &r), 1);
	test_assert_int(r.alert, 1);
	test_assert_int(r.limit, AL_HOUR);
	test_assert_int(r.count, 6);
	test_assert_int(r.max, 5);
	test_assert_int(r.window, 3600);
	test_assert_int(r.action, AL_TEMPFAIL);
	for (i = 0; i < 20; i++) {
		test_assert_int(accountlimit_rcpt(al, AL_AUTH, "JOE", &c,
						  "remote.test", &l, &r), 1);
		alerts += (unsigned) r.alert;
	}
	test_assert_int(alerts, 0);		/* one alert per window */
	/* another account is untouched */
	test_assert_int(accountlimit_rcpt(al, AL_AUTH, "ann", &c, "remote.test",
					  &l, &r), 0);
	/* a trusted address of the same text is another account */
	test_assert_int(accountlimit_rcpt(al, AL_TRUSTED, "joe", NULL,
					  "remote.test", &l, &r), 0);
	/* still blocked just before the hour since the crossing */
	fake_now += 3599;
	test_assert_int(accountlimit_rcpt(al, AL_AUTH, "joe", &c, "remote.test",
					  &l, &r), 1);
	fake_now += 1;
	test_assert_int(accountlimit_rcpt(al, AL_AUTH, "joe", &c, "remote.test",
					  &l, &r), 0);
	al = accountlimit_free(al);
	test_assert(al == NULL);
	test_end();
}

static void
test_alert_mode(void)
{
	struct accountlimit *al = table(64);
	struct accountlimit_limits l = limits(0, 10, 0, 0, AL_ALERT);
	struct al_result r;
	unsigned i, alerts = 0, over = 0;

	test_begin("alert: accepted, one alert per window, again after it");
	fake_now = 200000;
	for (i = 1; i <= 30; i++) {
		over += (unsigned) accountlimit_rcpt(al, AL_TRUSTED, "10.0.0.5",
						     NULL, "remote.test", &l, &r);
		if (r.alert) {
			alerts++;
			test_assert_int(i, 11);
			test_assert_int(r.limit, AL_DAY);
			test_assert_int(r.count, 11);
			test_assert_int(r.window, 86400);
		}
		fake_now += 60;
	}
	test_assert_int(over, 0);
	test_assert_int(alerts, 1);
	/* a day later the window has moved on: under the limit again */
	fake_now += 86400;
	test_assert_int(accountlimit_rcpt(al, AL_TRUSTED, "10.0.0.5", NULL,
					  "remote.test", &l, &r), 0);
	test_assert_int(r.alert, 0);
	al = accountlimit_free(al);
	test_end();
}

static void
test_sliding_hour(void)
{
	struct accountlimit *al = table(64);
	struct accountlimit_limits l = limits(4, 0, 0, 0, AL_ALERT);
	struct al_result r;

	test_begin("the hour slides in five-minute steps");
	fake_now = 300000 - 300000 % 300;
	accountlimit_rcpt(al, AL_AUTH, "u", NULL, "r.test", &l, &r);
	accountlimit_rcpt(al, AL_AUTH, "u", NULL, "r.test", &l, &r);
	fake_now += 1800;
	accountlimit_rcpt(al, AL_AUTH, "u", NULL, "r.test", &l, &r);
	accountlimit_rcpt(al, AL_AUTH, "u", NULL, "r.test", &l, &r);
	test_assert_int(r.alert, 0);
	fake_now += 1800;		/* the first two aged out */
	accountlimit_rcpt(al, AL_AUTH, "u", NULL, "r.test", &l, &r);
	test_assert_int(r.alert, 0);
	accountlimit_rcpt(al, AL_AUTH, "u", NULL, "r.test", &l, &r);
	test_assert_int(r.alert, 0);
	accountlimit_rcpt(al, AL_AUTH, "u", NULL, "r.test", &l, &r);
	test_assert_int(r.alert, 1);
	test_assert_int(r.count, 5);
	al = accountlimit_free(al);
	test_end();
}

static void
test_distinct(void)
{
	struct accountlimit *al = table(64);
	struct accountlimit_limits l = limits(0, 0, 3, 2, AL_TEMPFAIL);
	struct rg_ip a = ip("192.0.2.1"), b = ip("198.51.100.2"),
	    c = ip("2001:db8::3");
	struct al_result r;

	test_begin("distinct remote domains (case-insensitive)");
	fake_now = 400000;
	test_assert_int(accountlimit_rcpt(al, AL_AUTH, "v", &a, "one.test", &l, &r), 0);
	test_assert_int(accountlimit_rcpt(al, AL_AUTH, "v", &a, "ONE.test", &l, &r), 0);
	test_assert_int(accountlimit_rcpt(al, AL_AUTH, "v", &a, "two.test", &l, &r), 0);
	test_assert_int(accountlimit_rcpt(al, AL_AUTH, "v", &a, "three.test", &l, &r), 0);
	test_assert_int(accountlimit_rcpt(al, AL_AUTH, "v", &a, "four.test", &l, &r), 1);
	test_assert_int(r.limit, AL_DOMAINS);
	test_assert_int(r.count, 4);
	test_assert_int(r.alert, 1);
	test_end();

	test_begin("distinct client addresses of an account");
	test_assert_int(accountlimit_rcpt(al, AL_AUTH, "w", &a, "x.test", &l, &r), 0);
	test_assert_int(accountlimit_rcpt(al, AL_AUTH, "w", &b, "x.test", &l, &r), 0);
	test_assert_int(accountlimit_rcpt(al, AL_AUTH, "w", &a, "x.test", &l, &r), 0);
	test_assert_int(accountlimit_rcpt(al, AL_AUTH, "w", &c, "x.test", &l, &r), 1);
	test_assert_int(r.limit, AL_CLIENTS);
	test_assert_int(r.count, 3);
	/* a trusted account has one address: clients are not counted */
	test_assert_int(accountlimit_rcpt(al, AL_TRUSTED, "x", &c, "x.test", &l, &r), 0);
	test_end();

	test_begin("the distinct sets start afresh after a day");
	fake_now += 86400 + 3700;
	test_assert_int(accountlimit_rcpt(al, AL_AUTH, "w", &c, "x.test", &l, &r), 0);
	test_assert_int(accountlimit_rcpt(al, AL_AUTH, "v", &a, "four.test", &l, &r), 0);
	al = accountlimit_free(al);
	test_end();
}

static void
test_eviction(void)
{
	struct accountlimit *al = accountlimit_new(4, 1);
	struct accountlimit_limits l = limits(2, 0, 0, 0, AL_TEMPFAIL);
	struct al_result r;
	char name[32];
	unsigned i;

	test_begin("a full table forgets the least recent account");
	accountlimit_set_clock(al, fake_clock, NULL);
	fake_now = 500000;
	for (i = 0; i < 3; i++)
		accountlimit_rcpt(al, AL_AUTH, "old", NULL, "r.test", &l, &r);
	test_assert_int(r.over, 1);
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "new%u", i);
		accountlimit_rcpt(al, AL_AUTH, name, NULL, "r.test", &l, &r);
	}
	/* "old" was evicted: it starts from nothing */
	test_assert_int(accountlimit_rcpt(al, AL_AUTH, "old", NULL, "r.test",
					  &l, &r), 0);
	test_assert(accountlimit_entry_bytes() < 1024);
	al = accountlimit_free(al);
	test_end();
}

static void
test_overrides(void)
{
	static const char good[] =
	    "# heavy senders\n"
	    "newsletter@example.org hour=5000 day=20000 domains=0\n"
	    "\n"
	    "CEO@example.org   action=tempfail   # strict\n"
	    "newsletter@example.org hour=7000\n";
	static const struct {
		const char *text, *error;
	} bad[] = {
		{"joe\n", "t:1: joe: no limits after the user name"},
		{"hour=5 joe\n", "t:1: a line starts with the user name, not "
		 "\"hour=5\""},
		{"# c\njoe hour=abc\n", "t:2: hour=abc: expected a whole number "
		 "(0: no limit)"},
		{"joe speed=3\n", "t:1: speed=3: unknown setting (hour, day, "
		 "domains, clients or action)"},
		{"joe action=block\n", "t:1: action=block: action: expected "
		 "alert or tempfail"},
		{"joe domains=64\n", "t:1: domains=64: number too large (hour, "
		 "day: 10000000; domains: 63; clients: 15)"},
		{"joe hour\n", "t:1: hour: expected name=value (hour=, day=, "
		 "domains=, clients= or action=)"},
	};
	struct accountlimit_limits def = limits(500, 2000, 50, 5, AL_ALERT);
	struct accountlimit_overrides *ov;
	const struct accountlimit_limits *l;
	char err[512];
	size_t i;

	test_begin("override file: limits per user over the defaults");
	ov = accountlimit_overrides_parse(good, strlen(good), "t", &def, err,
					  sizeof(err));
	test_assert(ov != NULL);
	l = accountlimit_overrides_find(ov, "Newsletter@Example.org");
	test_assert(l != NULL);
	if (l != NULL) {
		test_assert_int(l->max[AL_HOUR], 7000);	/* last line wins */
		test_assert_int(l->max[AL_DAY], 2000);
		test_assert_int(l->max[AL_DOMAINS], 50);
	}
	l = accountlimit_overrides_find(ov, "ceo@example.org");
	test_assert(l != NULL && l->action == AL_TEMPFAIL
		    && l->max[AL_HOUR] == 500);
	test_assert(accountlimit_overrides_find(ov, "joe@example.org") == NULL);
	ov = accountlimit_overrides_free(ov);
	test_end();

	test_begin("override file: errors name the line");
	for (i = 0; i < RG_ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		ov = accountlimit_overrides_parse(bad[i].text,
						  strlen(bad[i].text), "t",
						  &def, err, sizeof(err));
		test_assert(ov == NULL);
		test_assert_str(err, bad[i].error);
		ov = accountlimit_overrides_free(ov);
	}
	ov = accountlimit_overrides_load("/nonexistent/limits", &def, err,
					 sizeof(err));
	test_assert(ov == NULL);
	test_assert_str(err, "/nonexistent/limits: No such file or directory");
	test_end();
}

#define THREADS 8
#define PER_THREAD 500

static struct accountlimit *shared;
static unsigned accepted_total;

static void *
worker(void *arg)
{
	struct accountlimit_limits l = limits(1000, 0, 0, 0, AL_TEMPFAIL);
	struct al_result r;
	unsigned i, ok = 0;

	(void) arg;
	for (i = 0; i < PER_THREAD; i++)
		if (!accountlimit_rcpt(shared, AL_AUTH, "shared", NULL,
				       "r.test", &l, &r))
			ok++;
	__atomic_add_fetch(&accepted_total, ok, __ATOMIC_RELAXED);
	return NULL;
}

static void
test_threads(void)
{
	pthread_t tid[THREADS];
	unsigned i;

	test_begin("concurrent connections of one account never overshoot");
	shared = table(64);
	fake_now = 600000;
	for (i = 0; i < THREADS; i++)
		pthread_create(&tid[i], NULL, worker, NULL);
	for (i = 0; i < THREADS; i++)
		pthread_join(tid[i], NULL);
	test_assert_int(accepted_total, 1000);
	shared = accountlimit_free(shared);
	test_end();
}

int
main(void)
{
	test_hour_tempfail();
	test_alert_mode();
	test_sliding_hour();
	test_distinct();
	test_eviction();
	test_overrides();
	test_threads();
	return test_exit();
}
