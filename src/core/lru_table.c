/*
 * lru_table - a fixed-size striped hash table that evicts the least
 * recently used entry
 *
 * See lru_table.h.  Per stripe: an array of entries allocated once, a
 * chained hash over them (index + 1, 0 ends a chain; a power of two of
 * heads, at least one per entry) and a doubly linked LRU list threaded
 * through the same array.  Indexes rather than pointers keep the links
 * at 32 bits each.  Stripes are cache-line aligned so that two threads
 * on two stripes do not share a line.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "lru_table.h"

/* link_of - the link at the start of entry idx */
static struct lru_table_link *
link_of(struct lru_table_stripe *st, uint32_t idx)
{
	return (struct lru_table_link *) lru_table_entry(st, idx);
}

/* lru_table_new - a fixed-size table; never NULL */
struct lru_table *
lru_table_new(size_t entries, unsigned stripes, size_t size,
	      lru_table_hash_fn hash_fn)
{
	struct lru_table *t = xcalloc(1, sizeof(*t));
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
	if (posix_memalign((void **) &t->stripes, 64,
			   stripes * sizeof(*t->stripes)) != 0)
		rg_fatal("out of memory (%zu bytes)",
			 stripes * sizeof(*t->stripes));
	memset(t->stripes, 0, stripes * sizeof(*t->stripes));
	t->nstripes = stripes;
	t->bytes = sizeof(*t) + stripes * sizeof(*t->stripes);
	for (i = 0; i < stripes; i++) {
		struct lru_table_stripe *st = &t->stripes[i];

		pthread_mutex_init(&st->lock, NULL);
		st->size = size;
		st->cap = (uint32_t) per;
		st->entries = xcalloc(per, size);
		st->hash = xcalloc(hsize, sizeof(*st->hash));
		st->hmask = (uint32_t) (hsize - 1);
		st->hash_fn = hash_fn;
		t->bytes += per * size + hsize * sizeof(*st->hash);
	}
	return t;
}

/* lru_table_free - release the table; returns NULL */
struct lru_table *
lru_table_free(struct lru_table *t)
{
	unsigned i;

	if (t == NULL)
		return NULL;
	for (i = 0; i < t->nstripes; i++) {
		pthread_mutex_destroy(&t->stripes[i].lock);
		free(t->stripes[i].entries);
		free(t->stripes[i].hash);
	}
	free(t->stripes);
	free(t);
	return NULL;
}

/* lru_unlink - take entry idx out of the LRU list */
static void
lru_unlink(struct lru_table_stripe *st, uint32_t idx)
{
	struct lru_table_link *l = link_of(st, idx);

	if (l->prev != 0)
		link_of(st, l->prev)->next = l->next;
	else
		st->head = l->next;
	if (l->next != 0)
		link_of(st, l->next)->prev = l->prev;
	else
		st->tail = l->prev;
	l->prev = l->next = 0;
}

/* lru_push - make entry idx, unlinked, the most recently used */
static void
lru_push(struct lru_table_stripe *st, uint32_t idx)
{
	struct lru_table_link *l = link_of(st, idx);

	l->prev = 0;
	l->next = st->head;
	if (st->head != 0)
		link_of(st, st->head)->prev = idx;
	st->head = idx;
	if (st->tail == 0)
		st->tail = idx;
}

/* lru_table_promote - make entry idx the most recently used */
void
lru_table_promote(struct lru_table_stripe *st, uint32_t idx)
{
	lru_unlink(st, idx);
	lru_push(st, idx);
}

/* unchain - take entry idx out of its hash chain */
static void
unchain(struct lru_table_stripe *st, uint32_t idx)
{
	struct lru_table_link *l = link_of(st, idx);
	uint32_t *next;

	for (next = &st->hash[(uint32_t) st->hash_fn(l) & st->hmask];
	     *next != 0; next = &link_of(st, *next)->hnext) {
		if (*next == idx) {
			*next = l->hnext;
			l->hnext = 0;
			return;
		}
	}
}

/* lru_table_insert - a zeroed entry for hash, evicting when full */
void   *
lru_table_insert(struct lru_table_stripe *st, uint64_t hash)
{
	uint32_t *head = &st->hash[(uint32_t) hash & st->hmask];
	struct lru_table_link *l;
	uint32_t idx;

	if (st->used < st->cap) {
		idx = ++st->used;
	} else {
		idx = st->tail;
		lru_unlink(st, idx);
		unchain(st, idx);
		st->evictions++;
	}
	l = link_of(st, idx);
	memset(l, 0, st->size);
	l->hnext = *head;
	*head = idx;
	lru_push(st, idx);
	return l;
}

/* lru_table_lock_all - every stripe, in index order */
void
lru_table_lock_all(struct lru_table *t)
{
	unsigned i;

	for (i = 0; i < t->nstripes; i++)
		pthread_mutex_lock(&t->stripes[i].lock);
}

/* lru_table_unlock_all - every stripe, in reverse order */
void
lru_table_unlock_all(struct lru_table *t)
{
	unsigned i;

	for (i = t->nstripes; i-- > 0;)
		pthread_mutex_unlock(&t->stripes[i].lock);
}

/* lru_table_get_stats - entries in use, capacity, bytes, evictions */
void
lru_table_get_stats(struct lru_table *t, struct lru_table_stats *out)
{
	unsigned i;

	memset(out, 0, sizeof(*out));
	if (t == NULL)
		return;
	out->bytes = t->bytes;
	for (i = 0; i < t->nstripes; i++) {
		struct lru_table_stripe *st = &t->stripes[i];

		pthread_mutex_lock(&st->lock);
		out->used += st->used;
		out->capacity += st->cap;
		out->evictions += st->evictions;
		pthread_mutex_unlock(&st->lock);
	}
}
