/*
 * dir_file - the embedded directory backend: a flat file of addresses
 *
 * "directory = file:PATH".  The file holds one address per line; '#'
 * starts a comment (at the start of a line, or after white space, since
 * '#' is a legal local-part character); blank lines are ignored; a line
 * "@domain" accepts every local part of that domain.  Matching is
 * case-insensitive.  Any other line that is not an address (no '@', white
 * space inside, longer than DIR_FILE_LINE_MAX) makes the open fail with
 * "PATH:LINE: reason": a typo must not silently drop a user.
 *
 * A domain written in U-labels (jörg@bücher.example) is stored in
 * A-labels (jörg@xn--bcher-kva.example), the form every lookup key has,
 * so either spelling in the file matches.
 *
 * The entries are stored lower-cased, NUL-separated, in one arena, and
 * indexed by an open-addressing hash table (linear probing, load <= 1/2).
 * After open the handle is read-only, so lookups from many threads at
 * once are safe; reloading means opening a new handle.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "address.h"
#include "directory.h"

#define DIR_FILE_LINE_MAX	320	/* longest entry accepted */
#define DIR_FILE_SIZE_MAX	(1 << 30)	/* bytes read at most */

struct dir_file_slot {
	unsigned long hash;
	size_t  off;			/* offset + 1 into arena, 0 = empty */
};

struct dir_file {
	struct directory base;		/* must be first */
	char   *path;
	char   *arena;			/* lower-cased entries, NUL-separated */
	size_t  arena_len;
	size_t  arena_cap;
	struct dir_file_slot *slots;
	size_t  nslots;			/* power of two */
	size_t  count;			/* distinct entries */
	size_t  ndomains;		/* "@domain" entries among them */
};

/* slot_find - the slot holding key, or the empty slot where it belongs */
static struct dir_file_slot *
slot_find(const struct dir_file *df, const char *key, unsigned long hash)
{
	size_t mask = df->nslots - 1;
	size_t i, n;

	for (i = hash & mask, n = 0; n < df->nslots; i = (i + 1) & mask, n++) {
		struct dir_file_slot *slot = &df->slots[i];

		if (slot->off == 0)
			return slot;
		if (slot->hash == hash
		    && rg_strcaseeq(df->arena + slot->off - 1, key))
			return slot;
	}
	return NULL;			/* not reached: the table is never full */
}

/* index_build - hash every arena entry, dropping duplicates */
static void
index_build(struct dir_file *df, size_t nentries)
{
	size_t off;

	df->nslots = 16;
	while (df->nslots < nentries * 2)
		df->nslots *= 2;
	df->slots = xcalloc(df->nslots, sizeof(*df->slots));
	df->count = df->ndomains = 0;
	for (off = 0; off < df->arena_len; off += strlen(df->arena + off) + 1) {
		const char *key = df->arena + off;
		unsigned long hash = rg_hash_lower(key);
		struct dir_file_slot *slot = slot_find(df, key, hash);

		if (slot == NULL || slot->off != 0)
			continue;	/* duplicate line */
		slot->hash = hash;
		slot->off = off + 1;
		df->count++;
		if (key[0] == '@')
			df->ndomains++;
	}
}

/* arena_add - append one lower-cased entry */
static void
arena_add(struct dir_file *df, const char *entry, size_t len)
{
	while (df->arena_len + len + 1 > df->arena_cap) {
		df->arena_cap = df->arena_cap ? df->arena_cap * 2 : 4096;
		df->arena = xrealloc(df->arena, df->arena_cap);
	}
	memcpy(df->arena + df->arena_len, entry, len);
	df->arena[df->arena_len + len] = '\0';
	rg_lowercase(df->arena + df->arena_len);
	df->arena_len += len + 1;
}

