/*
 * fake_directory - a scripted directory backend for tests (header-only)
 *
 * Not a real backend: a stand-in where a test needs a directory that
 * fails, or answers from a fixed list, and counts what it was asked.
 * The real backends are tested for real (the file backend by
 * test-directory, LDAP against slapd by tests/integration/ldap-*.sh).
 *
 * It is registered under the name "ldap", so that corpus configurations
 * with "directory = ldap" open it through directory_open().  Each opened
 * handle answers:
 *   - DIR_ERROR for an address starting with fake_directory_error_prefix
 *     (when set) or for every address when fake_directory_found is NULL
 *     (an unreachable server);
 *   - DIR_FOUND for an address in fake_directory_found (case-insensitive;
 *     "@domain" entries accept the whole domain), else DIR_NOTFOUND.
 * It records the last address asked and counts lookups, opens and
 * closes, so tests can check that a decision consulted it exactly once
 * with the key it shows, and that a runtime closes what it opened.
 */
#ifndef RG_FAKE_DIRECTORY_H
#define RG_FAKE_DIRECTORY_H

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "directory.h"

struct fake_directory {
	struct directory base;
	char    last[1024];		/* the last address asked */
	unsigned lookups;
	enum dir_result last_result;	/* and what it answered */
};

/* The script, shared by every handle. */
static const char *const *fake_directory_found;	/* NULL: every lookup fails */
static const char *fake_directory_error_prefix;
static unsigned fake_directory_opens, fake_directory_closes;
/* Called with every address asked, before the answer (a fuzz target's
 * invariants on lookup keys); NULL: none. */
static void (*fake_directory_check)(const char *address);

static const struct directory_backend fake_directory_backend;

/* fake_directory_init - a handle on the stack or in a struct (no open) */
static inline void
fake_directory_init(struct fake_directory *fd)
{
	memset(fd, 0, sizeof(*fd));
	fd->base.backend = &fake_directory_backend;
}

static inline struct directory *
fake_directory_open(const char *spec, const struct rg_config *cfg, char *err,
		    size_t errlen)
{
	struct fake_directory *fd = malloc(sizeof(*fd));

	(void) spec;
	(void) cfg;
	(void) err;
	(void) errlen;
	if (fd == NULL)
		abort();
	fake_directory_init(fd);
	fake_directory_opens++;
	return &fd->base;
}

/* fake_directory_answer - what the script says about address */
static inline enum dir_result
fake_directory_answer(const char *address)
{
	const char *at = strrchr(address, '@');
	size_t i;

	if (fake_directory_found == NULL)
		return DIR_ERROR;
	if (fake_directory_error_prefix != NULL
	    && strncasecmp(address, fake_directory_error_prefix,
			   strlen(fake_directory_error_prefix)) == 0)
		return DIR_ERROR;
	for (i = 0; fake_directory_found[i] != NULL; i++) {
		const char *f = fake_directory_found[i];

		if (f[0] == '@' ? at != NULL && strcasecmp(at, f) == 0
		    : strcasecmp(address, f) == 0)
			return DIR_FOUND;
	}
	return DIR_NOTFOUND;
}

static inline enum dir_result
fake_directory_lookup(struct directory *dir, const char *address)
{
	struct fake_directory *fd = (struct fake_directory *) dir;

	if (fake_directory_check != NULL)
		fake_directory_check(address);
	strncpy(fd->last, address, sizeof(fd->last) - 1);
	fd->last[sizeof(fd->last) - 1] = '\0';
	fd->lookups++;
	fd->last_result = fake_directory_answer(address);
	return fd->last_result;
}

static inline void
fake_directory_close(struct directory *dir)
{
	fake_directory_closes++;
	free(dir);
}

static const struct directory_backend fake_directory_backend = {
	.name = "ldap",
	.open = fake_directory_open,
	.lookup = fake_directory_lookup,
	.stats = NULL,
	.close = fake_directory_close,
};

#endif
