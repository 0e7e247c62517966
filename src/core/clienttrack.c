/*
 * clienttrack - what clients did in earlier connections
 *
 * See clienttrack.h.  The entries live in an lru_table (fixed size,
 * striped, least recently used evicted).  A key is an address or a
 * network, so one client touches two entries, each under its own
 * stripe's lock, never both locks at once.
 *
 * Decisions that are not obvious:
 * - An IPv4-mapped IPv6 address (::ffff:192.0.2.1) is tracked as its
 *   IPv4 form, so that dual-stack listeners count one client once.
 * - A lookup that only asks about a penalty never inserts: a client the
 *   table does not know has no penalty, and asking must not evict.  Nor
 *   does it move the entry in the LRU list: "least recently seen" means
 *   the last counted event, and a read stays a read.
 * - While no penalty can be running (now past penalty_horizon, the
 *   latest end of any), clienttrack_penalty() answers without a lock.
 * - Counts saturate at 65535 per bucket; limits stop at
 *   CLIENTTRACK_LIMIT_MAX, so a saturated count is always over a limit.
 */
#include <sys/socket.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "netlist.h"
#include "lru_table.h"
#include "clienttrack.h"

enum ct_kind {
	CT_FREE, CT_HOST4, CT_NET4, CT_HOST6, CT_NET6,
};

struct ct_entry {
	struct lru_table_link link;	/* first: the table's */
	uint8_t addr[16];		/* host bits cleared for networks */
	uint8_t kind;			/* enum ct_kind */
	uint8_t reported;		/* this penalty was already reported */
	uint32_t epoch;			/* bucket number of the newest bucket */
	uint32_t penalty_until;		/* clock seconds; 0 = never penalised */
	uint16_t count[CT_EVENT_COUNT][CLIENTTRACK_BUCKETS];
};

struct clienttrack {
	struct lru_table *table;
	clienttrack_clock_fn clock;
	void   *clock_ctx;
	/* Read under any stripe lock, written under all of them. */
	struct clienttrack_limits limits;
	/* The latest end of any penalty (atomic): until a penalty starts,
	 * asking about one costs a load, not a lock. */
	uint32_t penalty_horizon;
	uint64_t penalties;		/* atomic */
};

struct ct_key {
	uint8_t addr[16];
	uint8_t kind;
};

/* mono_seconds - the default clock: monotonic seconds, from 1 */
static uint32_t
mono_seconds(void *ctx)
{
	(void) ctx;
	return (uint32_t) (rg_mono_ms() / 1000) + 1;
}

/* ct_event_name - unknown, relay, routing, syntax */
const char *
ct_event_name(enum ct_event event)
{
	switch (event) {
	case CT_UNKNOWN:
		return "unknown";
	case CT_RELAY:
		return "relay";
	case CT_ROUTING:
		return "routing";
	case CT_SYNTAX:
		return "syntax";
	default:
		return "none";
	}
}

/* hash_addr - mixes the 17 bytes of an address and its kind */
static uint64_t
hash_addr(const uint8_t *addr, uint8_t kind)
{
	uint64_t a, b, h;

	memcpy(&a, addr, 8);
	memcpy(&b, addr + 8, 8);
	h = a * 0x9e3779b97f4a7c15ULL ^ (b + kind) * 0xc2b2ae3d27d4eb4fULL;
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 29;
	return h;
}

/* key_hash - the table's hash of a key */
static uint64_t
key_hash(const struct ct_key *key)
{
	return hash_addr(key->addr, key->kind);
}

/* entry_hash - the table's hash of an entry's key (on eviction) */
static uint64_t
entry_hash(const void *entry)
{
	const struct ct_entry *e = entry;

	return hash_addr(e->addr, e->kind);
}

/* entry_match - whether an entry holds a key */
static int
entry_match(const void *entry, const void *key)
{
	const struct ct_entry *e = entry;
	const struct ct_key *k = key;

	return e->kind == k->kind && memcmp(e->addr, k->addr, 16) == 0;
}

/* clienttrack_new - a fixed-size table; never NULL */
struct clienttrack *
clienttrack_new(size_t entries, unsigned stripes)
{
	struct clienttrack *ct = xcalloc(1, sizeof(*ct));

	ct->table = lru_table_new(entries, stripes, sizeof(struct ct_entry),
				  entry_hash);
	ct->clock = mono_seconds;
	ct->limits.window = 3600;
	ct->limits.penalty = 3600;
	return ct;
}

