/*
 * fuzz-reply - reply strings: config_parse_reply()
 *
 * Each input is the value of a reply.NAME key, "CODE X.Y.Z text" (seeds
 * in corpus/reply/); bytes after a NUL are ignored, as they would be in
 * a C string.  Invariants checked beyond "no crash, no sanitizer report":
 * - an accepted reply has a 4xx/5xx code, an enhanced code whose class
 *   matches it, and printable ASCII text (nothing that could end or split
 *   an SMTP reply line: no CR, LF or NUL), all terminated in their fields;
 * - an accepted reply formatted back as "CODE X.Y.Z text" parses to
 *   itself;
 * - a refused one has a reason, and an exactly sized small error buffer
 *   is never overrun and always terminated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

#define MAX_INPUT 4096

/* terminated - buf holds a NUL within size bytes */
static int
terminated(const char *buf, size_t size)
{
	return memchr(buf, '\0', size) != NULL;
}

/* check_accepted - the invariants of a parsed reply */
static void
check_accepted(const struct rg_reply *r)
{
	struct rg_reply back;
	char text[sizeof(r->ecode) + sizeof(r->text) + 16], err[256];
	const char *p;
	int dots = 0;

	FUZZ_CHECK(r->code >= 400 && r->code <= 599);
	FUZZ_CHECK(terminated(r->ecode, sizeof(r->ecode)));
	FUZZ_CHECK(terminated(r->text, sizeof(r->text)));
	FUZZ_CHECK(r->ecode[0] - '0' == r->code / 100);
	for (p = r->ecode; *p != '\0'; p++) {
		FUZZ_CHECK((*p >= '0' && *p <= '9') || *p == '.');
		dots += *p == '.';
	}
	FUZZ_CHECK(dots == 2);
	for (p = r->text; *p != '\0'; p++)
		FUZZ_CHECK(*p >= 0x20 && *p < 0x7f);

	if (r->text[0] != '\0')
		snprintf(text, sizeof(text), "%d %s %s", r->code, r->ecode, r->text);
	else
		snprintf(text, sizeof(text), "%d %s", r->code, r->ecode);
	memset(&back, 0x5a, sizeof(back));
	if (config_parse_reply(text, &back, err, sizeof(err)) != 0) {
		fprintf(stderr, "\"%s\" does not parse back: %s\n", text, err);
		FUZZ_CHECK(!"reply does not parse back");
	}
	FUZZ_CHECK(back.code == r->code);
	FUZZ_CHECK(strcmp(back.ecode, r->ecode) == 0);
	FUZZ_CHECK(strcmp(back.text, r->text) == 0);
}

/* LLVMFuzzerTestOneInput - one reply string */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rg_reply reply;
	char *text, err[256], *small;
	size_t smallsize;
	int status;

	if (size > MAX_INPUT)
		size = MAX_INPUT;
	text = malloc(size + 1);
	FUZZ_CHECK(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';

	memset(&reply, 0xa5, sizeof(reply));
	err[0] = '\0';
	status = config_parse_reply(text, &reply, err, sizeof(err));
	FUZZ_CHECK(status == 0 || status == -1);
	if (status == 0) {
		check_accepted(&reply);
	} else {
		FUZZ_CHECK(terminated(err, sizeof(err)) && err[0] != '\0');
		for (smallsize = 1; smallsize <= 16; smallsize += 15) {
			small = malloc(smallsize);
			FUZZ_CHECK(small != NULL);
			FUZZ_CHECK(config_parse_reply(text, &reply, small,
						      smallsize) == -1);
			FUZZ_CHECK(terminated(small, smallsize));
			free(small);
		}
	}
	free(text);
	return 0;
}
