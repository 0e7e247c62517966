/*
 * judge - one SMTP step of one connection, whichever door it came in by
 *
 * The milter callbacks (milter_glue.c) and the policy delegation server
 * (policy_server.c) both turn what the MTA tells them into a struct
 * rg_conn and hand each step to judge_step(): policy_decide(), one
 * verdict record (verdict.h) built from it, the audit row (when it
 * cannot be recorded under audit_failure = tempfail,
 * policy_audit_unavailable() turns the verdict into that rule's
 * refusal), the log line from the same record, the counters,
 * policy_commit().  Only the answer to
 * the MTA differs between the doors, so everything an administrator
 * reads (log lines, audit rows, the stats line) is the same for both.
 *
 * Ownership: judge_conn_new() takes a reference to the current runtime
 * and judge_conn_free() drops it, so a connection finishes on the
 * configuration it started with, whatever SIGHUP does meanwhile.  The
 * struct is owned by the door that created it and is used by one thread
 * at a time.
 */
#ifndef RG_JUDGE_H
#define RG_JUDGE_H

#include <stddef.h>

#include "milter_text.h"
#include "policy.h"
#include "runtime.h"

#define JUDGE_SENDER_KEEP 1024		/* address text kept for logs/audit */

struct audit;
struct clienttrack;
struct accountlimit;
struct alert_sink;

/* Per-connection state. */
struct rg_conn {
	struct rg_runtime *rt;		/* held until judge_conn_free */
	struct rg_session s;
	char    id[MT_SESSION_ID_LEN + 1];
	char    mta[RG_NAME_MAX];
	char    client_addr[64];
	char    queue_id[64];
	char    sender[JUDGE_SENDER_KEEP];	/* as written */
	int     sender_set;
	struct rg_mta_rcpt mta_rcpt;	/* the MTA's resolution of the RCPT
					 * being judged; set by the door */
	/* Set by the door: the MTA was told it gets no answer at these
	 * stages (the milter's no-reply flags), and the connect step seen. */
	unsigned char noreply[RG_STAGE_RCPT + 1];
	int     connected;
};

/* judge_conn_new - state for a new connection holding the current
 * runtime; NULL when there is none (shutting down) */
struct rg_conn *judge_conn_new(void);

/* judge_conn_new_session - forget the connection's session facts and
 * counters, take a new session id and the current runtime (a new SMTP
 * session on a connection that lives longer, as a policy client's does:
 * a reload applies from its next SMTP session on) */
void    judge_conn_new_session(struct rg_conn *c);

/* judge_conn_free - release the runtime and the state; returns NULL */
struct rg_conn *judge_conn_free(struct rg_conn *c);

/* judge_reset_txn - forget the current transaction */
void    judge_reset_txn(struct rg_conn *c);

/* judge_set_sender - MAIL FROM's path as written (for logs and audit) */
void    judge_set_sender(struct rg_conn *c, const char *path);

/* judge_client_ip - set the client's address from its text form;
 * unparsable or NULL text leaves the address unknown */
void    judge_client_ip_text(struct rg_conn *c, const char *text);

/* judge_step - decide one step, audit it, log it, commit it, in that
 * order; the verdict is what the MTA must be told (an audit failure with
 * audit_failure = tempfail has already made an acceptance the rule
 * audit_unavailable) */
void    judge_step(struct rg_conn *c, enum rg_stage stage, const char *input,
		   size_t len, const char *rcpt, struct rg_verdict *v);

struct mta_refusal;

/* judge_mta_refusal - record a recipient the MTA refused before asking
 * (SMFIP_RCPT_REJ) as a verdict of rule mta with the MTA's reply: audit
 * row, log line and counters like any verdict, but nothing for the MTA
 * to be told and nothing committed to the session's limits */
void    judge_mta_refusal(struct rg_conn *c, const char *input, size_t len,
			  const char *rcpt, const struct mta_refusal *r,
			  struct rg_verdict *v);

/* judge_set_audit - the audit handle verdicts go to (NULL: none) */
void    judge_set_audit(struct audit *audit);

/* judge_take_audit - detach the audit handle for closing; once it
 * returns, no step uses the handle any more */
struct audit *judge_take_audit(void);

/* judge_set_tracker - the table that remembers clients across
 * connections, for connections opened from now on (NULL: off); the
 * caller keeps it alive until every connection has closed */
void    judge_set_tracker(struct clienttrack *ct);

/* judge_set_accounts - the privileged senders' counts for connections
 * opened from now on (NULL: off); the caller keeps it alive */
void    judge_set_accounts(struct accountlimit *al);

/* judge_set_alerts - where alerts go besides the log (NULL: log only);
 * judge_take_alerts() detaches it for closing, after which no step
 * uses it */
void    judge_set_alerts(struct alert_sink *sink);
struct alert_sink *judge_take_alerts(void);

/* judge_live - connections currently open, both doors */
unsigned judge_live(void);

struct metrics_snapshot;

/* judge_metrics - fill the figures judge and the modules behind it keep
 * (sessions, audit, directory) for a scrape */
void    judge_metrics(struct metrics_snapshot *snap);

/* judge_stats - the stats line: counters per action, directory and
 * audit statistics */
void    judge_stats(char *buf, size_t size);

#endif
