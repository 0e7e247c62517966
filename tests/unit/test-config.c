/*
 * test-config - relayguard.conf parsing, validation, defaults and lookups
 *
 * Tables of configuration texts with the exact "FILE:LINE: reason" each
 * must produce, the corpus under tests/corpus/config (good-*.conf must
 * load, each bad-*.conf names its expected error in a "# expect:" first
 * line), the shipped conf/relayguard.conf, and the hot-path lookups.
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "netlist.h"
#include "address.h"
#include "config.h"
#include "ldap_filter.h"
#include "milter_text.h"
#include "rglog.h"
#include "testlib.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

/* srcdir - the source tree (make check exports top_srcdir) */
static const char *
srcdir(void)
{
	const char *d = getenv("top_srcdir");

	return d != NULL && *d != '\0' ? d : TOP_SRCDIR;
}

/* parse - config_parse over a C string, named t.conf */
static struct rg_config *
parse(const char *text, char *err, size_t errlen)
{
	return config_parse(text, strlen(text), "t.conf", err, errlen);
}

/* now_ms - wall clock in milliseconds */
static double
now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec * 1000.0 + tv.tv_usec / 1000.0;
}

static void
test_defaults(void)
{
	struct rg_config *cfg = config_defaults();
	size_t  i;

	test_begin("defaults");
	test_assert_int(cfg->mode, 0);
	for (i = 0; i < RG_RULE_COUNT; i++)
		test_assert_int(cfg->rule_monitor[i], -1);
	test_assert_int(cfg->local_domains.nexact, 0);
	test_assert(cfg->qualify_domain == NULL);
	test_assert_int(cfg->trusted_networks.count, 0);
	test_assert_int(cfg->relay_authenticated, 1);
	test_assert_int(cfg->routing, RG_ROUTING_REJECT);
	test_assert_int(cfg->blank_sender, RG_BLANK_SINGLE);
	test_assert_int(cfg->local_sender_from_untrusted, 0);
	test_assert_int(cfg->harvest_limit, 20);
	test_assert_str(cfg->directory, "file:" SYSCONFDIR "/relayguard/recipients");
	test_assert_int(cfg->directory_failure, RG_DIRFAIL_TEMPFAIL);
	test_assert_str(cfg->socket, "inet:8894@127.0.0.1");
	test_assert_int(cfg->socket_mode, 0660);
	test_assert(cfg->user == NULL);
	test_assert(cfg->pidfile == NULL);
	test_assert_str(cfg->syslog_facility, "mail");
	test_assert_int(cfg->allow_root, 0);
	test_assert_int(cfg->milter_timeout, 7210);
	test_assert(cfg->ldap_uri == NULL);
	test_assert_int(cfg->ldap_scope, RG_LDAP_SCOPE_SUB);
	test_assert_str(cfg->ldap_filter, "(|(mail=%s)(mailLocalAddress=%s))");
	test_assert_int(cfg->ldap_starttls, 0);
	test_assert_int(cfg->ldap_timeout_ms, 5000);
	test_assert_int(cfg->ldap_network_timeout_ms, 3000);
	test_assert_int(cfg->ldap_pool_size, 4);
	test_assert_int(cfg->cache_positive_ttl, 300);
	test_assert_int(cfg->cache_negative_ttl, 60);
	test_assert_int(cfg->cache_size, 10000);
	test_assert_str(cfg->audit_db, LOCALSTATEDIR "/lib/relayguard/audit.db");
	test_assert_int(cfg->audit_flush_ms, 200);
	test_assert_int(cfg->audit_batch_rows, 1000);
	test_assert_int(cfg->audit_queue_rows, 65536);
	test_assert_int(cfg->audit_retention_days, 90);
	test_assert_int(cfg->audit_failure, RG_AUDITFAIL_CONTINUE);
	cfg = config_free(cfg);
	test_assert(cfg == NULL);
	test_end();
}

static void
test_default_replies(void)
{
	static const struct {
		enum rg_reply_id id;
		const char *name;
		int     code;
		const char *ecode;
		const char *text;
	} want[] = {
		{RG_REPLY_RELAY, "relay", 550, "5.7.1", "Relay access denied"},
		{RG_REPLY_ROUTING, "routing", 550, "5.7.1",
		 "Sender-specified routing denied"},
		{RG_REPLY_UNKNOWN, "unknown", 550, "5.1.1",
		 "Recipient address rejected: user unknown"},
		{RG_REPLY_BLANK_SENDER, "blank_sender", 550, "5.7.1",
		 "Blank sender not accepted for this recipient"},
		{RG_REPLY_BLANK_SENDER_DROP, "blank_sender_drop", 421, "4.7.0",
		 "Blank sender refused, closing connection"},
		{RG_REPLY_SENDER_DENY, "sender_deny", 550, "5.7.1",
		 "Sender address rejected"},
		{RG_REPLY_SPOOF, "spoof", 550, "5.7.1",
		 "Local sender address not allowed from outside"},
		{RG_REPLY_HARVEST, "harvest", 421, "4.7.0",
		 "Too many unknown recipients, closing connection"},
		{RG_REPLY_SYNTAX, "syntax", 501, "5.1.3", "Bad address syntax"},
		{RG_REPLY_UTF8, "utf8", 553, "5.6.7",
		 "Non-ASCII address requires SMTPUTF8"},
		{RG_REPLY_DIRECTORY, "directory_unavailable", 451, "4.4.3",
		 "Directory unavailable, try again later"},
		{RG_REPLY_UNQUALIFIED, "unqualified", 550, "5.1.3",
		 "Recipient address must include a domain"},
		{RG_REPLY_AUDIT, "audit_unavailable", 451, "4.3.0",
		 "Audit trail unavailable, try again later"},
		{RG_REPLY_CLIENT_PENALTY, "client_penalty", 421, "4.7.0",
		 "Too many refused commands from your network, try again later"},
		{RG_REPLY_CLIENT_PENALTY_RCPT, "client_penalty_rcpt", 450, "4.7.1",
		 "Too many refused recipients from your network, try again later"},
		{RG_REPLY_MTA_MISMATCH, "mta_mismatch", 550, "5.7.1",
		 "Relay access denied"},
		{RG_REPLY_AUTH_LIMIT, "auth_limit", 450, "4.7.1",
		 "Sending limit reached for this account, try again later"},
		{RG_REPLY_TRUSTED_LIMIT, "trusted_limit", 450, "4.7.1",
		 "Sending limit reached for this host, try again later"},
	};
	struct rg_config *cfg = config_defaults();
	size_t  i;

	test_begin("default replies and reply names");
	test_assert_int(RG_ARRAY_LEN(want), RG_REPLY_COUNT);
	for (i = 0; i < RG_ARRAY_LEN(want); i++) {
		const struct rg_reply *r = &cfg->replies[want[i].id];

		test_assert_str(rg_reply_name(want[i].id), want[i].name);
		test_assert_int(r->code, want[i].code);
		test_assert_str(r->ecode, want[i].ecode);
		test_assert_str(r->text, want[i].text);
	}
	cfg = config_free(cfg);
	test_end();
}

static void
test_rule_names(void)
{
	static const char *const want[RG_RULE_COUNT] = {
		"pass", "local", "trusted", "authenticated", "postmaster",
		"directory_accept", "mta", "relay", "routing", "unknown",
		"blank_sender", "sender_deny", "spoof", "harvest", "syntax",
		"utf8", "directory_unavailable", "unqualified", "audit_unavailable",
		"client_penalty", "client_penalty_rcpt",
		"mta_mismatch", "auth_limit", "trusted_limit",
	};
	size_t  i;

	test_begin("rule names");
	for (i = 0; i < RG_RULE_COUNT; i++)
		test_assert_str(rg_rule_name((enum rg_rule)i), want[i]);
	test_assert_str(rg_rule_name(RG_RULE_COUNT), "invalid");
	test_assert_str(rg_reply_name(RG_REPLY_COUNT), "invalid");
	test_end();
}

/* load_corpus - config_load a file of tests/corpus/config */
static struct rg_config *
load_corpus(const char *name, char *path, size_t pathlen, char *err,
	    size_t errlen)
{
	snprintf(path, pathlen, "%s/tests/corpus/config/%s", srcdir(), name);
	return config_load(path, err, errlen);
}