/* is_space - white space inside a line */
static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* line_parse - trim one line to its entry; 1 entry, 0 nothing, -1 error */
static int
line_parse(char *line, char **entry, size_t *entry_len, const char **why)
{
	char *p, *end, *at;

	for (p = line; is_space((unsigned char)*p); p++)
		;
	for (end = p; *end != '\0'; end++)
		if (*end == '#' && (end == p || is_space((unsigned char)end[-1])))
			break;
	while (end > p && is_space((unsigned char)end[-1]))
		end--;
	*end = '\0';
	if (*p == '\0')
		return 0;
	if ((size_t)(end - p) > DIR_FILE_LINE_MAX) {
		*why = "entry longer than 320 characters";
		return -1;
	}
	for (at = p; at < end; at++) {
		if (is_space((unsigned char)*at)) {
			*why = "white space inside an address";
			return -1;
		}
		if ((unsigned char)*at < 0x20 || *at == 0x7f) {
			*why = "control character in an address";
			return -1;
		}
	}
	if ((at = strchr(p, '@')) == NULL) {
		*why = "not an address (no @): expected local@domain or @domain";
		return -1;
	}
	if (strchr(at + 1, '@') != NULL) {
		*why = "more than one @ in an address";
		return -1;
	}
	if (end > at + 1 && end[-1] == '.')
		*--end = '\0';		/* one trailing dot, as in DNS */
	if (at[1] == '\0' || at[1] == '.') {
		*why = "empty or malformed domain after @";
		return -1;
	}
	*entry = p;
	*entry_len = (size_t)(end - p);
	return 1;
}

/* domain_alabels - an entry whose domain is in U-labels, rewritten with
 * A-labels into out (the form every lookup key has); out[0] = '\0' when
 * the entry is ASCII.  NULL ok, else the reason. */
static const char *
domain_alabels(const char *entry, size_t *len, char *out, size_t size)
{
	const char *at = strrchr(entry, '@'), *p;
	size_t  local_len;

	out[0] = '\0';
	for (p = at + 1; *p != '\0' && (unsigned char)*p < 0x80; p++)
		continue;
	if (*p == '\0')
		return NULL;
	local_len = (size_t)(at + 1 - entry);
	if (local_len >= size)
		return "entry too long";
	memcpy(out, entry, local_len);
	if (addr_domain_alabels(at + 1, out + local_len, size - local_len) != NULL) {
		out[0] = '\0';
		return "invalid internationalized domain name (IDNA2008)";
	}
	*len = strlen(out);
	return NULL;
}

/* text_load - every line of text (len bytes, NULs included) into df;
 * messages name the lines "name:LINE" */
