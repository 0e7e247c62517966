/*
 * runtime - the configuration and directory the daemon serves with
 *
 * See runtime.h.  One mutex guards the current pointer and every
 * reference count; it is held only for a pointer swap or a count change,
 * never while loading or closing.
 */
#include <pthread.h>
#include <stdlib.h>

#include "util.h"
#include "config.h"
#include "directory.h"
#include "runtime.h"

static pthread_mutex_t runtime_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rg_runtime *runtime_current;
static unsigned long runtime_generation;

/* runtime_load - configuration plus directory, both or nothing */
struct rg_runtime *
runtime_load(const char *path, const struct directory_backend *const *backends,
	     char *err, size_t errlen)
{
	struct rg_config *cfg;

	if ((cfg = config_load(path, err, errlen)) == NULL)
		return NULL;
	return runtime_new(cfg, backends, err, errlen);
}

/* runtime_new - a runtime around a loaded configuration */
struct rg_runtime *
runtime_new(struct rg_config *cfg, const struct directory_backend *const *backends,
	    char *err, size_t errlen)
{
	struct rg_runtime *rt;
	struct directory *dir;

	if ((dir = directory_open(cfg, backends, err, errlen)) == NULL) {
		cfg = config_free(cfg);
		return NULL;
	}
	rt = xcalloc(1, sizeof(*rt));
	rt->cfg = cfg;
	rt->dir = dir;
	rt->refs = 1;
	return rt;
}

/* runtime_destroy - close the directory, free the configuration */
static void
runtime_destroy(struct rg_runtime *rt)
{
	rt->dir = directory_close(rt->dir);
	rt->cfg = config_free(rt->cfg);
	free(rt);
}

/* runtime_install - swap in rt, release the old one */
void
runtime_install(struct rg_runtime *rt)
{
	struct rg_runtime *old;

	pthread_mutex_lock(&runtime_lock);
	old = runtime_current;
	rt->generation = ++runtime_generation;
	runtime_current = rt;
	pthread_mutex_unlock(&runtime_lock);
	if (old != NULL)
		(void) runtime_release(old);
}

/* runtime_acquire - take a reference to the current runtime */
struct rg_runtime *
runtime_acquire(void)
{
	struct rg_runtime *rt;

	pthread_mutex_lock(&runtime_lock);
	rt = runtime_current;
	if (rt != NULL)
		rt->refs++;
	pthread_mutex_unlock(&runtime_lock);
	return rt;
}

/* runtime_release - drop one reference, destroying at zero */
struct rg_runtime *
runtime_release(struct rg_runtime *rt)
{
	unsigned refs;

	if (rt == NULL)
		return NULL;
	pthread_mutex_lock(&runtime_lock);
	refs = --rt->refs;
	pthread_mutex_unlock(&runtime_lock);
	if (refs == 0)
		runtime_destroy(rt);
	return NULL;
}

/* runtime_shutdown - drop the daemon's own reference */
void
runtime_shutdown(void)
{
	struct rg_runtime *old;

	pthread_mutex_lock(&runtime_lock);
	old = runtime_current;
	runtime_current = NULL;
	pthread_mutex_unlock(&runtime_lock);
	(void) runtime_release(old);
}