/* clienttrack_free - release the table; returns NULL */
struct clienttrack *
clienttrack_free(struct clienttrack *ct)
{
	if (ct == NULL)
		return NULL;
	lru_table_free(ct->table);
	free(ct);
	return NULL;
}

/* clienttrack_set_clock - replace the monotonic clock (tests) */
void
clienttrack_set_clock(struct clienttrack *ct, clienttrack_clock_fn fn, void *ctx)
{
	ct->clock = fn != NULL ? fn : mono_seconds;
	ct->clock_ctx = ctx;
}

/* clienttrack_configure - limits from now on */
void
clienttrack_configure(struct clienttrack *ct,
		      const struct clienttrack_limits *limits)
{
	lru_table_lock_all(ct->table);
	ct->limits = *limits;
	if (ct->limits.window == 0)
		ct->limits.window = 1;
	lru_table_unlock_all(ct->table);
}

/* make_key - the host or network key of ip; 0 when ip has no family */
static int
make_key(const struct rg_ip *ip, int network, struct ct_key *key)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	memset(key, 0, sizeof(*key));
	if (ip->family == AF_INET6 && memcmp(ip->addr, mapped, 12) != 0) {
		memcpy(key->addr, ip->addr, network ? 8 : 16);
		key->kind = network ? CT_NET6 : CT_HOST6;
		return 1;
	}
	if (ip->family == AF_INET6)
		memcpy(key->addr, ip->addr + 12, 4);
	else if (ip->family == AF_INET)
		memcpy(key->addr, ip->addr, 4);
	else
		return 0;
	if (network)
		key->addr[3] = 0;
	key->kind = network ? CT_NET4 : CT_HOST4;
	return 1;
}

/* bucket_now - the current bucket number for the configured window */
static uint32_t
bucket_now(const struct clienttrack *ct, uint32_t now)
{
	unsigned len = ct->limits.window / CLIENTTRACK_BUCKETS;

	return now / (len > 0 ? len : 1);
}

/* rotate - clear the buckets that aged out since the entry was touched */
static void
rotate(struct ct_entry *e, uint32_t cur)
{
	uint32_t gap = cur - e->epoch, i;
	unsigned ev;

	if (gap == 0)
		return;
	if (gap >= CLIENTTRACK_BUCKETS || cur < e->epoch) {
		memset(e->count, 0, sizeof(e->count));
	} else {
		for (i = 1; i <= gap; i++)
			for (ev = 0; ev < CT_EVENT_COUNT; ev++)
				e->count[ev][(e->epoch + i) % CLIENTTRACK_BUCKETS] = 0;
	}
	e->epoch = cur;
}

/* window_sum - events of one kind over the window */
static unsigned
window_sum(const struct ct_entry *e, enum ct_event event)
{
	unsigned sum = 0, i;

	for (i = 0; i < CLIENTTRACK_BUCKETS; i++)
		sum += e->count[event][i];
	return sum;
}

/* raise_horizon - no penalty ends after the horizon */
static void
raise_horizon(struct clienttrack *ct, uint32_t until)
{
	uint32_t h = __atomic_load_n(&ct->penalty_horizon, __ATOMIC_RELAXED);

	while (h < until && !__atomic_compare_exchange_n(&ct->penalty_horizon,
							  &h, until, 1,
							  __ATOMIC_RELEASE,
							  __ATOMIC_RELAXED))
		continue;
}

/* note_key - count one event on one key; 1 when a penalty starts */
static int
note_key(struct clienttrack *ct, const struct ct_key *key,
	 enum ct_event event, uint32_t now)
{
	uint64_t hash = key_hash(key);
	struct lru_table_stripe *st = lru_table_stripe(ct->table, hash);
	struct ct_entry *e;
	uint16_t *slot;
	uint32_t cur;
	unsigned limit;
	int started = 0;

