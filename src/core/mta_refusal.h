/*
 * mta_refusal - a recipient the MTA refused itself, as its macros say
 *
 * With SMFIP_RCPT_REJ negotiated, Postfix and Sendmail also pass the
 * recipients they refused before asking the milter, marked by
 * {rcpt_mailer} = "error"; the other two macros then carry the MTA's
 * reply instead of an address (seen with Postfix 3.7 and Sendmail 8.17):
 *
 *   Postfix    {rcpt_host} = the enhanced status code ("5.7.1");
 *              {rcpt_addr} = the reply text after "<address>:"
 *              ("Recipient address rejected: Access denied").  Its
 *              three-digit code (554, 450 ...) is not passed.
 *   Sendmail   {rcpt_host} = the enhanced status code ("5.1.1");
 *              {rcpt_addr} = the reply text ("User unknown").  Only
 *              refusals after check_rcpt are passed (an unknown local
 *              user); check_rcpt's own (access db, Local_check_rcpt)
 *              need a Sendmail built with _FFR_MILTER_CHECK_REJECTIONS_TOO.
 *
 * mta_refusal_parse() also takes a text that starts with its own
 * three-digit 4xx/5xx code (and a repeated enhanced code), as other
 * MTAs may send.  When no code was given, it is 450 or 550 by the
 * enhanced code's class (code_known = 0 says so).  Pure; no libmilter.
 */
#ifndef RG_MTA_REFUSAL_H
#define RG_MTA_REFUSAL_H

#define MTA_REFUSAL_TEXT_MAX 512

struct mta_refusal {
	int     code;			/* 4xx or 5xx */
	int     code_known;		/* the MTA sent it (else from ecode) */
	char    ecode[16];		/* "5.7.1", "" when none was sent */
	char    text[MTA_REFUSAL_TEXT_MAX];	/* the MTA's words, control bytes as '?' */
};

/* mta_refusal_is - {rcpt_mailer} says the MTA refused this recipient */
int     mta_refusal_is(const char *rcpt_mailer);

/* mta_refusal_parse - fill *r from {rcpt_host} and {rcpt_addr} (either
 * may be NULL) */
void    mta_refusal_parse(const char *rcpt_host, const char *rcpt_addr,
			  struct mta_refusal *r);

#endif
