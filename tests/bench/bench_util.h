/*
 * bench_util - what the benchmarks of the policy engine and of the audit
 * writer share
 *
 * The clock and the load average the reports give, a scratch directory
 * in $TMPDIR (default /tmp), and the policy engine's fixture: a
 * configuration over a file directory of BENCH_USERS users
 * (user00000@example.org ...) in a scratch directory, for bench-policy
 * and bench-clienttrack.
 *
 * bench_directory_open() returns 0 with the configuration, the open
 * directory and the temporary directory's path, which the caller hands
 * back to bench_directory_close(); -1 after a message on stderr.
 */
#ifndef RG_BENCH_UTIL_H
#define RG_BENCH_UTIL_H

#include <stddef.h>

#include "config.h"
#include "directory.h"

#define BENCH_USERS	10000

/* bench_now - monotonic seconds */
double  bench_now(void);

/* bench_load_average - the 1-minute load average, or -1 */
double  bench_load_average(void);

/* bench_tmpdir - a fresh directory "$TMPDIR/rg-PROG.XXXXXX" into dir;
 * 0, or -1 after a message */
int     bench_tmpdir(const char *prog, char *dir, size_t size);

/* bench_rmdir - remove it and everything in it */
void    bench_rmdir(const char *prog, const char *dir);

/* bench_directory_open - conf (without its directory line) over a file
 * directory of BENCH_USERS users in a fresh directory named after prog */
int     bench_directory_open(const char *prog, const char *conf,
			     char *tmpdir, size_t tmpsize,
			     struct rg_config **cfgp, struct directory **dirp);

/* bench_directory_close - close, free and remove what _open made */
void    bench_directory_close(const char *prog, const char *tmpdir,
			      struct rg_config *cfg, struct directory *dir);

#endif
