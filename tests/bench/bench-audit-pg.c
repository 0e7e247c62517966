/*
 * bench-audit-pg - rows per second of the audit writer into PostgreSQL,
 * against SQLite in the same run
 *
 * The same rows go through audit_submit() .. audit_close() (queue,
 * writer thread, one transaction per batch) into a fresh SQLite file and
 * into PostgreSQL (its table emptied between rounds), alternately, for
 * BENCH_ROUNDS rounds, so that both see the same machine.  Reported: the
 * median, the lowest and the highest of each, their ratio, and a verdict
 * that is "not decided" when the ranges of the two overlap (noise larger
 * than the gap).  Also the cost of audit_submit() in the caller while
 * the queue has room, for both: the mail path's share, which must not
 * depend on the store.
 *
 * Usage: bench-audit-pg URI [ROWS]; URI names a database that holds the
 * audit schema and whose user may TRUNCATE verdicts (the benchmark's own
 * cluster, tests/bench/bench-audit-pg.sh).  Prints a report and RESULT
 * lines for tests/bench/run-bench.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "util.h"
#include "config.h"
#include "audit.h"
#include "verdict.h"
#include "bench_util.h"
#include "bench_rows.h"

#define BENCH_ROUNDS	5
#define BENCH_ROWS	60000
static struct bench_row *rows;
static char dir[256];

/* empty_pg - TRUNCATE the table between rounds */
static void
empty_pg(const char *uri)
{
	PGconn *c = PQconnectdb(uri);
	PGresult *r = PQexec(c, "TRUNCATE verdicts");

	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "bench-audit-pg: TRUNCATE: %s", PQerrorMessage(c));
		exit(1);
	}
	PQclear(r);
	r = PQexec(c, "CHECKPOINT");
	PQclear(r);
	PQfinish(c);
}

/* count_pg - rows in the table */
static long
count_pg(const char *uri)
{
	PGconn *c = PQconnectdb(uri);
	PGresult *r = PQexec(c, "SELECT COUNT(*) FROM verdicts");
	long    n = PQresultStatus(r) == PGRES_TUPLES_OK ?
	atol(PQgetvalue(r, 0, 0)) : -1;

	PQclear(r);
	PQfinish(c);
	return n;
}

/* bench_writer - audit_submit() x n until audit_close() returns */
static double
bench_writer(const char *db, int n, double *submit_us)
{
	struct audit_counters ctr;
	struct rg_config cfg;
	struct audit *audit;
	char    err[512], spool[300];
	double  rate;

	memset(&cfg, 0, sizeof(cfg));
	cfg.audit_db = (char *) db;
	cfg.audit_flush_ms = 200;
	cfg.audit_batch_rows = 1000;
	cfg.audit_queue_rows = 65536;
	cfg.node = (char *) "bench";
	snprintf(spool, sizeof(spool), "%s/spool.db", dir);
	cfg.audit_spool = spool;
	cfg.audit_failure = config_audit_is_pgsql(db) ? RG_AUDITFAIL_SPOOL :
		RG_AUDITFAIL_CONTINUE;
	if ((audit = audit_open(&cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "bench-audit-pg: %s\n", err);
		exit(1);
	}
	rate = bench_rows_write(audit, rows, n, submit_us, &ctr);
	if (ctr.spooled > 0 || ctr.diverted > 0) {
		fprintf(stderr, "bench-audit-pg: rows spooled or diverted: the "
			"store failed during the run\n");
		exit(1);
	}
	return rate;
}

/* cmp - for qsort */
static int
cmp(const void *a, const void *b)
{
	double  x = *(const double *) a, y = *(const double *) b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	const char *uri = argc > 1 ? argv[1] : NULL;
	int     n = argc > 2 ? atoi(argv[2]) : BENCH_ROWS;
	double  lite[BENCH_ROUNDS], pg[BENCH_ROUNDS], lite_us = 1e9, pg_us = 1e9;
	double  us, load0 = bench_load_average(), ratio, lo, hi;
	char    path[300];
	int     r;

	if (uri == NULL || !config_audit_is_pgsql(uri)) {
		fprintf(stderr, "usage: bench-audit-pg postgresql://... [ROWS]\n");
		return 2;
	}
	if (n < BENCH_ROOMY + 1)
		n = BENCH_ROOMY + 1;
	if (bench_tmpdir("bench-audit-pg", dir, sizeof(dir)) < 0)
		return 1;
	rows = bench_rows_make(n);
	for (r = 0; r < BENCH_ROUNDS; r++) {
		snprintf(path, sizeof(path), "%s/round%d.db", dir, r);
		lite[r] = bench_writer(path, n, &us);
		if (us < lite_us)
			lite_us = us;
		empty_pg(uri);
		pg[r] = bench_writer(uri, n, &us);
		if (us < pg_us)
			pg_us = us;
		if (count_pg(uri) != n) {
			fprintf(stderr, "bench-audit-pg: PostgreSQL holds %ld rows, "
				"not %d\n", count_pg(uri), n);
			return 1;
		}
	}
	bench_rmdir("bench-audit-pg", dir);
	free(rows);
	qsort(lite, BENCH_ROUNDS, sizeof(double), cmp);
	qsort(pg, BENCH_ROUNDS, sizeof(double), cmp);
	ratio = pg[BENCH_ROUNDS / 2] / lite[BENCH_ROUNDS / 2];
	lo = pg[0] / lite[BENCH_ROUNDS - 1];
	hi = pg[BENCH_ROUNDS - 1] / lite[0];

	printf("The audit writer (audit_submit .. audit_close, every row "
	       "committed), %d rows per round,\n%d rounds, SQLite and "
	       "PostgreSQL alternately on the same machine.\n", n, BENCH_ROUNDS);
	printf("%-34s %10s %10s %10s\n", "", "median", "lowest", "highest");
	printf("%-34s %10.0f %10.0f %10.0f rows/s\n", "SQLite (WAL, synchronous=NORMAL)",
	       lite[BENCH_ROUNDS / 2], lite[0], lite[BENCH_ROUNDS - 1]);
	printf("%-34s %10.0f %10.0f %10.0f rows/s\n", "PostgreSQL 15 (loopback TCP)",
	       pg[BENCH_ROUNDS / 2], pg[0], pg[BENCH_ROUNDS - 1]);
	printf("PostgreSQL / SQLite: %.2f (median); %.2f to %.2f across rounds\n",
	       ratio, lo, hi);
	printf("which is faster: %s\n", hi < 1.0 ? "SQLite, in every round" :
	       lo > 1.0 ? "PostgreSQL, in every round" :
	       "not decided (the rounds' spread is larger than the gap)");
	printf("audit_submit() in the caller, queue not full: SQLite %.2f us/row, "
	       "PostgreSQL %.2f us/row (best round)\n", lite_us, pg_us);
	printf("1-minute load average at start / end: %.2f / %.2f (other work on "
	       "the machine lowers every figure)\n", load0, bench_load_average());
	printf("RESULT sqlite_rows_per_s=%.0f\nRESULT pg_rows_per_s=%.0f\n"
	       "RESULT pg_over_sqlite=%.2f\n", lite[BENCH_ROUNDS / 2],
	       pg[BENCH_ROUNDS / 2], ratio);
	return 0;
}
