/*
 * config - relayguard.conf: parsing, validation, defaults
 *
 * The file is "key = value" lines, '#' comments, lists separated by spaces
 * or commas, and values optionally in double quotes; a line starting with
 * whitespace continues the previous value, and a key given twice takes
 * its last value.  Every key is listed
 * in conf/relayguard.conf and docs/relayguard.conf.5.  An unknown key, a
 * bad value, a bad CIDR or a bad reply string makes config_load() fail
 * with "FILE:LINE: reason" and return NULL: a broken configuration never
 * half-applies.
 *
 * Ownership: config_load()/config_parse() return a struct the caller owns
 * and releases with config_free().  Everything the struct points to lives
 * exactly as long as it (policy verdicts point into it for reply texts),
 * so a reloading daemon must keep an old configuration alive until no
 * connection uses it.
 */
#ifndef RG_CONFIG_H
#define RG_CONFIG_H

#include <stddef.h>

#include "accountlimit.h"
#include "address.h"
#include "clienttrack.h"
#include "netlist.h"
#include "matchlist.h"

/* Rules: each refusal rule has its own reply (RFC 2505) and monitor
 * switch.  The accept "rules" say why something was accepted. */
enum rg_rule {
	RG_RULE_PASS,			/* connect/helo/mail: nothing to refuse */
	RG_RULE_LOCAL,			/* rcpt: local and known */
	RG_RULE_TRUSTED,		/* rcpt: relay allowed, trusted network */
	RG_RULE_AUTHENTICATED,		/* rcpt: relay allowed, SMTP AUTH */
	RG_RULE_POSTMASTER,		/* rcpt: postmaster, always accepted */
	RG_RULE_DIRECTORY_ACCEPT,	/* rcpt: directory down, accepted */
	RG_RULE_MTA,			/* rcpt: the MTA refused it before asking us
					 * (SMFIP_RCPT_REJ); not our rule: no reply,
					 * no monitor switch */
	RG_RULE_FIRST_REFUSAL,
	RG_RULE_RELAY = RG_RULE_FIRST_REFUSAL,
	RG_RULE_ROUTING,
	RG_RULE_UNKNOWN,
	RG_RULE_BLANK_SENDER,
	RG_RULE_SENDER_DENY,
	RG_RULE_SPOOF,
	RG_RULE_HARVEST,
	RG_RULE_SYNTAX,
	RG_RULE_UTF8,
	RG_RULE_DIRECTORY,		/* directory unavailable */
	RG_RULE_UNQUALIFIED,		/* rcpt without a domain (not postmaster) */
	RG_RULE_AUDIT,			/* audit trail unavailable */
	RG_RULE_CLIENT_PENALTY,		/* connect/helo: client penalised */
	RG_RULE_CLIENT_PENALTY_RCPT,	/* rcpt: client penalised */
	RG_RULE_MTA_MISMATCH,		/* the MTA delivers elsewhere than judged */
	RG_RULE_AUTH_LIMIT,		/* rcpt: AUTH user over a relay limit */
	RG_RULE_TRUSTED_LIMIT,		/* rcpt: trusted client over a limit */
	RG_RULE_COUNT,
};

/* Replies, one per refusal rule plus blank_sender's drop variant.  The
 * names after "reply." in the configuration. */
enum rg_reply_id {
	RG_REPLY_RELAY,
	RG_REPLY_ROUTING,
	RG_REPLY_UNKNOWN,
	RG_REPLY_BLANK_SENDER,
	RG_REPLY_BLANK_SENDER_DROP,
	RG_REPLY_SENDER_DENY,
	RG_REPLY_SPOOF,
	RG_REPLY_HARVEST,
	RG_REPLY_SYNTAX,
	RG_REPLY_UTF8,
	RG_REPLY_DIRECTORY,		/* reply.directory_unavailable */
	RG_REPLY_UNQUALIFIED,
	RG_REPLY_AUDIT,			/* reply.audit_unavailable */
	RG_REPLY_CLIENT_PENALTY,
	RG_REPLY_CLIENT_PENALTY_RCPT,
	RG_REPLY_MTA_MISMATCH,
	RG_REPLY_AUTH_LIMIT,
	RG_REPLY_TRUSTED_LIMIT,
	RG_REPLY_COUNT,
};