static void
test_every_key(void)
{
	char    err[400], path[400];
	struct rg_config *cfg;
	struct rg_ip ip;

	test_begin("every key parsed (good-full.conf)");
	cfg = load_corpus("good-full.conf", path, sizeof(path), err,
			  sizeof(err));
	test_assert(cfg != NULL);
	if (cfg == NULL) {
		fprintf(stderr, "%s\n", err);
		test_end();
		return;
	}
	test_assert_str(cfg->path, path);
	test_assert_int(cfg->mode, 1);
	test_assert_int(cfg->local_domains.nexact, 3);
	test_assert_int(cfg->local_domains.nsuffix, 1);
	test_assert_str(cfg->local_domains.exact[1], "example.net");
	test_assert_str(cfg->local_domains.suffix[0], ".hosted.example.org");
	test_assert_str(cfg->qualify_domain, "example.org");
	test_assert_int(cfg->local_addresses.count, 3);
	test_assert(rg_ip_parse("192.0.2.26", &ip) &&
		    netlist_match(&cfg->local_addresses, &ip));
	test_assert(rg_ip_parse("2001:db8::25", &ip) &&
		    netlist_match(&cfg->local_addresses, &ip));
	test_assert_int(cfg->trusted_networks.count, 2);
	test_assert(rg_ip_parse("2001:db8:1:ffff::1", &ip) &&
		    netlist_match(&cfg->trusted_networks, &ip));
	test_assert_int(cfg->never_relay_networks.count, 1);
	test_assert_int(cfg->relay_authenticated, 0);
	test_assert_int(cfg->routing, RG_ROUTING_RESOLVE);
	test_assert_int(cfg->blank_sender, RG_BLANK_DROP);
	test_assert_int(cfg->sender_deny.count, 4);
	test_assert_str(cfg->sender_deny.items[2], "*@*.spam.example");
	test_assert_str(cfg->sender_deny.items[3], "<>");
	test_assert_int(cfg->local_sender_from_untrusted, 1);
	test_assert_int(cfg->harvest_limit, 5);
	test_assert_str(cfg->directory, "ldap");
	test_assert_int(cfg->directory_failure, RG_DIRFAIL_ACCEPT);
	test_assert_int(cfg->replies[RG_REPLY_RELAY].code, 554);
	test_assert_str(cfg->replies[RG_REPLY_RELAY].text,
			"No relaying, see https://example.org/#relay");
	test_assert_int(cfg->replies[RG_REPLY_UNKNOWN].code, 550);
	test_assert_str(cfg->replies[RG_REPLY_UNKNOWN].text, "No such user here");
	test_assert_int(cfg->replies[RG_REPLY_DIRECTORY].code, 450);
	test_assert_str(cfg->replies[RG_REPLY_DIRECTORY].text,
			"Try \"later\" \\ please");
	test_assert_int(cfg->rule_monitor[RG_RULE_RELAY], 1);
	test_assert_int(cfg->rule_monitor[RG_RULE_UNKNOWN], 0);
	test_assert_int(cfg->rule_monitor[RG_RULE_SPOOF], -1);
	test_assert_str(cfg->socket, "unix:/run/relayguard/relayguard.sock");
	test_assert_int(cfg->socket_mode, 0600);
	test_assert_str(cfg->user, "relayguard");
	test_assert_str(cfg->pidfile, "/run/relayguard/relayguard.pid");
	test_assert_str(cfg->syslog_facility, "local3");
	test_assert_int(cfg->allow_root, 1);
	test_assert_int(cfg->milter_timeout, 600);
	test_assert_str(cfg->ldap_uri,
			"ldap://ldap1.example.org LDAP://ldap2.example.org:3389");
	test_assert_str(cfg->ldap_base, "ou=People, dc=example, dc=org");
	test_assert_int(cfg->ldap_scope, RG_LDAP_SCOPE_ONE);
	test_assert_str(cfg->ldap_filter,
			"(&(objectClass=inetOrgPerson)(|(mail=%s)(uid=%u)))");
	test_assert_str(cfg->ldap_bind_dn, "cn=relayguard,dc=example,dc=org");
	test_assert_str(cfg->ldap_bind_password_file,
			"/etc/relayguard/ldap.secret");
	test_assert_int(cfg->ldap_starttls, 1);
	test_assert_int(cfg->ldap_timeout_ms, 1500);
	test_assert_int(cfg->ldap_network_timeout_ms, 2000);
	test_assert_int(cfg->ldap_pool_size, 8);
	test_assert_int(cfg->cache_positive_ttl, 600);
	test_assert_int(cfg->cache_negative_ttl, 30);
	test_assert_int(cfg->cache_size, 0);
	test_assert(cfg->audit_db == NULL);
	test_assert_int(cfg->audit_flush_ms, 50);
	test_assert_int(cfg->audit_batch_rows, 500);
	test_assert_int(cfg->audit_queue_rows, 4096);
	test_assert_int(cfg->audit_retention_days, 0);
	test_assert_int(cfg->audit_failure, RG_AUDITFAIL_TEMPFAIL);
	cfg = config_free(cfg);
	test_end();
}

static void
test_values(void)
{
	static const struct {
		const char *text;
		int     bools;		/* expected relay_authenticated */
	} bools[] = {
		{"yes", 1}, {"no", 0}, {"true", 1}, {"false", 0}, {"on", 1},
		{"off", 0}, {"1", 1}, {"0", 0}, {"YES", 1}, {"\"no\"", 0},
	};
	static const struct {
		const char *text;
		unsigned ms;
	} durations[] = {
		{"5", 5000}, {"5s", 5000}, {"250ms", 250}, {"1m", 60000},
		{"1h", 3600000}, {"\"2s\"", 2000},
	};
	char    text[256], err[512];
	struct rg_config *cfg;
	size_t  i;

	test_begin("booleans, durations, octal modes, enums, strings");
	for (i = 0; i < RG_ARRAY_LEN(bools); i++) {
		snprintf(text, sizeof(text), "relay_authenticated = %s\n",
			 bools[i].text);
		cfg = parse(text, err, sizeof(err));
		test_assert(cfg != NULL);
		if (cfg != NULL)
			test_assert_int(cfg->relay_authenticated, bools[i].bools);
		cfg = config_free(cfg);
	}
	for (i = 0; i < RG_ARRAY_LEN(durations); i++) {
		snprintf(text, sizeof(text), "ldap_timeout = %s\n",
			 durations[i].text);
		cfg = parse(text, err, sizeof(err));
		test_assert(cfg != NULL);
		if (cfg != NULL)
			test_assert_int(cfg->ldap_timeout_ms, durations[i].ms);
		cfg = config_free(cfg);
	}
	/* audit_flush_ms: a bare number is milliseconds */
	cfg = parse("audit_flush_ms = 75\ncache_negative_ttl = 2m\n", err,
		    sizeof(err));
	test_assert(cfg != NULL && cfg->audit_flush_ms == 75 &&
		    cfg->cache_negative_ttl == 120);
	cfg = config_free(cfg);
	cfg = parse("socket_mode = 660\nsocket = inet6:8894@::1\n"
		    "blank_sender = Single-Recipient\nuser =\n"
		    "audit_db = \"\"\n", err, sizeof(err));
	test_assert(cfg != NULL);
	if (cfg != NULL) {
		test_assert_int(cfg->socket_mode, 0660);
		test_assert_str(cfg->socket, "inet6:8894@::1");
		test_assert_int(cfg->blank_sender, RG_BLANK_SINGLE);
		test_assert(cfg->user == NULL);
		test_assert(cfg->audit_db == NULL);
	}
	cfg = config_free(cfg);
	cfg = parse("directory = ldap:\nldap_uri = ldapi://%2Frun%2Fslapd\n"
		    "ldap_base = dc=example\n"
		    "socket = local:/tmp/rg.sock\n", err, sizeof(err));
	test_assert(cfg != NULL && strcmp(cfg->directory, "ldap") == 0);
	cfg = config_free(cfg);
	/* LDAP settings are checked together only for directory = ldap */
	cfg = parse("ldap_bind_dn = cn=x\nldap_starttls = yes\n"
		    "ldap_uri = ldaps://x\n", err, sizeof(err));
	test_assert(cfg != NULL);
	cfg = config_free(cfg);
	cfg = parse("directory = ldap\nldap_uri = ldap://x\nldap_base = dc=x\n"
		    "ldap_bind_dn = cn=x\nldap_bind_password_file = /x\n"
		    "directory = file:/x\ndirectory = ldap\n", err, sizeof(err));
	test_assert(cfg != NULL && strcmp(cfg->directory, "ldap") == 0);
	cfg = config_free(cfg);
	cfg = parse("directory = file:/etc/relayguard/recipients\n", err,
		    sizeof(err));
	test_assert(cfg != NULL &&
		    strcmp(cfg->directory, "file:/etc/relayguard/recipients") == 0);
	cfg = config_free(cfg);
	test_end();
}

