/*
 * bench-audit - rows per second of the SQLite audit writer
 *
 * The writer alone: rows submitted through audit_submit() until
 * audit_close() has committed every one of them (queue, copy, writer
 * thread, batched WAL commits, four indexes), on a fresh file.  Three
 * baselines are measured in the same run on the same rows, so the
 * figures compare across machines as ratios:
 *   per-row txn  the same INSERT, one row per transaction (WAL, NORMAL):
 *                what a writer without batching would do;
 *   direct batch the same INSERT, 1000 rows per transaction from the
 *                calling thread: SQLite's own ceiling for this schema,
 *                without the queue and the writer thread;
 *   no indexes   the same, on the table without its four indexes: what
 *                the row itself costs;
 *   copy only    copying the row into one allocation and freeing it:
 *                the cost audit_submit() adds to a milter callback.
 * Each figure is the best of BENCH_ROUNDS rounds.  The database lives in
 * $TMPDIR (default /tmp): put it on the disk the audit database will use.
 *
 * Usage: bench-audit [ROWS]; prints a report and RESULT lines for
 * tests/bench/run-bench.sh.
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "util.h"
#include "config.h"
#include "audit.h"
#include "audit_schema.h"
#include "verdict.h"
#include "bench_util.h"
#include "bench_rows.h"

#define BENCH_ROUNDS	3
#define BENCH_ROWS	300000
#define PERROW_ROWS	5000
#define BENCH_TARGET	200000.0

static struct bench_row *rows;
static char dir[256];
static volatile unsigned long sink;

/* cpu_seconds - user + system time of the whole process so far */
static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
		+ (double) ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* fresh_db - path of an empty database file for one round */
