/*
 * lru_table - a fixed-size striped hash table that evicts the least
 * recently used entry
 *
 * NAME
 *	lru_table - bounded, striped, allocation-free LRU hash table
 * SUMMARY
 *	The storage under clienttrack and accountlimit: a table of at most
 *	a fixed number of entries, split into stripes that each have their
 *	own lock, hash and LRU list.  Everything is allocated at creation;
 *	a lookup or an insertion costs O(1) and allocates nothing, and an
 *	insertion into a full stripe reuses its least recently used entry.
 * DESCRIPTION
 *	An entry is the caller's structure whose first member is a
 *	struct lru_table_link; the table knows nothing else of it.  The
 *	caller hashes its key to 64 bits: the high half picks the stripe,
 *	the low half the chain.  It locks the stripe (lru_table_lock()),
 *	finds or inserts under that lock, reads and writes its entry, and
 *	unlocks; an entry pointer is valid only while the lock is held.
 *	The table calls back the caller's hash function only when it
 *	evicts, to unchain the evicted entry.
 * OWNERSHIP
 *	lru_table_new() returns a table the caller frees with
 *	lru_table_free(), which returns NULL.
 */
#ifndef RG_LRU_TABLE_H
#define RG_LRU_TABLE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* The first member of every entry: index + 1 of its neighbours, 0 none. */
struct lru_table_link {
	uint32_t hnext;			/* hash chain */
	uint32_t prev, next;		/* LRU list */
};

/* The caller's 64-bit hash of an entry's key (used on eviction). */
typedef uint64_t (*lru_table_hash_fn) (const void *entry);

/* Whether an entry holds key. */
typedef int (*lru_table_match_fn) (const void *entry, const void *key);

struct lru_table_stripe {
	pthread_mutex_t lock;
	unsigned char *entries;		/* cap entries of size bytes */
	size_t  size;
	uint32_t cap, used;
	uint32_t *hash;			/* chain heads: index + 1 */
	uint32_t hmask;
	uint32_t head, tail;		/* most and least recently used */
	uint64_t evictions;
	lru_table_hash_fn hash_fn;
} __attribute__((aligned(64)));

struct lru_table {
	struct lru_table_stripe *stripes;
	unsigned nstripes;
	size_t  bytes;			/* everything allocated */
};

struct lru_table_stats {
	size_t  used;
	size_t  capacity;
	size_t  bytes;
	uint64_t evictions;
};

/* lru_table_new - at most entries entries of size bytes (each starting
 * with a struct lru_table_link) in stripes stripes; never NULL */
struct lru_table *lru_table_new(size_t entries, unsigned stripes, size_t size,
				lru_table_hash_fn hash_fn);

/* lru_table_free - release the table; returns NULL */
struct lru_table *lru_table_free(struct lru_table *t);

/* lru_table_insert - a zeroed entry chained for hash, made the most
 * recently used; in a full stripe, its least recently used entry,
 * evicted.  The caller fills in the key before unlocking. */
void   *lru_table_insert(struct lru_table_stripe *st, uint64_t hash);

/* lru_table_promote - make entry idx (index + 1) the most recently used */
void    lru_table_promote(struct lru_table_stripe *st, uint32_t idx);

/* lru_table_lock_all, lru_table_unlock_all - every stripe, in order */
void    lru_table_lock_all(struct lru_table *t);
void    lru_table_unlock_all(struct lru_table *t);

/* lru_table_get_stats - entries in use, capacity, bytes, evictions */
void    lru_table_get_stats(struct lru_table *t, struct lru_table_stats *out);

/* lru_table_stripe - the stripe that holds hash */
static inline struct lru_table_stripe *
lru_table_stripe(struct lru_table *t, uint64_t hash)
{
	return &t->stripes[(uint32_t) (hash >> 32) % t->nstripes];
}

/* lru_table_entry - entry idx (index + 1) of a stripe */
static inline void *
lru_table_entry(struct lru_table_stripe *st, uint32_t idx)
{
	return st->entries + (size_t) (idx - 1) * st->size;
}

static inline void
lru_table_lock(struct lru_table_stripe *st)
{
	pthread_mutex_lock(&st->lock);
}

static inline void
lru_table_unlock(struct lru_table_stripe *st)
{
	pthread_mutex_unlock(&st->lock);
}

/* lru_table_find - the entry holding key, or NULL; touch makes it the
 * most recently used.  Inline, so that the caller's match function is
 * inlined into the chain walk of the hot path. */
static inline void *
lru_table_find(struct lru_table_stripe *st, uint64_t hash,
	       lru_table_match_fn match, const void *key, int touch)
{
	uint32_t idx;

	for (idx = st->hash[(uint32_t) hash & st->hmask]; idx != 0;) {
		void   *e = lru_table_entry(st, idx);

		if (match(e, key)) {
			if (touch && st->head != idx)
				lru_table_promote(st, idx);
			return e;
		}
		idx = ((const struct lru_table_link *) e)->hnext;
	}
	return NULL;
}

#endif
