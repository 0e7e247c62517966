/*
 * bench_util - what the benchmarks of the policy engine and of the audit
 * writer share
 *
 * See bench_util.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "config.h"
#include "directory.h"
#include "bench_util.h"

/* bench_now - monotonic seconds */
double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* bench_load_average - the 1-minute load average, or -1 */
double
bench_load_average(void)
{
	double  l = -1;
	FILE   *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}

/* bench_tmpdir - a fresh scratch directory */
int
bench_tmpdir(const char *prog, char *dir, size_t size)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, size, "%s/rg-%s.XXXXXX", tmp != NULL && *tmp != '\0' ?
		 tmp : "/tmp", prog);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	return 0;
}

/* bench_rmdir - remove a scratch directory */
void
bench_rmdir(const char *prog, const char *dir)
{
	char    cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "%s: could not remove %s\n", prog, dir);
}

/* bench_directory_open - the policy engine's fixture */
int
bench_directory_open(const char *prog, const char *conf, char *tmpdir,
		     size_t tmpsize, struct rg_config **cfgp,
		     struct directory **dirp)
{
	static const struct directory_backend *const backends[] = {
		&dir_file_backend, NULL,
	};
	char    path[512], text[4096], err[1024];
	FILE   *fp;
	int     i;

	*cfgp = NULL;
	*dirp = NULL;
	if (bench_tmpdir(prog, tmpdir, tmpsize) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/recipients", tmpdir);
	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		return -1;
	}
	for (i = 0; i < BENCH_USERS; i++)
		fprintf(fp, "user%05d@example.org\n", i);
	fclose(fp);
	snprintf(text, sizeof(text), "%sdirectory = file:%s\n", conf, path);
	if ((*cfgp = config_parse(text, strlen(text), "bench.conf", err,
				  sizeof(err))) == NULL) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return -1;
	}
	if ((*dirp = directory_open(*cfgp, backends, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return -1;
	}
	return 0;
}

/* bench_directory_close - close, free and remove the fixture */
void
bench_directory_close(const char *prog, const char *tmpdir,
		      struct rg_config *cfg, struct directory *dir)
{
	if (dir != NULL)
		directory_close(dir);
	if (cfg != NULL)
		config_free(cfg);
	bench_rmdir(prog, tmpdir);
}
