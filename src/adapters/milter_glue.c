/*
 * milter_glue - libmilter callbacks around the policy engine
 *
 * One struct rg_conn (judge.h) per SMTP connection, created at connect
 * and freed at close, kept with smfi_setpriv.  Each judged step
 * (connect, HELO, MAIL, RCPT) goes through judge_step() -- decision,
 * audit row, log line, commit, as for the policy delegation door -- and
 * the verdict becomes the SMTP reply here.
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
#include "mta_refusal.h"
#include "rglog.h"
#include "runtime.h"
#include "judge.h"
#include "milter_glue.h"

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

/* conn_get - this connection's state; created on the fly when an MTA
 * skipped connect, so no callback order can crash us */
static struct rg_conn *
conn_get(SMFICTX *ctx)
{
	struct rg_conn *c = smfi_getpriv(ctx);

	if (c == NULL && (c = judge_conn_new()) != NULL)
		smfi_setpriv(ctx, c);
	return c;
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

/* judge - decide, audit, log and commit one step, then answer it */
static sfsistat
judge(SMFICTX *ctx, struct rg_conn *c, enum rg_stage stage,
      const char *input, size_t len, const char *rcpt)
{
	struct rg_verdict v;

	judge_step(c, stage, input, len, rcpt, &v);
	if (c->noreply[stage]) {
		/* Negotiated away: the MTA reads no answer for this step, and
		 * a reply now would be taken for the next step's. */
		if (policy_refused(&v))
			rglog(LOG_WARNING, "warning: session=%s: %s refusal not "
			      "delivered: the MTA was told to expect no reply",
			      c->id, rg_stage_name(stage));
		return SMFIS_NOREPLY;
	}
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
	struct rg_conn *c = smfi_getpriv(ctx);
	unsigned char noreply[sizeof(c->noreply)];

	memset(noreply, 0, sizeof(noreply));
	if (c != NULL && c->connected) {
		/* A second connect (Sendmail reuses a milter connection):
		 * start over, with what was negotiated for it. */
		memcpy(noreply, c->noreply, sizeof(noreply));
		smfi_setpriv(ctx, NULL);
		c = judge_conn_free(c);
	}
	if (c == NULL) {
		if ((c = judge_conn_new()) == NULL)
			return SMFIS_TEMPFAIL;
		memcpy(c->noreply, noreply, sizeof(noreply));
		smfi_setpriv(ctx, c);
	}
	c->connected = 1;
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
	judge_reset_txn(c);
	conn_note_macros(ctx, c);
	if (argv != NULL && argv[0] != NULL) {
		judge_set_sender(c, argv[0]);
	}
	/* Parameters (SMTPUTF8, AUTH=, ...) arrive as separate strings. */
	input = join_args(argv, &len);
	status = judge(ctx, c, RG_STAGE_MAIL, input, len, NULL);
	free(input);
	return status;
}

/* conn_note_resolution - the MTA's own resolution of this RCPT, for the
 * second judge; without {rcpt_mailer} (an MTA told not to send it,
 * miltertest) only relayguard's own reading counts, said once */
static void
conn_note_resolution(SMFICTX *ctx, struct rg_conn *c)
{
	static int told;

	c->mta_rcpt.mailer = macro(ctx, "{rcpt_mailer}");
	c->mta_rcpt.host = macro(ctx, "{rcpt_host}");
	c->mta_rcpt.addr = macro(ctx, "{rcpt_addr}");
	if (c->mta_rcpt.mailer == NULL
	    && !__atomic_exchange_n(&told, 1, __ATOMIC_RELAXED))
		rglog(LOG_WARNING, "warning: session=%s: mta: the MTA sends no "
		      "{rcpt_mailer}: recipients are judged by relayguard's "
		      "own reading only, not against what the MTA resolved "
		      "(see milter_rcpt_macros / confMILTER_MACROS_ENVRCPT)",
		      c->id);
}

/* cb_envrcpt - RCPT TO: */
static sfsistat
cb_envrcpt(SMFICTX *ctx, char **argv)
{
	const char *rcpt = argv != NULL && argv[0] != NULL ? argv[0] : "";
	struct rg_conn *c;
	sfsistat status;
	char *input;
	size_t len;

	if ((c = conn_get(ctx)) == NULL)
		return SMFIS_TEMPFAIL;
	conn_note_macros(ctx, c);
	conn_note_resolution(ctx, c);
	input = join_args(argv, &len);
	if (mta_refusal_is(c->mta_rcpt.mailer)) {
		/* SMFIP_RCPT_REJ: the MTA refused it already; record what it said */
		struct mta_refusal r;
		struct rg_verdict v;

		mta_refusal_parse(c->mta_rcpt.host, c->mta_rcpt.addr, &r);
		judge_mta_refusal(c, input, len, rcpt, &r, &v);
		status = SMFIS_CONTINUE;
	} else {
		status = judge(ctx, c, RG_STAGE_RCPT, input, len, rcpt);
	}
	free(input);
	/* The macro values belong to libmilter and to this callback only. */
	memset(&c->mta_rcpt, 0, sizeof(c->mta_rcpt));
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
		judge_reset_txn(c);
	return SMFIS_CONTINUE;
}

/* cb_close - the connection is gone (also after the client vanished) */
static sfsistat
cb_close(SMFICTX *ctx)
{
	struct rg_conn *c = smfi_getpriv(ctx);

	smfi_setpriv(ctx, NULL);
	c = judge_conn_free(c);
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

/* cb_negotiate - ask for envelope steps only, never the message, and
 * for no reply at the steps that cannot refuse.
 *
 * Postfix's milter client waits for every answer it is owed, so each
 * answered step is a round trip; an unanswered one rides along with the
 * next command.  Connect and HELO go unanswered when no rule can refuse
 * there under the configuration this connection starts with
 * (policy_stage_can_refuse: client memory or audit_failure = tempfail
 * keep them answered).  DATA stays answered although it never refuses:
 * unanswered, it leaves end-of-message behind Nagle on an inet: socket
 * (see cb_data).  tests/bench/noop-milter.c negotiates exactly this way;
 * keep the two in step. */
static sfsistat
cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
	     unsigned long f2, unsigned long f3, unsigned long *pf0,
	     unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	unsigned long skip = SMFIP_NOBODY | SMFIP_NOHDRS | SMFIP_NOEOH;
	struct rg_conn *c;

	(void) f0;
	(void) f2;
	(void) f3;
	*pf0 = 0;			/* no actions: we never modify mail */
	/* what the MTA can skip, it skips; recipients it refused itself
	 * still come, marked {rcpt_mailer} = error, for the audit trail */
	*pf1 = f1 & (skip | SMFIP_RCPT_REJ);
	*pf2 = 0;
	*pf3 = 0;
	/* The connection's state now: its runtime decides what may go
	 * unanswered, and connect then judges with the same one. */
	if ((c = smfi_getpriv(ctx)) == NULL) {
		if ((c = judge_conn_new()) == NULL)
			return SMFIS_CONTINUE;	/* connect will tempfail */
		smfi_setpriv(ctx, c);
	}
	if ((f1 & SMFIP_NR_CONN)
	    && !policy_stage_can_refuse(c->rt->cfg, &c->s, RG_STAGE_CONNECT)) {
		*pf1 |= SMFIP_NR_CONN;
		c->noreply[RG_STAGE_CONNECT] = 1;
	}
	if ((f1 & SMFIP_NR_HELO)
	    && !policy_stage_can_refuse(c->rt->cfg, &c->s, RG_STAGE_HELO)) {
		*pf1 |= SMFIP_NR_HELO;
		c->noreply[RG_STAGE_HELO] = 1;
	}
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
