/*
 * accountlimit - how much privileged senders relay
 *
 * NAME
 *	accountlimit - per-account relay counters and limits
 * SUMMARY
 *	A stolen password, or a mass-mailer on a trusted host, turns the
 *	server into an open relay that the relay rules wave through.  For
 *	each SMTP AUTH user and each trusted client address that relays
 *	(an "account"), the table counts the remote recipients of the last
 *	hour and of the last day, the distinct remote domains and the
 *	distinct client addresses the account relayed from (over a day).
 *	accountlimit_rcpt() checks one remote recipient against the
 *	account's limits and counts it, under one lock, so that concurrent
 *	connections of one account cannot overshoot a limit.
 * DESCRIPTION
 *	Over a limit, the action decides: AL_ALERT accepts and raises an
 *	alert; AL_TEMPFAIL refuses this recipient and every one after it
 *	for the rest of the limit's window (an hour for "hour", a day for
 *	the others), and raises the alert.  An alert is raised once per
 *	account and limit per window, not once per recipient.
 *
 *	The hourly count is twelve buckets of five minutes and the daily
 *	count 24 buckets of an hour (sliding windows).  The distinct sets
 *	hold AL_DISTINCT_DOMAINS and AL_DISTINCT_CLIENTS hashes and start
 *	afresh a day after their first entry.  Accounts are identified by
 *	a 64-bit hash of their name; the table has a fixed size, is split
 *	into stripes with a lock each, evicts the least recently used
 *	account when full, and allocates nothing once created.
 *
 *	Limits per account come from the configuration (auth_limit.*,
 *	trusted_limit.*) and, for named users, from an override file:
 *
 *		# user            limits (unset ones: the defaults)
 *		newsletter@example.org  hour=5000 day=20000 domains=0
 *		ceo@example.org         action=tempfail
 *
 *	accountlimit_overrides_load() reads it ("FILE:LINE: reason" on an
 *	error); the result is read-only and may be shared by threads.
 * OWNERSHIP
 *	accountlimit_new() and accountlimit_overrides_load() return objects
 *	the caller frees with the matching _free(), which returns NULL.
 */
#ifndef RG_ACCOUNTLIMIT_H
#define RG_ACCOUNTLIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "netlist.h"

#define AL_DISTINCT_DOMAINS	64	/* hashes kept per account */
#define AL_DISTINCT_CLIENTS	16
#define AL_MAX_RCPTS		10000000	/* largest hour/day limit */

enum al_limit {
	AL_HOUR,			/* remote recipients in the last hour */
	AL_DAY,				/* remote recipients in the last day */
	AL_DOMAINS,			/* distinct remote domains, one day */
	AL_CLIENTS,			/* distinct client addresses, one day */
	AL_LIMIT_COUNT,
};

enum al_action { AL_ALERT, AL_TEMPFAIL };
enum al_kind { AL_AUTH, AL_TRUSTED };

struct accountlimit_limits {
	unsigned max[AL_LIMIT_COUNT];	/* 0: no limit */
	enum al_action action;
};

/* What one recipient did to its account. */
struct al_result {
	int     over;			/* refuse it (tempfail mode) */
	int     alert;			/* raise an alert now */
	enum al_limit limit;		/* the limit crossed */
	unsigned count;			/* its count with this recipient */
	unsigned max;
	unsigned window;		/* seconds the limit looks back */
	enum al_action action;
};

typedef uint32_t (*accountlimit_clock_fn) (void *ctx);

struct accountlimit;
struct accountlimit_overrides;

/* accountlimit_new - a table of entries accounts; never NULL */
struct accountlimit *accountlimit_new(size_t entries, unsigned stripes);
struct accountlimit *accountlimit_free(struct accountlimit *al);
void    accountlimit_set_clock(struct accountlimit *al,
			       accountlimit_clock_fn fn, void *ctx);

/* accountlimit_rcpt - check and count one remote recipient of account
 * (an AUTH user, or a trusted client's address as text) relayed from
 * client (NULL: unknown) to domain.  Fills res; returns res->over. */
int     accountlimit_rcpt(struct accountlimit *al, enum al_kind kind,
			  const char *account, const struct rg_ip *client,
			  const char *domain,
			  const struct accountlimit_limits *limits,
			  struct al_result *res);

/* accountlimit_overrides_load - the per-user file; NULL + "FILE:LINE:
 * reason".  defaults fill what a line leaves unset. */
struct accountlimit_overrides *accountlimit_overrides_load(const char *path,
			    const struct accountlimit_limits *defaults,
			    char *err, size_t errlen);
struct accountlimit_overrides *accountlimit_overrides_parse(const char *text,
			    size_t len, const char *name,
			    const struct accountlimit_limits *defaults,
			    char *err, size_t errlen);
struct accountlimit_overrides *
	accountlimit_overrides_free(struct accountlimit_overrides *ov);

/* accountlimit_overrides_find - user's limits, or NULL (case-insensitive) */
const struct accountlimit_limits *
	accountlimit_overrides_find(const struct accountlimit_overrides *ov,
				    const char *user);
size_t  accountlimit_overrides_count(const struct accountlimit_overrides *ov);

/* Names: hour, day, domains, clients; alert, tempfail; auth, trusted */
const char *al_limit_name(enum al_limit limit);
const char *al_action_name(enum al_action action);
const char *al_kind_name(enum al_kind kind);

/* accountlimit_entry_bytes - memory per tracked account */
size_t  accountlimit_entry_bytes(void);

#endif
