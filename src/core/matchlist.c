/*
 * matchlist - the lists the policy engine matches on the hot path
 *
 * See matchlist.h.  Built once by the configuration parser, read-only
 * afterwards, so lookups from any number of threads need no lock.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"
#include "address.h"
#include "matchlist.h"

/* domain_list_free - release a domain list; it may be reused empty */
void
domain_list_free(struct domain_list *dl)
{
	size_t  i;

	for (i = 0; i < dl->nexact; i++)
		free(dl->exact[i]);
	for (i = 0; i < dl->nsuffix; i++)
		free(dl->suffix[i]);
	free(dl->exact);
	free(dl->suffix);
	free(dl->hash_slots);
	memset(dl, 0, sizeof(*dl));
}

/* domain_list_index - build the hash over exact names, dropping repeats */
void
domain_list_index(struct domain_list *dl)
{
	size_t  size = 8, i, kept = 0;

	while (size < dl->nexact * 2)
		size *= 2;
	dl->hash_slots = xcalloc(size, sizeof(*dl->hash_slots));
	dl->hash_size = size;
	for (i = 0; i < dl->nexact; i++) {
		size_t  slot = rg_hash_lower(dl->exact[i]) & (size - 1);
		int     dup = 0;

		while (dl->hash_slots[slot] != 0) {
			if (strcmp(dl->exact[dl->hash_slots[slot] - 1],
				   dl->exact[i]) == 0) {
				dup = 1;
				break;
			}
			slot = (slot + 1) & (size - 1);
		}
		if (dup) {
			free(dl->exact[i]);
			continue;
		}
		dl->exact[kept] = dl->exact[i];
		dl->hash_slots[slot] = (unsigned)(kept + 1);
		kept++;
	}
	dl->nexact = kept;
}

/* pattern_list_free - release a pattern list */
void
pattern_list_free(struct pattern_list *pl)
{
	size_t  i;

	for (i = 0; i < pl->count; i++)
		free(pl->items[i]);
	free(pl->items);
	memset(pl, 0, sizeof(*pl));
}

/* domain_list_match - 1 when name (a trailing dot allowed) is in dl */
int
domain_list_match(const struct domain_list *dl, const char *name)
{
	char    copy[ADDR_DOMAIN_MAX + 1];
	size_t  len = strnlen(name, ADDR_DOMAIN_MAX + 2), i;

	if (len > 0 && name[len - 1] == '.') {
		len--;
		if (len > ADDR_DOMAIN_MAX)
			return 0;
		memcpy(copy, name, len);
		copy[len] = '\0';
		name = copy;
	}
	if (len == 0 || len > ADDR_DOMAIN_MAX)
		return 0;
	if (dl->hash_size > 0) {
		size_t  mask = dl->hash_size - 1;
		size_t  slot = rg_hash_lower(name) & mask;

		for (i = 0; i < dl->hash_size && dl->hash_slots[slot]; i++) {
			if (rg_strcaseeq(dl->exact[dl->hash_slots[slot] - 1],
					 name))
				return 1;
			slot = (slot + 1) & mask;
		}
	}
	for (i = 0; i < dl->nsuffix; i++) {
		size_t  slen = strlen(dl->suffix[i]);

		if (len > slen &&
		    strncasecmp(name + len - slen, dl->suffix[i], slen) == 0)
			return 1;
	}
	return 0;
}

/* lower - ASCII lower case of one byte */
static int
lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* glob_match - '*' glob, pattern lower-case, case-insensitive subject.
 * One backtracking point (the last '*'): a later '*' supersedes it, so
 * the work is at most len(pattern) * len(subject) steps. */
static int
glob_match(const char *pat, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s != '\0') {
		if (*pat == '*') {
			star = ++pat;
			resume = s;
		} else if (*pat != '\0' && *pat == lower((unsigned char)*s)) {
			pat++;
			s++;
		} else if (star != NULL) {
			pat = star;
			s = ++resume;
		} else {
			return 0;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

/* pattern_list_match - 1 when addr ("local@domain", "" for <>) matches
 * one of the patterns */
int
pattern_list_match(const struct pattern_list *pl, const char *addr)
{
	const char *domain = strrchr(addr, '@');
	size_t  i;

	for (i = 0; i < pl->count; i++) {
		const char *p = pl->items[i];

		if (addr[0] == '\0') {
			if (strcmp(p, "<>") == 0)
				return 1;
			continue;
		}
		if (p[0] == '@') {
			/* "@domain", "@*.domain": the domain part only */
			if (domain != NULL && (strchr(p, '*') != NULL ?
					       glob_match(p, domain) :
					       rg_strcaseeq(domain, p)))
				return 1;
		} else if (strchr(p, '*') != NULL) {
			if (glob_match(p, addr))
				return 1;
		} else if (rg_strcaseeq(p, addr)) {
			return 1;
		}
	}
	return 0;
}
