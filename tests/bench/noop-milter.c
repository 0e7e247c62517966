/*
 * noop-milter - a libmilter filter that accepts everything (the baseline)
 *
 * SYNOPSIS
 *	noop-milter SOCKET
 *
 * DESCRIPTION
 *	Registers the same callbacks and negotiates the same protocol steps
 *	as relayguard (connect, HELO, MAIL, RCPT, DATA, end of message,
 *	abort, close; no headers or body), and answers "continue" to every
 *	one without looking at it.  Measured with tests/bench/milter-load in
 *	the same run as relayguard, it is the ceiling set by libmilter and
 *	the milter protocol on this machine: relayguard's figures are read
 *	as a ratio of it.  Runs in the foreground until SIGTERM or SIGINT.
 */
#include <stdio.h>
#include <string.h>

#include <libmilter/mfapi.h>

/* noop_connect - accept the connection */
static sfsistat
noop_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	(void) ctx;
	(void) host;
	(void) addr;
	return SMFIS_CONTINUE;
}

/* noop_helo - accept HELO */
static sfsistat
noop_helo(SMFICTX *ctx, char *helo)
{
	(void) ctx;
	(void) helo;
	return SMFIS_CONTINUE;
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
	*pf1 = f1 & (SMFIP_NOBODY | SMFIP_NOHDRS | SMFIP_NOEOH);
	*pf2 = 0;
	*pf3 = 0;
	return SMFIS_CONTINUE;
}

/* main - register, listen on SOCKET, serve */
int
main(int argc, char **argv)
{
	struct smfiDesc desc;

	if (argc != 2) {
		fprintf(stderr, "usage: noop-milter SOCKET\n");
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
