/*
 * test-netlist - strict IP parsing, canonical formatting, CIDR matching
 *
 * The address literal validation and the trusted/never-relay network
 * checks rest on these: "127.1" must not be an address, and a client seen
 * as ::ffff:192.0.2.1 on a dual-stack socket must match "192.0.2.0/24".
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"
#include "netlist.h"
#include "testlib.h"

/* ip - parse or die trying (test helper) */
static struct rg_ip
ip(const char *text)
{
	struct rg_ip out;

	memset(&out, 0, sizeof(out));
	if (!rg_ip_parse(text, &out))
		fprintf(stderr, "test setup: cannot parse %s\n", text);
	return out;
}

/* test_parse_v4 - only the dotted quad of four decimal octets */
static void
test_parse_v4(void)
{
	static const char *good[] = {
		"0.0.0.0", "127.0.0.1", "192.0.2.1", "255.255.255.255",
	};
	static const char *bad[] = {
		"", "127.1", "127.0.1", "321.1.2.3", "256.0.0.1", "1.2.3.4.5",
		"01.2.3.4", "0x7f.0.0.1", "1.2.3.4 ", " 1.2.3.4", "1.2.3.",
		".1.2.3", "1..2.3", "1.2.3.-4", "+1.2.3.4", "a.b.c.d",
		"1.2.3.4/24", "2130706433", "1.2.3.4\n",
	};
	struct rg_ip a;
	size_t i;

	test_begin("netlist: IPv4 parsing is strict");
	for (i = 0; i < RG_ARRAY_LEN(good); i++) {
		test_assert_int(rg_ip_parse(good[i], &a), 1);
		test_assert_int(a.family, AF_INET);
	}
	for (i = 0; i < RG_ARRAY_LEN(bad); i++) {
		int r = rg_ip_parse(bad[i], &a);

		if (r != 0)
			fprintf(stderr, "accepted bad IPv4 \"%s\"\n", bad[i]);
		test_assert_int(r, 0);
	}
	test_assert_int(rg_ip_parse(NULL, &a), 0);
	test_end();
}

/* test_parse_v6 - RFC 4291 text, no zone index, no brackets */
static void
test_parse_v6(void)
{
	static const char *good[] = {
		"::", "::1", "2001:db8::1", "2001:DB8:0:0:0:0:0:1",
		"fe80::1:2:3:4", "::ffff:192.0.2.1", "1:2:3:4:5:6:7:8",
	};
	static const char *bad[] = {
		":", ":::", "2001:db8::1::2", "1:2:3:4:5:6:7:8:9", "12345::1",
		"fe80::1%eth0", "[::1]", "::1/128", "g::1", "::ffff:1.2.3",
		"::ffff:321.1.2.3", "2001:db8::1 ",
	};
	struct rg_ip a;
	size_t i;

	test_begin("netlist: IPv6 parsing is strict");
	for (i = 0; i < RG_ARRAY_LEN(good); i++) {
		test_assert_int(rg_ip_parse(good[i], &a), 1);
		test_assert_int(a.family, AF_INET6);
	}
	for (i = 0; i < RG_ARRAY_LEN(bad); i++) {
		int r = rg_ip_parse(bad[i], &a);

		if (r != 0)
			fprintf(stderr, "accepted bad IPv6 \"%s\"\n", bad[i]);
		test_assert_int(r, 0);
	}
	test_end();
}

/* test_format - canonical text, and formatting into a tiny buffer */
static void
test_format(void)
{
	struct rg_ip a;
	char buf[64], tiny[4];

	test_begin("netlist: canonical formatting");
	a = ip("2001:DB8:0:0:0:0:0:1");
	test_assert_str(rg_ip_format(&a, buf, sizeof(buf)), "2001:db8::1");
	a = ip("192.0.2.1");
	test_assert_str(rg_ip_format(&a, buf, sizeof(buf)), "192.0.2.1");
	a = ip("::ffff:192.0.2.1");
	test_assert_str(rg_ip_format(&a, buf, sizeof(buf)), "::ffff:192.0.2.1");
	a = ip("2001:db8::1");
	test_assert_str(rg_ip_format(&a, tiny, sizeof(tiny)), "?");
	test_end();
}

