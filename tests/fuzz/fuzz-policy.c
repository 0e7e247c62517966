/*
 * fuzz-policy - one SMTP transaction through policy_decide()
 *
 * Input layout: the first byte chooses the session (its low six bits),
 * the rest is split at '\n': the first line is the MAIL FROM text, every
 * further line (at most MAX_RCPTS) one RCPT TO text.  Seeds in
 * corpus/policy/ start with a printable selector: '@' = 0, 'A' = 1, ...,
 * '`' = 32, 'a' = 33, ...
 *   bits 0-1  client: 0 outside (198.51.100.7), 1 trusted (10.1.2.3),
 *             2 in trusted_networks and never_relay_networks (10.9.0.5),
 *             3 unknown (unix socket)
 *   bit 2     authenticated as "fuzzuser"
 *   bits 3-4  configuration: 0 enforce; 1 monitor (routing = resolve,
 *             relay_authenticated = no, blank_sender = drop,
 *             directory_failure = accept, no harvest limit); 2 strict
 *             (blank_sender = reject, "<>" denied, routing = resolve,
 *             harvest_limit = 1, directory_failure = accept,
 *             monitor.unknown = yes); 3 defaults (no local addresses,
 *             no never-relay networks)
 *   bit 5     the transaction is SMTPUTF8
 * A RCPT line may carry the MTA's resolution after TABs,
 * "TEXT\tMAILER\tHOST\tADDR": the verdict then also goes through
 * policy_judge_mta() ("-" for an absent field).
 * The directory is the shared scripted stand-in (fake_directory.h):
 * alice, bob, postmaster and "odd.name" at example.org, everything at
 * catchall.example.org; a local part starting with "dirfail" is a
 * directory error.
 *
 * Invariants checked beyond "no crash, no sanitizer report":
 * - every verdict is well formed: action and rule in range, 250 on
 *   accept, a 4xx/5xx reply matching the action on refusal, 421 = drop;
 * - the directory is asked for "local@domain" with a lower-case domain;
 *   a LOCAL accept comes from a FOUND answer for the verdict's dir_key;
 * - anti-relay: a client that may not relay never gets a recipient
 *   accepted whose final destination is not ours (judged here, without
 *   the configuration's lookups), nor one with routing in it when
 *   routing = reject;
 * - the second judge is only ever stricter: a refusal keeps its rule and
 *   reply, an acceptance it keeps as LOCAL comes from a FOUND answer
 *   for the verdict's dir_key;
 * - monitor mode never refuses; harvest_limit caps the unknown
 *   recipients and then refuses every further recipient; a blank sender
 *   gets at most one non-postmaster recipient.
 */
#include <string.h>
#include <strings.h>

#include "address.h"
#include "config.h"
#include "directory.h"
#include "netlist.h"
#include "policy.h"
#include "fuzz.h"
#include "../unit/fake_directory.h"

#define MAX_RCPTS	100
#define HARVEST_LIMIT	3

static const char conf_enforce[] =
	"local_domains = example.org, .sub.example.org, catchall.example.org\n"
	"local_addresses = 192.0.2.1, 2001:db8::1\n"
	"trusted_networks = 10.0.0.0/8, 2001:db8:1::/48\n"
	"never_relay_networks = 10.9.0.0/16\n"
	"harvest_limit = 3\n"
	"blank_sender = single-recipient\n"
	"routing = reject\n"
	"sender_deny = spammer@*, @bad.example\n"
	"local_sender_from_untrusted = reject\n"
	"directory = file:/nonexistent\n";

static const char conf_monitor[] =
	"mode = monitor\n"
	"local_domains = example.org, .sub.example.org, catchall.example.org\n"
	"local_addresses = 192.0.2.1, 2001:db8::1\n"
	"trusted_networks = 10.0.0.0/8, 2001:db8:1::/48\n"
	"never_relay_networks = 10.9.0.0/16\n"
	"harvest_limit = 0\n"
	"relay_authenticated = no\n"
	"blank_sender = drop\n"
	"routing = resolve\n"
	"sender_deny = spammer@*, @bad.example\n"
	"directory_failure = accept\n"
	"directory = file:/nonexistent\n";

static const char conf_strict[] =
	"local_domains = example.org, .sub.example.org, catchall.example.org\n"
	"local_addresses = [192.0.2.1], [IPv6:2001:db8::1]\n"
	"trusted_networks = 10.0.0.0/8, 2001:db8:1::/48\n"
	"never_relay_networks = 10.9.0.0/16\n"
	"harvest_limit = 1\n"
	"blank_sender = reject\n"
	"routing = resolve\n"
	"sender_deny = <>, *@*.bad.example, spammer@*\n"
	"directory_failure = accept\n"
	"monitor.unknown = yes\n"
	"reply.relay = \"554 5.7.1 100% not here\"\n"
	"directory = file:/nonexistent\n";

