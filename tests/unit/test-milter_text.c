/*
 * test-milter_text - reply escaping, log sanitising, verdict lines, ids
 *
 * The daemon's text helpers are pure, so every edge is a table row:
 * '%' doubling (libmilter expands replies printf-style), control
 * characters and truncation in client text, the exact verdict line
 * format that admins grep, session ids and socket specifications.
 */
#include <stdio.h>
#include <string.h>

#include "address.h"
#include "verdict.h"
#include "milter_text.h"
#include "testlib.h"

/* test_reply_escape - every % doubled, controls blanked, no split pair */
static void
test_reply_escape(void)
{
	char buf[64], small[6];

	test_begin("reply escape");
	test_assert_int(mt_reply_escape("Relay access denied", buf, sizeof(buf)), 0);
	test_assert_str(buf, "Relay access denied");
	test_assert_int(mt_reply_escape("100% sure", buf, sizeof(buf)), 0);
	test_assert_str(buf, "100%% sure");
	test_assert_int(mt_reply_escape("%s%%%d", buf, sizeof(buf)), 0);
	test_assert_str(buf, "%%s%%%%%%d");
	test_assert_int(mt_reply_escape("a\r\nb\tc", buf, sizeof(buf)), 0);
	test_assert_str(buf, "a  b c");
	test_assert_int(mt_reply_escape("", buf, sizeof(buf)), 0);
	test_assert_str(buf, "");
	/* "abcd%" needs 7 bytes: the pair must not be split. */
	test_assert_int(mt_reply_escape("abcd%", small, sizeof(small)), -1);
	test_assert_str(small, "abcd");
	test_assert_int(mt_reply_escape("abc%", small, sizeof(small)), 0);
	test_assert_str(small, "abc%%");
	test_end();
}

/* test_strip_and_join - brackets, argument vectors, traces */
static void
test_strip_and_join(void)
{
	char buf[64], small[8];
	char *argv[] = {"<u@example.net>", "SMTPUTF8", "BODY=8BITMIME", NULL};
	char *one[] = {"<>", NULL};
	static struct address addr;

	test_begin("strip brackets");
	test_assert_str(mt_strip_brackets("<u@x>", buf, sizeof(buf)), "u@x");
	test_assert_str(mt_strip_brackets("<>", buf, sizeof(buf)), "");
	test_assert_str(mt_strip_brackets("u@x", buf, sizeof(buf)), "u@x");
	test_assert_str(mt_strip_brackets("<", buf, sizeof(buf)), "<");
	test_assert_str(mt_strip_brackets(NULL, buf, sizeof(buf)), "");
	test_end();

	test_begin("join args");
	test_assert_int(mt_join_args(argv, buf, sizeof(buf)),
			strlen("<u@example.net> SMTPUTF8 BODY=8BITMIME"));
	test_assert_str(buf, "<u@example.net> SMTPUTF8 BODY=8BITMIME");
	test_assert_int(mt_join_args(one, buf, sizeof(buf)), 2);
	test_assert_str(buf, "<>");
	test_assert_int(mt_join_args(argv, small, sizeof(small)), -1);
	test_assert(strlen(small) < sizeof(small));
	test_assert_int(mt_join_args(NULL, buf, sizeof(buf)), 0);
	test_end();

	test_begin("join trace");
	memset(&addr, 0, sizeof(addr));
	test_assert_str(mt_join_trace(&addr, buf, sizeof(buf)), "");
	strcpy(addr.trace[0], "percent hack: u%r@l -> u@r");
	strcpy(addr.trace[1], "r is not local");
	addr.ntrace = 2;
	test_assert_str(mt_join_trace(&addr, buf, sizeof(buf)),
			"percent hack: u%r@l -> u@r; r is not local");
	test_end();
}

/* test_session_id - 12 hex digits, distinct per counter */
static void
test_session_id(void)
{
	char a[16], b[16];
	size_t i;

	test_begin("session id");
	mt_session_id(1795000000, 4242, 1, a, sizeof(a));
	mt_session_id(1795000000, 4242, 2, b, sizeof(b));
	test_assert_int(strlen(a), MT_SESSION_ID_LEN);
	for (i = 0; i < strlen(a); i++)
		test_assert(strchr("0123456789abcdef", a[i]) != NULL);
	test_assert(strcmp(a, b) != 0);
	mt_session_id(1795000000, 4243, 1, b, sizeof(b));
	test_assert(strcmp(a, b) != 0);
	test_end();
}

