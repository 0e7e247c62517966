/*
 * clienttrack - what clients did in earlier connections
 *
 * See clienttrack.h.  Each stripe is an independent table: an array of
 * entries allocated once, a chained hash over them (index + 1, 0 ends a
 * chain) and a doubly linked LRU list threaded through the same array.
 * A key is an address or a network, so one client touches two entries,
 * each under its own stripe's lock, never both locks at once.
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

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "netlist.h"
#include "clienttrack.h"

enum ct_kind {
	CT_FREE, CT_HOST4, CT_NET4, CT_HOST6, CT_NET6,
};

struct ct_entry {
	uint8_t addr[16];		/* host bits cleared for networks */
	uint8_t kind;			/* enum ct_kind */
	uint8_t reported;		/* this penalty was already reported */
	uint32_t hnext;			/* hash chain: index + 1, 0 = end */
	uint32_t prev, next;		/* LRU list: index + 1, 0 = none */
	uint32_t epoch;			/* bucket number of the newest bucket */
	uint32_t penalty_until;		/* clock seconds; 0 = never penalised */
	uint16_t count[CT_EVENT_COUNT][CLIENTTRACK_BUCKETS];
};

struct ct_stripe {
	pthread_mutex_t lock;
	struct ct_entry *entries;
	uint32_t cap;
	uint32_t used;
	uint32_t *hash;			/* heads: index + 1 */
	uint32_t hmask;
	uint32_t head, tail;		/* most and least recently used */
	uint64_t evictions;
	uint64_t penalties;
} __attribute__((aligned(64)));

