/*
 * clienttrack - what clients did in earlier connections
 *
 * NAME
 *	clienttrack - sliding-window counters per client address and network
 * SUMMARY
 *	A directory harvester that reconnects after each batch of unknown
 *	recipients, or a relay prober that opens one connection per try,
 *	is invisible to per-connection limits.  The tracker remembers, per
 *	client address and per network (/24 for IPv4, /64 for IPv6, so an
 *	attacker spread over a network counts once), how many unknown
 *	recipients, relay attempts, routing tricks and syntax errors it
 *	produced inside the last client_window seconds.  One more than a
 *	limit starts a penalty of client_penalty seconds for that address
 *	or network.
 * DESCRIPTION
 *	The table has a fixed number of entries chosen at creation and
 *	evicts the least recently used one when full, so memory is bounded
 *	whatever the traffic.  It is split into stripes, each with its own
 *	lock, hash and LRU list: a lookup takes one stripe lock, costs O(1)
 *	and allocates nothing.  A window is CLIENTTRACK_BUCKETS buckets of
 *	window/CLIENTTRACK_BUCKETS seconds each; an event ages out between
 *	window - window/CLIENTTRACK_BUCKETS and window seconds after it.
 *
 *	The tracker lives as long as the daemon (a reload re-configures
 *	the limits and keeps the counts); a restart forgets everything.
 * OWNERSHIP
 *	clienttrack_new() returns a table the caller frees with
 *	clienttrack_free(), which returns NULL.
 */
#ifndef RG_CLIENTTRACK_H
#define RG_CLIENTTRACK_H

#include <stddef.h>
#include <stdint.h>

#include "netlist.h"

#define CLIENTTRACK_BUCKETS	8
#define CLIENTTRACK_LIMIT_MAX	60000	/* counts are 16-bit per bucket */

/* What a client is counted for, as named after "client_limit.". */
enum ct_event {
	CT_UNKNOWN,			/* unknown recipient (unknown, harvest) */
	CT_RELAY,			/* relay attempt refused */
	CT_ROUTING,			/* sender-specified routing refused */
	CT_SYNTAX,			/* bad address syntax (syntax, utf8) */
	CT_EVENT_COUNT,
	CT_NONE = CT_EVENT_COUNT,	/* nothing to count */
};

struct clienttrack_limits {
	unsigned limit[CT_EVENT_COUNT];	/* more than this starts a penalty; 0 off */
	unsigned window;		/* seconds */
	unsigned penalty;		/* seconds */
};

/* Returns seconds on a monotonic clock; never 0. */
typedef uint32_t (*clienttrack_clock_fn) (void *ctx);

struct clienttrack;

/* clienttrack_new - a table of at most entries entries (host and network
 * entries together) in stripes stripes; never NULL */
struct clienttrack *clienttrack_new(size_t entries, unsigned stripes);

/* clienttrack_free - release the table; returns NULL */
struct clienttrack *clienttrack_free(struct clienttrack *ct);

/* clienttrack_set_clock - replace the monotonic clock (tests) */
void    clienttrack_set_clock(struct clienttrack *ct, clienttrack_clock_fn fn,
			      void *ctx);

/* clienttrack_configure - limits from now on (start and each reload) */
void    clienttrack_configure(struct clienttrack *ct,
			      const struct clienttrack_limits *limits);

/* clienttrack_note - count one event for ip and its network.  Returns 1
 * when this event started a penalty, 0 otherwise. */
int     clienttrack_note(struct clienttrack *ct, const struct rg_ip *ip,
			 enum ct_event event);

/* clienttrack_penalty - seconds left of a penalty on ip or its network,
 * 0 when none.  *first is set to 1 for the first question answered
 * during a given penalty and 0 afterwards, so that a penalty is logged
 * once, not once per refused command. */
unsigned clienttrack_penalty(struct clienttrack *ct, const struct rg_ip *ip,
			     int *first);

/* clienttrack_count - events of this kind in the window for ip alone
 * (network 0) or for its network (network 1); for tests and tools */
unsigned clienttrack_count(struct clienttrack *ct, const struct rg_ip *ip,
			   int network, enum ct_event event);

/* clienttrack_stats - entries in use, capacity, bytes allocated, evictions */
struct clienttrack_stats {
	size_t  used;
	size_t  capacity;
	size_t  bytes;
	uint64_t evictions;
	uint64_t penalties;
};
void    clienttrack_get_stats(struct clienttrack *ct,
			      struct clienttrack_stats *out);

/* ct_event_name - unknown, relay, routing, syntax */
const char *ct_event_name(enum ct_event event);

#endif
