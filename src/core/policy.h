/*
 * policy - the decision engine: session facts + one SMTP step -> verdict
 *
 * policy_decide() is the whole of relayguard's judgement.  It knows
 * nothing of libmilter, LDAP or SQLite: it reads the configuration, the
 * session facts and the client's text, asks the directory (through its
 * interface) when a local recipient must be checked, and fills a verdict.
 * It does not change the session: policy_commit() applies a verdict to
 * the session's counters, so that a caller can decide, log, then commit.
 *
 * Rule order at RCPT (first match wins):
 *   syntax / utf8, harvest (connection already over the limit),
 *   routing (tricks in the local part, unprivileged client),
 *   relay (final destination not ours, unprivileged client),
 *   privileged relay accepted (trusted / authenticated),
 *   postmaster, blank_sender (one recipient for <>), directory:
 *   error -> directory_unavailable, not found -> unknown (or harvest when
 *   this one crosses harvest_limit), found -> local.
 * At MAIL: syntax / utf8, blank_sender (reject/drop), sender_deny, spoof.
 * At every stage, after the engine: audit_unavailable, when the verdict
 * cannot be recorded and audit_failure = tempfail (the caller asks with
 * policy_audit_unavailable(), because only it knows).
 * A client is privileged when it is not in never_relay_networks and is in
 * trusted_networks or authenticated with relay_authenticated = yes.
 *
 * Memory across connections (session tracker set): at connect and HELO
 * a penalised client gets client_penalty (421, drop), at RCPT
 * client_penalty_rcpt (450), before any other rule but the parse; the
 * verdict says whether the penalty was already reported
 * (penalty_repeat), so that the caller logs and audits it once.
 * policy_commit() counts unknown, harvest, relay, routing, syntax and
 * utf8 refusals.  Privileged clients are neither penalised nor counted
 * unless client_track_privileged = yes.
 *
 * Privileged senders (session accounts set): a remote recipient accepted
 * for relaying is checked against its account's limits and counted in
 * the same step, under the table's lock (accountlimit.h), so that
 * concurrent connections of one account cannot overshoot.  Over a limit
 * in tempfail mode it is refused with auth_limit or trusted_limit (450);
 * the verdict's account result says whether to raise an alert.
 *
 * Monitor mode (global or per rule) turns a refusal into RG_WOULD_REJECT:
 * the reply that would have been given is still in the verdict.
 *
 * Ownership: the verdict is filled in place (no allocation); its text
 * points into the configuration and is valid as long as that is.
 */
#ifndef RG_POLICY_H
#define RG_POLICY_H

#include <stddef.h>

#include "accountlimit.h"
#include "address.h"
#include "clienttrack.h"
#include "config.h"
#include "directory.h"
#include "netlist.h"

enum rg_stage {
	RG_STAGE_CONNECT, RG_STAGE_HELO, RG_STAGE_MAIL, RG_STAGE_RCPT,
};

enum rg_action {
	RG_ACCEPT,
	RG_REJECT,			/* 5xx */
	RG_TEMPFAIL,			/* 4xx */
	RG_DROP,			/* 421, the MTA closes the connection */
	RG_WOULD_REJECT,		/* monitor mode: accepted, logged */
};

#define RG_NAME_MAX 256

/* What the client may do, as the engine judged it at this step. */
enum rg_trust {
	RG_TRUST_UNTRUSTED,		/* may not relay */
	RG_TRUST_TRUSTED,		/* trusted_networks (not never_relay) */
	RG_TRUST_AUTHENTICATED,		/* SMTP AUTH, relay_authenticated = yes */
};

/* The transaction's sender, from MAIL on. */
enum rg_sender_class {
	RG_SENDER_NONE,			/* before MAIL, or MAIL did not parse */
	RG_SENDER_BLANK,		/* MAIL FROM:<> */
	RG_SENDER_LOCAL,		/* the sender's domain is ours */
	RG_SENDER_FOREIGN,
};

