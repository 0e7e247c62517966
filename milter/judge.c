/*
 * judge - one SMTP step of one connection, whichever door it came in by
 *
 * See judge.h.  The audit handle sits behind a read-write lock so that
 * shutdown can detach it while steps are still being judged: a late step
 * either submits before the flush or, with audit_failure = tempfail,
 * defers its mail.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "address.h"
#include "audit.h"
#include "config.h"
#include "directory.h"
#include "netlist.h"
#include "policy.h"
#include "milter_text.h"
#include "rglog.h"
#include "runtime.h"
#include "judge.h"

/* The audit handle; the lock lets shutdown detach it safely. */
static pthread_rwlock_t audit_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct audit *audit_handle;
static int audit_detached;		/* shutdown took the handle away */

/* Counters for the stats line. */
static unsigned long stat_actions[RG_WOULD_REJECT + 1];
static unsigned long stat_connections;
static unsigned long stat_audit_deferred;
static unsigned stat_live;
static unsigned session_counter;

static const char audit_defer_ecode[] = "4.3.0";
static const char audit_defer_text[] = "Audit trail unavailable, try again later";

/* counter_add - thread-safe increment */
static void
counter_add(unsigned long *counter)
{
	__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

/* new_session_id - a fresh id for the connection's (next) session */
static void
new_session_id(struct rg_conn *c)
{
	unsigned n;

	n = __atomic_add_fetch(&session_counter, 1, __ATOMIC_RELAXED);
	mt_session_id((uint64_t) time(NULL), (unsigned) getpid(), n, c->id,
		      sizeof(c->id));
}

/* judge_conn_new - state for a new connection, holding the current runtime */
struct rg_conn *
judge_conn_new(void)
{
	struct rg_conn *c;
	struct rg_runtime *rt;

	if ((rt = runtime_acquire()) == NULL)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->rt = rt;
	rg_strlcpy(c->mta, "-", sizeof(c->mta));
	judge_conn_new_session(c);
	__atomic_add_fetch(&stat_live, 1, __ATOMIC_RELAXED);
	return c;
}

/* judge_conn_new_session - new session facts and id, same runtime */
void
judge_conn_new_session(struct rg_conn *c)
{
	policy_session_init(&c->s);
	judge_reset_txn(c);
	new_session_id(c);
	rg_strlcpy(c->client_addr, "unknown", sizeof(c->client_addr));
	rg_strlcpy(c->s.client_name, "unknown", sizeof(c->s.client_name));
	counter_add(&stat_connections);
}

/* judge_conn_free - release the runtime and the state; returns NULL */
struct rg_conn *
judge_conn_free(struct rg_conn *c)
{
	if (c == NULL)
		return NULL;
	c->rt = runtime_release(c->rt);
	free(c);
	__atomic_sub_fetch(&stat_live, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* judge_reset_txn - forget the current transaction */
void
judge_reset_txn(struct rg_conn *c)
{
	policy_reset_txn(&c->s);
	c->queue_id[0] = '\0';
	c->sender[0] = '\0';
	c->sender_path[0] = '\0';
	c->sender_set = 0;
	c->sender_class = NULL;
}

/* judge_set_sender - MAIL FROM's path as written */
void
judge_set_sender(struct rg_conn *c, const char *path)
{
	/* Strip <> before bounding: a cut text has no closing '>'. */
	rg_strlcpy(c->sender, path, sizeof(c->sender));
	mt_strip_brackets(path, c->sender_path, sizeof(c->sender_path));
	c->sender_set = 1;
}

/* judge_client_ip_text - the client's address from its text form */
void
judge_client_ip_text(struct rg_conn *c, const char *text)
{
	c->s.client_ip_known = text != NULL
		&& rg_ip_parse(text, &c->s.client_ip) == 1;
	if (c->s.client_ip_known)
		(void) rg_ip_format(&c->s.client_ip, c->client_addr,
				    sizeof(c->client_addr));
	else
		rg_strlcpy(c->client_addr, "unknown", sizeof(c->client_addr));
}

/* client_trust - trusted, authenticated or untrusted, as the policy sees it */
static const char *
client_trust(const struct rg_conn *c)
{
	const struct rg_config *cfg = c->rt->cfg;

	if (!policy_client_privileged(cfg, &c->s))
		return "untrusted";
	if (c->s.client_ip_known
	    && netlist_match(&cfg->trusted_networks, &c->s.client_ip))
		return "trusted";
	return "authenticated";
}

/* sender_class - blank, local or foreign for a MAIL verdict */
static const char *
sender_class(const struct rg_verdict *v)
{
	if (v->addr.status != ADDR_OK)
		return NULL;
	if (v->addr.kind == ADDR_NULL)
		return "blank";
	return v->local ? "local" : "foreign";
}

/* audit_verdict - one audit row; -1 when the mail must be deferred */
static int
audit_verdict(struct rg_conn *c, const struct rg_verdict *v,
	      const char *rcpt, const char *trace)
{
	struct audit_row row;
	char rcptbuf[JUDGE_SENDER_KEEP];
	int rc = 0;

	memset(&row, 0, sizeof(row));
	row.time_ms = rg_wall_ms();
	row.session_id = c->id;
	row.queue_id = c->queue_id[0] ? c->queue_id : NULL;
	row.mta = c->mta;
	row.client_addr = c->client_addr;
	row.client_name = c->s.client_name;
	row.helo = c->s.helo;
	row.auth_user = c->s.auth_user;
	row.stage = rg_stage_name(v->stage);
	row.sender = c->sender_set ? c->sender : NULL;
	row.rcpt = rcpt ? (rg_strlcpy(rcptbuf, rcpt, sizeof(rcptbuf)), rcptbuf) : NULL;
	row.rcpt_normalized = v->stage == RG_STAGE_RCPT ? v->normalized : NULL;
	row.rule = rg_rule_name(v->rule);
	row.action = rg_action_name(v->action);
	row.code = v->code;
	row.ecode = v->ecode;
	row.text = v->text;
	row.directory_result = v->dir_consulted ? dir_result_name(v->dir_result)
		: NULL;
	row.trace = trace;
	row.client_trust = client_trust(c);
	row.sender_class = c->sender_class;

	pthread_rwlock_rdlock(&audit_lock);
	if (audit_handle != NULL)
		rc = audit_submit(audit_handle, &row);
	else if (audit_detached
		 && c->rt->cfg->audit_failure == RG_AUDITFAIL_TEMPFAIL)
		rc = -1;		/* nothing may pass unrecorded */
	pthread_rwlock_unlock(&audit_lock);
	return rc;
}

/* log_verdict - the one log line of a verdict */
static void
log_verdict(struct rg_conn *c, const struct rg_verdict *v, const char *rcpt,
	    const char *trace, const char *extra)
{
	struct mt_verdict_log f;
	char line[MT_LINE_MAX], to[JUDGE_SENDER_KEEP];

	memset(&f, 0, sizeof(f));
	f.queue_id = c->queue_id;
	f.session_id = c->id;
	f.stage = rg_stage_name(v->stage);
	f.action = rg_action_name(v->action);
	f.rule = rg_rule_name(v->rule);
	f.code = v->code;
	f.ecode = v->ecode;
	f.client_name = c->s.client_name;
	f.client_addr = c->client_addr;
	f.helo = c->s.helo;
	f.auth = c->s.auth_user;
	if (c->sender_set)
		f.from = c->sender_path;
	if (v->stage == RG_STAGE_RCPT) {
		f.to = mt_strip_brackets(rcpt, to, sizeof(to));
		f.normalized = v->normalized[0] ? v->normalized : NULL;
		f.dir = v->dir_consulted ? dir_result_name(v->dir_result) : "-";
	}
	f.trace = trace;
	f.extra = extra;
	rglog_line(policy_refused(v) ? LOG_NOTICE : LOG_INFO,
		   mt_format_verdict(&f, line, sizeof(line)));
}

/* judge_step - decide one step, audit it, log it, commit it */
void
judge_step(struct rg_conn *c, enum rg_stage stage, const char *input,
	   size_t len, const char *rcpt, struct rg_verdict *v)
{
	char trace[ADDR_TRACE_MAX * (ADDR_TRACE_LEN + 2)];
	const char *extra = NULL;

	memset(v, 0, sizeof(*v));
	policy_decide(c->rt->cfg, c->rt->dir, &c->s, stage, input, len, v);
	if (stage == RG_STAGE_MAIL)
		c->sender_class = sender_class(v);
	mt_join_trace(&v->addr, trace, sizeof(trace));
	if (audit_verdict(c, v, rcpt, trace) < 0 && !policy_refused(v)) {
		/* audit_failure = tempfail: nothing passes unrecorded */
		v->action = RG_TEMPFAIL;
		v->code = 451;
		v->ecode = audit_defer_ecode;
		v->text = audit_defer_text;
		extra = "audit=unavailable";
		counter_add(&stat_audit_deferred);
	}
	if ((unsigned) v->action < RG_ARRAY_LEN(stat_actions))
		counter_add(&stat_actions[v->action]);
	log_verdict(c, v, rcpt, trace, extra);
	policy_commit(&c->s, v);
}

/* judge_set_audit - verdicts go to this handle from now on */
void
judge_set_audit(struct audit *audit)
{
	pthread_rwlock_wrlock(&audit_lock);
	audit_handle = audit;
	pthread_rwlock_unlock(&audit_lock);
}

/* judge_take_audit - detach the handle (waits for submitters) */
struct audit *
judge_take_audit(void)
{
	struct audit *audit;

	pthread_rwlock_wrlock(&audit_lock);
	audit = audit_handle;
	audit_handle = NULL;
	audit_detached = audit != NULL;
	pthread_rwlock_unlock(&audit_lock);
	return audit;
}

/* judge_live - open connections */
unsigned
judge_live(void)
{
	return __atomic_load_n(&stat_live, __ATOMIC_RELAXED);
}

/* judge_stats - counters, directory and audit statistics */
void
judge_stats(char *buf, size_t size)
{
	char dirstats[512] = "-", auditstats[512] = "off";
	struct rg_runtime *rt;
	unsigned long a[RG_WOULD_REJECT + 1];
	size_t i;

	for (i = 0; i < RG_ARRAY_LEN(a); i++)
		a[i] = __atomic_load_n(&stat_actions[i], __ATOMIC_RELAXED);
	if ((rt = runtime_acquire()) != NULL) {
		directory_stats(rt->dir, dirstats, sizeof(dirstats));
		if (dirstats[0] == '\0')
			rg_strlcpy(dirstats, "-", sizeof(dirstats));
		rt = runtime_release(rt);
	}
	pthread_rwlock_rdlock(&audit_lock);
	if (audit_handle != NULL)
		audit_stats(audit_handle, auditstats, sizeof(auditstats));
	pthread_rwlock_unlock(&audit_lock);
	(void) snprintf(buf, size, "stats: connections=%lu live=%u accept=%lu "
			"reject=%lu tempfail=%lu drop=%lu would-reject=%lu "
			"audit-deferred=%lu; directory: %s; %s",
			__atomic_load_n(&stat_connections, __ATOMIC_RELAXED),
			judge_live(), a[RG_ACCEPT], a[RG_REJECT],
			a[RG_TEMPFAIL], a[RG_DROP], a[RG_WOULD_REJECT],
			__atomic_load_n(&stat_audit_deferred, __ATOMIC_RELAXED),
			dirstats, auditstats);
}
