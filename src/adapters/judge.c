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
#include "accountlimit.h"
#include "address.h"
#include "alert_sink.h"
#include "audit.h"
#include "clienttrack.h"
#include "config.h"
#include "directory.h"
#include "netlist.h"
#include "policy.h"
#include "milter_text.h"
#include "verdict.h"
#include "rglog.h"
#include "runtime.h"
#include "metrics.h"
#include "mta_refusal.h"
#include "judge.h"

/* The audit handle; the lock lets shutdown detach it safely. */
static pthread_rwlock_t audit_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct audit *audit_handle;
static int audit_detached_defers;	/* shutdown took away a handle that
					 * refused what it could not record */

/* Memory across connections: lives as long as the daemon, not the
 * runtime, so that a reload keeps it. */
static struct clienttrack *tracker;
static struct accountlimit *accounts;	/* privileged senders' counts */

/* Where alerts go besides the log; under audit_lock like the audit. */
static struct alert_sink *alert_sink;

/* Counters for the stats line. */
static unsigned long stat_actions[RG_WOULD_REJECT + 1];
static unsigned long stat_connections;
static unsigned long stat_audit_deferred;
static unsigned long stat_penalty_repeats;	/* refusals not logged again */
static unsigned long stat_alerts;
static unsigned stat_live;
static unsigned session_counter;

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

static void session_start(struct rg_conn *c);

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
	session_start(c);
	__atomic_add_fetch(&stat_live, 1, __ATOMIC_RELAXED);
	return c;
}

/* judge_conn_new_session - new session facts and id on the current
 * runtime (a SIGHUP since the last session applies from now on) */
void
judge_conn_new_session(struct rg_conn *c)
{
	struct rg_runtime *rt;

	if ((rt = runtime_acquire()) != NULL) {
		c->rt = runtime_release(c->rt);
		c->rt = rt;
	}
	session_start(c);
}

/* session_start - fresh session facts, counters and id */
static void
session_start(struct rg_conn *c)
{
	policy_session_init(&c->s);
	c->s.tracker = __atomic_load_n(&tracker, __ATOMIC_ACQUIRE);
	c->s.accounts = __atomic_load_n(&accounts, __ATOMIC_ACQUIRE);
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
	c->sender_set = 0;
}

