/*
 * test-cache - the LRU + TTL result cache
 *
 * Time is passed in, so expiry is tested without sleeping.  The last test
 * hammers one cache from several threads (run it under valgrind/ASan/TSan
 * to check the locking).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "testlib.h"
#include "cache.h"

static void
test_basic(void)
{
	struct rg_cache *c = cache_create(4, 300, 60);
	struct cache_stats st;
	int found = -1;

	test_begin("cache: miss, put, hit, case-insensitive keys");
	test_assert_int(cache_get(c, "alice@example.test", 1000, &found), 0);
	cache_put(c, "Alice@Example.TEST", 1, 1000);
	test_assert_int(cache_get(c, "alice@example.test", 1001, &found), 1);
	test_assert_int(found, 1);
	test_assert_int(cache_get(c, "ALICE@EXAMPLE.TEST", 1002, &found), 1);
	cache_put(c, "nobody@example.test", 0, 1000);
	found = -1;
	test_assert_int(cache_get(c, "nobody@example.test", 1003, &found), 1);
	test_assert_int(found, 0);
	cache_get_stats(c, &st);
	test_assert_int(st.hits, 3);
	test_assert_int(st.misses, 1);
	test_assert_int(st.entries, 2);
	test_assert_int(st.inserts, 2);
	test_end();

	test_begin("cache: positive and negative TTLs");
	/* positive 300 s from t=1000 ms: alive at 300999, gone at 301000 */
	test_assert_int(cache_get(c, "alice@example.test", 300999, &found), 1);
	test_assert_int(cache_get(c, "nobody@example.test", 60999, &found), 1);
	test_assert_int(cache_get(c, "nobody@example.test", 61000, &found), 0);
	test_assert_int(cache_get(c, "alice@example.test", 301000, &found), 0);
	cache_get_stats(c, &st);
	test_assert_int(st.expirations, 2);
	test_assert_int(st.entries, 0);
	test_end();

	test_begin("cache: refresh replaces the answer and the expiry");
	cache_put(c, "x@example.test", 0, 0);
	cache_put(c, "x@example.test", 1, 50000);
	test_assert_int(cache_get(c, "x@example.test", 200000, &found), 1);
	test_assert_int(found, 1);
	cache_get_stats(c, &st);
	test_assert_int(st.entries, 1);
	test_end();
	c = cache_free(c);
	test_assert(c == NULL);
}

static void
test_lru(void)
{
	struct rg_cache *c = cache_create(3, 300, 300);
	struct cache_stats st;
	int found;

	test_begin("cache: LRU eviction keeps the recently used");
	cache_put(c, "a", 1, 0);
	cache_put(c, "b", 1, 0);
	cache_put(c, "c", 1, 0);
	test_assert_int(cache_get(c, "a", 1, &found), 1);	/* a now newest */
	cache_put(c, "d", 1, 2);				/* evicts b */
	test_assert_int(cache_get(c, "b", 3, &found), 0);
	test_assert_int(cache_get(c, "a", 3, &found), 1);
	test_assert_int(cache_get(c, "c", 3, &found), 1);
	test_assert_int(cache_get(c, "d", 3, &found), 1);
	cache_put(c, "e", 0, 4);				/* evicts a */
	test_assert_int(cache_get(c, "a", 5, &found), 0);
	cache_get_stats(c, &st);
	test_assert_int(st.evictions, 2);
	test_assert_int(st.entries, 3);
	test_end();
	c = cache_free(c);

	test_begin("cache: size 1 and many evictions");
	c = cache_create(1, 10, 10);
	{
		char key[32];
		int i;

		for (i = 0; i < 1000; i++) {
			snprintf(key, sizeof(key), "user%d@example.test", i);
			cache_put(c, key, i & 1, (uint64_t)i);
		}
		test_assert_int(cache_get(c, "user999@example.test", 1000, &found), 1);
		test_assert_int(found, 1);
		test_assert_int(cache_get(c, "user998@example.test", 1000, &found), 0);
		cache_get_stats(c, &st);
		test_assert_int(st.evictions, 999);
		test_assert_int(st.entries, 1);
	}
	c = cache_free(c);
	test_end();
}

static void
test_ttl_zero(void)
{
	struct rg_cache *c = cache_create(10, 0, 60);
	char longkey[CACHE_KEY_MAX + 10];
	struct cache_stats st;
	int found;

	test_begin("cache: TTL 0 caches nothing of that kind; long keys skipped");
	cache_put(c, "found@example.test", 1, 0);
	cache_put(c, "absent@example.test", 0, 0);
	test_assert_int(cache_get(c, "found@example.test", 1, &found), 0);
	test_assert_int(cache_get(c, "absent@example.test", 1, &found), 1);
	memset(longkey, 'a', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	cache_put(c, longkey, 0, 0);
	test_assert_int(cache_get(c, longkey, 1, &found), 0);
	cache_get_stats(c, &st);
	test_assert_int(st.entries, 1);
	test_end();
	c = cache_free(c);

	test_begin("cache: size 0 is no cache, and NULL is safe");
	test_assert(cache_create(0, 1, 1) == NULL);
	test_assert_int(cache_get(NULL, "a", 0, &found), 0);
	cache_put(NULL, "a", 1, 0);
	cache_get_stats(NULL, &st);
	test_assert_int(st.hits, 0);
	test_end();
}

struct hammer {
	struct rg_cache *cache;
	int     id;
	int     wrong;
};

/* hammer_run - mixed puts and gets; the answer must match the key */
static void *
hammer_run(void *arg)
{
	struct hammer *h = arg;
	char key[64];
	int i, found;

	for (i = 0; i < 200000; i++) {
		int k = (i * 7 + h->id * 13) % 500;

		snprintf(key, sizeof(key), "u%d@example.test", k);
		if (cache_get(h->cache, key, (uint64_t)i, &found)) {
			if (found != (k % 3 == 0))
				h->wrong++;
		} else {
			cache_put(h->cache, key, k % 3 == 0, (uint64_t)i);
		}
	}
	return NULL;
}

static void
test_threads(void)
{
	struct rg_cache *c = cache_create(128, 1000, 1000);
	struct hammer h[8];
	pthread_t tid[8];
	struct cache_stats st;
	int i, wrong = 0;

	test_begin("cache: 8 threads, consistent answers and counters");
	for (i = 0; i < 8; i++) {
		h[i].cache = c;
		h[i].id = i;
		h[i].wrong = 0;
		pthread_create(&tid[i], NULL, hammer_run, &h[i]);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(tid[i], NULL);
		wrong += h[i].wrong;
	}
	cache_get_stats(c, &st);
	test_assert_int(wrong, 0);
	test_assert_int(st.hits + st.misses, 8 * 200000);
	test_assert(st.entries <= 128);
	test_assert(st.evictions > 0);
	test_end();
	c = cache_free(c);
}

int
main(void)
{
	test_basic();
	test_lru();
	test_ttl_zero();
	test_threads();
	return test_exit();
}
