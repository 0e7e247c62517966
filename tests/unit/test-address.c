/*
 * test-address - addr_parse() and addr_resolve() against a golden corpus
 *
 * The corpus (tests/corpus/address.golden, format described at its top)
 * holds one case per line: flags, input, expected status, kind, final
 * destination, tricks and an optional trace or error substring.  The C
 * tests below cover what a table cannot say well: the fields of the
 * struct (parameters, route hops, literals), trace overflow, the step
 * limit, formatting into small buffers, and hostile input (64 KiB
 * strings, 10,000 percent signs, 1,000-hop routes, NULs, random bytes)
 * that must yield a syntax verdict quickly and never touch memory it
 * should not (run under valgrind or the sanitizers).
 *
 * Usage: test-address [GOLDEN-FILE]
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "util.h"
#include "address.h"
#include "testlib.h"

#ifndef ADDRESS_GOLDEN
#define ADDRESS_GOLDEN "tests/corpus/address.golden"
#endif

#define FINAL_MAX (2 * ADDR_PATH_MAX + ADDR_DOMAIN_MAX + 8)

/* is_local_test - the corpus's local destinations (see the golden file) */
static int
is_local_test(const struct addr_domain *d, void *ctx)
{
	struct rg_ip own;

	(void)ctx;
	switch (d->type) {
	case ADDR_DOM_NONE:
		return 1;
	case ADDR_DOM_NAME:
		return strcmp(d->name, "example.org") == 0
		    || strcmp(d->name, "mx.example.org") == 0;
	case ADDR_DOM_LITERAL:
		return rg_ip_parse("192.0.2.25", &own) && rg_ip_equal(&own, &d->ip);
	}
	return 0;
}

/* is_local_all - every destination is ours (drives long unwrapping) */
static int
is_local_all(const struct addr_domain *d, void *ctx)
{
	(void)d;
	(void)ctx;
	return 1;
}

/* run - parse and resolve with the corpus predicate */
static enum addr_status
run(const char *text, size_t len, int flags, struct address *a)
{
	if (addr_parse(text, len, flags, a) != ADDR_OK)
		return a->status;
	return addr_resolve(a, is_local_test, NULL);
}

/* run_str - run() on a C string */
static enum addr_status
run_str(const char *text, int flags, struct address *a)
{
	return run(text, strlen(text), flags, a);
}

