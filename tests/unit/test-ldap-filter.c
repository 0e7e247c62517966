/*
 * test-ldap-filter - RFC 4515 escaping and template expansion
 *
 * The security property under test: whatever the client put in the
 * address, the expanded filter has exactly the structure of the
 * template, with the address appearing only as an escaped value.
 */
#include <stdio.h>
#include <string.h>

#include "testlib.h"
#include "ldap_filter.h"

#define DEF_FILTER "(|(mail=%s)(mailLocalAddress=%s))"

/* expand - expand tmpl for addr into a static buffer; NULL on error */
static const char *
expand(const char *tmpl, const char *addr)
{
	static char buf[LDAP_FILTER_MAX + 1];
	char err[256];

	if (ldap_filter_expand(tmpl, addr, buf, sizeof(buf), err, sizeof(err)) < 0)
		return NULL;
	return buf;
}

/* structure_ok - every ( ) * in out is structural: count matches tmpl */
static int
count_chars(const char *s, int c)
{
	int n = 0;

	for (; *s; s++)
		n += (*s == c);
	return n;
}

static void
test_escape(void)
{
	char buf[64];
	const char nul[] = { 'a', '\0', 'b' };

	test_begin("escape: RFC 4515 specials");
	test_assert_int(ldap_filter_escape("a*b", 3, buf, sizeof(buf)), 5);
	test_assert_str(buf, "a\\2ab");
	ldap_filter_escape("(x)", 3, buf, sizeof(buf));
	test_assert_str(buf, "\\28x\\29");
	ldap_filter_escape("a\\b", 3, buf, sizeof(buf));
	test_assert_str(buf, "a\\5cb");
	ldap_filter_escape(nul, 3, buf, sizeof(buf));
	test_assert_str(buf, "a\\00b");
	ldap_filter_escape("plain.user+tag@example.test", 27, buf, sizeof(buf));
	test_assert_str(buf, "plain.user+tag@example.test");
	test_end();

	test_begin("escape: non-printables and 8-bit bytes");
	ldap_filter_escape("\t\x7f\xc3\xa9 ", 5, buf, sizeof(buf));
	test_assert_str(buf, "\\09\\7f\\c3\\a9 ");
	test_end();

	test_begin("escape: bounded output");
	test_assert_int(ldap_filter_escape("abc", 3, buf, 4), 3);
	test_assert_int(ldap_filter_escape("abc", 3, buf, 3), -1);
	test_assert_int(ldap_filter_escape("*", 1, buf, 3), -1);
	test_assert_int(ldap_filter_escape("*", 1, buf, 4), 3);
	test_assert_int(ldap_filter_escape("", 0, buf, 1), 0);
	test_assert_int(ldap_filter_escape("a", 1, buf, 0), -1);
	test_end();
}