static const char conf_defaults[] =
	"local_domains = example.org, .sub.example.org, catchall.example.org\n"
	"trusted_networks = 10.0.0.0/8\n";

/* What each configuration says about privilege, written out here so
 * that the engine's answer is checked against something independent. */
static const int conf_has_never_relay[4] = {1, 1, 1, 0};
static const int conf_relay_auth[4] = {1, 0, 1, 1};

/* The directory: the shared scripted stand-in, with the fixed list
 * described above; every key it is asked must be "local@domain" with a
 * lower-case domain. */
static const char *const dir_users[] = {
	"alice@example.org", "bob@example.org", "postmaster@example.org",
	"odd.name@example.org", "@catchall.example.org", NULL,
};

/* check_key - the invariants of every directory key */
static void
check_key(const char *address)
{
	const char *at = strrchr(address, '@'), *p;

	FUZZ_CHECK(strlen(address) < ADDR_PATH_MAX * 2);
	FUZZ_CHECK(at != NULL && at[1] != '\0');
	for (p = at + 1; *p != '\0'; p++)
		FUZZ_CHECK(!(*p >= 'A' && *p <= 'Z'));
}

/* load - parse a built-in configuration once; abort when it is refused */
static struct rg_config *
load(const char *text)
{
	struct rg_config *cfg;
	char err[512];

	cfg = config_parse(text, strlen(text), "fuzz-policy.conf", err, sizeof(err));
	if (cfg == NULL) {
		fprintf(stderr, "fuzz-policy: built-in configuration: %s\n", err);
		abort();
	}
	return cfg;
}

/* ours - independent judgement: is this final destination local? */
static int
ours(const struct addr_domain *d)
{
	static const char *literals[] = {"192.0.2.1", "2001:db8::1"};
	struct rg_ip ip;
	size_t len, i;

	switch (d->type) {
	case ADDR_DOM_NONE:
		return 1;
	case ADDR_DOM_NAME:
		len = strlen(d->name);
		return strcmp(d->name, "example.org") == 0
		    || strcmp(d->name, "catchall.example.org") == 0
		    || (len > 16 && strcmp(d->name + len - 16,
					   ".sub.example.org") == 0);
	case ADDR_DOM_LITERAL:
		for (i = 0; i < sizeof(literals) / sizeof(literals[0]); i++)
			if (rg_ip_parse(literals[i], &ip) && rg_ip_equal(&ip, &d->ip))
				return 1;
		return 0;
	}
	return 0;
}

/* check_verdict - a verdict is well formed */
static void
check_verdict(const struct rg_config *cfg, const struct rg_verdict *v,
	      enum rg_stage stage)
{
	FUZZ_CHECK(v->stage == stage);
	FUZZ_CHECK((int)v->rule >= 0 && v->rule < RG_RULE_COUNT);
	FUZZ_CHECK(v->ecode != NULL && v->text != NULL);
	FUZZ_CHECK(memchr(v->normalized, '\0', sizeof(v->normalized)) != NULL);
	FUZZ_CHECK(memchr(v->dir_key, '\0', sizeof(v->dir_key)) != NULL);
	FUZZ_CHECK(rg_action_name(v->action) != NULL);
	FUZZ_CHECK(rg_stage_name(v->stage) != NULL);
	switch (v->action) {
	case RG_ACCEPT:
		FUZZ_CHECK(v->code == 250);
		FUZZ_CHECK(v->rule < RG_RULE_FIRST_REFUSAL);
		break;
	case RG_REJECT:
		FUZZ_CHECK(v->code >= 500 && v->code <= 599);
		FUZZ_CHECK(v->rule >= RG_RULE_FIRST_REFUSAL);
		break;
	case RG_TEMPFAIL:
		FUZZ_CHECK(v->code >= 400 && v->code <= 499 && v->code != 421);
		FUZZ_CHECK(v->rule >= RG_RULE_FIRST_REFUSAL);
		break;
	case RG_DROP:
		FUZZ_CHECK(v->code == 421);
		FUZZ_CHECK(v->rule >= RG_RULE_FIRST_REFUSAL);
		break;
	case RG_WOULD_REJECT:
		FUZZ_CHECK(v->code >= 400 && v->code <= 599);
		FUZZ_CHECK(v->rule >= RG_RULE_FIRST_REFUSAL);
		FUZZ_CHECK(config_rule_monitored(cfg, v->rule));
		break;
	default:
		FUZZ_CHECK(!"action out of range");
	}
	FUZZ_CHECK(policy_refused(v) == (v->action == RG_REJECT
					 || v->action == RG_TEMPFAIL
					 || v->action == RG_DROP));
	if (cfg->mode == RG_MODE_MONITOR)
		FUZZ_CHECK(!policy_refused(v));
}

