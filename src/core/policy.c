/*
 * policy - the decision engine: session facts + one SMTP step -> verdict
 *
 * See policy.h for the rule order.  Everything here is a pure function of
 * the configuration, the session and the client's text, plus one directory
 * lookup for local recipients.  The RCPT path allocates nothing: the
 * parsed address, the normalized form and the directory key all live in
 * the caller's verdict.
 *
 * Decisions that are not obvious from the rules:
 * - A client whose address is unknown (unix socket) is never in
 *   trusted_networks or never_relay_networks; it may still relay when it
 *   authenticated and relay_authenticated = yes.
 * - sender_deny applies to every client (an explicit admin list); the
 *   blank-sender and spoof rules only to unprivileged ones.
 * - The spoof rule looks at the sender's domain as written (the address
 *   the recipient will see), not at the unwrapped destination.
 * - Privileged clients sending to local recipients are still checked
 *   against the directory: an unknown local user is refused for everyone.
 */
#include <string.h>

#include "util.h"
#include "address.h"
#include "config.h"
#include "directory.h"
#include "netlist.h"
#include "policy.h"

/* policy_session_init - a fresh connection */
void
policy_session_init(struct rg_session *s)
{
	memset(s, 0, sizeof(*s));
}

/* policy_reset_txn - forget the transaction, keep the connection */
void
policy_reset_txn(struct rg_session *s)
{
	s->in_txn = 0;
	s->smtputf8 = 0;
	s->sender_null = 0;
	s->sender_local = 0;
	s->sender_class = RG_SENDER_NONE;
	s->rcpts = 0;
	s->rcpts_accepted = 0;
}

/* privilege - RG_RULE_TRUSTED, RG_RULE_AUTHENTICATED, or RG_RULE_PASS (none) */
static enum rg_rule
privilege(const struct rg_config *cfg, const struct rg_session *s)
{
	int authenticated = cfg->relay_authenticated && s->auth_user[0] != '\0';

	if (s->client_ip_known
	    && netlist_match(&cfg->never_relay_networks, &s->client_ip))
		return RG_RULE_PASS;
	if (s->client_ip_known
	    && netlist_match(&cfg->trusted_networks, &s->client_ip))
		return RG_RULE_TRUSTED;
	if (authenticated)
		return RG_RULE_AUTHENTICATED;
	return RG_RULE_PASS;
}

/* policy_client_privileged - may this client relay? */
int
policy_client_privileged(const struct rg_config *cfg,
			 const struct rg_session *s)
{
	return privilege(cfg, s) != RG_RULE_PASS;
}

/* trust_of - the verdict's trust from privilege()'s answer */
static enum rg_trust
trust_of(enum rg_rule priv)
{
	if (priv == RG_RULE_TRUSTED)
		return RG_TRUST_TRUSTED;
	if (priv == RG_RULE_AUTHENTICATED)
		return RG_TRUST_AUTHENTICATED;
	return RG_TRUST_UNTRUSTED;
}

/* policy_client_trust - trusted, authenticated or untrusted */
enum rg_trust
policy_client_trust(const struct rg_config *cfg, const struct rg_session *s)
{
	return trust_of(privilege(cfg, s));
}

/* verdict_accept - 250 with the stage's enhanced code */
static void
verdict_accept(struct rg_verdict *v, enum rg_rule rule)
{
	v->action = RG_ACCEPT;
	v->rule = rule;
	v->code = 250;
	switch (v->stage) {
	case RG_STAGE_MAIL:
		v->ecode = "2.1.0";
		break;
	case RG_STAGE_RCPT:
		v->ecode = "2.1.5";
		break;
	default:
		v->ecode = "2.0.0";
		break;
	}
	v->text = "OK";
}

/* verdict_refuse - the rule's reply; 421 drops; monitor keeps the reply */
static void
verdict_refuse(const struct rg_config *cfg, struct rg_verdict *v,
	       enum rg_rule rule, enum rg_reply_id reply_id)
{
	const struct rg_reply *reply = &cfg->replies[reply_id];