struct clienttrack {
	struct ct_stripe *stripes;
	unsigned nstripes;
	size_t  bytes;
	clienttrack_clock_fn clock;
	void   *clock_ctx;
	/* Read under any stripe lock, written under all of them. */
	struct clienttrack_limits limits;
	/* The latest end of any penalty (atomic): until a penalty starts,
	 * asking about one costs a load, not a lock. */
	uint32_t penalty_horizon;
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

/* clienttrack_new - a fixed-size table; never NULL */
struct clienttrack *
clienttrack_new(size_t entries, unsigned stripes)
{
	struct clienttrack *ct = xcalloc(1, sizeof(*ct));
	size_t  per, hsize;
	unsigned i;

	if (stripes == 0)
		stripes = 1;
	if (entries < stripes)
		entries = stripes;
	if (entries > UINT32_MAX / 2)
		entries = UINT32_MAX / 2;
	per = (entries + stripes - 1) / stripes;
	for (hsize = 1; hsize < per; hsize *= 2)
		continue;
	if (posix_memalign((void **) &ct->stripes, 64,
			   stripes * sizeof(*ct->stripes)) != 0)
		rg_fatal("out of memory (%zu bytes)",
			 stripes * sizeof(*ct->stripes));
	memset(ct->stripes, 0, stripes * sizeof(*ct->stripes));
	ct->nstripes = stripes;
	ct->bytes = sizeof(*ct) + stripes * sizeof(*ct->stripes);
	for (i = 0; i < stripes; i++) {
		struct ct_stripe *st = &ct->stripes[i];

		pthread_mutex_init(&st->lock, NULL);
		st->cap = (uint32_t) per;
		st->entries = xcalloc(per, sizeof(*st->entries));
		st->hash = xcalloc(hsize, sizeof(*st->hash));
		st->hmask = (uint32_t) (hsize - 1);
		ct->bytes += per * sizeof(*st->entries) + hsize * sizeof(*st->hash);
	}
	ct->clock = mono_seconds;
	ct->limits.window = 3600;
	ct->limits.penalty = 3600;
	return ct;
}

/* clienttrack_free - release the table; returns NULL */
struct clienttrack *
clienttrack_free(struct clienttrack *ct)
{
	unsigned i;

	if (ct == NULL)
		return NULL;
	for (i = 0; i < ct->nstripes; i++) {
		pthread_mutex_destroy(&ct->stripes[i].lock);
		free(ct->stripes[i].entries);
		free(ct->stripes[i].hash);
	}
	free(ct->stripes);
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
	unsigned i;

	for (i = 0; i < ct->nstripes; i++)
		pthread_mutex_lock(&ct->stripes[i].lock);
	ct->limits = *limits;
	if (ct->limits.window == 0)
		ct->limits.window = 1;
	for (i = ct->nstripes; i-- > 0;)
		pthread_mutex_unlock(&ct->stripes[i].lock);
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

/* key_hash - mixes the 17 key bytes into 32 bits */
static uint32_t
key_hash(const struct ct_key *key)
{
	uint64_t a, b, h;

	memcpy(&a, key->addr, 8);
	memcpy(&b, key->addr + 8, 8);
	h = a * 0x9e3779b97f4a7c15ULL ^ (b + key->kind) * 0xc2b2ae3d27d4eb4fULL;
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 29;
	return (uint32_t) h ^ (uint32_t) (h >> 32);
}

/* stripe_of - the stripe that holds key */
static struct ct_stripe *
stripe_of(struct clienttrack *ct, uint32_t hash)
{
	return &ct->stripes[(hash >> 16) % ct->nstripes];
}

/* lru_unlink - take entry idx (index + 1) out of the LRU list */
static void
lru_unlink(struct ct_stripe *st, uint32_t idx)
{
	struct ct_entry *e = &st->entries[idx - 1];

	if (e->prev != 0)
		st->entries[e->prev - 1].next = e->next;
	else
		st->head = e->next;
	if (e->next != 0)
		st->entries[e->next - 1].prev = e->prev;
	else
		st->tail = e->prev;
	e->prev = e->next = 0;
}

/* lru_push - make entry idx the most recently used */
static void
lru_push(struct ct_stripe *st, uint32_t idx)
{
	struct ct_entry *e = &st->entries[idx - 1];

	e->prev = 0;
	e->next = st->head;
	if (st->head != 0)
		st->entries[st->head - 1].prev = idx;
	st->head = idx;
	if (st->tail == 0)
		st->tail = idx;
}

/* find - entry index + 1 for key, 0 when absent; touch refreshes its
 * LRU place */
static uint32_t
find(struct ct_stripe *st, const struct ct_key *key, uint32_t hash, int touch)
{
	uint32_t idx;

	for (idx = st->hash[hash & st->hmask]; idx != 0;
	     idx = st->entries[idx - 1].hnext) {
		struct ct_entry *e = &st->entries[idx - 1];

		if (e->kind == key->kind && memcmp(e->addr, key->addr, 16) == 0) {
			if (touch && st->head != idx) {
				lru_unlink(st, idx);
				lru_push(st, idx);
			}
			return idx;
		}
	}
	return 0;
}

/* hash_remove - unlink entry idx from its hash chain */
static void
hash_remove(struct ct_stripe *st, uint32_t idx)
{
	struct ct_entry *e = &st->entries[idx - 1];
	struct ct_key key;
	uint32_t *link;

	memcpy(key.addr, e->addr, 16);
	key.kind = e->kind;
	for (link = &st->hash[key_hash(&key) & st->hmask]; *link != 0;
	     link = &st->entries[*link - 1].hnext) {
		if (*link == idx) {
			*link = e->hnext;
			e->hnext = 0;
			return;
		}
	}
}

/* insert - a fresh entry for key, evicting the least recent when full */
static uint32_t
insert(struct ct_stripe *st, const struct ct_key *key, uint32_t hash,
       uint32_t epoch)
{
	struct ct_entry *e;
	uint32_t idx;

	if (st->used < st->cap) {
		idx = ++st->used;
	} else {
		idx = st->tail;
		lru_unlink(st, idx);
		hash_remove(st, idx);
		st->evictions++;
	}
	e = &st->entries[idx - 1];
	memset(e, 0, sizeof(*e));
	memcpy(e->addr, key->addr, 16);
	e->kind = key->kind;
	e->epoch = epoch;
	e->hnext = st->hash[hash & st->hmask];
	st->hash[hash & st->hmask] = idx;
	lru_push(st, idx);
	return idx;
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
	uint32_t hash = key_hash(key), idx, cur;
	struct ct_stripe *st = stripe_of(ct, hash);
	struct ct_entry *e;
	uint16_t *slot;
	unsigned limit;
	int started = 0;

	pthread_mutex_lock(&st->lock);
	cur = bucket_now(ct, now);
	if ((idx = find(st, key, hash, 1)) == 0)
		idx = insert(st, key, hash, cur);
	e = &st->entries[idx - 1];
	rotate(e, cur);
	slot = &e->count[event][cur % CLIENTTRACK_BUCKETS];
	if (*slot < UINT16_MAX)
		(*slot)++;
	limit = ct->limits.limit[event];
	if (limit > 0 && window_sum(e, event) > limit
	    && e->penalty_until <= now && ct->limits.penalty > 0) {
		e->penalty_until = now + ct->limits.penalty;
		e->reported = 0;
		st->penalties++;
		started = 1;
		raise_horizon(ct, e->penalty_until);
	}
	pthread_mutex_unlock(&st->lock);
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
	uint32_t hash = key_hash(key), idx;
	struct ct_stripe *st = stripe_of(ct, hash);
	struct ct_entry *e;
	unsigned left = 0;

	pthread_mutex_lock(&st->lock);
	if ((idx = find(st, key, hash, 0)) != 0) {
		e = &st->entries[idx - 1];
		if (e->penalty_until > now) {
			left = e->penalty_until - now;
			*first = !e->reported;
			e->reported = 1;
		}
	}
	pthread_mutex_unlock(&st->lock);
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
	struct ct_stripe *st;
	uint32_t hash, idx;
	unsigned n = 0;

	if (ct == NULL || (unsigned) event >= CT_EVENT_COUNT
	    || !make_key(ip, network, &key))
		return 0;
	hash = key_hash(&key);
	st = stripe_of(ct, hash);
	pthread_mutex_lock(&st->lock);
	if ((idx = find(st, &key, hash, 0)) != 0) {
		rotate(&st->entries[idx - 1],
		       bucket_now(ct, ct->clock(ct->clock_ctx)));
		n = window_sum(&st->entries[idx - 1], event);
	}
	pthread_mutex_unlock(&st->lock);
	return n;
}

/* clienttrack_get_stats - entries in use, capacity, bytes, evictions */
void
clienttrack_get_stats(struct clienttrack *ct, struct clienttrack_stats *out)
{
	unsigned i;

	memset(out, 0, sizeof(*out));
	if (ct == NULL)
		return;
	out->bytes = ct->bytes;
	for (i = 0; i < ct->nstripes; i++) {
		struct ct_stripe *st = &ct->stripes[i];

		pthread_mutex_lock(&st->lock);
		out->used += st->used;
		out->capacity += st->cap;
		out->evictions += st->evictions;
		out->penalties += st->penalties;
		pthread_mutex_unlock(&st->lock);
	}
}