static void
test_syntax(void)
{
	char    err[512];
	struct rg_config *cfg;

	test_begin("quotes, comments, continuations, last wins");
	cfg = parse("# comment\n"
		    "   # indented comment\n"
		    "\n"
		    "reply.relay = \"550 5.7.1 Relay # not a comment, really\""
		    "   # but this is\n"
		    "ldap_filter = (&(mail=%s)(x=a#b))   # comment\n"
		    "ldap_base = \"ou=a\\\\b, dc=\\\"q\\\"\"\n"
		    "sender_deny = \"a,b@example.com\",c@example.com\r\n"
		    "local_domains = one.example\n"
		    "local_domains = two.example\n"
		    "  three.example\n"
		    "harvest_limit = 3\n"
		    "harvest_limit = 7\n", err, sizeof(err));
	test_assert(cfg != NULL);
	if (cfg == NULL) {
		fprintf(stderr, "%s\n", err);
		test_end();
		return;
	}
	test_assert_str(cfg->replies[RG_REPLY_RELAY].text,
			"Relay # not a comment, really");
	test_assert_str(cfg->ldap_filter, "(&(mail=%s)(x=a#b))");
	test_assert_str(cfg->ldap_base, "ou=a\\b, dc=\"q\"");
	test_assert_int(cfg->sender_deny.count, 2);
	test_assert_str(cfg->sender_deny.items[0], "a,b@example.com");
	test_assert_str(cfg->sender_deny.items[1], "c@example.com");
	/* the last local_domains replaces the first */
	test_assert_int(cfg->local_domains.nexact, 2);
	test_assert_str(cfg->qualify_domain, "two.example");
	test_assert(!config_local_domain(cfg, "one.example"));
	test_assert(config_local_domain(cfg, "three.example"));
	test_assert_int(cfg->harvest_limit, 7);
	cfg = config_free(cfg);

	/* an empty list value empties the list */
	cfg = parse("trusted_networks = 10.0.0.0/8\ntrusted_networks =\n",
		    err, sizeof(err));
	test_assert(cfg != NULL && cfg->trusted_networks.count == 0);
	cfg = config_free(cfg);
	/* an empty file is all defaults; no final newline is fine */
	cfg = parse("", err, sizeof(err));
	test_assert(cfg != NULL && cfg->harvest_limit == 20);
	cfg = config_free(cfg);
	cfg = parse("harvest_limit = 9", err, sizeof(err));
	test_assert(cfg != NULL && cfg->harvest_limit == 9);
	cfg = config_free(cfg);
	/* a UTF-8 byte order mark before the first key is ignored */
	cfg = parse("\xef\xbb\xbfharvest_limit = 8\n", err, sizeof(err));
	test_assert(cfg != NULL && cfg->harvest_limit == 8);
	cfg = config_free(cfg);
	test_end();
}

/* test_owned_validators - what the parser accepts, the module that uses
 * the value accepts too (the daemon used to refuse syslog_facility =
 * auth after relayguard-check had passed it) */
static void
test_owned_validators(void)
{
	struct rg_config *cfg;
	char text[128], err[512], path[128], why[256];
	enum mt_socket_kind kind;
	size_t i;

	test_begin("validators: config.c and the owning module agree");
	for (i = 0; rglog_facility_names[i] != NULL; i++) {
		snprintf(text, sizeof(text), "syslog_facility = %s\n",
			 rglog_facility_names[i]);
		cfg = parse(text, err, sizeof(err));
		test_assert(cfg != NULL);
		test_assert(cfg != NULL && rglog_facility(cfg->syslog_facility) >= 0);
		cfg = config_free(cfg);
	}
	test_assert(rglog_facility("auth") >= 0);
	cfg = parse("syslog_facility = AUTHPRIV\n", err, sizeof(err));
	test_assert(cfg != NULL && rglog_facility(cfg->syslog_facility) == LOG_AUTHPRIV);
	cfg = config_free(cfg);
	/* the defaults pass the owners' checks */
	cfg = config_defaults();
	test_assert_int(mt_socket_check(cfg->socket, &kind, path, sizeof(path),
					why, sizeof(why)), 0);
	test_assert_int(ldap_filter_check(cfg->ldap_filter, why, sizeof(why)), 0);
	test_assert(rglog_facility(cfg->syslog_facility) >= 0);
	cfg = config_free(cfg);
	test_end();
}

