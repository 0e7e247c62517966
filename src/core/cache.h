/*
 * cache - a bounded, thread-safe result cache for directory lookups
 *
 * Keys are addresses, compared case-insensitively (stored lower-cased);
 * values are found / not-found, each with its own time to live.  Errors
 * are never stored: the caller only puts answers.  The size is bounded and
 * the least recently used entry is evicted first; get, put and eviction
 * are O(1) (a hash table over a doubly linked LRU list).
 *
 * Time is passed in by the caller (monotonic milliseconds), which keeps
 * the module pure and its expiry testable.  One mutex guards everything:
 * the critical sections are a hash probe and a few pointer moves.
 */
#ifndef RG_CACHE_H
#define RG_CACHE_H

#include <stddef.h>
#include <stdint.h>

/* Keys longer than this are not cached (no address is that long). */
#define CACHE_KEY_MAX		512

struct rg_cache;

struct cache_stats {
	uint64_t hits;			/* answered from the cache */
	uint64_t misses;		/* absent or expired */
	uint64_t inserts;
	uint64_t evictions;		/* dropped to make room (LRU) */
	uint64_t expirations;		/* dropped because their TTL ran out */
	size_t  entries;		/* in the cache now */
	size_t  capacity;
};

/* cache_create - max_entries > 0; TTLs in seconds, 0 = do not cache that
 * kind of answer */
struct rg_cache *cache_create(size_t max_entries, unsigned positive_ttl,
			      unsigned negative_ttl);

/* cache_get - 1 and *found (1 found, 0 not found) on a live hit, 0 on a
 * miss */
int     cache_get(struct rg_cache *cache, const char *key, uint64_t now_ms,
		  int *found);

/* cache_put - remember an answer (found 1 or 0) from now_ms on */
void    cache_put(struct rg_cache *cache, const char *key, int found,
		  uint64_t now_ms);

/* cache_get_stats - a consistent snapshot of the counters */
void    cache_get_stats(struct rg_cache *cache, struct cache_stats *stats);

/* cache_free - release everything; returns NULL */
struct rg_cache *cache_free(struct rg_cache *cache);

#endif
