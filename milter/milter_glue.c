/*
 * milter_glue - libmilter callbacks around the policy engine
 *
 * One struct rg_conn per SMTP connection, created at connect and freed at
 * close, carries the policy session, a session id, the MTA's name and
 * the runtime (configuration + directory) the connection started with.
 * Each judged step (connect, HELO, MAIL, RCPT) goes through judge():
 * policy_decide(), one audit row, one log line, policy_commit(), and the
 * SMTP reply.
 *
 * Macros: {daemon_name} (else j) names the MTA, i is the queue id
 * (NOQUEUE until the MTA has one), {auth_authen} marks an authenticated
 * client.  A missing macro is never an error: it means "unknown".
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

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
#include "milter_glue.h"

#define SENDER_KEEP	1024		/* address text kept for logs/audit */

/* Per-connection state, owned by libmilter's context via smfi_setpriv. */
struct rg_conn {
	struct rg_runtime *rt;		/* held until close */
	struct rg_session s;
	char    id[MT_SESSION_ID_LEN + 1];
	char    mta[RG_NAME_MAX];
	char    client_addr[64];
	char    queue_id[64];
	char    sender[SENDER_KEEP];	/* as written, for the audit */
	char    sender_path[SENDER_KEEP];	/* without <>, for logs */
	int     sender_set;
	const char *sender_class;	/* blank, local, foreign; NULL before MAIL */
};

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

/* macro - a macro's value, or NULL when the MTA did not send it */
static const char *
macro(SMFICTX *ctx, const char *name)
{
	char namebuf[64];
	const char *value;

	rg_strlcpy(namebuf, name, sizeof(namebuf));
	value = smfi_getsymval(ctx, namebuf);
	if (value == NULL || *value == '\0')
		return NULL;
	return value;
}

/* conn_new - state for a new connection, holding the current runtime */
static struct rg_conn *
conn_new(void)
{
	struct rg_conn *c;
	struct rg_runtime *rt;
	unsigned n;

	if ((rt = runtime_acquire()) == NULL)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->rt = rt;
	policy_session_init(&c->s);
	n = __atomic_add_fetch(&session_counter, 1, __ATOMIC_RELAXED);
	mt_session_id((uint64_t) time(NULL), (unsigned) getpid(), n, c->id,
		      sizeof(c->id));
	rg_strlcpy(c->client_addr, "unknown", sizeof(c->client_addr));
	rg_strlcpy(c->s.client_name, "unknown", sizeof(c->s.client_name));
	rg_strlcpy(c->mta, "-", sizeof(c->mta));
	__atomic_add_fetch(&stat_live, 1, __ATOMIC_RELAXED);
	counter_add(&stat_connections);
	return c;
}