static void
test_errors(void)
{
	static const struct {
		const char *text;
		const char *want;	/* exact message */
	} cases[] = {
		{"\n# c\nrelay_networks = x\n",
		 "t.conf:3: unknown key \"relay_networks\""},
		{"Mode = monitor\n",
		 "t.conf:1: unknown key \"Mode\" (key names are lower-case)"},
		{"ldap_bind_password = secret\n",
		 "t.conf:1: unknown key \"ldap_bind_password\": put the password "
		 "in a file of its own and name it with ldap_bind_password_file"},
		{"mode enforce\n",
		 "t.conf:1: missing \"=\": expected \"key = value\""},
		{"mode # = monitor\n",
		 "t.conf:1: missing \"=\": expected \"key = value\""},
		{"= x\n", "t.conf:1: empty key before \"=\""},
		{"  mode = monitor\n",
		 "t.conf:1: line starts with whitespace but continues no setting "
		 "(start \"key = value\" lines in the first column)"},
		{"mode = enfroce\n",
		 "t.conf:1: mode: \"enfroce\": expected enforce or monitor"},
		{"mode =\n", "t.conf:1: mode: \"\": expected enforce or monitor"},
		{"routing = allow\n",
		 "t.conf:1: routing: \"allow\": expected reject or resolve"},
		{"local_sender_from_untrusted = drop\n",
		 "t.conf:1: local_sender_from_untrusted: \"drop\": expected "
		 "accept or reject"},
		{"directory_failure = reject\n",
		 "t.conf:1: directory_failure: \"reject\": expected tempfail or "
		 "accept"},
		{"audit_failure = stop\n",
		 "t.conf:1: audit_failure: \"stop\": expected continue, tempfail or spool"},
		{"audit_db = /tmp/a.db\naudit_failure = spool\n",
		 "t.conf:2: audit_failure = spool needs a PostgreSQL audit_db "
		 "(postgresql://...): an SQLite audit database is its own local "
		 "store"},
		{"node = mx 1\n",
		 "t.conf:1: node: \"mx 1\": only printable ASCII without spaces "
		 "(a host name)"},
		{"ldap_scope = subtree\n",
		 "t.conf:1: ldap_scope: \"subtree\": expected sub, one or base"},
		{"\n\ntrusted_networks = 127.0.0.0/8\n\n  # c\n  10.0.0.0/33\n",
		 "t.conf:6: trusted_networks: \"10.0.0.0/33\": bad prefix length "
		 "(0..32 expected)"},
		{"never_relay_networks = 10.1\n",
		 "t.conf:1: never_relay_networks: \"10.1\": not an IPv4 or IPv6 "
		 "address"},
		{"local_addresses = example.org\n",
		 "t.conf:1: local_addresses: \"example.org\": not an IPv4 or IPv6 "
		 "address"},
		{"reply.relay = \"250 2.0.0 ok\"\n",
		 "t.conf:1: reply.relay: code 250 is not 4xx or 5xx"},
		{"a = b\n", "t.conf:1: unknown key \"a\""},
		{"harvest_limit = 100001\n",
		 "t.conf:1: harvest_limit: \"100001\": expected a whole number "
		 "from 0 to 100000"},
		{"harvest_limit = 99999999999999999999\n",
		 "t.conf:1: harvest_limit: \"99999999999999999999\": expected a "
		 "whole number from 0 to 100000"},
		{"ldap_pool_size = 0\n",
		 "t.conf:1: ldap_pool_size: \"0\": expected a whole number from 1 "
		 "to 256"},
		{"ldap_timeout = 0\n",
		 "t.conf:1: ldap_timeout: \"0\": out of range (1ms to 3600000ms)"},
		{"ldap_timeout = 2h\n",
		 "t.conf:1: ldap_timeout: \"2h\": out of range (1ms to 3600000ms)"},
		{"ldap_timeout = 5x\n",
		 "t.conf:1: ldap_timeout: \"5x\": expected a duration: bare "
		 "seconds, or a number with an ms, s, m or h suffix (e.g. 5s, "
		 "500ms)"},
		{"cache_positive_ttl = 1500ms\n",
		 "t.conf:1: cache_positive_ttl: \"1500ms\": not a whole number of "
		 "seconds"},
		{"socket_mode = 01777\n",
		 "t.conf:1: socket_mode: \"01777\": expected an octal permission "
		 "mode from 0000 to 0777 (e.g. 0660)"},
		{"socket = 8894\n",
		 "t.conf:1: socket: \"8894\": expected inet:PORT@HOST, "
		 "inet6:PORT@HOST or unix:PATH"},
		{"socket = inet:8894\n",
		 "t.conf:1: socket: \"inet:8894\": missing @HOST (inet:PORT@HOST, "
		 "e.g. inet:8894@127.0.0.1)"},
		{"socket = inet:0@127.0.0.1\n",
		 "t.conf:1: socket: \"inet:0@127.0.0.1\": port must be a number "
		 "from 1 to 65535"},
		{"socket = unix:\n",
		 "t.conf:1: socket: \"unix:\": missing the path after unix:"},
		{"mode = enforce\npolicy_socket = inet:10040@localhost\n",
		 "t.conf:2: policy_socket: \"inet:10040@localhost\": \"localhost\" "
		 "is not a numeric IPv4 address (the policy protocol has no "
		 "authentication: say where to listen)"},
		{"policy_socket = 10040\n",
		 "t.conf:1: policy_socket: \"10040\": expected unix:/PATH, "
		 "inet:PORT@IPV4 or inet6:PORT@IPV6"},
		{"policy_timeout = 0s\n",
		 "t.conf:1: policy_timeout: \"0s\": out of range (1s to 3600s)"},
		{"syslog_facility = mial\n",
		 "t.conf:1: syslog_facility: \"mial\": expected one of auth, "
		 "authpriv, cron, daemon, ftp, kern, local0, local1, local2, "
		 "local3, local4, local5, local6, local7, lpr, mail, news, "
		 "syslog, user or uucp"},
		{"directory = ldap\n",
		 "t.conf:1: directory = ldap needs ldap_uri (the servers to ask)"},
		{"ldap_uri = ldap://x\n\ndirectory = ldap\n",
		 "t.conf:3: directory = ldap needs ldap_base (where to search)"},
		{"directory = ldap\nldap_uri = ldap://x\nldap_base = dc=x\n"
		 "# c\nldap_bind_dn = cn=x\n",
		 "t.conf:5: ldap_bind_dn needs ldap_bind_password_file (the file "
		 "holding the password)"},
		{"directory = ldap\nldap_uri = ldap://x\nldap_base = dc=x\n"
		 "ldap_bind_password_file = /x\n",
		 "t.conf:4: ldap_bind_password_file needs ldap_bind_dn (the DN to "
		 "bind as)"},
		{"directory = ldap\nldap_uri = ldap://x, LDAPS://y\n"
		 "ldap_starttls = on\nldap_base = dc=x\n",
		 "t.conf:3: ldap_starttls = yes with an ldaps:// URI: that "
		 "connection is already encrypted (use ldap://)"},
		{"directory = file:\n",
		 "t.conf:1: directory: \"file:\": expected file:PATH or ldap"},
		{"ldap_uri = ldap.example.org\n",
		 "t.conf:1: ldap_uri: \"ldap.example.org\": expected an ldap://, "
		 "ldaps:// or ldapi:// URI"},
		{"ldap_filter = (mail=x)\n",
		 "t.conf:1: ldap_filter: \"(mail=x)\": no %s, %u or %d: every "
		 "recipient would match the same way"},
		{"ldap_filter = (|(mail=%s)\n",
		 "t.conf:1: ldap_filter: \"(|(mail=%s)\": unbalanced '(' (1 not "
		 "closed)"},
		/* the LDAP backend refused these only when it opened, without
		 * FILE:LINE; the parser now asks the same validators */
		{"ldap_filter = (mail=%s)(uid=%u)\n",
		 "t.conf:1: ldap_filter: \"(mail=%s)(uid=%u)\": text after the end "
		 "of the filter at offset 9"},
		{"socket = unix:relative.sock\n",
		 "t.conf:1: socket: \"unix:relative.sock\": the unix socket path "
		 "must be absolute"},
		{"socket = inet6:8894@::zz\n",
		 "t.conf:1: socket: \"inet6:8894@::zz\": bad IPv6 address"},
		{"ldap_base = \"a\" b\n",
		 "t.conf:1: ldap_base: text after the closing quote (ldap_base "
		 "takes one value)"},
		{"sender_deny = \"a@b\"c\n",
		 "t.conf:1: sender_deny: text right after a closing quote "
		 "(separate list items with spaces or commas)"},
		{"sender_deny = info\n",
		 "t.conf:1: sender_deny: \"info\": expected an address, @domain, "
		 "a pattern with \"*\" or <>"},
		{"sender_deny = info@\n",
		 "t.conf:1: sender_deny: \"info@\": nothing after \"@\""},
		{"monitor.relay = sometimes\n",
		 "t.conf:1: monitor.relay: \"sometimes\": expected yes or no"},
		{"monitor.pass = yes\n",
		 "t.conf:1: unknown key \"monitor.pass\" (the rules are monitor. "
		 "followed by relay, routing, unknown, blank_sender, sender_deny, "
		 "spoof, harvest, syntax, utf8, directory_unavailable, "
		 "unqualified, audit_unavailable, client_penalty, "
		 "client_penalty_rcpt, mta_mismatch, auth_limit or "
		 "trusted_limit)"},
		{"reply.nope = \"550 5.7.1 x\"\n",
		 "t.conf:1: unknown key \"reply.nope\" (the replies are reply. "
		 "followed by relay, routing, unknown, blank_sender, "
		 "blank_sender_drop, sender_deny, spoof, harvest, syntax, utf8, "
		 "directory_unavailable, unqualified, audit_unavailable, "
		 "client_penalty, client_penalty_rcpt, mta_mismatch, "
		 "auth_limit or trusted_limit)"},
		{"mode = monitor\nreply.relay = \"550 5.7.1 x\n",
		 "t.conf:2: a quoted string does not end on this line (missing \")"},
		{"mode = monitor\nuser = a\0b\n",
		 "t.conf:2: NUL byte in the line"},
		/* the error is on the continuation line that holds the item */
		{"local_domains = a.example\n"
		 "# comment\n"
		 "\n"
		 "  b.example, c..example\n",
		 "t.conf:4: local_domains: \"c..example\": empty label (two dots "
		 "in a row?)"},
		{"local_domains = [192.0.2.1]\n",
		 "t.conf:1: local_domains: \"[192.0.2.1]\": an address literal: "
		 "list our addresses in local_addresses"},
		{"local_domains = -x.example\n",
		 "t.conf:1: local_domains: \"-x.example\": a label starts with "
		 "\"-\""},
		{"local_domains = x_y.example\n",
		 "t.conf:1: local_domains: \"x_y.example\": only letters, digits, "
		 "\"-\" and \".\" are allowed in a host name"},
		{"local_domains = b\xc3\xa4r\xef\xbc\x8e" "example\n",
		 "t.conf:1: local_domains: \"b\xc3\xa4r\xef\xbc\x8e" "example\": invalid "
		 "internationalized domain name (IDNA2008)"},
		{"local_domains = user@example.org\n",
		 "t.conf:1: local_domains: \"user@example.org\": an address, not a "
		 "domain"},
		{"local_domains = .\n",
		 "t.conf:1: local_domains: \".\": empty domain name"},
	};
	char    err[512];
	struct rg_config *cfg;
	size_t  i;

	test_begin("error messages: FILE:LINE: reason");
	for (i = 0; i < RG_ARRAY_LEN(cases); i++) {
		size_t  len = strlen(cases[i].text);

		/* the NUL case: its length runs to the real end */
		if (strstr(cases[i].text, "user = a") != NULL)
			len += 3;
		err[0] = '\0';
		cfg = config_parse(cases[i].text, len, "t.conf", err,
				   sizeof(err));
		test_assert(cfg == NULL);
		test_assert_str(err, cases[i].want);
		cfg = config_free(cfg);
	}
	test_end();
}