struct rg_reply {
	int     code;			/* 4xx or 5xx; 421 means drop */
	char    ecode[16];		/* RFC 3463 "X.Y.Z", class = code/100 */
	char    text[256];		/* printable ASCII, no CR/LF */
};

enum rg_mode { RG_MODE_ENFORCE, RG_MODE_MONITOR };
enum rg_spoof_mode { RG_SPOOF_ACCEPT, RG_SPOOF_REJECT };
enum rg_routing_mode { RG_ROUTING_REJECT, RG_ROUTING_RESOLVE };
enum rg_unqualified_mode { RG_UNQUALIFIED_REJECT, RG_UNQUALIFIED_QUALIFY };
enum rg_blank_mode {
	RG_BLANK_ACCEPT, RG_BLANK_SINGLE, RG_BLANK_REJECT, RG_BLANK_DROP,
};
enum rg_dirfail_mode { RG_DIRFAIL_TEMPFAIL, RG_DIRFAIL_ACCEPT };
enum rg_auditfail_mode {
	RG_AUDITFAIL_CONTINUE, RG_AUDITFAIL_TEMPFAIL, RG_AUDITFAIL_SPOOL,
};
enum rg_ldap_scope { RG_LDAP_SCOPE_SUB, RG_LDAP_SCOPE_ONE, RG_LDAP_SCOPE_BASE };

/* Strings documented "NULL unset" are NULL when the key is absent or its
 * value is empty; every other string is always set. */
struct rg_config {
	char   *path;			/* file it came from (for messages) */

	/* policy */
	enum rg_mode mode;		/* default enforce */
	int     rule_monitor[RG_RULE_COUNT];	/* -1 inherit, 0 enforce, 1 monitor */
	struct domain_list local_domains;
	char   *qualify_domain;		/* first exact local domain, or NULL */
	struct netlist local_addresses;	/* single hosts, no networks */
	struct netlist trusted_networks;
	struct netlist never_relay_networks;
	int     relay_authenticated;	/* default yes */
	enum rg_routing_mode routing;	/* default reject */
	enum rg_unqualified_mode unqualified_recipient;	/* default reject */
	enum rg_blank_mode blank_sender;	/* default single-recipient */
	struct pattern_list sender_deny;
	struct pattern_list internal_next_hops;	/* canonical (policy_hop_canon) */
	enum rg_spoof_mode local_sender_from_untrusted;	/* default accept;
						 * rule spoof */
	unsigned harvest_limit;		/* 0 = off; default 20 */
	char   *directory;		/* "file:PATH" or "ldap" */
	enum rg_dirfail_mode directory_failure;
	struct rg_reply replies[RG_REPLY_COUNT];

	/* per-client memory across connections (clienttrack) */
	struct clienttrack_limits client_limits;	/* client_limit.*, _window, _penalty */
	unsigned client_track_size;	/* entries; 0 = off; restart */
	int     client_track_privileged;	/* also count trusted/authenticated */

	/* privileged senders' relay limits (accountlimit) */
	struct accountlimit_limits auth_limits;	/* auth_limit.*, _action */
	struct accountlimit_limits trusted_limits;	/* trusted_limit.* */
	char   *auth_limit_file;	/* NULL unset; read by config_load */
	struct accountlimit_overrides *auth_overrides;	/* NULL: none */
	unsigned account_track_size;	/* accounts; 0 = off; restart */
	char   *alert_command;		/* NULL unset */
	unsigned alert_timeout;		/* seconds */
	unsigned alert_max;		/* commands running at once */

