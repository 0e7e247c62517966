/*
 * fuzz-config - the relayguard.conf parser
 *
 * Each input is a whole configuration file (seeds in corpus/config/).
 * Invariants checked beyond "no crash, no sanitizer report":
 * - config_parse() returns a configuration, or NULL with an error that
 *   starts with "NAME:LINE: " (LINE within the input) or "NAME: ";
 *   the same input always gives the same answer; a small error buffer is
 *   never overrun and always terminated;
 * - an accepted configuration is consistent: every reply is a 4xx/5xx
 *   code with a matching X.Y.Z class and printable text that parses back
 *   to itself, domain lists are lower-case without trailing dots,
 *   qualify_domain is the first exact local domain, per-rule monitor
 *   switches are -1/0/1 and config_rule_monitored() follows them, and
 *   every listed domain is found by config_local_domain().
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "address.h"
#include "config.h"
#include "fuzz.h"

#define NAME		"fuzz.conf"
#define MAX_INPUT	65536

/* terminated - buf holds a NUL within size bytes */
static int
terminated(const char *buf, size_t size)
{
	return memchr(buf, '\0', size) != NULL;
}

/* check_error - "NAME:LINE: reason" or "NAME: reason" */
static void
check_error(const char *err, const uint8_t *data, size_t size)
{
	const char *p = err + strlen(NAME ":");
	unsigned long line = 0, lines = 1;
	size_t i;

	if (strncmp(err, NAME ":", strlen(NAME ":")) != 0) {
		fprintf(stderr, "bad error message: \"%s\"\n", err);
		FUZZ_CHECK(!"error does not start with NAME:");
	}
	if (isdigit((unsigned char)*p)) {
		while (isdigit((unsigned char)*p) && line < 100000000)
			line = line * 10 + (unsigned long)(*p++ - '0');
		FUZZ_CHECK(*p == ':');
		p++;
		for (i = 0; i < size; i++)
			if (data[i] == '\n')
				lines++;
		if (line < 1 || line > lines)
			fprintf(stderr, "error \"%s\": line out of 1..%lu\n",
				err, lines);
		FUZZ_CHECK(line >= 1 && line <= lines);
	}
	FUZZ_CHECK(*p == ' ' && p[1] != '\0');
}

/* check_reply - a reply as config.h describes it */
static void
check_reply(const struct rg_reply *r)
{
	struct rg_reply back;
	char text[512], err[256];
	const char *p;

	FUZZ_CHECK(r->code >= 400 && r->code <= 599);
	FUZZ_CHECK(terminated(r->ecode, sizeof(r->ecode)));
	FUZZ_CHECK(terminated(r->text, sizeof(r->text)));
	FUZZ_CHECK(r->ecode[0] - '0' == r->code / 100 && r->ecode[1] == '.');
	for (p = r->text; *p != '\0'; p++)
		FUZZ_CHECK(*p >= 0x20 && *p < 0x7f);
	snprintf(text, sizeof(text), "%d %s %s", r->code, r->ecode, r->text);
	if (config_parse_reply(text, &back, err, sizeof(err)) != 0) {
		fprintf(stderr, "reply \"%s\" does not parse back: %s\n", text, err);
		FUZZ_CHECK(!"reply does not parse back");
	}
	FUZZ_CHECK(back.code == r->code);
	FUZZ_CHECK(strcmp(back.ecode, r->ecode) == 0);
	FUZZ_CHECK(strcmp(back.text, r->text) == 0);
}