static void
test_reply(void)
{
	static const struct {
		const char *text;
		int     code;
		const char *ecode;
		const char *rtext;
	} good[] = {
		{"550 5.7.1 Relay access denied", 550, "5.7.1",
		 "Relay access denied"},
		{"  421 4.7.0   Bye now  ", 421, "4.7.0", "Bye now"},
		{"451 4.999.999 x", 451, "4.999.999", "x"},
		{"554 5.0.0 100% sure", 554, "5.0.0", "100% sure"},
	};
	static const struct {
		const char *text;
		const char *want;
	} bad[] = {
		{"", "expected \"CODE X.Y.Z text\" with a 3-digit SMTP code, "
		 "e.g. \"550 5.7.1 Relay access denied\""},
		{"55 5.7.1 x", "expected \"CODE X.Y.Z text\" with a 3-digit "
		 "SMTP code, e.g. \"550 5.7.1 Relay access denied\""},
		{"5500 5.7.1 x", "expected \"CODE X.Y.Z text\" with a 3-digit "
		 "SMTP code, e.g. \"550 5.7.1 Relay access denied\""},
		{"250 2.0.0 ok", "code 250 is not 4xx or 5xx"},
		{"599 5.0.0 x", "code 599 is not an SMTP reply code (second "
		 "digit 0 to 5)"},
		{"550 Relay access denied", "missing enhanced status code after "
		 "550: expected \"550 5.X.Y text\" (RFC 3463)"},
		{"550 5.7 x", "bad enhanced status code: expected "
		 "CLASS.SUBJECT.DETAIL, each 1 to 3 digits (RFC 3463)"},
		{"550 5.7.1000 x", "bad enhanced status code: expected "
		 "CLASS.SUBJECT.DETAIL, each 1 to 3 digits (RFC 3463)"},
		{"550 5.7.1x text", "bad enhanced status code: expected "
		 "CLASS.SUBJECT.DETAIL, each 1 to 3 digits (RFC 3463)"},
		{"550 2.7.1 x", "enhanced status code class 2 is not 4 or 5"},
		{"550 4.7.1 x", "enhanced status code class 4 does not match code "
		 "550 (use 5.X.Y)"},
		{"450 5.7.1 x", "enhanced status code class 5 does not match code "
		 "450 (use 4.X.Y)"},
		{"550 5.7.1", "missing text after the enhanced status code"},
		{"550 5.7.1    ", "missing text after the enhanced status code"},
		{"550 5.7.1 a\r\nb", "text contains a line break (only one-line "
		 "replies)"},
		{"550 5.7.1 a\tb", "text contains a character that is not "
		 "printable ASCII (byte 0x09)"},
		{"550 5.7.1 caf\xc3\xa9", "text contains a character that is not "
		 "printable ASCII (byte 0xc3)"},
	};
	struct rg_reply r;
	char    err[256], big[400];
	size_t  i;

	test_begin("config_parse_reply");
	for (i = 0; i < RG_ARRAY_LEN(good); i++) {
		memset(&r, 0, sizeof(r));
		test_assert_int(config_parse_reply(good[i].text, &r, err,
						   sizeof(err)), 0);
		test_assert_int(r.code, good[i].code);
		test_assert_str(r.ecode, good[i].ecode);
		test_assert_str(r.text, good[i].rtext);
	}
	for (i = 0; i < RG_ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		test_assert_int(config_parse_reply(bad[i].text, &r, err,
						   sizeof(err)), -1);
		test_assert_str(err, bad[i].want);
	}
	/* 255 characters of text fit, 256 do not */
	memcpy(big, "550 5.7.1 ", 10);
	memset(big + 10, 'x', 255);
	big[265] = '\0';
	test_assert_int(config_parse_reply(big, &r, err, sizeof(err)), 0);
	test_assert_int(strlen(r.text), 255);
	big[265] = 'x';
	big[266] = '\0';
	test_assert_int(config_parse_reply(big, &r, err, sizeof(err)), -1);
	test_assert_str(err, "text longer than 255 characters");
	/* no error buffer: still refused, nothing written */
	test_assert_int(config_parse_reply("250 2.0.0 ok", &r, NULL, 0), -1);
	test_end();
}

static void
test_local_domains(void)
{
	static const struct {
		const char *name;
		int     local;
	} cases[] = {
		{"example.org", 1},
		{"EXAMPLE.Org", 1},
		{"example.org.", 1},
		{"example.org..", 0},
		{"x.example.org", 0},	/* only example.org is listed */
		{"xexample.org", 0},
		{"example.net", 1},
		{"mx.example.net", 0},
		{"a.hosted.example", 1},	/* .hosted.example */
		{"A.B.Hosted.Example.", 1},
		{"hosted.example", 0},		/* a suffix entry adds subdomains only */
		{"xhosted.example", 0},
		{"example.com", 0},
		{"", 0},
		{".", 0},
		{"org", 0},
	};
	char    err[512], name[64];
	struct rg_config *cfg;
	size_t  i;

	test_begin("local domains: exact, trailing dot, case, suffix entries");
	cfg = parse("local_domains = Example.ORG., example.net .hosted.example\n"
		    "  example.org\n", err, sizeof(err));
	test_assert(cfg != NULL);
	if (cfg == NULL) {
		test_end();
		return;
	}
	test_assert_int(cfg->local_domains.nexact, 2);	/* repeat dropped */
	test_assert_str(cfg->qualify_domain, "example.org");
	for (i = 0; i < RG_ARRAY_LEN(cases); i++) {
		int     got = config_local_domain(cfg, cases[i].name);

		if (got != cases[i].local)
			fprintf(stderr, "  %s: got %d\n", cases[i].name, got);
		test_assert_int(got, cases[i].local);
	}
	cfg = config_free(cfg);

	/* Many domains: every one found through the hash, none invented. */
	{
		size_t  n = 5000, len = 0, cap = n * 24;
		char   *text = xmalloc(cap);

		len += (size_t)snprintf(text, cap, "local_domains =");
		for (i = 0; i < n; i++)
			len += (size_t)snprintf(text + len, cap - len,
						"%s d%zu.example\n", i ? " " : "",
						i);
		cfg = config_parse(text, len, "t.conf", err, sizeof(err));
		test_assert(cfg != NULL);
		for (i = 0; cfg != NULL && i < n; i++) {
			snprintf(name, sizeof(name), "D%zu.example", i);
			if (!config_local_domain(cfg, name)) {
				test_assert(!"hashed domain not found");
				break;
			}
			snprintf(name, sizeof(name), "d%zu.example", i + n);
			if (config_local_domain(cfg, name)) {
				test_assert(!"unlisted domain found");
				break;
			}
		}
		cfg = config_free(cfg);
		free(text);
	}
	/* No local domains: nothing is local, no qualify domain. */
	cfg = parse("local_domains = .only-subdomains.example\n", err,
		    sizeof(err));
	test_assert(cfg != NULL && cfg->qualify_domain == NULL);
	test_assert(cfg != NULL && !config_local_domain(cfg, "example.org"));
	test_assert(cfg != NULL &&
		    config_local_domain(cfg, "a.only-subdomains.example"));
	cfg = config_free(cfg);
	test_end();
}

static void
test_is_local(void)
{
	char    err[512];
	struct rg_config *cfg;
	struct addr_domain d;

	test_begin("config_is_local: names, literals, no domain");
	cfg = parse("local_domains = example.org\n"
		    "local_addresses = 192.0.2.25 [IPv6:2001:db8::25]\n"
		    "  198.51.100.77\n", err, sizeof(err));
	test_assert(cfg != NULL);
	if (cfg == NULL) {
		test_end();
		return;
	}
	memset(&d, 0, sizeof(d));
	d.canonical = 1;
	d.type = ADDR_DOM_NONE;
	test_assert_int(config_is_local(&d, cfg), 1);
	d.type = ADDR_DOM_NAME;
	rg_strlcpy(d.name, "example.org", sizeof(d.name));
	test_assert_int(config_is_local(&d, cfg), 1);
	rg_strlcpy(d.name, "example.net", sizeof(d.name));
	test_assert_int(config_is_local(&d, cfg), 0);
	d.type = ADDR_DOM_LITERAL;
	rg_strlcpy(d.name, "[192.0.2.25]", sizeof(d.name));
	test_assert(rg_ip_parse("192.0.2.25", &d.ip));
	test_assert_int(config_is_local(&d, cfg), 1);
	test_assert(rg_ip_parse("192.0.2.26", &d.ip));
	test_assert_int(config_is_local(&d, cfg), 0);
	test_assert(rg_ip_parse("198.51.100.77", &d.ip));
	test_assert_int(config_is_local(&d, cfg), 1);
	test_assert(rg_ip_parse("2001:db8::25", &d.ip));
	test_assert_int(config_is_local(&d, cfg), 1);
	test_assert(rg_ip_parse("2001:db8::26", &d.ip));
	test_assert_int(config_is_local(&d, cfg), 0);
	/* A literal names one host, as the MTA reads it: no IPv4-mapped
	 * folding, and only in its canonical spelling. */
	test_assert(rg_ip_parse("::ffff:192.0.2.25", &d.ip));
	test_assert_int(config_is_local(&d, cfg), 0);
	test_assert(rg_ip_parse("192.0.2.25", &d.ip));
	d.canonical = 0;
	test_assert_int(config_is_local(&d, cfg), 0);
	cfg = config_free(cfg);
	cfg = parse("local_addresses = 192.0.2.25\n  198.51.100.0/24\n", err,
		    sizeof(err));
	test_assert(cfg == NULL);
	test_assert_str(err, "t.conf:2: local_addresses: \"198.51.100.0/24\": a "
			"network: list each of our addresses on its own (an "
			"address literal names one host)");
	cfg = config_free(cfg);
	cfg = parse("local_domains = b\xc3\xbc" "cher.example, .xn--caf-dma.example\n",
		    err, sizeof(err));
	test_assert(cfg != NULL);
	if (cfg != NULL) {
		/* U-labels in the file, compared in A-labels */
		test_assert_int(config_local_domain(cfg, "xn--bcher-kva.example"), 1);
		test_assert_int(config_local_domain(cfg, "a.xn--caf-dma.example"), 1);
		test_assert_int(config_local_domain(cfg, "bucher.example"), 0);
	}
	cfg = config_free(cfg);
	cfg = parse("internal_next_hops = [10.1.2.3]:25, [IPv6:2001:DB8::7], "
		    "Exchange.Corp.Example.\n", err, sizeof(err));
	test_assert(cfg != NULL);
	if (cfg != NULL) {
		test_assert_int(cfg->internal_next_hops.count, 3);
		test_assert_str(cfg->internal_next_hops.items[0], "[10.1.2.3]");
		test_assert_str(cfg->internal_next_hops.items[1], "[2001:db8::7]");
		test_assert_str(cfg->internal_next_hops.items[2],
				"exchange.corp.example");
	}
	cfg = config_free(cfg);
	cfg = parse("internal_next_hops = [10.1.2.3]:smtp\n", err, sizeof(err));
	test_assert(cfg == NULL);
	test_assert_str(err, "t.conf:1: internal_next_hops: \"[10.1.2.3]:smtp\": "
			"a port that is not a number");
	cfg = parse("internal_next_hops = bad_host.example\n", err, sizeof(err));
	test_assert(cfg == NULL);
	cfg = parse("reply.directory_unavailable = \"550 5.4.3 Down\"\n", err,
		    sizeof(err));
	test_assert(cfg == NULL);
	test_assert_str(err, "t.conf:1: reply.directory_unavailable: \"550 "
			"5.4.3\": must be a 4xx reply: a directory that cannot "
			"answer is a temporary failure, never a 5xx");
	cfg = parse("reply.audit_unavailable = \"550 5.3.0 No\"\n", err,
		    sizeof(err));
	test_assert(cfg == NULL);
	test_assert(strstr(err, "t.conf:1: reply.audit_unavailable: \"550 "
			   "5.3.0\": must be a 4xx reply") != NULL);
	cfg = parse("reply.harvest = \"550 5.7.1 Go away\"\n", err, sizeof(err));
	test_assert(cfg == NULL);
	test_assert(strstr(err, "t.conf:1: reply.harvest: \"550 5.7.1\": must be "
			   "a 421 reply") != NULL);
	cfg = parse("reply.blank_sender_drop = \"450 4.7.0 Later\"\n", err,
		    sizeof(err));
	test_assert(cfg == NULL);
	test_assert(strstr(err, "must be a 421 reply") != NULL);
	cfg = parse("reply.relay = \"421 4.7.1 Bye\"\nreply.harvest = \"421 "
		    "4.7.0 Bye\"\nreply.directory_unavailable = \"421 4.4.3 "
		    "Bye\"\n", err, sizeof(err));
	test_assert(cfg != NULL);
	cfg = config_free(cfg);
	test_end();
}