/* test_socket_check - the socket forms libmilter takes */
static void
test_socket_check(void)
{
	static const struct {
		const char *spec;
		int     ok;
		enum mt_socket_kind kind;
	} cases[] = {
		{"inet:8894@127.0.0.1", 1, MT_SOCKET_INET},
		{"inet:8894", 0, MT_SOCKET_INET},	/* which interface? */
		{"inet:8894@localhost", 1, MT_SOCKET_INET},
		{"inet6:8894@::1", 1, MT_SOCKET_INET6},
		{"unix:/run/relayguard/relayguard.sock", 1, MT_SOCKET_UNIX},
		{"local:/run/rg.sock", 1, MT_SOCKET_UNIX},
		{"unix:relative.sock", 0, MT_SOCKET_UNIX},
		{"unix:", 0, MT_SOCKET_UNIX},
		{"inet:0@127.0.0.1", 0, MT_SOCKET_INET},
		{"inet:65536@127.0.0.1", 0, MT_SOCKET_INET},
		{"inet:@127.0.0.1", 0, MT_SOCKET_INET},
		{"inet:88a4@127.0.0.1", 0, MT_SOCKET_INET},
		{"inet6:8894@::zz", 0, MT_SOCKET_INET6},
		{"tcp:8894", 0, MT_SOCKET_INET},
		{"", 0, MT_SOCKET_INET},
	};
	enum mt_socket_kind kind;
	char path[128], err[256];
	size_t i;
	int rc;

	test_begin("socket check");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		rc = mt_socket_check(cases[i].spec, &kind, path, sizeof(path),
				     err, sizeof(err));
		if (cases[i].ok) {
			test_assert_int(rc, 0);
			test_assert_int(kind, cases[i].kind);
		} else {
			test_assert_int(rc, -1);
			test_assert(err[0] != '\0');
		}
	}
	mt_socket_check("unix:/run/rg.sock", &kind, path, sizeof(path), err,
			sizeof(err));
	test_assert_str(path, "/run/rg.sock");
	test_end();
}

/* test_format_verdict - the greppable line, field by field */
static void
test_format_verdict(void)
{
	struct verdict_record f;
	char line[MT_LINE_MAX], small[40];

	test_begin("verdict line");
	memset(&f, 0, sizeof(f));
	f.queue_id = "";
	f.session_id = "65a1b2c3d4e5";
	f.stage = "rcpt";
	f.action = "reject";
	f.rule = "relay";
	f.code = 550;
	f.ecode = "5.7.1";
	f.client_name = "unknown";
	f.client_addr = "192.0.2.10";
	f.helo = "client.example.net";
	f.auth_user = "";
	f.sender = "<s@example.net>";
	f.rcpt = "<u%r@example.test>";
	f.rcpt_normalized = "u@r";
	f.directory_result = NULL;
	f.trace = "percent hack: \"u%r\" -> u@r";
	test_assert_str(mt_format_verdict(&f, line, sizeof(line)),
			"NOQUEUE: session=65a1b2c3d4e5 stage=rcpt action=reject "
			"rule=relay code=550 ecode=5.7.1 "
			"client=unknown[192.0.2.10] helo=client.example.net "
			"auth=- from=<s@example.net> to=<u%r@example.test> "
			"normalized=<u@r> dir=- "
			"trace=\"percent hack: \\\"u%r\\\" -> u@r\"");

	/* Connect stage: no from/to; a queue id when there is one. */
	memset(&f, 0, sizeof(f));
	f.queue_id = "4Xyz12AbC";
	f.session_id = "000000000001";
	f.stage = "connect";
	f.action = "accept";
	f.rule = "pass";
	f.code = 250;
	f.ecode = "2.0.0";
	f.client_addr = NULL;
	f.helo = "evil\r\nNOQUEUE: forged";
	f.auth_user = "bob";
	test_assert_str(mt_format_verdict(&f, line, sizeof(line)),
			"4Xyz12AbC: session=000000000001 stage=connect "
			"action=accept rule=pass code=250 ecode=2.0.0 "
			"client=unknown[unknown] helo=evil\\x0d\\x0aNOQUEUE:\\x20forged "
			"auth=bob");
	/* Client text cannot add fields: its spaces are escaped, so every
	 * field stays one token. */
	f.helo = "x action=accept rule=local";
	f.rcpt = "<\"a rule=local\"@example.org>";
	mt_format_verdict(&f, line, sizeof(line));
	test_assert(strstr(line, " helo=x\\x20action=accept\\x20rule=local ") != NULL);
	test_assert(strstr(line, " to=<\\\"a\\x20rule=local\\\"@example.org>") != NULL);
	test_assert(strstr(line, " rule=local") == NULL);
	f.rcpt = NULL;
	/* Blank sender is from=<>, not a missing field. */
	f.sender = "<>";
	mt_format_verdict(&f, line, sizeof(line));
	test_assert(strlen(line) > 8
		    && strcmp(line + strlen(line) - 8, " from=<>") == 0);
	/* Never overruns. */
	mt_format_verdict(&f, small, sizeof(small));
	test_assert_int(strlen(small), sizeof(small) - 1);
	test_assert(strncmp(small, "4Xyz12AbC: session=", 19) == 0);
	test_end();
}

/* main - run every group */
int
main(void)
{
	test_reply_escape();
	test_strip_and_join();
	test_session_id();
	test_socket_check();
	test_format_verdict();
	return test_exit();
}