	lru_table_lock(st);
	cur = bucket_now(ct, now);
	if ((e = lru_table_find(st, hash, entry_match, key, 1)) == NULL) {
		e = lru_table_insert(st, hash);
		memcpy(e->addr, key->addr, 16);
		e->kind = key->kind;
		e->epoch = cur;
	}
	rotate(e, cur);
	slot = &e->count[event][cur % CLIENTTRACK_BUCKETS];
	if (*slot < UINT16_MAX)
		(*slot)++;
	limit = ct->limits.limit[event];
	if (limit > 0 && window_sum(e, event) > limit
	    && e->penalty_until <= now && ct->limits.penalty > 0) {
		e->penalty_until = now + ct->limits.penalty;
		e->reported = 0;
		__atomic_fetch_add(&ct->penalties, 1, __ATOMIC_RELAXED);
		started = 1;
		raise_horizon(ct, e->penalty_until);
	}
	lru_table_unlock(st);
	return started;
}

/* clienttrack_note - count one event for ip and its network */
int
clienttrack_note(struct clienttrack *ct, const struct rg_ip *ip,
		 enum ct_event event)
{
	struct ct_key key;
	uint32_t now;
	int started = 0;

	if (ct == NULL || (unsigned) event >= CT_EVENT_COUNT)
		return 0;
	now = ct->clock(ct->clock_ctx);
	if (make_key(ip, 0, &key))
		started |= note_key(ct, &key, event, now);
	if (make_key(ip, 1, &key))
		started |= note_key(ct, &key, event, now);
	return started;
}

/* penalty_key - seconds of penalty left on one key; marks it reported */
static unsigned
penalty_key(struct clienttrack *ct, const struct ct_key *key, uint32_t now,
	    int *first)
{
	uint64_t hash = key_hash(key);
	struct lru_table_stripe *st = lru_table_stripe(ct->table, hash);
	struct ct_entry *e;
	unsigned left = 0;

	lru_table_lock(st);
	e = lru_table_find(st, hash, entry_match, key, 0);
	if (e != NULL && e->penalty_until > now) {
		left = e->penalty_until - now;
		*first = !e->reported;
		e->reported = 1;
	}
	lru_table_unlock(st);
	return left;
}

/* clienttrack_penalty - seconds left of a penalty on ip or its network */
unsigned
clienttrack_penalty(struct clienttrack *ct, const struct rg_ip *ip, int *first)
{
	struct ct_key key;
	unsigned left = 0;
	uint32_t now;
	int dummy;

	if (first == NULL)
		first = &dummy;
	*first = 0;
	if (ct == NULL)
		return 0;
	now = ct->clock(ct->clock_ctx);
	if (now >= __atomic_load_n(&ct->penalty_horizon, __ATOMIC_ACQUIRE))
		return 0;		/* no penalty is running anywhere */
	if (make_key(ip, 0, &key))
		left = penalty_key(ct, &key, now, first);
	if (left == 0 && make_key(ip, 1, &key))
		left = penalty_key(ct, &key, now, first);
	return left;
}

/* clienttrack_count - events in the window for ip or its network */
unsigned
clienttrack_count(struct clienttrack *ct, const struct rg_ip *ip,
		  int network, enum ct_event event)
{
	struct ct_key key;
	struct lru_table_stripe *st;
	struct ct_entry *e;
	uint64_t hash;
	unsigned n = 0;

	if (ct == NULL || (unsigned) event >= CT_EVENT_COUNT
	    || !make_key(ip, network, &key))
		return 0;
	hash = key_hash(&key);
	st = lru_table_stripe(ct->table, hash);
	lru_table_lock(st);
	if ((e = lru_table_find(st, hash, entry_match, &key, 0)) != NULL) {
		rotate(e, bucket_now(ct, ct->clock(ct->clock_ctx)));
		n = window_sum(e, event);
	}
	lru_table_unlock(st);
	return n;
}

/* clienttrack_get_stats - entries in use, capacity, bytes, evictions */
void
clienttrack_get_stats(struct clienttrack *ct, struct clienttrack_stats *out)
{
	struct lru_table_stats ts;

	memset(out, 0, sizeof(*out));
	if (ct == NULL)
		return;
	lru_table_get_stats(ct->table, &ts);
	out->used = ts.used;
	out->capacity = ts.capacity;
	out->bytes = sizeof(*ct) + ts.bytes;
	out->evictions = ts.evictions;
	out->penalties = __atomic_load_n(&ct->penalties, __ATOMIC_RELAXED);
}
