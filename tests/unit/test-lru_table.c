/*
 * test-lru_table - lookup and insertion, LRU order and eviction, shared
 * hash chains, stripes, bounded size, concurrent use and no allocation
 * once created
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "lru_table.h"
#include "testlib.h"
#include "alloc_count.h"	/* linked with --wrap=malloc,calloc,realloc */

/* An entry as a caller lays it out: the link first, then its own. */
struct item {
	struct lru_table_link link;
	uint64_t key;
	unsigned value;
};

/* The hash is the key itself, so that a test chooses stripe and chain. */
static uint64_t
item_hash(const void *entry)
{
	return ((const struct item *) entry)->key;
}

static int
item_match(const void *entry, const void *key)
{
	return ((const struct item *) entry)->key == *(const uint64_t *) key;
}

/* get - the entry of key in its stripe, or NULL */
static struct item *
get(struct lru_table *t, uint64_t key, int touch)
{
	struct lru_table_stripe *st = lru_table_stripe(t, key);
	struct item *it;

	lru_table_lock(st);
	it = lru_table_find(st, key, item_match, &key, touch);
	lru_table_unlock(st);
	return it;
}

/* put - find or insert key; sets value; returns 1 when inserted */
static int
put(struct lru_table *t, uint64_t key, unsigned value)
{
	struct lru_table_stripe *st = lru_table_stripe(t, key);
	struct item *it;
	int     fresh = 0;

	lru_table_lock(st);
	if ((it = lru_table_find(st, key, item_match, &key, 1)) == NULL) {
		it = lru_table_insert(st, key);
		test_assert_int(it->value, 0);	/* handed out zeroed */
		it->key = key;
		fresh = 1;
	}
	it->value = value;
	lru_table_unlock(st);
	return fresh;
}

static void
test_insert_find(void)
{
	struct lru_table *t = lru_table_new(16, 1, sizeof(struct item), item_hash);
	struct lru_table_stats s;
	uint64_t k;

	test_begin("inserted entries are found, absent ones are not");
	for (k = 1; k <= 10; k++)
		test_assert_int(put(t, k, (unsigned) k * 10), 1);
	test_assert_int(put(t, 3, 33), 0);	/* found, not inserted again */
	for (k = 1; k <= 10; k++)
		test_assert(get(t, k, 0) != NULL);
	test_assert_int(get(t, 3, 0)->value, 33);
	test_assert_int(get(t, 7, 0)->value, 70);
	test_assert(get(t, 11, 0) == NULL);
	lru_table_get_stats(t, &s);
	test_assert_int(s.used, 10);
	test_assert_int(s.capacity, 16);
	test_assert_int(s.evictions, 0);
	test_assert(s.bytes >= 16 * sizeof(struct item));
	t = lru_table_free(t);
	test_assert(t == NULL);
	test_end();
}

static void
test_eviction(void)
{
	struct lru_table *t = lru_table_new(4, 1, sizeof(struct item), item_hash);
	struct lru_table_stats s;

	test_begin("a full table evicts the least recently used entry");
	put(t, 1, 1);
	put(t, 2, 2);
	put(t, 3, 3);
	put(t, 4, 4);
	test_assert(get(t, 1, 1) != NULL);	/* 1 is now the most recent */
	test_assert(get(t, 2, 0) != NULL);	/* a read without touch: 2 stays oldest */
	test_assert_int(put(t, 5, 5), 1);
	test_assert(get(t, 2, 0) == NULL);
	test_assert(get(t, 1, 0) != NULL);
	test_assert_int(put(t, 6, 6), 1);	/* next oldest: 3 */
	test_assert(get(t, 3, 0) == NULL);
	test_assert(get(t, 4, 0) != NULL);
	test_assert(get(t, 5, 0) != NULL);
	test_assert_int(get(t, 6, 0)->value, 6);
	lru_table_get_stats(t, &s);
	test_assert_int(s.used, 4);
	test_assert_int(s.capacity, 4);
	test_assert_int(s.evictions, 2);
	lru_table_free(t);
	test_end();
}

static void
test_chains(void)
{
	/* 8 entries, 8 chain heads: keys equal modulo 8 share a chain */
	struct lru_table *t = lru_table_new(8, 1, sizeof(struct item), item_hash);
	uint64_t k;

	test_begin("eviction unchains the evicted entry, not its neighbours");
	for (k = 0; k < 8; k++)
		put(t, 8 * k + 5, (unsigned) k);	/* all on one chain */
	for (k = 0; k < 8; k++)
		test_assert_int(get(t, 8 * k + 5, 0)->value, k);
	get(t, 5, 1);				/* oldest becomes newest */
	put(t, 101, 100);			/* evicts 13, mid-chain */
	test_assert(get(t, 13, 0) == NULL);
	for (k = 0; k < 8; k++)
		if (k != 1)
			test_assert_int(get(t, 8 * k + 5, 0)->value, k);
	test_assert_int(get(t, 101, 0)->value, 100);
	put(t, 102, 0);				/* evicts 21 */
	put(t, 103, 0);				/* evicts 29 */
	test_assert(get(t, 21, 0) == NULL);
	test_assert(get(t, 29, 0) == NULL);
	test_assert(get(t, 5, 0) != NULL);
	test_assert(get(t, 61, 0) != NULL);
	lru_table_free(t);
	test_end();
}

