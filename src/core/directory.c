/*
 * directory - pick and drive a directory backend
 *
 * The configuration names the directory as "NAME:SPEC" ("file:/etc/...")
 * or just "NAME" ("ldap").  directory_open() finds the backend of that
 * name in the list the program passes in (the core itself only knows the
 * file backend, which is always available) and opens it.  The other
 * functions are thin wrappers so that callers never reach into a backend.
 */
#include <string.h>

#include "util.h"
#include "config.h"
#include "directory.h"

/* find_backend - the backend called name (namelen bytes), or NULL */
static const struct directory_backend *
find_backend(const char *name, size_t namelen,
	     const struct directory_backend *const *backends)
{
	size_t i;

	for (i = 0; backends != NULL && backends[i] != NULL && i < 64; i++)
		if (strlen(backends[i]->name) == namelen
		    && strncmp(backends[i]->name, name, namelen) == 0)
			return backends[i];
	if (namelen == 4 && strncmp(name, "file", 4) == 0)
		return &dir_file_backend;
	return NULL;
}

/* directory_open - open the directory that cfg->directory names */
struct directory *
directory_open(const struct rg_config *cfg,
	       const struct directory_backend *const *backends,
	       char *err, size_t errlen)
{
	const struct directory_backend *backend;
	const char *spec, *colon;
	struct directory *dir;
	size_t namelen;

	if (cfg == NULL || cfg->directory == NULL || cfg->directory[0] == '\0') {
		rg_snprintf(err, errlen, "no directory configured");
		return NULL;
	}
	spec = cfg->directory;
	colon = strchr(spec, ':');
	namelen = colon ? (size_t)(colon - spec) : strlen(spec);
	backend = find_backend(spec, namelen, backends);
	if (backend == NULL) {
		rg_snprintf(err, errlen, "unknown directory \"%.*s\" "
			    "(use file:PATH%s)", (int)(namelen > 64 ? 64 : namelen),
			    spec, find_backend("ldap", 4, backends) ? " or ldap" : "");
		return NULL;
	}
	dir = backend->open(colon ? colon + 1 : "", cfg, err, errlen);
	if (dir != NULL && dir->backend == NULL)
		dir->backend = backend;
	return dir;
}

/* directory_lookup - ask the backend; no handle means no answer */
enum dir_result
directory_lookup(struct directory *dir, const char *address)
{
	if (dir == NULL || dir->backend == NULL)
		return DIR_ERROR;
	return dir->backend->lookup(dir, address);
}

/* directory_stats - one line for logs ("" when the backend has none) */
void
directory_stats(struct directory *dir, char *buf, size_t size)
{
	if (size > 0)
		buf[0] = '\0';
	if (dir != NULL && dir->backend != NULL && dir->backend->stats != NULL)
		dir->backend->stats(dir, buf, size);
}

/* directory_counters - see directory.h */
void
directory_counters(struct directory *dir, struct directory_counters *out)
{
	memset(out, 0, sizeof(*out));
	if (dir != NULL && dir->backend != NULL && dir->backend->counters != NULL)
		dir->backend->counters(dir, out);
}

/* directory_close - release the handle; returns NULL */
struct directory *
directory_close(struct directory *dir)
{
	if (dir != NULL && dir->backend != NULL && dir->backend->close != NULL)
		dir->backend->close(dir);
	return NULL;
}

/* dir_result_name - found, not-found, error */
const char *
dir_result_name(enum dir_result result)
{
	switch (result) {
	case DIR_FOUND:
		return "found";
	case DIR_NOTFOUND:
		return "not-found";
	case DIR_ERROR:
		return "error";
	}
	return "error";
}

/* directory_may_block - can a lookup wait on a server? */
int
directory_may_block(const struct directory *dir)
{
	return dir == NULL || dir->backend->may_block;
}
