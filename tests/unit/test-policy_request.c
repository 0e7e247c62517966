/*
 * test-policy_request - Postfix policy delegation requests and answers
 */
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "policy_request.h"
#include "testlib.h"

/* A request as Postfix 3.7 sends it at RCPT (captured from smtpd). */
static const char rcpt_request[] =
	"request=smtpd_access_policy\n"
	"protocol_state=RCPT\n"
	"protocol_name=ESMTP\n"
	"client_address=127.0.0.1\n"
	"client_name=localhost\n"
	"client_port=55094\n"
	"reverse_client_name=localhost\n"
	"server_address=127.0.0.1\n"
	"server_port=31916\n"
	"helo_name=client.example.net\n"
	"sender=\n"
	"recipient=a@example.test\n"
	"recipient_count=0\n"
	"queue_id=\n"
	"instance=182f.6b0f37b5.c449c.0\n"
	"size=0\n"
	"etrn_domain=\n"
	"stress=\n"
	"sasl_method=\n"
	"sasl_username=\n"
	"sasl_sender=\n"
	"ccert_subject=\n"
	"encryption_protocol=\n"
	"encryption_cipher=\n"
	"encryption_keysize=0\n"
	"policy_context=\n"
	"\n";

static struct pr_request req;

/* parse - pr_parse on a C string */
static int
parse(const char *text, size_t *used, char *err, size_t errlen)
{
	*used = 0;
	err[0] = '\0';
	return pr_parse(text, strlen(text), &req, used, err, errlen);
}

static void
test_full_request(void)
{
	char err[256], two[sizeof(rcpt_request) * 2];
	size_t used, len = strlen(rcpt_request), i;

	test_begin("a Postfix request, attributes known and unknown");
	test_assert_int(parse(rcpt_request, &used, err, sizeof(err)), 1);
	test_assert_int(used, len);
	test_assert_str(pr_get(&req, PR_RECIPIENT), "a@example.test");
	test_assert_str(pr_get(&req, PR_SENDER), "");	/* MAIL FROM:<> */
	test_assert_str(pr_get(&req, PR_CLIENT_PORT), "55094");
	test_assert_str(pr_get(&req, PR_INSTANCE), "182f.6b0f37b5.c449c.0");
	test_assert(pr_get(&req, PR_SASL_SENDER) != NULL);
	test_assert(pr_get(&req, PR_POLICY_CONTEXT) != NULL);
	test_assert_int(pr_state(&req), PR_STATE_RCPT);
	test_end();

	test_begin("every prefix of a request is incomplete, never an error");
	for (i = 0; i < len; i++) {
		int rc = pr_parse(rcpt_request, i, &req, &used, err, sizeof(err));

		if (rc != 0) {
			fprintf(stderr, "prefix %zu: %d %s\n", i, rc, err);
			test_assert(rc == 0);
			break;
		}
	}
	test_end();

	test_begin("two requests back to back: the first, then the second");
	memcpy(two, rcpt_request, len);
	memcpy(two + len, rcpt_request, len);
	test_assert_int(pr_parse(two, 2 * len, &req, &used, err, sizeof(err)), 1);
	test_assert_int(used, len);
	test_assert_int(pr_parse(two + used, 2 * len - used, &req, &used, err,
				 sizeof(err)), 1);
	test_end();

	test_begin("CRLF line ends (a tester typing by hand)");
	test_assert_int(parse("request=smtpd_access_policy\r\nprotocol_state=MAIL\r\n"
			      "sender=x@y.test\r\n\r\n", &used, err, sizeof(err)), 1);
	test_assert_str(pr_get(&req, PR_SENDER), "x@y.test");
	test_assert_int(pr_state(&req), PR_STATE_MAIL);
	test_assert(pr_get(&req, PR_RECIPIENT) == NULL);
	test_end();
}

static void
test_garbage(void)
{
	static const struct {
		const char *text;
		const char *reason;
	} bad[] = {
		{"GET / HTTP/1.0\r\n\r\n", "without '='"},
		{"\n", "empty request"},
		{"=x\n\n", "empty attribute name"},
		{"request=smtpd_access_policy\nna me=x\n\n", "character other"},
		{"request=smtpd_access_policy\nfoo\n", "without '='"},
		{"protocol_state=RCPT\n\n", "no request="},
		{"request=other\n\n", "only smtpd_access_policy"},
		{"request=smtpd_access_policy\nsender=a\nsender=b\n\n", "twice"},
	};
	char err[256], *big;
	size_t used, i;

	test_begin("garbage is an error with a reason");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i].text, &used, err, sizeof(err));

		test_assert_int(rc, -1);
		if (strstr(err, bad[i].reason) == NULL) {
			fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i, err,
				bad[i].reason);
			test_assert(!"reason");
		}
	}
	test_end();

	test_begin("garbage is an error before the empty line arrives");
	test_assert_int(parse("HELO there\n", &used, err, sizeof(err)), -1);
	test_assert_int(pr_parse("request=x\0y", 11, &req, &used, err,
				 sizeof(err)), -1);
	test_end();

	test_begin("a request of PR_REQUEST_MAX bytes without its end: too long");
	big = malloc(1 << 20);
	test_assert(big != NULL);
	memcpy(big, "request=smtpd_access_policy\nsender=", 35);
	memset(big + 35, 'a', (1 << 20) - 35);
	test_assert_int(pr_parse(big, PR_REQUEST_MAX - 1, &req, &used, err,
				 sizeof(err)), 0);
	test_assert_int(pr_parse(big, PR_REQUEST_MAX, &req, &used, err,
				 sizeof(err)), -1);
	test_assert(strstr(err, "longer than 16384") != NULL);
	test_assert_int(pr_parse(big, 1 << 20, &req, &used, err, sizeof(err)), -1);
	free(big);
	test_end();

	test_begin("more than PR_ATTRS_MAX lines: an error");
	big = malloc(8 * (PR_ATTRS_MAX + 2) + 64);
	test_assert(big != NULL);
	strcpy(big, "request=smtpd_access_policy\n");
	for (i = 0; i < PR_ATTRS_MAX; i++)
		strcat(big, "x=1\n");
	strcat(big, "\n");
	test_assert_int(parse(big, &used, err, sizeof(err)), -1);
	test_assert(strstr(err, "more than 128") != NULL);
	free(big);
	test_end();

	test_begin("a short error buffer stays terminated");
	test_assert_int(pr_parse("bad\n", 4, &req, &used, err, 5), -1);
	test_assert_int(strlen(err), 4);
	test_end();
}