/* harvest_limit_reached - the connection already crossed the limit */
static int
harvest_limit_reached(const struct rg_config *cfg, const struct rg_session *s)
{
	return cfg->harvest_limit > 0 && s->unknown_rcpts > cfg->harvest_limit;
}

/* check_rcpt - the anti-relay and counting invariants of one RCPT */
static void
check_rcpt(const struct rg_config *cfg, const struct rg_session *s,
	   const struct rg_verdict *v, const struct fake_directory *md,
	   unsigned lookups_before, int privileged)
{
	const struct address *a = &v->addr;

	if (harvest_limit_reached(cfg, s) && a->status == ADDR_OK)
		FUZZ_CHECK(v->rule == RG_RULE_HARVEST);
	if (v->rule == RG_RULE_LOCAL) {
		FUZZ_CHECK(v->dir_consulted && v->dir_result == DIR_FOUND);
		FUZZ_CHECK(md->lookups == lookups_before + 1);
		FUZZ_CHECK(strcmp(md->last, v->dir_key) == 0);
	}
	if (v->dir_consulted)
		FUZZ_CHECK(md->lookups == lookups_before + 1);
	else
		FUZZ_CHECK(md->lookups == lookups_before);
	if (v->action != RG_ACCEPT || privileged)
		return;
	/* An unprivileged client got this recipient: it must be ours. */
	FUZZ_CHECK(a->status == ADDR_OK);
	FUZZ_CHECK(v->rule == RG_RULE_LOCAL || v->rule == RG_RULE_POSTMASTER
		   || v->rule == RG_RULE_DIRECTORY_ACCEPT);
	if (!ours(&a->final_domain)) {
		fprintf(stderr, "relay: accepted final destination \"%s\" "
			"domain \"%s\"\n", a->final_local, a->final_domain.name);
		FUZZ_CHECK(!"unprivileged client relayed");
	}
	if (cfg->routing == RG_ROUTING_REJECT)
		FUZZ_CHECK((a->tricks & ADDR_TRICK_ROUTING) == 0);
}

/* next_line - the next '\n'-terminated piece of [*p, end) */
static const char *
next_line(const char **p, const char *end, size_t *len)
{
	const char *start = *p, *nl;

	if (start >= end)
		return NULL;
	nl = memchr(start, '\n', (size_t)(end - start));
	*len = (size_t)((nl ? nl : end) - start);
	*p = nl ? nl + 1 : end;
	return start;
}

/* judge_mta - the second judge on "MAILER\tHOST\tADDR" (n bytes) */
static void
judge_mta(const struct rg_config *cfg, struct rg_session *s,
	  struct rg_verdict *v, struct fake_directory *md, const char *text, size_t n)
{
	char    buf[3][600];
	const char *field[3] = {NULL, NULL, NULL};
	struct rg_mta_rcpt mta;
	enum rg_rule rule = v->rule;
	int     refused = policy_refused(v), code = v->code, k;
	unsigned lookups = md->lookups;
	size_t  i = 0, o;

	for (k = 0; k < 3; k++) {
		for (o = 0; i < n && text[i] != '\t' && o + 1 < sizeof(buf[k]); i++)
			buf[k][o++] = text[i] == '\0' ? '?' : text[i];
		buf[k][o] = '\0';
		if (i < n && text[i] == '\t')
			i++;
		field[k] = strcmp(buf[k], "-") == 0 ? NULL : buf[k];
	}
	mta.mailer = field[0];
	mta.host = field[1];
	mta.addr = field[2];
	policy_judge_mta(cfg, (struct directory *)md, s, &mta, v);
	check_verdict(cfg, v, RG_STAGE_RCPT);
	if (refused) {
		FUZZ_CHECK(policy_refused(v) && v->rule == rule && v->code == code);
		FUZZ_CHECK(md->lookups == lookups);
	}
	if (md->lookups > lookups) {
		FUZZ_CHECK(md->lookups == lookups + 1);
		FUZZ_CHECK(strcmp(md->last, v->dir_key) == 0);
	}
	if (v->rule == RG_RULE_LOCAL && !refused && md->lookups > lookups)
		FUZZ_CHECK(md->last_result == DIR_FOUND);
}