static void
test_stripes(void)
{
	struct lru_table *t = lru_table_new(8, 4, sizeof(struct item), item_hash);
	struct lru_table_stats s;
	uint64_t k;

	test_begin("stripes are independent tables of capacity / stripes");
	test_assert(lru_table_stripe(t, 1ULL << 32) != lru_table_stripe(t, 2ULL << 32));
	test_assert(lru_table_stripe(t, 1ULL << 32) == lru_table_stripe(t, 5ULL << 32));
	/* stripe 0 (high half 0) holds two; filling it evicts only there */
	put(t, (1ULL << 32) | 1, 1);
	for (k = 1; k <= 3; k++)
		put(t, k, (unsigned) k);
	test_assert(get(t, 1, 0) == NULL);
	test_assert(get(t, 2, 0) != NULL);
	test_assert(get(t, 3, 0) != NULL);
	test_assert(get(t, (1ULL << 32) | 1, 0) != NULL);
	lru_table_get_stats(t, &s);
	test_assert_int(s.capacity, 8);
	test_assert_int(s.used, 3);
	test_assert_int(s.evictions, 1);
	lru_table_free(t);

	test_begin("sizes are bounded: at least one entry per stripe");
	t = lru_table_new(0, 0, sizeof(struct item), item_hash);
	lru_table_get_stats(t, &s);
	test_assert_int(s.capacity, 1);
	put(t, 1, 1);
	put(t, 2, 2);
	test_assert(get(t, 1, 0) == NULL);
	test_assert(get(t, 2, 0) != NULL);
	lru_table_free(t);
	t = lru_table_new(10, 4, sizeof(struct item), item_hash);
	lru_table_get_stats(t, &s);
	test_assert_int(s.capacity, 12);	/* 3 per stripe */
	lru_table_free(t);
	test_end();
}

static void
test_no_allocation(void)
{
	struct lru_table *t = lru_table_new(100, 4, sizeof(struct item), item_hash);
	unsigned long before;
	uint64_t k;

	test_begin("no allocation once created, evicting or not");
	before = allocations;
	for (k = 0; k < 10000; k++) {
		uint64_t key = k * 0x9e3779b97f4a7c15ULL;

		put(t, key, 1);
		(void) get(t, key, 0);
	}
	test_assert_int(allocations - before, 0);
	lru_table_lock_all(t);
	lru_table_unlock_all(t);
	test_assert_int(allocations - before, 0);
	lru_table_free(t);
	test_end();
}

#define WORKERS	4
#define ROUNDS	20000

struct worker {
	struct lru_table *t;
	unsigned id;
};

/* count - each worker bumps its own keys under the stripe lock */
static void *
count(void *arg)
{
	struct worker *w = arg;
	unsigned i;

	for (i = 0; i < ROUNDS; i++) {
		uint64_t key = (uint64_t) (i % 64) << 32 | w->id;
		struct lru_table_stripe *st = lru_table_stripe(w->t, key);
		struct item *it;

		lru_table_lock(st);
		if ((it = lru_table_find(st, key, item_match, &key, 1)) == NULL) {
			it = lru_table_insert(st, key);
			it->key = key;
		}
		it->value++;
		lru_table_unlock(st);
	}
	return NULL;
}

static void
test_threads(void)
{
	struct lru_table *t = lru_table_new(WORKERS * 64 * 2, 8,
					    sizeof(struct item), item_hash);
	struct worker w[WORKERS];
	pthread_t th[WORKERS];
	struct lru_table_stats s;
	unsigned i, total = 0;
	uint64_t k;

	test_begin("concurrent workers on shared stripes lose no count");
	for (i = 0; i < WORKERS; i++) {
		w[i].t = t;
		w[i].id = i;
		pthread_create(&th[i], NULL, count, &w[i]);
	}
	for (i = 0; i < WORKERS; i++)
		pthread_join(th[i], NULL);
	lru_table_get_stats(t, &s);
	test_assert_int(s.evictions, 0);
	for (i = 0; i < WORKERS; i++)
		for (k = 0; k < 64; k++) {
			uint64_t key = k << 32 | i;
			struct item *it = get(t, key, 0);

			if (it != NULL)
				total += it->value;
		}
	test_assert_int(total, WORKERS * ROUNDS);
	lru_table_free(t);
	test_end();
}

int
main(void)
{
	test_insert_find();
	test_eviction();
	test_chains();
	test_stripes();
	test_no_allocation();
	test_threads();
	return test_exit();
}