	/* daemon */
	char   *socket;			/* inet:PORT@HOST, inet6:..., unix:PATH */
	unsigned socket_mode;		/* unix socket permissions, default 0660 */
	char   *policy_socket;		/* Postfix policy delegation; NULL: off */
	char   *user;			/* run as this user after binding; NULL = none */
	char   *pidfile;		/* NULL = none */
	char   *syslog_facility;	/* default "mail" */
	int     allow_root;
	unsigned milter_timeout;	/* seconds the MTA may stay silent */
	char   *metrics_listen;		/* ADDR:PORT of /metrics; NULL = off */
	unsigned policy_timeout;	/* seconds a started policy request may take */

	/* ldap directory */
	char   *ldap_uri;		/* space-separated list: failover; NULL unset */
	char   *ldap_base;		/* NULL unset */
	enum rg_ldap_scope ldap_scope;
	char   *ldap_filter;		/* %s, %u, %d */
	char   *ldap_bind_dn;		/* NULL: anonymous bind */
	char   *ldap_bind_password_file;	/* NULL unset; required with a DN */
	int     ldap_starttls;
	unsigned ldap_timeout_ms;
	unsigned ldap_network_timeout_ms;
	unsigned ldap_pool_size;
	unsigned cache_positive_ttl;	/* seconds */
	unsigned cache_negative_ttl;
	unsigned cache_size;		/* entries; 0 = no cache */

	/* audit */
	char   *audit_db;		/* path, or a postgresql:// URI; NULL = no audit */
	char   *audit_password_file;	/* PostgreSQL password; NULL unset */
	char   *audit_spool;		/* PostgreSQL: the local spool's path */
	char   *node;			/* this MX in the audit rows; NULL = host name */
	unsigned audit_flush_ms;
	unsigned audit_batch_rows;
	unsigned audit_queue_rows;
	unsigned audit_retention_days;	/* 0 = keep forever */
	enum rg_auditfail_mode audit_failure;	/* default: spool for
						 * PostgreSQL, else continue */
};

/* config_audit_is_pgsql - audit_db names a PostgreSQL database (a libpq
 * postgresql:// or postgres:// URI) rather than an SQLite file */
int     config_audit_is_pgsql(const char *audit_db);

/* config_defaults - a configuration with every default; never NULL */
struct rg_config *config_defaults(void);

/* config_load - read and validate FILE, and the files it names that the
 * configuration holds (auth_limit_file); NULL with "FILE:LINE: reason" */
struct rg_config *config_load(const char *path, char *err, size_t errlen);

/* config_parse - same for text in memory; name is used in messages.
 * auth_limit_file is only named, not read (config_load reads it). */
struct rg_config *config_parse(const char *text, size_t len, const char *name,
			       char *err, size_t errlen);

/* config_free - release everything; returns NULL (cfg = config_free(cfg)) */
struct rg_config *config_free(struct rg_config *cfg);

/* config_parse_reply - "CODE X.Y.Z text" into reply; 0 ok, -1 + err */
int     config_parse_reply(const char *text, struct rg_reply *reply,
			   char *err, size_t errlen);

/* config_account_limits - the limits of an AUTH user (override file
 * first) or, user NULL, of a trusted client */
const struct accountlimit_limits *config_account_limits(
	const struct rg_config *cfg, const char *user);

/* Lookups the policy engine uses on the hot path. */
int     config_local_domain(const struct rg_config *cfg, const char *name);
int     config_is_local(const struct addr_domain *domain, void *cfg);
int     config_sender_denied(const struct rg_config *cfg, const char *addr);
int     config_rule_monitored(const struct rg_config *cfg, enum rg_rule rule);

/* Names, as used in the configuration, logs, JSON and the audit table. */
const char *rg_rule_name(enum rg_rule rule);
const char *rg_reply_name(enum rg_reply_id id);

#endif