	v->rule = rule;
	v->code = reply->code;
	v->ecode = reply->ecode;
	v->text = reply->text;
	if (reply->code == 421)
		v->action = RG_DROP;
	else if (reply->code >= 400 && reply->code < 500)
		v->action = RG_TEMPFAIL;
	else
		v->action = RG_REJECT;
	if (config_rule_monitored(cfg, rule))
		v->action = RG_WOULD_REJECT;
}

/* join_address - "local@domain" (or "local" without a domain) into buf */
static void
join_address(char *buf, size_t size, const char *local, const char *domain)
{
	size_t llen = strlen(local);
	size_t dlen = domain != NULL ? strlen(domain) : 0;

	if (llen + 1 + dlen + 1 > size) {
		buf[0] = '\0';		/* cannot happen with RFC 5321 limits */
		return;
	}
	memcpy(buf, local, llen);
	if (dlen > 0) {
		buf[llen] = '@';
		memcpy(buf + llen + 1, domain, dlen);
		llen += 1 + dlen;
	}
	buf[llen] = '\0';
}

/* domain_for_key - the domain to look up: our name for unqualified
 * addresses and our own address literals */
static const char *
domain_for_key(const struct rg_config *cfg, const struct addr_domain *domain)
{
	if (domain->type == ADDR_DOM_NAME)
		return domain->name;
	return cfg->qualify_domain;
}

/* set_normalized - the final destination as text, "" when none */
static void
set_normalized(struct rg_verdict *v)
{
	if (addr_format_final(&v->addr, v->normalized, sizeof(v->normalized)) == NULL)
		v->normalized[0] = '\0';
}

/* tracked - whether this client's steps count across connections */
static int
tracked(const struct rg_config *cfg, const struct rg_session *s)
{
	return s->tracker != NULL && s->client_ip_known
	    && (cfg->client_track_privileged || privilege(cfg, s) == RG_RULE_PASS);
}

/* penalised - refuse with rule when the client is serving a penalty */
static int
penalised(const struct rg_config *cfg, const struct rg_session *s,
	  struct rg_verdict *v, enum rg_rule rule, enum rg_reply_id reply_id)
{
	int first = 0;

	if (!tracked(cfg, s))
		return 0;
	v->penalty_left = clienttrack_penalty(s->tracker, &s->client_ip, &first);
	if (v->penalty_left == 0)
		return 0;
	v->penalty_repeat = !first;
	verdict_refuse(cfg, v, rule, reply_id);
	return 1;
}

/* track_event - what a verdict counts against the client */
static enum ct_event
track_event(const struct rg_verdict *v)
{
	switch (v->rule) {
	case RG_RULE_UNKNOWN:
	case RG_RULE_HARVEST:
		return CT_UNKNOWN;
	case RG_RULE_RELAY:
		return CT_RELAY;
	case RG_RULE_ROUTING:
		return CT_ROUTING;
	case RG_RULE_SYNTAX:
	case RG_RULE_UTF8:
		return CT_SYNTAX;
	default:
		return CT_NONE;
	}
}

/* account_over - check and count a privileged remote recipient; 1 when
 * its account is over a limit in tempfail mode (verdict filled) */
static int
account_over(const struct rg_config *cfg, const struct rg_session *s,
	     struct rg_verdict *v)
{
	const struct accountlimit_limits *lim;
	const char *account, *domain;
	char addr[64];
	int auth = s->auth_user[0] != '\0';

	if (s->accounts == NULL)
		return 0;
	if (auth) {
		account = s->auth_user;
		lim = config_account_limits(cfg, s->auth_user);
	} else if (s->client_ip_known) {
		account = rg_ip_format(&s->client_ip, addr, sizeof(addr));
		lim = config_account_limits(cfg, NULL);
	} else {
		return 0;
	}
	domain = strrchr(v->normalized, '@');
	domain = domain != NULL ? domain + 1 : v->normalized;
	v->account_checked = 1;
	v->account_kind = auth ? AL_AUTH : AL_TRUSTED;
	if (!accountlimit_rcpt(s->accounts, v->account_kind, account,
			       s->client_ip_known ? &s->client_ip : NULL,
			       domain, lim, &v->account))
		return 0;
	if (auth)
		verdict_refuse(cfg, v, RG_RULE_AUTH_LIMIT, RG_REPLY_AUTH_LIMIT);
	else
		verdict_refuse(cfg, v, RG_RULE_TRUSTED_LIMIT, RG_REPLY_TRUSTED_LIMIT);
	return 1;
}