/* expand_repeats - {repeat:TEXT:N} into a new string (NULL on bad syntax) */
static char *
expand_repeats(const char *s)
{
	size_t cap = strlen(s) + 1, len = 0;
	char *out = xmalloc(cap);

	while (*s) {
		const char *close, *colon, *p;
		long n;

		if (strncmp(s, "{repeat:", 8) != 0) {
			out[len++] = *s++;
			continue;
		}
		if ((close = strchr(s + 8, '}')) == NULL)
			goto bad;
		for (colon = NULL, p = s + 8; p < close; p++)
			if (*p == ':')
				colon = p;
		if (colon == NULL || colon == s + 8)
			goto bad;
		n = strtol(colon + 1, NULL, 10);
		if (n < 0 || n > 1000000)
			goto bad;
		cap += (size_t)n * (size_t)(colon - (s + 8));
		out = xrealloc(out, cap);
		while (n-- > 0) {
			memcpy(out + len, s + 8, (size_t)(colon - (s + 8)));
			len += (size_t)(colon - (s + 8));
		}
		s = close + 1;
	}
	out[len] = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

/* unescape - \xNN and \t in place; returns the byte length */
static size_t
unescape(char *s)
{
	size_t i = 0, o = 0;

	while (s[i]) {
		if (s[i] == '\\' && s[i + 1] == 'x' && rg_hex_digit(s[i + 2]) >= 0
		    && rg_hex_digit(s[i + 3]) >= 0) {
			s[o++] = (char)(rg_hex_digit(s[i + 2]) * 16 + rg_hex_digit(s[i + 3]));
			i += 4;
		} else if (s[i] == '\\' && s[i + 1] == 't') {
			s[o++] = '\t';
			i += 2;
		} else {
			s[o++] = s[i++];
		}
	}
	s[o] = '\0';
	return o;
}

/* decode_field - expand and unescape one corpus field (caller frees) */
static char *
decode_field(const char *field, size_t *len)
{
	char *s = expand_repeats(field);

	if (s != NULL)
		*len = unescape(s);
	return s;
}

/* status_name - corpus spelling of a status */
static const char *
status_name(enum addr_status st)
{
	switch (st) {
	case ADDR_OK:
		return "ok";
	case ADDR_SYNTAX:
		return "syntax";
	case ADDR_8BIT:
		return "8bit";
	}
	return "?";
}

/* trace_has - some trace line contains needle */
static int
trace_has(const struct address *a, const char *needle)
{
	unsigned i;

	for (i = 0; i < a->ntrace; i++)
		if (strstr(a->trace[i], needle) != NULL)
			return 1;
	return 0;
}

/* check_case - run one corpus line; 1 when it matches */
static int
check_case(const char *file, int lineno, char **f, int nf)
{
	static struct address a;
	char final[FINAL_MAX], tricks[128], name[64];
	char *input, *want_final = NULL;
	size_t len, flen;
	int flags = 0;
	const char *p;
	enum addr_status st;

	snprintf(name, sizeof(name), "%s:%d", file, lineno);
	test_begin(name);
	for (p = f[0]; *p; p++) {
		if (*p == 's')
			flags |= ADDR_F_SENDER;
		else if (*p == 'u')
			flags |= ADDR_F_SMTPUTF8;
		else if (*p != '-')
			test_fail_(__FILE__, __LINE__, "bad flags field");
	}
	if ((input = decode_field(f[1], &len)) == NULL) {
		test_fail_(__FILE__, __LINE__, "bad {repeat:} in input");
		test_end();
		return 0;
	}
	st = run(input, len, flags, &a);
	test_assert_str(status_name(st), f[2]);
	if (strcmp(f[3], "-") != 0)
		test_assert_str(addr_kind_name(a.kind), f[3]);
	if (strcmp(f[4], "-") != 0) {
		want_final = decode_field(f[4], &flen);
		if (want_final == NULL)
			test_fail_(__FILE__, __LINE__, "bad final field");
		else if (st != ADDR_OK)
			test_fail_(__FILE__, __LINE__, "final given for a failed case");
		else
			test_assert_str(addr_format_final(&a, final, sizeof(final)),
					strcmp(want_final, "(empty)") == 0 ? "" : want_final);
	}
	if (strcmp(f[5], "-") != 0)
		test_assert_str(addr_trick_names(a.tricks, tricks, sizeof(tricks)),
				f[5]);
	if (nf > 6) {
		if (st == ADDR_OK) {
			if (!trace_has(&a, f[6]))
				test_fail_(__FILE__, __LINE__, f[6]);
		} else if (a.error == NULL || strstr(a.error, f[6]) == NULL) {
			char m[256];

			snprintf(m, sizeof(m), "error \"%s\" lacks \"%s\"",
				 a.error ? a.error : "(null)", f[6]);
			test_fail_(__FILE__, __LINE__, m);
		}
	}
	if (st != ADDR_OK && a.error == NULL)
		test_fail_(__FILE__, __LINE__, "failure without an error string");
	if (test_failed_now_) {
		unsigned i;

		fprintf(stderr, "  input: %.200s\n  error: %s\n", f[1],
			a.error ? a.error : "(none)");
		for (i = 0; i < a.ntrace; i++)
			fprintf(stderr, "  trace: %s\n", a.trace[i]);
	}
	free(want_final);
	free(input);
	test_end();
	return !test_failed_now_;
}

/* test_golden - every case of the corpus; returns the case count */
static int
test_golden(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL, *f[8], *p;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0, cases = 0, nf;

	if (fp == NULL) {
		test_begin("golden corpus readable");
		test_fail_(__FILE__, __LINE__, path);
		test_end();
		return 0;
	}
	while ((n = getline(&line, &cap, fp)) != -1) {
		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		for (nf = 0, p = line; nf < 8; nf++) {
			f[nf] = p;
			if ((p = strchr(p, '\t')) == NULL) {
				nf++;
				break;
			}
			*p++ = '\0';
		}
		if (nf < 6 || nf > 7) {
			test_begin("golden corpus line format");
			test_fail_(__FILE__, lineno, "expected 6 or 7 TAB-separated fields");
			test_end();
			continue;
		}
		check_case("address.golden", lineno, f, nf);
		cases++;
	}
	free(line);
	fclose(fp);
	return cases;
}

/* test_fields - what the struct says beyond the corpus columns */
static void
test_fields(void)
{
	static struct address a;
	const char *t;

	test_begin("address: ESMTP parameters");
	t = "<u@example.org> SIZE=100 smtputf8";
	test_assert_int(run_str(t, 0, &a), ADDR_OK);
	test_assert(a.params == t + 16);
	test_assert_int(a.params_len, strlen("SIZE=100 smtputf8"));
	test_assert_int(a.param_smtputf8, 1);
	test_assert_int(run_str("<u@example.org>", 0, &a), ADDR_OK);
	test_assert(a.params == NULL && a.params_len == 0 && !a.param_smtputf8);
	test_assert_int(run_str("<u@example.org>   ", 0, &a), ADDR_OK);
	test_assert(a.params == NULL);
	test_assert_int(run_str("u@example.org BODY=7BIT SMTPUTF8=yes", 0, &a),
			ADDR_OK);
	test_assert_int(a.param_smtputf8, 1);
	test_assert_int(run_str("<u@example.org> BODY=SMTPUTF8", 0, &a), ADDR_OK);
	test_assert_int(a.param_smtputf8, 0);
	test_end();

	test_begin("address: parsed parts");
	test_assert_int(run_str("<\"Al\\ice\"@Example.ORG.>", 0, &a), ADDR_OK);
	test_assert_str(a.local, "Alice");
	test_assert_int(a.quoted, 1);
	test_assert_int(a.domain.type, ADDR_DOM_NAME);
	test_assert_str(a.domain.name, "example.org");
	test_assert_int(a.eightbit, 0);
	test_assert_int(a.route_hops, 0);
	test_assert_int(a.steps, 0);
	test_assert_int(a.ntrace, 0);
	test_assert_str(a.final_local, "Alice");
	test_assert_str(a.final_domain.name, "example.org");

	test_assert_int(run_str("<@a.example,@[192.0.2.1],@c.example:u@example.org>",
				0, &a), ADDR_OK);
	test_assert_int(a.route_hops, 3);
	test_assert(a.tricks == ADDR_TRICK_ROUTE);
	test_assert(!(a.tricks & ADDR_TRICK_ROUTING));
	test_assert(trace_has(&a, "ignored"));

	test_assert_int(run_str("<u@[IPv6:2001:DB8::25]>", 0, &a), ADDR_OK);
	test_assert_int(a.domain.type, ADDR_DOM_LITERAL);
	test_assert_int(a.domain.ip.family, AF_INET6);
	test_assert_str(a.domain.name, "[ipv6:2001:db8::25]");
	test_assert_int(run_str("<u@[192.0.2.25]>", 0, &a), ADDR_OK);
	test_assert_int(a.domain.ip.family, AF_INET);
	test_assert_int(a.final_domain.type, ADDR_DOM_LITERAL);
	test_assert_int(a.domain.ip.addr[3], 25);

	test_assert_int(run_str("<u@127.0.0.1>", 0, &a), ADDR_OK);
	test_assert_int(a.domain.type, ADDR_DOM_NAME);

	test_assert_int(run_str("<u%r.example.net%example.org@example.org>", 0, &a),
			ADDR_OK);
	test_assert_int(a.steps, 2);
	test_assert_int(a.ntrace, 2);
	test_assert_str(a.local, "u%r.example.net%example.org");
	test_assert_str(a.final_local, "u");
	test_assert_str(a.final_domain.name, "r.example.net");
	test_assert(a.tricks & ADDR_TRICK_ROUTING);

	test_assert_int(run_str("<\xc3\xbc@example.org>", ADDR_F_SMTPUTF8, &a),
			ADDR_OK);
	test_assert_int(a.eightbit, 1);
	test_assert_int(run_str("<\xc3\xbc@example.org>", 0, &a), ADDR_8BIT);
	test_assert(a.error != NULL);
	test_end();

	test_begin("address: resolve without a predicate and on failures");
	test_assert_int(addr_parse("<u%r.example.net@example.org>", 29, 0, &a),
			ADDR_OK);
	test_assert_int(addr_resolve(&a, NULL, NULL), ADDR_OK);
	test_assert_str(a.final_local, "u%r.example.net");
	test_assert_int(addr_parse("<u@[127.1]>", 11, 0, &a), ADDR_SYNTAX);
	test_assert_int(addr_resolve(&a, is_local_all, NULL), ADDR_SYNTAX);
	test_assert_int(addr_parse(NULL, 0, ADDR_F_SENDER, &a), ADDR_SYNTAX);
	test_assert(a.error != NULL);
	test_assert_int(addr_parse("<>", 2, ADDR_F_SENDER, &a), ADDR_OK);
	test_assert_int(addr_resolve(&a, is_local_all, NULL), ADDR_OK);
	test_assert_int(a.final_domain.type, ADDR_DOM_NONE);
	test_end();
}

/* test_steps - ADDR_STEPS_MAX unwrapping steps and no more */
static void
test_steps(void)
{
	static struct address a;
	char text[ADDR_PATH_MAX + 1];
	size_t i;

	test_begin("address: step limit");
	/* u%a%a...%a@b: every domain is local, one step per '%'. */
	strcpy(text, "<u");
	for (i = 0; i < ADDR_STEPS_MAX; i++)
		strcat(text, "%a");
	strcat(text, "@b>");
	test_assert_int(addr_parse(text, strlen(text), 0, &a), ADDR_OK);
	test_assert_int(addr_resolve(&a, is_local_all, NULL), ADDR_OK);
	test_assert_int(a.steps, ADDR_STEPS_MAX);
	test_assert_str(a.final_local, "u");
	test_assert_str(a.final_domain.name, "a");
	test_assert_int(a.ntrace, ADDR_STEPS_MAX);

	strcpy(text, "<u");
	for (i = 0; i < ADDR_STEPS_MAX + 1; i++)
		strcat(text, "%a");
	strcat(text, "@b>");
	test_assert_int(addr_parse(text, strlen(text), 0, &a), ADDR_OK);
	test_assert_int(addr_resolve(&a, is_local_all, NULL), ADDR_SYNTAX);
	test_assert(a.error != NULL && strstr(a.error, "too many routing steps"));
	test_assert_int(a.steps, ADDR_STEPS_MAX);

	/* Bang paths unwrap left to right under the same limit. */
	strcpy(text, "<");
	for (i = 0; i < ADDR_STEPS_MAX + 1; i++)
		strcat(text, "a!");
	strcat(text, "u>");
	test_assert_int(addr_parse(text, strlen(text), 0, &a), ADDR_OK);
	test_assert_int(addr_resolve(&a, is_local_all, NULL), ADDR_SYNTAX);
	test_end();

	test_begin("address: trace overflow keeps the last line");
	/* A route line, a look-alike line and 16 percent steps: 18 lines. */
	strcpy(text, "<@r:u");
	for (i = 0; i < ADDR_STEPS_MAX - 1; i++)
		strcat(text, "%a");
	strcat(text, "\xef\xbc\x85z@b>");
	test_assert_int(addr_parse(text, strlen(text), ADDR_F_SMTPUTF8, &a),
			ADDR_OK);
	test_assert_int(addr_resolve(&a, is_local_all, NULL), ADDR_OK);
	test_assert_int(a.ntrace, ADDR_TRACE_MAX);
	test_assert(strstr(a.trace[0], "source route") != NULL);
	test_assert(strstr(a.trace[1], "U+FF05") != NULL);
	/* the newest line: what the MTA delivers, the look-alike unfolded */
	test_assert(strstr(a.trace[ADDR_TRACE_MAX - 1], "the MTA delivers") != NULL);
	for (i = 0; i < ADDR_TRACE_MAX; i++)
		test_assert(strlen(a.trace[i]) < ADDR_TRACE_LEN);
	test_end();
}

/* test_trace_truncation - long lines are cut, never mid-character */
static void
test_trace_truncation(void)
{
	static struct address a;
	char text[ADDR_PATH_MAX + 8];
	size_t i, n;

	test_begin("address: long trace lines");
	/* 64-byte local part of 3-byte characters around a '%'. */
	strcpy(text, "<");
	for (i = 0; i < 10; i++)
		strcat(text, "\xe7\x94\xa8");
	strcat(text, "%");
	for (i = 0; i < 10; i++)
		strcat(text, "\xe7\x94\xa8");
	strcat(text, "@");
	for (i = 0; i < 3; i++)
		strcat(text, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.");
	strcat(text, "org>");
	test_assert_int(addr_parse(text, strlen(text), ADDR_F_SMTPUTF8, &a), ADDR_OK);
	test_assert_int(addr_resolve(&a, is_local_all, NULL), ADDR_OK);
	test_assert_int(a.ntrace, 1);
	n = strlen(a.trace[0]);
	test_assert(n < ADDR_TRACE_LEN);
	test_assert(n >= ADDR_TRACE_LEN - 4);
	/* The line must still be valid UTF-8: no dangling lead byte. */
	for (i = n; i > 0 && ((unsigned char)a.trace[0][i - 1] & 0xc0) == 0x80; i--)
		continue;
	if (i > 0 && (unsigned char)a.trace[0][i - 1] >= 0xc0)
		test_assert(n - (i - 1) == 3);
	test_end();
}

/* test_format - quoting and small buffers */
static void
test_format(void)
{
	static struct address a;
	char buf[FINAL_MAX], tiny[8], names[16];

	test_begin("address: addr_format_final");
	test_assert_int(run_str("<\"a\\\"b\\\\c d\"@example.org>", 0, &a), ADDR_OK);
	test_assert_str(a.local, "a\"b\\c d");
	test_assert_str(addr_format_final(&a, buf, sizeof(buf)),
			"\"a\\\"b\\\\c d\"@example.org");
	test_assert(addr_format_final(&a, tiny, sizeof(tiny)) == NULL);
	test_assert(addr_format_final(&a, tiny, 0) == NULL);
	test_assert_int(run_str("<u@example.org>", 0, &a), ADDR_OK);
	test_assert(addr_format_final(&a, tiny, sizeof(tiny)) == NULL);
	test_assert(addr_format_final(&a, buf, 13) == NULL);
	test_assert_str(addr_format_final(&a, buf, 14), "u@example.org");
	test_end();

	test_begin("address: names");
	test_assert_str(addr_kind_name(ADDR_MAILBOX), "mailbox");
	test_assert_str(addr_kind_name(ADDR_NULL), "null");
	test_assert_str(addr_kind_name(ADDR_POSTMASTER), "postmaster");
	test_assert_str(addr_kind_name(ADDR_UNQUALIFIED), "unqualified");
	test_assert_str(addr_trick_names(0, buf, sizeof(buf)), "none");
	test_assert_str(addr_trick_names(0xff, buf, sizeof(buf)),
			"percent,bang,extra_at,quoted,escaped,imcea,lookalike,route");
	test_assert_str(addr_trick_names(ADDR_TRICK_ROUTING, buf, sizeof(buf)),
			"percent,bang,extra_at,quoted,escaped,imcea,lookalike");
	/* Truncated lists stop at a whole name. */
	test_assert_str(addr_trick_names(0xff, names, sizeof(names)),
			"percent,bang");
	test_end();
}

/* elapsed_ms - wall time since start */
static double
elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3
	    + (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

/* hostile_one - parse+resolve len bytes, expecting status want */
static void
hostile_one(const char *what, const char *buf, size_t len, int flags,
	    enum addr_status want)
{
	static struct address a;
	enum addr_status st;

	if (addr_parse(buf, len, flags, &a) == ADDR_OK)
		addr_resolve(&a, is_local_all, NULL);
	st = a.status;
	if (st != want)
		fprintf(stderr, "  %s: status %d (%s), want %d\n", what, st,
			a.error ? a.error : "", want);
	test_assert_int(st, want);
	test_assert(st == ADDR_OK || a.error != NULL);
}

/* test_hostile - huge, deep and broken inputs: syntax, quickly */
static void
test_hostile(void)
{
	const size_t big = 64 * 1024;
	char *buf = xmalloc(big + 16);
	struct timespec start;
	double ms;
	size_t i;

	test_begin("address: hostile input");
	clock_gettime(CLOCK_MONOTONIC, &start);

	memset(buf, 'a', big);
	hostile_one("64 KiB atom", buf, big, 0, ADDR_SYNTAX);
	buf[0] = '<';
	buf[big - 1] = '>';
	hostile_one("64 KiB bracketed", buf, big, 0, ADDR_SYNTAX);
	buf[big / 2] = '@';
	hostile_one("64 KiB with @", buf, big, 0, ADDR_SYNTAX);
	memset(buf, '"', big);
	hostile_one("64 KiB quotes", buf, big, 0, ADDR_SYNTAX);
	buf[0] = '<';
	hostile_one("64 KiB quotes bracketed", buf, big, 0, ADDR_SYNTAX);
	memset(buf, '<', big);
	hostile_one("64 KiB <", buf, big, 0, ADDR_SYNTAX);
	memset(buf, '>', big);
	hostile_one("64 KiB >", buf, big, 0, ADDR_SYNTAX);
	memset(buf, '[', big);
	hostile_one("64 KiB [", buf, big, 0, ADDR_SYNTAX);
	memset(buf, '\\', big);
	hostile_one("64 KiB backslashes", buf, big, 0, ADDR_SYNTAX);
	memset(buf, 0, big);
	hostile_one("64 KiB NUL", buf, big, 0, ADDR_SYNTAX);
	memset(buf, 0xff, big);
	hostile_one("64 KiB 0xff", buf, big, ADDR_F_SMTPUTF8, ADDR_SYNTAX);
	for (i = 0; i + 3 <= big; i += 3)
		memcpy(buf + i, "\xef\xbc\xa0", 3);
	hostile_one("64 KiB look-alikes", buf, i, ADDR_F_SMTPUTF8, ADDR_SYNTAX);

	/* 10,000 percent signs, bare and inside a plausible address. */
	memset(buf, '%', 10000);
	hostile_one("10000 %", buf, 10000, 0, ADDR_SYNTAX);
	buf[0] = '<';
	buf[1] = 'u';
	memcpy(buf + 10000, "@example.org>", 13);
	hostile_one("<u%%%...@example.org>", buf, 10013, 0, ADDR_SYNTAX);

	/* 1,000-hop source route. */
	buf[0] = '<';
	for (i = 0; i < 1000; i++)
		memcpy(buf + 1 + 3 * i, "@a,", 3);
	memcpy(buf + 1 + 3 * 1000 - 1, ":u@example.org>", 15);
	hostile_one("1000-hop route", buf, 3000 + 15, 0, ADDR_SYNTAX);
	/* ... and a deep route that fits: 60 hops are fine. */
	for (i = 0; i < 60; i++)
		memcpy(buf + 1 + 3 * i, "@a,", 3);
	memcpy(buf + 1 + 3 * 60 - 1, ":u@example.org>", 15);
	hostile_one("60-hop route", buf, 180 + 15, 0, ADDR_OK);

	/* 1,000 nested angle brackets, 1,000 unbalanced quotes. */
	for (i = 0; i < 1000; i++)
		buf[i] = '<', buf[2000 - 1 - i] = '>';
	hostile_one("nested brackets", buf, 2000, 0, ADDR_SYNTAX);
	for (i = 0; i < 1001; i++)
		buf[i] = '"';
	hostile_one("odd quotes", buf, 1001, 0, ADDR_SYNTAX);

	/* NUL bytes in every position of a valid address. */
	{
		const char *ok = "<\"u v\"@example.org> SIZE=1";
		size_t n = strlen(ok);

		for (i = 0; i < n; i++) {
			memcpy(buf, ok, n);
			buf[i] = '\0';
			hostile_one("NUL inside", buf, n, 0, ADDR_SYNTAX);
		}
		hostile_one("valid control", ok, n, 0, ADDR_OK);
	}
	ms = elapsed_ms(&start);
	fprintf(stderr, "  hostile inputs took %.2f ms\n", ms);
	/* Generous bound (valgrind): unbounded work would take seconds. */
	test_assert(ms < 2000.0);
	free(buf);
	test_end();
}

/* test_random - random short inputs over the interesting alphabet */
static void
test_random(void)
{
	static const char alphabet[] = "u@%!\".\\<>[]:,R L-x\x00\xef\xbc\xa0\xc3"
	    "IMCEA+4-SMTP";
	static struct address a;
	char buf[400], out[FINAL_MAX], names[128];
	unsigned long seed = 12345;
	int i, bad = 0, okcount = 0;
	size_t len, j, k;

	test_begin("address: random inputs stay bounded");
	for (i = 0; i < 200000; i++) {
		seed = seed * 6364136223846793005UL + 1442695040888963407UL;
		len = (size_t)((seed >> 33) % 300);
		for (j = 0; j < len; j++) {
			seed = seed * 6364136223846793005UL + 1442695040888963407UL;
			buf[j] = alphabet[(seed >> 33) % (sizeof(alphabet) - 1)];
		}
		if (addr_parse(buf, len, (int)(seed >> 40) & 3, &a) == ADDR_OK)
			addr_resolve(&a, (seed >> 45) & 1 ? is_local_all : is_local_test,
				     NULL);
		if (a.status == ADDR_OK) {
			okcount++;
			if (addr_format_final(&a, out, sizeof(out)) == NULL)
				bad++;
		} else if (a.error == NULL) {
			bad++;
		}
		if (a.ntrace > ADDR_TRACE_MAX || a.steps > ADDR_STEPS_MAX
		    || strlen(a.local) > ADDR_PATH_MAX
		    || strlen(a.final_local) > ADDR_PATH_MAX)
			bad++;
		for (k = 0; k < a.ntrace; k++)
			if (strlen(a.trace[k]) >= ADDR_TRACE_LEN)
				bad++;
		addr_trick_names(a.tricks, names, sizeof(names));
	}
	fprintf(stderr, "  random: %d of 200000 parsed ok\n", okcount);
	test_assert_int(bad, 0);
	test_end();
}

/* test_mutations - valid tricky addresses with random bytes changed */
static void
test_mutations(void)
{
	static const char *seeds[] = {
		"<u%r.example.net%example.org@example.org>",
		"<\"u\\@r.example.net\"@[192.0.2.25]>",
		"<@a.example,@[IPv6:2001:db8::1]:r.example.net!u@mx.example.org>",
		"<IMCEASMTP-u+40r+2Eexample+2Enet@example.org> SMTPUTF8",
		"<u\xef\xbc\xa0r.example.net\xef\xbc\x85x@example.org>",
		"u@r.example.net@example.org SIZE=10",
		"<\"a b\\\"c\"@[192.0.2.25]>",
	};
	static const char bytes[] = "@%!\".\\<>[]:,- +\xef\xbc\xa0\x80\x00";
	static struct address a;
	char buf[128], out[FINAL_MAX];
	unsigned long seed = 987654321;
	int i, m, bad = 0, okcount = 0;
	size_t len, pos;

	test_begin("address: mutated addresses stay bounded");
	for (i = 0; i < 200000; i++) {
		const char *s = seeds[i % RG_ARRAY_LEN(seeds)];

		len = strlen(s);
		memcpy(buf, s, len);
		for (m = 0; m < 1 + i % 3; m++) {
			seed = seed * 6364136223846793005UL + 1442695040888963407UL;
			pos = (size_t)((seed >> 33) % len);
			buf[pos] = bytes[(seed >> 20) % (sizeof(bytes) - 1)];
		}
		if (addr_parse(buf, len, i & 1 ? ADDR_F_SMTPUTF8 : 0, &a) == ADDR_OK)
			addr_resolve(&a, i & 2 ? is_local_all : is_local_test, NULL);
		if (a.status == ADDR_OK) {
			okcount++;
			if (addr_format_final(&a, out, sizeof(out)) == NULL)
				bad++;
		} else if (a.error == NULL) {
			bad++;
		}
	}
	fprintf(stderr, "  mutations: %d of 200000 parsed ok\n", okcount);
	test_assert_int(bad, 0);
	test_assert(okcount > 1000);
	test_end();
}

int
main(int argc, char **argv)
{
	int cases;

	cases = test_golden(argc > 1 ? argv[1] : ADDRESS_GOLDEN);
	printf("golden cases: %d\n", cases);
	test_begin("golden corpus has at least 150 cases");
	test_assert(cases >= 150);
	test_end();
	test_fields();
	test_steps();
	test_trace_truncation();
	test_format();
	test_hostile();
	test_random();
	test_mutations();
	return test_exit();
}
