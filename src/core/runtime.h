/*
 * runtime - the configuration and directory the daemon serves with
 *
 * A runtime is one loaded configuration plus the directory opened from
 * it.  It is reference counted: the daemon holds the current one, and
 * every SMTP connection holds the one it started with until it closes, so
 * a SIGHUP reload swaps in a new runtime atomically while old connections
 * finish with the old configuration (policy verdicts point into it).
 *
 * The audit handle is not part of a runtime: it is opened once at start
 * (audit_* settings take effect after a restart).
 */
#ifndef RG_RUNTIME_H
#define RG_RUNTIME_H

#include <stddef.h>

#include "config.h"
#include "directory.h"

struct rg_runtime {
	struct rg_config *cfg;
	struct directory *dir;
	unsigned long generation;	/* 1 at start, +1 per reload */
	unsigned refs;			/* guarded by the runtime mutex */
};

/* runtime_load - load path and open its directory; NULL + err
 * ("FILE:LINE: reason" or the directory's message) */
struct rg_runtime *runtime_load(const char *path,
			      const struct directory_backend *const *backends,
				char *err, size_t errlen);

/* runtime_new - open cfg's directory and wrap both in a runtime with one
 * reference; cfg is the runtime's from now on, and is freed on failure
 * too.  NULL + err (the directory's message) */
struct rg_runtime *runtime_new(struct rg_config *cfg,
			       const struct directory_backend *const *backends,
			       char *err, size_t errlen);

/* runtime_install - make rt the current runtime (takes over the caller's
 * reference) and release the previous one */
void    runtime_install(struct rg_runtime *rt);

/* runtime_acquire - a reference to the current runtime, or NULL before
 * the first install / after runtime_shutdown */
struct rg_runtime *runtime_acquire(void);

/* runtime_release - drop a reference; frees at zero; returns NULL */
struct rg_runtime *runtime_release(struct rg_runtime *rt);

/* runtime_shutdown - release the current runtime (connections still
 * holding it keep it alive until they close) */
void    runtime_shutdown(void);

#endif