/* verdict_start - the fields every stage sets */
static void
verdict_start(struct rg_verdict *v, enum rg_stage stage)
{
	v->stage = stage;
	v->action = RG_ACCEPT;
	v->rule = RG_RULE_PASS;
	v->code = 250;
	v->ecode = "2.0.0";
	v->text = "OK";
	v->dir_consulted = 0;
	v->dir_result = DIR_NOTFOUND;
	v->dir_key[0] = '\0';
	v->local = 0;
	v->normalized[0] = '\0';
	v->trust = RG_TRUST_UNTRUSTED;
	v->sender_class = RG_SENDER_NONE;
	v->track_event = CT_NONE;
	v->penalty_left = 0;
	v->penalty_repeat = 0;
	v->account_checked = 0;
}

/* parse_failed - syntax or utf8 refusal after addr_parse/addr_resolve */
static int
parse_failed(const struct rg_config *cfg, struct rg_verdict *v,
	     enum addr_status status)
{
	if (status == ADDR_OK)
		return 0;
	if (status == ADDR_8BIT)
		verdict_refuse(cfg, v, RG_RULE_UTF8, RG_REPLY_UTF8);
	else
		verdict_refuse(cfg, v, RG_RULE_SYNTAX, RG_REPLY_SYNTAX);
	return 1;
}

/* sender_as_written - a sender whose unwrapping failed is judged as
 * written: we never route to it, so a trick in it that does not unwrap
 * cleanly ("u%@example.org") is no reason to refuse the MAIL command */
static void
sender_as_written(struct address *a)
{
	if (a->ntrace < ADDR_TRACE_MAX) {
		rg_snprintf(a->trace[a->ntrace], ADDR_TRACE_LEN,
			    "sender not unwrapped (%s): judged as written",
			    a->error != NULL ? a->error : "error");
		a->ntrace++;
	}
	a->status = ADDR_OK;
	a->error = NULL;
	rg_strlcpy(a->final_local, a->local, sizeof(a->final_local));
	a->final_domain = a->domain;
}

/* resolve_everywhere - addr_is_local_fn that unwraps every hop */
static int
resolve_everywhere(const struct addr_domain *domain, void *ctx)
{
	(void)domain;
	(void)ctx;
	return 1;
}

/* sender_denied_resolved - sender_deny against the sender with every
 * hidden route undone, whatever its domain: "spammer%example.net@
 * gmail.com" is spammer@example.net's mail to whoever reads it */
static int
sender_denied_resolved(const struct rg_config *cfg, const struct address *a)
{
	struct address r;
	char key[ADDR_PATH_MAX * 2];

	if (!(a->tricks & ADDR_TRICK_ROUTING) && strpbrk(a->local, "%!@") == NULL)
		return 0;
	r = *a;
	r.ntrace = 0;
	if (addr_resolve(&r, resolve_everywhere, NULL) != ADDR_OK
	    || r.final_domain.type == ADDR_DOM_NONE)
		return 0;
	join_address(key, sizeof(key), r.final_local, r.final_domain.name);
	rg_lowercase(key);
	return config_sender_denied(cfg, key);
}

