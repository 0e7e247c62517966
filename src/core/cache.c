/*
 * cache - a bounded, thread-safe result cache for directory lookups
 *
 * See cache.h.  Layout: a power-of-two array of buckets, each a singly
 * linked chain of entries; every entry is also on one doubly linked list
 * in recency order (head = most recently used).  The bucket array has at
 * least as many slots as the cache has entries, so chains stay short.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "cache.h"

struct cache_entry {
	struct cache_entry *chain;	/* next in the bucket */
	struct cache_entry *newer;	/* LRU list */
	struct cache_entry *older;
	unsigned long hash;
	uint64_t expires_ms;
	int     found;
	char    key[];			/* lower-case */
};

struct rg_cache {
	pthread_mutex_t lock;
	struct cache_entry **buckets;
	size_t  mask;			/* bucket count - 1 */
	struct cache_entry *newest;
	struct cache_entry *oldest;
	size_t  capacity;
	unsigned positive_ttl;
	unsigned negative_ttl;
	struct cache_stats stats;
};

/* cache_create - an empty cache for max_entries answers */
struct rg_cache *
cache_create(size_t max_entries, unsigned positive_ttl, unsigned negative_ttl)
{
	struct rg_cache *cache;
	size_t nbuckets = 16;

	if (max_entries == 0)
		return NULL;
	while (nbuckets < max_entries && nbuckets < ((size_t)1 << 30))
		nbuckets <<= 1;
	cache = xcalloc(1, sizeof(*cache));
	pthread_mutex_init(&cache->lock, NULL);
	cache->buckets = xcalloc(nbuckets, sizeof(*cache->buckets));
	cache->mask = nbuckets - 1;
	cache->capacity = max_entries;
	cache->positive_ttl = positive_ttl;
	cache->negative_ttl = negative_ttl;
	cache->stats.capacity = max_entries;
	return cache;
}

/* lru_unlink - take entry off the recency list */
static void
lru_unlink(struct rg_cache *cache, struct cache_entry *entry)
{
	if (entry->newer)
		entry->newer->older = entry->older;
	else
		cache->newest = entry->older;
	if (entry->older)
		entry->older->newer = entry->newer;
	else
		cache->oldest = entry->newer;
	entry->newer = entry->older = NULL;
}

/* lru_push - make entry the most recently used */
static void
lru_push(struct rg_cache *cache, struct cache_entry *entry)
{
	entry->older = cache->newest;
	entry->newer = NULL;
	if (cache->newest)
		cache->newest->newer = entry;
	cache->newest = entry;
	if (cache->oldest == NULL)
		cache->oldest = entry;
}

/* find_slot - the link that points at key's entry (or at NULL) */
static struct cache_entry **
find_slot(struct rg_cache *cache, const char *key, unsigned long hash)
{
	struct cache_entry **link = &cache->buckets[hash & cache->mask];

	while (*link != NULL) {
		if ((*link)->hash == hash && rg_strcaseeq((*link)->key, key))
			break;
		link = &(*link)->chain;
	}
	return link;
}

/* remove_entry - unlink and free the entry *link points at */
static void
remove_entry(struct rg_cache *cache, struct cache_entry **link)
{
	struct cache_entry *entry = *link;

	*link = entry->chain;
	lru_unlink(cache, entry);
	free(entry);
	cache->stats.entries--;
}

/* cache_get - look key up; expired entries are dropped on the way */
int
cache_get(struct rg_cache *cache, const char *key, uint64_t now_ms, int *found)
{
	struct cache_entry **link;
	unsigned long hash;
	int hit = 0;

	if (cache == NULL)
		return 0;
	hash = rg_hash_lower(key);
	pthread_mutex_lock(&cache->lock);
	link = find_slot(cache, key, hash);
	if (*link != NULL && (*link)->expires_ms <= now_ms) {
		remove_entry(cache, link);
		cache->stats.expirations++;
	} else if (*link != NULL) {
		*found = (*link)->found;
		lru_unlink(cache, *link);
		lru_push(cache, *link);
		hit = 1;
	}
	if (hit)
		cache->stats.hits++;
	else
		cache->stats.misses++;
	pthread_mutex_unlock(&cache->lock);
	return hit;
}

/* cache_put - insert or refresh key; evicts the oldest entry when full */
void
cache_put(struct rg_cache *cache, const char *key, int found, uint64_t now_ms)
{
	struct cache_entry **link, *entry;
	unsigned long hash;
	unsigned ttl;
	size_t len;

	if (cache == NULL)
		return;
	ttl = found ? cache->positive_ttl : cache->negative_ttl;
	len = strlen(key);
	if (ttl == 0 || len > CACHE_KEY_MAX)
		return;
	hash = rg_hash_lower(key);
	pthread_mutex_lock(&cache->lock);
	link = find_slot(cache, key, hash);
	if (*link != NULL) {
		entry = *link;
		lru_unlink(cache, entry);
	} else {
		if (cache->stats.entries >= cache->capacity) {
			struct cache_entry *old = cache->oldest;

			remove_entry(cache, find_slot(cache, old->key, old->hash));
			cache->stats.evictions++;
			link = find_slot(cache, key, hash);
		}
		entry = xmalloc(sizeof(*entry) + len + 1);
		memcpy(entry->key, key, len + 1);
		rg_lowercase(entry->key);
		entry->hash = hash;
		entry->chain = NULL;
		*link = entry;
		cache->stats.entries++;
		cache->stats.inserts++;
	}
	entry->found = found ? 1 : 0;
	entry->expires_ms = now_ms + (uint64_t)ttl * 1000;
	lru_push(cache, entry);
	pthread_mutex_unlock(&cache->lock);
}

/* cache_get_stats - copy the counters under the lock */
void
cache_get_stats(struct rg_cache *cache, struct cache_stats *stats)
{
	if (cache == NULL) {
		memset(stats, 0, sizeof(*stats));
		return;
	}
	pthread_mutex_lock(&cache->lock);
	*stats = cache->stats;
	pthread_mutex_unlock(&cache->lock);
}

/* cache_free - free every entry and the table; returns NULL */
struct rg_cache *
cache_free(struct rg_cache *cache)
{
	struct cache_entry *entry, *next;

	if (cache == NULL)
		return NULL;
	for (entry = cache->newest; entry != NULL; entry = next) {
		next = entry->older;
		free(entry);
	}
	free(cache->buckets);
	pthread_mutex_destroy(&cache->lock);
	free(cache);
	return NULL;
}