/* test_equal - IPv4-mapped IPv6 equals its IPv4 form */
static void
test_equal(void)
{
	struct rg_ip a = ip("192.0.2.1"), b = ip("::ffff:192.0.2.1");
	struct rg_ip c = ip("192.0.2.2"), d = ip("::192.0.2.1");
	struct rg_ip e = ip("2001:db8::1"), f = ip("2001:DB8::1");

	test_begin("netlist: address equality");
	test_assert(rg_ip_equal(&a, &a));
	test_assert(rg_ip_equal(&a, &b));
	test_assert(rg_ip_equal(&b, &a));
	test_assert(!rg_ip_equal(&a, &c));
	test_assert(!rg_ip_equal(&a, &d));	/* IPv4-compatible is not mapped */
	test_assert(rg_ip_equal(&e, &f));
	test_assert(!rg_ip_equal(&a, &e));
	test_end();
}

/* matches - netlist_match on a text address */
static int
matches(const struct netlist *list, const char *text)
{
	struct rg_ip a = ip(text);

	return netlist_match(list, &a);
}

/* test_match - prefixes /0, /32, /128, odd prefixes, mapped addresses */
static void
test_match(void)
{
	struct netlist list = {NULL, 0, 0};
	char err[256];

	test_begin("netlist: CIDR matching");
	test_assert(!matches(&list, "192.0.2.1"));	/* empty list */
	test_assert_int(netlist_add(&list, "192.0.2.0/24", err, sizeof(err)), 0);
	test_assert_int(netlist_add(&list, "198.51.100.7", err, sizeof(err)), 0);
	test_assert_int(netlist_add(&list, "203.0.113.0/25", err, sizeof(err)), 0);
	test_assert_int(netlist_add(&list, "10.0.0.0/9", err, sizeof(err)), 0);
	test_assert_int(netlist_add(&list, "2001:db8::/32", err, sizeof(err)), 0);
	test_assert_int(netlist_add(&list, "fe80::1/128", err, sizeof(err)), 0);
	test_assert_int(list.count, 6);

	test_assert(matches(&list, "192.0.2.0"));
	test_assert(matches(&list, "192.0.2.255"));
	test_assert(!matches(&list, "192.0.3.0"));
	test_assert(!matches(&list, "192.0.1.255"));
	test_assert(matches(&list, "198.51.100.7"));		/* /32 implied */
	test_assert(!matches(&list, "198.51.100.8"));
	test_assert(matches(&list, "203.0.113.127"));
	test_assert(!matches(&list, "203.0.113.128"));
	test_assert(matches(&list, "10.127.255.255"));		/* /9 */
	test_assert(!matches(&list, "10.128.0.0"));
	test_assert(matches(&list, "2001:db8:ffff::1"));
	test_assert(!matches(&list, "2001:db9::1"));
	test_assert(matches(&list, "fe80::1"));			/* /128 */
	test_assert(!matches(&list, "fe80::2"));

	/* A dual-stack socket reports IPv4 clients as mapped IPv6. */
	test_assert(matches(&list, "::ffff:192.0.2.77"));
	test_assert(matches(&list, "::ffff:198.51.100.7"));
	test_assert(!matches(&list, "::ffff:198.51.100.8"));
	test_assert(!matches(&list, "::192.0.2.77"));		/* not mapped */
	/* IPv4 entries never match unrelated IPv6 addresses. */
	test_assert(!matches(&list, "::"));
	netlist_free(&list);
	test_assert(list.items == NULL && list.count == 0 && list.cap == 0);
	test_assert(!matches(&list, "192.0.2.1"));
	test_end();

	test_begin("netlist: /0, host bits and mapped entries");
	test_assert_int(netlist_add(&list, "0.0.0.0/0", err, sizeof(err)), 0);
	test_assert(matches(&list, "1.2.3.4"));
	test_assert(matches(&list, "255.255.255.255"));
	test_assert(matches(&list, "::ffff:1.2.3.4"));
	test_assert(!matches(&list, "2001:db8::1"));
	netlist_free(&list);
	test_assert_int(netlist_add(&list, "::/0", err, sizeof(err)), 0);
	test_assert(matches(&list, "2001:db8::1"));
	test_assert(matches(&list, "::1"));
	test_assert(!matches(&list, "1.2.3.4"));
	netlist_free(&list);
	/* Host bits are cleared: 192.0.2.77/24 is 192.0.2.0/24. */
	test_assert_int(netlist_add(&list, "192.0.2.77/24", err, sizeof(err)), 0);
	test_assert(list.items[0].net.addr[3] == 0);
	test_assert(matches(&list, "192.0.2.1"));
	netlist_free(&list);
	/* A mapped entry covering the mapping matches IPv4 clients. */
	test_assert_int(netlist_add(&list, "::ffff:192.0.2.0/120", err, sizeof(err)), 0);
	test_assert_int(list.items[0].net.family, AF_INET);
	test_assert_int(list.items[0].prefix, 24);
	test_assert(matches(&list, "192.0.2.9"));
	test_assert(matches(&list, "::ffff:192.0.2.9"));
	test_assert(!matches(&list, "192.0.3.9"));
	netlist_free(&list);
	test_assert_int(netlist_add(&list, "127.0.0.1/32", err, sizeof(err)), 0);
	test_assert_int(netlist_add(&list, "::1/128", err, sizeof(err)), 0);
	test_assert(matches(&list, "127.0.0.1"));
	test_assert(!matches(&list, "127.0.0.2"));
	test_assert(matches(&list, "::1"));
	test_assert(!matches(&list, "::2"));
	netlist_free(&list);
	test_end();
}