static void
test_sender_deny(void)
{
	static const struct {
		const char *addr;
		int     denied;
	} cases[] = {
		{"spammer@example.net", 1},
		{"SPAMMER@Example.NET", 1},
		{"spammer2@example.net", 0},
		{"anyone@junk.example", 1},
		{"anyone@sub.junk.example", 0},		/* @domain is exact */
		{"x@host.spam.example", 1},		/* *@*.spam.example */
		{"x@spam.example", 0},
		{"info@anything.example", 1},		/* info@* */
		{"INFO@anything.example", 1},
		{"infos@anything.example", 0},
		{"newsletter-42@bulk.example", 1},	/* newsletter-*@bulk.example */
		{"newsletter@bulk.example", 0},
		{"a@b@c.example", 0},
		{"x@deep.sub.bulk.example", 1},		/* @*.bulk.example */
		{"x@bulk.example", 0},
		{"bulk.example@x.example", 0},
		{"", 1},				/* <> */
		{"postmaster@example.org", 0},
	};
	char    err[512];
	struct rg_config *cfg;
	size_t  i;

	test_begin("sender_deny: exact, @domain, globs, <>");
	cfg = parse("sender_deny = Spammer@Example.net, @junk.example\n"
		    "  *@*.spam.example info@* newsletter-**@bulk.example <>\n"
		    "  @*.BULK.example\n",
		    err, sizeof(err));
	test_assert(cfg != NULL);
	if (cfg == NULL) {
		test_end();
		return;
	}
	test_assert_str(cfg->sender_deny.items[0], "spammer@example.net");
	test_assert_str(cfg->sender_deny.items[4], "newsletter-*@bulk.example");
	for (i = 0; i < RG_ARRAY_LEN(cases); i++) {
		int     got = config_sender_denied(cfg, cases[i].addr);

		if (got != cases[i].denied)
			fprintf(stderr, "  <%s>: got %d\n", cases[i].addr, got);
		test_assert_int(got, cases[i].denied);
	}
	cfg = config_free(cfg);

	/* "*" alone denies every sender but not the null sender */
	cfg = parse("sender_deny = *\n", err, sizeof(err));
	test_assert(cfg != NULL && config_sender_denied(cfg, "a@b.example"));
	test_assert(cfg != NULL && !config_sender_denied(cfg, ""));
	cfg = config_free(cfg);
	/* no list: nothing denied */
	cfg = config_defaults();
	test_assert(!config_sender_denied(cfg, "a@b.example"));
	test_assert(!config_sender_denied(cfg, ""));
	cfg = config_free(cfg);
	test_end();
}

static void
test_glob_bounded(void)
{
	char   *text, *addr, err[512];
	struct rg_config *cfg;
	double  start, took;
	size_t  i, off;

	test_begin("sender_deny: pathological globs finish fast");
	text = xmalloc(8192);
	addr = xmalloc(4096);
	/* 1000 stars, then a pattern of 300 "*a" pairs ending in "b" */
	off = (size_t)snprintf(text, 8192, "sender_deny = \"");
	for (i = 0; i < 1000; i++)
		text[off++] = '*';
	memcpy(text + off, "@x\"\n  \"", 7);
	off += 7;
	for (i = 0; i < 300; i++) {
		text[off++] = '*';
		text[off++] = 'a';
	}
	memcpy(text + off, "*b@x\"\n", 7);
	cfg = parse(text, err, sizeof(err));
	test_assert(cfg != NULL);
	if (cfg == NULL) {
		fprintf(stderr, "%s\n", err);
		goto done;
	}
	test_assert_str(cfg->sender_deny.items[0], "*@x");
	memset(addr, 'a', 4000);
	memcpy(addr + 4000, "@y", 3);
	start = now_ms();
	for (i = 0; i < 10; i++)
		test_assert_int(config_sender_denied(cfg, addr), 0);
	took = now_ms() - start;
	printf("# 10 x pathological glob vs 4000-byte address: %.1f ms\n", took);
	test_assert(took < 2000);
	cfg = config_free(cfg);

	/* the raw 1000-star pattern, uncollapsed, through the matcher via a
	 * config that keeps it out of the collapsing path: a*a*a*...  */
	off = (size_t)snprintf(text, 8192, "sender_deny = ");
	for (i = 0; i < 1000; i++) {
		text[off++] = i % 2 ? '*' : 'a';
	}
	memcpy(text + off, "c@x\n", 5);
	cfg = parse(text, err, sizeof(err));
	test_assert(cfg != NULL);
	if (cfg != NULL) {
		start = now_ms();
		test_assert_int(config_sender_denied(cfg, addr), 0);
		took = now_ms() - start;
		printf("# 500 alternating stars vs 4000-byte address: %.1f ms\n",
		       took);
		test_assert(took < 2000);
	}
	cfg = config_free(cfg);

	/* the matcher's worst case: one star, then a long literal that
	 * almost matches at every position: "*aaa...ab@y" */
	off = (size_t)snprintf(text, 8192, "sender_deny = *");
	for (i = 0; i < 1000; i++)
		text[off++] = 'a';
	memcpy(text + off, "b@y\n", 5);
	cfg = parse(text, err, sizeof(err));
	test_assert(cfg != NULL);
	if (cfg != NULL) {
		start = now_ms();
		test_assert_int(config_sender_denied(cfg, addr), 0);
		took = now_ms() - start;
		printf("# \"*\" + 1000 literals vs 4000-byte address: %.1f ms\n",
		       took);
		test_assert(took < 2000);
		/* and it still matches when it should */
		memset(addr + 3000, 'a', 1000);
		memcpy(addr + 4000, "b@y", 4);
		test_assert_int(config_sender_denied(cfg, addr), 1);
	}
	cfg = config_free(cfg);
done:
	free(text);
	free(addr);
	test_end();
}