static const char *
fresh_db(const char *name)
{
	static char path[512];
	char    side[540];

	snprintf(path, sizeof(path), "%s/%s.db", dir, name);
	unlink(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
	return path;
}

/* bench_writer - audit_submit() x n until audit_close() returns */
static double
bench_writer(int n, double *submit_us, double *per_cpu)
{
	struct rg_config cfg;
	struct audit *audit;
	char    err[512];
	double  c0, rate;

	memset(&cfg, 0, sizeof(cfg));
	cfg.audit_db = (char *) fresh_db("writer");
	cfg.audit_flush_ms = 200;
	cfg.audit_batch_rows = 1000;
	cfg.audit_queue_rows = 65536;
	if ((audit = audit_open(&cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "bench-audit: %s\n", err);
		exit(1);
	}
	c0 = cpu_seconds();
	rate = bench_rows_write(audit, rows, n, submit_us, NULL);
	*per_cpu = n / (cpu_seconds() - c0);
	return rate;
}

/* bind_bench_row - bind one row the way the writer does: every column
 * of verdict.h's table, in its order */
static void
bind_bench_row(sqlite3_stmt *st, const struct verdict_record *r)
{
	const struct verdict_column *col;
	const char *text;
	size_t  i;

	for (i = 0; i < VERDICT_NCOLUMNS; i++) {
		col = &verdict_columns[i];
		if (col->kind == VERDICT_KIND_TIME)
			sqlite3_bind_text(st, (int) i + 1, "2026-11-18T11:06:40.123Z",
					  -1, SQLITE_STATIC);
		else if (col->kind == VERDICT_KIND_INT)
			sqlite3_bind_int64(st, (int) i + 1,
					   verdict_column_int(r, col));
		else if ((text = verdict_column_text(r, col)) != NULL)
			sqlite3_bind_text(st, (int) i + 1, text, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, (int) i + 1);
	}
}

/* bench_direct - the INSERT from this thread, per rows per transaction;
 * bare: without the four indexes (SQLite's ceiling for this row) */
static double
bench_direct(int n, int per, int bare)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	double  t0, t1;
	int     i;

	if (sqlite3_open(fresh_db("direct"), &db) != SQLITE_OK
	    || sqlite3_exec(db, "PRAGMA page_size = 16384; "
			    "PRAGMA cache_size = -16384; PRAGMA journal_mode = WAL; "
			    "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK
	    || sqlite3_exec(db, audit_schema_sql, NULL, NULL, NULL) != SQLITE_OK
	    || (bare && sqlite3_exec(db, "DROP INDEX verdicts_time; DROP INDEX "
				     "verdicts_client; DROP INDEX verdicts_rule; "
				     "DROP INDEX verdicts_session; DROP INDEX verdicts_node", NULL, NULL,
				     NULL) != SQLITE_OK)
	    || sqlite3_prepare_v2(db, audit_schema_insert_sql(), -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench-audit: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
	t0 = bench_now();
	for (i = 0; i < n; i++) {
		if (i % per == 0)
			sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		bind_bench_row(st, &rows[i].row);
		if (sqlite3_step(st) != SQLITE_DONE)
			exit(1);
		sqlite3_reset(st);
		if (i % per == per - 1 || i == n - 1)
			sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
	t1 = bench_now();
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n / (t1 - t0);
}

/* bench_copy - the copy audit_submit() makes: one allocation per row */
static double
bench_copy(int n)
{
	double  t0, t1;
	int     i, j;

	t0 = bench_now();
	for (i = 0; i < n; i++) {
		const struct verdict_record *r = &rows[i].row;
		const char *f[VERDICT_NCOLUMNS];
		size_t  len[VERDICT_NCOLUMNS], total = 0;
		char   *p, *q;

		for (j = 0; j < (int) VERDICT_NCOLUMNS; j++) {
			f[j] = verdict_column_text(r, &verdict_columns[j]);
			total += len[j] = f[j] ? strlen(f[j]) + 1 : 0;
		}
		q = p = xmalloc(total + 200);
		for (j = 0; j < (int) VERDICT_NCOLUMNS; j++)
			if (f[j]) {
				memcpy(p, f[j], len[j]);
				p += len[j];
			}
		sink += (unsigned long) q[0];
		free(q);
	}
	t1 = bench_now();
	return n / (t1 - t0);
}

/* best - the higher of a and b */
static double
best(double a, double b)
{
	return a > b ? a : b;
}

int
main(int argc, char **argv)
{
	int     n = argc > 1 ? atoi(argv[1]) : BENCH_ROWS;
	double  writer = 0, perrow = 0, direct = 0, bare = 0, copy = 0, us;
	double  best_us = 1e9;
	double  per_cpu, best_cpu = 0, load0 = bench_load_average();
	int     r;

	if (n < BENCH_ROOMY + 1)
		n = BENCH_ROOMY + 1;
	if (bench_tmpdir("bench-audit", dir, sizeof(dir)) < 0)
		return 1;
	rows = bench_rows_make(n);
	for (r = 0; r < BENCH_ROUNDS; r++) {
		writer = best(writer, bench_writer(n, &us, &per_cpu));
		best_cpu = best(best_cpu, per_cpu);
		if (us < best_us)
			best_us = us;
		direct = best(direct, bench_direct(n, 1000, 0));
		bare = best(bare, bench_direct(n, 1000, 1));
		perrow = best(perrow, bench_direct(PERROW_ROWS, 1, 0));
		copy = best(copy, bench_copy(n));
	}
	bench_rmdir("bench-audit", dir);
	free(rows);

	printf("Audit rows (21 columns, 4 indexes) into a fresh WAL database, "
	       "best of %d rounds;\n%d rows per round (%d for one row per "
	       "transaction).\n", BENCH_ROUNDS, n, PERROW_ROWS);
	printf("writer (audit_submit .. audit_close, all committed): %9.0f rows/s\n",
	       writer);
	printf("  per CPU second (all threads of the process):      %9.0f rows\n",
	       best_cpu);
	printf("  audit_submit() in the caller, queue not full:      %9.2f us/row\n",
	       best_us);
	printf("baseline one row per transaction:                    %9.0f rows/s\n",
	       perrow);
	printf("baseline direct INSERT, 1000 rows per transaction:   %9.0f rows/s\n",
	       direct);
	printf("baseline direct INSERT, 1000 rows/txn, no indexes:   %9.0f rows/s\n",
	       bare);
	printf("baseline copy only (malloc + memcpy + free):         %9.0f rows/s\n",
	       copy);
	printf("writer / one-row-per-transaction: %.1f; writer / direct batch: "
	       "%.2f; copy / writer: %.1f\n", writer / perrow, writer / direct,
	       copy / writer);
	printf("target 200,000 rows/s for the writer: %s\n",
	       writer >= BENCH_TARGET ? "met" : "NOT met in this run");
	printf("1-minute load average at start / end: %.2f / %.2f (other work on "
	       "the machine lowers every figure)\n", load0, bench_load_average());
	printf("RESULT writer_rows_per_s=%.0f\nRESULT perrow_rows_per_s=%.0f\n"
	       "RESULT direct_rows_per_s=%.0f\nRESULT copy_rows_per_s=%.0f\n"
	       "RESULT writer_rows_per_cpu_s=%.0f\nRESULT bare_rows_per_s=%.0f\n",
	       writer, perrow, direct, copy, best_cpu, bare);
	return 0;
}