static void
test_expand(void)
{
	char small[16], err[256];

	test_begin("expand: default filter");
	test_assert_str(expand(DEF_FILTER, "alice@example.test"),
			"(|(mail=alice@example.test)(mailLocalAddress=alice@example.test))");
	test_end();

	test_begin("expand: %u %d %%");
	test_assert_str(expand("(&(uid=%u)(dc=%d)(x=100%%))", "bob@example.test"),
			"(&(uid=bob)(dc=example.test)(x=100%))");
	test_assert_str(expand("(uid=%u)", "\"a@b\"@example.test"),
			"(uid=\"a@b\")");
	test_assert_str(expand("(dc=%d)", "nodomain"), "(dc=)");
	test_assert_str(expand("(uid=%u)", "nodomain"), "(uid=nodomain)");
	test_end();

	test_begin("expand: AD proxyAddresses");
	test_assert_str(expand("(proxyAddresses=smtp:%s)", "Carol@example.test"),
			"(proxyAddresses=smtp:Carol@example.test)");
	test_end();

	test_begin("expand: injection attempts stay values");
	test_assert_str(expand(DEF_FILTER, "*@example.test"),
			"(|(mail=\\2a@example.test)(mailLocalAddress=\\2a@example.test))");
	test_assert_str(expand("(mail=%s)", "\"*\"@example.test"),
			"(mail=\"\\2a\"@example.test)");
	test_assert_str(expand("(mail=%s)", "x)(mail=*)@example.test"),
			"(mail=x\\29\\28mail=\\2a\\29@example.test)");
	test_assert_str(expand("(mail=%s)", "a\\2a@example.test"),
			"(mail=a\\5c2a@example.test)");
	test_assert_str(expand("(mail=%u)", "*)(|(objectClass=*"),
			"(mail=\\2a\\29\\28|\\28objectClass=\\2a)");
	{
		static const char *evil[] = {
			"*", "*)(*", "x)(mail=*", "\\", "((((", "))))", "*\\*",
			"a)(|(uid=*))(x=", "\x01\x02\xff", NULL,
		};
		int i;

		for (i = 0; evil[i]; i++) {
			const char *out = expand(DEF_FILTER, evil[i]);

			test_assert(out != NULL);
			if (out == NULL)
				continue;
			test_assert_int(count_chars(out, '('), 3);
			test_assert_int(count_chars(out, ')'), 3);
			test_assert_int(count_chars(out, '*'), 0);
		}
	}
	test_end();

	test_begin("expand: too long is an error, never truncated");
	test_assert_int(ldap_filter_expand("(mail=%s)", "abcdefghij@x", small,
					   sizeof(small), err, sizeof(err)), -1);
	test_assert_str(small, "");
	test_assert(strstr(err, "longer") != NULL);
	test_assert_int(ldap_filter_expand("(mail=%s)", "ab@x", small,
					   sizeof(small), err, sizeof(err)), 0);
	test_assert_str(small, "(mail=ab@x)");
	{
		static char huge[3000];

		memset(huge, '*', sizeof(huge) - 1);
		test_assert(expand(DEF_FILTER, huge) == NULL);
	}
	test_end();
}

static void
test_check(void)
{
	char err[256];

	test_begin("check: good templates");
	test_assert_int(ldap_filter_check(DEF_FILTER, err, sizeof(err)), 0);
	test_assert_int(ldap_filter_check("(proxyAddresses=smtp:%s)", err, sizeof(err)), 0);
	test_assert_int(ldap_filter_check("(&(uid=%u)(associatedDomain=%d))", err, sizeof(err)), 0);
	test_assert_int(ldap_filter_check("mail=%s", err, sizeof(err)), 0);
	test_assert_int(ldap_filter_check("(&(mail=%s)(x=5%%))", err, sizeof(err)), 0);
	test_end();

	test_begin("check: bad templates");
	test_assert_int(ldap_filter_check("(mail=%x)", err, sizeof(err)), -1);
	test_assert(strstr(err, "%x") != NULL);
	test_assert_int(ldap_filter_check("(mail=%s)%", err, sizeof(err)), -1);
	test_assert_int(ldap_filter_check("(mail=%s", err, sizeof(err)), -1);
	test_assert(strstr(err, "unbalanced") != NULL);
	test_assert_int(ldap_filter_check("(mail=%s))", err, sizeof(err)), -1);
	test_assert_int(ldap_filter_check("(mail=%s)(uid=%u)", err, sizeof(err)), -1);
	test_assert_int(ldap_filter_check("(objectClass=*)", err, sizeof(err)), -1);
	test_assert(strstr(err, "no %s") != NULL);
	test_assert_int(ldap_filter_check("", err, sizeof(err)), -1);
	test_assert_int(ldap_filter_check(NULL, err, sizeof(err)), -1);
	test_assert_int(ldap_filter_check("(mail=%s)\n", err, sizeof(err)), -1);
	test_end();
}

int
main(void)
{
	test_escape();
	test_expand();
	test_check();
	return test_exit();
}