static void
test_monitor(void)
{
	char    err[512];
	struct rg_config *cfg;

	test_begin("monitor: per-rule switches inherit mode");
	cfg = parse("monitor.unknown = yes\nmonitor.relay = no\n", err,
		    sizeof(err));
	test_assert(cfg != NULL);
	if (cfg == NULL) {
		test_end();
		return;
	}
	test_assert_int(config_rule_monitored(cfg, RG_RULE_UNKNOWN), 1);
	test_assert_int(config_rule_monitored(cfg, RG_RULE_RELAY), 0);
	test_assert_int(config_rule_monitored(cfg, RG_RULE_SPOOF), 0);
	cfg->mode = 1;
	test_assert_int(config_rule_monitored(cfg, RG_RULE_RELAY), 0);
	test_assert_int(config_rule_monitored(cfg, RG_RULE_SPOOF), 1);
	cfg = config_free(cfg);

	cfg = parse("mode = monitor\nmonitor.directory_unavailable = off\n"
		    "monitor.utf8 = on\n", err, sizeof(err));
	test_assert(cfg != NULL);
	if (cfg != NULL) {
		test_assert_int(cfg->mode, 1);
		test_assert_int(config_rule_monitored(cfg, RG_RULE_DIRECTORY), 0);
		test_assert_int(config_rule_monitored(cfg, RG_RULE_UTF8), 1);
		test_assert_int(config_rule_monitored(cfg, RG_RULE_HARVEST), 1);
	}
	cfg = config_free(cfg);
	test_end();
}

/* test_audit_store - audit_failure's default follows the store; node */
static void
test_audit_store(void)
{
	struct rg_config *cfg;
	char    err[512];

	test_begin("audit: PostgreSQL URI, spool default, node, paths");
	cfg = parse("audit_db = postgresql://w@db.example.org/audit\n"
		    "node = mx1.example.org\n", err, sizeof(err));
	test_assert(cfg != NULL);
	if (cfg) {
		test_assert(config_audit_is_pgsql(cfg->audit_db));
		test_assert_int(cfg->audit_failure, RG_AUDITFAIL_SPOOL);
		test_assert_str(cfg->node, "mx1.example.org");
		test_assert(cfg->audit_spool != NULL);
		cfg = config_free(cfg);
	}
	cfg = parse("audit_db = postgres://w@db/audit\naudit_failure = "
		    "tempfail\n", err, sizeof(err));
	test_assert(cfg != NULL && cfg->audit_failure == RG_AUDITFAIL_TEMPFAIL);
	cfg = config_free(cfg);
	cfg = parse("audit_db = /var/tmp/a.db\n", err, sizeof(err));
	test_assert(cfg != NULL && cfg->audit_failure == RG_AUDITFAIL_CONTINUE
		    && cfg->node == NULL && !config_audit_is_pgsql(cfg->audit_db));
	cfg = config_free(cfg);
	test_end();
}

/* expect_line - parse "# expect: LINE: reason" from a corpus file */
static int
expect_line(const char *path, unsigned *line, char *reason, size_t size)
{
	char    buf[512];
	FILE   *fp = fopen(path, "r");
	int     ok = 0;

	if (fp == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), fp) != NULL) {
		char   *nl = strchr(buf, '\n'), *colon;

		if (nl != NULL)
			*nl = '\0';
		if (strncmp(buf, "# expect: ", 10) == 0 &&
		    (colon = strchr(buf + 10, ':')) != NULL) {
			*line = (unsigned)strtoul(buf + 10, NULL, 10);
			rg_strlcpy(reason, colon + 2, size);
			ok = 1;
		}
	}
	fclose(fp);
	return ok;
}

static void
test_corpus(void)
{
	char    dirpath[300], path[600], err[480], reason[256], want[900];
	struct rg_config *cfg;
	struct dirent *de;
	DIR    *dir;
	unsigned line, ngood = 0, nbad = 0;

	test_begin("corpus: good files load, bad files fail where they say");
	snprintf(dirpath, sizeof(dirpath), "%s/tests/corpus/config", srcdir());
	dir = opendir(dirpath);
	test_assert(dir != NULL);
	while (dir != NULL && (de = readdir(dir)) != NULL) {
		size_t  len = strlen(de->d_name);

		if (len < 5 || strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dirpath, de->d_name);
		err[0] = '\0';
		cfg = config_load(path, err, sizeof(err));
		if (strncmp(de->d_name, "good-", 5) == 0) {
			ngood++;
			if (cfg == NULL)
				fprintf(stderr, "  %s\n", err);
			test_assert(cfg != NULL);
		} else if (strncmp(de->d_name, "bad-", 4) == 0) {
			nbad++;
			test_assert(cfg == NULL);
			if (!expect_line(path, &line, reason, sizeof(reason))) {
				test_assert(!"bad-*.conf without # expect: line");
				cfg = config_free(cfg);
				continue;
			}
			snprintf(want, sizeof(want), "%s:%u: %s", path, line,
				 reason);
			if (strncmp(err, want, strlen(want)) != 0)
				fprintf(stderr, "  got  %s\n  want %s...\n", err,
					want);
			test_assert(strncmp(err, want, strlen(want)) == 0);
		}
		cfg = config_free(cfg);
	}
	if (dir != NULL)
		closedir(dir);
	printf("# corpus: %u good, %u bad files\n", ngood, nbad);
	test_assert(ngood >= 3);
	test_assert(nbad >= 15);
	test_end();
}

static void
test_shipped_sample(void)
{
	char    path[1024], err[1024];
	struct rg_config *cfg;
	struct rg_ip ip;
	size_t  i;

	test_begin("conf/relayguard.conf loads and says what it documents");
	snprintf(path, sizeof(path), "%s/conf/relayguard.conf", srcdir());
	cfg = config_load(path, err, sizeof(err));
	if (cfg == NULL)
		fprintf(stderr, "  %s\n", err);
	test_assert(cfg != NULL);
	if (cfg != NULL) {
		test_assert_str(cfg->directory,
				"file:/etc/relayguard/recipients");
		test_assert_str(cfg->qualify_domain, "example.org");
		test_assert(rg_ip_parse("127.0.0.1", &ip) &&
			    netlist_match(&cfg->trusted_networks, &ip));
		test_assert(rg_ip_parse("::1", &ip) &&
			    netlist_match(&cfg->trusted_networks, &ip));
		test_assert_int(cfg->trusted_networks.count, 2);
		/* everything else as the defaults */
		test_assert_int(cfg->harvest_limit, 20);
		test_assert_int(cfg->blank_sender, RG_BLANK_SINGLE);
		test_assert_int(cfg->mode, 0);
		test_assert_str(cfg->socket,
				"unix:/var/spool/postfix/relayguard/relayguard.sock");
		for (i = 0; i < RG_RULE_COUNT; i++)
			test_assert_int(cfg->rule_monitor[i], -1);
	}
	cfg = config_free(cfg);
	test_end();
}

/* uncomment_sample - the shipped file with every "#key = value" line
 * uncommented: each documented default must itself be valid */
static void
test_sample_defaults_valid(void)
{
	char    path[1024], err[1024];
	struct rg_config *cfg, *def;
	FILE   *fp;
	char   *text = NULL, line[4096];
	size_t  len = 0, n;
	unsigned keys = 0;

	test_begin("conf/relayguard.conf: every commented default is valid");
	snprintf(path, sizeof(path), "%s/conf/relayguard.conf", srcdir());
	fp = fopen(path, "r");
	test_assert(fp != NULL);
	while (fp != NULL && fgets(line, sizeof(line), fp) != NULL) {
		const char *p = line;

		/* "#key = value" (no space after #) is a commented setting */
		if (line[0] == '#' && line[1] >= 'a' && line[1] <= 'z' &&
		    strstr(line, " = ") != NULL) {
			p = line + 1;
			keys++;
		}
		n = strlen(p);
		text = xrealloc(text, len + n + 1);
		memcpy(text + len, p, n + 1);
		len += n;
	}
	if (fp != NULL)
		fclose(fp);
	cfg = config_parse(text ? text : "", len, path, err, sizeof(err));
	if (cfg == NULL)
		fprintf(stderr, "  %s\n", err);
	test_assert(cfg != NULL);
	printf("# %u commented settings uncommented\n", keys);
	test_assert(keys >= 45);
	def = config_defaults();
	if (cfg != NULL) {
		/* the commented replies are exactly the defaults */
		test_assert(memcmp(cfg->replies, def->replies,
				   sizeof(def->replies)) == 0);
		test_assert_int(cfg->ldap_timeout_ms, def->ldap_timeout_ms);
		test_assert_int(cfg->audit_queue_rows, def->audit_queue_rows);
		test_assert_str(cfg->ldap_filter, def->ldap_filter);
	}
	cfg = config_free(cfg);
	def = config_free(def);
	free(text);
	test_end();
}

/* slurp - a whole file, NUL-terminated; NULL when unreadable */
static char *
slurp(const char *path, size_t *lenp)
{
	FILE   *fp = fopen(path, "r");
	char   *text = NULL;
	size_t  len = 0, n;
	char    block[4096];

	if (fp == NULL)
		return NULL;
	while ((n = fread(block, 1, sizeof(block), fp)) > 0) {
		text = xrealloc(text, len + n + 1);
		memcpy(text + len, block, n);
		len += n;
	}
	fclose(fp);
	if (text == NULL)
		text = xstrdup("");
	text[len] = '\0';
	*lenp = len;
	return text;
}

