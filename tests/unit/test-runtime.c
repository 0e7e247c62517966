/*
 * test-runtime - the reference-counted (configuration, directory) pair
 *
 * The reload swap and the reference counts, which the daemon tests reach
 * only through signals: a connection keeps the runtime it started with
 * across a reload, the old runtime is freed with its last reference and
 * not before, a failed load frees what it took, and concurrent acquire /
 * release / install never free a runtime twice or leak one.  The
 * directory is the shared test double (fake_directory.h), which counts
 * opens and closes.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "config.h"
#include "directory.h"
#include "runtime.h"
#include "fake_directory.h"
#include "testlib.h"

static const struct directory_backend *const backends[] = {
	&dir_file_backend, &fake_directory_backend, NULL,
};

/* fresh - a runtime around a parsed configuration with the fake directory */
static struct rg_runtime *
fresh(const char *extra)
{
	char text[256], err[512];
	struct rg_config *cfg;
	struct rg_runtime *rt;

	snprintf(text, sizeof(text), "local_domains = example.org\n"
		 "directory = ldap\nldap_uri = ldap://127.0.0.1\n"
		 "ldap_base = dc=example\n%s", extra);
	cfg = config_parse(text, strlen(text), "t.conf", err, sizeof(err));
	if (cfg == NULL) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	rt = runtime_new(cfg, backends, err, sizeof(err));
	if (rt == NULL) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	return rt;
}

static void
test_swap(void)
{
	struct rg_runtime *first, *conn, *second, *now;
	char err[512];
	struct rg_config *cfg;

	test_begin("runtime: a reload swaps; the old one lives while held");
	fake_directory_opens = fake_directory_closes = 0;
	test_assert(runtime_acquire() == NULL);		/* nothing installed */
	first = fresh("");
	runtime_install(first);
	test_assert_int(first->generation, 1);
	conn = runtime_acquire();			/* a connection starts */
	test_assert(conn == first);
	second = fresh("mode = monitor\n");
	runtime_install(second);			/* SIGHUP */
	test_assert_int(second->generation, 2);
	test_assert_int(fake_directory_closes, 0);	/* still in use */
	test_assert_int(conn->cfg->mode, 0);		/* its own config */
	now = runtime_acquire();
	test_assert(now == second && now->cfg->mode == 1);
	now = runtime_release(now);
	test_assert(now == NULL);
	conn = runtime_release(conn);			/* it closes */
	test_assert_int(fake_directory_closes, 1);
	test_assert_int(fake_directory_opens, 2);

	/* a failed load takes nothing: the configuration is freed too
	 * (the leak checkers of make check-sanitizers would see it) */
	{
		static const char bad[] = "directory = file:/nonexistent/recipients\n";

		cfg = config_parse(bad, sizeof(bad) - 1, "t.conf", err,
				   sizeof(err));
	}
	test_assert(cfg != NULL);
	test_assert(runtime_new(cfg, backends, err, sizeof(err)) == NULL);
	test_assert(strstr(err, "nonexistent") != NULL);
	if (strstr(err, "nonexistent") == NULL)
		fprintf(stderr, "  err: %s\n", err);

	runtime_shutdown();
	test_assert(runtime_acquire() == NULL);
	test_assert_int(fake_directory_closes, 2);
	test_end();
}

/* A thread that plays connections: acquire, use, release. */
static volatile int stop_workers;

static void *
worker(void *arg)
{
	struct rg_runtime *rt;
	unsigned long *uses = arg;

	while (!stop_workers) {
		if ((rt = runtime_acquire()) == NULL)
			continue;
		if (rt->cfg != NULL && rt->dir != NULL)
			__atomic_add_fetch(uses, 1, __ATOMIC_RELAXED);
		rt = runtime_release(rt);
	}
	return NULL;
}

static void
test_concurrent(void)
{
	pthread_t th[4];
	unsigned long uses[4] = {0, 0, 0, 0};
	unsigned i;

	test_begin("runtime: reloads under concurrent connections");
	fake_directory_opens = fake_directory_closes = 0;
	runtime_install(fresh(""));
	stop_workers = 0;
	for (i = 0; i < 4; i++)
		test_assert(pthread_create(&th[i], NULL, worker, &uses[i]) == 0);
	/* every worker is running connections before the reloads start
	 * (bounded: 10 s) */
	for (i = 0; i < 1000; i++) {
		if (__atomic_load_n(&uses[0], __ATOMIC_RELAXED) > 0
		    && __atomic_load_n(&uses[1], __ATOMIC_RELAXED) > 0
		    && __atomic_load_n(&uses[2], __ATOMIC_RELAXED) > 0
		    && __atomic_load_n(&uses[3], __ATOMIC_RELAXED) > 0)
			break;
		usleep(10000);
	}
	test_assert(i < 1000);
	for (i = 0; i < 300; i++)
		runtime_install(fresh(""));
	stop_workers = 1;
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	runtime_shutdown();
	test_assert_int(fake_directory_opens, 301);
	test_assert_int(fake_directory_closes, 301);	/* each exactly once */
	test_end();
}

int
main(void)
{
	test_swap();
	test_concurrent();
	return test_exit();
}