/* decide_mail - MAIL FROM */
static void
decide_mail(const struct rg_config *cfg, const struct rg_session *s,
	    const char *input, size_t len, struct rg_verdict *v)
{
	struct address *a = &v->addr;
	enum addr_status status;
	enum rg_rule priv;
	char key[ADDR_PATH_MAX * 2];

	status = addr_parse(input, len, ADDR_F_SENDER, a);
	if (status == ADDR_8BIT && a->param_smtputf8)
		status = addr_parse(input, len, ADDR_F_SENDER | ADDR_F_SMTPUTF8, a);
	if (status == ADDR_OK
	    && addr_resolve(a, config_is_local, (void *)cfg) != ADDR_OK)
		sender_as_written(a);
	priv = privilege(cfg, s);
	v->trust = trust_of(priv);
	if (parse_failed(cfg, v, status))
		return;
	set_normalized(v);

	if (a->kind == ADDR_NULL) {
		v->sender_class = RG_SENDER_BLANK;
		if (priv == RG_RULE_PASS && cfg->blank_sender == RG_BLANK_REJECT)
			verdict_refuse(cfg, v, RG_RULE_BLANK_SENDER,
				       RG_REPLY_BLANK_SENDER);
		else if (priv == RG_RULE_PASS && cfg->blank_sender == RG_BLANK_DROP)
			verdict_refuse(cfg, v, RG_RULE_BLANK_SENDER,
				       RG_REPLY_BLANK_SENDER_DROP);
		else if (cfg->sender_deny.count > 0 && config_sender_denied(cfg, ""))
			verdict_refuse(cfg, v, RG_RULE_SENDER_DENY,
				       RG_REPLY_SENDER_DENY);	/* "<>" listed */
		else
			verdict_accept(v, RG_RULE_PASS);
		return;
	}

	v->local = config_is_local(&a->domain, (void *)cfg);
	v->sender_class = v->local ? RG_SENDER_LOCAL : RG_SENDER_FOREIGN;
	join_address(key, sizeof(key), a->local, domain_for_key(cfg, &a->domain));
	rg_lowercase(key);
	if (cfg->sender_deny.count > 0 && (config_sender_denied(cfg, key)
					   || sender_denied_resolved(cfg, a))) {
		verdict_refuse(cfg, v, RG_RULE_SENDER_DENY, RG_REPLY_SENDER_DENY);
		return;
	}
	if (v->local && priv == RG_RULE_PASS && cfg->local_sender_from_untrusted == RG_SPOOF_REJECT) {
		verdict_refuse(cfg, v, RG_RULE_SPOOF, RG_REPLY_SPOOF);
		return;
	}
	verdict_accept(v, RG_RULE_PASS);
}

/* is_postmaster - RFC 5321 4.5.1: <postmaster> or postmaster@ours */
static int
is_postmaster(const struct address *a)
{
	return a->kind == ADDR_POSTMASTER
	    || rg_strcaseeq(a->final_local, "postmaster");
}

/* harvest_over - this many unknown recipients crosses harvest_limit */
static int
harvest_over(const struct rg_config *cfg, unsigned unknown)
{
	return cfg->harvest_limit > 0 && unknown > cfg->harvest_limit;
}

/* look_up - ask the directory for v->dir_key and decide from the answer */
static void
look_up(const struct rg_config *cfg, struct directory *dir,
	const struct rg_session *s, struct rg_verdict *v)
{
	v->dir_consulted = 1;
	v->dir_result = directory_lookup(dir, v->dir_key);
	switch (v->dir_result) {
	case DIR_FOUND:
		verdict_accept(v, RG_RULE_LOCAL);
		break;
	case DIR_NOTFOUND:
		if (harvest_over(cfg, s->unknown_rcpts + 1))
			verdict_refuse(cfg, v, RG_RULE_HARVEST, RG_REPLY_HARVEST);
		else
			verdict_refuse(cfg, v, RG_RULE_UNKNOWN, RG_REPLY_UNKNOWN);
		break;
	case DIR_ERROR:
	default:
		v->dir_result = DIR_ERROR;
		if (cfg->directory_failure == RG_DIRFAIL_ACCEPT)
			verdict_accept(v, RG_RULE_DIRECTORY_ACCEPT);
		else
			verdict_refuse(cfg, v, RG_RULE_DIRECTORY, RG_REPLY_DIRECTORY);
		break;
	}
}

/* decide_rcpt - RCPT TO */
static void
decide_rcpt(const struct rg_config *cfg, struct directory *dir,
	    const struct rg_session *s, const char *input, size_t len,
	    struct rg_verdict *v)
{
	struct address *a = &v->addr;
	enum addr_status status;
	enum rg_rule priv;

	priv = privilege(cfg, s);
	v->trust = trust_of(priv);
	v->sender_class = s->sender_class;
	status = addr_parse(input, len, s->smtputf8 ? ADDR_F_SMTPUTF8 : 0, a);
	if (status == ADDR_OK)
		status = addr_resolve(a, config_is_local, (void *)cfg);
	if (status == ADDR_OK)
		set_normalized(v);
	if (penalised(cfg, s, v, RG_RULE_CLIENT_PENALTY_RCPT,
		      RG_REPLY_CLIENT_PENALTY_RCPT))
		return;
	if (parse_failed(cfg, v, status))
		return;