/* judge_set_sender - MAIL FROM's path as written */
void
judge_set_sender(struct rg_conn *c, const char *path)
{
	rg_strlcpy(c->sender, path, sizeof(c->sender));
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

/* audit_verdict - the record into the audit trail; -1 when it could not
 * be recorded and audit_failure = tempfail */
static int
audit_verdict(const struct verdict_record *rec)
{
	int rc = 0;

	pthread_rwlock_rdlock(&audit_lock);
	if (audit_handle != NULL)
		rc = audit_submit(audit_handle, rec);
	else if (audit_detached_defers)
		rc = -1;		/* nothing may pass unrecorded */
	pthread_rwlock_unlock(&audit_lock);
	return rc;
}

/* log_verdict - the one log line of a verdict */
static void
log_verdict(const struct verdict_record *rec)
{
	char line[MT_LINE_MAX];

	rglog_line(policy_refused(rec->verdict) ? LOG_NOTICE : LOG_INFO,
		   mt_format_verdict(rec, line, sizeof(line)));
}

/* set_front - what this connection knows that the engine does not */
static void
set_front(const struct rg_conn *c, const char *rcpt, char *rcptbuf,
	  size_t size, struct verdict_front *front)
{
	memset(front, 0, sizeof(*front));
	front->session_id = c->id;
	front->queue_id = c->queue_id;
	front->mta = c->mta;
	front->client_addr = c->client_addr;
	front->sender = c->sender_set ? c->sender : NULL;
	if (rcpt != NULL) {
		rg_strlcpy(rcptbuf, rcpt, size);
		front->rcpt = rcptbuf;
	}
}

/* judge_mta_refusal - see judge.h */
void
judge_mta_refusal(struct rg_conn *c, const char *input, size_t len,
		  const char *rcpt, const struct mta_refusal *r,
		  struct rg_verdict *v)
{
	struct verdict_record rec;
	struct verdict_front front;
	char rcptbuf[JUDGE_SENDER_KEEP], trace[VERDICT_TRACE_MAX];

	memset(v, 0, sizeof(*v));
	policy_mta_refused(c->rt->cfg, &c->s, input, len, r->code,
			   r->ecode[0] ? r->ecode : NULL, r->text, v);
	set_front(c, rcpt, rcptbuf, sizeof(rcptbuf), &front);
	verdict_record_build(&rec, v, &c->s, &front, trace, sizeof(trace));
	(void) audit_verdict(&rec);	/* refused already: nothing to defer */
	if ((unsigned) v->action < RG_ARRAY_LEN(stat_actions))
		counter_add(&stat_actions[v->action]);
	metrics_count_verdict(&rec, NULL);
	log_verdict(&rec);
}

/* raise_alert - a privileged sender crossed a relay limit: its own log
 * line, then the alert thread (audit row, alert_command) */
static void
raise_alert(const struct rg_conn *c, const struct rg_verdict *v,
	    const char *rcpt)
{
	const struct rg_config *cfg = c->rt->cfg;
	struct rg_alert a;
	char line[MT_LINE_MAX];

	memset(&a, 0, sizeof(a));
	a.time_ms = rg_wall_ms();
	a.kind = v->account_kind;
	a.limit = v->account.limit;
	a.action = v->account.action;
	a.count = v->account.count;
	a.max = v->account.max;
	a.window = v->account.window;
	rg_strlcpy(a.account, v->account_kind == AL_AUTH ? c->s.auth_user
		   : c->client_addr, sizeof(a.account));
	rg_strlcpy(a.session_id, c->id, sizeof(a.session_id));
	rg_strlcpy(a.queue_id, c->queue_id, sizeof(a.queue_id));
	rg_strlcpy(a.client_addr, c->client_addr, sizeof(a.client_addr));
	rg_strlcpy(a.client_name, c->s.client_name, sizeof(a.client_name));
	if (c->sender_set)
		rg_strlcpy(a.sender, c->sender, sizeof(a.sender));
	if (rcpt != NULL)
		rg_strlcpy(a.rcpt, rcpt, sizeof(a.rcpt));
	rglog_line(LOG_WARNING, mt_format_alert(&a, line, sizeof(line)));
	counter_add(&stat_alerts);
	pthread_rwlock_rdlock(&audit_lock);
	if (alert_sink != NULL)
		(void) alert_sink_submit(alert_sink, &a, cfg->alert_command,
					 cfg->alert_timeout, cfg->alert_max);
	pthread_rwlock_unlock(&audit_lock);
}

/* judge_step - decide one step, then in this order: audit it (a failure
 * changes the verdict), log it, commit it */
void
judge_step(struct rg_conn *c, enum rg_stage stage, const char *input,
	   size_t len, const char *rcpt, struct rg_verdict *v)
{
	struct verdict_record rec;
	struct verdict_front front;
	char rcptbuf[JUDGE_SENDER_KEEP], trace[VERDICT_TRACE_MAX];

	memset(v, 0, sizeof(*v));
	policy_decide(c->rt->cfg, c->rt->dir, &c->s, stage, input, len, v);
	if (v->penalty_repeat) {
		/* logged and audited when this penalty was first applied */
		counter_add(&stat_penalty_repeats);
		if ((unsigned) v->action < RG_ARRAY_LEN(stat_actions))
			counter_add(&stat_actions[v->action]);
		policy_commit(&c->s, v);
		return;
	}
	if (stage == RG_STAGE_RCPT)
		policy_judge_mta(c->rt->cfg, c->rt->dir, &c->s, &c->mta_rcpt, v);
	set_front(c, rcpt, rcptbuf, sizeof(rcptbuf), &front);
	verdict_record_build(&rec, v, &c->s, &front, trace, sizeof(trace));
	if (audit_verdict(&rec) < 0 && policy_audit_unavailable(c->rt->cfg, v)) {
		verdict_record_outcome(&rec);
		counter_add(&stat_audit_deferred);
	}
	if ((unsigned) v->action < RG_ARRAY_LEN(stat_actions))
		counter_add(&stat_actions[v->action]);
	metrics_count_verdict(&rec, c->rt->dir ? c->rt->dir->backend->name : NULL);
	log_verdict(&rec);
	if (v->account_checked && v->account.alert)
		raise_alert(c, v, rcpt);
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
	audit_detached_defers = audit_defers(audit);
	pthread_rwlock_unlock(&audit_lock);
	return audit;
}

/* judge_set_tracker - new connections remember across connections
 * with this table (NULL: off); the caller keeps ownership */
void
judge_set_tracker(struct clienttrack *ct)
{
	__atomic_store_n(&tracker, ct, __ATOMIC_RELEASE);
}

/* judge_set_accounts - the privileged senders' table (NULL: off) */
void
judge_set_accounts(struct accountlimit *al)
{
	__atomic_store_n(&accounts, al, __ATOMIC_RELEASE);
}

/* judge_set_alerts - alerts go to this sink from now on (NULL: log only) */
void
judge_set_alerts(struct alert_sink *sink)
{
	pthread_rwlock_wrlock(&audit_lock);
	alert_sink = sink;
	pthread_rwlock_unlock(&audit_lock);
}

/* judge_take_alerts - detach the sink for closing */
struct alert_sink *
judge_take_alerts(void)
{
	struct alert_sink *sink;

	pthread_rwlock_wrlock(&audit_lock);
	sink = alert_sink;
	alert_sink = NULL;
	pthread_rwlock_unlock(&audit_lock);
	return sink;
}

/* judge_live - open connections */
unsigned
judge_live(void)
{
	return __atomic_load_n(&stat_live, __ATOMIC_RELAXED);
}

/* judge_metrics - see judge.h */
void
judge_metrics(struct metrics_snapshot *snap)
{
	struct audit_counters ac;
	struct rg_runtime *rt;

	snap->sessions_total = __atomic_load_n(&stat_connections, __ATOMIC_RELAXED);
	snap->sessions_open = judge_live();
	snap->audit_deferred = __atomic_load_n(&stat_audit_deferred,
					       __ATOMIC_RELAXED);
	pthread_rwlock_rdlock(&audit_lock);
	if (audit_handle != NULL) {
		audit_get_counters(audit_handle, &ac);
		snap->audit_on = 1;
		snap->audit_queued = ac.queued;
		snap->audit_written = ac.written;
		snap->audit_diverted = ac.diverted;
		snap->audit_refused = ac.refused;
		snap->audit_failures = ac.failures;
		snap->audit_queue_rows = ac.pending;
		snap->audit_spooled = ac.spooled;
		snap->audit_replayed = ac.replayed;
		snap->audit_spool_rows = ac.spool;
		snap->audit_degraded = ac.degraded;
		snap->audit_failing = ac.failing;
	}
	pthread_rwlock_unlock(&audit_lock);
	if ((rt = runtime_acquire()) != NULL) {
		snap->dir_backend = rt->dir ? rt->dir->backend->name : NULL;
		directory_counters(rt->dir, &snap->dir);
		snap->config_generation = rt->generation;
		rt = runtime_release(rt);
	}
}

/* judge_stats - counters, directory and audit statistics */
void
judge_stats(char *buf, size_t size)
{
	char dirstats[512] = "-", auditstats[512] = "off";
	struct clienttrack_stats ts;
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
	clienttrack_get_stats(__atomic_load_n(&tracker, __ATOMIC_ACQUIRE), &ts);
	(void) snprintf(buf, size, "stats: connections=%lu live=%u accept=%lu "
			"reject=%lu tempfail=%lu drop=%lu would-reject=%lu "
			"audit-deferred=%lu; clients: tracked=%zu/%zu "
			"penalties=%llu repeats-unlogged=%lu evictions=%llu; "
			"alerts=%lu; "
			"directory: %s; %s",
			__atomic_load_n(&stat_connections, __ATOMIC_RELAXED),
			judge_live(), a[RG_ACCEPT], a[RG_REJECT],
			a[RG_TEMPFAIL], a[RG_DROP], a[RG_WOULD_REJECT],
			__atomic_load_n(&stat_audit_deferred, __ATOMIC_RELAXED),
			ts.used, ts.capacity, (unsigned long long) ts.penalties,
			__atomic_load_n(&stat_penalty_repeats, __ATOMIC_RELAXED),
			(unsigned long long) ts.evictions,
			__atomic_load_n(&stat_alerts, __ATOMIC_RELAXED),
			dirstats, auditstats);
}