/* conn_free - release the runtime and the state; returns NULL */
static struct rg_conn *
conn_free(struct rg_conn *c)
{
	if (c == NULL)
		return NULL;
	c->rt = runtime_release(c->rt);
	free(c);
	__atomic_sub_fetch(&stat_live, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* conn_get - this connection's state; created on the fly when an MTA
 * skipped connect, so no callback order can crash us */
static struct rg_conn *
conn_get(SMFICTX *ctx)
{
	struct rg_conn *c = smfi_getpriv(ctx);

	if (c == NULL && (c = conn_new()) != NULL)
		smfi_setpriv(ctx, c);
	return c;
}

/* conn_reset_txn - forget the current transaction */
static void
conn_reset_txn(struct rg_conn *c)
{
	policy_reset_txn(&c->s);
	c->queue_id[0] = '\0';
	c->sender[0] = '\0';
	c->sender_path[0] = '\0';
	c->sender_set = 0;
	c->sender_class = NULL;
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

/* conn_note_macros - pick up queue id, MTA name and auth when sent */
static void
conn_note_macros(SMFICTX *ctx, struct rg_conn *c)
{
	const char *value;

	if ((value = macro(ctx, "i")) != NULL)
		rg_strlcpy(c->queue_id, value, sizeof(c->queue_id));
	if (c->mta[0] == '-' && ((value = macro(ctx, "{daemon_name}")) != NULL
				 || (value = macro(ctx, "j")) != NULL))
		rg_strlcpy(c->mta, value, sizeof(c->mta));
	if ((value = macro(ctx, "{auth_authen}")) != NULL)
		rg_strlcpy(c->s.auth_user, value, sizeof(c->s.auth_user));
}

/* join_args - "path param ..." in a buffer the caller frees */
static char *
join_args(char **argv, size_t *len)
{
	size_t i, total = 1;
	char *buf;
	long n;

	for (i = 0; argv != NULL && argv[i] != NULL && i < 1024; i++)
		total += strlen(argv[i]) + 1;
	buf = xmalloc(total);
	n = mt_join_args(argv, buf, total);
	*len = n < 0 ? strlen(buf) : (size_t) n;
	return buf;
}

/* audit_verdict - one audit row; -1 when the mail must be deferred */
static int
audit_verdict(struct rg_conn *c, const struct rg_verdict *v,
	      const char *rcpt, const char *trace)
{
	struct audit_row row;
	char rcptbuf[SENDER_KEEP];
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
	char line[MT_LINE_MAX], to[SENDER_KEEP];

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

/* reply - hand a refusal to the MTA; the return value must agree with
 * the reply's class or libmilter silently drops the text */
static sfsistat
reply(SMFICTX *ctx, struct rg_conn *c, const struct rg_verdict *v)
{
	char code[8], ecode[16], text[600];

	if (!policy_refused(v))
		return SMFIS_CONTINUE;
	(void) snprintf(code, sizeof(code), "%d", v->code);
	rg_strlcpy(ecode, v->ecode ? v->ecode : "", sizeof(ecode));
	(void) mt_reply_escape(v->text ? v->text : "", text, sizeof(text));
	if (smfi_setreply(ctx, code, ecode[0] ? ecode : NULL, text) != MI_SUCCESS)
		rglog(LOG_WARNING, "warning: session=%s: the MTA refused reply "
		      "\"%s %s\"", c->id, code, ecode);
	return v->code >= 500 ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

/* judge - decide one step, audit it, log it, commit it, answer it */
static sfsistat
judge(SMFICTX *ctx, struct rg_conn *c, enum rg_stage stage,
      const char *input, size_t len, const char *rcpt)
{
	struct rg_verdict v;
	char trace[ADDR_TRACE_MAX * (ADDR_TRACE_LEN + 2)];
	const char *extra = NULL;

	memset(&v, 0, sizeof(v));
	policy_decide(c->rt->cfg, c->rt->dir, &c->s, stage, input, len, &v);
	if (stage == RG_STAGE_MAIL)
		c->sender_class = sender_class(&v);
	mt_join_trace(&v.addr, trace, sizeof(trace));
	if (audit_verdict(c, &v, rcpt, trace) < 0 && !policy_refused(&v)) {
		/* audit_failure = tempfail: nothing passes unrecorded */
		v.action = RG_TEMPFAIL;
		v.code = 451;
		v.ecode = audit_defer_ecode;
		v.text = audit_defer_text;
		extra = "audit=unavailable";
		counter_add(&stat_audit_deferred);
	}
	if ((unsigned) v.action < RG_ARRAY_LEN(stat_actions))
		counter_add(&stat_actions[v.action]);
	log_verdict(c, &v, rcpt, trace, extra);
	policy_commit(&c->s, &v);
	return reply(ctx, c, &v);
}

/* client_address - text and rg_ip of the connect callback's address */
static void
client_address(struct rg_conn *c, const struct sockaddr *sa)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	c->s.client_ip_known = 0;
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *) (const void *) sa;
		c->s.client_ip.family = AF_INET;
		memcpy(c->s.client_ip.addr, &sin->sin_addr, 4);
		c->s.client_ip_known = 1;
	} else if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *) (const void *) sa;
		c->s.client_ip.family = AF_INET6;
		memcpy(c->s.client_ip.addr, &sin6->sin6_addr, 16);
		c->s.client_ip_known = 1;
	}
	if (c->s.client_ip_known)
		(void) rg_ip_format(&c->s.client_ip, c->client_addr,
				    sizeof(c->client_addr));
}

/* cb_connect - a new SMTP connection */
static sfsistat
cb_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	struct rg_conn *c;

	if ((c = smfi_getpriv(ctx)) != NULL)	/* a second connect: start over */
		c = conn_free(c);
	if ((c = conn_new()) == NULL)
		return SMFIS_TEMPFAIL;
	smfi_setpriv(ctx, c);
	if (hostname != NULL && *hostname != '\0')
		rg_strlcpy(c->s.client_name, hostname, sizeof(c->s.client_name));
	client_address(c, hostaddr);
	conn_note_macros(ctx, c);
	return judge(ctx, c, RG_STAGE_CONNECT, NULL, 0, NULL);
}

/* cb_helo - HELO/EHLO */
static sfsistat
cb_helo(SMFICTX *ctx, char *helohost)
{
	struct rg_conn *c;

	if ((c = conn_get(ctx)) == NULL)
		return SMFIS_TEMPFAIL;
	if (helohost == NULL)
		helohost = "";
	rg_strlcpy(c->s.helo, helohost, sizeof(c->s.helo));
	conn_note_macros(ctx, c);
	return judge(ctx, c, RG_STAGE_HELO, helohost, strlen(helohost), NULL);
}

/* cb_envfrom - MAIL FROM: a new transaction */
static sfsistat
cb_envfrom(SMFICTX *ctx, char **argv)
{
	struct rg_conn *c;
	sfsistat status;
	char *input;
	size_t len;

	if ((c = conn_get(ctx)) == NULL)
		return SMFIS_TEMPFAIL;
	conn_reset_txn(c);
	conn_note_macros(ctx, c);
	if (argv != NULL && argv[0] != NULL) {
		/* Strip <> before bounding: a cut text has no closing '>'. */
		rg_strlcpy(c->sender, argv[0], sizeof(c->sender));
		mt_strip_brackets(argv[0], c->sender_path, sizeof(c->sender_path));
		c->sender_set = 1;
	}
	/* Parameters (SMTPUTF8, AUTH=, ...) arrive as separate strings. */
	input = join_args(argv, &len);
	status = judge(ctx, c, RG_STAGE_MAIL, input, len, NULL);
	free(input);
	return status;
}