/* What the session knows; the caller fills the connection facts, the
 * engine's policy_commit() maintains the counters. */
struct rg_session {
	struct rg_ip client_ip;
	int     client_ip_known;	/* 0: unix socket or unknown */
	char    client_name[RG_NAME_MAX];
	char    helo[RG_NAME_MAX];
	char    auth_user[RG_NAME_MAX];	/* "" when not authenticated */
	struct clienttrack *tracker;	/* memory across connections; NULL off */
	struct accountlimit *accounts;	/* privileged senders' counts; NULL off */

	/* connection counters */
	unsigned transactions;
	unsigned rcpts_refused;
	unsigned unknown_rcpts;		/* for harvest_limit */

	/* current transaction (reset by policy_reset_txn) */
	int     in_txn;
	int     smtputf8;		/* MAIL carried SMTPUTF8 */
	int     sender_null;		/* MAIL FROM:<> */
	int     sender_local;		/* sender domain is one of ours */
	enum rg_sender_class sender_class;	/* of the accepted MAIL */
	unsigned rcpts;			/* RCPTs seen in this transaction */
	unsigned rcpts_accepted;	/* accepted (or would-reject) */
};

struct rg_verdict {
	enum rg_stage stage;
	enum rg_action action;
	enum rg_rule rule;
	int     code;			/* 250 on accept */
	const char *ecode;		/* "2.1.5", "5.7.1", ... */
	const char *text;		/* reply text; points into config */
	int     dir_consulted;
	enum dir_result dir_result;
	char    dir_key[ADDR_PATH_MAX * 2];	/* what was looked up, "" if none */
	int     local;		/* MAIL: sender domain is ours; RCPT: final
					 * destination is ours */
	struct address addr;		/* MAIL/RCPT: parsed and resolved */
	char    normalized[ADDR_PATH_MAX * 2];	/* final destination, "" if none */
	enum rg_trust trust;		/* the client, as judged at this step */
	enum rg_sender_class sender_class;	/* MAIL: this sender; RCPT: the
						 * transaction's */
	enum ct_event track_event;	/* what policy_commit counts, CT_NONE */
	unsigned penalty_left;		/* client_penalty*: seconds left */
	int     penalty_repeat;		/* this penalty was already reported */
	int     account_checked;	/* a privileged remote recipient counted */
	enum al_kind account_kind;	/* auth (auth_user) or trusted (address) */
	struct al_result account;	/* what it did to its account's limits */
};

void    policy_session_init(struct rg_session *s);
void    policy_reset_txn(struct rg_session *s);

/* policy_client_privileged - may this client relay? */
int     policy_client_privileged(const struct rg_config *cfg,
				 const struct rg_session *s);

/* policy_client_trust - trusted, authenticated or untrusted */
enum rg_trust policy_client_trust(const struct rg_config *cfg,
				  const struct rg_session *s);

/* policy_decide - judge one step.  input is the client's text after
 * "MAIL FROM:" / "RCPT TO:" (len bytes), the HELO name, or NULL at
 * connect.  dir may be NULL only when no rcpt stage is judged. */
void    policy_decide(const struct rg_config *cfg, struct directory *dir,
		      const struct rg_session *s, enum rg_stage stage,
		      const char *input, size_t len, struct rg_verdict *v);

/* What the MTA itself resolved a recipient to, as both MTAs send it with
 * every RCPT: {rcpt_mailer}, {rcpt_host}, {rcpt_addr} (Postfix: the
 * transport, next hop and address from trivial-rewrite; Sendmail: the
 * mailer triple of ruleset 0).  NULL members were not sent. */
struct rg_mta_rcpt {
	const char *mailer;
	const char *host;
	const char *addr;
};