/* LLVMFuzzerTestOneInput - one transaction */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *clients[] = {"198.51.100.7", "10.1.2.3", "10.9.0.5"};
	static struct rg_config *cfgs[4];
	static struct rg_verdict v;	/* large: keep it off the stack */
	struct fake_directory md;
	struct rg_session s;
	const struct rg_config *cfg;
	const char *p, *end, *line;
	unsigned sel, ci, nrcpt, unknown = 0, accepted_blank = 0, before;
	size_t len;
	int privileged;

	if (cfgs[0] == NULL) {
		cfgs[0] = load(conf_enforce);
		cfgs[1] = load(conf_monitor);
		cfgs[2] = load(conf_strict);
		cfgs[3] = load(conf_defaults);
		FUZZ_CHECK(cfgs[0]->harvest_limit == HARVEST_LIMIT);
		FUZZ_CHECK(cfgs[1]->mode == RG_MODE_MONITOR);
	}
	if (size < 1)
		return 0;
	sel = data[0] & 0x3f;
	ci = (sel >> 3) & 3;
	cfg = cfgs[ci];
	fake_directory_found = dir_users;
	fake_directory_error_prefix = "dirfail";
	fake_directory_check = check_key;
	fake_directory_init(&md);

	policy_session_init(&s);
	if ((sel & 3) != 3) {
		FUZZ_CHECK(rg_ip_parse(clients[sel & 3], &s.client_ip));
		s.client_ip_known = 1;
	}
	strcpy(s.client_name, "client.example.net");
	if (sel & 4)
		strcpy(s.auth_user, "fuzzuser");
	privileged = policy_client_privileged(cfg, &s);
	/* Judged independently of the configuration's lookups. */
	/* Judged here: never-relay beats trusted and authentication. */
	FUZZ_CHECK(privileged == (!((sel & 3) == 2 && conf_has_never_relay[ci])
				  && ((sel & 3) == 1 || (sel & 3) == 2
				      || ((sel & 4) && conf_relay_auth[ci]))));

	policy_decide(cfg, NULL, &s, RG_STAGE_CONNECT, NULL, 0, &v);
	check_verdict(cfg, &v, RG_STAGE_CONNECT);
	policy_commit(&s, &v);
	policy_decide(cfg, NULL, &s, RG_STAGE_HELO, "client.example.net", 18, &v);
	check_verdict(cfg, &v, RG_STAGE_HELO);
	policy_commit(&s, &v);

	p = (const char *)data + 1;
	end = (const char *)data + size;
	if ((line = next_line(&p, end, &len)) == NULL)
		return 0;
	policy_decide(cfg, (struct directory *)&md, &s, RG_STAGE_MAIL, line, len, &v);
	check_verdict(cfg, &v, RG_STAGE_MAIL);
	FUZZ_CHECK(md.lookups == 0);
	policy_commit(&s, &v);
	if (policy_refused(&v))
		return 0;		/* the MTA sends no RCPT after that */
	FUZZ_CHECK(s.in_txn);
	if (sel & 32)
		s.smtputf8 = 1;

	for (nrcpt = 0; nrcpt < MAX_RCPTS
	     && (line = next_line(&p, end, &len)) != NULL; nrcpt++) {
		const char *tab = memchr(line, '\t', len);

		before = md.lookups;
		policy_decide(cfg, (struct directory *)&md, &s, RG_STAGE_RCPT,
			      line, tab != NULL ? (size_t)(tab - line) : len, &v);
		check_verdict(cfg, &v, RG_STAGE_RCPT);
		check_rcpt(cfg, &s, &v, &md, before, privileged);
		if (tab != NULL)
			judge_mta(cfg, &s, &v, &md, tab + 1, len - (size_t)(tab + 1 - line));
		if (v.rule == RG_RULE_UNKNOWN)
			unknown++;
		if (s.sender_null && !privileged && v.action == RG_ACCEPT
		    && v.rule != RG_RULE_POSTMASTER)
			accepted_blank++;
		policy_commit(&s, &v);
		FUZZ_CHECK(s.rcpts == nrcpt + 1);
		FUZZ_CHECK(s.rcpts_accepted + s.rcpts_refused == s.rcpts);
	}
	if (cfg->harvest_limit > 0)
		FUZZ_CHECK(unknown <= cfg->harvest_limit);
	if (cfg->blank_sender == RG_BLANK_SINGLE
	    && !config_rule_monitored(cfg, RG_RULE_BLANK_SENDER))
		FUZZ_CHECK(accepted_blank <= 1);
	return 0;
}