/* cb_envrcpt - RCPT TO: */
static sfsistat
cb_envrcpt(SMFICTX *ctx, char **argv)
{
	struct rg_conn *c;
	sfsistat status;
	char *input;
	size_t len;

	if ((c = conn_get(ctx)) == NULL)
		return SMFIS_TEMPFAIL;
	conn_note_macros(ctx, c);
	input = join_args(argv, &len);
	status = judge(ctx, c, RG_STAGE_RCPT, input, len,
		       argv != NULL && argv[0] != NULL ? argv[0] : "");
	free(input);
	return status;
}

/* cb_data - DATA.  Nothing to judge, but registering it matters: with no
 * xxfi_data the MTA sends the DATA macros without waiting for a reply,
 * and on an inet: socket Nagle plus delayed ACK then stall every message
 * by about 40 ms before end-of-message.  A reply here keeps the
 * conversation strictly request/response. */
static sfsistat
cb_data(SMFICTX *ctx)
{
	(void) ctx;
	return SMFIS_CONTINUE;
}

/* cb_end_txn - end of message, RSET or an aborted transaction: the
 * transaction is over (registered for both eom and abort) */
static sfsistat
cb_end_txn(SMFICTX *ctx)
{
	struct rg_conn *c = smfi_getpriv(ctx);

	if (c != NULL)
		conn_reset_txn(c);
	return SMFIS_CONTINUE;
}

/* cb_close - the connection is gone (also after the client vanished) */
static sfsistat
cb_close(SMFICTX *ctx)
{
	struct rg_conn *c = smfi_getpriv(ctx);

	smfi_setpriv(ctx, NULL);
	c = conn_free(c);
	return SMFIS_CONTINUE;
}

/* cb_unknown - an SMTP command the MTA does not know: its own reply */
static sfsistat
cb_unknown(SMFICTX *ctx, const char *cmd)
{
	(void) ctx;
	(void) cmd;
	return SMFIS_CONTINUE;
}

/* cb_negotiate - ask for envelope steps only, never the message */
static sfsistat
cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
	     unsigned long f2, unsigned long f3, unsigned long *pf0,
	     unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	unsigned long skip = SMFIP_NOBODY | SMFIP_NOHDRS | SMFIP_NOEOH;

	(void) ctx;
	(void) f0;
	(void) f2;
	(void) f3;
	*pf0 = 0;			/* no actions: we never modify mail */
	*pf1 = f1 & skip;		/* what the MTA can skip, it skips */
	*pf2 = 0;
	*pf3 = 0;
	return SMFIS_CONTINUE;
}

/* milter_glue_register - describe the filter to libmilter */
int
milter_glue_register(const char *name)
{
	static char filter_name[64];
	struct smfiDesc desc;

	rg_strlcpy(filter_name, name, sizeof(filter_name));
	memset(&desc, 0, sizeof(desc));
	desc.xxfi_name = filter_name;
	desc.xxfi_version = SMFI_VERSION;
	desc.xxfi_flags = SMFIF_NONE;
	desc.xxfi_connect = cb_connect;
	desc.xxfi_helo = cb_helo;
	desc.xxfi_envfrom = cb_envfrom;
	desc.xxfi_envrcpt = cb_envrcpt;
	desc.xxfi_eom = cb_end_txn;
	desc.xxfi_abort = cb_end_txn;
	desc.xxfi_close = cb_close;
	desc.xxfi_unknown = cb_unknown;
	desc.xxfi_data = cb_data;
	desc.xxfi_negotiate = cb_negotiate;
	return smfi_register(desc) == MI_SUCCESS ? 0 : -1;
}

/* milter_glue_set_audit - verdicts go to this handle from now on */
void
milter_glue_set_audit(struct audit *audit)
{
	pthread_rwlock_wrlock(&audit_lock);
	audit_handle = audit;
	pthread_rwlock_unlock(&audit_lock);
}

/* milter_glue_take_audit - detach the handle (waits for submitters) */
struct audit *
milter_glue_take_audit(void)
{
	struct audit *audit;

	pthread_rwlock_wrlock(&audit_lock);
	audit = audit_handle;
	audit_handle = NULL;
	audit_detached = audit != NULL;
	pthread_rwlock_unlock(&audit_lock);
	return audit;
}

/* milter_glue_live - open connections */
unsigned
milter_glue_live(void)
{
	return __atomic_load_n(&stat_live, __ATOMIC_RELAXED);
}

/* milter_glue_stats - counters, directory and audit statistics */
void
milter_glue_stats(char *buf, size_t size)
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
			milter_glue_live(), a[RG_ACCEPT], a[RG_REJECT],
			a[RG_TEMPFAIL], a[RG_DROP], a[RG_WOULD_REJECT],
			__atomic_load_n(&stat_audit_deferred, __ATOMIC_RELAXED),
			dirstats, auditstats);
}
