/*
 * noop-milter - a libmilter filter that accepts everything (the baseline)
 *
 * SYNOPSIS
 *	noop-milter [-a] SOCKET
 *
 * DESCRIPTION
 *	Registers the same callbacks and negotiates the same protocol steps
 *	as relayguard (connect, HELO, MAIL, RCPT, DATA, end of message,
 *	abort, close; no headers or body; the recipients the MTA refused
 *	itself too (SMFIP_RCPT_REJ); no reply at connect and HELO when the
 *	MTA offers that, DATA answered), and answers "continue" to every
 *	one without looking at it.  relayguard keeps connect and HELO
 *	answered when a rule could refuse there (client memory on, or
 *	audit_failure = tempfail): -a negotiates that way.  The two must
 *	negotiate alike (src/adapters/milter_glue.c, cb_negotiate): keep them in
 *	step.  Measured with tests/bench/milter-load in
 *	the same run as relayguard, it is the ceiling set by libmilter and
 *	the milter protocol on this machine: relayguard's figures are read
 *	as a ratio of it.  Runs in the foreground until SIGTERM or SIGINT.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

static int answer_connect_helo;		/* -a */
static int nr_conn, nr_helo;		/* what this MTA agreed to */

/* noop_connect - accept the connection (no reply when negotiated away) */
static sfsistat
noop_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	(void) ctx;
	(void) host;
	(void) addr;
	return nr_conn ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* noop_helo - accept HELO (no reply when negotiated away) */
static sfsistat
noop_helo(SMFICTX *ctx, char *helo)
{
	(void) ctx;
	(void) helo;
	return nr_helo ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* noop_env - accept MAIL and RCPT */
static sfsistat
noop_env(SMFICTX *ctx, char **argv)
{
	(void) ctx;
	(void) argv;
	return SMFIS_CONTINUE;
}

/* noop_step - accept DATA, end of message, abort and close */
static sfsistat
noop_step(SMFICTX *ctx)
{
	(void) ctx;
	return SMFIS_CONTINUE;
}

/* noop_negotiate - envelope steps only, as relayguard asks */
static sfsistat
noop_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
	       unsigned long f2, unsigned long f3, unsigned long *pf0,
	       unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	(void) ctx;
	(void) f0;
	(void) f2;
	(void) f3;
	*pf0 = 0;
	/* as relayguard: recipients the MTA refused itself come too */
	*pf1 = f1 & (SMFIP_NOBODY | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_RCPT_REJ);
	*pf2 = 0;
	*pf3 = 0;
	/* One MTA, one answer for every connection of a run. */
	nr_conn = !answer_connect_helo && (f1 & SMFIP_NR_CONN);
	nr_helo = !answer_connect_helo && (f1 & SMFIP_NR_HELO);
	if (nr_conn)
		*pf1 |= SMFIP_NR_CONN;
	if (nr_helo)
		*pf1 |= SMFIP_NR_HELO;
	return SMFIS_CONTINUE;
}

/* main - register, listen on SOCKET, serve */
int
main(int argc, char **argv)
{
	struct smfiDesc desc;
	int ch;

	while ((ch = getopt(argc, argv, "a")) != -1) {
		if (ch != 'a') {
			fprintf(stderr, "usage: noop-milter [-a] SOCKET\n");
			return 2;
		}
		answer_connect_helo = 1;
	}
	argv += optind - 1;
	argc -= optind - 1;
	if (argc != 2) {
		fprintf(stderr, "usage: noop-milter [-a] SOCKET\n");
		return 2;
	}
	memset(&desc, 0, sizeof(desc));
	desc.xxfi_name = "noop-milter";
	desc.xxfi_version = SMFI_VERSION;
	desc.xxfi_flags = SMFIF_NONE;
	desc.xxfi_connect = noop_connect;
	desc.xxfi_helo = noop_helo;
	desc.xxfi_envfrom = noop_env;
	desc.xxfi_envrcpt = noop_env;
	desc.xxfi_data = noop_step;
	desc.xxfi_eom = noop_step;
	desc.xxfi_abort = noop_step;
	desc.xxfi_close = noop_step;
	desc.xxfi_negotiate = noop_negotiate;
	if (smfi_register(desc) != MI_SUCCESS
	    || smfi_setconn(argv[1]) != MI_SUCCESS
	    || smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "noop-milter: cannot listen on %s\n", argv[1]);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