	if (harvest_over(cfg, s->unknown_rcpts)) {
		verdict_refuse(cfg, v, RG_RULE_HARVEST, RG_REPLY_HARVEST);
		return;
	}
	v->local = a->final_ours;	/* addr_resolve asked config_is_local */
	if ((a->tricks & ADDR_TRICK_ROUTING) && priv == RG_RULE_PASS
	    && cfg->routing == RG_ROUTING_REJECT) {
		verdict_refuse(cfg, v, RG_RULE_ROUTING, RG_REPLY_ROUTING);
		return;
	}
	if (!v->local) {
		if (priv == RG_RULE_PASS)
			verdict_refuse(cfg, v, RG_RULE_RELAY, RG_REPLY_RELAY);
		else if (!account_over(cfg, s, v))
			verdict_accept(v, priv);
		return;
	}
	if (a->kind == ADDR_UNQUALIFIED
	    && cfg->unqualified_recipient == RG_UNQUALIFIED_REJECT) {
		/* RFC 5321 4.1.1.3: only <postmaster> may lack a domain, and
		 * each MTA qualifies the rest with a name of its own,
		 * which need not be the domain relayguard would pick */
		verdict_refuse(cfg, v, RG_RULE_UNQUALIFIED, RG_REPLY_UNQUALIFIED);
		return;
	}
	if (is_postmaster(a)) {
		verdict_accept(v, RG_RULE_POSTMASTER);
		return;
	}
	if (s->sender_null && priv == RG_RULE_PASS
	    && cfg->blank_sender == RG_BLANK_SINGLE && s->rcpts_accepted >= 1) {
		verdict_refuse(cfg, v, RG_RULE_BLANK_SENDER, RG_REPLY_BLANK_SENDER);
		return;
	}

	/* The mailbox the MTA delivers to, not relayguard's own reading. */
	join_address(v->dir_key, sizeof(v->dir_key), addr_deliver_local(a),
		     domain_for_key(cfg, addr_deliver_domain(a)));
	look_up(cfg, dir, s, v);
}

/* hop_ours - the MTA's next hop (policy_hop_canon form) is one of ours
 * for a recipient at domain (already judged ours) */
static int
hop_ours(const struct rg_config *cfg, const char *hop,
	 const struct addr_domain *domain)
{
	struct rg_ip ip;
	char    text[64];
	size_t  i, n;

	if (hop[0] == '\0' || strcmp(hop, "unix:") == 0)
		return 1;			/* this host */
	for (i = 0; i < cfg->internal_next_hops.count; i++)
		if (strcmp(cfg->internal_next_hops.items[i], hop) == 0)
			return 1;
	if (hop[0] == '[') {
		n = strlen(hop);
		if (n < 3 || n - 2 >= sizeof(text))
			return 0;
		memcpy(text, hop + 1, n - 2);
		text[n - 2] = '\0';
		return rg_ip_parse(text, &ip)
		    && (netlist_match_exact(&cfg->local_addresses, &ip)
			|| (domain->type == ADDR_DOM_LITERAL
			    && rg_ip_equal(&domain->ip, &ip)));
	}
	return config_local_domain(cfg, hop)
	    || (domain->type == ADDR_DOM_NAME && strcmp(domain->name, hop) == 0);
}