/* check_domains - a domain list as config.h describes it */
static void
check_domains(const struct rg_config *cfg)
{
	const struct domain_list *dl = &cfg->local_domains;
	char name[ADDR_DOMAIN_MAX + 8];
	struct addr_domain d;
	const char *p;
	size_t i, len;

	for (i = 0; i < dl->nexact; i++) {
		len = strlen(dl->exact[i]);
		FUZZ_CHECK(len > 0 && dl->exact[i][0] != '.'
			   && dl->exact[i][len - 1] != '.');
		for (p = dl->exact[i]; *p != '\0'; p++)
			FUZZ_CHECK(!(*p >= 'A' && *p <= 'Z'));
		FUZZ_CHECK(config_local_domain(cfg, dl->exact[i]) == 1);
		if (len <= ADDR_DOMAIN_MAX) {
			memset(&d, 0, sizeof(d));
			d.type = ADDR_DOM_NAME;
			memcpy(d.name, dl->exact[i], len + 1);
			FUZZ_CHECK(config_is_local(&d, (void *)cfg) == 1);
		}
	}
	for (i = 0; i < dl->nsuffix; i++) {
		len = strlen(dl->suffix[i]);
		FUZZ_CHECK(len > 1 && dl->suffix[i][0] == '.'
			   && dl->suffix[i][len - 1] != '.');
		for (p = dl->suffix[i]; *p != '\0'; p++)
			FUZZ_CHECK(!(*p >= 'A' && *p <= 'Z'));
		if (len + 2 < sizeof(name)) {
			name[0] = 'x';
			memcpy(name + 1, dl->suffix[i], len + 1);
			FUZZ_CHECK(config_local_domain(cfg, name) == 1);
		}
	}
	if (dl->nexact > 0)
		FUZZ_CHECK(cfg->qualify_domain != NULL
			   && strcmp(cfg->qualify_domain, dl->exact[0]) == 0);
	else
		FUZZ_CHECK(cfg->qualify_domain == NULL);
	memset(&d, 0, sizeof(d));
	d.type = ADDR_DOM_NONE;
	FUZZ_CHECK(config_is_local(&d, (void *)cfg) == 1);
	FUZZ_CHECK(config_local_domain(cfg, "") == 0);
	(void)config_local_domain(cfg, "example.org");
}

/* check_config - an accepted configuration is consistent */
static void
check_config(const struct rg_config *cfg)
{
	int r, m;

	FUZZ_CHECK(cfg->mode == 0 || cfg->mode == 1);
	for (r = 0; r < RG_RULE_COUNT; r++) {
		FUZZ_CHECK(rg_rule_name((enum rg_rule)r) != NULL);
		m = cfg->rule_monitor[r];
		FUZZ_CHECK(m == -1 || m == 0 || m == 1);
		if (r < RG_RULE_FIRST_REFUSAL)
			continue;
		FUZZ_CHECK((config_rule_monitored(cfg, (enum rg_rule)r) != 0)
			   == ((m == -1 ? (int) cfg->mode : m) != 0));
	}
	for (r = 0; r < RG_REPLY_COUNT; r++) {
		FUZZ_CHECK(rg_reply_name((enum rg_reply_id)r) != NULL);
		check_reply(&cfg->replies[r]);
	}
	check_domains(cfg);
	/* Strings config.h does not document as "NULL unset". */
	FUZZ_CHECK(cfg->directory != NULL && cfg->socket != NULL);
	FUZZ_CHECK(cfg->syslog_facility != NULL && cfg->ldap_filter != NULL);
	(void)config_sender_denied(cfg, "someone@example.org");
	(void)config_sender_denied(cfg, "");
}

/* LLVMFuzzerTestOneInput - parse one configuration text */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rg_config *cfg, *again;
	char err[512], err2[512], *small;
	size_t smallsize;

	if (size > MAX_INPUT)
		size = MAX_INPUT;
	err[0] = '\0';
	cfg = config_parse((const char *)data, size, NAME, err, sizeof(err));
	err2[0] = '\0';
	again = config_parse((const char *)data, size, NAME, err2, sizeof(err2));
	FUZZ_CHECK((cfg == NULL) == (again == NULL));
	again = config_free(again);
	FUZZ_CHECK(again == NULL);
	if (cfg == NULL) {
		FUZZ_CHECK(terminated(err, sizeof(err)));
		check_error(err, data, size);
		FUZZ_CHECK(strcmp(err, err2) == 0);
		/* An exactly sized small buffer: ASan sees any overrun. */
		for (smallsize = 1; smallsize <= 16; smallsize += 15) {
			small = malloc(smallsize);
			FUZZ_CHECK(small != NULL);
			FUZZ_CHECK(config_parse((const char *)data, size, NAME,
						small, smallsize) == NULL);
			FUZZ_CHECK(terminated(small, smallsize));
			free(small);
		}
		return 0;
	}
	check_config(cfg);
	cfg = config_free(cfg);
	FUZZ_CHECK(cfg == NULL);
	return 0;
}