/* policy_judge_mta - the second judge, after policy_decide() at RCPT:
 * compare the MTA's own resolution with the verdict, stricter wins.
 * The MTA delivers to us when its address's domain is ours (by
 * relayguard's rules; none, as Sendmail's local mailer sends it, is
 * ours) and its next hop is ours: empty, a unix: socket, one of our
 * domains, the address's own domain, one of our address literals, or an
 * internal_next_hops entry.  The mailer name decides nothing but
 * "error" (the MTA refuses the recipient itself).  A local, accepted
 * recipient the MTA delivers elsewhere is refused (mta_mismatch) unless
 * the client may relay; when the MTA's mailbox differs from the key
 * relayguard looked up, the MTA's is looked up too.  A refusal always
 * stands.  Each case adds an "mta: ..." trace line.  Allocates nothing.
 * mta == NULL or mta->mailer == NULL: nothing to compare. */
void    policy_judge_mta(const struct rg_config *cfg, struct directory *dir,
			 const struct rg_session *s,
			 const struct rg_mta_rcpt *mta, struct rg_verdict *v);

/* policy_hop_canon - a next hop (the MTA's {rcpt_host}, an
 * internal_next_hops entry) in the form compared: lower case, no
 * trailing dot, no ":port", "[ip]" with the address in canonical text,
 * "unix:" for a socket on this host, "" for none, a name in A-labels.
 * NULL ok, else the
 * reason.  config.c calls it for internal_next_hops. */
const char *policy_hop_canon(const char *hop, char *out, size_t size);

/* policy_mta_refused - the verdict for a recipient the MTA refused before
 * relayguard was asked (SMFIP_RCPT_REJ): rule mta with the MTA's code,
 * ecode and text (which must outlive v); the address is parsed and
 * resolved for the record (final destination, trace) but not judged,
 * and nothing is looked up.  Not for policy_commit(): the refusal is the
 * MTA's, so it counts toward none of relayguard's limits. */
void    policy_mta_refused(const struct rg_config *cfg,
			   const struct rg_session *s, const char *input,
			   size_t len, int code, const char *ecode,
			   const char *text, struct rg_verdict *v);

/* policy_reply_problem - why reply cannot serve as reply.NAME (id), or
 * NULL: directory_unavailable must be 4xx (never 5xx for an outage),
 * harvest and blank_sender_drop 421 (they close the connection), the
 * other refusals 4xx or 5xx.  config.c calls it for every reply key. */
const char *policy_reply_problem(enum rg_reply_id id,
				 const struct rg_reply *reply);
/* policy_audit_unavailable - the verdict could not be recorded and
 * audit_failure = tempfail: turn an accepted verdict into the
 * audit_unavailable refusal (reply.audit_unavailable, monitor.
 * audit_unavailable).  A verdict already refused is left as it is.
 * Returns 1 when the verdict changed. */
int     policy_audit_unavailable(const struct rg_config *cfg,
				 struct rg_verdict *v);

/* policy_commit - apply a verdict to the session's state and counters */
void    policy_commit(struct rg_session *s, const struct rg_verdict *v);

/* policy_stage_can_refuse - can any rule refuse at stage (connect or
 * HELO) for a session like s (its client tracker set or not), under
 * cfg?  1 when a penalty (client memory on, client_penalty enforced) or
 * the audit_unavailable rule (audit_failure = tempfail, enforced) could;
 * 0 means the verdict at that stage is always an acceptance, so a door
 * may tell the MTA that it will never answer it.  MAIL and RCPT always
 * can. */
int     policy_stage_can_refuse(const struct rg_config *cfg,
				const struct rg_session *s,
				enum rg_stage stage);

/* policy_refused - the MTA must refuse (reject, tempfail or drop) */
int     policy_refused(const struct rg_verdict *v);

const char *rg_stage_name(enum rg_stage stage);		/* connect, helo, mail, rcpt */
const char *rg_action_name(enum rg_action action);	/* accept, reject, tempfail, drop, would-reject */
const char *rg_trust_name(enum rg_trust trust);		/* trusted, authenticated, untrusted */
const char *rg_sender_class_name(enum rg_sender_class c);	/* blank, local, foreign; NULL for none */

#endif
