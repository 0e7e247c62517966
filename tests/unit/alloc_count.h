/*
 * alloc_count - count the allocations a unit test makes
 *
 * For tests that prove a path allocates nothing: the program is linked
 * with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc, so that every
 * allocation made by relayguard's own code passes through here and bumps
 * `allocations` (atomically: tests run threads).  Header-only, like
 * testlib.h; include it once per test program.
 */
#ifndef RG_ALLOC_COUNT_H
#define RG_ALLOC_COUNT_H

#include <stddef.h>

static unsigned long allocations;

void   *__real_malloc(size_t size);
void   *__real_calloc(size_t nmemb, size_t size);
void   *__real_realloc(void *ptr, size_t size);
void   *__wrap_malloc(size_t size);
void   *__wrap_calloc(size_t nmemb, size_t size);
void   *__wrap_realloc(void *ptr, size_t size);

void *
__wrap_malloc(size_t size)
{
	__atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
	return __real_malloc(size);
}

void *
__wrap_calloc(size_t nmemb, size_t size)
{
	__atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
	return __real_calloc(nmemb, size);
}

void *
__wrap_realloc(void *ptr, size_t size)
{
	__atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
	return __real_realloc(ptr, size);
}

#endif
