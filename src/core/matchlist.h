/*
 * matchlist - the lists the policy engine matches on the hot path
 *
 * A domain list (local_domains) is exact names in an open-addressing
 * hash plus ".suffix" entries; a pattern list (sender_deny) is
 * lower-case "@domain", exact or '*'-glob patterns.  config.c builds
 * them (domain_list_index() once the names are in) and owns them; the
 * engine only reads them, from any thread.
 *
 * Ownership: the lists own their strings; *_free() releases them and
 * leaves an empty list.
 */
#ifndef RG_MATCHLIST_H
#define RG_MATCHLIST_H

#include <stddef.h>

/* A list of domains: exact names, plus ".suffix" entries that add the
 * subdomains of suffix (not suffix itself). */
struct domain_list {
	char  **exact;			/* lower-case, no trailing dot */
	size_t  nexact;
	char  **suffix;			/* stored with the leading dot */
	size_t  nsuffix;
	unsigned *hash_slots;		/* index+1 into exact, 0 = empty */
	size_t  hash_size;		/* power of two, or 0 */
};

/* sender_deny: lower-case patterns; "@domain", exact, or with '*' */
struct pattern_list {
	char  **items;
	size_t  count;
};

/* domain_list_index - build the hash over the exact names, dropping
 * repeats */
void    domain_list_index(struct domain_list *dl);

/* domain_list_match - 1 when name (a trailing dot allowed, any case) is
 * one of the exact names or under one of the suffixes */
int     domain_list_match(const struct domain_list *dl, const char *name);

void    domain_list_free(struct domain_list *dl);

/* pattern_list_match - 1 when addr ("local@domain", "" for <>) matches
 * a pattern; glob matching is bounded by len(pattern) * len(addr) */
int     pattern_list_match(const struct pattern_list *pl, const char *addr);

void    pattern_list_free(struct pattern_list *pl);

#endif