/* test_bad_entries - every malformed entry is refused with a message */
static void
test_bad_entries(void)
{
	static const char *bad[] = {
		"", "/24", "192.0.2.0/", "192.0.2.0/33", "192.0.2.0/-1",
		"192.0.2.0/+8", "192.0.2.0/024", "192.0.2.0/8/8", "192.0.2.0/ 8",
		"192.0.2.0/1000", "127.1", "127.1/8", "321.1.2.3/8",
		"2001:db8::/129", "2001:db8::/1x", "2001:db8::zz/64",
		"localhost", "192.0.2.0 /24", "fe80::1%lo/128",
		"0000:0000:0000:0000:0000:0000:0000:0000:0000/64",
	};
	struct netlist list = {NULL, 0, 0};
	char err[256];
	size_t i;

	test_begin("netlist: bad entries are errors");
	for (i = 0; i < RG_ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		if (netlist_add(&list, bad[i], err, sizeof(err)) != -1)
			fprintf(stderr, "accepted bad entry \"%s\"\n", bad[i]);
		test_assert(err[0] != '\0');
	}
	test_assert_int(list.count, 0);
	test_assert_int(netlist_add(&list, "192.0.2.0/33", err, sizeof(err)), -1);
	test_assert(strstr(err, "prefix") != NULL);
	test_assert_int(netlist_add(&list, "127.1", err, sizeof(err)), -1);
	test_assert(strstr(err, "127.1") != NULL);
	/* A tiny error buffer is still terminated. */
	test_assert_int(netlist_add(&list, "nonsense", err, 8), -1);
	test_assert(strlen(err) < 8);
	netlist_free(&list);
	test_end();
}

/* test_many - the list grows past its first allocation */
static void
test_many(void)
{
	struct netlist list = {NULL, 0, 0};
	char text[32], err[128];
	int i, ok = 1;

	test_begin("netlist: growth");
	for (i = 0; i < 1000; i++) {
		snprintf(text, sizeof(text), "10.%d.%d.0/24", i / 256, i % 256);
		if (netlist_add(&list, text, err, sizeof(err)) != 0)
			ok = 0;
	}
	test_assert(ok);
	test_assert_int(list.count, 1000);
	test_assert(matches(&list, "10.3.231.5"));		/* i = 999 */
	test_assert(!matches(&list, "10.3.232.5"));
	netlist_free(&list);
	test_end();
}

int
main(void)
{
	test_parse_v4();
	test_parse_v6();
	test_format();
	test_equal();
	test_match();
	test_bad_entries();
	test_many();
	return test_exit();
}