/* policy_hop_canon - a next hop in the form compared */
const char *
policy_hop_canon(const char *hop, char *out, size_t size)
{
	char    name[ADDR_DOMAIN_MAX + 1], ipbuf[64];
	const char *p = hop, *end, *colon;
	struct rg_ip ip;
	size_t  n, i;

	if (size == 0)
		return "no room";
	out[0] = '\0';
	if (hop == NULL || *hop == '\0')
		return NULL;
	if (strncasecmp(p, "unix:", 5) == 0 || strncasecmp(p, "local:", 6) == 0) {
		rg_strlcpy(out, "unix:", size);
		return NULL;
	}
	if (strncasecmp(p, "inet:", 5) == 0)
		p += 5;
	if (*p == '[') {
		if ((end = strchr(p, ']')) == NULL)
			return "unterminated [address]";
		colon = end + 1;
		p++;
		if (strncasecmp(p, "ipv6:", 5) == 0)
			p += 5;
	} else {
		/* host:port, but a bare IPv6 address has colons of its own */
		end = strrchr(p, ':');
		if (end != NULL && memchr(p, ':', (size_t)(end - p)) != NULL)
			end = NULL;
		if (end == NULL)
			end = p + strlen(p);
		colon = end;
	}
	if (*colon == ':')
		for (i = 1; colon[i] != '\0'; i++)
			if (colon[i] < '0' || colon[i] > '9')
				return "a port that is not a number";
	if (*colon != '\0' && *colon != ':')
		return "text after the [address]";
	n = (size_t)(end - p);
	if (n > 0 && p[n - 1] == '.')
		n--;
	if (n == 0)
		return "empty host name";
	if (n >= sizeof(name))
		return "host name longer than 255 characters";
	for (i = 0; i < n; i++)
		name[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
	name[n] = '\0';
	if (rg_ip_parse(name, &ip)) {
		rg_ip_format(&ip, ipbuf, sizeof(ipbuf));
		if (rg_snprintf(out, size, "[%s]", ipbuf) < 0)
			return "no room";
		return NULL;
	}
	for (i = 0; i < n && (unsigned char)name[i] < 0x80; i++)
		continue;
	if (i < n)			/* U-labels: compared in A-labels */
		return addr_domain_alabels(name, out, size);
	if (rg_strlcpy(out, name, size) >= size)
		return "no room";
	return NULL;
}

/* policy_judge_mta - the MTA's own resolution as a second judge */
void
policy_judge_mta(const struct rg_config *cfg, struct directory *dir,
		 const struct rg_session *s, const struct rg_mta_rcpt *mta,
		 struct rg_verdict *v)
{
	struct address m;
	char    hop[ADDR_DOMAIN_MAX + 1], key[sizeof(v->dir_key)];
	const char *why = NULL;
	const struct addr_domain *kd;
	const char *kdomain;
	enum rg_rule priv;

	if (v->stage != RG_STAGE_RCPT || mta == NULL || mta->mailer == NULL)
		return;
	addr_trace_note(&v->addr, "mta: %s [%s] <%s>", mta->mailer,
			mta->host != NULL ? mta->host : "",
			mta->addr != NULL ? mta->addr : "");
	if (rg_strcaseeq(mta->mailer, "error")) {
		addr_trace_note(&v->addr, "mta: the MTA refuses it itself");
		return;
	}
	if (mta->addr == NULL
	    || addr_parse(mta->addr, strlen(mta->addr),
			  s->smtputf8 ? ADDR_F_SMTPUTF8 : 0, &m) != ADDR_OK
	    || m.kind == ADDR_NULL)
		why = "the MTA's address cannot be read";
	else if (!config_is_local(&m.domain, (void *)cfg))
		why = "the MTA's address is not ours";
	else if (policy_hop_canon(mta->host, hop, sizeof(hop)) != NULL
		 || !hop_ours(cfg, hop, &m.domain))
		why = "the MTA's next hop is not ours";

	if (policy_refused(v)) {
		if (why == NULL && !v->local)
			addr_trace_note(&v->addr, "mta: the MTA would deliver it "
					"here; relayguard's refusal stands");
		return;
	}
	if (!v->local)
		return;			/* a privileged client's relay */
	if (why != NULL) {
		if ((priv = privilege(cfg, s)) != RG_RULE_PASS) {
			/* a relay after all, which this client may do */
			addr_trace_note(&v->addr, "mta: %s; the client may relay",
					why);
			verdict_accept(v, priv);
			return;
		}
		addr_trace_note(&v->addr, "mta: %s: refused", why);
		verdict_refuse(cfg, v, RG_RULE_MTA_MISMATCH, RG_REPLY_MTA_MISMATCH);
		return;
	}
	if (!v->dir_consulted)
		return;			/* postmaster */
	/* Sendmail's local mailer sends the user alone: our domain. */
	kd = m.domain.type == ADDR_DOM_NONE ? addr_deliver_domain(&v->addr)
	    : &m.domain;
	if ((kdomain = domain_for_key(cfg, kd)) == NULL)
		return;			/* no domain to look it up at */
	join_address(key, sizeof(key), m.local, kdomain);
	if (key[0] == '\0' || rg_strcaseeq(key, v->dir_key))
		return;
	addr_trace_note(&v->addr, "mta: the MTA delivers to %s: looked up", key);
	rg_strlcpy(v->dir_key, key, sizeof(v->dir_key));
	look_up(cfg, dir, s, v);
}

/* policy_decide - judge one step */
void
policy_decide(const struct rg_config *cfg, struct directory *dir,
	      const struct rg_session *s, enum rg_stage stage,
	      const char *input, size_t len, struct rg_verdict *v)
{
	verdict_start(v, stage);
	switch (stage) {
	case RG_STAGE_MAIL:
		decide_mail(cfg, s, input != NULL ? input : "",
			    input != NULL ? len : 0, v);
		break;
	case RG_STAGE_RCPT:
		decide_rcpt(cfg, dir, s, input != NULL ? input : "",
			    input != NULL ? len : 0, v);
		break;
	case RG_STAGE_CONNECT:
	case RG_STAGE_HELO:
	default:
		/* Only a penalty; otherwise the verdict is for the audit.
		 * policy_stage_can_refuse() must know every rule here. */
		memset(&v->addr, 0, sizeof(v->addr));
		v->trust = policy_client_trust(cfg, s);
		if (!penalised(cfg, s, v, RG_RULE_CLIENT_PENALTY,
			       RG_REPLY_CLIENT_PENALTY))
			verdict_accept(v, RG_RULE_PASS);
		break;
	}
	if (tracked(cfg, s))
		v->track_event = track_event(v);
}

/* policy_stage_can_refuse - whether a refusal is possible at stage */
int
policy_stage_can_refuse(const struct rg_config *cfg,
			const struct rg_session *s, enum rg_stage stage)
{
	if (stage != RG_STAGE_CONNECT && stage != RG_STAGE_HELO)
		return 1;
	/* The rules decide_connect/HELO can apply: see policy_decide(). */
	if (s->tracker != NULL
	    && !config_rule_monitored(cfg, RG_RULE_CLIENT_PENALTY))
		return 1;
	if (cfg->audit_db != NULL && cfg->audit_db[0] != '\0'
	    && cfg->audit_failure == RG_AUDITFAIL_TEMPFAIL
	    && !config_rule_monitored(cfg, RG_RULE_AUDIT))
		return 1;
	return 0;
}

/* policy_mta_refused - see policy.h */
void
policy_mta_refused(const struct rg_config *cfg, const struct rg_session *s,
		   const char *input, size_t len, int code, const char *ecode,
		   const char *text, struct rg_verdict *v)
{
	struct address *a = &v->addr;
	enum addr_status status;

	verdict_start(v, RG_STAGE_RCPT);
	v->trust = policy_client_trust(cfg, s);
	v->sender_class = s->sender_class;
	status = addr_parse(input != NULL ? input : "", input != NULL ? len : 0,
			    s->smtputf8 ? ADDR_F_SMTPUTF8 : 0, a);
	if (status == ADDR_OK)
		status = addr_resolve(a, config_is_local, (void *)cfg);
	if (status == ADDR_OK) {
		set_normalized(v);
		v->local = a->final_ours;
	}
	v->rule = RG_RULE_MTA;
	v->code = code;
	v->ecode = ecode;
	v->text = text;
	if (code == 421)
		v->action = RG_DROP;
	else if (code >= 400 && code < 500)
		v->action = RG_TEMPFAIL;
	else
		v->action = RG_REJECT;
}

/* policy_audit_unavailable - an accepted verdict that cannot be recorded
 * under audit_failure = tempfail becomes the audit_unavailable refusal */
int
policy_audit_unavailable(const struct rg_config *cfg, struct rg_verdict *v)
{
	if (policy_refused(v))
		return 0;		/* refused anyway: nothing passes */
	verdict_refuse(cfg, v, RG_RULE_AUDIT, RG_REPLY_AUDIT);
	return 1;
}

/* policy_commit - apply a verdict to the session's state and counters */
void
policy_commit(struct rg_session *s, const struct rg_verdict *v)
{
	int accepted = !policy_refused(v);

	if (v->track_event != CT_NONE && s->tracker != NULL)
		(void) clienttrack_note(s->tracker, &s->client_ip, v->track_event);
	switch (v->stage) {
	case RG_STAGE_MAIL:
		policy_reset_txn(s);
		if (!accepted)
			break;		/* no transaction was opened */
		s->in_txn = 1;
		s->transactions++;
		s->sender_null = v->addr.kind == ADDR_NULL;
		s->sender_local = v->local;
		s->smtputf8 = v->addr.param_smtputf8 != 0;
		s->sender_class = v->sender_class;
		break;
	case RG_STAGE_RCPT:
		s->rcpts++;
		if (accepted)
			s->rcpts_accepted++;
		else
			s->rcpts_refused++;
		if (v->rule == RG_RULE_UNKNOWN || v->rule == RG_RULE_HARVEST)
			s->unknown_rcpts++;
		break;
	default:
		break;
	}
}

/* policy_reply_problem - the class each reply must keep */
const char *
policy_reply_problem(enum rg_reply_id id, const struct rg_reply *reply)
{
	switch (id) {
	case RG_REPLY_DIRECTORY:
		if (reply->code / 100 != 4)
			return "must be a 4xx reply: a directory that cannot "
			    "answer is a temporary failure, never a 5xx";
		break;
	case RG_REPLY_AUDIT:
		if (reply->code / 100 != 4)
			return "must be a 4xx reply: an audit trail that "
			    "cannot record is a temporary failure, never a 5xx";
		break;
	case RG_REPLY_CLIENT_PENALTY_RCPT:
		if (reply->code / 100 != 4)
			return "must be a 4xx reply: a penalty ends, the "
			    "client may try again after it";
		break;
	case RG_REPLY_AUTH_LIMIT:
	case RG_REPLY_TRUSTED_LIMIT:
		if (reply->code / 100 != 4)
			return "must be a 4xx reply: the mail is deferred "
			    "until the limit's window has passed";
		break;
	case RG_REPLY_HARVEST:
	case RG_REPLY_BLANK_SENDER_DROP:
	case RG_REPLY_CLIENT_PENALTY:
		if (reply->code != 421)
			return "must be a 421 reply: this rule closes the "
			    "connection";
		break;
	default:
		if (reply->code / 100 != 4 && reply->code / 100 != 5)
			return "must be a 4xx or 5xx reply";
		break;
	}
	return NULL;
}

/* policy_refused - the MTA must refuse (reject, tempfail or drop) */
int
policy_refused(const struct rg_verdict *v)
{
	return v->action == RG_REJECT || v->action == RG_TEMPFAIL
	    || v->action == RG_DROP;
}

/* rg_stage_name - connect, helo, mail, rcpt */
const char *
rg_stage_name(enum rg_stage stage)
{
	switch (stage) {
	case RG_STAGE_CONNECT:
		return "connect";
	case RG_STAGE_HELO:
		return "helo";
	case RG_STAGE_MAIL:
		return "mail";
	case RG_STAGE_RCPT:
		return "rcpt";
	}
	return "unknown";
}

/* rg_action_name - accept, reject, tempfail, drop, would-reject */
const char *
rg_action_name(enum rg_action action)
{
	switch (action) {
	case RG_ACCEPT:
		return "accept";
	case RG_REJECT:
		return "reject";
	case RG_TEMPFAIL:
		return "tempfail";
	case RG_DROP:
		return "drop";
	case RG_WOULD_REJECT:
		return "would-reject";
	}
	return "unknown";
}

/* rg_trust_name - trusted, authenticated, untrusted */
const char *
rg_trust_name(enum rg_trust trust)
{
	switch (trust) {
	case RG_TRUST_TRUSTED:
		return "trusted";
	case RG_TRUST_AUTHENTICATED:
		return "authenticated";
	case RG_TRUST_UNTRUSTED:
		return "untrusted";
	}
	return "unknown";
}

/* rg_sender_class_name - blank, local, foreign; NULL before MAIL */
const char *
rg_sender_class_name(enum rg_sender_class c)
{
	switch (c) {
	case RG_SENDER_BLANK:
		return "blank";
	case RG_SENDER_LOCAL:
		return "local";
	case RG_SENDER_FOREIGN:
		return "foreign";
	case RG_SENDER_NONE:
		break;
	}
	return NULL;
}