static int
text_load(struct dir_file *df, const char *name, const char *text,
	  size_t len, char *err, size_t errlen)
{
	char line[DIR_FILE_LINE_MAX + 256];
	char idn[DIR_FILE_LINE_MAX + 256];
	unsigned long lineno = 0;
	size_t nentries = 0, pos = 0, n;
	const char *nl;

	while (pos < len) {
		const char *why = NULL;
		char *entry;
		size_t entry_len;
		int r;

		lineno++;
		nl = memchr(text + pos, '\n', len - pos);
		n = nl != NULL ? (size_t) (nl - (text + pos)) : len - pos;
		if (memchr(text + pos, '\0', n) != NULL) {
			rg_snprintf(err, errlen, "%s:%lu: NUL byte in line",
				    name, lineno);
			return -1;
		}
		if (n >= sizeof(line)) {
			rg_snprintf(err, errlen, "%s:%lu: entry longer than 320 "
				    "characters", name, lineno);
			return -1;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + (nl != NULL);
		r = line_parse(line, &entry, &entry_len, &why);
		if (r > 0)
			why = domain_alabels(entry, &entry_len, idn, sizeof(idn));
		if (r < 0 || why != NULL) {
			rg_snprintf(err, errlen, "%s:%lu: %s", name, lineno, why);
			return -1;
		}
		if (r > 0) {
			arena_add(df, idn[0] ? idn : entry, entry_len);
			nentries++;
		}
	}
	index_build(df, nentries);
	return 0;
}

/* file_load - read path whole, then text_load() it */
static int
file_load(struct dir_file *df, const char *path, char *err, size_t errlen)
{
	char   *text = NULL;
	size_t  len = 0, cap = 0, got;
	FILE   *fp;
	int     rc;

	if ((fp = fopen(path, "r")) == NULL) {
		rg_snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	do {
		if (len == cap) {
			if (cap >= DIR_FILE_SIZE_MAX) {
				rg_snprintf(err, errlen, "%s: larger than %d MiB",
					    path, DIR_FILE_SIZE_MAX >> 20);
				fclose(fp);
				free(text);
				return -1;
			}
			cap = cap ? cap * 2 : 65536;
			text = xrealloc(text, cap);
		}
		got = fread(text + len, 1, cap - len, fp);
		len += got;
	} while (got > 0);
	if (ferror(fp)) {
		rg_snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
		fclose(fp);
		free(text);
		return -1;
	}
	fclose(fp);
	rc = text_load(df, path, text, len, err, errlen);
	free(text);
	return rc;
}

/* dir_file_close - release everything */
static void
dir_file_close(struct directory *dir)
{
	struct dir_file *df = (struct dir_file *)dir;

	if (df == NULL)
		return;
	free(df->path);
	free(df->arena);
	free(df->slots);
	free(df);
}

/* dir_file_open - load PATH; NULL with "PATH:LINE: reason" */
static struct directory *
dir_file_open(const char *spec, const struct rg_config *cfg,
	      char *err, size_t errlen)
{
	struct dir_file *df;

	(void)cfg;
	if (spec == NULL || spec[0] == '\0') {
		rg_snprintf(err, errlen, "directory file: no path given (file:PATH)");
		return NULL;
	}
	df = xcalloc(1, sizeof(*df));
	df->base.backend = &dir_file_backend;
	df->path = xstrdup(spec);
	if (file_load(df, spec, err, errlen) < 0) {
		dir_file_close(&df->base);
		return NULL;
	}
	return &df->base;
}

/* dir_file_parse - a file backend over text in memory */
struct directory *
dir_file_parse(const char *text, size_t len, const char *name, char *err,
	       size_t errlen)
{
	struct dir_file *df;

	df = xcalloc(1, sizeof(*df));
	df->base.backend = &dir_file_backend;
	df->path = xstrdup(name != NULL ? name : "-");
	if (text_load(df, df->path, text, len, err, errlen) < 0) {
		dir_file_close(&df->base);
		return NULL;
	}
	return &df->base;
}

/* dir_file_lookup - "local@domain", then the "@domain" catch-all */
static enum dir_result
dir_file_lookup(struct directory *dir, const char *address)
{
	struct dir_file *df = (struct dir_file *)dir;
	const struct dir_file_slot *slot;
	const char *at;

	if (df->count == 0)
		return DIR_NOTFOUND;
	slot = slot_find(df, address, rg_hash_lower(address));
	if (slot != NULL && slot->off != 0)
		return DIR_FOUND;
	if (df->ndomains == 0 || (at = strrchr(address, '@')) == NULL
	    || at == address || at[1] == '\0')
		return DIR_NOTFOUND;
	slot = slot_find(df, at, rg_hash_lower(at));
	if (slot != NULL && slot->off != 0)
		return DIR_FOUND;
	return DIR_NOTFOUND;
}

/* dir_file_stats - one line for the logs */
static void
dir_file_stats(struct directory *dir, char *buf, size_t size)
{
	struct dir_file *df = (struct dir_file *)dir;

	rg_snprintf(buf, size, "file %s: %zu entries (%zu domain catch-alls)",
		    df->path, df->count, df->ndomains);
}

const struct directory_backend dir_file_backend = {
	.name = "file",
	.open = dir_file_open,
	.lookup = dir_file_lookup,
	.stats = dir_file_stats,
	.close = dir_file_close,
};
