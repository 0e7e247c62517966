/*
 * directory - who our recipients are: the interface and its file backend
 *
 * The policy engine asks one question: does this address exist?  The
 * answer is tri-state, and an error is never "not found": a directory that
 * cannot answer must lead to a temporary failure (4xx), never to a 5xx.
 *
 * Backends sit behind one struct of function pointers (OpenSMTPD's table
 * backends).  The core knows only the file backend; adapters such as LDAP
 * are passed in by the program that links them, so the core never links
 * an LDAP library.
 *
 * Thread safety: lookup() may be called from any number of threads at
 * once on the same handle.  reload() is not called concurrently with
 * lookup(): a reloading daemon opens a new handle and swaps it in.
 *
 * File backend, "file:PATH": one address per line, '#' comments, blank
 * lines ignored, "@domain" lines accept every local part of that domain,
 * matching is case-insensitive.  A line that is not an address is an
 * error ("PATH:LINE: reason").
 */
#ifndef RG_DIRECTORY_H
#define RG_DIRECTORY_H

#include <stddef.h>
#include <stdint.h>

struct rg_config;

enum dir_result {
	DIR_ERROR = -1,			/* could not tell: tempfail */
	DIR_NOTFOUND = 0,
	DIR_FOUND = 1,
};

struct directory;

/* Figures a backend keeps about itself, for metrics; what it does not
 * have stays 0 (has_cache, has_server say which parts apply). */
struct directory_counters {
	int     has_cache;
	uint64_t cache_hits, cache_misses;
	int     has_server;		/* a server behind it (LDAP) */
	int     up;			/* 1 up, 0 down, -1 not known yet */
	uint64_t errors, connects, connect_failures, retries, timeouts;
};

struct directory_backend {
	const char *name;		/* "file", "ldap": the spec's prefix */
	/* open - spec is the text after "name:" (may be ""); NULL + err */
	struct directory *(*open) (const char *spec, const struct rg_config *cfg,
				   char *err, size_t errlen);
	/* lookup - address is "local@domain", domain lower-case */
	enum dir_result (*lookup) (struct directory *dir, const char *address);
	/* stats - one line for logs (may be NULL) */
	void    (*stats) (struct directory *dir, char *buf, size_t size);
	void    (*close) (struct directory *dir);
	/* counters - a snapshot for metrics (may be NULL) */
	void    (*counters) (struct directory *dir, struct directory_counters *out);
	/* may_block - a lookup can wait on a server (LDAP); 0: it never
	 * waits (the file backend's hash), so callers may run it on a
	 * thread that must not stall */
	int     may_block;
};

/* Every backend's handle starts with this header. */
struct directory {
	const struct directory_backend *backend;
};

extern const struct directory_backend dir_file_backend;

/* dir_file_parse - the file backend over text in memory (len bytes, NULs
 * included), messages naming it "name:LINE"; what file:PATH opens after
 * reading the file.  NULL + err.  Close with directory_close(). */
struct directory *dir_file_parse(const char *text, size_t len,
				 const char *name, char *err, size_t errlen);

/* directory_open - pick the backend named by cfg->directory from the
 * NULL-terminated list and open it; NULL + err ("unknown directory ...") */
struct directory *directory_open(const struct rg_config *cfg,
			      const struct directory_backend *const *backends,
				 char *err, size_t errlen);

enum dir_result directory_lookup(struct directory *dir, const char *address);

/* directory_may_block - can a lookup in dir wait on a server? */
int     directory_may_block(const struct directory *dir);

/* directory_stats - one line for logs ("" when the backend has none) */
void    directory_stats(struct directory *dir, char *buf, size_t size);

/* directory_counters - the backend's figures (all 0 when it keeps none) */
void    directory_counters(struct directory *dir, struct directory_counters *out);

/* directory_close - returns NULL (dir = directory_close(dir)) */
struct directory *directory_close(struct directory *dir);

const char *dir_result_name(enum dir_result result);	/* found, not-found, error */

#endif