static void
test_path(void)
{
	static const struct {
		const char *internal, *path;
	} cases[] = {
		{"", "<>"},
		{"alice@example.test", "<alice@example.test>"},
		{"victim%remote.test@example.test", "<victim%remote.test@example.test>"},
		{"remote.test!victim", "<remote.test!victim>"},
		{"victim@remote.test@example.test", "<\"victim@remote.test\"@example.test>"},
		{"a b@example.test", "<\"a b\"@example.test>"},
		{"a\"b\\c@x.test", "<\"a\\\"b\\\\c\"@x.test>"},
		{".dot@x.test", "<\".dot\"@x.test>"},
		{"a..b@x.test", "<\"a..b\"@x.test>"},
		{"@example.test:victim@remote.test", "<@example.test:victim@remote.test>"},
		{"@a,@b:u@r@l", "<@a,@b:\"u@r\"@l>"},
		{"postmaster", "<postmaster>"},
		{"j\xc3\xb6rg@example.test", "<j\xc3\xb6rg@example.test>"},
	};
	char buf[256];
	size_t i;

	test_begin("smtpd's internal form back into the client's path");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long n = pr_path(cases[i].internal, buf, sizeof(buf));

		test_assert_str(buf, cases[i].path);
		test_assert_int(n, strlen(cases[i].path));
	}
	test_assert_int(pr_path("alice@example.test", buf, 10), -1);
	test_assert_int(pr_path("", buf, 2), -1);
	test_assert_int(pr_path("", buf, 3), 2);
	test_end();
}

static void
test_actions(void)
{
	struct rg_verdict v;
	char action[256], answer[300];

	memset(&v, 0, sizeof(v));
	test_begin("verdicts as access(5) actions");
	v.action = RG_ACCEPT;
	v.code = 250;
	test_assert_str(pr_action(&v, action, sizeof(action)), "DUNNO");
	v.action = RG_WOULD_REJECT;
	v.code = 550;
	v.ecode = "5.7.1";
	v.text = "Relaying denied";
	test_assert_str(pr_action(&v, action, sizeof(action)), "DUNNO");
	v.action = RG_REJECT;
	test_assert_str(pr_action(&v, action, sizeof(action)),
			"550 5.7.1 Relaying denied");
	v.action = RG_TEMPFAIL;
	v.code = 451;
	v.ecode = "4.4.3";
	v.text = "Directory unavailable";
	test_assert_str(pr_action(&v, action, sizeof(action)),
			"451 4.4.3 Directory unavailable");
	v.action = RG_DROP;
	v.code = 421;
	v.ecode = "4.7.0";
	v.text = "";
	test_assert_str(pr_action(&v, action, sizeof(action)), "421 4.7.0");
	v.ecode = NULL;
	v.text = NULL;
	test_assert_str(pr_action(&v, action, sizeof(action)), "421");
	test_end();

	test_begin("the answer is one line and an empty one");
	test_assert_int(pr_format_answer("DUNNO", answer, sizeof(answer)), 14);
	test_assert_str(answer, "action=DUNNO\n\n");
	pr_format_answer("550 a\nb\rc", answer, sizeof(answer));
	test_assert_str(answer, "action=550 a b c\n\n");
	test_assert_int(pr_format_answer("DUNNO", answer, 14), -1);
	test_end();
}

static void
test_socket(void)
{
	static const char *const bad[] = {
		"inet:10040", "inet:10040@", "inet:0@127.0.0.1",
		"inet:65536@127.0.0.1", "inet:x@127.0.0.1",
		"inet:10040@localhost", "inet:10040@::1", "inet6:10040@127.0.0.1",
		"unix:relative/path", "tcp:10040@127.0.0.1", "",
		"unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	struct pr_socket where;
	char err[256];
	size_t i;

	test_begin("policy_socket: the forms that are accepted");
	test_assert_int(pr_socket_parse("inet:10040@127.0.0.1", &where, err,
					sizeof(err)), 0);
	test_assert_int(where.family, AF_INET);
	test_assert_int(where.port, 10040);
	test_assert_int(pr_socket_parse("inet6:10040@::1", &where, err,
					sizeof(err)), 0);
	test_assert_int(where.family, AF_INET6);
	test_assert_int(pr_socket_parse("unix:/run/relayguard/policy.sock",
					&where, err, sizeof(err)), 0);
	test_assert_int(where.family, AF_UNIX);
	test_assert_str(where.path, "/run/relayguard/policy.sock");
	test_end();

	test_begin("policy_socket: everything else, with a reason");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (pr_socket_parse(bad[i], &where, err, sizeof(err)) != -1
		    || err[0] == '\0') {
			fprintf(stderr, "accepted or no reason: \"%s\"\n", bad[i]);
			test_assert(!"refused with a reason");
		}
	}
	test_end();
}

int
main(void)
{
	test_full_request();
	test_garbage();
	test_path();
	test_actions();
	test_socket();
	return test_exit();
}