static void
test_docs_complete(void)
{
	static const char *const keys[] = {
		"mode", "local_domains", "local_addresses", "trusted_networks",
		"never_relay_networks", "relay_authenticated", "routing",
		"blank_sender", "sender_deny", "local_sender_from_untrusted",
		"harvest_limit", "directory", "directory_failure",
		"client_limit.unknown", "client_limit.relay",
		"client_limit.routing", "client_limit.syntax", "client_window",
		"client_penalty", "client_track_size", "client_track_privileged",
		"auth_limit.hour", "auth_limit.day", "auth_limit.domains",
		"auth_limit.clients", "auth_limit_action", "auth_limit_file",
		"trusted_limit.hour", "trusted_limit.day",
		"trusted_limit.domains", "trusted_limit_action",
		"account_track_size", "alert_command", "alert_timeout",
		"alert_max",
		"socket",
		"socket_mode", "user", "pidfile", "syslog_facility",
		"allow_root", "milter_timeout", "policy_socket",
		"policy_timeout", "ldap_uri", "ldap_base", "ldap_scope",
		"ldap_filter", "ldap_bind_dn", "ldap_bind_password_file",
		"ldap_starttls", "ldap_timeout", "ldap_network_timeout",
		"ldap_pool_size", "cache_positive_ttl", "cache_negative_ttl",
		"cache_size", "audit_db", "audit_flush_ms", "audit_batch_rows",
		"audit_queue_rows", "audit_retention_days", "audit_failure",
	};
	char    path[400], want[200], err[400];
	char   *man, *conf, *p;
	size_t  len, i, examples = 0;
	struct rg_config *cfg;

	test_begin("docs: every key documented, man page examples parse");
	snprintf(path, sizeof(path), "%s/docs/relayguard.conf.5", srcdir());
	man = slurp(path, &len);
	test_assert(man != NULL);
	snprintf(path, sizeof(path), "%s/conf/relayguard.conf", srcdir());
	conf = slurp(path, &len);
	test_assert(conf != NULL);
	if (man == NULL || conf == NULL)
		goto done;
	for (i = 0; i < RG_ARRAY_LEN(keys); i++) {
		snprintf(want, sizeof(want), "\n.BR %s \"", keys[i]);
		if (strstr(man, want) == NULL)
			fprintf(stderr, "  man page lacks %s\n", keys[i]);
		test_assert(strstr(man, want) != NULL);
		snprintf(want, sizeof(want), "\n#%s = ", keys[i]);
		p = strstr(conf, want);
		snprintf(want, sizeof(want), "\n%s = ", keys[i]);
		if (p == NULL)
			p = strstr(conf, want);
		if (p == NULL)
			fprintf(stderr, "  sample lacks %s\n", keys[i]);
		test_assert(p != NULL);
		/* every key is known to the parser */
		snprintf(want, sizeof(want), "%s = \"\"\n", keys[i]);
		cfg = parse(want, err, sizeof(err));
		test_assert(cfg != NULL || strstr(err, "unknown key") == NULL);
		cfg = config_free(cfg);
	}
	for (i = 0; i < RG_REPLY_COUNT; i++) {
		snprintf(want, sizeof(want), "\n.B reply.%s\n",
			 rg_reply_name((enum rg_reply_id)i));
		test_assert(strstr(man, want) != NULL);
		snprintf(want, sizeof(want), "\n#reply.%s = ",
			 rg_reply_name((enum rg_reply_id)i));
		test_assert(strstr(conf, want) != NULL);
	}
	for (i = RG_RULE_FIRST_REFUSAL; i < RG_RULE_COUNT; i++) {
		snprintf(want, sizeof(want), "\n#monitor.%s = ",
			 rg_rule_name((enum rg_rule)i));
		test_assert(strstr(conf, want) != NULL);
		snprintf(want, sizeof(want), "%s", rg_rule_name((enum rg_rule)i));
		test_assert(strstr(strstr(man, ".SH MONITOR"), want) != NULL);
	}

	/* The EXAMPLES section's configuration blocks, unescaped, parse. */
	p = strstr(man, ".SH EXAMPLES");
	test_assert(p != NULL);
	while (p != NULL && (p = strstr(p, "\n.nf\n")) != NULL) {
		char   *end = strstr(p, "\n.fi\n"), *text, *o;
		const char *q;

		if (end == NULL)
			break;
		text = xmalloc((size_t)(end - p) + 1);
		for (q = p + 5, o = text; q < end; q++) {
			if (q[0] == '\\' && q[1] == 'e') {
				*o++ = '\\';
				q++;
			} else if (q[0] == '\\' && q[1] == '-') {
				*o++ = '-';
				q++;
			} else {
				*o++ = *q;
			}
		}
		*o = '\0';
		if (strstr(text, " = ") != NULL) {
			examples++;
			cfg = parse(text, err, sizeof(err));
			if (cfg == NULL)
				fprintf(stderr, "  example: %s\n", err);
			test_assert(cfg != NULL);
			cfg = config_free(cfg);
		}
		free(text);
		p = end;
	}
	printf("# %zu man page examples parsed\n", examples);
	test_assert(examples >= 4);
done:
	free(man);
	free(conf);
	test_end();
}

static void
test_load_errors(void)
{
	char    err[480], dir[] = "/tmp/rg-test-config-XXXXXX", path[400];
	struct rg_config *cfg;
	FILE   *fp;
	size_t  i;

	test_begin("config_load: unreadable, directory, too large, long line");
	cfg = config_load("/nonexistent/relayguard.conf", err, sizeof(err));
	test_assert(cfg == NULL);
	test_assert_str(err, "/nonexistent/relayguard.conf: cannot open: "
			"No such file or directory");
	test_assert(mkdtemp(dir) != NULL);
	cfg = config_load(dir, err, sizeof(err));
	test_assert(cfg == NULL);
	snprintf(path, sizeof(path), "%s: cannot read: Is a directory", dir);
	test_assert_str(err, path);

	/* a file just over 16 MiB is refused as a whole */
	snprintf(path, sizeof(path), "%s/big.conf", dir);
	fp = fopen(path, "w");
	test_assert(fp != NULL);
	for (i = 0; fp != NULL && i < 16 * 1024 + 1; i++) {
		static char block[1024];

		memset(block, '#', sizeof(block) - 1);
		block[sizeof(block) - 1] = '\n';
		fwrite(block, 1, sizeof(block), fp);
	}
	if (fp != NULL)
		fclose(fp);
	cfg = config_load(path, err, sizeof(err));
	test_assert(cfg == NULL);
	{
		char    want[480];

		snprintf(want, sizeof(want), "%s: larger than 16777216 bytes",
			 path);
		test_assert_str(err, want);
	}
	unlink(path);

	/* a 64 KiB line is fine, one byte more is not */
	{
		size_t  max = 64 * 1024;
		char   *text = xmalloc(max + 64);

		memset(text, 'x', max + 64);
		memcpy(text, "mode = monitor\n#", 16);
		text[15 + max] = '\n';
		cfg = config_parse(text, 16 + max, "t.conf", err, sizeof(err));
		test_assert(cfg != NULL);
		cfg = config_free(cfg);
		text[15 + max] = 'x';
		text[16 + max] = '\n';
		cfg = config_parse(text, 17 + max, "t.conf", err, sizeof(err));
		test_assert(cfg == NULL);
		test_assert_str(err, "t.conf:2: line longer than 65536 bytes");
		free(text);
	}
	/* a real file, its name in the messages */
	snprintf(path, sizeof(path), "%s/relayguard.conf", dir);
	fp = fopen(path, "w");
	test_assert(fp != NULL);
	if (fp != NULL) {
		fputs("local_domains = example.org\n\nrelay_networks = x\n", fp);
		fclose(fp);
	}
	cfg = config_load(path, err, sizeof(err));
	test_assert(cfg == NULL);
	{
		char    want[480];

		snprintf(want, sizeof(want),
			 "%s:3: unknown key \"relay_networks\"", path);
		test_assert_str(err, want);
	}
	/* a tiny error buffer is truncated, never overrun */
	{
		char    tiny[8];

		memset(tiny, 'Z', sizeof(tiny));
		cfg = config_load(path, tiny, 6);
		test_assert(cfg == NULL);
		test_assert_int(strlen(tiny), 5);
		test_assert(tiny[6] == 'Z');
	}
	unlink(path);
	rmdir(dir);
	test_end();
}

int
main(void)
{
	test_defaults();
	test_default_replies();
	test_rule_names();
	test_every_key();
	test_values();
	test_syntax();
	test_errors();
	test_owned_validators();
	test_reply();
	test_local_domains();
	test_is_local();
	test_sender_deny();
	test_glob_bounded();
	test_monitor();
	test_corpus();
	test_audit_store();
	test_shipped_sample();
	test_sample_defaults_valid();
	test_docs_complete();
	test_load_errors();
	return test_exit();
}
