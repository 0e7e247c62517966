/*
 * test-mta_refusal - the MTA's own refusal, from the macros Postfix and
 * Sendmail send with SMFIP_RCPT_REJ
 */
#include <string.h>

#include "testlib.h"
#include "mta_refusal.h"

int
main(void)
{
	struct mta_refusal r;
	char    longtext[2000];

	test_begin("the marker");
	test_assert(mta_refusal_is("error"));
	test_assert(!mta_refusal_is("smtp"));
	test_assert(!mta_refusal_is("Error"));
	test_assert(!mta_refusal_is(NULL));
	test_end();

	test_begin("Postfix: enhanced code in rcpt_host, text without a code");
	mta_refusal_parse("5.7.1", "Recipient address rejected: Access denied", &r);
	test_assert_int(r.code, 550);
	test_assert_int(r.code_known, 0);
	test_assert_str(r.ecode, "5.7.1");
	test_assert_str(r.text, "Recipient address rejected: Access denied");
	mta_refusal_parse("4.7.1", "Recipient address rejected: Access denied", &r);
	test_assert_int(r.code, 450);
	test_assert_str(r.ecode, "4.7.1");
	test_end();

	test_begin("Sendmail: enhanced code, text");
	mta_refusal_parse("5.1.1", "User unknown", &r);
	test_assert_int(r.code, 550);
	test_assert_str(r.ecode, "5.1.1");
	test_assert_str(r.text, "User unknown");
	test_end();

	test_begin("a text with its own code and enhanced code");
	mta_refusal_parse(NULL, "554 5.7.1 <u@remote.test>: Relay access denied", &r);
	test_assert_int(r.code, 554);
	test_assert_int(r.code_known, 1);
	test_assert_str(r.ecode, "5.7.1");
	test_assert_str(r.text, "<u@remote.test>: Relay access denied");
	mta_refusal_parse("4.2.0", "452 4.5.3 Too many recipients", &r);
	test_assert_int(r.code, 452);
	test_assert_str(r.ecode, "4.2.0");	/* rcpt_host wins */
	test_assert_str(r.text, "Too many recipients");
	test_end();

	test_begin("odd or hostile macros");
	mta_refusal_parse(NULL, NULL, &r);
	test_assert_int(r.code, 550);
	test_assert_str(r.ecode, "");
	test_assert_str(r.text, "refused by the MTA");
	mta_refusal_parse("mx.example.test", "250 fine", &r);	/* not a refusal code */
	test_assert_str(r.ecode, "");
	test_assert_int(r.code, 550);
	test_assert_str(r.text, "250 fine");
	mta_refusal_parse("5.7.1x", "a\r\nb\x01", &r);
	test_assert_str(r.ecode, "");
	test_assert_str(r.text, "a??b?");
	mta_refusal_parse("5.1234.1", "x", &r);
	test_assert_str(r.ecode, "");
	mta_refusal_parse("2.0.0", "x", &r);
	test_assert_str(r.ecode, "");
	memset(longtext, 'x', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	mta_refusal_parse("5.0.0", longtext, &r);
	test_assert_int(strlen(r.text), MTA_REFUSAL_TEXT_MAX - 1);
	test_end();
	return test_exit();
}
